"""The command line: exit codes, JSON output, no tracebacks, complete output folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import layered_tables, tiny_tables
from klynge_opt.cli import app
from klynge_opt.data.loading import write_tables
from klynge_opt.fsio import OutputError

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def scenario_file(tmp_path: Path, data: Path, body: str = "", name: str = "s") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'data = "{data}"\n{body}', encoding="utf-8")
    return path


def test_validate_clean_and_json(tiny_dir):
    res = run("validate", tiny_dir)
    assert res.exit_code == 0, res.output
    assert "valid — 0 errors, 0 warnings" in res.output
    res = run("validate", tiny_dir, "--format", "json")
    doc = json.loads(res.output)
    assert doc["ok"] is True and doc["errors"] == 0


def test_validate_errors_exit_2_without_traceback(tmp_path):
    t = tiny_tables()
    t["operators"].loc[0, "annual_cost"] = -5
    t["firms"].loc[0, "stronghold_id"] = "nope"
    folder = write_tables(t, tmp_path / "bad")
    res = run("validate", folder)
    assert res.exit_code == 2
    assert "operators.csv:2 [annual_cost]" in res.output
    assert "firms.csv:2 [stronghold_id]" in res.output
    assert "Traceback" not in res.output
    doc = json.loads(run("validate", folder, "--format", "json").output)
    assert doc["ok"] is False and doc["errors"] == 2
    assert {p["column"] for p in doc["problems"]} == {"annual_cost", "stronghold_id"}


def test_module_entry_point_reports_bad_input_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "klynge_opt", "info", str(tmp_path / "none")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "data set not found" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_info_text_and_json(tiny_dir):
    res = run("info", tiny_dir)
    assert res.exit_code == 0, res.output
    assert "5 municipalities (3 rural)" in " ".join(res.output.split())
    doc = json.loads(run("info", tiny_dir, "--format", "json").output)
    assert doc["totals"]["firms"] == 9.0
    # ict has an operator without capacity: unlimited, which strict JSON writes as null.
    ict = next(s for s in doc["strongholds"] if s["stronghold_id"] == "ict")
    assert ict["competent_capacity"] is None
    # The island's food firm has no competent operator within 60 minutes (ferry 90 + 0).
    assert [(p["municipality_id"], p["stronghold_id"]) for p in doc["far_places"]] == [
        ("0900", "food")]
    assert doc["layers"] == []  # no kinds table


def test_info_shows_service_layers(tmp_path):
    data = tmp_path / "layered"
    write_tables(layered_tables(), data)
    res = run("info", data)
    assert res.exit_code == 0 and "Service layers" in res.output
    doc = json.loads(run("info", data, "--format", "json").output)
    layers = {r["kind"]: r for r in doc["layers"]}
    # Two councils (200 + 300 a year) for every firm (weight 9); the væksthus for the three
    # growth firms; the two cluster organisations for the members (weight 8).
    assert layers["local_service"]["operators"] == 2
    assert layers["local_service"]["annual_cost"] == 500 and layers["local_service"][
        "firms_to_serve"] == 9
    assert layers["vaeksthus"]["firms_to_serve"] == 3
    assert layers["cluster_organisation"]["firms_to_serve"] == 8
    assert layers["gts_institute"]["in_scope"] is False


def test_solve_writes_checked_result(tmp_path, tiny_dir):
    sc = scenario_file(tmp_path, tiny_dir, "[policy]\nmax_travel_minutes = 100\n")
    out = tmp_path / "out"
    res = run("solve", sc, "--out", out)
    assert res.exit_code == 0, res.output
    assert "independent check: all constraints and cost terms verified" in res.output
    assert {p.name for p in out.iterdir()} == {".klynge-opt.json", "summary.json",
                                               "scenario.toml", "operators.csv",
                                               "clusters.csv", "assignments.csv",
                                               "coverage_by_municipality.csv",
                                               "by_region.csv", "by_stronghold.csv"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "optimal" and summary["check"]["ok"]
    assert summary["data"] == str(tiny_dir.resolve())
    assert len(pd.read_csv(out / "assignments.csv")) == 8
    res = run("check", out)
    assert res.exit_code == 0, res.output
    assert "OK" in res.output


def test_layered_data_solves_and_checks_from_files(tmp_path):
    data = tmp_path / "layered"
    write_tables(layered_tables(), data)
    out = tmp_path / "out"
    res = run("solve", scenario_file(tmp_path, data, "[policy]\nmax_travel_minutes = 100\n"),
              "--out", out)
    assert res.exit_code == 0, res.output
    assert "coverage by service" in res.output and "[effect] rates" in res.output
    assert "of the in-scope part" in res.output
    a = pd.read_csv(out / "assignments.csv", dtype=str, keep_default_na=False)
    assert a.groupby("service").size().to_dict() == {"cluster": 7, "guidance": 3, "local": 8}
    assert run("check", out).exit_code == 0
    # A member moved into an unselected cluster is caught from the files.
    a.loc[(a["firm_id"] == "F05") & (a["service"] == "cluster"), ["operator_id", "cluster_id"]] \
        = ["O3", "C3"]
    a.to_csv(out / "assignments.csv", index=False)
    res = run("check", out)
    assert res.exit_code == 1 and "cluster_service.cluster" in res.output


def test_check_detects_tampering(tmp_path, tiny_dir):
    out = tmp_path / "out"
    assert run("solve", scenario_file(tmp_path, tiny_dir), "--out", out).exit_code == 0
    ops = pd.read_csv(out / "operators.csv", dtype=str, keep_default_na=False)
    ops["kept"] = "False"  # close everything, hosts included
    ops.to_csv(out / "operators.csv", index=False)
    res = run("check", out)
    assert res.exit_code == 1
    assert "host_retained" in res.output


def test_infeasible_exit_3(tmp_path, tiny_dir):
    # Hard coverage within 30 minutes: the island's firm (ferry 90 min) cannot be served.
    sc = scenario_file(tmp_path, tiny_dir, "[policy]\nmax_travel_minutes = 30\n")
    out = tmp_path / "out"
    res = run("solve", sc, "--out", out)
    assert res.exit_code == 3, res.output
    assert "infeasible" in res.output
    assert json.loads((out / "summary.json").read_text())["status"] == "infeasible"
    assert not (out / "operators.csv").exists()


def test_bad_scenario_exit_2_all_keys_named(tmp_path, tiny_dir):
    sc = scenario_file(tmp_path, tiny_dir,
                       "[policy]\nmax_operator = 3\ncoverage = 'partial'\n[costs]\n"
                       "horizon_years = -1\n")
    out = tmp_path / "out"
    res = run("solve", sc, "--out", out)
    assert res.exit_code == 2
    assert "policy.max_operator" in res.output and "did you mean 'max_operators'" in res.output
    assert "policy.coverage" in res.output and "costs.horizon_years" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_unknown_operator_in_keep_is_an_input_error(tmp_path, tiny_dir):
    sc = scenario_file(tmp_path, tiny_dir, "[policy]\nkeep = ['O1', 'O9']\n")
    res = run("solve", sc, "--out", tmp_path / "out")
    assert res.exit_code == 2
    assert "policy.keep" in res.output and "O9" in res.output


def test_failed_write_leaves_previous_result(tmp_path, tiny_dir, monkeypatch):
    out = tmp_path / "out"
    assert run("solve", scenario_file(tmp_path, tiny_dir), "--out", out).exit_code == 0
    before = (out / "summary.json").read_text()

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(OutputError, match="disk full"):
        from klynge_opt import solve, write_result
        write_result(solve(tiny_dir, None), out)
    assert (out / "summary.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_generate_synthetic_is_valid(tmp_path):
    out = tmp_path / "syn"
    res = run("generate", "synthetic", "--out", out, "--municipalities", "12", "--operators",
              "8", "--clusters", "5", "--strongholds", "3", "--regions", "2", "--firms", "300")
    assert res.exit_code == 0, res.output
    assert run("validate", out).exit_code == 0


def test_scenario_show_resolves_inheritance():
    from conftest import ROOT

    res = run("scenario", "show", ROOT / "scenarios" / "paper-2017.toml")
    assert res.exit_code == 0 and "inherits from" in res.output
    assert "min_members_per_cluster = 300.0" in res.output
    # inherited from common.toml:
    assert "allow_mergers = true" in res.output


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (typer may vendor its own click)
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def test_help_teaches_every_command_and_option():
    import typer.main

    root = typer.main.get_command(app)
    assert "Exit codes" in (root.epilog or "")
    seen = 0
    for path, command in _commands(root):
        seen += 1
        assert "Example: klynge-opt " + " ".join(path) in (command.help or ""), path
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert (param.help or "").strip(), (path, param.name)
    assert seen == 17  # with batch, results and robustness


def test_closed_pipe_loses_no_result_and_prints_no_traceback(tmp_path, tiny_dir):
    import os

    out = tmp_path / "out"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is printed (`| head` at worst)
    try:
        proc = subprocess.run([sys.executable, "-m", "klynge_opt", "solve",
                               str(scenario_file(tmp_path, tiny_dir)), "--out", str(out)],
                              stdout=write_end, stderr=subprocess.PIPE, check=False,
                              timeout=120)
    finally:
        os.close(write_end)
    assert "Traceback" not in proc.stderr.decode()
    assert (out / "summary.json").is_file() and (out / "operators.csv").is_file()
