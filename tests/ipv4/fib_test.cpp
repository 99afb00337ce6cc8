#include "ipv4/fib.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/host.hpp"

namespace netns::ipv4 {
namespace {
namespace ipv4_fib_test {

Ipv4Prefix prefix(const char* text) { return Ipv4Prefix::parse(text).value(); }
Ipv4Address addr(const char* text) { return Ipv4Address::parse(text).value(); }

class FibTest : public ::testing::Test {
 protected:
  FibTest()
      : eth0_(make_channel(host_.init_net(), "eth0").value()),
        eth1_(make_channel(host_.init_net(), "eth1").value()) {}

  FibEntry route(const char* p, Device* dev, std::uint32_t metric = 0) {
    return FibEntry{.prefix = prefix(p), .dev = dev, .metric = metric};
  }
  // The prefix and metric of the route lookup() picks, as "10.0.0.0/8 m0", or "none".
  std::string pick(Fib& fib, const char* dst) {
    const FibEntry* e = fib.lookup(addr(dst));
    if (e == nullptr) return "none";
    return e->prefix.to_string() + " m" + std::to_string(e->metric);
  }
  std::vector<std::string> dump(const Fib& fib) {
    std::vector<std::string> out;
    fib.for_each([&](const FibEntry& e) {
      out.push_back(e.prefix.to_string() + " m" + std::to_string(e.metric));
    });
    return out;
  }

  Host host_;
  Device* eth0_;
  Device* eth1_;
};

TEST_F(FibTest, EmptyFibHoldsNothing) {
  Fib fib;
  EXPECT_EQ(fib.size(), 0u);
  EXPECT_EQ(fib.lookup(addr("10.0.0.1")), nullptr);
  EXPECT_LE(sizeof(Fib), 7 * sizeof(void*));
  EXPECT_EQ(fib.memory_bytes(), sizeof(Fib));

  ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth0_)));
  EXPECT_GT(fib.memory_bytes(), sizeof(Fib));
  EXPECT_LT(fib.memory_bytes(), 2048u);
  ASSERT_TRUE(fib.remove(route("10.0.0.0/8", nullptr)));
  EXPECT_EQ(fib.memory_bytes(), sizeof(Fib));  // back to nothing
}

TEST_F(FibTest, DefaultRoute) {
  Fib fib;
  FibEntry def = route("0.0.0.0/0", eth0_);
  def.gateway = addr("192.168.1.1");
  ASSERT_TRUE(fib.insert(def));
  for (const char* dst : {"0.0.0.0", "1.2.3.4", "192.168.1.1", "255.255.255.255"}) {
    const FibEntry* e = fib.lookup(addr(dst));
    ASSERT_NE(e, nullptr) << dst;
    EXPECT_EQ(e->dev, eth0_);
    EXPECT_EQ(e->gateway, addr("192.168.1.1"));
  }
}

TEST_F(FibTest, HostRoutes) {
  Fib fib;
  ASSERT_TRUE(fib.insert(route("10.0.0.1/32", eth0_)));
  ASSERT_TRUE(fib.insert(route("10.0.0.2/32", eth1_)));
  EXPECT_EQ(fib.lookup(addr("10.0.0.1"))->dev, eth0_);
  EXPECT_EQ(fib.lookup(addr("10.0.0.2"))->dev, eth1_);
  EXPECT_EQ(fib.lookup(addr("10.0.0.0")), nullptr);
  EXPECT_EQ(fib.lookup(addr("10.0.0.3")), nullptr);
}

// The same scenarios with the small table and with the trie: padding with
// unrelated prefixes pushes the Fib past kSmallMax.
class FibModeTest : public FibTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    if (!GetParam()) return;
    for (unsigned i = 0; i < Fib::kSmallMax * 2; ++i) {
      const Ipv4Prefix p(Ipv4Address(172, 16, static_cast<std::uint8_t>(i), 0), 24);
      ASSERT_TRUE(fib_.insert({.prefix = p, .dev = eth1_}));
    }
  }
  void TearDown() override { EXPECT_EQ(fib_.uses_trie(), GetParam()); }

  Fib fib_;
};

TEST_P(FibModeTest, OverlappingPrefixesAndDeletionReexposesShorter) {
  const char* const prefixes[] = {"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24",
                                  "10.1.2.3/32"};
  for (const char* p : prefixes) ASSERT_TRUE(fib_.insert(route(p, eth0_)));
  EXPECT_EQ(pick(fib_, "10.1.2.3"), "10.1.2.3/32 m0");
  EXPECT_EQ(pick(fib_, "10.1.2.4"), "10.1.2.0/24 m0");
  EXPECT_EQ(pick(fib_, "10.1.3.4"), "10.1.0.0/16 m0");
  EXPECT_EQ(pick(fib_, "10.2.3.4"), "10.0.0.0/8 m0");
  EXPECT_EQ(pick(fib_, "11.2.3.4"), "0.0.0.0/0 m0");

  // Delete from the longest: each deletion re-exposes the next shorter one.
  ASSERT_TRUE(fib_.remove(route("10.1.2.3/32", nullptr)));
  EXPECT_EQ(pick(fib_, "10.1.2.3"), "10.1.2.0/24 m0");
  ASSERT_TRUE(fib_.remove(route("10.1.2.0/24", nullptr)));
  EXPECT_EQ(pick(fib_, "10.1.2.3"), "10.1.0.0/16 m0");
  ASSERT_TRUE(fib_.remove(route("10.1.0.0/16", nullptr)));
  EXPECT_EQ(pick(fib_, "10.1.2.3"), "10.0.0.0/8 m0");
  ASSERT_TRUE(fib_.remove(route("10.0.0.0/8", nullptr)));
  EXPECT_EQ(pick(fib_, "10.1.2.3"), "0.0.0.0/0 m0");
  ASSERT_TRUE(fib_.remove(route("0.0.0.0/0", nullptr)));
  EXPECT_EQ(pick(fib_, "10.1.2.3"), "none");
}

TEST_P(FibModeTest, DeletingAShorterPrefixKeepsTheLongerOnes) {
  const char* const prefixes[] = {"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24",
                                  "10.1.2.3/32"};
  for (const char* p : prefixes) ASSERT_TRUE(fib_.insert(route(p, eth0_)));
  // Delete each one in the middle in turn (then put it back).
  for (const char* gone : prefixes) {
    ASSERT_TRUE(fib_.remove(route(gone, nullptr))) << gone;
    std::string expect_32 = std::string(gone) == "10.1.2.3/32" ? "10.1.2.0/24 m0" : "10.1.2.3/32 m0";
    EXPECT_EQ(pick(fib_, "10.1.2.3"), expect_32) << gone;
    EXPECT_EQ(pick(fib_, "10.1.2.4"),
              std::string(gone) == "10.1.2.0/24" ? "10.1.0.0/16 m0" : "10.1.2.0/24 m0")
        << gone;
    EXPECT_EQ(pick(fib_, "10.2.0.1"),
              std::string(gone) == "10.0.0.0/8" ? "0.0.0.0/0 m0" : "10.0.0.0/8 m0")
        << gone;
    EXPECT_EQ(pick(fib_, "11.0.0.1"), std::string(gone) == "0.0.0.0/0" ? "none" : "0.0.0.0/0 m0")
        << gone;
    ASSERT_TRUE(fib_.insert(route(gone, eth0_)));
  }
}

TEST_P(FibModeTest, MetricTieBreakAndDeletionOfTheBest) {
  ASSERT_TRUE(fib_.insert(route("10.0.0.0/8", eth0_, 100)));
  ASSERT_TRUE(fib_.insert(route("10.0.0.0/8", eth1_, 50)));
  ASSERT_TRUE(fib_.insert(route("10.0.0.0/8", eth0_, 200)));
  EXPECT_EQ(pick(fib_, "10.9.9.9"), "10.0.0.0/8 m50");
  EXPECT_EQ(fib_.lookup(addr("10.9.9.9"))->dev, eth1_);

  // metric 0 in the match means any: the lowest-metric route goes first, like `ip route del`.
  ASSERT_TRUE(fib_.remove(route("10.0.0.0/8", nullptr)));
  EXPECT_EQ(pick(fib_, "10.9.9.9"), "10.0.0.0/8 m100");
  // A worse metric goes without changing the answer.
  ASSERT_TRUE(fib_.remove(route("10.0.0.0/8", nullptr, 200)));
  EXPECT_EQ(pick(fib_, "10.9.9.9"), "10.0.0.0/8 m100");
  // A better one arriving takes over.
  ASSERT_TRUE(fib_.insert(route("10.0.0.0/8", eth1_, 7)));
  EXPECT_EQ(pick(fib_, "10.9.9.9"), "10.0.0.0/8 m7");
  // A longer prefix with a worse metric still wins: prefix length first.
  ASSERT_TRUE(fib_.insert(route("10.9.0.0/16", eth0_, 1000)));
  EXPECT_EQ(pick(fib_, "10.9.9.9"), "10.9.0.0/16 m1000");
}

TEST_P(FibModeTest, RemoveByDevice) {
  ASSERT_TRUE(fib_.insert(route("0.0.0.0/0", eth0_)));
  ASSERT_TRUE(fib_.insert(route("10.0.0.0/8", eth0_)));
  ASSERT_TRUE(fib_.insert(route("10.0.0.0/8", eth1_, 10)));
  ASSERT_TRUE(fib_.insert(route("10.1.0.0/16", eth0_)));
  ASSERT_TRUE(fib_.insert(route("10.1.2.0/24", eth1_)));
  const std::size_t before = fib_.size();

  EXPECT_EQ(fib_.remove_device(*eth0_), 3u);
  EXPECT_EQ(fib_.size(), before - 3);
  EXPECT_EQ(pick(fib_, "10.1.2.3"), "10.1.2.0/24 m0");
  EXPECT_EQ(pick(fib_, "10.1.3.3"), "10.0.0.0/8 m10");
  EXPECT_EQ(pick(fib_, "11.0.0.1"), "none");
  fib_.for_each([&](const FibEntry& e) { EXPECT_NE(e.dev, eth0_); });
  EXPECT_EQ(fib_.remove_device(*eth0_), 0u);
}

INSTANTIATE_TEST_SUITE_P(Fib, FibModeTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Trie" : "Small"; });

TEST_F(FibTest, RemoveByDeviceEverything) {
  Fib fib;
  for (unsigned i = 0; i < 1000; ++i) {
    const Ipv4Prefix p(Ipv4Address(10, static_cast<std::uint8_t>(i >> 8),
                                   static_cast<std::uint8_t>(i), 0), 24);
    ASSERT_TRUE(fib.insert({.prefix = p, .dev = i % 2 ? eth1_ : eth0_}));
  }
  EXPECT_EQ(fib.remove_device(*eth0_), 500u);  // the bulk path: one rebuild
  EXPECT_EQ(fib.lookup(addr("10.0.0.1")), nullptr);
  EXPECT_EQ(fib.lookup(addr("10.0.1.1"))->dev, eth1_);
  EXPECT_EQ(fib.remove_device(*eth1_), 500u);
  EXPECT_EQ(fib.size(), 0u);
  EXPECT_EQ(fib.memory_bytes(), sizeof(Fib));
}

TEST_F(FibTest, RemoveAbsentIsNoSuchProcessAndChangesNothing) {
  Fib fib;
  EXPECT_EQ(fib.remove(route("10.0.0.0/8", nullptr)).error(), error(Errc::no_such_process));
  ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth0_, 5)));
  const auto before = dump(fib);
  EXPECT_EQ(fib.remove(route("10.0.0.0/16", nullptr)).error(), error(Errc::no_such_process));
  EXPECT_EQ(fib.remove(route("11.0.0.0/8", nullptr)).error(), error(Errc::no_such_process));
  EXPECT_EQ(fib.remove(route("10.0.0.0/8", eth1_)).error(), error(Errc::no_such_process));
  EXPECT_EQ(fib.remove(route("10.0.0.0/8", nullptr, 6)).error(), error(Errc::no_such_process));
  FibEntry wrong_gw = route("10.0.0.0/8", nullptr);
  wrong_gw.gateway = addr("10.0.0.254");
  EXPECT_EQ(fib.remove(wrong_gw).error(), error(Errc::no_such_process));
  FibEntry wrong_type{.prefix = prefix("10.0.0.0/8"), .type = RouteType::blackhole};
  EXPECT_EQ(fib.remove(wrong_type).error(), error(Errc::no_such_process));
  EXPECT_EQ(dump(fib), before);
  EXPECT_EQ(fib.size(), 1u);
  EXPECT_EQ(pick(fib, "10.1.1.1"), "10.0.0.0/8 m5");
  // The right fields do match; the host bits of the match's prefix do not matter.
  ASSERT_TRUE(fib.remove(route("10.9.9.9/8", eth0_, 5)));
  EXPECT_EQ(fib.size(), 0u);
}

TEST_F(FibTest, DuplicateIsFileExistsAndChangesNothing) {
  Fib fib;
  FibEntry first = route("10.0.0.0/8", eth0_, 10);
  first.gateway = addr("10.0.0.1");
  ASSERT_TRUE(fib.insert(first));
  // Same prefix and metric: exists, whatever the device, gateway or type.
  EXPECT_EQ(fib.insert(route("10.0.0.0/8", eth1_, 10)).error(), error(Errc::file_exists));
  EXPECT_EQ(fib.insert(route("10.2.3.4/8", eth0_, 10)).error(), error(Errc::file_exists));
  FibEntry hole{.prefix = prefix("10.0.0.0/8"), .type = RouteType::blackhole, .metric = 10};
  EXPECT_EQ(fib.insert(hole).error(), error(Errc::file_exists));
  EXPECT_EQ(fib.size(), 1u);
  const FibEntry* e = fib.lookup(addr("10.5.5.5"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->dev, eth0_);
  EXPECT_EQ(e->gateway, addr("10.0.0.1"));
  // Another metric is another route.
  EXPECT_TRUE(fib.insert(route("10.0.0.0/8", eth1_, 11)));
}

TEST_F(FibTest, InvalidRoutesAreRejected) {
  Fib fib;
  EXPECT_EQ(fib.insert(route("10.0.0.0/8", nullptr)).error(), error(Errc::invalid_argument));
  FibEntry hole_with_dev{.prefix = prefix("10.0.0.0/8"), .type = RouteType::blackhole, .dev = eth0_};
  EXPECT_EQ(fib.insert(hole_with_dev).error(), error(Errc::invalid_argument));
  FibEntry hole_with_gw{.prefix = prefix("10.0.0.0/8"), .type = RouteType::unreachable,
                        .gateway = addr("10.0.0.1")};
  EXPECT_EQ(fib.insert(hole_with_gw).error(), error(Errc::invalid_argument));
  EXPECT_EQ(fib.size(), 0u);
  FibEntry hole{.prefix = prefix("10.0.0.0/8"), .type = RouteType::prohibit};
  ASSERT_TRUE(fib.insert(hole));
  EXPECT_EQ(fib.lookup(addr("10.0.0.1"))->type, RouteType::prohibit);
}

TEST_F(FibTest, CapacityIsBounded) {
  Fib fib(3);
  EXPECT_EQ(fib.max_routes(), 3u);
  ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth0_)));
  ASSERT_TRUE(fib.insert(route("11.0.0.0/8", eth0_)));
  ASSERT_TRUE(fib.insert(route("12.0.0.0/8", eth0_)));
  EXPECT_EQ(fib.insert(route("13.0.0.0/8", eth0_)).error(), error(Errc::no_buffer_space));
  EXPECT_EQ(fib.size(), 3u);
  EXPECT_EQ(fib.lookup(addr("13.0.0.1")), nullptr);
  ASSERT_TRUE(fib.remove(route("10.0.0.0/8", nullptr)));
  EXPECT_TRUE(fib.insert(route("13.0.0.0/8", eth0_)));
}

TEST_F(FibTest, PrefixIsNormalised) {
  Fib fib;
  ASSERT_TRUE(fib.insert(route("10.1.2.3/8", eth0_)));
  std::vector<FibEntry> all;
  fib.for_each([&](const FibEntry& e) { all.push_back(e); });
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].prefix.address(), addr("10.0.0.0"));
  EXPECT_EQ(all[0].prefix.length(), 8);
  EXPECT_EQ(fib.lookup(addr("10.200.0.1"))->prefix, prefix("10.0.0.0/8"));
}

TEST_F(FibTest, ForEachInIpRouteOrder) {
  Fib fib;
  const char* const shuffled[] = {"10.1.0.0/16", "0.0.0.0/0", "192.168.0.0/24", "10.0.0.0/16",
                                  "10.0.0.0/8", "9.255.255.255/32", "10.0.0.0/24"};
  for (const char* p : shuffled) ASSERT_TRUE(fib.insert(route(p, eth0_)));
  ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth1_, 20)));
  ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth1_, 3)));
  EXPECT_EQ(dump(fib), (std::vector<std::string>{
                           "0.0.0.0/0 m0", "9.255.255.255/32 m0", "10.0.0.0/8 m0",
                           "10.0.0.0/8 m3", "10.0.0.0/8 m20", "10.0.0.0/16 m0", "10.0.0.0/24 m0",
                           "10.1.0.0/16 m0", "192.168.0.0/24 m0"}));
}

// Growing past kSmallMax builds the trie, shrinking drops it; answers never change.
TEST_F(FibTest, SwitchesBetweenSmallTableAndTrie) {
  Fib fib;
  ASSERT_TRUE(fib.insert(route("0.0.0.0/0", eth0_)));
  std::vector<Ipv4Prefix> added;
  for (unsigned i = 0; i < Fib::kSmallMax + 8; ++i) {
    const Ipv4Prefix p(Ipv4Address(10, static_cast<std::uint8_t>(i), 0, 0),
                       static_cast<std::uint8_t>(16 + i % 17));
    ASSERT_TRUE(fib.insert({.prefix = p, .dev = eth1_}));
    added.push_back(p);
  }
  EXPECT_TRUE(fib.uses_trie());
  const std::size_t trie_bytes = fib.memory_bytes();
  EXPECT_GT(trie_bytes, 256u * 1024);
  for (const Ipv4Prefix& p : added) EXPECT_EQ(fib.lookup(p.address())->prefix, p);
  while (!added.empty()) {
    ASSERT_TRUE(fib.remove({.prefix = added.back()}));
    EXPECT_EQ(pick(fib, added.back().address().to_string().c_str()), "0.0.0.0/0 m0");
    added.pop_back();
    for (const Ipv4Prefix& p : added) ASSERT_EQ(fib.lookup(p.address())->prefix, p);
  }
  EXPECT_FALSE(fib.uses_trie());
  EXPECT_LT(fib.memory_bytes(), 8192u);  // the slab keeps its high-water mark (41 routes)
}

// A small table answers from its own copy of each prefix's best route:
// routes behind the best one (that never touch the lookup structure) may
// move the slab, and the answer must still be the best route as it is.
TEST_F(FibTest, SmallTableAnswersStayRightWhileTheSlabGrows) {
  Fib fib;
  ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth0_, 5)));
  ASSERT_TRUE(fib.insert(route("10.1.0.0/16", eth1_, 5)));
  for (std::uint32_t metric = 6; metric < 200; ++metric) {  // behind the best: the slab grows
    ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth1_, metric)));
  }
  EXPECT_FALSE(fib.uses_trie());
  EXPECT_EQ(fib.lookup(addr("10.2.0.1"))->dev, eth0_);
  EXPECT_EQ(pick(fib, "10.1.2.3"), "10.1.0.0/16 m5");
  ASSERT_TRUE(fib.insert(route("10.0.0.0/8", eth1_, 1)));  // a new best
  EXPECT_EQ(pick(fib, "10.2.0.1"), "10.0.0.0/8 m1");
  EXPECT_EQ(fib.lookup(addr("10.2.0.1"))->dev, eth1_);
  ASSERT_TRUE(fib.remove(route("10.0.0.0/8", nullptr, 1)));
  EXPECT_EQ(fib.lookup(addr("10.2.0.1"))->dev, eth0_);
  EXPECT_EQ(pick(fib, "11.0.0.1"), "none");
}

// The lookup's view moves with the tables: the moved-to Fib finds the
// routes, the moved-from one is empty and finds none.
TEST_F(FibTest, MovedFibsLookUpWhatTheyHold) {
  Fib small;
  ASSERT_TRUE(small.insert(route("192.0.2.0/24", eth0_)));
  Fib trie;
  for (unsigned i = 0; i < Fib::kSmallMax + 1; ++i) {
    ASSERT_TRUE(trie.insert({.prefix = Ipv4Prefix(Ipv4Address(10, static_cast<std::uint8_t>(i), 0, 0), 16), .dev = eth1_}));
  }
  ASSERT_TRUE(trie.uses_trie());
  Fib a = std::move(small);
  Fib b(std::move(trie));
  EXPECT_EQ(pick(a, "192.0.2.7"), "192.0.2.0/24 m0");
  EXPECT_EQ(pick(b, "10.3.0.1"), "10.3.0.0/16 m0");
  EXPECT_EQ(pick(small, "192.0.2.7"), "none");  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(pick(trie, "10.3.0.1"), "none");    // NOLINT(bugprone-use-after-move)
  a = std::move(b);
  EXPECT_EQ(pick(a, "10.3.0.1"), "10.3.0.0/16 m0");
  EXPECT_EQ(pick(a, "192.0.2.7"), "none");
  EXPECT_TRUE(a.uses_trie());
}

// Groups as full as they get: every /24 of a /16 (a quarter of 64 distinct
// values spans five lines) and every /32 of one /24; then thinned and emptied.
TEST_F(FibTest, DenseGroupsKeepEveryRoute) {
  Fib fib;
  ASSERT_TRUE(fib.insert(route("0.0.0.0/0", eth0_)));
  auto nth24 = [](unsigned i) { return Ipv4Prefix(Ipv4Address(10, 7, static_cast<std::uint8_t>(i), 0), 24); };
  auto nth32 = [](unsigned i) { return Ipv4Prefix(Ipv4Address(10, 7, 9, static_cast<std::uint8_t>(i)), 32); };
  for (unsigned i = 0; i < 256; ++i) {
    ASSERT_TRUE(fib.insert({.prefix = nth24(i), .dev = eth1_}));
    ASSERT_TRUE(fib.insert({.prefix = nth32(i), .dev = eth1_}));
  }
  auto check = [&](auto present24, auto present32) {
    for (unsigned i = 0; i < 256; ++i) {
      const Ipv4Address in24(10, 7, static_cast<std::uint8_t>(i), 77);
      if (i != 9) {
        ASSERT_EQ(fib.lookup(in24)->prefix, present24(i) ? nth24(i) : Ipv4Prefix()) << in24.to_string();
      }
      const Ipv4Prefix fallback = present24(9) ? nth24(9) : Ipv4Prefix();
      ASSERT_EQ(fib.lookup(nth32(i).address())->prefix, present32(i) ? nth32(i) : fallback) << i;
    }
  };
  check([](unsigned) { return true; }, [](unsigned) { return true; });
  for (unsigned i = 0; i < 256; i += 2) {
    ASSERT_TRUE(fib.remove({.prefix = nth24(i)}));
    ASSERT_TRUE(fib.remove({.prefix = nth32(i)}));
  }
  check([](unsigned i) { return i % 2 != 0; }, [](unsigned i) { return i % 2 != 0; });
  for (unsigned i = 1; i < 256; i += 2) {
    ASSERT_TRUE(fib.remove({.prefix = nth24(i)}));
    ASSERT_TRUE(fib.remove({.prefix = nth32(i)}));
  }
  check([](unsigned) { return false; }, [](unsigned) { return false; });
  EXPECT_EQ(fib.size(), 1u);
}

// Groups shrink and vanish as routes go; the freed lines are given back once
// they are a quarter of the pool, and every answer survives the move.
TEST_F(FibTest, FreedGroupLinesAreReclaimed) {
  Fib fib;
  ASSERT_TRUE(fib.insert(route("0.0.0.0/0", eth0_)));
  std::vector<Ipv4Prefix> deep, kept;
  for (unsigned i = 0; i < 4096; ++i) {
    // One /25 in each of 4096 /16s (a group at both levels), and a /24 in
    // each of 1024 of them that stays.
    const Ipv4Address a(static_cast<std::uint8_t>(11 + i / 256), static_cast<std::uint8_t>(i % 256), 3, 0);
    deep.emplace_back(a, 25);
    ASSERT_TRUE(fib.insert({.prefix = deep.back(), .dev = eth1_}));
    if (i % 4 == 0) {
      kept.emplace_back(Ipv4Address(a.value + 0x100), 24);
      ASSERT_TRUE(fib.insert({.prefix = kept.back(), .dev = eth1_}));
    }
  }
  const std::size_t full = fib.memory_bytes();
  for (const Ipv4Prefix& p : deep) ASSERT_TRUE(fib.remove({.prefix = p}));
  EXPECT_TRUE(fib.uses_trie());
  // 4096 level-2 and 4096 level-3 groups (1.25 MiB of lines) are now 1024
  // level-2 groups (256 KiB).
  EXPECT_LT(fib.memory_bytes() + 768 * 1024, full);
  for (const Ipv4Prefix& p : deep) ASSERT_EQ(pick(fib, p.address().to_string().c_str()), "0.0.0.0/0 m0");
  for (const Ipv4Prefix& p : kept) ASSERT_EQ(fib.lookup(p.address())->prefix, p);
}

// Random routes against a reference that tries every length from /32 down.
TEST_F(FibTest, RandomizedAgainstReference) {
  std::mt19937_64 rng(12345);
  Fib fib;
  // (length, network) -> metric -> device; a plain ordered map per length.
  std::map<std::pair<unsigned, std::uint32_t>, std::map<std::uint32_t, Device*>> ref;
  std::size_t ref_size = 0;
  std::vector<std::pair<Ipv4Prefix, std::uint32_t>> live;  // (prefix, metric) present

  // Networks drawn from a few /8s so prefixes overlap heavily.
  auto random_prefix = [&] {
    std::uint32_t a = static_cast<std::uint32_t>(rng());
    a = (a & 0x03ffffffu) | (std::uint32_t{10 + static_cast<unsigned>(rng() % 4)} << 24);
    unsigned len = static_cast<unsigned>(rng() % 33);
    if (rng() % 4 != 0) len = 8 + static_cast<unsigned>(rng() % 25);  // mostly /8../32
    return Ipv4Prefix(Ipv4Address{a}, static_cast<std::uint8_t>(len));
  };
  auto reference_lookup = [&](std::uint32_t a) -> std::pair<Ipv4Prefix, std::uint32_t> {
    for (int len = 32; len >= 0; --len) {
      const std::uint32_t net = Ipv4Prefix(Ipv4Address{a}, static_cast<std::uint8_t>(len)).network().value;
      auto it = ref.find({static_cast<unsigned>(len), net});
      if (it != ref.end()) {
        return {Ipv4Prefix(Ipv4Address{net}, static_cast<std::uint8_t>(len)),
                it->second.begin()->first};
      }
    }
    return {Ipv4Prefix(), ~0u};
  };
  auto check_lookups = [&](int count) {
    for (int i = 0; i < count; ++i) {
      std::uint32_t a;
      if (!live.empty() && rng() % 2 == 0) {  // near a route: exercises long prefixes
        const Ipv4Prefix& p = live[rng() % live.size()].first;
        a = p.network().value | (static_cast<std::uint32_t>(rng()) & ~p.mask());
      } else {
        a = static_cast<std::uint32_t>(rng());
        if (rng() % 2) a = (a & 0x03ffffffu) | (std::uint32_t{10 + static_cast<unsigned>(rng() % 4)} << 24);
      }
      const auto [want_prefix, want_metric] = reference_lookup(a);
      const FibEntry* got = fib.lookup(Ipv4Address{a});
      if (want_metric == ~0u) {
        ASSERT_EQ(got, nullptr) << Ipv4Address{a}.to_string();
      } else {
        ASSERT_NE(got, nullptr) << Ipv4Address{a}.to_string();
        ASSERT_EQ(got->prefix, want_prefix) << Ipv4Address{a}.to_string();
        ASSERT_EQ(got->metric, want_metric) << Ipv4Address{a}.to_string();
        const auto& metrics = ref[{want_prefix.length(), want_prefix.address().value}];
        ASSERT_EQ(got->dev, metrics.at(want_metric));
      }
    }
  };
  auto insert_random = [&] {
    const Ipv4Prefix p = random_prefix();
    const std::uint32_t metric = static_cast<std::uint32_t>(rng() % 4) * 10;
    Device* dev = rng() % 2 ? eth0_ : eth1_;
    const bool dup = ref.count({p.length(), p.network().value}) &&
                     ref[{p.length(), p.network().value}].count(metric);
    auto r = fib.insert({.prefix = p, .dev = dev, .metric = metric});
    if (dup) {
      ASSERT_EQ(r.error(), error(Errc::file_exists));
    } else {
      ASSERT_TRUE(r);
      ref[{p.length(), p.network().value}][metric] = dev;
      ++ref_size;
      live.push_back({Ipv4Prefix(p.network(), p.length()), metric});
    }
  };
  auto remove_random = [&] {
    const std::size_t i = rng() % live.size();
    const auto [p, metric] = live[i];
    live[i] = live.back();
    live.pop_back();
    auto& routes = ref[{p.length(), p.address().value}];
    Device* dev = routes.at(metric);
    // With metric 0 ("any") the lowest-metric route through dev goes, which is this one.
    ASSERT_TRUE(fib.remove({.prefix = p, .dev = dev, .metric = metric}));
    routes.erase(metric);
    if (routes.empty()) ref.erase({p.length(), p.address().value});
    --ref_size;
  };

  for (int i = 0; i < 20000; ++i) insert_random();
  ASSERT_EQ(fib.size(), ref_size);
  EXPECT_TRUE(fib.uses_trie());
  check_lookups(40000);
  for (int i = 0; i < 30000; ++i) {
    if (rng() % 3 == 0) insert_random(); else remove_random();
    if (i % 5000 == 0) check_lookups(2000);
  }
  ASSERT_EQ(fib.size(), ref_size);
  check_lookups(40000);

  // for_each agrees with the reference, in order.
  std::vector<std::tuple<std::uint32_t, unsigned, std::uint32_t>> want, got;
  for (const auto& [k, metrics] : ref)
    for (const auto& [m, dev] : metrics) want.emplace_back(k.second, k.first, m);
  std::sort(want.begin(), want.end());
  fib.for_each([&](const FibEntry& e) {
    got.emplace_back(e.prefix.address().value, e.prefix.length(), e.metric);
  });
  EXPECT_EQ(got, want);

  // Drain to empty through the small table again.
  while (!live.empty()) remove_random();
  check_lookups(20000);
  EXPECT_EQ(fib.size(), 0u);
  EXPECT_EQ(fib.memory_bytes(), sizeof(Fib));
}

}  // namespace ipv4_fib_test
}  // namespace
}  // namespace netns::ipv4
