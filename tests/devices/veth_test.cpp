// veth pairs: per-namespace names, delivery to the peer's namespace only,
// carrier, teardown with either end or either namespace, and the poll bound.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_veth_test {

using support::HostTest;
using support::kEthHeader;
using support::kTestEthertype;
using support::kUnhandledEthertype;
using support::make_frame;
using support::RecordingHandler;
using support::TwoNets;

TEST_F(TwoNets, NamesAndIfindexesArePerNamespace) {
  EXPECT_EQ(blue_eth0_->name(), "eth0");
  EXPECT_EQ(red_eth0_->name(), "eth0");
  EXPECT_EQ(blue_eth0_->ifindex(), 2);
  EXPECT_EQ(red_eth0_->ifindex(), 2);
  EXPECT_EQ(blue_eth0_->kind(), DeviceKind::veth);
  EXPECT_EQ(&blue_eth0_->net(), blue_.get());
  EXPECT_EQ(&red_eth0_->net(), red_.get());
  EXPECT_EQ(blue_->device("eth0"), blue_eth0_);
  EXPECT_EQ(red_->device(2), red_eth0_);
  EXPECT_EQ(host_.init_net().device("eth0"), nullptr);
  EXPECT_NE(blue_eth0_->mac(), red_eth0_->mac());
  std::vector<int> ifindexes;
  for (Device& dev : blue_->devices()) ifindexes.push_back(dev.ifindex());
  EXPECT_EQ(ifindexes, (std::vector<int>{1, 2}));
}

TEST_F(TwoNets, ANameTakenInOneNamespaceIsRefusedThere) {
  auto again = make_veth(*blue_, "eth0", *red_, "eth1");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::file_exists);
  EXPECT_EQ(red_->device("eth1"), nullptr);
  auto same = make_veth(*blue_, "x", *blue_, "x");
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error(), Errc::file_exists);
  EXPECT_EQ(blue_->device_count(), 2u);
  auto channel = make_channel(*red_, "eth0");
  ASSERT_FALSE(channel);
  EXPECT_EQ(channel.error(), Errc::file_exists);
}

// Linux's dev_valid_name, for every kind that takes a name.
class BadDeviceName : public TwoNets, public ::testing::WithParamInterface<std::string_view> {};

TEST_P(BadDeviceName, IsRefusedWithInvalidArgumentAndNothingChanges) {
  const std::string_view name = GetParam();
  auto veth = make_veth(*blue_, name, *red_, "ok0");
  ASSERT_FALSE(veth);
  EXPECT_EQ(veth.error(), Errc::invalid_argument);
  auto veth_b = make_veth(*blue_, "ok0", *red_, name);
  ASSERT_FALSE(veth_b);
  EXPECT_EQ(veth_b.error(), Errc::invalid_argument);
  auto channel = make_channel(*blue_, name);
  ASSERT_FALSE(channel);
  EXPECT_EQ(channel.error(), Errc::invalid_argument);
  if (!name.empty()) {  // an empty new_name means "keep the name"
    auto moved = host_.move_device(*blue_eth0_, *red_, name);
    ASSERT_FALSE(moved);
    EXPECT_EQ(moved.error(), Errc::invalid_argument);
  }
  EXPECT_EQ(blue_->device_count(), 2u);
  EXPECT_EQ(red_->device_count(), 2u);
  EXPECT_EQ(blue_->device("ok0"), nullptr);
  EXPECT_EQ(&blue_eth0_->net(), blue_.get());
}

INSTANTIATE_TEST_SUITE_P(TwoNets, BadDeviceName,
                         ::testing::Values(std::string_view(""),
                                           std::string_view("sixteen-chars-xx"),
                                           std::string_view("a/b"), std::string_view("a:b"),
                                           std::string_view("."), std::string_view(".."),
                                           std::string_view("a b")));

TEST_F(TwoNets, FifteenCharactersIsTheLongestName) {
  auto veth = make_veth(*blue_, "fifteen-chars-x", *red_, "v1");
  ASSERT_TRUE(veth);
  EXPECT_EQ(veth->a->name(), "fifteen-chars-x");
}

TEST_F(TwoNets, FramesReachOnlyThePeersNamespaceWithoutACopy) {
  RecordingHandler seen(host_);
  blue_eth0_->transmit(frame_to_red(100));
  EXPECT_EQ(seen.count(), 0u);  // delivered by poll, never inline
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, red_->id());
  EXPECT_EQ(seen.frames()[0].device, "eth0");
  EXPECT_EQ(seen.frames()[0].ifindex, red_eth0_->ifindex());
  EXPECT_EQ(seen.frames()[0].size, 100u);
  EXPECT_EQ(blue_eth0_->stats().tx_packets, 1u);
  EXPECT_EQ(blue_eth0_->stats().tx_bytes, kEthHeader + 100);
  EXPECT_EQ(red_eth0_->stats().rx_packets, 1u);
  EXPECT_EQ(red_eth0_->stats().rx_bytes, kEthHeader + 100);
  EXPECT_EQ(blue_eth0_->stats().rx_packets, 0u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);

  red_eth0_->transmit(frame_to_blue(10));
  poll();
  ASSERT_EQ(seen.count(), 2u);
  EXPECT_EQ(seen.frames()[1].net_id, blue_->id());
}

TEST_F(TwoNets, CarrierFollowsThePeerAndADownEndDrops) {
  RecordingHandler seen(host_);
  EXPECT_TRUE(blue_eth0_->is_running());
  ASSERT_TRUE(set_link_up(*red_eth0_, false));
  EXPECT_TRUE(blue_eth0_->is_up());
  EXPECT_FALSE(blue_eth0_->is_running());  // no carrier: the peer is down
  EXPECT_FALSE(red_eth0_->is_running());

  blue_eth0_->transmit(frame_to_red());
  EXPECT_EQ(blue_eth0_->stats().tx_dropped, 1u);
  ASSERT_TRUE(set_link_up(*blue_eth0_, false));
  blue_eth0_->transmit(frame_to_red());
  EXPECT_EQ(blue_eth0_->stats().tx_dropped, 2u);
  poll();
  EXPECT_EQ(seen.count(), 0u);

  ASSERT_TRUE(set_link_up(*blue_eth0_));
  ASSERT_TRUE(set_link_up(*red_eth0_));
  EXPECT_TRUE(blue_eth0_->is_running());
  blue_eth0_->transmit(frame_to_red());
  poll();
  EXPECT_EQ(seen.count(), 1u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(TwoNets, FramesQueuedWhenTheReceiverGoesDownAreDropped) {
  RecordingHandler seen(host_);
  blue_eth0_->transmit(frame_to_red());
  blue_eth0_->transmit(frame_to_red());
  ASSERT_TRUE(set_link_up(*red_eth0_, false));
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(red_eth0_->stats().rx_dropped, 2u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(TwoNets, OversizedFramesAreDroppedAtThePeer) {
  RecordingHandler seen(host_);
  blue_eth0_->transmit(frame_to_red(1500 + 4));  // payload + header within mtu + 18
  blue_eth0_->transmit(frame_to_red(1500 + 5));
  poll();
  EXPECT_EQ(seen.count(), 1u);
  EXPECT_EQ(blue_eth0_->stats().tx_dropped, 1u);
}

class DestroyEnd : public TwoNets, public ::testing::WithParamInterface<bool> {};

TEST_P(DestroyEnd, DestroyingEitherEndDestroysThePair) {
  RecordingHandler seen(host_);
  Device* victim = GetParam() ? blue_eth0_ : red_eth0_;
  blue_eth0_->transmit(frame_to_red());  // queued at red: dropped with the device
  red_eth0_->transmit(frame_to_blue());
  ASSERT_TRUE(destroy_device(*victim));
  EXPECT_EQ(blue_->device("eth0"), nullptr);
  EXPECT_EQ(red_->device("eth0"), nullptr);
  EXPECT_EQ(blue_->device_count(), 1u);
  EXPECT_EQ(red_->device_count(), 1u);
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
  // Both names are free again.
  EXPECT_TRUE(make_veth(*blue_, "eth0", *red_, "eth0"));
}

INSTANTIATE_TEST_SUITE_P(TwoNets, DestroyEnd, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Blue" : "Red"; });

class DestroyNet : public TwoNets, public ::testing::WithParamInterface<bool> {};

TEST_P(DestroyNet, DestroysItsVethAndThePeerInTheOtherNamespace) {
  const bool drop_blue = GetParam();
  NetRef& dying = drop_blue ? blue_ : red_;
  NetRef& survivor = drop_blue ? red_ : blue_;
  (drop_blue ? red_eth0_ : blue_eth0_)->transmit(drop_blue ? frame_to_blue() : frame_to_red());
  dying.reset();
  poll();
  EXPECT_EQ(survivor->device("eth0"), nullptr);
  EXPECT_EQ(survivor->device_count(), 1u);
  EXPECT_EQ(host_.stats().dying_nets, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

INSTANTIATE_TEST_SUITE_P(TwoNets, DestroyNet, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Blue" : "Red"; });

TEST_F(TwoNets, BothNamespacesDyingTogetherTearTheVethDownOnce) {
  blue_.reset();
  red_.reset();
  poll();
  EXPECT_EQ(host_.net_count(), 1u);
  EXPECT_EQ(host_.stats().dying_nets, 0u);
  EXPECT_EQ(host_.stats().net_objects, 1u);
}

TEST_F(HostTest, AThousandNamespacesEachWithEth0ReachTheRightHubDevice) {
  constexpr int kSpokes = 1000;
  RecordingHandler seen(host_);
  NetRef hub = host_.create_net("hub").value();
  std::vector<NetRef> spokes;
  std::vector<Device*> eth0;
  for (int i = 0; i < kSpokes; ++i) {
    spokes.push_back(host_.create_net().value());
    auto veth = make_veth(*spokes.back(), "eth0", *hub, fmt::format("v{}", i));
    ASSERT_TRUE(veth);
    EXPECT_EQ(veth->a->ifindex(), 2);
    ASSERT_TRUE(set_link_up(*veth->a));
    ASSERT_TRUE(set_link_up(*veth->b));
    eth0.push_back(veth->a);
  }
  EXPECT_EQ(hub->device_count(), kSpokes + 1u);
  // Send in reverse so order of arrival cannot hide a mix-up.
  for (int i = kSpokes; i-- > 0;) {
    Device* dev = eth0[static_cast<std::size_t>(i)];
    dev->transmit(make_frame(host_, MacAddress::broadcast(), dev->mac(), kTestEthertype,
                             static_cast<std::size_t>(i)));
  }
  poll();
  ASSERT_EQ(seen.count(), std::size_t{kSpokes});
  std::vector<bool> reached(kSpokes, false);
  for (const auto& f : seen.frames()) {
    EXPECT_EQ(f.net_id, hub->id());
    // The payload size says which spoke sent it; it must arrive on that spoke's peer.
    EXPECT_EQ(f.device, fmt::format("v{}", f.size));
    EXPECT_EQ(hub->device(f.ifindex)->name(), f.device);
    reached[f.size] = true;
  }
  EXPECT_EQ(std::count(reached.begin(), reached.end(), true), kSpokes);
  EXPECT_EQ(host_.stats().packet_copies, 0u);

  spokes.clear();
  poll();
  EXPECT_EQ(hub->device_count(), 1u);
}

TEST_F(TwoNets, BacklogIsBoundedByNetdevMaxBacklogOfTheReceiver) {
  RecordingHandler seen(host_);
  constexpr std::size_t kMax = 5;
  ASSERT_TRUE(red_->sysctl().set("net.core.netdev_max_backlog", std::to_string(kMax)));
  constexpr std::size_t kFlood = 40;
  for (std::size_t i = 0; i < kFlood; ++i) {
    blue_eth0_->transmit(frame_to_red());
    EXPECT_LE(red_eth0_->backlog_size(), kMax);
  }
  EXPECT_EQ(red_eth0_->backlog_size(), kMax);
  EXPECT_EQ(red_eth0_->stats().rx_dropped, kFlood - kMax);
  EXPECT_EQ(red_eth0_->stats().rx_packets, kMax);
  EXPECT_EQ(blue_eth0_->stats().tx_packets, kFlood);  // sent; the receiver dropped
  // The other direction, with its own namespace's default bound, is unaffected.
  red_eth0_->transmit(frame_to_blue());
  poll();
  EXPECT_EQ(seen.count(), kMax + 1);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(TwoNets, RuntsAndUnhandledEthertypesAreCountedByTheReceiver) {
  RecordingHandler seen(host_);
  Packet runt = host_.packets().allocate(13);
  std::fill(runt.mutable_data().begin(), runt.mutable_data().end(), std::byte{0xff});
  blue_eth0_->transmit(std::move(runt));
  blue_eth0_->transmit(frame_to_red(20, kUnhandledEthertype));
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(red_eth0_->stats().rx_length_errors, 1u);
  EXPECT_EQ(red_eth0_->stats().rx_nohandler, 1u);
  EXPECT_EQ(blue_eth0_->stats().rx_length_errors + blue_eth0_->stats().rx_nohandler, 0u);
}

// Handlers in both namespaces bounce every frame back: a loop that never ends.
TEST_F(TwoNets, AFramePingPongedForeverDoesNotHangPoll) {
  // No router solicitations, and IPv6's duplicate address detection ends: no timer is left.
  support::no_router_solicitations({blue_.get(), red_.get()});
  run_for(support::kPastDad);
  RecordingHandler seen(host_);
  seen.on_frame = [](Net&, Device& dev, Packet frame) {
    (void)frame.push_front(kEthHeader);  // the header is still in the headroom
    dev.transmit(std::move(frame));
  };
  blue_eth0_->transmit(frame_to_red());
  for (int round = 1; round <= 3; ++round) {
    EXPECT_EQ(poll(), clock_.now());  // budget spent, work remains: run again now
    EXPECT_GE(seen.count(), static_cast<std::size_t>(round) * 1000);
  }
  EXPECT_EQ(host_.stats().packet_copies, 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 1u);  // one frame, forever in flight
  seen.on_frame = nullptr;  // break the loop
  EXPECT_EQ(poll(), Clock::time_point::max());
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(TwoNets, TimersStillRunWhileAPacketLoopSpinsBetweenNamespaces) {
  RecordingHandler seen(host_);
  seen.on_frame = [](Net&, Device& dev, Packet frame) {
    (void)frame.push_front(kEthHeader);
    dev.transmit(std::move(frame));
  };
  bool fired = false;
  Timer timer(host_, [&] { fired = true; });
  timer.schedule(clock_.now());
  blue_eth0_->transmit(frame_to_red());
  poll();
  EXPECT_TRUE(fired);
  seen.on_frame = nullptr;
  poll();
}

class DestroyInHandler : public TwoNets, public ::testing::WithParamInterface<bool> {};

TEST_P(DestroyInHandler, DestroyingTheReceivingDeviceOrItsNamespaceFromAHandlerIsSafe) {
  const bool whole_namespace = GetParam();
  RecordingHandler seen(host_);
  seen.on_frame = [&](Net&, Device& dev, Packet) {
    if (whole_namespace) {
      red_.reset();  // the last reference to the namespace being processed
    } else {
      EXPECT_TRUE(destroy_device(dev));
    }
  };
  for (int i = 0; i < 3; ++i) blue_eth0_->transmit(frame_to_red());
  red_eth0_->transmit(frame_to_blue());  // another device with work in the same poll
  poll();
  std::size_t to_red = 0;
  for (const auto& f : seen.frames()) to_red += f.net_id != blue_->id();
  if (whole_namespace) {
    // The namespace is torn down at the end of the poll: frames already queued
    // may still be handled, the pair is gone afterwards.
    EXPECT_GE(to_red, 1u);
  } else {
    // The first frame to red destroyed the pair; the rest of red's backlog went with it.
    EXPECT_EQ(to_red, 1u);
    EXPECT_EQ(red_->device("eth0"), nullptr);
  }
  EXPECT_EQ(blue_->device("eth0"), nullptr);
  poll();
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

INSTANTIATE_TEST_SUITE_P(TwoNets, DestroyInHandler, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Namespace" : "Device"; });

}  // namespace devices_veth_test
}  // namespace
}  // namespace netns
