"""Building blocks for case setups and extra checks.

Data sets are written here with plain pandas/openpyxl, not with klynge-opt's writer, so that the
same corpus can measure any checkout (``census.py --src``). Only ``synthetic_tables`` comes from
the package under test, and only for the landscape's numbers.
"""

from __future__ import annotations

import csv
import errno
import functools
import json
import os
import shutil
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from .runner import Ctx, Outcome, SetupError

Step = Callable[[Ctx], None]
Tables = dict[str, pd.DataFrame]

#: A landscape small enough to solve in well under a second.
SYN = {"regions": 2, "municipalities": 6, "strongholds": 2, "operators": 5, "clusters": 3,
       "firms": 60, "seed": 1}
#: The same sizes as `generate synthetic` options.
SYN_ARGS: tuple[str, ...] = ("--regions", "2", "--municipalities", "6", "--strongholds", "2",
                             "--operators", "5", "--clusters", "3", "--firms", "60")
#: Leading characters spreadsheets evaluate as formulas.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


@functools.cache
def _synthetic() -> Tables:
    from klynge_opt.data.generator import synthetic_tables

    return synthetic_tables(**SYN)  # type: ignore[arg-type]


def syn_tables() -> Tables:
    """A fresh copy of the tiny synthetic landscape (ids O001.., S01.., M001.., R01.., C001..)."""
    return {name: frame.copy() for name, frame in _synthetic().items()}


def write_csvs(tables: Mapping[str, pd.DataFrame], folder: Path, *, sep: str = ",",
               encoding: str = "utf-8", lineterminator: str = "\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False, sep=sep, encoding=encoding,
                     lineterminator=lineterminator)
    return folder


def write_xlsx(tables: Mapping[str, pd.DataFrame], file: Path) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    with pd.ExcelWriter(file, engine="openpyxl") as writer:
        for name, frame in tables.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return file


def toml_str(value: str) -> str:
    """A TOML basic string (JSON escapes are valid TOML escapes)."""
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- setup steps


def data(folder: str = "landscape", mutate: Callable[[Tables], None] | None = None, *,
         fmt: str = "csv", sep: str = ",", encoding: str = "utf-8",
         lineterminator: str = "\n") -> Step:
    """The tiny synthetic landscape in ``<proj>/<folder>`` (CSV folder or .xlsx workbook)."""

    def step(ctx: Ctx) -> None:
        tables = syn_tables()
        if mutate is not None:
            mutate(tables)
        target = ctx.proj / ctx.sub(folder)
        if fmt == "xlsx":
            write_xlsx(tables, target)
        else:
            write_csvs(tables, target, sep=sep, encoding=encoding,
                       lineterminator=lineterminator)

    return step


def text(rel: str, content: str, encoding: str = "utf-8") -> Step:
    def step(ctx: Ctx) -> None:
        path = ctx.proj / ctx.sub(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ctx.sub(content).encode(encoding))

    return step


def raw(rel: str, content: bytes) -> Step:
    def step(ctx: Ctx) -> None:
        path = ctx.proj / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    return step


def mkdir(rel: str) -> Step:
    def step(ctx: Ctx) -> None:
        (ctx.proj / rel).mkdir(parents=True, exist_ok=True)

    return step


def symlink(rel: str, target: str) -> Step:
    def step(ctx: Ctx) -> None:
        (ctx.proj / rel).symlink_to(target)

    return step


def plan(body: str = "", file: str = "plan.toml", *, name: str | None = None,
         data_path: str = "landscape", encoding: str = "utf-8") -> Step:
    """A scenario file in ``<proj>``: ``data`` relative to it, optional ``name``, then ``body``."""

    def step(ctx: Ctx) -> None:
        path = ctx.proj / file
        path.parent.mkdir(parents=True, exist_ok=True)
        head = f"data = {toml_str(ctx.sub(data_path))}\n" if data_path else ""
        if name is not None:
            head = f"name = {toml_str(ctx.sub(name))}\n" + head
        path.write_bytes((head + ctx.sub(body)).encode(encoding))

    return step


def prerun(*argv: str, ok: tuple[int, ...] = (0,)) -> Step:
    """Run the command line (in the case's mode) before the snapshot, e.g. an earlier result."""

    def step(ctx: Ctx) -> None:
        ctx.must_cli(*argv, ok=ok)

    return step


def edit_json(rel: str, change: Callable[[Any], Any]) -> Step:
    def step(ctx: Ctx) -> None:
        path = ctx.proj / rel
        value = json.loads(path.read_text(encoding="utf-8"))
        new = change(value)
        path.write_text(json.dumps(value if new is None else new, indent=2), encoding="utf-8")

    return step


def edit_toml(rel: str, change: Callable[[dict[str, Any]], None]) -> Step:
    import tomli_w

    def step(ctx: Ctx) -> None:
        path = ctx.proj / rel
        value = tomllib.loads(path.read_text(encoding="utf-8"))
        change(value)
        path.write_text(tomli_w.dumps(value), encoding="utf-8")

    return step


def edit_text(rel: str, change: Callable[[str], str]) -> Step:
    def step(ctx: Ctx) -> None:
        path = ctx.proj / rel
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")

    return step


def edit_csv(rel: str, change: Callable[[pd.DataFrame], None]) -> Step:
    def step(ctx: Ctx) -> None:
        path = ctx.proj / rel
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        change(frame)
        frame.to_csv(path, index=False)

    return step


def truncate(rel: str, keep: float = 0.5) -> Step:
    def step(ctx: Ctx) -> None:
        path = ctx.proj / rel
        content = path.read_bytes()
        path.write_bytes(content[: int(len(content) * keep)])

    return step


def remove(rel: str) -> Step:
    def step(ctx: Ctx) -> None:
        path = ctx.proj / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()

    return step


def chmod(rel: str, mode: int) -> Step:
    def step(ctx: Ctx) -> None:
        (ctx.proj / rel).chmod(mode)

    return step


def remember(key: str, read: Callable[[Ctx], Any]) -> Step:
    """Keep a value (e.g. an objective before tampering) for the extra check."""

    def step(ctx: Ctx) -> None:
        ctx.state[key] = read(ctx)

    return step


def denmark(folder: str = "dk", mutate: Callable[[Tables], None] | None = None, *,
            full: bool = False) -> Step:
    """A copy of the checkout's Danish data set in ``<proj>/<folder>``: all of it (``full``), or
    the base tables only (no firms and memberships, which `generate denmark` makes; faster).
    With ``mutate`` the tables are read and written back as text."""

    def step(ctx: Ctx) -> None:
        source = ctx.repo / "data" / "denmark"
        if not source.is_dir():
            raise SetupError(f"no Danish data at {source}")
        target = ctx.proj / folder
        skip = () if full else ("firms.csv", "memberships.csv")
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(*skip))
        if mutate is not None:
            tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False)
                      for p in target.glob("*.csv")}
            mutate(tables)
            write_csvs(tables, target)

    return step


def sources(folder: str = "src", mutate: Callable[[Tables], None] | None = None) -> Step:
    """A copy of the checkout's curated Danish sources (``data/sources/denmark``, what
    `generate denmark --sources` reads) in ``<proj>/<folder>``, optionally mutated as text."""

    def step(ctx: Ctx) -> None:
        source = ctx.repo / "data" / "sources" / "denmark"
        if not source.is_dir():
            raise SetupError(f"no Danish sources at {source}")
        target = ctx.proj / folder
        shutil.copytree(source, target)
        if mutate is not None:
            tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False)
                      for p in target.glob("*.csv")}
            mutate(tables)
            write_csvs(tables, target)

    return step


def chain(n: int, data_path: str = "landscape") -> Step:
    """``c0000.toml`` extends ``c0001.toml`` ... extends ``c{n-1}.toml`` (which sets data)."""

    def step(ctx: Ctx) -> None:
        folder = ctx.proj / "chain"
        folder.mkdir()
        for i in range(n - 1):
            (folder / f"c{i:04d}.toml").write_text(f'extends = "c{i + 1:04d}.toml"\n')
        (folder / f"c{n - 1:04d}.toml").write_text(f'data = "../{data_path}"\n')

    return step


def xlsx_cell(rel: str, sheet: str, cell: str, value: Any) -> Step:
    """Set one cell of a workbook with openpyxl (a formula is stored without a cached value)."""

    def step(ctx: Ctx) -> None:
        import openpyxl

        path = ctx.proj / rel
        book = openpyxl.load_workbook(path)
        book[sheet][cell] = value
        book.save(path)

    return step


def xlsx_header(rel: str, sheet: str, column: int, value: str) -> Step:
    return xlsx_cell(rel, sheet, f"{chr(ord('A') + column)}1", value)


# --------------------------------------------------------------------------- table mutations


def set_col(table: str, column: str, value: Any, rows: Iterable[int] | None = None,
            ) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        frame = t[table]
        if column not in frame.columns:
            frame[column] = "" if isinstance(value, str) else float("nan")
        if frame[column].dtype != object and isinstance(value, str):
            frame[column] = frame[column].astype(object)
        if rows is None:
            frame[column] = value
        else:
            for r in rows:
                frame.loc[frame.index[r], column] = value

    return mutate


def names(table: str, make: Callable[[int, str], str], rows: Iterable[int] | None = None,
          column: str = "name") -> Callable[[Tables], None]:
    """Rename rows of ``table``: ``make(i, old)`` gives the new name."""

    def mutate(t: Tables) -> None:
        frame = t[table]
        frame[column] = frame[column].astype(object)
        for i in (range(len(frame)) if rows is None else rows):
            frame.loc[frame.index[i], column] = make(i, str(frame[column].iloc[i]))

    return mutate


def both(*mutations: Callable[[Tables], None]) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        for m in mutations:
            m(t)

    return mutate


def rename_operator(old: str, new: str) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        for table, column in (("operators", "operator_id"), ("operator_strongholds",
                                                               "operator_id"),
                              ("clusters", "operator_id")):
            t[table][column] = t[table][column].replace(old, new)

    return mutate


def full_od_matrix(t: Tables) -> None:
    """travel_times with every ordered pair, both directions and the diagonal."""
    from klynge_opt.data.generator import haversine_km

    m = t["municipalities"]
    rows = []
    for _, a in m.iterrows():
        for _, b in m.iterrows():
            km = float(haversine_km(a["lat"], a["lon"], b["lat"], b["lon"]))
            minutes = 0.0 if a["municipality_id"] == b["municipality_id"] else round(
                km * 1.3 / 70 * 60, 1)
            rows.append({"from_id": a["municipality_id"], "to_id": b["municipality_id"],
                         "minutes": minutes})
    t["travel_times"] = pd.DataFrame(rows)


def header_only(*tables: str) -> Callable[[Tables], None]:
    def mutate(t: Tables) -> None:
        for name in tables:
            t[name] = t[name].iloc[0:0]

    return mutate


# --------------------------------------------------------------------------- patches


def _inside(ctx: Ctx, path: Any) -> bool:
    if path is None:
        return False
    try:
        return str(Path(os.fspath(path)).resolve()).startswith(str(ctx.root))
    except TypeError:
        return False


def fail_tempfiles(err: int) -> Callable[[pytest.MonkeyPatch, Ctx], None]:
    """tempfile.mkdtemp/mkstemp under the case root raise OSError(err): no room for new files."""

    def patch(mp: pytest.MonkeyPatch, ctx: Ctx) -> None:
        real_dtemp, real_stemp = tempfile.mkdtemp, tempfile.mkstemp

        def where(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            return kwargs.get("dir", args[2] if len(args) > 2 else None)

        def mkdtemp(*args: Any, **kwargs: Any) -> str:
            if _inside(ctx, where(args, kwargs)):
                raise OSError(err, os.strerror(err))
            return real_dtemp(*args, **kwargs)

        def mkstemp(*args: Any, **kwargs: Any) -> Any:
            if _inside(ctx, where(args, kwargs)):
                raise OSError(err, os.strerror(err))
            return real_stemp(*args, **kwargs)

        mp.setattr(tempfile, "mkdtemp", mkdtemp)
        mp.setattr(tempfile, "mkstemp", mkstemp)

    return patch


def fail_csv_writes(err: int) -> Callable[[pytest.MonkeyPatch, Ctx], None]:
    """DataFrame.to_csv into the case root raises OSError(err) (the disk fills mid-write)."""

    def patch(mp: pytest.MonkeyPatch, ctx: Ctx) -> None:
        real = pd.DataFrame.to_csv

        def to_csv(self: pd.DataFrame, path_or_buf: Any = None, *args: Any, **kwargs: Any) -> Any:
            if isinstance(path_or_buf, str | os.PathLike) and _inside(ctx, path_or_buf):
                raise OSError(err, os.strerror(err), os.fspath(path_or_buf))
            return real(self, path_or_buf, *args, **kwargs)

        mp.setattr(pd.DataFrame, "to_csv", to_csv)

    return patch


ENOSPC, EACCES, EROFS = errno.ENOSPC, errno.EACCES, errno.EROFS


def as_root(ctx: Ctx) -> str | None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "running as root: chmod 555 does not stop root from writing"
    return None


# --------------------------------------------------------------------------- extra checks


def summary(ctx: Ctx, rel: str) -> dict[str, Any]:
    return json.loads((ctx.proj / rel / "summary.json").read_text(encoding="utf-8"))


def cli_ok(ctx: Ctx, *argv: str, ok: tuple[int, ...] = (0,)) -> Outcome:
    out = ctx.cli(*argv)
    assert out.exit_code in ok and not out.crash, (
        f"`klynge-opt {' '.join(argv)}` gave exit {out.exit_code}: {out.output[-1500:]}")
    return out


def modes_ok(ctx: Ctx, rel: str) -> None:
    """Files 0644 and folders 0755 (the umask is 022) under ``<proj>/<rel>``."""
    top = ctx.proj / rel
    paths = [top, *top.rglob("*")] if top.is_dir() else [top]
    bad = []
    for p in paths:
        mode = stat.S_IMODE(p.lstat().st_mode)
        want = 0o755 if p.is_dir() else 0o644
        if mode != want:
            bad.append(f"{p.relative_to(ctx.proj)} {oct(mode)} (want {oct(want)})")
    assert not bad, "permissions: " + ", ".join(bad[:8])


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def csv_cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def no_live_formulas(ctx: Ctx, rel: str) -> None:
    """No text cell of any CSV under ``rel`` starts with a formula trigger."""
    top = ctx.proj / rel
    files = sorted(top.rglob("*.csv")) if top.is_dir() else [top]
    assert files, f"no CSV under {rel}"
    for file in files:
        for n, row in enumerate(csv_cells(file), start=1):
            for cell in row:
                if cell.startswith(TRIGGERS) and not _is_number(cell):
                    raise AssertionError(f"{file.relative_to(ctx.proj)} row {n}: live formula "
                                         f"cell {cell!r}")


def unprotect(cell: str) -> str:
    """One leading apostrophe removed when a trigger or an apostrophe follows (docs: cells)."""
    if cell.startswith("'") and cell[1:].startswith((*TRIGGERS, "'")):
        return cell[1:]
    return cell


def protected_column(ctx: Ctx, rel: str, column: str, expected: Mapping[str, str],
                     key: str) -> None:
    """Each expected value (by ``key``) is written as an apostrophe + the value."""
    rows = csv_cells(ctx.proj / rel)
    header = [unprotect(h) for h in rows[0]]
    hk, hc = header.index(key), header.index(column)
    got = {unprotect(r[hk]): r[hc] for r in rows[1:]}
    for k, value in expected.items():
        want = "'" + value
        assert got.get(k) == want, f"{rel} {column} for {k}: {got.get(k)!r}, want {want!r}"


def no_xlsx_formulas(ctx: Ctx, rel: str) -> None:
    import openpyxl

    book = openpyxl.load_workbook(ctx.proj / rel)
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{rel}[{sheet.title}]{cell.coordinate}: formula " \
                                              f"{cell.value!r}"
                if isinstance(cell.value, str) and not _is_number(cell.value):
                    assert not cell.value.startswith(TRIGGERS), (
                        f"{rel}[{sheet.title}]{cell.coordinate}: {cell.value!r}")


def xlsx_column(ctx: Ctx, rel: str, sheet: str, column: str) -> list[Any]:
    import openpyxl

    ws = openpyxl.load_workbook(ctx.proj / rel)[sheet]
    rows = list(ws.iter_rows(values_only=True))
    idx = list(rows[0]).index(column)
    return [r[idx] for r in rows[1:]]


def comparison_value(ctx: Ctx, rel: str, metric: str, scenario: str) -> float:
    frame = pd.read_csv(ctx.proj / rel / "comparison.csv", dtype=str, keep_default_na=False)
    row = frame[frame["metric"] == metric]
    assert len(row) == 1, f"no row {metric!r} in comparison.csv"
    return float(row[scenario].iloc[0])


def close(a: float, b: float, rel: float = 1e-6) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


def all_of(*checks: Callable[[Ctx, Outcome], None]) -> Callable[[Ctx, Outcome], None]:
    def check(ctx: Ctx, out: Outcome) -> None:
        for c in checks:
            c(ctx, out)

    return check
