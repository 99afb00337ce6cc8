// The per-namespace connection table: hashing, confirmation, expiry, early
// drop, growth (see conntrack/table.hpp).
#include "conntrack/table.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

#include "netns/net.hpp"
#include "netns/sysctl.hpp"

namespace netns::conntrack {

Entry::Entry(const Tuple& original, const Tuple& reply, Table* table) : NfConntrack{0, &destroy_entry}, table_(table) {
  tuplehash_[0].tuple = original;
  tuplehash_[1].tuple = reply;
  tuplehash_[0].entry = this;
  tuplehash_[1].entry = this;
}

void Entry::destroy_entry(NfConntrack* ct) {
  auto* e = static_cast<Entry*>(ct);
  if (e->table_ != nullptr) {
    e->table_->release(e);
  } else {
    delete e;
  }
}

void CtRef::reset() {
  if (Entry* e = std::exchange(e_, nullptr)) nf_conntrack_put(e);
}

Table::Table(Net& net, const SipKey& key) : net_(net), key_(key), buckets_(kInitialBuckets) { publish(); }

Table::~Table() {
  // Entries a packet still holds are detached and freed by their last
  // CtRef; the rest go now. Collected first: an entry's two nodes lie in
  // two chains.
  std::vector<Entry*> entries;
  entries.reserve(confirmed_);
  for_each([&](const Entry& e) { entries.push_back(const_cast<Entry*>(&e)); });
  // Detached entries must not unlink themselves from heads freed with the table.
  for (Entry* head : by_source_) {
    for (Entry* e = head; e != nullptr;) {
      Entry* next = std::exchange(e->by_source_next_, nullptr);
      e->by_source_pprev_ = nullptr;
      e = next;
    }
  }
  for (Entry* e : entries) {
    e->table_ = nullptr;
    e->status |= kStatusDying;
    if (--e->use == 0) delete e;
  }
  for (Entry* e = unconfirmed_; e != nullptr; e = e->unconfirmed_next_) e->table_ = nullptr;
  count_ = 0;
  publish();
}

std::uint64_t Table::hash(const Tuple& t) const {
  const std::uint64_t ports = std::uint64_t{t.sport} << 48 | std::uint64_t{t.dport} << 32 |
                              std::uint64_t{t.protocol} << 8 | static_cast<std::uint64_t>(t.family);
  if (t.family == Family::ipv4) {
    const std::uint64_t addrs = std::uint64_t{t.src[0]} << 56 | std::uint64_t{t.src[1]} << 48 |
                                std::uint64_t{t.src[2]} << 40 | std::uint64_t{t.src[3]} << 32 |
                                std::uint64_t{t.dst[0]} << 24 | std::uint64_t{t.dst[1]} << 16 |
                                std::uint64_t{t.dst[2]} << 8 | std::uint64_t{t.dst[3]};
    return siphash13_words(key_, addrs, ports);
  }
  std::array<std::byte, 40> m{};
  for (std::size_t i = 0; i < 16; ++i) {
    m[i] = std::byte{t.src[i]};
    m[16 + i] = std::byte{t.dst[i]};
  }
  for (std::size_t i = 0; i < 8; ++i) m[32 + i] = static_cast<std::byte>(ports >> (8 * i));
  return siphash13(key_, m);
}

// Linux's hash_by_src: the source address, port and protocol, keyed as
// the tuple hash (the top bit keeps the two hashes' inputs apart).
std::uint64_t Table::source_hash(const Tuple& t) const {
  const std::uint64_t rest = std::uint64_t{1} << 63 | std::uint64_t{t.sport} << 16 |
                             std::uint64_t{t.protocol} << 8 | static_cast<std::uint64_t>(t.family);
  if (t.family == Family::ipv4) {
    const std::uint64_t addr = std::uint64_t{t.src[0]} << 24 | std::uint64_t{t.src[1]} << 16 |
                               std::uint64_t{t.src[2]} << 8 | t.src[3];
    return siphash13_words(key_, addr, rest);
  }
  std::array<std::byte, 24> m{};
  for (std::size_t i = 0; i < 16; ++i) m[i] = std::byte{t.src[i]};
  for (std::size_t i = 0; i < 8; ++i) m[16 + i] = static_cast<std::byte>(rest >> (8 * i));
  return siphash13(key_, m);
}

void Table::link_by_source(Entry& e) {
  if (e.by_source_pprev_ != nullptr) return;
  if (by_source_count_ >= by_source_.size()) grow_by_source();
  e.by_source_hash_ = source_hash(e.tuple(Dir::original));
  Entry*& head = by_source_[e.by_source_hash_ & (by_source_.size() - 1)];
  e.by_source_next_ = head;
  if (head != nullptr) head->by_source_pprev_ = &e.by_source_next_;
  e.by_source_pprev_ = &head;
  head = &e;
  ++by_source_count_;
}

void Table::unlink_by_source(Entry& e) {
  if (e.by_source_pprev_ == nullptr) return;
  *e.by_source_pprev_ = e.by_source_next_;
  if (e.by_source_next_ != nullptr) e.by_source_next_->by_source_pprev_ = e.by_source_pprev_;
  e.by_source_next_ = nullptr;
  e.by_source_pprev_ = nullptr;
  --by_source_count_;
}

// Twice the heads (256 at first), every linked entry moved to its new chain.
void Table::grow_by_source() {
  std::vector<Entry*> linked;
  linked.reserve(by_source_count_);
  for (Entry* head : by_source_) {
    for (Entry* e = head; e != nullptr; e = e->by_source_next_) linked.push_back(e);
  }
  by_source_.assign(std::max<std::size_t>(kInitialBuckets, 2 * by_source_.size()), nullptr);
  for (Entry* e : linked) {
    Entry*& head = by_source_[e->by_source_hash_ & (by_source_.size() - 1)];
    e->by_source_next_ = head;
    if (head != nullptr) head->by_source_pprev_ = &e->by_source_next_;
    e->by_source_pprev_ = &head;
    head = e;
  }
}

namespace {

// Tuple equality as a few word compares: the library's operator== goes
// through memcmp calls, and a lookup compares once per candidate. The
// words follow the stores tuple_at builds a tuple with (the addresses, the
// ports, protocol and family), so each load of a tuple just built is
// forwarded from one store instead of waiting for several.
static_assert(sizeof(Tuple) == 38 && std::has_unique_object_representations_v<Tuple>,
              "a tuple's bytes are its value");
static_assert(offsetof(Tuple, sport) == 32 && offsetof(Tuple, protocol) == 36, "the words below");

template <class Word>
Word word_at(const Tuple& t, std::size_t offset) {
  Word w;
  std::memcpy(&w, reinterpret_cast<const unsigned char*>(&t) + offset, sizeof w);
  return w;
}

bool same_tuple(const Tuple& a, const Tuple& b) {
  std::uint64_t diff = 0;
  for (const std::size_t offset : {0, 8, 16, 24}) diff |= word_at<std::uint64_t>(a, offset) ^ word_at<std::uint64_t>(b, offset);
  diff |= word_at<std::uint32_t>(a, 32) ^ word_at<std::uint32_t>(b, 32);
  diff |= word_at<std::uint16_t>(a, 36) ^ word_at<std::uint16_t>(b, 36);
  return diff == 0;
}

}  // namespace

template <class Pred>
TupleHash* Table::first_where(std::size_t b, Pred&& pred) const {
  for (const Bucket* line = &buckets_[b]; line != nullptr; line = line->overflow.get()) {
    for (TupleHash* h : line->nodes) {
      if (h != nullptr && pred(*h)) return h;
    }
  }
  return nullptr;
}

void Table::link(TupleHash& h) {
  const std::uint64_t hv = hash(h.tuple);
  Bucket* line = &buckets_[bucket_of(hv)];
  for (;; line = line->overflow.get()) {
    for (std::size_t i = 0; i < Bucket::kSlots; ++i) {
      if (line->nodes[i] != nullptr) continue;
      line->nodes[i] = &h;
      line->tags[i] = tag_of(hv);
      return;
    }
    if (!line->overflow) line->overflow = std::make_unique<Bucket>();
  }
}

void Table::unlink(TupleHash& h) {
  Bucket* prev = nullptr;
  for (Bucket* line = &buckets_[bucket_of(hash(h.tuple))]; line != nullptr; prev = line, line = line->overflow.get()) {
    for (TupleHash*& slot : line->nodes) {
      if (slot != &h) continue;
      slot = nullptr;
      // An emptied overflow line goes: a bucket is as long as its nodes need.
      const bool empty = std::all_of(line->nodes.begin(), line->nodes.end(), [](TupleHash* n) { return n == nullptr; });
      if (prev != nullptr && empty) {
        std::unique_ptr<Bucket> rest = std::move(line->overflow);
        prev->overflow = std::move(rest);
      }
      return;
    }
  }
}

TupleHash* Table::find_hashed(const Tuple& t, std::uint64_t hv) const {
  const std::uint16_t tag = tag_of(hv);
  for (const Bucket* line = &buckets_[bucket_of(hv)]; line != nullptr; line = line->overflow.get()) {
    for (std::size_t i = 0; i < Bucket::kSlots; ++i) {
      TupleHash* h = line->nodes[i];
      if (line->tags[i] == tag && h != nullptr && same_tuple(h->tuple, t)) return h;
    }
  }
  return nullptr;
}

TupleHash* Table::find(const Tuple& t, Clock::time_point now) { return unless_expired(find_hashed(t, hash(t)), now); }

TupleHash* Table::unless_expired(TupleHash* h, Clock::time_point now) {
  if (h == nullptr || h->entry->expires > now) return h;
  kill(*h->entry);  // expired: gone, as Linux's nf_ct_gc_expired on lookup
  return nullptr;
}

// ---- the look-ahead ----

void Table::prefetch(const Tuple& t) {
  const std::uint64_t hv = hash(t);
  __builtin_prefetch(&buckets_[bucket_of(hv)]);
  if (ahead_size_ == kAhead) {
    ahead_head_ = (ahead_head_ + 1) % kAhead;
    --ahead_size_;
  }
  ahead_[(ahead_head_ + ahead_size_) % kAhead] = {t, hv};
  ++ahead_size_;
}

TupleHash* Table::find_prefetched(const Tuple& t, Clock::time_point now) {
  if (ahead_size_ == 0) return find(t, now);
  std::uint64_t hv = 0;
  if (!take_ahead(t, hv)) hv = hash(t);
  if (ahead_size_ != 0) prefetch_entry(ahead_[ahead_head_].hash);
  return unless_expired(find_hashed(t, hv), now);
}

bool Table::take_ahead(const Tuple& t, std::uint64_t& hv) {
  for (std::size_t i = 0; i < ahead_size_; ++i) {
    const Ahead& a = ahead_[(ahead_head_ + i) % kAhead];
    if (!same_tuple(a.tuple, t)) continue;
    hv = a.hash;
    ahead_head_ = (ahead_head_ + i + 1) % kAhead;
    ahead_size_ -= i + 1;
    return true;
  }
  return false;
}

// The node and the line after it: for either direction's node, the
// entry's status and expiry are among them.
void Table::prefetch_entry(std::uint64_t hv) const {
  const Bucket& line = buckets_[bucket_of(hv)];
  for (std::size_t i = 0; i < Bucket::kSlots; ++i) {
    if (line.tags[i] != tag_of(hv) || line.nodes[i] == nullptr) continue;
    __builtin_prefetch(line.nodes[i]);
    __builtin_prefetch(reinterpret_cast<const char*>(line.nodes[i]) + 64);
    return;
  }
}

CtRef Table::make(const Tuple& original, const Tuple& reply, Clock::time_point now) {
  const auto max = static_cast<std::size_t>(net_.sysctl().value(SysctlId::nf_conntrack_max));
  if (count_ >= max && !early_drop(bucket_of(hash(original)), now)) return {};
  auto* e = new Entry(original, reply, this);
  e->unconfirmed_next_ = unconfirmed_;
  if (unconfirmed_ != nullptr) unconfirmed_->unconfirmed_prev_ = e;
  unconfirmed_ = e;
  ++count_;
  publish();
  return CtRef(e);
}

TupleHash* Table::insert(Entry& e, Clock::time_point now) {
  for (Dir d : {Dir::original, Dir::reply}) {
    if (TupleHash* taken = find(e.tuple(d), now)) return taken;
  }
  // Off the unconfirmed list, into the hash; the table holds a reference.
  if (e.unconfirmed_prev_ != nullptr) e.unconfirmed_prev_->unconfirmed_next_ = e.unconfirmed_next_;
  if (e.unconfirmed_next_ != nullptr) e.unconfirmed_next_->unconfirmed_prev_ = e.unconfirmed_prev_;
  if (unconfirmed_ == &e) unconfirmed_ = e.unconfirmed_next_;
  e.unconfirmed_prev_ = e.unconfirmed_next_ = nullptr;
  e.status |= kStatusConfirmed;
  ++e.use;
  link(e.tuplehash_[0]);
  link(e.tuplehash_[1]);
  ++confirmed_;
  ++stats_.insert;
  maybe_grow();
  return nullptr;
}

void Table::kill(Entry& e) {
  if (!e.confirmed() || e.test(kStatusDying)) return;
  e.status |= kStatusDying;
  unlink(e.tuplehash_[0]);
  unlink(e.tuplehash_[1]);
  --confirmed_;
  if (--e.use == 0) release(&e);  // the table's reference goes
}

void Table::set_reply(Entry& e, const Tuple& reply) { e.tuplehash_[1].tuple = reply; }

void Table::release(Entry* e) {
  unlink_by_source(*e);
  if (!e->confirmed()) {
    if (e->unconfirmed_prev_ != nullptr) e->unconfirmed_prev_->unconfirmed_next_ = e->unconfirmed_next_;
    if (e->unconfirmed_next_ != nullptr) e->unconfirmed_next_->unconfirmed_prev_ = e->unconfirmed_prev_;
    if (unconfirmed_ == e) unconfirmed_ = e->unconfirmed_next_;
  }
  delete e;
  --count_;
  publish();
}

std::size_t Table::reap(std::size_t bucket, Clock::time_point now) {
  // Killing unlinks both nodes, maybe from this bucket: search it again each time.
  std::size_t gone = 0;
  while (TupleHash* h = first_where(bucket, [&](const TupleHash& n) { return n.entry->expires <= now; })) {
    kill(*h->entry);
    ++gone;
  }
  return gone;
}

bool Table::early_drop(std::size_t bucket, Clock::time_point now) {
  const auto max = static_cast<std::size_t>(net_.sysctl().value(SysctlId::nf_conntrack_max));
  for (std::size_t i = 0; i < kEvictionRange && i < buckets_.size(); ++i) {
    const std::size_t b = (bucket + i) & (buckets_.size() - 1);
    reap(b, now);
    std::size_t drops = 0;
    while (TupleHash* h = first_where(b, [](const TupleHash& n) { return !n.entry->test(kStatusAssured); })) {
      kill(*h->entry);
      ++drops;
    }
    stats_.early_drop += drops;
    if (count_ < max) return true;
  }
  return false;
}

std::size_t Table::gc(Clock::time_point now, std::size_t buckets) {
  std::size_t gone = 0;
  for (std::size_t i = 0; i < buckets && i < buckets_.size(); ++i) {
    gc_cursor_ = (gc_cursor_ + 1) & (buckets_.size() - 1);
    gone += reap(gc_cursor_, now);
  }
  return gone;
}

void Table::flush() {
  for (std::size_t b = 0; b < buckets_.size(); ++b) {
    while (TupleHash* h = first_where(b, [](const TupleHash&) { return true; })) kill(*h->entry);
  }
}

void Table::maybe_grow() {
  const auto max = static_cast<std::size_t>(net_.sysctl().value(SysctlId::nf_conntrack_max));
  const std::size_t limit = std::min(kMaxBuckets, std::bit_ceil(std::max(max, kInitialBuckets)));
  if (confirmed_ <= buckets_.size() || buckets_.size() >= limit) return;
  std::vector<Bucket> old(buckets_.size() * 2);
  old.swap(buckets_);
  for (const Bucket& head : old) {
    for (const Bucket* line = &head; line != nullptr; line = line->overflow.get()) {
      for (TupleHash* h : line->nodes) {
        if (h != nullptr) link(*h);
      }
    }
  }
  gc_cursor_ = 0;
  publish();
}

void Table::publish() const {
  Sysctl& s = net_.sysctl();
  s.publish(SysctlId::nf_conntrack_count, static_cast<std::int32_t>(count_));
  s.publish(SysctlId::nf_conntrack_buckets, static_cast<std::int32_t>(buckets_.size()));
}

}  // namespace netns::conntrack
