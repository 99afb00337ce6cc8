// Namespaces dying with TCP connections in every state, timers pending:
// everything goes with the namespace and no timer fires into freed memory
// (the sanitizer build runs these too).
#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "netns/device.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_teardown_test {

using namespace std::chrono_literals;

class TcpTeardown : public support::AddressedTwoNets {
 protected:
  void SetUp() override {
    AddressedTwoNets::SetUp();
    listener_ = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  }

  struct Conn {
    tcp::Stream client, server;
  };
  Conn establish() {
    Conn c;
    c.client = tcp::connect(*blue_, {kRed, 80}).value();
    run_for(1ms);
    c.server = listener_.accept().value();
    return c;
  }

  // Connections in every state of RFC 9293's diagram, on both sides, with
  // a 10 ms link so the transitional states last. Returns them, still held.
  std::vector<tcp::Stream> every_state() {
    std::vector<tcp::Stream> held;
    Conn both_closed = establish(), half_closed = establish(), last_ack = establish(),
         fin_wait_1 = establish(), closing = establish(), busy = establish();
    (void)both_closed.client.shutdown();
    (void)both_closed.server.shutdown();
    (void)half_closed.client.shutdown();
    (void)last_ack.client.shutdown();
    run_for(1ms);
    EXPECT_EQ(both_closed.client.state(), tcp::State::time_wait);
    EXPECT_EQ(half_closed.client.state(), tcp::State::fin_wait_2);
    EXPECT_EQ(half_closed.server.state(), tcp::State::close_wait);

    const LinkFaults slow{.delay = 10ms};
    EXPECT_TRUE(set_link_faults(*blue_eth0_, slow));
    EXPECT_TRUE(set_link_faults(*red_eth0_, slow));
    (void)last_ack.server.shutdown();
    (void)fin_wait_1.client.shutdown();
    (void)closing.client.shutdown();
    (void)closing.server.shutdown();
    std::vector<std::byte> data(200'000, std::byte{7});
    (void)busy.client.write(data);
    auto syn_sent = tcp::connect(*blue_, {kRed, 80}).value();
    auto nowhere = tcp::connect(*blue_, {Ipv4Address(192, 0, 2, 99), 80}).value();  // ARP never answers
    run_for(15ms);

    EXPECT_EQ(last_ack.server.state(), tcp::State::last_ack);
    EXPECT_EQ(fin_wait_1.client.state(), tcp::State::fin_wait_1);
    EXPECT_EQ(closing.client.state(), tcp::State::closing);
    EXPECT_EQ(closing.server.state(), tcp::State::closing);
    EXPECT_EQ(syn_sent.state(), tcp::State::syn_sent);
    EXPECT_EQ(nowhere.state(), tcp::State::syn_sent);
    EXPECT_EQ(busy.client.state(), tcp::State::established);
    const std::string red_sockets = tcp::dump_sockets(*red_);
    EXPECT_NE(red_sockets.find("SYN-RECV"), std::string::npos) << red_sockets;
    EXPECT_NE(red_sockets.find("LISTEN"), std::string::npos) << red_sockets;

    for (Conn* c : {&both_closed, &half_closed, &last_ack, &fin_wait_1, &closing, &busy}) {
      held.push_back(std::move(c->client));
      held.push_back(std::move(c->server));
    }
    held.push_back(std::move(syn_sent));
    held.push_back(std::move(nowhere));
    return held;
  }

  tcp::Listener listener_;
};

TEST_F(TcpTeardown, BothNamespacesDieWithOrphansInEveryState) {
  auto held = every_state();
  for (auto& s : held) s.close();  // orphans: the connections go on without their users
  listener_.close();
  blue_ = NetRef();
  red_ = NetRef();
  blue_eth0_ = red_eth0_ = nullptr;
  poll();
  const std::vector<std::uint32_t> only_init{1};
  EXPECT_EQ(live_ids(), only_init);
  run_for(10min);  // every timer those connections had is gone with them
  EXPECT_EQ(live_ids(), only_init);
}

TEST_F(TcpTeardown, ServerNamespaceDiesUnderLiveClients) {
  auto held = every_state();
  std::vector<tcp::Stream> clients;
  for (std::size_t i = 0; i < held.size(); ++i) {
    // Keep blue's streams (even indexes, and the last two); close red's.
    if (held[i].is_open() && &held[i].net() == blue_.get()) {
      clients.push_back(std::move(held[i]));
    } else {
      held[i].close();
    }
  }
  listener_.close();
  red_ = NetRef();
  red_eth0_ = nullptr;
  poll();
  ASSERT_EQ(live_ids(), (std::vector<std::uint32_t>{1, blue_->id()}));
  // Blue's connections lost their link: they retransmit into nothing and
  // give up by their own timers.
  run_for(30min);
  for (auto& c : clients) {
    EXPECT_TRUE(c.state() == tcp::State::closed || c.state() == tcp::State::fin_wait_2)
        << tcp::to_string(c.state());
  }
}

TEST_F(TcpTeardown, HostDiesWithOrphansPending) {
  auto held = every_state();
  for (auto& s : held) s.close();
  listener_.close();
  // The fixture destroys the Host with both namespaces alive and their
  // orphans' timers pending.
}

}  // namespace ipv4_tcp_teardown_test
}  // namespace
}  // namespace netns
