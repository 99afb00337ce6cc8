// core/hot_heap.cpp — see netns/detail/hot_heap.hpp.
#include "netns/detail/hot_heap.hpp"

#include <array>
#include <mutex>

#include "core/hot_heap.hpp"
#include "core/huge_pages.hpp"

namespace netns::detail {

#if defined(__SANITIZE_ADDRESS__)

void* hot_allocate(std::size_t bytes) { return ::operator new(bytes, std::align_val_t{kHotAlign}); }
void hot_deallocate(void* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{kHotAlign}); }
std::size_t hot_heap_reserved() { return 0; }
std::size_t hot_heap_in_use() { return 0; }

#else

namespace {

// Size classes: 64-byte steps up to 4 KiB, then 4 KiB steps up to 256 KiB.
constexpr std::size_t kSmallStep = kHotAlign;
constexpr std::size_t kSmallMax = 4096;
constexpr std::size_t kLargeStep = 4096;
constexpr std::size_t kLargeMax = std::size_t{256} << 10;
constexpr std::size_t kSmallClasses = kSmallMax / kSmallStep;
constexpr std::size_t kClasses = kSmallClasses + kLargeMax / kLargeStep - 1;

constexpr std::size_t class_of(std::size_t bytes) {
  if (bytes <= kSmallMax) return bytes == 0 ? 0 : (bytes - 1) / kSmallStep;
  return kSmallClasses + (bytes - 1) / kLargeStep - 1;
}

constexpr std::size_t class_bytes(std::size_t c) {
  return c < kSmallClasses ? (c + 1) * kSmallStep : (c - kSmallClasses + 2) * kLargeStep;
}

static_assert(class_bytes(class_of(1)) == 64 && class_bytes(class_of(4096)) == 4096);
static_assert(class_bytes(class_of(4097)) == 8192 && class_bytes(class_of(kLargeMax)) == kLargeMax);
static_assert(class_of(kLargeMax) == kClasses - 1);

class HotHeap {
 public:
  void* allocate(std::size_t bytes) {
    const std::size_t c = class_of(bytes);
    std::lock_guard lock(mutex_);
    in_use_ += class_bytes(c);
    if (FreeBlock* block = free_[c]) {
      free_[c] = block->next;
      return block;
    }
    return carve(class_bytes(c));
  }

  void deallocate(void* p, std::size_t bytes) {
    const std::size_t c = class_of(bytes);
    std::lock_guard lock(mutex_);
    in_use_ -= class_bytes(c);
    auto* block = static_cast<FreeBlock*>(p);
    block->next = free_[c];
    free_[c] = block;
  }

  std::size_t reserved() {
    std::lock_guard lock(mutex_);
    return reserved_;
  }
  std::size_t in_use() {
    std::lock_guard lock(mutex_);
    return in_use_;
  }

 private:
  struct FreeBlock {
    FreeBlock* next;
  };

  // A new block from the current chunk; a chunk too short for it is left
  // with its tail unused (under 256 KiB of 2 MiB, and only for large blocks).
  void* carve(std::size_t size) {
    if (size > static_cast<std::size_t>(end_ - next_)) {
      next_ = static_cast<std::byte*>(map_huge(kHugePageBytes));
      end_ = next_ + kHugePageBytes;
      reserved_ += kHugePageBytes;
    }
    void* p = next_;
    next_ += size;
    return p;
  }

  std::mutex mutex_;
  std::array<FreeBlock*, kClasses> free_{};
  std::byte* next_ = nullptr;
  std::byte* end_ = nullptr;
  std::size_t reserved_ = 0;
  std::size_t in_use_ = 0;
};

// Never destroyed: objects may be freed during static destruction.
HotHeap& heap() {
  static HotHeap* const instance = new HotHeap;
  return *instance;
}

}  // namespace

void* hot_allocate(std::size_t bytes) {
  if (bytes > kLargeMax) return ::operator new(bytes, std::align_val_t{kHotAlign});
  return heap().allocate(bytes);
}

void hot_deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes > kLargeMax) {
    ::operator delete(p, std::align_val_t{kHotAlign});
    return;
  }
  heap().deallocate(p, bytes);
}

std::size_t hot_heap_reserved() { return heap().reserved(); }
std::size_t hot_heap_in_use() { return heap().in_use(); }

#endif

}  // namespace netns::detail
