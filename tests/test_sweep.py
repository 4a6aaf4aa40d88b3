"""Parameter sweeps: range parsing, the grid of solves, and the trade-off plot."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from conftest import tiny_tables
from klynge_opt import InputError, Scenario, from_tables
from klynge_opt.progress import Step
from klynge_opt.studies.sweep import MAX_VALUES, nested_update, parse_range, plot_sweep, sweep

# --------------------------------------------------------------------------- parse_range


@pytest.mark.parametrize(("spec", "path", "values"), [
    ("policy.max_travel_minutes=30:120:15", "policy.max_travel_minutes",
     [30.0, 45.0, 60.0, 75.0, 90.0, 105.0, 120.0]),
    # The stop is included only when it lands on the grid.
    ("policy.max_travel_minutes=30:100:15", "policy.max_travel_minutes",
     [30.0, 45.0, 60.0, 75.0, 90.0]),
    # Float steps give the values as written, not 0.30000000000000004.
    ("costs.horizon_years=0.1:0.3:0.1", "costs.horizon_years", [0.1, 0.2, 0.3]),
    ("policy.annual_budget=5e6:6e6:5e5", "policy.annual_budget", [5e6, 5.5e6, 6e6]),
    ("costs.cost_per_firm_minute=7:7:1", "costs.cost_per_firm_minute", [7.0]),
    ("policy.coverage_target=1,0.9,0.75", "policy.coverage_target", [1.0, 0.9, 0.75]),
    (" policy.min_operators = 1 , 2 ", "policy.min_operators", [1, 2]),
    ("solver.mip_gap=0,0.01", "solver.mip_gap", [0.0, 0.01]),
])
def test_parse_range_values(spec: str, path: str, values: list[float]) -> None:
    assert parse_range(spec) == (path, values)


@pytest.mark.parametrize("spec", ["policy.max_operators=1:3:1", "policy.max_operators=1,2,3.0"])
def test_integer_parameters_get_ints(spec: str) -> None:
    name, values = parse_range(spec)
    assert name == "policy.max_operators"
    assert values == [1, 2, 3]
    assert all(type(v) is int for v in values)


@pytest.mark.parametrize(("spec", "fragment"), [
    ("policy.max_travel_minutes", "expected NAME=START:STOP:STEP"),
    ("policy.max_travel_minutes=", "expected NAME=START:STOP:STEP"),
    ("=1,2", "expected NAME=START:STOP:STEP"),
    ("policy.max_travel_minutes=30:120", "expected NAME=START:STOP:STEP"),
    ("policy.max_travel_minutes=30:120:15:5", "expected NAME=START:STOP:STEP"),
    ("policy.max_travel_minutes=30::15", "expected NAME=START:STOP:STEP"),
    ("policy.max_travel_minutes=30:120:0", "step must be positive"),
    ("policy.max_travel_minutes=120:30:15", "below the start"),
    ("policy.max_travel_minutes=thirty", "'thirty' is not a number"),
    ("policy.max_travel_minutes=30,inf", "not a finite number"),
    ("policy.max_travel_minutes=30,,60", "empty value"),
    ("policy.max_travel_minutes=0,30", "greater than 0"),
    ("policy.coverage_target=0.5,1.5", "less than or equal to 1"),
    ("costs.horizon_years=-1,5", "greater than 0"),
    ("policy.max_operators=1.5,2", "integer parameter; got 1.5"),
    ("policy.max_operators=1:2:0.5", "integer parameter; got 1.5"),
    (f"costs.horizon_years=1:{MAX_VALUES + 1}:1", f"at most {MAX_VALUES}"),
])
def test_parse_range_rejects(spec: str, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_range(spec)
    [problem] = info.value.problems
    assert problem.value == spec  # the problem names the spec as given
    assert fragment in problem.message


@pytest.mark.parametrize(("spec", "suggestion"), [
    ("policy.max_travel_minute=30,60", "'policy.max_travel_minutes'"),
    ("max_operators=3", "'policy.max_operators'"),
    ("costs.horizon_year=1:5:1", "'costs.horizon_years'"),
])
def test_unknown_parameter_gets_a_did_you_mean(spec: str, suggestion: str) -> None:
    with pytest.raises(InputError) as info:
        parse_range(spec)
    message = info.value.problems[0].message
    assert "unknown scenario parameter" in message
    assert f"did you mean {suggestion}" in message


@pytest.mark.parametrize("spec", ["policy.coverage=1,2", "policy.allow_split=0,1",
                                  "policy.keep=1", "name=1"])
def test_non_numeric_fields_cannot_be_swept(spec: str) -> None:
    with pytest.raises(InputError, match="sweep parameter") as info:
        parse_range(spec)
    assert "is not a numeric parameter" in info.value.problems[0].message


def test_hopeless_name_lists_the_numeric_parameters() -> None:
    with pytest.raises(InputError) as info:
        parse_range("zzz=1")
    assert "policy.max_travel_minutes" in info.value.problems[0].message


def test_nested_update() -> None:
    assert nested_update("policy.max_operators", 5) == {"policy": {"max_operators": 5}}


# --------------------------------------------------------------------------- sweeping


#: Hand-computed from conftest's links: the island (0900) is reached only by the 90-minute
#: ferry from A1 (0101), where O1 sits. O3 (0202, the other food operator) is
#: 90 + 20 + 40 + 30 = 180 minutes from the island via A1-A2-B1-B2.
ISLAND_TO_O1 = 90.0
ISLAND_TO_O3 = 180.0


def test_hand_computed_island_times_match_the_tiny_links() -> None:
    links = tiny_tables()["links"]
    minutes = {(a, b): m for a, b, m in links[["from_id", "to_id", "minutes"]].itertuples(
        index=False, name=None)}
    assert minutes[("0101", "0900")] == ISLAND_TO_O1
    assert ISLAND_TO_O1 + minutes[("0101", "0102")] + minutes[("0102", "0201")] \
        + minutes[("0201", "0202")] == ISLAND_TO_O3


def _closing_o1_pays_only_with_a_long_radius() -> Scenario:
    """O1 made expensive (3 x annual cost) and travel nearly free: with O1 closed O3 must serve
    the island food firm (180 min), so O1 closes exactly when the radius allows 180."""
    return Scenario(
        solver={"mip_gap": 0.0},
        costs={"cost_per_firm_minute": 1.0, "disruption_cost_per_firm": 0.0},
        overrides={"operators": [{"operator_id": "O1", "annual_cost_factor": 3.0}]})


def test_travel_radius_sweep_infeasible_below_the_ferry_and_relaxes() -> None:
    name, values = parse_range("policy.max_travel_minutes=30:180:15")
    steps: list[Step] = []
    table = sweep(_closing_o1_pays_only_with_a_long_radius(), [(name, values)],
                  dataset=from_tables(tiny_tables()),
                  progress=lambda e: steps.append(e) if isinstance(e, Step) else None).table

    # A start, then one step per point labelled by the point just solved; an infeasible
    # point's diagnosis trials are not counted as points.
    assert [(s.done, s.total) for s in steps] == [(i, len(values))
                                                   for i in range(len(values) + 1)]
    assert [s.label for s in steps] == [""] + [f"{name} = {v:g}" for v in values]
    assert {s.study for s in steps} == {"sweep"}
    assert table[name].tolist() == values
    # Hard coverage: the island firm has no competent operator within a radius below 90.
    expected = ["infeasible" if r < ISLAND_TO_O1 else "optimal" for r in values]
    assert table["status"].tolist() == expected
    infeasible = table[table["status"] == "infeasible"]
    number_columns = ["objective", "cost_operating", "operators_after", "coverage_all",
                      "travel_mean", "firms_moved", "mip_gap", "check_ok"]
    assert infeasible[number_columns].isna().all().all()
    # Each infeasible point says why in one line (the diagnosis' first finding): at 60
    # minutes the island's food firm has no competent operator in reach (Food North, 90).
    at_60 = table.set_index(name).at[60.0, "reason"]
    assert "Island" in at_60 and "within 60 minutes" in at_60 and "90 minutes" in at_60
    assert (infeasible["reason"] != "").all() and "\n" not in "".join(infeasible["reason"])

    solved = table[table["status"] == "optimal"]
    assert solved["check_ok"].all() and (solved["reason"] == "").all()
    assert (solved["coverage_all"] == 1.0).all()
    terms = solved.filter(like="cost_").sum(axis=1)
    assert (terms - solved["objective"]).abs().max() < 1e-6 * solved["objective"].max()
    # A larger radius only relaxes the model: the optimum never gets worse.
    objective = solved["objective"].to_numpy()
    assert all(b <= a * (1 + 1e-9) for a, b in itertools.pairwise(objective))
    # ... and at 180 minutes O3 can take over the island, O1 closes and the cost drops.
    by_radius = solved.set_index(name)["objective"]
    assert by_radius[ISLAND_TO_O3] < by_radius[ISLAND_TO_O3 - 15]
    assert by_radius[ISLAND_TO_O3 - 15] == by_radius[ISLAND_TO_O1]


@pytest.fixture(scope="module")
def grid_table() -> pd.DataFrame:
    params = [parse_range("policy.max_travel_minutes=60,90,180"),
              parse_range("policy.max_operators=1,2")]
    return sweep(Scenario(solver={"mip_gap": 0.0}), params,
                 dataset=from_tables(tiny_tables())).table


def test_two_parameter_sweep_is_a_full_grid(grid_table: pd.DataFrame) -> None:
    assert len(grid_table) == 3 * 2
    assert list(grid_table.columns[:2]) == ["policy.max_travel_minutes", "policy.max_operators"]
    # First parameter outermost.
    assert list(zip(grid_table["policy.max_travel_minutes"], grid_table["policy.max_operators"],
                    strict=True)) == [(60.0, 1), (60.0, 2), (90.0, 1), (90.0, 2), (180.0, 1),
                                      (180.0, 2)]
    assert pd.api.types.is_integer_dtype(grid_table["policy.max_operators"])
    # One operator cannot do: only O3 knows both strongholds and its capacity (6) is below the
    # 9 firms; a radius below the ferry leaves the island firm unserved.
    feasible = (grid_table["policy.max_travel_minutes"] >= ISLAND_TO_O1) \
        & (grid_table["policy.max_operators"] >= 2)
    assert (grid_table["status"] == "optimal").tolist() == feasible.tolist()
    assert (grid_table.loc[feasible, "operators_after"] <= 2).all()


def test_sweep_validates_every_point_before_solving() -> None:
    # max_operators below the scenario's min_operators: named, and nothing solved.
    solved: list[object] = []
    with pytest.raises(InputError) as info:
        sweep(Scenario(policy={"min_operators": 2}), [("policy.max_operators", [1, 3])],
              dataset=from_tables(tiny_tables()), progress=solved.append)
    assert "policy.max_operators=1" in info.value.problems[0].message
    assert solved == []


@pytest.mark.parametrize("params", [
    [],
    [("policy.max_operators", [1]), ("policy.min_operators", [0]), ("costs.horizon_years", [5])],
    [("policy.max_operators", [1]), ("policy.max_operators", [2])],
    [("policy.max_operators", [])],
    [("policy.coverage", [1.0])],
])
def test_sweep_rejects_bad_parameter_lists(params: list[tuple[str, list[float]]]) -> None:
    with pytest.raises(InputError):
        sweep(Scenario(), params, dataset=from_tables(tiny_tables()))


def test_sweep_loads_the_scenarios_data_once_when_no_dataset(tiny_dir: Path) -> None:
    table = sweep(Scenario(data=str(tiny_dir), solver={"mip_gap": 0.0}),
                  [("costs.horizon_years", [5.0, 10.0])]).table
    assert table["status"].tolist() == ["optimal", "optimal"]
    assert table["check_ok"].all()
    # Annual costs count once per year and one-off costs once: no plan gets cheaper over a
    # longer horizon, so neither does the optimum.
    assert table["objective"].iloc[1] >= table["objective"].iloc[0]


# --------------------------------------------------------------------------- plotting


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_sweep_writes_a_figure(grid_table: pd.DataFrame, tmp_path: Path, suffix: str,
                                    magic: bytes) -> None:
    pytest.importorskip("matplotlib")
    params = [("policy.max_travel_minutes", [60.0, 90.0, 180.0]),
              ("policy.max_operators", [1, 2])]
    out = plot_sweep(grid_table, params, tmp_path / "plots" / f"tradeoff{suffix}")
    assert out.stat().st_size > 1000
    assert out.read_bytes().startswith(magic)


def test_plot_sweep_one_parameter_and_all_infeasible(grid_table: pd.DataFrame,
                                                     tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    only_infeasible = grid_table[grid_table["status"] == "infeasible"]
    out = plot_sweep(only_infeasible, ["policy.max_travel_minutes", "policy.max_operators"],
                     tmp_path / "none.png")
    assert out.stat().st_size > 0
    one = grid_table[grid_table["policy.max_operators"] == 2].drop(
        columns="policy.max_operators")
    assert plot_sweep(one, ["policy.max_travel_minutes"], tmp_path / "one.png").exists()


def test_plot_sweep_rejects_other_formats(grid_table: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="sweep plot"):
        plot_sweep(grid_table, ["policy.max_operators"], tmp_path / "plot.pdf")
