// core/huge_pages.hpp — an allocator that asks for transparent huge pages.
//
// A lookup table of several MiB read at random addresses (an Internet-sized
// FIB) spends much of each lookup walking page tables with 4 KiB pages: the
// TLB covers a few MiB. DPDK keeps its tables in 2 MiB hugepages for this
// reason; a library cannot reserve hugetlbfs pages for its users, but it can
// ask the kernel for transparent huge pages on a large anonymous mapping
// (madvise(MADV_HUGEPAGE), honoured when /sys/kernel/mm/transparent_hugepage/
// enabled is "madvise" or "always", ignored otherwise).
//
//   std::vector<Line, HugePageAllocator<Line>> lines;   // >= 2 MiB: huge pages
//
// Allocations below kHugePageBytes come from operator new as usual, so small
// tables cost nothing more. A large one is rounded up to whole 2 MiB pages and
// aligned on one (a huge page maps only an aligned 2 MiB range).
#pragma once

#include <cstddef>
#include <new>

namespace netns {

inline constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

namespace detail {
void* map_huge(std::size_t bytes);  // throws std::bad_alloc
void unmap_huge(void* p, std::size_t bytes);
}  // namespace detail

template <class T>
struct HugePageAllocator {
  using value_type = T;

  HugePageAllocator() = default;
  template <class U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) return static_cast<T*>(detail::map_huge(bytes));
    return static_cast<T*>(::operator new(bytes, std::align_val_t{alignof(T)}));
  }
  void deallocate(T* p, std::size_t n) noexcept {
    const std::size_t bytes = n * sizeof(T);
    if (bytes >= kHugePageBytes) {
      detail::unmap_huge(p, bytes);
    } else {
      ::operator delete(p, std::align_val_t{alignof(T)});
    }
  }
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

}  // namespace netns
