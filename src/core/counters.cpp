// Per-namespace counters: lazy MIB blocks and lookup by nstat name.
#include "netns/counters.hpp"

namespace netns {

void Counters::allocate(std::size_t mib) {
  blocks_[mib] = std::make_unique<std::uint64_t[]>(kMibLayout.size[mib]);  // zeroed
}

static_assert(kCounterTable[0].name == "IpInReceives");

std::uint64_t Counters::get(std::string_view name) const {
  for (std::size_t i = 0; i < kCounterTable.size(); ++i) {
    if (kCounterTable[i].name == name) return value(static_cast<Counter>(i));
  }
  return 0;
}

bool Counters::known(std::string_view name) {
  for (const auto& row : kCounterTable) {
    if (row.name == name) return true;
  }
  return false;
}

std::vector<std::pair<std::string_view, std::uint64_t>> Counters::nonzero() const {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  for (std::size_t i = 0; i < kCounterTable.size(); ++i) {
    if (std::uint64_t v = value(static_cast<Counter>(i))) out.emplace_back(kCounterTable[i].name, v);
  }
  return out;
}

}  // namespace netns
