// Martians: datagrams whose addresses cannot be real, refused by the input
// route before any transport sees them, as Linux's ip_route_input_slow and
// fib_validate_source refuse them, and counted where Linux counts them
// (/proc/net/stat/rt_cache's in_martian_src and in_martian_dst, reported by
// ipv4::route_cache_stats). The kernel test in linux_parity_test.cpp sends
// the same probes to a Linux namespace.
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/ipv4_channel.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_martian_test {

using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;
using support::kTcpSyn;

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

class Land : public support::TcpPeerTest {};
class MartianInput : public support::Ipv4ChannelTest {};

// ---- LAND: a SYN from our own address to ourselves ----

// Linux: fib_validate_source finds the source among the namespace's
// addresses and ip_route_input_slow goes to martian_source; the listener
// never sees the SYN, so nothing is answered and no request is queued.
TEST_F(Land, ASynFromOurOwnAddressIsAMartianAndMakesNoRequest) {
  auto listener = listen();
  peer_.set_self({support::kTcpLocal, support::kTcpLocalPort});
  peer_.send(peer_.syn());
  peer_.expect_none();
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_src, 1u);
  EXPECT_EQ(counter("TcpInSegs"), 0u);
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);
  EXPECT_EQ(counter("IpInDelivers"), 0u);
  EXPECT_EQ(tcp::dump_sockets(*net_).find("SYN-RECV"), std::string::npos);
  // The real peer still gets in.
  peer_.set_self({support::kTcpPeer, support::kTcpPeerPort});
  peer_.send(peer_.syn());
  peer_.expect(kTcpSyn | support::kTcpAck);
}

// accept_local (IN_DEV_ACCEPT_LOCAL, either `all` or the device) lets one's
// own addresses in from outside, as Linux does for that setup.
TEST_F(MartianInput, AcceptLocalLetsOwnAddressesIn) {
  auto server = udp::open(*net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 7}));
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.eth0.accept_local", "1"));
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, kChannelLocal, kChannelLocal, 1000, 7, 8));
  std::byte buf[16];
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->from.address, kChannelLocal);
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_src, 0u);
}

// ---- every martian the input route refuses ----

struct Martian {
  const char* name;
  Ipv4Address src, dst;
  bool source;  // counted as in_martian_src (else in_martian_dst)
};

class Martians : public support::Ipv4ChannelTest, public ::testing::WithParamInterface<Martian> {};

TEST_P(Martians, AreDroppedBeforeAnyTransportAndCounted) {
  learn_peer();
  ASSERT_TRUE(ipv4::add_address(*net_, net_->loopback(), prefix("10.9.9.9/32")));
  auto server = udp::open(*net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 7}));
  const Martian& m = GetParam();
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, m.src, m.dst, 1000, 7, 8));
  EXPECT_TRUE(sent().empty()) << m.name;
  std::byte buf[16];
  EXPECT_FALSE(server.receive_from(buf)) << m.name;
  auto stats = ipv4::route_cache_stats(*net_);
  EXPECT_EQ(stats.in_martian_src, m.source ? 1u : 0u) << m.name;
  EXPECT_EQ(stats.in_martian_dst, m.source ? 0u : 1u) << m.name;
  // Linux counts martians nowhere in the SNMP MIBs.
  EXPECT_EQ(counter("IpInReceives"), 1u);
  EXPECT_EQ(counter("IpInAddrErrors") + counter("IpInDelivers") + counter("IpInDiscards") +
                counter("UdpNoPorts") + counter("IcmpOutMsgs"),
            0u)
      << m.name;
}

INSTANTIATE_TEST_SUITE_P(
    Ipv4, Martians,
    ::testing::Values(
        Martian{"LAND: our own address as source", kChannelLocal, kChannelLocal, true},
        Martian{"our address on another device as source", Ipv4Address(10, 9, 9, 9), kChannelLocal, true},
        Martian{"multicast source", Ipv4Address(224, 0, 0, 5), kChannelLocal, true},
        Martian{"limited broadcast source", Ipv4Address::broadcast(), kChannelLocal, true},
        Martian{"unspecified source to a unicast", Ipv4Address::any(), kChannelLocal, true},
        Martian{"loopback source off the loopback", Ipv4Address(127, 0, 0, 1), kChannelLocal, true},
        Martian{"our own address to our broadcast", kChannelLocal, Ipv4Address(192, 0, 2, 255), true},
        Martian{"our own address to the limited broadcast", kChannelLocal, Ipv4Address::broadcast(), true},
        Martian{"unspecified destination", kChannelPeer, Ipv4Address::any(), false},
        Martian{"loopback destination off the loopback", kChannelPeer, Ipv4Address(127, 0, 0, 1), false}),
    [](const ::testing::TestParamInfo<Martian>& info) {
      std::string name = info.param.name;
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

// A DHCP client has no address yet: 0.0.0.0 to 255.255.255.255 is the one
// unspecified source Linux takes (brd_input).
TEST_F(MartianInput, AnUnspecifiedSourceMayBroadcast) {
  auto server = udp::open(*net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 67}));
  inject(support::udp_frame(MacAddress::broadcast(), kChannelPeerMac, Ipv4Address::any(),
                            Ipv4Address::broadcast(), 68, 67, 8));
  std::byte buf[16];
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->from.address, Ipv4Address::any());
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_src, 0u);
}

// Since Linux 5.3 ("Allow 0.0.0.0/8 as a valid address range") only
// 0.0.0.0 itself is refused: 0.1.2.3 is an ordinary source, and 0.0.0.7 an
// ordinary destination that is not ours (IpInAddrErrors without forwarding).
TEST_F(MartianInput, TheRestOfThisNetworkIsUnicast) {
  learn_peer();
  auto server = udp::open(*net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 7}));
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, Ipv4Address(0, 1, 2, 3), kChannelLocal, 1000, 7, 8));
  std::byte buf[16];
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->from.address, Ipv4Address(0, 1, 2, 3));
  // To a closed port: no route back for the port unreachable, which
  // icmp_send gives up on without a counter.
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, Ipv4Address(0, 1, 2, 3), kChannelLocal, 1000, 9, 8));
  EXPECT_EQ(counter("UdpNoPorts"), 1u);
  EXPECT_EQ(counter("IcmpOutErrors") + counter("IcmpOutMsgs"), 0u);
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, Ipv4Address(0, 0, 0, 7), 1000, 7, 8));
  EXPECT_EQ(counter("IpInAddrErrors"), 1u);
  auto stats = ipv4::route_cache_stats(*net_);
  EXPECT_EQ(stats.in_martian_src, 0u);
  EXPECT_EQ(stats.in_martian_dst, 0u);
}

// The loopback's datagrams were routed on output: a namespace talks to
// itself from its own addresses.
TEST_F(MartianInput, OwnAddressesTalkOverTheLoopback) {
  auto server = udp::open(*net_).value();
  ASSERT_TRUE(server.bind({kChannelLocal, 7}));
  auto client = udp::open(*net_).value();
  ASSERT_TRUE(client.bind({kChannelLocal, 0}));
  const std::byte hello[] = {std::byte{1}};
  ASSERT_TRUE(client.send_to(hello, {kChannelLocal, 7}));
  host_.poll(clock_.now());
  std::byte buf[4];
  EXPECT_TRUE(server.receive_from(buf));
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_src, 0u);
}

// log_martians (IN_DEV_LOG_MARTIANS, either `all` or the device): Linux's
// messages, at most 10 in 5 s (net_ratelimit).
TEST_F(MartianInput, LogMartiansSaysWhatWasRefusedAtALimitedRate) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.all.log_martians", "1"));
  for (int i = 0; i < 12; ++i) {
    inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, kChannelLocal, kChannelLocal, 1, 2, 8));
  }
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, Ipv4Address(127, 0, 0, 1), 1, 2, 8));
  ASSERT_EQ(messages_.size(), 10u);
  EXPECT_EQ(messages_[0], "martian source 192.0.2.1 from 192.0.2.1, on dev eth0");
  run_for(std::chrono::seconds(5));
  inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, kChannelPeer, Ipv4Address(127, 0, 0, 1), 1, 2, 8));
  ASSERT_EQ(messages_.size(), 11u);
  EXPECT_EQ(messages_.back(), "martian destination 127.0.0.1 from 192.0.2.2, dev eth0");
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_src, 12u);
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_dst, 2u);
}

// ---- a router ----

const Ipv4Address kFar(198, 51, 100, 2);
const MacAddress kFarMac{0x02, 0, 0, 0, 0, 0x03};

class RouterMartians : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    eth1_ = make_channel(*net_, "eth1").value();
    ASSERT_TRUE(set_link_up(*eth1_));
    ASSERT_TRUE(ipv4::add_address(*net_, *eth1_, prefix("198.51.100.1/24")));
    learn_peer();
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth1_, kFar, kFarMac));
  }
  support::Bytes from_peer(Ipv4Address src, Ipv4Address dst) {
    return support::udp_frame(eth0_->mac(), kChannelPeerMac, src, dst, 4000, 5000, 20);
  }
  ChannelDevice* eth1_ = nullptr;
};

// __mkroute_input validates the source of what it forwards.
TEST_F(RouterMartians, ForwardingRefusesOwnAndLoopbackSources) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  inject(from_peer(Ipv4Address(198, 51, 100, 1), kFar));  // the router's other address
  inject(from_peer(Ipv4Address(127, 0, 0, 9), kFar));
  inject(from_peer(Ipv4Address(224, 1, 1, 1), kFar));
  EXPECT_TRUE(sent(eth1_).empty());
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_src, 3u);
  EXPECT_EQ(counter("IpForwDatagrams"), 0u);
  inject(from_peer(kChannelPeer, kFar));
  EXPECT_EQ(sent(eth1_).size(), 1u);
}

// Forwarded back out of the device it came in by, the full check applies:
// the route back to the source must be unicast.
TEST_F(RouterMartians, HairpinForwardingWantsAUnicastRouteBack) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("203.0.113.0/24"), .type = ipv4::RouteType::blackhole}));
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("192.0.2.128/25"), .via = kChannelPeer}));
  inject(from_peer(Ipv4Address(203, 0, 113, 5), Ipv4Address(192, 0, 2, 200)));
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(ipv4::route_cache_stats(*net_).in_martian_src, 1u);
  inject(from_peer(Ipv4Address(192, 0, 2, 3), Ipv4Address(192, 0, 2, 200)));
  // The route back is the connected one: forwarded, and (the source being
  // on the link) an ARP request for it, to tell it of the better router.
  int forwarded = 0, arp = 0;
  for (const support::Parsed& p : sent()) {
    forwarded += p.udp && p.ip->src == Ipv4Address(192, 0, 2, 3) ? 1 : 0;
    arp += p.arp ? 1 : 0;
  }
  EXPECT_EQ(forwarded, 1);
  EXPECT_EQ(arp, 1);
}

// Without forwarding, Linux's ip_error counts InAddrErrors and answers
// nothing: a host must not tell a scanner that it exists.
TEST_F(RouterMartians, WithoutForwardingNothingIsSaid) {
  inject(from_peer(kChannelPeer, kFar));
  EXPECT_TRUE(sent(eth1_).empty());
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(counter("IpInAddrErrors"), 1u);
  EXPECT_EQ(counter("IcmpOutDestUnreachs"), 0u);
}

}  // namespace ipv4_martian_test
}  // namespace
}  // namespace netns
