"""Travel times over links: the compiled all-pairs Dijkstra against networkx, graph by graph."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from klynge_opt.data.geography import _shortest_paths


def _reference(n: int, links: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """Shortest minutes by networkx, one Dijkstra per source (what the code did before)."""
    g = nx.Graph()
    g.add_nodes_from(range(n))
    for u, v, w in zip(ids.get_indexer(links["from_id"]), ids.get_indexer(links["to_id"]),
                       links["minutes"], strict=True):
        if not (g.has_edge(u, v) and g[u][v]["weight"] <= w):
            g.add_edge(int(u), int(v), weight=float(w))
    out = np.full((n, n), np.inf)
    for src, lengths in nx.all_pairs_dijkstra_path_length(g, weight="weight"):
        for dst, d in lengths.items():
            out[src, dst] = d
    return out


@st.composite
def _graphs(draw):
    n = draw(st.integers(1, 25))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(
        lambda p: p[0] != p[1])
    # Zero-minute links (a bridge inside a town) and parallel links (the faster counts).
    edges = draw(st.lists(st.tuples(pairs, st.sampled_from([0.0, 0.5, 3.0, 12.0, 45.0])),
                          max_size=3 * n))
    ids = pd.Index([f"m{i:02d}" for i in range(n)])
    links = pd.DataFrame({"from_id": [ids[a] for (a, _), _ in edges],
                          "to_id": [ids[b] for (_, b), _ in edges],
                          "minutes": [w for _, w in edges]}, dtype=object)
    links["minutes"] = links["minutes"].astype(float)
    return n, ids, links


@settings(max_examples=80, deadline=None)
@given(_graphs())
def test_shortest_paths_equal_networkx(graph):
    n, ids, links = graph
    got = _shortest_paths(ids, links)
    want = _reference(n, links, ids)
    assert got.shape == (n, n)
    assert np.array_equal(np.isinf(got), np.isinf(want))  # the same pairs unreachable
    np.testing.assert_allclose(got[np.isfinite(got)], want[np.isfinite(want)])


def test_a_zero_minute_link_joins_and_the_faster_parallel_link_counts():
    ids = pd.Index(["a", "b", "c", "d"])
    links = pd.DataFrame({"from_id": ["a", "b", "b", "c"], "to_id": ["b", "c", "c", "b"],
                          "minutes": [0.0, 30.0, 10.0, 20.0]})
    got = _shortest_paths(ids, links)
    assert got[0, 1] == 0.0 and got[0, 2] == 10.0 and got[2, 0] == 10.0
    assert np.isinf(got[0, 3]) and got[3, 3] == 0.0
