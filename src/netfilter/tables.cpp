// hook_table (netfilter/hooks.hpp): where each family keeps a namespace's
// table. Apart from hooks.cpp, which knows no IP layer.
#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netfilter/hooks.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"

namespace netns::netfilter {

HookTable& hook_table(Net& net, Family family) {
  Builtins& b = net.host().builtins();
  return family == Family::ipv6 ? b.ipv6().state(net).hooks : b.ipv4().state(net).hooks;
}

}  // namespace netns::netfilter
