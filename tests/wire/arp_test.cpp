#include "netns/wire/arp.hpp"

#include <array>

#include <gtest/gtest.h>

#include "netns/wire/ethernet.hpp"

namespace netns::wire {
namespace {
namespace wire_arp_test {

// 192.168.1.10 (a Linux host) asks who has 192.168.1.1; received padded to 60 bytes.
constexpr auto kRequestFrame = byte_array({
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x3c, 0x7c,
    0x3f, 0x1e, 0xa2, 0x05, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
});

// The router's answer, as captured on the router before the NIC pads it.
constexpr auto kReplyFrame = byte_array({
    0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05, 0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11,
    0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0xa0, 0x63,
    0x91, 0x8c, 0x4e, 0x11, 0xc0, 0xa8, 0x01, 0x01, 0x3c, 0x7c, 0x3f, 0x1e,
    0xa2, 0x05, 0xc0, 0xa8, 0x01, 0x0a,
});

const MacAddress kHostMac{0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05};
const MacAddress kRouterMac{0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11};
const Ipv4Address kHostIp(192, 168, 1, 10);
const Ipv4Address kRouterIp(192, 168, 1, 1);

std::span<const std::byte> arp_part(std::span<const std::byte> frame) {
  return frame.subspan(EthernetView::kHeaderLen);
}

Result<ArpRepr> parse_arp(std::span<const std::byte> bytes) {
  auto view = ArpView::checked(bytes);
  if (!view) return view.error();
  return ArpRepr::parse(*view);
}

TEST(WireArp, ParsesPaddedRequest) {
  auto view = ArpView::checked(arp_part(kRequestFrame));
  ASSERT_TRUE(view);
  EXPECT_EQ(view->bytes().size(), ArpView::kLen);  // padding is not part of it
  EXPECT_EQ(view->hardware_type(), 1);
  EXPECT_EQ(view->protocol_type(), 0x0800);
  EXPECT_EQ(view->hardware_len(), 6);
  EXPECT_EQ(view->protocol_len(), 4);
  auto repr = ArpRepr::parse(*view);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->operation, ArpOperation::request);
  EXPECT_EQ(repr->sender_mac, kHostMac);
  EXPECT_EQ(repr->sender_ip, kHostIp);
  EXPECT_TRUE(repr->target_mac.is_zero());
  EXPECT_EQ(repr->target_ip, kRouterIp);
}

TEST(WireArp, ParsesReply) {
  auto repr = parse_arp(arp_part(kReplyFrame));
  ASSERT_TRUE(repr);
  EXPECT_EQ(*repr, (ArpRepr{ArpOperation::reply, kRouterMac, kRouterIp, kHostMac, kHostIp}));
}

TEST(WireArp, EmitReproducesBothMessages) {
  for (std::span<const std::byte> frame : {std::span<const std::byte>(kRequestFrame),
                                           std::span<const std::byte>(kReplyFrame)}) {
    auto repr = parse_arp(arp_part(frame));
    ASSERT_TRUE(repr);
    std::array<std::byte, ArpRepr::kLen> out{};
    ASSERT_EQ(repr->buffer_len(), out.size());
    repr->emit(out);
    EXPECT_TRUE(std::equal(out.begin(), out.end(), arp_part(frame).begin()));
  }
}

TEST(WireArp, AnsweringTheRequestGivesTheReply) {
  auto request = parse_arp(arp_part(kRequestFrame));
  ASSERT_TRUE(request);
  const ArpRepr reply{ArpOperation::reply, kRouterMac, request->target_ip, request->sender_mac,
                      request->sender_ip};
  std::array<std::byte, 42> frame{};
  EthernetRepr{request->sender_mac, kRouterMac, EtherType::arp}.emit(frame);
  reply.emit(std::span(frame).subspan(EthernetRepr::kHeaderLen));
  EXPECT_EQ(frame, kReplyFrame);
}

TEST(WireArp, EveryTruncationIsRejected) {
  const auto all = arp_part(kRequestFrame);
  for (std::size_t n = 0; n < ArpView::kLen; ++n) {
    auto repr = parse_arp(all.first(n));
    ASSERT_FALSE(repr) << n;
    EXPECT_EQ(repr.error(), error(Errc::message_size)) << n;
  }
}

TEST(WireArp, RejectsOtherAddressLengths) {
  auto bytes = kRequestFrame;
  bytes[14 + 4] = std::byte{8};  // hardware length 8
  EXPECT_EQ(parse_arp(arp_part(bytes)).error(), error(Errc::bad_message));
  bytes = kRequestFrame;
  bytes[14 + 5] = std::byte{16};  // protocol length of IPv6
  EXPECT_EQ(parse_arp(arp_part(bytes)).error(), error(Errc::bad_message));
}

TEST(WireArp, RejectsOtherHardwareProtocolAndOperation) {
  auto bytes = kRequestFrame;
  bytes[14 + 1] = std::byte{6};  // IEEE 802 hardware
  EXPECT_EQ(parse_arp(arp_part(bytes)).error(), error(Errc::bad_message));
  bytes = kRequestFrame;
  bytes[14 + 2] = std::byte{0x86};  // protocol 0x86dd
  bytes[14 + 3] = std::byte{0xdd};
  EXPECT_EQ(parse_arp(arp_part(bytes)).error(), error(Errc::bad_message));
  for (std::uint8_t op : {0, 3, 4}) {  // RARP request/reply are ops 3 and 4
    bytes = kRequestFrame;
    bytes[14 + 7] = std::byte{op};
    EXPECT_EQ(parse_arp(arp_part(bytes)).error(), error(Errc::bad_message)) << int{op};
  }
}

TEST(WireArp, MutableViewTurnsRequestIntoReply) {
  auto bytes = kRequestFrame;
  auto view = ArpMutView::checked(std::span(bytes).subspan(EthernetView::kHeaderLen));
  ASSERT_TRUE(view);
  view->set_operation(ArpOperation::reply);
  view->set_target_mac(view->sender_mac());
  view->set_target_ip(view->sender_ip());
  view->set_sender_mac(kRouterMac);
  view->set_sender_ip(kRouterIp);
  EXPECT_TRUE(std::equal(bytes.begin() + 14, bytes.begin() + 42, kReplyFrame.begin() + 14));
}

}  // namespace wire_arp_test
}  // namespace
}  // namespace netns::wire
