// ICMP redirects sent by a router (Linux's __mkroute_input marking
// IPSKB_DOREDIRECT, ip_forward sending through ip_rt_send_redirect): a
// datagram forwarded back out of the link it came from, by a host on that
// link, tells the host the better first hop; send_redirects governs it and
// ip_rt_redirect_{load,number,silence} limit it per source.
#include <gtest/gtest.h>

#include <array>

#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "support/ipv4_channel.hpp"

namespace netns {
namespace {
namespace ipv4_redirect_test {

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

// ---- accepted: ip_rt_redirect ----

const Ipv4Address kOtherRouter(192, 0, 2, 4);
const MacAddress kOtherRouterMac{0x02, 0, 0, 0, 0, 0x04};

// A host whose default gateway is the peer, with two other routers on its link.
class AcceptedRedirects : public support::Ipv4ChannelTest {
 protected:
  void SetUp() override {
    Ipv4ChannelTest::SetUp();
    learn_peer();
    ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kBetterRouter, kBetterRouterMac));
    ASSERT_TRUE(ipv4::add_route(*net_, {.prefix = prefix("0.0.0.0/0"), .via = kChannelPeer}));
  }
  // An ICMP redirect from `from` (claiming the peer's MAC): for datagrams to
  // kFar, use `gateway`. It quotes a datagram this host sent to kFar.
  void redirect(Ipv4Address gateway, Ipv4Address from = kChannelPeer, std::uint8_t code = 1) {
    const support::Bytes sent_frame = support::udp_frame(kChannelPeerMac, eth0_->mac(), kChannelLocal, kFar, 4000, 5000, 8);
    const std::span<const std::byte> quote = std::span(sent_frame).subspan(14, 28);
    support::Bytes icmp(8 + quote.size());
    std::copy(quote.begin(), quote.end(), icmp.begin() + 8);
    wire::IcmpRepr{wire::IcmpType::redirect, code, gateway.value, quote.size()}.emit(icmp);
    inject(support::ipv4_frame(eth0_->mac(), kChannelPeerMac, {.src = from, .dst = kChannelLocal}, icmp));
  }
  Ipv4Address next_hop() { return ipv4::route_output(*net_, kFar).value().next_hop; }
};

TEST_F(AcceptedRedirects, TheGatewaysAdviceIsTakenForThatDestination) {
  EXPECT_EQ(next_hop(), kChannelPeer);
  redirect(kBetterRouter);
  EXPECT_EQ(counter("IcmpInRedirects"), 1u);
  EXPECT_EQ(next_hop(), kBetterRouter);
  EXPECT_EQ(ipv4::route_output(*net_, Ipv4Address(198, 51, 100, 10)).value().next_hop, kChannelPeer);
  // Datagrams to kFar now leave for the better router.
  auto s = udp::open(*net_).value();
  const std::array<std::byte, 4> payload{};
  ASSERT_TRUE(s.send_to(payload, {kFar, 9}));
  host_.poll(clock_.now());
  auto out = sent();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].eth.dst, kBetterRouterMac);
  // Until the exception expires (ip_rt_gc_timeout, 300 s).
  run_for(301s);
  EXPECT_EQ(next_hop(), kChannelPeer);
}

// __ip_do_redirect's refusals: not from the gateway in use, naming that same
// gateway, ours, a broadcast, or a host not yet resolved; codes past 3.
TEST_F(AcceptedRedirects, DoubtfulRedirectsAreIgnored) {
  redirect(kBetterRouter, kBetterRouter);    // from someone we do not route through
  redirect(kChannelPeer);                    // to the gateway itself
  redirect(kChannelLocal);                   // to ourselves
  redirect(Ipv4Address(192, 0, 2, 255));     // to the link's broadcast
  redirect(kOtherRouter);                    // to a host that is no neighbour yet
  redirect(kBetterRouter, kChannelPeer, 4);  // an unknown code
  EXPECT_EQ(counter("IcmpInRedirects"), 6u);
  EXPECT_EQ(next_hop(), kChannelPeer);
  ASSERT_TRUE(ipv4::add_neighbour(*net_, *eth0_, kOtherRouter, kOtherRouterMac));
  redirect(kOtherRouter);
  EXPECT_EQ(next_hop(), kOtherRouter);
}

// IN_DEV_RX_REDIRECTS: OR of all and the device on a host, AND on a router,
// where turning forwarding on also turns all.accept_redirects off.
TEST_F(AcceptedRedirects, AcceptRedirectsGovernsThem) {
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.eth0.accept_redirects", "0"));
  redirect(kBetterRouter);
  EXPECT_EQ(next_hop(), kBetterRouter);  // all is still 1
  run_for(301s);
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.all.accept_redirects", "0"));
  redirect(kBetterRouter);
  EXPECT_EQ(next_hop(), kChannelPeer);
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.conf.eth0.accept_redirects", "1"));
  ASSERT_TRUE(net_->sysctl().set("net.ipv4.ip_forward", "1"));
  redirect(kBetterRouter);
  EXPECT_EQ(next_hop(), kChannelPeer);  // a router: all 0 AND eth0 1
}

}  // namespace ipv4_redirect_test
}  // namespace
}  // namespace netns
