"""``solver.linking = "auto"`` (the default) chooses the linking form per instance.

The rule (:func:`klynge_opt.model.formulation.choose_linking`, docs/model.md): ``aggregated``
when there are more than AGGREGATE_ABOVE_PAIRS guidance pairs *and* capacities bound at least
CAPACITY_BOUND_SHARE of the aggregated rows, else ``pair``. The expected choices below are
worked out from the raw instance (capacities against total demand), not from the model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from klynge_opt.api import open_session, solve
from klynge_opt.data import orlib
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.model import formulation
from klynge_opt.model.formulation import choose_linking


def _session(tables: dict, settings: dict, linking: str = "auto"):
    sc = Scenario().with_updates(settings).with_updates(
        {"name": "linking", "solver": {"mip_gap": 0.0, "linking": linking}})
    return open_session(from_tables(tables), sc)


@pytest.fixture(scope="module")
def cap41(root: Path) -> orlib.CapInstance:
    # 16 warehouses x 50 customers, every capacity (5,000) below the total demand (58,268):
    # every aggregated row is bound by its capacity.
    return orlib.read_cap(root / "cap" / "cap41.txt")


@pytest.fixture(scope="module")
def cap71(root: Path) -> orlib.CapInstance:
    # Capacity equal to total demand: no row is bound by capacity.
    return orlib.read_cap(root / "cap" / "cap71.txt")


def test_instances_are_what_the_comments_say(cap41: orlib.CapInstance,
                                             cap71: orlib.CapInstance) -> None:
    total = sum(cap41.demands)
    assert all(c < total for c in cap41.capacities)
    assert all(c >= sum(cap71.demands) for c in cap71.capacities)


def test_small_instances_keep_pair(cap41: orlib.CapInstance) -> None:
    # 800 pairs: far below the threshold whatever the capacities say.
    s = _session(orlib.cap_tables(cap41), orlib.cap_scenario())
    assert len(s.inputs.pairs) == 16 * 50
    assert choose_linking(s.inputs, s.scenario) == "pair"


def test_large_capacity_bound_instances_aggregate(cap41: orlib.CapInstance,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    s = _session(orlib.cap_tables(cap41), orlib.cap_scenario())
    n = len(s.inputs.pairs)
    # "More than" the threshold: at it, pair; one below it, aggregated.
    monkeypatch.setattr(formulation, "AGGREGATE_ABOVE_PAIRS", n)
    assert choose_linking(s.inputs, s.scenario) == "pair"
    monkeypatch.setattr(formulation, "AGGREGATE_ABOVE_PAIRS", n - 1)
    assert choose_linking(s.inputs, s.scenario) == "aggregated"
    # Every row is capacity-bound (share 1.0): a required share above 1 keeps pair.
    monkeypatch.setattr(formulation, "CAPACITY_BOUND_SHARE", 1.0)
    assert choose_linking(s.inputs, s.scenario) == "aggregated"
    monkeypatch.setattr(formulation, "CAPACITY_BOUND_SHARE", 1.01)
    assert choose_linking(s.inputs, s.scenario) == "pair"


def test_uncapacitated_instances_keep_pair_at_any_size(cap71: orlib.CapInstance,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # The p-median / uncapacitated case: M_os is all the operator reaches, aggregated is weak.
    monkeypatch.setattr(formulation, "AGGREGATE_ABOVE_PAIRS", 0)
    s = _session(orlib.cap_tables(cap71), orlib.cap_scenario())
    assert choose_linking(s.inputs, s.scenario) == "pair"


def test_explicit_setting_wins(cap41: orlib.CapInstance,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(formulation, "AGGREGATE_ABOVE_PAIRS", 0)
    for linking in ("pair", "aggregated"):
        s = _session(orlib.cap_tables(cap41), orlib.cap_scenario(), linking)
        assert choose_linking(s.inputs, s.scenario) == linking


def test_the_model_and_summary_follow_the_choice(cap41: orlib.CapInstance,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The built rows are those of the chosen form (one per pair, or one per warehouse: cap
    # instances have one stronghold), the summary says which, and both reach the optimum.
    optimum = 1040444.375  # capopt.txt, cap41
    for threshold, form, rows in ((10**9, "pair", 16 * 50), (0, "aggregated", 16)):
        monkeypatch.setattr(formulation, "AGGREGATE_ABOVE_PAIRS", threshold)
        s = _session(orlib.cap_tables(cap41), orlib.cap_scenario())
        assert len(s.model.assign_needs_service) == rows
        result = solve(from_tables(orlib.cap_tables(cap41)), s.scenario)
        assert result.summary["linking"] == form
        assert result.facts.objective == pytest.approx(optimum, rel=1e-6)


def test_danish_reform_resolves_to_pair() -> None:
    # 3,028 guidance pairs: pair, which proved it fastest (docs/model.md).
    s = open_session(None, Path(__file__).parents[1] / "scenarios" / "paper-2017.toml")
    assert s.scenario.solver.linking == "auto"
    assert len(s.inputs.pairs) < formulation.AGGREGATE_ABOVE_PAIRS
    assert s.model._linking == "pair"
