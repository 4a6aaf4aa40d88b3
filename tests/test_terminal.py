"""The terminal at 80 columns: compare's short summary, solve's folded operator lists, --wide."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from conftest import tiny_tables
from klynge_opt import cli
from klynge_opt.cells import unprotect_frame
from klynge_opt.cli import app
from klynge_opt.data.loading import write_tables
from klynge_opt.wording import fold
from test_compare import tiny_scenarios


def _run(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def _kept(folder) -> set[str]:
    ops = pd.read_csv(folder / "operators.csv", dtype={"operator_id": str})
    return set(ops.loc[ops["kept"], "name"])


def test_compare_summary_fits_80_columns_and_names_what_differs(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    files = tiny_scenarios(data, tmp_path)
    out = tmp_path / "cmp"
    res = _run("compare", *files, "--out", out)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines) <= 80, res.output
    # One row per option with its operator count, read back from the written results.
    rows = {line.split()[0]: line.split() for line in lines
            if line.split() and line.split()[0] in ("base", "capped")}
    assert rows["base"][4] == str(len(_kept(out / "base")))
    assert rows["capped"][4] == str(len(_kept(out / "capped")))
    # The input that differs, with its full key and each value's options.
    assert "  policy.max_operators: not set (base); 2 (capped)" in lines
    # The operators whose fate differs, grouped by who keeps them, by name (not id).
    only_base = sorted(_kept(out / "base") - _kept(out / "capped"))
    assert only_base and f"  kept only by base ({len(only_base)}): {', '.join(only_base)}" \
        in lines
    assert "operator_id" not in res.output  # ids only in --wide and the files
    wide = _run("compare", *files, "--out", out, "--wide")
    assert wide.exit_code == 0 and "operator_id" in wide.output
    assert "reused from disk" in wide.output


def test_solve_folds_operators_by_region_and_layer(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "capped.toml"
    sc.write_text(f'data = "{data}"\n[policy]\nmax_travel_minutes = 100\nmax_operators = 2\n',
                  encoding="utf-8")
    res = _run("solve", sc, "--out", tmp_path / "out")
    assert res.exit_code == 0, res.output
    ops = pd.read_csv(tmp_path / "out" / "operators.csv")
    closed = ops[~ops["kept"]]
    assert len(closed) == 1  # max_operators = 2 of 3
    row = closed.iloc[0]
    assert f"  {row['kind']} (1): {row['name']}" in res.output.splitlines()
    # Region names, not ids, and kept/today per region.
    north = [line for line in res.output.splitlines() if line.startswith("North")]
    kept_north = int(ops[(ops["region_id"] == "R1")]["kept"].sum())
    assert north and f"{kept_north}/" in north[0]
    assert "Retained operators" not in res.output
    wide = _run("solve", sc, "--out", tmp_path / "out", "--wide")
    assert wide.exit_code == 0 and "Retained operators (2)" in wide.output


def test_value_text_and_fold():
    assert cli._value_text(None) == "not set"
    assert cli._value_text(float("nan")) == "not set"
    assert cli._value_text(180.0) == "180" and cli._value_text(0.9) == "0.9"
    assert cli._value_text(1e9) == "1,000,000,000"
    assert cli._value_text("[]") == "none"
    assert cli._value_text('["a", "b"]') == "a, b"
    assert cli._value_text('["' + "x" * 40 + '"]') == "1 item"
    assert cli._value_text(str([f"k{i}" for i in range(12)]).replace("'", '"')) == "12 items"
    names = [f"name {i:02d}" for i in range(40)]
    # Each "name NN, " is 9 characters: five fit in 50 (45), a sixth would not (54).
    assert fold(names, chars=50) == ", ".join(names[:5]) + " and 35 more"
    assert fold(names, count=3) == "name 00, name 01, name 02 and 37 more"
    assert fold(names, count=30, chars=50).endswith(" and 35 more")  # the tighter one
    assert fold(names[:3], count=3) == "name 00, name 01, name 02"  # nothing left out
    assert fold(["x" * 90, "y"], chars=50) == "x" * 90 + " and 1 more"  # one shown at least
    assert fold(names, count=2, more="og {n} flere") == "name 00, name 01 og 38 flere"
    assert fold([]) == ""


def test_folded_fates_group_by_who_keeps():
    diff = pd.DataFrame({"operator_id": ["a", "b", "c", "d"], "name": ["A", "B", "C", "D"],
                         "today": ["kept"] * 4,
                         "p1": ["kept", "closed", "kept", "–"],
                         "p2": ["closed", "kept", "kept", "added, kept"]})
    lines = cli._folded_fates(diff, ["p1", "p2"], "kept")
    # Largest group first, then by the options keeping them.
    assert lines == ["  kept only by p2 (2): B, D (added)", "  kept only by p1 (1): A",
                     "  kept by p1, p2 (1): C"]


def test_cli_price_fits_80_columns_and_writes_the_table(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "capped.toml"
    sc.write_text(f'name = "capped"\ndata = "{data}"\n[policy]\nmax_travel_minutes = 100\n'
                  'max_operators = 2\n[solver]\nmip_gap = 0.0\n', encoding="utf-8")
    res = _run("price", sc, "--out", tmp_path / "price.csv")
    assert res.exit_code == 0, res.output
    # Every line but the one naming the (long) output path.
    assert max(len(line) for line in res.output.splitlines()
               if not line.startswith("written")) <= 80, res.output
    table = pd.read_csv(tmp_path / "price.csv")
    assert set(table["scenario"]) == {"capped"}
    for policy in table["policy"]:
        assert policy in res.output
    # max operators: the cap of 2 costs money (the unconstrained optimum keeps three).
    cap = table.set_index("policy").loc["max operators"]
    assert f"{cap['price'] / 1e6:,.2f}" in res.output and cap["price"] > 0


def test_a_price_inside_the_solver_gap_is_no_price():
    from klynge_opt.reporting.studies import within_gap

    row = {"price": -3.29e6, "cost_with": 24.2e9, "cost_without": 24.2e9,
           "gap_with": 3e-4, "gap_without": 1e-3}
    assert within_gap(row)  # 3.29 M < 0.13 % of 24.2 bn
    assert not within_gap({**row, "price": 40e6})
    assert not within_gap({**row, "gap_with": 0.0, "gap_without": 0.0, "price": 1.0})
    assert not within_gap({**row, "price": float("nan")})
    # Proven optima on both sides: a zero price is zero, not "within the gap".
    assert not within_gap({**row, "gap_with": 0.0, "gap_without": 0.0, "price": 0.0})


def test_cli_alternatives_names_what_each_plan_changes(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "capped.toml"
    sc.write_text(f'name = "capped"\ndata = "{data}"\n[policy]\nmax_travel_minutes = 100\n'
                  'max_operators = 2\n[solver]\nmip_gap = 0.0\n', encoding="utf-8")
    res = _run("alternatives", sc, "-k", "2", "--out", tmp_path / "alt.csv")
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()
               if not line.startswith("written")) <= 80, res.output
    # "+O3;-O1" starts with "+": the CSV protects it from spreadsheets; read it back as text.
    table = unprotect_frame(pd.read_csv(tmp_path / "alt.csv", keep_default_na=False))
    names = dict(zip(tiny_tables()["operators"]["operator_id"],
                     tiny_tables()["operators"]["name"], strict=True))
    changes = [("+ " if c[0] == "+" else "− ") + names[c[1:]]
               for c in table.loc[1, "differs_from_best"].split(";")]
    assert f"2: {'; '.join(changes)}" in res.output.splitlines()


def test_cli_sweep_names_why_a_point_has_no_plan(tmp_path):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    sc = tmp_path / "s.toml"
    sc.write_text(f'data = "{data}"\n', encoding="utf-8")
    res = _run("sweep", sc, "--param", "policy.max_travel_minutes=60,120", "--out",
               tmp_path / "sweep")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines if not line.startswith("written")) <= 80, res.output
    table = pd.read_csv(tmp_path / "sweep" / "sweep.csv", keep_default_na=False)
    reason = table.set_index("policy.max_travel_minutes").at[60, "reason"]
    # The reason, wrapped, follows the point's value (short key; full path in the title).
    text = " ".join(line.strip() for line in lines)
    assert f"max_travel_minutes = 60: infeasible: {reason}" in text
    assert "Sweep of policy.max_travel_minutes" in res.output
    row_120 = next(line for line in lines if line.strip().startswith("120"))
    assert "optimal" in row_120 and "–" not in row_120


def test_info_fits_80_columns_with_names_and_wide_has_ids(tmp_path):
    t = tiny_tables()
    t["strongholds"].loc[t["strongholds"]["stronghold_id"] == "food", "name"] = \
        "Food and drink (Fødevarer og drikke)"
    data = write_tables(t, tmp_path / "tiny")
    res = _run("info", data, "--radius", "15")
    assert res.exit_code == 0, res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80, res.output
    # Names where the data has them: region, stronghold without its gloss, nearest operator.
    assert "North" in res.output and "R1 " not in res.output
    assert "Food and drink" in res.output and "Fødevarer" not in res.output
    far = res.output[res.output.index("demand groups with no competent operator"):]
    assert "Food North" in far and "O1" not in far
    wide = _run("info", data, "--radius", "15", "--wide")
    assert wide.exit_code == 0
    assert "R1" in wide.output and "Fødevarer" in wide.output
    assert "nearest_operator" in wide.output


def test_info_counts_far_groups_it_does_not_list(tmp_path, monkeypatch):
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    monkeypatch.setattr(cli, "FAR_ROWS", 1)
    doc_rows = _run("info", data, "--radius", "1", "--format", "json").output
    import json

    n = len(json.loads(doc_rows)["far_places"])
    assert n > 1
    res = _run("info", data, "--radius", "1")
    assert f"{n - 1} more demand groups" in res.output
    assert "more demand groups" not in _run("info", data, "--radius", "1", "--wide").output
