"""Medians of ab_compare.sh's runs: one Markdown row per benchmark, real time."""
import collections
import json
import statistics
import sys

rows = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1] if len(sys.argv) > 1 else "ab.jsonl"):
    b = json.loads(line)
    if b.get("run_type") != "aggregate":
        rows[b["name"]][b["binary"]].append(b)

print("| benchmark | before | after | change |")
print("|---|---:|---:|---:|")
worse = []
for name, sides in rows.items():
    if "before" not in sides or "after" not in sides:
        continue
    before = statistics.median(r["real_time"] for r in sides["before"])
    after = statistics.median(r["real_time"] for r in sides["after"])
    unit = sides["before"][0].get("time_unit", "ns")
    change = 100 * (after / before - 1)
    if change > 3:
        worse.append(f"{name} {change:+.1f} %")
    print(f"| {name} | {before:.4g} {unit} | {after:.4g} {unit} | {change:+.1f} % |")
print()
print("worse by more than 3 %:", ", ".join(worse) or "none")
