"""The validated data set: typed tables that every later step reads, never writes."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..problems import InputError, Problem, errors
from .boundaries import read_boundaries
from .loading import TableSource, coerce_table, default_column, read_raw

#: The embedded Danish data set, relative to the repository root.
from .paths import DENMARK
from .schema import TABLE_BY_NAME, TABLES
from .validation import validate_tables


@dataclass(frozen=True)
class Dataset:
    """All tables of the contract, typed, with schema columns in schema order.

    Optional tables that were absent are present and empty, so callers need no special cases.
    """

    tables: Mapping[str, pd.DataFrame]
    source: str = "<memory>"
    warnings: tuple[Problem, ...] = field(default=())
    #: ``boundaries.geojson`` (a FeatureCollection keyed by municipality_id) when the folder
    #: has one: for maps only, not part of the content hash.
    boundaries: Mapping[str, Any] | None = None

    def __getattr__(self, name: str) -> pd.DataFrame:
        # Tables read as attributes: ``ds.firms``; dataclass fields resolve before this.
        if name in TABLE_BY_NAME:
            return self.tables[name]
        raise AttributeError(name)

    def content_hash(self) -> str:
        """SHA-256 of the tables' content, independent of file format and row source."""
        digest = hashlib.sha256()
        for table in TABLES:
            frame = self.tables[table.name]
            digest.update(table.name.encode())
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
        return digest.hexdigest()

    @property
    def name(self) -> str:
        return Path(self.source).name if self.source != "<memory>" else self.source


def check_tables(tables: Mapping[str, pd.DataFrame],
                 sources: Mapping[str, TableSource] | None = None,
                 *, report_missing: bool = True) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Coerce and validate in-memory tables (text or typed); return typed tables and problems."""
    problems: list[Problem] = []
    typed: dict[str, pd.DataFrame] = {}
    sources = dict(sources or {})
    for table in TABLES:
        if table.name not in tables:
            if report_missing and not table.optional:
                problems.append(Problem("error", "required table missing", source=table.name))
            continue
        source = sources.setdefault(table.name, TableSource(table.name, 1))
        frame = coerce_table(table, tables[table.name], source, problems)
        if frame is not None:
            typed[table.name] = frame
    validate_tables(typed, sources, problems)
    for table in TABLES:
        if table.name not in typed:
            typed[table.name] = empty_table(table.name)
    return typed, problems


def empty_table(name: str) -> pd.DataFrame:
    """Table ``name`` with no rows: the schema's columns in schema order, with the dtypes a
    loaded table of that name has (those of :func:`loading.default_column`). The one typed
    empty frame, for absent optional tables and for builders (the generator) alike."""
    table = TABLE_BY_NAME[name]
    return pd.DataFrame({c.name: default_column(c, 0) for c in table.columns})


def from_tables(tables: Mapping[str, pd.DataFrame], source: str = "<memory>") -> Dataset:
    """Validate tables built in code (the generator, OR-Library readers, tests)."""
    typed, problems = check_tables(tables)
    if errors(problems):
        raise InputError(problems, what=f"data set {source}")
    return Dataset(typed, source=source, warnings=tuple(problems))


def load(path: str | os.PathLike[str] = DENMARK) -> Dataset:
    """Load and validate a data set; raise :class:`InputError` listing every problem."""
    dataset, problems = inspect(path)
    if dataset is None:
        raise InputError(problems, what=f"data set {path}")
    return dataset


def inspect(path: str | os.PathLike[str]) -> tuple[Dataset | None, list[Problem]]:
    """Load and validate, returning all problems; the data set only when error-free."""
    raw = read_raw(path)
    # Tables that did load are checked even when others are missing: all problems at once.
    typed, more = check_tables(raw.tables, raw.sources, report_missing=False)
    problems = raw.problems + more
    munis = typed["municipalities"] if "municipalities" in raw.tables else None
    boundaries = read_boundaries(Path(path), munis, problems)
    if errors(problems):
        return None, problems
    return Dataset(typed, source=str(Path(path)), warnings=tuple(problems),
                   boundaries=boundaries), problems


def load_partial(path: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Typed tables of a possibly incomplete data set (e.g. base tables awaiting generated
    firms); raise :class:`InputError` on cell-level problems only."""
    raw = read_raw(path)
    problems = [p for p in raw.problems if not p.message.startswith("required table missing")]
    typed: dict[str, pd.DataFrame] = {}
    for name, frame in raw.tables.items():
        coerced = coerce_table(TABLE_BY_NAME[name], frame, raw.sources[name], problems)
        if coerced is not None:
            typed[name] = coerced
    if errors(problems):
        raise InputError(problems, what=f"data set {path}")
    return typed
