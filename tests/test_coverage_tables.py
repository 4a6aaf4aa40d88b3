"""Coverage place by place (coverage_by_municipality.csv, by_region.csv), hand-worked on the
tiny landscape, and recomputed by the independent checker."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import tiny_tables
from klynge_opt import from_tables, solve
from klynge_opt.cli import app
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.results.check import check_result


@pytest.fixture(scope="module")
def plan():
    ds = from_tables(tiny_tables())
    return ds, solve(ds, Scenario())


def test_by_municipality_hand_worked(plan):
    _, r = plan
    t = r.coverage_by_municipality.set_index("municipality_id")
    # The optimum keeps all three operators: F01 (0101) to O1 in 10 min, F02 (0101) to O2 in
    # 60; F03 (0102, weight 2) to O1 in 20, F08 (0102) to O2 in 40; the island firm F07 takes
    # the 90-minute ferry to O1.
    assert t.loc["0101", ["firms", "served", "travel_mean", "travel_max"]].tolist() == \
        [2.0, 2.0, 35.0, 60.0]
    assert t.loc["0102", "travel_mean"] == pytest.approx((2 * 20 + 40) / 3)
    assert t.loc["0900", "travel_max"] == 90.0 and bool(t.loc["0900", "rural"])
    assert t["operators_present"].to_dict() == {"0101": 1, "0102": 0, "0201": 1, "0202": 1,
                                                "0900": 0}
    assert (t["share"] == 1.0).all()


def test_by_region_hand_worked(plan):
    _, r = plan
    t = r.by_region.set_index("region_id")
    # North: F01, F02, F03 (2), F07, F08 = 6 firms, travel (10 + 60 + 2*20 + 90 + 40) / 6.
    assert t.loc["R1", ["firms", "served", "travel_mean", "travel_max", "operators_present"]] \
        .tolist() == [6.0, 6.0, 40.0, 90.0, 1.0]
    assert t.loc["R2", "operators_present"] == 2.0


def test_unserved_island_has_share_zero_and_no_travel():
    # Soft coverage within 60 minutes: the island firm cannot be served.
    ds = from_tables(tiny_tables())
    r = solve(ds, Scenario(policy={"coverage": "soft", "coverage_target": 0,
                                   "max_travel_minutes": 60}))
    island = r.coverage_by_municipality.set_index("municipality_id").loc["0900"]
    assert island["share"] == 0.0 and island["served"] == 0.0
    assert math.isnan(island["travel_mean"])
    assert check_result(r, dataset=ds).ok


@pytest.mark.parametrize(("table", "column", "key"), [
    ("coverage_by_municipality.csv", "share", "0102"),
    ("coverage_by_municipality.csv", "operators_present", "0101"),
    ("by_region.csv", "travel_max", "R1"),
])
def test_check_catches_an_edited_report(tmp_path: Path, table, column, key):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "s.toml"
    sc.write_text(f'data = "{data}"\n', encoding="utf-8")
    out = tmp_path / "out"
    assert CliRunner().invoke(app, ["solve", str(sc), "--out", str(out)]).exit_code == 0
    assert CliRunner().invoke(app, ["check", str(out)]).exit_code == 0
    frame = pd.read_csv(out / table, dtype=str, keep_default_na=False)
    first = frame.columns[0]
    frame.loc[frame[first] == key, column] = "0.5"
    frame.to_csv(out / table, index=False)
    res = CliRunner().invoke(app, ["check", str(out)])
    assert res.exit_code == 1
    assert f"{key}/{column}" in res.output
