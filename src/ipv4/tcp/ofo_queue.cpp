#include "ipv4/tcp/ofo_queue.hpp"

#include <algorithm>
#include <cassert>
#include <iterator>

#include "netns/packet_pool.hpp"

namespace netns::tcp {

namespace {
// Where keys start when the queue is empty: 2^32 above zero, so unwrapping a
// sequence number up to 2^31 below the anchor stays positive.
constexpr std::uint64_t kKeyBase = std::uint64_t{1} << 32;

// Grows [left, right) by [from, to) when the two overlap or touch, as Linux's
// tcp_sack_extend; an empty range takes [from, to) whole.
template <class T>
void extend(T& left, T& right, T from, T to) {
  if (left == right) {
    left = from;
    right = to;
  } else if (from <= right && left <= to) {
    left = std::min(left, from);
    right = std::max(right, to);
  }
}
}  // namespace

std::size_t collapsed_truesize(std::size_t bytes) {
  std::size_t total = 0;
  for (; bytes > kCollapseChunk; bytes -= kCollapseChunk) {
    total += kCollapseChunk + kPacketBufferHeader + sizeof(Packet);
  }
  if (bytes != 0) {
    total += std::max(bytes, PacketPool::kStandardCapacity) + kPacketBufferHeader + sizeof(Packet);
  }
  return total;
}

std::vector<Packet> collapse_run(std::span<Packet> run) {
  assert(!run.empty() && run.front().pool() != nullptr);
  PacketPool& pool = *run.front().pool();
  std::size_t total = 0;
  for (const Packet& p : run) total += p.size();
  // Allocate first: a refusal leaves the run untouched.
  std::vector<Packet> out;
  for (std::size_t left = total; left != 0;) {
    const std::size_t n = std::min(left, kCollapseChunk);
    Packet chunk = pool.allocate(n, 0);
    if (!chunk) return {};
    chunk.trim(0);
    out.push_back(std::move(chunk));
    left -= n;
  }
  std::size_t at = 0;  // the chunk being filled: each is full before the next
  for (Packet& p : run) {
    for (std::span<const std::byte> rest = p.data(); !rest.empty();) {
      Packet& chunk = out[at];
      const std::size_t n = std::min(chunk.tailroom(), rest.size());
      pool.copy_bytes(chunk.push_back(n), rest.first(n));
      rest = rest.subspan(n);
      if (chunk.tailroom() == 0 || chunk.size() == kCollapseChunk) ++at;
    }
    p = Packet{};
  }
  return out;
}

OutOfOrderQueue::Inserted OutOfOrderQueue::insert(Seq seq, Packet payload) {
  if (payload.empty()) return {};
  if (segments_.empty()) {
    anchor_seq_ = seq;
    anchor_key_ = kKeyBase | seq;
  }
  const Key start = unwrap(seq);
  const Key end = start + payload.size();
  Inserted out;
  const auto p = plan(start, end);
  if (!p) {
    // All of it was here: its block goes first in the SACK blocks, after
    // the D-SACK (RFC 2883 4.1; Linux's tcp_sack_new_ofo_skb).
    if (block_of(start)) note_recent(start);
    out.dup_left = seq;
    out.dup_right = static_cast<Seq>(end);
    return out;
  }
  const auto [dup_left, dup_right] = duplicate_of(start, end, *p);
  out.dup_left = static_cast<Seq>(dup_left);
  out.dup_right = static_cast<Seq>(dup_right);
  out.replaced = static_cast<std::size_t>(std::distance(p->first, p->last));
  out.result = place(start, *p, std::move(payload));
  return out;
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
  std::size_t covered_bytes = 0;
  for (; next != segments_.end() && end_of(next) <= end; ++next) covered_bytes += next->second.size();
  p.last = next;
  if (next != segments_.end() && next->first < end) p.end = next->first;
  // Nothing new when what is left is under the right neighbour or tiled by
  // the segments it covers: replacing them would only churn.
  if (p.end <= p.start || p.end - p.start == covered_bytes) return std::nullopt;
  return p;
}

std::pair<OutOfOrderQueue::Key, OutOfOrderQueue::Key> OutOfOrderQueue::duplicate_of(
    Key start, Key end, const Plan& p) const {
  Key left = 0, right = 0;
  if (start < p.start) extend(left, right, start, p.start);
  for (auto it = p.first; it != p.last; ++it) extend(left, right, it->first, end_of(it));
  if (p.end < end) extend(left, right, p.end, end);
  return {left, right};
}

OutOfOrderQueue::Insert OutOfOrderQueue::place(Key start, const Plan& p, Packet payload) {
  erase(p.first, p.last);
  payload.pull_front(p.start - start);
  payload.trim(p.end - p.start);
  add_block(p.start, p.end);
  note_recent(p.start);
  anchor_seq_ = static_cast<Seq>(p.start);
  anchor_key_ = p.start;
  if (coalesce_left(p.start, payload)) return Insert::coalesced;
  bytes_ += payload.size();
  charged_ += payload.truesize();
  segments_.emplace(p.start, std::move(payload));
  return Insert::queued;
}

bool OutOfOrderQueue::coalesce_left(Key start, Packet& payload) {
  auto next = segments_.lower_bound(start);
  if (next == segments_.begin()) return false;
  Packet& left = std::prev(next)->second;
  if (end_of(std::prev(next)) != start || left.is_shared() || left.tailroom() < payload.size() ||
      left.pool() == nullptr) {
    return false;
  }
  left.pool()->copy_bytes(left.push_back(payload.size()), payload.data());
  bytes_ += payload.size();
  payload = Packet{};
  return true;
}

void OutOfOrderQueue::erase(Segments::iterator first, Segments::iterator last) {
  for (auto it = first; it != last; ++it) {
    bytes_ -= it->second.size();
    charged_ -= it->second.truesize();
  }
  segments_.erase(first, last);
}

std::size_t OutOfOrderQueue::prune_from_top(Seq from, std::size_t goal) {
  if (segments_.empty()) return 0;
  const Key floor = unwrap(from);
  std::size_t freed = 0;
  while (freed < goal && !segments_.empty()) {
    auto top = std::prev(segments_.end());
    if (top->first < floor) break;
    const Key start = top->first;
    freed += top->second.truesize();
    erase(top, segments_.end());
    // The top block ends where the top segment did; the segment before it in
    // the same block, if any, ends where the pruned one started.
    auto block = std::prev(blocks_.end());
    if (block->first == start) {
      blocks_.erase(block);
    } else {
      block->second = start;
    }
  }
  if (segments_.empty()) clear();
  return freed;
}

std::size_t OutOfOrderQueue::collapse(std::size_t tiny_budget) {
  std::size_t released = 0;
  std::size_t tiny = 0;
  for (const auto& [left, right] : blocks_) {
    auto first = segments_.find(left);
    auto last = segments_.lower_bound(right);
    std::size_t truesize = 0;
    std::size_t count = 0;
    for (auto it = first; it != last; ++it, ++count) truesize += it->second.truesize();
    if (truesize <= collapsed_truesize(right - left)) {
      // Nothing to gain; a run of one small segment is "tiny" (Linux stops
      // after an eighth of the buffer's worth of those, bounding the work).
      if (count == 1 && (tiny += truesize) > tiny_budget) break;
      continue;
    }
    if (!collapse_segments(first, last, released)) break;
  }
  return released;
}

bool OutOfOrderQueue::collapse_segments(Segments::iterator first, Segments::iterator last,
                                        std::size_t& released) {
  const Key start = first->first;
  std::vector<Packet> run;
  std::size_t old_truesize = 0;
  for (auto it = first; it != last; ++it) {
    old_truesize += it->second.truesize();
    run.push_back(std::move(it->second));
  }
  std::vector<Packet> dense = collapse_run(run);
  if (dense.empty()) {
    auto it = first;
    for (Packet& p : run) (it++)->second = std::move(p);
    return false;
  }
  released += run.size();
  charged_ -= old_truesize;
  auto hint = segments_.erase(first, last);
  Key at = start;
  for (Packet& p : dense) {
    const std::size_t n = p.size();
    charged_ += p.truesize();
    hint = std::next(segments_.emplace_hint(hint, at, std::move(p)));
    at += n;
  }
  return true;
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
  charged_ = 0;
}

std::optional<Packet> OutOfOrderQueue::pop_contiguous(Key& next, Key& dup_left, Key& dup_right) {
  while (!segments_.empty() && segments_.begin()->first <= next) {
    auto it = segments_.begin();
    const Key start = it->first;
    Packet segment = std::move(it->second);
    bytes_ -= segment.size();
    charged_ -= segment.truesize();
    segments_.erase(it);
    const Key end = start + segment.size();
    if (start < next) extend(dup_left, dup_right, start, std::min(end, next));
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
