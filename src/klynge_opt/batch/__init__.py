"""Batch solves: tasks keyed by input hash, executors (serial, local processes, Dask), a
resumable SQLite store (docs/batch.md)."""

from .engine import BatchRun, run_batch
from .executors import Dask, Processes, Serial, executor
from .outcome import OUTCOME_COLUMNS, Task, outcome_of, run_task
from .store import STORE_FILE, Store

__all__ = ["OUTCOME_COLUMNS", "STORE_FILE", "BatchRun", "Dask", "Processes", "Serial", "Store",
           "Task", "executor", "outcome_of", "run_batch", "run_task"]
