// A DPDK ethdev port as a netns device, busy-polled by Host::poll.
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_mempool.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "core/device_internal.hpp"
#include "devices/dpdk_internal.hpp"
#include "netns/dpdk.hpp"
#include "netns/host.hpp"

namespace netns {

namespace {

static_assert(sizeof(PacketBuffer) <= dpdk::kMbufPrivSize);
static_assert(dpdk::kMbufPrivSize % RTE_MBUF_PRIV_ALIGN == 0);

constexpr std::uint16_t kBurst = 32;          // rx and tx burst, as DPDK's examples
constexpr std::uint16_t kRingDescriptors = 512;
// How often an up port's link is read (DPDK's examples wait 100 ms between checks).
constexpr Clock::duration kLinkCheckInterval = std::chrono::milliseconds(100);
constexpr unsigned kPoolMbufs = 2047;         // rx and tx rings, a batch, and frames held by the stack
constexpr unsigned kPoolCache = 256;
// Frames must fit one mbuf: its data room less Ethernet and a VLAN tag.
constexpr std::uint32_t kMaxMtu = dpdk::kMaxMtu;
static_assert(kMaxMtu == RTE_MBUF_DEFAULT_DATAROOM - 18);

// The release functions mark a Packet as wrapping an mbuf: with its header
// in the mbuf's private area, or (a pool without room for it) on the heap.
void release_in_place(PacketBuffer* buf) {
  auto* m = static_cast<rte_mbuf*>(buf->owner);
  PacketPool::forget_header(buf);  // before the mbuf, which holds the header, goes back
  rte_pktmbuf_free(m);
}

void release_on_heap(PacketBuffer* buf) {
  auto* m = static_cast<rte_mbuf*>(buf->owner);
  PacketPool::free_header(buf);
  rte_pktmbuf_free(m);
}

// One pool per port id, kept until the EAL is cleaned up: frames received on
// a port may outlive its device (queued on a socket), and a later device on
// the same port reuses the pool instead of growing the EAL's memory.
Result<rte_mempool*> pool_for_port(std::uint16_t port, int socket) {
  const std::string name = "netns_mb" + std::to_string(port);
  if (rte_mempool* found = rte_mempool_lookup(name.c_str())) return found;
  rte_mempool* pool = rte_pktmbuf_pool_create(name.c_str(), kPoolMbufs, kPoolCache, dpdk::kMbufPrivSize,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (pool == nullptr) return errno_error(rte_errno);
  return pool;
}

struct PortSetup {
  MacAddress mac;
  std::uint32_t mtu = 1500;
  std::uint32_t max_mtu = kMaxMtu;
  rte_mempool* pool = nullptr;
};

// One rx and one tx queue; the port is left stopped.
Result<PortSetup> configure_port(Host& host, std::uint16_t port) {
  rte_eth_dev_info info{};
  if (int ret = rte_eth_dev_info_get(port, &info); ret != 0) return errno_error(-ret);
  rte_eth_conf conf{};
  if (int ret = rte_eth_dev_configure(port, 1, 1, &conf); ret != 0) return errno_error(-ret);
  std::uint16_t rx_desc = kRingDescriptors, tx_desc = kRingDescriptors;
  if (int ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_desc, &tx_desc); ret != 0) return errno_error(-ret);
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());  // virtual ports have no NUMA node
  PortSetup setup;
  auto pool = pool_for_port(port, socket);
  if (!pool) return pool.error();
  setup.pool = *pool;
  if (int ret = rte_eth_rx_queue_setup(port, 0, rx_desc, static_cast<unsigned>(socket), nullptr, setup.pool);
      ret != 0) {
    return errno_error(-ret);
  }
  if (int ret = rte_eth_tx_queue_setup(port, 0, tx_desc, static_cast<unsigned>(socket), nullptr); ret != 0) {
    return errno_error(-ret);
  }
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

class DpdkPort final : public Device, public dpdk::detail::EalClient {
 public:
  DpdkPort(Net& net, std::string_view name, std::uint16_t port, const PortSetup& setup)
      : Device(net, name, DeviceKind::dpdk, setup.mac, setup.mtu),
        port_(port),
        max_mtu_(setup.max_mtu),
        pool_(setup.pool) {
    refresh_link();
  }

  ~DpdkPort() override {
    stop();
    dpdk::detail::release_port(*this);
  }

  bool polled() const override { return true; }
  bool netns_refund() const override { return true; }  // the port is hardware (or a vdev) outside the namespace
  int rx_fd() const override { return -1; }  // busy-polled: no descriptor to wait on
  std::uint32_t max_mtu() const override { return max_mtu_; }
  std::uint16_t port() const override { return port_; }

  void cut_off() override {
    // Down first: drops the backlog, whose frames wrap mbufs.
    (void)set_link_up(*this, false);
    stop();
    cut_off_ = true;
    refresh_link();
  }

  dpdk::PortStats port_stats() const {
    rte_eth_stats s{};
    if (cut_off_ || rte_eth_stats_get(port_, &s) != 0) return {};
    return {s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.ierrors, s.oerrors, s.rx_nombuf};
  }
  bool is_cut_off() const { return cut_off_; }

 private:
  // The port's link as it reports it, read without waiting. A port raises
  // no event this process hears, so it is read on every change made here
  // and, while up, every kLinkCheckInterval from poll_rx, as a driver's
  // watchdog does; devices stacked on the port follow through set_carrier.
  void refresh_link() {
    rte_eth_link link{};
    set_carrier(!cut_off_ && rte_eth_link_get_nowait(port_, &link) == 0 && link.link_status == RTE_ETH_LINK_UP);
  }

  void on_updown() override {
    if (!is_up()) {
      stop();
      refresh_link();
      return;
    }
    if (!cut_off_ && !started_) {
      int ret = rte_eth_dev_start(port_);
      started_ = ret == 0;
      if (!started_) net().host().log("netns: dpdk port " + std::to_string(port_) + " did not start: " +
                                      errno_error(-ret).message());
    }
    refresh_link();
  }

  Result<void> on_mtu_change(std::uint32_t mtu) override {
    if (cut_off_) return error(Errc::operation_not_permitted);
    int ret = rte_eth_dev_set_mtu(port_, static_cast<std::uint16_t>(mtu));
    // A port with no MTU of its own (net_ring) leaves it to the stack.
    if (ret != 0 && ret != -ENOTSUP) return errno_error(-ret);
    return {};
  }

  void on_unregister() override { stop(); }

  std::size_t poll_rx(std::size_t budget) override {
    if (!started_) return 0;
    if (const Clock::time_point now = net().host().now(); now >= next_link_check_) {
      next_link_check_ = now + kLinkCheckInterval;
      refresh_link();
    }
    std::size_t done = 0;
    rte_mbuf* burst[kBurst];
    // A frame delivered at once may take the port down or destroy it: the
    // next burst is read only while it is still ours and started.
    while (done < budget && started_ && is_up() && !is_unregistering()) {
      auto want = static_cast<std::uint16_t>(std::min<std::size_t>(kBurst, budget - done));
      std::uint16_t n = rte_eth_rx_burst(port_, 0, burst, want);
      // The frames are cold (a NIC wrote them): fetch a few ahead of the
      // one being processed, as DPDK's l3fwd does.
      for (std::uint16_t i = 0; i < std::min<std::uint16_t>(n, kPrefetchAhead); ++i) prefetch(burst[i]);
      for (std::uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) prefetch(burst[i + kPrefetchAhead]);
        take(burst[i]);
      }
      done += n;
      if (n < want) break;
    }
    return done;
  }

  static constexpr std::uint16_t kPrefetchAhead = 4;
  static void prefetch(const rte_mbuf* m) { rte_prefetch0(rte_pktmbuf_mtod(m, const void*)); }

  // A received mbuf into the stack, as a Packet on the same bytes.
  void take(rte_mbuf* m) {
    if (m->nb_segs != 1) [[unlikely]] {  // larger than one mbuf: over any MTU we accept
      ++stats_.rx_length_errors;
      ++stats_.rx_errors;
      rte_pktmbuf_free(m);
      return;
    }
    auto* storage = static_cast<std::byte*>(m->buf_addr);
    PacketPool& packets = net().host().packets();
    if (m->priv_size >= sizeof(PacketBuffer)) [[likely]] {
      auto* header = static_cast<PacketBuffer*>(rte_mbuf_to_priv(m));
      deliver_now(packets.wrap_in_place(header, storage, m->buf_len, m->data_off, m->data_len,
                                        &release_in_place, m));
    } else {
      deliver_now(packets.wrap(storage, m->buf_len, m->data_off, m->data_len, &release_on_heap, m));
    }
  }

  void xmit(Packet frame) override {
    if (cut_off_) {
      ++stats_.tx_dropped;
      return;
    }
    rte_mbuf* m = to_mbuf(std::move(frame));
    if (m == nullptr) {
      ++stats_.tx_dropped;
      return;
    }
    tx_bytes_batched_ += m->pkt_len;  // read now: once sent, the mbuf is the port's
    tx_[tx_count_++] = m;
    if (tx_count_ == kBurst) flush_tx();
  }

  // The mbuf a frame leaves in: its own when it wraps one nobody shares,
  // else a fresh one the bytes are written into. Null when none is free or
  // the frame fits no mbuf.
  rte_mbuf* to_mbuf(Packet frame) {
    const PacketBuffer* buf = PacketPool::buffer_of(frame);
    const bool wraps_mbuf = buf->release == &release_in_place || buf->release == &release_on_heap;
    if (wraps_mbuf && !frame.is_shared()) [[likely]] {
      auto offset = static_cast<std::uint16_t>(frame.headroom());
      auto size = static_cast<std::uint16_t>(frame.size());
      PacketBuffer* owned = PacketPool::detach(frame);
      auto* m = static_cast<rte_mbuf*>(owned->owner);
      if (owned->release == &release_in_place) PacketPool::forget_header(owned);
      else PacketPool::free_header(owned);
      m->data_off = offset;
      m->data_len = size;
      m->pkt_len = size;
      m->ol_flags = 0;  // no rx flags or offload requests travel with it
      return m;
    }
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) return nullptr;
    char* room = frame.size() <= rte_pktmbuf_tailroom(m)
                     ? rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()))
                     : nullptr;
    if (room == nullptr) {
      rte_pktmbuf_free(m);
      return nullptr;
    }
    auto into = std::span(reinterpret_cast<std::byte*>(room), frame.size());
    // An mbuf another Packet still reads cannot leave (the NIC would own
    // bytes the stack may still write after unsharing): copied, and counted.
    if (wraps_mbuf) net().host().packets().copy_bytes(into, frame.data());
    else std::memcpy(into.data(), frame.data().data(), frame.size());  // out of the stack: I/O
    return m;
  }

  void flush_tx() override {
    if (tx_count_ == 0) return;
    std::uint16_t sent = started_ ? rte_eth_tx_burst(port_, 0, tx_, tx_count_) : 0;
    // Refused mbufs are still ours: the tx queue is full, dropped as by a full qdisc.
    for (std::uint16_t i = sent; i < tx_count_; ++i) {
      tx_bytes_batched_ -= tx_[i]->pkt_len;
      rte_pktmbuf_free(tx_[i]);
    }
    stats_.tx_dropped += tx_count_ - sent;
    stats_.tx_packets += sent;
    stats_.tx_bytes += tx_bytes_batched_;
    tx_count_ = 0;
    tx_bytes_batched_ = 0;
  }

  // Drops what waits to be sent and stops the port.
  void stop() {
    for (std::uint16_t i = 0; i < tx_count_; ++i) rte_pktmbuf_free(tx_[i]);
    stats_.tx_dropped += tx_count_;
    tx_count_ = 0;
    tx_bytes_batched_ = 0;
    if (started_) (void)rte_eth_dev_stop(port_);
    started_ = false;
  }

  std::uint16_t port_;
  std::uint32_t max_mtu_;
  rte_mempool* pool_;
  bool started_ = false;
  bool cut_off_ = false;
  Clock::time_point next_link_check_{};
  std::uint16_t tx_count_ = 0;
  std::uint64_t tx_bytes_batched_ = 0;
  rte_mbuf* tx_[kBurst];
};

}  // namespace

Result<Device*> make_dpdk_port(Net& net, std::string_view name, std::uint16_t port_id) {
  // Before DPDK is touched: a name register_device would refuse, no EAL, or
  // a port another device drives.
  if (auto ok = net.check_new_device(name); !ok) return ok.error();
  if (auto free = dpdk::detail::check_port_free(port_id); !free) return free.error();
  if (!rte_eth_dev_is_valid_port(port_id)) return error(Errc::no_such_device);
  auto setup = configure_port(net.host(), port_id);
  if (!setup) return setup.error();
  auto device = std::make_unique<DpdkPort>(net, name, port_id, *setup);
  if (auto claimed = dpdk::detail::claim_port(*device); !claimed) return claimed.error();
  // Cannot fail: the name was free and valid above, and no device came since.
  return net.register_device(std::move(device));
}

namespace dpdk {

namespace {
const DpdkPort* as_port(const Device& dev) {
  return dev.kind() == DeviceKind::dpdk ? static_cast<const DpdkPort*>(&dev) : nullptr;
}
}  // namespace

Result<PortStats> port_stats(const Device& dev) {
  const DpdkPort* port = as_port(dev);
  if (port == nullptr) return error(Errc::invalid_argument);
  if (port->is_cut_off()) return error(Errc::operation_not_permitted);
  return port->port_stats();
}

Result<std::uint16_t> port_id(const Device& dev) {
  const DpdkPort* port = as_port(dev);
  if (port == nullptr) return error(Errc::invalid_argument);
  return port->port();
}

}  // namespace dpdk

}  // namespace netns
