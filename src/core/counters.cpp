// Per-namespace counters: lazy MIB blocks and lookup by nstat name.
#include "netns/counters.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <optional>
#include <string>

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

// "IcmpMsgInType8", "Icmp6OutType129"..., by key: built once, read by
// nonzero()'s string_views for the life of the program.
const std::array<std::string, kIcmpTypeKeys>& icmp_type_names() {
  static const auto names = [] {
    std::array<std::string, kIcmpTypeKeys> out;
    for (std::size_t key = 0; key < kIcmpTypeKeys; ++key) {
      const bool v6 = (key >> 9) != 0, out_dir = ((key >> 8) & 1) != 0;
      out[key] = std::string(v6 ? "Icmp6" : "IcmpMsg") + (out_dir ? "OutType" : "InType") + std::to_string(key & 0xff);
    }
    return out;
  }();
  return names;
}

std::optional<std::uint16_t> icmp_key_named(std::string_view name) {
  const auto& names = icmp_type_names();
  for (std::size_t key = 0; key < names.size(); ++key) {
    if (names[key] == name) return static_cast<std::uint16_t>(key);
  }
  return std::nullopt;
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
  auto& keys = icmp_types_->keys;
  const auto at = std::lower_bound(keys.begin(), keys.end(), key);
  const auto i = static_cast<std::size_t>(at - keys.begin());
  if (at == keys.end() || *at != key) {
    keys.insert(at, key);
    icmp_types_->counts.insert(icmp_types_->counts.begin() + static_cast<std::ptrdiff_t>(i), 0);
  }
  ++icmp_types_->counts[i];
}

std::uint64_t Counters::icmp_type(IcmpFamily family, IcmpDirection dir, std::uint8_t type) const {
  return icmp_count(icmp_key(family, dir, type));
}

std::uint64_t Counters::icmp_count(std::uint16_t key) const {
  if (!icmp_types_) return 0;
  const auto& keys = icmp_types_->keys;
  const auto at = std::lower_bound(keys.begin(), keys.end(), key);
  if (at == keys.end() || *at != key) return 0;
  return icmp_types_->counts[static_cast<std::size_t>(at - keys.begin())];
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
    for (std::size_t i = 0; i < icmp_types_->keys.size(); ++i) {
      const std::uint16_t key = icmp_types_->keys[i];
      if (family_of(key) == family) out.emplace_back(icmp_type_names()[key], icmp_types_->counts[i]);
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
