"""The landscape graph, demand groups, eligible pairs and summaries, on the tiny data set."""

from __future__ import annotations

import pytest

from conftest import tiny_tables
from klynge_opt.data.dataset import from_tables
from klynge_opt.model.landscape import build_landscape, summarise


@pytest.fixture
def land():
    return build_landscape(from_tables(tiny_tables()))


def test_typed_nodes_and_relations(land):
    kinds = {k for _, k in land.graph.nodes(data="kind")}
    assert kinds == {"region", "municipality", "stronghold", "operator", "cluster", "group"}
    assert land.related("operator", "O3", "competent_in") == ["food", "ict"]
    assert land.related("operator", "O3", "hosts") == ["C3"]
    assert land.related("cluster", "C3", "covers") == ["food", "ict"]
    assert land.related("municipality", "0900", "located_in") == ["R1"]
    assert land.related("stronghold", "food", "competent_in", incoming=True) == ["O1", "O3"]
    # F04 (0201, ict) is a member of C2 and C3: one group, two member_of edges.
    assert land.related("group", "0201|ict", "member_of") == ["C2", "C3"]
    assert land.graph.edges[("group", "0102|food"), ("cluster", "C1")]["firms"] == 2.0


def test_groups_aggregate_weights(land):
    g = land.groups.set_index("group_id")
    assert len(g) == 8
    assert g.at["0102|food", "weight"] == 2.0 and g.at["0102|food", "rural"]
    assert g["weight"].sum() == 9.0


def test_eligible_pairs_respect_competence_and_radius(land):
    pairs = land.eligible_pairs()
    # Every food group may use O1 or O3, every ict group O2 or O3.
    assert len(pairs) == 2 * 8
    within = land.eligible_pairs(30)
    got = set(zip(within["group_id"], within["operator_id"], strict=True))
    # By hand from the link times (0101-0102 20, 0102-0201 40, 0201-0202 30, ferry 90):
    assert got == {("0101|food", "O1"), ("0102|food", "O1"), ("0201|food", "O3"),
                   ("0201|ict", "O2"), ("0201|ict", "O3"), ("0202|ict", "O2"),
                   ("0202|ict", "O3")}


def test_summary_numbers(land):
    s = summarise(land, radius_minutes=60)
    assert s.totals["firms"] == 9 and s.totals["rural_municipalities"] == 3
    assert s.totals["rural_firm_share"] == pytest.approx(5 / 9)  # F03 (x2), F06, F07, F08
    frag = s.fragmentation.set_index("clusters_per_firm")["firms"]
    assert frag.to_dict() == {"0": 1.0, "1": 7.0, "2": 1.0, "3+": 0.0}
    st = s.strongholds.set_index("stronghold_id")
    assert st.at["food", "clusters"] == 2 and st.at["food", "competent_capacity"] == 16
    assert st.at["ict", "competent_capacity"] == float("inf")
    assert s.far_places["municipality_id"].tolist() == ["0900"]
