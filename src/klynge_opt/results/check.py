"""Independent checker: does a plan meet its scenario, and do its reported costs add up?

The checker reads only the raw data set (tables and :func:`klynge_opt.data.geography.travel_times`),
the scenario and the three output tables (``docs/outputs.md``). It never touches the model,
the landscape's eligible pairs or the result extraction, so a mistake in any of those cannot
hide in the check as well. Firms are checked one by one, not per (municipality, stronghold)
group as the model assigns them.

Each constraint family of ``docs/model.md`` has one rule here with the family's name, as the
builder in :mod:`klynge_opt.model.formulation` has (:data:`RULES`; the valid inequality
``stronghold_capacity`` is implied by the others and has none). A rule reads the
:class:`Context` (the raw data as the scenario changes it) and the :class:`Plan` (the three
tables) and appends its :class:`Violation` records to the list it is given. Violations are
named after the model's constraints where one exists:

=================================  ===========================================================
name                               what is checked
=================================  ===========================================================
``tables``                         a table lacks a documented column
``operators_table``                one row per operator; columns agree with the data, with
                                   ``kept``/``hosts``/``serves`` and with the assignments
``clusters_table``                 one row per cluster; columns agree with the data, with the
                                   scenario (``admissible``, ``label_after``, upgrade paid)
``assignments_table``              known firms and operators, one row per (firm, operator),
                                   firm columns, ``cluster_id`` and ``moved`` as recomputed
``one_cluster_per_stronghold``     selected clusters covering s == clusters_per_stronghold
``cluster_admissibility``          a selected cluster meets budget, knowledge partners, gold
``host_retained``                  a selected cluster's host is kept
``host_serves``                    ... and serves every stronghold the cluster covers
``serve_needs_operator``           ``serves`` lists only competences, and only of kept operators
``assign_needs_service``           a firm's operator is known, kept, competent in the firm's
                                   stronghold and lists it in ``serves``
``radius``                         travel time within max_travel_minutes; reported ``minutes``
                                   equal to the recomputed travel time
``assignment``                     shares within [0, 1] and summing to 1 per firm
``assignment.unserved``            hard coverage: no unserved share
``assignment.binary``              without allow_split: one row per firm, share 0 or 1
``assignment.group``               without allow_split: a (municipality, stronghold) group's
                                   firms all go to the same operator
``firms_complete``                 every firm of the data set has at least one row
``capacity``                       Σ weight × share <= capacity
``min_firms_per_operator``         per kept operator
``min_firms_per_node``             per kept operator and served stronghold
``coverage``                       soft coverage: served share >= coverage_target
``rural_parity``                   soft coverage: rural share >= urban share - tolerance
``regional_presence``              kept operators per region >= min_operators_per_region
``min_operators``                  at least min_operators kept
``max_operators``                  at most max_operators kept
``keep``/``close``                 forced operators
``annual_budget``                  Σ annual_cost of kept operators and running clusters <= budget
``objective_terms.<term>``         a reported cost term differs from the recomputed one
``objective``                      the reported objective differs from the recomputed one
``summary.<key>``                  a figure of ``summary.json`` differs from the recomputed one
``data_hash``                      the data set is not the one the result was solved on
``input_hash``                     scenario.toml and the data do not give the recorded hash
``status``                         a status (or proven_optimal) the scenario and the result
                                   cannot support
=================================  ===========================================================
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..cells import unprotect_frame
from ..data import dataset as dataset_api
from ..data.dataset import Dataset
from ..data.geography import TravelTimes, travel_times
from ..data.overrides import apply_overrides, forced_operators, required_clusters
from ..data.scenario import (
    PROVEN_GAP,
    Costs,
    Effect,
    Policy,
    Scenario,
    input_hash,
    load_scenario,
)
from ..frames import among, row_tuples
from ..fsio import clean_json
from .outputs import (
    ALL_TABLES,
    COST_TERMS,
    LIST_SEPARATOR,
    OUTPUT_TABLES,
    SCENARIO_FILE,
    SUMMARY_FILE,
    TABLE_FILES,
)

if TYPE_CHECKING:
    from .result import Result

# The documented columns of each output table, by how the checker reads them.
_TEXT = {name: t.of_kind("text") for name, t in ALL_TABLES.items()}
_NUMBER = {name: t.of_kind("number") for name, t in ALL_TABLES.items()}
_FLAG = {name: t.of_kind("flag") for name, t in ALL_TABLES.items()}
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


@dataclass(frozen=True)
class Violation:
    """One broken rule: which, where (ids), why, and by how much when that is a number."""

    constraint: str
    where: str
    message: str
    amount: float | None = None

    def __str__(self) -> str:
        return f"{self.constraint} [{self.where}]: {self.message}"


@dataclass
class CheckReport:
    """Everything the checker found, with the objective as it recomputed it."""

    violations: list[Violation]
    objective_terms: dict[str, float]
    objective: float
    reported_objective: float | None = None
    #: Recomputed plan figures (coverage, travel, firms moved, counts), as in summary.json.
    figures: dict[str, Any] = field(default_factory=dict)
    #: Why less than a full check was possible (no plan, or a status-quo evaluation).
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def constraints(self) -> set[str]:
        """Names of the violated constraints."""
        return {v.constraint for v in self.violations}

    def to_dict(self) -> dict[str, Any]:
        return clean_json({
            "ok": self.ok,
            "objective": self.objective,
            "reported_objective": self.reported_objective,
            "objective_terms": dict(self.objective_terms),
            "figures": self.figures,
            "violations": [asdict(v) for v in self.violations],
            "note": self.note,
        })


# --------------------------------------------------------------------------- helpers


def _fail(out: list[Violation], constraint: str, where: str, message: str,
          amount: float | None = None) -> None:
    """Append one violation to the sink ``out``."""
    out.append(Violation(constraint, where, message, None if amount is None else float(amount)))


def _text(col: pd.Series) -> pd.Series:
    """Cells as plain strings, blank for missing (CSV blanks and in-memory NaN alike)."""
    missing = col.isna().to_numpy()
    return pd.Series(["" if gone else str(v) for v, gone in zip(col.tolist(), missing,
                                                                strict=True)],
                     index=col.index, dtype=object)


def _items(cell: str) -> tuple[str, ...]:
    return tuple(sorted(p for p in cell.split(LIST_SEPARATOR) if p))


def _num(x: float) -> str:
    return f"{x:.6g}"


def _join(ids: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(sorted(ids))


# --------------------------------------------------------------------------- context


@dataclass(frozen=True, eq=False)
class Context:
    """What the checker derives once from the raw data as the scenario changes it."""

    pol: Policy
    costs: Costs
    #: Relative tolerance of every comparison (``max(|a|, |b|, 1)`` of the two sides).
    tol: float
    #: Operators of the data by id, with ``region_id`` and ``kind`` as text.
    ops: pd.DataFrame
    #: Clusters of the data by id, with ``admissible`` under the policy.
    clusters: pd.DataFrame
    #: Firms of the data by id: municipality_id, stronghold_id, weight, rural, penalty_weight
    #: (their stronghold's weight) and member (has a current membership).
    firms: pd.DataFrame
    strongholds: tuple[str, ...]
    regions: tuple[str, ...]
    #: Cluster -> the strongholds it covers (sorted).
    covers: Mapping[str, tuple[str, ...]]
    #: (operator, stronghold) competences.
    competence: frozenset[tuple[str, str]]
    #: (firm, operator) pairs where the operator hosts one of the firm's current clusters.
    familiar: frozenset[tuple[str, str]]
    #: Clusters required per stronghold (exempt strongholds absent).
    required: Mapping[str, int]
    keep: frozenset[str]
    close: frozenset[str]
    times: TravelTimes
    effect: Effect = field(default_factory=Effect)
    #: Municipality -> region.
    region_of: pd.Series = field(default_factory=pd.Series)
    #: Cluster -> the strongholds it may count for (covers; secondary roles only with
    #: count_secondary).
    counts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Service layers (a kinds table). ``firms`` is then the guidance demand; ``demand`` has
    #: every firm with growth, employees, effect weight, its current clusters (``current``)
    #: and whether it needs local / guidance / cluster service.
    layered: bool = False
    demand: pd.DataFrame = field(default_factory=pd.DataFrame)

    @functools.cached_property
    def covers_pairs(self) -> frozenset[tuple[str, str]]:
        """(cluster, stronghold) pairs of ``covers``."""
        return frozenset((c, s) for c, ss in self.covers.items() for s in ss)

    def scale(self, a: float, b: float) -> float:
        return self.tol * max(abs(a), abs(b), 1.0)

    def differ(self, a: float, b: float) -> bool:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) != math.isnan(b)
        return a != b and abs(a - b) > self.scale(a, b)

    def exceeds(self, lhs: float, rhs: float) -> bool:
        """lhs > rhs beyond the tolerance (for constraints lhs <= rhs)."""
        return lhs - rhs > self.scale(lhs, rhs)

    def differ_array(self, a: pd.Series, b: pd.Series) -> pd.Series:
        x = a.to_numpy(float)
        y = b.to_numpy(float)
        with np.errstate(invalid="ignore"):
            limit = self.tol * np.maximum(np.maximum(np.abs(x), np.abs(y)), 1.0)
            same = (x == y) | (np.abs(x - y) <= limit) | (np.isnan(x) & np.isnan(y))
        return pd.Series(~same, index=a.index)


def _firms(ds: Dataset) -> pd.DataFrame:
    rural = ds.municipalities.set_index("municipality_id")["rural"]
    firms = ds.firms.set_index("firm_id")[["municipality_id", "stronghold_id", "weight"]].copy()
    firms["rural"] = firms["municipality_id"].map(rural).fillna(False).astype(bool)
    firms["penalty_weight"] = firms["stronghold_id"].map(
        ds.strongholds.set_index("stronghold_id")["weight"]).astype(float)
    firms["member"] = among(firms.index, ds.memberships["firm_id"])
    return firms


def _operators(ds: Dataset) -> pd.DataFrame:
    ops = ds.operators.set_index("operator_id").copy()
    ops["region_id"] = ops["municipality_id"].map(
        ds.municipalities.set_index("municipality_id")["region_id"])
    ops["kind"] = _text(ops["kind"])
    if ds.kinds.empty:
        ops["layer"], ops["in_scope"] = "", True
    else:
        kinds = ds.kinds.set_index("kind")
        ops["layer"] = ops["kind"].map(kinds["layer"])
        ops["in_scope"] = ops["kind"].map(kinds["in_scope"]).astype(bool)
    return ops


_GUIDES = ("entry_point", "other")


def _demand(ds: Dataset, scenario: Scenario) -> pd.DataFrame:
    """Every firm: raw data, effect weight, current clusters and the services it needs."""
    pol = scenario.policy
    firms = _firms(ds)
    info = ds.firms.set_index("firm_id")
    firms["growth"] = info["growth"].astype(bool)
    firms["employees"] = info["employees"].astype(float).fillna(0.0)
    firms["effect"] = firms["weight"] * np.where(firms["growth"],
                                                 scenario.effect.growth_firm_factor, 1.0)
    current: dict[str, set[str]] = {}
    for f, c in row_tuples(ds.memberships, "firm_id", "cluster_id"):
        current.setdefault(f, set()).add(c)
    firms["current"] = [frozenset(current.get(f, ())) for f in firms.index.tolist()]
    layered = not ds.kinds.empty
    n = len(firms)
    firms["local"] = np.full(n, layered)
    if not layered:
        firms["guidance"], firms["cluster"] = np.ones(n, bool), np.zeros(n, bool)
    else:
        firms["guidance"] = (pol.guidance_service == "all") | firms["growth"]
        firms["cluster"] = (pol.cluster_service == "all") | firms["member"]
    return firms


def _competence(ds: Dataset, ops: pd.DataFrame) -> frozenset[tuple[str, str]]:
    """Competences; with service layers an entry point without rows guides every stronghold
    and only in-scope guidance-layer operators guide at all."""
    rows = ds.operator_strongholds
    pairs = set(row_tuples(rows, "operator_id", "stronghold_id"))
    if ds.kinds.empty:
        return frozenset(pairs)
    listed = set(rows["operator_id"])
    for o in ops.index[(ops["layer"] == "entry_point").to_numpy()]:
        if o not in listed:
            pairs |= {(o, s) for s in ds.strongholds["stronghold_id"]}
    guides = set(ops.index[ops["layer"].isin(_GUIDES).to_numpy() & ops["in_scope"].to_numpy()])
    return frozenset((o, s) for o, s in pairs if o in guides)


def _clusters(ds: Dataset, pol: Policy) -> pd.DataFrame:
    clusters = ds.clusters.set_index("cluster_id").copy()
    clusters["admissible"] = (
        (clusters["budget"] >= pol.min_cluster_budget)
        & (clusters["knowledge_partners"] >= pol.min_knowledge_partners))
    if pol.require_gold:
        # A cluster that can never reach gold is out; one that can pays its upgrade.
        clusters["admissible"] &= (clusters["label"] == "gold") | \
            clusters["gold_upgrade_cost"].notna()
    return clusters


def _countable(ds: Dataset, pol: Policy) -> dict[str, tuple[str, ...]]:
    cs = ds.cluster_strongholds
    if not pol.count_secondary:
        cs = cs[cs["role"] != "secondary"]
    return {c: tuple(sorted(g)) for c, g in cs.groupby("cluster_id")["stronghold_id"]}


def context(dataset: Dataset, scenario: Scenario, tol: float) -> Context:
    """The checker's view of the data: the plan was made on the data as the scenario changes
    it (overrides applied)."""
    ds = apply_overrides(dataset, scenario)
    pol = scenario.policy
    keep, close = forced_operators(ds, pol)
    today = ds.memberships.merge(ds.clusters[["cluster_id", "operator_id"]], on="cluster_id")
    ops = _operators(ds)
    demand = _demand(ds, scenario)
    return Context(
        pol=pol, costs=scenario.costs, tol=tol,
        ops=ops, clusters=_clusters(ds, pol), firms=demand[demand["guidance"]],
        strongholds=tuple(ds.strongholds["stronghold_id"]),
        regions=tuple(ds.regions["region_id"]),
        covers={c: tuple(sorted(g)) for c, g in
                ds.cluster_strongholds.groupby("cluster_id")["stronghold_id"]},
        competence=_competence(ds, ops),
        familiar=frozenset(row_tuples(today, "firm_id", "operator_id")),
        required=required_clusters(ds, pol), keep=frozenset(keep), close=frozenset(close),
        times=travel_times(ds), effect=scenario.effect,
        region_of=ds.municipalities.set_index("municipality_id")["region_id"],
        counts=_countable(ds, pol),
        layered=not ds.kinds.empty,
        demand=demand)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True, eq=False)
class Plan:
    """The three output tables as the rules read them, built once."""

    #: The operators and clusters tables, typed, one row per known id (indexed by it).
    operators: pd.DataFrame
    clusters: pd.DataFrame
    #: Assignment rows of known firms, with the raw firm data (``*_raw``), ``served`` (a known
    #: operator), the recomputed travel time ``minutes_raw`` and ``disrupted``.
    rows: pd.DataFrame
    #: Per operator / cluster of the data; a row missing from a table counts as "no".
    kept: pd.Series
    selected: pd.Series
    #: Operator -> the strongholds its ``serves`` cell lists.
    serves: Mapping[str, tuple[str, ...]]
    #: Weighted firms served per operator (Σ weight × share), over every service (a cluster
    #: row counts for the cluster's host).
    load: pd.Series
    #: Cluster -> the strongholds its ``counts_for`` cell lists.
    counts_for: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Merged cluster -> its successor (``merged_into``).
    merged: Mapping[str, str] = field(default_factory=dict)
    #: Rows of the local and cluster services (service layers), typed like ``rows``.
    local_rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    cluster_rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def kept_ids(self) -> pd.Index:
        return self.kept.index[self.kept.to_numpy(bool)]

    @property
    def selected_ids(self) -> pd.Index:
        return self.selected.index[self.selected.to_numpy(bool)]

    @property
    def served_rows(self) -> pd.DataFrame:
        return self.rows[self.rows["served"]]


def _normalise(name: str, frame: pd.DataFrame, out: list[Violation]) -> pd.DataFrame | None:
    """The table with text, number and flag columns typed alike whether it came from
    memory or from a CSV read as text."""
    wanted = (*_TEXT[name], *_NUMBER[name], *_FLAG[name])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        _fail(out, "tables", name, f"missing columns: {', '.join(missing)}")
        return None
    typed = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for col in _TEXT[name]:
        typed[col] = _text(frame[col]).to_numpy()
    for col in _NUMBER[name]:
        raw = frame[col]
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            typed[col] = raw.to_numpy(float)
        else:
            # Text from a CSV: blank is missing, anything unreadable too (and then
            # disagrees with the recomputed value, which is reported there).
            typed[col] = pd.to_numeric(_text(raw).replace("", np.nan),
                                       errors="coerce").to_numpy(float)
    for col in _FLAG[name]:
        words = _text(frame[col]).str.strip().str.lower()
        bad = ~words.isin(_TRUE | _FALSE)
        for row in np.flatnonzero(bad.to_numpy()):
            _fail(out, f"{name}_table", f"row {row + 1}",
                  f"{col} is not true/false: {frame[col].iloc[row]!r}")
        typed[col] = words.isin(_TRUE).to_numpy()
    return typed


def tables(frames: Mapping[str, pd.DataFrame],
           out: list[Violation]) -> dict[str, pd.DataFrame] | None:
    """``tables``: every table has its documented columns; each typed, or None if one lacks
    some."""
    typed = {name: _normalise(name, frames[name], out) for name in OUTPUT_TABLES}
    complete = {name: t for name, t in typed.items() if t is not None}
    return complete if len(complete) == len(typed) else None


def _unique_rows(name: str, table: pd.DataFrame, key: str, known: pd.Index,
                 out: list[Violation]) -> pd.DataFrame:
    """Rows of known ids, each once; report duplicates, unknown and missing ids."""
    ids = table[key]
    for i in sorted(set(ids[ids.duplicated()])):
        _fail(out, f"{name}_table", i, f"{key} {i} is listed more than once")
    for i in sorted(set(ids) - set(known)):
        _fail(out, f"{name}_table", i, f"{key} {i} is not in the data set")
    for i in sorted(set(known) - set(ids)):
        _fail(out, f"{name}_table", i, f"{key} {i} of the data set is missing")
    return table[among(ids, known)].drop_duplicates(key).set_index(key)


def _assignment_rows(ctx: Context, table: pd.DataFrame, out: list[Violation],
                     merged: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Assignment rows of known firms with the raw firm data and recomputed travel times
    and disruption beside the reported ones."""
    unknown = ~among(table["firm_id"], ctx.demand.index)
    for row in table[unknown].itertuples():
        _fail(out, "assignments_table", row.firm_id or f"row {row.Index + 1}",
              f"firm {row.firm_id!r} is not in the data set")
    rows = table[~unknown].copy()
    firm = ctx.demand.loc[rows["firm_id"]]
    for col in ("municipality_id", "stronghold_id", "rural", "penalty_weight", "member"):
        rows[f"{col}_raw"] = firm[col].to_numpy()
    rows["weight_raw"] = firm["weight"].to_numpy(float)
    rows["op_known"] = rows["operator_id"].isin(ctx.ops.index)
    rows["served"] = (rows["operator_id"] != "") & rows["op_known"]
    for row in rows[(rows["operator_id"] != "") & ~rows["op_known"]].itertuples():
        _fail(out, "assignments_table", f"{row.firm_id}/{row.operator_id}",
              f"operator {row.operator_id} is not in the data set")
    rows["minutes_raw"] = _minutes(ctx, rows)
    if ctx.layered:
        # Only a change of cluster disrupts (the cluster service's rows).
        current = ctx.demand["current"].reindex(rows["firm_id"]).to_numpy()
        # A member of a cluster merged into c stays undisrupted in c.
        merged = merged or {}
        rows["disrupted"] = [s == "cluster" and c != "" and bool(cur) and c not in cur
                             and not any(merged.get(k) == c for k in cur)
                             for (s, c), cur in zip(row_tuples(rows, "service", "cluster_id"),
                                                    current, strict=True)]
        rows["disrupted"] = rows["disrupted"].astype(bool)
        return rows
    familiar = np.fromiter(((f, o) in ctx.familiar for f, o in
                            row_tuples(rows, "firm_id", "operator_id")),
                           dtype=bool, count=len(rows))
    rows["disrupted"] = rows["served"].to_numpy() & rows["member_raw"].to_numpy(bool) & \
        ~familiar
    return rows


def _minutes(ctx: Context, rows: pd.DataFrame) -> np.ndarray:
    """Travel time of each served row from the firm's municipality to the operator's."""
    minutes = np.full(len(rows), np.nan)
    served = rows["served"].to_numpy()
    if served.any():
        i = ctx.times.position(rows.loc[served, "municipality_id_raw"])
        j = ctx.times.position(rows.loc[served, "operator_id"].map(ctx.ops["municipality_id"]))
        minutes[served] = ctx.times.lookup(i, j)
    return minutes


def plan_of(ctx: Context, frames: Mapping[str, pd.DataFrame],
            out: list[Violation]) -> Plan | None:
    """The plan the three tables describe (None when a table lacks a documented column)."""
    typed = tables(frames, out)
    if typed is None:
        return None
    operators = _unique_rows("operators", typed["operators"], "operator_id", ctx.ops.index, out)
    clusters = _unique_rows("clusters", typed["clusters"], "cluster_id", ctx.clusters.index,
                            out)
    merged = {c: s for c, s in clusters["merged_into"].items() if s}
    rows = _assignment_rows(ctx, typed["assignments"], out, merged)
    services = ("local", "guidance", "cluster") if ctx.layered else ("guidance",)
    for row in rows[~rows["service"].isin(services)].itertuples():
        _fail(out, "assignments_table", f"{row.firm_id}/{row.service}",
              f"service is {row.service!r}, expected one of {', '.join(services)}")
    on = rows[rows["served"]]
    return Plan(
        operators=operators, clusters=clusters, rows=rows[rows["service"] == "guidance"],
        kept=operators["kept"].reindex(ctx.ops.index, fill_value=False).astype(bool),
        selected=clusters["selected"].reindex(ctx.clusters.index, fill_value=False).astype(bool),
        serves={o: _items(s) for o, s in operators["serves"].items()},
        counts_for={c: _items(s) for c, s in clusters["counts_for"].items()},
        merged=merged,
        load=(on["weight_raw"] * on["share"]).groupby(on["operator_id"]).sum(),
        local_rows=rows[rows["service"] == "local"],
        cluster_rows=rows[rows["service"] == "cluster"])


def _served_weight(ctx: Context, plan: Plan) -> pd.Series:
    """Served weight per firm (its share times its weight), 0 for firms without rows."""
    on = plan.served_rows
    per_firm = (on["share"] * on["weight_raw"]).groupby(on["firm_id"]).sum()
    return per_firm.reindex(ctx.firms.index, fill_value=0.0)


def _upgraded(ctx: Context, selected: pd.Series) -> pd.Series:
    """Selected clusters upgraded to gold (only under require_gold)."""
    if not ctx.pol.require_gold:
        return pd.Series(False, index=ctx.clusters.index)
    return selected & (ctx.clusters["label"] != "gold")


# --------------------------------------------------------------------------- table cross-checks


@dataclass(frozen=True, eq=False)
class _Columns:
    """Compares the columns of one reported table (``<name>_table`` violations) with what
    they should hold."""

    ctx: Context
    name: str
    table: pd.DataFrame
    out: list[Violation]

    def text(self, col: str, expected: pd.Series) -> None:
        exp = _text(expected.reindex(self.table.index))
        for key in self.table.index[(self.table[col] != exp).to_numpy()]:
            _fail(self.out, f"{self.name}_table", key,
                  f"{col} is {self.table.at[key, col]!r}, expected {exp[key]!r}")

    def numbers(self, col: str, expected: pd.Series, rows: pd.Series | None = None) -> None:
        table = self.table if rows is None else self.table[rows]
        exp = expected.reindex(table.index).astype(float)
        for key in table.index[self.ctx.differ_array(table[col], exp).to_numpy()]:
            _fail(self.out, f"{self.name}_table", key, f"{col} is {_num(table.at[key, col])}, "
                  f"expected {_num(exp[key])}", table.at[key, col] - exp[key])

    def lists(self, col: str, expected: Mapping[str, Iterable[str]]) -> None:
        for key, cell in self.table[col].items():
            want = tuple(sorted(expected.get(key, ())))
            if _items(cell) != want:
                _fail(self.out, f"{self.name}_table", key,
                      f"{col} is {cell!r}, expected {_join(want)!r}")


def operators_table(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """``operators_table``: columns agree with the data, the scenario and the plan."""
    raw, table = ctx.ops, plan.operators
    check = _Columns(ctx, "operators", table, out)
    for col in ("name", "kind", "municipality_id", "region_id", "layer"):
        check.text(col, raw[col])
    wrong = table["in_scope"] != raw["in_scope"].reindex(table.index)
    for key in table.index[wrong.to_numpy()]:
        _fail(out, "operators_table", key, f"in_scope is {bool(table.at[key, 'in_scope'])}, "
              f"expected {bool(raw.at[key, 'in_scope'])}")
    for col in ("annual_cost", "cost_per_firm", "capacity"):
        check.numbers(col, raw[col])
    check.numbers("operating_cost", raw["annual_cost"].where(plan.kept, 0.0)
                  + raw["cost_per_firm"] * plan.load.reindex(raw.index, fill_value=0.0))
    forced = pd.Series("", index=raw.index, dtype=object)
    forced[raw.index.isin(list(ctx.keep))] = "keep"
    forced[raw.index.isin(list(ctx.close))] = "close"
    check.text("forced", forced)
    hosts = ctx.clusters.loc[plan.selected.to_numpy(bool), "operator_id"]
    check.lists("hosts", {o: list(c.index) for o, c in hosts.groupby(hosts)})
    check.numbers("firms_served", plan.load.reindex(raw.index, fill_value=0.0))
    check.numbers("utilisation", table["firms_served"] / table["capacity"],
                  rows=table["capacity"] > 0)
    check.numbers("closure_cost_paid", raw["closure_cost"].where(~plan.kept, 0.0))


def clusters_table(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """``clusters_table``: columns agree with the data, the scenario and the plan."""
    raw, table = ctx.clusters, plan.clusters
    check = _Columns(ctx, "clusters", table, out)
    for col in ("name", "label"):
        check.text(col, raw[col])
    check.text("host_operator_id", raw["operator_id"])
    for col in ("budget", "knowledge_partners", "annual_cost", "capacity"):
        check.numbers(col, raw[col])
    check.lists("strongholds", ctx.covers)
    for c, listed in plan.counts_for.items():
        allowed = ctx.counts.get(c, ()) if plan.selected.get(c, False) else ()
        full = ctx.pol.max_strongholds_per_cluster is None
        if (full and listed != allowed) or not set(listed) <= set(allowed):
            _fail(out, "clusters_table", c, f"counts_for is {_join(listed)!r}, expected "
                  f"{'' if full else 'a subset of '}{_join(allowed)!r}")
    forced = pd.Series("", index=raw.index, dtype=object)
    forced[raw.index.isin(list(ctx.pol.keep_clusters))] = "keep"
    forced[raw.index.isin(list(ctx.pol.close_clusters))] = "close"
    check.text("forced", forced)
    on = plan.cluster_rows[plan.cluster_rows["served"]]
    check.numbers("members_served", (on["weight_raw"] * on["share"]).groupby(
        on["cluster_id"]).sum().reindex(raw.index, fill_value=0.0))
    wrong = table["admissible"] != raw["admissible"].reindex(table.index)
    for key in table.index[wrong.to_numpy()]:
        _fail(out, "clusters_table", key, f"admissible is {bool(table.at[key, 'admissible'])}"
              f", expected {bool(raw.at[key, 'admissible'])}")
    upgraded = _upgraded(ctx, plan.selected)
    check.text("label_after", raw["label"].where(~upgraded, "gold"))
    check.numbers("upgrade_cost_paid",
                  raw["gold_upgrade_cost"].fillna(0.0).where(upgraded, 0.0))


def assignments_table(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """``assignments_table``: firm columns, one row per (firm, operator), ``moved``, blank
    travel and cluster for unserved shares, and ``cluster_id`` as recomputed."""
    rows = pd.concat([plan.local_rows, plan.rows, plan.cluster_rows])
    for col in ("municipality_id", "stronghold_id"):
        for row in rows[rows[col] != rows[f"{col}_raw"]].itertuples():
            _fail(out, "assignments_table", row.firm_id, f"{col} is {getattr(row, col)!r}, "
                  f"expected {getattr(row, f'{col}_raw')!r}")
    for row in rows[ctx.differ_array(rows["weight"], rows["weight_raw"])].itertuples():
        _fail(out, "assignments_table", row.firm_id,
              f"weight is {_num(row.weight)}, expected {_num(row.weight_raw)}")
    pair = rows[["firm_id", "service", "operator_id", "cluster_id"]]
    for f, s, o, _c in sorted(set(map(tuple, pair[pair.duplicated()].to_numpy()))):
        _fail(out, "assignments_table", f"{f}/{o}", f"more than one {s} row for this firm "
              f"and operator {o or '(unserved)'}")
    for row in rows[rows["moved"] != rows["disrupted"]].itertuples():
        _fail(out, "assignments_table", f"{row.firm_id}/{row.operator_id}",
              f"moved is {row.moved}, expected {row.disrupted}")
    unserved = rows["operator_id"] == ""
    for row in rows[unserved & rows["minutes"].notna()].itertuples():
        _fail(out, "assignments_table", row.firm_id, "unserved share with travel minutes")
    for row in rows[unserved & (rows["cluster_id"] != "")].itertuples():
        _fail(out, "assignments_table", row.firm_id, "unserved share with a cluster")
    if not ctx.layered:
        _assigned_clusters(ctx, plan, out)
        return
    # With service layers a cluster is named only by the cluster service's rows.
    other = pd.concat([plan.local_rows, plan.rows])
    for row in other[other["cluster_id"] != ""].itertuples():
        _fail(out, "assignments_table", f"{row.firm_id}/{row.operator_id}",
              f"a {row.service} row names cluster {row.cluster_id!r}")


def _assigned_clusters(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """The firm's cluster: a selected one covering its stronghold, hosted by its operator
    when the operator hosts one."""
    chosen: dict[str, list[tuple[str, str]]] = {}
    for c in plan.selected_ids:
        for s in ctx.covers.get(c, ()):
            chosen.setdefault(s, []).append((c, ctx.clusters.at[c, "operator_id"]))
    for row in plan.served_rows.itertuples():
        options = chosen.get(row.stronghold_id_raw, [])
        own = [c for c, h in options if h == row.operator_id]
        allowed = own or [c for c, _ in options] or [""]
        if row.cluster_id not in allowed:
            _fail(out, "assignments_table", f"{row.firm_id}/{row.operator_id}",
                  f"cluster_id is {row.cluster_id!r}, expected one of "
                  f"{', '.join(repr(c) for c in allowed)}")


# --------------------------------------------------------------------------- the rules
# One per constraint family of docs/model.md, named as the family (and as its builder in
# klynge_opt.model.formulation), in the same order.


def one_cluster_per_stronghold(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**one_cluster_per_stronghold**: selected clusters covering s == n_s (>= n_s under
    cluster_rule = "at_least")."""
    per_stronghold = dict.fromkeys(ctx.strongholds, 0)
    for c in plan.selected_ids:
        # Every stronghold it may count for; with max_strongholds_per_cluster the ones the plan
        # lists, as far as they may count (clusters_table reports the rest).
        may = set(ctx.counts.get(c, ()))
        listed = may if ctx.pol.max_strongholds_per_cluster is None else \
            may & set(plan.counts_for.get(c, ()))
        for s in listed:
            per_stronghold[s] = per_stronghold.get(s, 0) + 1
    at_least = ctx.pol.cluster_rule == "at_least"
    for s, n in per_stronghold.items():
        need = ctx.required.get(s)
        if need is not None and (n < need if at_least else n != need):
            _fail(out, "one_cluster_per_stronghold", s, f"{n} selected clusters cover "
                  f"stronghold {s}, required {need}", n - need)


def cluster_admissibility(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**cluster admissibility**: a selected cluster meets budget, knowledge partners, gold."""
    for c in plan.selected_ids:
        if not ctx.clusters.at[c, "admissible"]:
            _fail(out, "cluster_admissibility", c, _inadmissible_reason(ctx, c))


def _inadmissible_reason(ctx: Context, c: str) -> str:
    info, pol = ctx.clusters.loc[c], ctx.pol
    reasons = []
    if info["budget"] < pol.min_cluster_budget:
        reasons.append(f"budget {_num(info['budget'])} < {_num(pol.min_cluster_budget)}")
    if info["knowledge_partners"] < pol.min_knowledge_partners:
        reasons.append(f"knowledge_partners {info['knowledge_partners']} < "
                       f"{pol.min_knowledge_partners}")
    if pol.require_gold and info["label"] != "gold" and pd.isna(info["gold_upgrade_cost"]):
        reasons.append("cannot reach gold (no gold_upgrade_cost)")
    return f"selected cluster {c} is not admissible: {'; '.join(reasons)}"


def host_retained(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**host_retained**: a selected cluster's host is kept; **host_serves**: and, without
    service layers, serves every stronghold the cluster covers."""
    for c in plan.selected_ids:
        host = ctx.clusters.at[c, "operator_id"]
        for s in () if ctx.layered else ctx.covers.get(c, ()):
            if s not in plan.serves.get(host, ()):
                _fail(out, "host_serves", f"{c}/{s}", f"host {host} of selected cluster {c} "
                      f"does not serve stronghold {s}")
        if not plan.kept[host]:
            _fail(out, "host_retained", c, f"host {host} of selected cluster {c} is closed")


def serve_needs_operator(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**serve_needs_operator**: only kept operators serve, only their competences; and
    assignments only to serving nodes (**assign_needs_service**)."""
    known = set(ctx.strongholds)
    for o, strongholds in plan.serves.items():
        if strongholds and not plan.kept[o]:
            _fail(out, "serve_needs_operator", o, f"closed operator {o} serves "
                  f"{_join(strongholds)}")
        for s in strongholds:
            if s not in known:
                _fail(out, "serve_needs_operator", f"{o}/{s}", f"unknown stronghold {s}")
            elif (o, s) not in ctx.competence:
                _fail(out, "serve_needs_operator", f"{o}/{s}",
                      f"operator {o} serves {s} without competence in it")
    _assign_needs_service(ctx, plan, out)


def _assign_needs_service(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    for row in plan.served_rows.itertuples():
        o, s = row.operator_id, row.stronghold_id_raw
        where = f"{row.firm_id}/{o}"
        if not plan.kept[o]:
            _fail(out, "assign_needs_service", where, f"firm {row.firm_id} is assigned to "
                  f"closed operator {o}", row.share)
        if (o, s) not in ctx.competence:
            _fail(out, "assign_needs_service", where, f"operator {o} is not competent in "
                  f"the firm's stronghold {s}", row.share)
        elif s not in plan.serves.get(o, ()):
            _fail(out, "assign_needs_service", where, f"operator {o} does not list "
                  f"stronghold {s} in serves", row.share)


def radius(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**radius**: travel time within max_travel_minutes; reported minutes as recomputed."""
    served = plan.served_rows
    limit = ctx.pol.max_travel_minutes
    if limit is not None:
        for row in served[served["minutes_raw"] > limit].itertuples():
            if ctx.exceeds(row.minutes_raw, limit):
                _fail(out, "radius", f"{row.firm_id}/{row.operator_id}",
                      f"travel {_num(row.minutes_raw)} min exceeds "
                      f"max_travel_minutes {_num(limit)}", row.minutes_raw - limit)
    for row in served[ctx.differ_array(served["minutes"], served["minutes_raw"])] \
            .itertuples():
        _fail(out, "radius", f"{row.firm_id}/{row.operator_id}",
              f"reported minutes {_num(row.minutes)} differ from the travel time "
              f"{_num(row.minutes_raw)}", row.minutes - row.minutes_raw)


def assignment(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**assignment**: every firm has rows whose shares sum to 1; hard coverage leaves none
    unserved; without allow_split firms and their groups are not split."""
    _shares(ctx, plan.rows, out)
    if ctx.pol.coverage == "hard":
        rows = plan.rows
        for row in rows[(rows["operator_id"] == "") & (rows["share"] > ctx.tol)].itertuples():
            _fail(out, "assignment.unserved", row.firm_id, f"firm {row.firm_id} has an "
                  f"unserved share {_num(row.share)} under hard coverage", row.share)
    if not ctx.pol.allow_split:
        _binary(ctx, plan.rows, out)
        _groups(ctx, plan.rows, out)


def _shares(ctx: Context, rows: pd.DataFrame, out: list[Violation]) -> None:
    """Shares within [0, 1], every firm present (``firms_complete``), summing to 1."""
    present = set(rows["firm_id"].tolist())
    for f in ctx.firms.index.tolist():
        if f not in present:
            _fail(out, "firms_complete", f, f"firm {f} has no row in the assignments")
    _shares_whole(ctx, rows, "assignment", out)


def _shares_whole(ctx: Context, rows: pd.DataFrame, name: str, out: list[Violation]) -> None:
    """``name``: every share within [0, 1] and each firm's shares summing to 1."""
    share = rows["share"]
    bad = share.isna() | (share < -ctx.tol) | (share > 1 + ctx.tol)
    for row in rows[bad].itertuples():
        _fail(out, name, f"{row.firm_id}/{row.operator_id}", f"share {_num(row.share)} "
              "outside [0, 1]", row.share)
    totals = share.fillna(0.0).groupby(rows["firm_id"]).sum()
    off = totals[ctx.differ_array(totals, pd.Series(1.0, index=totals.index)).to_numpy(bool)]
    for f, t in off.items():
        _fail(out, name, f, f"shares of firm {f} sum to {_num(t)}, not 1", t - 1)


def _binary(ctx: Context, rows: pd.DataFrame, out: list[Violation]) -> None:
    """Without allow_split: one row per firm, share 0 or 1 (``assignment.binary``)."""
    share = rows["share"]
    fractional = (share > ctx.tol) & (share < 1 - ctx.tol)
    split = rows.groupby("firm_id").size() > 1
    for f in sorted(set(rows.loc[fractional, "firm_id"]) | set(split.index[split])):
        parts = rows[rows["firm_id"] == f]
        shown = ", ".join(f"{o or '(unserved)'}: {_num(x)}"
                          for o, x in row_tuples(parts, "operator_id", "share"))
        _fail(out, "assignment.binary", f, f"firm {f} is split ({shown}) although "
              "allow_split is false")


def _groups(ctx: Context, rows: pd.DataFrame, out: list[Violation]) -> None:
    """The model assigns (municipality, stronghold) groups: without splitting, all firms of a
    group share one operator (``assignment.group``)."""
    whole = rows[rows["share"] > ctx.tol]
    # Group by the pair itself: joined text could collide when ids contain the joiner.
    for g, ops in whole.groupby(["municipality_id_raw", "stronghold_id_raw"])["operator_id"]:
        if ops.nunique() > 1:
            _fail(out, "assignment.group", "/".join(g), "firms of one group go to different "
                  f"operators: {_join(o or '(unserved)' for o in set(ops))}")


def capacity(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**capacity**: Σ weight × share <= capacity for operators with a capacity."""
    cap = ctx.ops["capacity"]
    for o, served in plan.load.items():
        if ctx.ops.at[o, "in_scope"] and pd.notna(cap[o]) and ctx.exceeds(served, cap[o]):
            _fail(out, "capacity", o, f"operator {o} serves {_num(served)} firms, capacity "
                  f"{_num(cap[o])}", served - cap[o])


def max_utilisation(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**max_utilisation**: Σ weight × share <= max_utilisation × capacity."""
    u = ctx.pol.max_utilisation
    if u >= 1:
        return
    cap = ctx.ops["capacity"]
    for o, served in plan.load.items():
        if ctx.ops.at[o, "in_scope"] and pd.notna(cap[o]) and ctx.exceeds(served, u * cap[o]):
            _fail(out, "max_utilisation", o, f"operator {o} serves {_num(served)} firms, "
                  f"above {_num(u)} of its capacity {_num(cap[o])}", served - u * cap[o])


def critical_mass(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**critical mass**: min_firms_per_operator per kept operator, min_firms_per_node per
    kept operator and served stronghold."""
    need_op = ctx.pol.min_firms_per_operator
    if need_op > 0:
        for o in plan.kept_ids[ctx.ops.loc[plan.kept_ids, "in_scope"].to_numpy(bool)]:
            served = float(plan.load.get(o, 0.0))
            if ctx.exceeds(need_op, served):
                _fail(out, "min_firms_per_operator", o, f"kept operator {o} serves "
                      f"{_num(served)} firms, minimum {_num(need_op)}", need_op - served)
    need_node = ctx.pol.min_firms_per_node
    if need_node > 0:
        on = plan.served_rows
        by_node = (on["weight_raw"] * on["share"]).groupby(
            [on["operator_id"], on["stronghold_id_raw"]]).sum()
        for o in plan.kept_ids:
            for s in plan.serves.get(o, ()):
                served = float(by_node.get((o, s), 0.0))
                if ctx.exceeds(need_node, served):
                    _fail(out, "min_firms_per_node", f"{o}/{s}", f"operator {o} serves "
                          f"{_num(served)} firms of {s}, minimum {_num(need_node)}",
                          need_node - served)


def coverage(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**coverage** (soft): served weight >= coverage_target × all firms' weight."""
    pol = ctx.pol
    if pol.coverage != "soft" or pol.coverage_target <= 0:
        return
    need = pol.coverage_target * float(ctx.firms["weight"].sum())
    got = float(_served_weight(ctx, plan).sum())
    if ctx.exceeds(need, got):
        _fail(out, "coverage", "plan", f"served weight {_num(got)} below the target "
              f"{_num(need)}", need - got)


def rural_parity(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**rural_parity** (soft coverage): rural served share >= urban share - tolerance."""
    pol = ctx.pol
    if pol.coverage != "soft" or not pol.rural_parity:
        return
    served, weight = _served_weight(ctx, plan), ctx.firms["weight"]
    rural = ctx.firms["rural"].to_numpy(bool)
    q_r, q_u = float(weight[rural].sum()), float(weight[~rural].sum())
    if q_r > 0 and q_u > 0:
        r = float(served[rural].sum()) / q_r
        u = float(served[~rural].sum()) / q_u
        if ctx.exceeds(u - pol.rural_parity_tolerance, r):
            _fail(out, "rural_parity", "plan", f"rural share {_num(r)} below urban share "
                  f"{_num(u)} - tolerance {_num(pol.rural_parity_tolerance)}",
                  u - pol.rural_parity_tolerance - r)


def coverage_floors(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**coverage_floors** (soft coverage): served share per municipality and per region at
    least min_coverage_per_municipality / min_coverage_per_region."""
    pol = ctx.pol
    if pol.coverage != "soft":
        return
    served, firms = _served_weight(ctx, plan), ctx.firms
    region = firms["municipality_id"].map(ctx.region_of)
    for key, place in (("min_coverage_per_municipality", firms["municipality_id"]),
                       ("min_coverage_per_region", region)):
        floor = getattr(pol, key)
        if floor <= 0:
            continue
        got = served.groupby(place).sum()
        total = firms["weight"].groupby(place).sum()
        for p in total.index:
            need = floor * float(total[p])
            if ctx.exceeds(need, float(got[p])):
                _fail(out, key, str(p), f"{_num(got[p])} of {_num(total[p])} firms served in "
                      f"{p}, below {floor:.2%}", need - float(got[p]))


def regional_presence(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**regional_presence**: kept operators per region >= min_operators_per_region."""
    k = ctx.pol.min_operators_per_region
    if k <= 0:
        return
    per_region = (plan.kept & ctx.ops["in_scope"]).groupby(ctx.ops["region_id"]).sum()
    for r in ctx.regions:
        have = int(per_region.get(r, 0))
        if have < k:
            _fail(out, "regional_presence", r, f"{have} operators kept in region {r}, "
                  f"minimum {k}", k - have)


def operator_count(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**operator_count**: min_operators <= kept operators <= max_operators."""
    pol = ctx.pol
    n = int((plan.kept & ctx.ops["in_scope"]).sum())
    if n < pol.min_operators:
        _fail(out, "min_operators", "plan", f"{n} operators kept, minimum "
              f"{pol.min_operators}", pol.min_operators - n)
    if pol.max_operators is not None and n > pol.max_operators:
        _fail(out, "max_operators", "plan", f"{n} operators kept, maximum "
              f"{pol.max_operators}", n - pol.max_operators)


def forced(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**forced**: operators in keep are kept, operators in close are closed."""
    for o in sorted(ctx.keep):
        if not plan.kept.get(o, False):
            _fail(out, "keep", o, f"operator {o} must be kept but is closed")
    for o in sorted(ctx.close):
        if plan.kept.get(o, False):
            _fail(out, "close", o, f"operator {o} must be closed but is kept")


def annual_budget(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**annual_budget**: Σ annual_cost of kept in-scope operators and of clusters selected or
    merged into one <= annual_budget."""
    budget = ctx.pol.annual_budget
    if budget is None:
        return
    spent = _annual_cost(ctx, plan)
    if ctx.exceeds(spent, budget):
        _fail(out, "annual_budget", "plan", f"annual cost {_num(spent)} exceeds the "
              f"budget {_num(budget)}", spent - budget)


def _annual_cost(ctx: Context, plan: Plan) -> float:
    """DKK per year of in-scope operators kept and clusters running (selected or merged)."""
    return _operators_cost(ctx, plan.kept, plan.load) + _running_clusters_cost(ctx, plan)


def _operators_cost(ctx: Context, kept: pd.Series, load: pd.Series) -> float:
    """DKK per year: annual_cost of the in-scope operators kept plus every operator's
    cost_per_firm on the weight it serves (all its services' rows)."""
    in_scope = ctx.ops["in_scope"].to_numpy(bool)
    fixed = float(ctx.ops.loc[kept.to_numpy(bool) & in_scope, "annual_cost"].sum())
    per_firm = ctx.ops["cost_per_firm"]
    return fixed + float((per_firm * load.reindex(per_firm.index, fill_value=0.0)).sum())


def _running_clusters_cost(ctx: Context, plan: Plan) -> float:
    """Annual cost of the clusters that run: selected, or merged into a successor (whose
    programme goes on there)."""
    running = plan.selected.to_numpy(bool) | ctx.clusters.index.isin(list(plan.merged))
    return float(ctx.clusters.loc[running, "annual_cost"].sum())


def max_strongholds_per_cluster(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**max_strongholds_per_cluster**: a cluster counts for at most that many strongholds;
    under cluster_rule = "exactly" a selected cluster whose strongholds all carry a
    requirement counts for one of them."""
    k = ctx.pol.max_strongholds_per_cluster
    if k is None:
        return
    for c, listed in plan.counts_for.items():
        if len(listed) > k:
            _fail(out, "max_strongholds_per_cluster", c, f"cluster {c} counts for "
                  f"{len(listed)} strongholds ({_join(listed)}), at most {k}", len(listed) - k)
    if ctx.pol.cluster_rule == "at_least":
        return
    required = {s for s, n in ctx.required.items() if n is not None}
    for c in plan.selected_ids:
        may = set(ctx.counts.get(c, ()))
        if may and may <= required and not may & set(plan.counts_for.get(c, ())):
            _fail(out, "counted_when_selected", c, f"cluster {c} is selected but counts for "
                  f"none of its strongholds ({_join(sorted(may))}), which all require exactly "
                  "their number of clusters", 1.0)


def forced_clusters(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**forced_clusters**: clusters in keep_clusters selected, in close_clusters not."""
    for c in sorted(ctx.pol.keep_clusters):
        if not plan.selected.get(c, False):
            _fail(out, "keep_clusters", c, f"cluster {c} must be selected but is not")
    for c in sorted(ctx.pol.close_clusters):
        if plan.selected.get(c, False):
            _fail(out, "close_clusters", c, f"cluster {c} must not be selected but is")


def outside_scope(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**outside_scope**: an operator of a kind with in_scope = false stays open."""
    for o in ctx.ops.index[~ctx.ops["in_scope"].to_numpy(bool)]:
        if not plan.kept[o]:
            _fail(out, "outside_scope", o, f"operator {o} is outside the reform's scope "
                  f"(kind {ctx.ops.at[o, 'kind']}) but is closed")


def _layer_shares(ctx: Context, rows: pd.DataFrame, need: pd.Series, name: str,
                  hard: bool, out: list[Violation]) -> None:
    """Shares of one service: every firm that needs it has rows summing to 1, no other firm
    has any; hard coverage leaves none unserved; without allow_split none is split."""
    needing = set(need.index[need.to_numpy(bool)].tolist())
    having = set(rows["firm_id"].tolist())
    for f in sorted(needing - having):
        _fail(out, name, f, f"firm {f} needs {name.split('_')[0]} service but has no row")
    for f in sorted(having - needing):
        _fail(out, name, f, f"firm {f} does not need {name.split('_')[0]} service but has "
              "a row")
    _shares_whole(ctx, rows, name, out)
    if hard:
        for row in rows[(rows["operator_id"] == "") & (rows["share"] > ctx.tol)].itertuples():
            _fail(out, f"{name}.unserved", row.firm_id, f"firm {row.firm_id} has an unserved "
                  f"share {_num(row.share)} under hard coverage", row.share)
    if not ctx.pol.allow_split:
        share = rows["share"]
        fractional = (share > ctx.tol) & (share < 1 - ctx.tol)
        split = rows.groupby("firm_id").size() > 1
        for f in sorted(set(rows.loc[fractional, "firm_id"]) | set(split.index[split])):
            _fail(out, name, f, f"firm {f} is split although allow_split is false")


def _layer_radius(ctx: Context, rows: pd.DataFrame, limit: float | None, name: str,
                  out: list[Violation]) -> None:
    served = rows[rows["served"]]
    if limit is not None:
        for row in served[served["minutes_raw"] > limit].itertuples():
            if ctx.exceeds(row.minutes_raw, limit):
                _fail(out, name, f"{row.firm_id}/{row.operator_id}",
                      f"travel {_num(row.minutes_raw)} min exceeds {_num(limit)}",
                      row.minutes_raw - limit)
    for row in served[ctx.differ_array(served["minutes"], served["minutes_raw"])] \
            .itertuples():
        _fail(out, name, f"{row.firm_id}/{row.operator_id}", f"reported minutes "
              f"{_num(row.minutes)} differ from the travel time {_num(row.minutes_raw)}",
              row.minutes - row.minutes_raw)


def local_service(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**local_service**: every firm's local rows sum to 1, each served share by a kept,
    in-scope operator of layer local_service (``local_service.operator``)."""
    if not ctx.layered:
        return
    rows = plan.local_rows
    _layer_shares(ctx, rows, ctx.demand["local"], "local_service",
                  ctx.pol.local.coverage == "hard", out)
    on = rows[rows["served"]]
    o = on["operator_id"]
    kept = o.map(plan.kept).astype(bool)
    layer = o.map(ctx.ops["layer"])
    bad = ~kept | (layer != "local_service") | ~o.map(ctx.ops["in_scope"]).astype(bool)
    for row, is_kept, lay in zip(on[bad].itertuples(), kept[bad], layer[bad], strict=True):
        _fail(out, "local_service.operator", f"{row.firm_id}/{row.operator_id}",
              f"operator {row.operator_id} (layer {lay}, {'kept' if is_kept else 'closed'}) "
              "cannot give local service", row.share)


def local_radius(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**local_radius**: local travel within local.max_travel_minutes, minutes as recomputed."""
    if ctx.layered:
        _layer_radius(ctx, plan.local_rows, ctx.pol.local.max_travel_minutes,
                      "local_radius", out)


def cluster_service(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**cluster_service**: every firm that needs it has cluster rows summing to 1, each served
    share in a selected cluster covering the firm's stronghold, with the cluster's host as
    operator (``cluster_service.cluster``)."""
    if not ctx.layered:
        return
    rows = plan.cluster_rows
    _layer_shares(ctx, rows, ctx.demand["cluster"], "cluster_service",
                  ctx.pol.cluster.coverage == "hard", out)
    on = rows[rows["operator_id"] != ""]
    c = on["cluster_id"]
    known = c.isin(ctx.clusters.index)
    host = c.map(ctx.clusters["operator_id"])
    covers = ctx.covers_pairs
    uncovered = pd.Series([(k, s) not in covers for k, s in zip(
        c, on["stronghold_id_raw"], strict=True)], index=on.index)
    checks: tuple[tuple[pd.Series, Callable[[Any], str]], ...] = (
        (~known, lambda r: f"unknown cluster {r.cluster_id!r}"),
        (known & ~c.map(plan.selected).fillna(False).astype(bool),
         lambda r: f"cluster {r.cluster_id} is not selected"),
        (known & uncovered,
         lambda r: f"cluster {r.cluster_id} does not cover stronghold {r.stronghold_id_raw}"),
        (known & (on["operator_id"] != host),
         lambda r: f"operator is {r.operator_id}, the cluster's host is "
                   f"{ctx.clusters.at[r.cluster_id, 'operator_id']}"))
    for mask, message in checks:
        for row in on[mask.to_numpy(bool)].itertuples():
            _fail(out, "cluster_service.cluster", f"{row.firm_id}/{row.cluster_id}",
                  message(row), row.share)


def cluster_radius(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**cluster_radius**: travel to the cluster's host within cluster.max_travel_minutes."""
    if ctx.layered:
        _layer_radius(ctx, plan.cluster_rows, ctx.pol.cluster.max_travel_minutes,
                      "cluster_radius", out)


def _members(plan: Plan) -> pd.Series:
    on = plan.cluster_rows[plan.cluster_rows["served"]]
    return (on["weight_raw"] * on["share"]).groupby(on["cluster_id"]).sum()


def cluster_capacity(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**cluster_capacity**: members served <= max_utilisation × capacity of the cluster."""
    if not ctx.layered:
        return
    u = ctx.pol.max_utilisation
    # A merged cluster brings its capacity (blank: unlimited) to its successor.
    cap = ctx.clusters["capacity"].copy()
    for c0, c in plan.merged.items():
        if c in cap.index and c0 in cap.index:
            cap[c] = cap[c] + cap[c0]
    for c, members in _members(plan).items():
        if c in cap.index and pd.notna(cap[c]) and ctx.exceeds(members, u * cap[c]):
            _fail(out, "cluster_capacity", c, f"cluster {c} serves {_num(members)} members, "
                  f"capacity {_num(cap[c])} × {_num(u)}", members - u * cap[c])


def mergers(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**mergers**: a cluster merges only under allow_mergers (with service layers), is not
    selected itself, and merges into a selected cluster sharing one of its strongholds."""
    for c0, c in sorted(plan.merged.items()):
        if not (ctx.pol.allow_mergers and ctx.layered):
            _fail(out, "mergers", c0, f"cluster {c0} merged into {c} although mergers are "
                  "not allowed (allow_mergers, with a kinds table)")
            continue
        if c not in ctx.clusters.index:
            _fail(out, "mergers", c0, f"cluster {c0} merged into unknown cluster {c!r}")
            continue
        if plan.selected.get(c0, False):
            _fail(out, "mergers", c0, f"cluster {c0} is selected and merged into {c}")
        if not plan.selected[c]:
            _fail(out, "mergers", c0, f"cluster {c0} merged into {c}, which is not selected")
        if c == c0 or not set(ctx.covers.get(c0, ())) & set(ctx.covers.get(c, ())):
            _fail(out, "mergers", c0, f"cluster {c0} merged into {c}, which shares none of "
                  "its strongholds")


def min_members_per_cluster(ctx: Context, plan: Plan, out: list[Violation]) -> None:
    """**min_members_per_cluster**: a selected cluster serves at least that many members."""
    need = ctx.pol.min_members_per_cluster
    if not ctx.layered or need <= 0:
        return
    members = _members(plan)
    for c in plan.selected_ids:
        got = float(members.get(c, 0.0))
        if ctx.exceeds(need, got):
            _fail(out, "min_members_per_cluster", c, f"selected cluster {c} serves "
                  f"{_num(got)} members, minimum {_num(need)}", need - got)


Rule = Callable[[Context, Plan, list[Violation]], None]

#: Constraint family (docs/model.md, klynge_opt.model.formulation) -> its rule, in the model's
#: order. The valid inequality ``stronghold_capacity`` is implied by the others and has no rule.
RULES: dict[str, Rule] = {rule.__name__: rule for rule in (
    one_cluster_per_stronghold, cluster_admissibility, host_retained, serve_needs_operator,
    radius, assignment, capacity, max_utilisation, critical_mass, coverage, rural_parity,
    coverage_floors, regional_presence, operator_count, forced, annual_budget,
    max_strongholds_per_cluster, forced_clusters, outside_scope,
    local_service, local_radius, cluster_service, cluster_radius, mergers, cluster_capacity,
    min_members_per_cluster)}

#: Constraint family -> the violation names its rule can report.
RULE_VIOLATIONS: dict[str, tuple[str, ...]] = {
    "one_cluster_per_stronghold": ("one_cluster_per_stronghold",),
    "cluster_admissibility": ("cluster_admissibility",),
    "host_retained": ("host_retained", "host_serves"),
    "serve_needs_operator": ("serve_needs_operator", "assign_needs_service"),
    "radius": ("radius",),
    "assignment": ("assignment", "assignment.unserved", "assignment.binary",
                   "assignment.group", "firms_complete"),
    "capacity": ("capacity",),
    "max_utilisation": ("max_utilisation",),
    "critical_mass": ("min_firms_per_operator", "min_firms_per_node"),
    "coverage": ("coverage",),
    "rural_parity": ("rural_parity",),
    "coverage_floors": ("min_coverage_per_municipality", "min_coverage_per_region"),
    "regional_presence": ("regional_presence",),
    "operator_count": ("min_operators", "max_operators"),
    "forced": ("keep", "close"),
    "annual_budget": ("annual_budget",),
    "max_strongholds_per_cluster": ("max_strongholds_per_cluster", "counted_when_selected"),
    "forced_clusters": ("keep_clusters", "close_clusters"),
    "outside_scope": ("outside_scope",),
    "local_service": ("local_service", "local_service.unserved", "local_service.operator"),
    "local_radius": ("local_radius",),
    "cluster_service": ("cluster_service", "cluster_service.unserved",
                        "cluster_service.cluster"),
    "cluster_radius": ("cluster_radius",),
    "mergers": ("mergers",),
    "cluster_capacity": ("cluster_capacity",),
    "min_members_per_cluster": ("min_members_per_cluster",),
}

#: The consistency checks of the reported tables, run before the rules.
TABLE_CHECKS: tuple[Rule, ...] = (operators_table, clusters_table, assignments_table)


# --------------------------------------------------------------------------- costs and figures


def cost_terms(ctx: Context, plan: Plan) -> dict[str, float]:
    """The objective's terms (docs/model.md), recomputed from the raw data and the plan."""
    c = ctx.costs
    on = plan.served_rows
    served_weight = on["weight_raw"] * on["share"]
    keep_mask = plan.kept.to_numpy(bool)
    unserved_penalty = 0.0
    if ctx.pol.coverage == "soft":
        # The unserved share is what the served rows leave of the firm (u = 1 - Σ x).
        firms = ctx.firms
        unserved = (1.0 - _served_weight(ctx, plan) / firms["weight"]).clip(lower=0.0)
        unserved_penalty = c.unserved_penalty_per_firm * float(
            (firms["penalty_weight"] * firms["weight"] * unserved).sum())
    upgraded = _upgraded(ctx, plan.selected).to_numpy(bool)
    in_scope = ctx.ops["in_scope"].to_numpy(bool)
    local = plan.local_rows[plan.local_rows["served"]]
    members = plan.cluster_rows[plan.cluster_rows["served"]]
    moved = members[members["disrupted"].to_numpy(bool)]
    h = c.horizon_years
    return {
        "operating": h * _operators_cost(ctx, plan.kept, plan.load),
        "service": h * c.cost_per_firm_minute * float(
            (served_weight * on["minutes_raw"]).sum()
            + (local["weight_raw"] * local["share"] * local["minutes_raw"]).sum()),
        "closure": float(ctx.ops.loc[~keep_mask, "closure_cost"].sum()),
        "upgrade": float(ctx.clusters.loc[upgraded, "gold_upgrade_cost"].fillna(0.0).sum()),
        "disruption": c.disruption_cost_per_firm * float(
            served_weight[on["disrupted"]].sum() + (moved["weight_raw"] * moved["share"]).sum()),
        "unserved_penalty": unserved_penalty + _layer_penalty(ctx, plan),
        "cluster_operating": h * _running_clusters_cost(ctx, plan),
        "outside_scope": h * float(ctx.ops.loc[~in_scope, "annual_cost"].sum()),
        "merger": float(ctx.clusters.loc[[c for c in plan.merged if c in ctx.clusters.index],
                                         "merge_cost"].sum()),
    }


def _layer_penalty(ctx: Context, plan: Plan) -> float:
    """Penalty for the unserved shares of local and cluster service (soft layers)."""
    total = 0.0
    for rows, layer, need in ((plan.local_rows, ctx.pol.local, "local"),
                              (plan.cluster_rows, ctx.pol.cluster, "cluster")):
        if not ctx.layered or layer.coverage != "soft":
            continue
        firms = ctx.demand[ctx.demand[need].to_numpy(bool)]
        on = rows[rows["served"]]
        got = (on["weight_raw"] * on["share"]).groupby(on["firm_id"]).sum().reindex(
            firms.index, fill_value=0.0)
        unserved = (1.0 - got / firms["weight"]).clip(lower=0.0)
        total += ctx.costs.unserved_penalty_per_firm * float(
            (firms["penalty_weight"] * firms["weight"] * unserved).sum())
    return total


def objective_terms(ctx: Context, terms: Mapping[str, float], reported: Mapping[str, float],
                    out: list[Violation]) -> None:
    """``objective_terms.<term>``: every reported cost term equals the recomputed one, within
    the tolerance of money amounts: relative, with a floor of 1 DKK (a term the solver leaves
    at 1e-9 DKK and the checker at 1e-6 DKK is zero either way)."""
    for term in COST_TERMS:
        if term not in reported:
            _fail(out, f"objective_terms.{term}", term, "term not reported")
        elif ctx.differ(float(reported[term]), terms[term]) and \
                abs(float(reported[term]) - terms[term]) > 1.0:
            given = float(reported[term])
            _fail(out, f"objective_terms.{term}", term,
                  f"reported {_num(given)}, recomputed {_num(terms[term])}", given - terms[term])


def objective(ctx: Context, recomputed: float, reported: float | None,
              out: list[Violation]) -> None:
    """``objective``: the reported objective equals the recomputed one."""
    if reported is not None and ctx.differ(reported, recomputed):
        _fail(out, "objective", "plan", f"reported {_num(reported)}, recomputed "
              f"{_num(recomputed)}", reported - recomputed)


def figures(ctx: Context, plan: Plan) -> dict[str, Any]:
    """The plan figures summary.json reports, recomputed (None where undefined)."""
    served = _served_weight(ctx, plan)
    weight = ctx.firms["weight"]
    rural = ctx.firms["rural"].to_numpy(bool)

    def share(mask: np.ndarray) -> float | None:
        total = float(weight[mask].sum())
        return float(served[mask].sum()) / total if total else None

    on = plan.served_rows
    w = on["weight_raw"] * on["share"]
    coverage = {"all": share(np.ones(len(weight), dtype=bool)),
                "rural": share(rural), "urban": share(~rural)}
    members = plan.cluster_rows[plan.cluster_rows["served"]]
    moved = members[members["disrupted"].to_numpy(bool)]
    by_service = {"guidance": coverage if len(ctx.firms) else None}
    for name, rows in (("local", plan.local_rows), ("cluster", plan.cluster_rows)):
        by_service[name] = _service_coverage(ctx, rows, name) if ctx.layered else None
    return {
        "coverage": coverage,
        "travel_minutes": {
            "mean": float((w * on["minutes_raw"]).sum() / w.sum()) if w.sum() else None,
            "max": float(on["minutes_raw"].max()) if len(on) else None},
        "firms_moved": float(w[on["disrupted"]].sum()
                             + (moved["weight_raw"] * moved["share"]).sum()),
        "counts": {"operators_before": len(ctx.ops), "operators_after": int(plan.kept.sum()),
                   "clusters_before": len(ctx.clusters),
                   "clusters_after": int(plan.selected.sum())},
        "coverage_by_service": {s: by_service[s] for s in ("local", "guidance", "cluster")},
        "effect": effect(ctx, plan),
    }


def _service_coverage(ctx: Context, rows: pd.DataFrame, need: str) -> dict[str, Any] | None:
    """Served share of one service's demand, all / rural / urban, firm by firm."""
    firms = ctx.demand[ctx.demand[need].to_numpy(bool)]
    if firms.empty:
        return None
    on = rows[rows["served"]]
    got = (on["weight_raw"] * on["share"]).groupby(on["firm_id"]).sum().reindex(
        firms.index, fill_value=0.0)
    rural = firms["rural"].to_numpy(bool)

    def share(mask: np.ndarray) -> float | None:
        total = float(firms["weight"][mask].sum())
        return float(got[mask].sum()) / total if total else None

    return {"all": share(np.ones(len(firms), bool)), "rural": share(rural),
            "urban": share(~rural)}


def effect(ctx: Context, plan: Plan) -> dict[str, Any]:
    """The effect figures (docs/outputs.md, ``effect``), firm by firm from the raw data."""
    return _effect_of_rows(ctx, _all_rows(plan), _annual_cost(ctx, plan))


def _effect_of_rows(ctx: Context, rows: pd.DataFrame, annual: float) -> dict[str, Any]:
    """Effect figures of assignment rows (firm_id, service, served, weight_raw, share) at an
    annual cost: per service firms, growth firms and employees served; jobs; cost ratios."""
    on = rows[rows["served"].to_numpy(bool)]
    w = on["weight_raw"] * on["share"]
    info = ctx.demand.loc[on["firm_id"]]
    growth = info["growth"].to_numpy(bool)
    employees = info["employees"].to_numpy(float)
    per = {s: (on["service"] == s).to_numpy() for s in ("local", "guidance", "cluster")}
    jobs = float(_row_jobs(ctx, on).sum())
    # A firm served by several services counts once (its best-served service's weight).
    served = float(w.groupby([on["firm_id"], on["service"]]).sum().groupby(level=0).max()
                   .sum()) if len(on) else 0.0
    return {"firms_served": {s: float(w[m].sum()) for s, m in per.items()},
            "growth_firms_served": {s: float(w[m & growth].sum()) for s, m in per.items()},
            "employees_served": {s: float((w * employees)[m].sum()) for s, m in per.items()},
            "jobs": jobs, "annual_cost": annual,
            "cost_per_served_firm": annual / served if served > 0 else None,
            "cost_per_job": annual / jobs if jobs > 0 else None}


def summary_figures(ctx: Context, summary: Mapping[str, Any], recomputed: Mapping[str, Any],
                    out: list[Violation], prefix: str = "summary") -> None:
    """``summary.<key>``: every recomputed figure that summary.json also reports agrees."""
    for key, value in recomputed.items():
        if key not in summary:
            continue
        given = summary[key]
        name = f"{prefix}.{key}"
        if isinstance(value, Mapping):
            if isinstance(given, Mapping):
                summary_figures(ctx, given, value, out, name)
            else:
                _fail(out, name, key, f"expected a table of figures, got {given!r}")
        elif value is None or given is None:
            if value is not None or given is not None:
                _fail(out, name, key, f"reported {given!r}, recomputed {value!r}")
        elif ctx.differ(float(given), float(value)):
            _fail(out, name, key, f"reported {_num(float(given))}, recomputed "
                  f"{_num(float(value))}", float(given) - float(value))


def _run(ctx: Context, frames: Mapping[str, pd.DataFrame],
         reported_terms: Mapping[str, float] | None,
         reported_objective: float | None) -> CheckReport:
    """Tables, rules and costs of one plan; the reported objective defaults to the sum of the
    reported terms."""
    out: list[Violation] = []
    plan = plan_of(ctx, frames, out)
    if plan is None:
        return CheckReport(out, {}, math.nan, reported_objective)
    for check in (*TABLE_CHECKS, *RULES.values()):
        check(ctx, plan, out)
    reports(ctx, plan, frames, out)
    terms = cost_terms(ctx, plan)
    if reported_terms is not None:
        objective_terms(ctx, terms, reported_terms, out)
        if reported_objective is None:
            reported_objective = float(sum(float(reported_terms.get(t, 0.0))
                                           for t in COST_TERMS))
    total = float(sum(terms.values()))
    objective(ctx, total, reported_objective, out)
    return CheckReport(out, terms, total, reported_objective, figures(ctx, plan))


# --------------------------------------------------------------------------- public API


def check_plan(dataset: Dataset, scenario: Scenario, operators: pd.DataFrame,
               clusters: pd.DataFrame, assignments: pd.DataFrame,
               reported_terms: Mapping[str, float] | None = None, tol: float = 1e-6, *,
               reported_objective: float | None = None,
               report_tables: Mapping[str, pd.DataFrame] | None = None) -> CheckReport:
    """Check a plan (the three output tables) against the raw data and the scenario.

    ``tol`` is relative to ``max(|a|, |b|, 1)`` of the two sides compared. The reported
    objective defaults to the sum of ``reported_terms`` when those are given. The report
    tables given (``coverage_by_municipality``, ``by_region``, ``by_stronghold``) are checked
    cell by cell too.
    """
    frames = {"operators": operators, "clusters": clusters, "assignments": assignments,
              **(report_tables or {})}
    return _run(context(dataset, scenario, tol), frames, reported_terms, reported_objective)


def _place_expected(ctx: Context, plan: Plan, place_of: pd.Series) -> pd.DataFrame:
    """Firms, served, share, travel and operators present per place, firm by firm; a place
    is what ``place_of`` maps a municipality to (itself, or its region)."""
    on = plan.rows[plan.rows["served"]]
    w = on["weight_raw"] * on["share"]
    key = on["municipality_id_raw"].map(place_of).to_numpy()
    expected = pd.DataFrame({
        "firms": ctx.firms["weight"].groupby(ctx.firms["municipality_id"].map(place_of)).sum(),
        "served": w.groupby(key).sum(),
        "travel_max": on["minutes_raw"].groupby(key).max()})
    expected["travel_mean"] = (on["minutes_raw"] * w).groupby(key).sum() / expected["served"]
    # Every place, also one without firms (it may still have operators).
    expected = expected.reindex(place_of.unique())
    present = ctx.ops.loc[plan.kept_ids, "municipality_id"].map(place_of).value_counts()
    expected["operators_present"] = present
    expected = expected.fillna({"firms": 0.0, "served": 0.0, "operators_present": 0.0})
    # A place without firms has no share (blank), one whose firms are all unserved has 0.
    expected["share"] = (expected["served"] / expected["firms"]).where(expected["firms"] > 0)
    for name, rows, need in (("local_share", plan.local_rows, "local"),
                             ("cluster_share", plan.cluster_rows, "cluster")):
        firms = ctx.demand[ctx.demand[need].to_numpy(bool)]
        total = firms["weight"].groupby(firms["municipality_id"].map(place_of)).sum()
        on_rows = rows[rows["served"]]
        got = (on_rows["weight_raw"] * on_rows["share"]).groupby(
            on_rows["municipality_id_raw"].map(place_of).to_numpy()).sum()
        expected[name] = (got.reindex(expected.index).fillna(0.0)
                          / total.reindex(expected.index)).where(total.reindex(
                              expected.index) > 0)
    rows = _all_rows(plan)
    expected["jobs"] = _row_jobs(ctx, rows).groupby(
        rows["municipality_id_raw"].map(place_of).to_numpy()).sum().reindex(
        expected.index).fillna(0.0)
    return expected


def _all_rows(plan: Plan) -> pd.DataFrame:
    return pd.concat([plan.local_rows, plan.rows, plan.cluster_rows])


def _row_jobs(ctx: Context, rows: pd.DataFrame) -> pd.Series:
    """Estimated jobs of each row: served weight × the service's rate × growth factor."""
    info = ctx.demand.loc[rows["firm_id"]]
    rate = rows["service"].map(ctx.effect.jobs_per_served_firm.model_dump()).astype(float)
    factor = np.where(info["growth"].to_numpy(bool), ctx.effect.growth_firm_factor, 1.0)
    return rows["weight_raw"] * rows["share"] * rows["served"].astype(float) * rate * factor


def _stronghold_expected(ctx: Context, plan: Plan) -> pd.DataFrame:
    """The by_stronghold report recomputed firm by firm."""
    demand = ctx.demand
    out = pd.DataFrame(index=pd.Index(ctx.strongholds, name="stronghold_id"))
    out["firms"] = demand["weight"].groupby(demand["stronghold_id"]).sum()
    for prefix, rows in (("cluster", plan.cluster_rows), ("guidance", plan.rows)):
        firms = demand[demand[prefix].to_numpy(bool)]
        out[f"{prefix}_firms"] = firms["weight"].groupby(firms["stronghold_id"]).sum()
        on = rows[rows["served"]]
        out[f"{prefix}_served"] = (on["weight_raw"] * on["share"]).groupby(
            on["stronghold_id_raw"]).sum()
    rows = _all_rows(plan)
    moved = rows[rows["disrupted"].to_numpy(bool)]
    out["firms_moved"] = (moved["weight_raw"] * moved["share"]).groupby(
        moved["stronghold_id_raw"]).sum()
    out["jobs"] = _row_jobs(ctx, rows).groupby(rows["stronghold_id_raw"].to_numpy()).sum()
    return out.fillna(0.0)


def reports(ctx: Context, plan: Plan, frames: Mapping[str, pd.DataFrame],
            out: list[Violation]) -> None:
    """``report.<table>``: the coverage tables (REPORT_TABLES) agree with the plan, place by
    place; a report absent from ``frames`` is not checked."""
    munis = ctx.region_of
    places = {"coverage_by_municipality": ("municipality_id",
                                           pd.Series(munis.index, munis.index)),
              "by_region": ("region_id", munis)}
    for name, (key, place_of) in places.items():
        if name not in frames or frames[name].empty:
            continue
        table = _normalise(name, frames[name], out)
        if table is None:
            continue
        expected = _place_expected(ctx, plan, place_of)
        table = table.set_index(key)
        for place in sorted(set(expected.index) - set(table.index)):
            _fail(out, f"report.{name}", place, f"{key} {place} is missing")
        for place, row in table.iterrows():
            if place not in expected.index:
                _fail(out, f"report.{name}", str(place), f"unknown {key} {place}")
                continue
            for col in ("firms", "served", "share", "travel_mean", "travel_max",
                        "operators_present", "local_share", "cluster_share", "jobs"):
                got, want = float(row[col]), float(expected.at[place, col])
                if ctx.differ(got, want):
                    _fail(out, f"report.{name}", f"{place}/{col}", f"{col} {_num(got)} "
                          f"differs from the recomputed {_num(want)}")
    if "by_stronghold" in frames and not frames["by_stronghold"].empty:
        _by_stronghold(ctx, plan, frames["by_stronghold"], out)


def _by_stronghold(ctx: Context, plan: Plan, frame: pd.DataFrame,
                   out: list[Violation]) -> None:
    table = _normalise("by_stronghold", frame, out)
    if table is None:
        return
    table = table.set_index("stronghold_id")
    expected = _stronghold_expected(ctx, plan)
    for s in sorted(set(expected.index) ^ set(table.index)):
        _fail(out, "report.by_stronghold", s, f"stronghold {s} is missing or unknown")
    counted: dict[str, set[str]] = {}
    for c in plan.selected_ids:
        for s in plan.counts_for.get(c, ()):
            counted.setdefault(s, set()).add(c)
    for s, row in table.iterrows():
        if s not in expected.index:
            continue
        if _items(row["clusters_selected"]) != tuple(sorted(counted.get(str(s), ()))):
            _fail(out, "report.by_stronghold", f"{s}/clusters_selected",
                  f"clusters_selected {row['clusters_selected']!r} differs from the plan")
        for col in expected.columns:
            got, want = float(row[col]), float(expected.at[s, col])
            if ctx.differ(got, want):
                _fail(out, "report.by_stronghold", f"{s}/{col}", f"{col} {_num(got)} "
                      f"differs from the recomputed {_num(want)}")


def _effect_optimum(ctx: Context, summary: Mapping[str, Any], report: CheckReport) -> None:
    """``effect_optimum``: a max_effect plan keeps the effect its first stage found."""
    best = (summary.get("effect_optimum") or {}).get("jobs")
    if best is None:
        return
    jobs = float(report.figures["effect"]["jobs"])
    if ctx.exceeds(float(best), jobs):
        _fail(report.violations, "effect_optimum", "plan", f"the plan's estimated jobs "
              f"{_num(jobs)} fall short of the maximum {_num(float(best))} it claims",
              float(best) - jobs)


def _sq_rows(ctx: Context) -> pd.DataFrame:
    """Today's assignments, firm by firm (docs/model.md, status quo): a member with the
    nearest host of its current clusters, a firm without one with the nearest competent
    operator; with service layers each service by the nearest provider of its layer (cluster
    service only for members; local service by the municipality's own local operator first).
    Columns: firm_id, service, operator_id, cluster_id, minutes."""
    d = ctx.demand
    ops = ctx.ops
    hosts = ctx.clusters["operator_id"]
    rows: list[tuple[str, str, str, str, float]] = []

    where = ops["municipality_id"]

    def minutes(m: str, o: str) -> float:
        return ctx.times.between(m, where[o])

    @functools.cache
    def best(m: str, cands: tuple[tuple[str, str], ...], own_first: bool,
             ) -> tuple[float, str, str] | None:
        # (elsewhere?, minutes, operator, cluster): today a municipality's firms use its own
        # local business service first, however near a neighbour's.
        keyed = ((own_first and where[o] != m, minutes(m, o), o, c) for o, c in cands)
        top = min(keyed, default=None)
        return None if top is None else top[1:]

    def nearest(f: str, service: str, cands: list[tuple[str, str]],
                own_first: bool = False) -> None:
        found = best(d.at[f, "municipality_id"], tuple(cands), own_first)
        if found is None:
            rows.append((f, service, "", "", math.nan))
        else:
            rows.append((f, service, found[1], found[2], found[0]))

    in_scope = ops.index[ops["in_scope"].to_numpy(bool)]
    local_ops = [o for o in in_scope if ops.at[o, "layer"] == "local_service"]
    by_s: dict[str, list[str]] = {}
    for o, s in ctx.competence:
        by_s.setdefault(s, []).append(o)
    for f in d.index:
        cur = sorted(d.at[f, "current"])
        own = [(hosts[c], c) for c in cur]
        if not ctx.layered:
            nearest(f, "guidance", own or [(o, "") for o in by_s.get(d.at[f, "stronghold_id"],
                                                                    [])])
            continue
        nearest(f, "local", [(o, "") for o in local_ops], own_first=True)
        if d.at[f, "guidance"]:
            nearest(f, "guidance", [(o, "") for o in by_s.get(d.at[f, "stronghold_id"], [])])
        if d.at[f, "cluster"]:
            nearest(f, "cluster", own)
    return pd.DataFrame(rows, columns=["firm_id", "service", "operator_id", "cluster_id",
                                       "minutes"])


def status_quo_expected(ctx: Context) -> dict[str, Any]:
    """The status-quo block of summary.json recomputed from the raw data (the data the
    baseline is evaluated on): every operator and cluster kept, today's assignments."""
    rows = _sq_rows(ctx)
    d = ctx.demand.loc[rows["firm_id"]]
    rows["weight"] = d["weight"].to_numpy(float)
    served = rows["operator_id"] != ""
    h, c = ctx.costs.horizon_years, ctx.costs
    in_scope = ctx.ops["in_scope"].to_numpy(bool)
    travel = rows[served & (rows["service"] != "cluster")]
    load = rows[served].groupby("operator_id")["weight"].sum()
    every = pd.Series(True, index=ctx.ops.index)
    terms = {t: 0.0 for t in COST_TERMS}
    terms.update(
        operating=h * _operators_cost(ctx, every, load),
        service=h * c.cost_per_firm_minute * float((travel["weight"] * travel["minutes"]).sum()),
        cluster_operating=h * float(ctx.clusters["annual_cost"].sum()),
        outside_scope=h * float(ctx.ops.loc[~in_scope, "annual_cost"].sum()))

    def coverage(mask: pd.Series, radius: float | None = None) -> dict[str, Any] | None:
        sub = rows[mask]
        if sub.empty:
            return None
        ok = (sub["operator_id"] != "") & (sub["minutes"] <= radius + 1e-9 if radius is not None
                                           else True)
        rural = ctx.demand.loc[sub["firm_id"], "rural"].to_numpy(bool)

        def share(m: np.ndarray) -> float | None:
            total = float(sub["weight"][m].sum())
            return float((sub["weight"] * ok)[m].sum()) / total if total else None

        return {"all": share(np.ones(len(sub), bool)), "rural": share(rural),
                "urban": share(~rural)}

    guidance = rows["service"] == "guidance"
    g_on = rows[guidance & served]
    annual = _operators_cost(ctx, every, load) + float(ctx.clusters["annual_cost"].sum())
    per = {s: rows["service"] == s for s in ("local", "guidance", "cluster")}
    radius = ctx.pol.max_travel_minutes
    return {
        "objective": float(sum(terms.values())), "objective_terms": terms,
        "operators": len(ctx.ops), "clusters": len(ctx.clusters),
        "coverage": coverage(guidance),
        "coverage_within_radius": None if radius is None else coverage(guidance, radius),
        "travel_minutes": {
            "mean": float((g_on["weight"] * g_on["minutes"]).sum() / g_on["weight"].sum())
            if len(g_on) else None,
            "max": float(g_on["minutes"].max()) if len(g_on) else None},
        "firms_moved": 0.0,
        "coverage_by_service": {s: coverage(m) for s, m in per.items()},
        "effect": _effect_of_rows(
            ctx, rows.assign(share=1.0, served=served, weight_raw=rows["weight"]), annual),
    }


def _status_quo(dataset: Dataset, scenario: Scenario, summary: Mapping[str, Any],
                tol: float, out: list[Violation]) -> None:
    """``status_quo.<key>``: the baseline block agrees with today's landscape recomputed on
    the data it names (before the scenario's overrides unless ``baseline = "overridden"``)."""
    given = summary.get("status_quo")
    if not isinstance(given, Mapping):
        return
    base = scenario if scenario.baseline == "overridden" else scenario.with_updates(
        {"overrides": {"operators": [], "add_operators": [], "add_clusters": []}})
    expected = status_quo_expected(context(dataset, base, tol))
    summary_figures(context(dataset, base, tol), given, expected, out, "status_quo")


def _check_reported(ctx: Context, dataset: Dataset, frames: Mapping[str, pd.DataFrame],
                    summary: Mapping[str, Any], scenario: Scenario | None = None,
                    ) -> CheckReport:
    given = summary.get("objective")
    report = _run(ctx, frames, summary.get("objective_terms", {}),
                  None if given is None else float(given))
    if report.figures:
        summary_figures(ctx, summary, report.figures, report.violations)
        _effect_optimum(ctx, summary, report)
    if scenario is not None:
        _status_quo(dataset, scenario, summary, ctx.tol, report.violations)
    expected = summary.get("data_hash")
    actual = dataset.content_hash()
    if expected is not None and expected != actual:
        _fail(report.violations, "data_hash", str(summary.get("data", dataset.source)),
              f"the result was solved on data with hash {expected}, this data set has "
              f"{actual}")
    return report


def _dataset_of(summary: Mapping[str, Any]) -> Dataset:
    path = summary.get("data")
    if not path or path == "<memory>":
        raise ValueError("the result does not name a data set on disk; pass dataset=")
    return dataset_api.load(path)


def check_result(result: Result, dataset: Dataset | None = None,
                 tol: float = 1e-6) -> CheckReport:
    """Check a :class:`klynge_opt.results.result.Result` (its tables, scenario and summary).

    The data set is loaded from ``result.summary["data"]`` unless given.
    """
    if result.scenario is None:
        raise ValueError("the result carries no scenario to check against")
    if result.operators.empty:
        raise ValueError(f"the result has no plan to check (status {result.status})")
    ds = dataset if dataset is not None else _dataset_of(result.summary)
    frames = {name: getattr(result, name) for name in ALL_TABLES}
    return _check_reported(context(ds, result.scenario, tol), ds, frames, result.summary,
                           result.scenario)


def read_plan(path: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """The decision tables of a result folder, every cell as text (ids keep leading zeros;
    blank stays blank; cells protected against spreadsheet formulas read back exactly)."""
    folder = Path(path)
    return {name: unprotect_frame(pd.read_csv(folder / t.file, dtype=str, keep_default_na=False))
            for name, t in ALL_TABLES.items() if name in OUTPUT_TABLES
            or (folder / t.file).exists()}


#: Statuses that come with a plan, and those that come without one (docs/outputs.md).
WITH_PLAN = frozenset({"optimal", "feasible", "time_limit", "check_failed", "evaluated"})
WITHOUT_PLAN = frozenset({"infeasible", "time_limit", "error"})


def _read_summary(folder: Path) -> dict[str, Any]:
    file = folder / SUMMARY_FILE
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{file} not found: {folder} is not a result folder") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{file} is not valid JSON ({exc}): the result is damaged; solve "
                         "again") from None
    if not isinstance(summary, dict):
        raise ValueError(f"{file} does not hold a summary (a JSON object)")
    return summary


def _check_identity(out: list[Violation], summary: Mapping[str, Any], scenario: Scenario,
                    dataset: Dataset) -> None:
    """The result belongs to this scenario and data (``data_hash``, ``input_hash``)."""
    data_hash = dataset.content_hash()
    expected = summary.get("data_hash")
    if expected != data_hash:
        _fail(out, "data_hash", str(summary.get("data", dataset.source)),
              f"the result was solved on data with hash {expected}, this data set has "
              f"{data_hash}")
    wanted = input_hash(scenario, data_hash)
    if summary.get("input_hash") != wanted:
        _fail(out, "input_hash", SCENARIO_FILE,
              "the scenario and data do not hash to the result's input_hash: "
              f"{SCENARIO_FILE} or the data were changed after solving (recorded "
              f"{summary.get('input_hash')}, recomputed {wanted})")


def _check_status(out: list[Violation], summary: Mapping[str, Any], scenario: Scenario,
                  has_plan: bool) -> None:
    """``status``: one the scenario and the result allow; optimality only when proven."""
    status = summary.get("status")
    if status == "evaluated" and scenario.mode != "status_quo":
        _fail(out, "status", SUMMARY_FILE, "the status says 'evaluated' (status quo, no "
              "constraints) but the scenario optimises: the plan must meet its policy")
    if status != "evaluated" and scenario.mode == "status_quo":
        _fail(out, "status", SUMMARY_FILE, f"a status-quo scenario is evaluated, not "
              f"'{status}'")
    allowed = WITH_PLAN if has_plan else WITHOUT_PLAN
    if status not in allowed:
        _fail(out, "status", SUMMARY_FILE, f"status {status!r} is not possible for a result "
              f"{'with' if has_plan else 'without'} a plan (expected one of "
              f"{', '.join(sorted(allowed))})")
    gap = summary.get("mip_gap")
    within = scenario.solver.mip_gap <= PROVEN_GAP or (gap is not None
                                                       and float(gap) <= PROVEN_GAP)
    if (summary.get("proven_optimal") or status == "optimal") and not (
            status == "optimal" and within):
        _fail(out, "status", SUMMARY_FILE, f"optimality is claimed (status {status!r}, gap "
              f"{gap!r}, solver.mip_gap {scenario.solver.mip_gap:g}); proven optimal "
              f"means solved to a gap of at most {PROVEN_GAP:g}")


def check_dir(path: str | os.PathLike[str], dataset: Dataset | None = None,
              tol: float = 1e-6) -> CheckReport:
    """Check a result folder written by ``klynge-opt solve`` against its data set.

    Nothing in the folder is trusted: the data set is loaded from ``summary.json``'s ``data``
    unless given, its content hash and the hash of ``scenario.toml`` with it must give the
    recorded ``input_hash``, the status must be one the scenario allows, and a plan is
    checked constraint by constraint. A status-quo evaluation imposes no constraints, and a
    result without a plan has none to check: both get only the identity checks (``note``).
    """
    folder = Path(path)
    summary = _read_summary(folder)
    scenario = load_scenario(folder / SCENARIO_FILE)
    ds = dataset if dataset is not None else _dataset_of(summary)
    has_plan = all((folder / f).exists() for f in TABLE_FILES.values())
    # Built first: a scenario that does not apply to this data fails even without a plan.
    ctx = context(ds, scenario, tol)
    identity: list[Violation] = []
    _check_identity(identity, summary, scenario, ds)
    _check_status(identity, summary, scenario, has_plan)
    status = summary.get("status")
    if has_plan and status != "evaluated":
        report = _check_reported(ctx, ds, read_plan(folder), summary, scenario)
        report.violations = identity + [v for v in report.violations
                                        if v.constraint != "data_hash"]
        return report
    given = summary.get("objective")
    note = ("a status-quo evaluation imposes no constraints; only its inputs were verified"
            if status == "evaluated" else
            f"the result has no plan (status {status}); only its inputs were verified")
    return CheckReport(identity, dict(summary.get("objective_terms") or {}),
                       float("nan") if given is None else float(given), note=note)
