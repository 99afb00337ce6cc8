// core/spsc_ring.hpp — a bounded ring between exactly two threads, one
// that pushes and one that pops: how frames cross between Hosts on two
// cores (a veth whose ends are in two Hosts).
//
//   SpscRing<Packet> ring(1024);        // a power of two at least this large
//   if (!ring.push(std::move(frame))) ++dropped;   // the producer's thread: full
//   while (auto frame = ring.pop()) ...            // the consumer's thread
//
// Lamport's queue with each side's index on a cache line of its own and a
// cached copy of the other side's (as DPDK's rte_ring in single-producer,
// single-consumer mode and Seastar's smp queues): a push or pop touches
// the other side's line only when its cached index says the ring looks
// full or empty. No locks; one release store per push and per pop.
//
// Whatever is still queued when the ring is destroyed is destroyed with it,
// on the destroying thread.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <optional>

namespace netns {

template <class T>
class SpscRing {
 public:
  // Precondition: capacity >= 1.
  explicit SpscRing(std::size_t capacity)
      : mask_(std::bit_ceil(capacity) - 1), slots_(std::make_unique<T[]>(mask_ + 1)) {}
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const { return mask_ + 1; }

  // The producer's thread only. False, `item` untouched, when full.
  [[nodiscard]] bool push(T&& item) {
    const std::size_t tail = producer_.tail.load(std::memory_order_relaxed);
    if (tail - producer_.head_seen == capacity()) {
      producer_.head_seen = consumer_.head.load(std::memory_order_acquire);
      if (tail - producer_.head_seen == capacity()) return false;
    }
    slots_[tail & mask_] = std::move(item);
    producer_.tail.store(tail + 1, std::memory_order_release);
    return true;
  }

  // The consumer's thread only. Empty when nothing is queued.
  std::optional<T> pop() {
    const std::size_t head = consumer_.head.load(std::memory_order_relaxed);
    if (head == consumer_.tail_seen) {
      consumer_.tail_seen = producer_.tail.load(std::memory_order_acquire);
      if (head == consumer_.tail_seen) return std::nullopt;
    }
    std::optional<T> out(std::move(slots_[head & mask_]));
    slots_[head & mask_] = T{};  // a moved-from T may still hold something
    consumer_.head.store(head + 1, std::memory_order_release);
    return out;
  }

  // Either thread: what is queued at about this instant.
  std::size_t size_approx() const {
    return producer_.tail.load(std::memory_order_acquire) - consumer_.head.load(std::memory_order_acquire);
  }

 private:
  struct alignas(64) Producer {
    std::atomic<std::size_t> tail{0};
    std::size_t head_seen = 0;  // the consumer's head when last read
  };
  struct alignas(64) Consumer {
    std::atomic<std::size_t> head{0};
    std::size_t tail_seen = 0;  // the producer's tail when last read
  };

  Producer producer_;
  Consumer consumer_;
  const std::size_t mask_;
  std::unique_ptr<T[]> slots_;
};

}  // namespace netns
