"""summary.json has one contract (klynge_opt.results.outputs.ResultSummary): every key a
solve writes is declared, every declared key is written by some solve, and the typed view
gives the JSON back unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import layered_tables, tiny_tables
from klynge_opt.api import solve
from klynge_opt.data.dataset import Dataset, from_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.results.check import check_plan
from klynge_opt.results.outputs import (
    COST_TERMS,
    CheckVerdict,
    CostTerms,
    ResultSummary,
    Timings,
    summary_paths,
    undeclared_keys,
)
from klynge_opt.results.result import Result, read_result, write_result
from klynge_opt.studies.compare import METRICS

#: One real solve of each kind of result on the tiny data.
KINDS: dict[str, dict[str, Any]] = {
    "optimal": {},
    # Caught by the pre-checks: no model is built, no solver runs.
    "infeasible_precheck": {"policy": {"max_travel_minutes": 60}},
    # Found by the solver: solver_termination is written, figures are not.
    "infeasible_solver": {"policy": {"max_operators": 1}},
    "status_quo": {"mode": "status_quo"},
    "fewest_changes": {"objective": {"secondary": "fewest_changes"}},
    # A radius: the status quo is also measured within it (coverage_within_radius).
    "radius": {"policy": {"max_travel_minutes": 100}},
}


@pytest.fixture(scope="module")
def tiny_ds() -> Dataset:
    return from_tables(tiny_tables())


@pytest.fixture(scope="module")
def results(tiny_ds: Dataset) -> dict[str, Result]:
    out = {name: solve(tiny_ds, Scenario().with_updates(update))
           for name, update in KINDS.items()}
    assert out["optimal"].status == "optimal"
    assert out["infeasible_precheck"].status == "infeasible"
    assert out["infeasible_solver"].status == "infeasible"
    assert "solver_termination" in out["infeasible_solver"].summary
    assert out["status_quo"].status == "evaluated"
    assert "secondary" in out["fewest_changes"].summary
    # Service layers (a kinds table) and the budget question write their own keys.
    layered = from_tables(layered_tables())
    out["layered"] = solve(layered, Scenario(name="layered"))
    out["max_effect"] = solve(layered, Scenario(name="max_effect", policy={
        "annual_budget": 4000}, objective={"sense": "max_effect"}))
    assert "effect_optimum" in out["max_effect"].summary
    return out


@pytest.fixture(scope="module")
def violated(tiny_ds: Dataset, results: dict[str, Result]) -> dict[str, Any]:
    """A checker verdict with violations: the optimal plan with every operator closed."""
    plan = results["optimal"]
    ops = plan.operators.assign(kept=False)
    report = check_plan(tiny_ds, Scenario(), ops, plan.clusters, plan.assignments,
                        plan.objective_terms)
    assert report.violations
    return report.to_dict()


def _written(d: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every key path in a JSON value (list items share their list's path)."""
    out: set[tuple[str, ...]] = set()
    items = d if isinstance(d, list) else [d]
    for item in items:
        if isinstance(item, dict):
            for key, value in item.items():
                out.add((*prefix, key))
                out |= _written(value, (*prefix, key))
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_written_key_is_declared(results: dict[str, Result], kind: str) -> None:
    assert undeclared_keys(results[kind].summary) == []


def test_checker_verdict_keys_are_declared(violated: dict[str, Any]) -> None:
    assert undeclared_keys(violated, CheckVerdict) == []
    assert CheckVerdict.from_dict(violated).to_dict() == violated


def test_every_declared_key_is_written_by_some_solve(results: dict[str, Result],
                                                     violated: dict[str, Any]) -> None:
    written: set[tuple[str, ...]] = set()
    for result in results.values():
        written |= _written(result.summary)
    written |= {("check", *p) for p in _written(violated)}
    declared = {path for path, _ in summary_paths()}
    assert declared - written == set()


@pytest.mark.parametrize("kind", list(KINDS))
def test_summary_round_trips(results: dict[str, Result], kind: str, tmp_path: Path) -> None:
    result = results[kind]
    assert ResultSummary.from_dict(result.summary).to_dict() == result.summary
    assert result.facts.to_dict() == result.summary
    # And as written to and read back from disk.
    write_result(result, tmp_path / kind)
    on_disk = json.loads((tmp_path / kind / "summary.json").read_text(encoding="utf-8"))
    assert ResultSummary.from_dict(on_disk).to_dict() == on_disk == result.summary
    assert read_result(tmp_path / kind).facts == result.facts


def test_typed_view_reads_the_same_numbers(results: dict[str, Result]) -> None:
    s = results["optimal"].summary
    facts = results["optimal"].facts
    assert facts.status == s["status"] == "optimal"
    assert facts.counts is not None and facts.coverage is not None
    assert facts.counts.operators_after == s["counts"]["operators_after"]
    assert facts.coverage.rural == s["coverage"]["rural"]
    assert facts.objective_terms is not None
    assert facts.objective_terms.to_dict() == s["objective_terms"]
    assert facts.check is not None and facts.check.ok
    assert facts.status_quo is not None and facts.status_quo.operators == 3
    none = results["infeasible_precheck"].facts
    assert none.objective is None and none.counts is None and none.message


def test_a_result_without_a_plan_omits_the_figures() -> None:
    d = {"status": "infeasible", "proven_optimal": False, "message": "no",
         "timings": {"load": 0.1, "build": 0.2}}
    assert ResultSummary.from_dict(d).to_dict() == d
    # With a plan, an undefined gap or bound is written as null, not left out.
    plan = ResultSummary.from_dict({"status": "evaluated", "objective": 1.0})
    assert plan.to_dict() == {"status": "evaluated", "proven_optimal": False, "objective": 1.0,
                              "objective_bound": None, "mip_gap": None,
                              "solver_termination": None}


def test_a_phase_not_reached_has_no_timing() -> None:
    assert Timings.from_dict({}).to_dict() == {}
    assert Timings.from_dict({"load": 0.5}).to_dict() == {"load": 0.5}


def test_an_empty_check_reads_as_none() -> None:
    d = {"ok": True, "objective": None, "reported_objective": None, "objective_terms": {},
         "figures": {}, "violations": [], "note": "no plan"}
    verdict = CheckVerdict.from_dict(d)
    assert verdict.objective_terms is None and verdict.figures is None
    assert verdict.to_dict() == d


def test_a_missing_required_key_is_named() -> None:
    with pytest.raises(ValueError, match=r"`counts\.clusters_after` is missing"):
        ResultSummary.from_dict({"status": "optimal", "counts": {
            "operators_before": 3, "operators_after": 2, "clusters_before": 3}})
    with pytest.raises(ValueError, match="`status` is missing"):
        ResultSummary.from_dict({})


def test_cost_terms_follow_the_declared_order() -> None:
    assert tuple(CostTerms.__dataclass_fields__) == COST_TERMS


def test_compare_rows_are_declared_paths() -> None:
    declared = {path for path, _ in summary_paths()}
    assert {path for _, path, _ in METRICS} <= declared
