// NDP messages: the kernel's and radvd's frames read as they meant them and
// re-emitted byte for byte; the option walker's bounds; the RFC 4861 receive
// checks, each violation on its own.
#include "netns/wire/ndp.hpp"

#include <vector>

#include <gtest/gtest.h>

#include "golden_ndp_frames.hpp"
#include "netns/wire/ethernet.hpp"

namespace netns::wire {
namespace {
namespace wire_ndp_test {

using namespace golden_ndp;

const MacAddress kMacA{0x02, 0, 0, 0, 0x0a, 0x01};
const MacAddress kMacB{0x02, 0, 0, 0, 0x0b, 0x01};
const Ipv6Address kLinkLocalA(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0a01);
const Ipv6Address kLinkLocalB(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x0b01);
const Ipv6Address kA(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const Ipv6Address kB(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

// The IPv6 header of an Ethernet frame; its payload is the ICMPv6 message.
Ipv6View ip_of(std::span<const std::byte> frame) {
  auto ip = Ipv6View::checked(frame.subspan(EthernetRepr::kHeaderLen));
  EXPECT_TRUE(ip);
  return *ip;
}

// Emits `repr` for the frame's addresses and compares with the kernel's bytes.
template <class Repr>
void expect_reemits(const Repr& repr, std::span<const std::byte> frame) {
  const Ipv6View ip = ip_of(frame);
  std::vector<std::byte> out(repr.buffer_len());
  repr.emit(out, ip.src(), ip.dst());
  EXPECT_TRUE(std::ranges::equal(out, ip.payload()));
}

TEST(NdpGolden, DadSolicitationFromUnspecifiedCarriesANonce) {
  const Ipv6View ip = ip_of(kDadNs);
  EXPECT_TRUE(icmpv6_checksum_ok(ip.src(), ip.dst(), ip.payload()));
  auto ns = validate_neighbour_solicit(ip, ip.payload());
  ASSERT_TRUE(ns) << ns.error().message();
  EXPECT_EQ(ns->target, kLinkLocalA);
  EXPECT_FALSE(ns->source_link);
  ASSERT_TRUE(ns->nonce);
  EXPECT_EQ(ip.dst(), kLinkLocalA.solicited_node());
  EXPECT_EQ(load_mac(kDadNs, 0), ipv6_multicast_mac(ip.dst()));
  expect_reemits(*ns, kDadNs);
}

TEST(NdpGolden, MulticastSolicitationAndSolicitedAdvertisement) {
  const Ipv6View ns_ip = ip_of(kNsMulticast);
  auto ns = validate_neighbour_solicit(ns_ip, ns_ip.payload());
  ASSERT_TRUE(ns);
  EXPECT_EQ(*ns, (NeighbourSolicitRepr{.target = kB, .source_link = kMacA}));
  EXPECT_EQ(load_mac(kNsMulticast, 0), (MacAddress{0x33, 0x33, 0xff, 0, 0, 2}));
  expect_reemits(*ns, kNsMulticast);

  const Ipv6View na_ip = ip_of(kNaSolicited);
  EXPECT_TRUE(icmpv6_checksum_ok(na_ip.src(), na_ip.dst(), na_ip.payload()));
  auto na = validate_neighbour_advert(na_ip, na_ip.payload());
  ASSERT_TRUE(na);
  EXPECT_EQ(*na, (NeighbourAdvertRepr{.target = kB, .router = true, .solicited = true, .override = true,
                                      .target_link = kMacB}));
  expect_reemits(*na, kNaSolicited);
}

TEST(NdpGolden, UnicastProbeAndItsAnswerWithoutOverride) {
  const Ipv6View ns_ip = ip_of(kNsUnicastProbe);
  auto ns = validate_neighbour_solicit(ns_ip, ns_ip.payload());
  ASSERT_TRUE(ns);
  EXPECT_EQ(ns_ip.dst(), kA);
  EXPECT_EQ(*ns, (NeighbourSolicitRepr{.target = kA, .source_link = kMacB}));
  expect_reemits(*ns, kNsUnicastProbe);

  const Ipv6View na_ip = ip_of(kNaToUnicastNs);
  auto na = validate_neighbour_advert(na_ip, na_ip.payload());
  ASSERT_TRUE(na);
  EXPECT_EQ(*na, (NeighbourAdvertRepr{.target = kA, .solicited = true}));
  expect_reemits(*na, kNaToUnicastNs);

  const Ipv6View router_ip = ip_of(kNaFromRouter);
  auto from_router = validate_neighbour_advert(router_ip, router_ip.payload());
  ASSERT_TRUE(from_router);
  EXPECT_EQ(*from_router, (NeighbourAdvertRepr{.target = kLinkLocalB, .router = true, .solicited = true}));
}

TEST(NdpGolden, RouterSolicitation) {
  const Ipv6View ip = ip_of(kRouterSolicit);
  auto rs = validate_router_solicit(ip, ip.payload());
  ASSERT_TRUE(rs);
  EXPECT_EQ(ip.dst(), kAllRouters);
  EXPECT_EQ(rs->source_link, kMacA);
  expect_reemits(*rs, kRouterSolicit);
}

TEST(NdpGolden, RadvdRouterAdvertisement) {
  const Ipv6View ip = ip_of(kRouterAdvert);
  EXPECT_TRUE(icmpv6_checksum_ok(ip.src(), ip.dst(), ip.payload()));
  auto ra = validate_router_advert(ip, ip.payload());
  ASSERT_TRUE(ra) << ra.error().message();
  EXPECT_EQ(ip.dst(), kAllNodes);
  EXPECT_EQ(ra->cur_hop_limit, 64);
  EXPECT_FALSE(ra->managed);
  EXPECT_TRUE(ra->other_config);
  EXPECT_EQ(ra->router_lifetime, 180);
  EXPECT_EQ(ra->reachable_time, 0u);
  EXPECT_EQ(ra->retrans_timer, 0u);
  EXPECT_EQ(ra->mtu, 1500u);
  EXPECT_EQ(ra->source_link, kMacB);
  ASSERT_EQ(ra->prefixes.size(), 1u);
  EXPECT_EQ(ra->prefixes[0], (NdpPrefixInfo{.prefix = *Ipv6Prefix::parse("2001:db8:1::/64"), .on_link = true,
                                            .autonomous = true, .valid_lifetime = 86400,
                                            .preferred_lifetime = 14400}));
  expect_reemits(*ra, kRouterAdvert);
}

// A message built here, sent from src to dst with hop limit 255 unless told.
struct Built {
  std::vector<std::byte> bytes;
  Ipv6View ip() const { return *Ipv6View::checked(bytes); }
  std::span<const std::byte> message() const { return ip().payload(); }
};

Built build_raw(std::span<const std::byte> message, Ipv6Address src, Ipv6Address dst, std::uint8_t hop_limit = 255) {
  Built b{std::vector<std::byte>(Ipv6Repr::kHeaderLen + message.size())};
  Ipv6Repr{.src = src, .dst = dst, .next_header = IpProtocol::icmpv6, .hop_limit = hop_limit,
           .payload_len = message.size()}
      .emit(b.bytes);
  std::ranges::copy(message, b.bytes.begin() + Ipv6Repr::kHeaderLen);
  return b;
}

template <class Repr>
Built build(const Repr& repr, Ipv6Address src, Ipv6Address dst, std::uint8_t hop_limit = 255) {
  std::vector<std::byte> message(repr.buffer_len());
  repr.emit(message, src, dst);
  return build_raw(message, src, dst, hop_limit);
}

TEST(NdpValidate, SolicitationChecks) {
  const NeighbourSolicitRepr ns{.target = kB, .source_link = kMacA};
  EXPECT_TRUE(validate_neighbour_solicit(build(ns, kA, kB.solicited_node()).ip(),
                                         build(ns, kA, kB.solicited_node()).message()));
  auto refused = [](const Built& b) { return !validate_neighbour_solicit(b.ip(), b.message()); };
  EXPECT_TRUE(refused(build(ns, kA, kB.solicited_node(), 254)));  // forwarded
  EXPECT_TRUE(refused(build(NeighbourSolicitRepr{.target = kAllNodes}, kA, kB)));  // multicast target
  // From ::, only to a solicited-node group and without a source link-layer option.
  EXPECT_TRUE(refused(build(ns, Ipv6Address::any(), kB.solicited_node())));
  EXPECT_TRUE(refused(build(NeighbourSolicitRepr{.target = kB}, Ipv6Address::any(), kB)));
  EXPECT_FALSE(refused(build(NeighbourSolicitRepr{.target = kB}, Ipv6Address::any(), kB.solicited_node())));
  // Code 1.
  Built coded = build(ns, kA, kB);
  coded.bytes[Ipv6Repr::kHeaderLen + 1] = std::byte{1};
  EXPECT_TRUE(refused(coded));
  // 23 bytes: shorter than the fixed part.
  const Built whole = build(ns, kA, kB);
  Built shorty = build_raw(whole.message().first(23), kA, kB);
  EXPECT_EQ(validate_neighbour_solicit(shorty.ip(), shorty.message()).error(), error(Errc::message_size));
  // An advertisement is not a solicitation.
  EXPECT_TRUE(refused(build(NeighbourAdvertRepr{.target = kB}, kB, kA)));
}

TEST(NdpValidate, AdvertisementChecks) {
  const NeighbourAdvertRepr na{.target = kB, .solicited = true, .override = true, .target_link = kMacB};
  Built ok = build(na, kB, kA);
  EXPECT_TRUE(validate_neighbour_advert(ok.ip(), ok.message()));
  Built solicited_to_group = build(na, kB, kAllNodes);
  EXPECT_FALSE(validate_neighbour_advert(solicited_to_group.ip(), solicited_to_group.message()));
  Built unsolicited_to_group = build(NeighbourAdvertRepr{.target = kB, .override = true}, kB, kAllNodes);
  EXPECT_TRUE(validate_neighbour_advert(unsolicited_to_group.ip(), unsolicited_to_group.message()));
  Built group_target = build(NeighbourAdvertRepr{.target = kAllNodes}, kB, kA);
  EXPECT_FALSE(validate_neighbour_advert(group_target.ip(), group_target.message()));
  Built hop64 = build(na, kB, kA, 64);
  EXPECT_FALSE(validate_neighbour_advert(hop64.ip(), hop64.message()));
}

TEST(NdpValidate, RouterMessagesComeFromLinkLocalSources) {
  const RouterAdvertRepr ra{.router_lifetime = 1800, .source_link = kMacB};
  Built from_ll = build(ra, kLinkLocalB, kAllNodes);
  EXPECT_TRUE(validate_router_advert(from_ll.ip(), from_ll.message()));
  Built from_global = build(ra, kB, kAllNodes);
  EXPECT_FALSE(validate_router_advert(from_global.ip(), from_global.message()));

  Built rs_unspecified = build(RouterSolicitRepr{.source_link = kMacA}, Ipv6Address::any(), kAllRouters);
  EXPECT_FALSE(validate_router_solicit(rs_unspecified.ip(), rs_unspecified.message()));
  Built rs_bare = build(RouterSolicitRepr{}, Ipv6Address::any(), kAllRouters);
  EXPECT_TRUE(validate_router_solicit(rs_bare.ip(), rs_bare.message()));

  const std::array<std::byte, 8> quoted{std::byte{0x60}};
  const RedirectRepr redirect{.target = kLinkLocalB, .destination = kB, .target_link = kMacB,
                              .redirected_header = quoted};
  Built r = build(redirect, kLinkLocalA, kA);
  auto parsed = validate_redirect(r.ip(), r.message());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->target, kLinkLocalB);
  EXPECT_EQ(parsed->destination, kB);
  EXPECT_EQ(parsed->target_link, kMacB);
  EXPECT_TRUE(std::ranges::equal(parsed->redirected_header, quoted));
  Built off_link_target = build(RedirectRepr{.target = kA, .destination = kB}, kLinkLocalA, kA);
  EXPECT_FALSE(validate_redirect(off_link_target.ip(), off_link_target.message()));
  Built on_link = build(RedirectRepr{.target = kB, .destination = kB}, kLinkLocalA, kA);
  EXPECT_TRUE(validate_redirect(on_link.ip(), on_link.message()));
}

TEST(NdpOptions, ZeroLengthOptionDropsTheMessage) {
  std::array<std::byte, 16> opts{};
  opts[0] = std::byte{1};
  opts[1] = std::byte{1};
  store_mac(opts, 2, kMacA);
  opts[8] = std::byte{99};  // unknown, length 0
  EXPECT_EQ(NdpOptions::parse(opts).error(), error(Errc::bad_message));
  opts[9] = std::byte{1};  // unknown, 8 bytes: skipped
  auto parsed = NdpOptions::parse(opts);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->source_link, kMacA);
}

TEST(NdpOptions, NeverReadsPastTheBuffer) {
  std::array<std::byte, 8> opts{};
  opts[0] = std::byte{3};
  opts[1] = std::byte{4};  // a prefix option claiming 32 bytes in 8
  EXPECT_FALSE(NdpOptions::parse(opts));
  EXPECT_FALSE(NdpOptions::parse(std::span(opts).first(1)));  // half a type-length pair
  EXPECT_TRUE(NdpOptions::parse(std::span(opts).first(0)));
  opts[0] = std::byte{1};
  opts[1] = std::byte{2};  // a 16-byte link-layer option: not Ethernet's
  EXPECT_FALSE(NdpOptions::parse(opts));
  // Every length byte over every prefix of a buffer: errors, never a read past it.
  std::array<std::byte, 40> buf{};
  for (int len = 0; len < 256; ++len) {
    buf[1] = std::byte(len);
    buf[0] = std::byte{3};
    for (std::size_t n = 0; n <= buf.size(); ++n) (void)NdpOptions::parse(std::span(buf).first(n));
  }
}

TEST(NdpOptions, FirstOfARepeatedOptionCountsAndShortPrefixesAreSkipped) {
  std::array<std::byte, 40> opts{};
  store_u8(opts, 0, 1);
  store_u8(opts, 1, 1);
  store_mac(opts, 2, kMacA);
  store_u8(opts, 8, 1);
  store_u8(opts, 9, 1);
  store_mac(opts, 10, kMacB);
  store_u8(opts, 16, 3);  // prefix information in 24 bytes: too short, skipped
  store_u8(opts, 17, 3);
  auto parsed = NdpOptions::parse(opts);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->source_link, kMacA);
  EXPECT_TRUE(parsed->prefixes.empty());
}

TEST(NdpOptions, MulticastMacAndSolicitedNodeGroup) {
  EXPECT_EQ(ipv6_multicast_mac(kAllNodes), (MacAddress{0x33, 0x33, 0, 0, 0, 1}));
  EXPECT_EQ(ipv6_multicast_mac(Ipv6Address(0xff02, 0, 0, 0, 0, 1, 0xff12, 0x3456)),
            (MacAddress{0x33, 0x33, 0xff, 0x12, 0x34, 0x56}));
  EXPECT_TRUE(is_solicited_node(kA.solicited_node()));
  EXPECT_FALSE(is_solicited_node(kAllNodes));
  EXPECT_FALSE(is_solicited_node(kA));
}

}  // namespace wire_ndp_test
}  // namespace
}  // namespace netns::wire
