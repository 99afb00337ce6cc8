// The bridge's forwarding database on its own: probing, growth and
// backward-shift deletion against a std::map model, and the learning bound.
#include "devices/bridge_fdb.hpp"

#include <map>
#include <random>

#include <gtest/gtest.h>

namespace netns {
namespace {
namespace devices_bridge_fdb_test {

BridgePort* port(std::uintptr_t n) { return reinterpret_cast<BridgePort*>(n * 64); }

TEST(BridgeFdb, AgreesWithAMapThroughInsertsAndErasesInAnyOrder) {
  Fdb fdb(SipKey{1, 2});
  std::map<MacKey, BridgePort*> model;
  std::mt19937_64 rng(7);
  const Clock::time_point now{};
  for (int round = 0; round < 20000; ++round) {
    // A small key space so erases hit and probe runs wrap and collide.
    MacKey mac = (rng() % 3000) << 1;  // unicast
    if (rng() % 3 == 0) {
      EXPECT_EQ(fdb.erase(mac), model.erase(mac) == 1);
    } else {
      fdb.put(mac, port(rng() % 8 + 1), 0, now);
      model[mac] = fdb.find(mac)->port;
    }
  }
  ASSERT_EQ(fdb.size(), model.size());
  ASSERT_EQ(fdb.learned_count(), model.size());
  for (MacKey mac = 0; mac < 6000; mac += 2) {
    FdbSlot* s = fdb.find(mac);
    auto it = model.find(mac);
    ASSERT_EQ(s != nullptr, it != model.end()) << mac;
    if (s != nullptr) {
      EXPECT_EQ(s->port, it->second);
    }
  }
  EXPECT_LE(fdb.size() * 2, fdb.slots().size());  // at most half full
}

TEST(BridgeFdb, LearningRefreshesMovesAndStopsAtTheBound) {
  Fdb fdb(SipKey{3, 4});
  const Clock::time_point t0{}, t1 = t0 + std::chrono::seconds(1);
  EXPECT_EQ(fdb.learn(2, port(1), t0, 2).result, Fdb::Learn::learned);
  EXPECT_EQ(fdb.learn(2, port(1), t1, 2).result, Fdb::Learn::refreshed);
  EXPECT_EQ(fdb.find(2)->updated, t1);
  EXPECT_EQ(fdb.learn(2, port(2), t1, 2).result, Fdb::Learn::moved);
  EXPECT_EQ(fdb.learn(4, port(1), t1, 2).result, Fdb::Learn::learned);
  auto full = fdb.learn(6, port(1), t1, 2);
  EXPECT_EQ(full.result, Fdb::Learn::full);
  EXPECT_EQ(full.slot, nullptr);
  fdb.put(8, nullptr, FdbSlot::kLocal, t0);  // local entries do not count against the bound
  EXPECT_EQ(fdb.learn(8, port(1), t1, 2).result, Fdb::Learn::ignored);
  EXPECT_EQ(fdb.learned_count(), 2u);
  EXPECT_EQ(fdb.size(), 3u);
  std::uint64_t generation = fdb.generation();
  EXPECT_EQ(fdb.retain([](const FdbSlot& s) { return !s.learned(); }), 2u);
  EXPECT_NE(fdb.generation(), generation);  // slot pointers taken before are stale
  EXPECT_EQ(fdb.find(2), nullptr);
  EXPECT_NE(fdb.find(8), nullptr);
}

}  // namespace devices_bridge_fdb_test
}  // namespace
}  // namespace netns
