// Reverse path filtering (RFC 3704, Linux's rp_filter in fib_validate_source)
// and per-device forwarding (IN_DEV_FORWARD of the input device), on a
// router namespace joined by veths to three others:
//
//   client 192.0.2.2 --lan-- router --wan-- server 198.51.100.2
//                              `---dmz-- other 203.0.113.2
//
// The client spoofs sources by binding a UDP socket to an address it does
// not have (ip_nonlocal_bind), as an attacker's raw socket would.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <array>

#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_rp_filter_test {

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }
Ipv4Address address(std::string_view text) { return Ipv4Address::parse(text).value(); }

const Ipv4Address kClient(192, 0, 2, 2);
const Ipv4Address kServer(198, 51, 100, 2);
const Ipv4Address kRouterLan(192, 0, 2, 1);
const Ipv4Address kDmzHost(203, 0, 113, 7);   // routed through dmz
const Ipv4Address kNowhere(100, 64, 0, 9);    // no route at the router
constexpr std::uint16_t kPort = 5000;

class ReversePath : public ::testing::Test {
 protected:
  void SetUp() override {
    router_ = host_.create_net("router").value();
    client_ = host_.create_net("client").value();
    server_ = host_.create_net("server").value();
    other_ = host_.create_net("other").value();
    lan_ = link(*router_, "lan", "192.0.2.1/24", *client_, "192.0.2.2/24");
    wan_ = link(*router_, "wan", "198.51.100.1/24", *server_, "198.51.100.2/24");
    dmz_ = link(*router_, "dmz", "203.0.113.1/24", *other_, "203.0.113.2/24");
    ASSERT_TRUE(ipv4::add_route(*client_, {.prefix = prefix("0.0.0.0/0"), .via = kRouterLan}));
    ASSERT_TRUE(ipv4::add_route(*server_, {.prefix = prefix("0.0.0.0/0"), .via = address("198.51.100.1")}));
    ASSERT_TRUE(ipv4::add_route(*other_, {.prefix = prefix("0.0.0.0/0"), .via = address("203.0.113.1")}));
    ASSERT_TRUE(router_->sysctl().set("net.ipv4.ip_forward", "1"));
    ASSERT_TRUE(client_->sysctl().set("net.ipv4.ip_nonlocal_bind", "1"));
    auto s = udp::open(*server_);
    ASSERT_TRUE(s);
    server_socket_ = std::move(*s);
    ASSERT_TRUE(server_socket_.bind({Ipv4Address::any(), kPort}));
    auto r = udp::open(*router_);
    ASSERT_TRUE(r);
    router_socket_ = std::move(*r);
    ASSERT_TRUE(router_socket_.bind({Ipv4Address::any(), kPort}));
  }

  Device* link(Net& a, const char* name_a, std::string_view addr_a, Net& b, std::string_view addr_b) {
    auto pair = make_veth(a, name_a, b, "eth0").value();
    EXPECT_TRUE(set_link_up(*pair.a));
    EXPECT_TRUE(set_link_up(*pair.b));
    EXPECT_TRUE(ipv4::add_address(a, *pair.a, prefix(addr_a)));
    EXPECT_TRUE(ipv4::add_address(b, *pair.b, prefix(addr_b)));
    return pair.a;
  }

  // One datagram from the client, with `source` as its source address, to
  // `to`; whether the socket there got it.
  bool from_client(Ipv4Address source, Ipv4Address to, udp::Socket& receiver) {
    auto s = udp::open(*client_);
    EXPECT_TRUE(s);
    EXPECT_TRUE(s->bind({source, 4000}));
    const std::array<std::byte, 8> payload{};
    EXPECT_TRUE(s->send_to(payload, {to, kPort}));
    for (int i = 0; i < 10; ++i) host_.poll(clock_.now());  // ARP on both hops included
    std::array<std::byte, 64> buf{};
    bool got = false;
    while (receiver.receive_from(buf)) got = true;
    return got;
  }
  bool to_server(Ipv4Address source) { return from_client(source, kServer, server_socket_); }
  std::uint64_t filtered() const { return router_->counters().get("TcpExtIPReversePathFilter"); }
  std::uint64_t martians() { return ipv4::route_cache_stats(*router_).in_martian_src; }
  void set(std::string_view name, std::string_view value) {
    ASSERT_TRUE(router_->sysctl().set(name, value)) << name;
  }

  VirtualClock clock_;
  Host host_{support::test_config()};
  NetRef router_, client_, server_, other_;
  Device *lan_ = nullptr, *wan_ = nullptr, *dmz_ = nullptr;
  udp::Socket server_socket_, router_socket_;
};

// Linux's default: no reverse path check, spoofed sources go through.
TEST_F(ReversePath, OffByDefault) {
  EXPECT_TRUE(to_server(kClient));
  EXPECT_TRUE(to_server(kDmzHost));
  EXPECT_TRUE(to_server(kNowhere));
  EXPECT_EQ(filtered(), 0u);
  EXPECT_EQ(martians(), 0u);
}

// Strict: the route back to the source must leave by the device the
// datagram came in by.
TEST_F(ReversePath, StrictDropsSourcesRoutedThroughAnotherDevice) {
  set("net.ipv4.conf.all.rp_filter", "1");
  EXPECT_TRUE(to_server(kClient));
  EXPECT_FALSE(to_server(kDmzHost));
  EXPECT_FALSE(to_server(kNowhere));
  EXPECT_EQ(filtered(), 2u);
  EXPECT_EQ(martians(), 2u);  // ip_handle_martian_source counts it too
  EXPECT_EQ(router_->counters().get("IpForwDatagrams"), 1u);
  EXPECT_EQ(server_->counters().get("UdpInDatagrams"), 1u);
}

// Loose: any route back will do; only unroutable sources are dropped.
TEST_F(ReversePath, LooseDropsOnlyUnroutableSources) {
  set("net.ipv4.conf.all.rp_filter", "2");
  EXPECT_TRUE(to_server(kClient));
  EXPECT_TRUE(to_server(kDmzHost));
  EXPECT_FALSE(to_server(kNowhere));
  EXPECT_EQ(filtered(), 1u);
  // With a default route everything is reachable, as in Linux.
  ASSERT_TRUE(ipv4::add_route(*router_, {.prefix = prefix("0.0.0.0/0"), .via = address("203.0.113.2")}));
  EXPECT_TRUE(to_server(kNowhere));
  EXPECT_EQ(filtered(), 1u);
}

// A route back that is not unicast is a plain martian (Linux's -EINVAL),
// not a reverse path failure.
TEST_F(ReversePath, LooseRefusesABlackholedSourceAsAMartian) {
  set("net.ipv4.conf.all.rp_filter", "2");
  ASSERT_TRUE(ipv4::add_route(*router_, {.prefix = prefix("100.64.0.0/10"), .type = ipv4::RouteType::blackhole}));
  EXPECT_FALSE(to_server(kNowhere));
  EXPECT_EQ(filtered(), 0u);
  EXPECT_EQ(martians(), 1u);
}

// max(all, dev): the input device's own value is enough, and only it counts.
TEST_F(ReversePath, TheInputDevicesValueDecides) {
  set("net.ipv4.conf.wan.rp_filter", "1");
  EXPECT_TRUE(to_server(kDmzHost));  // lan does not filter
  set("net.ipv4.conf.lan.rp_filter", "1");
  EXPECT_FALSE(to_server(kDmzHost));
  set("net.ipv4.conf.all.rp_filter", "2");  // max(2, 1): loose
  EXPECT_TRUE(to_server(kDmzHost));
  EXPECT_EQ(filtered(), 1u);
}

// Datagrams for the router itself are checked too (ip_route_input_slow's local_input).
TEST_F(ReversePath, StrictAlsoGuardsLocalDelivery) {
  set("net.ipv4.conf.default.rp_filter", "1");  // reaches every device that never set its own
  EXPECT_EQ(router_->sysctl().get("net.ipv4.conf.lan.rp_filter").value(), "1");
  EXPECT_TRUE(from_client(kClient, kRouterLan, router_socket_));
  EXPECT_FALSE(from_client(kDmzHost, kRouterLan, router_socket_));
  EXPECT_EQ(filtered(), 1u);
}

// IN_DEV_FORWARD: what the input device says, not the global switch alone.
TEST_F(ReversePath, ForwardingIsTheInputDevicesOwn) {
  set("net.ipv4.conf.lan.forwarding", "0");
  EXPECT_EQ(router_->sysctl().get("net.ipv4.ip_forward").value(), "1");
  EXPECT_FALSE(to_server(kClient));
  EXPECT_EQ(router_->counters().get("IpInAddrErrors"), 1u);
  // The other way, in by wan, is still forwarded, out by lan.
  auto s = udp::open(*server_).value();
  ASSERT_TRUE(s.bind({kServer, 4001}));
  auto c = udp::open(*client_).value();
  ASSERT_TRUE(c.bind({Ipv4Address::any(), kPort}));
  const std::array<std::byte, 8> payload{};
  ASSERT_TRUE(s.send_to(payload, {kClient, kPort}));
  for (int i = 0; i < 10; ++i) host_.poll(clock_.now());
  std::array<std::byte, 64> buf{};
  EXPECT_TRUE(c.receive_from(buf));
  // ip_forward=0 turns every device off; a device turned on alone forwards.
  set("net.ipv4.ip_forward", "0");
  set("net.ipv4.conf.lan.forwarding", "1");
  EXPECT_TRUE(to_server(kClient));
}

}  // namespace ipv4_rp_filter_test
}  // namespace
}  // namespace netns
