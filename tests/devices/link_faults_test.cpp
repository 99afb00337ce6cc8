// set_link_faults: netem on an in-process link, seeded so failures replay.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <vector>

#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_link_faults_test {

using namespace std::chrono_literals;
using support::RecordingHandler;

// Blue sends numbered frames to red over the veth; red records the numbers.
class LinkFaultsTest : public support::TwoNets {
 protected:
  void SetUp() override {
    TwoNets::SetUp();
    seen_.on_frame = [this](Net&, Device&, Packet frame) {
      auto b = frame.data();
      numbers_.push_back(std::to_integer<int>(b[0]) << 8 | std::to_integer<int>(b[1]));
      payloads_.emplace_back(b.begin(), b.end());
    };
  }
  Packet numbered(int n) {
    Packet p = frame_to_red(46);
    auto b = p.mutable_data();
    b[support::kEthHeader] = std::byte(n >> 8);
    b[support::kEthHeader + 1] = std::byte(n & 0xff);
    return p;
  }
  void send(int count) {
    for (int n = 0; n < count; ++n) blue_eth0_->transmit(numbered(n));
    poll();
  }
  std::vector<int> run_with(const LinkFaults& f, int count) {
    EXPECT_TRUE(set_link_faults(*blue_eth0_, f));
    numbers_.clear();
    send(count);
    return numbers_;
  }

  RecordingHandler seen_{host_};
  std::vector<int> numbers_;
  std::vector<std::vector<std::byte>> payloads_;
};

TEST_F(LinkFaultsTest, TotalLossDeliversNothing) {
  auto got = run_with({.loss = 1.0}, 50);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(blue_eth0_->stats().tx_dropped, 50u);
}

TEST_F(LinkFaultsTest, LossIsSeededAndReplaysExactly) {
  auto first = run_with({.loss = 0.3, .seed = 7}, 1000);
  auto again = run_with({.loss = 0.3, .seed = 7}, 1000);
  auto other = run_with({.loss = 0.3, .seed = 8}, 1000);
  EXPECT_GT(first.size(), 600u);
  EXPECT_LT(first.size(), 800u);
  EXPECT_EQ(first, again);  // same seed, same frames lost
  EXPECT_NE(first, other);
}

TEST_F(LinkFaultsTest, DuplicationSharesTheBytes) {
  auto got = run_with({.duplicate = 1.0}, 20);
  ASSERT_EQ(got.size(), 40u);
  for (int n = 0; n < 20; ++n) EXPECT_EQ(std::count(got.begin(), got.end(), n), 2) << n;
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(LinkFaultsTest, CorruptionFlipsExactlyOneBit) {
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {.corrupt = 1.0, .seed = 3}));
  const int kFrames = 30;
  std::vector<std::vector<std::byte>> sent;
  for (int n = 0; n < kFrames; ++n) {
    Packet p = numbered(n);
    auto b = p.data().subspan(support::kEthHeader);
    sent.emplace_back(b.begin(), b.end());
    blue_eth0_->transmit(std::move(p));
  }
  poll();
  // Every frame reached red; a flip in the ethertype sends one to no handler.
  EXPECT_EQ(red_eth0_->stats().rx_packets, static_cast<std::uint64_t>(kFrames));
  EXPECT_EQ(payloads_.size() + red_eth0_->stats().rx_nohandler, static_cast<std::size_t>(kFrames));
  std::size_t compared = 0;
  for (std::size_t i = 0; i < payloads_.size(); ++i) {
    int n = numbers_[i];
    if (n < 0 || n >= kFrames) continue;  // the flipped bit hit the number itself
    int bits = 0;
    for (std::size_t k = 0; k < sent[n].size(); ++k) {
      bits += std::popcount(std::to_integer<unsigned>(sent[n][k] ^ payloads_[i][k]));
    }
    EXPECT_LE(bits, 1) << "frame " << n;
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

TEST_F(LinkFaultsTest, DelayHoldsFramesUntilTheirTime) {
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {.delay = 10ms}));
  for (int n = 0; n < 5; ++n) blue_eth0_->transmit(numbered(n));
  auto next = poll();
  EXPECT_TRUE(numbers_.empty());
  EXPECT_EQ(next, clock_.now() + 10ms);  // poll says when the link has work again
  clock_.advance(9ms);
  poll();
  EXPECT_TRUE(numbers_.empty());
  clock_.advance(1ms);
  poll();
  EXPECT_EQ(numbers_, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(LinkFaultsTest, JitterAndReorderChangeTheOrderButLoseNothing) {
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {.reorder = 0.25, .delay = 10ms, .jitter = 5ms, .seed = 11}));
  for (int n = 0; n < 200; ++n) blue_eth0_->transmit(numbered(n));
  poll();
  std::size_t immediately = numbers_.size();
  EXPECT_GT(immediately, 0u);  // the reordered ones skip the delay
  EXPECT_LT(immediately, 200u);
  clock_.advance(15ms);
  poll();
  ASSERT_EQ(numbers_.size(), 200u);
  EXPECT_FALSE(std::is_sorted(numbers_.begin(), numbers_.end()));
  auto sorted = numbers_;
  std::sort(sorted.begin(), sorted.end());
  for (int n = 0; n < 200; ++n) EXPECT_EQ(sorted[n], n);
}

TEST_F(LinkFaultsTest, BadParametersChangeNothing) {
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {.loss = 1.0}));
  EXPECT_EQ(set_link_faults(*blue_eth0_, {.loss = 1.5}).error(), error(Errc::invalid_argument));
  EXPECT_EQ(set_link_faults(*blue_eth0_, {.corrupt = -0.1}).error(), error(Errc::invalid_argument));
  EXPECT_EQ(set_link_faults(*blue_eth0_, {.delay = -1ms}).error(), error(Errc::invalid_argument));
  send(3);
  EXPECT_TRUE(numbers_.empty());  // the earlier loss = 1 still holds
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {}));  // all zero: faults removed
  send(3);
  EXPECT_EQ(numbers_.size(), 3u);
}

TEST_F(LinkFaultsTest, HeldFramesAreBoundedAndDroppedWhenTheLinkGoesDown) {
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {.delay = 1s}));
  for (int n = 0; n < 1200; ++n) blue_eth0_->transmit(numbered(n));
  poll();
  EXPECT_EQ(blue_eth0_->stats().tx_dropped, 200u);  // over netem's limit of 1000
  ASSERT_TRUE(set_link_up(*blue_eth0_, false));
  EXPECT_EQ(blue_eth0_->stats().tx_dropped, 1200u);
  ASSERT_TRUE(set_link_up(*blue_eth0_, true));
  clock_.advance(2s);
  poll();
  EXPECT_TRUE(numbers_.empty());
}

TEST_F(LinkFaultsTest, HeldFramesNeverReachANamespaceTheDeviceMovedTo) {
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {.delay = 5ms}));
  for (int n = 0; n < 10; ++n) blue_eth0_->transmit(numbered(n));
  poll();
  NetRef green = host_.create_net("green").value();
  ASSERT_TRUE(host_.move_device(*blue_eth0_, *green));
  ASSERT_TRUE(set_link_up(*blue_eth0_));
  clock_.advance(10ms);
  poll();
  EXPECT_TRUE(numbers_.empty());
}

TEST_F(LinkFaultsTest, DestroyingADeviceWithHeldFramesIsClean) {
  ASSERT_TRUE(set_link_faults(*blue_eth0_, {.delay = 5ms}));
  for (int n = 0; n < 10; ++n) blue_eth0_->transmit(numbered(n));
  poll();
  ASSERT_TRUE(destroy_device(*blue_eth0_));
  clock_.advance(10ms);
  poll();
  EXPECT_TRUE(numbers_.empty());
  EXPECT_EQ(host_.stats().timers_pending, 0u);
}

}  // namespace devices_link_faults_test
}  // namespace
}  // namespace netns
