// netns/detail/slab.hpp — a typed object pool with a live count (the seed's slab).
//
// Objects come from chunks of kPerChunk slots, so creating one is a free-list
// pop with no malloc on the common path, the cost does not depend on how many
// are alive, and leaks show as a live count that does not return to zero.
// The chunks come from the hot heap (hot_heap.hpp): the namespaces' Nets, and
// the route cache's entries, are on the packet path.
#pragma once

#include <cstddef>
#include <new>
#include <utility>
#include <vector>

#include "netns/detail/hot_heap.hpp"

namespace netns::detail {

template <class T, std::size_t kPerChunk = 64>
class Slab {
 public:
  Slab() = default;
  Slab(const Slab&) = delete;
  Slab& operator=(const Slab&) = delete;
  ~Slab() {
    for (void* chunk : chunks_) hot_deallocate(chunk, sizeof(Slot) * kPerChunk);
  }

  template <class... Args>
  T* create(Args&&... args) {
    Slot* slot = pop();
    try {
      T* object = new (slot->storage) T(std::forward<Args>(args)...);
      ++live_;
      return object;
    } catch (...) {
      push(slot);
      throw;
    }
  }

  void destroy(T* object) {
    object->~T();
    push(reinterpret_cast<Slot*>(object));
    --live_;
  }

  std::size_t live() const { return live_; }
  std::size_t capacity() const { return chunks_.size() * kPerChunk; }

 private:
  union Slot {
    Slot* next;
    alignas(T) std::byte storage[sizeof(T)];
  };

  Slot* pop() {
    if (free_ == nullptr) grow();
    Slot* slot = free_;
    free_ = slot->next;
    return slot;
  }
  void push(Slot* slot) {
    slot->next = free_;
    free_ = slot;
  }
  void grow() {
    static_assert(alignof(Slot) <= kHotAlign);
    auto* chunk = static_cast<Slot*>(hot_allocate(sizeof(Slot) * kPerChunk));
    chunks_.push_back(chunk);
    for (std::size_t i = kPerChunk; i-- > 0;) push(&chunk[i]);
  }

  std::vector<void*> chunks_;
  Slot* free_ = nullptr;
  std::size_t live_ = 0;
};

}  // namespace netns::detail
