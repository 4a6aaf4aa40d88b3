"""Diagnosis on the Danish data: pre-checks alone, and the full diagnosis with suggestions.

Cases: the reform with hard coverage within 60 minutes (islands out of reach: pre-checks), and
the reform with max_operators = 12 (pre-checks pass; the elastic model is needed).
Targets: pre-checks < 1 s; full diagnosis with verified suggestions < 60 s.

    python3 benchmarks/bench_diagnosis.py
"""

from __future__ import annotations

import time

from _common import ROOT, log, median, section, table, verdict, write_section
from klynge_opt import load, load_scenario
from klynge_opt.api import diagnose_session, open_session, run
from klynge_opt.model.diagnosis import prechecks

CASES = {
    "hard coverage within 60 min": {"policy": {"coverage": "hard", "max_travel_minutes": 60}},
    "max_operators = 12": {"policy": {"max_operators": 12}},
}


def main() -> None:
    ds = load()
    base = load_scenario(ROOT / "scenarios" / "paper-2017.toml")
    rows = []
    for label, updates in CASES.items():
        sc = base.with_updates(updates)
        session = open_session(ds, sc)
        times = []
        for _ in range(5):
            t = time.perf_counter()
            found = prechecks(session.land, session.inputs, sc)
            times.append(time.perf_counter() - t)
        pre = median(times)
        result = run(session)
        t = time.perf_counter()
        diag = diagnose_session(session)
        full = time.perf_counter() - t
        log(label, result.status, f"{pre:.3f}", f"{full:.1f}")
        rows.append([label, result.status, f"{len(found)} findings",
                     f"{pre * 1000:.0f} ms", verdict(pre < 1.0),
                     f"{len(diag.findings)} findings ({diag.findings[0].stage}), "
                     f"{len(diag.suggestions)} verified suggestions",
                     f"{full:.1f} s", verdict(full < 60.0)])
    body = ("The Danish reform scenario made infeasible two ways. Pre-checks: median of 5 calls "
            "on a built session. Full diagnosis: `diagnose_session` (pre-checks, else the "
            "elastic model; then every suggestion verified by a solve), one run.\n\n"
            + table(["case", "status", "pre-checks", "pre-check time", "< 1 s",
                     "full diagnosis", "time", "< 60 s"], rows))
    write_section("diagnosis", section("diagnosis", "Infeasibility diagnosis "
                                       "(bench_diagnosis.py)", body))


if __name__ == "__main__":
    main()
