"""The hostile-input corpus (tests/hostile/cases.py): one test per bad input.

Each case runs the command line in-process in a fresh folder and asserts: no traceback, the
expected exit code, the names the message must give, nothing changed on disk outside the paths
the case allows, and the case's extra checks. Cases that need real processes (signals,
concurrent solves) are marked slow. `python3 tests/hostile/census.py` counts the classes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import klynge_opt
from hostile.cases import CASES
from hostile.runner import Case, SetupError, new_ctx, report, run_case

#: The checkout under test (its scenarios/ and data/ are used by some cases).
REPO = Path(klynge_opt.__file__).resolve().parents[2]


def _param(case: Case):  # type: ignore[no-untyped-def]
    return pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = new_ctx(tmp_path, REPO, in_process=True)
    if case.skip is not None and (reason := case.skip(ctx)):
        pytest.skip(reason)
    monkeypatch.chdir(ctx.proj)
    try:
        verdict, outcome = run_case(case, ctx)
    except SetupError as exc:
        pytest.fail(f"setup of {case.id} failed: {exc}")
    assert verdict.cls == "clean", report(case, ctx, verdict, outcome)


def test_corpus_ids_are_unique_and_classified() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    kinds = {c.kind for c in CASES}
    assert kinds <= {"data loss", "wrong plan", "traceback", "output safety", "check trust",
                     "input handling"}
