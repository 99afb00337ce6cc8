// Timers: an indexed binary heap so cancellation is exact and O(log n).
#include "netns/timer.hpp"

#include "netns/host.hpp"

namespace netns {

Timer::Timer(Host& host, std::function<void()> fn) : queue_(&host.timers()), fn_(std::move(fn)) {}

Timer::~Timer() {
  cancel();
  if (queue_->running_ == this) queue_->running_ = nullptr;
}

void Timer::schedule(Clock::time_point deadline) { queue_->schedule(*this, deadline); }

void Timer::cancel() {
  if (pending()) queue_->cancel(*this);
}

void TimerQueue::schedule(Timer& t, Clock::time_point deadline) {
  t.deadline_ = deadline;
  t.order_ = next_order_++;  // after every timer already due at the same instant
  if (t.pending()) {
    // Moved where it stands: one sift instead of a removal and an insertion.
    sift_up(t.index_);
    sift_down(t.index_);
    return;
  }
  heap_.push_back(&t);
  t.index_ = heap_.size() - 1;
  sift_up(t.index_);
}

void TimerQueue::cancel(Timer& t) {
  std::size_t i = t.index_;
  Timer* last = heap_.back();
  heap_.pop_back();
  t.index_ = Timer::kNotQueued;
  if (last == &t) return;
  place(i, last);
  sift_up(i);
  sift_down(last->index_);
}

void TimerQueue::sift_up(std::size_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (!before(t, heap_[parent])) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void TimerQueue::sift_down(std::size_t i) {
  Timer* t = heap_[i];
  std::size_t n = heap_.size();
  while (true) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
    if (!before(heap_[child], t)) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

std::size_t TimerQueue::run_due(Clock::time_point now, std::size_t budget) {
  std::size_t ran = 0;
  while (ran < budget && !heap_.empty() && heap_.front()->deadline_ <= now) {
    Timer* t = heap_.front();
    cancel(*t);
    ++ran;
    // The callback may re-arm t or destroy it. Destroying t would destroy the
    // std::function running it (and the captures it is still using), so run
    // it from here and give it back only if t survived.
    std::function<void()> fn = std::move(t->fn_);
    running_ = t;
    fn();
    if (running_ == t) t->fn_ = std::move(fn);
    running_ = nullptr;
  }
  return ran;
}

Clock::time_point TimerQueue::next_deadline() const {
  return heap_.empty() ? Clock::time_point::max() : heap_.front()->deadline_;
}

}  // namespace netns
