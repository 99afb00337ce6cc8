// UDP, ICMP, ICMPv6 and generic tracking (Linux's
// nf_conntrack_proto_udp.c, _icmp.c, _icmpv6.c, _generic.c).
#include "conntrack/proto.hpp"

#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"

namespace netns::conntrack {

namespace {

// A UDP flow answered and still alive this long after it began is a stream.
constexpr auto kUdpStreamAfter = std::chrono::seconds(2);

bool transport_checksum_ok(const Datagram& d) {
  auto l4 = d.l4_bytes();
  if (d.family == Family::ipv4) {
    const Ipv4Address src(wire::load_be32(d.bytes, 12));
    const Ipv4Address dst(wire::load_be32(d.bytes, 16));
    return wire::ipv4_transport_checksum(src, dst, d.l4.protocol, l4) == 0;
  }
  return wire::ipv6_transport_checksum(wire::load_ipv6(d.bytes, 8), wire::load_ipv6(d.bytes, 24), d.l4.protocol, l4) ==
         0;
}

// Linux's udp_error / udp6_error.
bool udp_valid(const Datagram& d) {
  auto l4 = d.l4_bytes();
  if (l4.size() < 8) return false;
  const std::uint16_t length = wire::load_be16(l4, 4);
  if (length > l4.size() || length < 8) return false;  // truncated or malformed
  const std::uint16_t check = wire::load_be16(l4, 6);
  if (check == 0) return d.family == Family::ipv4;  // IPv4 may omit it; IPv6 must not
  return !d.verify_checksum() || transport_checksum_ok(d);
}

bool icmp_starts_connection(const Tuple& t) {
  if (t.family == Family::ipv4) {
    switch (t.icmp_type()) {
      case 8:   // echo
      case 13:  // timestamp
      case 15:  // information request
      case 17:  // address mask request
        return true;
      default:
        return false;
    }
  }
  return t.icmp_type() == 128 || t.icmp_type() == 139;  // echo request, node information query
}

}  // namespace

L4Verdict udp_packet(Entry& ct, const Datagram& d, CtInfo, TrackContext& ctx) {
  if (!udp_valid(d)) return L4Verdict::invalid;
  if (!ct.confirmed()) ct.udp_stream_after = ctx.now + kUdpStreamAfter;
  const Clock::duration unreplied = timeout(ctx.sysctl, SysctlId::nf_conntrack_udp_timeout);
  if (!ct.test(kStatusSeenReply)) {
    ct.expires = ctx.now + unreplied;
    return L4Verdict::accept;
  }
  // Answered: still alive two seconds on, it is a stream, assured, kept longer.
  if (ctx.now > ct.udp_stream_after) {
    ct.expires = ctx.now + timeout(ctx.sysctl, SysctlId::nf_conntrack_udp_timeout_stream);
    ct.status |= kStatusAssured;
  } else {
    ct.expires = ctx.now + unreplied;
  }
  return L4Verdict::accept;
}

L4Verdict icmp_packet(Entry& ct, const Datagram& d, CtInfo, TrackContext& ctx) {
  if (d.l4_bytes().size() < 8) return L4Verdict::invalid;
  if (d.verify_checksum()) {
    const bool ok = d.family == Family::ipv4 ? wire::internet_checksum(d.l4_bytes()) == 0 : transport_checksum_ok(d);
    if (!ok) return L4Verdict::invalid;
  }
  // Only a query starts one (an unanswered reply is not a connection).
  if (!ct.confirmed() && !icmp_starts_connection(ct.tuple(Dir::original))) return L4Verdict::invalid;
  const SysctlId id = d.family == Family::ipv4 ? SysctlId::nf_conntrack_icmp_timeout : SysctlId::nf_conntrack_icmpv6_timeout;
  ct.expires = ctx.now + timeout(ctx.sysctl, id);
  return L4Verdict::accept;
}

L4Verdict generic_packet(Entry& ct, const Datagram&, CtInfo, TrackContext& ctx) {
  ct.expires = ctx.now + timeout(ctx.sysctl, SysctlId::nf_conntrack_generic_timeout);
  return L4Verdict::accept;
}

}  // namespace netns::conntrack
