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
# deterministic, unlike the timings of a shared VM.
#
# It runs twice, 200 and 600 iterations of 256 frames (each one call of
# the benchmark: NETNS_BENCH_ITERATIONS), and prints the difference per
# frame of difference: the warm-up (every router's first frame allocates
# its counters and finds its neighbour, about 3 lines a frame of a short
# run) is the same in both and cancels. That is the figure
# BM_MemoryFloor's kLinesPerFrame follows.
set -euo pipefail
bin=${1:-build-bench/bench/active_namespaces_bench}
n=${2:-10000}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# count ITERATIONS: callgrind's per-function misses of the run, as "frames"
# then "misses<TAB>function" lines, in $dir/ITERATIONS.
count() {
  local out=$dir/cg.$1
  NETNS_BENCH_ITERATIONS=$1 valgrind --tool=callgrind --cache-sim=yes --D1=32768,8,64 --LL=2097152,16,64 \
    --toggle-collect='netns::Host::poll*' --toggle-collect='netns::ChannelDevice::inject*' \
    --toggle-collect='netns::ChannelDevice::read_packet*' --callgrind-out-file="$out" \
    "$bin" --benchmark_filter="BM_ForwardAcrossActiveNamespacesFixed/$n/" >/dev/null 2>&1
  # Frames: the calls into Device::receive (each injected frame makes one).
  callgrind_annotate --tree=calling --auto=no "$out" 2>/dev/null |
    grep "Device::receive(netns::Packet) (" | head -1 | grep -oP '\(\K[0-9,]+(?=x\))' | tr -d , >"$dir/$1"
  callgrind_annotate --show=DLmr,DLmw --inclusive=no --auto=no --threshold=100 "$out" 2>/dev/null |
    python3 -c "
import re, sys
go = False
for line in sys.stdin:
    if 'file:function' in line:
        go = True
        continue
    m = re.match(r'\s*([\d,.]+)\s+(?:\([^)]*\)\s+)?([\d,.]+)\s+(?:\([^)]*\)\s+)?(.*)', line)
    if not m:
        continue
    r, w, where = m.groups()
    misses = sum(0 if x == '.' else int(x.replace(',', '')) for x in (r, w))
    if 'PROGRAM TOTALS' in where:
        print(f'{misses}\ttotal')
    elif go:
        print(f'{misses}\t' + where.split(' [')[0][:110])
" >>"$dir/$1"
}

count 200
count 600
python3 - "$dir/200" "$dir/600" <<'EOF'
import sys

def read(path):
    with open(path) as f:
        frames = int(f.readline())
        misses = {}
        for line in f:
            count, where = line.rstrip('\n').split('\t', 1)
            misses[where] = misses.get(where, 0) + int(count)
    return frames, misses

short_frames, short = read(sys.argv[1])
long_frames, long = read(sys.argv[2])
frames = long_frames - short_frames
print(f'frames forwarded: {short_frames} and {long_frames}')
print(f'lines per frame: {(long["total"] - short.get("total", 0)) / frames:.2f}')
rows = [((m - short.get(w, 0)) / frames, w) for w, m in long.items() if w != 'total']
for lines, where in sorted(rows, reverse=True):
    if lines >= 0.1:
        print(f'{lines:6.2f}  {where}')
EOF
