"""Load + validate: the Danish data set (median of 5, after imports) and a generated
1,000,000-firm synthetic data set written to CSV (median of 3, each in a fresh process so
peak RSS is the load's own).

Targets: Denmark well under 1 s; 1M firms under 30 s and 2 GB peak RSS.

    python3 benchmarks/bench_load.py [--firms N] [--repeats-big N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import log, median, section, table, verdict, write_section
from klynge_opt.data import dataset
from klynge_opt.data.generator import synthetic_tables
from klynge_opt.data.loading import write_tables

# Runs in a fresh interpreter: time and RSS of the load alone, imports excluded from the time.
CHILD = """
import json, resource, sys, time
from klynge_opt.data import dataset
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
ds = dataset.load(sys.argv[1])
seconds = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rss_before_mb": before / 1024, "peak_mb": peak / 1024,
                  "firms": len(ds.firms), "memberships": len(ds.memberships),
                  "warnings": len(ds.warnings)}))
"""

DENMARK_TARGET_S = 1.0
BIG_TARGET_S = 30.0
BIG_TARGET_MB = 2048.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--repeats-big", type=int, default=3)
    parser.add_argument("--firms", type=int, default=1_000_000)
    args = parser.parse_args()

    # Denmark, in this process after imports; the first load is a warm-up.
    dataset.load(dataset.DENMARK)
    dk_times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        ds = dataset.load(dataset.DENMARK)
        dk_times.append(time.perf_counter() - t)
    dk_child = _child(dataset.DENMARK)
    log(f"denmark: median {median(dk_times):.3f} s over {args.repeats}")

    with tempfile.TemporaryDirectory(prefix="klynge-bench-load-") as tmp:
        t = time.perf_counter()
        tables = synthetic_tables(firms=args.firms, seed=2024)
        gen_s = time.perf_counter() - t
        t = time.perf_counter()
        folder = write_tables(tables, Path(tmp) / "big")
        write_s = time.perf_counter() - t
        size_mb = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
        del tables
        log(f"generated {args.firms} firms in {gen_s:.1f} s, wrote CSV in {write_s:.1f} s")
        runs = [_child(folder) for _ in range(args.repeats_big)]
        for r in runs:
            log(f"big load {r['seconds']:.2f} s, peak {r['peak_mb']:.0f} MB")

    big_s = median([r["seconds"] for r in runs])
    big_peak = max(r["peak_mb"] for r in runs)
    big_base = median([r["rss_before_mb"] for r in runs])
    dk_s = median(dk_times)
    first = runs[0]
    rows = [
        ["Denmark (`data/denmark`, CSV)", f"{len(ds.firms):,}", f"{len(ds.memberships):,}",
         f"{dk_s * 1000:.0f} ms (min {min(dk_times) * 1000:.0f}, max "
         f"{max(dk_times) * 1000:.0f}; N={args.repeats})",
         _rss(dk_child['peak_mb'], dk_child['rss_before_mb']),
         f"< {DENMARK_TARGET_S:.0f} s: {verdict(dk_s < DENMARK_TARGET_S)}"],
        [f"synthetic, {args.firms:,} firms ({size_mb:.0f} MB of CSV)", f"{first['firms']:,}",
         f"{first['memberships']:,}",
         f"{big_s:.2f} s (min {min(r['seconds'] for r in runs):.2f}, max "
         f"{max(r['seconds'] for r in runs):.2f}; N={args.repeats_big}, fresh process each)",
         _rss(big_peak, big_base),
         f"< {BIG_TARGET_S:.0f} s and < 2 GB: "
         f"{verdict(big_s < BIG_TARGET_S and big_peak < BIG_TARGET_MB)}"],
    ]
    body = (
        "`dataset.load` (read every table, coerce types, validate all rules) timed after "
        "`import klynge_opt`; peak RSS is `ru_maxrss` of a fresh process that imports "
        "klynge_opt.data.dataset and loads once (so it includes the interpreter and pandas; "
        "\"above imports\" subtracts the RSS reached before the load).\n\n"
        + table(["data set", "firms", "memberships", "load + validate (median)",
                 "peak RSS", "target"], rows)
        + f"\n\nThe 1M-firm set is `synthetic_tables(firms={args.firms:,}, seed=2024)` (100 "
        f"municipalities, 80 operators, 45 clusters), generated in {gen_s:.1f} s and written to "
        f"CSV in {write_s:.1f} s (neither is part of the figure). Same run: "
        f"{args.firms / len(ds.firms):.0f}x the firms of Denmark take {big_s / dk_s:.0f}x the "
        f"time ({big_s / args.firms * 1e6:.1f} against {dk_s / len(ds.firms) * 1e6:.1f} ms per "
        "1,000 firms)."
    )
    path = write_section("load", section("load", "Loading and validation (bench_load.py)",
                                         body))
    print(f"wrote {path}")


def _rss(peak: float, before: float) -> str:
    extra = peak - before
    return f"{peak:,.0f} MB (" + (f"{extra:,.0f} MB above imports)" if extra >= 1
                                  else "no rise above the import peak)")


def _child(folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(folder)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
