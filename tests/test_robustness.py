"""Robustness: reproducible samples, the nominal plan's evaluation by hand, the stability
statistics, and the command end to end."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import tiny_tables
from klynge_opt import from_tables
from klynge_opt.api import solve
from klynge_opt.batch import Serial
from klynge_opt.cli import app
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Perturbation, Scenario
from klynge_opt.problems import InputError
from klynge_opt.results.outputs import COST_TERMS
from klynge_opt.studies.robustness import (
    draw,
    fixed_plan,
    parse_perturbation,
    resolve,
    robustness,
    wilson,
)

BASE = Scenario(name="tiny", policy={"max_travel_minutes": 100, "max_operators": 2},
                solver={"mip_gap": 0.0})


def _factors(sc: Scenario) -> dict[str, float]:
    return {c.operator_id: c.annual_cost_factor for c in sc.overrides.operators}


def test_samples_are_reproducible_by_seed_and_within_the_spread():
    ds = from_tables(tiny_tables())
    p = [Perturbation(what="operators.annual_cost", spread=0.3),
         Perturbation(what="firms.weight", spread=0.2, stronghold_id="food", shared=True),
         Perturbation(what="effect.guidance", spread=0.5)]
    a, b = draw(BASE, ds, p, 6, seed=3), draw(BASE, ds, p, 6, seed=3)
    other = draw(BASE, ds, p, 6, seed=4)
    assert [s.model_dump() for s in a] == [s.model_dump() for s in b]
    assert [_factors(s) for s in a] != [_factors(s) for s in other]
    for s in a:
        factors = _factors(s)
        assert set(factors) == {"O1", "O2", "O3"}  # one factor per operator
        assert all(0.7 <= f <= 1.3 for f in factors.values())
        [food] = s.overrides.firms
        assert food.stronghold_id == "food" and 0.8 <= food.weight_factor <= 1.2
        assert 0.5 <= s.effect.jobs_per_served_firm.guidance <= 1.5
        assert s.baseline == "overridden"  # the status quo on the same perturbed data
    # The samples differ from each other (independent draws).
    assert len({tuple(sorted(_factors(s).items())) for s in a}) == 6


def test_the_nominal_plan_evaluated_by_hand():
    """Fixing the nominal decisions and raising one kept operator's annual cost by 40 %
    changes nothing but that cost: regret-free evaluation = nominal + 0.4 x a_o x horizon."""
    ds = from_tables(tiny_tables())
    nominal = solve(ds, BASE)
    kept = sorted(nominal.kept_operators)
    assert len(kept) == 2
    o = kept[0]
    a_o = float(ds.operators.set_index("operator_id").at[o, "annual_cost"])
    sample = BASE.with_updates({"overrides": {"operators": [
        {"operator_id": o, "annual_cost_factor": 1.4}]}})
    evaluated = solve(ds, fixed_plan(sample, nominal))
    assert evaluated.kept_operators == nominal.kept_operators
    horizon = BASE.costs.horizon_years
    assert evaluated.objective == pytest.approx(nominal.objective + 0.4 * a_o * horizon)
    # Re-optimised instead, the sample may do better, never worse.
    assert solve(ds, sample).objective <= evaluated.objective + 1e-6


def test_wilson_interval_known_values():
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)


def test_perturbation_specs_and_selectors():
    ds = from_tables(tiny_tables())
    p = parse_perturbation("operators.capacity@vaeksthus=0.3")
    assert (p.what, p.kind, p.spread) == ("operators.capacity", "vaeksthus", 0.3)
    by_id, problems = resolve(parse_perturbation("operators.annual_cost@O2=0.1"), ds, "x")
    assert (by_id.kind, by_id.operator_id, problems) == (None, "O2", [])
    muni, problems = resolve(parse_perturbation("firms.weight@0900=0.2"), ds, "x")
    assert (muni.stronghold_id, muni.municipality_id, problems) == (None, "0900", [])
    _, problems = resolve(parse_perturbation("operators.capacity@nosuch=0.2"), ds, "x")
    assert problems and problems[0].value == "nosuch"
    for bad in ("operators.capacity=1.5", "operators.colour=0.2", "operators.capacity",
                "firms.weight=x"):
        with pytest.raises(InputError):
            parse_perturbation(bad)


def test_study_stability_and_verdict(tmp_path):
    ds = from_tables(tiny_tables())
    study = robustness(BASE, ds, [Perturbation(what="operators.annual_cost", spread=0.5)],
                       samples=6, seed=1, out=tmp_path / "rob", executor=Serial())
    ops = study.operators.set_index("operator_id")
    # Recount from the samples' own solves: the share is kept-in / solved samples.
    from klynge_opt.batch import Store

    with Store(tmp_path / "rob" / "results.sqlite", batch="", data="", create=False) as st:
        rows = st.frame({"kind": "sample"})
    for o in ("O1", "O2", "O3"):
        k = sum(o in kept for kept in rows["kept"])
        assert ops.at[o, "kept_in"] == k and ops.at[o, "share"] == pytest.approx(k / 6)
    s = study.samples
    assert len(s) == 6 and (s["regret"] >= -1e-6).all()
    # The regret is the sum of its terms.
    terms = s[[c for c in s.columns if c.startswith("regret_") and c != "regret_share"]]
    assert terms.sum(axis=1).to_numpy() == pytest.approx(s["regret"].to_numpy())
    assert study.verdict and any("nominal plan" in line for line in study.verdict)


def test_cli_robustness_writes_and_resumes(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "tiny.toml"
    sc.write_text(f'name = "tiny"\ndata = "{data}"\n[policy]\nmax_travel_minutes = 100\n'
                  'max_operators = 2\n[solver]\nmip_gap = 0.0\n[uncertainty]\nsamples = 3\n'
                  'seed = 7\n[[uncertainty.perturb]]\nwhat = "operators.annual_cost"\n'
                  'spread = 0.4\n', encoding="utf-8")
    out = tmp_path / "rob"
    res = CliRunner().invoke(app, ["robustness", str(sc), "--out", str(out), "--serial"])
    assert res.exit_code == 0, res.output
    assert "0 already in the store, 6 run now" in res.output
    for name in ("samples.csv", "operators.csv", "clusters.csv", "verdict.txt",
                 "robustness.png"):
        assert (out / name).stat().st_size > 0
    first = pd.read_csv(out / "samples.csv")
    res = CliRunner().invoke(app, ["robustness", str(sc), "--out", str(out), "--serial"])
    assert res.exit_code == 0 and "6 already in the store, 0 run now" in res.output
    pd.testing.assert_frame_equal(pd.read_csv(out / "samples.csv"), first)
    res = CliRunner().invoke(app, ["robustness", str(sc), "--out", str(out), "--serial",
                                   "--perturb", "operators.annual_cost@nosuch=0.2"])
    assert res.exit_code == 2 and "nosuch" in res.output and "Traceback" not in res.output


def test_the_report_shows_the_robustness_study(tmp_path):
    import html as html_lib

    from klynge_opt.reporting.excel import build_workbook
    from klynge_opt.reporting.html import build_report
    from klynge_opt.reporting.studies import read_studies
    from klynge_opt.studies.robustness import write_study

    ds = from_tables(tiny_tables())
    study = robustness(BASE, ds, [Perturbation(what="operators.annual_cost", spread=0.5)],
                       samples=4, seed=2, out=tmp_path / "rob", executor=Serial())
    write_study(study, tmp_path / "rob")
    [table] = read_studies({"robustness": [tmp_path / "rob"]}, [])
    assert table.scenario == "tiny" and table.verdict == tuple(study.verdict)
    page = build_report([study.nominal], dataset=ds, studies=[table])
    assert "Robustness under the uncertain inputs" in page
    text = html_lib.unescape(page)
    for line in study.verdict:
        assert line in text
    assert 'src="data:image/png;base64,' in page
    # Each operator's kept share as the study computed it.
    for r in study.operators.itertuples():
        assert f"{round(100 * r.share)} %" in page
    book = build_workbook([study.nominal], studies=[table])
    assert "Robustness" in book.sheetnames
    assert book["Robustness"].max_row == len(study.operators) + 1


def test_a_sample_without_any_plan_is_not_held_against_the_nominal_plan():
    from types import SimpleNamespace

    from klynge_opt.studies.robustness import verdict

    ops = pd.DataFrame({"name": ["A"], "nominal": [True], "share": [1.0], "samples": [3]})
    samples = pd.DataFrame({
        # sample 3 has no plan at all; in sample 2 only the nominal plan fails.
        "status": ["optimal", "optimal", "optimal", "infeasible"],
        "nominal_status": ["optimal", "optimal", "infeasible", "infeasible"],
        "nominal_message": ["", "", "capacity of A", "no plan"],
        "regret_share": [0.01, 0.02, None, None], "regret": [1.0, 2.0, None, None],
        **{f"regret_{t}": [0.5, 1.0, None, None] for t in COST_TERMS}})
    lines = verdict(SimpleNamespace(operators=ops, samples=samples))
    assert "1 of 4 samples have no plan at all (the scenario is infeasible under those " \
           "draws, re-optimised or not)" in lines
    assert any(line.startswith("the nominal plan cannot be kept in 1 of 4 samples that have "
                               "a plan of their own (e.g. capacity of A)") for line in lines)
