"""klynge-opt explain: why an operator is closed or kept, by re-solving the other way."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import layered_tables
from klynge_opt.api import solve
from klynge_opt.cli import app
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.problems import InputError
from klynge_opt.results.result import write_result
from klynge_opt.studies.explain import explain


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    """The layered tiny landscape's optimum (259,000 DKK; every in-scope operator kept, C1
    and C2 selected: tests/test_layers.py), with the councils kept by kind."""
    ds = from_tables(layered_tables())
    sc = Scenario(name="explain", policy={"keep_kinds": ["local_service"],
                                          "coverage": "soft"}, solver={"mip_gap": 0.0})
    return ds, write_result(solve(ds, sc), tmp_path_factory.mktemp("explain") / "r")


def test_forced_and_outside_scope_need_no_solve(plan):
    ds, folder = plan
    forced = explain(folder, "L1", dataset=ds)
    assert forced.basis == "forced" and forced.kept and forced.other is None
    assert "keep" in forced.text
    outside = explain(folder, "G1", dataset=ds)
    assert outside.basis == "outside_scope" and "outside the reform" in outside.text


def test_closing_a_kept_host_is_priced_by_a_re_solve(plan):
    ds, folder = plan
    e = explain(folder, "O2", dataset=ds)
    assert e.basis == "re-solved" and e.kept and e.other is not None
    closed = e.other.operators.set_index("operator_id")
    assert not closed.at["O2", "kept"]
    # The difference reported is the difference of the two plans' checked totals.
    base = solve(ds, e.other.scenario.with_updates({"policy": {"close": []}}))
    assert e.deltas["total"] == pytest.approx(e.other.objective - base.objective)
    assert e.deltas["total"] > 0 and "would cost +" in e.text
    assert e.other.summary["check"]["ok"]


def test_unknown_operator_names_similar_ones(plan):
    ds, folder = plan
    with pytest.raises(InputError) as err:
        explain(folder, "o", dataset=ds)
    (problem,) = err.value.problems
    assert problem.column == "OPERATOR" and "similar: O1, O2, O3" in problem.message


def test_cli_explain_json(plan, tmp_path):
    _ds, folder = plan
    data = tmp_path / "data"
    from klynge_opt.data.loading import write_tables

    write_tables(layered_tables(), data)
    res = CliRunner().invoke(app, ["explain", str(folder), "G1", "--data", str(data),
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["basis"] == "outside_scope"
    res = CliRunner().invoke(app, ["explain", str(folder), "nobody", "--data", str(data)])
    assert res.exit_code == 2 and "no operator 'nobody'" in res.output
