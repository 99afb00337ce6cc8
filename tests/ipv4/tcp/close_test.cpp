// Closing, segment by segment (RFC 9293 3.6): the active close through
// FIN_WAIT and TIME_WAIT, the simultaneous close through CLOSING, the
// passive close through CLOSE_WAIT and LAST_ACK, aborts, and what orphans
// and TIME_WAIT do with late segments.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_close_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kBase = kTcpPeerIss + 1;

class TcpClose : public TcpPeerTest {
 protected:
  bool dump_has(std::string_view state) {
    return tcp::dump_sockets(*net_).find(state) != std::string::npos;
  }
  // The namespace closes first (shutdown, or close when `orphan`), the
  // peer ACKs its FIN and sends its own: TIME_WAIT. Returns the FIN.
  TcpSegment close_to_time_wait(tcp::Stream& conn, bool orphan) {
    if (orphan) {
      conn.close();
    } else {
      EXPECT_TRUE(conn.shutdown());
    }
    const auto fin = peer_.expect(kTcpFin | kTcpAck);
    peer_.ack(fin);
    peer_.send_fin();
    peer_.expect(kTcpAck);
    return fin;
  }
};

TEST_F(TcpClose, ActiveCloseGoesThroughFinWaitToTimeWaitForSixtySeconds) {
  auto conn = established();
  const std::uint32_t ours = peer_.rcv_nxt();
  ASSERT_TRUE(conn.shutdown());
  EXPECT_EQ(conn.state(), tcp::State::fin_wait_1);
  const auto fin = peer_.expect(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.seq(), ours);
  EXPECT_EQ(fin.ack(), kBase);
  EXPECT_TRUE(fin.payload.empty());

  peer_.ack(fin);
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::fin_wait_2);

  peer_.send_fin();
  const auto ack = peer_.expect(kTcpAck);  // the peer's FIN is acknowledged at once
  EXPECT_EQ(ack.seq(), ours + 1);
  EXPECT_EQ(ack.ack(), kBase + 1);
  EXPECT_EQ(conn.state(), tcp::State::time_wait);
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(conn.read(buf).value(), 0u);  // end of stream

  const auto t0 = clock_.now();
  peer_.run_until(t0 + 59'999ms);
  EXPECT_EQ(conn.state(), tcp::State::time_wait);
  peer_.run_until(t0 + 60s);
  EXPECT_EQ(conn.state(), tcp::State::closed);
  peer_.expect_none();  // TIME_WAIT ends without a word
}

TEST_F(TcpClose, FinIsRetransmittedUntilAcknowledged) {
  auto conn = established();
  const auto t0 = clock_.now();
  ASSERT_TRUE(conn.shutdown());
  const auto fin = peer_.expect(kTcpFin | kTcpAck);
  // As Linux: a tail loss probe at the RTO's time (2 SRTT + 200 ms for a
  // lone segment, capped by the RTO), then the RTO itself, doubling.
  peer_.run_until(t0 + 840ms);
  for (auto at : {210ms, 420ms, 840ms}) {
    const auto again = peer_.expect(kTcpFin | kTcpAck);
    EXPECT_EQ(again.at - t0, at);
    EXPECT_EQ(again.seq(), fin.seq());
  }
  EXPECT_EQ(counter("TcpExtTCPLossProbes"), 1u);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 2u);
  peer_.ack(fin);
  peer_.run_for(10s);
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::fin_wait_2);
}

TEST_F(TcpClose, FinRidesOnTheLastDataSegment) {
  auto conn = established();
  ASSERT_EQ(write(conn, 10).value(), 10u);
  const auto first = peer_.expect(kTcpAck | kTcpPsh);
  ASSERT_EQ(write(conn, 10).value(), 10u);  // held by Nagle
  ASSERT_TRUE(conn.shutdown());
  const auto last = peer_.expect(kTcpFin | kTcpAck | kTcpPsh);
  EXPECT_EQ(last.seq(), first.end());
  EXPECT_EQ(last.payload.size(), 10u);
  peer_.expect_none();
}

TEST_F(TcpClose, SimultaneousCloseGoesThroughClosing) {
  auto conn = established();
  const std::uint32_t ours = peer_.rcv_nxt();
  ASSERT_TRUE(conn.shutdown());
  const auto fin = peer_.expect(kTcpFin | kTcpAck);
  // The peer's FIN crosses ours: it does not acknowledge it.
  peer_.send_fin();
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.seq(), ours + 1);
  EXPECT_EQ(ack.ack(), kBase + 1);
  EXPECT_EQ(conn.state(), tcp::State::closing);
  peer_.ack(fin);
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::time_wait);
}

TEST_F(TcpClose, PassiveCloseGoesThroughCloseWaitAndLastAck) {
  auto conn = established();
  const std::uint32_t ours = peer_.rcv_nxt();
  peer_.send_fin();
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.seq(), ours);
  EXPECT_EQ(ack.ack(), kBase + 1);
  EXPECT_EQ(conn.state(), tcp::State::close_wait);
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(conn.read(buf).value(), 0u);
  // It may still send.
  ASSERT_EQ(write(conn, 5).value(), 5u);
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  peer_.ack(data);
  ASSERT_TRUE(conn.shutdown());
  EXPECT_EQ(conn.state(), tcp::State::last_ack);
  const auto fin = peer_.expect(kTcpFin | kTcpAck);
  EXPECT_EQ(fin.seq(), ours + 5);
  EXPECT_EQ(fin.ack(), kBase + 1);
  peer_.ack(fin);
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::closed);
  EXPECT_EQ(counter("TcpCurrEstab"), 0u);
  peer_.run_for(120s);
  peer_.expect_none();  // no TIME_WAIT on this side
}

TEST_F(TcpClose, RetransmittedFinInCloseWaitIsAckedAgain) {
  auto conn = established();
  peer_.send_fin();
  const auto ack = peer_.expect(kTcpAck);
  peer_.set_snd_nxt(kBase);
  peer_.send_fin();  // our ACK was lost
  const auto again = peer_.expect(kTcpAck);
  EXPECT_EQ(again.seq(), ack.seq());
  EXPECT_EQ(again.ack(), kBase + 1);
  EXPECT_EQ(conn.state(), tcp::State::close_wait);
}

TEST_F(TcpClose, RstInCloseWaitResets) {
  auto conn = established();
  peer_.send_fin();
  peer_.expect(kTcpAck);
  peer_.send(peer_.segment(kTcpRst));
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::closed);
  EXPECT_EQ(counter("TcpEstabResets"), 1u);
}

TEST_F(TcpClose, RstEndsTimeWait) {
  auto conn = established();
  close_to_time_wait(conn, false);
  peer_.send(peer_.segment(kTcpRst));  // net.ipv4.tcp_rfc1337 = 0, as Linux
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::closed);
}

TEST_F(TcpClose, CloseWithUnreadDataSendsRst) {
  auto conn = established();
  const std::uint32_t ours = peer_.rcv_nxt();
  peer_.send_data(100);  // its ACK is delayed
  conn.close();
  const auto rst = peer_.expect(kTcpRst | kTcpAck);
  EXPECT_EQ(rst.seq(), ours);
  EXPECT_EQ(rst.ack(), kBase + 100);
  EXPECT_TRUE(rst.payload.empty());
  EXPECT_EQ(counter("TcpExtTCPAbortOnClose"), 1u);
  EXPECT_EQ(counter("TcpOutRsts"), 1u);
  peer_.run_for(1s);
  peer_.expect_none();  // nothing after the reset, not even the delayed ACK
  EXPECT_FALSE(dump_has(":40000"));
}

TEST_F(TcpClose, AbortSendsRstAtOnce) {
  auto conn = established();
  const std::uint32_t ours = peer_.rcv_nxt();
  conn.abort();
  const auto rst = peer_.expect(kTcpRst | kTcpAck);
  EXPECT_EQ(rst.seq(), ours);
  EXPECT_EQ(rst.ack(), kBase);
}

TEST_F(TcpClose, FinRetransmittedInTimeWaitIsAckedAndRestartsTheTimer) {
  auto conn = established();
  const auto fin = close_to_time_wait(conn, false);
  const auto t0 = clock_.now();
  peer_.run_for(30s);
  peer_.set_snd_nxt(kBase);
  peer_.send_fin();  // our ACK of it was lost, thinks the peer
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.seq(), fin.seq() + 1);
  EXPECT_EQ(ack.ack(), kBase + 1);
  peer_.run_until(t0 + 89'999ms);
  EXPECT_EQ(conn.state(), tcp::State::time_wait);
  peer_.run_until(t0 + 90s);
  EXPECT_EQ(conn.state(), tcp::State::closed);
}

TEST_F(TcpClose, OldSynInTimeWaitGetsAnAck) {
  auto conn = established();
  const auto fin = close_to_time_wait(conn, false);
  peer_.send(peer_.syn());  // the old ISN: not a new incarnation
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.seq(), fin.seq() + 1);
  EXPECT_EQ(ack.ack(), kBase + 1);
  EXPECT_EQ(conn.state(), tcp::State::time_wait);
}

TEST_F(TcpClose, OrphanInTimeWaitAnswersThenLeaves) {
  auto conn = established();
  close_to_time_wait(conn, true);
  EXPECT_TRUE(dump_has("TIME-WAIT"));
  // An old duplicate is answered with an ACK of what TIME_WAIT has.
  peer_.set_snd_nxt(kBase - 100);
  peer_.send_data(10);
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), kBase + 1);
  peer_.run_for(60s);
  EXPECT_FALSE(dump_has("TIME-WAIT"));
  // Gone: the next segment meets no socket.
  peer_.set_snd_nxt(kBase + 1);
  peer_.send_ack();
  EXPECT_EQ(peer_.expect(kTcpRst).seq(), peer_.rcv_nxt());
}

TEST_F(TcpClose, OrphanFinWait2TimesOutAfterTcpFinTimeout) {
  sysctl("net.ipv4.tcp_fin_timeout", "5");
  auto conn = established();
  conn.close();
  const auto fin = peer_.expect(kTcpFin | kTcpAck);
  peer_.ack(fin);
  const auto t0 = clock_.now();
  EXPECT_TRUE(dump_has("FIN-WAIT-2"));
  peer_.run_until(t0 + 4999ms);
  EXPECT_TRUE(dump_has("FIN-WAIT-2"));
  peer_.run_until(t0 + 5s);
  EXPECT_FALSE(dump_has("FIN-WAIT-2"));
  peer_.expect_none();
  // The peer's late FIN meets no socket.
  peer_.send_fin();
  EXPECT_EQ(peer_.expect(kTcpRst).seq(), fin.seq() + 1);
}

TEST_F(TcpClose, FinWait2AfterShutdownWaitsForThePeer) {
  sysctl("net.ipv4.tcp_fin_timeout", "5");
  auto conn = established();
  ASSERT_TRUE(conn.shutdown());
  peer_.ack(peer_.expect(kTcpFin | kTcpAck));
  peer_.run_for(1h);
  EXPECT_EQ(conn.state(), tcp::State::fin_wait_2);  // the user still holds it: no timeout
  peer_.send_data(7);  // and it still receives
  EXPECT_EQ(conn.readable_bytes(), 7u);
}

TEST_F(TcpClose, DataAfterTheUserClosedResets) {
  auto conn = established();
  conn.close();
  const auto fin = peer_.expect(kTcpFin | kTcpAck);
  peer_.ack(fin);
  peer_.send_data(10);  // nobody will ever read it
  const auto rst = peer_.expect();
  EXPECT_TRUE(rst.has(kTcpRst));  // Linux answers [R] at SEG.ACK; [R.] here: the same number
  EXPECT_EQ(rst.seq(), fin.seq() + 1);
  EXPECT_EQ(counter("TcpExtTCPAbortOnData"), 1u);
}

TEST_F(TcpClose, NewSynReplacesTimeWait) {
  listener_ = listen();
  auto conn = accept_peer(listener_);
  close_to_time_wait(conn, true);
  // A new incarnation with a higher sequence number.
  peer_.set_iss(kTcpPeerIss + 100'000);
  peer_.connect();
  EXPECT_EQ(listener_.pending(), 1u);
  EXPECT_FALSE(dump_has("TIME-WAIT"));
}

}  // namespace ipv4_tcp_close_test
}  // namespace
}  // namespace netns
