// Keepalive probes on an idle connection (RFC 1122 4.2.3.6, Linux's
// tcp_keepalive_timer), and `ss`'s view of the sockets (tcp::dump_sockets).
#include <chrono>
#include <string>

#include <boost/asio/error.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_keepalive_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kBase = kTcpPeerIss + 1;

class TcpKeepalive : public TcpPeerTest {
 protected:
  void SetUp() override {
    TcpPeerTest::SetUp();
    sysctl("net.ipv4.tcp_keepalive_time", "10");
    sysctl("net.ipv4.tcp_keepalive_intvl", "2");
    sysctl("net.ipv4.tcp_keepalive_probes", "3");
  }
  // A keepalive probe: no data, one below SND.UNA, so the peer must answer.
  TcpSegment expect_probe(std::uint32_t snd_una) {
    const auto probe = peer_.expect(kTcpAck);
    EXPECT_EQ(probe.seq(), snd_una - 1);
    EXPECT_EQ(probe.ack(), kBase);
    EXPECT_TRUE(probe.payload.empty());
    return probe;
  }
};

TEST_F(TcpKeepalive, IdleConnectionIsProbedThenResetWhenThePeerIsGone) {
  auto conn = established();
  const std::uint32_t una = peer_.rcv_nxt();
  conn.set_keepalive(true);
  const auto t0 = clock_.now();
  peer_.run_until(t0 + 9999ms);
  peer_.expect_none();
  peer_.run_until(t0 + 10s);
  expect_probe(una);
  peer_.send_ack();  // alive
  peer_.expect_none();
  // Idle again: the next probe comes a full idle time after the answer.
  const auto t1 = clock_.now();
  peer_.run_until(t1 + 9999ms);
  peer_.expect_none();
  peer_.run_until(t1 + 15s);
  for (auto at : {10s, 12s, 14s}) EXPECT_EQ(expect_probe(una).at - t1, at);
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::established);
  peer_.run_until(t1 + 16s);  // three probes unanswered: an RST, and timed_out
  const auto rst = peer_.expect(kTcpRst | kTcpAck);
  EXPECT_EQ(rst.at - t1, 16s);
  EXPECT_EQ(rst.seq(), una);
  expect_failed(conn, boost::system::errc::timed_out);
  EXPECT_EQ(counter("TcpExtTCPKeepAlive"), 4u);
  EXPECT_EQ(counter("TcpExtTCPAbortOnTimeout"), 1u);
}

TEST_F(TcpKeepalive, TrafficPostponesTheProbe) {
  auto conn = established();
  conn.set_keepalive(true);
  const auto t0 = clock_.now();
  peer_.run_for(6s);
  peer_.send_data(10);  // the peer speaks at 6 s
  peer_.run_until(t0 + 15999ms);
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), kBase + 10);  // the delayed ACK, and nothing else
  peer_.run_until(t0 + 16s);
  const auto probe = peer_.expect(kTcpAck);
  EXPECT_EQ(probe.at - t0, 16s);
  EXPECT_EQ(probe.ack(), kBase + 10);
}

TEST_F(TcpKeepalive, OffByDefault) {
  auto conn = established();
  peer_.run_for(1h);
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::established);
}

TEST_F(TcpKeepalive, TurningItOffStopsTheProbes) {
  auto conn = established();
  conn.set_keepalive(true);
  peer_.run_for(5s);
  conn.set_keepalive(false);
  peer_.run_for(1h);
  peer_.expect_none();
}

// The idle time counts from the handshake for connect()ed streams too, not
// from the clock's epoch.
TEST_F(TcpKeepalive, ActiveOpenWaitsTheIdleTimeToo) {
  peer_.run_for(100s);
  auto conn = connect_peer();
  conn.set_keepalive(true);
  const auto t0 = clock_.now();
  peer_.run_until(t0 + 9999ms);
  peer_.expect_none();
  peer_.run_until(t0 + 10s);
  EXPECT_EQ(peer_.expect(kTcpAck).at - t0, 10s);
}

// ---- ss ----

using TcpDumpSockets = TcpPeerTest;

// One line of `ss -t -a -n`: State, Recv-Q, Send-Q, Local Address:Port, Peer Address:Port.
std::string ss_line(std::string_view state, std::string_view recv_q, std::string_view send_q,
                    std::string_view local, std::string_view peer) {
  return fmt::format("{:<11}{:<7}{:<7}{:>24} {:<24}\n", state, recv_q, send_q, local, peer);
}

bool has_line(const std::string& dump, const std::string& line) { return dump.find(line) != std::string::npos; }

TEST_F(TcpDumpSockets, EstablishedAndTimeWait) {
  listener_ = listen();
  auto conn = accept_peer(listener_);
  peer_.send_data(5);
  ASSERT_EQ(write(conn, 7).value(), 7u);  // sent, not yet acknowledged
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  std::string dump = tcp::dump_sockets(*net_);
  EXPECT_EQ(dump.substr(0, dump.find('\n') + 1),
            ss_line("State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"));
  EXPECT_TRUE(has_line(dump, ss_line("ESTAB", "5", "7", "192.0.2.1:80", "192.0.2.2:40000"))) << dump;

  // The namespace closes first and ends in TIME_WAIT.
  EXPECT_EQ(read_all(conn).size(), 5u);
  ASSERT_TRUE(conn.shutdown());
  peer_.set_rcv_nxt(data.end());
  peer_.ack(peer_.expect(kTcpFin | kTcpAck));
  peer_.send_fin();
  peer_.expect(kTcpAck);
  dump = tcp::dump_sockets(*net_);
  EXPECT_TRUE(has_line(dump, ss_line("TIME-WAIT", "0", "0", "192.0.2.1:80", "192.0.2.2:40000"))) << dump;
  EXPECT_EQ(std::count(dump.begin(), dump.end(), '\n'), 3);  // header, LISTEN, TIME-WAIT
}

TEST_F(TcpDumpSockets, SynRecvAndAcceptQueue) {
  auto listener = listen();
  peer_.send(peer_.syn());
  peer_.learn_synack(peer_.expect(kTcpSyn | kTcpAck));
  std::string dump = tcp::dump_sockets(*net_);
  EXPECT_TRUE(has_line(dump, ss_line("SYN-RECV", "0", "0", "192.0.2.1:80", "192.0.2.2:40000"))) << dump;
  peer_.send_ack();
  dump = tcp::dump_sockets(*net_);
  EXPECT_TRUE(has_line(dump, ss_line("ESTAB", "0", "0", "192.0.2.1:80", "192.0.2.2:40000"))) << dump;
}

// A LISTEN line shows connections waiting as Recv-Q and the accept backlog as Send-Q,
// as Linux's ss does (`LISTEN 1 128 0.0.0.0:80 0.0.0.0:*`).
TEST_F(TcpDumpSockets, ListenShowsPendingAndBacklog) {
  auto listener = listen(kTcpLocalPort, 128);
  peer_.connect();
  const std::string dump = tcp::dump_sockets(*net_);
  EXPECT_TRUE(has_line(dump, ss_line("LISTEN", "1", "128", "0.0.0.0:80", "0.0.0.0:*"))) << dump;
}

}  // namespace ipv4_tcp_keepalive_test
}  // namespace
}  // namespace netns
