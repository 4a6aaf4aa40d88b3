"""A 200-sample robustness study of the Danish reform: wall time, memory, and what it finds.

    python3 benchmarks/bench_robustness.py [--samples 200] [--workers 2] [--out DIR]

Runs ``klynge-opt robustness scenarios/paper-2017.toml`` through the Python API with every
operator's annual cost and per-firm rate drawn ±30 % and each væksthus's capacity ±30 %
(uniform, seed 2017): per sample one re-optimisation and one evaluation of the nominal plan,
2 x samples solves on local worker processes. Memory is sampled once a second over the
coordinating process and all its children (resident set size, psutil). The study folder is
kept (``--out``, default ``results/bench-robustness``): started again, the study resumes and
the benchmark times only what was left, so give a fresh ``--out`` for a full measurement.
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

from _common import ROOT, log, median, section, table, write_section

PERTURB = ("operators.annual_cost=0.3", "operators.capacity@vaeksthus=0.3")


class PeakMemory:
    """The largest resident set of this process and its children, and of one worker."""

    def __init__(self, every: float = 1.0) -> None:
        import psutil

        self._me = psutil.Process()
        self.total = self.worker = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)

    def _watch(self, every: float) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                kids = self._me.children(recursive=True)
                sizes = [k.memory_info().rss for k in kids]
            except psutil.Error:
                sizes = []  # a worker ended between listing and reading: next round
            self.worker = max([self.worker, *sizes])
            self.total = max(self.total, self._me.memory_info().rss + sum(sizes))
            self._stop.wait(every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "bench-robustness")
    args = parser.parse_args()
    from klynge_opt.batch import Processes
    from klynge_opt.data.dataset import load
    from klynge_opt.data.scenario import load_scenario
    from klynge_opt.studies.robustness import parse_perturbation, robustness, write_study

    scenario = load_scenario(ROOT / "scenarios" / "paper-2017.toml")
    ds = load(scenario.data)
    start = time.perf_counter()
    with PeakMemory() as memory:
        study = robustness(scenario, ds, [parse_perturbation(p) for p in PERTURB],
                           samples=args.samples, seed=args.seed, out=args.out,
                           executor=Processes(args.workers), force=False)
    wall = time.perf_counter() - start
    write_study(study, args.out)
    run = study.run
    assert run is not None
    log(f"{run.ran} solves run, {run.reused} reused, {run.failed} failed, {wall:.0f} s")
    s = study.samples
    solved = s[s["status"].isin(["optimal", "feasible", "time_limit"])]
    ops, cls = study.operators, study.clusters
    robust_closed = int(((ops["kept_in"] == 0) & ~ops["nominal"]).sum())
    robust_kept = int(((ops["kept_in"] == ops["samples"]) & ops["nominal"]).sum())
    contested = ops[(ops["share"] > 0.05) & (ops["share"] < 0.95)]
    regret = solved["regret"].dropna() / 1e6
    rows = [
        ["solves run now (re-optimised + nominal plan evaluated)",
         f"{run.ran} ({run.reused} already in the store, {run.failed} failed)"],
        ["wall time", f"{wall:.0f} s ({wall / 60:.1f} min) on {args.workers} worker processes"],
        ["per sample (two solves), wall", f"{wall / max(1, run.ran / 2):.1f} s"],
        ["median solve time in a worker",
         f"{median(list(study_seconds(args.out))):.1f} s"],
        ["peak memory, coordinator + workers", f"{memory.total / 2**20:,.0f} MB"],
        ["peak memory, largest worker", f"{memory.worker / 2**20:,.0f} MB"],
    ]
    findings = [
        ["samples solved", f"{len(solved)} of {len(s)}"],
        ["operators kept (min–max over samples)",
         f"{int(solved['operators'].min())}–{int(solved['operators'].max())}"],
        ["closed in every sample / kept in every sample",
         f"{robust_closed} / {robust_kept}"],
        ["operators kept in 5–95 % of samples", str(len(contested))],
        ["clusters selected in 5–95 % of samples",
         str(int(((cls["share"] > 0.05) & (cls["share"] < 0.95)).sum()))],
        ["nominal plan's regret, M DKK over the horizon (median, 5–95 %)",
         f"{regret.median():,.0f} ({regret.quantile(0.05):,.0f}–{regret.quantile(0.95):,.0f})"],
        ["samples where the nominal plan has no plan",
         f"{int((s['nominal_status'] == 'infeasible').sum())} of {len(s)}"],
    ]
    body = (f"`scenarios/paper-2017.toml`, {args.samples} samples, seed {args.seed}, "
            f"perturbations {', '.join(f'`{p}`' for p in PERTURB)}; local processes "
            f"(`Processes({args.workers})`), one store row per solve.\n\n"
            + table(["measure", "value"], rows)
            + "\n\nWhat the study found (read in `docs/denmark.md`):\n\n"
            + table(["finding", "value"], findings)
            + "\n\nScaling: the samples are independent, so a cluster of W single-threaded "
              "workers does about W / 2 times the samples of this run per hour, less the "
              "scatter of the data set (once per worker) and the coordinator's store writes "
              "(one row per solve).")
    path = write_section("robustness", section(
        "robustness", "A 200-sample robustness study (bench_robustness.py)", body))
    print(f"wrote {path}")
    print("\n".join(study.verdict))


def study_seconds(out: Path) -> list[float]:
    """Each stored solve's own wall time in its worker."""
    import sqlite3

    con = sqlite3.connect(out / "results.sqlite")
    try:
        return [r[0] for r in con.execute("SELECT seconds FROM tasks WHERE seconds IS NOT NULL")]
    finally:
        con.close()


if __name__ == "__main__":
    main()
