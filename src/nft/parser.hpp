// nft's language (what `nft -f` reads) applied to a Ruleset.
//
// A script is a sequence of commands (`add rule ip t c tcp dport 22 accept`)
// and blocks (`table inet t { chain c { type filter hook input priority 0;
// … } set s { … } }`), separated by newlines or `;`, with `#` comments and
// `define NAME = …` / `$NAME`. Each command is parsed into typed values and
// applied at once to `ruleset`, so a later command sees what an earlier one
// made, as in nft's transaction. On the first error apply_script stops and
// returns it; `ruleset` is then half-changed, which is why nft::run hands it
// a copy.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "netns/result.hpp"
#include "nft/ruleset.hpp"

namespace netns::nft {

struct ScriptError {
  boost::system::error_code code;  // invalid_argument for syntax, ENOENT, EEXIST, EBUSY, ELOOP, ENFILE...
  std::uint32_t line = 0, column = 0, length = 1;  // 1-based; line 0 when the script as a whole
  std::string message;                             // without location: "syntax error, unexpected …"
};

// The namespace's devices, for `iif`/`oif` (resolved when a rule is added).
struct DeviceLookup {
  std::function<std::optional<int>(std::string_view name)> ifindex;
};

// Applies `script` to `ruleset`; false and `*error` filled on the first failure.
[[nodiscard]] bool apply_script(Ruleset& ruleset, std::string_view script, const DeviceLookup& devices,
                                ScriptError* error);

// nft's rendering of an error: "<cmdline>:L:C-E: Error: message", the
// line, and a caret under the culprit.
std::string format_error(std::string_view script, const ScriptError& error);

}  // namespace netns::nft
