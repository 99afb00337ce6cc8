// The IPv4 layer: its pernet state, device events, and the control plane
// behind `ip addr` and `ip route`.
#include "ipv4/stack.hpp"

#include <algorithm>
#include <cstddef>

#include "core/route_cache.hpp"
#include "inet/route_protocol.hpp"
#include "ipv4/ipv4_net.hpp"
#include "stack/builtins.hpp"

namespace netns::ipv4 {

namespace {
constexpr auto kEtherTypeIpv4 = static_cast<std::uint16_t>(wire::EtherType::ipv4);
constexpr auto kEtherTypeArp = static_cast<std::uint16_t>(wire::EtherType::arp);
constexpr std::size_t kMaxAddresses = 65536;  // per namespace: `ip addr` tables are bounded too
constexpr std::uint8_t kScopeHost = 254, kScopeLink = 253, kScopeUniverse = 0;
constexpr std::uint64_t kSipPurposePmtu = 0x706d74752d657863;  // "pmtu-exc"
}  // namespace

class Ipv4Stack::ArpReceiver final : public PacketHandler {
 public:
  explicit ArpReceiver(Ipv4Stack& stack) : stack_(stack) {}
  void process(Net& net, Device& dev, Packet frame) override {
    if (Ipv4Net* ns = stack_.slot_.find(net)) ns->neighbours.process_arp(dev, std::move(frame));
  }

 private:
  Ipv4Stack& stack_;
};

// ---- per-namespace state ----

// ARP asks IPv4 these, and only these (neighbour.hpp).
Ipv4Net::Ipv4Net(Net& n, Ipv4Stack& stack) : net(n), hooks(&n.host().rx(), &active_hooks), neighbours(n, stack) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"  // GCC lays a non-standard-layout class out as any other
  static_assert(offsetof(Ipv4Net, local_filter) + sizeof(local_filter) == 64 &&
                    offsetof(Ipv4Net, active_hooks) < offsetof(Ipv4Net, local_filter),
                "the main table, the hooks' mask and the local filter share line 0");
#pragma GCC diagnostic pop
}

const InAddress* Ipv4Net::find_address(const Device& dev, Ipv4Address address) const {
  for (const InAddress& a : addresses) {
    if (a.dev == &dev && a.prefix.address() == address) return &a;
  }
  return nullptr;
}

bool Ipv4Net::has_address(Ipv4Address address) const {
  // The local table's /32 local route of an address: what Linux finds in its
  // hash of addresses, without a second structure to keep in step.
  const FibEntry* e = local.lookup(address);
  return e != nullptr && e->type == RouteType::local && e->prefix.length() == 32;
}

void Ipv4Net::refresh_local_filter() {
  local_filter = 0;
  for (const InAddress& a : addresses) local_filter |= local_filter_bits(a);
}

// The destinations add_kernel_routes puts in the local table for `a`, or
// more: its broadcast is counted even on a /31, and while its device is down.
// Nothing inside 127/8: a datagram from or to there is a martian unless it
// came through the loopback, whose datagrams always look in the local table.
std::uint64_t Ipv4Net::local_filter_bits(const InAddress& a) {
  const Ipv4Prefix& p = a.prefix;
  const bool in_loopback_net = p.length() >= 8 && p.address().value >> 24 == 127;
  if (in_loopback_net) return 0;
  const bool covers_network = a.dev->kind() == DeviceKind::loopback && p.length() < 32;
  if (covers_network) return ~std::uint64_t{0};
  return local_filter_bits(p.address()) | local_filter_bits(p.broadcast());
}

Reassembler& Ipv4Net::fragments(Ipv4Stack& stack) {
  if (!reassembler) {
    reassembler = std::make_unique<Reassembler>(net, [&stack, this](Packet first) {
      stack.send_icmp_error(net, first, wire::IcmpType::time_exceeded,
                            static_cast<std::uint8_t>(wire::IcmpTimeExceeded::reassembly));
    });
  }
  return *reassembler;
}

// ---- the subsystem ----

Ipv4Stack::Ipv4Stack(Host& host, RouteCache& route_cache)
    : host_(host),
      slot_(host),
      route_cache_(route_cache),
      arp_(std::make_unique<ArpReceiver>(*this)),
      idents_(host.secret()),
      pmtu_key_(SipKey::derive(host.secret(), kSipPurposePmtu)) {
  (void)host.add_packet_handler(kEtherTypeIpv4, *this);
  (void)host.add_packet_handler(kEtherTypeArp, *arp_);
  host.add_netdev_listener(*this);
}

Ipv4Stack::~Ipv4Stack() {
  host_.remove_packet_handler(kEtherTypeIpv4);
  host_.remove_packet_handler(kEtherTypeArp);
  host_.remove_netdev_listener(*this);
}

Result<void> Ipv4Stack::add_protocol(wire::IpProtocol protocol, Transport& transport) {
  return transports_.add(protocol, transport);
}

void Ipv4Stack::remove_protocol(wire::IpProtocol protocol, const Transport& transport) {
  transports_.remove(protocol, transport);
}

Result<void> Ipv4Stack::init(Net& net) {
  slot_.emplace(net, net, *this);
  return {};
}

void Ipv4Stack::exit(Net& net) { slot_.reset(net); }

void Ipv4Stack::on_netdev_event(NetdevEvent event, Device& dev) {
  Net& net = dev.net();
  Ipv4Net* ns = slot_.find(net);
  if (ns == nullptr) return;  // the namespace's IPv4 is already gone (teardown)
  switch (event) {
    case NetdevEvent::up:
      // Linux gives the loopback 127.0.0.1/8 when it comes up without an address.
      if (dev.kind() == DeviceKind::loopback &&
          std::none_of(ns->addresses.begin(), ns->addresses.end(),
                       [&](const InAddress& a) { return a.dev == &dev; })) {
        ns->addresses.push_back({&dev, Ipv4Prefix(Ipv4Address::loopback(), 8)});
        ns->refresh_local_filter();
      }
      for (const InAddress& a : ns->addresses) {
        if (a.dev == &dev) add_kernel_routes(*ns, a);
      }
      break;
    case NetdevEvent::down:
      remove_routes_through(*ns, dev);
      ns->neighbours.flush_device(dev);
      break;
    case NetdevEvent::unregistering:
      remove_device(net, *ns, dev);
      break;
    case NetdevEvent::registered:
    case NetdevEvent::mtu_changed:
    case NetdevEvent::address_changed:
      break;
    case NetdevEvent::inet_address_removed:
      return;  // sent by del_address itself, or by IPv6's
  }
  invalidate_routes(net);
}

void Ipv4Stack::invalidate_routes(Net& net) { route_cache().invalidate(net); }

void Ipv4Stack::remove_device(Net& net, Ipv4Net& ns, Device& dev) {
  std::erase_if(ns.addresses, [&](const InAddress& a) { return a.dev == &dev; });
  ns.refresh_local_filter();
  remove_routes_through(ns, dev);
  ns.neighbours.flush_device(dev);
  if (ns.extras) ns.extras->redirects.forget(dev);
  invalidate_routes(net);
}

// A device that goes down loses every route through it, static ones too
// (fib_sync_down_dev).
void Ipv4Stack::remove_routes_through(Ipv4Net& ns, Device& dev) {
  ns.main.remove_device(dev);
  ns.local.remove_device(dev);
}

// The routes an address brings while its device is up (fib_add_ifaddr):
// local, broadcast, and its subnet. One that exists already (a second
// address on the same subnet) is left as it is.
void Ipv4Stack::add_kernel_routes(Ipv4Net& ns, const InAddress& a) {
  Device& dev = *a.dev;
  if (!dev.is_up()) return;
  Ipv4Address local = a.prefix.address();
  Ipv4Prefix network(a.prefix.network(), a.prefix.length());
  bool loopback = dev.kind() == DeviceKind::loopback;
  (void)ns.local.insert({.prefix = Ipv4Prefix(local, 32), .type = RouteType::local, .dev = &dev,
                         .prefsrc = local, .scope = kScopeHost, .protocol = inet::kProtoKernel});
  if (loopback) {
    (void)ns.local.insert({.prefix = network, .type = RouteType::local, .dev = &dev,
                           .prefsrc = local, .scope = kScopeHost, .protocol = inet::kProtoKernel});
  }
  if (a.prefix.length() < 31) {
    (void)ns.local.insert({.prefix = Ipv4Prefix(a.prefix.broadcast(), 32), .type = RouteType::broadcast,
                           .dev = &dev, .prefsrc = local, .scope = kScopeLink, .protocol = inet::kProtoKernel});
  }
  if (!loopback && a.prefix.length() < 32) {
    (void)ns.main.insert({.prefix = network, .type = RouteType::unicast, .dev = &dev,
                          .prefsrc = local, .scope = kScopeLink, .protocol = inet::kProtoKernel});
  }
}

// What an address takes with it when deleted (fib_del_ifaddr,
// fib_sync_down_addr, fib_disable_ip): its kernel routes; every route that
// names it as the preferred source once no device has it; and, with the
// device's last address, every route through the device. Static routes
// through a device that keeps an address stay.
void Ipv4Stack::remove_address_routes(Ipv4Net& ns, Device& dev, Ipv4Address gone) {
  const bool still_local = std::any_of(ns.addresses.begin(), ns.addresses.end(),
                                       [&](const InAddress& a) { return a.prefix.address() == gone; });
  auto doomed = [&](const FibEntry& e) {
    if (e.prefsrc != gone) return false;
    return !still_local || (e.dev == &dev && e.protocol == inet::kProtoKernel);
  };
  ns.main.remove_if(doomed);
  ns.local.remove_if(doomed);
  const bool last = std::none_of(ns.addresses.begin(), ns.addresses.end(),
                                 [&](const InAddress& a) { return a.dev == &dev; });
  if (last) remove_routes_through(ns, dev);
  // A route the deleted address shared with another (the same subnet, or the
  // same local address on another device) was inserted under its name; the
  // survivors bring theirs back.
  for (const InAddress& a : ns.addresses) {
    if (a.dev == &dev || a.prefix.address() == gone) add_kernel_routes(ns, a);
  }
}

// ---- addresses ----

Result<void> Ipv4Stack::add_address(Net& net, Device& dev, Ipv4Prefix prefix) {
  if (&dev.net() != &net) return error(Errc::no_such_device);
  Ipv4Address a = prefix.address();
  if (a.is_unspecified() || a.is_multicast() || a.is_broadcast()) return error(Errc::invalid_argument);
  Ipv4Net& ns = state(net);
  for (const InAddress& existing : ns.addresses) {
    if (existing.dev == &dev && existing.prefix == prefix) return error(Errc::file_exists);
  }
  if (ns.addresses.size() >= kMaxAddresses) return error(Errc::no_buffer_space);
  ns.addresses.push_back({&dev, prefix});
  ns.local_filter |= Ipv4Net::local_filter_bits(ns.addresses.back());
  add_kernel_routes(ns, ns.addresses.back());
  invalidate_routes(net);
  return {};
}

Result<void> Ipv4Stack::del_address(Net& net, Device& dev, Ipv4Prefix prefix) {
  if (&dev.net() != &net) return error(Errc::no_such_device);
  Ipv4Net& ns = state(net);
  auto it = std::find_if(ns.addresses.begin(), ns.addresses.end(),
                         [&](const InAddress& a) { return a.dev == &dev && a.prefix == prefix; });
  if (it == ns.addresses.end()) return error(Errc::address_not_available);
  ns.addresses.erase(it);
  ns.refresh_local_filter();
  remove_address_routes(ns, dev, prefix.address());
  invalidate_routes(net);
  host_.notify(NetdevEvent::inet_address_removed, dev);
  return {};
}

const FibEntry* Ipv4Stack::local_route(Net& net, Ipv4Address address) {
  Ipv4Net* ns = slot_.find(net);
  return ns == nullptr ? nullptr : ns->local.lookup(address);
}

bool Ipv4Stack::is_local(Net& net, Ipv4Address address) {
  const FibEntry* e = local_route(net, address);
  return e != nullptr && e->type == RouteType::local;
}

bool Ipv4Stack::is_broadcast(Net& net, Ipv4Address address) {
  const FibEntry* e = local_route(net, address);
  return e != nullptr && e->type == RouteType::broadcast && e->prefix.length() == 32;
}

bool Ipv4Stack::is_broadcast_on(Net& net, const Device& dev, Ipv4Address address) {
  for (const InAddress& a : state(net).addresses) {
    if (a.dev == &dev && a.prefix.length() < 31 && a.prefix.broadcast() == address) return true;
  }
  return false;
}

Ipv4Address Ipv4Stack::solicit_source(Net& net, const Device& dev, Ipv4Address target) {
  return select_source(net, dev, target);
}

void Ipv4Stack::error_report(Net& net, const Packet& datagram) {
  send_icmp_error(net, datagram, wire::IcmpType::dest_unreachable,
                  static_cast<std::uint8_t>(wire::IcmpUnreachable::host));
}

Ipv4Address Ipv4Stack::select_source(Net& net, const Device& dev, Ipv4Address dst) {
  // inet_select_addr: an address of dev on dst's subnet, else dev's first,
  // else any non-loopback address of the namespace.
  const Ipv4Net& ns = state(net);
  const InAddress* first_on_dev = nullptr;
  for (const InAddress& a : ns.addresses) {
    if (a.dev != &dev) continue;
    if (a.prefix.contains(dst)) return a.prefix.address();
    if (first_on_dev == nullptr) first_on_dev = &a;
  }
  if (first_on_dev != nullptr) return first_on_dev->prefix.address();
  for (const InAddress& a : ns.addresses) {
    if (!a.prefix.address().is_loopback()) return a.prefix.address();
  }
  return {};
}

// ---- routes ----

Result<void> Ipv4Stack::add_route(Net& net, const RouteSpec& spec) {
  if (spec.dev != nullptr && &spec.dev->net() != &net) return error(Errc::no_such_device);
  Ipv4Net& ns = state(net);
  FibEntry e{.prefix = Ipv4Prefix(spec.prefix.network(), spec.prefix.length()),
             .type = spec.type, .dev = spec.dev, .metric = spec.metric,
             .scope = kScopeUniverse, .protocol = inet::kProtoStatic};
  switch (spec.type) {
    case RouteType::unicast:
      if (!spec.via && spec.dev == nullptr) return error(Errc::invalid_argument);
      if (spec.via) {
        // The gateway must be on a connected network (Linux: "Nexthop has invalid gateway").
        const FibEntry* link = ns.main.lookup(*spec.via);
        if (link == nullptr || link->type != RouteType::unicast || !link->gateway.is_unspecified() ||
            (spec.dev != nullptr && link->dev != spec.dev) || is_local(net, *spec.via)) {
          return error(Errc::network_unreachable);
        }
        e.dev = link->dev;
        e.gateway = *spec.via;
      } else {
        e.scope = kScopeLink;
      }
      if (!e.dev->is_up()) return error(Errc::network_down);
      break;
    case RouteType::blackhole:
    case RouteType::unreachable:
    case RouteType::prohibit:
      e.dev = nullptr;
      break;
    case RouteType::local:
    case RouteType::broadcast:
      return error(Errc::invalid_argument);  // the kernel's own, made from addresses
  }
  if (auto ok = ns.main.insert(e); !ok) return ok;
  invalidate_routes(net);
  return {};
}

Result<void> Ipv4Stack::del_route(Net& net, const RouteSpec& spec) {
  if (spec.dev != nullptr && &spec.dev->net() != &net) return error(Errc::no_such_device);
  FibEntry match{.prefix = Ipv4Prefix(spec.prefix.network(), spec.prefix.length()),
                 .type = spec.type, .dev = spec.dev, .metric = spec.metric};
  if (spec.via) match.gateway = *spec.via;
  if (auto ok = state(net).main.remove(match); !ok) return ok;
  invalidate_routes(net);
  return {};
}

Result<RouteResult> Ipv4Stack::resolve_route(Net& net, Ipv4Net& ns, Ipv4Address dst) {
  if (const FibEntry* e = ns.local.lookup(dst); e != nullptr && e->type == RouteType::local) {
    return RouteResult{&net.loopback(), dst, dst};  // to ourselves: through the loopback
  }
  const FibEntry* e = ns.main.lookup(dst);
  if (e == nullptr) return error(Errc::network_unreachable);
  switch (e->type) {
    case RouteType::unicast: break;
    case RouteType::blackhole: return error(Errc::invalid_argument);
    case RouteType::unreachable: return error(Errc::host_unreachable);
    case RouteType::prohibit: return error(Errc::permission_denied);
    case RouteType::local:
    case RouteType::broadcast: return error(Errc::network_unreachable);
  }
  if (e->dev == nullptr || !e->dev->is_up()) return error(Errc::network_unreachable);
  Ipv4Address next_hop = e->gateway.is_unspecified() ? dst : e->gateway;
  // A redirect accepted for this destination names a better gateway (rt_bind_exception).
  if (!e->gateway.is_unspecified() && ns.extras && !ns.extras->redirects.empty()) [[unlikely]] {
    if (auto better = ns.extras->redirects.lookup(dst, *e->dev, host_.now())) next_hop = *better;
  }
  Ipv4Address source = e->prefsrc.is_unspecified() ? select_source(net, *e->dev, next_hop) : e->prefsrc;
  return RouteResult{e->dev, next_hop, source};
}

Result<RouteResult> Ipv4Stack::route_output(Net& net, Ipv4Address dst) { return ipv4::route_output(net, dst); }

Result<RouteResult> Ipv4Stack::route_output_slow(Net& net, Ipv4Address dst) {
  RouteCache& cache = route_cache();
  Ipv4Net& ns = state(net);
  auto resolved = resolve_route(net, ns, dst);
  if (!resolved) return resolved;
  // A redirected destination is resolved each time, so its exception's
  // expiry takes effect without a cache entry outliving it.
  if (ns.extras && ns.extras->redirects.contains(dst)) [[unlikely]] return resolved;
  cache.insert(net, dst, {}, 0, 0, CachedRoute{resolved->dev, resolved->next_hop, resolved->source, 0});
  return resolved;
}

boost::system::error_code Ipv4Stack::no_route(Net& net, boost::system::error_code why) {
  if (why == error(Errc::network_unreachable)) net.counters().add(Counter::IpOutNoRoutes);
  return why;
}

Result<RouteResult> Ipv4Stack::route_output(Net& net, Ipv4Address dst, RouteMemo& memo) {
  std::uint64_t generation = route_cache().generation(net);
  if (generation != RouteCache::kNoGeneration && memo.generation == generation && memo.dst == dst) {
    return memo.route;
  }
  auto route = route_output(net, dst);
  if (route) memo = {dst, generation, *route};
  return route;
}

// ---- the public free functions ----

Result<void> add_address(Net& net, Device& dev, Ipv4Prefix prefix) {
  return net.host().builtins().ipv4().add_address(net, dev, prefix);
}
Result<void> del_address(Net& net, Device& dev, Ipv4Prefix prefix) {
  return net.host().builtins().ipv4().del_address(net, dev, prefix);
}
Result<void> add_route(Net& net, const RouteSpec& spec) {
  return net.host().builtins().ipv4().add_route(net, spec);
}
Result<void> del_route(Net& net, const RouteSpec& spec) {
  return net.host().builtins().ipv4().del_route(net, spec);
}
Result<RouteResult> route_output(Net& net, Ipv4Address dst) {
  // A hit is found from the namespace alone (RouteCache::builtin_lookup):
  // the Host is gone through only for a miss.
  if (const CachedRoute* hit = RouteCache::builtin_lookup(net, dst)) {
    return RouteResult{hit->dev, hit->next_hop, hit->source};
  }
  return net.host().builtins().ipv4().route_output_slow(net, dst);
}

RouteCacheStats route_cache_stats(Net& net) {
  Ipv4Stack& stack = net.host().builtins().ipv4();
  auto s = stack.route_cache().stats(net);
  return {s.entries, s.hits, s.misses, s.evictions, stack.martian_sources(net), stack.martian_destinations(net)};
}

Result<std::uint32_t> path_mtu(Net& net, Ipv4Address dst) {
  Ipv4Stack& stack = net.host().builtins().ipv4();
  auto route = stack.route_output(net, dst);
  if (!route) return route.error();
  return stack.path_mtu(net, dst, *route->dev).mtu;
}

NeighbourTableStats neighbour_table_stats(Net& net) {
  return net.host().builtins().ipv4().state(net).neighbours.stats();
}

std::vector<AddressInfo> addresses(Net& net) {
  std::vector<AddressInfo> out;
  for (const InAddress& a : net.host().builtins().ipv4().state(net).addresses) out.push_back({a.dev, a.prefix});
  return out;
}

std::vector<NeighbourInfo> neighbours(Net& net) {
  return net.host().builtins().ipv4().state(net).neighbours.list();
}

Result<void> add_neighbour(Net& net, Device& dev, Ipv4Address address, MacAddress mac) {
  if (&dev.net() != &net) return error(Errc::no_such_device);
  return net.host().builtins().ipv4().state(net).neighbours.add_permanent(dev, address, mac);
}

}  // namespace netns::ipv4
