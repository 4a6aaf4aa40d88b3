"""Travel times between municipalities.

``minutes[i, j]`` is the time from municipality i to j; a firm in i travels to an operator in
j. For a pair (a, b), in order of precedence:

1. an explicit ``travel_times`` row: (a, b) itself, else (b, a); a full origin-destination
   matrix may thus give the two directions different times, and its diagonal (a, a)
   overrides ``intra_minutes``;
2. for a == b, the municipality's ``intra_minutes``;
3. the shortest path over ``links`` (networkx Dijkstra), when a links table is given;
4. otherwise a great-circle estimate: haversine distance x :data:`DETOUR_FACTOR` at
   :data:`SPEED_KMH`.

Explicit pairs override a pair's time; they are not used as edges for other paths.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class TravelTimes:
    """Minutes from row municipality (a firm's) to column municipality (an operator's), with
    where each entry came from; symmetric unless explicit travel times differ by direction."""

    ids: pd.Index
    minutes: np.ndarray
    source: np.ndarray

    def position(self, municipality_ids: pd.Series | list[str]) -> np.ndarray:
        pos = self.ids.get_indexer(pd.Index(municipality_ids))
        if (pos < 0).any():
            raise KeyError("unknown municipality id")
        return pos

    def between(self, a: str, b: str) -> float:
        i, j = self.position([a, b])
        return float(self.minutes[i, j])

    def frame(self) -> pd.DataFrame:
        """Long table from_id, to_id, minutes, source (every ordered pair)."""
        n = len(self.ids)
        return pd.DataFrame({
            "from_id": np.repeat(self.ids.to_numpy(), n),
            "to_id": np.tile(self.ids.to_numpy(), n),
            "minutes": self.minutes.ravel(),
            "source": self.source.ravel(),
        })


def travel_times(dataset: Dataset) -> TravelTimes:
    munis = dataset.municipalities
    ids = pd.Index(munis["municipality_id"])
    n = len(ids)
    lat = munis["lat"].to_numpy(float)
    lon = munis["lon"].to_numpy(float)
    links = dataset.links

    if links.empty:
        minutes = road_minutes(haversine_km(lat[:, None], lon[:, None], lat[None, :],
                                            lon[None, :]))
        source = np.full((n, n), SOURCE_GREAT_CIRCLE, dtype=object)
    else:
        minutes = _shortest_paths(ids, links)
        source = np.full((n, n), SOURCE_LINKS, dtype=object)
        unreachable = ~np.isfinite(minutes)
        if unreachable.any():
            # Validation rejects this unless explicit pairs fill the gap; the estimate is a
            # last resort for data built in code without validation.
            estimate = road_minutes(haversine_km(lat[:, None], lon[:, None], lat[None, :],
                                                 lon[None, :]))
            minutes[unreachable] = estimate[unreachable]
            source[unreachable] = SOURCE_GREAT_CIRCLE

    diag = np.arange(n)
    minutes[diag, diag] = munis["intra_minutes"].to_numpy(float)
    source[diag, diag] = SOURCE_SELF

    explicit = dataset.travel_times
    if not explicit.empty:
        i = ids.get_indexer(explicit["from_id"])
        j = ids.get_indexer(explicit["to_id"])
        value = explicit["minutes"].to_numpy(float)
        # The reverse direction first, so that a row given for that direction overrides it.
        minutes[j, i] = value
        source[j, i] = SOURCE_EXPLICIT
        minutes[i, j] = value
        source[i, j] = SOURCE_EXPLICIT
    return TravelTimes(ids, minutes, source)


def _shortest_paths(ids: pd.Index, links: pd.DataFrame) -> np.ndarray:
    """All-pairs shortest travel minutes over the undirected links (inf where unreachable).

    Dijkstra from every source in compiled code (``scipy.sparse.csgraph``): networkx's
    per-source Python loop took most of a landscape's build at a few thousand municipalities.
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    a = ids.get_indexer(links["from_id"])
    b = ids.get_indexer(links["to_id"])
    edges = pd.DataFrame({"u": np.minimum(a, b), "v": np.maximum(a, b),
                          "w": links["minutes"].to_numpy(float)})
    # Parallel links (validation rejects them) keep the faster one; a sparse matrix would
    # add them up. A zero-minute link stays an edge: stored zeros are edges to csgraph.
    edges = edges.groupby(["u", "v"], sort=False, as_index=False)["w"].min()
    n = len(ids)
    graph = csr_array((edges["w"].to_numpy(), (edges["u"].to_numpy(), edges["v"].to_numpy())),
                      shape=(n, n))
    return dijkstra(graph, directed=False)
