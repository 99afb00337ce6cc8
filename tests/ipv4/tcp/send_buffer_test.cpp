#include "ipv4/tcp/send_buffer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <vector>

#include <gtest/gtest.h>

namespace netns::tcp {
namespace {
namespace ipv4_tcp_send_buffer_test {

// Byte i of the application's stream: tells any two nearby offsets apart.
std::byte stream_byte(std::size_t i) { return std::byte(static_cast<std::uint8_t>(i * 7 + i / 251)); }

std::vector<std::byte> stream(std::size_t from, std::size_t n) {
  std::vector<std::byte> bytes(n);
  for (std::size_t i = 0; i < n; ++i) bytes[i] = stream_byte(from + i);
  return bytes;
}

std::vector<std::byte> read(const SendBuffer& buf, std::size_t offset, std::size_t n) {
  std::vector<std::byte> out(n);
  buf.copy_out(offset, out);
  return out;
}

TEST(SendBuffer, StartsEmptyWithoutStorage) {
  SendBuffer buf(64 * 1024);
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_TRUE(buf.empty());
  EXPECT_EQ(buf.capacity(), 64u * 1024);
  EXPECT_EQ(buf.free_space(), 64u * 1024);
  EXPECT_EQ(buf.memory(), 0u);
  buf.copy_out(0, {});  // nothing to copy, nothing allocated
  EXPECT_EQ(buf.memory(), 0u);
}

TEST(SendBuffer, WriteTakesWhatFits) {
  SendBuffer buf(10);
  const auto data = stream(0, 15);
  EXPECT_EQ(buf.write(data), 10u);
  EXPECT_EQ(buf.size(), 10u);
  EXPECT_EQ(buf.free_space(), 0u);
  EXPECT_EQ(buf.write(data), 0u);
  EXPECT_EQ(read(buf, 0, 10), stream(0, 10));
  EXPECT_EQ(buf.memory(), 10u);  // storage never beyond capacity, even below kMinStorage
}

TEST(SendBuffer, EmptyWriteAllocatesNothing) {
  SendBuffer buf(4096);
  EXPECT_EQ(buf.write({}), 0u);
  EXPECT_EQ(buf.memory(), 0u);
  SendBuffer none(0);
  const auto data = stream(0, 3);
  EXPECT_EQ(none.write(data), 0u);
  EXPECT_EQ(none.memory(), 0u);
}

TEST(SendBuffer, GrowsByDoublingUpToCapacity) {
  SendBuffer buf(100'000);
  const auto one = stream(0, 1);
  EXPECT_EQ(buf.write(one), 1u);
  EXPECT_EQ(buf.memory(), SendBuffer::kMinStorage);

  std::vector<std::size_t> sizes{buf.memory()};
  std::size_t written = 1;
  while (buf.free_space() != 0) {
    written += buf.write(stream(written, 1000));
    if (buf.memory() != sizes.back()) sizes.push_back(buf.memory());
    ASSERT_LE(buf.memory(), buf.capacity());
  }
  EXPECT_EQ(written, 100'000u);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{2048, 4096, 8192, 16384, 32768, 65536, 100'000}));
  EXPECT_EQ(read(buf, 0, written), stream(0, written));
}

TEST(SendBuffer, LargeWriteGrowsToFitAtOnce) {
  SendBuffer buf(1 << 20);
  EXPECT_EQ(buf.write(stream(0, 10'000)), 10'000u);
  EXPECT_EQ(buf.memory(), 10'000u);
  EXPECT_EQ(buf.write(stream(10'000, 1)), 1u);
  EXPECT_EQ(buf.memory(), 20'000u);
  EXPECT_EQ(read(buf, 0, 10'001), stream(0, 10'001));
}

TEST(SendBuffer, ConsumeThenWriteReusesStorage) {
  SendBuffer buf(4096);
  EXPECT_EQ(buf.write(stream(0, 4096)), 4096u);
  EXPECT_EQ(buf.memory(), 4096u);
  buf.consume(4096);
  EXPECT_EQ(buf.size(), 0u);
  EXPECT_EQ(buf.free_space(), 4096u);
  EXPECT_EQ(buf.write(stream(4096, 4096)), 4096u);
  EXPECT_EQ(buf.memory(), 4096u);
  EXPECT_EQ(read(buf, 0, 4096), stream(4096, 4096));
}

TEST(SendBuffer, CopyOutAcrossTheWrap) {
  SendBuffer buf(2048);
  EXPECT_EQ(buf.write(stream(0, 2000)), 2000u);
  buf.consume(1500);  // the ring's head at 1500, its tail at 2000
  EXPECT_EQ(buf.write(stream(2000, 1000)), 1000u);  // 48 bytes to the end, 952 wrapped to the front
  EXPECT_EQ(buf.memory(), 2048u);
  ASSERT_EQ(buf.size(), 1500u);
  // Every slice: before, across and after the wrap point (offset 548).
  EXPECT_EQ(read(buf, 0, 1500), stream(1500, 1500));
  EXPECT_EQ(read(buf, 500, 100), stream(2000, 100));
  EXPECT_EQ(read(buf, 547, 2), stream(2047, 2));
  EXPECT_EQ(read(buf, 548, 1), stream(2048, 1));
  EXPECT_EQ(read(buf, 0, 548), stream(1500, 548));
  EXPECT_EQ(read(buf, 1499, 1), stream(2999, 1));
  EXPECT_EQ(read(buf, 1000, 0), stream(0, 0));
}

TEST(SendBuffer, GrowingWhileWrappedKeepsOrder) {
  SendBuffer buf(1 << 16);
  EXPECT_EQ(buf.write(stream(0, 2048)), 2048u);
  buf.consume(1000);
  EXPECT_EQ(buf.write(stream(2048, 1000)), 1000u);  // full and wrapped
  EXPECT_EQ(buf.memory(), 2048u);
  EXPECT_EQ(buf.write(stream(3048, 1)), 1u);
  EXPECT_EQ(buf.memory(), 4096u);
  EXPECT_EQ(read(buf, 0, 2049), stream(1000, 2049));
}

TEST(SendBuffer, SetCapacityClampsToSize) {
  SendBuffer buf(8192);
  EXPECT_EQ(buf.write(stream(0, 1000)), 1000u);
  EXPECT_EQ(buf.write(stream(1000, 2000)), 2000u);
  EXPECT_EQ(buf.memory(), 4096u);
  buf.set_capacity(100);
  EXPECT_EQ(buf.capacity(), 3000u);
  EXPECT_EQ(buf.free_space(), 0u);
  EXPECT_EQ(buf.memory(), 3000u);  // storage given back down to the bound
  EXPECT_EQ(buf.write(stream(3000, 1)), 0u);
  EXPECT_EQ(read(buf, 0, 3000), stream(0, 3000));

  buf.consume(1000);
  EXPECT_EQ(buf.free_space(), 1000u);
  EXPECT_EQ(buf.write(stream(3000, 2000)), 1000u);
  EXPECT_EQ(read(buf, 0, 3000), stream(1000, 3000));
  EXPECT_EQ(buf.memory(), 3000u);
}

TEST(SendBuffer, SetCapacityShrinksWrappedStorage) {
  SendBuffer buf(4096);
  EXPECT_EQ(buf.write(stream(0, 4096)), 4096u);
  buf.consume(4000);
  EXPECT_EQ(buf.write(stream(4096, 100)), 100u);  // 96 bytes at the end, 4 wrapped
  buf.set_capacity(1000);
  EXPECT_EQ(buf.capacity(), 1000u);
  EXPECT_EQ(buf.memory(), 1000u);
  EXPECT_EQ(read(buf, 0, 196), stream(4000, 196));
  EXPECT_EQ(buf.write(stream(4196, 5000)), 804u);
  EXPECT_EQ(read(buf, 0, 1000), stream(4000, 1000));
}

TEST(SendBuffer, SetCapacityRaisesTheBound) {
  SendBuffer buf(1000);
  EXPECT_EQ(buf.write(stream(0, 1000)), 1000u);
  buf.set_capacity(5000);
  EXPECT_EQ(buf.capacity(), 5000u);
  EXPECT_EQ(buf.memory(), 1000u);  // grows on the next write, not now
  EXPECT_EQ(buf.write(stream(1000, 4000)), 4000u);
  EXPECT_EQ(buf.memory(), 5000u);
  EXPECT_EQ(read(buf, 0, 5000), stream(0, 5000));
}

// Random writes, acknowledgements, reads and resizes against a deque.
TEST(SendBuffer, MatchesAModelUnderRandomUse) {
  std::mt19937 rng(7);
  SendBuffer buf(10'000);
  std::deque<std::byte> model;
  std::size_t written = 0;
  for (int step = 0; step < 20'000; ++step) {
    switch (rng() % 8) {
      case 0: case 1: case 2: {
        const std::size_t n = rng() % 3000;
        const std::size_t taken = buf.write(stream(written, n));
        ASSERT_EQ(taken, std::min(n, buf.capacity() - model.size()));
        for (std::size_t i = 0; i < taken; ++i) model.push_back(stream_byte(written + i));
        written += taken;
        break;
      }
      case 3: case 4: {
        const std::size_t n = model.empty() ? 0 : rng() % (model.size() + 1);
        buf.consume(n);
        model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(n));
        break;
      }
      case 5: case 6: {
        if (model.empty()) break;
        const std::size_t offset = rng() % model.size();
        const std::size_t n = rng() % (model.size() - offset + 1);
        const std::vector<std::byte> expected(model.begin() + static_cast<std::ptrdiff_t>(offset),
                                              model.begin() + static_cast<std::ptrdiff_t>(offset + n));
        ASSERT_EQ(read(buf, offset, n), expected) << "step " << step;
        break;
      }
      default:
        buf.set_capacity(1000 + rng() % 20'000);
        ASSERT_GE(buf.capacity(), model.size());
        break;
    }
    ASSERT_EQ(buf.size(), model.size());
    ASSERT_EQ(buf.free_space(), buf.capacity() - model.size());
    ASSERT_LE(buf.memory(), buf.capacity());
  }
}

}  // namespace ipv4_tcp_send_buffer_test
}  // namespace
}  // namespace netns::tcp
