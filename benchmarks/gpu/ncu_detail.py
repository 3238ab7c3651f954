"""One line per profiled launch from Nsight Compute's details page (a --csv --page details log): the kernel, its grid
and block, and the metrics that say what bounds it (duration, DRAM and memory throughput, achieved and theoretical
occupancy and what limits the latter, registers, cycles per issued instruction).

    python3 benchmarks/gpu/ncu_detail.py ncu.log
"""
import csv
import io
import re
import sys
from collections import OrderedDict

# (column, the details page's metric name)
COLUMNS = [
    ("us", "Duration"),
    ("dram%", "DRAM Throughput"),
    ("mem%", "Memory Throughput"),
    ("sm%", "Compute (SM) Throughput"),
    ("occ%", "Achieved Occupancy"),
    ("theo%", "Theoretical Occupancy"),
    ("regs", "Registers Per Thread"),
    ("lim_reg", "Block Limit Registers"),
    ("lim_smem", "Block Limit Shared Mem"),
    ("lim_warps", "Block Limit Warps"),
    ("cpi", "Warp Cycles Per Issued Instruction"),
    ("thr/warp", "Avg. Active Threads Per Warp"),
]


def kernel_name(signature: str) -> str:
    """The kernel's name with its template arguments, without the namespaces and the parameter list."""
    name = re.sub(r"\(anonymous namespace\)|<?unnamed>", "", signature)
    name = re.sub(r"\([^()]*\)\s*$", "", name)  # the parameter list
    return re.sub(r"^void\s+|tfjs_delta::|::", "", name).strip()


def main(log: str) -> None:
    with open(log, encoding="utf-8", errors="replace") as f:
        text = f.read()
    start = text.find('"ID"')
    if start < 0:
        sys.exit(f"{log}: no ncu CSV in it")
    launches: "OrderedDict[str, dict]" = OrderedDict()
    for row in csv.DictReader(io.StringIO(text[start:])):
        entry = launches.setdefault(
            row["ID"],
            {
                "name": kernel_name(row["Kernel Name"]),
                "grid": row.get("Grid Size", ""),
                "block": row.get("Block Size", ""),
                "metrics": {},
            },
        )
        value = row["Metric Value"].replace(",", "")
        scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}
        if row["Metric Name"] == "Duration" and row.get("Metric Unit") in scale:
            value = f"{float(value) * scale[row['Metric Unit']]:.1f}"
        # The first of a name wins: Speed Of Light's "Memory Throughput" (%) before any section's bytes a second.
        entry["metrics"].setdefault(row["Metric Name"], value)
    if not launches:
        sys.exit(f"{log}: no launches")
    print(f"{'#':>3s} {'kernel':44s} {'grid':>14s} {'block':>12s} " + " ".join(f"{c:>8s}" for c, _ in COLUMNS))
    for i, e in enumerate(launches.values()):
        cells = " ".join(f"{e['metrics'].get(m, '-')[:8]:>8s}" for _, m in COLUMNS)
        print(f"{i:3d} {e['name'][:44]:44s} {e['grid']:>14s} {e['block']:>12s} {cells}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
