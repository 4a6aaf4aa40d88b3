"""The relaxation's first plan (``solver.warm_start = "relaxation"``, docs/model.md "Warm
start"): a feasible, whole plan; handed to HiGHS; the same proven optima as without it."""

from __future__ import annotations

import time

import highspy
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import layered_tables, tiny_tables
from klynge_opt.api import solve as api_solve
from klynge_opt.data import orlib
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.generator import synthetic_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.model import solver
from klynge_opt.model.formulation import build_model, prepare
from klynge_opt.model.landscape import build_landscape

START = {"warm_start": "relaxation"}
#: A synthetic landscape small enough to prove at gap 0 in seconds; 40 firms per operator
#: binds (it raises the optimum).
SMALL = synthetic_tables(seed=3, firms=1500, operators=40, municipalities=50)


def _build(tables, scenario):
    return build_model(prepare(build_landscape(from_tables(tables)), scenario), scenario)


def _lp(tables, scenario):
    lp, _, _ = solver._lp(_build(tables, scenario))
    return lp


def _holds(lp: highspy.HighsLp, x: np.ndarray) -> bool:
    """Every row and bound of ``lp`` at ``x``, recomputed from its arrays, and every integer
    column whole."""
    a = sp.csc_matrix((np.asarray(lp.a_matrix_.value_), np.asarray(lp.a_matrix_.index_),
                       np.asarray(lp.a_matrix_.start_)), shape=(lp.num_row_, lp.num_col_))
    ax = a @ x
    tol = 1e-6
    rows = (ax >= np.asarray(lp.row_lower_) - tol).all() and \
        (ax <= np.asarray(lp.row_upper_) + tol).all()
    cols = (x >= np.asarray(lp.col_lower_) - tol).all() and \
        (x <= np.asarray(lp.col_upper_) + tol).all()
    integer = np.array([t == highspy.HighsVarType.kInteger for t in lp.integrality_])
    return bool(rows and cols and (np.abs(x[integer] - np.round(x[integer])) <= tol).all())


@pytest.mark.parametrize("tables, policy", [
    (tiny_tables, {}),
    (tiny_tables, {"coverage": "soft", "coverage_target": 0, "max_travel_minutes": 60}),
    (layered_tables, {"allow_mergers": True}),
    (lambda: SMALL, {"min_firms_per_operator": 40}),
], ids=["tiny", "tiny-soft", "layered-mergers", "synthetic"])
def test_first_plan_is_feasible_and_whole(tables, policy):
    scenario = Scenario().with_updates({"policy": policy, "solver": START})
    lp = _lp(tables(), scenario)
    plan, bound = solver.relaxation_start(lp, scenario.solver, False, time.perf_counter() + 60)
    assert plan is not None
    assert _holds(lp, np.asarray(plan))
    # The relaxation's objective bounds the plan's (minimisation).
    assert bound <= np.asarray(lp.col_cost_) @ np.asarray(plan) + lp.offset_ + 1e-6


@pytest.mark.parametrize("tables, policy", [
    (tiny_tables, {}),
    (layered_tables, {"allow_mergers": True}),
    (lambda: SMALL, {"min_firms_per_operator": 40}),
], ids=["tiny", "layered-mergers", "synthetic"])
def test_same_proven_optimum_with_and_without(tables, policy):
    ds = from_tables(tables())
    plain = api_solve(ds, Scenario().with_updates({"policy": policy,
                                                    "solver": {"mip_gap": 0.0}}))
    started = api_solve(ds, Scenario().with_updates({"policy": policy,
                                                      "solver": {"mip_gap": 0.0, **START}}))
    assert plain.status == started.status == "optimal"
    assert started.objective == pytest.approx(plain.objective, rel=1e-9)
    assert started.summary["check"]["ok"]


@pytest.mark.parametrize("name", ["pmed1", "pmed4", "cap41", "cap131"])
def test_orlib_reaches_the_published_optimum(root, name):
    if name.startswith("pmed"):
        inst = orlib.read_pmed(root / "pmed" / f"{name}.txt")
        optimum = orlib.read_pmed_optima(root / "pmed" / "pmedopt.txt")[name]
        tables, settings = orlib.pmed_tables(inst), orlib.pmed_scenario(inst.p)
    else:
        inst = orlib.read_cap(root / "cap" / f"{name}.txt")
        optimum = orlib.read_cap_optima(root / "cap" / "capopt.txt")[name]
        tables, settings = orlib.cap_tables(inst), orlib.cap_scenario()
    sc = Scenario().with_updates(settings).with_updates({"solver": {"mip_gap": 0.0, **START}})
    result = api_solve(from_tables(tables), sc)
    assert result.status == "optimal" and result.summary["check"]["ok"]
    assert result.objective == pytest.approx(optimum, rel=1e-6)


def _relaxation_bound(lp: highspy.HighsLp) -> float:
    """The LP relaxation's optimum, solved here apart from ``relaxation_start``."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    n = lp.num_col_
    h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.zeros(n, dtype=np.uint8))
    h.run()
    return h.getInfo().objective_function_value


def _model(tables, settings, gap):
    scenario = Scenario().with_updates(settings).with_updates(
        {"solver": {"mip_gap": gap, **START}})
    return _build(tables, scenario), scenario


def test_a_plan_the_relaxation_proves_skips_the_mip(root):
    """pmed4's LP relaxation is whole at the published optimum 3,034: the first plan is
    proven by the relaxation's bound, and HiGHS's branch and bound never runs."""
    inst = orlib.read_pmed(root / "pmed" / "pmed4.txt")
    model, scenario = _model(orlib.pmed_tables(inst), orlib.pmed_scenario(inst.p), 0.0)
    report, run = solver.solve(model, scenario.solver)
    assert report.status == "optimal" and report.termination == solver.PROVEN_BY_RELAXATION
    assert run.highs.getModelStatus() == highspy.HighsModelStatus.kNotset
    optimum = orlib.read_pmed_optima(root / "pmed" / "pmedopt.txt")["pmed4"]
    # The objective is scaled in the model (OBJECTIVE_SCALE); the plan's value by the columns.
    values = np.array([v.value for v in run.columns])
    assert report.objective == pytest.approx(run.costs @ values + solver._lp(model)[0].offset_)
    assert report.bound == pytest.approx(report.objective, abs=solver.MIP_ABS_GAP)
    assert report.mip_gap <= solver.MIP_ABS_GAP
    result = api_solve(from_tables(orlib.pmed_tables(inst)), scenario)
    assert result.objective == pytest.approx(optimum, rel=1e-9)
    assert result.summary["solver_termination"] == solver.PROVEN_BY_RELAXATION
    assert result.summary["check"]["ok"]


def test_a_plan_the_relaxation_cannot_prove_goes_to_highs():
    """The synthetic landscape's relaxation lies below its optimum: the first plan is handed
    to HiGHS, which proves the optimum (bound = objective at gap 0)."""
    model, scenario = _model(SMALL, {"policy": {"min_firms_per_operator": 40}}, 0.0)
    lp = solver._lp(model)[0]
    report, run = solver.solve(model, scenario.solver)
    assert report.status == "optimal" and report.termination == "Optimal"
    assert run.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
    relaxed = _relaxation_bound(lp)
    assert relaxed < report.objective * (1 - 1e-6)
    assert report.bound == pytest.approx(report.objective, rel=1e-9)


def test_the_first_plan_reaches_highs(monkeypatch):
    """When the first plan used up the whole time limit, HiGHS has no time of its own: the
    plan it reports is the one it was handed (without the hand-over, there is none)."""
    real = solver.relaxation_start
    limit = 5.0

    def slow(lp, options, tee, deadline):
        plan, bound = real(lp, options, tee, deadline)
        time.sleep(max(0.0, deadline - time.perf_counter()) + 0.05)
        slow.plan, slow.bound = plan, bound
        return plan, bound

    monkeypatch.setattr(solver, "relaxation_start", slow)
    # Mergers: a model whose relaxation does not prove the plan, so HiGHS must take it.
    scenario = Scenario().with_updates({"policy": {"allow_mergers": True},
                                        "solver": {"mip_gap": 0.0, "time_limit": limit,
                                                   **START}})
    model = _build(layered_tables(), scenario)
    report, run = solver.solve(model, scenario.solver)
    assert report.status in ("time_limit", "optimal")
    assert report.has_solution
    handed = np.asarray(slow.plan)
    assert run.costs @ handed == pytest.approx(report.objective - run.highs.getLp().offset_)
    # HiGHS had no time for a bound of its own: the relaxation's bounds the plan, so the gap
    # is known (and not claimed smaller than it is).
    assert report.bound == pytest.approx(slow.bound)
    assert report.mip_gap == pytest.approx(
        abs(report.objective - slow.bound) / abs(report.objective))


def test_infeasible_and_no_time_stay_honest():
    ds = from_tables(tiny_tables())
    # No operator may be kept: the relaxation is infeasible, no first plan, the MIP says so.
    none = api_solve(ds, Scenario().with_updates({"policy": {"max_operators": 0},
                                                   "solver": START}))
    assert none.status == "infeasible"
    # A time limit too short for anything: no plan, as without the warm start.
    hard = from_tables(synthetic_tables(seed=1))
    late = api_solve(hard, Scenario().with_updates({"solver": {"time_limit": 1e-3, **START}}))
    assert late.status == "time_limit" and not late.has_solution


@pytest.mark.slow
def test_wider_search_when_the_first_plan_is_not_within_the_gap():
    """committee-2018: fixing every whole column of the relaxation leaves a plan 0.016 %
    above the relaxation's bound (more than the 0.01 % gap); fixing only what the relaxation
    opened finds one within it, so HiGHS can prove the gap at its root (about 20 s)."""
    from conftest import ROOT
    from klynge_opt.api import open_session

    session = open_session(None, ROOT / "scenarios" / "committee-2018.toml")
    lp, _, _ = solver._lp(session.model)
    options = session.scenario.solver
    bound = _relaxation_bound(lp)
    plan = np.asarray(solver.relaxation_start(lp, options, False, time.perf_counter() + 300)[0])
    assert _holds(lp, plan)
    value = float(np.asarray(lp.col_cost_) @ plan + lp.offset_)
    assert (value - bound) / value <= options.mip_gap


def test_auto_starts_up_to_the_pair_threshold_and_says_so(monkeypatch):
    from klynge_opt.api import open_session
    from klynge_opt.model import formulation

    ds = from_tables(tiny_tables())
    session = open_session(ds, Scenario())
    pairs = len(session.inputs.pairs)
    assert formulation.choose_warm_start(session.inputs, session.scenario) == "relaxation"
    # "Up to": exactly at the threshold still starts; one pair more does not.
    monkeypatch.setattr(formulation, "WARM_START_UP_TO_PAIRS", pairs)
    assert formulation.choose_warm_start(session.inputs, session.scenario) == "relaxation"
    monkeypatch.setattr(formulation, "WARM_START_UP_TO_PAIRS", pairs - 1)
    assert formulation.choose_warm_start(session.inputs, session.scenario) == "none"
    assert api_solve(ds, Scenario()).summary["warm_start"] == "none"
    # An explicit setting wins over the size.
    forced = api_solve(ds, Scenario().with_updates({"solver": START}))
    assert forced.summary["warm_start"] == "relaxation"
    monkeypatch.undo()
    assert api_solve(ds, Scenario()).summary["warm_start"] == "relaxation"
    none = api_solve(ds, Scenario().with_updates({"solver": {"warm_start": "none"}}))
    assert none.summary["warm_start"] == "none"
