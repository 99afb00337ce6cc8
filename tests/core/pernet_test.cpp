// Pernet operations: init/exit ordering, failure and undo, late registration, slots.
#include "netns/pernet.hpp"

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_pernet_test {

using support::exit_entry;
using support::HostTest;
using support::init_entry;
using support::RecordingOps;
using Log = std::vector<std::string>;

TEST_F(HostTest, CreateRunsSubsystemInitsThenDeviceInitsEachInRegistrationOrder) {
  // Registered interleaved: the kind decides the order, not the time of registration.
  RecordingOps& d1 = make_ops("d1");
  RecordingOps& s1 = make_ops("s1");
  RecordingOps& d2 = make_ops("d2");
  RecordingOps& s2 = make_ops("s2");
  ASSERT_TRUE(host_.register_pernet_device(d1));
  ASSERT_TRUE(host_.register_pernet_subsys(s1));
  ASSERT_TRUE(host_.register_pernet_device(d2));
  ASSERT_TRUE(host_.register_pernet_subsys(s2));
  log_.clear();

  NetRef net = host_.create_net("blue").value();
  std::uint32_t id = net->id();
  EXPECT_EQ(log_, (Log{init_entry("s1", id), init_entry("s2", id), init_entry("d1", id),
                       init_entry("d2", id)}));
}

TEST_F(HostTest, ExitRunsDeviceOpsBeforeSubsystemsEachInReverseRegistrationOrder) {
  RecordingOps& d1 = make_ops("d1");
  RecordingOps& s1 = make_ops("s1");
  RecordingOps& d2 = make_ops("d2");
  RecordingOps& s2 = make_ops("s2");
  ASSERT_TRUE(host_.register_pernet_device(d1));
  ASSERT_TRUE(host_.register_pernet_subsys(s1));
  ASSERT_TRUE(host_.register_pernet_device(d2));
  ASSERT_TRUE(host_.register_pernet_subsys(s2));
  NetRef net = host_.create_net().value();
  std::uint32_t id = net->id();
  log_.clear();

  net.reset();
  EXPECT_TRUE(log_.empty());  // never inline: the next poll runs the exits
  poll();
  EXPECT_EQ(log_, (Log{exit_entry("d2", id), exit_entry("d1", id), exit_entry("s2", id),
                       exit_entry("s1", id)}));
}

// The third of five ops fails, for subsystem and device ops alike (device ops
// run after the built-in loopback, whose undo is then exercised too).
class FailingInit : public HostTest, public ::testing::WithParamInterface<bool> {};

TEST_P(FailingInit, UndoesTheOpsThatRanInReverseAndLeavesNothing) {
  const bool device = GetParam();
  for (auto tag : {"a", "b", "c", "d", "e"}) {
    RecordingOps& ops = make_ops(tag);
    ASSERT_TRUE(device ? host_.register_pernet_device(ops) : host_.register_pernet_subsys(ops));
  }
  ops_[2].fail_on_init(2);  // its first init was init_net's, at registration
  log_.clear();
  HostStats before = host_.stats();

  auto net = host_.create_net("blue");
  ASSERT_FALSE(net);
  EXPECT_EQ(net.error(), RecordingOps::kFailure);
  ASSERT_EQ(log_.size(), 5u);
  std::uint32_t id = host_.init_net().id() + 1;  // the id it was given (and burned)
  EXPECT_EQ(log_, (Log{init_entry("a", id), init_entry("b", id), "fail:c:" + std::to_string(id),
                       exit_entry("b", id), exit_entry("a", id)}));
  EXPECT_EQ(ops_[3].init_calls(), 1u);  // only init_net's: d and e never ran
  EXPECT_EQ(host_.net_count(), before.live_nets);
  EXPECT_EQ(live_ids(), std::vector<std::uint32_t>{1});
  EXPECT_FALSE(host_.find_net("blue"));
  HostStats after = host_.stats();
  EXPECT_EQ(after.net_objects, before.net_objects);
  EXPECT_EQ(after.dying_nets, 0u);
  EXPECT_EQ(after.nets_created - after.nets_freed, before.nets_created - before.nets_freed);

  // The name is free again, and the op works on the next try.
  auto retry = host_.create_net("blue");
  ASSERT_TRUE(retry);
  EXPECT_GT((*retry)->id(), id);
  EXPECT_EQ((*retry)->loopback().ifindex(), 1);
}

INSTANTIATE_TEST_SUITE_P(HostTest, FailingInit, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Device" : "Subsys"; });

TEST_F(HostTest, LateRegistrationInitialisesEveryExistingNamespace) {
  NetRef a = host_.create_net("a").value();
  NetRef b = host_.create_net("b").value();
  RecordingOps& ops = make_ops("late");
  ASSERT_TRUE(host_.register_pernet_subsys(ops));
  EXPECT_EQ(log_, (Log{init_entry("late", 1), init_entry("late", a->id()),
                       init_entry("late", b->id())}));
  log_.clear();
  NetRef c = host_.create_net("c").value();
  EXPECT_EQ(log_, Log{init_entry("late", c->id())});
}

TEST_F(HostTest, LateRegistrationFailingOnTheThirdNamespaceUndoesAndDoesNotRegister) {
  std::vector<NetRef> nets;
  for (int i = 0; i < 4; ++i) nets.push_back(host_.create_net().value());  // five with init_net
  RecordingOps& ops = make_ops("late");
  ops.fail_on_init(3);
  auto registered = host_.register_pernet_device(ops);
  ASSERT_FALSE(registered);
  EXPECT_EQ(registered.error(), RecordingOps::kFailure);
  std::uint32_t first = 1, second = nets[0]->id(), third = nets[1]->id();
  EXPECT_EQ(log_, (Log{init_entry("late", first), init_entry("late", second),
                       "fail:late:" + std::to_string(third), exit_entry("late", second),
                       exit_entry("late", first)}));
  log_.clear();

  // Not registered: new namespaces do not run it, dying ones do not exit it.
  NetRef later = host_.create_net().value();
  nets.clear();
  later.reset();
  poll();
  EXPECT_TRUE(log_.empty()) << log_.front();
  EXPECT_EQ(ops.init_calls(), 3u);

  // And it can be registered once it stops failing.
  ops.fail_on_init(0);
  EXPECT_TRUE(host_.register_pernet_device(ops));
  EXPECT_EQ(log_, Log{init_entry("late", 1)});
}

TEST_F(HostTest, RegisteringTheSameOpsTwiceIsRefused) {
  RecordingOps& ops = make_ops("x");
  ASSERT_TRUE(host_.register_pernet_subsys(ops));
  auto again = host_.register_pernet_device(ops);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::file_exists);
  EXPECT_EQ(log_.size(), 1u);  // no second init
}

TEST_F(HostTest, UnregistrationExitsEveryNamespace) {
  NetRef a = host_.create_net().value();
  NetRef b = host_.create_net().value();
  RecordingOps& ops = make_ops("x");
  ASSERT_TRUE(host_.register_pernet_subsys(ops));
  log_.clear();
  host_.unregister_pernet_subsys(ops);
  std::vector<std::string> sorted = log_;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, (Log{exit_entry("x", 1), exit_entry("x", a->id()), exit_entry("x", b->id())}));
  log_.clear();
  // Gone: creating and destroying namespaces no longer calls it.
  NetRef c = host_.create_net().value();
  c.reset();
  a.reset();
  poll();
  EXPECT_TRUE(log_.empty());
}

TEST_F(HostTest, UnregisteringADeviceOpExitsNamespacesQueuedForTeardownOnce) {
  RecordingOps& ops = make_ops("x");
  ASSERT_TRUE(host_.register_pernet_device(ops));
  NetRef net = host_.create_net().value();
  std::uint32_t id = net->id();
  net.reset();  // queued, not yet torn down
  log_.clear();
  host_.unregister_pernet_device(ops);
  poll();
  EXPECT_EQ(std::count(log_.begin(), log_.end(), exit_entry("x", id)), 1);
}

// A subsystem with per-namespace state in a typed slot.
struct Widgets {
  explicit Widgets(std::uint32_t id) : owner(id) {}
  std::uint32_t owner;
  int count = 0;
};

class WidgetOps : public PernetOps {
 public:
  explicit WidgetOps(Host& host) : slot(host) {}
  Result<void> init(Net& net) override {
    slot.emplace(net, net.id());
    return {};
  }
  void exit(Net& net) override {
    exits_saw_state += slot.find(net) != nullptr;
    slot.reset(net);
  }
  PernetSlot<Widgets> slot;
  int exits_saw_state = 0;
};

TEST_F(HostTest, PernetSlotGivesEachNamespaceItsOwnState) {
  WidgetOps ops(host_);
  ASSERT_TRUE(host_.register_pernet_subsys(ops));
  NetRef blue = host_.create_net("blue").value();
  NetRef red = host_.create_net("red").value();
  ops.slot.get(*blue).count = 7;
  EXPECT_EQ(ops.slot.get(*blue).owner, blue->id());
  EXPECT_EQ(ops.slot.get(*red).owner, red->id());
  EXPECT_EQ(ops.slot.get(*red).count, 0);
  EXPECT_EQ(ops.slot.get(host_.init_net()).owner, 1u);

  blue.reset();
  poll();
  EXPECT_EQ(ops.exits_saw_state, 1);
  host_.unregister_pernet_subsys(ops);  // before ops goes: exits red and init_net
  EXPECT_EQ(ops.exits_saw_state, 3);
  EXPECT_EQ(ops.slot.find(*red), nullptr);
}

TEST_F(HostTest, PernetSlotsOfOneHostHaveDistinctIdsAndAnotherHostNumbersItsOwn) {
  PernetSlot<int> a(host_);
  PernetSlot<int> b(host_);
  EXPECT_NE(a.id(), b.id());
  Host other(support::test_config(&messages_));
  PernetSlot<int> c(other);
  PernetSlot<int> d(host_);
  EXPECT_LT(c.id(), d.id());  // `other` counts from its own start
  EXPECT_EQ(c.find(other.init_net()), nullptr);
}

}  // namespace core_pernet_test
}  // namespace
}  // namespace netns
