// ICMPv6 (RFC 4443, Linux's icmp.c in net/ipv6): input, echo replies, and
// the errors this namespace sends.
#include <algorithm>
#include <cstring>

#include "ipv4/stack.hpp"
#include "ipv6/devconf6.hpp"
#include "ipv6/ipv6_net.hpp"
#include "ipv6/stack.hpp"
#include "netns/net.hpp"
#include "netns/sysctl.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/icmpv6.hpp"

namespace netns::ipv6 {

namespace {
// Type, code, checksum, 32 bits of type-specific data.
constexpr std::size_t kIcmpHeaderLen = wire::Icmpv6Repr::kHeaderLen;
constexpr std::uint8_t kEchoRequest = kIcmp6EchoRequest, kEchoReply = kIcmp6EchoReply, kNeighborSolicit = 135,
                        kNeighborAdvert = 136;

// icmpv6_mask_allow's question: whether net.ipv6.icmp.ratemask limits
// `type` (by default every error but packet too big, RFC 4443 2.4 (f)).
bool rate_limited_type(const Net& net, std::uint8_t type) {
  const auto word = static_cast<std::uint32_t>(net.sysctl().value(SysctlId::ipv6_icmp_ratemask, type / 32));
  return (word >> (type % 32) & 1) != 0;
}

// icmpv6_rcv's per-type input counter (Icmp6InDestUnreachs...).
std::optional<Counter> in_counter(std::uint8_t type) {
  switch (type) {
    case 1: return Counter::Icmp6InDestUnreachs;
    case 2: return Counter::Icmp6InPktTooBigs;
    case 3: return Counter::Icmp6InTimeExcds;
    case 4: return Counter::Icmp6InParmProblems;
    case 128: return Counter::Icmp6InEchos;
    case 129: return Counter::Icmp6InEchoReplies;
    case 130: return Counter::Icmp6InGroupMembQueries;
    case 131: return Counter::Icmp6InGroupMembResponses;
    case 132: return Counter::Icmp6InGroupMembReductions;
    case 133: return Counter::Icmp6InRouterSolicits;
    case 134: return Counter::Icmp6InRouterAdvertisements;
    case 135: return Counter::Icmp6InNeighborSolicits;
    case 136: return Counter::Icmp6InNeighborAdvertisements;
    case 137: return Counter::Icmp6InRedirects;
    case 143: return Counter::Icmp6InMLDv2Reports;
    default: return std::nullopt;
  }
}

std::optional<Counter> out_counter(std::uint8_t type) {
  switch (type) {
    case 1: return Counter::Icmp6OutDestUnreachs;
    case 2: return Counter::Icmp6OutPktTooBigs;
    case 3: return Counter::Icmp6OutTimeExcds;
    case 4: return Counter::Icmp6OutParmProblems;
    case 128: return Counter::Icmp6OutEchos;
    case 129: return Counter::Icmp6OutEchoReplies;
    case 133: return Counter::Icmp6OutRouterSolicits;
    case 134: return Counter::Icmp6OutRouterAdvertisements;
    case 135: return Counter::Icmp6OutNeighborSolicits;
    case 136: return Counter::Icmp6OutNeighborAdvertisements;
    case 137: return Counter::Icmp6OutRedirects;
    default: return std::nullopt;
  }
}
}  // namespace

void count_icmp6_out(Net& net, std::uint8_t type) {
  Counters& c = net.counters();
  c.add(Counter::Icmp6OutMsgs);
  if (auto counter = out_counter(type)) c.add(*counter);
  c.add_icmp_type(IcmpFamily::v6, IcmpDirection::out, type);
}

void Ipv6Stack::process_icmp6(Net& net, Ipv6Net& ns, Packet message, const InputMeta& meta,
                              const wire::Ipv6View& ip) {
  Counters& c = net.counters();
  c.add(Counter::Icmp6InMsgs);
  const auto bytes = message.data();
  if (bytes.size() < 4) {
    c.add(Counter::Icmp6InErrors);
    return;
  }
  if (wire::ipv6_transport_checksum(meta.src, meta.dst, static_cast<std::uint8_t>(wire::IpProtocol::icmpv6),
                                    bytes) != 0) {
    c.add(Counter::Icmp6InCsumErrors);
    c.add(Counter::Icmp6InErrors);
    return;
  }
  const std::uint8_t type = wire::load_u8(bytes, 0);
  c.add_icmp_type(IcmpFamily::v6, IcmpDirection::in, type);  // icmpv6_rcv: past the checksum
  if (type == kNeighborSolicit || type == kNeighborAdvert) {
    // The table counts these by type, and drops the malformed ones.
    ns.neighbours().process_ndp(*meta.dev, ip, std::move(message));
    return;
  }
  if (auto counter = in_counter(type)) c.add(*counter);
  switch (type) {
    case kEchoRequest:
      if (bytes.size() < kIcmpHeaderLen) {
        c.add(Counter::Icmp6InErrors);
        return;
      }
      reply_echo(net, std::move(message), meta);
      return;
    case kEchoReply:
      // Ping sockets (Linux's ping_rcv) take replies of their echo id.
      if (inet::Transport* ping = transports_[static_cast<std::uint8_t>(wire::IpProtocol::icmpv6)]) {
        ping->deliver(net, std::move(message), meta);
      }
      return;
    case kIcmp6PacketTooBig:
      process_packet_too_big(net, message);
      notify_error(net, message, meta);
      return;
    case kIcmp6DestUnreachable:
    case kIcmp6TimeExceeded:
    case kIcmp6ParameterProblem:
      notify_error(net, message, meta);
      return;
    case static_cast<std::uint8_t>(wire::NdpType::router_solicit):
      process_router_solicit(net, ns, *meta.dev, ip, message.data());
      return;
    case static_cast<std::uint8_t>(wire::NdpType::router_advert):
      process_router_advert(net, ns, *meta.dev, ip, message.data());
      return;
    default:
      break;
  }
}

// icmpv6_notify: the transport that sent the quoted datagram hears of the
// error, once the quoted chain leads to its header. The quoted source must
// be ours (a forged error about another host's datagram is ignored).
void Ipv6Stack::notify_error(Net& net, const Packet& message, const InputMeta& meta) {
  const auto bytes = message.data();
  if (bytes.size() < kIcmpHeaderLen + wire::Ipv6View::kHeaderLen) {
    net.counters().add(Counter::Icmp6InErrors);
    return;
  }
  const auto datagram = bytes.subspan(kIcmpHeaderLen);
  auto quoted = wire::Ipv6View::checked_quoted(datagram);
  if (!quoted) return;
  auto upper = wire::skip_extension_headers(datagram, wire::Ipv6View::kHeaderLen, quoted->next_header());
  // A non-first fragment quotes no transport header (ipv6_skip_exthdr's frag_off).
  if (!upper || (upper->frag_off & 0xfff8) != 0 || upper->offset + 8 > datagram.size()) return;
  inet::Transport* transport = transports_[upper->next_header];
  if (transport == nullptr) return;
  auto scoped = [&](Ipv6Address a) {
    return a.is_link_local() || a.is_multicast() ? a.with_scope(meta.dev->ifindex()) : a;
  };
  const IcmpError error{.type = wire::load_u8(bytes, 0),
                        .code = wire::load_u8(bytes, 1),
                        .info = wire::load_be32(bytes, 4),
                        .reporter = meta.src,
                        .orig_src = scoped(quoted->src()),
                        .orig_dst = scoped(quoted->dst()),
                        .quoted = datagram.subspan(upper->offset)};
  if (!is_local(net, error.orig_src.with_scope(0))) return;
  transport->deliver_error(net, error);
}

// icmpv6_err_convert.
boost::system::error_code IcmpError::error() const {
  switch (type) {
    case kIcmp6DestUnreachable:
      switch (code) {
        case 0: return netns::error(Errc::network_unreachable);  // no route
        case 1:                                                 // administratively prohibited
        case 5:                                                 // source address failed policy
        case 6: return netns::error(Errc::permission_denied);   // reject route
        case kIcmp6PortUnreachable: return netns::error(Errc::connection_refused);
        default: return netns::error(Errc::host_unreachable);   // beyond scope, address unreachable
      }
    case kIcmp6PacketTooBig: return netns::error(Errc::message_size);
    case kIcmp6TimeExceeded: return netns::error(Errc::host_unreachable);
    default: return netns::error(Errc::protocol_error);
  }
}

bool IcmpError::is_hard() const {
  if (type == kIcmp6ParameterProblem) return true;
  if (type != kIcmp6DestUnreachable) return false;
  return code == 1 || code == kIcmp6PortUnreachable || code == 5 || code == 6 || code > 6;
}

// icmpv6_notify for Packet Too Big: the quoted datagram must be one this
// namespace sent (its source ours); its destination's path MTU is lowered.
void Ipv6Stack::process_packet_too_big(Net& net, const Packet& message) {
  const auto bytes = message.data();
  if (bytes.size() < kIcmpHeaderLen + wire::Ipv6View::kHeaderLen) {
    net.counters().add(Counter::Icmp6InErrors);
    return;
  }
  auto quoted = wire::Ipv6View::checked_quoted(bytes.subspan(kIcmpHeaderLen));
  if (!quoted || !is_local(net, quoted->src())) return;
  update_pmtu(net, quoted->dst(), wire::load_be32(bytes, 4));
}

// icmpv6_echo_reply: the request's identifier, sequence and data back, from
// the address it was sent to (or, for a multicast request, the source the
// route to the requester chooses).
void Ipv6Stack::reply_echo(Net& net, Packet request, const InputMeta& meta) {
  if (meta.src.is_unspecified()) return;
  // icmpv6_echo_reply: limited as errors are when the mask names echo replies.
  const bool limited = rate_limited_type(net, kEchoReply);
  if (limited && !icmp6_global_allow(net)) return;
  auto route = route_output(net, meta.src);
  if (!route) {
    no_route(net, route.error());
    return;
  }
  Ipv6Net* ns = slot_.find(net);
  if (limited && (ns == nullptr || !icmp6_xrlim_allow(net, *ns, meta.src, *route))) return;
  Ipv6Address src = meta.dst;
  if (meta.multicast) src = route->source;
  Packet reply = net.host().packets().allocate(request.size());
  if (!reply) {
    net.counters().add(Counter::Icmp6OutErrors);  // what ip6_append_data's failure counts
    return;
  }
  auto out = reply.mutable_data();
  std::memcpy(out.data(), request.data().data(), request.size());
  wire::store_u8(out, 0, kEchoReply);
  wire::store_be16(out, 2, 0);
  wire::store_be16(out, 2,
                   wire::ipv6_transport_checksum(src, meta.src, static_cast<std::uint8_t>(wire::IpProtocol::icmpv6), out));
  count_icmp6_out(net, kEchoReply);
  (void)send(net, std::move(reply),
             {.src = src.with_scope(0), .dst = meta.src, .next_header = wire::IpProtocol::icmpv6}, *route);
}

// ---- errors ----

void Ipv6Stack::send_icmp_error(Net& net, const Packet& offending, std::uint8_t type, std::uint8_t code,
                                std::uint32_t info) {
  auto ip = wire::Ipv6View::checked_quoted(offending.data());
  if (!ip) return;
  const Ipv6Address src = ip->src(), dst = ip->dst();
  // Never to an address that cannot answer, and never about an error.
  if (src.is_unspecified() || src.is_multicast()) return;
  if (dst.is_multicast() && !(type == kIcmp6PacketTooBig || (type == kIcmp6ParameterProblem && code == 2))) return;
  if (ip->next_header() == static_cast<std::uint8_t>(wire::IpProtocol::icmpv6) && ip->payload().size() >= 1 &&
      (wire::is_error(wire::load_u8(ip->payload(), 0)) || wire::load_u8(ip->payload(), 0) == 137)) {
    return;
  }
  Ipv6Net* ns = slot_.find(net);
  if (ns == nullptr) return;
  const bool limited = rate_limited_type(net, type);
  if (limited && !icmp6_global_allow(net)) return;
  auto route = route_output(net, src);
  if (!route) {
    no_route(net, route.error());
    return;
  }
  if (limited && !icmp6_xrlim_allow(net, *ns, src, *route)) return;
  // From the address the offending datagram was sent to when it is ours,
  // else the source the route chooses.
  Ipv6Address from = route->source;
  if (!dst.is_multicast() && ns->local_address(dst) != nullptr) from = dst;
  const std::size_t quoted = wire::icmpv6_error_quote_len(ip->bytes().size());
  Packet message = net.host().packets().allocate(kIcmpHeaderLen + quoted);
  if (!message) {
    net.counters().add(Counter::Icmp6OutErrors);  // what ip6_append_data's failure counts
    return;
  }
  auto out = message.mutable_data();
  wire::store_u8(out, 0, type);
  wire::store_u8(out, 1, code);
  wire::store_be16(out, 2, 0);
  wire::store_be32(out, 4, info);
  std::memcpy(out.data() + kIcmpHeaderLen, ip->bytes().data(), quoted);
  wire::store_be16(out, 2,
                   wire::ipv6_transport_checksum(from, src, static_cast<std::uint8_t>(wire::IpProtocol::icmpv6), out));
  count_icmp6_out(net, type);
  (void)send(net, std::move(message), {.src = from, .dst = src, .next_header = wire::IpProtocol::icmpv6}, *route);
}

// icmpv6_xrlim_allow, for a type the mask limits: errors to one
// destination spaced by net.ipv6.icmp.ratelimit after a burst of six, the
// interval halved for every 32 bits the route's prefix is shorter than
// /128 (wider prefixes get more); nothing over the loopback. What it allows
// spends the namespace's credit (icmp_global_consume).
bool Ipv6Stack::icmp6_xrlim_allow(Net& net, Ipv6Net& ns, const Ipv6Address& dst, const RouteResult& route) {
  auto interval = std::chrono::milliseconds(net.sysctl().value(SysctlId::ipv6_icmp_ratelimit));
  if (route.dev->kind() != DeviceKind::loopback && interval.count() != 0) {
    const Fib6Entry* entry = ns.routes.lookup(dst.with_scope(0));
    const unsigned length = entry != nullptr ? entry->prefix.length() : 128;
    interval /= 1 << ((128 - length) >> 5);
    if (!icmp_peers(ns).allow(dst.with_scope(0), interval, host_.now())) {
      net.counters().add(Counter::Icmp6OutRateLimitHost);
      return false;
    }
  }
  ipv4_.icmp_global_consume(net);
  return true;
}

ipv4::IcmpPeers6& Ipv6Stack::icmp_peers(Ipv6Net& ns) {
  if (!ns.icmp_peers) ns.icmp_peers = std::make_unique<ipv4::IcmpPeers6>(pmtu_key_);
  return *ns.icmp_peers;
}

// icmpv6_global_allow: the namespace's ICMP credit, which ICMP and ICMPv6
// share (net.ipv4.icmp_msgs_per_sec/burst); Linux counts its refusals in
// the ICMP MIB for both families.
bool Ipv6Stack::icmp6_global_allow(Net& net) {
  if (ipv4_.icmp_global_allow(net)) return true;
  net.counters().add(Counter::IcmpOutRateLimitGlobal);
  return false;
}

}  // namespace netns::ipv6
