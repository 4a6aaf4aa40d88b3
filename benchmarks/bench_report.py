"""The board report of the bundled Danish reforms: build time and file size.

    python3 benchmarks/bench_report.py [--results DIR] [--repeats N]

Without ``--results`` the five bundled scenarios are compared first (through the CLI, into a
temporary folder; about 3 minutes). Then ``klynge-opt report DIR --out report.html`` and
``--xlsx report.xlsx`` run ``--repeats`` times each in fresh processes. Target (issue 12): the
HTML under 5 MB for the Danish data.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, log, median, section, table, verdict, write_section

SCENARIOS = ("status-quo", "paper-2017", "committee-2018", "reality-2021", "budget-1000")
TARGET_MB = 5.0


def _run(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "klynge_opt", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="klynge-bench-report-") as tmp:
        results = args.results
        if results is None:
            results = Path(tmp) / "compare"
            log("comparing the bundled scenarios ...")
            _run(["compare", *(str(ROOT / "scenarios" / f"{s}.toml") for s in SCENARIOS),
                  "--out", str(results)])
        html, xlsx = Path(tmp) / "report.html", Path(tmp) / "report.xlsx"
        t_html = median([_run(["report", str(results), "--out", str(html), "--lang", "da"])
                         for _ in range(args.repeats)])
        t_xlsx = median([_run(["report", str(results), "--xlsx", str(xlsx), "--lang", "da"])
                         for _ in range(args.repeats)])
        mb_html, mb_xlsx = html.stat().st_size / 1e6, xlsx.stat().st_size / 1e6
    log(f"html {t_html:.1f} s {mb_html:.2f} MB; xlsx {t_xlsx:.1f} s {mb_xlsx:.2f} MB")
    body = (
        f"`klynge-opt report <compare folder of the five bundled scenarios> --out report.html "
        f"--lang da` (and `--xlsx report.xlsx`), {args.repeats} fresh processes each, wall "
        f"clock median including Python start-up, reading the results and the data set, and "
        f"the five status-quo evaluations behind the change maps. HTML under {TARGET_MB:g} MB: "
        f"{verdict(mb_html < TARGET_MB)}.\n\n"
        + table(["output", "wall s", "size MB"],
                [["HTML report", f"{t_html:.1f}", f"{mb_html:.2f}"],
                 ["Excel workbook", f"{t_xlsx:.1f}", f"{mb_xlsx:.2f}"]]))
    path = write_section("report", section("report", "The board report of the Danish reforms "
                                           "(bench_report.py)", body))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
