"""Synthetic member firms and complete synthetic landscapes.

Two entry points:

* :func:`generate_firms` spreads member firms over a real (or any) base landscape of
  regions, municipalities, strongholds, operators and clusters, and draws today's
  overlapping cluster memberships.
* :func:`synthetic_tables` builds a whole landscape of any size from scratch, valid under
  the data contract in :mod:`klynge_opt.data.schema`, for tests and benchmarks.

Everything is a pure function of its arguments: all randomness comes from
``numpy.random.default_rng(seed)``, so equal arguments give identical tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from .dataset import empty_table
from .geography import haversine_km, road_minutes
from .loading import default_column
from .schema import TABLE_BY_NAME

__all__ = [
    "DEFAULT_SPECIALISATION",
    "DEFAULT_STRONGHOLD_SHARES",
    "generate_firms",
    "synthetic_tables",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# A plausible assumption, NOT data: relative over/under-representation of each stronghold
# in each Danish region (1081 Nordjylland, 1082 Midtjylland, 1083 Syddanmark,
# 1084 Hovedstaden, 1085 Sjælland), set by hand from commonly cited regional strengths
# (maritime in the north and south, life science around Copenhagen, wind and energy in
# Jutland and Funen). 1.0 is the national average; a pair missing here counts as 1.0,
# which is what makes the generator usable with any country's ids.
DEFAULT_SPECIALISATION: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "1081": MappingProxyType(
            {
                "maritime": 2.0, "food": 1.4, "life_science": 0.6, "creative": 0.7,
                "bioeconomy": 1.0, "construction": 1.0, "robotics": 0.9, "energy": 1.0,
                "wind": 1.0, "ict": 1.4,
            }
        ),
        "1082": MappingProxyType(
            {
                "maritime": 0.8, "food": 1.6, "life_science": 0.7, "creative": 1.3,
                "bioeconomy": 1.2, "construction": 1.1, "robotics": 1.0, "energy": 1.1,
                "wind": 1.7, "ict": 0.9,
            }
        ),
        "1083": MappingProxyType(
            {
                "maritime": 1.7, "food": 1.1, "life_science": 0.8, "creative": 0.7,
                "bioeconomy": 1.0, "construction": 1.0, "robotics": 2.0, "energy": 1.7,
                "wind": 1.6, "ict": 0.8,
            }
        ),
        "1084": MappingProxyType(
            {
                "maritime": 0.8, "food": 0.6, "life_science": 2.0, "creative": 1.7,
                "bioeconomy": 0.5, "construction": 0.9, "robotics": 0.7, "energy": 0.9,
                "wind": 0.6, "ict": 1.7,
            }
        ),
        "1085": MappingProxyType(
            {
                "maritime": 0.8, "food": 1.2, "life_science": 1.6, "creative": 0.6,
                "bioeconomy": 1.7, "construction": 1.1, "robotics": 0.7, "energy": 1.0,
                "wind": 0.8, "ict": 0.6,
            }
        ),
    }
)

# Also an assumption, not data: relative national size of each stronghold's firm base.
# Relative to 1.0 so that a stronghold missing here is simply "average sized".
DEFAULT_STRONGHOLD_SHARES: Mapping[str, float] = MappingProxyType(
    {
        "food": 1.6, "construction": 1.5, "ict": 1.5, "robotics": 1.3, "energy": 1.0,
        "creative": 1.0, "wind": 0.9, "maritime": 0.6, "life_science": 0.6,
        "bioeconomy": 0.6,
    }
)

#: Extra intensity in a municipality that hosts an operator competent in the stronghold:
#: firms of a trade cluster around the institutions that serve it.
OPERATOR_PULL = 1.5
#: e-folding distance of the membership choice: a cluster 60 km further away is e times
#: less likely to be joined.
MEMBERSHIP_SCALE_KM = 60.0
#: Target share of covered firms that are members of two or more clusters.
MULTI_MEMBERSHIP_SHARE = 0.25
#: Median and log-spread of firm size: a long tail, about 0.3 % above 500 employees.
EMPLOYEES_MEDIAN = 15.0
EMPLOYEES_SIGMA = 1.3
EMPLOYEES_MAX = 5000
GROWTH_SHARE = 0.15

OPERATOR_KINDS: tuple[str, ...] = (
    "cluster_organisation",
    "innovation_network",
    "science_park",
    "gts_institute",
    "vaeksthus",
    "business_centre",
)

# Row budget for the firms x clusters key matrix, so memory stays flat for 10^6 firms.
_CHUNK_CELLS = 4_000_000


# --------------------------------------------------------------------------------------
# helpers


def _frame(table: str, data: Mapping[str, Any]) -> pd.DataFrame:
    """A DataFrame with exactly the schema's columns in schema order and contract dtypes;
    optional columns the generator does not produce take their defaults."""
    spec = TABLE_BY_NAME[table]
    names = spec.column_names
    rows = len(next(iter(data.values())))
    data = {**{c.name: default_column(c, rows) for c in spec.columns
               if not c.required and c.name not in data}, **data}
    if set(data) != set(names):
        raise AssertionError(f"{table}: columns {sorted(data)} != schema {sorted(names)}")
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        values = data[col.name]
        if col.kind in ("id", "text", "choice"):
            # str values in an object column, as loading types text and as empty_table's
            # empty tables have it, under pandas 2 and 3 alike.
            out[col.name] = pd.Series(values, dtype=object).astype(str).astype(object)
        elif col.kind == "integer":
            out[col.name] = pd.Series(values, dtype=np.int64)
        elif col.kind == "bool":
            out[col.name] = pd.Series(values, dtype=bool)
        else:
            out[col.name] = pd.Series(values, dtype=np.float64)
    return pd.DataFrame(out, columns=list(names))


def _ids(prefix: str, n: int, min_width: int = 1) -> list[str]:
    width = max(min_width, len(str(n)))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def _as_id(series: pd.Series) -> npt.NDArray[np.object_]:
    # Ids read from CSV without dtype=str come back as ints; the contract compares text.
    return series.astype(str).str.strip().to_numpy(dtype=object)


def _index_of(values: npt.NDArray[np.object_], universe: pd.Index, what: str) -> IntArray:
    pos = universe.get_indexer(pd.Index(values))
    if (pos < 0).any():
        missing = sorted({str(v) for v, p in zip(values, pos, strict=True) if p < 0})
        raise ValueError(f"{what} refers to unknown ids: {', '.join(missing[:5])}")
    return pos.astype(np.int64)


def _require(base: Mapping[str, pd.DataFrame], table: str, columns: tuple[str, ...]) -> None:
    if table not in base:
        raise ValueError(f"base is missing table {table!r}")
    absent = [c for c in columns if c not in base[table].columns]
    if absent:
        raise ValueError(f"base table {table!r} is missing columns {absent}")


# --------------------------------------------------------------------------------------
# firms and memberships


def generate_firms(
    base: Mapping[str, pd.DataFrame],
    n_firms: int = 12_000,
    seed: int = 2017,
    *,
    specialisation: Mapping[str, Mapping[str, float]] | None = None,
    stronghold_shares: Mapping[str, float] | None = None,
    multi_membership_share: float = MULTI_MEMBERSHIP_SHARE,
) -> dict[str, pd.DataFrame]:
    """Spread ``n_firms`` member firms over ``base`` and draw today's memberships.

    ``base`` needs ``municipalities`` (``population`` blank counts as 1), ``strongholds``,
    ``operators``, ``operator_strongholds``, ``clusters`` and ``cluster_strongholds``;
    ``regions`` is not needed because municipalities carry their region id.

    A firm lands in municipality *m* with stronghold *s* with probability proportional to
    ``population[m] * specialisation[region(m)][s] * stronghold_shares[s]``, times
    :data:`OPERATOR_PULL` if *m* hosts an operator competent in *s*. Pairs missing from
    ``specialisation`` (region -> stronghold -> factor, default
    :data:`DEFAULT_SPECIALISATION`) or ``stronghold_shares`` (default
    :data:`DEFAULT_STRONGHOLD_SHARES`) count as 1. The counts are one multinomial draw, so
    exactly ``n_firms`` firms come back, in random order.

    Every firm whose stronghold some cluster covers joins one such cluster, and about
    ``multi_membership_share`` of those firms join further ones (as far as their
    stronghold has more clusters). Clusters are drawn without replacement with weight
    ``exp(-km / MEMBERSHIP_SCALE_KM)``, km being the great-circle distance from the firm's
    municipality to the municipality of the cluster's host operator.

    Returns ``{"firms": ..., "memberships": ...}``.
    """
    if n_firms < 0:
        raise ValueError("n_firms must be >= 0")
    if not 0.0 <= multi_membership_share <= 1.0:
        raise ValueError("multi_membership_share must lie in [0, 1]")
    for table, cols in (
        ("municipalities", ("municipality_id", "region_id", "lat", "lon")),
        ("strongholds", ("stronghold_id",)),
        ("operators", ("operator_id", "municipality_id")),
        ("operator_strongholds", ("operator_id", "stronghold_id")),
        ("clusters", ("cluster_id", "operator_id")),
        ("cluster_strongholds", ("cluster_id", "stronghold_id")),
    ):
        _require(base, table, cols)
    spec = DEFAULT_SPECIALISATION if specialisation is None else specialisation
    shares = DEFAULT_STRONGHOLD_SHARES if stronghold_shares is None else stronghold_shares

    munis = base["municipalities"]
    mun_ids = _as_id(munis["municipality_id"])
    mun_index = pd.Index(mun_ids)
    if mun_index.has_duplicates:
        raise ValueError("municipality_id is not unique")
    region_of = _as_id(munis["region_id"])
    lat = pd.to_numeric(munis["lat"], errors="coerce").to_numpy(dtype=np.float64)
    lon = pd.to_numeric(munis["lon"], errors="coerce").to_numpy(dtype=np.float64)
    if "population" in munis.columns:
        pop = pd.to_numeric(munis["population"], errors="coerce").to_numpy(dtype=np.float64)
        pop = np.where(np.isnan(pop), 1.0, pop)
    else:
        pop = np.ones(len(munis))

    sh_ids = _as_id(base["strongholds"]["stronghold_id"])
    sh_index = pd.Index(sh_ids)
    if sh_index.has_duplicates:
        raise ValueError("stronghold_id is not unique")
    n_mun, n_sh = len(mun_ids), len(sh_ids)
    if n_firms > 0 and (n_mun == 0 or n_sh == 0):
        raise ValueError("firms need at least one municipality and one stronghold")

    factor = np.ones((n_mun, n_sh))
    for r, row in spec.items():
        in_region = region_of == str(r)
        if not in_region.any():
            continue
        for s, f in row.items():
            j = sh_index.get_indexer([str(s)])[0]
            if j >= 0:
                factor[in_region, j] = float(f)
    share = np.array([float(shares.get(s, 1.0)) for s in sh_ids], dtype=np.float64)

    ops = base["operators"]
    op_index = pd.Index(_as_id(ops["operator_id"]))
    op_mun = _index_of(_as_id(ops["municipality_id"]), mun_index, "operators.municipality_id")
    comp = base["operator_strongholds"]
    comp_op = _index_of(_as_id(comp["operator_id"]), op_index, "operator_strongholds")
    comp_sh = _index_of(_as_id(comp["stronghold_id"]), sh_index, "operator_strongholds")
    hosted = np.zeros((n_mun, n_sh), dtype=bool)
    hosted[op_mun[comp_op], comp_sh] = True

    intensity = pop[:, None] * factor * share[None, :] * np.where(hosted, OPERATOR_PULL, 1.0)
    if not np.isfinite(intensity).all() or (intensity < 0).any():
        raise ValueError("population, specialisation and shares must be finite and >= 0")
    total = intensity.sum()
    if n_firms > 0 and total <= 0:
        raise ValueError("every municipality/stronghold cell has zero intensity")

    rng = np.random.default_rng(seed)
    if n_firms > 0:
        counts = rng.multinomial(n_firms, (intensity / total).ravel())
    else:
        counts = np.zeros(n_mun * n_sh, dtype=np.int64)
    cell = np.repeat(np.arange(n_mun * n_sh, dtype=np.int64), counts)
    # Random order, so any prefix of the firm table is a fair sample of it.
    cell = cell[rng.permutation(n_firms)]
    firm_mun, firm_sh = np.divmod(cell, max(n_sh, 1))

    employees = np.rint(rng.lognormal(math.log(EMPLOYEES_MEDIAN), EMPLOYEES_SIGMA, n_firms))
    employees = np.clip(employees, 1, EMPLOYEES_MAX).astype(np.int64)
    growth = rng.random(n_firms) < GROWTH_SHARE
    firm_ids = np.array(_ids("F", n_firms, min_width=6), dtype=object)

    firms = _frame(
        "firms",
        {
            "firm_id": firm_ids,
            "municipality_id": mun_ids[firm_mun],
            "stronghold_id": sh_ids[firm_sh],
            "employees": employees,
            "growth": growth,
            "weight": np.ones(n_firms),
        },
    )

    members_firm, members_cluster = _draw_memberships(
        base, rng, firm_mun, firm_sh, lat, lon, mun_index, sh_index, multi_membership_share
    )
    cl_ids = _as_id(base["clusters"]["cluster_id"])
    memberships = _frame(
        "memberships",
        {"firm_id": firm_ids[members_firm], "cluster_id": cl_ids[members_cluster]},
    )
    return {"firms": firms, "memberships": memberships}


def _draw_memberships(
    base: Mapping[str, pd.DataFrame],
    rng: np.random.Generator,
    firm_mun: IntArray,
    firm_sh: IntArray,
    lat: FloatArray,
    lon: FloatArray,
    mun_index: pd.Index,
    sh_index: pd.Index,
    multi_share: float,
) -> tuple[IntArray, IntArray]:
    """(firm position, cluster position) pairs, sorted by firm then by preference."""
    clusters = base["clusters"]
    cl_index = pd.Index(_as_id(clusters["cluster_id"]))
    if cl_index.has_duplicates:
        raise ValueError("cluster_id is not unique")
    ops = base["operators"]
    op_index = pd.Index(_as_id(ops["operator_id"]))
    op_mun = _index_of(_as_id(ops["municipality_id"]), mun_index, "operators.municipality_id")
    host = _index_of(_as_id(clusters["operator_id"]), op_index, "clusters.operator_id")
    cl_mun = op_mun[host]
    cover = base["cluster_strongholds"]
    cov_cl = _index_of(_as_id(cover["cluster_id"]), cl_index, "cluster_strongholds")
    cov_sh = _index_of(_as_id(cover["stronghold_id"]), sh_index, "cluster_strongholds")
    covers = np.zeros((len(sh_index), len(cl_index)), dtype=bool)
    covers[cov_sh, cov_cl] = True
    n_cover = covers.sum(axis=1)

    n_firms = len(firm_mun)
    per_sh = np.bincount(firm_sh, minlength=len(sh_index))
    covered = int(per_sh[n_cover >= 1].sum())
    eligible = int(per_sh[n_cover >= 2].sum())
    # Only firms with a choice can be multi-members; inflate their odds so the share over
    # all covered firms hits the target where the landscape allows it.
    p_multi = min(1.0, multi_share * covered / eligible) if eligible else 0.0
    u_multi = rng.random(n_firms)
    u_extra = rng.random(n_firms)
    # Mostly two clusters, sometimes three or four: the 2017 overlap.
    wanted = np.where(
        u_multi < p_multi, 2 + (u_extra > 0.8).astype(np.int64) + (u_extra > 0.95), 1
    )

    out_firm: list[IntArray] = []
    out_cl: list[IntArray] = []
    out_rank: list[IntArray] = []
    for s in range(len(sh_index)):
        cl = np.flatnonzero(covers[s])
        if cl.size == 0:
            continue
        firms_s = np.flatnonzero(firm_sh == s)
        if firms_s.size == 0:
            continue
        km = haversine_km(lat[:, None], lon[:, None], lat[cl_mun[cl]][None, :],
                          lon[cl_mun[cl]][None, :])
        logw = -km / MEMBERSHIP_SCALE_KM
        take = np.minimum(wanted[firms_s], cl.size)
        step = max(1, _CHUNK_CELLS // cl.size)
        for start in range(0, firms_s.size, step):
            f = firms_s[start:start + step]
            # Gumbel-top-k: the k largest perturbed log-weights are a weighted sample of k
            # clusters without replacement.
            keys = logw[firm_mun[f]] + rng.gumbel(size=(f.size, cl.size))
            order = np.argsort(-keys, axis=1, kind="stable")
            keep = np.arange(cl.size)[None, :] < take[start:start + step, None]
            rows, ranks = np.nonzero(keep)
            out_firm.append(f[rows])
            out_cl.append(cl[order[rows, ranks]])
            out_rank.append(ranks.astype(np.int64))
    if not out_firm:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    firm_pos = np.concatenate(out_firm)
    cl_pos = np.concatenate(out_cl)
    rank = np.concatenate(out_rank)
    order = np.lexsort((rank, firm_pos))
    return firm_pos[order], cl_pos[order]


# --------------------------------------------------------------------------------------
# whole synthetic landscapes

_BOX_LAT = (54.6, 57.7)
_BOX_LON = (8.1, 12.6)


def synthetic_tables(
    *,
    regions: int = 5,
    municipalities: int = 100,
    strongholds: int = 10,
    operators: int = 80,
    clusters: int = 45,
    firms: int = 12_000,
    seed: int = 1,
    spread: float = 1.0,
) -> dict[str, pd.DataFrame]:
    """A complete, valid synthetic landscape keyed by table name.

    Municipalities are drawn in a Denmark-sized box, its sides scaled by ``spread`` about
    its centre: 1 for any number of municipalities packs them ever closer; about
    sqrt(municipalities / 98) keeps Denmark's density (a continent of 10,000 at 10).

    Besides the column contract it guarantees: every reference resolves; ids are unique;
    each cluster's host is competent in all strongholds the cluster covers; every
    stronghold is covered by a cluster and has a competent operator in every region (one
    broad operator per region, competent in everything); per stronghold the competent
    operators' capacity is at least twice the stronghold's firm weight; the road network
    in ``links`` is connected. ``travel_times`` is empty. Equal arguments give identical
    tables; cost is O(municipalities²) in time but not in memory, linear in firms.
    """
    if regions < 1 or strongholds < 1 or clusters < 1:
        raise ValueError("need at least one region, stronghold and cluster")
    if municipalities < regions:
        raise ValueError("need at least one municipality per region")
    if operators < regions:
        raise ValueError("need at least one (broad) operator per region")
    if firms < 0:
        raise ValueError("firms must be >= 0")
    if not 0 < spread <= 20:
        raise ValueError("spread must be in (0, 20]: the box must stay on the globe")
    rng = np.random.default_rng(seed)

    region_ids = _ids("R", regions, min_width=2)
    regions_df = _frame("regions", {"region_id": region_ids,
                                    "name": [f"Region {i + 1}" for i in range(regions)]})

    mun = _synthetic_municipalities(rng, municipalities, region_ids, spread)
    links = _synthetic_links(mun["lat"].to_numpy(), mun["lon"].to_numpy(),
                             mun["municipality_id"].to_numpy(dtype=object))

    sh_ids = _ids("S", strongholds, min_width=2)
    strongholds_df = _frame(
        "strongholds",
        {
            "stronghold_id": sh_ids,
            "name": [f"Stronghold {i + 1}" for i in range(strongholds)],
            "skill_shortage_2025": np.rint(rng.uniform(300, 8000, strongholds)),
            "weight": np.ones(strongholds),
        },
    )

    op_mun, comp = _synthetic_operator_sites(rng, mun, regions, operators, strongholds)
    cl_cover, host = _synthetic_cluster_hosts(rng, comp, regions, clusters)
    for c, h in enumerate(host):
        # The host must be competent in all it covers, so competence follows the cluster.
        comp[h, cl_cover[c]] = True

    op_ids = np.array(_ids("O", operators, min_width=3), dtype=object)
    cl_ids = np.array(_ids("C", clusters, min_width=3), dtype=object)
    sh_arr = np.array(sh_ids, dtype=object)
    comp_rows, comp_cols = np.nonzero(comp)
    operator_strongholds = _frame(
        "operator_strongholds",
        {"operator_id": op_ids[comp_rows], "stronghold_id": sh_arr[comp_cols]},
    )
    cover_rows = np.repeat(np.arange(clusters), [len(c) for c in cl_cover])
    cover_cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in cl_cover])
    cluster_strongholds = _frame(
        "cluster_strongholds",
        {"cluster_id": cl_ids[cover_rows], "stronghold_id": sh_arr[cover_cols]},
    )

    mun_ids = mun["municipality_id"].to_numpy(dtype=object)
    ops_stub = _frame(
        "operators",
        {
            "operator_id": op_ids,
            "name": [f"Operator {i + 1}" for i in range(operators)],
            "municipality_id": mun_ids[op_mun],
            "kind": [""] * operators,
            "annual_cost": np.zeros(operators),
            "capacity": np.zeros(operators),
            "closure_cost": np.zeros(operators),
        },
    )
    clusters_df = _synthetic_clusters(rng, cl_ids, op_ids[host])

    # A random regional profile so synthetic regions differ in what they are good at.
    specialisation = {
        r: {s: float(f) for s, f in zip(sh_ids, rng.lognormal(0.0, 0.35, strongholds),
                                        strict=True)}
        for r in region_ids
    }
    shares = {s: float(f) for s, f in zip(sh_ids, rng.lognormal(0.0, 0.4, strongholds),
                                          strict=True)}
    firm_seed = int(rng.integers(0, 2**63 - 1))
    base = {
        "regions": regions_df,
        "municipalities": mun,
        "strongholds": strongholds_df,
        "operators": ops_stub,
        "operator_strongholds": operator_strongholds,
        "clusters": clusters_df,
        "cluster_strongholds": cluster_strongholds,
    }
    generated = generate_firms(base, firms, firm_seed, specialisation=specialisation,
                               stronghold_shares=shares)

    firm_sh = pd.Index(sh_ids).get_indexer(generated["firms"]["stronghold_id"])
    sh_weight = np.bincount(firm_sh, weights=generated["firms"]["weight"].to_numpy(),
                            minlength=strongholds).astype(np.float64)
    is_host = np.zeros(operators, dtype=bool)
    is_host[host] = True
    operators_df = _synthetic_operator_economics(rng, ops_stub, comp, sh_weight, regions,
                                                 is_host)

    return {
        "kinds": empty_table("kinds"),
        "regions": regions_df,
        "municipalities": mun,
        "strongholds": strongholds_df,
        "operators": operators_df,
        "operator_strongholds": operator_strongholds,
        "clusters": clusters_df,
        "cluster_strongholds": cluster_strongholds,
        "firms": generated["firms"],
        "memberships": generated["memberships"],
        "links": links,
        "travel_times": empty_table("travel_times"),
    }


def _box(bounds: tuple[float, float], spread: float) -> tuple[float, float]:
    if spread == 1.0:
        return bounds  # exactly: the tables of every earlier seed stay the same
    centre, half = (bounds[0] + bounds[1]) / 2, (bounds[1] - bounds[0]) / 2 * spread
    return centre - half, centre + half


def _synthetic_municipalities(
    rng: np.random.Generator, n: int, region_ids: list[str], spread: float = 1.0
) -> pd.DataFrame:
    lat = rng.uniform(*_box(_BOX_LAT, spread), n)
    lon = rng.uniform(*_box(_BOX_LON, spread), n)
    # Median ~40k with a long tail, like Danish municipalities (2k to 600k).
    population = np.rint(rng.lognormal(math.log(40_000), 0.8, n))

    # Region seeds by farthest-point sampling spread the regions over the box; regions are
    # then the Voronoi cells of those seeds.
    seeds = [int(np.argmax(population))]
    nearest = haversine_km(lat, lon, lat[seeds[0]], lon[seeds[0]])
    for _ in range(1, len(region_ids)):
        nxt = int(np.argmax(nearest))
        seeds.append(nxt)
        nearest = np.minimum(nearest, haversine_km(lat, lon, lat[nxt], lon[nxt]))
    seed_idx = np.array(seeds)
    to_seed = haversine_km(lat[:, None], lon[:, None], lat[seed_idx][None, :],
                           lon[seed_idx][None, :])
    region = np.argmin(to_seed, axis=1)
    # Ties (points at equal distance) must not leave a region without its own seed.
    region[seed_idx] = np.arange(len(seed_idx))

    rank = np.argsort(np.argsort(population, kind="stable"), kind="stable")
    rural = rank < round(n / 3)
    intra = np.where(rural, rng.uniform(10.0, 25.0, n), rng.uniform(5.0, 15.0, n))
    mun_ids = _ids("M", n, min_width=3)
    return _frame(
        "municipalities",
        {
            "municipality_id": mun_ids,
            "name": [f"Municipality {i + 1}" for i in range(n)],
            "region_id": np.array(region_ids, dtype=object)[region],
            "lat": np.round(lat, 5),
            "lon": np.round(lon, 5),
            "rural": rural,
            "population": population,
            "intra_minutes": np.round(intra, 1),
        },
    )


def _synthetic_links(
    lat: FloatArray, lon: FloatArray, mun_ids: npt.NDArray[np.object_], k: int = 3
) -> pd.DataFrame:
    """Undirected road links: k nearest neighbours plus a spanning tree for connectivity."""
    n = len(lat)
    if n < 2:
        return empty_table("links")
    pairs: list[IntArray] = []

    # Prim's minimum spanning tree, one distance row at a time: O(n²) time, O(n) memory.
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best = haversine_km(lat, lon, lat[0], lon[0])
    parent = np.zeros(n, dtype=np.int64)
    best[0] = np.inf
    tree = np.empty((n - 1, 2), dtype=np.int64)
    for i in range(n - 1):
        v = int(np.argmin(best))
        tree[i] = (parent[v], v)
        in_tree[v] = True
        best[v] = np.inf
        d = haversine_km(lat, lon, lat[v], lon[v])
        closer = ~in_tree & (d < best)
        best[closer] = d[closer]
        parent[closer] = v
    pairs.append(tree)

    kk = min(k, n - 1)
    step = max(1, 2_000_000 // n)
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        d = haversine_km(lat[rows, None], lon[rows, None], lat[None, :], lon[None, :])
        d[np.arange(rows.size), rows] = np.inf
        nn = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        pairs.append(np.column_stack([np.repeat(rows, kk), nn.ravel()]))

    both = np.concatenate(pairs)
    both = np.unique(np.sort(both, axis=1), axis=0)
    a, b = both[:, 0], both[:, 1]
    minutes = road_minutes(haversine_km(lat[a], lon[a], lat[b], lon[b]))
    return _frame(
        "links",
        {
            "from_id": mun_ids[a],
            "to_id": mun_ids[b],
            "minutes": np.round(minutes, 2),
            "mode": ["road"] * len(a),
        },
    )


def _synthetic_operator_sites(
    rng: np.random.Generator, mun: pd.DataFrame, regions: int, operators: int,
    strongholds: int,
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Municipality position of each operator and its competence matrix.

    The first ``regions`` operators are the broad ones, one per region in the region's most
    populous municipality, competent in every stronghold.
    """
    region_codes, region_of = np.unique(mun["region_id"].to_numpy(dtype=object),
                                        return_inverse=True)
    if len(region_codes) != regions:
        raise AssertionError("every region must have a municipality")
    pop = mun["population"].to_numpy(dtype=np.float64)
    op_mun = np.empty(operators, dtype=np.int64)
    for r in range(regions):
        members = np.flatnonzero(region_of == r)
        op_mun[r] = members[np.argmax(pop[members])]
    rest = operators - regions
    op_mun[regions:] = rng.choice(len(pop), size=rest, p=pop / pop.sum())

    comp = np.zeros((operators, strongholds), dtype=bool)
    comp[:regions] = True
    n_comp = np.minimum(strongholds, 1 + rng.poisson(0.7, rest))
    for i in range(rest):
        comp[regions + i, rng.choice(strongholds, n_comp[i], replace=False)] = True
    return op_mun, comp


def _synthetic_cluster_hosts(
    rng: np.random.Generator, comp: npt.NDArray[np.bool_], regions: int, clusters: int,
) -> tuple[list[list[int]], IntArray]:
    """Strongholds covered by each cluster and the host operator of each cluster."""
    operators, strongholds = comp.shape
    # Round robin first, so every stronghold is covered even with fewer clusters than
    # strongholds.
    cover: list[list[int]] = [[] for _ in range(clusters)]
    for s in range(strongholds):
        cover[s % clusters].append(s)
    for c in range(strongholds, clusters):
        cover[c].append(int(rng.integers(strongholds)))
    for c in range(clusters):
        if strongholds > len(cover[c]) and rng.random() < 0.3:
            others = np.setdiff1d(np.arange(strongholds), cover[c])
            cover[c].append(int(rng.choice(others)))
        cover[c].sort()

    # Prefer specialised operators not yet hosting; fall back to reuse, then to broad ones.
    specialised = np.arange(regions, operators)
    pool = specialised if specialised.size else np.arange(operators)
    hosting = np.zeros(operators, dtype=bool)
    host = np.empty(clusters, dtype=np.int64)
    for c in range(clusters):
        free = pool[~hosting[pool]]
        cands = free if free.size else pool
        fit = comp[np.ix_(cands, np.asarray(cover[c], dtype=np.int64))].sum(axis=1)
        best = cands[fit == fit.max()]
        host[c] = int(rng.choice(best))
        hosting[host[c]] = True
    return cover, host


def _synthetic_clusters(
    rng: np.random.Generator, cl_ids: npt.NDArray[np.object_],
    host_ids: npt.NDArray[np.object_],
) -> pd.DataFrame:
    n = len(cl_ids)
    label = rng.choice(np.array(["none", "bronze", "silver", "gold"], dtype=object), size=n,
                       p=[0.4, 0.3, 0.2, 0.1])
    upgrade = np.round(rng.uniform(0.5e6, 3.0e6, n), -3)
    # Already gold needs no upgrade; about a quarter of the rest cannot reach gold at all.
    upgrade[(label == "gold") | (rng.random(n) < 0.25)] = np.nan
    return _frame(
        "clusters",
        {
            "cluster_id": cl_ids,
            "name": [f"Cluster {i + 1}" for i in range(n)],
            "operator_id": host_ids,
            "budget": np.round(rng.uniform(1.0e6, 15.0e6, n), -3),
            "label": label,
            "gold_upgrade_cost": upgrade,
            "knowledge_partners": rng.poisson(2.5, n),
        },
    )


def _synthetic_operator_economics(
    rng: np.random.Generator, ops: pd.DataFrame, comp: npt.NDArray[np.bool_],
    sh_weight: FloatArray, regions: int, is_host: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    n = len(ops)
    n_competent = comp.sum(axis=0)
    # Expected fair share of each competent stronghold's firms, with 1.5-3x headroom.
    fair = (comp * (sh_weight / np.maximum(n_competent, 1))[None, :]).sum(axis=1)
    capacity = fair * rng.uniform(1.5, 3.0, n)
    totals = comp.T.astype(np.float64) @ capacity
    need = 2.0 * sh_weight
    ratio = np.divide(need, totals, out=np.zeros_like(need), where=totals > 0)
    # One global factor keeps relative sizes while lifting every stronghold to >= 2x;
    # ceil afterwards only adds.
    capacity = np.maximum(np.ceil(capacity * max(1.0, float(ratio.max()))), 10.0)

    cost = np.exp(rng.normal(math.log(8e6), 0.6, n))
    cost[:regions] *= 1.5
    cost = np.round(np.clip(cost, 2e6, 40e6), -3)
    closure = np.round(cost * rng.uniform(0.2, 0.6, n), -3)

    host_kinds = np.array(OPERATOR_KINDS[:2], dtype=object)
    other_kinds = np.array([OPERATOR_KINDS[2], OPERATOR_KINDS[3], OPERATOR_KINDS[5]],
                           dtype=object)
    kind = np.where(is_host, rng.choice(host_kinds, n), rng.choice(other_kinds, n))
    kind[:regions] = OPERATOR_KINDS[4]
    return _frame(
        "operators",
        {
            "operator_id": ops["operator_id"].to_numpy(dtype=object),
            "name": ops["name"].to_numpy(dtype=object),
            "municipality_id": ops["municipality_id"].to_numpy(dtype=object),
            "kind": kind,
            "annual_cost": cost,
            "capacity": capacity,
            "closure_cost": closure,
        },
    )
