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
#include "devices/dpdk_queues.hpp"
#include "netns/dpdk.hpp"
#include "netns/host.hpp"
#include "netns/rss.hpp"

namespace netns {

namespace {

static_assert(sizeof(PacketBuffer) <= dpdk::kMbufPrivSize);
static_assert(dpdk::kMbufPrivSize % RTE_MBUF_PRIV_ALIGN == 0);

constexpr std::uint16_t kBurst = 32;          // rx and tx burst, as DPDK's examples
// How often an up port's link is read (DPDK's examples wait 100 ms between checks).
constexpr Clock::duration kLinkCheckInterval = std::chrono::milliseconds(100);
static_assert(dpdk::kMaxMtu == RTE_MBUF_DEFAULT_DATAROOM - 18);  // a frame fits one mbuf

using dpdk::detail::handed_on;
using dpdk::detail::taken_over;

void free_mbuf(rte_mbuf* m) {
  handed_on(m);
  rte_pktmbuf_free(m);
}

// The release functions mark a Packet as wrapping an mbuf: with its header
// in the mbuf's private area, or (a pool without room for it) on the heap.
void release_in_place(PacketBuffer* buf) {
  auto* m = static_cast<rte_mbuf*>(buf->owner);
  PacketPool::forget_header(buf);  // before the mbuf, which holds the header, goes back
  free_mbuf(m);
}

void release_on_heap(PacketBuffer* buf) {
  auto* m = static_cast<rte_mbuf*>(buf->owner);
  PacketPool::free_header(buf);
  free_mbuf(m);
}

using dpdk::detail::PortQueues;

class DpdkPort final : public Device, public dpdk::detail::EalClient {
 public:
  DpdkPort(Net& net, std::string_view name, std::shared_ptr<PortQueues> shared, std::uint16_t queue)
      : Device(net, name, DeviceKind::dpdk, shared->setup().mac, shared->setup().mtu),
        shared_(std::move(shared)),
        port_(shared_->port()),
        queue_(queue),
        pool_(shared_->pool(queue)) {
    refresh_link();
  }

  ~DpdkPort() override {
    stop();
    if (!cut_off_) shared_->drop_steered(queue_);
    dpdk::detail::release_port(*this);
  }

  bool polled() const override { return true; }
  bool netns_refund() const override { return true; }  // the port is hardware (or a vdev) outside the namespace
  int rx_fd() const override { return -1; }  // busy-polled: no descriptor to wait on
  std::uint32_t max_mtu() const override { return shared_->setup().max_mtu; }
  std::uint16_t port() const override { return port_; }
  std::uint16_t queue() const override { return queue_; }
  std::optional<RssQueue> rss_queue() const override {
    if (shared_->queues() == 1) return std::nullopt;
    return RssQueue{queue_, shared_->queues()};
  }

  void cut_off() override {
    // Down first: drops the backlog, whose frames wrap mbufs.
    (void)set_link_up(*this, false);
    stop();
    shared_->cut_off();
    cut_off_ = true;
    refresh_link();
  }

  dpdk::PortStats port_stats() const {
    rte_eth_stats s{};
    if (cut_off_ || rte_eth_stats_get(port_, &s) != 0) return {};
    return {s.ipackets, s.opackets, s.ibytes, s.obytes, s.imissed, s.ierrors, s.oerrors, s.rx_nombuf};
  }
  bool is_cut_off() const { return cut_off_; }
  dpdk::QueueInfo queue_info() const { return {queue_, shared_->queues(), shared_->rss()}; }

 private:
  // The port's link as it reports it, read without waiting. A port raises
  // no event this process hears, so it is read on every change made here
  // and, while up, every kLinkCheckInterval from poll_rx, as a driver's
  // watchdog does; devices stacked on the port follow through set_carrier.
  void refresh_link() { set_carrier(!cut_off_ && shared_->link_up()); }

  // The port runs while any of its queue devices is up (PortQueues).
  void on_updown() override {
    if (!is_up()) {
      stop();
      refresh_link();
      return;
    }
    if (!cut_off_ && !started_) {
      auto ok = shared_->device_up();
      started_ = ok.has_value();
      if (!started_) net().host().log("netns: dpdk port " + std::to_string(port_) + " did not start: " +
                                      ok.error().message());
    }
    refresh_link();
  }

  Result<void> on_mtu_change(std::uint32_t mtu) override {
    if (cut_off_) return error(Errc::operation_not_permitted);
    return shared_->set_mtu(queue_, mtu);
  }

  void on_unregister() override { stop(); }

  std::size_t poll_rx(std::size_t budget) override {
    if (!started_) return 0;
    if (const Clock::time_point now = net().host().now(); now >= next_link_check_) {
      next_link_check_ = now + kLinkCheckInterval;
      refresh_link();
    }
    std::size_t done = shared_->queues() > 1 ? take_steered(budget) : 0;
    rte_mbuf* burst[kBurst];
    // A frame delivered at once may take the port down or destroy it: the
    // next burst is read only while it is still ours and started.
    while (done < budget && live()) {
      auto want = static_cast<std::uint16_t>(std::min<std::size_t>(kBurst, budget - done));
      std::uint16_t n = rte_eth_rx_burst(port_, queue_, burst, want);
      for (std::uint16_t i = 0; i < n; ++i) taken_over(burst[i]);  // nothing outside ThreadSanitizer's build
      // The frames are cold (a NIC wrote them): fetch a few ahead of the
      // one being processed, as DPDK's l3fwd does.
      for (std::uint16_t i = 0; i < std::min<std::uint16_t>(n, kPrefetchAhead); ++i) prefetch(burst[i]);
      for (std::uint16_t i = 0; i < n; ++i) {
        if (i + kPrefetchAhead < n) prefetch(burst[i + kPrefetchAhead]);
        if (shared_->queues() > 1) steer_or_take(burst[i]);
        else take(burst[i]);
      }
      done += n;
      if (n < want) break;
    }
    return done;
  }

  bool live() const { return started_ && is_up() && !is_unregistering(); }

  // A port with several queues: a frame no RSS hashes (ARP, neighbour
  // discovery) is taken here and copied to every other queue, since each
  // queue's namespace keeps its own neighbours. With software RSS, any
  // other frame of another queue goes to that queue (dropped, as a full
  // backlog drops, when its ring is full); else it stays where it came.
  void steer_or_take(rte_mbuf* m) {
    const auto frame = std::span(rte_pktmbuf_mtod(m, const std::byte*), m->data_len);
    if (rss::is_neighbour_discovery(frame)) [[unlikely]] {
      copy_to_other_queues(m);
      take(m);
      return;
    }
    if (shared_->rss() != dpdk::Rss::software) {
      take(m);
      return;
    }
    const std::uint16_t to = rss::queue_of(rss::frame_hash(frame), shared_->queues());
    if (to == queue_) take(m);
    else pass_on(to, m);
  }

  void pass_on(std::uint16_t to, rte_mbuf* m) {
    if (shared_->steer(queue_, to, m)) return;
    ++stats_.rx_dropped;
    free_mbuf(m);
  }

  void copy_to_other_queues(const rte_mbuf* m) {
    for (std::uint16_t to = 0; to < shared_->queues(); ++to) {
      if (to == queue_) continue;
      rte_mbuf* copy = rte_pktmbuf_copy(m, pool_, 0, UINT32_MAX);
      if (copy == nullptr) {
        ++stats_.rx_dropped;
        continue;
      }
      taken_over(copy);
      pass_on(to, copy);
    }
  }

  // Frames other queues read for this one, before this queue's own.
  std::size_t take_steered(std::size_t budget) {
    std::size_t done = 0;
    while (done < budget && live()) {
      rte_mbuf* m = shared_->take_steered(queue_, steer_cursor_);
      if (m == nullptr) break;
      take(m);
      ++done;
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
      free_mbuf(m);
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
    taken_over(m);
    char* room = frame.size() <= rte_pktmbuf_tailroom(m)
                     ? rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()))
                     : nullptr;
    if (room == nullptr) {
      free_mbuf(m);
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
    for (std::uint16_t i = 0; i < tx_count_; ++i) handed_on(tx_[i]);
    std::uint16_t sent = started_ ? rte_eth_tx_burst(port_, queue_, tx_, tx_count_) : 0;
    // Refused mbufs are still ours: the tx queue is full, dropped as by a full qdisc.
    for (std::uint16_t i = sent; i < tx_count_; ++i) {
      tx_bytes_batched_ -= tx_[i]->pkt_len;
      free_mbuf(tx_[i]);
    }
    stats_.tx_dropped += tx_count_ - sent;
    stats_.tx_packets += sent;
    stats_.tx_bytes += tx_bytes_batched_;
    tx_count_ = 0;
    tx_bytes_batched_ = 0;
  }

  // Drops what waits to be sent and stops the port.
  void stop() {
    for (std::uint16_t i = 0; i < tx_count_; ++i) free_mbuf(tx_[i]);
    stats_.tx_dropped += tx_count_;
    tx_count_ = 0;
    tx_bytes_batched_ = 0;
    if (started_) shared_->device_down();
    started_ = false;
  }

  const std::shared_ptr<PortQueues> shared_;
  const std::uint16_t port_;
  const std::uint16_t queue_;
  rte_mempool* const pool_;  // this queue's: frames written here come from the core's own pool
  bool started_ = false;     // counted among the port's devices up
  std::uint16_t steer_cursor_ = 0;
  bool cut_off_ = false;
  Clock::time_point next_link_check_{};
  std::uint16_t tx_count_ = 0;
  std::uint64_t tx_bytes_batched_ = 0;
  rte_mbuf* tx_[kBurst];
};

}  // namespace

Result<Device*> make_dpdk_queue(Net& net, std::string_view name, std::uint16_t port_id,
                                const dpdk::QueueSpec& spec) {
  // Before DPDK is touched: a name register_device would refuse or a bad spec.
  if (auto ok = net.check_new_device(name); !ok) return ok.error();
  if (spec.queues == 0 || spec.queues > dpdk::kMaxQueues || spec.queue >= spec.queues) {
    return error(Errc::invalid_argument);
  }
  auto shared = dpdk::detail::share_port(port_id, spec, [&]() -> Result<std::shared_ptr<PortQueues>> {
    if (!rte_eth_dev_is_valid_port(port_id)) return error(Errc::no_such_device);
    return PortQueues::configure(net.host(), port_id, spec);
  });
  if (!shared) return shared.error();
  auto device = std::make_unique<DpdkPort>(net, name, std::move(*shared), spec.queue);
  if (auto claimed = dpdk::detail::claim_port(*device); !claimed) return claimed.error();
  // Cannot fail: the name was free and valid above, and no device came since.
  return net.register_device(std::move(device));
}

Result<Device*> make_dpdk_port(Net& net, std::string_view name, std::uint16_t port_id) {
  return make_dpdk_queue(net, name, port_id, {});
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

Result<QueueInfo> queue_info(const Device& dev) {
  const DpdkPort* port = as_port(dev);
  if (port == nullptr) return error(Errc::invalid_argument);
  return port->queue_info();
}

}  // namespace dpdk

}  // namespace netns
