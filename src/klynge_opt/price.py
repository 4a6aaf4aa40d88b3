"""The price of each policy: re-solve with one policy relaxed and report what it costs.

The price of a policy is the scenario's optimal cost minus the optimal cost with that one
policy relaxed (everything else unchanged). A relaxation only removes constraints, so the price
is never negative up to the solver's gap; it is reported as computed, with the gap beside it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import dataset as dataset_api
from .api import solve
from .dataset import Dataset
from .results import Result
from .scenario import Policy, Scenario, load_scenario


@dataclass(frozen=True)
class Relaxation:
    policy: str
    #: What the relaxation does, in words a consultant can quote.
    relaxed_to: str
    active: Callable[[Scenario], bool]
    updates: Callable[[Scenario], dict[str, Any]]


def _all_strongholds_exempt(ds: Dataset) -> dict[str, Any]:
    return {"policy": {"exempt_strongholds": list(ds.strongholds["stronghold_id"])}}


RELAXATIONS: tuple[Relaxation, ...] = (
    Relaxation("one cluster per stronghold",
               "no cluster requirement for any stronghold (all exempt)",
               lambda sc: True, lambda sc: {}),  # updates need the data: filled in by price()
    Relaxation("cluster critical mass", "min_cluster_budget = 0 and min_knowledge_partners = 0",
               lambda sc: sc.policy.min_cluster_budget > 0 or sc.policy.min_knowledge_partners > 0,
               lambda sc: {"policy": {"min_cluster_budget": 0, "min_knowledge_partners": 0}}),
    Relaxation("operator critical mass", "min_firms_per_operator = 0 and min_firms_per_node = 0",
               lambda sc: sc.policy.min_firms_per_operator > 0 or sc.policy.min_firms_per_node > 0,
               lambda sc: {"policy": {"min_firms_per_operator": 0, "min_firms_per_node": 0}}),
    Relaxation("max operators", "no national cap on operators (max_operators removed)",
               lambda sc: sc.policy.max_operators is not None,
               lambda sc: {"policy": {"max_operators": None}}),
    Relaxation("min operators", "min_operators = 0",
               lambda sc: sc.policy.min_operators > 0,
               lambda sc: {"policy": {"min_operators": 0}}),
    Relaxation("gold-labelled clusters", "require_gold = false (no upgrades, any label)",
               lambda sc: sc.policy.require_gold,
               lambda sc: {"policy": {"require_gold": False}}),
    Relaxation("coverage target", "coverage_target = 0 (unserved firms still penalised)",
               lambda sc: sc.policy.coverage == "soft" and sc.policy.coverage_target > 0,
               lambda sc: {"policy": {"coverage_target": 0.0}}),
    Relaxation("rural parity", "rural_parity = false",
               lambda sc: sc.policy.coverage == "soft" and sc.policy.rural_parity,
               lambda sc: {"policy": {"rural_parity": False}}),
    Relaxation("regional presence", "min_operators_per_region = 0",
               lambda sc: sc.policy.min_operators_per_region > 0,
               lambda sc: {"policy": {"min_operators_per_region": 0}}),
    Relaxation("travel-time radius", "no maximum travel time (max_travel_minutes removed)",
               lambda sc: sc.policy.max_travel_minutes is not None,
               lambda sc: {"policy": {"max_travel_minutes": None}}),
    Relaxation("forced keep/close", "keep, close, keep_kinds and close_kinds emptied",
               lambda sc: bool(sc.policy.keep or sc.policy.close or sc.policy.keep_kinds
                               or sc.policy.close_kinds),
               lambda sc: {"policy": {"keep": [], "close": [], "keep_kinds": [],
                                      "close_kinds": []}}),
    Relaxation("annual budget", "no cap on annual operating cost (annual_budget removed)",
               lambda sc: sc.policy.annual_budget is not None,
               lambda sc: {"policy": {"annual_budget": None}}),
)


def _cluster_rule_active(sc: Scenario, ds: Dataset) -> bool:
    pol: Policy = sc.policy
    return any(pol.stronghold_clusters.get(s, pol.clusters_per_stronghold) > 0
               for s in ds.strongholds["stronghold_id"] if s not in pol.exempt_strongholds)


def active_relaxations(sc: Scenario, ds: Dataset) -> list[tuple[Relaxation, dict[str, Any]]]:
    out = []
    for relax in RELAXATIONS:
        if relax.policy == "one cluster per stronghold":
            if _cluster_rule_active(sc, ds):
                out.append((relax, _all_strongholds_exempt(ds)))
        elif relax.active(sc):
            out.append((relax, relax.updates(sc)))
    return out


def _kept(result: Result) -> set[str]:
    ops = result.operators
    return set(ops.loc[ops["kept"].astype(bool), "operator_id"]) if result.has_solution else set()


def price(scenario: Scenario | str | os.PathLike[str], dataset: Dataset | None = None, *,
          progress: Callable[[str], None] | None = None) -> tuple[pd.DataFrame, Result]:
    """Price every active policy of ``scenario``; returns the table and the base result."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ds = dataset if dataset is not None else dataset_api.load(sc.data)
    base = solve(ds, sc)
    rows = []
    for relax, updates in active_relaxations(sc, ds):
        if progress is not None:
            progress(relax.policy)
        relaxed = solve(ds, sc.with_updates(updates))
        row: dict[str, Any] = {"policy": relax.policy, "relaxed_to": relax.relaxed_to,
                               "status": relaxed.status}
        if base.objective is not None and relaxed.objective is not None:
            row["price"] = base.objective - relaxed.objective
            row["price_share"] = row["price"] / base.objective if base.objective else None
        else:
            row["price"] = None
            row["price_share"] = None
        row["cost_with"] = base.objective
        row["cost_without"] = relaxed.objective
        row["gap_with"] = base.summary.get("mip_gap")
        row["gap_without"] = relaxed.summary.get("mip_gap")
        row["operators_with"] = len(_kept(base)) if base.has_solution else None
        row["operators_without"] = len(_kept(relaxed)) if relaxed.has_solution else None
        row["reopened_without"] = ";".join(sorted(_kept(relaxed) - _kept(base)))
        row["closed_without"] = ";".join(sorted(_kept(base) - _kept(relaxed)))
        row["check_ok"] = bool(relaxed.summary.get("check", {}).get("ok", False))
        rows.append(row)
    columns = ["policy", "relaxed_to", "status", "price", "price_share", "cost_with",
               "cost_without", "gap_with", "gap_without", "operators_with", "operators_without",
               "reopened_without", "closed_without", "check_ok"]
    return pd.DataFrame(rows, columns=columns), base
