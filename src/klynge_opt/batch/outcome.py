"""One solve task and what it leaves behind: the row a batch stores (declared once).

A task is a fully resolved scenario; its key is the scenario's input hash on the batch's data
set, so the same scenario on the same data is one task however often it is listed. A worker
runs :func:`run_task` and returns plain values (picklable, JSON-able): the store, the CLI and
the robustness study read those, never a Pyomo model.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..api import input_hash, solve
from ..data.dataset import Dataset
from ..data.scenario import Scenario
from ..problems import InputError
from ..progress import Progress, gaps_only
from ..results.outputs import COST_TERMS
from ..results.result import Result


@dataclass(frozen=True)
class Task:
    """A scenario to solve, with the changes that made it (for people and the store)."""

    scenario: Scenario
    #: What this task varies, as flat ``path: value`` pairs (a grid point, a seed, a sample).
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Groups tasks in the store (``solve``, ``sample``, ``nominal`` ...).
    kind: str = "solve"
    #: Which sample of a robustness study (None elsewhere).
    sample: int | None = None
    #: An infeasible task's message is the diagnosis' first finding (a few more solves).
    diagnose: bool = False
    #: How progress names the task (default: the scenario and its params).
    title: str = ""
    #: Also hand back the whole result (outcome key ``result``, never stored): a study that
    #: writes result folders (``compare``) runs through the engine too.
    keep_result: bool = False

    def key(self, dataset: Dataset) -> str:
        return input_hash(self.scenario, dataset)

    @property
    def label(self) -> str:
        if self.title:
            return self.title
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.scenario.name}" + (f" ({shown})" if shown else "")


#: Statuses after which a task is done: a batch started again does not repeat it.
DONE = frozenset({"optimal", "feasible", "time_limit", "infeasible", "evaluated",
                  "check_failed", "error"})
#: A task that raised (a bug, a dead worker, out of memory): retried only when asked.
FAILED = "failed"

#: Columns of a task's outcome, in the order of the store and of exports (docs/batch.md).
OUTCOME_COLUMNS: tuple[str, ...] = (
    "status", "objective", "mip_gap", *(f"cost_{t}" for t in COST_TERMS),
    "operators_after", "clusters_after", "coverage_all", "coverage_rural", "coverage_urban",
    "coverage_local", "coverage_guidance", "coverage_cluster", "travel_mean", "firms_moved",
    "jobs", "cost_per_job", "savings", "savings_in_scope_share", "check_ok", "kept",
    "selected", "message", "seconds", "worker", "error")


def outcome_of(result: Result) -> dict[str, Any]:
    """The outcome row of a solved (or infeasible) result."""
    s = result.facts
    row: dict[str, Any] = {c: None for c in OUTCOME_COLUMNS}
    row["status"] = result.status
    row["message"] = result.message or ""
    if not result.has_solution:
        return row
    terms = result.objective_terms
    counts, cover, travel = s.counts, s.coverage, s.travel_minutes
    layers = s.coverage_by_service
    row.update({
        "objective": s.objective, "mip_gap": s.mip_gap,
        **{f"cost_{t}": terms.get(t) for t in COST_TERMS},
        "operators_after": None if counts is None else counts.operators_after,
        "clusters_after": None if counts is None else counts.clusters_after,
        "coverage_all": None if cover is None else cover.all,
        "coverage_rural": None if cover is None else cover.rural,
        "coverage_urban": None if cover is None else cover.urban,
        "travel_mean": None if travel is None else travel.mean,
        "firms_moved": s.firms_moved,
        "jobs": None if s.effect is None else s.effect.jobs,
        "cost_per_job": None if s.effect is None else s.effect.cost_per_job,
        "savings": None if s.savings is None else s.savings.total,
        "savings_in_scope_share": None if s.savings is None else s.savings.in_scope_share,
        "check_ok": None if s.check is None else bool(s.check.ok),
        "kept": sorted(result.kept_operators),
        "selected": sorted(result.clusters.loc[result.clusters["selected"].astype(bool),
                                               "cluster_id"].astype(str))
        if not result.clusters.empty else [],
    })
    if layers is not None:
        for name in ("local", "guidance", "cluster"):
            part = getattr(layers, name)
            row[f"coverage_{name}"] = None if part is None else part.all
    return row


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_task(dataset: Dataset, task: Task, progress: Progress | None = None) -> dict[str, Any]:
    """Solve one task where it runs (this process, a pool worker or a Dask worker);
    ``progress`` (in this process only) gets the running gap.

    A task that raises is an outcome too (status ``failed`` with the error), so that one bad
    task never stops a batch; an interrupt is not caught."""
    start = time.perf_counter()
    try:
        result = solve(dataset, task.scenario, diagnose=task.diagnose,
                       progress=gaps_only(progress))
        row = outcome_of(result)
        findings = getattr(result.diagnosis, "findings", None)
        if findings:
            # Why there is no plan, in one line (as sweep.csv's reason).
            row["message"] = " ".join(str(findings[0].message).split())
        if task.keep_result:
            row["result"] = result
    except Exception as exc:
        row = {c: None for c in OUTCOME_COLUMNS}
        # Bad input names its problems (the key, the unknown id), not only how many.
        text = exc.report() if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"
        row.update(status=FAILED, message=" ".join(text.split()),
                   error="".join(traceback.format_exception(exc))[-4000:])
    row["seconds"] = time.perf_counter() - start
    row["worker"] = worker_name()
    return row
