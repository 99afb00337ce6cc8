// Choosing a connection's translation (Linux's nf_nat_core.c:
// nf_nat_setup_info, get_unique_tuple, find_best_ips_proto,
// nf_nat_l4proto_unique_tuple; nf_nat_masquerade.c; nf_nat_redirect.c;
// nft_nat's range).
#include <algorithm>
#include <array>
#include <vector>

#include "conntrack/table.hpp"
#include "core/siphash.hpp"
#include "ipv4/stack.hpp"
#include "ipv6/stack.hpp"
#include "nat/nat.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "netns/net.hpp"
#include "nft/ruleset.hpp"
#include "stack/builtins.hpp"

namespace netns::nat {

using conntrack::Dir;
using conntrack::Entry;
using conntrack::Tuple;
using netfilter::Verdict;

namespace {

using Address = std::array<std::uint8_t, 16>;

Address bytes_of(const IpAddress& a) {
  Tuple t;
  t.set_src(a);
  return t.src;
}

std::uint32_t word(const Address& a, std::size_t i) {
  return std::uint32_t{a[4 * i]} << 24 | std::uint32_t{a[4 * i + 1]} << 16 | std::uint32_t{a[4 * i + 2]} << 8 |
         a[4 * i + 3];
}

void set_word(Address& a, std::size_t i, std::uint32_t v) {
  for (std::size_t k = 0; k < 4; ++k) a[4 * i + k] = static_cast<std::uint8_t>(v >> (24 - 8 * k));
}

bool has_ports(std::uint8_t protocol) { return protocol == conntrack::kProtoTcp || protocol == conntrack::kProtoUdp; }

// What one setup searches: the namespace's table, for tuples taken.
class Search {
 public:
  Search(Net& net, conntrack::Table& table, const Range& range, ManipType type)
      : net_(net), table_(table), range_(range), type_(type) {}

  bool get_unique_tuple(Tuple& t, const Tuple& orig);

 private:
  // Linux's nf_nat_used_tuple: an entry already answers to this tuple's reply.
  bool used(const Tuple& t) {
    auto reply = conntrack::invert(t);
    return !reply || table_.find(*reply, net_.host().now()) != nullptr;
  }
  bool address_in_range(const Address& a) const {
    const Address lo = bytes_of(range_.min_addr), hi = bytes_of(range_.max_addr);
    return lo <= a && a <= hi;
  }
  // The port (or ICMP id) this manip changes.
  std::uint16_t& key(Tuple& t) const {
    if (t.is_icmp()) return t.sport;  // the id is both directions'
    return type_ == ManipType::src ? t.sport : t.dport;
  }
  bool l4_in_range(Tuple& t) const {
    if (!t.is_icmp() && !has_ports(t.protocol)) return true;
    const std::uint16_t k = key(t);
    return range_.min_port <= k && k <= range_.max_port;
  }
  // Linux's nf_in_range, for source NAT: the original as it is fits the range.
  bool in_range(Tuple& t) const {
    if (range_.map_ips && !address_in_range(t.src)) return false;
    return !range_.proto_specified || l4_in_range(t);
  }
  void choose_address(Tuple& t) const;
  bool choose_key(Tuple& t);
  bool mapped_source(Tuple& t, const Tuple& orig) const;

  Net& net_;
  conntrack::Table& table_;
  const Range& range_;
  ManipType type_;
};

// False only when a search for a free port or id ran out. A tuple that no
// search could change (one port, destination NAT without ports, a protocol
// without them) is left as it is, taken or not, as Linux leaves it: a later
// manip may still move it (the null binding at postrouting), else confirm
// refuses the clash.
bool Search::get_unique_tuple(Tuple& t, const Tuple& orig) {
  // Source NAT keeps the original when it may, or else the mapping the
  // same source already has: a client keeps its outside port towards
  // every destination (what STUN and hole punching rely on).
  if (type_ == ManipType::src && !range_.random) {
    t = orig;
    if (in_range(t)) {
      if (!used(t)) return true;
    } else if (mapped_source(t, orig) && !used(t)) {
      return true;
    }
  }
  t = orig;
  choose_address(t);
  if (range_.random) return choose_key(t);
  if (range_.proto_specified) {
    if (l4_in_range(t) && (range_.min_port == range_.max_port || !used(t))) return true;
  } else if (!used(t)) {
    return true;
  }
  return choose_key(t);
}

// Linux's find_appropriate_src: the translated source of another
// connection from orig's source (address, port, protocol), towards orig's
// destination, when it is in the range.
bool Search::mapped_source(Tuple& t, const Tuple& orig) const {
  bool found = false;
  table_.for_each_by_source(orig, [&](const Entry& e) {
    const Tuple& o = e.tuple(Dir::original);
    if (o.family != orig.family || o.protocol != orig.protocol || o.src != orig.src || o.sport != orig.sport) {
      return false;
    }
    const Tuple& reply = e.tuple(Dir::reply);
    t = orig;
    t.src = reply.dst;
    t.sport = t.is_icmp() ? reply.sport : reply.dport;  // an echo's id is both directions'
    found = in_range(t);
    return found;
  });
  return found;
}

// Linux's find_best_ips_proto: an address of the range hashed from the
// connection's addresses, so a client keeps its translated address across
// connections (servers that pin a session to an address like that);
// `persistent` hashes the source alone, so it keeps it towards every
// destination too.
void Search::choose_address(Tuple& t) const {
  if (!range_.map_ips) return;
  Address& var = type_ == ManipType::src ? t.src : t.dst;
  const Address lo = bytes_of(range_.min_addr), hi = bytes_of(range_.max_addr);
  if (lo == hi) {
    var = lo;
    return;
  }
  const std::size_t words = t.family == Family::ipv4 ? 1 : 4;
  const SipKey k = SipKey::derive(net_.host().secret(), kSipPurposeNat + net_.id());
  std::array<std::byte, 20> m{};
  for (std::size_t i = 0; i < 4 * words; ++i) m[i] = std::byte{t.src[i]};
  const std::uint32_t last_dst = range_.persistent ? 0 : word(t.dst, words - 1);
  for (std::size_t i = 0; i < 4; ++i) m[16 + i] = static_cast<std::byte>(last_dst >> (8 * i));
  auto j = static_cast<std::uint32_t>(siphash13(k, m));
  bool full_range = false;
  for (std::size_t i = 0; i < words; ++i) {
    // While the leading words sit at the range's top, the next is bounded by it too.
    const std::uint64_t min = full_range ? 0 : word(lo, i);
    const std::uint64_t dist = full_range ? std::uint64_t{1} << 32 : std::uint64_t{word(hi, i)} - min + 1;
    const auto v = static_cast<std::uint32_t>(min + (std::uint64_t{j} * dist >> 32));
    set_word(var, i, v);
    if (v != word(hi, i)) full_range = true;
    if (!range_.persistent) j ^= word(t.dst, i);
  }
}

// Linux's nf_nat_l4proto_unique_tuple: a free port (or ICMP id) of the
// range, or of the original port's class, from a random start; at most
// kMaxAttempts tries, then rounds of half as many from a new start.
bool Search::choose_key(Tuple& t) {
  std::uint32_t min = 0, size = 0;
  if (t.is_icmp()) {
    min = range_.proto_specified ? range_.min_port : 0;
    size = range_.proto_specified ? std::uint32_t{range_.max_port} - min + 1 : 65536;
  } else if (!has_ports(t.protocol)) {
    return true;
  } else if (range_.proto_specified) {
    min = range_.min_port;
    size = std::uint32_t{range_.max_port} - min + 1;
  } else if (type_ == ManipType::dst) {
    return true;  // destination NAT without ports keeps the port
  } else if (key(t) < 1024) {
    // Ports below 512 and 600-1023 stay in their class (rsh, rlogin and
    // friends trust privileged source ports).
    min = key(t) < 512 ? 1 : 600;
    size = key(t) < 512 ? 511 : 1023 - 600 + 1;
  } else {
    min = 1024;
    size = 65535 - 1024 + 1;
  }
  const bool random = type_ != ManipType::dst || range_.random;
  auto off = static_cast<std::uint32_t>(random ? net_.host().next_random() & 0xffff : 0);
  std::uint32_t attempts = std::min(size, kMaxAttempts);
  for (;;) {
    for (std::uint32_t i = 0; i < attempts; ++i, ++off) {
      key(t) = static_cast<std::uint16_t>(min + off % size);
      if (!used(t)) return true;
    }
    if (attempts >= size || attempts < 16) return false;
    attempts /= 2;
    off = static_cast<std::uint32_t>(net_.host().next_random() & 0xffff);
  }
}

conntrack::Table* table_of(Net& net) {
  conntrack::ConntrackNet* s = net.host().builtins().conntrack().find(net);
  return s != nullptr ? &s->table() : nullptr;
}

Range range_of(const nft::Nat& stmt) {
  Range r;
  if (stmt.addr_lo) {
    r.map_ips = true;
    r.min_addr = *stmt.addr_lo;
    r.max_addr = stmt.addr_hi.value_or(*stmt.addr_lo);
  }
  if (stmt.port_lo) {
    r.proto_specified = true;
    r.min_port = *stmt.port_lo;
    r.max_port = stmt.port_hi.value_or(*stmt.port_lo);
  }
  r.random = stmt.random || stmt.fully_random;
  r.persistent = stmt.persistent;
  return r;
}

// The address `dev` sends from towards `dst` (inet_select_addr, ipv6_dev_get_saddr).
std::optional<IpAddress> device_address(Net& net, const Device& dev, const IpAddress& dst) {
  if (dst.is_v4()) {
    const Ipv4Address a = net.host().builtins().ipv4().select_source(net, dev, dst.to_v4());
    if (a.is_unspecified()) return std::nullopt;
    return a;
  }
  auto a = net.host().builtins().ipv6().select_source(net, dev, dst.to_v6());
  if (!a) return std::nullopt;
  return *a;
}

// An address of the namespace (either family's layer may be gone at teardown).
bool is_local(Net& net, const IpAddress& a) {
  return a.is_v4() ? net.host().builtins().ipv4().is_local(net, a.to_v4())
                   : net.host().builtins().ipv6().is_local(net, a.to_v6());
}

Range single_address(Range r, const IpAddress& a) {
  r.map_ips = true;
  r.min_addr = r.max_addr = a;
  return r;
}

}  // namespace

bool initialized(const Entry& e, ManipType m) {
  return e.test(m == ManipType::src ? conntrack::kStatusSrcNatDone : conntrack::kStatusDstNatDone);
}

Verdict setup(Net& net, Entry& e, const Range& range, ManipType m) {
  if (e.confirmed() || initialized(e, m)) return Verdict::accept;
  conntrack::Table* table = table_of(net);
  auto current = conntrack::invert(e.tuple(Dir::reply));  // the original as earlier manips left it
  if (table == nullptr || !current) return Verdict::drop;
  if ((range.map_ips && (range.min_addr.family() != e.family() || range.max_addr < range.min_addr)) ||
      (range.proto_specified && range.max_port < range.min_port)) {
    return Verdict::drop;  // nft refuses such ranges at load; never half applied
  }
  Tuple chosen;
  if (!Search(net, *table, range, m).get_unique_tuple(chosen, *current)) {
    ++table->stats().insert_failed;  // where Linux counts the clash it meets at confirm
    return Verdict::drop;
  }
  if (chosen != *current) {
    table->set_reply(e, *conntrack::invert(chosen));
    e.status |= m == ManipType::src ? conntrack::kStatusSrcNat : conntrack::kStatusDstNat;
  }
  e.status |= m == ManipType::src ? conntrack::kStatusSrcNatDone : conntrack::kStatusDstNatDone;
  if (m == ManipType::src) table->link_by_source(e);
  return Verdict::accept;
}

Verdict null_binding(Net& net, Entry& e, netfilter::Hook hook) {
  const ManipType m = manip_of(hook);
  const Tuple& reply = e.tuple(Dir::reply);
  const IpAddress own = m == ManipType::src ? reply.dst_address() : reply.src_address();
  return setup(net, e, single_address(Range{}, own), m);
}

Verdict masquerade(Entry& e, const Range& range, const netfilter::HookState& state) {
  if (state.out == nullptr) return Verdict::drop;
  // A source of 0.0.0.0 (a DHCP client) is left alone.
  if (e.family() == Family::ipv4 && e.tuple(Dir::original).src_address().is_unspecified()) return Verdict::accept;
  auto src = device_address(state.net, *state.out, e.tuple(Dir::reply).src_address());
  if (!src) return Verdict::drop;
  e.masq_index = state.out->ifindex();
  return setup(state.net, e, single_address(range, *src), ManipType::src);
}

void forget(Net& net, Entry& e) {
  if (conntrack::Table* table = table_of(net)) table->kill(e);
}

void forget_masqueraded(Net& net, const Device& dev, bool stale_only) {
  conntrack::Table* table = table_of(net);
  if (table == nullptr) return;
  std::vector<Entry*> gone;
  table->for_each([&](Entry& e) {
    if (e.masq_index != dev.ifindex()) return;
    if (stale_only && is_local(net, e.tuple(Dir::reply).dst_address())) return;
    gone.push_back(&e);
  });
  for (Entry* e : gone) table->kill(*e);
}

Verdict redirect(Entry& e, const Range& range, const netfilter::HookState& state) {
  std::optional<IpAddress> dst;
  if (state.hook == netfilter::Hook::output) {
    dst = e.family() == Family::ipv4 ? IpAddress(Ipv4Address::loopback()) : IpAddress(Ipv6Address::loopback());
  } else if (state.in != nullptr) {
    dst = device_address(state.net, *state.in, e.tuple(Dir::original).src_address());
  }
  if (!dst) return Verdict::drop;
  return setup(state.net, e, single_address(range, *dst), ManipType::dst);
}

std::optional<Verdict> apply(Entry& e, const nft::Nat& stmt, const netfilter::HookState& state) {
  const bool v4 = e.family() == Family::ipv4;
  if (stmt.family_explicit && (stmt.family == nft::Family::ip) != v4) return std::nullopt;
  if (stmt.addr_lo && stmt.addr_lo->family() != e.family()) return std::nullopt;
  const Range r = range_of(stmt);
  switch (stmt.kind) {
    case nft::NatKind::snat: return setup(state.net, e, r, ManipType::src);
    case nft::NatKind::dnat: return setup(state.net, e, r, ManipType::dst);
    case nft::NatKind::masquerade: return masquerade(e, r, state);
    case nft::NatKind::redirect: return redirect(e, r, state);
  }
  return Verdict::drop;
}

}  // namespace netns::nat
