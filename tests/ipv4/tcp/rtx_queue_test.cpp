// The retransmission queue's bookkeeping: marks and their totals (what
// pipe is made of), cumulative ACKs whole and partial, splitting, and
// sequence numbers across 2^32. Also RACK's loss walk and the windowed
// minimum RTT, which work on it.
#include "ipv4/tcp/rtx_queue.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "ipv4/tcp/rack.hpp"
#include "ipv4/tcp/rtt.hpp"

namespace netns::tcp {
namespace {
namespace ipv4_tcp_rtx_queue_test {

using namespace std::chrono_literals;
using Mark = SentSegment::Mark;

constexpr std::uint32_t kMss = 1000;

// `count` segments of kMss from `start`, all sent at `at`.
RtxQueue make_queue(Seq start, std::size_t count, Clock::time_point at = {}) {
  RtxQueue q;
  for (std::size_t i = 0; i < count; ++i) q.push(start + i * kMss, start + (i + 1) * kMss, false, at, 0);
  return q;
}

TEST(RtxQueue, PipeIsOutstandingLessSackedAndLostPlusRetransmitted) {
  auto q = make_queue(100, 10);
  EXPECT_EQ(q.outstanding(), 10 * kMss);
  EXPECT_EQ(q.in_flight(), 10 * kMss);
  q.mark_sacked(3);
  q.mark_sacked(4);
  EXPECT_EQ(q.sacked(), 2 * kMss);
  EXPECT_TRUE(q.mark_lost(0));
  EXPECT_FALSE(q.mark_lost(0));  // already lost
  EXPECT_FALSE(q.mark_lost(3));  // SACKed: never lost
  EXPECT_EQ(q.in_flight(), 7 * kMss);
  q.note_retransmit(0, Clock::time_point{} + 1ms, 0);
  EXPECT_EQ(q.in_flight(), 8 * kMss);  // lost, its retransmission in flight
  EXPECT_TRUE(q[0].has(Mark::kEverRetrans));
  // The retransmission is lost too: it no longer counts.
  EXPECT_FALSE(q.mark_lost(0));
  EXPECT_FALSE(q[0].has(Mark::kRetrans));
  EXPECT_EQ(q.in_flight(), 7 * kMss);
  // A lost, retransmitted segment SACKed: delivered, nothing in flight for it.
  q.note_retransmit(0, Clock::time_point{} + 2ms, 0);
  q.mark_sacked(0);
  EXPECT_EQ(q.lost(), 0u);
  EXPECT_EQ(q.retrans(), 0u);
  EXPECT_EQ(q.in_flight(), 7 * kMss);
}

TEST(RtxQueue, ALossProbeIsNotCountedTwice) {
  auto q = make_queue(0, 2);
  q.note_probe(1, Clock::time_point{} + 1ms, 0);
  EXPECT_EQ(q.in_flight(), 2 * kMss);
  EXPECT_TRUE(q[1].has(Mark::kEverRetrans));
  EXPECT_GT(q[1].tx, q[0].tx);
}

TEST(RtxQueue, CumulativeAckRemovesWholeSegmentsAndTrimsAPartOne) {
  auto q = make_queue(0, 4);
  q.mark_sacked(1);
  q.mark_lost(2);
  std::vector<std::pair<Seq, Seq>> acked;
  const auto removed = q.acknowledge(2 * kMss + 300, [&](const SentSegment& s) { acked.push_back({s.start, s.end}); });
  EXPECT_EQ(removed, 2u);
  ASSERT_EQ(acked.size(), 3u);
  EXPECT_EQ(acked[2], std::make_pair(Seq{2 * kMss}, Seq{2 * kMss + 300}));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.front().start, 2 * kMss + 300);
  EXPECT_EQ(q.outstanding(), 2 * kMss - 300);
  EXPECT_EQ(q.sacked(), 0u);
  EXPECT_EQ(q.lost(), kMss - 300);  // the rest of the lost segment is still lost
}

TEST(RtxQueue, FindsTheSegmentHoldingASequenceNumber) {
  auto q = make_queue(0xfffff000u, 8);  // across 2^32
  EXPECT_EQ(q.find(0xfffff000u), 0u);
  EXPECT_EQ(q.find(0xfffff000u + 2 * kMss + 5), 2u);
  EXPECT_EQ(q.find(0xfffff000u + 8 * kMss), 8u);
  EXPECT_EQ(q.highest_sacked(), 0xfffff000u);
  q.mark_sacked(5);
  q.mark_sacked(2);
  EXPECT_EQ(q.highest_sacked(), 0xfffff000u + 6 * kMss);
}

TEST(RtxQueue, SplitKeepsMarksTotalsAndTheFinOnTheSecondPart) {
  RtxQueue q;
  q.push(0, 3 * kMss + 1, true, {}, 0);
  q.mark_lost(0);
  q.split(0, kMss);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].len(), kMss);
  EXPECT_FALSE(q[0].has(Mark::kFin));
  EXPECT_TRUE(q[1].has(Mark::kFin));
  EXPECT_EQ(q[1].data_len(), 2 * kMss);
  EXPECT_EQ(q.lost(), 3 * kMss + 1);
  EXPECT_EQ(q.outstanding(), 3 * kMss + 1);
}

TEST(RtxQueue, GrowsPastItsFirstCapacityWithTheRingWrapped) {
  auto q = make_queue(0, 10);
  q.acknowledge(8 * kMss, [](const SentSegment&) {});
  for (std::size_t i = 10; i < 100; ++i) q.push(i * kMss, (i + 1) * kMss, false, {}, 0);
  ASSERT_EQ(q.size(), 92u);
  for (std::size_t i = 0; i < q.size(); ++i) EXPECT_EQ(q[i].start, (i + 8) * kMss);
  q.split(50, q[50].start + 10);
  EXPECT_EQ(q[51].start, 58 * kMss + 10);
  EXPECT_EQ(q[52].start, 59 * kMss);
}

TEST(RtxQueue, MovesWithItsRecordsInlineOrOnTheHeap) {
  for (std::size_t count : {1u, 2u, 10u}) {
    auto q = make_queue(500, count);
    q.mark_sacked(count - 1);
    RtxQueue moved = std::move(q);
    ASSERT_EQ(moved.size(), count);
    for (std::size_t i = 0; i < count; ++i) EXPECT_EQ(moved[i].start, 500 + i * kMss);
    EXPECT_EQ(moved.sacked(), kMss);
    moved.push(500 + count * kMss, 500 + (count + 1) * kMss, false, {}, 0);
    EXPECT_EQ(moved.back().start, 500 + count * kMss);
  }
}

// ---- RACK ----

TEST(Rack, SegmentsSentBeforeTheDeliveredOneAreLostAfterRttPlusTheWindow) {
  const Clock::time_point t0{};
  auto q = make_queue(0, 5, t0);
  Rack rack;
  q.mark_sacked(3);
  rack.advance(q[3], t0 + 10ms, 10ms);
  EXPECT_EQ(rack.rtt, 10ms);
  // At 10 ms, with a 2 ms window, 0..2 still may be reordered.
  auto d = rack.detect_loss(q, t0 + 10ms, 2ms);
  EXPECT_EQ(d.newly_lost, 0u);
  EXPECT_EQ(d.wait, 2ms);
  d = rack.detect_loss(q, t0 + 12ms, 2ms);
  EXPECT_EQ(d.newly_lost, 3 * kMss);
  EXPECT_TRUE(q[2].has(Mark::kLost));
  EXPECT_FALSE(q[4].has(Mark::kLost));  // sent after the delivered one
}

TEST(Rack, ARetransmissionDeliveredTooSoonSaysNothing) {
  const Clock::time_point t0{};
  auto q = make_queue(0, 2, t0);
  q.note_retransmit(0, t0 + 20ms, 0);
  Rack rack;
  rack.advance(q[0], t0 + 21ms, 10ms);  // 1 ms after resending: the original's ACK
  EXPECT_FALSE(rack.advanced);
  rack.advance(q[0], t0 + 30ms, 10ms);
  EXPECT_TRUE(rack.advanced);
}

TEST(Rack, DsacksWidenTheWindowOncePerRoundTrip) {
  Rack rack;
  rack.dsack_seen = true;
  rack.update_reo_wnd(100, 200, false);
  EXPECT_EQ(rack.reo_wnd_steps, 2);
  EXPECT_EQ(rack.reo_wnd_persist, Rack::kRecoveryThresh);
  rack.dsack_seen = true;
  rack.update_reo_wnd(150, 250, false);  // delivered before the last widening: same round
  EXPECT_EQ(rack.reo_wnd_steps, 2);
  for (int i = 0; i < Rack::kRecoveryThresh; ++i) rack.recovery_done();
  rack.update_reo_wnd(300, 400, false);
  EXPECT_EQ(rack.reo_wnd_steps, 1);
}

// ---- the windowed minimum ----

TEST(WindowedMin, KeepsTheLeastSampleOfTheWindowAndForgetsOlderOnes) {
  WindowedMin m;
  const Clock::time_point t0{};
  EXPECT_TRUE(m.empty());
  m.update(300s, t0, 10ms);
  m.update(300s, t0 + 1s, 20ms);
  EXPECT_EQ(m.get(), 10ms);
  m.update(300s, t0 + 100s, 15ms);
  EXPECT_EQ(m.get(), 10ms);
  // The path got longer: once 10 ms is out of the window, later samples win.
  m.update(300s, t0 + 301s, 30ms);
  EXPECT_GT(m.get(), 10ms);
  m.update(300s, t0 + 700s, 30ms);
  EXPECT_EQ(m.get(), 30ms);
}

}  // namespace ipv4_tcp_rtx_queue_test
}  // namespace
}  // namespace netns::tcp
