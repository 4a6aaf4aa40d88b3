"""CSV, xlsx and Parquet hold the same data set; travel times follow the documented order."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables
from klynge_opt.data import dataset as ds_api
from klynge_opt.data.geography import (
    DETOUR_FACTOR,
    SOURCE_EXPLICIT,
    SOURCE_LINKS,
    SOURCE_SELF,
    SPEED_KMH,
    haversine_km,
    travel_times,
)
from klynge_opt.data.loading import write_tables
from klynge_opt.data.schema import TABLES


@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_round_trip_identical(tmp_path, tiny_dir, fmt):
    from_csv = ds_api.load(tiny_dir)
    target = tmp_path / ("tiny.xlsx" if fmt == "xlsx" else "tiny_parquet")
    write_tables(from_csv.tables, target, fmt=fmt)
    other = ds_api.load(target)
    for table in TABLES:
        pd.testing.assert_frame_equal(from_csv.tables[table.name], other.tables[table.name],
                                      check_dtype=True, obj=table.name)
    assert from_csv.content_hash() == other.content_hash()


def test_xlsx_errors_name_the_sheet(tmp_path, tiny):
    tiny["firms"].loc[0, "weight"] = -1
    path = write_tables(tiny, tmp_path / "bad.xlsx")
    _, problems = ds_api.inspect(path)
    (p,) = problems
    assert (p.source, p.line, p.column) == ("bad.xlsx[firms]", 2, "weight")


def test_content_hash_sees_changes(tiny):
    a = ds_api.from_tables(tiny)
    tiny["operators"].loc[0, "annual_cost"] += 1
    assert a.content_hash() != ds_api.from_tables(tiny).content_hash()


def test_travel_times_links_self_and_ferry():
    ds = ds_api.from_tables(tiny_tables())
    tt = travel_times(ds)
    # Shortest path over links: 0101-0102 (20) + 0102-0201 (40) + 0201-0202 (30).
    assert tt.between("0101", "0202") == 90.0
    assert tt.between("0202", "0101") == 90.0
    # The island is reachable only by the 90-minute ferry from 0101.
    assert tt.between("0900", "0202") == 90.0 + 90.0
    assert tt.between("0102", "0102") == 8.0  # intra_minutes
    assert tt.source[tt.position(["0101"])[0], tt.position(["0202"])[0]] == SOURCE_LINKS
    assert tt.source[0, 0] == SOURCE_SELF


def test_explicit_pair_wins_both_directions():
    t = tiny_tables()
    t["travel_times"] = pd.DataFrame({"from_id": ["0202", "0101"], "to_id": ["0101", "0101"],
                                      "minutes": [45.0, 3.0]})
    tt = travel_times(ds_api.from_tables(t))
    assert tt.between("0101", "0202") == 45.0
    assert tt.between("0202", "0101") == 45.0
    assert tt.between("0101", "0101") == 3.0  # an explicit self pair beats intra_minutes
    assert tt.source[0, tt.position(["0202"])[0]] == SOURCE_EXPLICIT
    # Explicit pairs are not edges: 0102-0202 still goes 40 + 30 over links.
    assert tt.between("0102", "0202") == 70.0


def test_great_circle_without_links():
    t = tiny_tables()
    del t["links"]
    ds = ds_api.from_tables(t)
    tt = travel_times(ds)
    # One degree of latitude is 6371 * pi / 180 = 111.19 km.
    km = 6371.0 * math.pi / 180 * 1.0
    assert haversine_km(np.array(56.0), np.array(10.0), np.array(57.0), np.array(10.0)) == \
        pytest.approx(km)
    lat = ds.municipalities.set_index("municipality_id")
    expected = haversine_km(lat.at["0101", "lat"], lat.at["0101", "lon"],
                            lat.at["0900", "lat"], lat.at["0900", "lon"]) * DETOUR_FACTOR \
        / SPEED_KMH * 60
    assert tt.between("0101", "0900") == pytest.approx(float(expected))
