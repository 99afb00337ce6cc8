#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds, and runs the whole
# test suite with ctest. With --sanitize, the same suite under ASan+UBSan;
# with --tsan, the thread suite under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debug information is line tables only (-g1): a failure's backtrace still
# names file and line, and the builds, most of the run, take a quarter less.
build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
       "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")
if [ "${1:-}" = "--sanitize" ]; then
  build=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1
         -DNETNS_SANITIZE=ON -DNETNS_BUILD_BENCH=OFF -DNETNS_BUILD_EXAMPLES=OFF)
elif [ "${1:-}" = "--tsan" ]; then
  # The thread suite (tests/CMakeLists.txt) under ThreadSanitizer.
  build=build-tsan
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"
         "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1" -DNETNS_TSAN=ON -DNETNS_BUILD_BENCH=OFF
         -DNETNS_BUILD_EXAMPLES=OFF)
fi
bash scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja "${flags[@]}"
cmake --build "$build"
if [ "$build" != build-asan ]; then
  ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
  exit 0
fi
# Under ASan, the test program runs as one process per CPU, each a shard of
# the tests, instead of ctest's process per test: starting the 400 MB
# instrumented program and LeakSanitizer's scan at its exit cost a third of
# a second each, three quarters of the run (12 min against 4 on 2 CPUs).
# Leaks are still found: each shard's exit is checked.
shards=$(nproc)
pids=()
for ((i = 0; i < shards; i++)); do
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i timeout 1800 "$build/tests/netns_tests" --gtest_brief=1 \
    > "$build/shard$i.log" 2>&1 &
  pids+=($!)
done
status=0
for ((i = 0; i < shards; i++)); do
  if ! wait "${pids[$i]}"; then
    status=1
    echo "=== shard $i of $shards failed:"
    cat "$build/shard$i.log"
  fi
done
tail -n 2 "$build"/shard*.log
ctest --test-dir "$build" --output-on-failure -R '^Layering\.'  # the checks that are not GoogleTest's
exit $status
