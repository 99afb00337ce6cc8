// core/siphash.hpp — SipHash, the keyed hash behind every table a Host keeps.
//
// Any table an outsider can fill (the route cache, later TCP initial sequence
// numbers and ephemeral ports) hashes with SipHash keyed by the Host's secret,
// never with a pointer or an unkeyed hash, so nobody can aim entries at one
// bucket without knowing the key (hash flooding). Each user derives its own
// key with a purpose constant, so one table's hashes reveal nothing about
// another's:
//
//   SipKey key = SipKey::derive(host.secret(), kSipPurposeRouteCache);
//   std::array<std::byte, 17> message = ...;        // explicit bytes, never a struct with padding
//   std::uint64_t h = siphash13(key, message);
//
// siphash24 is the reference PRF (Aumasson and Bernstein, 2012); siphash13 is
// the faster variant Linux (hsiphash on 64-bit) and Rust use for hash tables.
// Both are pure functions with no state, written once here.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>

namespace netns {

struct SipKey {
  std::uint64_t k0 = 0;
  std::uint64_t k1 = 0;

  // The reference implementation's 16 key bytes: k0 is bytes 0..7 read
  // little-endian, k1 bytes 8..15.
  static SipKey from_bytes(std::span<const std::byte, 16> bytes);
  // A key for one purpose from a Host's 64-bit secret (splitmix64 of the
  // secret and the purpose, so different purposes get unrelated keys).
  static SipKey derive(std::uint64_t secret, std::uint64_t purpose);

  friend bool operator==(const SipKey&, const SipKey&) = default;
};

// Purposes for SipKey::derive: one constant per table, never shared.
inline constexpr std::uint64_t kSipPurposeRouteCache = 0x726f757465636163;  // "routecac"
inline constexpr std::uint64_t kSipPurposeTcpIsn = 0x7463702d69736e00;      // "tcp-isn"
inline constexpr std::uint64_t kSipPurposeEphemeralPort = 0x6570686d706f7274;  // "ephmport"
inline constexpr std::uint64_t kSipPurposeNeighbour = 0x6e65696768626f72;  // "neighbor"
// Connection tracking: plus the namespace's id, a key per namespace's table.
inline constexpr std::uint64_t kSipPurposeConntrack = 0x636f6e6e74726b00;  // "conntrk"
// nft set hashes (src/nft/set_lookup.hpp): one key per Host.
inline constexpr std::uint64_t kSipPurposeNftSet = 0x6e66742d73657400;  // "nft-set"
inline constexpr std::uint64_t kSipPurposeNat = 0x6e61742d69707300;  // "nat-ips": NAT address choice, + the namespace id

namespace detail {

// The four words of SipHash's state and its round (the reference's SIPROUND).
struct SipState {
  std::uint64_t v0, v1, v2, v3;

  explicit SipState(const SipKey& key)
      : v0(key.k0 ^ 0x736f6d6570736575),   // "somepseudorandomlygeneratedbytes"
        v1(key.k1 ^ 0x646f72616e646f6d),
        v2(key.k0 ^ 0x6c7967656e657261),
        v3(key.k1 ^ 0x7465646279746573) {}

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  template <int kRounds>
  void absorb(std::uint64_t m) {
    v3 ^= m;
    for (int i = 0; i < kRounds; ++i) round();
    v0 ^= m;
  }

  // The end of SipHash-c-d: the last word (the bytes left after the whole
  // words, `tail`, and the message's length on top), then the finalisation.
  template <int kCompression, int kFinalisation>
  std::uint64_t finish(std::uint64_t tail, std::size_t size) {
    absorb<kCompression>(tail | std::uint64_t{size & 0xff} << 56);
    v2 ^= 0xff;
    for (int i = 0; i < kFinalisation; ++i) round();
    return v0 ^ v1 ^ v2 ^ v3;
  }
};

}  // namespace detail

// SipHash-c-d of `message` under `key`: c compression rounds per 8-byte
// word, d finalisation rounds. Bytes are read little-endian as in the
// reference, so results match its test vectors on any host.
std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> message);
std::uint64_t siphash13(const SipKey& key, std::span<const std::byte> message);
// siphash13 of the 8 bytes of `word` in little-endian order, without the
// byte buffer: for keys that fit a word (a MAC address in a table probed
// twice per frame).
std::uint64_t siphash13_word(const SipKey& key, std::uint64_t word);
// siphash13 of a message of `size` bytes (16 to 23) given as two whole
// little-endian words, word0's first, and the bytes after them (`tail`, in
// its low bytes), without a byte buffer; inline, for keys built in
// registers and hashed per datagram (the route cache's).
inline std::uint64_t siphash13_words(const SipKey& key, std::uint64_t word0, std::uint64_t word1,
                                     std::uint64_t tail, std::size_t size) {
  detail::SipState s(key);
  s.absorb<1>(word0);
  s.absorb<1>(word1);
  return s.finish<1, 3>(tail, size);
}
// siphash13 of a message of `size` bytes (8 to 15): one whole little-endian
// word and the bytes after it (`tail`, in its low bytes). A round fewer than
// 16 bytes take.
inline std::uint64_t siphash13_word_and_tail(const SipKey& key, std::uint64_t word0, std::uint64_t tail,
                                             std::size_t size) {
  detail::SipState s(key);
  s.absorb<1>(word0);
  return s.finish<1, 3>(tail, size);
}
// The same for the 16 bytes of two words (a flow's addresses and its
// protocol, hashed once per datagram).
inline std::uint64_t siphash13_words(const SipKey& key, std::uint64_t word0, std::uint64_t word1) {
  return siphash13_words(key, word0, word1, 0, 16);
}

}  // namespace netns
