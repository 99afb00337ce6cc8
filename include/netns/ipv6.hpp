// netns/ipv6.hpp — IPv6 addresses, routes and the output lookup of one namespace.
//
// The same shape as netns/ipv4.hpp: free functions over the Net they
// configure, like `ip -6 addr` and `ip -6 route` run inside a namespace.
//
//   ipv6::add_address(net, *eth0, Ipv6Prefix::parse("2001:db8::1/64").value());  // tentative until DAD ends
//   ipv6::add_route(net, {.prefix = Ipv6Prefix::parse("::/0").value(),
//                         .via = Ipv6Address::parse("fe80::1").value(), .dev = eth0});
//   auto r = ipv6::route_output(net, Ipv6Address::parse("2001:db8:1::7").value());
//   fmt::print("{}", ipv6::dump_addresses(net));                   // as `ip -6 addr` prints
//
// A device that comes up gets a link-local address fe80::/64 with an
// interface identifier made from its MAC (EUI-64, RFC 4291 appendix A;
// net.ipv6.conf.<dev>.addr_gen_mode 0), the loopback gets ::1/128. Addresses
// go through duplicate address detection (RFC 4862 5.4) as Linux does it:
// tentative for dad_transmits solicitations a retrans time apart, then
// usable, or dad_failed when another node answers for them.
//
// Errors are the errno-like codes `ip` reports: file_exists, address_not_available,
// no_such_process (no such route), no_such_device, invalid_argument,
// network_unreachable, host_unreachable, permission_denied.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netns/address.hpp"
#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/result.hpp"

namespace netns {
class Net;
}

namespace netns::ipv6 {

// The kinds of Linux's RTN_*: the same enum as IPv4's.
using RouteType = ipv4::RouteType;

struct RouteSpec {
  Ipv6Prefix prefix;
  std::optional<Ipv6Address> via;  // a link-local gateway needs `dev` (or a scope id naming it)
  Device* dev = nullptr;
  std::uint32_t metric = 1024;     // Linux's default for IPv6 (IP6_RT_PRIO_USER)
  RouteType type = RouteType::unicast;
};

struct RouteResult {
  Device* dev;
  Ipv6Address next_hop;  // the destination itself when on-link
  Ipv6Address source;    // RFC 6724 source address selection
};

struct AddressInfo {
  Device* dev;
  Ipv6Prefix prefix;
  bool tentative = false;   // DAD in progress: not used as a source, not answered for
  bool dad_failed = false;  // another node has it: never used
  bool permanent = true;    // added by hand (ip -6 addr add), not by SLAAC
  bool deprecated = false;  // preferred lifetime over: not chosen as a source for new traffic
  // Lifetimes in seconds; nullopt is forever.
  std::optional<std::uint32_t> valid_lifetime, preferred_lifetime;
};

// ip -6 addr add PREFIX dev DEV. file_exists when present; invalid_argument
// for a multicast or unspecified address, or ::1 off the loopback;
// address_family_not_supported when IPv6 is disabled on the device
// (net.ipv6.conf.DEV.disable_ipv6).
[[nodiscard]] Result<void> add_address(Net& net, Device& dev, Ipv6Prefix prefix);
// ip -6 addr del; address_not_available when absent.
[[nodiscard]] Result<void> del_address(Net& net, Device& dev, Ipv6Prefix prefix);
// Every device's addresses, link-local and ::1 included.
std::vector<AddressInfo> addresses(Net& net);

// ip -6 route add PREFIX [via GW] [dev DEV] [metric M] [type]. A global
// gateway must be reachable through an on-link route (network_unreachable
// otherwise), which gives the device when not given; a link-local gateway
// needs its device.
[[nodiscard]] Result<void> add_route(Net& net, const RouteSpec& spec);
// ip -6 route del: the prefix must match, and metric/via/dev/type when given.
[[nodiscard]] Result<void> del_route(Net& net, const RouteSpec& spec);
// The output path's lookup, through the Host's shared route cache, with the
// source chosen by RFC 6724. A link-local or multicast destination with a
// scope id leaves through that device. Errors: network_unreachable (no
// route, or unreachable type), permission_denied (prohibit),
// invalid_argument (blackhole), address_not_available (no usable source).
[[nodiscard]] Result<RouteResult> route_output(Net& net, Ipv6Address dst);
// The MTU of the path to dst: the route's device MTU (or the device's
// net.ipv6.conf.DEV.mtu), lowered by what an ICMPv6 Packet Too Big reported,
// for net.ipv6.route.mtu_expires seconds, never below 1280.
[[nodiscard]] Result<std::uint32_t> path_mtu(Net& net, Ipv6Address dst);

// Text dumps in the formats of `ip -6 addr`, `ip -6 route` and `ip -6 neigh`.
std::string dump_addresses(Net& net);
std::string dump_routes(Net& net);
std::string dump_neighbours(Net& net);

}  // namespace netns::ipv6
