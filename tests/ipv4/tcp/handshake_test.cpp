// The three-way handshake seen from the wire, both ways: what a listener
// answers to a SYN (options, retransmissions, give-up) and what connect()
// sends and does with each answer (RFC 9293 3.5, 3.10.7.2-3).
#include <chrono>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_handshake_test {

using namespace std::chrono_literals;
using namespace support;

using TcpPassiveOpen = TcpPeerTest;
using TcpActiveOpen = TcpPeerTest;

constexpr std::uint16_t kOtherPort = kTcpPeerPort + 1;  // a second peer

std::chrono::milliseconds ms_since(const TcpSegment& seg, Clock::time_point origin) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(seg.at - origin);
}

// ---- passive open ----

TEST_F(TcpPassiveOpen, SynGetsSynAckWithEveryOption) {
  auto listener = listen();
  const auto syn = peer_.syn();
  peer_.send(syn);
  auto synack = peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(synack.tcp.src_port, kTcpLocalPort);
  EXPECT_EQ(synack.tcp.dst_port, kTcpPeerPort);
  EXPECT_EQ(synack.ack(), kTcpPeerIss + 1);
  // Linux's tcp_select_initial_window, never scaled: half of tcp_rmem[1] in
  // whole segments of 1460 less the timestamps option (45 x 1448), as Linux
  // 6.x's SYN-ACK on a 1500-byte MTU.
  EXPECT_EQ(synack.tcp.window, 65160);
  EXPECT_EQ(synack.tcp.mss, 1460);      // MTU 1500 - 40
  EXPECT_EQ(synack.tcp.window_scale, 7);
  EXPECT_TRUE(synack.tcp.sack_permitted);
  ASSERT_TRUE(synack.tcp.timestamps);
  EXPECT_EQ(synack.tcp.timestamps->echo, syn.timestamps->value);
  EXPECT_EQ(synack.tcp.sack_block_count, 0u);
  EXPECT_TRUE(synack.payload.empty());
  EXPECT_EQ(synack.ip.src, kTcpLocal);
  EXPECT_EQ(synack.ip.dst, kTcpPeer);
  EXPECT_EQ(synack.ip.ttl, 64);
  EXPECT_TRUE(synack.ip.dont_fragment);
  peer_.expect_none();
  // Counted when the handshake completes, where Linux's
  // tcp_create_openreq_child makes the socket.
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);
  EXPECT_EQ(counter("TcpInSegs"), 1u);
  EXPECT_EQ(counter("TcpOutSegs"), 1u);
  EXPECT_EQ(listener.pending(), 0u);  // half-open connections are not acceptable
}

TEST_F(TcpPassiveOpen, MssFollowsTheDeviceMtu) {
  ASSERT_TRUE(eth0_->set_mtu(9000));
  auto listener = listen();
  peer_.send(peer_.syn());
  EXPECT_EQ(peer_.expect(kTcpSyn | kTcpAck).tcp.mss, 8960);
}

TEST_F(TcpPassiveOpen, AckCompletesTheHandshake) {
  auto listener = listen();
  const auto synack = peer_.connect();
  peer_.expect_none();  // nothing answers the final ACK
  EXPECT_EQ(listener.pending(), 1u);
  EXPECT_EQ(counter("TcpPassiveOpens"), 1u);
  auto conn = listener.accept();
  ASSERT_TRUE(conn) << conn.error().message();
  EXPECT_EQ(conn->state(), tcp::State::established);
  EXPECT_EQ(conn->local_endpoint(), (Endpoint{kTcpLocal, kTcpLocalPort}));
  EXPECT_EQ(conn->remote_endpoint(), (Endpoint{kTcpPeer, kTcpPeerPort}));
  EXPECT_EQ(counter("TcpCurrEstab"), 1u);
  const tcp::Info info = conn->info();
  EXPECT_EQ(info.mss, 1448u);  // 1460 less the timestamps option
  EXPECT_TRUE(info.sack);
  EXPECT_TRUE(info.timestamps);
  EXPECT_TRUE(info.window_scaling);
  EXPECT_EQ(info.snd_wnd, 1024u << 7);  // the peer's window, scaled by its shift
  EXPECT_EQ(info.rto_ms, 210u);         // the handshake's 10 ms RTT + the 200 ms floor

  // Its first segment continues the sequence numbers of the handshake.
  ASSERT_EQ(write(*conn, 5).value(), 5u);
  auto data = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(data.seq(), synack.seq() + 1);
  EXPECT_EQ(data.ack(), kTcpPeerIss + 1);
  // Never less than the SYN-ACK offered (65160, rounded up to the scale
  // unit: 510 x 128), as Linux's first window after a SYN-ACK.
  EXPECT_EQ(data.tcp.window, 510);
  EXPECT_EQ(data.payload, pattern(5));
  ASSERT_TRUE(data.tcp.timestamps);
  EXPECT_EQ(data.tcp.timestamps->echo, peer_.tsval());  // the final ACK's TSval
}

TEST_F(TcpPassiveOpen, SynAckRetransmitsWithBackoffThenGivesUp) {
  auto listener = listen();  // tcp_synack_retries = 5
  const auto t0 = clock_.now();
  peer_.send(peer_.syn());
  const auto first = peer_.expect(kTcpSyn | kTcpAck);
  peer_.run_for(200s);
  for (auto at : {1000ms, 3000ms, 7000ms, 15000ms, 31000ms}) {
    const auto again = peer_.expect(kTcpSyn | kTcpAck);
    EXPECT_EQ(ms_since(again, t0), at);
    EXPECT_EQ(again.seq(), first.seq());
    EXPECT_EQ(again.ack(), first.ack());
  }
  peer_.expect_none();  // at 63 s the half-open connection goes without a word
  EXPECT_EQ(counter("TcpRetransSegs"), 5u);
  EXPECT_EQ(counter("TcpExtTCPSynRetrans"), 5u);
  // Nothing is left to complete: the ACK now meets only the listener.
  peer_.set_snd_nxt(kTcpPeerIss + 1);
  peer_.set_rcv_nxt(first.seq() + 1);
  peer_.send(peer_.segment(kTcpAck));
  const auto rst = peer_.expect(kTcpRst);
  EXPECT_EQ(rst.seq(), first.seq() + 1);
  EXPECT_EQ(listener.pending(), 0u);
}

TEST_F(TcpPassiveOpen, SynAckRetriesFollowTheSysctl) {
  sysctl("net.ipv4.tcp_synack_retries", "2");
  auto listener = listen();
  const auto t0 = clock_.now();
  peer_.send(peer_.syn());
  peer_.expect(kTcpSyn | kTcpAck);
  peer_.run_for(100s);
  EXPECT_EQ(ms_since(peer_.expect(kTcpSyn | kTcpAck), t0), 1000ms);
  EXPECT_EQ(ms_since(peer_.expect(kTcpSyn | kTcpAck), t0), 3000ms);
  peer_.expect_none();
}

TEST_F(TcpPassiveOpen, RetransmittedSynGetsTheSynAckAgain) {
  auto listener = listen();
  const auto syn = peer_.syn();
  peer_.send(syn);
  const auto first = peer_.expect(kTcpSyn | kTcpAck);
  peer_.run_for(300ms);
  peer_.send(syn);  // our SYN-ACK was lost, says the peer
  const auto again = peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(again.seq(), first.seq());
  EXPECT_EQ(again.ack(), kTcpPeerIss + 1);
  EXPECT_EQ(again.tcp.mss, 1460);
  EXPECT_EQ(again.tcp.window_scale, 7);
  EXPECT_TRUE(again.tcp.sack_permitted);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);  // still no connection: the handshake is not done
  EXPECT_EQ(counter("TcpRetransSegs"), 1u);
}

TEST_F(TcpPassiveOpen, WrongAckInSynReceivedGetsRstAndKeepsTheConnection) {
  auto listener = listen();
  peer_.send(peer_.syn());
  const auto synack = peer_.expect(kTcpSyn | kTcpAck);
  peer_.learn_synack(synack);
  auto bad = peer_.segment(kTcpAck);
  bad.ack_number = synack.seq() + 1000;  // acknowledges nothing we sent
  peer_.send(bad);
  const auto rst = peer_.expect(kTcpRst);  // RFC 9293 3.10.7.4: <SEQ=SEG.ACK><CTL=RST>
  EXPECT_EQ(rst.seq(), synack.seq() + 1000);
  EXPECT_EQ(listener.pending(), 0u);
  peer_.send_ack();
  peer_.expect_none();
  EXPECT_EQ(listener.pending(), 1u);
}

TEST_F(TcpPassiveOpen, RstInSynReceivedRemovesTheHalfOpenConnection) {
  auto listener = listen();
  peer_.send(peer_.syn());
  const auto synack = peer_.expect(kTcpSyn | kTcpAck);
  peer_.learn_synack(synack);
  peer_.send(peer_.segment(kTcpRst));
  peer_.expect_none();
  peer_.run_for(10s);
  peer_.expect_none();  // no SYN-ACK retransmissions: it is gone
  EXPECT_EQ(listener.pending(), 0u);
}

// An RST that removes a half-open connection counts as TcpAttemptFails
// (RFC 1213; Linux's tcp_check_req, with TcpExtEmbryonicRsts).
TEST_F(TcpPassiveOpen, RstInSynReceivedCountsAnAttemptFail) {
  auto listener = listen();
  peer_.send(peer_.syn());
  peer_.learn_synack(peer_.expect(kTcpSyn | kTcpAck));
  peer_.send(peer_.segment(kTcpRst));
  EXPECT_EQ(counter("TcpAttemptFails"), 1u);
  EXPECT_EQ(counter("TcpExtEmbryonicRsts"), 1u);
}

TEST_F(TcpPassiveOpen, FinalAckCarryingDataEstablishesAndDelivers) {
  auto listener = listen();
  peer_.send(peer_.syn());
  peer_.learn_synack(peer_.expect(kTcpSyn | kTcpAck));
  peer_.send_data(100);  // the third segment of the handshake brings data
  auto conn = listener.accept();
  ASSERT_TRUE(conn);
  EXPECT_EQ(read_all(*conn), pattern(100, 1));
}

TEST_F(TcpPassiveOpen, DataOnTheSynIsNotAcknowledged) {
  auto listener = listen();
  peer_.send(peer_.syn(), pattern(10));  // no TCP Fast Open: the data must come again
  EXPECT_EQ(peer_.expect(kTcpSyn | kTcpAck).ack(), kTcpPeerIss + 1);
}

TEST_F(TcpPassiveOpen, SynAckAtAListenerGetsRst) {
  auto listener = listen();
  auto synack = peer_.syn();
  synack.flags = kTcpSyn | kTcpAck;
  synack.ack_number = 4242;
  peer_.send(synack);
  EXPECT_EQ(peer_.expect(kTcpRst).seq(), 4242u);
}

TEST_F(TcpPassiveOpen, RstAtAListenerIsIgnored) {
  auto listener = listen();
  auto rst = peer_.syn();
  rst.flags = kTcpRst;
  peer_.send(rst);
  rst.flags = kTcpSyn | kTcpRst;
  peer_.send(rst);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);
}

// A SYN with FIN set (a scanner's probe) is dropped, as Linux's tcp_rcv_state_process does in LISTEN.
TEST_F(TcpPassiveOpen, SynFinAtAListenerIsDropped) {
  auto listener = listen();
  auto syn = peer_.syn();
  syn.flags |= kTcpFin;
  peer_.send(syn);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpPassiveOpens"), 0u);
}

TEST_F(TcpPassiveOpen, ClosingTheListenerResetsWhatWasNotAccepted) {
  auto listener = listen();
  peer_.connect();  // established, not accepted
  const std::uint32_t ours = peer_.rcv_nxt();
  peer_.set_self({kTcpPeer, kOtherPort});
  peer_.send(peer_.syn());  // half-open
  peer_.expect(kTcpSyn | kTcpAck);
  listener.close();
  const auto rst = peer_.expect(kTcpRst | kTcpAck);  // only the established one hears of it
  EXPECT_EQ(rst.tcp.dst_port, kTcpPeerPort);
  EXPECT_EQ(rst.seq(), ours);
  peer_.run_for(10s);
  peer_.expect_none();
}

TEST_F(TcpPassiveOpen, BacklogZeroTakesOneConnection) {
  auto listener = listen(kTcpLocalPort, 0);
  peer_.connect();
  EXPECT_EQ(listener.pending(), 1u);
  peer_.set_self({kTcpPeer, kOtherPort});
  peer_.send(peer_.syn());
  peer_.expect_none();  // as Linux's listen(fd, 0): the accept queue is full
  EXPECT_EQ(listener.pending(), 1u);
}

// ---- active open ----

TEST_F(TcpActiveOpen, SynCarriesEveryOption) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  EXPECT_EQ(conn.state(), tcp::State::syn_sent);
  const auto syn = peer_.expect(kTcpSyn);
  EXPECT_EQ(syn.tcp.dst_port, kTcpPeerPort);
  EXPECT_EQ(syn.tcp.src_port, conn.local_endpoint().port);
  EXPECT_EQ(syn.ack(), 0u);
  // Linux 6.x's SYN: half of tcp_rmem[1] in whole segments of 1460 (44 x
  // 1460), with the scale tcp_rmem[2] (6 MiB) needs: 22 bits - 15.
  EXPECT_EQ(syn.tcp.window, 64240);
  EXPECT_EQ(syn.tcp.mss, 1460);
  EXPECT_EQ(syn.tcp.window_scale, 7);
  EXPECT_TRUE(syn.tcp.sack_permitted);
  ASSERT_TRUE(syn.tcp.timestamps);
  EXPECT_EQ(syn.tcp.timestamps->echo, 0u);
  EXPECT_TRUE(syn.ip.dont_fragment);
  EXPECT_EQ(syn.ip.src, kTcpLocal);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpActiveOpens"), 1u);
}

TEST_F(TcpActiveOpen, SynRetransmitsWithBackoffThenTimesOut) {
  auto conn = tcp::connect(*net_, peer_.self()).value();  // tcp_syn_retries = 6
  const auto t0 = clock_.now();
  const auto first = peer_.expect(kTcpSyn);
  peer_.run_until(t0 + 126'999ms);
  for (auto at : {1000ms, 3000ms, 7000ms, 15000ms, 31000ms, 63000ms}) {
    const auto again = peer_.expect(kTcpSyn);
    EXPECT_EQ(ms_since(again, t0), at);
    EXPECT_EQ(again.seq(), first.seq());
    EXPECT_EQ(again.tcp.mss, 1460);
  }
  EXPECT_EQ(conn.state(), tcp::State::syn_sent);
  peer_.run_until(t0 + 127s);
  peer_.expect_none();  // no RST: nobody answered
  expect_failed(conn, boost::system::errc::timed_out);
  EXPECT_EQ(counter("TcpAttemptFails"), 1u);
  EXPECT_EQ(counter("TcpExtTCPSynRetrans"), 6u);
  EXPECT_EQ(counter("TcpRetransSegs"), 6u);
}

TEST_F(TcpActiveOpen, SynRetriesFollowTheSysctl) {
  sysctl("net.ipv4.tcp_syn_retries", "2");
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto t0 = clock_.now();
  peer_.expect(kTcpSyn);
  peer_.run_until(t0 + 6999ms);
  EXPECT_EQ(ms_since(peer_.expect(kTcpSyn), t0), 1000ms);
  EXPECT_EQ(ms_since(peer_.expect(kTcpSyn), t0), 3000ms);
  EXPECT_EQ(conn.state(), tcp::State::syn_sent);
  peer_.run_until(t0 + 7s);
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::closed);
}

TEST_F(TcpActiveOpen, RstAckIsConnectionRefused) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.take_syn();
  peer_.send({.src_port = kTcpPeerPort, .dst_port = syn.tcp.src_port, .seq_number = 0,
              .ack_number = syn.seq() + 1, .flags = kTcpRst | kTcpAck});
  peer_.expect_none();
  expect_failed(conn, boost::system::errc::connection_refused);
  EXPECT_EQ(counter("TcpAttemptFails"), 1u);
  peer_.run_for(10s);
  peer_.expect_none();  // no SYN retransmissions after the refusal
}

TEST_F(TcpActiveOpen, RstWithoutAcceptableAckIsIgnored) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.take_syn();
  // RFC 9293 3.10.7.3: an RST is acceptable in SYN_SENT only with an ACK of our SYN.
  peer_.send({.src_port = kTcpPeerPort, .dst_port = syn.tcp.src_port, .seq_number = 0, .flags = kTcpRst});
  peer_.send({.src_port = kTcpPeerPort, .dst_port = syn.tcp.src_port, .seq_number = 0,
              .ack_number = syn.seq() + 7, .flags = kTcpRst | kTcpAck});
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::syn_sent);
}

TEST_F(TcpActiveOpen, UnacceptableAckGetsRstAndTheHandshakeGoesOn) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.take_syn();
  // SEG.ACK > SND.NXT, then SEG.ACK =< ISS: each gets <SEQ=SEG.ACK><CTL=RST>.
  for (std::uint32_t ack : {syn.seq() + 100, syn.seq()}) {
    peer_.send({.src_port = kTcpPeerPort, .dst_port = syn.tcp.src_port, .seq_number = kTcpPeerIss,
                .ack_number = ack, .flags = kTcpSyn | kTcpAck, .window = 65535, .mss = 1460});
    const auto rst = peer_.expect(kTcpRst);
    EXPECT_EQ(rst.seq(), ack);
    EXPECT_EQ(rst.tcp.window, 0);
    EXPECT_EQ(conn.state(), tcp::State::syn_sent);
  }
  // A plain ACK with a wrong number too.
  peer_.send({.src_port = kTcpPeerPort, .dst_port = syn.tcp.src_port, .seq_number = kTcpPeerIss,
              .ack_number = syn.seq() + 5, .flags = kTcpAck, .window = 65535});
  EXPECT_EQ(peer_.expect(kTcpRst).seq(), syn.seq() + 5);
  // The right SYN-ACK still completes it.
  peer_.send({.src_port = kTcpPeerPort, .dst_port = syn.tcp.src_port, .seq_number = kTcpPeerIss,
              .ack_number = syn.seq() + 1, .flags = kTcpSyn | kTcpAck, .window = 65535, .mss = 1460});
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kTcpPeerIss + 1);
  EXPECT_EQ(conn.state(), tcp::State::established);
}

TEST_F(TcpActiveOpen, CloseInSynSentSendsNothingAndALateSynAckGetsRst) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.take_syn();
  conn.close();
  peer_.expect_none();
  peer_.run_for(10s);
  peer_.expect_none();  // no SYN retransmissions either
  auto synack = peer_.syn();
  synack.flags = kTcpSyn | kTcpAck;
  synack.ack_number = syn.seq() + 1;
  peer_.send(synack);
  EXPECT_EQ(peer_.expect(kTcpRst).seq(), syn.seq() + 1);
}

TEST_F(TcpActiveOpen, RetransmittedSynAckIsAcknowledgedAgain) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.accept();
  auto synack = peer_.syn();  // our ACK was lost, thinks the peer
  synack.flags = kTcpSyn | kTcpAck;
  synack.ack_number = syn.seq() + 1;
  peer_.send(synack);
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.seq(), syn.seq() + 1);
  EXPECT_EQ(ack.ack(), kTcpPeerIss + 1);
  EXPECT_EQ(conn.state(), tcp::State::established);
}

TEST_F(TcpActiveOpen, AcceptableAckWithoutSynIsDropped) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.take_syn();
  peer_.learn_syn(syn, {});
  peer_.set_snd_nxt(kTcpPeerIss + 1);
  peer_.send_ack();  // acknowledges our SYN, but has none of its own
  peer_.expect_none();
  EXPECT_EQ(conn.state(), tcp::State::syn_sent);
}

// Data on a SYN-ACK starts at IRS + 1 and is taken in order (RFC 9293 3.10.7.3) or
// dropped for the peer to send again (Linux without Fast Open); never queued out of order.
TEST_F(TcpActiveOpen, DataOnTheSynAckIsTakenInOrderOrNotAtAll) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.take_syn();
  peer_.learn_syn(syn, {});
  auto synack = peer_.syn();
  synack.flags = kTcpSyn | kTcpAck;
  synack.ack_number = syn.seq() + 1;
  synack.timestamps->echo = syn.tcp.timestamps->value;
  peer_.send(synack, pattern(20, 1));
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(conn.state(), tcp::State::established);
  EXPECT_EQ(ack.tcp.sack_block_count, 0u);  // nothing is out of order
  ASSERT_TRUE(ack.ack() == kTcpPeerIss + 1 || ack.ack() == kTcpPeerIss + 21) << ack.ack();
  // The peer sends on from what was acknowledged, up to 40 bytes in all.
  peer_.set_snd_nxt(ack.ack());
  peer_.send_data(kTcpPeerIss + 41 - ack.ack());
  EXPECT_EQ(read_all(conn), pattern(40, 1));
}

TEST_F(TcpActiveOpen, SynAckIsAcknowledgedAndEstablishes) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.accept();  // checks the ACK's numbers
  EXPECT_EQ(conn.state(), tcp::State::established);
  EXPECT_EQ(conn.remote_endpoint(), peer_.self());
  const tcp::Info info = conn.info();
  EXPECT_EQ(info.mss, 1448u);
  EXPECT_EQ(info.rto_ms, 210u);
  EXPECT_TRUE(info.sack && info.timestamps && info.window_scaling);
  EXPECT_EQ(counter("TcpCurrEstab"), 1u);
  ASSERT_EQ(write(conn, 3).value(), 3u);
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  EXPECT_EQ(data.seq(), syn.seq() + 1);
  // The SYN's 64240 rounded up to the scale unit (502 x 128): what Linux
  // 6.18 sends after its SYN with the same tcp_rmem.
  EXPECT_EQ(data.tcp.window, 502);
}

// In a simultaneous open the peer's SYN-ACK moves SYN_RECEIVED to ESTABLISHED (RFC 9293
// figure 7; Linux's tcp_validate_incoming simultaneous-open exception).
TEST_F(TcpActiveOpen, SimultaneousOpenGoesThroughSynReceived) {
  auto conn = tcp::connect(*net_, peer_.self()).value();
  const auto syn = peer_.take_syn();
  peer_.learn_syn(syn, {});
  // The peer's own SYN crosses ours (RFC 9293 figure 7).
  peer_.send(peer_.syn());
  const auto synack = peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(synack.seq(), syn.seq());  // the same ISS
  EXPECT_EQ(synack.ack(), kTcpPeerIss + 1);
  EXPECT_EQ(synack.tcp.mss, 1460);
  EXPECT_EQ(synack.tcp.window_scale, 7);
  EXPECT_EQ(conn.state(), tcp::State::syn_received);
  // The peer's SYN-ACK, as it would send on getting our SYN.
  peer_.set_snd_nxt(kTcpPeerIss);
  auto peer_synack = peer_.segment(kTcpSyn | kTcpAck);
  peer_synack.mss = 1460;
  peer_synack.window_scale = 7;
  peer_synack.sack_permitted = true;
  peer_.send(peer_synack);
  peer_.set_snd_nxt(kTcpPeerIss + 1);
  EXPECT_EQ(conn.state(), tcp::State::established);
  while (peer_.pending() != 0) {  // at most an ACK, never an RST
    const auto seg = peer_.expect();
    EXPECT_EQ(seg.tcp.flags, kTcpAck);
    EXPECT_EQ(seg.ack(), kTcpPeerIss + 1);
  }
  auto written = write(conn, 4);
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_EQ(peer_.expect(kTcpAck | kTcpPsh).seq(), syn.seq() + 1);
}

}  // namespace ipv4_tcp_handshake_test
}  // namespace
}  // namespace netns
