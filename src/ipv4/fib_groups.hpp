// ipv4/fib_groups.hpp — the compressed child groups of the Fib's trie.
//
// Internal to the Fib (fib.hpp): a child group is 256 trie slots (32-bit
// leaves or slots of further groups) stored compressed, as Poptrie (Asai and
// Ohara, SIGCOMM 2015) stores its leaves: a bitmap marks each slot that
// differs from the slot before it, and only those distinct values follow, so
// a slot's value is found by counting the map's bits up to it (one popcount).
// Painting a prefix expands a group to its 256 slots, changes them and stores
// them again (`store`), which picks the smallest size that holds them.
//
// Two layouts, one per trie level, so a lookup never asks which one it reads:
//   - QuarteredGroups (level 2, /17../24 under a /16): four quarters of 64
//     slots, each in k whole 64-byte lines (the same k for the four, 1..5):
//     words 0..1 are the quarter's map and its values follow from word 2, up
//     to 16k - 2. A /16 with a dozen /24s has k = 1, and a lookup reads one
//     line: the map and the value together.
//   - PackedGroups (level 3, /25../32 under a /24, usually one or two routes):
//     one 256-bit map (words 0..7), the set bits before each map word (word 8,
//     four 8-bit counts) and the values from word 9, in as few lines as hold
//     them: one line for up to 7 values.
// A group's slot is kGroupBit | where it is; a leaf never has kGroupBit.
// "Where" fits: level 2 has at most 65,536 live groups of at most 5 units
// (28 bits of units), level 3 at most 2^24 of at most 17 lines (31 bits of
// lines), and compaction keeps the freed blocks under a quarter of a pool.
//
// The lines live in a pool (huge pages once it is 2 MiB: an Internet-sized
// table's groups are tens of MiB read at random), reused by size. Groups grow
// and shrink as routes come and go, leaving freed sizes nobody asks for; when
// a quarter of a pool is free the Fib copies the live groups into fresh pools.
//
// Thread-safety: none, as the Fib.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/huge_pages.hpp"

namespace netns::ipv4::fib {

inline constexpr std::uint32_t kGroupBit = 0x8000'0000u;
inline constexpr unsigned kGroupSlots = 256;

struct alignas(64) Line {
  std::uint32_t words[16];
};

// 64-bit word `word` of a map kept as 32-bit words.
inline std::uint64_t map_word(const std::uint32_t* map, unsigned word) {
  return map[2 * word] | std::uint64_t{map[2 * word + 1]} << 32;
}

// The rank of slot i in a 64-bit map word: its run's number, from 1.
inline unsigned rank_in(std::uint64_t map, unsigned i) {
  return static_cast<unsigned>(std::popcount(map << (63 - (i & 63))));
}

// Lines handed out in blocks of 1..kMaxBlocks units of `unit` lines each,
// identified by the index of their first unit; freed blocks reused by size.
class LinePool {
 public:
  static constexpr unsigned kMaxBlocks = 17;

  explicit LinePool(unsigned unit) : unit_(unit) {}

  std::uint32_t allocate(unsigned units);
  void release(std::uint32_t first, unsigned units);
  Line* at(std::uint32_t first) { return lines_.data() + std::size_t{first} * unit_; }
  const Line* at(std::uint32_t first) const { return lines_.data() + std::size_t{first} * unit_; }
  const Line* data() const { return lines_.data(); }
  // A quarter of the lines are in freed blocks (and enough to bother).
  bool fragmented() const;
  std::size_t free_lines() const;
  // Room for the live lines of `other` (before copying them here).
  void reserve_for(const LinePool& other);
  std::size_t memory_bytes() const;

 private:
  unsigned unit_;
  std::vector<Line, HugePageAllocator<Line>> lines_;
  std::array<std::vector<std::uint32_t>, kMaxBlocks + 1> free_;  // by units; 0 unused
};

class QuarteredGroups {
 public:
  // The value of slot i (0..255) of `group`, from the pool's lines.
  static std::uint32_t slot(const Line* lines, std::uint32_t group, unsigned i) {
    const std::uint32_t* q = lines[std::size_t{group & kBaseMask} * kQuarters + (i >> 6) * quarter_lines(group)].words;
    return q[kMapWords - 1 + rank_in(map_word(q, 0), i)];
  }

  const Line* lines() const { return pool_.data(); }
  // out[256] = the slots of `group`, or 256 copies of a leaf.
  void expand(std::uint32_t group, std::uint32_t* out) const;
  // Stores slots[256] in place of `old` (a group of this kind or a leaf): the
  // leaf itself when all are equal, else a group (old's lines when the size
  // is the same). Returns the new slot.
  std::uint32_t store(std::uint32_t old, const std::uint32_t* slots);
  void release(std::uint32_t group) { pool_.release(group & kBaseMask, quarter_lines(group)); }
  // Copies `group` into `to`, values as they are; returns its slot there.
  std::uint32_t copy(std::uint32_t group, QuarteredGroups& to) const;
  // f(std::uint32_t& value) for each value of `group` (not the padding).
  template <class F>
  void for_each_value(std::uint32_t group, F&& f) {
    for (std::size_t quarter = 0; quarter < kQuarters; ++quarter) {
      std::uint32_t* q = quarter_at(group, quarter);
      const auto values = static_cast<unsigned>(std::popcount(map_word(q, 0)));
      for (unsigned v = 0; v < values; ++v) f(q[kMapWords + v]);
    }
  }
  bool fragmented() const { return pool_.fragmented(); }
  void reserve_for(const QuarteredGroups& other) { pool_.reserve_for(other.pool_); }
  std::size_t memory_bytes() const { return pool_.memory_bytes(); }

 private:
  static constexpr std::size_t kQuarters = 4;
  static constexpr unsigned kQuarterSlots = 64;
  static constexpr unsigned kMapWords = 2;
  static constexpr unsigned kLinesShift = 28;
  static constexpr std::uint32_t kBaseMask = (1u << kLinesShift) - 1;
  static constexpr unsigned quarter_lines(std::uint32_t group) { return group >> kLinesShift & 7; }

  std::uint32_t* quarter_at(std::uint32_t group, std::size_t quarter) {
    return pool_.at(group & kBaseMask)[quarter * quarter_lines(group)].words;
  }
  const std::uint32_t* quarter_at(std::uint32_t group, std::size_t quarter) const {
    return pool_.at(group & kBaseMask)[quarter * quarter_lines(group)].words;
  }

  LinePool pool_{kQuarters};  // a unit is one line per quarter
};

class PackedGroups {
 public:
  static std::uint32_t slot(const Line* lines, std::uint32_t group, unsigned i) {
    const std::uint32_t* g = lines[group & ~kGroupBit].words;
    const unsigned word = i >> 6;
    const unsigned rank = (g[kCountsWord] >> (8 * word) & 0xff) + rank_in(map_word(g, word), i);
    return g[kValuesWord - 1 + rank];
  }

  const Line* lines() const { return pool_.data(); }
  void expand(std::uint32_t group, std::uint32_t* out) const;
  std::uint32_t store(std::uint32_t old, const std::uint32_t* slots);
  void release(std::uint32_t group) { pool_.release(group & ~kGroupBit, lines_of(group)); }
  std::uint32_t copy(std::uint32_t group, PackedGroups& to) const;
  bool fragmented() const { return pool_.fragmented(); }
  void reserve_for(const PackedGroups& other) { pool_.reserve_for(other.pool_); }
  std::size_t memory_bytes() const { return pool_.memory_bytes(); }

 private:
  static constexpr unsigned kCountsWord = 8;
  static constexpr unsigned kValuesWord = 9;
  static constexpr unsigned lines_for(unsigned values) { return (kValuesWord + values + 15) / 16; }
  unsigned lines_of(std::uint32_t group) const;

  LinePool pool_{1};
};

// Whether all 256 slots are equal: then a group is not needed.
bool uniform(const std::uint32_t* slots);

}  // namespace netns::ipv4::fib
