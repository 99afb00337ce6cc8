// The loopback: one per namespace, ifindex 1, bound to its namespace.
#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_loopback_test {

using support::HostTest;
using support::kTestEthertype;
using support::RecordingHandler;
using support::TwoNets;

TEST_F(HostTest, EveryNamespaceHasALoopbackWithIfindexOneDown) {
  NetRef blue = host_.create_net("blue").value();
  for (Net* net : {&host_.init_net(), blue.get()}) {
    Device& lo = net->loopback();
    EXPECT_EQ(lo.name(), "lo");
    EXPECT_EQ(lo.ifindex(), 1);
    EXPECT_EQ(lo.kind(), DeviceKind::loopback);
    EXPECT_EQ(to_string(lo.kind()), "loopback");
    EXPECT_FALSE(lo.is_up());
    EXPECT_EQ(&lo.net(), net);
    EXPECT_EQ(lo.mtu(), 65536u);
    EXPECT_EQ(net->device("lo"), &lo);
    EXPECT_EQ(net->device(1), &lo);
    EXPECT_EQ(net->device_count(), 1u);
  }
  EXPECT_NE(&blue->loopback(), &host_.init_net().loopback());
}

TEST_F(HostTest, LoopbackCannotBeDestroyed) {
  Device& lo = host_.init_net().loopback();
  auto destroyed = destroy_device(lo);
  ASSERT_FALSE(destroyed);
  EXPECT_EQ(destroyed.error(), Errc::operation_not_permitted);
  EXPECT_EQ(host_.init_net().device("lo"), &lo);
}

TEST_F(TwoNets, LoopbackCannotBeMoved) {
  Device& lo = blue_->loopback();
  ASSERT_TRUE(set_link_up(lo));
  auto moved = host_.move_device(lo, *red_, "lo2");
  ASSERT_FALSE(moved);
  EXPECT_EQ(&lo.net(), blue_.get());
  EXPECT_EQ(lo.name(), "lo");
  EXPECT_EQ(lo.ifindex(), 1);
  EXPECT_TRUE(lo.is_up());
  EXPECT_EQ(red_->device("lo2"), nullptr);
  EXPECT_EQ(&red_->loopback(), red_->device("lo"));
}

TEST_F(HostTest, LoopbackDeliversToItsOwnNamespaceOnlyWhenUp) {
  RecordingHandler seen(host_);
  NetRef blue = host_.create_net("blue").value();
  Device& lo = blue->loopback();
  lo.transmit(support::make_frame(host_, MacAddress{}, MacAddress{}, kTestEthertype, 20));
  EXPECT_EQ(lo.stats().tx_dropped, 1u);  // down
  ASSERT_TRUE(set_link_up(lo));
  lo.transmit(support::make_frame(host_, MacAddress{}, MacAddress{}, kTestEthertype, 20));
  EXPECT_EQ(seen.count(), 0u);  // queued, never inline
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, blue->id());
  EXPECT_EQ(seen.frames()[0].device, "lo");
  EXPECT_EQ(seen.frames()[0].size, 20u);
  EXPECT_EQ(lo.stats().tx_packets, 1u);
  EXPECT_EQ(lo.stats().rx_packets, 1u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

}  // namespace devices_loopback_test
}  // namespace
}  // namespace netns
