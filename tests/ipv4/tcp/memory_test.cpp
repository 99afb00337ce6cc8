// net.ipv4.tcp_mem: the namespace's TCP memory, its pressure and its hard
// limit (Linux's tcp_memory_allocated, __sk_mem_raise_allocated).
#include <chrono>

#include <gtest/gtest.h>

#include "netns/tcp.hpp"
#include "support/tcp_peer.hpp"

namespace netns {
namespace {
namespace ipv4_tcp_memory_test {

using namespace std::chrono_literals;
using namespace support;

constexpr std::uint32_t kBase = kTcpPeerIss + 1;
constexpr std::size_t kSegment = 1400;  // never coalesced into the one before

class TcpMemory : public TcpPeerTest {
 protected:
  // `n` segments in order, unread; the window of the last ACK, in bytes.
  std::uint32_t fill(int n) {
    for (int i = 0; i < n; ++i) peer_.send_data(kSegment);
    peer_.run_for(1ms);
    std::uint32_t window = 0;
    while (peer_.pending() != 0) {
      const TcpSegment ack = peer_.expect();
      window = std::uint32_t{ack.tcp.window} << peer_.remote_wscale();
    }
    return window;
  }

 public:
  std::uint32_t fill_for_test(int n) { return fill(n); }
  Bytes read_all_for_test(tcp::Stream& s) { return read_all(s); }
};

TEST_F(TcpMemory, AboveTheHardLimitOutOfOrderDataIsRefused) {
  sysctl("net.ipv4.tcp_mem", "1 1 1");  // 4 KiB: about one packet
  auto s = established();
  peer_.set_snd_nxt(kBase + kSegment);  // a hole at the first byte
  for (int i = 0; i < 4; ++i) peer_.send_data(kSegment);
  peer_.run_for(1ms);
  EXPECT_EQ(counter("TcpExtTCPOFOQueue"), 1u);
  EXPECT_EQ(counter("TcpExtTCPOFODrop"), 3u);
  EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 1u);
  EXPECT_EQ(counter("IpExtPacketMemDrops"), 0u);  // tcp_mem refused, not packet_mem_max
  // In-order data into an empty queue is always taken, so data can move.
  peer_.set_snd_nxt(kBase);
  peer_.send_data(kSegment);
  peer_.run_for(1ms);
  EXPECT_EQ(s.readable_bytes(), 2 * kSegment);
}

TEST_F(TcpMemory, AboveTheHardLimitInOrderDataWaitsForTheReader) {
  sysctl("net.ipv4.tcp_mem", "1 1 1");
  auto s = established();
  (void)fill(3);
  EXPECT_EQ(s.readable_bytes(), kSegment);
  // The second is refused, and the window offered then is 0: the third
  // is outside it.
  EXPECT_EQ(counter("TcpExtTCPRcvQDrop"), 1u);
  // Once read, the memory is free again and the retransmission is taken.
  EXPECT_EQ(read_all(s).size(), kSegment);
  peer_.set_snd_nxt(kBase + kSegment);
  (void)fill(1);
  EXPECT_EQ(s.readable_bytes(), kSegment);
}

TEST_F(TcpMemory, PressureStartsAboveTheSecondValueAndEndsBelowTheFirst) {
  sysctl("net.ipv4.tcp_mem", "4 6 100000");  // 16 KiB, 24 KiB
  auto s = established();
  (void)fill(6);  // about 14 KiB of truesize: below both
  EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 0u);
  (void)fill(6);  // about 28 KiB
  EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 1u);
  EXPECT_EQ(s.readable_bytes(), 12 * kSegment);  // under pressure, below tcp_mem[2]: still taken
  peer_.run_for(50ms);
  EXPECT_EQ(counter("TcpExtTCPMemoryPressuresChrono"), 0u);
  EXPECT_EQ(read_all(s).size(), 12 * kSegment);  // below tcp_mem[0]: over
  EXPECT_GE(counter("TcpExtTCPMemoryPressuresChrono"), 50u);
  EXPECT_LE(counter("TcpExtTCPMemoryPressuresChrono"), 52u);
  (void)fill(1);
  EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 1u);
}

// Under pressure the window stops growing (tcp_grow_window): a reader that
// keeps up is offered what the handshake offered, not the whole buffer.
// The connection's unacknowledged data keeps the namespace above tcp_mem[0].
std::uint32_t window_while_reading(TcpMemory& t, tcp::Stream& s) {
  (void)s.write(std::vector<std::byte>(20'000));
  std::uint32_t window = 0;
  for (int round = 0; round < 20; ++round) {
    window = t.fill_for_test(2);
    (void)t.read_all_for_test(s);
  }
  return window;
}

TEST_F(TcpMemory, WithoutPressureTheWindowGrowsToTheBuffer) {
  auto s = established();
  EXPECT_GT(window_while_reading(*this, s), 80'000u);
  EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 0u);
}

TEST_F(TcpMemory, UnderPressureTheWindowStopsGrowing) {
  sysctl("net.ipv4.tcp_mem", "1 1 1000000");
  auto s = established();
  EXPECT_LT(window_while_reading(*this, s), 70'000u);
  EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 1u);
  EXPECT_EQ(counter("TcpExtTCPRcvQDrop"), 0u);
}

// Every queue gives its memory back when its connection goes: a later
// connection holding less than tcp_mem[1] is not under pressure.
TEST_F(TcpMemory, ClosedConnectionsGiveEverythingBack) {
  sysctl("net.ipv4.tcp_mem", "4 6 100000");
  {
    auto s = established();
    (void)s.write(std::vector<std::byte>(50'000));
    (void)fill(12);
    EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 1u);
    s.abort();
    listener_.close();
  }
  peer_.run_for(1s);
  while (peer_.pending() != 0) (void)peer_.expect();
  EXPECT_GE(counter("TcpExtTCPMemoryPressuresChrono"), 1u);  // over when the last queue went
  peer_.set_self({kTcpPeer, kTcpPeerPort + 1});
  auto s = established();
  (void)fill(6);
  EXPECT_EQ(counter("TcpExtTCPMemoryPressures"), 1u);
}

}  // namespace ipv4_tcp_memory_test
}  // namespace
}  // namespace netns
