"""Reading and writing data sets: a folder of CSV or Parquet files, or one ``.xlsx`` workbook.

Reading is two steps. :func:`read_raw` turns files into text tables, remembering where each row
came from; :func:`coerce_table` turns a text table into a typed one following :mod:`schema` and
reports every cell that does not fit. Both return problems rather than raising, so that a user
sees all of them at once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .problems import Problem
from .schema import TABLE_BY_NAME, TABLES, Column, Table

#: At most this many offending rows are listed per (table, column, rule); the rest are counted.
MAX_ROWS_LISTED = 10

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})


@dataclass(frozen=True)
class TableSource:
    """Where a table was read from, to point messages at the right line."""

    label: str
    #: Number added to a 0-based row position to get the line/row a user sees.
    first_line: int


@dataclass
class RawData:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sources: dict[str, TableSource] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def detect_format(path: Path) -> str:
    """``csv``, ``parquet`` or ``xlsx``."""
    if path.is_file() and path.suffix.lower() in {".xlsx", ".xlsm"}:
        return "xlsx"
    if path.is_dir():
        if any(path.glob("*.csv")):
            return "csv"
        if any(path.glob("*.parquet")):
            return "parquet"
        return "csv"
    raise FileNotFoundError(path)


def read_raw(path: str | os.PathLike[str]) -> RawData:
    """Read every table of a data set as text (or native Parquet types), without judging it."""
    root = Path(path)
    raw = RawData()
    if not root.exists():
        raw.problems.append(Problem("error", "data set not found: expected a folder of CSV or "
                                    "Parquet files, or an .xlsx workbook", source=str(root)))
        return raw
    if root.is_file() and root.suffix.lower() not in {".xlsx", ".xlsm"}:
        raw.problems.append(Problem("error", "expected a folder of CSV/Parquet files or an .xlsx "
                                    "workbook", source=str(root)))
        return raw
    fmt = detect_format(root)
    if fmt == "xlsx":
        _read_workbook(root, raw)
    else:
        _read_folder(root, fmt, raw)
    for table in TABLES:
        if table.name not in raw.tables and not table.optional:
            expected = f"sheet '{table.name}'" if fmt == "xlsx" else f"{table.name}.{fmt}"
            raw.problems.append(Problem("error", f"required table missing: expected {expected}",
                                        source=str(root)))
    return raw


def _read_folder(root: Path, fmt: str, raw: RawData) -> None:
    known = set(TABLE_BY_NAME)
    for file in sorted(root.glob(f"*.{fmt}")):
        if file.stem not in known:
            raw.problems.append(Problem("warning", "not a table of the data contract; ignored",
                                        source=file.name))
            continue
        try:
            if fmt == "csv":
                frame = pd.read_csv(file, dtype=str, keep_default_na=False, na_filter=False,
                                    encoding="utf-8-sig", skipinitialspace=False)
                first = 2  # header is line 1
            else:
                frame = pd.read_parquet(file)
                first = 1
        except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
            raw.problems.append(Problem("error", f"cannot read file: {exc}", source=file.name))
            continue
        raw.tables[file.stem] = frame
        raw.sources[file.stem] = TableSource(file.name, first)


def _read_workbook(path: Path, raw: RawData) -> None:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False,
                               na_filter=False, engine="openpyxl")
    except (ValueError, OSError) as exc:
        raw.problems.append(Problem("error", f"cannot read workbook: {exc}", source=path.name))
        return
    for name, frame in sheets.items():
        if name not in TABLE_BY_NAME:
            raw.problems.append(Problem("warning", "sheet is not a table of the data contract; "
                                        "ignored", source=f"{path.name}[{name}]"))
            continue
        raw.tables[name] = frame
        raw.sources[name] = TableSource(f"{path.name}[{name}]", 2)


class _Reporter:
    """Collects cell problems for one table, listing a few rows per rule and counting the rest."""

    def __init__(self, source: TableSource, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems

    def cells(self, mask: np.ndarray, column: str, values: pd.Series, message: str,
              severity: str = "error") -> None:
        positions = np.flatnonzero(mask)
        for pos in positions[:MAX_ROWS_LISTED]:
            self.problems.append(Problem(severity, message, source=self.source.label,  # type: ignore[arg-type]
                                         line=int(pos) + self.source.first_line, column=column,
                                         value=str(values.iloc[pos])))
        if len(positions) > MAX_ROWS_LISTED:
            self.problems.append(Problem(severity,  # type: ignore[arg-type]
                                         f"… and {len(positions) - MAX_ROWS_LISTED} more rows "
                                         f"with the same problem: {message}",
                                         source=self.source.label, column=column))


def _as_text(series: pd.Series) -> pd.Series:
    """Cell values as stripped text, '' for blank, whatever type the reader produced."""
    if pd.api.types.is_float_dtype(series.dtype):
        # Parquet/Excel may hand ids over as floats: 101.0 must read as '101'.
        whole = series.notna() & (series == np.floor(series))
        text = series.astype(object).where(~whole, series.where(whole).astype("Int64"))
        return text.astype(str).where(series.notna(), "").str.strip()
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.map({True: "true", False: "false"}).astype(str)
    return series.astype(object).where(series.notna(), "").astype(str).str.strip()


def coerce_table(table: Table, frame: pd.DataFrame, source: TableSource,
                 problems: list[Problem]) -> pd.DataFrame | None:
    """Type ``frame`` after ``table``'s columns, reporting every misfit. ``None`` if unusable."""
    report = _Reporter(source, problems)
    present = [str(c).strip() for c in frame.columns]
    frame = frame.set_axis(present, axis=1)
    missing = [c for c in table.required_columns if c not in present]
    for name in missing:
        problems.append(Problem("error", f"required column missing (table needs: "
                                f"{', '.join(table.required_columns)})", source=source.label,
                                column=name))
    for name in present:
        if name not in table.column_names:
            problems.append(Problem("warning", "column is not in the data contract; ignored",
                                    source=source.label, column=name))
    if len(set(present)) != len(present):
        problems.append(Problem("error", "duplicate column names in header", source=source.label))
        return None
    if missing:
        return None

    out: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.name in frame.columns:
            out[col.name] = _coerce_column(col, frame[col.name], report)
        else:
            out[col.name] = default_column(col, len(frame))
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def default_column(col: Column, n: int) -> pd.Series:
    if col.kind in ("number", "integer"):
        value = np.nan if col.default is None else float(col.default)  # type: ignore[arg-type]
        series = pd.Series(np.full(n, value, dtype=float))
        whole = col.kind == "integer" and col.default is not None
        return series.astype("int64") if whole else series
    if col.kind == "bool":
        return pd.Series(np.full(n, bool(col.default), dtype=bool))
    return pd.Series([col.default] * n, dtype=object)


def _coerce_column(col: Column, series: pd.Series, report: _Reporter) -> pd.Series:
    text = _as_text(series)
    blank = (text == "").to_numpy()
    if col.required and blank.any():
        report.cells(blank, col.name, text, f"blank, expected {col.expectation()}")

    if col.kind in ("id", "text"):
        return text.where(~blank, col.default).astype(object)

    if col.kind == "bool":
        low = text.str.lower()
        is_true = low.isin(_TRUE).to_numpy()
        is_false = low.isin(_FALSE).to_numpy()
        bad = ~blank & ~is_true & ~is_false
        if bad.any():
            report.cells(bad, col.name, text, f"expected {col.expectation()}")
        return pd.Series(np.where(blank, bool(col.default), is_true), dtype=bool)

    if col.kind == "choice":
        low = text.str.lower()
        bad = ~blank & ~low.isin(col.choices or ()).to_numpy()
        if bad.any():
            report.cells(bad, col.name, text, f"expected {col.expectation()}")
        return low.where(~blank, col.default).astype(object)

    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.astype(float).to_numpy(copy=True)
    else:
        values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    bad_type = ~blank & ~finite
    if col.kind == "integer":
        bad_type |= finite & (values != np.round(values))
    if bad_type.any():
        report.cells(bad_type, col.name, text, f"expected {col.expectation()}")
    ok = finite & ~bad_type
    out_of_range = np.zeros(len(values), dtype=bool)
    if col.minimum is not None:
        with np.errstate(invalid="ignore"):
            low = values <= col.minimum if col.exclusive_minimum else values < col.minimum
        out_of_range |= ok & low
    if col.maximum is not None:
        with np.errstate(invalid="ignore"):
            out_of_range |= ok & (values > col.maximum)
    if out_of_range.any():
        report.cells(out_of_range, col.name, text, f"out of range, expected {col.expectation()}")
    fill = np.nan if col.default is None else float(col.default)  # type: ignore[arg-type]
    values = np.where(blank | bad_type, fill, values)
    if col.kind == "integer" and col.default is not None:
        return pd.Series(np.nan_to_num(values, nan=fill).astype("int64"))
    return pd.Series(values, dtype=float)


# --------------------------------------------------------------------------- writing

def _text_frame(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """A typed table as the text a user would type: ids verbatim, blanks for missing."""
    out = {}
    for col in table.columns:
        series = frame[col.name] if col.name in frame.columns else default_column(col, len(frame))
        if col.kind == "bool":
            out[col.name] = series.map({True: "true", False: "false"}).astype(object)
        elif col.kind in ("number", "integer"):
            numeric = pd.to_numeric(series, errors="coerce")
            whole = numeric.notna() & (numeric == np.floor(numeric))
            text = numeric.map(repr).astype(object)
            text = text.where(~whole, numeric.where(whole).astype("Int64").astype(str))
            out[col.name] = text.where(numeric.notna(), "")
        else:
            out[col.name] = series.astype(object).where(series.notna(), "").astype(str)
    return pd.DataFrame(out)


def write_tables(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike[str],
                 fmt: str | None = None) -> Path:
    """Write a data set; the target appears complete or not at all.

    ``fmt`` is ``csv`` (a folder), ``parquet`` (a folder) or ``xlsx`` (one workbook);
    by default ``xlsx`` when the path ends in ``.xlsx``, else ``csv``.
    """
    target = Path(path)
    fmt = fmt or ("xlsx" if target.suffix.lower() == ".xlsx" else "csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    ordered = [(t, tables[t.name]) for t in TABLES if t.name in tables]
    if fmt == "xlsx":
        fd, tmp_name = tempfile.mkstemp(suffix=".xlsx", dir=target.parent)
        os.close(fd)
        try:
            with pd.ExcelWriter(tmp_name, engine="openpyxl") as writer:
                for table, frame in ordered:
                    _text_frame(table, frame).to_excel(writer, sheet_name=table.name, index=False)
            os.replace(tmp_name, target)
        finally:
            if os.path.exists(tmp_name):
                os.unlink(tmp_name)
        return target
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for table, frame in ordered:
            if fmt == "csv":
                _text_frame(table, frame).to_csv(tmp_dir / f"{table.name}.csv", index=False)
            elif fmt == "parquet":
                _text_frame(table, frame).to_parquet(tmp_dir / f"{table.name}.parquet",
                                                     index=False)
            else:
                raise ValueError(f"unknown format {fmt!r}: expected csv, parquet or xlsx")
        _replace_dir(tmp_dir, target)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir)
    return target


def _replace_dir(new: Path, target: Path) -> None:
    """Move the files of ``new`` into ``target``.

    A new target appears at once (one rename). An existing folder keeps its other files (a
    README, say) and gets each table by an atomic rename, after all were written completely.
    """
    if not target.exists():
        new.rename(target)
        return
    for file in new.iterdir():
        os.replace(file, target / file.name)
