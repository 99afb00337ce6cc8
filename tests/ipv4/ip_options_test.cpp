// IP options and ICMP timestamps on the wire: what a namespace answers to a
// ping with Record Route or Timestamp, to source-routed datagrams, to
// malformed options, and to ICMP timestamp requests, frame by frame on a
// virtual clock whose UTC is pinned (support::kUtcAtZero). Each expectation
// cites what Linux does; linux_parity_test.cpp compares with the kernel.
#include <gtest/gtest.h>

#include <initializer_list>

#include "netns/ipv4.hpp"
#include "netns/wire/bytes.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {
namespace ipv4_ip_options_test {

using support::Bytes;
using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;
using support::kMsSinceMidnightAtZero;
using wire::IcmpType;

// An option area: `values`, then zeros up to `size` bytes (and a multiple of 4).
Bytes bytes(std::initializer_list<int> values, std::size_t size = 0) {
  Bytes out;
  for (int v : values) out.push_back(std::byte(static_cast<std::uint8_t>(v)));
  while (out.size() < size || out.size() % 4 != 0) out.push_back(std::byte{0});
  return out;
}

// An echo request from the peer carrying `options`.
Bytes echo_with_options(MacAddress to, const Bytes& options, Ipv4Address dst = kChannelLocal) {
  Bytes icmp(8 + 16);
  wire::IcmpRepr::echo_request(0x1234, 1, 16).emit(icmp);
  return support::ipv4_frame(to, kChannelPeerMac, {.src = kChannelPeer, .dst = dst, .options = options}, icmp);
}

Ipv4Address addr(const Bytes& b, std::size_t i) { return wire::load_ipv4(b, i); }
std::uint32_t be32(const Bytes& b, std::size_t i) { return wire::load_be32(b, i); }

class IpOptionsOnTheWire : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    learn_peer();
  }
};

// `ping -R`: Linux writes the address the ping was sent to on the way in
// (ip_options_compile) and the reply's source on the way out
// (ip_options_build), so the target shows twice.
TEST_F(IpOptionsOnTheWire, RecordRouteInAPingComesBackWithUsTwice) {
  inject(echo_with_options(eth0_->mac(), bytes({1, 7, 39, 4}, 40)));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::echo_reply);
  const Bytes& opt = out[0].ip_options;
  ASSERT_EQ(opt.size(), 40u);  // the RR option only, the NOP not echoed, padded
  EXPECT_EQ(wire::load_u8(opt, 0), 7);
  EXPECT_EQ(wire::load_u8(opt, 1), 39);
  EXPECT_EQ(wire::load_u8(opt, 2), 12);
  EXPECT_EQ(addr(opt, 3), kChannelLocal);
  EXPECT_EQ(addr(opt, 7), kChannelLocal);
  EXPECT_EQ(addr(opt, 11), Ipv4Address{});
  EXPECT_EQ(out[0].echo_id, 0x1234);
  EXPECT_EQ(out[0].l4_payload.size(), 16u);
  EXPECT_EQ(counter("IcmpOutEchoReps"), 1u);
}

// `ping -T tsonly`: stamped on the way in and on the way out.
TEST_F(IpOptionsOnTheWire, TimestampOptionIsStampedInAndOut) {
  clock_.advance(std::chrono::milliseconds(1500));
  inject(echo_with_options(eth0_->mac(), bytes({68, 40, 5, 0}, 40)));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& opt = out[0].ip_options;
  ASSERT_EQ(opt.size(), 40u);
  EXPECT_EQ(wire::load_u8(opt, 2), 13);
  EXPECT_EQ(be32(opt, 4), kMsSinceMidnightAtZero + 1500);
  EXPECT_EQ(be32(opt, 8), kMsSinceMidnightAtZero + 1500);
  EXPECT_EQ(be32(opt, 12), 0u);
}

// `ping -T tsandaddr`: this host's address with each stamp.
TEST_F(IpOptionsOnTheWire, TimestampWithAddressesNamesUs) {
  inject(echo_with_options(eth0_->mac(), bytes({68, 36, 5, 1}, 36)));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  const Bytes& opt = out[0].ip_options;
  ASSERT_EQ(opt.size(), 36u);
  EXPECT_EQ(wire::load_u8(opt, 2), 21);
  EXPECT_EQ(addr(opt, 4), kChannelLocal);
  EXPECT_EQ(be32(opt, 8), kMsSinceMidnightAtZero);
  EXPECT_EQ(addr(opt, 12), kChannelLocal);
  EXPECT_EQ(be32(opt, 16), kMsSinceMidnightAtZero);
}

// A malformed option: ICMP parameter problem pointing at the byte Linux
// blames (ip_options_compile), InHdrErrors, and no echo reply.
TEST_F(IpOptionsOnTheWire, AMalformedOptionGetsParameterProblem) {
  inject(echo_with_options(eth0_->mac(), bytes({1, 7, 7, 2, 0, 0, 0, 0})));  // pointer 2 < 4
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::parameter_problem);
  EXPECT_EQ(out[0].icmp->rest_of_header >> 24, 23u);  // 20 + the NOP + type + length
  EXPECT_EQ(counter("IpInHdrErrors"), 1u);
  EXPECT_EQ(counter("IcmpInEchos"), 0u);
}

// ---- source routes ----

const Ipv4Address kHop(192, 0, 2, 3);  // a router on eth0's link
const MacAddress kHopMac{0x02, 0, 0, 0, 0, 0x04};

// accept_source_route is 0 in effect (all 0, default 1: ANDed): Linux's
// ip_rcv_options drops the datagram without a counter (the parity test
// checks that against a kernel), and says so under log_martians.
TEST_F(IpOptionsOnTheWire, SourceRoutedDatagramsAreDroppedByDefault) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.all.log_martians", "1"));
  inject(echo_with_options(eth0_->mac(), bytes({1, 131, 7, 8, 192, 0, 2, 3})));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IpInReceives"), 1u);
  EXPECT_EQ(counter("IpInDiscards") + counter("IpInHdrErrors") + counter("IpInDelivers"), 0u);
  EXPECT_EQ(counter("IcmpInEchos"), 0u);
  ASSERT_EQ(messages_.size(), 1u);
  EXPECT_EQ(messages_[0], "source route option 192.0.2.2 -> 192.0.2.1");
}

// With both `all` and the device accepting, an echo that came by a loose
// source route goes back by it reversed, first to the last hop it visited.
TEST_F(IpOptionsOnTheWire, AnAcceptedSourceRouteIsReversedInTheReply) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.all.accept_source_route", "1"));
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kHop, kHopMac));
  inject(echo_with_options(eth0_->mac(), bytes({1, 131, 7, 8, 192, 0, 2, 3})));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].ip->dst, kHop);
  EXPECT_EQ(out[0].eth.dst, kHopMac);
  const Bytes& opt = out[0].ip_options;
  ASSERT_EQ(opt.size(), 8u);
  EXPECT_EQ(wire::load_u8(opt, 0), 131);
  EXPECT_EQ(wire::load_u8(opt, 1), 7);
  EXPECT_EQ(wire::load_u8(opt, 2), 4);
  EXPECT_EQ(addr(opt, 3), kChannelPeer);  // the final destination in the last slot
  // Only on the device the knob allows (IN_DEV_SOURCE_ROUTE ANDs them).
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.eth0.accept_source_route", "0"));
  inject(echo_with_options(eth0_->mac(), bytes({1, 131, 7, 8, 192, 0, 2, 3})));
  EXPECT_TRUE(sent().empty());
}

// A strict route naming someone else as the destination is refused with a
// parameter problem blaming the destination field (ip_options_rcv_srr).
TEST_F(IpOptionsOnTheWire, AStrictRouteThroughSomeoneElseIsAParameterProblem) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.all.accept_source_route", "1"));
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  inject(echo_with_options(eth0_->mac(), bytes({1, 137, 7, 4, 192, 0, 2, 3}), Ipv4Address(192, 0, 2, 9)));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::parameter_problem);
  EXPECT_EQ(out[0].icmp->rest_of_header >> 24, 16u);
}

// ---- forwarding ----

const Ipv4Address kFar(198, 51, 100, 2);
const MacAddress kFarMac{0x02, 0, 0, 0, 0, 0x03};

class ForwardedOptions : public IpOptionsOnTheWire {
 protected:
  void SetUp() override {
    IpOptionsOnTheWire::SetUp();
    eth1_ = make_channel(*net_, "eth1").value();
    ASSERT_TRUE(set_link_up(*eth1_));
    ASSERT_TRUE(ipv4::add_address(*net_, *eth1_, Ipv4Prefix(Ipv4Address(198, 51, 100, 1), 24)));
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth1_, kFar, kFarMac));
    ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  }
  ChannelDevice* eth1_ = nullptr;
};

// A router records the address it forwards by (ip_forward_options).
TEST_F(ForwardedOptions, RecordRouteGetsTheOutgoingAddress) {
  inject(echo_with_options(eth0_->mac(), bytes({1, 7, 11, 4}, 12), kFar));
  auto out = sent(eth1_);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].ip) << "the header checksum must hold after the options changed";
  EXPECT_EQ(out[0].ip->ttl, 63);
  const Bytes& opt = out[0].ip_options;
  ASSERT_EQ(opt.size(), 12u);
  EXPECT_EQ(wire::load_u8(opt, 3), 8);
  EXPECT_EQ(addr(opt, 4), Ipv4Address(198, 51, 100, 1));
}

// A loose source route through this host: on to its next hop, which becomes
// the destination, with this host recorded in its slot.
TEST_F(ForwardedOptions, AnAcceptedSourceRouteIsFollowed) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.all.accept_source_route", "1"));
  inject(echo_with_options(eth0_->mac(), bytes({1, 131, 7, 4, 198, 51, 100, 2})));
  auto out = sent(eth1_);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].ip);
  EXPECT_EQ(out[0].ip->dst, kFar);
  EXPECT_EQ(out[0].eth.dst, kFarMac);
  const Bytes& opt = out[0].ip_options;
  ASSERT_EQ(opt.size(), 8u);
  EXPECT_EQ(wire::load_u8(opt, 3), 8);
  EXPECT_EQ(addr(opt, 4), Ipv4Address(198, 51, 100, 1));
  EXPECT_EQ(counter("IpForwDatagrams"), 1u);
  EXPECT_EQ(counter("IcmpInEchos"), 0u);
}

// ---- ICMP timestamps (RFC 792, Linux's icmp_timestamp) ----

Bytes timestamp_request(MacAddress to, Ipv4Address dst, std::uint32_t originate, std::size_t data = 12) {
  Bytes icmp(8 + data);
  if (data >= 4) wire::store_be32(icmp, 8, originate);
  wire::IcmpRepr{IcmpType::timestamp_request, 0, 0x0abc0007, data}.emit(icmp);
  return support::ipv4_frame(to, kChannelPeerMac, {.src = kChannelPeer, .dst = dst}, icmp);
}

TEST_F(IpOptionsOnTheWire, TimestampRequestsAreAnsweredWithMillisecondsSinceMidnightUtc) {
  clock_.advance(std::chrono::milliseconds(250));
  inject(timestamp_request(eth0_->mac(), kChannelLocal, 0x01020304));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, IcmpType::timestamp_reply);
  EXPECT_EQ(out[0].icmp->code, 0);
  EXPECT_EQ(out[0].icmp->rest_of_header, 0x0abc0007u);  // identifier and sequence kept
  ASSERT_EQ(out[0].l4_payload.size(), 12u);
  EXPECT_EQ(be32(out[0].l4_payload, 0), 0x01020304u);  // originate, as sent
  EXPECT_EQ(be32(out[0].l4_payload, 4), kMsSinceMidnightAtZero + 250);
  EXPECT_EQ(be32(out[0].l4_payload, 8), kMsSinceMidnightAtZero + 250);
  EXPECT_EQ(out[0].ip->src, kChannelLocal);
  EXPECT_FALSE(out[0].ip->dont_fragment);  // Linux's ICMP socket: IP_PMTUDISC_DONT
  EXPECT_EQ(counter("IcmpInTimestamps"), 1u);
  EXPECT_EQ(counter("IcmpOutTimestampReps"), 1u);
  EXPECT_EQ(counter("IcmpOutMsgs"), 1u);
}

// The reply is 20 bytes whatever the request carried after its originate time.
TEST_F(IpOptionsOnTheWire, TimestampRepliesAreTwentyBytesAndShortRequestsErrors) {
  inject(timestamp_request(eth0_->mac(), kChannelLocal, 7, 40));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].l4_payload.size(), 12u);
  inject(timestamp_request(eth0_->mac(), kChannelLocal, 7, 3));  // no whole originate timestamp
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IcmpInTimestamps"), 2u);
  EXPECT_EQ(counter("IcmpInErrors"), 1u);
}

TEST_F(IpOptionsOnTheWire, TimestampRequestsToABroadcastFollowIcmpEchoIgnoreBroadcasts) {
  inject(timestamp_request(MacAddress::broadcast(), Ipv4Address(192, 0, 2, 255), 7));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IcmpInErrors"), 1u);  // icmp_rcv counts it so
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.icmp_echo_ignore_broadcasts", "0"));
  inject(timestamp_request(MacAddress::broadcast(), Ipv4Address(192, 0, 2, 255), 7));
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ip->src, kChannelLocal);
}

TEST_F(IpOptionsOnTheWire, TimestampRepliesAreCountedAndDropped) {
  Bytes icmp(20);
  wire::IcmpRepr::timestamp_reply(1, 1).emit(icmp);
  inject(support::ipv4_frame(eth0_->mac(), kChannelPeerMac, {.src = kChannelPeer, .dst = kChannelLocal}, icmp));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IcmpInTimestampReps"), 1u);
}

// A Host that was not told UTC says its timestamps are not UTC: RFC 792's
// high bit, over milliseconds of its own clock.
TEST(IcmpTimestamps, WithoutUtcTheHighBitIsSet) {
  Host host(support::test_config());
  VirtualClock clock(Clock::time_point{} + std::chrono::seconds(42));
  host.poll(clock.now());
  NetRef net = host.create_net().value();
  ChannelDevice* eth0 = make_channel(*net, "eth0").value();
  ASSERT_TRUE(set_link_up(*eth0));
  ASSERT_TRUE(ipv4::add_address(*net, *eth0, Ipv4Prefix(kChannelLocal, 24)));
  ASSERT_TRUE(ipv4::add_neighbour(*net, *eth0, kChannelPeer, kChannelPeerMac));
  eth0->inject(timestamp_request(eth0->mac(), kChannelLocal, 7));
  host.poll(clock.now());
  auto frame = eth0->read();
  ASSERT_TRUE(frame);
  auto out = support::parse_frame(*frame);
  ASSERT_TRUE(out.icmp);
  EXPECT_EQ(be32(out.l4_payload, 4), 0x8000'0000u | 42'000u);
}

}  // namespace ipv4_ip_options_test
}  // namespace
}  // namespace netns
