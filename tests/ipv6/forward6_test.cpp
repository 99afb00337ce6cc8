// IPv6 forwarding through router namespaces joined by veths: nothing is
// forwarded while net.ipv6.conf.all.forwarding is off (Ip6InAddrErrors, as
// ip6_forward counts it), echo requests go through and are answered once
// it is on, the hop limit expires at the second of two routers with a time
// exceeded back to the source, and the output device's IPv6 MTU
// (net.ipv6.conf.DEV.mtu) is what a forwarded datagram must fit.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>
#include <vector>

#include "ipv6/stack.hpp"
#include "netns/device.hpp"
#include "netns/ipv6.hpp"
#include "netns/net.hpp"
#include "netns/wire/icmpv6.hpp"
#include "stack/builtins.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv6_forward6_test {

using namespace std::chrono_literals;

Ipv6Address v6(std::string_view text) { return Ipv6Address::parse(text).value(); }
Ipv6Prefix p6(std::string_view text) { return Ipv6Prefix::parse(text).value(); }

// A chain of namespaces host_a - r1 - ... - rN - host_b, each link a veth
// with its own 2001:db8:L::/64 (L from 1), the left end ::1 and the right
// ::2; every namespace routes the rest through its neighbours.
class Ipv6ForwardTest : public support::HostTest {
 protected:
  void build(int routers) {
    const int n = routers + 2;
    for (int i = 0; i < n; ++i) {
      const std::string name = i == 0 ? "a" : i == n - 1 ? "b" : fmt::format("r{}", i);
      nets_.push_back(host_.create_net(name).value());
      ASSERT_TRUE(set_link_up(nets_.back()->loopback()));
    }
    for (int link = 1; link < n; ++link) {
      Net& left = *nets_[link - 1];
      Net& right = *nets_[link];
      auto pair = make_veth(left, fmt::format("right{}", link), right, fmt::format("left{}", link)).value();
      ASSERT_TRUE(set_link_up(*pair.a));
      ASSERT_TRUE(set_link_up(*pair.b));
      ASSERT_TRUE(ipv6::add_address(left, *pair.a, p6(fmt::format("2001:db8:{}::1/64", link))));
      ASSERT_TRUE(ipv6::add_address(right, *pair.b, p6(fmt::format("2001:db8:{}::2/64", link))));
      links_.push_back({pair.a, pair.b});
    }
    // Beyond its links, each namespace sends left-bound traffic left and
    // the rest right.
    for (int i = 0; i < n; ++i) {
      for (int link = 1; link < n; ++link) {
        if (link == i || link == i + 1) continue;  // on-link
        const bool leftwards = link < i;
        const auto via = leftwards ? v6(fmt::format("2001:db8:{}::1", i)) : v6(fmt::format("2001:db8:{}::2", i + 1));
        Device* dev = leftwards ? links_[i - 1].second : links_[i].first;
        ASSERT_TRUE(ipv6::add_route(*nets_[i], {.prefix = p6(fmt::format("2001:db8:{}::/64", link)), .via = via, .dev = dev}));
      }
    }
    run_for(3s);  // DAD
  }
  Net& a() { return *nets_.front(); }
  Net& b() { return *nets_.back(); }
  Net& router(int i) { return *nets_[i]; }
  Ipv6Address b_address() const { return v6(fmt::format("2001:db8:{}::2", links_.size())); }

  // An echo request from host a to `dst` through the layer's send path.
  void ping(const Ipv6Address& dst, std::uint8_t hop_limit = 0, std::size_t data = 16, std::uint16_t seq = 1) {
    auto route = ipv6::route_output(a(), dst);
    ASSERT_TRUE(route);
    const auto repr = wire::Icmpv6Repr::echo_request(0x77, seq, data);
    Packet message = host_.packets().allocate(repr.buffer_len());
    auto bytes = message.mutable_data();
    for (std::size_t i = 0; i < data; ++i) bytes[wire::Icmpv6Repr::kHeaderLen + i] = std::byte(i);
    repr.emit(bytes, route->source, dst);
    ASSERT_TRUE(host_.builtins().ipv6().send(
        a(), std::move(message),
        {.src = route->source, .dst = dst, .next_header = wire::IpProtocol::icmpv6, .hop_limit = hop_limit}, *route));
    run_for(100ms);
  }
  static std::uint64_t count(Net& net, std::string_view name) { return net.counters().get(name); }

  std::vector<NetRef> nets_;
  std::vector<std::pair<Device*, Device*>> links_;  // each link's left and right ends
};

TEST_F(Ipv6ForwardTest, RouterWithForwardingOffDropsAndCountsAddrErrors) {
  build(1);
  ping(b_address());
  EXPECT_EQ(count(router(1), "Ip6InAddrErrors"), 1u);
  EXPECT_EQ(count(router(1), "Ip6OutForwDatagrams"), 0u);
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 0u);
  EXPECT_EQ(count(a(), "Icmp6InEchoReplies"), 0u);
  // A device's own forwarding is its router behaviour, not ip6_forward's gate.
  ASSERT_TRUE(router(1).sysctl().set("net.ipv6.conf.left1.forwarding", "1"));
  ASSERT_TRUE(router(1).sysctl().set("net.ipv6.conf.right2.forwarding", "1"));
  ping(b_address());
  EXPECT_EQ(count(router(1), "Ip6InAddrErrors"), 2u);
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 0u);
}

TEST_F(Ipv6ForwardTest, RouterWithForwardingOnCarriesEchoBothWays) {
  build(1);
  ASSERT_TRUE(router(1).sysctl().set("net.ipv6.conf.all.forwarding", "1"));
  ping(b_address());
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 1u);
  EXPECT_EQ(count(b(), "Icmp6OutEchoReplies"), 1u);
  EXPECT_EQ(count(a(), "Icmp6InEchoReplies"), 1u);
  // snmp6's per-type lines count the same messages.
  EXPECT_EQ(count(b(), "Icmp6InType128"), 1u);
  EXPECT_EQ(count(b(), "Icmp6OutType129"), 1u);
  EXPECT_EQ(count(a(), "Icmp6InType129"), 1u);
  EXPECT_EQ(count(router(1), "Ip6OutForwDatagrams"), 2u);  // the request and the reply
  EXPECT_EQ(count(router(1), "Ip6InAddrErrors"), 0u);
  // Off again: the next request stops at the router.
  ASSERT_TRUE(router(1).sysctl().set("net.ipv6.conf.all.forwarding", "0"));
  ping(b_address(), 0, 16, 2);
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 1u);
  EXPECT_EQ(count(router(1), "Ip6InAddrErrors"), 1u);
}

TEST_F(Ipv6ForwardTest, HopLimitExpiresAtTheSecondRouter) {
  build(2);
  for (int r : {1, 2}) ASSERT_TRUE(router(r).sysctl().set("net.ipv6.conf.all.forwarding", "1"));
  ping(b_address(), 2);
  EXPECT_EQ(count(router(1), "Ip6OutForwDatagrams"), 2u);  // the request, then R2's error back
  EXPECT_EQ(count(router(2), "Icmp6OutTimeExcds"), 1u);
  EXPECT_EQ(count(router(2), "Ip6InHdrErrors"), 1u);
  EXPECT_EQ(count(a(), "Icmp6InTimeExcds"), 1u);
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 0u);
  // With one more hop it arrives.
  ping(b_address(), 3, 16, 2);
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 1u);
  EXPECT_EQ(count(a(), "Icmp6InEchoReplies"), 1u);
}

// The output device's net.ipv6.conf.DEV.mtu bounds what is forwarded:
// larger gets Packet Too Big with that MTU, and the source learns it.
TEST_F(Ipv6ForwardTest, ForwardingHonoursTheOutputDevicesIpv6Mtu) {
  build(1);
  ASSERT_TRUE(router(1).sysctl().set("net.ipv6.conf.all.forwarding", "1"));
  ASSERT_TRUE(router(1).sysctl().set("net.ipv6.conf.right2.mtu", "1280"));
  ping(b_address(), 0, 1300);
  EXPECT_EQ(count(router(1), "Ip6InTooBigErrors"), 1u);
  EXPECT_EQ(count(router(1), "Icmp6OutPktTooBigs"), 1u);
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 0u);
  EXPECT_EQ(host_.builtins().ipv6().path_mtu(a(), b_address(), *links_[0].first), 1280u);
  ping(b_address(), 0, 1200, 2);
  EXPECT_EQ(count(b(), "Icmp6InEchos"), 1u);
}

}  // namespace ipv6_forward6_test
}  // namespace
}  // namespace netns
