"""Lists of names as people read them: the first few, then how many more.

One rule for the terminal, the robustness verdict and the report, so that a list folded in
one place reads the same everywhere ("A, B, C and 4 more").
"""

from __future__ import annotations

import json
from collections.abc import Sequence

MORE = "and {n} more"

#: Keys that name an item of a scenario list (an added operator or cluster), in order of use.
_ITEM_NAMES = ("name", "operator_id", "cluster_id", "stronghold_id")


def scenario_items(raw: object) -> list[str] | None:
    """A resolved scenario value written as a JSON list (as ``compare``'s input diff holds
    lists) as the names a person reads: scalars as they are, an added operator or cluster by
    its name; None when ``raw`` is not such a list."""
    if not (isinstance(raw, str) and raw.startswith("[")):
        return None
    try:
        items = json.loads(raw)
    except ValueError:
        return None
    out = []
    for item in items:
        if isinstance(item, dict):
            named = next((item[k] for k in _ITEM_NAMES if k in item), None)
            out.append(str(named) if named is not None else json.dumps(item, sort_keys=True))
        else:
            out.append(str(item))
    return out


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
