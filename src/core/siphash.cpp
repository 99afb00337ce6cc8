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
  return s.finish<kCompression, kFinalisation>(load_le64(p + whole, n - whole), n);
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

std::uint64_t siphash13_word(const SipKey& key, std::uint64_t word) {
  SipState s(key);
  s.absorb<1>(word);
  return s.finish<1, 3>(0, 8);
}

}  // namespace netns
