// inet/dump.hpp — the text of `ip addr` and `ip route` that both IP
// families print alike (ipv4/dump.cpp, ipv6/api.cpp).
#pragma once

#include <string>
#include <string_view>

#include "netns/ipv4.hpp"

namespace netns {
class Device;
}  // namespace netns

namespace netns::inet {

// A device's first line in `ip addr`:
// "2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n".
std::string link_line(const Device& dev);

// What `ip route` prints before a route's destination: "blackhole " and the
// like, nothing for the types it does not name.
std::string_view route_type_text(ipv4::RouteType type);

// A route's destination as `ip route` prints it: "default", a host route's
// bare address (`host_length`: the family's address bits), else the prefix.
template <class Prefix>
std::string destination_text(const Prefix& p, unsigned host_length) {
  if (p.length() == 0) return "default";
  if (p.length() == host_length) return p.address().to_string();
  return p.to_string();
}

}  // namespace netns::inet
