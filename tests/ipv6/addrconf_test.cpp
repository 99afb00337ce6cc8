// IPv6 addresses and routes of a namespace: link-local on up, ::1 on the
// loopback, DAD's tentative period, addresses and routes by hand, the
// output route with RFC 6724 source selection, the dumps, and every bad
// call refused without a change.
#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "support/ipv6_channel.hpp"

namespace netns {
namespace {
namespace ipv6_addrconf_test {

using support::p6;
using support::v6;

class Ipv6AddrconfTest : public support::Ipv6ChannelTest {
 protected:
  Ipv6AddrconfTest() : Ipv6ChannelTest(13, "a") {}
};

TEST_F(Ipv6AddrconfTest, LoopbackHasColonColonOne) {
  const auto* lo = find(Ipv6Address::loopback());
  ASSERT_NE(lo, nullptr);
  EXPECT_EQ(lo->dev, &net_->loopback());
  EXPECT_EQ(lo->prefix.length(), 128);
  EXPECT_FALSE(lo->tentative);
  auto r = ipv6::route_output(*net_, Ipv6Address::loopback());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, &net_->loopback());
  EXPECT_EQ(r->source, Ipv6Address::loopback());
}

TEST_F(Ipv6AddrconfTest, LinkLocalAppearsOnUpTentativeUntilDadEnds) {
  EXPECT_EQ(find(link_local()), nullptr);
  ASSERT_TRUE(set_link_up(*eth0_));
  const auto* ll = find(link_local());
  ASSERT_NE(ll, nullptr);
  EXPECT_EQ(ll->prefix.length(), 64);
  EXPECT_TRUE(ll->tentative);
  // Tentative: never a source.
  EXPECT_FALSE(ipv6::route_output(*net_, v6("fe80::99").with_scope(eth0_->ifindex())));
  run_for(std::chrono::seconds(3));
  ll = find(link_local());
  ASSERT_NE(ll, nullptr);
  EXPECT_FALSE(ll->tentative);
  auto r = ipv6::route_output(*net_, v6("fe80::99").with_scope(eth0_->ifindex()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, eth0_);
  EXPECT_EQ(r->source, link_local());
  EXPECT_EQ(r->next_hop, v6("fe80::99"));
}

TEST_F(Ipv6AddrconfTest, DownForgetsAddressesAndUpBringsTheLinkLocalBack) {
  bring_up();
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  ASSERT_TRUE(set_link_up(*eth0_, false));
  EXPECT_EQ(find(link_local()), nullptr);
  EXPECT_EQ(find(v6("2001:db8::1")), nullptr);  // keep_addr_on_down 0, as Linux
  EXPECT_EQ(ipv6::dump_routes(*net_), "::1 dev lo proto kernel metric 256 pref medium\n");
  bring_up();
  EXPECT_NE(find(link_local()), nullptr);
}

TEST_F(Ipv6AddrconfTest, AddressesByHandBringTheirPrefixRoute) {
  bring_up();
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8:1::1/64")));
  EXPECT_TRUE(find(v6("2001:db8:1::1"))->tentative);
  run_for(std::chrono::seconds(3));
  EXPECT_FALSE(find(v6("2001:db8:1::1"))->tentative);
  EXPECT_EQ(ipv6::dump_routes(*net_),
            "::1 dev lo proto kernel metric 256 pref medium\n"
            "2001:db8:1::/64 dev eth0 proto kernel metric 256 pref medium\n"
            "fe80::/64 dev eth0 proto kernel metric 256 pref medium\n");
  auto r = ipv6::route_output(*net_, v6("2001:db8:1::2"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, eth0_);
  EXPECT_EQ(r->source, v6("2001:db8:1::1"));
  // Our own address routes through the loopback.
  r = ipv6::route_output(*net_, v6("2001:db8:1::1"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->dev, &net_->loopback());
  ASSERT_TRUE(ipv6::del_address(*net_, *eth0_, p6("2001:db8:1::1/64")));
  EXPECT_EQ(ipv6::dump_routes(*net_),
            "::1 dev lo proto kernel metric 256 pref medium\n"
            "fe80::/64 dev eth0 proto kernel metric 256 pref medium\n");
  EXPECT_FALSE(ipv6::route_output(*net_, v6("2001:db8:1::2")));
}

TEST_F(Ipv6AddrconfTest, SourceSelectionFollowsRfc6724) {
  bring_up();
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8:1::1/64")));
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8:2::1/64")));
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("fd00::1/64")));
  run_for(std::chrono::seconds(3));
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("::/0"), .via = v6("fe80::1"), .dev = eth0_}));
  // Rule 8: the longest common prefix.
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:2::99"))->source, v6("2001:db8:2::1"));
  // Rule 6: a unique-local destination takes the unique-local source.
  EXPECT_EQ(ipv6::route_output(*net_, v6("fd12::1"))->source, v6("fd00::1"));
  // Rule 2: a global destination never takes the link-local source.
  EXPECT_NE(ipv6::route_output(*net_, v6("2600::1"))->source, link_local());
  EXPECT_EQ(ipv6::route_output(*net_, v6("2600::1"))->next_hop, v6("fe80::1"));
}

TEST_F(Ipv6AddrconfTest, RoutesWithMetricsGatewaysAndRejectTypes) {
  bring_up();
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  run_for(std::chrono::seconds(3));
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:10::/48"), .via = v6("2001:db8::2"), .metric = 10}));
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:10::/48"), .via = v6("2001:db8::3"), .metric = 5}));
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:10::1"))->next_hop, v6("2001:db8::3"));
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:20::/48"), .type = ipv6::RouteType::unreachable}));
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:30::/48"), .type = ipv6::RouteType::prohibit}));
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:40::/48"), .type = ipv6::RouteType::blackhole}));
  // ip6_rt_type_to_error: an unreachable route is EHOSTUNREACH, no route ENETUNREACH.
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:20::1")).error(), boost::system::errc::host_unreachable);
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:30::1")).error(), boost::system::errc::permission_denied);
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:40::1")).error(), boost::system::errc::invalid_argument);
  ASSERT_TRUE(ipv6::del_route(*net_, {.prefix = p6("2001:db8:10::/48"), .metric = 5}));
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8:10::1"))->next_hop, v6("2001:db8::2"));
  const std::string dump = ipv6::dump_routes(*net_);
  EXPECT_NE(dump.find("2001:db8:10::/48 via 2001:db8::2 dev eth0 proto static metric 10 pref medium\n"),
            std::string::npos) << dump;
  EXPECT_NE(dump.find("unreachable 2001:db8:20::/48 proto static metric 1024 pref medium\n"), std::string::npos)
      << dump;
}

TEST_F(Ipv6AddrconfTest, BadCallsChangeNothing) {
  bring_up();
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  const std::string addrs = ipv6::dump_addresses(*net_), routes = ipv6::dump_routes(*net_);
  EXPECT_EQ(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")).error(), boost::system::errc::file_exists);
  EXPECT_FALSE(ipv6::add_address(*net_, *eth0_, p6("ff02::1/64")));
  EXPECT_FALSE(ipv6::add_address(*net_, *eth0_, p6("::/0")));
  EXPECT_FALSE(ipv6::add_address(*net_, *eth0_, p6("::1/128")));
  EXPECT_FALSE(ipv6::add_address(*net_, *eth0_, p6("::ffff:192.0.2.1/128")));
  EXPECT_FALSE(ipv6::del_address(*net_, *eth0_, p6("2001:db8::9/64")));
  EXPECT_FALSE(ipv6::del_address(*net_, *eth0_, p6("2001:db8::1/65")));
  EXPECT_EQ(ipv6::add_route(*net_, {.prefix = p6("2001:db8:5::/48"), .via = v6("2001:db9::1")}).error(),
            boost::system::errc::network_unreachable);
  EXPECT_FALSE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:5::/48"), .via = v6("fe80::1")}));  // no device
  EXPECT_FALSE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:5::/48")}));                       // no via, no dev
  EXPECT_FALSE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:5::/48"), .via = v6("ff02::1"), .dev = eth0_}));
  EXPECT_FALSE(ipv6::add_route(*net_, {.prefix = p6("2001:db8:5::/48"), .type = ipv6::RouteType::local}));
  EXPECT_EQ(ipv6::del_route(*net_, {.prefix = p6("2001:db8:5::/48")}).error(), boost::system::errc::no_such_process);
  EXPECT_EQ(ipv6::dump_addresses(*net_), addrs);
  EXPECT_EQ(ipv6::dump_routes(*net_), routes);
}

TEST_F(Ipv6AddrconfTest, DumpsAsIpDoes) {
  bring_up();
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  const std::string dump = ipv6::dump_addresses(*net_);
  EXPECT_NE(dump.find("1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n    inet6 ::1/128 scope host\n"
                      "       valid_lft forever preferred_lft forever\n"),
            std::string::npos)
      << dump;
  EXPECT_NE(dump.find("    inet6 2001:db8::1/64 scope global tentative\n"), std::string::npos) << dump;
  EXPECT_NE(dump.find(fmt::format("    inet6 {}/64 scope link\n", link_local())), std::string::npos) << dump;
}

TEST_F(Ipv6AddrconfTest, ManyNamespacesWithTheSameAddresses) {
  std::vector<NetRef> nets;
  for (int i = 0; i < 100; ++i) {
    auto n = host_.create_net(fmt::format("n{}", i)).value();
    auto* dev = make_channel(*n, "eth0").value();
    ASSERT_TRUE(set_link_up(*dev));
    ASSERT_TRUE(ipv6::add_address(*n, *dev, p6("2001:db8::1/64")));
    nets.push_back(std::move(n));
  }
  run_for(std::chrono::seconds(3));
  for (auto& n : nets) {
    auto r = ipv6::route_output(*n, v6("2001:db8::2"));
    ASSERT_TRUE(r);
    EXPECT_EQ(&r->dev->net(), n.get());
    EXPECT_EQ(r->source, v6("2001:db8::1"));
  }
}

}  // namespace ipv6_addrconf_test
}  // namespace
}  // namespace netns

namespace netns {
namespace {
namespace ipv6_addrconf_test {

TEST_F(Ipv6AddrconfTest, OutputRoutesGoThroughTheSharedRouteCache) {
  bring_up();
  ASSERT_TRUE(ipv6::add_address(*net_, *eth0_, p6("2001:db8::1/64")));
  run_for(std::chrono::seconds(3));
  const auto before = ipv4::route_cache_stats(*net_);
  ASSERT_TRUE(ipv6::route_output(*net_, v6("2001:db8::2")));
  ASSERT_TRUE(ipv6::route_output(*net_, v6("2001:db8::2")));
  auto after = ipv4::route_cache_stats(*net_);
  EXPECT_EQ(after.misses, before.misses + 1);
  EXPECT_EQ(after.hits, before.hits + 1);
  EXPECT_EQ(after.entries, before.entries + 1);
  // A route change invalidates it: the next lookup sees the new route.
  ASSERT_TRUE(ipv6::add_route(*net_, {.prefix = p6("2001:db8::2/128"), .type = ipv6::RouteType::prohibit}));
  EXPECT_EQ(ipv6::route_output(*net_, v6("2001:db8::2")).error(), boost::system::errc::permission_denied);
  // Link-local destinations with different scopes are different keys.
  auto* eth1 = make_channel(*net_, "eth1").value();
  ASSERT_TRUE(set_link_up(*eth1));
  run_for(std::chrono::seconds(3));
  EXPECT_EQ(ipv6::route_output(*net_, v6("fe80::9").with_scope(eth0_->ifindex()))->dev, eth0_);
  EXPECT_EQ(ipv6::route_output(*net_, v6("fe80::9").with_scope(eth1->ifindex()))->dev, eth1);
}

}  // namespace ipv6_addrconf_test
}  // namespace
}  // namespace netns
