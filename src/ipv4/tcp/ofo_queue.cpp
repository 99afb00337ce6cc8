#include "ipv4/tcp/ofo_queue.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>

namespace netns::tcp {

namespace {
// Where keys start when the queue is empty: 2^32 above zero, so unwrapping a
// sequence number up to 2^31 below the anchor stays positive.
constexpr std::uint64_t kKeyBase = std::uint64_t{1} << 32;
}  // namespace

OutOfOrderQueue::OutOfOrderQueue(std::size_t max_bytes, std::size_t max_segments)
    : max_bytes_(max_bytes), max_segments_(max_segments) {}

OutOfOrderQueue::Insert OutOfOrderQueue::insert(Seq seq, Packet payload) {
  if (payload.empty()) return Insert::duplicate;
  if (segments_.empty()) {
    anchor_seq_ = seq;
    anchor_key_ = kKeyBase | seq;
  }
  const Key start = unwrap(seq);
  const Key end = start + payload.size();
  auto p = plan(start, end);
  if (!p) return Insert::duplicate;
  if (!fits(*p)) {
    p = make_room(start, end, p->start);
    if (!p) return Insert::full;
  }
  place(start, *p, std::move(payload));
  return Insert::queued;
}

std::optional<OutOfOrderQueue::Plan> OutOfOrderQueue::make_room(Key start, Key end, Key trimmed_start) {
  if (!can_make_room(trimmed_start, end)) return std::nullopt;
  // can_make_room() promised that pruning from the top makes room before it
  // reaches trimmed_start; each prune may change the plan (a right neighbour
  // gone leaves the new segment longer), so plan again after each.
  std::optional<Plan> p;
  do {
    prune_top();
    p = plan(start, end);
    assert(p);  // pruning above trimmed_start only lengthens it
  } while (!fits(*p));
  return p;
}

void OutOfOrderQueue::place(Key start, const Plan& p, Packet payload) {
  bytes_ -= p.covered_bytes;
  auto hint = segments_.erase(p.first, p.last);
  payload.pull_front(p.start - start);
  payload.trim(p.end - p.start);
  bytes_ += payload.size();
  segments_.emplace_hint(hint, p.start, std::move(payload));
  add_block(p.start, p.end);
  note_recent(p.start);
  anchor_seq_ = static_cast<Seq>(p.start);
  anchor_key_ = p.start;
}

std::optional<OutOfOrderQueue::Plan> OutOfOrderQueue::plan(Key start, Key end) {
  Plan p{start, end, {}, {}};
  auto next = segments_.upper_bound(start);
  if (next != segments_.begin()) {
    const Key prev_end = end_of(std::prev(next));
    if (prev_end >= end) return std::nullopt;
    p.start = std::max(start, prev_end);
  }
  p.first = next;
  for (; next != segments_.end() && end_of(next) <= end; ++next) {
    ++p.covered_segments;
    p.covered_bytes += next->second.size();
  }
  p.last = next;
  if (next != segments_.end() && next->first < end) p.end = next->first;
  // Nothing new when what is left is under the right neighbour or tiled by
  // the segments it covers: replacing them would only churn.
  if (p.end <= p.start || p.end - p.start == p.covered_bytes) return std::nullopt;
  return p;
}

bool OutOfOrderQueue::fits(const Plan& p) const {
  const std::size_t count = segments_.size() - p.covered_segments + 1;
  const std::size_t bytes = bytes_ - p.covered_bytes + (p.end - p.start);
  return count <= max_segments_ && bytes + count * kOverhead <= max_bytes_;
}

// Whether pruning segments at or above `start`, highest first, can make room
// for [start, end) at its full length (what it has once nothing lies above it).
// Walks only as far as it needs: each segment freed is worth at least
// kOverhead + 1, so the walk is at most (end - start) / kOverhead + 1 long
// when it succeeds, and no longer than what lies above `start` when it fails.
bool OutOfOrderQueue::can_make_room(Key start, Key end) const {
  std::size_t count = segments_.size() + 1;
  std::size_t bytes = bytes_ + (end - start);
  for (auto it = segments_.rbegin(); it != segments_.rend() && it->first >= start; ++it) {
    --count;
    bytes -= it->second.size();
    if (count <= max_segments_ && bytes + count * kOverhead <= max_bytes_) return true;
  }
  return false;
}

void OutOfOrderQueue::prune_top() {
  auto top = std::prev(segments_.end());
  const Key start = top->first;
  bytes_ -= top->second.size();
  segments_.erase(top);
  ++pruned_;
  // The top block ends where the top segment did; the segment before it in
  // the same block, if any, ends where the pruned one started.
  auto block = std::prev(blocks_.end());
  if (block->first == start) {
    blocks_.erase(block);
  } else {
    block->second = start;
  }
}

void OutOfOrderQueue::add_block(Key start, Key end) {
  auto it = blocks_.upper_bound(start);
  if (it != blocks_.begin() && std::prev(it)->second >= start) {
    it = std::prev(it);
    it->second = std::max(it->second, end);
  } else {
    it = blocks_.emplace_hint(it, start, end);
  }
  // Blocks the new segment reaches (or, having replaced segments, contains).
  for (auto next = std::next(it); next != blocks_.end() && next->first <= it->second;) {
    it->second = std::max(it->second, next->second);
    next = blocks_.erase(next);
  }
}

std::optional<std::pair<OutOfOrderQueue::Key, OutOfOrderQueue::Key>> OutOfOrderQueue::block_of(
    Key key) const {
  auto it = blocks_.upper_bound(key);
  if (it == blocks_.begin()) return std::nullopt;
  --it;
  if (key >= it->second) return std::nullopt;
  return *it;
}

void OutOfOrderQueue::note_recent(Key start) {
  const auto block = block_of(start);
  assert(block);
  // Earlier inserts now in the same block would report it twice.
  std::size_t kept = 0;
  std::array<Key, kRecent> recent{start};
  for (std::size_t i = 0; i < recent_count_ && kept + 1 < kRecent; ++i) {
    const Key key = recent_[i];
    if (key >= block->first && key < block->second) continue;
    recent[++kept] = key;
  }
  recent_ = recent;
  recent_count_ = kept + 1;
}

std::size_t OutOfOrderQueue::sack_blocks(std::span<wire::TcpSackBlock> out) const {
  std::size_t n = 0;
  auto add = [&](Key left, Key right) {
    const wire::TcpSackBlock block{static_cast<Seq>(left), static_cast<Seq>(right)};
    if (std::find(out.begin(), out.begin() + n, block) == out.begin() + n) out[n++] = block;
  };
  // A remembered insert may since have been drained or pruned: no block then.
  for (std::size_t i = 0; i < recent_count_ && n < out.size(); ++i) {
    if (auto block = block_of(recent_[i])) add(block->first, block->second);
  }
  for (auto it = blocks_.begin(); it != blocks_.end() && n < out.size(); ++it) add(it->first, it->second);
  return n;
}

Seq OutOfOrderQueue::end_seq() const {
  assert(!segments_.empty());
  return static_cast<Seq>(end_of(std::prev(segments_.end())));
}

void OutOfOrderQueue::clear() {
  segments_.clear();
  blocks_.clear();
  recent_count_ = 0;
  bytes_ = 0;
}

std::optional<Packet> OutOfOrderQueue::pop_contiguous(Key& next) {
  while (!segments_.empty() && segments_.begin()->first <= next) {
    auto it = segments_.begin();
    const Key start = it->first;
    Packet segment = std::move(it->second);
    segments_.erase(it);
    bytes_ -= segment.size();
    const Key end = start + segment.size();
    if (end <= next) continue;  // already received in order
    segment.pull_front(next - start);
    next = end;
    return segment;
  }
  // Every block starting at or before `next` was drained whole: its segments
  // are contiguous, and the one after it starts beyond its end.
  while (!blocks_.empty() && blocks_.begin()->first <= next) blocks_.erase(blocks_.begin());
  if (segments_.empty()) {
    recent_count_ = 0;
  } else {
    // The anchor stays on a queued segment, so anything within 2^31 of what
    // is queued unwraps right, however far the stream has moved on.
    anchor_seq_ = static_cast<Seq>(segments_.begin()->first);
    anchor_key_ = segments_.begin()->first;
  }
  return std::nullopt;
}

}  // namespace netns::tcp
