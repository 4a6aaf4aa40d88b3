"""The landscape graph: regions, municipalities, strongholds, operators, clusters and firm groups.

Firms are aggregated into demand groups g = (municipality, stronghold); a group is what the
model assigns. The graph is typed: every node has a ``kind`` and every edge a ``relation``:

================  ===========================  ==========================================
relation          from -> to                   meaning
================  ===========================  ==========================================
located_in        municipality -> region       administrative geography
located_in        operator -> municipality     where the operator sits
located_in        group -> municipality        where the group's firms are
part_of           group -> stronghold          the group's industry
competent_in      operator -> stronghold       the operator can serve that industry
hosts             operator -> cluster          the operator runs the cluster
covers            cluster -> stronghold        the cluster's industries
member_of         group -> cluster             today's memberships (``firms`` = how many)
================  ===========================  ==========================================

Nodes are ``(kind, id)`` tuples so that ids of different kinds never collide.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx
import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.geography import TravelTimes, ragged_arange, travel_times
from ..frames import among

GROUP_SEPARATOR = "|"
#: Sparse travel times: the first radius searched for a group's nearest competent operator
#: (groups with none within it are looked up exactly, against every competent operator).
NEAREST_RADIUS_MINUTES = 60.0


def _escape(ids: pd.Series) -> pd.Series:
    return ids.astype(str).str.replace("\\", "\\\\", regex=False).str.replace(
        GROUP_SEPARATOR, "\\" + GROUP_SEPARATOR, regex=False)


def group_id(municipality_id: pd.Series, stronghold_id: pd.Series) -> pd.Series:
    """``municipality|stronghold``, with ``|`` and ``\\`` inside ids escaped so that two
    different pairs never share a group id (ids may contain any text)."""
    return _escape(municipality_id) + GROUP_SEPARATOR + _escape(stronghold_id)


def build_groups(dataset: Dataset) -> tuple[pd.DataFrame, pd.Series]:
    """Demand groups and each firm's group id (aligned with ``dataset.firms``)."""
    firms = dataset.firms
    gid = group_id(firms["municipality_id"], firms["stronghold_id"])
    groups = (
        firms.assign(group_id=gid)
        .groupby("group_id", sort=True)
        .agg(municipality_id=("municipality_id", "first"),
             stronghold_id=("stronghold_id", "first"),
             weight=("weight", "sum"),
             firms=("firm_id", "size"))
        .reset_index()
    )
    munis = dataset.municipalities.set_index("municipality_id")
    groups["region_id"] = groups["municipality_id"].map(munis["region_id"])
    groups["rural"] = groups["municipality_id"].map(munis["rural"]).astype(bool)
    return groups, gid


@dataclass(frozen=True)
class Landscape:
    dataset: Dataset
    graph: nx.DiGraph
    groups: pd.DataFrame
    firm_group: pd.Series
    times: TravelTimes

    # ---------------------------------------------------------------- graph queries
    def nodes(self, kind: str) -> list[str]:
        return [n[1] for n, k in self.graph.nodes(data="kind") if k == kind]

    def related(self, kind: str, node_id: str, relation: str, *, incoming: bool = False,
                ) -> list[str]:
        """Ids at the other end of ``relation`` edges from (or, if ``incoming``, to) a node."""
        node = (kind, node_id)
        edges = self.graph.in_edges(node, data="relation") if incoming else \
            self.graph.out_edges(node, data="relation")
        ends = [u if incoming else v for u, v, r in edges if r == relation]
        return sorted(e[1] for e in ends)

    def edges(self, relation: str) -> pd.DataFrame:
        """All edges of one relation as a table ``source, target`` (plus edge attributes)."""
        rows = [{"source": u[1], "target": v[1], **{k: x for k, x in d.items() if k != "relation"}}
                for u, v, d in self.graph.edges(data=True) if d["relation"] == relation]
        return pd.DataFrame(rows, columns=None if rows else ["source", "target"])

    @cached_property
    def competence(self) -> pd.DataFrame:
        """``operator_id, stronghold_id`` from the graph's competent_in edges."""
        e = self.edges("competent_in")
        return e.rename(columns={"source": "operator_id", "target": "stronghold_id"})[
            ["operator_id", "stronghold_id"]].sort_values(["operator_id", "stronghold_id"],
                                                          ignore_index=True)

    def eligible_pairs(self, max_minutes: float | None = None) -> pd.DataFrame:
        """Every (group, operator) with the operator competent in the group's stronghold
        and, if ``max_minutes`` is given, within that travel time. Columns:
        ``group_id, operator_id, minutes``, sorted by group and operator."""
        return self._eligible(self.groups, max_minutes)

    def _eligible(self, groups: pd.DataFrame, max_minutes: float | None,
                  exclude: Collection[str] = ()) -> pd.DataFrame:
        ops = self.dataset.operators
        # Operator ids as the operators table types them (the merge of before kept that);
        # an operator missing there has no place, so no pair (as an inner merge).
        row = pd.Index(ops["operator_id"]).get_indexer(self.competence["operator_id"])
        keep = row >= 0
        if exclude:
            keep &= ~self.competence["operator_id"].isin(set(exclude)).to_numpy()
        comp = self.competence[keep]
        row = row[keep]
        g, o, minutes = reachable_pairs(
            self.times, groups["municipality_id"], groups["stronghold_id"],
            ops["municipality_id"].iloc[row], comp["stronghold_id"], max_minutes)
        return sorted_pairs({"group_id": take(groups["group_id"], g),
                             "operator_id": take(ops["operator_id"], row[o]),
                             "minutes": minutes})

    def nearest_competent(self, groups: pd.DataFrame | None = None,
                          exclude: Collection[str] = ()) -> pd.DataFrame:
        """For each group (of ``groups``, default all): the nearest competent operator, other
        than those in ``exclude``, and its travel time (missing when there is none)."""
        groups = self.groups if groups is None else groups
        # Sparse travel times: a group with a competent operator within a radius has its
        # nearest there; only the others are looked up against every competent operator.
        # Dense: one pass over every pair, as the radius is None.
        held = self.times.held_radius
        radius = None if held == math.inf else max(held or 0.0, NEAREST_RADIUS_MINUTES)
        pairs = self._eligible(groups, radius, exclude)
        rest = ~among(groups["group_id"], pairs["group_id"])
        if radius is not None and rest.any():
            pairs = pd.concat([pairs, self._eligible(groups[rest], None, exclude)],
                              ignore_index=True)
        best = pairs.sort_values(["group_id", "minutes", "operator_id"]).drop_duplicates(
            "group_id")
        out = groups.merge(best, on="group_id", how="left")
        return out.rename(columns={"operator_id": "nearest_operator",
                                   "minutes": "nearest_minutes"})


def reachable_pairs(times: TravelTimes, left_place: pd.Series, left_key: pd.Series,
                    right_place: pd.Series, right_key: pd.Series, max_minutes: float | None,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row positions ``(left, right)`` and minutes of every left row (a demand group: its
    municipality and key) and right row (a provider: its municipality and key) with equal
    keys and a travel time from left to right of at most ``max_minutes`` (any when None).

    Never forms the cross product of rows: per key, the municipality pairs within reach come
    from the travel times (``TravelTimes.reach``, radius-limited), and only those are expanded
    to the rows at both ends."""
    lpos = times.position(left_place.to_numpy())
    rpos = times.position(right_place.to_numpy())
    codes, _ = pd.factorize(pd.concat([left_key, right_key], ignore_index=True))
    lkey, rkey = codes[:len(lpos)], codes[len(lpos):]
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for key in np.intersect1d(lkey, rkey):
        lrows, rrows = np.flatnonzero(lkey == key), np.flatnonzero(rkey == key)
        lby, rby = _by_place(lpos[lrows]), _by_place(rpos[rrows])
        frm, to, minutes = times.reach(lby[0], rby[0], max_minutes)
        # Each municipality pair -> its left rows, then each of those -> its right rows.
        li, first = _expand(lby, frm)
        ri, second = _expand(rby, to[first])
        out.append((lrows[li[second]], rrows[ri], minutes[first][second]))
    if not out:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    left, right, minutes = (np.concatenate(parts) for parts in zip(*out, strict=True))
    return left, right, minutes


def _by_place(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows grouped by municipality: distinct positions, first row of each in ``order``,
    row counts, and ``order`` (row indices sorted by position)."""
    order = np.argsort(pos, kind="stable")
    places, starts, counts = np.unique(pos[order], return_index=True, return_counts=True)
    return places, starts, counts, order


def _expand(by: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], pos: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray]:
    """For each entry of ``pos`` every row at that municipality: ``(row, entry)`` arrays."""
    places, starts, counts, order = by
    at = np.searchsorted(places, pos)
    entry = np.repeat(np.arange(len(pos)), counts[at])
    return order[ragged_arange(starts[at], counts[at])], entry


def take(column: pd.Series, rows: np.ndarray) -> pd.Series:
    """``column`` at row positions ``rows``, its dtype kept (a merge would keep it too)."""
    return column.iloc[rows].reset_index(drop=True)


def sorted_pairs(columns: dict[str, np.ndarray | pd.Series]) -> pd.DataFrame:
    """A pair table sorted by its first two columns (ids, as ``sort_values`` orders text)."""
    frame = pd.DataFrame(columns)
    keys = list(columns)[:2]
    return frame.sort_values(keys, ignore_index=True)


def _competence(ds: Dataset) -> pd.DataFrame:
    """operator_strongholds, plus: with a kinds table, an ``entry_point`` operator without rows
    there is competent in every stronghold (an entry point guides any firm)."""
    if ds.kinds.empty:
        return ds.operator_strongholds
    entry = ds.kinds.loc[ds.kinds["layer"] == "entry_point", "kind"]
    ops = ds.operators.loc[ds.operators["kind"].isin(entry)
                           & ~ds.operators["operator_id"].isin(ds.operator_strongholds[
                               "operator_id"]), "operator_id"]
    every = pd.DataFrame({"operator_id": np.repeat(ops.to_numpy(), len(ds.strongholds)),
                          "stronghold_id": np.tile(ds.strongholds["stronghold_id"].to_numpy(),
                                                   len(ops))})
    return pd.concat([ds.operator_strongholds[["operator_id", "stronghold_id"]], every],
                     ignore_index=True)


def build_landscape(dataset: Dataset) -> Landscape:
    ds = dataset
    g = nx.DiGraph()

    def add_nodes(kind: str, frame: pd.DataFrame, key: str, attrs: list[str]) -> None:
        records = frame[[key, *attrs]].to_dict("records")
        g.add_nodes_from(((kind, r.pop(key)), {**r, "kind": kind}) for r in records)

    def add_edges(src_kind: str, dst_kind: str, frame: pd.DataFrame, src: str, dst: str,
                  relation: str, **attrs: pd.Series) -> None:
        extra = [dict(zip(attrs, vals, strict=True))
                 for vals in zip(*attrs.values(), strict=True)] if attrs else \
            [{}] * len(frame)
        g.add_edges_from(((src_kind, s), (dst_kind, d), {"relation": relation, **x})
                         for s, d, x in zip(frame[src], frame[dst], extra, strict=True))

    add_nodes("region", ds.regions, "region_id", ["name"])
    add_nodes("municipality", ds.municipalities, "municipality_id",
              ["name", "rural", "population"])
    add_nodes("stronghold", ds.strongholds, "stronghold_id", ["name", "weight"])
    # The node attribute "kind" is the node type; an operator's own kind is "operator_kind".
    add_nodes("operator", ds.operators.rename(columns={"kind": "operator_kind"}), "operator_id",
              ["name", "operator_kind", "annual_cost", "capacity"])
    add_nodes("cluster", ds.clusters, "cluster_id", ["name", "budget", "label"])

    groups, firm_group = build_groups(ds)
    add_nodes("group", groups, "group_id", ["weight", "firms", "rural"])

    add_edges("municipality", "region", ds.municipalities, "municipality_id", "region_id",
              "located_in")
    add_edges("operator", "municipality", ds.operators, "operator_id", "municipality_id",
              "located_in")
    add_edges("group", "municipality", groups, "group_id", "municipality_id", "located_in")
    add_edges("group", "stronghold", groups, "group_id", "stronghold_id", "part_of")
    add_edges("operator", "stronghold", _competence(ds), "operator_id", "stronghold_id",
              "competent_in")
    add_edges("operator", "cluster", ds.clusters, "operator_id", "cluster_id", "hosts")
    add_edges("cluster", "stronghold", ds.cluster_strongholds, "cluster_id", "stronghold_id",
              "covers")

    if not ds.memberships.empty:
        members = ds.memberships.assign(
            group_id=ds.memberships["firm_id"].map(
                pd.Series(firm_group.to_numpy(), index=ds.firms["firm_id"])),
            weight=ds.memberships["firm_id"].map(ds.firms.set_index("firm_id")["weight"]))
        per_group = members.groupby(["group_id", "cluster_id"], sort=True)["weight"].sum() \
            .reset_index()
        add_edges("group", "cluster", per_group, "group_id", "cluster_id", "member_of",
                  firms=per_group["weight"])

    return Landscape(ds, g, groups, firm_group, travel_times(ds))


def membership_counts(dataset: Dataset) -> pd.Series:
    """Number of current clusters per firm (0 for firms without membership), by firm_id."""
    counts = dataset.memberships.groupby("firm_id").size()
    return dataset.firms["firm_id"].map(counts).fillna(0).astype(np.int64).set_axis(
        dataset.firms["firm_id"])


@dataclass(frozen=True)
class LandscapeSummary:
    """The landscape at a glance; every table is a DataFrame for scripts, printed by the CLI."""

    totals: dict[str, float]
    regions: pd.DataFrame
    strongholds: pd.DataFrame
    fragmentation: pd.DataFrame
    far_places: pd.DataFrame
    radius_minutes: float
    #: Service layers (a kinds table): per kind its layer, operators and their cost and
    #: capacity; empty without one.
    layers: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict[str, object]:
        return {
            "totals": self.totals,
            "regions": self.regions.to_dict("records"),
            "strongholds": self.strongholds.to_dict("records"),
            "fragmentation": self.fragmentation.to_dict("records"),
            "far_places": self.far_places.to_dict("records"),
            "radius_minutes": self.radius_minutes,
            "layers": self.layers.to_dict("records"),
        }


def summarise(land: Landscape, radius_minutes: float = 60.0) -> LandscapeSummary:
    """Counts per region and stronghold, overlap, fragmentation and places far from service.

    ``far_places`` lists demand groups whose nearest competent operator is farther than
    ``radius_minutes`` (or that no operator can serve at all).
    """
    ds = land.dataset
    firms = ds.firms.merge(ds.municipalities[["municipality_id", "region_id", "rural"]],
                           on="municipality_id", how="left")
    ops = ds.operators.merge(ds.municipalities[["municipality_id", "region_id"]],
                             on="municipality_id", how="left")
    hosted = ds.clusters.merge(ops[["operator_id", "region_id"]], on="operator_id", how="left")

    munis = ds.municipalities
    regions = ds.regions[["region_id", "name"]].copy()
    regions["municipalities"] = regions["region_id"].map(munis.groupby("region_id").size())
    regions["rural_municipalities"] = regions["region_id"].map(
        munis[munis["rural"]].groupby("region_id").size())
    regions["population"] = regions["region_id"].map(munis.groupby("region_id")["population"]
                                                     .sum(min_count=1))
    regions["operators"] = regions["region_id"].map(ops.groupby("region_id").size())
    regions["clusters_hosted"] = regions["region_id"].map(hosted.groupby("region_id").size())
    regions["firms"] = regions["region_id"].map(firms.groupby("region_id")["weight"].sum())
    regions["rural_firm_share"] = regions["region_id"].map(
        firms[firms["rural"]].groupby("region_id")["weight"].sum()) / regions["firms"]
    regions = regions.fillna({c: 0 for c in ("municipalities", "rural_municipalities",
                                              "operators", "clusters_hosted", "firms",
                                              "rural_firm_share")})

    strongholds = ds.strongholds[["stronghold_id", "name", "skill_shortage_2025"]].copy()
    sid = strongholds["stronghold_id"]
    strongholds["firms"] = sid.map(firms.groupby("stronghold_id")["weight"].sum()).fillna(0)
    strongholds["competent_operators"] = sid.map(
        land.competence.groupby("stronghold_id").size()).fillna(0).astype(int)
    strongholds["clusters"] = sid.map(
        ds.cluster_strongholds.groupby("stronghold_id").size()).fillna(0).astype(int)
    cap = ds.operators.set_index("operator_id")["capacity"]
    comp_cap = land.competence.assign(capacity=land.competence["operator_id"].map(cap))
    strongholds["competent_capacity"] = sid.map(
        comp_cap.groupby("stronghold_id")["capacity"].apply(
            lambda c: np.inf if c.isna().any() else c.sum()))

    per_firm = membership_counts(ds)
    weights = ds.firms["weight"].to_numpy()
    bins = np.minimum(per_firm.to_numpy(), 3)
    frag = pd.DataFrame({"clusters_per_firm": ["0", "1", "2", "3+"]})
    frag["firms"] = [float(weights[bins == k].sum()) for k in range(4)]
    frag["share"] = frag["firms"] / max(weights.sum(), 1e-12)

    near = land.nearest_competent()
    far = near[near["nearest_minutes"].isna() | (near["nearest_minutes"] > radius_minutes)]
    names = munis.set_index("municipality_id")["name"]
    far = far.assign(municipality=far["municipality_id"].map(names))[
        ["municipality_id", "municipality", "stronghold_id", "weight", "rural",
         "nearest_operator", "nearest_minutes"]].sort_values(
        ["nearest_minutes", "weight"], ascending=False, ignore_index=True)

    total_weight = float(weights.sum())
    rural_weight = float(firms.loc[firms["rural"], "weight"].sum())
    totals = {
        "regions": len(ds.regions),
        "municipalities": len(munis),
        "rural_municipalities": int(munis["rural"].sum()),
        "strongholds": len(ds.strongholds),
        "operators": len(ds.operators),
        "clusters": len(ds.clusters),
        "firms": total_weight,
        "firm_rows": len(ds.firms),
        "demand_groups": len(land.groups),
        "memberships": len(ds.memberships),
        "rural_firm_share": rural_weight / total_weight if total_weight else 0.0,
        "firms_in_several_clusters_share": float(frag["share"].iloc[2:].sum()),
        "clusters_per_stronghold_mean": float(strongholds["clusters"].mean()),
        "operators_per_stronghold_mean": float(strongholds["competent_operators"].mean()),
    }
    return LandscapeSummary(totals, regions, strongholds, frag, far, radius_minutes,
                            _layers(ds))


def _layers(ds: Dataset) -> pd.DataFrame:
    """Operators per kind with its layer and scope (service layers), and the firms each layer
    serves by default: every firm (local), growth firms (guidance), members (cluster)."""
    if ds.kinds.empty:
        return pd.DataFrame()
    ops = ds.operators
    out = ds.kinds[["kind", "layer", "in_scope"]].copy()
    by_kind = ops.groupby("kind")
    out["operators"] = out["kind"].map(by_kind.size()).fillna(0).astype(int)
    out["annual_cost"] = out["kind"].map(by_kind["annual_cost"].sum()).fillna(0.0)
    out["capacity"] = out["kind"].map(by_kind["capacity"].apply(
        lambda c: np.inf if c.isna().any() else c.sum())).fillna(0.0)
    weight = ds.firms["weight"]
    demand = {"local_service": float(weight.sum()),
              "entry_point": float(weight[ds.firms["growth"].astype(bool)].sum()),
              "cluster": float(weight[among(ds.firms["firm_id"], ds.memberships["firm_id"])]
                               .sum())}
    out["firms_to_serve"] = out["layer"].map(demand)
    return out.sort_values(["layer", "kind"], ignore_index=True)
