// devices/dpdk_queues.hpp — what the devices on the queues of one DPDK port
// share (dpdk_queues.cpp): the port's configuration, its start and stop,
// its link and MTU, and for software RSS the rings that carry frames from
// the queue that read them to the queue they hash to.
//
// Each queue device may be polled by another Host's thread. Those threads
// touch only their own queue (rx and tx bursts are per queue in DPDK), their
// own mempool and the steering rings they produce or consume; everything
// that acts on the whole port takes the mutex.
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "core/spsc_ring.hpp"
#include "netns/dpdk.hpp"
#include "netns/address.hpp"

namespace netns {
class Host;
}

namespace netns::dpdk::detail {

// What configuring a port found out, for the devices made on it.
struct PortSetup {
  MacAddress mac;
  std::uint32_t mtu = 1500;
  std::uint32_t max_mtu = kMaxMtu;
};

class PortQueues {
 public:
  // Configures `port` (stopped, with no device on it) for spec.queues rx and
  // tx queue pairs, each with a mempool of its own, and RSS as spec.rss asks
  // (resolved: never Rss::automatic afterwards). `host` draws the address
  // of a port without one. Precondition: spec is valid (make_dpdk_queue
  // checked it before touching DPDK). Errors: not_supported when the port
  // has too few queues or no RSS of its own for Rss::hardware, DPDK's errno
  // otherwise.
  static Result<std::shared_ptr<PortQueues>> configure(Host& host, std::uint16_t port, const QueueSpec& spec);

  PortQueues(const PortQueues&) = delete;
  PortQueues& operator=(const PortQueues&) = delete;
  // Frees the frames still steered between queues (unless cut off).
  ~PortQueues();

  std::uint16_t port() const { return port_; }
  std::uint16_t queues() const { return queues_; }
  Rss rss() const { return rss_; }
  // What the device on a port configured with `spec` must have asked for.
  bool matches(const QueueSpec& spec) const { return spec.queues == queues_ && spec.rss == requested_; }
  const PortSetup& setup() const { return setup_; }
  rte_mempool* pool(std::uint16_t queue) const { return pools_[queue]; }

  // True while the port runs: its queues may be polled.
  bool started() const { return started_.load(std::memory_order_acquire); }
  // A queue device came up (went down): the port starts with the first and
  // stops with the last. The error is DPDK's when the port did not start.
  Result<void> device_up();
  void device_down();
  // The port's link as it reports it now.
  bool link_up();
  // The port's MTU: the largest its queue devices ask for, so that none of
  // them misses frames it accepts. A port without an MTU of its own
  // (net_ring) leaves it to the stack.
  Result<void> set_mtu(std::uint16_t queue, std::uint32_t mtu);

  // Frames one queue passes to another: software RSS's, and copies of
  // what no RSS hashes (ARP, neighbour discovery) for every queue. steer:
  // the thread of queue `from` hands `frame` to queue `to`; false (the
  // frame still the caller's) when that ring is full.
  // take_steered: the thread of queue `to` takes the next frame another
  // queue steered to it, null when none waits; `cursor`, kept by the
  // caller, names the queue it reads first, so every queue gets its turn.
  [[nodiscard]] bool steer(std::uint16_t from, std::uint16_t to, rte_mbuf* frame);
  rte_mbuf* take_steered(std::uint16_t to, std::uint16_t& cursor);
  // Frees every frame waiting for queue `to` (its device is going).
  void drop_steered(std::uint16_t to);

  // The EAL is being cleaned up (no Host runs): stop, free what is steered,
  // and never call DPDK again.
  void cut_off();

 private:
  PortQueues(std::uint16_t port, const QueueSpec& spec, Rss resolved);
  SpscRing<rte_mbuf*>& ring(std::uint16_t from, std::uint16_t to) { return *rings_[from * queues_ + to]; }

  const std::uint16_t port_;
  const std::uint16_t queues_;
  const Rss requested_;
  const Rss rss_;
  PortSetup setup_;
  std::vector<rte_mempool*> pools_;  // one per queue: a core allocates from its own
  // rings_[from * queues + to], with more than one queue; the diagonal is unused.
  std::vector<std::unique_ptr<SpscRing<rte_mbuf*>>> rings_;

  std::mutex mutex_;  // the port as a whole: start, stop, link, MTU
  unsigned devices_up_ = 0;
  std::vector<std::uint32_t> mtus_;
  std::atomic<bool> started_{false};
  bool cut_off_ = false;
};

}  // namespace netns::dpdk::detail
