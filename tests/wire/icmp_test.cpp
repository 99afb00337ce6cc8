#include "netns/wire/icmp.hpp"

#include <algorithm>
#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "netns/wire/ethernet.hpp"
#include "wire/golden_frames.hpp"
#include "netns/wire/ipv4.hpp"

namespace netns::wire {
namespace {
namespace wire_icmp_test {

using golden::kEchoRequestFrame;

// The Linux router's reply: no DF (its ICMP socket does not do PMTU
// discovery), a fresh IP id, the data echoed unchanged.
constexpr auto kEchoReplyFrame = byte_array({
    0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05, 0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11,
    0x08, 0x00, 0x45, 0x00, 0x00, 0x54, 0x9d, 0x1e, 0x00, 0x00, 0x40, 0x01,
    0x5a, 0x2f, 0xc0, 0xa8, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x0a, 0x00, 0x00,
    0xca, 0x15, 0x1c, 0x2b, 0x00, 0x01, 0xc3, 0xb2, 0xa1, 0x65, 0x00, 0x00,
    0x00, 0x00, 0xf1, 0xd2, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x11,
    0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
    0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29,
    0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35,
    0x36, 0x37,
});

// A Linux router (10.1.1.1) refusing a 1500-byte DF segment for a 1400-byte
// link: TOS 0xc0 as Linux sends errors, the offending header plus 8 bytes quoted.
constexpr auto kFragNeededFrame = byte_array({
    0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05, 0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11,
    0x08, 0x00, 0x45, 0xc0, 0x00, 0x38, 0x51, 0xf2, 0x00, 0x00, 0x40, 0x01,
    0x5b, 0x5f, 0x0a, 0x01, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x0a, 0x03, 0x04,
    0xdb, 0xdb, 0x00, 0x00, 0x05, 0x78, 0x45, 0x00, 0x05, 0xdc, 0xd4, 0x40,
    0x40, 0x00, 0x40, 0x06, 0x69, 0x4e, 0xc0, 0xa8, 0x01, 0x0a, 0x5d, 0xb8,
    0xd8, 0x22, 0xa0, 0xc2, 0x00, 0x50, 0x5a, 0x3c, 0x20, 0x59,
});

constexpr std::size_t kIcmpAt = EthernetView::kHeaderLen + Ipv4View::kMinHeaderLen;

template <std::size_t N>
std::vector<std::byte> icmp_part(const std::array<std::byte, N>& frame) {
  return {frame.begin() + kIcmpAt, frame.end()};
}

Result<IcmpRepr> parse_icmp(std::span<const std::byte> bytes) {
  auto view = IcmpView::checked(bytes);
  if (!view) return view.error();
  return IcmpRepr::parse(*view);
}

TEST(WireIcmp, ParsesLinuxEchoRequest) {
  const auto bytes = icmp_part(kEchoRequestFrame);
  auto icmp = IcmpView::checked(bytes);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), IcmpType::echo_request);
  EXPECT_EQ(icmp->code(), 0);
  EXPECT_EQ(icmp->checksum(), 0xc215);
  EXPECT_TRUE(icmp->verify_checksum());
  EXPECT_EQ(icmp->echo_id(), 0x1c2b);
  EXPECT_EQ(icmp->echo_seq(), 1);
  ASSERT_EQ(icmp->payload().size(), 56u);
  EXPECT_EQ(icmp->payload()[16], std::byte{0x10});
  EXPECT_EQ(icmp->payload()[55], std::byte{0x37});

  auto repr = IcmpRepr::parse(*icmp);
  ASSERT_TRUE(repr);
  EXPECT_EQ(*repr, IcmpRepr::echo_request(0x1c2b, 1, 56));
  EXPECT_EQ(repr->echo_id(), 0x1c2b);
  EXPECT_EQ(repr->echo_seq(), 1);
}

TEST(WireIcmp, EmitReproducesEchoMessages) {
  for (const auto& bytes : {icmp_part(kEchoRequestFrame), icmp_part(kEchoReplyFrame)}) {
    auto repr = parse_icmp(bytes);
    ASSERT_TRUE(repr);
    std::vector<std::byte> out(repr->buffer_len());
    ASSERT_EQ(out.size(), bytes.size());
    std::copy(bytes.begin() + 8, bytes.end(), out.begin() + 8);  // the data, first
    repr->emit(out);
    EXPECT_EQ(out, bytes);
  }
}

TEST(WireIcmp, AnsweringThePingGivesLinuxReplyFrame) {
  // The whole reply frame, layer by layer, from what the request carried.
  auto frame = EthernetView::checked(kEchoRequestFrame);
  ASSERT_TRUE(frame);
  auto ip = Ipv4View::checked(frame->payload());
  ASSERT_TRUE(ip);
  auto icmp = IcmpView::checked(ip->payload());
  ASSERT_TRUE(icmp);
  auto request = IcmpRepr::parse(*icmp);
  ASSERT_TRUE(request);
  ASSERT_EQ(request->type, IcmpType::echo_request);

  std::array<std::byte, kEchoReplyFrame.size()> out{};
  const std::span<std::byte> reply_span(out);
  const auto reply = IcmpRepr::echo_reply(request->echo_id(), request->echo_seq(),
                                          request->payload_len);
  std::copy(icmp->payload().begin(), icmp->payload().end(), out.begin() + kIcmpAt + 8);
  reply.emit(reply_span.subspan(kIcmpAt));
  Ipv4Repr{.src = ip->dst(),
           .dst = ip->src(),
           .protocol = IpProtocol::icmp,
           .payload_len = reply.buffer_len(),
           .ttl = 64,
           .identification = 0x9d1e}
      .emit(reply_span.subspan(EthernetView::kHeaderLen));
  EthernetRepr{frame->src(), frame->dst(), EtherType::ipv4}.emit(reply_span);
  EXPECT_EQ(out, kEchoReplyFrame);
}

TEST(WireIcmp, MutableViewTurnsRequestIntoReplyInPlace) {
  auto bytes = icmp_part(kEchoRequestFrame);
  auto icmp = IcmpMutView::checked(bytes);
  ASSERT_TRUE(icmp);
  icmp->set_type(IcmpType::echo_reply);
  EXPECT_FALSE(icmp->verify_checksum());
  icmp->fill_checksum();
  EXPECT_EQ(bytes, icmp_part(kEchoReplyFrame));
}

TEST(WireIcmp, ParsesFragmentationNeeded) {
  const auto bytes = icmp_part(kFragNeededFrame);
  auto icmp = IcmpView::checked(bytes);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->type(), IcmpType::dest_unreachable);
  EXPECT_EQ(icmp->code(), static_cast<std::uint8_t>(IcmpUnreachable::frag_needed));
  EXPECT_EQ(icmp->next_hop_mtu(), 1400);
  auto repr = IcmpRepr::parse(*icmp);
  ASSERT_TRUE(repr);
  EXPECT_EQ(*repr, IcmpRepr::frag_needed(1400, 28));
  EXPECT_EQ(repr->next_hop_mtu(), 1400);

  auto quoted = Ipv4View::checked_quoted(icmp->payload());
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->total_length(), 1500);
  EXPECT_TRUE(quoted->dont_fragment());
  EXPECT_EQ(quoted->protocol(), IpProtocol::tcp);
  EXPECT_EQ(quoted->dst(), Ipv4Address(93, 184, 216, 34));

  std::vector<std::byte> out(repr->buffer_len());
  std::copy(bytes.begin() + 8, bytes.end(), out.begin() + 8);
  repr->emit(out);
  EXPECT_EQ(out, bytes);
}

TEST(WireIcmp, ErrorConstructorsSetTypeAndCode) {
  const auto port = IcmpRepr::dest_unreachable(IcmpUnreachable::port, 28);
  EXPECT_EQ(port.type, IcmpType::dest_unreachable);
  EXPECT_EQ(port.code, 3);
  EXPECT_EQ(port.rest_of_header, 0u);
  EXPECT_EQ(port.buffer_len(), 36u);
  const auto ttl = IcmpRepr::time_exceeded(IcmpTimeExceeded::ttl, 28);
  EXPECT_EQ(ttl.type, IcmpType::time_exceeded);
  EXPECT_EQ(ttl.code, 0);
  EXPECT_EQ(IcmpRepr::time_exceeded(IcmpTimeExceeded::reassembly, 28).code, 1);

  // The emitted message carries them and verifies.
  std::vector<std::byte> out(port.buffer_len());
  port.emit(out);
  auto back = parse_icmp(out);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, port);
}

TEST(WireIcmp, RestOfHeaderAccessorsForOtherTypes) {
  // A redirect names the better gateway; a parameter problem points at a byte.
  std::array<std::byte, 8> bytes{};
  auto icmp = IcmpMutView::checked(bytes);
  ASSERT_TRUE(icmp);
  icmp->set_type(IcmpType::redirect);
  icmp->set_rest_of_header(0xc0a80102);
  EXPECT_EQ(icmp->gateway(), Ipv4Address(192, 168, 1, 2));
  icmp->set_type(IcmpType::parameter_problem);
  icmp->set_rest_of_header(0x14000000);
  EXPECT_EQ(icmp->pointer(), 20);
}

TEST(WireIcmp, EveryTruncationIsRejected) {
  for (const auto& bytes : {icmp_part(kEchoRequestFrame), icmp_part(kFragNeededFrame)}) {
    const std::span<const std::byte> all(bytes);
    for (std::size_t n = 0; n < all.size(); ++n) {
      auto repr = parse_icmp(all.first(n));
      ASSERT_FALSE(repr) << n;
      // Below 8 bytes there is no header; above, the checksum no longer adds up.
      EXPECT_EQ(repr.error(), error(n < 8 ? Errc::message_size : Errc::bad_message)) << n;
    }
  }
}

TEST(WireIcmp, RejectsBadChecksum) {
  auto bytes = icmp_part(kEchoRequestFrame);
  bytes[40] ^= std::byte{0x80};
  EXPECT_EQ(parse_icmp(bytes).error(), error(Errc::bad_message));
}

// RFC 792: timestamp messages carry id, sequence and three 32-bit times.
TEST(WireIcmp, TimestampMessagesRoundTrip) {
  std::array<std::byte, 20> message{};
  store_be32(message, 8, 0x01020304);
  store_be32(message, 12, 45'296'789);
  store_be32(message, 16, 45'296'790);
  const auto repr = IcmpRepr::timestamp_reply(0x1234, 7);
  ASSERT_EQ(repr.buffer_len(), message.size());
  repr.emit(message);
  auto view = IcmpView::checked(message);
  ASSERT_TRUE(view);
  auto parsed = IcmpRepr::parse(*view);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->type, IcmpType::timestamp_reply);
  EXPECT_EQ(parsed->code, 0);
  EXPECT_EQ(parsed->echo_id(), 0x1234);
  EXPECT_EQ(parsed->echo_seq(), 7);
  EXPECT_EQ(view->originate_timestamp(), 0x01020304u);
  EXPECT_EQ(view->receive_timestamp(), 45'296'789u);
  EXPECT_EQ(view->transmit_timestamp(), 45'296'790u);
  EXPECT_EQ(IcmpRepr::timestamp_request(1, 2).type, IcmpType::timestamp_request);
  EXPECT_EQ(IcmpRepr::timestamp_request(1, 2).payload_len, 12u);
}

TEST(WireIcmp, UnknownTypeIsCarriedAsIs) {
  // A timestamp request (type 13) with 12 bytes of timestamps.
  std::vector<std::byte> bytes(20);
  const IcmpRepr timestamp{IcmpType{13}, 0, 0x12340001, 12};
  timestamp.emit(bytes);
  auto back = parse_icmp(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, timestamp);
}

}  // namespace wire_icmp_test
}  // namespace
}  // namespace netns::wire
