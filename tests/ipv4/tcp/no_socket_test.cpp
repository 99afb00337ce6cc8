// Segments nobody owns get the RST of RFC 9293 3.10.7.1; segments that are
// not TCP at all (short, bad offset, bad checksum, bad options) are dropped
// and counted; and nothing a peer sends can crash the namespace.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_no_socket_test {

using namespace support;

constexpr std::uint32_t kSeq = 5000;
constexpr std::uint32_t kAck = 90000;

// ---- RSTs for segments to no socket ----

struct NoSocketCase {
  const char* name;
  std::uint8_t flags;
  std::size_t payload;
  // What comes back: nothing, or an RST with these flags and numbers.
  std::optional<std::uint8_t> reply;
  std::uint32_t reply_seq = 0;
  std::uint32_t reply_ack = 0;
};

// If the segment has an ACK: <SEQ=SEG.ACK><CTL=RST>; otherwise
// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, SYN and FIN counting in SEG.LEN.
const NoSocketCase kNoSocketCases[] = {
    {"Syn", kTcpSyn, 0, kTcpRst | kTcpAck, 0, kSeq + 1},
    {"SynWithData", kTcpSyn, 10, kTcpRst | kTcpAck, 0, kSeq + 11},
    {"DataWithoutAck", kTcpPsh, 10, kTcpRst | kTcpAck, 0, kSeq + 10},
    {"FinWithoutAck", kTcpFin, 0, kTcpRst | kTcpAck, 0, kSeq + 1},
    {"Ack", kTcpAck, 0, kTcpRst, kAck, 0},
    {"AckWithData", kTcpAck | kTcpPsh, 10, kTcpRst, kAck, 0},
    {"FinAck", kTcpFin | kTcpAck, 0, kTcpRst, kAck, 0},
    {"SynAck", kTcpSyn | kTcpAck, 0, kTcpRst, kAck, 0},
    {"Rst", kTcpRst, 0, std::nullopt},
    {"RstAck", kTcpRst | kTcpAck, 0, std::nullopt},
};

class TcpNoSocket : public TcpPeerTest, public ::testing::WithParamInterface<NoSocketCase> {};

TEST_P(TcpNoSocket, AnswersAsRfc9293Says) {
  const NoSocketCase& c = GetParam();
  wire::TcpRepr seg{.src_port = kTcpPeerPort, .dst_port = 81, .seq_number = kSeq, .flags = c.flags,
                    .window = 1000, .timestamps = wire::TcpTimestamps{77, 0}};
  if (c.flags & kTcpAck) seg.ack_number = kAck;
  if (c.flags & kTcpSyn) seg.mss = 1460;
  peer_.send(seg, pattern(c.payload));
  if (!c.reply) {
    peer_.expect_none();
    EXPECT_EQ(counter("TcpOutRsts"), 0u);
    return;
  }
  const auto rst = peer_.expect(*c.reply);
  EXPECT_EQ(rst.tcp.src_port, 81);
  EXPECT_EQ(rst.tcp.dst_port, kTcpPeerPort);
  EXPECT_EQ(rst.seq(), c.reply_seq);
  EXPECT_EQ(rst.ack(), c.reply_ack);
  EXPECT_EQ(rst.tcp.window, 0);
  EXPECT_FALSE(rst.tcp.mss || rst.tcp.window_scale || rst.tcp.timestamps || rst.tcp.sack_permitted);
  EXPECT_TRUE(rst.payload.empty());
  EXPECT_EQ(rst.ip.src, kTcpLocal);
  EXPECT_EQ(rst.ip.dst, kTcpPeer);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpOutRsts"), 1u);
  EXPECT_EQ(counter("TcpInSegs"), 1u);
}

INSTANTIATE_TEST_SUITE_P(Tcp, TcpNoSocket, ::testing::ValuesIn(kNoSocketCases),
                         [](const auto& info) { return std::string(info.param.name); });

using TcpNoSocketIp = TcpPeerTest;

// RSTs sent without a socket carry DF, as Linux's control socket does (IP_PMTUDISC_DO,
// tcp_sk_init).
TEST_F(TcpNoSocketIp, RstCarriesDontFragment) {
  peer_.send({.src_port = kTcpPeerPort, .dst_port = 81, .seq_number = kSeq, .flags = kTcpSyn, .window = 1000});
  const auto rst = peer_.expect(kTcpRst | kTcpAck);
  EXPECT_TRUE(rst.ip.dont_fragment);
  EXPECT_EQ(rst.ip.ttl, 64);
}

// ---- malformed segments ----

// A SYN to the listening port 80 with an MSS option, as bytes, checksummed.
Bytes valid_syn() {
  const wire::TcpRepr syn{.src_port = kTcpPeerPort, .dst_port = kTcpLocalPort, .seq_number = kSeq,
                          .flags = kTcpSyn, .window = 65535, .mss = 1460};
  Bytes bytes(syn.buffer_len());
  syn.emit(bytes, kTcpPeer, kTcpLocal);
  return bytes;
}

void fix_checksum(Bytes& bytes) {
  auto view = wire::TcpMutView::checked(bytes);
  ASSERT_TRUE(view);
  view->fill_checksum(kTcpPeer, kTcpLocal);
}

struct MalformedCase {
  const char* name;
  std::vector<std::pair<std::size_t, std::uint8_t>> edits;  // bytes of valid_syn() overwritten
  std::size_t size = 24;       // cut to this length
  bool recompute_checksum = true;  // after the edits
  bool checksum_error = false;

  Bytes make() const {
    Bytes b = valid_syn();
    b.resize(size);
    for (auto [at, value] : edits) b[at] = std::byte{value};
    if (recompute_checksum) fix_checksum(b);
    return b;
  }
};

const MalformedCase kMalformedCases[] = {
    {"ShorterThanAHeader", {}, 19, false},
    {"DataOffsetBelowFive", {{12, 0x40}}, 24, false},
    {"DataOffsetBeyondTheSegment", {{12, 0xf0}}, 24, false},  // 60 bytes of header in 24
    {"BadChecksum", {{14, 0x00}}, 24, false, true},           // the window changed, not the sum
};

class TcpMalformed : public TcpPeerTest, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(TcpMalformed, IsDroppedAndCounted) {
  auto listener = listen();
  peer_.send_raw(GetParam().make());
  peer_.expect_none();  // no SYN-ACK, no RST
  EXPECT_EQ(counter("TcpInErrs"), 1u);
  EXPECT_EQ(counter("TcpInCsumErrors"), GetParam().checksum_error ? 1u : 0u);
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);
  EXPECT_EQ(counter("TcpOutRsts"), 0u);
  // The same SYN, well formed, is answered.
  peer_.send_raw(valid_syn());
  peer_.expect(kTcpSyn | kTcpAck);
}

INSTANTIATE_TEST_SUITE_P(Tcp, TcpMalformed, ::testing::ValuesIn(kMalformedCases),
                         [](const auto& info) { return std::string(info.param.name); });

// A malformed option is no reason to drop the segment: Linux's
// tcp_parse_options stops reading options there and the SYN is answered,
// without the MSS it could not read (536 then).
const MalformedCase kMalformedOptionCases[] = {
    {"MssOptionOfLengthThree", {{21, 3}}},
    {"OptionOfLengthZero", {{21, 0}}},
    {"OptionOfLengthOne", {{20, 99}, {21, 1}}},  // an unknown kind
    {"OptionRunningPastTheHeader", {{20, 99}, {21, 8}}},  // 8 bytes where the header has 4 left
};

class TcpMalformedOption : public TcpPeerTest, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(TcpMalformedOption, SynIsAnsweredAsLinuxAnswersIt) {
  auto listener = listen();
  peer_.send_raw(GetParam().make());
  const auto synack = peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(synack.ack(), kSeq + 1);
  EXPECT_EQ(counter("TcpInErrs"), 0u);
  // The handshake completes; data comes in segments of the default MSS.
  peer_.send({.src_port = kTcpPeerPort, .dst_port = kTcpLocalPort, .seq_number = kSeq + 1,
              .ack_number = synack.seq() + 1, .flags = kTcpAck, .window = 65535});
  auto conn = listener.accept();
  ASSERT_TRUE(conn);
  EXPECT_EQ(counter("TcpPassiveOpens"), 1u);
  EXPECT_EQ(conn->info().mss, 536u);
}

INSTANTIATE_TEST_SUITE_P(Tcp, TcpMalformedOption, ::testing::ValuesIn(kMalformedOptionCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Every segment handed to TCP counts as TcpInSegs, even a malformed one, as in Linux's
// tcp_v4_rcv (nstat shows InSegs >= InErrs).
using TcpMalformedCounters = TcpPeerTest;

TEST_F(TcpMalformedCounters, SegmentsStillCountAsInSegs) {
  Bytes bad = valid_syn();
  bad[16] ^= std::byte{1};
  peer_.send_raw(bad);
  EXPECT_EQ(counter("TcpInSegs"), 1u);
  EXPECT_EQ(counter("TcpInErrs"), 1u);
}

// ---- nothing crashes it ----

class TcpFuzz : public TcpPeerTest {
 protected:
  std::uint64_t state_ = 0x9e37'79b9'7f4a'7c15;
  std::uint32_t next() {  // splitmix64, fixed seed: a failure replays
    std::uint64_t z = (state_ += 0x9e37'79b9'7f4a'7c15);
    z = (z ^ (z >> 30)) * 0xbf58'476d'1ce4'e5b9;
    z = (z ^ (z >> 27)) * 0x94d0'49bb'1331'11eb;
    return static_cast<std::uint32_t>(z ^ (z >> 31));
  }
};

TEST_F(TcpFuzz, RandomBytesNeverCrash) {
  auto listener = listen();
  for (int i = 0; i < 3000; ++i) {
    Bytes bytes(next() % 80);
    for (auto& b : bytes) b = std::byte(next() & 0xff);
    if (bytes.size() >= 4) {
      bytes[2] = std::byte{0};
      bytes[3] = std::byte{kTcpLocalPort};  // at the listener, mostly
    }
    if (wire::TcpMutView::checked(bytes) && (next() & 1) != 0) fix_checksum(bytes);
    peer_.send_raw(bytes);
    while (peer_.pending() != 0) peer_.expect();
  }
  EXPECT_GT(counter("TcpInErrs"), 0u);
  // Still serving.
  peer_.set_self({kTcpPeer, 50000});
  peer_.connect();
  EXPECT_TRUE(listener.accept());
}

TEST_F(TcpFuzz, RandomSegmentsAtAnEstablishedConnectionNeverCrash) {
  auto conn = established();
  conn.set_nodelay(true);
  const std::uint32_t peer_seq = peer_.snd_nxt();
  const std::uint32_t our_seq = peer_.rcv_nxt();
  for (int i = 0; i < 5000 && conn.state() != tcp::State::closed; ++i) {
    const std::uint32_t r = next();
    wire::TcpRepr seg = peer_.segment(static_cast<std::uint8_t>(r & 0xff & ~kTcpSyn));
    seg.seq_number = peer_seq + (next() % 3 == 0 ? next() : next() % 200'000);
    seg.ack_number = our_seq + (next() % 3 == 0 ? next() : next() % 50'000);
    seg.window = static_cast<std::uint16_t>(next());
    if (next() % 4 == 0 && seg.timestamps) seg.timestamps->value = next();
    seg.sack_block_count = next() % 4;
    for (std::size_t b = 0; b < seg.sack_block_count; ++b) {
      seg.sack_blocks[b] = {our_seq + next() % 60'000, our_seq + next() % 60'000};
    }
    if (next() % 10 == 0) (void)write(conn, next() % 3000);
    std::array<std::byte, 512> sink{};
    if (next() % 10 == 0) (void)conn.read(sink);
    peer_.send(seg, pattern(next() % 3 == 0 ? next() % 1500 : 0));
    if (next() % 50 == 0) peer_.run_for(std::chrono::milliseconds(next() % 2000));
    while (peer_.pending() != 0) peer_.expect();
  }
  SUCCEED() << "survived in state " << tcp::to_string(conn.state());
}

}  // namespace ipv4_tcp_no_socket_test
}  // namespace
}  // namespace netns
