// The shared route cache: keys, namespace isolation, quotas, O(1) invalidation,
// teardown, and a hash keyed by the Host's secret.
#include "core/route_cache.hpp"

#include <chrono>
#include <vector>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_route_cache_test {

using support::HostTest;

class RouteCacheTest : public HostTest {
 protected:
  void SetUp() override {
    cache_ = &host_.builtins().route_cache();
    a_ = host_.create_net("a").value();
    b_ = host_.create_net("b").value();
  }

  // A route whose next hop tells which insert it came from.
  static CachedRoute route(Net& net, std::uint32_t tag) {
    return {&net.loopback(), Ipv4Address(tag), Ipv4Address(10, 0, 0, 1), 1};
  }
  static Ipv4Address dst(std::uint32_t i) { return Ipv4Address(0x0a000000u + i); }

  // The next hop of the cached route, or 0 on a miss.
  std::uint32_t hit(Net& net, Ipv4Address d, Ipv4Address src = {}, std::uint8_t tos = 0,
                    int oif = 0) {
    const CachedRoute* r = cache_->lookup(net, d, src, tos, oif);
    return r == nullptr ? 0 : r->next_hop.value;
  }

  RouteCache* cache_ = nullptr;
  NetRef a_;
  NetRef b_;
};

TEST_F(RouteCacheTest, MissBeforeInsertHitAfterWithTheSameRoute) {
  const Ipv4Address src(10, 0, 0, 1);
  EXPECT_EQ(cache_->lookup(*a_, dst(1), src, 0, 2), nullptr);
  cache_->insert(*a_, dst(1), src, 0, 2, {&a_->loopback(), Ipv4Address(10, 0, 0, 254), src, 3});
  const CachedRoute* r = cache_->lookup(*a_, dst(1), src, 0, 2);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->dev, &a_->loopback());
  EXPECT_EQ(r->next_hop, Ipv4Address(10, 0, 0, 254));
  EXPECT_EQ(r->source, src);
  EXPECT_EQ(r->type, 3);
  RouteCacheStats s = cache_->stats(*a_);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.evictions, 0u);
  EXPECT_EQ(cache_->stats(*b_).misses, 0u);  // counted where they happened only
}

TEST_F(RouteCacheTest, InsertingAnExistingKeyReplacesItsRoute) {
  cache_->insert(*a_, dst(1), {}, 0, 0, route(*a_, 7));
  cache_->insert(*a_, dst(1), {}, 0, 0, route(*a_, 8));
  EXPECT_EQ(hit(*a_, dst(1)), 8u);
  EXPECT_EQ(cache_->stats(*a_).entries, 1u);
  EXPECT_EQ(cache_->size(), 1u);
}

TEST_F(RouteCacheTest, EveryKeyFieldDistinguishesEntries) {
  const Ipv4Address src(192, 168, 0, 1);
  cache_->insert(*a_, dst(1), src, 0x10, 2, route(*a_, 1));
  EXPECT_EQ(hit(*a_, dst(1), src, 0x10, 2), 1u);
  EXPECT_EQ(hit(*b_, dst(1), src, 0x10, 2), 0u);                     // namespace
  EXPECT_EQ(hit(*a_, dst(2), src, 0x10, 2), 0u);                     // destination
  EXPECT_EQ(hit(*a_, dst(1), Ipv4Address(192, 168, 0, 2), 0x10, 2), 0u);  // source
  EXPECT_EQ(hit(*a_, dst(1), src, 0x08, 2), 0u);                     // tos
  EXPECT_EQ(hit(*a_, dst(1), src, 0x10, 3), 0u);                     // output device

  // And each variant is an entry of its own, all present together.
  cache_->insert(*b_, dst(1), src, 0x10, 2, route(*b_, 2));
  cache_->insert(*a_, dst(2), src, 0x10, 2, route(*a_, 3));
  cache_->insert(*a_, dst(1), Ipv4Address(192, 168, 0, 2), 0x10, 2, route(*a_, 4));
  cache_->insert(*a_, dst(1), src, 0x08, 2, route(*a_, 5));
  cache_->insert(*a_, dst(1), src, 0x10, 3, route(*a_, 6));
  EXPECT_EQ(cache_->size(), 6u);
  EXPECT_EQ(hit(*a_, dst(1), src, 0x10, 2), 1u);
  EXPECT_EQ(hit(*b_, dst(1), src, 0x10, 2), 2u);
  EXPECT_EQ(hit(*a_, dst(2), src, 0x10, 2), 3u);
  EXPECT_EQ(hit(*a_, dst(1), Ipv4Address(192, 168, 0, 2), 0x10, 2), 4u);
  EXPECT_EQ(hit(*a_, dst(1), src, 0x08, 2), 5u);
  EXPECT_EQ(hit(*a_, dst(1), src, 0x10, 3), 6u);
}

// builtin_lookup reaches the Host's own cache from the namespace alone:
// the same entries, counts and invalidation as the member one, for keys
// without source, tos or output device.
TEST_F(RouteCacheTest, TheNamespaceAloneLeadsToTheHostsCache) {
  ASSERT_EQ(cache_->slot_id(), RouteCache::kSlotId);
  EXPECT_EQ(RouteCache::builtin_lookup(*a_, dst(1)), nullptr);
  cache_->insert(*a_, dst(1), {}, 0, 0, route(*a_, 7));
  cache_->insert(*a_, dst(2), Ipv4Address(10, 0, 0, 1), 0, 0, route(*a_, 8));  // a bound socket's key
  const CachedRoute* r = RouteCache::builtin_lookup(*a_, dst(1));
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->next_hop, Ipv4Address(7));
  EXPECT_EQ(RouteCache::builtin_lookup(*b_, dst(1)), nullptr) << "another namespace's entry";
  EXPECT_EQ(RouteCache::builtin_lookup(*a_, dst(2)), nullptr) << "a key with a source is another key";
  const RouteCacheStats s = cache_->stats(*a_);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  cache_->invalidate(*a_);
  EXPECT_EQ(RouteCache::builtin_lookup(*a_, dst(1)), nullptr);
}

TEST_F(RouteCacheTest, InvalidateMakesOneNamespaceMissWithoutTouchingAnEntry) {
  for (std::uint32_t i = 1; i <= 20; ++i) {
    cache_->insert(*a_, dst(i), {}, 0, 0, route(*a_, i));
    cache_->insert(*b_, dst(i), {}, 0, 0, route(*b_, 100 + i));
  }
  ASSERT_EQ(cache_->size(), 40u);

  cache_->invalidate(*a_);
  EXPECT_EQ(cache_->size(), 40u);  // O(1): nothing unlinked yet
  EXPECT_EQ(cache_->stats(*a_).entries, 0u);
  EXPECT_EQ(cache_->stats(*b_).entries, 20u);

  for (std::uint32_t i = 1; i <= 20; ++i) {
    EXPECT_EQ(hit(*b_, dst(i)), 100 + i);
    EXPECT_EQ(hit(*a_, dst(i)), 0u);  // a miss, and the stale entry goes
  }
  EXPECT_EQ(cache_->size(), 20u);
  EXPECT_EQ(cache_->stats(*a_).misses, 20u);
  EXPECT_EQ(cache_->stats(*a_).evictions, 0u);  // garbage, not evictions
  EXPECT_EQ(cache_->stats(*b_).hits, 20u);

  // New entries after the invalidation are valid again.
  cache_->insert(*a_, dst(1), {}, 0, 0, route(*a_, 9));
  EXPECT_EQ(hit(*a_, dst(1)), 9u);
  EXPECT_EQ(cache_->stats(*a_).entries, 1u);
}

TEST_F(RouteCacheTest, StaleEntriesGoWithoutLookupsAsInsertsSweep) {
  for (std::uint32_t i = 0; i < 500; ++i) cache_->insert(*a_, dst(i), {}, 0, 0, route(*a_, 1));
  cache_->invalidate(*a_);
  // Only b inserts; a never looks up again. The sweep reclaims a's garbage.
  for (std::uint32_t i = 0; i < 2 * cache_->bucket_count(); ++i) {
    cache_->insert(*b_, dst(i % 10), {}, 0, 0, route(*b_, 1));
  }
  EXPECT_EQ(cache_->size(), 10u);
  EXPECT_EQ(cache_->stats(*a_).entries, 0u);
}

TEST_F(RouteCacheTest, QuotaEvictsOnlyTheFloodingNamespacesOwnOldestEntries) {
  ASSERT_TRUE(a_->sysctl().set("net.ipv4.route.max_size", "100"));
  for (std::uint32_t i = 0; i < 50; ++i) cache_->insert(*b_, dst(i), {}, 0, 0, route(*b_, 1000 + i));

  constexpr std::uint32_t kFlood = 1'000'000;
  std::uint64_t most = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::uint32_t i = 0; i < kFlood; ++i) {
    cache_->insert(*a_, dst(i), {}, 0, 0, route(*a_, i + 1));
    most = std::max(most, cache_->stats(*a_).entries);
  }
  const auto took = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(most, 100u);
  RouteCacheStats s = cache_->stats(*a_);
  EXPECT_EQ(s.entries, 100u);
  EXPECT_EQ(s.evictions, kFlood - 100);
  EXPECT_EQ(cache_->size(), 150u);
  // The oldest went first: the last 100 remain.
  EXPECT_EQ(hit(*a_, dst(kFlood - 1)), kFlood);
  EXPECT_EQ(hit(*a_, dst(kFlood - 100)), kFlood - 99);
  EXPECT_EQ(hit(*a_, dst(kFlood - 101)), 0u);
  for (std::uint32_t i = 0; i < 50; ++i) EXPECT_EQ(hit(*b_, dst(i)), 1000 + i) << i;
  EXPECT_EQ(cache_->stats(*b_).evictions, 0u);
  // About 0.1 s optimised; generous for sanitizer and debug builds.
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST_F(RouteCacheTest, LoweringTheQuotaShrinksTheNamespaceOnItsNextInsert) {
  for (std::uint32_t i = 0; i < 100; ++i) cache_->insert(*a_, dst(i), {}, 0, 0, route(*a_, 1));
  ASSERT_TRUE(a_->sysctl().set("net.ipv4.route.max_size", "10"));
  cache_->insert(*a_, dst(1000), {}, 0, 0, route(*a_, 1));
  EXPECT_EQ(cache_->stats(*a_).entries, 10u);
  EXPECT_EQ(cache_->size(), 10u);
  EXPECT_EQ(cache_->stats(*a_).evictions, 91u);
}

TEST_F(RouteCacheTest, TeardownRemovesTheNamespacesEntriesAndItsCounters) {
  for (std::uint32_t i = 0; i < 30; ++i) {
    cache_->insert(*a_, dst(i), {}, 0, 0, route(*a_, 1));
    cache_->insert(*b_, dst(i), {}, 0, 0, route(*b_, 2));
  }
  EXPECT_EQ(hit(*a_, dst(0)), 1u);
  NetHold memory(*a_);  // to ask about the namespace after its exit
  a_.reset();
  EXPECT_EQ(cache_->size(), 60u);  // dying is queued; the next poll runs the exits
  poll();
  EXPECT_EQ(cache_->size(), 30u);
  RouteCacheStats gone = cache_->stats(*memory.get());
  EXPECT_EQ(gone.entries, 0u);
  EXPECT_EQ(gone.hits, 0u);
  EXPECT_EQ(cache_->lookup(*memory.get(), dst(0), {}, 0, 0), nullptr);
  memory.reset();
  for (std::uint32_t i = 0; i < 30; ++i) EXPECT_EQ(hit(*b_, dst(i)), 2u);

  // A new namespace starts from nothing.
  NetRef c = host_.create_net().value();
  EXPECT_EQ(cache_->stats(*c).hits, 0u);
  EXPECT_EQ(hit(*c, dst(0)), 0u);
}

TEST_F(RouteCacheTest, TheSameDestinationsInAThousandNamespacesNeverCross) {
  std::vector<NetRef> nets;
  for (int n = 0; n < 1000; ++n) nets.push_back(host_.create_net().value());
  for (std::uint32_t n = 0; n < nets.size(); ++n) {
    for (std::uint32_t i = 0; i < 8; ++i) {
      cache_->insert(*nets[n], dst(i), {}, 0, 0, route(*nets[n], n << 8 | i));
    }
  }
  EXPECT_EQ(cache_->size(), 8000u);
  for (std::uint32_t n = 0; n < nets.size(); ++n) {
    for (std::uint32_t i = 0; i < 8; ++i) {
      const CachedRoute* r = cache_->lookup(*nets[n], dst(i), {}, 0, 0);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(r->next_hop.value, n << 8 | i);
      EXPECT_EQ(r->dev, &nets[n]->loopback());
    }
    EXPECT_EQ(cache_->stats(*nets[n]).hits, 8u);
  }
  EXPECT_EQ(hit(*a_, dst(0)), 0u);

  // Invalidating one of them leaves the other 999 whole.
  cache_->invalidate(*nets[500]);
  EXPECT_EQ(hit(*nets[500], dst(3)), 0u);
  EXPECT_EQ(hit(*nets[499], dst(3)), 499u << 8 | 3);
  EXPECT_EQ(hit(*nets[501], dst(3)), 501u << 8 | 3);

  nets.clear();
  poll();
  EXPECT_EQ(cache_->size(), 0u);
}

TEST_F(RouteCacheTest, TheTableBoundNeverTakesAnotherNamespacesEntries) {
  // A second cache with a small bound, beside the built-in one.
  RouteCache small(host_, 64);
  ASSERT_TRUE(host_.register_pernet_subsys(small));
  for (std::uint32_t i = 0; i < 1000; ++i) small.insert(*a_, dst(i), {}, 0, 0, route(*a_, i + 1));
  EXPECT_EQ(small.size(), 64u);
  EXPECT_EQ(small.stats(*a_).evictions, 1000u - 64);
  EXPECT_LE(small.bucket_count(), 64u);

  small.insert(*b_, dst(1), {}, 0, 0, route(*b_, 1));  // b has nothing to give up
  EXPECT_EQ(small.lookup(*b_, dst(1), {}, 0, 0), nullptr);
  EXPECT_EQ(small.stats(*b_).refused, 1u);
  EXPECT_EQ(small.stats(*a_).entries, 64u);

  // Once a's entries are garbage, b's inserts find room.
  small.invalidate(*a_);
  for (std::uint32_t i = 0; i < 32; ++i) small.insert(*b_, dst(i), {}, 0, 0, route(*b_, 7));
  EXPECT_EQ(small.stats(*b_).entries, 32u);
  EXPECT_LE(small.size(), 64u);
  host_.unregister_pernet_subsys(small);
}

TEST_F(RouteCacheTest, TheTableGrowsAndEveryEntryStaysReachable) {
  const std::size_t initial = cache_->bucket_count();
  for (std::uint32_t i = 0; i < 10'000; ++i) cache_->insert(*a_, dst(i), {}, 0, 0, route(*a_, i + 1));
  EXPECT_GE(cache_->bucket_count(), 10'000u);
  EXPECT_GT(cache_->bucket_count(), initial);
  for (std::uint32_t i = 0; i < 10'000; ++i) ASSERT_EQ(hit(*a_, dst(i)), i + 1) << i;
}

// ---- the hash is keyed by the Host's secret ----

RouteCacheKey key_number(std::uint32_t i) {
  return {1, Ipv4Address(0x0a000000u + i), Ipv4Address(10, 0, 0, 1), 0, 2};
}

TEST(RouteCacheHash, SameSecretSamePlacementAcrossHosts) {
  HostConfig config;
  config.secret = 42;
  Host one(config);
  Host two(config);
  RouteCache& x = one.builtins().route_cache();
  RouteCache& y = two.builtins().route_cache();
  for (std::uint32_t i = 0; i < 256; ++i) {
    EXPECT_EQ(x.hash(key_number(i)), y.hash(key_number(i)));
    EXPECT_EQ(x.bucket_of(key_number(i)), y.bucket_of(key_number(i)));
  }
}

TEST(RouteCacheHash, DifferentSecretsPlaceEntriesDifferently) {
  HostConfig config;
  config.secret = 1;
  Host one(config);
  config.secret = 2;
  Host two(config);
  RouteCache& x = one.builtins().route_cache();
  RouteCache& y = two.builtins().route_cache();
  ASSERT_EQ(x.bucket_count(), y.bucket_count());
  int same_hash = 0, same_bucket = 0;
  for (std::uint32_t i = 0; i < 256; ++i) {
    same_hash += x.hash(key_number(i)) == y.hash(key_number(i));
    same_bucket += x.bucket_of(key_number(i)) == y.bucket_of(key_number(i));
  }
  EXPECT_EQ(same_hash, 0);
  // Chance agreement is 1 in bucket_count() (64 at first): about 4 of 256.
  EXPECT_LT(same_bucket, 32);
}

TEST(RouteCacheHash, EveryKeyFieldChangesTheHash) {
  Host host(HostConfig{.secret = 7});
  RouteCache& c = host.builtins().route_cache();
  const RouteCacheKey base{3, Ipv4Address(10, 0, 0, 2), Ipv4Address(10, 0, 0, 1), 0x10, 2};
  RouteCacheKey k = base;
  const std::uint64_t h = c.hash(base);
  k.net_id = 4;
  EXPECT_NE(c.hash(k), h);
  k = base;
  k.dst = Ipv4Address(10, 0, 0, 3);
  EXPECT_NE(c.hash(k), h);
  k = base;
  k.src = Ipv4Address(10, 0, 0, 9);
  EXPECT_NE(c.hash(k), h);
  k = base;
  k.tos = 0x18;
  EXPECT_NE(c.hash(k), h);
  k = base;
  k.oif = 5;
  EXPECT_NE(c.hash(k), h);
  EXPECT_EQ(c.hash(base), h);
}

}  // namespace core_route_cache_test
}  // namespace
}  // namespace netns

namespace netns {
namespace {
namespace core_route_cache_test {

// Lookups without a source start from the namespace's precomputed state; the
// value must be the hash of the key's bytes all the same.
TEST(RouteCacheHash, ANamespacesShortcutGivesTheSameHash) {
  Host host(HostConfig{.secret = 11});
  RouteCache& c = host.builtins().route_cache();
  NetRef ref = host.create_net().value();
  Net& net = *ref;
  for (std::uint32_t i = 0; i < 64; ++i) {
    RouteCacheKey k{net.id(), Ipv4Address(0xc6336400u + i), Ipv4Address{}, static_cast<std::uint8_t>(i % 4), static_cast<int>(i % 3)};
    EXPECT_EQ(c.hash_in(net, k), c.hash(k)) << i;
    k.src = Ipv4Address(198, 51, 100, 1);
    EXPECT_EQ(c.hash_in(net, k), c.hash(k)) << i;
  }
}

}  // namespace core_route_cache_test
}  // namespace
}  // namespace netns
