// ICMPv6: checked() bounds and checksum, reprs, the error builder's quote
// and the rules on when an error may be sent.
#include "netns/wire/icmpv6.hpp"

#include <array>
#include <initializer_list>
#include <vector>

#include <gtest/gtest.h>

namespace netns::wire {
namespace {
namespace wire_icmpv6_test {

const Ipv6Address kSrc(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const Ipv6Address kDst(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const Ipv6Address kAllNodes(0xff02, 0, 0, 0, 0, 0, 0, 1);

std::vector<std::byte> echo(std::size_t data_len) {
  std::vector<std::byte> m(Icmpv6Repr::kHeaderLen + data_len);
  for (std::size_t i = 0; i < data_len; ++i) m[8 + i] = std::byte{static_cast<std::uint8_t>(i)};
  Icmpv6Repr::echo_request(0x1234, 7, data_len).emit(m, kSrc, kDst);
  return m;
}

TEST(Icmpv6Wire, TypesAndErrors) {
  EXPECT_TRUE(is_error(Icmpv6Type::dest_unreachable));
  EXPECT_TRUE(is_error(Icmpv6Type::parameter_problem));
  EXPECT_TRUE(is_error(std::uint8_t{127}));
  EXPECT_FALSE(is_error(Icmpv6Type::echo_request));
  EXPECT_FALSE(is_error(Icmpv6Type::neighbour_solicitation));
  EXPECT_EQ(static_cast<int>(Icmpv6Unreachable::port), 4);
  EXPECT_EQ(static_cast<int>(Icmpv6ParameterProblem::incomplete_chain), 3);
}

TEST(Icmpv6Wire, EchoRoundTripsWithThePseudoHeaderChecksum) {
  auto m = echo(5);
  auto view = Icmpv6View::checked(m, kSrc, kDst);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->type(), Icmpv6Type::echo_request);
  EXPECT_EQ(view->echo_id(), 0x1234);
  EXPECT_EQ(view->echo_seq(), 7);
  EXPECT_EQ(view->payload().size(), 5u);
  EXPECT_EQ(Icmpv6Repr::parse(*view), Icmpv6Repr::echo_request(0x1234, 7, 5));
  EXPECT_EQ(ipv6_transport_checksum(kSrc, kDst, 58, m), 0);
  // The same bytes between other addresses do not verify: the pseudo-header counts.
  EXPECT_EQ(Icmpv6View::checked(m, kDst, kAllNodes).error(), error(Errc::bad_message));
  // One flipped data bit does not either.
  m[10] ^= std::byte{0x01};
  EXPECT_EQ(Icmpv6View::checked(m, kSrc, kDst).error(), error(Errc::bad_message));
  // Turned into its reply in place.
  m[10] ^= std::byte{0x01};
  auto mut = Icmpv6MutView::checked(m, kSrc, kDst);
  ASSERT_TRUE(mut);
  m[0] = std::byte{129};
  mut->fill_checksum(kDst, kSrc);
  auto reply = Icmpv6View::checked(m, kDst, kSrc);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->type(), Icmpv6Type::echo_reply);
}

TEST(Icmpv6Wire, CheckedRefusesShortMessages) {
  auto m = echo(0);
  EXPECT_EQ(Icmpv6View::checked(std::span(m).first(3), kSrc, kDst).error(), error(Errc::message_size));
  EXPECT_EQ(Icmpv6View::checked(std::span(m).first(0), kSrc, kDst).error(), error(Errc::message_size));
  // A known type needs its 32-bit field.
  EXPECT_EQ(Icmpv6View::checked(std::span(m).first(7), kSrc, kDst).error(), error(Errc::message_size));
  // An unknown type of 4 bytes is a message (RFC 4443 2.1); its field reads 0.
  std::array<std::byte, 4> unknown{std::byte{200}, std::byte{0}, {}, {}};
  store_be16(unknown, 2, ipv6_transport_checksum(kSrc, kDst, 58, unknown));
  auto view = Icmpv6View::checked(unknown, kSrc, kDst);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->raw_type(), 200);
  EXPECT_EQ(view->rest_of_header(), 0u);
  EXPECT_TRUE(view->payload().empty());
}

TEST(Icmpv6Wire, ErrorReprsCarryTheirField) {
  EXPECT_EQ(Icmpv6Repr::packet_too_big(1280).rest_of_header, 1280u);
  EXPECT_EQ(Icmpv6Repr::parameter_problem(Icmpv6ParameterProblem::option, 42).rest_of_header, 42u);
  EXPECT_EQ(Icmpv6Repr::parameter_problem(Icmpv6ParameterProblem::option, 42).code, 2);
  EXPECT_EQ(Icmpv6Repr::time_exceeded(Icmpv6TimeExceeded::reassembly).code, 1);
  EXPECT_EQ(Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::no_route).type, Icmpv6Type::dest_unreachable);
}

// A UDP datagram from kSrc to `dst` with `payload` bytes.
std::vector<std::byte> udp_datagram(std::size_t payload, const Ipv6Address& dst = kDst,
                                    const Ipv6Address& src = kSrc) {
  std::vector<std::byte> d(40 + 8 + payload);
  Ipv6Repr{.src = src, .dst = dst, .next_header = IpProtocol::udp, .payload_len = 8 + payload}.emit(d);
  return d;
}

TEST(Icmpv6Error, QuotesAsMuchAsFitsIn1280Bytes) {
  EXPECT_EQ(icmpv6_error_quote_len(100), 100u);
  EXPECT_EQ(icmpv6_error_quote_len(1232), 1232u);
  EXPECT_EQ(icmpv6_error_quote_len(1500), 1232u);
  EXPECT_EQ(icmpv6_error_len(1500), kIpv6MinMtu);
  for (std::size_t payload : {0u, 100u, 1184u, 1185u, 1452u}) {
    auto invoking = udp_datagram(payload);
    std::vector<std::byte> out(icmpv6_error_len(invoking.size()));
    const std::size_t n =
        emit_icmpv6_error(out, Ipv6Repr{.src = kDst, .dst = kSrc, .hop_limit = 64},
                          Icmpv6Repr::dest_unreachable(Icmpv6Unreachable::port), invoking);
    ASSERT_EQ(n, out.size());
    EXPECT_LE(n, kIpv6MinMtu);
    auto ip = Ipv6View::checked(out);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->next_header(), 58);
    auto icmp = Icmpv6View::checked(ip->payload(), ip->src(), ip->dst());
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->code(), 4);
    EXPECT_EQ(icmp->payload().size(), std::min<std::size_t>(invoking.size(), 1232));
    EXPECT_TRUE(std::equal(icmp->payload().begin(), icmp->payload().end(), invoking.begin()));
    auto quoted = Ipv6View::checked_quoted(icmp->payload());
    ASSERT_TRUE(quoted);
    EXPECT_EQ(quoted->src(), kSrc);
  }
}

TEST(Icmpv6Error, WhenAnErrorMayBeSent) {
  const auto port = static_cast<std::uint8_t>(Icmpv6Unreachable::port);
  EXPECT_TRUE(icmpv6_error_allowed(udp_datagram(4), Icmpv6Type::dest_unreachable, port, 0, false));
  // Not about a frame that came to a multicast address (link or IPv6)...
  EXPECT_FALSE(icmpv6_error_allowed(udp_datagram(4), Icmpv6Type::dest_unreachable, port, 0, true));
  EXPECT_FALSE(icmpv6_error_allowed(udp_datagram(4, kAllNodes), Icmpv6Type::dest_unreachable, port, 0, false));
  // ...except Packet Too Big, and a parameter problem about a 10xxxxxx option.
  EXPECT_TRUE(icmpv6_error_allowed(udp_datagram(4, kAllNodes), Icmpv6Type::packet_too_big, 0, 1280, false));
  std::vector<std::byte> with_option(40 + 8 + 8);
  Ipv6Repr{.src = kSrc, .dst = kAllNodes, .next_header = IpProtocol::ipv6_destination, .payload_len = 16}.emit(
      with_option);
  store_u8(with_option, 40, 17);
  store_u8(with_option, 42, 0x9e);
  store_u8(with_option, 44, 0xde);
  EXPECT_TRUE(icmpv6_error_allowed(with_option, Icmpv6Type::parameter_problem, 2, 42, false));
  EXPECT_FALSE(icmpv6_error_allowed(with_option, Icmpv6Type::parameter_problem, 2, 44, false));
  EXPECT_FALSE(icmpv6_error_allowed(with_option, Icmpv6Type::parameter_problem, 0, 42, false));
  // Not to an unspecified or multicast source.
  EXPECT_FALSE(icmpv6_error_allowed(udp_datagram(4, kDst, Ipv6Address::any()), Icmpv6Type::dest_unreachable, port,
                                    0, false));
  EXPECT_FALSE(icmpv6_error_allowed(udp_datagram(4, kDst, kAllNodes), Icmpv6Type::dest_unreachable, port, 0, false));
  // Not about an ICMPv6 error, even behind extension headers; about an echo, yes.
  auto icmp_about = [](std::uint8_t type, std::size_t cut) {
    std::vector<std::byte> d(40 + 8 + 8);
    Ipv6Repr{.src = kSrc, .dst = kDst, .next_header = IpProtocol::ipv6_destination, .payload_len = 16}.emit(d);
    store_u8(d, 40, 58);
    store_u8(d, 42, 1);
    store_u8(d, 43, 4);
    store_u8(d, 48, type);
    d.resize(cut);
    return d;
  };
  EXPECT_FALSE(icmpv6_error_allowed(icmp_about(1, 56), Icmpv6Type::time_exceeded, 0, 0, false));
  EXPECT_TRUE(icmpv6_error_allowed(icmp_about(128, 56), Icmpv6Type::time_exceeded, 0, 0, false));
  // An ICMPv6 message cut before its type: not answered.
  EXPECT_FALSE(icmpv6_error_allowed(icmp_about(128, 48), Icmpv6Type::time_exceeded, 0, 0, false));
  // Not an IPv6 header at all.
  const auto udp = udp_datagram(4);
  EXPECT_FALSE(icmpv6_error_allowed(std::span(udp).first(39), Icmpv6Type::dest_unreachable, port, 0, false));
}

}  // namespace wire_icmpv6_test
}  // namespace
}  // namespace netns::wire
