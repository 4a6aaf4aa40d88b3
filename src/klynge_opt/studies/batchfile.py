"""A batch described in TOML: scenarios (files or globs) x a parameter grid x solver seeds.

    name = "reform-variants"
    scenarios = ["../scenarios/paper-2017.toml", "../scenarios/committee-*.toml"]
    seeds = [0, 1]                      # solver.seed of each task (optional)
    data = "../data/denmark"            # optional: instead of the scenarios' data

    [grid]                              # optional: every combination, for every scenario
    "policy.max_travel_minutes" = [60, 90, 120]
    "policy.require_gold" = [true, false]

Paths are relative to the batch file. Every task is validated before anything is solved, and
all problems are reported at once (docs/batch.md).
"""

from __future__ import annotations

import glob
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..batch.engine import BatchRun, run_batch
from ..batch.executors import Executor
from ..batch.outcome import Task
from ..batch.store import STORE_FILE, Store
from ..data import dataset as dataset_api
from ..data.scenario import Scenario, load_scenario
from ..fsio import MARKER, guard_target, write_json
from ..problems import InputError, Problem
from ..progress import Progress
from .sweep import grid_points


class BatchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    scenarios: tuple[str, ...] = Field(min_length=1)
    data: str | None = None
    seeds: tuple[int, ...] = ()
    grid: dict[str, list[Any]] = Field(default_factory=dict)


def load_batch(path: str | os.PathLike[str]) -> tuple[BatchSpec, list[Task], str]:
    """The batch file's spec, its tasks and the data set path they share."""
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError([Problem("error", "no such batch file", source=str(file))],
                         what="batch") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError([Problem("error", f"not valid TOML: {exc}", source=str(file))],
                         what="batch") from None
    try:
        spec = BatchSpec.model_validate(raw)
    except ValidationError as exc:
        raise InputError([Problem("error", e["msg"], source=str(file),
                                  column=".".join(str(p) for p in e["loc"]) or None,
                                  value=None if e["type"] == "missing" else str(e["input"]))
                          for e in exc.errors()], what="batch") from None
    base = file.parent
    problems: list[Problem] = []
    files: list[Path] = []
    for pattern in spec.scenarios:
        found = sorted(Path(p) for p in glob.glob(str(base / pattern)))
        if not found:
            problems.append(Problem("error", "matches no scenario file", source=str(file),
                                    column="scenarios", value=pattern))
        files += [f for f in found if f not in files]
    scenarios: list[Scenario] = []
    for f in files:
        try:
            scenarios.append(load_scenario(f))
        except InputError as exc:
            problems += exc.problems
    data = str((base / spec.data).resolve()) if spec.data else None
    if data is None and scenarios:
        datas = sorted({str(Path(s.data).resolve()) for s in scenarios})
        if len(datas) > 1:
            problems.append(Problem("error", "the scenarios use different data sets; a batch "
                                    "runs on one (set `data`)", source=str(file),
                                    column="scenarios", value=", ".join(datas)))
        data = datas[0]
    tasks: list[Task] = []
    params = list(spec.grid.items())
    for sc in scenarios:
        try:
            points = grid_points(sc, params, source=str(file), numeric=False) if params \
                else [((), sc)]
        except InputError as exc:
            problems += exc.problems
            continue
        for combo, point in points:
            for seed in spec.seeds or (None,):
                changes = dict(zip(spec.grid, combo, strict=True))
                if seed is None:
                    tasks.append(Task(point, changes))
                else:
                    changes["solver.seed"] = seed
                    tasks.append(Task(point.with_updates({"solver": {"seed": seed}}),
                                      changes))
    if problems:
        raise InputError(problems, what=f"batch {file}")
    assert data is not None
    return spec, tasks, data


def open_batch_folder(out: Path, name: str, protected: list[str | Path],
                      force: bool = False) -> Path:
    """The batch's output folder: new, or one holding this batch (to resume it)."""
    def same(marker: dict[str, Any]) -> str | None:
        earlier = marker.get("batch")
        return None if earlier == name else f"it holds batch {earlier!r}, not {name!r}"

    guard_target(out, "batch", protected=protected, same=same, legacy=(STORE_FILE,),
                 force=force)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / MARKER, {"tool": "klynge-opt", "kind": "batch", "batch": name})
    return out / STORE_FILE


def run_batch_file(path: str | os.PathLike[str], out: str | os.PathLike[str] | None, *,
                   executor: Executor, retry_failed: bool = False,
                   progress: Progress | None = None, force: bool = False,
                   ) -> tuple[BatchSpec, BatchRun, Path]:
    """Run (or resume) the batch in ``path``; its store is ``out/results.sqlite`` (default
    ``results/<name>``). The executor is closed when done."""
    try:
        spec, tasks, data = load_batch(path)
        ds = dataset_api.load(data)
        folder = Path(out) if out is not None else Path("results") / spec.name
        store_path = open_batch_folder(folder, spec.name, [data, path], force)
        with Store(store_path, batch=spec.name, data=ds.content_hash()) as store:
            run = run_batch(tasks, ds, store, executor, retry_failed=retry_failed,
                            progress=progress)
    finally:
        executor.close()
    return spec, run, store_path
