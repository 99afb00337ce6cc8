// ECN (RFC 3168) as Linux's tcp_ecn_*: negotiation by net.ipv4.tcp_ecn
// (0 off, 1 ask and accept, 2 accept only: Linux's default), ECT(0) on new
// data only, CE echoed as ECE until CWR, one window reduction per window of
// data for ECE, CWR on the next new data, and the IP layer's counts by ECN
// field (IpExtInNoECTPkts, InECT0Pkts, InCEPkts...).
#include <gtest/gtest.h>

#include "support/tcp_peer.hpp"

namespace netns::support {
namespace {
namespace ipv4_tcp_ecn_test {

using namespace std::chrono_literals;
using wire::Ecn;
using wire::kTcpCwr;
using wire::kTcpEce;

constexpr std::uint32_t kMss = 1448;

Ecn ecn_of(const TcpSegment& seg) { return Ecn{static_cast<std::uint8_t>(seg.ip.tos & 0x03)}; }

class TcpEcn : public TcpPeerTest {
 protected:
  static constexpr PeerOptions kEcnPeer{.ecn = true};

  // The SYN-ACK a listener gives a SYN asking for ECN.
  TcpSegment synack_to_ecn_syn(Ecn syn_ecn = Ecn::not_ect) {
    auto listener = listen();
    peer_.set_ecn(syn_ecn);
    peer_.send(peer_.syn(kEcnPeer));
    peer_.set_ecn(Ecn::not_ect);
    return peer_.expect();
  }
};

// ---- negotiation ----

TEST_F(TcpEcn, ListenerAgreesByDefault) {
  const TcpSegment synack = synack_to_ecn_syn();
  EXPECT_EQ(synack.tcp.flags, kTcpSyn | kTcpAck | kTcpEce);  // ECE alone: agreement
  EXPECT_EQ(ecn_of(synack), Ecn::not_ect);
}

TEST_F(TcpEcn, ListenerRefusesWhenOff) {
  sysctl("net.ipv4.tcp_ecn", "0");
  EXPECT_EQ(synack_to_ecn_syn().tcp.flags, kTcpSyn | kTcpAck);
}

TEST_F(TcpEcn, ListenerAgreesWhenAsking) {
  sysctl("net.ipv4.tcp_ecn", "1");
  EXPECT_EQ(synack_to_ecn_syn().tcp.flags, kTcpSyn | kTcpAck | kTcpEce);
}

// A SYN that is itself ECT does not come from an RFC 3168 sender
// (tcp_ecn_create_request).
TEST_F(TcpEcn, EctSynIsNotAgreedTo) {
  EXPECT_EQ(synack_to_ecn_syn(Ecn::ect0).tcp.flags, kTcpSyn | kTcpAck);
}

// ECE alone, or CWR alone, is no request.
TEST_F(TcpEcn, HalfARequestIsNone) {
  auto listener = listen();
  for (std::uint8_t flag : {kTcpEce, kTcpCwr}) {
    wire::TcpRepr syn = peer_.syn();
    syn.flags |= flag;
    peer_.send(syn);
    EXPECT_EQ(peer_.expect().tcp.flags, kTcpSyn | kTcpAck);
    peer_.set_self({kTcpPeer, static_cast<std::uint16_t>(kTcpPeerPort + 1)});
  }
}

TEST_F(TcpEcn, ActiveOpenDoesNotAskByDefault) {
  auto stream = tcp::connect(*net_, peer_.self());
  ASSERT_TRUE(stream);
  EXPECT_EQ(peer_.take_syn().tcp.flags, kTcpSyn);
}

TEST_F(TcpEcn, ActiveOpenAsksWhenOne) {
  sysctl("net.ipv4.tcp_ecn", "1");
  auto stream = tcp::connect(*net_, peer_.self());
  ASSERT_TRUE(stream);
  const TcpSegment syn = peer_.take_syn();
  EXPECT_EQ(syn.tcp.flags, kTcpSyn | kTcpEce | kTcpCwr);
  EXPECT_EQ(ecn_of(syn), Ecn::not_ect);
}

TEST_F(TcpEcn, AgreementMakesNewDataEct) {
  sysctl("net.ipv4.tcp_ecn", "1");
  auto conn = connect_peer(kEcnPeer);
  EXPECT_TRUE(conn.info().ecn);
  ASSERT_EQ(write(conn, 100).value(), 100u);
  EXPECT_EQ(ecn_of(peer_.expect(kTcpAck | kTcpPsh)), Ecn::ect0);
}

// A SYN-ACK without ECE refuses; one with ECE|CWR is a reflection of our
// SYN by a broken middlebox, no agreement (tcp_ecn_rcv_synack).
TEST_F(TcpEcn, SynAckWithoutPlainEceRefuses) {
  sysctl("net.ipv4.tcp_ecn", "1");
  auto refused = connect_peer();
  EXPECT_FALSE(refused.info().ecn);
  ASSERT_EQ(write(refused, 100).value(), 100u);
  EXPECT_EQ(ecn_of(peer_.expect(kTcpAck | kTcpPsh)), Ecn::not_ect);

  peer_.set_self({kTcpPeer, static_cast<std::uint16_t>(kTcpPeerPort + 1)});
  auto reflected = tcp::connect(*net_, peer_.self());
  ASSERT_TRUE(reflected);
  const TcpSegment syn = peer_.take_syn();
  peer_.learn_syn(syn, {});
  wire::TcpRepr synack = peer_.syn();
  synack.flags = kTcpSyn | kTcpAck | kTcpEce | kTcpCwr;
  synack.ack_number = peer_.rcv_nxt();
  synack.timestamps = wire::TcpTimestamps{peer_.tsval(), syn.tcp.timestamps->value};
  peer_.send(synack);
  peer_.expect(kTcpAck);
  EXPECT_FALSE(reflected->info().ecn);
}

TEST_F(TcpEcn, NoAgreementWithoutAsking) {
  auto conn = established(kEcnPeer);  // the peer asks; tcp_ecn 2 agrees
  EXPECT_TRUE(conn.info().ecn);
  auto plain = tcp::connect(*net_, {kTcpPeer, kTcpPeerPort + 1});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->info().ecn);  // tcp_ecn 2 never asks
}

// RFC 3168 6.1.1.1: a SYN that went unanswered may have been dropped for
// asking; the retransmissions ask no more (net.ipv4.tcp_ecn_fallback).
TEST_F(TcpEcn, RetransmittedSynFallsBack) {
  sysctl("net.ipv4.tcp_ecn", "1");
  auto stream = tcp::connect(*net_, peer_.self());
  ASSERT_TRUE(stream);
  EXPECT_EQ(peer_.take_syn().tcp.flags, kTcpSyn | kTcpEce | kTcpCwr);
  EXPECT_EQ(peer_.expect_within(2s).tcp.flags, kTcpSyn);
}

TEST_F(TcpEcn, RetransmittedSynKeepsAskingWithoutFallback) {
  sysctl("net.ipv4.tcp_ecn", "1");
  sysctl("net.ipv4.tcp_ecn_fallback", "0");
  auto stream = tcp::connect(*net_, peer_.self());
  ASSERT_TRUE(stream);
  (void)peer_.take_syn();
  EXPECT_EQ(peer_.expect_within(2s).tcp.flags, kTcpSyn | kTcpEce | kTcpCwr);
}

// A listener's answer from a SYN cookie keeps ECN in the TSval's low bits,
// as Linux's cookie_init_timestamp.
TEST_F(TcpEcn, SynCookieKeepsTheAgreement) {
  sysctl("net.ipv4.tcp_syncookies", "2");
  auto listener = listen();
  auto conn = accept_peer(listener, kEcnPeer);
  EXPECT_EQ(counter("TcpExtSyncookiesRecv"), 1u);
  EXPECT_TRUE(conn.info().ecn);
  ASSERT_EQ(write(conn, 100).value(), 100u);
  EXPECT_EQ(ecn_of(peer_.expect(kTcpAck | kTcpPsh)), Ecn::ect0);
}

// ---- the sender's marks ----

// Pure ACKs and retransmissions are never ECT (RFC 3168 6.1.4, 6.1.5).
TEST_F(TcpEcn, OnlyNewDataIsEct) {
  auto conn = established(kEcnPeer);
  peer_.send_data(100);
  peer_.run_for(50ms);
  EXPECT_EQ(ecn_of(peer_.expect(kTcpAck)), Ecn::not_ect);
  ASSERT_EQ(write(conn, 100).value(), 100u);
  EXPECT_EQ(ecn_of(peer_.expect(kTcpAck | kTcpPsh)), Ecn::ect0);
  const TcpSegment again = peer_.expect_within(2s);  // the loss probe, then the RTO
  EXPECT_EQ(again.payload.size(), 100u);
  EXPECT_EQ(ecn_of(again), Ecn::not_ect);
}

TEST_F(TcpEcn, WithoutAgreementNothingIsEct) {
  auto conn = established();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  const TcpSegment data = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(ecn_of(data), Ecn::not_ect);
  // An ECE from a peer that never agreed means nothing.
  wire::TcpRepr ack = peer_.segment();
  ack.ack_number = data.end();
  ack.flags |= kTcpEce;
  peer_.send(ack);
  EXPECT_EQ(conn.info().ca_state, "open");
}

// ---- the receiver: CE -> ECE until CWR ----

TEST_F(TcpEcn, CeIsEchoedUntilCwr) {
  auto conn = established(kEcnPeer);
  peer_.set_ecn(Ecn::ect0);
  peer_.send_data(100);
  peer_.run_for(50ms);
  EXPECT_FALSE(peer_.expect(kTcpAck).has(kTcpEce));
  peer_.set_ecn(Ecn::ce);
  peer_.send_data(100);
  // At once (not delayed): the sender may be down to a small window.
  EXPECT_EQ(peer_.expect(kTcpAck | kTcpEce).ack(), peer_.snd_nxt());
  EXPECT_EQ(counter("IpExtInCEPkts"), 1u);
  peer_.set_ecn(Ecn::ect0);
  peer_.send_data(100);
  peer_.send_data(100);
  EXPECT_EQ(peer_.expect(kTcpAck | kTcpEce).ack(), peer_.snd_nxt());  // still echoed
  // Our own data carries ECE too, while it is demanded.
  ASSERT_EQ(write(conn, 10).value(), 10u);
  EXPECT_TRUE(peer_.expect().has(kTcpEce));
  // The sender reduced: CWR on its data stops the echo, and is ACKed at once.
  peer_.send_data(100, kTcpAck | kTcpPsh | kTcpCwr);
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), peer_.snd_nxt());
  peer_.send_data(100);
  peer_.send_data(100);
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), peer_.snd_nxt());
  EXPECT_GE(counter("IpExtInECT0Pkts"), 5u);
}

// CE on a connection without ECN is nothing to TCP.
TEST_F(TcpEcn, CeWithoutAgreementIsNotEchoed) {
  auto conn = established();
  peer_.set_ecn(Ecn::ce);
  peer_.send_data(100);
  peer_.send_data(100);
  EXPECT_FALSE(peer_.expect(kTcpAck).has(kTcpEce));
}

// ---- the sender: ECE -> one reduction per window, CWR ----

class TcpEcnSender : public TcpEcn {
 protected:
  // An established ECN connection with `segments` full segments in flight.
  tcp::Stream sending(std::uint32_t segments) {
    auto conn = established({.window = 65535, .ecn = true});
    EXPECT_EQ(write(conn, std::size_t{segments} * kMss).value(), std::size_t{segments} * kMss);
    for (std::uint32_t i = 0; i < segments; ++i) sent_.push_back(peer_.expect());
    return conn;
  }
  void ack_through(std::size_t index, std::uint8_t extra = 0) {
    wire::TcpRepr ack = peer_.segment();
    ack.ack_number = sent_[index].end();
    ack.flags |= extra;
    peer_.send(ack);
  }
  std::vector<TcpSegment> sent_;
};

TEST_F(TcpEcnSender, EceReducesOncePerWindowAndSendsCwr) {
  auto conn = sending(10);
  const std::uint32_t before = conn.info().cwnd;
  ack_through(0, kTcpEce);
  const tcp::Info after = conn.info();
  EXPECT_EQ(after.ca_state, "cwr");
  EXPECT_LT(after.ssthresh, before);
  EXPECT_EQ(after.ssthresh, before * 7 / 10);  // CUBIC's beta
  // More ECE within the same window reduces no further.
  ack_through(1, kTcpEce);
  ack_through(2, kTcpEce);
  EXPECT_EQ(conn.info().ssthresh, after.ssthresh);
  // The first new data carries CWR, and only the first.
  ASSERT_EQ(write(conn, 2 * kMss).value(), 2 * kMss);
  std::vector<TcpSegment> fresh;
  while (peer_.pending() != 0) fresh.push_back(peer_.expect());
  ASSERT_FALSE(fresh.empty());
  EXPECT_TRUE(fresh.front().has(kTcpCwr)) << ::testing::PrintToString(fresh.front());
  for (std::size_t i = 1; i < fresh.size(); ++i) EXPECT_FALSE(fresh[i].has(kTcpCwr));
  // The window of data outstanding at the ECE acknowledged: open again,
  // and the next ECE reduces again.
  ack_through(9);
  wire::TcpRepr ack = peer_.segment();
  ack.ack_number = fresh.back().end();
  peer_.send(ack);
  EXPECT_EQ(conn.info().ca_state, "open");
  ASSERT_EQ(write(conn, 4 * kMss).value(), 4 * kMss);
  std::vector<TcpSegment> more;
  while (peer_.pending() != 0) more.push_back(peer_.expect());
  ASSERT_FALSE(more.empty());
  const std::uint32_t ssthresh = conn.info().ssthresh;
  ack = peer_.segment();
  ack.ack_number = more.front().end();
  ack.flags |= kTcpEce;
  peer_.send(ack);
  EXPECT_EQ(conn.info().ca_state, "cwr");
  EXPECT_LT(conn.info().ssthresh, ssthresh);
}

// A reduction for ECE is not undone: no D-SACK or timestamp can show the
// congestion was not there (tcp_enter_cwr clears the undo state).
TEST_F(TcpEcnSender, EceReductionIsNotUndone) {
  auto conn = sending(4);
  ack_through(0, kTcpEce);
  const std::uint32_t ssthresh = conn.info().ssthresh;
  // A D-SACK of the first segment, as if it had been resent needlessly.
  wire::TcpRepr ack = peer_.segment();
  ack.ack_number = sent_[1].end();
  ack.sack_blocks[0] = {sent_[0].seq(), sent_[0].end()};
  ack.sack_block_count = 1;
  peer_.send(ack);
  EXPECT_EQ(conn.info().ssthresh, ssthresh);
  EXPECT_EQ(counter("TcpExtTCPDSACKUndo"), 0u);
}

}  // namespace ipv4_tcp_ecn_test
}  // namespace
}  // namespace netns::support
