// A port whose NIC spreads flows itself (Rss::hardware): netns programs the
// symmetric key and an indirection table, trusts the port only when it
// reads that key back, and then takes each frame on the queue it came on.
//
// No virtual port of DPDK 22.11 does RSS, so this file emulates one's
// control plane: the library's calls to four ethdev functions are wrapped
// at link time (tests/CMakeLists.txt: -Wl,--wrap), and for the port under
// test they answer as a NIC with RSS does, recording what netns
// programmed; every other port's call goes on to DPDK. Where a flow lands
// is then computed as the NIC computes it, with DPDK's own Toeplitz
// (rte_softrss) over what was programmed, and the test plays the NIC on
// the net_ring port's queues.
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "devices/dpdk_eal.hpp"
#include "netns/dpdk.hpp"
#include "netns/ipv4.hpp"
#include "netns/rss.hpp"
#include "netns/tcp.hpp"
#include "netns/udp.hpp"
#include "support/fixtures.hpp"
#include "support/ipv4_frames.hpp"

namespace netns {
namespace {
namespace devices_dpdk_hardware_rss_test {

// The emulated NIC: what it tells and what netns programmed into it.
struct RssNic {
  std::uint16_t port = RTE_MAX_ETHPORTS;  // none: every call goes to DPDK
  std::uint8_t key_size = 40;
  std::uint16_t reta_size = 128;
  // False: the port claims RSS but hashes with a key of its own, which it
  // does not tell (as net_tap, whose kernel spreads the queues).
  bool reports_its_key = true;

  bool rss_mode = false;  // rte_eth_dev_configure asked for RTE_ETH_MQ_RX_RSS
  std::uint64_t rss_hf = 0;
  std::vector<std::uint8_t> key;
  std::vector<std::uint16_t> reta;
  int configures = 0;
};
RssNic nic;

}  // namespace devices_dpdk_hardware_rss_test
}  // namespace
}  // namespace netns

using netns::devices_dpdk_hardware_rss_test::nic;

extern "C" {

int __real_rte_eth_dev_info_get(std::uint16_t port, rte_eth_dev_info* info);
int __real_rte_eth_dev_configure(std::uint16_t port, std::uint16_t rx, std::uint16_t tx, const rte_eth_conf* conf);
int __real_rte_eth_dev_rss_reta_update(std::uint16_t port, rte_eth_rss_reta_entry64* reta, std::uint16_t size);
int __real_rte_eth_dev_rss_hash_conf_get(std::uint16_t port, rte_eth_rss_conf* conf);

// What an Intel 82599 tells: RSS over IPv4 and IPv6, with and without ports.
int __wrap_rte_eth_dev_info_get(std::uint16_t port, rte_eth_dev_info* info) {
  const int ret = __real_rte_eth_dev_info_get(port, info);
  if (ret != 0 || port != nic.port) return ret;
  info->flow_type_rss_offloads = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
  info->hash_key_size = nic.key_size;
  info->reta_size = nic.reta_size;
  return 0;
}

// Records the RSS asked for; net_ring itself is configured without it
// (ethdev refuses hash fields the driver does not offer).
int __wrap_rte_eth_dev_configure(std::uint16_t port, std::uint16_t rx, std::uint16_t tx, const rte_eth_conf* conf) {
  if (port != nic.port) return __real_rte_eth_dev_configure(port, rx, tx, conf);
  const rte_eth_rss_conf& rss = conf->rx_adv_conf.rss_conf;
  nic.rss_mode = conf->rxmode.mq_mode == RTE_ETH_MQ_RX_RSS;
  nic.rss_hf = nic.rss_mode ? rss.rss_hf : 0;
  nic.key.clear();
  if (nic.rss_mode) {
    if (rss.rss_key == nullptr || rss.rss_key_len != nic.key_size) return -EINVAL;
    nic.key.assign(rss.rss_key, rss.rss_key + rss.rss_key_len);
  }
  nic.reta.assign(nic.reta_size, 0);  // a reset NIC sends everything to queue 0
  ++nic.configures;
  rte_eth_conf plain = *conf;
  plain.rxmode.mq_mode = RTE_ETH_MQ_RX_NONE;
  plain.rx_adv_conf.rss_conf = {};
  return __real_rte_eth_dev_configure(port, rx, tx, &plain);
}

int __wrap_rte_eth_dev_rss_reta_update(std::uint16_t port, rte_eth_rss_reta_entry64* reta, std::uint16_t size) {
  if (port != nic.port) return __real_rte_eth_dev_rss_reta_update(port, reta, size);
  if (size != nic.reta_size) return -EINVAL;
  for (std::uint16_t i = 0; i < size; ++i) {
    const auto& group = reta[i / RTE_ETH_RETA_GROUP_SIZE];
    if (group.mask >> (i % RTE_ETH_RETA_GROUP_SIZE) & 1) nic.reta[i] = group.reta[i % RTE_ETH_RETA_GROUP_SIZE];
  }
  return 0;
}

int __wrap_rte_eth_dev_rss_hash_conf_get(std::uint16_t port, rte_eth_rss_conf* conf) {
  if (port != nic.port) return __real_rte_eth_dev_rss_hash_conf_get(port, conf);
  conf->rss_hf = nic.rss_hf;
  if (conf->rss_key == nullptr) return 0;
  if (conf->rss_key_len < nic.key_size) return -EINVAL;
  for (std::size_t i = 0; i < nic.key_size; ++i) {
    conf->rss_key[i] = nic.reports_its_key && i < nic.key.size() ? nic.key[i] : static_cast<std::uint8_t>(i * 37);
  }
  conf->rss_key_len = nic.key_size;
  return 0;
}

}  // extern "C"

namespace netns {
namespace {
namespace devices_dpdk_hardware_rss_test {

using support::drain;
using support::mbuf_from;
using dpdk::Rss;

const MacAddress kPeerMac{2, 0, 0, 0, 0, 2};
const Ipv4Address kClient(192, 0, 2, 2), kServer(192, 0, 2, 1);

// The queue the emulated NIC puts an IPv4 TCP or UDP frame on: DPDK's
// Toeplitz with the key netns programmed, then the indirection table at
// the hash's low bits.
std::uint16_t nic_queue(std::span<const std::byte> frame) {
  auto u16 = [&](std::size_t at) { return static_cast<std::uint16_t>(std::to_integer<unsigned>(frame[at]) << 8 |
                                                                     std::to_integer<unsigned>(frame[at + 1])); };
  auto u32 = [&](std::size_t at) { return std::uint32_t{u16(at)} << 16 | u16(at + 2); };
  const std::size_t l4 = 14 + 4 * (std::to_integer<unsigned>(frame[14]) & 0xf);
  rte_ipv4_tuple tuple{};
  tuple.src_addr = u32(14 + 12);
  tuple.dst_addr = u32(14 + 16);
  tuple.sport = u16(l4);
  tuple.dport = u16(l4 + 2);
  const std::uint32_t hash = rte_softrss(reinterpret_cast<std::uint32_t*>(&tuple), RTE_THASH_V4_L4_LEN, nic.key.data());
  return nic.reta[hash & (nic.reta_size - 1)];
}

std::span<const std::byte> bytes_of(const rte_mbuf* m) { return {rte_pktmbuf_mtod(m, const std::byte*), m->data_len}; }

// A NIC's sizes: the 82599's (40-byte key, 128 entries) and the XL710's
// (52 bytes, 512 entries).
struct NicSizes {
  std::uint8_t key_size;
  std::uint16_t reta_size;
};
void PrintTo(const NicSizes& sizes, std::ostream* os) {
  *os << int{sizes.key_size} << "-byte key, " << sizes.reta_size << "-entry table";
}

class DpdkHardwareRss : public ::testing::TestWithParam<NicSizes> {
 protected:
  static constexpr std::uint16_t kQueues = 3;

  void SetUp() override {
    eal_ = support::test_eal();
    if (eal_ == nullptr) GTEST_SKIP() << support::test_eal_error();
    auto pair = eal_->make_ring_pair(support::unique_name("h"), 1024, kQueues);
    ASSERT_TRUE(pair) << pair.error().message();
    pair_ = *pair;
    nic = RssNic{.port = pair_.b, .key_size = GetParam().key_size, .reta_size = GetParam().reta_size};
  }
  void TearDown() override {
    nets_.clear();
    host_.reset();
    nic = RssNic{};
    if (pair_.a_to_b == nullptr) return;
    for (rte_ring* ring : pair_.a_to_b_queues) drain(ring);
    for (rte_ring* ring : pair_.b_to_a_queues) drain(ring);
    EXPECT_TRUE(eal_->detach(pair_.a));
    EXPECT_TRUE(eal_->detach(pair_.b));
  }

  // A namespace per queue of the port, each with 192.0.2.1 on it.
  void make_queue_devices(Rss rss) {
    for (std::uint16_t q = 0; q < kQueues; ++q) {
      nets_.push_back(host_->create_net().value());
      auto dev = make_dpdk_queue(*nets_.back(), "eth0", pair_.b, {.queue = q, .queues = kQueues, .rss = rss});
      ASSERT_TRUE(dev) << dev.error().message();
      dev_[q] = *dev;
      ASSERT_TRUE(set_link_up(*dev_[q]));
      ASSERT_TRUE(ipv4::add_address(*nets_.back(), *dev_[q], Ipv4Prefix(kServer, 24)));
      ASSERT_TRUE(ipv4::add_neighbour(*nets_.back(), *dev_[q], kClient, kPeerMac));
    }
  }
  void poll() {
    for (int i = 0; i < 4; ++i) host_->poll(clock_.now());
  }

  dpdk::Eal* eal_ = nullptr;
  dpdk::RingPair pair_;
  std::unique_ptr<Host> host_ = std::make_unique<Host>(support::test_config());
  std::vector<NetRef> nets_;
  Device* dev_[kQueues] = {};
  VirtualClock clock_;
};

TEST_P(DpdkHardwareRss, APortThatReadsBackTheSymmetricKeyIsTrustedWithItsTable) {
  make_queue_devices(Rss::automatic);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(dpdk::queue_info(*dev_[0])->rss, Rss::hardware);
  EXPECT_EQ(nic.configures, 1);
  EXPECT_TRUE(nic.rss_mode);
  EXPECT_EQ(nic.rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_UDP, RTE_ETH_RSS_NONFRAG_IPV4_UDP);
  EXPECT_EQ(nic.rss_hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP, RTE_ETH_RSS_NONFRAG_IPV4_TCP);
  ASSERT_EQ(nic.key.size(), GetParam().key_size);
  for (std::size_t i = 0; i < nic.key.size(); ++i) EXPECT_EQ(nic.key[i], i % 2 ? 0x5a : 0x6d) << "byte " << i;
  // The table spreads over every queue, as rss::queue_of computes.
  for (std::uint32_t i = 0; i < nic.reta_size; ++i) ASSERT_EQ(nic.reta[i], rss::queue_of(i, kQueues)) << i;
}

// What the NIC computes from what netns programmed is what netns computes:
// each flow, both ways, lands on the queue rss::frame_hash names, and the
// device takes it there without hashing it again.
TEST_P(DpdkHardwareRss, EachFlowBothWaysLandsOnTheQueueNetnsComputes) {
  make_queue_devices(Rss::automatic);
  ASSERT_FALSE(HasFailure());
  std::vector<std::uint64_t> expected(kQueues);
  for (std::uint16_t flow = 0; flow < 60; ++flow) {
    const auto sport = static_cast<std::uint16_t>(30000 + 7 * flow);
    const auto request = support::udp_frame(dev_[0]->mac(), kPeerMac, kClient, kServer, sport, 7, 18);
    const auto reply = support::udp_frame(kPeerMac, dev_[0]->mac(), kServer, kClient, 7, sport, 18);
    const std::uint16_t q = nic_queue(request);
    ASSERT_EQ(q, rss::queue_of(rss::frame_hash(request), kQueues)) << "flow " << flow;
    ASSERT_EQ(nic_queue(reply), q) << "the reply of flow " << flow;
    ASSERT_EQ(rte_ring_enqueue(pair_.a_to_b_queues[q], mbuf_from(request)), 0);
    ++expected[q];
  }
  poll();
  for (std::uint16_t q = 0; q < kQueues; ++q) {
    EXPECT_GT(expected[q], 0u) << "60 flows reach every queue";
    EXPECT_EQ(dev_[q]->stats().rx_packets, expected[q]) << "queue " << q;
  }
  // Trusted, the device takes what arrives on its queue, as the NIC put it.
  const auto elsewhere = support::udp_frame(dev_[0]->mac(), kPeerMac, kClient, kServer, 40000, 7, 18);
  const std::uint16_t other = (nic_queue(elsewhere) + 1) % kQueues;
  ASSERT_EQ(rte_ring_enqueue(pair_.a_to_b_queues[other], mbuf_from(elsewhere)), 0);
  poll();
  EXPECT_EQ(dev_[other]->stats().rx_packets, expected[other] + 1);
}

// Connections and datagrams a queue's namespace opens pick source ports
// whose replies the NIC hashes back to that queue.
TEST_P(DpdkHardwareRss, TheNicBringsRepliesBackToTheQueueThatOpenedTheFlow) {
  make_queue_devices(Rss::hardware);
  ASSERT_FALSE(HasFailure());
  std::vector<tcp::Stream> streams;
  std::vector<udp::Socket> sockets;
  for (std::uint16_t q = 0; q < kQueues; ++q) {
    for (int i = 0; i < 10; ++i) {
      streams.push_back(tcp::connect(*nets_[q], {kClient, static_cast<std::uint16_t>(80 + i)}).value());
      sockets.push_back(udp::open(*nets_[q]).value());
      ASSERT_TRUE(sockets.back().connect({kClient, 53}));
      const std::byte query[4] = {};
      ASSERT_TRUE(sockets.back().send(query));
    }
  }
  poll();
  for (std::uint16_t q = 0; q < kQueues; ++q) {
    int frames = 0;
    void* obj = nullptr;
    while (rte_ring_dequeue(pair_.b_to_a_queues[q], &obj) == 0) {
      auto* m = static_cast<rte_mbuf*>(obj);
      const auto sent = bytes_of(m);
      ASSERT_TRUE(support::parse_frame(sent).ip.has_value());
      // The reply: the same flow, addresses and ports swapped.
      std::vector<std::byte> reply(sent.begin(), sent.end());
      const std::size_t l4 = 14 + 4 * (std::to_integer<unsigned>(reply[14]) & 0xf);
      std::swap_ranges(reply.begin() + 26, reply.begin() + 30, reply.begin() + 30);
      std::swap_ranges(reply.begin() + l4, reply.begin() + l4 + 2, reply.begin() + l4 + 2);
      EXPECT_EQ(nic_queue(reply), q) << "a reply would reach another queue's namespace";
      rte_pktmbuf_free(m);
      ++frames;
    }
    EXPECT_EQ(frames, 20) << "10 SYNs and 10 datagrams from queue " << q;
  }
}

// A port that claims RSS but reads back another key: automatic spreads in
// software over a port reconfigured without RSS; hardware is refused.
TEST_P(DpdkHardwareRss, APortThatHashesWithAKeyOfItsOwnIsNotTrusted) {
  nic.reports_its_key = false;
  auto refused = make_dpdk_queue(*host_->create_net().value(), "eth0", pair_.b,
                                 {.queue = 0, .queues = kQueues, .rss = Rss::hardware});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), Errc::not_supported);
  make_queue_devices(Rss::automatic);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(dpdk::queue_info(*dev_[1])->rss, Rss::software);
  EXPECT_FALSE(nic.rss_mode) << "configured again, without RSS";
  // Everything arrives on queue 0, and software steers it.
  const auto frame = support::udp_frame(dev_[0]->mac(), kPeerMac, kClient, kServer, 30001, 7, 18);
  const std::uint16_t q = rss::queue_of(rss::frame_hash(frame), kQueues);
  ASSERT_EQ(rte_ring_enqueue(pair_.a_to_b_queues[0], mbuf_from(frame)), 0);
  poll();
  EXPECT_EQ(dev_[q]->stats().rx_packets, 1u);
}

INSTANTIATE_TEST_SUITE_P(Nics, DpdkHardwareRss,
                         ::testing::Values(NicSizes{40, 128}, NicSizes{52, 512}),
                         [](const auto& info) { return info.param.key_size == 40 ? "Key40Reta128" : "Key52Reta512"; });

}  // namespace devices_dpdk_hardware_rss_test
}  // namespace
}  // namespace netns
