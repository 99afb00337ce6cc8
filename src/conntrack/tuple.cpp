// Tuples from datagrams (Linux's nf_conntrack_core.c get_l4proto and
// nf_ct_get_tuple, the l4 trackers' pkt_to_tuple and invert_tuple).
#include "conntrack/tuple.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"

namespace netns::conntrack {

namespace {

std::optional<L4Position> ipv4_position(const wire::Ipv4View& ip) {
  // Conntrack sees reassembled datagrams; a later fragment carries no ports.
  if (ip.fragment_offset() != 0) return std::nullopt;
  return L4Position{static_cast<std::uint8_t>(ip.protocol()), ip.header_len()};
}

std::optional<L4Position> ipv6_position(const wire::Ipv6View& ip) {
  auto skip = wire::skip_extension_headers(ip.bytes(), wire::Ipv6Repr::kHeaderLen, ip.next_header());
  if (!skip || (skip->frag_off & 0xfff8) != 0 || skip->offset > ip.bytes().size()) return std::nullopt;
  return L4Position{skip->next_header, skip->offset};
}

// ICMP queries and their answers, both ways (Linux's invmap in
// nf_conntrack_proto_icmp.c and icmpv6.c); 0 for a type with no answer.
int icmp_inverse(std::uint8_t type) {
  switch (type) {
    case 8: return 0 + 1;  // echo -> echo reply (stored +1: 0 is a valid answer)
    case 0: return 8 + 1;
    case 13: return 14 + 1;  // timestamp
    case 14: return 13 + 1;
    case 15: return 16 + 1;  // information
    case 16: return 15 + 1;
    case 17: return 18 + 1;  // address mask
    case 18: return 17 + 1;
    default: return 0;
  }
}

int icmpv6_inverse(std::uint8_t type) {
  switch (type) {
    case 128: return 129 + 1;  // echo request -> reply
    case 129: return 128 + 1;
    case 139: return 140 + 1;  // node information query -> reply
    case 140: return 139 + 1;
    default: return 0;
  }
}

}  // namespace

IpAddress Tuple::src_address() const {
  if (family == Family::ipv4) return Ipv4Address(src[0], src[1], src[2], src[3]);
  return Ipv6Address(src);
}

IpAddress Tuple::dst_address() const {
  if (family == Family::ipv4) return Ipv4Address(dst[0], dst[1], dst[2], dst[3]);
  return Ipv6Address(dst);
}

namespace {

void store_address(std::array<std::uint8_t, 16>& out, const IpAddress& a) {
  out = {};
  if (a.is_v4()) {
    const std::uint32_t v = a.to_v4().value;
    out[0] = static_cast<std::uint8_t>(v >> 24);
    out[1] = static_cast<std::uint8_t>(v >> 16);
    out[2] = static_cast<std::uint8_t>(v >> 8);
    out[3] = static_cast<std::uint8_t>(v);
  } else {
    out = a.to_v6().bytes();
  }
}

}  // namespace

void Tuple::set_src(const IpAddress& a) { store_address(src, a); }
void Tuple::set_dst(const IpAddress& a) { store_address(dst, a); }

std::optional<L4Position> l4_position(Family family, std::span<const std::byte> datagram) {
  if (family == Family::ipv4) {
    auto ip = wire::Ipv4View::checked(datagram);
    return ip ? ipv4_position(*ip) : std::nullopt;
  }
  auto ip = wire::Ipv6View::checked(datagram);
  return ip ? ipv6_position(*ip) : std::nullopt;
}

std::optional<L4Position> quoted_l4_position(Family family, std::span<const std::byte> quoted) {
  if (family == Family::ipv4) {
    auto ip = wire::Ipv4View::checked_quoted(quoted);
    return ip ? ipv4_position(*ip) : std::nullopt;
  }
  auto ip = wire::Ipv6View::checked_quoted(quoted);
  return ip ? ipv6_position(*ip) : std::nullopt;
}

namespace {

// Stores `n` bytes from `from` at `offset` of `t` (the datagram's bytes, no
// conversion) as one store of `Word`, zero-padded: Table compares tuples
// word by word, and a load is quick only out of one earlier store.
template <class Word>
void store_word(Tuple& t, std::size_t offset, const std::byte* from, std::size_t n) {
  Word w = 0;
  std::memcpy(&w, from, n);
  std::memcpy(reinterpret_cast<unsigned char*>(&t) + offset, &w, sizeof w);
}

}  // namespace

bool tuple_into(Family family, std::span<const std::byte> datagram, L4Position at, Tuple& t) {
  t = Tuple{};
  if (family == Family::ipv4) {
    if (datagram.size() < 20) return false;
    store_word<std::uint64_t>(t, offsetof(Tuple, src), datagram.data() + 12, 4);
    store_word<std::uint64_t>(t, offsetof(Tuple, dst), datagram.data() + 16, 4);
  } else {
    if (datagram.size() < 40) return false;
    std::memcpy(t.src.data(), datagram.data() + 8, 16);
    std::memcpy(t.dst.data(), datagram.data() + 24, 16);
  }
  const std::array<std::uint8_t, 2> kind{at.protocol, static_cast<std::uint8_t>(family)};
  store_word<std::uint16_t>(t, offsetof(Tuple, protocol), reinterpret_cast<const std::byte*>(kind.data()), 2);
  const bool ported = at.protocol == kProtoTcp || at.protocol == kProtoUdp;
  if (!ported && !t.is_icmp()) return true;  // the generic tracker: addresses and protocol only
  if (at.offset > datagram.size() || datagram.size() - at.offset < 8) return false;
  auto l4 = datagram.subspan(at.offset);
  // Host order, both halves in one store (sport, then dport).
  std::array<std::uint16_t, 2> ports{};
  if (ported) {
    ports = {wire::load_be16(l4, 0), wire::load_be16(l4, 2)};
  } else {
    ports = {wire::load_be16(l4, 4), wire::load_be16(l4, 0)};  // the echo id; type, code
  }
  store_word<std::uint32_t>(t, offsetof(Tuple, sport), reinterpret_cast<const std::byte*>(ports.data()), 4);
  return true;
}

std::optional<Tuple> tuple_at(Family family, std::span<const std::byte> datagram, L4Position at) {
  Tuple t;
  if (!tuple_into(family, datagram, at, t)) return std::nullopt;
  return t;
}

std::optional<Tuple> invert(const Tuple& t) {
  std::optional<Tuple> out(t);  // built in place, as tuple_at's
  Tuple& r = *out;
  r.src = t.dst;
  r.dst = t.src;
  if (t.is_icmp()) {
    const int inverse = t.family == Family::ipv4 ? icmp_inverse(t.icmp_type()) : icmpv6_inverse(t.icmp_type());
    if (inverse == 0) return std::nullopt;
    r.dport = static_cast<std::uint16_t>((inverse - 1) << 8 | t.icmp_code());
    return out;
  }
  r.sport = t.dport;
  r.dport = t.sport;
  return out;
}

const char* protocol_name(std::uint8_t protocol) {
  switch (protocol) {
    case kProtoTcp: return "tcp";
    case kProtoUdp: return "udp";
    case kProtoIcmp: return "icmp";
    case kProtoIcmpv6: return "icmpv6";
    default: return "unknown";
  }
}

}  // namespace netns::conntrack
