// The extension-header walk: every verdict and pointer Linux gives, on
// hand-laid chains, and no read past the datagram at any length.
#include "netns/wire/ipv6_ext.hpp"

#include <array>
#include <initializer_list>
#include <vector>

#include <gtest/gtest.h>

namespace netns::wire {
namespace {
namespace wire_ipv6_ext_test {

const Ipv6Address kSrc(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const Ipv6Address kDst(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
const Ipv6Address kAllNodes(0xff02, 0, 0, 0, 0, 0, 0, 1);

constexpr std::uint8_t kHbh = 0, kUdp = 17, kRouting = 43, kFrag = 44, kIcmp = 58, kNone = 59, kDest = 60;

// An IPv6 datagram whose fixed header names `first`, followed by `rest`.
std::vector<std::byte> datagram(std::uint8_t first, std::initializer_list<std::uint8_t> rest,
                                const Ipv6Address& dst = kDst) {
  std::vector<std::byte> bytes(Ipv6Repr::kHeaderLen + rest.size());
  Ipv6Repr{.src = kSrc, .dst = dst, .next_header = IpProtocol{first}, .payload_len = rest.size()}.emit(bytes);
  std::size_t at = Ipv6Repr::kHeaderLen;
  for (auto b : rest) bytes[at++] = std::byte{b};
  return bytes;
}

Ipv6ExtResult walk(const std::vector<std::byte>& bytes, const Ipv6ExtContext& context = {}) {
  auto ip = Ipv6View::checked(bytes);
  EXPECT_TRUE(ip);
  return walk_extension_headers(*ip, context);
}

void expect_problem(const Ipv6ExtResult& r, Icmpv6ParameterProblem code, std::uint32_t pointer,
                    Ipv6ExtCounter counter = Ipv6ExtCounter::in_hdr_errors) {
  EXPECT_EQ(r.verdict, Ipv6ExtVerdict::parameter_problem);
  EXPECT_EQ(r.problem, code);
  EXPECT_EQ(r.pointer, pointer);
  EXPECT_EQ(r.counter, counter);
}

void expect_drop(const Ipv6ExtResult& r, Ipv6ExtCounter counter = Ipv6ExtCounter::in_hdr_errors) {
  EXPECT_EQ(r.verdict, Ipv6ExtVerdict::drop);
  EXPECT_EQ(r.counter, counter);
}

void expect_upper(const Ipv6ExtResult& r, std::uint8_t protocol, std::size_t offset, std::size_t nhoff) {
  EXPECT_EQ(r.verdict, Ipv6ExtVerdict::ok);
  EXPECT_EQ(r.next_header, protocol);
  EXPECT_EQ(r.offset, offset);
  EXPECT_EQ(r.nhoff, nhoff);
}

const std::initializer_list<std::uint8_t> kUdpHeader = {0x12, 0x34, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00};

TEST(Ipv6ExtWalk, NoExtensionHeadersHandsOnTheUpperLayer) {
  expect_upper(walk(datagram(kUdp, kUdpHeader)), kUdp, 40, 6);
  EXPECT_EQ(walk(datagram(kNone, {})).verdict, Ipv6ExtVerdict::no_next_header);
}

TEST(Ipv6ExtWalk, HopByHopRouterAlertThenDestinationOptions) {
  // HBH: RA (value 0, MLD), PadN 0; DEST: PadN 4; then ICMPv6.
  auto d = datagram(kHbh, {kDest, 0, 5, 2, 0, 0, 1, 0,  //
                           kIcmp, 0, 1, 4, 0, 0, 0, 0,  //
                           128, 0, 0, 0, 0, 0, 0, 0});
  auto r = walk(d);
  expect_upper(r, kIcmp, 56, 48);
  ASSERT_TRUE(r.router_alert);
  EXPECT_EQ(*r.router_alert, 0);
  // The same in two steps, as input does it (hop-by-hop before routing).
  auto ip = Ipv6View::checked(d);
  auto hbh = process_hop_by_hop(*ip, {});
  expect_upper(hbh, kDest, 48, 40);
  EXPECT_TRUE(hbh.router_alert);
  expect_upper(walk_extension_headers(*ip, {}, hbh.next()), kIcmp, 56, 48);
  // Without a hop-by-hop header, process_hop_by_hop hands on the fixed header's.
  auto plain = datagram(kUdp, kUdpHeader);
  expect_upper(process_hop_by_hop(*Ipv6View::checked(plain), {}), kUdp, 40, 6);
}

TEST(Ipv6ExtWalk, HopByHopAnywhereButFirstIsAnUnknownNextHeader) {
  // DEST then HBH: code 1 pointing at DEST's next-header field (offset 40).
  expect_problem(walk(datagram(kDest, {kHbh, 0, 1, 4, 0, 0, 0, 0, kUdp, 0, 1, 4, 0, 0, 0, 0})),
                 Icmpv6ParameterProblem::next_header, 40, Ipv6ExtCounter::in_unknown_protos);
  // HBH twice: the second is not first.
  expect_problem(walk(datagram(kHbh, {kHbh, 0, 1, 4, 0, 0, 0, 0, kUdp, 0, 1, 4, 0, 0, 0, 0})),
                 Icmpv6ParameterProblem::next_header, 40, Ipv6ExtCounter::in_unknown_protos);
  // After an atomic fragment.
  expect_problem(walk(datagram(kFrag, {kHbh, 0, 0, 0, 0, 0, 0, 1, kUdp, 0, 1, 4, 0, 0, 0, 0})),
                 Icmpv6ParameterProblem::next_header, 40, Ipv6ExtCounter::in_unknown_protos);
}

TEST(Ipv6ExtWalk, PaddingRules) {
  // Seven consecutive Pad1 bytes are fine (RFC 4942 2.1.9.5)...
  expect_upper(walk(datagram(kDest, {kUdp, 1, 0x1e, 0, 0, 0, 0, 0, 0, 0, 0, 0x1e, 0, 1, 1, 0})), kUdp, 56, 40);
  expect_upper(walk(datagram(kDest, {kUdp, 0, 0, 0, 0, 0, 0, 0})), kUdp, 48, 40);
  // ...eight are not, nor Pad1s and a PadN adding up to more, nor PadN with data.
  expect_drop(walk(datagram(kDest, {kUdp, 1, 0x1e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x1e, 0, 1, 0})));
  expect_drop(walk(datagram(kDest, {kUdp, 1, 0, 0, 0, 0, 0, 0, 1, 6, 0, 0, 0, 0, 0, 0})));
  expect_drop(walk(datagram(kDest, {kUdp, 0, 1, 4, 0, 0, 7, 0})));
  // Padding resets after a real option: 6 + option + 6 is fine.
  expect_upper(walk(datagram(kDest, {kUdp, 1, 1, 4, 0, 0, 0, 0, 0x1e, 0, 1, 4, 0, 0, 0, 0})), kUdp, 56, 40);
}

TEST(Ipv6ExtWalk, OptionLengthsThatOverrunTheHeader) {
  // An option claiming 7 bytes of data in the 6 left.
  expect_drop(walk(datagram(kDest, {kUdp, 0, 0x1e, 7, 0, 0, 0, 0})));
  // A lone type byte at the very end (not Pad1).
  expect_drop(walk(datagram(kDest, {kUdp, 0, 1, 3, 0, 0, 0, 0x1e})));
  // The header's own length past the datagram, and a header under 8 bytes.
  expect_drop(walk(datagram(kDest, {kUdp, 1, 1, 4, 0, 0, 0, 0})));
  expect_drop(walk(datagram(kDest, {kUdp, 0, 1, 0})));
  expect_drop(walk(datagram(kHbh, {kUdp, 0, 1})));
  expect_drop(walk(datagram(kRouting, {kUdp, 0, 0, 0})));
}

TEST(Ipv6ExtWalk, UnknownOptionsByTheirHighBits) {
  auto with_option = [](std::uint8_t type, const Ipv6Address& dst = kDst) {
    return walk(datagram(kDest, {kUdp, 0, type, 0, 1, 2, 0, 0}, dst));
  };
  expect_upper(with_option(0x1e), kUdp, 48, 40);  // 00: skip
  expect_drop(with_option(0x5e));                 // 01: discard
  expect_problem(with_option(0x9e), Icmpv6ParameterProblem::option, 42);
  expect_problem(with_option(0xde), Icmpv6ParameterProblem::option, 42);
  expect_problem(with_option(0x9e, kAllNodes), Icmpv6ParameterProblem::option, 42);
  expect_drop(with_option(0xde, kAllNodes));  // 11: not towards multicast
  // A negative limit refuses every unknown option silently, even 00 ones.
  Ipv6ExtContext strict;
  strict.limits.max_dst_opts_number = -8;
  expect_drop(walk(datagram(kDest, {kUdp, 0, 0x1e, 0, 1, 2, 0, 0}), strict));
  expect_drop(walk(datagram(kDest, {kUdp, 0, 0x9e, 0, 1, 2, 0, 0}), strict));
}

TEST(Ipv6ExtWalk, OptionCountAndLengthLimits) {
  // Eight empty unknown options (16 bytes) pass; nine do not.
  auto options = [](int n) {
    std::vector<std::uint8_t> b{kUdp, 2};
    for (int i = 0; i < n; ++i) b.insert(b.end(), {0x1e, 0});
    while ((b.size() % 8) != 0) b.push_back(0);
    b[1] = static_cast<std::uint8_t>(b.size() / 8 - 1);
    return b;
  };
  auto make = [](std::uint8_t first, std::vector<std::uint8_t> ext) {
    std::vector<std::byte> bytes(40 + ext.size());
    Ipv6Repr{.src = kSrc, .dst = kDst, .next_header = IpProtocol{first}, .payload_len = ext.size()}.emit(bytes);
    for (std::size_t i = 0; i < ext.size(); ++i) bytes[40 + i] = std::byte{ext[i]};
    return bytes;
  };
  expect_upper(walk(make(kDest, options(8))), kUdp, 40 + options(8).size(), 40);
  expect_drop(walk(make(kDest, options(9))));
  expect_drop(walk(make(kHbh, options(9))));
  Ipv6ExtContext generous;
  generous.limits.max_dst_opts_number = 9;
  expect_upper(walk(make(kDest, options(9)), generous), kUdp, 40 + options(9).size(), 40);
  Ipv6ExtContext short_headers;
  short_headers.limits.max_hbh_length = 16;
  short_headers.limits.max_dst_opts_length = 16;
  expect_drop(walk(make(kHbh, options(8)), short_headers));
  expect_drop(walk(make(kDest, options(8)), short_headers), Ipv6ExtCounter::none);
}

TEST(Ipv6ExtWalk, RouterAlertAndJumbo) {
  // Router Alert of the wrong length.
  expect_drop(walk(datagram(kHbh, {kUdp, 0, 5, 3, 0, 0, 0, 0})));
  // Router Alert in a destination options header is just an unknown 00 option.
  expect_upper(walk(datagram(kDest, {kUdp, 0, 5, 2, 0, 0, 1, 0})), kUdp, 48, 40);
  // Jumbo (4n+2, length 4) with a payload length that is not 0: refused,
  // pointing at its length field when that is <= 65535, else at the option.
  expect_problem(walk(datagram(kHbh, {kUdp, 0, 0xc2, 4, 0, 0, 0xff, 0xff})), Icmpv6ParameterProblem::header_field,
                 44);
  expect_problem(walk(datagram(kHbh, {kUdp, 0, 0xc2, 4, 0, 1, 0, 0})), Icmpv6ParameterProblem::header_field, 42);
  // Misaligned or the wrong length: dropped.
  expect_drop(walk(datagram(kHbh, {kUdp, 1, 0, 0xc2, 4, 0, 1, 0, 0, 1, 3, 0, 0, 0, 0, 0})));
  expect_drop(walk(datagram(kHbh, {kUdp, 1, 0xc2, 5, 0, 1, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0})));
}

TEST(Ipv6ExtWalk, RoutingHeaders) {
  // Type 0 with segments left: refused at the type field (offset 42).
  expect_problem(walk(datagram(kRouting, {kUdp, 2, 0, 1, 0, 0, 0, 0,  //
                                          0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3})),
                 Icmpv6ParameterProblem::header_field, 42);
  // Type 0 with no segments left: passed.
  expect_upper(walk(datagram(kRouting, {kUdp, 2, 0, 0, 0, 0, 0, 0,  //
                                        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3})),
               kUdp, 64, 40);
  // An unknown type: passed with no segments left, refused with some.
  expect_upper(walk(datagram(kRouting, {kUdp, 0, 253, 0, 0, 0, 0, 0})), kUdp, 48, 40);
  expect_problem(walk(datagram(kRouting, {kUdp, 0, 253, 2, 0, 0, 0, 0})), Icmpv6ParameterProblem::header_field, 42);
  // Behind a destination options header, the pointer moves with it.
  expect_problem(walk(datagram(kDest, {kRouting, 0, 1, 4, 0, 0, 0, 0, kUdp, 0, 0, 1, 0, 0, 0, 0})),
                 Icmpv6ParameterProblem::header_field, 50);
  // Segment routing, which the stack does not do: dropped quietly.
  expect_drop(walk(datagram(kRouting, {kUdp, 0, 4, 1, 0, 0, 0, 0})), Ipv6ExtCounter::none);
  // Towards multicast, or a link-layer multicast frame: an address error.
  expect_drop(walk(datagram(kRouting, {kUdp, 0, 0, 0, 0, 0, 0, 0}, kAllNodes)), Ipv6ExtCounter::in_addr_errors);
  Ipv6ExtContext multicast_frame;
  multicast_frame.link_multicast = true;
  expect_drop(walk(datagram(kRouting, {kUdp, 0, 0, 0, 0, 0, 0, 0}), multicast_frame),
              Ipv6ExtCounter::in_addr_errors);
}

TEST(Ipv6ExtWalk, AtomicFragmentsArePassed) {
  auto r = walk(datagram(kFrag, {kUdp, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef, 0x12, 0x34, 0x00, 0x35, 0x00, 0x08, 0, 0}));
  expect_upper(r, kUdp, 48, 40);
  EXPECT_TRUE(r.atomic_fragment);
  const auto atomic = datagram(kFrag, {kUdp, 0, 0, 0, 1, 2, 3, 4});
  auto view = Ipv6FragmentView::checked(std::span(atomic).subspan(40));
  ASSERT_TRUE(view);
  EXPECT_TRUE(view->is_atomic());
  EXPECT_EQ(view->identification(), 0x01020304u);
}

TEST(Ipv6ExtWalk, FragmentsStopTheWalkAfterLinuxsChecks) {
  // A first fragment (offset 0, M) of 16 data bytes, UDP header inside.
  auto first = datagram(kDest, {kFrag, 0, 1, 4, 0, 0, 0, 0,  //
                                kUdp, 0, 0x00, 0x01, 0, 0, 0x30, 0x39,
                                0x12, 0x34, 0x00, 0x35, 0x00, 0x20, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8});
  auto r = walk(first);
  EXPECT_EQ(r.verdict, Ipv6ExtVerdict::fragment);
  EXPECT_EQ(r.offset, 48u);
  EXPECT_EQ(r.nhoff, 40u);
  ASSERT_TRUE(r.fragment);
  EXPECT_EQ(*r.fragment, (Ipv6FragmentRepr{.next_header = kUdp, .offset = 0, .more = true, .identification = 12345}));
  // Fragment header cut short: code 0 at the fragment header.
  expect_problem(walk(datagram(kDest, {kFrag, 0, 1, 4, 0, 0, 0, 0, kUdp, 0, 0, 1})),
                 Icmpv6ParameterProblem::header_field, 48);
  // A first fragment that ends inside the UDP header: code 3, pointer 0.
  expect_problem(walk(datagram(kFrag, {kUdp, 0, 0, 1, 0, 0, 0, 1, 0x12, 0x34, 0x00, 0x35})),
                 Icmpv6ParameterProblem::incomplete_chain, 0, Ipv6ExtCounter::in_hdr_errors);
  // ...or whose destination options header after it says it ends past the datagram.
  expect_problem(walk(datagram(kFrag, {kDest, 0, 0, 1, 0, 0, 0, 1, kUdp, 1, 0, 0, 0, 0, 0, 0})),
                 Icmpv6ParameterProblem::incomplete_chain, 0, Ipv6ExtCounter::in_hdr_errors);
  // A chain cut before a header's first two bytes is not judged (Linux's
  // ipv6_skip_exthdr gives up there); this one fails the length check instead.
  expect_problem(walk(datagram(kFrag, {kDest, 0, 0, 1, 0, 0, 0, 1, kUdp})), Icmpv6ParameterProblem::header_field, 4);
  // A later fragment carries no upper-layer header: fine.
  EXPECT_EQ(walk(datagram(kFrag, {kUdp, 0, 0, 9, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8})).verdict,
            Ipv6ExtVerdict::fragment);
  // Not the last, and not a multiple of 8 long: code 0 at payload_length.
  expect_problem(walk(datagram(kFrag, {kUdp, 0, 0, 9, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9})),
                 Icmpv6ParameterProblem::header_field, 4);
  // Ending past 65535: code 0 at the offset field.
  expect_problem(walk(datagram(kFrag, {kUdp, 0, 0xff, 0xf8, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8})),
                 Icmpv6ParameterProblem::header_field, 42);
  // Empty: for reassembly, which drops the whole datagram it names.
  EXPECT_EQ(walk(datagram(kFrag, {kUdp, 0, 0, 8, 0, 0, 0, 1})).verdict, Ipv6ExtVerdict::fragment);
}

TEST(Ipv6ExtWalk, AReassembledDatagramResumesWhereTheFragmentHeaderWas) {
  // Reassembly removes the fragment header and writes its next header into
  // the field that named it (nhoff 40 here): the walk goes on from there.
  auto whole = datagram(kDest, {kUdp, 0, 1, 4, 0, 0, 0, 0, 0x12, 0x34, 0x00, 0x35, 0x00, 0x08, 0, 0});
  auto ip = Ipv6View::checked(whole);
  expect_upper(walk_extension_headers(*ip, {}, {48, 40}), kUdp, 48, 40);
  // Out-of-range positions are refused, not read.
  expect_drop(walk_extension_headers(*ip, {}, {48, 400}));
  expect_drop(walk_extension_headers(*ip, {}, {400, 40}));
}

TEST(Ipv6ExtWalk, EveryTruncationOfEveryChainIsSafe) {
  // Each chain cut at every length (payload_length following the cut, as a
  // sender that lies about nothing but ends early): the walk reads only the
  // view, whatever it decides. ASan checks the reads.
  const std::vector<std::vector<std::byte>> chains = {
      datagram(kHbh, {kDest, 0, 5, 2, 0, 0, 1, 0, kRouting, 0, 1, 4, 0, 0, 0, 0, kFrag, 0, 0, 0, 0, 0, 0, 0,
                      kUdp, 0, 0, 1, 0, 0, 0, 1, 0x12, 0x34, 0x00, 0x35, 0x00, 0x10, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}),
      datagram(kFrag, {kDest, 0, 0, 1, 0, 0, 0, 1, kUdp, 0, 0x1e, 4, 1, 2, 3, 4, 0x12, 0x34, 0x00, 0x35}),
      datagram(kHbh, {kUdp, 0, 0xc2, 4, 0, 1, 0, 0}),
  };
  for (const auto& chain : chains) {
    for (std::size_t n = 40; n <= chain.size(); ++n) {
      std::vector<std::byte> cut(chain.begin(), chain.begin() + static_cast<std::ptrdiff_t>(n));
      store_be16(cut, 4, static_cast<std::uint16_t>(n - 40));
      auto ip = Ipv6View::checked(cut);
      if (n == 40 && load_u8(cut, 6) == 0) {  // payload length 0 ahead of hop-by-hop: a jumbogram
        EXPECT_FALSE(ip);
        continue;
      }
      ASSERT_TRUE(ip);
      auto r = walk_extension_headers(*ip, {});
      if (r.verdict == Ipv6ExtVerdict::ok) {
        EXPECT_LE(r.offset, n);
      }
      (void)fragment_insertion_point(*ip);
      (void)skip_extension_headers(cut, 40, load_u8(cut, 6));
    }
  }
}

TEST(Ipv6ExtSkip, SkipsWithoutJudgingAndStopsAtLaterFragments) {
  auto d = datagram(kHbh, {kDest, 0, 0xde, 0, 1, 2, 0, 0, kFrag, 0, 0, 0, 0, 0, 0, 0,  //
                           kUdp, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34});
  auto r = skip_extension_headers(d, 40, kHbh);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->next_header, kUdp);
  EXPECT_EQ(r->offset, 64u);
  // A later fragment: the walk stops at its header with its offset field.
  auto later = datagram(kFrag, {kUdp, 0, 0x04, 0xd1, 0, 0, 0, 1, 9, 9});
  r = skip_extension_headers(later, 40, kFrag);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->next_header, kFrag);
  EXPECT_EQ(r->offset, 40u);
  EXPECT_EQ(r->frag_off, 0x04d1);
  // Cut short: the offset may lie past the bytes; two bytes missing is nullopt.
  auto long_dest = datagram(kDest, {kUdp, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  r = skip_extension_headers(std::span(long_dest).first(42), 40, kDest);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->next_header, kUdp);
  EXPECT_EQ(r->offset, 56u);
  EXPECT_FALSE(skip_extension_headers(std::span(d).first(41), 40, kHbh));
  EXPECT_FALSE(skip_extension_headers(std::span(d).first(50), 40, kHbh));
  EXPECT_FALSE(skip_extension_headers(datagram(kNone, {}), 40, kNone));
  // AH counts 4-byte units, plus 2.
  auto ah = datagram(51, {kUdp, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(skip_extension_headers(ah, 40, 51)->offset, 64u);
}

TEST(Ipv6ExtFragmentation, InsertionPointAfterTheUnfragmentablePart) {
  auto at = [](std::vector<std::byte> d) { return fragment_insertion_point(*Ipv6View::checked(d)); };
  auto plain = at(datagram(kUdp, kUdpHeader));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->offset, 40u);
  EXPECT_EQ(plain->nhoff, 6u);
  auto hbh = at(datagram(kHbh, {kUdp, 0, 1, 4, 0, 0, 0, 0}));
  EXPECT_EQ(hbh->offset, 48u);
  EXPECT_EQ(hbh->nhoff, 40u);
  // HBH, DEST, ROUTING, DEST, UDP: through the routing header.
  auto routed = at(datagram(kHbh, {kDest, 0, 1, 4, 0, 0, 0, 0, kRouting, 0, 1, 4, 0, 0, 0, 0,
                                   kDest, 0, 0, 0, 0, 0, 0, 0, kUdp, 0, 1, 4, 0, 0, 0, 0}));
  EXPECT_EQ(routed->offset, 64u);
  EXPECT_EQ(routed->nhoff, 56u);
  // HBH, DEST, UDP: the destination options are the final destination's.
  auto final_dest = at(datagram(kHbh, {kDest, 0, 1, 4, 0, 0, 0, 0, kUdp, 0, 1, 4, 0, 0, 0, 0}));
  EXPECT_EQ(final_dest->offset, 48u);
  // A chain that runs past the datagram.
  EXPECT_FALSE(at(datagram(kHbh, {kUdp, 1, 1, 4, 0, 0, 0, 0})));
}

TEST(Ipv6ExtFragmentation, FragmentHeaderRoundTrips) {
  std::array<std::byte, 8> out{};
  const Ipv6FragmentRepr repr{.next_header = kIcmp, .offset = 2464, .more = true, .identification = 0xdeadbeef};
  repr.emit(out);
  EXPECT_EQ(load_be16(out, 2), (2464 / 8) << 3 | 1);
  auto view = Ipv6FragmentView::checked(out);
  ASSERT_TRUE(view);
  EXPECT_EQ(Ipv6FragmentRepr::parse(*view), repr);
  EXPECT_FALSE(view->is_atomic());
  EXPECT_FALSE(Ipv6FragmentView::checked(std::span(out).first(7)));
}

TEST(Ipv6ExtEmit, OptionsHeadersArePaddedAsLinuxPadsThem) {
  // MLD's hop-by-hop header: Router Alert 0, then PadN 0 (Linux's `ra` bytes).
  const std::array<std::byte, 2> zero{};
  const std::array<Ipv6OptionRepr, 1> ra{{{.type = 5, .data = zero, .align = 2}}};
  std::array<std::byte, 16> out{};
  auto n = emit_ipv6_options_header(out, kIcmp, ra);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 8u);
  const std::array<std::byte, 8> linux_ra = byte_array({58, 0, 5, 2, 0, 0, 1, 0});
  EXPECT_TRUE(std::equal(linux_ra.begin(), linux_ra.end(), out.begin()));
  // No option at all: one PadN of 4 bytes of zeros.
  ASSERT_EQ(*emit_ipv6_options_header(out, kUdp, {}), 8u);
  EXPECT_EQ(load_u8(out, 2), 1);
  EXPECT_EQ(load_u8(out, 3), 4);
  // A 4n+2 option after a 1-byte one is padded with Pad1; the result walks.
  const std::array<std::byte, 1> one{std::byte{7}};
  const std::array<std::byte, 4> four{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  const std::array<Ipv6OptionRepr, 2> two{{{.type = 0x1e, .data = one}, {.type = 0x1f, .data = four, .align = 4, .align_offset = 2}}};
  ASSERT_EQ(*ipv6_options_header_len(two), 16u);
  std::vector<std::byte> d(40 + 16 + 8);
  Ipv6Repr{.src = kSrc, .dst = kDst, .next_header = IpProtocol::ipv6_destination, .payload_len = 24}.emit(d);
  ASSERT_EQ(*emit_ipv6_options_header(std::span(d).subspan(40), kUdp, two), 16u);
  EXPECT_EQ(load_u8(d, 40 + 5), 0);     // Pad1
  EXPECT_EQ(load_u8(d, 40 + 6), 0x1f);  // at 4n+2
  expect_upper(walk(d), kUdp, 56, 40);
  // Refused: a bad alignment, too little room.
  const std::array<Ipv6OptionRepr, 1> bad{{{.type = 0x1e, .data = one, .align = 3}}};
  EXPECT_FALSE(ipv6_options_header_len(bad));
  EXPECT_EQ(emit_ipv6_options_header(std::span(out).first(7), kUdp, ra).error(), error(Errc::message_size));
}

}  // namespace wire_ipv6_ext_test
}  // namespace
}  // namespace netns::wire
