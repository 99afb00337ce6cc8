// ICMP redirects sent by a router (Linux's __mkroute_input marking
// IPSKB_DOREDIRECT, ip_forward sending through ip_rt_send_redirect): a
// datagram forwarded back out of the link it came from, by a host on that
// link, tells the host the better first hop; send_redirects governs it and
// ip_rt_redirect_{load,number,silence} limit it per source.
#include <gtest/gtest.h>

#include "netns/ipv4.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {

using namespace std::chrono_literals;
using support::kChannelLocal;
using support::kChannelPeer;
using support::kChannelPeerMac;

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

const Ipv4Address kBetterRouter(192, 0, 2, 3);  // on eth0's link too
const MacAddress kBetterRouterMac{0x02, 0, 0, 0, 0, 0x03};
const Ipv4Address kFar(198, 51, 100, 9);        // reached through kBetterRouter

class Redirects : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    learn_peer();
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kBetterRouter, kBetterRouterMac));
    ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("198.51.100.0/24"), .via = kBetterRouter}));
    ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  }
  // A datagram from `src` to kFar, sent to us as the peer's first hop; the
  // redirects (ICMP type 5) and forwarded datagrams that came out.
  struct Out {
    int redirects = 0, forwarded = 0;
  };
  Out hairpin(Ipv4Address src = kChannelPeer) {
    inject(support::udp_frame(eth0_->mac(), kChannelPeerMac, src, kFar, 4000, 5000, 16));
    Out out;
    for (const support::Parsed& p : sent()) {
      if (p.icmp && p.icmp->type == wire::IcmpType::redirect) {
        ++out.redirects;
        last_redirect_ = p;
      } else if (p.udp && p.eth.dst == kBetterRouterMac) {
        ++out.forwarded;
      }
    }
    return out;
  }
  support::Parsed last_redirect_;
};

TEST_F(Redirects, AHairpinTellsTheSenderTheBetterRouter) {
  const Out out = hairpin();
  EXPECT_EQ(out.forwarded, 1);  // the datagram still goes on
  ASSERT_EQ(out.redirects, 1);
  const support::Parsed& r = last_redirect_;
  EXPECT_EQ(r.ip->dst, kChannelPeer);
  EXPECT_EQ(r.ip->src, kChannelLocal);
  EXPECT_EQ(r.icmp->code, 1);  // ICMP_REDIR_HOST
  EXPECT_EQ(Ipv4Address(r.icmp->rest_of_header), kBetterRouter);
  // It quotes the datagram as forwarded: TTL already decremented.
  auto quoted = wire::Ipv4View::checked_quoted(r.quoted);
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->dst(), kFar);
  EXPECT_EQ(quoted->ttl(), 63);
  EXPECT_EQ(counter("IcmpOutRedirects"), 1u);
  EXPECT_EQ(counter("IpForwDatagrams"), 1u);
}

// send_redirects is IN_DEV_ORCONF: both `all` and the device must be off.
TEST_F(Redirects, SendRedirectsOffOnBothSidesSilencesThem) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.all.send_redirects", "0"));
  EXPECT_EQ(hairpin().redirects, 1);
  run_for(30s);
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.eth0.send_redirects", "0"));
  const Out out = hairpin();
  EXPECT_EQ(out.redirects, 0);
  EXPECT_EQ(out.forwarded, 1);
  EXPECT_EQ(counter("IcmpOutRedirects"), 1u);
}

// Only a source on the link itself is told (RTCF_DIRECTSRC): one that is
// itself behind a gateway could not use the advice.
TEST_F(Redirects, NotForASourceBehindAGateway) {
  ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("203.0.113.0/24"), .via = kChannelPeer}));
  const Out out = hairpin(Ipv4Address(203, 0, 113, 5));
  EXPECT_EQ(out.redirects, 0);
  EXPECT_EQ(out.forwarded, 1);
}

// ip_rt_send_redirect: after the first, each waits twice as long as the one
// before (20 ms << n); after nine, none until the source has been quiet for
// 20.48 s.
TEST_F(Redirects, RateLimitedPerSourceAsLinux) {
  int redirects = 0;
  for (int i = 0; i < 300; ++i) {  // one datagram every 100 ms for 30 s
    redirects += hairpin().redirects;
    run_for(100ms);
  }
  EXPECT_EQ(redirects, 9);
  // Another source on the link has its own budget.
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, Ipv4Address(192, 0, 2, 77), kChannelPeerMac));
  EXPECT_EQ(hairpin(Ipv4Address(192, 0, 2, 77)).redirects, 1);
  run_for(21s);
  EXPECT_EQ(hairpin().redirects, 1);
  EXPECT_EQ(counter("IcmpOutRedirects"), 11u);
  EXPECT_EQ(counter("IpForwDatagrams"), 302u);
}

}  // namespace
}  // namespace netns
