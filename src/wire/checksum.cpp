#include "netns/wire/checksum.hpp"

#include <array>
#include <bit>
#include <cassert>
#include <cstring>

namespace netns::wire {
namespace {

std::uint16_t fold(std::uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

}  // namespace

void Checksum::add(std::span<const std::byte> bytes) {
  const std::byte* p = bytes.data();
  std::size_t n = bytes.size();
  if (odd_ && n > 0) {
    sum_ += std::to_integer<std::uint64_t>(*p);
    odd_ = false;
    ++p;
    --n;
  }
  // Eight bytes at a time: as big-endian, they are two 32-bit sums of 16-bit
  // words, and one's-complement addition folds 2^32 back to 1 like 2^16.
  while (n >= 8) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap64(v);
    sum_ += (v >> 32) + (v & 0xffffffffu);
    p += 8;
    n -= 8;
  }
  for (; n >= 2; p += 2, n -= 2) {
    sum_ += std::to_integer<std::uint64_t>(p[0]) << 8 | std::to_integer<std::uint64_t>(p[1]);
  }
  if (n == 1) {
    sum_ += std::to_integer<std::uint64_t>(p[0]) << 8;
    odd_ = true;
  }
}

void Checksum::add_odd_be16(std::uint16_t value) {
  // After an odd byte the word straddles two: feed it as bytes.
  const std::array<std::byte, 2> bytes{std::byte(value >> 8), std::byte(value & 0xff)};
  add(bytes);
}

std::uint16_t Checksum::sum() const { return fold(sum_); }

std::uint16_t internet_checksum(std::span<const std::byte> bytes) {
  Checksum c;
  c.add(bytes);
  return c.finish();
}

Checksum ipv4_pseudo_header(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                            std::uint16_t length) {
  Checksum c;
  c.add_be32(src.value);
  c.add_be32(dst.value);
  c.add_be16(protocol);
  c.add_be16(length);
  return c;
}

std::uint16_t ipv4_transport_checksum(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol,
                                      std::span<const std::byte> segment) {
  assert(segment.size() <= 0xffff);
  Checksum c = ipv4_pseudo_header(src, dst, protocol, static_cast<std::uint16_t>(segment.size()));
  c.add(segment);
  return c.finish();
}

std::uint16_t checksum_update(std::uint16_t checksum, std::uint16_t old_word,
                              std::uint16_t new_word) {
  const std::uint64_t sum = std::uint16_t(~checksum) + std::uint64_t{std::uint16_t(~old_word)} +
                            new_word;
  return static_cast<std::uint16_t>(~fold(sum));
}

}  // namespace netns::wire
