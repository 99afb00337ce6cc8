// Moving a device while traffic flows through it: a frame that reached the
// device before the move is delivered in the old namespace or dropped, never
// seen in the new one; traffic sent after the move belongs to the new one.
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_move_under_traffic_test {

using support::AddressedTwoNets;
using support::RecordingHandler;
using support::TwoNets;

constexpr std::uint16_t kPort = 5000;

class MoveUnderTraffic : public AddressedTwoNets {
 protected:
  void SetUp() override {
    AddressedTwoNets::SetUp();
    green_ = host_.create_net("green").value();
  }
  // Moves red's eth0 to green and gives it red's address there.
  void move_red_eth0_to_green() {
    ASSERT_TRUE(host_.move_device(*red_eth0_, *green_));
    ASSERT_TRUE(ipv4::add_address(*green_, *red_eth0_, {kRed, 24}));
    ASSERT_TRUE(set_link_up(*red_eth0_));
  }
  // Every datagram waiting on `sock`, as the sequence numbers they carry.
  static std::vector<std::uint32_t> drain(udp::Socket& sock) {
    std::vector<std::uint32_t> seqs;
    std::byte buf[64];
    while (auto got = sock.receive_from(buf)) {
      std::uint32_t seq;
      std::memcpy(&seq, buf, sizeof seq);
      seqs.push_back(seq);
    }
    return seqs;
  }
  NetRef green_;
};

TEST_F(MoveUnderTraffic, AHandlerMovingTheDeviceMidBurstLeavesTheRestUndelivered) {
  // Plain frames, no IP: only the device's path matters here.
  RecordingHandler seen(host_);
  for (int i = 0; i < 10; ++i) blue_eth0_->transmit(frame_to_red());
  ASSERT_EQ(red_eth0_->backlog_size(), 10u);
  seen.on_frame = [&](Net&, Device&, Packet) {
    if (seen.count() == 3) {
      ASSERT_TRUE(host_.move_device(*red_eth0_, *green_));
    }
  };
  poll();
  ASSERT_EQ(seen.count(), 3u);
  for (const auto& frame : seen.frames()) EXPECT_EQ(frame.net_id, red_->id());
  EXPECT_EQ(red_eth0_->stats().rx_dropped, 7u);

  seen.on_frame = nullptr;
  ASSERT_TRUE(set_link_up(*red_eth0_));
  run_for(std::chrono::milliseconds(10));
  EXPECT_EQ(seen.count(), 3u);  // nothing old comes in, even with the device up again
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(MoveUnderTraffic, DatagramsSentBeforeTheMoveNeverReachTheNewNamespace) {
  auto in_red = udp::open(*red_).value();
  ASSERT_TRUE(in_red.bind({Ipv4Address::any(), kPort}));
  auto in_green = udp::open(*green_).value();
  ASSERT_TRUE(in_green.bind({Ipv4Address::any(), kPort}));
  auto sender = udp::open(*blue_).value();

  std::uint32_t seq = 0;
  auto send_burst = [&](int n) {
    for (int i = 0; i < n; ++i, ++seq) {
      ASSERT_TRUE(sender.send_to(std::as_bytes(std::span(&seq, 1)), {kRed, kPort}));
    }
  };
  std::vector<std::uint32_t> to_red, to_green;
  for (int round = 0; round < 20; ++round) {
    send_burst(50);
    poll();
    auto got = drain(in_red);
    to_red.insert(to_red.end(), got.begin(), got.end());
  }
  // A burst sits in red_eth0's backlog when it moves.
  send_burst(50);
  std::uint32_t last_before_move = seq - 1;
  ASSERT_GT(red_eth0_->backlog_size(), 0u);
  move_red_eth0_to_green();
  for (int round = 0; round < 20; ++round) {
    send_burst(50);
    run_for(std::chrono::milliseconds(1));
    auto got = drain(in_green);
    to_green.insert(to_green.end(), got.begin(), got.end());
  }
  auto late = drain(in_red);
  to_red.insert(to_red.end(), late.begin(), late.end());

  ASSERT_EQ(to_red.size(), 1000u);  // everything that arrived before the move
  for (std::uint32_t s : to_red) EXPECT_LT(s, 1000u);
  ASSERT_FALSE(to_green.empty());
  for (std::uint32_t s : to_green) EXPECT_GT(s, last_before_move);
  EXPECT_EQ(red_eth0_->stats().rx_dropped, 50u);
  EXPECT_EQ(host_.stats().packet_copies, 0u);
}

// Sends `total` bytes (a counting pattern) from client to server, polling as
// it goes; returns what the server read.
std::vector<std::byte> transfer_step(tcp::Stream& client, tcp::Stream& server, std::size_t& sent,
                                     std::size_t total) {
  std::vector<std::byte> out(16384);
  while (sent < total) {
    std::size_t n = std::min(out.size(), total - sent);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((sent + i) % 251);
    auto wrote = client.write(std::span(out).first(n));
    if (!wrote || *wrote == 0) break;
    sent += *wrote;
  }
  std::vector<std::byte> got;
  std::byte buf[16384];
  while (auto n = server.read(buf)) {
    if (*n == 0) break;
    got.insert(got.end(), buf, buf + *n);
  }
  return got;
}

TEST_F(MoveUnderTraffic, ATcpTransferSurvivesItsDeviceVisitingAnotherNamespace) {
  auto listener = tcp::listen(*red_, {Ipv4Address::any(), kPort}).value();
  auto client = tcp::connect(*blue_, {kRed, kPort}).value();
  run_for(std::chrono::milliseconds(5));
  auto server = listener.accept().value();

  constexpr std::size_t kTotal = 4 << 20;
  std::size_t sent = 0;
  std::vector<std::byte> received;
  auto step = [&](std::chrono::milliseconds span) {
    auto got = transfer_step(client, server, sent, kTotal);
    received.insert(received.end(), got.begin(), got.end());
    run_for(span);
  };
  for (int i = 0; i < 20 && received.size() < kTotal / 4; ++i) step(std::chrono::milliseconds(1));
  ASSERT_LT(received.size(), kTotal);

  // Away to green with segments in its backlog, up there without red's
  // address (green would answer a stranger's segments with resets, as
  // Linux would), and back 300 ms later.
  ASSERT_GT(sent, client.info().bytes_acked);  // data in flight
  ASSERT_TRUE(host_.move_device(*red_eth0_, *green_));
  ASSERT_TRUE(set_link_up(*red_eth0_));
  step(std::chrono::milliseconds(300));
  EXPECT_GT(green_->counters().get("IpInAddrErrors"), 0u);  // not for green: dropped there
  ASSERT_TRUE(host_.move_device(*red_eth0_, *red_));
  ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, {kRed, 24}));
  ASSERT_TRUE(set_link_up(*red_eth0_));

  for (int i = 0; i < 20000 && received.size() < kTotal; ++i) step(std::chrono::milliseconds(1));
  ASSERT_EQ(received.size(), kTotal);
  for (std::size_t i = 0; i < kTotal; ++i) {
    ASSERT_EQ(received[i], static_cast<std::byte>(i % 251)) << "at byte " << i;
  }
  EXPECT_EQ(green_->counters().get("TcpOutRsts"), 0u);
}

}  // namespace devices_move_under_traffic_test
}  // namespace
}  // namespace netns
