// NDP on the shared neighbour machinery (neigh/table_impl.hpp).
#include "ipv6/neighbour6.hpp"

#include <algorithm>
#include <limits>

#include "ipv6/stack.hpp"  // count_icmp6_out
#include "neigh/table_impl.hpp"
#include "netns/host.hpp"

namespace netns::neigh {
template class Table<ipv6::NeighbourTable, ipv6::NdpFamily>;
}

namespace netns::ipv6 {

namespace {
// A time a router advertised (ms, 0 for none) as the table reads it, else the sysctl's.
std::int32_t advertised_or(std::uint32_t advertised, std::int32_t sysctl) {
  if (advertised == 0) return sysctl;
  return static_cast<std::int32_t>(std::min<std::uint32_t>(advertised, std::numeric_limits<std::int32_t>::max()));
}
}  // namespace

std::size_t NdpFamily::KeyHash::operator()(const Key& k) const {
  std::array<std::byte, 20> bytes{};
  wire::store_be32(bytes, 0, static_cast<std::uint32_t>(k.high >> 32));
  wire::store_be32(bytes, 4, static_cast<std::uint32_t>(k.high));
  wire::store_be32(bytes, 8, static_cast<std::uint32_t>(k.low >> 32));
  wire::store_be32(bytes, 12, static_cast<std::uint32_t>(k.low));
  wire::store_be32(bytes, 16, k.ifindex);
  return siphash13(sip, bytes);
}

NeighbourTable::NeighbourTable(Net& net, Ipv6NeighbourLayer& layer) : Table(net), layer_(layer) {}

bool NeighbourTable::resolve_unlisted(Device&, const Ipv6Address& address, MacAddress& mac) {
  if (!address.is_multicast()) return false;
  mac = wire::ipv6_multicast_mac(address);
  return true;
}

template <class Repr>
Packet NeighbourTable::build(const Ipv6Address& src, const Ipv6Address& dst, const Repr& repr) {
  const std::size_t len = repr.buffer_len();
  Packet p = net_.host().packets().allocate(wire::Ipv6Repr::kHeaderLen + len);
  if (!p) return p;
  auto bytes = p.mutable_data();
  wire::Ipv6Repr{.src = src, .dst = dst, .next_header = wire::IpProtocol::icmpv6,
                 .hop_limit = wire::kNdpHopLimit, .payload_len = len}
      .emit(bytes);
  repr.emit(bytes.subspan(wire::Ipv6Repr::kHeaderLen), src, dst);
  return p;
}

// ndisc_solicit: to the solicited-node group, or, probing, to the address
// itself at the MAC the entry holds.
std::int32_t NeighbourTable::base_reachable_time_ms(const Device& dev) const {
  return advertised_or(layer_.advertised_ndp_times(net_, dev).base_reachable_ms,
                       knob(NdpFamily::kKnobs.base_reachable_time_ms));
}

std::int32_t NeighbourTable::retrans_time_ms(const Device& dev) const {
  return advertised_or(layer_.advertised_ndp_times(net_, dev).retrans_ms, knob(NdpFamily::kKnobs.retrans_time_ms));
}

void NeighbourTable::solicit(Entry& e, bool unicast) {
  const Ipv6Address src = layer_.solicit_source(net_, *e.dev, e.address);
  wire::NeighbourSolicitRepr ns{.target = e.address};
  // RFC 4861 7.2.2: from :: the option must not be sent.
  if (!src.is_unspecified()) ns.source_link = e.dev->mac();
  const Ipv6Address dst = unicast ? e.address : e.address.solicited_node();
  Packet p = build(src, dst, ns);
  if (!p || !layer_.local_out(net_, *e.dev, p)) return;
  count_icmp6_out(net_, static_cast<std::uint8_t>(wire::NdpType::neighbour_solicit));
  transmit(*e.dev, unicast ? e.mac : wire::ipv6_multicast_mac(dst), std::move(p));
}

void NeighbourTable::send_dad_probe(Device& dev, const Ipv6Address& tentative) {
  const Ipv6Address dst = tentative.solicited_node();
  Packet p = build(Ipv6Address::any(), dst, wire::NeighbourSolicitRepr{.target = tentative});
  if (!p || !layer_.local_out(net_, dev, p)) return;
  count_icmp6_out(net_, static_cast<std::uint8_t>(wire::NdpType::neighbour_solicit));
  transmit(dev, wire::ipv6_multicast_mac(dst), std::move(p));
}

void NeighbourTable::send_unsolicited_na(Device& dev, const Ipv6Address& address) {
  send_advert(dev, wire::kAllNodes,
              {.target = address, .router = layer_.is_router(net_, dev),
               .override = !layer_.is_anycast(net_, dev, address), .target_link = dev.mac()});
}

void NeighbourTable::send_redirect(Device& dev, const Ipv6Address& own, const Ipv6Address& to,
                                   const Ipv6Address& target, const Ipv6Address& destination,
                                   std::span<const std::byte> datagram) {
  wire::RedirectRepr redirect{.target = target, .destination = destination};
  const Entry* e = lookup(dev, target);
  if (e != nullptr && e->state != NeighbourState::incomplete && e->state != NeighbourState::failed) {
    redirect.target_link = e->mac;  // NUD_VALID
  }
  // IPV6_MIN_MTU less the IPv6 header, the fixed part and the options
  // before; the option's own 8 bytes come out of the rest.
  const std::size_t room = wire::kIpv6MinMtu - wire::Ipv6Repr::kHeaderLen - 40 - (redirect.target_link ? 8 : 0);
  const std::size_t option_len = std::min(room, datagram.size() + 8) & ~std::size_t{7};
  redirect.redirected_header = datagram.first(option_len - 8);
  Packet p = build(own, to, redirect);
  if (!p || !layer_.local_out(net_, dev, p)) return;
  count_icmp6_out(net_, static_cast<std::uint8_t>(wire::NdpType::redirect));
  output(dev, to, std::move(p));
}

// The advertisement's source is its target, an address of ours; a unicast
// destination is resolved as any datagram's next hop.
void NeighbourTable::send_advert(Device& dev, const Ipv6Address& dst, const wire::NeighbourAdvertRepr& na) {
  Packet p = build(na.target, dst, na);
  if (!p || !layer_.local_out(net_, dev, p)) return;
  count_icmp6_out(net_, static_cast<std::uint8_t>(wire::NdpType::neighbour_advert));
  output(dev, dst, std::move(p));
}

void NeighbourTable::process_ndp(Device& dev, const wire::Ipv6View& ip, Packet message) {
  const auto bytes = message.data();
  if (bytes.empty()) return;
  const auto type = wire::NdpType{static_cast<std::uint8_t>(bytes[0])};
  if (type != wire::NdpType::neighbour_solicit && type != wire::NdpType::neighbour_advert) return;
  auto& counters = net_.counters();
  if (!wire::icmpv6_checksum_ok(ip.src(), ip.dst(), bytes)) {
    counters.add(Counter::Icmp6InCsumErrors);
    counters.add(Counter::Icmp6InErrors);
    return;
  }
  if (type == wire::NdpType::neighbour_solicit) {
    counters.add(Counter::Icmp6InNeighborSolicits);
    auto ns = wire::validate_neighbour_solicit(ip, bytes);
    if (!ns || (ns->source_link && ns->source_link->is_multicast())) {
      counters.add(Counter::Icmp6InErrors);
      return;
    }
    if (dev.kind() != DeviceKind::loopback) process_solicit(dev, ip, *ns);
  } else {
    counters.add(Counter::Icmp6InNeighborAdvertisements);
    auto na = wire::validate_neighbour_advert(ip, bytes);
    if (!na || (na->target_link && na->target_link->is_multicast())) {
      counters.add(Counter::Icmp6InErrors);
      return;
    }
    if (dev.kind() != DeviceKind::loopback) process_advert(dev, *na);
  }
}

// ndisc_recv_ns.
void NeighbourTable::process_solicit(Device& dev, const wire::Ipv6View& ip, const wire::NeighbourSolicitRepr& ns) {
  const bool dad = ip.src().is_unspecified();
  if (layer_.is_tentative(net_, dev, ns.target)) {
    // Another node probes for the address we are probing for: neither may
    // have it (RFC 4862 5.4.3). A resolution for it is not answered yet.
    if (dad) layer_.dad_conflict(net_, dev, ns.target);
    return;
  }
  if (!layer_.is_local(net_, dev, ns.target)) return;
  const bool anycast = layer_.is_anycast(net_, dev, ns.target);
  const bool router = layer_.is_router(net_, dev);
  if (dad) {  // the prober has no address yet: tell every node
    send_advert(dev, wire::kAllNodes,
                {.target = ns.target, .router = router, .override = !anycast, .target_link = dev.mac()});
    return;
  }
  if (ns.source_link) learn(dev, ip.src(), *ns.source_link);
  const bool multicast = ip.dst().is_multicast();
  wire::NeighbourAdvertRepr na{.target = ns.target, .router = router, .solicited = true,
                               .override = !anycast && multicast};
  if (multicast) na.target_link = dev.mac();
  send_advert(dev, ip.src(), na);
}

// neigh_event_ns: a sender heard of is STALE at its address, unless the
// entry already holds that address (then nothing changes, as neigh_update
// keeps a valid state for the same address).
void NeighbourTable::learn(Device& dev, const Ipv6Address& address, MacAddress mac) {
  Entry* e = lookup(dev, address);
  if (e == nullptr) e = create(dev, address, NeighbourState::stale);
  if (e == nullptr) return;  // the table is full: counted as table_fulls
  if (e->state == NeighbourState::incomplete || e->mac != mac) update(*e, mac, NeighbourState::stale);
}

void NeighbourTable::learn_sender(Device& dev, const Ipv6Address& address, MacAddress mac, bool router) {
  if (dev.kind() == DeviceKind::loopback || mac.is_multicast() || !NdpFamily::valid_neighbour(address)) return;
  learn(dev, address, mac);
  if (Entry* e = lookup(dev, address); e != nullptr && e->state != NeighbourState::permanent) set_router(*e, router);
}

void NeighbourTable::set_router(Entry& e, bool router) {
  const bool lost = e.router && !router;
  e.router = router;
  if (lost) layer_.router_lost(net_, *e.dev, e.address);
}

// ndisc_recv_na and neigh_update's rules for an advertisement.
void NeighbourTable::process_advert(Device& dev, const wire::NeighbourAdvertRepr& na) {
  if (layer_.is_tentative(net_, dev, na.target)) {
    layer_.dad_conflict(net_, dev, na.target);  // someone else holds it (RFC 4862 5.4.4)
    return;
  }
  if (layer_.is_local(net_, dev, na.target)) return;  // someone advertises our address: ignored
  Entry* e = lookup(dev, na.target);
  if (e == nullptr || e->state == NeighbourState::permanent) return;  // nothing is created from an NA
  const NeighbourState confirmed = na.solicited ? NeighbourState::reachable : NeighbourState::stale;
  if (e->state == NeighbourState::incomplete) {
    if (!na.target_link) return;
    update(*e, *na.target_link, confirmed);
    set_router(*e, na.router);
    return;
  }
  const MacAddress mac = na.target_link.value_or(e->mac);
  if (mac != e->mac && !na.override) {
    // Not allowed to change the address: a confirmed entry is doubted, nothing more.
    if (e->state == NeighbourState::reachable) {
      set_state(*e, NeighbourState::stale);
      e->timer.schedule(net_.host().now() + std::chrono::seconds(knob(NdpFamily::kKnobs.gc_stale_time)));
    }
    return;
  }
  if (mac != e->mac || confirmed == NeighbourState::reachable) update(*e, mac, confirmed);
  set_router(*e, na.router);
}

std::string NeighbourTable::dump() const {
  std::string out;
  for (const NeighbourInfo& n : list()) {
    out += neigh::format_neighbour(n.address.to_string(), *n.dev, n.mac, n.state, n.router);
  }
  return out;
}

}  // namespace netns::ipv6
