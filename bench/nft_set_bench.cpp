// nft_set_bench: nft set lookups (SetLookup, src/nft/set_lookup.hpp) at 10,
// 1,000 and 100,000 elements of each representation, hits and misses, to
// show the cost stays flat; and the build of 100,000 and 1,000,000 IPv4
// prefixes.
//
//   nft_set_bench [--benchmark_repetitions=3 --benchmark_report_aggregates_only=true]
//
// BM_SetLookup/<set>/<elements>/<hit|miss>: one contains() per iteration,
// cycling through 2^20 pre-generated keys (16 MiB, so a large set's lookups
// are not all served from the L1 cache): hits are random values inside a
// random element, misses random values outside every element (checked by a
// binary search over the intervals when generated); hit_hot cycles through
// only 1,024 of the hits, so the paths they read stay in the caches: the
// lookup's own cost, without the memory hierarchy's. Sets:
//   port    inet_service: random ports and port ranges → bitmap; 100,000
//           elements do not fit 65,536 ports, so the largest is 20,000
//   v4      ipv4_addr, single addresses (a set without `interval`) → hash4
//   v6      ipv6_addr, single addresses → hash16
//   v4net   ipv4_addr interval: prefixes /16../31 → trie4 (also at 1,000,000)
//   v6net   ipv6_addr interval: prefixes /32../64 under 2000::/3 → trie16
//   v4mix   ipv4_addr interval: a third each /32, ranges, /16../31 prefixes → hash_trie4
//   small   ipv4_addr { 8 addresses } → small (its bound is 8 elements)
// Counters: bytes (SetLookup::memory_bytes()), max_probe (hashes), nodes
// (tries). After the table, the ratio 100,000 / 10 elements per set.
//
// BM_BuildV4Prefixes/<n>: SetLookup::build for n random IPv4 prefixes
// /16../31 (the trie) and BM_BuildV4Blocklist/<n> for /24../32 (a block
// list, single addresses 1/9: the hash and the trie); build time per
// iteration in ms, bytes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "nft/set_lookup.hpp"
#include "support/ratio_reporter.hpp"

namespace {

using netns::SipKey;
using netns::nft::DataType;
using netns::nft::Interval;
using netns::nft::Key;
using netns::nft::SetLookup;
using netns::nft::set_detail::U128;

constexpr std::size_t kProbes = std::size_t{1} << 20;
const SipKey kKey = SipKey::derive(1, netns::kSipPurposeNftSet);

U128 random128(std::mt19937_64& rng) { return (U128{rng()} << 64) | rng(); }

Key key_of(U128 v, std::uint8_t len) {
  Key k;
  k.len = len;
  for (int i = len - 1; i >= 0; --i, v >>= 8) k.bytes[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
  return k;
}
U128 number(const Key& k) {
  U128 v = 0;
  for (std::size_t i = 0; i < k.len; ++i) v = (v << 8) | k.bytes[i];
  return v;
}

struct Spec {
  const char* name;
  DataType type;
  // Draws one element [lo, hi] (numbers of the type's width).
  std::pair<U128, U128> (*draw)(std::mt19937_64&);
};

std::pair<U128, U128> prefix(std::mt19937_64& rng, int bits, U128 base, int fixed, int min_len, int max_len) {
  int len = min_len + static_cast<int>(rng() % static_cast<unsigned>(max_len - min_len + 1));
  U128 free_mask = fixed == 0 ? ~U128{0} : (U128{1} << (bits - fixed)) - 1;
  U128 v = base | (random128(rng) & free_mask);
  if (bits < 128) v &= (U128{1} << bits) - 1;
  U128 host = (U128{1} << (bits - len)) - 1;
  return {v & ~host, (v & ~host) | host};
}

const Spec kSpecs[] = {
    {"port", DataType::inet_service,
     [](std::mt19937_64& rng) {
       U128 p = rng() % 65536;
       return std::pair<U128, U128>{p, rng() % 4 == 0 ? std::min<U128>(p + rng() % 8, 65535) : p};
     }},
    {"v4", DataType::ipv4_addr, [](std::mt19937_64& rng) { U128 v = rng() & 0xffffffffu; return std::pair{v, v}; }},
    {"v6", DataType::ipv6_addr, [](std::mt19937_64& rng) { U128 v = random128(rng); return std::pair{v, v}; }},
    {"v4net", DataType::ipv4_addr, [](std::mt19937_64& rng) { return prefix(rng, 32, 0, 0, 16, 31); }},
    {"v6net", DataType::ipv6_addr,
     [](std::mt19937_64& rng) { return prefix(rng, 128, U128{0x2000} << 112, 3, 32, 64); }},
    {"v4mix", DataType::ipv4_addr,
     [](std::mt19937_64& rng) {
       switch (rng() % 3) {
         case 0: {
           U128 v = rng() & 0xffffffffu;
           return std::pair{v, v};
         }
         case 1: {
           U128 v = rng() & 0xffffffffu;
           return std::pair{v, std::min<U128>(v + 1 + rng() % 5000, 0xffffffffu)};
         }
         default: return prefix(rng, 32, 0, 0, 16, 31);
       }
     }},
    {"small", DataType::ipv4_addr, [](std::mt19937_64& rng) { U128 v = rng() & 0xffffffffu; return std::pair{v, v}; }},
};

// n disjoint elements drawn by `spec`, sorted (fewer if the key space is
// too small to hold n).
std::vector<Interval> make_set(const Spec& spec, std::size_t n, std::mt19937_64& rng) {
  std::uint8_t len = netns::nft::data_type_length(spec.type);
  std::vector<std::pair<U128, U128>> raw;
  std::vector<Interval> out;
  for (int round = 0; round < 8 && out.size() < n; ++round) {
    while (raw.size() < n + n / 2 * (round + 1)) raw.push_back(spec.draw(rng));
    std::sort(raw.begin(), raw.end());
    out.clear();
    for (auto [lo, hi] : raw) {
      if (!out.empty() && lo <= number(out.back().hi)) continue;
      out.push_back({key_of(lo, len), key_of(hi, len)});
      if (out.size() == n) break;
    }
  }
  return out;
}

bool in_set(const std::vector<Interval>& set, U128 v) {
  auto it = std::upper_bound(set.begin(), set.end(), v, [](U128 x, const Interval& e) { return x < number(e.lo); });
  return it != set.begin() && v <= number(std::prev(it)->hi);
}

std::vector<std::array<std::uint8_t, 16>> make_probes(const std::vector<Interval>& set, std::uint8_t len, bool hit,
                                                      std::mt19937_64& rng) {
  std::vector<std::array<std::uint8_t, 16>> out;
  out.reserve(kProbes);
  U128 max = len == 16 ? ~U128{0} : (U128{1} << (8 * len)) - 1;
  while (out.size() < kProbes) {
    U128 v;
    if (hit) {
      const Interval& e = set[rng() % set.size()];
      U128 lo = number(e.lo), span = number(e.hi) - lo;
      v = lo + (span == ~U128{0} ? random128(rng) : random128(rng) % (span + 1));
    } else {
      v = random128(rng) & max;
      if (in_set(set, v)) continue;
    }
    out.push_back(key_of(v, len).bytes);
  }
  return out;
}

void BM_SetLookup(benchmark::State& state, const Spec& spec, std::size_t n, bool hit, std::size_t distinct) {
  std::mt19937_64 rng(n * 2 + (hit ? 1 : 0));
  auto set = make_set(spec, n, rng);
  auto built = SetLookup::build(spec.type, set, kKey);
  if (!built) {
    state.SkipWithError(("build failed: " + built.error().message()).c_str());
    return;
  }
  const SetLookup& s = *built;
  auto probes = make_probes(set, s.key_length(), hit, rng);
  std::size_t i = 0, found = 0;
  for (auto _ : state) {
    found += s.contains(probes[i & (distinct - 1)].data());
    ++i;
  }
  if (found != (hit ? i : 0)) state.SkipWithError("a lookup disagreed with the intervals");
  state.SetLabel(std::string(netns::nft::to_string(s.kind())) + ", " + std::to_string(set.size()) + " elements");
  state.counters["bytes"] = static_cast<double>(s.memory_bytes());
  state.counters["max_probe"] = s.max_probe();
  state.counters["nodes"] = static_cast<double>(s.trie_nodes());
}

void BM_Build(benchmark::State& state, const Spec& spec, std::size_t n) {
  std::mt19937_64 rng(n);
  auto set = make_set(spec, n, rng);
  std::size_t bytes = 0;
  SetLookup::Kind kind{};
  for (auto _ : state) {
    auto built = SetLookup::build(spec.type, set, kKey);
    if (!built) {
      state.SkipWithError("build failed");
      return;
    }
    bytes = built->memory_bytes();
    kind = built->kind();
    benchmark::DoNotOptimize(built);
  }
  state.SetLabel(std::string(netns::nft::to_string(kind)) + ", " + std::to_string(set.size()) + " elements");
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["bytes_per_element"] = static_cast<double>(bytes) / static_cast<double>(set.size());
}

const Spec kBlocklist = {"v4blocklist", DataType::ipv4_addr,
                         [](std::mt19937_64& rng) { return prefix(rng, 32, 0, 0, 24, 32); }};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bench::RatioReporter reporter;
  for (const Spec& spec : kSpecs) {
    std::string base = std::string("BM_SetLookup/") + spec.name + "/";
    std::vector<std::size_t> sizes = {10, 1'000, 100'000};
    if (spec.type == DataType::inet_service) sizes = {10, 1'000, 20'000};
    if (std::string(spec.name) == "v4net") sizes.push_back(1'000'000);
    if (std::string(spec.name) == "small") sizes = {2, 8};
    for (const char* mode : {"hit", "miss", "hit_hot"}) {
      const bool hit = std::string(mode) != "miss";
      const std::size_t distinct = std::string(mode) == "hit_hot" ? 1024 : kProbes;
      for (std::size_t n : sizes) {
        std::string name = base + std::to_string(n) + "/" + mode;
        benchmark::RegisterBenchmark(name.c_str(),
                                     [&spec, n, hit, distinct](benchmark::State& st) { BM_SetLookup(st, spec, n, hit, distinct); });
      }
      std::string large = base + std::to_string(sizes[sizes.size() > 3 ? 2 : sizes.size() - 1]) + "/" + mode;
      reporter.add_ratio(std::string(spec.name) + " " + mode + ": largest / smallest", large,
                         base + std::to_string(sizes.front()) + "/" + mode);
    }
  }
  for (std::size_t n : {std::size_t{100'000}, std::size_t{1'000'000}}) {
    benchmark::RegisterBenchmark(("BM_BuildV4Prefixes/" + std::to_string(n)).c_str(),
                                 [n](benchmark::State& st) { BM_Build(st, kSpecs[3], n); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
    benchmark::RegisterBenchmark(("BM_BuildV4Blocklist/" + std::to_string(n)).c_str(),
                                 [n](benchmark::State& st) { BM_Build(st, kBlocklist, n); })
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
  }
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
