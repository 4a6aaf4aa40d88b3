"""The embedded Danish data set: facts, validity, reproducible generation, default solves."""

from __future__ import annotations

import networkx as nx
import pandas as pd
import pytest

from conftest import ROOT
from klynge_opt.api import solve
from klynge_opt.data import dataset as ds_api
from klynge_opt.data.dataset import empty_table
from klynge_opt.data.generator import generate_firms
from klynge_opt.data.geography import travel_times
from klynge_opt.data.scenario import load_scenario
from klynge_opt.results.check import check_result

ISLANDS = {"0400": "Bornholm", "0825": "Læsø", "0741": "Samsø", "0563": "Fanø", "0492": "Ærø",
           "0482": "Langeland", "0773": "Morsø"}


@pytest.fixture(scope="module")
def dk():
    return ds_api.load(ds_api.DENMARK)


def test_validates_clean(dk):
    assert dk.warnings == ()


def test_geography_facts(dk):
    m = dk.municipalities
    assert len(m) == 98 and m["municipality_id"].str.fullmatch(r"\d{4}").all()
    assert m.groupby("region_id").size().to_dict() == {
        "1081": 11, "1082": 19, "1083": 22, "1084": 29, "1085": 17}
    assert int(m["rural"].sum()) == 33
    assert set(ISLANDS) <= set(m.loc[m["rural"], "municipality_id"])


def test_strongholds_from_the_paper(dk):
    s = dk.strongholds.set_index("stronghold_id")["skill_shortage_2025"].to_dict()
    assert s == {"maritime": 700, "food": 2000, "life_science": 160, "creative": 1100,
                 "bioeconomy": 220, "construction": 135, "robotics": 580, "energy": 310,
                 "wind": 1450, "ict": 500}


def test_landscape_size(dk):
    assert 60 <= len(dk.operators) <= 120 and 40 <= len(dk.clusters) <= 50
    assert (dk.operators["kind"] == "vaeksthus").sum() == 5
    assert len(dk.firms) == 12_000
    several = dk.memberships.groupby("firm_id").size()
    assert 0.15 < (several >= 2).sum() / len(dk.firms) < 0.40


def test_islands_only_by_ferry_or_bridge(dk):
    links = dk.links
    roads = nx.Graph(list(zip(links.loc[links["mode"] == "road", "from_id"],
                              links.loc[links["mode"] == "road", "to_id"], strict=True)))
    for code in ISLANDS:
        assert code not in roads, f"{ISLANDS[code]} has a road link"
    tt = travel_times(dk)
    # Bornholm-København: the Ystad route (170 min) beats the direct Køge ferry (360 min).
    assert tt.between("0400", "0101") == 170
    assert 100 < tt.between("0825", "0851") < 240  # Læsø-Aalborg via the Frederikshavn ferry
    assert 150 < tt.between("0561", "0101") < 240  # Esbjerg-København by road and bridges


def test_generation_is_reproducible(dk):
    base = {k: v for k, v in dk.tables.items() if k not in ("firms", "memberships")}
    again = generate_firms(base, n_firms=12_000, seed=2017)
    committed = ds_api.load_partial(ds_api.DENMARK)
    for name in ("firms", "memberships"):
        pd.testing.assert_frame_equal(
            again[name].sort_values(list(again[name].columns[:2])).reset_index(drop=True),
            committed[name].sort_values(list(committed[name].columns[:2]))
            .reset_index(drop=True), check_dtype=False, obj=name)


def test_loaded_tables_have_the_empty_tables_dtypes(dk):
    # An absent optional table (here travel_times) looks like a loaded one, minus the rows.
    for name, frame in dk.tables.items():
        pd.testing.assert_series_equal(frame.dtypes, empty_table(name).dtypes, obj=name)


def test_status_quo_evaluation(dk):
    r = solve(dk, load_scenario(ROOT / "scenarios" / "status-quo.toml"))
    assert r.status == "evaluated"
    assert r.summary["counts"]["operators_after"] == len(dk.operators)
    assert r.objective_terms["operating"] == pytest.approx(5 * dk.operators["annual_cost"].sum())
    assert r.summary["savings"]["total"] == 0


def test_reform_solves_to_proven_optimum_and_checks(dk):
    r = solve(dk, load_scenario(ROOT / "scenarios" / "reform.toml"))
    assert r.status == "optimal" and r.summary["proven_optimal"]
    assert r.summary["check"]["ok"], r.summary["check"]["violations"][:5]
    assert r.summary["mip_gap"] <= 1e-4
    kept = r.operators[r.operators["kept"]]
    assert kept.groupby("region_id").size().min() >= 2
    assert r.summary["coverage"]["all"] >= 0.97 - 1e-9
    assert r.summary["coverage"]["rural"] >= r.summary["coverage"]["urban"] - 0.02 - 1e-9
    assert r.summary["savings"]["total"] > 0
    # The national average hides who loses service: the four island municipalities without a
    # bridge (Ærø 0492, Bornholm 0400, Læsø 0825, Samsø 0741) get none under this reform.
    by_muni = r.coverage_by_municipality.set_index("municipality_id")
    assert len(by_muni) == 98
    islands = by_muni.loc[["0400", "0492", "0741", "0825"], "share"]
    assert (islands == 0.0).all(), islands
    assert (by_muni["share"].dropna() < 0.5).sum() == 4
    assert check_result(r, dataset=dk).ok
