// Timers: run by Host::poll on the virtual clock, in deadline order.
#include "netns/timer.hpp"

#include <memory>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_timer_test {

using namespace std::chrono_literals;

class TimerTest : public support::HostTest {
 protected:
  Clock::time_point at(Clock::duration d) const { return clock_.now() + d; }
  std::vector<std::string> fired_;
  std::function<void()> record(std::string name) {
    return [this, name = std::move(name)] { fired_.push_back(name); };
  }
};

TEST_F(TimerTest, FireInDeadlineOrderWhenDue) {
  Timer late(host_, record("late"));
  Timer early(host_, record("early"));
  Timer middle(host_, record("middle"));
  late.schedule(at(30ms));
  early.schedule(at(10ms));
  middle.schedule(at(20ms));
  EXPECT_EQ(host_.stats().timers_pending, 3u);

  EXPECT_EQ(poll(), at(10ms));  // nothing due yet: the next deadline
  EXPECT_TRUE(fired_.empty());
  clock_.advance(20ms);
  EXPECT_EQ(poll(), at(10ms));  // now + 10ms is the last one
  EXPECT_EQ(fired_, (std::vector<std::string>{"early", "middle"}));
  EXPECT_FALSE(early.pending());
  EXPECT_TRUE(late.pending());
  clock_.advance(1s);
  EXPECT_EQ(poll(), Clock::time_point::max());
  EXPECT_EQ(fired_, (std::vector<std::string>{"early", "middle", "late"}));
  EXPECT_EQ(host_.stats().timers_pending, 0u);
}

TEST_F(TimerTest, EqualDeadlinesFireInSchedulingOrder) {
  std::vector<std::unique_ptr<Timer>> timers;
  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    timers.push_back(std::make_unique<Timer>(host_, record(std::to_string(i))));
    expected.push_back(std::to_string(i));
  }
  // Scheduled in an order unrelated to their heap positions.
  for (auto& t : timers) t->schedule(at(5ms));
  clock_.advance(5ms);
  poll();
  EXPECT_EQ(fired_, expected);
}

TEST_F(TimerTest, CancelledTimerNeverFires) {
  Timer a(host_, record("a"));
  Timer b(host_, record("b"));
  Timer c(host_, record("c"));
  a.schedule(at(1ms));
  b.schedule(at(2ms));
  c.schedule(at(3ms));
  b.cancel();
  EXPECT_FALSE(b.pending());
  b.cancel();  // idempotent
  clock_.advance(10ms);
  poll();
  EXPECT_EQ(fired_, (std::vector<std::string>{"a", "c"}));
}

TEST_F(TimerTest, RearmingMovesTheDeadline) {
  Timer a(host_, record("a"));
  Timer b(host_, record("b"));
  a.schedule(at(1ms));
  b.schedule(at(2ms));
  a.schedule(at(3ms));  // later than b now
  EXPECT_EQ(a.deadline(), at(3ms));
  EXPECT_EQ(host_.stats().timers_pending, 2u);
  EXPECT_EQ(poll(), at(2ms));
  clock_.advance(5ms);
  poll();
  EXPECT_EQ(fired_, (std::vector<std::string>{"b", "a"}));
}

TEST_F(TimerTest, ATimerDestroyedWhilePendingNeverFires) {
  auto doomed = std::make_unique<Timer>(host_, record("doomed"));
  Timer kept(host_, record("kept"));
  doomed->schedule(at(1ms));
  kept.schedule(at(2ms));
  doomed.reset();
  EXPECT_EQ(host_.stats().timers_pending, 1u);
  clock_.advance(5ms);
  poll();
  EXPECT_EQ(fired_, std::vector<std::string>{"kept"});
}

TEST_F(TimerTest, ACallbackMayDestroyItsOwnTimer) {
  std::unique_ptr<Timer> self;
  int fired = 0;
  std::string tag = "captured state the callback still uses after destroying its timer";
  std::string seen;
  self = std::make_unique<Timer>(host_, [&self, &fired, &seen, tag] {
    self.reset();
    ++fired;
    seen = tag;  // the callback's own captures must still be alive here
  });
  Timer other(host_, record("other"));
  self->schedule(at(1ms));
  other.schedule(at(1ms));
  clock_.advance(1ms);
  poll();
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(seen, tag);
  EXPECT_EQ(fired_, std::vector<std::string>{"other"});
  EXPECT_EQ(host_.stats().timers_pending, 0u);
}

TEST_F(TimerTest, ACallbackMayRearmItsOwnTimerAndCancelOthers) {
  int ticks = 0;
  Timer other(host_, record("other"));
  std::unique_ptr<Timer> periodic;
  periodic = std::make_unique<Timer>(host_, [&] {
    ++ticks;
    other.cancel();
    if (ticks < 3) periodic->schedule(host_.now() + 10ms);
  });
  periodic->schedule(at(10ms));
  other.schedule(at(10ms));  // same deadline, scheduled after: cancelled before it runs
  for (int i = 0; i < 5; ++i) {
    clock_.advance(10ms);
    poll();
  }
  EXPECT_EQ(ticks, 3);
  EXPECT_TRUE(fired_.empty());
  EXPECT_FALSE(periodic->pending());
  // Re-armed after firing, the callback is still there to run.
  periodic->schedule(at(1ms));
  clock_.advance(1ms);
  poll();
  EXPECT_EQ(ticks, 4);
}

TEST_F(TimerTest, TimersDueNowThatAreArmedWhileRunningRunInTheSamePoll) {
  Timer second(host_, record("second"));
  Timer first(host_, [&] {
    fired_.push_back("first");
    second.schedule(host_.now());
  });
  first.schedule(at(0ms));
  EXPECT_EQ(poll(), Clock::time_point::max());
  EXPECT_EQ(fired_, (std::vector<std::string>{"first", "second"}));
}

TEST_F(TimerTest, ManyTimersWithMixedCancelsFireInOrder) {
  // A scrambled schedule exercises the heap's sift paths and cancel from the middle.
  constexpr int kCount = 500;
  std::vector<int> order;
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < kCount; ++i) {
    timers.push_back(std::make_unique<Timer>(host_, [&order, i] { order.push_back(i); }));
  }
  for (int i = 0; i < kCount; ++i) {
    int deadline = (i * 7919) % kCount;  // a permutation of 0..kCount-1
    timers[static_cast<std::size_t>(i)]->schedule(at(std::chrono::milliseconds(deadline)));
  }
  for (int i = 0; i < kCount; i += 3) timers[static_cast<std::size_t>(i)]->cancel();
  clock_.advance(std::chrono::milliseconds(kCount));
  poll();
  std::vector<int> deadlines;
  for (int i : order) {
    EXPECT_NE(i % 3, 0);
    deadlines.push_back((i * 7919) % kCount);
  }
  EXPECT_EQ(order.size(), static_cast<std::size_t>(kCount - (kCount + 2) / 3));
  EXPECT_TRUE(std::is_sorted(deadlines.begin(), deadlines.end()));
}

}  // namespace core_timer_test
}  // namespace
}  // namespace netns
