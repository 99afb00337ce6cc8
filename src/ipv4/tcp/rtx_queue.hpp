// ipv4/tcp/rtx_queue.hpp — a sender's record of every segment sent and not
// yet cumulatively acknowledged (Linux's retransmission queue,
// tp->tcp_rtx_queue), each with its SACK, loss and retransmission marks and
// the time it last left. Loss detection (RACK, RFC 8985), RFC 6675's pipe
// and the recovery that fills holes all read it.
//
//   RtxQueue q;
//   q.push(seq, seq + len, /*fin=*/false, now, delivered); // a new segment left
//   q.acknowledge(ack, [&](const SentSegment& s) { ... });  // cumulative ACK
//   q.mark_sacked(q.find(left));                         // SACK blocks, whole records
//   q.mark_lost(i);  q.note_retransmit(i, now, delivered);
//   q.in_flight();   // what the network holds: Linux's tcp_packets_in_flight
//
// The payload stays in the send buffer; a record is only sequence numbers,
// marks and a time, so the queue costs a few bytes per segment in flight.
// Records are disjoint, contiguous and in sequence order: [snd_una, snd_nxt)
// without gaps. A record is SACKed only when a block covers it whole (as
// Linux does for one-MSS skbs), so a peer's blocks can never split records
// into more pieces than segments were sent: the queue is bounded by what
// the send buffer and the window let out.
//
// Totals are kept in sequence space (a FIN counts one) and updated with
// every mark, so pipe costs nothing per ACK.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "ipv4/tcp/seq.hpp"
#include "netns/clock.hpp"

namespace netns::tcp {

struct SentSegment {
  // The marks of Linux's TCP_SKB_CB(skb)->sacked.
  enum Mark : std::uint8_t {
    kSacked = 1,       // TCPCB_SACKED_ACKED: the peer holds it
    kLost = 2,         // TCPCB_LOST: loss detection gave up on this copy
    kRetrans = 4,      // TCPCB_SACKED_RETRANS: a retransmission of it is in flight
    kEverRetrans = 8,  // TCPCB_EVER_RETRANS: it was retransmitted at least once
    kFin = 16,         // its last sequence number is the FIN
  };

  Seq start = 0, end = 0;
  Clock::time_point sent{};  // its last (re)transmission
  // Counts transmissions: a later one has a larger number. Linux orders by
  // microsecond timestamps and sequence; a virtual clock sends many
  // segments, retransmissions included, at one instant, so order is kept
  // apart from time.
  std::uint64_t tx = 0;
  // The connection's delivered count when it left (Linux's tx.delivered):
  // a delivery of it then says how much was delivered in one round trip.
  std::uint64_t delivered = 0;
  std::uint8_t marks = 0;

  bool has(Mark m) const { return (marks & m) != 0; }
  std::uint32_t len() const { return end - start; }
  std::uint32_t data_len() const { return len() - (has(kFin) ? 1 : 0); }
};

// A growable ring of records: push at the back, pop at the front in O(1)
// with no allocation once it has grown to the flight's size (a deque
// allocates and frees a block every few dozen segments). The first two
// records live inside it: a short exchange (a request, a FIN) allocates
// nothing.
class SegmentRing {
 public:
  SegmentRing() = default;
  // data_ may point into the object itself: moving re-points it.
  SegmentRing(SegmentRing&& other) noexcept { *this = std::move(other); }
  SegmentRing& operator=(SegmentRing&& other) noexcept {
    inline_ = other.inline_;
    heap_ = std::move(other.heap_);
    data_ = heap_ ? heap_.get() : inline_.data();
    mask_ = other.mask_;
    head_ = other.head_;
    size_ = other.size_;
    other.data_ = other.inline_.data();
    other.mask_ = kInline - 1;
    other.head_ = other.size_ = 0;
    return *this;
  }

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  SentSegment& operator[](std::size_t i) { return data_[(head_ + i) & mask_]; }
  const SentSegment& operator[](std::size_t i) const { return data_[(head_ + i) & mask_]; }
  SentSegment& front() { return data_[head_]; }
  const SentSegment& front() const { return data_[head_]; }
  const SentSegment& back() const { return (*this)[size_ - 1]; }
  void push_back(const SentSegment& s) {
    if (size_ == mask_ + 1) grow();
    (*this)[size_++] = s;
  }
  void pop_front() {
    head_ = (head_ + 1) & mask_;
    --size_;
  }
  // O(size - i): only for the rare split.
  void insert(std::size_t i, const SentSegment& s);
  void clear() { head_ = size_ = 0; }

 private:
  static constexpr std::size_t kInline = 2;  // a power of two, as every capacity
  void grow();

  std::array<SentSegment, kInline> inline_{};
  std::unique_ptr<SentSegment[]> heap_;
  SentSegment* data_ = inline_.data();
  std::size_t mask_ = kInline - 1, head_ = 0, size_ = 0;
};

class RtxQueue {
 public:
  bool empty() const { return segments_.empty(); }
  std::size_t size() const { return segments_.size(); }
  const SentSegment& operator[](std::size_t i) const { return segments_[i]; }
  const SentSegment& front() const { return segments_.front(); }
  const SentSegment& back() const { return segments_.back(); }

  // Sequence space outstanding, SACKed, marked lost, and retransmitted with
  // the retransmission still in flight.
  std::uint32_t outstanding() const { return outstanding_; }
  std::uint32_t sacked() const { return sacked_; }
  std::uint32_t lost() const { return lost_; }
  std::uint32_t retrans() const { return retrans_; }
  // RFC 6675's pipe as Linux counts it: outstanding - (SACKed + lost) +
  // retransmitted. A lost segment whose retransmission flies counts once.
  std::uint32_t in_flight() const { return outstanding_ - sacked_ - lost_ + retrans_; }
  // One past the highest SACKed byte (Linux's tcp_highest_sack_seq, FACK);
  // the first unacknowledged byte when nothing is SACKed.
  Seq highest_sacked() const;

  // A new segment [start, end) left now; start is the previous end.
  void push(Seq start, Seq end, bool fin, Clock::time_point now, std::uint64_t delivered) {
    segments_.push_back({.start = start, .end = end, .sent = now, .tx = ++next_tx_, .delivered = delivered,
                         .marks = static_cast<std::uint8_t>(fin ? SentSegment::kFin : 0)});
    outstanding_ += end - start;
  }
  // The peer acknowledged everything before `ack`: every record wholly
  // before it is passed to on_acked (before it goes) and removed; a record
  // straddling it is trimmed, marks kept, and passed as well with only the
  // acknowledged part (start..ack). Returns the number of records removed.
  template <class F>
  std::size_t acknowledge(Seq ack, F&& on_acked);

  // Index of the first record ending after `seq` (size() when none): the
  // record holding seq, or the first above it.
  std::size_t find(Seq seq) const;
  // Mark transitions; each keeps the totals right and is a no-op where it
  // does not apply (a SACKed record is never lost).
  void mark_sacked(std::size_t i);
  // True when the record was not marked lost before (a newly lost copy). A
  // record whose retransmission was in flight loses that mark: the
  // retransmission is lost too.
  bool mark_lost(std::size_t i);
  void clear_lost(std::size_t i);
  void clear_retrans(std::size_t i);
  // Record i left again now: kRetrans and kEverRetrans.
  void note_retransmit(std::size_t i, Clock::time_point now, std::uint64_t delivered);
  // Record i left again now as a loss probe: kEverRetrans only, as Linux's
  // __tcp_retransmit_skb for TLP (the probe is not counted in flight twice).
  void note_probe(std::size_t i, Clock::time_point now, std::uint64_t delivered);
  // Record i becomes [start, at) and [at, end) with the same marks and time.
  // Precondition: start < at < end (the FIN, if any, stays with the second).
  void split(std::size_t i, Seq at);

  // The receiver reneged (RFC 2018 section 8): every SACK mark goes.
  void clear_sacks();
  // Undo found the losses spurious: every lost mark goes.
  void clear_lost_marks();
  void clear();

 private:
  // The marks the totals count.
  static constexpr std::uint8_t kCounted = SentSegment::kSacked | SentSegment::kLost | SentSegment::kRetrans;
  void add_marks(SentSegment& s, std::uint8_t marks);
  void remove_marks(SentSegment& s, std::uint8_t marks);

  SegmentRing segments_;
  std::uint32_t outstanding_ = 0, sacked_ = 0, lost_ = 0, retrans_ = 0;
  std::uint64_t next_tx_ = 0;
  std::size_t highest_sacked_index_ = 0;  // valid while sacked_ != 0; a hint, checked
};

template <class F>
std::size_t RtxQueue::acknowledge(Seq ack, F&& on_acked) {
  std::size_t removed = 0;
  while (!segments_.empty()) {
    SentSegment& s = segments_.front();
    if (seq_le(s.end, ack)) {
      on_acked(static_cast<const SentSegment&>(s));
      if ((s.marks & kCounted) != 0) remove_marks(s, s.marks);
      outstanding_ -= s.len();
      segments_.pop_front();
      ++removed;
      continue;
    }
    if (seq_gt(ack, s.start)) {
      // Partly acknowledged: report the acknowledged part, keep the rest.
      SentSegment part = s;
      part.end = ack;
      part.marks &= static_cast<std::uint8_t>(~SentSegment::kFin);
      on_acked(static_cast<const SentSegment&>(part));
      const std::uint8_t marks = s.marks;
      remove_marks(s, marks);
      outstanding_ -= ack - s.start;
      s.start = ack;
      add_marks(s, marks);
    }
    break;
  }
  if (highest_sacked_index_ >= removed) {
    highest_sacked_index_ -= removed;
  } else {
    highest_sacked_index_ = 0;
  }
  return removed;
}

}  // namespace netns::tcp
