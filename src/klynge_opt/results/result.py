"""Turning a solved model into decisions and numbers, and writing them (``docs/outputs.md``).

The output tables are plain DataFrames keyed by ids; the independent checker
(:mod:`klynge_opt.results.check`) reads only these tables and the raw data, never the model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import tomli_w

from ..cells import unprotect_frame
from ..data.dataset import Dataset
from ..data.scenario import Scenario
from ..frames import among, row_tuples
from ..fsio import clean_json, csv_text, guard_target, staged_dir
from ..model import services
from ..model.formulation import ModelInputs
from ..model.landscape import Landscape
from ..model.solver import SolveReport
from .outputs import (
    ALL_TABLES,
    COST_TERMS,
    DIAGNOSIS_FILE,
    LIST_SEPARATOR,
    OUTPUT_TABLES,
    REPORT_TABLES,
    SCENARIO_FILE,
    SERVICES,
    SUMMARY_FILE,
    ResultSummary,
    StatusQuoFigures,
)

#: Column order of operators.csv and clusters.csv, for plans and status quo.
OPERATOR_COLUMNS = OUTPUT_TABLES["operators"].names
CLUSTER_COLUMNS = OUTPUT_TABLES["clusters"].names
ASSIGNMENT_COLUMNS = OUTPUT_TABLES["assignments"].names
#: Variable values within this of 0/1 count as 0/1 (HiGHS's integrality tolerance is 1e-6).
ROUND = 1e-6


@dataclass
class Result:
    """What a solve produced: status, summary numbers and the decision tables.

    ``summary`` is summary.json as a plain dict; :attr:`facts` is its typed view.
    """

    status: str
    summary: dict[str, Any]
    operators: pd.DataFrame = field(default_factory=pd.DataFrame)
    clusters: pd.DataFrame = field(default_factory=pd.DataFrame)
    assignments: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Reports (``REPORT_TABLES``): coverage place by place.
    coverage_by_municipality: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_region: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_stronghold: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenario: Scenario | None = None
    message: str = ""
    #: Why an infeasible scenario cannot be met (klynge_opt.model.diagnosis.Diagnosis), if asked.
    diagnosis: Any = None

    @property
    def facts(self) -> ResultSummary:
        """The summary as declared in :mod:`klynge_opt.results.outputs` (read afresh:
        ``summary`` may still be added to). A summary without ``status`` takes the result's."""
        summary = self.summary if "status" in self.summary else {**self.summary,
                                                                  "status": self.status}
        return ResultSummary.from_dict(summary)

    @property
    def kept_operators(self) -> frozenset[str]:
        """Ids of the operators the plan keeps (empty without a plan)."""
        if not self.has_solution:
            return frozenset()
        ops = self.operators
        return frozenset(ops.loc[ops["kept"].astype(bool), "operator_id"].astype(str))

    @property
    def objective(self) -> float | None:
        return self.facts.objective

    @property
    def objective_terms(self) -> dict[str, float]:
        terms = self.facts.objective_terms
        return {} if terms is None else terms.to_dict()

    @property
    def has_solution(self) -> bool:
        return not self.operators.empty


# --------------------------------------------------------------------------- extraction


def _values(var: pyo.Var) -> pd.Series:
    keys = list(var.keys())
    vals = [var[k].value for k in keys]
    index = pd.MultiIndex.from_tuples(keys) if keys and isinstance(keys[0], tuple) else \
        pd.Index(keys)
    return pd.Series(np.asarray([np.nan if v is None else v for v in vals], dtype=float),
                     index=index)


def _join(items: pd.Series) -> str:
    return LIST_SEPARATOR.join(sorted(str(i) for i in items))


def extract(m: pyo.ConcreteModel, land: Landscape, inp: ModelInputs, scenario: Scenario,
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Operators, clusters and assignments tables from a solved model."""
    ds = land.dataset
    # A variable HiGHS left without a value counts as 0, never as "kept".
    y = _values(m.y).fillna(0.0).round().astype(bool)
    z = _values(m.z).fillna(0.0).round().astype(bool)
    v = _values(m.v)
    split = scenario.policy.allow_split

    served = _group_plan(m.x, "operator_id", split)
    unserved = _unserved(m, "u")
    active = v[v > 0.5].index.to_frame(index=False, name=["operator_id", "stronghold_id"])
    forced = pd.Series(np.select([ds.operators["operator_id"].isin(inp.keep),
                                  ds.operators["operator_id"].isin(inp.close)],
                                 ["keep", "close"], ""), index=ds.operators["operator_id"])
    selected = ds.clusters["cluster_id"].map(z).fillna(False).astype(bool)
    plan = pd.concat([served[["group_id", "operator_id", "share"]], unserved],
                     ignore_index=True)
    if inp.layered:
        host = ds.clusters.set_index("cluster_id")["operator_id"]
        local = pd.concat([_group_plan(m.xl, "operator_id", split), _unserved(m, "ul")],
                          ignore_index=True)
        member = pd.concat([_group_plan(m.w, "cluster_id", split), _unserved(m, "uc")],
                           ignore_index=True)
        member["operator_id"] = member["cluster_id"].map(host).fillna("")
        merged = _merged(m)
        assignments = layered_assignments(land, {
            "local": (inp.firm_groups["local"], local),
            "guidance": (inp.firm_groups["guidance"], plan),
            "cluster": (inp.firm_groups["cluster"], member)},
            merged)
    else:
        merged = {}
        assignments = _assignments(land, plan, ds.clusters[selected.to_numpy()])
    decisions = Decisions(
        kept=ds.operators["operator_id"].map(y).fillna(False).astype(bool).to_numpy(),
        forced=forced.to_numpy(), serves=active, selected=selected.to_numpy(),
        admissible=ds.clusters["cluster_id"].map(inp.clusters["admissible"]).astype(bool)
        .to_numpy(),
        upgrade_cost=ds.clusters["cluster_id"].map(inp.clusters["upgrade_cost"]).fillna(0.0)
        .to_numpy(float), require_gold=scenario.policy.require_gold,
        cluster_forced=_cluster_forced(ds, scenario), counts=_counted(m, inp, z),
        merged=merged)
    ops, cl = plan_tables(land, decisions, assignments)
    return ops, cl, assignments


def _group_plan(var: pyo.Var, provider: str, split: bool) -> pd.DataFrame:
    """(group_id, provider, share) of a group's positive assignments."""
    values = _values(var)
    on = values[values > ROUND].clip(upper=1.0)
    # Shares of a binary assignment are exactly 1; continuous ones are kept as solved.
    return pd.DataFrame({"group_id": [k[0] for k in on.index],
                         provider: [k[1] for k in on.index],
                         "share": on.to_numpy(dtype=float) if split else 1.0})


def _unserved(m: pyo.ConcreteModel, name: str) -> pd.DataFrame:
    """(group_id, operator_id "", share) of the unserved shares (soft coverage)."""
    if not hasattr(m, name):
        return pd.DataFrame({"group_id": pd.Series(dtype=object),
                             "operator_id": pd.Series(dtype=object),
                             "share": pd.Series(dtype=float)})
    u = _values(getattr(m, name))
    u = u[u > ROUND].clip(upper=1.0)
    return pd.DataFrame({"group_id": list(u.index), "operator_id": "", "share": u.to_numpy()})


def _merged(m: pyo.ConcreteModel) -> dict[str, str]:
    """Merged cluster -> its successor (allow_mergers)."""
    if not hasattr(m, "mg"):
        return {}
    mg = _values(m.mg).fillna(0.0).round().astype(bool)
    return {c0: c for c0, c in mg[mg].index}


def _counted(m: pyo.ConcreteModel, inp: ModelInputs, z: pd.Series) -> pd.DataFrame:
    """(cluster, stronghold) pairs a selected cluster counts for in the requirement."""
    if hasattr(m, "a"):
        a = _values(m.a).fillna(0.0).round().astype(bool)
        return a[a].index.to_frame(index=False, name=["cluster_id", "stronghold_id"])
    return inp.counts[inp.counts["cluster_id"].map(z).fillna(False).astype(bool).to_numpy()]


def _cluster_forced(ds: Dataset, scenario: Scenario) -> np.ndarray:
    pol = scenario.policy
    ids = ds.clusters["cluster_id"]
    return np.select([ids.isin(pol.keep_clusters), ids.isin(pol.close_clusters)],
                     ["keep", "close"], "")


@dataclass(frozen=True)
class Decisions:
    """A plan's decisions, aligned with the data set's operators and clusters tables."""

    kept: np.ndarray
    #: "keep", "close" or "" per operator.
    forced: np.ndarray
    #: (operator_id, stronghold_id) pairs served.
    serves: pd.DataFrame
    selected: np.ndarray
    admissible: np.ndarray
    #: Under require_gold a selected cluster below gold is upgraded and pays this.
    upgrade_cost: np.ndarray
    require_gold: bool = False
    #: "keep", "close" or "" per cluster (keep_clusters / close_clusters).
    cluster_forced: np.ndarray | None = None
    #: (cluster_id, stronghold_id): the strongholds each selected cluster counts for; None:
    #: every stronghold it covers (the status quo).
    counts: pd.DataFrame | None = None
    #: Merged cluster -> successor.
    merged: Mapping[str, str] = field(default_factory=dict)


def plan_tables(land: Landscape, d: Decisions, assignments: pd.DataFrame,
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The operators and clusters tables of a plan (solved, or today's landscape)."""
    ds = land.dataset
    ops = ds.operators[["operator_id", "name", "kind", "municipality_id", "annual_cost",
                        "cost_per_firm", "capacity", "closure_cost"]].copy()
    layers = services.operator_layers(ds)
    ops["layer"] = ops["operator_id"].map(layers["layer"]).to_numpy()
    ops["in_scope"] = ops["operator_id"].map(layers["in_scope"]).astype(bool).to_numpy()
    ops["region_id"] = ops["municipality_id"].map(
        ds.municipalities.set_index("municipality_id")["region_id"])
    ops["kept"] = d.kept
    ops["forced"] = d.forced
    hosted = ds.clusters[d.selected]
    ops["hosts"] = ops["operator_id"].map(
        hosted.groupby("operator_id")["cluster_id"].agg(_join)).astype(object).fillna("")
    ops["serves"] = ops["operator_id"].map(
        d.serves.groupby("operator_id")["stronghold_id"].agg(_join)).astype(object).fillna("")
    served = assignments[assignments["operator_id"] != ""]
    ops["firms_served"] = ops["operator_id"].map(
        (served["weight"] * served["share"]).groupby(served["operator_id"]).sum()).fillna(0.0)
    ops["utilisation"] = ops["firms_served"] / ops["capacity"]
    ops["operating_cost"] = np.where(ops["kept"], ops["annual_cost"], 0.0) \
        + ops["cost_per_firm"] * ops["firms_served"]
    ops["closure_cost_paid"] = np.where(ops["kept"], 0.0, ops["closure_cost"])
    ops = ops[OPERATOR_COLUMNS]

    cl = ds.clusters.rename(columns={"operator_id": "host_operator_id"}).copy()
    covers = ds.cluster_strongholds.groupby("cluster_id")["stronghold_id"].agg(_join)
    cl["strongholds"] = cl["cluster_id"].map(covers).fillna("")
    counted = d.counts if d.counts is not None else ds.cluster_strongholds[
        ds.cluster_strongholds["cluster_id"].isin(ds.clusters["cluster_id"][d.selected])]
    cl["counts_for"] = cl["cluster_id"].map(
        counted.groupby("cluster_id")["stronghold_id"].agg(_join)).astype(object).fillna("")
    cl["selected"] = d.selected
    cl["merged_into"] = cl["cluster_id"].map(d.merged).astype(object).fillna("")
    cl["forced"] = "" if d.cluster_forced is None else d.cluster_forced
    cl["admissible"] = d.admissible
    members = assignments[(assignments["service"] == "cluster")
                          & (assignments["cluster_id"] != "")]
    cl["members_served"] = cl["cluster_id"].map(
        (members["weight"] * members["share"]).groupby(members["cluster_id"]).sum()
    ).astype(float).fillna(0.0)
    upgraded = cl["selected"] & d.require_gold & (cl["label"] != "gold")
    cl["label_after"] = np.where(upgraded, "gold", cl["label"])
    cl["upgrade_cost_paid"] = np.where(upgraded, d.upgrade_cost, 0.0)
    return ops, cl[CLUSTER_COLUMNS]


def _assignments(land: Landscape, group_plan: pd.DataFrame, selected: pd.DataFrame,
                 ) -> pd.DataFrame:
    """Every firm with its serving operator(s), cluster, travel minutes and whether it moved."""
    ds = land.dataset
    firms = ds.firms[["firm_id", "municipality_id", "stronghold_id", "weight"]].assign(
        group_id=land.firm_group.to_numpy())
    rows = firms.merge(group_plan, on="group_id", how="left")
    rows["operator_id"] = rows["operator_id"].fillna("")
    rows["share"] = rows["share"].fillna(0.0)

    op_muni = ds.operators.set_index("operator_id")["municipality_id"]
    has_op = rows["operator_id"] != ""
    rows["minutes"] = _minutes(land, rows["municipality_id"], rows["operator_id"].map(op_muni))

    # The firm's cluster: the selected cluster for its stronghold, preferring one its operator
    # hosts (matters only when several clusters per stronghold are selected).
    sel = selected[["cluster_id", "operator_id"]].merge(ds.cluster_strongholds, on="cluster_id")
    sel = sel.rename(columns={"operator_id": "host"})
    cand = rows[["firm_id", "operator_id", "stronghold_id"]].merge(sel, on="stronghold_id",
                                                                   how="left")
    cand["own"] = cand["host"] == cand["operator_id"]
    cand = cand.sort_values(["firm_id", "operator_id", "own", "cluster_id"],
                            ascending=[True, True, False, True])
    best = cand.drop_duplicates(["firm_id", "operator_id"])[["firm_id", "operator_id",
                                                             "cluster_id"]]
    rows = rows.merge(best, on=["firm_id", "operator_id"], how="left")
    rows.loc[~has_op.to_numpy(), "cluster_id"] = ""
    rows["cluster_id"] = rows["cluster_id"].fillna("")

    current = ds.memberships.merge(ds.clusters[["cluster_id", "operator_id"]], on="cluster_id")
    familiar = set(row_tuples(current, "firm_id", "operator_id"))
    member = among(rows["firm_id"], ds.memberships["firm_id"])
    known = np.fromiter(((f, o) in familiar for f, o in row_tuples(rows, "firm_id", "operator_id")),
                        dtype=bool, count=len(rows))
    rows["moved"] = member & ~known & has_op.to_numpy()
    rows["service"] = "guidance"
    return rows[ASSIGNMENT_COLUMNS].sort_values(
        ["firm_id", "operator_id"], ignore_index=True)


def layered_assignments(land: Landscape, plans: Mapping[str, tuple[pd.Series, pd.DataFrame]],
                        merged: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Assignment rows of every service: per service, each firm of its demand (``firm_group``
    not NaN) with the group plan's operator (and, for the cluster service, cluster) and
    share. ``moved``: a member assigned to a cluster that is none of its current clusters
    and none of their successors (``merged``: merged cluster -> successor)."""
    merged = merged or {}
    ds = land.dataset
    op_muni = ds.operators.set_index("operator_id")["municipality_id"]
    current = services.current_clusters(ds)
    frames = []
    for service, (firm_group, plan) in plans.items():
        needs = firm_group.notna().to_numpy()
        firms = ds.firms.loc[needs, ["firm_id", "municipality_id", "stronghold_id", "weight"]]
        firms = firms.assign(group_id=firm_group[needs].to_numpy(),
                             current=current[needs].to_numpy())
        if "cluster_id" not in plan:
            plan = plan.assign(cluster_id="")
        rows = firms.merge(plan[["group_id", "operator_id", "cluster_id", "share"]],
                           on="group_id", how="left")
        rows["operator_id"] = rows["operator_id"].fillna("")
        rows["cluster_id"] = rows["cluster_id"].fillna("")
        rows["share"] = rows["share"].fillna(0.0)
        rows["service"] = service
        rows["minutes"] = _minutes(land, rows["municipality_id"],
                                   rows["operator_id"].map(op_muni))
        rows["moved"] = [c != "" and bool(cur) and c not in cur
                         and not any(merged.get(k) == c for k in cur)
                         for c, cur in row_tuples(rows, "cluster_id", "current")]
        frames.append(rows[ASSIGNMENT_COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    out["moved"] = out["moved"].astype(bool)
    return out.sort_values(["firm_id", "service", "operator_id", "cluster_id"],
                           ignore_index=True)


def _minutes(land: Landscape, firm_muni: pd.Series, op_muni: pd.Series) -> np.ndarray:
    """Travel minutes from each firm's municipality to its operator's (NaN without one)."""
    minutes = np.full(len(firm_muni), np.nan)
    has = op_muni.notna().to_numpy()
    if has.any():
        i = land.times.position(firm_muni[has])
        j = land.times.position(op_muni[has])
        minutes[has] = land.times.lookup(i, j)
    return minutes


# --------------------------------------------------------------------------- numbers


def _jobs(assignments: pd.DataFrame, land: Landscape, scenario: Scenario) -> pd.Series:
    """Estimated jobs of each served assignment row (``[effect]``)."""
    growth = assignments["firm_id"].map(land.dataset.firms.set_index("firm_id")["growth"]) \
        .astype(bool)
    eff = scenario.effect
    rate = assignments["service"].map(eff.jobs_per_served_firm.model_dump()).astype(float)
    served = (assignments["operator_id"] != "").astype(float)
    return (assignments["weight"] * assignments["share"] * served * rate
            * np.where(growth, eff.growth_firm_factor, 1.0))


def _service_share(assignments: pd.DataFrame, service: str, key: pd.Series,
                   index: pd.Index) -> np.ndarray:
    """Served share of one service's demand per place (NaN where nobody needs it)."""
    rows = assignments[assignments["service"] == service]
    demand = rows.drop_duplicates("firm_id")
    firms = demand["weight"].groupby(key[demand.index].to_numpy()).sum()
    on = rows[rows["operator_id"] != ""]
    got = (on["weight"] * on["share"]).groupby(key[on.index].to_numpy()).sum()
    firms, got = firms.reindex(index), got.reindex(index).fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(firms > 0, got / firms, np.nan)


def coverage_by_place(land: Landscape, operators: pd.DataFrame, assignments: pd.DataFrame,
                      scenario: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Firms, served firms, served share, travel and operators present, per municipality and
    per region, for the guidance service (every firm's service without a kinds table;
    weights of firms, as everywhere)."""
    ds = land.dataset
    munis = ds.municipalities.set_index("municipality_id")
    rows = assignments[assignments["service"] == "guidance"]
    demand = rows.drop_duplicates("firm_id")
    served = rows[rows["operator_id"] != ""]
    w = served["weight"] * served["share"]
    kept = operators[operators["kept"].astype(bool)]

    jobs = _jobs(assignments, land, scenario)

    def place(key: pd.Series, place_of: pd.Series) -> pd.DataFrame:
        """The figures per place; ``place_of`` maps a municipality to its place."""
        firm_key = demand["municipality_id"].map(place_of).to_numpy()
        served_key = served["municipality_id"].map(place_of).to_numpy()
        all_key = assignments["municipality_id"].map(place_of)
        firms = demand["weight"].groupby(firm_key).sum()
        got = w.groupby(served_key).sum()
        minutes = served["minutes"]
        travel_sum = (minutes * w).groupby(served_key).sum()
        out = pd.DataFrame(index=pd.Index(key, name="id"))
        out["firms"] = firms.reindex(out.index).fillna(0.0).to_numpy(float)
        out["served"] = got.reindex(out.index).fillna(0.0).to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out["share"] = np.where(out["firms"] > 0, out["served"] / out["firms"], np.nan)
            out["travel_mean"] = np.where(out["served"] > 0, travel_sum.reindex(out.index)
                                          .fillna(0.0) / out["served"], np.nan)
        out["travel_max"] = minutes.groupby(served_key).max().reindex(out.index)
        out["operators_present"] = kept["municipality_id"].map(place_of).value_counts() \
            .reindex(out.index).fillna(0).astype(float)
        out["local_share"] = _service_share(assignments, "local", all_key, out.index)
        out["cluster_share"] = _service_share(assignments, "cluster", all_key, out.index)
        out["jobs"] = jobs.groupby(all_key.to_numpy()).sum().reindex(out.index).fillna(0.0) \
            .to_numpy(float)
        return out.reset_index(drop=True)

    by_muni = place(ds.municipalities["municipality_id"],
                    pd.Series(munis.index, index=munis.index))
    by_muni.insert(0, "municipality_id", ds.municipalities["municipality_id"].to_numpy())
    by_muni.insert(1, "name", ds.municipalities["name"].to_numpy())
    by_muni.insert(2, "region_id", ds.municipalities["region_id"].to_numpy())
    by_muni.insert(3, "rural", ds.municipalities["rural"].astype(bool).to_numpy())
    by_region = place(ds.regions["region_id"], munis["region_id"])
    by_region.insert(0, "region_id", ds.regions["region_id"].to_numpy())
    by_region.insert(1, "name", ds.regions["name"].to_numpy())
    return (by_muni[REPORT_TABLES["coverage_by_municipality"].names],
            by_region[REPORT_TABLES["by_region"].names])


def by_stronghold(land: Landscape, clusters: pd.DataFrame, assignments: pd.DataFrame,
                  scenario: Scenario) -> pd.DataFrame:
    """Per stronghold: firms, the selected clusters counting for it, cluster-service demand,
    members served and moved, guidance demand and served, estimated jobs."""
    ds = land.dataset
    a = assignments
    s_of = a["stronghold_id"]
    out = ds.strongholds[["stronghold_id", "name"]].copy()
    sid = out["stronghold_id"]
    out["firms"] = sid.map(ds.firms.groupby("stronghold_id")["weight"].sum()).fillna(0.0)
    counted = clusters.loc[clusters["selected"].astype(bool), ["cluster_id", "counts_for"]]
    pairs = [(s, c) for c, cell in row_tuples(counted, "cluster_id", "counts_for")
             for s in str(cell).split(LIST_SEPARATOR) if s]
    per = pd.DataFrame(pairs, columns=["stronghold_id", "cluster_id"])
    out["clusters_selected"] = sid.map(per.groupby("stronghold_id")["cluster_id"].agg(_join)) \
        .astype(object).fillna("")
    on = a["operator_id"] != ""
    served = a["weight"] * a["share"]
    for service, prefix in (("cluster", "cluster"), ("guidance", "guidance")):
        rows = a["service"] == service
        demand = a[rows].drop_duplicates("firm_id")
        out[f"{prefix}_firms"] = sid.map(demand.groupby("stronghold_id")["weight"].sum()) \
            .fillna(0.0)
        out[f"{prefix}_served"] = sid.map(served[rows & on].groupby(s_of[rows & on]).sum()) \
            .fillna(0.0)
    moved = a["moved"].astype(bool)
    out["firms_moved"] = sid.map(served[moved].groupby(s_of[moved]).sum()).fillna(0.0)
    out["jobs"] = sid.map(_jobs(a, land, scenario).groupby(s_of).sum()).fillna(0.0)
    return out[REPORT_TABLES["by_stronghold"].names]


def _coverage(rows: pd.DataFrame, rural_of: pd.Series) -> dict[str, float | None]:
    """Served share of one service's demand (the firms with rows), all / rural / urban."""
    demand = rows.drop_duplicates("firm_id")
    served = rows[rows["operator_id"] != ""]
    w_served = served["weight"] * served["share"]
    firm_rural = demand["municipality_id"].map(rural_of).astype(bool)
    served_rural = served["municipality_id"].map(rural_of).astype(bool)

    def share(mask_all: pd.Series, mask_served: pd.Series) -> float | None:
        denominator = float(demand.loc[mask_all, "weight"].sum())
        if denominator == 0:
            return None
        return float(w_served[mask_served].sum()) / denominator

    return {"all": share(firm_rural | ~firm_rural, served_rural | ~served_rural),
            "rural": share(firm_rural, served_rural), "urban": share(~firm_rural, ~served_rural)}


def plan_statistics(assignments: pd.DataFrame, land: Landscape) -> dict[str, Any]:
    """Coverage, travel and movement figures of a plan, from its assignments table. The
    headline ``coverage`` and travel are the guidance service's (every firm's service without
    a kinds table); ``coverage_by_service`` gives each service's."""
    rural_of = land.dataset.municipalities.set_index("municipality_id")["rural"]
    a = assignments
    guidance = a[a["service"] == "guidance"]
    served = guidance[guidance["operator_id"] != ""]
    w_served = served["weight"] * served["share"]
    minutes = served["minutes"]
    moved = a[a["moved"].astype(bool)]
    return {
        "coverage": _coverage(guidance, rural_of),
        "travel_minutes": {
            "mean": float((minutes * w_served).sum() / w_served.sum()) if len(served) else None,
            "max": float(minutes.max()) if len(served) else None,
        },
        "firms_moved": float((moved["weight"] * moved["share"]).sum()),
        "coverage_by_service": {s: _coverage(a[a["service"] == s], rural_of)
                                if (a["service"] == s).any() else None for s in SERVICES},
    }


def effect_figures(assignments: pd.DataFrame, land: Landscape, scenario: Scenario,
                   annual_cost: float) -> dict[str, Any]:
    """Common effect measurement of a plan: firms, growth firms and employees served per
    service and the estimated jobs (``[effect]``), with cost per served firm and per job."""
    ds = land.dataset
    info = ds.firms.set_index("firm_id")[["growth", "employees"]]
    a = assignments[assignments["operator_id"] != ""]
    served = a["weight"] * a["share"]
    growth = a["firm_id"].map(info["growth"]).astype(bool)
    employees = a["firm_id"].map(info["employees"]).astype(float).fillna(0.0)
    per = {s: a["service"] == s for s in SERVICES}
    jobs = float(_jobs(a, land, scenario).sum())
    # A firm served by several services counts once (its best-served service's weight).
    per_service = served.groupby([a["firm_id"], a["service"]]).sum()
    reached = float(per_service.groupby(level=0).max().sum()) if len(a) else 0.0
    return {
        "firms_served": {s: float(served[mask].sum()) for s, mask in per.items()},
        "growth_firms_served": {s: float(served[mask & growth].sum()) for s, mask in per.items()},
        "employees_served": {s: float((served * employees)[mask].sum())
                             for s, mask in per.items()},
        "jobs": float(jobs),
        "annual_cost": float(annual_cost),
        "cost_per_served_firm": annual_cost / reached if reached > 0 else None,
        "cost_per_job": annual_cost / jobs if jobs > 0 else None,
    }


def annual_cost(operators: pd.DataFrame, clusters: pd.DataFrame) -> float:
    """DKK per year of what the reform decides: in-scope operators kept, every operator's
    per-firm cost on the firms it serves, clusters selected or merged into one (a merged
    cluster's programme goes on inside its successor)."""
    in_scope = operators["in_scope"].astype(bool)
    fixed = operators.loc[in_scope & operators["kept"].astype(bool), "annual_cost"].sum()
    per_firm = (operators["cost_per_firm"] * operators["firms_served"]).sum()
    cl = clusters[clusters["selected"].astype(bool) | (clusters["merged_into"] != "")]
    return float(fixed + per_firm) + float(cl["annual_cost"].fillna(0.0).sum())


def status_quo_plan(land: Landscape, scenario: Scenario) -> pd.DataFrame:
    """Today's assignments. Without a kinds table: each firm served by the nearest host of its
    current clusters (in that cluster), or, without a membership, by the nearest competent
    operator. With one, per service: local by the municipality's own local operator (the
    nearest one where it has none), guidance by the
    nearest competent entry point (or other in-scope operator), cluster by the nearest of
    the firm's current clusters (a firm without one unserved)."""
    ds = land.dataset
    if not services.is_layered(ds):
        return _legacy_status_quo_plan(land)
    layers = services.operator_layers(ds)
    in_scope = layers.index[layers["in_scope"].to_numpy(bool)]
    local_ops = in_scope[layers.loc[in_scope, "layer"] == "local_service"]
    givers = in_scope[layers.loc[in_scope, "layer"].isin(services.GUIDANCE_LAYERS)]
    firms = ds.firms[["firm_id", "municipality_id", "stronghold_id"]].assign(
        row=np.arange(len(ds.firms)))

    op_muni = ds.operators.set_index("operator_id")["municipality_id"]

    def nearest(cand: pd.DataFrame, key: list[str], own_first: bool = False) -> pd.DataFrame:
        """One row per ``key``: the candidate with the fewest minutes (ties by id); with
        ``own_first``, one in the firm's own municipality before any other."""
        where = cand["operator_id"].map(op_muni)
        cand = cand.assign(minutes=_minutes(land, cand["municipality_id"], where),
                           away=(where != cand["municipality_id"]) & own_first)
        return cand.sort_values([*key, "away", "minutes", "operator_id", "cluster_id"]) \
            .drop_duplicates(key)

    def by_place(cand: pd.DataFrame, key: list[str], own_first: bool = False) -> pd.DataFrame:
        """The nearest provider per place (all firms there share it), given to each firm."""
        best = nearest(cand.assign(cluster_id=""), key, own_first)
        return firms.merge(best[[*key, "operator_id", "cluster_id", "minutes"]], on=key)

    places = firms[["municipality_id", "stronghold_id"]].drop_duplicates()
    # Today a municipality's firms use its own business service, however near a neighbour's.
    local = by_place(places[["municipality_id"]].drop_duplicates().merge(
        pd.DataFrame({"operator_id": local_ops}), how="cross"), ["municipality_id"],
        own_first=True)
    comp = land.competence[land.competence["operator_id"].isin(givers)]
    guidance = by_place(places.merge(comp, on="stronghold_id"),
                        ["municipality_id", "stronghold_id"])
    hosts = ds.memberships.merge(ds.clusters[["cluster_id", "operator_id"]], on="cluster_id")
    cluster = nearest(firms.merge(hosts[["firm_id", "operator_id", "cluster_id"]],
                                  on="firm_id"), ["row"])

    demand = services.firm_demand(ds, scenario.policy)

    def plan(rows: pd.DataFrame, service: str) -> tuple[pd.Series, pd.DataFrame]:
        # Each firm its own group: the status quo is not aggregated.
        firm_group = pd.Series(np.where(demand[service].to_numpy(), np.arange(len(ds.firms)),
                                        np.nan))
        return firm_group, rows.assign(group_id=rows["row"].astype(float), share=1.0)

    return layered_assignments(land, {"local": plan(local, "local"),
                                      "guidance": plan(guidance, "guidance"),
                                      "cluster": plan(cluster, "cluster")})


def _legacy_status_quo_plan(land: Landscape) -> pd.DataFrame:
    ds = land.dataset
    times = land.times
    op_muni = ds.operators.set_index("operator_id")["municipality_id"]
    firms = ds.firms[["firm_id", "municipality_id", "stronghold_id", "weight"]]
    hosts = ds.memberships.merge(ds.clusters[["cluster_id", "operator_id"]], on="cluster_id")
    cand = hosts[["firm_id", "operator_id", "cluster_id"]].merge(firms, on="firm_id")
    cand["minutes"] = times.lookup(times.position(cand["municipality_id"]),
                                   times.position(cand["operator_id"].map(op_muni)))
    # A firm without a membership goes to the nearest competent operator of its place and
    # stronghold: found once per place and stronghold, not once per firm and operator (that
    # cross product passed 10 GB at a million firms).
    key = ["municipality_id", "stronghold_id"]
    nearest = land.nearest_competent().dropna(subset=["nearest_operator"]).drop_duplicates(
        key)[[*key, "nearest_operator", "nearest_minutes"]].rename(
        columns={"nearest_operator": "operator_id", "nearest_minutes": "minutes"})
    nonmember = firms[~among(firms["firm_id"], ds.memberships["firm_id"])]
    cand = pd.concat([cand, nonmember.merge(nearest, on=key).assign(cluster_id="")],
                     ignore_index=True)
    best = cand.sort_values(["firm_id", "minutes", "operator_id", "cluster_id"]) \
        .drop_duplicates("firm_id")
    return best.assign(share=1.0, moved=False, service="guidance")[ASSIGNMENT_COLUMNS] \
        .reset_index(drop=True)


def status_quo_terms(land: Landscape, scenario: Scenario, assignments: pd.DataFrame,
                     ) -> dict[str, float]:
    cost = scenario.costs
    h = cost.horizon_years
    ops = land.dataset.operators
    in_scope = ops["operator_id"].map(services.operator_layers(land.dataset)["in_scope"]) \
        .astype(bool)
    travel = assignments[assignments["service"] != "cluster"]
    served = assignments[assignments["operator_id"] != ""]
    load = (served["weight"] * served["share"]).groupby(served["operator_id"]).sum()
    per_firm = float((ops["cost_per_firm"] * ops["operator_id"].map(load).fillna(0.0)).sum())
    return {"operating": h * (float(ops.loc[in_scope, "annual_cost"].sum()) + per_firm),
            "service": h * cost.cost_per_firm_minute * float(
                (travel["weight"] * travel["share"] * travel["minutes"]).sum()),
            "closure": 0.0, "upgrade": 0.0, "disruption": 0.0, "unserved_penalty": 0.0,
            "cluster_operating": h * float(land.dataset.clusters["annual_cost"].sum()),
            "outside_scope": h * float(ops.loc[~in_scope, "annual_cost"].sum()),
            "merger": 0.0}


def status_quo(land: Landscape, scenario: Scenario) -> dict[str, Any]:
    """Today's landscape under the scenario's cost model, without optimisation.

    Every operator stays and every cluster runs (see :func:`status_quo_plan`). Capacities and
    policies are not enforced: the status quo is a reference point, not a feasible plan.
    """
    plan = status_quo_plan(land, scenario)
    terms = status_quo_terms(land, scenario, plan)
    figures = plan_statistics(plan, land)
    radius = scenario.policy.max_travel_minutes
    within = None
    if radius is not None:
        # The scenario's yardstick: a firm farther than the radius counts as not served.
        far = (plan["minutes"] > radius) & (plan["service"] == "guidance")
        near = plan.assign(operator_id=plan["operator_id"].where(~far, ""))
        within = plan_statistics(near, land)["coverage"]
    ops, cl = status_quo_result_tables(land, plan)
    return {"objective": sum(terms.values()), "objective_terms": terms,
            "operators": len(land.dataset.operators), "clusters": len(land.dataset.clusters),
            "coverage": figures["coverage"], "coverage_within_radius": within,
            "travel_minutes": figures["travel_minutes"], "firms_moved": figures["firms_moved"],
            "coverage_by_service": figures["coverage_by_service"],
            "effect": effect_figures(plan, land, scenario, annual_cost(ops, cl)),
            "baseline": scenario.baseline}


def status_quo_result_tables(land: Landscape, assignments: pd.DataFrame,
                             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Operators and clusters tables of the status quo: everything kept, every cluster runs."""
    ds = land.dataset
    n_ops, n_cl = len(ds.operators), len(ds.clusters)
    return plan_tables(land, Decisions(
        kept=np.ones(n_ops, bool), forced=np.full(n_ops, ""), serves=land.competence,
        selected=np.ones(n_cl, bool), admissible=np.ones(n_cl, bool),
        upgrade_cost=np.zeros(n_cl)), assignments)


def summarise(report: SolveReport, m: pyo.ConcreteModel, land: Landscape, scenario: Scenario,
              operators: pd.DataFrame, clusters: pd.DataFrame, assignments: pd.DataFrame,
              timings: dict[str, float], baseline: dict[str, Any]) -> dict[str, Any]:
    terms = {t: float(pyo.value(getattr(m, f"cost_{t}"))) for t in COST_TERMS}
    objective = sum(terms.values())
    stats = plan_statistics(assignments, land)
    today = StatusQuoFigures.from_dict(baseline)
    in_scope_today = today.objective - today.objective_terms.outside_scope
    return {
        "status": report.status,
        "proven_optimal": report.status == "optimal",
        "objective": objective,
        "objective_terms": terms,
        "objective_bound": None if report.bound is None else report.bound * m.objective_scale,
        "mip_gap": report.mip_gap,
        "solver_termination": report.termination,
        "linking": getattr(m, "_linking", None),
        "warm_start": getattr(m, "_warm_start", None),
        "timings": timings,
        "counts": {
            "operators_before": len(land.dataset.operators),
            "operators_after": int(operators["kept"].sum()),
            "clusters_before": len(land.dataset.clusters),
            "clusters_after": int(clusters["selected"].sum()),
        },
        **stats,
        "effect": effect_figures(assignments, land, scenario, annual_cost(operators, clusters)),
        "status_quo": baseline,
        "savings": savings_figures(today.objective, objective, in_scope_today),
    }


def savings_figures(today: float, plan: float, in_scope_today: float) -> dict[str, Any]:
    """Savings against the status quo, as a share of it and of its in-scope part."""
    saved = today - plan
    return {"total": saved, "share": saved / today if today else None,
            "in_scope_share": saved / in_scope_today if in_scope_today else None}


# --------------------------------------------------------------------------- files


def write_result(result: Result, out_dir: str | os.PathLike[str], *,
                 protected: Iterable[str | os.PathLike[str] | None] = ()) -> Path:
    """Write all outputs into ``out_dir`` atomically: complete, or the old folder untouched.

    ``out_dir`` may be new, empty or an earlier result; anything else (a data set, a project,
    a file) is refused with :class:`~klynge_opt.fsio.OutputError`, and so is a folder holding
    one of the ``protected`` paths (the data set and scenario being used).
    """
    target = Path(out_dir)

    def guard() -> None:
        guard_target(target, "result", protected=protected, legacy=(SUMMARY_FILE,))

    guard()
    facts = result.facts
    marker = {"tool": "klynge-opt", "kind": "result", "scenario": facts.scenario,
              "input_hash": facts.input_hash}
    with staged_dir(target, marker, check=guard) as tmp:
        (tmp / SUMMARY_FILE).write_text(json.dumps(result.summary, indent=2, default=_json,
                                                   allow_nan=False), encoding="utf-8")
        if result.diagnosis is not None:
            (tmp / DIAGNOSIS_FILE).write_text(json.dumps(clean_json(result.diagnosis.to_dict()),
                                                         indent=2, default=_json),
                                              encoding="utf-8")
        if result.scenario is not None:
            (tmp / SCENARIO_FILE).write_text(tomli_w.dumps(result.scenario.to_toml_dict()),
                                             encoding="utf-8")
        if result.has_solution:
            for name, table in ALL_TABLES.items():
                frame = getattr(result, name)
                if name in OUTPUT_TABLES or not frame.empty:
                    csv_text(frame, tmp / table.file)
    return target


def _json(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_BOOL = {"True": True, "False": False, "true": True, "false": False}


def read_result(result_dir: str | os.PathLike[str]) -> Result:
    """A result folder read back: summary, resolved scenario and typed decision tables."""
    from ..data.scenario import load_scenario

    folder = Path(result_dir)
    summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    # Read by the contract: a summary missing a required key fails here, naming it.
    facts = ResultSummary.from_dict(summary)
    scenario = load_scenario(folder / SCENARIO_FILE) if (folder / SCENARIO_FILE).exists() \
        else None
    tables: dict[str, pd.DataFrame] = {}
    for name, table in ALL_TABLES.items():
        if not (folder / table.file).exists():
            tables[name] = pd.DataFrame()
            continue
        frame = unprotect_frame(pd.read_csv(folder / table.file, dtype=str,
                                            keep_default_na=False))
        flags = table.of_kind("flag")
        text = table.of_kind("text")
        for col in frame.columns:
            if col in flags:
                frame[col] = frame[col].map(_BOOL).astype(bool)
            elif col not in text:
                frame[col] = pd.to_numeric(frame[col].replace("", np.nan), errors="coerce")
        tables[name] = frame
    return Result(facts.status, summary, tables["operators"], tables["clusters"],
                  tables["assignments"], tables["coverage_by_municipality"],
                  tables["by_region"], tables["by_stronghold"], scenario=scenario,
                  message=facts.message or "")
