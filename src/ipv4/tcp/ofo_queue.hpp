// ipv4/tcp/ofo_queue.hpp — a receiver's out-of-order queue (Linux's
// tp->out_of_order_queue): segments that arrived beyond rcv_nxt, held until
// the hole before them is filled, and the SACK blocks that describe them.
//
//   OutOfOrderQueue ofo;
//   if (seq_gt(seq, rcv_nxt)) {
//     auto r = ofo.insert(seq, std::move(payload));   // charged: ofo.charged()
//     if (r.has_duplicate()) dsack(r.dup_left, r.dup_right);
//   } else {
//     deliver(std::move(payload));   // in order: rcv_nxt moves past it
//     rcv_nxt = ofo.drain(rcv_nxt, deliver, dsack);
//   }
//   n = ofo.sack_blocks(repr.sack_blocks);
//
// The queue holds what it is given: the receive buffer it belongs to decides
// what fits (ReceiveBuffer, which charges charged() against sk_rcvbuf) and
// makes room with prune_from_top() and collapse(), as Linux's
// tcp_prune_ofo_queue and tcp_collapse_ofo_queue.
//
// Segments are kept disjoint: overlaps are cut off the new segment with
// pull_front()/trim(), never by copying bytes, and queued segments that a new
// one wholly covers are replaced by it (as tcp_data_queue_ofo does). A new
// segment that starts where its left neighbour ends is appended to the
// neighbour's spare room when it fits (tcp_ooo_try_coalesce), one counted
// copy that frees a whole buffer.
//
// Sequence numbers are compared modulo 2^32 (RFC 9293 section 3.4), so a
// segment inserted, and rcv_nxt given to drain(), must lie within 2^31 of
// what is queued, which any receive window (at most 2^30) guarantees.
// Internally each sequence number is unwrapped to 64 bits relative to a
// queued segment (the latest inserted, or the lowest after a drain), so the
// queue sorts correctly across 2^32 however often the stream wraps.
//
// Costs: insert and drain are O(log n) per segment; sack_blocks is
// O(out.size() * log n), independent of the number of segments;
// prune_from_top is O(log n) per segment dropped; collapse is O(n).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "ipv4/tcp/seq.hpp"
#include "netns/packet.hpp"
#include "netns/wire/tcp.hpp"

namespace netns::tcp {

// The largest packet collapse() makes: one allocation of a 64 KiB segment's size.
inline constexpr std::size_t kCollapseChunk = 64 * 1024;

// Copies the payloads of `run` (contiguous, in order) into new packets of up
// to kCollapseChunk bytes, without headroom, so that they pin little more
// than their bytes (Linux's tcp_collapse). One counted copy per packet made.
// The old packets are released. Empty when the pool refuses a buffer, and
// `run` is then left as it was. Precondition: the first packet has a pool.
std::vector<Packet> collapse_run(std::span<Packet> run);

// What collapse_run() would pin for `bytes` of payload.
std::size_t collapsed_truesize(std::size_t bytes);

class OutOfOrderQueue {
 public:
  enum class Insert { queued, coalesced, duplicate };
  struct Inserted {
    Insert result = Insert::duplicate;
    // Bytes of the new segment the queue held already (RFC 2883's D-SACK):
    // the first such range, extended by those touching it, as Linux's
    // tcp_dsack_set and tcp_dsack_extend report them. Empty when none.
    Seq dup_left = 0, dup_right = 0;
    // Queued segments the new one covered and replaced (Linux's TCPOFOMerge).
    std::size_t replaced = 0;

    bool has_duplicate() const { return dup_left != dup_right; }
  };

  // Keeps payload [seq, seq + payload.size()). Parts at or before the
  // caller's rcv_nxt are the caller's business: they are stored and trimmed
  // by drain(). Overlaps with what is queued are trimmed off the new segment;
  // a segment bringing no new byte (or empty) is `duplicate` and released,
  // and queued segments a new one entirely covers are replaced by it.
  Inserted insert(Seq seq, Packet payload);

  // Hands every segment now contiguous with rcv_nxt, in order, to
  // deliver(Packet), with any part before rcv_nxt trimmed off and segments
  // wholly before rcv_nxt discarded; each range so dropped goes to
  // duplicate(Seq left, Seq right) first (Linux's tcp_ofo_queue reports them
  // as D-SACK). Returns the new rcv_nxt. The callbacks must not call back
  // into this queue.
  template <class F, class D>
  Seq drain(Seq rcv_nxt, F&& deliver, D&& duplicate);
  template <class F>
  Seq drain(Seq rcv_nxt, F&& deliver) {
    return drain(rcv_nxt, std::forward<F>(deliver), [](Seq, Seq) {});
  }

  // Drops queued segments starting at or after `from`, highest first, until
  // at least `goal` bytes of truesize are freed or none is left there (Linux's
  // tcp_prune_ofo_queue, which spares what lies below the segment it makes
  // room for). Returns the truesize freed.
  std::size_t prune_from_top(Seq from, std::size_t goal);

  // Copies runs of contiguous segments into dense packets where that frees
  // memory (Linux's tcp_collapse_ofo_queue). Runs of one small segment are
  // left alone, and the walk stops once they add up to `tiny_budget` bytes
  // of truesize. Returns the segments released; the pool refusing a buffer
  // ends the walk early.
  std::size_t collapse(std::size_t tiny_budget);

  // SACK blocks (RFC 2018 section 4) describing the queue: the block holding
  // the most recently inserted segment first, then the blocks of earlier
  // inserts by recency, then the rest by ascending sequence; adjacent segments
  // form one block. Returns the number written (<= out.size()).
  std::size_t sack_blocks(std::span<wire::TcpSackBlock> out) const;

  bool empty() const { return segments_.empty(); }
  std::size_t segments() const { return segments_.size(); }
  // Payload bytes queued.
  std::size_t bytes() const { return bytes_; }
  // What the queued packets pin: the sum of their truesize().
  std::size_t charged() const { return charged_; }
  // Disjoint runs of contiguous bytes (the SACK blocks there are).
  std::size_t blocks() const { return blocks_.size(); }
  // One past the highest queued byte. Precondition: !empty().
  Seq end_seq() const;

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
  };

  // The last few inserts' blocks remembered for SACK order; four is what a
  // TCP header can carry.
  static constexpr std::size_t kRecent = wire::TcpRepr::kMaxSackBlocks;

  Key unwrap(Seq seq) const {
    return anchor_key_ + static_cast<std::int64_t>(static_cast<std::int32_t>(seq - anchor_seq_));
  }
  static Key end_of(Segments::const_iterator it) { return it->first + it->second.size(); }

  std::optional<Plan> plan(Key start, Key end);
  // The duplicate range to report for inserting [start, end) as planned.
  std::pair<Key, Key> duplicate_of(Key start, Key end, const Plan& plan) const;
  // Stores the payload that arrived at `start` as planned.
  Insert place(Key start, const Plan& plan, Packet payload);
  bool coalesce_left(Key start, Packet& payload);
  void erase(Segments::iterator first, Segments::iterator last);
  void add_block(Key start, Key end);
  std::optional<std::pair<Key, Key>> block_of(Key key) const;
  void note_recent(Key start);
  // Collapses the segments [first, last) of one run; false when the pool refused.
  bool collapse_segments(Segments::iterator first, Segments::iterator last, std::size_t& released);
  // The first segment contiguous with `next` (trimmed to start there), which
  // moves `next` past it; nullopt, with the blocks brought up to date, when
  // there is none. Bytes dropped before `next` are added to [dup_left, dup_right).
  std::optional<Packet> pop_contiguous(Key& next, Key& dup_left, Key& dup_right);

  Segments segments_;
  std::map<Key, Key> blocks_;  // left -> right: runs of contiguous segments
  std::array<Key, kRecent> recent_{};  // most recent first
  std::size_t recent_count_ = 0;
  Seq anchor_seq_ = 0;
  Key anchor_key_ = 0;
  std::size_t bytes_ = 0;
  std::size_t charged_ = 0;
};

template <class F, class D>
Seq OutOfOrderQueue::drain(Seq rcv_nxt, F&& deliver, D&& duplicate) {
  if (segments_.empty()) return rcv_nxt;
  Key next = unwrap(rcv_nxt);
  for (;;) {
    Key dup_left = next, dup_right = next;
    auto segment = pop_contiguous(next, dup_left, dup_right);
    if (dup_left != dup_right) duplicate(static_cast<Seq>(dup_left), static_cast<Seq>(dup_right));
    if (!segment) break;
    deliver(std::move(*segment));
  }
  return static_cast<Seq>(next);
}

}  // namespace netns::tcp
