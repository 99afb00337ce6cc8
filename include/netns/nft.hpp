// netns/nft.hpp — nftables in every namespace, driven by nft's own language.
//
// A namespace starts with no tables. run() takes what `nft -f` takes and
// applies all of it or none of it; list_ruleset() prints what
// `nft list ruleset` would, as a script that run() turns back into the
// same ruleset:
//
//   netns::nft::run(net, R"(
//     table inet filter {
//       chain input {
//         type filter hook input priority filter; policy drop;
//         ct state established,related accept
//         tcp dport { 22, 443 } counter accept
//       }
//     })").value();
//   std::string diagnostics;
//   if (!netns::nft::run(net, "add rule inet filter nope accept", diagnostics))
//     fmt::print("{}", diagnostics);   // Error: …, the line, a caret; the ruleset is unchanged
//   fmt::print("{}", netns::nft::list_ruleset(net));
//
// Base chains run on the namespace's datagrams at their hook and priority
// (IPv4 for `ip`, IPv6 for `ip6`, both for `inet`); a namespace without
// base chains has no hook. NAT statements are not run yet: a datagram a
// NAT rule matches is dropped. docs/ARCHITECTURE.md, "Packet filter",
// lists what is built.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "netns/result.hpp"

namespace netns {
class Net;
}

namespace netns::nft {

// Like `nft -f`: commands (`add rule …`, `delete chain …`, `flush ruleset`)
// and `table … { … }` blocks. The script applies to a copy of the
// namespace's ruleset, which replaces it only when every command succeeded;
// on failure nothing changed and the error is: invalid_argument (syntax, a
// bad value), no_such_file_or_directory (unknown table, chain, set, rule
// handle), no_such_device (`iif` naming no device), file_exists (`create`
// of what exists, conflicting intervals), device_or_resource_busy
// (deleting a chain or set in use), too_many_links (jumps from a base chain
// that loop or nest deeper than 16, as the kernel), operation_not_supported (NAT at the wrong hook, `include`),
// too_many_files_open_in_system (the namespace's bounds: nft/ruleset.hpp).
[[nodiscard]] Result<void> run(Net& net, std::string_view script);
// The same; on failure `diagnostics` receives nft's rendering of the error
// (`<cmdline>:L:C-E: Error: …`, the line, a caret under the culprit).
[[nodiscard]] Result<void> run(Net& net, std::string_view script, std::string& diagnostics);

// The ruleset as `nft list ruleset` prints it; empty when there is none.
// Counters show what the packet path counted.
std::string list_ruleset(Net& net);

// The datagrams a chain dropped — its `drop`s and `reject`s, and for a base
// chain its policy — since the chain was created (a transaction that keeps
// the chain keeps the count). `family` as nft spells it ("ip", "ip6",
// "inet"); nullopt when there is no such chain.
std::optional<std::uint64_t> chain_drops(Net& net, std::string_view family, std::string_view table,
                                         std::string_view chain);

}  // namespace netns::nft
