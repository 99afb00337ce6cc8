// Receive queues charge what they pin: a flood of 1-byte datagrams or echo
// replies to a socket nobody reads holds no more than the socket's buffer
// (plus the one packet Linux's sock_queue_rcv_skb lets take it over), and
// every packet held is charged to the namespace too.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <boost/asio/error.hpp>
#include <gtest/gtest.h>

#include "netns/icmp.hpp"
#include "netns/packet_pool.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace ipv4_receive_memory_test {

constexpr std::size_t kFlood = 2000;
constexpr std::size_t kBatch = 128;  // datagrams between polls: the veth's backlog is bounded too

// What a small packet pins: a standard pool buffer, its header and the Packet.
std::size_t small_truesize(Host& host) { return host.packets().allocate(1).truesize(); }

class ReceiveMemory : public support::AddressedTwoNets {
 protected:
  // Resolves each side's neighbour first, so no datagram of a flood waits
  // (or is dropped) in the ARP queue.
  void SetUp() override {
    AddressedTwoNets::SetUp();
    auto ping = icmp::open(*blue_).value();
    ASSERT_TRUE(ping.send_echo(kRed, 0));
    poll();
    ASSERT_TRUE(ping.receive());
  }
};

TEST_F(ReceiveMemory, OneByteUdpFloodPinsNoMoreThanTheBuffer) {
  auto server = udp::open(*red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 5353}));
  auto client = udp::open(*blue_).value();
  const std::size_t rcvbuf = server.receive_buffer_size();
  ASSERT_EQ(rcvbuf, 212992u);  // net.core.rmem_default
  const std::size_t truesize = small_truesize(host_);
  const std::size_t packets_before = host_.stats().packets_in_use;

  const std::array<std::byte, 1> one{std::byte{0x42}};
  for (std::size_t i = 0; i < kFlood; ++i) {
    ASSERT_TRUE(client.send_to(one, {kRed, 5353}));
    if (i % kBatch == kBatch - 1) poll();
  }
  poll();

  // Taken while under the buffer: at least the buffer, at most one packet over.
  const std::size_t pinned = red_->resources().packet_memory();
  EXPECT_GE(pinned, rcvbuf);
  EXPECT_LE(pinned, rcvbuf + truesize);
  EXPECT_LE(host_.stats().packets_in_use - packets_before, rcvbuf / truesize + 1);
  // 100 of them (2,144 bytes each); before truesize was charged, 828 were
  // held (1.7 MB).
  const std::size_t queued = pinned / truesize;
  EXPECT_EQ(queued, rcvbuf / truesize + 1);
  EXPECT_EQ(red_->counters().get("UdpRcvbufErrors"), kFlood - queued);
  EXPECT_EQ(red_->counters().get("UdpInErrors"), kFlood - queued);
  EXPECT_EQ(red_->counters().get("UdpMemErrors"), 0u);

  std::array<std::byte, 16> buf{};
  std::size_t read = 0;
  while (server.receive_from(buf)) ++read;
  EXPECT_EQ(read, queued);
  EXPECT_EQ(red_->resources().packet_memory(), 0u);
  EXPECT_EQ(host_.stats().packets_in_use, packets_before);
}

TEST_F(ReceiveMemory, SmallerBufferHoldsProportionallyFewer) {
  auto server = udp::open(*red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 5353}));
  ASSERT_TRUE(server.set_receive_buffer_size(8192));
  auto client = udp::open(*blue_).value();
  const std::size_t truesize = small_truesize(host_);
  const std::array<std::byte, 1> one{};
  for (std::size_t i = 0; i < 50; ++i) ASSERT_TRUE(client.send_to(one, {kRed, 5353}));
  poll();
  // 8 KiB takes four 2.1 KiB packets: three under it, the fourth over.
  EXPECT_EQ(red_->resources().packet_memory(), 4 * truesize);
  EXPECT_EQ(red_->counters().get("UdpRcvbufErrors"), 46u);
}

TEST_F(ReceiveMemory, EmptyQueueTakesADatagramLargerThanItsBuffer) {
  auto server = udp::open(*red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 5353}));
  ASSERT_TRUE(server.set_receive_buffer_size(1024));
  auto client = udp::open(*blue_).value();
  const std::array<std::byte, 1400> big{};
  ASSERT_TRUE(client.send_to(big, {kRed, 5353}));
  ASSERT_TRUE(client.send_to(big, {kRed, 5353}));
  poll();
  std::array<std::byte, 1500> buf{};
  auto got = server.receive_from(buf);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size, 1400u);
  EXPECT_FALSE(server.receive_from(buf));
  EXPECT_EQ(red_->counters().get("UdpRcvbufErrors"), 1u);
}

TEST_F(ReceiveMemory, EchoReplyFloodPinsNoMoreThanThePingSocketsBuffer) {
  auto ping = icmp::open(*blue_).value();
  const std::size_t rcvbuf = 212992;  // net.core.rmem_default
  const std::size_t truesize = small_truesize(host_);
  const std::array<std::byte, 1> one{};
  for (std::size_t i = 0; i < kFlood; ++i) {
    ASSERT_TRUE(ping.send_echo(kRed, static_cast<std::uint16_t>(i), one));
    if (i % kBatch == kBatch - 1) poll();
  }
  poll();
  ASSERT_EQ(red_->counters().get("IcmpOutEchoReps"), kFlood + 1);
  const std::size_t pinned = blue_->resources().packet_memory();
  EXPECT_GE(pinned, rcvbuf);
  EXPECT_LE(pinned, rcvbuf + truesize);

  std::size_t read = 0;
  while (ping.receive()) ++read;
  EXPECT_EQ(read, pinned / truesize);
  EXPECT_EQ(blue_->resources().packet_memory(), 0u);
}

TEST_F(ReceiveMemory, ClosingASocketGivesItsMemoryBack) {
  auto server = udp::open(*red_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), 5353}));
  auto client = udp::open(*blue_).value();
  const std::array<std::byte, 100> some{};
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(client.send_to(some, {kRed, 5353}));
  poll();
  EXPECT_EQ(red_->resources().packet_memory(), 10 * small_truesize(host_));
  server.close();
  EXPECT_EQ(red_->resources().packet_memory(), 0u);
}

}  // namespace ipv4_receive_memory_test
}  // namespace
}  // namespace netns
