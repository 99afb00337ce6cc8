// IPv6's side of the netfilter seam (netfilter/hooks.hpp): the one call
// every hook point makes.
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"

namespace netns::ipv6 {

bool Ipv6Stack::run_hook(Net& net, Ipv6Net& ns, netfilter::Hook h, Packet& packet, Device* in, Device* out) {
  const netfilter::HookState hook_state{.net = net, .hook = h, .family = Family::ipv6, .in = in, .out = out};
  return ns.hooks.run(h, packet, hook_state) == netfilter::Verdict::accept;
}

bool Ipv6Stack::local_out(Net& net, Device& dev, Packet& message) {
  Ipv6Net& ns = state(net);
  for (const netfilter::Hook h : {netfilter::Hook::output, netfilter::Hook::postrouting}) {
    if (ns.active_hooks.active(h) && !run_hook(net, ns, h, message, nullptr, &dev)) return false;
  }
  return true;
}

}  // namespace netns::ipv6
