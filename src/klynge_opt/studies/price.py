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
from ..batch.engine import run_batch
from ..batch.executors import Executor, Serial
from ..batch.outcome import Task
from ..batch.store import Store
from ..data import dataset as dataset_api
from ..data.dataset import Dataset
from ..data.scenario import Scenario, load_scenario
from ..model import families
from ..model.families import Relaxation
from ..progress import Event, Progress, Step, gaps_only
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
          progress: Progress | None = None, executor: Executor | None = None) -> PriceStudy:
    """Price every active policy of ``scenario``: re-solve with that one policy relaxed.

    The scenario itself is solved here; the relaxations in this process, or on ``executor``
    (local processes, Dask: :mod:`klynge_opt.batch`). ``progress`` receives a
    :class:`~klynge_opt.progress.Step` per solve (the scenario first) and, in this process,
    the running gap of each."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ds = dataset if dataset is not None else dataset_api.load(sc.data)
    active = active_relaxations(sc, ds)
    total = len(active) + 1
    if progress is not None:
        progress(Step("price", "", 0, total))
    base = solve(ds, sc, progress=progress)
    if progress is not None:
        progress(Step("price", sc.name, 1, total))
    tasks = [Task(sc.with_updates(updates), {"policy": relax.policy},
                  title=f"without {relax.policy}") for relax, updates in active]

    def shifted(event: Event) -> None:
        # The engine counts the relaxations; the scenario itself was step one.
        if progress is not None and isinstance(event, Step) and event.done > 0:
            progress(Step("price", event.label, event.done + 1, total))

    runner = executor if executor is not None else Serial(gaps_only(progress))
    try:
        with Store(":memory:", batch="price", data=ds.content_hash()) as store:
            run_batch(tasks, ds, store, runner, progress=shifted, study="price")
            outcomes = store.frame().set_index("key")
    finally:
        runner.close()
    kept = base.kept_operators if base.has_solution else frozenset()
    rows = []
    for (relax, _), task in zip(active, tasks, strict=True):
        relaxed = outcomes.loc[task.key(ds)]
        cost = None if pd.isna(relaxed["objective"]) else float(relaxed["objective"])
        planned = cost is not None
        without = frozenset(relaxed["kept"]) if planned else frozenset()
        row: dict[str, Any] = {"scenario": sc.name, "input_hash": base.facts.input_hash,
                               "policy": relax.policy, "relaxed_to": relax.relaxed_to,
                               "status": relaxed["status"]}
        both = base.objective is not None and planned
        row["price"] = base.objective - cost if both else None
        row["price_share"] = row["price"] / base.objective if both and base.objective \
            else None
        row["cost_with"] = base.objective
        row["cost_without"] = cost
        row["gap_with"] = base.facts.mip_gap
        row["gap_without"] = None if pd.isna(relaxed["mip_gap"]) else float(relaxed["mip_gap"])
        row["operators_with"] = len(kept) if base.has_solution else None
        row["operators_without"] = len(without) if planned else None
        # Without a plan on either side nothing reopens or closes.
        row["reopened_without"] = LIST_SEPARATOR.join(sorted(without - kept)) if both else ""
        row["closed_without"] = LIST_SEPARATOR.join(sorted(kept - without)) if both else ""
        row["check_ok"] = bool(relaxed["check_ok"]) if pd.notna(relaxed["check_ok"]) \
            else False
        rows.append(row)
    # The scenario and its input hash first: a report matches the table to its result.
    columns = ["scenario", "input_hash", "policy", "relaxed_to", "status", "price",
               "price_share", "cost_with", "cost_without", "gap_with", "gap_without",
               "operators_with", "operators_without", "reopened_without", "closed_without",
               "check_ok"]
    return PriceStudy(pd.DataFrame(rows, columns=columns), base)
