"""Reading table rows into Python, fast.

Iterating a pandas column of strings (Arrow-backed since pandas 3) costs about 3 µs per value;
``tolist`` converts the whole column at once, ten times faster; and ``isin`` converts each
candidate on its own. Model building, extraction and the checker walk every eligible pair and
every firm, so they read rows and test membership through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd


def row_tuples(frame: pd.DataFrame, *columns: str) -> Iterator[tuple[Any, ...]]:
    """The values of ``columns``, one tuple per row, as Python objects."""
    return zip(*(frame[c].tolist() for c in columns), strict=True)


def among(values: pd.Series | pd.Index, candidates: Iterable[Any]) -> np.ndarray:
    """``values.isin(candidates)`` as a boolean array, through a Python set: pandas 3.1
    makes an Arrow scalar of every candidate first (about 9 µs each: 1.7 s for 200,000
    firm ids), which a set of the same values does not need."""
    wanted = set(candidates.tolist() if hasattr(candidates, "tolist") else candidates)
    return np.fromiter((v in wanted for v in values.tolist()), dtype=bool, count=len(values))
