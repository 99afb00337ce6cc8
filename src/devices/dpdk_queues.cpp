// The queues of one DPDK port: configuration with RSS, start and stop on
// behalf of every queue device, and software RSS's steering rings.
#include "devices/dpdk_queues.hpp"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <algorithm>
#include <string>

#include "core/device_internal.hpp"
#include "devices/dpdk_internal.hpp"
#include "netns/host.hpp"
#include "netns/rss.hpp"

namespace netns::dpdk::detail {

namespace {

constexpr std::uint16_t kRingDescriptors = 512;
constexpr unsigned kPoolMbufs = 2047;  // rx and tx rings, a batch, and frames held by the stack
constexpr unsigned kPoolCache = 256;
// Frames steered from one queue to another and not yet taken, per pair:
// about two polls' worth of bursts.
constexpr std::size_t kSteeringRing = 512;
// The flows a NIC hashes with their ports, and the rest by addresses (rss.hpp).
constexpr std::uint64_t kRssFields = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_FRAG_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                                     RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_NONFRAG_IPV4_OTHER |
                                     RTE_ETH_RSS_IPV6 | RTE_ETH_RSS_FRAG_IPV6 | RTE_ETH_RSS_NONFRAG_IPV6_TCP |
                                     RTE_ETH_RSS_NONFRAG_IPV6_UDP | RTE_ETH_RSS_NONFRAG_IPV6_OTHER;

// One pool per port and queue, kept until the EAL is cleaned up: frames
// received on a queue may outlive its device (queued on a socket), and a
// later device on the same queue reuses the pool instead of growing the
// EAL's memory. Queue 0's keeps the name a single-queue port always had.
Result<rte_mempool*> pool_for_queue(std::uint16_t port, std::uint16_t queue, int socket) {
  std::string name = "netns_mb" + std::to_string(port);
  if (queue != 0) name += "q" + std::to_string(queue);
  if (rte_mempool* found = rte_mempool_lookup(name.c_str())) return found;
  rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), kPoolMbufs, kPoolCache, kMbufPrivSize,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (pool == nullptr) return errno_error(rte_errno);
  return pool;
}

bool has_rss(const rte_eth_dev_info& info) { return (info.flow_type_rss_offloads & kRssFields) != 0; }

Result<Rss> resolve_rss(const rte_eth_dev_info& info, const QueueSpec& spec) {
  if (spec.queues == 1) return Rss::none;  // nothing to spread
  switch (spec.rss) {
    case Rss::automatic: return has_rss(info) ? Rss::hardware : Rss::software;
    case Rss::hardware:
      if (!has_rss(info)) return error(Errc::not_supported);
      return Rss::hardware;
    default: return spec.rss;
  }
}

// The port's RSS: the symmetric key (repeated to the port's key size) over
// the fields it can hash, and an indirection table that rss::queue_of
// reproduces.
Result<void> set_reta(std::uint16_t port, const rte_eth_dev_info& info, std::uint16_t queues) {
  if (info.reta_size == 0) return {};
  std::vector<rte_eth_rss_reta_entry64> reta(std::max<std::size_t>(1, info.reta_size / RTE_ETH_RETA_GROUP_SIZE));
  for (std::uint32_t i = 0; i < info.reta_size; ++i) {
    auto& group = reta[i / RTE_ETH_RETA_GROUP_SIZE];
    group.mask |= std::uint64_t{1} << (i % RTE_ETH_RETA_GROUP_SIZE);
    group.reta[i % RTE_ETH_RETA_GROUP_SIZE] = static_cast<std::uint16_t>((i % rss::kRetaSpan) % queues);
  }
  int ret = rte_eth_dev_rss_reta_update(port, reta.data(), info.reta_size);
  if (ret != 0 && ret != -ENOTSUP) return errno_error(-ret);
  return {};
}

Result<PortSetup> read_setup(Host& host, std::uint16_t port, const rte_eth_dev_info& info) {
  PortSetup setup;
  rte_ether_addr addr{};
  if (int ret = rte_eth_macaddr_get(port, &addr); ret != 0) return errno_error(-ret);
  std::copy_n(addr.addr_bytes, 6, setup.mac.octets.begin());
  if (setup.mac.is_zero() || setup.mac.is_multicast()) {
    // net_ring ports have none: one of ours, told to the port if it listens.
    setup.mac = random_mac(host);
    std::copy_n(setup.mac.octets.begin(), 6, addr.addr_bytes);
    (void)rte_eth_dev_default_mac_addr_set(port, &addr);
  }
  std::uint16_t mtu = 0;
  if (rte_eth_dev_get_mtu(port, &mtu) == 0 && mtu >= 68) setup.mtu = mtu;
  setup.max_mtu = std::clamp<std::uint32_t>(info.max_mtu, 68, kMaxMtu);
  setup.mtu = std::min(setup.mtu, setup.max_mtu);
  return setup;
}

// rss::kSymmetricKey's 0x6d5a repeated to the port's key size.
std::vector<std::uint8_t> symmetric_key(const rte_eth_dev_info& info) {
  std::vector<std::uint8_t> key(info.hash_key_size != 0 ? info.hash_key_size : rss::kKeySize);
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = rss::kSymmetricKey[i % 2];
  return key;
}

// rte_eth_dev_configure and every queue pair, each queue with its pool.
// The port is left stopped.
Result<std::vector<rte_mempool*>> set_up_queues(std::uint16_t port, const rte_eth_dev_info& info,
                                                std::uint16_t queues, Rss rss) {
  rte_eth_conf conf{};
  std::vector<std::uint8_t> key = symmetric_key(info);
  if (rss == Rss::hardware) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = key.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<std::uint8_t>(key.size());
    conf.rx_adv_conf.rss_conf.rss_hf = kRssFields & info.flow_type_rss_offloads;
  }
  if (int ret = rte_eth_dev_configure(port, queues, queues, &conf); ret != 0) return errno_error(-ret);
  std::uint16_t rx_desc = kRingDescriptors, tx_desc = kRingDescriptors;
  if (int ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc); ret != 0) return errno_error(-ret);
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());  // virtual ports have no NUMA node
  std::vector<rte_mempool*> pools;
  for (std::uint16_t q = 0; q < queues; ++q) {
    auto pool = pool_for_queue(port, q, socket);
    if (!pool) return pool.error();
    pools.push_back(*pool);
    if (int ret = rte_eth_rx_queue_setup(port, q, rx_desc, static_cast<unsigned>(socket), nullptr, *pool);
        ret != 0) {
      return errno_error(-ret);
    }
    if (int ret = rte_eth_tx_queue_setup(port, q, tx_desc, static_cast<unsigned>(socket), nullptr); ret != 0) {
      return errno_error(-ret);
    }
  }
  if (rss == Rss::hardware) {
    if (auto ok = set_reta(port, info, queues); !ok) return ok.error();
  }
  return pools;
}

// Whether the port hashes with the symmetric key as asked. A port that
// claims RSS but cannot say which key it hashes with (net_tap: the kernel
// spreads its queues by a hash of its own) is not trusted with flows that
// must come back to their core.
bool hashes_symmetrically(std::uint16_t port, const rte_eth_dev_info& info) {
  const std::vector<std::uint8_t> wanted = symmetric_key(info);
  std::vector<std::uint8_t> key(wanted.size());
  rte_eth_rss_conf conf{};
  conf.rss_key = key.data();
  conf.rss_key_len = static_cast<std::uint8_t>(key.size());
  return rte_eth_dev_rss_hash_conf_get(port, &conf) == 0 && conf.rss_hf != 0 && key == wanted;
}

}  // namespace

PortQueues::PortQueues(std::uint16_t port, const QueueSpec& spec, Rss resolved)
    : port_(port), queues_(spec.queues), requested_(spec.rss), rss_(resolved) {
  if (queues_ == 1) return;
  rings_.resize(std::size_t{queues_} * queues_);
  for (std::uint16_t from = 0; from < queues_; ++from) {
    for (std::uint16_t to = 0; to < queues_; ++to) {
      if (from != to) rings_[from * queues_ + to] = std::make_unique<SpscRing<rte_mbuf*>>(kSteeringRing);
    }
  }
}

Result<std::shared_ptr<PortQueues>> PortQueues::configure(Host& host, std::uint16_t port, const QueueSpec& spec) {
  rte_eth_dev_info info{};
  if (int ret = rte_eth_dev_info_get(port, &info); ret != 0) return errno_error(-ret);
  if (info.max_rx_queues < spec.queues || info.max_tx_queues < spec.queues) return error(Errc::not_supported);
  auto rss = resolve_rss(info, spec);
  if (!rss) return rss.error();
  auto pools = set_up_queues(port, info, spec.queues, *rss);
  if (!pools) return pools.error();
  if (*rss == Rss::hardware && !hashes_symmetrically(port, info)) {
    if (spec.rss == Rss::hardware) return error(Errc::not_supported);
    rss = Rss::software;  // automatic: the same hash, computed here
    pools = set_up_queues(port, info, spec.queues, *rss);
    if (!pools) return pools.error();
  }
  auto setup = read_setup(host, port, info);
  if (!setup) return setup.error();
  std::shared_ptr<PortQueues> queues(new PortQueues(port, spec, *rss));
  queues->pools_ = std::move(*pools);
  queues->setup_ = *setup;
  queues->mtus_.assign(spec.queues, setup->mtu);
  return queues;
}

PortQueues::~PortQueues() {
  if (cut_off_) return;
  for (std::uint16_t to = 0; to < queues_; ++to) drop_steered(to);
}

Result<void> PortQueues::device_up() {
  std::lock_guard lock(mutex_);
  if (cut_off_) return error(Errc::operation_not_permitted);
  if (devices_up_ == 0) {
    if (int ret = rte_eth_dev_start(port_); ret != 0) return errno_error(-ret);
    started_.store(true, std::memory_order_release);
  }
  ++devices_up_;
  return {};
}

void PortQueues::device_down() {
  std::lock_guard lock(mutex_);
  if (devices_up_ == 0 || --devices_up_ != 0) return;
  started_.store(false, std::memory_order_release);
  if (!cut_off_) (void)rte_eth_dev_stop(port_);
}

bool PortQueues::link_up() {
  std::lock_guard lock(mutex_);
  rte_eth_link link{};
  return !cut_off_ && rte_eth_link_get_nowait(port_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

Result<void> PortQueues::set_mtu(std::uint16_t queue, std::uint32_t mtu) {
  std::lock_guard lock(mutex_);
  if (cut_off_) return error(Errc::operation_not_permitted);
  std::vector<std::uint32_t> wanted = mtus_;
  wanted[queue] = mtu;
  const std::uint32_t largest = *std::max_element(wanted.begin(), wanted.end());
  int ret = rte_eth_dev_set_mtu(port_, static_cast<std::uint16_t>(largest));
  if (ret != 0 && ret != -ENOTSUP) return errno_error(-ret);
  mtus_ = std::move(wanted);
  return {};
}

bool PortQueues::steer(std::uint16_t from, std::uint16_t to, rte_mbuf* frame) {
  return ring(from, to).push(std::move(frame));
}

rte_mbuf* PortQueues::take_steered(std::uint16_t to, std::uint16_t& cursor) {
  for (std::uint16_t tried = 0; tried < queues_; ++tried) {
    const std::uint16_t from = cursor;
    cursor = static_cast<std::uint16_t>((cursor + 1) % queues_);
    if (from == to) continue;
    if (auto frame = ring(from, to).pop()) return *frame;
  }
  return nullptr;
}

void PortQueues::drop_steered(std::uint16_t to) {
  if (queues_ == 1) return;
  std::uint16_t cursor = 0;
  while (rte_mbuf* frame = take_steered(to, cursor)) {
    handed_on(frame);
    rte_pktmbuf_free(frame);
  }
}

void PortQueues::cut_off() {
  std::lock_guard lock(mutex_);
  if (cut_off_) return;
  for (std::uint16_t to = 0; to < queues_; ++to) drop_steered(to);
  if (started_.exchange(false)) (void)rte_eth_dev_stop(port_);
  cut_off_ = true;
}

}  // namespace netns::dpdk::detail
