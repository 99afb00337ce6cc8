// IPv4's side of the netfilter seam (netfilter/hooks.hpp): the one call
// every hook point makes.
#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"

namespace netns::ipv4 {

bool Ipv4Stack::run_hook(Net& net, Ipv4Net& ns, netfilter::Hook h, Packet& packet, Device* in, Device* out) {
  const netfilter::HookState hook_state{.net = net, .hook = h, .family = Family::ipv4, .in = in, .out = out};
  return ns.hooks.run(h, packet, hook_state) == netfilter::Verdict::accept;
}

}  // namespace netns::ipv4
