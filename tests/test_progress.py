"""Progress of long work: steps of every study, the solver's running gap, and the CLI's bar."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from conftest import tiny_tables
from klynge_opt import cli, from_tables
from klynge_opt.api import solve
from klynge_opt.data.loading import write_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.progress import Event, Gap, Step, gaps_only
from klynge_opt.studies.alternatives import alternatives
from klynge_opt.studies.compare import compare
from klynge_opt.studies.price import price

TRAVEL_100 = {"policy": {"max_travel_minutes": 100}}


def _steps(events: list[Event]) -> list[tuple[str, str, int, int | None]]:
    return [(e.study, e.label, e.done, e.total) for e in events if isinstance(e, Step)]


def test_the_solver_reports_its_gap_while_it_runs() -> None:
    events: list[Event] = []
    result = solve(from_tables(tiny_tables()), Scenario(), progress=events.append)
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps and len(gaps) == len(events)  # a single solve has no steps
    seconds = [g.seconds for g in gaps]
    assert seconds == sorted(seconds) and seconds[-1] <= result.facts.timings.solve
    # The last report is the proven optimum's gap.
    assert result.status == "optimal" and gaps[-1].gap == pytest.approx(0.0, abs=1e-9)


def test_price_reports_the_scenario_then_each_policy() -> None:
    events: list[Event] = []
    sc = Scenario().with_updates({"policy": {"max_travel_minutes": 100, "max_operators": 2}})
    study = price(sc, dataset=from_tables(tiny_tables()), progress=events.append)
    n = len(study.table) + 1
    labels = ["", sc.name] + [f"without {p}" for p in study.table["policy"]]
    assert _steps(events) == [("price", label, i, n) for i, label in enumerate(labels)]
    # Every solve between two steps reports its gap.
    assert sum(isinstance(e, Gap) for e in events) >= n


def test_alternatives_report_each_plan_sought() -> None:
    events: list[Event] = []
    study = alternatives(Scenario(solver={"mip_gap": 0.0}), 2,
                         dataset=from_tables(tiny_tables()), progress=events.append)
    assert len(study.plans) == 2
    assert _steps(events) == [("alternatives", "", 0, 2),
                              ("alternatives", "plan 1", 1, 2), ("alternatives", "plan 2", 2, 2)]


def test_compare_reports_each_scenario(tmp_path) -> None:
    data = write_tables(tiny_tables(), tmp_path / "tiny")
    scenarios = [Scenario(name=n, data=str(data)).with_updates(
        {"policy": {"max_travel_minutes": radius}}) for n, radius in (("first", 100),
                                                                     ("second", 120))]
    events: list[Event] = []
    compare(scenarios, tmp_path / "cmp", progress=events.append)
    assert _steps(events) == [("compare", "", 0, 2), ("compare", "first", 1, 2),
                              ("compare", "second", 2, 2)]


def test_the_diagnosis_counts_its_trials() -> None:
    # A 60-minute radius leaves the island firm without service (conftest): infeasible.
    events: list[Event] = []
    result = solve(from_tables(tiny_tables()), Scenario().with_updates(
        {"policy": {"max_travel_minutes": 60}}), diagnose=True, progress=events.append)
    assert result.status == "infeasible" and result.diagnosis is not None
    trials = _steps(events)
    assert trials, "the diagnosis tried nothing"
    assert trials == [("diagnosis", f"trial {i}", i, None) for i in range(1, len(trials) + 1)]


def test_gaps_only_drops_nested_steps() -> None:
    seen: list[Event] = []
    forward = gaps_only(seen.append)
    assert forward is not None and gaps_only(None) is None
    forward(Step("diagnosis", "trial 1", 0, None))
    forward(Gap(1.0, 0.5))
    assert seen == [Gap(1.0, 0.5)]


def test_the_cli_bar_shows_step_label_and_gap_on_a_terminal(monkeypatch) -> None:
    tty = io.StringIO()
    monkeypatch.setattr(cli, "err_console", Console(file=tty, force_terminal=True, width=140))
    with cli._progress("sweep") as show:
        assert show is not None
        # A name from a file is never markup: "[/bold]" would break rich, "[red]" vanish.
        show(Step("sweep", "[/bold][red]x = 60", 2, 4))
        show(Gap(3.0, 0.0153))
    screen = tty.getvalue()
    assert "2/4" in screen and "[/bold][red]x = 60" in screen and "gap 1.53%" in screen
    assert "failed" not in screen  # no failures, no word about them
    with cli._progress("batch") as show:
        assert show is not None
        show(Step("batch", "x = 90", 3, 4, failed=1))
    assert "3/4" in tty.getvalue() and "1 failed" in tty.getvalue()


@pytest.mark.parametrize("quiet, terminal", [(True, True), (False, False)])
def test_the_cli_is_quiet_with_quiet_or_without_a_terminal(monkeypatch, quiet: bool,
                                                          terminal: bool) -> None:
    out = io.StringIO()
    monkeypatch.setattr(cli, "err_console", Console(file=out, force_terminal=terminal))
    with cli._progress("sweep", quiet) as show:
        assert show is None
    assert out.getvalue() == ""
