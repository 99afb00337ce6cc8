// SetLookup against a reference: a linear scan over the intervals (a binary
// search, itself checked against the scan, for the 100,000-element sets).
#include "nft/set_lookup.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace netns::nft {
namespace {
namespace nft_set_lookup_test {

using set_detail::U128;

const SipKey kKey = SipKey::derive(1, kSipPurposeNftSet);

Key key_of(U128 v, std::uint8_t len) {
  Key k;
  k.len = len;
  for (int i = len - 1; i >= 0; --i, v >>= 8) k.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return k;
}
U128 max_of(std::uint8_t len) { return len == 16 ? ~U128{0} : (U128{1} << (8 * len)) - 1; }

bool reference(std::span<const Interval> set, const Key& k) {
  return std::any_of(set.begin(), set.end(),
                     [&](const Interval& e) { return !key_less(k, e.lo) && !key_less(e.hi, k); });
}
bool reference_sorted(std::span<const Interval> set, const Key& k) {
  auto it = std::upper_bound(set.begin(), set.end(), k, [](const Key& x, const Interval& e) { return key_less(x, e.lo); });
  return it != set.begin() && !key_less(std::prev(it)->hi, k);
}

SetLookup built(DataType t, std::span<const Interval> set) {
  auto s = SetLookup::build(t, set, kKey);
  EXPECT_TRUE(s) << (s ? "" : s.error().message());
  return s ? std::move(*s) : SetLookup{};
}

enum class Shape { singles, ranges, prefixes, mixed };

// `n` random disjoint intervals of `len`-byte keys. Values are drawn from
// [base, base + 2^window), so a small window gives dense sets (adjacent
// elements, deep trie paths) and a window of the whole key space sparse ones.
std::vector<Interval> random_set(std::mt19937_64& rng, std::uint8_t len, std::size_t n, Shape shape, int window) {
  const int bits = 8 * len;
  window = std::min(window, bits);
  U128 mask = window == 128 ? ~U128{0} : (U128{1} << window) - 1;
  U128 base = (((U128{rng()} << 64) | rng()) & max_of(len)) & ~mask;
  auto draw = [&] { return base + (((U128{rng()} << 64) | rng()) & mask); };
  std::vector<std::pair<U128, U128>> raw;
  for (std::size_t i = 0; i < n * 2; ++i) {
    Shape s = shape == Shape::mixed ? static_cast<Shape>(rng() % 3) : shape;
    U128 v = draw();
    if (s == Shape::singles) {
      raw.push_back({v, v});
    } else if (s == Shape::ranges) {
      int width = 1 + static_cast<int>(rng() % static_cast<unsigned>(window / 2));
      U128 w = v + (((U128{rng()} << 64) | rng()) & ((U128{1} << width) - 1));
      U128 hi = w < v || w > max_of(len) ? max_of(len) : w;
      raw.push_back({v, hi == v && v < max_of(len) ? v + 1 : hi});  // a range, not a single value
    } else {
      int host = static_cast<int>(1 + rng() % static_cast<unsigned>(window / 2));  // /16../31 of a whole IPv4 space
      U128 hm = host == 0 ? 0 : (U128{1} << host) - 1;
      raw.push_back({v & ~hm, (v & ~hm) | hm});
    }
  }
  std::sort(raw.begin(), raw.end());
  std::vector<Interval> out;
  U128 last_hi = 0;
  for (auto [lo, hi] : raw) {
    if (!out.empty() && lo <= last_hi) continue;  // overlaps the previous one
    out.push_back({key_of(lo, len), key_of(hi, len)});
    last_hi = hi;
    if (out.size() == n) break;
  }
  return out;
}

// Probes: each interval's ends and their neighbours, values inside, and
// uniform values of the window and of the whole key space.
std::vector<Key> probes(std::mt19937_64& rng, std::span<const Interval> set, std::uint8_t len, std::size_t random) {
  std::vector<Key> out;
  U128 max = max_of(len);
  for (const Interval& e : set) {
    U128 lo = 0, hi = 0;
    for (std::size_t i = 0; i < len; ++i) lo = (lo << 8) | e.lo.bytes[i], hi = (hi << 8) | e.hi.bytes[i];
    out.push_back(e.lo);
    out.push_back(e.hi);
    if (lo > 0) out.push_back(key_of(lo - 1, len));
    if (hi < max) out.push_back(key_of(hi + 1, len));
    out.push_back(key_of(lo + (((U128{rng()} << 64) | rng()) % (hi - lo + 1 == 0 ? max : hi - lo + 1)), len));
  }
  for (std::size_t i = 0; i < random; ++i) out.push_back(key_of(((U128{rng()} << 64) | rng()) & max, len));
  out.push_back(key_of(0, len));
  out.push_back(key_of(max, len));
  return out;
}

void expect_agrees(const SetLookup& s, std::span<const Interval> set, std::span<const Key> keys) {
  for (const Key& k : keys) {
    bool want = set.size() > 2000 ? reference_sorted(set, k) : reference(set, k);
    ASSERT_EQ(s.contains(k.bytes.data()), want) << "kind " << to_string(s.kind()) << " key len " << int{k.len} << " key "
                                                 << std::hex << static_cast<std::uint64_t>(k.to_uint());
  }
}

struct Case {
  DataType type;
  Shape shape;
  std::size_t n;
  int window;
  SetLookup::Kind want;
};

TEST(SetLookup, AgreesWithLinearScanOnRandomSets) {
  using K = SetLookup::Kind;
  const Case cases[] = {
      {DataType::inet_service, Shape::mixed, 5, 16, K::small},
      {DataType::inet_service, Shape::mixed, 300, 16, K::bitmap},
      {DataType::inet_service, Shape::singles, 3000, 12, K::bitmap},
      {DataType::inet_proto, Shape::mixed, 3, 8, K::bitmap},
      {DataType::icmp_type, Shape::ranges, 40, 8, K::bitmap},
      {DataType::ipv4_addr, Shape::singles, 6, 32, K::small},
      {DataType::ipv4_addr, Shape::singles, 2000, 32, K::hash4},
      {DataType::ipv4_addr, Shape::singles, 2000, 12, K::hash4},
      {DataType::ipv4_addr, Shape::prefixes, 2000, 32, K::trie4},
      {DataType::ipv4_addr, Shape::prefixes, 500, 14, K::trie4},
      {DataType::ipv4_addr, Shape::ranges, 2000, 32, K::trie4},
      {DataType::ipv4_addr, Shape::mixed, 3000, 32, K::hash_trie4},
      {DataType::ipv4_addr, Shape::mixed, 3000, 14, K::hash_trie4},
      {DataType::mark, Shape::singles, 1000, 32, K::hash4},
      {DataType::mark, Shape::ranges, 40, 32, K::trie4},
      {DataType::ipv6_addr, Shape::singles, 7, 128, K::small},
      {DataType::ipv6_addr, Shape::singles, 2000, 128, K::hash16},
      {DataType::ipv6_addr, Shape::prefixes, 2000, 128, K::trie16},
      {DataType::ipv6_addr, Shape::prefixes, 1000, 20, K::trie16},
      {DataType::ipv6_addr, Shape::ranges, 1000, 128, K::trie16},
      {DataType::ipv6_addr, Shape::mixed, 2000, 128, K::hash_trie16},
      {DataType::ipv6_addr, Shape::mixed, 2000, 16, K::hash_trie16},
      {DataType::ifname, Shape::prefixes, 30, 128, K::trie16},
      {DataType::ifname, Shape::singles, 30, 128, K::hash16},
  };
  std::mt19937_64 rng(14);
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << to_string(c.type) << " n " << c.n << " window " << c.window);
    std::uint8_t len = data_type_length(c.type);
    auto set = random_set(rng, len, c.n, c.shape, c.window);
    SetLookup s = built(c.type, set);
    EXPECT_EQ(s.kind(), c.want);
    EXPECT_EQ(s.key_length(), len);
    EXPECT_EQ(s.intervals(), set.size());
    auto keys = probes(rng, set, len, 2000);
    expect_agrees(s, set, keys);
  }
}

TEST(SetLookup, EmptySetsHoldNothing) {
  for (DataType t : {DataType::ipv4_addr, DataType::ipv6_addr, DataType::inet_service, DataType::inet_proto,
                     DataType::ifname, DataType::mark}) {
    SetLookup s = built(t, {});
    EXPECT_EQ(s.kind(), SetLookup::Kind::empty);
    std::array<std::uint8_t, 16> zero{}, ones;
    ones.fill(0xff);
    EXPECT_FALSE(s.contains(zero.data()));
    EXPECT_FALSE(s.contains(ones.data()));
  }
  EXPECT_FALSE(SetLookup{}.contains(std::array<std::uint8_t, 16>{}.data()));
}

// Sets of more than kSmallMax elements with `extra` at the ends of the key
// space, so the edges are checked in the bitmap, hash and trie.
std::vector<Interval> with_filler(std::uint8_t len, std::vector<Interval> extra) {
  std::vector<Interval> set = std::move(extra);
  U128 mid = max_of(len) / 2;
  for (U128 i = 0; i < 12; ++i) {
    Key k = key_of(mid + 4 * i, len);
    if (!reference(set, k)) set.push_back({k, k});
  }
  std::sort(set.begin(), set.end(), [](const Interval& a, const Interval& b) { return key_less(a.lo, b.lo); });
  return set;
}

TEST(SetLookup, EdgesOfTheKeySpace) {
  std::mt19937_64 rng(7);
  for (std::uint8_t len : {std::uint8_t{2}, std::uint8_t{4}, std::uint8_t{16}}) {
    DataType t = len == 2 ? DataType::inet_service : len == 4 ? DataType::ipv4_addr : DataType::ipv6_addr;
    U128 max = max_of(len);
    const std::vector<std::vector<Interval>> sets = {
        {{key_of(0, len), key_of(0, len)}},                                  // 0.0.0.0, ::, port 0
        {{key_of(max, len), key_of(max, len)}},                              // 255.255.255.255, ffff::ffff, 65535
        {{key_of(0, len), key_of(max, len)}},                                // /0
        {{key_of(0, len), key_of(0, len)}, {key_of(max, len), key_of(max, len)}},
        {{key_of(0, len), key_of(9, len)}, {key_of(10, len), key_of(19, len)}},          // adjacent
        {{key_of(max - 19, len), key_of(max - 10, len)}, {key_of(max - 9, len), key_of(max, len)}},
    };
    for (const auto& base : sets) {
      for (bool filled : {false, true}) {
        auto set = filled ? with_filler(len, base) : base;
        SCOPED_TRACE(testing::Message() << "len " << int{len} << " size " << set.size());
        SetLookup s = built(t, set);
        expect_agrees(s, set, probes(rng, set, len, 200));
      }
    }
  }
}

// The trie alone on the edges, with a 16-bit and an 8-bit root.
TEST(SetLookup, TrieEdges) {
  using Trie = set_detail::IntervalTrie<std::uint32_t>;
  Trie whole;
  std::vector<Trie::Range> all = {{0, 0xffffffff}};
  whole.build(all);
  for (std::uint32_t v : {0u, 1u, 0x7fffffffu, 0xffffffffu}) EXPECT_TRUE(whole.contains(v));
  EXPECT_EQ(whole.nodes(), 0u);

  set_detail::IntervalTrie<U128> ends;
  std::vector<set_detail::IntervalTrie<U128>::Range> two = {{0, 0}, {~U128{0}, ~U128{0}}};
  ends.build(two);
  EXPECT_TRUE(ends.contains(0));
  EXPECT_TRUE(ends.contains(~U128{0}));
  EXPECT_FALSE(ends.contains(1));
  EXPECT_FALSE(ends.contains(~U128{0} - 1));
  EXPECT_FALSE(ends.contains(U128{1} << 127));

  // A lone /48 and a lone /128: each path below the root folds into one
  // skip node above the level that branches.
  set_detail::IntervalTrie<U128> sparse;
  U128 p48 = U128{0x20010db8'00010000ull} << 64;
  U128 host = (U128{0x20010db8'00020000ull} << 64) | 0x1234;
  std::vector<set_detail::IntervalTrie<U128>::Range> lone = {{p48, p48 | ((U128{1} << 80) - 1)}, {host, host}};
  sparse.build(lone);
  EXPECT_LE(sparse.nodes(), 5u);
  EXPECT_TRUE(sparse.contains(p48));
  EXPECT_TRUE(sparse.contains(p48 | 0xffff));
  EXPECT_FALSE(sparse.contains(p48 - 1));
  EXPECT_FALSE(sparse.contains(p48 + (U128{1} << 80)));
  EXPECT_TRUE(sparse.contains(host));
  EXPECT_FALSE(sparse.contains(host + 1));
  EXPECT_FALSE(sparse.contains(host ^ (U128{1} << 90)));  // off the skipped path

  // Past kWideRootAbove: a 16-bit root, ranges straddling root blocks.
  std::vector<Trie::Range> many;
  for (std::uint32_t i = 0; i < 3000; ++i) many.push_back({i * 1'000'003u + 65530u, i * 1'000'003u + 65541u});
  Trie wide;
  wide.build(many);
  for (const auto& r : many) {
    EXPECT_TRUE(wide.contains(r.lo));
    EXPECT_TRUE(wide.contains(r.hi));
    EXPECT_TRUE(wide.contains(r.lo + 6));
    EXPECT_FALSE(wide.contains(r.lo - 1));
    EXPECT_FALSE(wide.contains(r.hi + 1));
  }
}

TEST(SetLookup, RefusesMalformedElements) {
  auto v4 = [](std::uint32_t lo, std::uint32_t hi) { return Interval{key_of(lo, 4), key_of(hi, 4)}; };
  const std::vector<std::vector<Interval>> bad = {
      {v4(5, 4)},                                   // lo > hi
      {v4(10, 20), v4(1, 2)},                       // unsorted
      {v4(1, 10), v4(10, 20)},                      // overlapping
      {v4(1, 1), {key_of(2, 16), key_of(2, 16)}},   // another type's key
  };
  for (const auto& set : bad) {
    auto s = SetLookup::build(DataType::ipv4_addr, set, kKey);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), error(Errc::invalid_argument));
  }
  std::vector<Interval> too_many(kMaxSetElements + 1);
  for (std::size_t i = 0; i < too_many.size(); ++i) too_many[i] = v4(static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i));
  auto s = SetLookup::build(DataType::ipv4_addr, too_many, kKey);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), error(Errc::too_many_files_open_in_system));
}

TEST(SetLookup, HundredThousandElements) {
  std::mt19937_64 rng(100'000);
  struct Big {
    DataType type;
    Shape shape;
    int window;
    SetLookup::Kind want;
    std::size_t max_bytes;
  };
  using K = SetLookup::Kind;
  for (const Big& b : {Big{DataType::ipv4_addr, Shape::prefixes, 32, K::trie4, 8u << 20},
                       Big{DataType::ipv4_addr, Shape::singles, 32, K::hash4, 2u << 20},
                       Big{DataType::ipv6_addr, Shape::singles, 128, K::hash16, 5u << 20},
                       Big{DataType::ipv6_addr, Shape::prefixes, 48, K::trie16, 64u << 20}}) {
    std::uint8_t len = data_type_length(b.type);
    auto set = random_set(rng, len, 100'000, b.shape, b.window);
    ASSERT_EQ(set.size(), 100'000u);
    SetLookup s = built(b.type, set);
    EXPECT_EQ(s.kind(), b.want);
    EXPECT_LE(s.memory_bytes(), b.max_bytes) << to_string(s.kind());
    std::vector<Key> keys;
    for (std::size_t i = 0; i < 20'000; ++i) {
      const Interval& e = set[rng() % set.size()];
      keys.push_back(e.lo);
      keys.push_back(e.hi);
      keys.push_back(key_of(((U128{rng()} << 64) | rng()) & max_of(len), len));
    }
    expect_agrees(s, set, keys);
  }
}

// The bound of a namespace, 1,048,576 elements, in one set: ranges of
// 1 to 2,048 addresses 4,096 apart, so no two share a trie leaf.
TEST(SetLookup, BuildsTheElementBound) {
  std::vector<Interval> set;
  set.reserve(kMaxSetElements);
  for (std::uint32_t i = 0; i < kMaxSetElements; ++i) {
    std::uint32_t lo = i * 4096u + (i * 2654435761u) % 2048u;
    set.push_back({key_of(lo, 4), key_of(lo + (i * 40503u) % 2048u + 1, 4)});
  }
  SetLookup s = built(DataType::ipv4_addr, set);
  EXPECT_EQ(s.kind(), SetLookup::Kind::trie4);
  EXPECT_LE(s.memory_bytes(), 96u << 20);
  std::mt19937_64 rng(1);
  std::vector<Key> keys;
  for (std::size_t i = 0; i < 10'000; ++i) {
    const Interval& e = set[rng() % set.size()];
    keys.push_back(e.lo);
    keys.push_back(e.hi);
    keys.push_back(key_of(rng() & 0xffffffffu, 4));
  }
  expect_agrees(s, set, keys);
}

// Consecutive addresses, the input multiply-shift hashing handles worst:
// the probe sequences stay within the bound, and the load within 1/2.
TEST(SetLookup, HashProbesStayBoundedOnDenseKeys) {
  std::vector<Interval> set;
  for (std::uint32_t i = 0; i < 100'000; ++i) set.push_back({key_of(0x0a000000u + i, 4), key_of(0x0a000000u + i, 4)});
  SetLookup s = built(DataType::ipv4_addr, set);
  ASSERT_EQ(s.kind(), SetLookup::Kind::hash4);
  EXPECT_LE(s.max_probe(), set_detail::ExactHash<4>::kMaxProbe);
  EXPECT_LE(s.memory_bytes(), 4u * 262'144u + 1024u);  // 2^18 slots of 4 bytes
  std::array<std::uint8_t, 4> probe = {10, 0, 0, 0};
  EXPECT_TRUE(s.contains(probe.data()));
  probe = {10, 1, 134, 160};  // 10.0.0.0 + 100,000
  EXPECT_FALSE(s.contains(probe.data()));
}

TEST(SetLookup, BuildsFromANamedSet) {
  Set named;
  named.type = DataType::inet_service;
  named.interval = true;
  named.elements = {{Key::of_uint(22, 2), Key::of_uint(22, 2)}, {Key::of_uint(8000, 2), Key::of_uint(8080, 2)}};
  auto s = SetLookup::build(named, kKey);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->kind(), SetLookup::Kind::small);
  for (std::uint16_t port : {22, 8000, 8042, 8080}) {
    std::array<std::uint8_t, 2> wire = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    EXPECT_TRUE(s->contains(wire.data())) << port;
  }
  for (std::uint16_t port : {0, 21, 23, 7999, 8081, 65535}) {
    std::array<std::uint8_t, 2> wire = {static_cast<std::uint8_t>(port >> 8), static_cast<std::uint8_t>(port)};
    EXPECT_FALSE(s->contains(wire.data())) << port;
  }
}

TEST(SetLookup, AnswersDoNotDependOnTheHashKey) {
  std::mt19937_64 rng(3);
  auto set = random_set(rng, 4, 5000, Shape::singles, 32);
  auto a = SetLookup::build(DataType::ipv4_addr, set, SipKey::derive(1, kSipPurposeNftSet));
  auto b = SetLookup::build(DataType::ipv4_addr, set, SipKey::derive(2, kSipPurposeNftSet));
  ASSERT_TRUE(a && b);
  for (const Key& k : probes(rng, set, 4, 5000)) EXPECT_EQ(a->contains(k.bytes.data()), b->contains(k.bytes.data()));
}

}  // namespace nft_set_lookup_test
}  // namespace
}  // namespace netns::nft
