// netns/ipv6.hpp's free functions: the control plane entry points, each
// finding the namespace's IPv6 layer through the Host's built-ins.
#include <algorithm>

#include <fmt/format.h>

#include "inet/dump.hpp"
#include "inet/route_protocol.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"

namespace netns::ipv6 {

namespace {
Ipv6Stack& layer(Net& net) { return net.host().builtins().ipv6(); }

std::optional<std::uint32_t> seconds_left(const std::optional<Clock::time_point>& until, Clock::time_point now) {
  if (!until) return std::nullopt;
  if (*until <= now) return 0;
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(*until - now).count());
}

std::string_view protocol_text(std::uint8_t protocol) {
  switch (protocol) {
    case inet::kProtoKernel: return " proto kernel";
    case inet::kProtoStatic: return " proto static";
    case inet::kProtoRa: return " proto ra";
    default: return "";
  }
}
}  // namespace

Result<void> add_address(Net& net, Device& dev, Ipv6Prefix prefix) { return layer(net).add_address(net, dev, prefix); }
Result<void> del_address(Net& net, Device& dev, Ipv6Prefix prefix) { return layer(net).del_address(net, dev, prefix); }
Result<void> add_route(Net& net, const RouteSpec& spec) { return layer(net).add_route(net, spec); }
Result<void> del_route(Net& net, const RouteSpec& spec) { return layer(net).del_route(net, spec); }
Result<RouteResult> route_output(Net& net, Ipv6Address dst) { return layer(net).route_output(net, dst); }

Result<std::uint32_t> path_mtu(Net& net, Ipv6Address dst) {
  auto route = route_output(net, dst);
  if (!route) return route.error();
  return layer(net).path_mtu(net, dst, *route->dev);
}

std::vector<AddressInfo> addresses(Net& net) {
  std::vector<AddressInfo> out;
  Ipv6Net* ns = layer(net).find_state(net);
  if (ns == nullptr) return out;
  const auto now = net.host().now();
  for (const auto& a : ns->addresses) {
    out.push_back({.dev = a->dev, .prefix = a->prefix, .tentative = a->tentative, .dad_failed = a->dad_failed,
                   .permanent = a->permanent, .deprecated = a->deprecated(now),
                   .valid_lifetime = seconds_left(a->valid_until, now),
                   .preferred_lifetime = seconds_left(a->preferred_until, now),
                   .stable_privacy = a->stable_privacy});
  }
  return out;
}

// `ip -6 addr`: per device, its inet6 lines, newest first as Linux lists them.
std::string dump_addresses(Net& net) {
  std::string out;
  const auto all = addresses(net);
  for (Device& dev : net.devices()) {
    bool any = false;
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->dev != &dev) continue;
      if (!any) {
        out += inet::link_line(dev);
        any = true;
      }
      const Ipv6Address a = it->prefix.address();
      const std::string_view scope = a.is_loopback() ? "host" : (a.is_link_local() ? "link" : "global");
      out += fmt::format("    inet6 {} scope {}", it->prefix, scope);
      if (!it->permanent) out += " dynamic";
      if (it->tentative) out += " tentative";
      if (it->dad_failed) out += " dadfailed";
      if (it->deprecated) out += " deprecated";
      if (it->stable_privacy) out += " stable-privacy";
      out += '\n';
      auto lifetime = [](const std::optional<std::uint32_t>& s) {
        return s ? fmt::format("{}sec", *s) : std::string("forever");
      };
      out += fmt::format("       valid_lft {} preferred_lft {}\n", lifetime(it->valid_lifetime),
                         lifetime(it->preferred_lifetime));
    }
  }
  return out;
}

// `ip -6 route`: the main table, routes in the table's order.
std::string dump_routes(Net& net) {
  std::string out;
  Ipv6Net* ns = layer(net).find_state(net);
  if (ns == nullptr) return out;
  // Fib6 walks in Linux's order: a prefix after those it contains, so ::1
  // first and the default route last.
  ns->routes.for_each([&](const Fib6Entry& e) {
    out += inet::route_type_text(e.type);
    out += inet::destination_text(e.prefix, 128);
    if (e.via) out += fmt::format(" via {}", *e.via);
    if (e.dev != nullptr) out += fmt::format(" dev {}", e.dev->name());
    out += protocol_text(e.protocol);
    out += fmt::format(" metric {}", e.metric);
    if (e.expires) {
      const auto left = seconds_left(e.expires, net.host().now()).value_or(0);
      out += fmt::format(" expires {}sec", left);
    }
    out += " pref medium\n";
  });
  return out;
}

Result<void> add_neighbour(Net& net, Device& dev, Ipv6Address address, MacAddress mac) {
  if (&dev.net() != &net) return error(Errc::no_such_device);
  Ipv6Net* ns = layer(net).find_state(net);
  if (ns == nullptr) return error(Errc::address_family_not_supported);
  return ns->neighbours().add_permanent(dev, address.with_scope(0), mac);
}

std::string dump_neighbours(Net& net) {
  Ipv6Net* ns = layer(net).find_state(net);
  NeighbourTable* ndp = ns == nullptr ? nullptr : ns->neighbours_if_any();
  return ndp == nullptr ? std::string{} : ndp->dump();
}

}  // namespace netns::ipv6
