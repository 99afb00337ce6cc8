// IPv4 egress: header (IP ID, options), fragmentation at the path MTU, and
// the hand-over to the neighbour layer.
#include <algorithm>

#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"
#include "netns/wire/bytes.hpp"

namespace netns::ipv4 {

Result<void> Ipv4Stack::send(Net& net, Packet payload, const SendParams& params, const RouteResult& route) {
  const std::size_t optlen = params.options != nullptr ? params.options->optlen : 0;
  const std::size_t header_len = wire::Ipv4Repr::kHeaderLen + optlen;
  const std::size_t total = payload.size() + header_len;
  if (total > 0xffff) return error(Errc::message_size);
  if (params.dont_fragment && total > route.dev->mtu()) return error(Errc::message_size);
  auto header = payload.push_front(header_len);
  if (header.empty()) return error(Errc::no_buffer_space);
  const bool source_routed = params.options != nullptr && params.options->srr != 0;
  const Ipv4Address header_dst = source_routed ? params.options->faddr : params.dst;
  // ip_select_ident_segs: a connected socket's own counter, 0 under a DF
  // that must hold, else the Host's hashed generator.
  std::uint16_t id = 0;
  if (params.ip_id) {
    id = *params.ip_id;
  } else if (!params.dont_fragment || params.ignore_df) {
    id = idents_.select(net.id(), header_dst, params.src, static_cast<std::uint8_t>(params.protocol), host_.now());
  }
  const wire::Ipv4Repr repr{
      .src = params.src,
      .dst = header_dst,
      .protocol = params.protocol,
      .payload_len = total - header_len,
      .ttl = params.ttl != 0 ? params.ttl : static_cast<std::uint8_t>(net.sysctl().value(SysctlId::ip_default_ttl)),
      .tos = params.tos,
      .identification = id,
      .dont_fragment = params.dont_fragment};
  if (params.options == nullptr) {
    repr.emit(header);
  } else {
    repr.emit(header, params.options->data());
    build_options(header, *params.options, params.dst, params.src, timestamp_now());
    wire::Ipv4MutView::checked(payload.mutable_data())->fill_checksum();
  }
  net.counters().add(Counter::IpOutRequests);  // __ip_local_out: before the hooks
  // __ip_local_out: a datagram the output hook drops is the sender's EPERM,
  // as is one postrouting drops. ip_output: postrouting sees the whole
  // datagram, before fragmentation.
  Ipv4Net& ns = state(net);
  RouteResult out = route;
  Ipv4Address dst = header_dst;
  if (ns.active_hooks.active(netfilter::Hook::output)) [[unlikely]] {
    if (!run_hook(net, ns, netfilter::Hook::output, payload, nullptr, out.dev)) {
      return error(Errc::operation_not_permitted);
    }
    // ip_route_me_harder: a rule (dnat, redirect) sent the datagram elsewhere.
    if (const Ipv4Address now = wire::load_ipv4(payload.data(), 16); now != dst) {
      auto rerouted = route_output(net, now);
      if (!rerouted) return rerouted.error();
      out = *rerouted;
      dst = now;
    }
  }
  if (ns.active_hooks.active(netfilter::Hook::postrouting) &&
      !run_hook(net, ns, netfilter::Hook::postrouting, payload, nullptr, out.dev)) [[unlikely]] {
    return error(Errc::operation_not_permitted);
  }
  // With DF the datagram fits the device (checked above); without, it is
  // cut to the path MTU as Linux's ip_fragment does with dst_mtu.
  const std::uint32_t mtu = params.dont_fragment ? out.dev->mtu() : path_mtu(net, dst, *out.dev).mtu;
  output_datagram(net, std::move(payload), *out.dev, out.next_hop, mtu);
  return {};
}

void Ipv4Stack::output_datagram(Net& net, Packet&& datagram, Device& dev, Ipv4Address next_hop,
                                std::uint32_t mtu) {
  Ipv4Net& ns = state(net);
  if (mtu == 0) mtu = dev.mtu();
  if (datagram.size() <= mtu && datagram.frag_max_size() == 0) {
    transmit(net, ns, dev, next_hop, std::move(datagram));
    return;
  }
  // ip_do_fragment: a datagram reassembled on its way through goes on in
  // pieces no larger than it came in (DF: whole, when it fits).
  if (datagram.frag_max_size() != 0 && (wire::load_be16(datagram.data(), 6) & 0x4000) == 0) [[unlikely]] {
    mtu = std::min<std::uint32_t>(mtu, datagram.frag_max_size());
  }
  // Too big for the path: fragment (fragment() counts IpFragOKs/Creates/Fails).
  (void)fragment(net, std::move(datagram), mtu,
                 [&](Packet piece) { transmit(net, ns, dev, next_hop, std::move(piece)); });
}

// ip_finish_output2: every datagram and fragment that leaves, sent or
// forwarded, counts in OutTransmits and OutOctets.
void Ipv4Stack::transmit(Net& net, Ipv4Net& ns, Device& dev, Ipv4Address next_hop, Packet&& datagram) {
  Counters& c = net.counters();
  c.add(Counter::IpOutTransmits);
  c.add(Counter::IpExtOutOctets, datagram.size());
  ns.neighbours.output(dev, next_hop, std::move(datagram));
}

// ---- path MTU ----

PathMtu Ipv4Stack::path_mtu(Net& net, Ipv4Address dst, const Device& dev) {
  PathMtu out{dev.mtu(), false};
  Ipv4Net& ns = state(net);
  if (!ns.extras || ns.extras->pmtu.empty()) return out;
  if (auto e = ns.extras->pmtu.lookup(dst, host_.now())) {
    out.mtu = std::min(out.mtu, e->mtu);
    out.locked = e->locked;
  }
  return out;
}

void Ipv4Stack::update_pmtu(Net& net, Ipv4Address dst, std::uint32_t mtu) {
  // __ip_rt_update_pmtu: only for a destination the FIB still routes.
  auto route = route_output(net, dst);
  if (!route || route->dev == &net.loopback()) return;
  const std::uint32_t current = path_mtu(net, dst, *route->dev).mtu;
  const Sysctl& sysctl = net.sysctl();
  extras(state(net)).pmtu.update(dst, mtu, current,
                                 static_cast<std::uint32_t>(sysctl.value(SysctlId::route_min_pmtu)),
                                 std::chrono::seconds(sysctl.value(SysctlId::route_mtu_expires)), host_.now());
}

std::uint32_t Ipv4Stack::timestamp_now() const {
  constexpr std::int64_t kMsPerDay = 86'400'000;
  if (auto utc = host_.utc_now()) {
    const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(*utc).count();
    return static_cast<std::uint32_t>(((ms % kMsPerDay) + kMsPerDay) % kMsPerDay);
  }
  // RFC 791/792: not UTC, so the high bit says the value is non-standard.
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(host_.now().time_since_epoch()).count();
  return 0x8000'0000u | (static_cast<std::uint32_t>(ms) & 0x7fff'ffffu);
}

}  // namespace netns::ipv4
