// netns/wire/ipv4.hpp — IPv4 headers (RFC 791) and the walk over their
// options.
//
//   auto ip = Ipv4View::checked(frame->payload());        // Result<Ipv4View>
//   if (!ip) return;                                       // truncated or not IPv4
//   auto repr = Ipv4Repr::parse(*ip);                      // checks the header checksum
//   if (repr && repr->protocol == IpProtocol::udp) { /* ip->payload() is the datagram */ }
//
//   // Forwarding rewrites in place, with an RFC 1624 checksum update:
//   auto fwd = Ipv4MutView::checked(packet_bytes);
//   if (fwd && fwd->ttl() > 1) fwd->decrement_ttl();
//
//   // Output writes a 20-byte header in front of an already placed payload:
//   Ipv4Repr{.src = a, .dst = b, .protocol = IpProtocol::icmp, .payload_len = n}.emit(header);
//   // ...or a longer one carrying options (a multiple of 4 bytes, at most 40):
//   repr.emit(header, options);
//
//   // Options, one at a time; a malformed one ends the walk with its offset:
//   Ipv4OptionReader reader(ip->options());
//   while (auto opt = reader.next()) { if (opt->type == Ipv4OptionType::record_route) ... }
//   if (reader.malformed_at()) { /* parameter problem, pointer 20 + *reader.malformed_at() */ }
//
// Errors, from checked(): Errc::bad_message when the version is not 4, the
// IHL is below 5 or total_length is smaller than the header; Errc::message_size
// when the header or total_length runs past the buffer. From Ipv4Repr::parse():
// Errc::bad_message for a wrong header checksum or a fragment that would end
// past 65535 bytes. Bytes past total_length (Ethernet padding) are not part
// of the view.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "netns/wire/address.hpp"
#include "netns/result.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"

namespace netns::wire {

// Any 8-bit value is representable; these are the ones the stack handles.
// IPv6's extension headers share the number space (RFC 8200 4).
enum class IpProtocol : std::uint8_t {
  hop_by_hop = 0,
  icmp = 1,
  tcp = 6,
  udp = 17,
  ipv6_routing = 43,
  ipv6_fragment = 44,
  icmpv6 = 58,
  ipv6_none = 59,
  ipv6_destination = 60,
};

// The ECN field, the TOS byte's two low bits (RFC 3168 5): a sender that
// can react to congestion marks its datagrams ECT; a router that would drop
// one of those marks it CE instead.
enum class Ecn : std::uint8_t {
  not_ect = 0,
  ect1 = 1,
  ect0 = 2,
  ce = 3,
};

struct Ipv4Repr;

// Option types (RFC 791, RFC 1108, RFC 2113): bit 7 is the copied flag
// (the option goes into every fragment), bits 5-6 the class.
enum class Ipv4OptionType : std::uint8_t {
  end_of_list = 0,
  no_operation = 1,
  record_route = 7,
  timestamp = 68,
  security = 130,
  loose_source_route = 131,
  cipso = 134,
  stream_id = 136,
  strict_source_route = 137,
  router_alert = 148,
};

inline constexpr bool is_copied(Ipv4OptionType type) { return (static_cast<std::uint8_t>(type) & 0x80) != 0; }

// The flag of a Timestamp option (low 4 bits of its fourth byte; the high 4
// count the hosts that found no room: the overflow).
enum class Ipv4TimestampFlag : std::uint8_t {
  timestamps_only = 0,
  with_addresses = 1,
  prespecified = 3,
};

// One option found by Ipv4OptionReader. For a type other than End of List
// and No Operation, `length` covers type, length and body, and the option is
// bytes [offset, offset + length) of the option area.
struct Ipv4Option {
  std::size_t offset = 0;
  Ipv4OptionType type{};
  std::uint8_t length = 1;
};

// Walks an option area (Ipv4View::options()) as RFC 791 lays it out: End of
// List ends it, No Operation is one byte, every other option is
// type-length-body. Never reads outside the area.
class Ipv4OptionReader {
 public:
  explicit Ipv4OptionReader(std::span<const std::byte> options) : options_(options) {}

  // The next option, No Operation included; nullopt at End of List, at the
  // end of the area, or at a malformed option (then malformed_at() says where).
  std::optional<Ipv4Option> next() {
    if (at_ >= options_.size() || malformed_) return std::nullopt;
    const auto type = Ipv4OptionType{load_u8(options_, at_)};
    if (type == Ipv4OptionType::end_of_list) {
      at_ = options_.size();
      return std::nullopt;
    }
    if (type == Ipv4OptionType::no_operation) return Ipv4Option{at_++, type, 1};
    // A length below 2 or past the area: Linux points at the type byte.
    const std::size_t length = at_ + 1 < options_.size() ? load_u8(options_, at_ + 1) : 0;
    if (length < 2 || length > options_.size() - at_) {
      malformed_ = at_;
      return std::nullopt;
    }
    const Ipv4Option found{at_, type, static_cast<std::uint8_t>(length)};
    at_ += length;
    return found;
  }
  // The offset (in the option area) of the malformed option that ended the walk.
  std::optional<std::size_t> malformed_at() const { return malformed_; }

 private:
  std::span<const std::byte> options_;
  std::size_t at_ = 0;
  std::optional<std::size_t> malformed_;
};

// A view over an IPv4 datagram. Lengths (header and total) are fixed by
// checked(): no setter changes them, so no accessor can leave the buffer even
// after the bytes are rewritten. Byte is `const std::byte` (Ipv4View) or
// `std::byte` (Ipv4MutView).
template <class Byte>
class BasicIpv4View {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kMinHeaderLen = 20;
  static constexpr std::size_t kMaxHeaderLen = 60;

  [[nodiscard]] static Result<BasicIpv4View> checked(std::span<Byte> bytes) {
    auto header_len = checked_header_len(bytes);
    if (!header_len) return header_len.error();
    const std::size_t total = load_be16(bytes, kTotalLength);
    if (total > bytes.size()) return error(Errc::message_size);
    return BasicIpv4View(bytes.first(total), *header_len);
  }

  // For the datagram quoted inside an ICMP error, which is cut short by
  // design (RFC 792: the header and 64 bits of data): the header must be
  // complete, the payload is whatever follows it up to total_length.
  [[nodiscard]] static Result<BasicIpv4View> checked_quoted(std::span<Byte> bytes) {
    auto header_len = checked_header_len(bytes);
    if (!header_len) return header_len.error();
    const std::size_t total = load_be16(bytes, kTotalLength);
    return BasicIpv4View(bytes.first(std::min(total, bytes.size())), *header_len);
  }

  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicIpv4View(const BasicIpv4View<Other>& other)
      : bytes_(other.bytes()), header_len_(other.header_len()) {}

  // This datagram in `bytes`, which hold the same bytes elsewhere (a packet's
  // buffer after a copy on write) or writably: the lengths checked() found
  // carry over, nothing is read or validated again, so input checks a header
  // once however often the buffer under it changes hands.
  // Precondition: bytes.size() >= bytes().size().
  template <class Other>
  BasicIpv4View<Other> rebind(std::span<Other> bytes) const {
    assert(bytes.size() >= bytes_.size());
    return BasicIpv4View<Other>(bytes.first(bytes_.size()), header_len_);
  }

  // The datagram: header, options and payload, without trailing padding.
  std::span<Byte> bytes() const { return bytes_; }
  std::span<Byte> header() const { return bytes_.first(header_len_); }
  std::span<Byte> options() const {
    return bytes_.subspan(kMinHeaderLen, header_len_ - kMinHeaderLen);
  }
  std::span<Byte> payload() const { return bytes_.subspan(header_len_); }

  std::uint8_t version() const { return load_u8(bytes_, kVersionIhl) >> 4; }
  std::size_t header_len() const { return header_len_; }
  std::uint8_t tos() const { return load_u8(bytes_, kTos); }
  std::uint8_t dscp() const { return tos() >> 2; }
  std::uint8_t ecn() const { return tos() & 0x03; }
  std::uint16_t total_length() const { return load_be16(bytes_, kTotalLength); }
  std::uint16_t identification() const { return load_be16(bytes_, kIdentification); }
  bool dont_fragment() const { return (load_be16(bytes_, kFlagsOffset) & kDontFragment) != 0; }
  bool more_fragments() const { return (load_be16(bytes_, kFlagsOffset) & kMoreFragments) != 0; }
  // In bytes (the field counts 8-byte units).
  std::uint16_t fragment_offset() const {
    return static_cast<std::uint16_t>((load_be16(bytes_, kFlagsOffset) & kOffsetMask) * 8);
  }
  bool is_fragment() const { return more_fragments() || fragment_offset() != 0; }
  std::uint8_t ttl() const { return load_u8(bytes_, kTtl); }
  IpProtocol protocol() const { return IpProtocol{load_u8(bytes_, kProtocol)}; }
  std::uint16_t header_checksum() const { return load_be16(bytes_, kChecksum); }
  Ipv4Address src() const { return load_ipv4(bytes_, kSrc); }
  Ipv4Address dst() const { return load_ipv4(bytes_, kDst); }
  bool verify_checksum() const { return ipv4_header_checksum_ok(header()); }

  void set_tos(std::uint8_t v) const requires(!std::is_const_v<Byte>) {
    store_u8(bytes_, kTos, v);
  }
  void set_identification(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kIdentification, v);
  }
  // offset_bytes must be a multiple of 8 below 65536.
  void set_fragment(bool dont_fragment, bool more_fragments, std::uint16_t offset_bytes) const
      requires(!std::is_const_v<Byte>) {
    assert(offset_bytes % 8 == 0);
    store_be16(bytes_, kFlagsOffset,
               static_cast<std::uint16_t>((dont_fragment ? kDontFragment : 0) |
                                          (more_fragments ? kMoreFragments : 0) |
                                          offset_bytes / 8));
  }
  void set_ttl(std::uint8_t v) const requires(!std::is_const_v<Byte>) {
    store_u8(bytes_, kTtl, v);
  }
  void set_protocol(IpProtocol p) const requires(!std::is_const_v<Byte>) {
    store_u8(bytes_, kProtocol, static_cast<std::uint8_t>(p));
  }
  void set_header_checksum(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kChecksum, v);
  }
  void set_src(Ipv4Address a) const requires(!std::is_const_v<Byte>) {
    store_ipv4(bytes_, kSrc, a);
  }
  void set_dst(Ipv4Address a) const requires(!std::is_const_v<Byte>) {
    store_ipv4(bytes_, kDst, a);
  }
  // Recomputes the header checksum over the header and its options.
  void fill_checksum() const requires(!std::is_const_v<Byte>) {
    set_header_checksum(0);
    set_header_checksum(internet_checksum(header()));
  }
  // TTL - 1 and the checksum patched in O(1) (RFC 1624). Precondition: ttl() > 0.
  void decrement_ttl() const requires(!std::is_const_v<Byte>) {
    assert(ttl() > 0);
    const std::uint16_t old_word = load_be16(bytes_, kTtl);
    const auto new_word = static_cast<std::uint16_t>(old_word - 0x0100);
    store_be16(bytes_, kTtl, new_word);
    set_header_checksum(checksum_update(header_checksum(), old_word, new_word));
  }

 private:
  template <class>
  friend class BasicIpv4View;
  friend struct Ipv4Repr;

  static constexpr std::size_t kVersionIhl = 0;
  static constexpr std::size_t kTos = 1;
  static constexpr std::size_t kTotalLength = 2;
  static constexpr std::size_t kIdentification = 4;
  static constexpr std::size_t kFlagsOffset = 6;
  static constexpr std::size_t kTtl = 8;  // TTL and protocol form one checksum word
  static constexpr std::size_t kProtocol = 9;
  static constexpr std::size_t kChecksum = 10;
  static constexpr std::size_t kSrc = 12;
  static constexpr std::size_t kDst = 16;
  static constexpr std::uint16_t kDontFragment = 0x4000;
  static constexpr std::uint16_t kMoreFragments = 0x2000;
  static constexpr std::uint16_t kOffsetMask = 0x1fff;

  // Version, IHL and total_length against the header (not the payload).
  [[nodiscard]] static Result<std::size_t> checked_header_len(std::span<Byte> bytes) {
    if (bytes.size() < kMinHeaderLen) return error(Errc::message_size);
    const std::uint8_t version_ihl = load_u8(bytes, kVersionIhl);
    if (version_ihl >> 4 != 4) return error(Errc::bad_message);
    const std::size_t header_len = std::size_t{version_ihl & 0x0fu} * 4;
    if (header_len < kMinHeaderLen) return error(Errc::bad_message);
    if (header_len > bytes.size()) return error(Errc::message_size);
    if (load_be16(bytes, kTotalLength) < header_len) return error(Errc::bad_message);
    return header_len;
  }

  BasicIpv4View(std::span<Byte> bytes, std::size_t header_len)
      : bytes_(bytes), header_len_(header_len) {}

  std::span<Byte> bytes_;
  std::size_t header_len_;
};

using Ipv4View = BasicIpv4View<const std::byte>;
using Ipv4MutView = BasicIpv4View<std::byte>;

// The header fields the stack acts on. parse() drops options (the view still
// has them); emit() writes a 20-byte header without options, or one with the
// options it is given.
struct Ipv4Repr {
  static constexpr std::size_t kHeaderLen = Ipv4View::kMinHeaderLen;
  static constexpr std::size_t kMaxPayloadLen = 0xffff - kHeaderLen;

  Ipv4Address src{};
  Ipv4Address dst{};
  IpProtocol protocol = IpProtocol::udp;
  std::size_t payload_len = 0;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  std::uint16_t identification = 0;
  bool dont_fragment = false;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // bytes, a multiple of 8

  [[nodiscard]] static Result<Ipv4Repr> parse(const Ipv4View& ip) {
    if (!ip.verify_checksum()) return error(Errc::bad_message);
    // The ping of death: a fragment reaching past the largest datagram.
    if (std::size_t{ip.fragment_offset()} + ip.total_length() > 0xffff)
      return error(Errc::bad_message);
    return Ipv4Repr{.src = ip.src(),
                    .dst = ip.dst(),
                    .protocol = ip.protocol(),
                    .payload_len = ip.payload().size(),
                    .ttl = ip.ttl(),
                    .tos = ip.tos(),
                    .identification = ip.identification(),
                    .dont_fragment = ip.dont_fragment(),
                    .more_fragments = ip.more_fragments(),
                    .fragment_offset = ip.fragment_offset()};
  }
  std::size_t buffer_len() const { return kHeaderLen; }
  // Writes the header, checksum included, into header[0, 20); the payload is
  // not touched. Preconditions: header.size() >= 20, payload_len <= kMaxPayloadLen.
  void emit(std::span<std::byte> header) const {
    assert(header.size() >= kHeaderLen && payload_len <= kMaxPayloadLen);
    Ipv4MutView view(header.first(kHeaderLen), kHeaderLen);
    store_u8(header, Ipv4View::kVersionIhl, 0x45);
    view.set_tos(tos);
    store_be16(header, Ipv4View::kTotalLength, static_cast<std::uint16_t>(kHeaderLen + payload_len));
    view.set_identification(identification);
    view.set_fragment(dont_fragment, more_fragments, fragment_offset);
    view.set_ttl(ttl);
    view.set_protocol(protocol);
    view.set_src(src);
    view.set_dst(dst);
    view.fill_checksum();
  }
  // The same with `options` after the fixed fields: a header of
  // 20 + options.size() bytes (IHL and total_length count them), checksum
  // included; payload_len counts what follows the options. Preconditions:
  // options.size() a multiple of 4 and at most 40, header.size() >= 20 +
  // options.size(), payload_len + options.size() <= kMaxPayloadLen.
  void emit(std::span<std::byte> header, std::span<const std::byte> options) const {
    assert(options.size() % 4 == 0 && options.size() <= Ipv4View::kMaxHeaderLen - kHeaderLen);
    assert(header.size() >= kHeaderLen + options.size());
    Ipv4Repr with = *this;
    with.payload_len += options.size();
    with.emit(header);
    if (options.empty()) return;
    std::copy(options.begin(), options.end(), header.begin() + kHeaderLen);
    store_u8(header, Ipv4View::kVersionIhl, static_cast<std::uint8_t>(0x40 | (kHeaderLen + options.size()) / 4));
    Ipv4MutView(header.first(kHeaderLen + options.size()), kHeaderLen + options.size()).fill_checksum();
  }

  friend bool operator==(const Ipv4Repr&, const Ipv4Repr&) = default;
};

}  // namespace netns::wire
