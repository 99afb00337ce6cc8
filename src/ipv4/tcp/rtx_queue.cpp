#include "ipv4/tcp/rtx_queue.hpp"

#include <algorithm>
#include <cassert>

namespace netns::tcp {

using Mark = SentSegment::Mark;

void SegmentRing::grow() {
  const std::size_t capacity = 2 * (mask_ + 1);
  auto heap = std::make_unique_for_overwrite<SentSegment[]>(capacity);
  for (std::size_t i = 0; i < size_; ++i) heap[i] = (*this)[i];
  heap_ = std::move(heap);
  data_ = heap_.get();
  mask_ = capacity - 1;
  head_ = 0;
}

void SegmentRing::insert(std::size_t i, const SentSegment& s) {
  push_back(s);
  for (std::size_t j = size_ - 1; j > i; --j) (*this)[j] = (*this)[j - 1];
  (*this)[i] = s;
}

Seq RtxQueue::highest_sacked() const {
  if (segments_.empty()) return 0;
  if (sacked_ == 0) return segments_.front().start;
  return segments_[highest_sacked_index_].end;
}

std::size_t RtxQueue::find(Seq seq) const {
  // Records are contiguous and sorted: the first whose end is after seq.
  std::size_t lo = 0, hi = segments_.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (seq_le(segments_[mid].end, seq)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void RtxQueue::add_marks(SentSegment& s, std::uint8_t marks) {
  const std::uint32_t len = s.len();
  if ((marks & Mark::kSacked) != 0 && !s.has(Mark::kSacked)) sacked_ += len;
  if ((marks & Mark::kLost) != 0 && !s.has(Mark::kLost)) lost_ += len;
  if ((marks & Mark::kRetrans) != 0 && !s.has(Mark::kRetrans)) retrans_ += len;
  s.marks |= marks;
}

void RtxQueue::remove_marks(SentSegment& s, std::uint8_t marks) {
  const std::uint32_t len = s.len();
  if ((marks & Mark::kSacked) != 0 && s.has(Mark::kSacked)) sacked_ -= len;
  if ((marks & Mark::kLost) != 0 && s.has(Mark::kLost)) lost_ -= len;
  if ((marks & Mark::kRetrans) != 0 && s.has(Mark::kRetrans)) retrans_ -= len;
  s.marks &= static_cast<std::uint8_t>(~marks);
}

void RtxQueue::mark_sacked(std::size_t i) {
  SentSegment& s = segments_[i];
  if (s.has(Mark::kSacked)) return;
  // As tcp_sacktag_one: a lost copy that was retransmitted is simply
  // delivered now; a retransmission of a copy not thought lost (a loss
  // probe) is still in flight and keeps counting.
  if (s.has(Mark::kLost)) {
    remove_marks(s, s.has(Mark::kRetrans) ? Mark::kLost | Mark::kRetrans : Mark::kLost);
  }
  if (sacked_ == 0 || i > highest_sacked_index_) highest_sacked_index_ = i;
  add_marks(s, Mark::kSacked);
}

bool RtxQueue::mark_lost(std::size_t i) {
  SentSegment& s = segments_[i];
  if (s.has(Mark::kSacked)) return false;
  if (s.has(Mark::kLost)) {
    remove_marks(s, Mark::kRetrans);  // the retransmission is lost as well
    return false;
  }
  add_marks(s, Mark::kLost);
  return true;
}

void RtxQueue::clear_lost(std::size_t i) { remove_marks(segments_[i], Mark::kLost); }

void RtxQueue::clear_retrans(std::size_t i) { remove_marks(segments_[i], Mark::kRetrans); }

void RtxQueue::note_retransmit(std::size_t i, Clock::time_point now, std::uint64_t delivered) {
  SentSegment& s = segments_[i];
  add_marks(s, Mark::kRetrans | Mark::kEverRetrans);
  s.sent = now;
  s.tx = ++next_tx_;
  s.delivered = delivered;
}

void RtxQueue::note_probe(std::size_t i, Clock::time_point now, std::uint64_t delivered) {
  SentSegment& s = segments_[i];
  s.marks |= Mark::kEverRetrans;
  s.sent = now;
  s.tx = ++next_tx_;
  s.delivered = delivered;
}

void RtxQueue::split(std::size_t i, Seq at) {
  SentSegment& s = segments_[i];
  assert(seq_lt(s.start, at) && seq_lt(at, s.end));
  // Totals depend only on lengths, which add up to the same.
  SentSegment second = s;
  second.start = at;
  s.end = at;
  s.marks &= static_cast<std::uint8_t>(~Mark::kFin);
  segments_.insert(i + 1, second);
  if (sacked_ != 0 && highest_sacked_index_ >= i) ++highest_sacked_index_;
}

void RtxQueue::clear_sacks() {
  for (std::size_t i = 0; i < segments_.size(); ++i) remove_marks(segments_[i], Mark::kSacked);
}

void RtxQueue::clear_lost_marks() {
  if (lost_ == 0) return;
  for (std::size_t i = 0; i < segments_.size(); ++i) remove_marks(segments_[i], Mark::kLost);
}

void RtxQueue::clear() {
  segments_.clear();  // next_tx_ goes on: RACK may still hold an order
  outstanding_ = sacked_ = lost_ = retrans_ = 0;
  highest_sacked_index_ = 0;
}

}  // namespace netns::tcp
