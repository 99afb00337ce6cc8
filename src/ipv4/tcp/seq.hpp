// Sequence-number arithmetic modulo 2^32 (RFC 9293 section 3.4): a is
// "before" b when the signed distance from b to a is negative, which holds
// while the two are less than 2^31 apart.
#pragma once

#include <cstdint>

namespace netns::tcp {

using Seq = std::uint32_t;

constexpr bool seq_lt(Seq a, Seq b) { return static_cast<std::int32_t>(a - b) < 0; }
constexpr bool seq_le(Seq a, Seq b) { return static_cast<std::int32_t>(a - b) <= 0; }
constexpr bool seq_gt(Seq a, Seq b) { return static_cast<std::int32_t>(a - b) > 0; }
constexpr bool seq_ge(Seq a, Seq b) { return static_cast<std::int32_t>(a - b) >= 0; }
constexpr Seq seq_max(Seq a, Seq b) { return seq_lt(a, b) ? b : a; }
constexpr Seq seq_min(Seq a, Seq b) { return seq_lt(a, b) ? a : b; }
// lo <= s < hi
constexpr bool seq_in(Seq s, Seq lo, Seq hi) { return seq_le(lo, s) && seq_lt(s, hi); }

}  // namespace netns::tcp
