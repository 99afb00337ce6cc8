#include "nft/compile.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <limits>
#include <string_view>
#include <unordered_map>

namespace netns::nft {

namespace {

std::uint64_t load_be(const std::uint8_t* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}

// Chains of one table by name, to their index in Compiled::chains.
using ChainIndex = std::unordered_map<std::string_view, std::uint32_t>;

class Compiler {
 public:
  Compiler(Compiled& out, CellStore& cells, const SipKey& set_key) : out_(out), cells_(cells), set_key_(set_key) {}

  void table(const Table& t) {
    if (std::none_of(t.chains.begin(), t.chains.end(), [](const Chain& c) { return c.base.has_value(); })) return;
    ChainIndex index;
    const auto first = static_cast<std::uint32_t>(out_.chains.size());
    for (const Chain& c : t.chains) index.emplace(c.name, static_cast<std::uint32_t>(index.size()) + first);
    out_.chains.resize(first + t.chains.size());
    for (std::size_t i = 0; i < t.chains.size(); ++i) chain(t, t.chains[i], index, out_.chains[first + i]);
    for (std::size_t i = 0; i < t.chains.size(); ++i) {
      const Chain& c = t.chains[i];
      if (!c.base) continue;
      out_.bases.push_back({t.family, c.base->type, c.base->hook, c.base->priority, first + static_cast<std::uint32_t>(i)});
    }
  }

 private:
  void chain(const Table& t, const Chain& c, const ChainIndex& index, CompiledChain& cc) {
    auto cell = cells_.chain({t.handle, c.handle});
    cc.cell = cell.get();
    out_.chain_cells.push_back(std::move(cell));
    if (c.base) cc.policy = c.base->policy;
    for (const Rule& r : c.rules) {
      CompiledRule cr{static_cast<std::uint32_t>(cc.checks.size()), 0, static_cast<std::uint32_t>(cc.actions.size()), 0};
      for (const Match& m : r.matches) check(t, m, cc.checks);
      for (std::uint32_t s = 0; s < r.statements.size(); ++s) {
        std::visit([&](const auto& st) { statement(t, r, s, st, index, cc); }, r.statements[s]);
      }
      cr.checks = static_cast<std::uint32_t>(cc.checks.size()) - cr.first_check;
      cr.actions = static_cast<std::uint32_t>(cc.actions.size()) - cr.first_action;
      cc.rules.push_back(cr);
    }
  }

  void check(const Table& t, const Match& m, std::vector<Check>& out) {
    Check c{.kind = CheckKind::compare, .field = m.field, .op = m.op};
    const Operand& o = m.operand;
    if (const auto* k = std::get_if<Key>(&o)) {
      c.a = to_word(*k);
    } else if (const auto* p = std::get_if<Prefix>(&o)) {
      const Interval iv = p->interval();
      c.kind = CheckKind::range;
      c.a = to_word(iv.lo);
      c.b = to_word(iv.hi);
    } else if (const auto* r = std::get_if<Range>(&o)) {
      c.kind = CheckKind::range;
      c.a = to_word(r->lo);
      c.b = to_word(r->hi);
    } else if (const auto* s = std::get_if<AnonSet>(&o)) {
      c.kind = CheckKind::set;
      c.set = add_set(field_info(m.field).type, s->elements);
    } else if (const auto* ref = std::get_if<SetRef>(&o)) {
      c.kind = CheckKind::set;
      c.set = add_named_set(t, ref->name);
    } else if (const auto* f = std::get_if<Flags>(&o)) {
      c.kind = CheckKind::flags;
      c.mask = f->mask;
    } else if (const auto* mk = std::get_if<Masked>(&o)) {
      c.kind = CheckKind::masked;
      c.mask = mk->mask;
      c.value = mk->value;
    }
    out.push_back(c);
  }

  std::uint32_t add_set(DataType type, const std::vector<Interval>& elements) {
    // A validated model's elements always build; an empty lookup (matching
    // nothing) stands for one that would not.
    auto built = SetLookup::build(type, elements, set_key_);
    return push_set(std::make_shared<const SetLookup>(built ? std::move(*built) : SetLookup{}));
  }
  std::uint32_t add_named_set(const Table& t, std::string_view name) {
    for (const std::shared_ptr<const Set>& s : t.sets) {
      if (s->name == name) return push_set(cells_.set(s, set_key_));
    }
    return push_set(std::make_shared<const SetLookup>());  // validation keeps this from happening
  }
  std::uint32_t push_set(std::shared_ptr<const SetLookup> lookup) {
    out_.sets.push_back(std::move(lookup));
    return static_cast<std::uint32_t>(out_.sets.size() - 1);
  }

  RuleCell* rule_cell(const Table& t, const Rule& r, std::uint32_t s, const Counter& initial) {
    auto cell = cells_.rule({t.handle, r.handle, s}, initial);
    RuleCell* raw = cell.get();
    out_.rule_cells.push_back(std::move(cell));
    return raw;
  }

  void statement(const Table&, const Rule&, std::uint32_t, const Verdict& v, const ChainIndex& index,
                 CompiledChain& cc) {
    Action a{.kind = ActionKind::verdict, .verdict = v.kind};
    if (v.kind == VerdictKind::jump || v.kind == VerdictKind::goto_) a.target = index.at(v.chain);
    cc.actions.push_back(a);
  }
  void statement(const Table& t, const Rule&, std::uint32_t, const Reject& rj, const ChainIndex&, CompiledChain& cc) {
    // nft's implicit dependencies: an ICMP type of one family, a reset only for TCP.
    if (t.family == Family::inet && rj.kind == RejectKind::icmp) {
      cc.checks.push_back({.kind = CheckKind::family, .field = Field::meta_l4proto, .family_ = netns::Family::ipv4});
    } else if (t.family == Family::inet && rj.kind == RejectKind::icmpv6) {
      cc.checks.push_back({.kind = CheckKind::family, .field = Field::meta_l4proto, .family_ = netns::Family::ipv6});
    } else if (rj.kind == RejectKind::tcp_reset) {
      cc.checks.push_back({.kind = CheckKind::compare, .field = Field::meta_l4proto, .a = {0, 6}});
    }
    cc.actions.push_back({.kind = ActionKind::reject, .reject = rj});
  }
  void statement(const Table& t, const Rule& r, std::uint32_t s, const Counter& c, const ChainIndex&,
                 CompiledChain& cc) {
    cc.actions.push_back({.kind = ActionKind::counter, .cell = rule_cell(t, r, s, c)});
  }
  void statement(const Table& t, const Rule& r, std::uint32_t s, const Limit& l, const ChainIndex&,
                 CompiledChain& cc) {
    const auto [cost, max] = limit_bucket(l);
    cc.actions.push_back({.kind = ActionKind::limit, .cell = rule_cell(t, r, s, {}), .cost = cost,
                          .max_tokens = max, .over = l.over});
  }
  void statement(const Table&, const Rule&, std::uint32_t, const Log& l, const ChainIndex&, CompiledChain& cc) {
    out_.logs.push_back(l);
    cc.actions.push_back({.kind = ActionKind::log, .log = static_cast<std::uint32_t>(out_.logs.size() - 1)});
  }
  void statement(const Table&, const Rule&, std::uint32_t, const MetaMarkSet& m, const ChainIndex&,
                 CompiledChain& cc) {
    cc.actions.push_back({.kind = ActionKind::mark_set, .mark = m.mark});
  }
  void statement(const Table&, const Rule&, std::uint32_t, const Notrack&, const ChainIndex&, CompiledChain& cc) {
    cc.actions.push_back({.kind = ActionKind::notrack});
  }
  void statement(const Table&, const Rule&, std::uint32_t, const Nat& n, const ChainIndex&, CompiledChain& cc) {
    out_.nats.push_back(n);
    cc.actions.push_back({.kind = ActionKind::nat, .nat = static_cast<std::uint32_t>(out_.nats.size() - 1)});
  }

  Compiled& out_;
  CellStore& cells_;
  const SipKey& set_key_;
};

}  // namespace

Word to_word(const Key& k) {
  if (k.len <= 8) return {0, load_be(k.bytes.data(), k.len)};
  return {load_be(k.bytes.data(), 8), load_be(k.bytes.data() + 8, k.len - 8u) << (8 * (16 - k.len))};
}

bool contains(const SetLookup& set, const Word& w) {
  // The key's bytes in network order: a Word holds them as two big-endian
  // halves, a key of at most 8 bytes at the end of the second.
  std::array<std::uint8_t, 16> bytes;
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<std::uint8_t>(w.hi >> (56 - 8 * i));
    bytes[8 + i] = static_cast<std::uint8_t>(w.lo >> (56 - 8 * i));
  }
  const std::size_t len = set.key_length();
  return set.contains(len > 8 ? bytes.data() : bytes.data() + 16 - len);
}

std::shared_ptr<const SetLookup> CellStore::set(const std::shared_ptr<const Set>& set, const SipKey& key) {
  auto& slot = sets_[set.get()];
  if (!slot.second) {
    auto built = SetLookup::build(*set, key);
    slot = {set, std::make_shared<const SetLookup>(built ? std::move(*built) : SetLookup{})};
  }
  return slot.second;
}

std::shared_ptr<RuleCell> CellStore::rule(const RuleKey& key, const Counter& initial) {
  auto& slot = rules_[key];
  if (!slot) {
    slot = std::make_shared<RuleCell>();
    slot->counter = initial;
  }
  return slot;
}

std::shared_ptr<ChainCell> CellStore::chain(const ChainKey& key) {
  auto& slot = chains_[key];
  if (!slot) slot = std::make_shared<ChainCell>();
  return slot;
}

const RuleCell* CellStore::find_rule(const RuleKey& key) const {
  auto it = rules_.find(key);
  return it != rules_.end() ? it->second.get() : nullptr;
}

const ChainCell* CellStore::find_chain(const ChainKey& key) const {
  auto it = chains_.find(key);
  return it != chains_.end() ? it->second.get() : nullptr;
}

void CellStore::collect() {
  std::erase_if(rules_, [](const auto& e) { return e.second.use_count() == 1; });
  std::erase_if(chains_, [](const auto& e) { return e.second.use_count() == 1; });
  std::erase_if(sets_, [](const auto& e) { return e.second.second.use_count() == 1; });
}

std::pair<std::int64_t, std::int64_t> limit_bucket(const Limit& l) {
  static constexpr std::int64_t kUnitSeconds[] = {1, 60, 3'600, 86'400, 604'800};
  const std::int64_t nsecs = kUnitSeconds[static_cast<std::size_t>(l.unit)] * 1'000'000'000;
  // nft_limit_init: cost = nsecs / rate, tokens_max = cost * burst (burst 0 is the default 5).
  const std::int64_t rate = static_cast<std::int64_t>(std::max<std::uint64_t>(l.rate, 1));
  const std::int64_t cost = std::max<std::int64_t>(nsecs / rate, 1);
  const std::int64_t burst = l.burst != 0 ? l.burst : 5;
  const std::int64_t max = burst > std::numeric_limits<std::int64_t>::max() / cost
                               ? std::numeric_limits<std::int64_t>::max()
                               : cost * burst;
  return {cost, max};
}

Ruleset with_live_counters(const Ruleset& rs, const CellStore& cells) {
  Ruleset out = rs;
  for (Table& t : out.tables) {
    for (Chain& c : t.chains) {
      for (Rule& r : c.rules) {
        for (std::uint32_t s = 0; s < r.statements.size(); ++s) {
          auto* counter = std::get_if<Counter>(&r.statements[s]);
          if (counter == nullptr) continue;
          if (const RuleCell* cell = cells.find_rule({t.handle, r.handle, s})) *counter = cell->counter;
        }
      }
    }
  }
  return out;
}

std::shared_ptr<Compiled> compile(const Ruleset& rs, CellStore& cells, const SipKey& set_key) {
  auto out = std::make_shared<Compiled>();
  Compiler compiler(*out, cells, set_key);
  for (const Table& t : rs.tables) compiler.table(t);
  return out;
}

}  // namespace netns::nft
