"""The Python API: one call from a data set and a scenario to a checked result.

Data flows one way: files -> Dataset -> Landscape -> ModelInputs -> Pyomo model -> solution
-> Result tables.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import dataset as dataset_api
from .dataset import Dataset
from .landscape import build_landscape
from .model import build_model, prepare
from .problems import InputError, Problem
from .results import Result, clean_json, extract, status_quo, summarise
from .scenario import Scenario, load_scenario
from .solver import solve as run_solver


def check_scenario_against(dataset: Dataset, scenario: Scenario, source: str) -> None:
    """Ids a scenario names must exist in the data set."""
    known = set(dataset.operators["operator_id"])
    problems = [
        Problem("error", f"unknown operator id; not in {dataset.name}/operators", source=source,
                column=f"policy.{key}", value=op)
        for key in ("keep", "close") for op in getattr(scenario.policy, key) if op not in known
    ]
    if problems:
        raise InputError(problems, what=f"scenario {source}")


def solve(dataset: Dataset | str | os.PathLike[str] | None = None,
          scenario: Scenario | str | os.PathLike[str] | None = None, *,
          tee: bool = False) -> Result:
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
    check_scenario_against(dataset, scenario, scenario.name)
    land = build_landscape(dataset)
    timings["load"] = time.perf_counter() - start

    t = time.perf_counter()
    inputs = prepare(land, scenario)
    model = build_model(inputs, scenario)
    timings["build"] = time.perf_counter() - t

    report, _ = run_solver(model, scenario.solver, tee=tee)
    timings["solve"] = report.seconds

    base = {"scenario": scenario.name, "data": dataset.source, "data_hash": dataset.content_hash()}
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
    summary = clean_json({**base, **summary})
    return Result(report.status, summary, operators, clusters, assignments, scenario=scenario)
