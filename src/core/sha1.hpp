// core/sha1.hpp — SHA-1's compression function over one 64-byte block, for
// RFC 7217 stable privacy addresses computed as Linux computes them.
//
// Linux's ipv6_generate_stable_address hashes a fixed 64-byte block (secret,
// prefix, hardware address, DAD counter, zero padding) with one compression
// from SHA-1's initial state and takes the state words without SHA-1's
// finalisation (no length block). sha1_block does exactly that, so the
// interface identifiers netns makes are the ones a Linux host with the same
// inputs makes:
//
//   std::array<std::uint8_t, 64> block = ...;   // explicit bytes, never a struct
//   std::array<std::uint32_t, 5> h = sha1_block(block);
//
// It is not a general SHA-1 (nothing else needs one): no padding, no
// streaming. A pure function with no state.
#pragma once

#include <array>
#include <cstdint>

namespace netns {

// SHA-1's state after compressing `block` from the initial state (FIPS 180-4, 6.1.2).
std::array<std::uint32_t, 5> sha1_block(const std::array<std::uint8_t, 64>& block);

}  // namespace netns
