"""Tests for the independent checker: solved plans pass, broken plans are caught by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from conftest import layered_tables, tiny_tables
from klynge_opt.api import solve
from klynge_opt.data import dataset as dataset_api
from klynge_opt.data.dataset import Dataset, from_tables
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.results.check import (
    RULE_VIOLATIONS,
    RULES,
    CheckReport,
    check_dir,
    check_plan,
    check_result,
)
from klynge_opt.results.result import Result, write_result

SCENARIOS: dict[str, dict[str, Any]] = {
    # Tests below edit these plans by hand assuming HiGHS's own choice among tied optima
    # (C3; the relaxation's warm start proves C1 and C2 at the same cost).
    "radius_100": {"policy": {"max_travel_minutes": 100}, "solver": {"warm_start": "none"}},
    "split": {"policy": {"allow_split": True}, "solver": {"warm_start": "none"}},
    # 0.8 with a 50-minute radius is infeasible on the tiny set (see test below): F02 and F07
    # have no operator within 50 minutes, so at most 7 of 9 firms can be served.
    "soft": {"policy": {"coverage": "soft", "coverage_target": 0.75, "max_travel_minutes": 50,
                        "rural_parity": True}},
    "regional": {"policy": {"min_operators_per_region": 1}},
    "gold": {"policy": {"require_gold": True}},
    "close_o3": {"policy": {"close": ["O3"], "keep": ["O1"]}},
    "limits": {"policy": {"min_firms_per_operator": 2, "min_firms_per_node": 1,
                          "annual_budget": 5000, "min_operators": 2, "max_operators": 3,
                          "min_cluster_budget": 5e5}},
    # Soft coverage at target 0.5 within 30 minutes leaves rural firms unserved (the island
    # and A2's firms are far from every operator), so rural share < urban share.
    "parity": {"policy": {"coverage": "soft", "coverage_target": 0.5, "max_travel_minutes": 30}},
}


@pytest.fixture(scope="module")
def tiny_ds() -> Dataset:
    return from_tables(tiny_tables())


@pytest.fixture(scope="module")
def solved(tiny_ds: Dataset) -> Callable[[str], Result]:
    cache: dict[str, Result] = {}

    def get(name: str) -> Result:
        if name not in cache:
            cache[name] = solve(tiny_ds, Scenario(name=name).with_updates(SCENARIOS[name]))
            assert cache[name].status == "optimal"
        return cache[name]

    return get


def tables(result: Result) -> dict[str, pd.DataFrame]:
    return {"operators": result.operators.copy(), "clusters": result.clusters.copy(),
            "assignments": result.assignments.copy()}


def recheck(ds: Dataset, result: Result, t: dict[str, pd.DataFrame],
            terms: dict[str, float] | None = None) -> CheckReport:
    assert result.scenario is not None
    return check_plan(ds, result.scenario, t["operators"], t["clusters"], t["assignments"],
                      reported_terms=result.objective_terms if terms is None else terms)


def row(frame: pd.DataFrame, **match: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for col, value in match.items():
        mask &= frame[col] == value
    assert mask.sum() == 1, match
    return mask


def wheres(report: CheckReport, constraint: str) -> set[str]:
    return {v.where for v in report.violations if v.constraint == constraint}


# --------------------------------------------------------------------------- valid plans


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_solved_plans_pass(name: str, tiny_ds: Dataset,
                           solved: Callable[[str], Result]) -> None:
    result = solved(name)
    report = check_result(result, dataset=tiny_ds)
    assert report.ok, [str(v) for v in report.violations]
    assert report.objective == pytest.approx(result.objective, rel=1e-9)
    assert report.reported_objective == result.objective
    json.dumps(report.to_dict())


def test_infeasible_scenario_has_no_plan_to_check(tiny_ds: Dataset) -> None:
    scenario = Scenario().with_updates({"policy": {
        "coverage": "soft", "coverage_target": 0.8, "max_travel_minutes": 50}})
    result = solve(tiny_ds, scenario)
    assert result.status == "infeasible"
    with pytest.raises(ValueError, match="no plan"):
        check_result(result, dataset=tiny_ds)


def test_hand_computed_objective(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    """close O3: every food firm must go to O1 and every ict firm to O2 (their only other
    competent operators), clusters C1 and C2 are selected (C3's host is closed).

    minutes (links A1-A2 20, A2-B1 40, B1-B2 30, A1-I 90; intra A1 10, B1 10):
      F01 0101->O1 0101 10, F02 0101->O2 0201 60, F03 0102->O1 20 (weight 2 -> 40),
      F04 0201->O2 10, F05 0201->O1 60, F06 0202->O2 30, F07 0900->O1 90, F08 0102->O2 40
      Σ weight × minutes = 10 + 60 + 40 + 10 + 60 + 30 + 90 + 40 = 340
    operating  = 5 years × (1000 + 1500)            = 12 500
    service    = 5 × 100 DKK/firm-minute × 340      = 170 000
    closure    = closure_cost of O3                 = 50
    upgrade    = 0 (require_gold off)
    disruption = 5000 × (F05 + F06: members of C3 only, hosted by closed O3) = 10 000
                 (F04 is in C2 and C3 and goes to C2's host O2: not disrupted)
    unserved   = 0 (hard coverage)
    total      = 192 550
    """
    result = solved("close_o3")
    plan = result.assignments.set_index("firm_id")["operator_id"].to_dict()
    assert plan == {"F01": "O1", "F02": "O2", "F03": "O1", "F04": "O2", "F05": "O1",
                    "F06": "O2", "F07": "O1", "F08": "O2"}
    report = check_result(result, dataset=tiny_ds)
    assert report.ok
    assert report.objective_terms == {"operating": 12_500.0, "service": 170_000.0,
                                      "closure": 50.0, "upgrade": 0.0, "disruption": 10_000.0,
                                      "unserved_penalty": 0.0, "cluster_operating": 0.0,
                                      "outside_scope": 0.0, "merger": 0.0}
    assert report.objective == 192_550.0
    assert report.figures["firms_moved"] == 2.0


def test_hand_computed_unserved_penalty(tiny_ds: Dataset,
                                        solved: Callable[[str], Result]) -> None:
    # Within 50 minutes nobody reaches F02 (ict, stronghold weight 2) or F07 (food, weight 1):
    # 200 000 × (2 × 1 + 1 × 1) = 600 000.
    report = check_result(solved("soft"), dataset=tiny_ds)
    assert report.objective_terms["unserved_penalty"] == 600_000.0
    assert report.figures["coverage"]["all"] == pytest.approx(7 / 9)


@cache
def _with_f09() -> tuple[Dataset, Result]:
    """The tiny set with F09 in F01's group (0101, food), solved within 100 minutes. F09 is a
    member of C3 (host O3) while F01 is in C1 (host O1)."""
    raw = tiny_tables()
    raw["firms"] = pd.concat([raw["firms"], pd.DataFrame({
        "firm_id": ["F09"], "municipality_id": ["0101"], "stronghold_id": ["food"],
        "employees": [4], "growth": [False], "weight": [0.5]})], ignore_index=True)
    raw["memberships"] = pd.concat([raw["memberships"], pd.DataFrame({
        "firm_id": ["F09"], "cluster_id": ["C3"]})], ignore_index=True)
    ds = from_tables(raw)
    return ds, solve(ds, Scenario().with_updates(SCENARIOS["radius_100"]))


def test_disruption_is_per_firm_not_per_group() -> None:
    # Whichever operator serves F01's group, one of F01 and F09 is disrupted.
    ds, result = _with_f09()
    report = check_result(result, dataset=ds)
    assert report.ok, [str(v) for v in report.violations]
    a = result.assignments.set_index("firm_id")
    assert a.at["F01", "operator_id"] == a.at["F09", "operator_id"] == "O1"
    # F09 (weight 0.5) served by O1, which hosts none of its clusters: 5000 × 0.5.
    assert report.objective_terms["disruption"] == 2_500.0

    # Without splitting, a group's firms share one operator.
    t = tables(result)
    f09 = row(t["assignments"], firm_id="F09")
    t["assignments"].loc[f09, ["operator_id", "minutes"]] = ["O3", 90.0]
    assert wheres(recheck(ds, result, t), "assignment.group") == {"0101/food"}


# --------------------------------------------------------------------------- broken plans


def test_closed_host_of_selected_cluster(tiny_ds: Dataset,
                                         solved: Callable[[str], Result]) -> None:
    result = solved("radius_100")
    t = tables(result)
    assert t["clusters"].set_index("cluster_id").at["C3", "selected"]
    t["operators"].loc[row(t["operators"], operator_id="O3"), "kept"] = False
    report = recheck(tiny_ds, result, t)
    assert wheres(report, "host_retained") == {"C3"}
    assert "serve_needs_operator" in report.constraints
    assert "assign_needs_service" in report.constraints


def test_stronghold_without_cluster(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("gold")
    t = tables(result)
    t["clusters"].loc[row(t["clusters"], cluster_id="C1"), "selected"] = False
    report = recheck(tiny_ds, result, t)
    assert wheres(report, "one_cluster_per_stronghold") == {"food"}
    assert not report.ok


def test_inadmissible_cluster(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    # Under require_gold C3 can never be gold (no upgrade cost).
    result = solved("gold")
    t = tables(result)
    t["clusters"].loc[row(t["clusters"], cluster_id="C3"), "selected"] = True
    report = recheck(tiny_ds, result, t)
    assert wheres(report, "cluster_admissibility") == {"C3"}
    assert wheres(report, "one_cluster_per_stronghold") == {"food", "ict"}


def test_firm_assigned_to_closed_operator(tiny_ds: Dataset,
                                          solved: Callable[[str], Result]) -> None:
    result = solved("close_o3")
    t = tables(result)
    f05 = row(t["assignments"], firm_id="F05")
    t["assignments"].loc[f05, ["operator_id", "minutes"]] = ["O3", 30.0]
    report = recheck(tiny_ds, result, t)
    assert "F05/O3" in wheres(report, "assign_needs_service")
    assert "radius" not in report.constraints


def test_serves_without_competence(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("radius_100")
    t = tables(result)
    t["operators"].loc[row(t["operators"], operator_id="O1"), "serves"] = "food;ict"
    assert wheres(recheck(tiny_ds, result, t), "serve_needs_operator") == {"O1/ict"}


def test_capacity_exceeded(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    # O3 (capacity 6) is competent in both strongholds: give it every firm (weight 9).
    result = solved("split")
    t = tables(result)
    a = t["assignments"]
    a["operator_id"] = "O3"
    a["minutes"] = a["municipality_id"].map(
        {"0101": 90.0, "0102": 70.0, "0201": 30.0, "0202": 8.0, "0900": 180.0})
    report = recheck(tiny_ds, result, t)
    capacity = [v for v in report.violations if v.constraint == "capacity"]
    assert [(v.where, v.amount) for v in capacity] == [("O3", 3.0)]
    assert "radius" not in report.constraints


def test_changed_cost_term(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("radius_100")
    terms = dict(result.objective_terms)
    terms["service"] *= 1.01
    report = recheck(tiny_ds, result, tables(result), terms)
    assert {v.constraint for v in report.violations} == {"objective_terms.service",
                                                         "objective"}
    (term,) = [v for v in report.violations if v.constraint == "objective_terms.service"]
    assert term.amount == pytest.approx(0.01 * 144_000)


def test_firm_beyond_radius(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    # The island firm F07 is 180 minutes from O3 (limit 100).
    result = solved("radius_100")
    t = tables(result)
    f07 = row(t["assignments"], firm_id="F07")
    t["assignments"].loc[f07, ["operator_id", "minutes", "moved"]] = ["O3", 180.0, True]
    report = recheck(tiny_ds, result, t)
    radius = [v for v in report.violations if v.constraint == "radius"]
    assert [(v.where, v.amount) for v in radius] == [("F07/O3", 80.0)]


def test_wrong_minutes_column(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("split")
    t = tables(result)
    t["assignments"].loc[row(t["assignments"], firm_id="F01"), "minutes"] = 11.0
    report = recheck(tiny_ds, result, t)
    assert wheres(report, "radius") == {"F01/O1"}
    # The cost is recomputed from the travel time, not from the reported column.
    assert "objective_terms.service" not in report.constraints


def test_dropped_firm(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("radius_100")
    t = tables(result)
    t["assignments"] = t["assignments"][t["assignments"]["firm_id"] != "F04"]
    report = recheck(tiny_ds, result, t)
    assert wheres(report, "firms_complete") == {"F04"}


def test_split_without_allow_split(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    def split_f01(result: Result) -> dict[str, pd.DataFrame]:
        t = tables(result)
        a = t["assignments"]
        f01 = row(a, firm_id="F01")
        # F01 is a member of C1 (host O1): its share with O3 counts as moved.
        other = a[f01].assign(operator_id="O3", minutes=90.0, cluster_id="C3", moved=True)
        a.loc[f01, "share"] = 0.5
        t["assignments"] = pd.concat([a, other.assign(share=0.5)], ignore_index=True)
        return t

    binary = solved("radius_100")
    report = recheck(tiny_ds, binary, split_f01(binary))
    assert wheres(report, "assignment.binary") == {"F01"}
    assert "assignment" not in report.constraints  # the shares still sum to 1

    split = solved("split")
    report = recheck(tiny_ds, split, split_f01(split))
    assert not {c for c in report.constraints
                if c == "assignment" or c.startswith("assignment.")}
    assert "assignments_table" not in report.constraints
    assert "objective_terms.service" in report.constraints


def test_unserved_share_under_hard_coverage(tiny_ds: Dataset,
                                            solved: Callable[[str], Result]) -> None:
    result = solved("radius_100")
    t = tables(result)
    f02 = row(t["assignments"], firm_id="F02")
    t["assignments"].loc[f02, ["operator_id", "cluster_id"]] = ""
    t["assignments"].loc[f02, "minutes"] = float("nan")
    assert wheres(recheck(tiny_ds, result, t), "assignment.unserved") == {"F02"}


def test_soft_coverage_target(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    # Leaving F03 (weight 2) unserved drops coverage to 5/9 < 0.75.
    result = solved("soft")
    t = tables(result)
    f03 = row(t["assignments"], firm_id="F03")
    t["assignments"].loc[f03, ["operator_id", "cluster_id"]] = ""
    t["assignments"].loc[f03, ["minutes"]] = float("nan")
    t["assignments"].loc[f03, "moved"] = False
    report = recheck(tiny_ds, result, t)
    assert "coverage" in report.constraints
    assert "objective_terms.unserved_penalty" in report.constraints


def test_forced_operator(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("close_o3")
    t = tables(result)
    t["operators"].loc[row(t["operators"], operator_id="O3"), "kept"] = True
    t["operators"].loc[row(t["operators"], operator_id="O1"), "kept"] = False
    report = recheck(tiny_ds, result, t)
    assert wheres(report, "close") == {"O3"}
    assert wheres(report, "keep") == {"O1"}


def test_missing_column(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("radius_100")
    t = tables(result)
    t["assignments"] = t["assignments"].drop(columns="share")
    report = recheck(tiny_ds, result, t)
    assert report.constraints == {"tables"}


# --------------------------------------------------------------------------- result folders


@pytest.fixture
def result_dir(tmp_path: Path) -> Path:
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    ds = dataset_api.load(data)
    result = solve(ds, Scenario(name="dir").with_updates(SCENARIOS["soft"]))
    return write_result(result, tmp_path / "out")


def test_check_dir_round_trip(result_dir: Path) -> None:
    report = check_dir(result_dir)
    assert report.ok, [str(v) for v in report.violations]
    assert report.objective == pytest.approx(685_500.0)


def test_check_dir_tampered_hash(result_dir: Path) -> None:
    summary_file = result_dir / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    summary["data_hash"] = "0" * 64
    summary_file.write_text(json.dumps(summary), encoding="utf-8")
    assert check_dir(result_dir).constraints == {"data_hash"}


def test_check_dir_tampered_table(result_dir: Path) -> None:
    file = result_dir / "operators.csv"
    operators = pd.read_csv(file, dtype=str, keep_default_na=False)
    operators.loc[operators["operator_id"] == "O1", "firms_served"] = "99"
    operators.to_csv(file, index=False)
    report = check_dir(result_dir)
    assert wheres(report, "operators_table") == {"O1"}


# --------------------------------------------------------------------------- rule by rule
# A correct plan checked against a scenario one step stricter in exactly one rule must fail
# that rule and nothing else; at the boundary it must pass (catches off-by-one rules).


def _kept(result: Result) -> pd.DataFrame:
    return result.operators[result.operators["kept"]]


def _against(ds: Dataset, result: Result, policy: dict[str, Any]) -> CheckReport:
    assert result.scenario is not None
    stricter = result.scenario.with_updates({"policy": policy})
    return check_plan(ds, stricter, result.operators, result.clusters, result.assignments,
                      reported_terms=result.objective_terms)


def _only(report: CheckReport, constraint: str) -> set[str]:
    assert report.constraints == {constraint}, [str(v) for v in report.violations]
    return wheres(report, constraint)


def test_rule_max_operators(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("limits")
    n = len(_kept(result))
    assert _against(tiny_ds, result, {"max_operators": n}).ok
    assert _only(_against(tiny_ds, result, {"max_operators": n - 1}),
                 "max_operators") == {"plan"}


def test_rule_min_operators(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("limits")
    n = len(_kept(result))
    assert _against(tiny_ds, result, {"min_operators": n, "max_operators": None}).ok
    assert _only(_against(tiny_ds, result, {"min_operators": n + 1, "max_operators": None}),
                 "min_operators") == {"plan"}


def test_rule_annual_budget(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("limits")
    spent = float(_kept(result)["annual_cost"].sum())
    assert _against(tiny_ds, result, {"annual_budget": spent}).ok
    assert _only(_against(tiny_ds, result, {"annual_budget": spent - 1}),
                 "annual_budget") == {"plan"}


def test_rule_regional_presence(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("regional")
    per_region = _kept(result).groupby("region_id").size()
    fewest = int(per_region.min())
    assert _against(tiny_ds, result, {"min_operators_per_region": fewest}).ok
    short = set(per_region[per_region == fewest].index)
    assert _only(_against(tiny_ds, result, {"min_operators_per_region": fewest + 1}),
                 "regional_presence") == short


def test_rule_min_firms_per_node(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("limits")
    a = result.assignments[result.assignments["operator_id"] != ""]
    per_node = (a["weight"] * a["share"]).groupby([a["operator_id"], a["stronghold_id"]]).sum()
    least = float(per_node.min())
    assert _against(tiny_ds, result, {"min_firms_per_node": least}).ok
    smallest = {f"{o}/{s}" for (o, s), w in per_node.items() if w == least}
    assert _only(_against(tiny_ds, result, {"min_firms_per_node": least + 0.5}),
                 "min_firms_per_node") == smallest


def test_rule_min_firms_per_operator(tiny_ds: Dataset,
                                     solved: Callable[[str], Result]) -> None:
    result = solved("limits")
    served = _kept(result).set_index("operator_id")["firms_served"]
    least = float(served.min())
    assert _against(tiny_ds, result, {"min_firms_per_operator": least}).ok
    assert _only(_against(tiny_ds, result, {"min_firms_per_operator": least + 0.5}),
                 "min_firms_per_operator") == set(served[served == least].index)


def test_rule_rural_parity(tiny_ds: Dataset, solved: Callable[[str], Result]) -> None:
    result = solved("parity")
    assert result.has_solution and result.summary["check"]["ok"]
    cov = result.summary["coverage"]
    gap = cov["urban"] - cov["rural"]
    assert gap > 0.01
    assert _against(tiny_ds, result, {"rural_parity": True,
                                      "rural_parity_tolerance": gap + 1e-9}).ok
    assert _only(_against(tiny_ds, result, {"rural_parity": True,
                                            "rural_parity_tolerance": gap - 0.01}),
                 "rural_parity") == {"plan"}


# --------------------------------------------------------------------------- every violation
# For each constraint family (check.RULES), plans that break exactly that family's rule, one
# per violation name it reports. The edited tables are kept consistent otherwise (derived
# columns refreshed) and costs are not compared, so nothing but the family's rule may fire.

Solved = Callable[[str], Result]
#: The key column of each table, for editing one row.
_KEY = {"operators": "operator_id", "clusters": "cluster_id", "assignments": "firm_id"}


def _set(t: dict[str, pd.DataFrame], table: str, key: str, **values: Any) -> None:
    """Set columns of the one row of ``table`` whose key is ``key``."""
    mask = row(t[table], **{_KEY[table]: key})
    for col, value in values.items():
        t[table].loc[mask, col] = value


def _serve(t: dict[str, pd.DataFrame], firm: str, operator: str, minutes: float,
           moved: bool) -> None:
    _set(t, "assignments", firm, operator_id=operator, minutes=minutes, moved=moved)


def _refresh(ds: Dataset, t: dict[str, pd.DataFrame]) -> None:
    """Recompute the operators' columns that follow from the plan after an edit."""
    ops, a = t["operators"], t["assignments"]
    load = (a["weight"] * a["share"]).groupby(a["operator_id"]).sum()
    ops["firms_served"] = ops["operator_id"].map(load).fillna(0.0)
    ops["utilisation"] = ops["firms_served"] / ops["capacity"]
    closure = ds.operators.set_index("operator_id")["closure_cost"]
    ops["closure_cost_paid"] = ops["operator_id"].map(closure).where(
        ~ops["kept"].astype(bool), 0.0)
    ops["operating_cost"] = ops["annual_cost"].where(ops["kept"].astype(bool), 0.0) \
        + ops["cost_per_firm"] * ops["firms_served"]


def _check(ds: Dataset, result: Result, t: dict[str, pd.DataFrame] | None = None,
           **updates: Any) -> CheckReport:
    """The plan (``t``, else the result's own) against the result's scenario with ``updates``
    (e.g. ``policy={...}``); reported costs are not compared."""
    assert result.scenario is not None
    scenario = result.scenario.with_updates(updates) if updates else result.scenario
    t = tables(result) if t is None else t
    return check_plan(ds, scenario, t["operators"], t["clusters"], t["assignments"])


def _one_cluster_per_stronghold(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # C3 alone covers food and ict.
    return {"one_cluster_per_stronghold": _check(ds, solved("radius_100"),
                                                 policy={"clusters_per_stronghold": 2})}


def _cluster_admissibility(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # The selected C3 has no knowledge partners (the table's admissible flag agrees).
    result = solved("radius_100")
    t = tables(result)
    _set(t, "clusters", "C3", admissible=False)
    return {"cluster_admissibility": _check(ds, result, t,
                                            policy={"min_knowledge_partners": 1})}


def _host_retained(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    result = solved("radius_100")
    # C3 stays selected while its host O3 closes; O3's firms go to O1 (F05) and O2 (F06).
    closed = tables(result)
    _set(closed, "operators", "O3", kept=False, serves="")
    _serve(closed, "F05", "O1", 60.0, moved=True)
    _serve(closed, "F06", "O2", 30.0, moved=True)
    _refresh(ds, closed)
    # O3 stops serving ict, which its selected C3 covers; its ict firm F06 goes to O2.
    narrow = tables(result)
    _set(narrow, "operators", "O3", serves="food")
    _serve(narrow, "F06", "O2", 30.0, moved=True)
    _refresh(ds, narrow)
    return {"host_retained": _check(ds, result, closed),
            "host_serves": _check(ds, result, narrow)}


def _serve_needs_operator(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # O1 claims ict, in which it has no competence.
    result = solved("radius_100")
    claims = tables(result)
    _set(claims, "operators", "O1", serves="food;ict")
    # Under require_gold O3 hosts nothing; it drops food but keeps its food firm F05.
    gold = solved("gold")
    drops = tables(gold)
    _set(drops, "operators", "O3", serves="ict")
    return {"serve_needs_operator": _check(ds, result, claims),
            "assign_needs_service": _check(ds, gold, drops)}


def _radius(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # The island firm F07 is 90 minutes from O1.
    return {"radius": _check(ds, solved("radius_100"), policy={"max_travel_minutes": 80})}


def _assignment(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    split = solved("split")
    half = tables(split)  # F01's shares sum to 0.5
    _set(half, "assignments", "F01", share=0.5)
    _refresh(ds, half)
    binary = solved("radius_100")
    unserved = tables(binary)  # F02 unserved under hard coverage
    _set(unserved, "assignments", "F02", operator_id="", cluster_id="", minutes=float("nan"))
    _refresh(ds, unserved)
    twice = tables(binary)  # F01 gets a second row (share 0, so its group stays whole)
    a = twice["assignments"]
    extra = a[row(a, firm_id="F01")].assign(operator_id="O3", share=0.0, minutes=90.0,
                                            moved=True)
    twice["assignments"] = pd.concat([a, extra], ignore_index=True)
    dropped = tables(binary)  # F04 has no row at all
    dropped["assignments"] = dropped["assignments"][dropped["assignments"]["firm_id"] != "F04"]
    _refresh(ds, dropped)
    # F09 shares F01's group (0101, food) but goes to O3, which hosts its cluster C3.
    ds9, result9 = _with_f09()
    parted = tables(result9)
    _serve(parted, "F09", "O3", 90.0, moved=False)
    _refresh(ds9, parted)
    return {"assignment": _check(ds, split, half),
            "assignment.unserved": _check(ds, binary, unserved),
            "assignment.binary": _check(ds, binary, twice),
            "assignment.group": _check(ds9, result9, parted),
            "firms_complete": _check(ds, binary, dropped)}


def _capacity(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # O3 (capacity 6) takes F01, F03 (weight 2), F02 and F08 besides F05 and F06: 7 firms.
    result = solved("radius_100")
    t = tables(result)
    _serve(t, "F01", "O3", 90.0, moved=True)
    _serve(t, "F03", "O3", 70.0, moved=True)
    _serve(t, "F02", "O3", 90.0, moved=True)
    _serve(t, "F08", "O3", 70.0, moved=False)
    _refresh(ds, t)
    return {"capacity": _check(ds, result, t)}


def _max_utilisation(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # O3 (capacity 6) serves 2 firms: above 0.25 x 6 = 1.5, within its full capacity.
    return {"max_utilisation": _check(ds, solved("limits"), policy={"max_utilisation": 0.25})}


def _critical_mass(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # O3 serves 2 firms, one food and one ict.
    result = solved("limits")
    return {"min_firms_per_operator": _check(ds, result,
                                             policy={"min_firms_per_operator": 2.5}),
            "min_firms_per_node": _check(ds, result, policy={"min_firms_per_node": 1.5})}


def _coverage(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # 7 of 9 firms served.
    return {"coverage": _check(ds, solved("soft"), policy={"coverage_target": 0.8})}


def _rural_parity(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # Rural share 0.6, urban 0.75.
    return {"rural_parity": _check(ds, solved("parity"), policy={
        "rural_parity": True, "rural_parity_tolerance": 0.1})}


def _coverage_floors(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # 7 of 9 firms served: some municipality and its region fall short of full coverage.
    result = solved("soft")
    return {"min_coverage_per_municipality": _check(ds, result, policy={
                "min_coverage_per_municipality": 1.0}),
            "min_coverage_per_region": _check(ds, result, policy={
                "min_coverage_per_region": 1.0})}


def _regional_presence(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # Region R1 has one operator (O1).
    return {"regional_presence": _check(ds, solved("regional"),
                                        policy={"min_operators_per_region": 2})}


def _operator_count(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # All three operators are kept.
    result = solved("limits")
    return {"min_operators": _check(ds, result, policy={"min_operators": 4,
                                                        "max_operators": None}),
            "max_operators": _check(ds, result, policy={"max_operators": 2})}


def _forced(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # O3 is closed in close_o3, O1 kept everywhere; the forced column follows the policy.
    closed = solved("close_o3")
    keep = tables(closed)
    _set(keep, "operators", "O3", forced="keep")
    kept = solved("radius_100")
    close = tables(kept)
    _set(close, "operators", "O1", forced="close")
    return {"keep": _check(ds, closed, keep, policy={"keep": ["O1", "O3"], "close": []}),
            "close": _check(ds, kept, close, policy={"close": ["O1"]})}


def _annual_budget(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # The kept operators cost 3300 a year.
    return {"annual_budget": _check(ds, solved("limits"), policy={"annual_budget": 3000})}


# Service layers: the layered tiny landscape (conftest.layered_tables) solved under the
# defaults keeps every operator and selects C1 (food: F01, F03, F05, F07) and C2 (ict: F02,
# F04, F06); local service by L1 (A1, A2, island) and L2 (B1, B2); guidance by O3.


@cache
def _layered() -> tuple[Dataset, Result]:
    ds = from_tables(layered_tables())
    result = solve(ds, Scenario(name="layered"))
    assert result.status == "optimal" and result.summary["check"]["ok"]
    return ds, result


def _layer_row(t: dict[str, pd.DataFrame], firm: str, service: str, **values: Any) -> None:
    a = t["assignments"]
    mask = (a["firm_id"] == firm) & (a["service"] == service)
    assert mask.sum() == 1
    for col, value in values.items():
        a.loc[mask, col] = value


def _drop_row(t: dict[str, pd.DataFrame], firm: str, service: str) -> None:
    a = t["assignments"]
    t["assignments"] = a[~((a["firm_id"] == firm) & (a["service"] == service))]


def _refresh_layers(ds: Dataset, t: dict[str, pd.DataFrame]) -> None:
    _refresh(ds, t)
    a = t["assignments"]
    members = a[(a["service"] == "cluster") & (a["cluster_id"] != "")]
    load = (members["weight"] * members["share"]).groupby(members["cluster_id"]).sum()
    t["clusters"]["members_served"] = t["clusters"]["cluster_id"].map(load).fillna(0.0)


def _unserve(t: dict[str, pd.DataFrame], firm: str, service: str) -> None:
    _layer_row(t, firm, service, operator_id="", cluster_id="", minutes=float("nan"),
               moved=False)


def _max_strongholds_per_cluster(ds: Dataset, solved: Solved) -> dict[str, CheckReport]:
    # The selected C3 counts for food and ict.
    # The selected C3 counts for food and ict; in a dedicated plan of the layered landscape
    # (one cluster for food, one for ict) the cluster left out is added counting for nothing.
    ds2, _ = _layered()
    rule = {"max_strongholds_per_cluster": 1, "cluster_rule": "exactly"}
    dedicated = solve(ds2, Scenario(name="dedicated", policy=rule, solver={"mip_gap": 0.0}))
    assert dedicated.summary["check"]["ok"]
    t = tables(dedicated)
    (left_out,) = t["clusters"].loc[~t["clusters"]["selected"], "cluster_id"]
    _set(t, "clusters", left_out, selected=True, counts_for="")
    host = ds2.clusters.set_index("cluster_id").at[left_out, "operator_id"]
    _set(t, "operators", host, kept=True, hosts=left_out)
    _refresh(ds2, t)
    return {"max_strongholds_per_cluster": _check(ds, solved("radius_100"), policy={
        "max_strongholds_per_cluster": 1}),
        "counted_when_selected": _check(ds2, dedicated, t)}


def _forced_clusters(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # C3 is not selected, C1 is.
    ds, result = _layered()
    keep, close = tables(result), tables(result)
    _set(keep, "clusters", "C3", forced="keep")
    _set(close, "clusters", "C1", forced="close")
    return {"keep_clusters": _check(ds, result, keep, policy={"keep_clusters": ["C3"]}),
            "close_clusters": _check(ds, result, close, policy={"close_clusters": ["C1"]})}


def _outside_scope(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # The out-of-scope GTS institute G1 (closure cost 0) closed.
    ds, result = _layered()
    t = tables(result)
    _set(t, "operators", "G1", kept=False, operating_cost=0.0)
    return {"outside_scope": _check(ds, result, t)}


def _layer_violations(service: str, firm: str, wrong_firm: str, wrong: dict[str, Any],
                      third: str) -> dict[str, CheckReport]:
    """A layer's three violations: ``firm`` without its row, ``firm`` unserved under hard
    coverage of the layer, ``wrong_firm`` served by a provider that may not serve it."""
    ds, result = _layered()
    missing, unserved, bad = tables(result), tables(result), tables(result)
    _drop_row(missing, firm, service)
    _unserve(unserved, firm, service)
    _layer_row(bad, wrong_firm, service, **wrong)
    for t in (missing, unserved, bad):
        _refresh_layers(ds, t)
    name = f"{service}_service"
    return {name: _check(ds, result, missing),
            f"{name}.unserved": _check(ds, result, unserved,
                                       policy={service: {"coverage": "hard"}}),
            f"{name}.{third}": _check(ds, result, bad)}


def _local_service(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # F02 (A1): no local row; unserved; served by the væksthus O3 (B2, 90 minutes).
    return _layer_violations("local", "F02", "F02", {"operator_id": "O3", "minutes": 90.0},
                             "operator")


def _local_radius(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # The island firm F07 is 90 minutes from L1.
    ds, result = _layered()
    return {"local_radius": _check(ds, result, policy={"local": {"max_travel_minutes": 80}})}


def _cluster_service(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # The member F01: no cluster row; without a cluster. The food firm F05 (B1) in the ICT
    # cluster C2 (host O2, B1).
    return _layer_violations("cluster", "F01", "F05", {"operator_id": "O2", "cluster_id": "C2",
                                                       "minutes": 10.0}, "cluster")


def _cluster_radius(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # The island firm F07 is 90 minutes from C1's host O1.
    ds, result = _layered()
    return {"cluster_radius": _check(ds, result,
                                     policy={"cluster": {"max_travel_minutes": 80}})}


def _mergers(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # C3 reported as merged into C1 (its member F05 then not moved), without allow_mergers.
    ds, result = _layered()
    t = tables(result)
    _set(t, "clusters", "C3", merged_into="C1")
    _layer_row(t, "F05", "cluster", moved=False)
    return {"mergers": _check(ds, result, t)}


def _cluster_capacity(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # C1 serves 5 members (F03 weighs 2); with a capacity of 4 it is over.
    _, result = _layered()
    t = layered_tables()
    t["clusters"]["capacity"] = [4.0, None, None]
    small = from_tables(t)
    plan = tables(result)
    _set(plan, "clusters", "C1", capacity=4.0)
    return {"cluster_capacity": _check(small, result, plan)}


def _min_members_per_cluster(_ds: Dataset, _solved: Solved) -> dict[str, CheckReport]:
    # C2 serves 3 members.
    ds, result = _layered()
    return {"min_members_per_cluster": _check(ds, result,
                                              policy={"min_members_per_cluster": 4})}


#: Constraint family -> plans breaking its rule, by violation name (check.RULE_VIOLATIONS).
VIOLATIONS_TESTED: dict[str, Callable[[Dataset, Solved], dict[str, CheckReport]]] = {
    "one_cluster_per_stronghold": _one_cluster_per_stronghold,
    "cluster_admissibility": _cluster_admissibility,
    "host_retained": _host_retained,
    "serve_needs_operator": _serve_needs_operator,
    "radius": _radius,
    "assignment": _assignment,
    "capacity": _capacity,
    "max_utilisation": _max_utilisation,
    "critical_mass": _critical_mass,
    "coverage": _coverage,
    "rural_parity": _rural_parity,
    "coverage_floors": _coverage_floors,
    "regional_presence": _regional_presence,
    "operator_count": _operator_count,
    "forced": _forced,
    "annual_budget": _annual_budget,
    "max_strongholds_per_cluster": _max_strongholds_per_cluster,
    "forced_clusters": _forced_clusters,
    "outside_scope": _outside_scope,
    "local_service": _local_service,
    "local_radius": _local_radius,
    "cluster_service": _cluster_service,
    "cluster_radius": _cluster_radius,
    "mergers": _mergers,
    "cluster_capacity": _cluster_capacity,
    "min_members_per_cluster": _min_members_per_cluster,
}


def test_every_rule_has_violation_tests() -> None:
    assert list(VIOLATIONS_TESTED) == list(RULES) == list(RULE_VIOLATIONS)
    assert "stronghold_capacity" not in RULES  # a valid inequality: implied, no rule
    assert all(rule.__name__ == family for family, rule in RULES.items())


#: A closed host either still serves its strongholds (serve_needs_operator) or no longer
#: does (host_serves): the second is the one that stays within the family.
_ALSO = {"host_retained": {"host_serves"}}


@pytest.mark.parametrize("family", list(VIOLATIONS_TESTED))
def test_rule_reports_each_violation(family: str, tiny_ds: Dataset, solved: Solved) -> None:
    reports = VIOLATIONS_TESTED[family](tiny_ds, solved)
    assert set(reports) == set(RULE_VIOLATIONS[family])
    for name, report in reports.items():
        shown = [str(v) for v in report.violations]
        assert name in report.constraints, (name, shown)
        assert report.constraints - _ALSO.get(name, set()) == {name}, (name, shown)
