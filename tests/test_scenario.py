"""Scenario files: defaults, strict validation naming every bad key, relative data paths."""

from __future__ import annotations

import tomllib

import pytest

from conftest import ROOT
from klynge_opt.data.scenario import DEFAULT_DATA, Scenario, load_scenario, parse_scenario
from klynge_opt.problems import InputError


def test_defaults_are_documented_values():
    sc = Scenario()
    assert sc.policy.clusters_per_stronghold == 1
    assert sc.policy.coverage == "hard" and sc.policy.max_operators is None
    assert sc.costs.horizon_years == 5 and sc.solver.mip_gap == 1e-4
    assert sc.data == str(DEFAULT_DATA) and sc.mode == "optimise"


def test_every_key_documented():
    text = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    for section in (Scenario, Scenario.model_fields["costs"].annotation,
                    Scenario.model_fields["policy"].annotation,
                    Scenario.model_fields["solver"].annotation):
        for key, field in section.model_fields.items():
            if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields"):
                assert f"`[{key}]`" in text, key  # a section
            else:
                assert f"`{key}`" in text, key


def test_all_problems_at_once_with_hints(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("nmae = 'x'\n[policy]\nmax_operator = 3\ncoverage = 'partial'\n"
                    "coverage_target = 1.5\n[costs]\nhorizon_years = 'ten'\n[solvr]\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    by_key = {p.column: p for p in info.value.problems}
    assert set(by_key) == {"nmae", "policy.max_operator", "policy.coverage",
                           "policy.coverage_target", "costs.horizon_years", "solvr"}
    assert "did you mean 'name'" in by_key["nmae"].message
    assert "did you mean 'max_operators'" in by_key["policy.max_operator"].message
    assert "did you mean 'solver'" in by_key["solvr"].message
    assert by_key["policy.coverage_target"].value == "1.5"
    assert all(p.source == str(path) for p in info.value.problems)


def test_cross_field_rules():
    with pytest.raises(InputError, match="1 error"):
        parse_scenario({"policy": {"min_operators": 5, "max_operators": 3}})
    with pytest.raises(InputError) as info:
        parse_scenario({"policy": {"keep": ["A"], "close": ["A"]}})
    assert "both in keep and close: A" in info.value.problems[0].message


def test_data_relative_to_the_file_and_name_from_file(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "my-plan.toml"
    path.write_text('data = "../data"\n', encoding="utf-8")
    sc = load_scenario(path)
    assert sc.data == str((tmp_path / "data").resolve())
    assert sc.name == "my-plan"


def test_toml_errors_and_missing_file(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text("[policy\n", encoding="utf-8")
    with pytest.raises(InputError, match="1 error") as info:
        load_scenario(path)
    assert "not valid TOML" in info.value.problems[0].message
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path / "none.toml")
    assert "not found" in info.value.problems[0].message


def test_with_updates_revalidates_and_round_trips():
    sc = Scenario().with_updates({"policy": {"max_operators": 7}})
    assert sc.policy.max_operators == 7 and sc.policy.clusters_per_stronghold == 1
    with pytest.raises(InputError):
        sc.with_updates({"policy": {"max_operators": -1}})
    import tomli_w
    again = parse_scenario(tomllib.loads(tomli_w.dumps(sc.to_toml_dict())))
    assert again == sc


@pytest.mark.parametrize("name", ["status-quo", "paper-2017", "committee-2018", "reality-2021",
                                  "budget-1000"])
def test_bundled_scenarios_parse(name):
    sc = load_scenario(ROOT / "scenarios" / f"{name}.toml")
    assert sc.name == name and sc.description
    assert sc.data == str(DEFAULT_DATA)


def test_firm_weight_overrides_scale_the_demand_linearly():
    """Status quo (fixed assignments): the service term is linear in the firm weights, so
    doubling food and doubling ict add up to doubling everything plus the original."""
    from conftest import tiny_tables
    from klynge_opt import from_tables
    from klynge_opt.api import solve as api_solve

    ds = from_tables(tiny_tables())

    def service(*changes: dict) -> float:
        sc = Scenario(mode="status_quo", overrides={"firms": list(changes)})
        return api_solve(ds, sc).objective_terms["service"]

    base = service()
    food, ict = service({"stronghold_id": "food", "weight_factor": 2}), \
        service({"stronghold_id": "ict", "weight_factor": 2})
    assert service({"weight_factor": 2}) == pytest.approx(2 * base)
    assert food + ict == pytest.approx(3 * base) and food > base and ict > base
    # A municipality and a stronghold together: only the island's food firm (weight 1).
    both = service({"stronghold_id": "food", "municipality_id": "0900", "weight_factor": 3})
    island = service({"municipality_id": "0900", "weight_factor": 3})
    assert base < both <= island


def test_firm_override_ids_are_checked():
    from conftest import tiny_tables
    from klynge_opt import from_tables
    from klynge_opt.api import load_inputs
    from klynge_opt.problems import InputError

    sc = Scenario(overrides={"firms": [{"stronghold_id": "fod", "municipality_id": "9999"}]})
    with pytest.raises(InputError) as info:
        load_inputs(from_tables(tiny_tables()), sc)
    columns = {p.column for p in info.value.problems}
    assert columns == {"overrides.firms[0].stronghold_id", "overrides.firms[0].municipality_id"}
    assert "did you mean 'food'" in " ".join(p.message for p in info.value.problems)
