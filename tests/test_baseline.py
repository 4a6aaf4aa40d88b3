"""The status quo is today's landscape, measured by the scenario's own yardstick (issue 10 §5).

A scenario's overrides are a what-if: a hypothetical operator does not exist today and a scaled
cost is not today's cost, so the savings are measured against the data before the overrides
unless the scenario asks for ``baseline = "overridden"``. Through the CLI, as a user runs it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import tiny_tables
from klynge_opt.cli import app
from klynge_opt.data.loading import write_tables

ADD = """
[[overrides.add_operators]]
operator_id = "NEW"
name = "Hypothetical hub"
municipality_id = "0102"
annual_cost = 700
strongholds = ["food", "ict"]
"""
SCALE = """
[[overrides.operators]]
annual_cost_factor = 2.0
"""


def _solve(tmp_path: Path, name: str, body: str) -> dict:
    data = tmp_path / "tiny"
    if not data.exists():
        write_tables(tiny_tables(), data)
    sc = tmp_path / f"{name}.toml"
    sc.write_text(f'name = "{name}"\ndata = "{data}"\n{body}', encoding="utf-8")
    res = CliRunner().invoke(app, ["solve", str(sc), "--out", str(tmp_path / name)])
    assert res.exit_code == 0, res.output
    return json.loads((tmp_path / name / "summary.json").read_text())


@pytest.mark.parametrize("override", [ADD, SCALE], ids=["added-operator", "scaled-costs"])
def test_overrides_leave_todays_figures_alone(tmp_path, override):
    plain = _solve(tmp_path, "plain", "")["status_quo"]
    what_if = _solve(tmp_path, "whatif", override)["status_quo"]
    assert what_if == plain
    # Hand-worked: today 3 operators at 1000 + 1500 + 800 a year over the default 5 years.
    assert plain["objective_terms"]["operating"] == pytest.approx(5 * 3300.0)
    assert plain["operators"] == 3 and plain["baseline"] == "today"


@pytest.mark.parametrize(("override", "operators", "operating"),
                         [(ADD, 4, 5 * 4000.0), (SCALE, 3, 5 * 6600.0)],
                         ids=["added-operator", "scaled-costs"])
def test_an_overridden_baseline_only_when_asked(tmp_path, override, operators, operating):
    sq = _solve(tmp_path, "asked", 'baseline = "overridden"\n' + override)["status_quo"]
    assert sq["operators"] == operators and sq["baseline"] == "overridden"
    assert sq["objective_terms"]["operating"] == pytest.approx(operating)


def test_status_quo_coverage_by_the_scenarios_radius(tmp_path):
    # Today the island firm F07 (weight 1 of 9) travels 90 min by ferry to O1: served "as
    # today", but not within a 60-minute radius. Hard coverage would make 60 min infeasible,
    # so the plan uses soft coverage; the status quo is measured by the same radius.
    s = _solve(tmp_path, "radius", '[policy]\nmax_travel_minutes = 60\ncoverage = "soft"\n'
                                   "coverage_target = 0\n")["status_quo"]
    assert s["coverage"]["all"] == pytest.approx(1.0)
    assert s["coverage_within_radius"]["all"] == pytest.approx(8 / 9)
    # Rural firms: F03 (2), F06 (1), F07 (1), F08 (1) = 5; F07 is beyond the radius.
    assert s["coverage_within_radius"]["rural"] == pytest.approx(4 / 5)
    assert s["coverage_within_radius"]["urban"] == pytest.approx(1.0)


def test_no_radius_no_second_yardstick(tmp_path):
    assert _solve(tmp_path, "free", "")["status_quo"]["coverage_within_radius"] is None
