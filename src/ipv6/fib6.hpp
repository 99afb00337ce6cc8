// ipv6/fib6.hpp — the per-namespace IPv6 FIB: routes and their longest-prefix-match lookup.
//
// Internal to the library: the IPv6 layer keeps one Fib6 (and perhaps a local
// table) in its pernet slot; ipv6::add_route/del_route/route_output sit on it.
//
//   netns::ipv6::Fib6 fib;
//   auto r = fib.insert({.prefix = Ipv6Prefix::parse("2001:db8::/32").value(), .dev = eth0});
//   if (!r) ...;                          // file_exists, invalid_argument, no_buffer_space
//   const Fib6Entry* e = fib.lookup(dst);           // nullptr: no route
//   const Fib6Entry* l = fib.lookup(dst, eth1);     // only routes through eth1 (fe80::1%eth1)
//   fib.for_each([](const Fib6Entry& e) { ... });   // `ip -6 route` order
//
// Design: ipv4/fib.hpp's, widened to 128 bits. Routes live in a slab (an
// index-stable array of Fib6Entry, freed slots reused) and are found by prefix
// through a hash map whose value is the head of that prefix's routes, linked
// in metric order (the head is the best). Routes of one prefix with the same
// metric but another next hop coexist (Linux's siblings); the first added wins.
// Lookups go through one of two derived structures, chosen by the number of
// distinct prefixes:
//   - at most kSmallMax prefixes: a flat array of (network, mask, route)
//     sorted longest first and scanned — what a namespace usually holds
//     (fe80::/64 per device, a global /64 or two, a default route);
//   - beyond that: a multibit trie with a 16-bit first level (65,536 slots,
//     256 KiB) and 8-bit groups below, one per address byte (up to 14 levels,
//     rte_lpm6's strides after its first). A slot is 32 bits: 0 for no route,
//     a route index + 1, or the index of a 256-slot child group (top bit). A
//     lookup reads level 1 and one group per byte past the 16th bit of the
//     longest prefix under it: a /48 costs 5 dependent loads, a /64 7; it
//     never allocates. The first level is 256 times smaller than rte_lpm6's
//     64 MiB tbl24, so it stays in the caches.
// Updates paint the slots a prefix covers: an insert overwrites slots whose
// route is no longer than itself; a new best route of a prefix, or the
// prefix's last route going, replaces exactly that prefix's slot value (with
// the longest remaining shorter prefix covering it, found by probing the hash
// map at each prefix length in use). A group whose 256 slots become equal is
// folded into its parent, so memory follows the routes. The trie is built
// past kSmallMax prefixes and dropped at kSmallMax / 2 (hysteresis). An empty
// Fib6 holds no allocation at all.
//
// Memory (64-bit):
//   - empty: sizeof(Fib6) == 16 bytes, nothing on the heap;
//   - small (<= 32 prefixes): State (~0.7 KiB) + 104 bytes per route + 40 per prefix;
//   - per route: 104 bytes of Fib6Entry + 4 bytes of link in the slab, plus
//     ~37..73 bytes per distinct prefix in the hash map (load factor 0.44..0.875);
//   - trie: 256 KiB + 1 KiB per group; a group exists per 16..(16+8k)-bit
//     block holding a prefix longer than 16+8k bits. A lone /48 in an empty
//     region costs 4 groups, a /64 6, a /128 14; routes clustered as in the
//     Internet's table share most of them.
//   Measured (build/bench/fib6_bench --benchmark_repetitions=3, RelWithDebInfo),
//   routes shaped like the Internet's table (allocations /29../32 under five
//   RIR /12s and 2001::/16, then /36../64 and a few /128 inside them, /48 half
//   of all):
//     a namespace's 10 routes: 3.3 KiB (the small table; no trie);
//     1,000 routes: 2.0 MiB (1,411 groups);
//     100,000 routes: 157 MiB, of it 129 MiB in 132,393 groups (+ up to a
//     quarter of growth slack), 13 MiB of slab, 6 MiB of hash map.
//     rte_lpm6 holding the same sets with exactly the tbl8s they need takes
//     64 MiB, 65 MiB and 200 MiB (its 64 MiB tbl24 always).
//   The figures and ns/lookup beside rte_lpm6 are in bench/README.md.
// The number of routes is bounded (constructor argument, default
// kDefaultMaxRoutes = 2^20, at most kMaxRoutesLimit): Linux bounds its IPv6
// FIB only by memory (net.ipv6.route.max_size bounds the dst cache), which a
// library serving many namespaces must not do.
//
// Thread-safety: none — a Fib6 belongs to its namespace, driven by the Host's thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "netns/address.hpp"
#include "netns/clock.hpp"
#include "netns/ipv4.hpp"  // RouteType (Linux's RTN_*): the public header owns it
#include "netns/result.hpp"

namespace netns {
class Device;
}

namespace netns::ipv6 {

using RouteType = ipv4::RouteType;

// The metric of the prefix routes addrconf adds (IP6_RT_PRIO_ADDRCONF).
inline constexpr std::uint32_t kAddrconfMetric = 256;

// One route, as `ip -6 route` shows it.
struct Fib6Entry {
  Ipv6Prefix prefix;               // stored as network() (host bits cleared), scope 0
  std::optional<Ipv6Address> via;  // gateway, stored without scope: `dev` says where
  Device* dev = nullptr;           // output device (null for blackhole/unreachable/prohibit)
  std::uint32_t metric = 1024;
  RouteType type = RouteType::unicast;  // unicast, local, blackhole, unreachable, prohibit
  std::uint8_t protocol = 0;       // kernel 2, boot 3, static 4, ra 9 (Linux's RTPROT_*)
  std::optional<Clock::time_point> expires;  // stored only: the layer removes expired routes
  Ipv6Address prefsrc;             // :: when none
};

class Fib6 {
 public:
  // Route indices are 31 bits in a trie slot; the slab never grows past this.
  static constexpr std::size_t kMaxRoutesLimit = (std::size_t{1} << 31) - 2;
  static constexpr std::size_t kDefaultMaxRoutes = std::size_t{1} << 20;
  // Above this many distinct prefixes lookups use the multibit trie.
  static constexpr std::size_t kSmallMax = 32;

  // max_routes bounds size(); clamped to kMaxRoutesLimit.
  explicit Fib6(std::size_t max_routes = kDefaultMaxRoutes);
  ~Fib6();
  Fib6(Fib6&&) noexcept;
  Fib6& operator=(Fib6&&) noexcept;
  Fib6(const Fib6&) = delete;
  Fib6& operator=(const Fib6&) = delete;

  // Adds a route; the prefix is stored masked (2001:db8::1/32 as 2001:db8::/32)
  // with scope 0, `via` without its scope. Fails and changes nothing with
  //   file_exists      a route with the same prefix, metric, dev and via exists
  //                    (Linux's duplicate next hop; `ip -6 route add`'s stricter
  //                    "same prefix and metric" is the caller's check, see find());
  //   invalid_argument prefix length > 128; unicast/local without dev; a
  //                    broadcast route (IPv6 has none); blackhole/unreachable/
  //                    prohibit with a dev or a via; via :: or multicast;
  //   no_buffer_space  size() already at max_routes (Linux's ENOBUFS).
  [[nodiscard]] Result<void> insert(const Fib6Entry& e);

  // `ip -6 route del`: removes the first route, in metric order, whose prefix
  // equals match.prefix (masked) and that agrees with every field set in `match`:
  //   metric    0 = any (note Fib6Entry's default is 1024: set 0 to match any);
  //   dev       nullptr = any;   via   nullopt = any (scopes ignored);
  //   type      unicast = any, another type must be equal;
  //   protocol  0 = any (Linux compares it when given).
  // expires and prefsrc are not compared. no_such_process (ESRCH, as Linux)
  // when nothing matches, invalid_argument for a length > 128; nothing changes then.
  [[nodiscard]] Result<void> erase(const Fib6Entry& match);

  // The route erase(match) would remove, or nullptr.
  const Fib6Entry* find(const Fib6Entry& match) const;
  // Sets the expiry of the route find(match) names (a router advertisement
  // refreshing it); false when there is none. Lookups do not read it.
  bool set_expires(const Fib6Entry& match, std::optional<Clock::time_point> expires);

  // Drops every route `doomed(const Fib6Entry&)` selects (a device going down:
  // [&](auto& e) { return e.dev == dev; }); returns how many. Control plane:
  // one pass over the table; `doomed` must not touch the Fib6.
  template <class Pred>
  std::size_t remove_if(Pred&& doomed) {
    if (!state_) return 0;
    std::vector<std::uint32_t> victims;
    for (const auto& [k, head] : state_->prefixes) {
      for (std::uint32_t cur = head; cur != kNone; cur = state_->next[cur]) {
        if (doomed(std::as_const(state_->entries[cur]))) victims.push_back(cur);
      }
    }
    return erase_routes(victims);
  }

  // Longest prefix containing dst (its scope ignored); among that prefix's
  // routes the lowest metric. nullptr when no route. The pointer stays valid
  // until the next insert/erase/remove_if. Never allocates.
  const Fib6Entry* lookup(const Ipv6Address& dst) const;

  // The same among the routes whose dev is `oif` only (a link-local destination
  // with a scope, SO_BINDTODEVICE): a route through another device, or a reject
  // route (no dev), is passed over for a shorter prefix, as Linux's strict
  // interface lookup backtracks. oif == nullptr: lookup(dst). Slower: one
  // hash probe per prefix length in use, longest first.
  const Fib6Entry* lookup(const Ipv6Address& dst, const Device* oif) const;

  std::size_t size() const { return state_ ? state_->count : 0; }
  bool empty() const { return size() == 0; }
  std::size_t max_routes() const { return max_routes_; }

  // f(const Fib6Entry&) for every route in `ip -6 route` order: Linux's
  // post-order walk of its prefix tree — a prefix after the longer prefixes
  // inside it, disjoint prefixes by address (so ::/0 comes last) — then by
  // metric (equal metrics in the order added). f must not modify the Fib6.
  // Allocates a temporary index array (a dump, not the data path).
  template <class F>
  void for_each(F&& f) const {
    if (!state_) return;
    for (std::uint32_t i : ordered()) f(std::as_const(state_->entries[i]));
  }

  // Heap and inline bytes this Fib6 holds (the hash map's share is computed
  // from its capacity, so it is an estimate to a few bytes per slot).
  std::size_t memory_bytes() const;
  // True while lookups use the multibit trie (for tests and benchmarks).
  bool uses_trie() const { return state_ && state_->level1 != nullptr; }
  // Live trie groups (for tests and benchmarks): 0 without the trie.
  std::size_t trie_groups() const { return state_ ? state_->live_groups : 0; }

 private:
  static constexpr std::uint32_t kGroupBit = 0x8000'0000u;
  static constexpr std::uint32_t kNone = 0xffff'ffffu;
  static constexpr std::size_t kLevel1Slots = std::size_t{1} << 16;
  static constexpr std::size_t kGroupSlots = 256;

  // Insert paints over slots of routes no longer than itself; the other
  // changes replace one exact slot value by another.
  enum class Paint : std::uint8_t { overwrite, replace };

  struct Key {
    std::uint64_t high;
    std::uint64_t low;
    std::uint32_t length;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };

  struct SmallRoute {
    std::uint64_t high;
    std::uint64_t low;
    std::uint64_t mask_high;
    std::uint64_t mask_low;
    std::uint32_t index;
  };

  struct State {
    std::vector<Fib6Entry> entries;           // slab, by route index
    std::vector<std::uint32_t> next;          // next route of the prefix by metric / free list
    std::uint32_t free_head = kNone;
    std::size_t count = 0;
    boost::unordered_flat_map<Key, std::uint32_t, KeyHash> prefixes;  // -> best route's index
    std::array<std::uint32_t, 129> per_length{};  // distinct prefixes of each length
    std::vector<SmallRoute> small;            // lookup structure while !level1
    std::unique_ptr<std::uint32_t[]> level1;  // kLevel1Slots slots, or null
    std::vector<std::uint32_t> groups;        // child groups of kGroupSlots slots
    std::vector<std::uint32_t> free_groups;
    std::size_t live_groups = 0;
  };

  static Key key_of(const Ipv6Address& a, unsigned length);
  static Ipv6Address address_of(const Key& k);

  std::vector<std::uint32_t> ordered() const;
  // The route matching `match` as erase() means it: (key, predecessor, index), or index kNone.
  std::tuple<Key, std::uint32_t, std::uint32_t> locate(const Fib6Entry& match) const;
  std::size_t erase_routes(const std::vector<std::uint32_t>& victims);
  std::uint32_t allocate_entry(const Fib6Entry& e);
  void free_entry(std::uint32_t index);
  // Unlinks route `index` (predecessor `prev`, kNone when head) of prefix `k`
  // and brings the lookup structure up to date unless `repaint` is false.
  void unlink(const Key& k, std::uint32_t prev, std::uint32_t index, bool repaint);
  // The slot value for the longest prefix shorter than `length` covering `network`.
  std::uint32_t covering_leaf(const Key& k) const;
  void add_prefix(const Key& k, std::uint32_t head);
  void update_lookup(const Key& k, std::uint32_t old_leaf, std::uint32_t leaf, Paint mode);
  void rebuild_lookup();
  void rebuild_small();
  void build_trie();
  unsigned depth_of(std::uint32_t leaf) const {
    return leaf == 0 ? 0 : state_->entries[leaf - 1].prefix.length();
  }
  void paint(const Key& k, std::uint32_t old_leaf, std::uint32_t leaf, Paint mode);
  void paint_range(std::uint32_t* slots, std::size_t first, std::size_t count, unsigned length,
                   std::uint32_t old_leaf, std::uint32_t leaf, Paint mode);
  // Positions name a slot across reallocations of `groups`: below kLevel1Slots
  // in level1, above it groups[position - kLevel1Slots].
  std::uint32_t& slot_at(std::size_t position) {
    return position < kLevel1Slots ? state_->level1[position] : state_->groups[position - kLevel1Slots];
  }
  // The slot at `position` is a leaf: turns it into a group whose slots inherit it.
  std::uint32_t descend(std::size_t position);
  void fold_if_uniform(std::uint32_t* slot);
  std::uint32_t* group(std::uint32_t slot) {
    return state_->groups.data() + std::size_t{slot & ~kGroupBit} * kGroupSlots;
  }

  std::unique_ptr<State> state_;
  // 32 bits (kMaxRoutesLimit is 2^31): Ipv6Net puts a member in what that
  // leaves of the Fib6's last word.
  std::uint32_t max_routes_;
};

inline const Fib6Entry* Fib6::lookup(const Ipv6Address& dst) const {
  const State* s = state_.get();
  if (s == nullptr) return nullptr;
  const Ipv6Address::Bytes& b = dst.bytes();
  if (s->level1 != nullptr) {
    std::uint32_t slot = s->level1[std::size_t{b[0]} << 8 | b[1]];
    const std::uint32_t* g = s->groups.data();
    // A group exists only for prefixes longer than its parent's stride, so the
    // walk ends by byte 15 at the latest.
    for (std::size_t i = 2; slot & kGroupBit; ++i) {
      slot = g[std::size_t{slot & ~kGroupBit} * kGroupSlots + b[i]];
    }
    return slot == 0 ? nullptr : &s->entries[slot - 1];
  }
  const std::uint64_t high = dst.high();
  const std::uint64_t low = dst.low();
  for (const SmallRoute& r : s->small) {
    if (((high & r.mask_high) ^ r.high) == 0 && ((low & r.mask_low) ^ r.low) == 0) {
      return &s->entries[r.index];
    }
  }
  return nullptr;
}

}  // namespace netns::ipv6
