#include "netns/wire/tcp.hpp"

#include <algorithm>
#include <array>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::wire {
namespace {
namespace wire_tcp_test {

// `curl http://93.184.216.34/` from Linux: the SYN with MSS 1460, SACK
// permitted, timestamps, NOP, window scale 7, window 64240.
constexpr auto kSynFrame = byte_array({
    0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11, 0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0xd4, 0x31, 0x40, 0x00, 0x40, 0x06,
    0x6e, 0xfd, 0xc0, 0xa8, 0x01, 0x0a, 0x5d, 0xb8, 0xd8, 0x22, 0xa0, 0xc2,
    0x00, 0x50, 0x5a, 0x3c, 0x1f, 0x02, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02,
    0xfa, 0xf0, 0x74, 0xd8, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
    0x08, 0x0a, 0x9a, 0x1b, 0x2c, 0x3d, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03,
    0x03, 0x07,
});

// The Linux server's SYN-ACK: IP id 0, TTL 56 after 8 hops, window 65160,
// the client's TSval echoed.
constexpr auto kSynAckFrame = byte_array({
    0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05, 0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x38, 0x06,
    0x4b, 0x2f, 0x5d, 0xb8, 0xd8, 0x22, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x50,
    0xa0, 0xc2, 0x7e, 0x21, 0xc9, 0xa0, 0x5a, 0x3c, 0x1f, 0x03, 0xa0, 0x12,
    0xfe, 0x88, 0xb0, 0x4d, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
    0x08, 0x0a, 0x2f, 0x0e, 0x4a, 0x11, 0x9a, 0x1b, 0x2c, 0x3d, 0x01, 0x03,
    0x03, 0x07,
});

// Later, a duplicate ACK from the client reporting one SACK block after a
// lost segment: NOP NOP timestamps, NOP NOP SACK.
constexpr auto kSackFrame = byte_array({
    0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11, 0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x40, 0xd4, 0x37, 0x40, 0x00, 0x40, 0x06,
    0x6e, 0xf3, 0xc0, 0xa8, 0x01, 0x0a, 0x5d, 0xb8, 0xd8, 0x22, 0xa0, 0xc2,
    0x00, 0x50, 0x5a, 0x3c, 0x20, 0x59, 0x7e, 0x21, 0xcf, 0x49, 0xb0, 0x10,
    0x01, 0xf5, 0xf4, 0x96, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x9a, 0x1b,
    0x30, 0x01, 0x2f, 0x0e, 0x4b, 0x20, 0x01, 0x01, 0x05, 0x0a, 0x7e, 0x21,
    0xd1, 0xa1, 0x7e, 0x21, 0xd7, 0x49,
});

constexpr std::size_t kTcpAt = EthernetView::kHeaderLen + Ipv4View::kMinHeaderLen;
const Ipv4Address kClient(192, 168, 1, 10);
const Ipv4Address kServer(93, 184, 216, 34);

template <std::size_t N>
std::vector<std::byte> tcp_part(const std::array<std::byte, N>& frame) {
  return {frame.begin() + kTcpAt, frame.end()};
}

Result<TcpRepr> parse_tcp(std::span<const std::byte> bytes, Ipv4Address src = kClient,
                          Ipv4Address dst = kServer) {
  auto view = TcpView::checked(bytes);
  if (!view) return view.error();
  return TcpRepr::parse(*view, src, dst);
}

std::vector<TcpOptionKind> option_kinds(std::span<const std::byte> options) {
  std::vector<TcpOptionKind> kinds;
  for (const auto& option : TcpOptions(options)) {
    if (!option) break;
    kinds.push_back(option->kind());
  }
  return kinds;
}

std::vector<std::byte> to_bytes(const std::vector<std::uint8_t>& values) {
  std::vector<std::byte> bytes(values.size());
  std::transform(values.begin(), values.end(), bytes.begin(),
                 [](std::uint8_t b) { return std::byte{b}; });
  return bytes;
}

// Whether walking these option bytes ends in an error. The bytes sit in a
// vector of exactly their size so ASan catches any read past them.
bool walk_fails(std::vector<std::byte> options) {
  for (const auto& option : TcpOptions(options)) {
    if (!option) return option.error() == error(Errc::bad_message);
  }
  return false;
}

// A 20-byte header plus the given options, checksummed.
std::vector<std::byte> segment_with_options(std::vector<std::uint8_t> options) {
  std::vector<std::byte> bytes(TcpView::kMinHeaderLen);
  TcpRepr{.src_port = 1, .dst_port = 2, .flags = kTcpSyn}.emit(bytes, kClient, kServer);
  for (auto b : options) bytes.push_back(std::byte{b});
  bytes[12] = std::byte(bytes.size() / 4 << 4);
  auto view = TcpMutView::checked(bytes);
  if (view) view->fill_checksum(kClient, kServer);
  return bytes;
}

TEST(WireTcp, ParsesLinuxSyn) {
  const auto bytes = tcp_part(kSynFrame);
  auto tcp = TcpView::checked(bytes);
  ASSERT_TRUE(tcp);
  EXPECT_EQ(tcp->src_port(), 41154);
  EXPECT_EQ(tcp->dst_port(), 80);
  EXPECT_EQ(tcp->seq_number(), 0x5a3c1f02u);
  EXPECT_EQ(tcp->ack_number(), 0u);
  EXPECT_EQ(tcp->header_len(), 40u);
  EXPECT_EQ(tcp->flags(), kTcpSyn);
  EXPECT_TRUE(tcp->syn());
  EXPECT_FALSE(tcp->ack() || tcp->fin() || tcp->rst() || tcp->psh() || tcp->urg() ||
               tcp->ece() || tcp->cwr());
  EXPECT_EQ(tcp->window(), 64240);
  EXPECT_EQ(tcp->checksum(), 0x74d8);
  EXPECT_EQ(tcp->urgent_pointer(), 0);
  EXPECT_TRUE(tcp->verify_checksum(kClient, kServer));
  EXPECT_EQ(tcp->options().size(), 20u);
  EXPECT_TRUE(tcp->payload().empty());

  EXPECT_EQ(option_kinds(tcp->options()),
            (std::vector{TcpOptionKind::mss, TcpOptionKind::sack_permitted,
                         TcpOptionKind::timestamps, TcpOptionKind::nop,
                         TcpOptionKind::window_scale}));

  auto repr = TcpRepr::parse(*tcp, kClient, kServer);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->mss, 1460);
  EXPECT_TRUE(repr->sack_permitted);
  EXPECT_EQ(repr->timestamps, (TcpTimestamps{0x9a1b2c3d, 0}));
  EXPECT_EQ(repr->window_scale, 7);
  EXPECT_EQ(repr->sack_block_count, 0u);
  EXPECT_EQ(repr->payload_len, 0u);
  EXPECT_EQ(repr->header_len(), 40u);
}

TEST(WireTcp, OptionAccessorsReadTheirFields) {
  const auto bytes = tcp_part(kSynAckFrame);
  auto tcp = TcpView::checked(bytes);
  ASSERT_TRUE(tcp);
  std::size_t seen = 0;
  for (const auto& option : TcpOptions(tcp->options())) {
    ASSERT_TRUE(option);
    ++seen;
    switch (option->kind()) {
      case TcpOptionKind::mss:
        EXPECT_EQ(option->mss(), 1460);
        break;
      case TcpOptionKind::timestamps:
        EXPECT_EQ(option->timestamps(), (TcpTimestamps{0x2f0e4a11, 0x9a1b2c3d}));
        break;
      case TcpOptionKind::window_scale:
        EXPECT_EQ(option->window_scale(), 7);
        break;
      case TcpOptionKind::sack_permitted:
      case TcpOptionKind::nop:
        EXPECT_TRUE(option->data().empty());
        break;
      default:
        ADD_FAILURE() << "unexpected option " << int(option->kind());
    }
  }
  EXPECT_EQ(seen, 5u);
}

TEST(WireTcp, ParsesSynAckAgainstSyn) {
  auto syn = parse_tcp(tcp_part(kSynFrame));
  auto syn_ack = parse_tcp(tcp_part(kSynAckFrame), kServer, kClient);
  ASSERT_TRUE(syn && syn_ack);
  EXPECT_EQ(syn_ack->flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(syn_ack->ack_number, syn->seq_number + 1);
  EXPECT_EQ(syn_ack->window, 65160);
  EXPECT_EQ(syn_ack->timestamps->echo, syn->timestamps->value);
  EXPECT_EQ(syn_ack->src_port, syn->dst_port);
  // The pseudo-header binds the segment to its addresses.
  EXPECT_EQ(parse_tcp(tcp_part(kSynAckFrame), kServer, Ipv4Address(192, 168, 1, 11)).error(),
            error(Errc::bad_message));
}

TEST(WireTcp, ParsesSackBlocks) {
  const auto bytes = tcp_part(kSackFrame);
  auto repr = parse_tcp(bytes);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->flags, kTcpAck);
  EXPECT_EQ(repr->window, 501);
  EXPECT_FALSE(repr->mss);
  EXPECT_FALSE(repr->sack_permitted);
  EXPECT_EQ(repr->timestamps, (TcpTimestamps{0x9a1b3001, 0x2f0e4b20}));
  ASSERT_EQ(repr->sack_block_count, 1u);
  EXPECT_EQ(repr->sack_blocks[0], (TcpSackBlock{0x7e21d1a1, 0x7e21d749}));
  EXPECT_EQ(repr->header_len(), 44u);
}

TEST(WireTcp, EmitReproducesLinuxSegments) {
  struct Case {
    std::vector<std::byte> bytes;
    Ipv4Address src, dst;
  };
  for (const auto& [bytes, src, dst] : {Case{tcp_part(kSynFrame), kClient, kServer},
                                        Case{tcp_part(kSynAckFrame), kServer, kClient},
                                        Case{tcp_part(kSackFrame), kClient, kServer}}) {
    auto repr = parse_tcp(bytes, src, dst);
    ASSERT_TRUE(repr);
    std::vector<std::byte> out(repr->buffer_len());
    ASSERT_EQ(out.size(), bytes.size());
    repr->emit(out, src, dst);
    EXPECT_EQ(out, bytes);
  }
}

TEST(WireTcp, EmitReproducesWholeSynFrame) {
  const TcpRepr syn{.src_port = 41154,
                    .dst_port = 80,
                    .seq_number = 0x5a3c1f02,
                    .flags = kTcpSyn,
                    .window = 64240,
                    .mss = 1460,
                    .window_scale = 7,
                    .sack_permitted = true,
                    .timestamps = TcpTimestamps{0x9a1b2c3d, 0}};
  std::array<std::byte, kSynFrame.size()> out{};
  const std::span<std::byte> all(out);
  syn.emit(all.subspan(kTcpAt), kClient, kServer);
  Ipv4Repr{.src = kClient,
           .dst = kServer,
           .protocol = IpProtocol::tcp,
           .payload_len = syn.buffer_len(),
           .identification = 0xd431,
           .dont_fragment = true}
      .emit(all.subspan(EthernetView::kHeaderLen));
  EthernetRepr{MacAddress(0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11),
               MacAddress(0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05), EtherType::ipv4}
      .emit(all);
  EXPECT_EQ(out, kSynFrame);
}

TEST(WireTcp, SegmentWithPayloadRoundTrips) {
  constexpr std::string_view kRequest = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";  // odd
  const TcpRepr repr{.src_port = 41154,
                     .dst_port = 80,
                     .seq_number = 0x5a3c1f03,
                     .ack_number = 0x7e21c9a1,
                     .flags = kTcpPsh | kTcpAck,
                     .window = 502,
                     .timestamps = TcpTimestamps{1, 2},
                     .payload_len = kRequest.size()};
  std::vector<std::byte> out(repr.buffer_len());
  std::transform(kRequest.begin(), kRequest.end(), out.begin() + 32,
                 [](char c) { return std::byte(c); });
  ASSERT_EQ(repr.header_len(), 32u);
  repr.emit(out, kClient, kServer);
  auto back = parse_tcp(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, repr);
  EXPECT_EQ(static_cast<char>(TcpView::checked(out)->payload()[0]), 'G');
}

TEST(WireTcp, SackPermittedWithoutTimestampsUsesNopPadding) {
  const TcpRepr repr{.flags = kTcpSyn, .mss = 536, .sack_permitted = true};
  std::vector<std::byte> out(repr.buffer_len());
  repr.emit(out, kClient, kServer);
  constexpr auto kLinuxOptions = byte_array({0x02, 0x04, 0x02, 0x18, 0x01, 0x01, 0x04, 0x02});
  ASSERT_EQ(out.size(), 20 + kLinuxOptions.size());
  EXPECT_TRUE(std::equal(kLinuxOptions.begin(), kLinuxOptions.end(), out.begin() + 20));
  auto back = parse_tcp(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, repr);
}

TEST(WireTcp, SackBlocksAreCutToFitFortyOptionBytes) {
  TcpRepr repr{.flags = kTcpAck, .sack_block_count = 4};
  for (std::uint32_t i = 0; i < 4; ++i) repr.sack_blocks[i] = {1000 * i, 1000 * i + 500};
  EXPECT_EQ(repr.header_len(), 20u + 4 + 32);  // all four fit alone

  repr.timestamps = TcpTimestamps{7, 8};
  EXPECT_EQ(repr.header_len(), 60u);  // 12 + 4 + 3 blocks
  std::vector<std::byte> out(repr.buffer_len());
  repr.emit(out, kClient, kServer);
  auto back = parse_tcp(out);
  ASSERT_TRUE(back);
  ASSERT_EQ(back->sack_block_count, 3u);
  EXPECT_EQ(back->sack_blocks[2], repr.sack_blocks[2]);

  repr.mss = 1460;
  repr.window_scale = 14;
  EXPECT_EQ(repr.header_len(), 60u);  // 4 + 12 + 4 + 4 + 2 blocks
  out.assign(repr.buffer_len(), std::byte{0});
  repr.emit(out, kClient, kServer);
  back = parse_tcp(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->sack_block_count, 2u);
}

TEST(WireTcp, EveryTruncationIsRejected) {
  for (const auto& bytes : {tcp_part(kSynFrame), tcp_part(kSackFrame)}) {
    const std::span<const std::byte> all(bytes);
    for (std::size_t n = 0; n < all.size(); ++n) {
      auto tcp = TcpView::checked(all.first(n));
      ASSERT_FALSE(tcp) << n;
      EXPECT_EQ(tcp.error(), error(Errc::message_size)) << n;
    }
  }
}

TEST(WireTcp, RejectsDataOffsetBelowFive) {
  auto bytes = tcp_part(kSynFrame);
  for (std::uint8_t offset = 0; offset < 5; ++offset) {
    bytes[12] = std::byte(offset << 4);
    EXPECT_EQ(TcpView::checked(bytes).error(), error(Errc::bad_message)) << int{offset};
  }
}

TEST(WireTcp, RejectsDataOffsetBeyondBuffer) {
  auto bytes = tcp_part(kSynFrame);
  for (std::uint8_t offset = 11; offset <= 15; ++offset) {
    bytes[12] = std::byte(offset << 4);
    EXPECT_EQ(TcpView::checked(bytes).error(), error(Errc::message_size)) << int{offset};
  }
}

TEST(WireTcp, RejectsBadChecksum) {
  auto bytes = tcp_part(kSynFrame);
  bytes[4] ^= std::byte{0x10};  // the sequence number
  EXPECT_EQ(parse_tcp(bytes).error(), error(Errc::bad_message));
}

// Linux's tcp_parse_options stops at an option of length 0 or 1 ("silly
// options") and keeps the segment with the options read before it.
TEST(WireTcp, OptionLengthZeroOrOneEndsParsingAndKeepsTheSegment) {
  for (std::uint8_t kind : {2, 3, 8, 30, 254}) {
    for (std::uint8_t length : {0, 1}) {
      // MSS 1460, the bad option, then timestamps that are never reached.
      const std::vector<std::uint8_t> options{0x02, 0x04, 0x05, 0xb4, kind, length, 0x01, 0x01,
                                              0x08, 0x0a, 0, 0, 0, 7, 0, 0, 0, 0};
      EXPECT_TRUE(walk_fails(to_bytes(options))) << int{kind} << "/" << int{length};
      auto repr = parse_tcp(segment_with_options(options));
      ASSERT_TRUE(repr) << int{kind} << "/" << int{length};
      EXPECT_EQ(repr->mss, 1460);
      EXPECT_FALSE(repr->timestamps);
      EXPECT_EQ(repr->flags, kTcpSyn);
    }
  }
}

// A partial option ends the parsing too ("don't parse partial options").
TEST(WireTcp, OptionRunningPastHeaderEndsParsingAndKeepsTheSegment) {
  const std::vector<std::vector<std::uint8_t>> cases{
      {0x01, 0x01, 0x01, 0x02},              // MSS kind, no length byte
      {0x01, 0x01, 0x02, 0x04},              // MSS length 4, two bytes left
      {0x08, 0x0a, 0x00, 0x00},              // timestamps cut short
      {0x1e, 0x28, 0x00, 0x00},              // unknown kind claiming 40 bytes
      {0x05, 0x0a, 0x00, 0x00, 0x00, 0x00},  // SACK block cut short
  };
  for (const auto& bad : cases) {
    EXPECT_TRUE(walk_fails(to_bytes(bad)));
    // A window scale option first: it is kept.
    std::vector<std::uint8_t> options{0x01, 0x03, 0x03, 0x07};
    options.insert(options.end(), bad.begin(), bad.end());
    options.resize((options.size() + 3) / 4 * 4, 0x00);  // an EOL after the bad option is never reached
    auto repr = parse_tcp(segment_with_options(options));
    ASSERT_TRUE(repr);
    EXPECT_EQ(repr->window_scale, 7);
    EXPECT_FALSE(repr->mss || repr->timestamps || repr->sack_block_count != 0);
  }
}

// A known option with the wrong length for its kind is skipped, and the
// options after it are read (tcp_parse_options checks each kind's opsize).
TEST(WireTcp, KnownOptionWithWrongLengthIsSkipped) {
  const std::vector<std::vector<std::uint8_t>> cases{
      {0x02, 0x03, 0x05, 0x01},                          // MSS of 1 byte
      {0x02, 0x06, 0x05, 0xb4, 0x00, 0x00, 0x01, 0x01},  // MSS of 4 bytes
      {0x03, 0x04, 0x07, 0x00},                          // window scale of 2 bytes
      {0x04, 0x03, 0x00, 0x01},                          // SACK-permitted with data
      {0x05, 0x02, 0x01, 0x01},                          // SACK without blocks
      {0x05, 0x09, 0, 0, 0, 1, 0, 0, 0, 0x01, 0x01, 0x01},  // SACK of 7 bytes
      {0x08, 0x08, 0, 0, 0, 1, 0, 0},                    // timestamps of 6 bytes
  };
  for (const auto& bad : cases) {
    std::vector<std::uint8_t> options = bad;
    options.insert(options.end(), {0x01, 0x01, 0x04, 0x02});  // SACK-permitted after it
    EXPECT_FALSE(walk_fails(to_bytes(options)));
    const auto bytes = to_bytes(bad);
    EXPECT_FALSE((*TcpOptions(bytes).begin())->fits_kind()) << int{bad[0]} << "/" << int{bad[1]};
    auto repr = parse_tcp(segment_with_options(options));
    ASSERT_TRUE(repr) << int{bad[0]} << "/" << int{bad[1]};
    EXPECT_TRUE(repr->sack_permitted) << int{bad[0]} << "/" << int{bad[1]};
    EXPECT_FALSE(repr->mss || repr->window_scale || repr->timestamps || repr->sack_block_count != 0)
        << int{bad[0]} << "/" << int{bad[1]};
  }
}

// The wire keeps what the peer wrote; the TCP layer ignores an MSS of 0 as
// Linux does (tests/ipv4/tcp/options_test.cpp).
TEST(WireTcp, MssOfZeroIsReadAsWritten) {
  auto repr = parse_tcp(segment_with_options({0x02, 0x04, 0x00, 0x00}));
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->mss, 0);
}

TEST(WireTcp, EndOfListStopsTheWalk) {
  // Padding after EOL is not interpreted, even if it looks malformed.
  const auto options = byte_array({0x02, 0x04, 0x05, 0xb4, 0x00, 0x02, 0x00, 0xff});
  EXPECT_EQ(option_kinds(options), (std::vector{TcpOptionKind::mss, TcpOptionKind::end}));
  EXPECT_FALSE(walk_fails({options.begin(), options.end()}));
  EXPECT_TRUE(parse_tcp(segment_with_options({0x02, 0x04, 0x05, 0xb4, 0x00, 0x02, 0x00, 0xff})));
}

TEST(WireTcp, UnknownOptionsAreWalkedAndIgnored) {
  // A TCP Fast Open cookie request (kind 34, length 2) and an experimental option.
  const std::vector<std::uint8_t> options{0x22, 0x02, 0xfe, 0x06, 0xf9, 0x89,
                                          0x12, 0x34, 0x02, 0x04, 0x05, 0x78};
  auto segment = segment_with_options(options);
  auto tcp = TcpView::checked(segment);
  ASSERT_TRUE(tcp);
  std::vector<std::size_t> data_sizes;
  for (const auto& option : TcpOptions(tcp->options())) {
    ASSERT_TRUE(option);
    data_sizes.push_back(option->data().size());
  }
  EXPECT_EQ(data_sizes, (std::vector<std::size_t>{0, 4, 2}));
  auto repr = TcpRepr::parse(*tcp, kClient, kServer);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->mss, 1400);
}

TEST(WireTcp, RandomOptionBytesNeverReadOutOfBounds) {
  // Each walk sees a vector of exactly its size; ASan reports any overrun.
  std::mt19937 rng(9293);
  std::uniform_int_distribution<int> len(0, 40), byte(0, 255), small(0, 12);
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> options(static_cast<std::size_t>(len(rng)));
    // Mostly small values, so kinds and lengths are often plausible.
    for (auto& b : options) b = std::byte(round % 2 ? small(rng) : byte(rng));
    std::size_t walked = 0;
    for (const auto& option : TcpOptions(options)) {
      if (option) walked += option->data().size();
    }
    ASSERT_LE(walked, options.size());
  }
}

TEST(WireTcp, MutableViewRewritesFields) {
  auto bytes = tcp_part(kSynFrame);
  auto tcp = TcpMutView::checked(bytes);
  ASSERT_TRUE(tcp);
  tcp->set_src_port(1024);
  tcp->set_dst_port(443);
  tcp->set_seq_number(1);
  tcp->set_ack_number(2);
  tcp->set_flags(kTcpRst | kTcpAck);
  tcp->set_window(0);
  tcp->set_urgent_pointer(0);
  tcp->fill_checksum(kClient, kServer);
  const TcpView view = *tcp;
  EXPECT_TRUE(view.verify_checksum(kClient, kServer));
  EXPECT_TRUE(view.rst() && view.ack());
  EXPECT_EQ(view.dst_port(), 443);
  EXPECT_EQ(view.ack_number(), 2u);
  EXPECT_EQ(view.header_len(), 40u);
}

}  // namespace wire_tcp_test
}  // namespace
}  // namespace netns::wire
