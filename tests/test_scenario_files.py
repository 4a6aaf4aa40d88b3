"""Scenario inheritance and data overrides, resolved exactly as docs/scenarios.md says."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import tiny_tables
from klynge_opt import from_tables, solve
from klynge_opt.data.overrides import apply_overrides, forced_operators, required_clusters
from klynge_opt.data.scenario import Scenario, load_scenario
from klynge_opt.problems import InputError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_extends_chain_child_wins_key_by_key(tmp_path):
    (tmp_path / "a").mkdir()
    write(tmp_path / "a", "grand.toml", 'name = "grand"\ndescription = "g"\ndata = "d1"\n'
          "[policy]\nmax_operators = 9\nmin_operators = 1\nkeep = ['X', 'Y']\n"
          "[costs]\nhorizon_years = 3\n")
    write(tmp_path, "parent.toml", 'extends = "a/grand.toml"\n[policy]\nmax_operators = 5\n')
    child = write(tmp_path, "child.toml", 'extends = "parent.toml"\n[policy]\nkeep = ["Z"]\n'
                  "[costs]\ncost_per_firm_minute = 7\n")
    sc = load_scenario(child)
    assert sc.name == "child" and sc.description == ""  # labels are never inherited
    assert sc.policy.max_operators == 5  # parent over grandparent
    assert sc.policy.min_operators == 1  # from the grandparent
    assert sc.policy.keep == ("Z",)  # lists are replaced, not appended
    assert sc.costs.horizon_years == 3 and sc.costs.cost_per_firm_minute == 7
    assert sc.data == str((tmp_path / "a" / "d1").resolve())  # relative to the file setting it
    assert sc.extends == str((tmp_path / "parent.toml").resolve())
    assert "extends" not in sc.to_toml_dict()


def test_extends_cycle_names_the_chain(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "c.toml"\n')
    write(tmp_path, "c.toml", 'extends = "a.toml"\n')
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path / "a.toml")
    (p,) = info.value.problems
    assert "a.toml -> b.toml -> c.toml -> a.toml" in p.message and p.column == "extends"


def test_extends_missing_parent(tmp_path):
    child = write(tmp_path, "c.toml", 'extends = "nope.toml"\n')
    with pytest.raises(InputError) as info:
        load_scenario(child)
    assert "not found (extended by" in info.value.problems[0].message


def test_unknown_override_key_gets_a_hint(tmp_path):
    path = write(tmp_path, "s.toml", "[[overrides.operators]]\nkind = 'x'\ncapacty = 3\n")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    (p,) = info.value.problems
    assert p.column == "overrides.operators.0.capacty" and "did you mean 'capacity'" in p.message


def test_overrides_scale_set_and_add(tiny):
    ds = from_tables(tiny)
    sc = Scenario().with_updates({"overrides": {
        "operators": [{"annual_cost_factor": 2.0},                      # everyone x2
                      {"kind": "vaeksthus", "capacity": 100.0},          # O3's capacity set
                      {"operator_id": "O1", "closure_cost_factor": 0.5}],
        "add_operators": [{"operator_id": "N", "name": "New", "municipality_id": "0900",
                           "annual_cost": 10.0, "strongholds": ["food"]}]}})
    changed = apply_overrides(ds, sc)
    ops = changed.operators.set_index("operator_id")
    assert ops["annual_cost"].to_dict() == {"O1": 2000.0, "O2": 3000.0, "O3": 1600.0, "N": 10.0}
    assert ops.at["O3", "capacity"] == 100.0 and ops.at["O1", "capacity"] == 10.0
    assert ops.at["O1", "closure_cost"] == 50.0
    assert ("N", "food") in set(zip(changed.operator_strongholds["operator_id"],
                                    changed.operator_strongholds["stronghold_id"], strict=True))
    assert ds.operators["annual_cost"].tolist() == [1000.0, 1500.0, 800.0]  # original untouched


def test_hypothetical_operator_on_the_island_is_used(tiny):
    ds = from_tables(tiny)
    base = Scenario().with_updates({"policy": {"max_travel_minutes": 60}})
    assert solve(ds, base).status == "infeasible"  # the island's food firm is 90 min away
    sc = base.with_updates({"overrides": {"add_operators": [{
        "operator_id": "N", "name": "Island hub", "municipality_id": "0900",
        "annual_cost": 10.0, "strongholds": ["food"]}]}})
    r = solve(ds, sc)
    assert r.status == "optimal" and r.summary["check"]["ok"]
    island = r.assignments.set_index("firm_id").at["F07", "operator_id"]
    assert island == "N"


def test_keep_and_close_by_kind_and_per_stronghold_requirements(tiny):
    ds = from_tables(tiny)
    pol = Scenario().with_updates({"policy": {
        "keep_kinds": ["vaeksthus"], "close": ["O1"], "stronghold_clusters": {"ict": 2},
        "exempt_strongholds": ["food"]}}).policy
    assert forced_operators(ds, pol) == ({"O3"}, {"O1"})
    assert required_clusters(ds, pol) == {"ict": 2}
    sc = Scenario().with_updates({"policy": {"stronghold_clusters": {"ict": 2},
                                             "exempt_strongholds": ["food"]}})
    r = solve(ds, sc)
    # ict needs both clusters covering it (C2 and C3); food is free (C3 covers it too).
    assert set(r.clusters.loc[r.clusters["selected"], "cluster_id"]) == {"C2", "C3"}
    assert r.summary["check"]["ok"]


def test_scenario_ids_checked_against_the_data(tiny):
    ds = from_tables(tiny)
    sc = Scenario().with_updates({"policy": {"keep_kinds": ["castle"], "close": ["Q"],
                                             "exempt_strongholds": ["wine"]},
                                  "overrides": {"operators": [{"operator_id": "Z"}]}})
    with pytest.raises(InputError) as info:
        solve(ds, sc)
    assert {p.column for p in info.value.problems} == {
        "policy.keep_kinds", "policy.close", "policy.exempt_strongholds",
        "overrides.operators[0].operator_id"}


def test_keep_and_close_clash_through_kinds(tiny):
    sc = Scenario().with_updates({"policy": {"keep": ["O3"], "close_kinds": ["vaeksthus"]}})
    with pytest.raises(InputError, match="1 error") as info:
        solve(from_tables(tiny_tables()), sc)
    assert "O3" in info.value.problems[0].message


def test_fewest_changes_keeps_more_within_tolerance(tiny):
    ds = from_tables(tiny)
    # Cheap travel: the cost optimum closes O2 (2168 = 1000 + 800 operating + 368 service),
    # moving F02 away from O2's cluster. Keeping everyone costs 1000 + 1500 + 800 + 288 = 3588,
    # within 100 % of the optimum: the secondary objective keeps all and moves nobody.
    base = Scenario().with_updates({"policy": {"max_travel_minutes": 100},
                                    "costs": {"disruption_cost_per_firm": 0,
                                              "cost_per_firm_minute": 1, "horizon_years": 1}})
    first = solve(ds, base)
    assert first.objective == pytest.approx(2168.0)
    assert set(first.operators.loc[~first.operators["kept"], "operator_id"]) == {"O2"}
    second = solve(ds, base.with_updates({"objective": {"secondary": "fewest_changes",
                                                         "tolerance": 1.0}}))
    assert second.summary["check"]["ok"]
    assert second.operators["kept"].all() and second.summary["firms_moved"] == 0
    assert second.objective == pytest.approx(3588.0)
    assert second.summary["secondary"]["primary_objective"] == pytest.approx(2168.0)
    assert second.summary["secondary"]["closed_before"] == 1
    # With no tolerance the plan cannot change cost, so it stays at the optimum.
    same = solve(ds, base.with_updates({"objective": {"secondary": "fewest_changes",
                                                       "tolerance": 0.0}}))
    assert same.objective == pytest.approx(2168.0)
