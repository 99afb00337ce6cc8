// Path MTU: UDP and ping sockets send with DF what fits the path and
// fragment the rest without it (Linux's IP_PMTUDISC_WANT), and an ICMP
// "fragmentation needed" about a datagram this namespace sent teaches the
// path's MTU for that destination (Linux's route exceptions: never below
// net.ipv4.route.min_pmtu, forgotten after net.ipv4.route.mtu_expires).
#include <gtest/gtest.h>

#include <set>

#include <boost/asio/error.hpp>

#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "netns/wire/bytes.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {
namespace ipv4_pmtu_test {

using support::Bytes;
using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;

const Ipv4Address kRouter(192, 0, 2, 254);
const MacAddress kRouterMac{0x02, 0, 0, 0, 0, 0xfe};
const Ipv4Address kFar(203, 0, 113, 9);

class PathMtu : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    learn_peer();
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kRouter, kRouterMac));
    ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = Ipv4Prefix(Ipv4Address(0, 0, 0, 0), 0), .via = kRouter}));
    sock_ = udp::open(*net_).value();
    ASSERT_TRUE(sock_.bind({Ipv4Address::any(), 5000}));
  }

  std::vector<support::Parsed> send(std::size_t size, Ipv4Address to = kFar) {
    Bytes data(size, std::byte{0x5a});
    EXPECT_TRUE(sock_.send_to(data, {to, 9}));
    host_.poll(clock_.now());
    return sent();
  }

  // The router says the datagram `quoted` (as we sent it) needs `mtu`.
  void frag_needed(const Bytes& quoted_frame, std::uint16_t mtu) {
    const std::size_t quote = std::min<std::size_t>(quoted_frame.size() - 14, 28);
    Bytes icmp(8 + quote);
    std::copy_n(quoted_frame.begin() + 14, quote, icmp.begin() + 8);
    wire::IcmpRepr::frag_needed(mtu, quote).emit(icmp);
    inject(support::ipv4_frame(eth0_->mac(), kRouterMac, {.src = kRouter, .dst = kChannelLocal}, icmp));
  }
  Bytes one_datagram(std::size_t size, Ipv4Address to = kFar) {
    Bytes data(size, std::byte{0x5a});
    EXPECT_TRUE(sock_.send_to(data, {to, 9}));
    host_.poll(clock_.now());
    auto frames = sent_bytes();
    EXPECT_EQ(frames.size(), 1u);
    return frames.empty() ? Bytes{} : frames[0];
  }
  std::uint32_t path_mtu(Ipv4Address to = kFar) { return ipv4::path_mtu(*net_, to).value(); }

  udp::Socket sock_;
};

TEST_F(PathMtu, WhatFitsGoesWithDontFragment) {
  auto out = send(1472);  // 1500 with the headers
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ip->dont_fragment);
  EXPECT_EQ(out[0].ip->payload_len, 1480u);
}

// Larger than the path: fragmented here, without DF, every fragment with
// the datagram's one ID.
TEST_F(PathMtu, WhatDoesNotFitIsFragmentedWithoutDontFragment) {
  auto out = send(3000);
  ASSERT_EQ(out.size(), 3u);
  std::set<std::uint16_t> ids;
  for (auto& f : out) {
    ASSERT_TRUE(f.ip);
    EXPECT_FALSE(f.ip->dont_fragment);
    EXPECT_LE(f.ip->payload_len + 20, 1500u);
    ids.insert(f.ip->identification);
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(counter("IpFragCreates"), 3u);
}

TEST_F(PathMtu, FragmentationNeededTeachesThePathMtu) {
  frag_needed(one_datagram(1400), 1280);
  EXPECT_EQ(path_mtu(), 1280u);
  EXPECT_EQ(path_mtu(kChannelPeer), 1500u) << "only for that destination";
  auto out = send(1300);
  ASSERT_EQ(out.size(), 2u);
  for (auto& f : out) {
    EXPECT_FALSE(f.ip->dont_fragment);
    EXPECT_LE(f.ip->payload_len + 20, 1280u);
  }
  out = send(1200);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].ip->dont_fragment);
}

// A connected socket that wants DF hears EMSGSIZE (__udp4_lib_err).
TEST_F(PathMtu, AConnectedSocketHearsMessageSize) {
  auto connected = udp::open(*net_).value();
  ASSERT_TRUE(connected.connect({kFar, 9}));
  Bytes data(1400, std::byte{1});
  ASSERT_TRUE(connected.send(data));
  host_.poll(clock_.now());
  auto frames = sent_bytes();
  ASSERT_EQ(frames.size(), 1u);
  frag_needed(frames[0], 1280);
  std::byte buf[8];
  auto r = connected.receive_from(buf);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), boost::asio::error::message_size);
  EXPECT_EQ(path_mtu(), 1280u);
}

// Reported below min_pmtu (552): the MTU is 552 and locked, and DF goes
// off so that routers may fragment (__ip_rt_update_pmtu).
TEST_F(PathMtu, AReportBelowMinPmtuLocksTheMtuAndDropsDontFragment) {
  frag_needed(one_datagram(1400), 300);
  EXPECT_EQ(path_mtu(), 552u);
  auto out = send(500);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].ip->dont_fragment);
  // A locked MTU takes no further reports until it expires.
  frag_needed(one_datagram(400), 1000);
  EXPECT_EQ(path_mtu(), 552u);
}

TEST_F(PathMtu, AReportThatDoesNotLowerTheMtuIsIgnored) {
  frag_needed(one_datagram(1400), 1400);
  EXPECT_EQ(path_mtu(), 1400u);
  frag_needed(one_datagram(1000), 1450);
  EXPECT_EQ(path_mtu(), 1400u);
}

TEST_F(PathMtu, ItIsForgottenAfterMtuExpires) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.route.mtu_expires", "60"));
  frag_needed(one_datagram(1400), 1280);
  EXPECT_EQ(path_mtu(), 1280u);
  run_for(std::chrono::seconds(59));
  EXPECT_EQ(path_mtu(), 1280u);
  run_for(std::chrono::seconds(1));
  EXPECT_EQ(path_mtu(), 1500u);
}

// net.ipv4.ip_no_pmtu_disc 2: fragmentation needed is ignored altogether.
TEST_F(PathMtu, NoPmtuDiscTwoIgnoresTheReports) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_no_pmtu_disc", "2"));
  frag_needed(one_datagram(1400), 1280);
  EXPECT_EQ(path_mtu(), 1500u);
}

// An error about a datagram no socket of ours sent teaches nothing.
TEST_F(PathMtu, AReportForNoSocketTeachesNothing) {
  Bytes forged = one_datagram(1400);
  wire::store_be16(forged, 14 + 20, 5999);  // another source port
  frag_needed(forged, 1280);
  EXPECT_EQ(path_mtu(), 1500u);
  EXPECT_EQ(counter("IcmpInErrors"), 1u);
}

// Bounded: a flood of reports for distinct destinations keeps at most
// PmtuExceptions::kMaxEntries (4096).
TEST_F(PathMtu, TheTableIsBounded) {
  constexpr std::uint32_t kDestinations = 5000;
  for (std::uint32_t i = 0; i < kDestinations; ++i) {
    frag_needed(one_datagram(1400, Ipv4Address(0x0a000000u + i)), 1280);
  }
  std::uint32_t lowered = 0;
  for (std::uint32_t i = 0; i < kDestinations; ++i) lowered += path_mtu(Ipv4Address(0x0a000000u + i)) == 1280;
  EXPECT_EQ(lowered, 4096u);
}

// icmp_err: an error quoting one of our echo replies teaches the path MTU
// here, where no socket sent it; the next big reply fits it.
TEST_F(PathMtu, AnErrorAboutAnEchoReplyTeachesTheMtu) {
  inject(support::echo_request_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 1, 1, 1400));
  auto reply = sent_bytes();
  ASSERT_EQ(reply.size(), 1u);
  Bytes icmp(8 + 28);
  std::copy_n(reply[0].begin() + 14, 28, icmp.begin() + 8);
  wire::IcmpRepr::frag_needed(1000, 28).emit(icmp);
  inject(support::ipv4_frame(eth0_->mac(), kChannelPeerMac, {.src = kChannelPeer, .dst = kChannelLocal}, icmp));
  EXPECT_EQ(path_mtu(kChannelPeer), 1000u);
  inject(support::echo_request_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, kChannelLocal, 1, 2, 1400));
  auto out = sent();
  ASSERT_EQ(out.size(), 2u);
  for (auto& f : out) EXPECT_LE(f.ip->payload_len + 20, 1000u);
}

// Ping sockets want path MTU discovery too.
TEST_F(PathMtu, PingSocketsSetDontFragmentOnWhatFits) {
  auto ping = icmp::open(*net_).value();
  ASSERT_TRUE(ping.send_echo(kChannelPeer, 1, Bytes(100)));
  ASSERT_TRUE(ping.send_echo(kChannelPeer, 2, Bytes(2000)));
  host_.poll(clock_.now());
  auto out = sent();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].ip->dont_fragment);
  EXPECT_FALSE(out[1].ip->dont_fragment);
  EXPECT_FALSE(out[2].ip->dont_fragment);
}

}  // namespace ipv4_pmtu_test
}  // namespace
}  // namespace netns
