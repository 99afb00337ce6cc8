// soak_bench (issue 11) — not in bench/run.sh nor CI: it runs for minutes.
//
//   BM_Soak   1,000 namespaces (100 groups of a hub with two bridges and
//             nine leaves) on one Host on the real clock, for 10 minutes:
//             TCP connections that open, move a random amount (checked),
//             close and leave TIME_WAIT records; UDP request/response;
//             pings; every third group's links lossy, reordering and
//             delayed; namespaces replaced, ports re-mastered and flapped,
//             addresses, routes and faults changed, extra devices added,
//             moved and destroyed; illegal operations tried, each refused
//             and checked to change nothing. Sampled every 10 s (RSS,
//             packets in use, leaked holds, namespaces, sockets, TIME_WAIT,
//             neighbours), everything destroyed at the end. The driver is
//             tests/support/soak.{hpp,cpp}, shared with tests/core/soak_test.cpp.
//
// The clock is the real one, because a stall is real time: every
// Host::poll is timed (max_poll_ms, p99_poll_ms after the warm-up) and so
// is the gap between two polls (the driver's own work).
//
//   SOAK_SECONDS=600 SOAK_NETS=1000 build/bench/soak_bench
//
// Environment: SOAK_SECONDS (600), SOAK_NETS (1000), SOAK_WARMUP (90, or a
// fifth of a shorter run), SOAK_SAMPLE_SECONDS (10), SOAK_SEED (1),
// SOAK_CONNECTIONS_PER_SECOND (200). The samples go to stderr as they are
// taken, the summary to stderr at the end, the figures to the counters.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/soak.hpp"

namespace {

long env(const char* name, long fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long parsed = std::strtol(value, &end, 10);
  return end != value && *end == '\0' && parsed > 0 ? parsed : fallback;
}

void BM_Soak(benchmark::State& state) {
  namespace soak = netns::soak;
  soak::Config config;
  config.duration = std::chrono::seconds(env("SOAK_SECONDS", 600));
  config.nets = static_cast<std::size_t>(env("SOAK_NETS", 1000));
  config.warmup = std::chrono::seconds(env("SOAK_WARMUP", std::min<long>(90, config.duration.count() / 5)));
  config.sample_every = std::chrono::seconds(env("SOAK_SAMPLE_SECONDS", 10));
  config.seed = static_cast<std::uint64_t>(env("SOAK_SEED", 1));
  config.connections_per_second = static_cast<double>(env("SOAK_CONNECTIONS_PER_SECOND", 200));
  config.log = [](std::string_view line) { std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data()); };

  soak::Report r;
  for (auto _ : state) r = soak::run(config);
  std::fprintf(stderr, "%s", soak::format_report(r).c_str());

  constexpr double kMiB = 1 << 20;
  auto& c = state.counters;
  c["rss_start_MiB"] = static_cast<double>(r.rss_start) / kMiB;
  c["rss_end_MiB"] = static_cast<double>(r.rss_end) / kMiB;
  c["rss_max_MiB"] = static_cast<double>(r.rss_max) / kMiB;
  c["heap_start_MiB"] = static_cast<double>(r.heap_start) / kMiB;
  c["heap_end_MiB"] = static_cast<double>(r.heap_end) / kMiB;
  c["max_poll_ms"] = r.max_poll_ms;
  c["p99_poll_ms"] = r.p99_poll_ms;
  c["max_poll_cpu_ms"] = r.max_poll_cpu_ms;
  c["polls_over_2ms"] = static_cast<double>(r.polls_over_2ms);
  c["descheduled"] = static_cast<double>(r.polls_over_2ms_descheduled);
  c["max_gap_ms"] = r.max_gap_ms;
  c["max_work_ms"] = r.max_work_ms;
  c["max_late_ms"] = r.max_late_ms;
  c["conns_done"] = static_cast<double>(r.connections_completed);
  c["conns_failed"] = static_cast<double>(r.connections_failed + r.connections_aborted);
  c["MB_moved"] = static_cast<double>(r.bytes_received) / 1e6;
  c["refusals"] = static_cast<double>(r.refusals_total);
  c["illegal_accepted"] = static_cast<double>(r.illegal_accepted + r.refusal_changed_state);
  c["tx_dropped"] = static_cast<double>(r.tx_dropped);
  c["packets_in_use"] = static_cast<double>(r.final_packets_in_use);
  c["leaked_holds"] = static_cast<double>(r.final_leaked_holds);
  if (r.final_packets_in_use != 0 || r.final_leaked_holds != 0 || r.illegal_accepted != 0 ||
      r.refusal_changed_state != 0 || r.stream_mismatches != 0 || r.final_live_nets != 1 || r.routes_lost != 0) {
    state.SkipWithError("the soak found a leak, a corrupt stream, a lost route or an illegal operation accepted (see stderr)");
  }
}
BENCHMARK(BM_Soak)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
