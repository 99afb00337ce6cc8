// nft/set_lookup.hpp — set membership on the packet path, in time that does
// not grow with the number of elements.
//
// The compiler builds one SetLookup per named set (`@name`) and per
// anonymous set (`{ … }`) when a transaction commits; the evaluator then
// asks it about a field exactly as the field sits in the packet (network
// order, or the metadata's big-endian layout), without copying:
//
//   SipKey key = SipKey::derive(host.secret(), kSipPurposeNftSet);
//   Result<SetLookup> set = SetLookup::build(s.type, s.elements, key);
//   if (!set) return set.error();                 // nothing was built
//   ...
//   bool in = set->contains(ip_header + 12);      // ip saddr @name
//
// A SetLookup is immutable after build: contains() is const, allocates
// nothing, takes no lock and is safe from any number of threads. Lookups
// dispatch on a tag with a switch the compiler inlines into the caller (no
// virtual call, no function pointer).
//
// Representations, chosen by build() from the type and the content (kind()):
//   empty      no element: contains() is false.
//   bitmap     1- and 2-byte keys (inet_service, inet_proto, icmp_type,
//              icmpv6_type, pkttype, tcp_flag) with more than 8 intervals,
//              and 1-byte keys always: one bit per value of the whole key
//              space (32 B for a byte, 8 KiB for ports). One load.
//   small      at most 8 intervals of a 2-, 4- or 16-byte key (the usual
//              anonymous set `{ 22, 80, 443 }`): one unsigned compare
//              (key - lo <= hi - lo) per interval, a constant bound of 8,
//              in 48 B to 256 B.
//   hash4,     4- and 16-byte keys whose elements are all single values
//   hash16     (sets without `interval`, or interval sets of single
//              addresses, marks, ifindexes, interface names): open
//              addressing with linear probing at load <= 1/2, hashed with
//              SipHash-1-3 keyed by the Host's secret. build() measures the
//              longest probe sequence and grows the table until it is at
//              most kMaxProbe, so every lookup, hit or miss, reads at most
//              kMaxProbe + 1 slots whatever the content. (Not multiply-
//              shift: with linear probing it is known to build long runs on
//              dense keys — consecutive addresses — Pătraşcu and Thorup,
//              "On the k-independence required by linear probing", 2010.)
//   trie4,     4- and 16-byte keys with ranges or prefixes (ipv4_addr,
//   trie16     ipv6_addr with `flags interval`; also mark, ifindex and ifname
//              intervals, so no type needs a binary search): a multibit
//              trie of set membership, Poptrie-like (Asai and Ohara, 2015).
//              The first 8 or 16 bits index a root array; below it each
//              node covers 6 bits with two 64-bit vectors, `full` (this
//              sixty-fourth of the block is wholly in the set) and `child`
//              (partly: descend), the children packed and found by
//              popcount. An interval marks whole subtrees at the highest
//              level they fit (its CIDR decomposition, never expanded) and
//              creates nodes only along the paths of its two ends, so
//              memory is O(intervals × key bits / 6). A lookup reads the
//              root and at most 3 nodes for IPv4 (16 + 6 + 6 + 4 bits) or
//              19 for IPv6: bounded by the key's bits, not the element
//              count; it stops at the first level the answer is known
//              (inside a /48, after 6 nodes).
//   hash_trie4, interval sets mixing many single values (at least
//   hash_trie16 kSplitSingles) with ranges: the singles in a hash, the ranges
//              in a trie, contains() asks both. A /32 or /128 in a trie
//              costs a node per level; in the hash, two slots.
//
// Types by default: ipv4_addr → hash4 (exact) or trie4 (intervals);
// ipv6_addr → hash16 or trie16; inet_service → bitmap; inet_proto,
// icmp_type, icmpv6_type, pkttype, tcp_flag → bitmap; mark, ifindex,
// ct_state, ct_status → hash4 (trie4 for the rare interval); ifname →
// hash16 (trie16 for wildcards, `eth*` being the prefix interval).
// Any type with 2..8 intervals and a key of 2 bytes or more → small.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "core/siphash.hpp"
#include "netns/result.hpp"
#include "nft/ruleset.hpp"

namespace netns::nft {


namespace set_detail {

__extension__ using U128 = unsigned __int128;

inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
inline U128 load_be128(const std::uint8_t* p) noexcept {
  std::uint64_t hi, lo;
  std::memcpy(&hi, p, 8);
  std::memcpy(&lo, p + 8, 8);
  return (static_cast<U128>(__builtin_bswap64(hi)) << 64) | __builtin_bswap64(lo);
}

// Exact values of N = 4 or 16 bytes, stored as loaded from memory (no byte
// swap: the hash does not care about order). The all-zero value marks an
// empty slot, so whether the set holds zero is a flag of its own.
template <std::size_t N>
class ExactHash {
 public:
  struct Wide {
    std::uint64_t a = 0, b = 0;
    friend bool operator==(const Wide&, const Wide&) = default;
  };
  using Slot = std::conditional_t<N == 4, std::uint32_t, Wide>;
  static constexpr unsigned kMaxProbe = 48;

  // `values`: distinct keys of N bytes each (Key::bytes).
  void build(std::span<const Key> values, const SipKey& key);

  bool contains(const std::uint8_t* p) const noexcept {
    Slot k = load(p);
    if (k == Slot{}) return has_zero_;
    std::size_t i = hash(k);
    for (unsigned d = 0;; ++d, ++i) {
      const Slot& s = slots_[i & mask_];
      if (s == k) return true;
      if (s == Slot{} || d == max_probe_) return false;
    }
  }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Slot); }
  unsigned max_probe() const { return max_probe_; }
  std::size_t slots() const { return slots_.size(); }

 private:
  static Slot load(const std::uint8_t* p) noexcept {
    Slot s;
    std::memcpy(&s, p, N);
    return s;
  }
  std::size_t hash(const Slot& k) const noexcept {
    if constexpr (N == 4) return static_cast<std::size_t>(siphash13_word(key_, k));
    else return static_cast<std::size_t>(siphash13_words(key_, k.a, k.b));
  }
  // Inserts every value into `size` slots; false when `bounded` and a
  // probe sequence would exceed kMaxProbe.
  bool fill(std::span<const Key> values, std::size_t size, bool bounded);

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  unsigned max_probe_ = 0;
  bool has_zero_ = false;
  SipKey key_;
};

// Membership in a union of intervals of K (uint32_t or U128), numeric order.
template <class K>
class IntervalTrie {
 public:
  static constexpr int kBits = static_cast<int>(sizeof(K) * 8);
  static constexpr int kStride = 6;
  // More intervals than this: a 16-bit root (256 KiB), else 8 bits (1 KiB).
  static constexpr std::size_t kWideRootAbove = 1024;

  // A node covers kStride bits (fewer at the last level). A skip node
  // (skip > 0) stands for a chain of levels that each had a single partial
  // child and nothing full, as sparse sets make below the root (a lone /48
  // in IPv6's 2^112): the key's next `skip` bits must equal full:child
  // (high:low), else the key is not in the set; then node `base`. So a
  // sparse path costs one node however long it is.
  struct Node {
    std::uint64_t full = 0;   // child block wholly in the set
    std::uint64_t child = 0;  // child block partly in the set: a node
    std::uint32_t base = 0;   // index of the first child node
    std::uint8_t skip = 0;    // bits a skip node consumes, 0 for a vector node
  };
  struct Range {
    K lo, hi;
  };

  // `ranges`: sorted, disjoint and not adjacent (merged).
  void build(std::span<const Range> ranges);

  bool contains(K k) const noexcept {
    std::uint32_t e = root_[static_cast<std::size_t>(k >> (kBits - root_bits_))];
    if (e < 2) return e != 0;
    const Node* n = &nodes_[e - 2];
    int rem = kBits - root_bits_;
    for (;;) {
      if (n->skip != 0) {
        rem -= n->skip;
        K want = static_cast<K>((static_cast<U128>(n->full) << 64) | n->child);
        K got = (k >> rem) & ((K{1} << n->skip) - 1);  // skip < kBits: the root takes 8 or more
        if (got != want) return false;
        n = &nodes_[n->base];
        continue;
      }
      int s = rem < kStride ? rem : kStride;
      rem -= s;
      unsigned i = static_cast<unsigned>(k >> rem) & ((1u << s) - 1);
      std::uint64_t bit = std::uint64_t{1} << i;
      // The last level's children are single values, never partial: the
      // loop ends there at the latest.
      if ((n->child & bit) == 0) return (n->full & bit) != 0;
      n = &nodes_[n->base + static_cast<std::uint32_t>(std::popcount(n->child & (bit - 1)))];
    }
  }
  std::size_t memory_bytes() const {
    return root_.capacity() * sizeof(std::uint32_t) + nodes_.capacity() * sizeof(Node);
  }
  std::size_t nodes() const { return nodes_.size(); }

 private:
  void build_node(std::uint32_t index, K base, int rem, std::span<const Range> ranges);

  // Root entries: 0 none of the block, 1 all of it, n + 2 node n.
  std::vector<std::uint32_t> root_;
  std::vector<Node> nodes_;
  int root_bits_ = 8;
};

}  // namespace set_detail

class SetLookup {
 public:
  enum class Kind : std::uint8_t { empty, bitmap, small, hash4, hash16, trie4, trie16, hash_trie4, hash_trie16 };

  static constexpr std::size_t kSmallMax = 8;
  // An interval set with at least this many single values next to ranges
  // keeps them in a hash beside the trie.
  static constexpr std::size_t kSplitSingles = 64;

  SetLookup() = default;  // empty: contains() is false for every key

  // Builds the lookup for `elements` of `type` (each Key data_type_length
  // bytes, sorted by lo, disjoint, lo <= hi, as Set::elements and
  // AnonSet::elements hold them), hashing with `key` where a hash is used.
  // Errors, nothing built: invalid_argument (a key of another length,
  // lo > hi, elements unsorted or overlapping), too_many_files_open_in_system
  // (ENFILE, as nft's set full: more than kMaxSetElements).
  [[nodiscard]] static Result<SetLookup> build(DataType type, std::span<const Interval> elements,
                                               const SipKey& key);
  // A named set: build(set.type, set.elements, key). Sets untouched by a
  // run stay the same object (Table::sets shares them between rulesets),
  // so a caller may keep the SetLookup of a `const Set*` across commits.
  [[nodiscard]] static Result<SetLookup> build(const Set& set, const SipKey& key) {
    return build(set.type, set.elements, key);
  }

  // Whether the key_length() bytes at `key` (network order, as in the
  // packet; big-endian for metadata; NUL-padded for ifname) are in the set.
  bool contains(const std::uint8_t* key) const noexcept {
    switch (kind_) {
      case Kind::empty: return false;
      case Kind::bitmap: {
        std::size_t v = len_ == 1 ? key[0] : (std::size_t{key[0]} << 8) | key[1];
        return (bitmap_[v >> 6] >> (v & 63)) & 1;
      }
      case Kind::small: return small_contains(key);
      case Kind::hash4: return hash4_.contains(key);
      case Kind::hash16: return hash16_.contains(key);
      case Kind::trie4: return trie4_.contains(set_detail::load_be32(key));
      case Kind::trie16: return trie16_.contains(set_detail::load_be128(key));
      case Kind::hash_trie4: return hash4_.contains(key) || trie4_.contains(set_detail::load_be32(key));
      case Kind::hash_trie16: return hash16_.contains(key) || trie16_.contains(set_detail::load_be128(key));
    }
    return false;
  }

  Kind kind() const { return kind_; }
  std::uint8_t key_length() const { return len_; }
  std::size_t intervals() const { return intervals_; }  // as given to build()
  // Heap bytes held (vector capacities), plus the object itself.
  std::size_t memory_bytes() const;
  // For tests and benchmarks: the hash's longest probe sequence, the trie's nodes.
  unsigned max_probe() const;
  std::size_t trie_nodes() const { return trie4_.nodes() + trie16_.nodes(); }

 private:
  bool small_contains(const std::uint8_t* key) const noexcept {
    // Per interval (lo, hi - lo): v in [lo, hi] iff v - lo <= hi - lo,
    // unsigned, so one compare. No early exit: at most 8, branch-free.
    bool in = false;
    if (len_ <= 8) {
      std::uint64_t v = len_ == 2 ? (std::uint64_t{key[0]} << 8) | key[1] : set_detail::load_be32(key);
      for (std::size_t i = 0; i < small_.size(); i += 2) in |= v - small_[i] <= small_[i + 1];
    } else {
      set_detail::U128 v = set_detail::load_be128(key);
      for (std::size_t i = 0; i < small_.size(); i += 4) {
        set_detail::U128 lo = (static_cast<set_detail::U128>(small_[i]) << 64) | small_[i + 1];
        set_detail::U128 span = (static_cast<set_detail::U128>(small_[i + 2]) << 64) | small_[i + 3];
        in |= v - lo <= span;
      }
    }
    return in;
  }

  Kind kind_ = Kind::empty;
  std::uint8_t len_ = 0;
  std::size_t intervals_ = 0;
  std::vector<std::uint64_t> bitmap_;
  std::vector<std::uint64_t> small_;  // (lo, hi - lo) per interval, one word each or two (16 bytes, high first)
  set_detail::ExactHash<4> hash4_;
  set_detail::ExactHash<16> hash16_;
  set_detail::IntervalTrie<std::uint32_t> trie4_;
  set_detail::IntervalTrie<set_detail::U128> trie16_;
};

std::string_view to_string(SetLookup::Kind k);

}  // namespace netns::nft
