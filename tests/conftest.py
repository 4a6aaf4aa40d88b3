"""Shared fixtures: a tiny hand-made landscape small enough to reason about by hand."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from klynge_opt.data import orlib
from klynge_opt.data.loading import write_tables

#: The repository root, so tests do not depend on the working directory.
ROOT = Path(__file__).resolve().parents[1]


def tiny_tables() -> dict[str, pd.DataFrame]:
    """Two regions, four municipalities (one an island reached by ferry), two strongholds.

    Travel times over links: A1-A2 20, A2-B1 40, B1-B2 30, A1-I 90 (ferry to the island I).
    """
    return {
        "regions": pd.DataFrame({"region_id": ["R1", "R2"], "name": ["North", "South"]}),
        "municipalities": pd.DataFrame({
            "municipality_id": ["0101", "0102", "0201", "0202", "0900"],
            "name": ["A1", "A2", "B1", "B2", "Island"],
            "region_id": ["R1", "R1", "R2", "R2", "R1"],
            "lat": [56.0, 56.1, 55.5, 55.4, 57.0],
            "lon": [10.0, 10.2, 10.1, 9.9, 11.0],
            "rural": [False, True, False, True, True],
            "population": [50000, 8000, 40000, 9000, 2000],
            "intra_minutes": [10, 8, 10, 8, 5],
        }),
        "strongholds": pd.DataFrame({
            "stronghold_id": ["food", "ict"], "name": ["Food", "ICT"],
            "skill_shortage_2025": [2000, 500], "weight": [1.0, 2.0]}),
        "operators": pd.DataFrame({
            "operator_id": ["O1", "O2", "O3"],
            "name": ["Food North", "ICT South", "Hub South"],
            "municipality_id": ["0101", "0201", "0202"],
            "kind": ["cluster_organisation", "cluster_organisation", "vaeksthus"],
            "annual_cost": [1000.0, 1500.0, 800.0],
            "capacity": [10.0, None, 6.0],
            "closure_cost": [100.0, 0.0, 50.0],
        }),
        "operator_strongholds": pd.DataFrame({
            "operator_id": ["O1", "O2", "O3", "O3"],
            "stronghold_id": ["food", "ict", "food", "ict"]}),
        "clusters": pd.DataFrame({
            "cluster_id": ["C1", "C2", "C3"],
            "name": ["Food Cluster", "ICT Cluster", "South Network"],
            "operator_id": ["O1", "O2", "O3"],
            "budget": [5e6, 8e6, 1e6],
            "label": ["gold", "silver", "none"],
            "gold_upgrade_cost": [None, 300.0, None],
            "knowledge_partners": [4, 3, 0]}),
        "cluster_strongholds": pd.DataFrame({
            "cluster_id": ["C1", "C2", "C3", "C3"],
            "stronghold_id": ["food", "ict", "food", "ict"]}),
        "firms": pd.DataFrame({
            "firm_id": [f"F{i:02d}" for i in range(1, 9)],
            "municipality_id": ["0101", "0101", "0102", "0201", "0201", "0202", "0900", "0102"],
            "stronghold_id": ["food", "ict", "food", "ict", "food", "ict", "food", "ict"],
            "employees": [10, 20, 5, 50, 7, 3, 2, 12],
            "growth": [True, False, False, True, False, False, False, True],
            "weight": [1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0]}),
        "memberships": pd.DataFrame({
            "firm_id": ["F01", "F02", "F03", "F04", "F04", "F05", "F06", "F07"],
            "cluster_id": ["C1", "C2", "C1", "C2", "C3", "C3", "C3", "C1"]}),
        "links": pd.DataFrame({
            "from_id": ["0101", "0102", "0201", "0101"],
            "to_id": ["0102", "0201", "0202", "0900"],
            "minutes": [20.0, 40.0, 30.0, 90.0],
            "mode": ["road", "road", "road", "ferry"]}),
    }


def layered_tables() -> dict[str, pd.DataFrame]:
    """The tiny landscape with service layers: a kinds table, two municipal business councils
    (L1 in A1, L2 in B1), the væksthus O3 as the entry point, O1/O2 as cluster organisations,
    and an out-of-scope GTS institute G1 (annual cost 5000).

    Guidance demand (growth firms): F01 (A1 food), F04 (B1 ict), F08 (A2 ict): 3 firms, all
    within O3's reach. Cluster demand (members): F01-F07, weight 8.
    """
    t = tiny_tables()
    t["kinds"] = pd.DataFrame({
        "kind": ["local_service", "vaeksthus", "cluster_organisation", "gts_institute"],
        "layer": ["local_service", "entry_point", "cluster", "other"],
        "in_scope": [True, True, True, False],
        "description": ["Municipal business council", "Regional growth house",
                        "Cluster organisation", "GTS institute (state level)"]})
    extra = pd.DataFrame({
        "operator_id": ["L1", "L2", "G1"], "name": ["Council A1", "Council B1", "GTS South"],
        "municipality_id": ["0101", "0201", "0202"],
        "kind": ["local_service", "local_service", "gts_institute"],
        "annual_cost": [200.0, 300.0, 5000.0], "capacity": [None, None, None],
        "closure_cost": [0.0, 0.0, 0.0]})
    t["operators"] = pd.concat([t["operators"], extra], ignore_index=True)
    t["operator_strongholds"] = pd.concat([t["operator_strongholds"], pd.DataFrame(
        {"operator_id": ["G1"], "stronghold_id": ["food"]})], ignore_index=True)
    return t


def second_food_cluster_of_o1(tables: dict[str, pd.DataFrame]) -> None:
    """Make C3 a food-only cluster hosted by O1, beside C1 (clusters_per_host has a row)."""
    tables["clusters"]["operator_id"] = ["O1", "O2", "O1"]
    cs = tables["cluster_strongholds"]
    tables["cluster_strongholds"] = cs[(cs["cluster_id"] != "C3")
                                       | (cs["stronghold_id"] == "food")]


@pytest.fixture
def tiny() -> dict[str, pd.DataFrame]:
    return tiny_tables()


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    return write_tables(tiny_tables(), tmp_path / "tiny")


#: The OR-Library copy shipped with the tests. orlib.orlib_root() finds it in an editable
#: install; this covers klynge_opt installed from a wheel while the tests run from a checkout.
ORLIB_COPY = ROOT / "tests" / "data" / "orlib"


@pytest.fixture(scope="module")
def root() -> Path:
    """The OR-Library instances (``tests/data/orlib``); tests needing them skip without."""
    env = os.environ.get(orlib.ENV_VAR)
    found = orlib.orlib_root()
    if found is None and not env and ORLIB_COPY.is_dir():
        found = ORLIB_COPY
    if found is None:
        if env:
            where = f"${orlib.ENV_VAR}={env} (set, so nothing else is looked at)"
        else:
            paths = (orlib.REPO_ORLIB, orlib.SHARED_ORLIB, ORLIB_COPY)
            where = ", ".join(dict.fromkeys(str(p) for p in paths))
        pytest.skip(f"OR-Library instances not found: no directory at {where}; "
                    f"point ${orlib.ENV_VAR} at a directory holding cap/ and pmed/")
    return found
