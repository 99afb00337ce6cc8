// Routers made of namespaces joined by veths: ARP, forwarding and ICMP errors
// across several hops, driven from a channel device that plays the first host.
#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"

namespace netns {
namespace {
namespace ipv4_routing_test {

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

const MacAddress kHostMac{0x02, 0, 0, 0, 0, 0x0a};
const Ipv4Address kHost(192, 0, 2, 2);
const Ipv4Address kTarget(198, 51, 100, 2);

// host(channel) -- r1 -- r2 -- r3 -- target, every router forwarding.
class ThreeRouters : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* name : {"r1", "r2", "r3", "target"}) nets_.push_back(host_.create_net(name).value());
    Net &r1 = *nets_[0], &r2 = *nets_[1], &r3 = *nets_[2], &target = *nets_[3];
    wire_ = make_channel(r1, "eth0").value();
    up(*wire_);
    ASSERT_TRUE(ipv4::add_address(r1, *wire_, prefix("192.0.2.1/24")));
    ASSERT_TRUE(ipv4::add_neighbour(r1, *wire_, kHost, kHostMac));
    link(r1, "203.0.113.1/26", r2, "203.0.113.2/26");
    link(r2, "203.0.113.65/26", r3, "203.0.113.66/26");
    link(r3, "198.51.100.1/24", target, "198.51.100.2/24");
    route(r1, "0.0.0.0/0", "203.0.113.2");
    route(r2, "192.0.2.0/24", "203.0.113.1");
    route(r2, "0.0.0.0/0", "203.0.113.66");
    route(r3, "0.0.0.0/0", "203.0.113.65");
    route(target, "0.0.0.0/0", "198.51.100.1");
    for (Net* r : {&r1, &r2, &r3}) ASSERT_TRUE(r->sysctl().set("net.ipv4.ip_forward", "1"));
  }

  void up(Device& dev) { ASSERT_TRUE(set_link_up(dev)); }
  void link(Net& a, std::string_view addr_a, Net& b, std::string_view addr_b) {
    auto pair = make_veth(a, fmt::format("to{}", b.name()), b, fmt::format("to{}", a.name())).value();
    up(*pair.a);
    up(*pair.b);
    ASSERT_TRUE(ipv4::add_address(a, *pair.a, prefix(addr_a)));
    ASSERT_TRUE(ipv4::add_address(b, *pair.b, prefix(addr_b)));
  }
  void route(Net& net, std::string_view to, std::string_view via) {
    ASSERT_TRUE(ipv4::add_route(net, {.prefix = prefix(to), .via = Ipv4Address::parse(via).value()}));
  }
  // Injects, then polls until the network is quiet (ARP on every hop included).
  std::vector<support::Parsed> send(const support::Bytes& frame) {
    wire_->inject(frame);
    for (int i = 0; i < 10; ++i) host_.poll(clock_.now());
    std::vector<support::Parsed> out;
    while (auto f = wire_->read()) out.push_back(support::parse_frame(*f));
    return out;
  }

  VirtualClock clock_;
  Host host_{support::test_config()};
  std::vector<NetRef> nets_;
  ChannelDevice* wire_ = nullptr;
};

TEST_F(ThreeRouters, EchoCrossesThreeHopsAndComesBack) {
  auto out = send(support::echo_request_frame(wire_->mac(), kHostMac, kHost, kTarget, 9, 1, 32));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, wire::IcmpType::echo_reply);
  EXPECT_EQ(out[0].ip->src, kTarget);
  EXPECT_EQ(out[0].ip->ttl, 64 - 3);  // the reply crossed r3, r2 and r1
  for (int r = 0; r < 3; ++r) EXPECT_EQ(nets_[r]->counters().get("IpForwDatagrams"), 2u) << "r" << r + 1;
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

// Linux's ip_finish_output2: every datagram or fragment that leaves, sent
// or forwarded, is one OutTransmits and its bytes OutOctets; OutRequests
// counts only what the namespace itself sends, before it is cut.
TEST_F(ThreeRouters, EveryDatagramThatLeavesCountsInOutTransmitsAndOutOctets) {
  auto r3_side = nets_[2]->device("totarget");
  auto target_side = nets_[3]->device("tor3");
  ASSERT_TRUE(r3_side && target_side);
  ASSERT_TRUE(r3_side->set_mtu(576));
  ASSERT_TRUE(target_side->set_mtu(576));
  // 1,028 bytes of IP: cut into 572 (552 of data) and 476 on the last link.
  auto out = send(support::echo_request_frame(wire_->mac(), kHostMac, kHost, kTarget, 9, 1, 1000));
  ASSERT_EQ(out.size(), 2u);  // the reply, in the two fragments the target sent
  auto count = [&](int n, std::string_view name) { return nets_[n]->counters().get(name); };
  // The target: one reply sent as two fragments.
  EXPECT_EQ(count(3, "IpOutRequests"), 1u);
  EXPECT_EQ(count(3, "IpFragCreates"), 2u);
  EXPECT_EQ(count(3, "IpOutTransmits"), 2u);
  EXPECT_EQ(count(3, "IpExtOutOctets"), 572u + 476u);
  // r3: the request out in two fragments, and the reply's two fragments forwarded.
  EXPECT_EQ(count(2, "IpOutRequests"), 0u);
  EXPECT_EQ(count(2, "IpForwDatagrams"), 3u);
  EXPECT_EQ(count(2, "IpOutTransmits"), 4u);
  EXPECT_EQ(count(2, "IpExtOutOctets"), 4u * 524u);  // 572 + 476 = 2 x 524, each way
  // r1: the whole request and the two reply fragments.
  EXPECT_EQ(count(0, "IpOutTransmits"), 3u);
  EXPECT_EQ(count(0, "IpExtOutOctets"), 1028u + 572u + 476u);
}

TEST_F(ThreeRouters, TtlExpiresAtTheThirdRouter) {
  auto out = send(support::echo_request_frame(wire_->mac(), kHostMac, kHost, kTarget, 9, 1, 32, 3));
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(out[0].icmp);
  EXPECT_EQ(out[0].icmp->type, wire::IcmpType::time_exceeded);
  EXPECT_EQ(out[0].ip->src, Ipv4Address(203, 0, 113, 66));  // r3, on the interface it arrived by
  EXPECT_EQ(nets_[2]->counters().get("IcmpOutTimeExcds"), 1u);
  EXPECT_EQ(nets_[3]->counters().get("IcmpInEchos"), 0u);
}

// A router with forwarding off drops what is not for it and, as Linux's
// ip_error without forwarding, says nothing back.
TEST_F(ThreeRouters, ForwardingOffInTheMiddleDropsSilently) {
  ASSERT_TRUE(nets_[1]->sysctl().set("net.ipv4.ip_forward", "0"));
  auto out = send(support::echo_request_frame(wire_->mac(), kHostMac, kHost, kTarget, 9, 1, 32));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(nets_[1]->counters().get("IpInAddrErrors"), 1u);
  EXPECT_EQ(nets_[1]->counters().get("IcmpOutDestUnreachs"), 0u);
}

}  // namespace ipv4_routing_test
}  // namespace
}  // namespace netns
