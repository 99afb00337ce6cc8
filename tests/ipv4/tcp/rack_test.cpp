// The sender's loss recovery as Linux runs it, seen from the wire with the
// scripted peer: RFC 6675's pipe outside recovery (SACKs and duplicate
// ACKs free room: limited transmit, RFC 3042), RACK's time-based loss
// detection with its reordering window (RFC 8985) and tail loss probes,
// PRR (RFC 6937), and undoing reductions that D-SACKs (RFC 2883) or
// timestamps (RFC 3522) show were spurious. Each test says which Linux
// function the behaviour follows.
//
// The peer answers one round trip (10 ms) after a flight leaves, as a real
// path would: RACK measures time since a segment left, so ACKs in the same
// instant would make every hole a loss at once.
#include <chrono>
#include <initializer_list>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_rack_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kMss = 1448;
constexpr auto kRtt = 10ms;

class TcpRack : public TcpPeerTest {
 protected:
  // Writes `count` full segments and takes what leaves now.
  std::vector<TcpSegment> send_segments(tcp::Stream& conn, std::uint32_t count, std::uint32_t leave) {
    EXPECT_EQ(write(conn, count * kMss).value(), count * kMss);
    std::vector<TcpSegment> out;
    for (std::uint32_t i = 0; i < leave; ++i) out.push_back(peer_.expect());
    peer_.expect_none();
    return out;
  }
  std::vector<TcpSegment> send_segments(tcp::Stream& conn, std::uint32_t count) {
    return send_segments(conn, count, count);
  }
  // An ACK of everything below segs[acked] with SACK blocks [from, to) in
  // segments; a duplicate when acked has not moved.
  void send_sack(const std::vector<TcpSegment>& segs, std::size_t acked,
                 std::initializer_list<std::pair<std::size_t, std::size_t>> blocks) {
    auto ack = peer_.segment(kTcpAck);
    ack.ack_number = segs[acked].seq();
    for (auto [from, to] : blocks) {
      ack.sack_blocks[ack.sack_block_count++] = {segs[from].seq(), segs[to - 1].end()};
    }
    peer_.send(ack);
  }
  void ack_up_to(const TcpSegment& seg) {
    peer_.set_rcv_nxt(seg.end());
    peer_.send_ack();
  }
  // The next segment must be `original` again.
  TcpSegment expect_again(const TcpSegment& original,
                          std::source_location where = std::source_location::current()) {
    const auto again = peer_.expect(where);
    EXPECT_EQ(again.seq(), original.seq()) << "at line " << where.line();
    EXPECT_EQ(again.payload.size(), original.payload.size()) << "at line " << where.line();
    return again;
  }
};

// ---- pipe outside recovery ----

// A SACK says a segment left the network: with the window full, one new
// segment may go (Linux's tcp_packets_in_flight subtracts sacked_out).
TEST_F(TcpRack, ASackedSegmentMakesRoomForANewOne) {
  auto conn = established();
  const auto segs = send_segments(conn, 12, 10);  // IW10: two wait
  peer_.run_for(kRtt);
  send_sack(segs, 0, {{1, 2}});
  const auto next = peer_.expect();
  EXPECT_EQ(next.seq(), segs[9].end());
  peer_.expect_none();
  EXPECT_EQ(counter("TcpRetransSegs"), 0u);
}

// Without SACK each duplicate ACK counts as a segment delivered
// (tcp_add_reno_sack): the first two let a new segment out each (RFC 3042's
// limited transmit), the third starts fast retransmit.
TEST_F(TcpRack, DuplicateAcksWithoutSackAllowLimitedTransmit) {
  auto conn = established({.sack_permitted = false});
  const auto segs = send_segments(conn, 14, 10);
  peer_.run_for(kRtt);
  peer_.set_rcv_nxt(segs[0].seq());
  peer_.send_ack();
  EXPECT_EQ(peer_.expect().seq(), segs[9].end());
  peer_.send_ack();
  EXPECT_EQ(peer_.expect().seq(), segs[9].end() + kMss);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpRetransSegs"), 0u);
  peer_.send_ack();
  expect_again(segs[0]);
  EXPECT_EQ(counter("TcpExtTCPRenoRecovery"), 1u);
}

// ---- RACK ----

// Fewer than DupThresh segments SACKed above a hole: RACK waits a quarter
// of the minimum RTT for reordering, then retransmits (tcp_rack_reo_wnd,
// tcp_rack_reo_timeout) — it does not wait for more duplicate ACKs.
TEST_F(TcpRack, AHoleIsLostOnceTheReorderingWindowPasses) {
  auto conn = established();
  const auto segs = send_segments(conn, 4);
  peer_.run_for(kRtt);
  const auto sacked_at = peer_.now();
  send_sack(segs, 0, {{1, 2}});
  peer_.expect_none();
  // min_rtt / 4 = 2.5 ms, plus Linux's TCP_TIMEOUT_MIN of 2 ms.
  const auto again = peer_.expect_within(10ms);
  EXPECT_EQ(again.seq(), segs[0].seq());
  EXPECT_EQ(again.at - sacked_at, 4500us);
  EXPECT_EQ(counter("TcpExtTCPSackRecovery"), 1u);
  // What ss -i would show (Linux's tcp_info).
  const auto info = conn.info();
  EXPECT_EQ(info.ca_state, "recovery");
  EXPECT_EQ(info.sacked, kMss);
  EXPECT_EQ(info.lost, kMss);
  EXPECT_EQ(info.retrans, kMss);
  EXPECT_EQ(info.min_rtt_us, 10'000u);
  EXPECT_EQ(info.reordering, 3u);
}

// Turning RACK off (net.ipv4.tcp_recovery = 0) leaves RFC 6675's DupThresh:
// two SACKed segments are no loss, however long they wait; the third is.
TEST_F(TcpRack, WithoutRackDupThreshDecides) {
  sysctl("net.ipv4.tcp_recovery", "0");
  sysctl("net.ipv4.tcp_early_retrans", "0");
  auto conn = established();
  const auto segs = send_segments(conn, 5);
  peer_.run_for(kRtt);
  send_sack(segs, 0, {{1, 3}});
  peer_.run_for(100ms);
  peer_.expect_none();
  send_sack(segs, 0, {{1, 4}});
  expect_again(segs[0]);
}

// A segment SACKed out of order, then the hole filled by the original in
// time: no retransmission, and the sender learns the path reorders
// (tcp_check_sack_reordering: TcpExtTCPSACKReorder).
TEST_F(TcpRack, ReorderingWithinTheWindowIsNoLoss) {
  auto conn = established();
  const auto segs = send_segments(conn, 4);
  peer_.run_for(kRtt);
  send_sack(segs, 0, {{1, 2}});
  peer_.run_for(1ms);  // within the 2.5 ms window
  ack_up_to(segs[3]);
  peer_.run_for(1s);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpRetransSegs"), 0u);
  EXPECT_EQ(counter("TcpExtTCPSACKReorder"), 1u);
}

// A retransmission can be lost too. RACK sees a segment sent after it
// delivered while it is not, and sends it again without waiting for the
// retransmission timer (TcpExtTCPLostRetransmit).
TEST_F(TcpRack, ALostRetransmissionIsFoundWithoutTheTimer) {
  auto conn = established({.window = 4096});
  const auto segs = send_segments(conn, 20, 10);
  peer_.run_for(kRtt);
  send_sack(segs, 0, {{1, 4}});  // DupThresh: segment 0 is lost
  expect_again(segs[0]);         // the fast retransmission, lost as well
  // SACKs for 4..9 let PRR send new data after the retransmission.
  std::vector<TcpSegment> after;
  for (std::size_t i = 4; i < 10; ++i) {
    send_sack(segs, 0, {{1, i + 1}});
    while (peer_.pending() != 0) after.push_back(peer_.expect());
  }
  ASSERT_FALSE(after.empty());
  EXPECT_GE(after.front().seq(), segs[9].end());
  // One round trip later the first of them is SACKed: the retransmission,
  // sent before it, is lost.
  peer_.run_for(kRtt);
  auto ack = peer_.segment(kTcpAck);
  ack.ack_number = segs[0].seq();
  ack.sack_blocks[0] = {segs[1].seq(), after.front().end()};
  ack.sack_block_count = 1;
  peer_.send(ack);
  expect_again(segs[0]);
  EXPECT_EQ(counter("TcpExtTCPLostRetransmit"), 1u);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 0u);
}

// ---- tail loss probes ----

// The tail of a flight lost: instead of the RTO, a probe two SRTTs (plus
// 2 ms) after the last ACK resends the last segment (RFC 8985 7.2-7.3,
// tcp_schedule_loss_probe and tcp_send_loss_probe).
TEST_F(TcpRack, ALostTailIsProbedAfterTwoRtts) {
  auto conn = established();
  const auto segs = send_segments(conn, 4);
  peer_.run_for(kRtt);
  ack_up_to(segs[0]);
  const auto acked_at = peer_.now();
  const auto probe = peer_.expect_within(1s);
  EXPECT_EQ(probe.seq(), segs[3].seq());
  EXPECT_EQ(probe.at - acked_at, 2 * kRtt + 2ms);
  EXPECT_EQ(counter("TcpExtTCPLossProbes"), 1u);
  // Its SACK shows 1 and 2 lost: recovery, not a timeout.
  peer_.run_for(kRtt);
  send_sack(segs, 1, {{3, 4}});
  expect_again(segs[1]);
  EXPECT_EQ(counter("TcpExtTCPSackRecovery"), 1u);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 0u);
}

// With data waiting and the peer's window open, the probe is new data,
// past cwnd (tcp_send_loss_probe's tcp_write_xmit with push_one = 2).
TEST_F(TcpRack, TheProbeIsNewDataWhenThereIsSome) {
  auto conn = established();
  const auto segs = send_segments(conn, 12, 10);
  const auto probe = peer_.expect_within(1s);
  EXPECT_EQ(probe.seq(), segs[9].end());
  EXPECT_EQ(probe.at - segs[9].at, 2 * kRtt + 2ms);
  EXPECT_EQ(counter("TcpRetransSegs"), 0u);
  EXPECT_EQ(counter("TcpExtTCPLossProbes"), 1u);
}

// One segment out: the probe waits for a delayed ACK too (2 SRTT + 200 ms),
// but never past the RTO, which then still follows (tcp_rearm_rto).
TEST_F(TcpRack, ALoneSegmentIsProbedAtTheRto) {
  auto conn = established();
  ASSERT_EQ(write(conn, 100).value(), 100u);
  const auto first = peer_.expect();
  const auto probe = peer_.expect_within(1s);
  EXPECT_EQ(probe.at - first.at, 210ms);
  const auto rto = peer_.expect_within(1s);
  EXPECT_EQ(rto.at - probe.at, 210ms);
  EXPECT_EQ(counter("TcpExtTCPLossProbes"), 1u);
  EXPECT_EQ(counter("TcpExtTCPTimeouts"), 1u);
}

// No SACK, no probes: Linux schedules them only for SACK connections.
TEST_F(TcpRack, NoProbesWithoutSack) {
  auto conn = established({.sack_permitted = false});
  send_segments(conn, 4);
  peer_.run_for(200ms);
  peer_.expect_none();
  EXPECT_EQ(counter("TcpExtTCPLossProbes"), 0u);
}

// ---- PRR ----

// In recovery the window comes down to ssthresh over one round trip, in
// proportion to what is delivered, not at once (RFC 6937, Linux's
// tcp_cwnd_reduction): with 10 segments out and cwnd 10, ssthresh is 7
// (CUBIC's beta), so 9 deliveries send 7 segments, the retransmission
// included, never more than one at a time.
TEST_F(TcpRack, PrrSpreadsTheReductionOverTheRoundTrip) {
  auto conn = established({.window = 4096});
  const auto segs = send_segments(conn, 20, 10);
  peer_.run_for(kRtt);
  std::size_t sent = 0;
  for (std::size_t i = 1; i < 10; ++i) {
    send_sack(segs, 0, {{1, i + 1}});
    const std::size_t now_sent = peer_.pending();
    EXPECT_LE(now_sent, 1u) << "after SACK " << i;
    sent += now_sent;
    while (peer_.pending() != 0) peer_.expect();
  }
  EXPECT_EQ(conn.info().ssthresh, 7 * kMss);
  EXPECT_EQ(sent, 7u);
}

// ---- undo ----

// Reordering made a fast retransmit spurious: the peer reports the
// retransmission as a duplicate (D-SACK), and the reduction is undone
// (tcp_try_undo_dsack: TcpExtTCPDSACKUndo).
TEST_F(TcpRack, ADsackForEveryRetransmissionUndoesTheReduction) {
  auto conn = established();
  const auto segs = send_segments(conn, 10);
  const auto cwnd = conn.info().cwnd;
  peer_.run_for(kRtt);
  send_sack(segs, 0, {{1, 4}});
  expect_again(segs[0]);
  ASSERT_LT(conn.info().ssthresh, cwnd);
  // The original arrives late, then the retransmission as a duplicate.
  peer_.run_for(1ms);
  ack_up_to(segs[3]);
  peer_.run_for(kRtt);
  auto dsack = peer_.segment(kTcpAck);
  dsack.sack_blocks[0] = {segs[0].seq(), segs[0].end()};
  dsack.sack_block_count = 1;
  peer_.send(dsack);
  EXPECT_EQ(counter("TcpExtTCPDSACKRecv"), 1u);
  EXPECT_EQ(counter("TcpExtTCPDSACKUndo"), 1u);
  EXPECT_GE(conn.info().cwnd, cwnd);
  EXPECT_GT(conn.info().ssthresh, cwnd);  // back to before the first loss
}

// Timestamps show the original got there: the ACK echoes a time before the
// retransmission (Eifel, RFC 3522; tcp_packet_delayed) and the recovery is
// undone when it ends (tcp_try_undo_recovery: TcpExtTCPFullUndo).
TEST_F(TcpRack, TimestampsUndoASpuriousFastRetransmit) {
  auto conn = established();
  const auto segs = send_segments(conn, 10);
  const auto cwnd = conn.info().cwnd;
  peer_.run_for(kRtt);
  send_sack(segs, 0, {{1, 4}});
  const auto again = expect_again(segs[0]);
  ASSERT_NE(again.tcp.timestamps->value, segs[0].tcp.timestamps->value);
  peer_.run_for(1ms);
  auto ack = peer_.segment(kTcpAck);
  ack.ack_number = segs[9].end();
  ack.timestamps->echo = segs[0].tcp.timestamps->value;  // the original's
  peer_.send(ack);
  EXPECT_EQ(counter("TcpExtTCPFullUndo"), 1u);
  EXPECT_GE(conn.info().cwnd, cwnd);
}

// A retransmission timeout that was spurious (the ACK echoes the original's
// time) is undone too (tcp_try_undo_loss: TcpExtTCPLossUndo).
TEST_F(TcpRack, TimestampsUndoASpuriousTimeout) {
  sysctl("net.ipv4.tcp_early_retrans", "0");
  auto conn = established();
  const auto segs = send_segments(conn, 4);
  const auto cwnd = conn.info().cwnd;
  const auto rto = peer_.expect_within(1s);
  EXPECT_EQ(rto.seq(), segs[0].seq());
  EXPECT_EQ(conn.info().cwnd, kMss);
  auto ack = peer_.segment(kTcpAck);
  ack.ack_number = segs[3].end();
  ack.timestamps->echo = segs[0].tcp.timestamps->value;
  peer_.send(ack);
  EXPECT_EQ(counter("TcpExtTCPLossUndo"), 1u);
  EXPECT_GE(conn.info().cwnd, cwnd);
}

// D-SACKs are checked: one for data never retransmitted is dubious and
// undoes nothing (tcp_dsack_seen: TcpExtTCPDSACKIgnoredDubious).
TEST_F(TcpRack, ADsackForDataNeverRetransmittedIsIgnored) {
  auto conn = established();
  const auto segs = send_segments(conn, 4);
  peer_.run_for(kRtt);
  ack_up_to(segs[3]);
  auto dsack = peer_.segment(kTcpAck);
  dsack.sack_blocks[0] = {segs[1].seq(), segs[1].end()};
  dsack.sack_block_count = 1;
  peer_.send(dsack);
  EXPECT_EQ(counter("TcpExtTCPDSACKRecv"), 1u);
  EXPECT_EQ(counter("TcpExtTCPDSACKIgnoredDubious"), 1u);
  EXPECT_EQ(counter("TcpExtTCPDSACKUndo"), 0u);
}

}  // namespace ipv4_tcp_rack_test
}  // namespace
}  // namespace netns
