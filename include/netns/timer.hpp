// netns/timer.hpp — one-shot timers run by Host::poll.
//
// A Timer belongs to the object whose state it touches (a neighbour entry, a
// TCP connection) and is cancelled by its destructor, so a timer can never
// fire into freed memory, whatever order a namespace is torn down in.
//
//   Timer retransmit(host, [this] { on_rto(); });
//   retransmit.schedule(host.now() + rto);   // re-arming moves the deadline
//   retransmit.cancel();
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "netns/clock.hpp"

namespace netns {

class Host;
class TimerQueue;

class Timer {
 public:
  Timer(Host& host, std::function<void()> fn);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  void schedule(Clock::time_point deadline);
  void cancel();
  bool pending() const { return index_ != kNotQueued; }
  Clock::time_point deadline() const { return deadline_; }

 private:
  friend class TimerQueue;
  static constexpr std::size_t kNotQueued = ~std::size_t{0};

  TimerQueue* queue_;
  std::function<void()> fn_;
  Clock::time_point deadline_{};
  std::size_t index_ = kNotQueued;  // position in the queue's heap
  std::uint64_t order_ = 0;         // FIFO among equal deadlines: deterministic runs
};

// An indexed binary heap of pending timers: O(log n) schedule and cancel.
class TimerQueue {
 public:
  void schedule(Timer& t, Clock::time_point deadline);
  void cancel(Timer& t);
  // Runs every timer due at `now`, including ones that become due while running; bounded by `budget`.
  std::size_t run_due(Clock::time_point now, std::size_t budget);
  Clock::time_point next_deadline() const;
  std::size_t size() const { return heap_.size(); }

 private:
  bool before(const Timer* a, const Timer* b) const {
    return a->deadline_ < b->deadline_ || (a->deadline_ == b->deadline_ && a->order_ < b->order_);
  }
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void place(std::size_t i, Timer* t) {
    heap_[i] = t;
    t->index_ = i;
  }

  friend class Timer;

  std::vector<Timer*> heap_;
  std::uint64_t next_order_ = 0;
  Timer* running_ = nullptr;  // whose callback runs now; cleared if it is destroyed meanwhile
};

}  // namespace netns
