#include "ipv4/tcp/sack_scoreboard.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

namespace netns::tcp {
namespace {

using Hole = std::optional<std::pair<Seq, Seq>>;
using Ranges = std::vector<std::pair<Seq, Seq>>;

Ranges ranges_of(const SackScoreboard& board) {
  Ranges out;
  for (std::size_t i = 0; i < board.ranges(); ++i) out.push_back(board.range(i));
  return out;
}

TEST(SackScoreboard, StartsEmpty) {
  SackScoreboard board;
  EXPECT_TRUE(board.empty());
  EXPECT_EQ(board.ranges(), 0u);
  EXPECT_EQ(board.sacked_bytes(), 0u);
  EXPECT_FALSE(board.is_sacked(0));
  EXPECT_EQ(board.sacked_above(0), 0u);
  EXPECT_EQ(board.next_hole(0), Hole{});
  EXPECT_EQ(board.hole_bytes(100, 200), 100u);
  EXPECT_EQ(board.discarded(), 0u);
}

TEST(SackScoreboard, DisjointBlocksAreKeptInOrder) {
  SackScoreboard board;
  EXPECT_EQ(board.add(300, 400), 100u);
  EXPECT_EQ(board.add(100, 200), 100u);
  EXPECT_EQ(board.add(500, 550), 50u);
  EXPECT_EQ(ranges_of(board), (Ranges{{100, 200}, {300, 400}, {500, 550}}));
  EXPECT_EQ(board.sacked_bytes(), 250u);
  EXPECT_EQ(board.lowest_sacked(), 100u);
  EXPECT_EQ(board.highest_sacked(), 550u);
}

TEST(SackScoreboard, OverlappingBlocksMerge) {
  SackScoreboard board;
  EXPECT_EQ(board.add(100, 200), 100u);
  EXPECT_EQ(board.add(150, 250), 50u);
  EXPECT_EQ(board.add(50, 120), 50u);
  EXPECT_EQ(ranges_of(board), (Ranges{{50, 250}}));
  EXPECT_EQ(board.sacked_bytes(), 200u);
}

TEST(SackScoreboard, AdjacentBlocksMerge) {
  SackScoreboard board;
  EXPECT_EQ(board.add(100, 200), 100u);
  EXPECT_EQ(board.add(200, 300), 100u);
  EXPECT_EQ(board.add(50, 100), 50u);
  EXPECT_EQ(ranges_of(board), (Ranges{{50, 300}}));
}

TEST(SackScoreboard, BlockBridgingSeveralRangesMergesThemAll) {
  SackScoreboard board;
  board.add(100, 200);
  board.add(300, 400);
  board.add(500, 600);
  board.add(700, 800);
  EXPECT_EQ(board.add(150, 550), 200u);
  EXPECT_EQ(ranges_of(board), (Ranges{{100, 600}, {700, 800}}));
  EXPECT_EQ(board.sacked_bytes(), 600u);
  EXPECT_EQ(board.add(600, 700), 100u);  // touches both neighbours
  EXPECT_EQ(ranges_of(board), (Ranges{{100, 800}}));
}

TEST(SackScoreboard, DuplicateAndContainedBlocksAddNothing) {
  SackScoreboard board;
  board.add(100, 200);
  EXPECT_EQ(board.add(100, 200), 0u);
  EXPECT_EQ(board.add(120, 180), 0u);
  EXPECT_EQ(board.add(199, 200), 0u);
  EXPECT_EQ(board.sacked_bytes(), 100u);
  EXPECT_EQ(board.ranges(), 1u);
}

TEST(SackScoreboard, ContainingBlockAddsBothSides) {
  SackScoreboard board;
  board.add(200, 300);
  EXPECT_EQ(board.add(100, 400), 200u);
  EXPECT_EQ(ranges_of(board), (Ranges{{100, 400}}));
}

TEST(SackScoreboard, EmptyOrInvertedBlockIsIgnored) {
  SackScoreboard board;
  EXPECT_EQ(board.add(5, 5), 0u);
  EXPECT_EQ(board.add(10, 5), 0u);
  EXPECT_TRUE(board.empty());
  EXPECT_EQ(board.discarded(), 0u);
}

TEST(SackScoreboard, AdvanceForgetsAndTrims) {
  SackScoreboard board;
  board.add(100, 200);
  board.add(300, 400);
  board.advance(50);
  EXPECT_EQ(ranges_of(board), (Ranges{{100, 200}, {300, 400}}));
  board.advance(150);
  EXPECT_EQ(ranges_of(board), (Ranges{{150, 200}, {300, 400}}));
  EXPECT_EQ(board.sacked_bytes(), 150u);
  board.advance(200);
  EXPECT_EQ(ranges_of(board), (Ranges{{300, 400}}));
  EXPECT_EQ(board.sacked_bytes(), 100u);
  board.advance(250);
  EXPECT_EQ(ranges_of(board), (Ranges{{300, 400}}));
  board.advance(400);
  EXPECT_TRUE(board.empty());
  EXPECT_EQ(board.sacked_bytes(), 0u);
}

TEST(SackScoreboard, AdvancePastSeveralRanges) {
  SackScoreboard board;
  for (Seq s = 100; s < 1000; s += 100) board.add(s, s + 50);
  board.advance(625);
  EXPECT_EQ(ranges_of(board), (Ranges{{625, 650}, {700, 750}, {800, 850}, {900, 950}}));
  EXPECT_EQ(board.sacked_bytes(), 175u);
}

TEST(SackScoreboard, IsSackedAtTheEdges) {
  SackScoreboard board;
  board.add(100, 200);
  board.add(300, 400);
  EXPECT_FALSE(board.is_sacked(99));
  EXPECT_TRUE(board.is_sacked(100));
  EXPECT_TRUE(board.is_sacked(199));
  EXPECT_FALSE(board.is_sacked(200));
  EXPECT_FALSE(board.is_sacked(299));
  EXPECT_TRUE(board.is_sacked(399));
  EXPECT_FALSE(board.is_sacked(400));
}

TEST(SackScoreboard, SackedAbove) {
  SackScoreboard board;
  board.add(100, 200);
  board.add(300, 400);
  EXPECT_EQ(board.sacked_above(50), 200u);
  EXPECT_EQ(board.sacked_above(100), 200u);
  EXPECT_EQ(board.sacked_above(150), 150u);
  EXPECT_EQ(board.sacked_above(200), 100u);
  EXPECT_EQ(board.sacked_above(350), 50u);
  EXPECT_EQ(board.sacked_above(399), 1u);
  EXPECT_EQ(board.sacked_above(400), 0u);
}

TEST(SackScoreboard, NextHole) {
  SackScoreboard board;
  board.add(100, 200);
  board.add(300, 400);
  EXPECT_EQ(board.next_hole(50), (Hole{{50, 100}}));
  EXPECT_EQ(board.next_hole(99), (Hole{{99, 100}}));
  EXPECT_EQ(board.next_hole(100), (Hole{{200, 300}}));  // clamped past SACKed bytes
  EXPECT_EQ(board.next_hole(150), (Hole{{200, 300}}));
  EXPECT_EQ(board.next_hole(200), (Hole{{200, 300}}));
  EXPECT_EQ(board.next_hole(250), (Hole{{250, 300}}));
  EXPECT_EQ(board.next_hole(300), Hole{});  // nothing SACKed above 400
  EXPECT_EQ(board.next_hole(400), Hole{});
  EXPECT_EQ(board.next_hole(1000), Hole{});
}

TEST(SackScoreboard, HoleBytes) {
  SackScoreboard board;
  board.add(100, 200);
  board.add(300, 400);
  EXPECT_EQ(board.hole_bytes(50, 450), 200u);
  EXPECT_EQ(board.hole_bytes(150, 350), 100u);
  EXPECT_EQ(board.hole_bytes(100, 200), 0u);
  EXPECT_EQ(board.hole_bytes(200, 300), 100u);
  EXPECT_EQ(board.hole_bytes(120, 130), 0u);
  EXPECT_EQ(board.hole_bytes(350, 150), 0u);
  EXPECT_EQ(board.hole_bytes(150, 150), 0u);
}

TEST(SackScoreboard, AtMostMaxRanges) {
  SackScoreboard board;
  constexpr Seq kBase = 1000;
  for (Seq i = 0; i < 1000; ++i) board.add(kBase + 10 * i, kBase + 10 * i + 5);
  EXPECT_EQ(board.ranges(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(board.discarded(), 1000u - SackScoreboard::kMaxRanges);
  EXPECT_EQ(board.sacked_bytes(), 5 * SackScoreboard::kMaxRanges);
  EXPECT_EQ(board.highest_sacked(), kBase + 10 * 31 + 5);

  // Full, a block that merges still counts, and one joining two ranges frees one.
  EXPECT_EQ(board.add(kBase, kBase + 7), 2u);
  EXPECT_EQ(board.add(kBase + 7, kBase + 10), 3u);
  EXPECT_EQ(board.ranges(), SackScoreboard::kMaxRanges - 1);
  EXPECT_EQ(board.add(kBase + 5000, kBase + 5001), 1u);
  EXPECT_EQ(board.ranges(), SackScoreboard::kMaxRanges);
  EXPECT_EQ(board.discarded(), 1000u - SackScoreboard::kMaxRanges);
  EXPECT_EQ(board.add(10, 20), 0u);
  EXPECT_EQ(board.discarded(), 1001u - SackScoreboard::kMaxRanges);
}

TEST(SackScoreboard, ClearKeepsDiscarded) {
  SackScoreboard board;
  for (Seq i = 0; i < 40; ++i) board.add(10 * i, 10 * i + 5);
  board.clear();
  EXPECT_TRUE(board.empty());
  EXPECT_EQ(board.sacked_bytes(), 0u);
  EXPECT_EQ(board.discarded(), 8u);
  EXPECT_EQ(board.add(1, 2), 1u);
}

TEST(SackScoreboard, RangesAcrossTheWrap) {
  SackScoreboard board;
  EXPECT_EQ(board.add(0x10, 0x20), 0x10u);
  EXPECT_EQ(board.add(0xffff'ffe0, 0xffff'fff0), 0x10u);
  EXPECT_EQ(ranges_of(board), (Ranges{{0xffff'ffe0, 0xffff'fff0}, {0x10, 0x20}}));
  EXPECT_EQ(board.lowest_sacked(), 0xffff'ffe0u);
  EXPECT_EQ(board.highest_sacked(), 0x20u);
  EXPECT_EQ(board.next_hole(0xffff'ff00), (Hole{{0xffff'ff00, 0xffff'ffe0}}));
  EXPECT_EQ(board.next_hole(0xffff'ffe8), (Hole{{0xffff'fff0, 0x10}}));
  EXPECT_EQ(board.hole_bytes(0xffff'ff00, 0x100), 0x200u - 0x20);
  EXPECT_EQ(board.sacked_above(0xffff'fff8), 0x10u);

  EXPECT_EQ(board.add(0xffff'fff0, 0x10), 0x20u);
  EXPECT_EQ(ranges_of(board), (Ranges{{0xffff'ffe0, 0x20}}));
  EXPECT_TRUE(board.is_sacked(0xffff'ffff));
  EXPECT_TRUE(board.is_sacked(0));
  EXPECT_FALSE(board.is_sacked(0x20));
  EXPECT_EQ(board.sacked_above(0xffff'fff0), 0x30u);

  board.advance(0x5);
  EXPECT_EQ(ranges_of(board), (Ranges{{0x5, 0x20}}));
  EXPECT_EQ(board.sacked_bytes(), 0x1bu);
}

// Random blocks and cumulative ACKs against a bitmap, in a window across 2^32.
TEST(SackScoreboard, MatchesABitmapModel) {
  constexpr Seq kBase = 0xffff'f000;
  constexpr std::uint32_t kWindow = 0x2000;
  std::mt19937 rng(3);
  for (int round = 0; round < 50; ++round) {
    SackScoreboard board;
    std::vector<bool> sacked(kWindow, false);
    std::uint32_t una = 0;  // offsets from kBase
    for (int step = 0; step < 200; ++step) {
      if (rng() % 5 == 0) {
        una = std::min(kWindow - 1, una + static_cast<std::uint32_t>(rng() % 300));
        board.advance(kBase + una);
        for (std::uint32_t i = 0; i < una; ++i) sacked[i] = false;
      } else {
        const std::uint32_t left = una + 1 + static_cast<std::uint32_t>(rng() % (kWindow - una));
        const std::uint32_t right = std::min(kWindow, left + 1 + static_cast<std::uint32_t>(rng() % 200));
        if (left >= right) continue;
        const std::uint64_t discarded = board.discarded();
        const std::uint32_t added = board.add(kBase + left, kBase + right);
        if (board.discarded() != discarded) {
          ASSERT_EQ(added, 0u);
          continue;
        }
        std::uint32_t expected = 0;
        for (std::uint32_t i = left; i < right; ++i) expected += !sacked[i], sacked[i] = true;
        ASSERT_EQ(added, expected);
      }
      std::uint32_t total = 0;
      std::uint32_t highest = 0;
      for (std::uint32_t i = 0; i < kWindow; ++i) {
        if (sacked[i]) total += 1, highest = i + 1;
      }
      ASSERT_EQ(board.sacked_bytes(), total);
      ASSERT_EQ(board.empty(), total == 0);
      if (total == 0) continue;
      ASSERT_EQ(board.highest_sacked(), kBase + highest);
      const std::uint32_t probe = una + static_cast<std::uint32_t>(rng() % (kWindow - una));
      ASSERT_EQ(board.is_sacked(kBase + probe), sacked[probe]);
      std::uint32_t above = 0;
      for (std::uint32_t i = probe; i < kWindow; ++i) above += sacked[i];
      ASSERT_EQ(board.sacked_above(kBase + probe), above);
      const std::uint32_t to = probe + static_cast<std::uint32_t>(rng() % (kWindow - probe + 1));
      std::uint32_t holes = 0;
      for (std::uint32_t i = probe; i < to; ++i) holes += !sacked[i];
      ASSERT_EQ(board.hole_bytes(kBase + probe, kBase + to), holes);
      // The model's next hole: skip SACKed bytes, then run to the next SACKed one.
      std::uint32_t start = probe;
      while (start < kWindow && sacked[start]) ++start;
      std::uint32_t end = start;
      while (end < kWindow && !sacked[end]) ++end;
      const Hole expected = end < kWindow ? Hole{{kBase + start, kBase + end}} : Hole{};
      ASSERT_EQ(board.next_hole(kBase + probe), expected) << "probe " << probe;
    }
  }
}

}  // namespace
}  // namespace netns::tcp
