"""Every validation rule, each with a broken fixture, and the all-at-once reporting."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import tiny_tables
from klynge_opt.data import dataset as ds_api
from klynge_opt.data.loading import write_tables
from klynge_opt.problems import InputError, errors, warnings


def _write_csvs(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _problems(tmp_path: Path, tables: dict[str, pd.DataFrame]):
    _, problems = ds_api.inspect(_write_csvs(tmp_path, tables))
    return problems


def _only_error(problems, **where):
    errs = errors(problems)
    assert len(errs) == 1, "\n".join(map(str, problems))
    for key, value in where.items():
        assert getattr(errs[0], key) == value, str(errs[0])
    return errs[0]


def test_tiny_is_clean(tiny_dir):
    ds, problems = ds_api.inspect(tiny_dir)
    assert ds is not None
    assert problems == []


def test_missing_table(tmp_path):
    t = tiny_tables()
    del t["operators"]
    problems = _problems(tmp_path, t)
    assert any(p.message.startswith("required table missing") and "operators.csv" in p.message
               for p in errors(problems))


def test_missing_required_column(tmp_path):
    t = tiny_tables()
    t["operators"] = t["operators"].drop(columns="annual_cost")
    p = _only_error(_problems(tmp_path, t), source="operators.csv", column="annual_cost")
    assert "required column missing" in p.message


def test_wrong_type_names_line_column_value(tmp_path):
    t = tiny_tables()
    t["operators"]["annual_cost"] = t["operators"]["annual_cost"].astype(object)
    t["operators"].loc[1, "annual_cost"] = "lots"
    p = _only_error(_problems(tmp_path, t), source="operators.csv", line=3,
                    column="annual_cost", value="lots")
    assert "expected a number" in p.message


def test_blank_required_field(tmp_path):
    t = tiny_tables()
    t["municipalities"].loc[0, "name"] = ""
    p = _only_error(_problems(tmp_path, t), source="municipalities.csv", line=2, column="name")
    assert "blank" in p.message


def test_duplicate_id(tmp_path):
    t = tiny_tables()
    t["firms"].loc[7, "firm_id"] = "F01"  # F08 has no memberships to orphan
    p = _only_error(_problems(tmp_path, t), source="firms.csv", line=9, column="firm_id")
    assert "duplicate firm_id: already on line 2" in p.message


def test_unknown_reference(tmp_path):
    t = tiny_tables()
    t["operators"].loc[0, "municipality_id"] = "9999"
    p = _only_error(_problems(tmp_path, t), source="operators.csv", line=2,
                    column="municipality_id", value="9999")
    assert "unknown municipality_id" in p.message


@pytest.mark.parametrize(("table", "column", "value"), [
    ("operators", "annual_cost", -1.0),
    ("operators", "capacity", -5.0),
    ("operators", "closure_cost", -0.5),
    ("links", "minutes", -3.0),
    ("municipalities", "lat", 91.0),
    ("municipalities", "lon", -181.0),
    ("firms", "weight", 0.0),
])
def test_out_of_range(tmp_path, table, column, value):
    t = tiny_tables()
    t[table].loc[0, column] = value
    p = _only_error(_problems(tmp_path, t), source=f"{table}.csv", line=2, column=column)
    assert "out of range" in p.message


def test_bad_choice_and_bool(tmp_path):
    t = tiny_tables()
    t["clusters"].loc[0, "label"] = "platinum"
    t["municipalities"]["rural"] = t["municipalities"]["rural"].astype(object)
    t["municipalities"].loc[2, "rural"] = "maybe"
    problems = errors(_problems(tmp_path, t))
    assert {(p.source, p.column, p.value) for p in problems} == {
        ("clusters.csv", "label", "platinum"), ("municipalities.csv", "rural", "maybe")}


def test_duplicate_link_in_reverse_direction(tmp_path):
    t = tiny_tables()
    extra = pd.DataFrame({"from_id": ["0201"], "to_id": ["0102"], "minutes": [41.0],
                          "mode": ["road"]})
    t["links"] = pd.concat([t["links"], extra], ignore_index=True)
    p = _only_error(_problems(tmp_path, t), source="links.csv", line=6)
    assert "duplicate pair" in p.message


def test_host_lacks_competence(tmp_path):
    t = tiny_tables()
    t["operator_strongholds"] = t["operator_strongholds"].iloc[1:]  # O1 loses food
    problems = errors(_problems(tmp_path, t))
    assert any("host operator O1 is not competent in stronghold food" in p.message
               for p in problems)


def test_stronghold_without_cluster(tmp_path):
    t = tiny_tables()
    t["strongholds"] = pd.concat([t["strongholds"], pd.DataFrame({
        "stronghold_id": ["wind"], "name": ["Wind"], "skill_shortage_2025": [1450],
        "weight": [1.0]})], ignore_index=True)
    problems = errors(_problems(tmp_path, t))
    assert any("stronghold wind is covered by no cluster" in p.message and p.line == 4
               for p in problems)


def test_firms_in_stronghold_without_competent_operator(tmp_path):
    t = tiny_tables()
    os_ = t["operator_strongholds"]
    t["operator_strongholds"] = os_[os_["stronghold_id"] != "ict"]
    t["cluster_strongholds"] = t["cluster_strongholds"][
        t["cluster_strongholds"]["stronghold_id"] != "ict"]
    # ict is now covered by no cluster and served by no operator: both reported.
    messages = [p.message for p in errors(_problems(tmp_path, t))]
    assert any("4 firms are in stronghold ict, but no operator is competent" in m
               for m in messages)
    assert any("stronghold ict is covered by no cluster" in m for m in messages)


def test_unreachable_island_when_links_are_the_only_source(tmp_path):
    t = tiny_tables()
    t["links"] = t["links"][t["links"]["mode"] != "ferry"]
    p = _only_error(_problems(tmp_path, t), source="links.csv")
    assert "0900 (Island)" in p.message


def test_unreachable_island_is_fine_with_explicit_times(tmp_path):
    t = tiny_tables()
    t["links"] = t["links"][t["links"]["mode"] != "ferry"]
    t["travel_times"] = pd.DataFrame({"from_id": ["0900"] * 4,
                                      "to_id": ["0101", "0102", "0201", "0202"],
                                      "minutes": [95.0, 110.0, 150.0, 180.0]})
    assert errors(_problems(tmp_path, t)) == []


def test_all_problems_at_once(tmp_path):
    t = tiny_tables()
    t["operators"].loc[0, "annual_cost"] = -1
    t["firms"].loc[2, "municipality_id"] = "nowhere"
    t["clusters"].loc[1, "label"] = "platinum"
    t["links"].loc[0, "minutes"] = -2
    problems = errors(_problems(tmp_path, t))
    assert {p.source for p in problems} == {"operators.csv", "firms.csv", "clusters.csv",
                                            "links.csv"}


def test_warnings_are_separate(tmp_path):
    t = tiny_tables()
    t["operators"] = pd.concat([t["operators"], pd.DataFrame({
        "operator_id": ["O4"], "name": ["Idle"], "municipality_id": ["0101"], "kind": [""],
        "annual_cost": [1.0], "capacity": [None], "closure_cost": [0.0]})], ignore_index=True)
    t["firms"]["colour"] = "blue"
    ds, problems = ds_api.inspect(_write_csvs(tmp_path, t))
    assert ds is not None and errors(problems) == []
    assert {(p.source, p.column) for p in warnings(problems)} == {
        ("operators.csv", "operator_id"), ("firms.csv", "colour")}


def test_many_bad_rows_are_counted_not_listed(tmp_path):
    t = tiny_tables()
    firms = pd.concat([t["firms"]] * 5, ignore_index=True)
    firms["firm_id"] = [f"G{i}" for i in range(len(firms))]
    firms["weight"] = -1.0
    t["firms"] = firms
    t.pop("memberships")
    problems = errors(_problems(tmp_path, t))
    assert len(problems) == 11
    assert "30 more rows" in problems[-1].message


def test_load_raises_with_every_problem(tmp_path):
    t = tiny_tables()
    t["operators"].loc[0, "annual_cost"] = -1
    t["firms"].loc[2, "municipality_id"] = "nowhere"
    with pytest.raises(InputError) as info:
        ds_api.load(_write_csvs(tmp_path, t))
    assert len(errors(info.value.problems)) == 2
    assert "operators.csv:2 [annual_cost]" in info.value.report()


def test_not_a_dataset(tmp_path):
    _, problems = ds_api.inspect(tmp_path / "nope")
    assert "not found" in errors(problems)[0].message
    file = tmp_path / "x.txt"
    file.write_text("hello")
    _, problems = ds_api.inspect(file)
    assert "expected a folder" in errors(problems)[0].message


def test_leading_zeros_survive(tiny_dir):
    ds = ds_api.load(tiny_dir)
    assert ds.municipalities["municipality_id"].tolist()[:2] == ["0101", "0102"]
    assert ds.firms["municipality_id"].iloc[0] == "0101"


def test_write_then_load_in_memory_equals(tiny):
    typed = ds_api.from_tables(tiny)
    for name in ("operators", "firms", "links"):
        assert len(typed.tables[name]) == len(tiny[name])
    assert typed.clusters["gold_upgrade_cost"].isna().tolist() == [True, False, True]
    assert typed.travel_times.empty and list(typed.travel_times.columns) == [
        "from_id", "to_id", "minutes"]


def test_write_tables_leaves_no_partial_folder(tmp_path, tiny):
    bad = dict(tiny)
    with pytest.raises(ValueError, match="unknown format"):
        write_tables(bad, tmp_path / "out", fmt="docx")
    assert list(tmp_path.iterdir()) == []
