// The receive buffer and the window it offers (src/ipv4/tcp/receive_buffer):
// first the class alone, fed segments as a connection feeds it, then whole
// connections with the scripted peer. What Linux 6.8 does is the reference:
// tcp_select_initial_window, truesize charged against sk_rcvbuf, the window
// scaled by scaling_ratio, coalescing, collapsing and pruning, DRS.
#include "ipv4/tcp/receive_buffer.hpp"

#include <algorithm>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "netns/packet_pool.hpp"
#include "support/fixtures.hpp"
#include "support/tcp_peer.hpp"

namespace netns::tcp {
namespace {
namespace ipv4_tcp_receive_buffer_test {

using namespace std::chrono_literals;
using support::kTcpPeerIss;
using support::pattern;
using support::TcpPeer;
using support::TcpSegment;
using wire::kTcpAck;

constexpr std::uint32_t kMss = 1448;

// ---- tcp_select_initial_window ----

class InitialWindow : public support::HostTest {
 protected:
  NetRef net_ = host_.create_net("t").value();
};

TEST_F(InitialWindow, IsHalfOfTcpRmem1InWholeSegments) {
  // Linux 6.x on a 1500-byte MTU: 44 x 1460 in a SYN, 45 x 1448 in a
  // SYN-ACK answering timestamps; the shift tcp_rmem[2] (6 MiB) needs.
  auto syn = initial_window(*net_, 1460, true);
  EXPECT_EQ(syn.window, 64240u);
  EXPECT_EQ(syn.wscale, 7);
  EXPECT_EQ(syn.clamp, 65535u << 7);
  EXPECT_EQ(initial_window(*net_, 1448, true).window, 65160u);
  // Without scaling: the same window, shift 0, at most 65535.
  auto unscaled = initial_window(*net_, 1460, false);
  EXPECT_EQ(unscaled.window, 64240u);
  EXPECT_EQ(unscaled.wscale, 0);
  EXPECT_EQ(unscaled.clamp, 65535u);
  // A jumbo MSS: one segment, or the space itself when the MSS is larger.
  EXPECT_EQ(initial_window(*net_, 65483, true).window, 65483u);
  EXPECT_EQ(initial_window(*net_, 70000, true).window, 65535u);
}

TEST_F(InitialWindow, FollowsTcpRmem) {
  // Linux 6.10+'s tcp_rmem[2] of 32 MiB: shift 10 (25 bits - 15), as the
  // kernel's SYN captured on this machine.
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.tcp_rmem", "4096 131072 33554432"));
  EXPECT_EQ(initial_window(*net_, 1460, true).wscale, 10);
  // A small buffer: 5 segments of half of 16 KiB, no shift needed.
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.tcp_rmem", "4096 16384 16384"));
  EXPECT_EQ(initial_window(*net_, 1448, true).window, 5 * 1448u);
  EXPECT_EQ(initial_window(*net_, 1448, true).wscale, 0);
  // Smaller than one segment: offered as it is.
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.tcp_rmem", "4096 2048 4096"));
  EXPECT_EQ(initial_window(*net_, 1460, true).window, 1024u);
}

// ---- the buffer alone ----

class ReceiveBufferTest : public support::HostTest {
 protected:
  void SetUp() override { start(); }

  // A passive open as a connection does it: SYN-ACK window for segments of
  // 1448 with timestamps, established with our MSS 1460.
  void start() {
    rb_.emplace(*net_);
    rb_->set_sack_permitted(true);
    rb_->set_timestamps(true);
    syn_window_ = rb_->select_initial_window(kMss, true);
    rb_->start(rcv_nxt_);
    rb_->established(1460, clock_.now());
  }
  // Payload [seq, seq + n) in a buffer as the device hands it up.
  Packet segment(std::size_t n) { return host_.packets().allocate_from(pattern(n)); }
  ReceiveBuffer::Arrival arrival() const { return {.now = clock_.now()}; }
  bool in_order(std::size_t n) { return rb_->queue_in_order(rcv_nxt_, segment(n), arrival()); }
  bool out_of_order(Seq seq, std::size_t n) { return rb_->queue_out_of_order(rcv_nxt_, seq, segment(n), arrival()); }
  // The window as sent: scaled back to bytes.
  std::uint32_t window() { return std::uint32_t{rb_->select_window(rcv_nxt_)} << rb_->rcv_wscale(); }
  std::uint64_t counter(std::string_view name) { return net_->counters().get(name); }
  std::size_t truesize() { return segment(kMss).truesize(); }

  NetRef net_ = host_.create_net("t").value();
  std::optional<ReceiveBuffer> rb_;
  Seq rcv_nxt_ = 1000;
  std::uint16_t syn_window_ = 0;
};

TEST_F(ReceiveBufferTest, FirstSegmentSetsTheRatioAndTheClamp) {
  EXPECT_EQ(syn_window_, 65160);
  EXPECT_EQ(rb_->scaling_ratio(), 128u);  // 50% until measured
  EXPECT_EQ(rb_->window_clamp(), 64076u);  // tcp_init_buffer_space: 65536 less one segment
  ASSERT_TRUE(in_order(kMss));
  // 1448 bytes in a 2 KiB pool buffer and its bookkeeping.
  const auto ratio = static_cast<std::uint32_t>((kMss << 8) / truesize());
  EXPECT_EQ(rb_->scaling_ratio(), ratio);
  EXPECT_EQ(rb_->window_clamp(), 131072u * ratio >> 8);
  EXPECT_EQ(rb_->charged(), truesize());
  EXPECT_EQ(rb_->readable(), kMss);
}

// Whatever the window offers, a peer filling it with segments like those
// measured fits the buffer: nothing is pruned, collapsed or dropped.
TEST_F(ReceiveBufferTest, FullSegmentsFillingEveryWindowOfferedFit) {
  Seq edge = rcv_nxt_ + syn_window_;
  for (int ack = 0; ack < 1000; ++ack) {
    while (seq_lt(rcv_nxt_, edge)) ASSERT_TRUE(in_order(std::min(kMss, edge - rcv_nxt_)));
    const std::uint32_t w = window();
    if (w == 0) break;
    edge = seq_max(edge, rcv_nxt_ + w);
  }
  EXPECT_EQ(rb_->receive_window(rcv_nxt_), 0u);
  EXPECT_LE(rb_->charged(), rb_->rcvbuf() + truesize());
  EXPECT_GT(rb_->charged(), rb_->rcvbuf() * 7 / 8);
  for (auto name : {"TcpExtPruneCalled", "TcpExtTCPRcvCollapsed", "TcpExtTCPRcvQDrop"}) EXPECT_EQ(counter(name), 0u) << name;
}

// A peer that sends smaller segments than it did when the ratio was
// measured: each pins a whole buffer, so the window offered overcommits the
// buffer; the data is collapsed into dense packets and still all kept.
TEST_F(ReceiveBufferTest, SmallerSegmentsThanMeasuredAreCollapsedNotDropped) {
  ASSERT_TRUE(in_order(kMss));
  Seq edge = rcv_nxt_ + window();
  for (int ack = 0; ack < 1000; ++ack) {
    // Too large to be coalesced into the spare room of the one before.
    while (seq_lt(rcv_nxt_, edge)) ASSERT_TRUE(in_order(std::min<std::uint32_t>(1100, edge - rcv_nxt_)));
    const std::uint32_t w = window();
    if (w == 0) break;
    edge = seq_max(edge, rcv_nxt_ + w);
  }
  EXPECT_GT(counter("TcpExtPruneCalled"), 0u);
  EXPECT_GT(counter("TcpExtTCPRcvCollapsed"), 0u);
  EXPECT_EQ(counter("TcpExtTCPRcvQDrop"), 0u);
  EXPECT_EQ(counter("TcpExtRcvPruned"), 0u);
  EXPECT_LE(rb_->charged(), rb_->rcvbuf() + truesize());
  // Every byte is there, in order.
  std::vector<std::byte> all(rb_->readable());
  ASSERT_EQ(rb_->read(all, clock_.now()), all.size());
  EXPECT_EQ(rb_->charged(), 0u);
}

// Tiny segments go into the spare room of the one before (tcp_try_coalesce).
TEST_F(ReceiveBufferTest, TinySegmentsAreCoalesced) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(in_order(10));
  EXPECT_EQ(rb_->charged(), truesize());  // one buffer holds all 1000 bytes
  EXPECT_EQ(counter("TcpExtTCPRcvCoalesce"), 99u);
}

// A peer ignoring the window (past what collapsing can hold): the last resort
// is dropping, counted, and a zero window offered even though it shrinks
// (Linux's ICSK_ACK_NOMEM).
TEST_F(ReceiveBufferTest, OverrunIsDroppedWithAZeroWindow) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.tcp_rmem", "4096 8192 8192"));
  start();
  int taken = 0;
  while (in_order(kMss)) ++taken;
  EXPECT_GE(taken, 5);  // four buffers, the fifth over; collapsed, more fit
  EXPECT_GT(counter("TcpExtTCPRcvCollapsed"), 0u);
  EXPECT_EQ(counter("TcpExtRcvPruned"), 1u);
  EXPECT_EQ(counter("TcpExtTCPRcvQDrop"), 1u);
  EXPECT_EQ(rb_->readable(), taken * kMss);
  EXPECT_EQ(window(), 0u);
  EXPECT_EQ(counter("TcpExtTCPToZeroWindowAdv"), 1u);
}

// Item 1 of issue 10: the out-of-order queue holds whatever the window
// offered (the old 256-bytes-per-segment cap held about 110 KB of a 128 KiB
// window and dropped the rest: TcpExtTCPOFODrop).
TEST_F(ReceiveBufferTest, OutOfOrderQueueTakesTheWholeWindow) {
  ASSERT_TRUE(in_order(kMss));  // measured
  const Seq hole = rcv_nxt_;
  const Seq edge = rcv_nxt_ + window();
  Seq seq = hole + kMss;
  for (; seq_lt(seq, edge); seq += kMss) ASSERT_TRUE(out_of_order(seq, std::min(kMss, edge - seq)));
  EXPECT_EQ(counter("TcpExtTCPOFODrop"), 0u);
  EXPECT_EQ(counter("TcpExtPruneCalled"), 0u);
  ASSERT_NE(rb_->out_of_order(), nullptr);
  EXPECT_EQ(rb_->out_of_order()->bytes(), edge - hole - kMss);
  ASSERT_TRUE(in_order(kMss));
  EXPECT_EQ(rcv_nxt_, edge);
  EXPECT_FALSE(rb_->has_out_of_order());
}

// Room for data below the out-of-order queue comes from its top (Linux's
// tcp_prune_ofo_queue): what lies nearer rcv_nxt is worth more.
TEST_F(ReceiveBufferTest, LowerDataPrunesTheQueueFromTheTop) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.tcp_rmem", "4096 16384 16384"));
  start();
  // Far islands (each pins a whole buffer) until the buffer is over.
  Seq seq = rcv_nxt_ + 100'000;
  while (rb_->charged() <= rb_->rcvbuf()) {
    ASSERT_TRUE(out_of_order(seq, 100));
    seq += 200;
  }
  ASSERT_NE(rb_->out_of_order(), nullptr);
  const Seq top = rb_->out_of_order()->end_seq();
  // A segment below them all: the highest go.
  ASSERT_TRUE(out_of_order(rcv_nxt_ + 50'000, 100));
  EXPECT_EQ(counter("TcpExtOfoPruned"), 1u);
  ASSERT_NE(rb_->out_of_order(), nullptr);
  EXPECT_TRUE(seq_lt(rb_->out_of_order()->end_seq(), top));
  // One above them all is refused instead.
  EXPECT_FALSE(out_of_order(top + 1000, 100));
  EXPECT_EQ(counter("TcpExtTCPOFODrop"), 1u);
}

// A reader reading between polls sends its window updates at a stale now():
// what they let the peer send is not timed for autotuning, however far the
// stream goes (here 8 GiB, across 2^32 twice).
TEST_F(ReceiveBufferTest, DataLetGoByUntimedWindowsIsNotTimed) {
  std::vector<std::byte> sink(kMss);
  for (std::uint32_t i = 0; i < 8; ++i) {
    rb_->note_tsval_sent(100 + i, clock_.now());
    clock_.advance(1ms);
    rcv_nxt_ += Seq{1} << 30;  // what came and was read meanwhile
    (void)rb_->select_window(rcv_nxt_, /*timed=*/false);
    ASSERT_TRUE(rb_->queue_in_order(rcv_nxt_, segment(kMss), {.now = clock_.now(), .echoed_ms = 100 + i}));
    (void)rb_->read(sink, clock_.now());
  }
  EXPECT_EQ(rb_->rcv_rtt(), Clock::duration::zero());
  // A timed window: what it lets go is timed, from the TSval's first segment.
  rb_->note_tsval_sent(200, clock_.now());
  (void)rb_->select_window(rcv_nxt_, /*timed=*/true);
  clock_.advance(3ms);
  ASSERT_TRUE(rb_->queue_in_order(rcv_nxt_, segment(kMss), {.now = clock_.now(), .echoed_ms = 200}));
  EXPECT_EQ(rb_->rcv_rtt(), 3ms);
}

TEST_F(ReceiveBufferTest, DsackComesFirstAndOnce) {
  ASSERT_TRUE(out_of_order(rcv_nxt_ + 3000, 500));
  rb_->note_duplicate(rcv_nxt_ - 100, rcv_nxt_, rcv_nxt_);
  rb_->note_duplicate(rcv_nxt_ - 300, rcv_nxt_ - 100, rcv_nxt_, true);  // touches: extended
  rb_->note_duplicate(rcv_nxt_ - 900, rcv_nxt_ - 800, rcv_nxt_, true);  // apart: ignored
  std::array<wire::TcpSackBlock, 4> out{};
  ASSERT_EQ(rb_->sack_blocks(out), 2u);
  EXPECT_EQ(out[0], (wire::TcpSackBlock{rcv_nxt_ - 300, rcv_nxt_}));
  EXPECT_EQ(out[1], (wire::TcpSackBlock{rcv_nxt_ + 3000, rcv_nxt_ + 3500}));
  ASSERT_EQ(rb_->sack_blocks(out), 1u);  // sent once
  EXPECT_EQ(counter("TcpExtTCPDSACKOldSent"), 1u);
  // A pending one is forgotten when new data comes first.
  rb_->note_duplicate(rcv_nxt_ - 100, rcv_nxt_, rcv_nxt_);
  rb_->forget_duplicate();
  EXPECT_EQ(rb_->sack_blocks(out), 1u);
}

// ---- whole connections ----

using TcpReceiveWindow = support::TcpPeerTest;
constexpr std::uint32_t kBase = kTcpPeerIss + 1;

// Item 1 of issue 10 on the wire: a lost segment, then everything the window
// offers after it arrives out of order and is kept, SACKed, and delivered
// once the hole is filled.
TEST_F(TcpReceiveWindow, OutOfOrderDataFillsTheWholeWindow) {
  auto listener = listen();
  const auto synack = peer_.connect();
  auto conn = listener.accept().value();
  peer_.send_data(kMss);  // in order: the ratio is measured
  peer_.run_for(40ms);
  const auto first = peer_.expect(kTcpAck);
  std::uint32_t edge = first.ack() + (std::uint32_t{first.tcp.window} << peer_.remote_wscale());
  // [kBase + M, kBase + 2M) is lost; everything after it comes.
  const std::uint32_t hole = peer_.snd_nxt();
  peer_.set_snd_nxt(hole + kMss);
  for (int round = 0; round < 100; ++round) {
    while (peer_.snd_nxt() != edge) peer_.send_data(std::min(kMss, edge - peer_.snd_nxt()));
    std::uint32_t next = edge;
    while (peer_.pending() != 0) {
      const auto dup = peer_.expect(kTcpAck);
      EXPECT_EQ(dup.ack(), hole);
      ASSERT_GE(dup.tcp.sack_block_count, 1u);  // all of it, as far as it had come
      EXPECT_EQ(dup.tcp.sack_blocks[0].left, hole + kMss);
      next = std::max(next, dup.ack() + (std::uint32_t{dup.tcp.window} << peer_.remote_wscale()));
    }
    if (next == edge) break;
    edge = next;
  }
  EXPECT_GT(edge - hole, 75'000u);  // most of 128 KiB's 88064 at 2144 bytes a segment
  EXPECT_EQ(counter("TcpExtTCPOFODrop"), 0u);
  EXPECT_EQ(counter("TcpExtPruneCalled"), 0u);
  const std::uint32_t end = peer_.snd_nxt();
  peer_.set_snd_nxt(hole);
  peer_.send_data(kMss);
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), end);
  EXPECT_EQ(ack.tcp.sack_block_count, 0u);
  EXPECT_EQ(read_all(conn), pattern(end - kBase, 1));
  (void)synack;
}

// Item 4: autotuning (DRS) on a path of 20 ms. Each round the peer sends
// `per_round` (what its rate allows, at most the window offered), echoing
// the TSval of our last ACK, sent one RTT before; the reader reads as data
// comes, from its readable callback (as netns::asio's streams do).
class TcpAutotuning : public support::TcpPeerTest {
 protected:
  // The receive buffer after each round.
  std::vector<std::uint32_t> run(std::uint32_t per_round, int rounds) {
    auto listener = listen();
    const auto synack = peer_.connect();
    auto conn = listener.accept().value();
    std::vector<std::byte> sink(1 << 22);
    conn.on_readable([&] {
      while (conn.readable_bytes() != 0) (void)conn.read(sink);
    });
    std::uint32_t edge = kBase + synack.tcp.window;
    std::vector<std::uint32_t> rcvbuf;
    for (int i = 0; i < rounds; ++i) {
      const std::uint32_t until = std::min(edge, peer_.snd_nxt() + per_round);
      while (peer_.snd_nxt() != until) peer_.send_data(std::min(kMss, until - peer_.snd_nxt()));
      peer_.run_for(1ms);  // the delayed ACK, if any
      while (peer_.pending() != 0) {
        const auto ack = peer_.expect(kTcpAck);
        edge = std::max(edge, ack.ack() + (std::uint32_t{ack.tcp.window} << peer_.remote_wscale()));
      }
      peer_.run_for(19ms);
      rcvbuf.push_back(conn.info().rcvbuf);
    }
    EXPECT_EQ(counter("TcpExtTCPRcvQDrop") + counter("TcpExtPruneCalled"), 0u);
    conn.on_readable(nullptr);
    return rcvbuf;
  }
  static bool settled(const std::vector<std::uint32_t>& rcvbuf) {
    return std::all_of(rcvbuf.end() - 20, rcvbuf.end(), [&](std::uint32_t b) { return b == rcvbuf.back(); });
  }
};

// It grows (the first measurement extrapolates a sender in slow start, as
// Linux's does), then stays: the rate and the RTT need no more, and far
// less than tcp_rmem[2].
TEST_F(TcpAutotuning, BufferGrowsToWhatTheRttAndRateNeedThenStays) {
  const auto slow = run(100'000, 60);  // 5 MB/s
  EXPECT_GT(slow.back(), 131072u);
  EXPECT_TRUE(settled(slow));
  EXPECT_LT(slow.back(), 6291456u / 2);
}

TEST_F(TcpAutotuning, AFasterPathGetsMore) {
  const auto fast = run(400'000, 60);  // 20 MB/s
  EXPECT_TRUE(settled(fast));
  // Twice what one RTT brings, in truesize at the measured ratio.
  EXPECT_GT(fast.back(), 2 * 400'000u * 2144 / 1448);
}

TEST_F(TcpAutotuning, SysctlTurnsItOff) {
  sysctl("net.ipv4.tcp_moderate_rcvbuf", "0");
  EXPECT_EQ(run(400'000, 30).back(), 131072u);
}

TEST_F(TcpAutotuning, StopsAtTcpRmem2) {
  sysctl("net.ipv4.tcp_rmem", "4096 131072 262144");
  EXPECT_EQ(run(400'000, 30).back(), 262144u);
}

}  // namespace ipv4_tcp_receive_buffer_test
}  // namespace
}  // namespace netns::tcp
