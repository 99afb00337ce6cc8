// DPDK ports on virtual devices: net_ring pairs between namespaces of one
// Host (virtual clock), and net_tap / net_af_packet with the Linux kernel on
// the other side (real time, inside Linux namespaces the tests create).
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "devices/dpdk_eal.hpp"
#include "netns/dpdk.hpp"
#include "netns/icmp.hpp"
#include "netns/ipv4.hpp"
#include "netns/macvlan.hpp"
#include "netns/tcp.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"
#include "support/linux_net.hpp"

namespace netns {
namespace {
namespace devices_dpdk_test {

using namespace std::chrono_literals;
using support::drain;
using support::mbuf_from;
using support::unique_name;
using support::kEthHeader;
using support::kTestEthertype;
using support::make_frame;
using support::RecordingHandler;

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

// A Host on a virtual clock whose DPDK ports are detached after it is gone
// (a port cannot be detached while a device drives it).
class DpdkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    eal_ = support::test_eal();
    if (eal_ == nullptr) GTEST_SKIP() << support::test_eal_error();
    host_ = std::make_unique<Host>(support::test_config(&messages_));
  }
  void TearDown() override {
    host_.reset();
    for (dpdk::RingPair& pair : rings_) {
      drain(pair.a_to_b);
      drain(pair.b_to_a);
    }
    for (std::uint16_t port : ports_) EXPECT_TRUE(eal_->detach(port)) << "port " << port;
  }

  Host& host() { return *host_; }
  Clock::time_point poll() { return host_->poll(clock_.now()); }
  void advance(Clock::duration d) {
    clock_.advance(d);
    poll();
  }

  dpdk::RingPair ring_pair(unsigned size = 1024) {
    auto pair = eal_->make_ring_pair(unique_name("r"), size);
    EXPECT_TRUE(pair) << pair.error().message();
    if (!pair) return {};
    ports_.push_back(pair->a);
    ports_.push_back(pair->b);
    rings_.push_back(*pair);
    return *pair;
  }

  Device* port_device(Net& net, std::string_view name, std::uint16_t port) {
    auto dev = make_dpdk_port(net, name, port);
    EXPECT_TRUE(dev) << dev.error().message();
    if (!dev) return nullptr;
    EXPECT_TRUE(set_link_up(**dev));
    return *dev;
  }

  dpdk::Eal* eal_ = nullptr;
  std::vector<std::uint16_t> ports_;
  std::vector<dpdk::RingPair> rings_;
  std::vector<std::string> messages_;
  VirtualClock clock_;
  std::unique_ptr<Host> host_;
};

// blue and red joined by a pair of net_ring ports, as TwoNets over a veth.
class DpdkRingNets : public DpdkTest {
 protected:
  void SetUp() override {
    DpdkTest::SetUp();
    if (IsSkipped()) return;
    pair_ = ring_pair();
    blue_ = host().create_net("blue").value();
    red_ = host().create_net("red").value();
    blue_eth0_ = port_device(*blue_, "eth0", pair_.a);
    red_eth0_ = port_device(*red_, "eth0", pair_.b);
    ASSERT_TRUE(blue_eth0_ && red_eth0_);
  }
  void TearDown() override {
    blue_.reset();  // before the Host goes
    red_.reset();
    DpdkTest::TearDown();
  }

  dpdk::RingPair pair_;
  NetRef blue_, red_;
  Device* blue_eth0_ = nullptr;
  Device* red_eth0_ = nullptr;
};

TEST_F(DpdkRingNets, PortsAreDevicesOfKindDpdkWithThePortsAddress) {
  EXPECT_EQ(blue_eth0_->kind(), DeviceKind::dpdk);
  EXPECT_TRUE(blue_eth0_->polled());
  EXPECT_EQ(blue_eth0_->rx_fd(), -1);
  EXPECT_EQ(dpdk::port_id(*blue_eth0_).value(), pair_.a);
  EXPECT_EQ(dpdk::port_id(*red_eth0_).value(), pair_.b);
  EXPECT_NE(blue_eth0_->mac(), red_eth0_->mac());
  EXPECT_TRUE(blue_eth0_->is_running());  // a started net_ring port has its link up
  EXPECT_EQ(host().polled_devices().size(), 2u);
  EXPECT_EQ(dpdk::port_id(blue_->loopback()).error(), Errc::invalid_argument);
  EXPECT_EQ(dpdk::port_stats(blue_->loopback()).error(), Errc::invalid_argument);
}

// The port's link is read when it changes state here and devices stacked
// on it follow: a stopped net_ring port reports its link down.
TEST_F(DpdkRingNets, AMacvlanOnAPortFollowsItsLink) {
  NetRef green = host().create_net("green").value();
  Device* mv = make_macvlan(*blue_eth0_, *green, "eth0").value();
  ASSERT_TRUE(set_link_up(*mv));
  EXPECT_TRUE(blue_eth0_->has_carrier());
  EXPECT_TRUE(mv->is_running());
  ASSERT_TRUE(set_link_up(*blue_eth0_, false));
  EXPECT_FALSE(blue_eth0_->has_carrier());
  EXPECT_FALSE(mv->is_running());
  ASSERT_TRUE(set_link_up(*blue_eth0_));
  EXPECT_TRUE(mv->is_running());
  EXPECT_EQ(mv->lowers()[0], blue_eth0_);
}

TEST_F(DpdkRingNets, FramesCrossBothWays) {
  RecordingHandler seen(host());
  blue_eth0_->transmit(make_frame(host(), red_eth0_->mac(), blue_eth0_->mac(), kTestEthertype, 46));
  red_eth0_->transmit(make_frame(host(), blue_eth0_->mac(), red_eth0_->mac(), kTestEthertype, 100));
  poll();  // flushes both tx batches
  poll();  // receives them
  ASSERT_EQ(seen.count(), 2u);
  for (const auto& frame : seen.frames()) {  // in the order the ports were polled
    EXPECT_EQ(frame.device, "eth0");
    EXPECT_EQ(frame.size, frame.net_id == red_->id() ? 46u : 100u);
  }
  EXPECT_NE(seen.frames()[0].net_id, seen.frames()[1].net_id);
  EXPECT_EQ(blue_eth0_->stats().tx_packets, 1u);
  EXPECT_EQ(blue_eth0_->stats().tx_bytes, kEthHeader + 46);
  EXPECT_EQ(red_eth0_->stats().rx_packets, 1u);
  EXPECT_EQ(red_eth0_->stats().rx_bytes, kEthHeader + 46);
  EXPECT_EQ(host().stats().packet_copies, 0u);
  EXPECT_EQ(host().stats().packets_in_use, 0u);
}

TEST_F(DpdkRingNets, PingBothWays) {
  ASSERT_TRUE(ipv4::add_address(*blue_, *blue_eth0_, prefix("192.0.2.1/24")));
  ASSERT_TRUE(ipv4::add_address(*red_, *red_eth0_, prefix("192.0.2.2/24")));
  auto from_blue = icmp::open(*blue_).value();
  auto from_red = icmp::open(*red_).value();
  ASSERT_TRUE(from_blue.send_echo(Ipv4Address(192, 0, 2, 2), 1));
  ASSERT_TRUE(from_red.send_echo(Ipv4Address(192, 0, 2, 1), 7));
  for (int i = 0; i < 10; ++i) advance(1ms);
  auto reply = from_blue.receive();
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->from, Ipv4Address(192, 0, 2, 2));
  EXPECT_EQ(reply->seq, 1);
  auto back = from_red.receive();
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->from, Ipv4Address(192, 0, 2, 1));
  EXPECT_EQ(back->seq, 7);
  EXPECT_EQ(host().stats().packet_copies, 0u);
}

TEST_F(DpdkRingNets, CountersOfTheDeviceAndOfThePort) {
  RecordingHandler seen(host());
  for (int i = 0; i < 40; ++i) {
    blue_eth0_->transmit(make_frame(host(), red_eth0_->mac(), blue_eth0_->mac(), kTestEthertype, 50));
  }
  poll();
  poll();
  EXPECT_EQ(seen.count(), 40u);
  auto tx = dpdk::port_stats(*blue_eth0_).value();
  auto rx = dpdk::port_stats(*red_eth0_).value();
  EXPECT_EQ(tx.opackets, 40u);  // net_ring counts packets, not bytes
  EXPECT_EQ(rx.ipackets, 40u);
  EXPECT_EQ(rx.imissed + rx.ierrors + rx.rx_nombuf + tx.oerrors, 0u);
  EXPECT_EQ(blue_eth0_->stats().tx_packets, 40u);
  EXPECT_EQ(blue_eth0_->stats().tx_bytes, 40u * 64);
  EXPECT_EQ(red_eth0_->stats().rx_packets, 40u);
  EXPECT_EQ(red_eth0_->stats().rx_bytes, 40u * 64);
  EXPECT_EQ(blue_eth0_->stats().tx_dropped + red_eth0_->stats().rx_dropped, 0u);
}

TEST_F(DpdkRingNets, ARuntIsCountedAsALengthError) {
  rte_mbuf* runt = mbuf_from(std::vector<std::byte>(10));
  ASSERT_NE(runt, nullptr);
  ASSERT_EQ(rte_ring_enqueue(pair_.a_to_b, runt), 0);  // red's rx ring
  poll();
  EXPECT_EQ(red_eth0_->stats().rx_length_errors, 1u);
  EXPECT_EQ(red_eth0_->stats().rx_errors, 1u);
  EXPECT_EQ(host().stats().packets_in_use, 0u);  // the mbuf went back to its pool
}

TEST_F(DpdkRingNets, DownStopsThePortAndUpStartsItAgain) {
  ASSERT_TRUE(set_link_up(*red_eth0_, false));
  RecordingHandler seen(host());
  blue_eth0_->transmit(make_frame(host(), red_eth0_->mac(), blue_eth0_->mac(), kTestEthertype, 46));
  poll();
  EXPECT_EQ(seen.count(), 0u);
  EXPECT_EQ(rte_ring_count(pair_.a_to_b), 1u);  // waiting on red's stopped port
  ASSERT_TRUE(set_link_up(*red_eth0_));
  poll();
  EXPECT_EQ(seen.count(), 1u);
}

TEST_F(DpdkRingNets, MtuIsTheStacksOnARingPortAndBoundedByOneMbuf) {
  EXPECT_TRUE(blue_eth0_->set_mtu(1400));  // net_ring has no MTU of its own
  EXPECT_EQ(blue_eth0_->mtu(), 1400u);
  EXPECT_EQ(blue_eth0_->max_mtu(), dpdk::kMaxMtu);
  EXPECT_EQ(blue_eth0_->set_mtu(9000).error(), Errc::invalid_argument);
}

TEST_F(DpdkRingNets, AFrameLargerThanAnMbufIsDroppedOnTransmit) {
  blue_eth0_->transmit(make_frame(host(), red_eth0_->mac(), blue_eth0_->mac(), kTestEthertype, 4000));
  poll();
  EXPECT_EQ(blue_eth0_->stats().tx_dropped, 1u);
  EXPECT_EQ(blue_eth0_->stats().tx_packets, 0u);
}

TEST_F(DpdkRingNets, APortHasOneDriver) {
  auto again = make_dpdk_port(host().init_net(), "dpdk9", pair_.a);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::device_or_resource_busy);
  EXPECT_EQ(eal_->detach(pair_.a).error(), Errc::device_or_resource_busy);
  auto unknown = make_dpdk_port(host().init_net(), "dpdk9", RTE_MAX_ETHPORTS - 1);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error(), Errc::no_such_device);
  EXPECT_EQ(make_dpdk_port(*blue_, "eth0", pair_.a).error(), Errc::file_exists);
  EXPECT_EQ(make_dpdk_port(*blue_, "a/b", pair_.a).error(), Errc::invalid_argument);
  EXPECT_EQ(host().init_net().device("dpdk9"), nullptr);
  // Destroyed, the port is free for another device.
  ASSERT_TRUE(destroy_device(*blue_eth0_));
  poll();
  auto next = make_dpdk_port(host().init_net(), "dpdk9", pair_.a);
  ASSERT_TRUE(next) << next.error().message();
}

TEST_F(DpdkRingNets, ANamespaceThatDiesSendsItsPortHomeToInitNet) {
  const int ifindex = blue_eth0_->ifindex();
  blue_.reset();
  poll();
  Device* home = host().init_net().device("eth0");
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(home->kind(), DeviceKind::dpdk);
  EXPECT_EQ(home->ifindex(), ifindex);
  EXPECT_EQ(dpdk::port_id(*home).value(), pair_.a);
  EXPECT_FALSE(home->is_up());  // moving takes a device down, as in Linux
  // Still a working port: up in init_net, it reaches red again.
  ASSERT_TRUE(set_link_up(*home));
  RecordingHandler seen(host());
  home->transmit(make_frame(host(), red_eth0_->mac(), home->mac(), kTestEthertype, 46));
  poll();
  poll();
  ASSERT_EQ(seen.count(), 1u);
  EXPECT_EQ(seen.frames()[0].net_id, red_->id());
}

// Frames from the stack's own pool are written into mbufs (I/O, not a
// copy); the tx batch goes out at 32 or at the end of a poll round, and what
// the ring refuses is freed and counted.
TEST_F(DpdkTest, TxIsBatchedAndWhatTheRingRefusesIsCounted) {
  auto pair = ring_pair(64);  // 63 usable slots
  NetRef net = host().create_net().value();
  Device* dev = port_device(*net, "eth0", pair.a);  // b has no device: nobody drains a_to_b
  ASSERT_NE(dev, nullptr);
  auto send = [&](int n) {
    for (int i = 0; i < n; ++i) {
      dev->transmit(make_frame(host(), MacAddress{2, 0, 0, 0, 0, 9}, dev->mac(), kTestEthertype, 46));
    }
  };
  send(31);
  EXPECT_EQ(rte_ring_count(pair.a_to_b), 0u);  // still batched
  send(1);
  EXPECT_EQ(rte_ring_count(pair.a_to_b), 32u);  // a full batch goes at once
  send(5);
  poll();
  EXPECT_EQ(rte_ring_count(pair.a_to_b), 37u);  // the rest at the end of the round
  send(63);
  poll();
  EXPECT_EQ(rte_ring_count(pair.a_to_b), 63u);
  EXPECT_EQ(dev->stats().tx_packets, 63u);
  EXPECT_EQ(dev->stats().tx_dropped, 100u - 63u);
  EXPECT_EQ(host().stats().packet_copies, 0u);
  EXPECT_EQ(host().stats().packets_in_use, 0u);
}

// The router namespace forwards an mbuf from one port to the other as that
// same mbuf: no copy, no Packet left behind.
TEST_F(DpdkTest, ForwardingBetweenPortsCopiesNothing) {
  auto in = ring_pair();
  auto out = ring_pair();
  NetRef router = host().create_net("router").value();
  Device* eth0 = port_device(*router, "eth0", in.b);
  Device* eth1 = port_device(*router, "eth1", out.a);
  ASSERT_TRUE(eth0 && eth1);
  ASSERT_TRUE(ipv4::add_address(*router, *eth0, prefix("192.0.2.1/24")));
  ASSERT_TRUE(ipv4::add_address(*router, *eth1, prefix("198.51.100.1/24")));
  const MacAddress next_hop_mac{2, 0, 0, 0, 0, 3};
  ASSERT_TRUE(ipv4::add_neighbour(*router, *eth1, Ipv4Address(198, 51, 100, 2), next_hop_mac));
  ASSERT_TRUE(router->sysctl().set("net.ipv4.ip_forward", "1"));

  constexpr int kFrames = 100;
  std::vector<rte_mbuf*> sent;
  for (int i = 0; i < kFrames; ++i) {
    auto frame = support::udp_frame(eth0->mac(), MacAddress{2, 0, 0, 0, 0, 2}, Ipv4Address(192, 0, 2, 2),
                                    Ipv4Address(198, 51, 100, 2), 4000, 5000, 18);
    rte_mbuf* m = mbuf_from(frame);
    ASSERT_NE(m, nullptr);
    sent.push_back(m);
    ASSERT_EQ(rte_ring_enqueue(in.a_to_b, m), 0);
  }
  poll();
  for (int i = 0; i < kFrames; ++i) {
    void* obj = nullptr;
    ASSERT_EQ(rte_ring_dequeue(out.a_to_b, &obj), 0) << "frame " << i;
    auto* m = static_cast<rte_mbuf*>(obj);
    EXPECT_EQ(m, sent[static_cast<std::size_t>(i)]);  // the very mbuf that came in
    auto parsed = support::parse_frame({rte_pktmbuf_mtod(m, const std::byte*), m->data_len});
    EXPECT_EQ(parsed.eth.dst, next_hop_mac);
    EXPECT_EQ(parsed.eth.src, eth1->mac());
    ASSERT_TRUE(parsed.ip && parsed.udp);
    EXPECT_EQ(parsed.ip->ttl, 63);
    rte_pktmbuf_free(m);
  }
  EXPECT_EQ(host().stats().packet_copies, 0u);
  EXPECT_EQ(host().stats().packets_in_use, 0u);
  EXPECT_EQ(eth0->stats().rx_packets, std::uint64_t{kFrames});
  EXPECT_EQ(eth1->stats().tx_packets, std::uint64_t{kFrames});
  EXPECT_EQ(router->counters().get("IpForwDatagrams"), std::uint64_t{kFrames});
}

// A frame shared with another Packet cannot leave as its mbuf: the port
// sends a counted copy and the sharer keeps the original bytes.
TEST_F(DpdkRingNets, ASharedMbufLeavesAsACountedCopy) {
  std::optional<Packet> kept;
  RecordingHandler seen(host());
  seen.on_frame = [&](Net&, Device&, Packet frame) {
    kept = frame.share();
    red_eth0_->transmit(std::move(frame));  // its payload as a frame, still sharing the mbuf
  };
  blue_eth0_->transmit(make_frame(host(), red_eth0_->mac(), blue_eth0_->mac(), kTestEthertype, 46));
  poll();
  poll();
  poll();
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(host().stats().packet_copies, 1u);
  EXPECT_EQ(red_eth0_->stats().tx_packets, 1u);
  EXPECT_EQ(blue_eth0_->stats().rx_packets, 1u);  // the copy arrived
  EXPECT_EQ(kept->data()[0], std::byte{0});       // the sharer's bytes are untouched
  kept.reset();
  EXPECT_EQ(host().stats().packets_in_use, 0u);
}

TEST(DpdkEal, StartingASecondTimeIsRefused) {
  if (support::test_eal() == nullptr) GTEST_SKIP() << support::test_eal_error();
  auto again = dpdk::start(support::test_eal_args());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), Errc::device_or_resource_busy);
}

TEST(DpdkEal, HotPlugRefusesDuplicatesAndUnknownPorts) {
  dpdk::Eal* eal = support::test_eal();
  if (eal == nullptr) GTEST_SKIP() << support::test_eal_error();
  const std::string name = "net_null" + unique_name("h");
  auto port = eal->attach(name);
  ASSERT_TRUE(port) << port.error().message();
  EXPECT_EQ(eal->attach(name).error(), Errc::file_exists);
  EXPECT_TRUE(eal->detach(*port));
  EXPECT_EQ(eal->detach(*port).error(), Errc::no_such_device);
  EXPECT_FALSE(eal->attach("net_no_such_driver0"));
  EXPECT_EQ(eal->make_ring_pair("").error(), Errc::invalid_argument);
  EXPECT_EQ(eal->make_ring_pair("r", 1000).error(), Errc::invalid_argument);
}

// What needs a fresh process (a cleaned-up EAL cannot start again) runs in a
// child started by a death test, which has no EAL of its own yet.
class DpdkEalDeathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "DPDK tests need root";
    GTEST_FLAG_SET(death_test_style, "threadsafe");
  }
};

TEST_F(DpdkEalDeathTest, NoStartAfterCleanup) {
  EXPECT_EXIT(
      {
        auto eal = dpdk::start(support::test_eal_args());
        if (!eal) std::_Exit(2);
        { dpdk::Eal gone = std::move(*eal); }  // rte_eal_cleanup
        auto again = dpdk::start(support::test_eal_args());
        std::_Exit(!again && again.error() == Errc::operation_not_permitted ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// An Eal destroyed under live devices cuts them off: they stop, drop and
// count what they are given, and the Host is destroyed safely after it.
TEST_F(DpdkEalDeathTest, DevicesOutlivingTheEalAreCutOff) {
  EXPECT_EXIT(
      {
        auto eal = dpdk::start(support::test_eal_args());
        if (!eal) std::_Exit(2);
        auto pair = eal->make_ring_pair("cut").value();
        Host host(support::test_config());
        Device* dev = make_dpdk_port(host.init_net(), "dpdk0", pair.a).value();
        (void)set_link_up(*dev);
        dev->transmit(make_frame(host, MacAddress{2, 0, 0, 0, 0, 9}, dev->mac(), kTestEthertype, 46));
        { dpdk::Eal gone = std::move(*eal); }
        bool ok = !dev->is_up() && !dev->is_running();
        dev->transmit(make_frame(host, MacAddress{2, 0, 0, 0, 0, 9}, dev->mac(), kTestEthertype, 46));
        host.poll(Clock::time_point{});
        ok = ok && dev->stats().tx_dropped == 2 && dev->stats().tx_packets == 0 &&
             dpdk::port_stats(*dev).error() == Errc::operation_not_permitted;
        std::_Exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

// ---- the Linux kernel on the other side ----

// A kernel-facing port in blue (192.0.2.1/24 or the given address), the
// kernel side in a Linux namespace; real time, since the kernel keeps it.
class DpdkKernelTest : public DpdkTest {
 protected:
  void SetUp() override {
    DpdkTest::SetUp();
    if (IsSkipped()) return;
    if (auto why = support::kernel_test_skip_reason({"ip", "ping"})) GTEST_SKIP() << *why;
    auto made = support::LinuxNetns::create(support::unique_linux_name("nd"));
    if (!made) GTEST_SKIP() << "could not create a Linux namespace: " << made.error().message();
    linux_ = std::make_unique<support::LinuxNetns>(std::move(*made));
    blue_ = host().create_net("blue").value();
  }
  void TearDown() override {
    blue_.reset();  // before the Host goes
    DpdkTest::TearDown();  // devices and ports first, then the kernel side
    linux_.reset();
  }

  // Polls the Host on the real clock until `done` or the deadline.
  bool poll_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    return support::poll_host_until(host(), done, limit);
  }
  // `ip -n NS <words>` in the test's Linux namespace; true when it exited 0.
  bool ip(const std::string& words) { return linux_->ip(split(words)).ok(); }
  // A command run in the Linux namespace while the Host keeps being polled.
  bool run_inside_while_polling(const std::string& words, std::chrono::milliseconds limit = 10s) {
    return support::run_while_polling(host(), linux_->exec_argv(split(words)), limit).ok();
  }
  static std::vector<std::string> split(const std::string& words) {
    std::vector<std::string> out;
    std::istringstream in(words);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  }

  // ping from netns to `dst` until one reply comes back.
  bool ping_from_netns(Net& net, Ipv4Address dst) {
    auto ping = icmp::open(net).value();
    for (std::uint16_t seq = 1; seq <= 5; ++seq) {
      if (!ping.send_echo(dst, seq)) continue;
      if (poll_until([&] { return ping.receive().has_value(); }, 1s)) return true;
    }
    return false;
  }

  std::unique_ptr<support::LinuxNetns> linux_;
  NetRef blue_;
};

// net_tap: the kernel's TAP interface lives in the Linux namespace. The TAP
// PMD reaches it by name, from the calling thread's namespace, when it is
// probed (control socket) and when its queues are set up (make_dpdk_port),
// so both run inside that namespace; moving the interface there afterwards
// would leave the PMD writing to a fresh interface of the same name.
TEST_F(DpdkKernelTest, TapPingsTheKernelBothWays) {
  const std::string iface = "dt" + std::to_string(getpid());
  Device* dev = nullptr;
  {
    // Its queues too are opened by interface name (make_dpdk_port sets them up).
    support::EnterNetns inside(linux_->name());
    ASSERT_TRUE(inside.ok());
    auto attached = eal_->attach("net_tap" + std::to_string(getpid()) + ",iface=" + iface);
    if (!attached) GTEST_SKIP() << "net_tap did not attach: " << attached.error().message();
    ports_.push_back(*attached);
    dev = port_device(*blue_, "eth0", *attached);
    ASSERT_NE(dev, nullptr);
  }
  // The TAP PMD gives the kernel interface the port's own MAC: a distinct one
  // for the kernel, so each side can tell its frames from the other's.
  ASSERT_TRUE(ip("link set " + iface + " address 02:00:00:00:0d:01"));
  ASSERT_TRUE(ip("addr add 192.0.2.2/24 dev " + iface));
  ASSERT_TRUE(ip("link set " + iface + " up"));
  ASSERT_TRUE(ipv4::add_address(*blue_, *dev, prefix("192.0.2.1/24")));
  EXPECT_TRUE(poll_until([&] { return dev->is_running(); }, 2s)) << "no carrier from the TAP PMD";

  EXPECT_TRUE(ping_from_netns(*blue_, Ipv4Address(192, 0, 2, 2)));
  EXPECT_TRUE(run_inside_while_polling("ping -c 2 -W 2 192.0.2.1"));
  EXPECT_GE(dev->stats().rx_packets, 2u);
  EXPECT_GE(dev->stats().tx_packets, 2u);
  EXPECT_GE(dpdk::port_stats(*dev).value().ipackets, 2u);
  EXPECT_EQ(host().stats().packet_copies, 0u);

  // The TAP PMD applies the MTU to the kernel interface.
  ASSERT_TRUE(dev->set_mtu(1400));
  auto link = linux_->ip({"link", "show", iface});
  EXPECT_NE(link.output.find("mtu 1400"), std::string::npos) << link.output;
}

// net_tap with two queues: it claims RSS but cannot say which key it
// hashes with (the kernel spreads a multi-queue TAP by a hash of its own),
// so Rss::automatic falls back to software. Two namespaces, one per queue,
// are one host (the same MAC and address) to the kernel; each connects to a
// closed port there, and every RST must reach the namespace whose SYN it
// answers: the port each picked hashes back to its queue, and software RSS
// steers what the kernel put on the other. ARP replies reach both.
TEST_F(DpdkKernelTest, TapQueuesFallBackToSoftwareRssAndRepliesReachTheirQueue) {
  const std::string iface = "dq" + std::to_string(getpid());
  NetRef green = host().create_net("green").value();
  Net* nets[2] = {&*blue_, &*green};
  Device* queue[2] = {};
  {
    support::EnterNetns inside(linux_->name());
    ASSERT_TRUE(inside.ok());
    auto attached = eal_->attach("net_tap" + std::to_string(getpid()) + "q,iface=" + iface);
    if (!attached) GTEST_SKIP() << "net_tap did not attach: " << attached.error().message();
    ports_.push_back(*attached);
    for (std::uint16_t q = 0; q < 2; ++q) {
      auto dev = make_dpdk_queue(*nets[q], "eth0", *attached, {.queue = q, .queues = 2});
      ASSERT_TRUE(dev) << dev.error().message();
      queue[q] = *dev;
      ASSERT_TRUE(set_link_up(*queue[q]));  // the port starts here: inside the namespace
    }
  }
  EXPECT_EQ(dpdk::queue_info(*queue[0])->rss, dpdk::Rss::software);
  EXPECT_EQ(make_dpdk_queue(host().init_net(), "x", dpdk::port_id(*queue[0]).value(),
                            {.queue = 0, .queues = 2, .rss = dpdk::Rss::hardware}).error(),
            Errc::device_or_resource_busy);
  const MacAddress kernel_mac{2, 0, 0, 0, 0x0d, 1};
  ASSERT_TRUE(ip("link set " + iface + " address " + kernel_mac.to_string()));
  ASSERT_TRUE(ip("addr add 192.0.2.2/24 dev " + iface));
  ASSERT_TRUE(ip("link set " + iface + " up"));
  // ARP, which no RSS hashes, reaches both namespaces (each resolves the
  // kernel itself, and both answer the kernel alike).
  for (int q = 0; q < 2; ++q) ASSERT_TRUE(ipv4::add_address(*nets[q], *queue[q], prefix("192.0.2.1/24")));
  ASSERT_TRUE(poll_until([&] { return queue[0]->is_running() && queue[1]->is_running(); }, 2s));

  std::vector<tcp::Stream> streams;
  for (int k = 0; k < 8; ++k) {
    for (Net* net : nets) streams.push_back(tcp::connect(*net, {Ipv4Address(192, 0, 2, 2), 9}).value());
  }
  std::vector<bool> refused(streams.size());
  auto all_refused = [&] {
    for (std::size_t i = 0; i < streams.size(); ++i) {
      std::array<std::byte, 16> buf{};
      auto got = streams[i].read(buf);
      if (!got && got.error() == Errc::connection_refused) refused[i] = true;
    }
    return std::all_of(refused.begin(), refused.end(), [](bool r) { return r; });
  };
  EXPECT_TRUE(poll_until(all_refused, 5s)) << "an RST went to the other queue's namespace";
  for (Net* net : nets) EXPECT_EQ(net->counters().get("TcpAttemptFails"), 8u);
  streams.clear();
  green = {};
}

// net_af_packet on one end of a kernel veth whose other end holds the
// kernel's address. Both ends are in the Linux namespace, and the port is
// probed from inside it (its packet socket binds there): the frames the
// kernel's own stack sees on the outer end stay in that namespace.
TEST_F(DpdkKernelTest, AfPacketOnAVethPingsTheKernelBothWays) {
  const std::string outer = "dv" + std::to_string(getpid()) + "a";
  const std::string inner = "dv" + std::to_string(getpid()) + "b";
  ASSERT_TRUE(ip("link add " + outer + " type veth peer name " + inner));
  ASSERT_TRUE(ip("addr add 198.51.100.2/24 dev " + inner));
  ASSERT_TRUE(ip("link set " + inner + " up"));
  ASSERT_TRUE(ip("link set " + outer + " up"));
  Device* dev = nullptr;
  {
    // Starting the port (set_link_up) restores its flags by interface name too.
    support::EnterNetns inside(linux_->name());
    ASSERT_TRUE(inside.ok());
    auto attached = eal_->attach("net_af_packet" + std::to_string(getpid()) + ",iface=" + outer);
    if (!attached) GTEST_SKIP() << "net_af_packet did not attach: " << attached.error().message();
    ports_.push_back(*attached);
    dev = port_device(*blue_, "eth0", *attached);
    ASSERT_NE(dev, nullptr);
    EXPECT_TRUE(messages_.empty()) << messages_.front();
  }
  ASSERT_TRUE(ipv4::add_address(*blue_, *dev, prefix("198.51.100.1/24")));

  EXPECT_TRUE(ping_from_netns(*blue_, Ipv4Address(198, 51, 100, 2)));
  EXPECT_TRUE(run_inside_while_polling("ping -c 2 -W 2 198.51.100.1"));
  EXPECT_GE(dev->stats().rx_packets, 2u);
  EXPECT_GE(dev->stats().tx_packets, 2u);
  EXPECT_GE(dpdk::port_stats(*dev).value().opackets, 2u);
  EXPECT_EQ(host().stats().packet_copies, 0u);
}

}  // namespace devices_dpdk_test
}  // namespace
}  // namespace netns
