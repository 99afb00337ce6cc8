#include "nft/set_lookup.hpp"

#include <algorithm>
#include <array>

namespace netns::nft {
namespace set_detail {

template <std::size_t N>
bool ExactHash<N>::fill(std::span<const Key> values, std::size_t size, bool bounded) {
  slots_.assign(size, Slot{});
  mask_ = size - 1;
  max_probe_ = 0;
  for (const Key& v : values) {
    Slot k = load(v.bytes.data());
    if (k == Slot{}) continue;  // has_zero_
    std::size_t i = hash(k);
    unsigned d = 0;
    for (; slots_[i & mask_] != Slot{}; ++i, ++d)
      if (bounded && d == kMaxProbe) return false;
    slots_[i & mask_] = k;
    max_probe_ = std::max(max_probe_, d);
  }
  return true;
}

template <std::size_t N>
void ExactHash<N>::build(std::span<const Key> values, const SipKey& key) {
  key_ = key;
  has_zero_ = std::any_of(values.begin(), values.end(), [](const Key& v) { return load(v.bytes.data()) == Slot{}; });
  // Load at most 1/2. A probe sequence longer than kMaxProbe means a worse
  // than random spread (content chosen against the key): double the table.
  // With SipHash that does not happen in practice; after three doublings
  // (load 1/16) the table is kept as it is, so memory stays bounded.
  std::size_t size = std::bit_ceil(std::max<std::size_t>(8, values.size() * 2));
  for (int growth = 0;; ++growth, size *= 2)
    if (fill(values, size, growth < 3)) break;
}

template class ExactHash<4>;
template class ExactHash<16>;

namespace {

template <class K>
constexpr K ones(int bits) {
  return bits >= static_cast<int>(sizeof(K) * 8) ? ~K{0} : (K{1} << bits) - 1;
}

// Bits a..b (0 <= a <= b <= 63) of a 64-bit vector.
constexpr std::uint64_t bit_range(unsigned a, unsigned b) { return (~std::uint64_t{0} >> (63 - b)) & (~std::uint64_t{0} << a); }

// Walks the children of the block [base, base + 2^rem) split into 2^s
// children: on_full(a, b) for the runs of children wholly inside one range,
// on_partial(c, ranges) once per child partly covered, with the ranges that
// overlap it (in order). `ranges` all overlap the block.
template <class K, class Range, class Full, class Partial>
void classify(K base, int rem, int s, std::span<const Range> ranges, Full on_full, Partial on_partial) {
  const int cs = rem - s;  // bits below each child
  const K last = base + ones<K>(rem);
  const K child_ones = ones<K>(cs);
  bool pending = false;
  unsigned pending_child = 0;
  std::size_t first = 0, end = 0;
  auto partial = [&](unsigned c, std::size_t i) {
    if (pending && pending_child == c) {
      end = i + 1;
      return;
    }
    if (pending) on_partial(pending_child, ranges.subspan(first, end - first));
    pending = true;
    pending_child = c;
    first = i;
    end = i + 1;
  };
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    K lo = std::max(ranges[i].lo, base);
    K hi = std::min(ranges[i].hi, last);
    auto a = static_cast<unsigned>((lo - base) >> cs);
    auto b = static_cast<unsigned>((hi - base) >> cs);
    bool a_whole = ((lo - base) & child_ones) == 0;
    bool b_whole = ((hi - base) & child_ones) == child_ones;
    if (a == b) {
      if (a_whole && b_whole) on_full(a, a);
      else partial(a, i);
      continue;
    }
    if (a_whole) on_full(a, a);
    else partial(a, i);
    if (b > a + 1) on_full(a + 1, b - 1);
    if (b_whole) on_full(b, b);
    else partial(b, i);
  }
  if (pending) on_partial(pending_child, ranges.subspan(first, end - first));
}

}  // namespace

template <class K>
void IntervalTrie<K>::build(std::span<const Range> ranges) {
  root_bits_ = ranges.size() > kWideRootAbove ? 16 : 8;
  root_.assign(std::size_t{1} << root_bits_, 0);
  nodes_.clear();
  const int below = kBits - root_bits_;
  classify<K>(
      K{0}, kBits, root_bits_, ranges,
      [&](unsigned a, unsigned b) { std::fill(root_.begin() + a, root_.begin() + b + 1, 1u); },
      [&](unsigned c, std::span<const Range> sub) {
        auto n = static_cast<std::uint32_t>(nodes_.size());
        nodes_.emplace_back();
        root_[c] = n + 2;
        build_node(n, K{c} << below, below, sub);
      });
  nodes_.shrink_to_fit();
}

template <class K>
void IntervalTrie<K>::build_node(std::uint32_t index, K base, int rem, std::span<const Range> ranges) {
  struct Part {
    unsigned child;
    std::span<const Range> ranges;
  };
  std::array<Part, 64> parts;
  std::size_t count = 0;
  Node node;
  int s = 0;
  int skip = 0;
  U128 skipped = 0;
  for (;;) {
    s = std::min(rem, kStride);
    node = Node{};
    count = 0;
    classify<K>(
        base, rem, s, ranges, [&](unsigned a, unsigned b) { node.full |= bit_range(a, b); },
        [&](unsigned c, std::span<const Range> sub) {
          node.child |= std::uint64_t{1} << c;
          parts[count++] = Part{c, sub};
        });
    if (node.full != 0 || count != 1) break;
    // One partial child and nothing else: a level of a sparse path, folded
    // into the skip node above the next level that branches.
    skip += s;
    skipped = (skipped << s) | parts[0].child;
    base += K{parts[0].child} << (rem - s);
    rem -= s;
    ranges = parts[0].ranges;
  }
  if (skip != 0) {
    auto next = static_cast<std::uint32_t>(nodes_.size());
    nodes_[index] = Node{static_cast<std::uint64_t>(skipped >> 64), static_cast<std::uint64_t>(skipped), next,
                         static_cast<std::uint8_t>(skip)};
    nodes_.emplace_back();
    index = next;
  }
  node.base = static_cast<std::uint32_t>(nodes_.size());
  nodes_.resize(nodes_.size() + count);
  nodes_[index] = node;
  // Children in child order, so child c is base + popcount(child below c).
  for (std::size_t i = 0; i < count; ++i)
    build_node(node.base + static_cast<std::uint32_t>(i), base + (K{parts[i].child} << (rem - s)), rem - s,
               parts[i].ranges);
}

template class IntervalTrie<std::uint32_t>;
template class IntervalTrie<U128>;

}  // namespace set_detail

namespace {

using set_detail::U128;

// A Key's bytes as a number (big-endian), 1..16 bytes.
U128 number(const Key& k) {
  U128 v = 0;
  for (std::size_t i = 0; i < k.len; ++i) v = (v << 8) | k.bytes[i];
  return v;
}

Result<void> validate(std::span<const Interval> elements, std::uint8_t len) {
  if (elements.size() > kMaxSetElements) return error(Errc::too_many_files_open_in_system);
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const Interval& e = elements[i];
    if (e.lo.len != len || e.hi.len != len || key_less(e.hi, e.lo)) return error(Errc::invalid_argument);
    if (i > 0 && !key_less(elements[i - 1].hi, e.lo)) return error(Errc::invalid_argument);
  }
  return {};
}

// The intervals as numbers, adjacent ones merged ([1,5] [6,9] is [1,9]):
// the trie then never sees a block covered by two ranges.
template <class K>
std::vector<typename set_detail::IntervalTrie<K>::Range> merged(std::span<const Interval> elements, bool ranges_only) {
  std::vector<typename set_detail::IntervalTrie<K>::Range> out;
  for (const Interval& e : elements) {
    if (ranges_only && e.lo == e.hi) continue;
    auto lo = static_cast<K>(number(e.lo));
    auto hi = static_cast<K>(number(e.hi));
    if (!out.empty() && out.back().hi != ~K{0} && out.back().hi + 1 == lo) out.back().hi = hi;
    else out.push_back({lo, hi});
  }
  return out;
}

std::vector<Key> singles(std::span<const Interval> elements) {
  std::vector<Key> out;
  for (const Interval& e : elements)
    if (e.lo == e.hi) out.push_back(e.lo);
  return out;
}

}  // namespace

Result<SetLookup> SetLookup::build(DataType type, std::span<const Interval> elements, const SipKey& key) {
  SetLookup s;
  s.len_ = data_type_length(type);
  s.intervals_ = elements.size();
  if (auto ok = validate(elements, s.len_); !ok) return ok.error();
  if (elements.empty()) return s;

  if (s.len_ == 1 || (s.len_ == 2 && elements.size() > kSmallMax)) {
    s.kind_ = Kind::bitmap;
    s.bitmap_.assign(s.len_ == 1 ? 4 : 1024, 0);
    for (const Interval& e : elements)
      for (auto v = static_cast<std::size_t>(e.lo.to_uint()), hi = static_cast<std::size_t>(e.hi.to_uint()); v <= hi;) {
        // Whole words at a time inside the interval, so 0-65535 is 1,024 stores.
        std::size_t bit = v & 63;
        std::size_t n = std::min<std::size_t>(64 - bit, hi - v + 1);
        s.bitmap_[v >> 6] |= (n == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << n) - 1)) << bit;
        v += n;
      }
    return s;
  }
  if (elements.size() <= kSmallMax) {
    s.kind_ = Kind::small;
    for (const Interval& e : elements) {
      U128 lo = number(e.lo), span = number(e.hi) - lo;
      if (s.len_ <= 8) {
        s.small_.push_back(static_cast<std::uint64_t>(lo));
        s.small_.push_back(static_cast<std::uint64_t>(span));
      } else {
        for (U128 w : {lo, span}) {
          s.small_.push_back(static_cast<std::uint64_t>(w >> 64));
          s.small_.push_back(static_cast<std::uint64_t>(w));
        }
      }
    }
    return s;
  }
  std::vector<Key> single = singles(elements);
  const bool all_single = single.size() == elements.size();
  const bool split = !all_single && single.size() >= kSplitSingles;
  if (s.len_ == 4) {
    if (all_single || split) s.hash4_.build(single, key);
    if (!all_single) s.trie4_.build(merged<std::uint32_t>(elements, split));
    s.kind_ = all_single ? Kind::hash4 : split ? Kind::hash_trie4 : Kind::trie4;
  } else {
    if (all_single || split) s.hash16_.build(single, key);
    if (!all_single) s.trie16_.build(merged<U128>(elements, split));
    s.kind_ = all_single ? Kind::hash16 : split ? Kind::hash_trie16 : Kind::trie16;
  }
  return s;
}

std::size_t SetLookup::memory_bytes() const {
  return sizeof(SetLookup) + bitmap_.capacity() * sizeof(std::uint64_t) + small_.capacity() * sizeof(std::uint64_t) +
         hash4_.memory_bytes() + hash16_.memory_bytes() + trie4_.memory_bytes() + trie16_.memory_bytes();
}

unsigned SetLookup::max_probe() const { return std::max(hash4_.max_probe(), hash16_.max_probe()); }

std::string_view to_string(SetLookup::Kind k) {
  switch (k) {
    case SetLookup::Kind::empty: return "empty";
    case SetLookup::Kind::bitmap: return "bitmap";
    case SetLookup::Kind::small: return "small";
    case SetLookup::Kind::hash4: return "hash4";
    case SetLookup::Kind::hash16: return "hash16";
    case SetLookup::Kind::trie4: return "trie4";
    case SetLookup::Kind::trie16: return "trie16";
    case SetLookup::Kind::hash_trie4: return "hash_trie4";
    case SetLookup::Kind::hash_trie16: return "hash_trie16";
  }
  return "?";
}

}  // namespace netns::nft
