// netns/detail/rx_hook.hpp — a device's place in its Host's receive scheduler.
//
// Every Device carries one (by value, so reaching it costs no pointer): the
// backlog of frames it received, its links on the scheduler's intrusive
// list of devices with frames waiting, and its receive counters, all in one
// line. The fields belong to the scheduler (netns/rx_scheduler.hpp); the
// device itself reads the backlog's size and the counters, and counts the
// frames it delivers without the backlog (Device::deliver_now).
#pragma once

#include <cstddef>
#include <cstdint>

#include "netns/bounded_queue.hpp"
#include "netns/packet.hpp"

namespace netns {

class Device;
class RxScheduler;

namespace detail {

class RxHook {
 public:
  std::size_t backlog_size() const { return backlog_.size(); }
  std::uint64_t rx_packets() const { return rx_packets_; }
  std::uint64_t rx_bytes() const { return rx_bytes_; }
  // For Device::deliver_now, whose frames skip the backlog.
  void count_rx(std::size_t bytes) {
    ++rx_packets_;
    rx_bytes_ += bytes;
  }

 private:
  friend class netns::RxScheduler;

  // net.core.netdev_max_backlog of the device's namespace, read when a
  // frame comes while others wait (the limit is at least 1: an empty
  // backlog takes one whatever it is).
  BoundedQueue<Packet> backlog_{1};
  Device* prev_ = nullptr;        // the ready list, while ready_
  Device* next_ = nullptr;
  // DeviceStats' rx_packets and rx_bytes, kept here, in the line every
  // received frame writes anyway, rather than in the counters' line
  // (Device::stats() puts them together).
  std::uint64_t rx_packets_ = 0;
  std::uint64_t rx_bytes_ = 0;
  bool ready_ = false;
};
static_assert(sizeof(RxHook) <= 64, "RxHook: one cache line (Device's line 1)");

}  // namespace detail
}  // namespace netns
