// Router discovery on a host (RFC 4861 6.3, Linux's ndisc_router_discovery,
// addrconf_rs_timer and rt6_add_dflt_router): router solicitations once a
// device's link-local address is usable, router advertisements taken in
// (default routes, hop limit, MTU, NDP times, the router's link-layer
// address, prefixes for slaac.cpp), and the expiry of the routes they made.
#include <algorithm>

#include "core/route_cache.hpp"
#include "inet/route_protocol.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/fib6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"

namespace netns::ipv6 {

namespace {
constexpr std::uint32_t kDefaultRouterMetric = 1024;  // IP6_RT_PRIO_USER, as rt6_add_dflt_router
// Default routers one device keeps from RAs; a further router is ignored
// until one of them goes (Linux bounds them only by memory).
constexpr std::size_t kMaxDefaultRouters = 16;
// MAX_RTR_SOLICITATION_DELAY (RFC 4861 10): before the first solicitation.
constexpr std::uint64_t kMaxSolicitDelayUs = 1'000'000;
// ndisc_router_discovery's floor for the RA's NDP times (HZ/10).
constexpr std::uint32_t kMinNdpTimeMs = 100;

Fib6Entry default_route(Device& dev, const Ipv6Address& router) {
  return {.prefix = Ipv6Prefix(Ipv6Address::any(), 0), .via = router.with_scope(0), .dev = &dev,
          .metric = kDefaultRouterMetric, .protocol = inet::kProtoRa};
}
}  // namespace

const Inet6Address* Ipv6Net::link_local(const Device& dev) const {
  for (const auto& a : addresses) {
    if (a->dev == &dev && a->usable() && a->prefix.address().is_link_local()) return a.get();
  }
  return nullptr;
}

NdiscDevice* Ipv6Stack::ndisc_device(Ipv6Net& ns, Device& dev) {
  Net& net = ns.net;
  if (!ns.ndisc) ns.ndisc = std::make_unique<Ipv6Net::Ndisc>(host_, [this, &net] { expire_routes(net); });
  if (NdiscDevice* nd = ns.ndisc->find(dev)) return nd;
  // One per device of the namespace: bounded by its devices.
  ns.ndisc->devices.push_back(std::make_unique<NdiscDevice>(
      host_, dev, [this, &net](NdiscDevice& nd) { on_rs_timer(net, nd); },
      [this, &net](NdiscDevice& nd) { on_advert_timer(net, nd); }));
  return ns.ndisc->devices.back().get();
}

// ---- solicitations (addrconf_dad_completed, addrconf_rs_timer) ----

void Ipv6Stack::link_local_ready(Ipv6Net& ns, Device& dev) {
  const DevConf6 conf = devconf(ns.net, dev);
  NdiscDevice* nd = ns.ndisc ? ns.ndisc->find(dev) : nullptr;
  if (nd != nullptr && nd->advert) {
    nd->initial_adverts = 0;
    schedule_solicited_advert(*nd);
  }
  if (!accepts_ra(conf) || conf.router_solicitations == 0) return;
  if (nd == nullptr) nd = ndisc_device(ns, dev);
  nd->rs_sent = 0;
  nd->ra_received = false;
  // RFC 4861 6.3.7: a random delay first, so that hosts that came up
  // together do not solicit together.
  nd->rs_timer.schedule(host_.now() + std::chrono::microseconds(host_.next_random() % kMaxSolicitDelayUs));
}

void Ipv6Stack::on_rs_timer(Net& net, NdiscDevice& nd) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr || nd.ra_received || !nd.dev->is_up()) return;
  const DevConf6 conf = devconf(net, *nd.dev);
  if (!accepts_ra(conf) || nd.rs_sent >= conf.router_solicitations) return;
  send_router_solicit(net, *ns, *nd.dev);
  if (++nd.rs_sent < conf.router_solicitations) {
    nd.rs_timer.schedule(host_.now() + std::chrono::seconds(conf.router_solicitation_interval));
  }
}

// ndisc_send_rs: from the link-local address with the source link-layer
// option, or from :: without it while no address is usable (RFC 4861 6.3.7).
void Ipv6Stack::send_router_solicit(Net& net, Ipv6Net& ns, Device& dev) {
  const Inet6Address* ll = ns.link_local(dev);
  const Ipv6Address src = ll != nullptr ? ll->prefix.address() : Ipv6Address::any();
  wire::RouterSolicitRepr rs;
  if (ll != nullptr) rs.source_link = dev.mac();
  Packet message = host_.packets().allocate(rs.buffer_len());
  if (!message) return;
  rs.emit(message.mutable_data(), src, wire::kAllRouters);
  send_ndisc(net, dev, src, wire::kAllRouters, std::move(message));
}

void Ipv6Stack::send_ndisc(Net& net, Device& dev, const Ipv6Address& src, const Ipv6Address& dst, Packet message) {
  count_icmp6_out(net, wire::load_u8(message.data(), 0));
  (void)send(net, std::move(message),
             {.src = src, .dst = dst, .next_header = wire::IpProtocol::icmpv6, .hop_limit = wire::kNdpHopLimit},
             RouteResult{&dev, dst, src});
}

// ---- solicitations heard (ndisc_recv_rs) ----

void Ipv6Stack::process_router_solicit(Net& net, Ipv6Net& ns, Device& dev, const wire::Ipv6View& ip,
                                       std::span<const std::byte> message) {
  auto rs = wire::validate_router_solicit(ip, message);
  if (!rs || (rs->source_link && rs->source_link->is_multicast())) {
    net.counters().add(Counter::Icmp6InErrors);
    return;
  }
  NdiscDevice* nd = ns.ndisc ? ns.ndisc->find(dev) : nullptr;
  const bool advertising = nd != nullptr && nd->advert;
  // Hosts ignore solicitations (RFC 4861 6.2.6 is a router's).
  if (!advertising && !devconf(net, dev).forwarding) return;
  // A soliciting host is no router: its entry loses the flag (6.2.6).
  if (rs->source_link) ns.neighbours().learn_sender(dev, ip.src(), *rs->source_link, false);
  if (advertising) schedule_solicited_advert(*nd);
}

// ---- advertisements heard (ndisc_router_discovery) ----

void Ipv6Stack::process_router_advert(Net& net, Ipv6Net& ns, Device& dev, const wire::Ipv6View& ip,
                                      std::span<const std::byte> message) {
  auto ra = wire::validate_router_advert(ip, message);
  if (!ra || (ra->source_link && ra->source_link->is_multicast())) {
    net.counters().add(Counter::Icmp6InErrors);
    return;
  }
  if (dev.kind() == DeviceKind::loopback) return;
  const DevConf6 conf = devconf(net, dev);
  if (!accepts_ra(conf)) return;
  const Ipv6Address router = ip.src();
  // Our own advertisement looped back (accept_ra_from_local 0).
  if (ns.local_address(router, &dev) != nullptr) return;
  NdiscDevice* nd = ndisc_device(ns, dev);
  nd->ra_received = true;
  nd->rs_timer.cancel();
  update_default_router(ns, dev, router, ra->router_lifetime);
  if (ra->cur_hop_limit != 0) nd->learned.hop_limit = ra->cur_hop_limit;
  if (ra->reachable_time != 0) nd->learned.reachable_time_ms = std::max(ra->reachable_time, kMinNdpTimeMs);
  if (ra->retrans_timer != 0) nd->learned.retrans_time_ms = std::max(ra->retrans_timer, kMinNdpTimeMs);
  // The router is a neighbour heard of (STALE) and a router (6.3.4).
  if (ra->source_link) ns.neighbours().learn_sender(dev, router, *ra->source_link, true);
  for (const auto& prefix : ra->prefixes) process_prefix_info(ns, *nd, prefix, conf);
  // An MTU the link cannot carry, or below IPv6's minimum, is ignored.
  if (ra->mtu && *ra->mtu >= kMinMtu && *ra->mtu <= dev.mtu() && nd->learned.mtu != *ra->mtu) {
    nd->learned.mtu = *ra->mtu;
    route_cache_invalidate(net);
  }
}

// rt6_get_dflt_router / rt6_add_dflt_router: one default route per router
// and device, lifetime 0 removing it, every RA restarting its expiry.
void Ipv6Stack::update_default_router(Ipv6Net& ns, Device& dev, const Ipv6Address& router, std::uint16_t lifetime) {
  const Fib6Entry route = default_route(dev, router);
  const bool present = ns.routes.find(route) != nullptr;
  if (lifetime == 0) {
    if (present && ns.routes.erase(route)) route_cache_invalidate(ns.net);
    return;
  }
  const auto expires = host_.now() + std::chrono::seconds(lifetime);
  if (present) {
    ns.routes.set_expires(route, expires);
  } else {
    std::size_t routers = 0;
    ns.routes.for_each([&](const Fib6Entry& e) {
      routers += e.dev == &dev && e.protocol == inet::kProtoRa && e.prefix.length() == 0 ? 1 : 0;
    });
    if (routers >= kMaxDefaultRouters) return;
    Fib6Entry added = route;
    added.expires = expires;
    // file_exists: the same route by hand (proto static) is left as it is.
    if (!ns.routes.insert(added)) return;
    route_cache_invalidate(ns.net);
  }
  schedule_route_expiry(ns);
}

// One timer per namespace, at the earliest expiry of a route RAs made.
void Ipv6Stack::schedule_route_expiry(Ipv6Net& ns) {
  if (!ns.ndisc) return;
  std::optional<Clock::time_point> first;
  ns.routes.for_each([&](const Fib6Entry& e) {
    if (e.expires && (!first || *e.expires < *first)) first = e.expires;
  });
  if (first) ns.ndisc->route_expiry.schedule(*first);
  else ns.ndisc->route_expiry.cancel();
}

void Ipv6Stack::expire_routes(Net& net) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  const auto now = host_.now();
  if (ns->routes.remove_if([&](const Fib6Entry& e) { return e.expires && *e.expires <= now; }) > 0) {
    for (auto& nd : ns->ndisc->devices) {
      std::erase_if(nd->onlink, [&](const Ipv6Prefix& p) {
        return ns->routes.find({.prefix = p, .dev = nd->dev, .metric = 0}) == nullptr;
      });
    }
    route_cache_invalidate(net);
  }
  schedule_route_expiry(*ns);
}

// addrconf_ifdown: solicitations stop and start again on the next up;
// routes and addresses went with the device. A device that is gone takes
// its state along; an advertiser waits for the device to come up.
void Ipv6Stack::ndisc_device_down(Ipv6Net& ns, Device& dev, bool gone) {
  NdiscDevice* nd = ns.ndisc ? ns.ndisc->find(dev) : nullptr;
  if (nd == nullptr) return;
  nd->rs_timer.cancel();
  nd->advert_timer.cancel();
  nd->rs_sent = 0;
  nd->ra_received = false;
  nd->onlink.clear();
  if (gone) std::erase_if(ns.ndisc->devices, [&](const auto& p) { return p.get() == nd; });
  schedule_route_expiry(ns);
}

std::optional<RouterDiscoveryInfo> Ipv6Stack::router_discovery(Net& net, const Device& dev) {
  Ipv6Net* ns = slot_.find(net);
  const NdiscDevice* nd = ns != nullptr && ns->ndisc ? ns->ndisc->find(dev) : nullptr;
  if (nd == nullptr) return std::nullopt;
  RouterDiscoveryInfo info = nd->learned;
  info.solicitations_sent = nd->rs_sent;
  info.advert_received = nd->ra_received;
  info.advertising = nd->advert.has_value();
  return info;
}

std::optional<RouterDiscoveryInfo> router_discovery(Net& net, const Device& dev) {
  return net.host().builtins().ipv6().router_discovery(net, dev);
}

Ipv6NeighbourLayer::NdpTimes Ipv6Stack::advertised_ndp_times(Net& net, const Device& dev) {
  Ipv6Net* ns = slot_.find(net);
  const NdiscDevice* nd = ns != nullptr && ns->ndisc ? ns->ndisc->find(dev) : nullptr;
  if (nd == nullptr) return {};
  return {.base_reachable_ms = nd->learned.reachable_time_ms, .retrans_ms = nd->learned.retrans_time_ms};
}

}  // namespace netns::ipv6
