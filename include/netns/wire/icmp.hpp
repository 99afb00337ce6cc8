// netns/wire/icmp.hpp — ICMPv4 messages (RFC 792, RFC 1191 for the
// next-hop MTU). ICMPv4 checksums the message alone: no pseudo-header.
// Timestamp messages carry three 32-bit times (originate, receive, transmit)
// in milliseconds since midnight UTC, the high bit set when not.
//
//   auto icmp = IcmpView::checked(ip->payload());          // Result<IcmpView>
//   auto repr = icmp ? IcmpRepr::parse(*icmp) : icmp.error();
//   if (repr && repr->type == IcmpType::echo_request) {
//     // Reply: copy the data to reply[8, ...), then
//     IcmpRepr::echo_reply(repr->echo_id(), repr->echo_seq(), repr->payload_len).emit(reply);
//   }
//   // An error quotes the offending datagram (its header and 8 bytes at least):
//   IcmpRepr::frag_needed(1400, quoted_len).emit(message);
//   auto quoted = Ipv4View::checked_quoted(icmp->payload());
//
// Errors: IcmpView::checked() fails with Errc::message_size below 8 bytes;
// IcmpRepr::parse() with Errc::bad_message for a wrong checksum. Unknown
// types are not errors: the repr carries type, code and the 4 "rest of
// header" bytes as they are.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "netns/wire/address.hpp"
#include "netns/result.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"

namespace netns::wire {

// Any 8-bit value is representable; these are the ones the stack handles.
enum class IcmpType : std::uint8_t {
  echo_reply = 0,
  dest_unreachable = 3,
  redirect = 5,
  echo_request = 8,
  time_exceeded = 11,
  parameter_problem = 12,
  timestamp_request = 13,
  timestamp_reply = 14,
};

// Codes of IcmpType::dest_unreachable (RFC 792, RFC 1122, RFC 1812).
enum class IcmpUnreachable : std::uint8_t {
  net = 0,
  host = 1,
  protocol = 2,
  port = 3,
  frag_needed = 4,  // the rest of header carries the next-hop MTU
  source_route_failed = 5,
  net_unknown = 6,
  host_unknown = 7,
  net_prohibited = 9,
  host_prohibited = 10,
  admin_prohibited = 13,
};

// Codes of IcmpType::time_exceeded.
enum class IcmpTimeExceeded : std::uint8_t {
  ttl = 0,
  reassembly = 1,
};

struct IcmpRepr;

// A view over one ICMP message (the whole IP payload). Byte is
// `const std::byte` (IcmpView) or `std::byte` (IcmpMutView).
template <class Byte>
class BasicIcmpView {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kHeaderLen = 8;

  [[nodiscard]] static Result<BasicIcmpView> checked(std::span<Byte> bytes) {
    if (bytes.size() < kHeaderLen) return error(Errc::message_size);
    return BasicIcmpView(bytes);
  }

  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicIcmpView(const BasicIcmpView<Other>& other) : bytes_(other.bytes()) {}

  // This message in `bytes`, which hold the same bytes (a packet's buffer
  // after a copy on write) or writably: checked() is not repeated.
  // Precondition: bytes.size() >= bytes().size().
  template <class Other>
  BasicIcmpView<Other> rebind(std::span<Other> bytes) const {
    assert(bytes.size() >= bytes_.size());
    return BasicIcmpView<Other>(bytes.first(bytes_.size()));
  }

  std::span<Byte> bytes() const { return bytes_; }
  IcmpType type() const { return IcmpType{load_u8(bytes_, kType)}; }
  std::uint8_t code() const { return load_u8(bytes_, kCode); }
  std::uint16_t checksum() const { return load_be16(bytes_, kChecksum); }
  // Bytes 4..7, whose meaning depends on the type; the accessors below name them.
  std::uint32_t rest_of_header() const { return load_be32(bytes_, kRest); }
  std::uint16_t echo_id() const { return load_be16(bytes_, kRest); }
  std::uint16_t echo_seq() const { return load_be16(bytes_, kRest + 2); }
  std::uint16_t next_hop_mtu() const { return load_be16(bytes_, kRest + 2); }
  std::uint8_t pointer() const { return load_u8(bytes_, kRest); }
  // Timestamp messages (12 bytes after the header; check payload().size()).
  std::uint32_t originate_timestamp() const { return load_be32(bytes_, kHeaderLen); }
  std::uint32_t receive_timestamp() const { return load_be32(bytes_, kHeaderLen + 4); }
  std::uint32_t transmit_timestamp() const { return load_be32(bytes_, kHeaderLen + 8); }
  Ipv4Address gateway() const { return load_ipv4(bytes_, kRest); }
  // Echo data, or the quoted datagram of an error.
  std::span<Byte> payload() const { return bytes_.subspan(kHeaderLen); }
  bool verify_checksum() const { return internet_checksum(bytes_) == 0; }

  void set_type(IcmpType t) const requires(!std::is_const_v<Byte>) {
    store_u8(bytes_, kType, static_cast<std::uint8_t>(t));
  }
  void set_code(std::uint8_t c) const requires(!std::is_const_v<Byte>) {
    store_u8(bytes_, kCode, c);
  }
  void set_checksum(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kChecksum, v);
  }
  void set_rest_of_header(std::uint32_t v) const requires(!std::is_const_v<Byte>) {
    store_be32(bytes_, kRest, v);
  }
  void fill_checksum() const requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    set_checksum(internet_checksum(bytes_));
  }

 private:
  template <class>
  friend class BasicIcmpView;
  friend struct IcmpRepr;

  static constexpr std::size_t kType = 0;
  static constexpr std::size_t kCode = 1;
  static constexpr std::size_t kChecksum = 2;
  static constexpr std::size_t kRest = 4;

  explicit BasicIcmpView(std::span<Byte> bytes) : bytes_(bytes) {}

  std::span<Byte> bytes_;
};

using IcmpView = BasicIcmpView<const std::byte>;
using IcmpMutView = BasicIcmpView<std::byte>;

struct IcmpRepr {
  static constexpr std::size_t kHeaderLen = IcmpView::kHeaderLen;

  IcmpType type = IcmpType::echo_request;
  std::uint8_t code = 0;
  std::uint32_t rest_of_header = 0;
  std::size_t payload_len = 0;

  static IcmpRepr echo_request(std::uint16_t id, std::uint16_t seq, std::size_t payload_len) {
    return {IcmpType::echo_request, 0, std::uint32_t{id} << 16 | seq, payload_len};
  }
  static IcmpRepr echo_reply(std::uint16_t id, std::uint16_t seq, std::size_t payload_len) {
    return {IcmpType::echo_reply, 0, std::uint32_t{id} << 16 | seq, payload_len};
  }
  // The three timestamps are the payload the caller places at message[8, 20).
  static constexpr std::size_t kTimestampsLen = 12;
  static IcmpRepr timestamp_request(std::uint16_t id, std::uint16_t seq) {
    return {IcmpType::timestamp_request, 0, std::uint32_t{id} << 16 | seq, kTimestampsLen};
  }
  static IcmpRepr timestamp_reply(std::uint16_t id, std::uint16_t seq) {
    return {IcmpType::timestamp_reply, 0, std::uint32_t{id} << 16 | seq, kTimestampsLen};
  }
  static IcmpRepr dest_unreachable(IcmpUnreachable code, std::size_t quoted_len) {
    return {IcmpType::dest_unreachable, static_cast<std::uint8_t>(code), 0, quoted_len};
  }
  static IcmpRepr frag_needed(std::uint16_t next_hop_mtu, std::size_t quoted_len) {
    return {IcmpType::dest_unreachable, static_cast<std::uint8_t>(IcmpUnreachable::frag_needed),
            next_hop_mtu, quoted_len};
  }
  static IcmpRepr time_exceeded(IcmpTimeExceeded code, std::size_t quoted_len) {
    return {IcmpType::time_exceeded, static_cast<std::uint8_t>(code), 0, quoted_len};
  }

  [[nodiscard]] static Result<IcmpRepr> parse(const IcmpView& icmp) {
    if (!icmp.verify_checksum()) return error(Errc::bad_message);
    return IcmpRepr{icmp.type(), icmp.code(), icmp.rest_of_header(), icmp.payload().size()};
  }

  std::uint16_t echo_id() const { return static_cast<std::uint16_t>(rest_of_header >> 16); }
  std::uint16_t echo_seq() const { return static_cast<std::uint16_t>(rest_of_header); }
  std::uint16_t next_hop_mtu() const { return static_cast<std::uint16_t>(rest_of_header); }

  std::size_t buffer_len() const { return kHeaderLen + payload_len; }
  // Writes the header into message[0, 8) and checksums it with the payload
  // the caller already placed at message[8, buffer_len()). Precondition:
  // message.size() >= buffer_len().
  void emit(std::span<std::byte> message) const {
    assert(message.size() >= buffer_len());
    IcmpMutView view(message.first(buffer_len()));
    view.set_type(type);
    view.set_code(code);
    view.set_rest_of_header(rest_of_header);
    view.fill_checksum();
  }

  friend bool operator==(const IcmpRepr&, const IcmpRepr&) = default;
};

}  // namespace netns::wire
