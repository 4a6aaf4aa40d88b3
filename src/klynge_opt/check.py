"""Independent checker: does a plan meet its scenario, and do its reported costs add up?

The checker reads only the raw data set (tables and :func:`klynge_opt.geography.travel_times`),
the scenario and the three output tables (``docs/outputs.md``). It never touches the model,
the landscape's eligible pairs or the result extraction, so a mistake in any of those cannot
hide in the check as well. Firms are checked one by one, not per (municipality, stronghold)
group as the model assigns them.

Violations are named after the model's constraints where one exists:

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
``firms_complete``                 every firm of the data set has at least one row
``one_cluster_per_stronghold``     selected clusters covering s == clusters_per_stronghold
``host_retained``                  a selected cluster's host is kept
``host_serves``                    ... and serves every stronghold the cluster covers
``serve_needs_operator``           ``serves`` lists only competences, and only of kept operators
``assign_needs_service``           a firm's operator is known, kept, competent in the firm's
                                   stronghold and lists it in ``serves``
``assignment``                     shares within [0, 1] and summing to 1 per firm
``assignment.unserved``            hard coverage: no unserved share
``assignment.binary``              without allow_split: one row per firm, share 0 or 1
``assignment.group``               without allow_split: a (municipality, stronghold) group's
                                   firms all go to the same operator
``radius``                         travel time within max_travel_minutes; reported ``minutes``
                                   equal to the recomputed travel time
``capacity``                       Σ weight × share <= capacity
``min_firms_per_operator``         per kept operator
``min_firms_per_node``             per kept operator and served stronghold
``admissible``                     a selected cluster meets budget, knowledge partners, gold
``coverage``                       soft coverage: served share >= coverage_target
``rural_parity``                   soft coverage: rural share >= urban share - tolerance
``regional_presence``              kept operators per region >= min_operators_per_region
``min_operators``                  at least min_operators kept
``max_operators``                  at most max_operators kept
``keep``/``close``                 forced operators
``annual_budget``                  Σ annual_cost of kept operators <= annual_budget
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

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import dataset as dataset_api
from .cells import unprotect_frame
from .dataset import Dataset
from .fsio import clean_json
from .geography import travel_times
from .outputs import (
    COST_TERMS,
    LIST_SEPARATOR,
    OUTPUT_TABLES,
    SCENARIO_FILE,
    SUMMARY_FILE,
    TABLE_FILES,
)
from .overrides import apply_overrides, forced_operators, required_clusters
from .scenario import Scenario, input_hash, load_scenario
from .solver import PROVEN_GAP

if TYPE_CHECKING:
    from .results import Result

# The documented columns of each output table, by how the checker reads them.
_TEXT = {name: t.of_kind("text") for name, t in OUTPUT_TABLES.items()}
_NUMBER = {name: t.of_kind("number") for name, t in OUTPUT_TABLES.items()}
_FLAG = {name: t.of_kind("flag") for name, t in OUTPUT_TABLES.items()}
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


def _text(col: pd.Series) -> pd.Series:
    """Cells as plain strings, blank for missing (CSV blanks and in-memory NaN alike)."""
    obj = col.astype(object)
    return obj.where(obj.notna(), "").map(str)


def _items(cell: str) -> tuple[str, ...]:
    return tuple(sorted(p for p in cell.split(LIST_SEPARATOR) if p))


def _num(x: float) -> str:
    return f"{x:.6g}"


def _join(ids: Iterable[str]) -> str:
    return LIST_SEPARATOR.join(sorted(ids))


# --------------------------------------------------------------------------- the checker


class _Checker:
    def __init__(self, dataset: Dataset, scenario: Scenario, tol: float) -> None:
        # The plan was made on the data as the scenario changes it.
        dataset = apply_overrides(dataset, scenario)
        self.ds = dataset
        self.pol = scenario.policy
        self.keep, self.close = forced_operators(dataset, scenario.policy)
        self.required = required_clusters(dataset, scenario.policy)
        self.costs = scenario.costs
        self.tol = tol
        self.found: list[Violation] = []

        ds = dataset
        munis = ds.municipalities.set_index("municipality_id")
        firms = ds.firms.set_index("firm_id")[["municipality_id", "stronghold_id",
                                                "weight"]].copy()
        firms["rural"] = firms["municipality_id"].map(munis["rural"]).fillna(False).astype(bool)
        firms["penalty_weight"] = firms["stronghold_id"].map(
            ds.strongholds.set_index("stronghold_id")["weight"]).astype(float)
        firms["member"] = firms.index.isin(ds.memberships["firm_id"])
        self.firms = firms

        ops = ds.operators.set_index("operator_id").copy()
        ops["region_id"] = ops["municipality_id"].map(munis["region_id"])
        ops["kind"] = _text(ops["kind"])
        self.ops = ops

        clusters = ds.clusters.set_index("cluster_id").copy()
        clusters["admissible"] = (
            (clusters["budget"] >= self.pol.min_cluster_budget)
            & (clusters["knowledge_partners"] >= self.pol.min_knowledge_partners))
        if self.pol.require_gold:
            # A cluster that can never reach gold is out; one that can pays its upgrade.
            clusters["admissible"] &= (clusters["label"] == "gold") | \
                clusters["gold_upgrade_cost"].notna()
        self.clusters = clusters
        self.covers: dict[str, tuple[str, ...]] = {
            c: tuple(sorted(g)) for c, g in
            ds.cluster_strongholds.groupby("cluster_id")["stronghold_id"]}
        self.competence = set(zip(ds.operator_strongholds["operator_id"],
                                  ds.operator_strongholds["stronghold_id"], strict=True))
        today = ds.memberships.merge(ds.clusters[["cluster_id", "operator_id"]], on="cluster_id")
        # (firm, operator) pairs where the operator hosts one of the firm's current clusters.
        self.familiar = set(zip(today["firm_id"], today["operator_id"], strict=True))
        self.times = travel_times(ds)

    # ------------------------------------------------------------------ reporting

    def fail(self, constraint: str, where: str, message: str,
             amount: float | None = None) -> None:
        self.found.append(Violation(constraint, where, message,
                                    None if amount is None else float(amount)))

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

    # ------------------------------------------------------------------ reading the tables

    def normalise(self, name: str, frame: pd.DataFrame) -> pd.DataFrame | None:
        """The table with text, number and flag columns typed alike whether it came from
        memory or from a CSV read as text."""
        wanted = (*_TEXT[name], *_NUMBER[name], *_FLAG[name])
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            self.fail("tables", name, f"missing columns: {', '.join(missing)}")
            return None
        out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
        for col in _TEXT[name]:
            out[col] = _text(frame[col]).to_numpy()
        for col in _NUMBER[name]:
            raw = frame[col]
            if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
                out[col] = raw.to_numpy(float)
            else:
                # Text from a CSV: blank is missing, anything unreadable too (and then
                # disagrees with the recomputed value, which is reported there).
                out[col] = pd.to_numeric(_text(raw).replace("", np.nan),
                                         errors="coerce").to_numpy(float)
        for col in _FLAG[name]:
            words = _text(frame[col]).str.strip().str.lower()
            bad = ~words.isin(_TRUE | _FALSE)
            for row in np.flatnonzero(bad.to_numpy()):
                self.fail(f"{name}_table", f"row {row + 1}",
                          f"{col} is not true/false: {frame[col].iloc[row]!r}")
            out[col] = words.isin(_TRUE).to_numpy()
        return out

    def unique_rows(self, name: str, table: pd.DataFrame, key: str,
                    known: pd.Index) -> pd.DataFrame:
        """Rows of known ids, each once; report duplicates, unknown and missing ids."""
        ids = table[key]
        for i in sorted(set(ids[ids.duplicated()])):
            self.fail(f"{name}_table", i, f"{key} {i} is listed more than once")
        for i in sorted(set(ids) - set(known)):
            self.fail(f"{name}_table", i, f"{key} {i} is not in the data set")
        for i in sorted(set(known) - set(ids)):
            self.fail(f"{name}_table", i, f"{key} {i} of the data set is missing")
        return table[ids.isin(known)].drop_duplicates(key).set_index(key)

    # ------------------------------------------------------------------ the check

    def run(self, operators: pd.DataFrame, clusters: pd.DataFrame, assignments: pd.DataFrame,
            reported_terms: Mapping[str, float] | None,
            reported_objective: float | None) -> CheckReport:
        op_t = self.normalise("operators", operators)
        cl_t = self.normalise("clusters", clusters)
        as_t = self.normalise("assignments", assignments)
        if op_t is None or cl_t is None or as_t is None:
            return CheckReport(list(self.found), {}, math.nan, reported_objective)

        op_t = self.unique_rows("operators", op_t, "operator_id", self.ops.index)
        cl_t = self.unique_rows("clusters", cl_t, "cluster_id", self.clusters.index)
        # A row missing from a table counts as "no": a closed operator, an unselected cluster.
        kept = op_t["kept"].reindex(self.ops.index, fill_value=False).astype(bool)
        selected = cl_t["selected"].reindex(self.clusters.index, fill_value=False).astype(bool)
        serves = {o: _items(s) for o, s in op_t["serves"].items()}

        rows = self.assignment_rows(as_t)
        load = (rows["weight_raw"] * rows["share"])[rows["served"]].groupby(
            rows.loc[rows["served"], "operator_id"]).sum()

        self.check_operators_table(op_t, kept, selected, load)
        self.check_clusters_table(cl_t, selected)
        self.check_assignments_table(rows, selected)
        self.check_clusters(kept, selected, serves)
        self.check_service(kept, serves, rows)
        self.check_assignment(rows)
        self.check_capacity(kept, serves, rows, load)
        self.check_coverage(rows)
        self.check_operators(kept)

        terms = self.objective_terms(kept, selected, rows)
        objective = float(sum(terms.values()))
        if reported_terms is not None:
            for term in COST_TERMS:
                if term not in reported_terms:
                    self.fail(f"objective_terms.{term}", term, "term not reported")
                elif self.differ(float(reported_terms[term]), terms[term]):
                    given = float(reported_terms[term])
                    self.fail(f"objective_terms.{term}", term,
                              f"reported {_num(given)}, recomputed {_num(terms[term])}",
                              given - terms[term])
            if reported_objective is None:
                reported_objective = float(sum(float(reported_terms.get(t, 0.0))
                                               for t in COST_TERMS))
        if reported_objective is not None and self.differ(reported_objective, objective):
            self.fail("objective", "plan", f"reported {_num(reported_objective)}, recomputed "
                      f"{_num(objective)}", reported_objective - objective)
        figures = self.figures(kept, selected, rows)
        return CheckReport(list(self.found), terms, objective, reported_objective, figures)

    def assignment_rows(self, table: pd.DataFrame) -> pd.DataFrame:
        """Assignment rows of known firms with the raw firm data and recomputed travel times
        and disruption beside the reported ones."""
        unknown = ~table["firm_id"].isin(self.firms.index)
        for row in table[unknown].itertuples():
            self.fail("assignments_table", row.firm_id or f"row {row.Index + 1}",
                      f"firm {row.firm_id!r} is not in the data set")
        rows = table[~unknown].copy()
        firm = self.firms.loc[rows["firm_id"]]
        for col in ("municipality_id", "stronghold_id", "rural", "penalty_weight", "member"):
            rows[f"{col}_raw"] = firm[col].to_numpy()
        rows["weight_raw"] = firm["weight"].to_numpy(float)
        rows["op_known"] = rows["operator_id"].isin(self.ops.index)
        rows["served"] = (rows["operator_id"] != "") & rows["op_known"]
        for row in rows[(rows["operator_id"] != "") & ~rows["op_known"]].itertuples():
            self.fail("assignments_table", f"{row.firm_id}/{row.operator_id}",
                      f"operator {row.operator_id} is not in the data set")

        minutes = np.full(len(rows), np.nan)
        served = rows["served"].to_numpy()
        if served.any():
            i = self.times.position(rows.loc[served, "municipality_id_raw"])
            j = self.times.position(rows.loc[served, "operator_id"].map(
                self.ops["municipality_id"]))
            minutes[served] = self.times.minutes[i, j]
        rows["minutes_raw"] = minutes
        familiar = np.fromiter(((f, o) in self.familiar for f, o in
                                zip(rows["firm_id"], rows["operator_id"], strict=True)),
                               dtype=bool, count=len(rows))
        rows["disrupted"] = served & rows["member_raw"].to_numpy(bool) & ~familiar
        return rows

    # ------------------------------------------------------------------ table cross-checks

    def compare_text(self, name: str, table: pd.DataFrame, col: str,
                     expected: pd.Series) -> None:
        exp = _text(expected.reindex(table.index))
        for key in table.index[(table[col] != exp).to_numpy()]:
            self.fail(f"{name}_table", key, f"{col} is {table.at[key, col]!r}, "
                      f"expected {exp[key]!r}")

    def compare_numbers(self, name: str, table: pd.DataFrame, col: str,
                        expected: pd.Series) -> None:
        exp = expected.reindex(table.index).astype(float)
        for key in table.index[self.differ_array(table[col], exp).to_numpy()]:
            self.fail(f"{name}_table", key, f"{col} is {_num(table.at[key, col])}, "
                      f"expected {_num(exp[key])}", table.at[key, col] - exp[key])

    def compare_lists(self, name: str, table: pd.DataFrame, col: str,
                      expected: Mapping[str, Iterable[str]]) -> None:
        for key, cell in table[col].items():
            want = tuple(sorted(expected.get(key, ())))
            if _items(cell) != want:
                self.fail(f"{name}_table", key, f"{col} is {cell!r}, expected "
                          f"{_join(want)!r}")

    def check_operators_table(self, table: pd.DataFrame, kept: pd.Series, selected: pd.Series,
                              load: pd.Series) -> None:
        raw = self.ops
        for col in ("name", "kind", "municipality_id", "region_id"):
            self.compare_text("operators", table, col, raw[col])
        for col in ("annual_cost", "capacity"):
            self.compare_numbers("operators", table, col, raw[col])
        forced = pd.Series("", index=raw.index, dtype=object)
        forced[raw.index.isin(list(self.keep))] = "keep"
        forced[raw.index.isin(list(self.close))] = "close"
        self.compare_text("operators", table, "forced", forced)
        hosts = self.clusters.loc[selected.to_numpy(bool), "operator_id"]
        self.compare_lists("operators", table, "hosts",
                           {o: list(c.index) for o, c in hosts.groupby(hosts)})
        served = load.reindex(raw.index, fill_value=0.0)
        self.compare_numbers("operators", table, "firms_served", served)
        limited = table["capacity"] > 0
        self.compare_numbers("operators", table[limited], "utilisation",
                             table["firms_served"] / table["capacity"])
        paid = raw["closure_cost"].where(~kept, 0.0)
        self.compare_numbers("operators", table, "closure_cost_paid", paid)

    def check_clusters_table(self, table: pd.DataFrame, selected: pd.Series) -> None:
        raw = self.clusters
        for col in ("name", "label"):
            self.compare_text("clusters", table, col, raw[col])
        self.compare_text("clusters", table, "host_operator_id", raw["operator_id"])
        for col in ("budget", "knowledge_partners"):
            self.compare_numbers("clusters", table, col, raw[col])
        self.compare_lists("clusters", table, "strongholds", self.covers)
        wrong = table["admissible"] != raw["admissible"].reindex(table.index)
        for key in table.index[wrong.to_numpy()]:
            self.fail("clusters_table", key, f"admissible is {bool(table.at[key, 'admissible'])}"
                      f", expected {bool(raw.at[key, 'admissible'])}")
        upgraded = self.upgraded(selected)
        self.compare_text("clusters", table, "label_after",
                          raw["label"].where(~upgraded, "gold"))
        self.compare_numbers("clusters", table, "upgrade_cost_paid",
                             raw["gold_upgrade_cost"].fillna(0.0).where(upgraded, 0.0))

    def upgraded(self, selected: pd.Series) -> pd.Series:
        if not self.pol.require_gold:
            return pd.Series(False, index=self.clusters.index)
        return selected & (self.clusters["label"] != "gold")

    def check_assignments_table(self, rows: pd.DataFrame, selected: pd.Series) -> None:
        for col in ("municipality_id", "stronghold_id"):
            for row in rows[rows[col] != rows[f"{col}_raw"]].itertuples():
                self.fail("assignments_table", row.firm_id,
                          f"{col} is {getattr(row, col)!r}, expected "
                          f"{getattr(row, f'{col}_raw')!r}")
        for row in rows[self.differ_array(rows["weight"], rows["weight_raw"])].itertuples():
            self.fail("assignments_table", row.firm_id,
                      f"weight is {_num(row.weight)}, expected {_num(row.weight_raw)}")
        pair = rows[["firm_id", "operator_id"]]
        for f, o in sorted(set(map(tuple, pair[pair.duplicated()].to_numpy()))):
            self.fail("assignments_table", f"{f}/{o}", "more than one row for this firm and "
                      f"operator {o or '(unserved)'}")
        for row in rows[rows["moved"] != rows["disrupted"]].itertuples():
            self.fail("assignments_table", f"{row.firm_id}/{row.operator_id}",
                      f"moved is {row.moved}, expected {row.disrupted}")
        unserved = rows["operator_id"] == ""
        for row in rows[unserved & rows["minutes"].notna()].itertuples():
            self.fail("assignments_table", row.firm_id, "unserved share with travel minutes")
        for row in rows[unserved & (rows["cluster_id"] != "")].itertuples():
            self.fail("assignments_table", row.firm_id, "unserved share with a cluster")

        # The firm's cluster: a selected one covering its stronghold, hosted by its operator
        # when the operator hosts one.
        chosen: dict[str, list[tuple[str, str]]] = {}
        for c in self.clusters.index[selected.to_numpy(bool)]:
            for s in self.covers.get(c, ()):
                chosen.setdefault(s, []).append((c, self.clusters.at[c, "operator_id"]))
        for row in rows[rows["served"]].itertuples():
            options = chosen.get(row.stronghold_id_raw, [])
            own = [c for c, h in options if h == row.operator_id]
            allowed = own or [c for c, _ in options] or [""]
            if row.cluster_id not in allowed:
                self.fail("assignments_table", f"{row.firm_id}/{row.operator_id}",
                          f"cluster_id is {row.cluster_id!r}, expected one of "
                          f"{', '.join(repr(c) for c in allowed)}")

    # ------------------------------------------------------------------ clusters and service

    def check_clusters(self, kept: pd.Series, selected: pd.Series,
                       serves: Mapping[str, tuple[str, ...]]) -> None:
        per_stronghold = dict.fromkeys(self.ds.strongholds["stronghold_id"], 0)
        for c in self.clusters.index[selected.to_numpy(bool)]:
            info = self.clusters.loc[c]
            host = info["operator_id"]
            for s in self.covers.get(c, ()):
                per_stronghold[s] = per_stronghold.get(s, 0) + 1
                if s not in serves.get(host, ()):
                    self.fail("host_serves", f"{c}/{s}", f"host {host} of selected cluster {c} "
                              f"does not serve stronghold {s}")
            if not kept[host]:
                self.fail("host_retained", c, f"host {host} of selected cluster {c} is closed")
            if not info["admissible"]:
                self.fail("admissible", c, self.inadmissible_reason(c))
        for s, n in per_stronghold.items():
            need = self.required.get(s)
            if need is not None and n != need:
                self.fail("one_cluster_per_stronghold", s, f"{n} selected clusters cover "
                          f"stronghold {s}, required {need}", n - need)

    def inadmissible_reason(self, c: str) -> str:
        info = self.clusters.loc[c]
        reasons = []
        if info["budget"] < self.pol.min_cluster_budget:
            reasons.append(f"budget {_num(info['budget'])} < {_num(self.pol.min_cluster_budget)}")
        if info["knowledge_partners"] < self.pol.min_knowledge_partners:
            reasons.append(f"knowledge_partners {info['knowledge_partners']} < "
                           f"{self.pol.min_knowledge_partners}")
        if self.pol.require_gold and info["label"] != "gold" and \
                pd.isna(info["gold_upgrade_cost"]):
            reasons.append("cannot reach gold (no gold_upgrade_cost)")
        return f"selected cluster {c} is not admissible: {'; '.join(reasons)}"

    def check_service(self, kept: pd.Series, serves: Mapping[str, tuple[str, ...]],
                      rows: pd.DataFrame) -> None:
        known_strongholds = set(self.ds.strongholds["stronghold_id"])
        for o, strongholds in serves.items():
            if strongholds and not kept[o]:
                self.fail("serve_needs_operator", o, f"closed operator {o} serves "
                          f"{_join(strongholds)}")
            for s in strongholds:
                if s not in known_strongholds:
                    self.fail("serve_needs_operator", f"{o}/{s}", f"unknown stronghold {s}")
                elif (o, s) not in self.competence:
                    self.fail("serve_needs_operator", f"{o}/{s}",
                              f"operator {o} serves {s} without competence in it")
        for row in rows[rows["served"]].itertuples():
            o, s = row.operator_id, row.stronghold_id_raw
            where = f"{row.firm_id}/{o}"
            if not kept[o]:
                self.fail("assign_needs_service", where, f"firm {row.firm_id} is assigned to "
                          f"closed operator {o}", row.share)
            if (o, s) not in self.competence:
                self.fail("assign_needs_service", where, f"operator {o} is not competent in "
                          f"the firm's stronghold {s}", row.share)
            elif s not in serves.get(o, ()):
                self.fail("assign_needs_service", where, f"operator {o} does not list "
                          f"stronghold {s} in serves", row.share)

    # ------------------------------------------------------------------ assignment

    def check_assignment(self, rows: pd.DataFrame) -> None:
        share = rows["share"]
        bad = share.isna() | (share < -self.tol) | (share > 1 + self.tol)
        for row in rows[bad].itertuples():
            self.fail("assignment", f"{row.firm_id}/{row.operator_id}",
                      f"share {_num(row.share)} outside [0, 1]", row.share)
        present = set(rows["firm_id"])
        for f in self.firms.index:
            if f not in present:
                self.fail("firms_complete", f, f"firm {f} has no row in the assignments")
        total = share.fillna(0.0).groupby(rows["firm_id"]).sum()
        for f, t in total.items():
            if self.differ(float(t), 1.0):
                self.fail("assignment", f, f"shares of firm {f} sum to {_num(t)}, not 1", t - 1)

        if self.pol.coverage == "hard":
            for row in rows[(rows["operator_id"] == "") & (share > self.tol)].itertuples():
                self.fail("assignment.unserved", row.firm_id, f"firm {row.firm_id} has an "
                          f"unserved share {_num(row.share)} under hard coverage", row.share)

        if not self.pol.allow_split:
            fractional = (share > self.tol) & (share < 1 - self.tol)
            split = rows.groupby("firm_id").size() > 1
            for f in sorted(set(rows.loc[fractional, "firm_id"]) | set(split.index[split])):
                parts = rows[rows["firm_id"] == f]
                shown = ", ".join(f"{o or '(unserved)'}: {_num(x)}"
                                  for o, x in zip(parts["operator_id"], parts["share"],
                                                  strict=True))
                self.fail("assignment.binary", f, f"firm {f} is split ({shown}) although "
                          "allow_split is false")
            # The model assigns (municipality, stronghold) groups: without splitting, all
            # firms of a group share one operator.
            whole = rows[share > self.tol]
            # Group by the pair itself: joined text could collide when ids contain the joiner.
            for g, ops in whole.groupby(["municipality_id_raw", "stronghold_id_raw"])[
                    "operator_id"]:
                if ops.nunique() > 1:
                    self.fail("assignment.group", "/".join(g), "firms of one group go to "
                              "different "
                              f"operators: {_join(o or '(unserved)' for o in set(ops))}")

        limit = self.pol.max_travel_minutes
        served = rows[rows["served"]]
        if limit is not None:
            for row in served[served["minutes_raw"] > limit].itertuples():
                if self.exceeds(row.minutes_raw, limit):
                    self.fail("radius", f"{row.firm_id}/{row.operator_id}",
                              f"travel {_num(row.minutes_raw)} min exceeds "
                              f"max_travel_minutes {_num(limit)}", row.minutes_raw - limit)
        for row in served[self.differ_array(served["minutes"], served["minutes_raw"])] \
                .itertuples():
            self.fail("radius", f"{row.firm_id}/{row.operator_id}",
                      f"reported minutes {_num(row.minutes)} differ from the travel time "
                      f"{_num(row.minutes_raw)}", row.minutes - row.minutes_raw)

    # ------------------------------------------------------------------ operator loads

    def check_capacity(self, kept: pd.Series, serves: Mapping[str, tuple[str, ...]],
                       rows: pd.DataFrame, load: pd.Series) -> None:
        cap = self.ops["capacity"]
        for o, served in load.items():
            if pd.notna(cap[o]) and self.exceeds(served, cap[o]):
                self.fail("capacity", o, f"operator {o} serves {_num(served)} firms, capacity "
                          f"{_num(cap[o])}", served - cap[o])
        need_op = self.pol.min_firms_per_operator
        if need_op > 0:
            for o in self.ops.index[kept.to_numpy(bool)]:
                served = float(load.get(o, 0.0))
                if self.exceeds(need_op, served):
                    self.fail("min_firms_per_operator", o, f"kept operator {o} serves "
                              f"{_num(served)} firms, minimum {_num(need_op)}", need_op - served)
        need_node = self.pol.min_firms_per_node
        if need_node > 0:
            on = rows[rows["served"]]
            by_node = (on["weight_raw"] * on["share"]).groupby(
                [on["operator_id"], on["stronghold_id_raw"]]).sum()
            for o in self.ops.index[kept.to_numpy(bool)]:
                for s in serves.get(o, ()):
                    served = float(by_node.get((o, s), 0.0))
                    if self.exceeds(need_node, served):
                        self.fail("min_firms_per_node", f"{o}/{s}", f"operator {o} serves "
                                  f"{_num(served)} firms of {s}, minimum {_num(need_node)}",
                                  need_node - served)

    # ------------------------------------------------------------------ coverage

    def served_weight(self, rows: pd.DataFrame) -> pd.Series:
        """Served weight per firm (its share times its weight), 0 for firms without rows."""
        on = rows[rows["served"]]
        per_firm = (on["share"] * on["weight_raw"]).groupby(on["firm_id"]).sum()
        return per_firm.reindex(self.firms.index, fill_value=0.0)

    def check_coverage(self, rows: pd.DataFrame) -> None:
        pol = self.pol
        if pol.coverage != "soft":
            return
        served = self.served_weight(rows)
        weight = self.firms["weight"]
        if pol.coverage_target > 0:
            need = pol.coverage_target * float(weight.sum())
            got = float(served.sum())
            if self.exceeds(need, got):
                self.fail("coverage", "plan", f"served weight {_num(got)} below the target "
                          f"{_num(need)}", need - got)
        if pol.rural_parity:
            rural = self.firms["rural"].to_numpy(bool)
            q_r, q_u = float(weight[rural].sum()), float(weight[~rural].sum())
            if q_r > 0 and q_u > 0:
                r = float(served[rural].sum()) / q_r
                u = float(served[~rural].sum()) / q_u
                if self.exceeds(u - pol.rural_parity_tolerance, r):
                    self.fail("rural_parity", "plan", f"rural share {_num(r)} below urban share "
                              f"{_num(u)} - tolerance {_num(pol.rural_parity_tolerance)}",
                              u - pol.rural_parity_tolerance - r)

    # ------------------------------------------------------------------ operator set

    def check_operators(self, kept: pd.Series) -> None:
        pol = self.pol
        n = int(kept.sum())
        if n < pol.min_operators:
            self.fail("min_operators", "plan", f"{n} operators kept, minimum "
                      f"{pol.min_operators}", pol.min_operators - n)
        if pol.max_operators is not None and n > pol.max_operators:
            self.fail("max_operators", "plan", f"{n} operators kept, maximum "
                      f"{pol.max_operators}", n - pol.max_operators)
        k = pol.min_operators_per_region
        if k > 0:
            per_region = kept.groupby(self.ops["region_id"]).sum()
            for r in self.ds.regions["region_id"]:
                have = int(per_region.get(r, 0))
                if have < k:
                    self.fail("regional_presence", r, f"{have} operators kept in region {r}, "
                              f"minimum {k}", k - have)
        for o in sorted(self.keep):
            if not kept.get(o, False):
                self.fail("keep", o, f"operator {o} must be kept but is closed")
        for o in sorted(self.close):
            if kept.get(o, False):
                self.fail("close", o, f"operator {o} must be closed but is kept")
        if pol.annual_budget is not None:
            spent = float(self.ops.loc[kept.to_numpy(bool), "annual_cost"].sum())
            if self.exceeds(spent, pol.annual_budget):
                self.fail("annual_budget", "plan", f"annual cost {_num(spent)} exceeds the "
                          f"budget {_num(pol.annual_budget)}", spent - pol.annual_budget)

    # ------------------------------------------------------------------ costs and figures

    def objective_terms(self, kept: pd.Series, selected: pd.Series,
                        rows: pd.DataFrame) -> dict[str, float]:
        c = self.costs
        on = rows[rows["served"]]
        served_weight = on["weight_raw"] * on["share"]
        ops = self.ops
        keep_mask = kept.to_numpy(bool)
        unserved_penalty = 0.0
        if self.pol.coverage == "soft":
            # The unserved share is what the served rows leave of the firm (u = 1 - Σ x).
            unserved = (1.0 - self.served_weight(rows) / self.firms["weight"]).clip(lower=0.0)
            unserved_penalty = c.unserved_penalty_per_firm * float(
                (self.firms["penalty_weight"] * self.firms["weight"] * unserved).sum())
        return {
            "operating": c.horizon_years * float(ops.loc[keep_mask, "annual_cost"].sum()),
            "service": c.horizon_years * c.cost_per_firm_minute * float(
                (served_weight * on["minutes_raw"]).sum()),
            "closure": float(ops.loc[~keep_mask, "closure_cost"].sum()),
            "upgrade": float(self.clusters.loc[self.upgraded(selected).to_numpy(bool),
                                               "gold_upgrade_cost"].fillna(0.0).sum()),
            "disruption": c.disruption_cost_per_firm * float(
                served_weight[on["disrupted"]].sum()),
            "unserved_penalty": unserved_penalty,
        }

    def figures(self, kept: pd.Series, selected: pd.Series,
                rows: pd.DataFrame) -> dict[str, Any]:
        """The plan figures summary.json reports, recomputed (None where undefined)."""
        served = self.served_weight(rows)
        weight = self.firms["weight"]
        rural = self.firms["rural"].to_numpy(bool)

        def share(mask: np.ndarray) -> float | None:
            total = float(weight[mask].sum())
            return float(served[mask].sum()) / total if total else None

        on = rows[rows["served"]]
        w = on["weight_raw"] * on["share"]
        return {
            "coverage": {"all": share(np.ones(len(weight), dtype=bool)),
                         "rural": share(rural), "urban": share(~rural)},
            "travel_minutes": {
                "mean": float((w * on["minutes_raw"]).sum() / w.sum()) if w.sum() else None,
                "max": float(on["minutes_raw"].max()) if len(on) else None},
            "firms_moved": float(w[on["disrupted"]].sum()),
            "counts": {"operators_before": len(self.ops), "operators_after": int(kept.sum()),
                       "clusters_before": len(self.clusters),
                       "clusters_after": int(selected.sum())},
        }

    def check_summary(self, summary: Mapping[str, Any], figures: Mapping[str, Any],
                      prefix: str = "summary") -> None:
        """Every recomputed figure that summary.json also reports must agree with it."""
        for key, value in figures.items():
            if key not in summary:
                continue
            given = summary[key]
            name = f"{prefix}.{key}"
            if isinstance(value, Mapping):
                if isinstance(given, Mapping):
                    self.check_summary(given, value, name)
                else:
                    self.fail(name, key, f"expected a table of figures, got {given!r}")
            elif value is None or given is None:
                if value is not None or given is not None:
                    self.fail(name, key, f"reported {given!r}, recomputed {value!r}")
            elif self.differ(float(given), float(value)):
                self.fail(name, key, f"reported {_num(float(given))}, recomputed "
                          f"{_num(float(value))}", float(given) - float(value))


# --------------------------------------------------------------------------- public API


def check_plan(dataset: Dataset, scenario: Scenario, operators: pd.DataFrame,
               clusters: pd.DataFrame, assignments: pd.DataFrame,
               reported_terms: Mapping[str, float] | None = None, tol: float = 1e-6, *,
               reported_objective: float | None = None) -> CheckReport:
    """Check a plan (the three output tables) against the raw data and the scenario.

    ``tol`` is relative to ``max(|a|, |b|, 1)`` of the two sides compared. The reported
    objective defaults to the sum of ``reported_terms`` when those are given.
    """
    checker = _Checker(dataset, scenario, tol)
    return checker.run(operators, clusters, assignments, reported_terms, reported_objective)


def _check_reported(dataset: Dataset, scenario: Scenario, tables: Mapping[str, pd.DataFrame],
                    summary: Mapping[str, Any], tol: float) -> CheckReport:
    checker = _Checker(dataset, scenario, tol)
    objective = summary.get("objective")
    report = checker.run(tables["operators"], tables["clusters"], tables["assignments"],
                         summary.get("objective_terms", {}),
                         None if objective is None else float(objective))
    if report.figures:
        checker.check_summary(summary, report.figures)
    expected = summary.get("data_hash")
    actual = dataset.content_hash()
    if expected is not None and expected != actual:
        checker.fail("data_hash", str(summary.get("data", dataset.source)),
                     f"the result was solved on data with hash {expected}, this data set has "
                     f"{actual}")
    report.violations = list(checker.found)
    return report


def _dataset_of(summary: Mapping[str, Any]) -> Dataset:
    path = summary.get("data")
    if not path or path == "<memory>":
        raise ValueError("the result does not name a data set on disk; pass dataset=")
    return dataset_api.load(path)


def check_result(result: Result, dataset: Dataset | None = None,
                 tol: float = 1e-6) -> CheckReport:
    """Check a :class:`klynge_opt.results.Result` (its tables, scenario and summary).

    The data set is loaded from ``result.summary["data"]`` unless given.
    """
    if result.scenario is None:
        raise ValueError("the result carries no scenario to check against")
    if result.operators.empty:
        raise ValueError(f"the result has no plan to check (status {result.status})")
    ds = dataset if dataset is not None else _dataset_of(result.summary)
    tables = {"operators": result.operators, "clusters": result.clusters,
              "assignments": result.assignments}
    return _check_reported(ds, result.scenario, tables, result.summary, tol)


def read_plan(path: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """The decision tables of a result folder, every cell as text (ids keep leading zeros;
    blank stays blank; cells protected against spreadsheet formulas read back exactly)."""
    folder = Path(path)
    return {name: unprotect_frame(pd.read_csv(folder / file, dtype=str, keep_default_na=False))
            for name, file in TABLE_FILES.items()}


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


def _check_identity(checker: _Checker, summary: Mapping[str, Any], scenario: Scenario,
                    dataset: Dataset, has_plan: bool) -> None:
    """The result belongs to this scenario and data, and its status is one they allow."""
    data_hash = dataset.content_hash()
    expected = summary.get("data_hash")
    if expected != data_hash:
        checker.fail("data_hash", str(summary.get("data", dataset.source)),
                     f"the result was solved on data with hash {expected}, this data set has "
                     f"{data_hash}")
    wanted = input_hash(scenario, data_hash)
    if summary.get("input_hash") != wanted:
        checker.fail("input_hash", SCENARIO_FILE,
                     "the scenario and data do not hash to the result's input_hash: "
                     f"{SCENARIO_FILE} or the data were changed after solving (recorded "
                     f"{summary.get('input_hash')}, recomputed {wanted})")
    status = summary.get("status")
    if status == "evaluated" and scenario.mode != "status_quo":
        checker.fail("status", SUMMARY_FILE, "the status says 'evaluated' (status quo, no "
                     "constraints) but the scenario optimises: the plan must meet its policy")
    if status != "evaluated" and scenario.mode == "status_quo":
        checker.fail("status", SUMMARY_FILE, f"a status-quo scenario is evaluated, not "
                     f"'{status}'")
    allowed = WITH_PLAN if has_plan else WITHOUT_PLAN
    if status not in allowed:
        checker.fail("status", SUMMARY_FILE, f"status {status!r} is not possible for a result "
                     f"{'with' if has_plan else 'without'} a plan (expected one of "
                     f"{', '.join(sorted(allowed))})")
    gap = summary.get("mip_gap")
    within = scenario.solver.mip_gap <= PROVEN_GAP or (gap is not None
                                                       and float(gap) <= PROVEN_GAP)
    if (summary.get("proven_optimal") or status == "optimal") and not (
            status == "optimal" and within):
        checker.fail("status", SUMMARY_FILE, f"optimality is claimed (status {status!r}, gap "
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
    checker = _Checker(ds, scenario, tol)
    _check_identity(checker, summary, scenario, ds, has_plan)
    identity = list(checker.found)
    status = summary.get("status")
    if has_plan and status != "evaluated":
        report = _check_reported(ds, scenario, read_plan(folder), summary, tol)
        report.violations = identity + [v for v in report.violations
                                        if v.constraint != "data_hash"]
        return report
    objective = summary.get("objective")
    note = ("a status-quo evaluation imposes no constraints; only its inputs were verified"
            if status == "evaluated" else
            f"the result has no plan (status {status}); only its inputs were verified")
    return CheckReport(identity, dict(summary.get("objective_terms") or {}),
                       float("nan") if objective is None else float(objective), note=note)
