// netns/detail/hot_heap.hpp — where the packet path's per-namespace objects live.
//
// With thousands of namespaces busy, each frame reaches a namespace whose
// state is cold, and with malloc's 4 KiB pages its devices, its IPv4 state
// and its tables sit on as many pages as objects: the TLB covers a few MiB,
// so every one of those pages costs a page walk before its miss even
// starts. The objects a frame goes through (Net, Device, Ipv4Net, a small
// FIB table, a neighbour entry) come from here instead:
// blocks in 64-byte lines (so a type aligned to a line is), carved from
// 2 MiB chunks that ask for transparent huge pages, so thousands of
// namespaces' hot state is covered by a few dozen TLB entries.
//
//   struct Ipv4Net : detail::HotAllocated { ... };    // new/delete go through the hot heap
//   void* p = detail::hot_allocate(bytes);            // 64-aligned
//   detail::hot_deallocate(p, bytes);
//
// Blocks up to 256 KiB come in size classes (64-byte steps up to 4 KiB,
// 4 KiB steps beyond), each with its free list: a freed block is reused for
// the same class, and chunks are kept for the process's life (memory
// follows the peak of live namespaces, as Linux's slab caches do until
// shrunk). Larger blocks go to operator new. One lock guards it all: only
// creating and destroying objects takes it, never a frame. Under
// AddressSanitizer every block comes from operator new, so the sanitizer
// sees each one.
#pragma once

#include <cstddef>
#include <new>

namespace netns::detail {

inline constexpr std::size_t kHotAlign = 64;

void* hot_allocate(std::size_t bytes);              // throws std::bad_alloc
void hot_deallocate(void* p, std::size_t bytes) noexcept;

// A base that sends a class's new and delete to the hot heap. Deleting
// through a base pointer needs a virtual destructor, so the size is right.
struct HotAllocated {
  static void* operator new(std::size_t bytes) { return hot_allocate(bytes); }
  static void* operator new(std::size_t bytes, std::align_val_t align) {
    if (static_cast<std::size_t>(align) > kHotAlign) throw std::bad_alloc();
    return hot_allocate(bytes);
  }
  static void operator delete(void* p, std::size_t bytes) noexcept { hot_deallocate(p, bytes); }
  static void operator delete(void* p, std::size_t bytes, std::align_val_t) noexcept { hot_deallocate(p, bytes); }
};

}  // namespace netns::detail
