"""Progress of long work as events a caller may show (the CLI draws a bar; scripts ignore it).

A study that solves many times reports a :class:`Step` before each solve and one when it is
done; a running solve reports the solver's :class:`Gap` whenever HiGHS logs a line or finds a
better plan. A ``Progress`` is any callable taking these events: ``progress=print`` works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    #: Which study: "compare", "price", "sweep", "alternatives", "diagnosis".
    study: str
    #: The solve starting now ("" once every step is done).
    label: str
    #: Steps finished so far.
    done: int
    #: Steps in all; None when not known in advance (the diagnosis tries until one works).
    total: int | None


@dataclass(frozen=True)
class Gap:
    """The running solve: seconds since HiGHS started and its relative gap (None before it has
    both a plan and a finite bound)."""

    seconds: float
    gap: float | None


Event = Step | Gap
Progress = Callable[[Event], None]


def steps(progress: Progress | None, study: str, labels: list[str]) -> Callable[[int], None]:
    """``announce(i)`` reports the start of step ``i`` (0-based) of ``labels``, and
    ``announce(len(labels))`` the end; a no-op without ``progress``."""
    def announce(i: int) -> None:
        if progress is not None:
            label = labels[i] if i < len(labels) else ""
            progress(Step(study, label, i, len(labels)))
    return announce


def gaps_only(progress: Progress | None) -> Progress | None:
    """``progress`` without the steps of nested work (a sweep counts grid points, not the
    trials of a point's diagnosis)."""
    if progress is None:
        return None
    outer = progress

    def forward(event: Event) -> None:
        if isinstance(event, Gap):
            outer(event)
    return forward


def value_text(value: object) -> str:
    """A parameter value as a person writes it: 60, not 60.0."""
    return format(value, "g") if isinstance(value, float) else str(value)
