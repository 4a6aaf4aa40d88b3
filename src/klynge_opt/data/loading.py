"""Reading and writing data sets: a folder of CSV or Parquet files, or one ``.xlsx`` workbook.

Reading is two steps. :func:`read_raw` turns files into text tables, remembering the physical
line (as a text editor shows it) or sheet row of each row; :func:`coerce_table` turns a text
table into a typed one following :mod:`schema` and reports every cell that does not fit. Both
return problems rather than raising, so that a user sees all of them at once.

Spreadsheet habits are met half-way: a semicolon-separated or Windows-1252 CSV (Danish Excel's
defaults) is read with a warning, blank lines and blank rows are skipped, and Danish number
formats (``1,5``, ``1.500``) get a hint instead of a silent misreading.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .. import fsio
from ..cells import QUOTE, TRIGGERS, protect, unprotect
from ..problems import Problem
from .schema import TABLE_BY_NAME, TABLES, Column, Table

#: At most this many offending rows are listed per (table, column, rule); the rest are counted.
MAX_ROWS_LISTED = 10

#: Formats :func:`write_tables` and :func:`read_raw` know.
FORMATS: tuple[str, ...] = ("csv", "parquet", "xlsx")

_TRUE = frozenset({"true", "1", "yes", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "n", "f"})

_BOM = b"\xef\xbb\xbf"
_DELIMITERS = (",", ";", "\t")
# A valid UTF-8 multi-byte sequence; Windows-1252 text almost never contains one.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]")
_FIELDS_MISMATCH = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
# Danish spreadsheets write 1.500 for fifteen hundred and 1,5 for one and a half.
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(\.\d{3})+")
_DECIMAL_COMMA = re.compile(r"[+-]?\d[\d.]*,\d+")


@dataclass(frozen=True)
class TableSource:
    """Where a table was read from, to point messages at the right line."""

    label: str
    #: Number added to a 0-based row position to get the line/row a user sees, when every row
    #: took exactly one line.
    first_line: int
    #: Physical line (CSV) or sheet row (xlsx) of each row, when rows and lines do not
    #: correspond one to one (blank lines skipped, values spanning lines).
    lines: np.ndarray | None = field(default=None, compare=False, repr=False)
    #: (line, column) of cells the reader already reported (a formula without a value, a
    #: merged cell), so that coercing does not report them again as blank.
    reported: frozenset[tuple[int, str]] = field(default=frozenset(), compare=False, repr=False)

    def line(self, pos: int) -> int:
        """The line/row a user sees for the row at 0-based position ``pos``."""
        if self.lines is None:
            return int(pos) + self.first_line
        return int(self.lines[pos])


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
        if not _read_workbook(root, raw):
            return raw  # one clear problem, not one per table as well
    else:
        _read_folder(root, fmt, raw)
    for name, frame in raw.tables.items():
        raw.tables[name] = _unprotect_table(TABLE_BY_NAME[name], frame)
    for table in TABLES:
        unreadable = fmt != "xlsx" and (root / f"{table.name}.{fmt}").exists()
        if table.name not in raw.tables and not table.optional and not unreadable:
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
        read = _read_csv(file, raw.problems) if fmt == "csv" else _read_parquet(file,
                                                                                raw.problems)
        if read is not None:
            raw.tables[file.stem], raw.sources[file.stem] = read


def read_text_csv(file: Path, problems: list[Problem]) -> pd.DataFrame | None:
    """Any CSV file as text cells, read as carefully as a data-set table (encoding, separator,
    stray CR, blank rows); ``None`` after adding the problem that stopped it."""
    read = _read_csv(file, problems)
    return None if read is None else read[0]


def _read_parquet(file: Path, problems: list[Problem]) -> tuple[pd.DataFrame, TableSource] | None:
    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises many kinds for a damaged file; all mean "unreadable"
        problems.append(Problem("error", f"not a readable .parquet file ({_reason(exc)}); "
                                "write it again", source=file.name))
        return None
    return frame, TableSource(file.name, 1)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


# --------------------------------------------------------------------------- CSV


def _read_csv(file: Path, problems: list[Problem]) -> tuple[pd.DataFrame, TableSource] | None:
    label = file.name
    try:
        data = file.read_bytes()
    except OSError as exc:
        problems.append(Problem("error", f"cannot read file: {exc.strerror or exc}",
                                source=label))
        return None
    data = data.removeprefix(_BOM)
    encoding = _encoding(data, label, problems)
    if encoding is None:
        return None
    data, skipped = _without_leading_blank_lines(data)
    if not data:
        problems.append(Problem("error", "empty file: expected a header line with the column "
                                "names", source=label))
        return None
    newline = b"\n" if b"\n" in data else b"\r"
    sep = _delimiter(data, newline, encoding, label, problems, skipped)
    record_lines = _record_lines(data, newline)
    # A lone CR in a file of LF lines is data that a csv writer left unquoted, not a line end.
    lone_cr = newline == b"\n" and b"\r" in data and b"\r\n" not in data
    try:
        # Blank lines are kept as rows here so that row positions match records; they are
        # dropped below, together with rows whose cells are all blank.
        frame = pd.read_csv(io.BytesIO(data), sep=sep, dtype=str, keep_default_na=False,
                            na_filter=False, encoding=encoding, skip_blank_lines=False,
                            lineterminator="\n" if lone_cr else None)
    except pd.errors.ParserError as exc:
        problems.append(_parser_problem(str(exc), label, record_lines, skipped))
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(Problem("error", f"cannot read file: {exc}", source=label))
        return None
    names = _header_names(data, newline, encoding, sep)
    if len(names) == frame.shape[1]:
        # pandas renames a repeated name (cost, cost.1); the contract check needs the original.
        frame = frame.set_axis(names, axis=1)
    lines = None if record_lines is None else record_lines[1:len(frame) + 1] + skipped
    frame, lines = _drop_blank_rows(frame, lines, first_line=2 + skipped)
    return frame, TableSource(label, 2 + skipped, lines)


def _encoding(data: bytes, label: str, problems: list[Problem]) -> str | None:
    """The codec to read ``data`` with; a warning when it is not UTF-8, ``None`` if unusable."""
    nul = data.find(b"\x00")
    if nul >= 0:
        problems.append(Problem("error", "not a text CSV file (it contains NUL bytes; UTF-16 "
                                "text or a binary file?): save as comma-separated UTF-8 (CSV "
                                "UTF-8)", source=label, line=_line_at(data, nul)))
        return None
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        line = _line_at(data, exc.start)
    if _UTF8_SEQUENCE.search(data):
        problems.append(Problem("error", "mixes UTF-8 with another encoding (first non-UTF-8 "
                                "character on this line): save as comma-separated UTF-8 (CSV "
                                "UTF-8)", source=label, line=line))
        return None
    try:
        data.decode("cp1252")
        encoding, name = "cp1252", "Windows-1252"
    except UnicodeDecodeError:
        encoding, name = "latin-1", "Latin-1"
    problems.append(Problem("warning", f"{label} is not UTF-8 (read as {name}); save as "
                            "comma-separated UTF-8 to be sure of special characters",
                            source=label, line=line))
    return encoding


def _line_at(data: bytes, offset: int) -> int:
    """Physical line (1-based) of a byte offset."""
    newline = b"\n" if b"\n" in data else b"\r"
    return data.count(newline, 0, offset) + 1


def _without_leading_blank_lines(data: bytes) -> tuple[bytes, int]:
    """``data`` from its first non-blank line, and how many lines were skipped."""
    if data[:1] not in (b" ", b"\t", b"\r", b"\n"):
        return data, 0  # the usual case, decided without copying the file
    rest = data.lstrip(b" \t\r\n")
    if not rest:
        return b"", 0
    start = len(data) - len(rest)
    # Back up to the start of the line holding the first non-blank character.
    start = max(data.rfind(b"\n", 0, start), data.rfind(b"\r", 0, start)) + 1
    newline = b"\n" if b"\n" in data else b"\r"
    return data[start:], data.count(newline, 0, start)


def _delimiter(data: bytes, newline: bytes, encoding: str, label: str,
               problems: list[Problem], skipped: int) -> str:
    """The delimiter of the header line: column names hold none, unlike text values."""
    end = data.find(newline)
    header = (data if end < 0 else data[:end]).decode(encoding, errors="replace")
    counts = {d: header.count(d) for d in _DELIMITERS}
    sep = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    if counts[sep] == 0:
        return ","
    if sep != ",":
        shown = "tab" if sep == "\t" else f"'{sep}'"
        problems.append(Problem("warning", f"{label} uses {shown} as delimiter (read as such); "
                                "save as comma-separated UTF-8 to silence this", source=label,
                                line=skipped + 1))
    return sep


def _header_names(data: bytes, newline: bytes, encoding: str, sep: str) -> list[str]:
    """Column names exactly as the header record spells them (duplicates kept)."""
    end = data.find(newline)
    head = (data if end < 0 else data[:end]).decode(encoding, errors="replace")
    if head.count('"') % 2:
        # A quoted name spans lines: read the header record from a larger piece.
        head = data[:1 << 16].decode(encoding, errors="replace")
    return next(csv.reader(io.StringIO(head, newline=""), delimiter=sep), [])


def _record_lines(data: bytes, newline: bytes) -> np.ndarray | None:
    """Physical line where each CSV record (header first) starts; ``None`` when record k is on
    line k + 1, i.e. no quoted value spans lines. Vectorised: 1M rows in a fraction of a second.
    """
    if b'"' not in data:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    breaks = np.flatnonzero(buf == newline[0])
    # A line break after an odd number of quotes is inside a quoted value ("" escapes count 2).
    parity = np.cumsum(buf == ord('"'), dtype=np.uint8) & 1
    inside = parity[breaks].astype(bool)
    if not inside.any():
        return None
    return np.concatenate(([1], np.flatnonzero(~inside) + 2)).astype(np.int64)


def _parser_problem(message: str, label: str, record_lines: np.ndarray | None,
                    skipped: int) -> Problem:
    def line_of(record: int) -> int:
        if record_lines is None or record >= len(record_lines):
            return record + 1 + skipped
        return int(record_lines[record]) + skipped

    mismatch = _FIELDS_MISMATCH.search(message)
    if mismatch:
        expected, record, saw = (int(g) for g in mismatch.groups())
        return Problem("error", f"row has {saw} values but the header has {expected} columns "
                       "(a value containing the delimiter must be quoted)", source=label,
                       line=line_of(record - 1))
    quote = _OPEN_QUOTE.search(message)
    if quote:
        return Problem("error", "a quoted value starting on this line is never closed: add the "
                       "closing '\"'", source=label, line=line_of(int(quote.group(1))))
    return Problem("error", f"cannot read file: {message.strip()}", source=label)


def _drop_blank_rows(frame: pd.DataFrame, lines: np.ndarray | None,
                     first_line: int) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Without rows whose cells are all blank (blank lines, spreadsheet leftovers)."""
    if frame.empty or frame.shape[1] == 0:
        return frame, lines
    first = frame.iloc[:, 0].astype(str)
    # Cheap screen on the first column; only the few candidates are checked in full.
    candidate = ((first == "") | first.str.startswith((" ", "\t"))).to_numpy()
    if not candidate.any():
        return frame, lines
    rows = np.flatnonzero(candidate)
    sub = frame.iloc[rows].astype(str)
    blank_sub = np.ones(len(rows), dtype=bool)
    for i in range(sub.shape[1]):
        blank_sub &= (sub.iloc[:, i].str.strip() == "").to_numpy()
    if not blank_sub.any():
        return frame, lines
    keep = np.ones(len(frame), dtype=bool)
    keep[rows[blank_sub]] = False
    if lines is None:
        lines = np.arange(len(frame), dtype=np.int64) + first_line
    return frame.iloc[keep].reset_index(drop=True), lines[keep]


# --------------------------------------------------------------------------- xlsx


def _read_workbook(path: Path, raw: RawData) -> bool:
    """Read every sheet into ``raw``; ``False`` if the file is not a workbook at all."""
    try:
        # Not read-only: merged ranges and formula cells are only visible in a full load.
        book = openpyxl.load_workbook(path, data_only=False)
    except Exception as exc:  # zipfile, XML and openpyxl errors alike mean "not a workbook"
        raw.problems.append(Problem("error", f"not a readable .xlsx workbook ({_reason(exc)}); "
                                    "save it again from Excel", source=path.name))
        return False
    cached: list[openpyxl.Workbook] = []

    def cached_value(sheet: str, row: int, column: int) -> object:
        # Formula results are in a second view of the file; loaded only if a formula exists.
        if not cached:
            cached.append(openpyxl.load_workbook(path, data_only=True))
        return cached[0][sheet].cell(row=row, column=column).value

    for ws in book.worksheets:
        label = f"{path.name}[{ws.title}]"
        if ws.title not in TABLE_BY_NAME:
            raw.problems.append(Problem("warning", "sheet is not a table of the data contract; "
                                        "ignored", source=label))
            continue
        frame, source = _read_sheet(ws, label, cached_value, raw.problems)
        raw.tables[ws.title] = frame
        raw.sources[ws.title] = source
    return True


def _read_sheet(ws: Worksheet, label: str, cached_value: Callable[[str, int, int], object],
                problems: list[Problem]) -> tuple[pd.DataFrame, TableSource]:
    rows = [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
    header_at = next((i for i, r in enumerate(rows) if any(_cell_text(v) for v in r)), None)
    if header_at is None:
        return pd.DataFrame(), TableSource(label, 2)
    names = [_cell_text(v).strip() for v in rows[header_at]]
    reported = _merged_cells(ws, names, label, problems)
    columns: list[list[str]] = [[] for _ in names]
    for r in range(header_at + 1, len(rows)):
        for c, name in enumerate(names):
            value = rows[r][c] if c < len(rows[r]) else None
            if _may_be_special(value):
                value = _special_cell(ws, r + 1, c + 1, value, name, label, cached_value,
                                      problems)
                if value is None:
                    reported.add((r + 1, name))
            columns[c].append(_cell_text(value))
    frame = pd.DataFrame(dict(enumerate(columns)), dtype=object).set_axis(names, axis=1)
    first_line = header_at + 2
    lines = np.arange(len(frame), dtype=np.int64) + first_line
    frame, lines = _drop_blank_rows(frame, lines, first_line)
    return frame, TableSource(label, first_line, lines, frozenset(reported))


def _merged_cells(ws: Worksheet, names: list[str], label: str,
                  problems: list[Problem]) -> set[tuple[int, str]]:
    """Report merged ranges; return the (row, column) cells they left blank."""
    blanked: set[tuple[int, str]] = set()
    for rng in ws.merged_cells.ranges:
        first = names[rng.min_col - 1] if rng.min_col <= len(names) else ""
        problems.append(Problem("error", f"merged cells {rng.coord}: only the first cell keeps a "
                                "value; unmerge them and fill in every cell", source=label,
                                line=rng.min_row, column=first or get_column_letter(rng.min_col)))
        for row, col in rng.cells:
            if (row, col) != (rng.min_row, rng.min_col) and col <= len(names):
                blanked.add((row, names[col - 1]))
    return blanked


def _may_be_special(value: object) -> bool:
    """Whether a cell may be a formula or an error value rather than data."""
    if isinstance(value, str):
        return value.startswith("=") or value in ERROR_CODES
    return value is not None and not isinstance(value, (int, float, dt.date, dt.time,
                                                        dt.timedelta))


def _special_cell(ws: Worksheet, row: int, col: int, value: object, name: str, label: str,
                  cached_value: Callable[[str, int, int], object],
                  problems: list[Problem]) -> object:
    """The data value of a formula or error cell, reporting what cannot be used."""
    cell = ws.cell(row=row, column=col)
    where = f"cell {get_column_letter(col)}{row}"
    if cell.data_type == "e":
        problems.append(Problem("error", f"spreadsheet error value in {where}: correct the "
                                "formula or type the value", source=label, line=row,
                                column=name, value=str(value)))
        return None
    if cell.data_type != "f":
        return value
    result = cached_value(ws.title, row, col)
    if result is None:
        problems.append(Problem("error", f"formula without a computed value in {where}: open and "
                                "save the workbook in Excel, or type the value", source=label,
                                line=row, column=name, value=str(getattr(value, "text", value))))
    return result


def _cell_text(value: object) -> str:
    """A spreadsheet value as the text a CSV would hold ('' for an empty cell)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # Excel stores every number as a double: 101.0 is the id or count 101.
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------- typing


class _Reporter:
    """Collects cell problems for one table, listing a few rows per rule and counting the rest."""

    def __init__(self, source: TableSource, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems

    def cells(self, mask: np.ndarray, column: str, values: pd.Series, message: str,
              severity: str = "error") -> None:
        positions = np.flatnonzero(mask)
        if self.source.reported:
            positions = np.array([p for p in positions
                                  if (self.source.line(p), column) not in self.source.reported],
                                 dtype=np.int64)
        for pos in positions[:MAX_ROWS_LISTED]:
            self.problems.append(Problem(severity, message, source=self.source.label,  # type: ignore[arg-type]
                                         line=self.source.line(pos), column=column,
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
        whole = _exact_whole(series)
        text = series.astype(object).where(~whole, series.where(whole).astype("Int64"))
        return text.astype(str).where(series.notna(), "").str.strip()
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.map({True: "true", False: "false"}).astype(str)
    if isinstance(series.dtype, pd.StringDtype):
        # Already text: stripping in place spares a Python-level pass over every cell.
        return series.fillna("").str.strip().astype(str)
    return series.astype(object).where(series.notna(), "").astype(str).str.strip()


def _exact_whole(numbers: pd.Series) -> pd.Series:
    """Values written best without a decimal point; beyond 2**53 a float is not an integer
    one can count on (and 1e300 does not fit an int64)."""
    with np.errstate(invalid="ignore"):
        return numbers.notna() & (numbers == np.floor(numbers)) & (numbers.abs() < 2.0**53)


def coerce_table(table: Table, frame: pd.DataFrame, source: TableSource,
                 problems: list[Problem]) -> pd.DataFrame | None:
    """Type ``frame`` after ``table``'s columns, reporting every misfit. ``None`` if unusable."""
    report = _Reporter(source, problems)
    frame = _without_unnamed_columns(frame, source, problems)
    present = [str(c).strip() for c in frame.columns]
    frame = frame.set_axis(present, axis=1)
    missing = [c for c in table.required_columns if c not in present]
    for name in missing:
        problems.append(Problem("error", f"required column missing (table needs: "
                                f"{', '.join(table.required_columns)})", source=source.label,
                                column=name))
    for name in dict.fromkeys(present):
        if name not in table.column_names:
            problems.append(Problem("warning", "column is not in the data contract; ignored",
                                    source=source.label, column=name))
    repeated = pd.Index(present)[pd.Index(present).duplicated()].unique()
    for name in repeated:
        problems.append(Problem("error", "duplicate column names in header: keep one column "
                                f"'{name}'", source=source.label, column=name))
    if len(repeated) or missing:
        return None

    out: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.name in frame.columns:
            out[col.name] = _coerce_column(col, frame[col.name], report)
        else:
            out[col.name] = default_column(col, len(frame))
    return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))


def _without_unnamed_columns(frame: pd.DataFrame, source: TableSource,
                             problems: list[Problem]) -> pd.DataFrame:
    """Drop columns with a blank header: spreadsheet leftovers, or values nobody can place."""
    names = [str(c).strip() for c in frame.columns]
    unnamed = [i for i, n in enumerate(names) if n == ""]
    if not unnamed:
        return frame
    for i in unnamed:
        if (_as_text(frame.iloc[:, i]) != "").any():
            problems.append(Problem("warning", "column has values but no name in the header; "
                                    "ignored", source=source.label,
                                    column=f"column {get_column_letter(i + 1)}"))
    keep = [i for i in range(len(names)) if i not in set(unnamed)]
    return frame.iloc[:, keep]


def default_column(col: Column, n: int) -> pd.Series:
    if col.kind in ("number", "integer"):
        value = np.nan if col.default is None else float(col.default)  # type: ignore[arg-type]
        series = pd.Series(np.full(n, value, dtype=float))
        whole = col.kind == "integer" and col.default is not None
        return series.astype("int64") if whole else series
    if col.kind == "bool":
        return pd.Series(np.full(n, bool(col.default), dtype=bool))
    return pd.Series([col.default] * n, dtype=object)


def _starts_with_quote(series: pd.Series) -> np.ndarray:
    """Cells that are text starting with an apostrophe, screened without converting the column
    (converting a million cells costs more than the check)."""
    try:
        found = series.str.startswith(QUOTE)
    except AttributeError:  # an object column without any text, e.g. all blank
        return np.zeros(len(series), dtype=bool)
    return found.fillna(False).to_numpy(dtype=bool)


def _unprotect_table(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`cells.protect` in the id and text columns of a table read from a file.

    Only files carry protection: tables built in code keep a leading apostrophe as typed.
    """
    text_columns = {c.name for c in table.columns if c.kind in ("id", "text")}
    out = frame
    for i, name in enumerate(frame.columns):
        series = frame.iloc[:, i]
        if str(name).strip() not in text_columns or not (
                pd.api.types.is_string_dtype(series.dtype)
                or pd.api.types.is_object_dtype(series.dtype)):
            continue
        marked = _starts_with_quote(series)
        if marked.any():
            text = series.astype(object).where(series.notna(), "").astype(str)
            if out is frame:
                out = frame.copy()
            fixed = text.copy()
            fixed[marked] = text[marked].map(unprotect)
            out.isetitem(i, fixed.where(series.notna(), series))
    return out


def _coerce_column(col: Column, series: pd.Series, report: _Reporter) -> pd.Series:
    text = _as_text(series)
    blank = (text == "").to_numpy()
    if col.required and blank.any():
        report.cells(blank, col.name, text, f"blank, expected {col.expectation()}")

    if col.kind in ("id", "text"):
        if col.kind == "id":
            # A blank cell that another program wrote out as 'nan' must not become an id.
            nan = (text.str.lower() == "nan").to_numpy()
            if nan.any():
                report.cells(nan, col.name, text, "'nan' is not an id (a blank cell written by "
                             "another program?): give the real id")
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

    typed = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
        series.dtype)
    if typed:
        values = series.astype(float).to_numpy(copy=True)
    else:
        values = pd.to_numeric(text.where(~blank), errors="coerce").to_numpy(dtype=float)
    finite = np.isfinite(values)
    bad_type = ~blank & ~finite
    if col.kind == "integer":
        bad_type |= finite & (values != np.round(values))
    thousands = np.zeros(len(values), dtype=bool) if typed else _matches(text, ".", _THOUSANDS)
    if bad_type.any():
        hinted = _report_number_hints(col, text, bad_type, thousands, report)
        generic = bad_type & ~hinted
        if generic.any():
            report.cells(generic, col.name, text, f"expected {col.expectation()}")
    ok = finite & ~bad_type
    if (col.count or col.kind == "integer") and (thousands & ok).any():
        report.cells(thousands & ok, col.name, text, "read with a decimal point; if a thousands "
                     "separator was meant, write the number without it (1500, not 1.500)",
                     severity="warning")
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


def _matches(text: pd.Series, char: str, pattern: re.Pattern[str]) -> np.ndarray:
    """Cells that fully match ``pattern``; only cells containing ``char`` are tested (fast)."""
    out = np.zeros(len(text), dtype=bool)
    has = text.str.contains(char, regex=False).to_numpy()
    if has.any():
        rows = np.flatnonzero(has)
        out[rows] = text.iloc[rows].str.fullmatch(pattern.pattern).to_numpy(dtype=bool)
    return out


def _report_number_hints(col: Column, text: pd.Series, bad: np.ndarray, thousands: np.ndarray,
                         report: _Reporter) -> np.ndarray:
    """Report bad numbers in a Danish format with a hint; return the cells reported."""
    comma = bad & _matches(text, ",", _DECIMAL_COMMA)
    if comma.any():
        report.cells(comma, col.name, text, f"expected {col.expectation()}: decimal comma? use a "
                     "point (1.5, not 1,5) and no thousands separators")
    separated = bad & thousands
    if separated.any():
        report.cells(separated, col.name, text, f"expected {col.expectation()}: thousands "
                     "separator? write 1500, not 1.500 (the only separator is the decimal "
                     "point)")
    return comma | separated


# --------------------------------------------------------------------------- writing


def _cell_series(col: Column, series: pd.Series) -> pd.Series:
    """Text for a text-like column, protected against formula evaluation."""
    text = series.astype(object).where(series.notna(), "").astype(str)
    risky = text.str.startswith((*TRIGGERS, QUOTE)).to_numpy()
    if risky.any():
        text = text.copy()
        text[risky] = text[risky].map(protect)
    return text


def _text_frame(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """A typed table as the text a user would type: ids verbatim, blanks for missing."""
    out = {}
    for col in table.columns:
        series = frame[col.name] if col.name in frame.columns else default_column(col, len(frame))
        if col.kind == "bool":
            out[col.name] = series.map({True: "true", False: "false"}).astype(object)
        elif col.kind in ("number", "integer"):
            numeric = pd.to_numeric(series, errors="coerce")
            whole = _exact_whole(numeric)
            text = numeric.map(repr).astype(object)
            text = text.where(~whole, numeric.where(whole).astype("Int64").astype(str))
            out[col.name] = text.where(numeric.notna(), "")
        else:
            out[col.name] = _cell_series(col, series)
    return pd.DataFrame(out)


def _typed_cells(ws: object, table: Table, frame: pd.DataFrame) -> list[list[object]]:
    """Columns of Python values for a worksheet: numbers, booleans and protected text."""
    columns: list[list[object]] = []
    for col in table.columns:
        series = frame[col.name] if col.name in frame.columns else default_column(col, len(frame))
        if col.kind == "bool":
            columns.append([bool(v) for v in series.tolist()])
        elif col.kind in ("number", "integer"):
            numeric = pd.to_numeric(series, errors="coerce").astype(float)
            values = numeric.tolist()
            as_int = col.kind == "integer"
            columns.append([None if v != v else (int(v) if as_int else v) for v in values])
        else:
            columns.append([_text_cell(ws, v) for v in _cell_series(col, series).tolist()])
    return columns


def _text_cell(ws: object, value: str) -> object:
    if value == "":
        return None
    if value in ERROR_CODES:
        # openpyxl would store '#N/A' as an error value; force a text cell.
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _write_workbook(ordered: list[tuple[Table, pd.DataFrame]], path: Path) -> None:
    book = openpyxl.Workbook(write_only=True)
    for table, frame in ordered:
        ws = book.create_sheet(table.name)
        ws.append(list(table.column_names))
        for row in zip(*_typed_cells(ws, table, frame), strict=True):
            ws.append(row)
    book.save(path)


def _table_files(folder: Path) -> list[Path]:
    """Files of ``folder`` that are tables of the contract, in any folder format."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.stem in TABLE_BY_NAME
                  and p.suffix.lower() in (".csv", ".parquet"))


def _refuse_existing(target: Path, fmt: str, force: bool) -> None:
    """Refuse to replace an existing data set (or anything that is not one) without force."""
    if fmt == "xlsx":
        if target.is_dir():
            raise fsio.OutputError(f"refusing to write {target}: it is a folder; give a file "
                                   "name ending in .xlsx", target)
        if target.exists() and not force:
            raise fsio.OutputError(f"refusing to replace {target}: it already exists; use "
                                   "--force to replace it", target)
        return
    fsio.guard_target(target, "data", force=True)
    if not target.exists() or force:
        return
    found = _table_files(target)
    if found:
        shown = ", ".join(p.name for p in found[:3]) + (" …" if len(found) > 3 else "")
        raise fsio.OutputError(f"refusing to replace {target}: it holds a data set ({shown}); "
                               "use --force to replace it", target)
    others = [p.name for p in target.iterdir() if p.name != fsio.MARKER]
    if others:
        # Someone else's folder: a data set must not be mixed into it by accident.
        raise fsio.OutputError(f"refusing to write a data set into {target}: it holds other "
                               f"files ({', '.join(sorted(others)[:3])}); choose a new or empty "
                               "folder, or use --force to add the tables (other files are kept)",
                               target)


def _carry_over(source: Path, staging: Path) -> None:
    """Copy the files of an existing folder that are not tables (a README, say)."""
    tables = set(_table_files(source))
    for entry in source.iterdir():
        if entry in tables or entry.name == fsio.MARKER:
            continue
        dest = staging / entry.name
        if entry.is_symlink():
            dest.symlink_to(os.readlink(entry))
        elif entry.is_dir():
            shutil.copytree(entry, dest, symlinks=True)
        else:
            shutil.copy2(entry, dest)


def write_tables(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike[str],
                 fmt: str | None = None, *, force: bool = False) -> Path:
    """Write a data set; the target appears complete or not at all.

    ``fmt`` is ``csv`` (a folder), ``parquet`` (a folder) or ``xlsx`` (one workbook);
    by default ``xlsx`` when the path ends in ``.xlsx``, else ``csv``. An existing data set
    (a folder holding any table file, or an existing workbook) is replaced only with
    ``force``; then the folder's other files are kept and table files of the other format
    removed, in the same atomic swap. Raises :class:`fsio.OutputError` when refused.
    """
    target = Path(path)
    fmt = fmt or ("xlsx" if target.suffix.lower() == ".xlsx" else "csv")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected csv, parquet or xlsx")
    _refuse_existing(target, fmt, force)
    ordered = [(t, tables[t.name]) for t in TABLES if t.name in tables]
    if fmt == "xlsx":
        with fsio.atomic_file(target) as tmp:
            _write_workbook(ordered, tmp)
        return target
    marker = {"kind": "data", "format": fmt, "tables": [t.name for t, _ in ordered]}
    with fsio.staged_dir(target, marker, check=lambda: _refuse_existing(target, fmt, force)
                         ) as staging:
        for table, frame in ordered:
            text = _text_frame(table, frame)
            if fmt == "csv":
                text.to_csv(staging / f"{table.name}.csv", index=False,
                            encoding=fsio.csv_encoding())
            else:
                text.to_parquet(staging / f"{table.name}.parquet", index=False)
        if target.is_dir():
            _carry_over(target, staging)
    return target
