// The IPv6 fixed header: checked() bounds, fields, emit/parse round trip.
#include "netns/wire/ipv6.hpp"

#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "netns/wire/checksum.hpp"

namespace netns::wire {
namespace {
namespace wire_ipv6_test {

const Ipv6Address kSrc(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const Ipv6Address kDst(0xfe80, 0, 0, 0, 0x200, 0x5eff, 0xfe10, 0x1);

std::vector<std::byte> datagram(std::size_t payload) {
  std::vector<std::byte> bytes(Ipv6Repr::kHeaderLen + payload);
  Ipv6Repr{.src = kSrc, .dst = kDst, .next_header = IpProtocol::udp, .hop_limit = 255,
           .traffic_class = 0xb9, .flow_label = 0xabcde, .payload_len = payload}
      .emit(bytes);
  return bytes;
}

TEST(Ipv6Wire, EmitThenParseRoundTrips) {
  auto bytes = datagram(8);
  EXPECT_EQ(load_u8(bytes, 0), 0x6b);  // version 6, traffic class high nibble
  auto view = Ipv6View::checked(bytes);
  ASSERT_TRUE(view);
  const Ipv6Repr repr = Ipv6Repr::parse(*view);
  EXPECT_EQ(repr.src, kSrc);
  EXPECT_EQ(repr.dst, kDst);
  EXPECT_EQ(repr.next_header, IpProtocol::udp);
  EXPECT_EQ(repr.hop_limit, 255);
  EXPECT_EQ(repr.traffic_class, 0xb9);
  EXPECT_EQ(repr.flow_label, 0xabcdeu);
  EXPECT_EQ(repr.payload_len, 8u);
  EXPECT_EQ(view->ecn(), Ecn::ect1);
  EXPECT_EQ(view->payload().size(), 8u);
}

TEST(Ipv6Wire, CheckedRefusesShortWrongAndTruncated) {
  auto bytes = datagram(8);
  EXPECT_EQ(Ipv6View::checked(std::span(bytes).first(39)).error(), error(Errc::message_size));
  EXPECT_EQ(Ipv6View::checked(std::span(bytes).first(47)).error(), error(Errc::message_size));
  auto v4 = bytes;
  v4[0] = std::byte{0x45};
  EXPECT_EQ(Ipv6View::checked(v4).error(), error(Errc::bad_message));
  // A jumbogram (payload length 0 ahead of hop-by-hop) is refused...
  auto jumbo = datagram(0);
  store_u8(jumbo, 6, 0);
  EXPECT_EQ(Ipv6View::checked(jumbo).error(), error(Errc::bad_message));
  // ...an empty datagram with no next header is not.
  auto empty = datagram(0);
  store_u8(empty, 6, 59);
  EXPECT_TRUE(Ipv6View::checked(empty));
  // Link padding past the payload is not part of the view.
  auto padded = datagram(8);
  padded.resize(padded.size() + 10);
  EXPECT_EQ(Ipv6View::checked(padded)->bytes().size(), 48u);
  // A quoted datagram may be cut short.
  EXPECT_EQ(Ipv6View::checked_quoted(std::span(bytes).first(44))->payload().size(), 4u);
}

TEST(Ipv6Wire, MutViewRewritesHopLimitAndEcn) {
  auto bytes = datagram(0);
  auto view = Ipv6MutView::checked(bytes);
  ASSERT_TRUE(view);
  view->decrement_hop_limit();
  view->set_ecn(Ecn::ce);
  EXPECT_EQ(view->hop_limit(), 254);
  EXPECT_EQ(view->ecn(), Ecn::ce);
  EXPECT_EQ(view->traffic_class(), 0xbb);
  EXPECT_EQ(view->flow_label(), 0xabcdeu);
}

TEST(Ipv6Wire, PseudoHeaderChecksumMatchesAHandSum) {
  // An ICMPv6 echo request (RFC 4443), checksum over the pseudo-header.
  std::array<std::byte, 8> echo{std::byte{128}, {}, {}, {}, std::byte{0x12}, std::byte{0x34}, {}, std::byte{1}};
  const std::uint16_t sum = ipv6_transport_checksum(kSrc, kDst, 58, echo);
  store_be16(echo, 2, sum);
  EXPECT_EQ(ipv6_transport_checksum(kSrc, kDst, 58, echo), 0);
  // By hand: the 16-bit words of the pseudo-header and the message.
  std::uint32_t s = 0;
  for (int i = 0; i < 8; ++i) s += kSrc.group(i) + kDst.group(i);
  s += 8 + 58 + 0x8000 + 0x1234 + 1;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  EXPECT_EQ(sum, static_cast<std::uint16_t>(~s));
}

}  // namespace wire_ipv6_test
}  // namespace
}  // namespace netns::wire
