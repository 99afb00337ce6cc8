// ICMP error rate limits, as Linux 6.x's icmp_send: types in
// net.ipv4.icmp_ratemask (never fragmentation needed) take from the
// namespace's bucket (icmp_msgs_per_sec, icmp_msgs_burst), then from the
// destination's (icmp_ratelimit: a burst of six, then one per interval);
// nothing to or from loopback is limited.
#include <array>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "ipv4/icmp_peers.hpp"
#include "netns/ipv4.hpp"
#include "netns/ipv6.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/udp.hpp"
#include "netns/udp.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {
namespace ipv4_icmp_rate_test {

using namespace std::chrono_literals;
using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;
using wire::IcmpType;

class IcmpRateLimit : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    learn_peer();
  }
  // `n` datagrams from `src` to a closed port; the port unreachables sent.
  std::size_t closed_port(int n, Ipv4Address src = kChannelPeer) {
    for (int i = 0; i < n; ++i) {
      inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, src, kChannelLocal,
                                static_cast<std::uint16_t>(1000 + i), 9, 8));
    }
    std::size_t unreachables = 0;
    for (const auto& p : sent()) {
      if (p.icmp && p.icmp->type == IcmpType::dest_unreachable) ++unreachables;
    }
    return unreachables;
  }
  void set(std::string_view name, std::string_view value) { ASSERT_TRUE(net_->sysctl().set(name, value)); }
};

TEST_F(IcmpRateLimit, SixThenOnePerIntervalPerDestination) {
  EXPECT_EQ(closed_port(10), 6u);
  EXPECT_EQ(counter("IcmpOutRateLimitHost"), 4u);
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal"), 0u);
  run_for(999ms);
  EXPECT_EQ(closed_port(1), 0u);
  run_for(1ms);
  EXPECT_EQ(closed_port(2), 1u);  // a second's credit: one
  run_for(10s);
  EXPECT_EQ(closed_port(10), 6u);  // never more than six in credit
}

TEST_F(IcmpRateLimit, EachDestinationHasItsOwnBucket) {
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, Ipv4Address(192, 0, 2, 3), kChannelPeerMac));
  EXPECT_EQ(closed_port(10), 6u);
  EXPECT_EQ(closed_port(10, Ipv4Address(192, 0, 2, 3)), 6u);
}

TEST_F(IcmpRateLimit, IntervalFollowsTheSysctlAndZeroTurnsItOff) {
  set("net.ipv4.icmp_ratelimit", "100");
  EXPECT_EQ(closed_port(10), 6u);
  run_for(100ms);
  EXPECT_EQ(closed_port(2), 1u);
  set("net.ipv4.icmp_ratelimit", "0");
  EXPECT_EQ(closed_port(20), 20u);
}

TEST_F(IcmpRateLimit, OnlyTypesInTheMaskAreLimited) {
  set("net.ipv4.icmp_ratemask", "0");
  set("net.ipv4.icmp_msgs_burst", "2");
  EXPECT_EQ(closed_port(10), 10u);  // neither bucket applies
  set("net.ipv4.icmp_ratemask", std::to_string(1 << 3));  // destination unreachable
  EXPECT_EQ(closed_port(10), 2u);
}

TEST_F(IcmpRateLimit, TheNamespaceBucketComesFirst) {
  set("net.ipv4.icmp_msgs_burst", "3");
  EXPECT_EQ(closed_port(10), 3u);
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal"), 7u);
  EXPECT_EQ(counter("IcmpOutRateLimitHost"), 0u);
}

// icmp_global_allow, then icmp_global_consume: errors a destination's
// limit holds back spend nothing of the namespace's credit, which another
// destination then still finds.
TEST_F(IcmpRateLimit, OnlyErrorsSentSpendTheNamespaceCredit) {
  set("net.ipv4.icmp_msgs_burst", "10");
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, Ipv4Address(192, 0, 2, 3), kChannelPeerMac));
  EXPECT_EQ(closed_port(30), 6u);  // the destination's burst
  EXPECT_EQ(counter("IcmpOutRateLimitHost"), 24u);
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal"), 0u);
  EXPECT_EQ(closed_port(10, Ipv4Address(192, 0, 2, 3)), 4u);  // what is left of ten
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal"), 6u);
}

// ICMP and ICMPv6 errors share one credit per namespace (Linux's
// icmp_global): net.ipv4.icmp_msgs_burst bounds both families together.
TEST_F(IcmpRateLimit, IcmpAndIcmpv6ShareTheNamespaceCredit) {
  set("net.ipv4.icmp_msgs_burst", "5");
  set("net.ipv4.icmp_ratelimit", "0");
  set("net.ipv6.icmp.ratelimit", "0");
  const Ipv6Address local(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), peer(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, Ipv6Prefix(local, 64)));
  run_for(3s);  // DAD
  ASSERT_TRUE(ipv6::add_neighbour(*net_, *eth0_, peer, kChannelPeerMac));
  EXPECT_EQ(closed_port(3), 3u);
  for (int i = 0; i < 5; ++i) {
    std::vector<std::byte> frame(14 + 40 + 8);
    wire::EthernetRepr{eth0_->mac(), kChannelPeerMac, wire::EtherType::ipv6}.emit(frame);
    wire::Ipv6Repr{.src = peer, .dst = local, .next_header = wire::IpProtocol::udp, .hop_limit = 64, .payload_len = 8}
        .emit(std::span(frame).subspan(14));
    wire::UdpRepr{.src_port = 4000, .dst_port = 9, .payload_len = 0}.emit(std::span(frame).subspan(54), peer, local);
    inject(frame);
  }
  EXPECT_EQ(counter("Icmp6OutDestUnreachs"), 2u);  // what IPv4's three left
  EXPECT_EQ(counter("IcmpOutRateLimitGlobal"), 3u);
  run_for(1s);  // refilled for both
  EXPECT_EQ(closed_port(5), 5u);
}

TEST_F(IcmpRateLimit, FragmentationNeededIsNeverLimited) {
  // A router: DF datagrams too big for the way out each get their answer.
  set("net.ipv4.ip_forward", "1");
  auto eth1 = make_channel(*net_, "eth1").value();
  ASSERT_TRUE(set_link_up(*eth1));
  ASSERT_TRUE(eth1->set_mtu(576));
  ASSERT_TRUE(ipv4::add_address(*net_, *eth1, Ipv4Prefix::parse("198.51.100.1/24").value()));
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth1, Ipv4Address(198, 51, 100, 2), kChannelPeerMac));
  for (int i = 0; i < 10; ++i) {
    inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, Ipv4Address(198, 51, 100, 2), 1000, 9,
                              1000, 64, /*dont_fragment=*/true));
  }
  std::size_t frag_needed = 0;
  for (const auto& p : sent()) {
    if (p.icmp && p.icmp->type == IcmpType::dest_unreachable && p.icmp->code == 4) ++frag_needed;
  }
  EXPECT_EQ(frag_needed, 10u);
}

TEST_F(IcmpRateLimit, LoopbackIsNeverLimited) {
  auto sock = udp::open(*net_).value();
  ASSERT_TRUE(sock.connect({Ipv4Address(127, 0, 0, 1), 9}));
  const std::array<std::byte, 8> data{};
  int refused = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(sock.send(data));
    host_.poll(clock_.now());
    std::array<std::byte, 8> buf{};
    auto r = sock.receive_from(buf);
    if (!r && r.error() == boost::asio::error::connection_refused) ++refused;
  }
  EXPECT_EQ(refused, 20);
  EXPECT_EQ(counter("IcmpOutRateLimitHost") + counter("IcmpOutRateLimitGlobal"), 0u);
}

// The table of destinations is bounded: past kMaxPeers a new one replaces
// another, which starts full again when it comes back.
TEST(IcmpPeers, TableIsBounded) {
  ipv4::IcmpPeers peers(SipKey{1, 2});
  const Clock::time_point now{};
  for (std::uint32_t i = 0; i < 3 * ipv4::IcmpPeers::kMaxPeers; ++i) {
    EXPECT_TRUE(peers.allow(Ipv4Address(0x0a000000u + i), 1s, now));
  }
  EXPECT_EQ(peers.size(), ipv4::IcmpPeers::kMaxPeers);
}

TEST(IcmpPeers, ZeroIntervalAllowsEverything) {
  ipv4::IcmpPeers peers(SipKey{1, 2});
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(peers.allow(Ipv4Address(10, 0, 0, 1), 0s, Clock::time_point{}));
}

}  // namespace ipv4_icmp_rate_test
}  // namespace
}  // namespace netns
