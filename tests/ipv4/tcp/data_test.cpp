// Data on an established connection, segment by segment: delivery and
// delayed ACKs, out-of-order queueing with SACK, the receive window and its
// updates, zero-window probes, Nagle.
#include <chrono>
#include <cstdint>
#include <vector>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_data_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kMss = 1448;  // 1460 less the timestamps option
constexpr std::uint32_t kBase = kTcpPeerIss + 1;  // the peer's first data byte

using TcpReceive = TcpPeerTest;
using TcpSend = TcpPeerTest;
using TcpPersist = TcpPeerTest;

wire::TcpSackBlock block(std::uint32_t from, std::uint32_t to) { return {kBase + from, kBase + to}; }

// ---- receiving ----

TEST_F(TcpReceive, InOrderDataIsDeliveredAndEverySecondSegmentAckedAtOnce) {
  auto conn = established();
  peer_.send_data(kMss);
  peer_.expect_none();  // the first waits for a second, or for the delayed-ACK timer
  peer_.send_data(kMss);
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase + 2 * kMss);
  // Linux 6.8's window: the first full segment sets the payload/truesize
  // ratio (1448 / 2144, a 2 KiB pool buffer and its bookkeeping: 172/256),
  // the window clamp follows (131072 * 172/256 = 88064), and each segment
  // opens rcv_ssthresh by two segments (tcp_grow_window) from the SYN-ACK's
  // 65160: 71000, rounded up to the 128-byte scale unit.
  EXPECT_EQ(ack.tcp.window, 555);
  EXPECT_TRUE(ack.payload.empty());
  EXPECT_EQ(ack.tcp.sack_block_count, 0u);
  peer_.expect_none();
  EXPECT_EQ(conn.readable_bytes(), 2 * kMss);
  EXPECT_EQ(read_all(conn), pattern(2 * kMss, 1));
  EXPECT_EQ(counter("TcpExtDelayedACKs"), 0u);
}

TEST_F(TcpReceive, SingleSegmentIsAckedAfterDelackMin) {
  auto conn = established();
  const auto t0 = clock_.now();
  peer_.send_data(100);
  peer_.run_for(39ms);
  peer_.expect_none();
  peer_.run_for(1ms);
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.at - t0, 40ms);  // tcp_delack_min_ms
  EXPECT_EQ(ack.ack(), kBase + 100);
  EXPECT_EQ(counter("TcpExtDelayedACKs"), 1u);
}

TEST_F(TcpReceive, DelackMinFollowsTheSysctl) {
  sysctl("net.ipv4.tcp_delack_min_ms", "100");
  auto conn = established();
  const auto t0 = clock_.now();
  peer_.send_data(100);
  peer_.run_for(1s);
  EXPECT_EQ(peer_.expect(kTcpAck).at - t0, 100ms);
}

TEST_F(TcpReceive, OutOfOrderSegmentsGetImmediateDupAcksWithSackBlocks) {
  auto conn = established();
  // [0, M) is lost; [M, 2M) arrives.
  peer_.set_snd_nxt(kBase + kMss);
  peer_.send_data(kMss);
  auto dup = peer_.expect(kTcpAck);
  EXPECT_EQ(dup.ack(), kBase);
  ASSERT_EQ(dup.tcp.sack_block_count, 1u);
  EXPECT_EQ(dup.tcp.sack_blocks[0], block(kMss, 2 * kMss));
  // [3M, 4M) arrives beyond a second hole: the newest block first (RFC 2018 4).
  peer_.set_snd_nxt(kBase + 3 * kMss);
  peer_.send_data(kMss);
  dup = peer_.expect(kTcpAck);
  EXPECT_EQ(dup.ack(), kBase);
  ASSERT_EQ(dup.tcp.sack_block_count, 2u);
  EXPECT_EQ(dup.tcp.sack_blocks[0], block(3 * kMss, 4 * kMss));
  EXPECT_EQ(dup.tcp.sack_blocks[1], block(kMss, 2 * kMss));
  EXPECT_EQ(conn.readable_bytes(), 0u);
  // The first hole is filled: a cumulative ACK at once, the rest still SACKed.
  peer_.set_snd_nxt(kBase);
  peer_.send_data(kMss);
  auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase + 2 * kMss);
  ASSERT_EQ(ack.tcp.sack_block_count, 1u);
  EXPECT_EQ(ack.tcp.sack_blocks[0], block(3 * kMss, 4 * kMss));
  // The last hole: everything is acknowledged, no SACK left.
  peer_.set_snd_nxt(kBase + 2 * kMss);
  peer_.send_data(kMss);
  ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase + 4 * kMss);
  EXPECT_EQ(ack.tcp.sack_block_count, 0u);
  peer_.expect_none();
  EXPECT_EQ(read_all(conn), pattern(4 * kMss, 1));
  EXPECT_EQ(counter("TcpExtTCPOFOQueue"), 2u);
}

TEST_F(TcpReceive, OutOfOrderWithoutSackGetsPlainDupAcks) {
  auto conn = established({.sack_permitted = false});
  peer_.set_snd_nxt(kBase + kMss);
  peer_.send_data(kMss);
  const auto dup = peer_.expect(kTcpAck);
  EXPECT_EQ(dup.ack(), kBase);
  EXPECT_EQ(dup.tcp.sack_block_count, 0u);
}

TEST_F(TcpReceive, OldDuplicateIsAckedAtOnce) {
  auto conn = established();
  peer_.send_data(kMss);
  peer_.send_data(kMss);
  peer_.expect(kTcpAck);
  peer_.set_snd_nxt(kBase);
  peer_.send_data(kMss);  // a retransmission of what we have
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase + 2 * kMss);
  EXPECT_EQ(conn.readable_bytes(), 2 * kMss);  // not delivered twice
}

TEST_F(TcpReceive, OverlappingRetransmissionDeliversOnlyTheNewPart) {
  auto conn = established();
  peer_.send_data(100);
  peer_.set_snd_nxt(kBase + 50);
  peer_.send_data(100);  // [50, 150): half old, half new
  EXPECT_EQ(read_all(conn), pattern(150, 1));
}

TEST_F(TcpReceive, SegmentBeyondTheWindowIsDroppedWithADupAck) {
  auto conn = established();
  peer_.set_snd_nxt(kBase + 200'000);  // the window is 128 KiB
  peer_.send_data(100);
  const auto dup = peer_.expect(kTcpAck);
  EXPECT_EQ(dup.ack(), kBase);
  EXPECT_EQ(dup.tcp.sack_block_count, 0u);
  EXPECT_EQ(conn.readable_bytes(), 0u);
}

TEST_F(TcpReceive, FinBeyondAHoleIsTakenWhenTheHoleFills) {
  auto conn = established();
  peer_.set_snd_nxt(kBase + 100);
  peer_.send_data(100, kTcpAck | kTcpFin);  // [100, 200) and the FIN, out of order
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), kBase);
  EXPECT_EQ(conn.state(), tcp::State::established);
  peer_.set_snd_nxt(kBase);
  peer_.send_data(100);
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase + 201);  // the data and the FIN
  EXPECT_EQ(conn.state(), tcp::State::close_wait);
  EXPECT_EQ(read_all(conn), pattern(200, 1));
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(conn.read(buf).value(), 0u);
}

TEST_F(TcpReceive, SackCarriesThreeBlocksBesideTimestamps) {
  auto conn = established();
  // Five islands beyond a hole at [0, 100): 40 option bytes hold the
  // timestamps (12) and three blocks (2 + 3 * 8), the newest first.
  for (std::uint32_t i = 1; i <= 5; ++i) {
    peer_.set_snd_nxt(kBase + 200 * i);
    peer_.send_data(100);
    peer_.expect(kTcpAck);
  }
  peer_.set_snd_nxt(kBase + 1200);
  peer_.send_data(100);
  const auto dup = peer_.expect(kTcpAck);
  ASSERT_EQ(dup.tcp.sack_block_count, 3u);
  EXPECT_EQ(dup.tcp.sack_blocks[0], block(1200, 1300));
  EXPECT_EQ(dup.tcp.sack_blocks[1], block(1000, 1100));
  EXPECT_EQ(dup.tcp.sack_blocks[2], block(800, 900));
}

TEST_F(TcpReceive, DelayedAckRidesOnData) {
  auto conn = established();
  peer_.send_data(100);
  ASSERT_EQ(write(conn, 10).value(), 10u);
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(data.ack(), kBase + 100);
  peer_.run_for(100ms);
  peer_.expect_none();  // no separate ACK after 40 ms
  peer_.ack(data);
  EXPECT_EQ(counter("TcpExtDelayedACKs"), 0u);
}

// The peer sends whatever the windows offered allow, in full segments, up to
// the furthest right edge it was offered, until the window is zero; returns
// the last ACK. Fails if an edge moves back by a whole scale unit: a
// retraction smaller than that is the scale's rounding (RFC 7323 2.4), and
// the data up to the old edge is still taken.
TcpSegment fill_window(TcpPeer& peer, std::uint32_t right_edge) {
  TcpSegment last;
  const std::int32_t unit = 1 << peer.remote_wscale();
  for (int round = 0; round < 200; ++round) {
    while (peer.snd_nxt() != right_edge) peer.send_data(std::min(kMss, right_edge - peer.snd_nxt()));
    peer.run_for(40ms);  // the delayed ACK too
    while (peer.pending() != 0) {
      last = peer.expect(kTcpAck);
      const std::uint32_t edge = last.ack() + (std::uint32_t{last.tcp.window} << peer.remote_wscale());
      EXPECT_GT(static_cast<std::int32_t>(edge - right_edge), -unit) << "the window shrank";
      if (static_cast<std::int32_t>(edge - right_edge) > 0) right_edge = edge;
    }
    if (last.tcp.window == 0 && peer.snd_nxt() == right_edge) break;
  }
  return last;
}

// Item 3 of issue 10: a receiver that never reads takes what its window
// offered and no more than its buffer (sk_rcvbuf, tcp_rmem[1]), charged at
// what the segments pin. Everything offered is kept: nothing is dropped,
// pruned or collapsed (Linux: TcpExtTCPRcvQDrop, PruneCalled stay 0).
TEST_F(TcpReceive, NeverReadingReceiverTakesNoMoreThanItsBuffer) {
  auto listener = listen();
  const auto synack = peer_.connect();
  auto conn = listener.accept().value();
  const auto last = fill_window(peer_, kBase + synack.tcp.window);
  ASSERT_EQ(last.tcp.window, 0);
  EXPECT_EQ(last.ack(), peer_.snd_nxt());  // all it offered was taken
  const tcp::Info info = conn.info();
  EXPECT_EQ(info.rcvbuf, 131072u);       // no autotuning: nothing was read
  EXPECT_LE(info.rmem_alloc, info.rcvbuf);
  EXPECT_GT(info.rmem_alloc, info.rcvbuf * 7 / 8);  // and used: the window closes below 1/16 free
  EXPECT_EQ(conn.readable_bytes(), peer_.snd_nxt() - kBase);
  EXPECT_LT(conn.readable_bytes(), 131072u);
  for (auto name : {"TcpExtTCPRcvQDrop", "TcpExtPruneCalled", "TcpExtTCPRcvCollapsed", "TcpExtTCPZeroWindowDrop"}) {
    EXPECT_EQ(counter(name), 0u) << name;
  }
  // A probe with data into the zero window is refused and answered.
  peer_.send_data(kMss);
  peer_.set_snd_nxt(peer_.snd_nxt() - kMss);
  const auto answer = peer_.expect(kTcpAck);
  EXPECT_EQ(answer.ack(), peer_.snd_nxt());
  EXPECT_EQ(answer.tcp.window, 0);
  EXPECT_EQ(counter("TcpExtTCPZeroWindowDrop"), 1u);
  EXPECT_LE(conn.info().rmem_alloc, 131072u);
}

TEST_F(TcpReceive, WindowClosesWhenTheReaderDoesNotReadAndReopensWhenItDoes) {
  sysctl("net.ipv4.tcp_rmem", "4096 16384 16384");
  auto listener = listen();
  const auto synack = peer_.connect();
  auto conn = listener.accept().value();
  // Linux's tcp_select_initial_window: half of 16 KiB in whole segments,
  // and no scale (tcp_rmem[2] fits 16 bits).
  EXPECT_EQ(synack.tcp.window, 5 * kMss);
  EXPECT_EQ(synack.tcp.window_scale, 0);
  const auto last = fill_window(peer_, kBase + synack.tcp.window);
  ASSERT_EQ(last.tcp.window, 0);
  EXPECT_EQ(last.ack(), peer_.snd_nxt());
  // A Linux-style probe (one below the window, no data) is answered.
  peer_.set_snd_nxt(peer_.snd_nxt() - 1);
  peer_.send_ack();
  peer_.set_snd_nxt(peer_.snd_nxt() + 1);
  const auto answer = peer_.expect(kTcpAck);
  EXPECT_EQ(answer.ack(), peer_.snd_nxt());
  EXPECT_EQ(answer.tcp.window, 0);
  // Seven segments pin 7 x 2144 bytes of the 16384.
  const std::size_t queued = conn.readable_bytes();
  EXPECT_EQ(queued, 7 * kMss);
  EXPECT_LE(conn.info().rmem_alloc, 16384u);
  // A little reading does not reopen it (receiver silly window avoidance).
  std::array<std::byte, 1000> some{};
  ASSERT_EQ(conn.read(some).value(), 1000u);
  peer_.expect_none();
  // Reading the rest does, at once: at most the whole buffer at the
  // measured ratio (16384 * 172/256 = 11008), at least what the SYN-ACK
  // offered, in whole segments as an unscaled window is.
  std::vector<std::byte> rest(queued);
  EXPECT_EQ(conn.read(rest).value(), queued - 1000);
  const auto update = peer_.expect(kTcpAck);
  EXPECT_EQ(update.ack(), peer_.snd_nxt());
  EXPECT_EQ(update.tcp.window % kMss, 0u);
  EXPECT_GE(update.tcp.window, 5 * kMss);
  EXPECT_LE(update.tcp.window, 11008);
  peer_.expect_none();
}

// A one-byte probe into a zero window is dropped and answered with an ACK
// (RFC 9293 3.8.6.1; Linux's tcp_data_queue counts TCPZeroWindowDrop and ACKs at once).
TEST_F(TcpReceive, ProbeIntoAZeroWindowIsDroppedAndAcked) {
  sysctl("net.ipv4.tcp_rmem", "4096 16384 16384");
  auto listener = listen();
  const auto synack = peer_.connect({.window_scale = std::nullopt});  // unscaled windows: exact edges
  auto conn = listener.accept().value();
  const auto last = fill_window(peer_, kBase + synack.tcp.window);
  ASSERT_EQ(last.tcp.window, 0);
  const std::size_t queued = conn.readable_bytes();
  peer_.send(peer_.segment(kTcpAck | kTcpPsh), pattern(1));
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), peer_.snd_nxt());
  EXPECT_EQ(ack.tcp.window, 0);
  EXPECT_EQ(conn.readable_bytes(), queued);
  EXPECT_EQ(counter("TcpExtTCPZeroWindowDrop"), 1u);
}

// ---- sending ----

TEST_F(TcpSend, NagleHoldsSmallWritesWhileDataIsUnacknowledged) {
  auto conn = established();
  ASSERT_EQ(write(conn, 10).value(), 10u);
  const auto first = peer_.expect(kTcpAck | kTcpPsh);  // nothing in flight: it goes
  EXPECT_EQ(first.payload.size(), 10u);
  ASSERT_EQ(write(conn, 10).value(), 10u);
  ASSERT_EQ(write(conn, 10).value(), 10u);
  peer_.expect_none();
  peer_.ack(first);
  const auto coalesced = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(coalesced.seq(), first.end());
  Bytes twice = pattern(10);
  const Bytes again = pattern(10);
  twice.insert(twice.end(), again.begin(), again.end());
  EXPECT_EQ(coalesced.payload, twice);
  peer_.expect_none();
}

TEST_F(TcpSend, NagleDoesNotHoldAFullSegment) {
  auto conn = established();
  ASSERT_EQ(write(conn, 10).value(), 10u);
  peer_.expect(kTcpAck | kTcpPsh);
  ASSERT_EQ(write(conn, kMss).value(), kMss);
  const auto full = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(full.payload.size(), kMss);
}

// The tail of one write of MSS + 10 bytes goes at once, not held behind the full
// segment: Linux's Minshall variant of Nagle (tcp_nagle_check, tcp_minshall_check)
// holds a small segment only while another small one is unacknowledged.
TEST_F(TcpSend, TailOfAWriteIsNotHeldBehindAFullSegment) {
  auto conn = established();
  ASSERT_EQ(write(conn, kMss + 10).value(), kMss + 10);
  EXPECT_EQ(peer_.expect(kTcpAck).payload.size(), kMss);
  EXPECT_EQ(peer_.expect(kTcpAck | kTcpPsh).payload.size(), 10u);
  // A second small write now waits: a small segment is in flight.
  ASSERT_EQ(write(conn, 10).value(), 10u);
  peer_.expect_none();
}

TEST_F(TcpSend, NodelaySendsEachWriteAtOnce) {
  auto conn = established();
  conn.set_nodelay(true);
  std::uint32_t seq = peer_.rcv_nxt();
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(write(conn, 10).value(), 10u);
    const auto seg = peer_.expect(kTcpAck | kTcpPsh);
    EXPECT_EQ(seg.seq(), seq);
    EXPECT_EQ(seg.payload.size(), 10u);
    seq += 10;
  }
}

TEST_F(TcpSend, SettingNodelayFlushesWhatNagleHeld) {
  auto conn = established();
  ASSERT_EQ(write(conn, 10).value(), 10u);
  const auto first = peer_.expect(kTcpAck | kTcpPsh);
  ASSERT_EQ(write(conn, 10).value(), 10u);
  peer_.expect_none();
  conn.set_nodelay(true);
  const auto held = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(held.seq(), first.end());
  EXPECT_EQ(held.payload.size(), 10u);
}

TEST_F(TcpSend, InitialWindowIsTenSegments) {
  auto conn = established();
  ASSERT_EQ(write(conn, 20 * kMss).value(), 20 * kMss);
  std::uint32_t seq = peer_.rcv_nxt();
  for (int i = 0; i < 10; ++i) {
    const auto seg = peer_.expect();
    EXPECT_EQ(seg.seq(), seq);
    EXPECT_EQ(seg.payload.size(), kMss);
    seq += kMss;
  }
  peer_.expect_none();
  EXPECT_EQ(conn.info().cwnd, 10 * kMss);
}

TEST_F(TcpSend, ThePeersScaledWindowLimitsWhatIsSent) {
  auto conn = established({.window = 4});  // 4 << 7 = 512 bytes
  ASSERT_EQ(write(conn, 2000).value(), 2000u);
  const auto seg = peer_.expect(kTcpAck);
  EXPECT_EQ(seg.payload.size(), 512u);
  peer_.expect_none();
  peer_.ack(seg);
  EXPECT_EQ(peer_.expect(kTcpAck).payload.size(), 512u);
}

// ---- zero-window probes ----

TEST_F(TcpPersist, ZeroWindowIsProbedWithBackoff) {
  auto conn = established({.window = 0});
  const std::uint32_t snd_una = peer_.rcv_nxt();
  const auto t0 = clock_.now();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  peer_.expect_none();
  // The persist timer starts at the RTO (10 ms RTT + 200 ms) and doubles.
  for (auto at : {210ms, 630ms, 1470ms}) {
    peer_.run_until(t0 + at);
    const auto probe = peer_.expect(kTcpAck);
    EXPECT_EQ(probe.at - t0, at);
    EXPECT_EQ(probe.seq(), snd_una - 1);  // an old sequence number: the peer must answer
    EXPECT_TRUE(probe.payload.empty());
    EXPECT_EQ(probe.ack(), kBase);
    peer_.send_ack();  // still zero
    peer_.expect_none();
  }
  EXPECT_EQ(counter("TcpExtTCPWinProbe"), 3u);
  // The window opens: the data goes at once.
  peer_.set_window(1024);
  peer_.send_ack();
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(data.seq(), snd_una);
  EXPECT_EQ(data.payload, pattern(100));
  EXPECT_EQ(conn.state(), tcp::State::established);
}

// Persist probes the peer answers never count towards tcp_retries2: as in Linux,
// an answering ACK resets icsk_probes_out, so probing goes on while the peer answers.
TEST_F(TcpPersist, AnsweredProbesNeverGiveUp) {
  sysctl("net.ipv4.tcp_retries2", "3");
  auto conn = established({.window = 0});
  ASSERT_EQ(write(conn, 100).value(), 100u);
  for (int i = 0; i < 8; ++i) {
    const auto probe = peer_.expect_within(200s);  // the backoff stops at 120 s
    EXPECT_EQ(probe.tcp.flags, kTcpAck);
    EXPECT_TRUE(probe.payload.empty());
    peer_.send_ack();  // answered at once, the window still zero
  }
  EXPECT_EQ(conn.state(), tcp::State::established);
}

TEST_F(TcpPersist, UnansweredProbesTimeOutAfterRetries2) {
  sysctl("net.ipv4.tcp_retries2", "3");
  auto conn = established({.window = 0});
  const auto t0 = clock_.now();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  peer_.run_until(t0 + 3149ms);
  for (auto at : {210ms, 630ms, 1470ms}) EXPECT_EQ(peer_.expect(kTcpAck).at - t0, at);
  peer_.expect_none();
  expect_timeout_at(conn, t0 + 3150ms);
  // Whether an RST goes out at the end is TcpRetransmit.GivingUpSendsNoRst's business.
  while (peer_.pending() != 0) peer_.expect(kTcpRst | kTcpAck);
}

}  // namespace ipv4_tcp_data_test
}  // namespace
}  // namespace netns
