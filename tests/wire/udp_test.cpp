#include "netns/wire/udp.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::wire {
namespace {
namespace wire_udp_test {

// A glibc stub-resolver query for example.com A from 192.168.1.10:48563 to
// 192.168.1.1:53 (DF set, as Linux sends UDP). 29 bytes of DNS: odd length.
constexpr auto kDnsQueryFrame = byte_array({
    0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11, 0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x39, 0x8c, 0x3e, 0x40, 0x00, 0x40, 0x11,
    0x2b, 0x1a, 0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01, 0xbd, 0xb3,
    0x00, 0x35, 0x00, 0x25, 0xc3, 0xa2, 0x2b, 0x4f, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70,
    0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
});

constexpr std::size_t kUdpAt = EthernetView::kHeaderLen + Ipv4View::kMinHeaderLen;
const Ipv4Address kHost(192, 168, 1, 10);
const Ipv4Address kResolver(192, 168, 1, 1);

std::vector<std::byte> udp_part() { return {kDnsQueryFrame.begin() + kUdpAt, kDnsQueryFrame.end()}; }

Result<UdpRepr> parse_udp(std::span<const std::byte> bytes) {
  auto view = UdpView::checked(bytes);
  if (!view) return view.error();
  return UdpRepr::parse(*view, kHost, kResolver);
}

TEST(WireUdp, ParsesDnsQuery) {
  const auto bytes = udp_part();
  auto udp = UdpView::checked(bytes);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->src_port(), 48563);
  EXPECT_EQ(udp->dst_port(), 53);
  EXPECT_EQ(udp->length(), 37);
  EXPECT_EQ(udp->checksum(), 0xc3a2);
  EXPECT_TRUE(udp->verify_checksum(kHost, kResolver));
  EXPECT_FALSE(udp->verify_checksum(kHost, Ipv4Address(192, 168, 1, 2)));
  ASSERT_EQ(udp->payload().size(), 29u);
  EXPECT_EQ(load_be16(udp->payload(), 0), 0x2b4f);  // the DNS id

  auto repr = UdpRepr::parse(*udp, kHost, kResolver);
  ASSERT_TRUE(repr);
  EXPECT_EQ(*repr, (UdpRepr{48563, 53, 29}));
}

TEST(WireUdp, EmitReproducesWholeFrame) {
  auto frame = EthernetView::checked(kDnsQueryFrame);
  ASSERT_TRUE(frame);
  auto ip = Ipv4View::checked(frame->payload());
  ASSERT_TRUE(ip);
  auto ip_repr = Ipv4Repr::parse(*ip);
  ASSERT_TRUE(ip_repr);
  auto udp = UdpView::checked(ip->payload());
  ASSERT_TRUE(udp);
  auto udp_repr = UdpRepr::parse(*udp, ip->src(), ip->dst());
  ASSERT_TRUE(udp_repr);

  std::array<std::byte, kDnsQueryFrame.size()> out{};
  const std::span<std::byte> all(out);
  std::copy(udp->payload().begin(), udp->payload().end(), out.begin() + kUdpAt + 8);
  ASSERT_EQ(udp_repr->buffer_len(), 37u);
  udp_repr->emit(all.subspan(kUdpAt), ip_repr->src, ip_repr->dst);
  ip_repr->emit(all.subspan(EthernetView::kHeaderLen));
  EthernetRepr::parse(*frame)->emit(all);
  EXPECT_EQ(out, kDnsQueryFrame);
}

TEST(WireUdp, EveryTruncationIsRejected) {
  const auto bytes = udp_part();
  const std::span<const std::byte> all(bytes);
  for (std::size_t n = 0; n < all.size(); ++n) {
    auto udp = UdpView::checked(all.first(n));
    ASSERT_FALSE(udp) << n;
    EXPECT_EQ(udp.error(), error(Errc::message_size)) << n;
  }
}

TEST(WireUdp, RejectsLengthBelowHeader) {
  auto bytes = udp_part();
  for (std::uint16_t length = 0; length < 8; ++length) {
    store_be16(bytes, 4, length);
    EXPECT_EQ(UdpView::checked(bytes).error(), error(Errc::bad_message)) << length;
  }
}

TEST(WireUdp, RejectsLengthBeyondBuffer) {
  auto bytes = udp_part();
  for (std::uint16_t length : {38, 1000, 65535}) {
    store_be16(bytes, 4, length);
    EXPECT_EQ(UdpView::checked(bytes).error(), error(Errc::message_size)) << length;
  }
}

TEST(WireUdp, BytesPastLengthAreNotPayload) {
  auto bytes = udp_part();
  bytes.resize(bytes.size() + 5, std::byte{0xee});
  auto udp = UdpView::checked(bytes);
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->bytes().size(), 37u);
  EXPECT_EQ(udp->payload().size(), 29u);
  EXPECT_TRUE(UdpRepr::parse(*udp, kHost, kResolver));
}

TEST(WireUdp, RejectsBadChecksumAcceptsNone) {
  auto bytes = udp_part();
  bytes[20] ^= std::byte{0x01};
  EXPECT_EQ(parse_udp(bytes).error(), error(Errc::bad_message));
  store_be16(bytes, 6, 0);  // RFC 768: no checksum computed
  auto repr = parse_udp(bytes);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->payload_len, 29u);
}

TEST(WireUdp, ComputedZeroChecksumIsSentAsAllOnes) {
  auto bytes = udp_part();
  bytes.resize(bytes.size() + 1);  // 38 bytes: make room for one 16-bit payload word
  store_be16(bytes, 4, 38);
  store_be16(bytes, 36, 0);
  auto udp = UdpMutView::checked(bytes);
  ASSERT_TRUE(udp);
  udp->fill_checksum(kHost, kResolver);
  // The word that makes the one's-complement sum come out as 0xffff is that checksum.
  store_be16(bytes, 36, udp->checksum());
  udp->fill_checksum(kHost, kResolver);
  EXPECT_EQ(udp->checksum(), 0xffff);
  EXPECT_TRUE(udp->verify_checksum(kHost, kResolver));
  EXPECT_TRUE(parse_udp(bytes));
}

TEST(WireUdp, MutableViewRewritesPorts) {
  auto bytes = udp_part();
  auto udp = UdpMutView::checked(bytes);
  ASSERT_TRUE(udp);
  udp->set_src_port(5353);  // as a NAT would
  EXPECT_FALSE(udp->verify_checksum(kHost, kResolver));
  udp->fill_checksum(kHost, kResolver);
  const UdpView view = *udp;
  EXPECT_TRUE(view.verify_checksum(kHost, kResolver));
  EXPECT_EQ(view.src_port(), 5353);
  EXPECT_EQ(view.dst_port(), 53);
}

TEST(WireUdp, EmptyDatagramRoundTrips) {
  std::array<std::byte, 8> out{};
  const UdpRepr repr{9, 7, 0};
  ASSERT_EQ(repr.buffer_len(), 8u);
  repr.emit(out, kHost, kResolver);
  auto back = parse_udp(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, repr);
}

}  // namespace wire_udp_test
}  // namespace
}  // namespace netns::wire
