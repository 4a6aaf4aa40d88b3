"""How robust is a plan? Monte Carlo over the uncertain inputs (docs/robustness.md).

For each of N samples the perturbed inputs are drawn (seeded: the same seed gives the same
samples) and two tasks run through the batch engine:

* **sample**: the perturbed scenario re-optimised: how often each operator and cluster is
  kept (with a 95 % Wilson interval), and the spread of cost, coverage and effect;
* **nominal**: the nominal plan's decisions (operators kept and closed, clusters selected
  and not) fixed, assignments re-optimised on the perturbed inputs: its cost regret against
  the sample's optimum, its coverage, and how often it cannot be kept at all.

The verdict names what is robust ("closing X: kept in 0 of 200 samples") and what is not
("Welfare Tech is kept in 48 % of the samples").
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..api import load_inputs, solve
from ..batch.engine import BatchRun, run_batch
from ..batch.executors import Executor
from ..batch.outcome import Task
from ..batch.store import Store
from ..data.dataset import Dataset
from ..data.scenario import PERTURBABLE, Perturbation, Scenario
from ..fsio import atomic_file, write_csv, write_json
from ..problems import InputError, Problem
from ..progress import Progress
from ..results.outputs import COST_TERMS
from ..results.result import Result
from ..wording import fold
from .batchfile import open_batch_folder

#: The study's description beside its tables (docs/robustness.md).
STUDY_FILE = "study.json"
#: A share this close to 0 or 1 (and its interval with it) is called robust in the verdict.
ROBUST = 0.05
#: Between these, a decision is "contested" and named in the verdict.
CONTESTED = (0.2, 0.8)


def parse_perturbation(spec: str) -> Perturbation:
    """``WHAT[@SELECTOR]=SPREAD`` (``operators.capacity@vaeksthus=0.3``): the selector is an
    operator kind or id, or a stronghold or municipality id; resolved by :func:`resolve`."""
    problem = InputError([Problem(
        "error", f"expected WHAT[@SELECTOR]=SPREAD with WHAT one of {', '.join(PERTURBABLE)} "
        "and SPREAD a relative number in (0, 0.95], e.g. operators.capacity@vaeksthus=0.3",
        source="command line", column="--perturb", value=spec)], what="command line")
    head, sep, spread = spec.partition("=")
    what, _, selector = head.partition("@")
    try:
        value = float(spread)
    except ValueError:
        raise problem from None
    if not sep or what not in PERTURBABLE or not 0 < value <= 0.95:
        raise problem
    # The selector is kept as a kind / stronghold for now; resolve() moves it to an id field.
    key = "kind" if what.startswith("operators.") else "stronghold_id"
    return Perturbation(what=what, spread=value, **({key: selector} if selector else {}))


def resolve(p: Perturbation, ds: Dataset, source: str) -> tuple[Perturbation, list[Problem]]:
    """``p`` with a command-line selector moved to the field it names (a kind that is an
    operator id becomes ``operator_id``; a stronghold that is a municipality id, likewise),
    and the problems of ids the data does not have."""
    ops = ds.operators
    problems: list[Problem] = []
    if p.what.startswith("operators."):
        if p.kind is not None and p.kind not in set(ops["kind"]) \
                and p.kind in set(ops["operator_id"]):
            p = p.model_copy(update={"kind": None, "operator_id": p.kind})
        if p.kind is not None and p.kind not in set(ops["kind"]):
            problems.append(Problem("error", "no operator kind or id in the data set",
                                    source=source, column="perturb.kind", value=p.kind))
        if p.operator_id is not None and p.operator_id not in set(ops["operator_id"]):
            problems.append(Problem("error", "no such operator id", source=source,
                                    column="perturb.operator_id", value=p.operator_id))
    elif p.what == "firms.weight":
        strongholds = set(ds.strongholds["stronghold_id"])
        munis = set(ds.municipalities["municipality_id"])
        if p.stronghold_id is not None and p.stronghold_id not in strongholds \
                and p.stronghold_id in munis:
            p = p.model_copy(update={"stronghold_id": None, "municipality_id": p.stronghold_id})
        if p.stronghold_id is not None and p.stronghold_id not in strongholds:
            problems.append(Problem("error", "no stronghold or municipality id in the data set",
                                    source=source, column="perturb.stronghold_id",
                                    value=p.stronghold_id))
    return p, problems


def _factor(rng: np.random.Generator, p: Perturbation, size: int) -> np.ndarray:
    if p.distribution == "normal":
        return np.clip(rng.normal(1.0, p.spread, size), 0.05, 3.0)
    return rng.uniform(1.0 - p.spread, 1.0 + p.spread, size)


def draw(scenario: Scenario, ds: Dataset, perturbations: Sequence[Perturbation], n: int,
         seed: int) -> list[Scenario]:
    """The ``n`` perturbed scenarios, reproducible from ``seed``: the perturbations become
    overrides (after the scenario's own) and effect rates; the status quo of a sample is
    measured on the same perturbed data unless the scenario adds operators or clusters."""
    rng = np.random.default_rng(seed)
    ops = ds.operators.sort_values("operator_id")
    strongholds = sorted(ds.strongholds["stronghold_id"])
    own = scenario.overrides.model_dump(mode="json")
    adds = bool(scenario.overrides.add_operators or scenario.overrides.add_clusters)
    out = []
    for i in range(n):
        op_changes: list[dict[str, Any]] = []
        firm_changes: list[dict[str, Any]] = []
        rates = scenario.effect.jobs_per_served_firm.model_dump()
        for p in perturbations:
            field_name = {"operators.annual_cost": "annual_cost_factor",
                          "operators.capacity": "capacity_factor",
                          "operators.closure_cost": "closure_cost_factor"}.get(p.what)
            if field_name is not None:
                if p.operator_id is not None or p.shared:
                    target = {"operator_id": p.operator_id} if p.operator_id else (
                        {"kind": p.kind} if p.kind else {})
                    op_changes.append({**target, field_name: float(_factor(rng, p, 1)[0])})
                else:
                    ids = ops.loc[ops["kind"] == p.kind, "operator_id"] if p.kind \
                        else ops["operator_id"]
                    op_changes += [{"operator_id": o, field_name: float(f)}
                                   for o, f in zip(ids, _factor(rng, p, len(ids)), strict=True)]
            elif p.what == "firms.weight":
                where = {k: v for k, v in (("stronghold_id", p.stronghold_id),
                                           ("municipality_id", p.municipality_id)) if v}
                if where or p.shared:
                    firm_changes.append({**where, "weight_factor": float(_factor(rng, p, 1)[0])})
                else:
                    firm_changes += [{"stronghold_id": s, "weight_factor": float(f)}
                                     for s, f in zip(strongholds,
                                                     _factor(rng, p, len(strongholds)),
                                                     strict=True)]
            else:
                service = p.what.split(".", 1)[1]
                rates[service] *= float(_factor(rng, p, 1)[0])
        out.append(scenario.with_updates({
            "name": f"{scenario.name}-sample-{i}",
            "baseline": scenario.baseline if adds else "overridden",
            "overrides": {**own, "operators": [*own["operators"], *op_changes],
                          "firms": [*own["firms"], *firm_changes]},
            "effect": {"jobs_per_served_firm": rates}}))
    return out


def fixed_plan(scenario: Scenario, nominal: Result) -> Scenario:
    """``scenario`` with the nominal plan's decisions forced: its in-scope operators kept or
    closed as planned, its clusters selected or not (assignments left to re-optimise)."""
    ops = nominal.operators[nominal.operators["in_scope"].astype(bool)]
    kept = ops["kept"].astype(bool)
    cl = nominal.clusters
    selected = cl["selected"].astype(bool)
    pol = scenario.policy
    return scenario.with_updates({
        "name": f"{scenario.name}-nominal",
        "policy": {"keep": sorted(set(pol.keep) | set(ops.loc[kept, "operator_id"])),
                   "close": sorted(set(pol.close) | set(ops.loc[~kept, "operator_id"])),
                   "keep_kinds": [], "close_kinds": [],
                   "keep_clusters": sorted(cl.loc[selected, "cluster_id"]),
                   "close_clusters": sorted(cl.loc[~selected, "cluster_id"]),
                   "min_operators": 0, "max_operators": None}})


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a share k / n (n > 0)."""
    if n == 0:
        return (math.nan, math.nan)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class RobustnessStudy:
    scenario: Scenario
    nominal: Result
    #: One row per sample: its optimum and the nominal plan's evaluation (docs/robustness.md).
    samples: pd.DataFrame
    #: One row per in-scope operator: nominal fate, kept share over feasible samples, interval.
    operators: pd.DataFrame
    clusters: pd.DataFrame
    verdict: list[str] = field(default_factory=list)
    run: BatchRun | None = None
    #: How it was drawn: samples, seed, perturbations (written to study.json).
    settings: dict[str, Any] = field(default_factory=dict)


def _stability(frame: pd.DataFrame, ids: pd.DataFrame, column: str, key: str,
               nominal_flag: pd.Series) -> pd.DataFrame:
    solved = frame[frame["status"].isin(["optimal", "feasible", "time_limit"])]
    n = len(solved)
    counts: dict[str, int] = {}
    for items in solved[column]:
        for item in items:
            counts[item] = counts.get(item, 0) + 1
    rows = []
    for rec in ids.to_dict("records"):
        k = counts.get(rec[key], 0)
        low, high = wilson(k, n)
        rows.append({key: rec[key], "name": rec["name"],
                     "nominal": bool(nominal_flag.get(rec[key], False)), "kept_in": k,
                     "samples": n, "share": k / n if n else math.nan, "low": low,
                     "high": high})
    return pd.DataFrame(rows)


def robustness(scenario: Scenario, ds: Dataset, perturbations: Sequence[Perturbation], *,
               samples: int, seed: int, out: str | os.PathLike[str], executor: Executor,
               progress: Progress | None = None, retry_failed: bool = False,
               force: bool = False) -> RobustnessStudy:
    """Run (or resume) the study into ``out`` (a batch folder with its store) and read it."""
    if not perturbations:
        raise InputError([Problem("error", "nothing to perturb: give --perturb or an "
                                  "[uncertainty] section", source=scenario.name,
                                  column="uncertainty.perturb")], what="robustness")
    resolved, problems = [], []
    for p in perturbations:
        q, found = resolve(p, ds, scenario.source or scenario.name)
        resolved.append(q)
        problems += found
    if problems:
        raise InputError(problems, what="robustness")
    load_inputs(ds, scenario)  # the scenario's own ids, before anything is drawn
    drawn = draw(scenario, ds, resolved, samples, seed)
    load_inputs(ds, drawn[0])
    try:
        nominal = solve(ds, scenario)
        if not nominal.has_solution:
            raise InputError([Problem("error", f"the scenario itself has no plan "
                                      f"({nominal.status}): nothing to test for robustness",
                                      source=scenario.name)], what="robustness")
        tasks = [Task(sc, {"sample": i}, kind="sample", sample=i) for i, sc in enumerate(drawn)]
        tasks += [Task(fixed_plan(sc, nominal), {"sample": i}, kind="nominal", sample=i)
                  for i, sc in enumerate(drawn)]
        name = f"robustness-{scenario.name}"
        store_path = open_batch_folder(Path(out), name, [scenario.data, scenario.source or None],
                                       force)
        with Store(store_path, batch=name, data=ds.content_hash()) as store:
            run = run_batch(tasks, ds, store, executor, retry_failed=retry_failed,
                            progress=progress)
            frame = store.frame()
    finally:
        executor.close()
    keys = {t.key(ds) for t in tasks}
    frame = frame[frame["key"].isin(keys)]
    study = summarise(scenario, nominal, frame, run)
    study.settings = {"samples": samples, "seed": seed,
                      "perturb": [p.model_dump(mode="json", exclude_defaults=True)
                                  for p in resolved]}
    return study


def summarise(scenario: Scenario, nominal: Result, frame: pd.DataFrame,
              run: BatchRun | None = None) -> RobustnessStudy:
    """The tables and verdict of a study from its stored rows."""
    opt = frame[frame["kind"] == "sample"].set_index("sample").sort_index()
    nom = frame[frame["kind"] == "nominal"].set_index("sample").sort_index()
    samples = pd.DataFrame({
        "status": opt["status"], "cost": opt["objective"], "operators": opt["operators_after"],
        "clusters": opt["clusters_after"], "coverage": opt["coverage_all"],
        "coverage_rural": opt["coverage_rural"], "jobs": opt["jobs"],
        "savings": opt["savings"], "nominal_status": nom["status"].reindex(opt.index),
        "nominal_cost": nom["objective"].reindex(opt.index),
        "nominal_coverage": nom["coverage_all"].reindex(opt.index),
        "nominal_message": nom["message"].reindex(opt.index)})
    samples["regret"] = samples["nominal_cost"] - samples["cost"]
    samples["regret_share"] = samples["regret"] / samples["cost"]
    # Where the regret comes from, term by term (the terms add up to it).
    for term in COST_TERMS:
        samples[f"regret_{term}"] = nom[f"cost_{term}"].reindex(opt.index) - opt[f"cost_{term}"]
    samples = samples.reset_index()
    ops = nominal.operators[nominal.operators["in_scope"].astype(bool)]
    operators = _stability(opt, ops, "kept", "operator_id",
                           ops.set_index("operator_id")["kept"].astype(bool))
    cl = nominal.clusters
    clusters = _stability(opt, cl, "selected", "cluster_id",
                          cl.set_index("cluster_id")["selected"].astype(bool))
    study = RobustnessStudy(scenario, nominal, samples, operators, clusters, run=run)
    study.verdict = verdict(study)
    return study


def verdict(study: RobustnessStudy) -> list[str]:
    """Plain sentences a planner can repeat."""
    lines = []
    ops = study.operators
    n = int(ops["samples"].max()) if not ops.empty else 0
    total = len(study.samples)
    if n == 0:
        return [f"no sample of {total} has a plan: the scenario is infeasible under its "
                "uncertainty"]
    for nominal, robust, word in ((False, ops["share"] <= ROBUST, "closing"),
                                  (True, ops["share"] >= 1 - ROBUST, "keeping")):
        hit = ops[(ops["nominal"] == nominal) & robust]
        if not hit.empty:
            lines.append(f"{word} {len(hit)} operator(s) is robust (kept in "
                         f"{'at most' if not nominal else 'at least'} "
                         f"{(ROBUST if not nominal else 1 - ROBUST):.0%} of {n} samples): "
                         f"{fold(list(hit['name']), count=6)}")
    contested = ops[(ops["share"] > CONTESTED[0]) & (ops["share"] < CONTESTED[1])]
    if contested.empty:
        lines.append(f"no operator is contested: each is kept in under {CONTESTED[0]:.0%} or "
                     f"over {CONTESTED[1]:.0%} of the samples")
    else:
        lines.append("not robust: " + "; ".join(
            f"{r.name} kept in {r.share:.0%} of samples (nominal: "
            f"{'kept' if r.nominal else 'closed'})"
            for r in contested.sort_values("share", ascending=False).head(8).itertuples()))
    s = study.samples
    evaluated = s[s["nominal_status"].isin(["optimal", "feasible", "time_limit"])]
    infeasible = s[s["nominal_status"] == "infeasible"]
    if not evaluated.empty:
        r = evaluated["regret_share"].dropna()
        terms = evaluated[[f"regret_{t}" for t in COST_TERMS]].sum()
        main = terms.idxmax().removeprefix("regret_")
        total_regret = float(evaluated["regret"].sum())
        part = float(terms.max()) / total_regret if total_regret > 0 else math.nan
        lines.append(f"the nominal plan, kept under every sample, costs {r.median():.2%} more "
                     f"than the sample's optimum in the median sample, {r.quantile(0.95):.2%} "
                     f"at the 95th percentile, {r.max():.2%} at worst"
                     + (f"; {part:.0%} of that regret is the {main.replace('_', ' ')} term"
                        if math.isfinite(part) else ""))
    # A sample with no plan at all says nothing against the nominal plan: told apart.
    planless = infeasible["status"] == "infeasible"
    if planless.any():
        lines.append(f"{int(planless.sum())} of {total} samples have no plan at all (the "
                     "scenario is infeasible under those draws, re-optimised or not)")
    only = infeasible[~planless]
    if not only.empty:
        lines.append(f"the nominal plan cannot be kept in {len(only)} of {total} samples "
                     "that have a plan of their own "
                     f"(e.g. {str(only['nominal_message'].iloc[0])[:160]})")
    return lines


def write_study(study: RobustnessStudy, out: str | os.PathLike[str]) -> dict[str, Path]:
    """``study.json``, ``samples.csv``, ``operators.csv``, ``clusters.csv``, ``verdict.txt``
    and ``robustness.png`` beside the store."""
    folder = Path(out)
    files = {"study": folder / STUDY_FILE, "samples": folder / "samples.csv",
             "operators": folder / "operators.csv",
             "clusters": folder / "clusters.csv", "verdict": folder / "verdict.txt",
             "chart": folder / "robustness.png"}
    # Which result the study belongs to: a report matches it by scenario and input hash.
    write_json(files["study"], {"tool": "klynge-opt", "kind": "robustness",
                                "scenario": study.scenario.name,
                                "input_hash": study.nominal.summary.get("input_hash"),
                                **study.settings})
    write_csv(files["samples"], study.samples)
    write_csv(files["operators"], study.operators)
    write_csv(files["clusters"], study.clusters)
    with atomic_file(files["verdict"]) as tmp:
        tmp.write_text("\n".join(study.verdict) + "\n", encoding="utf-8")
    plot(study, files["chart"])
    return files


def plot(study: RobustnessStudy, path: Path) -> Path:
    """Stability bars of the least certain operators and the regret histogram."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, width_ratios=[1.3, 1])
    ops = study.operators.assign(doubt=lambda f: (f["share"] - 0.5).abs())
    shown = ops.sort_values("doubt").head(15).sort_values("share")
    labels = [n.replace("$", r"\$")[:40] for n in shown["name"]]
    left.barh(labels, shown["share"], color=["#3b6ea8" if k else "#c77c2e"
                                             for k in shown["nominal"]])
    left.errorbar(shown["share"], labels, xerr=[shown["share"] - shown["low"],
                                                shown["high"] - shown["share"]],
                  fmt="none", ecolor="black", capsize=2)
    left.set_xlim(0, 1)
    left.set_xlabel("share of samples keeping it (95 % interval); blue: kept in the plan")
    left.set_title("Least certain operators")
    regret = study.samples["regret_share"].dropna() * 100
    right.hist(regret, bins=min(30, max(5, len(regret) // 5)), color="#3b6ea8")
    right.set_xlabel("regret of the nominal plan, % of the sample's optimum")
    right.set_ylabel("samples")
    right.set_title("Cost of keeping the nominal plan")
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path
