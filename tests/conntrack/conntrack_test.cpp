// Connection tracking fed datagrams by hand on the virtual clock: tuples,
// the TCP state machine and its window, UDP, ICMP and ICMPv6, related
// errors, timeouts, early drop, the bound per namespace, the sysctls, the
// dump, and a namespace that never tracks paying nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "conntrack/conntrack.hpp"
#include "conntrack/table.hpp"
#include "netfilter/hooks.hpp"
#include "netns/conntrack.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "stack/builtins.hpp"
#include "support/ct_packets.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace conntrack_conntrack_test {

using namespace std::chrono_literals;
using conntrack::CtInfo;
using conntrack::Hook;
using conntrack::Tracked;
using support::ct::Bytes;
using support::ct::kAck;
using support::ct::kFin;
using support::ct::kRst;
using support::ct::kSyn;
namespace ct = support::ct;

const Ipv4Address kA(192, 0, 2, 1);
const Ipv4Address kB(192, 0, 2, 2);
const Ipv4Address kRouter(198, 51, 100, 1);
const Ipv6Address kA6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const Ipv6Address kB6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

class ConntrackTest : public support::HostTest {
 protected:
  void SetUp() override {
    net_ = host_.create_net("ct").value();
    poll();
  }

  conntrack::Conntrack& tracker() { return host_.builtins().conntrack(); }

  // One datagram through the hooks: tracked, then confirmed as at the last hook.
  Tracked pass(Net& net, const Bytes& d, Family family = Family::ipv4, Hook hook = Hook::output) {
    Tracked t = tracker().track(net, family, d, {.hook = hook});
    if (t.ct) {
      EXPECT_TRUE(tracker().confirm(net, t));
    }
    return t;
  }
  Tracked pass(const Bytes& d, Family family = Family::ipv4) { return pass(*net_, d, family); }

  std::string dump() { return conntrack::dump(*net_); }
  std::string sysctl(std::string_view name) { return net_->sysctl().get(name).value(); }
  void set(std::string_view name, std::string_view value) { ASSERT_TRUE(net_->sysctl().set(name, value)) << name; }

  // A handshake A:40000 -> B:80 with ISNs 1000 and 5000, both offering
  // window scale 7 and SACK.
  void handshake() {
    EXPECT_EQ(pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0, 64240, 0, ct::syn_options(7))).info, CtInfo::new_);
    EXPECT_EQ(pass(ct::tcp4(kB, 80, kA, 40000, kSyn | kAck, 5000, 1001, 65160, 0, ct::syn_options(7))).info,
              CtInfo::established_reply);
    EXPECT_EQ(pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1001, 5001, 502)).info, CtInfo::established);
  }

  NetRef net_;
};

TEST_F(ConntrackTest, TupleOfTcpOverIpv4AndItsInverse) {
  auto d = ct::tcp4(kA, 40000, kB, 80, kSyn, 1, 0);
  auto at = conntrack::l4_position(Family::ipv4, d);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->protocol, 6);
  EXPECT_EQ(at->offset, 20u);
  auto t = conntrack::tuple_at(Family::ipv4, d, *at);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->src_address(), IpAddress(kA));
  EXPECT_EQ(t->dst_address(), IpAddress(kB));
  EXPECT_EQ(t->sport, 40000);
  EXPECT_EQ(t->dport, 80);
  auto r = conntrack::invert(*t);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->src_address(), IpAddress(kB));
  EXPECT_EQ(r->sport, 80);
  EXPECT_EQ(r->dport, 40000);
}

TEST_F(ConntrackTest, TupleOfIpv6AfterExtensionHeaders) {
  // A hop-by-hop header (8 bytes, PadN) then a destination options header, then UDP.
  Bytes ext = {std::byte{60}, std::byte{0}, std::byte{1}, std::byte{4}, std::byte{0}, std::byte{0}, std::byte{0},
               std::byte{0}, std::byte{17}, std::byte{0}, std::byte{1}, std::byte{4}, std::byte{0}, std::byte{0},
               std::byte{0}, std::byte{0}};
  auto d = ct::udp6(kA6, 5000, kB6, 53, 4, ext, 0);
  auto at = conntrack::l4_position(Family::ipv6, d);
  ASSERT_TRUE(at);
  EXPECT_EQ(at->protocol, 17);
  EXPECT_EQ(at->offset, 56u);
  auto t = conntrack::tuple_at(Family::ipv6, d, *at);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->src_address(), IpAddress(kA6));
  EXPECT_EQ(t->dport, 53);
}

TEST_F(ConntrackTest, LaterFragmentAndTruncatedHeadersAreInvalid) {
  auto udp = ct::udp_header(1, 2, 4);
  auto later = ct::ipv4(kA, kB, 17, udp, 0x0001);  // offset 8
  EXPECT_TRUE(pass(later).invalid());
  auto cut = ct::ipv4(kA, kB, 6, Bytes(6));  // six bytes of TCP
  EXPECT_TRUE(pass(cut).invalid());
  EXPECT_TRUE(pass(Bytes(10)).invalid());
  EXPECT_EQ(conntrack::stats(*net_).invalid, 3u);
  EXPECT_EQ(conntrack::count(*net_), 0u);
}

TEST_F(ConntrackTest, TcpHandshakeDumpsAsConntrackDoes) {
  pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0, 64240, 0, ct::syn_options(7)));
  EXPECT_EQ(dump(),
            "tcp      6 120 SYN_SENT src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=80 [UNREPLIED] "
            "src=192.0.2.2 dst=192.0.2.1 sport=80 dport=40000 mark=0 use=1\n");
  pass(ct::tcp4(kB, 80, kA, 40000, kSyn | kAck, 5000, 1001, 65160, 0, ct::syn_options(7)));
  EXPECT_EQ(dump(),
            "tcp      6 60 SYN_RECV src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=80 "
            "src=192.0.2.2 dst=192.0.2.1 sport=80 dport=40000 mark=0 use=1\n");
  pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1001, 5001, 502));
  EXPECT_EQ(dump(),
            "tcp      6 432000 ESTABLISHED src=192.0.2.1 dst=192.0.2.2 sport=40000 dport=80 "
            "src=192.0.2.2 dst=192.0.2.1 sport=80 dport=40000 [ASSURED] mark=0 use=1\n");
  run_for(1500ms);
  EXPECT_NE(dump().find(" 431998 ESTABLISHED"), std::string::npos) << dump();
  EXPECT_EQ(sysctl("net.netfilter.nf_conntrack_count"), "1");
}

TEST_F(ConntrackTest, TcpCloseWalksFinWaitCloseWaitLastAckTimeWait) {
  handshake();
  pass(ct::tcp4(kA, 40000, kB, 80, kFin | kAck, 1001, 5001, 502));
  EXPECT_NE(dump().find("120 FIN_WAIT"), std::string::npos) << dump();
  pass(ct::tcp4(kB, 80, kA, 40000, kAck, 5001, 1002, 510));
  EXPECT_NE(dump().find("60 CLOSE_WAIT"), std::string::npos) << dump();
  pass(ct::tcp4(kB, 80, kA, 40000, kFin | kAck, 5001, 1002, 510));
  EXPECT_NE(dump().find("30 LAST_ACK"), std::string::npos) << dump();
  pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1002, 5002, 502));
  EXPECT_NE(dump().find("120 TIME_WAIT"), std::string::npos) << dump();
  run_for(119s);
  EXPECT_EQ(conntrack::count(*net_), 1u);
  run_for(3s);  // expired; the collector takes it without any lookup
  EXPECT_EQ(conntrack::count(*net_), 0u);
  EXPECT_EQ(dump(), "");
}

TEST_F(ConntrackTest, TimeWaitReopensWithANewSyn) {
  handshake();
  pass(ct::tcp4(kA, 40000, kB, 80, kFin | kAck, 1001, 5001, 502));
  pass(ct::tcp4(kB, 80, kA, 40000, kFin | kAck, 5001, 1002, 510));
  pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1002, 5002, 502));
  ASSERT_NE(dump().find("TIME_WAIT"), std::string::npos);
  Tracked t = pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 90000, 0, 64240, 0, ct::syn_options(7)));
  EXPECT_EQ(t.info, CtInfo::new_);
  EXPECT_NE(dump().find("SYN_SENT"), std::string::npos) << dump();
  EXPECT_EQ(conntrack::count(*net_), 1u);
}

TEST_F(ConntrackTest, RstClosesWithTheShortTimeout) {
  handshake();
  EXPECT_TRUE(pass(ct::tcp4(kB, 80, kA, 40000, kRst | kAck, 5001, 1001, 0)).ct);
  EXPECT_NE(dump().find("tcp      6 10 CLOSE "), std::string::npos) << dump();
}

TEST_F(ConntrackTest, RstAnsweringASynRemovesTheEntry) {
  pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0));
  Tracked t = pass(ct::tcp4(kB, 80, kA, 40000, kRst | kAck, 0, 1001, 0));
  EXPECT_TRUE(t.ct);
  EXPECT_EQ(dump(), "");
}

TEST_F(ConntrackTest, RetransmittedSynDoesNotRenewTheEntry) {
  pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0));
  run_for(100s);
  pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0));
  EXPECT_NE(dump().find(" 20 SYN_SENT"), std::string::npos) << dump();
  run_for(21s);
  EXPECT_EQ(dump(), "");
}

TEST_F(ConntrackTest, SimultaneousOpen) {
  pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0));
  EXPECT_EQ(pass(ct::tcp4(kB, 80, kA, 40000, kSyn, 5000, 0)).info, CtInfo::established_reply);
  EXPECT_NE(dump().find("SYN_SENT2"), std::string::npos) << dump();
  pass(ct::tcp4(kA, 40000, kB, 80, kSyn | kAck, 1000, 5001));
  EXPECT_NE(dump().find("SYN_RECV"), std::string::npos) << dump();
  pass(ct::tcp4(kB, 80, kA, 40000, kSyn | kAck, 5000, 1001));
  pass(ct::tcp4(kB, 80, kA, 40000, kAck, 5001, 1001));
  EXPECT_NE(dump().find("ESTABLISHED"), std::string::npos) << dump();
}

TEST_F(ConntrackTest, AnIgnoredSynAnsweredBySynAckResynchronises) {
  handshake();
  // Both ends restarted; conntrack still believes in the old connection.
  Tracked syn = pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 700000, 0, 64240, 0, ct::syn_options(7)));
  ASSERT_TRUE(syn.ct);  // ignored: let through, nothing changes
  EXPECT_NE(dump().find(" ESTABLISHED"), std::string::npos) << dump();
  pass(ct::tcp4(kB, 80, kA, 40000, kSyn | kAck, 900000, 700001, 65160, 0, ct::syn_options(7)));
  EXPECT_NE(dump().find(" SYN_RECV"), std::string::npos) << dump();
  pass(ct::tcp4(kA, 40000, kB, 80, kAck, 700001, 900001, 502));
  EXPECT_NE(dump().find(" ESTABLISHED"), std::string::npos) << dump();
  EXPECT_EQ(conntrack::stats(*net_).invalid, 0u);
}

TEST_F(ConntrackTest, SegmentsThatStartNothingAreInvalid) {
  EXPECT_TRUE(pass(ct::tcp4(kB, 80, kA, 40000, kSyn | kAck, 5000, 1001)).invalid());
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kRst, 1, 0)).invalid());
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kSyn | kFin, 1, 0)).invalid());  // no such flag combination
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kFin, 1, 0)).invalid());        // FIN without ACK
  EXPECT_EQ(conntrack::count(*net_), 0u);
  EXPECT_EQ(conntrack::stats(*net_).invalid, 4u);
}

TEST_F(ConntrackTest, MidStreamPickupOnlyWhenLoose) {
  set("net.netfilter.nf_conntrack_tcp_loose", "0");
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1000, 2000)).invalid());
  set("net.netfilter.nf_conntrack_tcp_loose", "1");
  Tracked t = pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1000, 2000));
  ASSERT_TRUE(t.ct);
  EXPECT_EQ(t.info, CtInfo::new_);
  // Picked up but unanswered: the unacknowledged timeout, not five days.
  EXPECT_NE(dump().find("tcp      6 300 ESTABLISHED"), std::string::npos) << dump();
  pass(ct::tcp4(kB, 80, kA, 40000, kAck, 2000, 1000));
  pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1000, 2000));
  EXPECT_NE(dump().find("[ASSURED]"), std::string::npos) << dump();
}

TEST_F(ConntrackTest, OutOfWindowSegmentsAreInvalidUnlessLiberal) {
  handshake();
  // Data far beyond what B allowed (its window 65160 << 7 from 1001).
  const std::uint32_t far = 1001 + (65160u << 7) + 100000;
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kAck, far, 5001, 502, 100)).invalid());
  // An ACK for data B never sent.
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1001, 900000, 502)).invalid());
  EXPECT_EQ(conntrack::stats(*net_).invalid, 2u);
  // In window: fine.
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1001, 5001, 502, 1000)).ct);
  set("net.netfilter.nf_conntrack_tcp_be_liberal", "1");
  EXPECT_TRUE(pass(ct::tcp4(kA, 40000, kB, 80, kAck, far, 5001, 502, 100)).ct);
}

TEST_F(ConntrackTest, UnacknowledgedDataShortensTheTimeout) {
  handshake();
  pass(ct::tcp4(kA, 40000, kB, 80, kAck, 1001, 5001, 502, 500));
  EXPECT_NE(dump().find(" 300 ESTABLISHED"), std::string::npos) << dump();
  pass(ct::tcp4(kB, 80, kA, 40000, kAck, 5001, 1501, 510));
  EXPECT_NE(dump().find(" 432000 ESTABLISHED"), std::string::npos) << dump();
}

TEST_F(ConntrackTest, BadChecksumIsInvalidAtPreroutingOnly) {
  auto d = ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0);
  d[20 + 16] ^= std::byte{0xff};
  EXPECT_TRUE(tracker().track(*net_, Family::ipv4, d, {.hook = Hook::prerouting}).invalid());
  EXPECT_TRUE(tracker().track(*net_, Family::ipv4, d, {.hook = Hook::prerouting, .checksum_verified = true}).ct);
  EXPECT_TRUE(tracker().track(*net_, Family::ipv4, d, {.hook = Hook::output}).ct);
}

TEST_F(ConntrackTest, UdpUnrepliedThenStreamAndAssured) {
  EXPECT_EQ(pass(ct::udp4(kA, 5000, kB, 53)).info, CtInfo::new_);
  EXPECT_NE(dump().find("udp      17 30 src=192.0.2.1 dst=192.0.2.2 sport=5000 dport=53 [UNREPLIED] src=192.0.2.2"),
            std::string::npos)
      << dump();
  EXPECT_EQ(pass(ct::udp4(kB, 53, kA, 5000)).info, CtInfo::established_reply);
  EXPECT_EQ(dump().find("[UNREPLIED]"), std::string::npos) << dump();
  EXPECT_EQ(dump().find("[ASSURED]"), std::string::npos) << dump();
  run_for(3s);
  EXPECT_EQ(pass(ct::udp4(kA, 5000, kB, 53)).info, CtInfo::established);
  EXPECT_NE(dump().find("udp      17 120 "), std::string::npos) << dump();
  EXPECT_NE(dump().find("[ASSURED]"), std::string::npos) << dump();
}

TEST_F(ConntrackTest, UnrepliedUdpExpires) {
  set("net.netfilter.nf_conntrack_udp_timeout", "5");
  pass(ct::udp4(kA, 5000, kB, 53));
  run_for(4s);
  EXPECT_EQ(conntrack::count(*net_), 1u);
  run_for(2s);
  // Gone for a lookup even before the collector passes: the next datagram is new again.
  EXPECT_EQ(pass(ct::udp4(kA, 5000, kB, 53)).info, CtInfo::new_);
}

TEST_F(ConntrackTest, IcmpEchoTrackedById) {
  EXPECT_EQ(pass(ct::icmp4(kA, kB, 8, 0, ct::echo(77, 1))).info, CtInfo::new_);
  EXPECT_EQ(dump(),
            "icmp     1 30 src=192.0.2.1 dst=192.0.2.2 type=8 code=0 id=77 [UNREPLIED] "
            "src=192.0.2.2 dst=192.0.2.1 type=0 code=0 id=77 mark=0 use=1\n");
  EXPECT_EQ(pass(ct::icmp4(kB, kA, 0, 0, ct::echo(77, 1))).info, CtInfo::established_reply);
  // Another id is another flow; a reply nobody asked for is nothing.
  EXPECT_EQ(pass(ct::icmp4(kA, kB, 8, 0, ct::echo(78, 1))).info, CtInfo::new_);
  EXPECT_TRUE(pass(ct::icmp4(kB, kA, 0, 0, ct::echo(99, 1))).invalid());
  EXPECT_EQ(conntrack::count(*net_), 2u);
}

TEST_F(ConntrackTest, Icmpv6EchoAndTheUntrackedNeighbourDiscovery) {
  EXPECT_EQ(pass(ct::icmp6(kA6, kB6, 128, 0, ct::echo(5, 1)), Family::ipv6).info, CtInfo::new_);
  EXPECT_EQ(pass(ct::icmp6(kB6, kA6, 129, 0, ct::echo(5, 1)), Family::ipv6).info, CtInfo::established_reply);
  EXPECT_EQ(dump(),
            "icmpv6   58 30 src=2001:db8::1 dst=2001:db8::2 type=128 code=0 id=5 "
            "src=2001:db8::2 dst=2001:db8::1 type=129 code=0 id=5 mark=0 use=1\n");
  Tracked ns = pass(ct::icmp6(kA6, kB6, 135, 0, 0, Bytes(16)), Family::ipv6);
  EXPECT_TRUE(ns.untracked);
  EXPECT_FALSE(ns.ct);
}

TEST_F(ConntrackTest, IcmpErrorsAreRelatedToTheirConnection) {
  handshake();
  auto segment = ct::tcp4(kA, 40000, kB, 80, kAck, 1001, 5001, 502, 10);
  // A router on the way says B is unreachable: to A, about A's segment.
  Tracked t = pass(ct::icmp4(kRouter, kA, 3, 1, 0, ct::quote(segment, 28)));
  ASSERT_TRUE(t.ct);
  EXPECT_EQ(t.info, CtInfo::related_reply);
  // B's own error about A's segment is related too.
  EXPECT_EQ(pass(ct::icmp4(kB, kA, 3, 3, 0, ct::quote(segment, 28))).info, CtInfo::related_reply);
  // An error about B's segment, to B, goes the original way.
  auto answer = ct::tcp4(kB, 80, kA, 40000, kAck, 5001, 1001, 510, 10);
  EXPECT_EQ(pass(ct::icmp4(kRouter, kB, 11, 0, 0, ct::quote(answer, 28))).info, CtInfo::related);
  // Not to the quoted datagram's sender, or about no connection: errors.
  EXPECT_FALSE(pass(ct::icmp4(kRouter, kB, 3, 1, 0, ct::quote(segment, 28))).ct);
  auto stranger = ct::tcp4(kA, 41000, kB, 80, kAck, 1, 1, 502);
  EXPECT_FALSE(pass(ct::icmp4(kRouter, kA, 3, 1, 0, ct::quote(stranger, 28))).ct);
  EXPECT_EQ(conntrack::stats(*net_).error, 2u);
  // Related errors move nothing.
  EXPECT_NE(dump().find(" 432000 ESTABLISHED"), std::string::npos) << dump();
}

TEST_F(ConntrackTest, Icmpv6ErrorIsRelated) {
  pass(ct::udp6(kA6, 5000, kB6, 53), Family::ipv6);
  auto datagram = ct::udp6(kA6, 5000, kB6, 53);
  Tracked t = pass(ct::icmp6(kB6, kA6, 1, 4, 0, ct::quote(datagram, 48)), Family::ipv6);
  ASSERT_TRUE(t.ct);
  EXPECT_EQ(t.info, CtInfo::related_reply);
  EXPECT_NE(dump().find(" use=2\n"), std::string::npos) << "the error's reference: " << dump();
  t = {};
  EXPECT_EQ(dump(),
            "udp      17 30 src=2001:db8::1 dst=2001:db8::2 sport=5000 dport=53 [UNREPLIED] "
            "src=2001:db8::2 dst=2001:db8::1 sport=53 dport=5000 mark=0 use=1\n");
}

TEST_F(ConntrackTest, GenericProtocolTrackedByAddresses) {
  auto gre = ct::ipv4(kA, kB, 253, Bytes(8));
  EXPECT_EQ(pass(gre).info, CtInfo::new_);
  EXPECT_EQ(pass(ct::ipv4(kB, kA, 253, Bytes(8))).info, CtInfo::established_reply);
  EXPECT_EQ(dump(),
            "unknown  253 600 src=192.0.2.1 dst=192.0.2.2 src=192.0.2.2 dst=192.0.2.1 mark=0 use=1\n");
}

TEST_F(ConntrackTest, FullTableEvictsANotAssuredEntry) {
  set("net.netfilter.nf_conntrack_max", "2000");
  for (std::uint16_t port = 1; port <= 2000; ++port) ASSERT_TRUE(pass(ct::udp4(kA, port, kB, 53)).ct) << port;
  EXPECT_EQ(sysctl("net.netfilter.nf_conntrack_count"), "2000");
  EXPECT_EQ(sysctl("net.netfilter.nf_conntrack_buckets"), "2048");
  Tracked t = pass(ct::udp4(kA, 3000, kB, 53));
  ASSERT_TRUE(t.ct);
  EXPECT_GE(conntrack::stats(*net_).early_drop, 1u);
  EXPECT_LE(conntrack::count(*net_), 2000u);
  EXPECT_EQ(conntrack::stats(*net_).drop, 0u);
}

// 256 entries are 512 nodes in 256 bucket lines of five slots: some lines
// overflow into a second. Every entry is still found both ways, and the
// collector's expiry empties the lines and the ones chained to them.
TEST_F(ConntrackTest, CrowdedBucketsFindEveryEntryAndEmptyOnExpiry) {
  set("net.netfilter.nf_conntrack_max", "256");
  set("net.netfilter.nf_conntrack_udp_timeout", "5");
  for (std::uint16_t port = 1; port <= 256; ++port) ASSERT_EQ(pass(ct::udp4(kA, port, kB, 53)).info, CtInfo::new_);
  EXPECT_EQ(sysctl("net.netfilter.nf_conntrack_buckets"), "256");
  for (std::uint16_t port = 1; port <= 256; ++port) {
    ASSERT_EQ(pass(ct::udp4(kB, 53, kA, port)).info, CtInfo::established_reply) << port;
    ASSERT_EQ(pass(ct::udp4(kA, port, kB, 53)).info, CtInfo::established) << port;
  }
  EXPECT_EQ(conntrack::count(*net_), 256u);
  run_for(7s);
  EXPECT_EQ(conntrack::count(*net_), 0u);
  EXPECT_EQ(dump(), "");
  for (std::uint16_t port = 1; port <= 256; ++port) ASSERT_EQ(pass(ct::udp4(kA, port, kB, 53)).info, CtInfo::new_);
  EXPECT_EQ(conntrack::stats(*net_).drop, 0u);
}

TEST_F(ConntrackTest, FullTableOfAssuredEntriesDropsTheNewOne) {
  set("net.netfilter.nf_conntrack_max", "1");
  handshake();
  Tracked t = tracker().track(*net_, Family::ipv4, ct::udp4(kA, 5000, kB, 53), {.hook = Hook::output});
  EXPECT_TRUE(t.drop);
  EXPECT_FALSE(t.ct);
  EXPECT_EQ(conntrack::stats(*net_).drop, 1u);
  EXPECT_EQ(conntrack::stats(*net_).early_drop, 0u);
  // The assured connection itself goes on.
  EXPECT_EQ(pass(ct::tcp4(kB, 80, kA, 40000, kAck, 5001, 1001, 510)).info, CtInfo::established_reply);
}

TEST_F(ConntrackTest, EachNamespaceHasItsOwnTableAndBound) {
  NetRef other = host_.create_net("other").value();
  set("net.netfilter.nf_conntrack_max", "1");
  handshake();
  EXPECT_TRUE(tracker().track(*net_, Family::ipv4, ct::udp4(kA, 5000, kB, 53), {}).drop);
  for (std::uint16_t port = 1; port <= 10; ++port) EXPECT_TRUE(pass(*other, ct::udp4(kA, port, kB, 53)).ct);
  EXPECT_EQ(conntrack::count(*other), 10u);
  EXPECT_EQ(conntrack::count(*net_), 1u);
  EXPECT_EQ(other->sysctl().get("net.netfilter.nf_conntrack_count").value(), "10");
  EXPECT_EQ(conntrack::dump(*other).find("sport=40000"), std::string::npos);
}

TEST_F(ConntrackTest, ConfirmClashMergesUdpAndRefusesTcp) {
  auto q = ct::udp4(kA, 5000, kB, 53);
  Tracked first = tracker().track(*net_, Family::ipv4, q, {});
  Tracked second = tracker().track(*net_, Family::ipv4, q, {});
  EXPECT_EQ(conntrack::count(*net_), 2u);  // two unconfirmed entries
  EXPECT_TRUE(tracker().confirm(*net_, first));
  EXPECT_TRUE(tracker().confirm(*net_, second));
  EXPECT_EQ(second.ct.get(), first.ct.get());
  EXPECT_EQ(conntrack::stats(*net_).clash_resolve, 1u);

  auto syn = ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0);
  Tracked a = tracker().track(*net_, Family::ipv4, syn, {});
  Tracked b = tracker().track(*net_, Family::ipv4, syn, {});
  EXPECT_TRUE(tracker().confirm(*net_, a));
  EXPECT_FALSE(tracker().confirm(*net_, b));
  EXPECT_EQ(conntrack::stats(*net_).insert_failed, 1u);
  first = {};
  second = {};
  a = {};
  b = {};
  EXPECT_EQ(conntrack::count(*net_), 2u);
}

TEST_F(ConntrackTest, ADroppedDatagramLeavesNothing) {
  { Tracked t = tracker().track(*net_, Family::ipv4, ct::udp4(kA, 5000, kB, 53), {}); }
  EXPECT_EQ(conntrack::count(*net_), 0u);
  EXPECT_EQ(sysctl("net.netfilter.nf_conntrack_count"), "0");
}

TEST_F(ConntrackTest, SysctlsRefuseBadWritesAndChangeNothing) {
  for (auto [name, value] : {std::pair{"net.netfilter.nf_conntrack_max", "0"},
                             {"net.netfilter.nf_conntrack_max", "-1"},
                             {"net.netfilter.nf_conntrack_max", "many"},
                             {"net.netfilter.nf_conntrack_tcp_loose", "2"},
                             {"net.netfilter.nf_conntrack_tcp_be_liberal", "-1"},
                             {"net.netfilter.nf_conntrack_tcp_timeout_established", "-5"},
                             {"net.netfilter.nf_conntrack_udp_timeout", "30 40"}}) {
    const std::string before = sysctl(name);
    auto r = net_->sysctl().set(name, value);
    EXPECT_FALSE(r) << name << " = " << value;
    if (!r) {
      EXPECT_EQ(r.error(), error(Errc::invalid_argument)) << name;
    }
    EXPECT_EQ(sysctl(name), before) << name;
  }
  for (const char* name : {"net.netfilter.nf_conntrack_count", "net.netfilter.nf_conntrack_buckets"}) {
    const std::string before = sysctl(name);
    auto r = net_->sysctl().set(name, "5");
    ASSERT_FALSE(r) << name;
    EXPECT_EQ(r.error(), error(Errc::permission_denied)) << name;
    EXPECT_EQ(sysctl(name), before);
  }
  EXPECT_EQ(sysctl("net.netfilter.nf_conntrack_max"), "262144");
  EXPECT_EQ(sysctl("net.netfilter.nf_conntrack_tcp_timeout_established"), "432000");
}

TEST_F(ConntrackTest, TimeoutSysctlsActOnTheNextDatagram) {
  set("net.netfilter.nf_conntrack_tcp_timeout_syn_sent", "5");
  pass(ct::tcp4(kA, 40000, kB, 80, kSyn, 1000, 0));
  EXPECT_NE(dump().find("tcp      6 5 SYN_SENT"), std::string::npos) << dump();
  run_for(6s);
  EXPECT_EQ(dump(), "");
  set("net.netfilter.nf_conntrack_icmp_timeout", "7");
  pass(ct::icmp4(kA, kB, 8, 0, ct::echo(1, 1)));
  EXPECT_NE(dump().find("icmp     1 7 "), std::string::npos) << dump();
}

TEST_F(ConntrackTest, ANamespaceThatNeverTracksHasNoState) {
  NetRef idle = host_.create_net("idle").value();
  EXPECT_EQ(tracker().find(*idle), nullptr);
  EXPECT_EQ(conntrack::dump(*idle), "");
  EXPECT_EQ(conntrack::count(*idle), 0u);
  EXPECT_EQ(idle->sysctl().get("net.netfilter.nf_conntrack_count").value(), "0");
  pass(ct::udp4(kA, 1, kB, 2));
  EXPECT_EQ(tracker().find(*idle), nullptr);
  EXPECT_NE(tracker().find(*net_), nullptr);
}

TEST_F(ConntrackTest, TheTableGoesWithItsNamespaceEvenWhileADatagramHoldsAnEntry) {
  NetRef doomed = host_.create_net("doomed").value();
  pass(*doomed, ct::udp4(kA, 1, kB, 2));
  Tracked held = pass(*doomed, ct::udp4(kA, 3, kB, 4));
  ASSERT_TRUE(held.ct);
  doomed.reset();
  poll();
  EXPECT_EQ(host_.stats().dying_nets, 0u);
  EXPECT_TRUE(held.ct->test(conntrack::kStatusDying));
  held = {};  // freed alone, without its table
  EXPECT_EQ(host_.stats().leaked_holds, 0u);
}

TEST_F(ConntrackTest, FlushEmptiesTheTable) {
  handshake();
  pass(ct::udp4(kA, 1, kB, 2));
  conntrack::flush(*net_);
  EXPECT_EQ(dump(), "");
  EXPECT_EQ(conntrack::count(*net_), 0u);
}

// The receive path's look-ahead keeps hashes for lookups to come; whatever
// it was shown, in whatever order, lookups find what they found without it.
TEST_F(ConntrackTest, TheLookAheadNeverChangesWhatALookupFinds) {
  constexpr std::uint16_t kFlows = 12;
  std::vector<conntrack::Entry*> entries;
  for (std::uint16_t i = 0; i < kFlows; ++i) entries.push_back(pass(ct::udp4(kA, 1000 + i, kB, 53)).ct.get());
  const auto track = [&](const Bytes& d) { return tracker().track(*net_, Family::ipv4, d, {.hook = Hook::prerouting}); };

  // More than the table keeps, some of whose datagrams never come (dropped before conntrack).
  for (std::uint16_t i = 0; i < kFlows; ++i) tracker().prefetch(*net_, ct::udp4(kA, 1000 + i, kB, 53));
  for (std::uint16_t i = 0; i < kFlows; i += 3) EXPECT_EQ(track(ct::udp4(kA, 1000 + i, kB, 53)).ct.get(), entries[i]) << i;
  // Out of order, replies, flows never shown, a new flow, and bytes no lookup follows.
  tracker().prefetch(*net_, ct::udp4(kB, 53, kA, 1001));
  tracker().prefetch(*net_, ct::udp4(kA, 1002, kB, 53));
  tracker().prefetch(*net_, ct::udp4(kA, 9999, kB, 53));
  tracker().prefetch(*net_, ct::udp6(kA6, 1, kB6, 2));
  for (const Bytes& junk : {Bytes{}, Bytes{std::byte{0x50}}, Bytes(ct::udp4(kA, 1, kB, 2).size() - 10)}) {
    tracker().prefetch(*net_, junk);
  }
  EXPECT_EQ(track(ct::udp4(kA, 1002, kB, 53)).ct.get(), entries[2]);
  const Tracked reply = track(ct::udp4(kB, 53, kA, 1001));
  EXPECT_EQ(reply.ct.get(), entries[1]);
  EXPECT_EQ(reply.info, CtInfo::established_reply);
  EXPECT_EQ(track(ct::udp4(kA, 1004, kB, 53)).ct.get(), entries[4]);
  const Tracked fresh = track(ct::udp4(kA, 9999, kB, 53));
  ASSERT_TRUE(fresh.ct);
  EXPECT_EQ(fresh.info, CtInfo::new_);
  EXPECT_FALSE(fresh.ct->confirmed());
  EXPECT_EQ(conntrack::count(*net_), kFlows + 1u);
}

// Prerouting's conntrack entry carries the look-ahead only once the table
// outgrows a core's cache: a small table would pay for it and gain nothing.
TEST_F(ConntrackTest, TheLookAheadComesWithALargeTable) {
  ASSERT_TRUE(conntrack::netns_get(*net_, Family::ipv4));
  netfilter::HookTable& hooks = netfilter::hook_table(*net_, Family::ipv4);
  const auto through = [&](const Bytes& d) {
    Packet p = host_.packets().allocate_from(d);
    const netfilter::HookState in{*net_, netfilter::Hook::prerouting, Family::ipv4};
    ASSERT_EQ(hooks.run(netfilter::Hook::prerouting, p, in), netfilter::Verdict::accept);
    const netfilter::HookState out{*net_, netfilter::Hook::postrouting, Family::ipv4};
    ASSERT_EQ(hooks.run(netfilter::Hook::postrouting, p, out), netfilter::Verdict::accept);
  };
  through(ct::udp4(kA, 1, kB, 53));
  EXPECT_FALSE(hooks.prefetches(netfilter::Hook::prerouting));
  // Buckets double when the entries outnumber them: half the threshold, and one.
  const std::size_t flows = conntrack::kPrefetchMinBuckets / 2 + 1;
  for (std::size_t i = 1; i < flows; ++i) {
    through(ct::udp4(Ipv4Address(10, 0, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)), 1, kB, 53));
  }
  EXPECT_EQ(conntrack::count(*net_), flows);
  EXPECT_TRUE(hooks.prefetches(netfilter::Hook::prerouting));
  EXPECT_EQ(hooks.size(netfilter::Hook::prerouting), 2u);  // defrag and track: exchanged, not added
  conntrack::netns_put(*net_, Family::ipv4);
  EXPECT_FALSE(hooks.active(netfilter::Hook::prerouting));
}

TEST_F(ConntrackTest, Ipv6TcpHandshake) {
  pass(ct::tcp6(kA6, 40000, kB6, 80, kSyn, 1000, 0), Family::ipv6);
  pass(ct::tcp6(kB6, 80, kA6, 40000, kSyn | kAck, 5000, 1001), Family::ipv6);
  pass(ct::tcp6(kA6, 40000, kB6, 80, kAck, 1001, 5001), Family::ipv6);
  EXPECT_EQ(dump(),
            "tcp      6 432000 ESTABLISHED src=2001:db8::1 dst=2001:db8::2 sport=40000 dport=80 "
            "src=2001:db8::2 dst=2001:db8::1 sport=80 dport=40000 [ASSURED] mark=0 use=1\n");
}

}  // namespace conntrack_conntrack_test
}  // namespace
}  // namespace netns
