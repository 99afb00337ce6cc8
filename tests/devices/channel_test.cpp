// ChannelDevice: frames in by inject(), frames out by read(), bounded both ways.
#include <algorithm>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_channel_test {

using support::HostTest;
using support::kEthHeader;
using support::kTestEthertype;
using support::kUnhandledEthertype;
using support::make_frame;
using support::RecordingHandler;

class ChannelTest : public HostTest {
 protected:
  void SetUp() override {
    auto dev = make_channel(host_.init_net(), "ch0");
    ASSERT_TRUE(dev);
    ch_ = *dev;
    ASSERT_TRUE(set_link_up(*ch_));
  }
  std::vector<std::byte> frame_bytes(std::uint16_t ethertype, std::size_t payload) {
    Packet p = make_frame(host_, ch_->mac(), MacAddress{0x02, 0, 0, 0, 0, 9}, ethertype, payload);
    return {p.data().begin(), p.data().end()};
  }
  ChannelDevice* ch_ = nullptr;
};

TEST_F(ChannelTest, IsAChannelDeviceInItsNamespace) {
  EXPECT_EQ(ch_->kind(), DeviceKind::channel);
  EXPECT_EQ(ch_->ifindex(), 2);
  EXPECT_EQ(host_.init_net().device("ch0"), ch_);
  EXPECT_TRUE(ch_->mac().is_unicast());
  EXPECT_FALSE(ch_->mac().is_zero());
}

TEST_F(ChannelTest, InjectedFramesReachTheHandlerOnPoll) {
  RecordingHandler seen(host_);
  ch_->inject(frame_bytes(kTestEthertype, 50));
  EXPECT_EQ(ch_->backlog_size(), 1u);
  EXPECT_EQ(seen.count(), 0u);
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, 1u);
  EXPECT_EQ(seen.frames()[0].device, "ch0");
  EXPECT_EQ(seen.frames()[0].size, 50u);
  EXPECT_EQ(ch_->stats().rx_packets, 1u);
  EXPECT_EQ(ch_->stats().rx_bytes, kEthHeader + 50);
}

TEST_F(ChannelTest, HandlerSeesFrameClassifiedByDestination) {
  std::vector<PacketType> types;
  RecordingHandler seen(host_);
  seen.on_frame = [&](Net&, Device&, Packet p) {
    types.push_back(p.type);
    EXPECT_EQ(p.protocol, kTestEthertype);
  };
  const MacAddress src{0x02, 0, 0, 0, 0, 9};
  ch_->inject(make_frame(host_, ch_->mac(), src, kTestEthertype, 10));
  ch_->inject(make_frame(host_, MacAddress::broadcast(), src, kTestEthertype, 10));
  ch_->inject(make_frame(host_, MacAddress{0x01, 0, 0x5e, 0, 0, 1}, src, kTestEthertype, 10));
  ch_->inject(make_frame(host_, MacAddress{0x02, 1, 1, 1, 1, 1}, src, kTestEthertype, 10));
  poll();
  EXPECT_EQ(types, (std::vector<PacketType>{PacketType::host, PacketType::broadcast,
                                            PacketType::multicast, PacketType::otherhost}));
}

TEST_F(ChannelTest, InjectWhileDownIsDropped) {
  RecordingHandler seen(host_);
  ASSERT_TRUE(set_link_up(*ch_, false));
  ch_->inject(frame_bytes(kTestEthertype, 10));
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(ch_->stats().rx_dropped, 1u);
}

TEST_F(ChannelTest, RuntFramesAreCountedAsLengthErrors) {
  RecordingHandler seen(host_);
  std::vector<std::byte> runt(13, std::byte{0xff});
  ch_->inject(runt);
  ch_->inject(std::span<const std::byte>{});
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(ch_->stats().rx_length_errors, 2u);
  EXPECT_EQ(ch_->stats().rx_errors, 2u);
}

TEST_F(ChannelTest, UnknownEthertypeIsCountedAsNoHandler) {
  RecordingHandler seen(host_);
  ch_->inject(frame_bytes(kUnhandledEthertype, 10));
  ch_->inject(frame_bytes(kTestEthertype, 10));
  poll();
  EXPECT_EQ(seen.count(), 1u);
  EXPECT_EQ(ch_->stats().rx_nohandler, 1u);
  EXPECT_EQ(ch_->stats().rx_length_errors, 0u);
}

TEST_F(ChannelTest, TransmittedFramesAreReadBackInOrder) {
  EXPECT_FALSE(ch_->read());
  ch_->transmit(make_frame(host_, MacAddress::broadcast(), ch_->mac(), kTestEthertype, 1));
  ch_->transmit(make_frame(host_, MacAddress::broadcast(), ch_->mac(), kTestEthertype, 2));
  EXPECT_EQ(ch_->pending(), 2u);
  auto first = ch_->read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->size(), kEthHeader + 1);
  EXPECT_EQ((*first)[0], std::byte{0xff});
  auto second = ch_->read_packet();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->size(), kEthHeader + 2);
  EXPECT_FALSE(ch_->read());
  EXPECT_EQ(ch_->stats().tx_packets, 2u);
  EXPECT_EQ(ch_->stats().tx_bytes, 2 * kEthHeader + 3);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

TEST_F(ChannelTest, OutboundQueueIsBounded) {
  for (std::size_t i = 0; i < ChannelDevice::kDefaultOutboundLimit + 5; ++i) {
    ch_->transmit(make_frame(host_, MacAddress::broadcast(), ch_->mac(), kTestEthertype, 0));
  }
  EXPECT_EQ(ch_->pending(), ChannelDevice::kDefaultOutboundLimit);
  EXPECT_EQ(ch_->stats().tx_dropped, 5u);
  EXPECT_EQ(ch_->stats().tx_packets, ChannelDevice::kDefaultOutboundLimit);
  while (ch_->read_packet()) {
  }
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(ChannelTest, TransmitWhileDownOrEmptyIsDropped) {
  ch_->transmit(Packet());
  ch_->transmit(host_.packets().allocate(0));
  ASSERT_TRUE(set_link_up(*ch_, false));
  ch_->transmit(make_frame(host_, MacAddress::broadcast(), ch_->mac(), kTestEthertype, 4));
  EXPECT_EQ(ch_->stats().tx_dropped, 3u);
  EXPECT_EQ(ch_->pending(), 0u);
}

TEST_F(ChannelTest, BacklogIsBoundedByNetdevMaxBacklog) {
  RecordingHandler seen(host_);
  constexpr std::size_t kMax = 8;
  ASSERT_TRUE(host_.init_net().sysctl().set("net.core.netdev_max_backlog", std::to_string(kMax)));
  for (int i = 0; i < 50; ++i) {
    ch_->inject(frame_bytes(kTestEthertype, 10));
    EXPECT_LE(ch_->backlog_size(), kMax);
  }
  EXPECT_EQ(ch_->stats().rx_dropped, 50 - kMax);
  poll();
  EXPECT_EQ(seen.count(), kMax);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(ChannelTest, AFloodedDeviceDelaysAnotherByOneTurnAtMost) {
  auto quiet = make_channel(host_.init_net(), "ch1");
  ASSERT_TRUE(quiet);
  ASSERT_TRUE(set_link_up(**quiet));
  RecordingHandler seen(host_);
  for (int i = 0; i < 500; ++i) ch_->inject(frame_bytes(kTestEthertype, 10));
  (*quiet)->inject(frame_bytes(kTestEthertype, 10));
  poll();
  ASSERT_EQ(seen.count(), 501u);
  auto at = std::find_if(seen.frames().begin(), seen.frames().end(),
                         [](const auto& f) { return f.device == "ch1"; });
  ASSERT_NE(at, seen.frames().end());
  // Served round robin with a per-turn weight (NAPI's 64), not after the whole flood.
  EXPECT_LE(at - seen.frames().begin(), 64);
}

TEST_F(ChannelTest, DestroyingAChannelDropsItsBacklog) {
  RecordingHandler seen(host_);
  ch_->inject(frame_bytes(kTestEthertype, 10));
  ch_->transmit(make_frame(host_, MacAddress::broadcast(), ch_->mac(), kTestEthertype, 4));
  ASSERT_TRUE(destroy_device(*ch_));
  EXPECT_EQ(host_.init_net().device("ch0"), nullptr);
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

}  // namespace devices_channel_test
}  // namespace
}  // namespace netns
