// Text dumps of a namespace in the formats of `ip addr`, `ip route` and `ip neigh`.
#include <fmt/format.h>

#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"
#include "neigh/table.hpp"
#include "stack/builtins.hpp"

namespace netns::ipv4 {

namespace {

std::string prefix_text(const Ipv4Prefix& p) {
  if (p.length() == 0) return "default";
  if (p.length() == 32) return p.address().to_string();
  return p.to_string();
}

std::string_view scope_text(std::uint8_t scope) {
  switch (scope) {
    case 254: return "host";
    case 253: return "link";
    default: return "global";
  }
}

std::string link_flags(const Device& dev) {
  std::string flags = dev.kind() == DeviceKind::loopback ? "LOOPBACK" : "BROADCAST,MULTICAST";
  if (dev.is_up()) flags += ",UP";
  if (dev.is_running()) flags += ",LOWER_UP";
  return flags;
}

}  // namespace

std::string dump_addresses(Net& net) {
  const Ipv4Net& ns = net.host().builtins().ipv4().state(net);
  std::string out;
  for (Device& dev : net.devices()) {
    bool loopback = dev.kind() == DeviceKind::loopback;
    std::string_view state = loopback ? "UNKNOWN" : (dev.is_running() ? "UP" : "DOWN");
    out += fmt::format("{}: {}: <{}> mtu {} state {}\n", dev.ifindex(), dev.name(), link_flags(dev),
                       dev.mtu(), state);
    out += fmt::format("    link/{} {} brd {}\n", loopback ? "loopback" : "ether", dev.mac(),
                       loopback ? MacAddress{} : MacAddress::broadcast());
    for (const InAddress& a : ns.addresses) {
      if (a.dev != &dev) continue;
      out += fmt::format("    inet {}", a.prefix);
      if (a.prefix.length() < 31) out += fmt::format(" brd {}", a.prefix.broadcast());
      out += fmt::format(" scope {} {}\n", a.prefix.address().is_loopback() ? "host" : "global", dev.name());
    }
  }
  return out;
}

std::string dump_routes(Net& net) {
  const Ipv4Net& ns = net.host().builtins().ipv4().state(net);
  std::string out;
  ns.main.for_each([&](const FibEntry& e) {
    switch (e.type) {
      case RouteType::blackhole: out += "blackhole "; break;
      case RouteType::unreachable: out += "unreachable "; break;
      case RouteType::prohibit: out += "prohibit "; break;
      default: break;
    }
    out += prefix_text(e.prefix);
    if (!e.gateway.is_unspecified()) out += fmt::format(" via {}", e.gateway);
    if (e.dev != nullptr) out += fmt::format(" dev {}", e.dev->name());
    if (e.protocol == 2) out += " proto kernel";
    if (e.scope != 0) out += fmt::format(" scope {}", scope_text(e.scope));
    if (!e.prefsrc.is_unspecified()) out += fmt::format(" src {}", e.prefsrc);
    if (e.metric != 0) out += fmt::format(" metric {}", e.metric);
    out += '\n';
  });
  return out;
}

std::string dump_neighbours(Net& net) {
  std::string out;
  for (const NeighbourInfo& n : neighbours(net)) {
    out += neigh::format_neighbour(n.address.to_string(), *n.dev, n.mac, n.state, false);
  }
  return out;
}

}  // namespace netns::ipv4
