// TCP between two namespaces over a veth, through the public API: the
// handshake, data both ways, the close sequences, and the errors a user sees.
#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_stream_test {

using namespace std::chrono_literals;

std::span<const std::byte> text(std::string_view s) { return std::as_bytes(std::span(s)); }

bool is_would_block(const boost::system::error_code& e) { return e == boost::asio::error::would_block; }

// blue 192.0.2.1/24 — veth — red 192.0.2.2/24, a virtual clock.
class TcpStream : public support::AddressedTwoNets {
 protected:
  std::pair<tcp::Stream, tcp::Stream> connected_pair(std::uint16_t port = 80) {
    auto listener = tcp::listen(*red_, {Ipv4Address::any(), port}).value();
    auto client = tcp::connect(*blue_, {kRed, port}).value();
    EXPECT_EQ(client.state(), tcp::State::syn_sent);
    poll();
    auto server = listener.accept();
    EXPECT_TRUE(server) << server.error().message();
    return {std::move(client), std::move(*server)};
  }

  std::string read_all(tcp::Stream& s) {
    std::string out;
    std::array<std::byte, 4096> buf{};
    for (;;) {
      auto n = s.read(buf);
      if (!n || *n == 0) break;
      out.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    return out;
  }
};

TEST_F(TcpStream, HandshakeThenDataBothWays) {
  auto [client, server] = connected_pair();
  EXPECT_EQ(client.state(), tcp::State::established);
  EXPECT_EQ(server.state(), tcp::State::established);
  EXPECT_EQ(server.remote_endpoint(), client.local_endpoint());
  EXPECT_EQ(client.remote_endpoint(), (Endpoint{kRed, 80}));

  ASSERT_EQ(client.write(text("hello")).value(), 5u);
  poll();
  EXPECT_EQ(read_all(server), "hello");
  ASSERT_EQ(server.write(text("world!")).value(), 6u);
  poll();
  EXPECT_EQ(read_all(client), "world!");

  EXPECT_EQ(blue_->counters().get("TcpActiveOpens"), 1u);
  EXPECT_EQ(red_->counters().get("TcpPassiveOpens"), 1u);
  EXPECT_EQ(red_->counters().get("TcpCurrEstab"), 1u);
  const auto info = client.info();
  EXPECT_TRUE(info.sack);
  EXPECT_TRUE(info.timestamps);
  EXPECT_TRUE(info.window_scaling);
  EXPECT_EQ(info.mss, 1448u);  // 1500 - 40 - 12 bytes of timestamps
}

TEST_F(TcpStream, ActiveCloseGoesThroughTimeWait) {
  auto [client, server] = connected_pair();
  ASSERT_TRUE(client.shutdown());
  EXPECT_EQ(client.state(), tcp::State::fin_wait_1);
  poll();
  EXPECT_EQ(client.state(), tcp::State::fin_wait_2);
  EXPECT_EQ(server.state(), tcp::State::close_wait);
  std::array<std::byte, 16> buf{};
  EXPECT_EQ(server.read(buf).value(), 0u);  // end of stream
  ASSERT_TRUE(server.shutdown());
  EXPECT_EQ(server.state(), tcp::State::last_ack);
  poll();
  EXPECT_EQ(server.state(), tcp::State::closed);
  EXPECT_EQ(client.state(), tcp::State::time_wait);
  EXPECT_EQ(client.read(buf).value(), 0u);
  run_for(59s);
  EXPECT_EQ(client.state(), tcp::State::time_wait);
  run_for(2s);
  EXPECT_EQ(client.state(), tcp::State::closed);
  EXPECT_EQ(red_->counters().get("TcpCurrEstab"), 0u);
  EXPECT_EQ(blue_->counters().get("TcpCurrEstab"), 0u);
}

TEST_F(TcpStream, OverTheLoopbackInOneNamespace) {
  Device* lo = red_->device("lo");
  ASSERT_NE(lo, nullptr);
  ASSERT_TRUE(set_link_up(*lo));
  auto listener = tcp::listen(*red_, {Ipv4Address(127, 0, 0, 1), 8080}).value();
  auto client = tcp::connect(*red_, {Ipv4Address(127, 0, 0, 1), 8080}).value();
  poll();
  auto server = listener.accept().value();
  EXPECT_EQ(client.local_endpoint().address, Ipv4Address(127, 0, 0, 1));
  ASSERT_EQ(client.write(text("over lo")).value(), 7u);
  poll();
  EXPECT_EQ(read_all(server), "over lo");
  EXPECT_EQ(client.info().mss, 65483u);  // the loopback's MTU 65536, less 40 and 12
}

TEST_F(TcpStream, AcceptedConnectionsHoldTheirPortUntilTheyAreGone) {
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), 80}).value();
  std::vector<tcp::Stream> clients, servers;
  for (int i = 0; i < 3; ++i) clients.push_back(tcp::connect(*blue_, {kRed, 80}).value());
  poll();
  while (auto s = listener.accept()) servers.push_back(std::move(*s));
  ASSERT_EQ(servers.size(), 3u);
  listener.close();
  // No SO_REUSEADDR: connections on port 80 keep it taken, as in Linux.
  auto again = tcp::listen(*red_, {Ipv4Address::any(), 80});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::address_in_use);
  for (auto& s : servers) s.abort();  // RST: gone at once, no TIME_WAIT
  EXPECT_TRUE(tcp::listen(*red_, {Ipv4Address::any(), 80}));
}

TEST_F(TcpStream, ConnectToClosedPortIsRefused) {
  auto client = tcp::connect(*blue_, {kRed, 81}).value();
  poll();
  EXPECT_EQ(client.state(), tcp::State::closed);
  std::array<std::byte, 16> buf{};
  auto got = client.read(buf);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error(), Errc::connection_refused);
  EXPECT_EQ(red_->counters().get("TcpOutRsts"), 1u);
  EXPECT_EQ(blue_->counters().get("TcpAttemptFails"), 1u);
}

TEST_F(TcpStream, BulkTransferDeliversEveryByte) {
  auto [client, server] = connected_pair();
  std::vector<std::byte> data(4 << 20);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = std::byte(static_cast<std::uint8_t>(i * 131 + (i >> 12)));
  std::size_t sent = 0, received = 0;
  std::vector<std::byte> got(data.size());
  for (int round = 0; round < 100000 && received < data.size(); ++round) {
    if (sent < data.size()) {
      auto n = client.write(std::span(data).subspan(sent));
      if (n) sent += *n;
      else ASSERT_TRUE(is_would_block(n.error())) << n.error().message();
    }
    run_for(1ms);
    for (;;) {
      auto n = server.read(std::span(got).subspan(received));
      if (!n) {
        ASSERT_TRUE(is_would_block(n.error())) << n.error().message();
        break;
      }
      received += *n;
      if (*n == 0) break;
    }
  }
  ASSERT_EQ(received, data.size());
  EXPECT_EQ(got, data);
  EXPECT_EQ(blue_->counters().get("TcpRetransSegs"), 0u);
}

// Issue 10, item 4: in process the round trip is a few microseconds, so
// autotuning (DRS: twice what one RTT brings) keeps tcp_rmem[1]: a bigger
// buffer would only let the data go cold in the cache (bench/README.md).
// The virtual clock moves 10 us per round, as a busy loop's polls.
TEST_F(TcpStream, InProcessBulkKeepsTheInitialReceiveBuffer) {
  auto [client, server] = connected_pair();
  std::vector<std::byte> data(256 * 1024), got(data.size());
  std::uint64_t received = 0;
  for (int round = 0; round < 3000 && received < (32u << 20); ++round) {
    (void)client.write(data);
    poll();
    for (auto n = server.read(got); n && *n != 0; n = server.read(got)) received += *n;
    clock_.advance(10us);
  }
  EXPECT_GE(received, 32u << 20);
  EXPECT_EQ(server.info().rcvbuf, 131072u);
  EXPECT_EQ(red_->counters().get("TcpExtPruneCalled"), 0u);
}

}  // namespace ipv4_tcp_stream_test
}  // namespace
}  // namespace netns
