// nft's symbol tables: the names of icmp/icmpv6 types, ct states and
// statuses, packet types, tcp flags, protocols and reject codes, both ways.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "nft/ruleset.hpp"

namespace netns::nft {

// The value of `name` in `type`'s table (for bitmask types: one bit).
std::optional<std::uint32_t> symbol_value(DataType type, std::string_view name);
// The name nft prints for `value`, when it has one.
std::optional<std::string_view> symbol_name(DataType type, std::uint32_t value);
// Whether the type prints as names (and so a value without one is a number).
bool has_symbols(DataType type);

// Reject codes, by kind (icmp: ICMP_* codes, icmpv6: ICMPV6_*, icmpx: NFT_REJECT_ICMPX_*).
std::optional<std::uint8_t> reject_code(RejectKind kind, std::string_view name);
std::optional<std::string_view> reject_code_name(RejectKind kind, std::uint8_t code);

}  // namespace netns::nft
