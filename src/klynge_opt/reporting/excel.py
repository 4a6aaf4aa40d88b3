"""The board report's workbook: a solved result (or several, side by side) as one ``.xlsx``.

It reads finished :class:`~klynge_opt.results.result.Result` objects and nothing upstream:
``summary`` for the headline figures, the decision tables and the coverage reports for the
sheets, and the assignments aggregated per municipality x stronghold x service (a board needs
where firms are served, not one row per firm). ``docs/outputs.md`` ("Excel workbook") lists
the sheets.

Cells are typed: numbers are numbers with a number format (money in M DKK, the unit in the
header), flags are booleans (Excel shows TRUE/FALSE), ids and names are text ("0101" keeps its
leading zero). A text cell is always stored as a string, never as a formula or an error value:
one that starts with a character a spreadsheet would evaluate (:data:`klynge_opt.cells.TRIGGERS`)
also gets Excel's quote-prefix style, so editing the cell in Excel keeps it text. Unlike the
CSVs and data workbooks, which klynge-opt reads back and which therefore carry the apostrophe
of :func:`klynge_opt.cells.protect` in the text, the report stores each name exactly as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import openpyxl
import pandas as pd
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .. import fsio
from ..cells import TRIGGERS
from ..problems import OutputError
from ..results.outputs import COST_TERMS, LIST_SEPARATOR, SERVICES
from .labels import LABELS, scenario_value
from .studies import BatchTable, StudyTable, assign

if TYPE_CHECKING:
    from ..results.result import Result

#: Languages of the labels: English (default) and Danish.
LANGUAGES: tuple[str, ...] = ("en", "da")
#: Excel's limit on sheet names.
MAX_SHEET_NAME = 31
#: Scenario labels that prefix a result's sheets when several results share a workbook.
MAX_LABEL = 14
#: Column widths in characters: from the longest value or header, within these bounds.
MIN_WIDTH, MAX_WIDTH = 8, 50
MILLION = 1e6

#: Number format per value kind; kinds not listed are text, flags or plain.
NUMBER_FORMATS: dict[str, str] = {
    "money": "#,##0.00",     # M DKK
    "rate": "#,##0",         # DKK per firm
    "count": "#,##0",        # weighted firms, members, capacity
    "int": "#,##0",          # operators, clusters, knowledge partners, years
    "jobs": "#,##0.0",
    "minutes": "#,##0.0",
    "share": "0.0%",
    "gap": "0.00%",
}
#: Kinds holding text (ids, names, lists, codes).
TEXT_KINDS = frozenset({"id", "text"})

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_HEADER_ALIGN = Alignment(wrap_text=True, vertical="top")
#: Characters Excel forbids in sheet names.
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _t(en: str, da: str) -> dict[str, str]:
    return {"en": en, "da": da}


#: Sheet names: (full name, short name used after a scenario label when there are several).
SHEETS: dict[str, dict[str, tuple[str, str]]] = {
    "summary": {"en": ("Summary", "Summary"), "da": ("Oversigt", "Oversigt")},
    "comparison": {"en": ("Comparison", "Comparison"),
                   "da": ("Sammenligning", "Sammenligning")},
    "inputs": {"en": ("Inputs that differ", "Inputs"),
               "da": ("Forskellige forudsætninger", "Forudsætninger")},
    "decisions": {"en": ("Decisions that differ", "Decisions"),
                  "da": ("Forskellige beslutninger", "Beslutninger")},
    "operators": {"en": ("Operators", "Operators"), "da": ("Operatører", "Operatører")},
    "clusters": {"en": ("Clusters", "Clusters"), "da": ("Klynger", "Klynger")},
    "coverage_by_municipality": {"en": ("Coverage by municipality", "Municipalities"),
                                 "da": ("Dækning pr. kommune", "Kommuner")},
    "by_region": {"en": ("Coverage by region", "Regions"),
                  "da": ("Dækning pr. region", "Regioner")},
    "by_stronghold": {"en": ("By stronghold", "Strongholds"),
                      "da": ("Pr. styrkeposition", "Styrkepositioner")},
    "assignments": {"en": ("Assignments", "Assignments"), "da": ("Tildelinger", "Tildelinger")},
    "cost_terms": {"en": ("Cost terms", "Cost terms"), "da": ("Omkostninger", "Omkostninger")},
    "price": {"en": ("Price of policies", "Price"), "da": ("Pris på krav", "Pris")},
    "alternatives": {"en": ("Alternatives", "Alternatives"),
                     "da": ("Alternativer", "Alternativer")},
    "robustness": {"en": ("Robustness", "Robustness"), "da": ("Robusthed", "Robusthed")},
    "batch": {"en": ("Batch", "Batch"), "da": ("Kørsel", "Kørsel")},
}

#: Words of the workbook that are not column headers.
WORDS: dict[str, dict[str, str]] = {
    "metric": _t("Metric", "Nøgletal"),
    "term": _t("Term", "Post"),
    "description": _t("Description", "Beskrivelse"),
    "plan": _t("Plan (M DKK)", "Plan (mio. kr.)"),
    "status_quo": _t("Status quo (M DKK)", "Status quo (mio. kr.)"),
    "difference": _t("Difference (M DKK)", "Forskel (mio. kr.)"),
    "total": _t("Total", "I alt"),
    "vs": _t("{b} − {a}", "{b} − {a}"),
    "key": _t("Scenario key", "Scenarienøgle"),
    "what": _t("Operator or cluster", "Operatør eller klynge"),
    "id": _t("Id", "Id"),
    "name": _t("Name", "Navn"),
    "operator": _t("operator", "operatør"),
    "cluster": _t("cluster", "klynge"),
}

#: The objective's terms as a board reads them.
TERM_LABELS: dict[str, dict[str, str]] = {
    "operating": _t("Operating", "Drift af operatører"),
    "service": _t("Service (travel)", "Service (rejsetid)"),
    "closure": _t("Closure", "Lukning"),
    "upgrade": _t("Gold upgrade", "Opgradering til guld"),
    "disruption": _t("Disruption (firms moved)", "Omstilling (flyttede virksomheder)"),
    "unserved_penalty": _t("Unserved penalty", "Straf for ikke-betjente virksomheder"),
    "cluster_operating": _t("Cluster operating", "Drift af klynger"),
    "outside_scope": _t("Outside the reform's scope", "Uden for reformen"),
    "merger": _t("Mergers", "Fusioner"),
}
SERVICE_LABELS: dict[str, dict[str, str]] = {
    "local": _t("local service", "lokal erhvervsservice"),
    "guidance": _t("guidance", "specialiseret vejledning"),
    "cluster": _t("cluster service", "klyngeservice"),
}

# --------------------------------------------------------------------------- table columns
#
# (column of the result table, kind, English header, Danish header). Money columns hold DKK in
# the result and M DKK in the workbook.

Columns = tuple[tuple[str, str, str, str], ...]

_PLACE: Columns = (
    ("firms", "count", "Firms", "Virksomheder"),
    ("served", "count", "Firms served", "Betjente virksomheder"),
    ("share", "share", "Coverage", "Dækning"),
    ("travel_mean", "minutes", "Mean travel (min)", "Gns. rejsetid (min.)"),
    ("travel_max", "minutes", "Max travel (min)", "Maks. rejsetid (min.)"),
    ("operators_present", "int", "Operators present", "Operatører til stede"),
    ("local_share", "share", "Local service coverage", "Dækning, lokal erhvervsservice"),
    ("cluster_share", "share", "Cluster service coverage", "Dækning, klyngeservice"),
    ("jobs", "jobs", "Estimated jobs", "Estimerede job"),
)

TABLE_COLUMNS: dict[str, Columns] = {
    "operators": (
        ("operator_id", "id", "Operator id", "Operatør-id"),
        ("name", "text", "Name", "Navn"),
        ("kind", "text", "Kind", "Type"),
        ("layer", "text", "Layer", "Lag"),
        ("in_scope", "flag", "In scope", "Omfattet af reformen"),
        ("municipality_id", "id", "Municipality id", "Kommune-id"),
        ("region_id", "id", "Region id", "Region-id"),
        ("kept", "flag", "Kept", "Bevares"),
        ("forced", "text", "Forced", "Fastlagt"),
        ("hosts", "text", "Hosts clusters", "Vært for klynger"),
        ("serves", "text", "Serves strongholds", "Betjener styrkepositioner"),
        ("firms_served", "count", "Firms served", "Betjente virksomheder"),
        ("capacity", "count", "Capacity (firms)", "Kapacitet (virksomheder)"),
        ("utilisation", "share", "Utilisation", "Udnyttelse"),
        ("annual_cost", "money", "Annual cost (M DKK/yr)", "Årlig omkostning (mio. kr./år)"),
        ("cost_per_firm", "rate", "Cost per firm (DKK/yr)", "Omkostning pr. virksomhed (kr./år)"),
        ("operating_cost", "money", "Operating cost (M DKK/yr)", "Driftsomkostning (mio. kr./år)"),
        ("closure_cost_paid", "money", "Closure cost paid (M DKK)",
         "Betalt lukningsomkostning (mio. kr.)"),
    ),
    "clusters": (
        ("cluster_id", "id", "Cluster id", "Klynge-id"),
        ("name", "text", "Name", "Navn"),
        ("host_operator_id", "id", "Host operator id", "Værtsoperatør-id"),
        ("strongholds", "text", "Strongholds", "Styrkepositioner"),
        ("counts_for", "text", "Counts for", "Tæller for"),
        ("selected", "flag", "Selected", "Valgt"),
        ("merged_into", "id", "Merged into", "Fusioneret ind i"),
        ("forced", "text", "Forced", "Fastlagt"),
        ("admissible", "flag", "Admissible", "Kan vælges"),
        ("label", "text", "Label", "Mærkning"),
        ("label_after", "text", "Label after", "Mærkning efter"),
        ("upgrade_cost_paid", "money", "Upgrade cost paid (M DKK)",
         "Betalt opgradering (mio. kr.)"),
        ("budget", "money", "Budget (M DKK/yr)", "Budget (mio. kr./år)"),
        ("knowledge_partners", "int", "Knowledge partners", "Videnpartnere"),
        ("annual_cost", "money", "Annual cost (M DKK/yr)", "Årlig omkostning (mio. kr./år)"),
        ("capacity", "count", "Capacity (members)", "Kapacitet (medlemmer)"),
        ("members_served", "count", "Members served", "Betjente medlemmer"),
    ),
    "coverage_by_municipality": (
        ("municipality_id", "id", "Municipality id", "Kommune-id"),
        ("name", "text", "Municipality", "Kommune"),
        ("region_id", "id", "Region id", "Region-id"),
        ("rural", "flag", "Rural", "Landkommune"),
        *_PLACE,
    ),
    "by_region": (
        ("region_id", "id", "Region id", "Region-id"),
        ("name", "text", "Region", "Region"),
        *_PLACE,
    ),
    "by_stronghold": (
        ("stronghold_id", "id", "Stronghold id", "Styrkeposition-id"),
        ("name", "text", "Stronghold", "Styrkeposition"),
        ("firms", "count", "Firms", "Virksomheder"),
        ("clusters_selected", "text", "Clusters selected", "Valgte klynger"),
        ("cluster_firms", "count", "Cluster demand (firms)", "Klyngeefterspørgsel (virksomheder)"),
        ("cluster_served", "count", "Cluster service served", "Betjent af en klynge"),
        ("firms_moved", "count", "Firms moved", "Flyttede virksomheder"),
        ("guidance_firms", "count", "Guidance demand (firms)",
         "Efterspørgsel efter vejledning (virksomheder)"),
        ("guidance_served", "count", "Guidance served", "Betjent med vejledning"),
        ("jobs", "jobs", "Estimated jobs", "Estimerede job"),
    ),
    # The study tables (docs/outputs.md, price.csv and alternatives.csv) a report is given.
    "price": (
        ("policy", "text", "Policy", "Krav"),
        ("relaxed_to", "text", "Relaxed to", "Lempet til"),
        ("status", "text", "Status without it", "Status uden kravet"),
        ("price", "money", "Price (M DKK)", "Pris (mio. kr.)"),
        ("price_share", "share", "Share of cost", "Andel af omkostningen"),
        ("cost_with", "money", "Cost with it (M DKK)", "Omkostning med kravet (mio. kr.)"),
        ("cost_without", "money", "Cost without it (M DKK)",
         "Omkostning uden kravet (mio. kr.)"),
        ("operators_with", "int", "Operators with it", "Operatører med kravet"),
        ("operators_without", "int", "Operators without it", "Operatører uden kravet"),
        ("reopened_without", "text", "Kept only without it", "Kun bevaret uden kravet"),
        ("closed_without", "text", "Closed only without it", "Kun lukket uden kravet"),
    ),
    "alternatives": (
        ("rank", "int", "Rank", "Rang"),
        ("status", "text", "Status", "Status"),
        ("objective", "money", "Cost (M DKK)", "Omkostning (mio. kr.)"),
        ("gap_to_best", "share", "Above the best", "Over det bedste"),
        ("gap_to_best_dkk", "money", "Above the best (M DKK)", "Over det bedste (mio. kr.)"),
        ("operators_after", "int", "Operators", "Operatører"),
        ("differs_from_best", "text", "Differs from the best (+ kept, − closed)",
         "Forskel fra det bedste (+ bevaret, − lukket)"),
        ("proven", "text", "Proven", "Bevist"),
    ),
    "robustness": (
        ("operator_id", "id", "Operator id", "Operatør-id"),
        ("name", "text", "Name", "Navn"),
        ("nominal", "flag", "Kept in the plan", "Bevaret i planen"),
        ("kept_in", "int", "Samples keeping it", "Stikprøver der bevarer den"),
        ("samples", "int", "Samples with a plan", "Stikprøver med en plan"),
        ("share", "share", "Share", "Andel"),
        ("low", "share", "95 % interval, low", "95 %-interval, nedre"),
        ("high", "share", "95 % interval, high", "95 %-interval, øvre"),
    ),
    "batch": (
        ("scenario", "text", "Scenario", "Scenarie"),
        ("kind", "text", "Kind", "Type"),
        ("sample", "int", "Sample", "Stikprøve"),
        ("changes", "text", "What varies", "Hvad varieres"),
        ("status", "text", "Status", "Status"),
        ("objective", "money", "Cost (M DKK)", "Omkostning (mio. kr.)"),
        ("mip_gap", "share", "Proven gap", "Bevist afstand"),
        ("operators_after", "int", "Operators", "Operatører"),
        ("clusters_after", "int", "Clusters", "Klynger"),
        ("coverage_all", "share", "Served", "Betjent"),
        ("savings", "money", "Saved (M DKK)", "Sparet (mio. kr.)"),
        ("check_ok", "flag", "Checked", "Kontrolleret"),
    ),
    "assignments": (
        ("municipality_id", "id", "Municipality id", "Kommune-id"),
        ("municipality", "text", "Municipality", "Kommune"),
        ("stronghold_id", "id", "Stronghold id", "Styrkeposition-id"),
        ("stronghold", "text", "Stronghold", "Styrkeposition"),
        ("service", "text", "Service", "Service"),
        ("firms", "count", "Firms", "Virksomheder"),
        ("served", "count", "Firms served", "Betjente virksomheder"),
        ("share", "share", "Coverage", "Dækning"),
        ("travel_mean", "minutes", "Mean travel (min)", "Gns. rejsetid (min.)"),
        ("firms_moved", "count", "Firms moved", "Flyttede virksomheder"),
        ("operators", "text", "Serving operators", "Betjenende operatører"),
        ("clusters", "text", "Clusters", "Klynger"),
    ),
}


# --------------------------------------------------------------------------- summary rows


def _at(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]…``, None where a key is absent (a result without a plan)."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _minus(a: Any, b: Any) -> float | None:
    return None if a is None or b is None else float(a) - float(b)


def _in_scope_savings(s: Mapping[str, Any]) -> float | None:
    """(status quo − its outside_scope) − (plan − its outside_scope): savings on what the
    reform decides, in DKK."""
    today = _minus(_at(s, "status_quo", "objective"),
                   _at(s, "status_quo", "objective_terms", "outside_scope"))
    plan = _minus(_at(s, "objective"), _at(s, "objective_terms", "outside_scope"))
    return _minus(today, plan)


def _horizon(r: Result) -> float | None:
    return None if r.scenario is None else float(r.scenario.costs.horizon_years)


Getter = Callable[["Result"], Any]
#: (key, kind, English, Danish, value from a result). Money in DKK (written as M DKK).
SummaryRows = list[tuple[str, str, str, str, Getter]]


def _summary(*path: str) -> Getter:
    return lambda r: _at(r.summary, *path)


def summary_rows() -> SummaryRows:
    """The rows of the Summary sheet, in order (the numeric ones also make the Comparison)."""
    rows: SummaryRows = [
        ("scenario", "text", "Scenario", "Scenarie",
         lambda r: r.summary.get("scenario") or (r.scenario.name if r.scenario else None)),
        ("status", "text", "Status", "Status", lambda r: r.summary.get("status", r.status)),
        ("proven_optimal", "flag", "Proven optimal", "Bevist optimal",
         _summary("proven_optimal")),
        ("mip_gap", "gap", "Proven gap", "Bevist afstand til optimum", _summary("mip_gap")),
        ("message", "text", "Message", "Besked", _summary("message")),
        ("horizon", "int", "Horizon (years)", "Tidshorisont (år)", _horizon),
        ("objective", "money", "Total cost over the horizon (M DKK)",
         "Samlet omkostning over tidshorisonten (mio. kr.)", _summary("objective")),
        ("status_quo.objective", "money", "Status quo total cost (M DKK)",
         "Status quo, samlet omkostning (mio. kr.)", _summary("status_quo", "objective")),
        ("savings.total", "money", "Savings vs status quo (M DKK)",
         "Besparelse ift. status quo (mio. kr.)", _summary("savings", "total")),
        ("savings.in_scope", "money", "In-scope savings vs status quo (M DKK)",
         "Besparelse inden for reformen (mio. kr.)", lambda r: _in_scope_savings(r.summary)),
        ("savings.share", "share", "Savings, share of status quo",
         "Besparelse, andel af status quo", _summary("savings", "share")),
        ("savings.in_scope_share", "share", "In-scope savings, share of status quo in scope",
         "Besparelse, andel af status quo inden for reformen",
         _summary("savings", "in_scope_share")),
        ("effect.jobs", "jobs", "Estimated jobs (effect)", "Estimeret jobeffekt",
         _summary("effect", "jobs")),
        ("status_quo.effect.jobs", "jobs", "Estimated jobs, status quo",
         "Estimeret jobeffekt, status quo", _summary("status_quo", "effect", "jobs")),
        ("effect.annual_cost", "money", "Annual cost of what the reform decides (M DKK/yr)",
         "Årlig omkostning af det reformen beslutter (mio. kr./år)",
         _summary("effect", "annual_cost")),
    ]
    for key, en, da in (("all", "all firms", "alle virksomheder"),
                        ("rural", "rural", "landkommuner"), ("urban", "urban", "bykommuner")):
        rows.append((f"coverage.{key}", "share", f"Coverage, {en}", f"Dækning, {da}",
                     _summary("coverage", key)))
    for service in SERVICES:
        label = SERVICE_LABELS[service]
        rows.append((f"coverage_by_service.{service}", "share", f"Coverage, {label['en']}",
                     f"Dækning, {label['da']}",
                     _summary("coverage_by_service", service, "all")))
    rows += [
        ("travel_minutes.mean", "minutes", "Mean travel (min)", "Gns. rejsetid (min.)",
         _summary("travel_minutes", "mean")),
        ("firms_moved", "count", "Firms moved", "Flyttede virksomheder", _summary("firms_moved")),
        ("counts.operators_before", "int", "Operators before", "Operatører før",
         _summary("counts", "operators_before")),
        ("counts.operators_after", "int", "Operators after", "Operatører efter",
         _summary("counts", "operators_after")),
        ("counts.clusters_before", "int", "Clusters before", "Klynger før",
         _summary("counts", "clusters_before")),
        ("counts.clusters_after", "int", "Clusters after", "Klynger efter",
         _summary("counts", "clusters_after")),
    ]
    for term in COST_TERMS:
        label = TERM_LABELS[term]
        rows.append((f"objective_terms.{term}", "money", f"{label['en']}, plan (M DKK)",
                     f"{label['da']}, plan (mio. kr.)", _summary("objective_terms", term)))
        rows.append((f"status_quo.objective_terms.{term}", "money",
                     f"{label['en']}, status quo (M DKK)",
                     f"{label['da']}, status quo (mio. kr.)",
                     _summary("status_quo", "objective_terms", term)))
    return rows


# --------------------------------------------------------------------------- cells


def _number(value: Any) -> float | None:
    """A finite float, or None (blank cell) for missing, NaN, infinite or non-numbers."""
    if value is None or isinstance(value, str | bool | np.bool_):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _value(value: Any, kind: str) -> Any:
    """The Python value a cell of ``kind`` holds (None: blank)."""
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(value)):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if kind in TEXT_KINDS:
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)  # an id read as a number elsewhere: 101.0 is the id 101
        text = str(value)
        return text or None
    if kind == "flag":
        if isinstance(value, str):
            low = value.strip().lower()
            return True if low == "true" else False if low == "false" else None
        return bool(value)
    number = _number(value)
    if number is None:
        return None
    if kind == "money":
        return number / MILLION
    if kind == "int" and number.is_integer():
        return int(number)
    return number


def put_text(cell: Cell, text: str) -> None:
    """``text`` as a plain string cell that no spreadsheet evaluates.

    openpyxl would store ``=…`` as a formula and ``#N/A`` as an error value; forcing the data
    type keeps it a string, and the quote-prefix style on text starting with a trigger keeps
    Excel from turning it into a formula when the cell is edited.
    """
    text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)  # control characters XML cannot hold
    cell.value = text
    cell.data_type = "s"
    if text.startswith(TRIGGERS):
        cell.quotePrefix = True


def _put(ws: Worksheet, row: int, column: int, value: Any, kind: str) -> int:
    """Write a typed cell; return the width its value needs (characters)."""
    value = _value(value, kind)
    if value is None:
        return 0
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        put_text(cell, value)
        return max((len(line) for line in value.splitlines()), default=0)
    cell.value = value
    if isinstance(value, bool):
        return 5
    fmt = NUMBER_FORMATS.get(kind)
    if fmt is not None:
        cell.number_format = fmt
    return _shown_width(value, kind)


def _shown_width(value: float | int, kind: str) -> int:
    if kind in ("share", "gap"):
        return len(f"{value * 100:.2f}%")
    decimals = {"money": 2, "jobs": 1, "minutes": 1}.get(kind, 0)
    return len(f"{value:,.{decimals}f}")


def _header(ws: Worksheet, column: int, text: str) -> int:
    cell = ws.cell(row=1, column=column)
    put_text(cell, text)
    cell.font = _HEADER_FONT
    cell.fill = _HEADER_FILL
    cell.alignment = _HEADER_ALIGN
    return len(text)


def _finish(ws: Worksheet, widths: Sequence[int], freeze: str = "A2",
            autofilter: bool = True) -> None:
    for j, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(j)].width = min(max(width + 2, MIN_WIDTH),
                                                               MAX_WIDTH)
    ws.freeze_panes = freeze
    if autofilter and ws.max_row > 1:
        ws.auto_filter.ref = ws.dimensions


def _table_sheet(ws: Worksheet, columns: Columns, frame: pd.DataFrame, lang: str) -> None:
    widths = [_header(ws, j, col[2] if lang == "en" else col[3])
              for j, col in enumerate(columns, 1)]
    # A header wraps: its longest word, not the whole header, sets the minimum width.
    widths = [min(w, max(12, max(len(p) for p in col[2 if lang == "en" else 3].split())))
              for w, col in zip(widths, columns, strict=True)]
    present = [(j, col[0], col[1]) for j, col in enumerate(columns, 1) if col[0] in frame]
    values = {name: frame[name].tolist() for _, name, _ in present}
    for i in range(len(frame)):
        for j, name, kind in present:
            widths[j - 1] = max(widths[j - 1], _put(ws, i + 2, j, values[name][i], kind))
    _finish(ws, widths)


# --------------------------------------------------------------------------- sheets


def _summary_sheet(ws: Worksheet, results: Sequence[Result], names: Sequence[str],
                   lang: str) -> None:
    rows = summary_rows()
    widths = [_header(ws, 1, WORDS["metric"][lang])]
    widths += [_header(ws, j, name) for j, name in enumerate(names, 2)]
    for i, (_, kind, en, da, get) in enumerate(rows, 2):
        widths[0] = max(widths[0], _put(ws, i, 1, en if lang == "en" else da, "text"))
        for j, result in enumerate(results, 2):
            widths[j - 1] = max(widths[j - 1], _put(ws, i, j, get(result), kind))
    _finish(ws, widths, freeze="B2", autofilter=False)


def _comparison_sheet(ws: Worksheet, results: Sequence[Result], names: Sequence[str],
                      lang: str) -> None:
    """Numeric metrics (rows) by result (columns), then each result's difference from the
    first."""
    rows = [row for row in summary_rows() if row[1] not in TEXT_KINDS | {"flag"}]
    headers = [WORDS["metric"][lang], *names,
               *(WORDS["vs"][lang].format(a=names[0], b=n) for n in names[1:])]
    widths = [_header(ws, j, h) for j, h in enumerate(headers, 1)]
    n = len(results)
    for i, (_, kind, en, da, get) in enumerate(rows, 2):
        widths[0] = max(widths[0], _put(ws, i, 1, en if lang == "en" else da, "text"))
        values = [_number(get(r)) for r in results]
        for j, value in enumerate(values, 2):
            widths[j - 1] = max(widths[j - 1], _put(ws, i, j, value, kind))
        for k, value in enumerate(values[1:], n + 2):
            widths[k - 1] = max(widths[k - 1], _put(ws, i, k, _minus(value, values[0]), kind))
    _finish(ws, widths, freeze="B2", autofilter=False)


def inputs_table(results: Sequence[Result], lang: str) -> pd.DataFrame:
    """The scenario keys whose resolved values differ (compare's input diff): ``key`` and one
    column per result (``r0``, ``r1``, …; absent for a result without its scenario), numbers
    as numbers, lists by their items' names."""
    from ..studies.compare import input_diff

    named = [r.scenario.model_copy(update={"name": f"r{i}"})
             for i, r in enumerate(results) if r.scenario is not None]
    diff = input_diff(named) if len(named) > 1 else pd.DataFrame(columns=["key"])
    for col in diff.columns[1:]:
        diff[col] = [scenario_value(v, lang) for v in diff[col]]
    return diff


def decisions_table(results: Sequence[Result], lang: str) -> pd.DataFrame:
    """Operators, then clusters, whose fate differs between the plans (compare's decision
    diff: the status quo a reference column only): ``table`` (operators or clusters), ``what``
    (its word in ``lang``), ``id``, ``name`` and one column per result (``r0``, ``r1``, …)."""
    from ..studies.compare import decision_diff

    t = LABELS[lang]
    by_key = {f"r{i}": r for i, r in enumerate(results)}
    frames = []
    for what, table, key, flag, yes, no in (
            ("operator", "operators", "operator_id", "kept", t["kept"], t["closed"]),
            ("cluster", "clusters", "cluster_id", "selected", t["cluster_selected"],
             t["cluster_not_selected"])):
        diff = decision_diff(by_key, table, key, flag, yes, no).sort_values("name")
        diff = diff.rename(columns={key: "id"}).reindex(columns=["id", "name", *by_key])
        diff.insert(0, "what", WORDS[what][lang])
        diff.insert(0, "table", table)
        frames.append(diff.fillna("–"))
    return pd.concat(frames, ignore_index=True)


def _diff_sheet(ws: Worksheet, frame: pd.DataFrame, first: Sequence[tuple[str, str]],
                names: Sequence[str], lang: str) -> None:
    """``first`` (column, word) then one column per result, each cell typed by its value."""
    headers = [WORDS[word][lang] for _, word in first] + list(names)
    widths = [_header(ws, j, h) for j, h in enumerate(headers, 1)]
    columns = [c for c, _ in first] + [f"r{i}" for i in range(len(names))]
    for i, row in enumerate(frame.to_dict("records"), 2):
        for j, col in enumerate(columns, 1):
            value = row.get(col)
            kind = "id" if col in ("key", "id") else (
                "text" if isinstance(value, str) else "number")
            widths[j - 1] = max(widths[j - 1], _put(ws, i, j, value, kind))
    _finish(ws, widths)


def cost_terms_table(result: Result) -> pd.DataFrame:
    """term, plan, status_quo, difference (DKK over the horizon), one row per term and a
    ``total`` row; from ``summary["objective_terms"]`` and its status quo."""
    plan = _at(result.summary, "objective_terms") or {}
    today = _at(result.summary, "status_quo", "objective_terms") or {}
    rows = [{"term": t, "plan": plan.get(t), "status_quo": today.get(t)} for t in COST_TERMS]
    frame = pd.DataFrame(rows, columns=["term", "plan", "status_quo"])
    frame.loc[len(frame)] = {"term": "total", "plan": _at(result.summary, "objective"),
                             "status_quo": _at(result.summary, "status_quo", "objective")}
    frame["plan"] = pd.to_numeric(frame["plan"], errors="coerce")
    frame["status_quo"] = pd.to_numeric(frame["status_quo"], errors="coerce")
    frame["difference"] = frame["plan"] - frame["status_quo"]
    return frame


def _cost_terms_sheet(ws: Worksheet, result: Result, lang: str) -> None:
    frame = cost_terms_table(result)
    labels = {**{t: v[lang] for t, v in TERM_LABELS.items()}, "total": WORDS["total"][lang]}
    frame.insert(1, "description", frame["term"].map(labels))
    columns: Columns = tuple(
        (key, kind, WORDS[key]["en"], WORDS[key]["da"])
        for key, kind in (("term", "id"), ("description", "text"), ("plan", "money"),
                          ("status_quo", "money"), ("difference", "money")))
    _table_sheet(ws, columns, frame, lang)
    total = ws.max_row
    for cell in ws[total]:
        cell.font = _HEADER_FONT


def aggregate_assignments(result: Result) -> pd.DataFrame:
    """The assignments per municipality x stronghold x service: ``firms`` (Σ weight × share
    over every row, served or not), ``served`` (rows with an operator), ``share``, weighted
    ``travel_mean`` of the served, ``firms_moved``, and the serving ``operators`` and
    ``clusters`` (``;``-separated, sorted)."""
    columns = [c[0] for c in TABLE_COLUMNS["assignments"]]
    a = result.assignments
    if a.empty:
        return pd.DataFrame(columns=columns)
    weight = pd.to_numeric(a["weight"], errors="coerce").fillna(0.0) \
        * pd.to_numeric(a["share"], errors="coerce").fillna(0.0)
    operator = a["operator_id"].fillna("").astype(str)
    served = operator != ""
    minutes = pd.to_numeric(a["minutes"], errors="coerce").fillna(0.0)
    moved = a["moved"].astype(bool) if "moved" in a else pd.Series(False, index=a.index)
    work = pd.DataFrame({
        "municipality_id": a["municipality_id"].astype(str),
        "stronghold_id": a["stronghold_id"].astype(str),
        "service": a["service"].astype(str),
        "firms": weight, "served": weight.where(served, 0.0),
        "minutes": (weight * minutes).where(served, 0.0),
        "firms_moved": weight.where(moved, 0.0),
        "operators": operator.where(served, ""),
        "clusters": a["cluster_id"].fillna("").astype(str).where(served, "")
        if "cluster_id" in a else "",
    })
    keys = ["municipality_id", "stronghold_id", "service"]
    grouped = work.groupby(keys, sort=False)
    out = grouped[["firms", "served", "minutes", "firms_moved"]].sum()
    for col in ("operators", "clusters"):
        out[col] = grouped[col].agg(lambda s: LIST_SEPARATOR.join(sorted({v for v in s if v})))
    out = out.reset_index()
    out["share"] = (out["served"] / out["firms"]).where(out["firms"] > 0)
    out["travel_mean"] = (out["minutes"] / out["served"]).where(out["served"] > 0)
    out["municipality"] = out["municipality_id"].map(
        _names(result.coverage_by_municipality, "municipality_id"))
    out["stronghold"] = out["stronghold_id"].map(_names(result.by_stronghold, "stronghold_id"))
    order = {s: i for i, s in enumerate(SERVICES)}
    out = out.assign(_order=out["service"].map(order).fillna(len(order)))
    out = out.sort_values(["municipality_id", "stronghold_id", "_order", "service"],
                          ignore_index=True)
    return out[columns]


def _names(table: pd.DataFrame, key: str) -> dict[str, str]:
    if table.empty or key not in table or "name" not in table:
        return {}
    return dict(zip(table[key].astype(str), table["name"].astype(str), strict=True))


# --------------------------------------------------------------------------- naming


def _label(name: str, index: int) -> str:
    """A short label for a scenario's sheets: its name without characters Excel forbids."""
    text = _SHEET_FORBIDDEN.sub("_", ILLEGAL_CHARACTERS_RE.sub("", name)).strip()
    text = text[:MAX_LABEL].strip().strip("'").strip()
    return text or f"S{index}"


def _labels(names: Sequence[str]) -> list[str]:
    """Labels that differ (as Excel compares sheet names: ignoring case)."""
    out: list[str] = []
    for i, name in enumerate(names, 1):
        label = _label(name, i)
        k = 2
        while label.casefold() in {o.casefold() for o in out}:
            suffix = f"~{k}"
            label = _label(name, i)[:MAX_LABEL - len(suffix)].rstrip() + suffix
            k += 1
        out.append(label)
    return out


def _unique(title: str, taken: set[str]) -> str:
    """``title`` within Excel's limits, distinct from ``taken`` (compared ignoring case)."""
    title = title[:MAX_SHEET_NAME]
    k = 2
    candidate = title
    while candidate.casefold() in taken:
        suffix = f" ({k})"
        candidate = title[:MAX_SHEET_NAME - len(suffix)] + suffix
        k += 1
    taken.add(candidate.casefold())
    return candidate


# --------------------------------------------------------------------------- workbook

#: The per-result sheets, in order (keys of :data:`SHEETS`).
RESULT_SHEETS: tuple[str, ...] = ("operators", "clusters", "coverage_by_municipality",
                                  "by_region", "by_stronghold", "assignments", "cost_terms")


def build_workbook(results: Sequence[Result], *, lang: str = "en",
                   studies: Sequence[StudyTable] = (),
                   batches: Sequence[BatchTable] = ()) -> openpyxl.Workbook:
    """The report as an openpyxl workbook in memory (see :func:`write_workbook`)."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    results = list(results)
    if not results:
        raise ValueError("no results to report: give at least one")
    names = [str(_at(r.summary, "scenario") or (r.scenario.name if r.scenario else "")
                 or f"result {i}") for i, r in enumerate(results, 1)]
    several = len(results) > 1
    labels = _labels(names)
    taken: set[str] = set()
    book = openpyxl.Workbook()
    summary = book.active
    assert summary is not None
    summary.title = _unique(SHEETS["summary"][lang][0], taken)
    _summary_sheet(summary, results, names, lang)
    if several:
        ws = book.create_sheet(_unique(SHEETS["comparison"][lang][0], taken))
        _comparison_sheet(ws, results, names, lang)
        for key, frame, first in (
                ("inputs", inputs_table(results, lang), (("key", "key"),)),
                ("decisions", decisions_table(results, lang),
                 (("what", "what"), ("id", "id"), ("name", "name")))):
            if not frame.empty:
                ws = book.create_sheet(_unique(SHEETS[key][lang][0], taken))
                _diff_sheet(ws, frame, first, names, lang)
    for result, label in zip(results, labels, strict=True):
        for key in RESULT_SHEETS:
            if key == "cost_terms":
                if _at(result.summary, "objective_terms") is None:
                    continue
            elif not result.has_solution:
                continue  # no plan: the Summary says why (status, message)
            full, short = SHEETS[key][lang]
            ws = book.create_sheet(_unique(f"{label} {short}" if several else full, taken))
            if key == "cost_terms":
                _cost_terms_sheet(ws, result, lang)
            elif key == "assignments":
                _table_sheet(ws, TABLE_COLUMNS[key], aggregate_assignments(result), lang)
            else:
                _table_sheet(ws, TABLE_COLUMNS[key], getattr(result, key), lang)
    for label, tables in zip(labels, assign(studies, results), strict=True):
        for study in tables:
            full, short = SHEETS[study.kind][lang]
            ws = book.create_sheet(_unique(f"{label} {short}" if several else full, taken))
            _table_sheet(ws, TABLE_COLUMNS[study.kind], study.table, lang)
    for batch in batches:
        full, _ = SHEETS["batch"][lang]
        ws = book.create_sheet(_unique(f"{full} {_label(batch.name, 1)}", taken))
        _table_sheet(ws, TABLE_COLUMNS["batch"], batch.table, lang)
    book.properties.creator = "klynge-opt"
    book.properties.title = "klynge-opt report: " + ", ".join(names)
    return book


def check_xlsx_target(path: Path, protected: Sequence[str | Path] = ()) -> None:
    """Refuse an output workbook path that cannot or must not be written, before any work:
    a parent folder that does not exist, a folder, a name not ending in ``.xlsx``, or (inside)
    one of the ``protected`` paths (the data sets the results were solved on)."""
    if path.suffix.lower() != ".xlsx":
        raise OutputError(f"refusing to write {path}: an Excel workbook needs a name ending "
                          "in .xlsx", path)
    if not path.parent.is_dir():
        raise OutputError(f"cannot write {path}: the folder {path.parent} does not exist; "
                          "create it first or choose another path", path)
    fsio.guard_file(path, protected=protected)


def _data_paths(results: Sequence[Result]) -> list[str]:
    """The data sets the results name (never overwritten by a report)."""
    found = []
    for r in results:
        data = r.summary.get("data")
        if isinstance(data, str) and data and not data.startswith("<"):
            found.append(data)
    return found


def write_workbook(results: Sequence[Result], path: Path, *, lang: str = "en",
                   studies: Sequence[StudyTable] = (),
                   batches: Sequence[BatchTable] = ()) -> Path:
    """Write the Excel workbook of one or several results to ``path`` (an ``.xlsx`` file).

    Sheets (``docs/outputs.md``, "Excel workbook"): ``Summary``, ``Comparison`` (several
    results), and per result with a plan its operators, clusters, coverage by municipality and
    by region, by stronghold, assignments aggregated per municipality x stronghold x service,
    and cost terms (prefixed by a short scenario label when there are several results);
    then the price and alternatives tables of ``studies`` (:func:`~.studies.read_studies`)
    for the results whose scenario they name; one sheet per batch store of ``batches``
    (:func:`~.studies.read_batches`). ``lang`` is ``en`` or ``da`` (Danish headers and labels).

    The file is written under a temporary name beside ``path`` and renamed into place: a
    failed run leaves no partial file and an earlier workbook at ``path`` as it was. The
    parent folder must exist; :class:`~klynge_opt.problems.OutputError` says so otherwise.
    """
    target = Path(path)
    check_xlsx_target(target, _data_paths(results))
    book = build_workbook(results, lang=lang, studies=studies, batches=batches)
    with fsio.atomic_file(target) as tmp:
        book.save(tmp)
    return target
