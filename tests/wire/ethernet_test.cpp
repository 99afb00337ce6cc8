#include "netns/wire/ethernet.hpp"

#include <array>

#include <gtest/gtest.h>

namespace netns::wire {
namespace {
namespace wire_ethernet_test {

// An ARP who-has from a Linux host as the peer receives it: broadcast, padded
// with zeros to the 60-byte minimum frame.
constexpr auto kArpRequestFrame = byte_array({
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x3c, 0x7c,
    0x3f, 0x1e, 0xa2, 0x05, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
});

// The head of an 802.1Q-tagged IPv4 frame (VLAN 100, priority 0).
constexpr auto kVlanFrameHead = byte_array({
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef,
    0x81, 0x00, 0x00, 0x64, 0x08, 0x00,
});

const MacAddress kHostMac{0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05};

TEST(WireEthernet, ParsesBroadcastArpFrame) {
  auto frame = EthernetView::checked(kArpRequestFrame);
  ASSERT_TRUE(frame);
  EXPECT_TRUE(frame->dst().is_broadcast());
  EXPECT_EQ(frame->src(), kHostMac);
  EXPECT_EQ(frame->ethertype(), EtherType::arp);
  EXPECT_EQ(frame->payload().size(), 46u);
  EXPECT_EQ(frame->payload().data(), kArpRequestFrame.data() + 14);

  auto repr = EthernetRepr::parse(*frame);
  ASSERT_TRUE(repr);
  EXPECT_EQ(*repr, (EthernetRepr{MacAddress::broadcast(), kHostMac, EtherType::arp}));
}

TEST(WireEthernet, EmitReproducesHeader) {
  auto repr = EthernetRepr::parse(*EthernetView::checked(kArpRequestFrame));
  ASSERT_TRUE(repr);
  std::array<std::byte, EthernetRepr::kHeaderLen> out{};
  ASSERT_EQ(repr->buffer_len(), out.size());
  repr->emit(out);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), kArpRequestFrame.begin()));
}

TEST(WireEthernet, VlanTagIsReportedNotParsed) {
  auto frame = EthernetView::checked(kVlanFrameHead);
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->ethertype(), EtherType::vlan);
  EXPECT_EQ(static_cast<std::uint16_t>(EtherType::vlan), 0x8100);
  EXPECT_EQ(frame->payload().size(), 4u);
}

TEST(WireEthernet, UnknownEthertypeIsRepresentable) {
  auto bytes = kVlanFrameHead;
  bytes[12] = std::byte{0x86};
  bytes[13] = std::byte{0xdd};
  auto frame = EthernetView::checked(bytes);
  ASSERT_TRUE(frame);
  EXPECT_EQ(static_cast<std::uint16_t>(frame->ethertype()), 0x86dd);
}

TEST(WireEthernet, EveryTruncatedHeaderIsRejected) {
  const std::span<const std::byte> all(kArpRequestFrame);
  for (std::size_t n = 0; n < EthernetView::kHeaderLen; ++n) {
    auto frame = EthernetView::checked(all.first(n));
    ASSERT_FALSE(frame) << n;
    EXPECT_EQ(frame.error(), error(Errc::message_size));
  }
  auto bare = EthernetView::checked(all.first(EthernetView::kHeaderLen));
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->payload().empty());
}

TEST(WireEthernet, MutableViewRewritesInPlace) {
  auto bytes = kArpRequestFrame;
  auto frame = EthernetMutView::checked(bytes);
  ASSERT_TRUE(frame);
  frame->set_dst(kHostMac);
  frame->set_src(MacAddress{0x02, 0, 0, 0, 0, 1});
  frame->set_ethertype(EtherType::ipv4);
  const EthernetView read_only = *frame;
  EXPECT_EQ(read_only.dst(), kHostMac);
  EXPECT_EQ(read_only.src(), (MacAddress{0x02, 0, 0, 0, 0, 1}));
  EXPECT_EQ(bytes[12], std::byte{0x08});
  EXPECT_EQ(bytes[13], std::byte{0x00});
  EXPECT_TRUE(std::equal(bytes.begin() + 14, bytes.end(), kArpRequestFrame.begin() + 14));
}

}  // namespace wire_ethernet_test
}  // namespace
}  // namespace netns::wire
