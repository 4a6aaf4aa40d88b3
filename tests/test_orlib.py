"""Parser and reduction tests for the OR-Library readers.

The instances live outside the repository; tests that need them skip when they are absent.
Ground truths here use no solver: brute force over tiny or uncapacitated cases only.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from klynge_opt.data import orlib
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.geography import travel_times
from klynge_opt.data.schema import TABLE_BY_NAME, TABLES

# cap71–74, cap101–104 and cap131–134 have capacity = total demand, so their capacitated and
# uncapacitated optima must coincide.
NON_BINDING = orlib.NON_BINDING_CAP



def _header(path: Path) -> list[int]:
    # Read independently of the parser so a shifted token stream would be caught.
    with path.open() as fh:
        return [int(tok) for tok in fh.readline().split()]


def _check_contract(tables: dict[str, pd.DataFrame]) -> None:
    """Columns exactly as the schema, ids present and unique, references resolvable."""
    assert list(tables) == [t.name for t in TABLES]
    for table in TABLES:
        df = tables[table.name]
        assert list(df.columns) == list(table.column_names), table.name
        for col in table.columns:
            series = df[col.name]
            if col.kind == "id":
                assert series.notna().all(), (table.name, col.name)
                assert all(isinstance(v, str) and v.strip() for v in series), (table.name, col.name)
            if col.required:
                assert series.notna().all(), (table.name, col.name)
            if col.kind in ("number", "integer") and col.minimum is not None:
                present = series.dropna()
                if col.exclusive_minimum:
                    assert (present > col.minimum).all(), (table.name, col.name)
                else:
                    assert (present >= col.minimum).all(), (table.name, col.name)
            if col.choices is not None:
                assert set(series.dropna()) <= set(col.choices), (table.name, col.name)
            if col.references is not None:
                ref_table, ref_col = col.references.split(".")
                if tables[ref_table].empty and TABLE_BY_NAME[ref_table].optional:
                    continue  # an optional table without rows counts as absent (kinds)
                assert set(series) <= set(tables[ref_table][ref_col]), (table.name, col.name)
        assert not df.duplicated(subset=list(table.key)).any(), table.name


# --------------------------------------------------------------------------------------------
# Root discovery
# --------------------------------------------------------------------------------------------


def test_orlib_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(orlib.ENV_VAR, str(tmp_path))
    assert orlib.orlib_root() == tmp_path
    monkeypatch.setenv(orlib.ENV_VAR, str(tmp_path / "missing"))
    assert orlib.orlib_root() is None


def test_cap_names_are_the_37_instances() -> None:
    assert len(orlib.CAP_NAMES) == 37
    assert len(set(orlib.CAP_NAMES)) == 37


# --------------------------------------------------------------------------------------------
# Capacitated warehouse location
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", orlib.CAP_NAMES)
def test_read_cap_matches_header(root: Path, name: str) -> None:
    path = root / "cap" / f"{name}.txt"
    m, n = _header(path)
    inst = orlib.read_cap(path)
    assert inst.name == name
    assert (inst.n_warehouses, inst.n_customers) == (m, n)
    assert len(inst.fixed_costs) == m
    assert len(inst.costs) == n
    assert all(len(row) == m for row in inst.costs)
    assert sum(inst.demands) <= sum(inst.capacities)
    # A fact about these files: no zero demand, so every customer becomes a firm.
    assert min(inst.demands) > 0


def test_capopt_lists_every_instance(root: Path) -> None:
    optima = orlib.read_cap_optima(root / "cap" / "capopt.txt")
    assert set(orlib.CAP_NAMES) <= set(optima)
    assert optima["cap41"] == pytest.approx(1040444.375)
    assert optima["cap134"] == pytest.approx(928941.750)
    # capa has one optimum per capacity variant, never one for the file as written.
    assert optima["capa@8000"] == pytest.approx(19240822.449)
    assert "capa" not in optima


def test_non_binding_instances_agree_with_uncapopt(root: Path) -> None:
    cap = orlib.read_cap_optima(root / "cap" / "capopt.txt")
    uncap = orlib.read_uncap_optima(root / "cap" / "uncapopt.txt")
    for name in NON_BINDING:
        inst = orlib.read_cap(root / "cap" / f"{name}.txt")
        assert min(inst.capacities) >= sum(inst.demands)
        assert cap[name] == pytest.approx(uncap[name], abs=2e-3)


def test_read_cap_wrapped_lines_and_zero_demand(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    # Customer 2 has zero demand; customer 3's costs wrap onto a second line.
    path.write_text("2 3\n 10 100.\n 20 50.\n4 8.0 12.0\n0 5 6\n2 3.\n 7.\n")
    inst = orlib.read_cap(path)
    assert inst.capacities == (10.0, 20.0)
    assert inst.fixed_costs == (100.0, 50.0)
    assert inst.demands == (4.0, 0.0, 2.0)
    assert inst.costs == ((8.0, 12.0), (5.0, 6.0), (3.0, 7.0))

    tables = orlib.cap_tables(inst)
    _check_contract(tables)
    assert list(tables["municipalities"]["municipality_id"]) == [
        "c001", "c002", "c003", "w01", "w02",
    ]
    firms = tables["firms"]
    assert list(firms["municipality_id"]) == ["c001", "c003"]
    assert list(firms["weight"]) == [4.0, 2.0]
    tt = tables["travel_times"].set_index(["from_id", "to_id"])["minutes"]
    assert "c002" not in set(tables["travel_times"]["from_id"])
    assert tt[("c001", "w02")] == pytest.approx(3.0)
    assert tt[("c003", "w01")] == pytest.approx(1.5)


def test_read_cap_placeholder_capacity(tmp_path: Path) -> None:
    path = tmp_path / "capx.txt"
    path.write_text("1 1\n capacity 9.\n3 4.\n")
    with pytest.raises(ValueError, match="placeholder"):
        orlib.read_cap(path)
    assert orlib.read_cap(path, capacity=7).capacities == (7.0,)


def test_read_cap_rejects_wrong_token_count(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("2 1\n 10 1.\n 10 1.\n3 4.\n")
    with pytest.raises(ValueError, match="needs 9 numbers"):
        orlib.read_cap(path)


def test_cap_tables_reduction(root: Path) -> None:
    inst = orlib.read_cap(root / "cap" / "cap41.txt")
    tables = orlib.cap_tables(inst)
    _check_contract(tables)
    m, n = inst.n_warehouses, inst.n_customers

    assert list(tables["regions"]["region_id"]) == ["R"]
    assert list(tables["strongholds"]["stronghold_id"]) == ["S"]
    assert list(tables["strongholds"]["weight"]) == [1.0]
    muni = tables["municipalities"]
    assert len(muni) == m + n
    assert (muni[["lat", "lon", "intra_minutes"]] == 0).all().all()
    assert not muni["rural"].any()

    ops = tables["operators"]
    assert list(ops["operator_id"]) == [f"w{i + 1:02d}" for i in range(m)]
    assert list(ops["municipality_id"]) == list(ops["operator_id"])
    assert list(ops["annual_cost"]) == list(inst.fixed_costs)
    assert list(ops["capacity"]) == list(inst.capacities)
    assert (ops["closure_cost"] == 0).all()
    assert len(tables["operator_strongholds"]) == m

    clusters = tables["clusters"]
    assert list(clusters["cluster_id"]) == [f"K_{o}" for o in ops["operator_id"]]
    assert list(clusters["operator_id"]) == list(ops["operator_id"])
    assert (clusters["budget"] == 0).all()
    assert (clusters["label"] == "none").all()
    assert clusters["gold_upgrade_cost"].isna().all()
    assert (clusters["knowledge_partners"] == 0).all()
    assert len(tables["cluster_strongholds"]) == m

    firms = tables["firms"]
    assert list(firms["municipality_id"]) == [f"c{j + 1:03d}" for j in range(n)]
    assert list(firms["weight"]) == list(inst.demands)
    assert tables["memberships"].empty
    assert tables["links"].empty

    # Every pair present, and weight × minutes gives back the whole-demand cost.
    tt = tables["travel_times"].set_index(["from_id", "to_id"])["minutes"]
    assert len(tt) == m * n
    for j, cid in enumerate(firms["municipality_id"]):
        for i, wid in enumerate(ops["operator_id"]):
            assert inst.demands[j] * tt[(cid, wid)] == pytest.approx(inst.costs[j][i], rel=1e-12)


def test_cap_scaling_preserves_cheapest_assignment(root: Path) -> None:
    """Σ_j d_j · min_i (c_ij / d_j) computed from the tables equals Σ_j min_i c_ij."""
    inst = orlib.read_cap(root / "cap" / "cap41.txt")
    tables = orlib.cap_tables(inst)
    tt = tables["travel_times"]
    nearest = tt.groupby("from_id")["minutes"].min()
    weights = tables["firms"].set_index("municipality_id")["weight"]
    from_tables = float((weights * nearest.reindex(weights.index)).sum())
    from_file = sum(min(row) for row in inst.costs)
    assert from_tables == pytest.approx(from_file, rel=1e-12)


def test_uncapacitated_brute_force_from_tables(root: Path) -> None:
    """cap71's optimum by enumerating all 2^16 - 1 open sets over the tables, no solver.

    Capacity equals total demand there, so each customer simply goes to its cheapest open
    warehouse and the published optimum must come out of fixed costs and travel times alone.
    """
    tables = orlib.cap_tables(orlib.read_cap(root / "cap" / "cap71.txt"))
    ops = tables["operators"]
    firms = tables["firms"]
    minutes = tables["travel_times"].pivot(index="from_id", columns="to_id", values="minutes")
    minutes = minutes.loc[firms["municipality_id"], ops["municipality_id"]].to_numpy()
    service = firms["weight"].to_numpy()[:, None] * minutes  # customers × warehouses
    fixed = ops["annual_cost"].to_numpy()

    m = len(fixed)
    masks = np.arange(1, 2**m)
    best = math.inf
    for chunk in np.array_split(masks, 32):
        is_open = ((chunk[:, None] >> np.arange(m)) & 1).astype(bool)
        cost = np.where(is_open[:, None, :], service[None, :, :], np.inf).min(axis=2).sum(axis=1)
        best = min(best, float((cost + is_open @ fixed).min()))

    expected = orlib.read_cap_optima(root / "cap" / "capopt.txt")["cap71"]
    assert best == pytest.approx(expected, abs=1e-2)


def test_pmed1_keeps_last_occurrence(root: Path) -> None:
    inst = orlib.read_pmed(root / "pmed" / "pmed1.txt")
    costs = {(a, b): c for a, b, c in inst.edges}
    # pmed1 lists 19–20 at cost 22 and later 20–19 at cost 30; 30 is what the optimum assumes.
    assert costs[(19, 20)] == 30
    assert costs[(30, 70)] == 74
    assert len(inst.edges) == 198


def test_pmedopt(root: Path) -> None:
    optima = orlib.read_pmed_optima(root / "pmed" / "pmedopt.txt")
    assert set(optima) == set(orlib.PMED_NAMES)
    assert optima["pmed1"] == 5819
    assert optima["pmed40"] == 5128


def test_read_pmed_last_occurrence_wins(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text("3 4 1\n1 2 5\n2 3 7\n2 1 9\n3 3 4\n")
    inst = orlib.read_pmed(path)
    assert (inst.n, inst.n_edges, inst.p) == (3, 4, 1)
    assert inst.edges == ((1, 2, 9.0), (2, 3, 7.0))

    links = orlib.pmed_tables(inst)["links"]
    assert list(links.itertuples(index=False, name=None)) == [
        ("n001", "n002", 9.0, "road"),
        ("n002", "n003", 7.0, "road"),
    ]


def test_pmed_tables_reduction(root: Path) -> None:
    inst = orlib.read_pmed(root / "pmed" / "pmed1.txt")
    tables = orlib.pmed_tables(inst)
    _check_contract(tables)
    nodes = [f"n{v:03d}" for v in range(1, 101)]
    assert list(tables["municipalities"]["municipality_id"]) == nodes
    ops = tables["operators"]
    assert list(ops["municipality_id"]) == nodes
    assert (ops["annual_cost"] == 0).all()
    assert ops["capacity"].isna().all()
    assert list(tables["clusters"]["operator_id"]) == list(ops["operator_id"])
    assert list(tables["firms"]["municipality_id"]) == nodes
    assert (tables["firms"]["weight"] == 1).all()
    assert len(tables["links"]) == len(inst.edges)
    assert tables["travel_times"].empty
    assert tables["memberships"].empty


# A hand-made instance: a 5-cycle whose pair 1–2 is listed twice, plus a self-loop.
# With the last cost (8) the 2-median optimum is 14 (open {1, 3} or {1, 4}, worked by hand);
# keeping the first cost (3) instead would give 11 (open {2, 4}).
TINY_PMED = "5 7 2\n1 2 3\n2 3 4\n3 4 2\n4 5 6\n1 5 10\n2 1 8\n3 3 5\n"
TINY_EDGES_LAST_WINS = {(1, 2): 8, (2, 3): 4, (3, 4): 2, (4, 5): 6, (1, 5): 10}


def _brute_force_p_median(graph: nx.Graph, p: int) -> float:
    dist = dict(nx.all_pairs_dijkstra_path_length(graph, weight="weight"))
    nodes = sorted(graph.nodes)
    return min(
        sum(min(dist[v][o] for o in open_set) for v in nodes)
        for open_set in itertools.combinations(nodes, p)
    )


def test_pmed_tables_brute_force_ground_truth(tmp_path: Path) -> None:
    path = tmp_path / "tiny.txt"
    path.write_text(TINY_PMED)
    inst = orlib.read_pmed(path)
    tables = orlib.pmed_tables(inst)
    _check_contract(tables)

    # Ground truth straight from the hand-written edges, bypassing the reader and tables.
    truth_graph = nx.Graph()
    truth_graph.add_weighted_edges_from((a, b, c) for (a, b), c in TINY_EDGES_LAST_WINS.items())
    truth = _brute_force_p_median(truth_graph, inst.p)
    assert truth == 14

    # The same objective evaluated from the tables: firms' weights and operators' locations,
    # distances as shortest paths over links.
    graph = nx.Graph()
    graph.add_nodes_from(tables["municipalities"]["municipality_id"])
    for row in tables["links"].itertuples(index=False):
        graph.add_edge(row.from_id, row.to_id, weight=row.minutes)
    dist = dict(nx.all_pairs_dijkstra_path_length(graph, weight="weight"))
    firms = list(tables["firms"][["municipality_id", "weight"]].itertuples(index=False))
    sites = list(tables["operators"]["municipality_id"])
    from_tables = min(
        sum(f.weight * min(dist[f.municipality_id][o] for o in open_set) for f in firms)
        for open_set in itertools.combinations(sites, inst.p)
    )
    assert from_tables == truth

    # The trap this guards against: keeping the first (cheaper) duplicate changes the answer.
    first_wins = nx.Graph()
    first_wins.add_weighted_edges_from(
        (a, b, 3 if (a, b) == (1, 2) else c) for (a, b), c in TINY_EDGES_LAST_WINS.items()
    )
    assert _brute_force_p_median(first_wins, inst.p) == 11


def test_tables_load_cleanly_and_give_the_intended_times(root: Path, tmp_path: Path) -> None:
    """The project's own validation accepts the reductions, and its travel times are ours."""
    cap = orlib.read_cap(root / "cap" / "cap41.txt")
    ds = from_tables(orlib.cap_tables(cap), "cap41")
    assert not ds.warnings
    times = travel_times(ds)
    for j in range(cap.n_customers):
        for i in range(cap.n_warehouses):
            minutes = times.between(f"c{j + 1:03d}", f"w{i + 1:02d}")
            assert cap.demands[j] * minutes == pytest.approx(cap.costs[j][i], rel=1e-12, abs=1e-9)

    path = tmp_path / "tiny.txt"
    path.write_text(TINY_PMED)
    ds = from_tables(orlib.pmed_tables(orlib.read_pmed(path)), "tiny")
    assert not ds.warnings
    times = travel_times(ds)
    truth = nx.Graph()
    truth.add_weighted_edges_from((a, b, c) for (a, b), c in TINY_EDGES_LAST_WINS.items())
    for a, lengths in nx.all_pairs_dijkstra_path_length(truth, weight="weight"):
        for b, length in lengths.items():
            assert times.between(f"n{a:03d}", f"n{b:03d}") == length


def test_table_contract_covers_every_schema_table() -> None:
    # Guards the reductions against a schema that gains a table they do not fill.
    inst = orlib.PMedInstance(name="two", n=2, p=1, n_edges=1, edges=((1, 2, 1.0),))
    assert set(orlib.pmed_tables(inst)) == set(TABLE_BY_NAME)
