// Packet and PacketPool: ownership, reuse, headroom, sharing and the counted copy.
#include "netns/packet.hpp"

#include <type_traits>

#include <gtest/gtest.h>

#include "netns/host.hpp"
#include "netns/packet_pool.hpp"
#include "support/fixtures.hpp"

namespace netns {
namespace {
namespace core_packet_test {

using support::HostTest;

static_assert(!std::is_copy_constructible_v<Packet> && !std::is_copy_assignable_v<Packet>);
static_assert(std::is_nothrow_move_constructible_v<Packet> &&
              std::is_nothrow_move_assignable_v<Packet>);

class PacketTest : public HostTest {
 protected:
  PacketPool& pool() { return host_.packets(); }
  std::uint64_t copies() const { return host_.stats().packet_copies; }
  void fill(Packet& p, std::uint8_t first) {
    auto bytes = p.mutable_data();
    for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = std::byte(first + i);
  }
};

TEST_F(PacketTest, AllocateGivesTheSizeAfterDefaultHeadroom) {
  Packet p = pool().allocate(64);
  ASSERT_TRUE(p);
  EXPECT_EQ(p.size(), 64u);
  EXPECT_EQ(p.headroom(), PacketPool::kDefaultHeadroom);
  EXPECT_EQ(p.headroom() + p.size() + p.tailroom(), PacketPool::kStandardCapacity);
  EXPECT_FALSE(p.is_shared());
  EXPECT_EQ(host_.stats().packets_in_use, 1u);
}

TEST_F(PacketTest, MovingTransfersTheBufferAndEmptiesTheSource) {
  Packet a = pool().allocate(10);
  const std::byte* bytes = a.data().data();
  Packet b(std::move(a));
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(b.data().data(), bytes);
  Packet c = pool().allocate(20);
  c = std::move(b);  // c's old buffer goes back
  EXPECT_EQ(c.data().data(), bytes);
  EXPECT_EQ(host_.stats().packets_in_use, 1u);
  EXPECT_EQ(copies(), 0u);
}

TEST_F(PacketTest, PoolReusesStandardBuffers) {
  const std::byte* first = nullptr;
  {
    Packet p = pool().allocate(100);
    first = p.data().data() - p.headroom();
  }
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
  EXPECT_EQ(pool().cached(), 1u);
  Packet again = pool().allocate(1400, 64);
  EXPECT_EQ(again.data().data() - again.headroom(), first);
  EXPECT_EQ(pool().cached(), 0u);
}

TEST_F(PacketTest, TheCacheIsBounded) {
  HostConfig config = support::test_config();
  config.packet_cache = 2;
  Host host(config);
  {
    std::vector<Packet> many;
    for (int i = 0; i < 5; ++i) many.push_back(host.packets().allocate(60));
    EXPECT_EQ(host.stats().packets_in_use, 5u);
  }
  EXPECT_EQ(host.packets().cached(), 2u);
  EXPECT_EQ(host.stats().packets_in_use, 0u);
}

TEST_F(PacketTest, LargePacketsComeFromTheHeapUpToTheLimit) {
  Packet big = pool().allocate(PacketPool::kMaxPacket - PacketPool::kDefaultHeadroom);
  ASSERT_TRUE(big);
  EXPECT_EQ(big.size(), PacketPool::kMaxPacket - PacketPool::kDefaultHeadroom);
  big = Packet();
  EXPECT_EQ(pool().cached(), 0u);  // not a standard buffer: back to the heap
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(PacketTest, AllocatingBeyondTheLimitGivesAnEmptyPacket) {
  Packet p = pool().allocate(PacketPool::kMaxPacket);  // plus headroom: too big
  EXPECT_FALSE(p);
  EXPECT_EQ(p.size(), 0u);
  Packet q = pool().allocate(PacketPool::kMaxPacket + 1, 0);
  EXPECT_FALSE(q);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
  // An empty packet refuses to grow rather than crash.
  EXPECT_TRUE(p.push_front(14).empty());
  EXPECT_TRUE(p.push_back(14).empty());
  EXPECT_FALSE(p.share());
  EXPECT_FALSE(p.copy());
}

TEST_F(PacketTest, PushAndPullMoveTheFrontWithinTheHeadroom) {
  Packet p = pool().allocate(20);
  fill(p, 1);
  const std::byte* payload = p.data().data();
  auto header = p.push_front(14);
  ASSERT_EQ(header.size(), 14u);
  EXPECT_EQ(header.data() + 14, payload);  // in place
  EXPECT_EQ(p.size(), 34u);
  EXPECT_EQ(p.headroom(), PacketPool::kDefaultHeadroom - 14);
  p.pull_front(14);
  EXPECT_EQ(p.data().data(), payload);
  EXPECT_EQ(p.data()[0], std::byte{1});
  EXPECT_EQ(copies(), 0u);
}

TEST_F(PacketTest, PushFrontPastTheHeadroomCopiesOnceAndKeepsTheBytes) {
  Packet p = pool().allocate(20, 4);
  fill(p, 10);
  auto header = p.push_front(8);
  ASSERT_EQ(header.size(), 8u);
  EXPECT_EQ(copies(), 1u);
  EXPECT_EQ(p.size(), 28u);
  EXPECT_EQ(p.data()[8], std::byte{10});
  EXPECT_EQ(p.data()[27], std::byte{29});
  EXPECT_GE(p.headroom(), 4u);  // room for the next header without another copy
  EXPECT_EQ(host_.stats().packets_in_use, 1u);
}

TEST_F(PacketTest, PushFrontBeyondTheLimitChangesNothing) {
  Packet p = pool().allocate(PacketPool::kMaxPacket - 16, 0);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p.push_front(32).empty());
  EXPECT_EQ(p.size(), PacketPool::kMaxPacket - 16);
  EXPECT_EQ(copies(), 0u);
}

TEST_F(PacketTest, PushBackUsesTailroomThenCopies) {
  Packet p = pool().allocate(10);
  fill(p, 0);
  auto tail = p.push_back(6);
  EXPECT_EQ(tail.size(), 6u);
  EXPECT_EQ(p.size(), 16u);
  EXPECT_EQ(copies(), 0u);
  auto more = p.push_back(p.tailroom() + 1);  // one byte past the buffer
  EXPECT_FALSE(more.empty());
  EXPECT_EQ(copies(), 1u);
  EXPECT_EQ(p.data()[9], std::byte{9});
}

TEST_F(PacketTest, ShareCopiesNothingUntilOneSideWrites) {
  Packet a = pool().allocate(60);
  fill(a, 0);
  Packet b = a.share();
  EXPECT_TRUE(a.is_shared());
  EXPECT_TRUE(b.is_shared());
  EXPECT_EQ(a.data().data(), b.data().data());
  EXPECT_EQ(copies(), 0u);
  EXPECT_EQ(host_.stats().packets_in_use, 1u);

  auto writable = b.mutable_data();  // unshares: exactly one copy
  EXPECT_EQ(copies(), 1u);
  EXPECT_NE(writable.data(), a.data().data());
  writable[0] = std::byte{0xff};
  EXPECT_EQ(a.data()[0], std::byte{0});  // a unaffected
  EXPECT_FALSE(a.is_shared());
  EXPECT_FALSE(b.is_shared());
  (void)a.mutable_data();
  (void)b.mutable_data();
  EXPECT_EQ(copies(), 1u);  // private now: no more copies
  EXPECT_EQ(host_.stats().packets_in_use, 2u);
}

TEST_F(PacketTest, SharedPacketsKeepTheirOwnOffsetsAndMetadata) {
  Packet a = pool().allocate(30);
  a.protocol = 0x0800;
  a.type = PacketType::broadcast;
  Packet b = a.share();
  EXPECT_EQ(b.protocol, 0x0800);
  EXPECT_EQ(b.type, PacketType::broadcast);
  b.pull_front(14);
  EXPECT_EQ(a.size(), 30u);
  EXPECT_EQ(b.size(), 16u);
  // Pushing a header onto shared bytes would write into the other's view: a copy.
  (void)b.push_front(14);
  EXPECT_EQ(copies(), 1u);
  EXPECT_FALSE(a.is_shared());
}

TEST_F(PacketTest, CopyIsPrivateAndCounted) {
  Packet a = pool().allocate(40, 32);
  fill(a, 5);
  Packet b = a.copy();
  EXPECT_EQ(copies(), 1u);
  EXPECT_FALSE(a.is_shared());
  EXPECT_EQ(b.headroom(), 32u);
  ASSERT_EQ(b.size(), 40u);
  EXPECT_TRUE(std::equal(a.data().begin(), a.data().end(), b.data().begin()));
}

TEST_F(PacketTest, AllocateFromIsIoAndNotCounted) {
  std::vector<std::byte> bytes(100, std::byte{7});
  Packet p = pool().allocate_from(bytes);
  ASSERT_EQ(p.size(), 100u);
  EXPECT_EQ(p.data()[99], std::byte{7});
  EXPECT_EQ(copies(), 0u);
}

TEST_F(PacketTest, TrimCutsOnlyDownward) {
  Packet p = pool().allocate(60);
  p.trim(100);
  EXPECT_EQ(p.size(), 60u);
  p.trim(42);
  EXPECT_EQ(p.size(), 42u);
}

TEST_F(PacketTest, WrappedForeignStorageIsReleasedByItsOwner) {
  struct Foreign {
    std::vector<std::byte> storage = std::vector<std::byte>(256);
    bool released = false;
  } foreign;
  auto release = [](PacketBuffer* buf) {
    static_cast<Foreign*>(buf->owner)->released = true;
    PacketPool::free_header(buf);
  };
  {
    Packet p = pool().wrap(foreign.storage.data(), 256, 16, 100, release, &foreign);
    EXPECT_EQ(p.data().data(), foreign.storage.data() + 16);
    Packet q = p.share();
    p = Packet();
    EXPECT_FALSE(foreign.released);
    EXPECT_EQ(host_.stats().packets_in_use, 1u);
  }
  EXPECT_TRUE(foreign.released);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

// A DPDK mbuf carries its PacketBuffer in its private area: wrapping allocates nothing.
TEST_F(PacketTest, WrappedInPlaceTheHeaderLivesInTheForeignStorage) {
  struct Foreign {
    alignas(PacketBuffer) std::byte header[sizeof(PacketBuffer)];
    std::vector<std::byte> storage = std::vector<std::byte>(256);
    int released = 0;
  } foreign;
  auto release = [](PacketBuffer* buf) {
    auto* owner = static_cast<Foreign*>(buf->owner);
    PacketPool::forget_header(buf);
    ++owner->released;
  };
  auto* header = reinterpret_cast<PacketBuffer*>(foreign.header);
  {
    Packet p = pool().wrap_in_place(header, foreign.storage.data(), 256, 32, 60, release, &foreign);
    EXPECT_EQ(PacketPool::buffer_of(p), header);
    EXPECT_EQ(p.data().data(), foreign.storage.data() + 32);
    EXPECT_EQ(p.size(), 60u);
    EXPECT_EQ(host_.stats().packets_in_use, 1u);
    Packet q = p.share();
  }
  EXPECT_EQ(foreign.released, 1);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

TEST_F(PacketTest, DetachHandsOverAnUnsharedBufferWithoutReleasingIt) {
  int released = 0;
  struct Owner {
    int* released;
  } owner{&released};
  auto release = [](PacketBuffer* buf) {
    ++*static_cast<Owner*>(buf->owner)->released;
    PacketPool::free_header(buf);
  };
  std::vector<std::byte> storage(128);
  Packet p = pool().wrap(storage.data(), 128, 0, 64, release, &owner);
  Packet shared = p.share();
  EXPECT_EQ(PacketPool::detach(p), nullptr);  // shared: refused, nothing changed
  EXPECT_TRUE(p);
  shared = Packet();
  PacketBuffer* buf = PacketPool::detach(p);
  ASSERT_NE(buf, nullptr);
  EXPECT_FALSE(p);
  EXPECT_EQ(buf->owner, &owner);
  EXPECT_EQ(released, 0);
  EXPECT_EQ(host_.stats().packets_in_use, 1u);  // until the new owner ends the header
  PacketPool::free_header(buf);
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
  Packet empty;
  EXPECT_EQ(PacketPool::detach(empty), nullptr);
}

TEST_F(PacketTest, PacketsInUseReturnsToZero) {
  {
    std::vector<Packet> packets;
    for (int i = 0; i < 100; ++i) packets.push_back(pool().allocate(static_cast<std::size_t>(i * 30)));
    packets.push_back(packets[0].share());
    packets.push_back(packets[1].copy());
    EXPECT_EQ(host_.stats().packets_in_use, 101u);
  }
  EXPECT_EQ(host_.stats().packets_in_use, 0u);
}

}  // namespace core_packet_test
}  // namespace
}  // namespace netns
