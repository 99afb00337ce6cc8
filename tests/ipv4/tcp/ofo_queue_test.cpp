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

using Insert = OutOfOrderQueue::Insert;
using wire::TcpSackBlock;

constexpr std::size_t kLarge = 1 << 20;

// The byte at sequence number s: a receiver can check where any byte it was
// handed came from, whatever was trimmed off around it.
std::byte byte_at(Seq s) { return std::byte(static_cast<std::uint8_t>(s ^ (s >> 8) ^ (s >> 16))); }

class OutOfOrderQueueTest : public ::testing::Test {
 protected:
  // Payload [seq, seq + n) as the peer sent it.
  Packet segment(Seq seq, std::size_t n) {
    std::vector<std::byte> bytes(n);
    for (std::size_t i = 0; i < n; ++i) bytes[i] = byte_at(static_cast<Seq>(seq + i));
    return pool_.allocate_from(bytes);
  }
  Insert insert(Seq seq, std::size_t n) { return q_.insert(seq, segment(seq, n)); }

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
  OutOfOrderQueue q_{kLarge, 1000};
  std::vector<std::size_t> delivered_;
};

using Blocks = std::vector<TcpSackBlock>;
using Sizes = std::vector<std::size_t>;

TEST_F(OutOfOrderQueueTest, StartsEmpty) {
  EXPECT_TRUE(q_.empty());
  EXPECT_EQ(q_.segments(), 0u);
  EXPECT_EQ(q_.bytes(), 0u);
  EXPECT_EQ(q_.charged(), 0u);
  EXPECT_EQ(q_.pruned(), 0u);
  EXPECT_EQ(sack(), Blocks{});
  EXPECT_EQ(drain(1000), 1000u);
  EXPECT_EQ(delivered_, Sizes{});
}

TEST_F(OutOfOrderQueueTest, DrainsInOrderOnceTheHoleIsFilled) {
  EXPECT_EQ(insert(1100, 100), Insert::queued);
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.bytes(), 200u);
  EXPECT_EQ(q_.charged(), 200u + 2 * OutOfOrderQueue::kOverhead);
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
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(insert(1050, 100), Insert::queued);  // keeps [1100, 1150)
  EXPECT_EQ(q_.segments(), 2u);
  EXPECT_EQ(q_.bytes(), 150u);
  EXPECT_EQ(q_.end_seq(), 1150u);
  EXPECT_EQ(drain(1000), 1150u);
  EXPECT_EQ(delivered_, (Sizes{100, 50}));
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
  EXPECT_EQ(insert(1000, 100), Insert::queued);
  EXPECT_EQ(insert(1200, 100), Insert::queued);
  EXPECT_EQ(q_.blocks(), 2u);
  EXPECT_EQ(insert(1050, 200), Insert::queued);  // keeps [1100, 1200)
  EXPECT_EQ(q_.segments(), 3u);
  EXPECT_EQ(q_.bytes(), 300u);
  EXPECT_EQ(q_.blocks(), 1u);
  EXPECT_EQ(sack(), (Blocks{{1000, 1300}}));
  EXPECT_EQ(drain(1000), 1300u);
  EXPECT_EQ(delivered_, (Sizes{100, 100, 100}));
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
  EXPECT_EQ(q_.insert(1000, Packet{}), Insert::duplicate);
  EXPECT_TRUE(q_.empty());
}

TEST_F(OutOfOrderQueueTest, ContainingSegmentReplacesWhatItCovers) {
  EXPECT_EQ(insert(1100, 50), Insert::queued);
  EXPECT_EQ(insert(1160, 10), Insert::queued);
  EXPECT_EQ(insert(1000, 200), Insert::queued);
  EXPECT_EQ(q_.segments(), 1u);
  EXPECT_EQ(q_.bytes(), 200u);
  EXPECT_EQ(q_.charged(), 200u + OutOfOrderQueue::kOverhead);
  EXPECT_EQ(sack(), (Blocks{{1000, 1200}}));
  EXPECT_EQ(drain(1000), 1200u);
  EXPECT_EQ(delivered_, Sizes{200});
}

TEST_F(OutOfOrderQueueTest, ContainingAndOverlappingAtOnce) {
  EXPECT_EQ(insert(1000, 50), Insert::queued);   // [1000, 1050)
  EXPECT_EQ(insert(1100, 50), Insert::queued);   // [1100, 1150)
  EXPECT_EQ(insert(1180, 70), Insert::queued);   // [1180, 1250)
  EXPECT_EQ(insert(1020, 180), Insert::queued);  // [1020, 1200) keeps [1050, 1180)
  EXPECT_EQ(q_.segments(), 3u);
  EXPECT_EQ(q_.bytes(), 250u);
  EXPECT_EQ(q_.blocks(), 1u);
  EXPECT_EQ(drain(1000), 1250u);
  EXPECT_EQ(delivered_, (Sizes{50, 130, 70}));
  EXPECT_EQ(pool_.copies(), 0u);
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

  // A duplicate is no insert: the order stays.
  EXPECT_EQ(insert(1400, 100), Insert::duplicate);
  EXPECT_EQ(sack(), (Blocks{{1000, 1300}, {1800, 1900}, {1600, 1700}, {1400, 1500}}));

  // The most recent block was delivered: the rest keep their order.
  EXPECT_EQ(drain(1000), 1300u);
  EXPECT_EQ(sack(), (Blocks{{1800, 1900}, {1600, 1700}, {1400, 1500}}));
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

TEST_F(OutOfOrderQueueTest, SegmentBoundFullAtTheTopPrunesBelow) {
  OutOfOrderQueue q(kLarge, 3);
  EXPECT_EQ(q.insert(1000, segment(1000, 10)), Insert::queued);
  EXPECT_EQ(q.insert(2000, segment(2000, 10)), Insert::queued);
  EXPECT_EQ(q.insert(3000, segment(3000, 10)), Insert::queued);
  EXPECT_EQ(q.insert(4000, segment(4000, 10)), Insert::full);
  EXPECT_EQ(q.segments(), 3u);
  EXPECT_EQ(q.end_seq(), 3010u);
  EXPECT_EQ(q.pruned(), 0u);

  EXPECT_EQ(q.insert(500, segment(500, 10)), Insert::queued);
  EXPECT_EQ(q.segments(), 3u);
  EXPECT_EQ(q.pruned(), 1u);
  EXPECT_EQ(q.end_seq(), 2010u);
  EXPECT_EQ(q.bytes(), 30u);
  std::vector<TcpSackBlock> blocks(4);
  blocks.resize(q.sack_blocks(blocks));
  EXPECT_EQ(blocks, (Blocks{{500, 510}, {2000, 2010}, {1000, 1010}}));
}

TEST_F(OutOfOrderQueueTest, ByteBoundCountsTheOverhead) {
  constexpr std::size_t kCharge = 100 + OutOfOrderQueue::kOverhead;
  OutOfOrderQueue q(3 * kCharge, 1000);
  for (Seq s : {1000u, 1200u, 1400u}) EXPECT_EQ(q.insert(s, segment(s, 100)), Insert::queued);
  EXPECT_EQ(q.charged(), 3 * kCharge);
  EXPECT_EQ(q.insert(1600, segment(1600, 1)), Insert::full);
  EXPECT_EQ(q.charged(), 3 * kCharge);
  EXPECT_EQ(q.insert(1100, segment(1100, 100)), Insert::queued);  // below: the top goes
  EXPECT_EQ(q.pruned(), 1u);
  EXPECT_EQ(q.charged(), 3 * kCharge);
  EXPECT_EQ(q.end_seq(), 1300u);
}

TEST_F(OutOfOrderQueueTest, PrunesAsManyAsNeededFromTheTop) {
  OutOfOrderQueue q(2000, 1000);
  for (Seq s = 10'000; s < 10'014; s += 2) EXPECT_EQ(q.insert(s, segment(s, 1)), Insert::queued);
  EXPECT_EQ(q.segments(), 7u);
  EXPECT_EQ(q.charged(), 7 * 257u);
  // 500 + 256 more needs 555 bytes freed: three tiny segments.
  EXPECT_EQ(q.insert(1000, segment(1000, 500)), Insert::queued);
  EXPECT_EQ(q.pruned(), 3u);
  EXPECT_EQ(q.segments(), 5u);
  EXPECT_EQ(q.end_seq(), 10'007u);
  EXPECT_EQ(q.charged(), 4 * 257u + 756);
}

TEST_F(OutOfOrderQueueTest, FullWhenPruningCannotMakeRoom) {
  OutOfOrderQueue q(1100, 1000);
  EXPECT_EQ(q.insert(1000, segment(1000, 500)), Insert::queued);  // 756
  EXPECT_EQ(q.insert(2000, segment(2000, 1)), Insert::queued);    // 257
  // 456 more: even without the segment above it would be 1212.
  EXPECT_EQ(q.insert(1600, segment(1600, 200)), Insert::full);
  EXPECT_EQ(q.segments(), 2u);
  EXPECT_EQ(q.bytes(), 501u);
  EXPECT_EQ(q.pruned(), 0u);
  EXPECT_EQ(q.end_seq(), 2001u);
}

TEST_F(OutOfOrderQueueTest, PruningTheRightNeighbourKeepsTheWholeSegment) {
  OutOfOrderQueue q(kLarge, 2);
  EXPECT_EQ(q.insert(1000, segment(1000, 100)), Insert::queued);
  EXPECT_EQ(q.insert(1150, segment(1150, 100)), Insert::queued);
  EXPECT_EQ(q.insert(1120, segment(1120, 80)), Insert::queued);
  EXPECT_EQ(q.pruned(), 1u);
  EXPECT_EQ(q.segments(), 2u);
  EXPECT_EQ(q.bytes(), 180u);
  EXPECT_EQ(q.end_seq(), 1200u);
}

TEST_F(OutOfOrderQueueTest, ReplacingCoveredSegmentsNeedsNoPruning) {
  OutOfOrderQueue q(kLarge, 2);
  EXPECT_EQ(q.insert(1100, segment(1100, 10)), Insert::queued);
  EXPECT_EQ(q.insert(1120, segment(1120, 10)), Insert::queued);
  EXPECT_EQ(q.insert(1050, segment(1050, 150)), Insert::queued);
  EXPECT_EQ(q.pruned(), 0u);
  EXPECT_EQ(q.segments(), 1u);
  EXPECT_EQ(q.bytes(), 150u);
}

// 10,000 one-byte segments at random even offsets (never adjacent) from
// `base`, checked against a model of the policy when `fit` of them fill the
// queue: a new one below the highest evicts the highest, one above is refused.
// Then filling every hole hands up exactly the model's bytes.
void flood(PacketPool& pool, OutOfOrderQueue& q, std::size_t fit, Seq base, unsigned seed) {
  std::set<std::uint32_t> model;  // offsets from base
  std::uint64_t model_pruned = 0;
  std::mt19937 rng(seed);
  for (int i = 0; i < 10'000; ++i) {
    const std::uint32_t offset = 2 + 2 * (rng() % 30'000);
    Insert expected = Insert::queued;
    if (model.contains(offset)) {
      expected = Insert::duplicate;
    } else if (model.size() < fit) {
      model.insert(offset);
    } else if (offset < *model.rbegin()) {
      model.erase(std::prev(model.end()));
      model.insert(offset);
      ++model_pruned;
    } else {
      expected = Insert::full;
    }
    const Seq seq = base + offset;
    const std::byte payload[1] = {byte_at(seq)};
    ASSERT_EQ(q.insert(seq, pool.allocate_from(payload)), expected) << i;
    ASSERT_LE(q.charged(), q.max_bytes());
    ASSERT_LE(q.segments(), q.max_segments());
  }
  EXPECT_EQ(q.segments(), fit);
  EXPECT_EQ(q.bytes(), fit);
  EXPECT_EQ(q.blocks(), fit);
  EXPECT_EQ(q.pruned(), model_pruned);
  EXPECT_GT(q.pruned(), 0u);
  EXPECT_EQ(q.end_seq(), base + *model.rbegin() + 1);

  std::size_t delivered = 0;
  for (std::uint32_t offset : model) {
    const Seq seq = base + offset;
    EXPECT_EQ(q.drain(seq, [&](Packet p) {
      ASSERT_EQ(p.size(), 1u);
      EXPECT_EQ(p.data()[0], byte_at(seq));
      ++delivered;
    }), seq + 1);
  }
  EXPECT_EQ(delivered, fit);
  EXPECT_TRUE(q.empty());
}

// A byte bound of 64 KiB holds 255 one-byte segments (257 bytes charged each),
// here across 2^32.
TEST_F(OutOfOrderQueueTest, TinySegmentFloodStaysWithinTheByteBound) {
  constexpr std::size_t kMaxBytes = 64 * 1024;
  OutOfOrderQueue q(kMaxBytes, 100'000);
  flood(pool_, q, kMaxBytes / (1 + OutOfOrderQueue::kOverhead), 0xffff'8000, 42);
}

TEST_F(OutOfOrderQueueTest, TinySegmentFloodStaysWithinTheSegmentBound) {
  OutOfOrderQueue q(kLarge, 64);
  flood(pool_, q, 64, 5000, 1);
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
      ASSERT_EQ(r, fresh ? Insert::queued : Insert::duplicate) << step;
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
  EXPECT_EQ(pool_.copies(), 0u);
}

// The same with tight bounds: whatever is pruned, the bounds hold and every
// byte handed up is the right one.
TEST_F(OutOfOrderQueueTest, TightBoundsUnderRandomSegments) {
  OutOfOrderQueue q(8 * 1024, 16);
  Seq rcv_nxt = 0xffff'f000;
  std::mt19937 rng(9);
  std::size_t delivered = 0;
  std::array<std::size_t, 3> outcomes{};  // by Insert
  for (int step = 0; step < 20'000; ++step) {
    if (rng() % 8 != 0) {
      const Seq seq = rcv_nxt + 1 + static_cast<Seq>(rng() % 6000);
      ++outcomes[static_cast<std::size_t>(q.insert(seq, segment(seq, rng() % 1500)))];
      ASSERT_LE(q.charged(), q.max_bytes());
      ASSERT_LE(q.segments(), q.max_segments());
    } else {
      rcv_nxt += static_cast<Seq>(rng() % 200);  // arrived in order
      Seq at = rcv_nxt;
      rcv_nxt = q.drain(rcv_nxt, [&](Packet p) {
        for (std::byte b : p.data()) ASSERT_EQ(b, byte_at(at++));
        delivered += p.size();
      });
      ASSERT_EQ(rcv_nxt, at);
      if (!q.empty()) {
        ASSERT_TRUE(seq_gt(q.end_seq(), rcv_nxt));
      }
    }
  }
  EXPECT_GT(q.pruned(), 0u);
  EXPECT_GT(delivered, 0u);
  for (std::size_t n : outcomes) EXPECT_GT(n, 0u);
  EXPECT_EQ(pool_.copies(), 0u);
}

TEST_F(OutOfOrderQueueTest, ClearForgetsEverythingButPruned) {
  OutOfOrderQueue q(kLarge, 1);
  EXPECT_EQ(q.insert(2000, segment(2000, 10)), Insert::queued);
  EXPECT_EQ(q.insert(1000, segment(1000, 10)), Insert::queued);
  EXPECT_EQ(q.pruned(), 1u);
  q.clear();
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  EXPECT_EQ(q.charged(), 0u);
  EXPECT_EQ(q.blocks(), 0u);
  EXPECT_EQ(q.pruned(), 1u);
  std::vector<TcpSackBlock> blocks(4);
  EXPECT_EQ(q.sack_blocks(blocks), 0u);
  // A fresh start far away (the anchor is reset too).
  EXPECT_EQ(q.insert(0x9000'0000, segment(0x9000'0000, 10)), Insert::queued);
  EXPECT_EQ(q.end_seq(), 0x9000'000au);
}

}  // namespace
}  // namespace netns::tcp
