"""Batch solves: executors agree, the store resumes, failures are kept apart, bad input and a
damaged store give clear messages."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import tiny_tables
from klynge_opt import from_tables
from klynge_opt.batch import Dask, Processes, Serial, Store, Task, run_batch
from klynge_opt.batch.outcome import FAILED
from klynge_opt.cli import app
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.problems import OutputError
from klynge_opt.progress import Step

RADII = (60, 90, 120)
CAPS = (2, 3)


def _tasks() -> list[Task]:
    return [Task(Scenario(name="tiny", policy={"max_travel_minutes": r, "max_operators": c},
                          solver={"mip_gap": 0.0}),
                 {"policy.max_travel_minutes": r, "policy.max_operators": c})
            for r in RADII for c in CAPS]


#: What must not depend on where a task ran.
_SAME = ["key", "kind", "scenario", "params", "status", "objective", "operators_after",
         "kept", "selected", "coverage_all", "check_ok"]


def _stored(path: Path) -> list[dict]:
    with Store(path, batch="b", data="", create=False) as store:
        frame = store.frame()
    frame = frame.sort_values("key")[_SAME].astype(object)
    # NaN is not equal to itself: missing values compare as None.
    return frame.where(frame.notna(), None).to_dict("records")


def test_serial_processes_and_dask_store_the_same(tmp_path):
    ds = from_tables(tiny_tables())
    tasks = _tasks()
    contents = {}
    for ex in (Serial(), Processes(2), Dask(workers=2)):
        path = tmp_path / f"{ex.name}.sqlite"
        try:
            with Store(path, batch="b", data=ds.content_hash()) as store:
                run = run_batch(tasks, ds, store, ex)
        finally:
            ex.close()
        assert (run.total, run.ran, run.failed) == (len(tasks), len(tasks), 0)
        contents[ex.name] = _stored(path)
    assert contents["serial"] == contents["processes"] == contents["dask"]
    # Independently: the 60-minute radius leaves the island unserved (infeasible), the rest
    # solve and pass the checker.
    statuses = {(r["params"]["policy.max_travel_minutes"], r["params"]["policy.max_operators"]):
                r["status"] for r in contents["serial"]}
    assert statuses == {(r, c): "infeasible" if r == 60 else "optimal"
                        for r in RADII for c in CAPS}
    assert all(r["check_ok"] for r in contents["serial"] if r["status"] == "optimal")


def test_a_finished_batch_is_not_run_again_and_failures_wait_for_retry(tmp_path):
    ds = from_tables(tiny_tables())
    tasks = _tasks()
    path = tmp_path / "s.sqlite"
    with Store(path, batch="b", data=ds.content_hash()) as store:
        first = run_batch(tasks, ds, store, Serial())
        key = tasks[2].key(ds)  # 90 minutes, two operators: solvable
        store.put(key, {"scenario": "tiny"}, {"status": FAILED, "message": "boom"})
        again = run_batch([*tasks, *tasks], ds, store, Serial())  # listed twice: once
        assert (again.total, again.reused, again.ran) == (len(tasks), len(tasks), 0)
        retried = run_batch(tasks, ds, store, Serial(), retry_failed=True)
        assert (retried.ran, retried.failed) == (1, 0)
        frame = store.frame()
    assert first.ran == len(tasks)
    row = frame.set_index("key").loc[key]
    assert row["status"] == "optimal" and row["attempts"] == 3  # solved, failed, solved


def test_a_killed_worker_is_replaced_and_its_task_run_again(tmp_path):
    ds = from_tables(tiny_tables())
    work = [(t.key(ds), t) for t in _tasks()]
    ex = Processes(2)
    seen = {}
    killed = False
    for key, outcome in ex.run(ds, work):
        seen[key] = outcome
        if not killed:
            # A worker dies mid-batch (as under the OOM killer): SIGKILL, no cleanup.
            pool = ex._pool
            assert pool is not None
            victim = next(iter(pool._processes.values()))
            os.kill(victim.pid, signal.SIGKILL)
            killed = True
    assert killed and set(seen) == {k for k, _ in work}
    assert all(o["status"] in ("optimal", "infeasible") for o in seen.values())


def _batch_file(tmp_path: Path, n: int) -> Path:
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "tiny.toml"
    sc.write_text(f'name = "tiny"\ndata = "{data}"\n[solver]\nmip_gap = 0.0\n',
                  encoding="utf-8")
    radii = ", ".join(str(90 + i) for i in range(n))
    file = tmp_path / "b.toml"
    file.write_text(f'name = "resume"\nscenarios = ["tiny.toml"]\n[grid]\n'
                    f'"policy.max_travel_minutes" = [{radii}]\n', encoding="utf-8")
    return file


def _rows(path: Path) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT key, status, attempts, check_ok FROM tasks").fetchall()
    except sqlite3.OperationalError:
        return []  # polled while the batch is still creating its table
    finally:
        con.close()


def test_kill_and_resume_does_every_task_exactly_once(tmp_path):
    n = 16
    file = _batch_file(tmp_path, n)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "klynge_opt", "batch", str(file), "--out", str(out),
           "--serial", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    store = out / "results.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if store.exists() and len(_rows(store)) >= 3:
            break
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no handler runs, the store is left as the last commit left it
    proc.wait(timeout=30)
    partial = _rows(store)
    assert 3 <= len(partial) < n, "the batch finished before it could be killed"
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert f"{len(partial)} already in the store, {n - len(partial)} run now" in res.stdout
    rows = _rows(store)
    assert len(rows) == n and len({r[0] for r in rows}) == n
    assert all(r[1] == "optimal" and r[2] == 1 and r[3] == 1 for r in rows)


def test_sigterm_stops_a_batch_cleanly_and_it_resumes(tmp_path):
    n = 12
    file = _batch_file(tmp_path, n)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "klynge_opt", "batch", str(file), "--out", str(out),
           "--workers", "2", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = out / "results.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (store.exists() and len(_rows(store)) >= 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (130, 0), err  # 0: it finished first
    assert "Traceback" not in err
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    rows = _rows(store)
    assert len(rows) == n and all(r[2] == 1 for r in rows)


def test_batch_file_problems_are_reported_at_once(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    (tmp_path / "tiny.toml").write_text(f'name = "tiny"\ndata = "{data}"\n', encoding="utf-8")
    file = tmp_path / "b.toml"
    file.write_text('name = "bad"\nscenarios = ["tiny.toml", "nothing-*.toml"]\nworkers = 3\n'
                    '[grid]\n"policy.max_travel_minute" = [60]\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["batch", str(file), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "workers" in res.output  # unknown key
    file.write_text('name = "bad"\nscenarios = ["tiny.toml", "nothing-*.toml"]\n'
                    '[grid]\n"policy.max_travel_minute" = [60]\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["batch", str(file), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert "nothing-*.toml" in res.output and "policy.max_travel_minutes" in res.output
    assert not (tmp_path / "o").exists()


def test_a_damaged_or_locked_store_is_a_clear_error(tmp_path):
    bad = tmp_path / "results.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    res = CliRunner().invoke(app, ["results", str(tmp_path)])
    assert res.exit_code != 0 and "Traceback" not in res.output
    assert "not a klynge-opt result store" in res.output
    good = tmp_path / "good.sqlite"
    with Store(good, batch="b", data="d"):
        pass
    holder = sqlite3.connect(good, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(OutputError, match="another process is writing"), \
                Store(good, batch="b", data="d") as store:
            store.put("k", {"scenario": "x"}, {"status": "optimal"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with pytest.raises(OutputError, match="another data set"):
        Store(good, batch="b", data="other")


def test_results_lists_filters_and_exports(tmp_path):
    ds = from_tables(tiny_tables())
    path = tmp_path / "results.sqlite"
    with Store(path, batch="b", data=ds.content_hash()) as store:
        run_batch(_tasks(), ds, store, Serial())
    res = CliRunner().invoke(app, ["results", str(tmp_path), "--status", "infeasible",
                                   "--export", str(tmp_path / "x.parquet")])
    assert res.exit_code == 0, res.output
    assert f"{len(CAPS)} task(s) — {len(CAPS)} infeasible" in res.output
    import pandas as pd

    back = pd.read_parquet(tmp_path / "x.parquet")
    assert len(back) == len(CAPS) and set(back["status"]) == {"infeasible"}
    res = CliRunner().invoke(app, ["results", str(tmp_path), "--export",
                                   str(tmp_path / "x.csv")])
    assert res.exit_code == 0 and len(pd.read_csv(tmp_path / "x.csv")) == len(_tasks())


def test_sweep_and_price_on_worker_processes_match_this_process():
    from klynge_opt.studies.price import price
    from klynge_opt.studies.sweep import sweep

    ds = from_tables(tiny_tables())
    sc = Scenario(policy={"max_operators": 2}, solver={"mip_gap": 0.0})
    grid = [("policy.max_travel_minutes", [60.0, 100.0, 150.0])]
    here = sweep(sc, grid, dataset=ds).table
    there = sweep(sc, grid, dataset=ds, executor=Processes(2)).table
    # The infeasible point's reason comes back from the worker too.
    assert here.at[0, "status"] == "infeasible" and "Island" in here.at[0, "reason"]
    import pandas as pd

    pd.testing.assert_frame_equal(here, there)
    sc = sc.with_updates({"policy": {"max_travel_minutes": 100}})
    a, b = price(sc, dataset=ds).table, price(sc, dataset=ds, executor=Processes(2)).table
    pd.testing.assert_frame_equal(a, b)
    assert (a["cost_without"] <= a["cost_with"] + 1e-6).all()


def test_compare_on_worker_processes_matches_this_process(tmp_path):
    """compare runs through the engine: same tables from worker processes, result folders
    written by the coordinator, and two scenarios that differ only in name solved once."""
    from klynge_opt.studies.compare import compare

    data = write_tables(tiny_tables(), tmp_path / "tiny")
    scs = [Scenario(name=n, data=str(data), policy={"max_travel_minutes": r},
                    solver={"mip_gap": 0.0})
           for n, r in (("wide", 150), ("narrow", 100), ("narrow-again", 100))]
    events = []
    here = compare(scs, tmp_path / "here")
    there = compare(scs, tmp_path / "there", executor=Processes(2), progress=events.append)
    import pandas as pd

    pd.testing.assert_frame_equal(here.table, there.table)
    pd.testing.assert_frame_equal(here.operators, there.operators)
    assert list(there.results) == ["wide", "narrow", "narrow-again"]  # the order given
    # One solve for the two narrow scenarios, each folder under its own name.
    steps = [(e.done, e.total) for e in events if isinstance(e, Step)]
    assert steps[0] == (0, 3) and steps[-1] == (3, 3) and len(steps) == 3
    for name in ("narrow", "narrow-again"):
        summary = (tmp_path / "there" / name / "summary.json").read_text(encoding="utf-8")
        assert f'"scenario": "{name}"' in summary
    assert there.results["narrow"].objective == there.results["narrow-again"].objective
    # Solved again from disk: nothing runs.
    again = compare(scs, tmp_path / "there")
    assert all(again.reused.values())


def test_the_engine_counts_failed_tasks_in_its_progress(tmp_path):
    ds = from_tables(tiny_tables())
    # A scenario naming an operator the data lacks raises in the worker: a failed task.
    bad = Scenario(name="bad", policy={"keep": ["no-such-operator"]})
    events = []
    with Store(":memory:", batch="b", data=ds.content_hash()) as store:
        run = run_batch([*_tasks()[:2], Task(bad)], ds, store, Serial(),
                        progress=events.append)
        row = store.frame().set_index("scenario").loc["bad"]
    assert run.failed == 1 and row["status"] == FAILED and "no-such-operator" in row["message"]
    steps = [e for e in events if isinstance(e, Step)]
    assert [s.done for s in steps] == [0, 1, 2, 3] and steps[-1].failed == 1
    assert sum(s.failed for s in steps[:-1]) <= 1  # counted when it happens, not before


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dask(*args: str) -> subprocess.Popen:
    # Own session: the worker's nanny and its child die with the group.
    return subprocess.Popen([sys.executable, "-m", "dask", *args, "--no-dashboard"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _stop(*procs: subprocess.Popen) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=30)


@pytest.mark.slow
def test_a_lost_scheduler_stops_the_batch_and_it_resumes(tmp_path):
    n = 24
    file = _batch_file(tmp_path, n)
    out = tmp_path / "out"
    address = f"tcp://127.0.0.1:{_free_port()}"
    cmd = [sys.executable, "-m", "klynge_opt", "batch", str(file), "--out", str(out),
           "--scheduler", address, "--quiet"]
    store = out / "results.sqlite"

    def cluster() -> tuple[subprocess.Popen, subprocess.Popen]:
        scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port",
                          address.rsplit(":", 1)[1])
        time.sleep(2)
        return scheduler, _dask("worker", address, "--nworkers", "1", "--nthreads", "1")

    # No scheduler there yet: a clear error, nothing run.
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 1 and "cannot reach the Dask scheduler" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not store.exists()
    scheduler, worker = cluster()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (store.exists() and len(_rows(store)) >= 3):
            time.sleep(0.05)
        _stop(scheduler)  # the scheduler's machine goes away
        _, err = proc.communicate(timeout=120)
        partial = _rows(store)
        assert proc.returncode == 1, err
        assert "lost the connection to the Dask scheduler" in err and "Traceback" not in err
        # What finished is kept; nothing open was stored as failed (it was not its fault).
        assert 3 <= len(partial) < n and all(r[1] == "optimal" for r in partial)
    finally:
        _stop(scheduler, worker)
    scheduler, worker = cluster()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    finally:
        _stop(scheduler, worker)
    assert res.returncode == 0, res.stderr
    rows = _rows(store)
    assert len(rows) == n and all(r[1] == "optimal" and r[2] == 1 for r in rows)


def test_a_task_stopped_by_its_time_limit_keeps_its_plan_and_gap_and_is_done():
    from klynge_opt.data import orlib

    root = Path(__file__).parent / "data" / "orlib"
    inst = orlib.read_pmed(root / "pmed" / "pmed1.txt")
    ds = from_tables(orlib.pmed_tables(inst))
    # pmed1 with the aggregated linking takes HiGHS several seconds to prove: 1.5 s is not
    # enough to prove, but plenty to find a plan.
    sc = Scenario(name="pmed1").with_updates(orlib.pmed_scenario(inst.p)).with_updates(
        {"solver": {"mip_gap": 0.0, "time_limit": 1.5, "linking": "aggregated"}})
    with Store(":memory:", batch="b", data=ds.content_hash()) as store:
        run_batch([Task(sc)], ds, store, Serial())
        row = store.frame().iloc[0]
        again = run_batch([Task(sc)], ds, store, Serial())
    assert row["status"] == "time_limit", row["message"]
    assert row["objective"] >= orlib.read_pmed_optima(root / "pmed" / "pmedopt.txt")["pmed1"]
    assert 0 < row["mip_gap"] < 1 and row["check_ok"]  # its best plan, checked, and its gap
    assert (again.reused, again.ran) == (1, 0)  # done: not run again
