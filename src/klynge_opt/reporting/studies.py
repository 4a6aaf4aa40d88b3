"""The price of each policy and the near-optimal alternatives, read back for the report.

``klynge-opt price --out FILE`` and ``klynge-opt alternatives --out FILE`` write one table each
(``docs/outputs.md``) whose first columns name the scenario and its input hash. The report
shows a table in the section of the result with that scenario name, and says so when the
hashes differ (the table was computed for other inputs than the result shows).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..batch.store import existing
from ..cells import unprotect_frame
from ..problems import InputError, OutputError, Problem
from ..progress import value_text
from ..results.outputs import LIST_SEPARATOR
from ..wording import fold
from .labels import LABELS, Formatter

if TYPE_CHECKING:
    from ..results.result import Result

#: The study tables a report shows, by the file name each study is written to by default
#: (a robustness study is a folder: its study.json, operators.csv, verdict and chart).
STUDY_FILES: Mapping[str, str] = {"price": "price.csv", "alternatives": "alternatives.csv",
                                  "robustness": "study.json"}

#: Columns each table must have for the report (the rest is ignored).
_NEEDED: Mapping[str, tuple[str, ...]] = {
    "price": ("scenario", "input_hash", "policy", "relaxed_to", "status", "price",
              "price_share", "cost_with", "cost_without", "gap_with", "gap_without",
              "operators_with", "operators_without", "reopened_without", "closed_without"),
    "alternatives": ("scenario", "input_hash", "rank", "status", "objective", "gap_to_best",
                     "gap_to_best_dkk", "within_solver_gap", "operators_after",
                     "differs_from_best", "proven"),
}
_NUMBERS = ("price", "price_share", "cost_with", "cost_without", "gap_with", "gap_without",
            "operators_with", "operators_without", "rank",
            "objective", "gap_to_best", "gap_to_best_dkk", "operators_after")


@dataclass(frozen=True)
class StudyTable:
    kind: str
    source: Path
    table: pd.DataFrame
    #: A robustness study's verdict sentences and chart (PNG bytes).
    verdict: tuple[str, ...] = ()
    chart: bytes = b""

    @property
    def scenario(self) -> str:
        names = self.table["scenario"].unique()
        return str(names[0]) if len(names) else ""

    @property
    def input_hash(self) -> str:
        hashes = self.table["input_hash"].unique()
        return str(hashes[0]) if len(hashes) else ""


def _file(path: Path, kind: str) -> Path:
    return path / STUDY_FILES[kind] if path.is_dir() else path


def read_studies(given: Mapping[str, Sequence[str | os.PathLike[str]]],
                 result_dirs: Sequence[Path]) -> list[StudyTable]:
    """The study tables named in ``given`` (kind → files, or folders holding the default file
    name) and those found inside the result folders; every problem at once."""
    paths: list[tuple[str, Path]] = []
    for kind, items in given.items():
        if kind not in STUDY_FILES:
            raise ValueError(f"unknown study {kind!r}")
        paths += [(kind, _file(Path(p), kind)) for p in items]
    for folder in result_dirs:
        paths += [(kind, folder / name) for kind, name in STUDY_FILES.items()
                  if kind != "robustness" and (folder / name).is_file()]
    found: list[StudyTable] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for kind, path in paths:
        if path.resolve() in seen:
            continue
        seen.add(path.resolve())
        if not path.is_file():
            problems.append(Problem("error", f"expected a {STUDY_FILES[kind]} written by "
                                    f"`klynge-opt {kind} --out` (a file, or a folder "
                                    "holding one)", source=str(path)))
            continue
        if kind == "robustness":
            try:
                found.append(_robustness(path))
            except (OSError, ValueError, KeyError) as exc:
                problems.append(Problem("error", "expected a folder written by `klynge-opt "
                                        f"robustness` (study.json, operators.csv): {exc}",
                                        source=str(path.parent)))
            continue
        try:
            frame = unprotect_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            problems.append(Problem("error", f"not a readable CSV ({exc})", source=str(path)))
            continue
        missing = [c for c in _NEEDED[kind] if c not in frame.columns]
        if missing:
            problems.append(Problem(
                "error", f"not a {kind} table of this version: missing column(s) "
                f"{', '.join(missing)} (run `klynge-opt {kind}` again)", source=str(path),
                column=missing[0]))
            continue
        if frame["scenario"].nunique() > 1:
            problems.append(Problem("error", "expected one scenario per table", source=str(path),
                                    column="scenario"))
            continue
        for col in _NUMBERS:
            if col in frame.columns:
                frame[col] = pd.to_numeric(frame[col].replace("", None), errors="coerce")
        found.append(StudyTable(kind, path, frame))
    if problems:
        raise InputError(problems, what="report")
    return found


def _robustness(study_json: Path) -> StudyTable:
    folder = study_json.parent
    meta = json.loads(study_json.read_text(encoding="utf-8"))
    if meta.get("kind") != "robustness":
        raise ValueError("study.json is not a robustness study")
    ops = unprotect_frame(pd.read_csv(folder / "operators.csv", dtype=str,
                                      keep_default_na=False))
    for col in ("kept_in", "samples", "share", "low", "high"):
        ops[col] = pd.to_numeric(ops[col].replace("", None), errors="coerce")
    ops["nominal"] = ops["nominal"].str.lower() == "true"
    ops = ops.assign(scenario=str(meta["scenario"]), input_hash=str(meta.get("input_hash")))
    verdict = (folder / "verdict.txt").read_text(encoding="utf-8").splitlines() \
        if (folder / "verdict.txt").exists() else []
    chart = (folder / "robustness.png").read_bytes() \
        if (folder / "robustness.png").exists() else b""
    return StudyTable("robustness", folder, ops, tuple(v for v in verdict if v), chart)


def robustness_rows(study: StudyTable, fmt: Formatter, lang: str,
                    limit: int = 15) -> list[dict[str, Any]]:
    """The least certain operators (kept share nearest one half), with their intervals."""
    t = LABELS[lang]
    ops = study.table.assign(doubt=(study.table["share"] - 0.5).abs())
    rows = []
    for r in ops.sort_values(["doubt", "name"]).head(limit).to_dict("records"):
        rows.append({"name": r["name"], "nominal": t["kept"] if r["nominal"] else t["closed"],
                     "share": fmt.pct(_none(r["share"]), 0),
                     "interval": f"{fmt.pct(_none(r['low']), 0)} – {fmt.pct(_none(r['high']), 0)}",
                     "bar": 0 if _none(r["share"]) is None else round(100 * r["share"], 1),
                     "samples": fmt.num(_none(r["samples"]))})
    return rows


def assign(studies: Sequence[StudyTable], results: Sequence[Result]) -> list[list[StudyTable]]:
    """The study tables of each result (matched by scenario name); a table whose scenario is
    none of the results' is an error naming its file."""
    names = [str(r.summary.get("scenario")) for r in results]
    out: list[list[StudyTable]] = [[] for _ in results]
    problems = []
    for study in studies:
        if study.scenario not in names:
            problems.append(Problem(
                "error", f"this {study.kind} table is for scenario {study.scenario!r}, which "
                f"is not among the results reported ({', '.join(names)})",
                source=str(study.source), column="scenario", value=study.scenario))
            continue
        out[names.index(study.scenario)].append(study)
    if problems:
        raise InputError(problems, what="report")
    return out


#: Names shown in one cell before the rest is counted (the CSV and workbook list them all).
FOLD_AFTER = 12


def _names(ids: str, names: Mapping[str, str], more: str) -> str:
    found = [names.get(i, i) for i in ids.split(LIST_SEPARATOR) if i]
    return fold(found, count=FOLD_AFTER, more=more)


def _none(value: Any) -> float | None:
    # NaN of float columns, pd.NA of nullable integer columns (a batch's counts).
    return None if value is None or pd.isna(value) else float(value)


def stale(study: StudyTable, result: Result) -> bool:
    """The table was computed for other inputs than the result's."""
    return study.input_hash != str(result.summary.get("input_hash"))


def within_gap(row: Mapping[str, Any]) -> bool:
    """The price is smaller than what the two solves' proven gaps leave open: it cannot be
    told from zero (a negative price of a relaxation is then no contradiction)."""
    price = _none(row["price"])
    if price is None:
        return False
    slack = sum((_none(row[g]) or 0.0) * abs(_none(row[c]) or 0.0)
                for g, c in (("gap_with", "cost_with"), ("gap_without", "cost_without")))
    return abs(price) <= slack and slack > 0


def price_rows(study: StudyTable, result: Result, fmt: Formatter,
               lang: str) -> list[dict[str, Any]]:
    """Rows of the price table, with each price's bar length (share of the largest); a price
    within the solvers' gap says so instead of a share."""
    names = dict(zip(result.operators["operator_id"].astype(str),
                     result.operators["name"].astype(str), strict=True))
    frame = study.table
    top = max([abs(v) for v in frame["price"] if _none(v) is not None] or [0.0])
    t = LABELS[lang]
    rows = []
    for r in frame.to_dict("records"):
        price = _none(r["price"])
        noise = within_gap(r)
        rows.append({
            "policy": r["policy"], "relaxed_to": r["relaxed_to"], "status": r["status"],
            "price": fmt.mdkk(price, unit=False), "price_v": price or 0.0,
            "share": t["within_gap"] if noise else fmt.pct(_none(r["price_share"]), 2),
            "bar": 0 if noise or not top or price is None
            else round(100 * max(price, 0.0) / top, 1),
            "operators": f"{fmt.num(_none(r['operators_with']))} → "
                         f"{fmt.num(_none(r['operators_without']))}",
            "reopened": _names(r["reopened_without"], names, t["and_more"]),
            "closed": _names(r["closed_without"], names, t["and_more"])})
    return rows


def alternative_rows(study: StudyTable, result: Result, fmt: Formatter,
                     lang: str) -> list[dict[str, Any]]:
    """Rows of the ranking; '+' an operator the alternative keeps and the best closes, '−'
    the reverse, by name."""
    t = LABELS[lang]
    names = dict(zip(result.operators["operator_id"].astype(str),
                     result.operators["name"].astype(str), strict=True))
    rows = []
    for r in study.table.sort_values("rank").to_dict("records"):
        changes = [("+ " if c.startswith("+") else "− ") + names.get(c[1:], c[1:])
                   for c in str(r["differs_from_best"]).split(LIST_SEPARATOR) if c]
        rows.append({
            "rank": fmt.num(_none(r["rank"])), "status": r["status"],
            "cost": fmt.mdkk(_none(r["objective"]), unit=False),
            "cost_v": _none(r["objective"]) or 0.0,
            "gap": fmt.pct(_none(r["gap_to_best"]), 3) + (
                " ≈" if str(r["within_solver_gap"]).lower() == "true" and r["rank"] > 1
                else ""),
            "gap_dkk": fmt.mdkk(_none(r["gap_to_best_dkk"]), unit=False),
            "operators": fmt.num(_none(r["operators_after"])),
            "changes": "; ".join(changes) or "–",
            "proven": t["yes"] if str(r["proven"]).lower() == "true" else t["no"]})
    return rows


#: A batch's columns in the report and workbook, one row per stored task.
BATCH_COLUMNS: tuple[str, ...] = ("scenario", "kind", "sample", "changes", "status",
                                  "objective", "mip_gap", "operators_after", "clusters_after",
                                  "coverage_all", "savings", "check_ok")


@dataclass(frozen=True)
class BatchTable:
    """A batch's result store (``klynge-opt batch``, ``robustness``) as the report shows it."""

    name: str
    source: Path
    #: One row per task, :data:`BATCH_COLUMNS`, sorted by scenario, kind, sample, changes.
    table: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in
                self.table["status"].value_counts().sort_index().items()}


def read_batches(paths: Sequence[str | os.PathLike[str]]) -> list[BatchTable]:
    """The stores at ``paths`` (a batch's output folder or its results.sqlite); every
    problem at once."""
    found: list[BatchTable] = []
    problems: list[Problem] = []
    for given in paths:
        try:
            with existing(given) as store:
                path, frame = store.path, store.frame()
        except OutputError as exc:
            problems.append(Problem("error", f"expected a batch's result store: {exc}",
                                    source=str(given)))
            continue
        name = str(frame["batch"].iloc[0]) if len(frame) else path.parent.name
        # What each task varies, as a person writes it: policy.max_operators=40, seed=1.
        frame["changes"] = [", ".join(f"{k}={value_text(v)}" for k, v in params.items())
                            for params in frame["params"]]
        frame = frame.sort_values(["scenario", "kind", "sample", "changes"],
                                  na_position="first", kind="stable")
        found.append(BatchTable(name, path, frame[list(BATCH_COLUMNS)].reset_index(drop=True)))
    if problems:
        raise InputError(problems, what="report")
    return found


def batch_rows(batch: BatchTable, fmt: Formatter) -> list[dict[str, Any]]:
    """The batch's tasks for the page: names and figures formatted, sortable values kept."""
    rows = []
    for r in batch.table.to_dict("records"):
        cost = _none(r["objective"])
        rows.append({"scenario": r["scenario"], "changes": r["changes"] or "–",
                     "status": r["status"], "cost": fmt.mdkk(cost, unit=False),
                     "cost_v": "" if cost is None else cost,
                     "gap": fmt.pct(_none(r["mip_gap"]), 2),
                     "operators": fmt.num(_none(r["operators_after"])),
                     "clusters": fmt.num(_none(r["clusters_after"])),
                     "coverage": fmt.pct(_none(r["coverage_all"]), 1),
                     "savings": fmt.mdkk(_none(r["savings"]), unit=False)})
    return rows
