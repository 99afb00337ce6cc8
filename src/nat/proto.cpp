// Rewriting datagrams by their connection's tuples (Linux's nf_nat_proto.c:
// nf_nat_packet, the l3 and l4 manip_pkt functions with their incremental
// checksums, and nf_nat_icmp_reply_translation for both families).
#include <algorithm>
#include <array>

#include "nat/nat.hpp"
#include "netns/device.hpp"
#include "netns/packet.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ipv6_ext.hpp"

namespace netns::nat {

using conntrack::CtInfo;
using conntrack::Dir;
using conntrack::Entry;
using conntrack::Tuple;
using netfilter::Verdict;

namespace {

constexpr std::size_t kIpv4MinHeader = 20;
constexpr std::size_t kIpv6Header = 40;
constexpr std::uint16_t kCsumMangled0 = 0xffff;  // Linux's CSUM_MANGLED_0: a UDP checksum that came out 0

// One 16-bit checksum field updated in place (Linux's inet_proto_csum_replace*):
// the changed words are summed first and the field written once by apply(),
// RFC 1624's equation 3 over all of them, HC' = ~(~HC + sum(~m + m')).
// A partial checksum (CHECKSUM_PARTIAL) holds the uncomplemented
// pseudo-header sum that the sender's device finishes: only
// pseudo-header words change it.
class CsumField {
 public:
  CsumField(std::span<std::byte> bytes, std::size_t at, bool partial) : bytes_(bytes), at_(at), partial_(partial) {}

  void replace(std::uint16_t from, std::uint16_t to, bool pseudohdr) {
    (pseudohdr ? pseudo_ : plain_) += std::uint32_t{static_cast<std::uint16_t>(~from)} + to;
  }
  // An address of the pseudo-header, 16 bits at a time.
  void replace_address(std::span<const std::byte> from, std::span<const std::uint8_t> to) {
    for (std::size_t i = 0; i + 1 < from.size(); i += 2) {
      replace(wire::load_be16(from, i), static_cast<std::uint16_t>(to[i] << 8 | to[i + 1]), true);
    }
  }
  // Writes the field; returns its new value.
  std::uint16_t apply() {
    const std::uint16_t f = wire::load_be16(bytes_, at_);
    const std::uint16_t v = partial_ ? fold(std::uint64_t{f} + pseudo_)
                                     : static_cast<std::uint16_t>(~fold(std::uint64_t{static_cast<std::uint16_t>(~f)} +
                                                                         pseudo_ + plain_));
    wire::store_be16(bytes_, at_, v);
    return v;
  }
  void set(std::uint16_t v) { wire::store_be16(bytes_, at_, v); }

 private:
  static std::uint16_t fold(std::uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
  }

  std::span<std::byte> bytes_;
  std::size_t at_;
  bool partial_;
  std::uint64_t pseudo_ = 0, plain_ = 0;
};

// One IP datagram (outer, or quoted in an ICMP error) being rewritten.
struct Manip {
  std::span<std::byte> ip;  // from the IP header to the end of what is there
  Family family;
  const Tuple& target;
  ManipType type;
  bool partial;

  std::size_t address_len() const { return family == Family::ipv4 ? 4 : 16; }
  // Where the address the manip changes sits in the IP header.
  std::size_t address_at() const {
    if (family == Family::ipv4) return type == ManipType::src ? 12 : 16;
    return type == ManipType::src ? 8 : 24;
  }
  std::span<const std::byte> old_address() const { return ip.subspan(address_at(), address_len()); }
  std::span<const std::uint8_t> new_address() const {
    const auto& a = type == ManipType::src ? target.src : target.dst;
    return std::span<const std::uint8_t>(a).first(address_len());
  }
  std::uint16_t new_port() const { return type == ManipType::src ? target.sport : target.dport; }
};

bool is_icmp_query(std::uint8_t type) {
  switch (type) {
    case 0: case 8:    // echo reply, echo
    case 13: case 14:  // timestamp
    case 15: case 16:  // information
    case 17: case 18:  // address mask
      return true;
    default:
      return false;
  }
}

// Linux's tcp_manip_pkt / udp_manip_pkt: the port, and the checksum when
// the header holding it is there (a quoted TCP header may be cut after 8 bytes).
bool manip_ports(const Manip& m, std::span<std::byte> l4, bool tcp) {
  if (l4.size() < 8) return false;
  const std::size_t port_at = m.type == ManipType::src ? 0 : 2;
  const std::uint16_t old_port = wire::load_be16(l4, port_at);
  const std::size_t csum_at = tcp ? 16 : 6;
  // UDP over IPv4 may carry no checksum; a quoted TCP header shorter than
  // its 20 bytes keeps its checksum as it is, as Linux's.
  const bool do_csum = tcp ? l4.size() >= 20 : wire::load_be16(l4, 6) != 0 || m.partial;
  if (do_csum) {
    CsumField c(l4, csum_at, m.partial);
    c.replace_address(m.old_address(), m.new_address());
    c.replace(old_port, m.new_port(), false);
    if (c.apply() == 0 && !tcp) c.set(kCsumMangled0);
  }
  wire::store_be16(l4, port_at, m.new_port());
  return true;
}

// Linux's icmp_manip_pkt: a query's id (ICMP has no pseudo-header).
bool manip_icmp(const Manip& m, std::span<std::byte> l4) {
  if (l4.size() < 8) return false;
  if (!is_icmp_query(wire::load_u8(l4, 0))) return true;
  CsumField c(l4, 2, false);
  c.replace(wire::load_be16(l4, 4), m.target.sport, false);
  c.apply();
  wire::store_be16(l4, 4, m.target.sport);
  return true;
}

// Linux's icmpv6_manip_pkt: the pseudo-header always, an echo's id.
bool manip_icmpv6(const Manip& m, std::span<std::byte> l4) {
  if (l4.size() < 8) return false;
  CsumField c(l4, 2, false);
  c.replace_address(m.old_address(), m.new_address());
  const std::uint8_t type = wire::load_u8(l4, 0);
  if (type == 128 || type == 129) {
    c.replace(wire::load_be16(l4, 4), m.target.sport, false);
    wire::store_be16(l4, 4, m.target.sport);
  }
  c.apply();
  return true;
}

// Linux's l4proto_manip_pkt; other protocols carry nothing NAT changes.
bool manip_l4(const Manip& m, std::uint8_t protocol, std::span<std::byte> l4) {
  switch (protocol) {
    case conntrack::kProtoTcp: return manip_ports(m, l4, true);
    case conntrack::kProtoUdp: return manip_ports(m, l4, false);
    case conntrack::kProtoIcmp: return m.family == Family::ipv4 ? manip_icmp(m, l4) : true;
    case conntrack::kProtoIcmpv6: return m.family == Family::ipv6 ? manip_icmpv6(m, l4) : true;
    default: return true;
  }
}

// Linux's nf_nat_ipv4_manip_pkt / nf_nat_ipv6_manip_pkt: the transport
// first (its pseudo-header sum reads the old address), then the address.
bool manip_ip(const Manip& m) {
  if (m.family == Family::ipv4) {
    if (m.ip.size() < kIpv4MinHeader) return false;
    const std::size_t ihl = std::size_t{wire::load_u8(m.ip, 0) & 0x0fu} * 4;
    if (ihl < kIpv4MinHeader || ihl > m.ip.size()) return false;
    const bool later_fragment = (wire::load_be16(m.ip, 6) & 0x1fff) != 0;
    if (!later_fragment && !manip_l4(m, wire::load_u8(m.ip, 9), m.ip.subspan(ihl))) return false;
    CsumField header(m.ip, 10, false);
    header.replace_address(m.old_address(), m.new_address());
    header.apply();
  } else {
    if (m.ip.size() < kIpv6Header) return false;
    auto skip = wire::skip_extension_headers(m.ip, kIpv6Header, wire::load_u8(m.ip, 6));
    if (!skip || skip->offset > m.ip.size()) return false;
    if ((skip->frag_off & 0xfff8) == 0 && !manip_l4(m, skip->next_header, m.ip.subspan(skip->offset))) return false;
  }
  auto to = m.new_address();
  for (std::size_t i = 0; i < to.size(); ++i) m.ip[m.address_at() + i] = std::byte{to[i]};
  return true;
}

// The datagram cut to its IP length (link padding is not ours to touch).
std::span<std::byte> ip_extent(Family family, std::span<std::byte> d) {
  if (family == Family::ipv4) {
    if (d.size() < kIpv4MinHeader) return {};
    return d.first(std::min<std::size_t>(d.size(), wire::load_be16(d, 2)));
  }
  if (d.size() < kIpv6Header) return {};
  return d.first(std::min<std::size_t>(d.size(), kIpv6Header + wire::load_be16(d, 4)));
}

// Linux's statusbit logic: the translation this hook applies to a datagram going `dir`.
bool needs_manip(const Entry& e, ManipType type, Dir dir) {
  bool src = type == ManipType::src;
  if (dir == Dir::reply) src = !src;  // a reply has the other side's translation undone
  return e.test(src ? conntrack::kStatusSrcNat : conntrack::kStatusDstNat);
}

ManipType opposite(ManipType t) { return t == ManipType::src ? ManipType::dst : ManipType::src; }

// What a manip reads of the inverse of `t`: the addresses and ports swapped
// (an ICMP echo's id is both directions'). conntrack::invert's checks and
// ICMP type mapping are not needed on the packet path.
Tuple mirror(const Tuple& t) {
  Tuple r = t;
  r.src = t.dst;
  r.dst = t.src;
  if (!t.is_icmp()) {
    r.sport = t.dport;
    r.dport = t.sport;
  }
  return r;
}

// Where the ICMP (ICMPv6) message starts, or 0 when the datagram is not one.
std::size_t icmp_offset(Family family, std::span<const std::byte> d) {
  if (family == Family::ipv4) {
    const std::size_t ihl = std::size_t{wire::load_u8(d, 0) & 0x0fu} * 4;
    if (wire::load_u8(d, 9) != conntrack::kProtoIcmp || (wire::load_be16(d, 6) & 0x1fff) != 0 || ihl < 20) return 0;
    return ihl;
  }
  auto skip = wire::skip_extension_headers(d, kIpv6Header, wire::load_u8(d, 6));
  if (!skip || skip->next_header != conntrack::kProtoIcmpv6 || (skip->frag_off & 0xfff8) != 0) return 0;
  return skip->offset;
}

std::uint16_t icmp_checksum(Family family, std::span<const std::byte> d, std::size_t at) {
  auto msg = d.subspan(at);
  if (family == Family::ipv4) return wire::internet_checksum(msg);
  return wire::ipv6_transport_checksum(wire::load_ipv6(d, 8), wire::load_ipv6(d, 24), conntrack::kProtoIcmpv6, msg);
}

}  // namespace

Verdict manip(std::span<std::byte> datagram, bool partial, const Entry& e, CtInfo info, netfilter::Hook hook) {
  const ManipType type = manip_of(hook);
  const Dir dir = conntrack::direction(info);
  if (!needs_manip(e, type, dir)) return Verdict::accept;
  // Look like the inverse of the other direction (nf_nat_manip_pkt).
  const Tuple target = mirror(e.tuple(conntrack::opposite(dir)));
  auto ip = ip_extent(e.family(), datagram);
  if (ip.empty()) return Verdict::drop;
  return manip_ip({ip, e.family(), target, type, partial}) ? Verdict::accept : Verdict::drop;
}

Verdict manip(Packet& packet, const Entry& e, CtInfo info, netfilter::Hook hook) {
  const ManipType type = manip_of(hook);
  if (!needs_manip(e, type, conntrack::direction(info))) return Verdict::accept;
  return manip(packet.mutable_data(), packet.checksum_partial, e, info, hook);
}

Verdict icmp_reply_translation(std::span<std::byte> datagram, const Entry& e, CtInfo info, netfilter::Hook hook) {
  const Family family = e.family();
  auto ip = ip_extent(family, datagram);
  const std::size_t at = ip.empty() ? 0 : icmp_offset(family, ip);
  const std::size_t inner_ip_min = family == Family::ipv4 ? kIpv4MinHeader : kIpv6Header;
  if (at == 0 || ip.size() < at + 8 + inner_ip_min) return Verdict::drop;
  if (icmp_checksum(family, ip, at) != 0) return Verdict::drop;
  const ManipType type = manip_of(hook);
  const Dir dir = conntrack::direction(info);
  const std::uint8_t icmp_type = wire::load_u8(ip, at);
  if (icmp_type == (family == Family::ipv4 ? 5 : 137)) {
    // A redirect would let the two ends talk past the translation.
    const std::uint32_t done = conntrack::kStatusSrcNatDone | conntrack::kStatusDstNatDone;
    if ((e.status & done) != done || e.test(conntrack::kStatusSrcNat | conntrack::kStatusDstNat)) return Verdict::drop;
  }
  if (!needs_manip(e, type, dir)) return Verdict::accept;
  // The quoted datagram went the other way: it gets the other direction's
  // view, with the opposite manip.
  const Tuple& other = e.tuple(conntrack::opposite(dir));
  if (!manip_ip({ip.subspan(at + 8), family, other, opposite(type), false})) return Verdict::drop;
  wire::store_be16(ip, at + 2, 0);
  wire::store_be16(ip, at + 2, icmp_checksum(family, ip, at));
  // The outer header now answers the quoted datagram's sender.
  auto target = conntrack::invert(other);
  if (!target) return Verdict::drop;
  Tuple outer = *target;
  outer.protocol = family == Family::ipv4 ? conntrack::kProtoIcmp : conntrack::kProtoIcmpv6;
  return manip_ip({ip, family, outer, type, false}) ? Verdict::accept : Verdict::drop;
}

namespace {

// Linux's nf_nat_oif_changed: a masqueraded connection's datagram now
// routed out of another device would leave with the old device's address.
bool oif_changed(const Entry& e, CtInfo info, const netfilter::HookState& state) {
  return e.masq_index != 0 && state.hook == netfilter::Hook::postrouting && state.out != nullptr &&
         conntrack::direction(info) == Dir::original && e.masq_index != state.out->ifindex();
}

}  // namespace

Verdict hook(Packet& packet, const netfilter::HookState& state, std::span<const netfilter::HookOps> chains) {
  Entry* e = Entry::of(packet);
  if (e == nullptr) return Verdict::accept;  // untracked or invalid: nothing to translate
  const auto info = static_cast<CtInfo>(packet.nfct_info());
  if (info == CtInfo::related || info == CtInfo::related_reply) {
    auto d = packet.mutable_data();
    if (!ip_extent(e->family(), d).empty() && icmp_offset(e->family(), ip_extent(e->family(), d)) != 0) {
      return icmp_reply_translation(d, *e, info, state.hook);
    }
  }
  const ManipType type = manip_of(state.hook);
  const bool first = info == CtInfo::new_ || info == CtInfo::related || info == CtInfo::related_reply;
  if (first && !initialized(*e, type)) {
    // The rules choose; the first chain that sets the translation up ends the search.
    bool bound = false;
    for (const netfilter::HookOps& chain : chains) {
      const Verdict v = chain.fn(chain.priv, packet, state);
      if (v != Verdict::accept) return v;
      if ((bound = initialized(*e, type))) break;
    }
    if (!bound) {
      const Verdict v = null_binding(state.net, *e, state.hook);
      if (v != Verdict::accept) return v;
    }
  } else if (oif_changed(*e, info, state)) [[unlikely]] {
    forget(state.net, *e);
    return Verdict::drop;
  }
  return manip(packet, *e, info, state.hook);
}

}  // namespace netns::nat
