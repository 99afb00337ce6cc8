// ipv4/fib_groups.cpp — see fib_groups.hpp.
#include "ipv4/fib_groups.hpp"

#include <algorithm>
#include <bit>

namespace netns::ipv4::fib {

namespace {

// Both layouts store runs of equal slots the same way: a map (bit i % 32 of
// word i / 32 says slot i starts a run; slot 0 always does) and each run's
// value in order.
unsigned count_runs(const std::uint32_t* slots, unsigned n) {
  unsigned runs = 1;
  for (unsigned i = 1; i < n; ++i) runs += slots[i] != slots[i - 1];
  return runs;
}

// The map's words must be zero.
void encode_runs(const std::uint32_t* slots, unsigned n, std::uint32_t* map, std::uint32_t* values) {
  for (unsigned i = 0; i < n; ++i) {
    if (i != 0 && slots[i] == slots[i - 1]) continue;
    map[i / 32] |= 1u << (i % 32);
    *values++ = slots[i];
  }
}

void decode_runs(const std::uint32_t* map, const std::uint32_t* values, unsigned n, std::uint32_t* out) {
  const std::uint32_t* value = values - 1;
  for (unsigned i = 0; i < n; ++i) {
    value += map[i / 32] >> (i % 32) & 1;
    out[i] = *value;
  }
}

}  // namespace

// ---- LinePool ----

std::uint32_t LinePool::allocate(unsigned units) {
  auto& free = free_[units];
  if (!free.empty()) {
    const std::uint32_t first = free.back();
    free.pop_back();
    return first;
  }
  const std::size_t size = lines_.size();
  const std::size_t lines = std::size_t{units} * unit_;
  if (size + lines > lines_.capacity()) {
    // By a quarter, not double: the pool is most of the trie's memory.
    lines_.reserve(std::max(size + lines, lines_.capacity() + lines_.capacity() / 4 + 64));
  }
  lines_.resize(size + lines);  // may move the lines: slots hold indices, not pointers
  return static_cast<std::uint32_t>(size / unit_);
}

void LinePool::release(std::uint32_t first, unsigned units) { free_[units].push_back(first); }

std::size_t LinePool::free_lines() const {
  std::size_t lines = 0;
  for (unsigned units = 1; units <= kMaxBlocks; ++units) lines += free_[units].size() * units * unit_;
  return lines;
}

bool LinePool::fragmented() const {
  const std::size_t free = free_lines();
  return free >= 1024 && free >= (lines_.size() - free) / 4;
}

void LinePool::reserve_for(const LinePool& other) {
  const std::size_t live = other.lines_.size() - other.free_lines();
  lines_.reserve(live + live / 8);
}

std::size_t LinePool::memory_bytes() const {
  std::size_t bytes = lines_.capacity() * sizeof(Line);
  for (const auto& free : free_) bytes += free.capacity() * sizeof(std::uint32_t);
  return bytes;
}

bool uniform(const std::uint32_t* slots) {
  return std::all_of(slots + 1, slots + kGroupSlots, [&](std::uint32_t v) { return v == slots[0]; });
}

// ---- QuarteredGroups ----

void QuarteredGroups::expand(std::uint32_t group, std::uint32_t* out) const {
  if (!(group & kGroupBit)) {
    std::fill_n(out, kGroupSlots, group);
    return;
  }
  for (std::size_t quarter = 0; quarter < kQuarters; ++quarter) {
    const std::uint32_t* q = quarter_at(group, quarter);
    decode_runs(q, q + kMapWords, kQuarterSlots, out + quarter * kQuarterSlots);
  }
}

std::uint32_t QuarteredGroups::store(std::uint32_t old, const std::uint32_t* slots) {
  if (uniform(slots)) {
    if (old & kGroupBit) release(old);
    return slots[0];
  }
  unsigned most = 0;  // distinct values of the fullest quarter
  for (std::size_t quarter = 0; quarter < kQuarters; ++quarter) {
    most = std::max(most, count_runs(slots + quarter * kQuarterSlots, kQuarterSlots));
  }
  const unsigned lines = (kMapWords + most + 15) / 16;
  std::uint32_t group = old;
  if (!(old & kGroupBit) || quarter_lines(old) != lines) {
    if (old & kGroupBit) release(old);
    group = kGroupBit | lines << kLinesShift | pool_.allocate(lines);
  }
  for (std::size_t quarter = 0; quarter < kQuarters; ++quarter) {
    std::uint32_t* q = quarter_at(group, quarter);
    std::fill_n(q, std::size_t{lines} * 16, 0);
    encode_runs(slots + quarter * kQuarterSlots, kQuarterSlots, q, q + kMapWords);
  }
  return group;
}

std::uint32_t QuarteredGroups::copy(std::uint32_t group, QuarteredGroups& to) const {
  const unsigned lines = quarter_lines(group);
  const std::uint32_t first = to.pool_.allocate(lines);
  std::copy_n(pool_.at(group & kBaseMask), std::size_t{lines} * kQuarters, to.pool_.at(first));
  return (group & ~kBaseMask) | first;
}

// ---- PackedGroups ----

unsigned PackedGroups::lines_of(std::uint32_t group) const {
  const std::uint32_t* g = pool_.at(group & ~kGroupBit)->words;
  return lines_for((g[kCountsWord] >> 24) + static_cast<unsigned>(std::popcount(map_word(g, 3))));
}

void PackedGroups::expand(std::uint32_t group, std::uint32_t* out) const {
  if (!(group & kGroupBit)) {
    std::fill_n(out, kGroupSlots, group);
    return;
  }
  const std::uint32_t* g = pool_.at(group & ~kGroupBit)->words;
  decode_runs(g, g + kValuesWord, kGroupSlots, out);
}

std::uint32_t PackedGroups::store(std::uint32_t old, const std::uint32_t* slots) {
  if (uniform(slots)) {
    if (old & kGroupBit) release(old);
    return slots[0];
  }
  const unsigned lines = lines_for(count_runs(slots, kGroupSlots));
  std::uint32_t group = old;
  if (!(old & kGroupBit) || lines_of(old) != lines) {
    if (old & kGroupBit) release(old);
    group = kGroupBit | pool_.allocate(lines);
  }
  std::uint32_t* g = pool_.at(group & ~kGroupBit)->words;
  std::fill_n(g, std::size_t{lines} * 16, 0);
  encode_runs(slots, kGroupSlots, g, g + kValuesWord);
  unsigned before = 0;  // the set bits before map word w + 1
  for (unsigned w = 0; w < 3; ++w) {
    before += static_cast<unsigned>(std::popcount(map_word(g, w)));
    g[kCountsWord] |= before << (8 * (w + 1));
  }
  return group;
}

std::uint32_t PackedGroups::copy(std::uint32_t group, PackedGroups& to) const {
  const unsigned lines = lines_of(group);
  const std::uint32_t first = to.pool_.allocate(lines);
  std::copy_n(pool_.at(group & ~kGroupBit), lines, to.pool_.at(first));
  return kGroupBit | first;
}

}  // namespace netns::ipv4::fib
