// Per-namespace counters: lazy MIB blocks and lookup by nstat name.
#include "netns/counters.hpp"

#include <cstring>
#include <new>

namespace netns {

namespace {
constexpr std::size_t kLine = 64;
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
