// Host::move_device (dev_change_net_namespace): names, ifindexes, state, queued frames.
#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_move_device_test {

using support::RecordingHandler;
using support::TwoNets;

class MoveDevice : public TwoNets {
 protected:
  void SetUp() override {
    TwoNets::SetUp();
    green_ = host_.create_net("green").value();
  }
  NetRef green_;
};

TEST_F(MoveDevice, ANameTakenInTheTargetIsRefusedAndNothingChanges) {
  auto moved = host_.move_device(*blue_eth0_, *red_);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error(), Errc::file_exists);
  EXPECT_EQ(&blue_eth0_->net(), blue_.get());
  EXPECT_EQ(blue_->device("eth0"), blue_eth0_);
  EXPECT_EQ(blue_eth0_->ifindex(), 2);
  EXPECT_TRUE(blue_eth0_->is_up());  // not even taken down
  EXPECT_EQ(red_->device("eth0"), red_eth0_);
  EXPECT_EQ(red_->device_count(), 2u);
}

TEST_F(MoveDevice, NewNameResolvesTheConflictAndANewIfindexIsAssignedWhenTaken) {
  ASSERT_TRUE(host_.move_device(*blue_eth0_, *red_, "eth1"));
  EXPECT_EQ(&blue_eth0_->net(), red_.get());
  EXPECT_EQ(blue_eth0_->name(), "eth1");
  EXPECT_EQ(red_->device("eth1"), blue_eth0_);
  EXPECT_EQ(blue_->device("eth0"), nullptr);
  EXPECT_EQ(blue_->device_count(), 1u);
  // ifindex 2 is red's eth0: the moved device gets another, unique one.
  EXPECT_NE(blue_eth0_->ifindex(), 2);
  EXPECT_EQ(red_->device(blue_eth0_->ifindex()), blue_eth0_);
  EXPECT_EQ(red_->device(2), red_eth0_);
  EXPECT_FALSE(blue_eth0_->is_up());
}

TEST_F(MoveDevice, IfindexIsKeptWhenFreeInTheTargetAndTheDeviceIsDown) {
  ASSERT_TRUE(host_.move_device(*blue_eth0_, *green_));
  EXPECT_EQ(&blue_eth0_->net(), green_.get());
  EXPECT_EQ(blue_eth0_->name(), "eth0");
  EXPECT_EQ(blue_eth0_->ifindex(), 2);
  EXPECT_EQ(green_->device(2), blue_eth0_);
  EXPECT_FALSE(blue_eth0_->is_up());
  EXPECT_FALSE(red_eth0_->is_running());  // its peer went down with the move

  // Brought up in its new namespace, it still reaches its peer, and frames
  // come in to green now.
  RecordingHandler seen(host_);
  ASSERT_TRUE(set_link_up(*blue_eth0_));
  red_eth0_->transmit(frame_to_blue());
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, green_->id());
}

TEST_F(MoveDevice, ANewDeviceInTheOldNamespaceDoesNotReuseTheIfindexByAccident) {
  ASSERT_TRUE(host_.move_device(*blue_eth0_, *green_));
  auto ch = make_channel(*green_, "ch0");
  ASSERT_TRUE(ch);
  EXPECT_NE((*ch)->ifindex(), blue_eth0_->ifindex());
  EXPECT_EQ(green_->device_count(), 3u);
}

TEST_F(MoveDevice, FramesQueuedBeforeTheMoveAreDroppedNeverSeenInTheNewNamespace) {
  RecordingHandler seen(host_);
  red_eth0_->transmit(frame_to_blue());
  red_eth0_->transmit(frame_to_blue());
  ASSERT_EQ(blue_eth0_->backlog_size(), 2u);
  ASSERT_TRUE(host_.move_device(*blue_eth0_, *green_));
  EXPECT_EQ(blue_eth0_->backlog_size(), 0u);
  EXPECT_EQ(blue_eth0_->stats().rx_dropped, 2u);
  ASSERT_TRUE(set_link_up(*blue_eth0_));  // even up again, nothing old comes in
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(MoveDevice, RenamingWithinTheSameNamespaceKeepsTheIfindex) {
  ASSERT_TRUE(host_.move_device(*blue_eth0_, *blue_, "uplink"));
  EXPECT_EQ(blue_->device("uplink"), blue_eth0_);
  EXPECT_EQ(blue_->device("eth0"), nullptr);
  EXPECT_EQ(blue_eth0_->ifindex(), 2);
  // Moving to where it already is under its own name changes nothing.
  ASSERT_TRUE(set_link_up(*blue_eth0_));
  EXPECT_TRUE(host_.move_device(*blue_eth0_, *blue_));
  EXPECT_TRUE(blue_eth0_->is_up());
}

TEST_F(MoveDevice, MovingIntoADyingNamespaceIsRefused) {
  Net* green = green_.get();
  green_.reset();
  auto moved = host_.move_device(*blue_eth0_, *green);
  ASSERT_FALSE(moved);
  EXPECT_EQ(&blue_eth0_->net(), blue_.get());
  poll();
}

TEST_F(MoveDevice, AMovedVethDiesWithItsNewNamespace) {
  ASSERT_TRUE(host_.move_device(*blue_eth0_, *green_));
  green_.reset();
  poll();
  EXPECT_EQ(red_->device("eth0"), nullptr);
  EXPECT_EQ(blue_->device_count(), 1u);
}

}  // namespace devices_move_device_test
}  // namespace
}  // namespace netns
