// core/huge_pages.cpp — see huge_pages.hpp.
#include "core/huge_pages.hpp"

#include <sys/mman.h>

#include <cstdint>

namespace netns::detail {

namespace {
std::size_t round_up(std::size_t bytes) { return (bytes + kHugePageBytes - 1) & ~(kHugePageBytes - 1); }
}  // namespace

void* map_huge(std::size_t bytes) {
  const std::size_t size = round_up(bytes);
  // One huge page more than needed, then the unaligned ends are given back.
  void* raw = ::mmap(nullptr, size + kHugePageBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugePageBytes - 1) & ~std::uintptr_t{kHugePageBytes - 1};
  const std::size_t head = aligned - start;  // < one huge page, so the tail is never empty
  if (head > 0) ::munmap(raw, head);
  ::munmap(reinterpret_cast<void*>(aligned + size), kHugePageBytes - head);
  void* p = reinterpret_cast<void*>(aligned);
  ::madvise(p, size, MADV_HUGEPAGE);  // advice: without THP the pages are simply small
  return p;
}

void unmap_huge(void* p, std::size_t bytes) { ::munmap(p, round_up(bytes)); }

}  // namespace netns::detail
