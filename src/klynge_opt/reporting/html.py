"""The board report: one self-contained HTML file for one or several results.

Everything is inline (CSS, script, data, map geometry, charts), so the file opens from a USB
stick with no network. Text from the data reaches the page only through Jinja2's autoescaping
or, in the script, through ``textContent``; the embedded JSON has ``<``, ``>`` and ``&``
escaped, so a name such as ``</script><script>`` stays text.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import matplotlib
import pandas as pd

from ..api import solve
from ..data import dataset as dataset_api
from ..data.dataset import Dataset
from ..data.overrides import apply_overrides
from ..results.result import Result, read_result
from . import svgmap
from .excel import decisions_table, inputs_table
from .labels import LABELS, Formatter
from .studies import (
    BatchTable,
    StudyTable,
    alternative_rows,
    assign,
    batch_rows,
    price_rows,
    read_studies,
    robustness_rows,
    stale,
)

matplotlib.use("Agg")

_TEMPLATE = Path(__file__).with_name("report.html.j2")

#: Map metrics: key, column of coverage_by_municipality (or change against the status quo),
#: scale kind (share 0..1, minutes, or diverging change -1..1).
METRICS: tuple[tuple[str, str, str], ...] = (
    ("guidance", "share", "share"),
    ("cluster", "cluster_share", "share"),
    ("local", "local_share", "share"),
    ("travel", "travel_mean", "minutes"),
    ("change_guidance", "d_share", "change"),
    ("change_cluster", "d_cluster_share", "change"),
    ("entry", "entry", "category"),
)

#: Colours of the entry-point map, given to entry points in name order (a qualitative
#: palette; a landscape with more entry points than colours repeats them, the tooltip names
#: each municipality's).
ENTRY_COLOURS: tuple[str, ...] = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
    "#ff9da7", "#9c755f", "#86bcb6", "#8cd17d", "#d4a6c8")


@dataclass
class View:
    """One result as the page shows it."""

    key: str
    name: str
    description: str
    result: Result
    headline: list[tuple[str, str]] = field(default_factory=list)
    places: dict[str, dict[str, Any]] = field(default_factory=dict)
    added: set[str] = field(default_factory=set)
    map_svg: str = ""
    cost_rows: list[dict[str, Any]] = field(default_factory=list)
    strongholds: list[dict[str, Any]] = field(default_factory=list)
    operators: list[dict[str, Any]] = field(default_factory=list)
    regions: list[dict[str, Any]] = field(default_factory=list)
    municipalities: list[dict[str, Any]] = field(default_factory=list)
    price: list[dict[str, Any]] = field(default_factory=list)
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    robustness: list[dict[str, Any]] = field(default_factory=list)
    robustness_verdict: list[str] = field(default_factory=list)
    #: The robustness chart as a data: URI (the page's policy allows images from data only).
    robustness_chart: str = ""
    #: Warnings about the study tables shown (computed for other inputs).
    study_notes: list[str] = field(default_factory=list)


def _dataset(result: Result, given: Dataset | None) -> Dataset:
    if given is not None:
        return given
    path = result.summary.get("data")
    if not path or not Path(path).exists():
        raise FileNotFoundError(f"the data set of result {result.summary.get('scenario')!r} "
                                f"({path}) is not on this machine; pass --data")
    return dataset_api.load(path)


def _status_quo(result: Result, ds: Dataset) -> Result | None:
    """The status quo the result was measured against (an evaluation, no optimisation): its
    coverage for the change maps, its loads for the critical-mass reasons."""
    if result.scenario is None:
        return None
    return solve(ds, result.scenario.with_updates({"mode": "status_quo"}), verify=False)


def _entry_points(result: Result) -> pd.Series:
    """Per municipality, the name of the operator giving most of its guidance (weighted firms
    served); municipalities without guidance served are absent."""
    a = result.assignments
    # An unserved firm's row has no operator (empty once read back from the CSV).
    a = a[(a["service"] == "guidance") & (a["operator_id"].fillna("").astype(str) != "")]
    if a.empty:
        return pd.Series(dtype=object)
    served = (a["weight"].astype(float) * a["share"].astype(float)).rename("served")
    load = served.groupby([a["municipality_id"], a["operator_id"]]).sum().reset_index()
    # Ties go to the operator id first in order, so the map does not depend on row order.
    load = load.sort_values(["municipality_id", "served", "operator_id"],
                            ascending=[True, False, True])
    top = load.drop_duplicates("municipality_id").set_index("municipality_id")["operator_id"]
    return top.map(result.operators.set_index("operator_id")["name"])


def _places(result: Result, base: pd.DataFrame) -> dict[str, dict[str, Any]]:
    cov = result.coverage_by_municipality.set_index("municipality_id")
    entry = _entry_points(result)
    out: dict[str, dict[str, Any]] = {}
    b = base.set_index("municipality_id") if not base.empty else None
    for mid, row in cov.iterrows():
        rec = {"name": row["name"], "firms": float(row["firms"]),
               "served": float(row["served"]), "rural": bool(row["rural"]),
               "entry": None if mid not in entry.index else str(entry[mid])}
        for col in ("share", "local_share", "cluster_share", "travel_mean", "jobs"):
            v = row.get(col)
            rec[col] = None if pd.isna(v) else float(v)
        for col in ("share", "cluster_share"):
            before = None if b is None or mid not in b.index else b.at[mid, col]
            rec[f"d_{col}"] = None if before is None or pd.isna(before) or rec[col] is None \
                else rec[col] - float(before)
        out[str(mid)] = rec
    return out


def _added(result: Result, ds: Dataset) -> set[str]:
    """Operators the scenario added to the data set (its overrides), kept or not."""
    return set(result.operators["operator_id"]) - set(ds.operators["operator_id"])


def _markers(result: Result, lang: str, added: set[str]) -> pd.DataFrame:
    t = LABELS[lang]
    ops = result.operators
    rows = []
    for o in ops.itertuples():
        status = "kept" if o.kept else "closed"
        fate = f"{t['added']}, {t[status]}" if o.operator_id in added else t[status]
        rows.append({"municipality_id": o.municipality_id,
                     "status": status + (" added" if o.operator_id in added else ""),
                     "symbol": o.layer or "other",
                     "label": f"{o.name} · {o.kind} · {fate}"})
    cl = result.clusters[result.clusters["selected"].astype(bool)]
    host_muni = ops.set_index("operator_id")["municipality_id"]
    for c in cl.itertuples():
        rows.append({"municipality_id": host_muni.get(c.host_operator_id, ""),
                     "status": "kept", "symbol": "cluster",
                     "label": f"{c.name} · {t['cluster_home']} ({c.counts_for or c.strongholds})"})
    return pd.DataFrame(rows, columns=["municipality_id", "status", "symbol", "label"])


def _headline(result: Result, fmt: Formatter, lang: str) -> list[tuple[str, str]]:
    t, s = LABELS[lang], result.summary
    sq = s.get("status_quo") or {}
    gap = s.get("mip_gap")
    status = t.get(f"status_{s['status']}", s["status"])
    if gap is not None and s["status"] in ("optimal", "feasible"):
        status += f" ({t['gap']} {fmt.pct(gap, 3)})"
    out = [(t["status"], status)]
    if s.get("objective") is None:
        return out
    sav = s.get("savings") or {}
    out.append((t["total_cost"], f"{fmt.mdkk(s['objective'])} ({t['status_quo']} "
                                 f"{fmt.mdkk(sq.get('objective'))})"))
    out.append((t["savings"], f"{fmt.mdkk(sav.get('total'))} · {fmt.pct(sav.get('share'))} "
                              f"{t['of_total']} · {fmt.pct(sav.get('in_scope_share'))} "
                              f"{t['of_in_scope']}"))
    eff, eff0 = s.get("effect") or {}, (sq.get("effect") or {})
    if eff:
        out.append((t["annual_cost"], f"{fmt.mdkk(eff.get('annual_cost'))} "
                                      f"({t['status_quo']} {fmt.mdkk(eff0.get('annual_cost'))})"))
        out.append((t["jobs"], f"{fmt.num(eff.get('jobs'))} ({t['status_quo']} "
                               f"{fmt.num(eff0.get('jobs'))}) · {t['estimate']}"))
    cov = s.get("coverage") or {}
    worst = result.coverage_by_municipality.sort_values("share").head(1)
    worst_txt = "" if worst.empty or worst["share"].iloc[0] >= 1 - 1e-9 else \
        f" · {t['worst']} {worst['name'].iloc[0]} {fmt.pct(worst['share'].iloc[0])}"
    out.append((t["coverage"], f"{fmt.pct(cov.get('all'))} · {t['rural']} "
                               f"{fmt.pct(cov.get('rural'))} · {t['urban']} "
                               f"{fmt.pct(cov.get('urban'))}{worst_txt}"))
    by = s.get("coverage_by_service") or {}
    if by:
        out.append((t["by_service"], " · ".join(
            f"{t[k]} {fmt.pct((v or {}).get('all'))}" for k, v in by.items() if v)))
    c = s.get("counts") or {}
    out.append((t["operators"], f"{c.get('operators_before')} → {c.get('operators_after')}"))
    out.append((t["clusters"], f"{c.get('clusters_before')} → {c.get('clusters_after')}"))
    return out


def _cost_rows(result: Result, fmt: Formatter, lang: str) -> list[dict[str, Any]]:
    t = LABELS[lang]
    plan = result.summary.get("objective_terms") or {}
    sq = (result.summary.get("status_quo") or {}).get("objective_terms") or {}
    return [{"term": t.get(f"term_{k}", k), "plan": fmt.mdkk(v, unit=False),
             "plan_v": v, "sq": fmt.mdkk(sq.get(k), unit=False), "sq_v": sq.get(k) or 0.0,
             "diff": fmt.mdkk((sq.get(k) or 0.0) - v, unit=False)}
            for k, v in plan.items()]


@dataclass(frozen=True)
class _Today:
    """What the critical-mass reasons compare with: today's loads and the scenario's minima."""

    firms: Mapping[str, float]
    members: Mapping[str, float]
    min_firms: float
    min_members: float

    @classmethod
    def of(cls, result: Result, today: Result | None) -> _Today:
        pol = result.scenario.policy if result.scenario is not None else None
        if today is None or pol is None or not today.has_solution:
            return cls({}, {}, 0.0, 0.0)
        return cls(dict(zip(today.operators["operator_id"], today.operators["firms_served"],
                            strict=True)),
                   dict(zip(today.clusters["cluster_id"], today.clusters["members_served"],
                            strict=True)),
                   float(pol.min_firms_per_operator), float(pol.min_members_per_cluster))


def _critical_mass(o: Any, mine: list[Any], today: _Today, t: Mapping[str, str],
                   fmt: Formatter) -> str:
    """Why a closed operator fell short of a critical mass the scenario asks for, if it did."""
    small = [c for c in mine if today.min_members > 0 and c.cluster_id in today.members
             and today.members[c.cluster_id] < today.min_members]
    if small and len(small) == len(mine):
        return t["why_few_members"].format(
            n=fmt.num(sum(today.members[c.cluster_id] for c in small)),
            k=fmt.num(today.min_members))
    firms = today.firms.get(o.operator_id)
    if today.min_firms > 0 and firms is not None and firms < today.min_firms:
        return t["why_few_firms"].format(n=fmt.num(firms), k=fmt.num(today.min_firms))
    return ""


def _reason(o: Any, hosts: Mapping[str, list[Any]], t: Mapping[str, str],
            fmt: Formatter, today: _Today) -> str:
    mine = hosts.get(o.operator_id, [])
    if not o.in_scope:
        return t["why_outside"]
    if o.forced == "keep":
        return t["why_forced_keep"]
    if o.forced == "close":
        return t["why_forced_close"]
    if o.kept:
        selected = [c.name for c in mine if c.selected]
        if selected:
            return t["why_hosts"].format(names=", ".join(selected))
        return t["why_serves"].format(n=fmt.num(o.firms_served))
    short = _critical_mass(o, mine, today, t, fmt)
    merged = [c for c in mine if c.merged_into]
    if merged:
        text = t["why_merged"].format(n=len(merged), names=", ".join(
            sorted({c.merged_into_name for c in merged})))
        return f"{text}; {short}" if short else text
    if short:
        return short
    if mine and not any(bool(c.admissible) for c in mine):
        return t["why_inadmissible"]
    return t["why_cheaper"]


def _operator_rows(result: Result, fmt: Formatter, lang: str,
                   today: Result | None, added: set[str]) -> list[dict[str, Any]]:
    t = LABELS[lang]
    cl = result.clusters.copy()
    names = cl.set_index("cluster_id")["name"]
    cl["merged_into_name"] = cl["merged_into"].map(names).fillna("")
    hosts: dict[str, list[Any]] = {}
    for c in cl.itertuples():
        hosts.setdefault(c.host_operator_id, []).append(c)
    loads = _Today.of(result, today)
    rows = []
    for o in result.operators.itertuples():
        rows.append({"name": o.name, "kind": o.kind, "municipality": o.municipality_id,
                     "kept": (f"{t['added']}, " if o.operator_id in added else "")
                     + (t["kept"] if o.kept else t["closed"]), "kept_v": int(bool(o.kept)),
                     "firms": fmt.num(o.firms_served), "firms_v": float(o.firms_served),
                     "cost": fmt.mdkk(o.operating_cost, unit=False),
                     "cost_v": float(o.operating_cost),
                     "reason": _reason(o, hosts, t, fmt, loads)})
    return rows


def _stronghold_rows(result: Result, fmt: Formatter) -> list[dict[str, Any]]:
    cl = result.clusters
    names = cl.set_index("cluster_id")["name"]
    labels = cl.set_index("cluster_id")["label_after"]
    rows = []
    for s in result.by_stronghold.itertuples():
        chosen = [c for c in str(s.clusters_selected).split(";") if c]
        merged = cl[cl["merged_into"].isin(chosen)]
        rows.append({
            "name": s.name, "selected": ", ".join(str(names.get(c, c)) for c in chosen),
            "label": ", ".join(str(labels.get(c, "")) for c in chosen),
            "merged": ", ".join(merged["name"].astype(str)),
            "members": fmt.num(s.cluster_served), "members_v": float(s.cluster_served),
            "moved": fmt.num(s.firms_moved), "moved_v": float(s.firms_moved)})
    return rows


def _place_rows(frame: pd.DataFrame, fmt: Formatter) -> list[dict[str, Any]]:
    rows = []
    for r in frame.itertuples():
        rec = {"name": r.name, "firms": fmt.num(r.firms), "firms_v": float(r.firms)}
        for col in ("share", "local_share", "cluster_share"):
            v = getattr(r, col)
            rec[col] = fmt.pct(None if pd.isna(v) else v)
            rec[f"{col}_v"] = -1.0 if pd.isna(v) else float(v)
        v = r.travel_mean
        rec["travel"] = "–" if pd.isna(v) else fmt.num(v, 1)
        rec["travel_v"] = -1.0 if pd.isna(v) else float(v)
        rows.append(rec)
    return rows


def _chart(views: Sequence[View], lang: str) -> str:
    """Cost terms of each plan next to the status quo, as an inline SVG (text as paths: no
    font is fetched)."""
    import matplotlib.pyplot as plt

    t = LABELS[lang]
    # The status quo is the chart's first bar; a status-quo result among the views is it.
    with_terms = [v for v in views if v.result.summary.get("objective_terms")
                  and v.result.summary.get("status") != "evaluated"]
    if not with_terms:
        return ""
    terms = [k for k in with_terms[0].result.summary["objective_terms"]
             if any(abs(v.result.summary["objective_terms"].get(k, 0)) > 0 for v in with_terms)
             and k != "outside_scope"]
    names = [t["status_quo"], *[v.name for v in with_terms]]
    first = with_terms[0].result.summary.get("status_quo") or {}
    series = [first.get("objective_terms") or {}] + [v.result.summary["objective_terms"]
                                                     for v in with_terms]
    with matplotlib.rc_context({"svg.fonttype": "path", "font.size": 8}):
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
        left = [0.0] * len(names)
        for k in terms:
            vals = [max(s.get(k, 0.0), 0.0) / 1e6 for s in series]
            ax.barh(range(len(names)), vals, left=left, label=t.get(f"term_{k}", k))
            left = [a + b for a, b in zip(left, vals, strict=True)]
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel(t["chart_x"])
        ax.legend(fontsize=7, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.25 - 0.02
                                                                            * len(names)))
        fig.tight_layout()
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
    svg = buf.getvalue()
    # Matplotlib's RDF metadata names web addresses (as identifiers, never fetched): left out
    # so that the only addresses in the page are XML namespaces.
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    return svg[svg.index("<svg"):]


def _view(i: int, result: Result, ds: Dataset, fmt: Formatter, lang: str,
          proj: svgmap.Projection, boundaries: Mapping[str, Any] | None,
          studies: Sequence[StudyTable] = ()) -> View:
    name = str(result.summary.get("scenario", f"result {i + 1}"))
    desc = result.scenario.description if result.scenario is not None else ""
    v = View(key=f"r{i}", name=name, description=desc or "", result=result)
    v.headline = _headline(result, fmt, lang)
    if not result.has_solution:
        return v
    seen = apply_overrides(ds, result.scenario) if result.scenario is not None else ds
    today = _status_quo(result, ds)
    v.places = _places(result, pd.DataFrame() if today is None
                       else today.coverage_by_municipality)
    v.added = _added(result, ds)
    v.map_svg = svgmap.municipality_svg(boundaries, seen.municipalities,
                                        _markers(result, lang, v.added), f"map-{v.key}", proj)
    v.cost_rows = _cost_rows(result, fmt, lang)
    v.strongholds = _stronghold_rows(result, fmt)
    v.operators = _operator_rows(result, fmt, lang, today, v.added)
    v.regions = _place_rows(result.by_region, fmt)
    v.municipalities = _place_rows(result.coverage_by_municipality, fmt)
    t = LABELS[lang]
    for study in studies:
        if study.kind == "price":
            v.price = price_rows(study, result, fmt, lang)
        elif study.kind == "alternatives":
            v.alternatives = alternative_rows(study, result, fmt, lang)
        else:
            v.robustness = robustness_rows(study, fmt, lang)
            v.robustness_verdict = list(study.verdict)
            if study.chart:
                v.robustness_chart = "data:image/png;base64," + base64.b64encode(
                    study.chart).decode("ascii")
        if stale(study, result):
            v.study_notes.append(t["study_stale"].format(file=study.source.name))
    return v


def _comparison(views: Sequence[View], lang: str, fmt: Formatter) -> dict[str, Any]:
    """Headline metrics side by side, the operators and clusters whose fate differs between
    plans and the inputs that differ."""
    metrics = []
    keys = [k for k, _ in views[0].headline]
    for k in keys:
        metrics.append({"metric": k, "values": [dict(v.headline).get(k, "–") for v in views]})
    # The same decision and input diffs as `compare` and the workbook (the status quo a
    # reference column only); the views' keys are the tables' result columns.
    fates = decisions_table([v.result for v in views], lang)
    differ, clusters = (
        [{"name": row["name"], "fates": [row[v.key] for v in views]}
         for row in fates[fates["table"] == table].to_dict("records")]
        for table in ("operators", "clusters"))
    return {"metrics": metrics, "differ": differ, "clusters": clusters,
            "inputs": _input_rows(views, fmt)}


def _input_rows(views: Sequence[View], fmt: Formatter) -> list[dict[str, Any]]:
    """The scenario keys whose resolved values differ between the options (compare's input
    diff), each value as a board member reads it."""
    diff = inputs_table([v.result for v in views], fmt.lang)
    return [{"key": row["key"],
             "values": [_input_value(row[v.key], fmt) if v.key in row else "–" for v in views]}
            for row in diff.to_dict("records")]


def _input_value(value: str | float, fmt: Formatter) -> str:
    if isinstance(value, str):
        return value
    return fmt.num(value) if float(value).is_integer() else f"{value:g}".replace(".", fmt.decimal)


def _entry_colours(views: Sequence[View]) -> dict[str, str]:
    """One colour per entry point on any of the maps, so that a colour means the same
    operator in every small multiple."""
    names = sorted({p["entry"] for v in views for p in v.places.values() if p["entry"]})
    return {n: ENTRY_COLOURS[i % len(ENTRY_COLOURS)] for i, n in enumerate(names)}


def _json_for_script(data: object) -> str:
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=float)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def build_report(results: Sequence[Result], *, lang: str = "en",
                 dataset: Dataset | None = None, title: str | None = None,
                 studies: Sequence[StudyTable] = (),
                 batches: Sequence[BatchTable] = ()) -> str:
    """The report page for ``results`` (one, or several side by side), with the price and
    alternatives tables of ``studies`` in the sections of their scenarios and each of
    ``batches`` (a batch's result store) as a section of its own."""
    if not results:
        raise ValueError("no results to report")
    if lang not in LABELS:
        raise ValueError(f"lang must be one of {', '.join(LABELS)}, got {lang!r}")
    fmt = Formatter(lang)
    t = LABELS[lang]
    ds = _dataset(results[0], dataset)
    boundaries = ds.boundaries
    proj = svgmap.projection(boundaries, ds.municipalities)
    per_result = assign(studies, results)
    views = [_view(i, r, ds, fmt, lang, proj, boundaries, per_result[i])
             for i, r in enumerate(results)]
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(_TEMPLATE.read_text(encoding="utf-8"))
    data = {"labels": {k: t[k] for k in ("firms", "served", "guidance", "cluster", "local",
                                         "travel", "change_guidance", "change_cluster",
                                         "entry", "entry_none", "rural", "minutes",
                                         "no_data")},
            "metrics": [{"key": k, "col": col, "scale": scale} for k, col, scale in METRICS],
            "views": {v.key: v.places for v in views}, "decimal": fmt.decimal,
            "entries": _entry_colours(views)}
    credit = _credit(ds)
    return template.render(
        t=t, lang=lang, title=title or t["title"], views=views, several=len(views) > 1,
        comparison=_comparison(views, lang, fmt) if len(views) > 1 else None,
        chart=_chart(views, lang), data_json=_json_for_script(data),
        metrics=METRICS, credit=credit, source=ds.name,
        any_added=any(v.added for v in views),
        batches=[{"name": b.name, "rows": batch_rows(b, fmt),
                  "counts": ", ".join(f"{n} {status}" for status, n in b.counts().items())}
                 for b in batches],
        made=dt.date.today().isoformat(), has_boundaries=boundaries is not None)


def _credit(ds: Dataset) -> str:
    """The boundaries' source credit from the data set's README, when it states one."""
    if ds.boundaries is None:
        return ""
    readme = Path(ds.source) / "README.md"
    if readme.exists():
        m = re.search(r"`boundaries\.geojson` \| ([^|]+)\|", readme.read_text(encoding="utf-8"))
        if m:
            return m.group(1).strip()
    return "boundaries.geojson of the data set"


def _umask() -> int:
    """The process's umask (mkstemp creates files 0600; a report follows the umask as every
    other output does)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_report(result_dirs: Sequence[str | os.PathLike[str]],
                 out: str | os.PathLike[str], *, lang: str = "en",
                 dataset: Dataset | None = None,
                 studies: Sequence[StudyTable] | None = None,
                 batches: Sequence[BatchTable] = ()) -> Path:
    """Read the result folders and write the report to ``out`` atomically (a failed run
    leaves an earlier report untouched). ``studies`` are the price and alternatives tables
    to show (:func:`~klynge_opt.reporting.studies.read_studies`); by default those inside
    the result folders (``price.csv``, ``alternatives.csv``)."""
    folders = [Path(d) for d in result_dirs]
    tables = read_studies({}, folders) if studies is None else studies
    results = [read_result(d) for d in folders]
    page = build_report(results, lang=lang, dataset=dataset, studies=tables, batches=batches)
    target = Path(out)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target.parent} is not a folder")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def result_folders(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The result folders named by ``paths``: a result folder itself, or a comparison folder
    (``compare --out``), which stands for its results in the comparison's order. Raises
    :class:`~klynge_opt.problems.InputError` naming every path that is neither."""
    from ..problems import InputError, Problem
    from ..results.outputs import SUMMARY_FILE

    found: list[Path] = []
    problems: list[Problem] = []
    for raw in paths:
        folder = Path(raw)
        if (folder / SUMMARY_FILE).is_file():
            found.append(folder)
            continue
        inner = sorted(p.parent for p in folder.glob(f"*/{SUMMARY_FILE}")) \
            if folder.is_dir() else []
        if not inner:
            problems.append(Problem("error", "expected a result folder (with summary.json, "
                                    "written by `solve`) or a comparison folder (written by "
                                    "`compare`)", source=str(folder)))
            continue
        order = folder / "comparison.csv"
        if order.exists():
            names = pd.read_csv(order, nrows=0).columns.tolist()[2:]
            rank = {n: i for i, n in enumerate(names)}
            inner.sort(key=lambda p: (rank.get(p.name, len(rank)), p.name))
        found.extend(inner)
    if problems:
        raise InputError(problems, what="report")
    return found
