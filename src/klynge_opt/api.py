"""The Python API: one call from a data set and a scenario to a checked result.

Data flows one way: files -> Dataset -> Landscape -> ModelInputs -> Pyomo model -> solution
-> Result tables.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyomo.environ as pyo

from .data import dataset as dataset_api
from .data.dataset import Dataset
from .data.overrides import apply_overrides, forced_operators, validate_against
from .data.scenario import Scenario, load_scenario
from .data.scenario import input_hash as scenario_hash
from .frames import row_tuples
from .fsio import clean_json
from .model.diagnosis import Diagnosis, Finding, diagnose, prechecks
from .model.formulation import (
    ModelInputs,
    build_model,
    polish_relief,
    prepare,
    restore_integrality,
)
from .model.landscape import Landscape, build_landscape
from .model.solver import solve as run_solver
from .problems import InputError, Problem
from .progress import Progress, Step
from .results.check import check_plan
from .results.outputs import EffectOptimum, ResultSummary, Secondary
from .results.result import (
    Result,
    annual_cost,
    by_stronghold,
    coverage_by_place,
    effect_figures,
    extract,
    plan_statistics,
    status_quo,
    status_quo_plan,
    status_quo_result_tables,
    status_quo_terms,
    summarise,
)


def input_hash(scenario: Scenario, dataset: Dataset | str) -> str:
    """:func:`klynge_opt.data.scenario.input_hash` for a Dataset or its content hash."""
    return scenario_hash(scenario, dataset if isinstance(dataset, str) else
                         dataset.content_hash())


@dataclass
class Session:
    """A scenario made ready to solve: data (with overrides), landscape, model inputs, model.

    Studies that solve variants of one model (alternatives, the secondary objective) add
    constraints to ``model`` and call :func:`run` again.
    """

    original: Dataset
    dataset: Dataset
    scenario: Scenario
    land: Landscape
    inputs: ModelInputs | None
    model: pyo.ConcreteModel | None
    base: dict[str, Any]
    timings: dict[str, float]
    start: float
    #: Pre-check findings: when any, the scenario is infeasible and no model is built.
    findings: list[Finding] = field(default_factory=list)
    _baseline: dict[str, Any] | None = None

    @property
    def baseline(self) -> dict[str, Any]:
        """Today's landscape under the scenario's cost model, computed once per session
        (studies solve a session's model many times; the status quo does not change)."""
        if self._baseline is None:
            land = self.land
            if self.scenario.baseline == "today" and self.dataset is not self.original:
                land = build_landscape(self.original)
            self._baseline = status_quo(land, self.scenario)
        return self._baseline


def open_session(dataset: Dataset | str | os.PathLike[str] | None = None,
                 scenario: Scenario | str | os.PathLike[str] | None = None) -> Session:
    """Load and validate the inputs and build the model (not yet solved)."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    scenario, dataset = load_inputs(dataset, scenario)
    original = dataset
    dataset = apply_overrides(dataset, scenario)
    keep, close = forced_operators(dataset, scenario.policy)
    if keep & close:
        raise InputError([Problem("error", "operators both kept and closed (by id or kind): "
                                  + ", ".join(sorted(keep & close)), source=scenario.source,
                                  column="policy")], what=f"scenario {scenario.source}")
    on_disk = dataset.source != "<memory>"
    if on_disk:
        # What was solved, not what the scenario file said: results must re-run and re-check.
        scenario = scenario.model_copy(update={"data": str(Path(dataset.source).resolve())})
    land = build_landscape(dataset)
    timings["load"] = time.perf_counter() - start
    data_hash = original.content_hash()
    base = {"scenario": scenario.name, "data": scenario.data if on_disk else dataset.source,
            "data_hash": data_hash, "input_hash": input_hash(scenario, data_hash)}
    session = Session(original, dataset, scenario, land, None, None, base, timings, start)
    if scenario.mode == "status_quo":
        return session
    t = time.perf_counter()
    session.inputs = prepare(land, scenario)
    session.findings = prechecks(land, session.inputs, scenario)
    if not session.findings:
        session.model = build_model(session.inputs, scenario)
    timings["build"] = time.perf_counter() - t
    return session


def load_inputs(dataset: Dataset | str | os.PathLike[str] | None,
                scenario: Scenario | str | os.PathLike[str] | None,
                ) -> tuple[Scenario, Dataset]:
    """The scenario and data set, checked against each other; every problem in one round.

    A scenario with bad keys is still checked against the data (without those keys), so a
    user fixing a file sees its unknown ids too, not only after a second run.
    """
    earlier: list[Problem] = []
    if scenario is None:
        scenario = Scenario()
    elif not isinstance(scenario, Scenario):
        try:
            scenario = load_scenario(scenario)
        except InputError as exc:
            partial = getattr(exc, "partial", None)
            if partial is None or (dataset is None and not Path(partial.data).exists()):
                raise
            scenario, earlier = partial, exc.problems
    if not isinstance(dataset, Dataset):
        dataset = dataset_api.load(Path(dataset) if dataset is not None else scenario.data)
    # Raises with the earlier problems too, whether or not the ids are fine.
    validate_against(dataset, scenario, scenario.source, earlier)
    return scenario, dataset


def run(session: Session, *, tee: bool = False, verify: bool = True,
        progress: Progress | None = None) -> Result:
    """Solve the session's model as it stands and turn the answer into a checked result."""
    sc, timings, base = session.scenario, dict(session.timings), session.base
    if sc.mode == "status_quo":
        return _evaluate_status_quo(session.land, sc, base, timings, session.start,
                                    overridden=session.dataset is not session.original)
    if session.model is None:
        message = "infeasible: " + "; ".join(f.message for f in session.findings[:5]) + (
            f"; and {len(session.findings) - 5} more" if len(session.findings) > 5 else "")
        summary = {"status": "infeasible", "proven_optimal": False, "message": message,
                   "timings": timings, **base}
        return Result("infeasible", clean_json(summary), scenario=sc, message=message)
    model = session.model
    report, _ = run_solver(model, sc.solver, tee=tee, progress=progress)
    timings["solve"] = report.seconds
    if report.status == "interrupted":
        raise KeyboardInterrupt
    if not report.has_solution:
        message = {"infeasible": "the scenario is infeasible: no plan meets all its "
                                 "requirements",
                   "time_limit": "the time limit was reached before any plan was found"}.get(
            report.status, f"the solver stopped without a solution ({report.termination})")
        summary = {"status": report.status, "proven_optimal": False, "message": message,
                   "solver_termination": report.termination,
                   "linking": getattr(model, "_linking", None),
                   "warm_start": getattr(model, "_warm_start", None), "timings": timings, **base}
        return Result(report.status, clean_json(summary), scenario=sc, message=message)

    t = time.perf_counter()
    assert session.inputs is not None
    polish_relief(model)
    operators, clusters, assignments = extract(model, session.land, session.inputs, sc)
    baseline = session.baseline
    timings["extract"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - session.start
    summary = {**base, **summarise(report, model, session.land, sc, operators, clusters,
                                   assignments, timings, baseline)}
    status, message = report.status, ""
    by_muni, by_region = coverage_by_place(session.land, operators, assignments, sc)
    places = {"coverage_by_municipality": by_muni, "by_region": by_region,
              "by_stronghold": by_stronghold(session.land, clusters, assignments, sc)}
    if verify:
        # Every plan passes the independent checker, which recomputes from the raw data; its
        # verdict, not the solver's, decides whether the plan is reported as a solution.
        facts = ResultSummary.from_dict(summary)
        assert facts.objective_terms is not None  # summarise reports the plan's terms
        checked = check_plan(session.original, sc, operators, clusters, assignments,
                             facts.objective_terms.to_dict(),
                             reported_objective=facts.objective, report_tables=places)
        summary["check"] = checked.to_dict()
        if not checked.ok:
            status = "check_failed"
            message = (f"the solver's plan ({report.status}) fails the independent check "
                       f"({len(checked.violations)} violations): it is not a valid plan")
            summary.update(status=status, proven_optimal=False, message=message)
    return Result(status, clean_json(summary), operators, clusters, assignments, **places,
                  scenario=sc, message=message)


def solve(dataset: Dataset | str | os.PathLike[str] | None = None,
          scenario: Scenario | str | os.PathLike[str] | None = None, *,
          tee: bool = False, verify: bool = True, diagnose: bool = False,
          progress: Progress | None = None) -> Result:
    """Solve a scenario on a data set.

    ``dataset`` defaults to the scenario's ``data``; ``scenario`` to all defaults. Bad input
    raises :class:`InputError` with every problem; infeasibility is a status, not an error.
    With ``[objective] secondary = "fewest_changes"`` the plan is re-optimised for fewest
    changes among plans within the cost tolerance. ``progress`` receives the solver's running
    gap and the diagnosis' steps (:mod:`klynge_opt.progress`).
    """
    session = open_session(dataset, scenario)
    if session.scenario.objective.sense == "max_effect" and session.model is not None:
        result = _max_effect(session, tee=tee, verify=verify, progress=progress)
    else:
        result = run(session, tee=tee, verify=verify, progress=progress)
    if result.status == "infeasible" and diagnose:
        result.diagnosis = diagnose_session(session, progress=progress)
        return result
    if session.scenario.objective.secondary == "none" or not result.has_solution \
            or session.model is None:
        return result
    return _fewest_changes(session, result, tee=tee, verify=verify, progress=progress)


def _max_effect(session: Session, *, tee: bool, verify: bool,
                progress: Progress | None) -> Result:
    """Two stages: the largest estimated effect within the policy (annual_budget included),
    then the cheapest plan keeping that effect."""
    m = session.model
    assert m is not None
    m.cost.deactivate()
    m.effect_goal = pyo.Objective(expr=m.effect, sense=pyo.maximize)
    first, _ = run_solver(m, session.scenario.solver, tee=tee, progress=progress)
    m.effect_goal.deactivate()
    m.cost.activate()
    if first.status == "interrupted":
        raise KeyboardInterrupt
    if not first.has_solution or first.objective is None:
        return run(session, tee=tee, verify=verify, progress=progress)
    best = float(first.objective)
    # The first stage's optimum, less a hair so that the cost stage stays feasible.
    m.effect_floor = pyo.Constraint(expr=m.effect >= best - 1e-7 * max(abs(best), 1.0))
    second = run(session, tee=tee, verify=verify, progress=progress)
    second.summary["effect_optimum"] = EffectOptimum(
        jobs=best, bound=first.bound, mip_gap=first.mip_gap, status=first.status).to_dict()
    if second.status == "optimal" and first.status != "optimal":
        # The cost stage is proven, the effect it keeps is not: the plan is not proven.
        second.summary.update(status="feasible", proven_optimal=False)
        second.status = "feasible"
    return second


def _fewest_changes(session: Session, first: Result, *, tee: bool, verify: bool,
                    progress: Progress | None) -> Result:
    """Lexicographic re-optimisation: cost <= (1 + tol) x optimum, then fewest closures, then
    fewest firms moved."""
    m = session.model
    assert m is not None and first.objective is not None
    tol = session.scenario.objective.tolerance
    cap = (1 + tol) * first.objective / m.objective_scale
    # The cost bound ties all groups together: relaxed assignments could split.
    restore_integrality(m)
    m.cost_within_tolerance = pyo.Constraint(expr=m.cost.expr <= cap + 1e-9 * abs(cap))
    m.cost.deactivate()
    total = float(session.inputs.groups["weight"].sum()) if session.inputs is not None else 0.0
    # Closures weigh more than all firm moves together: one objective, lexicographic order.
    m.changes = pyo.Objective(
        expr=(total + 1) * sum(1 - m.y[o] for o in m.O) + _moved(m, session.inputs),
        sense=pyo.minimize)
    second = run(session, tee=tee, verify=verify, progress=progress)
    before = first.facts
    assert before.counts is not None and before.firms_moved is not None  # it has a plan
    second.summary["secondary"] = Secondary(
        objective="fewest_changes", tolerance=tol, primary_objective=first.objective,
        primary_status=first.status,
        closed_before=before.counts.operators_before - before.counts.operators_after,
        firms_moved_before=before.firms_moved,
    ).to_dict()
    # The bound reported by the second solve is for the change count, not for cost.
    second.summary["objective_bound"] = None
    return second


def _moved(m: pyo.ConcreteModel, inputs: ModelInputs | None) -> object:
    """Firms moved: to an unfamiliar operator, or (service layers) to another cluster."""
    assert inputs is not None
    d = inputs.pairs.set_index(["group_id", "operator_id"])["disrupted"]
    moved = [float(w) * m.x[k] for k, w in d.items() if w > 0]
    if inputs.layered:
        cp = inputs.cluster_pairs[inputs.cluster_pairs["moved"].astype(bool)]
        q = inputs.cluster_groups["weight"]
        # Where a merger can relieve a member, the disrupted share δ is what moved; counting
        # w instead would leave δ free, and the reported disruption would then be more than
        # the plan's.
        delta = getattr(m, "delta", {})
        moved += [float(q[g]) * (delta[g, c] if (g, c) in delta else m.w[g, c])
                  for g, c in row_tuples(cp, "group_id", "cluster_id")]
    return sum(moved)


def _evaluate_status_quo(land, scenario: Scenario, base: dict, timings: dict[str, float],
                         start: float, *, overridden: bool) -> Result:
    """The scenario's landscape (its overrides applied) evaluated as it stands: no optimisation,
    so no constraint is imposed; the plan is its own reference."""
    t = time.perf_counter()
    assignments = status_quo_plan(land, scenario)
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
        "effect": effect_figures(assignments, land, scenario, annual_cost(operators, clusters)),
        "status_quo": {**status_quo(land, scenario),
                       "baseline": "overridden" if overridden else "today"},
        "savings": {"total": 0.0, "share": 0.0, "in_scope_share": 0.0},
    }
    by_muni, by_region = coverage_by_place(land, operators, assignments, scenario)
    return Result("evaluated", clean_json(summary), operators, clusters, assignments, by_muni,
                  by_region, by_stronghold(land, clusters, assignments, scenario),
                  scenario=scenario)


def diagnose_session(session: Session, *, with_suggestions: bool = True,
                     progress: Progress | None = None) -> Diagnosis:
    """Why the session's scenario is infeasible, with verified relaxations (docs/diagnosis.md).

    Each trial solve is a :class:`~klynge_opt.progress.Step` of unknown total."""
    tried = [0]

    def trial(sc: Scenario) -> Result:
        # Feasibility is the question; a 1 % gap answers it much sooner on national data.
        loose = sc.with_updates({"solver": {"mip_gap": max(sc.solver.mip_gap, 0.01)}})
        # The original data: solve() applies the scenario's overrides itself.
        result = solve(session.original, loose, verify=False, progress=progress)
        tried[0] += 1
        if progress is not None:
            progress(Step("diagnosis", f"trial {tried[0]}", tried[0], None))
        return result

    findings = session.findings or None
    diag = diagnose(session.land, session.scenario, trial, session.inputs,
                    with_suggestions=with_suggestions)
    if findings is not None and not diag.findings:
        diag.findings = findings
    return diag
