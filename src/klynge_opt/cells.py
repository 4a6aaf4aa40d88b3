"""Text cells that spreadsheets would run as formulas, written so that they never are.

Excel, LibreOffice and Google Sheets evaluate a cell that starts with ``=``, ``+``, ``-`` or
``@`` (and some also after a leading tab or carriage return) when a CSV is opened, so an
operator named ``=HYPERLINK(...)`` in a data set would become a live formula in a board's
spreadsheet. Every text cell klynge-opt writes (result CSVs, comparison tables, generated data
sets and workbooks) goes through :func:`protect`, every text cell it reads through
:func:`unprotect`, so names survive a round trip exactly:

* a value that starts with one of :data:`TRIGGERS` or with an apostrophe gets one apostrophe in
  front (``=SUM(A1)`` -> ``'=SUM(A1)``; ``'quoted`` -> ``''quoted``);
* reading removes one leading apostrophe when the next character is a trigger or an apostrophe.

An apostrophe is what a spreadsheet user types to force text, so the protected cell also reads
naturally there. Numbers are never touched: only text columns pass through these functions.
"""

from __future__ import annotations

import pandas as pd

#: Leading characters that make a spreadsheet evaluate a cell.
TRIGGERS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
_ESCAPED = (*TRIGGERS, QUOTE)


def protect(value: str) -> str:
    """``value`` as a cell no spreadsheet evaluates (see the module docstring)."""
    return QUOTE + value if value.startswith(_ESCAPED) else value


def unprotect(value: str) -> str:
    """The inverse of :func:`protect`."""
    if value.startswith(QUOTE) and value[1:].startswith(_ESCAPED):
        return value[1:]
    return value


def _text_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns
            if pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c])]


def _map_text(frame: pd.DataFrame, func) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    columns = _text_columns(frame)
    if not columns:
        return frame
    out = frame.copy()
    for col in columns:
        out[col] = out[col].map(lambda v: func(v) if isinstance(v, str) else v)
    return out


def protect_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and text column names) are protected; numbers untouched."""
    out = _map_text(frame, protect)
    return out.set_axis([protect(c) if isinstance(c, str) else c for c in out.columns], axis=1)


def unprotect_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The inverse of :func:`protect_frame` for a table read back as text."""
    out = _map_text(frame, unprotect)
    return out.set_axis([unprotect(c) if isinstance(c, str) else c for c in out.columns], axis=1)
