// netns/clock.hpp — time is explicit.
//
// Nothing in netns reads the wall clock by itself: Host::poll(now) is told the
// time. Tests drive a VirtualClock and are deterministic:
//
//   netns::VirtualClock clock;
//   host.poll(clock.now());
//   clock.advance(std::chrono::seconds(1));
//   host.poll(clock.now());
#pragma once

#include <chrono>

namespace netns {

using Clock = std::chrono::steady_clock;

class VirtualClock {
 public:
  explicit VirtualClock(Clock::time_point start = Clock::time_point{}) : now_(start) {}
  Clock::time_point now() const { return now_; }
  void advance(Clock::duration d) { now_ += d; }
  void set(Clock::time_point t) { now_ = t; }

 private:
  Clock::time_point now_;
};

}  // namespace netns
