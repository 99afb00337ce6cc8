// ipv4/fib_groups.cpp — see fib_groups.hpp.
#include "ipv4/fib_groups.hpp"

#include <algorithm>

namespace netns::ipv4::fib {

// ---- LinePool ----

std::uint32_t LinePool::allocate(unsigned units) {
  auto& free = free_[units];
  if (!free.empty()) {
    const std::uint32_t first = free.back();
    free.pop_back();
    free_lines_ -= std::size_t{units} * unit_;
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

void LinePool::release(std::uint32_t first, unsigned units) {
  free_[units].push_back(first);
  free_lines_ += std::size_t{units} * unit_;
}

bool LinePool::fragmented() const {
  return free_lines_ >= 1024 && free_lines_ >= (lines_.size() - free_lines_) / 4;
}

void LinePool::reserve_for(const LinePool& other) {
  const std::size_t live = other.lines_.size() - other.free_lines_;
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
    const std::uint32_t* value = q + kMapWords - 1;
    for (unsigned j = 0; j < kQuarterSlots; ++j) {
      value += q[j / 32] >> (j % 32) & 1;
      *out++ = *value;
    }
  }
}

std::uint32_t QuarteredGroups::store(std::uint32_t old, const std::uint32_t* slots) {
  if (uniform(slots)) {
    if (old & kGroupBit) release(old);
    return slots[0];
  }
  unsigned most = 0;  // distinct values of the fullest quarter
  for (std::size_t quarter = 0; quarter < kQuarters; ++quarter) {
    const std::uint32_t* first = slots + quarter * kQuarterSlots;
    unsigned values = 1;
    for (unsigned j = 1; j < kQuarterSlots; ++j) values += first[j] != first[j - 1];
    most = std::max(most, values);
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
    const std::uint32_t* first = slots + quarter * kQuarterSlots;
    std::uint32_t* value = q + kMapWords;
    for (unsigned j = 0; j < kQuarterSlots; ++j) {
      if (j != 0 && first[j] == first[j - 1]) continue;
      q[j / 32] |= 1u << (j % 32);
      *value++ = first[j];
    }
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
  return lines_for((g[kCountsWord] >> 24) + popcount(g[6] | std::uint64_t{g[7]} << 32));
}

void PackedGroups::expand(std::uint32_t group, std::uint32_t* out) const {
  if (!(group & kGroupBit)) {
    std::fill_n(out, kGroupSlots, group);
    return;
  }
  const std::uint32_t* g = pool_.at(group & ~kGroupBit)->words;
  const std::uint32_t* value = g + kValuesWord - 1;
  for (unsigned i = 0; i < kGroupSlots; ++i) {
    value += g[i / 32] >> (i % 32) & 1;
    out[i] = *value;
  }
}

std::uint32_t PackedGroups::store(std::uint32_t old, const std::uint32_t* slots) {
  if (uniform(slots)) {
    if (old & kGroupBit) release(old);
    return slots[0];
  }
  unsigned values = 1;
  for (unsigned i = 1; i < kGroupSlots; ++i) values += slots[i] != slots[i - 1];
  const unsigned lines = lines_for(values);
  std::uint32_t group = old;
  if (!(old & kGroupBit) || lines_of(old) != lines) {
    if (old & kGroupBit) release(old);
    group = kGroupBit | pool_.allocate(lines);
  }
  std::uint32_t* g = pool_.at(group & ~kGroupBit)->words;
  std::fill_n(g, std::size_t{lines} * 16, 0);
  std::uint32_t* value = g + kValuesWord;
  for (unsigned i = 0; i < kGroupSlots; ++i) {
    if (i == 0 || slots[i] != slots[i - 1]) {
      g[i / 32] |= 1u << (i % 32);
      *value++ = slots[i];
    }
    if (i % 64 == 63 && i != kGroupSlots - 1) {
      g[kCountsWord] |= static_cast<std::uint32_t>(value - (g + kValuesWord)) << (8 * (i / 64 + 1));
    }
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
