#!/usr/bin/env bash
# bench/ab.sh — two or more builds of one benchmark, run in turns.
#
#   bench/ab.sh [-m real_time|Mpps] FILTER ROUNDS BINARY BINARY...
#   bench/ab.sh 'RouteOutputCacheHit$' 11 /tmp/ipv4_bench.before build-bench/bench/ipv4_bench
#
# On a shared or virtual machine one binary's figure moves by tens of
# percent between runs. Run after run, the binaries alternate (A B A B ...),
# so a slow spell of the machine falls on all of them. The script prints,
# per benchmark and binary, the median of the rounds and their range, then
# each binary's ratio to the first, round by round (median and range). Only a
# difference larger than both ranges, or a ratio whose range excludes 1, is
# worth reporting.
# The metric is real_time (in the benchmark's unit, lower is better) by default, or a counter
# such as Mpps (higher is better).
set -euo pipefail

metric=real_time
if [[ ${1:-} == -m ]]; then
  metric=$2
  shift 2
fi
if [[ $# -lt 4 ]]; then
  echo "usage: $0 [-m real_time|COUNTER] FILTER ROUNDS BINARY BINARY..." >&2
  exit 2
fi
filter=$1
rounds=$2
shift 2
for b in "$@"; do
  [[ -x $b ]] || { echo "$0: $b is not an executable" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((r = 0; r < rounds; ++r)); do
  for i in $(seq 0 $(($# - 1))); do
    bin=${@:$((i + 1)):1}
    "$bin" --benchmark_filter="$filter" --benchmark_min_time=0.3 \
      --benchmark_out="$work/run.json" --benchmark_out_format=json >/dev/null 2>&1
    python3 - "$work/run.json" "$i" "$metric" >>"$work/raw" <<'PY'
import json, sys
path, index, metric = sys.argv[1:]
for b in json.load(open(path))["benchmarks"]:
    if b.get("run_type") == "aggregate" or metric not in b:
        continue
    print(index, b["name"], b[metric])
PY
  done
done

python3 - "$work/raw" "$metric" "$@" <<'PY'
import collections, os, statistics, sys
raw, metric, *bins = sys.argv[1:]
runs = collections.defaultdict(list)
for line in open(raw):
    index, name, value = line.split()
    runs[(name, int(index))].append(float(value))
labels = [f"{i}:{os.path.basename(b)}" for i, b in enumerate(bins)]
print(f"{metric}, median [min..max] of the rounds")
for name in sorted({n for n, _ in runs}):
    cells = []
    for i, label in enumerate(labels):
        v = runs.get((name, i))
        if v:
            cells.append(f"{label}={statistics.median(v):.3f} [{min(v):.3f}..{max(v):.3f}]")
    print(f"{name:50s} " + "  ".join(cells))
# Each later binary against the first, round by round: a run and the one
# beside it share the machine's spell, so their ratio moves less than either.
for name in sorted({n for n, _ in runs}):
    first = runs.get((name, 0), [])
    for i, label in enumerate(labels[1:], start=1):
        ratios = [b / a for a, b in zip(first, runs.get((name, i), [])) if a > 0]
        if ratios:
            print(f"{name:50s} {label} / {labels[0]} by round: {statistics.median(ratios):.3f} "
                  f"[{min(ratios):.3f}..{max(ratios):.3f}]")
PY
