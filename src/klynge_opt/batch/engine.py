"""Run a batch: every task not yet in the store, on an executor, each outcome stored as it
finishes.

Resuming is the default: a task whose key is stored as finished is not run again, so a batch
killed at any point and started again does only what is left, loses nothing finished and
duplicates nothing (the key is the store's primary key). A task that failed (raised) is
retried only with ``retry_failed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..data.dataset import Dataset
from ..progress import Progress, Step
from .executors import Executor
from .outcome import FAILED, Task
from .store import Store


@dataclass(frozen=True)
class BatchRun:
    #: Distinct tasks in the batch (a task listed twice counts once).
    total: int
    #: Found finished in the store and not run again.
    reused: int
    #: Run now, and of those, failed.
    ran: int
    failed: int
    seconds: float
    executor: str
    workers: int


def keyed(tasks: Sequence[Task], dataset: Dataset) -> dict[str, Task]:
    """The batch's tasks by key, in order, each key once."""
    out: dict[str, Task] = {}
    for task in tasks:
        out.setdefault(task.key(dataset), task)
    return out


def run_batch(tasks: Sequence[Task], dataset: Dataset, store: Store, executor: Executor, *,
              retry_failed: bool = False, progress: Progress | None = None,
              study: str = "batch",
              received: Callable[[str, Task, dict[str, Any]], None] | None = None) -> BatchRun:
    """Run what the store does not hold yet; return what was done. ``progress`` gets a
    :class:`~klynge_opt.progress.Step` (named ``study``) at the start and after each finished
    task, labelled with the task just finished and counting the failures so far;
    ``received(key, task, outcome)`` sees each outcome once it is stored."""
    start = time.perf_counter()
    by_key = keyed(tasks, dataset)
    skip = store.done(retry_failed=retry_failed)
    todo = [(k, t) for k, t in by_key.items() if k not in skip]
    reused = len(by_key) - len(todo)
    done, failed = reused, 0
    if progress is not None:
        progress(Step(study, "", done, len(by_key), failed))
    for key, outcome in executor.run(dataset, todo):
        task = by_key[key]
        store.put(key, {"kind": task.kind, "scenario": task.scenario.name,
                        "sample": task.sample, "params": dict(task.params)}, outcome)
        done += 1
        failed += outcome.get("status") == FAILED
        if received is not None:
            received(key, task, outcome)
        if progress is not None:
            progress(Step(study, task.label, done, len(by_key), failed))
    return BatchRun(len(by_key), reused, len(todo), failed, time.perf_counter() - start,
                    executor.name, executor.workers)
