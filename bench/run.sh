#!/usr/bin/env bash
# Builds the benchmarks in Release and runs them all, writing to bench/results/:
#   <program>.json   Google Benchmark's JSON (every counter, for plotting)
#   <program>.txt    the console table, with the ratios of that same run
#   summary.md       the figures of issue 2 in one table (bench/support/summarize.py);
#                    ipv4_bench.txt and fib_bench.txt carry the ratios of issue 3,
#                    tcp_bench.txt those of issue 4, bridge_bench.txt and
#                    dpdk_bench.txt those of issue 5, linux_path_bench.txt
#                    those of issue 10 (root only; its pairs of transfers are
#                    its repetitions: LINUX_PATH_PAIRS, not REPETITIONS)
#
#   bench/run.sh                               # everything, 3 repetitions, medians
#   BUILD_DIR=/tmp/b bench/run.sh              # another build directory
#   bench/run.sh --benchmark_filter=Veth       # extra flags go to every program
#
# Environment: BUILD_DIR (default: build-bench next to the repository),
# REPETITIONS (default 3).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$(dirname "$root")/build-bench}
repetitions=${REPETITIONS:-3}
results="$root/bench/results"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DNETNS_BUILD_BENCH=ON -DNETNS_BUILD_TESTS=OFF -DNETNS_BUILD_EXAMPLES=OFF >/dev/null
programs=(net_bench memory_bench ipv4_bench fib_bench tcp_bench bridge_bench linux_path_bench neighbour_bench fib6_bench)
programs+=(nft_set_bench)  # issue 14: nft set lookups
programs+=(nft_bench)  # issue 14: forwarding through nft chains
programs+=(conntrack_bench)  # issue 14: forwarding with conntrack
programs+=(nat_bench)  # issue 14: UDP request/response through a NAT router, netns against the kernel
programs+=(multicore_bench)  # issue 15: a veth between two Hosts on two threads against one within a Host
programs+=(active_namespaces_bench)  # issue 15: forwarding spread over many busy namespaces
# dpdk_bench exists when CMake found libdpdk (NETNS_WITH_DPDK's default).
if grep -q '^NETNS_WITH_DPDK:BOOL=ON' "$build/CMakeCache.txt"; then programs+=(dpdk_bench); fi
cmake --build "$build" --target "${programs[@]}"

mkdir -p "$results"
for program in "${programs[@]}"; do
  echo "== $program"
  "$build/bench/$program" \
    --benchmark_repetitions="$repetitions" \
    --benchmark_report_aggregates_only=true \
    --benchmark_out="$results/$program.json" \
    --benchmark_out_format=json \
    "$@" | tee "$results/$program.txt"
done

python3 "$root/bench/support/summarize.py" "$results/net_bench.json" "$results/memory_bench.json" \
  | tee "$results/summary.md"
