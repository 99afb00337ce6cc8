// Redirects an IPv6 router sends (RFC 4861 8.2, Linux's ip6_forward and
// ndisc_send_redirect): a datagram that leaves by the link it came in by
// tells its sender, a neighbour there, of the better first hop: from our
// link-local address, hop limit 255, the target's link-layer address when
// it is known, and the datagram quoted within 1,280 bytes. At most six at
// once to one destination or one source, then one a second. The kernel
// comparison is linux_parity6_test's LinuxProbes6.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "netns/device.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ipv6.hpp"
#include "netns/wire/ndp.hpp"
#include "netns/wire/udp.hpp"
#include "support/ipv6_channel.hpp"

namespace netns {
namespace {
namespace ipv6_redirect6_test {

using Bytes = std::vector<std::byte>;
using support::v6;
using support::p6;

const Ipv6Address kPeer = v6("2001:db8::2");
const MacAddress kPeerMac{0x02, 0, 0, 0, 0, 0x02};
const Ipv6Address kGateway = v6("fe80::99");
const MacAddress kGatewayMac{0x02, 0, 0, 0, 0, 0x99};
const Ipv6Address kFar = v6("2001:db8:99::6");

// A router on one link, eth0: 2001:db8:99::/64 is through fe80::99 on the
// same link, and the peer 2001:db8::2 sends to it through us.
class Ipv6Redirect : public support::Ipv6ChannelTest {
 protected:
  Ipv6Redirect() : Ipv6ChannelTest(21, "router") {}
  void SetUp() override {
    Ipv6ChannelTest::SetUp();
    ASSERT_TRUE(net_->sysctl().set("net.ipv6.conf.all.forwarding", "1"));
    bring_up();
    ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
    run_for(std::chrono::seconds(3));  // DAD
    ASSERT_TRUE(ipv6::add_neighbour(*net_, *eth0_, kPeer, kPeerMac));
    ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:99::/64"), .via = kGateway, .dev = eth0_}));
    while (eth0_->read()) {
    }
  }
  // A UDP datagram from `src` to `dst` with `payload` bytes, as the peer sends it to us.
  void send(const Ipv6Address& src, const Ipv6Address& dst, std::size_t payload = 8) {
    const wire::UdpRepr udp{.src_port = 4000, .dst_port = 9, .payload_len = payload};
    Bytes frame(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen + udp.buffer_len());
    wire::EthernetRepr{eth0_->mac(), kPeerMac, wire::EtherType::ipv6}.emit(frame);
    auto ip = std::span(frame).subspan(wire::EthernetRepr::kHeaderLen);
    wire::Ipv6Repr{.src = src, .dst = dst, .next_header = wire::IpProtocol::udp, .payload_len = udp.buffer_len()}
        .emit(ip);
    udp.emit(ip.subspan(wire::Ipv6Repr::kHeaderLen), src, dst);
    eth0_->inject(frame);
    run_for(std::chrono::milliseconds(10));
  }
  struct Sent {
    std::optional<wire::RedirectRepr> redirect;
    Ipv6Address src, dst;
    std::uint8_t hop_limit = 0;
    Bytes frame;  // the redirect's span point into it
  };
  // The redirects eth0 sent since the last call (other frames dropped).
  std::vector<Sent> redirects() {
    std::vector<Sent> out;
    while (auto frame = eth0_->read()) {
      Sent s{.frame = std::move(*frame)};
      auto ip = wire::Ipv6View::checked(std::span<const std::byte>(s.frame).subspan(wire::EthernetRepr::kHeaderLen));
      if (!ip || ip->next_header() != static_cast<std::uint8_t>(wire::IpProtocol::icmpv6)) continue;
      auto redirect = wire::validate_redirect(*ip, ip->payload());
      if (!redirect) continue;
      s.redirect = *redirect;
      s.src = ip->src();
      s.dst = ip->dst();
      s.hop_limit = ip->hop_limit();
      out.push_back(std::move(s));
    }
    return out;
  }
};

TEST_F(Ipv6Redirect, ADatagramBackOutItsLinkTellsTheSenderOfTheBetterHop) {
  ASSERT_TRUE(ipv6::add_neighbour(*net_, *eth0_, kGateway, kGatewayMac));
  send(kPeer, kFar);
  const auto got = redirects();
  ASSERT_EQ(got.size(), 1u);
  const wire::RedirectRepr& r = *got[0].redirect;
  EXPECT_EQ(r.target, kGateway);
  EXPECT_EQ(r.destination, kFar);
  EXPECT_EQ(r.target_link, kGatewayMac);
  EXPECT_EQ(r.redirected_header.size(), 56u);  // the whole datagram: 40 + 8 + 8
  EXPECT_EQ(got[0].src, link_local());
  EXPECT_EQ(got[0].dst, kPeer);
  EXPECT_EQ(got[0].hop_limit, 255);
  EXPECT_EQ(counter("Icmp6OutRedirects"), 1u);
  EXPECT_EQ(counter("Icmp6OutType137"), 1u);
  EXPECT_EQ(counter("Ip6OutForwDatagrams"), 1u);  // and it goes on
}

TEST_F(Ipv6Redirect, TheQuoteKeepsTheMessageWithinTheMinimumMtu) {
  send(kPeer, kFar, 1400);
  const auto got = redirects();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_FALSE(got[0].redirect->target_link);  // the gateway is not resolved yet
  // 1280 - 40 (IPv6) - 40 (the fixed part) - 8 (the option's own header).
  EXPECT_EQ(got[0].redirect->redirected_header.size(), 1192u);
}

TEST_F(Ipv6Redirect, SixAtOnceThenOneASecond) {
  for (int i = 0; i < 8; ++i) send(kPeer, kFar);
  EXPECT_EQ(redirects().size(), 6u);
  run_for(std::chrono::seconds(1));
  send(kPeer, kFar);
  send(kPeer, kFar);
  EXPECT_EQ(redirects().size(), 1u);
  EXPECT_EQ(counter("Ip6OutForwDatagrams"), 10u);
}

TEST_F(Ipv6Redirect, NoneToASenderBeyondAGatewayNorForAGlobalGateway) {
  // A sender we reach through a gateway is not a neighbour.
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:55::/64"), .via = kGateway, .dev = eth0_}));
  send(v6("2001:db8:55::1"), kFar);
  // A router is known by its link-local address.
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:77::/64"), .via = v6("2001:db8::3"), .dev = eth0_}));
  send(kPeer, v6("2001:db8:77::1"));
  EXPECT_TRUE(redirects().empty());
  EXPECT_EQ(counter("Icmp6OutRedirects"), 0u);
  EXPECT_EQ(counter("Ip6OutForwDatagrams"), 2u);
}

// ip6_forward checks the source only for what leaves by another link: a
// datagram from a link-local address goes back out of its own link, with a
// redirect (Linux 6.18 does both), and to another link it is refused with
// "beyond scope of source address".
TEST_F(Ipv6Redirect, ALinkLocalSourceMayOnlyGoBackOutOfItsLink) {
  const Ipv6Address peer_link_local = v6("fe80::2");
  ASSERT_TRUE(ipv6::add_neighbour(*net_, *eth0_, peer_link_local, kPeerMac));
  send(peer_link_local, kFar);
  const auto got = redirects();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].dst, peer_link_local);
  EXPECT_EQ(counter("Ip6OutForwDatagrams"), 1u);

  ChannelDevice* eth1 = make_channel(*net_, "eth1").value();
  ASSERT_TRUE(set_link_up(*eth1));
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:98::/64"), .dev = eth1}));
  send(peer_link_local, v6("2001:db8:98::5"));
  EXPECT_EQ(counter("Ip6InAddrErrors"), 1u);
  EXPECT_EQ(counter("Icmp6OutDestUnreachs"), 1u);
  EXPECT_EQ(counter("Ip6OutForwDatagrams"), 1u);
  EXPECT_FALSE(eth1->read());
}

TEST_F(Ipv6Redirect, AnOnLinkDestinationIsItsOwnTarget) {
  send(kPeer, v6("2001:db8::7"));
  const auto got = redirects();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].redirect->target, v6("2001:db8::7"));
  EXPECT_EQ(got[0].redirect->destination, v6("2001:db8::7"));
}

}  // namespace ipv6_redirect6_test
}  // namespace
}  // namespace netns
