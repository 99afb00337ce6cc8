#include "nft/ruleset.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace netns::nft {

Key Key::of_uint(std::uint64_t value, std::uint8_t len) {
  Key k;
  k.len = len;
  for (int i = len - 1; i >= 0; --i, value >>= 8) k.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(value);
  return k;
}

Key Key::of_ipv4(Ipv4Address a) { return of_uint(a.value, 4); }

Key Key::of_ipv6(const Ipv6Address& a) {
  Key k;
  k.len = 16;
  std::copy(a.bytes().begin(), a.bytes().end(), k.bytes.begin());
  return k;
}

Key Key::of_ifname(std::string_view name) {
  Key k;
  k.len = 16;
  std::memcpy(k.bytes.data(), name.data(), std::min<std::size_t>(name.size(), 15));
  return k;
}

std::uint64_t Key::to_uint() const {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < len && i < 8; ++i) v = v << 8 | bytes[i];
  return v;
}

Ipv4Address Key::to_ipv4() const { return Ipv4Address{static_cast<std::uint32_t>(to_uint())}; }

Ipv6Address Key::to_ipv6() const {
  Ipv6Address::Bytes b{};
  std::copy(bytes.begin(), bytes.end(), b.begin());
  return Ipv6Address{b};
}

std::string_view Key::to_ifname() const {
  const auto* p = reinterpret_cast<const char*>(bytes.data());
  return {p, strnlen(p, 16)};
}

bool key_less(const Key& a, const Key& b) { return std::memcmp(a.bytes.data(), b.bytes.data(), a.len) < 0; }

Interval Prefix::interval() const {
  Interval iv{address, address};
  for (std::size_t i = 0; i < address.len; ++i) {
    const int keep = static_cast<int>(bits) - 8 * static_cast<int>(i);
    const std::uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : static_cast<std::uint8_t>(0xff00 >> keep);
    iv.lo.bytes[i] = static_cast<std::uint8_t>(address.bytes[i] & mask);
    iv.hi.bytes[i] = static_cast<std::uint8_t>(address.bytes[i] | ~mask);
  }
  return iv;
}

namespace {

constexpr FieldInfo kFields[] = {
    {"iifname", DataType::ifname, 16, false, Family::inet, 0},
    {"oifname", DataType::ifname, 16, false, Family::inet, 0},
    {"iif", DataType::ifindex, 4, false, Family::inet, 0},
    {"oif", DataType::ifindex, 4, false, Family::inet, 0},
    {"ip saddr", DataType::ipv4_addr, 4, false, Family::ip, 0},
    {"ip daddr", DataType::ipv4_addr, 4, false, Family::ip, 0},
    {"ip protocol", DataType::inet_proto, 1, false, Family::ip, 0},
    {"ip6 saddr", DataType::ipv6_addr, 16, false, Family::ip6, 0},
    {"ip6 daddr", DataType::ipv6_addr, 16, false, Family::ip6, 0},
    {"meta l4proto", DataType::inet_proto, 1, false, Family::inet, 0},
    {"tcp sport", DataType::inet_service, 2, false, Family::inet, kTcp},
    {"tcp dport", DataType::inet_service, 2, false, Family::inet, kTcp},
    {"udp sport", DataType::inet_service, 2, false, Family::inet, kUdp},
    {"udp dport", DataType::inet_service, 2, false, Family::inet, kUdp},
    {"tcp flags", DataType::tcp_flag, 1, true, Family::inet, kTcp},
    {"icmp type", DataType::icmp_type, 1, false, Family::ip, kIcmp},
    {"icmpv6 type", DataType::icmpv6_type, 1, false, Family::ip6, kIcmpv6},
    {"ct state", DataType::ct_state, 4, true, Family::inet, 0},
    {"ct status", DataType::ct_status, 4, true, Family::inet, 0},
    {"meta mark", DataType::mark, 4, false, Family::inet, 0},
    {"meta pkttype", DataType::pkttype, 1, false, Family::inet, 0},
};

}  // namespace

const FieldInfo& field_info(Field f) { return kFields[static_cast<std::size_t>(f)]; }

std::size_t Rule::anon_elements() const {
  std::size_t n = 0;
  for (const Match& m : matches)
    if (const auto* s = std::get_if<AnonSet>(&m.operand)) n += s->elements.size();
  return n;
}

Reject default_reject(Family f) {
  switch (f) {
    case Family::ip: return {RejectKind::icmp, 3};
    case Family::ip6: return {RejectKind::icmpv6, 4};
    case Family::inet: return {RejectKind::icmpx, 1};
  }
  return {};
}

Chain* Table::chain(std::string_view n) {
  for (Chain& c : chains)
    if (c.name == n) return &c;
  return nullptr;
}

const Chain* Table::chain(std::string_view n) const { return const_cast<Table*>(this)->chain(n); }

const Set* Table::set(std::string_view n) const {
  for (const auto& s : sets)
    if (s->name == n) return s.get();
  return nullptr;
}

Set* Table::set_for_write(std::string_view n) {
  for (auto& s : sets) {
    if (s->name != n) continue;
    // Shared with the live ruleset (or an older copy): clone once; from then
    // on this transaction holds the only reference and writes in place.
    if (s.use_count() > 1) s = std::make_shared<Set>(*s);
    // Every Set is created non-const (here and by the parser), so writing
    // through the unshared pointer is sound.
    return const_cast<Set*>(s.get());
  }
  return nullptr;
}

Table* Ruleset::table(Family f, std::string_view n) {
  for (Table& t : tables)
    if (t.family == f && t.name == n) return &t;
  return nullptr;
}

const Table* Ruleset::table(Family f, std::string_view n) const { return const_cast<Ruleset*>(this)->table(f, n); }

std::string_view to_string(Family f) {
  switch (f) {
    case Family::ip: return "ip";
    case Family::ip6: return "ip6";
    case Family::inet: return "inet";
  }
  return "?";
}

std::string_view to_string(ChainType t) { return t == ChainType::filter ? "filter" : "nat"; }

std::string_view to_string(Hook h) {
  static constexpr std::string_view kNames[] = {"prerouting", "input", "forward", "output", "postrouting"};
  return kNames[static_cast<std::size_t>(h)];
}

std::string_view to_string(DataType t) {
  static constexpr std::string_view kNames[] = {"ipv4_addr", "ipv6_addr", "inet_service", "inet_proto",
                                                "ifname",    "iface_index", "mark",       "icmp_type",
                                                "icmpv6_type", "ct_state", "ct_status",  "pkt_type",
                                                "tcp_flag"};
  return kNames[static_cast<std::size_t>(t)];
}

std::optional<Family> family_from(std::string_view s) {
  if (s == "ip") return Family::ip;
  if (s == "ip6") return Family::ip6;
  if (s == "inet") return Family::inet;
  return std::nullopt;
}

std::optional<Hook> hook_from(std::string_view s) {
  for (int h = 0; h < 5; ++h)
    if (to_string(static_cast<Hook>(h)) == s) return static_cast<Hook>(h);
  return std::nullopt;
}

std::optional<DataType> set_type_from(std::string_view s) {
  for (int t = 0; t <= static_cast<int>(DataType::tcp_flag); ++t)
    if (to_string(static_cast<DataType>(t)) == s) return static_cast<DataType>(t);
  return std::nullopt;
}

std::uint8_t data_type_length(DataType t) {
  switch (t) {
    case DataType::ipv4_addr: return 4;
    case DataType::ipv6_addr: return 16;
    case DataType::inet_service: return 2;
    case DataType::ifname: return 16;
    case DataType::ifindex:
    case DataType::mark:
    case DataType::ct_state:
    case DataType::ct_status: return 4;
    default: return 1;
  }
}

namespace {

struct PrioTag {
  int value;
  std::string_view name;
};
constexpr PrioTag kStdPrios[] = {{-300, "raw"},    {-150, "mangle"},  {-100, "dstnat"},
                                 {0, "filter"},    {50, "security"},  {100, "srcnat"}};

// nft's std_prio_family_hook_compat for ip, ip6 and inet.
bool prio_fits_hook(int value, Hook hook) {
  if (value == -100) return hook == Hook::prerouting;
  if (value == 100) return hook == Hook::postrouting;
  return true;
}

}  // namespace

std::optional<int> std_priority(std::string_view name, Hook hook) {
  for (const PrioTag& p : kStdPrios)
    if (p.name == name && prio_fits_hook(p.value, hook)) return p.value;
  return std::nullopt;
}

std::string priority_to_string(int priority, Hook hook) {
  for (const PrioTag& p : kStdPrios) {
    if (!prio_fits_hook(p.value, hook)) continue;
    const int offset = priority - p.value;
    if (std::abs(offset) > 10) continue;
    std::string s(p.name);
    if (offset > 0) s += " + " + std::to_string(offset);
    if (offset < 0) s += " - " + std::to_string(-offset);
    return s;
  }
  return std::to_string(priority);
}

}  // namespace netns::nft
