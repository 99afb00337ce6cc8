// ipv4/tcp/sack_scoreboard.hpp — a sender's record of what the peer SACKed
// (RFC 2018 blocks, used as RFC 6675's scoreboard).
//
//   SackScoreboard board;
//   for (auto block : acceptable_blocks) delivered += board.add(block.left, block.right);
//   board.advance(snd_una);                               // after the cumulative ACK
//   if (board.sacked_above(seq) >= 3 * mss) { /* IsLost(seq) */ }
//   if (auto hole = board.next_hole(snd_una)) retransmit(hole->first, hole->second);
//
// Ranges are disjoint, never adjacent, and sorted by sequence number, at most
// kMaxRanges of them, so a peer sending pathological blocks costs neither
// memory nor more than O(kMaxRanges) per call. All sequence numbers must lie
// within 2^31 of each other (they lie in [snd_una, snd_nxt]); comparisons are
// modulo 2^32, so ranges may straddle 2^32.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>

#include "ipv4/tcp/seq.hpp"

namespace netns::tcp {

class SackScoreboard {
 public:
  // At most kMaxRanges disjoint ranges; a block that would need more is
  // dropped (counted in discarded()).
  static constexpr std::size_t kMaxRanges = 32;

  // Records SACKed [left, right). The caller has already checked
  // snd_una < left < right <= snd_nxt (an empty or inverted block is
  // ignored). Merges with overlapping and adjacent ranges. Returns the bytes
  // newly marked SACKed.
  std::uint32_t add(Seq left, Seq right);
  // Forgets everything below snd_una (the cumulative ACK advanced), trimming a
  // range that straddles it.
  void advance(Seq snd_una);
  void clear();

  bool empty() const { return count_ == 0; }
  std::size_t ranges() const { return count_; }
  // Total bytes in ranges.
  std::uint32_t sacked_bytes() const { return sacked_; }
  // Right edge of the highest range. Precondition: !empty().
  Seq highest_sacked() const;
  // Left edge of the lowest range. Precondition: !empty().
  Seq lowest_sacked() const;
  // The i-th range by sequence, [first, second). Precondition: i < ranges().
  std::pair<Seq, Seq> range(std::size_t i) const;
  bool is_sacked(Seq seq) const;
  // Bytes SACKed at or above seq (RFC 6675 IsLost compares this with
  // DupThresh * SMSS; the caller decides).
  std::uint32_t sacked_above(Seq seq) const;
  // The first un-SACKed hole [start, end) with start >= from and
  // end <= highest_sacked() (holes are only below the highest SACKed byte);
  // from is clamped up past SACKed bytes. nullopt when there is none.
  std::optional<std::pair<Seq, Seq>> next_hole(Seq from) const;
  // Un-SACKed bytes within [from, to); 0 when to is not after from.
  std::uint32_t hole_bytes(Seq from, Seq to) const;
  // Blocks dropped because they would have needed a range beyond kMaxRanges.
  std::uint64_t discarded() const { return discarded_; }

 private:
  struct Range {
    Seq left;
    Seq right;
    std::uint32_t size() const { return right - left; }
  };

  // A new range at index i; discarded when there is no room.
  std::uint32_t insert_range(std::size_t i, Seq left, Seq right);
  // Ranges [i, j) and [left, right) become one, at index i.
  std::uint32_t merge_ranges(std::size_t i, std::size_t j, Seq left, Seq right);
  // Index of the first range ending after seq (count_ when none): the one
  // holding seq, or else the first above it.
  std::size_t first_ending_after(Seq seq) const;
  // SACKed bytes within [from, to); from before to.
  std::uint32_t sacked_within(Seq from, Seq to) const;

  std::array<Range, kMaxRanges> ranges_{};
  std::size_t count_ = 0;
  std::uint32_t sacked_ = 0;
  std::uint64_t discarded_ = 0;
};

}  // namespace netns::tcp
