#include "ipv6/fib6.hpp"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/host.hpp"

namespace netns::ipv6 {
namespace {
namespace ipv6_fib6_test {

Ipv6Prefix prefix(const char* text) { return Ipv6Prefix::parse(text).value(); }
Ipv6Address addr(const char* text) { return Ipv6Address::parse(text).value(); }

class Fib6Test : public ::testing::Test {
 protected:
  Fib6Test()
      : eth0_(make_channel(host_.init_net(), "eth0").value()),
        eth1_(make_channel(host_.init_net(), "eth1").value()),
        eth2_(make_channel(host_.init_net(), "eth2").value()) {}

  Fib6Entry route(const char* p, Device* dev, std::uint32_t metric = 1024) {
    return Fib6Entry{.prefix = prefix(p), .dev = dev, .metric = metric};
  }
  std::string describe(const Fib6Entry* e) {
    if (e == nullptr) return "none";
    std::string out = e->prefix.to_string() + " m" + std::to_string(e->metric);
    if (e->dev != nullptr) (out += " ") += e->dev->name();
    if (e->via) out += " via " + e->via->to_string();
    return out;
  }
  std::string pick(const Fib6& fib, const char* dst) { return describe(fib.lookup(addr(dst))); }
  std::string pick(const Fib6& fib, const char* dst, const Device* oif) {
    return describe(fib.lookup(addr(dst), oif));
  }
  std::vector<std::string> dump(const Fib6& fib) {
    std::vector<std::string> out;
    fib.for_each([&](const Fib6Entry& e) { out.push_back(describe(&e)); });
    return out;
  }

  Host host_;
  Device* eth0_;
  Device* eth1_;
  Device* eth2_;
};

TEST_F(Fib6Test, EmptyFibHoldsNothing) {
  Fib6 fib;
  EXPECT_EQ(fib.size(), 0u);
  EXPECT_EQ(fib.lookup(addr("2001:db8::1")), nullptr);
  EXPECT_EQ(fib.lookup(addr("2001:db8::1"), eth0_), nullptr);
  EXPECT_EQ(sizeof(Fib6), 2 * sizeof(void*));
  EXPECT_EQ(fib.memory_bytes(), sizeof(Fib6));

  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth0_)));
  EXPECT_GT(fib.memory_bytes(), sizeof(Fib6));
  EXPECT_LT(fib.memory_bytes(), 2048u);
  ASSERT_TRUE(fib.erase(route("2001:db8::/32", nullptr, 0)));
  EXPECT_EQ(fib.memory_bytes(), sizeof(Fib6));  // the last route frees everything
}

TEST_F(Fib6Test, StoresThePrefixMaskedAndWithoutScopes) {
  Fib6 fib;
  Fib6Entry e = route("2001:db8:1:2:3:4:5:6/48", eth0_);
  e.prefix = Ipv6Prefix(e.prefix.address().with_scope(3), 48);
  e.via = addr("fe80::1%3");
  e.protocol = 9;
  e.expires = Clock::time_point{} + std::chrono::seconds(1800);
  e.prefsrc = addr("2001:db8:1::10");
  ASSERT_TRUE(fib.insert(e));
  const Fib6Entry* got = fib.lookup(addr("2001:db8:1:ffff::1"));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->prefix, prefix("2001:db8:1::/48"));
  EXPECT_EQ(got->prefix.address().scope_id(), 0u);
  EXPECT_EQ(got->via, addr("fe80::1"));
  EXPECT_EQ(got->protocol, 9);
  EXPECT_EQ(got->expires, e.expires);
  EXPECT_EQ(got->prefsrc, e.prefsrc);
  // The destination's scope does not take part in the match.
  EXPECT_EQ(fib.lookup(addr("2001:db8:1::1%7")), got);
  EXPECT_EQ(pick(fib, "2001:db8:2::1"), "none");
}

TEST_F(Fib6Test, LongestPrefixThenLowestMetric) {
  Fib6 fib;
  ASSERT_TRUE(fib.insert(route("::/0", eth0_)));
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth1_, 100)));
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth2_, 50)));
  ASSERT_TRUE(fib.insert(route("2001:db8:0:1::/64", eth0_, 256)));
  ASSERT_TRUE(fib.insert(route("2001:db8:0:1::5/128", eth1_)));

  EXPECT_EQ(pick(fib, "2001:db8:0:1::5"), "2001:db8:0:1::5/128 m1024 eth1");
  EXPECT_EQ(pick(fib, "2001:db8:0:1::6"), "2001:db8:0:1::/64 m256 eth0");
  EXPECT_EQ(pick(fib, "2001:db8:ffff::1"), "2001:db8::/32 m50 eth2");
  EXPECT_EQ(pick(fib, "2001:db9::1"), "::/0 m1024 eth0");

  // Deleting the best route of a prefix exposes the next metric; deleting
  // the prefix re-exposes the shorter one beneath.
  ASSERT_TRUE(fib.erase(route("2001:db8::/32", nullptr, 50)));
  EXPECT_EQ(pick(fib, "2001:db8:ffff::1"), "2001:db8::/32 m100 eth1");
  ASSERT_TRUE(fib.erase(route("2001:db8::/32", nullptr, 0)));
  EXPECT_EQ(pick(fib, "2001:db8:ffff::1"), "::/0 m1024 eth0");
  ASSERT_TRUE(fib.erase(route("2001:db8:0:1::/64", nullptr, 0)));
  EXPECT_EQ(pick(fib, "2001:db8:0:1::6"), "::/0 m1024 eth0");
  EXPECT_EQ(pick(fib, "2001:db8:0:1::5"), "2001:db8:0:1::5/128 m1024 eth1");
}

TEST_F(Fib6Test, EqualMetricsWithOtherNextHopsCoexistFirstAddedWins) {
  Fib6 fib;
  ASSERT_TRUE(fib.insert(route("fe80::/64", eth0_, 256)));
  ASSERT_TRUE(fib.insert(route("fe80::/64", eth1_, 256)));
  Fib6Entry via = route("fe80::/64", eth1_, 256);
  via.via = addr("fe80::1");
  ASSERT_TRUE(fib.insert(via));
  EXPECT_EQ(fib.size(), 3u);
  EXPECT_EQ(pick(fib, "fe80::9"), "fe80::/64 m256 eth0");
  EXPECT_EQ(fib.insert(route("fe80::/64", eth1_, 256)).error(), error(Errc::file_exists));
  via.via = addr("fe80::1%2");  // the scope is not part of the identity
  EXPECT_EQ(fib.insert(via).error(), error(Errc::file_exists));
  EXPECT_EQ(fib.size(), 3u);
  // find() is what `ip -6 route add`'s stricter check uses.
  EXPECT_NE(fib.find(route("fe80::/64", nullptr, 256)), nullptr);
  EXPECT_EQ(fib.find(route("fe80::/64", nullptr, 255)), nullptr);
}

TEST_F(Fib6Test, DeviceRestrictedLookupBacktracksToShorterPrefixes) {
  Fib6 fib;
  ASSERT_TRUE(fib.insert(route("fe80::/64", eth0_, 256)));
  ASSERT_TRUE(fib.insert(route("fe80::/64", eth1_, 256)));
  ASSERT_TRUE(fib.insert(route("::/0", eth0_)));
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth1_)));
  Fib6Entry unreachable{.prefix = prefix("2001:db8:5::/48"), .dev = nullptr,
                        .type = RouteType::unreachable};
  ASSERT_TRUE(fib.insert(unreachable));

  EXPECT_EQ(pick(fib, "fe80::1", eth1_), "fe80::/64 m256 eth1");
  EXPECT_EQ(pick(fib, "fe80::1", eth0_), "fe80::/64 m256 eth0");
  EXPECT_EQ(pick(fib, "fe80::1", eth2_), "none");
  EXPECT_EQ(pick(fib, "2001:db8::1", eth0_), "::/0 m1024 eth0");
  EXPECT_EQ(pick(fib, "2001:db8::1", eth1_), "2001:db8::/32 m1024 eth1");
  EXPECT_EQ(pick(fib, "2001:db8:5::1"), "2001:db8:5::/48 m1024");
  EXPECT_EQ(fib.lookup(addr("2001:db8:5::1"))->type, RouteType::unreachable);
  EXPECT_EQ(pick(fib, "2001:db8:5::1", eth1_), "2001:db8::/32 m1024 eth1");
  EXPECT_EQ(fib.lookup(addr("2001:db8:5::1"), nullptr), fib.lookup(addr("2001:db8:5::1")));
}

TEST_F(Fib6Test, RouteTypesAndBadRoutesChangeNothing) {
  Fib6 fib(4);
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth0_)));
  ASSERT_TRUE(fib.insert(Fib6Entry{.prefix = prefix("2001:db8:1::/48"), .type = RouteType::blackhole}));
  ASSERT_TRUE(fib.insert(Fib6Entry{.prefix = prefix("2001:db8::1/128"), .dev = eth0_, .metric = 0,
                                   .type = RouteType::local}));
  EXPECT_EQ(fib.lookup(addr("2001:db8:1::1"))->type, RouteType::blackhole);
  EXPECT_EQ(fib.lookup(addr("2001:db8::1"))->type, RouteType::local);
  const auto before = dump(fib);
  const auto invalid = error(Errc::invalid_argument);

  EXPECT_EQ(fib.insert(route("2001:db8:2::/48", nullptr)).error(), invalid);  // unicast without dev
  EXPECT_EQ(fib.insert(Fib6Entry{.prefix = prefix("2001:db8:2::/48"), .type = RouteType::local}).error(),
            invalid);
  EXPECT_EQ(fib.insert(Fib6Entry{.prefix = prefix("2001:db8:2::/48"), .dev = eth0_,
                                 .type = RouteType::broadcast}).error(), invalid);
  EXPECT_EQ(fib.insert(Fib6Entry{.prefix = prefix("2001:db8:2::/48"), .dev = eth0_,
                                 .type = RouteType::prohibit}).error(), invalid);
  EXPECT_EQ(fib.insert(Fib6Entry{.prefix = prefix("2001:db8:2::/48"), .via = addr("fe80::1"),
                                 .type = RouteType::unreachable}).error(), invalid);
  Fib6Entry bad_via = route("2001:db8:2::/48", eth0_);
  bad_via.via = addr("ff02::1");
  EXPECT_EQ(fib.insert(bad_via).error(), invalid);
  bad_via.via = addr("::");
  EXPECT_EQ(fib.insert(bad_via).error(), invalid);
  EXPECT_EQ(fib.insert(Fib6Entry{.prefix = Ipv6Prefix(addr("2001:db8::"), 129), .dev = eth0_}).error(),
            invalid);
  EXPECT_EQ(fib.erase(Fib6Entry{.prefix = Ipv6Prefix(addr("2001:db8::"), 129)}).error(), invalid);
  EXPECT_EQ(fib.insert(route("2001:db8::/32", eth0_)).error(), error(Errc::file_exists));

  ASSERT_TRUE(fib.insert(route("2001:db8:3::/48", eth0_)));
  EXPECT_EQ(fib.insert(route("2001:db8:4::/48", eth0_)).error(), error(Errc::no_buffer_space));
  ASSERT_TRUE(fib.erase(route("2001:db8:3::/48", nullptr, 0)));
  EXPECT_EQ(dump(fib), before);
  EXPECT_EQ(fib.size(), 3u);
}

TEST_F(Fib6Test, EraseMatchesTheFieldsGivenAsIpRouteDel) {
  Fib6 fib;
  Fib6Entry a = route("2001:db8::/64", eth0_, 100);
  a.via = addr("fe80::1");
  a.protocol = 9;
  Fib6Entry b = route("2001:db8::/64", eth1_, 200);
  b.protocol = 4;
  Fib6Entry c{.prefix = prefix("2001:db8::/64"), .metric = 300, .type = RouteType::prohibit};
  ASSERT_TRUE(fib.insert(a));
  ASSERT_TRUE(fib.insert(b));
  ASSERT_TRUE(fib.insert(c));
  const auto before = dump(fib);
  const auto esrch = error(Errc::no_such_process);

  EXPECT_EQ(fib.erase(route("2001:db8::/64", nullptr)).error(), esrch);  // metric 1024 given
  EXPECT_EQ(fib.erase(route("2001:db8:1::/64", nullptr, 0)).error(), esrch);
  EXPECT_EQ(fib.erase(route("2001:db8::/64", eth2_, 0)).error(), esrch);
  Fib6Entry wrong_via = route("2001:db8::/64", nullptr, 0);
  wrong_via.via = addr("fe80::2");
  EXPECT_EQ(fib.erase(wrong_via).error(), esrch);
  Fib6Entry wrong_protocol = route("2001:db8::/64", eth1_, 0);
  wrong_protocol.protocol = 9;
  EXPECT_EQ(fib.erase(wrong_protocol).error(), esrch);
  EXPECT_EQ(fib.erase(Fib6Entry{.prefix = prefix("2001:db8::/64"), .metric = 0,
                                .type = RouteType::blackhole}).error(), esrch);
  EXPECT_EQ(dump(fib), before);

  // With the type given, the prohibit route goes although it is last.
  ASSERT_TRUE(fib.erase(Fib6Entry{.prefix = prefix("2001:db8::/64"), .metric = 0,
                                  .type = RouteType::prohibit}));
  Fib6Entry by_via = route("2001:db8::1/64", nullptr, 0);  // host bits are masked here too
  by_via.via = addr("fe80::1%5");
  ASSERT_TRUE(fib.erase(by_via));
  EXPECT_EQ(pick(fib, "2001:db8::1"), "2001:db8::/64 m200 eth1");
  ASSERT_TRUE(fib.erase(route("2001:db8::/64", nullptr, 0)));  // first in metric order
  EXPECT_EQ(fib.size(), 0u);
}

TEST_F(Fib6Test, DumpsInIpRouteOrder) {
  Fib6 fib;
  for (const char* p : {"::/0", "fe80::/64", "2001:db8::/32", "2001:db8::/64", "2001:db8:ffff::/48",
                        "::1/128", "2001:db8:ffff:ffff::/64"}) {
    ASSERT_TRUE(fib.insert(route(p, eth0_, 256)));
  }
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth1_, 100)));
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth2_, 100)));
  EXPECT_EQ(dump(fib), (std::vector<std::string>{
                           "::1/128 m256 eth0",
                           "2001:db8::/64 m256 eth0",
                           "2001:db8:ffff:ffff::/64 m256 eth0",
                           "2001:db8:ffff::/48 m256 eth0",
                           "2001:db8::/32 m100 eth1",
                           "2001:db8::/32 m100 eth2",
                           "2001:db8::/32 m256 eth0",
                           "fe80::/64 m256 eth0",
                           "::/0 m256 eth0",
                       }));
}

TEST_F(Fib6Test, RemoveIfDropsARoutesDevice) {
  Fib6 fib;
  ASSERT_TRUE(fib.insert(route("::/0", eth0_)));
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth1_, 10)));
  ASSERT_TRUE(fib.insert(route("2001:db8::/32", eth0_, 20)));
  ASSERT_TRUE(fib.insert(route("fe80::/64", eth1_, 256)));
  EXPECT_EQ(fib.remove_if([&](const Fib6Entry& e) { return e.dev == eth1_; }), 2u);
  EXPECT_EQ(fib.size(), 2u);
  EXPECT_EQ(pick(fib, "2001:db8::1"), "2001:db8::/32 m20 eth0");
  EXPECT_EQ(pick(fib, "fe80::1"), "::/0 m1024 eth0");
  EXPECT_EQ(fib.remove_if([&](const Fib6Entry& e) { return e.dev == eth2_; }), 0u);
  EXPECT_EQ(fib.remove_if([](const Fib6Entry&) { return true; }), 2u);
  EXPECT_EQ(fib.memory_bytes(), sizeof(Fib6));
}

TEST_F(Fib6Test, TrieGroupsFollowTheRoutes) {
  Fib6 fib;
  for (unsigned i = 0; i <= Fib6::kSmallMax; ++i) {
    Ipv6Address::Bytes b = addr("2001:db8::").bytes();
    b[4] = static_cast<std::uint8_t>(i);
    ASSERT_TRUE(fib.insert(Fib6Entry{.prefix = Ipv6Prefix(Ipv6Address(b), 40), .dev = eth0_}));
  }
  ASSERT_TRUE(fib.uses_trie());
  const std::size_t groups = fib.trie_groups();
  const std::size_t bytes = fib.memory_bytes();
  // A lone /128 in an empty region needs a group per byte past the first two.
  ASSERT_TRUE(fib.insert(route("3fff:1234:5678:9abc:def0:1234:5678:9abc/128", eth1_)));
  EXPECT_EQ(fib.trie_groups(), groups + 14);
  EXPECT_EQ(pick(fib, "3fff:1234:5678:9abc:def0:1234:5678:9abc"),
            "3fff:1234:5678:9abc:def0:1234:5678:9abc/128 m1024 eth1");
  EXPECT_EQ(pick(fib, "3fff:1234:5678:9abc:def0:1234:5678:9abd"), "none");
  ASSERT_TRUE(fib.erase(route("3fff:1234:5678:9abc:def0:1234:5678:9abc/128", nullptr, 0)));
  EXPECT_EQ(fib.trie_groups(), groups);
  // Freed groups are kept for reuse: the same route again costs no new memory.
  const std::size_t kept = fib.memory_bytes();
  EXPECT_GE(kept, bytes);
  ASSERT_TRUE(fib.insert(route("3fff:1234:5678:9abc:def0:1234:5678:9abc/128", eth1_)));
  EXPECT_EQ(fib.trie_groups(), groups + 14);
  EXPECT_EQ(fib.memory_bytes(), kept);
}

// ---- against a brute-force reference ----

struct Reference {
  std::vector<Fib6Entry> routes;  // in the order added

  static bool same(const Fib6Entry& a, const Fib6Entry& b) {
    return a.prefix == b.prefix && a.metric == b.metric && a.dev == b.dev && a.via == b.via;
  }
  const Fib6Entry* best(const Ipv6Address& dst, const Device* oif) const {
    const Fib6Entry* out = nullptr;
    for (const Fib6Entry& r : routes) {
      if (!r.prefix.contains(dst) || (oif != nullptr && r.dev != oif)) continue;
      if (out == nullptr || r.prefix.length() > out->prefix.length() ||
          (r.prefix.length() == out->prefix.length() && r.metric < out->metric)) {
        out = &r;
      }
    }
    return out;
  }
};

Ipv6Address random_address(std::mt19937_64& rng) {
  // A few /16s, so that prefixes overlap and nest.
  static constexpr std::uint16_t kTops[] = {0x2001, 0x2a00, 0xfe80, 0x0000};
  Ipv6Address::Bytes b{};
  const std::uint16_t top = kTops[rng() % 4];
  b[0] = static_cast<std::uint8_t>(top >> 8);
  b[1] = static_cast<std::uint8_t>(top);
  const unsigned random_bytes = 2 + static_cast<unsigned>(rng() % 15);  // the rest mostly zero
  for (unsigned i = 2; i < std::min(16u, random_bytes); ++i) b[i] = static_cast<std::uint8_t>(rng() % 4);
  b[15] = static_cast<std::uint8_t>(rng());
  return Ipv6Address(b);
}

unsigned random_length(std::mt19937_64& rng) {
  static constexpr unsigned kLengths[] = {0, 3, 8, 16, 17, 23, 24, 32, 33, 40, 47, 48, 56, 63,
                                          64, 65, 72, 96, 120, 127, 128};
  return kLengths[rng() % std::size(kLengths)];
}

class Fib6ReferenceTest : public Fib6Test {
 protected:
  Fib6Entry random_route(std::mt19937_64& rng) {
    Device* devs[] = {eth0_, eth1_, eth2_};
    const unsigned length = random_length(rng);
    Fib6Entry e{.prefix = Ipv6Prefix(random_address(rng), static_cast<std::uint8_t>(length)),
                .dev = devs[rng() % 3],
                .metric = static_cast<std::uint32_t>(1 + rng() % 4)};
    e.prefix = Ipv6Prefix(e.prefix.network(), e.prefix.length());
    if (rng() % 4 == 0) e.via = Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, static_cast<std::uint16_t>(1 + rng() % 2));
    if (rng() % 16 == 0) e = Fib6Entry{.prefix = e.prefix, .metric = e.metric, .type = RouteType::unreachable};
    return e;
  }

  void insert_both(Fib6& fib, Reference& ref, const Fib6Entry& e) {
    const bool duplicate = std::any_of(ref.routes.begin(), ref.routes.end(),
                                       [&](const Fib6Entry& r) { return Reference::same(r, e); });
    const auto r = fib.insert(e);
    ASSERT_EQ(r.has_value(), !duplicate) << e.prefix.to_string();
    if (!duplicate) ref.routes.push_back(e);
  }

  // `ip -6 route del` with the victim's metric, dev and via (a reject route:
  // its type): a route without via given matches one with a via too, so the
  // reference picks as the Fib6 must — the first match in metric order.
  void erase_both(Fib6& fib, Reference& ref, std::size_t which) {
    const Fib6Entry victim = ref.routes[which];
    const Fib6Entry match{.prefix = victim.prefix, .via = victim.via, .dev = victim.dev,
                          .metric = victim.metric, .type = victim.type};
    std::size_t chosen = ref.routes.size();
    for (std::size_t i = 0; i < ref.routes.size(); ++i) {
      const Fib6Entry& r = ref.routes[i];
      const bool match_it = r.prefix == match.prefix && r.metric == match.metric &&
                            (match.dev == nullptr || r.dev == match.dev) &&
                            (!match.via || r.via == match.via) &&
                            (match.type == RouteType::unicast || r.type == match.type);
      if (match_it && (chosen == ref.routes.size() || r.metric < ref.routes[chosen].metric)) chosen = i;
    }
    ASSERT_LT(chosen, ref.routes.size());
    ASSERT_TRUE(fib.erase(match)) << victim.prefix.to_string();
    ref.routes.erase(ref.routes.begin() + static_cast<std::ptrdiff_t>(chosen));
  }

  void check(const Fib6& fib, const Reference& ref, std::mt19937_64& rng, int probes) {
    ASSERT_EQ(fib.size(), ref.routes.size());
    for (int i = 0; i < probes; ++i) {
      Ipv6Address dst = random_address(rng);
      if (!ref.routes.empty() && i % 2 == 0) {
        // Inside a route: its first, its last, or a random address of it.
        const Ipv6Prefix& p = ref.routes[rng() % ref.routes.size()].prefix;
        Ipv6Address::Bytes b = p.network().bytes();
        const int how = static_cast<int>(rng() % 3);
        for (unsigned bit = p.length(); bit < 128; ++bit) {
          const bool one = how == 1 || (how == 2 && rng() % 2 == 0);
          if (one) b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] | (0x80 >> (bit % 8)));
        }
        dst = Ipv6Address(b);
      }
      const Fib6Entry* want = ref.best(dst, nullptr);
      const Fib6Entry* got = fib.lookup(dst);
      ASSERT_EQ(describe(got), describe(want)) << dst.to_string();
      const Device* oif = i % 3 == 0 ? eth1_ : eth2_;
      ASSERT_EQ(describe(fib.lookup(dst, oif)), describe(ref.best(dst, oif))) << dst.to_string();
    }
  }
};

TEST_F(Fib6ReferenceTest, RandomTablesCrossBetweenSmallAndTrieBothWays) {
  std::mt19937_64 rng(13);
  for (int round = 0; round < 3; ++round) {
    Fib6 fib;
    Reference ref;
    bool saw_trie = false;
    // Grow well past kSmallMax, checking on the way.
    for (int i = 0; i < 600; ++i) {
      ASSERT_NO_FATAL_FAILURE(insert_both(fib, ref, random_route(rng)));
      if (i % 15 == 0) {
        ASSERT_NO_FATAL_FAILURE(check(fib, ref, rng, 40));
      }
      saw_trie |= fib.uses_trie();
    }
    ASSERT_TRUE(saw_trie);
    ASSERT_NO_FATAL_FAILURE(check(fib, ref, rng, 2000));
    // Churn at the top, then shrink to nothing: deletes re-expose shorter prefixes.
    for (int i = 0; i < 300; ++i) {
      if (rng() % 2 == 0) {
        ASSERT_NO_FATAL_FAILURE(insert_both(fib, ref, random_route(rng)));
      } else {
        ASSERT_NO_FATAL_FAILURE(erase_both(fib, ref, rng() % ref.routes.size()));
      }
    }
    check(fib, ref, rng, 1000);
    while (!ref.routes.empty()) {
      ASSERT_NO_FATAL_FAILURE(erase_both(fib, ref, rng() % ref.routes.size()));
      if (ref.routes.size() % 7 == 0) {
        ASSERT_NO_FATAL_FAILURE(check(fib, ref, rng, 30));
      }
    }
    EXPECT_FALSE(fib.uses_trie());
    EXPECT_EQ(fib.memory_bytes(), sizeof(Fib6));
  }
}

TEST_F(Fib6ReferenceTest, RemoveIfInBulkAndFewAtATime) {
  std::mt19937_64 rng(99);
  Fib6 fib;
  Reference ref;
  for (int i = 0; i < 400; ++i) ASSERT_NO_FATAL_FAILURE(insert_both(fib, ref, random_route(rng)));
  check(fib, ref, rng, 500);
  auto doomed_by = [](std::uint32_t metric, const Device* dev) {
    return [=](const Fib6Entry& e) { return e.metric == metric && e.dev == dev; };
  };
  // Few victims: repainted one by one; many: one rebuild.
  for (auto doomed : {doomed_by(4, eth2_), doomed_by(1, eth0_)}) {
    const auto expected = std::count_if(ref.routes.begin(), ref.routes.end(), doomed);
    EXPECT_EQ(fib.remove_if(doomed), static_cast<std::size_t>(expected));
    std::erase_if(ref.routes, doomed);
    check(fib, ref, rng, 500);
  }
  auto most = [](const Fib6Entry& e) { return e.metric != 3; };
  const auto expected = std::count_if(ref.routes.begin(), ref.routes.end(), most);
  EXPECT_EQ(fib.remove_if(most), static_cast<std::size_t>(expected));
  std::erase_if(ref.routes, most);
  check(fib, ref, rng, 500);
  for (int i = 0; i < 100; ++i) ASSERT_NO_FATAL_FAILURE(insert_both(fib, ref, random_route(rng)));
  check(fib, ref, rng, 500);
}

}  // namespace ipv6_fib6_test
}  // namespace
}  // namespace netns::ipv6
