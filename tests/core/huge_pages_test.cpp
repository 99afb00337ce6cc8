#include "core/huge_pages.hpp"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

namespace netns {
namespace {
namespace core_huge_pages_test {

// Below 2 MiB the allocator is operator new; from 2 MiB a mapping aligned on
// a huge page (the kernel may or may not back it with one: THP is advice).
TEST(HugePageAllocator, LargeBlocksAreAlignedOnAHugePage) {
  std::vector<std::uint64_t, HugePageAllocator<std::uint64_t>> small(1000, 7);
  EXPECT_EQ(small[999], 7u);

  std::vector<std::uint64_t, HugePageAllocator<std::uint64_t>> large;
  large.resize(kHugePageBytes / sizeof(std::uint64_t) + 1, 9);  // just past one huge page
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(large.data()) % kHugePageBytes, 0u);
  EXPECT_EQ(large.front(), 9u);
  EXPECT_EQ(large.back(), 9u);
  large.back() = 1;  // the second huge page is mapped and writable

  large.resize(3 * kHugePageBytes / sizeof(std::uint64_t), 5);  // grows: a new mapping, the old unmapped
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(large.data()) % kHugePageBytes, 0u);
  EXPECT_EQ(large[kHugePageBytes / sizeof(std::uint64_t)], 1u);
  EXPECT_EQ(large.back(), 5u);
}

}  // namespace core_huge_pages_test
}  // namespace
}  // namespace netns
