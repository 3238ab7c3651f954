"""Sums Nsight Compute's per-kernel gpu__time_duration (a --csv --print-units base log) by kernel name.

    python3 benchmarks/gpu/ncu_kernels.py ncu.log REPLAYS [--in-order]

prints, per kernel name, launches and microseconds per replay, largest first, and the total per replay. With
--in-order, then every launch of one replay in launch order (a graph's order: one layer after another), each with its
mean over the replays, the grid and block sizes, and the running total.
"""
import csv
import io
import sys
from collections import defaultdict


def main(log: str, replays: int, in_order: bool) -> None:
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    # ncu's own lines (==PROF==, the program's output) precede the CSV, whose header starts with "ID".
    start = text.find('"ID"')
    if start < 0:
        sys.exit(f"{log}: no ncu CSV in it")
    rows = csv.DictReader(io.StringIO(text[start:]))
    time_ns = defaultdict(float)
    launches = defaultdict(int)
    ordered = []
    for row in rows:
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        name = row["Kernel Name"].split("(")[0].strip()
        ns = float(row["Metric Value"].replace(",", ""))
        time_ns[name] += ns
        launches[name] += 1
        ordered.append((name, ns, row.get("Grid Size", ""), row.get("Block Size", "")))
    if not time_ns:
        sys.exit(f"{log}: no gpu__time_duration rows")
    total = sum(time_ns.values())
    print(f"{'kernel':60s} {'launches':>9s} {'us/replay':>10s} {'share':>6s}")
    for name, ns in sorted(time_ns.items(), key=lambda kv: -kv[1]):
        print(f"{name[:60]:60s} {launches[name] / replays:9.1f} {ns / replays / 1e3:10.1f} {ns / total:6.1%}")
    print(f"{'total':60s} {sum(launches.values()) / replays:9.1f} {total / replays / 1e3:10.1f}")
    if in_order:
        print_in_order(ordered, replays)


def print_in_order(ordered: list, replays: int) -> None:
    per = len(ordered) // replays
    if per * replays != len(ordered) or any(
        ordered[i][0] != ordered[i % per][0] for i in range(len(ordered))
    ):
        print(f"\n(launches differ between replays: {len(ordered)} in {replays}; no in-order listing)")
        return
    print(f"\n{'#':>4s} {'kernel':56s} {'us':>8s} {'cum us':>9s}  grid / block")
    cum = 0.0
    for i in range(per):
        us = sum(ordered[r * per + i][1] for r in range(replays)) / replays / 1e3
        cum += us
        name, _, grid, block = ordered[i]
        print(f"{i:4d} {name[:56]:56s} {us:8.1f} {cum:9.1f}  {grid} / {block}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--in-order"):
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]), len(sys.argv) == 4)
