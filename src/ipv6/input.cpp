// IPv6 ingress (Linux's ip6_input.c): header checks, then local delivery
// or forwarding.
//   process → process_ipv6 → deliver_local → process_icmp6 | Transport::deliver
#include <optional>

#include "ipv6/devconf6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv6_ext.hpp"
#include "netns/wire/ndp.hpp"

namespace netns::ipv6 {

namespace {
// ip6_rcv_core's distinction: a sound fixed header whose payload length
// promises more than arrived is InTruncatedPkts; anything else InHdrErrors.
bool is_truncated(std::span<const std::byte> bytes) {
  return bytes.size() >= wire::Ipv6View::kHeaderLen && (std::to_integer<unsigned>(bytes[0]) >> 4) == 6;
}

// ff01::1, all nodes on this interface: only the loopback carries it.
constexpr Ipv6Address kAllNodesInterfaceLocal(0xff01, 0, 0, 0, 0, 0, 0, 1);

// The upper layer's protocol when it comes right at `from`, as in most
// datagrams; nullopt when an extension header (or nothing sound) is there.
std::optional<std::uint8_t> upper_layer_at(const wire::Ipv6View& ip, wire::Ipv6ExtPosition from) {
  const auto bytes = ip.bytes();
  if (from.nhoff >= bytes.size() || from.offset > bytes.size()) return std::nullopt;
  const std::uint8_t next = wire::load_u8(bytes, from.nhoff);
  if (wire::is_ipv6_extension_header(next)) return std::nullopt;
  return next;
}

}  // namespace

bool Ipv6Stack::prefetches(Net& net) {
  const Ipv6Net* ns = slot_.find(net);
  return ns != nullptr && ns->hooks.prefetches(netfilter::Hook::prerouting);
}

void Ipv6Stack::prefetch(Net& net, Device&, std::span<const std::byte> frame) {
  const Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr || !ns->hooks.prefetches(netfilter::Hook::prerouting)) return;
  ns->hooks.prefetch(netfilter::Hook::prerouting, net, frame.subspan(wire::EthernetView::kHeaderLen));
}

void Ipv6Stack::process(Net& net, Device& dev, Packet frame) {
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  process_ipv6(net, *ns, dev, std::move(frame));
}

void Ipv6Stack::process_ipv6(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet) {
  Counters& c = net.counters();
  if (packet.type == PacketType::otherhost) {
    ++dev.mutable_stats().rx_otherhost_dropped;
    return;
  }
  c.add(Counter::Ip6InReceives);
  if (ipv6_disabled(dev)) {
    c.add(Counter::Ip6InDiscards);
    return;
  }
  auto view = wire::Ipv6View::checked(packet.data());
  if (!view) {
    c.add(view.error() == Errc::message_size && is_truncated(packet.data()) ? Counter::Ip6InTruncatedPkts
                                                                             : Counter::Ip6InHdrErrors);
    return;
  }
  static_assert(static_cast<int>(Counter::Ip6InCEPkts) - static_cast<int>(Counter::Ip6InNoECTPkts) == 3);
  c.add(static_cast<Counter>(static_cast<int>(Counter::Ip6InNoECTPkts) + static_cast<int>(view->ecn())));
  packet.trim(view->bytes().size());  // link padding is not ours
  c.add(Counter::Ip6InOctets, packet.size());
  const Ipv6Address src = view->src(), dst = view->dst();
  const bool loopback = dev.kind() == DeviceKind::loopback;
  // ip6_rcv_core's refusals: a multicast source (RFC 4291 2.7), the loopback
  // address off the loopback (RFC 4291 2.5.3), interface-local multicast
  // off it, and multicast of scope 0. A v4-mapped source passes: Linux
  // refused it here for a while, then kept the refusal for TCP's SYNs
  // alone (tcp_v6_conn_request, ListenSocket::process_syn); 6.18 delivers
  // an echo from one (LinuxProbes6).
  if (src.is_multicast() || (!loopback && (src.is_loopback() || dst.is_loopback())) ||
      (dst.is_multicast() && (dst.bytes()[1] & 0x0f) == 0) ||
      (!loopback && dst.is_multicast() && (dst.bytes()[1] & 0x0f) == 1)) {
    c.add(Counter::Ip6InHdrErrors);
    return;
  }
  // Hop-by-hop options are every node's, forwarded datagrams' too (RFC 8200 4.3).
  const wire::Ipv6ExtContext context{.link_multicast = packet.type == PacketType::multicast ||
                                                       packet.type == PacketType::broadcast};
  wire::Ipv6ExtPosition from{};
  if (view->next_header() == static_cast<std::uint8_t>(wire::IpProtocol::hop_by_hop)) {
    const auto hbh = wire::process_hop_by_hop(*view, context);
    if (hbh.verdict != wire::Ipv6ExtVerdict::ok) {
      drop_extension(net, packet, hbh);
      return;
    }
    from = hbh.next();
  }
  if (ns.active_hooks.active(netfilter::Hook::prerouting)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::prerouting, packet, &dev, nullptr)) return;
    auto after = wire::Ipv6View::checked(packet.data());  // NAT may have rewritten it, defrag made it whole
    if (!after) return;
    receive_finish(net, ns, dev, std::move(packet), *after, from, context);
    return;
  }
  receive_finish(net, ns, dev, std::move(packet), *view, from, context);
}

// ip6_rcv_finish: where a datagram goes once prerouting let it on.
void Ipv6Stack::receive_finish(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet, const wire::Ipv6View& ip,
                               wire::Ipv6ExtPosition from, const wire::Ipv6ExtContext& context) {
  Counters& c = net.counters();
  const Ipv6Address dst = ip.dst();
  if (dst.is_multicast()) {
    c.add(Counter::Ip6InMcastPkts);
    c.add(Counter::Ip6InMcastOctets, packet.size());
    // A group no socket of ours joined (another node's MLD report, say):
    // ip6_mc_input frees it without a counter.
    if (!accepts_multicast(ns, dev, dst)) return;
    deliver_local(net, ns, dev, std::move(packet), ip, from, context, true);
    return;
  }
  // The weak host model, as Linux: an address of any device is ours.
  if (ns.local_address(dst) != nullptr) {
    deliver_local(net, ns, dev, std::move(packet), ip, from, context, false);
    return;
  }
  forward(net, ns, dev, std::move(packet), ip);
}

bool Ipv6Stack::accepts_multicast(Ipv6Net& ns, const Device& dev, const Ipv6Address& dst) {
  if (dst == wire::kAllNodes || dst == kAllNodesInterfaceLocal) return true;
  // A router listens there, and so does an advertising device, as radvd joins ff02::2.
  if (dst == wire::kAllRouters) {
    if (acts_as_router(dev)) return true;
    const NdiscDevice* nd = ns.ndisc ? ns.ndisc->find(dev) : nullptr;
    return nd != nullptr && nd->advert;
  }
  // The solicited-node group of any address of dev, tentative ones
  // included (DAD listens there, RFC 4862 5.4.2).
  for (const auto& a : ns.addresses) {
    if (a->dev == &dev && a->prefix.address().solicited_node() == dst) return true;
  }
  return false;
}

// A datagram the extension-header walk refused: counted as Linux counts it,
// and answered with a parameter problem where RFC 8200 asks for one.
void Ipv6Stack::drop_extension(Net& net, const Packet& packet, const wire::Ipv6ExtResult& verdict) {
  Counters& c = net.counters();
  switch (verdict.counter) {
    case wire::Ipv6ExtCounter::in_hdr_errors: c.add(Counter::Ip6InHdrErrors); break;
    case wire::Ipv6ExtCounter::in_addr_errors: c.add(Counter::Ip6InAddrErrors); break;
    case wire::Ipv6ExtCounter::in_unknown_protos: c.add(Counter::Ip6InUnknownProtos); break;
    case wire::Ipv6ExtCounter::reasm_fails: c.add(Counter::Ip6ReasmFails); break;
    case wire::Ipv6ExtCounter::none: break;
  }
  if (verdict.verdict == wire::Ipv6ExtVerdict::parameter_problem) {
    send_icmp_error(net, packet, kIcmp6ParameterProblem, static_cast<std::uint8_t>(verdict.problem), verdict.pointer);
  }
}

void Ipv6Stack::deliver_local(Net& net, Ipv6Net& ns, Device& dev, Packet packet, const wire::Ipv6View& arrived,
                              wire::Ipv6ExtPosition from, const wire::Ipv6ExtContext& context, bool multicast) {
  if (ns.active_hooks.active(netfilter::Hook::input)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::input, packet, &dev, nullptr)) return;
    auto after = wire::Ipv6View::checked(packet.data());
    if (!after) return;
    deliver_local_finish(net, ns, dev, std::move(packet), *after, from, context, multicast);
    return;
  }
  deliver_local_finish(net, ns, dev, std::move(packet), arrived, from, context, multicast);
}

// ip6_input_finish: the extension headers, then the upper layer.
void Ipv6Stack::deliver_local_finish(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet,
                                     const wire::Ipv6View& arrived, wire::Ipv6ExtPosition from,
                                     const wire::Ipv6ExtContext& context, bool multicast) {
  // No Ipv6ExtResult is built, nor the view copied, on the common path: each
  // costs a store-forwarding stall larger than the rest of the delivery.
  if (const auto next = upper_layer_at(arrived, from)) {
    deliver_upper(net, ns, dev, std::move(packet), arrived, *next, from, multicast);
    return;
  }
  Counters& c = net.counters();
  wire::Ipv6View ip = arrived;
  wire::Ipv6ExtResult walk;
  // A reassembled datagram goes on walking where its fragment header was,
  // as Linux resubmits it at nhoff (a loop, not recursion: fragments may nest).
  for (;;) {
    walk = wire::walk_extension_headers(ip, context, from);
    if (walk.atomic_fragment) {
      // ipv6_frag_rcv takes an atomic fragment (RFC 6946) as reassembled at once.
      c.add(Counter::Ip6ReasmReqds);
      c.add(Counter::Ip6ReasmOKs);
    }
    if (walk.fragment_seen) c.add(Counter::Ip6ReasmReqds);
    if (walk.verdict != wire::Ipv6ExtVerdict::fragment) break;
    auto whole = reassemble(net, ns, dev, std::move(packet), ip, walk);
    if (!whole) return;
    packet = std::move(whole->packet);
    auto view = wire::Ipv6View::checked(packet.data());
    if (!view) return;  // reassemble() wrote a sound header; never taken
    ip = *view;
    from = whole->resume;
  }
  switch (walk.verdict) {
    case wire::Ipv6ExtVerdict::ok:
      deliver_upper(net, ns, dev, std::move(packet), ip, walk.next_header, {.offset = walk.offset, .nhoff = walk.nhoff},
                    multicast);
      return;
    case wire::Ipv6ExtVerdict::no_next_header:
      c.add(Counter::Ip6InDelivers);
      return;
    default:
      drop_extension(net, packet, walk);
      return;
  }
}

void Ipv6Stack::deliver_upper(Net& net, Ipv6Net& ns, Device& dev, Packet packet, const wire::Ipv6View& ip,
                              std::uint8_t next_header, wire::Ipv6ExtPosition at, bool multicast) {
  Counters& c = net.counters();
  InputMeta meta{.dev = &dev, .src = ip.src(), .dst = ip.dst(), .hop_limit = ip.hop_limit(),
                 .traffic_class = ip.traffic_class(), .multicast = multicast, .header_len = at.offset};
  // A link-scoped address is known by its device.
  if (meta.src.is_link_local()) meta.src = meta.src.with_scope(static_cast<std::uint32_t>(dev.ifindex()));
  if (meta.dst.is_link_local()) meta.dst = meta.dst.with_scope(static_cast<std::uint32_t>(dev.ifindex()));
  packet.pull_front(at.offset);
  switch (static_cast<wire::IpProtocol>(next_header)) {
    case wire::IpProtocol::icmpv6:
      c.add(Counter::Ip6InDelivers);
      process_icmp6(net, ns, std::move(packet), meta, ip);
      return;
    case wire::IpProtocol::ipv6_none:
      c.add(Counter::Ip6InDelivers);
      return;
    default:
      break;
  }
  if (inet::Transport* t = transports_[next_header]) {
    c.add(Counter::Ip6InDelivers);
    t->deliver(net, std::move(packet), meta);
    return;
  }
  // An unknown next header: parameter problem code 1 at the field that
  // named it (RFC 8200 4).
  c.add(Counter::Ip6InUnknownProtos);
  (void)packet.push_front(at.offset);
  send_icmp_error(net, packet, kIcmp6ParameterProblem, 1, static_cast<std::uint32_t>(at.nhoff));
}

}  // namespace netns::ipv6

namespace netns::ipv6 {

std::optional<Reassembler::Reassembled> Ipv6Stack::reassemble(Net& net, Ipv6Net& ns, Device& dev, Packet&& packet,
                                                              const wire::Ipv6View& ip,
                                                              const wire::Ipv6ExtResult& walk) {
  if (!ns.reassembler) {
    // The reassembler lives in ns, which goes before net: the callback cannot outlive either.
    ns.reassembler = std::make_unique<Reassembler>(net, [this, &net](Packet first) {
      // ip6_frag_expire: time exceeded, code 1, only when the first fragment came.
      send_icmp_error(net, first, kIcmp6TimeExceeded, 1);
    });
  }
  return ns.reassembler->add(std::move(packet), ip, walk, dev.ifindex());
}

}  // namespace netns::ipv6
