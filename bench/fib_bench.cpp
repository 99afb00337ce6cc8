// fib_bench: FIB lookups at 1, 1,000 and 1,000,000 routes, beside DPDK's
// rte_lpm (DIR-24-8) on the same routes and the same addresses in the same run.
//
//   fib_bench [--benchmark_repetitions=5 ...]
//
// Routes: a default route plus random prefixes shaped like an Internet table
// (55% /24, 30% /16../23, 10% /8../15, 5% /25../32). Lookup addresses: 2^20
// pre-generated, half uniform over the address space, half inside a random
// route; the timed loop cycles through them, one lookup per iteration, so the
// time per iteration is ns/lookup. Counters: the Fib's memory_bytes() and the
// time to build each table (untimed by the framework). The ratios Fib/rte_lpm
// are printed after the table.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ipv4/fib.hpp"
#include "netns/device.hpp"
#include "netns/host.hpp"
#include "support/ratio_reporter.hpp"

#ifdef NETNS_BENCH_RTE_LPM
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lpm.h>
#include <rte_memory.h>
#endif

namespace {

using netns::Ipv4Address;
using netns::Ipv4Prefix;
using netns::ipv4::Fib;
using netns::ipv4::FibEntry;

constexpr std::size_t kAddresses = std::size_t{1} << 20;
constexpr std::int64_t kSizes[] = {1, 1'000, 1'000'000};

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

#ifdef NETNS_BENCH_RTE_LPM
struct LpmDeleter {
  void operator()(rte_lpm* lpm) const { rte_lpm_free(lpm); }
};
#endif

// One table size at a time, shared by the Fib and rte_lpm benchmarks of that
// size (registered next to each other), so both see identical routes and
// addresses and only one pair of big tables is alive.
class Tables {
 public:
  Tables() : dev_(netns::make_channel(host_.init_net(), "eth0").value()) {}

  void ensure(std::int64_t size) {
    if (size == size_) return;
    size_ = size;
    fib_ = Fib();
#ifdef NETNS_BENCH_RTE_LPM
    lpm_.reset();
#endif
    std::mt19937_64 rng(static_cast<std::uint64_t>(size) * 7919 + 1);
    std::vector<Ipv4Prefix> routes;
    routes.reserve(static_cast<std::size_t>(size));
    routes.emplace_back(Ipv4Address{}, 0);
    while (routes.size() < static_cast<std::size_t>(size)) {
      const unsigned dice = static_cast<unsigned>(rng() % 100);
      unsigned len = dice < 55   ? 24
                     : dice < 85 ? 16 + static_cast<unsigned>(rng() % 8)
                     : dice < 95 ? 8 + static_cast<unsigned>(rng() % 8)
                                 : 25 + static_cast<unsigned>(rng() % 8);
      const Ipv4Prefix p(Ipv4Address{static_cast<std::uint32_t>(rng())}, static_cast<std::uint8_t>(len));
      routes.emplace_back(p.network(), p.length());
    }

    auto start = std::chrono::steady_clock::now();
    std::vector<Ipv4Prefix> accepted;  // duplicates are refused by the Fib; rte_lpm gets the same set
    accepted.reserve(routes.size());
    for (const Ipv4Prefix& p : routes) {
      if (fib_.insert(FibEntry{.prefix = p, .dev = dev_})) accepted.push_back(p);
    }
    fib_build_ms_ = ms_since(start);
    routes_ = accepted.size();

#ifdef NETNS_BENCH_RTE_LPM
    rte_lpm_config config{};
    config.max_rules = 2'000'000;
    config.number_tbl8s = 1u << 16;
    const std::string name = "fib_bench_" + std::to_string(size);
    lpm_.reset(rte_lpm_create(name.c_str(), SOCKET_ID_ANY, &config));
    if (!lpm_) {
      std::fprintf(stderr, "rte_lpm_create: %s\n", rte_strerror(rte_errno));
      std::exit(1);
    }
    start = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < accepted.size(); ++i) {
      const auto next_hop = static_cast<std::uint32_t>(i);
      const Ipv4Prefix& p = accepted[i];
      // rte_lpm takes depths 1..32 only: a default route is its two /1 halves
      // (the routes here are never shorter than /8 otherwise).
      const int rc = p.length() == 0
                         ? rte_lpm_add(lpm_.get(), 0, 1, next_hop) |
                               rte_lpm_add(lpm_.get(), 0x8000'0000u, 1, next_hop)
                         : rte_lpm_add(lpm_.get(), p.address().value, p.length(), next_hop);
      if (rc != 0) {
        std::fprintf(stderr, "rte_lpm_add %s: %d\n", p.to_string().c_str(), rc);
        std::exit(1);
      }
    }
    lpm_build_ms_ = ms_since(start);
#endif

    addresses_.resize(kAddresses);
    for (std::size_t i = 0; i < kAddresses; ++i) {
      auto a = static_cast<std::uint32_t>(rng());
      if (i % 2 != 0) {
        const Ipv4Prefix& p = accepted[rng() % accepted.size()];
        a = p.network().value | (a & ~p.mask());
      }
      addresses_[i] = a;
    }
  }

  const Fib& fib() const { return fib_; }
#ifdef NETNS_BENCH_RTE_LPM
  const rte_lpm* lpm() const { return lpm_.get(); }
#endif
  const std::vector<std::uint32_t>& addresses() const { return addresses_; }
  std::size_t routes() const { return routes_; }
  double fib_build_ms() const { return fib_build_ms_; }
  double lpm_build_ms() const { return lpm_build_ms_; }

 private:
  netns::Host host_;
  netns::Device* dev_;
  std::int64_t size_ = -1;
  Fib fib_;
#ifdef NETNS_BENCH_RTE_LPM
  std::unique_ptr<rte_lpm, LpmDeleter> lpm_;
#endif
  std::vector<std::uint32_t> addresses_;
  std::size_t routes_ = 0;
  double fib_build_ms_ = 0, lpm_build_ms_ = 0;
};

void fib_lookup(benchmark::State& state, Tables& tables) {
  tables.ensure(state.range(0));
  const Fib& fib = tables.fib();
  const std::uint32_t* addresses = tables.addresses().data();
  std::size_t i = 0;
  std::uintptr_t found = 0;
  for (auto _ : state) {
    const FibEntry* e = fib.lookup(Ipv4Address{addresses[i]});
    found += reinterpret_cast<std::uintptr_t>(e) != 0;
    benchmark::DoNotOptimize(e);
    i = (i + 1) & (kAddresses - 1);
  }
  if (found != static_cast<std::uintptr_t>(state.iterations())) state.SkipWithError("a lookup missed the default route");
  state.SetItemsProcessed(state.iterations());
  state.counters["routes"] = static_cast<double>(tables.routes());
  state.counters["MiB"] = static_cast<double>(fib.memory_bytes()) / (1024.0 * 1024.0);
  state.counters["build_ms"] = tables.fib_build_ms();
}

#ifdef NETNS_BENCH_RTE_LPM
void lpm_lookup(benchmark::State& state, Tables& tables) {
  tables.ensure(state.range(0));
  const rte_lpm* lpm = tables.lpm();
  const std::uint32_t* addresses = tables.addresses().data();
  std::size_t i = 0;
  std::uint64_t found = 0;
  for (auto _ : state) {
    std::uint32_t next_hop = 0;
    const int rc = rte_lpm_lookup(lpm, addresses[i], &next_hop);
    found += rc == 0;
    benchmark::DoNotOptimize(next_hop);
    i = (i + 1) & (kAddresses - 1);
  }
  if (found != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("a lookup missed the default route");
  state.SetItemsProcessed(state.iterations());
  state.counters["routes"] = static_cast<double>(tables.routes());
  // tbl24 + tbl8s + the rules table, as rte_lpm_create sizes them.
  state.counters["MiB"] = static_cast<double>((std::size_t{1} << 24) * 4 + (std::size_t{1} << 16) * 256 * 4 +
                                              std::size_t{2'000'000} * 8) / (1024.0 * 1024.0);
  state.counters["build_ms"] = tables.lpm_build_ms();
}
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef NETNS_BENCH_RTE_LPM
  char* eal_args[] = {argv[0],        const_cast<char*>("--no-huge"), const_cast<char*>("-m"),
                      const_cast<char*>("512"), const_cast<char*>("--no-pci"),
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
      benchmark::RegisterBenchmark("BM_FibLookup", [&tables](benchmark::State& s) { fib_lookup(s, tables); })
          ->Arg(size);
#ifdef NETNS_BENCH_RTE_LPM
      benchmark::RegisterBenchmark("BM_RteLpmLookup", [&tables](benchmark::State& s) { lpm_lookup(s, tables); })
          ->Arg(size);
      const std::string arg = std::to_string(size);
      reporter.add_ratio("Fib / rte_lpm at " + arg + " routes", "BM_FibLookup/" + arg,
                         "BM_RteLpmLookup/" + arg);
#endif
    }
    std::printf("sizeof(Fib) = %zu bytes; an empty Fib allocates nothing (memory_bytes() = %zu)\n",
                sizeof(Fib), Fib().memory_bytes());
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
  }  // the rte_lpm tables are freed before the EAL goes

#ifdef NETNS_BENCH_RTE_LPM
  rte_eal_cleanup();
#endif
  return 0;
}
