// netns/clock.hpp — time is explicit.
//
// Nothing in netns reads the wall clock by itself: Host::poll(now) is told the
// time (and, through HostConfig::utc_offset, how that maps to UTC). Tests
// drive a VirtualClock and are deterministic:
//
//   netns::VirtualClock clock;
//   host.poll(clock.now());
//   clock.advance(std::chrono::seconds(1));
//   host.poll(clock.now());
#pragma once

#include <chrono>

namespace netns {

using Clock = std::chrono::steady_clock;

// UTC minus Clock, read from the system now: HostConfig::utc_offset for a
// Host polled with Clock::now(). The application calls it; the library never does.
inline std::chrono::nanoseconds system_utc_offset() {
  const auto utc = std::chrono::system_clock::now().time_since_epoch();
  const auto steady = Clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::nanoseconds>(utc) -
         std::chrono::duration_cast<std::chrono::nanoseconds>(steady);
}

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
