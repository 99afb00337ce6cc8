// The text both IP families' dumps share (inet/dump.hpp).
#include "inet/dump.hpp"

#include <fmt/format.h>

#include "netns/device.hpp"

namespace netns::inet {

std::string link_line(const Device& dev) {
  const bool loopback = dev.kind() == DeviceKind::loopback;
  std::string flags = loopback ? "LOOPBACK" : "BROADCAST,MULTICAST";
  if (dev.is_up()) flags += ",UP";
  if (dev.is_running()) flags += ",LOWER_UP";
  // Linux's loopback has no carrier to report.
  const std::string_view state = loopback ? "UNKNOWN" : (dev.is_running() ? "UP" : "DOWN");
  return fmt::format("{}: {}: <{}> mtu {} state {}\n", dev.ifindex(), dev.name(), flags, dev.mtu(), state);
}

std::string_view route_type_text(ipv4::RouteType type) {
  switch (type) {
    case ipv4::RouteType::blackhole: return "blackhole ";
    case ipv4::RouteType::unreachable: return "unreachable ";
    case ipv4::RouteType::prohibit: return "prohibit ";
    default: return "";
  }
}

}  // namespace netns::inet
