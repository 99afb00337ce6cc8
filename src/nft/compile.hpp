// nft/compile.hpp — the packet path's form of a namespace's ruleset.
//
// When a transaction commits, compile() turns every base chain, and the
// regular chains of its table, into flat arrays: per rule a run of Checks
// (load one field, compare it: value, range, bitmask, set) and a run of
// Actions (counter, limit, log, mark, reject, NAT, verdict). Jumps name chains
// by index. Nothing on the packet path reads text or walks the model's
// variants (eval.hpp runs it).
//
//   CellStore cells;                              // lives with the namespace
//   auto compiled = compile(*ruleset, cells);     // after apply_script succeeded
//   for (const BaseChain& b : compiled->bases) ...  // hooks.hpp registers these
//
// State that must outlive one compiled form — counters, limit buckets, a
// chain's drop count — sits in Cells that the CellStore hands out by the
// model's identity (table handle, rule handle, statement index; table and
// chain handle), so a transaction that keeps a rule keeps its counts, as
// the kernel does. A compiled ruleset holds shared_ptrs to its cells.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/siphash.hpp"
#include "netns/clock.hpp"
#include "nft/ruleset.hpp"
#include "nft/set_lookup.hpp"

namespace netns::nft {

// A field's value or a constant: up to 16 bytes as two big-endian halves,
// so (hi, lo) order is the byte order of the Key (numeric for numbers).
// Keys of at most 8 bytes are numbers in `lo`.
struct Word {
  std::uint64_t hi = 0, lo = 0;
  friend bool operator==(const Word&, const Word&) = default;
  friend auto operator<=>(const Word&, const Word&) = default;
};
Word to_word(const Key& k);

// What the packet path keeps across transactions for one statement.
struct RuleCell {
  Counter counter;                     // `counter`
  std::int64_t tokens = 0;             // `limit`: nanoseconds of credit (nft_limit)
  Clock::time_point last{};
  bool primed = false;                 // the bucket starts full on first use
};
struct ChainCell {
  std::uint64_t drops = 0;  // packets this chain's rules or policy dropped (reject included)
};

// The cells of one namespace, by the model's identity.
class CellStore {
 public:
  using RuleKey = std::tuple<std::uint64_t, std::uint64_t, std::uint32_t>;  // table, rule handle, statement
  using ChainKey = std::pair<std::uint64_t, std::uint64_t>;                  // table, chain handle
  // The cell of a statement; made from `initial` (the script's
  // `counter packets N bytes M`) when the rule is new.
  std::shared_ptr<RuleCell> rule(const RuleKey& key, const Counter& initial);
  std::shared_ptr<ChainCell> chain(const ChainKey& key);
  const RuleCell* find_rule(const RuleKey& key) const;
  const ChainCell* find_chain(const ChainKey& key) const;
  // The lookup of a named set, built once per Set: a transaction that
  // leaves a 100,000-element set alone shares it (ruleset.hpp), and so
  // keeps its lookup instead of building it again.
  std::shared_ptr<const SetLookup> set(const std::shared_ptr<const Set>& set, const SipKey& key);
  // After a commit: forget cells and lookups no compiled ruleset holds any more.
  void collect();

 private:
  std::map<RuleKey, std::shared_ptr<RuleCell>> rules_;
  std::map<ChainKey, std::shared_ptr<ChainCell>> chains_;
  // By the Set's address, which the entry keeps alive so it is not reused.
  std::map<const Set*, std::pair<std::shared_ptr<const Set>, std::shared_ptr<const SetLookup>>> sets_;
};

// A set or anonymous set as the evaluator asks it (set_lookup.hpp: time
// independent of its size).
bool contains(const SetLookup& set, const Word& w);

// Load `field`, then test it.
enum class CheckKind : std::uint8_t {
  compare,  // field op a
  range,    // a <= field <= b, negated by op ne
  flags,    // (field & mask) != 0, negated by op ne
  masked,   // (field & mask) op value
  set,      // field in sets[set], negated by op ne
  family,   // the datagram is of `family_` (nft's implicit `meta nfproto`)
};
struct Check {
  CheckKind kind;
  Field field;
  Op op = Op::eq;
  netns::Family family_ = netns::Family::ipv4;
  std::uint32_t set = 0;
  std::uint32_t mask = 0, value = 0;
  Word a, b;
};

enum class ActionKind : std::uint8_t { counter, limit, log, mark_set, notrack, reject, nat, verdict };
struct Action {
  ActionKind kind;
  VerdictKind verdict = VerdictKind::accept;
  std::uint32_t target = 0;  // jump/goto: index in Compiled::chains
  std::uint32_t mark = 0;
  Reject reject{};
  RuleCell* cell = nullptr;  // counter, limit
  std::int64_t cost = 0;     // limit: nanoseconds per packet
  std::int64_t max_tokens = 0;
  bool over = false;
  std::uint32_t log = 0;     // index in Compiled::logs
  std::uint32_t nat = 0;     // index in Compiled::nats
};

struct CompiledRule {
  std::uint32_t first_check, checks;    // in CompiledChain::checks
  std::uint32_t first_action, actions;  // in CompiledChain::actions
};

struct CompiledChain {
  std::vector<CompiledRule> rules;
  std::vector<Check> checks;
  std::vector<Action> actions;
  ChainCell* cell = nullptr;
  Policy policy = Policy::accept;  // base chains
};

struct CompiledBase {
  Family family;  // the table's: ip, ip6 or inet
  ChainType type;  // nat chains run inside the NAT hook (nft/hooks.hpp), not on their own
  Hook hook;
  int priority;
  std::uint32_t chain;  // index in Compiled::chains
};

struct Compiled {
  std::vector<CompiledChain> chains;
  std::vector<CompiledBase> bases;
  std::vector<std::shared_ptr<const SetLookup>> sets;
  std::vector<Log> logs;
  std::vector<Nat> nats;
  std::vector<std::shared_ptr<RuleCell>> rule_cells;  // what the Actions point into
  std::vector<std::shared_ptr<ChainCell>> chain_cells;
};

// Compiles every table that has a base chain. Cannot fail: the model was
// validated when it was built (jump targets exist, no loops, depth <= 16,
// sets sorted, disjoint and within their bound). `set_key` keys the sets'
// hashes (kSipPurposeNftSet).
std::shared_ptr<Compiled> compile(const Ruleset& rs, CellStore& cells, const SipKey& set_key);

// A copy of `rs` whose counter statements show what the packet path
// counted (list_ruleset prints it). Sets stay shared.
Ruleset with_live_counters(const Ruleset& rs, const CellStore& cells);

// nft_limit's bucket for `limit`: cost per packet and capacity, in nanoseconds.
std::pair<std::int64_t, std::int64_t> limit_bucket(const Limit& l);

}  // namespace netns::nft
