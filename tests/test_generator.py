"""Tests for the synthetic firm and landscape generator.

The dataset-level rules are checked here with small independent pandas/networkx code
rather than with the generator's own helpers, so a bug cannot hide in both places.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import klynge_opt
from klynge_opt.data import generator, geography
from klynge_opt.data.dataset import empty_table, from_tables
from klynge_opt.data.generator import (
    DEFAULT_SPECIALISATION,
    DEFAULT_STRONGHOLD_SHARES,
    generate_firms,
    synthetic_tables,
)
from klynge_opt.data.schema import TABLE_BY_NAME, TABLE_NAMES, Column

Tables = Mapping[str, pd.DataFrame]

BASE_TABLES = (
    "regions",
    "municipalities",
    "strongholds",
    "operators",
    "operator_strongholds",
    "clusters",
    "cluster_strongholds",
)
TINY = {"regions": 1, "municipalities": 3, "strongholds": 1, "operators": 2, "clusters": 1,
        "firms": 10}
MEDIUM = {"regions": 8, "municipalities": 400, "strongholds": 15, "operators": 300,
          "clusters": 120, "firms": 50_000}


@pytest.fixture(scope="module")
def default_tables() -> dict[str, pd.DataFrame]:
    return synthetic_tables()


@pytest.fixture(scope="module")
def medium_tables() -> dict[str, pd.DataFrame]:
    return synthetic_tables(**MEDIUM, seed=7)


def base_of(tables: Tables) -> dict[str, pd.DataFrame]:
    return {name: tables[name] for name in BASE_TABLES}


# ------------------------------------------------------------------------- independent checks


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    # The documented radius (docs/data-format.md: haversine, R = 6371 km).
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def assert_columns(tables: Tables, names: tuple[str, ...]) -> None:
    for name in names:
        assert list(tables[name].columns) == list(TABLE_BY_NAME[name].column_names), name


def assert_contract(tables: Tables) -> None:
    """Kinds, ranges, required cells, unique keys and references, per schema.py."""
    for name, df in tables.items():
        spec = TABLE_BY_NAME[name]
        assert not df.duplicated(list(spec.key)).any(), f"{name}: duplicate key"
        for col in spec.columns:
            s = df[col.name]
            if col.required:
                assert s.notna().all(), f"{name}.{col.name}: missing required value"
            present = s.dropna()
            if col.kind == "id":
                assert present.map(lambda v: isinstance(v, str) and v.strip() != "").all()
            elif col.kind in ("number", "integer"):
                assert pd.api.types.is_numeric_dtype(s), f"{name}.{col.name}"
                if col.kind == "integer":
                    assert pd.api.types.is_integer_dtype(s), f"{name}.{col.name}"
                if col.minimum is not None:
                    if col.exclusive_minimum:
                        assert (present > col.minimum).all(), f"{name}.{col.name}"
                    else:
                        assert (present >= col.minimum).all(), f"{name}.{col.name}"
                if col.maximum is not None:
                    assert (present <= col.maximum).all(), f"{name}.{col.name}"
            elif col.kind == "bool":
                assert pd.api.types.is_bool_dtype(s), f"{name}.{col.name}"
            elif col.kind == "choice":
                assert present.isin(col.choices or ()).all(), f"{name}.{col.name}"
            if col.references:
                ref_table, ref_col = col.references.split(".")
                # An optional table without rows counts as absent (kinds: no layers).
                if ref_table in tables and not tables[ref_table].empty:
                    known = set(tables[ref_table][ref_col])
                    assert set(present) <= known, f"{name}.{col.name}: dangling reference"


def assert_firm_rules(tables: Tables) -> None:
    firms, members = tables["firms"], tables["memberships"]
    assert firms["municipality_id"].isin(tables["municipalities"]["municipality_id"]).all()
    assert firms["stronghold_id"].isin(tables["strongholds"]["stronghold_id"]).all()
    assert firms["employees"].between(1, 5000).all()
    assert (firms["weight"] == 1.0).all()
    covered = tables["cluster_strongholds"]
    joined = members.merge(firms[["firm_id", "stronghold_id"]], on="firm_id")
    ok = joined.merge(covered, on=["cluster_id", "stronghold_id"], how="left", indicator=True)
    assert (ok["_merge"] == "both").all(), "a membership's cluster misses the firm's stronghold"
    coverable = firms["stronghold_id"].isin(covered["stronghold_id"])
    has_member = firms["firm_id"].isin(members["firm_id"])
    assert (coverable == has_member).all(), "covered firms need >=1 membership, others none"


def assert_landscape_rules(tables: Tables, firms_expected: int) -> None:
    assert set(tables) == set(TABLE_NAMES)
    assert_columns(tables, TABLE_NAMES)
    assert_contract(tables)
    assert len(tables["firms"]) == firms_expected
    assert_firm_rules(tables)

    mun = tables["municipalities"]
    ops = tables["operators"]
    comp = tables["operator_strongholds"]
    clusters = tables["clusters"]
    cover = tables["cluster_strongholds"]
    strongholds = set(tables["strongholds"]["stronghold_id"])
    regions = set(tables["regions"]["region_id"])

    assert set(mun["region_id"]) == regions, "every region has a municipality"
    assert mun["lat"].between(54.0, 58.0).all()
    assert mun["lon"].between(8.0, 13.0).all()
    assert (mun["population"] > 0).all()
    n_rural = int(mun["rural"].sum())
    assert abs(n_rural - len(mun) / 3) <= 1
    if 0 < n_rural < len(mun):
        assert mun.loc[mun["rural"], "population"].max() <= mun.loc[
            ~mun["rural"], "population"].min(), "rural = least populous"

    # Host competence.
    need = cover.merge(clusters[["cluster_id", "operator_id"]], on="cluster_id")
    have = need.merge(comp, on=["operator_id", "stronghold_id"], how="left", indicator=True)
    assert (have["_merge"] == "both").all(), "cluster host lacks a covered competence"
    assert set(cover["stronghold_id"]) == strongholds, "a stronghold has no cluster"
    assert clusters["cluster_id"].isin(cover["cluster_id"]).all()

    # Nationwide feasibility: a competent operator in every region for every stronghold.
    placed = comp.merge(ops[["operator_id", "municipality_id"]], on="operator_id").merge(
        mun[["municipality_id", "region_id"]], on="municipality_id")
    pairs = set(zip(placed["region_id"], placed["stronghold_id"], strict=True))
    assert pairs == {(r, s) for r in regions for s in strongholds}

    # Capacity headroom per stronghold.
    cap = comp.merge(ops[["operator_id", "capacity"]], on="operator_id").groupby(
        "stronghold_id")["capacity"].sum()
    weight = tables["firms"].groupby("stronghold_id")["weight"].sum()
    for s, w in weight.items():
        assert cap[s] >= 2 * w, f"stronghold {s}: capacity {cap[s]} < 2 x {w}"

    assert ops["annual_cost"].between(2e6, 40e6).all()
    assert ops["capacity"].notna().all()
    assert set(ops["kind"]) <= {"cluster_organisation", "innovation_network", "science_park",
                                "gts_institute", "vaeksthus", "business_centre"}
    broad = comp.groupby("operator_id")["stronghold_id"].nunique()
    broad_ops = set(broad[broad == len(strongholds)].index)
    broad_regions = set(mun.set_index("municipality_id").loc[
        ops.loc[ops["operator_id"].isin(broad_ops), "municipality_id"], "region_id"])
    assert broad_regions == regions, "a region lacks a broad operator"

    # Road network: undirected, simple, connected, minutes from haversine.
    links = tables["links"]
    assert (links["mode"] == "road").all()
    assert (links["from_id"] != links["to_id"]).all()
    undirected = {frozenset(p) for p in zip(links["from_id"], links["to_id"], strict=True)}
    assert len(undirected) == len(links), "duplicate link in some direction"
    graph = nx.Graph()
    graph.add_nodes_from(mun["municipality_id"])
    graph.add_edges_from(zip(links["from_id"], links["to_id"], strict=True))
    assert nx.is_connected(graph)
    pos = mun.set_index("municipality_id")[["lat", "lon"]]
    for row in links.head(50).itertuples():
        km = km_between(*pos.loc[row.from_id], *pos.loc[row.to_id])
        # Rounded to 0.01 min: detour 1.3 at 70 km/h, as documented for geography.
        assert row.minutes == pytest.approx(km * 1.3 / 70 * 60, abs=0.0051)
    if len(mun) > 3:
        assert graph.number_of_edges() >= len(mun) * 3 / 2 - 1

    assert tables["travel_times"].empty


# ------------------------------------------------------------------------- synthetic_tables


def test_default_landscape_satisfies_every_rule(default_tables: dict[str, pd.DataFrame]) -> None:
    assert_landscape_rules(default_tables, 12_000)
    assert len(default_tables["regions"]) == 5
    assert len(default_tables["municipalities"]) == 100
    assert len(default_tables["operators"]) == 80
    assert len(default_tables["clusters"]) == 45


def test_tiny_landscape() -> None:
    tables = synthetic_tables(**TINY)
    assert_landscape_rules(tables, 10)
    assert len(tables["memberships"]) == 10, "one cluster: exactly one membership each"


def test_medium_landscape(medium_tables: dict[str, pd.DataFrame]) -> None:
    assert_landscape_rules(medium_tables, MEDIUM["firms"])


def test_single_municipality_has_no_links() -> None:
    tables = synthetic_tables(regions=1, municipalities=1, strongholds=2, operators=1,
                              clusters=1, firms=5)
    assert_landscape_rules(tables, 5)
    assert tables["links"].empty


def test_zero_firms() -> None:
    tables = synthetic_tables(firms=0, municipalities=20, operators=10, clusters=5)
    assert_landscape_rules(tables, 0)
    assert tables["memberships"].empty


def test_spread_keeps_density_on_a_larger_box() -> None:
    # Denmark's box is 3.1 degrees of latitude by 4.5 of longitude; spread 4 makes it 12.4 by
    # 18, centred on the same point, so 16x the municipalities keep Denmark's density: the
    # mean nearest-neighbour distance stays the same (within sampling noise).
    small = synthetic_tables(municipalities=100, operators=20, clusters=10, firms=500, seed=4)
    big = synthetic_tables(municipalities=1600, operators=320, clusters=160, firms=8000,
                           seed=4, spread=4.0)
    from_tables(big)  # a valid data set (validation raises otherwise)
    mun = big["municipalities"]
    assert mun["lat"].between(56.15 - 6.2, 56.15 + 6.2).all()
    assert mun["lon"].between(10.35 - 9.0, 10.35 + 9.0).all()
    assert mun["lat"].max() - mun["lat"].min() > 3.1 * 3.5
    assert mun["lon"].max() - mun["lon"].min() > 4.5 * 3.5

    def nearest_km(m: pd.DataFrame) -> float:
        lat, lon = m["lat"].to_numpy(), m["lon"].to_numpy()
        d = geography.haversine_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        np.fill_diagonal(d, np.inf)
        return float(d.min(axis=1).mean())

    # Four times the side at 16 times the count: about the same spacing. Packing 1,600 into
    # Denmark's own box (spread 1) would quarter it.
    assert nearest_km(mun) == pytest.approx(nearest_km(small["municipalities"]), rel=0.35)
    with pytest.raises(ValueError, match="spread"):
        synthetic_tables(spread=0.0)
    with pytest.raises(ValueError, match="spread"):
        synthetic_tables(spread=25.0)


def test_deterministic_and_seed_sensitive() -> None:
    args = {"municipalities": 60, "operators": 30, "clusters": 12, "firms": 3000}
    first, again = synthetic_tables(**args, seed=11), synthetic_tables(**args, seed=11)
    for name in TABLE_NAMES:
        assert first[name].equals(again[name]), name
    other = synthetic_tables(**args, seed=12)
    assert not first["firms"].equals(other["firms"])
    assert not first["municipalities"].equals(other["municipalities"])


@pytest.mark.parametrize(
    "kwargs",
    [{"regions": 0}, {"strongholds": 0}, {"clusters": 0}, {"regions": 5, "municipalities": 4},
     {"regions": 5, "operators": 4}, {"firms": -1}],
)
def test_rejects_impossible_sizes(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        synthetic_tables(**kwargs)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    regions=st.integers(1, 4),
    extra_mun=st.integers(0, 25),
    strongholds=st.integers(1, 6),
    extra_ops=st.integers(0, 12),
    clusters=st.integers(1, 9),
    firms=st.integers(0, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_small_size_is_valid(regions: int, extra_mun: int, strongholds: int,
                                 extra_ops: int, clusters: int, firms: int, seed: int) -> None:
    tables = synthetic_tables(regions=regions, municipalities=regions + extra_mun,
                              strongholds=strongholds, operators=regions + extra_ops,
                              clusters=clusters, firms=firms, seed=seed)
    assert_landscape_rules(tables, firms)


# ---------------------------------------------------------- one geography, one empty table


def test_generator_and_geography_give_identical_distances_and_minutes() -> None:
    """The generator's distances (memberships, regions, links) and road minutes are the ones
    every solve's travel times use, to the last bit: they cannot drift apart again."""
    rng = np.random.default_rng(5)
    lat1, lat2 = rng.uniform(54.5, 57.8, (2, 500))
    lon1, lon2 = rng.uniform(8.0, 15.2, (2, 500))
    km = generator.haversine_km(lat1, lon1, lat2, lon2)
    np.testing.assert_array_equal(km, geography.haversine_km(lat1, lon1, lat2, lon2))
    np.testing.assert_array_equal(generator.road_minutes(km), geography.road_minutes(km))
    # The same functions, not copies that happen to agree today.
    assert generator.haversine_km is geography.haversine_km
    assert generator.road_minutes is geography.road_minutes


def test_synthetic_links_are_the_great_circle_travel_times(
        default_tables: dict[str, pd.DataFrame]) -> None:
    """A synthetic road link takes what travel_times would estimate for the pair without
    links (rounded to 0.01 min)."""
    links = default_tables["links"]
    tt = geography.travel_times(from_tables({**default_tables, "links": empty_table("links")}))
    i, j = tt.position(links["from_id"]), tt.position(links["to_id"])
    assert (tt.source[i, j] == geography.SOURCE_GREAT_CIRCLE).all()
    np.testing.assert_allclose(links["minutes"].to_numpy(), tt.minutes[i, j], rtol=0,
                               atol=0.0050001)


def test_one_great_circle_formula_in_the_package() -> None:
    """Only geography.py computes great-circle distances or converts km to road minutes."""
    package = Path(klynge_opt.__file__).parent
    markers = ("arcsin", "asin(", "radians", "6371", "def haversine", "DETOUR", "SPEED_KMH",
               "def _road_minutes", "def road_minutes")
    sources = sorted(package.rglob("*.py"))
    # Every subpackage, not only data/ where geography lives.
    assert {p.parent.name for p in sources} >= {"klynge_opt", "data", "model", "results"}
    for path in sources:
        if path == Path(geography.__file__):
            continue
        text = path.read_text(encoding="utf-8")
        found = [m for m in markers if m in text]
        rel = path.relative_to(package)
        assert not found, f"{rel} has its own {found}: use klynge_opt.data.geography"


def schema_dtype(col: Column) -> str:
    """The pandas dtype a column of each kind has once loaded, from schema.py alone."""
    if col.kind in ("id", "text", "choice"):
        return "object"
    if col.kind == "bool":
        return "bool"
    if col.kind == "integer" and col.default is not None:
        return "int64"
    return "float64"  # numbers, and integers whose blank stays missing (NaN)


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_empty_table_has_the_schema_dtypes(name: str) -> None:
    frame = empty_table(name)
    assert frame.empty
    assert list(frame.columns) == list(TABLE_BY_NAME[name].column_names)
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        c.name: schema_dtype(c) for c in TABLE_BY_NAME[name].columns}


def test_every_empty_table_is_the_shared_one(default_tables: dict[str, pd.DataFrame]) -> None:
    """The generator's empty tables and a data set's absent optional tables are one helper's."""
    lone = synthetic_tables(regions=1, municipalities=1, strongholds=2, operators=1,
                            clusters=1, firms=5)
    for name in ("links", "travel_times"):
        pd.testing.assert_frame_equal(lone[name], empty_table(name), obj=name)
    optional = [t for t in TABLE_NAMES if TABLE_BY_NAME[t].optional]
    ds = from_tables({k: v for k, v in default_tables.items() if k not in optional})
    for name in optional:
        pd.testing.assert_frame_equal(ds.tables[name], empty_table(name), obj=name)
    # The generator's text columns have the loaded dtype too, empty or not.
    for name, frame in default_tables.items():
        for col in TABLE_BY_NAME[name].columns:
            if col.kind in ("id", "text", "choice"):
                assert frame[col.name].dtype == object, f"{name}.{col.name}"


# ------------------------------------------------------------------------- generate_firms


def test_generate_firms_exact_count_and_format(default_tables: dict[str, pd.DataFrame]) -> None:
    out = generate_firms(base_of(default_tables), n_firms=12_345, seed=3)
    assert set(out) == {"firms", "memberships"}
    assert_columns(out, ("firms", "memberships"))
    firms = out["firms"]
    assert len(firms) == 12_345
    assert firms["firm_id"].iloc[0] == "F000001"
    assert firms["firm_id"].iloc[-1] == "F012345"
    assert firms["firm_id"].is_unique
    assert_contract({**base_of(default_tables), **out})
    assert_firm_rules({**base_of(default_tables), **out})


def test_million_firms_fast_with_wider_ids(default_tables: dict[str, pd.DataFrame]) -> None:
    start = time.perf_counter()
    out = generate_firms(base_of(default_tables), n_firms=1_000_000, seed=1)
    assert time.perf_counter() - start < 30
    firms = out["firms"]
    assert len(firms) == 1_000_000
    assert firms["firm_id"].iloc[-1] == "F1000000"
    assert firms["firm_id"].str.len().eq(8).all()
    assert out["memberships"]["firm_id"].nunique() == 1_000_000


def test_generate_firms_deterministic(default_tables: dict[str, pd.DataFrame]) -> None:
    base = base_of(default_tables)
    a, b = generate_firms(base, 5000, seed=9), generate_firms(base, 5000, seed=9)
    assert a["firms"].equals(b["firms"]) and a["memberships"].equals(b["memberships"])
    c = generate_firms(base, 5000, seed=10)
    assert not a["firms"].equals(c["firms"])
    assert not a["memberships"].equals(c["memberships"])


def test_firm_attributes_are_plausible(default_tables: dict[str, pd.DataFrame]) -> None:
    firms = generate_firms(base_of(default_tables), 40_000, seed=4)["firms"]
    assert 10 <= firms["employees"].median() <= 22
    assert firms["employees"].between(1, 5000).all()
    assert 0.13 <= firms["growth"].mean() <= 0.17


def test_multi_membership_share(default_tables: dict[str, pd.DataFrame]) -> None:
    firms, members = default_tables["firms"], default_tables["memberships"]
    per_firm = members.groupby("firm_id").size().reindex(firms["firm_id"], fill_value=0)
    share = (per_firm >= 2).mean()
    assert 0.15 <= share <= 0.40
    assert (per_firm >= 1).all()


def test_firms_follow_population(medium_tables: dict[str, pd.DataFrame]) -> None:
    mun, firms = medium_tables["municipalities"], medium_tables["firms"]
    pop = mun.groupby("region_id")["population"].sum()
    region_of = mun.set_index("municipality_id")["region_id"]
    per_region = firms["municipality_id"].map(region_of).value_counts().reindex(pop.index)
    assert np.corrcoef(pop.to_numpy(), per_region.to_numpy())[0, 1] > 0.8


def test_memberships_prefer_near_clusters(medium_tables: dict[str, pd.DataFrame]) -> None:
    mun = medium_tables["municipalities"].set_index("municipality_id")
    host_mun = medium_tables["clusters"].merge(
        medium_tables["operators"][["operator_id", "municipality_id"]], on="operator_id"
    ).set_index("cluster_id")["municipality_id"]
    firms = medium_tables["firms"].head(3000)
    chosen = firms.merge(medium_tables["memberships"], on="firm_id")
    offered = firms.merge(medium_tables["cluster_strongholds"], on="stronghold_id")

    def mean_km(pairs: pd.DataFrame) -> float:
        a = mun.loc[pairs["municipality_id"], ["lat", "lon"]].to_numpy()
        b = mun.loc[host_mun.loc[pairs["cluster_id"]], ["lat", "lon"]].to_numpy()
        return float(np.mean([km_between(*p, *q) for p, q in zip(a, b, strict=True)]))

    assert mean_km(chosen) < 0.8 * mean_km(offered)


def test_uncovered_stronghold_gets_no_membership(
    default_tables: dict[str, pd.DataFrame],
) -> None:
    base = base_of(default_tables)
    cover = base["cluster_strongholds"]
    dropped = cover["stronghold_id"].iloc[0]
    base["cluster_strongholds"] = cover[cover["stronghold_id"] != dropped].reset_index(drop=True)
    out = generate_firms(base, 4000, seed=2)
    firms, members = out["firms"], out["memberships"]
    lonely = firms.loc[firms["stronghold_id"] == dropped, "firm_id"]
    assert len(lonely) > 0
    assert not members["firm_id"].isin(lonely).any()
    assert_firm_rules({**base, **out})


def test_specialisation_shifts_firms(default_tables: dict[str, pd.DataFrame]) -> None:
    base = base_of(default_tables)
    region = base["regions"]["region_id"].iloc[0]
    stronghold = base["strongholds"]["stronghold_id"].iloc[0]
    flat = generate_firms(base, 20_000, seed=5, specialisation={})
    boosted = generate_firms(base, 20_000, seed=5, specialisation={region: {stronghold: 8.0}})
    region_of = base["municipalities"].set_index("municipality_id")["region_id"]

    def share(firms: pd.DataFrame) -> float:
        here = firms[firms["municipality_id"].map(region_of) == region]
        return float((here["stronghold_id"] == stronghold).mean())

    assert share(boosted["firms"]) > 2 * share(flat["firms"])


def test_unknown_ids_get_neutral_factors(default_tables: dict[str, pd.DataFrame]) -> None:
    # Synthetic ids match nothing in the Danish defaults, so defaults equal "no profile".
    base = base_of(default_tables)
    by_default = generate_firms(base, 3000, seed=8)
    neutral = generate_firms(base, 3000, seed=8, specialisation={}, stronghold_shares={})
    assert by_default["firms"].equals(neutral["firms"])


def test_blank_population_counts_as_one(default_tables: dict[str, pd.DataFrame]) -> None:
    base = base_of(default_tables)
    mun = base["municipalities"].copy()
    mun["population"] = np.nan
    base["municipalities"] = mun
    firms = generate_firms(base, 20_000, seed=6, specialisation={},
                           stronghold_shares={})["firms"]
    counts = firms["municipality_id"].value_counts().reindex(mun["municipality_id"],
                                                             fill_value=0)
    # Equal populations: only the operator pull (x1.5 at most) separates municipalities.
    assert counts.max() < 3 * counts.min()


def test_danish_profile_shapes_regions() -> None:
    regions = pd.DataFrame({"region_id": ["1081", "1082", "1083", "1084", "1085"],
                            "name": ["N", "M", "S", "H", "Z"]})
    mun = pd.DataFrame({
        "municipality_id": ["851", "751", "461", "101", "265"],
        "name": ["Aalborg", "Aarhus", "Odense", "København", "Roskilde"],
        "region_id": ["1081", "1082", "1083", "1084", "1085"],
        "lat": [57.05, 56.16, 55.40, 55.68, 55.64],
        "lon": [9.92, 10.20, 10.39, 12.57, 12.08],
        "rural": [False] * 5,
        "population": [100_000.0] * 5,
        "intra_minutes": [10.0] * 5,
    })
    ids = list(DEFAULT_STRONGHOLD_SHARES)
    strongholds = pd.DataFrame({"stronghold_id": ids, "name": ids,
                                "skill_shortage_2025": np.nan, "weight": 1.0})
    operators = pd.DataFrame({"operator_id": ["op"], "name": ["op"], "municipality_id": ["751"],
                              "kind": [""], "annual_cost": [1e6], "capacity": [np.nan],
                              "closure_cost": [0.0]})
    base = {
        "regions": regions, "municipalities": mun, "strongholds": strongholds,
        "operators": operators,
        "operator_strongholds": pd.DataFrame({"operator_id": ["op"] * len(ids),
                                              "stronghold_id": ids}),
        "clusters": pd.DataFrame({"cluster_id": ["c"], "name": ["c"], "operator_id": ["op"],
                                  "budget": [0.0], "label": ["none"],
                                  "gold_upgrade_cost": [np.nan], "knowledge_partners": [0]}),
        "cluster_strongholds": pd.DataFrame({"cluster_id": ["c"] * len(ids),
                                             "stronghold_id": ids}),
    }
    firms = generate_firms(base, 50_000, seed=1)["firms"]
    table = pd.crosstab(firms["municipality_id"], firms["stronghold_id"])
    assert table.loc["101", "life_science"] > 2 * table.loc["461", "life_science"]
    assert table.loc["851", "maritime"] > 2 * table.loc["101", "maritime"]
    assert table.sum()["food"] > 2 * table.sum()["bioeconomy"]


def test_default_profile_is_immutable() -> None:
    with pytest.raises(TypeError):
        DEFAULT_SPECIALISATION["1081"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        DEFAULT_SPECIALISATION["1081"]["food"] = 2.0  # type: ignore[index]
    with pytest.raises(TypeError):
        DEFAULT_STRONGHOLD_SHARES["food"] = 2.0  # type: ignore[index]


def test_generate_firms_rejects_bad_input(default_tables: dict[str, pd.DataFrame]) -> None:
    base = base_of(default_tables)
    with pytest.raises(ValueError):
        generate_firms(base, -1)
    with pytest.raises(ValueError):
        generate_firms({k: v for k, v in base.items() if k != "clusters"}, 10)
    bad = dict(base)
    bad["operators"] = base["operators"].assign(municipality_id="nowhere")
    with pytest.raises(ValueError, match="unknown"):
        generate_firms(bad, 10)
