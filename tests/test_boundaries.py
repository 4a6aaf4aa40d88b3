"""The optional boundaries.geojson: checked like a table, kept for maps, outside the hash."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, tiny_tables
from klynge_opt.data.dataset import inspect, load
from klynge_opt.data.loading import write_tables
from klynge_opt.data.overrides import apply_overrides
from klynge_opt.data.scenario import Scenario


def _square(mid: str, x: float = 10.0) -> dict:
    ring = [[x, 56.0], [x + 0.1, 56.0], [x + 0.1, 56.1], [x, 56.1], [x, 56.0]]
    return {"type": "Feature", "properties": {"municipality_id": mid},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


@pytest.fixture
def folder(tmp_path):
    write_tables(tiny_tables(), tmp_path / "tiny")
    return tmp_path / "tiny"


def _write(folder, features) -> None:
    (folder / "boundaries.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")


def test_danish_boundaries_cover_every_municipality_once():
    ds = load(ROOT / "data" / "denmark")
    ids = [f["properties"]["municipality_id"] for f in ds.boundaries["features"]]
    assert sorted(ids) == sorted(ds.municipalities["municipality_id"]) and len(ids) == 98
    assert not [w for w in ds.warnings if "boundar" in w.message]


def test_boundaries_are_kept_through_overrides_and_outside_the_hash(folder):
    plain = load(folder)
    _write(folder, [_square(m) for m in plain.municipalities["municipality_id"]])
    drawn = load(folder)
    assert drawn.boundaries is not None and plain.boundaries is None
    assert drawn.content_hash() == plain.content_hash()
    sc = Scenario(overrides={"operators": [{"operator_id": "O1", "annual_cost_factor": 2}]})
    assert apply_overrides(drawn, sc).boundaries is drawn.boundaries


def test_every_problem_at_once_named_by_feature(folder):
    bad_shape = _square("0102")
    bad_shape["geometry"] = {"type": "Point", "coordinates": [10, 56]}
    _write(folder, [_square("0101"), _square("0101"), _square("9999"), bad_shape,
                    {"type": "Feature", "properties": {}, "geometry": None}])
    ds, problems = inspect(folder)
    assert ds is None
    found = {(p.column, p.message.split(":")[0]) for p in problems if p.severity == "error"}
    assert found == {("features[1]", "duplicate municipality_id"),
                     ("features[2]", "unknown municipality_id"),
                     ("features[3]", "expected a Polygon or MultiPolygon geometry"),
                     ("features[4]", "expected a 'municipality_id' property (text)")}


def test_unreadable_file_and_missing_places(folder):
    (folder / "boundaries.geojson").write_text("{not json", encoding="utf-8")
    ds, problems = inspect(folder)
    assert ds is None and "not valid GeoJSON" in problems[-1].message
    _write(folder, [_square("0101")])
    ds, problems = inspect(folder)
    assert ds is not None
    (warning,) = [p for p in problems if p.source == "boundaries.geojson"]
    assert warning.severity == "warning" and "4 municipalities have no boundary" in \
        warning.message
