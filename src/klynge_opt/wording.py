"""Lists of names as people read them: the first few, then how many more.

One rule for the terminal, the robustness verdict and the report, so that a list folded in
one place reads the same everywhere ("A, B, C and 4 more").
"""

from __future__ import annotations

from collections.abc import Sequence

MORE = "and {n} more"


def fold(items: Sequence[str], *, count: int | None = None, chars: int | None = None,
         more: str = MORE) -> str:
    """``items`` joined by commas, cut after ``count`` items or at about ``chars`` characters
    (whichever comes first), followed by ``more`` with ``{n}`` the number left out. At least
    one item is always shown."""
    shown: list[str] = []
    length = 0
    for i, item in enumerate(items):
        full = count is not None and i >= count
        long = chars is not None and shown and length + len(item) > chars
        if full or long:
            return ", ".join(shown) + " " + more.format(n=len(items) - i)
        shown.append(item)
        length += len(item) + 2
    return ", ".join(shown)
