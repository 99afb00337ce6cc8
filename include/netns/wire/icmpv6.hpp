// netns/wire/icmpv6.hpp — ICMPv6 messages (RFC 4443): the types, a view
// checked against the pseudo-header checksum, reprs that emit with it, and
// the error builder of Linux's icmp6_send.
//
//   auto icmp = Icmpv6View::checked(ip->payload(), ip->src(), ip->dst());  // Result<Icmpv6View>
//   if (icmp && icmp->type() == Icmpv6Type::echo_request) {
//     // Reply: copy icmp->payload() to reply[8, ...), then
//     Icmpv6Repr::echo_reply(icmp->echo_id(), icmp->echo_seq(), n).emit(reply, ip->dst(), ip->src());
//   }
//   // An error about a received datagram, as Linux sends it (whole error <= 1280 bytes):
//   if (icmpv6_error_allowed(invoking, Icmpv6Type::dest_unreachable, 4, 0, link_multicast)) {
//     std::size_t n = emit_icmpv6_error(out, Ipv6Repr{.src = me, .dst = them, .hop_limit = 64},
//                                       Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::port), invoking);
//   }
//   // The datagram an error quotes:
//   auto quoted = Ipv6View::checked_quoted(icmp->payload());
//
// Errors, from checked(): Errc::message_size below 4 bytes (RFC 4443 2.1), or
// below 8 for a type this header names (each of those formats carries the
// 32-bit field); Errc::bad_message for a wrong checksum. Linux's icmpv6_rcv
// also refuses (Icmp6InErrors) a message of an unknown type below 8 bytes:
// a layer matching its counters compares bytes().size() with kHeaderLen.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "netns/result.hpp"
#include "netns/wire/address.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ipv4.hpp"
#include "netns/wire/ipv6.hpp"

namespace netns::wire {

// Any 8-bit value is representable; these are the ones the stack handles.
enum class Icmpv6Type : std::uint8_t {
  dest_unreachable = 1,
  packet_too_big = 2,
  time_exceeded = 3,
  parameter_problem = 4,
  echo_request = 128,
  echo_reply = 129,
  mld_query = 130,  // RFC 2710, RFC 3810
  mld_report = 131,
  mld_done = 132,
  router_solicitation = 133,  // RFC 4861
  router_advertisement = 134,
  neighbour_solicitation = 135,
  neighbour_advertisement = 136,
  redirect = 137,
  mld2_report = 143,  // RFC 3810
};

// RFC 4443 2.1: the high bit of the type separates informational messages.
constexpr bool is_error(std::uint8_t type) { return type < 128; }
constexpr bool is_error(Icmpv6Type type) { return is_error(static_cast<std::uint8_t>(type)); }

// Codes of Icmpv6Type::dest_unreachable (RFC 4443 3.1; 7 from RFC 6554).
enum class Icmpv6Unreachable : std::uint8_t {
  no_route = 0,
  admin_prohibited = 1,
  beyond_scope = 2,
  address = 3,
  port = 4,
  source_policy = 5,
  reject_route = 6,
  source_routing_header = 7,
};

// Codes of Icmpv6Type::time_exceeded (RFC 4443 3.3).
enum class Icmpv6TimeExceeded : std::uint8_t {
  hop_limit = 0,
  reassembly = 1,
};

// Codes of Icmpv6Type::parameter_problem (RFC 4443 3.4; 3 from RFC 8200 4.5
// and RFC 7112). The pointer is an offset from the start of the invoking
// datagram's IPv6 header.
enum class Icmpv6ParameterProblem : std::uint8_t {
  header_field = 0,
  next_header = 1,
  option = 2,
  incomplete_chain = 3,
};

// The IPv6 minimum link MTU (RFC 8200 5): no ICMPv6 error is larger.
inline constexpr std::size_t kIpv6MinMtu = 1280;

struct Icmpv6Repr;

// A view over one ICMPv6 message (the upper-layer payload). Byte is
// `const std::byte` (Icmpv6View) or `std::byte` (Icmpv6MutView).
template <class Byte>
class BasicIcmpv6View {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kMinLen = 4;     // type, code, checksum
  static constexpr std::size_t kHeaderLen = 8;  // and the 32-bit field

  // The message, its checksum verified over the pseudo-header of src and dst
  // (the addresses of the IPv6 header that carried it).
  [[nodiscard]] static Result<BasicIcmpv6View> checked(std::span<Byte> bytes, const Ipv6Address& src,
                                                       const Ipv6Address& dst) {
    if (bytes.size() < kMinLen) return error(Errc::message_size);
    if (bytes.size() < kHeaderLen && has_field(load_u8(bytes, kType))) return error(Errc::message_size);
    if (bytes.size() > 0xffff) return error(Errc::message_size);
    if (ipv6_transport_checksum(src, dst, static_cast<std::uint8_t>(IpProtocol::icmpv6), bytes) != 0) {
      return error(Errc::bad_message);
    }
    return BasicIcmpv6View(bytes);
  }

  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicIcmpv6View(const BasicIcmpv6View<Other>& other) : bytes_(other.bytes()) {}  // NOLINT: as span's

  // This message in `bytes`, which hold the same bytes (after a copy on
  // write) or writably; checked() is not repeated.
  // Precondition: bytes.size() >= bytes().size().
  template <class Other>
  BasicIcmpv6View<Other> rebind(std::span<Other> bytes) const {
    assert(bytes.size() >= bytes_.size());
    return BasicIcmpv6View<Other>(bytes.first(bytes_.size()));
  }

  std::span<Byte> bytes() const { return bytes_; }
  std::uint8_t raw_type() const { return load_u8(bytes_, kType); }
  Icmpv6Type type() const { return Icmpv6Type{raw_type()}; }
  std::uint8_t code() const { return load_u8(bytes_, kCode); }
  std::uint16_t checksum() const { return load_be16(bytes_, kChecksum); }
  // Bytes 4..7 (0 for an unknown type's message shorter than 8 bytes); the
  // accessors below name them per type.
  std::uint32_t rest_of_header() const { return bytes_.size() >= kHeaderLen ? load_be32(bytes_, kRest) : 0; }
  std::uint16_t echo_id() const { return static_cast<std::uint16_t>(rest_of_header() >> 16); }
  std::uint16_t echo_seq() const { return static_cast<std::uint16_t>(rest_of_header()); }
  std::uint32_t mtu() const { return rest_of_header(); }      // packet too big
  std::uint32_t pointer() const { return rest_of_header(); }  // parameter problem
  // Echo data, or the invoking datagram an error quotes (from its IPv6
  // header on); empty for a message shorter than 8 bytes.
  std::span<Byte> payload() const {
    return bytes_.size() >= kHeaderLen ? bytes_.subspan(kHeaderLen) : bytes_.subspan(bytes_.size());
  }

  void set_checksum(std::uint16_t v) const
    requires(!std::is_const_v<Byte>)
  {
    store_be16(bytes_, kChecksum, v);
  }
  // After rewriting the message (an echo turned into its reply in place).
  void fill_checksum(const Ipv6Address& src, const Ipv6Address& dst) const
    requires(!std::is_const_v<Byte>)
  {
    set_checksum(0);
    set_checksum(ipv6_transport_checksum(src, dst, static_cast<std::uint8_t>(IpProtocol::icmpv6), bytes_));
  }

 private:
  template <class>
  friend class BasicIcmpv6View;
  friend struct Icmpv6Repr;

  static constexpr std::size_t kType = 0, kCode = 1, kChecksum = 2, kRest = 4;

  static constexpr bool has_field(std::uint8_t type) {
    return (type >= 1 && type <= 4) || (type >= 128 && type <= 137) || type == 143;
  }
  explicit BasicIcmpv6View(std::span<Byte> bytes) : bytes_(bytes) {}

  std::span<Byte> bytes_;
};

using Icmpv6View = BasicIcmpv6View<const std::byte>;
using Icmpv6MutView = BasicIcmpv6View<std::byte>;

// The fields of a message to emit; the payload (echo data, quoted datagram)
// is placed by the caller at message[8, buffer_len()).
struct Icmpv6Repr {
  static constexpr std::size_t kHeaderLen = Icmpv6View::kHeaderLen;

  Icmpv6Type type = Icmpv6Type::echo_request;
  std::uint8_t code = 0;
  std::uint32_t rest_of_header = 0;
  std::size_t payload_len = 0;

  static Icmpv6Repr echo_request(std::uint16_t id, std::uint16_t seq, std::size_t payload_len) {
    return {Icmpv6Type::echo_request, 0, std::uint32_t{id} << 16 | seq, payload_len};
  }
  static Icmpv6Repr echo_reply(std::uint16_t id, std::uint16_t seq, std::size_t payload_len) {
    return {Icmpv6Type::echo_reply, 0, std::uint32_t{id} << 16 | seq, payload_len};
  }
  // Errors: quoted_len is what emit_icmpv6_error() sets; give it when
  // placing the quote yourself.
  static Icmpv6Repr dest_unreachable(Icmpv6Unreachable code, std::size_t quoted_len = 0) {
    return {Icmpv6Type::dest_unreachable, static_cast<std::uint8_t>(code), 0, quoted_len};
  }
  static Icmpv6Repr packet_too_big(std::uint32_t mtu, std::size_t quoted_len = 0) {
    return {Icmpv6Type::packet_too_big, 0, mtu, quoted_len};
  }
  static Icmpv6Repr time_exceeded(Icmpv6TimeExceeded code, std::size_t quoted_len = 0) {
    return {Icmpv6Type::time_exceeded, static_cast<std::uint8_t>(code), 0, quoted_len};
  }
  static Icmpv6Repr parameter_problem(Icmpv6ParameterProblem code, std::uint32_t pointer,
                                      std::size_t quoted_len = 0) {
    return {Icmpv6Type::parameter_problem, static_cast<std::uint8_t>(code), pointer, quoted_len};
  }

  // The view's checksum is already verified by checked().
  static Icmpv6Repr parse(const Icmpv6View& view) {
    return {view.type(), view.code(), view.rest_of_header(), view.payload().size()};
  }

  std::uint16_t echo_id() const { return static_cast<std::uint16_t>(rest_of_header >> 16); }
  std::uint16_t echo_seq() const { return static_cast<std::uint16_t>(rest_of_header); }

  std::size_t buffer_len() const { return kHeaderLen + payload_len; }
  // Writes message[0, 8) and the checksum over the pseudo-header of src and
  // dst and the payload already at message[8, buffer_len()).
  // Precondition: message.size() >= buffer_len() and buffer_len() <= 65535.
  void emit(std::span<std::byte> message, const Ipv6Address& src, const Ipv6Address& dst) const {
    assert(message.size() >= buffer_len());
    auto out = message.first(buffer_len());
    store_u8(out, 0, static_cast<std::uint8_t>(type));
    store_u8(out, 1, code);
    store_be32(out, 4, rest_of_header);
    Icmpv6MutView(out).fill_checksum(src, dst);
  }

  friend bool operator==(const Icmpv6Repr&, const Icmpv6Repr&) = default;
};

// How many bytes of an invoking datagram of `invoking_len` bytes an error
// quotes: all of it as far as the error stays within kIpv6MinMtu (RFC 4443
// 2.4 (c); Linux's icmp6_send), i.e. at most 1232.
constexpr std::size_t icmpv6_error_quote_len(std::size_t invoking_len) {
  return std::min(invoking_len, kIpv6MinMtu - Ipv6Repr::kHeaderLen - Icmpv6Repr::kHeaderLen);
}
// The datagram emit_icmpv6_error() writes: IPv6 header, ICMPv6 header, quote.
constexpr std::size_t icmpv6_error_len(std::size_t invoking_len) {
  return Ipv6Repr::kHeaderLen + Icmpv6Repr::kHeaderLen + icmpv6_error_quote_len(invoking_len);
}

// Whether an error about `invoking` (a received datagram from its IPv6
// header on) may be sent at all, by RFC 4443 2.4 (e) as icmp6_send judges
// it: never about an ICMPv6 error (or an ICMPv6 message too short to tell,
// unless a later fragment) nor to an unspecified or multicast source; to a
// multicast destination or a frame that came in as link-layer multicast
// (`link_multicast`) only Packet Too Big, and Parameter Problem code 2 for
// an option whose type's high bits are 10 (`info` its pointer). Rate
// limiting is the caller's. False for bytes that are not an IPv6 header.
bool icmpv6_error_allowed(std::span<const std::byte> invoking, Icmpv6Type type, std::uint8_t code,
                          std::uint32_t info, bool link_multicast);

// Writes an ICMPv6 error datagram into `out`: ip's fields (its next_header
// and payload_len are set here), `error`'s type, code and 32-bit field (its
// payload_len is replaced), and the first icmpv6_error_quote_len() bytes of
// `invoking`, checksummed. Returns the datagram's length, icmpv6_error_len().
// Precondition: out.size() >= icmpv6_error_len(invoking.size()); `out` and
// `invoking` do not overlap.
std::size_t emit_icmpv6_error(std::span<std::byte> out, Ipv6Repr ip, Icmpv6Repr error,
                              std::span<const std::byte> invoking);

}  // namespace netns::wire
