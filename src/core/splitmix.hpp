// splitmix64: the one cheap deterministic generator of the library (MAC
// addresses, link faults). Not for anything an attacker may probe: keyed
// hashes use SipHash.
#pragma once

#include <cstdint>

namespace netns {

inline constexpr std::uint64_t kSplitmixIncrement = 0x9e3779b97f4a7c15ull;

// The output function of splitmix64 for a state already advanced.
inline std::uint64_t splitmix64_mix(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace netns
