// ICMP: echo replies, errors sent (rate limited) and errors received.
#include <algorithm>

#include <fmt/format.h>

#include "ipv4/ipv4_net.hpp"
#include "ipv4/stack.hpp"
#include "netns/devconf.hpp"

namespace netns::ipv4 {

using wire::IcmpType;

namespace {

// RFC 1812 4.3.2.3: quote as much as fits in 576 bytes.
constexpr std::size_t kMaxQuote = 576 - wire::Ipv4Repr::kHeaderLen - wire::IcmpRepr::kHeaderLen;

bool is_error_type(IcmpType t) {
  return t == IcmpType::dest_unreachable || t == IcmpType::time_exceeded ||
         t == IcmpType::parameter_problem || t == IcmpType::redirect ||
         static_cast<std::uint8_t>(t) == 4;  // source quench
}

Counter out_counter(IcmpType t) {
  switch (t) {
    case IcmpType::echo_reply: return Counter::IcmpOutEchoReps;
    case IcmpType::dest_unreachable: return Counter::IcmpOutDestUnreachs;
    case IcmpType::redirect: return Counter::IcmpOutRedirects;
    case IcmpType::echo_request: return Counter::IcmpOutEchos;
    case IcmpType::timestamp_request: return Counter::IcmpOutTimestamps;
    case IcmpType::timestamp_reply: return Counter::IcmpOutTimestampReps;
    case IcmpType::time_exceeded: return Counter::IcmpOutTimeExcds;
    case IcmpType::parameter_problem: return Counter::IcmpOutParmProbs;
  }
  return Counter::IcmpOutMsgs;
}

// icmpv4_mask_allow: only the types in net.ipv4.icmp_ratemask are limited,
// and never fragmentation needed, which path MTU discovery depends on.
bool rate_limited_type(Net& net, IcmpType type, std::uint8_t code) {
  const auto t = static_cast<std::uint8_t>(type);
  if (t > 18) return false;  // NR_ICMP_TYPES
  if (type == IcmpType::dest_unreachable && code == static_cast<std::uint8_t>(wire::IcmpUnreachable::frag_needed)) {
    return false;
  }
  return (static_cast<std::uint32_t>(net.sysctl().value(SysctlId::icmp_ratemask)) >> t & 1) != 0;
}

}  // namespace

boost::system::error_code IcmpError::error() const {
  if (type == IcmpType::time_exceeded) return netns::error(Errc::host_unreachable);
  if (type == IcmpType::parameter_problem) return netns::error(Errc::protocol_error);
  switch (static_cast<wire::IcmpUnreachable>(code)) {  // Linux's icmp_err_convert
    case wire::IcmpUnreachable::net:
    case wire::IcmpUnreachable::net_unknown:
    case wire::IcmpUnreachable::net_prohibited: return netns::error(Errc::network_unreachable);
    case wire::IcmpUnreachable::protocol: return netns::error(Errc::no_protocol_option);
    case wire::IcmpUnreachable::port: return netns::error(Errc::connection_refused);
    case wire::IcmpUnreachable::frag_needed: return netns::error(Errc::message_size);
    case wire::IcmpUnreachable::source_route_failed: return netns::error(Errc::operation_not_supported);
    case wire::IcmpUnreachable::host_unknown: return netns::error(Errc::host_unreachable);
    default: return netns::error(Errc::host_unreachable);
  }
}

bool Ipv4Stack::icmp_global_allow(Net& net) {
  Ipv4Net* ns = slot_.find(net);
  return ns == nullptr || ns->icmp_bucket.allow(net.sysctl().value(SysctlId::icmp_msgs_per_sec),
                                                net.sysctl().value(SysctlId::icmp_msgs_burst), host_.now());
}

void Ipv4Stack::icmp_global_consume(Net& net) {
  if (Ipv4Net* ns = slot_.find(net)) ns->icmp_bucket.consume();
}

void Ipv4Stack::send_icmp_error(Net& net, const Packet& offending, IcmpType type, std::uint8_t code,
                                std::uint32_t info) {
  Ipv4Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  auto ip = wire::Ipv4View::checked_quoted(offending.data());
  if (!ip) return;
  // RFC 1122 3.2.2: never about ICMP errors, non-first fragments, or broadcasts.
  if (ip->fragment_offset() != 0 || offending.type == PacketType::broadcast ||
      offending.type == PacketType::multicast) return;
  Ipv4Address src = ip->src();
  if (src.is_unspecified() || src.is_broadcast() || src.is_multicast() || ip->dst().is_multicast() ||
      ip->dst().is_broadcast() ||
      (offending.device != nullptr && is_broadcast_on(net, *offending.device, ip->dst())))
    return;
  if (ip->protocol() == wire::IpProtocol::icmp) {
    auto inner = wire::IcmpView::checked(ip->payload());
    if (!inner || is_error_type(inner->type())) return;
  }
  // icmpv4_global_allow, then icmpv4_xrlim_allow: the namespace's credit
  // is looked at first, then the destination's limit, and only an error
  // both allow spends the namespace's credit. Nothing that came in on the
  // loopback is limited; what goes out on it is by the namespace's alone.
  const bool limited = rate_limited_type(net, type, code) &&
                       (offending.device == nullptr || offending.device->kind() != DeviceKind::loopback);
  if (limited && !icmp_global_allow(net)) {
    net.counters().add(Counter::IcmpOutRateLimitGlobal);
    return;
  }
  auto route = route_output(net, src);
  if (!route) return;  // icmp_send counts nothing when icmp_route_lookup fails
  if (limited) {
    const auto interval = std::chrono::milliseconds(net.sysctl().value(SysctlId::icmp_ratelimit));
    if (route->dev->kind() != DeviceKind::loopback && !extras(*ns).icmp_peers.allow(src, interval, host_.now())) {
      net.counters().add(Counter::IcmpOutRateLimitHost);
      return;
    }
    icmp_global_consume(net);
  }
  std::size_t quote = std::min(offending.size(), kMaxQuote);
  Packet msg = host_.packets().allocate(wire::IcmpRepr::kHeaderLen + quote);
  if (!msg) return;
  auto bytes = msg.mutable_data();
  host_.packets().copy_bytes(bytes.subspan(wire::IcmpRepr::kHeaderLen), offending.data().first(quote));
  wire::IcmpRepr{type, code, info, quote}.emit(bytes);
  // icmp_send answers from the address the offender was sent to when it is ours.
  Ipv4Address source = is_local(net, ip->dst()) ? ip->dst() : route->source;
  send_icmp(net, std::move(msg), {.src = source, .dst = src, .protocol = wire::IpProtocol::icmp}, *route);
}

void Ipv4Stack::send_redirect(Net& net, Ipv4Net& ns, const Packet& packet, Ipv4Address src, Ipv4Address gateway) {
  if (!extras(ns).redirect_peers.allow(src, host_.now())) return;
  constexpr auto kRedirectHost = std::uint8_t{1};  // ICMP_REDIR_HOST, the only code Linux sends
  send_icmp_error(net, packet, IcmpType::redirect, kRedirectHost, gateway.value);
}

// icmp_redirect, then __ip_do_redirect: a redirect from the gateway this
// namespace uses for the quoted destination, naming another unicast host
// that is a resolved neighbour, becomes a route exception, if the device it
// came by accepts redirects (IN_DEV_RX_REDIRECTS). Linux hands it to the
// quoted protocol's error handler first, which for TCP and UDP needs a
// socket of that flow; here it is taken for any protocol.
void Ipv4Stack::process_redirect(Net& net, const wire::IcmpView& icmp, const InputMeta& meta) {
  auto quoted = wire::Ipv4View::checked_quoted(icmp.payload());
  if (!quoted || quoted->payload().size() < 8) {
    net.counters().add(Counter::IcmpInErrors);
    return;
  }
  if ((icmp.code() & 7) > 3) return;  // net, host, net and TOS, host and TOS
  Ipv4Net& ns = state(net);
  const Ipv4Address gateway(icmp.rest_of_header()), from = meta.src, dst = quoted->dst();
  auto route = route_output(net, dst);
  if (!route || route->next_hop == dst || route->next_hop != from) return;  // not from our gateway for it
  const Device& in = *meta.dev;
  const bool acceptable = gateway != from && device_conf(net.sysctl(), in, DevconfId::ipv4_accept_redirects) != 0 &&
                          is_unicast_address(net, gateway);
  if (!acceptable) {
    if (device_conf(net.sysctl(), in, DevconfId::ipv4_log_martians) != 0) {
      host_.log(fmt::format("Redirect from {} on {} about {} ignored", from, in.name(), dst));
    }
    return;
  }
  // The new gateway must be a neighbour already (NUD_VALID); Linux starts
  // resolving it and drops the redirect meanwhile.
  const std::vector<NeighbourInfo> neighbours = ns.neighbours.list();
  const bool resolved = std::any_of(neighbours.begin(), neighbours.end(), [&](const NeighbourInfo& n) {
    return n.dev == route->dev && n.address == gateway && n.state != NeighbourState::incomplete &&
           n.state != NeighbourState::failed;
  });
  if (!resolved) return;
  extras(ns).redirects.learn(dst, gateway, *route->dev, host_.now());
  invalidate_routes(net);
}

void Ipv4Stack::send_icmp(Net& net, Packet message, const SendParams& params, const RouteResult& route) {
  auto type = IcmpType{static_cast<std::uint8_t>(message.data()[0])};
  if (send(net, std::move(message), params, route)) {
    net.counters().add(Counter::IcmpOutMsgs);
    net.counters().add(out_counter(type));
    net.counters().add_icmp_type(IcmpFamily::v4, IcmpDirection::out, static_cast<std::uint8_t>(type));
  } else {
    net.counters().add(Counter::IcmpOutErrors);
  }
}

void Ipv4Stack::process_icmp(Net& net, Ipv4Net& /*ns*/, Packet packet, const InputMeta& meta) {
  Counters& c = net.counters();
  c.add(Counter::IcmpInMsgs);
  auto view = wire::IcmpView::checked(packet.data());
  if (!view) {
    c.add(Counter::IcmpInErrors);
    return;
  }
  if (!wire::IcmpRepr::parse(*view)) {
    c.add(Counter::IcmpInCsumErrors);
    c.add(Counter::IcmpInErrors);
    return;
  }
  const IcmpType type = view->type();
  c.add_icmp_type(IcmpFamily::v4, IcmpDirection::in, static_cast<std::uint8_t>(type));  // icmp_rcv: past the checksum
  const bool ignore_broadcast = meta.broadcast && net.sysctl().value(SysctlId::icmp_echo_ignore_broadcasts) != 0;
  switch (type) {
    case IcmpType::echo_request:
      c.add(Counter::IcmpInEchos);
      if (ignore_broadcast) {
        c.add(Counter::IcmpInErrors);  // icmp_rcv: RFC 1122 3.2.2.6, counted as an error
        return;
      }
      if (net.sysctl().value(SysctlId::icmp_echo_ignore_all) != 0) return;
      reply_echo(net, std::move(packet), *view, meta);
      return;
    case IcmpType::timestamp_request:
      c.add(Counter::IcmpInTimestamps);
      if (ignore_broadcast) {
        c.add(Counter::IcmpInErrors);  // RFC 1122 3.2.2.8, under the same sysctl as echo
        return;
      }
      if (view->payload().size() < 4) {  // icmp_timestamp: no originate timestamp
        c.add(Counter::IcmpInErrors);
        return;
      }
      reply_timestamp(net, packet, *view, meta);
      return;
    case IcmpType::timestamp_reply:
      c.add(Counter::IcmpInTimestampReps);  // icmp_discard: nothing asks for them
      return;
    case IcmpType::echo_reply:
      c.add(Counter::IcmpInEchoReps);
      if (Transport* ping = transports_[static_cast<std::uint8_t>(wire::IpProtocol::icmp)]) {
        ping->deliver(net, std::move(packet), meta);
      }
      return;
    case IcmpType::dest_unreachable: c.add(Counter::IcmpInDestUnreachs); break;
    case IcmpType::time_exceeded: c.add(Counter::IcmpInTimeExcds); break;
    case IcmpType::parameter_problem: c.add(Counter::IcmpInParmProbs); break;
    case IcmpType::redirect:
      c.add(Counter::IcmpInRedirects);
      if (!meta.broadcast) process_redirect(net, *view, meta);
      return;
    default: return;
  }
  if (meta.broadcast) {  // icmp_rcv: an error sent to a broadcast is bogus
    c.add(Counter::IcmpInErrors);
    return;
  }
  process_icmp_error(net, *view, meta);
}

// icmp_unreach: an error about something we sent goes to the protocol that
// sent it, with the next-hop MTU of a fragmentation needed as
// net.ipv4.ip_no_pmtu_disc allows.
void Ipv4Stack::process_icmp_error(Net& net, const wire::IcmpView& icmp, const InputMeta& meta) {
  auto quoted = wire::Ipv4View::checked_quoted(icmp.payload());
  if (!quoted || quoted->payload().size() < 8) {
    net.counters().add(Counter::IcmpInErrors);
    return;
  }
  const IcmpType type = icmp.type();
  IcmpError err{type, icmp.code(), icmp.rest_of_header(), meta.src, quoted->src(), quoted->dst(),
                quoted->payload()};
  if (type == IcmpType::dest_unreachable &&
      icmp.code() == static_cast<std::uint8_t>(wire::IcmpUnreachable::frag_needed)) {
    switch (net.sysctl().value(SysctlId::ip_no_pmtu_disc)) {
      case 0: err.info = icmp.next_hop_mtu(); break;
      case 2: return;  // ignored altogether
      case 3:          // only protocols that check the quote (TCP's sequence numbers) get it
        if (quoted->protocol() != wire::IpProtocol::tcp) return;
        err.info = icmp.next_hop_mtu();
        break;
      default: err.info = 0; break;  // 1: the MTU is not believed
    }
    // icmp_err: an error about one of our own echo replies teaches the path
    // MTU here, where no socket sent it.
    if (quoted->protocol() == wire::IpProtocol::icmp) {
      auto inner = wire::IcmpView::checked(quoted->payload());
      if (inner && inner->type() == IcmpType::echo_reply) {
        update_pmtu(net, quoted->dst(), err.info);
        return;
      }
    }
  }
  if (Transport* t = transports_[static_cast<std::uint8_t>(quoted->protocol())]) t->deliver_error(net, err);
}

// ---- replies: icmp_echo, icmp_timestamp, icmp_reply ----

std::optional<SentOptions> Ipv4Stack::echo_reply_options(Net& net, Packet& request, const InputMeta& meta) {
  if (meta.options == nullptr) return SentOptions{};
  // The request's IP header is still in the headroom, as input left it.
  const auto header = request.push_front(meta.header_len);
  if (header.size() != meta.header_len) return std::nullopt;
  const OptionContext ctx{.spec_dst = meta.dst, .timestamp = timestamp_now(),
                          .is_unicast = [this, &net](Ipv4Address a) { return is_unicast_address(net, a); }};
  auto options = echo_options(header, *meta.options, ctx);
  request.pull_front(meta.header_len);
  return options;
}

void Ipv4Stack::send_icmp_reply(Net& net, Packet message, const SentOptions& options, const InputMeta& meta) {
  auto route = route_output(net, options.srr != 0 ? options.faddr : meta.src);
  if (!route) return;
  // fib_compute_spec_dst: the address the request was sent to, unless that
  // was a broadcast.
  const Ipv4Address source = meta.broadcast ? route->source : meta.dst;
  send_icmp(net, std::move(message),
            {.src = source, .dst = meta.src, .protocol = wire::IpProtocol::icmp, .tos = meta.tos,
             .options = options.optlen != 0 ? &options : nullptr},
            *route);
}

void Ipv4Stack::reply_echo(Net& net, Packet request, const wire::IcmpView& icmp, const InputMeta& meta) {
  // Options first: the reply reuses the request's buffer, IP header included
  // (type 0, checksum refreshed, no copy).
  const std::optional<SentOptions> options = echo_reply_options(net, request, meta);
  if (!options) return;  // ip_options_echo refused: Linux sends nothing
  const wire::IcmpMutView reply = icmp.rebind(request.mutable_data());
  reply.set_type(IcmpType::echo_reply);
  reply.fill_checksum();
  send_icmp_reply(net, std::move(request), *options, meta);
}

void Ipv4Stack::reply_timestamp(Net& net, Packet& request, const wire::IcmpView& asked, const InputMeta& meta) {
  const std::optional<SentOptions> options = echo_reply_options(net, request, meta);
  if (!options) return;
  // Always 20 bytes (RFC 792): id and sequence kept, the originate
  // timestamp copied, receive and transmit the same instant, as Linux.
  const std::uint32_t now = timestamp_now();
  const auto repr = wire::IcmpRepr::timestamp_reply(asked.echo_id(), asked.echo_seq());
  Packet message = host_.packets().allocate(repr.buffer_len());
  if (!message) return;
  auto bytes = message.mutable_data();
  wire::store_be32(bytes, 8, wire::load_be32(asked.payload(), 0));
  wire::store_be32(bytes, 12, now);
  wire::store_be32(bytes, 16, now);
  repr.emit(bytes);
  send_icmp_reply(net, std::move(message), *options, meta);
}

}  // namespace netns::ipv4
