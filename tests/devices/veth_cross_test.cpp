// A veth between namespaces of two Hosts (devices/veth_cross.cpp): traffic
// both ways with buffers lent and coming home, a full ring, carrier, either
// end or a whole Host going with frames in flight, and two threads each
// driving its Host. Most tests drive both Hosts from one thread, in turn,
// on one virtual clock, so they replay exactly; the last runs two threads
// on the real clock (the suite's ThreadSanitizer run watches it).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "netns/host.hpp"
#include "netns/ipv4.hpp"
#include "netns/packet_pool.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace devices_veth_cross_test {

using namespace std::chrono_literals;

const Ipv4Address kA(192, 0, 2, 1);
const Ipv4Address kB(192, 0, 2, 2);
constexpr std::uint16_t kPort = 7;

std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s.data(), s.size())); }

// Host a's namespace "a" and Host b's "b", joined by a veth whose ends are
// both eth0, up, with 192.0.2.1/24 on a's and 192.0.2.2/24 on b's.
class CrossHostVeth : public ::testing::Test {
 protected:
  void SetUp() override { build(); }

  void build(int b_backlog = 0) {
    a_net_ = a_->create_net("a").value();
    b_net_ = b_->create_net("b").value();
    if (b_backlog > 0) {
      ASSERT_TRUE(b_net_->sysctl().set("net.core.netdev_max_backlog", std::to_string(b_backlog)));
    }
    auto pair = make_veth(*a_net_, "eth0", *b_net_, "eth0");
    ASSERT_TRUE(pair);
    a_eth0_ = pair->a;
    b_eth0_ = pair->b;
    ASSERT_TRUE(set_link_up(*a_eth0_));
    ASSERT_TRUE(set_link_up(*b_eth0_));
    ASSERT_TRUE(ipv4::add_address(*a_net_, *a_eth0_, Ipv4Prefix::parse("192.0.2.1/24").value()));
    ASSERT_TRUE(ipv4::add_address(*b_net_, *b_eth0_, Ipv4Prefix::parse("192.0.2.2/24").value()));
    poll();
  }

  // Both Hosts in turn, a few rounds: enough for ARP and a datagram each way.
  void poll(int rounds = 4) {
    for (int i = 0; i < rounds; ++i) {
      a_->poll(clock_.now());
      b_->poll(clock_.now());
    }
  }

  VirtualClock clock_;
  std::unique_ptr<Host> a_ = std::make_unique<Host>(support::test_config());
  std::unique_ptr<Host> b_ = std::make_unique<Host>(support::test_config());
  NetRef a_net_, b_net_;
  Device* a_eth0_ = nullptr;
  Device* b_eth0_ = nullptr;
};

TEST_F(CrossHostVeth, UdpCrossesBothWaysAndEveryBufferComesHome) {
  auto server = udp::open(*b_net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), kPort}));
  auto client = udp::open(*a_net_).value();
  constexpr int kDatagrams = 50;
  std::array<std::byte, 256> buf{};
  for (int i = 0; i < kDatagrams; ++i) {
    ASSERT_TRUE(client.send_to(bytes_of("ping " + std::to_string(i)), {kB, kPort}));
    poll();
    auto got = server.receive_from(buf);
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), got->size), "ping " + std::to_string(i));
    EXPECT_EQ(got->from.address, IpAddress(kA));
    ASSERT_TRUE(server.send_to(bytes_of("pong " + std::to_string(i)), got->from));
    poll();
    auto back = client.receive_from(buf);
    ASSERT_TRUE(back) << i;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(buf.data()), back->size), "pong " + std::to_string(i));
  }
  poll();
  EXPECT_EQ(a_->packets().lent(), 0u);
  EXPECT_EQ(b_->packets().lent(), 0u);
  EXPECT_EQ(a_->stats().packet_copies, 0u);
  EXPECT_EQ(b_->stats().packet_copies, 0u);
  EXPECT_GE(a_eth0_->stats().tx_packets, static_cast<std::uint64_t>(kDatagrams));
  EXPECT_EQ(a_eth0_->stats().tx_packets, b_eth0_->stats().rx_packets);
  EXPECT_EQ(b_eth0_->stats().tx_packets, a_eth0_->stats().rx_packets);
}

TEST_F(CrossHostVeth, BuffersHeldAbroadCountThereAndComeHomeWhenLetGo) {
  auto server = udp::open(*b_net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), kPort}));
  auto client = udp::open(*a_net_).value();
  ASSERT_TRUE(client.send_to(bytes_of("warm"), {kB, kPort}));  // ARP first
  poll();
  std::array<std::byte, 64> buf{};
  ASSERT_TRUE(server.receive_from(buf));
  poll();
  const std::size_t b_before = b_->packets().in_use();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client.send_to(bytes_of("held"), {kB, kPort}));
  poll();
  EXPECT_EQ(a_->packets().lent(), 5u);  // queued on b's socket
  EXPECT_EQ(b_->packets().in_use(), b_before + 5);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(server.receive_from(buf));
  EXPECT_EQ(b_->packets().in_use(), b_before);
  EXPECT_EQ(a_->packets().lent(), 5u);  // b's next poll sends them, a's takes them
  b_->poll(clock_.now());
  EXPECT_EQ(a_->packets().lent(), 5u);
  a_->poll(clock_.now());
  EXPECT_EQ(a_->packets().lent(), 0u);
}

// b's backlog at 8 before the veth is made: the ring into b holds 8 frames.
class CrossHostVethSmallRing : public CrossHostVeth {
 protected:
  void SetUp() override { build(8); }
};

TEST_F(CrossHostVethSmallRing, AFullRingDropsAndCountsAndTheDroppedComeHome) {
  const std::uint64_t tx_before = a_eth0_->stats().tx_packets;
  const std::uint64_t rx_before = b_eth0_->stats().rx_packets;
  for (int i = 0; i < 20; ++i) {
    a_eth0_->transmit(support::make_frame(*a_, b_eth0_->mac(), a_eth0_->mac(), support::kTestEthertype, 46));
  }
  EXPECT_EQ(a_eth0_->stats().tx_packets - tx_before, 8u);
  EXPECT_EQ(a_eth0_->stats().tx_dropped, 12u);
  b_->poll(clock_.now());
  EXPECT_EQ(b_eth0_->stats().rx_packets - rx_before, 8u);
  a_->poll(clock_.now());
  EXPECT_EQ(a_->packets().lent(), 0u);
}

TEST_F(CrossHostVeth, EachEndHasCarrierWhileTheOtherIsUp) {
  EXPECT_TRUE(a_eth0_->is_running());
  ASSERT_TRUE(set_link_up(*b_eth0_, false));
  poll(1);
  EXPECT_FALSE(a_eth0_->has_carrier());
  a_eth0_->transmit(support::make_frame(*a_, b_eth0_->mac(), a_eth0_->mac(), support::kTestEthertype, 46));
  EXPECT_EQ(a_eth0_->stats().tx_dropped, 1u);
  ASSERT_TRUE(set_link_up(*b_eth0_));
  poll(1);
  EXPECT_TRUE(a_eth0_->is_running());
  EXPECT_TRUE(b_eth0_->is_running());
}

TEST_F(CrossHostVeth, DestroyingOneEndTakesTheOtherAtItsHostsNextPollAndFramesInFlightGoHome) {
  for (int i = 0; i < 5; ++i) {
    a_eth0_->transmit(support::make_frame(*a_, b_eth0_->mac(), a_eth0_->mac(), support::kTestEthertype, 46));
  }
  EXPECT_EQ(a_->packets().lent(), 5u);
  ASSERT_TRUE(destroy_device(*a_eth0_));
  EXPECT_EQ(a_net_->device("eth0"), nullptr);
  EXPECT_NE(b_net_->device("eth0"), nullptr);  // b's Host has not run yet
  b_->poll(clock_.now());
  EXPECT_EQ(b_net_->device("eth0"), nullptr);
  a_->poll(clock_.now());
  EXPECT_EQ(a_->packets().lent(), 0u);
}

TEST_F(CrossHostVeth, AHostDestroyedWithBuffersAbroadLeaksNothing) {
  auto server = udp::open(*b_net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), kPort}));
  {
    auto client = udp::open(*a_net_).value();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.send_to(bytes_of("orphan"), {kB, kPort}));
    poll();
  }
  ASSERT_GT(a_->packets().lent(), 0u);
  a_net_.reset();
  a_.reset();  // its buffers queued on b's socket outlive its pool
  b_->poll(clock_.now());
  EXPECT_EQ(b_net_->device("eth0"), nullptr);
  std::array<std::byte, 64> buf{};
  int read = 0;
  while (server.receive_from(buf)) ++read;
  EXPECT_EQ(read, 3);  // freed as they are let go (ASan checks)
}

// Bounces each frame of the test ethertype back out of the device it came in by.
class Bouncer final : public PacketHandler {
 public:
  explicit Bouncer(Host& host) : host_(host) { EXPECT_TRUE(host_.add_packet_handler(support::kTestEthertype, *this)); }
  ~Bouncer() override { host_.remove_packet_handler(support::kTestEthertype); }
  void process(Net&, Device& dev, Packet frame) override {
    frame.push_front(14);
    auto eth = frame.mutable_data();
    std::array<std::byte, 6> dst{};
    std::copy_n(eth.begin() + 6, 6, dst.begin());
    std::copy_n(eth.begin(), 6, eth.begin() + 6);
    std::copy_n(dst.begin(), 6, eth.begin());
    ++bounced;
    dev.transmit(std::move(frame));
  }
  int bounced = 0;

 private:
  Host& host_;
};

TEST_F(CrossHostVeth, AFrameSentBackIsHomeAtOnceAndNothingIsCopied) {
  Bouncer back(*b_);
  support::RecordingHandler seen(*a_);
  for (int i = 0; i < 10; ++i) {
    a_eth0_->transmit(support::make_frame(*a_, b_eth0_->mac(), a_eth0_->mac(), support::kTestEthertype, 46));
  }
  poll(2);
  EXPECT_EQ(back.bounced, 10);
  EXPECT_EQ(seen.count(), 10u);
  EXPECT_EQ(a_->packets().lent(), 0u);
  EXPECT_EQ(b_->packets().lent(), 0u);
  EXPECT_EQ(a_->stats().packet_copies, 0u);
  EXPECT_EQ(b_->stats().packet_copies, 0u);
}

TEST_F(CrossHostVeth, ADeviceCannotMoveToAnotherHost) {
  auto channel = make_channel(*a_net_, "ch0");
  ASSERT_TRUE(channel);
  auto moved = a_->move_device(**channel, *b_net_);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error(), Errc::invalid_argument);
  EXPECT_NE(a_net_->device("ch0"), nullptr);
}

// Two threads, each the only one driving its Host, on the real clock: a
// thousand request/response rounds over UDP, checked one by one.
TEST_F(CrossHostVeth, TwoThreadsEachDrivingItsHost) {
  auto server = udp::open(*b_net_).value();
  ASSERT_TRUE(server.bind({Ipv4Address::any(), kPort}));
  auto client = udp::open(*a_net_).value();
  constexpr int kRounds = 1000;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + 60s;
  const auto now = [&] { return Clock::time_point{} + (std::chrono::steady_clock::now() - start); };
  std::atomic<bool> stop{false};
  std::atomic<int> echoed{0};

  std::thread b_thread([&] {
    std::array<std::byte, 256> buf{};
    while (!stop.load(std::memory_order_acquire)) {
      b_->poll(now());
      while (auto got = server.receive_from(buf)) {
        if (server.send_to(std::span(buf).first(got->size), got->from)) echoed.fetch_add(1, std::memory_order_relaxed);
      }
    }
  });
  int answered = 0;
  std::string failure;
  std::thread a_thread([&] {
    std::array<std::byte, 256> buf{};
    for (int i = 0; i < kRounds && failure.empty(); ++i) {
      const std::string msg = "round " + std::to_string(i);
      if (!client.send_to(bytes_of(msg), {kB, kPort})) {
        failure = "send failed at " + msg;
        break;
      }
      // A datagram lost before ARP resolved is sent again after a while.
      auto resend_at = std::chrono::steady_clock::now() + 200ms;
      while (std::chrono::steady_clock::now() < deadline) {
        a_->poll(now());
        auto got = client.receive_from(buf);
        if (got) {
          if (std::string(reinterpret_cast<const char*>(buf.data()), got->size) == msg) break;
          continue;  // a late answer to a resent round
        }
        if (std::chrono::steady_clock::now() > resend_at) {
          (void)client.send_to(bytes_of(msg), {kB, kPort});
          resend_at = std::chrono::steady_clock::now() + 200ms;
        }
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        failure = "no answer to " + msg;
        break;
      }
      ++answered;
    }
    stop.store(true, std::memory_order_release);
  });
  a_thread.join();
  b_thread.join();
  EXPECT_EQ(failure, "");
  EXPECT_EQ(answered, kRounds);
  EXPECT_GE(echoed.load(), kRounds);
  // Settled on one thread again: every buffer is home.
  poll();
  EXPECT_EQ(a_->packets().lent(), 0u);
  EXPECT_EQ(b_->packets().lent(), 0u);
}

}  // namespace devices_veth_cross_test
}  // namespace
}  // namespace netns
