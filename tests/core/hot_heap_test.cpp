#include "netns/detail/hot_heap.hpp"

#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "core/hot_heap.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"

namespace netns::detail {
namespace {
namespace core_hot_heap_test {

bool line_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kHotAlign == 0; }

// Every size a class serves, the edges of the classes and a block too large
// for any (operator new's): each is line-aligned and holds what is written.
TEST(HotHeap, BlocksAreLineAlignedAndWhole) {
  for (std::size_t bytes : {std::size_t{1}, std::size_t{64}, std::size_t{65}, std::size_t{4096}, std::size_t{4097},
                            std::size_t{100'000}, std::size_t{256} << 10, (std::size_t{256} << 10) + 1}) {
    void* p = hot_allocate(bytes);
    EXPECT_TRUE(line_aligned(p)) << bytes;
    std::memset(p, 0xab, bytes);
    hot_deallocate(p, bytes);
  }
}

#if !defined(__SANITIZE_ADDRESS__)  // under ASan every block is operator new's
// A freed block goes back to its size class and is the next one handed out
// for any size of that class; the chunks stay (memory follows the peak).
TEST(HotHeap, FreedBlocksAreReusedBySizeClass) {
  void* a = hot_allocate(100);  // the 128-byte class
  hot_deallocate(a, 100);
  void* b = hot_allocate(128);
  EXPECT_EQ(a, b);
  hot_deallocate(b, 128);
  const std::size_t reserved = hot_heap_reserved();
  std::vector<void*> blocks;
  for (int i = 0; i < 1000; ++i) blocks.push_back(hot_allocate(512));
  for (void* p : blocks) hot_deallocate(p, 512);
  const std::size_t grown = hot_heap_reserved();
  EXPECT_GE(grown, reserved);
  for (int i = 0; i < 1000; ++i) blocks[i] = hot_allocate(512);  // the same blocks again
  EXPECT_EQ(hot_heap_reserved(), grown);
  for (void* p : blocks) hot_deallocate(p, 512);
}

// A namespace's devices and its Net come from the hot heap, line-aligned.
TEST(HotHeap, NamespacesAndDevicesLiveThere) {
  Host host;
  NetRef net = host.create_net().value();
  Device* eth0 = make_channel(*net, "eth0").value();
  EXPECT_TRUE(line_aligned(eth0));
  EXPECT_TRUE(line_aligned(net.get()));
  EXPECT_GT(hot_heap_reserved(), 0u);
}
#endif

}  // namespace core_hot_heap_test
}  // namespace
}  // namespace netns::detail
