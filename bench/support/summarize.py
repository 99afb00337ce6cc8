#!/usr/bin/env python3
"""The figures of issue 2 from Google Benchmark JSON files, as a Markdown table.

    summarize.py bench/results/net_bench.json bench/results/memory_bench.json

Uses the median aggregate when the run was repeated, else the single run, so
every ratio compares figures of the same run.
"""
import json
import sys

TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(paths):
    runs, context = {}, None
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        context = context or data.get("context", {})
        for b in data["benchmarks"]:
            name = b["run_name"].replace("/manual_time", "")
            name = name.split("/iterations:")[0].split("/repeats:")[0]
            if b.get("error_occurred"):
                runs[name] = {"error": b.get("error_message", "error")}
                continue
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            if b.get("run_type") != "aggregate" and runs.get(name, {}).get("median"):
                continue
            b = dict(b)
            b["median"] = b.get("run_type") == "aggregate"
            b["real_ns"] = b["real_time"] * TO_NS[b["time_unit"]]
            runs[name] = b
    return runs, context


def fmt_time(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def main(paths):
    runs, ctx = load(paths)
    get = runs.get
    out = []
    out.append(f"Run: {ctx.get('date', '?')} on {ctx.get('host_name', '?')}, "
               f"{ctx.get('num_cpus', '?')} CPUs @ {ctx.get('mhz_per_cpu', '?')} MHz, "
               f"load average {', '.join(f'{x:.1f}' for x in ctx.get('load_avg', []))}; Google Benchmark library built as "
               f"{ctx.get('library_build_type', '?')} (its own build, not netns'); "
               "figures: medians of the repetitions, wall time unless noted\n")
    out.append("| Benchmark | Figure | Target |")
    out.append("|---|---|---|")

    def row(name, figure, target=""):
        r = get(name)
        if r is None:
            return
        out.append(f"| {name} | {r['error'] if 'error' in r else figure(r)} | {target} |")

    for alive in (1, 1000, 100000):
        row(f"BM_CreateDestroyNet/{alive}", lambda r: fmt_time(r["real_ns"]) + " per create+destroy "
            f"(CPU {fmt_time(r['cpu_time'] * TO_NS[r['time_unit']])})", "< 5 µs")
    base, top = get("BM_CreateDestroyNet/1"), get("BM_CreateDestroyNet/100000")
    if base and top and "real_ns" in base and "real_ns" in top:
        cpu = lambda r: r["cpu_time"] * TO_NS[r["time_unit"]]
        out.append(f"| ratio 100000 / 1 alive (the two rows above) | wall {top['real_ns'] / base['real_ns']:.3f}, "
                   f"CPU {cpu(top) / cpu(base):.3f} | ≤ 1.10 |")
    row("BM_CreateDestroyNetFlatness/100000", lambda r: f"ratio {r['ratio']:.3f} "
        f"({r['ns_at_alive']:.0f} ns at 100000 alive / {r['ns_at_1']:.0f} ns at 1, interleaved chunks)",
        "≤ 1.10")
    for alive in (1, 100000):
        row(f"BM_CreateDestroyNamedNet/{alive}",
            lambda r: fmt_time(r["real_ns"]) + " per create+destroy (named)")
    for n in (10000, 100000):
        row(f"BM_BytesPerNet/{n}", lambda r: f"{r['bytes_per_net']:.0f} B per empty namespace "
            f"({r['allocs_per_net']:.2f} allocations; malloc view {r['malloc_bytes_per_net']:.0f} B)",
            "< 4096 B")
    row("BM_BytesPerNetWithVeth/10000", lambda r: f"{r['bytes_per_net']:.0f} B per namespace with "
        f"one veth end ({r['bytes_per_veth_end']:.0f} B the veth end)", "(information)")
    for batch in (1, 64, 256):
        row(f"BM_VethFrames/{batch}", lambda r: f"{r['items_per_second'] / 1e6:.2f} M frames/s (CPU time) "
            f"({fmt_time(r['cpu_time'] * TO_NS[r['time_unit']] / batch)} CPU per frame), "
            f"packet_copies {r['packet_copies']:.0f}",
            "packet_copies = 0")
    row("BM_KernelUnshareNet", lambda r: fmt_time(r["real_ns"]) + " per unshare(CLONE_NEWNET), create only",
        "(Linux, for scale)")
    kernel = get("BM_KernelUnshareNet")
    if kernel and base and "real_ns" in kernel and "real_ns" in base:
        out.append(f"| ratio kernel unshare / netns create+destroy | "
                   f"{kernel['real_ns'] / base['real_ns']:.0f}× | |")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1:])
