#include "netns/wire/tcp.hpp"

#include <algorithm>

namespace netns::wire {
namespace {

constexpr std::size_t kSackBlockLen = TcpRepr::kSackBlockLen;
constexpr std::size_t kOptionHeaderLen = kTcpOptionHeaderLen;
// NOP, NOP, timestamps kind and length: the options of most segments.
constexpr std::size_t kAlignedTimestampsLen = kTcpOptLenTimestampsAligned;
constexpr std::uint32_t kAlignedTimestampsWord = 0x0101080a;
static_assert(kAlignedTimestampsWord == (1u << 24 | 1u << 16 | 8u << 8 | kTcpOptLenTimestamps));

}  // namespace

std::uint16_t TcpOption::mss() const {
  assert(kind_ == TcpOptionKind::mss && fits_kind());
  return load_be16(data_, 0);
}

std::uint8_t TcpOption::window_scale() const {
  assert(kind_ == TcpOptionKind::window_scale && fits_kind());
  return load_u8(data_, 0);
}

TcpTimestamps TcpOption::timestamps() const {
  assert(kind_ == TcpOptionKind::timestamps && fits_kind());
  return {load_be32(data_, 0), load_be32(data_, 4)};
}

std::size_t TcpOption::sack_block_count() const {
  assert(kind_ == TcpOptionKind::sack && fits_kind());
  return data_.size() / kSackBlockLen;
}

TcpSackBlock TcpOption::sack_block(std::size_t i) const {
  assert(kind_ == TcpOptionKind::sack && i < sack_block_count());
  return {load_be32(data_, i * kSackBlockLen), load_be32(data_, i * kSackBlockLen + 4)};
}

void TcpOptionIterator::parse_next() {
  done_ = rest_.empty();
  if (done_) return;
  const auto kind = TcpOptionKind{load_u8(rest_, 0)};
  if (kind == TcpOptionKind::end || kind == TcpOptionKind::nop) {
    current_ = TcpOption(kind, {});
    // After the end option the rest is padding: stop on the next step.
    rest_ = kind == TcpOptionKind::end ? rest_.last(0) : rest_.subspan(1);
    return;
  }
  // Lengths 0 and 1 would make a walker loop or step inside the option.
  const std::size_t len = rest_.size() < kOptionHeaderLen ? 0 : load_u8(rest_, 1);
  if (len < kOptionHeaderLen || len > rest_.size()) {
    current_ = error(Errc::bad_message);
    rest_ = rest_.last(0);
    return;
  }
  current_ = TcpOption(kind, rest_.subspan(kOptionHeaderLen, len - kOptionHeaderLen));
  rest_ = rest_.subspan(len);
}

Result<TcpRepr> TcpRepr::parse(const TcpView& tcp, Ipv4Address src, Ipv4Address dst) {
  if (!tcp.verify_checksum(src, dst)) return error(Errc::bad_message);
  return parse_verified(tcp);
}

TcpRepr TcpRepr::parse_verified(const TcpView& tcp) {
  TcpRepr repr{.src_port = tcp.src_port(),
               .dst_port = tcp.dst_port(),
               .seq_number = tcp.seq_number(),
               .ack_number = tcp.ack_number(),
               .flags = tcp.flags(),
               .window = tcp.window(),
               .urgent_pointer = tcp.urgent_pointer(),
               .payload_len = tcp.payload().size()};
  const std::span<const std::byte> options = tcp.options();
  // Nearly every segment of a connection with timestamps carries them alone,
  // NOP-padded as Linux's tcp_options_write lays them out: read them at once
  // (Linux's tcp_parse_aligned_timestamp).
  if (options.size() == kAlignedTimestampsLen && load_be32(options, 0) == kAlignedTimestampsWord) {
    repr.timestamps = TcpTimestamps{load_be32(options, 4), load_be32(options, 8)};
    return repr;
  }
  for (const auto& option : TcpOptions(options)) {
    // Linux's tcp_parse_options: a malformed option ends the parsing, and
    // the segment goes on with what came before it.
    if (!option) break;
    if (!option->fits_kind()) continue;
    switch (option->kind()) {
      case TcpOptionKind::mss:
        repr.mss = option->mss();
        break;
      case TcpOptionKind::window_scale:
        repr.window_scale = option->window_scale();
        break;
      case TcpOptionKind::sack_permitted:
        repr.sack_permitted = true;
        break;
      case TcpOptionKind::timestamps:
        repr.timestamps = option->timestamps();
        break;
      case TcpOptionKind::sack:
        repr.sack_block_count = option->sack_block_count();
        for (std::size_t i = 0; i < repr.sack_block_count; ++i)
          repr.sack_blocks[i] = option->sack_block(i);
        break;
      default:
        break;
    }
  }
  return repr;
}

// Every option group is one or more whole 32-bit words, NOPs in front, so
// the fields after it stay aligned (Linux, tcp_options_write()).
void TcpRepr::emit_options(std::span<std::byte> out) const {
  std::size_t at = 0;
  auto word = [&](std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    store_be32(out, at, std::uint32_t{a} << 24 | std::uint32_t{b} << 16 | std::uint32_t{c} << 8 | d);
    at += 4;
  };
  auto u32 = [&](std::uint32_t v) {
    store_be32(out, at, v);
    at += 4;
  };
  constexpr auto kNop = static_cast<std::uint8_t>(TcpOptionKind::nop);
  constexpr auto kMss = static_cast<std::uint8_t>(TcpOptionKind::mss);
  constexpr auto kWindowScale = static_cast<std::uint8_t>(TcpOptionKind::window_scale);
  constexpr auto kSackPermitted = static_cast<std::uint8_t>(TcpOptionKind::sack_permitted);
  constexpr auto kSack = static_cast<std::uint8_t>(TcpOptionKind::sack);
  constexpr auto kTimestamps = static_cast<std::uint8_t>(TcpOptionKind::timestamps);
  if (mss) word(kMss, kTcpOptLenMss, static_cast<std::uint8_t>(*mss >> 8), static_cast<std::uint8_t>(*mss));
  if (timestamps) {
    if (sack_permitted) word(kSackPermitted, kTcpOptLenSackPermitted, kTimestamps, kTcpOptLenTimestamps);
    else word(kNop, kNop, kTimestamps, kTcpOptLenTimestamps);
    u32(timestamps->value);
    u32(timestamps->echo);
  } else if (sack_permitted) {
    word(kNop, kNop, kSackPermitted, kTcpOptLenSackPermitted);
  }
  if (window_scale) word(kNop, kWindowScale, kTcpOptLenWindowScale, *window_scale);
  const std::size_t blocks = sack_blocks_sent(options_len_without_sack());
  if (blocks > 0) {
    word(kNop, kNop, kSack, static_cast<std::uint8_t>(kTcpOptLenSackBase + blocks * kSackBlockLen));
    for (std::size_t i = 0; i < blocks; ++i) {
      u32(sack_blocks[i].left);
      u32(sack_blocks[i].right);
    }
  }
  assert(at == out.size());
}

void TcpRepr::emit(std::span<std::byte> segment, Ipv4Address src, Ipv4Address dst) const {
  const std::size_t hlen = header_len();
  emit_without_checksum(segment);
  TcpMutView(segment.first(hlen + payload_len), hlen).fill_checksum(src, dst);
}

void TcpRepr::emit_without_checksum(std::span<std::byte> segment) const {
  // Lengths once: stores through std::byte may alias *this, so the
  // compiler cannot reuse them across the writes below.
  const std::size_t hlen = header_len();
  assert(segment.size() >= hlen + payload_len && sack_block_count <= kMaxSackBlocks);
  TcpMutView view(segment.first(hlen + payload_len), hlen);
  view.set_src_port(src_port);
  view.set_dst_port(dst_port);
  view.set_seq_number(seq_number);
  view.set_ack_number(ack_number);
  store_u8(segment, TcpView::kDataOffset, static_cast<std::uint8_t>(hlen / 4 << 4));
  view.set_flags(flags);
  view.set_window(window);
  view.set_urgent_pointer(urgent_pointer);
  emit_options(view.options());
  view.set_checksum(0);
}

}  // namespace netns::wire
