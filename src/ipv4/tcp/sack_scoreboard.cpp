#include "ipv4/tcp/sack_scoreboard.hpp"

#include <algorithm>
#include <cassert>

namespace netns::tcp {

std::uint32_t SackScoreboard::add(Seq left, Seq right) {
  if (!seq_lt(left, right)) return 0;
  const Range* const begin = ranges_.data();
  // Ranges [i, j) overlap or touch the block: they end at or after its left
  // edge and start at or before its right edge.
  const Range* const touching =
      std::partition_point(begin, begin + count_, [&](const Range& r) { return seq_lt(r.right, left); });
  const auto i = static_cast<std::size_t>(touching - begin);
  std::size_t j = i;
  while (j < count_ && seq_le(ranges_[j].left, right)) ++j;
  return i == j ? insert_range(i, left, right) : merge_ranges(i, j, left, right);
}

std::uint32_t SackScoreboard::insert_range(std::size_t i, Seq left, Seq right) {
  if (count_ == kMaxRanges) {
    ++discarded_;
    return 0;
  }
  std::copy_backward(ranges_.begin() + i, ranges_.begin() + count_, ranges_.begin() + count_ + 1);
  ranges_[i] = Range{left, right};
  ++count_;
  sacked_ += ranges_[i].size();
  return ranges_[i].size();
}

std::uint32_t SackScoreboard::merge_ranges(std::size_t i, std::size_t j, Seq left, Seq right) {
  std::uint32_t before = 0;
  for (std::size_t k = i; k < j; ++k) before += ranges_[k].size();
  ranges_[i] = Range{seq_min(left, ranges_[i].left), seq_max(right, ranges_[j - 1].right)};
  std::copy(ranges_.begin() + j, ranges_.begin() + count_, ranges_.begin() + i + 1);
  count_ -= j - i - 1;
  const std::uint32_t added = ranges_[i].size() - before;
  sacked_ += added;
  return added;
}

void SackScoreboard::advance(Seq snd_una) {
  const std::size_t gone = first_ending_after(snd_una);
  for (std::size_t k = 0; k < gone; ++k) sacked_ -= ranges_[k].size();
  std::copy(ranges_.begin() + gone, ranges_.begin() + count_, ranges_.begin());
  count_ -= gone;
  if (count_ != 0 && seq_lt(ranges_[0].left, snd_una)) {
    sacked_ -= snd_una - ranges_[0].left;
    ranges_[0].left = snd_una;
  }
}

void SackScoreboard::clear() {
  count_ = 0;
  sacked_ = 0;
}

Seq SackScoreboard::highest_sacked() const {
  assert(count_ != 0);
  return ranges_[count_ - 1].right;
}

Seq SackScoreboard::lowest_sacked() const {
  assert(count_ != 0);
  return ranges_[0].left;
}

std::pair<Seq, Seq> SackScoreboard::range(std::size_t i) const {
  assert(i < count_);
  return {ranges_[i].left, ranges_[i].right};
}

bool SackScoreboard::is_sacked(Seq seq) const {
  const std::size_t i = first_ending_after(seq);
  return i < count_ && seq_ge(seq, ranges_[i].left);
}

std::uint32_t SackScoreboard::sacked_above(Seq seq) const {
  std::size_t i = first_ending_after(seq);
  if (i == count_) return 0;
  std::uint32_t bytes = ranges_[i].right - seq_max(ranges_[i].left, seq);
  for (++i; i < count_; ++i) bytes += ranges_[i].size();
  return bytes;
}

std::optional<std::pair<Seq, Seq>> SackScoreboard::next_hole(Seq from) const {
  std::size_t i = first_ending_after(from);
  if (i < count_ && seq_ge(from, ranges_[i].left)) {
    // SACKed: the hole starts where this range ends (ranges never touch).
    from = ranges_[i].right;
    ++i;
  }
  if (i == count_) return std::nullopt;
  return std::pair{from, ranges_[i].left};
}

std::uint32_t SackScoreboard::hole_bytes(Seq from, Seq to) const {
  if (!seq_lt(from, to)) return 0;
  return (to - from) - sacked_within(from, to);
}

std::size_t SackScoreboard::first_ending_after(Seq seq) const {
  const Range* const begin = ranges_.data();
  const Range* const found =
      std::partition_point(begin, begin + count_, [&](const Range& r) { return seq_le(r.right, seq); });
  return static_cast<std::size_t>(found - begin);
}

std::uint32_t SackScoreboard::sacked_within(Seq from, Seq to) const {
  std::uint32_t bytes = 0;
  for (std::size_t i = first_ending_after(from); i < count_ && seq_lt(ranges_[i].left, to); ++i) {
    bytes += seq_min(ranges_[i].right, to) - seq_max(ranges_[i].left, from);
  }
  return bytes;
}

}  // namespace netns::tcp
