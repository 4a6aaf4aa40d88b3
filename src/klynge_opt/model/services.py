"""The service layers (``docs/model.md``, Service layers): who needs which service and who can
give it.

Without a ``kinds`` table there is one service, guidance, given by every operator to every firm
(the model before service layers, unchanged). With it, three kinds of demand are served apart,
because a municipal business council, a væksthus and a cluster do different jobs:

========  ===================================  =========================================
service   demand                               given by
========  ===================================  =========================================
local     every firm                           open operators of layer ``local_service``
guidance  growth firms (or every firm)         open in-scope ``entry_point``/``other`` ops
cluster   members of a cluster (or every firm) selected clusters covering the stronghold
========  ===================================  =========================================

Demand is aggregated into groups as for guidance: local by municipality; cluster by
municipality, stronghold and the firms' current clusters (so that whether a firm changes
cluster is known per group, exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.scenario import Effect, Policy
from ..frames import among
from .landscape import GROUP_SEPARATOR, Landscape, group_id, reachable_pairs, sorted_pairs, take

SERVICES: tuple[str, ...] = ("local", "guidance", "cluster")
#: Operator layers that give guidance (``other`` keeps the competence rule of today's model).
GUIDANCE_LAYERS: tuple[str, ...] = ("entry_point", "other")


def is_layered(ds: Dataset) -> bool:
    """Service layers are on when the data set has a kinds table with rows."""
    return not ds.kinds.empty


def operator_layers(ds: Dataset) -> pd.DataFrame:
    """Per operator id: ``layer`` and ``in_scope`` (without kinds: blank and in scope)."""
    ops = ds.operators.set_index("operator_id")
    if not is_layered(ds):
        return pd.DataFrame({"layer": "", "in_scope": True}, index=ops.index)
    kinds = ds.kinds.set_index("kind")
    return pd.DataFrame({"layer": ops["kind"].map(kinds["layer"]).astype(object),
                         "in_scope": ops["kind"].map(kinds["in_scope"]).astype(bool)},
                        index=ops.index)


def firm_demand(ds: Dataset, pol: Policy) -> pd.DataFrame:
    """Per firm (aligned with ``ds.firms``): whether it needs each service."""
    n = len(ds.firms)
    if not is_layered(ds):
        return pd.DataFrame({"local": np.zeros(n, bool), "guidance": np.ones(n, bool),
                             "cluster": np.zeros(n, bool)})
    growth = ds.firms["growth"].astype(bool).to_numpy()
    member = among(ds.firms["firm_id"], ds.memberships["firm_id"])
    return pd.DataFrame({
        "local": np.ones(n, bool),
        "guidance": growth if pol.guidance_service == "growth" else np.ones(n, bool),
        "cluster": member if pol.cluster_service == "members" else np.ones(n, bool)})


def effect_weight(ds: Dataset, effect: Effect) -> pd.Series:
    """Per firm: weight × growth_firm_factor for growth firms, weight otherwise."""
    growth = ds.firms["growth"].astype(bool).to_numpy()
    return ds.firms["weight"] * np.where(growth, effect.growth_firm_factor, 1.0)


@dataclass(frozen=True)
class ServiceGroups:
    """One service's demand groups and the firms in them."""

    #: index group_id: municipality_id, stronghold_id ("" for local), weight (q_g),
    #: effect (effect weight), penalty (Σ weight × stronghold weight), rural, region_id,
    #: and for the cluster service ``current`` (the tuple of the firms' current clusters).
    groups: pd.DataFrame
    #: Per firm of ``ds.firms``: its group, or NaN when it does not need the service.
    firm_group: pd.Series


def _firm_table(land: Landscape, effect: Effect) -> pd.DataFrame:
    ds = land.dataset
    munis = ds.municipalities.set_index("municipality_id")
    strength = ds.strongholds.set_index("stronghold_id")["weight"]
    return pd.DataFrame({
        "municipality_id": ds.firms["municipality_id"], "stronghold_id": ds.firms["stronghold_id"],
        "weight": ds.firms["weight"].astype(float), "effect": effect_weight(ds, effect),
        "penalty": ds.firms["weight"] * ds.firms["stronghold_id"].map(strength).astype(float),
        "rural": ds.firms["municipality_id"].map(munis["rural"]).astype(bool),
        "region_id": ds.firms["municipality_id"].map(munis["region_id"])})


def _groups(firms: pd.DataFrame, gid: pd.Series, mask: np.ndarray,
            extra: dict[str, str] | None = None) -> ServiceGroups:
    sub = firms[mask].assign(group_id=gid[mask].to_numpy())
    agg = {"municipality_id": ("municipality_id", "first"),
           "stronghold_id": ("stronghold_id", "first"), "weight": ("weight", "sum"),
           "effect": ("effect", "sum"), "penalty": ("penalty", "sum"),
           "rural": ("rural", "first"), "region_id": ("region_id", "first"),
           **{k: (v, "first") for k, v in (extra or {}).items()}}
    groups = sub.groupby("group_id", sort=True).agg(**agg)
    return ServiceGroups(groups, gid.where(mask))


def guidance_groups(land: Landscape, pol: Policy, effect: Effect) -> ServiceGroups:
    """Guidance demand by (municipality, stronghold): the landscape's groups, restricted to the
    firms that need guidance."""
    firms = _firm_table(land, effect)
    mask = firm_demand(land.dataset, pol)["guidance"].to_numpy()
    return _groups(firms, land.firm_group.reset_index(drop=True), mask)


def local_groups(land: Landscape, pol: Policy, effect: Effect) -> ServiceGroups:
    """Local demand by municipality."""
    firms = _firm_table(land, effect).assign(stronghold_id="")
    mask = firm_demand(land.dataset, pol)["local"].to_numpy()
    return _groups(firms, firms["municipality_id"].astype(str), mask)


def current_clusters(ds: Dataset) -> pd.Series:
    """Per firm (aligned with ``ds.firms``): the sorted tuple of its current clusters."""
    ordered = ds.memberships.sort_values(["firm_id", "cluster_id"])
    firms = ordered["firm_id"].to_numpy()
    clusters = ordered["cluster_id"].to_numpy()
    if len(firms) == 0:
        return pd.Series([()] * len(ds.firms), dtype=object)
    # One run of rows per firm: split at the boundaries instead of a Python groupby.
    starts = np.flatnonzero(np.r_[True, firms[1:] != firms[:-1]])
    per_firm = dict(zip(firms[starts], (tuple(c) for c in np.split(clusters, starts[1:])),
                        strict=True))
    return pd.Series([per_firm.get(f, ()) for f in ds.firms["firm_id"].tolist()], dtype=object)


def cluster_groups(land: Landscape, pol: Policy, effect: Effect, *, by_place: bool = True,
                   ) -> ServiceGroups:
    """Cluster demand by (municipality, stronghold, current clusters); with ``by_place``
    false by (stronghold, current clusters, growth firm or not). The caller drops the place
    only where no cluster coefficient depends on it: shares may split (``allow_split``) and
    there is no cluster radius (clusters are national, members do not commute). Every
    coefficient of a group is then its weight (or, for max_effect, its effect weight, equal
    per firm within a growth class) times a factor equal across places: under min_cost the
    coarse model has the optimum of the municipal grouping (tested); under max_effect it may
    favour growth firms that a municipal group would mix with others. It has far fewer
    variables (Danish data: about 1,000 groups instead of 5,797)."""
    ds = land.dataset
    firms = _firm_table(land, effect)
    firms["current"] = current_clusters(ds)
    signature = firms["current"].map(lambda c: "\x1f".join(c))
    if not by_place:
        signature = signature + np.where(ds.firms["growth"].to_numpy(bool), "\x1eg", "")
    code = pd.Series(pd.factorize(signature, sort=True)[0], index=firms.index)
    place = firms["municipality_id"] if by_place else pd.Series("*", index=firms.index)
    gid = group_id(place, firms["stronghold_id"]) + GROUP_SEPARATOR + code.astype(str)
    mask = firm_demand(ds, pol)["cluster"].to_numpy()
    return _groups(firms, gid, mask, {"current": "current"})


def local_pairs(land: Landscape, groups: pd.DataFrame, providers: pd.Index,
                max_minutes: float | None) -> pd.DataFrame:
    """(group, operator, minutes) for every local group and local operator within reach."""
    ops = land.dataset.operators.set_index("operator_id").loc[providers, "municipality_id"]
    # One key for all: every local operator serves every local group it reaches.
    g, o, minutes = reachable_pairs(land.times, groups["municipality_id"],
                                    pd.Series(0, index=groups.index), ops,
                                    pd.Series(0, index=ops.index), max_minutes)
    # Ids typed as the cross product of before typed them: inferred, object when it is empty.
    dtype = None if len(groups) and len(ops) else object
    return sorted_pairs({"group_id": take(pd.Series(groups.index.to_numpy(), dtype=dtype), g),
                         "operator_id": take(pd.Series(ops.index.to_numpy(), dtype=dtype), o),
                         "minutes": minutes})


def merge_pairs(ds: Dataset) -> pd.DataFrame:
    """``merged, successor``: every ordered pair of distinct clusters sharing a stronghold."""
    cs = ds.cluster_strongholds[["cluster_id", "stronghold_id"]]
    pairs = cs.merge(cs, on="stronghold_id", suffixes=("_merged", "_successor"))
    pairs = pairs[pairs["cluster_id_merged"] != pairs["cluster_id_successor"]]
    return pairs.rename(columns={"cluster_id_merged": "merged",
                                 "cluster_id_successor": "successor"})[
        ["merged", "successor"]].drop_duplicates().sort_values(
        ["merged", "successor"], ignore_index=True)


def cluster_pairs(land: Landscape, groups: pd.DataFrame, max_minutes: float | None,
                  ) -> pd.DataFrame:
    """(group, cluster, minutes to the host, moved) for every cluster covering the group's
    stronghold; ``moved``: the group's firms are members, of other clusters only."""
    ds = land.dataset
    host_muni = ds.clusters.set_index("cluster_id")["operator_id"].map(
        ds.operators.set_index("operator_id")["municipality_id"])
    g = groups.reset_index()[["group_id", "municipality_id", "stronghold_id", "current"]]
    covers = ds.cluster_strongholds[["cluster_id", "stronghold_id"]]
    if not g["stronghold_id"].isin(covers["stronghold_id"]).any():
        return pd.DataFrame({"group_id": [], "cluster_id": [], "minutes": [], "moved": []})
    gi, ci, minutes = reachable_pairs(land.times, g["municipality_id"], g["stronghold_id"],
                                      covers["cluster_id"].map(host_muni),
                                      covers["stronghold_id"], max_minutes)
    clusters = take(covers["cluster_id"], ci)
    # A firm without a membership joins a cluster: no change of cluster, no disruption.
    moved = [bool(cur) and c not in cur for c, cur in zip(
        clusters, g["current"].to_numpy()[gi], strict=True)]
    return sorted_pairs({"group_id": take(g["group_id"], gi), "cluster_id": clusters,
                         "minutes": minutes, "moved": np.asarray(moved, dtype=bool)})
