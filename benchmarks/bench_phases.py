"""Where a solve's time goes, phase by phase, on p-median, cap, the Danish reform and a
synthetic 10x Denmark.

    python3 benchmarks/bench_phases.py [--cases pmed1,pmed8,cap131,denmark,synthetic10]
        [--repeats 3]

One ``klynge_opt.api.solve`` call per case and repeat, the way a user calls it, with the
functions it calls wrapped in a wall-clock timer (microseconds of overhead each, no
profiler): shortest paths (``travel_times``), the landscape graph (the rest of
``build_landscape``), eligible pairs and model inputs (``prepare``), the pre-checks, the
Pyomo build (``build_model``), Pyomo's hand-over to HiGHS and back (``solver.solve`` minus
the warm start and HiGHS's own ``getRunTime``), the warm start (``relaxation_start``: HiGHS
solving the relaxation and the restricted MIPs), HiGHS, extraction (result tables,
summary, coverage by place), the status-quo baseline, and the independent checker (its own
shortest paths shown apart). Loading the data (files -> validated tables) is timed before the call.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

from _common import ROOT, log, median, orlib_root, section, table, write_section

PHASES = ("load", "shortest paths", "landscape graph", "eligible pairs", "pre-checks",
          "Pyomo build", "hand-over", "warm start", "HiGHS", "extraction", "baseline", "checker",
          "checker: shortest paths", "other")


@contextlib.contextmanager
def timed(spent: dict[str, float]) -> Iterator[None]:
    """Wrap the functions ``api.solve`` calls; add their wall time to ``spent``."""
    import klynge_opt.api as api
    import klynge_opt.model.landscape as landscape
    import klynge_opt.model.solver as solver
    import klynge_opt.results.check as check

    originals: list[tuple[Any, str, Callable[..., Any]]] = []

    def wrap(module: Any, name: str, phase: str,
             after: Callable[[Any, float], None] | None = None) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def timed_fn(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            out = fn(*args, **kwargs)
            dt = time.perf_counter() - t
            spent[phase] = spent.get(phase, 0.0) + dt
            if after is not None:
                after(out, dt)
            return out
        originals.append((module, name, fn))
        setattr(module, name, timed_fn)

    warm = [0.0]  # the warm start's time inside the solver call now running

    def split_solver(out: Any, dt: float) -> None:
        highs = out[1].highs.getRunTime()
        spent["HiGHS"] = spent.get("HiGHS", 0.0) + highs
        spent["hand-over"] -= highs + warm[0]
        warm[0] = 0.0

    def count_warm(out: Any, dt: float) -> None:
        warm[0] += dt

    wrap(landscape, "travel_times", "shortest paths")
    wrap(api, "build_landscape", "landscape graph")
    wrap(api, "prepare", "eligible pairs")
    wrap(api, "prechecks", "pre-checks")
    wrap(api, "build_model", "Pyomo build")
    wrap(api, "run_solver", "hand-over", split_solver)
    wrap(solver, "relaxation_start", "warm start", count_warm)
    for name in ("polish_relief", "extract", "summarise", "coverage_by_place", "by_stronghold"):
        wrap(api, name, "extraction")
    wrap(api, "status_quo", "baseline")
    wrap(check, "travel_times", "checker: shortest paths")
    wrap(api, "check_plan", "checker")
    try:
        yield
    finally:
        for module, name, fn in reversed(originals):
            setattr(module, name, fn)


def _cases(names: list[str]) -> dict[str, tuple[Callable[[], Any], Any]]:
    """name -> (load the data set, scenario)."""
    from klynge_opt.data import dataset, orlib
    from klynge_opt.data.scenario import Scenario, load_scenario

    out: dict[str, tuple[Callable[[], Any], Any]] = {}
    exact = {"mip_gap": 0.0, "time_limit": 300.0}
    for name in names:
        if name.startswith("pmed"):
            inst = orlib.read_pmed(orlib_root() / "pmed" / f"{name}.txt")
            sc = Scenario().with_updates(orlib.pmed_scenario(inst.p)).with_updates(
                {"name": name, "solver": exact})
            out[name] = (functools.partial(_tables, orlib.pmed_tables(inst)), sc)
        elif name.startswith("cap"):
            inst = orlib.read_cap(orlib_root() / "cap" / f"{name}.txt")
            sc = Scenario().with_updates(orlib.cap_scenario()).with_updates(
                {"name": name, "solver": exact})
            out[name] = (functools.partial(_tables, orlib.cap_tables(inst)), sc)
        elif name == "denmark":
            sc = load_scenario(ROOT / "scenarios" / "paper-2017.toml")
            out[name] = (functools.partial(dataset.load, dataset.DENMARK), sc)
        elif name.startswith("synthetic"):
            scale = int(name.removeprefix("synthetic"))
            out[name] = (functools.partial(_synthetic, scale), load_scenario(
                ROOT / "scenarios" / "paper-2017.toml").with_updates(
                {"name": name, "solver": {"time_limit": 120.0}}))
        else:
            raise SystemExit(f"--cases: unknown {name!r}")
    return out


def _tables(tables: dict[str, Any]) -> Any:
    from klynge_opt.data.dataset import from_tables

    return from_tables(tables)


def _synthetic(scale: int) -> Any:
    from klynge_opt.data.dataset import from_tables
    from klynge_opt.data.generator import synthetic_tables

    return from_tables(synthetic_tables(seed=17, municipalities=98 * scale,
                                        operators=104 * scale, clusters=46 * scale,
                                        firms=12_000 * scale))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", default="pmed1,pmed8,cap131,denmark,synthetic10")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from klynge_opt.api import solve

    cases = _cases(args.cases.split(","))
    measured: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    statuses: dict[str, str] = {}
    for rep in range(args.repeats):
        for name, (load, scenario) in cases.items():
            spent: dict[str, float] = {}
            t = time.perf_counter()
            ds = load()
            spent["load"] = time.perf_counter() - t
            start = time.perf_counter()
            with timed(spent):
                result = solve(ds, scenario)
            total = time.perf_counter() - start + spent["load"]
            spent["landscape graph"] -= spent.get("shortest paths", 0.0)
            spent["checker"] -= spent.get("checker: shortest paths", 0.0)
            spent["other"] = total - sum(spent.values())
            spent["total"] = total
            measured[name].append(spent)
            statuses[name] = f"{result.status}, gap {result.facts.mip_gap or 0:.2%}"
            log(f"repeat {rep + 1} {name}: {total:.1f} s ({statuses[name]})")

    rows = []
    for name, runs in measured.items():
        med = {p: median([r.get(p, 0.0) for r in runs]) for p in (*PHASES, "total")}
        solving = med["HiGHS"] + med["warm start"]
        not_highs = med["total"] - solving
        rows.append([name, statuses[name], f"{med['total']:.2f}",
                     *(f"{med[p]:.2f}" for p in PHASES),
                     f"{not_highs / solving:.0%}" if solving > 0 else "–"])
    body = ("Median seconds of each phase over the repeats (one `api.solve` call per case "
            "and repeat; load timed before it). \"not HiGHS\" is everything but HiGHS's own "
            "run time and the warm start's (HiGHS solving the relaxation and the restricted "
            "MIPs), as a share of theirs.\n\n"
            + table(["case", "status", "total", *PHASES, "not HiGHS / HiGHS"], rows))
    path = write_section("phases", section("phases", "Where the time goes (bench_phases.py)",
                                           body))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
