// IP IDs as Linux chooses them (ip_select_ident_segs): a connected socket's
// own counter from a random start (TCP connections, connected UDP), 0 on a
// DF datagram nobody may fragment (SYN-ACKs, RSTs and other answers without a
// socket), and otherwise a per-destination counter of the Host's keyed table
// (ip_idents), which moves on by a random amount after idle time. nmap's
// Linux fingerprint follows: TI=Z, CI=Z, II=I; and the namespace is no
// idle-scan zombie.
#include <gtest/gtest.h>

#include <set>

#include "core/ip_idents.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/ipv4_channel.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_ip_id_test {

using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;
using support::kTcpAck;
using support::kTcpRst;
using support::kTcpSyn;

const Ipv4Address kOther(192, 0, 2, 7);
const MacAddress kOtherMac{0x02, 0, 0, 0, 0, 0x07};

class IpIds : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    learn_peer();
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kOther, kOtherMac));
  }
  // The IP ID of the echo reply to a ping from `from`.
  std::uint16_t ping_id(Ipv4Address from = kChannelPeer, MacAddress mac = kChannelPeerMac) {
    inject(support::echo_request_frame(eth0_->mac(), mac, from, kChannelLocal, 9, seq_++, 8));
    auto out = sent();
    EXPECT_EQ(out.size(), 1u);
    if (out.empty() || !out[0].ip) return 0;
    EXPECT_FALSE(out[0].ip->dont_fragment);  // Linux's ICMP socket: IP_PMTUDISC_DONT
    return out[0].ip->identification;
  }
  std::uint16_t seq_ = 1;
};

// Within one tick (4 ms), one destination's IDs count up by one: II=I.
TEST_F(IpIds, EchoRepliesToOnePeerCountUpWithinATick) {
  const std::uint16_t first = ping_id();
  for (std::uint16_t i = 1; i < 6; ++i) EXPECT_EQ(ping_id(), static_cast<std::uint16_t>(first + i));
}

// After idle time the counter jumps by a random amount below the ticks that
// passed (ip_idents_reserve), so two samples far apart tell nothing about
// the traffic in between.
TEST_F(IpIds, IdleTimeAddsARandomIncrementBelowTheTicksElapsed) {
  std::uint16_t last = ping_id();
  std::set<int> steps;
  for (int i = 0; i < 20; ++i) {
    clock_.advance(std::chrono::seconds(1));  // 250 ticks
    const std::uint16_t next = ping_id();
    const int step = static_cast<std::uint16_t>(next - last);
    EXPECT_GE(step, 1);
    EXPECT_LE(step, 250);
    steps.insert(step);
    last = next;
  }
  EXPECT_GT(steps.size(), 10u) << "increments after idle time look random";
}

// The idle scan: a zombie whose ID counter is global tells the scanner, by
// the jump between two probes, how many datagrams it sent elsewhere. Here
// the scanner's bucket does not move for traffic to anyone else.
TEST_F(IpIds, TrafficToOthersDoesNotMoveOnePeersIds) {
  // Every error answered: not six, as the per-destination limit would allow.
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.icmp_ratelimit", "0"));
  const std::uint16_t before = ping_id();
  for (int i = 0; i < 50; ++i) {  // the "victim" makes us answer 50 times (port unreachables)
    inject(support::udp_frame(eth0_->mac(), kOtherMac, kOther, kChannelLocal, 1000, 9, 8));
  }
  EXPECT_EQ(counter("IcmpOutDestUnreachs"), 50u);
  sent();
  EXPECT_EQ(ping_id(), static_cast<std::uint16_t>(before + 1));
}

// One table for the Host, keyed with the namespace: the same addresses in
// two namespaces draw from unrelated counters.
TEST_F(IpIds, NamespacesWithTheSameAddressesHaveTheirOwnCounters) {
  NetRef twin = host_.create_net("twin").value();
  ChannelDevice* eth = make_channel(*twin, "eth0").value();
  ASSERT_TRUE(set_link_up(*eth));
  ASSERT_TRUE(ipv4::add_address(*twin, *eth, Ipv4Prefix(kChannelLocal, 24)));
  ASSERT_TRUE(ipv4::add_neighbour(*twin, *eth, kChannelPeer, kChannelPeerMac));
  const std::uint16_t mine = ping_id();
  eth->inject(support::echo_request_frame(eth->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 9, 1, 8));
  host_.poll(clock_.now());
  auto theirs = support::parse_frame(*eth->read());
  ASSERT_TRUE(theirs.ip);
  EXPECT_NE(theirs.ip->identification, static_cast<std::uint16_t>(mine + 1));
  EXPECT_EQ(ping_id(), static_cast<std::uint16_t>(mine + 1));
}

// Errors and replies without a socket leave by the hashed generator too.
TEST_F(IpIds, IcmpErrorsCountInTheirDestinationsBucket) {
  const std::uint16_t reply = ping_id();
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 1000, 9, 8));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].icmp->type, wire::IcmpType::dest_unreachable);
  EXPECT_EQ(out[0].ip->identification, static_cast<std::uint16_t>(reply + 1));
}

// UDP and ping sockets set DF on what fits (IP_PMTUDISC_WANT), which leaves
// the datagram fragmentable by the host (skb->ignore_df): the ID is still
// the hashed generator's, as Linux sends. A connected socket numbers its
// own from a random start.
TEST_F(IpIds, UdpDatagramsUseTheHashedGeneratorUnlessConnected) {
  auto sock = udp::open(*net_).value();
  const std::byte data[4] = {};
  ASSERT_TRUE(sock.send_to(data, {kChannelPeer, 9}));
  ASSERT_TRUE(sock.send_to(data, {kChannelPeer, 9}));
  host_.poll(clock_.now());
  auto out = sent();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].ip->dont_fragment);
  EXPECT_EQ(out[1].ip->identification, static_cast<std::uint16_t>(out[0].ip->identification + 1));
  EXPECT_NE(ping_id(), static_cast<std::uint16_t>(out[1].ip->identification + 1)) << "ICMP has its own bucket";

  auto connected = udp::open(*net_).value();
  ASSERT_TRUE(connected.connect({kChannelPeer, 9}));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(connected.send(data));
  host_.poll(clock_.now());
  out = sent();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].ip->identification, static_cast<std::uint16_t>(out[0].ip->identification + 1));
  EXPECT_EQ(out[2].ip->identification, static_cast<std::uint16_t>(out[0].ip->identification + 2));
}

// ---- TCP ----

class TcpIpIds : public support::TcpPeerTest {};

// SYN-ACKs from a listener carry ID 0 under DF (ip_build_and_send_pkt), as
// do RSTs from no socket (the per-namespace control socket): nmap's TI=Z
// and CI=Z.
TEST_F(TcpIpIds, SynAcksAndResetsWithoutASocketCarryIdZero) {
  auto listener = listen();
  for (int i = 0; i < 3; ++i) {
    peer_.set_self({support::kTcpPeer, static_cast<std::uint16_t>(41000 + i)});
    peer_.send(peer_.syn());
    auto synack = peer_.expect(kTcpSyn | kTcpAck);
    EXPECT_TRUE(synack.ip.dont_fragment);
    EXPECT_EQ(synack.ip.identification, 0);
  }
  peer_.set_remote({support::kTcpLocal, 81});  // a closed port
  peer_.send(peer_.syn());
  auto rst = peer_.expect(kTcpRst | kTcpAck);
  EXPECT_TRUE(rst.ip.dont_fragment);
  EXPECT_EQ(rst.ip.identification, 0);
}

// A connection numbers its segments from a random start, one by one
// (inet_id), whatever else the host sends.
TEST_F(TcpIpIds, AConnectionCountsItsOwnSegments) {
  auto stream = established();
  ASSERT_TRUE(write(stream, 2000));  // two segments
  auto first = peer_.expect();
  auto second = peer_.expect();
  EXPECT_EQ(second.ip.identification, static_cast<std::uint16_t>(first.ip.identification + 1));
  peer_.ack(second);
  EXPECT_TRUE(first.ip.dont_fragment);
  // A second connection starts somewhere else.
  peer_.set_self({support::kTcpPeer, 41001});
  peer_.send(peer_.syn());
  auto synack = peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(synack.ip.identification, 0);
  peer_.learn_synack(synack);
  peer_.send_ack();
  auto other = listener_.accept().value();
  ASSERT_TRUE(write(other, 100));
  auto seg = peer_.expect();
  EXPECT_NE(seg.ip.identification, static_cast<std::uint16_t>(second.ip.identification + 1));
}

// ---- the table itself ----

TEST(IpIdentsTable, DeterministicForOneSecretAndDifferentForAnother) {
  IpIdents a(1), b(1), c(2);
  const Clock::time_point t{};
  const auto pick = [&](IpIdents& ids) { return ids.select(1, kChannelPeer, kChannelLocal, 1, t); };
  EXPECT_EQ(pick(a), pick(b));
  IpIdents a2(1);
  EXPECT_NE(pick(a2), pick(c));
}

TEST(IpIdentsTable, SegmentsReserveThatManyIds) {
  IpIdents ids(7);
  const Clock::time_point t{};
  const std::uint16_t first = ids.select(1, kChannelPeer, kChannelLocal, 6, t, 10);
  EXPECT_EQ(ids.select(1, kChannelPeer, kChannelLocal, 6, t), static_cast<std::uint16_t>(first + 10));
}

}  // namespace ipv4_ip_id_test
}  // namespace
}  // namespace netns
