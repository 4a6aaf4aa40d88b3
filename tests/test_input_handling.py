"""Friendlier input handling: spreadsheet-made files are read (with a warning) or rejected
with a message that names the file, the physical line and the column; data sets are written
so that no spreadsheet runs a cell, with typed workbooks, and never over a data set by accident.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.styles import PatternFill

from conftest import tiny_tables
from klynge_opt.data import dataset as ds_api
from klynge_opt.data.geography import SOURCE_EXPLICIT, travel_times
from klynge_opt.data.loading import read_raw, write_tables
from klynge_opt.data.schema import TABLES
from klynge_opt.fsio import OutputError
from klynge_opt.model.landscape import build_landscape
from klynge_opt.problems import errors, warnings

OPERATORS = (
    "operator_id,name,municipality_id,kind,annual_cost,capacity,closure_cost\n"
    "O1,Food North,0101,cluster_organisation,1000,10,100\n"
    "O2,ICT South,0201,cluster_organisation,1500,,0\n"
    "O3,Hub South,0202,vaeksthus,800,6,50\n"
)


def _with_file(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return folder


def _assert_same_tables(a: ds_api.Dataset, b: ds_api.Dataset) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(a.tables[table.name], b.tables[table.name],
                                      obj=table.name)
    assert a.content_hash() == b.content_hash()


def _one(problems, severity="error"):
    found = errors(problems) if severity == "error" else warnings(problems)
    assert len(found) == 1, "\n".join(map(str, problems))
    return found[0]


# ------------------------------------------------------------------ 1. delimiter and encoding


def test_semicolon_csv_is_read_with_a_warning(tiny_dir):
    expected = ds_api.load(tiny_dir)
    # OPERATORS states the tiny operators without the optional cost_per_firm (default 0).
    _assert_same_tables(ds_api.load(_with_file(tiny_dir, "operators.csv", OPERATORS)), expected)
    _with_file(tiny_dir, "operators.csv", OPERATORS.replace(",", ";"))
    ds, problems = ds_api.inspect(tiny_dir)
    p = _one(problems, "warning")
    assert "operators.csv uses ';' as delimiter" in p.message
    assert (p.source, p.line) == ("operators.csv", 1)
    assert not errors(problems)
    _assert_same_tables(ds, expected)


def test_comma_csv_with_semicolons_in_text_stays_comma(tiny_dir):
    text = OPERATORS.replace("Food North", '"Food; North; and more"').replace(
        "ICT South", "ICT; South")
    ds, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    assert problems == []
    assert ds.operators["name"].tolist() == ["Food; North; and more", "ICT; South", "Hub South"]


def test_windows_1252_csv_is_read_with_a_warning(tiny_dir):
    text = OPERATORS.replace("Hub South", "Væksthus Sjælland")
    ds, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text.encode("cp1252")))
    p = _one(problems, "warning")
    assert "operators.csv is not UTF-8 (read as Windows-1252)" in p.message
    assert (p.source, p.line) == ("operators.csv", 4)  # the first line with a non-UTF-8 byte
    assert ds.operators["name"].iloc[2] == "Væksthus Sjælland"


def test_semicolon_and_windows_1252_together(tiny_dir):
    text = OPERATORS.replace(",", ";").replace("Food North", "Fødevarer Nord")
    ds, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text.encode("cp1252")))
    assert sorted(p.message.split(" (")[0] for p in warnings(problems)) == [
        "operators.csv is not UTF-8", "operators.csv uses ';' as delimiter"]
    assert ds.operators["name"].iloc[0] == "Fødevarer Nord"


def test_mixed_encodings_are_an_error_on_a_physical_line(tiny_dir):
    text = OPERATORS.replace("Food North", "Fødevarer Nord").encode("utf-8")
    text = text.replace(b"Hub South", "Væksthus".encode("cp1252"))
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    p = _one(problems)
    assert (p.source, p.line) == ("operators.csv", 4)
    assert "save as comma-separated UTF-8" in p.message


def test_utf16_csv_is_rejected_with_advice(tiny_dir):
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv",
                                            OPERATORS.encode("utf-16")))
    p = _one(problems)
    assert p.source == "operators.csv" and p.line == 1
    assert "save as comma-separated UTF-8" in p.message


# ------------------------------------------------------------------ 2. physical lines


def test_lines_are_physical_after_quoted_newlines_and_blank_lines(tiny_dir):
    text = ("operator_id,name,municipality_id,kind,annual_cost,capacity,closure_cost\n"  # 1
            '\n'                                                                        # 2
            'O1,"Food\nNorth",0101,cluster_organisation,1000,10,100\n'                   # 3-4
            '\n'                                                                        # 5
            ',,,,,,\n'                                                                  # 6
            'O2,"ICT\r\nSouth ""quoted""",0201,cluster_organisation,-1500,,0\n'          # 7-8
            'O3,Hub South,0202,vaeksthus,800,6,50\n'                                    # 9
            'O3,Hub again,nowhere,vaeksthus,800,6,50\n')                                # 10
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    found = {(p.line, p.column, p.value) for p in errors(problems)}
    assert found == {(7, "annual_cost", "-1500"), (10, "operator_id", "O3"),
                     (10, "municipality_id", "nowhere")}
    dup = next(p for p in problems if p.column == "operator_id")
    assert "already on line 9" in dup.message


def test_blank_lines_only_shift_nothing(tiny_dir):
    text = OPERATORS.replace("\nO2", "\n\n  \nO2").replace("800", "x")
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", "\n\n" + text))
    p = _one(problems)
    assert (p.source, p.line, p.column, p.value) == ("operators.csv", 8, "annual_cost", "x")


def test_too_many_values_names_the_physical_line(tiny_dir):
    text = OPERATORS.replace("Food North", '"Food\nNorth"').replace("800,6", "800,6,7")
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    p = _one(problems)
    assert (p.source, p.line) == ("operators.csv", 5)
    assert "header has 7 columns" in p.message


def test_unclosed_quote_names_the_physical_line(tiny_dir):
    text = OPERATORS.replace("Food North", '"Food\nNorth"').replace("ICT South", '"ICT South')
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    p = _one(problems)
    assert (p.source, p.line) == ("operators.csv", 4)
    assert "never closed" in p.message


# ------------------------------------------------------------------ 3. duplicate header


def test_duplicate_csv_header_is_reported_by_name(tiny_dir):
    text = OPERATORS.replace("annual_cost,capacity", "annual_cost,annual_cost")
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    assert [(p.severity, p.source, p.column) for p in problems] == [
        ("error", "operators.csv", "annual_cost")]
    assert "duplicate column names in header" in problems[0].message


def test_duplicate_xlsx_header_is_reported_by_name(tmp_path, tiny):
    path = write_tables(tiny, tmp_path / "d.xlsx")
    book = openpyxl.load_workbook(path)
    book["operators"]["F1"] = "annual_cost"
    book.save(path)
    _, problems = ds_api.inspect(path)
    assert [(p.severity, p.source, p.column) for p in problems] == [
        ("error", "d.xlsx[operators]", "annual_cost")]
    assert "duplicate column names in header" in problems[0].message


# ------------------------------------------------------------------ 4. number format


def _firms_csv(tmp_path: Path, employees: list[str]) -> Path:
    t = tiny_tables()
    folder = write_tables(t, tmp_path / "d")
    firms = pd.read_csv(folder / "firms.csv", dtype=str, keep_default_na=False)
    firms["employees"] = employees
    firms.to_csv(folder / "firms.csv", index=False)
    return folder


def test_thousands_separator_in_integer_column(tmp_path):
    employees = ["10", "1.500", "12.000", "5", "50", "7", "3", "2"]
    _, problems = ds_api.inspect(_firms_csv(tmp_path, employees))
    e = _one(problems)
    assert (e.source, e.line, e.column, e.value) == ("firms.csv", 3, "employees", "1.500")
    assert "thousands separator? write 1500, not 1.500" in e.message
    w = _one(problems, "warning")
    assert (w.source, w.line, w.column, w.value) == ("firms.csv", 4, "employees", "12.000")
    assert "thousands separator" in w.message


def test_thousands_separator_in_count_column_warns(tiny_dir):
    text = (tiny_dir / "municipalities.csv").read_text().replace(",8000,", ',"8.000",')
    ds, problems = ds_api.inspect(_with_file(tiny_dir, "municipalities.csv", text))
    w = _one(problems, "warning")
    assert (w.source, w.line, w.column, w.value) == ("municipalities.csv", 3, "population",
                                                     "8.000")
    assert ds.municipalities["population"].iloc[1] == 8.0  # read as written, but flagged


def test_decimal_comma_and_grouped_thousands_are_errors_with_a_hint(tiny_dir):
    text = OPERATORS.replace("1000,10", '"1000,5",10').replace("1500,", '"1.500.000",')
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    found = {(p.line, p.column, p.value): p.message for p in errors(problems)}
    assert set(found) == {(2, "annual_cost", "1000,5"), (3, "annual_cost", "1.500.000")}
    assert "decimal comma? use a point" in found[(2, "annual_cost", "1000,5")]
    assert "thousands separator?" in found[(3, "annual_cost", "1.500.000")]


def test_plain_decimals_are_not_flagged(tiny_dir):
    # 1.5 and 1000.125 are ordinary decimals; only the three-digit group pattern is suspicious,
    # and only in count columns.
    text = OPERATORS.replace("1000,10", "1000.125,1.5")
    ds, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    assert problems == []
    assert ds.operators["annual_cost"].iloc[0] == 1000.125


# ------------------------------------------------------------------ 5. Excel oddities


def _tiny_book(tmp_path: Path) -> Path:
    return write_tables(tiny_tables(), tmp_path / "tiny.xlsx")


def test_formula_without_cached_value_is_an_error(tmp_path):
    path = _tiny_book(tmp_path)
    book = openpyxl.load_workbook(path)
    book["operators"]["E3"] = "=1000+500"  # openpyxl stores no computed value
    book.save(path)
    _, problems = ds_api.inspect(path)
    p = _one(problems)
    assert (p.source, p.line, p.column) == ("tiny.xlsx[operators]", 3, "annual_cost")
    assert "formula without a computed value" in p.message
    assert "open and save the workbook in Excel, or type the value" in p.message


def test_formula_with_cached_value_is_used(tmp_path):
    path = _tiny_book(tmp_path)
    with zipfile.ZipFile(path) as z:
        sheets = {n: z.read(n) for n in z.namelist()}
    # What Excel writes: the formula and its last result.
    name = "xl/worksheets/sheet4.xml"
    assert b"<v>1500</v>" in sheets[name]
    sheets[name] = sheets[name].replace(b"<v>1500</v>", b"<f>1000+500</f><v>1500</v>", 1)
    with zipfile.ZipFile(path, "w") as z:
        for n, data in sheets.items():
            z.writestr(n, data)
    assert openpyxl.load_workbook(path)["operators"]["E3"].data_type == "f"
    ds, problems = ds_api.inspect(path)
    assert problems == []
    assert ds.operators["annual_cost"].iloc[1] == 1500.0


def test_merged_cells_are_an_error_naming_the_range(tmp_path):
    path = _tiny_book(tmp_path)
    book = openpyxl.load_workbook(path)
    book["operators"].merge_cells("D2:D3")
    book.save(path)
    _, problems = ds_api.inspect(path)
    merged = [p for p in problems if "merged cells" in p.message]
    assert len(merged) == 1
    assert "merged cells D2:D3" in merged[0].message
    assert (merged[0].source, merged[0].line, merged[0].column) == (
        "tiny.xlsx[operators]", 2, "kind")


def test_formatted_empty_rows_are_dropped_and_nan_is_never_an_id(tmp_path):
    path = _tiny_book(tmp_path)
    book = openpyxl.load_workbook(path)
    ws = book["firms"]
    fill = PatternFill("solid", fgColor="FFFF00")
    for row in range(12, 40):
        for col in range(1, 10):
            ws.cell(row=row, column=col).fill = fill
    ws.insert_rows(3)  # a blank row inside the table: skipped, later rows keep their number
    assert ws["A10"].value == "F08"
    ws["A10"] = None
    book.save(path)
    _, problems = ds_api.inspect(path)
    p = _one(problems)
    assert (p.source, p.line, p.column, p.value) == ("tiny.xlsx[firms]", 10, "firm_id", "")
    assert "blank" in p.message
    assert not [q for q in problems if q.value == "nan"]


def test_nan_text_is_not_an_id(tiny_dir):
    text = (tiny_dir / "firms.csv").read_text().replace("F08,", "nan,")
    _, problems = ds_api.inspect(_with_file(tiny_dir, "firms.csv", text))
    p = _one(problems)
    assert (p.source, p.line, p.column, p.value) == ("firms.csv", 9, "firm_id", "nan")
    assert "'nan' is not an id" in p.message


@pytest.mark.parametrize("how", ["text", "truncated"])
def test_damaged_workbook_is_a_problem_not_a_traceback(tmp_path, how):
    path = _tiny_book(tmp_path)
    if how == "text":
        path.write_text("operator_id,name\nO1,x\n")
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    ds, problems = ds_api.inspect(path)
    assert ds is None
    p = _one(problems)
    assert p.source == "tiny.xlsx" and "not a readable .xlsx workbook" in p.message
    assert len(problems) == 1  # not one "required table missing" per sheet as well


def test_damaged_parquet_is_a_problem_not_a_traceback(tmp_path, tiny):
    folder = write_tables(tiny, tmp_path / "pq", fmt="parquet")
    data = (folder / "firms.parquet").read_bytes()
    (folder / "firms.parquet").write_bytes(data[: len(data) // 2])
    _, problems = ds_api.inspect(folder)
    p = _one(problems)
    assert p.source == "firms.parquet" and "not a readable .parquet file" in p.message


# ------------------------------------------------------------------ 6. full OD matrices


def test_full_origin_destination_matrix_is_accepted():
    t = tiny_tables()
    ids = ["0101", "0102", "0201"]
    rows = [(a, b, 0.0 if a == b else 50.0) for a in ids for b in ids]
    minutes = {(a, b): m for a, b, m in rows}
    minutes[("0101", "0101")] = 4.0  # the diagonal overrides intra_minutes (10)
    minutes[("0101", "0201")] = 25.0  # asymmetric: firm in 0101 -> operator in 0201
    minutes[("0201", "0101")] = 35.0  # firm in 0201 -> operator in 0101
    minutes[("0102", "0201")] = minutes[("0201", "0102")] = 45.0  # equal both ways
    t["travel_times"] = pd.DataFrame(
        [(a, b, m) for (a, b), m in minutes.items()], columns=["from_id", "to_id", "minutes"])
    ds = ds_api.from_tables(t)
    assert errors(ds.warnings) == []
    tt = travel_times(ds)
    assert tt.between("0101", "0201") == 25.0
    assert tt.between("0201", "0101") == 35.0
    assert tt.between("0102", "0201") == tt.between("0201", "0102") == 45.0
    assert tt.between("0101", "0101") == 4.0
    assert tt.between("0102", "0102") == 0.0
    # Pairs not in the table keep the computed times (links: 0101-0202 = 20 + 40 + 30).
    assert tt.between("0101", "0202") == 90.0
    i, j = tt.position(["0201", "0101"])
    assert tt.source[i, j] == tt.source[j, i] == SOURCE_EXPLICIT
    # Firm municipality -> operator municipality: F04 in 0201 to O1 in 0101 takes 35 minutes,
    # F01 in 0101 to O2 in 0201 takes 25.
    land = build_landscape(ds)
    pairs = land.eligible_pairs().merge(land.groups[["group_id", "municipality_id"]])
    got = pairs.set_index(["municipality_id", "operator_id"])["minutes"]
    assert got[("0201", "O1")] == 35.0
    assert got[("0101", "O2")] == 25.0


def test_one_direction_per_pair_still_serves_both():
    t = tiny_tables()
    t["travel_times"] = pd.DataFrame({"from_id": ["0201"], "to_id": ["0101"], "minutes": [33.0]})
    tt = travel_times(ds_api.from_tables(t))
    assert tt.between("0101", "0201") == tt.between("0201", "0101") == 33.0


def test_links_stay_undirected_without_self_loops(tmp_path, tiny):
    tiny["links"] = pd.concat([tiny["links"], pd.DataFrame({
        "from_id": ["0102", "0201"], "to_id": ["0101", "0201"], "minutes": [20.0, 5.0],
        "mode": ["road", "road"]})], ignore_index=True)
    folder = write_tables(tiny, tmp_path / "d")
    _, problems = ds_api.inspect(folder)
    assert sorted((p.line, p.message.split(":")[0].split(";")[0]) for p in errors(problems)) == [
        (6, "duplicate pair"), (7, "a link from a municipality to itself")]


# ------------------------------------------------------------------ 7. formula injection

RISKY = ['=HYPERLINK("x")', "-5 Group", "+45 12 34 56 78", "@risk", "'quoted", "'-",
         "''=two"]


def _risky_tables() -> dict[str, pd.DataFrame]:
    t = tiny_tables()
    t["operators"]["name"] = RISKY[:3]
    t["operators"]["kind"] = RISKY[3:6]
    t["clusters"]["name"] = [RISKY[6], "=1+1", "-"]
    # An id that looks like a formula must survive too, everywhere it is referenced.
    for name, col in (("operators", "operator_id"), ("operator_strongholds", "operator_id"),
                      ("clusters", "operator_id")):
        t[name][col] = t[name][col].replace({"O1": "=O1"})
    return t


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_risky_text_round_trips_exactly(tmp_path, fmt):
    expected = ds_api.from_tables(_risky_tables())
    target = tmp_path / ("d.xlsx" if fmt == "xlsx" else "d")
    write_tables(expected.tables, target, fmt=fmt)
    back = ds_api.load(target)
    assert back.operators["name"].tolist() == RISKY[:3]
    assert back.operators["kind"].tolist() == RISKY[3:6]
    assert back.clusters["name"].tolist() == [RISKY[6], "=1+1", "-"]
    assert back.operators["operator_id"].iloc[0] == "=O1"
    _assert_same_tables(back, expected)


def test_written_csv_cells_are_protected(tmp_path):
    folder = write_tables(_risky_tables(), tmp_path / "d")
    text = (folder / "operators.csv").read_text()
    assert "'=HYPERLINK(\"\"x\"\")" in text and "\n'=O1," in text and ",'-5 Group," in text
    assert ",'''quoted" not in text and ",''quoted," in text


def test_written_workbook_has_no_live_formulas(tmp_path):
    path = write_tables(_risky_tables(), tmp_path / "d.xlsx")
    book = openpyxl.load_workbook(path)
    kinds = {cell.data_type for ws in book.worksheets for row in ws.iter_rows() for cell in row}
    assert "f" not in kinds and "e" not in kinds


def test_numbers_are_never_unprotected(tiny_dir):
    # An apostrophe before a number is not protection, and a number column stays numeric.
    text = OPERATORS.replace("1000,10", "'-1000,10")
    _, problems = ds_api.inspect(_with_file(tiny_dir, "operators.csv", text))
    p = _one(problems)
    assert (p.line, p.column, p.value) == (2, "annual_cost", "'-1000")


# ------------------------------------------------------------------ 8. typed workbooks


def test_workbook_cells_are_typed(tmp_path, tiny_dir):
    from_csv = ds_api.load(tiny_dir)
    path = write_tables(from_csv.tables, tmp_path / "typed.xlsx")
    book = openpyxl.load_workbook(path)
    ws = book["municipalities"]
    header = [c.value for c in ws[1]]
    row = {h: c for h, c in zip(header, ws[2], strict=True)}
    assert (row["municipality_id"].value, row["municipality_id"].data_type) == ("0101", "s")
    assert (row["lat"].value, row["lat"].data_type) == (56.0, "n")
    assert (row["rural"].value, row["rural"].data_type) == (False, "b")
    clusters = book["clusters"]
    assert clusters["F2"].value is None  # blank gold_upgrade_cost stays an empty cell
    assert (clusters["G2"].value, clusters["G2"].data_type) == (4, "n")
    _assert_same_tables(ds_api.load(path), from_csv)


def test_workbook_text_that_looks_like_an_error_value_stays_text(tmp_path, tiny):
    tiny["operators"]["kind"] = ["#N/A", "#REF!", "x"]
    path = write_tables(tiny, tmp_path / "d.xlsx")
    assert openpyxl.load_workbook(path)["operators"]["D2"].data_type == "s"
    assert ds_api.load(path).operators["kind"].tolist() == ["#N/A", "#REF!", "x"]


# ------------------------------------------------------------------ 9. writing safely


def test_never_overwrites_a_data_set_without_force(tmp_path, tiny):
    folder = write_tables(tiny, tmp_path / "d")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    tiny["regions"].loc[0, "name"] = "Changed"
    with pytest.raises(OutputError, match="use --force to replace it") as info:
        write_tables(tiny, folder)
    assert str(folder) in str(info.value)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    write_tables(tiny, folder, force=True)
    assert ds_api.load(folder).regions["name"].iloc[0] == "Changed"


def test_never_overwrites_a_workbook_without_force(tmp_path, tiny):
    path = write_tables(tiny, tmp_path / "d.xlsx")
    with pytest.raises(OutputError, match="use --force to replace it"):
        write_tables(tiny, path)
    write_tables(tiny, path, force=True)
    assert ds_api.load(path).firms.shape[0] == 8


def test_an_empty_folder_is_a_fine_target(tmp_path, tiny):
    (tmp_path / "empty").mkdir()
    write_tables(tiny, tmp_path / "empty")
    assert ds_api.inspect(tmp_path / "empty")[1] == []


def test_a_foreign_folder_needs_force_and_keeps_its_files(tmp_path, tiny):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.md").write_text("# Chapter 1\n")
    with pytest.raises(OutputError, match=r"thesis.*chapter1\.md.*--force"):
        write_tables(tiny, folder)
    assert [p.name for p in folder.iterdir()] == ["chapter1.md"]
    write_tables(tiny, folder, force=True)
    assert (folder / "chapter1.md").read_text() == "# Chapter 1\n"
    assert ds_api.inspect(folder)[1] == []


def test_another_format_replaces_the_old_one_in_one_swap(tmp_path, tiny):
    folder = write_tables(tiny, tmp_path / "d")
    (folder / "README.md").write_text("keep me\n")
    (folder / "notes").mkdir()
    (folder / "notes" / "a.txt").write_text("and me\n")
    with pytest.raises(OutputError, match="use --force"):
        write_tables(tiny, folder, fmt="parquet")
    assert not list(folder.glob("*.parquet"))
    tiny["regions"].loc[0, "name"] = "From parquet"
    write_tables(tiny, folder, fmt="parquet", force=True)
    assert not list(folder.glob("*.csv"))
    assert len(list(folder.glob("*.parquet"))) == len(tiny)
    assert (folder / "README.md").read_text() == "keep me\n"
    assert (folder / "notes" / "a.txt").read_text() == "and me\n"
    assert ds_api.load(folder).regions["name"].iloc[0] == "From parquet"
    assert not [p for p in tmp_path.iterdir() if p.name != "d"]  # no staging left behind


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_files_get_the_users_umask(tmp_path, tiny, fmt):
    old = os.umask(0o027)
    try:
        target = write_tables(tiny, tmp_path / ("d.xlsx" if fmt == "xlsx" else "d"), fmt=fmt)
    finally:
        os.umask(old)
    if fmt == "xlsx":
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
        return
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()} == {0o640}


def test_unknown_format_writes_nothing_even_over_a_data_set(tmp_path, tiny):
    folder = write_tables(tiny, tmp_path / "d")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="unknown format 'docx'"):
        write_tables(tiny, folder, fmt="docx", force=True)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_line_map_handles_a_large_quoted_file(tmp_path, tiny):
    # Every field quoted (some exporters do this): the line map takes the vectorised path.
    n = 20_000
    firms = pd.DataFrame({"firm_id": [f"F{i}" for i in range(n)], "municipality_id": "0101",
                          "stronghold_id": "food", "employees": "1", "growth": "false",
                          "weight": "1"})
    firms.loc[n - 1, "employees"] = "x"
    folder = write_tables(tiny, tmp_path / "d")
    firms.to_csv(folder / "firms.csv", index=False, quoting=1)
    text = (folder / "firms.csv").read_text().replace('"F5"', '"F\n5"', 1)
    (folder / "firms.csv").write_text(text)
    _, problems = ds_api.inspect(folder)
    bad = [p for p in errors(problems) if p.column == "employees"]
    assert [(p.line, p.value) for p in bad] == [(n + 2, "x")]
    assert np.isin(["F\n5"], read_raw(folder).tables["firms"]["firm_id"]).all()
