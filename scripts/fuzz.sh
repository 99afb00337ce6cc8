#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang 16, ASan+UBSan) and runs
# each for a while, starting from its committed seed corpus.
#
#   scripts/fuzz.sh                 # every target, 60 s each
#   scripts/fuzz.sh 3600            # every target, an hour each
#   scripts/fuzz.sh 600 tcp_session fragments
#
# New corpus entries go to fuzz-out/corpus/<target>/ (scratch, not
# committed); crashes, leaks and timeouts to fuzz-out/findings/<target>/.
# Exits non-zero when any target found something. FUZZ_JOBS=N runs N
# processes per target (libFuzzer -fork); FUZZ_OUT changes the directory.
#
# The committed corpus is the scratch one minimised to a set cover of edges
# (the first directory keeps its files and gains only what adds an edge):
#   build-fuzz/tests/fuzz/T_fuzz -set_cover_merge=1 -use_counters=0 \
#     tests/fuzz/corpus/T fuzz-out/corpus/T
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(frames tcp_session fragments control_plane netfilter)
out=${FUZZ_OUT:-fuzz-out}
jobs=${FUZZ_JOBS:-1}

bash scripts/install-deps.sh
# -O1 with line tables only, as OSS-Fuzz builds: half the compile time of
# -O2 -g, and stack traces still name file and line.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
  -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 -DNETNS_FUZZ=ON \
  -DNETNS_BUILD_TESTS=OFF -DNETNS_BUILD_BENCH=OFF -DNETNS_BUILD_EXAMPLES=OFF -DNETNS_WITH_DPDK=OFF
cmake --build build-fuzz --target "${targets[@]/%/_fuzz}"

# One target runs on each CPU at a time (one in all with FUZZ_JOBS, whose
# -fork takes the CPUs itself); each target's log follows its turn.
parallel=$(nproc)
[ "$jobs" -le 1 ] || parallel=1
fuzz_one() {
  local t=$1
  echo "fuzz.sh: $t for ${seconds}s"
  # The scratch corpus first: libFuzzer writes new inputs to the first
  # directory and only reads the committed one.
  local args=(-max_total_time="$seconds" -max_len=4096 -timeout=25 -rss_limit_mb=2048
              -artifact_prefix="$out/findings/$t/" -print_final_stats=1)
  [ "$jobs" -le 1 ] || args+=(-fork="$jobs" -ignore_crashes=1)
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "build-fuzz/tests/fuzz/${t}_fuzz" "${args[@]}" "$out/corpus/$t" "tests/fuzz/corpus/$t"
}

failed=()
for ((first = 0; first < ${#targets[@]}; first += parallel)); do
  turn=("${targets[@]:first:parallel}")
  pids=()
  for t in "${turn[@]}"; do
    mkdir -p "$out/corpus/$t" "$out/findings/$t"
    fuzz_one "$t" > "$out/$t.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!turn[@]}"; do
    wait "${pids[$i]}" || failed+=("${turn[$i]}")
    cat "$out/${turn[$i]}.log"
  done
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in ${failed[*]} (see $out/findings/)" >&2
  exit 1
fi
echo "fuzz.sh: nothing found in ${targets[*]}"
