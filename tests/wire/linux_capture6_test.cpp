// The golden IPv6 frames of golden6_frames.hpp, captured from Linux by
// tests/wire/capture_golden6.sh: the views read them as the kernel meant
// them (fields, checksums verified) and the reprs and builders write the
// kernel's bytes again from the same fields.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <optional>
#include <vector>

#include "golden6_frames.hpp"
#include "netns/wire/bytes.hpp"
#include "netns/wire/icmpv6.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ipv6_ext.hpp"
#include "netns/wire/udp.hpp"

namespace netns::wire {
namespace {
namespace wire_linux_capture6_test {

using namespace golden6;

const Ipv6Address kA(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const Ipv6Address kR0(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
const Ipv6Address kR1(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);
const Ipv6Address kB(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2);
constexpr std::size_t kEthernetLen = 14;

template <std::size_t N>
std::span<const std::byte> ipv6_of(const std::array<std::byte, N>& frame) {
  EXPECT_EQ(load_be16(frame, 12), 0x86dd);
  return std::span<const std::byte>(frame).subspan(kEthernetLen);
}

bool same(std::span<const std::byte> a, std::span<const std::byte> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// The IPv6 header of `ip` and the ICMPv6 message parsed into reprs and
// emitted again around the same payload.
std::vector<std::byte> reemit(const Ipv6View& ip, const Icmpv6View& icmp) {
  std::vector<std::byte> out(ip.bytes().size());
  Ipv6Repr::parse(ip).emit(out);
  std::copy(icmp.payload().begin(), icmp.payload().end(), out.begin() + 48);
  Icmpv6Repr::parse(icmp).emit(std::span(out).subspan(40), ip.src(), ip.dst());
  return out;
}

TEST(WireLinuxCapture6, EchoRequestAndReply) {
  for (const auto* frame : {&kEchoRequest, &kEchoReply}) {
    auto ip = Ipv6View::checked(ipv6_of(*frame));
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->hop_limit(), 64);
    auto walk = walk_extension_headers(*ip, {});
    ASSERT_EQ(walk.verdict, Ipv6ExtVerdict::ok);
    EXPECT_EQ(walk.next_header, 58);
    EXPECT_EQ(walk.offset, 40u);
    auto icmp = Icmpv6View::checked(ip->payload(), ip->src(), ip->dst());
    ASSERT_TRUE(icmp) << "the kernel's ICMPv6 checksum must verify";
    EXPECT_EQ(icmp->echo_id(), 0x290e);
    EXPECT_EQ(icmp->echo_seq(), 1);
    EXPECT_EQ(icmp->payload().size(), 56u);
    EXPECT_TRUE(same(reemit(*ip, *icmp), ip->bytes())) << "our emit writes the kernel's bytes";
  }
  auto request = Ipv6View::checked(ipv6_of(kEchoRequest));
  EXPECT_EQ(request->src(), kA);
  EXPECT_EQ(request->dst(), kR0);
  EXPECT_EQ(Icmpv6View::checked(request->payload(), kA, kR0)->type(), Icmpv6Type::echo_request);
  auto reply = Ipv6View::checked(ipv6_of(kEchoReply));
  EXPECT_EQ(reply->src(), kR0);
  EXPECT_EQ(Icmpv6View::checked(reply->payload(), kR0, kA)->type(), Icmpv6Type::echo_reply);
  // The reply carries the request's data.
  EXPECT_TRUE(same(request->payload().subspan(8), reply->payload().subspan(8)));
}

// An error frame: checksum verified, the quote read, and the whole datagram
// rebuilt by emit_icmpv6_error from the kernel's fields and `invoking`.
void expect_kernel_error(std::span<const std::byte> packet, Icmpv6Type type, std::uint8_t code, std::uint32_t field,
                         std::span<const std::byte> invoking) {
  auto ip = Ipv6View::checked(packet);
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->src(), kR0);
  EXPECT_EQ(ip->dst(), kA);
  auto icmp = Icmpv6View::checked(ip->payload(), ip->src(), ip->dst());
  ASSERT_TRUE(icmp) << "the kernel's ICMPv6 checksum must verify";
  EXPECT_EQ(icmp->type(), type);
  EXPECT_EQ(icmp->code(), code);
  EXPECT_EQ(icmp->rest_of_header(), field);
  EXPECT_LE(ip->bytes().size(), kIpv6MinMtu);
  EXPECT_TRUE(same(icmp->payload(), invoking.first(icmpv6_error_quote_len(invoking.size()))));
  EXPECT_TRUE(icmpv6_error_allowed(invoking, type, code, field, false));
  std::vector<std::byte> out(icmpv6_error_len(invoking.size()));
  ASSERT_EQ(emit_icmpv6_error(out, Ipv6Repr::parse(*ip), Icmpv6Repr::parse(*icmp), invoking), packet.size());
  EXPECT_TRUE(same(out, packet)) << "emit_icmpv6_error writes the kernel's bytes";
}

TEST(WireLinuxCapture6, PortUnreachableQuotesTheWholeDatagram) {
  auto udp_packet = ipv6_of(kUdpClosed);
  auto udp_ip = Ipv6View::checked(udp_packet);
  ASSERT_TRUE(udp_ip);
  auto udp = UdpView::checked(udp_ip->payload());
  ASSERT_TRUE(udp);
  EXPECT_EQ(udp->dst_port(), 9);
  EXPECT_EQ(ipv6_transport_checksum(kA, kR0, 17, udp_ip->payload()), 0) << "tx offload was off";
  expect_kernel_error(ipv6_of(kPortUnreachable), Icmpv6Type::dest_unreachable,
                      static_cast<std::uint8_t>(Icmpv6Unreachable::port), 0, udp_packet);
}

TEST(WireLinuxCapture6, PacketTooBigIs1280BytesWithTheQuoteCut) {
  auto packet = ipv6_of(kPacketTooBig);
  ASSERT_EQ(packet.size(), kIpv6MinMtu);
  auto icmp = Icmpv6View::checked(Ipv6View::checked(packet)->payload(), kR0, kA);
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->mtu(), 1280u);
  // The echo A sent was 1448 bytes; the kernel quoted its first 1232.
  auto quoted = Ipv6View::checked_quoted(icmp->payload());
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->payload_length(), 1408);
  EXPECT_EQ(quoted->dst(), kB);
  std::vector<std::byte> invoking(icmp->payload().begin(), icmp->payload().end());
  invoking.resize(40 + 1408, std::byte{0x5a});  // what the quote left out
  expect_kernel_error(packet, Icmpv6Type::packet_too_big, 0, 1280, invoking);
}

TEST(WireLinuxCapture6, TimeExceededQuotesAnEchoWithHopLimit1) {
  auto packet = ipv6_of(kTimeExceeded);
  auto icmp = Icmpv6View::checked(Ipv6View::checked(packet)->payload(), kR0, kA);
  ASSERT_TRUE(icmp);
  auto quoted = Ipv6View::checked_quoted(icmp->payload());
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->hop_limit(), 1);
  EXPECT_EQ(quoted->dst(), kB);
  expect_kernel_error(packet, Icmpv6Type::time_exceeded, static_cast<std::uint8_t>(Icmpv6TimeExceeded::hop_limit), 0,
                      icmp->payload());
}

TEST(WireLinuxCapture6, ThreeFragmentsReassembleIntoAVerifiedEcho) {
  const std::array<std::span<const std::byte>, 3> fragments{ipv6_of(kFragmentFirst), ipv6_of(kFragmentMiddle),
                                                            ipv6_of(kFragmentLast)};
  const std::array<std::size_t, 3> offsets{0, 1232, 2464};
  std::vector<std::byte> whole(40 + 3008);
  std::optional<std::uint32_t> id;
  for (std::size_t i = 0; i < fragments.size(); ++i) {
    auto ip = Ipv6View::checked(fragments[i]);
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->src(), kB);
    EXPECT_EQ(ip->dst(), kR1);
    auto walk = walk_extension_headers(*ip, {});
    ASSERT_EQ(walk.verdict, Ipv6ExtVerdict::fragment);
    EXPECT_EQ(walk.offset, 40u);
    EXPECT_EQ(walk.nhoff, 6u);
    ASSERT_TRUE(walk.fragment);
    EXPECT_EQ(walk.fragment->next_header, 58);
    EXPECT_EQ(walk.fragment->offset, offsets[i]);
    EXPECT_EQ(walk.fragment->more, i < 2);
    if (id) {
      EXPECT_EQ(walk.fragment->identification, *id);
    }
    id = walk.fragment->identification;
    auto data = ip->bytes().subspan(48);
    ASSERT_LE(offsets[i] + data.size(), 3008u);
    std::copy(data.begin(), data.end(), whole.begin() + 40 + static_cast<std::ptrdiff_t>(offsets[i]));
    // The fragment header re-emitted from its fields.
    std::array<std::byte, 8> header{};
    walk.fragment->emit(header);
    EXPECT_TRUE(same(header, ip->bytes().subspan(40, 8)));
  }
  // Reassembled: the fixed header of the first, naming what the fragment header named.
  auto first = Ipv6View::checked(fragments[0]);
  Ipv6Repr repr = Ipv6Repr::parse(*first);
  repr.next_header = IpProtocol::icmpv6;
  repr.payload_len = 3008;
  repr.emit(whole);
  auto ip = Ipv6View::checked(whole);
  ASSERT_TRUE(ip);
  auto icmp = Icmpv6View::checked(ip->payload(), kB, kR1);
  ASSERT_TRUE(icmp) << "the reassembled echo's checksum must verify";
  EXPECT_EQ(icmp->type(), Icmpv6Type::echo_request);
  EXPECT_EQ(icmp->payload().size(), 3000u);

  // Fragmenting it again as the kernel did (1232 bytes a fragment on a
  // 1280 link) gives the kernel's three frames.
  auto point = fragment_insertion_point(*ip);
  ASSERT_TRUE(point);
  EXPECT_EQ(point->offset, 40u);
  EXPECT_EQ(point->nhoff, 6u);
  for (std::size_t i = 0; i < fragments.size(); ++i) {
    const std::size_t len = std::min<std::size_t>(1232, 3008 - offsets[i]);
    std::vector<std::byte> out(48 + len);
    Ipv6Repr f = repr;
    f.next_header = IpProtocol::ipv6_fragment;
    f.payload_len = 8 + len;
    f.emit(out);
    Ipv6FragmentRepr{.next_header = 58, .offset = offsets[i], .more = i < 2, .identification = *id}.emit(
        std::span(out).subspan(40));
    std::copy_n(ip->payload().begin() + static_cast<std::ptrdiff_t>(offsets[i]), len, out.begin() + 48);
    EXPECT_TRUE(same(out, fragments[i])) << "fragment " << i;
  }
}

TEST(WireLinuxCapture6, EveryPrefixOfEveryFrameIsSafe) {
  // Cut at every length with the payload length told the truth: nothing
  // reads past the cut, and only the whole message verifies.
  for (auto frame : {ipv6_of(kEchoRequest), ipv6_of(kPortUnreachable), ipv6_of(kTimeExceeded),
                     ipv6_of(kFragmentFirst)}) {
    for (std::size_t n = 0; n < frame.size(); ++n) {
      std::vector<std::byte> cut(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_FALSE(Ipv6View::checked(cut)) << "a datagram cut to " << n << " bytes was accepted";
      if (n < 40) continue;
      store_be16(cut, 4, static_cast<std::uint16_t>(n - 40));
      auto ip = Ipv6View::checked(cut);
      ASSERT_TRUE(ip);
      auto walk = walk_extension_headers(*ip, {});
      if (walk.verdict == Ipv6ExtVerdict::ok) {
        EXPECT_FALSE(Icmpv6View::checked(ip->payload().subspan(walk.offset - 40), ip->src(), ip->dst()) &&
                     n > 48 && ip->next_header() == 58)
            << n;
      }
      (void)icmpv6_error_allowed(cut, Icmpv6Type::dest_unreachable, 4, 0, false);
    }
  }
}

}  // namespace wire_linux_capture6_test
}  // namespace
}  // namespace netns::wire
