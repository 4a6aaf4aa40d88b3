"""An input workbook for Excel users: one sheet per table of the data contract.

Each sheet is named as its table and has the contract's column names in its header row, the
way :func:`klynge_opt.data.dataset.load` reads an ``.xlsx`` data set. A note on each header
gives the column's doc, what a valid value looks like (``Column.expectation()``, the wording
of the loader's messages and of ``docs/data-format.md``), what it refers to, and whether it is
required or what a blank cell means. Choice columns (``label``, ``layer``, ``role``, ``mode``)
get drop-down lists, numeric columns range checks, and ``operators.kind`` a drop-down of the
``kinds`` sheet when the example has kinds. With ``example`` the sheets hold its rows as typed
cells, written by the same rule as ``klynge-opt generate … --out x.xlsx``: text that a
spreadsheet would evaluate carries the apostrophe of :func:`klynge_opt.cells.protect`, which
the loader removes again, so the template loads back to the same tables.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pandas as pd
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from .. import fsio
from ..cells import protect
from ..data.schema import TABLES, Column, Table
from ..problems import OutputError
from .excel import MAX_WIDTH, MIN_WIDTH, check_xlsx_target

if TYPE_CHECKING:
    from ..data.dataset import Dataset

#: Last row of a sheet in Excel: validations cover the whole column below the header.
LAST_ROW = 1_048_576
AUTHOR = "klynge-opt"

_REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
_OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_FONT = Font(bold=True)
_HEADER_ALIGN = Alignment(vertical="top")


def header_note(table: Table, col: Column) -> str:
    """The note on a header cell: doc, expectation, reference, required or default."""
    lines = []
    if col is table.columns[0] and table.doc:
        lines.append(f"Table {table.name}: {table.doc}")
    if col.doc:
        lines.append(col.doc)
    rule = f"Expected: {col.expectation()}"
    if col.references:
        rule += f"; refers to {col.references}"
    lines.append(rule + ".")
    if col.required:
        lines.append("Required: every row needs a value.")
    elif col.default is None:
        lines.append("Optional: a blank cell stays blank.")
    else:
        default = col.default
        shown = str(default).lower() if isinstance(default, bool) else (
            f"{default:g}" if isinstance(default, float) else (str(default) or "empty"))
        lines.append(f"Optional: blank means {shown}.")
    if table.optional and col is table.columns[0]:
        lines.append("The whole table is optional: leave the sheet without rows if unused.")
    return "\n".join(lines)


def _cell_value(col: Column, value: Any) -> Any:
    """An example value as a typed cell value (None: blank)."""
    if value is None or value is pd.NA:
        return None
    if col.kind == "bool":
        return bool(value)
    if col.kind in ("number", "integer"):
        number = float(value)
        if not math.isfinite(number):
            return None
        return int(number) if col.kind == "integer" and number.is_integer() else number
    text = str(value)
    return protect(text) if text else None


def _validations(ws: Worksheet, table: Table, kinds: int) -> None:
    for j, col in enumerate(table.columns, 1):
        letter = get_column_letter(j)
        dv: DataValidation | None = None
        if col.kind == "choice":
            dv = DataValidation(type="list", formula1='"' + ",".join(col.choices or ()) + '"',
                                allow_blank=True, showErrorMessage=True, errorStyle="stop")
        elif table.name == "operators" and col.name == "kind" and kinds:
            # The kinds sheet's ids, however many there are; a warning, not a stop: the loader
            # judges (kind is free text without a kinds table).
            dv = DataValidation(type="list", allow_blank=True, showErrorMessage=True,
                                errorStyle="warning",
                                formula1="OFFSET(kinds!$A$2,0,0,MAX(1,COUNTA(kinds!$A:$A)-1),1)")
        elif col.kind in ("number", "integer") and (col.minimum is not None
                                                    or col.maximum is not None):
            dv = _range_validation(col)
        if dv is None:
            continue
        dv.error = f"{col.name}: expected {col.expectation()}"
        dv.errorTitle = f"{table.name}.{col.name}"
        dv.prompt = col.expectation()
        dv.promptTitle = col.name
        dv.showInputMessage = True
        dv.add(f"{letter}2:{letter}{LAST_ROW}")
        ws.add_data_validation(dv)


def _range_validation(col: Column) -> DataValidation:
    kind = "whole" if col.kind == "integer" else "decimal"
    low, high = col.minimum, col.maximum
    if low is not None and high is not None:
        if col.exclusive_minimum:
            # Excel has no "greater than a and at most b": keep the bound that matters more.
            return DataValidation(type=kind, operator="greaterThan", formula1=f"{low:g}",
                                  allow_blank=True, showErrorMessage=True, errorStyle="stop")
        return DataValidation(type=kind, operator="between", formula1=f"{low:g}",
                              formula2=f"{high:g}", allow_blank=True, showErrorMessage=True,
                              errorStyle="stop")
    if low is not None:
        op = "greaterThan" if col.exclusive_minimum else "greaterThanOrEqual"
        return DataValidation(type=kind, operator=op, formula1=f"{low:g}", allow_blank=True,
                              showErrorMessage=True, errorStyle="stop")
    return DataValidation(type=kind, operator="lessThanOrEqual", formula1=f"{high:g}",
                          allow_blank=True, showErrorMessage=True, errorStyle="stop")


def _sheet(ws: Worksheet, table: Table, frame: pd.DataFrame | None, kinds: int) -> None:
    widths = []
    for j, col in enumerate(table.columns, 1):
        cell = ws.cell(row=1, column=j, value=col.name)
        cell.data_type = "s"
        cell.font = _HEADER_FONT
        cell.alignment = _HEADER_ALIGN
        cell.fill = _REQUIRED_FILL if col.required else _OPTIONAL_FILL
        note = Comment(header_note(table, col), AUTHOR)
        note.width, note.height = 320, 160
        cell.comment = note
        widths.append(len(col.name))
    if frame is not None and len(frame):
        for j, col in enumerate(table.columns, 1):
            if col.name not in frame:
                continue
            for i, value in enumerate(frame[col.name].tolist(), 2):
                if isinstance(value, float) and math.isnan(value):
                    continue
                typed = _cell_value(col, value)
                if typed is None:
                    continue
                cell = ws.cell(row=i, column=j, value=typed)
                if isinstance(typed, str):
                    cell.data_type = "s"  # never a formula or an error value ('#N/A')
                widths[j - 1] = max(widths[j - 1], len(str(typed)))
    for j, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, MIN_WIDTH),
                                                               MAX_WIDTH)
    ws.freeze_panes = "A2"
    _validations(ws, table, kinds)


def build_template(example: Dataset | None = None) -> openpyxl.Workbook:
    """The template as an openpyxl workbook in memory (see :func:`write_template`)."""
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    book.remove(first)
    tables = {} if example is None else dict(example.tables)
    kinds = len(tables.get("kinds", ()))
    for table in TABLES:
        _sheet(book.create_sheet(table.name), table, tables.get(table.name), kinds)
    book.properties.creator = AUTHOR
    book.properties.title = "klynge-opt data set"
    return book


def write_template(path: Path, *, example: Dataset | None = None, force: bool = False) -> Path:
    """Write an input workbook (``.xlsx``) for the data contract, optionally filled with the
    rows of ``example``; it loads with :func:`klynge_opt.data.dataset.load`.

    An existing file at ``path`` may be a filled-in data set: it is replaced only with
    ``force`` (as ``klynge-opt generate`` does). Written atomically; the parent folder must
    exist. Raises :class:`~klynge_opt.problems.OutputError` when refused.
    """
    target = Path(path)
    protected = [] if example is None or example.source == "<memory>" else [example.source]
    check_xlsx_target(target, protected)
    if target.exists() and not force:
        raise OutputError(f"refusing to replace {target}: it already exists (perhaps a filled-in "
                          "data set); choose another path, or force", target)
    book = build_template(example)
    with fsio.atomic_file(target) as tmp:
        book.save(tmp)
    return target
