// Datagrams for connection tracking tests: whole IPv4 and IPv6 datagrams
// (from the IP header, checksums right) carrying TCP, UDP, ICMP or ICMPv6,
// built field by field so a test says exactly what conntrack sees.
//
//   auto syn = ct::tcp4(kA, 40000, kB, 80, ct::kSyn, 1000, 0);
//   auto t = conntrack.track(net, Family::ipv4, syn, {.hook = conntrack::Hook::output});
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "netns/address.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"

namespace netns::support::ct {

using Bytes = std::vector<std::byte>;

inline constexpr std::uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10, kUrg = 0x20;

inline void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = std::byte(v >> 8);
  b[at + 1] = std::byte(v & 0xff);
}
inline void put32(Bytes& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}

// An IPv4 datagram around `l4`, its header checksum filled. The transport
// checksum is l4's own (see with_checksum4).
inline Bytes ipv4(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, const Bytes& l4,
                  std::uint16_t frag_field = 0x4000) {
  Bytes b(20 + l4.size());
  b[0] = std::byte{0x45};
  put16(b, 2, static_cast<std::uint16_t>(b.size()));
  put16(b, 6, frag_field);
  b[8] = std::byte{64};
  b[9] = std::byte{protocol};
  put32(b, 12, src.value);
  put32(b, 16, dst.value);
  put16(b, 10, wire::internet_checksum(std::span<const std::byte>(b).first(20)));
  std::copy(l4.begin(), l4.end(), b.begin() + 20);
  return b;
}

// An IPv6 datagram; `ext` is an extension header chain put before `l4`
// whose first header is `first` (the last one's next header must name l4's
// protocol), empty for none.
inline Bytes ipv6(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t protocol, const Bytes& l4,
                  const Bytes& ext = {}, std::uint8_t first = 0) {
  Bytes b(40 + ext.size() + l4.size());
  b[0] = std::byte{0x60};
  put16(b, 4, static_cast<std::uint16_t>(ext.size() + l4.size()));
  b[6] = std::byte{ext.empty() ? protocol : first};
  b[7] = std::byte{64};
  for (std::size_t i = 0; i < 16; ++i) {
    b[8 + i] = std::byte{src.bytes()[i]};
    b[24 + i] = std::byte{dst.bytes()[i]};
  }
  std::copy(ext.begin(), ext.end(), b.begin() + 40);
  std::copy(l4.begin(), l4.end(), b.begin() + 40 + static_cast<std::ptrdiff_t>(ext.size()));
  return b;
}

inline Bytes tcp_header(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags, std::uint32_t seq,
                        std::uint32_t ack, std::uint16_t window, std::size_t payload, const Bytes& options) {
  Bytes b(20 + options.size() + payload);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put32(b, 4, seq);
  put32(b, 8, ack);
  b[12] = std::byte(static_cast<std::uint8_t>((20 + options.size()) / 4 << 4));
  b[13] = std::byte{flags};
  put16(b, 14, window);
  std::copy(options.begin(), options.end(), b.begin() + 20);
  return b;
}

// Window scale `wscale` and SACK permitted, as a SYN offers them (12 bytes).
inline Bytes syn_options(std::uint8_t wscale) {
  return {std::byte{2},    std::byte{4}, std::byte{0x05}, std::byte{0xb4},  // MSS 1460
          std::byte{4},    std::byte{2},                                    // SACK permitted
          std::byte{1},    std::byte{3}, std::byte{3},    std::byte{wscale},  // NOP, window scale
          std::byte{1},    std::byte{1}};
}

inline Bytes tcp4(Ipv4Address src, std::uint16_t sport, Ipv4Address dst, std::uint16_t dport, std::uint8_t flags,
                  std::uint32_t seq, std::uint32_t ack, std::uint16_t window = 64240, std::size_t payload = 0,
                  const Bytes& options = {}) {
  Bytes l4 = tcp_header(sport, dport, flags, seq, ack, window, payload, options);
  put16(l4, 16, wire::ipv4_transport_checksum(src, dst, 6, l4));
  return ipv4(src, dst, 6, l4);
}

inline Bytes tcp6(const Ipv6Address& src, std::uint16_t sport, const Ipv6Address& dst, std::uint16_t dport,
                  std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, std::uint16_t window = 64240,
                  std::size_t payload = 0, const Bytes& options = {}) {
  Bytes l4 = tcp_header(sport, dport, flags, seq, ack, window, payload, options);
  put16(l4, 16, wire::ipv6_transport_checksum(src, dst, 6, l4));
  return ipv6(src, dst, 6, l4);
}

inline Bytes udp_header(std::uint16_t sport, std::uint16_t dport, std::size_t payload) {
  Bytes b(8 + payload);
  put16(b, 0, sport);
  put16(b, 2, dport);
  put16(b, 4, static_cast<std::uint16_t>(b.size()));
  return b;
}

inline Bytes udp4(Ipv4Address src, std::uint16_t sport, Ipv4Address dst, std::uint16_t dport, std::size_t payload = 4) {
  Bytes l4 = udp_header(sport, dport, payload);
  put16(l4, 6, wire::ipv4_transport_checksum(src, dst, 17, l4));
  return ipv4(src, dst, 17, l4);
}

inline Bytes udp6(const Ipv6Address& src, std::uint16_t sport, const Ipv6Address& dst, std::uint16_t dport,
                  std::size_t payload = 4, const Bytes& ext = {}, std::uint8_t first = 0) {
  Bytes l4 = udp_header(sport, dport, payload);
  put16(l4, 6, wire::ipv6_transport_checksum(src, dst, 17, l4));
  return ipv6(src, dst, 17, l4, ext, first);
}

// An ICMP message: type, code, the 4-byte rest of header, then `body`.
inline Bytes icmp_message(std::uint8_t type, std::uint8_t code, std::uint32_t rest, const Bytes& body) {
  Bytes b(8 + body.size());
  b[0] = std::byte{type};
  b[1] = std::byte{code};
  put32(b, 4, rest);
  std::copy(body.begin(), body.end(), b.begin() + 8);
  return b;
}

inline Bytes icmp4(Ipv4Address src, Ipv4Address dst, std::uint8_t type, std::uint8_t code, std::uint32_t rest,
                   const Bytes& body = Bytes(8)) {
  Bytes l4 = icmp_message(type, code, rest, body);
  put16(l4, 2, wire::internet_checksum(l4));
  return ipv4(src, dst, 1, l4);
}

inline Bytes icmp6(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t type, std::uint8_t code,
                   std::uint32_t rest, const Bytes& body = Bytes(8)) {
  Bytes l4 = icmp_message(type, code, rest, body);
  put16(l4, 2, wire::ipv6_transport_checksum(src, dst, 58, l4));
  return ipv6(src, dst, 58, l4);
}

// Echo id and sequence as the rest of header.
constexpr std::uint32_t echo(std::uint16_t id, std::uint16_t seq) { return std::uint32_t{id} << 16 | seq; }

// The first `keep` bytes of a datagram, as an ICMP error quotes it.
inline Bytes quote(const Bytes& datagram, std::size_t keep) {
  return Bytes(datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(std::min(keep, datagram.size())));
}

}  // namespace netns::support::ct
