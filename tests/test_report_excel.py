"""The board report's Excel workbook (reporting.excel) and the input template
(reporting.template), on results of the tiny landscapes solved and read back from disk."""

from __future__ import annotations

import dataclasses
import errno
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import layered_tables, tiny_tables
from klynge_opt.api import solve
from klynge_opt.data.dataset import from_tables, load
from klynge_opt.data.scenario import Scenario
from klynge_opt.data.schema import LABELS, LAYERS, TABLES
from klynge_opt.problems import OutputError
from klynge_opt.reporting.excel import TABLE_COLUMNS, write_workbook
from klynge_opt.reporting.template import header_note, write_template
from klynge_opt.results.outputs import COST_TERMS
from klynge_opt.results.result import Result, read_result, write_result

#: Names a spreadsheet would evaluate; put into the data before solving.
HOSTILE_OPERATORS = ['=HYPERLINK("http://x","y")', "+1", "-2"]
HOSTILE_CLUSTERS = ["@SUM(A1)", "=1+1", "#N/A"]

SINGLE_SHEETS = ["Summary", "Operators", "Clusters", "Coverage by municipality",
                 "Coverage by region", "By stronghold", "Assignments", "Cost terms"]
DANISH_SHEETS = ["Oversigt", "Operatører", "Klynger", "Dækning pr. kommune",
                 "Dækning pr. region", "Pr. styrkeposition", "Tildelinger", "Omkostninger"]


def hostile_tables() -> dict[str, pd.DataFrame]:
    t = tiny_tables()
    t["operators"]["name"] = HOSTILE_OPERATORS
    t["clusters"]["name"] = HOSTILE_CLUSTERS
    # Two more food firms in 0101, so that assignments aggregate.
    t["firms"] = pd.concat([t["firms"], pd.DataFrame({
        "firm_id": ["F09", "F10"], "municipality_id": ["0101", "0101"],
        "stronghold_id": ["food", "food"], "employees": [4, 6], "growth": [False, True],
        "weight": [1.0, 3.0]})], ignore_index=True)
    return t


def _solved(tables: dict[str, pd.DataFrame], name: str, folder: Path, **policy) -> Result:
    ds = from_tables(tables)
    # HiGHS's own choice among the tiny set's tied optima (C3, not C1 and C2): the diff
    # below needs a cluster whose fate differs.
    result = solve(ds, Scenario(name=name, solver={"mip_gap": 0.0, "warm_start": "none"},
                                policy=policy))
    write_result(result, folder / name)
    return read_result(folder / name)


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> dict[str, Result]:
    folder = tmp_path_factory.mktemp("results")
    return {"tiny": _solved(hostile_tables(), "tiny", folder),
            "layered": _solved(layered_tables(), "layered", folder)}


@pytest.fixture(scope="module")
def single(results, tmp_path_factory) -> openpyxl.Workbook:
    path = write_workbook([results["tiny"]], tmp_path_factory.mktemp("wb") / "report.xlsx")
    return openpyxl.load_workbook(path)


def _rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


def _column(ws, header: str) -> list:
    """The cells below the header ``header``."""
    headers = [c.value for c in ws[1]]
    j = headers.index(header) + 1
    return [ws.cell(row=i, column=j) for i in range(2, ws.max_row + 1)]


def _summary_value(ws, label: str, column: int = 2):
    for row in ws.iter_rows(min_row=2):
        if row[0].value == label:
            return row[column - 1]
    raise KeyError(label)


# --------------------------------------------------------------------------- workbook


def test_sheets_of_one_result(single):
    assert single.sheetnames == SINGLE_SHEETS
    for ws in single.worksheets:
        assert ws.freeze_panes in ("A2", "B2"), ws.title
        assert all(c.font.bold for c in ws[1] if c.value is not None), ws.title


def test_values_equal_the_result(single, results):
    r = results["tiny"]
    summary = single["Summary"]
    assert summary["B1"].value == "tiny"
    assert _summary_value(summary, "Status").value == r.status == "optimal"
    assert _summary_value(summary, "Proven optimal").value is True
    kept = int(r.operators["kept"].sum())
    assert _summary_value(summary, "Operators after").value == kept
    assert _summary_value(summary, "Operators before").value == len(r.operators)
    assert _summary_value(summary, "Clusters after").value == int(r.clusters["selected"].sum())
    # A cost term in M DKK, computed here from the result's own terms.
    operating = r.objective_terms["operating"] / 1e6
    assert _summary_value(summary, "Operating, plan (M DKK)").value == pytest.approx(operating)
    total = _summary_value(summary, "Total cost over the horizon (M DKK)")
    assert total.value == pytest.approx(sum(r.objective_terms.values()) / 1e6)
    assert total.number_format == "#,##0.00"
    terms = {row[0]: row for row in _rows(single["Cost terms"])[1:]}
    assert list(terms) == [*COST_TERMS, "total"]
    assert terms["operating"][2] == pytest.approx(operating)
    today = r.summary["status_quo"]["objective_terms"]["service"] / 1e6
    assert terms["service"][3] == pytest.approx(today)
    assert terms["total"][2] == pytest.approx(r.objective / 1e6)

    ops = single["Operators"]
    assert ops.max_row - 1 == len(r.operators)
    assert [c.value for c in _column(ops, "Kept")] == r.operators["kept"].tolist()
    costs = [c.value for c in _column(ops, "Annual cost (M DKK/yr)")]
    assert costs == pytest.approx((r.operators["annual_cost"] / 1e6).tolist())
    # Municipality ids stay text with their leading zero.
    munis = single["Coverage by municipality"]
    first = _column(munis, "Municipality id")[0]
    assert first.value == "0101" and first.data_type == "s"
    assert _column(ops, "Municipality id")[0].value == "0101"


def test_assignments_are_aggregated(single, results):
    r = results["tiny"]
    ws = single["Assignments"]
    groups = r.assignments.groupby(["municipality_id", "stronghold_id", "service"])
    assert ws.max_row - 1 == groups.ngroups < len(r.assignments)
    weighted = r.assignments["weight"] * r.assignments["share"]
    assert sum(c.value for c in _column(ws, "Firms")) == pytest.approx(float(weighted.sum()))
    # 0101 x food: F01 and the added F09, F10 (weight 3).
    rows = r.assignments[(r.assignments["municipality_id"] == "0101")
                         & (r.assignments["stronghold_id"] == "food")]
    row = next(row for row in _rows(ws) if row[0] == "0101" and row[2] == "food")
    w = rows["weight"] * rows["share"]
    assert row[1] == "A1" and row[3] == "Food" and row[4] == "guidance"
    assert row[5] == pytest.approx(5.0) == pytest.approx(float(w.sum()))
    assert row[8] == pytest.approx(float((w * rows["minutes"]).sum() / w.sum()))
    assert row[10] == ";".join(sorted(set(rows["operator_id"])))


def test_cells_are_typed(single):
    kinds = {header: kind for cols in TABLE_COLUMNS.values()
             for _, kind, header, _ in cols}
    checked = 0
    for ws in single.worksheets[1:]:
        if ws.title == "Cost terms":
            continue
        for j, header in enumerate(c.value for c in ws[1]):
            want = {"id": "s", "text": "s", "flag": "b"}.get(kinds[header], "n")
            for cell in (ws.cell(row=i, column=j + 1) for i in range(2, ws.max_row + 1)):
                if cell.value is not None:
                    assert cell.data_type == want, (ws.title, header, cell.value)
                    checked += 1
    assert checked > 200
    for row in single["Summary"].iter_rows(min_row=2):
        for cell in row[1:]:
            if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                assert cell.data_type == "n" and cell.number_format != "General", row[0].value


def test_hostile_names_stay_plain_text(results, tmp_path):
    r = results["tiny"]
    # The loader strips surrounding whitespace, so a leading tab or carriage return can only
    # reach a report through a table edited in code: put them into the read-back result.
    ops = r.operators.copy()
    ops.loc[ops["operator_id"] == "O3", "kind"] = "\tx"
    path = write_workbook([dataclasses.replace(r, operators=ops)], tmp_path / "r.xlsx")
    book = openpyxl.load_workbook(path)
    names = _column(book["Operators"], "Name")
    assert [c.value for c in names] == HOSTILE_OPERATORS
    clusters = _column(book["Clusters"], "Name")
    assert [c.value for c in clusters] == HOSTILE_CLUSTERS
    kind = _column(book["Operators"], "Kind")[2]
    assert kind.value == "\tx"
    for cell in [*names, *clusters, kind]:
        assert cell.data_type == "s", cell.value
    for cell in [*names, clusters[0], clusters[1], kind]:
        assert cell.quotePrefix, cell.value
    assert not _column(book["Operators"], "Operator id")[0].quotePrefix
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in sheets)
        assert not any(b't="e"' in z.read(n) for n in sheets)


def test_danish_labels(results, tmp_path):
    book = openpyxl.load_workbook(write_workbook([results["tiny"]], tmp_path / "da.xlsx",
                                                 lang="da"))
    assert book.sheetnames == DANISH_SHEETS
    assert book["Oversigt"]["A1"].value == "Nøgletal"
    assert _summary_value(book["Oversigt"], "Operatører efter").value == \
        int(results["tiny"].operators["kept"].sum())
    headers = [c.value for c in book["Operatører"][1]]
    assert headers[:2] == ["Operatør-id", "Navn"] and "Bevares" in headers
    assert [c.value for c in book["Dækning pr. kommune"][1]][:2] == ["Kommune-id", "Kommune"]
    with pytest.raises(ValueError, match="language"):
        write_workbook([results["tiny"]], tmp_path / "x.xlsx", lang="de")


def test_several_results_give_a_comparison(results, tmp_path):
    tiny, layered = results["tiny"], results["layered"]
    path = write_workbook([tiny, layered], tmp_path / "both.xlsx")
    book = openpyxl.load_workbook(path)
    # Same scenario inputs (no Inputs sheet); the layered data's extra operators differ.
    assert book.sheetnames[:3] == ["Summary", "Comparison", "Decisions that differ"]
    assert "tiny Operators" in book.sheetnames and "layered Cost terms" in book.sheetnames
    assert "layered Municipalities" in book.sheetnames
    assert len(book.sheetnames) == 3 + 2 * 7
    assert all(len(n) <= 31 for n in book.sheetnames)
    ws = book["Comparison"]
    assert [c.value for c in ws[1]] == ["Metric", "tiny", "layered", "layered − tiny"]
    row = _summary_value(ws, "Total cost over the horizon (M DKK)").row
    a, b, diff = (ws.cell(row=row, column=j).value for j in (2, 3, 4))
    assert a == pytest.approx(tiny.objective / 1e6) and b == pytest.approx(layered.objective / 1e6)
    assert diff == pytest.approx(b - a)
    summary = book["Summary"]
    assert [c.value for c in summary[1]] == ["Metric", "tiny", "layered"]
    assert _summary_value(summary, "Operators before", 3).value == len(layered.operators)


def test_inputs_and_decisions_that_differ(results, tmp_path):
    tiny = results["tiny"]
    other = _solved(hostile_tables(), "other", tmp_path, close=["O3"], max_travel_minutes=200)
    book = openpyxl.load_workbook(write_workbook([tiny, other], tmp_path / "diff.xlsx"))
    assert book.sheetnames[:4] == ["Summary", "Comparison", "Inputs that differ",
                                   "Decisions that differ"]
    inputs = {r[0]: r[1:] for r in _rows(book["Inputs that differ"])[1:]}
    assert inputs == {"policy.close": ("none", "O3"),
                      "policy.max_travel_minutes": ("not set", 200)}
    assert book["Inputs that differ"]["C3"].data_type == "n"
    # Operators and clusters whose fate differs, found by hand from the two plans' tables.
    fates = []
    for table, key, flag, yes, no in (("operators", "operator_id", "kept", "kept", "closed"),
                                      ("clusters", "cluster_id", "selected", "selected",
                                       "not selected")):
        a = getattr(tiny, table).set_index(key)
        b = getattr(other, table).set_index(key)
        for k in sorted(a.index, key=lambda k: a.at[k, "name"]):
            if bool(a.at[k, flag]) != bool(b.at[k, flag]):
                fates.append((table[:-1], k, a.at[k, "name"],
                              yes if a.at[k, flag] else no, yes if b.at[k, flag] else no))
    # O3 closed by the scenario; its cluster C3 gives way to C1 and C2.
    assert [f[:2] for f in fates] == [("operator", "O3"), ("cluster", "C3"), ("cluster", "C2"),
                                      ("cluster", "C1")]
    assert _rows(book["Decisions that differ"])[1:] == fates
    assert _rows(book["Decisions that differ"])[0] == ("Operator or cluster", "Id", "Name",
                                                       "tiny", "other")
    # A hostile name is a text cell here too.
    assert all(c.data_type == "s" for c in _column(book["Decisions that differ"], "Name"))


def test_sheet_names_unique_and_valid(results, tmp_path):
    r = results["tiny"]
    odd = dataclasses.replace(r, summary={**r.summary, "scenario": "a/b:c*d?[e] very long name"})
    path = write_workbook([r, r, odd], tmp_path / "three.xlsx")
    names = openpyxl.load_workbook(path).sheetnames
    assert len(names) == 2 + 3 * 7
    assert len({n.casefold() for n in names}) == len(names)
    assert all(len(n) <= 31 and not set(n) & set("[]:*?/\\") for n in names)


def test_result_without_a_plan(results, tmp_path):
    none = _solved(tiny_tables(), "none", tmp_path, min_operators=10)
    assert not none.has_solution
    book = openpyxl.load_workbook(write_workbook([results["tiny"], none], tmp_path / "n.xlsx"))
    summary = book["Summary"]
    assert _summary_value(summary, "Status", 3).value == none.status
    assert _summary_value(summary, "Message", 3).value
    assert _summary_value(summary, "Operators after", 3).value is None
    assert not any(n.startswith("none ") for n in book.sheetnames)


def test_missing_folder_is_a_clear_error(results, tmp_path):
    target = tmp_path / "no" / "such" / "report.xlsx"
    with pytest.raises(OutputError, match="does not exist"):
        write_workbook([results["tiny"]], target)
    assert not (tmp_path / "no").exists()
    with pytest.raises(OutputError, match=r"\.xlsx"):
        write_workbook([results["tiny"]], tmp_path / "report.csv")
    (tmp_path / "dir.xlsx").mkdir()
    with pytest.raises(OutputError, match="not a file"):
        write_workbook([results["tiny"]], tmp_path / "dir.xlsx")


def test_never_writes_over_the_data_set(results, tmp_path):
    data = tmp_path / "data.xlsx"
    data.write_bytes(b"the data")
    r = results["tiny"]
    with pytest.raises(OutputError, match="reads"):
        write_workbook([dataclasses.replace(r, summary={**r.summary, "data": str(data)})], data)
    assert data.read_bytes() == b"the data"


def test_failed_write_keeps_the_earlier_file(results, tmp_path, monkeypatch):
    path = write_workbook([results["tiny"]], tmp_path / "report.xlsx")
    before = path.read_bytes()

    def disk_full(self, filename):
        Path(filename).write_bytes(b"PK half a workbook")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", disk_full)
    with pytest.raises(OutputError, match="disk is full"):
        write_workbook([results["layered"]], path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]


def test_no_results_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no results"):
        write_workbook([], tmp_path / "r.xlsx")
    assert not (tmp_path / "r.xlsx").exists()


# --------------------------------------------------------------------------- template


@pytest.mark.parametrize("tables", [hostile_tables, layered_tables])
def test_template_loads_back_to_the_same_tables(tables, tmp_path):
    t = tables()
    if "kinds" not in t:
        t["operators"].loc[2, "kind"] = "'quoted"  # an apostrophe of the data survives
    ds = from_tables(t)
    back = load(write_template(tmp_path / "data.xlsx", example=ds))
    assert back.warnings == ()
    for table in TABLES:
        pd.testing.assert_frame_equal(back.tables[table.name], ds.tables[table.name],
                                      obj=table.name)
    assert back.content_hash() == ds.content_hash()


def _validations(ws) -> dict[str, str]:
    """Column letter -> formula1 of its validation."""
    out = {}
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            out[rng.coord.split(":")[0].rstrip("0123456789")] = (dv.type, dv.formula1)
    return out


def test_template_headers_notes_and_drop_downs(tmp_path):
    ds = from_tables(layered_tables())
    book = openpyxl.load_workbook(write_template(tmp_path / "t.xlsx", example=ds))
    assert book.sheetnames == [t.name for t in TABLES]
    for table in TABLES:
        ws = book[table.name]
        assert [c.value for c in ws[1]] == list(table.column_names)
        assert ws.freeze_panes == "A2"
        for cell, col in zip(ws[1], table.columns, strict=True):
            assert cell.comment is not None and col.expectation() in cell.comment.text
            assert cell.comment.text == header_note(table, col)
        assert ws.max_row == len(ds.tables[table.name]) + 1
    labels = '"' + ",".join(LABELS) + '"'
    assert _validations(book["clusters"])["E"] == ("list", labels)
    assert _validations(book["kinds"])["B"] == ("list", '"' + ",".join(LAYERS) + '"')
    kind = _validations(book["operators"])["D"]
    assert kind[0] == "list" and "kinds!$A" in kind[1]
    assert _validations(book["firms"])["F"][0] == "decimal"
    # Typed example cells: ids text, numbers numbers, flags booleans.
    munis = book["municipalities"]
    assert munis["A2"].value == "0101" and munis["A2"].data_type == "s"
    assert munis["D2"].data_type == "n" and munis["F2"].value is False


def test_blank_template(tmp_path):
    path = write_template(tmp_path / "blank.xlsx")
    book = openpyxl.load_workbook(path)
    for table in TABLES:
        assert [c.value for c in book[table.name][1]] == list(table.column_names)
        assert book[table.name].max_row == 1
    # Without kinds, operators.kind is free text: no drop-down; labels still have one.
    assert "D" not in _validations(book["operators"])
    assert _validations(book["clusters"])["E"][0] == "list"
    with pytest.raises(OutputError, match="already exists"):
        write_template(path)
    assert write_template(path, force=True) == path
