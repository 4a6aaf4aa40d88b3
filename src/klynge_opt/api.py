"""The Python API: one call from a data set and a scenario to a checked result.

Data flows one way: files -> Dataset -> Landscape -> ModelInputs -> Pyomo model -> solution
-> Result tables.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import dataset as dataset_api
from .check import check_plan
from .dataset import Dataset
from .landscape import build_landscape
from .model import build_model, prepare
from .overrides import apply_overrides, forced_operators, validate_against
from .problems import InputError, Problem
from .results import (
    Result,
    clean_json,
    extract,
    plan_statistics,
    status_quo,
    status_quo_plan,
    status_quo_result_tables,
    status_quo_terms,
    summarise,
)
from .scenario import Scenario, load_scenario
from .solver import solve as run_solver


def solve(dataset: Dataset | str | os.PathLike[str] | None = None,
          scenario: Scenario | str | os.PathLike[str] | None = None, *,
          tee: bool = False, verify: bool = True) -> Result:
    """Solve a scenario on a data set.

    ``dataset`` defaults to the scenario's ``data``; ``scenario`` to all defaults. Bad input
    raises :class:`InputError` with every problem; infeasibility is a status, not an error.
    """
    timings: dict[str, float] = {}
    start = time.perf_counter()
    if scenario is None:
        scenario = Scenario()
    elif not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if not isinstance(dataset, Dataset):
        dataset = dataset_api.load(Path(dataset) if dataset is not None else scenario.data)
    validate_against(dataset, scenario, scenario.name)
    original = dataset
    dataset = apply_overrides(dataset, scenario)
    keep, close = forced_operators(dataset, scenario.policy)
    if keep & close:
        raise InputError([Problem("error", "operators both kept and closed (by id or kind): "
                                  + ", ".join(sorted(keep & close)), source=scenario.name,
                                  column="policy")], what=f"scenario {scenario.name}")
    if dataset.source != "<memory>":
        # What was solved, not what the scenario file said: results must re-run and re-check.
        scenario = scenario.model_copy(update={"data": str(Path(dataset.source).resolve())})
    land = build_landscape(dataset)
    timings["load"] = time.perf_counter() - start
    base = {"scenario": scenario.name, "data": scenario.data if dataset.source != "<memory>"
            else dataset.source, "data_hash": original.content_hash()}

    if scenario.mode == "status_quo":
        return _evaluate_status_quo(land, scenario, base, timings, start)

    t = time.perf_counter()
    inputs = prepare(land, scenario)
    unservable = _unservable_groups(land, inputs, scenario)
    if unservable:
        timings["build"] = time.perf_counter() - t
        summary = {"status": "infeasible", "proven_optimal": False, "message": unservable,
                   "timings": timings, **base}
        return Result("infeasible", clean_json(summary), scenario=scenario, message=unservable)
    model = build_model(inputs, scenario)
    timings["build"] = time.perf_counter() - t

    report, _ = run_solver(model, scenario.solver, tee=tee)
    timings["solve"] = report.seconds

    if not report.has_solution:
        message = {"infeasible": "the scenario is infeasible: no plan meets all its "
                                 "requirements",
                   "time_limit": "the time limit was reached before any plan was found"}.get(
            report.status, f"the solver stopped without a solution ({report.termination})")
        summary = {"status": report.status, "proven_optimal": False, "message": message,
                   "timings": timings, **base}
        return Result(report.status, clean_json(summary), scenario=scenario, message=message)

    t = time.perf_counter()
    operators, clusters, assignments = extract(model, land, inputs, scenario)
    baseline = status_quo(land, scenario)
    timings["extract"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - start
    summary = summarise(report, model, land, scenario, operators, clusters, assignments,
                        timings, baseline)
    summary = {**base, **summary}
    if verify:
        # Every plan passes the independent checker, which recomputes from the raw data.
        checked = check_plan(original, scenario, operators, clusters, assignments,
                             summary["objective_terms"], reported_objective=summary["objective"])
        summary["check"] = checked.to_dict()
    return Result(report.status, clean_json(summary), operators, clusters, assignments,
                  scenario=scenario)


def _evaluate_status_quo(land, scenario: Scenario, base: dict, timings: dict[str, float],
                         start: float) -> Result:
    """Today's landscape as a result: no optimisation, so no constraint is imposed."""
    t = time.perf_counter()
    assignments = status_quo_plan(land)
    operators, clusters = status_quo_result_tables(land, assignments)
    terms = status_quo_terms(land, scenario, assignments)
    timings.update(build=0.0, solve=0.0, extract=time.perf_counter() - t,
                   total=time.perf_counter() - start)
    objective = sum(terms.values())
    summary = {
        **base, "status": "evaluated", "proven_optimal": False,
        "message": "status quo: today's landscape evaluated under the scenario's cost model; "
                   "no optimisation and no policy constraints",
        "objective": objective, "objective_terms": terms, "objective_bound": None,
        "mip_gap": None, "solver_termination": None, "timings": timings,
        "counts": {"operators_before": len(operators), "operators_after": len(operators),
                   "clusters_before": len(clusters), "clusters_after": len(clusters)},
        **plan_statistics(assignments, land),
        "status_quo": status_quo(land, scenario),
        "savings": {"total": 0.0, "share": 0.0},
    }
    return Result("evaluated", clean_json(summary), operators, clusters, assignments,
                  scenario=scenario)


def _unservable_groups(land, inputs, scenario: Scenario) -> str:
    """Under hard coverage, name the firms no eligible operator can reach (empty if none)."""
    if scenario.policy.coverage != "hard":
        return ""
    groups = inputs.groups
    lonely = groups[~groups.index.isin(inputs.pairs["group_id"])]
    if lonely.empty:
        return ""
    names = land.dataset.municipalities.set_index("municipality_id")["name"]
    radius = scenario.policy.max_travel_minutes
    where = "" if radius is None else f" within {radius:g} minutes"
    shown = "; ".join(
        f"{names.get(r.municipality_id, r.municipality_id)} ({r.municipality_id}), "
        f"{r.stronghold_id}: {r.weight:g} firms"
        for r in lonely.sort_values("weight", ascending=False).head(8).itertuples())
    more = f"; and {len(lonely) - 8} more groups" if len(lonely) > 8 else ""
    return (f"infeasible under hard coverage: {len(lonely)} groups of firms have no competent "
            f"operator{where}: {shown}{more}. Raise max_travel_minutes or use soft coverage.")
