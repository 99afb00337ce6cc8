// net.ipv6.conf.DEV.*: what the layer reads of a device's IPv6 settings.
//
// INTERIM: Linux's defaults for every device, until the per-device sysctl
// mechanism (branch conf) lands and these read net.ipv6.conf.{all,default,DEV}.
#pragma once

#include <cstdint>

namespace netns {
class Device;
class Net;
}  // namespace netns

namespace netns::ipv6 {

struct DevConf6 {
  bool forwarding = false;
  bool disable_ipv6 = false;
  int accept_ra = 1;  // 0 never, 1 when not forwarding, 2 even when forwarding
  bool autoconf = true;
  int accept_dad = 1;  // 0 off, 1 on, 2 on and IPv6 off on the device when a link-local EUI-64 fails
  std::uint32_t dad_transmits = 1;
  std::uint8_t hop_limit = 64;
  std::uint32_t mtu = 1280;  // min(this, device MTU) when set; 1280 is the default floor
  int addr_gen_mode = 0;     // 0 EUI-64, 1 none
  std::uint32_t retrans_time_ms = 1000;
};

inline DevConf6 devconf(Net&, const Device&) { return DevConf6{}; }

}  // namespace netns::ipv6
