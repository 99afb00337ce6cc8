// IPv6 routes of a namespace: `ip -6 route add/del`, the output lookup and
// RFC 6724 source address selection.
#include <algorithm>
#include <array>
#include <bit>

#include "core/route_cache.hpp"
#include "inet/route_protocol.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/fib6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/net.hpp"

namespace netns::ipv6 {

namespace {

// RFC 4291 2.7 and RFC 6724 3.1: link-local 2, site-local 5, global 14;
// a multicast address carries its scope in its fourth nibble.
int scope_of(const Ipv6Address& a) {
  if (a.is_multicast()) return a.bytes()[1] & 0x0f;
  if (a.is_loopback() || a.is_link_local()) return 0x2;
  if (a.bytes()[0] == 0xfe && (a.bytes()[1] & 0xc0) == 0xc0) return 0x5;
  return 0xe;
}

// RFC 6724 2.1's default policy table: (prefix, precedence, label).
struct Policy {
  Ipv6Prefix prefix;
  int precedence, label;
};
const std::array<Policy, 9>& policy_table() {
  static const std::array<Policy, 9> table{{
      {Ipv6Prefix(Ipv6Address::loopback(), 128), 50, 0},
      {Ipv6Prefix(Ipv6Address(0, 0, 0, 0, 0, 0xffff, 0, 0), 96), 35, 4},
      {Ipv6Prefix(Ipv6Address(0x2002, 0, 0, 0, 0, 0, 0, 0), 16), 30, 2},
      {Ipv6Prefix(Ipv6Address(0x2001, 0, 0, 0, 0, 0, 0, 0), 32), 5, 5},
      {Ipv6Prefix(Ipv6Address(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), 3, 13},
      {Ipv6Prefix(Ipv6Address::any(), 96), 1, 3},
      {Ipv6Prefix(Ipv6Address(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), 1, 11},
      {Ipv6Prefix(Ipv6Address(0x3ffe, 0, 0, 0, 0, 0, 0, 0), 16), 1, 12},
      {Ipv6Prefix(Ipv6Address::any(), 0), 40, 1},
  }};
  return table;
}

// The longest matching entry's label (the table is ordered so that the
// first match is the longest for every address).
int label_of(const Ipv6Address& a) {
  const Policy* best = nullptr;
  for (const Policy& p : policy_table()) {
    if (p.prefix.contains(a) && (best == nullptr || p.prefix.length() > best->prefix.length())) best = &p;
  }
  return best->label;
}

int common_prefix_len(const Ipv6Address& a, const Ipv6Address& b) {
  int len = 0;
  for (int i = 0; i < 16; ++i) {
    const int x = a.bytes()[i] ^ b.bytes()[i];
    if (x == 0) {
      len += 8;
      continue;
    }
    return len + std::countl_zero(static_cast<std::uint8_t>(x));
  }
  return len;
}

Result<void> check_route_type(RouteType type) {
  switch (type) {
    case RouteType::unicast:
    case RouteType::blackhole:
    case RouteType::unreachable:
    case RouteType::prohibit:
      return {};
    default:
      return error(Errc::invalid_argument);  // local and broadcast are the kernel's
  }
}
}  // namespace

// ---- ip -6 route ----

Result<void> Ipv6Stack::add_route(Net& net, const RouteSpec& spec) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return error(Errc::no_such_device);
  if (auto ok = check_route_type(spec.type); !ok) return ok;
  if (spec.dev != nullptr && &spec.dev->net() != &net) return error(Errc::no_such_device);
  Fib6Entry entry{.prefix = Ipv6Prefix(spec.prefix.network().with_scope(0), spec.prefix.length()),
                  .dev = spec.dev, .metric = spec.metric == 0 ? 1024u : spec.metric, .type = spec.type,
                  .protocol = inet::kProtoStatic};
  if (spec.type == RouteType::unicast) {
    if (spec.via) {
      const Ipv6Address gw = spec.via->with_scope(0);
      if (gw.is_multicast() || gw.is_unspecified()) return error(Errc::invalid_argument);
      if (gw.is_link_local()) {
        // fe80::1%3 names its device; otherwise dev must.
        if (spec.via->scope_id() != 0) {
          Device* scoped = net.device(static_cast<int>(spec.via->scope_id()));
          if (scoped == nullptr || (entry.dev != nullptr && entry.dev != scoped)) return error(Errc::no_such_device);
          entry.dev = scoped;
        }
        if (entry.dev == nullptr) return error(Errc::invalid_argument);
      } else {
        // ip6_route_check_nh: the gateway must be on-link through a route
        // without a gateway of its own.
        const Fib6Entry* to_gw = ns->routes.lookup(gw, entry.dev);
        if (to_gw == nullptr || to_gw->via || to_gw->type != RouteType::unicast) {
          return error(Errc::network_unreachable);
        }
        if (entry.dev == nullptr) entry.dev = to_gw->dev;
      }
      entry.via = gw;
    } else if (entry.dev == nullptr) {
      return error(Errc::invalid_argument);
    }
  }
  // As `ip -6 route add` (NLM_F_EXCL): one route per prefix and metric.
  if (ns->routes.find({.prefix = entry.prefix, .metric = entry.metric}) != nullptr) return error(Errc::file_exists);
  if (auto ok = ns->routes.insert(entry); !ok) return ok;
  route_cache_invalidate(net);
  return {};
}

Result<void> Ipv6Stack::del_route(Net& net, const RouteSpec& spec) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return error(Errc::no_such_device);
  Fib6Entry match{.prefix = Ipv6Prefix(spec.prefix.network().with_scope(0), spec.prefix.length()),
                  .dev = spec.dev, .metric = spec.metric, .type = spec.type};
  if (spec.via) match.via = spec.via->with_scope(0);
  if (auto ok = ns->routes.erase(match); !ok) return ok;
  route_cache_invalidate(net);
  return {};
}

void Ipv6Stack::route_cache_invalidate(Net& net) { route_cache_.invalidate(net); }

// ---- output route ----

// Through the Host's shared route cache: the same quotas, generation and
// statistics as IPv4's (one table for both families).
Result<RouteResult> Ipv6Stack::route_output(Net& net, const Ipv6Address& dst) {
  const int oif = static_cast<int>(dst.scope_id());
  if (const CachedRoute6* hit = route_cache_.lookup(net, dst, Ipv6Address{}, oif)) {
    return RouteResult{hit->dev, hit->next_hop, hit->source};
  }
  auto resolved = resolve_route(net, dst);
  if (resolved) route_cache_.insert(net, dst, Ipv6Address{}, oif, {resolved->dev, resolved->next_hop, resolved->source});
  return resolved;
}

boost::system::error_code Ipv6Stack::no_route(Net& net, boost::system::error_code why) {
  if (why == error(Errc::network_unreachable)) net.counters().add(Counter::Ip6OutNoRoutes);
  return why;
}

Result<RouteResult> Ipv6Stack::route_output(Net& net, const Ipv6Address& dst, RouteMemo& memo) {
  const std::uint64_t generation = route_cache_.generation(net);
  if (generation != RouteCache::kNoGeneration && memo.generation == generation && memo.dst == dst) {
    return memo.route;
  }
  auto route = route_output(net, dst);
  if (route) memo = {dst, generation, *route};
  return route;
}

Result<RouteResult> Ipv6Stack::resolve_route(Net& net, const Ipv6Address& dst) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return error(Errc::network_unreachable);
  const Ipv6Address bare = dst.with_scope(0);
  // A scoped destination leaves through the device its scope id names.
  Device* oif = nullptr;
  if (dst.scope_id() != 0) {
    oif = net.device(static_cast<int>(dst.scope_id()));
    if (oif == nullptr) return error(Errc::no_such_device);
  }
  // One of our own addresses: through the loopback (the local table's route).
  if (Inet6Address* local = ns->local_address(bare); local != nullptr && oif == nullptr) {
    return RouteResult{&net.loopback(), bare, bare};
  }
  RouteResult out{};
  if (bare.is_multicast() && oif != nullptr) {
    out = RouteResult{oif, bare, {}};
  } else {
    const Fib6Entry* e = ns->routes.lookup(bare, oif);
    if (e == nullptr) return error(Errc::network_unreachable);
    switch (e->type) {
      case RouteType::unreachable:
        return error(Errc::host_unreachable);  // ip6_rt_type_to_error
      case RouteType::prohibit:
        return error(Errc::permission_denied);
      case RouteType::blackhole:
        return error(Errc::invalid_argument);
      default:
        break;
    }
    out = RouteResult{e->dev, e->via ? *e->via : bare, {}};
  }
  auto source = select_source(net, *out.dev, bare);
  if (!source) return error(Errc::address_not_available);
  out.source = *source;
  return out;
}

// RFC 6724 section 5, as Linux's ipv6_dev_get_saddr: each rule decides
// when the candidates differ in it; the rules Linux skips (home addresses,
// temporary addresses) are skipped here too.
std::optional<Ipv6Address> Ipv6Stack::select_source(Net& net, const Device& dev, const Ipv6Address& dst) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return std::nullopt;
  const Ipv6Address d = dst.with_scope(0);
  const int dst_scope = scope_of(d);
  const int dst_label = label_of(d);
  const auto now = host_.now();
  const Inet6Address* best = nullptr;
  // Rule by rule: true when a is better than b.
  auto better = [&](const Inet6Address& a, const Inet6Address& b) {
    const Ipv6Address sa = a.prefix.address(), sb = b.prefix.address();
    if ((sa == d) != (sb == d)) return sa == d;                               // 1: same address
    const int ca = scope_of(sa), cb = scope_of(sb);                           // 2: appropriate scope
    if (ca != cb) return ca < cb ? ca >= dst_scope : cb < dst_scope;
    if (a.deprecated(now) != b.deprecated(now)) return !a.deprecated(now);  // 3: avoid deprecated
    if ((a.dev == &dev) != (b.dev == &dev)) return a.dev == &dev;             // 5: outgoing interface
    const bool la = label_of(sa) == dst_label, lb = label_of(sb) == dst_label;
    if (la != lb) return la;                                                  // 6: matching label
    return common_prefix_len(sa, d) > common_prefix_len(sb, d);               // 8: longest match
  };
  // Link-local and multicast link-scope destinations: only the outgoing
  // device's addresses are candidates (RFC 6724 4).
  const bool link_scoped = dst_scope <= 0x2;
  for (const auto& a : ns->addresses) {
    if (!a->usable()) continue;
    if (link_scoped && a->dev != &dev && dev.kind() != DeviceKind::loopback) continue;
    if (best == nullptr || better(*a, *best)) best = a.get();
  }
  if (best == nullptr) return std::nullopt;
  return best->prefix.address();
}

}  // namespace netns::ipv6
