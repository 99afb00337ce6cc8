// nft_bench (issue 14): what nft's rules cost on the forwarding path.
//
//   BM_Forward64Plain        ipv4_bench's BM_Forward64 rig (1 namespace
//                            alive), for the ratios in the same run.
//   BM_NftForward64/0        no tables (a ruleset loaded and flushed: the
//                            hooks are null again). Target: within 1 % of
//                            BM_Forward64Plain.
//   BM_NftForward64/1        an empty filter forward chain, policy accept.
//                            Target: >= 8 Mpps.
//   BM_NftForward64/2        100 rules that do not match, run one by one.
//   BM_NftForward64/3        one rule matching ip saddr against a
//                            100,000-element named set (no hit).
//   BM_NftNoTablesRatio      plain and no-tables rigs in alternating batches,
//                            in thread CPU time: counter `ratio` (<= 1.01).
// Every variant checks that all packets came out and nothing was copied.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "netns/nft.hpp"
#include "support/cpu_time.hpp"
#include "support/forward_rig.hpp"

namespace {

using bench::ForwardRig;

std::string big_set_script() {
  std::string s =
      "table ip f {\n set big { type ipv4_addr; }\n"
      " chain fwd { type filter hook forward priority filter; policy accept; ip saddr @big drop; }\n}\n"
      "add element ip f big { ";
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const std::uint32_t a = 0x0a000000u + i * 3;  // 10.0.0.0/8, spread
    s += std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
         "." + std::to_string(a & 255) + (i + 1 < 100'000 ? ", " : " }\n");
  }
  return s;
}

std::string hundred_rules_script() {
  std::string s = "table ip f {\n chain fwd {\n  type filter hook forward priority filter; policy accept;\n";
  for (int i = 1; i <= 100; ++i) s += "  ip saddr 203.0.113." + std::to_string(i) + " udp dport " + std::to_string(i) + " drop\n";
  return s + " }\n}\n";
}

// Loads the variant's ruleset into the rig's router; false when nft refused it.
bool setup(ForwardRig& rig, int variant) {
  switch (variant) {
    case 0:
      return netns::nft::run(rig.router(), "table ip f { chain fwd { type filter hook forward priority 0; drop; }\n}\n")
                 .has_value() &&
             netns::nft::run(rig.router(), "flush ruleset").has_value();
    case 1:
      return netns::nft::run(rig.router(), "table ip f {\n chain fwd { type filter hook forward priority filter; "
                                           "policy accept; }\n}\n")
          .has_value();
    case 2: return netns::nft::run(rig.router(), hundred_rules_script()).has_value();
    case 3: return netns::nft::run(rig.router(), big_set_script()).has_value();
    default: return false;
  }
}

void finish(benchmark::State& state, const ForwardRig& rig) {
  if (rig.forwarded() != static_cast<std::uint64_t>(state.iterations()) * ForwardRig::kBatch) {
    state.SkipWithError("packets were lost");
  }
  if (rig.copies() != 0) state.SkipWithError("forwarding copied payload");
  state.SetItemsProcessed(static_cast<std::int64_t>(rig.forwarded()));
  state.counters["packet_copies"] = static_cast<double>(rig.copies());
}

void BM_Forward64Plain(benchmark::State& state) {
  ForwardRig rig(1);
  for (auto _ : state) rig.forward();
  finish(state, rig);
}
BENCHMARK(BM_Forward64Plain)->Unit(benchmark::kMicrosecond);

void BM_NftForward64(benchmark::State& state) {
  ForwardRig rig(1);
  if (!setup(rig, static_cast<int>(state.range(0)))) {
    state.SkipWithError("nft refused the ruleset");
    return;
  }
  for (auto _ : state) rig.forward();
  finish(state, rig);
}
BENCHMARK(BM_NftForward64)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

void BM_NftNoTablesRatio(benchmark::State& state) {
  ForwardRig plain(1), flushed(1);
  if (!setup(flushed, 0)) {
    state.SkipWithError("nft refused the ruleset");
    return;
  }
  std::vector<double> at_plain, at_flushed;
  bool plain_first = true;
  auto timed = [](ForwardRig& rig) {
    const double t0 = bench::thread_cpu_ns();
    rig.forward();
    return (bench::thread_cpu_ns() - t0) / ForwardRig::kBatch;
  };
  for (auto _ : state) {
    if (plain_first) at_plain.push_back(timed(plain));
    at_flushed.push_back(timed(flushed));
    if (!plain_first) at_plain.push_back(timed(plain));
    plain_first = !plain_first;
  }
  state.SetItemsProcessed(state.iterations() * 2 * ForwardRig::kBatch);
  const double a = bench::median(at_plain), b = bench::median(at_flushed);
  state.counters["ns_per_packet_plain"] = a;
  state.counters["ns_per_packet_no_tables"] = b;
  state.counters["ratio"] = b / a;
}
BENCHMARK(BM_NftNoTablesRatio)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
