"""Never call a wrong plan optimal; never trust a result folder; scenario input caught early."""

from __future__ import annotations

import json

import highspy
import pandas as pd
import pyomo.environ as pyo
import pytest

from conftest import tiny_tables
from klynge_opt import solve, write_result
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import MAX_EXTENDS_DEPTH, Scenario, load_scenario, parse_scenario
from klynge_opt.model.solver import PROVEN_GAP, status_of
from klynge_opt.model.solver import solve as run_solver
from klynge_opt.problems import InputError
from klynge_opt.results.check import check_dir
from klynge_opt.studies.compare import compare

# --------------------------------------------------------------------------- wrong plans


@pytest.mark.parametrize("capacity", [1e15, 1e18, 1e300])
def test_huge_capacity_is_unlimited_not_an_empty_model(capacity):
    unlimited = tiny_tables()
    unlimited["operators"].loc[0, "capacity"] = None
    expected = solve(from_tables(unlimited), Scenario())
    huge = tiny_tables()
    huge["operators"].loc[0, "capacity"] = capacity
    result = solve(from_tables(huge), Scenario())
    assert result.status == "optimal" and result.summary["check"]["ok"]
    assert result.objective == pytest.approx(expected.objective, rel=1e-9)
    assert result.operators["kept"].any()


def test_huge_capacity_override_is_unlimited():
    expected = solve(from_tables(tiny_tables()), Scenario().with_updates(
        {"overrides": {"operators": [{"operator_id": "O3", "capacity": 1e9}]}}))
    result = solve(from_tables(tiny_tables()), Scenario().with_updates(
        {"overrides": {"operators": [{"operator_id": "O3", "capacity": 1e18}]}}))
    assert result.status == "optimal" and result.summary["check"]["ok"]
    assert result.objective == pytest.approx(expected.objective, rel=1e-9)


def test_rows_refused_by_highs_are_an_error_not_an_optimum():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Binary)
    m.y = pyo.Var(bounds=(0, 10))
    m.big = pyo.Constraint(expr=m.y <= 1e18 * m.x)
    m.need = pyo.Constraint(expr=m.y >= 5)
    m.cost = pyo.Objective(expr=m.x + m.y)
    report, _ = run_solver(m, Scenario().solver)
    assert report.status == "error" and not report.has_solution
    assert "rejected" in report.termination


@pytest.mark.parametrize(("gap", "requested", "expected"), [
    (0.0, 1e-4, "optimal"), (5e-5, 1e-4, "optimal"), (1.2e-4, 1e-4, "optimal"),
    (PROVEN_GAP, 0.5, "optimal"), (0.02, 0.05, "feasible"), (0.599, 1.0, "feasible"),
    (None, 1.0, "feasible")])
def test_optimal_means_proven_within_the_small_gap(gap, requested, expected):
    st = highspy.HighsModelStatus
    assert status_of(st.kOptimal, gap, requested) == expected
    assert status_of(st.kTimeLimit, gap, requested) == "time_limit"
    assert status_of(st.kInterrupt, gap, requested) == "interrupted"


@pytest.mark.slow
def test_danish_reform_at_a_loose_gap_is_feasible_not_optimal():
    from conftest import ROOT

    sc = load_scenario(ROOT / "scenarios" / "paper-2017.toml").with_updates(
        {"solver": {"mip_gap": 1.0}})
    result = solve(None, sc)
    assert result.has_solution and result.summary["check"]["ok"]
    assert result.status in ("feasible", "optimal")
    assert result.summary["proven_optimal"] == (result.status == "optimal")
    if result.status == "feasible":
        assert result.summary["mip_gap"] > PROVEN_GAP


def test_a_plan_failing_the_check_is_not_reported_optimal(monkeypatch):
    from klynge_opt import api
    from klynge_opt.results.check import CheckReport, Violation

    def failing(*args, **kwargs):
        return CheckReport([Violation("capacity", "O1", "over capacity")], {}, 0.0)

    monkeypatch.setattr(api, "check_plan", failing)
    result = solve(from_tables(tiny_tables()), Scenario())
    assert result.status == "check_failed" and not result.summary["proven_optimal"]
    assert "independent check" in result.message


# --------------------------------------------------------------------------- scenarios


@pytest.mark.parametrize(("key", "text"), [
    ("costs.cost_per_firm_minute", "[costs]\ncost_per_firm_minute = inf\n"),
    ("costs.horizon_years", "[costs]\nhorizon_years = nan\n"),
    ("policy.max_travel_minutes", "[policy]\nmax_travel_minutes = inf\n"),
    ("costs.disruption_cost_per_firm", "[costs]\ndisruption_cost_per_firm = 1e308\n")])
def test_non_finite_and_absurd_numbers_are_refused_by_key(tmp_path, key, text):
    file = tmp_path / "s.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_scenario(file)
    assert [p.column for p in err.value.problems] == [key]
    assert err.value.problems[0].source == str(file)


@pytest.mark.parametrize("name", ["", " ", "../../x", "/tmp/abs", "a/b", ".", "..", ".hidden",
                                  "a\\b", "x\x00y", "n" * 101])
def test_unsafe_names_are_refused(name):
    with pytest.raises(InputError) as err:
        parse_scenario({"name": name}, source="s.toml")
    assert err.value.problems[0].column == "name"


def test_safe_names_pass_and_file_names_are_made_safe(tmp_path):
    assert parse_scenario({"name": "Reform 2019 æøå (v2)"}).name == "Reform 2019 æøå (v2)"
    odd = tmp_path / ".odd:name.toml"
    odd.write_text("", encoding="utf-8")
    assert load_scenario(odd).name == "odd-name"


def test_latin1_scenario_names_the_line(tmp_path):
    file = tmp_path / "s.toml"
    file.write_bytes('name = "ok"\ndescription = "Århus og Køge"\n'.encode("latin-1"))
    with pytest.raises(InputError) as err:
        load_scenario(file)
    (problem,) = err.value.problems
    assert problem.line == 2 and "UTF-8" in problem.message


def test_a_folder_is_not_a_scenario(tmp_path, tiny_dir):
    with pytest.raises(InputError, match="1 error") as err:
        load_scenario(tiny_dir)
    assert "data set" in err.value.problems[0].message
    parent = tmp_path / "child.toml"
    parent.write_text(f'extends = "{tiny_dir}"\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_scenario(parent)
    assert "folder" in err.value.problems[0].message


def test_deep_extends_chain_is_capped(tmp_path):
    (tmp_path / "s0.toml").write_text("", encoding="utf-8")
    for i in range(1, 1200):
        (tmp_path / f"s{i}.toml").write_text(f'extends = "s{i - 1}.toml"\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_scenario(tmp_path / "s1199.toml")
    assert err.value.problems[0].column == "extends"
    assert str(MAX_EXTENDS_DEPTH) in err.value.problems[0].message
    assert load_scenario(tmp_path / f"s{MAX_EXTENDS_DEPTH - 1}.toml").name


def test_bad_keys_and_unknown_ids_in_one_round_with_did_you_mean(tmp_path, tiny_dir):
    file = tmp_path / "s.toml"
    file.write_text(f'data = "{tiny_dir}"\n[policy]\nmax_operators = -1\nkeep = ["O11"]\n'
                    'exempt_strongholds = ["fod"]\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        solve(None, file)
    found = {p.column: p for p in err.value.problems}
    assert set(found) == {"policy.max_operators", "policy.keep", "policy.exempt_strongholds"}
    assert "did you mean 'O1'" in found["policy.keep"].message
    assert "did you mean 'food'" in found["policy.exempt_strongholds"].message
    assert {p.source for p in err.value.problems} == {str(file)}


def test_a_bad_key_alone_is_never_solved_around(tmp_path, tiny_dir):
    file = tmp_path / "s.toml"
    file.write_text(f'data = "{tiny_dir}"\n[policy]\nmax_operators = -1\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        solve(None, file)
    assert [p.column for p in err.value.problems] == ["policy.max_operators"]


# --------------------------------------------------------------------------- check trusts nothing


@pytest.fixture
def solved_dir(tmp_path, tiny_dir):
    file = tmp_path / "s.toml"
    file.write_text(f'data = "{tiny_dir}"\n[policy]\nmax_operators = 2\n', encoding="utf-8")
    out = write_result(solve(None, file), tmp_path / "out")
    assert check_dir(out).ok
    return out


def _edit_summary(folder, **changes):
    summary = json.loads((folder / "summary.json").read_text())
    summary.update(changes)
    (folder / "summary.json").write_text(json.dumps(summary))


def test_check_refuses_a_status_edited_to_evaluated(solved_dir):
    _edit_summary(solved_dir, status="evaluated", proven_optimal=False)
    report = check_dir(solved_dir)
    assert [v.constraint for v in report.violations] == ["status"]
    assert "scenario optimises" in report.violations[0].message


def test_check_refuses_optimal_claims_without_proof(solved_dir):
    _edit_summary(solved_dir, status="feasible", mip_gap=0.3)
    assert check_dir(solved_dir).constraints == {"status"}


def test_check_detects_a_loosened_scenario(solved_dir):
    text = (solved_dir / "scenario.toml").read_text()
    (solved_dir / "scenario.toml").write_text(text.replace("max_operators = 2",
                                                           "max_operators = 3"))
    report = check_dir(solved_dir)
    assert "input_hash" in report.constraints


def test_check_names_a_truncated_summary(solved_dir):
    text = (solved_dir / "summary.json").read_text()
    (solved_dir / "summary.json").write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match=r"summary\.json is not valid JSON"):
        check_dir(solved_dir)


def test_compare_does_not_reuse_an_edited_result(tmp_path, tiny_dir):
    files = []
    for name, cap in (("a", 2), ("b", 3)):
        file = tmp_path / f"{name}.toml"
        file.write_text(f'data = "{tiny_dir}"\n[policy]\nmax_operators = {cap}\n',
                        encoding="utf-8")
        files.append(file)
    out = tmp_path / "cmp"
    first = compare(files, out)
    _edit_summary(out / "a", objective=0.0)
    again = compare(files, out)
    assert again.reused == {"a": False, "b": True}
    pd.testing.assert_frame_equal(again.table, first.table, check_dtype=False)


def test_a_row_that_cannot_hold_is_infeasible_not_an_error():
    """A row left with no variable (every term fixed) that cannot hold: Pyomo's compiler
    refuses it before HiGHS sees the model; the answer is "infeasible"."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Binary)
    m.x.fix(0)
    m.y = pyo.Var(bounds=(0, 1))
    m.need = pyo.Constraint(expr=m.x >= 1)
    m.cost = pyo.Objective(expr=m.y)
    report, _ = run_solver(m, Scenario().solver)
    assert report.status == "infeasible" and not report.has_solution
