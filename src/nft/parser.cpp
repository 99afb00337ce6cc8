#include "nft/parser.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "nft/lexer.hpp"
#include "nft/symbols.hpp"

namespace netns::nft {

namespace {

// Thrown inside the parser only; apply_script turns it into its result.
struct Failure {
  ScriptError error;
};

[[noreturn]] void fail(const Token& at, std::string message, Errc code = Errc::invalid_argument) {
  throw Failure{ScriptError{error(code), at.line, at.column, at.length, std::move(message)}};
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::end: return "end of file";
    case TokenKind::newline: return "newline";
    case TokenKind::string: return "quoted string";
    case TokenKind::variable: return "variable";
    case TokenKind::symbol: return "'" + t.text + "'";
    case TokenKind::word: return t.text;
  }
  return t.text;
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  }
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// `define` and `$NAME`, by token substitution before parsing, as nft's
// scanner does; an expanded token keeps the location of its `$NAME`.
std::vector<Token> expand_variables(std::vector<Token> in) {
  std::map<std::string, std::vector<Token>, std::less<>> vars;
  std::vector<Token> out;
  bool at_start = true;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const Token& t = in[i];
    if (at_start && t.kind == TokenKind::word && (t.text == "define" || t.text == "redefine")) {
      if (i + 2 >= in.size() || in[i + 1].kind != TokenKind::word || in[i + 2].text != "=")
        fail(in[std::min(i + 1, in.size() - 1)], "syntax error, expecting define NAME = value");
      const std::string name = in[i + 1].text;
      if (t.text == "define" && vars.contains(name)) fail(in[i + 1], "redefinition of symbol '" + name + "'");
      std::vector<Token> value;
      int depth = 0;
      std::size_t j = i + 3;
      for (; j < in.size() && in[j].kind != TokenKind::end; ++j) {
        const Token& v = in[j];
        if (depth == 0 && (v.kind == TokenKind::newline || v.text == ";")) break;
        if (v.kind == TokenKind::symbol && v.text == "{") ++depth;
        if (v.kind == TokenKind::symbol && v.text == "}") --depth;
        if (v.kind == TokenKind::newline) continue;
        if (v.kind == TokenKind::variable) {
          auto it = vars.find(v.text);
          if (it == vars.end()) fail(v, "unknown identifier '" + v.text + "'");
          value.insert(value.end(), it->second.begin(), it->second.end());
        } else {
          value.push_back(v);
        }
      }
      if (value.empty()) fail(in[std::min(j, in.size() - 1)], "syntax error, define " + name + " has no value");
      vars[name] = std::move(value);
      i = j - 1;
      continue;
    }
    if (t.kind == TokenKind::variable) {
      auto it = vars.find(t.text);
      if (it == vars.end()) fail(t, "unknown identifier '" + t.text + "'");
      for (Token v : it->second) {
        v.line = t.line;
        v.column = t.column;
        v.length = t.length;
        out.push_back(std::move(v));
      }
      at_start = false;
      continue;
    }
    at_start = t.kind == TokenKind::newline || t.text == ";" || t.text == "{" || t.text == "}";
    out.push_back(t);
  }
  return out;
}

// One parsed element of a match or a set, before it becomes an Interval.
struct Elem {
  enum Kind { value, prefix, range } kind = value;
  Key lo, hi;
  std::uint8_t bits = 0;
  Interval interval() const {
    if (kind == prefix) return Prefix{lo, bits}.interval();
    return {lo, hi};
  }
};

struct PendingRule {
  Rule rule;
  Token at;
};
struct PendingChain {
  Token at;
  std::string name;
  std::optional<BaseChain> base;
  bool policy_set = false;
  std::vector<PendingRule> rules;
};
struct PendingSet {
  Token at;
  std::string name;
  std::optional<DataType> type;
  bool interval = false;
  bool constant = false;
  std::vector<Elem> elements;
  Token elements_at;
};

enum class RulePlace { append, insert, replace };

class Parser {
 public:
  Parser(Ruleset& rs, std::vector<Token> tokens, const DeviceLookup& devices)
      : rs_(rs), t_(std::move(tokens)), devices_(devices) {}

  void script() {
    for (;;) {
      skip_separators();
      if (peek().kind == TokenKind::end) break;
      command();
      end_of_command();
    }
    finish();
  }

 private:
  Ruleset& rs_;
  std::vector<Token> t_;
  std::size_t p_ = 0;
  const DeviceLookup& devices_;

  // ---- tokens -------------------------------------------------------------

  const Token& peek(std::size_t k = 0) const { return t_[std::min(p_ + k, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[p_];
    if (p_ + 1 < t_.size()) ++p_;
    return t;
  }
  bool is_word(std::string_view w, std::size_t k = 0) const {
    return peek(k).kind == TokenKind::word && peek(k).text == w;
  }
  bool is_sym(std::string_view s, std::size_t k = 0) const {
    return peek(k).kind == TokenKind::symbol && peek(k).text == s;
  }
  bool accept_word(std::string_view w) {
    if (!is_word(w)) return false;
    next();
    return true;
  }
  bool accept_sym(std::string_view s) {
    if (!is_sym(s)) return false;
    next();
    return true;
  }
  [[noreturn]] void unexpected(std::string_view expecting) const {
    fail(peek(), "syntax error, unexpected " + describe(peek()) +
                     (expecting.empty() ? std::string() : ", expecting " + std::string(expecting)));
  }
  void expect_sym(std::string_view s) {
    if (!accept_sym(s)) unexpected("'" + std::string(s) + "'");
  }
  void expect_word(std::string_view w) {
    if (!accept_word(w)) unexpected(w);
  }
  bool at_separator() const {
    const Token& t = peek();
    return t.kind == TokenKind::newline || t.kind == TokenKind::end || (t.kind == TokenKind::symbol && t.text == ";");
  }
  bool at_rule_end() const { return at_separator() || is_sym("}"); }
  void skip_separators() {
    while (peek().kind == TokenKind::newline || is_sym(";")) next();
  }
  void skip_newlines() {
    while (peek().kind == TokenKind::newline) next();
  }
  void end_of_command() {
    if (!at_separator()) unexpected("newline or semicolon");
  }
  std::string name(std::string_view what) {
    const Token& t = peek();
    if (t.kind != TokenKind::word && t.kind != TokenKind::string) unexpected(what);
    if (t.text.empty() || t.text.size() > kMaxNameLength) fail(t, std::string(what) + " name too long or empty");
    return next().text;
  }
  Family family_opt() {
    const Token& t = peek();
    if (t.kind == TokenKind::word && (peek(1).kind == TokenKind::word || peek(1).kind == TokenKind::string)) {
      if (auto f = family_from(t.text)) {
        next();
        return *f;
      }
      if (t.text == "arp" || t.text == "bridge" || t.text == "netdev")
        fail(t, "family " + t.text + " is not supported (ip, ip6 and inet are)", Errc::operation_not_supported);
    }
    return Family::ip;
  }

  // ---- commands -----------------------------------------------------------

  void command() {
    const Token& k = peek();
    if (k.kind != TokenKind::word) unexpected("command");
    if (k.text == "include")
      fail(k, "include is not supported: nft::run reads one script and no files", Errc::operation_not_supported);
    if (k.text == "table") {
      next();
      table_command(false, k);
      return;
    }
    const Token verb = next();
    if (verb.text == "add" || verb.text == "create") {
      const bool create = verb.text == "create";
      if (accept_word("table")) return table_command(create, verb);
      if (accept_word("chain")) return chain_command(create, verb);
      if (accept_word("set")) return set_command(create, verb);
      if (accept_word("element")) return element_command(create, false, verb);
      if (!create && accept_word("rule")) return rule_command(RulePlace::append, verb);
      unexpected("table, chain, rule, set or element");
    }
    if (verb.text == "insert") {
      expect_word("rule");
      return rule_command(RulePlace::insert, verb);
    }
    if (verb.text == "replace") {
      expect_word("rule");
      return rule_command(RulePlace::replace, verb);
    }
    if (verb.text == "delete") return delete_command(verb);
    if (verb.text == "flush") return flush_command(verb);
    fail(verb, "syntax error, unexpected " + verb.text);
  }

  Table& table_or_fail(Family f, const std::string& n, const Token& at) {
    Table* t = rs_.table(f, n);
    if (t == nullptr)
      fail(at, fmt::format("Could not process rule: No such file or directory: table {} {}", to_string(f), n),
           Errc::no_such_file_or_directory);
    return *t;
  }
  Chain& chain_or_fail(Table& t, const std::string& n, const Token& at) {
    Chain* c = t.chain(n);
    if (c == nullptr)
      fail(at, fmt::format("Could not process rule: No such file or directory: chain {} in table {} {}", n,
                           to_string(t.family), t.name),
           Errc::no_such_file_or_directory);
    return *c;
  }

  // `[family] TABLE`, which must exist.
  Table& existing_table() {
    const Family f = family_opt();
    const Token at = peek();
    const std::string n = name("table");
    return table_or_fail(f, n, at);
  }

  struct Named {
    std::string name;
    Token at;
  };
  Named named(std::string_view what) {
    const Token at = peek();
    return {name(what), at};
  }

  void table_command(bool create, const Token& at) {
    const Family f = family_opt();
    const Token name_at = peek();
    const std::string n = name("table");
    Table* t = rs_.table(f, n);
    if (t != nullptr && create)
      fail(name_at, "Could not process rule: File exists: table " + n, Errc::file_exists);
    if (t == nullptr) {
      if (rs_.tables.size() >= kMaxTables)
        fail(at, fmt::format("Could not process rule: Too many open files in system: at most {} tables", kMaxTables),
             Errc::too_many_files_open_in_system);
      rs_.tables.push_back(Table{f, n, ++rs_.last_table_handle, 0, {}, {}});
    }
    if (accept_sym("{")) table_block(f, n);
  }

  // A table block: nft adds its chains first, then its sets, then the rules.
  void table_block(Family f, const std::string& tname) {
    std::vector<PendingChain> chains;
    std::vector<PendingSet> sets;
    for (;;) {
      skip_separators();
      if (accept_sym("}")) break;
      const Token at = peek();
      if (accept_word("chain")) {
        PendingChain c{at, name("chain"), {}, false, {}};
        expect_sym("{");
        chain_body(f, c);
        chains.push_back(std::move(c));
      } else if (accept_word("set")) {
        PendingSet s{at, name("set"), {}, false, false, {}, at};
        expect_sym("{");
        set_body(f, s);
        sets.push_back(std::move(s));
      } else {
        unexpected("chain, set or '}'");
      }
      // nft's grammar: a chain or set block inside a table ends with a separator.
      if (!at_separator()) unexpected("newline or semicolon");
    }
    Table& t = *rs_.table(f, tname);
    for (PendingChain& c : chains) add_chain(t, c, false);
    for (PendingSet& s : sets) add_set(t, s, false);
    for (PendingChain& c : chains)
      for (PendingRule& r : c.rules) place_rule(t, *t.chain(c.name), std::move(r), RulePlace::append, std::nullopt);
  }

  void chain_body(Family f, PendingChain& c) {
    for (;;) {
      skip_separators();
      if (accept_sym("}")) return;
      if (is_word("type")) {
        hook_spec(c);
      } else if (is_word("policy")) {
        policy(c);
      } else {
        const Token at = peek();
        c.rules.push_back(PendingRule{rule(f), at});
      }
      // As nft: a rule or the hook line ends with a newline or `;`, even before `}`.
      if (!at_separator()) unexpected("newline or semicolon");
    }
  }

  void hook_spec(PendingChain& c) {
    next();  // type
    BaseChain b;
    const Token& type_at = peek();
    const std::string type = name("chain type");
    if (type == "filter") {
      b.type = ChainType::filter;
    } else if (type == "nat") {
      b.type = ChainType::nat;
    } else {
      fail(type_at, "Could not process rule: No such file or directory: chain type " + type +
                        " (filter and nat are supported)", Errc::no_such_file_or_directory);
    }
    expect_word("hook");
    const Token& hook_at = peek();
    auto hook = hook_from(name("hook"));
    if (!hook) fail(hook_at, "unknown chain hook " + hook_at.text);
    b.hook = *hook;
    if (b.type == ChainType::nat && b.hook == Hook::forward)
      fail(hook_at, "Could not process rule: Operation not supported: nat chains have no forward hook",
           Errc::operation_not_supported);
    expect_word("priority");
    b.priority = priority(b.hook);
    if (c.base && c.policy_set) b.policy = c.base->policy;
    c.base = b;
  }

  int priority(Hook hook) {
    const Token& at = peek();
    if (at.kind != TokenKind::word) unexpected("priority");
    const std::string text = next().text;
    auto as_int = [&](std::string_view s, const Token& where) -> int {
      bool neg = !s.empty() && s[0] == '-';
      auto v = parse_number(neg ? s.substr(1) : s);
      if (!v || *v > 0x7fffffff) fail(where, "invalid priority " + std::string(s));
      return neg ? -static_cast<int>(*v) : static_cast<int>(*v);
    };
    if (!text.empty() && (text[0] == '-' || std::isdigit(static_cast<unsigned char>(text[0])) != 0) && text != "-")
      return as_int(text, at);
    auto base = std_priority(text, hook);
    if (!base) fail(at, "'" + text + "' is invalid priority in this context.");
    if (is_sym("+") || is_word("-")) {
      const bool minus = next().text == "-";
      const Token& off_at = peek();
      if (off_at.kind != TokenKind::word) unexpected("number");
      const int off = as_int(next().text, off_at);
      return minus ? *base - off : *base + off;
    }
    return *base;
  }

  void policy(PendingChain& c) {
    const Token at = next();
    const Token& v = peek();
    if (v.kind != TokenKind::word || (v.text != "accept" && v.text != "drop")) unexpected("accept or drop");
    next();
    if (!c.base) fail(at, "Could not process rule: Operation not supported: a policy needs a base chain",
                      Errc::operation_not_supported);
    c.base->policy = v.text == "accept" ? Policy::accept : Policy::drop;
    c.policy_set = true;
  }

  void add_chain(Table& t, const PendingChain& pc, bool create) {
    Chain* c = t.chain(pc.name);
    if (c != nullptr) {
      if (create) fail(pc.at, "Could not process rule: File exists: chain " + pc.name, Errc::file_exists);
      if (!pc.base) return;
      if (!c->base || c->base->type != pc.base->type || c->base->hook != pc.base->hook ||
          c->base->priority != pc.base->priority)
        fail(pc.at, "Could not process rule: Operation not supported: chain " + pc.name + " exists with another hook",
             Errc::operation_not_supported);
      if (pc.policy_set) c->base->policy = pc.base->policy;
      return;
    }
    if (t.chains.size() >= kMaxChainsPerTable)
      fail(pc.at, fmt::format("Could not process rule: Too many open files in system: at most {} chains per table",
                              kMaxChainsPerTable), Errc::too_many_files_open_in_system);
    t.chains.push_back(Chain{pc.name, ++t.last_handle, pc.base, {}});
  }

  void chain_command(bool create, const Token& at) {
    const Family f = family_opt();
    const auto [tname, table_at] = named("table");
    const Token name_at = peek();
    PendingChain c{name_at, name("chain"), {}, false, {}};
    if (accept_sym("{")) chain_body(f, c);
    Table& t = table_or_fail(f, tname, table_at);
    add_chain(t, c, create);
    for (PendingRule& r : c.rules) place_rule(t, *t.chain(c.name), std::move(r), RulePlace::append, std::nullopt);
    (void)at;
  }

  // ---- sets -----------------------------------------------------------------

  void set_body(Family, PendingSet& s) {
    for (;;) {
      skip_separators();
      if (accept_sym("}")) return;
      const Token at = peek();
      if (accept_word("type")) {
        const Token& type_at = peek();
        auto type = set_type_from(name("type"));
        if (!type || *type == DataType::ifindex || *type == DataType::tcp_flag)
          fail(type_at, "unknown datatype " + type_at.text);
        s.type = type;
      } else if (accept_word("flags")) {
        for (;;) {
          const Token& flag = peek();
          if (accept_word("interval")) {
            s.interval = true;
          } else if (accept_word("constant")) {
            s.constant = true;
          } else {
            fail(flag, "unsupported set flag " + describe(flag) + " (interval and constant are)",
                 Errc::operation_not_supported);
          }
          if (!accept_sym(",")) break;
        }
      } else if (accept_word("elements")) {
        expect_sym("=");
        if (!s.type) fail(at, "set definition does not specify key");
        s.elements_at = peek();
        s.elements = element_list(*s.type, true);
      } else {
        unexpected("type, flags, elements or '}'");
      }
      if (!at_separator() && !is_sym("}")) unexpected("newline or semicolon");
    }
  }

  std::vector<Elem> element_list(DataType type, bool allow_intervals) {
    expect_sym("{");
    std::vector<Elem> out;
    skip_newlines();
    if (accept_sym("}")) return out;
    for (;;) {
      skip_newlines();
      out.push_back(element(type, allow_intervals));
      skip_newlines();
      if (accept_sym("}")) return out;
      expect_sym(",");
      skip_newlines();
      if (accept_sym("}")) return out;  // nft takes a trailing comma
    }
  }

  void add_set(Table& t, const PendingSet& ps, bool create) {
    const Set* existing = t.set(ps.name);
    if (existing != nullptr) {
      if (create) fail(ps.at, "Could not process rule: File exists: set " + ps.name, Errc::file_exists);
      if ((ps.type && *ps.type != existing->type) || ps.interval != existing->interval)
        fail(ps.at, "Could not process rule: File exists: set " + ps.name + " exists with another type",
             Errc::file_exists);
    } else {
      if (!ps.type) fail(ps.at, "set definition does not specify key");
      auto s = std::make_shared<Set>();
      s->name = ps.name;
      s->handle = ++t.last_handle;
      s->type = *ps.type;
      s->interval = ps.interval;
      s->constant = ps.constant;
      t.sets.push_back(std::move(s));
    }
    if (!ps.elements.empty()) add_elements(*t.set_for_write(ps.name), ps.elements, false, ps.elements_at);
  }

  void set_command(bool create, const Token&) {
    const Family f = family_opt();
    const auto [tname, table_at] = named("table");
    const Token name_at = peek();
    PendingSet s{name_at, name("set"), {}, false, false, {}, name_at};
    expect_sym("{");
    set_body(f, s);
    add_set(table_or_fail(f, tname, table_at), s, create);
  }

  void add_elements(Set& s, const std::vector<Elem>& elems, bool create, const Token& at) {
    std::vector<Interval> add;
    add.reserve(elems.size());
    for (const Elem& e : elems) {
      if (e.kind != Elem::value && !s.interval)
        fail(at, "You must add 'flags interval' to your set declaration if you want to add prefix/range elements");
      add.push_back(e.interval());
    }
    std::sort(add.begin(), add.end(), [](const Interval& a, const Interval& b) { return key_less(a.lo, b.lo); });
    std::vector<Interval> merged;
    merged.reserve(s.elements.size() + add.size());
    std::merge(s.elements.begin(), s.elements.end(), add.begin(), add.end(), std::back_inserter(merged),
               [](const Interval& a, const Interval& b) { return key_less(a.lo, b.lo); });
    std::vector<Interval> out;
    out.reserve(merged.size());
    for (const Interval& iv : merged) {
      if (!out.empty() && out.back() == iv) {
        if (create) fail(at, "Could not process rule: File exists: element already in set " + s.name, Errc::file_exists);
        continue;
      }
      if (!out.empty() && !key_less(out.back().hi, iv.lo))
        fail(at, "conflicting intervals specified", Errc::file_exists);
      out.push_back(iv);
    }
    s.elements = std::move(out);
  }

  void delete_elements(Set& s, const std::vector<Elem>& elems, const Token& at) {
    std::vector<Interval> del;
    for (const Elem& e : elems) del.push_back(e.interval());
    std::sort(del.begin(), del.end(), [](const Interval& a, const Interval& b) { return key_less(a.lo, b.lo); });
    std::vector<Interval> out;
    out.reserve(s.elements.size());
    std::size_t d = 0;
    for (const Interval& iv : s.elements) {
      while (d < del.size() && key_less(del[d].lo, iv.lo)) {
        fail(at, "Could not process rule: No such file or directory: element not in set " + s.name,
             Errc::no_such_file_or_directory);
      }
      if (d < del.size() && del[d] == iv) {
        ++d;
        while (d < del.size() && del[d] == iv) ++d;  // named twice in one command
        continue;
      }
      out.push_back(iv);
    }
    if (d < del.size())
      fail(at, "Could not process rule: No such file or directory: element not in set " + s.name,
           Errc::no_such_file_or_directory);
    s.elements = std::move(out);
  }

  void element_command(bool create, bool remove, const Token&) {
    Table& t = existing_table();
    const auto [sname, set_at] = named("set");
    const Set* s = t.set(sname);
    if (s == nullptr)
      fail(set_at, "Could not process rule: No such file or directory: set " + sname, Errc::no_such_file_or_directory);
    const Token at = peek();
    auto elems = element_list(s->type, true);
    Set& w = *t.set_for_write(sname);
    if (remove) {
      delete_elements(w, elems, at);
    } else {
      add_elements(w, elems, create, at);
    }
  }

  // ---- delete / flush -------------------------------------------------------

  void delete_command(const Token& verb) {
    if (accept_word("table")) {
      const Family f = family_opt();
      const Token at = peek();
      const std::string n = name("table");
      Table& t = table_or_fail(f, n, at);
      rs_.tables.erase(rs_.tables.begin() + (&t - rs_.tables.data()));
      return;
    }
    if (accept_word("chain")) {
      Table& t = existing_table();
      const auto [n, at] = named("chain");
      Chain& c = chain_or_fail(t, n, at);
      if (!c.rules.empty() || jumped_to(t, n))
        fail(at, "Could not process rule: Device or resource busy: chain " + n + " has rules or is jumped to",
             Errc::device_or_resource_busy);
      t.chains.erase(t.chains.begin() + (&c - t.chains.data()));
      return;
    }
    if (accept_word("rule")) {
      Table& t = existing_table();
      const auto [cname, chain_at] = named("chain");
      Chain& c = chain_or_fail(t, cname, chain_at);
      const auto [h, at] = handle_spec("handle");
      c.rules.erase(c.rules.begin() + rule_index(c, h, at));
      return;
    }
    if (accept_word("set")) {
      Table& t = existing_table();
      const auto [n, at] = named("set");
      if (t.set(n) == nullptr)
        fail(at, "Could not process rule: No such file or directory: set " + n, Errc::no_such_file_or_directory);
      if (set_used(t, n))
        fail(at, "Could not process rule: Device or resource busy: set " + n + " is used by a rule",
             Errc::device_or_resource_busy);
      std::erase_if(t.sets, [&](const auto& s) { return s->name == n; });
      return;
    }
    if (accept_word("element")) return element_command(false, true, verb);
    unexpected("table, chain, rule, set or element");
  }

  void flush_command(const Token&) {
    if (accept_word("ruleset")) {
      // `flush ruleset [family]`
      if (peek().kind == TokenKind::word) {
        const Token& ft = peek();
        auto f = family_from(ft.text);
        if (!f) fail(ft, "unknown family " + ft.text);
        next();
        std::erase_if(rs_.tables, [&](const Table& t) { return t.family == *f; });
      } else {
        rs_.tables.clear();
      }
      return;
    }
    const bool table = accept_word("table");
    const bool chain = !table && accept_word("chain");
    const bool set = !table && !chain && accept_word("set");
    if (!table && !chain && !set) unexpected("ruleset, table, chain or set");
    Table& t = existing_table();
    if (table) {
      for (Chain& c : t.chains) c.rules.clear();
      return;
    }
    const auto [n, at] = named(chain ? "chain" : "set");
    if (chain) {
      chain_or_fail(t, n, at).rules.clear();
      return;
    }
    if (t.set(n) == nullptr)
      fail(at, "Could not process rule: No such file or directory: set " + n, Errc::no_such_file_or_directory);
    t.set_for_write(n)->elements.clear();
  }

  std::pair<std::uint64_t, Token> handle_spec(std::string_view keyword) {
    expect_word(keyword);
    const Token at = peek();
    auto h = at.kind == TokenKind::word ? parse_number(at.text) : std::nullopt;
    if (!h || *h == 0) unexpected("handle number");
    next();
    return {*h, at};
  }

  std::size_t rule_index(const Chain& c, std::uint64_t handle, const Token& at) {
    for (std::size_t i = 0; i < c.rules.size(); ++i)
      if (c.rules[i].handle == handle) return i;
    fail(at, fmt::format("Could not process rule: No such file or directory: no rule with handle {} in chain {}",
                         handle, c.name),
         Errc::no_such_file_or_directory);
  }

  static bool jumped_to(const Table& t, std::string_view chain) {
    for (const Chain& c : t.chains)
      for (const Rule& r : c.rules)
        for (const Statement& s : r.statements)
          if (const auto* v = std::get_if<Verdict>(&s); v != nullptr && v->chain == chain) return true;
    return false;
  }

  static bool set_used(const Table& t, std::string_view set) {
    for (const Chain& c : t.chains)
      for (const Rule& r : c.rules)
        for (const Match& m : r.matches)
          if (const auto* ref = std::get_if<SetRef>(&m.operand); ref != nullptr && ref->name == set) return true;
    return false;
  }

  // ---- rules ----------------------------------------------------------------

  void rule_command(RulePlace place, const Token&) {
    const Family f = family_opt();
    const auto [tname, table_at] = named("table");
    const auto [cname, chain_at] = named("chain");
    std::optional<std::pair<std::uint64_t, Token>> where;
    if (place == RulePlace::replace) {
      where = handle_spec("handle");
    } else if (is_word("position") || is_word("handle")) {
      where = handle_spec(peek().text);
    }
    Table& t = table_or_fail(f, tname, table_at);
    Chain& c = chain_or_fail(t, cname, chain_at);
    const Token at = peek();
    PendingRule r{rule(f), at};
    place_rule(t, c, std::move(r), place, where);
  }

  void place_rule(Table& t, Chain& c, PendingRule r, RulePlace place,
                  const std::optional<std::pair<std::uint64_t, Token>>& where) {
    validate_rule(t, c, r);
    // Anonymous sets take their handles before the rule, as nft's __setN do.
    for (const Match& m : r.rule.matches)
      if (std::holds_alternative<AnonSet>(m.operand)) ++t.last_handle;
    std::size_t at = place == RulePlace::insert ? 0 : c.rules.size();
    if (where) {
      const std::size_t i = rule_index(c, where->first, where->second);
      at = place == RulePlace::append ? i + 1 : i;
      if (place == RulePlace::replace) {
        // The kernel keeps the handle of a replaced rule (and its place).
        r.rule.handle = c.rules[i].handle;
        placed_[{t.family, t.name, r.rule.handle}] = r.at;
        c.rules[i] = std::move(r.rule);
        return;
      }
    }
    r.rule.handle = ++t.last_handle;
    placed_[{t.family, t.name, r.rule.handle}] = r.at;
    c.rules.insert(c.rules.begin() + static_cast<std::ptrdiff_t>(at), std::move(r.rule));
  }

  void validate_rule(const Table& t, const Chain& c, const PendingRule& r) {
    for (const Match& m : r.rule.matches) {
      const auto* ref = std::get_if<SetRef>(&m.operand);
      if (ref == nullptr) continue;
      const Set* s = t.set(ref->name);
      if (s == nullptr)
        fail(r.at, "Could not process rule: No such file or directory: set @" + ref->name,
             Errc::no_such_file_or_directory);
      if (s->type != field_info(m.field).type)
        fail(r.at, fmt::format("datatype mismatch, expected {}, set @{} has type {}", to_string(field_info(m.field).type),
                               s->name, to_string(s->type)));
    }
    for (const Statement& st : r.rule.statements) {
      if (const auto* v = std::get_if<Verdict>(&st); v != nullptr && !v->chain.empty()) {
        const Chain* target = t.chain(v->chain);
        if (target == nullptr)
          fail(r.at, fmt::format("Could not process rule: No such file or directory: chain {} in table {} {}",
                                 v->chain, to_string(t.family), t.name),
               Errc::no_such_file_or_directory);
        if (target->base)
          fail(r.at, "Could not process rule: Operation not supported: cannot jump to base chain " + v->chain,
               Errc::operation_not_supported);
      }
      if (c.base && !statement_fits(st, *c.base))
        fail(r.at, "Could not process rule: Operation not supported: " + statement_name(st) + " is not valid in a " +
                       std::string(to_string(c.base->type)) + " chain at hook " + std::string(to_string(c.base->hook)),
             Errc::operation_not_supported);
    }
  }

  static std::string statement_name(const Statement& s) {
    if (std::holds_alternative<Reject>(s)) return "reject";
    static constexpr const char* kNames[] = {"snat", "dnat", "masquerade", "redirect"};
    return kNames[static_cast<int>(std::get<Nat>(s).kind)];
  }

  // The hooks the kernel's validate callbacks allow: nft_reject (not
  // postrouting), nft_masq (postrouting), nft_nat snat (postrouting,
  // input) and dnat/redirect (prerouting, output), NAT in nat chains only.
  static bool statement_fits(const Statement& s, const BaseChain& b) {
    if (std::holds_alternative<Reject>(s)) return b.hook != Hook::postrouting;
    const auto* n = std::get_if<Nat>(&s);
    if (n == nullptr) return true;
    if (b.type != ChainType::nat) return false;
    switch (n->kind) {
      case NatKind::masquerade: return b.hook == Hook::postrouting;
      case NatKind::snat: return b.hook == Hook::postrouting || b.hook == Hook::input;
      case NatKind::dnat:
      case NatKind::redirect: return b.hook == Hook::prerouting || b.hook == Hook::output;
    }
    return false;
  }

  Rule rule(Family family) {
    Rule r;
    RuleState st{family};
    while (!at_rule_end()) {
      const Token at = peek();
      if (at.kind != TokenKind::word) unexpected("match or statement");
      if (at.text == "comment") {
        next();
        if (peek().kind != TokenKind::string && peek().kind != TokenKind::word) unexpected("string");
        r.comment = next().text;
        if (r.comment.size() > 128) fail(at, "comment too long (at most 128 bytes)");
        continue;
      }
      if (!r.statements.empty() && ends_rule(r.statements.back()))
        fail(at, "syntax error, nothing may follow a verdict");
      if (auto field = field_here()) {
        if (!r.statements.empty()) fail(at, "syntax error, a match after a statement");
        r.matches.push_back(match(*field, st, at));
        continue;
      }
      r.statements.push_back(statement(st, at));
    }
    if (r.matches.empty() && r.statements.empty()) unexpected("match or statement");
    for (const Statement& s : r.statements)
      if (const auto* rj = std::get_if<Reject>(&s); rj != nullptr && rj->kind == RejectKind::tcp_reset) {
        if (st.l4 && *st.l4 != kTcp) fail(peek(), "conflicting protocols specified: " + proto_name(*st.l4) + " vs. tcp");
        // A reset answers TCP only: when nothing before it says TCP, nft
        // puts `meta l4proto tcp` at the head of the rule (in every family;
        // normalize drops it where nft's listing does).
        if (!st.l4) {
          r.matches.insert(r.matches.begin(), Match{Field::meta_l4proto, Op::eq, Key::of_uint(kTcp, 1)});
          st.l4 = kTcp;
        }
      }
    normalize(r, family);
    return r;
  }

  static bool ends_rule(const Statement& s) {
    return std::holds_alternative<Verdict>(s) || std::holds_alternative<Reject>(s);
  }

  // What the rule's matches so far establish: the network protocol (for
  // inet) and the transport, for conflicts and for NAT's port mapping.
  struct RuleState {
    Family family;
    std::optional<Family> network;
    std::optional<std::uint8_t> l4;
    bool ported_l4_set = false;  // `meta l4proto { tcp, udp }`: NAT may map ports too
  };

  void require_network(RuleState& st, Family need, const Token& at) {
    if (need == Family::inet) return;
    const Family have = st.family != Family::inet ? st.family : st.network.value_or(need);
    if (have != need)
      fail(at, fmt::format("conflicting protocols specified: {} vs. {}", to_string(have), to_string(need)));
    st.network = need;
  }

  static std::string proto_name(std::uint8_t p) {
    if (auto n = symbol_name(DataType::inet_proto, p)) return std::string(*n);
    return std::to_string(p);
  }

  void require_l4(RuleState& st, std::uint8_t need, const Token& at) {
    if (st.l4 && *st.l4 != need)
      fail(at, fmt::format("conflicting protocols specified: {} vs. {}", proto_name(*st.l4), proto_name(need)));
    st.l4 = need;
  }

  // Reads the words naming a field, if a field starts here.
  std::optional<Field> field_here() {
    const std::string& w = peek().text;
    const std::string& w1 = peek(1).kind == TokenKind::word ? peek(1).text : std::string();
    auto take = [&](int n, Field f) {
      for (int i = 0; i < n; ++i) next();
      return std::optional<Field>(f);
    };
    if (w == "meta") {
      if (w1 == "set" || is_word("set", 2)) return std::nullopt;  // meta mark set: a statement
      if (w1 == "iifname") return take(2, Field::iifname);
      if (w1 == "oifname") return take(2, Field::oifname);
      if (w1 == "iif") return take(2, Field::iif);
      if (w1 == "oif") return take(2, Field::oif);
      if (w1 == "l4proto") return take(2, Field::meta_l4proto);
      if (w1 == "mark") return take(2, Field::meta_mark);
      if (w1 == "pkttype") return take(2, Field::meta_pkttype);
      fail(peek(1), "unsupported meta key " + describe(peek(1)), Errc::operation_not_supported);
    }
    if (w == "iifname") return take(1, Field::iifname);
    if (w == "oifname") return take(1, Field::oifname);
    if (w == "iif") return take(1, Field::iif);
    if (w == "oif") return take(1, Field::oif);
    if (w == "l4proto") return take(1, Field::meta_l4proto);
    if (w == "pkttype") return take(1, Field::meta_pkttype);
    if (w == "mark" && !is_word("set", 1)) return take(1, Field::meta_mark);
    auto pair = [&](std::initializer_list<std::pair<const char*, Field>> keys) -> std::optional<Field> {
      for (const auto& [k, f] : keys)
        if (w1 == k) return take(2, f);
      fail(peek(1), "syntax error, unexpected " + describe(peek(1)) + " after " + w, Errc::operation_not_supported);
    };
    if (w == "ip") return pair({{"saddr", Field::ip_saddr}, {"daddr", Field::ip_daddr}, {"protocol", Field::ip_protocol}});
    if (w == "ip6") return pair({{"saddr", Field::ip6_saddr}, {"daddr", Field::ip6_daddr}});
    if (w == "tcp") {
      if (w1 == "reset") return std::nullopt;
      return pair({{"sport", Field::tcp_sport}, {"dport", Field::tcp_dport}, {"flags", Field::tcp_flags}});
    }
    if (w == "udp") return pair({{"sport", Field::udp_sport}, {"dport", Field::udp_dport}});
    if (w == "icmp") return pair({{"type", Field::icmp_type}});
    if (w == "icmpv6") return pair({{"type", Field::icmpv6_type}});
    if (w == "ct") return pair({{"state", Field::ct_state}, {"status", Field::ct_status}});
    return std::nullopt;
  }

  Match match(Field field, RuleState& st, const Token& at) {
    const FieldInfo& fi = field_info(field);
    require_network(st, fi.network, at);
    if (fi.l4proto != 0) require_l4(st, fi.l4proto, at);
    Match m{field, Op::eq, Key{}};
    if (fi.bitmask && bitmask_match(fi, m)) return m;
    if (accept_sym("!=")) {
      m.op = Op::ne;
    } else if (accept_sym("==")) {
    } else if (accept_sym("<=")) {
      m.op = Op::le;
    } else if (accept_sym(">=")) {
      m.op = Op::ge;
    } else if (accept_sym("<")) {
      m.op = Op::lt;
    } else if (accept_sym(">")) {
      m.op = Op::gt;
    }
    const bool relational = m.op != Op::eq && m.op != Op::ne;
    if (is_sym("{")) {
      if (relational) unexpected("value");
      const Token set_at = peek();
      auto elems = element_list(fi.type, !fi.bitmask);
      if (elems.empty()) fail(set_at, "an anonymous set needs at least one element");
      if (elems.size() == 1) {
        m.operand = operand_of(elems[0]);
      } else {
        AnonSet s;
        for (const Elem& e : elems) s.elements.push_back(e.interval());
        std::sort(s.elements.begin(), s.elements.end(),
                  [](const Interval& a, const Interval& b) { return key_less(a.lo, b.lo); });
        for (std::size_t i = 1; i < s.elements.size(); ++i)
          if (!key_less(s.elements[i - 1].hi, s.elements[i].lo)) fail(set_at, "conflicting intervals specified");
        m.operand = std::move(s);
      }
    } else if (accept_sym("@")) {
      if (relational) unexpected("value");
      m.operand = SetRef{name("set")};
    } else {
      const Token& vat = peek();
      Elem e = element(fi.type, !fi.bitmask && !relational);
      if (relational && e.kind != Elem::value) fail(vat, "a relational match takes a single value");
      m.operand = operand_of(e);
    }
    if (field == Field::meta_l4proto || field == Field::ip_protocol) {
      if (const Key* k = std::get_if<Key>(&m.operand); k != nullptr && m.op == Op::eq) {
        require_l4(st, static_cast<std::uint8_t>(k->to_uint()), at);
      }
      if (const auto* s = std::get_if<AnonSet>(&m.operand); s != nullptr && m.op == Op::eq) {
        st.ported_l4_set = std::all_of(s->elements.begin(), s->elements.end(), [](const Interval& i) {
          return i.lo == i.hi && (i.lo.to_uint() == kTcp || i.lo.to_uint() == kUdp);
        });
      }
    }
    return m;
  }

  static Operand operand_of(const Elem& e) {
    switch (e.kind) {
      case Elem::value: return e.lo;
      case Elem::prefix: return Prefix{e.lo, e.bits};
      case Elem::range: return Range{e.lo, e.hi};
    }
    return e.lo;
  }

  // The forms of a bitmask field's match, as nft 1.0.6 reads them:
  //   tcp flags syn,ack / syn|ack     (x & v) != 0          Flags
  //   tcp flags ! syn,ack             (x & v) == 0          Flags, op ne
  //   tcp flags == syn|ack, != syn    x op v, exact         Key
  //   tcp flags syn / syn,ack,fin     (x & m) == v          Masked (also after == and !=)
  //   tcp flags & (syn|ack) == syn    (x & m) op v          Masked
  // A value is a list of `a|b` terms, all ORed. Sets, set references and
  // < > <= >= take the generic path (false).
  bool bitmask_match(const FieldInfo& fi, Match& m) {
    if (accept_sym("&")) {
      const std::uint32_t mask = flag_term(fi.type);
      if (is_sym("|")) fail(peek(), "a mask of several flags is written in parentheses: & (a|b)");
      if (accept_sym("!=")) {
        m.op = Op::ne;
      } else {
        expect_sym("==");
      }
      m.operand = Masked{flag_list(fi.type), mask};
      return true;
    }
    bool exact = false;
    bool negated = false;
    if (accept_sym("!=")) {
      m.op = Op::ne;
      exact = true;
    } else if (accept_sym("==")) {
      exact = true;
    } else if (accept_sym("!")) {
      m.op = Op::ne;
      negated = true;
    } else if (is_sym("{") || is_sym("@") || is_sym("<") || is_sym(">") || is_sym("<=") || is_sym(">=")) {
      return false;
    }
    if (exact && (is_sym("{") || is_sym("@"))) return false;
    const std::uint32_t v = flag_list(fi.type);
    if (!negated && accept_sym("/")) {
      // nft's grammar wants two or more after `/` (with one, `a / b` would
      // be a prefix), yet lists `tcp flags & syn == fin` as `fin / syn`:
      // netns takes one too, so that its listing reads back.
      m.operand = Masked{v, flag_list(fi.type)};
    } else if (exact) {
      m.operand = Key::of_uint(v, fi.length);
    } else {
      m.operand = Flags{v};
    }
    return true;
  }

  std::uint32_t flag_value(DataType type) {
    const Token& at = peek();
    if (at.kind != TokenKind::word) unexpected(to_string(type));
    if (auto v = symbol_value(type, at.text)) {
      next();
      return *v;
    }
    const std::uint64_t max = data_type_length(type) >= 4 ? 0xffffffffu : 0xffu;
    if (auto n = parse_number(at.text); n && *n <= max) {
      next();
      return static_cast<std::uint32_t>(*n);
    }
    fail(at, fmt::format("Could not parse {}: unknown value '{}'", to_string(type), at.text));
  }

  // `syn`, `(syn|ack)`.
  std::uint32_t flag_term(DataType type) {
    if (!accept_sym("(")) return flag_value(type);
    const std::uint32_t v = flag_or(type);
    expect_sym(")");
    return v;
  }

  // `syn|ack|fin`.
  std::uint32_t flag_or(DataType type) {
    std::uint32_t v = flag_term(type);
    while (accept_sym("|")) v |= flag_term(type);
    return v;
  }

  // `syn|ack,fin`: every term ORed.
  std::uint32_t flag_list(DataType type) {
    std::uint32_t v = flag_or(type);
    while (accept_sym(",")) v |= flag_or(type);
    return v;
  }

  std::optional<Key> value_of(DataType type, std::string_view text, bool quoted) {
    switch (type) {
      case DataType::ipv4_addr: {
        if (quoted) return std::nullopt;
        auto a = Ipv4Address::parse(text);
        if (!a) return std::nullopt;
        return Key::of_ipv4(*a);
      }
      case DataType::ipv6_addr: {
        if (quoted || text.find('%') != std::string_view::npos) return std::nullopt;
        auto a = Ipv6Address::parse(text);
        if (!a) return std::nullopt;
        return Key::of_ipv6(*a);
      }
      case DataType::ifname:
        if (text.empty() || text.size() > 15) return std::nullopt;
        return Key::of_ifname(text);
      case DataType::ifindex: {
        auto idx = devices_.ifindex ? devices_.ifindex(text) : std::nullopt;
        if (!idx) return std::nullopt;
        return Key::of_uint(static_cast<std::uint64_t>(*idx), 4);
      }
      default: break;
    }
    if (quoted) return std::nullopt;
    const std::uint8_t len = data_type_length(type);
    if (auto v = symbol_value(type, text)) return Key::of_uint(*v, len);
    if (type == DataType::inet_service) {
      static constexpr std::pair<std::string_view, std::uint16_t> kServices[] = {
          {"ssh", 22}, {"domain", 53}, {"http", 80}, {"https", 443}, {"ntp", 123}, {"smtp", 25}, {"ftp", 21}};
      for (const auto& [n, p] : kServices)
        if (n == text) return Key::of_uint(p, 2);
    }
    auto n = parse_number(text);
    if (!n || (len < 8 && *n >> (8 * len) != 0)) return std::nullopt;
    return Key::of_uint(*n, len);
  }

  Elem element(DataType type, bool allow_intervals) {
    const Token at = peek();
    if (is_bitmask(type) && (at.kind == TokenKind::word || is_sym("("))) {
      // `{ syn|ack, fin }`: each element one exact value.
      Elem e;
      e.lo = e.hi = Key::of_uint(flag_or(type), data_type_length(type));
      return e;
    }
    if (at.kind != TokenKind::word && at.kind != TokenKind::string) unexpected(to_string(type));
    next();
    const bool quoted = at.kind == TokenKind::string;
    std::string_view text = at.text;
    Elem e;
    if (type == DataType::ifname && text.size() > 1 && text.back() == '*') {
      // nft's interface wildcard: a prefix of the name's bytes
      if (!allow_intervals) fail(at, "a wildcard interface name is not valid here");
      text.remove_suffix(1);
      auto k = value_of(type, text, false);
      if (!k) fail(at, "invalid interface name " + at.text);
      e.kind = Elem::prefix;
      e.lo = *k;
      e.bits = static_cast<std::uint8_t>(8 * text.size());
      return e;
    }
    if (auto k = value_of(type, text, quoted)) {
      e.lo = e.hi = *k;
    } else if (!quoted && allow_intervals && split_range(type, text, e)) {
      e.kind = Elem::range;
      if (key_less(e.hi, e.lo)) fail(at, "Range has zero or negative size");
    } else {
      if (type == DataType::ifindex)
        fail(at, "Interface does not exist: " + at.text, Errc::no_such_device);
      fail(at, fmt::format("Could not parse {} '{}'", to_string(type), at.text));
    }
    if (is_sym("/") && (type == DataType::ipv4_addr || type == DataType::ipv6_addr)) {
      const Token slash = next();
      if (!allow_intervals || e.kind != Elem::value) fail(slash, "a prefix is not valid here");
      const Token& len_at = peek();
      auto bits = len_at.kind == TokenKind::word ? parse_number(len_at.text) : std::nullopt;
      if (!bits || *bits > 8u * e.lo.len) fail(len_at, "invalid prefix length " + len_at.text);
      next();
      if (*bits == 8u * e.lo.len) return e;  // a full-length prefix is the address (nft lists it so)
      e.kind = Elem::prefix;
      e.bits = static_cast<std::uint8_t>(*bits);
      e.lo = Prefix{e.lo, e.bits}.interval().lo;  // nft stores the network
    }
    return e;
  }

  bool split_range(DataType type, std::string_view text, Elem& e) {
    for (std::size_t dash = text.find('-'); dash != std::string_view::npos; dash = text.find('-', dash + 1)) {
      auto lo = value_of(type, text.substr(0, dash), false);
      auto hi = value_of(type, text.substr(dash + 1), false);
      if (lo && hi) {
        e.lo = *lo;
        e.hi = *hi;
        return true;
      }
    }
    return false;
  }

  // ---- statements -------------------------------------------------------------

  Statement statement(RuleState& st, const Token& at) {
    const std::string w = next().text;
    if (w == "accept") return Verdict{VerdictKind::accept, {}};
    if (w == "drop") return Verdict{VerdictKind::drop, {}};
    if (w == "continue") return Verdict{VerdictKind::continue_, {}};
    if (w == "return") return Verdict{VerdictKind::return_, {}};
    if (w == "jump" || w == "goto") return Verdict{w == "jump" ? VerdictKind::jump : VerdictKind::goto_, name("chain")};
    if (w == "counter") return counter();
    if (w == "reject") return reject(st);
    if (w == "limit") return limit();
    if (w == "log") return log();
    if (w == "notrack") return Notrack{};
    if (w == "meta" || w == "mark") {
      if (w == "meta") expect_word("mark");
      expect_word("set");
      const Token& v = peek();
      auto k = v.kind == TokenKind::word ? value_of(DataType::mark, v.text, false) : std::nullopt;
      if (!k) fail(v, "Could not parse mark '" + v.text + "'");
      next();
      return MetaMarkSet{static_cast<std::uint32_t>(k->to_uint())};
    }
    if (w == "snat" || w == "dnat" || w == "masquerade" || w == "redirect") return nat(w, st, at);
    fail(at, "syntax error, unexpected " + w);
  }

  std::uint64_t number(std::string_view what, std::uint64_t max) {
    const Token& at = peek();
    auto n = at.kind == TokenKind::word ? parse_number(at.text) : std::nullopt;
    if (!n || *n > max) unexpected(what);
    next();
    return *n;
  }

  Counter counter() {
    Counter c;
    if (accept_word("packets")) {
      c.packets = number("number", UINT64_MAX);
      expect_word("bytes");
      c.bytes = number("number", UINT64_MAX);
    }
    return c;
  }

  Reject reject(const RuleState& st) {
    // In an inet table after an `ip` or `ip6` match, a plain reject is that
    // family's (nft lists it `reject with icmp port-unreachable`).
    Reject r = default_reject(st.family == Family::inet && st.network ? *st.network : st.family);
    if (!accept_word("with")) return r;
    const Token& kind_at = peek();
    if (accept_word("tcp")) {
      expect_word("reset");
      return Reject{RejectKind::tcp_reset, 0};
    }
    if (accept_word("icmp")) {
      r.kind = RejectKind::icmp;
    } else if (accept_word("icmpv6")) {
      r.kind = RejectKind::icmpv6;
    } else if (accept_word("icmpx")) {
      r.kind = RejectKind::icmpx;
    } else {
      unexpected("icmp, icmpv6, icmpx or tcp");
    }
    if (r.kind == RejectKind::icmp && st.family == Family::ip6)
      fail(kind_at, "conflicting protocols specified: ip6 vs. ip");
    if (r.kind == RejectKind::icmpv6 && st.family == Family::ip)
      fail(kind_at, "conflicting protocols specified: ip vs. ip6");
    if (r.kind == RejectKind::icmpx && st.family != Family::inet)
      fail(kind_at, "icmpx is only valid in inet tables");
    accept_word("type");
    const Token& code_at = peek();
    auto code = code_at.kind == TokenKind::word ? reject_code(r.kind, code_at.text) : std::nullopt;
    if (!code) fail(code_at, "invalid reject code " + describe(code_at));
    next();
    r.code = *code;
    return r;
  }

  Limit limit() {
    expect_word("rate");
    Limit l;
    l.over = accept_word("over");
    l.rate = number("rate", UINT32_MAX);
    if (l.rate == 0) fail(peek(), "limit rate must be positive");
    expect_sym("/");
    const Token& unit = peek();
    static constexpr std::pair<std::string_view, RateUnit> kUnits[] = {{"second", RateUnit::second},
                                                                       {"minute", RateUnit::minute},
                                                                       {"hour", RateUnit::hour},
                                                                       {"day", RateUnit::day},
                                                                       {"week", RateUnit::week}};
    bool found = false;
    for (const auto& [n, u] : kUnits)
      if (unit.kind == TokenKind::word && unit.text == n) {
        l.unit = u;
        found = true;
      }
    if (!found) unexpected("second, minute, hour, day or week");
    next();
    if (accept_word("burst")) {
      l.burst = static_cast<std::uint32_t>(number("burst", UINT32_MAX));
      expect_word("packets");
    }
    return l;
  }

  Log log() {
    Log l;
    for (;;) {
      if (accept_word("prefix")) {
        if (peek().kind != TokenKind::string) unexpected("quoted string");
        l.prefix = next().text;
        if (l.prefix->size() > 127) fail(peek(), "log prefix too long (at most 127 bytes)");
      } else if (accept_word("level")) {
        static constexpr std::string_view kLevels[] = {"emerg", "alert", "crit",  "err",  "warn",
                                                       "notice", "info", "debug", "audit"};
        const Token& lv = peek();
        bool found = false;
        for (std::size_t i = 0; i < std::size(kLevels); ++i)
          if (lv.kind == TokenKind::word && lv.text == kLevels[i]) {
            l.level = static_cast<LogLevel>(i);
            found = true;
          }
        if (!found) fail(lv, "invalid log level " + describe(lv));
        next();
      } else {
        return l;
      }
    }
  }

  Nat nat(const std::string& w, RuleState& st, const Token&) {
    Nat n;
    n.kind = w == "snat" ? NatKind::snat : w == "dnat" ? NatKind::dnat : w == "masquerade" ? NatKind::masquerade
                                                                                           : NatKind::redirect;
    const bool to_address = n.kind == NatKind::snat || n.kind == NatKind::dnat;
    n.family = st.family == Family::inet ? st.network.value_or(Family::inet) : st.family;
    if (to_address && (is_word("ip") || is_word("ip6"))) {
      const Token& f = next();
      const Family named = f.text == "ip" ? Family::ip : Family::ip6;
      if (st.family != Family::inet && named != st.family)
        fail(f, fmt::format("conflicting protocols specified: {} vs. {}", to_string(st.family), to_string(named)));
      n.family = named;
    }
    // In an inet table nft lists the family of every snat/dnat, written or
    // implied by an ip/ip6 match (`ip6 daddr … dnat ip6 to …`).
    n.family_explicit = to_address && st.family == Family::inet;
    if (!accept_word("to")) {
      if (to_address) unexpected("to");
      nat_flags(n);
      return n;
    }
    const Token t = nat_target_token();
    std::string_view text = t.text;
    if (!to_address) {
      if (text.empty() || text[0] != ':') fail(t, w + " takes only a port: to :PORT[-PORT]");
      nat_ports(n, text.substr(1), st, t);
    } else {
      if (n.family == Family::inet) fail(t, "specify `" + w + " ip' or '" + w + " ip6' in inet table to disambiguate");
      const std::string_view ports = nat_addresses(n, text, t);
      if (!ports.empty()) nat_ports(n, ports, st, t);
    }
    nat_flags(n);
    return n;
  }

  // nft's nf_nat_flags: `random`, `fully-random`, `persistent`, joined by commas.
  void nat_flags(Nat& n) {
    bool first = true;
    for (;;) {
      if (accept_word("random")) {
        n.random = true;
      } else if (accept_word("fully-random")) {
        n.fully_random = true;
      } else if (accept_word("persistent")) {
        n.persistent = true;
      } else {
        if (!first) unexpected("random, fully-random or persistent");
        return;
      }
      first = false;
      if (!accept_sym(",")) return;
    }
  }

  // The target of snat/dnat/masquerade/redirect as one text: nft's scanner
  // takes `[2001:db8::1] : 80 - 90` and `192.0.2.1 - 192.0.2.9` with
  // spaces, which here are several tokens. They are joined while each
  // continues the one before (a bracket, `-`, `:` or `/` between them).
  Token nat_target_token() {
    Token joined = peek();
    if (joined.kind != TokenKind::word && !is_sym("[")) unexpected("address or :port");
    joined.text.clear();
    bool open = false;
    auto continues = [&](const Token& t) {
      if (joined.text.empty() || open) return true;
      const char last = joined.text.back();
      if (last == '-' || last == ':' || last == '/') return true;
      return t.kind == TokenKind::word && (t.text[0] == '-' || t.text[0] == ':');
    };
    for (;;) {
      const Token& t = peek();
      const bool bracket = t.kind == TokenKind::symbol && (t.text == "[" || (t.text == "]" && open));
      const bool slash = t.kind == TokenKind::symbol && t.text == "/" && !joined.text.empty() && !open;
      if (!(t.kind == TokenKind::word || bracket || slash) || t.line != joined.line || !(slash || continues(t))) break;
      if (bracket) open = t.text == "[";
      joined.text += t.text;
      joined.length = t.column + t.length - joined.column;
      next();
    }
    if (open) unexpected("']'");
    return joined;
  }

  // Reads `text`'s addresses into `n` and returns its ports (after the
  // `:`, empty when none). IPv4: ADDR, ADDR-ADDR, ADDR/LEN, then :PORTS.
  // IPv6: the same, and with ports the addresses in brackets:
  // [ADDR]:PORTS, [ADDR]-[ADDR]:PORTS. A prefix with ports (`ADDR/LEN:P`)
  // is how nft lists a prefix target with ports; nft's own parser refuses
  // it, netns takes it so that its listing reads back.
  std::string_view nat_addresses(Nat& n, std::string_view text, const Token& at) {
    const bool v6 = n.family == Family::ip6;
    const DataType type = v6 ? DataType::ipv6_addr : DataType::ipv4_addr;
    std::string_view ports;
    auto take_ports = [&](std::string_view rest) {
      if (rest.empty()) return;
      if (rest[0] != ':') fail(at, fmt::format("syntax error, unexpected '{}' after the address", rest));
      ports = rest.substr(1);
      if (ports.empty()) fail(at, "syntax error, a port must follow ':'");
    };
    Elem e;
    bool range = false;
    if (const auto slash = text.find('/'); slash != std::string_view::npos) {
      std::string_view len = text.substr(slash + 1);
      const auto colon = len.find(':');
      if (colon != std::string_view::npos) {
        take_ports(len.substr(colon));
        len = len.substr(0, colon);
      }
      auto k = value_of(type, text.substr(0, slash), false);
      auto bits = parse_number(len);
      if (!k || !bits || *bits > 8u * k->len)
        fail(at, fmt::format("Could not parse {} prefix '{}'", to_string(type), text.substr(0, slash + 1 + len.size())));
      const Interval iv = Prefix{*k, static_cast<std::uint8_t>(*bits)}.interval();
      e.lo = iv.lo;
      e.hi = iv.hi;
      range = true;
    } else if (v6 && text[0] == '[') {
      std::string_view rest = bracketed(type, text, e.lo, at);
      e.hi = e.lo;
      if (!rest.empty() && rest[0] == '-') {
        range = true;
        rest.remove_prefix(1);
        if (!rest.empty() && rest[0] == '[') {
          rest = bracketed(type, rest, e.hi, at);
        } else {
          auto k = value_of(type, rest, false);  // `[A]-B`: B runs to the end, no ports
          if (!k) fail(at, fmt::format("Could not parse {} '{}'", to_string(type), rest));
          e.hi = *k;
          rest = {};
        }
      }
      take_ports(rest);
    } else {
      if (text[0] == '[') fail(at, "syntax error, unexpected '['");
      if (!v6) {
        if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
          take_ports(text.substr(colon));
          text = text.substr(0, colon);
        }
      }
      if (auto k = value_of(type, text, false)) {
        e.lo = e.hi = *k;
      } else if (split_range(type, text, e)) {
        range = true;
      } else {
        fail(at, fmt::format("Could not parse {} '{}'", to_string(type), text));
      }
    }
    if (key_less(e.hi, e.lo)) fail(at, "Range has zero or negative size");
    auto to_ip = [&](const Key& k) { return v6 ? IpAddress(k.to_ipv6()) : IpAddress(k.to_ipv4()); };
    n.addr_lo = to_ip(e.lo);
    // A range is kept even when one address wide: nft lists it as a /32 or /128.
    if (range) n.addr_hi = to_ip(e.hi);
    return ports;
  }

  // `[ADDR]…`: the address into `out`, the text after `]` returned.
  std::string_view bracketed(DataType type, std::string_view text, Key& out, const Token& at) {
    const auto close = text.find(']');
    auto k = close == std::string_view::npos ? std::nullopt : value_of(type, text.substr(1, close - 1), false);
    if (!k) fail(at, fmt::format("Could not parse {} '{}'", to_string(type), text.substr(0, close + 1)));
    out = *k;
    return text.substr(close + 1);
  }

  void nat_ports(Nat& n, std::string_view ports, const RuleState& st, const Token& at) {
    Elem p;
    bool range = false;
    if (auto k = value_of(DataType::inet_service, ports, false)) {
      p.lo = p.hi = *k;
    } else if (split_range(DataType::inet_service, ports, p)) {
      range = true;
      if (key_less(p.hi, p.lo)) fail(at, "Range has zero or negative size");
    } else {
      fail(at, "invalid port " + std::string(ports));
    }
    if ((!st.l4 || (*st.l4 != kTcp && *st.l4 != kUdp)) && !st.ported_l4_set)
      fail(at, "transport protocol mapping is only valid after transport protocol match");
    n.port_lo = static_cast<std::uint16_t>(p.lo.to_uint());
    if (range) n.port_hi = static_cast<std::uint16_t>(p.hi.to_uint());  // `:80-80` lists so
  }

  // What nft's delinearisation does to a rule before printing it, done once
  // here so the model holds what the listing shows (and the compiler tests
  // each thing once): a protocol match implied by a later transport match
  // is dropped (`meta l4proto tcp tcp dport 22` is `tcp dport 22`), and
  // a transport's ports compared for equality in the wrong order swap (nft
  // merges them into one load: `tcp dport 1 tcp sport 2` lists as
  // `tcp sport 2 tcp dport 1`; it keeps `ip daddr … ip saddr …` as written).
  static void normalize(Rule& r, Family family) {
    auto& ms = r.matches;
    // In an ip table both `ip protocol` and `meta l4proto` are dependencies;
    // elsewhere only `meta l4proto` (ip protocol in inet is the user's).
    auto kill_dependency = [&](std::size_t before, std::uint8_t l4) {
      for (std::size_t j = before; j-- > 0;) {
        const Match& d = ms[j];
        if (d.field != Field::meta_l4proto && d.field != Field::ip_protocol) continue;
        const Key* k = std::get_if<Key>(&d.operand);
        if (d.op == Op::eq && k != nullptr && k->to_uint() == l4 &&
            (d.field == Field::meta_l4proto || family == Family::ip)) {
          ms.erase(ms.begin() + static_cast<std::ptrdiff_t>(j));
          return true;
        }
        return false;
      }
      return false;
    };
    for (std::size_t i = 0; i < ms.size(); ++i) {
      const std::uint8_t l4 = field_info(ms[i].field).l4proto;
      if (l4 != 0 && kill_dependency(i, l4)) --i;
    }
    // In ip and ip6 a tcp reset takes the TCP match it depends on, but only
    // while no statement stands between them: nft's listing forgets a
    // pending dependency at every statement (`meta l4proto tcp counter
    // reject with tcp reset` keeps it). In inet it always stays.
    if (family != Family::inet && !r.statements.empty())
      if (const auto* rj = std::get_if<Reject>(&r.statements.front()); rj != nullptr && rj->kind == RejectKind::tcp_reset)
        kill_dependency(ms.size(), kTcp);
    for (Match& m : ms)
      if (field_info(m.field).bitmask) simplify_bitmask(m);
    auto eq_key = [](const Match& m) { return m.op == Op::eq && std::holds_alternative<Key>(m.operand); };
    for (std::size_t i = 0; i + 1 < ms.size(); ++i) {
      const Field a = ms[i].field, b = ms[i + 1].field;
      const bool pair = (a == Field::tcp_dport && b == Field::tcp_sport) || (a == Field::udp_dport && b == Field::udp_sport);
      if (pair && eq_key(ms[i]) && eq_key(ms[i + 1])) {
        std::swap(ms[i], ms[i + 1]);
        ++i;
      }
    }
  }

  // What nft makes of a bitmask match once the kernel holds it: `(x & m)
  // == 0` lists as `! m` and `!= 0` as `m`; a mask of every bit is no mask
  // (`tcp flags & 0xff == syn` is `tcp flags == syn`).
  static void simplify_bitmask(Match& m) {
    const std::uint32_t all = field_info(m.field).length >= 4 ? 0xffffffffu : 0xffu;
    if (const auto* mk = std::get_if<Masked>(&m.operand); mk != nullptr && mk->value == 0) {
      m.op = m.op == Op::eq ? Op::ne : Op::eq;
      m.operand = Flags{mk->mask};
    }
    const std::uint8_t len = field_info(m.field).length;
    if (const auto* f = std::get_if<Flags>(&m.operand); f != nullptr && f->mask == all) {
      m.op = m.op == Op::eq ? Op::ne : Op::eq;
      m.operand = Key::of_uint(0, len);
    } else if (const auto* mk = std::get_if<Masked>(&m.operand); mk != nullptr && mk->mask == all) {
      m.operand = Key::of_uint(mk->value, len);
    }
  }

  // ---- the whole script -----------------------------------------------------

  // Where each rule added by this script was written, for errors found
  // only once the script is done.
  std::map<std::tuple<Family, std::string, std::uint64_t>, Token> placed_;

  // Checks that need the finished ruleset, as the kernel's table
  // validation at commit: the jumps from each base chain (a loop, or more
  // than NFT_JUMP_STACK_SIZE levels, is EMLINK; a loop no base chain
  // reaches is allowed), NAT statements reached from a base chain that
  // cannot run them, and the namespace's bounds.
  void finish() {
    std::size_t rules = 0, elements = 0;
    for (const Table& t : rs_.tables) {
      for (const Chain& c : t.chains) {
        rules += c.rules.size();
        for (const Rule& r : c.rules) elements += r.anon_elements();
        if (c.base) {
          visited_.clear();
          validate_from(t, c, *c.base, 0, nullptr);
        }
      }
      for (const auto& s : t.sets) elements += s->elements.size();
    }
    const Token& end = t_.back();
    if (rules > kMaxRules)
      fail(end, fmt::format("Could not process rule: Too many open files in system: {} rules, at most {} per namespace",
                            rules, kMaxRules), Errc::too_many_files_open_in_system);
    if (elements > kMaxSetElements)
      fail(end, fmt::format("Could not process rule: Too many open files in system: {} set elements, at most {} per "
                            "namespace", elements, kMaxSetElements), Errc::too_many_files_open_in_system);
    rs_.rules = rules;
    rs_.set_elements = elements;
  }

  static constexpr int kJumpStackSize = 16;  // the kernel's NFT_JUMP_STACK_SIZE

  const Token& where(const Table& t, const Rule* r) const {
    if (r != nullptr)
      if (auto it = placed_.find({t.family, t.name, r->handle}); it != placed_.end()) return it->second;
    return t_.back();
  }

  // The deepest level each chain was validated at from the current base
  // chain: a visit no deeper finds nothing new, and skipping it keeps chains
  // that jump to one another many times from costing exponential time (a
  // chain is walked at most 16 times). `on_path_` finds a loop at once.
  std::map<const Chain*, int> visited_;
  std::vector<const Chain*> on_path_;

  void validate_from(const Table& t, const Chain& c, const BaseChain& base, int depth, const Rule* via) {
    if (depth >= kJumpStackSize || std::find(on_path_.begin(), on_path_.end(), &c) != on_path_.end())
      fail(where(t, via), "Could not process rule: Too many links: jumps from a base chain loop or nest deeper than 16",
           Errc::too_many_links);
    if (auto [it, fresh] = visited_.try_emplace(&c, depth); !fresh) {
      if (it->second >= depth) return;
      it->second = depth;
    }
    on_path_.push_back(&c);
    for (const Rule& r : c.rules)
      for (const Statement& s : r.statements) {
        if (!statement_fits(s, base))
          fail(where(t, placed_.contains({t.family, t.name, r.handle}) ? &r : via),
               fmt::format("Could not process rule: Operation not supported: {} in chain {} is reached from a {} chain "
                           "at hook {}", statement_name(s), c.name, to_string(base.type), to_string(base.hook)),
               Errc::operation_not_supported);
        if (const auto* v = std::get_if<Verdict>(&s); v != nullptr && !v->chain.empty())
          if (const Chain* next = t.chain(v->chain))
            validate_from(t, *next, base, depth + 1, placed_.contains({t.family, t.name, r.handle}) ? &r : via);
      }
    on_path_.pop_back();
  }
};

}  // namespace

bool apply_script(Ruleset& ruleset, std::string_view script, const DeviceLookup& devices, ScriptError* error) {
  LexError lex;
  std::vector<Token> tokens = tokenize(script, &lex);
  if (tokens.empty()) {
    *error = ScriptError{netns::error(Errc::invalid_argument), lex.line, lex.column, 1, lex.message};
    return false;
  }
  try {
    Parser parser(ruleset, expand_variables(std::move(tokens)), devices);
    parser.script();
  } catch (const Failure& f) {
    *error = f.error;
    return false;
  }
  return true;
}

std::string format_error(std::string_view script, const ScriptError& e) {
  if (e.line == 0) return "Error: " + e.message + "\n";
  std::string_view rest = script;
  for (std::uint32_t l = 1; l < e.line; ++l) {
    const auto nl = rest.find('\n');
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  const std::string_view line = rest.substr(0, rest.find('\n'));
  std::string caret;
  for (std::uint32_t c = 1; c < e.column && c - 1 < line.size(); ++c) caret += line[c - 1] == '\t' ? '\t' : ' ';
  caret.append(std::max<std::uint32_t>(e.length, 1), '^');
  return fmt::format("<cmdline>:{}:{}-{}: Error: {}\n{}\n{}\n", e.line, e.column, e.column + e.length - 1, e.message,
                     line, caret);
}

}  // namespace netns::nft
