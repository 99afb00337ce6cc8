// net.ipv6.conf.DEV.*: what the IPv6 layer reads of a device's settings, in
// one place.
//
// Of these only disable_ipv6 is a sysctl yet (net.ipv6.conf.*.disable_ipv6,
// netns/devconf.hpp); the others are Linux's defaults for every device.
// Registering their rows is the next step of issue 13 (each name needs its
// walk scenario, and Linux's `all` rows for most IPv6 keys act on nothing,
// which the walk test must learn to accept).
#pragma once

#include <cstdint>

#include "netns/devconf.hpp"
#include "netns/net.hpp"

namespace netns::ipv6 {

struct DevConf6 {
  bool forwarding = false;
  bool disable_ipv6 = false;
  int accept_dad = 1;  // 0 off, 1 on
  std::uint32_t dad_transmits = 1;
  std::uint8_t hop_limit = 64;
  int addr_gen_mode = 0;  // 0 EUI-64, 1 none
  // Linux's neigh.DEV.retrans_time_ms: DAD's probe interval (RFC 4861 RETRANS_TIMER).
  std::uint32_t retrans_time_ms = 1000;
  // Router discovery (RFC 4861 6.3.7, RFC 4862 5.5): RAs are taken when
  // accept_ra is 1 and forwarding is off, or accept_ra is 2 (ipv6_accept_ra);
  // autoconf makes addresses from their prefixes.
  int accept_ra = 1;
  bool autoconf = true;
  std::uint32_t router_solicitations = 3;         // MAX_RTR_SOLICITATIONS
  std::uint32_t router_solicitation_interval = 4; // seconds, RTR_SOLICITATION_INTERVAL
  // Addresses a device may hold before SLAAC stops adding more.
  std::uint32_t max_addresses = 16;
};

// ipv6_accept_ra: whether dev takes router advertisements.
inline bool accepts_ra(const DevConf6& conf) { return conf.forwarding ? conf.accept_ra == 2 : conf.accept_ra != 0; }

inline DevConf6 devconf(Net& net, const Device& dev) {
  DevConf6 conf;
  conf.disable_ipv6 = device_conf(net.sysctl(), dev, DevconfId::ipv6_disable_ipv6) != 0;
  return conf;
}

// The packet path's question: one bit of the Device.
inline bool ipv6_disabled(const Device& dev) { return device_conf_on(dev, DevconfId::ipv6_disable_ipv6); }

}  // namespace netns::ipv6
