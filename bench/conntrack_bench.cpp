// conntrack_bench — forwarding with connection tracking on (issue 14), each
// comparison in one run.
//
//   BM_ForwardConntrack/<flows>/<ct>  64-byte UDP frames forwarded by a
//                            router namespace (ipv4_bench's rig), cycling
//                            through <flows> flows, with conntrack off (0)
//                            or on (1: conntrack::netns_get on the router).
//   BM_ForwardMasquerade/<flows>/<nat>  the same with no tables (0) or with
//                            a masquerade rule out of eth1 (1: nft's
//                            `oifname "eth1" masquerade` in a srcnat
//                            postrouting chain, which brings conntrack).
//
// Every flow's entry exists before timing, so each frame is a lookup that
// finds its entry (and, masqueraded, a rewrite of its source). Counters:
// Mpps, ns_per_packet, entries; packet_copies must stay 0.
//
// The ratios at the end are tracked / plain at 1 and 100,000 flows.
#include <benchmark/benchmark.h>

#include <string>

#include "netns/conntrack.hpp"
#include "netns/nft.hpp"
#include "support/forward_rig.hpp"
#include "support/ratio_reporter.hpp"

namespace {

// Warms every flow, times batches, checks them: nothing lost, nothing
// copied, one entry per flow when tracked.
void time_forwarding(benchmark::State& state, bench::ForwardRig& rig, std::size_t flows, bool tracked) {
  const std::size_t warm = (flows + bench::ForwardRig::kBatch - 1) / bench::ForwardRig::kBatch;
  for (std::size_t i = 0; i < warm; ++i) rig.forward();
  const std::uint64_t before = rig.forwarded();
  for (auto _ : state) rig.forward();
  const std::uint64_t forwarded = rig.forwarded() - before;
  if (forwarded != static_cast<std::uint64_t>(state.iterations()) * bench::ForwardRig::kBatch) {
    state.SkipWithError("packets were lost");
  }
  if (rig.copies() != 0) state.SkipWithError("forwarding copied payload");
  const std::size_t entries = netns::conntrack::count(rig.router());
  if (tracked && entries != flows) state.SkipWithError("not one entry per flow");
  state.SetItemsProcessed(static_cast<std::int64_t>(forwarded));
  state.counters["Mpps"] = benchmark::Counter(static_cast<double>(forwarded) / 1e6, benchmark::Counter::kIsRate);
  state.counters["ns_per_packet"] = benchmark::Counter(static_cast<double>(forwarded) * 1e-9,
                                                       benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["entries"] = static_cast<double>(entries);
  state.counters["packet_copies"] = static_cast<double>(rig.copies());
}

void BM_ForwardConntrack(benchmark::State& state) {
  const auto flows = static_cast<std::size_t>(state.range(0));
  const bool tracked = state.range(1) != 0;
  bench::ForwardRig rig(1, flows);
  if (tracked && !netns::conntrack::netns_get(rig.router(), netns::Family::ipv4)) {
    state.SkipWithError("netns_get failed");
    return;
  }
  time_forwarding(state, rig, flows, tracked);
  if (tracked) netns::conntrack::netns_put(rig.router(), netns::Family::ipv4);
}
BENCHMARK(BM_ForwardConntrack)
    ->ArgNames({"flows", "ct"})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Unit(benchmark::kMicrosecond);

constexpr const char* kMasquerade =
    "table ip nat {\n"
    " chain post { type nat hook postrouting priority srcnat; oifname \"eth1\" masquerade; }\n"
    "}\n";

void BM_ForwardMasquerade(benchmark::State& state) {
  const auto flows = static_cast<std::size_t>(state.range(0));
  const bool nat = state.range(1) != 0;
  bench::ForwardRig rig(1, flows);
  std::string diagnostics;
  if (nat && !netns::nft::run(rig.router(), kMasquerade, diagnostics)) {
    state.SkipWithError(("the masquerade ruleset failed: " + diagnostics).c_str());
    return;
  }
  time_forwarding(state, rig, flows, nat);
  if (nat && netns::conntrack::stats(rig.router()).drop != 0) state.SkipWithError("conntrack dropped");
}
BENCHMARK(BM_ForwardMasquerade)
    ->ArgNames({"flows", "nat"})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Args({100000, 0})
    ->Args({100000, 1})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bench::RatioReporter reporter;
  reporter.add_ratio("1 flow: conntrack / none", "BM_ForwardConntrack/flows:1/ct:1", "BM_ForwardConntrack/flows:1/ct:0");
  reporter.add_ratio("100000 flows: conntrack / none", "BM_ForwardConntrack/flows:100000/ct:1",
                     "BM_ForwardConntrack/flows:100000/ct:0");
  reporter.add_ratio("1 flow: masquerade / no tables", "BM_ForwardMasquerade/flows:1/nat:1",
                     "BM_ForwardMasquerade/flows:1/nat:0");
  reporter.add_ratio("100000 flows: masquerade / no tables", "BM_ForwardMasquerade/flows:100000/nat:1",
                     "BM_ForwardMasquerade/flows:100000/nat:0");
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
