// ipv4/fib.cpp — see fib.hpp for the design.
#include "ipv4/fib.hpp"

#include <algorithm>
#include <array>
#include <new>
#include <type_traits>

#include "netns/detail/hot_heap.hpp"

namespace netns::ipv4 {

namespace {

constexpr std::uint32_t mask_of(unsigned length) {
  return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
}

bool is_dev_less(RouteType type) {
  return type == RouteType::blackhole || type == RouteType::unreachable ||
         type == RouteType::prohibit;
}

// `ip route del` matching: a field of `match` left at its "unset" value matches anything.
bool matches(const FibEntry& route, const FibEntry& match) {
  if (match.dev != nullptr && route.dev != match.dev) return false;
  if (!match.gateway.is_unspecified() && route.gateway != match.gateway) return false;
  if (match.metric != 0 && route.metric != match.metric) return false;
  if (match.type != RouteType::unicast && route.type != match.type) return false;
  if (!match.prefsrc.is_unspecified() && route.prefsrc != match.prefsrc) return false;
  return true;
}

}  // namespace

// ---- the small table ----

namespace fib {

constinit const SmallTable SmallTable::kEmpty{0};

SmallTable::Owner SmallTable::make(std::span<const std::pair<Key, const FibEntry*>> prefixes) {
  const auto count = static_cast<std::uint32_t>(prefixes.size());
  void* bytes = detail::hot_allocate(bytes_for(count));
  Owner table(new (bytes) SmallTable(count));
  Key* k = const_cast<Key*>(table->keys());
  FibEntry* r = const_cast<FibEntry*>(table->routes());
  for (std::uint32_t i = 0; i < count; ++i) {
    new (&k[i]) Key(prefixes[i].first);
    new (&r[i]) FibEntry(*prefixes[i].second);
  }
  return table;
}

void SmallTable::Free::operator()(SmallTable* table) const {
  static_assert(std::is_trivially_destructible_v<Key> && std::is_trivially_destructible_v<FibEntry>);
  const std::size_t bytes = table->memory_bytes();
  table->~SmallTable();
  detail::hot_deallocate(table, bytes);
}

}  // namespace fib

// ---- Fib ----

Fib::Fib(std::size_t max_routes) : max_routes_(static_cast<std::uint32_t>(std::min(max_routes, kMaxRoutesLimit))) {}
Fib::~Fib() = default;

Fib::Fib(Fib&& other) noexcept : state_(std::move(other.state_)), max_routes_(other.max_routes_) {
  refresh_view();
  other.refresh_view();
}

Fib& Fib::operator=(Fib&& other) noexcept {
  state_ = std::move(other.state_);
  max_routes_ = other.max_routes_;
  refresh_view();
  other.refresh_view();
  return *this;
}

void Fib::refresh_view() {
  const State* s = state_.get();
  level1_ = s != nullptr ? s->level1.get() : nullptr;
  level2_ = s != nullptr ? s->level2.lines() : nullptr;
  level3_ = s != nullptr ? s->level3.lines() : nullptr;
  entries_ = s != nullptr ? s->entries.data() : nullptr;
  small_ = s != nullptr && s->small ? s->small.get() : &fib::SmallTable::kEmpty;
}

Result<void> Fib::insert(const FibEntry& e) {
  const unsigned length = e.prefix.length();
  if (length > 32) return error(Errc::invalid_argument);
  if (is_dev_less(e.type)) {
    if (e.dev != nullptr || !e.gateway.is_unspecified()) return error(Errc::invalid_argument);
  } else if (e.dev == nullptr) {
    return error(Errc::invalid_argument);
  }
  if (size() >= max_routes_) return error(Errc::no_buffer_space);

  const ViewRefresh refresh{*this};
  FibEntry route = e;
  route.prefix = Ipv4Prefix(e.prefix.network(), e.prefix.length());
  const std::uint32_t network = route.prefix.address().value;
  const std::uint64_t k = key(route.prefix.address(), length);

  if (!state_) state_ = std::make_unique<State>();
  State& s = *state_;
  auto it = s.prefixes.find(k);
  if (it == s.prefixes.end()) {
    const std::uint32_t index = allocate_entry(route);
    s.prefixes.emplace(k, index);
    ++s.count;
    update_lookup(network, length, make_leaf(length, index), Paint::overwrite);
    return {};
  }

  std::uint32_t prev = kNone;
  std::uint32_t cur = it->second;
  while (cur != kNone && s.entries[cur].metric < route.metric) {
    prev = cur;
    cur = s.next[cur];
  }
  if (cur != kNone && s.entries[cur].metric == route.metric) return error(Errc::file_exists);

  const std::uint32_t index = allocate_entry(route);
  s.next[index] = cur;
  ++s.count;
  if (prev != kNone) {
    s.next[prev] = index;  // not the best: lookups are unchanged, but the slab may have moved
    return {};
  }
  it->second = index;
  update_lookup(network, length, make_leaf(length, index), Paint::overwrite);
  return {};
}

Result<void> Fib::remove(const FibEntry& match) {
  const unsigned length = match.prefix.length();
  if (length > 32) return error(Errc::invalid_argument);
  if (!state_) return error(Errc::no_such_process);
  State& s = *state_;
  const std::uint64_t k = key(match.prefix.network(), length);
  auto it = s.prefixes.find(k);
  if (it == s.prefixes.end()) return error(Errc::no_such_process);
  const ViewRefresh refresh{*this};
  for (std::uint32_t prev = kNone, cur = it->second; cur != kNone; prev = cur, cur = s.next[cur]) {
    if (!matches(s.entries[cur], match)) continue;
    erase(k, prev, cur, true);
    if (s.count == 0) state_.reset();
    return {};
  }
  return error(Errc::no_such_process);
}

std::size_t Fib::remove_device(const Device& dev) {
  return remove_if([&](const FibEntry& e) { return e.dev == &dev; });
}

std::size_t Fib::remove_if(const std::function<bool(const FibEntry&)>& doomed) {
  if (!state_) return 0;
  State& s = *state_;
  std::vector<std::uint64_t> keys;
  std::size_t victims = 0;
  for (const auto& [k, head] : s.prefixes) {
    bool any = false;
    for (std::uint32_t cur = head; cur != kNone; cur = s.next[cur]) {
      if (doomed(s.entries[cur])) ++victims, any = true;
    }
    if (any) keys.push_back(k);
  }
  if (victims == 0) return 0;

  // Repainting costs up to a few thousand slots per prefix; past a fraction of
  // the table one rebuild is cheaper.
  const ViewRefresh refresh{*this};
  const bool repaint = victims <= s.count / 8;
  for (std::uint64_t k : keys) {
    std::uint32_t prev = kNone;
    std::uint32_t cur = s.prefixes.find(k)->second;
    while (cur != kNone) {
      const std::uint32_t after = s.next[cur];
      if (doomed(s.entries[cur])) {
        erase(k, prev, cur, repaint);
      } else {
        prev = cur;
      }
      cur = after;
    }
  }
  if (s.count == 0) {
    state_.reset();
  } else if (!repaint) {
    rebuild_lookup();
  }
  return victims;
}

std::vector<std::uint32_t> Fib::ordered() const {
  const State& s = *state_;
  std::vector<std::uint64_t> keys;
  keys.reserve(s.prefixes.size());
  for (const auto& [k, head] : s.prefixes) keys.push_back(k);
  std::sort(keys.begin(), keys.end());  // network, then length: `ip route` order
  std::vector<std::uint32_t> out;
  out.reserve(s.count);
  for (std::uint64_t k : keys) {
    for (std::uint32_t cur = s.prefixes.find(k)->second; cur != kNone; cur = s.next[cur]) {
      out.push_back(cur);
    }
  }
  return out;
}

std::size_t Fib::memory_bytes() const {
  std::size_t bytes = sizeof(*this);
  if (!state_) return bytes;
  const State& s = *state_;
  bytes += sizeof(State);
  bytes += s.entries.capacity() * sizeof(FibEntry) + s.next.capacity() * sizeof(std::uint32_t);
  // Boost's open-addressing map: the slots plus 16 bytes of metadata per 15 slots.
  const std::size_t slots = s.prefixes.bucket_count();
  bytes += slots * sizeof(std::pair<const std::uint64_t, std::uint32_t>) + (slots / 15 + 1) * 16;
  if (s.small) bytes += s.small->memory_bytes();
  if (s.level1) bytes += kLevel1Slots * sizeof(std::uint32_t);
  bytes += s.level2.memory_bytes() + s.level3.memory_bytes();
  return bytes;
}

std::uint32_t Fib::allocate_entry(const FibEntry& e) {
  State& s = *state_;
  if (s.free_head != kNone) {
    const std::uint32_t index = s.free_head;
    s.free_head = s.next[index];
    s.entries[index] = e;
    s.next[index] = kNone;
    return index;
  }
  s.entries.push_back(e);
  s.next.push_back(kNone);
  return static_cast<std::uint32_t>(s.entries.size() - 1);
}

void Fib::free_entry(std::uint32_t index) {
  State& s = *state_;
  s.entries[index] = FibEntry{};  // no stale device pointer in a free slot
  s.next[index] = s.free_head;
  s.free_head = index;
}

void Fib::erase(std::uint64_t k, std::uint32_t prev, std::uint32_t index, bool repaint) {
  State& s = *state_;
  const auto network = static_cast<std::uint32_t>(k >> 8);
  const auto length = static_cast<unsigned>(k & 0xff);
  const std::uint32_t after = s.next[index];
  free_entry(index);
  --s.count;
  if (prev != kNone) {
    s.next[prev] = after;  // not the best: lookups are unchanged
    return;
  }
  if (after != kNone) {
    s.prefixes.find(k)->second = after;
    if (repaint) update_lookup(network, length, make_leaf(length, after), Paint::overwrite);
    return;
  }
  s.prefixes.erase(k);
  if (repaint && s.count != 0) {
    update_lookup(network, length, covering_leaf(network, length), Paint::replace_exact);
  }
}

std::uint32_t Fib::covering_leaf(std::uint32_t network, unsigned length) const {
  const State& s = *state_;
  for (unsigned l = length; l-- > 0;) {
    auto it = s.prefixes.find(key(Ipv4Address{network & mask_of(l)}, l));
    if (it != s.prefixes.end()) return make_leaf(l, it->second);
  }
  return 0;
}

void Fib::update_lookup(std::uint32_t network, unsigned length, std::uint32_t leaf, Paint mode) {
  State& s = *state_;
  const std::size_t prefixes = s.prefixes.size();
  if (s.level1 && prefixes > kSmallMax / 2) {
    paint(network, length, leaf, mode);
  } else if (!s.level1 && prefixes > kSmallMax) {
    build_trie();
  } else {
    rebuild_lookup();
  }
}

void Fib::rebuild_lookup() {
  State& s = *state_;
  if (s.prefixes.size() > kSmallMax) {
    build_trie();
    return;
  }
  s.level1.reset();
  s.level2 = {};
  s.level3 = {};
  rebuild_small();
}

void Fib::rebuild_small() {
  State& s = *state_;
  std::array<std::pair<fib::SmallTable::Key, const FibEntry*>, kSmallMax> found;
  std::size_t n = 0;
  for (const auto& [k, head] : s.prefixes) {
    const auto length = static_cast<unsigned>(k & 0xff);
    found[n++] = {{static_cast<std::uint32_t>(k >> 8), mask_of(length)}, &s.entries[head]};
  }
  // Longest first, so the first match is the answer. Equal masks never both match.
  std::sort(found.begin(), found.begin() + n, [](const auto& a, const auto& b) { return a.first.mask > b.first.mask; });
  s.small = fib::SmallTable::make(std::span(found).first(n));
}

void Fib::build_trie() {
  State& s = *state_;
  s.small.reset();
  s.level1 = std::make_unique<std::uint32_t[]>(kLevel1Slots);  // zeroed: no route
  s.level2 = {};
  s.level3 = {};
  // Painting with "deeper or equal wins" gives the same trie in any order.
  for (const auto& [k, head] : s.prefixes) {
    const auto length = static_cast<unsigned>(k & 0xff);
    paint(static_cast<std::uint32_t>(k >> 8), length, make_leaf(length, head), Paint::overwrite);
  }
}

void Fib::paint(std::uint32_t network, unsigned length, std::uint32_t leaf, Paint mode) {
  std::uint32_t* level1 = state_->level1.get();
  const std::size_t i1 = network >> 16;
  if (length <= 16) {
    paint_slots(level1, 16, i1, std::size_t{1} << (16 - length), length, leaf, mode);
  } else {
    level1[i1] = paint_group(level1[i1], 24, network, length, leaf, mode);
  }
  compact_if_fragmented();  // not deeper: the painting holds group slots in locals
}

std::uint32_t Fib::paint_group(std::uint32_t slot, unsigned end, std::uint32_t network,
                               unsigned length, std::uint32_t leaf, Paint mode) {
  // A prefix longer than the parent's stride always sits in a group while it
  // exists (a group is folded only once uniform, which such a prefix prevents).
  if (mode == Paint::replace_exact && !(slot & kGroupBit)) return slot;
  std::array<std::uint32_t, kGroupSlots> slots;
  expand(end, slot, slots.data());
  const std::size_t i = network >> (32 - end) & 0xff;
  if (length <= end) {
    paint_slots(slots.data(), end, i, std::size_t{1} << (end - length), length, leaf, mode);
  } else {
    slots[i] = paint_group(slots[i], end + 8, network, length, leaf, mode);
  }
  return store(end, slot, slots.data());
}

void Fib::paint_slots(std::uint32_t* slots, unsigned end, std::size_t first, std::size_t count,
                      unsigned length, std::uint32_t leaf, Paint mode) {
  for (std::size_t i = first; i < first + count; ++i) {
    const std::uint32_t slot = slots[i];
    if (slot & kGroupBit) {
      std::array<std::uint32_t, kGroupSlots> inner;
      expand(end + 8, slot, inner.data());
      paint_slots(inner.data(), end + 8, 0, kGroupSlots, length, leaf, mode);
      slots[i] = store(end + 8, slot, inner.data());
    } else if (mode == Paint::overwrite ? leaf_depth(slot) <= length
                                        : leaf_depth(slot) == length) {
      slots[i] = leaf;
    }
  }
}

void Fib::expand(unsigned end, std::uint32_t slot, std::uint32_t* out) const {
  if (end == 24) {
    state_->level2.expand(slot, out);
  } else {
    state_->level3.expand(slot, out);
  }
}

std::uint32_t Fib::store(unsigned end, std::uint32_t old, const std::uint32_t* slots) {
  return end == 24 ? state_->level2.store(old, slots) : state_->level3.store(old, slots);
}

void Fib::compact_if_fragmented() {
  State& s = *state_;
  if (!s.level2.fragmented() && !s.level3.fragmented()) return;
  fib::QuarteredGroups level2;
  fib::PackedGroups level3;
  level2.reserve_for(s.level2);
  level3.reserve_for(s.level3);
  std::uint32_t* level1 = s.level1.get();
  for (std::size_t i = 0; i < kLevel1Slots; ++i) {
    if (!(level1[i] & kGroupBit)) continue;
    level1[i] = s.level2.copy(level1[i], level2);
    level2.for_each_value(level1[i], [&](std::uint32_t& value) {
      if (value & kGroupBit) value = s.level3.copy(value, level3);
    });
  }
  s.level2 = std::move(level2);
  s.level3 = std::move(level3);
}

}  // namespace netns::ipv4
