"""Sums Nsight Compute's per-kernel gpu__time_duration (a --csv --print-units base log) by kernel name.

    python3 benchmarks/gpu/ncu_kernels.py ncu.log REPLAYS

prints, per kernel name, launches and microseconds per replay, largest first, and the total per replay.
"""
import csv
import io
import sys
from collections import defaultdict


def main(log: str, replays: int) -> None:
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    # ncu's own lines (==PROF==, the program's output) precede the CSV, whose header starts with "ID".
    start = text.find('"ID"')
    if start < 0:
        sys.exit(f"{log}: no ncu CSV in it")
    rows = csv.DictReader(io.StringIO(text[start:]))
    time_ns = defaultdict(float)
    launches = defaultdict(int)
    for row in rows:
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        name = row["Kernel Name"].split("(")[0].strip()
        time_ns[name] += float(row["Metric Value"].replace(",", ""))
        launches[name] += 1
    if not time_ns:
        sys.exit(f"{log}: no gpu__time_duration rows")
    total = sum(time_ns.values())
    print(f"{'kernel':60s} {'launches':>9s} {'us/replay':>10s} {'share':>6s}")
    for name, ns in sorted(time_ns.items(), key=lambda kv: -kv[1]):
        print(f"{name[:60]:60s} {launches[name] / replays:9.1f} {ns / replays / 1e3:10.1f} {ns / total:6.1%}")
    print(f"{'total':60s} {sum(launches.values()) / replays:9.1f} {total / replays / 1e3:10.1f}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], int(sys.argv[2]))
