"""All bundled scenarios in one `compare` call, then again with nothing changed (reuse).

    python3 -m klynge_opt compare scenarios/*.toml --out TMP     (twice)

Targets: first call < 60 s; the second, reusing every result on disk, < 5 s.

    python3 benchmarks/bench_compare.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, log, section, table, verdict, write_section

FIRST_TARGET_S = 60.0
REUSE_TARGET_S = 5.0


def run(files: list[Path], out: Path) -> tuple[float, str]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "klynge_opt", "compare", *map(str, files),
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"compare failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall, proc.stderr


def main() -> None:
    files = sorted((ROOT / "scenarios").glob("*.toml"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cmp"
        first, log1 = run(files, out)
        log(f"first call {first:.1f} s")
        second, log2 = run(files, out)
        log(f"second call {second:.1f} s")
    solved = log1.count(": solved")
    reused = log2.count(": reused")
    body = (
        f"`python3 -m klynge_opt compare scenarios/*.toml` ({len(files)} scenarios: "
        f"{', '.join(f.stem for f in files)}), twice in a row into the same folder.\n\n"
        + table(["call", "wall clock", "scenarios solved / reused", "target", "verdict"], [
            ["first", f"{first:.1f} s", f"{solved} solved", f"< {FIRST_TARGET_S:g} s",
             verdict(first < FIRST_TARGET_S)],
            ["second (nothing changed)", f"{second:.1f} s", f"{reused} reused",
             f"< {REUSE_TARGET_S:g} s", verdict(second < REUSE_TARGET_S)],
        ])
        + f"\n\nSame run: the second call takes {second / first:.1%} of the first.")
    write_section("compare", section("compare", "Comparing all bundled scenarios "
                                     "(bench_compare.py)", body))


if __name__ == "__main__":
    main()
