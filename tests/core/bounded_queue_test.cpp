// BoundedQueue: the one FIFO every queue is made of.
#include "netns/bounded_queue.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace netns {
namespace {
namespace core_bounded_queue_test {

TEST(BoundedQueue, IsFifoAcrossGrowthAndWrapAround) {
  BoundedQueue<int> q(100);
  int next_in = 0, next_out = 0;
  // Interleave pushes and pops so the head wraps while the ring grows.
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 7; ++i) ASSERT_TRUE(q.push(next_in++));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(q.pop(), next_out++);
  }
  EXPECT_EQ(q.size(), 30u);
  while (auto v = q.pop()) EXPECT_EQ(*v, next_out++);
  EXPECT_EQ(next_out, next_in);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.pop());
}

TEST(BoundedQueue, RefusesPushesBeyondCapacity) {
  BoundedQueue<int> q(3);
  EXPECT_TRUE(q.push(1));
  EXPECT_TRUE(q.push(2));
  EXPECT_TRUE(q.push(3));
  EXPECT_TRUE(q.full());
  EXPECT_FALSE(q.push(4));
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.front(), 1);
}

TEST(BoundedQueue, ZeroCapacityHoldsNothing) {
  BoundedQueue<int> q;
  EXPECT_FALSE(q.push(1));
  EXPECT_TRUE(q.empty());
}

TEST(BoundedQueue, ShrinkingKeepsWhatIsQueuedAndRefusesUntilDrained) {
  BoundedQueue<int> q(5);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(q.push(int{i}));
  q.set_capacity(2);
  EXPECT_EQ(q.size(), 5u);
  EXPECT_FALSE(q.push(9));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.pop(), i);
  EXPECT_TRUE(q.push(9));
  EXPECT_EQ(q.pop(), 4);
  EXPECT_EQ(q.pop(), 9);
}

TEST(BoundedQueue, HoldsMoveOnlyValuesAndReleasesThemWhenPopped) {
  auto shared = std::make_shared<int>(7);
  BoundedQueue<std::shared_ptr<int>> q(4);
  ASSERT_TRUE(q.push(std::shared_ptr<int>(shared)));
  EXPECT_EQ(shared.use_count(), 2);
  auto out = q.pop();
  out.reset();
  EXPECT_EQ(shared.use_count(), 1);  // the slot it left does not keep a copy
  ASSERT_TRUE(q.push(std::shared_ptr<int>(shared)));
  q.clear();
  EXPECT_EQ(shared.use_count(), 1);
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(q.push(std::shared_ptr<int>(shared)));  // usable after clear
}

TEST(BoundedQueue, ForEachVisitsInOrder) {
  BoundedQueue<std::string> q(10);
  for (auto s : {"a", "b", "c"}) ASSERT_TRUE(q.push(std::string(s)));
  (void)q.pop();
  ASSERT_TRUE(q.push("d"));
  std::string seen;
  q.for_each([&](std::string& s) { seen += s; });
  EXPECT_EQ(seen, "bcd");
}

TEST(BoundedQueue, MovedFromQueueIsEmptyAndUsable) {
  BoundedQueue<int> a(8);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(a.push(int{i}));
  BoundedQueue<int> b(std::move(a));
  EXPECT_EQ(b.size(), 5u);
  EXPECT_EQ(b.pop(), 0);
  // NOLINTBEGIN(bugprone-use-after-move): a moved-from queue is empty by contract
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a.pop());
  EXPECT_TRUE(a.push(42));
  EXPECT_EQ(a.pop(), 42);
  BoundedQueue<int> c(2);
  c = std::move(b);
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.capacity(), 8u);
  EXPECT_TRUE(b.empty());
  EXPECT_FALSE(b.pop());
  // NOLINTEND(bugprone-use-after-move)
}

// A Packet is 32 bytes: each slot must lie in one cache line, or the frame
// that uses it misses twice when many namespaces are busy.
TEST(BoundedQueue, NoSlotStraddlesACacheLine) {
  struct Item {
    std::array<std::uint64_t, 4> words{};
  };
  static_assert(sizeof(Item) == 32);
  BoundedQueue<Item> q(64);
  for (std::size_t n = 0; n < 64; ++n) {
    ASSERT_TRUE(q.push(Item{}));
    for (std::size_t i = 0; i <= n; ++i) {
      auto at = reinterpret_cast<std::uintptr_t>(q.peek(i));
      EXPECT_LE(at % 64 + sizeof(Item), 64u) << "slot " << i << " of " << n + 1;
    }
  }
}

// The counts are 32-bit: a capacity past 2^31 is taken as 2^31.
TEST(BoundedQueue, CapacityBeyondTwoToThe31IsClamped) {
  BoundedQueue<int> q(std::size_t{1} << 40);
  EXPECT_EQ(q.capacity(), std::size_t{1} << 31);
  q.set_capacity(std::size_t{1} << 33);
  EXPECT_EQ(q.capacity(), std::size_t{1} << 31);
  q.set_capacity(5);
  EXPECT_EQ(q.capacity(), 5u);
}

TEST(BoundedQueue, ClearReleasesWhatWaitsAndTheQueueServesAgain) {
  auto shared = std::make_shared<int>(7);
  BoundedQueue<std::shared_ptr<int>> q(8);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(q.push(std::shared_ptr<int>(shared)));
  EXPECT_EQ(shared.use_count(), 7);
  q.clear();
  EXPECT_EQ(shared.use_count(), 1);
  EXPECT_TRUE(q.empty());
  ASSERT_TRUE(q.push(std::shared_ptr<int>(shared)));
  EXPECT_EQ(*q.pop().value(), 7);
  {
    BoundedQueue<std::shared_ptr<int>> doomed(4);
    ASSERT_TRUE(doomed.push(std::shared_ptr<int>(shared)));
    EXPECT_EQ(shared.use_count(), 2);
  }
  EXPECT_EQ(shared.use_count(), 1);  // destroying a queue destroys what waits in it
}

}  // namespace core_bounded_queue_test
}  // namespace
}  // namespace netns
