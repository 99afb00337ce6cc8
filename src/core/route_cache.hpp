// core/route_cache.hpp — the route cache every namespace of a Host shares (docs/ARCHITECTURE.md, section 5).
//
// One table per Host holds the results of route_output for every namespace
// and both families, keyed by (namespace id, destination, source, tos,
// output ifindex); an IPv6 key has no tos. The IP layers ask it before the
// FIB and fill it after (IPv6 through the overloads taking Ipv6Address):
//
//   RouteCache& cache = ...;   // handed to the IPv4 layer by the composition root
//   if (const CachedRoute* r = cache.lookup(net, dst, src, tos, oif)) return *r;
//   CachedRoute r = ...FIB lookup...;
//   cache.insert(net, dst, src, tos, oif, r);
//   cache.invalidate(net);                               // any route, address or link change
//   cache.stats(net);                                    // {entries, hits, misses, evictions}
//
// What keeps one namespace from hurting another (the 2.6 cache was removed
// from Linux because a flood filled it):
//   - the hash is SipHash-1-3 keyed by a key derived from host.secret(), over
//     the key's bytes (never a pointer), so bucket placement cannot be aimed;
//   - each namespace has a quota, its net.ipv4.route.max_size. At the quota an
//     insert evicts that namespace's own oldest entry (a per-namespace FIFO
//     list), so a flood in one namespace only pushes out its own entries;
//   - the whole table is bounded by max_entries() (kDefaultMaxEntries = 2^20,
//     about 150 MiB of entries plus 8 MiB of buckets at worst; HostConfig has
//     no knob, the constructor takes one). At that bound an insert first
//     sweeps a few buckets for stale entries, then gives up its own
//     namespace's oldest entry; a namespace with none of its own caches
//     nothing (counted in `refused`) rather than evict another's valid entry.
//     It still routes, through the FIB;
//   - invalidate(net) bumps the namespace's generation number: O(1), touching
//     no entry. An entry of an older generation is a miss; lookups unlink the
//     stale entries of their namespace they meet, inserts drop stale ones from
//     the head of their own list and sweep one bucket of the table each, so
//     garbage goes without a stop-the-world pass.
//
// Costs: lookup, insert, evict, invalidate are O(1) on average (chains
// average at most one entry: the bucket array doubles, by a full rehash on
// the insert path, whenever entries outnumber buckets, up to
// bit_ceil(max_entries) buckets). Entries come from a slab; a lookup never
// allocates. A namespace's exit walks its own list only.
//
// Lifetime: entries hold a Device* they never dereference. A stale entry may
// point at a destroyed device; it is never returned. The pointer lookup()
// returns is valid until the next call on this cache other than stats() and
// the accessors: copy the route out.
// Threads: the Host's thread only, like everything on the packet path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/siphash.hpp"
#include "netns/address.hpp"
#include "netns/detail/slab.hpp"
#include "netns/pernet.hpp"

namespace netns {

class Device;
class Host;
class Net;

// What route_output returns, as cached.
struct CachedRoute {
  Device* dev = nullptr;
  Ipv4Address next_hop;
  Ipv4Address source;
  std::uint8_t type = 0;  // the IPv4 layer's route type, opaque here
};

// What IPv6's route_output returns, as cached.
struct CachedRoute6 {
  Device* dev = nullptr;
  Ipv6Address next_hop;
  Ipv6Address source;
};

struct RouteCacheKey {
  std::uint32_t net_id = 0;
  Ipv4Address dst;
  Ipv4Address src;
  std::uint8_t tos = 0;
  int oif = 0;

  friend bool operator==(const RouteCacheKey&, const RouteCacheKey&) = default;
};

struct RouteCacheKey6 {
  std::uint32_t net_id = 0;
  Ipv6Address dst;  // scope ids included: fe80::1%2 and fe80::1%3 are two routes
  Ipv6Address src;
  int oif = 0;

  friend bool operator==(const RouteCacheKey6&, const RouteCacheKey6&) = default;
};

// One namespace's share of the cache.
struct RouteCacheStats {
  std::uint64_t entries = 0;    // valid (current generation) entries now
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;     // stale entries met count as misses
  std::uint64_t evictions = 0;  // valid entries pushed out to make room (quota or table bound)
  std::uint64_t refused = 0;    // inserts not cached: table full, nothing of its own to give up
};

class RouteCache final : public PernetOps {
 public:
  static constexpr std::size_t kDefaultMaxEntries = std::size_t{1} << 20;

  // The key comes from host.secret() now; max_entries >= 1 bounds the whole table.
  explicit RouteCache(Host& host, std::size_t max_entries = kDefaultMaxEntries);
  // Precondition: unregistered, or its Host is tearing down (every exit ran).
  ~RouteCache() override;
  RouteCache(const RouteCache&) = delete;
  RouteCache& operator=(const RouteCache&) = delete;

  Result<void> init(Net& net) override;
  // Frees every entry of `net` (a walk of its own list) and its counters.
  void exit(Net& net) override;

  // The cached route, or nullptr (a miss). Counts a hit or a miss. Never
  // allocates. In a namespace where the cache has exited: nullptr, uncounted.
  const CachedRoute* lookup(Net& net, Ipv4Address dst, Ipv4Address src, std::uint8_t tos, int oif);
  // lookup in the Host's own cache (the built-in one, whichever object this
  // is called on) for route_output's usual key: no source, tos or output
  // device. The built-in cache's state is the Host's first pernet slot
  // (kSlotId; stack/builtins.cpp checks it) and points back at its cache,
  // so the namespace alone leads to a hit: no chain of loads through the
  // Host before the hash can start.
  static constexpr std::size_t kSlotId = 0;
  static const CachedRoute* builtin_lookup(Net& net, Ipv4Address dst);
  std::size_t slot_id() const { return slot_.id(); }
  // Caches `route`, replacing an entry with the same key. May evict (see
  // above). Allocates only when the slab or the bucket array grows.
  void insert(Net& net, Ipv4Address dst, Ipv4Address src, std::uint8_t tos, int oif,
              const CachedRoute& route);
  // The same for IPv6, in the same table, quota and generation.
  const CachedRoute6* lookup(Net& net, const Ipv6Address& dst, const Ipv6Address& src, int oif);
  void insert(Net& net, const Ipv6Address& dst, const Ipv6Address& src, int oif, const CachedRoute6& route);
  // Every entry of `net` becomes a miss. O(1): no entry is touched.
  void invalidate(Net& net);
  // The namespace's generation, bumped by every invalidate: a route a socket
  // remembers (Linux's sk_dst_cache) is good while this has not changed.
  // kNoGeneration where the cache has exited, so nothing is remembered there.
  static constexpr std::uint64_t kNoGeneration = ~std::uint64_t{0};
  std::uint64_t generation(Net& net) const;
  // Zero for a namespace where the cache has exited.
  RouteCacheStats stats(Net& net) const;

  // Entries in the whole table, stale ones not yet reclaimed included.
  std::size_t size() const { return size_; }
  std::size_t max_entries() const { return max_entries_; }

  // ---- for tests and dumps ----
  std::size_t bucket_count() const { return buckets_.size(); }
  std::uint64_t hash(const RouteCacheKey& key) const;
  std::uint64_t hash(const RouteCacheKey6& key) const;
  std::size_t bucket_of(const RouteCacheKey& key) const { return hash(key) & mask_; }
  // The hash lookups and inserts in `net` use (the same value, found faster).
  std::uint64_t hash_in(Net& net, const RouteCacheKey& key);

 private:
  struct NetState;
  // hash(key), from the namespace's precomputed state when the key allows.
  std::uint64_t hash(const NetState& ns, const RouteCacheKey& key) const;
  std::uint64_t hash(const NetState&, const RouteCacheKey6& key) const { return hash(key); }

  // A key and a route of either family; `v6` says which is alive.
  union Key {
    Key() : v4{} {}
    RouteCacheKey v4;
    RouteCacheKey6 v6;
  };
  union Route {
    Route() : v4{} {}
    CachedRoute v4;
    CachedRoute6 v6;
  };

  // 160 bytes; what a lookup reads comes first.
  struct Entry {
    Entry* chain;         // next in the bucket
    std::uint32_t hash;   // low bits of the SipHash; buckets never exceed 2^32
    bool v6;
    Key key;
    std::uint64_t generation;
    Route route;
    NetState* owner;
    Entry* older;         // the owner's FIFO, oldest first
    Entry* newer;
  };
  // The two families' accessors, for the lookup and insert written once.
  static bool matches(const Entry& e, const RouteCacheKey& k) { return !e.v6 && e.key.v4 == k; }
  static bool matches(const Entry& e, const RouteCacheKey6& k) { return e.v6 && e.key.v6 == k; }
  static void store(Entry& e, const RouteCacheKey& k, const CachedRoute& r) {
    e.v6 = false;
    e.key.v4 = k;
    e.route.v4 = r;
  }
  static void store(Entry& e, const RouteCacheKey6& k, const CachedRoute6& r) {
    e.v6 = true;
    e.key.v6 = k;
    e.route.v6 = r;
  }
  static const CachedRoute& route_of(const Entry& e, const RouteCacheKey&) { return e.route.v4; }
  static const CachedRoute6& route_of(const Entry& e, const RouteCacheKey6&) { return e.route.v6; }
  template <class K>
  const auto* find(Net& net, const K& key);
  template <class K>
  const auto* find(NetState* ns, const K& key);
  template <class K, class R>
  void put(Net& net, const K& key, const R& route);

  struct NetState {
    NetState(RouteCache& cache, const SipKey& key, std::uint32_t net_id);
    RouteCache* cache;  // builtin_lookup's way to the table
    // SipHash's state after the first word of a key of this namespace with no
    // source address, which most lookups are (route_output without a bound
    // socket): their hash starts here, a round in.
    detail::SipState unbound;
    std::uint64_t generation = 0;
    std::size_t count = 0;  // entries on the list, stale ones included
    std::size_t live = 0;   // of the current generation
    Entry* oldest = nullptr;
    Entry* newest = nullptr;
    std::uint64_t hits = 0, misses = 0, evictions = 0, refused = 0;
  };

  static bool stale(const Entry& e) { return e.generation != e.owner->generation; }
  void append(NetState& ns, Entry& e);
  void unlink_list(NetState& ns, Entry& e);
  void unlink_chain(Entry& e);
  // Unlinks from the owner's list and frees; the caller unlinked it from its chain.
  void release(Entry& e);
  void remove(Entry& e);           // from both, and frees
  void evict_oldest(NetState& ns);  // precondition: ns.oldest != nullptr
  void sweep(std::size_t buckets);  // drops the stale entries of the next `buckets` buckets
  void grow();

  SipKey key_;
  PernetSlot<NetState> slot_;
  detail::Slab<Entry, 256> entries_;
  std::vector<Entry*> buckets_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
  std::size_t max_entries_;
  std::size_t max_buckets_;
  std::size_t sweep_at_ = 0;
};

}  // namespace netns
