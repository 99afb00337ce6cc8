#include "netns/wire/ipv4.hpp"

#include <array>
#include <initializer_list>
#include <vector>

#include <gtest/gtest.h>

#include "netns/wire/ethernet.hpp"
#include "wire/golden_frames.hpp"

namespace netns::wire {
namespace {
namespace wire_ipv4_test {

using golden::kEchoRequestFrame;

// `ping -R -c1 192.168.1.1`: iputils puts a NOP and a 39-byte Record Route
// option (pointer 4, nine empty slots) in a 60-byte header.
constexpr auto kRecordRouteFrame = byte_array({
    0xa0, 0x63, 0x91, 0x8c, 0x4e, 0x11, 0x3c, 0x7c, 0x3f, 0x1e, 0xa2, 0x05,
    0x08, 0x00, 0x4f, 0x00, 0x00, 0x7c, 0x4a, 0x10, 0x40, 0x00, 0x40, 0x01,
    0x3b, 0x0a, 0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01, 0x01, 0x07,
    0x27, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x08, 0x00, 0xc2, 0x14, 0x1c, 0x2c, 0x00, 0x01, 0xc3, 0xb2,
    0xa1, 0x65, 0x00, 0x00, 0x00, 0x00, 0xf1, 0xd2, 0x04, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
    0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25,
    0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31,
    0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
});

// What an ICMP fragmentation-needed error quotes: the header of a 1500-byte
// TCP datagram and the first 8 bytes of its segment.
constexpr auto kQuotedDatagram = byte_array({
    0x45, 0x00, 0x05, 0xdc, 0xd4, 0x40, 0x40, 0x00, 0x40, 0x06, 0x69, 0x4e,
    0xc0, 0xa8, 0x01, 0x0a, 0x5d, 0xb8, 0xd8, 0x22, 0xa0, 0xc2, 0x00, 0x50,
    0x5a, 0x3c, 0x20, 0x59,
});

const Ipv4Address kHost(192, 168, 1, 10);
const Ipv4Address kRouter(192, 168, 1, 1);

template <std::size_t N>
std::vector<std::byte> ip_part(const std::array<std::byte, N>& frame) {
  return {frame.begin() + EthernetView::kHeaderLen, frame.end()};
}

Result<Ipv4Repr> parse_ip(std::span<const std::byte> bytes) {
  auto view = Ipv4View::checked(bytes);
  if (!view) return view.error();
  return Ipv4Repr::parse(*view);
}

// A header-only datagram whose fields a test breaks one at a time.
std::vector<std::byte> minimal_datagram() {
  std::vector<std::byte> bytes(Ipv4Repr::kHeaderLen);
  Ipv4Repr{.src = kHost, .dst = kRouter, .protocol = IpProtocol::tcp}.emit(bytes);
  return bytes;
}

TEST(WireIpv4, ParsesLinuxEchoRequestHeader) {
  const auto bytes = ip_part(kEchoRequestFrame);
  auto ip = Ipv4View::checked(bytes);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->version(), 4);
  EXPECT_EQ(ip->header_len(), 20u);
  EXPECT_EQ(ip->tos(), 0);
  EXPECT_EQ(ip->dscp(), 0);
  EXPECT_EQ(ip->ecn(), 0);
  EXPECT_EQ(ip->total_length(), 84);
  EXPECT_EQ(ip->identification(), 0x3c5a);
  EXPECT_TRUE(ip->dont_fragment());
  EXPECT_FALSE(ip->more_fragments());
  EXPECT_EQ(ip->fragment_offset(), 0);
  EXPECT_FALSE(ip->is_fragment());
  EXPECT_EQ(ip->ttl(), 64);
  EXPECT_EQ(ip->protocol(), IpProtocol::icmp);
  EXPECT_EQ(ip->header_checksum(), 0x7af3);
  EXPECT_TRUE(ip->verify_checksum());
  EXPECT_EQ(ip->src(), kHost);
  EXPECT_EQ(ip->dst(), kRouter);
  EXPECT_TRUE(ip->options().empty());
  ASSERT_EQ(ip->payload().size(), 64u);
  EXPECT_EQ(ip->payload()[0], std::byte{0x08});  // ICMP echo request

  auto repr = Ipv4Repr::parse(*ip);
  ASSERT_TRUE(repr);
  EXPECT_EQ(*repr, (Ipv4Repr{.src = kHost,
                             .dst = kRouter,
                             .protocol = IpProtocol::icmp,
                             .payload_len = 64,
                             .ttl = 64,
                             .tos = 0,
                             .identification = 0x3c5a,
                             .dont_fragment = true,
                             .more_fragments = false,
                             .fragment_offset = 0}));
}

TEST(WireIpv4, EmitReproducesLinuxHeader) {
  const auto bytes = ip_part(kEchoRequestFrame);
  auto repr = parse_ip(bytes);
  ASSERT_TRUE(repr);
  std::array<std::byte, Ipv4Repr::kHeaderLen> out{};
  ASSERT_EQ(repr->buffer_len(), out.size());
  repr->emit(out);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), bytes.begin()));
}

TEST(WireIpv4, RecordRouteOptionIsSkipped) {
  const auto bytes = ip_part(kRecordRouteFrame);
  auto ip = Ipv4View::checked(bytes);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->header_len(), 60u);
  EXPECT_EQ(ip->total_length(), 124);
  EXPECT_TRUE(ip->verify_checksum());
  ASSERT_EQ(ip->options().size(), 40u);
  EXPECT_EQ(ip->options()[0], std::byte{0x01});  // NOP
  EXPECT_EQ(ip->options()[1], std::byte{0x07});  // Record Route
  EXPECT_EQ(ip->options()[2], std::byte{39});
  ASSERT_EQ(ip->payload().size(), 64u);
  EXPECT_EQ(ip->payload()[0], std::byte{0x08});
  EXPECT_EQ(ip->payload().data(), bytes.data() + 60);

  auto repr = Ipv4Repr::parse(*ip);
  ASSERT_TRUE(repr);
  EXPECT_EQ(repr->payload_len, 64u);
  EXPECT_EQ(repr->identification, 0x4a10);

  // Emitting the repr drops the options: a 20-byte header for the same payload.
  std::vector<std::byte> out(repr->buffer_len() + repr->payload_len);
  repr->emit(out);
  auto plain = Ipv4View::checked(out);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->header_len(), 20u);
  EXPECT_EQ(plain->total_length(), 84);
  EXPECT_TRUE(plain->verify_checksum());
}

// The option walk finds what ping -R put there, and emitting the repr with
// those options reproduces Linux's 60-byte header byte for byte.
TEST(WireIpv4, RecordRouteOptionIsWalkedAndReemitted) {
  const auto bytes = ip_part(kRecordRouteFrame);
  auto ip = Ipv4View::checked(bytes);
  ASSERT_TRUE(ip);
  Ipv4OptionReader reader(ip->options());
  auto nop = reader.next();
  ASSERT_TRUE(nop);
  EXPECT_EQ(nop->type, Ipv4OptionType::no_operation);
  auto rr = reader.next();
  ASSERT_TRUE(rr);
  EXPECT_EQ(rr->type, Ipv4OptionType::record_route);
  EXPECT_EQ(rr->offset, 1u);
  EXPECT_EQ(rr->length, 39);
  EXPECT_FALSE(is_copied(rr->type));
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.malformed_at());

  auto repr = Ipv4Repr::parse(*ip);
  ASSERT_TRUE(repr);
  std::vector<std::byte> out(60);
  repr->emit(out, ip->options());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), bytes.begin()));
}

TEST(WireIpv4, OptionWalkStopsAtEndOfListAndAtAMalformedLength) {
  const auto area = [](std::initializer_list<int> v) {
    std::vector<std::byte> out;
    for (int b : v) out.push_back(std::byte(static_cast<std::uint8_t>(b)));
    return out;
  };
  const auto options = area({0x83, 7, 4, 10, 0, 0, 1, 0, 68, 4});  // LSRR, then End of List
  Ipv4OptionReader reader(options);
  auto lsrr = reader.next();
  ASSERT_TRUE(lsrr);
  EXPECT_EQ(lsrr->type, Ipv4OptionType::loose_source_route);
  EXPECT_TRUE(is_copied(lsrr->type));
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.malformed_at());
  for (const auto& bad : {area({1, 7, 0, 0}), area({1, 7, 9, 0}), area({1, 1, 1, 130})}) {
    Ipv4OptionReader walk(bad);
    while (walk.next()) {
    }
    ASSERT_TRUE(walk.malformed_at());
    EXPECT_EQ(*walk.malformed_at(), bad[3] == std::byte{130} ? 3u : 1u);  // the type byte
  }
}

TEST(WireIpv4, TrailingPaddingIsNotPayload) {
  // A 40-byte datagram padded to fill a 60-byte Ethernet frame.
  auto bytes = minimal_datagram();
  Ipv4Repr{.src = kHost, .dst = kRouter, .protocol = IpProtocol::tcp, .payload_len = 20}.emit(
      bytes);
  bytes.resize(46);
  auto ip = Ipv4View::checked(bytes);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->bytes().size(), 40u);
  EXPECT_EQ(ip->payload().size(), 20u);
}

TEST(WireIpv4, EveryTruncationIsRejected) {
  for (const auto& bytes : {ip_part(kEchoRequestFrame), ip_part(kRecordRouteFrame)}) {
    const std::span<const std::byte> all(bytes);
    for (std::size_t n = 0; n < all.size(); ++n) {
      auto ip = Ipv4View::checked(all.first(n));
      ASSERT_FALSE(ip) << n;
      EXPECT_EQ(ip.error(), error(Errc::message_size)) << n;
    }
    EXPECT_TRUE(parse_ip(all));
  }
}

TEST(WireIpv4, RejectsOtherVersions) {
  auto bytes = minimal_datagram();
  for (std::uint8_t version : {0, 5, 6, 15}) {
    bytes[0] = std::byte(version << 4 | 5);
    EXPECT_EQ(Ipv4View::checked(bytes).error(), error(Errc::bad_message)) << int{version};
  }
}

TEST(WireIpv4, RejectsHeaderLengthBelowFive) {
  auto bytes = minimal_datagram();
  for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
    bytes[0] = std::byte(0x40 | ihl);
    EXPECT_EQ(Ipv4View::checked(bytes).error(), error(Errc::bad_message)) << int{ihl};
  }
}

TEST(WireIpv4, RejectsHeaderLengthBeyondBuffer) {
  auto bytes = minimal_datagram();
  for (std::uint8_t ihl = 6; ihl <= 15; ++ihl) {
    bytes[0] = std::byte(0x40 | ihl);
    store_be16(bytes, 2, static_cast<std::uint16_t>(ihl * 4));
    EXPECT_EQ(Ipv4View::checked(bytes).error(), error(Errc::message_size)) << int{ihl};
  }
}

TEST(WireIpv4, RejectsTotalLengthBelowHeader) {
  auto bytes = minimal_datagram();
  for (std::uint16_t total : {0, 1, 19}) {
    store_be16(bytes, 2, total);
    EXPECT_EQ(Ipv4View::checked(bytes).error(), error(Errc::bad_message)) << total;
  }
  // With options, total_length must cover them too.
  auto with_options = ip_part(kRecordRouteFrame);
  store_be16(with_options, 2, 40);
  EXPECT_EQ(Ipv4View::checked(with_options).error(), error(Errc::bad_message));
}

TEST(WireIpv4, RejectsTotalLengthBeyondBuffer) {
  auto bytes = minimal_datagram();
  for (std::uint16_t total : {21, 1500, 65535}) {
    store_be16(bytes, 2, total);
    EXPECT_EQ(Ipv4View::checked(bytes).error(), error(Errc::message_size)) << total;
  }
}

TEST(WireIpv4, RejectsBadHeaderChecksum) {
  auto bytes = ip_part(kEchoRequestFrame);
  bytes[15] ^= std::byte{0x01};  // a bit of the source address
  auto ip = Ipv4View::checked(bytes);
  ASSERT_TRUE(ip);
  EXPECT_FALSE(ip->verify_checksum());
  EXPECT_EQ(Ipv4Repr::parse(*ip).error(), error(Errc::bad_message));
  // A damaged option is covered by the checksum too.
  auto options = ip_part(kRecordRouteFrame);
  options[30] = std::byte{0xff};
  EXPECT_EQ(parse_ip(options).error(), error(Errc::bad_message));
}

TEST(WireIpv4, FragmentFieldsRoundTrip) {
  std::vector<std::byte> bytes(Ipv4Repr::kHeaderLen + 1480);
  const Ipv4Repr first{.src = kHost,
                       .dst = kRouter,
                       .protocol = IpProtocol::udp,
                       .payload_len = 1480,
                       .identification = 0xbeef,
                       .more_fragments = true,
                       .fragment_offset = 0};
  Ipv4Repr middle = first;
  middle.fragment_offset = 1480;
  for (const Ipv4Repr& repr : {first, middle}) {
    repr.emit(bytes);
    auto ip = Ipv4View::checked(bytes);
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->is_fragment());
    EXPECT_TRUE(ip->more_fragments());
    EXPECT_FALSE(ip->dont_fragment());
    EXPECT_EQ(ip->fragment_offset(), repr.fragment_offset);
    auto back = Ipv4Repr::parse(*ip);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, repr);
  }
  EXPECT_EQ(load_be16(bytes, 6), 0x2000 | 1480 / 8);
}

TEST(WireIpv4, RejectsFragmentEndingPastLargestDatagram) {
  // The ping of death: offset 65528 plus any payload exceeds 65535.
  auto bytes = ip_part(kEchoRequestFrame);
  auto ip = Ipv4MutView::checked(bytes);
  ASSERT_TRUE(ip);
  ip->set_fragment(false, false, 65528);
  ip->fill_checksum();
  EXPECT_EQ(parse_ip(bytes).error(), error(Errc::bad_message));
  // The last fragment that still fits is fine.
  ip->set_fragment(false, false, 65535 - 84 - 3);
  ip->fill_checksum();
  EXPECT_TRUE(parse_ip(bytes));
}

TEST(WireIpv4, DecrementTtlMatchesFullRecomputation) {
  for (auto bytes : {ip_part(kEchoRequestFrame), ip_part(kRecordRouteFrame)}) {
    auto ip = Ipv4MutView::checked(bytes);
    ASSERT_TRUE(ip);
    ip->set_ttl(255);
    ip->fill_checksum();
    while (ip->ttl() > 0) {
      const std::uint8_t before = ip->ttl();
      ip->decrement_ttl();
      ASSERT_EQ(ip->ttl(), before - 1);
      ASSERT_TRUE(ip->verify_checksum()) << "ttl " << int{ip->ttl()};
      const std::uint16_t incremental = ip->header_checksum();
      ip->fill_checksum();
      ASSERT_EQ(ip->header_checksum(), incremental) << "ttl " << int{ip->ttl()};
    }
  }
}

TEST(WireIpv4, MutableViewRewritesAddresses) {
  auto bytes = ip_part(kEchoRequestFrame);
  auto ip = Ipv4MutView::checked(bytes);
  ASSERT_TRUE(ip);
  ip->set_src(Ipv4Address(10, 0, 0, 2));
  ip->set_dst(Ipv4Address(10, 0, 0, 1));
  ip->set_tos(0xb8);  // DSCP EF
  EXPECT_FALSE(ip->verify_checksum());
  ip->fill_checksum();
  const Ipv4View view = *ip;
  EXPECT_TRUE(view.verify_checksum());
  EXPECT_EQ(view.src(), Ipv4Address(10, 0, 0, 2));
  EXPECT_EQ(view.dscp(), 46);
  EXPECT_EQ(view.payload().size(), 64u);
}

TEST(WireIpv4, QuotedDatagramParsesHeaderOnly) {
  // Cut short by design, so checked() refuses it and checked_quoted() takes it.
  EXPECT_EQ(Ipv4View::checked(kQuotedDatagram).error(), error(Errc::message_size));
  auto quoted = Ipv4View::checked_quoted(kQuotedDatagram);
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->total_length(), 1500);
  EXPECT_TRUE(quoted->verify_checksum());
  EXPECT_EQ(quoted->protocol(), IpProtocol::tcp);
  EXPECT_EQ(quoted->src(), kHost);
  EXPECT_EQ(quoted->dst(), Ipv4Address(93, 184, 216, 34));
  ASSERT_EQ(quoted->payload().size(), 8u);
  EXPECT_EQ(load_be16(quoted->payload(), 0), 41154);
  // The header itself must still be whole and sane.
  const std::span<const std::byte> all(kQuotedDatagram);
  for (std::size_t n = 0; n < 20; ++n) EXPECT_FALSE(Ipv4View::checked_quoted(all.first(n))) << n;
  auto bad = kQuotedDatagram;
  bad[0] = std::byte{0x44};
  EXPECT_EQ(Ipv4View::checked_quoted(bad).error(), error(Errc::bad_message));
}

TEST(WireIpv4, ReprRoundTripsEveryField) {
  const Ipv4Repr repr{.src = Ipv4Address(172, 16, 0, 1),
                      .dst = Ipv4Address(224, 0, 0, 251),
                      .protocol = IpProtocol{89},
                      .payload_len = 1000,
                      .ttl = 1,
                      .tos = 0xc3,
                      .identification = 0xffff,
                      .dont_fragment = true,
                      .more_fragments = true,
                      .fragment_offset = 8 * 0x1fff - 8000};
  std::vector<std::byte> bytes(repr.buffer_len() + repr.payload_len);
  repr.emit(bytes);
  auto back = parse_ip(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, repr);
}

}  // namespace wire_ipv4_test
}  // namespace
}  // namespace netns::wire
