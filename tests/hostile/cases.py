"""The corpus: bad, hostile and faulty inputs, each with the behaviour the CLI must show.

Exit codes (README): 0 ok; 1 a solve failed, a check found violations, or an output could not be
written because of the environment (disk full, permission, read-only); 2 bad input (data,
scenario, or a refused output path); 3 infeasible; 130 interrupted (Ctrl-C or SIGTERM).

Layout of every case: ``<root>/proj`` is the working directory; ``landscape/`` is the tiny
synthetic data set, ``plan.toml`` a scenario on it (see ``steps.py``). Add a case by appending to
the list of its section; ids must stay unique.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import pandas as pd

from .runner import TIMEOUT, Case, Ctx, Outcome, SetupError, outcome_of
from .steps import (
    EACCES,
    ENOSPC,
    EROFS,
    SYN,
    SYN_ARGS,
    Step,
    all_of,
    as_root,
    both,
    chain,
    chmod,
    cli_ok,
    close,
    comparison_value,
    data,
    denmark,
    edit_csv,
    edit_json,
    edit_toml,
    fail_csv_writes,
    fail_tempfiles,
    full_od_matrix,
    header_only,
    mkdir,
    modes_ok,
    names,
    no_live_formulas,
    no_xlsx_formulas,
    plan,
    prerun,
    protected_column,
    raw,
    remember,
    remove,
    rename_operator,
    set_col,
    sources,
    summary,
    symlink,
    text,
    truncate,
    xlsx_cell,
    xlsx_column,
    xlsx_header,
)

CASES: list[Case] = []

DATA = "data loss"
WRONG = "wrong plan"
TRACE = "traceback"
SAFETY = "output safety"
TRUST = "check trust"
INPUT = "input handling"

BASIC: tuple[Step, ...] = (data(), plan())
#: An earlier, good result of plan.toml in results/plan.
EARLIER: tuple[Step, ...] = (*BASIC, prerun("solve", "plan.toml", "--out", "{proj}/results/plan"))


def add(id: str, kind: str, argv: tuple[str, ...] | list[str], exit: int | tuple[int, ...],
        *setup: Step, **kw: object) -> None:
    CASES.append(Case(id=id, kind=kind, argv=tuple(argv), exit=exit, setup=tuple(setup),
                      **kw))  # type: ignore[arg-type]


def syn_args(**over: object) -> list[str]:
    """`generate synthetic` size options, tiny, with some replaced (None drops one)."""
    values: dict[str, object] = {k: v for k, v in SYN.items() if k != "seed"} | over
    out: list[str] = []
    for key, value in values.items():
        if value is not None:
            out += [f"--{key}", str(value)]
    return out


def result_written(rel: str, status: str = "optimal") -> Callable[[Ctx, Outcome], None]:
    def check(ctx: Ctx, _: Outcome) -> None:
        got = summary(ctx, rel)["status"]
        assert got == status, f"{rel}/summary.json status {got!r}, want {status!r}"

    return check


def perms(rel: str) -> Callable[[Ctx, Outcome], None]:
    return lambda ctx, _: modes_ok(ctx, rel)


# =========================================================================== 1 data loss

# --out pointing at something that is not an output folder: refused, nothing touched.
for cid, out, must, setup in [
    ("dl-out-data-folder", "{proj}/landscape", "landscape", ()),
    ("dl-out-data-folder-relative", "landscape", "landscape", ()),
    ("dl-out-data-folder-slash", "landscape/", "landscape", ()),
    ("dl-out-data-symlink", "shortcut", "shortcut", (symlink("shortcut", "landscape"),)),
    ("dl-out-project-root", "{proj}", "proj", ()),
    ("dl-out-temp-root", "{root}", "hostile-root", ()),
    ("dl-out-dot", ".", "", ()),
    ("dl-out-dotdot-of-data", "landscape/..", "landscape", ()),
    ("dl-out-regular-file", "notes.txt", "notes.txt", (text("notes.txt", "my notes\n"),)),
    ("dl-out-foreign-folder", "thesis", "thesis",
     (text("thesis/chapter1.md", "# Chapter 1\n"),)),
    ("dl-out-hidden-only-folder", "myrepo", "myrepo",
     (text("myrepo/.git/HEAD", "ref: refs/heads/main\n"),)),
    ("dl-out-parent-of-nested-data", "inputs", "inputs",
     (data("inputs/2024/landscape"), plan(file="plan.toml", data_path="inputs/2024/landscape"))),
]:
    add(cid, DATA, ["solve", "plan.toml", "--out", out], 2, *BASIC, *setup,
        must=(must,) if must else ())

add("dl-out-scenario-folder", DATA, ["solve", "scen/plan.toml", "--out", "scen"], 2,
    data(), plan(file="scen/plan.toml", data_path="../landscape"), must=("scen",))
add("dl-out-data-workbook", DATA, ["solve", "wb.toml", "--out", "landscape.xlsx"], 2,
    data("landscape.xlsx", fmt="xlsx"), plan(file="wb.toml", data_path="landscape.xlsx"),
    must=("landscape.xlsx",))
add("dl-default-out-foreign-folder", DATA, ["solve", "notes.toml"], 2,
    data(), plan(file="notes.toml"), text("results/notes/todo.txt", "buy milk\n"),
    must=("notes",))
# An earlier result, an empty folder or a new path are fine.
add("dl-out-earlier-result-replaced", DATA, ["solve", "plan.toml", "--out", "results/plan"], 0,
    *EARLIER, allowed=("proj/results/plan",),
    extra=all_of(result_written("results/plan"), perms("results/plan")))
add("dl-default-out-earlier-result", DATA, ["solve", "plan.toml"], 0,
    *BASIC, prerun("solve", "plan.toml"), allowed=("proj/results/plan",),
    extra=result_written("results/plan"))
add("dl-out-empty-folder", DATA, ["solve", "plan.toml", "--out", "fresh"], 0,
    *BASIC, mkdir("fresh"), allowed=("proj/fresh",), extra=result_written("fresh"))
add("dl-out-new-nested", DATA, ["solve", "plan.toml", "--out", "new/deep/res"], 0,
    *BASIC, allowed=("proj/new",), extra=all_of(result_written("new/deep/res"),
                                               perms("new/deep/res")))

# Scenario names that are paths: refused at load, naming `name` and the file.
BAD_NAMES = [("empty", ""), ("dotdot-x", "../../x"), ("absolute", "{root}/abs-target"),
             ("a-slash-b", "a/b"), ("dot", "."), ("dotdot", ".."), ("nul", "a\u0000b")]
for tag, bad in BAD_NAMES:
    add(f"dl-name-{tag}-solve", DATA, ["solve", "plan.toml"], 2, data(), plan(name=bad),
        must=("name", "plan.toml"))
    add(f"dl-name-{tag}-compare", DATA,
        ["compare", "good.toml", "bad.toml", "--out", "{proj}/cmp"], 2,
        data(), plan(file="good.toml", name="good"), plan(file="bad.toml", name=bad),
        must=("name", "bad.toml"))
for tag, bad in [("dotdot-x", "../../x"), ("dotdot", "..")]:
    add(f"dl-name-{tag}-solve-with-out", DATA, ["solve", "plan.toml", "--out", "res"], 2,
        data(), plan(name=bad), must=("name", "plan.toml"))

FINE = "Reform 2025 æøå"
add("dl-name-spaces-danish-solve", DATA, ["solve", "plan.toml"], 0, data(), plan(name=FINE),
    allowed=("proj/results",), extra=result_written(f"results/{FINE}"))
add("dl-name-spaces-danish-compare", DATA,
    ["compare", "good.toml", "fine.toml", "--out", "{proj}/cmp"], 0,
    data(), plan(file="good.toml", name="good"), plan(file="fine.toml", name=FINE),
    allowed=("proj/cmp",), extra=result_written(f"cmp/{FINE}"))


# Ctrl-C / SIGTERM during a long solve (the Danish reform): exit 130, earlier result untouched.
#: The signal goes this long after HiGHS has started (its log, --log, says so).
SIGNAL_DELAY = 1.0
#: Give up waiting for HiGHS to start after this long.
START_WAIT = 240.0


def _interrupt(sig: int) -> Callable[[Ctx], Outcome]:
    def custom(ctx: Ctx) -> Outcome:
        proc = ctx.popen("solve", "{repo}/scenarios/paper-2017.toml", "--out",
                         "{proj}/results/reform", "--log")
        lines: list[str] = []
        started = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line)
                if "HiGHS" in line:
                    started.set()
            started.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        started.wait(START_WAIT)
        time.sleep(SIGNAL_DELAY)
        if proc.poll() is not None:
            reader.join(10)
            raise SetupError(f"the solve ended before the signal (exit {proc.returncode}):\n"
                             f"{''.join(lines)[-2000:]}")
        proc.send_signal(sig)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            reader.join(10)
            return Outcome(None, "".join(lines), "did not stop after the signal")
        reader.join(10)
        return outcome_of(proc.returncode, "".join(lines), sent=(sig,))

    return custom


INTERRUPT_SETUP = (data(), plan(file="earlier.toml", name="reform"),
                   prerun("solve", "earlier.toml", "--out", "{proj}/results/reform"))
for name, sig in (("sigint", signal.SIGINT), ("sigterm", signal.SIGTERM)):
    add(f"dl-{name}-during-solve", DATA, [], 130, *INTERRUPT_SETUP, custom=_interrupt(sig),
        must=("interrupted",), slow=True)


def _concurrent(ctx: Ctx) -> Outcome:
    procs = [ctx.popen("solve", "{repo}/scenarios/paper-2017.toml", "--out",
                       "{proj}/results/reform") for _ in range(2)]
    runs = []
    for proc in procs:
        try:
            out = proc.communicate(timeout=TIMEOUT)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            out = proc.communicate()[0]
            runs.append(Outcome(None, out, "timed out"))
            continue
        runs.append(outcome_of(proc.returncode, out))
    ctx.state["runs"] = runs
    codes = [r.exit_code for r in runs]
    crash = next((r.crash for r in runs if r.crash), None)
    code = None if None in codes else max(codes)  # type: ignore[type-var]
    text = "\n".join(f"--- run {i} exit {r.exit_code} ---\n{r.output}" for i, r in
                     enumerate(runs))
    return Outcome(code, text, crash)


def _concurrent_ok(ctx: Ctx, _: Outcome) -> None:
    runs: list[Outcome] = ctx.state["runs"]
    assert any(r.exit_code == 0 for r in runs), "neither solve succeeded"
    for r in runs:
        assert r.exit_code in (0, 1), f"a run exited {r.exit_code}"
        if r.exit_code == 1:
            assert "another klynge-opt process" in r.output, "exit 1 without naming the other " \
                                                             "process"
    assert summary(ctx, "results/reform")["status"] in ("optimal", "feasible")  # 0.1 % gap
    for file in ("operators.csv", "clusters.csv", "assignments.csv", "scenario.toml"):
        assert (ctx.proj / "results" / "reform" / file).is_file(), f"{file} missing"
    cli_ok(ctx, "check", "{proj}/results/reform")


add("dl-concurrent-solves-same-out", DATA, [], (0, 1), custom=_concurrent,
    allowed=("proj/results/reform",), extra=_concurrent_ok, slow=True)

# generate denmark never writes over its base without --force.
DK = denmark("dk", full=True)
def _new_data_set(ctx: Ctx, _: Outcome) -> None:
    made = [p for p in ctx.proj.rglob("firms.csv") if p.parent != ctx.proj / "dk"]
    assert made, "no new data set (firms.csv) under the working directory"


add("dl-gen-denmark-default-out", DATA, ["generate", "denmark", "--base", "{proj}/dk",
                                         "--firms", "500"], 0, DK,
    allowed=("*",), protect=("proj/dk",), extra=_new_data_set,
    note="the default output is a new folder (not --base); it must land in the working "
         "directory, where the snapshot sees it")
add("dl-gen-denmark-out-is-base", DATA, ["generate", "denmark", "--base", "{proj}/dk", "--out",
                                         "{proj}/dk", "--firms", "500"], 2, DK,
    must=("--force",))
add("dl-gen-denmark-out-is-base-force", DATA,
    ["generate", "denmark", "--base", "{proj}/dk", "--out", "{proj}/dk", "--firms", "500",
     "--force"], 0, DK, allowed=("proj/dk",))
add("dl-gen-denmark-out-foreign", DATA, ["generate", "denmark", "--base", "{proj}/dk", "--out",
                                         "thesis", "--firms", "500"], 2,
    DK, text("thesis/chapter1.md", "# Chapter 1\n"), must=("thesis",))
add("dl-gen-denmark-out-dot", DATA, ["generate", "denmark", "--base", "{proj}/dk", "--out", ".",
                                     "--firms", "500"], 2, DK)
add("dl-gen-denmark-out-new", DATA, ["generate", "denmark", "--base", "{proj}/dk", "--out",
                                     "dk500", "--firms", "500"], 0, DK,
    allowed=("proj/dk500",), extra=perms("dk500"))

# compare: an earlier comparison of other scenarios needs --force.
CMP = (data(), plan(file="a.toml", name="alpha"),
       plan("[policy]\nmax_operators = 4\n", file="b.toml", name="beta"))
CMP_OTHER = (*CMP, plan(file="d.toml", name="delta"),
             plan("[policy]\nmax_operators = 3\n", file="e.toml", name="echo"),
             prerun("compare", "d.toml", "e.toml", "--out", "{proj}/cmp"))
AB = ["compare", "a.toml", "b.toml", "--out"]
add("dl-compare-over-other-comparison", DATA, [*AB, "{proj}/cmp"], 2, *CMP_OTHER,
    must=("--force",))
add("dl-compare-over-other-comparison-force", DATA, [*AB, "{proj}/cmp", "--force"], 0,
    *CMP_OTHER, allowed=("proj/cmp",), extra=result_written("cmp/alpha"))
add("dl-compare-over-same-comparison", DATA, [*AB, "{proj}/cmp"], 0,
    *CMP, prerun(*AB, "{proj}/cmp"), allowed=("proj/cmp",), extra=perms("cmp"))
for cid, out, must, setup in [
    ("dl-compare-out-data-folder", "landscape", "landscape", ()),
    ("dl-compare-out-dot", ".", "", ()),
    ("dl-compare-out-regular-file", "notes.txt", "notes.txt",
     (text("notes.txt", "my notes\n"),)),
    ("dl-compare-out-foreign-folder", "thesis", "thesis",
     (text("thesis/chapter1.md", "# Chapter 1\n"),)),
]:
    add(cid, DATA, [*AB, out], 2, *CMP, *setup, must=(must,) if must else ())
add("dl-compare-default-out-foreign", DATA, ["compare", "a.toml", "b.toml"], 2,
    *CMP, text("results/compare/keep.txt", "keep me\n"), must=("compare",))

# generate synthetic, sweep, price, alternatives: the same guard.
for cid, out, must, setup in [
    ("dl-gen-synthetic-out-foreign", "thesis", "thesis",
     (text("thesis/chapter1.md", "# Chapter 1\n"),)),
    ("dl-gen-synthetic-out-project", "{proj}", "proj", BASIC),
    ("dl-gen-synthetic-out-dot", ".", "", BASIC),
    ("dl-gen-synthetic-out-regular-file", "notes.txt", "notes.txt",
     (text("notes.txt", "my notes\n"),)),
]:
    add(cid, DATA, ["generate", "synthetic", "--out", out, *SYN_ARGS], 2, *setup,
        must=(must,) if must else ())
add("dl-gen-synthetic-xlsx-over-workbook", DATA,
    ["generate", "synthetic", "--format", "xlsx", "--out", "budget.xlsx", *SYN_ARGS], 2,
    data("budget.xlsx", fmt="xlsx"), must=("budget.xlsx",))
add("dl-sweep-out-data-folder", DATA, ["sweep", "plan.toml", "--param",
                                       "policy.max_operators=3,4", "--out", "landscape"], 2,
    *BASIC, must=("landscape",))
add("dl-price-out-data-file", DATA, ["price", "plan.toml", "--out", "landscape/operators.csv"],
    2, *BASIC, must=("operators.csv",))
add("dl-alternatives-out-data-file", DATA, ["alternatives", "plan.toml", "-k", "2", "--out",
                                            "landscape/firms.csv"], 2, *BASIC,
    must=("firms.csv",))


# =========================================================================== 2 wrong plans

def same_objective(rel: str, ref: str) -> Callable[[Ctx, Outcome], None]:
    def check(ctx: Ctx, _: Outcome) -> None:
        got, want = summary(ctx, rel), summary(ctx, ref)
        assert got["status"] == "optimal", f"status {got['status']!r}"
        assert close(got["objective"], want["objective"]), (
            f"objective {got['objective']} but {want['objective']} with unlimited capacity")

    return check


BLANK_CAP = set_col("operators", "capacity", float("nan"))


def reference(mutate: Callable[[dict[str, pd.DataFrame]], None]) -> tuple[Step, ...]:
    """The same landscape with unlimited (blank) capacity, solved into ref-result."""
    return (data("ref-data", mutate), plan(file="ref.toml", data_path="ref-data"),
            prerun("solve", "ref.toml", "--out", "{proj}/ref-result"))


for cid, mutate, ref, body in [
    ("wp-capacity-1e15-all", set_col("operators", "capacity", 1e15), BLANK_CAP, ""),
    ("wp-capacity-1e15-one", set_col("operators", "capacity", 1e15, rows=[0]),
     set_col("operators", "capacity", float("nan"), rows=[0]), ""),
    ("wp-capacity-1e12-all", set_col("operators", "capacity", 1e12), BLANK_CAP, ""),
    ("wp-capacity-1e9-all", set_col("operators", "capacity", 1e9), BLANK_CAP, ""),
    ("wp-override-capacity-1e18", None, BLANK_CAP, "[[overrides.operators]]\ncapacity = 1e18\n"),
    ("wp-override-capacity-factor-1e15", None, BLANK_CAP,
     "[[overrides.operators]]\ncapacity_factor = 1e15\n"),
]:
    add(cid, WRONG, ["solve", "plan.toml", "--out", "res"], 0, data(mutate=mutate), plan(body),
        *reference(ref), allowed=("proj/res",), extra=same_objective("res", "ref-result"))


def not_proven(ctx: Ctx, _: Outcome) -> None:
    s = summary(ctx, "res")
    assert s["proven_optimal"] is False, f"proven_optimal {s['proven_optimal']!r}"
    assert s["status"] == "feasible", f"status {s['status']!r}, want 'feasible'"


add("wp-mip-gap-1", WRONG, ["solve", "plan.toml", "--out", "res"], 0,
    data(), plan("[solver]\nmip_gap = 1\n"), must_not=("(proven",), allowed=("proj/res",),
    extra=not_proven)
add("wp-time-limit-no-plan", WRONG, ["solve", "plan.toml", "--out", "res"], 1,
    data(), plan("[solver]\ntime_limit = 0.001\n"), must=("time",), allowed=("proj/res",),
    note="time_limit 0.001 s gives no plan on the tiny landscape (checked repeatedly)")
for cid, body, key in [
    ("wp-cost-per-minute-inf", "[costs]\ncost_per_firm_minute = inf\n",
     "costs.cost_per_firm_minute"),
    ("wp-cost-per-minute-nan", "[costs]\ncost_per_firm_minute = nan\n",
     "costs.cost_per_firm_minute"),
    ("wp-cost-per-minute-minus-inf", "[costs]\ncost_per_firm_minute = -inf\n",
     "costs.cost_per_firm_minute"),
    ("wp-horizon-inf", "[costs]\nhorizon_years = inf\n", "costs.horizon_years"),
    ("wp-disruption-inf", "[costs]\ndisruption_cost_per_firm = inf\n",
     "costs.disruption_cost_per_firm"),
    ("wp-unserved-penalty-inf", "[costs]\nunserved_penalty_per_firm = inf\n",
     "costs.unserved_penalty_per_firm"),
    ("wp-max-travel-nan", "[policy]\nmax_travel_minutes = nan\n", "policy.max_travel_minutes"),
    ("wp-mip-gap-nan", "[solver]\nmip_gap = nan\n", "solver.mip_gap"),
    ("wp-override-capacity-nan", "[[overrides.operators]]\ncapacity = nan\n", "capacity"),
    ("wp-override-cost-factor-inf", "[[overrides.operators]]\nannual_cost_factor = inf\n",
     "annual_cost_factor"),
]:
    add(cid, WRONG, ["solve", "plan.toml", "--out", "res"], 2, data(), plan(body),
        must=(key, "plan.toml"))


# =========================================================================== 3 tracebacks

ZERO_FIRMS = data(mutate=header_only("firms", "memberships"))
add("tb-zero-firms-validate", TRACE, ["validate", "landscape"], 2, ZERO_FIRMS, must=("firms",))
add("tb-zero-firms-info", TRACE, ["info", "landscape"], 2, ZERO_FIRMS, must=("firms",))
add("tb-zero-firms-solve", TRACE, ["solve", "plan.toml", "--out", "res"], 2, ZERO_FIRMS, plan(),
    must=("firms",))


def nobody_served(ctx: Ctx, _: Outcome) -> None:
    s = summary(ctx, "res")
    assert s["status"] == "optimal", f"status {s['status']!r}"
    assert s["coverage"]["all"] in (0, 0.0, None), f"coverage {s['coverage']['all']!r}"


add("tb-soft-coverage-nobody-reachable", TRACE, ["solve", "plan.toml", "--out", "res"], 0,
    data(), plan('[policy]\ncoverage = "soft"\ncoverage_target = 0.0\n'
                 "max_travel_minutes = 0.001\n"), allowed=("proj/res",), extra=nobody_served)
HUGE_COST = data(mutate=set_col("operators", "annual_cost", 1e308, rows=[0]))
add("tb-annual-cost-1e308-validate", TRACE, ["validate", "landscape"], 2, HUGE_COST,
    must=("annual_cost",))
add("tb-annual-cost-1e308-solve", TRACE, ["solve", "plan.toml", "--out", "res"], 2, HUGE_COST,
    plan(), must=("annual_cost",))
FAKE_XLSX = text("landscape.xlsx", "this is not a workbook\n")
TRUNC_XLSX = (data("landscape.xlsx", fmt="xlsx"), truncate("landscape.xlsx"))
add("tb-fake-xlsx-validate", TRACE, ["validate", "landscape.xlsx"], 2, FAKE_XLSX,
    must=("landscape.xlsx",))
add("tb-fake-xlsx-info", TRACE, ["info", "landscape.xlsx"], 2, FAKE_XLSX,
    must=("landscape.xlsx",))
add("tb-fake-xlsx-solve", TRACE, ["solve", "plan.toml", "--data", "landscape.xlsx", "--out",
                                  "res"], 2, FAKE_XLSX, data(), plan(),
    must=("landscape.xlsx",))
add("tb-truncated-xlsx-validate", TRACE, ["validate", "landscape.xlsx"], 2, *TRUNC_XLSX,
    must=("landscape.xlsx",))
add("tb-truncated-xlsx-info", TRACE, ["info", "landscape.xlsx"], 2, *TRUNC_XLSX,
    must=("landscape.xlsx",))
add("tb-solve-data-folder", TRACE, ["solve", "landscape"], 2, data(), must=("scenario",))
add("tb-solve-text-file", TRACE, ["solve", "notes.txt"], 2, text("notes.txt", "hello\n"),
    must=("notes.txt",))
add("tb-solve-missing-scenario", TRACE, ["solve", "missing.toml"], 2, must=("missing.toml",))
add("tb-solve-binary-scenario", TRACE, ["solve", "plan.toml"], 2,
    raw("plan.toml", bytes(range(256)) * 4), must=("plan.toml",))
add("tb-extends-folder", TRACE, ["solve", "plan.toml", "--out", "res"], 2,
    data(), plan('extends = "landscape"\n'), must=("landscape", "plan.toml"))
add("tb-extends-missing", TRACE, ["solve", "plan.toml", "--out", "res"], 2,
    data(), plan('extends = "nope.toml"\n'), must=("nope.toml",))
add("tb-extends-cycle", TRACE, ["solve", "a.toml", "--out", "res"], 2,
    data(), plan('extends = "b.toml"\n', file="a.toml"),
    plan('extends = "a.toml"\n', file="b.toml"), must=("extends",))
add("tb-latin1-scenario", TRACE, ["solve", "plan.toml", "--out", "res"], 2,
    data(), plan('description = "Sønderjylland, Ærø og Læsø"\n', encoding="latin-1"),
    must=("plan.toml",))
add("tb-extends-chain-1200", TRACE, ["solve", "chain/c0000.toml", "--out", "res"], 2,
    data(), chain(1200), must=("extends",))
add("tb-read-only-out-parent", TRACE, ["solve", "plan.toml", "--out", "ro/res"], 1,
    *BASIC, mkdir("ro"), chmod("ro", 0o555), must=("ro",), skip=as_root)

# The environment refuses the write (simulated): exit 1, the earlier result untouched.
for cid, patch, must in [
    ("tb-disk-full-new-folder-solve", fail_tempfiles(ENOSPC), "disk is full"),
    ("tb-disk-full-mid-write-solve", fail_csv_writes(ENOSPC), "disk is full"),
    ("tb-permission-denied-solve", fail_csv_writes(EACCES), "permission"),
    ("tb-read-only-fs-solve", fail_csv_writes(EROFS), "read-only"),
]:
    add(cid, TRACE, ["solve", "plan.toml", "--out", "{proj}/results/plan"], 1, *EARLIER,
        patch=patch, must=(must,))
add("tb-disk-full-generate-synthetic", TRACE,
    ["generate", "synthetic", "--out", "{proj}/syn", *SYN_ARGS], 1,
    patch=fail_tempfiles(ENOSPC), must=("disk is full",))
add("tb-disk-full-compare", TRACE, [*AB, "{proj}/cmp"], 1, *CMP,
    patch=fail_csv_writes(ENOSPC), must=("disk is full",))

# generate synthetic: impossible sizes and unknown formats name the option.
for cid, over, must in [
    ("tb-gen-synthetic-municipalities-0", {"municipalities": 0}, "--municipalities"),
    ("tb-gen-synthetic-firms-negative", {"firms": -5}, "--firms"),
    ("tb-gen-synthetic-regions-0", {"regions": 0}, "--regions"),
    ("tb-gen-synthetic-strongholds-0", {"strongholds": 0}, "--strongholds"),
    ("tb-gen-synthetic-clusters-0", {"clusters": 0}, "--clusters"),
    ("tb-gen-synthetic-operators-below-regions", {"operators": 1}, "--operators"),
    ("tb-gen-synthetic-municipalities-below-regions", {"municipalities": 1},
     "--municipalities"),
]:
    add(cid, TRACE, ["generate", "synthetic", "--out", "{proj}/syn", *syn_args(**over)], 2,
        must=(must,))
add("tb-gen-synthetic-format-json", TRACE,
    ["generate", "synthetic", "--out", "{proj}/syn", "--format", "json", *SYN_ARGS], 2,
    must=("--format",))
add("tb-gen-synthetic-seed-negative", TRACE,
    ["generate", "synthetic", "--out", "{proj}/syn", "--seed", "-1", *SYN_ARGS], 2,
    must=("--seed",))
add("tb-gen-denmark-seed-negative", TRACE,
    ["generate", "denmark", "--base", "{proj}/dk", "--out", "{proj}/dk2", "--firms", "500",
     "--seed", "-1"], 2, denmark("dk"), must=("--seed",))

# check on broken result folders.
for cid, steps, must in [
    ("tb-check-truncated-summary", (truncate("res/summary.json", 0.3),), "summary.json"),
    ("tb-check-summary-not-an-object", (text("res/summary.json", "[]\n"),), "summary.json"),
    ("tb-check-summary-empty", (truncate("res/summary.json", 0.0),), "summary.json"),
    ("tb-check-summary-missing", (remove("res/summary.json"),), "summary.json"),
]:
    add(cid, TRACE, ["check", "res"], 2, *BASIC, prerun("solve", "plan.toml", "--out", "res"),
        *steps, must=(must,))
add("tb-check-data-folder", TRACE, ["check", "landscape"], 2, data(), must=("summary.json",))

# compare: scenario names that collide with table columns, or that matplotlib parses.
for bad in ("name", "unit", "metric"):
    add(f"tb-compare-scenario-named-{bad}", TRACE,
        ["compare", "good.toml", "x.toml", "--out", "{proj}/cmp"], 2,
        data(), plan(file="good.toml", name="good"), plan(file="x.toml", name=bad),
        must=(bad, "x.toml"))


def chart_written(ctx: Ctx, _: Outcome) -> None:
    chart = ctx.proj / "cmp" / "cost_terms.png"
    assert chart.is_file() and chart.stat().st_size > 0, "cmp/cost_terms.png not written"


# A backslash is refused in names (a path separator on Windows), so the \frac variant is a
# clean input error naming the key; names with unbalanced mathtext compare and chart.
add("tb-compare-mathtext-name-frac", TRACE,
    ["compare", "good.toml", "m.toml", "--out", "{proj}/cmp"], 2,
    data(), plan(file="good.toml", name="good"), plan(file="m.toml", name="$\\frac{1}$"),
    must=("m.toml", "[name]"))
for tag, mathtext in (("caret", "$x^$"), ("subscript", "$x_{$"), ("dollars", "$$ $")):
    add(f"tb-compare-mathtext-name-{tag}", TRACE,
        ["compare", "good.toml", "m.toml", "--out", "{proj}/cmp"], 0,
        data(), plan(file="good.toml", name="good"), plan(file="m.toml", name=mathtext),
        allowed=("proj/cmp",), extra=chart_written)

# Options and parameters already refused cleanly (regressions).
add("tb-sweep-step-zero", TRACE, ["sweep", "plan.toml", "--param",
                                  "policy.max_operators=1:5:0", "--out", "sw"], 2, *BASIC,
    must=("policy.max_operators",))
add("tb-sweep-nan", TRACE, ["sweep", "plan.toml", "--param",
                            "policy.max_travel_minutes=nan:5:1", "--out", "sw"], 2, *BASIC,
    must=("policy.max_travel_minutes",))
add("tb-sweep-unknown-key", TRACE, ["sweep", "plan.toml", "--param", "policy.max_operator=1,2",
                                    "--out", "sw"], 2, *BASIC, must=("max_operator",))
add("tb-alternatives-k-zero", TRACE, ["alternatives", "plan.toml", "-k", "0"], 2, *BASIC,
    must=("-k",))
add("tb-validate-missing-folder", TRACE, ["validate", "nowhere"], 2, must=("nowhere",))


# =========================================================================== 4 output safety

MARKUPS = [("close-tag", "[/bold]"), ("link", "[link=http://x]y[/link]"),
           ("not-markup", "[not markup]")]


def hostile_names(payload: str) -> Callable[[dict[str, pd.DataFrame]], None]:
    return both(*(names(t, lambda i, _old, p=payload: f"{p} {i + 1}")
                  for t in ("regions", "municipalities", "strongholds", "operators",
                            "clusters")))


for tag, markup in MARKUPS:
    hostile = data(mutate=hostile_names(markup))
    add(f"os-markup-{tag}-validate", SAFETY, ["validate", "landscape"], 0, hostile)
    add(f"os-markup-{tag}-info", SAFETY, ["info", "landscape", "--radius", "0.001"], 0, hostile,
        must=(markup,))
    add(f"os-markup-{tag}-solve", SAFETY, ["solve", "plan.toml", "--out", "res"], 0, hostile,
        plan(), must=(markup,), allowed=("proj/res",))
MARKUP_DIR = "data[/bold] [not markup]"
add("os-markup-data-path-validate", SAFETY, ["validate", MARKUP_DIR], 0, data(MARKUP_DIR),
    must=(MARKUP_DIR,))
add("os-markup-data-path-info", SAFETY, ["info", MARKUP_DIR], 0, data(MARKUP_DIR),
    must=(MARKUP_DIR,))
add("os-markup-data-and-out-path-solve", SAFETY, ["solve", "plan.toml", "--out", "out[/bold]"],
    0, data(MARKUP_DIR), plan(data_path=MARKUP_DIR), must=("out[/bold]",),
    allowed=("proj/out[/bold]",))
add("os-markup-scenario-name-solve", SAFETY, ["solve", "plan.toml", "--out", "res"], 0,
    data(), plan(name="[not markup]"), must=("[not markup]",), allowed=("proj/res",))
add("os-markup-scenario-names-compare", SAFETY,
    ["compare", "a.toml", "b.toml", "--out", "{proj}/cmp"], 0,
    data(), plan(file="a.toml", name="[not markup]"), plan(file="b.toml", name="[red]alert"),
    must=("[not markup]", "[red]alert"), allowed=("proj/cmp",))
add("os-markup-bad-cell-value", SAFETY, ["validate", "landscape"], 2,
    data(mutate=set_col("operators", "annual_cost", "[/bold]", rows=[0])),
    must=("annual_cost", "[/bold]"))
add("os-markup-unknown-scenario-key", SAFETY, ["solve", "plan.toml", "--out", "res"], 2,
    data(), plan('[policy]\n"[/bold]" = 1\n'), must=("[/bold]",))

# Formula triggers in names: every such cell written with a leading apostrophe, read back exact.
FORMULAS = [("equals", "=1+1"), ("plus", "+1+1"), ("minus", "-1+1"), ("at", "@SUM(1)"),
            ("tab", "\t=1+1"), ("cr", "\r=1+1")]


def _formula_solve_ok(payload: str) -> Callable[[Ctx, Outcome], None]:
    def check(ctx: Ctx, _: Outcome) -> None:
        no_live_formulas(ctx, "res")
        expected = {f"O{i + 1:03d}": f"{payload} op{i + 1}".strip() for i in range(5)}
        protected_column(ctx, "res/operators.csv", "name", expected, key="operator_id")
        cli_ok(ctx, "check", "res")

    return check


def _formula_compare_ok(payload: str) -> Callable[[Ctx, Outcome], None]:
    def check(ctx: Ctx, _: Outcome) -> None:
        no_live_formulas(ctx, "cmp")
        header = (ctx.proj / "cmp" / "comparison.csv").read_text(encoding="utf-8").splitlines()[0]
        assert "'" + payload in header, f"comparison.csv header {header!r}"

    return check


def _formula_xlsx_ok(payload: str, rel: str) -> Callable[[Ctx, Outcome], None]:
    def check(ctx: Ctx, _: Outcome) -> None:
        no_xlsx_formulas(ctx, rel)
        got = xlsx_column(ctx, rel, "operators", "name")[:3]
        want = ["'" + f"{payload} {i + 1}".strip() for i in range(3)]
        assert got == want, f"operators names {got!r}, want {want!r}"
        cli_ok(ctx, "validate", rel)

    return check


for tag, payload in FORMULAS:
    add(f"os-formula-{tag}-result-csv", SAFETY, ["solve", "plan.toml", "--out", "res"], 0,
        data(mutate=names("operators", lambda i, _o, p=payload: f"{p} op{i + 1}")), plan(),
        allowed=("proj/res",), extra=_formula_solve_ok(payload))
    add(f"os-formula-{tag}-generated-xlsx", SAFETY,
        ["generate", "denmark", "--base", "{proj}/dk", "--sources", "{proj}/src", "--out",
         "{proj}/dk.xlsx", "--firms", "500", "--smes", "500"], 0,
        denmark("dk"), sources("src", names("organisations",
                                            lambda i, _o, p=payload: f"{p} {i + 1}",
                                            rows=range(3))),
        allowed=("proj/dk.xlsx",), extra=_formula_xlsx_ok(payload, "dk.xlsx"))
for tag, payload in FORMULAS[:4]:
    add(f"os-formula-{tag}-comparison-csv", SAFETY,
        ["compare", "good.toml", "f.toml", "--out", "{proj}/cmp"], 0,
        data(), plan(file="good.toml", name="good"), plan(file="f.toml", name=payload),
        allowed=("proj/cmp",), extra=_formula_compare_ok(payload))


def _formula_dk_csv_ok(ctx: Ctx, _: Outcome) -> None:
    no_live_formulas(ctx, "dk2")
    frame = pd.read_csv(ctx.proj / "dk2" / "operators.csv", dtype=str, keep_default_na=False)
    assert frame["name"].iloc[0] == "'=1+1 1", f"name {frame['name'].iloc[0]!r}"
    cli_ok(ctx, "validate", "dk2")


add("os-formula-equals-generated-csv", SAFETY,
    ["generate", "denmark", "--base", "{proj}/dk", "--sources", "{proj}/src", "--out",
     "{proj}/dk2", "--firms", "500", "--smes", "500"], 0,
    denmark("dk"), sources("src", names("organisations", lambda i, _o: f"=1+1 {i + 1}",
                                        rows=range(3))),
    allowed=("proj/dk2",), extra=_formula_dk_csv_ok)


def _formula_id_ok(ctx: Ctx, _: Outcome) -> None:
    no_live_formulas(ctx, "res")
    ids = pd.read_csv(ctx.proj / "res" / "operators.csv", dtype=str,
                      keep_default_na=False)["operator_id"]
    assert "'=O1" in set(ids), f"operator ids {list(ids)!r}"
    cli_ok(ctx, "check", "res")


add("os-formula-operator-id", SAFETY, ["solve", "plan.toml", "--out", "res"], 0,
    data(mutate=rename_operator("O001", "=O1")), plan(), allowed=("proj/res",),
    extra=_formula_id_ok)
add("os-formula-apostrophe-name-roundtrip", SAFETY, ["solve", "plan.toml", "--out", "res"], 0,
    data(mutate=names("operators", lambda i, _o: f"'quoted {i + 1}")), plan(),
    allowed=("proj/res",), extra=lambda ctx, _: cli_ok(ctx, "check", "res"))
add("os-synthetic-xlsx-no-formulas", SAFETY,
    ["generate", "synthetic", "--format", "xlsx", "--out", "syn.xlsx", *SYN_ARGS], 0,
    allowed=("proj/syn.xlsx",),
    extra=all_of(lambda ctx, _: no_xlsx_formulas(ctx, "syn.xlsx"), perms("syn.xlsx")))

# Permissions under umask 022: 0644 files, 0755 folders.
add("os-perms-solve", SAFETY, ["solve", "plan.toml", "--out", "res"], 0, *BASIC,
    allowed=("proj/res",), extra=perms("res"))
add("os-perms-generate-synthetic", SAFETY, ["generate", "synthetic", "--out", "syn", *SYN_ARGS],
    0, allowed=("proj/syn",), extra=perms("syn"))
add("os-perms-generate-synthetic-parquet", SAFETY,
    ["generate", "synthetic", "--format", "parquet", "--out", "synp", *SYN_ARGS], 0,
    allowed=("proj/synp",), extra=perms("synp"))


# =========================================================================== 5 check trust

TRUST_PLAN = (data(), plan('[policy]\nmax_operators = 3\nkeep = ["O003"]\n'),
              prerun("solve", "plan.toml", "--out", "res"))


def _set(*path: str, value: object) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _drop(*path: str) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


add("ct-status-edited-evaluated", TRUST, ["check", "res"], 1, *TRUST_PLAN,
    edit_json("res/summary.json", _set("status", value="evaluated")), must=("status",))
for cid, change in [
    ("ct-scenario-max-operators-raised", _set("policy", "max_operators", value=99)),
    ("ct-scenario-keep-removed", _drop("policy", "keep")),
    ("ct-scenario-cost-changed", _set("costs", "cost_per_firm_minute", value=0.0)),
    ("ct-scenario-mode-status-quo", _set("mode", value="status_quo")),
]:
    add(cid, TRUST, ["check", "res"], 1, *TRUST_PLAN, edit_toml("res/scenario.toml", change),
        must=("input_hash",))
add("ct-objective-edited", TRUST, ["check", "res"], 1, *TRUST_PLAN,
    edit_json("res/summary.json", _set("objective", value=1.0)), must=("objective",))
add("ct-operators-edited", TRUST, ["check", "res"], 1, *TRUST_PLAN,
    edit_csv("res/operators.csv", lambda f: f.__setitem__("kept", "False")))
add("ct-genuine-status-quo", TRUST, ["check", "res"], 0, data(),
    plan('mode = "status_quo"\n'), prerun("solve", "plan.toml", "--out", "res"))


def _cmp_same(metric: str, scenario: str = "alpha") -> Callable[[Ctx, Outcome], None]:
    def check(ctx: Ctx, _: Outcome) -> None:
        got = comparison_value(ctx, "cmp", metric, scenario)
        want = ctx.state["value"]
        assert got != 0 and close(got, want), f"{metric} of {scenario}: {got}, real {want}"

    return check


CMP_DONE = (*CMP, prerun(*AB, "{proj}/cmp"))
for cid, metric, change in [
    ("ct-compare-cached-objective-zero", "total cost", _set("objective", value=0.0)),
    ("ct-compare-cached-operating-zero", "operating",
     _set("objective_terms", "operating", value=0.0)),
    ("ct-compare-cached-coverage-edited", "coverage, all", _set("coverage", "all", value=0.5)),
]:
    add(cid, TRUST, [*AB, "{proj}/cmp"], 0, *CMP_DONE,
        remember("value", lambda ctx, m=metric: comparison_value(ctx, "cmp", m, "alpha")),
        edit_json("cmp/alpha/summary.json", change), allowed=("proj/cmp",),
        extra=_cmp_same(metric))


def _operator_diff_same(ctx: Ctx, _: Outcome) -> None:
    got = (ctx.proj / "cmp" / "operator_diff.csv").read_text(encoding="utf-8")
    assert got == ctx.state["value"], f"operator_diff.csv now:\n{got}\nwas:\n{ctx.state['value']}"


add("ct-compare-cached-operators-edited", TRUST, [*AB, "{proj}/cmp"], 0, *CMP_DONE,
    remember("value", lambda ctx: (ctx.proj / "cmp" / "operator_diff.csv").read_text(
        encoding="utf-8")),
    edit_csv("cmp/alpha/operators.csv", lambda f: f.__setitem__("kept", "False")),
    allowed=("proj/cmp",), extra=_operator_diff_same)


# =========================================================================== 6 input handling

def table_file(table: str, *, folder: str = "landscape", sep: str = ",",
               encoding: str = "utf-8", mutate: Callable | None = None) -> Step:
    """Rewrite one table of ``folder`` with another separator or encoding."""
    from .steps import syn_tables

    def step(ctx: Ctx) -> None:
        tables = syn_tables()
        if mutate is not None:
            mutate(tables)
        tables[table].to_csv(ctx.proj / folder / f"{table}.csv", index=False, sep=sep,
                             encoding=encoding)

    return step


DANISH_REGIONS = names("regions", lambda i, _o: ["Sjælland Øst", "Ærø og Læsø"][i])
add("ih-semicolon-one-table", INPUT, ["validate", "landscape"], 0, data(),
    table_file("operators", sep=";"), must=("operators.csv",))
add("ih-semicolon-all-tables", INPUT, ["validate", "landscape"], 0, data(sep=";"),
    must=("firms.csv",))
add("ih-semicolon-solve", INPUT, ["solve", "plan.toml", "--out", "res"], 0, *BASIC,
    table_file("operators", sep=";"), allowed=("proj/res",),
    extra=result_written("res"))
add("ih-cp1252-validate", INPUT, ["validate", "landscape"], 0, data(),
    table_file("regions", encoding="cp1252", mutate=DANISH_REGIONS), must=("regions.csv",))
add("ih-cp1252-info-decoded", INPUT, ["info", "landscape"], 0, data(),
    table_file("regions", encoding="cp1252", mutate=DANISH_REGIONS),
    must=("Sjælland Øst",))
add("ih-latin1-operators", INPUT, ["validate", "landscape"], 0, data(),
    table_file("operators", encoding="latin-1",
               mutate=names("operators", lambda i, _o: f"Væksthus Sjælland {i + 1}")),
    must=("operators.csv",))


def operators_lines(lines: Callable[[list[str]], list[str]], newline: str = "\n") -> Step:
    """operators.csv written line by line: ``lines(rows)`` may add quoted multi-line fields and
    blank lines (rows are the plain CSV lines, header first)."""
    from .steps import syn_tables

    def step(ctx: Ctx) -> None:
        frame = syn_tables()["operators"]
        rows = frame.to_csv(index=False, lineterminator="\n").splitlines()
        (ctx.proj / "landscape" / "operators.csv").write_bytes(
            newline.join(lines(rows)).encode() + newline.encode())

    return step


def _bad_cost(row: str) -> str:
    cells = row.split(",")
    cells[4] = "abc"
    return ",".join(cells)


def _multiline(rows: list[str]) -> list[str]:
    # header 1, O001 2, O002 3-5 (name over three lines), blank 6, O003 7 (bad annual_cost)
    o2 = rows[2].split(",")
    o2[1] = '"Multi\nline\nname"'
    return [rows[0], rows[1], ",".join(o2), "", _bad_cost(rows[3]), *rows[4:]]


def _blank_lines(rows: list[str]) -> list[str]:
    # header 1, blank 2-3, O001 4 (bad annual_cost)
    return [rows[0], "", "", _bad_cost(rows[1]), *rows[2:]]


def _multiline_bad_reference(rows: list[str]) -> list[str]:
    # header 1, O001 2, O002 3-5, O003 6, O004 7 (unknown municipality)
    o2 = rows[2].split(",")
    o2[1] = '"Multi\nline\nname"'
    o4 = rows[4].split(",")
    o4[2] = "M999"
    return [rows[0], rows[1], ",".join(o2), rows[3], ",".join(o4), *rows[5:]]


add("ih-line-after-multiline-name", INPUT, ["validate", "landscape"], 2, data(),
    operators_lines(_multiline), must=("operators.csv:7", "annual_cost"))
add("ih-line-after-multiline-name-crlf", INPUT, ["validate", "landscape"], 2, data(),
    operators_lines(_multiline, newline="\r\n"), must=("operators.csv:7", "annual_cost"))
add("ih-line-after-blank-lines", INPUT, ["validate", "landscape"], 2, data(),
    operators_lines(_blank_lines), must=("operators.csv:4", "annual_cost"))
add("ih-reference-line-after-multiline-name", INPUT, ["validate", "landscape"], 2, data(),
    operators_lines(_multiline_bad_reference), must=("operators.csv:7", "municipality_id"))
add("ih-duplicate-header-csv", INPUT, ["validate", "landscape"], 2, data(),
    operators_lines(lambda rows: [rows[0] + ",name", *(r + ",Other" for r in rows[1:])]),
    must=("duplicate column", "operators.csv"))
add("ih-duplicate-header-xlsx", INPUT, ["validate", "landscape.xlsx"], 2,
    data("landscape.xlsx", fmt="xlsx"), xlsx_header("landscape.xlsx", "operators", 7, "name"),
    must=("duplicate column", "operators"))
add("ih-employees-thousands-separator", INPUT, ["validate", "landscape"], (0, 2),
    data(mutate=set_col("firms", "employees", "1.500", rows=[0])),
    must=("employees", "firms.csv:2", "1.500"),
    note="the contract says a warning; an error naming column and line is accepted too")
for cid, cell, column in [("ih-xlsx-formula-number", "E2", "annual_cost"),
                          ("ih-xlsx-formula-optional-number", "G2", "capacity"),
                          ("ih-xlsx-formula-text", "B2", "name")]:
    add(cid, INPUT, ["validate", "landscape.xlsx"], 2, data("landscape.xlsx", fmt="xlsx"),
        xlsx_cell("landscape.xlsx", "operators", cell, "=1+1"),
        must=("operators", column, ":2"))
add("ih-full-od-matrix-validate", INPUT, ["validate", "landscape"], 0,
    data(mutate=full_od_matrix))
add("ih-full-od-matrix-solve", INPUT, ["solve", "plan.toml", "--out", "res"], 0,
    data(mutate=full_od_matrix), plan(), allowed=("proj/res",), extra=result_written("res"))
add("ih-gen-parquet-over-csv-data", INPUT,
    ["generate", "synthetic", "--format", "parquet", "--out", "landscape", *SYN_ARGS], 2, data(),
    must=("landscape",))
add("ih-gen-synthetic-over-data-set", INPUT,
    ["generate", "synthetic", "--out", "landscape", *SYN_ARGS], 2, data(), must=("landscape",))
add("ih-info-radius-nan", INPUT, ["info", "landscape", "--radius", "nan"], 2, data(),
    must=("--radius",))
for cid, body, must in [
    ("ih-keep-typo", 'keep = ["O01"]', ("policy.keep", "did you mean", "O001")),
    ("ih-keep-typo-lowercase", 'keep = ["o001"]', ("policy.keep", "did you mean", "O001")),
    ("ih-close-typo", 'close = ["O0002"]', ("policy.close", "did you mean", "O002")),
    ("ih-keep-kinds-typo", 'keep_kinds = ["vaekshus"]', ("policy.keep_kinds", "vaekshus")),
    ("ih-exempt-strongholds-typo", 'exempt_strongholds = ["S1"]',
     ("policy.exempt_strongholds", "S1")),
    ("ih-stronghold-clusters-typo", "stronghold_clusters = { S9 = 2 }",
     ("stronghold_clusters", "S9")),
    ("ih-max-operators-and-unknown-keep", 'max_operators = -1\nkeep = ["O09"]',
     ("policy.max_operators", "policy.keep", "O09")),
]:
    add(cid, INPUT, ["solve", "plan.toml", "--out", "res"], 2, data(),
        plan(f"[policy]\n{body}\n"), must=(*must, "plan.toml"))
add("ih-three-errors-at-once", INPUT, ["solve", "plan.toml", "--out", "res"], 2, data(),
    plan('[costs]\nhorizon_years = 0\n[policy]\nmax_operators = -1\nkeep = ["O09"]\n'),
    must=("costs.horizon_years", "policy.max_operators", "policy.keep", "O09"))
add("ih-override-operator-typo", INPUT, ["solve", "plan.toml", "--out", "res"], 2, data(),
    plan('[[overrides.operators]]\noperator_id = "O09"\ncapacity_factor = 2\n'),
    must=("overrides", "O09", "plan.toml"))
add("ih-empty-table-file", INPUT, ["validate", "landscape"], 2, data(),
    raw("landscape/operators.csv", b""), must=("operators.csv",))
add("ih-table-file-is-folder", INPUT, ["validate", "landscape"], 2, data(),
    remove("landscape/clusters.csv"), mkdir("landscape/clusters.csv"), must=("clusters.csv",))
add("ih-binary-table-file", INPUT, ["validate", "landscape"], 2, data(),
    raw("landscape/firms.csv", bytes(range(256)) * 8), must=("firms.csv",))
add("ih-bom-crlf", INPUT, ["validate", "landscape"], 0,
    data(encoding="utf-8-sig", lineterminator="\r\n"))
add("ih-extra-column", INPUT, ["validate", "landscape"], 0,
    data(mutate=set_col("operators", "notes", "free text")), must=("notes",))
add("ih-empty-data-folder", INPUT, ["validate", "empty"], 2, mkdir("empty"),
    must=("regions",))
add("ih-scenario-data-missing", INPUT, ["solve", "plan.toml", "--out", "res"], 2,
    plan(data_path="nowhere"), must=("nowhere",))
add("ih-scenario-data-not-text", INPUT, ["solve", "plan.toml", "--out", "res"], 2,
    plan("data = 5\n", data_path=""), must=("data",))
add("ih-scenario-toml-syntax", INPUT, ["solve", "plan.toml", "--out", "res"], 2, data(),
    plan("[policy\nmax_operators = 3\n"), must=("plan.toml",))
add("ih-scenario-unknown-key", INPUT, ["solve", "plan.toml", "--out", "res"], 2, data(),
    plan("[policy]\nmax_operator = 3\n"), must=("did you mean", "max_operators"))
add("ih-weight-infinite", INPUT, ["validate", "landscape"], 2,
    data(mutate=set_col("firms", "weight", float("inf"), rows=[0])), must=("weight",))
add("ih-duplicate-operator-id", INPUT, ["validate", "landscape"], 2,
    data(mutate=set_col("operators", "operator_id", "O001", rows=[1])), must=("operator_id",))


#: Variants of a case already in the default run, kept out of it for speed: marked slow
#: (`pytest -m slow` runs them), always part of the census.
BREADTH = {
    "wp-capacity-1e12-all", "wp-capacity-1e9-all", "ct-compare-cached-operating-zero",
    "ct-compare-cached-coverage-edited", "dl-name-spaces-danish-compare",
    "dl-default-out-earlier-result", "os-formula-plus-comparison-csv",
    "os-formula-minus-comparison-csv", "os-formula-at-comparison-csv",
    "os-formula-plus-generated-xlsx", "os-formula-minus-generated-xlsx",
    "os-formula-at-generated-xlsx",
}
CASES = [replace(c, slow=True) if c.id in BREADTH else c for c in CASES]

CASE_BY_ID: dict[str, Case] = {}
for _case in CASES:
    assert _case.id not in CASE_BY_ID, f"duplicate case id {_case.id}"
    CASE_BY_ID[_case.id] = _case
assert set(CASE_BY_ID) >= BREADTH, sorted(BREADTH - set(CASE_BY_ID))
