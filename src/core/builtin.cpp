#include "core/builtin.hpp"

namespace netns {

std::vector<BuiltinOps> make_builtin_ops(Host& host) {
  std::vector<BuiltinOps> list;
  list.push_back({make_route_cache_ops(host), false});  // first subsystem: exits last
  list.push_back({make_ipv4_ops(host), false});         // IPv4, ARP, ICMP
  list.push_back({make_udp_ops(host), false});          // UDP sockets: after IPv4, exit before it
  list.push_back({make_ping_ops(host), false});         // ping sockets (ICMP echo)
  list.push_back({make_tcp_ops(host), false});          // TCP connections and listeners
  list.push_back({make_macvlan_ops(host), false});      // macvlan ports follow their lower devices
  // Devices: the loopback first, so it is ifindex 1; the default device exit
  // after it, so at teardown it runs first (ops exit in reverse) and finds
  // every other device still there.
  list.push_back({make_loopback_ops(host), true});
  list.push_back({make_default_device_ops(host), true});
  return list;
}

}  // namespace netns
