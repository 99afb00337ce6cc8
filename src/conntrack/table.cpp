// The per-namespace connection table: hashing, confirmation, expiry, early
// drop, growth (see conntrack/table.hpp).
#include "conntrack/table.hpp"

#include <array>
#include <algorithm>
#include <bit>

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

Table::Table(Net& net, const SipKey& key) : net_(net), key_(key), buckets_(kInitialBuckets, nullptr) { publish(); }

Table::~Table() {
  // Entries a packet still holds are detached and freed by their last
  // CtRef; the rest go now. Collected first: an entry's two nodes lie in
  // two chains.
  std::vector<Entry*> entries;
  entries.reserve(confirmed_);
  for_each([&](const Entry& e) { entries.push_back(const_cast<Entry*>(&e)); });
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

void Table::link(TupleHash& h) {
  TupleHash*& head = buckets_[bucket_of(h.tuple)];
  h.next = head;
  head = &h;
}

void Table::unlink(TupleHash& h) {
  for (TupleHash** p = &buckets_[bucket_of(h.tuple)]; *p != nullptr; p = &(*p)->next) {
    if (*p == &h) {
      *p = h.next;
      h.next = nullptr;
      return;
    }
  }
}

TupleHash* Table::find(const Tuple& t, Clock::time_point now) {
  const std::size_t b = bucket_of(t);
  for (TupleHash* h = buckets_[b]; h != nullptr; h = h->next) {
    if (h->tuple != t) continue;
    if (h->entry->expires > now) return h;
    kill(*h->entry);  // expired: gone, as Linux's nf_ct_gc_expired on lookup
    return nullptr;
  }
  return nullptr;
}

CtRef Table::make(const Tuple& original, const Tuple& reply, Clock::time_point now) {
  const auto max = static_cast<std::size_t>(net_.sysctl().value(SysctlId::nf_conntrack_max));
  if (count_ >= max && !early_drop(bucket_of(original), now)) return {};
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
  std::size_t gone = 0;
  TupleHash* h = buckets_[bucket];
  while (h != nullptr) {
    TupleHash* next = h->next;
    if (h->entry->expires <= now) {
      // Its other node may be the next one: start the chain again.
      kill(*h->entry);
      ++gone;
      next = buckets_[bucket];
    }
    h = next;
  }
  return gone;
}

bool Table::early_drop(std::size_t bucket, Clock::time_point now) {
  const auto max = static_cast<std::size_t>(net_.sysctl().value(SysctlId::nf_conntrack_max));
  for (std::size_t i = 0; i < kEvictionRange && i < buckets_.size(); ++i) {
    const std::size_t b = (bucket + i) & (buckets_.size() - 1);
    reap(b, now);
    std::size_t drops = 0;
    TupleHash* h = buckets_[b];
    while (h != nullptr) {
      TupleHash* next = h->next;
      if (!h->entry->test(kStatusAssured)) {
        kill(*h->entry);
        ++drops;
        next = buckets_[b];
      }
      h = next;
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
    while (buckets_[b] != nullptr) kill(*buckets_[b]->entry);
  }
}

void Table::maybe_grow() {
  const auto max = static_cast<std::size_t>(net_.sysctl().value(SysctlId::nf_conntrack_max));
  const std::size_t limit = std::min(kMaxBuckets, std::bit_ceil(std::max(max, kInitialBuckets)));
  if (confirmed_ <= buckets_.size() || buckets_.size() >= limit) return;
  std::vector<TupleHash*> old(buckets_.size() * 2, nullptr);
  old.swap(buckets_);
  for (TupleHash* head : old) {
    while (head != nullptr) {
      TupleHash* h = head;
      head = h->next;
      link(*h);
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
