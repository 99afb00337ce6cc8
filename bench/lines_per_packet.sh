#!/usr/bin/env bash
# lines_per_packet.sh — the cache lines a forwarded frame touches when many
# namespaces are busy, counted by simulation (issue 15).
#
#   bench/lines_per_packet.sh [BENCH_BINARY] [N]
#
# Runs active_namespaces_bench's BM_ForwardAcrossActiveNamespaces/N (default
# 10000) under callgrind with a 2 MiB last-level cache, counting only inside
# the stack (Host::poll) and the channel devices' inject/read_packet, and
# prints the misses of that cache per forwarded frame, by function: with
# thousands of namespaces each is a line of some namespace's state (or the
# frame's) that a real machine fetches from L3 or memory. The count is
# deterministic, unlike the timings of a shared VM. It includes the warm-up
# batches (every router's first frame allocates its counters): a few tenths
# of a line.
set -euo pipefail
bin=${1:-build-bench/bench/active_namespaces_bench}
n=${2:-10000}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --cache-sim=yes --D1=32768,8,64 --LL=2097152,16,64 \
  --toggle-collect='netns::Host::poll*' --toggle-collect='netns::ChannelDevice::inject*' \
  --toggle-collect='netns::ChannelDevice::read_packet*' --callgrind-out-file="$out" \
  "$bin" --benchmark_filter="BM_ForwardAcrossActiveNamespaces/$n\$" --benchmark_min_time=2 >/dev/null 2>&1
# Frames: the calls into Device::receive (each injected frame makes one).
frames=$(callgrind_annotate --tree=calling --auto=no "$out" 2>/dev/null |
  grep "Device::receive(netns::Packet) (" | head -1 | grep -oP '\(\K[0-9,]+(?=x\))' | tr -d ,)
echo "frames forwarded: $frames"
callgrind_annotate --show=DLmr,DLmw --sort=DLmr --inclusive=no --auto=no --threshold=100 "$out" 2>/dev/null |
  python3 -c "
import re, sys
frames = int(sys.argv[1]); total = 0.0; rows = []; go = False
for line in sys.stdin:
    if 'file:function' in line:
        go = True
        continue
    m = re.match(r'\s*([\d,.]+)\s+(?:\([^)]*\)\s+)?([\d,.]+)\s+(?:\([^)]*\)\s+)?(.*)', line)
    if not m:
        continue
    r, w, where = m.groups()
    lines = sum(0 if x == '.' else int(x.replace(',', '')) for x in (r, w)) / frames
    if 'PROGRAM TOTALS' in where:
        total = lines
    elif go and lines >= 0.1:
        rows.append((lines, where.split(' [')[0][:110]))
print(f'lines per frame: {total:.2f}')
for lines, where in sorted(rows, reverse=True):
    print(f'{lines:6.2f}  {where}')
" "$frames"
