"""Shared helpers for the on-demand benchmarks (``python3 benchmarks/bench_*.py``).

Each benchmark writes one markdown section into ``docs/performance.md`` between the markers
``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``; everything outside the markers
is left alone, so the sections can be refreshed one at a time.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
#: The OR-Library instances shipped with the tests (cap/, pmed/ and the published optima).
ORLIB_COPY = ROOT / "tests" / "data" / "orlib"
SECTIONS = ("load", "reform", "denmark", "overhead", "orlib", "continent",
            "continent_solve")
#: Other work on the shared machine shows in the load average; recorded at import.
_LOAD_AT_START = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

INTRO = """# Performance

Figures measured by the benchmarks in `benchmarks/` (run on demand, never by pytest):

- `python3 benchmarks/bench_load.py`: load + validate the Danish data set and a
  1,000,000-firm synthetic one;
- `python3 benchmarks/bench_reform.py`: the Danish reform scenario end to end via the CLI;
- `python3 benchmarks/bench_denmark.py`: the four Danish scenarios (and the budget one) end
  to end, with status, proven gap and checker;
- `python3 benchmarks/bench_overhead.py`: modelling overhead (load, build, transfer to
  HiGHS, extract) against HiGHS's own solve time of the same model read from MPS;
- `python3 benchmarks/bench_orlib.py`: all 37 OR-Library cap instances to their published
  optima, in both linking modes;
- `python3 benchmarks/bench_continent.py`: a 10,000-municipality, 1,000,000-firm synthetic
  landscape (sparse travel times) loaded, built and prepared, and dense against sparse at
  1,000 municipalities; with `--solve` (and `--spread 10 --regions 50 --scenario
  benchmarks/continent.toml`) solved end to end, in a section of its own.

Each section below is rewritten by its benchmark and states when and where it was measured.
Ratios are always between figures measured in the same run on the same machine; absolute
times on the 2-core shared development machine vary by roughly ±20 % between runs.
"""


def orlib_root() -> Path:
    """The OR-Library instances: ``klynge_opt.data.orlib.orlib_root()`` ($KLYNGE_ORLIB, else the
    checkout's tests/data/orlib, else ../shared/benchmarks/orlib), else this checkout's copy
    when klynge_opt is installed from a wheel. Exits saying where it looked when none exists."""
    from klynge_opt.data import orlib

    env = os.environ.get(orlib.ENV_VAR)
    found = orlib.orlib_root()
    if found is None and not env and ORLIB_COPY.is_dir():
        found = ORLIB_COPY
    if found is None:
        where = (f"${orlib.ENV_VAR}={env}" if env else ", ".join(dict.fromkeys(
            str(p) for p in (orlib.REPO_ORLIB, orlib.SHARED_ORLIB, ORLIB_COPY))))
        raise SystemExit(f"OR-Library instances not found: no directory at {where}; "
                         f"point ${orlib.ENV_VAR} at a directory holding cap/ and pmed/")
    return found


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    """One line: date, cores, CPU, memory, Python and solver stack versions."""
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())[1])
        mem = f", {kb / 1024**2:.0f} GB RAM"
    except (OSError, TypeError):
        pass
    load = (f", 1-min load average {_LOAD_AT_START:.1f} before the run and "
            f"{os.getloadavg()[0]:.1f} after it") if _LOAD_AT_START is not None else ""
    return (f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; nproc {nproc} ({_cpu_model()}{mem}"
            f"{load}); Python {platform.python_version()}; highspy {_version('highspy')}, "
            f"pyomo {_version('pyomo')}, pandas {_version('pandas')}")


def section(name: str, title: str, body: str) -> str:
    return f"## {title}\n\n_Measured {machine()}._\n\n{body.strip()}\n"


def write_section(name: str, markdown: str) -> Path:
    """Replace (or add) the section ``name`` of docs/performance.md."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    if DOC.exists():
        text = DOC.read_text(encoding="utf-8")
    else:
        placeholders = "\n".join(
            f"<!-- bench:{s}:start -->\n_Not measured yet: run `python3 benchmarks/bench_{s}.py`._"
            f"\n<!-- bench:{s}:end -->\n" for s in SECTIONS)
        text = f"{INTRO}\n{placeholders}"
    block = f"{start}\n{markdown.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text, count=1)
    else:
        text = text.rstrip("\n") + f"\n\n{block}\n"
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text, encoding="utf-8")
    return DOC


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**NOT met**"


def log(*args: object) -> None:
    print(*args, file=sys.stderr, flush=True)


def solve_cli(args: Sequence[str], out: Path) -> dict:
    """``python3 -m klynge_opt solve ARGS --out OUT`` in a fresh process: its wall clock and
    the summary.json it wrote (a failed run stops the benchmark with its output)."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "klynge_opt", "solve", *args, "--out",
                           str(out)], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"CLI failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return {"wall": wall, "summary": json.loads((out / "summary.json").read_text())}
