"""All 37 OR-Library cap instances (cap41–cap134) to their published optima, in both linking
modes ("pair", what the default "auto" picks for every cap instance, and "aggregated"),
with mip_gap 0.

Per instance: the wall time of ``klynge_opt.api.solve`` (validation, landscape, build, HiGHS,
extraction and the independent check), median of N repeats, and the HiGHS part alone.

    python3 benchmarks/bench_orlib.py [--repeats N]
"""

from __future__ import annotations

import argparse
import math
import time

from _common import log, median, orlib_root, section, table, verdict, write_section
from klynge_opt.api import solve
from klynge_opt.data import orlib
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import Scenario

MODES = ("aggregated", "pair")
REL_TOL = 1e-6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = orlib_root()
    optima = orlib.read_cap_optima(root / "cap" / "capopt.txt")

    instances = {name: orlib.read_cap(root / "cap" / f"{name}.txt") for name in orlib.CAP_NAMES}
    datasets = {name: from_tables(orlib.cap_tables(inst)) for name, inst in instances.items()}
    base = Scenario().with_updates(orlib.cap_scenario())
    scenarios = {mode: base.with_updates({"name": "orlib", "solver": {
        "mip_gap": 0.0, "time_limit": 300.0, "linking": mode}}) for mode in MODES}

    # results[mode][name] = list of (wall, highs, summary)
    results: dict[str, dict[str, list]] = {mode: {n: [] for n in instances} for mode in MODES}
    totals: dict[str, list[float]] = {mode: [] for mode in MODES}
    for rep in range(args.repeats):
        for mode in MODES:
            start = time.perf_counter()
            for name in instances:
                t = time.perf_counter()
                s = solve(datasets[name], scenarios[mode]).summary
                results[mode][name].append((time.perf_counter() - t, s["timings"]["solve"], s))
            totals[mode].append(time.perf_counter() - start)
            log(f"repeat {rep + 1}, {mode}: {totals[mode][-1]:.1f} s for 37 instances")

    rows = []
    failures = []
    for name, inst in instances.items():
        row: list[object] = [name, f"{inst.n_warehouses}x{inst.n_customers}",
                             f"{optima[name]:,.3f}"]
        for mode in MODES:
            runs = results[mode][name]
            for _, _, s in runs:
                ok = (s["status"] == "optimal" and s["check"]["ok"] is True
                      and math.isclose(s["objective"], optima[name], rel_tol=REL_TOL))
                if not ok:
                    failures.append(f"{name} ({mode}): {s['status']}, {s['objective']}")
            err = (runs[0][2]["objective"] - optima[name]) / optima[name]
            row += [f"{err:.1e}", f"{median([r[0] for r in runs]):.2f}",
                    f"{median([r[1] for r in runs]):.2f}"]
        rows.append(row)

    agg, pair = (median(totals[m]) for m in MODES)
    highs = {m: sum(median([r[1] for r in results[m][n]]) for n in instances) for m in MODES}
    slowest = {m: max(instances, key=lambda n, m=m: median([r[0] for r in results[m][n]]))
               for m in MODES}
    body = (
        f"37 instances, `mip_gap = 0`, median of {args.repeats} repeats (the two modes "
        "alternate within each repeat). All reach the published optimum within 1e-6 "
        f"relative, proven optimal, checker ok: {verdict(not failures)}"
        + (f" — failures: {'; '.join(failures)}" if failures else "") + ".\n\n"
        + table(["linking", "total wall (37 instances)", "of which HiGHS", "slowest instance"],
                [[m, f"{median(totals[m]):.1f} s", f"{highs[m]:.1f} s",
                  f"{slowest[m]} ({median([r[0] for r in results[m][slowest[m]]]):.2f} s)"]
                 for m in MODES])
        + f"\n\nRatio aggregated / pair (same run): {agg / pair:.2f}. Wall = one "
        "`api.solve` call (landscape, build, HiGHS, extraction, independent check); HiGHS = "
        "`timings.solve` (includes Pyomo's transfer to HiGHS).\n\n"
        "Per instance (relative error of the objective against capopt.txt; seconds):\n\n"
        + table(["instance", "m x n", "published", "agg. rel. error", "agg. wall",
                 "agg. HiGHS", "pair rel. error", "pair wall", "pair HiGHS"], rows)
    )
    path = write_section("orlib", section("orlib", "OR-Library cap instances (bench_orlib.py)",
                                          body))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
