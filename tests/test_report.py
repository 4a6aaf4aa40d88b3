"""The board report (klynge_opt.reporting.html): content, escaping, offline, CLI.

The page is checked as text here; tests/test_report_browser.py opens it in Chromium.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import layered_tables
from klynge_opt.api import solve
from klynge_opt.cli import app
from klynge_opt.data.dataset import Dataset, from_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.reporting.html import build_report, result_folders, write_report
from klynge_opt.reporting.labels import Formatter
from klynge_opt.results.result import read_result, write_result

HOSTILE_OPERATOR = '<script>alert("x")</script>'
HOSTILE_CLUSTER = '" onmouseover="alert(1)'
HOSTILE_PLACE = "</script><b>Ø & co"


def square(lon: float, lat: float) -> list:
    d = 0.04
    return [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
             [lon - d, lat - d]]]


def _with_boundaries(ds: Dataset) -> Dataset:
    features = [{"type": "Feature", "properties": {"municipality_id": m.municipality_id},
                 "geometry": {"type": "Polygon", "coordinates": square(m.lon, m.lat)}}
                for m in ds.municipalities.itertuples()]
    return dataclasses.replace(ds, boundaries={"type": "FeatureCollection",
                                               "features": features})


def hostile_tables() -> dict:
    """The layered tiny landscape with hostile operator, cluster and municipality names."""
    t = layered_tables()
    t["operators"].loc[t["operators"]["operator_id"] == "O1", "name"] = HOSTILE_OPERATOR
    t["clusters"].loc[t["clusters"]["cluster_id"] == "C3", "name"] = HOSTILE_CLUSTER
    t["municipalities"].loc[t["municipalities"]["municipality_id"] == "0102", "name"] = \
        HOSTILE_PLACE
    return t


def hostile_dataset() -> Dataset:
    """:func:`hostile_tables` with boundaries."""
    return _with_boundaries(from_tables(hostile_tables()))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Dataset, Path, Path]:
    """The hostile landscape solved twice (two options), written."""
    ds = hostile_dataset()
    root = tmp_path_factory.mktemp("report")
    a = write_result(solve(ds, Scenario(name="plan-a", solver={"mip_gap": 0.0})), root / "a")
    b = write_result(solve(ds, Scenario(name="plan-b", policy={"allow_mergers": True},
                                        solver={"mip_gap": 0.0})), root / "b")
    return ds, a, b


def test_one_result_has_map_headline_and_tables(hostile):
    ds, a, _ = hostile
    result = read_result(a)
    page = build_report([result], dataset=ds)
    # One shape per municipality, keyed by its id, and the embedded figures for each.
    shapes = re.findall(r'<path class="muni" data-m="(\d+)"', page)
    assert sorted(shapes) == sorted(ds.municipalities["municipality_id"])
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1))
    places = data["views"]["r0"]
    cov = result.coverage_by_municipality.set_index("municipality_id")
    for mid, rec in places.items():
        assert rec["firms"] == pytest.approx(cov.at[mid, "firms"])
    # Headline: the total cost as the formatter writes it, from summary.json.
    fmt = Formatter("en")
    assert fmt.mdkk(result.summary["objective"]) in page
    after = int(result.operators["kept"].sum())
    assert f'Operators</div><div class="v">{len(ds.operators)} → {after}<' in page
    # Every operator with its reason; the out-of-scope institute says so.
    for name in ds.operators["name"]:
        assert html.escape(name) in page
    assert "outside the reform&#39;s scope" in page or "outside the reform's scope" in page


def test_hostile_names_are_text(hostile):
    ds, a, b = hostile
    page = build_report([read_result(a), read_result(b)], dataset=ds)
    for name in (HOSTILE_OPERATOR, HOSTILE_CLUSTER, HOSTILE_PLACE):
        assert name not in page
    assert html.escape(HOSTILE_OPERATOR) in page
    # In the embedded JSON the brackets are escaped, so the data cannot close the script.
    script = re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in script and ">" not in script
    assert json.loads(script)["views"]["r0"]["0102"]["name"] == HOSTILE_PLACE


def test_nothing_is_fetched(hostile):
    ds, a, b = hostile
    page = build_report([read_result(a), read_result(b)], dataset=ds)
    assert not re.search(r'\b(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert "@import" not in page
    assert all(ref.startswith("#") for ref in re.findall(r"url\(([^)]*)\)", page))
    for address in re.findall(r"https?://[^\s\"'<>]+", page):
        assert address.startswith("http://www.w3.org/"), address  # XML namespaces only
    assert "<script src" not in page and "<link" not in page


def test_several_results_side_by_side_in_danish(hostile):
    ds, a, b = hostile
    page = build_report([read_result(a), read_result(b)], dataset=ds, lang="da")
    assert page.count('<svg class="map"') == 2
    assert "Sammenligning" in page and "Dækning pr. kommune" in page
    assert "mio. kr." in page and 'lang="da"' in page
    # Danish number format: thousands with a dot, decimals with a comma.
    assert Formatter("da").num(1234567.891, 1) == "1.234.567,9"
    assert Formatter("en").pct(0.9567) == "95.7 %"


def test_points_without_boundaries(hostile):
    ds, a, _ = hostile
    bare = dataclasses.replace(ds, boundaries=None)
    page = build_report([read_result(a)], dataset=bare)
    assert len(re.findall(r'<circle class="muni"', page)) == len(ds.municipalities)


def test_comparison_folder_expands_in_its_order(tmp_path, hostile):
    _ds, a, b = hostile
    folder = tmp_path / "cmp"
    folder.mkdir()
    for src, name in ((a, "zeta"), (b, "alpha")):
        (folder / name).mkdir()
        for f in src.iterdir():
            (folder / name / f.name).write_bytes(f.read_bytes())
    (folder / "comparison.csv").write_text("metric,unit,zeta,alpha\n", encoding="utf-8")
    assert [p.name for p in result_folders([folder])] == ["zeta", "alpha"]


def test_cli_report_and_bad_input_keep_an_earlier_report(tmp_path, hostile, monkeypatch):
    ds, a, b = hostile
    out = tmp_path / "report.html"
    write_report([a, b], out, dataset=ds)
    before = out.read_bytes()
    assert before.startswith(b"<!DOCTYPE html>")
    import os
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    res = CliRunner().invoke(app, ["report", str(a), str(tmp_path / "missing"),
                                   "--out", str(out)])
    assert res.exit_code == 2
    assert "missing" in res.output and "expected a result folder" in res.output
    assert "Traceback" not in res.output
    assert out.read_bytes() == before
    res = CliRunner().invoke(app, ["report", str(a), "--out", str(out), "--lang", "fr"])
    assert res.exit_code == 2 and "--lang" in res.output
    assert out.read_bytes() == before
    assert not list(tmp_path.glob(".report.html.*"))


def test_cli_workbook_and_template(tmp_path, hostile):
    import openpyxl

    _ds, a, b = hostile
    book = tmp_path / "report.xlsx"
    res = CliRunner().invoke(app, ["report", str(a), str(b), "--xlsx", str(book)])
    # The results were solved in memory: the workbook needs no data set.
    assert res.exit_code == 0, res.output
    wb = openpyxl.load_workbook(book)
    assert "Comparison" in wb.sheetnames
    template = tmp_path / "input.xlsx"
    res = CliRunner().invoke(app, ["template", "--out", str(template)])
    assert res.exit_code == 0, res.output
    assert set(openpyxl.load_workbook(template).sheetnames) >= {"operators", "clusters"}
    res = CliRunner().invoke(app, ["template", "--out", str(template)])
    assert res.exit_code != 0 and "Traceback" not in res.output


def _report_data(page: str) -> dict:
    return json.loads(re.search(r'id="report-data">(.*?)</script>', page, re.S).group(1))


def _entry_by_hand(result) -> dict:
    """Per municipality, the operator giving most weighted guidance, summed row by row."""
    names = dict(zip(result.operators["operator_id"], result.operators["name"], strict=True))
    load: dict = {}
    for r in result.assignments.itertuples():
        if r.service == "guidance" and isinstance(r.operator_id, str) and r.operator_id:
            key = (r.municipality_id, r.operator_id)
            load[key] = load.get(key, 0.0) + float(r.weight) * float(r.share)
    best: dict = {}
    for (mid, op), w in sorted(load.items()):
        if mid not in best or w > best[mid][1]:
            best[mid] = (op, w)
    return {mid: names[op] for mid, (op, _) in best.items()}


def test_entry_point_map_names_the_serving_operator(hostile):
    ds, a, _ = hostile
    result = read_result(a)
    data = _report_data(build_report([result], dataset=ds))
    places = data["views"]["r0"]
    # Hand-worked: the væksthus O3 is the only entry point; it serves the three growth firms
    # of A1, A2 and B1; B2 and the island have no guidance demand.
    assert {m: p["entry"] for m, p in places.items()} == {
        "0101": "Hub South", "0102": "Hub South", "0201": "Hub South",
        "0202": None, "0900": None}
    assert {m: p["entry"] for m, p in places.items() if p["entry"]} == _entry_by_hand(result)
    assert ("entry", "entry", "category") in [tuple(m.values()) for m in
                                              [{"k": x["key"], "c": x["col"], "s": x["scale"]}
                                               for x in data["metrics"]]]
    assert list(data["entries"]) == ["Hub South"]


def test_entry_point_map_leaves_unserved_places_blank(tmp_path):
    # Within 15 minutes of O3 (in B2) no growth firm is reached: A1, A2 and B1 are 90, 70
    # and 30 minutes away, so every guidance firm is unserved and no place has an entry point.
    ds = hostile_dataset()
    sc = Scenario(name="far", policy={"coverage": "soft", "coverage_target": 0,
                                      "max_travel_minutes": 15})
    result = read_result(write_result(solve(ds, sc), tmp_path / "far"))
    guidance = result.assignments[result.assignments["service"] == "guidance"]
    assert len(guidance) == 3 and (guidance["operator_id"] == "").all()
    data = _report_data(build_report([result], dataset=ds))
    assert {p["entry"] for p in data["views"]["r0"].values()} == {None}
    assert data["entries"] == {}


def test_added_operators_are_marked(tmp_path):
    ds = hostile_dataset()
    hub = {"operator_id": "N1", "name": "New <Hub> & co", "municipality_id": "0101",
           "kind": "vaeksthus", "annual_cost": 10.0, "strongholds": ["food", "ict"]}
    sc = Scenario(name="with-hub", overrides={"add_operators": [hub]},
                  solver={"mip_gap": 0.0})
    result = read_result(write_result(solve(ds, sc), tmp_path / "hub"))
    kept = bool(result.operators.set_index("operator_id").at["N1", "kept"])
    page = build_report([result], dataset=ds)
    fate = "added by the scenario, " + ("kept" if kept else "closed")
    # The marker carries the class and says so; so does the operator table; the name is text.
    marker = re.search(r'<circle class="mk ([^"]*)" data-tip="New &lt;Hub&gt; &amp; co · '
                       r'vaeksthus · ([^"]*)"', page)
    assert marker is not None
    assert marker.group(1).split() == ["kept" if kept else "closed", "added", "entry_point"]
    assert marker.group(2) == fate
    assert f'<td data-v="{int(kept)}">{fate}</td>' in page
    assert "dark ring" in page
    # Operators of the data set are not called added.
    assert page.count("added by the scenario, ") == 2
    # A plan without additions has no such legend entry.
    assert "dark ring" not in build_report(
        [read_result(write_result(solve(ds, Scenario(name="p")), tmp_path / "p"))], dataset=ds)


def test_comparison_shows_inputs_and_cluster_fates(hostile, tmp_path):
    ds, a, b = hostile
    hub = {"operator_id": "N1", "name": "New Hub", "municipality_id": "0101",
           "kind": "vaeksthus", "annual_cost": 10.0, "strongholds": ["food", "ict"]}
    c = write_result(solve(ds, Scenario(name="plan-c", overrides={"add_operators": [hub]},
                                        policy={"close_clusters": ["C1"]},
                                        solver={"mip_gap": 0.0})),
                     tmp_path / "c")
    results = [read_result(x) for x in (a, b, c)]
    page = build_report(results, dataset=ds)
    inputs = re.search(r"Inputs that differ between the options \((\d+)\)</h3>(.*?)</table>",
                       page, re.S)
    assert inputs is not None
    rows = dict(re.findall(r"<tr><td><code>([^<]+)</code></td>(.*?)</tr>", inputs.group(2)))
    # Exactly the keys the three scenarios set differently, each value as a person reads it.
    assert set(rows) == {"policy.allow_mergers", "overrides.add_operators",
                         "policy.close_clusters"}
    assert int(inputs.group(1)) == 3
    assert re.findall(r"<td>([^<]*)</td>", rows["policy.allow_mergers"]) == ["no", "yes", "no"]
    assert re.findall(r"<td>([^<]*)</td>", rows["overrides.add_operators"]) == [
        "none", "none", "New Hub"]
    assert re.findall(r"<td>([^<]*)</td>", rows["policy.close_clusters"]) == [
        "none", "none", "C1"]
    # Clusters whose selection differs, counted by hand from the three cluster tables.
    chosen = [set(r.clusters.loc[r.clusters["selected"].astype(bool), "cluster_id"])
              for r in results]
    every = set().union(*(set(r.clusters["cluster_id"]) for r in results))
    differing = {c for c in every if len({c in s for s in chosen}) > 1}
    assert differing, "the fixture should make the plans choose different clusters"
    m = re.search(r"Clusters whose fate differs between the plans \((\d+)\)", page)
    assert m is not None and int(m.group(1)) == len(differing)
