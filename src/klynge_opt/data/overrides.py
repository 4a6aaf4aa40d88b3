"""What a scenario changes in, or asks of, a data set: checked against the data, then applied.

Data overrides (scaled costs, changed capacities, hypothetical operators) produce a new,
re-validated :class:`Dataset`; the data files are never touched. Policy keys that name ids or
kinds are resolved here into plain sets, so the model and the checker read the same meaning.
"""

from __future__ import annotations

import dataclasses
import difflib

import numpy as np
import pandas as pd

from ..problems import InputError, Problem
from .dataset import Dataset, from_tables
from .scenario import NewCluster, Policy, Scenario


def validate_against(dataset: Dataset, scenario: Scenario, source: str,
                     earlier: list[Problem] | None = None) -> None:
    """Every id and kind a scenario names must exist in the data set (all problems at once).

    ``earlier`` problems (say, the scenario's own bad keys) are reported in the same round.
    """
    operators = set(dataset.operators["operator_id"])
    kinds = set(dataset.operators["kind"].dropna())
    strongholds = set(dataset.strongholds["stronghold_id"])
    municipalities = set(dataset.municipalities["municipality_id"])
    ov = scenario.overrides
    added = [n.operator_id for n in ov.add_operators]
    known_ops = operators | set(added)
    problems: list[Problem] = list(earlier or [])
    existing = set(dataset.clusters["cluster_id"])
    clusters = existing | {n.cluster_id for n in ov.add_clusters}
    choices = {"operator id": known_ops, "stronghold id": strongholds,
               "municipality id": municipalities, "operator kind": kinds,
               "cluster id": clusters}

    def bad(key: str, value: str, what: str) -> None:
        pool = next((ids for name, ids in choices.items() if what.startswith(name)), set())
        close = difflib.get_close_matches(value, sorted(pool), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(Problem("error", f"unknown {what}; not in {dataset.name}{hint}",
                                source=source, column=key, value=value))

    pol = scenario.policy
    for key in ("keep", "close"):
        for op in getattr(pol, key):
            if op not in known_ops:
                bad(f"policy.{key}", op, "operator id")
    for key in ("keep_kinds", "close_kinds"):
        for kind in getattr(pol, key):
            if kind not in kinds | {n.kind for n in ov.add_operators}:
                bad(f"policy.{key}", kind, f"operator kind (known: {', '.join(sorted(kinds))})")
    for key in ("keep_clusters", "close_clusters"):
        for c in getattr(pol, key):
            if c not in clusters:
                bad(f"policy.{key}", c, "cluster id")
    for s in pol.stronghold_clusters:
        if s not in strongholds:
            bad("policy.stronghold_clusters", s, "stronghold id")
    for s in pol.exempt_strongholds:
        if s not in strongholds:
            bad("policy.exempt_strongholds", s, "stronghold id")
    for i, firms in enumerate(ov.firms):
        if firms.stronghold_id is not None and firms.stronghold_id not in strongholds:
            bad(f"overrides.firms[{i}].stronghold_id", firms.stronghold_id, "stronghold id")
        if firms.municipality_id is not None and firms.municipality_id not in municipalities:
            bad(f"overrides.firms[{i}].municipality_id", firms.municipality_id,
                "municipality id")
    for i, change in enumerate(ov.operators):
        if change.operator_id is not None and change.operator_id not in known_ops:
            bad(f"overrides.operators[{i}].operator_id", change.operator_id, "operator id")
        if change.kind is not None and change.kind not in kinds:
            bad(f"overrides.operators[{i}].kind", change.kind, "operator kind")
    def taken(column: str, value: str, existing_ids: object, new_ids: list[str],
              what: str) -> None:
        # An added id may clash with the data or with another addition.
        if value in existing_ids or new_ids.count(value) > 1:  # type: ignore[operator]
            problems.append(Problem("error", f"{what} id already exists", source=source,
                                    column=column, value=value))

    for i, new in enumerate(ov.add_operators):
        key = f"overrides.add_operators[{i}]"
        taken(f"{key}.operator_id", new.operator_id, operators, added, "operator")
        if new.municipality_id not in municipalities:
            bad(f"{key}.municipality_id", new.municipality_id, "municipality id")
        for s in new.strongholds:
            if s not in strongholds:
                bad(f"{key}.strongholds", s, "stronghold id")
    clusters_added = [n.cluster_id for n in ov.add_clusters]
    for i, new in enumerate(ov.add_clusters):
        key = f"overrides.add_clusters[{i}]"
        taken(f"{key}.cluster_id", new.cluster_id, existing, clusters_added, "cluster")
        if new.operator_id not in known_ops:
            bad(f"{key}.operator_id", new.operator_id, "operator id")
        for field_name in ("strongholds", "secondary"):
            for s in getattr(new, field_name):
                if s not in strongholds:
                    bad(f"{key}.{field_name}", s, "stronghold id")
    if problems:
        raise InputError(problems, what=f"scenario {source}")


def apply_overrides(dataset: Dataset, scenario: Scenario) -> Dataset:
    """The data set as the scenario sees it (the same object when nothing is overridden)."""
    ov = scenario.overrides
    if ov.empty:
        return dataset
    tables = dict(dataset.tables)
    ops = tables["operators"].copy()
    for change in ov.operators:
        if change.operator_id is not None:
            rows = ops["operator_id"] == change.operator_id
        elif change.kind is not None:
            rows = ops["kind"] == change.kind
        else:
            rows = pd.Series(True, index=ops.index)
        ops.loc[rows, "annual_cost"] *= change.annual_cost_factor
        ops.loc[rows, "cost_per_firm"] *= change.annual_cost_factor
        ops.loc[rows, "closure_cost"] *= change.closure_cost_factor
        ops.loc[rows, "capacity"] *= change.capacity_factor
        if change.capacity is not None:
            ops.loc[rows, "capacity"] = change.capacity
    if ov.add_operators:
        new = pd.DataFrame([{
            "operator_id": n.operator_id, "name": n.name, "municipality_id": n.municipality_id,
            "kind": n.kind, "annual_cost": n.annual_cost, "cost_per_firm": n.cost_per_firm,
            "capacity": np.nan if n.capacity is None else n.capacity,
            "closure_cost": n.closure_cost} for n in ov.add_operators])
        ops = pd.concat([ops, new], ignore_index=True)
        comp = pd.DataFrame([(n.operator_id, s) for n in ov.add_operators for s in n.strongholds],
                            columns=["operator_id", "stronghold_id"])
        tables["operator_strongholds"] = pd.concat([tables["operator_strongholds"], comp],
                                                   ignore_index=True)
    tables["operators"] = ops
    if ov.firms:
        firms = tables["firms"].copy()
        for change in ov.firms:
            rows = pd.Series(True, index=firms.index)
            if change.stronghold_id is not None:
                rows &= firms["stronghold_id"] == change.stronghold_id
            if change.municipality_id is not None:
                rows &= firms["municipality_id"] == change.municipality_id
            firms.loc[rows, "weight"] *= change.weight_factor
        tables["firms"] = firms
    if ov.add_clusters:
        _add_clusters(tables, ov.add_clusters)
    return dataclasses.replace(from_tables(tables, source=dataset.source),
                               boundaries=dataset.boundaries)


def _add_clusters(tables: dict[str, pd.DataFrame], new: tuple[NewCluster, ...]) -> None:
    """Hypothetical clusters as rows of clusters and cluster_strongholds (validated again by
    ``from_tables``: a host not competent in a stronghold is reported there)."""
    rows = pd.DataFrame([{
        "cluster_id": n.cluster_id, "name": n.name, "operator_id": n.operator_id,
        "budget": n.budget, "label": n.label,
        "gold_upgrade_cost": np.nan if n.gold_upgrade_cost is None else n.gold_upgrade_cost,
        "knowledge_partners": n.knowledge_partners, "annual_cost": n.annual_cost,
        "capacity": np.nan if n.capacity is None else n.capacity,
        "merge_cost": n.merge_cost} for n in new])
    tables["clusters"] = pd.concat([tables["clusters"], rows], ignore_index=True)
    covers = pd.DataFrame(
        [(n.cluster_id, s, "primary") for n in new for s in n.strongholds]
        + [(n.cluster_id, s, "secondary") for n in new for s in n.secondary],
        columns=["cluster_id", "stronghold_id", "role"])
    tables["cluster_strongholds"] = pd.concat([tables["cluster_strongholds"], covers],
                                              ignore_index=True)


def forced_operators(dataset: Dataset, policy: Policy) -> tuple[set[str], set[str]]:
    """Operators the policy keeps and closes, by id and by kind."""
    ops = dataset.operators
    keep = set(policy.keep) | set(ops.loc[ops["kind"].isin(policy.keep_kinds), "operator_id"])
    close = set(policy.close) | set(ops.loc[ops["kind"].isin(policy.close_kinds),
                                             "operator_id"])
    return keep, close


def required_clusters(dataset: Dataset, policy: Policy) -> dict[str, int]:
    """Clusters required per stronghold; exempt strongholds are absent (no requirement)."""
    return {s: policy.stronghold_clusters.get(s, policy.clusters_per_stronghold)
            for s in dataset.strongholds["stronghold_id"] if s not in policy.exempt_strongholds}
