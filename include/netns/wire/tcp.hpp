// netns/wire/tcp.hpp — TCP segments (RFC 9293) and their options: MSS,
// window scale and timestamps (RFC 7323), SACK (RFC 2018).
//
//   auto tcp = TcpView::checked(ip->payload());            // Result<TcpView>
//   auto repr = tcp ? TcpRepr::parse(*tcp, ip->src(), ip->dst()) : tcp.error();
//   if (repr && (repr->flags & kTcpSyn) && repr->mss) peer_mss = *repr->mss;
//
//   for (const auto& option : TcpOptions(tcp->options())) {   // zero-copy walk
//     if (!option) break;                                  // malformed: the walk ends here
//     if (option->kind() == TcpOptionKind::timestamps && option->fits_kind())
//       ts = option->timestamps();
//   }
//
//   // Output: the caller places the payload at segment[repr.header_len(), ...).
//   TcpRepr syn{.src_port = 41154, .dst_port = 80, .seq_number = iss, .flags = kTcpSyn,
//               .window = 64240, .mss = 1460, .window_scale = 7, .sack_permitted = true,
//               .timestamps = TcpTimestamps{now, 0}};
//   syn.emit(segment, src, dst);                           // options laid out as Linux does
//
// Errors, from TcpView::checked(): Errc::message_size when the buffer is
// shorter than 20 bytes or than the data offset; Errc::bad_message when the
// data offset is below 5. From the option walk: Errc::bad_message for an
// option with length 0 or 1, or one running past the header, after which the
// walk ends. TcpRepr::parse() fails only on a wrong checksum: options are
// read as Linux's tcp_parse_options reads them — a malformed one ends the
// parsing and the segment keeps the options before it; a known option with
// the wrong length for its kind, and unknown options, are skipped.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <type_traits>

#include "netns/wire/address.hpp"
#include "netns/result.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/checksum.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::wire {

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpUrg = 0x20;
inline constexpr std::uint8_t kTcpEce = 0x40;
inline constexpr std::uint8_t kTcpCwr = 0x80;

// Any 8-bit value is representable; these are the ones the stack handles.
enum class TcpOptionKind : std::uint8_t {
  end = 0,
  nop = 1,
  mss = 2,
  window_scale = 3,
  sack_permitted = 4,
  sack = 5,
  timestamps = 8,
};

// Option lengths on the wire, kind and length bytes included (RFC 9293,
// RFC 7323, RFC 2018), with Linux's names beside them.
inline constexpr std::uint8_t kTcpOptionHeaderLen = 2;       // kind and length
inline constexpr std::uint8_t kTcpOptLenMss = 4;             // TCPOLEN_MSS
inline constexpr std::uint8_t kTcpOptLenWindowScale = 3;     // TCPOLEN_WINDOW
inline constexpr std::uint8_t kTcpOptLenSackPermitted = 2;   // TCPOLEN_SACK_PERM
inline constexpr std::uint8_t kTcpOptLenTimestamps = 10;     // TCPOLEN_TIMESTAMP
inline constexpr std::uint8_t kTcpOptLenSackBase = 2;        // TCPOLEN_SACK_BASE
inline constexpr std::uint8_t kTcpOptLenSackPerBlock = 8;    // TCPOLEN_SACK_PERBLOCK
// NOP, NOP, timestamps: the room the option takes in every segment once
// negotiated, and what an MSS loses to it.
inline constexpr std::uint8_t kTcpOptLenTimestampsAligned = 12;  // TCPOLEN_TSTAMP_ALIGNED

struct TcpSackBlock {
  std::uint32_t left = 0;   // first sequence number of the block
  std::uint32_t right = 0;  // one past its last
  friend bool operator==(const TcpSackBlock&, const TcpSackBlock&) = default;
};

struct TcpTimestamps {
  std::uint32_t value = 0;  // TSval
  std::uint32_t echo = 0;   // TSecr
  friend bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

// One option as found in the header. The typed accessors are valid only
// for the matching kind() and when fits_kind().
class TcpOption {
 public:
  TcpOptionKind kind() const { return kind_; }
  // The bytes after kind and length; empty for end and nop.
  std::span<const std::byte> data() const { return data_; }
  // Whether the length is one its kind allows (MSS 4 bytes, window scale 3,
  // SACK-permitted 2, timestamps 10, SACK 2 + 8n with n in 1..4); unknown
  // kinds may carry anything. An option that does not fit is to be skipped,
  // as Linux's tcp_parse_options skips it.
  bool fits_kind() const {
    switch (kind_) {
      case TcpOptionKind::mss:
        return data_.size() == kTcpOptLenMss - kTcpOptionHeaderLen;
      case TcpOptionKind::window_scale:
        return data_.size() == kTcpOptLenWindowScale - kTcpOptionHeaderLen;
      case TcpOptionKind::sack_permitted:
        return data_.empty();
      case TcpOptionKind::timestamps:
        return data_.size() == kTcpOptLenTimestamps - kTcpOptionHeaderLen;
      case TcpOptionKind::sack:  // 1 to 4 blocks (TcpRepr::kMaxSackBlocks)
        return data_.size() % kTcpOptLenSackPerBlock == 0 && !data_.empty() &&
               data_.size() <= 4 * kTcpOptLenSackPerBlock;
      default:
        return true;
    }
  }

  std::uint16_t mss() const;
  std::uint8_t window_scale() const;
  TcpTimestamps timestamps() const;
  std::size_t sack_block_count() const;
  TcpSackBlock sack_block(std::size_t i) const;  // i < sack_block_count()

 private:
  friend class TcpOptionIterator;
  TcpOption(TcpOptionKind kind, std::span<const std::byte> data) : kind_(kind), data_(data) {}

  TcpOptionKind kind_;
  std::span<const std::byte> data_;
};

// Walks option bytes, yielding Result<TcpOption>: each option including nop
// and a final end, or one bad_message error (a length below 2, or past the
// bytes) after which the walk stops. Bytes after an end option are padding
// and are not read.
class TcpOptionIterator {
 public:
  using value_type = Result<TcpOption>;
  using difference_type = std::ptrdiff_t;

  TcpOptionIterator() = default;  // an exhausted walk
  explicit TcpOptionIterator(std::span<const std::byte> options) : rest_(options) {
    parse_next();
  }

  const Result<TcpOption>& operator*() const { return current_; }
  const Result<TcpOption>* operator->() const { return &current_; }
  TcpOptionIterator& operator++() {
    parse_next();
    return *this;
  }
  TcpOptionIterator operator++(int) {
    auto before = *this;
    parse_next();
    return before;
  }
  friend bool operator==(const TcpOptionIterator& it, std::default_sentinel_t) { return it.done_; }

 private:
  void parse_next();

  std::span<const std::byte> rest_;
  Result<TcpOption> current_ = error(Errc::bad_message);
  bool done_ = true;
};

// The option bytes of a header as a range: `for (const auto& o : TcpOptions(bytes))`.
class TcpOptions {
 public:
  explicit TcpOptions(std::span<const std::byte> options) : options_(options) {}
  TcpOptionIterator begin() const { return TcpOptionIterator(options_); }
  std::default_sentinel_t end() const { return {}; }

 private:
  std::span<const std::byte> options_;
};

struct TcpRepr;

// A view over one TCP segment (the whole IP payload). The header length is
// fixed by checked(): no setter changes it. Byte is `const std::byte`
// (TcpView) or `std::byte` (TcpMutView).
template <class Byte>
class BasicTcpView {
  static_assert(std::is_same_v<std::remove_const_t<Byte>, std::byte>);

 public:
  static constexpr std::size_t kMinHeaderLen = 20;
  static constexpr std::size_t kMaxHeaderLen = 60;

  [[nodiscard]] static Result<BasicTcpView> checked(std::span<Byte> bytes) {
    if (bytes.size() < kMinHeaderLen) return error(Errc::message_size);
    const std::size_t header_len = std::size_t{load_u8(bytes, kDataOffset)} / 16 * 4;
    if (header_len < kMinHeaderLen) return error(Errc::bad_message);
    if (header_len > bytes.size()) return error(Errc::message_size);
    return BasicTcpView(bytes, header_len);
  }

  template <class Other>
    requires(std::is_const_v<Byte> && std::is_same_v<Other, std::byte>)
  BasicTcpView(const BasicTcpView<Other>& other)
      : bytes_(other.bytes()), header_len_(other.header_len()) {}

  std::span<Byte> bytes() const { return bytes_; }
  std::span<Byte> options() const {
    return bytes_.subspan(kMinHeaderLen, header_len_ - kMinHeaderLen);
  }
  std::span<Byte> payload() const { return bytes_.subspan(header_len_); }

  std::uint16_t src_port() const { return load_be16(bytes_, kSrcPort); }
  std::uint16_t dst_port() const { return load_be16(bytes_, kDstPort); }
  std::uint32_t seq_number() const { return load_be32(bytes_, kSeq); }
  std::uint32_t ack_number() const { return load_be32(bytes_, kAck); }
  std::size_t header_len() const { return header_len_; }
  std::uint8_t flags() const { return load_u8(bytes_, kFlags); }
  bool fin() const { return (flags() & kTcpFin) != 0; }
  bool syn() const { return (flags() & kTcpSyn) != 0; }
  bool rst() const { return (flags() & kTcpRst) != 0; }
  bool psh() const { return (flags() & kTcpPsh) != 0; }
  bool ack() const { return (flags() & kTcpAck) != 0; }
  bool urg() const { return (flags() & kTcpUrg) != 0; }
  bool ece() const { return (flags() & kTcpEce) != 0; }
  bool cwr() const { return (flags() & kTcpCwr) != 0; }
  // The four bits between the data offset and the flags (Linux's res1; the
  // lowest is AccECN's AE flag, RFC 9768).
  std::uint8_t reserved() const { return load_u8(bytes_, kDataOffset) & 0x0f; }
  std::uint16_t window() const { return load_be16(bytes_, kWindow); }  // unscaled
  std::uint16_t checksum() const { return load_be16(bytes_, kChecksum); }
  std::uint16_t urgent_pointer() const { return load_be16(bytes_, kUrgent); }
  bool verify_checksum(Ipv4Address src, Ipv4Address dst) const {
    return ipv4_transport_checksum(src, dst, kProtocol, bytes_) == 0;
  }

  void set_src_port(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kSrcPort, v);
  }
  void set_dst_port(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kDstPort, v);
  }
  void set_seq_number(std::uint32_t v) const requires(!std::is_const_v<Byte>) {
    store_be32(bytes_, kSeq, v);
  }
  void set_ack_number(std::uint32_t v) const requires(!std::is_const_v<Byte>) {
    store_be32(bytes_, kAck, v);
  }
  void set_flags(std::uint8_t v) const requires(!std::is_const_v<Byte>) {
    store_u8(bytes_, kFlags, v);
  }
  void set_window(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kWindow, v);
  }
  void set_checksum(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kChecksum, v);
  }
  void set_urgent_pointer(std::uint16_t v) const requires(!std::is_const_v<Byte>) {
    store_be16(bytes_, kUrgent, v);
  }
  // Over header, options and payload with the pseudo-header.
  void fill_checksum(Ipv4Address src, Ipv4Address dst) const requires(!std::is_const_v<Byte>) {
    set_checksum(0);
    set_checksum(ipv4_transport_checksum(src, dst, kProtocol, bytes_));
  }

 private:
  template <class>
  friend class BasicTcpView;
  friend struct TcpRepr;

  static constexpr std::uint8_t kProtocol = static_cast<std::uint8_t>(IpProtocol::tcp);
  static constexpr std::size_t kSrcPort = 0;
  static constexpr std::size_t kDstPort = 2;
  static constexpr std::size_t kSeq = 4;
  static constexpr std::size_t kAck = 8;
  static constexpr std::size_t kDataOffset = 12;  // high nibble, in 32-bit words
  static constexpr std::size_t kFlags = 13;
  static constexpr std::size_t kWindow = 14;
  static constexpr std::size_t kChecksum = 16;
  static constexpr std::size_t kUrgent = 18;

  BasicTcpView(std::span<Byte> bytes, std::size_t header_len)
      : bytes_(bytes), header_len_(header_len) {}

  std::span<Byte> bytes_;
  std::size_t header_len_;
};

using TcpView = BasicTcpView<const std::byte>;
using TcpMutView = BasicTcpView<std::byte>;

struct TcpRepr {
  static constexpr std::size_t kMinHeaderLen = TcpView::kMinHeaderLen;
  static constexpr std::size_t kMaxOptionsLen = TcpView::kMaxHeaderLen - kMinHeaderLen;
  static constexpr std::size_t kSackBlockLen = kTcpOptLenSackPerBlock;  // left and right edges
  static constexpr std::size_t kMaxSackBlocks = 4;

  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint32_t seq_number = 0;
  std::uint32_t ack_number = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;  // as on the wire, before scaling
  std::uint16_t urgent_pointer = 0;
  std::optional<std::uint16_t> mss{};
  std::optional<std::uint8_t> window_scale{};
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps{};
  std::array<TcpSackBlock, kMaxSackBlocks> sack_blocks{};
  std::size_t sack_block_count = 0;
  std::size_t payload_len = 0;

  // Errc::bad_message for a wrong checksum; options as the header comment says.
  [[nodiscard]] static Result<TcpRepr> parse(const TcpView& tcp, Ipv4Address src, Ipv4Address dst);
  // The same for a caller that has verified the checksum itself, as TCP
  // input does: it cannot fail.
  static TcpRepr parse_verified(const TcpView& tcp);

  // Options are laid out as Linux's tcp_options_write() does, NOP-padded to
  // 32-bit words. SACK blocks that do not fit the 40 option bytes left by
  // the other options are not sent (the first ones are kept).
  std::size_t options_len() const {
    const std::size_t base = options_len_without_sack();
    const std::size_t blocks = sack_blocks_sent(base);
    return base + (blocks == 0 ? 0 : 4 + blocks * kSackBlockLen);
  }
  std::size_t header_len() const { return kMinHeaderLen + options_len(); }
  std::size_t buffer_len() const { return header_len() + payload_len; }
  // Writes header and options into segment[0, header_len()) and checksums
  // them with the payload the caller already placed at
  // segment[header_len(), buffer_len()). Preconditions: segment.size() >=
  // buffer_len(), sack_block_count <= kMaxSackBlocks.
  void emit(std::span<std::byte> segment, Ipv4Address src, Ipv4Address dst) const;
  // The same without the checksum (left 0), for a segment whose checksum a
  // device fills later (Packet::checksum_partial).
  void emit_without_checksum(std::span<std::byte> segment) const;

  friend bool operator==(const TcpRepr&, const TcpRepr&) = default;

 private:
  // Inline: every segment sent asks for its header length several times.
  std::size_t options_len_without_sack() const {
    // SACK-permitted, if any, shares the timestamp's padding.
    return (mss ? 4 : 0) + (timestamps ? 12 : sack_permitted ? 4 : 0) + (window_scale ? 4 : 0);
  }
  // The SACK blocks that fit after `used` bytes of other options.
  std::size_t sack_blocks_sent(std::size_t used) const {
    used += 4;  // NOP, NOP, kind, length
    if (used >= kMaxOptionsLen) return 0;
    return std::min(sack_block_count, (kMaxOptionsLen - used) / kSackBlockLen);
  }
  void emit_options(std::span<std::byte> options) const;
};

}  // namespace netns::wire
