// IPv4 ingress: validate, then deliver locally or forward.
//   process → process_ipv4 → deliver_local → process_icmp | Transport::deliver
//                          → forward → output_datagram
#include "core/route_cache.hpp"
#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"

namespace netns::ipv4 {

using wire::IcmpType;
using wire::IcmpUnreachable;

namespace {
std::uint8_t code(IcmpUnreachable c) { return static_cast<std::uint8_t>(c); }

// ip_rcv_core's distinction: a sound header whose total_length promises more
// than arrived is InTruncatedPkts; anything wrong with the header itself is InHdrErrors.
bool is_truncated(std::span<const std::byte> bytes) {
  if (bytes.size() < wire::Ipv4View::kMinHeaderLen) return false;
  std::size_t header_len = (std::to_integer<std::size_t>(bytes[0]) & 0x0f) * 4;
  std::size_t total = std::to_integer<std::size_t>(bytes[2]) << 8 | std::to_integer<std::size_t>(bytes[3]);
  return std::to_integer<unsigned>(bytes[0]) >> 4 == 4 && header_len >= wire::Ipv4View::kMinHeaderLen &&
         header_len <= bytes.size() && total >= header_len && total > bytes.size();
}
}  // namespace

void Ipv4Stack::process(Net& net, Device& dev, Packet frame) {
  Ipv4Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  process_ipv4(net, *ns, dev, std::move(frame));
}

void Ipv4Stack::process_ipv4(Net& net, Ipv4Net& ns, Device& dev, Packet&& packet) {
  Counters& c = net.counters();
  if (packet.type == PacketType::otherhost) {  // ip_rcv_core drops these before counting
    ++dev.mutable_stats().rx_otherhost_dropped;
    return;
  }
  c.add(Counter::IpInReceives);
  auto view = wire::Ipv4View::checked(packet.data());
  if (!view) {
    c.add(is_truncated(packet.data()) ? Counter::IpExtInTruncatedPkts : Counter::IpInHdrErrors);
    return;
  }
  if (!view->verify_checksum()) {
    c.add(Counter::IpExtInCsumErrors);
    c.add(Counter::IpInHdrErrors);
    return;
  }
  // The ping of death: a fragment reaching past the largest datagram.
  if (std::size_t{view->fragment_offset()} + view->total_length() > 0xffff) {
    c.add(Counter::IpInHdrErrors);
    return;
  }
  packet.trim(view->total_length());  // Ethernet padding is not ours
  c.add(Counter::IpExtInOctets, packet.size());
  Ipv4Address src = view->src(), dst = view->dst();
  if (src.is_multicast() || src.is_broadcast() || (src.is_loopback() && dev.kind() != DeviceKind::loopback)) {
    c.add(Counter::IpInAddrErrors);  // a martian source
    return;
  }
  if (dst.is_multicast()) {
    c.add(Counter::IpExtInMcastPkts);
    c.add(Counter::IpInDiscards);  // no multicast sockets yet
    return;
  }
  const FibEntry* local = ns.local.lookup(dst);
  const bool broadcast = dst.is_broadcast() || (local != nullptr && local->prefix.length() == 32 &&
                                                  local->type == RouteType::broadcast);
  if (broadcast) {
    c.add(Counter::IpExtInBcastPkts);
    deliver_local(net, ns, dev, std::move(packet), true);
  } else if (local != nullptr && local->type == RouteType::local) {
    deliver_local(net, ns, dev, std::move(packet), false);
  } else {
    forward(net, ns, dev, std::move(packet));
  }
}

void Ipv4Stack::deliver_local(Net& net, Ipv4Net& ns, Device& dev, Packet packet, bool broadcast) {
  auto view = wire::Ipv4View::checked(packet.data());
  if (view->is_fragment()) {
    std::optional<Packet> whole = ns.fragments(*this).add(std::move(packet));
    if (!whole) return;
    packet = std::move(*whole);
    view = wire::Ipv4View::checked(packet.data());
    if (!view) return;
  }
  InputMeta meta{&dev, view->src(), view->dst(), view->ttl(), view->tos(), broadcast};
  meta.header_len = view->header_len();
  auto protocol = static_cast<std::uint8_t>(view->protocol());
  std::size_t header_len = view->header_len();
  Transport* transport = transports_[protocol];
  if (view->protocol() != wire::IpProtocol::icmp && transport == nullptr) {
    net.counters().add(Counter::IpInUnknownProtos);
    if (!broadcast) send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::protocol));
    return;
  }
  net.counters().add(Counter::IpInDelivers);
  packet.pull_front(header_len);
  if (view->protocol() == wire::IpProtocol::icmp) {
    process_icmp(net, ns, std::move(packet), meta);
  } else {
    transport->deliver(net, std::move(packet), meta);
  }
}

void Ipv4Stack::forward(Net& net, Ipv4Net& ns, Device& /*in*/, Packet&& packet) {
  Counters& c = net.counters();
  if (packet.type != PacketType::host) return;  // ip_forward: only frames sent to us
  if (net.sysctl().value(SysctlId::ip_forward) == 0) {
    // ip_route_input_slow without forwarding: EHOSTUNREACH through ip_error.
    c.add(Counter::IpInAddrErrors);
    send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::host));
    return;
  }
  auto view = wire::Ipv4View::checked(packet.data());
  const FibEntry* route = ns.main.lookup(view->dst());
  if (route == nullptr || (route->type == RouteType::unicast && (route->dev == nullptr || !route->dev->is_up()))) {
    c.add(Counter::IpExtInNoRoutes);
    send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::net));
    return;
  }
  switch (route->type) {
    case RouteType::unicast: break;
    case RouteType::blackhole: return;  // dst_discard: silently
    case RouteType::unreachable:
      c.add(Counter::IpInAddrErrors);
      send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::host));
      return;
    case RouteType::prohibit:
      send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::admin_prohibited));
      return;
    case RouteType::local:
    case RouteType::broadcast: return;
  }
  if (view->ttl() <= 1) {
    c.add(Counter::IpInHdrErrors);
    send_icmp_error(net, packet, IcmpType::time_exceeded,
                    static_cast<std::uint8_t>(wire::IcmpTimeExceeded::ttl));
    return;
  }
  Device& out = *route->dev;
  if (view->dont_fragment() && packet.size() > out.mtu()) {
    c.add(Counter::IpFragFails);
    send_icmp_error(net, packet, IcmpType::dest_unreachable, code(IcmpUnreachable::frag_needed),
                    out.mtu());
    return;
  }
  // The one write forwarding makes: TTL and checksum, in place (no copy unless shared).
  auto writable = wire::Ipv4MutView::checked(packet.mutable_data());
  writable->decrement_ttl();
  c.add(Counter::IpForwDatagrams);
  Ipv4Address next_hop = route->gateway.is_unspecified() ? view->dst() : route->gateway;
  packet.device = nullptr;
  output_datagram(net, std::move(packet), out, next_hop);
}

}  // namespace netns::ipv4
