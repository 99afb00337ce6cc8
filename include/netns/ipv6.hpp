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

#include <chrono>
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
  // Its interface identifier is RFC 7217's, from net.ipv6.conf.*.stable_secret
  // (addr_gen_mode 2; IFA_F_STABLE_PRIVACY).
  bool stable_privacy = false;
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

// ip -6 neigh replace ADDR lladdr MAC dev DEV nud permanent. A link-local
// ADDR needs no scope id (the device gives it). invalid_argument for a
// multicast or unspecified address, no_such_device for another
// namespace's device.
[[nodiscard]] Result<void> add_neighbour(Net& net, Device& dev, Ipv6Address address, MacAddress mac);

// Text dumps in the formats of `ip -6 addr`, `ip -6 route` and `ip -6 neigh`.
std::string dump_addresses(Net& net);
std::string dump_routes(Net& net);
std::string dump_neighbours(Net& net);


// ---- router advertisements, as radvd sends them ----
//
//   ipv6::RouterAdvertConfig ra;
//   ra.prefixes.push_back({.prefix = Ipv6Prefix::parse("2001:db8:1::/64").value()});
//   ra.mtu = 1500;
//   auto ok = ipv6::advertise(router, *veth0, ra);   // hosts on veth0 autoconfigure (SLAAC)
//   ...
//   (void)ipv6::stop_advertising(router, *veth0);    // a final RA with router lifetime 0
//
// The advertising device sends unsolicited RAs to ff02::1 every
// [min_interval, max_interval] (a uniform random pick each time; the first
// three at most 16 s apart, RFC 4861 6.2.4), answers router solicitations
// (it listens on ff02::2, as radvd joins it) after a random delay up to
// 0.5 s, never more than one multicast RA per 3 s (MIN_DELAY_BETWEEN_RAS),
// from its link-local address once that address passed DAD. It sends
// nothing while down and resumes when it comes up. Forwarding is not
// required: radvd too only warns when it is off (RFC 4861 6.2.5 asks a
// router that stops forwarding to advertise lifetime 0: set
// router_lifetime to 0 for that).

// A prefix information option (AdvOnLink, AdvAutonomous, AdvValidLifetime,
// AdvPreferredLifetime; radvd's defaults). 0xffffffff is infinity.
struct AdvertisedPrefix {
  Ipv6Prefix prefix;
  bool on_link = true;
  bool autonomous = true;
  std::uint32_t valid_lifetime = 86400;
  std::uint32_t preferred_lifetime = 14400;
};

struct RouterAdvertConfig {
  // MaxRtrAdvInterval (4 s .. 1800 s) and MinRtrAdvInterval (3 s .. 0.75 of
  // the maximum); radvd's defaults, 600 s and 0.33 of it.
  std::chrono::milliseconds max_interval{600'000};
  std::chrono::milliseconds min_interval{198'000};
  // AdvDefaultLifetime in seconds: 0 (not a default router) or
  // max_interval .. 9000 s; nullopt is radvd's 3 * max_interval.
  std::optional<std::uint16_t> router_lifetime;
  std::uint8_t cur_hop_limit = 64;     // AdvCurHopLimit; 0 unspecified
  bool managed = false;                // AdvManagedFlag (M)
  bool other_config = false;           // AdvOtherConfigFlag (O)
  std::uint32_t reachable_time = 0;    // AdvReachableTime, ms, at most 3,600,000; 0 unspecified
  std::uint32_t retrans_timer = 0;     // AdvRetransTimer, ms; 0 unspecified
  std::uint32_t mtu = 0;               // AdvLinkMTU: 0 sends no MTU option, else 1280 .. the device's MTU
  bool source_link = true;             // AdvSourceLLAddress
  std::vector<AdvertisedPrefix> prefixes;  // at most kMaxAdvertisedPrefixes
};

inline constexpr std::size_t kMaxAdvertisedPrefixes = 16;

// Starts advertising on dev, or replaces its configuration (the next RAs
// then come at the initial, faster pace, as radvd after a reload). Fails
// and changes nothing with invalid_argument for a configuration out of the
// bounds above (a prefix that is link-local or multicast, longer than 128
// bits, or with a preferred lifetime above its valid one; more than
// kMaxAdvertisedPrefixes), no_such_device when dev is not in net or is the
// loopback, address_family_not_supported when IPv6 is disabled on dev.
[[nodiscard]] Result<void> advertise(Net& net, Device& dev, const RouterAdvertConfig& config);
// Stops advertising on dev, first sending a final RA with router lifetime 0
// (RFC 4861 6.2.5) when dev is up. no_such_process when dev does not advertise.
[[nodiscard]] Result<void> stop_advertising(Net& net, Device& dev);

// What a device learned from router advertisements (Linux keeps these in
// inet6_dev: cnf.hop_limit, cnf.mtu6, nd_parms), and its solicitations.
struct RouterDiscoveryInfo {
  std::uint8_t hop_limit = 0;           // the RA's cur hop limit; 0 none yet
  std::uint32_t mtu = 0;                // the MTU option's; 0 none yet
  std::uint32_t reachable_time_ms = 0;  // BaseReachableTime; 0 none yet
  std::uint32_t retrans_time_ms = 0;    // RetransTimer; 0 none yet
  std::uint32_t solicitations_sent = 0;
  bool advert_received = false;
  bool advertising = false;
};
// nullopt when dev has neither solicited nor heard nor sent an RA.
std::optional<RouterDiscoveryInfo> router_discovery(Net& net, const Device& dev);

}  // namespace netns::ipv6
