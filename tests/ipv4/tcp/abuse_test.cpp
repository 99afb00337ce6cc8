// A peer that misbehaves on purpose: floods of tiny segments, in order and
// out of order, and ACKs with pathological SACK blocks. Memory and work
// stay bounded, and the connection still works afterwards.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "netns/packet_pool.hpp"
#include "support/tcp_peer.hpp"

namespace netns::support {
namespace {
namespace ipv4_tcp_abuse_test {

using namespace std::chrono_literals;

constexpr std::uint32_t kMss = 1448;
constexpr std::uint32_t kBase = kTcpPeerIss + 1;

using TcpAbuse = TcpPeerTest;

// What one received segment pins: a standard pool buffer and its Packet.
std::size_t segment_truesize() {
  PacketPool pool;
  return pool.allocate(1).truesize();
}

TEST_F(TcpAbuse, TinyOutOfOrderSegmentsStayWithinTheBounds) {
  auto conn = established();
  const std::size_t packets_before = host_.packets().in_use();
  // 20,000 one-byte segments, each beyond a one-byte hole: nothing is ever
  // in order, so everything would stay queued without a bound.
  for (std::uint32_t i = 0; i < 20'000; ++i) {
    peer_.set_snd_nxt(kBase + 2 + 2 * i);
    peer_.send_data(1);
    if (i % 256 == 255) peer_.run_for(1ms);  // the device's backlog is bounded too
  }
  peer_.run_for(1ms);
  EXPECT_GT(counter("TcpExtTCPOFODrop"), 0u);
  // Every queued byte costs a pool buffer: charged at what it pins (its
  // truesize, a 2 KiB buffer and its bookkeeping) against tcp_rmem[1], the
  // queue holds no more than 61 of them, and one more: as Linux's
  // tcp_try_rmem_schedule, a segment is taken while the buffer is not over.
  EXPECT_LE(host_.packets().in_use() - packets_before, 131072u / segment_truesize() + 1);
  EXPECT_LE(conn.info().rmem_alloc, conn.info().rcvbuf + segment_truesize());
  // All of it charged to the namespace as well (net.core.packet_mem_max).
  EXPECT_EQ(net_->resources().packet_memory(), conn.info().rmem_alloc);
  EXPECT_EQ(conn.readable_bytes(), 0u);

  // The connection still works: the first hole filled, the bytes queued
  // behind it come in order.
  while (peer_.pending() != 0) (void)peer_.expect();
  peer_.set_snd_nxt(kBase);
  peer_.send_data(2);
  const auto ack = peer_.expect(kTcpAck);
  EXPECT_GT(ack.ack(), kBase + 2);
  EXPECT_EQ(conn.readable_bytes(), ack.ack() - kBase);
}

TEST_F(TcpAbuse, TinyInOrderSegmentsAreCoalesced) {
  auto conn = established();
  const std::size_t packets_before = host_.packets().in_use();
  for (std::uint32_t i = 0; i < 10'000; ++i) {
    peer_.send_data(1);  // the peer's snd_nxt moves on: each is in order
    if (i % 256 == 255) peer_.run_for(1ms);
  }
  peer_.run_for(1ms);
  EXPECT_EQ(conn.readable_bytes(), 10'000u);
  // Merged into the spare room of earlier segments' buffers, not one
  // pool buffer each.
  EXPECT_GE(counter("TcpExtTCPRcvCoalesce"), 9'000u);
  EXPECT_LT(host_.packets().in_use() - packets_before, 100u);
  EXPECT_EQ(read_all(conn).size(), 10'000u);
}

TEST_F(TcpAbuse, PathologicalSackBlocksAreBoundedAndTheDataStillGoes) {
  auto conn = established({.window = 65535});
  ASSERT_EQ(write(conn, 20 * kMss).value(), 20 * kMss);  // two initial windows fit the send buffer
  peer_.run_for(1ms);
  std::vector<TcpSegment> sent;
  while (peer_.pending() != 0) sent.push_back(peer_.expect());
  ASSERT_FALSE(sent.empty());
  const std::uint32_t una = sent.front().seq();
  const std::uint32_t end = sent.back().end();
  // 1,000 ACKs, each SACKing three one-byte blocks at odd offsets.
  std::uint32_t x = 12345;
  for (int i = 0; i < 1'000; ++i) {
    wire::TcpRepr ack = peer_.segment(kTcpAck);
    ack.ack_number = una;
    for (std::size_t b = 0; b < 3; ++b) {
      x = x * 1103515245u + 12345u;
      const std::uint32_t at = una + 1 + 2 * ((x >> 8) % ((end - una) / 2 - 1));
      ack.sack_blocks[b] = {at, at + 1};
    }
    ack.sack_block_count = 3;
    peer_.send(ack);
    if (i % 128 == 127) peer_.run_for(1ms);
  }
  peer_.run_for(1ms);
  // A block covering no whole segment marks nothing (as Linux, which SACKs
  // whole segments): the queue is not split into bytes, and no recovery starts.
  EXPECT_EQ(counter("TcpExtTCPSackRecovery"), 0u);
  EXPECT_EQ(counter("TcpRetransSegs"), 0u);
  // Then a cumulative ACK of everything: the connection has all it sent acknowledged.
  wire::TcpRepr all = peer_.segment(kTcpAck);
  all.ack_number = end;
  peer_.send(all);
  peer_.run_for(1s);
  while (peer_.pending() != 0) {
    const auto seg = peer_.expect();
    all.ack_number = seg.end();
    peer_.send(all);
    peer_.run_for(1ms);
  }
  EXPECT_EQ(conn.info().bytes_acked, 20u * kMss);
}

}  // namespace ipv4_tcp_abuse_test
}  // namespace
}  // namespace netns::support
