#!/usr/bin/env bash
# Runs two builds of the benchmarks alternately, before then after, so both
# see the same machine, and prints the medians side by side:
#
#   BEFORE=/tmp/old/bench AFTER=build-bench/bench bench/support/ab_compare.sh
#
# Environment: BEFORE, AFTER (directories holding the bench programs),
# N (alternations, 2), MIN_TIME (--benchmark_min_time, 0.5), PROGRAMS
# (default: every program of run.sh but linux_path_bench), OUT (the JSON
# lines, default ab.jsonl in the current directory).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${BEFORE:?set BEFORE to the bench directory of the old build}" "${AFTER:?set AFTER to the new one}"
n=${N:-2}
out=${OUT:-ab.jsonl}
: > "$out"
for program in ${PROGRAMS:-net_bench memory_bench ipv4_bench fib_bench tcp_bench bridge_bench neighbour_bench dpdk_bench}; do
  for _ in $(seq "$n"); do
    for side in before after; do
      dir=$BEFORE; [[ $side == after ]] && dir=$AFTER
      [[ -x $dir/$program ]] || continue
      json=$(mktemp)
      "$dir/$program" --benchmark_min_time="${MIN_TIME:-0.5}" --benchmark_out="$json" \
        --benchmark_out_format=json >/dev/null 2>&1
      python3 - "$json" "$program" "$side" >>"$out" <<'PY'
import json, sys
path, program, side = sys.argv[1:]
for b in json.load(open(path))["benchmarks"]:
    b["binary"], b["name"] = side, program + ":" + b["name"]
    print(json.dumps(b))
PY
      rm -f "$json"
    done
  done
done
python3 "$here/ab_table.py" "$out"
