// fib6_bench: FIB6 lookups for a namespace's own table (10 routes) and for
// 1,000 and 100,000 routes, beside DPDK's rte_lpm6 on the same routes and the
// same addresses in the same run.
//
//   fib6_bench [--benchmark_repetitions=5 ...]
//
// Routes (Arg 1,000 and 100,000): shaped like the Internet's IPv6 table, no
// default route: allocations (/32 and /29../31, 15%) under 2001::/16 and
// five RIR /12s, then more-specifics inside random allocations: /48 half of
// all, /36../47 a quarter, /56 and /64 10%, /128 1%. Arg 10: a namespace as
// it usually is — fe80::/64, two global /64s and a ULA /64, a default
// route, the /128s of its own addresses and ::1. Lookup addresses:
// 2^20 pre-generated, 90% inside a random route (random host bits), 10%
// uniform in 2000::/3 (mostly misses at 1,000 routes); the timed loop cycles
// through them, one lookup per iteration, so the time per iteration is
// ns/lookup. Before timing, both tables' answers are compared on 2^16 of the
// addresses (route i is Fib6 metric i and rte_lpm6 next hop i).
// Counters: MiB (Fib6::memory_bytes(); for rte_lpm6 the DPDK heap bytes its
// create took, configured with exactly the tbl8 groups the set needs) and
// build_ms. The ratios Fib6 / rte_lpm6 are printed after the table.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ipv6/fib6.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "support/ratio_reporter.hpp"

#ifdef NETNS_BENCH_RTE_LPM6
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#endif

namespace {

using netns::Ipv6Address;
using netns::Ipv6Prefix;
using netns::ipv6::Fib6;
using netns::ipv6::Fib6Entry;

constexpr std::size_t kAddresses = std::size_t{1} << 20;
constexpr std::size_t kCrossChecked = std::size_t{1} << 16;
constexpr std::int64_t kNamespaceTable = 10;
constexpr std::int64_t kSizes[] = {kNamespaceTable, 1'000, 100'000};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

Ipv6Address with_random_bits(const Ipv6Address& base, unsigned from, unsigned to, std::mt19937_64& rng) {
  Ipv6Address::Bytes b = base.bytes();
  for (unsigned bit = from; bit < to; ++bit) {
    const auto m = static_cast<std::uint8_t>(0x80 >> (bit % 8));
    b[bit / 8] = static_cast<std::uint8_t>((rng() & 1) ? (b[bit / 8] | m) : (b[bit / 8] & ~m));
  }
  return Ipv6Address(b);
}

std::vector<Ipv6Prefix> internet_routes(std::size_t count, std::mt19937_64& rng) {
  static const Ipv6Prefix kRegions[] = {
      Ipv6Prefix(Ipv6Address(0x2001, 0, 0, 0, 0, 0, 0, 0), 16),
      Ipv6Prefix(Ipv6Address(0x2400, 0, 0, 0, 0, 0, 0, 0), 12),
      Ipv6Prefix(Ipv6Address(0x2600, 0, 0, 0, 0, 0, 0, 0), 12),
      Ipv6Prefix(Ipv6Address(0x2800, 0, 0, 0, 0, 0, 0, 0), 12),
      Ipv6Prefix(Ipv6Address(0x2a00, 0, 0, 0, 0, 0, 0, 0), 12),
      Ipv6Prefix(Ipv6Address(0x2c00, 0, 0, 0, 0, 0, 0, 0), 12)};
  std::vector<Ipv6Prefix> out;
  const std::size_t allocations = std::max<std::size_t>(count * 15 / 100, 1);
  while (out.size() < allocations) {
    const Ipv6Prefix& region = kRegions[rng() % std::size(kRegions)];
    const unsigned len = rng() % 100 < 73 ? 32 : 29 + static_cast<unsigned>(rng() % 3);
    out.emplace_back(with_random_bits(region.address(), region.length(), len, rng).with_scope(0),
                     static_cast<std::uint8_t>(len));
  }
  while (out.size() < count) {
    const Ipv6Prefix& alloc = out[rng() % allocations];
    const unsigned dice = static_cast<unsigned>(rng() % 85);
    const unsigned len = dice < 3    ? 36
                         : dice < 11 ? 40
                         : dice < 20 ? 44
                         : dice < 24 ? 46 + static_cast<unsigned>(rng() % 2)
                         : dice < 74 ? 48
                         : dice < 77 ? 56
                         : dice < 84 ? 64
                                     : 128;
    out.emplace_back(with_random_bits(alloc.network(), alloc.length(), len, rng),
                     static_cast<std::uint8_t>(len));
  }
  return out;
}

std::vector<Ipv6Prefix> namespace_routes() {
  std::vector<Ipv6Prefix> out;
  for (const char* p : {"fe80::/64", "2001:db8:1::/64", "2001:db8:2::/64", "fd12:3456:789a:1::/64", "::/0",
                        "2001:db8:1::10/128", "2001:db8:2::10/128", "fd12:3456:789a:1::10/128",
                        "fe80::200:ff:fe00:1/128", "::1/128"}) {
    out.push_back(Ipv6Prefix::parse(p).value());
  }
  return out;
}

#ifdef NETNS_BENCH_RTE_LPM6
struct Lpm6Deleter {
  void operator()(rte_lpm6* lpm) const { rte_lpm6_free(lpm); }
};

std::size_t dpdk_heap_bytes() {
  rte_malloc_socket_stats stats{};
  std::size_t total = 0;
  for (int socket = 0; socket < RTE_MAX_NUMA_NODES; ++socket) {
    if (rte_malloc_get_socket_stats(socket, &stats) == 0) total += stats.heap_allocsz_bytes;
  }
  return total;
}

// rte_lpm6 spends one tbl8 group per distinct (24 + 8k)-bit block holding a
// route longer than 24 + 8k bits: the exact number it needs for this set.
std::size_t tbl8s_needed(const std::vector<Ipv6Prefix>& routes) {
  std::set<std::pair<unsigned, std::array<std::uint8_t, 16>>> blocks;
  for (const Ipv6Prefix& p : routes) {
    for (unsigned bits = 24; bits < p.length(); bits += 8) {
      blocks.insert({bits, Ipv6Prefix(p.address(), static_cast<std::uint8_t>(bits)).network().bytes()});
    }
  }
  return blocks.size();
}
#endif

// One table size at a time, shared by the Fib6 and rte_lpm6 benchmarks of
// that size (registered next to each other): both see identical routes and
// addresses, and only one pair of big tables is alive.
class Tables {
 public:
  Tables() : dev_(netns::make_channel(host_.init_net(), "eth0").value()) {}

  void ensure(std::int64_t size) {
    if (size == size_) return;
    size_ = size;
    fib_ = Fib6();
#ifdef NETNS_BENCH_RTE_LPM6
    lpm_.reset();
#endif
    std::mt19937_64 rng(static_cast<std::uint64_t>(size) * 7919 + 1);
    const std::vector<Ipv6Prefix> routes =
        size == kNamespaceTable ? namespace_routes() : internet_routes(static_cast<std::size_t>(size), rng);

    auto start = std::chrono::steady_clock::now();
    std::vector<Ipv6Prefix> accepted;  // duplicates are refused by the Fib6; rte_lpm6 gets the same set
    accepted.reserve(routes.size());
    for (const Ipv6Prefix& p : routes) {
      const Fib6Entry e{.prefix = p, .dev = dev_, .metric = static_cast<std::uint32_t>(accepted.size())};
      if (fib_.find(Fib6Entry{.prefix = p, .metric = 0}) == nullptr && fib_.insert(e)) accepted.push_back(p);
    }
    fib_build_ms_ = ms_since(start);
    routes_ = accepted.size();

    addresses_.resize(kAddresses);
    for (std::size_t i = 0; i < kAddresses; ++i) {
      if (i % 10 == 9) {
        addresses_[i] = with_random_bits(Ipv6Address(0x2000, 0, 0, 0, 0, 0, 0, 0), 3, 128, rng);
      } else {
        const Ipv6Prefix& p = accepted[rng() % accepted.size()];
        addresses_[i] = with_random_bits(p.network(), p.length(), 128, rng);
      }
    }

#ifdef NETNS_BENCH_RTE_LPM6
    rte_lpm6_config config{};
    config.max_rules = static_cast<std::uint32_t>(accepted.size() + 1);  // ::/0 is two rules
    config.number_tbl8s = static_cast<std::uint32_t>(std::max<std::size_t>(tbl8s_needed(accepted), 1));
    lpm_tbl8s_ = config.number_tbl8s;
    const std::string name = "fib6_bench_" + std::to_string(size);
    const std::size_t heap_before = dpdk_heap_bytes();
    lpm_.reset(rte_lpm6_create(name.c_str(), SOCKET_ID_ANY, &config));
    if (!lpm_) {
      std::fprintf(stderr, "rte_lpm6_create: %s\n", rte_strerror(rte_errno));
      std::exit(1);
    }
    lpm_bytes_ = dpdk_heap_bytes() - heap_before;
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < accepted.size(); ++i) {
      const Ipv6Prefix& p = accepted[i];
      const auto next_hop = static_cast<std::uint32_t>(i);
      // rte_lpm6 takes depths 1..128 only: a default route is its two /1 halves.
      const Ipv6Address upper(0x8000, 0, 0, 0, 0, 0, 0, 0);
      const int rc = p.length() == 0 ? rte_lpm6_add(lpm_.get(), p.address().bytes().data(), 1, next_hop) |
                                           rte_lpm6_add(lpm_.get(), upper.bytes().data(), 1, next_hop)
                                     : rte_lpm6_add(lpm_.get(), p.address().bytes().data(), p.length(), next_hop);
      if (rc != 0) {
        std::fprintf(stderr, "rte_lpm6_add %s: %d\n", p.to_string().c_str(), rc);
        std::exit(1);
      }
    }
    lpm_build_ms_ = ms_since(start);
    cross_check();
#endif
  }

  const Fib6& fib() const { return fib_; }
#ifdef NETNS_BENCH_RTE_LPM6
  const rte_lpm6* lpm() const { return lpm_.get(); }
  std::size_t lpm_bytes() const { return lpm_bytes_; }
  std::size_t lpm_tbl8s() const { return lpm_tbl8s_; }
#endif
  const std::vector<Ipv6Address>& addresses() const { return addresses_; }
  std::size_t routes() const { return routes_; }
  double fib_build_ms() const { return fib_build_ms_; }
  double lpm_build_ms() const { return lpm_build_ms_; }

 private:
#ifdef NETNS_BENCH_RTE_LPM6
  void cross_check() const {
    for (std::size_t i = 0; i < kCrossChecked; ++i) {
      const Fib6Entry* e = fib_.lookup(addresses_[i]);
      std::uint32_t next_hop = 0;
      const bool hit = rte_lpm6_lookup(lpm_.get(), addresses_[i].bytes().data(), &next_hop) == 0;
      if ((e != nullptr) != hit || (hit && e->metric != next_hop)) {
        std::fprintf(stderr, "Fib6 and rte_lpm6 disagree on %s\n", addresses_[i].to_string().c_str());
        std::exit(1);
      }
    }
  }
#endif

  netns::Host host_;
  netns::Device* dev_;
  std::int64_t size_ = -1;
  Fib6 fib_;
#ifdef NETNS_BENCH_RTE_LPM6
  std::unique_ptr<rte_lpm6, Lpm6Deleter> lpm_;
  std::size_t lpm_bytes_ = 0;
  std::size_t lpm_tbl8s_ = 0;
#endif
  std::vector<Ipv6Address> addresses_;
  std::size_t routes_ = 0;
  double fib_build_ms_ = 0, lpm_build_ms_ = 0;
};

void fib6_lookup(benchmark::State& state, Tables& tables) {
  tables.ensure(state.range(0));
  const Fib6& fib = tables.fib();
  const Ipv6Address* addresses = tables.addresses().data();
  std::size_t i = 0;
  std::uint64_t found = 0;
  for (auto _ : state) {
    const Fib6Entry* e = fib.lookup(addresses[i]);
    found += e != nullptr;
    benchmark::DoNotOptimize(e);
    i = (i + 1) & (kAddresses - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["routes"] = static_cast<double>(tables.routes());
  state.counters["hit%"] = 100.0 * static_cast<double>(found) / static_cast<double>(state.iterations());
  state.counters["MiB"] = static_cast<double>(fib.memory_bytes()) / (1024.0 * 1024.0);
  state.counters["groups"] = static_cast<double>(fib.trie_groups());
  state.counters["build_ms"] = tables.fib_build_ms();
}

#ifdef NETNS_BENCH_RTE_LPM6
void lpm6_lookup(benchmark::State& state, Tables& tables) {
  tables.ensure(state.range(0));
  const rte_lpm6* lpm = tables.lpm();
  const Ipv6Address* addresses = tables.addresses().data();
  std::size_t i = 0;
  std::uint64_t found = 0;
  for (auto _ : state) {
    std::uint32_t next_hop = 0;
    found += rte_lpm6_lookup(lpm, addresses[i].bytes().data(), &next_hop) == 0;
    benchmark::DoNotOptimize(next_hop);
    i = (i + 1) & (kAddresses - 1);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["routes"] = static_cast<double>(tables.routes());
  state.counters["hit%"] = 100.0 * static_cast<double>(found) / static_cast<double>(state.iterations());
  state.counters["MiB"] = static_cast<double>(tables.lpm_bytes()) / (1024.0 * 1024.0);
  state.counters["groups"] = static_cast<double>(tables.lpm_tbl8s());
  state.counters["build_ms"] = tables.lpm_build_ms();
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef NETNS_BENCH_RTE_LPM6
  // rte_lpm6 takes a 64 MiB tbl24 plus the tbl8s of the 100,000-route set.
  char* eal_args[] = {argv[0],        const_cast<char*>("--no-huge"), const_cast<char*>("-m"),
                      const_cast<char*>("1024"), const_cast<char*>("--no-pci"),
                      const_cast<char*>("--no-shconf"), const_cast<char*>("-l"),
                      const_cast<char*>("0"), const_cast<char*>("--log-level=lib.eal:error")};
  if (rte_eal_init(static_cast<int>(std::size(eal_args)), eal_args) < 0) {
    std::fprintf(stderr, "rte_eal_init: %s\n", rte_strerror(rte_errno));
    return 1;
  }
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  {
    Tables tables;
    bench::RatioReporter reporter;
    for (std::int64_t size : kSizes) {
      benchmark::RegisterBenchmark("BM_Fib6Lookup", [&tables](benchmark::State& s) { fib6_lookup(s, tables); })
          ->Arg(size);
#ifdef NETNS_BENCH_RTE_LPM6
      benchmark::RegisterBenchmark("BM_RteLpm6Lookup", [&tables](benchmark::State& s) { lpm6_lookup(s, tables); })
          ->Arg(size);
      const std::string arg = std::to_string(size);
      reporter.add_ratio("Fib6 / rte_lpm6 at " + arg + " routes", "BM_Fib6Lookup/" + arg,
                         "BM_RteLpm6Lookup/" + arg);
#endif
    }
    std::printf("sizeof(Fib6) = %zu bytes; an empty Fib6 allocates nothing (memory_bytes() = %zu)\n",
                sizeof(Fib6), Fib6().memory_bytes());
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
  }  // the rte_lpm6 tables are freed before the EAL goes

#ifdef NETNS_BENCH_RTE_LPM6
  rte_eal_cleanup();
#endif
  return 0;
}
