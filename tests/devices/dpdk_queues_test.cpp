// DPDK ports with several queues (make_dpdk_queue): a device per queue,
// each Host on its own queue, frames spread as a NIC's RSS spreads them or
// steered in software, and two Hosts on two threads forwarding on their
// own queues. The tests play the NIC on net_ring ports: they write frames
// into the ring of the queue the RSS hash picks, and read what each queue
// sent from its own ring.
#include <unistd.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "devices/dpdk_eal.hpp"
#include "devices/dpdk_internal.hpp"
#include "netns/dpdk.hpp"
#include "netns/host_group.hpp"
#include "netns/ipv4.hpp"
#include "netns/rss.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "netns/wire/ethernet.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"

namespace netns {
namespace {
namespace devices_dpdk_queues_test {

using namespace std::chrono_literals;
using support::drain;
using support::mbuf_from;
using support::test_mbufs;
using support::unique_name;
using dpdk::QueueSpec;
using dpdk::Rss;

Ipv4Prefix prefix(std::string_view text) { return Ipv4Prefix::parse(text).value(); }

std::span<const std::byte> bytes_of(const rte_mbuf* m) { return {rte_pktmbuf_mtod(m, const std::byte*), m->data_len}; }

const MacAddress kPeerMac{2, 0, 0, 0, 0, 2};
const Ipv4Address kClient(192, 0, 2, 2), kServer(198, 51, 100, 2);

// UDP from the client's port `sport` to the server (or back, `reply`).
std::vector<std::byte> flow_frame(MacAddress to, std::uint16_t sport, bool reply = false) {
  return reply ? support::udp_frame(to, kPeerMac, kServer, kClient, 5000, sport, 18)
               : support::udp_frame(to, kPeerMac, kClient, kServer, sport, 5000, 18);
}

// A NIC without RSS: `count` frames of distinct flows that hash to queue
// `queue` of 2, all put on `ring` (queue 0's).
bool nic_without_rss(rte_ring* ring, MacAddress to, std::uint16_t queue, int count) {
  for (std::uint16_t flow = 0; count > 0; ++flow) {
    auto frame = flow_frame(to, flow);
    if (rss::queue_of(rss::frame_hash(frame), 2) != queue) continue;
    if (rte_ring_enqueue(ring, mbuf_from(frame)) != 0) return false;
    --count;
  }
  return true;
}

// The rings' ports are detached after the Hosts using them are gone.
class DpdkQueuesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    eal_ = support::test_eal();
    if (eal_ == nullptr) GTEST_SKIP() << support::test_eal_error();
  }
  void TearDown() override {
    nets_.clear();
    host_.reset();
    group_.reset();
    for (dpdk::RingPair& pair : rings_) {
      for (rte_ring* ring : pair.a_to_b_queues) drain(ring);
      for (rte_ring* ring : pair.b_to_a_queues) drain(ring);
    }
    for (dpdk::RingPair& pair : rings_) {
      EXPECT_TRUE(eal_->detach(pair.a));
      EXPECT_TRUE(eal_->detach(pair.b));
    }
  }

  dpdk::RingPair ring_pair(std::uint16_t queues) {
    auto pair = eal_->make_ring_pair(unique_name("m"), 1024, queues);
    EXPECT_TRUE(pair) << pair.error().message();
    if (!pair) return {};
    rings_.push_back(*pair);
    return *pair;
  }

  Host& host() {
    if (!host_) host_ = std::make_unique<Host>(support::test_config());
    return *host_;
  }
  Net& net(Host& h) {
    nets_.push_back(h.create_net().value());
    return *nets_.back();
  }
  void poll(int rounds = 4) {
    for (int i = 0; i < rounds; ++i) host_->poll(clock_.now());
  }

  Device* queue_device(Net& n, std::uint16_t port, QueueSpec spec, std::string_view name = "eth0") {
    auto dev = make_dpdk_queue(n, name, port, spec);
    EXPECT_TRUE(dev) << dev.error().message();
    if (!dev) return nullptr;
    EXPECT_TRUE(set_link_up(**dev));
    return *dev;
  }

  dpdk::Eal* eal_ = nullptr;
  std::vector<dpdk::RingPair> rings_;
  std::unique_ptr<HostGroup> group_;
  std::unique_ptr<Host> host_;
  std::vector<NetRef> nets_;
  VirtualClock clock_;
};

class DpdkQueuesArp : public DpdkQueuesTest, public ::testing::WithParamInterface<Rss> {};

TEST_F(DpdkQueuesTest, QueueDevicesShareThePortItsAddressAndItsConfiguration) {
  auto pair = ring_pair(2);
  Net& a = net(host());
  Net& b = net(host());
  Device* q0 = queue_device(a, pair.a, {.queue = 0, .queues = 2, .rss = Rss::none});
  Device* q1 = queue_device(b, pair.a, {.queue = 1, .queues = 2, .rss = Rss::none});
  ASSERT_TRUE(q0 && q1);
  EXPECT_EQ(q0->mac(), q1->mac());
  EXPECT_EQ(q0->kind(), DeviceKind::dpdk);
  auto info = dpdk::queue_info(*q1).value();
  EXPECT_EQ(info.queue, 1);
  EXPECT_EQ(info.queues, 2);
  EXPECT_EQ(info.rss, Rss::none);
  EXPECT_EQ(dpdk::port_id(*q1).value(), pair.a);

  Net& c = net(host());
  auto err = [&](QueueSpec spec) { return make_dpdk_queue(c, "eth9", pair.a, spec).error(); };
  EXPECT_EQ(err({.queue = 1, .queues = 2, .rss = Rss::none}), Errc::device_or_resource_busy)
      << "a queue has one device";
  EXPECT_EQ(err({.queue = 0, .queues = 1}), Errc::device_or_resource_busy)
      << "the port is driven with two queues";
  EXPECT_EQ(err({.queue = 0, .queues = 2, .rss = Rss::software}), Errc::device_or_resource_busy)
      << "and without software RSS";
  EXPECT_EQ(make_dpdk_port(c, "eth9", pair.a).error(), Errc::device_or_resource_busy);
  EXPECT_EQ(c.devices().size(), 1u) << "nothing was made";
}

TEST_F(DpdkQueuesTest, BadSpecsAreRefusedBeforeThePortIsTouched) {
  auto pair = ring_pair(2);
  Net& n = net(host());
  auto err = [&](QueueSpec spec) { return make_dpdk_queue(n, "eth0", pair.b, spec).error(); };
  EXPECT_EQ(err({.queue = 2, .queues = 2}), Errc::invalid_argument);
  EXPECT_EQ(err({.queue = 0, .queues = 0}), Errc::invalid_argument);
  EXPECT_EQ(err({.queue = 0, .queues = dpdk::kMaxQueues + 1}), Errc::invalid_argument);
  EXPECT_EQ(err({.queue = 0, .queues = 3}), Errc::not_supported) << "the port has 2";
  EXPECT_EQ(err({.queue = 0, .queues = 2, .rss = Rss::hardware}), Errc::not_supported)
      << "net_ring has no RSS of its own";
  EXPECT_EQ(make_dpdk_queue(n, "eth0", RTE_MAX_ETHPORTS - 1, {}).error(), Errc::no_such_device);
  EXPECT_EQ(n.devices().size(), 1u);
  // The port is still free for a good spec; automatic falls back to software.
  Device* dev = queue_device(n, pair.b, {.queue = 1, .queues = 2});
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dpdk::queue_info(*dev)->rss, Rss::software);
}

// Rss::none: a frame is taken on the queue it arrived on, and each queue
// device sends on its own queue.
TEST_F(DpdkQueuesTest, EachQueueReadsAndSendsOnItsOwnRing) {
  auto pair = ring_pair(2);
  Device* dev[2] = {};
  for (std::uint16_t q = 0; q < 2; ++q) {
    dev[q] = queue_device(net(host()), pair.b, {.queue = q, .queues = 2, .rss = Rss::none});
    ASSERT_NE(dev[q], nullptr);
  }
  for (std::uint16_t q = 0; q < 2; ++q) {
    for (int i = 0; i < 3 + q; ++i) {
      ASSERT_EQ(rte_ring_enqueue(pair.a_to_b_queues[q], mbuf_from(flow_frame(dev[q]->mac(), 1000))), 0);
    }
  }
  poll();
  EXPECT_EQ(dev[0]->stats().rx_packets, 3u);
  EXPECT_EQ(dev[1]->stats().rx_packets, 4u);

  dev[1]->transmit(support::make_frame(host(), kPeerMac, dev[1]->mac(), support::kTestEthertype, 46));
  poll();
  EXPECT_EQ(rte_ring_count(pair.b_to_a_queues[0]), 0u);
  EXPECT_EQ(rte_ring_count(pair.b_to_a_queues[1]), 1u);
  EXPECT_EQ(host().stats().packet_copies, 0u);
}

// The port runs while any of its queue devices is up.
TEST_F(DpdkQueuesTest, ThePortStopsOnlyWhenItsLastQueueDeviceGoesDown) {
  auto pair = ring_pair(2);
  Device* q0 = queue_device(net(host()), pair.b, {.queue = 0, .queues = 2, .rss = Rss::none});
  Device* q1 = queue_device(net(host()), pair.b, {.queue = 1, .queues = 2, .rss = Rss::none});
  ASSERT_TRUE(q0 && q1);
  ASSERT_TRUE(set_link_up(*q0, false));
  auto frame = flow_frame(q1->mac(), 1000);
  ASSERT_EQ(rte_ring_enqueue(pair.a_to_b_queues[1], mbuf_from(frame)), 0);
  poll();
  EXPECT_EQ(q1->stats().rx_packets, 1u) << "queue 1 still runs";
  ASSERT_TRUE(set_link_up(*q1, false));
  ASSERT_TRUE(set_link_up(*q0));
  ASSERT_EQ(rte_ring_enqueue(pair.a_to_b_queues[0], mbuf_from(frame)), 0);
  poll();
  EXPECT_EQ(q0->stats().rx_packets, 1u) << "started again by queue 0";
}

// Software RSS on a port whose every frame arrives on queue 0 (a NIC
// without RSS): each frame ends on the queue of its hash, and a flow's
// replies on the queue of its requests.
TEST_F(DpdkQueuesTest, SoftwareRssSteersEachFlowBothWaysToTheQueueOfItsHash) {
  constexpr std::uint16_t kQueues = 3;
  auto pair = ring_pair(kQueues);
  Device* dev[kQueues] = {};
  for (std::uint16_t q = 0; q < kQueues; ++q) {
    dev[q] = queue_device(net(host()), pair.b, {.queue = q, .queues = kQueues, .rss = Rss::software});
    ASSERT_NE(dev[q], nullptr);
  }
  // Counted per device by what the stack saw (the namespaces have no address).
  constexpr std::uint16_t kFlows = 60;
  std::vector<std::uint64_t> expected(kQueues);
  for (std::uint16_t flow = 0; flow < kFlows; ++flow) {
    for (bool reply : {false, true}) {
      auto frame = flow_frame(dev[0]->mac(), static_cast<std::uint16_t>(20000 + flow), reply);
      ++expected[rss::queue_of(rss::frame_hash(frame), kQueues)];
      ASSERT_EQ(rte_ring_enqueue(pair.a_to_b_queues[0], mbuf_from(frame)), 0);
    }
    EXPECT_EQ(rss::frame_hash(flow_frame(dev[0]->mac(), static_cast<std::uint16_t>(20000 + flow), false)),
              rss::frame_hash(flow_frame(dev[0]->mac(), static_cast<std::uint16_t>(20000 + flow), true)));
  }
  poll();
  std::uint64_t total = 0;
  for (std::uint16_t q = 0; q < kQueues; ++q) {
    EXPECT_EQ(dev[q]->stats().rx_packets, expected[q]) << "queue " << q;
    EXPECT_GT(expected[q], 0u) << "60 flows reach every queue";
    total += dev[q]->stats().rx_packets;
  }
  EXPECT_EQ(total, 2u * kFlows);
  EXPECT_EQ(host().stats().packet_copies, 0u);
  EXPECT_EQ(host().stats().packets_in_use, 0u);
}

// A queue whose device does not read (down) fills its steering ring; the
// queue that reads the port drops what does not fit and counts it.
TEST_F(DpdkQueuesTest, AFullSteeringRingDropsAndCounts) {
  auto pair = ring_pair(2);
  Device* q0 = queue_device(net(host()), pair.b, {.queue = 0, .queues = 2, .rss = Rss::software});
  Device* q1 = queue_device(net(host()), pair.b, {.queue = 1, .queues = 2, .rss = Rss::software});
  ASSERT_TRUE(q0 && q1);
  ASSERT_TRUE(set_link_up(*q1, false));
  ASSERT_TRUE(nic_without_rss(pair.a_to_b_queues[0], q0->mac(), 1, 700));
  poll(40);
  EXPECT_EQ(rte_ring_count(pair.a_to_b_queues[0]), 0u) << "queue 0 read them all";
  EXPECT_EQ(q0->stats().rx_packets, 0u);
  EXPECT_EQ(q0->stats().rx_dropped, 700u - 512u) << "512 wait for queue 1";
  ASSERT_TRUE(set_link_up(*q1));
  poll(40);
  EXPECT_EQ(q1->stats().rx_packets, 512u);
}

// ARP, which no RSS hashes, reaches every queue's namespace: each keeps its
// own neighbours. The same host's namespaces all answer alike.
TEST_P(DpdkQueuesArp, AnArpRequestReachesEveryQueueAndEachAnswers) {
  auto pair = ring_pair(2);
  Device* dev[2] = {};
  for (std::uint16_t q = 0; q < 2; ++q) {
    Net& n = net(host());
    dev[q] = queue_device(n, pair.b, {.queue = q, .queues = 2, .rss = GetParam()});
    ASSERT_NE(dev[q], nullptr);
    ASSERT_TRUE(ipv4::add_address(n, *dev[q], prefix("192.0.2.1/24")));
  }
  auto request = support::arp_frame(wire::ArpOperation::request, kPeerMac, kClient, MacAddress{},
                                    Ipv4Address(192, 0, 2, 1), MacAddress::broadcast());
  ASSERT_EQ(rte_ring_enqueue(pair.a_to_b_queues[0], mbuf_from(request)), 0);
  poll();
  for (std::uint16_t q = 0; q < 2; ++q) {
    EXPECT_EQ(dev[q]->stats().rx_packets, 1u) << "queue " << q;
    void* obj = nullptr;
    ASSERT_EQ(rte_ring_dequeue(pair.b_to_a_queues[q], &obj), 0) << "queue " << q << "'s namespace answered";
    auto* reply = static_cast<rte_mbuf*>(obj);
    auto parsed = support::parse_frame(bytes_of(reply));
    ASSERT_TRUE(parsed.arp.has_value());
    EXPECT_EQ(parsed.arp->operation, wire::ArpOperation::reply);
    rte_pktmbuf_free(reply);
  }
  EXPECT_EQ(host().stats().packets_in_use, 0u);
}

INSTANTIATE_TEST_SUITE_P(Rss, DpdkQueuesArp, ::testing::Values(Rss::none, Rss::software),
                         [](const auto& info) { return info.param == Rss::none ? "ByTheNic" : "InSoftware"; });

// Frames steered to a queue whose device goes are freed with it, and the
// port's pools get every mbuf back.
TEST_F(DpdkQueuesTest, DestroyingAQueueDeviceFreesWhatWaitsForIt) {
  auto pair = ring_pair(2);
  Device* q0 = queue_device(net(host()), pair.b, {.queue = 0, .queues = 2, .rss = Rss::software});
  Device* q1 = queue_device(net(host()), pair.b, {.queue = 1, .queues = 2, .rss = Rss::software});
  ASSERT_TRUE(q0 && q1);
  ASSERT_TRUE(set_link_up(*q1, false));
  const unsigned before = rte_mempool_avail_count(test_mbufs());
  ASSERT_TRUE(nic_without_rss(pair.a_to_b_queues[0], q0->mac(), 1, 10));
  poll();
  EXPECT_EQ(rte_mempool_avail_count(test_mbufs()), before - 10) << "waiting for queue 1";
  ASSERT_TRUE(destroy_device(*q1));
  EXPECT_EQ(rte_mempool_avail_count(test_mbufs()), before);
}

// Connections a namespace opens through its queue pick source ports
// whose hash brings the replies back to that queue (so to its core): every
// SYN and datagram leaves on the queue RSS would send its replies to.
TEST_F(DpdkQueuesTest, ConnectionsPickPortsWhoseRepliesComeBackToTheirQueue) {
  auto pair = ring_pair(2);
  std::vector<tcp::Stream> streams;
  std::vector<udp::Socket> sockets;
  for (std::uint16_t q = 0; q < 2; ++q) {
    Net& n = net(host());
    Device* dev = queue_device(n, pair.b, {.queue = q, .queues = 2, .rss = Rss::none});
    ASSERT_NE(dev, nullptr);
    ASSERT_EQ(dev->rss_queue()->queue, q);
    ASSERT_TRUE(ipv4::add_address(n, *dev, prefix("192.0.2.1/24")));
    ASSERT_TRUE(ipv4::add_neighbour(n, *dev, kClient, kPeerMac));
    for (int i = 0; i < 20; ++i) {
      streams.push_back(tcp::connect(n, {kClient, static_cast<std::uint16_t>(80 + i % 3)}).value());
      sockets.push_back(udp::open(n).value());
      ASSERT_TRUE(sockets.back().connect({kClient, 53}));
      const std::byte query[4] = {};
      ASSERT_TRUE(sockets.back().send(query));
    }
  }
  poll();
  for (std::uint16_t q = 0; q < 2; ++q) {
    int frames = 0;
    void* obj = nullptr;
    while (rte_ring_dequeue(pair.b_to_a_queues[q], &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      auto parsed = support::parse_frame(bytes_of(m));
      ASSERT_TRUE(parsed.ip.has_value());
      EXPECT_EQ(rss::queue_of(rss::frame_hash(bytes_of(m)), 2), q) << "a reply would reach the other core";
      rte_pktmbuf_free(m);
      ++frames;
    }
    EXPECT_EQ(frames, 40) << "20 SYNs and 20 datagrams from queue " << q;
  }
}

// Two Hosts on two threads, each a router on its own queue of an inbound
// and an outbound port: the test plays the NIC on both sides, spreading
// flows by their RSS hash, and every frame leaves on the queue (the core)
// it came in on, as the same mbuf.
class DpdkQueuesOnTwoCores : public DpdkQueuesTest, public ::testing::WithParamInterface<Rss> {
 protected:
  // A router per Host on queue q of `in_` (eth0, spread by `rss`) and of
  // `out_` (eth1), each queue of out_ read by the test.
  void make_routers(Rss rss) {
    in_ = ring_pair(2);
    out_ = ring_pair(2);
    group_ = std::make_unique<HostGroup>(HostGroupConfig{.hosts = 2, .host = support::test_config()});
    for (std::uint16_t q = 0; q < 2; ++q) {
      Net& router = net(group_->host(q));
      Device* eth0 = queue_device(router, in_.b, {.queue = q, .queues = 2, .rss = rss}, "eth0");
      Device* eth1 = queue_device(router, out_.a, {.queue = q, .queues = 2, .rss = Rss::none}, "eth1");
      ASSERT_TRUE(eth0 && eth1);
      in_mac_ = eth0->mac();
      ASSERT_TRUE(ipv4::add_address(router, *eth0, prefix("192.0.2.1/24")));
      ASSERT_TRUE(ipv4::add_address(router, *eth1, prefix("198.51.100.1/24")));
      ASSERT_TRUE(ipv4::add_neighbour(router, *eth1, kServer, MacAddress{2, 0, 0, 0, 0, 3}));
      ASSERT_TRUE(router.sysctl().set("net.ipv4.ip_forward", "1"));
    }
  }

  dpdk::RingPair in_, out_;
  MacAddress in_mac_;
};

TEST_P(DpdkQueuesOnTwoCores, EachHostForwardsTheFlowsOfItsQueue) {
  const Rss rss = GetParam();
  ASSERT_NO_FATAL_FAILURE(make_routers(rss));
  auto& in = in_;
  auto& out = out_;
  const MacAddress in_mac = in_mac_;
  group_->start();

  constexpr int kFrames = 2000;
  // Frames in flight at most: fewer than any ring holds (the NIC's, the
  // steering ring's), so a core the machine leaves unscheduled for a while
  // delays frames and never drops one.
  constexpr int kWindow = 256;
  std::vector<int> expected(2);
  int sent = 0, received = 0;
  std::vector<int> received_on(2);
  bool wrong_queue = false;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (received < kFrames && std::chrono::steady_clock::now() < deadline) {
    if (sent < kFrames && sent - received < kWindow) {
      auto frame = flow_frame(in_mac, static_cast<std::uint16_t>(1024 + sent % 500));
      // The NIC: with RSS of its own (none) by the hash, without (software) all on queue 0.
      const std::uint16_t q = rss == Rss::none ? rss::queue_of(rss::frame_hash(frame), 2) : 0;
      rte_mbuf* m = mbuf_from(frame);
      ASSERT_NE(m, nullptr);
      if (rte_ring_enqueue(in.a_to_b_queues[q], m) == 0) {
        ++sent;
        ++expected[rss::queue_of(rss::frame_hash(frame), 2)];
      } else {
        rte_pktmbuf_free(m);  // the NIC's ring is full: try again
      }
    }
    for (std::uint16_t q = 0; q < 2; ++q) {
      void* obj = nullptr;
      while (rte_ring_dequeue(out.a_to_b_queues[q], &obj) == 0) {
        auto* m = static_cast<rte_mbuf*>(obj);
        dpdk::detail::taken_over(m);
        auto copy = std::vector<std::byte>(bytes_of(m).begin(), bytes_of(m).end());
        dpdk::detail::handed_on(m);
        rte_pktmbuf_free(m);
        // What the routers send of their own once seconds pass (IPv6's
        // router solicitations and reports, seen when a loaded machine
        // stretches the test to a minute) is not a flow: only the IPv4
        // frames are counted.
        const auto eth = wire::EthernetView::checked(copy);
        if (!eth || eth->ethertype() != wire::EtherType::ipv4) continue;
        if (rss::queue_of(rss::frame_hash(copy), 2) != q) wrong_queue = true;
        ++received_on[q];
        ++received;
      }
    }
  }
  group_->stop();
  EXPECT_EQ(received, kFrames);
  EXPECT_FALSE(wrong_queue) << "a flow left on another core's queue";
  EXPECT_EQ(received_on[0], expected[0]);
  EXPECT_EQ(received_on[1], expected[1]);
  EXPECT_GT(received_on[0], 0);
  EXPECT_GT(received_on[1], 0);
  for (std::size_t h = 0; h < 2; ++h) {
    EXPECT_EQ(group_->host(h).stats().packet_copies, 0u);
    EXPECT_EQ(group_->host(h).stats().packets_in_use, 0u);
  }
}

// Both Hosts stopped and destroyed while frames cross the port, the
// steering rings and the Hosts: every mbuf is back in its pool.
TEST_P(DpdkQueuesOnTwoCores, StoppingWithFramesInFlightLosesNoMbuf) {
  ASSERT_NO_FATAL_FAILURE(make_routers(GetParam()));
  const unsigned pool_size = rte_mempool_avail_count(test_mbufs());
  group_->start();
  for (std::uint16_t flow = 0; flow < 1500; ++flow) {
    auto frame = flow_frame(in_mac_, static_cast<std::uint16_t>(2000 + flow));
    const std::uint16_t q = GetParam() == Rss::none ? rss::queue_of(rss::frame_hash(frame), 2) : 0;
    rte_mbuf* m = mbuf_from(frame);
    ASSERT_NE(m, nullptr);
    if (rte_ring_enqueue(in_.a_to_b_queues[q], m) != 0) {
      dpdk::detail::taken_over(m);
      rte_pktmbuf_free(m);
    }
  }
  group_->stop();
  nets_.clear();
  group_.reset();
  for (auto* pair : {&in_, &out_}) {
    for (rte_ring* ring : pair->a_to_b_queues) drain(ring);
  }
  EXPECT_EQ(rte_mempool_avail_count(test_mbufs()), pool_size);
}

INSTANTIATE_TEST_SUITE_P(Rss, DpdkQueuesOnTwoCores, ::testing::Values(Rss::none, Rss::software),
                         [](const auto& info) { return info.param == Rss::none ? "ByTheNic" : "InSoftware"; });

}  // namespace devices_dpdk_queues_test
}  // namespace
}  // namespace netns
