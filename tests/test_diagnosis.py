"""Infeasible scenarios: the right cause and place are named, and every suggestion solves."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import ROOT, tiny_tables
from klynge_opt import from_tables, load, load_scenario, solve
from klynge_opt.api import open_session
from klynge_opt.cli import app
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.model.diagnosis import Diagnosis, prechecks


def diagnosed(tables, updates) -> Diagnosis:
    ds = from_tables(tables)
    sc = Scenario().with_updates(updates)
    result = solve(ds, sc, diagnose=True)
    assert result.status == "infeasible"
    assert result.diagnosis is not None
    for s in result.diagnosis.suggestions:  # every suggestion really solves
        again = solve(ds, sc.with_updates(s.updates))
        assert again.has_solution and again.summary["check"]["ok"], s.change
    return result.diagnosis


def constraints(diag: Diagnosis) -> set[tuple[str, str]]:
    return {(f.constraint, f.where) for f in diag.findings}


def test_island_beyond_radius_is_named_with_nearest_operator():
    diag = diagnosed(tiny_tables(), {"policy": {"max_travel_minutes": 60}})
    assert constraints(diag) == {("assignment", "0900/food")}
    (f,) = diag.findings
    assert f.stage == "precheck"
    assert "Island (0900, rural): 1 firms in stronghold food" in f.message
    assert "nearest: Food North, 90 minutes" in f.message
    radius = [s for s in diag.suggestions if "max_travel_minutes" in s.change]
    assert radius and radius[0].updates == {"policy": {"max_travel_minutes": 90}}


@pytest.mark.parametrize("sparse", [False, True])
def test_nearest_open_operator_and_radius_without_every_pair(monkeypatch, sparse):
    # The same diagnosis with sparse travel times (a continent's landscape, where every
    # competent pair would not fit in memory). O1 closed: the island's nearest open food
    # operator is O3 in B2, 90 + 20 + 40 + 30 = 180 minutes away.
    from klynge_opt.data import geography

    if sparse:
        monkeypatch.setattr(geography, "SPARSE_ABOVE", 0)
    diag = diagnosed(tiny_tables(), {"policy": {"max_travel_minutes": 60, "close": ["O1"]}})
    island = next(f for f in diag.findings if f.where == "0900/food")
    assert "nearest: Hub South, 180 minutes" in island.message
    radius = [s for s in diag.suggestions if "max_travel_minutes" in s.change]
    assert radius and radius[0].updates == {"policy": {"max_travel_minutes": 180}}


def test_suggestions_keep_the_scenarios_overrides():
    # The hypothetical operator must survive into every trial solve (added once, not twice).
    diag = diagnosed(tiny_tables(), {
        "policy": {"max_travel_minutes": 25},
        "overrides": {"add_operators": [{"operator_id": "N", "name": "Island hub",
                                         "municipality_id": "0900", "annual_cost": 10.0,
                                         "strongholds": ["food"]}]}})
    assert ("assignment", "0101/ict") in constraints(diag)
    assert ("assignment", "0900/food") not in constraints(diag)  # N serves the island
    assert any("max_travel_minutes" in s.change for s in diag.suggestions)


def test_region_emptied_by_close_list():
    diag = diagnosed(tiny_tables(), {"policy": {"close": ["O1"], "min_operators_per_region": 1}})
    assert ("regional_presence", "R1") in constraints(diag)
    f = next(f for f in diag.findings if f.constraint == "regional_presence")
    assert "North needs at least 1 operators, but only 0 remain after the close list" in \
        f.message
    assert any(s.change == "reopen O1 (remove it from close)" for s in diag.suggestions)


def test_stronghold_without_selectable_cluster():
    diag = diagnosed(tiny_tables(), {"policy": {"min_knowledge_partners": 5}})
    assert constraints(diag) == {("one_cluster_per_stronghold", "food"),
                                 ("one_cluster_per_stronghold", "ict")}
    f = next(f for f in diag.findings if f.where == "ict")
    assert "C2: 3 knowledge partners < 5" in f.message
    assert any("min_knowledge_partners = 0" in s.change for s in diag.suggestions)


def test_capacity_of_a_stronghold():
    t = tiny_tables()
    t["operators"]["capacity"] = [1.0, 1.0, 1.0]  # food: 5 firms, O1 + O3 take 2
    diag = diagnosed(t, {})
    f = next(f for f in diag.findings if f.constraint == "capacity" and f.where == "food")
    assert "food: 5 firms must be served, but all operators competent in it can take only 2" \
        in f.message


def test_operator_cap_found_by_the_elastic_model():
    diag = diagnosed(tiny_tables(), {"policy": {"max_operators": 1}})
    assert constraints(diag) == {("max_operators", "None")}
    assert diag.findings[0].stage == "elastic" and diag.findings[0].amount == pytest.approx(1)
    assert [s.updates for s in diag.suggestions] == [{"policy": {"max_operators": 2}}]


def test_critical_mass_suggests_the_largest_that_works():
    diag = diagnosed(tiny_tables(), {"policy": {"max_travel_minutes": 100,
                                                "min_firms_per_operator": 5}})
    crit = [s for s in diag.suggestions if "min_firms_per_operator" in s.change]
    # The suggestion is the largest value on a 5 % grid below 5 that solves; the next grid
    # value up must not.
    assert crit and crit[0].updates["policy"]["min_firms_per_operator"] < 5
    ds = from_tables(tiny_tables())
    sc = Scenario().with_updates({"policy": {"max_travel_minutes": 100}})
    bigger = crit[0].updates["policy"]["min_firms_per_operator"] + 0.25
    assert solve(ds, sc.with_updates({"policy": {"min_firms_per_operator": bigger}})) \
        .status == "infeasible"


def test_budget_below_the_keep_list():
    diag = diagnosed(tiny_tables(), {"policy": {"keep": ["O1", "O2"], "annual_budget": 2000}})
    f = next(f for f in diag.findings if f.constraint == "annual_budget")
    # O1 + O2 cost 1000 + 1500 a year: 500 over the budget.
    assert "annual_budget = 2,000 DKK, but the operators on the keep list alone cost 2,500 DKK" \
        in f.message and f.amount == pytest.approx(500)


def test_cli_exit_3_with_explanation_and_diagnosis_json(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "s.toml"
    sc.write_text(f'data = "{data}"\n[policy]\nmax_travel_minutes = 60\n', encoding="utf-8")
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["solve", str(sc), "--out", str(out)])
    assert res.exit_code == 3
    assert "Island (0900, rural)" in res.output and "raise max_travel_minutes" in res.output
    doc = json.loads((out / "diagnosis.json").read_text())
    assert doc["findings"][0]["constraint"] == "assignment"
    assert doc["suggestions"][0]["updates"] == {"policy": {"max_travel_minutes": 90}}


@pytest.fixture(scope="module")
def denmark():
    return load()


def test_denmark_prechecks_are_fast_and_name_bornholm(denmark):
    sc = load_scenario(ROOT / "scenarios" / "paper-2017.toml").with_updates(
        {"policy": {"coverage": "hard", "max_travel_minutes": 60}})
    session = open_session(denmark, sc)
    where = {f.where for f in session.findings}
    assert "0400/ict" in where and "0825/ict" in where  # Bornholm and Læsø
    assert session.model is None  # no model is built for a scenario the pre-checks refute
    assert all(f.constraint == "assignment" for f in prechecks(session.land, session.inputs, sc))


@pytest.mark.slow  # a full Danish diagnosis with verified suggestions: ~30 s
def test_denmark_operator_cap_clash(denmark):
    sc = load_scenario(ROOT / "scenarios" / "paper-2017.toml").with_updates(
        {"policy": {"max_operators": 8}})
    r = solve(denmark, sc, diagnose=True)
    f = r.diagnosis.findings[0]
    # paper-2017 keeps the 97 local services and the 5 væksthuse: 102 operators at least.
    assert f.constraint == "max_operators" and "at least 102 operators are required" in f.message
    assert "keep list 102" in f.message
    assert r.diagnosis.suggestions and r.diagnosis.suggestions[0].verified
