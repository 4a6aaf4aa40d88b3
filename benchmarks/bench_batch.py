"""Batch execution: the 32 Danish reform variants serially, on local processes and on a Dask
LocalCluster, and the per-task overhead of each executor.

    python3 benchmarks/bench_batch.py [--workers N] [--skip-danish]

Each executor runs the same batch (benchmarks/reform-variants.toml) into a fresh store, in one
run so the ratios compare like with like. The overhead is measured on 32 tiny tasks (the
hand-made landscape of the tests, a few milliseconds of HiGHS each): wall time per task
beyond the serial run's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, log, section, table, write_section

sys.path.insert(0, str(ROOT / "tests"))


def _executors(workers: int):
    from klynge_opt.batch import Dask, Processes, Serial

    return [("serial", lambda: Serial()), (f"processes ({workers})", lambda: Processes(workers)),
            (f"Dask LocalCluster ({workers})", lambda: Dask(workers=workers))]


def _run(tasks, ds, make, folder: Path) -> tuple[float, float, int]:
    from klynge_opt.batch import Store, run_batch

    start = time.perf_counter()
    ex = make()  # the cluster's start-up counts: a user waits for it
    try:
        with Store(folder / "results.sqlite", batch="bench", data=ds.content_hash()) as store:
            run = run_batch(tasks, ds, store, ex)
            solve = float(store.frame()["seconds"].sum())
    finally:
        ex.close()
    assert run.failed == 0, "a task failed"
    return time.perf_counter() - start, solve, run.ran


def _each(tasks, ds, workers: int, tmp: Path, label: str):
    """Every executor on the same tasks, each into a fresh store: (name, wall, solve, n,
    the serial wall time)."""
    serial = None
    for i, (name, make) in enumerate(_executors(workers)):
        folder = tmp / f"{label}-{i}"
        folder.mkdir()
        wall, solve, n = _run(tasks, ds, make, folder)
        serial = wall if serial is None else serial
        log(f"{label} {name}: {wall:.1f} s")
        yield name, wall, solve, n, serial


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-danish", action="store_true")
    args = parser.parse_args()
    from conftest import tiny_tables
    from klynge_opt import from_tables
    from klynge_opt.batch import Task
    from klynge_opt.data.dataset import load
    from klynge_opt.data.scenario import Scenario
    from klynge_opt.studies.batchfile import load_batch

    tiny = from_tables(tiny_tables())
    tiny_tasks = [Task(Scenario(name="tiny", policy={"max_travel_minutes": 90 + i}), {"i": i})
                  for i in range(32)]
    rows, overhead = [], []
    with tempfile.TemporaryDirectory(prefix="klynge-bench-batch-") as tmp:
        for name, wall, solve, n, _ in _each(tiny_tasks, tiny, args.workers, Path(tmp), "tiny"):
            overhead.append([name, f"{wall:.1f}", f"{1000 * wall / n:.0f}",
                             f"{1000 * solve / n:.0f}"])
        if not args.skip_danish:
            _, tasks, data = load_batch(ROOT / "benchmarks" / "reform-variants.toml")
            for name, wall, solve, n, serial in _each(tasks, load(data), args.workers,
                                                      Path(tmp), "danish"):
                rows.append([name, str(n), f"{wall:.0f}", f"{solve:.0f}",
                             f"{serial / wall:.2f}"])
    body = (f"{len(tiny_tasks)} tiny tasks (milliseconds of HiGHS each) show each executor's "
            "own cost per task: start-up (process spawn, cluster start) spread over the "
            "tasks, and the round trip of a scenario and its outcome.\n\n"
            + table(["executor", "wall s", "ms per task", "of which solving, ms"], overhead))
    if rows:
        body += ("\n\nThe 32 Danish reform variants (`benchmarks/reform-variants.toml`: two "
                 "reforms x four critical masses x gold or not x two seeds), each executor into "
                 "a fresh store; speed-up against the serial run of the same benchmark run. "
                 "\"solve s\" is the sum of the tasks' own wall times (on two workers, two run "
                 "at once and slow each other on this 2-core machine).\n\n"
                 + table(["executor", "tasks", "wall s", "solve s", "speed-up"], rows))
    path = write_section("batch", section("batch", "Batch execution (bench_batch.py)", body))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
