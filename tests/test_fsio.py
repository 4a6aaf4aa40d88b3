"""Writing outputs never loses data: guarded targets, atomic swaps, repair, locks, umask."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from klynge_opt import fsio
from klynge_opt.cells import protect, protect_frame, unprotect, unprotect_frame
from klynge_opt.fsio import MARKER, OutputError, guard_target, recover, staged_dir


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _result(folder: Path, text: str = "old") -> Path:
    folder.mkdir(parents=True)
    (folder / MARKER).write_text(json.dumps({"kind": "result"}))
    (folder / "summary.json").write_text(text)
    return folder


# --------------------------------------------------------------------------- guard


def test_guard_refuses_what_klynge_opt_did_not_write(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "firms.csv").write_text("firm_id\n")
    afile = tmp_path / "notes.txt"
    afile.write_text("keep me")
    for target, protected, words in ((data, [], "not a klynge-opt result"),
                                     (data, [data / "firms.csv"], "holds"),
                                     (afile, [], "not a folder"),
                                     (tmp_path, [data / "firms.csv"], "holds")):
        with pytest.raises(OutputError, match=words) as err:
            guard_target(target, "result", protected=protected)
        assert err.value.refused
    assert (data / "firms.csv").read_text() == "firm_id\n" and afile.read_text() == "keep me"


def test_guard_never_replaces_the_data_or_scenario_even_forced(tmp_path):
    project = tmp_path / "project"
    scenario = project / "scenarios" / "s.toml"
    scenario.parent.mkdir(parents=True)
    scenario.write_text("")
    with pytest.raises(OutputError, match="holds"):
        guard_target(project, "result", protected=[scenario], force=True)
    with pytest.raises(OutputError, match="holds"):
        guard_target(scenario.parent, "result", protected=[scenario], force=True)


def test_guard_refuses_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError, match="delete everything"):
        guard_target(Path("."), "result")


def test_guard_accepts_new_empty_and_earlier_outputs_of_the_same_kind(tmp_path):
    guard_target(tmp_path / "new", "result")
    (tmp_path / "empty").mkdir()
    guard_target(tmp_path / "empty", "result")
    guard_target(_result(tmp_path / "earlier"), "result")
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "summary.json").write_text("{}")
    guard_target(legacy, "result", legacy=("summary.json",))
    with pytest.raises(OutputError, match="holds a klynge-opt result, not a comparison"):
        guard_target(tmp_path / "earlier", "comparison")
    guard_target(tmp_path / "earlier", "comparison", force=True)


def test_guard_objection_of_the_same_kind(tmp_path):
    folder = tmp_path / "cmp"
    folder.mkdir()
    (folder / MARKER).write_text(json.dumps({"kind": "comparison", "scenarios": ["a", "b"]}))
    with pytest.raises(OutputError, match="other scenarios"):
        guard_target(folder, "comparison", same=lambda m: "other scenarios"
                     if m["scenarios"] != ["c"] else None)
    guard_target(folder, "comparison", same=lambda m: None)


# --------------------------------------------------------------------------- staged folders


def test_staged_dir_replaces_an_earlier_result_completely(tmp_path):
    target = _result(tmp_path / "out")
    (target / "stale.csv").write_text("from before")
    with staged_dir(target, {"kind": "result"}) as tmp:
        (tmp / "summary.json").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == [MARKER, "summary.json"]
    assert (target / "summary.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging or .old left


@pytest.mark.parametrize("failure", [KeyboardInterrupt, OSError(errno.ENOSPC, "full")])
def test_failure_while_writing_leaves_the_earlier_result(tmp_path, failure):
    target = _result(tmp_path / "out")
    before = _tree(tmp_path)
    with pytest.raises((KeyboardInterrupt, OutputError)), \
            staged_dir(target, {"kind": "result"}) as tmp:
        (tmp / "summary.json").write_text("half")
        raise failure
    assert _tree(tmp_path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_full_disk_is_named(tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsio.tempfile, "mkdtemp", full)
    with pytest.raises(OutputError, match="disk is full") as err, \
            staged_dir(tmp_path / "out", {"kind": "result"}):
        pass
    assert not err.value.refused


def test_failed_second_rename_puts_the_earlier_folder_back(tmp_path, monkeypatch):
    target = _result(tmp_path / "out")
    before = _tree(tmp_path)
    real_rename = Path.rename

    def rename(self, other):
        if Path(other) == target and self.name.endswith(".tmp"):
            raise OSError(errno.EIO, "I/O error")
        return real_rename(self, other)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OutputError), staged_dir(target, {"kind": "result"}) as tmp:
        (tmp / "summary.json").write_text("new")
    assert _tree(tmp_path) == before


def test_recover_restores_a_result_left_only_as_old(tmp_path):
    target = tmp_path / "out"
    old = _result(tmp_path / ".out.old", "precious")
    assert recover(target) is True
    assert (target / "summary.json").read_text() == "precious" and not old.exists()
    # The next write repairs first, then replaces.
    _result(tmp_path / ".out.old", "stale")
    assert recover(target) is False and not (tmp_path / ".out.old").exists()


def test_next_write_recovers_before_swapping(tmp_path):
    _result(tmp_path / ".out.old", "precious")
    with staged_dir(tmp_path / "out", {"kind": "result"}) as tmp:
        (tmp / "summary.json").write_text("new")
    assert (tmp_path / "out" / "summary.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _hold_lock(folder: str, ready, release) -> None:  # pragma: no cover - in a subprocess
    with fsio.locked(Path(folder)):
        ready.set()
        release.wait(10)


def test_a_second_writer_fails_cleanly_while_the_first_holds_the_lock(tmp_path):
    ctx = multiprocessing.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(OutputError, match="another klynge-opt process"), \
                fsio.locked(tmp_path, wait=0.2):
            pass
    finally:
        release.set()
        holder.join(10)
    with fsio.locked(tmp_path, wait=0.2):
        pass  # free again, and nothing left behind
    assert list(tmp_path.iterdir()) == []


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with staged_dir(tmp_path / "out", {"kind": "result"}) as tmp:
            (tmp / "sub").mkdir()
            (tmp / "sub" / "a.csv").write_text("x")
        fsio.write_text(tmp_path / "file.txt", "y")
    finally:
        os.umask(old)
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert mode == {"out": 0o755, "sub": 0o755, "a.csv": 0o644, MARKER: 0o644,
                    "file.txt": 0o644}


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize("value", ["=HYPERLINK(\"http://x\")", "+45 1234", "-5 Group", "@SUM",
                                   "\tTab", "\rCR", "'quoted", "''=x", "plain", "", "a=b"])
def test_protect_round_trips_and_neutralises(value):
    cell = protect(value)
    assert unprotect(cell) == value
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_protected_csv_reads_back_exactly(tmp_path):
    frame = pd.DataFrame({"name": ["=1+1", "@x", "ok", "'a"], "n": [-1.5, 2.0, 3.0, -4.0]})
    fsio.write_csv(tmp_path / "t.csv", frame)
    raw = pd.read_csv(tmp_path / "t.csv", dtype=str, keep_default_na=False)
    assert list(raw["name"]) == ["'=1+1", "'@x", "ok", "''a"]
    assert list(raw["n"]) == ["-1.5", "2.0", "3.0", "-4.0"]  # numbers untouched
    assert unprotect_frame(raw)["name"].tolist() == frame["name"].tolist()
    assert protect_frame(pd.DataFrame({"=h": [1]})).columns.tolist() == ["'=h"]


def test_guard_file_refuses_what_the_run_reads(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    scenario = tmp_path / "s.toml"
    scenario.write_text("")
    for target in (data / "operators.csv", scenario, data):
        with pytest.raises(OutputError, match="refusing"):
            fsio.guard_file(target, protected=[data, scenario])
    fsio.guard_file(tmp_path / "price.csv", protected=[data, scenario])
    (tmp_path / "old.csv").write_text("x")
    fsio.guard_file(tmp_path / "old.csv", protected=[data])  # named by the user: replaced


def test_csv_writes_whole_numbers_without_a_fraction(tmp_path):
    frame = pd.DataFrame({"firms": [2564.0, 3.0, np.nan], "share": [0.5, 1.0, 0.25],
                          "cost": [1e7, 2.5e6, 0.0], "cap": [10.0, np.inf, 1.0],
                          "name": ["a", "=b", "c"]})
    fsio.write_csv(tmp_path / "t.csv", frame)
    lines = (tmp_path / "t.csv").read_text(encoding="utf-8").splitlines()
    # Whole-number columns lose the ".0"; a column with a fraction or infinity is untouched.
    assert lines[1:] == ["2564,0.5,10000000,10.0,a", "3,1.0,2500000,inf,'=b", ",0.25,0,1.0,c"]
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["firms"].tolist()[:2] == [2564, 3] and back["cost"].sum() == 12.5e6


@pytest.mark.parametrize("switch, bom", [("", False), ("0", False), ("1", True),
                                         ("yes", True), ("TRUE", True)])
def test_csv_byte_order_mark_is_a_switch(tmp_path, monkeypatch, switch, bom):
    from conftest import layered_tables
    from klynge_opt.api import solve
    from klynge_opt.data.dataset import load
    from klynge_opt.data.loading import write_tables
    from klynge_opt.data.scenario import Scenario
    from klynge_opt.results.check import check_dir
    from klynge_opt.results.result import read_result, write_result

    monkeypatch.setenv(fsio.CSV_BOM_ENV, switch)
    tables = layered_tables()
    tables["operators"].loc[0, "name"] = "Væksthus Ærø & Søby"
    data = write_tables(tables, tmp_path / "data")
    ds = load(data)
    folder = write_result(solve(ds, Scenario(name="bom")), tmp_path / "r")
    for f in [*folder.glob("*.csv"), *data.glob("*.csv")]:
        assert f.read_bytes().startswith(b"\xef\xbb\xbf") is bom, f.name
    # Either way everything reads back exactly: the data set, the result, its check.
    assert list(ds.operators["name"]) == list(tables["operators"]["name"])
    back = read_result(folder)
    assert back.operators["name"].iloc[0] == "Væksthus Ærø & Søby"
    assert back.operators.columns[0] == "operator_id"
    assert check_dir(folder, dataset=ds).ok
