// netem for in-process links: the faults set_link_faults applies on transmit.
#pragma once

#include <cstdint>
#include <vector>

#include "netns/device.hpp"
#include "netns/timer.hpp"

namespace netns {

class LinkFaultState {
 public:
  static constexpr std::size_t kLimit = 1000;  // netem's default queue limit

  LinkFaultState(Device& dev, const LinkFaults& faults);

  // Decides the frame's fate: lost, duplicated, corrupted, held for its
  // delay, or sent at once.
  void transmit(Packet frame);
  // Frames held for their delay are dropped (counted): the device went down or away.
  void drop_held();
  std::size_t held() const { return held_.size(); }

 private:
  struct Held {
    Clock::time_point at;
    std::uint64_t order;  // FIFO among equal release times
    Packet frame;
  };

  double uniform();
  void corrupt(Packet& frame);
  void send(Packet frame, bool may_reorder);
  void release();
  void arm();

  Device& dev_;
  LinkFaults faults_;
  std::uint64_t rng_;
  std::uint64_t order_ = 0;
  std::vector<Held> held_;  // a min-heap on (at, order)
  Timer timer_;
};

}  // namespace netns
