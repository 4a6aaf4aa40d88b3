"""klynge-opt against what a user would pick instead, on the OR-Library p-median instances.

    pip install -e ".[bench]"          # spopt, PuLP (with its CBC binary): benchmark only
    python3 benchmarks/bench_peers.py [--instances pmed1-10] [--repeats 3] [--time-limit 120]

Tools, each timed as one call from a ready cost matrix or data set to a checked optimum:

- ``klynge-opt``: ``klynge_opt.api.solve`` with the scenario's default linking, including
  load, landscape, shortest paths, build, HiGHS, extraction and the independent check;
- ``klynge-opt pair`` / ``klynge-opt aggregated``: the same with the linking fixed (the default
  ``auto`` picks ``pair`` for every pmed instance);
- ``spopt + CBC`` and ``spopt + HiGHS``: ``PMedian.from_cost_matrix(...).solve(...)`` through
  PuLP (the cost matrix is computed beforehand and not timed);
- ``minimal highspy``: the textbook p-median (x_ij <= y_j, Σ_j x_ij = 1, Σ_j y_j = p)
  written straight against highspy from the same matrix: the floor.

Runs are interleaved (every repeat goes through the instances, each instance through the
tools in a rotated order) so that load on the shared machine hits all tools alike; each
figure is the median of the repeats, and every finished run's objective is checked against
the published optimum (pmedopt.txt). A run that hits the time limit counts at the limit.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from _common import log, median, orlib_root, section, table, write_section

REL_TOL = 1e-6


@dataclass
class Run:
    seconds: float
    objective: float | None
    finished: bool  # proven optimal within the limit


def _names(spec: str) -> list[str]:
    """``pmed1-10,pmed15`` -> pmed1 ... pmed10, pmed15."""
    out: list[str] = []
    for part in spec.split(","):
        m = re.fullmatch(r"pmed(\d+)(?:-(?:pmed)?(\d+))?", part.strip())
        if not m:
            raise SystemExit(f"--instances: {part!r} is not pmedN or pmedN-M")
        lo, hi = int(m[1]), int(m[2] or m[1])
        out += [f"pmed{i}" for i in range(lo, hi + 1)]
    return out


def cost_matrix(inst) -> np.ndarray:
    """All-pairs shortest distances of a p-median instance (the published optima's metric)."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    i = np.array([a - 1 for a, _, _ in inst.edges])
    j = np.array([b - 1 for _, b, _ in inst.edges])
    w = np.array([c for _, _, c in inst.edges], dtype=float)
    return dijkstra(csr_array((w, (i, j)), shape=(inst.n, inst.n)), directed=False)


def minimal_highspy(d: np.ndarray, p: int, limit: float) -> Run:
    """The textbook p-median in highspy: y_j binary, x_ij in [0, 1] (integral at an optimum
    once y is)."""
    import highspy

    start = time.perf_counter()
    n = len(d)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(limit))
    h.setOptionValue("mip_rel_gap", 0.0)
    inf = highspy.kHighsInf
    # Columns: x_ij (row-major, i * n + j), then y_j.
    nx_ = n * n
    cost = np.concatenate([d.ravel(), np.zeros(n)])
    h.addVars(nx_ + n, np.zeros(nx_ + n), np.ones(nx_ + n))
    h.changeColsCost(nx_ + n, np.arange(nx_ + n, dtype=np.int32), cost)
    h.changeColsIntegrality(n, np.arange(nx_, nx_ + n, dtype=np.int32),
                            np.full(n, highspy.HighsVarType.kInteger))
    # Σ_j x_ij = 1 for every i.
    starts = np.arange(0, nx_, n, dtype=np.int32)
    h.addRows(n, np.ones(n), np.ones(n), nx_, starts, np.arange(nx_, dtype=np.int32),
              np.ones(nx_))
    # x_ij - y_j <= 0 for every i, j.
    idx = np.empty(2 * nx_, dtype=np.int32)
    idx[0::2] = np.arange(nx_)
    idx[1::2] = nx_ + np.tile(np.arange(n), n)
    val = np.empty(2 * nx_)
    val[0::2], val[1::2] = 1.0, -1.0
    h.addRows(nx_, np.full(nx_, -inf), np.zeros(nx_), 2 * nx_,
              np.arange(0, 2 * nx_, 2, dtype=np.int32), idx, val)
    # Σ_j y_j = p.
    h.addRow(p, p, n, np.arange(nx_, nx_ + n, dtype=np.int32), np.ones(n))
    h.run()
    status = h.getModelStatus()
    finished = status == highspy.HighsModelStatus.kOptimal
    obj = h.getInfo().objective_function_value if h.getInfo().primal_solution_status else None
    return Run(time.perf_counter() - start, obj, finished)


def spopt_run(d: np.ndarray, p: int, limit: float, solver: str) -> Run:
    import pulp
    from spopt.locate import PMedian

    start = time.perf_counter()
    n = len(d)
    model = PMedian.from_cost_matrix(d, np.ones(n), p_facilities=p, name="pmed")
    backend = (pulp.PULP_CBC_CMD(msg=False, timeLimit=limit, gapRel=0.0) if solver == "cbc"
               else pulp.HiGHS(msg=False, timeLimit=limit, gapRel=0.0))
    try:
        model.solve(backend)
    except RuntimeError:
        # spopt raises when the solver stopped without a plan (CBC at the time limit).
        return Run(time.perf_counter() - start, None, False)
    status = pulp.LpStatus[model.problem.status]
    obj = pulp.value(model.problem.objective)
    elapsed = time.perf_counter() - start
    return Run(elapsed, obj, status == "Optimal" and elapsed < limit)


def klynge_run(inst, limit: float, linking: str | None) -> Run:
    from klynge_opt.api import solve
    from klynge_opt.data import orlib
    from klynge_opt.data.dataset import from_tables
    from klynge_opt.data.scenario import Scenario

    start = time.perf_counter()
    solver = {"mip_gap": 0.0, "time_limit": limit}
    if linking is not None:
        solver["linking"] = linking
    sc = Scenario().with_updates(orlib.pmed_scenario(inst.p)).with_updates(
        {"name": inst.name, "solver": solver})
    result = solve(from_tables(orlib.pmed_tables(inst)), sc)
    s = result.facts
    ok = s.status == "optimal" and s.check is not None and bool(s.check.ok)
    return Run(time.perf_counter() - start, s.objective, ok)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", default="pmed1-40")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=120.0)
    parser.add_argument("--tools", default="klynge-opt,klynge-opt aggregated,spopt + CBC,"
                        "spopt + HiGHS,minimal highspy")
    args = parser.parse_args()
    from klynge_opt.data import orlib

    root = orlib_root()
    optima = orlib.read_pmed_optima(root / "pmed" / "pmedopt.txt")
    names = _names(args.instances)
    instances = {n: orlib.read_pmed(root / "pmed" / f"{n}.txt") for n in names}
    matrices = {n: cost_matrix(inst) for n, inst in instances.items()}
    limit = args.time_limit
    tools: dict[str, Callable[[str], Run]] = {
        "klynge-opt": lambda n: klynge_run(instances[n], limit, None),
        "klynge-opt pair": lambda n: klynge_run(instances[n], limit, "pair"),
        "klynge-opt aggregated": lambda n: klynge_run(instances[n], limit, "aggregated"),
        "spopt + CBC": lambda n: spopt_run(matrices[n], instances[n].p, limit, "cbc"),
        "spopt + HiGHS": lambda n: spopt_run(matrices[n], instances[n].p, limit, "highs"),
        "minimal highspy": lambda n: minimal_highspy(matrices[n], instances[n].p, limit),
    }
    chosen = [t.strip() for t in args.tools.split(",")]
    unknown = [t for t in chosen if t not in tools]
    if unknown:
        raise SystemExit(f"--tools: unknown {unknown}; choose from {list(tools)}")
    runs: dict[tuple[str, str], list[Run]] = {(n, t): [] for n in names for t in chosen}
    wrong: list[str] = []
    for rep in range(args.repeats):
        for k, name in enumerate(names):
            order = chosen[(k + rep) % len(chosen):] + chosen[:(k + rep) % len(chosen)]
            for tool in order:
                run = tools[tool](name)
                if not run.finished:
                    run.seconds = max(run.seconds, limit)
                elif not math.isclose(run.objective or math.nan, optima[name], rel_tol=REL_TOL):
                    wrong.append(f"{tool} on {name}: {run.objective} vs {optima[name]}")
                runs[name, tool].append(run)
                log(f"repeat {rep + 1} {name} {tool}: {run.seconds:.1f} s"
                    + ("" if run.finished else " (limit)"))

    def med(name: str, tool: str) -> float:
        return median([r.seconds for r in runs[name, tool]])

    rows = []
    for name in names:
        inst = instances[name]
        row: list[object] = [name, inst.n, inst.p]
        for tool in chosen:
            limited = sum(not r.finished for r in runs[name, tool])
            row.append(f"{med(name, tool):.1f}" + (f" ({limited}× limit)" if limited else ""))
        rows.append(row)
    ratios = []
    main_tool = chosen[0]
    for tool in chosen[1:]:
        per = [med(n, main_tool) / med(n, tool) for n in names]
        ratios.append([f"{main_tool} / {tool}", f"{median(per):.2f}",
                       f"{min(per):.2f}–{max(per):.2f}"])
    body = (f"OR-Library {names[0]}–{names[-1]}, {args.repeats} interleaved repeats, "
            f"time limit {limit:.0f} s per run (a run at the limit counts as the limit), "
            "median wall seconds per tool; every finished run checked against pmedopt.txt"
            + (": **wrong objectives: " + "; ".join(wrong) + "**" if wrong else
               " (all equal to the published optimum).")
            + "\n\n" + table(["instance", "n", "p", *chosen], rows)
            + "\n\nMedian over the instances of the per-instance ratio of median times:\n\n"
            + table(["ratio", "median", "range"], ratios))
    path = write_section("peers", section("peers", "Against the peers: OR-Library p-median "
                                                   "(bench_peers.py)", body))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
