"""Comparing scenarios side by side: numbers, why they differ (inputs), what differs (decisions).

Each scenario's result is kept in its own folder under the comparison folder; a result already
on disk is reused when its ``input_hash`` (fully resolved scenario + data content) matches, so
re-running a comparison with nothing changed costs only the loading.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..api import input_hash
from ..batch.engine import run_batch
from ..batch.executors import Executor, Serial
from ..batch.outcome import Task
from ..batch.store import Store
from ..data import dataset as dataset_api
from ..data.dataset import Dataset
from ..data.overrides import validate_against
from ..data.scenario import Scenario, load_scenario
from ..fsio import MARKER, atomic_file, guard_target, write_csv, write_json
from ..problems import InputError, Problem
from ..progress import Event, Progress, Step, gaps_only
from ..results.check import check_dir
from ..results.outputs import COST_TERMS, SUMMARY_FILE, ResultSummary
from ..results.result import Result, read_result, write_result

#: Rows of the side-by-side table: (label, path of declared summary keys
#: (:class:`~klynge_opt.results.outputs.ResultSummary`), unit).
METRICS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("status", ("status",), ""),
    ("total cost", ("objective",), "DKK"),
    ("operating", ("objective_terms", "operating"), "DKK"),
    ("service", ("objective_terms", "service"), "DKK"),
    ("closure", ("objective_terms", "closure"), "DKK"),
    ("upgrade", ("objective_terms", "upgrade"), "DKK"),
    ("disruption", ("objective_terms", "disruption"), "DKK"),
    ("unserved penalty", ("objective_terms", "unserved_penalty"), "DKK"),
    ("cluster operating", ("objective_terms", "cluster_operating"), "DKK"),
    ("outside scope", ("objective_terms", "outside_scope"), "DKK"),
    ("merger", ("objective_terms", "merger"), "DKK"),
    ("operators before", ("counts", "operators_before"), ""),
    ("operators after", ("counts", "operators_after"), ""),
    ("clusters before", ("counts", "clusters_before"), ""),
    ("clusters after", ("counts", "clusters_after"), ""),
    ("coverage, all", ("coverage", "all"), "share"),
    ("coverage, rural", ("coverage", "rural"), "share"),
    ("coverage, urban", ("coverage", "urban"), "share"),
    ("travel mean", ("travel_minutes", "mean"), "minutes"),
    ("travel max", ("travel_minutes", "max"), "minutes"),
    ("firms moved", ("firms_moved",), "firms"),
    ("coverage, local service", ("coverage_by_service", "local", "all"), "share"),
    ("coverage, cluster service", ("coverage_by_service", "cluster", "all"), "share"),
    ("estimated jobs", ("effect", "jobs"), "jobs"),
    ("annual cost per estimated job", ("effect", "cost_per_job"), "DKK"),
    ("savings vs status quo", ("savings", "total"), "DKK"),
    ("savings share", ("savings", "share"), "share"),
    ("savings share, in scope", ("savings", "in_scope_share"), "share"),
    ("mip gap", ("mip_gap",), "share"),
)


@dataclass
class Comparison:
    results: dict[str, Result]
    #: Metrics (rows) by scenario (columns).
    table: pd.DataFrame
    #: Every resolved scenario key whose value differs: key, then one column per scenario.
    inputs: pd.DataFrame
    #: Operators whose fate differs: operator_id, name, then kept/closed per scenario.
    operators: pd.DataFrame
    #: Clusters whose selection differs.
    clusters: pd.DataFrame
    reused: dict[str, bool] = field(default_factory=dict)
    #: The output folder held an earlier comparison (of the same scenarios, or forced).
    replaced: bool = False


def _get(facts: ResultSummary, path: tuple[str, ...]) -> Any:
    """The value at a declared path, None where the result lacks it (e.g. no plan)."""
    value: Any = facts
    for key in path:
        if value is None:
            return None
        value = getattr(value, key)  # an undeclared key is a programming error
    return value


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        return {prefix: json.dumps(value, sort_keys=True)}
    return {prefix: value}


def input_diff(scenarios: Sequence[Scenario]) -> pd.DataFrame:
    """Resolved keys (after inheritance and defaults) whose values differ between scenarios."""
    flat = [_flatten(sc.model_dump(mode="json", exclude={"name", "description", "extends"}))
            for sc in scenarios]
    keys = sorted(set().union(*flat))
    rows = [{"key": k, **{sc.name: f.get(k) for sc, f in zip(scenarios, flat, strict=True)}}
            for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flat}) > 1]
    return pd.DataFrame(rows, columns=["key", *[sc.name for sc in scenarios]])


def decision_diff(results: dict[str, Result], table: str, key: str, flag: str,
                  yes: str, no: str) -> pd.DataFrame:
    """Rows of ``table`` whose ``flag`` differs between the plans of the scenarios.

    The status quo (a result with status ``evaluated``) is shown as a reference column but is
    no source of differences when two or more plans are compared: otherwise every closure of
    every plan would be listed. A row missing from a plan (an operator or cluster another
    scenario adds) is ``–`` there, and ``added, <yes|no>`` where it exists, so that an added
    operator the plan did not keep is named as such."""
    with_plan = {n: r for n, r in results.items() if r.has_solution}
    if not with_plan:
        return pd.DataFrame(columns=[key, "name"])
    frames = []
    for name, result in with_plan.items():
        frame = getattr(result, table).set_index(key)
        frames.append(frame[flag].astype(bool).rename(name))
    flags = pd.concat(frames, axis=1)
    plans = [n for n, r in with_plan.items() if r.status != "evaluated"]
    basis = plans if len(plans) >= 2 else list(with_plan)
    differs = flags[flags[basis].astype(object).nunique(axis=1, dropna=False) > 1]
    added = differs.isna().any(axis=1)
    out = differs.apply(lambda col: col.map({True: yes, False: no}).fillna("–"))
    out.loc[added] = out.loc[added].apply(
        lambda col: col.where(col == "–", "added, " + col))
    names = pd.concat([getattr(r, table).set_index(key)["name"] for r in with_plan.values()])
    out.insert(0, "name", names[~names.index.duplicated()].reindex(out.index))
    return out.reset_index()


def _resolve(item: Scenario | str | os.PathLike[str]) -> Scenario:
    return item if isinstance(item, Scenario) else load_scenario(item)


#: Scenario names that would collide with the comparison tables' own columns.
RESERVED_NAMES = frozenset({"metric", "unit", "key", "name"})


def _names_problems(resolved: Sequence[Scenario]) -> list[Problem]:
    names = [s.name for s in resolved]
    problems = []
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(Problem("error", "scenario names must differ to compare them (set "
                                "`name` in each file)", column="name", value=", ".join(dupes)))
    for sc in resolved:
        if sc.name.lower() in RESERVED_NAMES:
            problems.append(Problem("error", "this name is a column of the comparison tables "
                                    f"({', '.join(sorted(RESERVED_NAMES))}); choose another",
                                    source=sc.source, column="name", value=sc.name))
    return problems


def compare(scenarios: Sequence[Scenario | str | os.PathLike[str]], out_dir: str | os.PathLike[str],
            *, dataset: Dataset | None = None, reuse: bool = True,
            progress: Progress | None = None, force: bool = False,
            executor: Executor | None = None) -> Comparison:
    """Solve (or reuse) every scenario and put the results side by side.

    Each result is written to ``out_dir/<scenario name>/``. The solves run in this process,
    or on ``executor`` (local processes, Dask: :mod:`klynge_opt.batch`; closed when done).
    ``progress`` receives a :class:`~klynge_opt.progress.Step` per scenario and, in this
    process, the running gap of each solve;
    ``Comparison.reused`` says which results were reused. A result on disk is reused only when its
    input hash matches and the independent checker accepts it (a hand-edited result is solved
    again). ``out_dir`` may hold an earlier comparison of the same scenarios; another
    comparison or anything else is refused unless ``force`` (never a folder holding the data
    or a scenario file).
    """
    try:
        return _compare([_resolve(s) for s in scenarios], Path(out_dir), dataset, reuse,
                        progress, force, executor)
    finally:
        if executor is not None:
            executor.close()


def _compare(resolved: list[Scenario], out: Path, dataset: Dataset | None, reuse: bool,
             progress: Progress | None, force: bool, executor: Executor | None) -> Comparison:
    problems = _names_problems(resolved)
    if problems:
        raise InputError(problems, what="comparison")
    names = sorted(s.name for s in resolved)
    protected = [p for sc in resolved for p in (sc.data, sc.file)]
    if dataset is not None and dataset.source != "<memory>":
        protected.append(dataset.source)

    def same_set(marker: dict[str, Any]) -> str | None:
        earlier = marker.get("scenarios")
        if earlier is None or sorted(earlier) == names:
            return None
        return f"it holds a comparison of other scenarios ({', '.join(sorted(earlier))})"

    guard_target(out, "comparison", protected=protected, same=same_set,
                 legacy=("comparison.csv",), force=force)
    replaced = (out / "comparison.csv").exists()
    groups = _by_dataset(resolved, dataset)
    problems = [p for ds, group in groups for sc in group
                for p in _problems_against(ds, sc)]
    if problems:
        raise InputError(problems, what="comparison")
    results: dict[str, Result] = {}
    reused: dict[str, bool] = {}
    done = 0
    total = len(resolved)
    if progress is not None:
        progress(Step("compare", "", 0, total))
    for ds, group in groups:
        todo = []
        for sc in group:
            cached = _cached(out / sc.name, input_hash(sc, ds), ds) if reuse else None
            if cached is None:
                todo.append(sc)
                continue
            results[sc.name], reused[sc.name] = cached, True
            done += 1
            if progress is not None:
                progress(Step("compare", sc.name, done, total))
        if todo:
            for name, result in _solve_all(todo, ds, out, protected, executor, progress,
                                           done, total).items():
                results[name], reused[name] = result, False
            done += len(todo)
    results = {sc.name: results[sc.name] for sc in resolved}
    write_json(out / MARKER, {"tool": "klynge-opt", "kind": "comparison", "scenarios": names})

    table = pd.DataFrame({"metric": [m[0] for m in METRICS], "unit": [m[2] for m in METRICS]})
    for name, result in results.items():
        facts = result.facts
        table[name] = [_get(facts, m[1]) for m in METRICS]
    ops = decision_diff(results, "operators", "operator_id", "kept", "kept", "closed")
    cls = decision_diff(results, "clusters", "cluster_id", "selected", "selected", "-")
    return Comparison(results, table, input_diff(resolved), ops, cls, reused, replaced)


def _solve_all(todo: list[Scenario], ds: Dataset, out: Path, protected: list[Any],
               executor: Executor | None, progress: Progress | None, before: int,
               total: int) -> dict[str, Result]:
    """Solve ``todo`` on the engine, writing each result folder as it arrives. Scenarios that
    differ only in name are one solve (one input hash), reported under each name."""
    by_key: dict[str, list[Scenario]] = {}
    for sc in todo:
        by_key.setdefault(input_hash(sc, ds), []).append(sc)
    tasks = [Task(group[0], title=group[0].name, keep_result=True)
             for group in by_key.values()]
    results: dict[str, Result] = {}
    errors: list[str] = []

    def received(key: str, task: Task, outcome: dict[str, Any]) -> None:
        result = outcome.get("result")
        if result is None:  # the solve raised: a bug, not a property of the scenario
            errors.append(f"{task.scenario.name}: {outcome.get('message')}")
            return
        for sc in by_key[key]:
            named = result if sc is task.scenario else dataclasses.replace(
                result, scenario=sc, summary={**result.summary, "scenario": sc.name})
            write_result(named, out / sc.name, protected=protected)
            results[sc.name] = named

    def counted(event: Event) -> None:
        # The engine counts solves; the comparison counts scenarios, reused ones too.
        if progress is not None and isinstance(event, Step) and event.done > 0:
            progress(Step("compare", event.label, before + len(results), total,
                          event.failed))

    runner = executor if executor is not None else Serial(gaps_only(progress))
    with Store(":memory:", batch="compare", data=ds.content_hash()) as store:
        run_batch(tasks, ds, store, runner, progress=counted, study="compare",
                  received=received)
    if errors:
        raise RuntimeError("solving failed (please report this): " + "; ".join(errors))
    return results


def _by_dataset(resolved: Sequence[Scenario], dataset: Dataset | None,
                ) -> list[tuple[Dataset, list[Scenario]]]:
    """The scenarios grouped by the data set each is solved on (loaded once each)."""
    if dataset is not None:
        return [(dataset, list(resolved))]
    groups: dict[str, tuple[Dataset, list[Scenario]]] = {}
    for sc in resolved:
        key = str(Path(sc.data).resolve())
        if key not in groups:
            groups[key] = (dataset_api.load(key), [])
        groups[key][1].append(sc)
    return list(groups.values())


def _problems_against(dataset: Dataset, scenario: Scenario) -> list[Problem]:
    """What the scenario asks of the data that the data does not have (every problem of every
    scenario before any solve starts)."""
    try:
        validate_against(dataset, scenario, scenario.source, [])
    except InputError as exc:
        return list(exc.problems)
    return []


def _cached(folder: Path, wanted: str, dataset: Dataset) -> Result | None:
    """The result in ``folder`` if it was solved from these inputs and still checks out."""
    summary_file = folder / SUMMARY_FILE
    if not summary_file.exists():
        return None
    try:
        facts = ResultSummary.from_dict(json.loads(summary_file.read_text(encoding="utf-8")))
        if facts.input_hash != wanted or facts.status == "evaluated":
            return None  # an evaluation is cheaper to redo than to verify
        if not check_dir(folder, dataset=dataset).ok:
            return None  # edited by hand (or damaged): never reuse what does not check out
        return read_result(folder)
    except (OSError, ValueError, KeyError, InputError):
        return None  # unreadable or partial: solve again


def write_comparison(cmp: Comparison, out_dir: str | os.PathLike[str],
                     chart: str | None = "cost_terms.png") -> dict[str, Path]:
    """CSV tables (text cells protected against spreadsheet formulas) and a chart of cost
    terms per scenario."""
    out = Path(out_dir)
    files = {"table": out / "comparison.csv", "inputs": out / "input_diff.csv",
             "operators": out / "operator_diff.csv", "clusters": out / "cluster_diff.csv"}
    for key, frame in (("table", cmp.table), ("inputs", cmp.inputs),
                       ("operators", cmp.operators), ("clusters", cmp.clusters)):
        write_csv(files[key], frame)
    if chart:
        files["chart"] = plot_cost_terms(cmp, out / chart)
    return files


def _literal(label: str) -> str:
    """A label matplotlib prints as written (``$...$`` would be parsed as mathtext)."""
    return label.replace("$", r"\$")


def plot_cost_terms(cmp: Comparison, path: Path) -> Path:
    """Stacked bars of the six cost terms per scenario (million DKK)."""
    # The object-oriented Agg canvas, not pyplot: no global backend switch (as in sweep).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    terms = COST_TERMS
    names = [n for n, r in cmp.results.items() if r.objective is not None]
    fig = Figure(figsize=(max(6.0, 1.3 * len(names) + 2), 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    positions = list(range(len(names)))
    bottom = [0.0] * len(names)
    for term in terms:
        values = [cmp.results[n].objective_terms.get(term, 0.0) / 1e6 for n in names]
        ax.bar(positions, values, bottom=bottom, label=term.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(positions, [_literal(n) for n in names], rotation=30, ha="right")
    ax.set_ylabel("million DKK over the horizon")
    ax.set_title("Cost terms per scenario")
    ax.legend(fontsize=8, ncols=3)
    with atomic_file(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=120)
    return path
