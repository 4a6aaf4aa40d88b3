"""Does the order of the columns handed to HiGHS change how fast it proves the Danish models?

    python3 benchmarks/bench_order.py [--scenarios paper-2017,committee-2018,pmed4,...]
        [--seeds 0,1,2] [--orders pyomo,integers_first]

Each bundled scenario's model is built once (``api.open_session``) and compiled once
(``solver._lp``); the same LP is then handed to fresh HiGHS instances with its columns in
each order and each HiGHS random seed, interleaved (order A seed 0, order B seed 0, order A
seed 1, ...), with the scenario's own time limit and gap. A different seed sends HiGHS down
another path as surely as a different order does, so an order is judged over seeds, not by
one run. Reported per scenario and order: median HiGHS time, nodes, and whether every run
proved the same optimum. Written to docs/performance.md (section ``order``).
"""

from __future__ import annotations

import argparse

import highspy
import numpy as np
import scipy.sparse as sp

from _common import ROOT, log, median, section, table, write_section

SCENARIOS = ("paper-2017", "committee-2018", "reality-2021", "budget-1000", "gold-clusters",
             "one-cluster-per-stronghold", "rural-parity")
#: Column orders, and ``relaxation``: Pyomo's order with the first plan of
#: ``solver.relaxation_start`` handed to HiGHS (its time counted).
ORDERS = ("pyomo", "integers_first", "relaxation")


def _permutation(lp: highspy.HighsLp, order: str) -> np.ndarray:
    n = lp.num_col_
    if order in ("pyomo", "relaxation"):
        return np.arange(n)
    if order == "integers_first":
        kinds = np.array([int(k == highspy.HighsVarType.kInteger) for k in lp.integrality_])
        return np.argsort(-kinds, kind="stable")
    if order == "reversed":
        return np.arange(n)[::-1]
    raise SystemExit(f"unknown order {order!r}: expected pyomo, integers_first or reversed")


def _permuted(lp: highspy.HighsLp, perm: np.ndarray) -> highspy.HighsLp:
    """The same LP with its columns in the order ``perm``."""
    n, m = lp.num_col_, lp.num_row_
    a = sp.csc_matrix((np.asarray(lp.a_matrix_.value_), np.asarray(lp.a_matrix_.index_),
                       np.asarray(lp.a_matrix_.start_)), shape=(m, n))[:, perm].tocsc()
    out = highspy.HighsLp()
    out.num_col_, out.num_row_ = n, m
    out.col_cost_ = np.asarray(lp.col_cost_)[perm]
    out.offset_ = lp.offset_
    out.sense_ = lp.sense_
    out.col_lower_ = np.asarray(lp.col_lower_)[perm]
    out.col_upper_ = np.asarray(lp.col_upper_)[perm]
    out.row_lower_, out.row_upper_ = lp.row_lower_, lp.row_upper_
    out.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    out.a_matrix_.num_col_, out.a_matrix_.num_row_ = n, m
    out.a_matrix_.start_, out.a_matrix_.index_, out.a_matrix_.value_ = a.indptr, a.indices, a.data
    out.integrality_ = [lp.integrality_[i] for i in perm]
    return out


def _run(lp: highspy.HighsLp, options: dict[str, object], start: bool,
         solver_options) -> dict[str, float]:
    """One HiGHS run; with ``start`` the relaxation's first plan is computed first and its
    time counted."""
    import time

    from klynge_opt.model.solver import hand_over, relaxation_start

    t = time.perf_counter()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for k, v in options.items():
        h.setOptionValue(k, v)
    h.passModel(lp)
    if start:
        plan, _ = relaxation_start(lp, solver_options.model_copy(
            update={"seed": options["random_seed"]}), False,
            time.perf_counter() + solver_options.time_limit)
        if plan is not None:
            hand_over(h, plan)
    h.run()
    info = h.getInfo()
    return {"seconds": time.perf_counter() - t, "nodes": float(info.mip_node_count),
            "objective": float(info.objective_function_value),
            "gap": float(info.mip_gap), "status": h.modelStatusToString(h.getModelStatus())}


def _session(name: str, open_session):
    """A bundled scenario by name, or an OR-Library p-median instance (``pmed4``) solved to
    proven optimality within 120 s."""
    if not name.startswith("pmed"):
        return open_session(None, ROOT / "scenarios" / f"{name}.toml")
    from _common import orlib_root
    from klynge_opt.data import orlib
    from klynge_opt.data.dataset import from_tables
    from klynge_opt.data.scenario import Scenario

    path = orlib_root() / "pmed" / f"{name}.txt"
    if not path.exists():
        raise SystemExit(f"{path} not found: the checkout ships pmed1-5 only; set "
                         f"KLYNGE_ORLIB to the full OR-Library copy (../shared/benchmarks/orlib)")
    inst = orlib.read_pmed(path)
    sc = Scenario().with_updates(orlib.pmed_scenario(inst.p)).with_updates(
        {"name": name, "solver": {"mip_gap": 0.0, "time_limit": 120.0}})
    return open_session(from_tables(orlib.pmed_tables(inst)), sc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--orders", default=",".join(ORDERS))
    args = parser.parse_args()
    from klynge_opt.api import open_session
    from klynge_opt.model.solver import _lp, highs_options

    seeds = [int(s) for s in args.seeds.split(",")]
    orders = args.orders.split(",")
    rows, runs = [], []
    for name in args.scenarios.split(","):
        session = _session(name, open_session)
        lp, _, _ = _lp(session.model)
        options = highs_options(session.scenario.solver)
        lps = {o: _permuted(lp, _permutation(lp, o)) for o in orders}
        seen: dict[str, list[dict[str, float]]] = {o: [] for o in orders}
        for seed in seeds:
            for o in orders:
                out = _run(lps[o], {**options, "random_seed": seed}, o == "relaxation",
                           session.scenario.solver)
                seen[o].append(out)
                runs.append((name, o, seed, out))
                log(f"{name:28s} {o:15s} seed {seed}: {out['seconds']:7.1f} s, "
                    f"{out['nodes']:6.0f} nodes, {out['objective']:,.0f}, gap {out['gap']:.2e}, "
                    f"{out['status']}")
        best = min(r["objective"] for o in orders for r in seen[o])
        base = median([r["seconds"] for r in seen[orders[0]]])
        for o in orders:
            times = [r["seconds"] for r in seen[o]]
            proven = all(r["gap"] <= options["mip_rel_gap"] + 1e-12 for r in seen[o])
            same = all(abs(r["objective"] - best) <= 1e-4 * abs(best) for r in seen[o])
            rows.append((name, o, f"{median(times):.1f}", f"{min(times):.1f}–{max(times):.1f}",
                         f"{median([r['nodes'] for r in seen[o]]):.0f}",
                         "yes" if proven and same else "no",
                         f"{median(times) / base:.2f}"))
    ratios: dict[str, list[float]] = {o: [] for o in orders}
    for name in args.scenarios.split(","):
        base = median([r["seconds"] for n, o, _, r in runs if n == name and o == orders[0]])
        for o in orders:
            ratios[o].append(median([r["seconds"] for n, oo, _, r in runs
                                     if n == name and oo == o]) / base)
    summary = ", ".join(f"{o} {median(ratios[o]):.2f}× (range {min(ratios[o]):.2f}–"
                        f"{max(ratios[o]):.2f})" for o in orders[1:])
    body = (
        f"The bundled Danish scenarios' models compiled once and handed to HiGHS with their "
        f"columns in each order, HiGHS random seeds {args.seeds} (a seed changes HiGHS's path "
        f"as much as an order does), interleaved, the scenario's own gap and time limit. "
        f"HiGHS time only (no build, no hand-over). Median over seeds per scenario; ratio to "
        f"`{orders[0]}`. Median of the per-scenario ratios: {summary}.\n\n"
        + table(("scenario", "order", "HiGHS s (median)", "range s", "nodes (median)",
                 "every run proven at the best objective", f"÷ {orders[0]}"), rows))
    write_section("order", section("order", "Column order and HiGHS (bench_order.py)", body))
    print(body)


if __name__ == "__main__":
    main()
