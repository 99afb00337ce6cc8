// ipv4/fib.hpp — the per-namespace FIB: IPv4 routes and their longest-prefix-match lookup.
//
// Internal to the library: the IPv4 layer keeps one Fib in its pernet slot and
// the public add_route/del_route/route_output are built on it.
//
//   netns::ipv4::Fib fib;
//   auto r = fib.insert({.prefix = Ipv4Prefix(Ipv4Address(10, 0, 0, 0), 8), .dev = eth0});
//   if (!r) ...;                                  // file_exists, invalid_argument, no_buffer_space
//   const FibEntry* e = fib.lookup(Ipv4Address(10, 1, 2, 3));   // nullptr: no route
//   fib.for_each([](const FibEntry& e) { fmt::print("{} metric {}\n", e.prefix, e.metric); });
//
// Design. Routes live in a slab (index-stable array of FibEntry, freed slots
// reused) and are found by prefix through a hash map whose value is the head of
// that prefix's routes, linked in metric order (the head is the best one).
// Lookups go through one of two derived structures, chosen by the number of
// distinct prefixes:
//   - at most kSmallMax prefixes: a flat array of (network, mask) sorted
//     longest mask first and scanned linearly, followed by a copy of each
//     prefix's best route (fib::SmallTable) — a namespace with a handful of
//     routes pays a few hundred bytes, and a lookup a line or two;
//   - beyond that: a 16-8-8 multibit trie, Linux's "DIR-24-8" idea with a
//     smaller first level (65,536 slots, 256 KiB) so a mid-sized table does not
//     pay 64 MiB. A slot is 32 bits: either a leaf (depth of the prefix that
//     painted it + route index + 1, 0 meaning "no route") or a child group of
//     256 slots. Level 2 serves /17../24, level 3 /25../32. A lookup is one to
//     three dependent loads and never allocates.
// Child groups are stored compressed (fib_groups.hpp): a bitmap marks where
// the slots change value and only the distinct values are kept, as Poptrie
// does. A /16 holding a dozen /24s takes four 64-byte lines instead of 1 KiB,
// and a lookup reads one line per level. An Internet-sized table's groups are
// then ~23 MiB (in huge pages) where rte_lpm's first level alone is 64 MiB.
// Updates "paint" the slots a prefix covers, as rte_lpm does: an insert
// overwrites slots painted by a prefix no longer than itself; a delete repaints
// the slots it owned with the longest remaining shorter prefix covering it
// (found by probing the hash map for each shorter length), so deleting a /8
// re-exposes the /0 beneath. A group is expanded to its 256 slots, painted and
// stored again; one whose slots all became equal is folded back into its
// parent, so memory follows the routes. The trie is built when the table grows
// past kSmallMax prefixes and dropped when it shrinks to kSmallMax / 2
// (hysteresis). An empty Fib holds no allocation at all.
//
// Memory (64-bit, measured by fib_bench and memory_bytes()):
//   - empty: sizeof(Fib) == 56 bytes (the lookup's view of the structures
//     below is kept in the Fib, so a lookup starts without a load), nothing
//     on the heap;
//   - small (<= 32 prefixes): ~0.5..2 KiB;
//   - per route: 40 bytes of FibEntry + 4 bytes of link in the slab, plus
//     ~18..37 bytes per distinct prefix in the hash map (load factor 0.44..0.875);
//   - trie: 256 KiB, plus per /16 holding a prefix longer than /16 four
//     lines of 64 bytes (more when a quarter of it has over 14 distinct
//     values), plus per /24 holding one longer than /24 a line (up to 7
//     distinct values; 4 bytes each beyond).
//   Measured (fib_bench): 905,158 distinct routes shaped like an Internet table
//   (55% /24, 30% /16../23, 10% /8../15, 5% /25../32, every /16 populated) take
//   99.2 MiB: 19.7 MiB of level-2 groups, 3.3 MiB of level-3 groups, 44 MiB of
//   slab (vector growth slack included), ~32 MiB of hash map. rte_lpm
//   configured for 2M rules and 2^16 tbl8s preallocates 143 MiB.
//   The slab keeps its high-water mark until the Fib empties (then all is freed).
// The number of routes is bounded (constructor argument, at most kMaxRoutesLimit).
//
// Thread-safety: none — a Fib belongs to its namespace, driven by the Host's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "ipv4/fib_groups.hpp"
#include "netns/address.hpp"
#include "netns/ipv4.hpp"  // RouteType (Linux's RTN_*): the public header owns it
#include "netns/result.hpp"

namespace netns {
class Device;
}

namespace netns::ipv4 {

// One route, as `ip route` shows it.
struct FibEntry {
  Ipv4Prefix prefix;          // stored normalised (host bits cleared)
  RouteType type = RouteType::unicast;
  Device* dev = nullptr;      // output device (null for blackhole/unreachable/prohibit)
  Ipv4Address gateway;        // 0 = directly connected
  std::uint32_t metric = 0;
  Ipv4Address prefsrc;        // preferred source, 0 = none
  std::uint8_t scope = 0;     // 0 universe, 253 link, 254 host (Linux's RT_SCOPE_*)
  std::uint8_t protocol = 4;  // 2 kernel, 4 static (Linux's RTPROT_*)
};

namespace fib {

// The lookup structure of a table of at most Fib::kSmallMax prefixes, in one
// allocation: a count, each prefix's (network, mask) longest first, then a
// copy of each prefix's best route. The count and seven keys fill the first
// line, so with a handful of routes a lookup that finds nothing (the local
// table, for a datagram to forward) reads that line alone, and one that
// finds a route that line and the copy: with thousands of namespaces busy,
// each line is a miss.
class SmallTable {
 public:
  struct Key {
    std::uint32_t network;
    std::uint32_t mask;
  };
  struct Free {
    void operator()(SmallTable* table) const;
  };
  using Owner = std::unique_ptr<SmallTable, Free>;

  // Each prefix's key and best route, longest prefix first.
  static Owner make(std::span<const std::pair<Key, const FibEntry*>> prefixes);
  // The table of no routes, which a Fib without one looks in.
  static const SmallTable kEmpty;

  const FibEntry* find(std::uint32_t a) const {
    const Key* k = keys();
    for (std::uint32_t i = 0; i < count_; ++i) {
      if ((a & k[i].mask) == k[i].network) return &routes()[i];
    }
    return nullptr;
  }
  std::size_t memory_bytes() const { return bytes_for(count_); }

 private:
  constexpr explicit SmallTable(std::uint32_t count) : count_(count) {}
  static constexpr std::size_t bytes_for(std::size_t count) {
    return sizeof(SmallTable) + count * (sizeof(Key) + sizeof(FibEntry));
  }
  const Key* keys() const { return reinterpret_cast<const Key*>(this + 1); }
  const FibEntry* routes() const { return reinterpret_cast<const FibEntry*>(keys() + count_); }

  std::uint32_t count_;
  [[maybe_unused]] std::uint32_t unused_ = 0;  // keeps the keys, and the routes after them, 8-aligned
};

}  // namespace fib

class Fib {
 public:
  // Route indices are 25 bits in a trie slot; the slab never grows past this.
  static constexpr std::size_t kMaxRoutesLimit = (std::size_t{1} << 25) - 2;
  static constexpr std::size_t kDefaultMaxRoutes = std::size_t{1} << 24;
  // Above this many distinct prefixes lookups use the multibit trie.
  static constexpr std::size_t kSmallMax = 32;

  // max_routes bounds size(); clamped to kMaxRoutesLimit.
  explicit Fib(std::size_t max_routes = kDefaultMaxRoutes);
  ~Fib();
  Fib(Fib&&) noexcept;
  Fib& operator=(Fib&&) noexcept;
  Fib(const Fib&) = delete;
  Fib& operator=(const Fib&) = delete;

  // `ip route add`: the prefix is stored normalised (10.1.2.3/8 as 10.0.0.0/8).
  // Fails and changes nothing with
  //   file_exists      a route with the same prefix and metric exists (whatever its type);
  //   invalid_argument prefix length > 32; unicast/local/broadcast without dev;
  //                    blackhole/unreachable/prohibit with a dev or a gateway (as Linux);
  //   no_buffer_space  size() already at max_routes (Linux's ENOBUFS).
  [[nodiscard]] Result<void> insert(const FibEntry& e);

  // `ip route del`: removes the lowest-metric route whose prefix equals
  // match.prefix (normalised) and that agrees with every field set in `match`:
  //   dev      nullptr = any
  //   gateway  0 = any
  //   metric   0 = any (Linux: an unset priority matches every priority)
  //   type     unicast (the default) = any, as `ip route del` without a type
  //            keyword; any other type must be equal
  //   prefsrc  0 = any
  // scope and protocol are not compared. no_such_process (ESRCH, as Linux)
  // when nothing matches; nothing changes then.
  [[nodiscard]] Result<void> remove(const FibEntry& match);

  // Longest prefix containing dst; among equal prefixes the lowest metric.
  // nullptr when no route. The pointer stays valid until the next
  // insert/remove/remove_device. Never allocates.
  const FibEntry* lookup(Ipv4Address dst) const;

  // Drops every route through dev (a device going away); returns how many.
  std::size_t remove_device(const Device& dev);

  // Drops every route `doomed` selects; returns how many. Control plane only:
  // one pass over the table.
  std::size_t remove_if(const std::function<bool(const FibEntry&)>& doomed);

  std::size_t size() const { return state_ ? state_->count : 0; }
  bool empty() const { return size() == 0; }
  std::size_t max_routes() const { return max_routes_; }

  // f(const FibEntry&) for every route in `ip route` order: by prefix
  // (network, then length), then metric. f must not modify the Fib.
  // Allocates a temporary index array (this is a dump, not the data path).
  template <class F>
  void for_each(F&& f) const {
    if (!state_) return;
    for (std::uint32_t i : ordered()) f(state_->entries[i]);
  }

  // Heap and inline bytes this Fib holds (the hash map's share is computed
  // from its capacity, so it is an estimate to a few bytes per slot).
  std::size_t memory_bytes() const;
  // True while lookups use the multibit trie (for tests and benchmarks).
  bool uses_trie() const { return level1_ != nullptr; }

 private:
  // ---- trie slots ----
  static constexpr std::uint32_t kGroupBit = fib::kGroupBit;  // else a leaf
  static constexpr unsigned kDepthShift = 25;
  static constexpr std::uint32_t kIndexMask = (1u << kDepthShift) - 1;
  static constexpr std::uint32_t kNone = 0xffff'ffffu;
  static constexpr std::size_t kLevel1Slots = 1u << 16;
  static constexpr std::size_t kGroupSlots = fib::kGroupSlots;

  static constexpr std::uint32_t make_leaf(unsigned depth, std::uint32_t index) {
    return std::uint32_t{depth} << kDepthShift | (index + 1);
  }
  static constexpr unsigned leaf_depth(std::uint32_t leaf) { return leaf >> kDepthShift; }

  // Insert paints over slots of depth <= len; delete repaints exactly depth == len.
  enum class Paint : std::uint8_t { overwrite, replace_exact };

  struct State {
    std::vector<FibEntry> entries;            // slab, by route index
    std::vector<std::uint32_t> next;          // next route of the prefix by metric / free list
    std::uint32_t free_head = kNone;
    std::size_t count = 0;
    // (network << 8 | length) -> index of the prefix's best route
    boost::unordered_flat_map<std::uint64_t, std::uint32_t> prefixes;
    fib::SmallTable::Owner small;             // lookup structure while !level1
    std::unique_ptr<std::uint32_t[]> level1;  // kLevel1Slots slots, or null
    fib::QuarteredGroups level2;              // groups under level-1 slots
    fib::PackedGroups level3;                 // groups under level-2 slots
  };

  static std::uint64_t key(Ipv4Address network, unsigned length) {
    return std::uint64_t{network.value} << 8 | length;
  }

  std::vector<std::uint32_t> ordered() const;
  std::uint32_t allocate_entry(const FibEntry& e);
  void free_entry(std::uint32_t index);
  // Unlinks route `index` (predecessor `prev`, kNone when head) of prefix `k`
  // and brings the lookup structure up to date unless `repaint` is false.
  void erase(std::uint64_t k, std::uint32_t prev, std::uint32_t index, bool repaint);
  // The leaf for the longest prefix shorter than `length` that covers `network`.
  std::uint32_t covering_leaf(std::uint32_t network, unsigned length) const;
  // Refreshes the lookup structure after a change of prefix (network/length):
  // `leaf` is what now answers for it, painted as `mode`.
  void update_lookup(std::uint32_t network, unsigned length, std::uint32_t leaf, Paint mode);
  void rebuild_lookup();
  void rebuild_small();
  // Points the lookup's view at the structures of state_ as they are now:
  // every change ends here (a slab or pool that grew moved). Each mutator
  // holds a ViewRefresh, so none of its returns can forget it.
  void refresh_view();
  struct ViewRefresh {
    Fib& fib;
    ~ViewRefresh() { fib.refresh_view(); }
  };
  void build_trie();
  void paint(std::uint32_t network, unsigned length, std::uint32_t leaf, Paint mode);
  // Paints a prefix longer than the parent's stride into the group under
  // `slot`, whose slots end at depth `end` (24 or 32); returns the new slot.
  std::uint32_t paint_group(std::uint32_t slot, unsigned end, std::uint32_t network, unsigned length,
                            std::uint32_t leaf, Paint mode);
  // Paints slots [first, first + count) of a level whose slots end at depth
  // `end` (16, 24 or 32), and every group under them.
  void paint_slots(std::uint32_t* slots, unsigned end, std::size_t first, std::size_t count,
                   unsigned length, std::uint32_t leaf, Paint mode);
  // The group layout of the level whose slots end at `end` (24 or 32).
  void expand(unsigned end, std::uint32_t slot, std::uint32_t* out) const;
  std::uint32_t store(unsigned end, std::uint32_t old, const std::uint32_t* slots);
  // Copies the live groups into fresh pools once freed lines are a quarter of one.
  void compact_if_fragmented();

  // The lookup's view of state_, in the Fib itself so a lookup starts
  // without a load: the trie's levels (level1_ null while the table is
  // small), the slab, and the small table (kEmpty without one). A small
  // table's lookup reads the first two words only.
  const std::uint32_t* level1_ = nullptr;
  const fib::SmallTable* small_ = &fib::SmallTable::kEmpty;
  const fib::Line* level2_ = nullptr;
  const fib::Line* level3_ = nullptr;
  const FibEntry* entries_ = nullptr;
  std::unique_ptr<State> state_;
  // 32 bits (kMaxRoutesLimit is 2^25): Ipv4Net puts a member in what that
  // leaves of the Fib's last word.
  std::uint32_t max_routes_;
};

inline const FibEntry* Fib::lookup(Ipv4Address dst) const {
  const std::uint32_t a = dst.value;
  if (level1_ == nullptr) return small_->find(a);
  std::uint32_t slot = level1_[a >> 16];
  if (slot & kGroupBit) {
    slot = fib::QuarteredGroups::slot(level2_, slot, a >> 8 & 0xff);
    // A group under a /24 is rare (a /25../32 route). Made branch-free (a
    // blank line for leaves), this lookup measured twice as slow: the extra
    // instructions leave less of the CPU's window for the next lookups' misses.
    if (slot & kGroupBit) [[unlikely]] slot = fib::PackedGroups::slot(level3_, slot, a & 0xff);
  }
  const std::uint32_t id = slot & kIndexMask;
  return id == 0 ? nullptr : &entries_[id - 1];
}

}  // namespace netns::ipv4
