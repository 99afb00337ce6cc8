// Host: creating, finding, naming and listing namespaces; post() and poll().
#include "netns/host.hpp"

#include <atomic>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_host_test {

using support::HostTest;

TEST_F(HostTest, StartsWithInitNetOnly) {
  EXPECT_EQ(host_.net_count(), 1u);
  EXPECT_EQ(host_.init_net().id(), 1u);
  EXPECT_TRUE(host_.init_net().name().empty());
  EXPECT_EQ(live_ids(), std::vector<std::uint32_t>{1});
  HostStats s = host_.stats();
  EXPECT_EQ(s.live_nets, 1u);
  EXPECT_EQ(s.dying_nets, 0u);
  EXPECT_EQ(s.net_objects, 1u);
}

TEST_F(HostTest, CreateNetAddsANamedNamespaceFindNetReturnsIt) {
  auto blue = host_.create_net("blue");
  ASSERT_TRUE(blue);
  EXPECT_EQ((*blue)->name(), "blue");
  EXPECT_EQ(&(*blue)->host(), &host_);
  EXPECT_EQ(host_.net_count(), 2u);
  NetRef found = host_.find_net("blue");
  ASSERT_TRUE(found);
  EXPECT_EQ(found.get(), blue->get());
  EXPECT_FALSE(host_.find_net("red"));
  EXPECT_FALSE(host_.find_net(""));
}

TEST_F(HostTest, NamesAreUniqueAmongLiveNamespaces) {
  auto first = host_.create_net("blue");
  ASSERT_TRUE(first);
  auto second = host_.create_net("blue");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), Errc::file_exists);
  EXPECT_EQ(host_.net_count(), 2u);
  EXPECT_EQ(host_.stats().net_objects, 2u);
}

TEST_F(HostTest, NameIsReusableOnceTheOldNamespaceIsDying) {
  auto old_ref = host_.create_net("blue");
  ASSERT_TRUE(old_ref);
  std::uint32_t old_id = (*old_ref)->id();
  old_ref->reset();  // dying, not yet torn down: still on the list until poll

  auto again = host_.create_net("blue");
  ASSERT_TRUE(again);
  EXPECT_NE((*again)->id(), old_id);
  EXPECT_EQ(host_.find_net("blue").get(), again->get());

  // Tearing the old one down must not take the name from the new one.
  poll();
  EXPECT_EQ(host_.find_net("blue").get(), again->get());
  EXPECT_EQ(host_.net_count(), 2u);
}

TEST_F(HostTest, UnnamedNamespacesAreMany) {
  std::vector<NetRef> nets;
  for (int i = 0; i < 5; ++i) {
    auto net = host_.create_net();
    ASSERT_TRUE(net);
    EXPECT_TRUE((*net)->name().empty());
    nets.push_back(std::move(*net));
  }
  EXPECT_EQ(host_.net_count(), 6u);
  EXPECT_FALSE(host_.find_net(""));
}

class BadNetName : public HostTest, public ::testing::WithParamInterface<std::string_view> {};

TEST_P(BadNetName, IsRefusedAndNothingChanges) {
  auto net = host_.create_net(GetParam());
  ASSERT_FALSE(net);
  EXPECT_EQ(net.error(), Errc::invalid_argument);
  EXPECT_EQ(host_.net_count(), 1u);
  EXPECT_EQ(host_.stats().net_objects, 1u);
}

INSTANTIATE_TEST_SUITE_P(HostTest, BadNetName,
                         ::testing::Values(std::string_view("a/b"), std::string_view("."),
                                           std::string_view(".."), std::string_view("a\0b", 3)));

TEST_F(HostTest, IdsAreNeverReused) {
  std::vector<std::uint32_t> ids{host_.init_net().id()};
  for (int round = 0; round < 3; ++round) {
    auto net = host_.create_net("same");
    ASSERT_TRUE(net);
    ids.push_back((*net)->id());
    net->reset();
    poll();  // freed: its memory and slot may be reused, its id must not
  }
  for (std::size_t i = 1; i < ids.size(); ++i) EXPECT_GT(ids[i], ids[i - 1]);
}

TEST_F(HostTest, ForEachNetVisitsLiveNamespacesInCreationOrder) {
  std::vector<NetRef> nets;
  std::vector<std::uint32_t> expected{host_.init_net().id()};
  for (auto name : {"c", "a", "b", ""}) {
    nets.push_back(host_.create_net(name).value());
    expected.push_back(nets.back()->id());
  }
  EXPECT_EQ(live_ids(), expected);

  // A dying namespace is skipped even before poll tears it down.
  std::uint32_t gone = nets[1]->id();
  nets[1].reset();
  std::erase(expected, gone);
  EXPECT_EQ(live_ids(), expected);
}

TEST_F(HostTest, ForEachNetSurvivesCallbacksThatDropTheLastReferences) {
  auto a = host_.create_net("a").value();
  auto b = host_.create_net("b").value();
  auto c = host_.create_net("c").value();
  std::uint32_t a_id = a->id(), b_id = b->id();

  std::vector<std::uint32_t> visited;
  host_.for_each_net([&](Net& net) {
    visited.push_back(net.id());
    if (net.id() == b_id) {
      b.reset();  // the one being visited
      c.reset();  // and the next one
    }
  });
  EXPECT_EQ(visited, (std::vector<std::uint32_t>{1, a_id, b_id}));
  EXPECT_EQ(host_.net_count(), 2u);
  poll();
  EXPECT_EQ(live_ids(), (std::vector<std::uint32_t>{1, a_id}));
  EXPECT_EQ(host_.stats().net_objects, 2u);
}

TEST_F(HostTest, ForEachNetDoesNotVisitNamespacesCreatedDuringTheWalk) {
  std::vector<NetRef> made;
  std::size_t visits = 0;
  host_.for_each_net([&](Net&) {
    ++visits;
    made.push_back(host_.create_net().value());
  });
  EXPECT_EQ(visits, 1u);
  EXPECT_EQ(host_.net_count(), 2u);
}

TEST_F(HostTest, PostFromAnotherThreadRunsOnTheNextPoll) {
  std::atomic<int> ran{0};
  std::thread::id ran_on;
  std::thread poster([&] {
    host_.post([&] {
      ran_on = std::this_thread::get_id();
      ++ran;
    });
  });
  poster.join();
  EXPECT_EQ(ran.load(), 0);  // not inline
  poll();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  poll();
  EXPECT_EQ(ran.load(), 1);  // once
}

TEST_F(HostTest, PostedWorkPostedWhilePollingRunsOnTheFollowingPoll) {
  int outer = 0, inner = 0;
  host_.post([&] {
    ++outer;
    host_.post([&] { ++inner; });
  });
  EXPECT_EQ(poll(), clock_.now());  // work remains: poll says run again now
  EXPECT_EQ(outer, 1);
  EXPECT_EQ(inner, 0);
  poll();
  EXPECT_EQ(inner, 1);
}

TEST_F(HostTest, IdlePollReturnsTimePointMax) {
  EXPECT_EQ(poll(), Clock::time_point::max());
  clock_.advance(std::chrono::seconds(5));
  EXPECT_EQ(poll(), Clock::time_point::max());
  EXPECT_EQ(host_.now(), clock_.now());
}

TEST_F(HostTest, HostDestructionTearsEverythingDownInitNetLast) {
  std::vector<std::string> log;
  support::RecordingOps subsys(log, "s");
  support::RecordingOps device(log, "d");
  std::uint32_t blue_id = 0, red_id = 0;
  {
    Host host(support::test_config(&messages_));
    ASSERT_TRUE(host.register_pernet_subsys(subsys));
    ASSERT_TRUE(host.register_pernet_device(device));
    NetRef blue = host.create_net("blue").value();
    NetRef red = host.create_net("red").value();
    blue_id = blue->id();
    red_id = red->id();
    blue.reset();  // one already dying when the Host goes
    ASSERT_TRUE(make_veth(*red, "eth0", host.init_net(), "veth0"));
    log.clear();
    red.reset();
  }
  ASSERT_FALSE(log.empty());
  // Every namespace's ops exited, device before subsystem; init_net (id 1) last.
  for (std::uint32_t id : {blue_id, red_id, 1u}) {
    auto d = std::find(log.begin(), log.end(), support::exit_entry("d", id));
    auto s = std::find(log.begin(), log.end(), support::exit_entry("s", id));
    ASSERT_NE(d, log.end()) << id;
    ASSERT_NE(s, log.end()) << id;
    EXPECT_LT(d, s);
  }
  EXPECT_EQ(log.size(), 6u);
  EXPECT_EQ(log.back(), support::exit_entry("s", 1));
  EXPECT_EQ(log[log.size() - 2], support::exit_entry("d", 1));
}

TEST_F(HostTest, PernetOpsCanRegisterWithANewHostAfterTheOldOneIsDestroyed) {
  std::vector<std::string> log;
  support::RecordingOps ops(log, "x");
  {
    Host first(support::test_config(&messages_));
    ASSERT_TRUE(first.register_pernet_subsys(ops));
  }
  Host second(support::test_config(&messages_));
  EXPECT_TRUE(second.register_pernet_subsys(ops));
  second.unregister_pernet_subsys(ops);
}

TEST_F(HostTest, ManyNamespacesCreatedAndDroppedLeaveNothingBehind) {
  constexpr int kCount = 10000;
  HostStats before = host_.stats();
  {
    std::vector<NetRef> nets;
    nets.reserve(kCount);
    for (int i = 0; i < kCount; ++i) {
      auto net = host_.create_net();
      ASSERT_TRUE(net);
      nets.push_back(std::move(*net));
    }
    EXPECT_EQ(host_.net_count(), kCount + 1u);
  }
  EXPECT_EQ(host_.net_count(), 1u);  // at once: they left the list when the refs went
  EXPECT_EQ(host_.stats().dying_nets, std::size_t{kCount});
  poll();
  HostStats after = host_.stats();
  EXPECT_EQ(after.live_nets, 1u);
  EXPECT_EQ(after.dying_nets, 0u);
  EXPECT_EQ(after.net_objects, before.net_objects);
  EXPECT_EQ(after.nets_created - after.nets_freed, before.nets_created - before.nets_freed);
  EXPECT_EQ(after.packets_in_use, 0u);
}

}  // namespace core_host_test
}  // namespace
}  // namespace netns
