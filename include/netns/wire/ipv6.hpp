// netns/wire/ipv6.hpp — the IPv6 fixed header (RFC 8200 3).
//
//   auto ip = Ipv6View::checked(frame->payload());        // Result<Ipv6View>
//   if (!ip) return;                                       // truncated or not IPv6
//   if (ip->next_header() == IpProtocol::icmpv6) { /* ip->payload() is the message */ }
//
//   // Forwarding rewrites the hop limit in place (IPv6 has no header checksum):
//   auto fwd = Ipv6MutView::checked(packet_bytes);
//   if (fwd && fwd->hop_limit() > 1) fwd->decrement_hop_limit();
//
//   // Output writes the 40-byte header in front of an already placed payload:
//   Ipv6Repr{.src = a, .dst = b, .next_header = IpProtocol::udp, .payload_len = n}.emit(header);
//
// Errors, from checked(): Errc::message_size when the buffer is shorter than
// the header or than the header plus payload_length (truncated);
// Errc::bad_message when the version is not 6, or for a payload length of 0
// ahead of a hop-by-hop header (a jumbogram, RFC 2675, which no link netns
// drives can carry). Bytes past the payload length (Ethernet padding) are not
// part of the view. Extension headers are walked above this view, by the
// layer that knows which it accepts.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "netns/result.hpp"
#include "netns/wire/address.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::wire {

// Byte is `const std::byte` (Ipv6View) or `std::byte` (Ipv6MutView).
template <class Byte>
class BasicIpv6View {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kHeaderLen = 40;

  [[nodiscard]] static Result<BasicIpv6View> checked(std::span<Byte> bytes) {
    if (auto ok = check_header(bytes); !ok) return ok.error();
    const std::size_t payload = load_be16(bytes, kPayloadLength);
    if (payload == 0 && load_u8(bytes, kNextHeader) == 0) return error(Errc::bad_message);
    if (kHeaderLen + payload > bytes.size()) return error(Errc::message_size);
    return BasicIpv6View(bytes.first(kHeaderLen + payload));
  }
  // The datagram quoted in an ICMPv6 error, cut short by design (RFC 4443
  // 2.4 (c)): the fixed header complete, then whatever follows it.
  [[nodiscard]] static Result<BasicIpv6View> checked_quoted(std::span<Byte> bytes) {
    if (auto ok = check_header(bytes); !ok) return ok.error();
    const std::size_t payload = load_be16(bytes, kPayloadLength);
    return BasicIpv6View(bytes.first(std::min(kHeaderLen + payload, bytes.size())));
  }

  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicIpv6View(const BasicIpv6View<Other>& other) : bytes_(other.bytes()) {}  // NOLINT: as span's

  std::uint8_t traffic_class() const {
    return static_cast<std::uint8_t>(load_be16(bytes_, 0) >> 4);
  }
  Ecn ecn() const { return Ecn{static_cast<std::uint8_t>(traffic_class() & 0x3)}; }
  std::uint32_t flow_label() const { return load_be32(bytes_, 0) & 0xfffff; }
  std::uint16_t payload_length() const { return load_be16(bytes_, kPayloadLength); }
  std::uint8_t next_header() const { return load_u8(bytes_, kNextHeader); }
  std::uint8_t hop_limit() const { return load_u8(bytes_, kHopLimit); }
  Ipv6Address src() const { return load_ipv6(bytes_, kSrc); }
  Ipv6Address dst() const { return load_ipv6(bytes_, kDst); }

  // Header and payload (without link padding); what follows the fixed header.
  std::span<Byte> bytes() const { return bytes_; }
  std::span<Byte> payload() const { return bytes_.subspan(kHeaderLen); }

  void set_hop_limit(std::uint8_t value) const
    requires(!std::is_const_v<Byte>)
  {
    store_u8(bytes_, kHopLimit, value);
  }
  void decrement_hop_limit() const
    requires(!std::is_const_v<Byte>)
  {
    set_hop_limit(static_cast<std::uint8_t>(hop_limit() - 1));
  }
  void set_ecn(Ecn ecn) const
    requires(!std::is_const_v<Byte>)
  {
    const std::uint8_t byte1 = load_u8(bytes_, 1);
    store_u8(bytes_, 1, static_cast<std::uint8_t>((byte1 & ~0x30) | static_cast<std::uint8_t>(ecn) << 4));
  }

 private:
  static constexpr std::size_t kPayloadLength = 4, kNextHeader = 6, kHopLimit = 7, kSrc = 8, kDst = 24;

  static Result<void> check_header(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return error(Errc::message_size);
    if ((load_u8(bytes, 0) >> 4) != 6) return error(Errc::bad_message);
    return {};
  }
  explicit BasicIpv6View(std::span<Byte> bytes) : bytes_(bytes) {}

  std::span<Byte> bytes_;
};

using Ipv6View = BasicIpv6View<const std::byte>;
using Ipv6MutView = BasicIpv6View<std::byte>;

// The fields of a fixed header to emit.
struct Ipv6Repr {
  static constexpr std::size_t kHeaderLen = 40;

  Ipv6Address src;
  Ipv6Address dst;
  IpProtocol next_header = IpProtocol::ipv6_none;
  std::uint8_t hop_limit = 64;
  std::uint8_t traffic_class = 0;
  std::uint32_t flow_label = 0;  // 20 bits
  std::size_t payload_len = 0;   // what follows the fixed header; at most 65535

  static Ipv6Repr parse(const Ipv6View& view) {
    return {.src = view.src(), .dst = view.dst(), .next_header = IpProtocol{view.next_header()},
            .hop_limit = view.hop_limit(), .traffic_class = view.traffic_class(),
            .flow_label = view.flow_label(), .payload_len = view.payload_length()};
  }
  // Writes header[0, 40). Precondition: header.size() >= 40, payload_len <= 65535.
  void emit(std::span<std::byte> header) const {
    store_be32(header, 0, 6u << 28 | std::uint32_t{traffic_class} << 20 | (flow_label & 0xfffff));
    store_be16(header, 4, static_cast<std::uint16_t>(payload_len));
    store_u8(header, 6, static_cast<std::uint8_t>(next_header));
    store_u8(header, 7, hop_limit);
    store_ipv6(header, 8, src);
    store_ipv6(header, 24, dst);
  }
};

}  // namespace netns::wire
