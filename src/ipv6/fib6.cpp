// ipv6/fib6.cpp — see fib6.hpp for the design.
#include "ipv6/fib6.hpp"

#include <algorithm>

namespace netns::ipv6 {

namespace {

constexpr std::uint64_t mask_high(unsigned length) {
  return length == 0 ? 0 : length >= 64 ? ~std::uint64_t{0} : ~std::uint64_t{0} << (64 - length);
}
constexpr std::uint64_t mask_low(unsigned length) {
  return length <= 64 ? 0 : ~std::uint64_t{0} << (128 - length);
}

// Grows by a quarter rather than std::vector's doubling: the groups of a
// large table are most of its memory, and half of that as slack is too much.
// Still geometric, so appends stay amortised O(1).
template <class V>
void reserve_for(V& v, std::size_t more) {
  if (v.size() + more <= v.capacity()) return;
  v.reserve(std::max(v.size() + more, v.capacity() + v.capacity() / 4));
}

bool is_reject(RouteType type) {
  return type == RouteType::blackhole || type == RouteType::unreachable ||
         type == RouteType::prohibit;
}

bool same_via(const std::optional<Ipv6Address>& a, const std::optional<Ipv6Address>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || a->bytes() == b->bytes();
}

// `ip -6 route del` matching: a field of `match` left unset matches anything.
bool matches(const Fib6Entry& route, const Fib6Entry& match) {
  if (match.metric != 0 && route.metric != match.metric) return false;
  if (match.dev != nullptr && route.dev != match.dev) return false;
  if (match.via && !same_via(route.via, match.via)) return false;
  if (match.type != RouteType::unicast && route.type != match.type) return false;
  if (match.protocol != 0 && route.protocol != match.protocol) return false;
  return true;
}

}  // namespace

std::size_t Fib6::KeyHash::operator()(const Key& k) const noexcept {
  std::uint64_t h = k.high * 0x9e3779b97f4a7c15u ^ (k.low + k.length);
  h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9u ^ k.low;
  h = (h ^ (h >> 29)) * 0x94d049bb133111ebu;
  return static_cast<std::size_t>(h ^ (h >> 32));
}

Fib6::Key Fib6::key_of(const Ipv6Address& a, unsigned length) {
  return Key{a.high() & mask_high(length), a.low() & mask_low(length), length};
}

Ipv6Address Fib6::address_of(const Key& k) {
  Ipv6Address::Bytes b{};
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<std::uint8_t>(k.high >> (56 - 8 * i));
    b[8 + i] = static_cast<std::uint8_t>(k.low >> (56 - 8 * i));
  }
  return Ipv6Address{b};
}

Fib6::Fib6(std::size_t max_routes) : max_routes_(static_cast<std::uint32_t>(std::min(max_routes, kMaxRoutesLimit))) {}
Fib6::~Fib6() = default;
Fib6::Fib6(Fib6&&) noexcept = default;
Fib6& Fib6::operator=(Fib6&&) noexcept = default;

Result<void> Fib6::insert(const Fib6Entry& e) {
  const unsigned length = e.prefix.length();
  if (length > 128 || e.type == RouteType::broadcast) return error(Errc::invalid_argument);
  if (is_reject(e.type)) {
    if (e.dev != nullptr || e.via) return error(Errc::invalid_argument);
  } else if (e.dev == nullptr) {
    return error(Errc::invalid_argument);
  }
  if (e.via && (e.via->is_unspecified() || e.via->is_multicast())) return error(Errc::invalid_argument);
  if (size() >= max_routes_) return error(Errc::no_buffer_space);

  Fib6Entry route = e;
  route.prefix = Ipv6Prefix(e.prefix.network().with_scope(0), e.prefix.length());
  if (route.via) route.via = route.via->with_scope(0);
  const Key k = key_of(route.prefix.address(), length);

  if (!state_) state_ = std::make_unique<State>();
  State& s = *state_;
  auto it = s.prefixes.find(k);
  if (it == s.prefixes.end()) {
    const std::uint32_t index = allocate_entry(route);
    s.prefixes.emplace(k, index);
    ++s.per_length[length];
    ++s.count;
    update_lookup(k, 0, index + 1, Paint::overwrite);
    return {};
  }

  // After every route of a lower or equal metric: equal metrics keep the order added.
  std::uint32_t prev = kNone;
  std::uint32_t cur = it->second;
  for (; cur != kNone && s.entries[cur].metric <= route.metric; prev = cur, cur = s.next[cur]) {
    const Fib6Entry& other = s.entries[cur];
    if (other.metric == route.metric && other.dev == route.dev && same_via(other.via, route.via)) {
      return error(Errc::file_exists);
    }
  }
  const std::uint32_t index = allocate_entry(route);
  s.next[index] = cur;
  ++s.count;
  if (prev != kNone) {
    s.next[prev] = index;  // not the best: lookups are unchanged
    return {};
  }
  const std::uint32_t old_head = it->second;
  it->second = index;
  update_lookup(k, old_head + 1, index + 1, Paint::replace);
  return {};
}

std::tuple<Fib6::Key, std::uint32_t, std::uint32_t> Fib6::locate(const Fib6Entry& match) const {
  const Key k = key_of(match.prefix.address(), match.prefix.length());
  if (!state_) return {k, kNone, kNone};
  const State& s = *state_;
  auto it = s.prefixes.find(k);
  if (it == s.prefixes.end()) return {k, kNone, kNone};
  for (std::uint32_t prev = kNone, cur = it->second; cur != kNone; prev = cur, cur = s.next[cur]) {
    if (matches(s.entries[cur], match)) return {k, prev, cur};
  }
  return {k, kNone, kNone};
}

Result<void> Fib6::erase(const Fib6Entry& match) {
  if (match.prefix.length() > 128) return error(Errc::invalid_argument);
  const auto [k, prev, index] = locate(match);
  if (index == kNone) return error(Errc::no_such_process);
  unlink(k, prev, index, true);
  if (state_->count == 0) state_.reset();
  return {};
}

const Fib6Entry* Fib6::find(const Fib6Entry& match) const {
  if (match.prefix.length() > 128) return nullptr;
  const auto [k, prev, index] = locate(match);
  return index == kNone ? nullptr : &state_->entries[index];
}

bool Fib6::set_expires(const Fib6Entry& match, std::optional<Clock::time_point> expires) {
  if (match.prefix.length() > 128) return false;
  const auto [k, prev, index] = locate(match);
  if (index == kNone) return false;
  state_->entries[index].expires = expires;
  return true;
}

std::size_t Fib6::erase_routes(const std::vector<std::uint32_t>& victims) {
  if (victims.empty()) return 0;
  State& s = *state_;
  // Repainting costs up to a few thousand slots per prefix; past a fraction of
  // the table one rebuild is cheaper.
  const bool repaint = victims.size() <= s.count / 8;
  for (std::uint32_t index : victims) {
    const Fib6Entry& e = s.entries[index];
    const Key k = key_of(e.prefix.address(), e.prefix.length());
    std::uint32_t prev = kNone;
    for (std::uint32_t cur = s.prefixes.find(k)->second; cur != index; cur = s.next[cur]) prev = cur;
    unlink(k, prev, index, repaint);
  }
  if (s.count == 0) {
    state_.reset();
  } else if (!repaint) {
    rebuild_lookup();
  }
  return victims.size();
}

const Fib6Entry* Fib6::lookup(const Ipv6Address& dst, const Device* oif) const {
  if (oif == nullptr) return lookup(dst);
  if (!state_) return nullptr;
  const State& s = *state_;
  for (unsigned length = 129; length-- > 0;) {
    if (s.per_length[length] == 0) continue;
    auto it = s.prefixes.find(key_of(dst, length));
    if (it == s.prefixes.end()) continue;
    for (std::uint32_t cur = it->second; cur != kNone; cur = s.next[cur]) {
      if (s.entries[cur].dev == oif) return &s.entries[cur];
    }
  }
  return nullptr;
}

std::vector<std::uint32_t> Fib6::ordered() const {
  const State& s = *state_;
  struct Sorted {
    std::uint64_t last_high, last_low;  // the prefix's last address
    unsigned length;
    std::uint32_t head;
  };
  std::vector<Sorted> keys;
  keys.reserve(s.prefixes.size());
  for (const auto& [k, head] : s.prefixes) {
    keys.push_back({k.high | ~mask_high(k.length), k.low | ~mask_low(k.length), k.length, head});
  }
  // Post-order of the prefix tree: a prefix ends at or after every prefix
  // inside it, and of two ending together the longer is inside the shorter.
  std::sort(keys.begin(), keys.end(), [](const Sorted& a, const Sorted& b) {
    if (a.last_high != b.last_high) return a.last_high < b.last_high;
    if (a.last_low != b.last_low) return a.last_low < b.last_low;
    return a.length > b.length;
  });
  std::vector<std::uint32_t> out;
  out.reserve(s.count);
  for (const Sorted& k : keys) {
    for (std::uint32_t cur = k.head; cur != kNone; cur = s.next[cur]) out.push_back(cur);
  }
  return out;
}

std::size_t Fib6::memory_bytes() const {
  std::size_t bytes = sizeof(*this);
  if (!state_) return bytes;
  const State& s = *state_;
  bytes += sizeof(State);
  bytes += s.entries.capacity() * sizeof(Fib6Entry) + s.next.capacity() * sizeof(std::uint32_t);
  // Boost's open-addressing map: the slots plus 16 bytes of metadata per 15 slots.
  const std::size_t slots = s.prefixes.bucket_count();
  bytes += slots * sizeof(std::pair<const Key, std::uint32_t>) + (slots / 15 + 1) * 16;
  bytes += s.small.capacity() * sizeof(SmallRoute);
  if (s.level1) bytes += kLevel1Slots * sizeof(std::uint32_t);
  bytes += s.groups.capacity() * sizeof(std::uint32_t);
  bytes += s.free_groups.capacity() * sizeof(std::uint32_t);
  return bytes;
}

std::uint32_t Fib6::allocate_entry(const Fib6Entry& e) {
  State& s = *state_;
  if (s.free_head != kNone) {
    const std::uint32_t index = s.free_head;
    s.free_head = s.next[index];
    s.entries[index] = e;
    s.next[index] = kNone;
    return index;
  }
  reserve_for(s.entries, 1);
  reserve_for(s.next, 1);
  s.entries.push_back(e);
  s.next.push_back(kNone);
  return static_cast<std::uint32_t>(s.entries.size() - 1);
}

void Fib6::free_entry(std::uint32_t index) {
  State& s = *state_;
  s.entries[index] = Fib6Entry{};  // no stale device pointer in a free slot
  s.next[index] = s.free_head;
  s.free_head = index;
}

void Fib6::unlink(const Key& k, std::uint32_t prev, std::uint32_t index, bool repaint) {
  State& s = *state_;
  const std::uint32_t after = s.next[index];
  --s.count;
  if (prev != kNone) {
    s.next[prev] = after;  // not the best: lookups are unchanged
  } else if (after != kNone) {
    s.prefixes.find(k)->second = after;
    if (repaint) update_lookup(k, index + 1, after + 1, Paint::replace);
  } else {
    s.prefixes.erase(k);
    --s.per_length[k.length];
    if (repaint && s.count != 0) update_lookup(k, index + 1, covering_leaf(k), Paint::replace);
  }
  // Freed last: painting reads the depth of the slots' routes.
  free_entry(index);
}

std::uint32_t Fib6::covering_leaf(const Key& k) const {
  const State& s = *state_;
  const Ipv6Address network = address_of(k);
  for (unsigned length = k.length; length-- > 0;) {
    if (s.per_length[length] == 0) continue;
    auto it = s.prefixes.find(key_of(network, length));
    if (it != s.prefixes.end()) return it->second + 1;
  }
  return 0;
}

void Fib6::update_lookup(const Key& k, std::uint32_t old_leaf, std::uint32_t leaf, Paint mode) {
  State& s = *state_;
  const std::size_t prefixes = s.prefixes.size();
  if (s.level1 && prefixes > kSmallMax / 2) {
    paint(k, old_leaf, leaf, mode);
  } else if (!s.level1 && prefixes > kSmallMax) {
    build_trie();
  } else {
    rebuild_lookup();
  }
}

void Fib6::rebuild_lookup() {
  State& s = *state_;
  if (s.prefixes.size() > kSmallMax) {
    build_trie();
    return;
  }
  s.level1.reset();
  // Not `= {}`: that is the initializer_list assignment, which keeps the capacity.
  std::vector<std::uint32_t>().swap(s.groups);
  std::vector<std::uint32_t>().swap(s.free_groups);
  s.live_groups = 0;
  rebuild_small();
}

void Fib6::rebuild_small() {
  State& s = *state_;
  s.small.clear();
  for (const auto& [k, head] : s.prefixes) {
    s.small.push_back({k.high, k.low, mask_high(k.length), mask_low(k.length), head});
  }
  // Longest first, so the first match is the answer. Equal masks never both match.
  std::sort(s.small.begin(), s.small.end(), [](const SmallRoute& a, const SmallRoute& b) {
    return a.mask_high != b.mask_high ? a.mask_high > b.mask_high : a.mask_low > b.mask_low;
  });
}

void Fib6::build_trie() {
  State& s = *state_;
  std::vector<SmallRoute>().swap(s.small);
  s.level1 = std::make_unique<std::uint32_t[]>(kLevel1Slots);  // zeroed: no route
  s.groups.clear();
  s.free_groups.clear();
  s.live_groups = 0;
  // Painting with "deeper or equal wins" gives the same trie in any order.
  for (const auto& [k, head] : s.prefixes) paint(k, 0, head + 1, Paint::overwrite);
}

void Fib6::paint(const Key& k, std::uint32_t old_leaf, std::uint32_t leaf, Paint mode) {
  State& s = *state_;
  const Ipv6Address::Bytes b = address_of(k).bytes();
  const unsigned length = k.length;
  std::size_t position = std::size_t{b[0]} << 8 | b[1];
  if (length <= 16) {
    paint_range(s.level1.get(), position, std::size_t{1} << (16 - length), length, old_leaf, leaf, mode);
    return;
  }
  // A prefix longer than a level's stride always sits in a group below it
  // while it exists (a group is folded only once uniform, which it prevents),
  // so a replacement that finds no group has nothing to change.
  std::array<std::size_t, 15> path;
  std::size_t depth = 0;
  unsigned end = 16;
  for (std::size_t i = 2;; ++i) {
    if (mode == Paint::replace && !(slot_at(position) & kGroupBit)) break;
    path[depth++] = position;
    const std::uint32_t g = descend(position);
    end += 8;
    const std::size_t base = std::size_t{g} * kGroupSlots;
    if (length <= end) {
      paint_range(s.groups.data() + base, b[i], std::size_t{1} << (end - length), length, old_leaf,
                  leaf, mode);
      break;
    }
    position = kLevel1Slots + base + b[i];
  }
  if (mode == Paint::replace) {
    while (depth-- > 0) fold_if_uniform(&slot_at(path[depth]));
  }
}

void Fib6::paint_range(std::uint32_t* slots, std::size_t first, std::size_t count, unsigned length,
                       std::uint32_t old_leaf, std::uint32_t leaf, Paint mode) {
  for (std::size_t i = first; i < first + count; ++i) {
    const std::uint32_t slot = slots[i];
    if (slot & kGroupBit) {
      paint_range(group(slot), 0, kGroupSlots, length, old_leaf, leaf, mode);
      if (mode == Paint::replace) fold_if_uniform(&slots[i]);
    } else if (mode == Paint::overwrite ? depth_of(slot) <= length : slot == old_leaf) {
      slots[i] = leaf;
    }
  }
}

std::uint32_t Fib6::descend(std::size_t position) {
  State& s = *state_;
  const std::uint32_t slot = slot_at(position);
  if (slot & kGroupBit) return slot & ~kGroupBit;
  std::uint32_t g;
  if (!s.free_groups.empty()) {
    g = s.free_groups.back();
    s.free_groups.pop_back();
  } else {
    g = static_cast<std::uint32_t>(s.groups.size() / kGroupSlots);
    reserve_for(s.groups, kGroupSlots);
    s.groups.resize(s.groups.size() + kGroupSlots);  // may move the groups: positions, not pointers
  }
  std::fill_n(s.groups.begin() + std::ptrdiff_t(std::size_t{g} * kGroupSlots), kGroupSlots, slot);
  slot_at(position) = kGroupBit | g;
  ++s.live_groups;
  return g;
}

void Fib6::fold_if_uniform(std::uint32_t* slot) {
  if (!(*slot & kGroupBit)) return;
  State& s = *state_;
  const std::uint32_t g = *slot & ~kGroupBit;
  const std::uint32_t* slots = group(*slot);
  const std::uint32_t first = slots[0];
  if (first & kGroupBit) return;
  if (!std::all_of(slots + 1, slots + kGroupSlots, [first](std::uint32_t v) { return v == first; })) {
    return;
  }
  // Equal slots come from one prefix covering the whole group, so it is no
  // longer than the parent's stride and the parent slot can hold it.
  *slot = first;
  s.free_groups.push_back(g);
  --s.live_groups;
}

}  // namespace netns::ipv6
