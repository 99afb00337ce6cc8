// Ping sockets between two namespaces over a veth, on a virtual clock.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <string_view>
#include <vector>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_ping_test {

using namespace std::chrono_literals;

const Ipv4Address kBlue(192, 0, 2, 1);
const Ipv4Address kRed(192, 0, 2, 2);

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

bool is_would_block(const boost::system::error_code& e) {
  return e == boost::asio::error::would_block;
}

class Ping : public support::TwoNets {
 protected:
  void SetUp() override {
    TwoNets::SetUp();
    ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, prefix("192.0.2.1/24")));
    ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, prefix("192.0.2.2/24")));
  }
  // Moves the virtual clock and lets the Host catch up.
  void advance(Clock::duration d) {
    clock_.advance(d);
    poll();
  }
};

TEST_F(Ping, EchoCrossesTheVethWithSequenceAndRtt) {
  auto ping = icmp::open(*blue_).value();
  std::vector<std::byte> data(56);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(i);

  ASSERT_TRUE(ping.send_echo(kRed, 1, data));
  EXPECT_NE(ping.id(), 0);  // bound by the first send
  poll();
  std::array<std::byte, 128> buf{};
  auto first = ping.receive(buf);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(first->from, kRed);
  EXPECT_EQ(first->seq, 1);
  EXPECT_EQ(first->payload_size, 56u);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), buf.begin()));

  // Deliveries between namespaces happen in the next poll: a request sent
  // at t and polled at t + 4ms is answered 4ms later on the virtual clock.
  advance(3ms);
  ASSERT_TRUE(ping.send_echo(kRed, 2));
  ASSERT_TRUE(ping.send_echo(kRed, 3));
  advance(4ms);
  auto second = ping.receive();
  auto third = ping.receive();
  ASSERT_TRUE(second && third);
  EXPECT_EQ(second->seq, 2);
  EXPECT_EQ(third->seq, 3);
  EXPECT_EQ(second->payload_size, 0u);
  EXPECT_EQ(second->rtt, std::chrono::nanoseconds(4ms));
  EXPECT_TRUE(is_would_block(ping.receive().error()));

  EXPECT_EQ(blue_->counters().get("IcmpOutEchos"), 3u);
  EXPECT_EQ(red_->counters().get("IcmpInEchos"), 3u);
  EXPECT_EQ(red_->counters().get("IcmpOutEchoReps"), 3u);
  EXPECT_EQ(blue_->counters().get("IcmpInEchoReps"), 3u);
}

TEST_F(Ping, EachSocketGetsOnlyItsOwnReplies) {
  auto a = icmp::open(*blue_).value();
  auto b = icmp::open(*blue_).value();
  int a_ready = 0;
  a.on_readable([&] { ++a_ready; });
  ASSERT_TRUE(a.send_echo(kRed, 10));
  ASSERT_TRUE(b.send_echo(kRed, 20));
  EXPECT_NE(a.id(), b.id());
  poll();
  EXPECT_EQ(a_ready, 1);
  EXPECT_EQ(a.receive().value().seq, 10);
  EXPECT_EQ(b.receive().value().seq, 20);
  EXPECT_TRUE(is_would_block(a.receive().error()));
  EXPECT_TRUE(is_would_block(b.receive().error()));

  // A chosen id is exclusive too.
  auto c = icmp::open(*blue_).value();
  EXPECT_EQ(c.bind({Ipv4Address::any(), a.id()}).error(), boost::system::errc::address_in_use);
  EXPECT_TRUE(c.bind({Ipv4Address::any(), 7}));
  EXPECT_EQ(c.id(), 7);
}

TEST_F(Ping, EchoIgnoreAllMeansNoReply) {
  ASSERT_TRUE(red_->sysctl().set("net.ipv4.icmp_echo_ignore_all", "1"));
  auto ping = icmp::open(*blue_).value();
  ASSERT_TRUE(ping.send_echo(kRed, 1));
  poll();
  advance(1s);
  auto got = ping.receive();
  ASSERT_FALSE(got);
  EXPECT_TRUE(is_would_block(got.error()));
  EXPECT_EQ(red_->counters().get("IcmpInEchos"), 1u);
  EXPECT_EQ(red_->counters().get("IcmpOutEchoReps"), 0u);
}

TEST_F(Ping, UnansweredArpIsHostUnreachable) {
  // The error comes from this namespace to itself, through its loopback.
  ASSERT_TRUE(set_link_up(blue_->loopback()));
  auto ping = icmp::open(*blue_).value();
  int wakeups = 0;
  ping.on_readable([&] { ++wakeups; });
  ASSERT_TRUE(ping.send_echo(Ipv4Address(192, 0, 2, 99), 1));
  poll();
  EXPECT_TRUE(is_would_block(ping.receive().error()));  // still resolving
  for (int i = 0; i < 5; ++i) advance(1s);
  EXPECT_EQ(wakeups, 1);
  auto got = ping.receive();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), boost::system::errc::host_unreachable);
  EXPECT_TRUE(is_would_block(ping.receive().error()));  // reported once
}

TEST_F(Ping, ErrorsAndLimits) {
  auto ping = icmp::open(*blue_).value();
  EXPECT_EQ(ping.send_echo(Ipv4Address(198, 51, 100, 1), 1).error(),
            boost::system::errc::network_unreachable);
  EXPECT_EQ(blue_->counters().get("IpOutNoRoutes"), 1u);  // ping_v4_sendmsg's
  std::vector<std::byte> huge(icmp::kMaxEchoPayload + 1);
  EXPECT_EQ(ping.send_echo(kRed, 1, huge).error(), boost::system::errc::message_size);
  EXPECT_EQ(ping.send_echo(Ipv4Address(192, 0, 2, 255), 1).error(),
            boost::system::errc::permission_denied);

  icmp::EchoSocket moved = std::move(ping);
  EXPECT_FALSE(ping.is_open());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_EQ(ping.send_echo(kRed, 1).error(), boost::system::errc::bad_file_descriptor);
  EXPECT_EQ(ping.receive().error(), boost::system::errc::bad_file_descriptor);
  EXPECT_TRUE(moved.send_echo(kRed, 2));
  poll();
  EXPECT_EQ(moved.receive().value().seq, 2);
  EXPECT_EQ(&moved.net(), blue_.get());
}

TEST_F(Ping, SocketKeepsItsNamespaceAlive) {
  NetRef net = host_.create_net("kept").value();
  NetHold hold(*net);
  auto ping = icmp::open(*net).value();
  net.reset();
  poll();
  EXPECT_TRUE(hold.lock());
  ping.close();
  EXPECT_FALSE(hold.lock());
  hold.reset();
  poll();
  EXPECT_EQ(host_.stats().leaked_holds, 0u);
}

}  // namespace ipv4_ping_test
}  // namespace
}  // namespace netns
