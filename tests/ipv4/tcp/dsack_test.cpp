// D-SACK (RFC 2883) sent by the receiver: a segment bringing data we had
// already is reported in the first SACK block of the next ACK, as Linux's
// tcp_dsack_set / tcp_dsack_extend do (counters TcpExtTCPDSACKOldSent for
// data below rcv_nxt, TcpExtTCPDSACKOfoSent for data in the out-of-order
// queue), once, followed by the SACK blocks of the out-of-order queue with
// the block holding the duplicate first (RFC 2883 4.1).
#include <gtest/gtest.h>

#include "support/tcp_peer.hpp"

namespace netns::support {
namespace {
namespace ipv4_tcp_dsack_test {

using namespace std::chrono_literals;

constexpr std::uint32_t kMss = 1448;
constexpr std::uint32_t kBase = kTcpPeerIss + 1;

wire::TcpSackBlock block(std::uint32_t from, std::uint32_t to) { return {kBase + from, kBase + to}; }

class TcpDsack : public TcpPeerTest {
 protected:
  // Two segments come and are ACKed; the first comes again: its ACK.
  TcpSegment resend_the_first_of_two() {
    peer_.send_data(kMss);
    peer_.send_data(kMss);
    peer_.expect(kTcpAck);
    peer_.set_snd_nxt(kBase);
    peer_.send_data(kMss);
    return peer_.expect(kTcpAck);
  }
  // An island [at, at + len) beyond a hole, then a segment [from, from +
  // size) overlapping it: the ACK of that segment.
  TcpSegment island_then(std::uint32_t at, std::uint32_t len, std::uint32_t from, std::uint32_t size) {
    peer_.set_snd_nxt(kBase + at);
    peer_.send_data(len);
    peer_.expect(kTcpAck);
    peer_.set_snd_nxt(kBase + from);
    peer_.send_data(size);
    return peer_.expect(kTcpAck);
  }
};

// The peer's retransmission of data we have ACKed (our ACK was lost, or its
// timer fired early): answered at once with a D-SACK of it.
TEST_F(TcpDsack, OldDuplicateIsReportedInTheFirstBlock) {
  auto conn = established();
  peer_.send_data(kMss);
  peer_.send_data(kMss);
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), kBase + 2 * kMss);
  peer_.set_snd_nxt(kBase + kMss);
  peer_.send_data(kMss);  // [M, 2M) again
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase + 2 * kMss);
  ASSERT_EQ(ack.tcp.sack_block_count, 1u);
  EXPECT_EQ(ack.tcp.sack_blocks[0], block(kMss, 2 * kMss));
  EXPECT_EQ(counter("TcpExtTCPDSACKOldSent"), 1u);
  EXPECT_EQ(counter("TcpExtDelayedACKLost"), 1u);
  EXPECT_EQ(conn.readable_bytes(), 2 * kMss);
  // Sent once: the next ACK carries no D-SACK.
  peer_.set_snd_nxt(kBase + 2 * kMss);
  peer_.send_data(kMss);
  peer_.send_data(kMss);
  const auto next = peer_.expect(kTcpAck);
  EXPECT_EQ(next.ack(), kBase + 4 * kMss);
  EXPECT_EQ(next.tcp.sack_block_count, 0u);
}

// A retransmission half old, half new: the old half is reported, the new
// half taken (tcp_data_queue's partial packet).
TEST_F(TcpDsack, PartlyOldSegmentReportsItsOldPart) {
  auto conn = established();
  peer_.send_data(1000);
  peer_.run_for(40ms);
  EXPECT_EQ(peer_.expect(kTcpAck).ack(), kBase + 1000);
  peer_.set_snd_nxt(kBase + 600);
  peer_.send_data(1000);  // [600, 1600)
  const auto ack = peer_.expect(kTcpAck);  // at once, to carry the report
  EXPECT_EQ(ack.ack(), kBase + 1600);
  ASSERT_EQ(ack.tcp.sack_block_count, 1u);
  EXPECT_EQ(ack.tcp.sack_blocks[0], block(600, 1000));
  EXPECT_EQ(counter("TcpExtTCPDSACKOldSent"), 1u);
  EXPECT_EQ(read_all(conn), pattern(1600, 1));
}

// A duplicate of what waits in the out-of-order queue: the D-SACK, then the
// block holding it, then the others.
TEST_F(TcpDsack, OutOfOrderDuplicateComesBeforeItsBlock) {
  auto conn = established();
  for (std::uint32_t at : {2u, 4u, 6u}) {  // three islands beyond holes
    peer_.set_snd_nxt(kBase + at * kMss);
    peer_.send_data(kMss);
    peer_.expect(kTcpAck);
  }
  peer_.set_snd_nxt(kBase + 2 * kMss);
  peer_.send_data(kMss);  // the first island again
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_EQ(ack.ack(), kBase);
  ASSERT_EQ(ack.tcp.sack_block_count, 3u);  // beside the timestamps, three blocks fit
  EXPECT_EQ(ack.tcp.sack_blocks[0], block(2 * kMss, 3 * kMss));  // D-SACK
  EXPECT_EQ(ack.tcp.sack_blocks[1], block(2 * kMss, 3 * kMss));  // its block
  EXPECT_EQ(ack.tcp.sack_blocks[2], block(6 * kMss, 7 * kMss));  // the most recent other
  EXPECT_EQ(counter("TcpExtTCPDSACKOfoSent"), 1u);
  EXPECT_EQ(counter("TcpExtTCPOFOMerge"), 1u);
}

// A segment overlapping the start of an island: the overlap is reported, and
// the island, grown, is the next block.
TEST_F(TcpDsack, PartialOverlapWithAnIslandReportsTheOverlap) {
  auto conn = established();
  const auto ack = island_then(2000, 1000, 1500, 1000);  // [2000, 3000), then [1500, 2500)
  ASSERT_EQ(ack.tcp.sack_block_count, 2u);
  EXPECT_EQ(ack.tcp.sack_blocks[0], block(2000, 2500));
  EXPECT_EQ(ack.tcp.sack_blocks[1], block(1500, 3000));
  EXPECT_EQ(counter("TcpExtTCPDSACKOfoSent"), 1u);
}

// Filling a hole with data that runs into an island: the island's part was
// had twice (tcp_ofo_queue extends the D-SACK with it).
TEST_F(TcpDsack, InOrderDataOverlappingAnIslandReportsTheOverlap) {
  auto conn = established();
  // [1000, 2000), then [0, 1500): it fills the hole and covers half the island.
  const auto ack = island_then(1000, 1000, 0, 1500);
  EXPECT_EQ(ack.ack(), kBase + 2000);
  ASSERT_EQ(ack.tcp.sack_block_count, 1u);
  EXPECT_EQ(ack.tcp.sack_blocks[0], block(1000, 1500));
  EXPECT_EQ(read_all(conn), pattern(2000, 1));
}

// Only where SACK was negotiated, and while net.ipv4.tcp_dsack allows.
TEST_F(TcpDsack, NotSentWithoutSack) {
  auto conn = established({.sack_permitted = false});
  const auto ack = resend_the_first_of_two();
  EXPECT_EQ(ack.ack(), kBase + 2 * kMss);
  EXPECT_EQ(ack.tcp.sack_block_count, 0u);
  EXPECT_EQ(counter("TcpExtTCPDSACKOldSent"), 0u);
}

TEST_F(TcpDsack, SysctlTurnsItOff) {
  sysctl("net.ipv4.tcp_dsack", "0");
  auto conn = established();
  const auto ack = resend_the_first_of_two();
  EXPECT_EQ(ack.tcp.sack_block_count, 0u);
  EXPECT_EQ(counter("TcpExtTCPDSACKOldSent"), 0u);
  EXPECT_EQ(counter("TcpExtDelayedACKLost"), 1u);  // the duplicate is still seen
}

// A duplicate with an old timestamp is refused by PAWS, and still reported
// (tcp_send_dupack).
TEST_F(TcpDsack, PawsRejectedDuplicateIsReported) {
  auto conn = established();
  peer_.send_data(kMss);
  peer_.send_data(kMss);
  peer_.expect(kTcpAck);
  peer_.run_for(10ms);
  auto seg = peer_.segment(kTcpAck | kTcpPsh);
  seg.seq_number = kBase;
  seg.timestamps->value -= 100;  // from before TS.Recent
  peer_.send(seg, pattern(kMss, 1));
  const auto ack = peer_.expect(kTcpAck);
  ASSERT_EQ(ack.tcp.sack_block_count, 1u);
  EXPECT_EQ(ack.tcp.sack_blocks[0], block(0, kMss));
  EXPECT_EQ(counter("TcpExtPAWSEstab"), 1u);
  EXPECT_EQ(counter("TcpExtTCPDSACKOldSent"), 1u);
}

}  // namespace ipv4_tcp_dsack_test
}  // namespace
}  // namespace netns::support
