"""Run the command line in a child process with a case's patch applied (full disk, ...).

Usage: ``python3 shim.py CASE_ID ROOT REPO -- ARGS...``; PYTHONPATH must hold the ``src`` under
test and the ``tests`` folder (the census sets both).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def main() -> None:
    case_id, root, repo, sep, *args = sys.argv[1:]
    assert sep == "--", "usage: shim.py CASE_ID ROOT REPO -- ARGS..."
    from hostile.cases import CASE_BY_ID
    from hostile.runner import Ctx

    case = CASE_BY_ID[case_id]
    ctx = Ctx(root=Path(root), repo=Path(repo), in_process=False)
    mp = pytest.MonkeyPatch()
    if case.patch is not None:
        case.patch(mp, ctx)
    from klynge_opt.cli import main as cli_main

    sys.argv = ["klynge-opt", *args]
    cli_main()


if __name__ == "__main__":
    main()
