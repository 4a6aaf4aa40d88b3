"""Sparse (radius-limited) travel times and the pair tables built from them.

Every table is compared with the computation of before sparse travel times (kept here as the
reference: the full cross product of groups and operators, filtered by the dense matrix), on
synthetic data sets with and without links and with explicit travel times, the sparse form
forced by lowering ``geography.SPARSE_ABOVE``. Equal means equal: same rows, order, dtypes and
minutes to the bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import layered_tables
from klynge_opt.data import geography
from klynge_opt.data.dataset import empty_table, from_tables
from klynge_opt.data.generator import OPERATOR_KINDS, synthetic_tables
from klynge_opt.data.geography import travel_times
from klynge_opt.data.scenario import load_scenario
from klynge_opt.model import services
from klynge_opt.model.formulation import prepare
from klynge_opt.model.landscape import Landscape, build_landscape, summarise
from klynge_opt.model.services import cluster_groups, local_groups

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
RADII = (None, 0.0, 12.0, 35.0, 80.0, 1e6)


# ------------------------------------------------------------------ the computation of before
def _ref_eligible(land: Landscape, max_minutes: float | None) -> pd.DataFrame:
    ops = land.dataset.operators[["operator_id", "municipality_id"]].rename(
        columns={"municipality_id": "operator_municipality"})
    comp = land.competence.merge(ops, on="operator_id")
    pairs = land.groups[["group_id", "municipality_id", "stronghold_id"]].merge(
        comp, on="stronghold_id")
    i = land.times.position(pairs["municipality_id"])
    j = land.times.position(pairs["operator_municipality"])
    pairs["minutes"] = land.times.minutes[i, j]
    if max_minutes is not None:
        pairs = pairs[pairs["minutes"] <= max_minutes + 1e-9]
    return pairs[["group_id", "operator_id", "minutes"]].sort_values(
        ["group_id", "operator_id"], ignore_index=True)


def _ref_local(land: Landscape, groups: pd.DataFrame, providers: pd.Index,
               max_minutes: float | None) -> pd.DataFrame:
    ops = land.dataset.operators.set_index("operator_id").loc[providers, "municipality_id"]
    pairs = pd.DataFrame({"group_id": np.repeat(groups.index.to_numpy(), len(ops)),
                          "operator_id": np.tile(ops.index.to_numpy(), len(groups))})
    i = land.times.position(np.repeat(groups["municipality_id"].to_numpy(), len(ops)))
    j = land.times.position(np.tile(ops.to_numpy(), len(groups)))
    pairs["minutes"] = land.times.minutes[i, j] if len(pairs) else np.zeros(0)
    if max_minutes is not None:
        pairs = pairs[pairs["minutes"] <= max_minutes + 1e-9]
    return pairs.sort_values(["group_id", "operator_id"], ignore_index=True)


def _ref_cluster(land: Landscape, groups: pd.DataFrame, max_minutes: float | None,
                 ) -> pd.DataFrame:
    ds = land.dataset
    host_muni = ds.clusters.set_index("cluster_id")["operator_id"].map(
        ds.operators.set_index("operator_id")["municipality_id"])
    g = groups.reset_index()[["group_id", "municipality_id", "stronghold_id", "current"]]
    pairs = g.merge(ds.cluster_strongholds[["cluster_id", "stronghold_id"]], on="stronghold_id")
    if pairs.empty:
        return pd.DataFrame({"group_id": [], "cluster_id": [], "minutes": [], "moved": []})
    i = land.times.position(pairs["municipality_id"])
    j = land.times.position(pairs["cluster_id"].map(host_muni))
    pairs["minutes"] = land.times.minutes[i, j]
    pairs["moved"] = [bool(cur) and c not in cur for c, cur in zip(
        pairs["cluster_id"], pairs["current"], strict=True)]
    if max_minutes is not None:
        pairs = pairs[pairs["minutes"] <= max_minutes + 1e-9]
    return pairs[["group_id", "cluster_id", "minutes", "moved"]].sort_values(
        ["group_id", "cluster_id"], ignore_index=True)


def _ref_nearest(land: Landscape, groups: pd.DataFrame | None = None,
                 exclude: frozenset[str] = frozenset()) -> pd.DataFrame:
    pairs = _ref_eligible(land, None)
    pairs = pairs[~pairs["operator_id"].isin(exclude)]
    best = pairs.sort_values(["group_id", "minutes", "operator_id"]).drop_duplicates(
        "group_id")
    out = (land.groups if groups is None else groups).merge(best, on="group_id", how="left")
    return out.rename(columns={"operator_id": "nearest_operator",
                               "minutes": "nearest_minutes"})


# ------------------------------------------------------------------ data sets
def _explicit_rows(t: dict[str, pd.DataFrame], seed: int) -> pd.DataFrame:
    """Explicit times: some one-way (the reverse follows), some both ways with different
    minutes, a few diagonal ones, short and long."""
    rng = np.random.default_rng(seed)
    ids = t["municipalities"]["municipality_id"].to_numpy()
    a = rng.choice(len(ids), 40)
    b = rng.choice(len(ids), 40)
    rows = {(ids[i], ids[j]): float(rng.choice([1.0, 7.5, 33.0, 250.0])) for i, j in zip(a, b,
                                                                                       strict=True)}
    for i, j in zip(a[:10], b[:10], strict=True):
        rows[(ids[j], ids[i])] = 5.0 + rows[(ids[i], ids[j])]  # asymmetric
    return pd.DataFrame({"from_id": [k[0] for k in rows], "to_id": [k[1] for k in rows],
                         "minutes": list(rows.values())})


def _tables(kind: str) -> dict[str, pd.DataFrame]:
    t = synthetic_tables(seed=11, municipalities=150, operators=45, clusters=20, firms=3000)
    if kind in ("great_circle", "explicit_great_circle"):
        t["links"] = empty_table("links")
    if kind.startswith("explicit"):
        t["travel_times"] = _explicit_rows(t, 5)
    if kind == "layered":
        t["kinds"] = pd.DataFrame({
            "kind": list(OPERATOR_KINDS),
            "layer": ["cluster", "cluster", "other", "other", "entry_point", "local_service"],
            "in_scope": [True] * len(OPERATOR_KINDS), "description": [""] * len(OPERATOR_KINDS)})
    return t


KINDS = ("links", "great_circle", "explicit_links", "explicit_great_circle", "layered")


def _both(tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch,
          ) -> tuple[Landscape, Landscape]:
    ds = from_tables(tables)
    dense = build_landscape(ds)
    monkeypatch.setattr(geography, "SPARSE_ABOVE", 0)
    sparse = build_landscape(ds)
    monkeypatch.undo()
    assert not dense.times.sparse and sparse.times.sparse
    return dense, sparse


@pytest.fixture(scope="module", params=KINDS)
def lands(request):
    mp = pytest.MonkeyPatch()
    try:
        yield _both(_tables(request.param), mp)
    finally:
        mp.undo()


# ------------------------------------------------------------------ travel times
def test_denmark_sized_data_stays_dense_and_the_threshold_switches():
    ds = from_tables(_tables("links"))
    assert len(ds.municipalities) <= geography.SPARSE_ABOVE
    assert not travel_times(ds).sparse
    assert travel_times(ds, sparse=True).sparse


def test_sparse_lookups_equal_the_dense_matrix(lands):
    dense, sparse = lands
    n = len(dense.times.ids)
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    # Before any radius (every pair computed on demand), then through a held radius.
    for _ in range(2):
        np.testing.assert_array_equal(sparse.times.lookup(i, j), dense.times.lookup(i, j))
        np.testing.assert_array_equal(sparse.times.source_of(i, j),
                                      dense.times.source_of(i, j))
        sparse.times.reach(np.arange(n), np.arange(n), 30.0)
    np.testing.assert_array_equal(sparse.times.minutes, dense.times.minutes)
    np.testing.assert_array_equal(sparse.times.source, dense.times.source)
    pd.testing.assert_frame_equal(sparse.times.frame(), dense.times.frame())
    a, b = dense.times.ids[3], dense.times.ids[n - 2]
    assert sparse.times.between(a, b) == dense.times.between(a, b)


@pytest.mark.parametrize("radius", [None, 0.0, 12.0, 45.0, 1e6])
def test_reach_lists_exactly_the_pairs_within_the_radius(lands, radius):
    dense, sparse = lands
    n = len(dense.times.ids)
    origins, destinations = np.arange(0, n, 2), np.arange(1, n, 3)
    m = dense.times.minutes[np.ix_(origins, destinations)]
    within = np.ones_like(m, bool) if radius is None else m <= radius + 1e-9
    want = {(int(origins[r]), int(destinations[c])): m[r, c] for r, c in zip(*np.nonzero(within),
                                                                            strict=True)}
    for times in (dense.times, sparse.times):
        frm, to, minutes = times.reach(origins, destinations, radius)
        assert len(frm) == len(want)
        assert dict(zip(zip(frm.tolist(), to.tolist(), strict=True), minutes.tolist(),
                        strict=True)) == want


def test_the_sparse_form_never_holds_a_full_matrix(monkeypatch):
    ds = from_tables(_tables("links"))
    n = len(ds.municipalities)
    monkeypatch.setattr(geography, "CHUNK_CELLS", 10 * n)
    monkeypatch.setattr(geography, "ROW_CACHE_CELLS", 5 * n)
    blocks: list[int] = []
    rows = geography._Network.rows

    def spy(self, origins, limit=np.inf):
        blocks.append(len(origins))
        return rows(self, origins, limit)

    monkeypatch.setattr(geography._Network, "rows", spy)
    times = travel_times(ds, sparse=True)
    assert blocks == []  # nothing computed before it is asked for
    times.reach(np.arange(n), np.arange(n), 40.0)
    times.lookup(np.arange(n), np.arange(n)[::-1])  # mostly beyond 40 minutes
    assert blocks and max(blocks) <= 10
    assert len(times._rows) <= 5
    assert times.held_radius == 40.0
    times.reach(np.arange(n), np.arange(n), 20.0)  # a smaller radius reuses what is held
    assert times.held_radius == 40.0


def test_explicit_rows_keep_their_precedence_in_both_forms():
    t = _tables("links")
    ids = t["municipalities"]["municipality_id"]
    a, b, c = ids.iloc[0], ids.iloc[1], ids.iloc[2]
    t["travel_times"] = pd.DataFrame({"from_id": [a, b, c, a], "to_id": [b, a, c, c],
                                      "minutes": [500.0, 3.0, 1.5, 400.0]})
    ds = from_tables(t)
    for times in (travel_times(ds, sparse=False), travel_times(ds, sparse=True)):
        times.reach(np.arange(len(ids)), np.arange(len(ids)), 60.0)
        assert times.between(a, b) == 500.0 and times.between(b, a) == 3.0
        assert times.between(c, c) == 1.5 and times.between(c, a) == 400.0
        assert times.source_of(*times.position([a, c])) == geography.SOURCE_EXPLICIT
        # An explicit pair far beyond the radius drops out of it; one inside it is listed.
        frm, _, _ = times.reach(times.position([a]), times.position([b]), 60.0)
        assert len(frm) == 0
        frm, _, m = times.reach(times.position([b]), times.position([a]), 60.0)
        assert m.tolist() == [3.0]


def test_a_road_network_in_pieces_falls_back_to_great_circle_in_both_forms():
    ids = pd.Index(["a", "b", "c", "d"])
    links = pd.DataFrame({"from_id": ["a", "c"], "to_id": ["b", "d"], "minutes": [5.0, 7.0]})
    graph = geography._graph(ids, links)
    from scipy.sparse.csgraph import connected_components

    net = geography._Network(np.array([55.0, 55.1, 55.2, 55.3]), np.array([10.0] * 4),
                             np.array([1.0] * 4), graph,
                             connected_components(graph, directed=False)[1].astype(np.int64),
                             np.zeros(0, dtype=np.int64), np.zeros(0))
    dense = geography.TravelTimes(ids, net, sparse=False)
    sparse = geography.TravelTimes(ids, net, sparse=True)
    assert sparse.reach(np.arange(4), np.arange(4), 30.0)[0].size == \
        dense.reach(np.arange(4), np.arange(4), 30.0)[0].size
    np.testing.assert_array_equal(sparse.minutes, dense.minutes)
    assert dense.source_of(0, 2) == geography.SOURCE_GREAT_CIRCLE
    assert dense.source_of(0, 1) == geography.SOURCE_LINKS


# ------------------------------------------------------------------ pair tables
@pytest.mark.parametrize("radius", RADII)
def test_eligible_pairs_equal_the_cross_product(lands, radius):
    dense, sparse = lands
    want = _ref_eligible(dense, radius)
    pd.testing.assert_frame_equal(dense.eligible_pairs(radius), want, check_exact=True)
    pd.testing.assert_frame_equal(sparse.eligible_pairs(radius), want, check_exact=True)


def test_nearest_competent_and_summary_equal_the_cross_product(lands):
    dense, sparse = lands
    want = _ref_nearest(dense)
    pd.testing.assert_frame_equal(dense.nearest_competent(), want, check_exact=True)
    pd.testing.assert_frame_equal(sparse.nearest_competent(), want, check_exact=True)
    # Some groups only, with the nearest operators of a third of them closed: the next
    # nearest open one, or none.
    some = dense.groups.iloc[::3]
    shut = frozenset(want["nearest_operator"].dropna().iloc[::3])
    want = _ref_nearest(dense, some, shut)
    assert want["nearest_operator"].isna().any() or len(shut) > 0
    for land in (dense, sparse):
        got = land.nearest_competent(land.groups.iloc[::3], exclude=shut)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert not got["nearest_operator"].isin(shut).any()
    a, b = summarise(dense, 20.0), summarise(sparse, 20.0)
    pd.testing.assert_frame_equal(a.far_places, b.far_places, check_exact=True)
    assert len(a.far_places) > 0  # 20 minutes leaves some groups far from service


@pytest.fixture(scope="module")
def layered(request):
    mp = pytest.MonkeyPatch()
    try:
        yield _both(_tables("layered"), mp)
    finally:
        mp.undo()


@pytest.mark.parametrize("radius", RADII)
def test_local_and_cluster_pairs_equal_the_cross_product(layered, radius):
    dense, sparse = layered
    scenario = load_scenario(SCENARIOS / "paper-2017.toml")
    pol, effect = scenario.policy, scenario.effect
    ops = services.operator_layers(dense.dataset)
    providers = ops.index[ops["layer"] == "local_service"]
    local = local_groups(dense, pol, effect).groups
    want = _ref_local(dense, local, providers, radius)
    assert len(want) > 0 or radius == 0.0  # intra_minutes are never 0: an empty table
    for land in (dense, sparse):
        pd.testing.assert_frame_equal(services.local_pairs(land, local, providers, radius),
                                      want, check_exact=True)
    for by_place in (True, False):
        member = cluster_groups(dense, pol, effect, by_place=by_place).groups
        want = _ref_cluster(dense, member, radius)
        assert want["moved"].any() or radius == 0.0
        for land in (dense, sparse):
            pd.testing.assert_frame_equal(services.cluster_pairs(land, member, radius), want,
                                          check_exact=True)


def test_no_local_provider_gives_the_empty_table_of_before(layered):
    dense, sparse = layered
    scenario = load_scenario(SCENARIOS / "paper-2017.toml")
    local = local_groups(dense, scenario.policy, scenario.effect).groups
    want = _ref_local(dense, local, pd.Index([]), 30.0)
    for land in (dense, sparse):
        pd.testing.assert_frame_equal(services.local_pairs(land, local, pd.Index([]), 30.0),
                                      want)


@pytest.mark.parametrize("scenario_name", ["paper-2017.toml", "reality-2021.toml"])
def test_prepare_gives_the_same_model_inputs(layered, scenario_name):
    dense, sparse = layered
    scenario = load_scenario(SCENARIOS / scenario_name)
    a, b = prepare(dense, scenario), prepare(sparse, scenario)
    for name in ("pairs", "local_pairs", "cluster_pairs", "groups", "competence"):
        pd.testing.assert_frame_equal(getattr(b, name), getattr(a, name), check_exact=True)


def test_the_tiny_layered_data_gives_the_same_pairs_sparse(monkeypatch):
    dense, sparse = _both(layered_tables(), monkeypatch)
    for radius in RADII:
        pd.testing.assert_frame_equal(sparse.eligible_pairs(radius),
                                      _ref_eligible(dense, radius), check_exact=True)


@pytest.mark.parametrize("policy", [{}, {"max_travel_minutes": 120, "local": {
    "max_travel_minutes": 60}}])
def test_a_solve_with_sparse_travel_times_gives_the_same_checked_plan(monkeypatch, policy):
    """End to end on the tiny layered data: the model side (landscape, pairs, result tables,
    status quo) and the checker both on sparse travel times give the plan of the dense run,
    and the checker passes it."""
    from klynge_opt.api import solve
    from klynge_opt.data.scenario import Scenario
    from klynge_opt.results.check import check_result

    ds = from_tables(layered_tables())
    scenario = Scenario(name="sparse", policy=policy, solver={"mip_gap": 0.0})
    dense = solve(ds, scenario)
    monkeypatch.setattr(geography, "SPARSE_ABOVE", 0)
    sparse = solve(ds, scenario)
    assert dense.has_solution and sparse.objective == dense.objective
    pd.testing.assert_frame_equal(sparse.assignments, dense.assignments, check_exact=True)
    assert sparse.summary["status_quo"] == dense.summary["status_quo"]
    report = check_result(sparse, dataset=ds)
    assert report.ok, [str(v) for v in report.violations]


# ------------------------------------------------------------------ status quo without kinds
def _ref_status_quo(land: Landscape) -> pd.DataFrame:
    """Today's plan as computed before: every non-member firm against every competent
    operator, the nearest kept (ties by operator id)."""
    from klynge_opt.results.result import ASSIGNMENT_COLUMNS

    ds = land.dataset
    op_muni = ds.operators.set_index("operator_id")["municipality_id"]
    firms = ds.firms[["firm_id", "municipality_id", "stronghold_id", "weight"]]
    hosts = ds.memberships.merge(ds.clusters[["cluster_id", "operator_id"]], on="cluster_id")
    cand = hosts[["firm_id", "operator_id", "cluster_id"]].merge(firms, on="firm_id")
    nonmember = firms[~firms["firm_id"].isin(ds.memberships["firm_id"])]
    cand = pd.concat([cand, nonmember.merge(land.competence, on="stronghold_id")
                      .assign(cluster_id="")], ignore_index=True)
    cand["minutes"] = land.times.minutes[land.times.position(cand["municipality_id"]),
                                         land.times.position(cand["operator_id"].map(op_muni))]
    best = cand.sort_values(["firm_id", "minutes", "operator_id", "cluster_id"]) \
        .drop_duplicates("firm_id")
    return best.assign(share=1.0, moved=False, service="guidance")[ASSIGNMENT_COLUMNS] \
        .reset_index(drop=True)


@pytest.mark.parametrize("sparse", [False, True])
def test_status_quo_plan_equals_the_firm_by_operator_cross_product(monkeypatch, sparse):
    from klynge_opt.data.scenario import Scenario
    from klynge_opt.results.result import status_quo_plan

    if sparse:
        monkeypatch.setattr(geography, "SPARSE_ABOVE", 0)
    tables = synthetic_tables(municipalities=60, operators=25, clusters=8, firms=3000, seed=9)
    # Two firms in five lose their memberships: they go to the nearest competent operator.
    mem = tables["memberships"]
    firms = tables["firms"]["firm_id"]
    tables["memberships"] = mem[~mem["firm_id"].isin(firms[::5]) & ~mem["firm_id"].isin(
        firms[1::5])].reset_index(drop=True)
    land = build_landscape(from_tables(tables))
    assert land.dataset.kinds.empty  # the path without service layers
    got = status_quo_plan(land, Scenario())
    pd.testing.assert_frame_equal(got, _ref_status_quo(land), check_dtype=False)
    # Non-members (cluster_id "") are a real part of it.
    assert (got["cluster_id"] == "").sum() >= 1000
