"""The result store of a batch: one SQLite file, one row per task, keyed by its input hash.

Only the coordinating process writes (workers return their outcome); each finished task is
one committed transaction, so a batch killed at any moment leaves every finished task stored
exactly once and nothing half-written. WAL mode lets ``klynge-opt results`` read while a
batch runs. The schema is declared from :data:`~.outcome.OUTCOME_COLUMNS`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..problems import OutputError
from .outcome import DONE, FAILED, OUTCOME_COLUMNS

STORE_FILE = "results.sqlite"
#: Bumped when the schema changes; a store of another version is refused, not migrated.
SCHEMA_VERSION = 1

#: Columns before the outcome's: who the task is.
TASK_COLUMNS: tuple[str, ...] = ("key", "batch", "kind", "scenario", "sample", "params",
                                 "attempts", "finished")
_LISTS = ("kept", "selected")
_TEXT = ("key", "batch", "kind", "scenario", "params", "finished", "status", "message",
         "worker", "error", *_LISTS)


def _sql_type(column: str) -> str:
    if column in _TEXT:
        return "TEXT"
    return "INTEGER" if column in ("sample", "attempts", "operators_after",
                                   "clusters_after", "check_ok") else "REAL"


def _connect(path: Path) -> sqlite3.Connection:
    try:
        con = sqlite3.connect(path, timeout=5.0, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        return con
    except sqlite3.DatabaseError as exc:
        raise _unusable(path, exc) from None


def _unusable(path: Path, exc: sqlite3.Error) -> OutputError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return OutputError(f"cannot use {path}: another process is writing to it (is the same "
                           "batch running elsewhere?); wait for it or use another --out", path)
    return OutputError(f"cannot use {path}: it is not a klynge-opt result store ({text}); "
                       "move it away or use another --out", path)


class Store:
    """Open (or create) the store at ``path``; ``data`` is the batch's data set hash, which a
    store keeps: a store of another data set is refused."""

    def __init__(self, path: str | os.PathLike[str], *, batch: str, data: str,
                 create: bool = True) -> None:
        self.path = Path(path)
        # ":memory:" keeps a study's rows for one run only (a sweep without --out store).
        if str(path) != ":memory:" and not self.path.exists() and not create:
            raise OutputError(f"{self.path}: no result store here (run `klynge-opt batch` "
                              "first)", self.path)
        self.batch = batch
        self._con = _connect(self.path)
        try:
            self._init(data)
        except sqlite3.DatabaseError as exc:
            self._con.close()
            raise _unusable(self.path, exc) from None

    def _init(self, data: str) -> None:
        con = self._con
        con.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        columns = ", ".join(f"{c} {_sql_type(c)}" for c in (*TASK_COLUMNS, *OUTCOME_COLUMNS)
                            if c != "key")
        con.execute(f"CREATE TABLE IF NOT EXISTS tasks (key TEXT PRIMARY KEY, {columns})")
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            con.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("tool", "klynge-opt"), ("schema", str(SCHEMA_VERSION)), ("data", data)])
            return
        if meta.get("tool") != "klynge-opt" or meta.get("schema") != str(SCHEMA_VERSION):
            raise OutputError(f"cannot use {self.path}: a store of another tool or version "
                              f"(schema {meta.get('schema')}, expected {SCHEMA_VERSION})",
                              self.path)
        if data and meta.get("data") not in (data, ""):
            raise OutputError(f"cannot use {self.path}: it holds results on another data set "
                              f"({meta.get('data')}, this batch {data}); use another --out",
                              self.path)

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def statuses(self) -> dict[str, str]:
        return dict(self._con.execute("SELECT key, status FROM tasks").fetchall())

    def done(self, *, retry_failed: bool = False) -> set[str]:
        """Keys not to run again: finished, and (unless ``retry_failed``) failed."""
        skip = set(DONE) | (set() if retry_failed else {FAILED})
        return {k for k, s in self.statuses().items() if s in skip}

    def frame(self, where: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Every stored row (``params`` and the lists decoded), filtered by equality on
        ``where`` columns."""
        sql = "SELECT * FROM tasks"
        args: list[Any] = []
        if where:
            sql += " WHERE " + " AND ".join(f"{c} = ?" for c in where)
            args = list(where.values())
        try:
            frame = pd.read_sql_query(sql + " ORDER BY finished, key", self._con, params=args)
        except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
            raise _unusable(self.path, exc) from None  # type: ignore[arg-type]
        for col in ("params", *_LISTS):
            frame[col] = [json.loads(v) if isinstance(v, str) and v else
                          ({} if col == "params" else []) for v in frame[col]]
        frame["check_ok"] = frame["check_ok"].astype("boolean")
        for col in ("sample", "attempts", "operators_after", "clusters_after"):
            frame[col] = frame[col].astype("Int64")
        return frame

    # ------------------------------------------------------------------ writing

    def put(self, key: str, task: Mapping[str, Any], outcome: Mapping[str, Any]) -> None:
        """Store one finished task (replacing a failed earlier attempt of the same key)."""
        earlier = self._con.execute("SELECT attempts FROM tasks WHERE key = ?",
                                    (key,)).fetchone()
        row: dict[str, Any] = {
            "key": key, "batch": self.batch, "kind": task.get("kind", "solve"),
            "scenario": task.get("scenario"), "sample": task.get("sample"),
            "params": json.dumps(task.get("params") or {}, sort_keys=True, default=str),
            "attempts": (earlier[0] if earlier else 0) + 1,
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        for col in OUTCOME_COLUMNS:
            value = outcome.get(col)
            if col in _LISTS:
                value = json.dumps(list(value or []))
            elif isinstance(value, bool):
                value = int(value)
            elif isinstance(value, float) and not math.isfinite(value):
                value = None
            row[col] = value
        cols = list(row)
        try:
            self._con.execute(
                f"INSERT OR REPLACE INTO tasks ({', '.join(cols)}) VALUES "
                f"({', '.join('?' for _ in cols)})", [row[c] for c in cols])
        except sqlite3.DatabaseError as exc:
            raise _unusable(self.path, exc) from None

    def forget(self, keys: Iterable[str]) -> None:
        self._con.executemany("DELETE FROM tasks WHERE key = ?", [(k,) for k in keys])


def existing(path: str | os.PathLike[str]) -> Store:
    """The store of a batch's output folder, or the store file itself, to read (``results``,
    ``report --batch``); an error naming the path when there is none."""
    given = Path(path)
    return Store(given / STORE_FILE if given.is_dir() else given, batch="", data="",
                 create=False)
