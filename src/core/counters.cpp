// Per-namespace counters: lazy MIB blocks and lookup by nstat name.
#include "netns/counters.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>

namespace netns {

namespace {
constexpr std::size_t kLine = 64;

// The per-type ICMP counters' keys, in the order nstat lists them: by
// family, then in before out, then type.
constexpr std::size_t kIcmpTypeKeys = 2 * 2 * 256;
std::uint16_t icmp_key(IcmpFamily family, IcmpDirection dir, std::uint8_t type) {
  return static_cast<std::uint16_t>(static_cast<unsigned>(family) << 9 | static_cast<unsigned>(dir) << 8 | type);
}
IcmpFamily family_of(std::uint16_t key) { return static_cast<IcmpFamily>(key >> 9); }

// "IcmpMsgInType8", "Icmp6OutType129"..., by key, built by the compiler:
// read-only data, which nonzero()'s string_views point into.
struct IcmpTypeName {
  std::array<char, 20> text{};  // "IcmpMsgOutType255", the longest, is 17
  std::uint8_t size = 0;
  constexpr void append(std::string_view s) {
    for (char ch : s) text[size++] = ch;
  }
  constexpr void append_digit(std::size_t d) { text[size++] = static_cast<char>('0' + d); }
};
constexpr std::array<IcmpTypeName, kIcmpTypeKeys> kIcmpTypeNames = [] {
  std::array<IcmpTypeName, kIcmpTypeKeys> out{};
  for (std::size_t key = 0; key < kIcmpTypeKeys; ++key) {
    IcmpTypeName& name = out[key];
    name.append((key >> 9) != 0 ? "Icmp6" : "IcmpMsg");
    name.append(((key >> 8) & 1) != 0 ? "OutType" : "InType");
    const std::size_t type = key & 0xff;
    if (type >= 100) name.append_digit(type / 100);
    if (type >= 10) name.append_digit(type / 10 % 10);
    name.append_digit(type % 10);
  }
  return out;
}();
std::string_view icmp_type_name(std::uint16_t key) {
  return {kIcmpTypeNames[key].text.data(), kIcmpTypeNames[key].size};
}

std::optional<std::uint16_t> icmp_key_named(std::string_view name) {
  for (std::size_t key = 0; key < kIcmpTypeKeys; ++key) {
    if (icmp_type_name(static_cast<std::uint16_t>(key)) == name) return static_cast<std::uint16_t>(key);
  }
  return std::nullopt;
}

// The first (key, count) not below `key` in a sorted vector.
template <class Types>
auto icmp_slot(Types& types, std::uint16_t key) {
  return std::lower_bound(types.begin(), types.end(), key, [](const auto& e, std::uint16_t k) { return e.first < k; });
}
}  // namespace

// Line-aligned, so the hot counters at a block's front share one line.
void Counters::allocate(std::size_t block) {
  const std::size_t bytes = kCounterLayout.size[block] * sizeof(std::uint64_t);
  void* p = ::operator new(bytes, std::align_val_t{kLine});
  std::memset(p, 0, bytes);
  blocks_[block].reset(static_cast<std::uint64_t*>(p));
}

void Counters::FreeLines::operator()(std::uint64_t* block) const { ::operator delete(block, std::align_val_t{kLine}); }

static_assert(kCounterTable[0].name == "IpInReceives");

void Counters::add_icmp_type(IcmpFamily family, IcmpDirection dir, std::uint8_t type) {
  if (!icmp_types_) icmp_types_ = std::make_unique<IcmpTypes>();
  const std::uint16_t key = icmp_key(family, dir, type);
  auto at = icmp_slot(*icmp_types_, key);
  if (at == icmp_types_->end() || at->first != key) at = icmp_types_->insert(at, {key, 0});
  ++at->second;
}

std::uint64_t Counters::icmp_type(IcmpFamily family, IcmpDirection dir, std::uint8_t type) const {
  return icmp_count(icmp_key(family, dir, type));
}

std::uint64_t Counters::icmp_count(std::uint16_t key) const {
  if (!icmp_types_) return 0;
  const auto at = icmp_slot(*icmp_types_, key);
  return at != icmp_types_->end() && at->first == key ? at->second : 0;
}

std::uint64_t Counters::get(std::string_view name) const {
  for (std::size_t i = 0; i < kCounterTable.size(); ++i) {
    if (kCounterTable[i].name == name) return value(static_cast<Counter>(i));
  }
  if (auto key = icmp_key_named(name)) return icmp_count(*key);
  return 0;
}

bool Counters::known(std::string_view name) {
  for (const auto& row : kCounterTable) {
    if (row.name == name) return true;
  }
  return icmp_key_named(name).has_value();
}

std::vector<std::pair<std::string_view, std::uint64_t>> Counters::nonzero() const {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  auto add_types = [&](IcmpFamily family) {
    if (!icmp_types_) return;
    for (const auto& [key, count] : *icmp_types_) {
      if (family_of(key) == family) out.emplace_back(icmp_type_name(key), count);
    }
  };
  for (std::size_t i = 0; i < kCounterTable.size(); ++i) {
    if (std::uint64_t v = value(static_cast<Counter>(i))) out.emplace_back(kCounterTable[i].name, v);
    // A MIB's last counter: Linux prints IcmpMsg after Icmp, and snmp6 its
    // per-type lines after Icmp6's.
    const Mib mib = kCounterTable[i].mib;
    if (i + 1 < kCounterTable.size() && kCounterTable[i + 1].mib == mib) continue;
    if (mib == Mib::Icmp) add_types(IcmpFamily::v4);
    if (mib == Mib::Icmp6) add_types(IcmpFamily::v6);
  }
  return out;
}

}  // namespace netns
