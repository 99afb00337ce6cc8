// Loss recovery seen from the wire: the retransmission timer (RFC 6298 with
// Linux's 200 ms floor) and its backoff, fast retransmit with NewReno
// (RFC 6582) or SACK, and giving up after tcp_retries2. Tests of the RTO
// alone turn tail loss probes off (net.ipv4.tcp_early_retrans = 0);
// rack_test.cpp has the probes and RACK.
#include <chrono>
#include <vector>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_retransmit_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kMss = 1448;

class TcpRetransmit : public TcpPeerTest {
 protected:
  void no_loss_probes() { sysctl("net.ipv4.tcp_early_retrans", "0"); }
  // Writes `count` full segments and takes them off the wire.
  std::vector<TcpSegment> send_segments(tcp::Stream& conn, std::uint32_t count) {
    EXPECT_EQ(write(conn, count * kMss).value(), count * kMss);
    std::vector<TcpSegment> out;
    for (std::uint32_t i = 0; i < count; ++i) {
      out.push_back(peer_.expect());
      EXPECT_EQ(out.back().payload.size(), kMss);
    }
    peer_.expect_none();
    return out;
  }
  // A duplicate ACK of rcv_nxt() with SACK blocks [from, to) in segments of `segs`.
  void send_sack(const std::vector<TcpSegment>& segs,
                 std::initializer_list<std::pair<std::size_t, std::size_t>> blocks) {
    auto ack = peer_.segment(kTcpAck);
    for (auto [from, to] : blocks) {
      ack.sack_blocks[ack.sack_block_count++] = {segs[from].seq(), segs[to - 1].end()};
    }
    peer_.send(ack);
  }
  // How long a first segment waits for its first retransmission.
  Clock::duration first_rto(tcp::Stream& conn) {
    EXPECT_EQ(write(conn, 100).value(), 100u);
    const auto sent = peer_.expect();
    return peer_.expect_within(10s).at - sent.at;
  }
  // A retransmission of `original`, same bytes at the same place.
  TcpSegment expect_again(const TcpSegment& original,
                          std::source_location where = std::source_location::current()) {
    const auto again = peer_.expect(where);
    EXPECT_EQ(again.seq(), original.seq()) << "at line " << where.line();
    EXPECT_EQ(again.payload, original.payload) << "at line " << where.line();
    EXPECT_EQ(again.tcp.flags & ~kTcpPsh, kTcpAck) << "at line " << where.line();
    return again;
  }
};

TEST_F(TcpRetransmit, RtoFiresThenBacksOff) {
  no_loss_probes();
  auto conn = established();  // RTT 10 ms: RTO 210 ms
  const auto t0 = clock_.now();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  const auto first = peer_.expect(kTcpAck | kTcpPsh);
  peer_.run_until(t0 + 1469ms);
  for (auto at : {210ms, 630ms}) EXPECT_EQ(expect_again(first).at - t0, at);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpRetransSegs"), 2u);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 2u);
  peer_.run_until(t0 + 1470ms);  // 210, then 420, then 840 later
  const auto third = peer_.expect();
  EXPECT_EQ(third.at - t0, 1470ms);
  EXPECT_EQ(third.seq(), first.seq());
  // An ACK ends it.
  peer_.ack(third);
  peer_.run_for(10s);
  peer_.expect_none();
  EXPECT_EQ(conn.info().retransmits, 3u);
}

TEST_F(TcpRetransmit, RtoTimesAreExact) {
  no_loss_probes();
  auto conn = established();
  const auto t0 = clock_.now();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  peer_.expect();
  peer_.run_until(t0 + 3150ms);
  for (auto at : {210ms, 630ms, 1470ms, 3150ms}) EXPECT_EQ(peer_.expect().at - t0, at);
}

TEST_F(TcpRetransmit, RtoHasA200msFloor) {
  no_loss_probes();
  auto conn = established({.rtt = 1ms});
  EXPECT_EQ(conn.info().rto_ms, 201u);  // SRTT 1 ms + max(200 ms, 4 * RTTVAR)
  EXPECT_EQ(first_rto(conn), 201ms);
}

TEST_F(TcpRetransmit, LongRttGivesALongerRto) {
  no_loss_probes();
  auto conn = established({.rtt = 100ms});
  EXPECT_EQ(conn.info().rto_ms, 300u);  // 100 ms + max(200 ms, 4 * 50 ms)
  EXPECT_EQ(first_rto(conn), 300ms);
}

// After a retransmitted SYN (no RTT sample, Karn) the RTO is 3 s once data transmission
// begins (RFC 6298 5.7; Linux's tcp_init_metrics, TCP_TIMEOUT_FALLBACK).
TEST_F(TcpRetransmit, RtoIsThreeSecondsAfterALostSyn) {
  no_loss_probes();
  auto conn = tcp::connect(*net_, peer_.self()).value();
  peer_.expect(kTcpSyn);  // lost
  peer_.run_for(1s);
  peer_.accept(PeerOptions{.timestamps = false});  // answers the retransmission
  ASSERT_EQ(conn.state(), tcp::State::established);
  EXPECT_EQ(conn.info().rto_ms, 3000u);
  EXPECT_EQ(first_rto(conn), 3s);
}

TEST_F(TcpRetransmit, AfterATimeoutTheWindowStartsAgainFromOneSegment) {
  no_loss_probes();
  auto conn = established();
  const auto segs = send_segments(conn, 10);
  peer_.run_for(210ms);
  expect_again(segs[0]);  // cwnd is one segment (RFC 5681 3.1)
  peer_.expect_none();
  EXPECT_EQ(conn.info().cwnd, kMss);
  peer_.ack(segs[0]);
  expect_again(segs[1]);  // slow start: two for the one acknowledged
  expect_again(segs[2]);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpRetransSegs"), 3u);
}

TEST_F(TcpRetransmit, ThreeDupAcksTriggerNewRenoFastRetransmit) {
  auto conn = established({.sack_permitted = false});
  const auto segs = send_segments(conn, 10);
  peer_.ack(segs[0]);
  peer_.expect_none();  // nothing more to send
  peer_.send_ack();
  peer_.send_ack();
  peer_.expect_none();  // two duplicates are reordering, maybe
  peer_.send_ack();
  expect_again(segs[1]);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPRenoRecovery"), 1u);
  EXPECT_EQ(counter("TcpExtTCPFastRetrans"), 1u);
  EXPECT_EQ(counter("TcpRetransSegs"), 1u);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 0u);
  // A partial ACK (RFC 6582 3.2 step 5): the next hole goes at once.
  peer_.set_rcv_nxt(segs[4].end());
  peer_.send_ack();
  expect_again(segs[5]);
  peer_.expect_none();
  // The full ACK: without SACK, recovery holds until something above the
  // recovery point is acknowledged (RFC 6582 4.1, Linux's
  // tcp_is_non_sack_preventing_reopen); the next write's ACK ends it, with
  // cwnd at ssthresh.
  peer_.set_rcv_nxt(segs[9].end());
  peer_.send_ack();
  peer_.expect_none();
  EXPECT_EQ(counter("TcpRetransSegs"), 2u);
  EXPECT_LE(conn.info().cwnd, conn.info().ssthresh);
  ASSERT_EQ(write(conn, kMss).value(), kMss);
  peer_.ack(peer_.expect());
  EXPECT_EQ(conn.info().cwnd, conn.info().ssthresh);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 0u);
}

TEST_F(TcpRetransmit, SackRecoveryRetransmitsTheHoles) {
  auto conn = established();
  const auto segs = send_segments(conn, 10);
  peer_.run_for(10ms);  // the ACKs come a round trip later
  // Segment 1 and segment 5 are lost. Two SACKed segments may be
  // reordering (RACK waits a quarter of the minimum RTT); the third is
  // DupThresh, and RACK waits no more when no reordering was seen.
  peer_.ack(segs[0]);
  send_sack(segs, {{2, 3}});
  send_sack(segs, {{2, 4}});
  peer_.expect_none();
  send_sack(segs, {{2, 5}});  // the third duplicate
  expect_again(segs[1]);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPSackRecovery"), 1u);
  send_sack(segs, {{6, 10}, {2, 5}});
  expect_again(segs[5]);  // the second hole, not the SACKed data around it
  peer_.expect_none();
  EXPECT_EQ(counter("TcpRetransSegs"), 2u);
  // Both holes filled.
  peer_.set_rcv_nxt(segs[9].end());
  peer_.send_ack();
  peer_.run_for(5s);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 0u);
}

TEST_F(TcpRetransmit, ThreeSegmentsSackedAboveAHoleAreALossAtOnce) {
  auto conn = established();
  const auto segs = send_segments(conn, 5);
  send_sack(segs, {{1, 4}});  // one duplicate ACK, but DupThresh segments above the hole (RFC 6675 IsLost)
  expect_again(segs[0]);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPSackRecovery"), 1u);
}

TEST_F(TcpRetransmit, SackedDataIsNotRetransmittedByTheTimer) {
  no_loss_probes();
  sysctl("net.ipv4.tcp_recovery", "0");  // no RACK: two SACKed segments are below DupThresh
  auto conn = established();
  const auto segs = send_segments(conn, 3);
  peer_.run_for(10ms);
  send_sack(segs, {{1, 3}});  // only the first segment is missing
  peer_.run_for(300ms);
  expect_again(segs[0]);
  peer_.ack(segs[2]);
  peer_.run_for(5s);
  peer_.expect_none();
}

TEST_F(TcpRetransmit, GivesUpAfterTcpRetries2) {
  no_loss_probes();
  sysctl("net.ipv4.tcp_retries2", "3");
  auto conn = established();
  const auto t0 = clock_.now();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  const auto first = peer_.expect();
  peer_.run_until(t0 + 3149ms);
  for (int i = 0; i < 3; ++i) expect_again(first);
  peer_.expect_none();
  expect_timeout_at(conn, t0 + 3150ms);
  while (peer_.pending() != 0) peer_.expect(kTcpRst | kTcpAck);  // see GivingUpSendsNoRst
}

// When the retransmission timer gives up, the connection closes and nothing is sent
// (Linux's tcp_write_timeout -> tcp_write_err; only keepalive's give-up sends an RST).
TEST_F(TcpRetransmit, GivingUpSendsNoRst) {
  no_loss_probes();
  sysctl("net.ipv4.tcp_retries2", "3");
  auto conn = established();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  peer_.expect();
  peer_.run_for(3140ms);
  for (int i = 0; i < 3; ++i) peer_.expect();
  peer_.run_for(10ms);
  EXPECT_EQ(conn.state(), tcp::State::closed);
  peer_.expect_none();
}

}  // namespace ipv4_tcp_retransmit_test
}  // namespace
}  // namespace netns
