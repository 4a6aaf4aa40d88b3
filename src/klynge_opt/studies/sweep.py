"""Trade-off curves: solve a scenario over a grid of one or two numeric parameters.

A parameter is a dotted scenario path such as ``policy.max_travel_minutes``; its values come
from a range spec, ``policy.max_travel_minutes=30:120:15`` (start:stop:step, stop included
when it lands on the grid) or a list, ``policy.max_operators=5,8,12``. Each grid point is an
independent solve (:func:`klynge_opt.api.solve`) of the scenario with that value set, so each
point is exactly what ``solve`` gives for that scenario, secondary objective included.

Infeasible points are rows with status ``infeasible`` and missing numbers, not errors: where a
policy stops being attainable is usually the point of the curve.
"""

from __future__ import annotations

import difflib
import itertools
import math
import os
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, TypeAdapter, ValidationError

from ..batch.engine import run_batch
from ..batch.executors import Executor, Serial
from ..batch.outcome import Task
from ..batch.store import Store
from ..data.dataset import Dataset, load
from ..data.scenario import Scenario, load_scenario
from ..fsio import atomic_file
from ..problems import InputError, Problem
from ..progress import Progress, Step, gaps_only, only, value_text
from ..results.outputs import COST_TERMS

#: Each point is a MIP solve: a step typed one zero too small should fail fast, not run for
#: days, so a single parameter may take at most this many values.
MAX_VALUES = 1000
#: Relative slack for deciding that ``stop`` lies on the grid despite float steps (0.1 etc.).
GRID_TOLERANCE = 1e-9
PLOT_SUFFIXES = (".png", ".svg")

Param = tuple[str, list[float]]


# --------------------------------------------------------------------------- parameters


def _leaf_type(annotation: Any) -> Any:
    """``float | None`` -> ``float``: optional parameters are swept over their values."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def scenario_fields() -> dict[str, tuple[Any, Any]]:
    """Every leaf of the scenario model: dotted path -> (leaf type, pydantic field info)."""
    out: dict[str, tuple[Any, Any]] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            leaf = _leaf_type(info.annotation)
            if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                walk(leaf, f"{prefix}{name}.")
            else:
                out[f"{prefix}{name}"] = (leaf, info)

    walk(Scenario, "")
    return out


def numeric_parameters() -> dict[str, type]:
    """Sweepable paths: scenario fields that are plain numbers (``bool`` is not one here)."""
    return {path: leaf for path, (leaf, _) in scenario_fields().items()
            if leaf is int or leaf is float}


def _problem(spec: str, message: str, column: str | None = None) -> InputError:
    return InputError([Problem("error", message, source="sweep parameter", column=column,
                               value=spec)], what=f"sweep parameter {spec!r}")


def _unknown(spec: str, path: str) -> InputError:
    fields = scenario_fields()
    numeric = sorted(numeric_parameters())
    if path in fields:
        return _problem(spec, f"'{path}' is not a numeric parameter and cannot be swept; "
                              f"numeric ones are: {', '.join(numeric)}", path)
    leaf = path.rsplit(".", 1)[-1]
    # A bare field name ("max_operators") most likely lacks its section: suggest that first.
    same_leaf = [p for p in numeric if p.rsplit(".", 1)[-1] == leaf]
    close = same_leaf or difflib.get_close_matches(path, numeric, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else \
        f"numeric parameters are: {', '.join(numeric)}"
    return _problem(spec, f"unknown scenario parameter '{path}'; {hint}", path)


def _number(text: str, spec: str, path: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _problem(spec, f"'{text}' is not a number", path) from None
    if not math.isfinite(value):
        raise _problem(spec, f"'{text}' is not a finite number", path)
    return value


def _grid(start: float, stop: float, step: float, spec: str, path: str) -> list[float]:
    if step <= 0:
        raise _problem(spec, f"the step must be positive (got {step:g})", path)
    if stop < start:
        raise _problem(spec, f"the stop ({stop:g}) is below the start ({start:g})", path)
    span = (stop - start) / step
    n = math.floor(span + GRID_TOLERANCE * max(1.0, span))
    if n + 1 > MAX_VALUES:
        raise _problem(spec, f"{n + 1} values; at most {MAX_VALUES} per parameter (each is a "
                             "solve): use a larger step", path)
    # start + i*step, not repeated addition, so float error does not accumulate; 12 significant
    # digits strip noise such as 0.30000000000000004 from the values shown in tables and plots.
    values = [float(f"{start + i * step:.12g}") for i in range(n + 1)]
    if math.isclose(values[-1], stop, rel_tol=GRID_TOLERANCE, abs_tol=GRID_TOLERANCE):
        values[-1] = stop
    return values


def parse_range(spec: str) -> tuple[str, list[float]]:
    """``"policy.max_travel_minutes=30:120:15"`` -> ``("policy.max_travel_minutes",
    [30.0, 45.0, ..., 120.0])``; also ``"name=1,2,5"``.

    The path must be a numeric scenario field; integer fields get ``int`` values (and reject
    fractions); every value is checked against the field's bounds. Raises :class:`InputError`.
    """
    expected = "expected NAME=START:STOP:STEP or NAME=V1,V2,... (e.g. " \
               "policy.max_travel_minutes=30:120:15)"
    name, sep, rhs = spec.partition("=")
    path, rhs = name.strip(), rhs.strip()
    if not sep or not path or not rhs:
        raise _problem(spec, expected)
    kinds = numeric_parameters()
    if path not in kinds:
        raise _unknown(spec, path)

    if ":" in rhs:
        parts = [p.strip() for p in rhs.split(":")]
        if len(parts) != 3 or not all(parts):
            raise _problem(spec, expected, path)
        start, stop, step = (_number(p, spec, path) for p in parts)
        values = _grid(start, stop, step, spec, path)
    else:
        parts = [p.strip() for p in rhs.split(",")]
        if not all(parts):
            raise _problem(spec, f"empty value in the list; {expected}", path)
        if len(parts) > MAX_VALUES:
            raise _problem(spec, f"{len(parts)} values; at most {MAX_VALUES} per parameter",
                           path)
        values = [_number(p, spec, path) for p in parts]
    return path, _typed_values(spec, path, values)


def _typed_values(spec: str, path: str, values: list[float]) -> list[float]:
    leaf, info = scenario_fields()[path]
    if leaf is int:
        fractional = [v for v in values if not float(v).is_integer()]
        if fractional:
            shown = ", ".join(f"{v:g}" for v in fractional)
            raise _problem(spec, f"'{path}' is an integer parameter; got {shown}", path)
        values = [int(v) for v in values]
    # The field's own bounds (gt=0, le=1, ...), checked here so a bad value is reported
    # before any point is solved; the scenario as a whole is re-validated per point.
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[(leaf, *info.metadata)])
    bad = []
    for v in values:
        try:
            adapter.validate_python(v)
        except ValidationError as exc:
            bad.append(f"{v:g}: {exc.errors()[0]['msg']}")
    if bad:
        raise _problem(spec, f"values out of range for '{path}': {'; '.join(bad)}", path)
    return values


def nested_update(path: str, value: object) -> dict[str, Any]:
    """``("policy.max_operators", 5)`` -> ``{"policy": {"max_operators": 5}}``."""
    update: Any = value
    for part in reversed(path.split(".")):
        update = {part: update}
    return update


# --------------------------------------------------------------------------- sweeping


def _points(scenario: Scenario, params: Sequence[Param]) -> list[tuple[tuple[float, ...],
                                                                        Scenario]]:
    """Every grid point's values and scenario, all validated before anything is solved."""
    if not 1 <= len(params) <= 2:
        raise InputError([Problem("error", f"a sweep takes one or two parameters, got "
                                           f"{len(params)}", source="sweep")], what="sweep")
    return grid_points(scenario, params)


def grid_points(scenario: Scenario, params: Sequence[tuple[str, Sequence[Any]]], *,
                source: str = "sweep", numeric: bool = True,
                ) -> list[tuple[tuple[Any, ...], Scenario]]:
    """The scenario at every combination of ``params`` (first outermost), each validated; all
    problems at once, each naming its point. ``numeric`` limits the paths to numbers (a
    sweep); otherwise any scenario field may vary (a batch grid)."""
    names = [name for name, _ in params]
    if len(set(names)) != len(names):
        raise InputError([Problem("error", "the same parameter is given twice",
                                  source=source, column=names[0])], what=source)
    allowed = numeric_parameters() if numeric else scenario_fields()
    for name, values in params:
        if name not in allowed:
            raise _unknown(name, name)
        if not values:
            raise InputError([Problem("error", "no values", source=source, column=name)],
                             what=source)
    points = []
    problems: list[Problem] = []
    for combo in itertools.product(*(values for _, values in params)):
        update: dict[str, Any] = {}
        for name, value in zip(names, combo, strict=True):
            section = nested_update(name, value)
            for key, inner in section.items():
                if isinstance(inner, dict):
                    update.setdefault(key, {}).update(inner)
                else:
                    update[key] = inner
        try:
            points.append((combo, scenario.with_updates(update)))
        except InputError as exc:
            # E.g. max_operators below the scenario's min_operators: name the point.
            where = ", ".join(f"{n}={value_text(v)}" for n, v in zip(names, combo, strict=True))
            problems += [Problem(p.severity, f"at {where}: {p.message}", source=source,
                                 column=p.column, value=p.value) for p in exc.problems]
    if problems:
        raise InputError(problems, what=f"{source} of scenario {scenario.name}")
    return points


SWEEP_COLUMNS = ("status", "objective", *(f"cost_{t}" for t in COST_TERMS), "operators_after",
                 "clusters_after", "coverage_all", "coverage_rural", "coverage_urban",
                 "travel_mean", "firms_moved", "mip_gap", "check_ok", "reason")


@dataclass(frozen=True)
class SweepStudy:
    #: One row per grid point (``docs/outputs.md``, sweep.csv).
    table: pd.DataFrame
    params: tuple[Param, ...]


def sweep(scenario: Scenario | str | os.PathLike[str] | None, params: Sequence[Param], *,
          dataset: Dataset | str | os.PathLike[str] | None = None,
          progress: Progress | None = None, executor: Executor | None = None) -> SweepStudy:
    """Solve ``scenario`` at every point of the grid over one or two ``params``, in this
    process or on ``executor`` (local processes, Dask: :mod:`klynge_opt.batch`).

    ``params`` are ``(path, values)`` pairs as :func:`parse_range` returns; with two, every
    combination is solved (first parameter outermost). ``dataset`` defaults to the scenario's
    ``data`` and is loaded once. ``progress`` receives a :class:`~klynge_opt.progress.Step`
    per point and the running gap of each solve.

    One row per point: the parameter values (columns named by path), ``status``,
    ``objective``, ``cost_<term>`` for each objective term, ``operators_after``,
    ``clusters_after``, ``coverage_all/rural/urban``, ``travel_mean``, ``firms_moved``,
    ``mip_gap``, ``check_ok`` and ``reason`` (why an infeasible point has no plan: the
    diagnosis' first finding); numbers are missing where no plan was found.
    """
    if scenario is None:
        scenario = Scenario()
    elif not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    points = _points(scenario, params)
    if not isinstance(dataset, Dataset):
        dataset = load(Path(dataset) if dataset is not None else scenario.data)

    names = [name for name, _ in params]
    # An infeasible point is diagnosed: its row says why, in one line.
    tasks = [Task(point, dict(zip(names, combo, strict=True)), diagnose=True,
                  title=", ".join(f"{n} = {value_text(v)}"
                                  for n, v in zip(names, combo, strict=True)))
             for combo, point in points]
    runner = executor if executor is not None else Serial(gaps_only(progress))
    try:
        with Store(":memory:", batch="sweep", data=dataset.content_hash()) as store:
            run_batch(tasks, dataset, store, runner, progress=only(progress, Step),
                      study="sweep")
            outcomes = store.frame().set_index("key")
    finally:
        runner.close()
    rows = []
    for (combo, _), task in zip(points, tasks, strict=True):
        outcome = outcomes.loc[task.key(dataset)]
        # Missing (pandas NA from the store's integer columns) as None, as a plain table has.
        row = {c: None if pd.isna(outcome[c]) else outcome[c]
               for c in SWEEP_COLUMNS if c != "reason"}
        solved = outcome["status"] in ("optimal", "feasible", "time_limit", "check_failed",
                                       "evaluated") and pd.notna(outcome["objective"])
        row["reason"] = "" if solved else (outcome["message"] or outcome["status"])
        rows.append({**dict(zip(names, combo, strict=True)), **row})
    table = pd.DataFrame(rows, columns=[*names, *SWEEP_COLUMNS])
    numeric = [c for c in SWEEP_COLUMNS if c not in ("status", "check_ok", "reason")]
    table[numeric] = table[numeric].astype(float)
    for col in ("operators_after", "clusters_after"):
        table[col] = table[col].astype("Int64")
    table["check_ok"] = table["check_ok"].astype("boolean")
    table["status"] = table["status"].astype(str)
    table["reason"] = table["reason"].fillna("").astype(str)
    return SweepStudy(table, tuple(params))


# --------------------------------------------------------------------------- plotting


def plot_sweep(table: pd.DataFrame, params: Sequence[Param | str],
               path: str | os.PathLike[str]) -> Path:
    """Draw cost against coverage and against the number of operators; PNG or SVG by suffix.

    Costs in million DKK; each point is labelled with the first parameter's value; with two
    parameters there is one line per value of the second. Points without a plan are left out.
    """
    target = Path(path)
    if target.suffix.lower() not in PLOT_SUFFIXES:
        raise InputError([Problem("error", f"plot file must end in {' or '.join(PLOT_SUFFIXES)}",
                                  source=str(target))], what="sweep plot")
    names = [p if isinstance(p, str) else p[0] for p in params]
    missing = [n for n in [*names, "objective", "coverage_all", "operators_after"]
               if n not in table.columns]
    if missing or not 1 <= len(names) <= 2:
        raise ValueError(f"not a sweep table for {names}: missing columns {missing}")
    try:
        # The object-oriented Agg canvas, not pyplot: no global backend switch and no GUI,
        # so plotting works on servers and does not disturb a caller's own matplotlib setup.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator, PercentFormatter
    except ImportError:  # pragma: no cover - depends on the installation
        raise RuntimeError("plotting needs matplotlib: pip install matplotlib") from None

    solved = table[table["objective"].notna()].copy()
    solved["cost_m"] = solved["objective"].astype(float) / 1e6
    solved["operators"] = solved["operators_after"].astype(float)
    solved["coverage"] = solved["coverage_all"].astype(float)

    fig = Figure(figsize=(11, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, sharey=True)
    first = names[0]
    lines = [(None, solved)] if len(names) == 1 else \
        [(value, solved[solved[names[1]] == value]) for value in solved[names[1]].unique()]
    for value, part in lines:
        part = part.sort_values(first)
        label = None if value is None else f"{names[1]} = {value:g}"
        for ax, x in ((left, "coverage"), (right, "operators")):
            drawn = ax.plot(part[x], part["cost_m"], marker="o", label=label)
            # Values giving the same plan share a point: one label listing them all, not a
            # pile of overprinted numbers.
            coincident = part.groupby([x, "cost_m"], sort=False)[first].agg(
                lambda v: ", ".join(f"{p:g}" for p in v))
            for (xv, yv), text in coincident.items():
                ax.annotate(text, (xv, yv), textcoords="offset points", xytext=(4, 4),
                            fontsize=8, color=drawn[0].get_color())
    left.set_xlabel("coverage of firms (all)")
    left.xaxis.set_major_formatter(PercentFormatter(1.0))
    left.set_ylabel("total cost (million DKK)")
    right.set_xlabel("retained operators")
    # Operator counts are whole numbers: integer ticks, and room around a lone count (the
    # locator otherwise falls back to fractional ticks on a degenerate range).
    right.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if len(solved):
        right.set_xlim(solved["operators"].min() - 0.5, solved["operators"].max() + 0.5)
    if len(solved) and solved["coverage"].max() <= 1.0:
        # Coverage cannot pass 100 %: an axis running past it (autoscaling a flat 100 % line)
        # would suggest otherwise.
        left.set_xlim(right=1.005)
    for ax in (left, right):
        ax.grid(True, alpha=0.3)
    if len(names) == 2 and len(solved):
        right.legend(fontsize=8)
    if solved.empty:
        for ax in (left, right):
            ax.text(0.5, 0.5, "no feasible point", ha="center", va="center",
                    transform=ax.transAxes)
    omitted = len(table) - len(solved)
    note = f" ({omitted} point{'s' if omitted != 1 else ''} without a plan omitted)" \
        if omitted else ""
    fig.suptitle(f"Trade-offs over {first} (points labelled by its value){note}")
    with atomic_file(target) as tmp:
        fig.savefig(tmp, format=target.suffix.lstrip(".").lower())
    return target


__all__ = ["nested_update", "numeric_parameters", "parse_range", "plot_sweep",
           "scenario_fields", "sweep"]
