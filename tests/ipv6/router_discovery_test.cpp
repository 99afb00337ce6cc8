// Router discovery and SLAAC: a host's solicitations, hand-built router
// advertisements on a channel device (addresses, default route, on-link
// prefix, hop limit, MTU, NDP times, lifetimes on the virtual clock, the
// two-hour rule, bounds, malformed RAs), and a router namespace advertising
// over a veth to a host namespace that autoconfigures and pings through it.
#include <gtest/gtest.h>

#include <vector>

#include "ipv6/stack.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/wire/ethernet.hpp"
#include "netns/wire/ndp.hpp"
#include "stack/builtins.hpp"
#include "support/ipv6_channel.hpp"

namespace netns {
namespace {
namespace ipv6_router_discovery_test {

using Bytes = std::vector<std::byte>;
using std::chrono::seconds;
using support::eui64;
using support::p6;
using support::v6;
bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

const Ipv6Address kRouter = v6("fe80::1");
const MacAddress kRouterMac{0x02, 0, 0, 0, 0, 0x01};

// A host namespace on a channel device: what it sends is read, RAs are injected.
class RouterDiscoveryTest : public support::Ipv6ChannelTest {
 protected:
  RouterDiscoveryTest() : Ipv6ChannelTest(17, "host") {}
  Ipv6Address slaac(std::string_view prefix) const { return eui64(v6(prefix), eth0_->mac()); }
  // The router solicitations eth0 sent since the last call (others dropped).
  std::vector<wire::RouterSolicitRepr> sent_solicitations(std::vector<Ipv6Address>* sources = nullptr) {
    std::vector<wire::RouterSolicitRepr> out;
    while (auto frame = eth0_->read()) {
      auto ip = wire::Ipv6View::checked(std::span<const std::byte>(*frame).subspan(wire::EthernetRepr::kHeaderLen));
      if (!ip || ip->next_header() != 58) continue;
      auto view = wire::NdpView::checked(ip->payload());
      if (!view || view->type() != wire::NdpType::router_solicit) continue;
      EXPECT_EQ(ip->dst(), wire::kAllRouters);
      EXPECT_EQ(ip->hop_limit(), 255);
      EXPECT_TRUE(wire::icmpv6_checksum_ok(ip->src(), ip->dst(), ip->payload()));
      auto rs = wire::RouterSolicitRepr::parse(*view);
      EXPECT_TRUE(rs);
      if (rs) out.push_back(*rs);
      if (sources != nullptr) sources->push_back(ip->src());
    }
    return out;
  }
  // An RA from `src` as the wire carries it; `mutate` may spoil its bytes
  // after the checksum unless `fix_checksum`.
  Bytes advert_frame(const wire::RouterAdvertRepr& ra, const Ipv6Address& src = kRouter, std::uint8_t hop_limit = 255,
                     const std::function<void(std::span<std::byte>)>& mutate = {}, bool fix_checksum = true) {
    const std::size_t len = ra.buffer_len();
    Bytes out(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen + len);
    wire::EthernetRepr{wire::ipv6_multicast_mac(wire::kAllNodes), kRouterMac, wire::EtherType::ipv6}.emit(out);
    auto ip = std::span(out).subspan(wire::EthernetRepr::kHeaderLen);
    wire::Ipv6Repr{.src = src, .dst = wire::kAllNodes, .next_header = wire::IpProtocol::icmpv6,
                   .hop_limit = hop_limit, .payload_len = len}
        .emit(ip);
    auto message = ip.subspan(wire::Ipv6Repr::kHeaderLen);
    ra.emit(message, src, wire::kAllNodes);
    if (mutate) {
      mutate(message);
      if (fix_checksum) wire::fill_icmpv6_checksum(message, src, wire::kAllNodes);
    }
    return out;
  }
  void inject(const Bytes& frame) {
    eth0_->inject(frame);
    host_.poll(now_);
  }
  static wire::RouterAdvertRepr advert(std::uint16_t router_lifetime, std::vector<wire::NdpPrefixInfo> prefixes) {
    return {.cur_hop_limit = 0, .router_lifetime = router_lifetime, .source_link = kRouterMac,
            .prefixes = std::move(prefixes)};
  }
  static wire::NdpPrefixInfo prefix(std::string_view p, std::uint32_t valid, std::uint32_t preferred) {
    return {.prefix = p6(p), .on_link = true, .autonomous = true, .valid_lifetime = valid,
            .preferred_lifetime = preferred};
  }
};

TEST_F(RouterDiscoveryTest, SolicitsThreeTimesFourSecondsApartFromTheLinkLocalAddress) {
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(seconds(1));
  EXPECT_TRUE(sent_solicitations().empty());  // the link-local address is still tentative
  run_for(seconds(3));
  std::vector<Ipv6Address> sources;
  auto first = sent_solicitations(&sources);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].source_link, eth0_->mac());
  EXPECT_TRUE(sources[0].is_link_local());
  run_for(seconds(4));
  EXPECT_EQ(sent_solicitations().size(), 1u);
  run_for(seconds(20));
  EXPECT_EQ(sent_solicitations().size(), 1u);  // three in all, then silence
  EXPECT_EQ(counter("Icmp6OutRouterSolicits"), 3u);
  EXPECT_EQ(ipv6::router_discovery(*net_, *eth0_)->solicitations_sent, 3u);
}

TEST_F(RouterDiscoveryTest, AnAdvertStopsTheSolicitations) {
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(seconds(4));
  ASSERT_EQ(sent_solicitations().size(), 1u);
  inject(advert_frame(advert(1800, {})));
  run_for(seconds(20));
  EXPECT_TRUE(sent_solicitations().empty());
  EXPECT_EQ(counter("Icmp6OutRouterSolicits"), 1u);
  EXPECT_EQ(counter("Icmp6InRouterAdvertisements"), 1u);
}

TEST_F(RouterDiscoveryTest, AHandBuiltAdvertConfiguresAddressRoutesAndParameters) {
  bring_up();
  auto ra = advert(1800, {prefix("2001:db8:1::/64", 3600, 1800)});
  ra.cur_hop_limit = 42;
  ra.reachable_time = 30000;
  ra.retrans_timer = 2000;
  ra.mtu = 1400;
  inject(advert_frame(ra));
  const Ipv6Address address = slaac("2001:db8:1::");
  const auto* a = find(address);
  ASSERT_NE(a, nullptr) << ipv6::dump_addresses(*net_);
  EXPECT_TRUE(a->tentative);  // DAD first
  EXPECT_FALSE(a->permanent);
  run_for(seconds(3));
  a = find(address);
  ASSERT_NE(a, nullptr);
  EXPECT_FALSE(a->tentative);
  EXPECT_EQ(a->prefix.length(), 64);

  const std::string addrs = ipv6::dump_addresses(*net_);
  EXPECT_TRUE(contains(addrs, fmt::format("inet6 {}/64 scope global dynamic", address))) << addrs;
  // Lifetimes count from the RA, up to 3 s ago.
  EXPECT_TRUE(contains(addrs, "valid_lft 359")) << addrs;
  EXPECT_TRUE(contains(addrs, "preferred_lft 179")) << addrs;
  const std::string routes = ipv6::dump_routes(*net_);
  EXPECT_TRUE(contains(routes, "2001:db8:1::/64 dev eth0 proto kernel metric 256 expires 359")) << routes;
  EXPECT_TRUE(contains(routes, "default via fe80::1 dev eth0 proto ra metric 1024 expires 179")) << routes;

  // Off-link traffic goes to the router, from the new address.
  auto r = ipv6::route_output(*net_, v6("2001:db8:99::7"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, eth0_);
  EXPECT_EQ(r->next_hop, kRouter);
  EXPECT_EQ(r->source, address);
  EXPECT_EQ(ipv6::path_mtu(*net_, v6("2001:db8:99::7")).value(), 1400u);

  const auto info = ipv6::router_discovery(*net_, *eth0_);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->hop_limit, 42);
  EXPECT_EQ(info->mtu, 1400u);
  EXPECT_EQ(info->reachable_time_ms, 30000u);
  EXPECT_EQ(info->retrans_time_ms, 2000u);
  EXPECT_TRUE(info->advert_received);
  EXPECT_TRUE(contains(ipv6::dump_neighbours(*net_), "fe80::1 dev eth0 lladdr 02:00:00:00:00:01 router STALE"))
      << ipv6::dump_neighbours(*net_);
}

TEST_F(RouterDiscoveryTest, AnMtuBelowTheMinimumOrAboveTheLinkIsIgnored) {
  bring_up();
  auto ra = advert(0, {});
  ra.mtu = 1279;
  inject(advert_frame(ra));
  ra.mtu = eth0_->mtu() + 1;
  inject(advert_frame(ra));
  EXPECT_EQ(ipv6::router_discovery(*net_, *eth0_)->mtu, 0u);
}

TEST_F(RouterDiscoveryTest, LifetimesDeprecateThenRemoveOnTheVirtualClock) {
  bring_up();
  inject(advert_frame(advert(15, {prefix("2001:db8:1::/64", 20, 10), prefix("2001:db8:2::/64", 600, 600)})));
  run_for(seconds(3));
  const Ipv6Address first = slaac("2001:db8:1::"), second = slaac("2001:db8:2::");
  // The longer match wins while both are preferred (RFC 6724 rule 8)...
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:1::99"))->source, first);
  run_for(seconds(8));  // 11 s: the first is deprecated
  ASSERT_NE(find(first), nullptr);
  EXPECT_TRUE(find(first)->deprecated);
  EXPECT_TRUE(contains(ipv6::dump_addresses(*net_), "deprecated"));
  // ...and a deprecated address is avoided (rule 3) over the longer match.
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:1::99"))->source, second);
  run_for(seconds(5));  // 16 s: the router lifetime is over
  EXPECT_FALSE(contains(ipv6::dump_routes(*net_), "default"));
  EXPECT_FALSE(ipv6::route_output(*net_, v6("2001:db8:99::7")));
  run_for(seconds(5));  // 21 s: the first prefix's valid lifetime is over
  EXPECT_EQ(find(first), nullptr);
  EXPECT_FALSE(contains(ipv6::dump_routes(*net_), "2001:db8:1::/64"));
  EXPECT_NE(find(second), nullptr);
  EXPECT_TRUE(contains(ipv6::dump_routes(*net_), "2001:db8:2::/64"));
}

TEST_F(RouterDiscoveryTest, RouterLifetimeZeroRemovesTheDefaultRouteAndLaterAdvertsRefreshIt) {
  bring_up();
  inject(advert_frame(advert(30, {})));
  run_for(seconds(20));
  inject(advert_frame(advert(30, {})));  // refreshed: 30 s from now
  run_for(seconds(20));
  EXPECT_TRUE(contains(ipv6::dump_routes(*net_), "default via fe80::1 dev eth0 proto ra metric 1024 expires"));
  inject(advert_frame(advert(0, {})));
  EXPECT_FALSE(contains(ipv6::dump_routes(*net_), "default"));
}

TEST_F(RouterDiscoveryTest, TheTwoHourRuleGuardsAValidLifetimeAgainstAShortOne) {
  bring_up();
  const Ipv6Address address = slaac("2001:db8:1::");
  inject(advert_frame(advert(0, {prefix("2001:db8:1::/64", 10000, 5000)})));
  run_for(seconds(3));
  auto valid = [&] { return find(address)->valid_lifetime.value(); };
  inject(advert_frame(advert(0, {prefix("2001:db8:1::/64", 60, 30)})));
  EXPECT_EQ(valid(), 7200u);  // cut to two hours, not to 60 s
  EXPECT_EQ(find(address)->preferred_lifetime.value(), 30u);  // always the received one
  inject(advert_frame(advert(0, {prefix("2001:db8:1::/64", 0, 0)})));
  EXPECT_EQ(valid(), 7200u);  // remaining two hours: a shorter one is ignored
  EXPECT_TRUE(find(address)->deprecated);
  inject(advert_frame(advert(0, {prefix("2001:db8:1::/64", 20000, 10000)})));
  EXPECT_EQ(valid(), 20000u);  // longer: taken
  EXPECT_FALSE(find(address)->deprecated);
  inject(advert_frame(advert(0, {prefix("2001:db8:1::/64", 0xffffffff, 0xffffffff)})));
  EXPECT_FALSE(find(address)->valid_lifetime);
  EXPECT_TRUE(contains(ipv6::dump_addresses(*net_), "valid_lft forever preferred_lft forever"));
}

TEST_F(RouterDiscoveryTest, PrefixesSlaacCannotUseMakeNoAddress) {
  bring_up();
  auto not_autonomous = prefix("2001:db8:3::/64", 600, 600);
  not_autonomous.autonomous = false;
  auto off_link = prefix("2001:db8:4::/64", 600, 600);
  off_link.on_link = false;
  inject(advert_frame(advert(0, {prefix("2001:db8:1::/48", 600, 600),    // not a /64
                                 prefix("2001:db8:2::/64", 600, 700),    // preferred > valid
                                 prefix("fe80::/64", 600, 600),          // link-local
                                 not_autonomous, off_link})));
  const auto all = ipv6::addresses(*net_);
  std::size_t global = 0;
  for (const auto& a : all) global += a.prefix.address().is_link_local() || a.prefix.address().is_loopback() ? 0 : 1;
  EXPECT_EQ(global, 1u);  // the off-link autonomous prefix's only
  EXPECT_NE(find(slaac("2001:db8:4::")), nullptr);
  const std::string routes = ipv6::dump_routes(*net_);
  EXPECT_TRUE(contains(routes, "2001:db8:1::/48 dev eth0")) << routes;  // on-link all the same
  EXPECT_TRUE(contains(routes, "2001:db8:3::/64 dev eth0")) << routes;
  EXPECT_FALSE(contains(routes, "2001:db8:2::/64")) << routes;
  EXPECT_FALSE(contains(routes, "2001:db8:4::/64")) << routes;
}

TEST_F(RouterDiscoveryTest, RoutersAndAddressesAreBoundedPerDevice) {
  bring_up();
  for (int i = 1; i <= 20; ++i) {
    inject(advert_frame(advert(600, {}), Ipv6Address(0xfe80, 0, 0, 0, 0, 0, 0, static_cast<std::uint16_t>(i))));
  }
  std::vector<wire::NdpPrefixInfo> many;
  for (int i = 1; i <= 20; ++i) {
    many.push_back(prefix(fmt::format("2001:db8:{:x}::/64", i), 600, 600));
  }
  inject(advert_frame(advert(0, many), v6("fe80::99")));  // lifetime 0 from fe80::1 would remove its route
  const std::string routes = ipv6::dump_routes(*net_);
  std::size_t defaults = 0;
  for (std::size_t at = routes.find("default via"); at != std::string::npos; at = routes.find("default via", at + 1)) {
    ++defaults;
  }
  EXPECT_EQ(defaults, 16u) << routes;
  std::size_t on_eth0 = 0;
  for (const auto& a : ipv6::addresses(*net_)) on_eth0 += a.dev == eth0_ ? 1 : 0;
  EXPECT_EQ(on_eth0, 16u);  // max_addresses: the link-local and 15 from SLAAC
}

TEST_F(RouterDiscoveryTest, MalformedAdvertsAreDroppedAndCounted) {
  bring_up();
  const auto ra = advert(1800, {prefix("2001:db8:1::/64", 600, 600)});
  const std::uint64_t errors = counter("Icmp6InErrors");
  inject(advert_frame(ra, kRouter, 254));                           // forwarded: hop limit not 255
  inject(advert_frame(ra, v6("2001:db8::1")));                      // not from a link-local source
  inject(advert_frame(ra, kRouter, 255, [](std::span<std::byte> m) { m[1] = std::byte{1}; }));  // code 1
  inject(advert_frame(ra, kRouter, 255, [](std::span<std::byte> m) { m[17] = std::byte{0}; }));  // option length 0
  inject(advert_frame(ra, kRouter, 255, [](std::span<std::byte> m) { m[17] = std::byte{200}; }));  // past the end
  EXPECT_EQ(counter("Icmp6InErrors"), errors + 5);
  const std::uint64_t csum = counter("Icmp6InCsumErrors");
  inject(advert_frame(ra, kRouter, 255, [](std::span<std::byte> m) { m[4] = std::byte{9}; }, false));
  EXPECT_EQ(counter("Icmp6InCsumErrors"), csum + 1);
  // A truncated RA (12 bytes, the fixed part is 16).
  Bytes runt = advert_frame(advert(1800, {}));
  runt.resize(runt.size() - 12);
  wire::store_be16(std::span(runt).subspan(wire::EthernetRepr::kHeaderLen), 4, 12);
  wire::fill_icmpv6_checksum(std::span(runt).subspan(54), kRouter, wire::kAllNodes);
  inject(runt);
  EXPECT_EQ(counter("Icmp6InErrors"), errors + 7);
  EXPECT_FALSE(contains(ipv6::dump_routes(*net_), "default"));
  EXPECT_EQ(find(slaac("2001:db8:1::")), nullptr);
}

TEST_F(RouterDiscoveryTest, ADeviceGoingDownForgetsWhatAdvertsGaveIt) {
  bring_up();
  inject(advert_frame(advert(1800, {prefix("2001:db8:1::/64", 600, 600)})));
  run_for(seconds(3));
  (void)sent_solicitations();
  ASSERT_TRUE(set_link_up(*eth0_, false));
  EXPECT_EQ(find(slaac("2001:db8:1::")), nullptr);
  EXPECT_FALSE(contains(ipv6::dump_routes(*net_), "eth0"));
  ASSERT_TRUE(set_link_up(*eth0_));
  run_for(seconds(4));
  EXPECT_EQ(sent_solicitations().size(), 1u);  // soliciting again
}

// ---- a router namespace advertising over a veth ----

class RouterAdvertiserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_ = host_.create_net("router").value();
    hostns_ = host_.create_net("host").value();
    auto pair = make_veth(*router_, "eth0", *hostns_, "eth0").value();
    r_eth0_ = pair.a;
    h_eth0_ = pair.b;
    r_eth1_ = make_channel(*router_, "eth1").value();
    for (Net* n : {router_.get(), hostns_.get()}) ASSERT_TRUE(set_link_up(n->loopback()));
    ASSERT_TRUE(set_link_up(*r_eth0_));
    ASSERT_TRUE(set_link_up(*r_eth1_));
    ASSERT_TRUE(ipv6::add_address(*router_, *r_eth0_, p6("2001:db8:1::1/64")));
    ASSERT_TRUE(ipv6::add_address(*router_, *r_eth1_, p6("2001:db8:2::1/64")));
    config_.prefixes.push_back({.prefix = p6("2001:db8:1::/64")});
    config_.mtu = 1400;
  }
  void run_for(Clock::duration span) { support::step_for(host_, now_, span); }
  bool host_has(const Ipv6Address& a) {
    for (const auto& i : ipv6::addresses(*hostns_)) {
      if (i.prefix.address() == a && !i.tentative) return true;
    }
    return false;
  }
  Ipv6Address host_address() const { return eui64(v6("2001:db8:1::"), h_eth0_->mac()); }
  Ipv6Address router_link_local() const { return eui64(v6("fe80::"), r_eth0_->mac()); }

  Clock::time_point now_{};
  Host host_{HostConfig{.secret = 19}};
  NetRef router_, hostns_;
  Device* r_eth0_ = nullptr;
  Device* h_eth0_ = nullptr;
  ChannelDevice* r_eth1_ = nullptr;
  ipv6::RouterAdvertConfig config_;
};

TEST_F(RouterAdvertiserTest, AHostAutoconfiguresAndPingsThroughTheRouter) {
  ASSERT_TRUE(ipv6::advertise(*router_, *r_eth0_, config_));
  ASSERT_TRUE(set_link_up(*h_eth0_));
  run_for(seconds(8));  // DAD, a solicitation, the answer, DAD of the new address
  ASSERT_TRUE(host_has(host_address())) << ipv6::dump_addresses(*hostns_);
  EXPECT_GE(router_->counters().get("Icmp6InRouterSolicits"), 1u);
  EXPECT_GE(router_->counters().get("Icmp6OutRouterAdvertisements"), 1u);
  const std::string routes = ipv6::dump_routes(*hostns_);
  EXPECT_TRUE(contains(routes, fmt::format("default via {} dev eth0 proto ra metric 1024 expires", router_link_local())))
      << routes;
  EXPECT_TRUE(contains(ipv6::dump_addresses(*hostns_), "scope global dynamic"));
  EXPECT_EQ(ipv6::router_discovery(*hostns_, *h_eth0_)->mtu, 1400u);
  EXPECT_EQ(ipv6::router_discovery(*hostns_, *h_eth0_)->hop_limit, 64);

  // An echo request to the router's address on its other link: through the default route.
  ipv6::Ipv6Stack& stack = host_.builtins().ipv6();
  const Ipv6Address far = v6("2001:db8:2::1");
  auto route = stack.route_output(*hostns_, far);
  ASSERT_TRUE(route);
  EXPECT_EQ(route->next_hop, router_link_local());
  EXPECT_EQ(route->source, host_address());
  Packet echo = host_.packets().allocate(12);
  ASSERT_TRUE(echo);
  auto m = echo.mutable_data();
  std::fill(m.begin(), m.end(), std::byte{0});
  m[0] = std::byte{128};
  wire::store_be16(m, 4, 0x1234);
  wire::store_be16(m, 6, 1);
  wire::fill_icmpv6_checksum(m, route->source, far);
  ASSERT_TRUE(stack.send(*hostns_, std::move(echo),
                         {.src = route->source, .dst = far, .next_header = wire::IpProtocol::icmpv6}, *route));
  run_for(seconds(1));
  EXPECT_EQ(router_->counters().get("Icmp6InEchos"), 1u);
  EXPECT_EQ(hostns_->counters().get("Icmp6InEchoReplies"), 1u);
}

TEST_F(RouterAdvertiserTest, UnsolicitedAdvertsComeFastFirstThenWithinTheIntervals) {
  config_.min_interval = seconds(30);
  config_.max_interval = seconds(60);
  ASSERT_TRUE(ipv6::advertise(*router_, *r_eth0_, config_));
  run_for(seconds(3));  // the router's link-local address passes DAD; the first RA goes
  EXPECT_EQ(router_->counters().get("Icmp6OutRouterAdvertisements"), 1u);
  run_for(seconds(33));  // two more initial ones, at most 16 s apart
  EXPECT_EQ(router_->counters().get("Icmp6OutRouterAdvertisements"), 3u);
  run_for(seconds(29));  // now 30..60 s apart
  EXPECT_EQ(router_->counters().get("Icmp6OutRouterAdvertisements"), 3u);
  run_for(seconds(32));
  EXPECT_EQ(router_->counters().get("Icmp6OutRouterAdvertisements"), 4u);
}

TEST_F(RouterAdvertiserTest, SolicitedAdvertsAreRateLimited) {
  ASSERT_TRUE(ipv6::advertise(*router_, *r_eth0_, config_));
  run_for(seconds(20));
  const std::uint64_t before = router_->counters().get("Icmp6OutRouterAdvertisements");
  // A burst of solicitations from the host side (it solicits itself too).
  ASSERT_TRUE(set_link_up(*h_eth0_));
  run_for(seconds(4));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(set_link_up(*h_eth0_, false));
    ASSERT_TRUE(set_link_up(*h_eth0_));
    run_for(seconds(2));
  }
  const std::uint64_t sent = router_->counters().get("Icmp6OutRouterAdvertisements") - before;
  EXPECT_GE(sent, 1u);
  EXPECT_LE(sent, 4u);  // 10 s at one per 3 s at most
}

TEST_F(RouterAdvertiserTest, StoppingSendsAFinalAdvertThatRemovesTheDefaultRoute) {
  ASSERT_TRUE(ipv6::advertise(*router_, *r_eth0_, config_));
  ASSERT_TRUE(set_link_up(*h_eth0_));
  run_for(seconds(8));
  ASSERT_TRUE(contains(ipv6::dump_routes(*hostns_), "default"));
  ASSERT_TRUE(ipv6::stop_advertising(*router_, *r_eth0_));
  run_for(seconds(1));
  EXPECT_FALSE(contains(ipv6::dump_routes(*hostns_), "default"));
  EXPECT_TRUE(host_has(host_address()));  // the prefix is still valid
  EXPECT_FALSE(ipv6::router_discovery(*router_, *r_eth0_)->advertising);
  EXPECT_EQ(ipv6::stop_advertising(*router_, *r_eth0_).error(), boost::system::errc::no_such_process);
}

TEST_F(RouterAdvertiserTest, BadConfigurationsAreRefusedAndChangeNothing) {
  auto refused = [&](ipv6::RouterAdvertConfig c, Device& dev) {
    auto r = ipv6::advertise(*router_, dev, c);
    return !r && !ipv6::router_discovery(*router_, dev).value_or(ipv6::RouterDiscoveryInfo{}).advertising;
  };
  auto with = [&](auto change) {
    ipv6::RouterAdvertConfig c = config_;
    change(c);
    return c;
  };
  EXPECT_TRUE(refused(with([](auto& c) { c.max_interval = seconds(3); }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.max_interval = seconds(1801); }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.min_interval = seconds(2); }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.min_interval = seconds(500); }), *r_eth0_));  // > 0.75 max
  EXPECT_TRUE(refused(with([](auto& c) { c.router_lifetime = 9001; }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.router_lifetime = 100; }), *r_eth0_));  // below max_interval
  EXPECT_TRUE(refused(with([](auto& c) { c.mtu = 1000; }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.mtu = 9000; }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.reachable_time = 3'600'001; }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.prefixes.push_back({.prefix = p6("fe80::/64")}); }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) { c.prefixes.push_back({.prefix = p6("ff02::/64")}); }), *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) {
                        c.prefixes.push_back(
                            {.prefix = p6("2001:db8:9::/64"), .valid_lifetime = 10, .preferred_lifetime = 20});
                      }),
                      *r_eth0_));
  EXPECT_TRUE(refused(with([](auto& c) {
                        for (int i = 0; i < 17; ++i) c.prefixes.push_back({.prefix = p6("2001:db8:9::/64")});
                      }),
                      *r_eth0_));
  EXPECT_EQ(ipv6::advertise(*router_, router_->loopback(), config_).error(), boost::system::errc::no_such_device);
  EXPECT_EQ(ipv6::advertise(*router_, *h_eth0_, config_).error(), boost::system::errc::no_such_device);
  EXPECT_EQ(router_->counters().get("Icmp6OutRouterAdvertisements"), 0u);
}

// RFC 4861 6.3.4: an RA's RetransTimer paces the device's solicitations and
// its ReachableTime how long a confirmed neighbour stays REACHABLE (Linux
// writes both into the device's nd_parms).
TEST_F(RouterDiscoveryTest, AdvertisedNdpTimesPaceSolicitationsAndReachability) {
  bring_up();
  auto ra = advert(1800, {});
  ra.reachable_time = 1000;
  ra.retrans_timer = 300;
  inject(advert_frame(ra));
  while (eth0_->read()) {
  }
  const auto neighbour_solicits = [&] {
    int n = 0;
    while (auto frame = eth0_->read()) {
      auto ip = wire::Ipv6View::checked(std::span<const std::byte>(*frame).subspan(wire::EthernetRepr::kHeaderLen));
      if (!ip || ip->next_header() != 58) continue;
      auto view = wire::NdpView::checked(ip->payload());
      if (view && view->type() == wire::NdpType::neighbour_solicit) ++n;
    }
    return n;
  };
  // An unknown neighbour: solicited every 300 ms, not every second (net.ipv6.neigh.default.retrans_time_ms).
  auto ping = icmp::open(*net_, Family::ipv6).value();
  const auto scope = static_cast<std::uint32_t>(eth0_->ifindex());
  ASSERT_TRUE(ping.send_echo(v6("fe80::99").with_scope(scope), 1));
  run_for(std::chrono::milliseconds(700));
  EXPECT_EQ(neighbour_solicits(), 3);

  // The router, confirmed by a solicited NA, is STALE again within 1.5 s
  // (ReachableTime 1000 ms, randomised to [500, 1500)), not 30 s.
  ASSERT_TRUE(ping.send_echo(kRouter.with_scope(scope), 2));
  const wire::NeighbourAdvertRepr na{.target = kRouter, .router = true, .solicited = true, .override = true,
                                     .target_link = kRouterMac};
  Bytes frame(wire::EthernetRepr::kHeaderLen + wire::Ipv6Repr::kHeaderLen + na.buffer_len());
  wire::EthernetRepr{eth0_->mac(), kRouterMac, wire::EtherType::ipv6}.emit(frame);
  auto ip = std::span(frame).subspan(wire::EthernetRepr::kHeaderLen);
  const Ipv6Address local = eui64(v6("fe80::"), eth0_->mac());
  wire::Ipv6Repr{.src = kRouter, .dst = local, .next_header = wire::IpProtocol::icmpv6, .hop_limit = 255,
                 .payload_len = na.buffer_len()}
      .emit(ip);
  na.emit(ip.subspan(wire::Ipv6Repr::kHeaderLen), kRouter, local);
  inject(frame);
  EXPECT_TRUE(contains(ipv6::dump_neighbours(*net_), "fe80::1 dev eth0 lladdr 02:00:00:00:00:01 router REACHABLE"))
      << ipv6::dump_neighbours(*net_);
  run_for(std::chrono::milliseconds(1600));
  EXPECT_TRUE(contains(ipv6::dump_neighbours(*net_), "fe80::1 dev eth0 lladdr 02:00:00:00:00:01 router STALE"))
      << ipv6::dump_neighbours(*net_);
}

}  // namespace ipv6_router_discovery_test
}  // namespace
}  // namespace netns
