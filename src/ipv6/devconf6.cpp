// Writes to net.ipv6.conf.* acting on live devices, as addrconf.c's sysctl
// handlers do (dev_disable_change, addrconf_fixup_forwarding,
// addrconf_sysctl_addr_gen_mode, addrconf_sysctl_mtu). Keys read when they
// are next used (hop_limit, accept_dad, dad_transmits, accept_ra,
// autoconf) need nothing here.
#include "ipv6/devconf6.hpp"

#include "inet/route_protocol.hpp"
#include "ipv6/fib6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"

namespace netns::ipv6 {

void Ipv6Stack::on_devconf_change(Net& net, DevconfScope scope, Device* dev, DevconfId id, std::int32_t value) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  switch (id) {
    case DevconfId::ipv6_disable_ipv6:
      // dev_disable_change: the device goes down for IPv6 (its addresses,
      // routes and neighbours with it), and comes back up when enabled.
      if (scope != DevconfScope::device) return;
      if (value != 0) {
        device_down(*ns, *dev);
      } else if (dev->is_up()) {
        device_up(*ns, *dev);
      }
      break;
    case DevconfId::ipv6_forwarding:
      // A router does not follow other routers: the default routes RAs
      // taught go (rt6_purge_dflt_routers). The router flag NDP sends and
      // all-routers are read from the device's bit as frames come.
      if (scope == DevconfScope::dflt || value == 0) return;
      purge_ra_default_routes(*ns);
      break;
    case DevconfId::ipv6_addr_gen_mode:
      // addrconf_init_auto_addrs: the link-local address of the new mode
      // joins the one the device has.
      if (scope != DevconfScope::device || !dev->is_up() || ipv6_disabled(*dev)) return;
      add_link_local(*ns, *dev);
      break;
    case DevconfId::ipv6_mtu:
      // Path state reads the device's IPv6 MTU: routes and path MTUs
      // cached under the old one are stale.
      if (scope != DevconfScope::device) return;
      break;
    default:
      return;
  }
  route_cache_invalidate(net);
}

// __rt6_purge_dflt_routers: the default routes of table main that a router
// advertisement made, but on devices that take RAs even when forwarding.
void Ipv6Stack::purge_ra_default_routes(Ipv6Net& ns) {
  ns.routes.remove_if([&](const Fib6Entry& e) {
    return e.protocol == inet::kProtoRa && e.prefix.length() == 0 &&
           (e.dev == nullptr || device_conf(ns.net.sysctl(), *e.dev, DevconfId::ipv6_accept_ra) != 2);
  });
}

}  // namespace netns::ipv6
