"""The report's price and alternatives sections, their workbook sheets, and the
critical-mass reasons for closed operators."""

from __future__ import annotations

import html
import re

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import layered_tables
from klynge_opt.api import solve
from klynge_opt.cli import app
from klynge_opt.data.dataset import from_tables, load
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.fsio import write_csv
from klynge_opt.problems import InputError
from klynge_opt.reporting.excel import build_workbook
from klynge_opt.reporting.html import build_report, write_report
from klynge_opt.reporting.labels import Formatter
from klynge_opt.reporting.studies import read_studies
from klynge_opt.results.result import read_result, write_result
from klynge_opt.studies.alternatives import alternatives
from klynge_opt.studies.price import price
from test_report import HOSTILE_OPERATOR, hostile_tables

CAPPED = Scenario(name="capped", policy={"max_operators": 4, "cluster_rule": "at_least"},
                  solver={"mip_gap": 0.0})


@pytest.fixture(scope="module")
def studied(tmp_path_factory):
    """A result (of data on disk, which the CLI finds by itself) with its price and
    alternatives tables inside its folder."""
    root = tmp_path_factory.mktemp("studied")
    ds = load(write_tables(hostile_tables(), root / "data"))
    folder = write_result(solve(ds, CAPPED), root / "capped")
    prices = price(CAPPED, dataset=ds).table
    ranking = alternatives(CAPPED, 2, dataset=ds).table
    write_csv(folder / "price.csv", prices)
    write_csv(folder / "alternatives.csv", ranking)
    return ds, folder, prices, ranking


def test_tables_name_their_scenario_and_inputs(studied):
    _ds, folder, prices, ranking = studied
    result = read_result(folder)
    for table in (prices, ranking):
        assert set(table["scenario"]) == {"capped"}
        assert set(table["input_hash"]) == {result.summary["input_hash"]}


def test_price_and_alternatives_sections_are_found_in_the_result_folder(studied):
    ds, folder, prices, ranking = studied
    result = read_result(folder)
    page = build_report([result], dataset=ds, studies=read_studies({}, [folder]))
    fmt = Formatter("en")
    assert "Price of each policy" in page and "Near-optimal alternatives" in page
    for row in prices.itertuples():
        assert f'data-v="{row.price}">{fmt.mdkk(row.price, unit=False)}<' in page
    # The operators a relaxation reopens, by name (escaped), never by id.
    names = dict(zip(result.operators["operator_id"], result.operators["name"], strict=True))
    section = page[page.index("Price of each policy"):page.index("Near-optimal alternatives")]
    changed = [o for col in ("reopened_without", "closed_without") for ids in prices[col]
               for o in ids.split(";") if o]
    assert changed, "no relaxation changes an operator: the test shows nothing"
    for o in changed:
        assert html.escape(names[o]) in section and not re.search(rf"\b{o}\b", section)
    assert HOSTILE_OPERATOR not in page
    # The second plan's cost and its difference from the best.
    second = ranking.set_index("rank").loc[2]
    assert fmt.mdkk(second["objective"], unit=False) in page
    assert fmt.pct(second["gap_to_best"], 3) in page
    assert "computed for other inputs" not in page


def test_a_table_for_other_inputs_is_flagged(studied, tmp_path):
    ds, folder, prices, _ = studied
    stale = prices.assign(input_hash="0" * 16)
    write_csv(tmp_path / "old-price.csv", stale)
    page = build_report([read_result(folder)], dataset=ds,
                        studies=read_studies({"price": [tmp_path / "old-price.csv"]}, []))
    assert "old-price.csv was computed for other inputs than this result" in page


def test_a_table_of_another_scenario_or_file_is_refused_before_writing(studied, tmp_path):
    ds, folder, prices, _ = studied
    write_csv(tmp_path / "other.csv", prices.assign(scenario="other"))
    (tmp_path / "broken.csv").write_text("policy,price\nx,1\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_studies({"price": [tmp_path / "broken.csv", tmp_path / "missing.csv"]}, [])
    messages = " ".join(p.location() + " " + p.message for p in info.value.problems)
    assert "broken.csv" in messages and "missing column(s) scenario" in messages
    assert "missing.csv" in messages  # every problem at once
    out = tmp_path / "report.html"
    write_report([folder], out, dataset=ds)
    before = out.read_bytes()
    res = CliRunner().invoke(app, ["report", str(folder), "--out", str(out),
                                   "--price", str(tmp_path / "other.csv")])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "'other'" in res.output and "other.csv" in res.output
    assert out.read_bytes() == before


def test_workbook_has_price_and_alternatives_sheets(studied):
    _ds, folder, prices, ranking = studied
    book = build_workbook([read_result(folder)], studies=read_studies({}, [folder]))
    assert "Price of policies" in book.sheetnames and "Alternatives" in book.sheetnames
    ws = book["Price of policies"]
    header = [c.value for c in ws[1]]
    got = {ws.cell(r, 1).value: ws.cell(r, header.index("Price (M DKK)") + 1).value
           for r in range(2, ws.max_row + 1)}
    # Typed numbers, in M DKK.
    assert got == pytest.approx({p: v / 1e6 for p, v in zip(prices["policy"], prices["price"],
                                                            strict=True)})
    alt = book["Alternatives"]
    assert alt.max_row == len(ranking) + 1 and isinstance(alt.cell(2, 3).value, float)


def test_cli_report_takes_price_and_alternatives_files(studied, tmp_path):
    _ds, folder, prices, ranking = studied
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in folder.iterdir():
        if f.name not in ("price.csv", "alternatives.csv"):
            (bare / f.name).write_bytes(f.read_bytes())
    write_csv(tmp_path / "p.csv", prices)
    study_dir = tmp_path / "alts"
    study_dir.mkdir()
    write_csv(study_dir / "alternatives.csv", ranking)
    out, book = tmp_path / "r.html", tmp_path / "r.xlsx"
    res = CliRunner().invoke(app, ["report", str(bare), "--out", str(out), "--xlsx", str(book),
                                   "--price", str(tmp_path / "p.csv"),
                                   "--alternatives", str(study_dir)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert "Price of each policy" in page and "Near-optimal alternatives" in page
    assert {"Price of policies", "Alternatives"} <= set(openpyxl.load_workbook(book).sheetnames)


def _reasons(policy: dict) -> dict[str, str]:
    ds = from_tables(layered_tables())
    result = solve(ds, Scenario(policy=policy, solver={"mip_gap": 0.0}))
    page = build_report([result], dataset=ds)
    rows = re.findall(r"<tr><td>([^<]*)</td><td>[^<]*</td><td>[^<]*</td><td data-v=\"0\">"
                      r"[^<]*</td>.*?<td>([^<]*)</td></tr>", page)
    return dict(rows)


def test_closed_for_lack_of_critical_mass_says_so_with_numbers():
    # Today (status quo) C2, run by "ICT South" (O2), has members F02 and F04: 2 firms.
    assert _reasons({"cluster_rule": "at_least", "min_members_per_cluster": 3}) == {
        "ICT South": "its cluster(s) had 2 members today, below the 3-member minimum"}
    # O2 serves F02 and F04 today: 2 firms, below a 3-firm minimum per operator.
    assert _reasons({"cluster_rule": "at_least", "min_firms_per_operator": 3}) == {
        "ICT South": "its 2 firms today are below the 3-firm minimum"}
    # Without a minimum the same closure is a matter of cost.
    closed = _reasons({"cluster_rule": "at_least"})
    assert set(closed.values()) <= {"its firms are served at lower total cost by others"}


def test_study_tables_read_back_typed(studied):
    _ds, folder, prices, _ = studied
    [table] = [s for s in read_studies({}, [folder]) if s.kind == "price"]
    assert table.scenario == "capped"
    pd.testing.assert_series_equal(table.table["price"], prices["price"], check_names=False,
                                   check_dtype=False)


def test_a_batch_store_is_a_section_and_a_sheet(studied, tmp_path):
    from klynge_opt.batch import Serial, Store, Task, run_batch

    ds, folder, _, _ = studied
    # A name a spreadsheet would run as a formula and a page would read as markup.
    hostile = "=A1&'x'"
    tasks = [Task(CAPPED.with_updates({"name": hostile, "policy": {"max_operators": k}}),
                  {"policy.max_operators": k}) for k in (3, 4)]
    tasks.append(Task(CAPPED.with_updates({"name": "none", "policy": {"max_operators": 0}}),
                      {"policy.max_operators": 0}))
    batch_dir = tmp_path / "batch"
    batch_dir.mkdir()
    with Store(batch_dir / "results.sqlite", batch="demo", data=ds.content_hash()) as store:
        run_batch(tasks, ds, store, Serial())
    out, book = tmp_path / "r.html", tmp_path / "r.xlsx"
    res = CliRunner().invoke(app, ["report", str(folder), "--out", str(out), "--xlsx",
                                   str(book), "--batch", str(batch_dir)])
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    section = page[page.index("<h2>Batch demo</h2>"):]
    assert "1 infeasible, 2 optimal" in section
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>"
                      r"<td class=\"n\" data-v=\"([^\"]*)\">", section)
    assert [(html.unescape(a), b, c) for a, b, c, _ in rows] == [
        (hostile, "policy.max_operators=3", "optimal"),
        (hostile, "policy.max_operators=4", "optimal"),
        ("none", "policy.max_operators=0", "infeasible")]
    assert hostile not in page  # escaped, never raw markup
    # The max_operators=4 task is the reported scenario itself: the same cost.
    assert float(rows[1][3]) == pytest.approx(read_result(folder).objective, rel=1e-9)
    assert rows[2][3] == ""  # no plan, no cost
    ws = openpyxl.load_workbook(book)["Batch demo"]
    header = [c.value for c in ws[1]]
    cost = header.index("Cost (M DKK)") + 1
    assert ws.cell(2, 1).value == hostile and ws.cell(2, 1).data_type == "s"
    assert ws.cell(3, cost).value == pytest.approx(read_result(folder).objective / 1e6)
    assert ws.cell(4, header.index("Status") + 1).value == "infeasible"
    assert ws.cell(4, cost).value is None


def test_a_batch_that_is_not_a_store_is_refused_before_writing(studied, tmp_path):
    _ds, folder, _, _ = studied
    out = tmp_path / "r.html"
    res = CliRunner().invoke(app, ["report", str(folder), "--out", str(out),
                                   "--batch", str(tmp_path / "nothing-here")])
    assert res.exit_code == 2 and "result store" in res.output and not out.exists()
