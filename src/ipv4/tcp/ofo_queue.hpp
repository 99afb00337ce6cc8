// ipv4/tcp/ofo_queue.hpp — a receiver's out-of-order queue (Linux's
// tp->out_of_order_queue): segments that arrived beyond rcv_nxt, held until
// the hole before them is filled, and the SACK blocks that describe them.
//
//   OutOfOrderQueue ofo(sk_rcvbuf, kMaxOfoSegments);
//   if (seq_gt(seq, rcv_nxt)) {
//     if (ofo.insert(seq, std::move(payload)) == OutOfOrderQueue::Insert::full) ++drops;
//   } else {
//     deliver(std::move(payload));   // in order: rcv_nxt moves past it
//     rcv_nxt = ofo.drain(rcv_nxt, [&](Packet p) { deliver(std::move(p)); });
//   }
//   n = ofo.sack_blocks(repr.sack_blocks);
//
// Segments are kept disjoint: overlaps are cut off the new segment with
// pull_front()/trim(), never by copying bytes, and queued segments that a new
// one wholly covers are replaced by it (as tcp_data_queue_ofo does).
//
// Sequence numbers are compared modulo 2^32 (RFC 9293 section 3.4), so a
// segment inserted, and rcv_nxt given to drain(), must lie within 2^31 of
// what is queued, which any receive window (at most 2^30) guarantees.
// Internally each sequence number is unwrapped to 64 bits relative to a
// queued segment (the latest inserted, or the lowest after a drain), so the
// queue sorts correctly across 2^32 however often the stream wraps.
//
// Costs: insert and drain are O(log n) per segment; sack_blocks is
// O(out.size() * log n), independent of the number of segments.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <utility>

#include "ipv4/tcp/seq.hpp"
#include "netns/packet.hpp"
#include "netns/wire/tcp.hpp"

namespace netns::tcp {

class OutOfOrderQueue {
 public:
  // Bounded twice: bytes charged (each segment charged payload size +
  // kOverhead, so floods of tiny segments are bounded) and a segment count.
  static constexpr std::size_t kOverhead = 256;

  OutOfOrderQueue(std::size_t max_bytes, std::size_t max_segments);

  enum class Insert { queued, duplicate, full };

  // Keeps payload [seq, seq + payload.size()). Parts at or before the
  // caller's rcv_nxt are the caller's business: they are stored and trimmed
  // by drain(). Overlaps with what is queued are trimmed off the new segment;
  // a segment bringing no new byte (or empty) is `duplicate`, and queued
  // segments a new one entirely covers are replaced by it. When the bounds
  // would be exceeded and the new segment lies below queued ones, those are
  // pruned from the top (highest sequence first, as tcp_prune_ofo_queue)
  // until it fits, and counted in pruned(); when even pruning all of them
  // would not make room, `full` and nothing changes. A payload not queued is
  // released.
  Insert insert(Seq seq, Packet payload);

  // Hands every segment now contiguous with rcv_nxt, in order, to
  // deliver(Packet), with any part before rcv_nxt trimmed off and segments
  // wholly before rcv_nxt discarded; returns the new rcv_nxt. deliver must not
  // call back into this queue.
  template <class F>
  Seq drain(Seq rcv_nxt, F&& deliver);

  // SACK blocks (RFC 2018 section 4) describing the queue: the block holding
  // the most recently inserted segment first, then the blocks of earlier
  // inserts by recency, then the rest by ascending sequence; adjacent segments
  // form one block. Returns the number written (<= out.size()).
  std::size_t sack_blocks(std::span<wire::TcpSackBlock> out) const;

  bool empty() const { return segments_.empty(); }
  std::size_t segments() const { return segments_.size(); }
  // Payload bytes queued.
  std::size_t bytes() const { return bytes_; }
  // What the bounds count: bytes() + segments() * kOverhead.
  std::size_t charged() const { return bytes_ + segments_.size() * kOverhead; }
  // Disjoint runs of contiguous bytes (the SACK blocks there are).
  std::size_t blocks() const { return blocks_.size(); }
  // One past the highest queued byte. Precondition: !empty().
  Seq end_seq() const;
  // Segments dropped to make room for lower ones, since construction.
  std::uint64_t pruned() const { return pruned_; }
  std::size_t max_bytes() const { return max_bytes_; }
  std::size_t max_segments() const { return max_segments_; }

  // Drops every segment (pruned() is a statistic and stays).
  void clear();

 private:
  // A sequence number unwrapped to 64 bits; Seq(key) is the sequence number.
  using Key = std::uint64_t;
  using Segments = std::map<Key, Packet>;

  // What inserting [start, end) would do: its trimmed extent, and the queued
  // segments [first, last) it covers entirely and would replace.
  struct Plan {
    Key start;
    Key end;
    Segments::iterator first;
    Segments::iterator last;
    std::size_t covered_segments = 0;
    std::size_t covered_bytes = 0;
  };

  // The last few inserts' blocks remembered for SACK order; four is what a
  // TCP header can carry.
  static constexpr std::size_t kRecent = wire::TcpRepr::kMaxSackBlocks;

  Key unwrap(Seq seq) const {
    return anchor_key_ + static_cast<std::int64_t>(static_cast<std::int32_t>(seq - anchor_seq_));
  }
  static Key end_of(Segments::const_iterator it) { return it->first + it->second.size(); }

  std::optional<Plan> plan(Key start, Key end);
  bool fits(const Plan& plan) const;
  // Prunes from the top until [start, end) fits, and plans it again; nullopt,
  // with nothing pruned, when pruning all that lies above it would not do.
  std::optional<Plan> make_room(Key start, Key end, Key trimmed_start);
  bool can_make_room(Key start, Key end) const;
  void prune_top();
  // Stores the payload that arrived at `start` as planned.
  void place(Key start, const Plan& plan, Packet payload);
  void add_block(Key start, Key end);
  std::optional<std::pair<Key, Key>> block_of(Key key) const;
  void note_recent(Key start);
  // The first segment contiguous with `next` (trimmed to start there), which
  // moves `next` past it; nullopt, with the blocks brought up to date, when
  // there is none.
  std::optional<Packet> pop_contiguous(Key& next);

  std::size_t max_bytes_;
  std::size_t max_segments_;
  Segments segments_;
  std::map<Key, Key> blocks_;  // left -> right: runs of contiguous segments
  std::array<Key, kRecent> recent_{};  // most recent first
  std::size_t recent_count_ = 0;
  Seq anchor_seq_ = 0;
  Key anchor_key_ = 0;
  std::size_t bytes_ = 0;
  std::uint64_t pruned_ = 0;
};

template <class F>
Seq OutOfOrderQueue::drain(Seq rcv_nxt, F&& deliver) {
  if (segments_.empty()) return rcv_nxt;
  Key next = unwrap(rcv_nxt);
  while (auto segment = pop_contiguous(next)) deliver(std::move(*segment));
  return static_cast<Seq>(next);
}

}  // namespace netns::tcp
