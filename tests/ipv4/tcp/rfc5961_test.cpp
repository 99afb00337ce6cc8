// Blind in-window attacks (RFC 5961) and old duplicates (PAWS, RFC 7323 5)
// against an established connection: what is accepted, what is answered
// with a (rate-limited) challenge ACK, what is dropped in silence.
#include <chrono>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_rfc5961_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint16_t kOtherPort = kTcpPeerPort + 1;  // a second peer

constexpr std::uint32_t kBase = kTcpPeerIss + 1;

class TcpRfc5961 : public TcpPeerTest {
 protected:
  // An RST from the peer at `offset` from the sequence number the namespace expects.
  void send_rst(std::int64_t offset) {
    auto rst = peer_.segment(kTcpRst);
    rst.seq_number = static_cast<std::uint32_t>(peer_.snd_nxt() + offset);
    peer_.send(rst);
  }
  // The answer to a blind segment: a pure ACK of what the connection has.
  void expect_challenge_ack() {
    const auto ack = peer_.expect(kTcpAck);
    EXPECT_EQ(ack.seq(), peer_.rcv_nxt());
    EXPECT_EQ(ack.ack(), peer_.snd_nxt());
    EXPECT_TRUE(ack.payload.empty());
  }
  void expect_reset(tcp::Stream& conn) { expect_failed(conn, boost::system::errc::connection_reset); }
};

using TcpPaws = TcpRfc5961;

TEST_F(TcpRfc5961, RstAtExactlyRcvNxtResets) {
  auto conn = established();
  send_rst(0);
  peer_.expect_none();
  expect_reset(conn);
  EXPECT_EQ(counter("TcpEstabResets"), 1u);
  EXPECT_EQ(counter("TcpCurrEstab"), 0u);
}

TEST_F(TcpRfc5961, RstInTheWindowButNotExactGetsAChallengeAck) {
  auto conn = established();
  send_rst(1000);
  expect_challenge_ack();
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::established);
  EXPECT_EQ(counter("TcpExtTCPChallengeACK"), 1u);
  EXPECT_EQ(counter("TcpEstabResets"), 0u);
  // The real peer answers the challenge with an RST at the acknowledged number.
  send_rst(0);
  expect_reset(conn);
}

TEST_F(TcpRfc5961, RstOutsideTheWindowIsIgnored) {
  auto conn = established();
  send_rst(200'000);  // beyond the 128 KiB window
  send_rst(-1000);    // before it
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::established);
  EXPECT_EQ(counter("TcpExtTCPChallengeACK"), 0u);
}

TEST_F(TcpRfc5961, SynOnAnEstablishedConnectionGetsAChallengeAck) {
  auto conn = established();
  auto syn = peer_.syn();
  syn.seq_number = peer_.snd_nxt();  // in the window
  peer_.send(syn);
  expect_challenge_ack();
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::established);
  EXPECT_EQ(counter("TcpExtTCPSYNChallenge"), 1u);
  EXPECT_EQ(counter("TcpExtTCPChallengeACK"), 1u);
}

// A SYN outside the receive window gets a rate-limited challenge ACK too (RFC 5961 4.2;
// Linux's tcp_validate_incoming, syn_challenge, TcpExtTCPSYNChallenge).
TEST_F(TcpRfc5961, SynOutsideTheWindowGetsAChallengeAckToo) {
  auto conn = established();
  auto syn = peer_.syn();
  syn.seq_number = peer_.snd_nxt() + 500'000;  // a new incarnation's ISN
  peer_.send(syn);
  expect_challenge_ack();
  EXPECT_EQ(counter("TcpExtTCPSYNChallenge"), 1u);
  EXPECT_EQ(counter("TcpExtTCPChallengeACK"), 1u);
}

TEST_F(TcpRfc5961, ChallengeAcksAreRateLimitedPerNamespace) {
  sysctl("net.ipv4.tcp_challenge_ack_limit", "2");
  sysctl("net.ipv4.tcp_invalid_ratelimit", "0");  // no per-socket limit in the way
  listener_ = listen();
  auto a = accept_peer(listener_);
  peer_.set_self({kTcpPeer, kOtherPort});
  auto b = accept_peer(listener_);
  // Three blind RSTs at each connection in the same second: two answers in all.
  for (std::uint16_t port : {kTcpPeerPort, kOtherPort}) {
    peer_.set_self({kTcpPeer, port});
    for (int i = 0; i < 3; ++i) send_rst(1000 + i);
  }
  EXPECT_EQ(peer_.expect(kTcpAck).tcp.dst_port, kTcpPeerPort);
  EXPECT_EQ(peer_.expect(kTcpAck).tcp.dst_port, kTcpPeerPort);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPChallengeACK"), 2u);
  // A second later the budget is there again.
  peer_.run_for(1s);
  send_rst(1000);
  EXPECT_EQ(peer_.expect(kTcpAck).tcp.dst_port, kOtherPort);
  EXPECT_EQ(a.state(), tcp::State::established);
  EXPECT_EQ(b.state(), tcp::State::established);
}

// Challenge ACKs are rate limited per socket: one out-of-window event per
// net.ipv4.tcp_invalid_ratelimit (500 ms), as Linux's __tcp_oow_rate_limited does.
TEST_F(TcpRfc5961, ChallengeAcksAreRateLimitedPerSocket) {
  auto conn = established();
  send_rst(1000);
  send_rst(1001);
  send_rst(1002);
  expect_challenge_ack();
  peer_.expect_none();
  peer_.run_for(500ms);
  send_rst(1003);
  expect_challenge_ack();
}

TEST_F(TcpRfc5961, AckOfDataNeverSentIsAnsweredAndTheSegmentDropped) {
  auto conn = established();
  auto seg = peer_.segment(kTcpAck | kTcpPsh);
  seg.ack_number = peer_.rcv_nxt() + 1000;  // the namespace sent nothing yet
  peer_.send(seg, pattern(100));
  expect_challenge_ack();  // RFC 9293 3.10.7.4 fifth check: send an ACK, drop the segment
  peer_.expect_none();
  EXPECT_EQ(conn.readable_bytes(), 0u);
  EXPECT_EQ(conn.state(), tcp::State::established);
}

TEST_F(TcpRfc5961, AckOlderThanTheLargestWindowIsAnsweredAndTheSegmentDropped) {
  auto conn = established();
  auto seg = peer_.segment(kTcpAck | kTcpPsh);
  seg.ack_number = peer_.rcv_nxt() - 200'000;  // SND.UNA - MAX.SND.WND is 128 KiB back
  peer_.send(seg, pattern(100));
  expect_challenge_ack();  // RFC 5961 5.2
  EXPECT_EQ(conn.readable_bytes(), 0u);
  EXPECT_EQ(counter("TcpExtTCPChallengeACK"), 1u);
}

TEST_F(TcpRfc5961, SlightlyOldAckStillCarriesData) {
  auto conn = established();
  auto seg = peer_.segment(kTcpAck | kTcpPsh);
  seg.ack_number = peer_.rcv_nxt() - 10;
  peer_.send(seg, pattern(100));
  peer_.expect_none();  // a delayed ACK, not a challenge
  EXPECT_EQ(conn.readable_bytes(), 100u);
}

using TcpChallengeBudget = TcpPeerTest;

// The budget is there from the first challenge, even in the first second
// of a clock that starts at 0 (HostConfig::start's default).
TEST_F(TcpChallengeBudget, FirstSecondOfTheClock) {
  auto conn = established();  // at 10 ms
  auto rst = peer_.segment(kTcpRst);
  rst.seq_number += 1000;
  peer_.send(rst);
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), kBase);
  EXPECT_EQ(counter("TcpExtTCPChallengeACK"), 1u);
}

// ---- PAWS ----

TEST_F(TcpPaws, OldTimestampIsDroppedWithADupAck) {
  auto conn = established();
  auto seg = peer_.segment(kTcpAck | kTcpPsh);
  const std::uint32_t recent = seg.timestamps->value;  // the final ACK's, at this same instant
  seg.timestamps->value = recent - 2;
  peer_.send(seg, pattern(100));
  const auto dup = peer_.expect(kTcpAck);
  EXPECT_EQ(dup.ack(), kBase);
  ASSERT_TRUE(dup.tcp.timestamps);
  EXPECT_EQ(dup.tcp.timestamps->echo, recent);  // TS.Recent did not move
  peer_.expect_none();
  EXPECT_EQ(conn.readable_bytes(), 0u);
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 1u);
}

// Linux's TCP_PAWS_WINDOW: one tick older than TS.Recent is let through
// (segments the peer sent within one tick of its clock may arrive
// reordered), and TS.Recent does not go back to it (tcp_replace_ts_recent).
TEST_F(TcpPaws, OneTickOlderIsAcceptedAndTsRecentStays) {
  auto conn = established();
  auto seg = peer_.segment(kTcpAck | kTcpPsh);
  const std::uint32_t recent = seg.timestamps->value;
  seg.timestamps->value = recent - 1;
  peer_.send(seg, pattern(100));
  EXPECT_EQ(conn.readable_bytes(), 100u);
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 0u);
  peer_.run_for(40ms);
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase + 100);
  ASSERT_TRUE(ack.tcp.timestamps);
  EXPECT_EQ(ack.tcp.timestamps->echo, recent);
}

// Linux's tcp_disordered_ack: a pure duplicate ACK that changes nothing is
// let through with a timestamp up to an RTO's worth of ticks old (reordered
// ACKs do no harm); older, PAWS refuses it.
TEST_F(TcpPaws, DisorderedDuplicateAckWithinAnRtoIsLetThrough) {
  auto conn = established();  // RTO 210 ms
  peer_.run_for(1s);
  peer_.send_data(100);
  peer_.run_for(40ms);
  peer_.expect(kTcpAck);
  // A pure ACK: TS.Recent, and the last window update, are its.
  auto dup = peer_.segment(kTcpAck);
  const std::uint32_t recent = dup.timestamps->value;
  peer_.send(dup);
  peer_.expect_none();
  dup.timestamps->value = recent - 200;
  peer_.send(dup);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 0u);
  dup.timestamps->value = recent - 300;
  peer_.send(dup);
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 1u);
  EXPECT_EQ(peer_.expect(kTcpAck).tcp.timestamps->echo, recent);
}

TEST_F(TcpPaws, EqualTimestampIsAccepted) {
  auto conn = established();
  peer_.send_data(100);  // the same TSval as the final ACK
  EXPECT_EQ(conn.readable_bytes(), 100u);
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 0u);
}

TEST_F(TcpPaws, TimestampsCompareModulo32Bits) {
  auto conn = established();
  const std::uint32_t recent = peer_.segment().timestamps->value;
  auto send_with_tsval = [&](std::uint32_t tsval) {
    auto seg = peer_.segment(kTcpAck | kTcpPsh);
    seg.timestamps->value = tsval;
    peer_.send(seg, pattern(100));
    peer_.set_snd_nxt(peer_.snd_nxt() + 100);
    peer_.run_for(40ms);  // the delayed ACK: the next segment is at Last.ACK.sent
    while (peer_.pending() != 0) peer_.expect(kTcpAck);
  };
  send_with_tsval(recent + 0x7fff'fff0);  // ahead
  send_with_tsval(recent + 0xffff'ffe0);  // ahead again, though numerically smaller once wrapped
  EXPECT_EQ(conn.readable_bytes(), 200u);
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 0u);
  send_with_tsval(recent + 0xffff'ffde);  // two behind the last (one is tolerated)
  EXPECT_EQ(conn.readable_bytes(), 200u);
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 1u);
}

TEST_F(TcpPaws, RstIsAcceptedWhateverItsTimestamp) {
  auto conn = established();
  auto rst = peer_.segment(kTcpRst);
  rst.timestamps->value -= 1000;
  peer_.send(rst);
  expect_reset(conn);
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 0u);
}

}  // namespace ipv4_tcp_rfc5961_test
}  // namespace
}  // namespace netns
