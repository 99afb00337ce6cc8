// IPv6 egress and forwarding (Linux's ip6_output.c): the header, the
// hand-over to the link, and ip6_forward.
#include "core/siphash.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/fragment.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "ipv4/neighbour.hpp"
#include "netns/wire/ndp.hpp"
#include "netns/net.hpp"

namespace netns::ipv6 {

Result<void> Ipv6Stack::send(Net& net, Packet payload, const SendParams& params, const RouteResult& route) {
  const std::size_t total = payload.size() + wire::Ipv6Repr::kHeaderLen;
  if (payload.size() > 0xffff) return error(Errc::message_size);
  // Linux's ip6_fragment cuts to the route's MTU, which Packet Too Big
  // lowers, never below 1280 (update_pmtu); IPV6_DONTFRAG refuses instead.
  const std::uint32_t mtu = path_mtu(net, params.dst, *route.dev);
  if (total > mtu && params.dont_fragment) return error(Errc::message_size);
  auto header = payload.push_front(wire::Ipv6Repr::kHeaderLen);
  if (header.empty()) return error(Errc::no_buffer_space);
  std::uint8_t hop_limit = params.hop_limit;
  if (hop_limit == 0 && params.dst.is_multicast()) hop_limit = 1;
  if (hop_limit == 0) hop_limit = state(net).ra_hop_limit(*route.dev);  // an RA's cur hop limit
  if (hop_limit == 0) hop_limit = default_hop_limit(net, *route.dev);
  wire::Ipv6Repr{.src = params.src, .dst = params.dst, .next_header = params.next_header, .hop_limit = hop_limit,
                 .traffic_class = params.traffic_class, .flow_label = params.flow_label,
                 .payload_len = total - wire::Ipv6Repr::kHeaderLen}
      .emit(header);
  Counters& c = net.counters();
  c.add(Counter::Ip6OutRequests);
  c.add(Counter::Ip6OutOctets, total);
  if (params.dst.is_multicast()) c.add(Counter::Ip6OutMcastPkts);
  // ip6_local_out, then ip6_output: the hooks see the whole datagram, and a
  // drop is the sender's EPERM.
  Ipv6Net& ns = state(net);
  RouteResult out = route;
  std::uint32_t out_mtu = mtu;
  if (ns.active_hooks.active(netfilter::Hook::output)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::output, payload, nullptr, out.dev)) {
      return error(Errc::operation_not_permitted);
    }
    // ip6_route_me_harder: a rule (dnat, redirect) sent the datagram elsewhere.
    if (const Ipv6Address now = wire::load_ipv6(payload.data(), 24); now != params.dst.with_scope(0)) {
      auto rerouted = route_output(net, now);
      if (!rerouted) return rerouted.error();
      out = *rerouted;
      out_mtu = path_mtu(net, now, *out.dev);
      if (total > out_mtu && params.dont_fragment) return error(Errc::message_size);
    }
  }
  if (ns.active_hooks.active(netfilter::Hook::postrouting) &&
      !run_hook(net, ns, netfilter::Hook::postrouting, payload, nullptr, out.dev)) [[unlikely]] {
    return error(Errc::operation_not_permitted);
  }
  if (total <= out_mtu) {
    output_datagram(net, std::move(payload), *out.dev, out.next_hop);
    return {};
  }
  // fragment() counts Ip6FragOKs, Ip6FragCreates and Ip6FragFails.
  return fragment(net, std::move(payload), out_mtu, select_ident(),
                  [&](Packet piece) { output_datagram(net, std::move(piece), *out.dev, out.next_hop); });
}

std::uint32_t Ipv6Stack::select_ident() {
  for (;;) {
    const auto id = static_cast<std::uint32_t>(siphash13_word(frag_ident_key_, ++frag_ident_counter_));
    if (id != 0) return id;
  }
}

void Ipv6Stack::output_datagram(Net& net, Packet&& datagram, Device& dev, const Ipv6Address& next_hop) {
  net.counters().add(Counter::Ip6OutTransmits);
  if (dev.kind() == DeviceKind::loopback) {
    ipv4::transmit_ethernet(dev, dev.mac(), wire::EtherType::ipv6, std::move(datagram));
    return;
  }
  if (next_hop.is_multicast()) {
    ipv4::transmit_ethernet(dev, wire::ipv6_multicast_mac(next_hop), wire::EtherType::ipv6, std::move(datagram));
    return;
  }
  state(net).neighbours().output(dev, next_hop.with_scope(0), std::move(datagram));
}

// ip6_forward: net.ipv6.conf.all.forwarding (not the input device's, as
// Linux), hop limit, route, the output device's IPv6 MTU.
void Ipv6Stack::forward(Net& net, Ipv6Net& ns, Device& in, Packet&& packet, const wire::Ipv6View& ip) {
  Counters& c = net.counters();
  if (!forwarding_enabled(net)) {
    c.add(Counter::Ip6InAddrErrors);
    return;
  }
  const Ipv6Address src = ip.src(), dst = ip.dst();
  // Link-local addresses never leave their link (RFC 4291 2.5.6).
  if (dst.is_link_local()) {
    c.add(Counter::Ip6InAddrErrors);
    return;
  }
  if (ip.hop_limit() <= 1) {
    c.add(Counter::Ip6InHdrErrors);
    send_icmp_error(net, packet, kIcmp6TimeExceeded, 0);
    return;
  }
  const Fib6Entry* route = ns.routes.lookup(dst);
  if (route == nullptr || route->type != RouteType::unicast) {
    c.add(Counter::Ip6InNoRoutes);
    // ip6_pkt_drop: no route (code 0), prohibited (1), or the route's reject type.
    const std::uint8_t code = route != nullptr && route->type == RouteType::prohibit ? 1 : 0;
    if (route == nullptr || route->type != RouteType::blackhole) send_icmp_error(net, packet, kIcmp6DestUnreachable, code);
    return;
  }
  Device& out = *route->dev;
  if (&out == &in) {
    // Back out of the link it came in by (and never source routed: netns
    // forwards no routing header): its sender hears of the better first
    // hop, and the datagram goes on, whatever its source.
    send_redirect(net, ns, in, ip, route->via ? *route->via : dst);
  } else if (src.is_unspecified() || src.is_link_local()) {
    // ip6_forward's security check: a source that means nothing beyond its
    // link does not leave it (RFC 4291 2.5.6).
    c.add(Counter::Ip6InAddrErrors);
    if (src.is_link_local()) send_icmp_error(net, packet, kIcmp6DestUnreachable, 2);
    return;
  }
  const std::uint32_t mtu = ipv6_mtu(net, out);
  // ip6_pkt_too_big: a datagram conntrack reassembled passes when its
  // fragments would have, and is cut again below.
  if (packet.size() > mtu && (packet.frag_max_size() == 0 || packet.frag_max_size() > mtu)) {
    // Routers never fragment (RFC 8200 5): the source learns the path MTU.
    c.add(Counter::Ip6InTooBigErrors);
    send_icmp_error(net, packet, kIcmp6PacketTooBig, 0, mtu);
    return;
  }
  auto writable = wire::Ipv6MutView::checked(packet.mutable_data());
  if (!writable) return;
  writable->decrement_hop_limit();
  const Ipv6Address next_hop = route->via ? *route->via : dst;  // read before the hooks may move the route table
  if (ns.active_hooks.active(netfilter::Hook::forward)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::forward, packet, &in, &out)) return;
  }
  c.add(Counter::Ip6OutForwDatagrams);  // ip6_forward_finish: past the hook
  c.add(Counter::Ip6OutOctets, packet.size());
  if (ns.active_hooks.active(netfilter::Hook::postrouting)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::postrouting, packet, nullptr, &out)) return;
  }
  if (packet.frag_max_size() != 0) [[unlikely]] {
    // ip6_finish_output: the fragments it came in as, with an id of ours.
    const std::uint32_t size = std::min<std::uint32_t>(mtu, packet.frag_max_size());
    (void)fragment(net, std::move(packet), size, select_ident(),
                   [&](Packet piece) { output_datagram(net, std::move(piece), out, next_hop); });
    return;
  }
  output_datagram(net, std::move(packet), out, next_hop);
}

}  // namespace netns::ipv6
