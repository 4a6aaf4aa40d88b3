"""``frames``: the fast row reader and membership test give what pandas gives."""

from __future__ import annotations

import numpy as np
import pandas as pd

from klynge_opt.frames import among, row_tuples


def _frame(n: int = 500, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"firm_id": [f"F{i}" for i in rng.integers(0, 200, n)],
                         "weight": rng.random(n), "count": rng.integers(0, 9, n),
                         "member": rng.random(n) < 0.5})


def test_row_tuples_are_what_iterating_the_columns_gives():
    f = _frame()
    got = list(row_tuples(f, "firm_id", "weight", "count", "member"))
    want = list(zip(f["firm_id"], f["weight"], f["count"], f["member"], strict=True))
    assert got == want
    assert all(type(a) is type(b) for g, w in zip(got, want, strict=True)
               for a, b in zip(g, w, strict=True))


def test_among_is_isin():
    f = _frame()
    candidates = pd.Series([f"F{i}" for i in range(0, 200, 3)] + ["nobody"])
    for values in (f["firm_id"], pd.Index(f["firm_id"])):
        expected = values.isin(candidates)
        for given in (candidates, pd.Index(candidates), set(candidates), list(candidates)):
            got = among(values, given)
            assert got.dtype == bool and got.shape == (len(values),)
            assert (got == np.asarray(expected)).all()
    assert not among(f["firm_id"], []).any()
    assert among(f["count"], np.array([0, 1])).tolist() == f["count"].isin([0, 1]).tolist()
