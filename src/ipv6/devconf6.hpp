// net.ipv6.conf.DEV.*: what the IPv6 layer reads of a device's settings, in
// one place. The rows, their bounds and how `all` and `default` act are
// kDevconfTable's (netns/devconf.hpp); Ipv6Stack's DevconfListener
// (devconf6.cpp) makes writes act on live devices.
//
// The control plane calls devconf(net, dev) for the whole set; the packet
// path reads one value with the helpers below (a bit of the Device, or one
// indexed load), never the whole set.
#pragma once

#include <cstdint>

#include "netns/devconf.hpp"
#include "netns/net.hpp"

namespace netns::ipv6 {

struct DevConf6 {
  bool forwarding = false;  // the device's own: its router behaviour
  bool disable_ipv6 = false;
  int accept_dad = 1;  // max(all, device): 0 off, 1 on, 2 on and IPv6 off on a duplicate EUI-64
  std::uint32_t dad_transmits = 1;
  std::uint8_t hop_limit = 64;
  int addr_gen_mode = 0;  // 0 EUI-64, 1 none, 2 stable privacy, 3 random (stable privacy, a drawn secret)
  // Linux's neigh.DEV.retrans_time_ms: DAD's probe interval (RFC 4861 RETRANS_TIMER).
  std::uint32_t retrans_time_ms = 1000;
  // Router discovery (RFC 4861 6.3.7, RFC 4862 5.5): RAs are taken when
  // accept_ra is 1 and the device is not forwarding, or accept_ra is 2
  // (ipv6_accept_ra); autoconf makes addresses from their prefixes.
  int accept_ra = 1;
  bool autoconf = true;
  std::uint32_t mtu = 1280;  // the device's IPv6 MTU (idev->cnf.mtu6)
  std::uint32_t router_solicitations = 3;          // MAX_RTR_SOLICITATIONS
  std::uint32_t router_solicitation_interval = 4;  // seconds, RTR_SOLICITATION_INTERVAL
  // Addresses a device may hold before SLAAC stops adding more.
  std::uint32_t max_addresses = 16;
};

inline constexpr int kAddrGenEui64 = 0, kAddrGenNone = 1, kAddrGenStablePrivacy = 2, kAddrGenRandom = 3;

inline DevConf6 devconf(Net& net, const Device& dev) {
  const Sysctl& s = net.sysctl();
  DevConf6 conf;
  conf.forwarding = device_conf(s, dev, DevconfId::ipv6_forwarding) != 0;
  conf.disable_ipv6 = device_conf(s, dev, DevconfId::ipv6_disable_ipv6) != 0;
  conf.accept_dad = device_conf(s, dev, DevconfId::ipv6_accept_dad);
  conf.dad_transmits = static_cast<std::uint32_t>(device_conf(s, dev, DevconfId::ipv6_dad_transmits));
  conf.hop_limit = static_cast<std::uint8_t>(device_conf(s, dev, DevconfId::ipv6_hop_limit));
  conf.addr_gen_mode = device_conf(s, dev, DevconfId::ipv6_addr_gen_mode);
  conf.accept_ra = device_conf(s, dev, DevconfId::ipv6_accept_ra);
  conf.autoconf = device_conf(s, dev, DevconfId::ipv6_autoconf) != 0;
  conf.mtu = static_cast<std::uint32_t>(device_conf(s, dev, DevconfId::ipv6_mtu));
  return conf;
}

// ipv6_accept_ra: whether router advertisements on the device are honoured.
inline bool accepts_ra(const DevConf6& conf) { return conf.forwarding ? conf.accept_ra == 2 : conf.accept_ra != 0; }

// ---- the packet path's questions ----

// One bit of the Device.
inline bool ipv6_disabled(const Device& dev) { return device_conf_on(dev, DevconfId::ipv6_disable_ipv6); }
// The device acts as a router (NDP's router flag, all-routers): one bit.
inline bool acts_as_router(const Device& dev) { return device_conf_on(dev, DevconfId::ipv6_forwarding); }
// ip6_forward's gate: net.ipv6.conf.all.forwarding, one load.
inline bool forwarding_enabled(const Net& net) { return devconf_all(net.sysctl(), DevconfId::ipv6_forwarding) != 0; }
// What IPv6 datagrams through dev may carry: net.ipv6.conf.DEV.mtu.
inline std::uint32_t ipv6_mtu(const Net& net, const Device& dev) {
  return static_cast<std::uint32_t>(device_conf(net.sysctl(), dev, DevconfId::ipv6_mtu));
}
inline std::uint8_t default_hop_limit(const Net& net, const Device& dev) {
  return static_cast<std::uint8_t>(device_conf(net.sysctl(), dev, DevconfId::ipv6_hop_limit));
}

}  // namespace netns::ipv6
