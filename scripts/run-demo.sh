#!/usr/bin/env bash
# Sets everything up on a fresh Debian 12 machine, builds, and runs the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNETNS_BUILD_BENCH=OFF
cmake --build build --target lab_demo
./build/examples/lab_demo build/lab.pcap
