"""Where a batch's tasks run: in this process, in local worker processes, or on Dask.

Every executor takes the data set once (a process pool hands it to each worker when the
worker starts; Dask scatters it to every worker) and then only scenarios, and yields each
task's outcome as it finishes, in any order. Tasks are independent, so throughput is about
workers x the per-task rate, less each executor's overhead per task (docs/performance.md).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from ..data.dataset import Dataset
from ..problems import ExecutorError, InputError, Problem
from ..progress import Progress
from .outcome import FAILED, OUTCOME_COLUMNS, Task, run_task

Work = Sequence[tuple[str, Task]]

#: A pool that breaks this often (a worker killed or out of memory each time) gives up on the
#: tasks still open: they are stored as failed, to be retried with --retry-failed.
MAX_POOL_BREAKS = 3


class Executor(Protocol):
    name: str
    workers: int

    def run(self, dataset: Dataset, work: Work) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(key, outcome)`` for every task of ``work`` as it finishes."""
        ...

    def close(self) -> None:
        ...


def _failed(message: str) -> dict[str, Any]:
    row = {c: None for c in OUTCOME_COLUMNS}
    row.update(status=FAILED, message=message, error=message)
    return row


class Serial:
    """One task after another in this process: the reference the others are compared with.
    ``progress`` gets each solve's running gap (other executors solve elsewhere)."""

    name = "serial"
    workers = 1

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress

    def run(self, dataset: Dataset, work: Work) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, task in work:
            yield key, run_task(dataset, task, self.progress)

    def close(self) -> None:
        pass


# A pool worker keeps the batch's data set from its start: the data set crosses the process
# boundary once per worker, not once per task.
_WORKER_DATASET: list[Dataset] = []


def _start_worker(dataset: Dataset) -> None:
    _WORKER_DATASET[:] = [dataset]


def _pool_task(task: Task) -> dict[str, Any]:
    return run_task(_WORKER_DATASET[0], task)


class Processes:
    """Local worker processes (``spawn``: a fresh interpreter each, safe beside HiGHS's
    threads), one per core by default."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self, dataset: Dataset) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker, initargs=(dataset,))

    def run(self, dataset: Dataset, work: Work) -> Iterator[tuple[str, dict[str, Any]]]:
        pending = dict(work)
        breaks = 0
        while pending:
            self._pool = self._new_pool(dataset)
            futures = {self._pool.submit(_pool_task, t): key for key, t in pending.items()}
            try:
                for future in cf.as_completed(futures):
                    key = futures[future]
                    try:
                        outcome = future.result()
                    except cf.process.BrokenProcessPool:
                        raise
                    except Exception as exc:
                        outcome = _failed(f"{type(exc).__name__}: {exc}")
                    del pending[key]
                    yield key, outcome
            except cf.process.BrokenProcessPool:
                # A worker died (killed, out of memory): start a new pool for what is left.
                breaks += 1
                if breaks >= MAX_POOL_BREAKS:
                    for key in list(pending):
                        del pending[key]
                        yield key, _failed(f"a worker process died {breaks} times while this "
                                           "task was open (killed or out of memory)")
            finally:
                # Finished normally, or interrupted (Ctrl-C, SIGTERM, the caller stopped):
                # either way no worker outlives the run.
                self.close()

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # Running tasks are abandoned, not awaited: an interrupted batch resumes them later.
        # The pool's processes are private to it; terminating them is the only way to stop a
        # solve in progress.
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)


class Dask:
    """A Dask distributed cluster: an existing scheduler (``address``) or a LocalCluster of
    ``workers`` processes started for this batch."""

    name = "dask"

    def __init__(self, address: str | None = None, workers: int | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise InputError([Problem(
                "error", "Dask is not installed: pip install 'klynge-opt[dask]' (or "
                "'dask[distributed]')", source="command line", column="--scheduler")],
                what="command line") from None
        self._cluster = None
        self.address = address or "a LocalCluster"
        if address is None:
            self._cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                         threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(address, timeout="10s")
            except OSError as exc:
                raise ExecutorError(
                    f"cannot reach the Dask scheduler at {address} ({exc}); is `dask "
                    "scheduler` running there and the port open?") from None
        self.workers = len(self.client.scheduler_info()["workers"])

    def run(self, dataset: Dataset, work: Work) -> Iterator[tuple[str, dict[str, Any]]]:
        from distributed import as_completed

        shared = self.client.scatter(dataset, broadcast=True, hash=False)
        futures = {self.client.submit(run_task, shared, t, key=f"klynge-task-{key}",
                                      pure=False, retries=1): key for key, t in work}
        try:
            for future in as_completed(futures):
                key = futures[future]
                try:
                    outcome = future.result()
                except Exception as exc:
                    if self._lost(exc):
                        # Not the task's fault: leave it unstored, so a resumed batch runs it.
                        raise ExecutorError(
                            f"lost the connection to the Dask scheduler at {self.address}; "
                            "the tasks finished so far are stored: start the batch again "
                            "(with a running scheduler) to do the rest") from None
                    outcome = _failed(f"{type(exc).__name__}: {exc}")
                yield key, outcome
        finally:
            if self.client.status == "running":
                self.client.cancel(list(futures))

    def _lost(self, exc: Exception) -> bool:
        from distributed.client import FutureCancelledError

        return (isinstance(exc, FutureCancelledError)
                and exc.reason == "scheduler-connection-lost") \
            or self.client.status not in ("running", "connecting", "newly-created")

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def executor(*, workers: int | None = None, serial: bool = False,
             dask_local: int | None = None, scheduler: str | None = None) -> Executor:
    """The executor a command line asks for (processes by default)."""
    if scheduler is not None:
        return Dask(address=scheduler)
    if dask_local is not None:
        return Dask(workers=dask_local)
    if serial or workers == 1:
        return Serial()
    return Processes(workers)
