// netns/rx_scheduler.hpp — a Host's receive path: backlogs, polled devices, the ethertype table.
//
// What Linux keeps in net/core/dev.c rather than net_namespace.c: the devices
// with frames in their backlog (served round robin, a NAPI weight each), the
// devices fed from outside the process (TAP, DPDK) that every poll asks for
// frames, and the table of PacketHandlers by ethertype (ptype_base) that
// deliver_frame hands each received frame to. One per Host (Host::rx()),
// driven by Host::poll and fed by Device::receive and Device::deliver_now.
//
//   host.rx().add_packet_handler(0x88b5, handler);      // dev_add_pack
//   for (Device* dev : host.rx().polled_devices()) watch(dev->rx_fd());
//
// Per frame it costs what the path always cost: the ready list is intrusive
// (detail::RxHook inside every Device), nothing allocates, nothing is looked up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "netns/device.hpp"
#include "netns/net.hpp"
#include "netns/packet.hpp"
#include "netns/result.hpp"

namespace netns {

// Receives every frame of one ethertype that reaches a namespace (dev_add_pack).
// The frame's Ethernet header has been pulled; frame.protocol and frame.type are set.
class PacketHandler {
 public:
  virtual ~PacketHandler() = default;
  virtual void process(Net& net, Device& dev, Packet frame) = 0;

  // Look-ahead, for handlers whose processing misses the cache on a large
  // table (conntrack's hash): prefetch() gets a frame process() will get a
  // few frames later, Ethernet header still on, and may warm what that
  // will touch, reading the bytes only. prefetches() is asked once per
  // NAPI turn, so a namespace that needs none pays nothing per frame, and
  // only while some namespace is counted in (RxScheduler::count_lookahead).
  virtual bool prefetches(Net& /*net*/) { return false; }
  virtual void prefetch(Net& /*net*/, Device& /*dev*/, std::span<const std::byte> /*frame*/) {}
};

class RxScheduler {
 public:
  // A NAPI weight: the frames one device hands over per turn, from its
  // backlog or from poll_rx, so a flood on one delays the others by a turn at most.
  static constexpr std::size_t kWeight = 64;
  // How far ahead in a backlog frames are handed to PacketHandler::prefetch:
  // enough that a miss to memory (~100 ns) is over by the frame's turn.
  static constexpr std::size_t kPrefetchDistance = 4;

  RxScheduler() = default;
  RxScheduler(const RxScheduler&) = delete;
  RxScheduler& operator=(const RxScheduler&) = delete;

  // ---- the ethertype table ----
  // One handler per ethertype for the whole Host: file_exists when another
  // has it. The handler must stay alive until removed.
  [[nodiscard]] Result<void> add_packet_handler(std::uint16_t ethertype, PacketHandler& handler);
  void remove_packet_handler(std::uint16_t ethertype);

  // ---- devices fed from outside the process ----
  // Every registered Device::polled() device of every namespace, which each
  // poll asks for frames; the version changes whenever one comes or goes, so
  // an event loop knows to rewatch rx_fd()s.
  std::span<Device* const> polled_devices() const { return polled_; }
  std::uint64_t polled_devices_version() const { return polled_version_; }
  // A registered device joins polled_devices() if it is polled(), and leaves
  // it when it unregisters (Net::register_device, Net::unregister_device).
  void attach(Device& dev);
  void detach(Device& dev);

  // ---- receiving (for Device) ----
  // netif_rx: a frame the device received from its wire waits on the
  // device's backlog, bounded by net.core.netdev_max_backlog of its
  // namespace, and the device joins the ready list. Dropped and counted
  // (rx_dropped) when the device is down or going away, or the backlog is full.
  void enqueue(Device& dev, Packet&& frame);
  // __netif_receive_skb: the frame goes to dev's namespace at once: a runt
  // is counted (rx_length_errors) and dropped, the observers see it, the
  // device's rx handler may take it, and otherwise the Ethernet header is
  // pulled and the packet handler of its ethertype gets it (rx_nohandler
  // when there is none). The caller counted it received.
  void deliver_frame(Device& dev, Packet&& frame);
  // Whatever waits in the device's backlog is dropped (rx_dropped), and the
  // device leaves the ready list.
  void drop_backlog(Device& dev);
  // Whether a device has frames waiting: poll has more to do at once.
  bool has_backlog() const { return ready_head_ != nullptr; }

  // ---- one round of Host::poll ----
  // Each polled device that is up takes up to kWeight frames from outside;
  // then the ready devices hand their backlogs over, kWeight a turn, round
  // robin; then the polled devices send what they batched. Each returns the
  // frames it handled, never more than `budget`.
  std::size_t poll_devices(std::size_t budget);
  std::size_t process_backlogs(std::size_t budget);
  void flush_devices();

  // How many namespaces some handler looks ahead for: a handler counts
  // each in (+1) when its prefetches() starts answering yes for it, and out
  // (-1) when it stops (netfilter::HookTable does, for conntrack's large
  // tables). While the count is zero, which is the rule, process_backlogs
  // asks no handler: with many busy namespaces the question is a miss a turn.
  void count_lookahead(int delta) { lookaheads_ += delta; }
  bool looks_ahead() const { return lookaheads_ > 0; }

 private:
  void add_ready(Device& dev);
  void remove_ready(Device& dev);
  // Whether a handler prefetches for frames of `net`.
  bool prefetches(Net& net) const;
  // Hands a waiting frame (null: none) to its ethertype's handler's prefetch.
  void prefetch(Device& dev, const Packet* frame) const;
  PacketHandler* handler_of(std::uint16_t ethertype) const;

  // Devices with frames in their backlog, in the order they got them.
  Device* ready_head_ = nullptr;
  Device* ready_tail_ = nullptr;
  std::vector<Device*> polled_;
  std::uint64_t polled_version_ = 0;
  std::vector<std::pair<std::uint16_t, PacketHandler*>> handlers_;
  std::ptrdiff_t lookaheads_ = 0;  // count_lookahead
};

// Inline: every frame a veth, the loopback, a bridge or a TAP receives comes
// through here.
inline void RxScheduler::enqueue(Device& dev, Packet&& frame) {
  DeviceStats& stats = dev.stats_;
  if (!dev.up_ || dev.unregistering_ || !frame) {
    ++stats.rx_dropped;
    return;
  }
  detail::RxHook& hook = dev.rx_hook_;
  // An empty backlog takes the frame whatever the limit (at least 1), so
  // the namespace's sysctl, a line of its own, is read only when frames wait.
  if (!hook.backlog_.empty()) {
    hook.backlog_.set_capacity(
        static_cast<std::size_t>(dev.net().sysctl().value(SysctlId::core_netdev_max_backlog)));
  }
  const std::size_t bytes = frame.size();
  if (!hook.backlog_.push(std::move(frame))) {
    ++stats.rx_dropped;
    return;
  }
  hook.count_rx(bytes);
  if (!hook.ready_) add_ready(dev);
}

}  // namespace netns
