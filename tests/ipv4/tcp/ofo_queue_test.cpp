#include "ipv4/tcp/ofo_queue.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "netns/packet_pool.hpp"

namespace netns::tcp {
namespace {
namespace ipv4_tcp_ofo_queue_test {

using Insert = OutOfOrderQueue::Insert;
using wire::TcpSackBlock;

// The byte at sequence number s: a receiver can check where any byte it was
// handed came from, whatever was trimmed off around it.
std::byte byte_at(Seq s) { return std::byte(static_cast<std::uint8_t>(s ^ (s >> 8) ^ (s >> 16))); }

class OutOfOrderQueueTest : public ::testing::Test {
 protected:
  // Payload [seq, seq + n) as the peer sent it, in a standard buffer with
  // no spare room after it (nothing coalesces into it).
  Packet segment(Seq seq, std::size_t n) {
    Packet p = pool_.allocate(n, PacketPool::kStandardCapacity - std::min(n, PacketPool::kStandardCapacity));
    auto bytes = p.mutable_data();
    for (std::size_t i = 0; i < n; ++i) bytes[i] = byte_at(static_cast<Seq>(seq + i));
    return p;
  }
  // The same with the default headroom and the rest of the buffer spare.
  Packet roomy(Seq seq, std::size_t n) {
    std::vector<std::byte> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = byte_at(static_cast<Seq>(seq + i));
    return pool_.allocate_from(bytes);
  }
  Insert insert(Seq seq, std::size_t n) { return q_.insert(seq, segment(seq, n)).result; }
  OutOfOrderQueue::Inserted inserted(Seq seq, std::size_t n) { return q_.insert(seq, segment(seq, n)); }
  // What one segment from segment() pins: a standard pool buffer and its Packet.
  std::size_t truesize() { return pool_.allocate(1).truesize(); }

  // Drains from rcv_nxt, checking that the bytes handed up are the stream's
  // from rcv_nxt on; returns the new rcv_nxt and records segment sizes.
  Seq drain(Seq rcv_nxt) {
    delivered_.clear();
    Seq at = rcv_nxt;
    const Seq next = q_.drain(rcv_nxt, [&](Packet p) {
      for (std::byte b : p.data()) EXPECT_EQ(b, byte_at(at++)) << "byte " << at - 1;
      delivered_.push_back(p.size());
    });
    EXPECT_EQ(next, at);
    return next;
  }

  std::vector<TcpSackBlock> sack(std::size_t room = 4) const {
    std::vector<TcpSackBlock> out(room);
    out.resize(q_.sack_blocks(out));
    return out;
  }

  PacketPool pool_;
  OutOfOrderQueue q_;
  std::vector<std::size_t> delivered_;
};

using Blocks = std::vector<TcpSackBlock>;
using Sizes = std::vector<std::size_t>;

TEST_F(OutOfOrderQueueTest, StartsEmpty) {
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.segments(), 0u);
  EXPECT_EQ(q_.bytes(), 0u);
  EXPECT_EQ(q_.charged(), 0u);
  EXPECT_EQ(sack(), Blocks{});
  EXPECT_EQ(drain(1000), 1000u);
  EXPECT_EQ(delivered_, Sizes{});
}

TEST_F(OutOfOrderQueueTest, DrainsInOrderOnceTheHoleIsFilled) {
  EXPECT_EQ(insert(1100, 100), Insert::queued);
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.bytes(), 200u);
  EXPECT_EQ(q_.charged(), 2 * truesize());  // what the buffers pin, not the 200 bytes
  EXPECT_EQ(q_.end_seq(), 1200u);
  EXPECT_EQ(q_.blocks(), 1u);

  EXPECT_EQ(drain(900), 900u);  // still a hole before 1000
  EXPECT_EQ(delivered_, Sizes{});
  EXPECT_EQ(q_.segments(), 2u);

  EXPECT_EQ(drain(1000), 1200u);
  EXPECT_EQ(delivered_, (Sizes{100, 100}));
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.bytes(), 0u);
  EXPECT_EQ(q_.charged(), 0u);
  EXPECT_EQ(q_.blocks(), 0u);
  EXPECT_EQ(sack(), Blocks{});
}

TEST_F(OutOfOrderQueueTest, DrainStopsAtTheNextHole) {
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(insert(1200, 100), Insert::queued);
  EXPECT_EQ(drain(1000), 1100u);
  EXPECT_EQ(delivered_, Sizes{100});
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.bytes(), 100u);
  EXPECT_EQ(q_.end_seq(), 1300u);
  EXPECT_EQ(sack(), (Blocks{{1200, 1300}}));
}

TEST_F(OutOfOrderQueueTest, DrainTrimsWhatIsBeforeRcvNxt) {
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(drain(1050), 1100u);
  EXPECT_EQ(delivered_, Sizes{50});
  EXPECT_EQ(pool_.copies(), 0u);
}

TEST_F(OutOfOrderQueueTest, DrainDiscardsSegmentsWhollyBeforeRcvNxt) {
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(insert(1100, 100), Insert::queued);
  EXPECT_EQ(insert(1300, 100), Insert::queued);
  EXPECT_EQ(drain(1150), 1200u);
  EXPECT_EQ(delivered_, Sizes{50});
  EXPECT_EQ(q_.segments(), 1u);
  // Even a block entirely below rcv_nxt goes.
  EXPECT_EQ(drain(1450), 1450u);
  EXPECT_EQ(delivered_, Sizes{});
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.blocks(), 0u);
}

TEST_F(OutOfOrderQueueTest, OverlapOnTheLeftIsTrimmedOffTheNewSegment) {
  EXPECT_EQ(insert(1000, 1500), Insert::queued);
  EXPECT_EQ(insert(1050, 1500), Insert::queued);  // keeps [2500, 2550)
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.bytes(), 1550u);
  EXPECT_EQ(q_.end_seq(), 2550u);
  EXPECT_EQ(drain(1000), 2550u);
  EXPECT_EQ(delivered_, (Sizes{1500, 50}));
  EXPECT_EQ(pool_.copies(), 0u);
}

// What starts where its left neighbour ends goes into the neighbour's spare
// room (tcp_ooo_try_coalesce): one copy, one buffer fewer.
TEST_F(OutOfOrderQueueTest, SegmentAfterItsLeftNeighbourIsCoalesced) {
  EXPECT_EQ(q_.insert(1000, roomy(1000, 100)).result, Insert::queued);
  EXPECT_EQ(q_.insert(1050, roomy(1050, 100)).result, Insert::coalesced);  // its new part [1100, 1150)
  EXPECT_EQ(q_.insert(1150, segment(1150, 100)).result, Insert::coalesced);
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.bytes(), 250u);
  EXPECT_EQ(q_.charged(), truesize());
  EXPECT_EQ(pool_.copies(), 2u);
  EXPECT_EQ(sack(), (Blocks{{1000, 1250}}));
  EXPECT_EQ(drain(1000), 1250u);
  EXPECT_EQ(delivered_, Sizes{250});
}

TEST_F(OutOfOrderQueueTest, SegmentTooLargeForTheSpareRoomIsNotCoalesced) {
  EXPECT_EQ(q_.insert(1000, roomy(1000, 1500)).result, Insert::queued);  // 420 bytes spare
  EXPECT_EQ(insert(2500, 1000), Insert::queued);
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(pool_.copies(), 0u);
}

TEST_F(OutOfOrderQueueTest, OverlapOnTheRightIsTrimmedOffTheNewSegment) {
  EXPECT_EQ(insert(1100, 100), Insert::queued);
  EXPECT_EQ(insert(1050, 100), Insert::queued);  // keeps [1050, 1100)
  EXPECT_EQ(q_.bytes(), 150u);
  EXPECT_EQ(drain(1050), 1200u);
  EXPECT_EQ(delivered_, (Sizes{50, 100}));
  EXPECT_EQ(pool_.copies(), 0u);
}

TEST_F(OutOfOrderQueueTest, OverlapOnBothSidesFillsTheHoleExactly) {
  EXPECT_EQ(insert(1000, 1500), Insert::queued);
  EXPECT_EQ(insert(3000, 100), Insert::queued);
  EXPECT_EQ(q_.blocks(), 2u);
  EXPECT_EQ(insert(2000, 1050), Insert::queued);  // keeps [2500, 3000)
  EXPECT_EQ(q_.segments(), 3u);
  EXPECT_EQ(q_.bytes(), 2100u);
  EXPECT_EQ(q_.blocks(), 1u);
  EXPECT_EQ(sack(), (Blocks{{1000, 3100}}));
  EXPECT_EQ(drain(1000), 3100u);
  EXPECT_EQ(delivered_, (Sizes{1500, 500, 100}));
}

TEST_F(OutOfOrderQueueTest, ContainedSegmentIsDuplicate) {
  EXPECT_EQ(insert(1000, 200), Insert::queued);
  EXPECT_EQ(insert(1050, 50), Insert::duplicate);
  EXPECT_EQ(insert(1000, 200), Insert::duplicate);
  EXPECT_EQ(insert(1000, 50), Insert::duplicate);
  EXPECT_EQ(insert(1150, 50), Insert::duplicate);
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.bytes(), 200u);
}

TEST_F(OutOfOrderQueueTest, SegmentCoveredByTwoAdjacentOnesIsDuplicate) {
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(insert(1100, 100), Insert::queued);
  EXPECT_EQ(insert(1050, 100), Insert::duplicate);
  EXPECT_EQ(insert(1000, 200), Insert::duplicate);
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.bytes(), 200u);
}

TEST_F(OutOfOrderQueueTest, EmptyPayloadIsDuplicate) {
  EXPECT_EQ(insert(1000, 0), Insert::duplicate);
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.insert(1000, Packet{}).result, Insert::duplicate);
  EXPECT_TRUE(q_.empty());
}

TEST_F(OutOfOrderQueueTest, ContainingSegmentReplacesWhatItCovers) {
  EXPECT_EQ(insert(1100, 50), Insert::queued);
  EXPECT_EQ(insert(1160, 10), Insert::queued);
  EXPECT_EQ(insert(1000, 200), Insert::queued);
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.bytes(), 200u);
  EXPECT_EQ(q_.charged(), truesize());
  EXPECT_EQ(sack(), (Blocks{{1000, 1200}}));
  EXPECT_EQ(drain(1000), 1200u);
  EXPECT_EQ(delivered_, Sizes{200});
}

TEST_F(OutOfOrderQueueTest, ContainingAndOverlappingAtOnce) {
  EXPECT_EQ(insert(1000, 1500), Insert::queued);  // [1000, 2500)
  EXPECT_EQ(insert(2600, 50), Insert::queued);    // [2600, 2650)
  EXPECT_EQ(insert(2680, 70), Insert::queued);    // [2680, 2750)
  EXPECT_EQ(insert(2400, 300), Insert::queued);   // [2400, 2700) keeps [2500, 2680)
  EXPECT_EQ(q_.segments(), 3u);
  EXPECT_EQ(q_.bytes(), 1750u);
  EXPECT_EQ(q_.blocks(), 1u);
  EXPECT_EQ(drain(1000), 2750u);
  EXPECT_EQ(delivered_, (Sizes{1500, 180, 70}));
  EXPECT_EQ(pool_.copies(), 0u);
}

// ---- what a D-SACK reports (RFC 2883, as Linux's tcp_data_queue_ofo) ----

TEST_F(OutOfOrderQueueTest, DuplicateReportsTheWholeSegment) {
  EXPECT_EQ(insert(1000, 200), Insert::queued);
  const auto r = inserted(1050, 50);
  EXPECT_EQ(r.result, Insert::duplicate);
  EXPECT_EQ(r.replaced, 0u);
  EXPECT_EQ(std::pair(r.dup_left, r.dup_right), std::pair(Seq{1050}, Seq{1100}));
}

TEST_F(OutOfOrderQueueTest, OverlapReportsWhatWasHeld) {
  EXPECT_EQ(insert(1000, 1500), Insert::queued);
  auto r = inserted(2400, 200);  // [2400, 2500) was held
  EXPECT_EQ(r.result, Insert::queued);
  EXPECT_EQ(std::pair(r.dup_left, r.dup_right), std::pair(Seq{2400}, Seq{2500}));
  r = inserted(2700, 100);  // nothing held
  EXPECT_FALSE(r.has_duplicate());
  r = inserted(2650, 100);  // [2700, 2750) held on the right
  EXPECT_EQ(std::pair(r.dup_left, r.dup_right), std::pair(Seq{2700}, Seq{2750}));
}

TEST_F(OutOfOrderQueueTest, ReplacedSegmentsAreReportedAndCounted) {
  EXPECT_EQ(insert(1100, 50), Insert::queued);
  EXPECT_EQ(insert(1150, 10), Insert::queued);
  EXPECT_EQ(insert(1300, 20), Insert::queued);
  const auto r = inserted(1000, 400);
  EXPECT_EQ(r.result, Insert::queued);
  EXPECT_EQ(r.replaced, 3u);
  // The first range held, extended by those it touches (tcp_sack_extend):
  // [1100, 1160) and [1300, 1320) do not touch, so only the first.
  EXPECT_EQ(std::pair(r.dup_left, r.dup_right), std::pair(Seq{1100}, Seq{1160}));
  EXPECT_EQ(q_.segments(), 1u);
}

TEST_F(OutOfOrderQueueTest, SortsAcrossTheWrapAt2To32) {
  const Seq rcv_nxt = 0xffff'ff00;
  EXPECT_EQ(insert(0x80, 0x80), Insert::queued);          // [0x80, 0x100)
  EXPECT_EQ(insert(0xffff'ff80, 0x100), Insert::queued);  // [2^32 - 0x80, 0x80): across the wrap
  EXPECT_EQ(insert(0xffff'fff0, 0x20), Insert::duplicate);
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.end_seq(), 0x100u);
  EXPECT_EQ(sack(), (Blocks{{0xffff'ff80, 0x100}}));
  EXPECT_EQ(drain(rcv_nxt), rcv_nxt);

  EXPECT_EQ(insert(rcv_nxt, 0x40), Insert::queued);
  EXPECT_EQ(insert(0xffff'ff20, 0x80), Insert::queued);  // trimmed on both sides to [..40, ..80)
  EXPECT_EQ(q_.bytes(), 0x200u);
  EXPECT_EQ(drain(rcv_nxt), 0x100u);
  EXPECT_EQ(delivered_, (Sizes{0x40, 0x40, 0x100, 0x80}));
  EXPECT_EQ(pool_.copies(), 0u);
}

TEST_F(OutOfOrderQueueTest, ContainingAcrossTheWrap) {
  EXPECT_EQ(insert(0xffff'fff0, 0x20), Insert::queued);  // [-16, 16)
  EXPECT_EQ(insert(0x20, 0x10), Insert::queued);         // [32, 48)
  EXPECT_EQ(insert(0xffff'ffe0, 0x60), Insert::queued);  // [-32, 64) covers both
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.bytes(), 0x60u);
  EXPECT_EQ(q_.end_seq(), 0x40u);
  EXPECT_EQ(drain(0xffff'ffe0), 0x40u);
  EXPECT_EQ(delivered_, Sizes{0x60});
}

// The queue never empties while the stream moves on by 2^30 at a time, eight
// times: 2^33 bytes, twice round the sequence space.
TEST_F(OutOfOrderQueueTest, StaysSortedWhileTheStreamWrapsTwice) {
  constexpr Seq kStep = Seq{1} << 30;
  Seq rcv_nxt = 0x7000'0000;
  EXPECT_EQ(insert(rcv_nxt + 10, 10), Insert::queued);
  for (int i = 0; i < 8; ++i) {
    const Seq ahead = rcv_nxt + kStep;
    EXPECT_EQ(insert(ahead + 10, 10), Insert::queued);
    EXPECT_EQ(insert(rcv_nxt, 10), Insert::queued);
    EXPECT_EQ(q_.segments(), 3u);
    EXPECT_EQ(q_.end_seq(), ahead + 20);
    EXPECT_EQ(sack(), (Blocks{{rcv_nxt, rcv_nxt + 20}, {ahead + 10, ahead + 20}}));
    ASSERT_EQ(drain(rcv_nxt), rcv_nxt + 20) << i;
    EXPECT_EQ(delivered_, (Sizes{10, 10}));
    EXPECT_EQ(q_.segments(), 1u);
    EXPECT_EQ(sack(), (Blocks{{ahead + 10, ahead + 20}}));
    // The test's stand-in for the 2^30 bytes between arriving in order.
    rcv_nxt = ahead;
  }
}

TEST_F(OutOfOrderQueueTest, SackBlocksMostRecentFirst) {
  for (Seq s : {1000u, 1200u, 1400u, 1600u, 1800u}) EXPECT_EQ(insert(s, 100), Insert::queued);
  EXPECT_EQ(sack(), (Blocks{{1800, 1900}, {1600, 1700}, {1400, 1500}, {1200, 1300}}));
  EXPECT_EQ(sack(1), (Blocks{{1800, 1900}}));
  EXPECT_EQ(sack(3), (Blocks{{1800, 1900}, {1600, 1700}, {1400, 1500}}));
  EXPECT_EQ(sack(0), Blocks{});

  // Filling a hole merges three blocks into the most recent one.
  EXPECT_EQ(insert(1100, 100), Insert::queued);
  EXPECT_EQ(q_.blocks(), 4u);
  EXPECT_EQ(sack(), (Blocks{{1000, 1300}, {1800, 1900}, {1600, 1700}, {1400, 1500}}));

  // A duplicate's block comes first, so that it follows the D-SACK
  // reporting the duplicate (RFC 2883 4.1).
  EXPECT_EQ(insert(1400, 100), Insert::duplicate);
  EXPECT_EQ(sack(), (Blocks{{1400, 1500}, {1000, 1300}, {1800, 1900}, {1600, 1700}}));

  // A block delivered: the rest keep their order.
  EXPECT_EQ(drain(1000), 1300u);
  EXPECT_EQ(sack(), (Blocks{{1400, 1500}, {1800, 1900}, {1600, 1700}}));
}

TEST_F(OutOfOrderQueueTest, SackBlocksMergeAdjacentSegments) {
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(insert(1100, 100), Insert::queued);
  EXPECT_EQ(insert(1300, 100), Insert::queued);
  EXPECT_EQ(insert(1200, 50), Insert::queued);
  EXPECT_EQ(q_.segments(), 4u);
  EXPECT_EQ(sack(), (Blocks{{1000, 1250}, {1300, 1400}}));
  EXPECT_EQ(insert(1250, 50), Insert::queued);
  EXPECT_EQ(sack(), (Blocks{{1000, 1400}}));
}

TEST_F(OutOfOrderQueueTest, SackBlocksBeyondTheRememberedAscend) {
  for (Seq s : {1000u, 1200u, 1400u, 1600u, 1800u, 2000u}) EXPECT_EQ(insert(s, 100), Insert::queued);
  EXPECT_EQ(sack(6), (Blocks{{2000, 2100}, {1800, 1900}, {1600, 1700}, {1400, 1500}, {1000, 1100},
                             {1200, 1300}}));
  EXPECT_EQ(sack(8).size(), 6u);
}

TEST_F(OutOfOrderQueueTest, SackBlockAcrossTheWrap) {
  EXPECT_EQ(insert(0xffff'fff0, 0x10), Insert::queued);
  EXPECT_EQ(insert(0x0, 0x10), Insert::queued);
  EXPECT_EQ(insert(0x100, 0x10), Insert::queued);
  EXPECT_EQ(sack(), (Blocks{{0x100, 0x110}, {0xffff'fff0, 0x10}}));
}

// ---- making room: pruning from the top, collapsing ----

TEST_F(OutOfOrderQueueTest, PruneFromTopDropsTheHighestDownToTheFloor) {
  for (Seq s : {1000u, 2000u, 3000u}) EXPECT_EQ(insert(s, 10), Insert::queued);
  EXPECT_EQ(q_.prune_from_top(2000, 1 << 20), 2 * truesize());
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.end_seq(), 1010u);
  EXPECT_EQ(q_.charged(), truesize());
  EXPECT_EQ(sack(), (Blocks{{1000, 1010}}));
  EXPECT_EQ(q_.prune_from_top(2000, 1 << 20), 0u);  // nothing at or above the floor
}

TEST_F(OutOfOrderQueueTest, PruneFromTopStopsOnceTheGoalIsFreed) {
  for (Seq s : {1000u, 2000u, 3000u}) EXPECT_EQ(insert(s, 10), Insert::queued);
  EXPECT_EQ(q_.prune_from_top(0, 1), truesize());
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.end_seq(), 2010u);
}

TEST_F(OutOfOrderQueueTest, PruneFromTopCutsTheTopBlock) {
  EXPECT_EQ(insert(10'000, 1500), Insert::queued);
  EXPECT_EQ(insert(11'500, 1500), Insert::queued);  // too large to coalesce: one block, two segments
  EXPECT_EQ(q_.blocks(), 1u);
  EXPECT_EQ(q_.prune_from_top(0, 1), truesize());
  EXPECT_EQ(sack(), (Blocks{{10'000, 11'500}}));
  EXPECT_EQ(drain(10'000), 11'500u);
  EXPECT_EQ(delivered_, Sizes{1500});
}

TEST_F(OutOfOrderQueueTest, PruningEverythingResetsTheQueue) {
  EXPECT_EQ(insert(0x9000'0000, 10), Insert::queued);
  EXPECT_EQ(q_.prune_from_top(0x9000'0000, 1 << 20), truesize());
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(sack(), Blocks{});
  // A fresh start far away.
  EXPECT_EQ(insert(0x1000, 10), Insert::queued);
  EXPECT_EQ(q_.end_seq(), 0x100au);
}

TEST_F(OutOfOrderQueueTest, CollapseMakesARunDense) {
  // Ten segments of 1000 bytes in ten standard buffers: one run.
  for (Seq s = 0; s < 10'000; s += 1000) EXPECT_EQ(insert(s + 5000, 1000), Insert::queued);
  EXPECT_EQ(q_.segments(), 10u);
  EXPECT_EQ(q_.charged(), 10 * truesize());
  EXPECT_EQ(q_.collapse(0), 10u);
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.charged(), collapsed_truesize(10'000));
  EXPECT_LT(q_.charged(), 10'200u);
  EXPECT_EQ(q_.bytes(), 10'000u);
  EXPECT_EQ(sack(), (Blocks{{5000, 15'000}}));
  EXPECT_EQ(drain(5000), 15'000u);  // every byte checked
  EXPECT_EQ(delivered_, Sizes{10'000});
}

TEST_F(OutOfOrderQueueTest, CollapseCutsLongRunsIntoChunks) {
  const std::size_t n = kCollapseChunk / 1000 + 20;
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(insert(static_cast<Seq>(1000 + 1000 * i), 1000), Insert::queued);
  EXPECT_EQ(q_.collapse(0), n);
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.charged(), collapsed_truesize(n * 1000));
  EXPECT_EQ(drain(1000), 1000 + n * 1000);
  EXPECT_EQ(delivered_, (Sizes{kCollapseChunk, n * 1000 - kCollapseChunk}));
}

TEST_F(OutOfOrderQueueTest, CollapseLeavesLoneSmallSegmentsAlone) {
  for (Seq s : {1000u, 2000u, 3000u}) EXPECT_EQ(insert(s, 10), Insert::queued);
  EXPECT_EQ(q_.collapse(1 << 20), 0u);
  EXPECT_EQ(q_.segments(), 3u);
  EXPECT_EQ(pool_.copies(), 0u);
}

TEST_F(OutOfOrderQueueTest, CollapseKeepsTheSackOrder) {
  for (Seq s : {1000u, 5000u, 9000u}) {
    EXPECT_EQ(insert(s, 1500), Insert::queued);
    EXPECT_EQ(insert(s + 1500, 1500), Insert::queued);
  }
  EXPECT_EQ(q_.collapse(1 << 20), 6u);
  EXPECT_EQ(sack(), (Blocks{{9000, 12'000}, {5000, 8000}, {1000, 4000}}));
}

// Random overlapping segments, some reaching below rcv_nxt, and drains, as
// the stream crosses 2^32, against a bitmap of the bytes held. Bounds are
// loose here: nothing is pruned, so the queue must hold exactly the bitmap.
TEST_F(OutOfOrderQueueTest, MatchesABitmapModel) {
  constexpr std::size_t kWindow = 4096;
  Seq rcv_nxt = 0xffff'd000;
  std::vector<bool> held(kWindow, false);  // held[i]: the byte at rcv_nxt - 100 + i
  constexpr Seq kBelow = 100;
  std::mt19937 rng(5);
  for (int step = 0; step < 5000; ++step) {
    if (rng() % 4 != 0) {
      const std::size_t offset = rng() % (kWindow - 300);
      const std::size_t n = rng() % 300;
      const Seq seq = rcv_nxt - kBelow + static_cast<Seq>(offset);
      bool fresh = false;
      for (std::size_t i = offset; i < offset + n; ++i) fresh |= !held[i];
      const Insert r = insert(seq, n);
      if (fresh) {
        ASSERT_NE(r, Insert::duplicate) << step;
      } else {
        ASSERT_EQ(r, Insert::duplicate) << step;
      }
      for (std::size_t i = offset; i < offset + n; ++i) held[i] = true;
    } else {
      std::size_t next = kBelow;
      while (next < kWindow && held[next]) ++next;
      const Seq before = rcv_nxt;
      rcv_nxt = drain(rcv_nxt);  // checks every byte handed up
      ASSERT_EQ(rcv_nxt, before + static_cast<Seq>(next - kBelow)) << step;
      // Slide the window: what is left of the bitmap starts kBelow before the new rcv_nxt.
      std::vector<bool> slid(kWindow, false);
      for (std::size_t i = next; i < kWindow; ++i) slid[i - (next - kBelow)] = held[i];
      held = std::move(slid);
      for (std::size_t i = 0; i < kBelow; ++i) ASSERT_FALSE(held[i]);
    }
    // The queue holds the bitmap: its bytes, and its runs as SACK blocks.
    std::size_t bytes = 0;
    std::set<std::pair<Seq, Seq>> runs;
    Seq last_end = 0;  // the set sorts by raw value, wrong across 2^32
    for (std::size_t i = 0; i < kWindow;) {
      if (!held[i]) {
        ++i;
        continue;
      }
      std::size_t j = i;
      while (j < kWindow && held[j]) ++j;
      bytes += j - i;
      last_end = rcv_nxt - kBelow + static_cast<Seq>(j);
      runs.emplace(rcv_nxt - kBelow + static_cast<Seq>(i), last_end);
      i = j;
    }
    ASSERT_EQ(q_.bytes(), bytes) << step;
    ASSERT_EQ(q_.blocks(), runs.size()) << step;
    std::set<std::pair<Seq, Seq>> reported;
    for (const TcpSackBlock& b : sack(runs.size() + 1)) reported.emplace(b.left, b.right);
    ASSERT_EQ(reported, runs) << step;
    if (!runs.empty()) {
      ASSERT_EQ(q_.end_seq(), last_end);
    }
  }
  EXPECT_TRUE(seq_gt(rcv_nxt, 0x1000)) << "the stream crossed 2^32";
}

// The same with a bound kept as the receive buffer keeps it: collapsing,
// then pruning from the top. Whatever goes, every byte handed up is the
// right one.
TEST_F(OutOfOrderQueueTest, BoundedByCollapsingAndPruningUnderRandomSegments) {
  constexpr std::size_t kBound = 16 * 1024;
  Seq rcv_nxt = 0xffff'f000;
  std::mt19937 rng(9);
  std::size_t delivered = 0, collapsed = 0, pruned = 0;
  std::array<std::size_t, 3> outcomes{};  // by Insert
  for (int step = 0; step < 20'000; ++step) {
    if (rng() % 8 != 0) {
      const Seq seq = rcv_nxt + 1 + static_cast<Seq>(rng() % 6000);
      ++outcomes[static_cast<std::size_t>(q_.insert(seq, segment(seq, rng() % 1500)).result)];
      if (q_.charged() > kBound) collapsed += q_.collapse(kBound / 8);
      while (q_.charged() > kBound) {
        const std::size_t freed = q_.prune_from_top(seq, kBound / 8);
        if (freed == 0) break;
        pruned += freed;
      }
      // What lies below the new segment goes last (the receive buffer would
      // have refused the segment instead).
      while (q_.charged() > kBound) ASSERT_NE(q_.prune_from_top(rcv_nxt, kBound / 8), 0u);
      ASSERT_LE(q_.charged(), kBound);
    } else {
      rcv_nxt += static_cast<Seq>(rng() % 200);  // arrived in order
      Seq at = rcv_nxt;
      rcv_nxt = q_.drain(rcv_nxt, [&](Packet p) {
        for (std::byte b : p.data()) ASSERT_EQ(b, byte_at(at++));
        delivered += p.size();
      });
      ASSERT_EQ(rcv_nxt, at);
      if (!q_.empty()) {
        ASSERT_TRUE(seq_gt(q_.end_seq(), rcv_nxt));
      }
    }
  }
  EXPECT_GT(pruned, 0u);
  EXPECT_GT(collapsed, 0u);
  EXPECT_GT(delivered, 0u);
  for (std::size_t n : outcomes) EXPECT_GT(n, 0u);
}

TEST_F(OutOfOrderQueueTest, ClearForgetsEverything) {
  EXPECT_EQ(insert(2000, 10), Insert::queued);
  EXPECT_EQ(insert(1000, 10), Insert::queued);
  q_.clear();
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.bytes(), 0u);
  EXPECT_EQ(q_.charged(), 0u);
  EXPECT_EQ(q_.blocks(), 0u);
  EXPECT_EQ(sack(), Blocks{});
  // A fresh start far away (the anchor is reset too).
  EXPECT_EQ(insert(0x9000'0000, 10), Insert::queued);
  EXPECT_EQ(q_.end_seq(), 0x9000'000au);
}

}  // namespace ipv4_tcp_ofo_queue_test
}  // namespace
}  // namespace netns::tcp
