// ipv4/fib.cpp — see fib.hpp for the design.
#include "ipv4/fib.hpp"

#include <algorithm>

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

Fib::Fib(std::size_t max_routes) : max_routes_(std::min(max_routes, kMaxRoutesLimit)) {}
Fib::~Fib() = default;
Fib::Fib(Fib&&) noexcept = default;
Fib& Fib::operator=(Fib&&) noexcept = default;

Result<void> Fib::insert(const FibEntry& e) {
  const unsigned length = e.prefix.length();
  if (length > 32) return error(Errc::invalid_argument);
  if (is_dev_less(e.type)) {
    if (e.dev != nullptr || !e.gateway.is_unspecified()) return error(Errc::invalid_argument);
  } else if (e.dev == nullptr) {
    return error(Errc::invalid_argument);
  }
  if (size() >= max_routes_) return error(Errc::no_buffer_space);

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
    s.next[prev] = index;  // not the best: lookups are unchanged
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
  bytes += s.small.capacity() * sizeof(SmallRoute);
  if (s.level1) bytes += kLevel1Slots * sizeof(std::uint32_t);
  bytes += s.groups.capacity() * sizeof(std::uint32_t);
  bytes += s.free_groups.capacity() * sizeof(std::uint32_t);
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
  // Not `= {}`: that is the initializer_list assignment, which keeps the capacity.
  std::vector<std::uint32_t>().swap(s.groups);
  std::vector<std::uint32_t>().swap(s.free_groups);
  s.live_groups = 0;
  rebuild_small();
}

void Fib::rebuild_small() {
  State& s = *state_;
  s.small.clear();
  for (const auto& [k, head] : s.prefixes) {
    const auto length = static_cast<unsigned>(k & 0xff);
    s.small.push_back({static_cast<std::uint32_t>(k >> 8), mask_of(length), head});
  }
  // Longest first, so the first match is the answer. Equal masks never both match.
  std::sort(s.small.begin(), s.small.end(),
            [](const SmallRoute& a, const SmallRoute& b) { return a.mask > b.mask; });
}

void Fib::build_trie() {
  State& s = *state_;
  std::vector<SmallRoute>().swap(s.small);
  s.level1 = std::make_unique<std::uint32_t[]>(kLevel1Slots);  // zeroed: no route
  s.groups.clear();
  s.free_groups.clear();
  s.live_groups = 0;
  // Painting with "deeper or equal wins" gives the same trie in any order.
  for (const auto& [k, head] : s.prefixes) {
    const auto length = static_cast<unsigned>(k & 0xff);
    paint(static_cast<std::uint32_t>(k >> 8), length, make_leaf(length, head), Paint::overwrite);
  }
}

void Fib::paint(std::uint32_t network, unsigned length, std::uint32_t leaf, Paint mode) {
  State& s = *state_;
  const bool deleting = mode == Paint::replace_exact;
  const std::size_t i1 = network >> 16;
  if (length <= 16) {
    paint_range(s.level1.get(), i1, std::size_t{1} << (16 - length), length, leaf, mode);
    return;
  }
  // A prefix longer than /16 always sits in a group while it exists (a group
  // is folded only once uniform, which a /17../32 inside it prevents).
  if (deleting && !(s.level1[i1] & kGroupBit)) return;
  const std::uint32_t g2 = descend(true, i1);
  const std::size_t i2 = (network >> 8) & 0xff;
  if (length <= 24) {
    paint_range(group(g2), i2, std::size_t{1} << (24 - length), length, leaf, mode);
    if (deleting) fold_if_uniform(&s.level1[i1]);
    return;
  }
  const std::size_t position = std::size_t{g2} * kGroupSlots + i2;
  if (deleting && !(s.groups[position] & kGroupBit)) return;
  const std::uint32_t g3 = descend(false, position);
  paint_range(group(g3), network & 0xff, std::size_t{1} << (32 - length), length, leaf, mode);
  if (deleting) {
    fold_if_uniform(&s.groups[position]);
    fold_if_uniform(&s.level1[i1]);
  }
}

void Fib::paint_range(std::uint32_t* slots, std::size_t first, std::size_t count,
                      unsigned length, std::uint32_t leaf, Paint mode) {
  for (std::size_t i = first; i < first + count; ++i) {
    const std::uint32_t slot = slots[i];
    if (slot & kGroupBit) {
      paint_range(group(slot), 0, kGroupSlots, length, leaf, mode);
      if (mode == Paint::replace_exact) fold_if_uniform(&slots[i]);
    } else if (mode == Paint::overwrite ? leaf_depth(slot) <= length
                                        : leaf_depth(slot) == length) {
      slots[i] = leaf;
    }
  }
}

std::uint32_t Fib::descend(bool in_level1, std::size_t position) {
  State& s = *state_;
  const std::uint32_t slot = in_level1 ? s.level1[position] : s.groups[position];
  if (slot & kGroupBit) return slot & ~kGroupBit;
  std::uint32_t g;
  if (!s.free_groups.empty()) {
    g = s.free_groups.back();
    s.free_groups.pop_back();
  } else {
    g = static_cast<std::uint32_t>(s.groups.size() / kGroupSlots);
    s.groups.resize(s.groups.size() + kGroupSlots);  // may move the groups: index, not pointer
  }
  std::fill_n(s.groups.begin() + std::ptrdiff_t(std::size_t{g} * kGroupSlots), kGroupSlots, slot);
  (in_level1 ? s.level1[position] : s.groups[position]) = kGroupBit | g;
  ++s.live_groups;
  return g;
}

void Fib::fold_if_uniform(std::uint32_t* slot) {
  if (!(*slot & kGroupBit)) return;
  State& s = *state_;
  const std::uint32_t g = *slot & ~kGroupBit;
  const std::uint32_t* slots = group(*slot);
  const std::uint32_t first = slots[0];
  if (first & kGroupBit) return;
  if (!std::all_of(slots + 1, slots + kGroupSlots, [first](std::uint32_t v) { return v == first; })) {
    return;
  }
  // Equal leaves come from one prefix covering the whole group, so it is no
  // longer than the parent's stride and the parent slot can hold it.
  *slot = first;
  s.free_groups.push_back(g);
  --s.live_groups;
}

}  // namespace netns::ipv4
