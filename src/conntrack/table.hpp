// conntrack/table.hpp — one namespace's connection table (Linux's
// nf_conntrack_hash and what nf_conntrack_core.c does to it): every
// confirmed entry is in it twice, once per direction, so a datagram of
// either finds it with one lookup.
//
//   Table table(net, key);                             // made on the namespace's first tracked datagram
//   TupleHash* h = table.find(tuple, now);             // either direction; expired entries go on the way
//   CtRef ct = table.make(original, reply, now);       // unconfirmed, counted; empty when full
//   if (TupleHash* clash = table.insert(*ct, now)) ... // confirm: clash = the tuple was taken meanwhile
//
// Bounds: at most net.netfilter.nf_conntrack_max entries, unconfirmed ones
// included (they are counted when made, as Linux's). A full table evicts a
// not-assured entry from the new one's bucket or the seven after it (early
// drop) or refuses. Buckets are keyed SipHash (the Host's secret, a key per
// namespace), a power of two that doubles when the entries outnumber them,
// from 256 up to the next power of two of nf_conntrack_max (at most 2^20).
// A bucket is one cache line of slots, each a node and 16 more bits of its
// hash, so a lookup reads that line and then only the node whose bits
// match (Linux chains its nodes and reads each one it passes); a full line
// chains to another.
// Expiry: lazily (a lookup or early drop that meets an expired entry
// removes it) and by gc(), which the owner runs on a timer over a bounded
// slice of the buckets; nothing walks the whole table per datagram.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "conntrack/entry.hpp"
#include "core/siphash.hpp"
#include "netns/conntrack.hpp"

namespace netns {
class Net;
}

namespace netns::conntrack {

inline constexpr std::size_t kInitialBuckets = 256;
inline constexpr std::size_t kMaxBuckets = std::size_t{1} << 20;
// Linux's NF_CT_EVICTION_RANGE: buckets early drop looks at.
inline constexpr std::size_t kEvictionRange = 8;

// One cache line of the hash: up to kSlots nodes (null: a free slot), each
// with the top 16 bits of its tuple's hash, and the line the bucket
// continues in when these are taken.
struct alignas(64) Bucket {
  static constexpr std::size_t kSlots = 5;
  std::array<std::uint16_t, kSlots> tags{};
  std::array<TupleHash*, kSlots> nodes{};
  std::unique_ptr<Bucket> overflow;
};
static_assert(sizeof(Bucket) == 64, "a bucket is one cache line");

class Table {
 public:
  Table(Net& net, const SipKey& key);
  // Entries still referenced by a packet outlive the table: they are
  // detached and freed by their last CtRef.
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // The node whose tuple is `t` (nf_conntrack_find), or null.
  TupleHash* find(const Tuple& t, Clock::time_point now);
  // The look-ahead (Conntrack::prefetch): find_prefetched(t) comes a few
  // datagrams from now. `t`'s hash is kept for it and its bucket line
  // prefetched; the last kAhead are kept, the oldest forgotten first.
  void prefetch(const Tuple& t);
  // find() for a received datagram: the hash prefetch() kept for `t`, when
  // there is one, serves (those kept before it are stale: their datagrams
  // went elsewhere), and the entry the next kept tuple will find is
  // prefetched from its bucket line, there by now.
  TupleHash* find_prefetched(const Tuple& t, Clock::time_point now);
  // A new unconfirmed entry with these tuples (__nf_conntrack_alloc), or an
  // empty CtRef when the table is full and early drop freed no place.
  CtRef make(const Tuple& original, const Tuple& reply, Clock::time_point now);
  // Confirms `e` (__nf_conntrack_confirm): both tuples go into the hash.
  // When either is already there (a live entry), nothing changes and that
  // node is returned.
  TupleHash* insert(Entry& e, Clock::time_point now);
  // Removes a confirmed entry from the hash (nf_ct_delete); packets holding
  // it keep it until they let go. No-op for an unconfirmed or dying one.
  void kill(Entry& e);
  // NAT's reply tuple. Precondition: `e` is not confirmed yet.
  void set_reply(Entry& e, const Tuple& reply);

  // Removes the expired entries of at most `buckets` buckets, resuming where
  // the last call stopped; returns how many went.
  std::size_t gc(Clock::time_point now, std::size_t buckets);
  // Removes every confirmed entry (conntrack -F).
  void flush();

  std::size_t count() const { return count_; }
  std::size_t confirmed() const { return confirmed_; }
  std::size_t buckets() const { return buckets_.size(); }
  Stats& stats() { return stats_; }
  const Stats& stats() const { return stats_; }

  // NAT's bysource table (nf_nat_bysource): entries whose source NAT is
  // set up, by their original tuple's family, protocol, source address and
  // port, so a source keeps its mapping for its next connections. An
  // entry leaves it when it is freed; it grows with the entries it holds.
  void link_by_source(Entry& e);
  // f(Entry&) for the linked entries that may share `t`'s source (the
  // caller compares), until f returns true.
  template <class F>
  void for_each_by_source(const Tuple& t, F&& f) const {
    if (by_source_.empty()) return;
    for (Entry* e = by_source_[source_hash(t) & (by_source_.size() - 1)]; e != nullptr; e = e->by_source_next_) {
      if (f(*e)) return;
    }
  }

  // f(const Entry&) for every confirmed entry, in bucket order.
  template <class F>
  void for_each(F&& f) const {
    for (const Bucket& head : buckets_) {
      for (const Bucket* b = &head; b != nullptr; b = b->overflow.get()) {
        for (const TupleHash* h : b->nodes) {
          if (h != nullptr && h->entry->direction_of(h) == Dir::original) f(*h->entry);
        }
      }
    }
  }

 private:
  friend class CtRef;
  friend class Entry;  // Entry::destroy_entry releases

  std::uint64_t hash(const Tuple& t) const;
  std::uint64_t source_hash(const Tuple& t) const;
  void unlink_by_source(Entry& e);
  void grow_by_source();
  std::size_t bucket_of(std::uint64_t hash) const { return hash & (buckets_.size() - 1); }
  static std::uint16_t tag_of(std::uint64_t hash) { return static_cast<std::uint16_t>(hash >> 48); }
  TupleHash* find_hashed(const Tuple& t, std::uint64_t hash) const;
  TupleHash* unless_expired(TupleHash* h, Clock::time_point now);
  bool take_ahead(const Tuple& t, std::uint64_t& hash);
  void prefetch_entry(std::uint64_t hash) const;
  // The first node of bucket `b` for which pred(const TupleHash&) holds, or null.
  template <class Pred>
  TupleHash* first_where(std::size_t b, Pred&& pred) const;
  void link(TupleHash& h);
  void unlink(TupleHash& h);
  void maybe_grow();
  bool early_drop(std::size_t bucket, Clock::time_point now);
  // Kills every expired entry of one chain; how many.
  std::size_t reap(std::size_t bucket, Clock::time_point now);
  void release(Entry* e);  // the last CtRef went
  void publish() const;

  Net& net_;
  SipKey key_;
  std::vector<Bucket> buckets_;
  std::size_t count_ = 0;      // every live entry, confirmed or not
  std::size_t confirmed_ = 0;  // those in the hash
  std::size_t gc_cursor_ = 0;
  Entry* unconfirmed_ = nullptr;
  // prefetch()'s tuples, oldest first: a ring.
  struct Ahead {
    Tuple tuple;
    std::uint64_t hash = 0;
  };
  static constexpr std::size_t kAhead = 8;
  std::array<Ahead, kAhead> ahead_{};
  std::size_t ahead_head_ = 0;
  std::size_t ahead_size_ = 0;
  std::vector<Entry*> by_source_;  // chain heads, a power of two (empty until the first link)
  std::size_t by_source_count_ = 0;
  Stats stats_;
};

}  // namespace netns::conntrack
