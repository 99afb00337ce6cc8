// HostGroup (netns/host_group.hpp): a thread per Host, work run on each
// Host's own thread, traffic between Hosts over a veth while both run, and
// a shutdown with traffic in flight that loses and leaks no buffer.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "netns/host_group.hpp"
#include "netns/ipv4.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_host_group_test {

using namespace std::chrono_literals;

const Ipv4Address kB(192, 0, 2, 2);
constexpr std::uint16_t kPort = 9;

HostGroupConfig two_hosts() {
  return {.hosts = 2, .host = support::test_config(), .pin_threads = true};
}

TEST(HostGroup, EachHostRunsOnAThreadOfItsOwn) {
  HostGroup group(two_hosts());
  ASSERT_EQ(group.size(), 2u);
  EXPECT_NE(&group.host(0), &group.host(1));
  EXPECT_NE(group.host(0).secret(), group.host(1).secret());

  std::array<std::thread::id, 2> before{};
  group.run_on_all([&](Host& h) { before[&h == &group.host(0) ? 0 : 1] = std::this_thread::get_id(); });
  EXPECT_EQ(before[0], std::this_thread::get_id());  // not running: the caller's thread
  EXPECT_EQ(before[1], std::this_thread::get_id());

  group.start();
  EXPECT_TRUE(group.running());
  std::array<std::thread::id, 2> seen{};
  std::atomic<int> ran{0};
  group.run_on_all([&](Host& h) {
    seen[&h == &group.host(0) ? 0 : 1] = std::this_thread::get_id();
    EXPECT_TRUE(h.polling());  // inside its own poll
    ran.fetch_add(1);
  });
  EXPECT_EQ(ran.load(), 2);  // waited for both
  EXPECT_NE(seen[0], std::this_thread::get_id());
  EXPECT_NE(seen[1], std::this_thread::get_id());
  EXPECT_NE(seen[0], seen[1]);
  std::thread::id one{};
  group.run_on(1, [&](Host&) { one = std::this_thread::get_id(); });
  EXPECT_EQ(one, seen[1]);
  group.stop();
  EXPECT_FALSE(group.running());
  group.run_on(0, [&](Host&) { one = std::this_thread::get_id(); });
  EXPECT_EQ(one, std::this_thread::get_id());
}

// Host 0's namespace "a" and Host 1's "b" over a veth, 192.0.2.1 and .2,
// a UDP server on b; sockets are used only on their Host's thread.
class HostGroupTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = group_.host(0).create_net("a").value();
    b_ = group_.host(1).create_net("b").value();
    auto pair = make_veth(*a_, "eth0", *b_, "eth0");
    ASSERT_TRUE(pair);
    ASSERT_TRUE(set_link_up(*pair->a));
    ASSERT_TRUE(set_link_up(*pair->b));
    ASSERT_TRUE(ipv4::add_address(*a_, *pair->a, Ipv4Prefix::parse("192.0.2.1/24").value()));
    ASSERT_TRUE(ipv4::add_address(*b_, *pair->b, Ipv4Prefix::parse("192.0.2.2/24").value()));
    server_ = udp::open(*b_).value();
    ASSERT_TRUE(server_.bind({Ipv4Address::any(), kPort}));
    client_ = udp::open(*a_).value();
  }

  void TearDown() override {
    group_.stop();
    client_ = {};
    server_ = {};
    a_.reset();
    b_.reset();
  }

  // Sends from Host 0's thread, and reads on Host 1's, until `count`
  // datagrams arrived (the first may wait on ARP), or a deadline.
  std::size_t send_until_received(std::size_t count) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::size_t received = 0;
    while (received < count && std::chrono::steady_clock::now() < deadline) {
      group_.run_on(0, [&](Host&) {
        const std::string msg = "datagram";
        (void)client_.send_to(std::as_bytes(std::span(msg.data(), msg.size())), {kB, kPort});
      });
      std::this_thread::sleep_for(1ms);
      group_.run_on(1, [&](Host&) {
        std::array<std::byte, 64> buf{};
        while (server_.receive_from(buf)) ++received;
      });
    }
    return received;
  }

  HostGroup group_{two_hosts()};
  NetRef a_, b_;
  udp::Socket server_, client_;
};

TEST_F(HostGroupTraffic, DatagramsCrossBetweenRunningHosts) {
  group_.start();
  EXPECT_GE(send_until_received(20), 20u);
  group_.stop();
  // The calling thread drives both again. A datagram sent last may have been
  // crossing: once the server has read it, every buffer is home after a poll each.
  group_.host(1).poll(group_.host(1).now());
  std::array<std::byte, 64> buf{};
  while (server_.receive_from(buf)) {
  }
  group_.host(1).poll(group_.host(1).now());
  group_.host(0).poll(group_.host(0).now());
  EXPECT_EQ(group_.host(0).packets().lent(), 0u);
  EXPECT_EQ(group_.host(1).packets().lent(), 0u);
}

// The same, everything made while both Hosts run: each namespace and
// each veth end on its own Host's thread.
class HostGroupTrafficMadeRunning : public HostGroupTraffic {
 protected:
  void SetUp() override {
    group_.start();
    group_.run_on(0, [&](Host& h) { a_ = h.create_net("a").value(); });
    group_.run_on(1, [&](Host& h) { b_ = h.create_net("b").value(); });
    auto pair = make_veth(*a_, "eth0", *b_, "eth0", group_);
    ASSERT_TRUE(pair) << pair.error().message();
    EXPECT_EQ(&pair->a->net(), &*a_);
    EXPECT_EQ(&pair->b->net(), &*b_);
    group_.run_on(0, [&](Host&) {
      ASSERT_TRUE(set_link_up(*pair->a));
      ASSERT_TRUE(ipv4::add_address(*a_, *pair->a, Ipv4Prefix::parse("192.0.2.1/24").value()));
      client_ = udp::open(*a_).value();
    });
    group_.run_on(1, [&](Host&) {
      ASSERT_TRUE(set_link_up(*pair->b));
      ASSERT_TRUE(ipv4::add_address(*b_, *pair->b, Ipv4Prefix::parse("192.0.2.2/24").value()));
      server_ = udp::open(*b_).value();
      ASSERT_TRUE(server_.bind({Ipv4Address::any(), kPort}));
    });
  }
};

TEST_F(HostGroupTrafficMadeRunning, DatagramsCrossAVethMadeWhileBothHostsRun) {
  EXPECT_GE(send_until_received(20), 20u);
}

TEST_F(HostGroupTrafficMadeRunning, ATakenNameOnTheSecondHostMakesNoEnd) {
  std::size_t a_devices = 0;
  group_.run_on(0, [&](Host&) { a_devices = a_->devices().size(); });
  auto again = make_veth(*a_, "eth1", *b_, "eth0", group_);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::file_exists);
  group_.run_on(0, [&](Host&) {
    EXPECT_EQ(a_->device("eth1"), nullptr);
    EXPECT_EQ(a_->devices().size(), a_devices);
  });
}

TEST_F(HostGroupTrafficMadeRunning, OnlyTheGroupsHostsAndOneHostsOwnPairs) {
  Host outsider(support::test_config());
  NetRef stranger = outsider.create_net("x").value();
  EXPECT_EQ(make_veth(*a_, "eth1", *stranger, "eth0", group_).error(), Errc::invalid_argument);
  // Both ends in Host 0: an ordinary veth, made on that Host's thread.
  NetRef c;
  group_.run_on(0, [&](Host& h) { c = h.create_net("c").value(); });
  auto pair = make_veth(*a_, "eth1", *c, "eth0", group_);
  ASSERT_TRUE(pair);
  EXPECT_FALSE(pair->a->polled()) << "an in-Host veth";
  group_.run_on(0, [&](Host&) { c = {}; });
}

TEST_F(HostGroupTraffic, StoppingWithTrafficInFlightLosesAndLeaksNothing) {
  group_.start();
  ASSERT_GE(send_until_received(5), 5u);
  // A burst the server never reads, and stop while it crosses.
  group_.run_on(0, [&](Host&) {
    const std::string msg = "in flight";
    for (int i = 0; i < 200; ++i) (void)client_.send_to(std::as_bytes(std::span(msg.data(), msg.size())), {kB, kPort});
  });
  group_.stop();
  // Whatever is queued on b's socket or still in the ring is Host 0's, lent:
  // nothing was lost on the way.
  const std::size_t lent = group_.host(0).packets().lent();
  EXPECT_GT(lent, 0u);
  // The group's destructor (TearDown, then the fixture) frees the rest: ASan watches.
}

}  // namespace core_host_group_test
}  // namespace
}  // namespace netns
