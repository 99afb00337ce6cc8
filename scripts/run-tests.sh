#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds, and runs the whole
# test suite with ctest. With --sanitize, the same suite under ASan+UBSan.
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
fi
bash scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja "${flags[@]}"
cmake --build "$build"
ctest --test-dir "$build" --output-on-failure -j "$(nproc)"
