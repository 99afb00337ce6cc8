// netns/wire/checksum.hpp — the Internet checksum (RFC 1071), written once for
// IPv4, ICMP, UDP and TCP.
//
//   // Fill: sum everything with the checksum field zeroed, store finish().
//   Checksum c = ipv4_pseudo_header(src, dst, 17, udp_len);
//   c.add(header);                       // spans continue each other, odd
//   c.add(payload);                      // lengths included
//   store_be16(header, 6, c.finish());
//
//   // Verify: sum everything including the stored checksum; 0 means valid.
//   bool ok = internet_checksum(ipv4_header) == 0;
//
//   // Rewrite one 16-bit word without re-summing (RFC 1624), e.g. a TTL:
//   csum = checksum_update(csum, old_ttl_proto_word, new_ttl_proto_word);
//
// ICMPv4 has no pseudo-header (RFC 792): it uses Checksum/internet_checksum
// over the message alone. UDP and TCP use ipv4_transport_checksum().
// Nothing here fails; lengths are the caller's spans.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "netns/wire/address.hpp"

namespace netns::wire {

// A running one's-complement sum. Adding several spans gives the same result as
// adding their concatenation, whatever their lengths.
class Checksum {
 public:
  constexpr Checksum() = default;

  void add(std::span<const std::byte> bytes);
  // Inline: the pseudo-header is four of these per UDP or TCP segment.
  void add_be16(std::uint16_t value) {
    if (odd_) {
      add_odd_be16(value);
    } else {
      sum_ += value;
    }
  }
  void add_be32(std::uint32_t value) {
    add_be16(static_cast<std::uint16_t>(value >> 16));
    add_be16(static_cast<std::uint16_t>(value));
  }

  // The folded sum; a trailing odd byte counts as if padded with a zero byte.
  std::uint16_t sum() const;
  // What goes in a checksum field: ~sum(). Summing data that already holds a
  // correct checksum finishes to 0.
  std::uint16_t finish() const { return static_cast<std::uint16_t>(~sum()); }

 private:
  void add_odd_be16(std::uint16_t value);

  // 64 bits: no carry is lost before 2^48 words, far beyond any packet.
  std::uint64_t sum_ = 0;
  // An odd number of bytes so far: the next byte is the low half of a word.
  bool odd_ = false;
};

// finish() of a single span: the checksum to store, or 0 when verifying.
std::uint16_t internet_checksum(std::span<const std::byte> bytes);

// Linux's ip_fast_csum check, for the forwarding path: an IPv4 header is
// whole 32-bit words, so they are summed in native order (a one's-complement
// sum commutes with byte swapping) and folded; a correct header sums to 0xffff.
inline bool ipv4_header_checksum_ok(std::span<const std::byte> header) {
  auto word = [&](std::size_t i) {
    std::uint32_t w;
    __builtin_memcpy(&w, header.data() + i, sizeof w);
    return std::uint64_t{w};
  };
  // Almost every header is the minimal 20 bytes: five loads, unrolled.
  std::uint64_t sum = header.size() >= 20 ? word(0) + word(4) + word(8) + word(12) + word(16) : 0;
  for (std::size_t i = 20; i + 4 <= header.size(); i += 4) sum += word(i);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffu) + (sum >> 16);
  sum = (sum & 0xffffu) + (sum >> 16);
  return sum == 0xffffu;
}

// A Checksum primed with the IPv4 pseudo-header (RFC 768, RFC 793 3.1):
// source, destination, zero, protocol, and the transport length.
Checksum ipv4_pseudo_header(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                            std::uint16_t length);

// Pseudo-header plus the whole segment (header and payload). With the checksum
// field zeroed it is the value to store; over a received segment it is 0 when
// the checksum is right. Precondition: segment.size() <= 65535.
std::uint16_t ipv4_transport_checksum(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                                      std::span<const std::byte> segment);

// A Checksum primed with the IPv6 pseudo-header (RFC 8200 8.1): source,
// destination, the upper-layer length (32 bits), three zero bytes and the
// next header. Scope ids are not summed (they are not on the wire).
Checksum ipv6_pseudo_header(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                            std::uint32_t length);

// Pseudo-header plus the whole upper-layer packet, as ipv4_transport_checksum.
std::uint16_t ipv6_transport_checksum(const Ipv6Address& src, const Ipv6Address& dst, std::uint8_t next_header,
                                      std::span<const std::byte> segment);

// RFC 1624 equation 3: HC' = ~(~HC + ~m + m'), the new checksum after one
// 16-bit word of the covered data changes from old_word to new_word. Unlike
// equation 2 it never produces 0xffff where a full recomputation would not.
std::uint16_t checksum_update(std::uint16_t checksum, std::uint16_t old_word,
                              std::uint16_t new_word);

// Fills the TCP or UDP checksum of the IPv4 packet, or the TCP, UDP or
// ICMPv6 checksum of the IPv6 packet (past its extension headers), that
// starts `ip_packet`, as a NIC does for a segment its sender left partial
// (Linux's CHECKSUM_PARTIAL). Nothing changes for another protocol, a
// non-first fragment, or bytes too short to hold the headers. The one place both Packet::finish_transport_checksum
// and capture (on a copy of the bytes) fill it.
void fill_transport_checksum(std::span<std::byte> ip_packet);

}  // namespace netns::wire
