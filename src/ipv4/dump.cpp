// Text dumps of a namespace in the formats of `ip addr`, `ip route` and `ip neigh`.
#include <fmt/format.h>

#include "inet/dump.hpp"
#include "inet/route_protocol.hpp"
#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"
#include "neigh/table.hpp"
#include "stack/builtins.hpp"

namespace netns::ipv4 {

namespace {

std::string_view scope_text(std::uint8_t scope) {
  switch (scope) {
    case 254: return "host";
    case 253: return "link";
    default: return "global";
  }
}

}  // namespace

std::string dump_addresses(Net& net) {
  const Ipv4Net& ns = net.host().builtins().ipv4().state(net);
  std::string out;
  for (Device& dev : net.devices()) {
    const bool loopback = dev.kind() == DeviceKind::loopback;
    out += inet::link_line(dev);
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
    out += inet::route_type_text(e.type);
    out += inet::destination_text(e.prefix, 32);
    if (!e.gateway.is_unspecified()) out += fmt::format(" via {}", e.gateway);
    if (e.dev != nullptr) out += fmt::format(" dev {}", e.dev->name());
    if (e.protocol == inet::kProtoKernel) out += " proto kernel";
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
