"""The price of each policy: re-solve with one policy relaxed and report what it costs.

The price of a policy is the scenario's optimal cost minus the optimal cost with that one
policy relaxed (everything else unchanged). A relaxation only removes constraints, so the price
is never negative up to the solver's gap; it is reported as computed, with the gap beside it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..api import solve
from ..data import dataset as dataset_api
from ..data.dataset import Dataset
from ..data.scenario import Scenario, load_scenario
from ..model import families
from ..model.families import Relaxation
from ..progress import Progress, steps
from ..results.outputs import LIST_SEPARATOR
from ..results.result import Result


def active_relaxations(sc: Scenario, ds: Dataset) -> list[tuple[Relaxation, dict[str, Any]]]:
    """The registry's relaxations that change something in ``sc`` on ``ds``."""
    return families.active_relaxations(sc.policy, tuple(ds.strongholds["stronghold_id"]))


#: Every relaxation, in the order of the price table (``klynge_opt.model.families``).
RELAXATIONS: tuple[Relaxation, ...] = families.relaxations()


@dataclass(frozen=True)
class PriceStudy:
    #: One row per active policy (``docs/outputs.md``, price.csv).
    table: pd.DataFrame
    #: The scenario solved with every policy in place.
    base: Result


def price(scenario: Scenario | str | os.PathLike[str], *, dataset: Dataset | None = None,
          progress: Progress | None = None) -> PriceStudy:
    """Price every active policy of ``scenario``: re-solve with that one policy relaxed.

    ``progress`` receives a :class:`~klynge_opt.progress.Step` per solve (the scenario itself
    first, then one per policy) and the running gap of each."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ds = dataset if dataset is not None else dataset_api.load(sc.data)
    active = active_relaxations(sc, ds)
    announce = steps(progress, "price", [sc.name] + [f"without {r.policy}" for r, _ in active])
    announce(0)
    base = solve(ds, sc, progress=progress)
    rows = []
    for i, (relax, updates) in enumerate(active, start=1):
        announce(i)
        relaxed = solve(ds, sc.with_updates(updates), progress=progress)
        row: dict[str, Any] = {"scenario": sc.name, "input_hash": base.facts.input_hash,
                               "policy": relax.policy, "relaxed_to": relax.relaxed_to,
                               "status": relaxed.status}
        if base.objective is not None and relaxed.objective is not None:
            row["price"] = base.objective - relaxed.objective
            row["price_share"] = row["price"] / base.objective if base.objective else None
        else:
            row["price"] = None
            row["price_share"] = None
        row["cost_with"] = base.objective
        row["cost_without"] = relaxed.objective
        row["gap_with"] = base.facts.mip_gap
        row["gap_without"] = relaxed.facts.mip_gap
        row["operators_with"] = len(base.kept_operators) if base.has_solution else None
        row["operators_without"] = len(relaxed.kept_operators) if relaxed.has_solution else None
        row["reopened_without"] = LIST_SEPARATOR.join(sorted(relaxed.kept_operators
                                                             - base.kept_operators))
        row["closed_without"] = LIST_SEPARATOR.join(sorted(base.kept_operators
                                                           - relaxed.kept_operators))
        verdict = relaxed.facts.check
        row["check_ok"] = bool(verdict is not None and verdict.ok)
        rows.append(row)
    announce(len(active) + 1)
    # The scenario and its input hash first: a report matches the table to its result.
    columns = ["scenario", "input_hash", "policy", "relaxed_to", "status", "price",
               "price_share", "cost_with", "cost_without", "gap_with", "gap_without",
               "operators_with", "operators_without", "reopened_without", "closed_without",
               "check_ok"]
    return PriceStudy(pd.DataFrame(rows, columns=columns), base)
