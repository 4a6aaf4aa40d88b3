"""The k best distinct operator sets against brute force over every operator subset."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

from conftest import tiny_tables
from klynge_opt import InputError, Result, Scenario, from_tables
from klynge_opt.api import solve
from klynge_opt.studies.alternatives import alternatives, alternatives_table

REL = 1e-6

SCENARIOS = {
    "defaults": Scenario(solver={"mip_gap": 0.0}),
    # A different optimum (O1 closed) and a different order of the runners-up.
    "expensive_o1": Scenario(
        solver={"mip_gap": 0.0},
        costs={"cost_per_firm_minute": 1.0, "disruption_cost_per_firm": 0.0},
        overrides={"operators": [{"operator_id": "O1", "annual_cost_factor": 3.0}]}),
}


def brute_force(scenario: Scenario) -> dict[frozenset[str], float]:
    """Best objective of every feasible operator set, each set fixed through keep/close."""
    ds = from_tables(tiny_tables())
    operators = sorted(ds.operators["operator_id"])
    best: dict[frozenset[str], float] = {}
    for n in range(len(operators) + 1):
        for kept in itertools.combinations(operators, n):
            closed = [o for o in operators if o not in kept]
            result = solve(ds, scenario.with_updates(
                {"policy": {"keep": list(kept), "close": closed}}))
            if result.has_solution:
                assert result.status == "optimal"
                best[frozenset(kept)] = float(result.objective)
    return best


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def case(request: pytest.FixtureRequest) -> tuple[Scenario, dict[frozenset[str], float]]:
    scenario = SCENARIOS[request.param]
    return scenario, brute_force(scenario)


def _sets(table: pd.DataFrame) -> list[frozenset[str]]:
    return [frozenset(k.split(";")) if k else frozenset() for k in table["kept"]]


def test_three_best_match_brute_force(case: tuple[Scenario, dict[frozenset[str], float]],
                                      ) -> None:
    scenario, best = case
    study = alternatives(scenario, 3, dataset=from_tables(tiny_tables()))
    table, results = study.table, study.plans

    assert len(table) == len(results) == 3
    assert table["rank"].tolist() == [1, 2, 3]
    expected = sorted(best.values())[:3]
    assert table["objective"].tolist() == pytest.approx(expected, rel=REL)
    sets = _sets(table)
    assert len(set(sets)) == 3
    # Each plan is the cheapest plan with its operator set, not merely some plan with it.
    for kept, objective in zip(sets, table["objective"], strict=True):
        assert objective == pytest.approx(best[kept], rel=REL)

    gaps = table["gap_to_best"].tolist()
    assert gaps[0] == 0.0 and table["gap_to_best_dkk"].iloc[0] == 0.0
    assert all(g >= 0 for g in gaps)
    assert all(b >= a for a, b in itertools.pairwise(gaps))
    assert table["gap_to_best_dkk"].tolist() == pytest.approx(
        [o - expected[0] for o in table["objective"]], abs=1e-6)

    assert table["proven"].all() and (table["status"] == "optimal").all()
    assert table["check_ok"].all()
    assert all(r.summary["check"]["ok"] for r in results)
    assert table["operators_after"].tolist() == [len(s) for s in sets]
    assert study.stopped is None


def test_differs_from_best_lists_additions_and_closures(
        case: tuple[Scenario, dict[frozenset[str], float]]) -> None:
    scenario, _ = case
    table = alternatives(scenario, 3, dataset=from_tables(tiny_tables())).table
    sets = _sets(table)
    assert table["differs_from_best"].iloc[0] == ""
    for kept, diff in zip(sets[1:], table["differs_from_best"].iloc[1:], strict=True):
        parts = diff.split(";")
        assert {p[1:] for p in parts if p.startswith("+")} == kept - sets[0]
        assert {p[1:] for p in parts if p.startswith("-")} == sets[0] - kept


def test_more_alternatives_than_feasible_sets_stops_early(
        case: tuple[Scenario, dict[frozenset[str], float]]) -> None:
    scenario, best = case
    study = alternatives(scenario, len(best) + 5, dataset=from_tables(tiny_tables()))
    table, results = study.table, study.plans
    assert len(table) == len(results) == len(best)
    assert set(_sets(table)) == set(best)
    assert table["objective"].tolist() == pytest.approx(sorted(best.values()), rel=REL)
    assert study.stopped == "infeasible"
    assert study.message


def test_infeasible_scenario_gives_an_empty_ranking() -> None:
    # A radius below the island ferry (90 min) leaves a firm without any operator.
    study = alternatives(Scenario(policy={"max_travel_minutes": 60}), 3,
                         dataset=from_tables(tiny_tables()))
    table, results = study.table, study.plans
    assert table.empty and results == []
    assert list(table.columns)[:5] == ["scenario", "input_hash", "rank", "status", "objective"]
    assert study.stopped == "infeasible"
    assert "no operator competent in food lies within 60 minutes" in study.message


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_must_be_a_positive_integer(k: object) -> None:
    with pytest.raises(InputError, match="alternatives"):
        alternatives(Scenario(), k, dataset=from_tables(tiny_tables()))  # type: ignore[arg-type]


def test_status_quo_has_no_alternatives() -> None:
    with pytest.raises(InputError, match="alternatives"):
        alternatives(Scenario(mode="status_quo"), 2, dataset=from_tables(tiny_tables()))


def _plan(status: str, objective: float, kept: list[str]) -> Result:
    ops = pd.DataFrame({"operator_id": ["O1", "O2", "O3"]})
    ops["kept"] = ops["operator_id"].isin(kept)
    return Result(status, {"objective": objective, "check": {"ok": True}}, operators=ops)


def test_ranking_after_a_time_limit_is_not_proven() -> None:
    table = alternatives_table([_plan("optimal", 100.0, ["O1", "O2"]),
                                _plan("time_limit", 110.0, ["O1", "O3"]),
                                _plan("optimal", 105.0, ["O2"])])
    assert table["proven"].tolist() == [True, False, False]
    assert table["gap_to_best"].tolist() == pytest.approx([0.0, 0.1, 0.05])
    assert table["gap_to_best_dkk"].tolist() == pytest.approx([0.0, 10.0, 5.0])
    assert table["differs_from_best"].tolist() == ["", "+O3;-O2", "-O1"]
    assert table["kept"].tolist() == ["O1;O2", "O1;O3", "O2"]


def test_gap_to_a_zero_cost_best() -> None:
    table = alternatives_table([_plan("optimal", 0.0, ["O1"]), _plan("optimal", 0.0, ["O2"]),
                                _plan("optimal", 5.0, ["O3"])])
    assert table["gap_to_best"].tolist()[:2] == [0.0, 0.0]
    assert math.isinf(table["gap_to_best"].iloc[2])


def test_status_quo_is_evaluated_once_per_session(monkeypatch) -> None:
    from klynge_opt import api

    calls = []
    real = api.status_quo

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "status_quo", counted)
    table = alternatives(Scenario(), 3, dataset=from_tables(tiny_tables())).table
    assert len(table) == 3 and len(calls) == 1
    # Every plan reports the same baseline.
    assert table["objective"].notna().all()


def test_plans_within_the_solver_gap_are_marked() -> None:
    # Best 100 proven within 1 %: anything within 1 DKK (+ the plan's own gap) is a tie.
    def plan(objective: float, gap: float, kept: list[str]) -> Result:
        r = _plan("feasible", objective, kept)
        r.summary["mip_gap"] = gap
        return r

    table = alternatives_table([plan(100.0, 0.01, ["O1"]), plan(99.5, 0.0, ["O2"]),
                                plan(101.9, 0.01, ["O3"]), plan(102.1, 0.0, ["O1", "O2"])])
    # |99.5-100| = 0.5 <= 1; |101.9-100| = 1.9 <= 1 + 1.019; |102.1-100| = 2.1 > 1.
    assert table["within_solver_gap"].tolist() == [True, True, True, False]
