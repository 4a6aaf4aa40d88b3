"""A continent-sized synthetic landscape: load, landscape (travel times) and model inputs.

``synthetic_tables`` at 10,000 municipalities, 3,000 operators and 1,000,000 firms, written to
CSV, then in a fresh process (so that peak RSS is the run's own): ``dataset.load`` (read and
validate), ``build_landscape`` and ``formulation.prepare`` under the bundled ``paper-2017``
scenario with its data pointed at the synthetic folder. Travel times are sparse at that size
(``geography.SPARSE_ABOVE``): ``prepare`` asks for the pairs within the scenario's
``max_travel_minutes`` only. Peak RSS is ``ru_maxrss`` after each step. The model is not
solved unless ``--solve`` is given (with ``--time-limit``).

Then the same at 1,000 municipalities (a tenth of everything), once dense and once with the
sparse form forced: the eligible pairs must be equal (``pd.testing.assert_frame_equal``), and
the times compare the two forms.

Target (issue 14 §3): 10,000 municipalities build in minutes under 8 GB.

With ``--solve`` the big instance is also built and solved, and the figures go to a section
of their own (``continent_solve``); run it on a landscape that keeps Denmark's density
(``--spread 10 --regions 50``) under ``benchmarks/continent.toml`` (``--scenario``): the
issue-14 target is a 0.5 % gap in 10 minutes under 8 GB.

    python3 benchmarks/bench_continent.py [--municipalities 10000] [--operators 3000]
        [--firms 1000000] [--small 1000] [--spread 1] [--scenario paper-2017.toml]
    python3 benchmarks/bench_continent.py --solve --small 0 --spread 10 --regions 50 \
        --scenario benchmarks/continent.toml
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import ROOT, log, section, table, verdict, write_section

REFORM = ROOT / "scenarios" / "paper-2017.toml"
TARGET_S = 600.0
TARGET_MB = 8 * 1024.0
SEED = 14

GENERATE = """
import json, sys, time
from pathlib import Path
from klynge_opt.data.generator import synthetic_tables
from klynge_opt.data.loading import write_tables
t = time.perf_counter()
tables = synthetic_tables(seed=int(sys.argv[3]), **json.loads(sys.argv[2]))
gen_s = time.perf_counter() - t
t = time.perf_counter()
write_tables(tables, Path(sys.argv[1]))
print(json.dumps({"generate_s": gen_s, "write_s": time.perf_counter() - t}))
"""

# One fresh interpreter per run: argv = folder, "dense"|"sparse", pairs pickle or "", solve
# seconds or "". Prints one JSON line.
CHILD = """
import json, resource, sys, time
import numpy as np
from klynge_opt.data import dataset, geography
from klynge_opt.data.scenario import load_scenario
from klynge_opt.model.formulation import prepare
from klynge_opt.model.landscape import build_landscape

folder, form, pickle_to, solve_s, scenario_path = sys.argv[1:6]
if form != "auto":  # else the size decides, as in any run
    geography.SPARSE_ABOVE = 0 if form == "sparse" else 10**9
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {"imports_mb": peak()}
t = time.perf_counter()
ds = dataset.load(folder)
out["load_s"], out["load_mb"] = time.perf_counter() - t, peak()
t = time.perf_counter()
land = build_landscape(ds)
out["landscape_s"], out["landscape_mb"] = time.perf_counter() - t, peak()
scenario = load_scenario(scenario_path).with_updates({"name": "continent", "data": folder})
if solve_s:
    scenario = scenario.with_updates({"solver": {"time_limit": float(solve_s)}})
out["scenario"] = scenario.name
radius = scenario.policy.max_travel_minutes
# The travel times within the scenario's radius on their own (prepare reuses them).
t = time.perf_counter()
land.times.reach(np.arange(len(land.times.ids)), np.zeros(0, dtype=np.int64), radius)
out["radius_s"], out["radius_mb"] = time.perf_counter() - t, peak()
t = time.perf_counter()
inputs = prepare(land, scenario)
out["prepare_s"], out["prepare_mb"] = time.perf_counter() - t, peak()
out.update(sparse=land.times.sparse, groups=len(inputs.groups), pairs=len(inputs.pairs),
           radius=radius, firms=len(ds.firms), municipalities=len(ds.municipalities),
           operators=len(ds.operators), held_pairs=land.times.held_pairs)
if pickle_to:
    inputs.pairs.to_pickle(pickle_to)
if solve_s:
    from klynge_opt.model.formulation import build_model
    from klynge_opt.model.solver import solve
    t = time.perf_counter()
    model = build_model(inputs, scenario)
    out["build_model_s"] = time.perf_counter() - t
    out["build_model_mb"] = peak()
    report, run = solve(model, scenario.solver)
    out.update(solve_s=report.seconds, highs_s=run.highs.getRunTime(), status=report.status,
               gap=report.mip_gap, solve_mb=peak(), rows=run.highs.getNumRow(),
               cols=run.highs.getNumCol(), linking=model._linking,
               mip_gap_asked=scenario.solver.mip_gap)
    if report.has_solution and hasattr(model, "u"):
        # Served share of the firms (weights), as summary.json's coverage counts it.
        q = inputs.groups["weight"]
        u = np.array([model.u[g].value or 0.0 for g in q.index])
        out["served"] = float(1 - (q.to_numpy() * u).sum() / q.sum())
        out["kept"] = int(sum(round(model.y[o].value or 0) for o in model.y))
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--municipalities", type=int, default=10_000)
    parser.add_argument("--operators", type=int, default=3_000)
    parser.add_argument("--clusters", type=int, default=450)
    parser.add_argument("--firms", type=int, default=1_000_000)
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--small", type=int, default=1_000,
                        help="municipalities of the dense-against-sparse run (0: skip)")
    parser.add_argument("--solve", action="store_true", help="also solve the big instance")
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--spread", type=float, default=1.0,
                        help="side of the municipalities' box in Denmark's (synthetic_tables)")
    parser.add_argument("--scenario", type=Path, default=REFORM)
    args = parser.parse_args()

    big = {"municipalities": args.municipalities, "operators": args.operators,
           "clusters": args.clusters, "firms": args.firms, "regions": args.regions}
    if args.spread != 1.0:
        big["spread"] = args.spread
    small = {k: max(v // 10, args.regions) if k not in ("regions", "spread") else v
             for k, v in big.items()}
    small["municipalities"] = args.small
    with tempfile.TemporaryDirectory(prefix="klynge-bench-continent-") as tmp_name:
        tmp = Path(tmp_name)
        compare = None
        if args.small:
            folder, gen_small = _generate(small, tmp / "small")
            dense = _child(folder, "dense", tmp / "dense.pkl", None, args.scenario)
            sparse = _child(folder, "sparse", tmp / "sparse.pkl", None, args.scenario)
            compare = (small, gen_small, dense, sparse, _equal(tmp / "dense.pkl",
                                                               tmp / "sparse.pkl"))
        folder, gen_big = _generate(big, tmp / "big")
        run = _child(folder, "auto", None, args.time_limit if args.solve else None,
                     args.scenario)
    if args.solve:
        _write_solve(big, gen_big, run, args.scenario)
    else:
        _write(big, gen_big, run, compare)


def _generate(size: dict[str, int], folder: Path) -> tuple[Path, dict[str, float]]:
    """Generate and write in a child process: a fork inherits the parent's peak RSS, so the
    parent must never hold the tables."""
    proc = subprocess.run([sys.executable, "-c", GENERATE, str(folder), json.dumps(size),
                           str(SEED)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"generation failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    times = json.loads(proc.stdout.strip().splitlines()[-1])
    log(f"{size}: generated in {times['generate_s']:.1f} s, written in "
        f"{times['write_s']:.1f} s")
    return folder, times


def _child(folder: Path, form: str, pickle_to: Path | None, solve_s: float | None,
           scenario: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(folder), form,
                           str(pickle_to or ""), "" if solve_s is None else str(solve_s),
                           str(scenario)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"run failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    log(f"{form}: {out}")
    return out


def _equal(a: Path, b: Path) -> bool:
    import pandas as pd

    try:
        pd.testing.assert_frame_equal(pd.read_pickle(a), pd.read_pickle(b), check_exact=True)
    except AssertionError as exc:
        log(f"dense and sparse pairs differ: {exc}")
        return False
    return True


STEPS = ("load", "landscape", "radius", "prepare")


def _total(r: dict) -> float:
    return sum(r[f"{s}_s"] for s in STEPS)


def _row(label: str, r: dict) -> list[str]:
    n = r["municipalities"]
    held = f"{r['held_pairs']:,}" + (" (every pair)" if r["held_pairs"] == n * n else
                                     f" ({r['held_pairs'] / n**2:.0%})")
    return [label, *(f"{r[f'{s}_s']:.1f} s ({r[f'{s}_mb']:,.0f} MB)" for s in STEPS),
            f"**{_total(r):.1f} s**", f"**{r['prepare_mb']:,.0f} MB**", f"{r['groups']:,}",
            f"{r['pairs']:,}", held]


def _write(big: dict[str, int], gen: dict[str, float], run: dict,
           compare: tuple | None) -> None:
    header = ["run", "load + validate (peak RSS)", "build_landscape (peak)",
              "travel times within the radius (peak)", "prepare (peak)", "total", "peak RSS",
              "demand groups", "eligible pairs", "municipality pairs held"]
    total = _total(run)
    ok = total < TARGET_S and run["prepare_mb"] < TARGET_MB
    rows = [_row(f"{run['municipalities']:,} municipalities ("
                 + ("sparse" if run["sparse"] else "dense") + ")", run)]
    text = (
        "`synthetic_tables(seed=" + str(SEED) + ", "
        + ", ".join(f"{k}={v:,}" for k, v in big.items())
        + f")`, generated in {gen['generate_s']:.0f} s and written to CSV in "
        f"{gen['write_s']:.0f} s (not counted), then in a fresh process: load, "
        "`build_landscape`, the travel times within the radius (`TravelTimes.reach`, timed "
        "apart: `prepare` reuses them) and `prepare` under `paper-2017` (its "
        f"`max_travel_minutes` = {run['radius']:g}) with the data pointed at the folder. Peak "
        "RSS is the process's `ru_maxrss` after each step (interpreter and imports included: "
        f"{run['imports_mb']:,.0f} MB). The model is not solved."
        + (" The generator puts every municipality in the same Denmark-sized box whatever "
           f"their number, so {run['radius']:g} minutes reaches "
           f"{run['held_pairs'] / run['municipalities']**2:.0%} of all municipality pairs: a "
           "worst case for the sparse form (on a real continent the share would be far "
           "smaller)." if run["sparse"] else "") + "\n\n"
    )
    if compare is not None:
        small, _, dense, sparse, equal = compare
        rows += [_row(f"{dense['municipalities']:,} municipalities, dense", dense),
                 _row(f"{sparse['municipalities']:,} municipalities, sparse (forced)", sparse)]
        text_cmp = (
            f"\n\nAt {small['municipalities']:,} municipalities ("
            + ", ".join(f"{k}={v:,}" for k, v in small.items() if k != "municipalities")
            + ") the same steps ran once with dense travel times and once with the sparse "
            "form forced (`SPARSE_ABOVE = 0`): the eligible pairs are "
            + ("**identical** (`assert_frame_equal`, exact)" if equal else "**DIFFERENT**")
            + f"; landscape, radius and prepare {_total(dense) - dense['load_s']:.1f} s dense "
            f"against {_total(sparse) - sparse['load_s']:.1f} s sparse.")
    else:
        text_cmp = ""
    body = (text + table(header, rows)
            + f"\n\nTarget: {run['municipalities']:,} municipalities in minutes "
            f"(< {TARGET_S / 60:.0f} min from files to model inputs) under 8 GB: "
            f"{verdict(ok)}. Before sparse travel times (a dense all-pairs matrix, and "
            "`eligible_pairs` as the cross product of groups and competent operators filtered "
            "afterwards) 9,800 municipalities took 376 s to build the landscape and `prepare` "
            "passed 11 GB and was stopped (`bench_overhead.py`)." + text_cmp)
    path = write_section("continent", section(
        "continent", "A continent-sized landscape: sparse travel times (bench_continent.py)",
        body))
    print(f"wrote {path}")


def _write_solve(big: dict[str, int], gen: dict[str, float], run: dict, scenario: Path) -> None:
    steps = [*STEPS, "build_model"]
    total = _total(run) + run["build_model_s"] + run["solve_s"]
    gap = run["gap"]
    ok = (gap is not None and gap <= 0.005 and total <= TARGET_S + run["load_s"]
          and run["solve_mb"] < TARGET_MB)
    rows = [[*(f"{run[f'{s}_s']:.1f} s" for s in steps),
             f"{run['solve_s']:.0f} s (HiGHS {run['highs_s']:.0f} s)", f"**{total:.0f} s**",
             f"**{run['solve_mb']:,.0f} MB**", f"{run['pairs']:,}",
             f"{run['rows']:,} × {run['cols']:,}", run["linking"], run["status"],
             "none" if gap is None else f"**{gap:.2%}**",
             f"{run['served']:.1%}" if "served" in run else "–",
             f"{run['kept']:,} of {run['operators']:,}" if "kept" in run else "–"]]
    header = ["load", "landscape", "radius", "prepare", "build model", "solve", "total",
              "peak RSS", "eligible pairs", "rows × columns", "linking", "status", "gap",
              "firms served", "operators kept"]
    body = (
        "`synthetic_tables(seed=" + str(SEED) + ", "
        + ", ".join(f"{k}={v:,}" for k, v in big.items())
        + f")` (generated in {gen['generate_s']:.0f} s, written in {gen['write_s']:.0f} s, not "
        f"counted), solved under `{scenario.name}` (scenario `{run['scenario']}`, radius "
        f"{run['radius']:g} min, time limit as given, asked gap {run['mip_gap_asked']:.1%}) "
        "in one fresh process: every step from the CSV files to HiGHS's answer. "
        f"{run['groups']:,} demand groups.\n\n" + table(header, rows)
        + f"\n\nTarget (issue 14): to ≤ 0.5 % gap within 10 minutes (load excluded) under "
        f"8 GB: {verdict(ok)}.")
    path = write_section("continent_solve", section(
        "continent_solve", "A continent-sized landscape solved (bench_continent.py --solve)",
        body))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
