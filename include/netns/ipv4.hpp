// netns/ipv4.hpp — addresses, routes and the output lookup of one namespace.
//
// Free functions over the Net they configure, like `ip addr` and `ip route`
// run inside a namespace:
//
//   ipv4::add_address(net, *eth0, Ipv4Prefix::parse("10.0.0.1/24").value());
//   ipv4::add_route(net, {.prefix = Ipv4Prefix::parse("0.0.0.0/0").value(),
//                         .via = Ipv4Address(10, 0, 0, 254)});
//   auto r = ipv4::route_output(net, Ipv4Address(192, 0, 2, 7));   // through the route cache
//   fmt::print("{}", ipv4::dump_routes(net));                         // as `ip route` prints
//
// Errors are the errno-like codes `ip` reports: file_exists (address or
// route already there), address_not_available (no such address),
// no_such_process (no such route), no_such_device, invalid_argument,
// network_unreachable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netns/address.hpp"
#include "netns/device.hpp"
#include "netns/neighbour.hpp"
#include "netns/result.hpp"

namespace netns {
class Net;
}

namespace netns::ipv4 {

// The route types of Linux's RTN_*; local and broadcast live in the local table.
enum class RouteType : std::uint8_t { unicast, blackhole, unreachable, prohibit, local, broadcast };

struct RouteSpec {
  Ipv4Prefix prefix;
  std::optional<Ipv4Address> via;
  Device* dev = nullptr;
  std::uint32_t metric = 0;
  RouteType type = RouteType::unicast;
};

struct RouteResult {
  Device* dev;
  Ipv4Address next_hop;
  Ipv4Address source;
};

// ip addr add PREFIX dev DEV: the address, its local route and, while the
// device is up, the connected route. file_exists when present.
[[nodiscard]] Result<void> add_address(Net& net, Device& dev, Ipv4Prefix prefix);
// ip addr del; address_not_available when absent.
[[nodiscard]] Result<void> del_address(Net& net, Device& dev, Ipv4Prefix prefix);

// ip route add PREFIX [via GW] [dev DEV] [metric M] [type]. A gateway must be
// reachable through a connected route (network_unreachable otherwise); the
// device is then found from it when not given. Unicast needs via or dev.
[[nodiscard]] Result<void> add_route(Net& net, const RouteSpec& spec);
// ip route del: prefix and metric must match, via/dev/type when given.
[[nodiscard]] Result<void> del_route(Net& net, const RouteSpec& spec);

// The output path's lookup, through the Host's shared route cache.
// network_unreachable (no route, or unreachable type), host_unreachable,
// permission_denied (prohibit), invalid_argument (blackhole).
[[nodiscard]] Result<RouteResult> route_output(Net& net, Ipv4Address dst);

struct RouteCacheStats {
  std::uint64_t entries = 0, hits = 0, misses = 0, evictions = 0;
  // Received datagrams the input route refused as martians, as Linux counts
  // them in /proc/net/stat/rt_cache (and nowhere in nstat's MIBs): a source
  // that is multicast, limited broadcast, 0.0.0.0 (but to a broadcast), in
  // 127.0.0.0/8 off the loopback, or one of the namespace's own addresses
  // (LAND); a destination that is 0.0.0.0 or in 127.0.0.0/8 off the
  // loopback. The rest of 0.0.0.0/8 is unicast, as in Linux since 5.3.
  // Per namespace.
  std::uint64_t in_martian_src = 0, in_martian_dst = 0;
};
// This namespace's share of the shared cache, and its input route's martians.
RouteCacheStats route_cache_stats(Net& net);

// The MTU of the path to dst: the output route's device MTU, lowered by what
// an ICMP "fragmentation needed" for a datagram this namespace sent reported
// (Linux's route exception, as `ip route get` shows it: never below
// net.ipv4.route.min_pmtu, forgotten net.ipv4.route.mtu_expires seconds after
// it was learned). UDP sends with DF only what fits it and fragments the
// rest without DF (IP_PMTUDISC_WANT); TCP may size its segments by it.
// Errors as route_output.
[[nodiscard]] Result<std::uint32_t> path_mtu(Net& net, Ipv4Address dst);

struct AddressInfo {
  Device* dev;
  Ipv4Prefix prefix;
};
std::vector<AddressInfo> addresses(Net& net);

using netns::NeighbourState;  // netns/neighbour.hpp: both families
struct NeighbourInfo {
  Ipv4Address address;
  Device* dev;
  MacAddress mac;
  NeighbourState state;
};
std::vector<NeighbourInfo> neighbours(Net& net);
// The IPv4 (ARP) table's statistics (netns/neighbour.hpp).
using netns::NeighbourTableStats;
NeighbourTableStats neighbour_table_stats(Net& net);
// ip neigh replace ADDR lladdr MAC dev DEV nud permanent.
[[nodiscard]] Result<void> add_neighbour(Net& net, Device& dev, Ipv4Address address, MacAddress mac);

// Text dumps in the formats of `ip addr`, `ip route` and `ip neigh`.
std::string dump_addresses(Net& net);
std::string dump_routes(Net& net);
std::string dump_neighbours(Net& net);

}  // namespace netns::ipv4
