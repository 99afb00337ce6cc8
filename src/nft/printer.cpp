#include "nft/printer.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "nft/symbols.hpp"

namespace netns::nft {

namespace {

std::string print_value(DataType type, const Key& k) {
  switch (type) {
    case DataType::ipv4_addr: return k.to_ipv4().to_string();
    case DataType::ipv6_addr: return k.to_ipv6().to_string();
    case DataType::ifname: return fmt::format("\"{}\"", k.to_ifname());
    case DataType::mark: return fmt::format("{:#010x}", k.to_uint());
    default: break;
  }
  const auto v = static_cast<std::uint32_t>(k.to_uint());
  if (auto n = symbol_name(type, v)) return std::string(*n);
  if (is_bitmask(type)) return fmt::format("{:#x}", v);
  return std::to_string(v);
}

// The prefix length when [lo, hi] is exactly one prefix, as nft shows
// interval elements that are.
std::optional<std::uint8_t> as_prefix(const Interval& iv) {
  const std::size_t n = iv.lo.len;
  std::size_t bits = 8 * n;
  // Count the trailing host bits: lo has them 0 and hi has them 1.
  std::size_t host = 0;
  for (std::size_t i = n; i-- > 0;) {
    const std::uint8_t lo = iv.lo.bytes[i], hi = iv.hi.bytes[i];
    if (lo == 0 && hi == 0xff) {
      host += 8;
      continue;
    }
    int b = 0;
    while (b < 8 && ((lo >> b) & 1) == 0 && ((hi >> b) & 1) == 1) ++b;
    host += static_cast<std::size_t>(b);
    break;
  }
  const std::size_t plen = bits - host;
  Prefix p{iv.lo, static_cast<std::uint8_t>(plen)};
  if (p.interval() == iv) return static_cast<std::uint8_t>(plen);
  return std::nullopt;
}

// One flag bit by name, or in hex when it has none.
std::string bit_name(DataType type, std::uint32_t bit) {
  if (auto n = symbol_name(type, bit)) return std::string(*n);
  return fmt::format("{:#x}", bit);
}

// The bits of `v` in bit order joined by `sep`: `syn,ack` in a flag list,
// `established | 0x10` for a value of several bits (nft splits it into an
// OR of its bits).
std::string bits_joined(DataType type, std::uint32_t v, std::string_view sep) {
  if (v == 0) return "0x0";
  std::string out;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1) {
    if ((v & bit) == 0) continue;
    if (!out.empty()) out += sep;
    out += bit_name(type, bit);
  }
  return out;
}

std::string flag_names(DataType type, std::uint32_t v) { return bits_joined(type, v, ","); }

bool several_bits(std::uint32_t v) { return (v & (v - 1)) != 0; }

// `tcp flags & syn == syn`: one bit, equal to the mask, which nft lists in
// this form rather than as `syn / syn`.
bool single_bit_mask(const Masked& x) { return x.value == x.mask && x.mask != 0 && !several_bits(x.mask); }

// The sort order of nft's listing: ifnames are compared as host-endian
// integers (the last byte weighs most), everything else numerically.
bool print_less(DataType type, const Interval& a, const Interval& b) {
  if (is_bitmask(type)) {
    // nft sorts an OR of bits by its first operand, the lowest bit (ties
    // keep the kernel's set order, which netns does not know: value order).
    auto lowest = [](const Key& k) {
      const auto v = static_cast<std::uint32_t>(k.to_uint());
      return v & (~v + 1);
    };
    return lowest(a.lo) < lowest(b.lo);
  }
  if (type != DataType::ifname) return key_less(a.lo, b.lo);
  for (std::size_t i = 16; i-- > 0;)
    if (a.lo.bytes[i] != b.lo.bytes[i]) return a.lo.bytes[i] < b.lo.bytes[i];
  return false;
}

// nft's calculate_delim: how many elements of a named set share a line.
std::size_t per_line(DataType type) {
  switch (type) {
    case DataType::inet_service:
    case DataType::inet_proto:
    case DataType::mark:
    case DataType::ifindex:
    case DataType::tcp_flag: return 5;
    case DataType::ipv4_addr:
    case DataType::ct_state:
    case DataType::ct_status:
    case DataType::pkttype: return 2;
    default: return 1;
  }
}

std::string print_elements(DataType type, std::vector<Interval> elems, bool named) {
  std::stable_sort(elems.begin(), elems.end(),
                   [type](const Interval& a, const Interval& b) { return print_less(type, a, b); });
  std::string out = "{ ";
  const std::size_t line = per_line(type);
  std::size_t count = 0;
  for (std::size_t i = 0; i < elems.size(); ++i) {
    if (i > 0) {
      if (!named || count < line) {
        out += ", ";
      } else {
        out += ",\n\t\t\t     ";
        count = 0;
      }
    }
    out += print_interval(type, elems[i]);
    ++count;
  }
  return out + " }";
}

Key address_key(const IpAddress& a) { return a.is_v4() ? Key::of_ipv4(a.to_v4()) : Key::of_ipv6(a.to_v6()); }

// As nft lists a NAT target: a range that is exactly a prefix as the
// prefix (even one address wide: `192.0.2.1/32`), and IPv6 addresses in
// brackets when ports follow (`[2001:db8::1]-[2001:db8::2]:80`) but not a
// prefix (`2001:db8::/126:80`, which nft's own parser refuses).
std::string nat_addresses(const Nat& n) {
  const bool brackets = n.port_lo.has_value() && !n.addr_lo->is_v4();
  auto address = [&](const IpAddress& a) { return brackets ? "[" + a.to_string() + "]" : a.to_string(); };
  if (!n.addr_hi) return address(*n.addr_lo);
  if (auto bits = as_prefix({address_key(*n.addr_lo), address_key(*n.addr_hi)}))
    return fmt::format("{}/{}", n.addr_lo->to_string(), *bits);
  return address(*n.addr_lo) + "-" + address(*n.addr_hi);
}

class Printer {
 public:
  Printer(const Table& t, const std::function<std::string(int)>& ifname_of) : t_(t), ifname_of_(ifname_of) {}

  std::string rule(const Rule& r) const {
    std::vector<std::string> parts;
    for (const Match& m : r.matches) parts.push_back(match(m));
    for (const Statement& s : r.statements) parts.push_back(std::visit([&](const auto& x) { return stmt(x); }, s));
    std::string out;
    for (const auto& p : parts) {
      if (!out.empty()) out += ' ';
      out += p;
    }
    if (!r.comment.empty()) out += fmt::format(" comment \"{}\"", r.comment);
    return out;
  }

 private:
  const Table& t_;
  const std::function<std::string(int)>& ifname_of_;

  std::string value(Field f, const Key& k) const {
    const FieldInfo& fi = field_info(f);
    if (fi.type == DataType::ifindex) {
      std::string n = ifname_of_ ? ifname_of_(static_cast<int>(k.to_uint())) : std::string();
      return n.empty() ? std::to_string(k.to_uint()) : fmt::format("\"{}\"", n);
    }
    return print_value(fi.type, k);
  }

  // The operator before a bitmask field's operand: `! ` for a flag match
  // that must not hold; none where the operand prints its own.
  static std::string_view bitmask_op(const Match& m, std::string_view op) {
    if (std::holds_alternative<Flags>(m.operand) && m.op == Op::ne) return "! ";
    if (std::holds_alternative<Key>(m.operand) && (m.op == Op::eq || m.op == Op::ne)) return "";
    if (const auto* x = std::get_if<Masked>(&m.operand); x != nullptr && single_bit_mask(*x)) return "";
    return op;
  }

  std::string match(const Match& m) const {
    const FieldInfo& fi = field_info(m.field);
    static constexpr std::string_view kOps[] = {"", "!= ", "< ", "> ", "<= ", ">= "};
    std::string_view op = kOps[static_cast<int>(m.op)];
    if (fi.bitmask) op = bitmask_op(m, op);
    std::string out = std::string(fi.name) + " " + std::string(op);
    struct Visitor {
      const Printer& p;
      const Match& m;
      const FieldInfo& fi;
      std::string operator()(const Key& k) const {
        if (fi.bitmask && (m.op == Op::eq || m.op == Op::ne)) return exact(static_cast<std::uint32_t>(k.to_uint()));
        return p.value(m.field, k);
      }
      // An exact value: `== established`, `== 0x10`. nft lists a ct value of
      // several bits as their OR and without `==` (`ct state established |
      // related`, which its parser then reads as a flag match: nft 1.0.6's
      // listing does not round-trip there, and netns's mirrors it); a tcp
      // flags value of several bits is in hex (`tcp flags == 0x12`).
      std::string exact(std::uint32_t v) const {
        const std::string eq = m.op == Op::eq ? "== " : "!= ";
        if (fi.type == DataType::tcp_flag || !several_bits(v)) return eq + print_value(fi.type, Key::of_uint(v, fi.length));
        return (m.op == Op::ne ? "!= " : "") + bits_joined(fi.type, v, " | ");
      }
      std::string operator()(const Prefix& x) const {
        if (fi.type == DataType::ifname) return fmt::format("\"{}*\"", x.address.to_ifname());
        return fmt::format("{}/{}", print_value(fi.type, x.address), x.bits);
      }
      std::string operator()(const Range& r) const {
        return print_value(fi.type, r.lo) + "-" + print_value(fi.type, r.hi);
      }
      std::string operator()(const AnonSet& s) const { return print_elements(fi.type, s.elements, false); }
      std::string operator()(const SetRef& r) const { return "@" + r.name; }
      std::string operator()(const Flags& f) const { return flag_names(fi.type, f.mask); }
      std::string operator()(const Masked& x) const {
        // `(x & syn) == syn` keeps its form in nft's listing: one bit, equal to the mask.
        if (single_bit_mask(x))
          return fmt::format("& {} {} {}", bit_name(fi.type, x.mask), m.op == Op::ne ? "!=" : "==",
                             bit_name(fi.type, x.value));
        return flag_names(fi.type, x.value) + " / " + flag_names(fi.type, x.mask);
      }
    };
    return out + std::visit(Visitor{*this, m, fi}, m.operand);
  }

  std::string stmt(const Verdict& v) const {
    switch (v.kind) {
      case VerdictKind::accept: return "accept";
      case VerdictKind::drop: return "drop";
      case VerdictKind::continue_: return "continue";
      case VerdictKind::return_: return "return";
      case VerdictKind::jump: return "jump " + v.chain;
      case VerdictKind::goto_: return "goto " + v.chain;
    }
    return {};
  }
  std::string stmt(const Reject& r) const {
    const Reject d = default_reject(t_.family);
    if (r.kind == d.kind && r.code == d.code) return "reject";
    if (r.kind == RejectKind::tcp_reset) return "reject with tcp reset";
    static constexpr std::string_view kKinds[] = {"icmp", "icmpv6", "icmpx"};
    auto name = reject_code_name(r.kind, r.code);
    return fmt::format("reject with {} {}", kKinds[static_cast<int>(r.kind)],
                       name ? std::string(*name) : std::to_string(r.code));
  }
  std::string stmt(const Counter& c) const { return fmt::format("counter packets {} bytes {}", c.packets, c.bytes); }
  std::string stmt(const Limit& l) const {
    static constexpr std::string_view kUnits[] = {"second", "minute", "hour", "day", "week"};
    std::string out = fmt::format("limit rate {}{}/{}", l.over ? "over " : "", l.rate, kUnits[static_cast<int>(l.unit)]);
    if (l.burst != 5) out += fmt::format(" burst {} packets", l.burst);
    return out;
  }
  std::string stmt(const Log& l) const {
    static constexpr std::string_view kLevels[] = {"emerg", "alert", "crit", "err", "warn",
                                                   "notice", "info", "debug", "audit"};
    std::string out = "log";
    if (l.prefix) out += fmt::format(" prefix \"{}\"", *l.prefix);
    if (l.level != LogLevel::warn) out += fmt::format(" level {}", kLevels[static_cast<int>(l.level)]);
    return out;
  }
  std::string stmt(const MetaMarkSet& m) const { return fmt::format("meta mark set {:#010x}", m.mark); }
  std::string stmt(const Notrack&) const { return "notrack"; }
  std::string stmt(const Nat& n) const {
    static constexpr std::string_view kNames[] = {"snat", "dnat", "masquerade", "redirect"};
    std::string out(kNames[static_cast<int>(n.kind)]);
    if (n.family_explicit) out += n.family == Family::ip ? " ip" : " ip6";
    std::string to;
    if (n.addr_lo) to = nat_addresses(n);
    if (n.port_lo) {
      to += ":" + std::to_string(*n.port_lo);
      if (n.port_hi) to += "-" + std::to_string(*n.port_hi);
    }
    if (!to.empty()) out += " to " + to;
    // print_nf_nat_flags' order.
    const char* sep = " ";
    for (const auto& [on, name] : {std::pair{n.random, "random"}, std::pair{n.fully_random, "fully-random"},
                                   std::pair{n.persistent, "persistent"}}) {
      if (!on) continue;
      out += sep;
      out += name;
      sep = ",";
    }
    return out;
  }
};

std::string handle_note(bool handles, std::uint64_t h) { return handles ? fmt::format(" # handle {}", h) : std::string(); }

std::string print_set(const Set& s, bool handles) {
  std::string out =
      fmt::format("\tset {} {{{}\n\t\ttype {}\n", s.name, handle_note(handles, s.handle), to_string(s.type));
  if (s.constant || s.interval) {
    out += "\t\tflags ";
    if (s.constant) out += s.interval ? "constant," : "constant";
    if (s.interval) out += "interval";
    out += '\n';
  }
  if (!s.elements.empty()) out += "\t\telements = " + print_elements(s.type, s.elements, true) + '\n';
  return out + "\t}\n";
}

}  // namespace

std::string print_interval(DataType type, const Interval& iv) {
  if (iv.lo == iv.hi && is_bitmask(type)) return bits_joined(type, static_cast<std::uint32_t>(iv.lo.to_uint()), " | ");
  if (iv.lo == iv.hi) return print_value(type, iv.lo);
  // Only addresses (nft's DTYPE_F_PREFIX) and interface wildcards print as prefixes.
  const bool prefixable = type == DataType::ipv4_addr || type == DataType::ipv6_addr || type == DataType::ifname;
  if (auto bits = prefixable ? as_prefix(iv) : std::nullopt) {
    if (type == DataType::ifname) return fmt::format("\"{}*\"", iv.lo.to_ifname());
    return fmt::format("{}/{}", print_value(type, iv.lo), *bits);
  }
  return print_value(type, iv.lo) + "-" + print_value(type, iv.hi);
}

std::string print_ruleset(const Ruleset& rs, const std::function<std::string(int)>& ifname_of, bool handles) {
  std::string out;
  for (const Table& t : rs.tables) {
    out += fmt::format("table {} {} {{{}\n", to_string(t.family), t.name, handle_note(handles, t.handle));
    bool first = true;
    auto separate = [&] {
      if (!first) out += '\n';
      first = false;
    };
    for (const auto& s : t.sets) {
      separate();
      out += print_set(*s, handles);
    }
    const Printer p(t, ifname_of);
    for (const Chain& c : t.chains) {
      separate();
      out += fmt::format("\tchain {} {{{}\n", c.name, handle_note(handles, c.handle));
      if (c.base)
        out += fmt::format("\t\ttype {} hook {} priority {}; policy {};\n", to_string(c.base->type),
                           to_string(c.base->hook), priority_to_string(c.base->priority, c.base->hook),
                           c.base->policy == Policy::accept ? "accept" : "drop");
      for (const Rule& r : c.rules) out += "\t\t" + p.rule(r) + handle_note(handles, r.handle) + '\n';
      out += "\t}\n";
    }
    out += "}\n";
  }
  return out;
}

}  // namespace netns::nft
