"""Travel times between municipalities.

The time from municipality i to j is how long a firm in i travels to an operator in j. For a
pair (a, b), in order of precedence:

1. an explicit ``travel_times`` row: (a, b) itself, else (b, a); a full origin-destination
   matrix may thus give the two directions different times, and its diagonal (a, a)
   overrides ``intra_minutes``;
2. for a == b, the municipality's ``intra_minutes``;
3. the shortest path over ``links`` (Dijkstra), when a links table is given;
4. otherwise (no links, or no path: a different road-network component) a great-circle
   estimate: haversine distance x :data:`DETOUR_FACTOR` at :data:`SPEED_KMH`.

Explicit pairs override a pair's time; they are not used as edges for other paths.

Storage (``docs/architecture.md``, Sparse travel times). Up to :data:`SPARSE_ABOVE`
municipalities every pair is computed once into a dense matrix. Above it, a dense matrix
(and the all-pairs Dijkstra behind it) no longer fits: times are kept per origin only up to
the radius a caller asks for (:meth:`TravelTimes.reach`), and any other pair is computed
exactly when it is looked up. Both forms give every pair the same minutes, to the bit: they
run the same per-origin computation (:meth:`_Network.rows`), only over different origins.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .dataset import Dataset

EARTH_RADIUS_KM = 6371.0
#: Roads are longer than the straight line; 1.3 is a common rule of thumb for national road nets.
DETOUR_FACTOR = 1.3
#: Average door-to-door speed on Danish roads, mixing motorway and country road.
SPEED_KMH = 70.0

SOURCE_EXPLICIT = "explicit"
SOURCE_SELF = "intra"
SOURCE_LINKS = "links"
SOURCE_GREAT_CIRCLE = "great_circle"
#: Where a time came from, by code: codes (uint8) index this tuple.
SOURCE_LABELS: tuple[str, ...] = (SOURCE_EXPLICIT, SOURCE_SELF, SOURCE_LINKS,
                                  SOURCE_GREAT_CIRCLE)
CODE_EXPLICIT, CODE_SELF, CODE_LINKS, CODE_GREAT_CIRCLE = (np.uint8(c) for c in range(4))

#: Above this many municipalities travel times are sparse (radius-limited). A dense matrix
#: of 2,500 costs 56 MB (minutes and source codes); of 10,000, 900 MB plus an all-pairs
#: Dijkstra of minutes. Denmark (98) stays far below. Read at call time, so tests may lower it.
SPARSE_ABOVE = 2_500
#: A radius includes times up to ``radius + RADIUS_TOLERANCE`` (the model's own tolerance).
RADIUS_TOLERANCE = 1e-9
#: Cells of one block of origin rows computed at a time (x 9 bytes: 36 MB), so that the
#: sparse form never holds an n x n array.
CHUNK_CELLS = 4_000_000
#: Cells of exact rows kept for repeated look-ups beyond the radius (x 9 bytes: 72 MB).
ROW_CACHE_CELLS = 8_000_000

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
CodeArray = npt.NDArray[np.uint8]


def haversine_km(lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike,
                 lon2: npt.ArrayLike) -> np.ndarray:
    """Great-circle distance in km; arguments broadcast. The only great-circle formula in
    the package: travel times and the generator (memberships, synthetic links) both use it."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dlat = p2 - p1
    dlon = np.radians(lon2) - np.radians(lon1)
    h = np.sin(dlat / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))


def longitude_scale(lat: float) -> float:
    """A degree of longitude at latitude ``lat`` as a share of a degree of latitude (for
    flat maps of a small country)."""
    return float(np.cos(np.radians(lat)))


def road_minutes(km: npt.ArrayLike) -> np.ndarray:
    """Minutes by road for a straight-line distance, with the documented detour and speed;
    also what the generator's synthetic road links take."""
    return np.asarray(km) * DETOUR_FACTOR / SPEED_KMH * 60.0


def ragged_arange(starts: IntArray, counts: IntArray) -> IntArray:
    """``concat(arange(s, s + c) for s, c in zip(starts, counts))`` without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return (np.arange(total, dtype=np.int64) - np.repeat(offsets, counts)
            + np.repeat(np.asarray(starts, dtype=np.int64), counts))


@dataclass(frozen=True)
class _Network:
    """Everything a travel time is computed from, by municipality position."""

    lat: FloatArray
    lon: FloatArray
    intra: FloatArray
    #: Undirected road graph (``scipy.sparse`` CSR), None without links.
    graph: Any
    #: Connected component of each municipality in ``graph`` (None without links).
    component: IntArray | None
    #: Explicit times, precedence resolved: key ``from * n + to`` (sorted) -> minutes.
    explicit_keys: IntArray
    explicit_minutes: FloatArray

    @property
    def n(self) -> int:
        return len(self.lat)

    def _great_circle(self, origins: IntArray) -> FloatArray:
        return road_minutes(haversine_km(self.lat[origins, None], self.lon[origins, None],
                                         self.lat[None, :], self.lon[None, :]))

    def rows(self, origins: IntArray, limit: float = np.inf) -> tuple[FloatArray, CodeArray]:
        """Minutes and source codes from each of ``origins`` (distinct) to every
        municipality. With a ``limit``, road times above it may be +inf (Dijkstra stops
        there); every other entry is exact."""
        if self.graph is None:
            minutes = self._great_circle(origins)
            codes = np.full(minutes.shape, CODE_GREAT_CIRCLE)
        else:
            from scipy.sparse.csgraph import dijkstra

            minutes = dijkstra(self.graph, directed=False, indices=origins, limit=limit)
            minutes = np.asarray(minutes, dtype=np.float64).reshape(len(origins), self.n)
            codes = np.full(minutes.shape, CODE_LINKS)
            assert self.component is not None
            # No path: another component (a limit never hides a pair in the same one). Only
            # data built in code without validation gets here: validation rejects it unless
            # explicit pairs fill the gap.
            apart = self.component[origins][:, None] != self.component[None, :]
            if apart.any():
                estimate = self._great_circle(origins)
                minutes[apart] = estimate[apart]
                codes[apart] = CODE_GREAT_CIRCLE
        r = np.arange(len(origins))
        minutes[r, origins] = self.intra[origins]
        codes[r, origins] = CODE_SELF
        # Explicit pairs last: they override the diagonal too.
        row_of = np.full(self.n, -1, dtype=np.int64)
        row_of[origins] = r
        frm, to = np.divmod(self.explicit_keys, self.n)
        mine = row_of[frm] >= 0
        minutes[row_of[frm[mine]], to[mine]] = self.explicit_minutes[mine]
        codes[row_of[frm[mine]], to[mine]] = CODE_EXPLICIT
        return minutes, codes

    def chunks(self, origins: IntArray) -> list[IntArray]:
        """``origins`` in blocks of at most :data:`CHUNK_CELLS` cells of rows."""
        step = max(1, CHUNK_CELLS // max(self.n, 1))
        return [origins[k:k + step] for k in range(0, len(origins), step)]


@dataclass(frozen=True)
class _Near:
    """Every pair with a time of at most ``radius`` (+ tolerance), by origin: CSR-like,
    destinations ascending within an origin, so ``keys = from * n + to`` is sorted."""

    radius: float
    indptr: IntArray
    #: int32: half the memory of the biggest array (10,000 municipalities: 3·10⁷ entries).
    to: npt.NDArray[np.int32]
    minutes: FloatArray
    codes: CodeArray

    def keys(self, n: int) -> IntArray:
        frm = np.repeat(np.arange(len(self.indptr) - 1, dtype=np.int64), np.diff(self.indptr))
        return frm * n + self.to


class TravelTimes:
    """Minutes from row municipality (a firm's) to column municipality (an operator's), with
    where each came from; symmetric unless explicit travel times differ by direction.

    Positions index ``ids``. Look pairs up with :meth:`lookup` / :meth:`between`, and list
    the pairs within a radius with :meth:`reach`: both work the same in the dense and in the
    sparse form. :attr:`minutes`, :attr:`source` and :meth:`frame` materialise every pair
    (O(n²) memory): for small data and tests.
    """

    def __init__(self, ids: pd.Index, network: _Network, *, sparse: bool) -> None:
        self.ids = ids
        self._net = network
        self._dense = None if sparse else network.rows(np.arange(len(ids), dtype=np.int64))
        self._near: _Near | None = None
        self._near_keys: IntArray | None = None
        self._rows: OrderedDict[int, tuple[FloatArray, CodeArray]] = OrderedDict()

    @property
    def sparse(self) -> bool:
        return self._dense is None

    @property
    def held_radius(self) -> float | None:
        """Every pair within this many minutes is held: inf in the dense form; in the
        sparse form the largest radius asked of :meth:`reach` so far (None before)."""
        if self._dense is not None:
            return math.inf
        return None if self._near is None else self._near.radius

    @property
    def held_pairs(self) -> int:
        """How many (origin, destination) times are held: n² dense, those within
        :attr:`held_radius` sparse."""
        if self._dense is not None:
            return int(self._dense[0].size)
        return 0 if self._near is None else len(self._near.to)

    # ------------------------------------------------------------------ look-ups
    def position(self, municipality_ids: pd.Series | list[str] | np.ndarray) -> np.ndarray:
        pos = self.ids.get_indexer(pd.Index(municipality_ids))
        if (pos < 0).any():
            raise KeyError("unknown municipality id")
        return pos

    def between(self, a: str, b: str) -> float:
        i, j = self.position([a, b])
        return float(self.lookup(i, j))

    def lookup(self, from_pos: npt.ArrayLike, to_pos: npt.ArrayLike) -> FloatArray:
        """Minutes for each (from, to) position pair; arguments broadcast like an index."""
        return self._lookup(from_pos, to_pos)[0]

    def source_of(self, from_pos: npt.ArrayLike, to_pos: npt.ArrayLike) -> np.ndarray:
        """Source labels (:data:`SOURCE_LABELS`) for each (from, to) position pair."""
        return np.asarray(SOURCE_LABELS, dtype=object)[self._lookup(from_pos, to_pos)[1]]

    def _lookup(self, from_pos: npt.ArrayLike, to_pos: npt.ArrayLike,
                ) -> tuple[FloatArray, CodeArray]:
        i, j = np.broadcast_arrays(np.asarray(from_pos, dtype=np.int64),
                                   np.asarray(to_pos, dtype=np.int64))
        if self._dense is not None:
            return self._dense[0][i, j], self._dense[1][i, j]
        shape = i.shape
        i, j = i.ravel(), j.ravel()
        minutes = np.full(i.size, np.nan)
        codes = np.zeros(i.size, dtype=np.uint8)
        miss = np.ones(i.size, dtype=bool)
        if self._near is not None and self._near_keys is None:
            # Built at the first look-up only: listing pairs by radius does not need it.
            self._near_keys = self._near.keys(len(self.ids))
        if self._near is not None and self._near_keys is not None and len(self._near_keys):
            keys = i * len(self.ids) + j
            at = np.minimum(np.searchsorted(self._near_keys, keys), len(self._near_keys) - 1)
            hit = self._near_keys[at] == keys
            minutes[hit] = self._near.minutes[at[hit]]
            codes[hit] = self._near.codes[at[hit]]
            miss = ~hit
        # Beyond the radius: exact rows of the origins concerned, computed on demand, pairs
        # grouped by origin so that each row serves all its pairs at once.
        order = np.flatnonzero(miss)
        order = order[np.argsort(i[order], kind="stable")]
        origins, starts = np.unique(i[order], return_index=True)
        ends = np.r_[starts[1:], len(order)][:len(starts)]
        span = dict(zip(origins.tolist(), zip(starts.tolist(), ends.tolist(), strict=True),
                        strict=True))
        for origin, (row_minutes, row_codes) in self._exact_rows(origins):
            at = order[slice(*span[origin])]
            minutes[at] = row_minutes[j[at]]
            codes[at] = row_codes[j[at]]
        return minutes.reshape(shape), codes.reshape(shape)

    def _exact_rows(self, origins: IntArray,
                    ) -> Iterator[tuple[int, tuple[FloatArray, CodeArray]]]:
        """Every-destination rows of ``origins``: from a small cache, else computed a block
        at a time (a generator, so that only one block is held)."""
        todo = []
        for o in origins.tolist():
            if o in self._rows:
                yield o, self._rows[o]
            else:
                todo.append(o)
        keep = max(1, ROW_CACHE_CELLS // max(len(self.ids), 1))
        for block in self._net.chunks(np.asarray(todo, dtype=np.int64)):
            minutes, codes = self._net.rows(block)
            for k, o in enumerate(block.tolist()):
                row = (minutes[k].copy(), codes[k].copy())
                self._rows[o] = row
                if len(self._rows) > keep:
                    self._rows.popitem(last=False)
                yield o, row

    # ------------------------------------------------------------------ radius queries
    def reach(self, origins: npt.ArrayLike, destinations: npt.ArrayLike,
              max_minutes: float | None) -> tuple[IntArray, IntArray, FloatArray]:
        """``(from, to, minutes)`` for every pair of a position in ``origins`` and one in
        ``destinations`` (both distinct) with minutes <= ``max_minutes`` (+ tolerance); every
        such pair when ``max_minutes`` is None. Order unspecified."""
        o = np.asarray(origins, dtype=np.int64)
        d = np.asarray(destinations, dtype=np.int64)
        if max_minutes is None:
            frm, to = np.repeat(o, len(d)), np.tile(d, len(o))
            return frm, to, self.lookup(frm, to)
        bound = max_minutes + RADIUS_TOLERANCE
        if self._dense is not None:
            sub = self._dense[0][np.ix_(o, d)]
            r, c = np.nonzero(sub <= bound)
            return o[r], d[c], sub[r, c]
        near = self._near_within(max_minutes)
        counts = near.indptr[o + 1] - near.indptr[o]
        at = ragged_arange(near.indptr[o], counts)
        frm = np.repeat(o, counts)
        wanted = np.zeros(len(self.ids), dtype=bool)
        wanted[d] = True
        to = near.to[at].astype(np.int64)
        keep = wanted[to] & (near.minutes[at] <= bound)
        return frm[keep], to[keep], near.minutes[at][keep]

    def _near_within(self, radius: float) -> _Near:
        """The pairs within ``radius``, computed once for the largest radius asked so far."""
        if self._near is not None and radius <= self._near.radius:
            return self._near
        net, n = self._net, len(self.ids)
        bound = radius + RADIUS_TOLERANCE
        to: list[npt.NDArray[np.int32]] = []
        minutes: list[FloatArray] = []
        codes: list[CodeArray] = []
        counts = np.zeros(n, dtype=np.int64)
        for block in net.chunks(np.arange(n, dtype=np.int64)):
            # Dijkstra may stop a little beyond the bound; what it returns below is exact.
            m, c = net.rows(block, limit=bound + RADIUS_TOLERANCE)
            r, j = np.nonzero(m <= bound)
            counts[block] = np.bincount(r, minlength=len(block))
            to.append(j.astype(np.int32))
            minutes.append(m[r, j])
            codes.append(c[r, j])
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._near = _Near(radius, indptr, np.concatenate(to), np.concatenate(minutes),
                           np.concatenate(codes))
        self._near_keys = None
        return self._near

    # ------------------------------------------------------------------ every pair
    @property
    def minutes(self) -> FloatArray:
        """The n x n matrix (materialised in the sparse form: small data and tests only)."""
        return self._all()[0]

    @property
    def source(self) -> np.ndarray:
        """The n x n matrix of source labels (materialised: small data and tests only)."""
        return np.asarray(SOURCE_LABELS, dtype=object)[self._all()[1]]

    def _all(self) -> tuple[FloatArray, CodeArray]:
        if self._dense is not None:
            return self._dense
        return self._net.rows(np.arange(len(self.ids), dtype=np.int64))

    def frame(self) -> pd.DataFrame:
        """Long table from_id, to_id, minutes, source (every ordered pair)."""
        n = len(self.ids)
        minutes, codes = self._all()
        return pd.DataFrame({
            "from_id": np.repeat(self.ids.to_numpy(), n),
            "to_id": np.tile(self.ids.to_numpy(), n),
            "minutes": minutes.ravel(),
            "source": np.asarray(SOURCE_LABELS, dtype=object)[codes.ravel()],
        })


def travel_times(dataset: Dataset, *, sparse: bool | None = None) -> TravelTimes:
    """Travel times of ``dataset``; ``sparse`` None: sparse above :data:`SPARSE_ABOVE`
    municipalities."""
    munis = dataset.municipalities
    ids = pd.Index(munis["municipality_id"])
    n = len(ids)
    links = dataset.links
    graph = component = None
    if not links.empty:
        from scipy.sparse.csgraph import connected_components

        graph = _graph(ids, links)
        component = connected_components(graph, directed=False)[1].astype(np.int64)
    keys, minutes = _explicit(ids, dataset.travel_times)
    network = _Network(munis["lat"].to_numpy(float), munis["lon"].to_numpy(float),
                       munis["intra_minutes"].to_numpy(float), graph, component, keys,
                       minutes)
    return TravelTimes(ids, network, sparse=n > SPARSE_ABOVE if sparse is None else sparse)


def _explicit(ids: pd.Index, explicit: pd.DataFrame) -> tuple[IntArray, FloatArray]:
    """Explicit rows as sorted keys ``from * n + to``: each row sets its own pair and the
    reverse one, a row given for a direction beating the reverse of another (later rows
    win among equals, as row-by-row assignment would)."""
    n = len(ids)
    if explicit.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    i = ids.get_indexer(explicit["from_id"]).astype(np.int64)
    j = ids.get_indexer(explicit["to_id"]).astype(np.int64)
    value = explicit["minutes"].to_numpy(float)
    keys = np.concatenate([j * n + i, i * n + j])
    values = np.concatenate([value, value])
    # The last occurrence of each key wins: forward rows come after all reverse ones.
    last = len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1]
    return keys[last], values[last]


def _graph(ids: pd.Index, links: pd.DataFrame) -> Any:
    """The undirected road graph: a CSR matrix of link minutes, upper triangle."""
    from scipy.sparse import csr_array

    a = ids.get_indexer(links["from_id"])
    b = ids.get_indexer(links["to_id"])
    edges = pd.DataFrame({"u": np.minimum(a, b), "v": np.maximum(a, b),
                          "w": links["minutes"].to_numpy(float)})
    # Parallel links (validation rejects them) keep the faster one; a sparse matrix would
    # add them up. A zero-minute link stays an edge: stored zeros are edges to csgraph.
    edges = edges.groupby(["u", "v"], sort=False, as_index=False)["w"].min()
    n = len(ids)
    return csr_array((edges["w"].to_numpy(), (edges["u"].to_numpy(), edges["v"].to_numpy())),
                     shape=(n, n))


def _shortest_paths(ids: pd.Index, links: pd.DataFrame) -> np.ndarray:
    """All-pairs shortest travel minutes over the undirected links (inf where unreachable).

    Dijkstra from every source in compiled code (``scipy.sparse.csgraph``): networkx's
    per-source Python loop took most of a landscape build at a few thousand municipalities.
    """
    from scipy.sparse.csgraph import dijkstra

    return dijkstra(_graph(ids, links), directed=False)
