// SipHash-2-4 and SipHash-1-3, after the reference implementation's structure.
#include "core/siphash.hpp"

#include <bit>
#include <cstring>

namespace netns {

namespace {

using detail::SipState;

// The first n <= 8 bytes at p as a little-endian number.
std::uint64_t load_le64(const std::byte* p, std::size_t n) {
  std::uint64_t v = 0;
  if (n == 0) return v;  // p may be null then (an empty span), which memcpy must not see
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&v, p, n);  // one load for a whole word
  } else {
    for (std::size_t i = 0; i < n; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(p[i])} << (8 * i);
  }
  return v;
}

template <int kCompression, int kFinalisation>
std::uint64_t siphash(const SipKey& key, std::span<const std::byte> message) {
  SipState s(key);
  const std::byte* p = message.data();
  const std::size_t n = message.size();
  const std::size_t whole = n & ~std::size_t{7};
  for (std::size_t at = 0; at < whole; at += 8) s.absorb<kCompression>(load_le64(p + at, 8));
  // The last word: the remaining bytes, and the length's low byte on top.
  s.absorb<kCompression>(load_le64(p + whole, n - whole) | std::uint64_t{n & 0xff} << 56);
  s.v2 ^= 0xff;
  for (int i = 0; i < kFinalisation; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9;
  x = (x ^ (x >> 27)) * 0x94d049bb133111eb;
  return x ^ (x >> 31);
}

}  // namespace

SipKey SipKey::from_bytes(std::span<const std::byte, 16> bytes) {
  return {load_le64(bytes.data(), 8), load_le64(bytes.data() + 8, 8)};
}

SipKey SipKey::derive(std::uint64_t secret, std::uint64_t purpose) {
  // Two outputs of splitmix64 seeded by secret and purpose: a bijection per
  // word, so distinct secrets give distinct keys for one purpose.
  std::uint64_t k0 = splitmix64(secret ^ purpose);
  std::uint64_t k1 = splitmix64(k0 ^ std::rotl(purpose, 29));
  return {k0, k1};
}

std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> message) {
  return siphash<2, 4>(key, message);
}

std::uint64_t siphash13(const SipKey& key, std::span<const std::byte> message) {
  return siphash<1, 3>(key, message);
}

std::uint64_t siphash13_words(const SipKey& key, std::uint64_t word0, std::uint64_t word1) {
  SipState s(key);
  s.absorb<1>(word0);
  s.absorb<1>(word1);
  s.absorb<1>(std::uint64_t{16} << 56);  // no bytes left, the length on top
  s.v2 ^= 0xff;
  for (int i = 0; i < 3; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

std::uint64_t siphash13_words(const SipKey& key, std::span<const std::uint64_t> words, std::uint64_t tail,
                              std::size_t size) {
  SipState s(key);
  for (std::uint64_t w : words) s.absorb<1>(w);
  return s.finish13(tail, size);
}

std::uint64_t siphash13_word(const SipKey& key, std::uint64_t word) {
  SipState s(key);
  s.absorb<1>(word);
  s.absorb<1>(std::uint64_t{8} << 56);  // no bytes left, the length on top
  s.v2 ^= 0xff;
  for (int i = 0; i < 3; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace netns
