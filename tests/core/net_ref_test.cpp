// NetRef and NetHold: strong and passive references, deferred teardown, leaks.
#include "netns/net.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_net_ref_test {

using support::exit_entry;
using support::HostTest;
using support::RecordingOps;

TEST_F(HostTest, TheLastNetRefQueuesTheNamespaceAndTheNextPollFreesIt) {
  RecordingOps& ops = make_ops("x");
  ASSERT_TRUE(host_.register_pernet_subsys(ops));
  NetRef blue = host_.create_net("blue").value();
  NetRef copy = blue;
  std::uint32_t id = blue->id();
  HostStats before = host_.stats();

  blue.reset();
  EXPECT_EQ(host_.net_count(), 2u);  // a copy still holds it
  EXPECT_TRUE(host_.find_net("blue"));
  copy.reset();

  EXPECT_EQ(host_.net_count(), 1u);
  EXPECT_FALSE(host_.find_net("blue"));
  EXPECT_EQ(live_ids(), std::vector<std::uint32_t>{1});
  HostStats dying = host_.stats();
  EXPECT_EQ(dying.live_nets, 1u);
  EXPECT_EQ(dying.dying_nets, 1u);
  EXPECT_EQ(dying.net_objects, before.net_objects);  // not freed inline
  EXPECT_EQ(std::count(log_.begin(), log_.end(), exit_entry("x", id)), 0);

  EXPECT_EQ(poll(), Clock::time_point::max());
  EXPECT_EQ(std::count(log_.begin(), log_.end(), exit_entry("x", id)), 1);
  HostStats after = host_.stats();
  EXPECT_EQ(after.dying_nets, 0u);
  EXPECT_EQ(after.net_objects, before.net_objects - 1);
}

TEST_F(HostTest, NetRefCopiesAndMovesCountReferences) {
  NetRef a = host_.create_net().value();
  NetRef b;
  EXPECT_FALSE(b);
  b = a;  // copy
  EXPECT_EQ(a, b);
  NetRef c(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  a = std::move(b);
  EXPECT_FALSE(b);  // NOLINT(bugprone-use-after-move)
  NetRef& alias = a;
  a = alias;  // self-assignment keeps the reference
  EXPECT_TRUE(a);
  c.reset();
  EXPECT_EQ(host_.net_count(), 2u);
  a = NetRef();
  EXPECT_EQ(host_.net_count(), 1u);
}

TEST_F(HostTest, DroppingTheLastNetRefOnAnotherThreadDefersTeardownToPoll) {
  RecordingOps& ops = make_ops("x");
  ASSERT_TRUE(host_.register_pernet_device(ops));
  NetRef blue = host_.create_net("blue").value();
  std::uint32_t id = blue->id();
  std::size_t objects = host_.stats().net_objects;

  std::thread dropper([ref = std::move(blue)]() mutable { ref.reset(); });
  dropper.join();
  EXPECT_EQ(host_.net_count(), 1u);
  EXPECT_EQ(host_.stats().dying_nets, 1u);
  EXPECT_EQ(std::count(log_.begin(), log_.end(), exit_entry("x", id)), 0);

  poll();
  EXPECT_EQ(std::count(log_.begin(), log_.end(), exit_entry("x", id)), 1);
  EXPECT_EQ(host_.stats().net_objects, objects - 1);
}

TEST_F(HostTest, ManyThreadsDroppingReferencesTearDownEachNamespaceOnce) {
  RecordingOps& ops = make_ops("x");
  ASSERT_TRUE(host_.register_pernet_subsys(ops));
  constexpr int kNets = 64;
  std::vector<NetRef> a, b;
  for (int i = 0; i < kNets; ++i) {
    a.push_back(host_.create_net().value());
    b.push_back(a.back());
  }
  log_.clear();
  std::thread t1([&] { a.clear(); });
  std::thread t2([&] { b.clear(); });
  t1.join();
  t2.join();
  EXPECT_EQ(host_.net_count(), 1u);
  poll();
  EXPECT_EQ(log_.size(), std::size_t{kNets});
  EXPECT_EQ(host_.stats().dying_nets, 0u);
}

TEST_F(HostTest, NetHoldLocksWhileAliveAndIsEmptyOnceDying) {
  NetRef blue = host_.create_net("blue").value();
  NetHold hold(*blue);
  EXPECT_EQ(hold.get(), blue.get());
  {
    NetRef locked = hold.lock();
    ASSERT_TRUE(locked);
    EXPECT_EQ(locked.get(), blue.get());
  }
  blue.reset();
  EXPECT_FALSE(hold.lock());  // dying, before poll
  hold.reset();
  poll();
  EXPECT_EQ(host_.stats().leaked_holds, 0u);
  EXPECT_TRUE(messages_.empty());
}

TEST_F(HostTest, AHoldReleasedBeforeTeardownIsNoLeak) {
  NetRef blue = host_.create_net().value();
  std::size_t objects = host_.stats().net_objects;
  {
    NetHold hold(*blue);
    NetHold copy = hold;
    NetHold moved(std::move(copy));
    EXPECT_EQ(moved.get(), blue.get());
    EXPECT_EQ(copy.get(), nullptr);  // NOLINT(bugprone-use-after-move)
  }
  blue.reset();
  poll();
  EXPECT_EQ(host_.stats().net_objects, objects - 1);
  EXPECT_EQ(host_.stats().leaked_holds, 0u);
}

TEST_F(HostTest, ALeakedHoldIsReportedWithItsSiteAndFreedWhenItFinallyGoes) {
  NetRef blue = host_.create_net("blue").value();
  std::size_t objects = host_.stats().net_objects;
  // Constructed here, not through make_unique, so the recorded site is this line.
  const int line = __LINE__ + 1;
  std::unique_ptr<NetHold> hold(new NetHold(*blue));
  blue.reset();
  poll();

  HostStats leaked = host_.stats();
  EXPECT_EQ(leaked.leaked_holds, 1u);
  EXPECT_EQ(leaked.dying_nets, 1u);          // exited, memory kept by the hold
  EXPECT_EQ(leaked.net_objects, objects);
  EXPECT_EQ(leaked.live_nets, 1u);
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_NE(messages_[0].find("net_ref_test.cpp:" + std::to_string(line)), std::string::npos)
      << messages_[0];
  EXPECT_NE(messages_[0].find("blue"), std::string::npos) << messages_[0];
  EXPECT_FALSE(hold->lock());

  // Moving the leaked hold keeps the memory: the old one must not free it.
  NetHold moved(std::move(*hold));
  hold.reset();
  EXPECT_EQ(host_.stats().net_objects, objects);
  NetHold assigned;
  assigned = std::move(moved);
  EXPECT_EQ(host_.stats().net_objects, objects);
  EXPECT_EQ(assigned.where().line(), static_cast<std::uint_least32_t>(line));

  assigned.reset();
  HostStats freed = host_.stats();
  EXPECT_EQ(freed.net_objects, objects - 1);
  EXPECT_EQ(freed.dying_nets, 0u);
  EXPECT_EQ(freed.leaked_holds, 1u);  // a leak happened; it stays counted
}

TEST_F(HostTest, NetRefFromNetRefIsEmptyOnceDying) {
  NetRef blue = host_.create_net().value();
  Net* raw = blue.get();
  EXPECT_TRUE(raw->ref());
  EXPECT_FALSE(raw->is_dying());
  blue.reset();
  EXPECT_TRUE(raw->is_dying());
  EXPECT_FALSE(raw->ref());  // never resurrected
  poll();
}

}  // namespace core_net_ref_test
}  // namespace
}  // namespace netns
