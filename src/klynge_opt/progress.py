"""Progress of long work as events a caller may show (the CLI draws a bar; scripts ignore it).

A study that solves many times reports a :class:`Step` when it starts and after each solve
(labelled with the solve just finished: with several workers, "the one running now" is not
one solve); a running solve reports the solver's :class:`Gap` whenever HiGHS logs a line or finds a
better plan. A ``Progress`` is any callable taking these events: ``progress=print`` works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    #: Which study: "compare", "price", "sweep", "alternatives", "diagnosis".
    study: str
    #: The solve just finished ("" at the start).
    label: str
    #: Steps finished so far.
    done: int
    #: Steps in all; None when not known in advance (the diagnosis tries until one works).
    total: int | None
    #: Of the steps done, how many failed (a batch task that raised).
    failed: int = 0


@dataclass(frozen=True)
class Gap:
    """The running solve: seconds since HiGHS started and its relative gap (None before it has
    both a plan and a finite bound)."""

    seconds: float
    gap: float | None


Event = Step | Gap
Progress = Callable[[Event], None]


def only(progress: Progress | None, kind: type) -> Progress | None:
    """``progress`` receiving only events of ``kind`` (``Gap``: a sweep counts grid points,
    not the trials of a point's diagnosis; ``Step``: the engine's steps alone)."""
    if progress is None:
        return None
    outer = progress

    def forward(event: Event) -> None:
        if isinstance(event, kind):
            outer(event)
    return forward


def gaps_only(progress: Progress | None) -> Progress | None:
    return only(progress, Gap)


def value_text(value: object) -> str:
    """A parameter value as a person writes it: 60, not 60.0."""
    return format(value, "g") if isinstance(value, float) else str(value)
