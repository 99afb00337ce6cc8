// The ruleset as `nft list ruleset` prints it (nftables 1.0.6): tabs, a
// blank line between the sets and chains of a table, sets before chains,
// counters with their values, priorities by name where nft names them,
// named sets' elements wrapped as nft wraps them. run() of the text builds
// the same ruleset again.
#pragma once

#include <functional>
#include <string>

#include "nft/ruleset.hpp"

namespace netns::nft {

// `ifname_of(ifindex)` names the devices of `iif`/`oif` (nft prints them by
// name); an empty result prints the number.
// With `handles`, as `nft -a list ruleset` (` # handle N` after tables,
// sets, chains and rules).
std::string print_ruleset(const Ruleset& ruleset, const std::function<std::string(int)>& ifname_of,
                          bool handles = false);

// One element or operand of `type` (exposed for the tests).
std::string print_interval(DataType type, const Interval& iv);

}  // namespace netns::nft
