"""Problems found in input (data sets and scenarios), reported all at once."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One finding, located as precisely as the input allows."""

    severity: Severity
    message: str
    #: File (or ``workbook.xlsx[sheet]``) the problem is in; ``None`` for the data set as a whole.
    source: str | None = None
    #: Line in a CSV file / row in a sheet (header = 1), or ``None``.
    line: int | None = None
    column: str | None = None
    value: str | None = None

    def location(self) -> str:
        where = self.source or "data set"
        if self.line is not None:
            where += f":{self.line}"
        if self.column is not None:
            where += f" [{self.column}]"
        return where

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (got {self.value!r})"
        return f"{self.severity}: {self.location()}: {self.message}{shown}"

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


def warnings(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "warning"]


class InputError(Exception):
    """Input cannot be used; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem], what: str = "input") -> None:
        self.problems = list(problems)
        self.what = what
        n = len(errors(self.problems))
        super().__init__(f"{what} has {n} error{'s' if n != 1 else ''}")

    def report(self) -> str:
        lines = [f"{self}:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class OutputError(Exception):
    """An output cannot be written where asked. ``refused``: writing would destroy something
    (the user must choose another path); otherwise the system failed (disk full, permission).
    The message names the path and what to do."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, *,
                 refused: bool = True) -> None:
        self.path = None if path is None else Path(path)
        self.refused = refused
        super().__init__(message)


class ExecutorError(Exception):
    """Where the work runs failed, not the work: a Dask scheduler that cannot be reached or
    was lost. Finished tasks are stored; the message says how to go on."""
