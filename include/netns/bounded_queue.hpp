// netns/bounded_queue.hpp — the one FIFO every queue in netns is made of.
//
// A ring that grows on demand up to a hard capacity, so an idle queue costs
// nothing and a flooded one stops growing: push() returns false when full and
// the caller counts the drop (docs/ARCHITECTURE.md, section 6).
//
//   BoundedQueue<Packet> q(1000);
//   if (!q.push(std::move(pkt))) ++stats.rx_dropped;
//   while (auto p = q.pop()) process(std::move(*p));
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <utility>

namespace netns {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity = 0) : capacity_(clamp(capacity)) {}
  BoundedQueue(const BoundedQueue&) = delete;
  BoundedQueue& operator=(const BoundedQueue&) = delete;
  ~BoundedQueue() { free_ring(); }
  // The moved-from queue is empty (and keeps its capacity): the defaulted
  // moves would leave its size behind with no ring under it.
  BoundedQueue(BoundedQueue&& other) noexcept
      : ring_(std::exchange(other.ring_, nullptr)),
        capacity_(other.capacity_),
        slots_(std::exchange(other.slots_, 0)),
        head_(std::exchange(other.head_, 0)),
        size_(std::exchange(other.size_, 0)) {}
  BoundedQueue& operator=(BoundedQueue&& other) noexcept {
    if (this != &other) {
      free_ring();
      ring_ = std::exchange(other.ring_, nullptr);
      capacity_ = other.capacity_;
      slots_ = std::exchange(other.slots_, 0);
      head_ = std::exchange(other.head_, 0);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ >= capacity_; }
  std::size_t capacity() const { return capacity_; }
  // Shrinking below size() keeps what is queued; pushes fail until it drains.
  void set_capacity(std::size_t capacity) { capacity_ = clamp(capacity); }

  [[nodiscard]] bool push(T&& value) {
    return push_in_place([&](T& slot) { slot = std::move(value); });
  }

  // push() without a T built aside: `fill(T&)` writes the next slot, which
  // it finds as a default T. An item holding endpoints, assembled on the
  // stack and then moved, stalls store forwarding for longer than the
  // rest of a push takes.
  template <class Fill>
  [[nodiscard]] bool push_in_place(Fill&& fill) {
    if (full()) return false;
    if (size_ == slots_) grow();
    fill(ring_[(head_ + size_) & (slots_ - 1)]);
    ++size_;
    return true;
  }

  std::optional<T> pop() {
    if (size_ == 0) return std::nullopt;
    std::optional<T> out(std::move(ring_[head_]));
    drop_front();
    return out;
  }

  T& front() { return ring_[head_]; }
  // The item `i` places behind the front (0: the front), or null when fewer wait.
  const T* peek(std::size_t i) const { return i < size_ ? &ring_[(head_ + i) & (slots_ - 1)] : nullptr; }
  // pop() for an item read in place through front(): nothing is moved out.
  void drop_front() {
    if (size_ == 0) return;
    // Remade in place: assigning a T{} builds it on the stack and copies it.
    std::destroy_at(&ring_[head_]);
    std::construct_at(&ring_[head_]);
    head_ = (head_ + 1) & (slots_ - 1);
    --size_;
  }

  // Drops everything queued and gives the memory back.
  void clear() {
    free_ring();
    head_ = size_ = 0;
  }

  template <class F>
  void for_each(F&& f) {
    for (std::size_t i = 0; i < size_; ++i) f(ring_[(head_ + i) & (slots_ - 1)]);
  }

 private:
  // The ring starts on a cache line: a slot never straddles two (new[]'s
  // count before the array put every other Packet across two, a second
  // miss for the frame that used it when many namespaces are busy).
  static constexpr std::size_t kLine = 64;
  static_assert(alignof(T) <= kLine);

  void grow() {
    const std::uint32_t slots = slots_ == 0 ? 4 : slots_ * 2;  // a power of two: index by mask
    T* ring = static_cast<T*>(::operator new(slots * sizeof(T), std::align_val_t{kLine}));
    try {
      std::uninitialized_value_construct_n(ring, slots);
    } catch (...) {
      ::operator delete(ring, std::align_val_t{kLine});
      throw;
    }
    for (std::size_t i = 0; i < size_; ++i) ring[i] = std::move(ring_[(head_ + i) & (slots_ - 1)]);
    free_ring();
    ring_ = ring;
    slots_ = slots;
    head_ = 0;
  }

  void free_ring() noexcept {
    if (ring_ == nullptr) return;
    std::destroy_n(ring_, slots_);
    ::operator delete(ring_, std::align_val_t{kLine});
    ring_ = nullptr;
    slots_ = 0;
  }

  // Counts in 32 bits: a queue is 24 bytes, so a Device's line of receive
  // state has room for its packet counters too. No queue holds 2^31 items.
  static std::uint32_t clamp(std::size_t capacity) {
    return static_cast<std::uint32_t>(std::min<std::size_t>(capacity, std::uint32_t{1} << 31));
  }

  T* ring_ = nullptr;
  std::uint32_t capacity_ = 0;
  std::uint32_t slots_ = 0;
  std::uint32_t head_ = 0;
  std::uint32_t size_ = 0;
};

}  // namespace netns
