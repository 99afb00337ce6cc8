// The NAT engine fed datagrams and conntrack entries by hand: the tuple it
// chooses (kept when free, ports in their class, never a clash, a full range
// drops and counts), every rewrite's checksums (IPv4 header, TCP/UDP with
// the pseudo-header, partial checksums, UDP without one, ICMP echo ids,
// ICMP and ICMPv6 errors with their quoted datagrams), IPv6, hairpin,
// the null binding, masquerade, redirect and the hook's whole run.
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "conntrack/conntrack.hpp"
#include "conntrack/table.hpp"
#include "nat/nat.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/packet_pool.hpp"
#include "nft/ruleset.hpp"
#include "stack/builtins.hpp"
#include "support/ct_packets.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace nat_nat_test {

using conntrack::CtInfo;
using conntrack::Dir;
using conntrack::Tracked;
using nat::ManipType;
using nat::Range;
using netfilter::Hook;
using netfilter::Verdict;
using support::ct::Bytes;
using support::ct::kAck;
using support::ct::kSyn;
namespace ct = support::ct;

const Ipv4Address kClient(192, 0, 2, 20);
const Ipv4Address kServerLan(192, 0, 2, 10);
const Ipv4Address kRouterLan(192, 0, 2, 1);
const Ipv4Address kPublic(198, 51, 100, 1);
const Ipv4Address kServer(203, 0, 113, 9);
const Ipv4Address kFarRouter(203, 0, 113, 254);
const Ipv6Address kClient6(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x20);
const Ipv6Address kPublic6(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1);
const Ipv6Address kServer6(0x2001, 0xdb8, 0, 3, 0, 0, 0, 9);

Range to(IpAddress lo, IpAddress hi, std::uint16_t port_lo = 0, std::uint16_t port_hi = 0) {
  return {.map_ips = true, .proto_specified = port_lo != 0, .min_addr = lo, .max_addr = hi,
          .min_port = port_lo, .max_port = port_hi};
}
Range to(IpAddress a) { return to(a, a); }

bool is_v4(const Bytes& d) { return (std::to_integer<unsigned>(d[0]) >> 4) == 4; }

// Every checksum of a datagram right: the IPv4 header, the transport's with
// its pseudo-header (a UDP 0 over IPv4 means none), ICMP's over the message.
void expect_checksums(const Bytes& d) {
  std::span<const std::byte> b(d);
  if (is_v4(d)) {
    ASSERT_EQ(wire::internet_checksum(b.first(20)), 0) << "IPv4 header";
    auto l4 = b.subspan(20);
    const auto proto = wire::load_u8(b, 9);
    if (proto == conntrack::kProtoIcmp) {
      EXPECT_EQ(wire::internet_checksum(l4), 0) << "ICMP";
    } else if (!(proto == conntrack::kProtoUdp && wire::load_be16(l4, 6) == 0)) {
      EXPECT_EQ(wire::ipv4_transport_checksum(wire::load_ipv4(b, 12), wire::load_ipv4(b, 16), proto, l4), 0)
          << "transport";
    }
    return;
  }
  auto l4 = b.subspan(40);
  EXPECT_EQ(wire::ipv6_transport_checksum(wire::load_ipv6(b, 8), wire::load_ipv6(b, 24), wire::load_u8(b, 6), l4), 0)
      << "IPv6 transport";
}

Endpoint source(const Bytes& d) {
  if (is_v4(d)) return {wire::load_ipv4(d, 12), wire::load_be16(d, 20)};
  return {wire::load_ipv6(d, 8), wire::load_be16(d, 40)};
}
Endpoint destination(const Bytes& d) {
  if (is_v4(d)) return {wire::load_ipv4(d, 16), wire::load_be16(d, 22)};
  return {wire::load_ipv6(d, 24), wire::load_be16(d, 42)};
}

class NatTest : public support::HostTest {
 protected:
  void SetUp() override {
    net_ = host_.create_net("router").value();
    poll();
  }

  conntrack::Conntrack& tracker() { return host_.builtins().conntrack(); }
  conntrack::Table& table() { return tracker().find(*net_)->table(); }

  Tracked track(const Bytes& d, Hook hook = Hook::prerouting) {
    Tracked t = tracker().track(*net_, is_v4(d) ? Family::ipv4 : Family::ipv6, d,
                                {.hook = static_cast<conntrack::Hook>(hook), .checksum_verified = true});
    EXPECT_TRUE(t.ct) << "not tracked";
    return t;
  }

  // A new connection's first datagram through a router: `dnat` at
  // prerouting, `snat` at postrouting (a null binding where a range is
  // absent), rewritten at both, confirmed. Returns the setup verdict.
  Verdict forward_new(Bytes& d, const std::optional<Range>& dnat, const std::optional<Range>& snat,
                      Tracked* out = nullptr) {
    Tracked t = track(d);
    if (!t.ct) return Verdict::drop;
    Verdict v = dnat ? nat::setup(*net_, *t.ct, *dnat, ManipType::dst) : nat::null_binding(*net_, *t.ct, Hook::prerouting);
    if (v != Verdict::accept) return v;
    EXPECT_EQ(nat::manip(d, false, *t.ct, t.info, Hook::prerouting), Verdict::accept);
    v = snat ? nat::setup(*net_, *t.ct, *snat, ManipType::src) : nat::null_binding(*net_, *t.ct, Hook::postrouting);
    if (v != Verdict::accept) return v;
    EXPECT_EQ(nat::manip(d, false, *t.ct, t.info, Hook::postrouting), Verdict::accept);
    EXPECT_TRUE(tracker().confirm(*net_, t));
    expect_checksums(d);
    if (out != nullptr) *out = t;
    return Verdict::accept;
  }

  // A later datagram of a known connection through the router (both hooks).
  CtInfo forward(Bytes& d) {
    Tracked t = track(d);
    if (!t.ct) return CtInfo::new_;
    EXPECT_EQ(nat::manip(d, false, *t.ct, t.info, Hook::prerouting), Verdict::accept);
    EXPECT_EQ(nat::manip(d, false, *t.ct, t.info, Hook::postrouting), Verdict::accept);
    expect_checksums(d);
    return t.info;
  }

  NetRef net_;
};

TEST_F(NatTest, SourceNatKeepsAFreePortAndRepliesComeBack) {
  Bytes out = ct::udp4(kClient, 40000, kServer, 53);
  Tracked t;
  ASSERT_EQ(forward_new(out, std::nullopt, to(kPublic), &t), Verdict::accept);
  EXPECT_EQ(source(out), (Endpoint{kPublic, 40000}));
  EXPECT_EQ(destination(out), (Endpoint{kServer, 53}));
  EXPECT_TRUE(t.ct->test(conntrack::kStatusSrcNat));
  EXPECT_TRUE(t.ct->test(conntrack::kStatusSrcNatDone));
  EXPECT_TRUE(t.ct->test(conntrack::kStatusDstNatDone));
  EXPECT_FALSE(t.ct->test(conntrack::kStatusDstNat));
  EXPECT_EQ(t.ct->tuple(Dir::reply).dst_address(), IpAddress(kPublic));

  Bytes back = ct::udp4(kServer, 53, kPublic, 40000);
  EXPECT_EQ(forward(back), CtInfo::established_reply);
  EXPECT_EQ(source(back), (Endpoint{kServer, 53}));
  EXPECT_EQ(destination(back), (Endpoint{kClient, 40000}));
}

TEST_F(NatTest, ManyClientsThroughOneAddressNeverClash) {
  // 40 clients, 50 flows each, every one from source port 5000 or 700, to
  // one server port: every translated reply tuple distinct, each port in
  // its class.
  std::set<std::uint16_t> high, low;
  for (std::uint8_t c = 1; c <= 40; ++c) {
    for (std::uint16_t f = 0; f < 50; ++f) {
      const Ipv4Address client(192, 0, 2, c);
      const std::uint16_t sport = f % 2 == 0 ? 5000 : 700;
      // A client's flows differ in the server's port only.
      Bytes d = ct::tcp4(client, sport, kServer, static_cast<std::uint16_t>(443 + f / 2), kSyn, 1, 0);
      Tracked t;
      ASSERT_EQ(forward_new(d, std::nullopt, to(kPublic), &t), Verdict::accept);
      const Endpoint s = source(d);
      ASSERT_EQ(s.address, IpAddress(kPublic));
      if (sport >= 1024) {
        EXPECT_GE(s.port, 1024);
      } else {
        EXPECT_GE(s.port, 600);
        EXPECT_LE(s.port, 1023);
      }
      EXPECT_EQ(t.ct->tuple(Dir::reply).dport, s.port);
    }
  }
  // The first flow of each (server port, source port) kept its port; the
  // rest moved: count the distinct reply tuples in the table.
  std::set<std::pair<std::uint16_t, std::uint16_t>> replies;
  std::size_t entries = 0;
  table().for_each([&](const conntrack::Entry& e) {
    ++entries;
    replies.emplace(e.tuple(Dir::reply).sport, e.tuple(Dir::reply).dport);
  });
  EXPECT_EQ(entries, 2000u);
  EXPECT_EQ(replies.size(), 2000u);
  EXPECT_EQ(table().stats().insert_failed, 0u);
}

TEST_F(NatTest, AFullPortRangeDropsAndCounts) {
  std::set<std::uint16_t> ports;
  for (std::uint8_t c = 1; c <= 10; ++c) {
    Bytes d = ct::udp4(Ipv4Address(192, 0, 2, c), 4000, kServer, 53);
    ASSERT_EQ(forward_new(d, std::nullopt, to(kPublic, kPublic, 1000, 1009)), Verdict::accept);
    ports.insert(source(d).port);
    EXPECT_GE(source(d).port, 1000);
    EXPECT_LE(source(d).port, 1009);
  }
  EXPECT_EQ(ports.size(), 10u);
  Bytes eleventh = ct::udp4(Ipv4Address(192, 0, 2, 11), 4000, kServer, 53);
  EXPECT_EQ(forward_new(eleventh, std::nullopt, to(kPublic, kPublic, 1000, 1009)), Verdict::drop);
  EXPECT_EQ(table().stats().insert_failed, 1u);
  EXPECT_EQ(table().confirmed(), 10u);
  // A single-port range whose port is taken: searched (and refused) when
  // the original port is another ...
  Bytes one = ct::udp4(Ipv4Address(192, 0, 2, 12), 4000, kServer, 53);
  EXPECT_EQ(forward_new(one, std::nullopt, to(kPublic, kPublic, 1003, 1003)), Verdict::drop);
  EXPECT_EQ(table().stats().insert_failed, 2u);
  // ... left for confirm to refuse, as Linux, when it is that port already.
  Bytes same = ct::udp4(Ipv4Address(192, 0, 2, 13), 1003, kServer, 53);
  Tracked t = track(same);
  ASSERT_EQ(nat::null_binding(*net_, *t.ct, Hook::prerouting), Verdict::accept);
  ASSERT_EQ(nat::setup(*net_, *t.ct, to(kPublic, kPublic, 1003, 1003), ManipType::src), Verdict::accept);
  EXPECT_FALSE(tracker().confirm(*net_, t));
  EXPECT_EQ(table().stats().insert_failed, 3u);
  EXPECT_EQ(table().confirmed(), 10u);
}

TEST_F(NatTest, AddressRangeKeepsAClientOnOneAddress) {
  const Ipv4Address lo(198, 51, 100, 10), hi(198, 51, 100, 20);
  std::set<IpAddress> used;
  for (std::uint8_t c = 1; c <= 30; ++c) {
    IpAddress first;
    for (std::uint16_t f = 0; f < 3; ++f) {
      Bytes d = ct::udp4(Ipv4Address(192, 0, 2, c), static_cast<std::uint16_t>(3000 + f), kServer, 53);
      ASSERT_EQ(forward_new(d, std::nullopt, to(lo, hi)), Verdict::accept);
      const IpAddress a = source(d).address;
      EXPECT_GE(a, IpAddress(lo));
      EXPECT_LE(a, IpAddress(hi));
      if (f == 0) first = a;
      EXPECT_EQ(a, first) << "client " << int(c) << " moved";
      used.insert(a);
    }
  }
  EXPECT_GT(used.size(), 3u) << "30 clients hashed onto too few of 11 addresses";
}

TEST_F(NatTest, DestinationNatRewritesAddressAndPort) {
  Bytes syn = ct::tcp4(kServer, 50000, kPublic, 8080, kSyn, 100, 0);
  Tracked t;
  ASSERT_EQ(forward_new(syn, to(kServerLan, kServerLan, 80, 80), std::nullopt, &t), Verdict::accept);
  EXPECT_EQ(destination(syn), (Endpoint{kServerLan, 80}));
  EXPECT_EQ(source(syn), (Endpoint{kServer, 50000}));
  EXPECT_TRUE(t.ct->test(conntrack::kStatusDstNat));
  EXPECT_FALSE(t.ct->test(conntrack::kStatusSrcNat));

  Bytes synack = ct::tcp4(kServerLan, 80, kServer, 50000, kSyn | kAck, 500, 101);
  EXPECT_EQ(forward(synack), CtInfo::established_reply);
  EXPECT_EQ(source(synack), (Endpoint{kPublic, 8080}));
  EXPECT_EQ(destination(synack), (Endpoint{kServer, 50000}));
}

TEST_F(NatTest, PartialChecksumKeepsThePseudoHeaderSum) {
  // A locally sent segment whose device finishes the checksum: the field
  // holds the pseudo-header sum only, which must follow the new address.
  Bytes syn = ct::tcp4(kClient, 41000, kServer, 80, kSyn, 7, 0);
  std::span<std::byte> l4 = std::span<std::byte>(syn).subspan(20);
  auto pseudo = [&](Ipv4Address src) {
    return wire::ipv4_pseudo_header(src, kServer, 6, static_cast<std::uint16_t>(l4.size())).sum();
  };
  wire::store_be16(l4, 16, pseudo(kClient));
  Tracked t = track(syn, Hook::output);
  ASSERT_EQ(nat::null_binding(*net_, *t.ct, Hook::output), Verdict::accept);
  ASSERT_EQ(nat::setup(*net_, *t.ct, to(kPublic), ManipType::src), Verdict::accept);
  ASSERT_EQ(nat::manip(syn, true, *t.ct, t.info, Hook::postrouting), Verdict::accept);
  EXPECT_EQ(source(syn), (Endpoint{kPublic, 41000}));
  EXPECT_EQ(wire::load_be16(l4, 16), pseudo(kPublic));
  EXPECT_EQ(wire::internet_checksum(std::span<const std::byte>(syn).first(20)), 0);
  wire::fill_transport_checksum(syn);  // what the device does
  expect_checksums(syn);
}

TEST_F(NatTest, PartialChecksumThroughThePacket) {
  Bytes syn = ct::tcp4(kClient, 41001, kServer, 80, kSyn, 7, 0);
  Packet p = host_.packets().allocate(syn.size());
  auto l4 = p.mutable_data().subspan(20);
  std::copy(syn.begin(), syn.end(), p.mutable_data().begin());
  wire::store_be16(l4, 16, wire::ipv4_pseudo_header(kClient, kServer, 6, static_cast<std::uint16_t>(l4.size())).sum());
  p.checksum_partial = true;
  Tracked t = track(syn, Hook::output);
  ASSERT_EQ(nat::setup(*net_, *t.ct, to(kPublic), ManipType::src), Verdict::accept);
  ASSERT_EQ(nat::manip(p, *t.ct, t.info, Hook::postrouting), Verdict::accept);
  EXPECT_EQ(wire::load_be16(l4, 16),
            wire::ipv4_pseudo_header(kPublic, kServer, 6, static_cast<std::uint16_t>(l4.size())).sum());
  p.finish_transport_checksum(0);
  expect_checksums(Bytes(p.data().begin(), p.data().end()));
}

TEST_F(NatTest, UdpWithoutChecksumStaysWithout) {
  Bytes d = ct::udp4(kClient, 40001, kServer, 53);
  wire::store_be16(std::span<std::byte>(d), 26, 0);
  ASSERT_EQ(forward_new(d, std::nullopt, to(kPublic)), Verdict::accept);
  EXPECT_EQ(source(d).address, IpAddress(kPublic));
  EXPECT_EQ(wire::load_be16(d, 26), 0);
}

TEST_F(NatTest, IcmpEchoIdsAreTranslated) {
  // Two clients ping one server with the same id through one address: the
  // second id moves; replies find their way back with their own id.
  Bytes a = ct::icmp4(kClient, kServer, 8, 0, ct::echo(0x1234, 1));
  Bytes b = ct::icmp4(Ipv4Address(192, 0, 2, 21), kServer, 8, 0, ct::echo(0x1234, 1));
  ASSERT_EQ(forward_new(a, std::nullopt, to(kPublic)), Verdict::accept);
  ASSERT_EQ(forward_new(b, std::nullopt, to(kPublic)), Verdict::accept);
  const std::uint16_t id_a = wire::load_be16(a, 24), id_b = wire::load_be16(b, 24);
  EXPECT_EQ(id_a, 0x1234);
  EXPECT_NE(id_b, 0x1234);
  EXPECT_EQ(source(b).address, IpAddress(kPublic));

  Bytes reply_b = ct::icmp4(kServer, kPublic, 0, 0, ct::echo(id_b, 1));
  EXPECT_EQ(forward(reply_b), CtInfo::established_reply);
  EXPECT_EQ(wire::load_ipv4(reply_b, 16), Ipv4Address(192, 0, 2, 21));
  EXPECT_EQ(wire::load_be16(reply_b, 24), 0x1234);
}

TEST_F(NatTest, IcmpErrorReachesTheTranslatedClient) {
  // A router past the NAT says the server is unreachable about a datagram
  // it saw from the public address: the client gets it, about its own datagram.
  Bytes out = ct::udp4(kClient, 40002, kServer, 53, 12);
  ASSERT_EQ(forward_new(out, std::nullopt, to(kPublic, kPublic, 2000, 2000)), Verdict::accept);
  Bytes error = ct::icmp4(kFarRouter, kPublic, 3, 1, 0, out);  // quotes the whole translated datagram
  Tracked t = track(error);
  ASSERT_EQ(t.info, CtInfo::related_reply);
  ASSERT_EQ(nat::icmp_reply_translation(error, *t.ct, t.info, Hook::prerouting), Verdict::accept);
  EXPECT_EQ(wire::load_ipv4(error, 12), kFarRouter);
  EXPECT_EQ(wire::load_ipv4(error, 16), kClient);
  expect_checksums(error);
  const Bytes inner(error.begin() + 28, error.end());
  EXPECT_EQ(source(inner), (Endpoint{kClient, 40002}));
  EXPECT_EQ(destination(inner), (Endpoint{kServer, 53}));
  expect_checksums(inner);
  // The postrouting half changes nothing more (no dnat on this connection).
  ASSERT_EQ(nat::icmp_reply_translation(error, *t.ct, t.info, Hook::postrouting), Verdict::accept);
  EXPECT_EQ(wire::load_ipv4(error, 16), kClient);
}

TEST_F(NatTest, IcmpErrorAboutATranslatedEchoGetsTheOriginalId) {
  // A second pinger's id moved; a time exceeded about its echo must quote
  // the id it chose, and go to it.
  Bytes first = ct::icmp4(Ipv4Address(192, 0, 2, 21), kServer, 8, 0, ct::echo(0x4321, 1));
  ASSERT_EQ(forward_new(first, std::nullopt, to(kPublic)), Verdict::accept);
  Bytes echo = ct::icmp4(kClient, kServer, 8, 0, ct::echo(0x4321, 1));
  ASSERT_EQ(forward_new(echo, std::nullopt, to(kPublic)), Verdict::accept);
  ASSERT_NE(wire::load_be16(echo, 24), 0x4321);
  Bytes error = ct::icmp4(kFarRouter, kPublic, 11, 0, 0, echo);
  Tracked t = track(error);
  ASSERT_EQ(t.info, CtInfo::related_reply);
  ASSERT_EQ(nat::icmp_reply_translation(error, *t.ct, t.info, Hook::prerouting), Verdict::accept);
  EXPECT_EQ(wire::load_ipv4(error, 16), kClient);
  expect_checksums(error);
  const Bytes inner(error.begin() + 28, error.end());
  EXPECT_EQ(wire::load_ipv4(inner, 12), kClient);
  EXPECT_EQ(wire::load_be16(inner, 24), 0x4321);
  expect_checksums(inner);
}

TEST_F(NatTest, IcmpErrorFromADestinationNattedServer) {
  // The server behind a dnat refuses: the outside client must see the
  // error come from, and quote, the public address it spoke to.
  Bytes in = ct::udp4(kServer, 50001, kPublic, 5353);
  ASSERT_EQ(forward_new(in, to(kServerLan, kServerLan, 53, 53), std::nullopt), Verdict::accept);
  Bytes error = ct::icmp4(kServerLan, kServer, 3, 3, 0, ct::quote(in, 28));  // header and 8 bytes, as RFC 792
  Tracked t = track(error);
  ASSERT_EQ(t.info, CtInfo::related_reply);
  ASSERT_EQ(nat::icmp_reply_translation(error, *t.ct, t.info, Hook::prerouting), Verdict::accept);
  ASSERT_EQ(nat::icmp_reply_translation(error, *t.ct, t.info, Hook::postrouting), Verdict::accept);
  EXPECT_EQ(wire::load_ipv4(error, 12), kPublic);
  EXPECT_EQ(wire::load_ipv4(error, 16), kServer);
  expect_checksums(error);
  const Bytes inner(error.begin() + 28, error.end());
  EXPECT_EQ(source(inner), (Endpoint{kServer, 50001}));
  EXPECT_EQ(destination(inner), (Endpoint{kPublic, 5353}));
  EXPECT_EQ(wire::internet_checksum(std::span<const std::byte>(inner).first(20)), 0) << "quoted IPv4 header";
}

TEST_F(NatTest, AnIcmpErrorWithABadChecksumIsDropped) {
  Bytes out = ct::udp4(kClient, 40003, kServer, 53);
  ASSERT_EQ(forward_new(out, std::nullopt, to(kPublic)), Verdict::accept);
  Bytes error = ct::icmp4(kFarRouter, kPublic, 3, 1, 0, out);
  Tracked t = track(error);
  ASSERT_TRUE(t.ct);
  error[23] ^= std::byte{1};
  const Bytes before = error;
  EXPECT_EQ(nat::icmp_reply_translation(error, *t.ct, t.info, Hook::prerouting), Verdict::drop);
  EXPECT_EQ(error, before);
}

TEST_F(NatTest, Ipv6SourceNatWithIcmpv6EchoAndErrors) {
  Bytes out = ct::tcp6(kClient6, 33000, kServer6, 443, kSyn, 9, 0);
  ASSERT_EQ(forward_new(out, std::nullopt, to(kPublic6)), Verdict::accept);
  EXPECT_EQ(source(out), (Endpoint{kPublic6, 33000}));
  Bytes back = ct::tcp6(kServer6, 443, kPublic6, 33000, kSyn | kAck, 70, 10);
  EXPECT_EQ(forward(back), CtInfo::established_reply);
  EXPECT_EQ(destination(back), (Endpoint{kClient6, 33000}));

  // Echo: same id from two clients.
  Bytes e1 = ct::icmp6(kClient6, kServer6, 128, 0, ct::echo(77, 1));
  Bytes e2 = ct::icmp6(Ipv6Address(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x21), kServer6, 128, 0, ct::echo(77, 1));
  ASSERT_EQ(forward_new(e1, std::nullopt, to(kPublic6)), Verdict::accept);
  ASSERT_EQ(forward_new(e2, std::nullopt, to(kPublic6)), Verdict::accept);
  EXPECT_EQ(wire::load_be16(e1, 44), 77);
  EXPECT_NE(wire::load_be16(e2, 44), 77);

  // Packet too big from a router on the way, quoting the translated SYN.
  const Ipv6Address far(0x2001, 0xdb8, 0, 3, 0, 0, 0, 0xfe);
  Bytes ptb = ct::icmp6(far, kPublic6, 2, 0, 1280, out);
  Tracked r = track(ptb);
  ASSERT_EQ(r.info, CtInfo::related_reply);
  ASSERT_EQ(nat::icmp_reply_translation(ptb, *r.ct, r.info, Hook::prerouting), Verdict::accept);
  EXPECT_EQ(wire::load_ipv6(ptb, 24), kClient6);
  expect_checksums(ptb);
  const Bytes inner(ptb.begin() + 48, ptb.end());
  EXPECT_EQ(source(inner), (Endpoint{kClient6, 33000}));
  expect_checksums(inner);
}

TEST_F(NatTest, Ipv6AddressRange) {
  const Ipv6Address lo(0x2001, 0xdb8, 0, 2, 0, 0, 0, 0x100), hi(0x2001, 0xdb8, 0, 2, 0, 0, 0, 0x1ff);
  for (std::uint16_t c = 1; c <= 20; ++c) {
    Bytes d = ct::udp6(Ipv6Address(0x2001, 0xdb8, 0, 1, 0, 0, 0, c), 5000, kServer6, 53);
    ASSERT_EQ(forward_new(d, std::nullopt, to(lo, hi)), Verdict::accept);
    EXPECT_GE(source(d).address, IpAddress(lo));
    EXPECT_LE(source(d).address, IpAddress(hi));
  }
}

TEST_F(NatTest, HairpinThroughThePublicAddress) {
  // Client and server on one LAN behind the router; the client reaches the
  // server by the router's public address and port. dnat at prerouting,
  // then snat to the router's LAN address so the answer comes back
  // through the router.
  Bytes syn = ct::tcp4(kClient, 45000, kPublic, 8080, kSyn, 1000, 0);
  Tracked t;
  ASSERT_EQ(forward_new(syn, to(kServerLan, kServerLan, 80, 80), to(kRouterLan), &t), Verdict::accept);
  EXPECT_EQ(source(syn).address, IpAddress(kRouterLan));
  EXPECT_EQ(destination(syn), (Endpoint{kServerLan, 80}));
  EXPECT_TRUE(t.ct->test(conntrack::kStatusSrcNat | conntrack::kStatusDstNat));

  Bytes synack = ct::tcp4(kServerLan, 80, kRouterLan, source(syn).port, kSyn | kAck, 9, 1001);
  EXPECT_EQ(forward(synack), CtInfo::established_reply);
  EXPECT_EQ(source(synack), (Endpoint{kPublic, 8080}));
  EXPECT_EQ(destination(synack), (Endpoint{kClient, 45000}));

  Bytes ack = ct::tcp4(kClient, 45000, kPublic, 8080, kAck, 1001, 10);
  EXPECT_EQ(forward(ack), CtInfo::established);
  EXPECT_EQ(source(ack).address, IpAddress(kRouterLan));
  EXPECT_EQ(destination(ack), (Endpoint{kServerLan, 80}));
}

TEST_F(NatTest, NullBindingLeavesAFlowAloneAndHoldsItsTuple) {
  // An untranslated flow: no status bit but the done ones, the reply as it was.
  Bytes plain = ct::udp4(kPublic, 7000, kServer, 53);
  Tracked p;
  ASSERT_EQ(forward_new(plain, std::nullopt, std::nullopt, &p), Verdict::accept);
  EXPECT_EQ(source(plain), (Endpoint{kPublic, 7000}));
  EXPECT_FALSE(p.ct->test(conntrack::kStatusSrcNat | conntrack::kStatusDstNat));
  EXPECT_TRUE(p.ct->test(conntrack::kStatusSrcNatDone | conntrack::kStatusDstNatDone));
  Bytes reply = ct::udp4(kServer, 53, kPublic, 7000);
  const Bytes before = reply;
  EXPECT_EQ(forward(reply), CtInfo::established_reply);
  EXPECT_EQ(reply, before);

  // A client translated onto that address and port must not take the
  // untranslated flow's reply.
  Bytes nat = ct::udp4(kClient, 7000, kServer, 53);
  ASSERT_EQ(forward_new(nat, std::nullopt, to(kPublic)), Verdict::accept);
  EXPECT_EQ(source(nat).address, IpAddress(kPublic));
  EXPECT_NE(source(nat).port, 7000);

  // And a router-local flow whose tuple a translated one took moves its
  // port in the null binding (so it gets kStatusSrcNat).
  Bytes taken = ct::udp4(kPublic, source(nat).port, kServer, 53);
  Tracked q;
  ASSERT_EQ(forward_new(taken, std::nullopt, std::nullopt, &q), Verdict::accept);
  EXPECT_NE(source(taken).port, source(nat).port);
  EXPECT_TRUE(q.ct->test(conntrack::kStatusSrcNat));
}

TEST_F(NatTest, SetupIsOncePerManipAndNeverOnAConfirmedEntry) {
  Bytes d = ct::udp4(kClient, 40010, kServer, 53);
  Tracked t;
  ASSERT_EQ(forward_new(d, std::nullopt, to(kPublic), &t), Verdict::accept);
  const conntrack::Tuple reply = t.ct->tuple(Dir::reply);
  EXPECT_EQ(nat::setup(*net_, *t.ct, to(kRouterLan), ManipType::src), Verdict::accept);
  EXPECT_EQ(nat::setup(*net_, *t.ct, to(kServerLan), ManipType::dst), Verdict::accept);
  EXPECT_EQ(t.ct->tuple(Dir::reply), reply);
  // A range of the wrong family is refused, not applied.
  Bytes e = ct::udp4(kClient, 40011, kServer, 53);
  Tracked u = track(e);
  EXPECT_EQ(nat::setup(*net_, *u.ct, to(kPublic6), ManipType::src), Verdict::drop);
  EXPECT_FALSE(nat::initialized(*u.ct, ManipType::src));
}

TEST_F(NatTest, TruncatedDatagramsAreDroppedNotRead) {
  Bytes d = ct::tcp4(kClient, 40020, kServer, 80, kSyn, 1, 0);
  Tracked t = track(d);
  ASSERT_EQ(nat::setup(*net_, *t.ct, to(kPublic), ManipType::src), Verdict::accept);
  for (std::size_t len : {0u, 10u, 20u, 25u}) {
    Bytes cut(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(len));
    if (len >= 4) wire::store_be16(std::span<std::byte>(cut), 2, static_cast<std::uint16_t>(len));
    EXPECT_EQ(nat::manip(cut, false, *t.ct, t.info, Hook::postrouting), Verdict::drop) << len;
  }
}

// The nat hook's whole run with nft statements, as the hooks will call it.
class NatHookTest : public NatTest {
 protected:
  struct Chain {
    nft::Nat stmt;
    bool applies = true;  // the rule's match
    int runs = 0;
  };
  static Verdict run_chain(void* priv, Packet& packet, const netfilter::HookState& state) {
    auto* c = static_cast<Chain*>(priv);
    ++c->runs;
    if (!c->applies) return Verdict::accept;  // policy accept
    auto v = nat::apply(*conntrack::Entry::of(packet), c->stmt, state);
    return v.value_or(Verdict::accept);
  }

  Packet packet_of(const Bytes& d, const Tracked& t) {
    Packet p = host_.packets().allocate(d.size());
    std::copy(d.begin(), d.end(), p.mutable_data().begin());
    p.set_nfct(t.ct.get(), static_cast<std::uint8_t>(t.info));
    return p;
  }
  Bytes bytes_of(const Packet& p) { return Bytes(p.data().begin(), p.data().end()); }
};

TEST_F(NatHookTest, ChainsRunForTheFirstDatagramOnly) {
  Chain snat{.stmt = {.kind = nft::NatKind::snat, .addr_lo = IpAddress(kPublic)}};
  const netfilter::HookOps ops{.fn = &run_chain, .priv = &snat, .priority = netfilter::kPriorityNatSrc};
  const netfilter::HookState post{*net_, Hook::postrouting, Family::ipv4};
  const netfilter::HookState pre{*net_, Hook::prerouting, Family::ipv4};

  Bytes d = ct::udp4(kClient, 40100, kServer, 53);
  Tracked t = track(d);
  Packet p = packet_of(d, t);
  ASSERT_EQ(nat::hook(p, pre, {}), Verdict::accept);  // no dnat chain: null binding
  EXPECT_TRUE(nat::initialized(*t.ct, ManipType::dst));
  ASSERT_EQ(nat::hook(p, post, std::span(&ops, 1)), Verdict::accept);
  EXPECT_EQ(snat.runs, 1);
  EXPECT_EQ(source(bytes_of(p)).address, IpAddress(kPublic));
  expect_checksums(bytes_of(p));
  ASSERT_TRUE(tracker().confirm(*net_, t));

  Bytes again = ct::udp4(kClient, 40100, kServer, 53);
  Tracked t2 = track(again);
  Packet p2 = packet_of(again, t2);
  ASSERT_EQ(nat::hook(p2, post, std::span(&ops, 1)), Verdict::accept);
  EXPECT_EQ(snat.runs, 1) << "an established datagram ran the chains";
  EXPECT_EQ(source(bytes_of(p2)).address, IpAddress(kPublic));
}

TEST_F(NatHookTest, NoMatchingRuleMakesANullBinding) {
  Chain snat{.stmt = {.kind = nft::NatKind::snat, .addr_lo = IpAddress(kPublic)}, .applies = false};
  const netfilter::HookOps ops{.fn = &run_chain, .priv = &snat, .priority = netfilter::kPriorityNatSrc};
  const netfilter::HookState post{*net_, Hook::postrouting, Family::ipv4};
  Bytes d = ct::udp4(kClient, 40101, kServer, 53);
  Tracked t = track(d);
  Packet p = packet_of(d, t);
  ASSERT_EQ(nat::hook(p, post, std::span(&ops, 1)), Verdict::accept);
  EXPECT_TRUE(nat::initialized(*t.ct, ManipType::src));
  EXPECT_FALSE(t.ct->test(conntrack::kStatusSrcNat));
  EXPECT_EQ(bytes_of(p), d);
}

TEST_F(NatHookTest, AnotherFamilysStatementDoesNotApply) {
  Chain snat6{.stmt = {.kind = nft::NatKind::snat, .family = nft::Family::ip6, .addr_lo = IpAddress(kPublic6),
                       .family_explicit = true}};
  const netfilter::HookState post{*net_, Hook::postrouting, Family::ipv4};
  Bytes d = ct::udp4(kClient, 40102, kServer, 53);
  Tracked t = track(d);
  EXPECT_FALSE(nat::apply(*t.ct, snat6.stmt, post).has_value());
  EXPECT_FALSE(nat::initialized(*t.ct, ManipType::src));
}

TEST_F(NatHookTest, RelatedErrorsAreTranslatedWithoutRules) {
  Chain snat{.stmt = {.kind = nft::NatKind::snat, .addr_lo = IpAddress(kPublic)}};
  const netfilter::HookOps ops{.fn = &run_chain, .priv = &snat, .priority = netfilter::kPriorityNatSrc};
  Bytes out = ct::udp4(kClient, 40103, kServer, 53);
  ASSERT_EQ(forward_new(out, std::nullopt, to(kPublic)), Verdict::accept);
  Bytes error = ct::icmp4(kFarRouter, kPublic, 3, 1, 0, out);
  Tracked t = track(error);
  Packet p = packet_of(error, t);
  ASSERT_EQ(nat::hook(p, {*net_, Hook::prerouting, Family::ipv4}, {}), Verdict::accept);
  ASSERT_EQ(nat::hook(p, {*net_, Hook::postrouting, Family::ipv4}, std::span(&ops, 1)), Verdict::accept);
  EXPECT_EQ(snat.runs, 0);
  EXPECT_EQ(wire::load_ipv4(bytes_of(p), 16), kClient);
  expect_checksums(bytes_of(p));
}


// A router with a LAN (eth0) and a WAN (eth1), addressed in both families.
class NatDeviceTest : public NatHookTest {
 protected:
  void SetUp() override {
    NatHookTest::SetUp();
    lan_ = make_channel(*net_, "eth0").value();
    wan_ = make_channel(*net_, "eth1").value();
    ASSERT_TRUE(set_link_up(*lan_));
    ASSERT_TRUE(set_link_up(*wan_));
    ASSERT_TRUE(ipv4::add_address(*net_, *lan_, Ipv4Prefix(kRouterLan, 24)));
    ASSERT_TRUE(ipv4::add_address(*net_, *wan_, Ipv4Prefix(kPublic, 24)));
    ASSERT_TRUE(ipv6::add_address(*net_, *lan_, Ipv6Prefix(kRouterLan6, 64)));
    ASSERT_TRUE(ipv6::add_address(*net_, *wan_, Ipv6Prefix(kPublic6, 64)));
    run_for(std::chrono::seconds(3));  // DAD: tentative addresses are never a source
  }
  netfilter::HookState post(Family f) { return {*net_, Hook::postrouting, f, lan_, wan_}; }
  netfilter::HookState pre(Family f) { return {*net_, Hook::prerouting, f, lan_, nullptr}; }

  static inline const Ipv6Address kRouterLan6{0x2001, 0xdb8, 0, 1, 0, 0, 0, 1};
  Device* lan_ = nullptr;
  Device* wan_ = nullptr;
};

TEST_F(NatDeviceTest, MasqueradeTakesTheOutputDevicesAddress) {
  const nft::Nat masq{.kind = nft::NatKind::masquerade};
  Bytes d = ct::udp4(kClient, 40200, kServer, 53);
  Tracked t = track(d);
  ASSERT_EQ(nat::null_binding(*net_, *t.ct, Hook::prerouting), Verdict::accept);
  ASSERT_EQ(nat::apply(*t.ct, masq, post(Family::ipv4)), Verdict::accept);
  ASSERT_EQ(nat::manip(d, false, *t.ct, t.info, Hook::postrouting), Verdict::accept);
  EXPECT_EQ(source(d), (Endpoint{kPublic, 40200}));
  expect_checksums(d);

  Bytes d6 = ct::udp6(kClient6, 40200, kServer6, 53);
  Tracked t6 = track(d6);
  ASSERT_EQ(nat::apply(*t6.ct, masq, post(Family::ipv6)), Verdict::accept);
  ASSERT_EQ(nat::manip(d6, false, *t6.ct, t6.info, Hook::postrouting), Verdict::accept);
  EXPECT_EQ(source(d6), (Endpoint{kPublic6, 40200}));
  expect_checksums(d6);
}

TEST_F(NatDeviceTest, MasqueradeToAPortRange) {
  const nft::Nat masq{.kind = nft::NatKind::masquerade, .port_lo = 20000, .port_hi = 20099};
  Bytes d = ct::tcp4(kClient, 40201, kServer, 80, kSyn, 1, 0);
  Tracked t = track(d);
  ASSERT_EQ(nat::apply(*t.ct, masq, post(Family::ipv4)), Verdict::accept);
  ASSERT_EQ(nat::manip(d, false, *t.ct, t.info, Hook::postrouting), Verdict::accept);
  EXPECT_EQ(source(d).address, IpAddress(kPublic));
  EXPECT_GE(source(d).port, 20000);
  EXPECT_LE(source(d).port, 20099);
  expect_checksums(d);
}

TEST_F(NatHookTest, MasqueradeAndRedirectWithoutAnAddressDrop) {
  // A namespace with no address but loopback's: nothing to translate to.
  Device* eth = make_channel(*net_, "eth0").value();
  ASSERT_TRUE(set_link_up(*eth));
  Bytes d = ct::udp4(kClient, 40202, kServer, 53);
  Tracked t = track(d);
  EXPECT_EQ(nat::apply(*t.ct, nft::Nat{.kind = nft::NatKind::masquerade},
                       {*net_, Hook::postrouting, Family::ipv4, nullptr, eth}),
            Verdict::drop);
  EXPECT_FALSE(nat::initialized(*t.ct, ManipType::src));
  EXPECT_EQ(nat::apply(*t.ct, nft::Nat{.kind = nft::NatKind::redirect},
                       {*net_, Hook::prerouting, Family::ipv4, eth, nullptr}),
            Verdict::drop);
  EXPECT_FALSE(nat::initialized(*t.ct, ManipType::dst));
}

TEST_F(NatDeviceTest, RedirectGoesToTheInputDeviceOrLoopback) {
  const nft::Nat redir{.kind = nft::NatKind::redirect, .port_lo = 3128};
  Bytes d = ct::tcp4(kClient, 40300, kServer, 80, kSyn, 1, 0);
  Tracked t = track(d);
  ASSERT_EQ(nat::apply(*t.ct, redir, pre(Family::ipv4)), Verdict::accept);
  ASSERT_EQ(nat::manip(d, false, *t.ct, t.info, Hook::prerouting), Verdict::accept);
  EXPECT_EQ(destination(d), (Endpoint{kRouterLan, 3128}));
  expect_checksums(d);

  Bytes local = ct::tcp4(kRouterLan, 40301, kServer, 80, kSyn, 1, 0);
  Tracked l = track(local, Hook::output);
  ASSERT_EQ(nat::apply(*l.ct, redir, {*net_, Hook::output, Family::ipv4, nullptr, wan_}), Verdict::accept);
  ASSERT_EQ(nat::manip(local, false, *l.ct, l.info, Hook::output), Verdict::accept);
  EXPECT_EQ(destination(local), (Endpoint{Ipv4Address::loopback(), 3128}));
  expect_checksums(local);

  Bytes d6 = ct::tcp6(kClient6, 40302, kServer6, 80, kSyn, 1, 0);
  Tracked t6 = track(d6);
  ASSERT_EQ(nat::apply(*t6.ct, redir, pre(Family::ipv6)), Verdict::accept);
  ASSERT_EQ(nat::manip(d6, false, *t6.ct, t6.info, Hook::prerouting), Verdict::accept);
  EXPECT_EQ(destination(d6), (Endpoint{kRouterLan6, 3128}));
  expect_checksums(d6);
}

}  // namespace nat_nat_test
}  // namespace
}  // namespace netns
