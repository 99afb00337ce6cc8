// TIME_WAIT as a small record that replaces the connection (Linux's
// inet_timewait_sock), segment by segment against the scripted peer, each
// compared with what tcp_timewait_state_process and tcp_v4_rcv do: PAWS
// without tolerance, a bare ACK or RST at rcv_nxt, a retransmitted FIN
// re-ACKed with the wait restarted, a new SYN giving way to the listener
// with an ISN above the old connection's, rate-limited duplicate ACKs, the
// port kept, the bound on records, and the end of the namespace.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_time_wait_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kBase = kTcpPeerIss + 1;

class TcpTimeWait : public TcpPeerTest {
 protected:
  bool in_time_wait() { return tcp::dump_sockets(*net_).find("TIME-WAIT") != std::string::npos; }
  static int count_time_wait(const std::string& dump) {
    int n = 0;
    for (auto at = dump.find("TIME-WAIT"); at != std::string::npos; at = dump.find("TIME-WAIT", at + 1)) ++n;
    return n;
  }

  // The namespace closes first (close(), or shutdown() when `keep`), the
  // peer ACKs its FIN and sends its own: TIME_WAIT from now. Returns the
  // namespace's ACK of the peer's FIN.
  TcpSegment to_time_wait(tcp::Stream& conn, bool keep = false) {
    if (keep) {
      EXPECT_TRUE(conn.shutdown());
    } else {
      conn.close();
    }
    peer_.ack(peer_.expect(kTcpFin | kTcpAck));
    peer_.send_fin();
    const TcpSegment ack = peer_.expect(kTcpAck);
    entered_ = clock_.now();
    return ack;
  }

  // A bare segment at `seq` with the peer's timestamps, `tsval_delta` ticks
  // from its clock now.
  wire::TcpRepr at(std::uint32_t seq, std::uint8_t flags = kTcpAck, std::int32_t tsval_delta = 0) {
    wire::TcpRepr r = peer_.segment(flags);
    r.seq_number = seq;
    if (r.timestamps) r.timestamps->value += static_cast<std::uint32_t>(tsval_delta);
    return r;
  }

  Clock::time_point entered_{};
};

// tcp_time_wait sends the ACK of the FIN from the connection (its own IP
// IDs) and leaves a record that answers from no socket: the same numbers,
// a frozen window, TSecr the FIN's TSval, ID 0 under DF.
TEST_F(TcpTimeWait, RecordAnswersWithWhatTheConnectionKnew) {
  auto conn = established();
  ASSERT_TRUE(write(conn, 10));
  const auto data = peer_.expect(kTcpAck | kTcpPsh);
  const auto ack = to_time_wait(conn);
  EXPECT_EQ(ack.ip.identification, static_cast<std::uint16_t>(data.ip.identification + 2));  // data, FIN, ACK
  EXPECT_TRUE(in_time_wait());
  EXPECT_EQ(counter("TcpExtTW"), 1u);

  peer_.run_for(1s);
  peer_.set_snd_nxt(kBase);
  peer_.send_fin();  // our ACK was lost, thinks the peer
  const auto again = peer_.expect(kTcpAck);
  EXPECT_EQ(again.seq(), ack.seq());
  EXPECT_EQ(again.ack(), ack.ack());
  EXPECT_EQ(again.tcp.window, ack.tcp.window);
  ASSERT_TRUE(again.tcp.timestamps && ack.tcp.timestamps);
  EXPECT_EQ(again.tcp.timestamps->echo, ack.tcp.timestamps->echo);
  EXPECT_EQ(again.tcp.timestamps->value - ack.tcp.timestamps->value, 1000u);  // the connection's clock and offset
  EXPECT_EQ(again.tcp.sack_block_count, 0u);
  EXPECT_TRUE(again.ip.dont_fragment);
  EXPECT_EQ(again.ip.identification, 0);
}

// Without timestamps the record's ACKs carry none (tcp_v4_send_ack: no TSecr).
TEST_F(TcpTimeWait, NoTimestampsNoOption) {
  auto conn = established(PeerOptions{.timestamps = false});
  const auto ack = to_time_wait(conn);
  EXPECT_FALSE(ack.tcp.timestamps);
  peer_.set_snd_nxt(kBase);
  peer_.send_fin();
  EXPECT_FALSE(peer_.expect(kTcpAck).tcp.timestamps);
}

// A bare ACK at rcv_nxt is taken in silence and restarts the 60 s; its
// timestamp becomes TS.Recent.
TEST_F(TcpTimeWait, BareAckInOrderRestartsTheWaitSilently) {
  auto conn = established();
  to_time_wait(conn);
  peer_.run_for(30s);
  peer_.send(at(kBase + 1));
  peer_.expect_none();
  peer_.run_until(entered_ + 89'999ms);
  EXPECT_TRUE(in_time_wait());
  peer_.set_snd_nxt(kBase);
  peer_.send_fin();  // answered with the new TS.Recent
  const auto ack = peer_.expect(kTcpAck);
  ASSERT_TRUE(ack.tcp.timestamps);
  EXPECT_EQ(ack.tcp.timestamps->echo, peer_.tsval() - 59'999);
  peer_.run_until(clock_.now() + 60s);
  EXPECT_FALSE(in_time_wait());
}

// Each restart moves a record behind the others: the one list stays in
// deadline order and each leaves at its own time.
TEST_F(TcpTimeWait, RestartedRecordsLeaveInDeadlineOrder) {
  listener_ = listen();
  auto first = accept_peer(listener_);
  to_time_wait(first);
  const auto first_at = entered_;
  const std::uint32_t first_snd = peer_.snd_nxt(), first_rcv = peer_.rcv_nxt();

  peer_.run_for(10s);
  peer_.set_self({kTcpPeer, 40001});
  peer_.set_iss(kTcpPeerIss);
  auto second = accept_peer(listener_);
  to_time_wait(second);
  const auto second_at = entered_;

  peer_.run_for(10s);  // the first record's FIN comes again: it now waits longest
  peer_.set_self({kTcpPeer, 40000});
  peer_.set_rcv_nxt(first_rcv);
  peer_.set_snd_nxt(first_snd - 1);
  peer_.send_fin();
  peer_.expect(kTcpAck);
  const auto restarted_at = clock_.now();

  const std::string first_line = ":80 192.0.2.2:40000";
  const std::string second_line = ":80 192.0.2.2:40001";
  auto has = [&](const std::string& s) { return tcp::dump_sockets(*net_).find(s) != std::string::npos; };
  peer_.run_until(first_at + 60s);
  EXPECT_TRUE(has(first_line));
  EXPECT_TRUE(has(second_line));
  peer_.run_until(second_at + 60s);
  EXPECT_TRUE(has(first_line));
  EXPECT_FALSE(has(second_line));
  peer_.run_until(restarted_at + 59'999ms);
  EXPECT_TRUE(has(first_line));
  peer_.run_until(restarted_at + 60s);
  EXPECT_FALSE(has(first_line));
  peer_.expect_none();
}

// PAWS in TIME_WAIT has no one-tick tolerance (tcp_paws_reject with
// tcp_paws_check(…, 0)): one tick old is rejected, counted, ACKed, and
// restarts the wait.
TEST_F(TcpTimeWait, PawsRejectsOneTickOld) {
  auto conn = established();
  const auto ack = to_time_wait(conn);
  peer_.run_for(20s);
  const std::uint32_t ts_recent = ack.tcp.timestamps->echo;
  auto old = at(kBase + 1);
  old.timestamps->value = ts_recent - 1;
  peer_.send(old);
  const auto dup = peer_.expect(kTcpAck);
  EXPECT_EQ(dup.ack(), kBase + 1);
  EXPECT_EQ(dup.tcp.timestamps->echo, ts_recent);  // TS.Recent unchanged
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 1u);
  const auto restarted = clock_.now();
  peer_.run_until(restarted + 59'999ms);
  EXPECT_TRUE(in_time_wait());
  peer_.run_until(restarted + 60s);
  EXPECT_FALSE(in_time_wait());
}

// An RST with an old timestamp within PAWS_MSL of TS.Recent is ignored;
// 60 s after TS.Recent was stored PAWS no longer holds RSTs back
// (tcp_paws_reject).
TEST_F(TcpTimeWait, RstFailingPawsIsIgnoredUntilPawsMsl) {
  auto conn = established();
  const auto ack = to_time_wait(conn);
  auto rst = at(kBase + 1, kTcpRst);
  rst.timestamps->value = ack.tcp.timestamps->echo - 10;
  peer_.send(rst);
  peer_.expect_none();
  EXPECT_TRUE(in_time_wait());
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 1u);
  peer_.run_for(30s);
  peer_.set_snd_nxt(kBase);
  peer_.send_fin();  // restarts the wait, TS.Recent stays
  peer_.expect(kTcpAck);
  peer_.run_until(entered_ + 61s);
  peer_.send(rst);
  peer_.expect_none();
  EXPECT_FALSE(in_time_wait());
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 1u);
}

// An RST out of order is ignored and answered with nothing.
TEST_F(TcpTimeWait, RstOutOfOrderIsIgnored) {
  auto conn = established();
  to_time_wait(conn);
  peer_.send(at(kBase + 2, kTcpRst));
  peer_.send(at(kBase, kTcpRst));
  peer_.expect_none();
  EXPECT_TRUE(in_time_wait());
}

// net.ipv4.tcp_rfc1337=1 protects TIME_WAIT from assassination (RFC 1337):
// an RST at rcv_nxt is dropped.
TEST_F(TcpTimeWait, Rfc1337KeepsTimeWaitAgainstRst) {
  sysctl("net.ipv4.tcp_rfc1337", "1");
  auto conn = established();
  to_time_wait(conn);
  peer_.send(at(kBase + 1, kTcpRst));
  peer_.expect_none();
  EXPECT_TRUE(in_time_wait());
  peer_.run_until(entered_ + 60s);
  EXPECT_FALSE(in_time_wait());
}

// Duplicate ACKs for segments without data are rate limited
// (tcp_invalid_ratelimit, TCPACKSkippedTimeWait); data and FINs are always
// answered.
TEST_F(TcpTimeWait, DuplicateAcksAreRateLimited) {
  auto conn = established();
  to_time_wait(conn);
  peer_.send(at(kBase - 100));  // an old ACK
  peer_.expect(kTcpAck);
  peer_.run_for(100ms);
  peer_.send(at(kBase - 100));
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPACKSkippedTimeWait"), 1u);
  peer_.send(at(kBase - 100, kTcpAck | kTcpPsh), pattern(10));  // old data
  peer_.expect(kTcpAck);
  peer_.set_snd_nxt(kBase);
  peer_.send_fin();
  peer_.expect(kTcpAck);
  peer_.run_for(400ms);  // 500 ms after the first
  peer_.send(at(kBase - 100));
  peer_.expect(kTcpAck);
  EXPECT_EQ(counter("TcpExtTCPACKSkippedTimeWait"), 1u);
}

// A SYN with a higher sequence number opens a new connection through the
// listener (TCP_TW_SYN): TWRecycled, and its ISN is the old snd_nxt +
// 65537, above everything the old connection sent.
TEST_F(TcpTimeWait, HigherSynGivesWayToTheListenerWithAnIsnAboveTheOld) {
  listener_ = listen();
  auto conn = accept_peer(listener_);
  const auto ack = to_time_wait(conn);
  peer_.set_iss(kBase + 1000);
  peer_.send(peer_.syn(PeerOptions{.timestamps = false}));
  const auto synack = peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(synack.seq(), ack.seq() + 65535 + 2);
  EXPECT_EQ(synack.ack(), kBase + 1001);
  EXPECT_EQ(counter("TcpExtTWRecycled"), 1u);
  EXPECT_FALSE(in_time_wait());
  EXPECT_NE(tcp::dump_sockets(*net_).find("SYN-RECV"), std::string::npos);
}

// A lower sequence number with a newer timestamp is a new incarnation too.
TEST_F(TcpTimeWait, LowerSynWithNewerTimestampGivesWay) {
  listener_ = listen();
  auto conn = accept_peer(listener_);
  to_time_wait(conn);
  peer_.run_for(1s);
  peer_.set_iss(kTcpPeerIss - 1000);
  peer_.send(peer_.syn());
  peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(counter("TcpExtTWRecycled"), 1u);
  EXPECT_FALSE(in_time_wait());
}

// A SYN that could open a new incarnation but finds no listener is
// answered by TIME_WAIT, which stays (TCP_TW_SYN falls through to
// TCP_TW_ACK).
TEST_F(TcpTimeWait, HigherSynWithoutListenerGetsTheTimeWaitAck) {
  listener_ = listen();
  auto conn = accept_peer(listener_);
  const auto ack = to_time_wait(conn);
  listener_.close();
  peer_.set_iss(kBase + 1000);
  peer_.send(peer_.syn());
  const auto answer = peer_.expect(kTcpAck);
  EXPECT_EQ(answer.seq(), ack.seq());
  EXPECT_EQ(answer.ack(), kBase + 1);
  EXPECT_EQ(counter("TcpExtTWRecycled"), 0u);
  EXPECT_TRUE(in_time_wait());
}

// TIME_WAIT keeps its local port: bind and the ephemeral search see it,
// as they saw the connection before; after 60 s the port is free.
TEST_F(TcpTimeWait, KeepsItsPortUntilItEnds) {
  sysctl("net.ipv4.ip_local_port_range", "50000 50000");
  auto conn = connect_peer();
  EXPECT_EQ(conn.local_endpoint().port, 50000);
  to_time_wait(conn);
  auto busy = tcp::connect(*net_, {kTcpPeer, 81});
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error(), Errc::address_in_use);
  auto bound = tcp::connect(*net_, {kTcpLocal, 50000}, {kTcpPeer, 82});
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error(), Errc::address_in_use);
  EXPECT_FALSE(tcp::listen(*net_, {Ipv4Address::any(), 50000}));
  peer_.run_until(entered_ + 60s);
  auto free = tcp::connect(*net_, {kTcpPeer, 81});
  ASSERT_TRUE(free);
  EXPECT_EQ(free->local_endpoint().port, 50000);
}

// tcp_max_tw_buckets bounds the records: beyond it a connection closes
// without one (TCPTimeWaitOverflow), its port free at once.
TEST_F(TcpTimeWait, BucketsBoundTheRecords) {
  sysctl("net.ipv4.tcp_max_tw_buckets", "1");
  listener_ = listen();
  auto first = accept_peer(listener_);
  to_time_wait(first);
  peer_.set_self({kTcpPeer, 40001});
  peer_.set_iss(kTcpPeerIss);
  auto second = accept_peer(listener_);
  to_time_wait(second);
  EXPECT_EQ(counter("TcpExtTW"), 1u);
  EXPECT_EQ(counter("TcpExtTCPTimeWaitOverflow"), 1u);
  const std::string dump = tcp::dump_sockets(*net_);
  EXPECT_NE(dump.find("192.0.2.2:40000"), std::string::npos) << dump;
  EXPECT_EQ(dump.find("192.0.2.2:40001"), std::string::npos) << dump;
  peer_.set_snd_nxt(peer_.snd_nxt() - 1);
  peer_.send_fin();  // nothing is left of the second
  EXPECT_TRUE(peer_.expect().has(kTcpRst));
}

// TIME_WAIT has nothing in flight: ICMP errors about it are dropped
// without counting them as errors nobody owns (tcp_v4_err).
TEST_F(TcpTimeWait, IcmpErrorsAreIgnored) {
  auto conn = established();
  const auto ack = to_time_wait(conn);
  const auto before = counter("IcmpInErrors");
  peer_.send_frag_needed(ack, 1280);
  EXPECT_EQ(counter("IcmpInErrors"), before);
  EXPECT_TRUE(in_time_wait());
  peer_.expect_none();
}

// A Stream still held sees time_wait, reads what was left, and sees closed
// when the record ends; the record answers for it meanwhile.
TEST_F(TcpTimeWait, HeldStreamSeesTimeWaitThenClosed) {
  auto conn = established();
  peer_.send_data(5);
  const auto ack = to_time_wait(conn, true);
  EXPECT_EQ(conn.state(), tcp::State::time_wait);
  EXPECT_EQ(conn.info().state, tcp::State::time_wait);
  EXPECT_EQ(conn.local_endpoint().port, kTcpLocalPort);
  EXPECT_EQ(read_all(conn).size(), 5u);
  std::array<std::byte, 4> buf{};
  EXPECT_EQ(conn.read(buf).value(), 0u);
  EXPECT_EQ(conn.write(pattern(1)).error(), Errc::broken_pipe);
  peer_.set_snd_nxt(kBase + 5);
  peer_.send_fin();
  EXPECT_EQ(peer_.expect(kTcpAck).seq(), ack.seq());
  peer_.run_until(entered_ + 60s);
  EXPECT_EQ(conn.state(), tcp::State::closed);
  EXPECT_EQ(conn.read(buf).value(), 0u);
  EXPECT_FALSE(in_time_wait());
}

// Closing or aborting a held Stream in TIME_WAIT sends nothing: the record
// waits on alone (the user's socket was closed by tcp_done already).
TEST_F(TcpTimeWait, ClosingOrAbortingAHeldStreamLeavesTheRecord) {
  listener_ = listen();
  auto first = accept_peer(listener_);
  to_time_wait(first, true);
  first.close();
  peer_.set_self({kTcpPeer, 40001});
  peer_.set_iss(kTcpPeerIss);
  auto second = accept_peer(listener_);
  to_time_wait(second, true);
  second.abort();
  peer_.expect_none();
  const std::string dump = tcp::dump_sockets(*net_);
  EXPECT_EQ(count_time_wait(dump), 2) << dump;
  peer_.run_until(entered_ + 60s);
  EXPECT_FALSE(in_time_wait());
}

// A new incarnation ends a record whose Stream is still held: the Stream
// sees closed.
TEST_F(TcpTimeWait, HeldStreamClosesWhenANewIncarnationTakesThePair) {
  listener_ = listen();
  auto conn = accept_peer(listener_);
  to_time_wait(conn, true);
  peer_.set_iss(kBase + 1000);
  peer_.send(peer_.syn());
  peer_.expect(kTcpSyn | kTcpAck);
  EXPECT_EQ(conn.state(), tcp::State::closed);
}

// The namespace goes with records in it: they go too, their timer with them.
TEST_F(TcpTimeWait, GoneWithTheNamespace) {
  auto conn = established();
  to_time_wait(conn);
  listener_.close();
  eth0_ = nullptr;
  net_ = NetRef();
  poll();
  EXPECT_EQ(host_.stats().live_nets, 1u);
  run_for(2min);
}

}  // namespace ipv4_tcp_time_wait_test
}  // namespace
}  // namespace netns
