"""Binary assignments relaxed to [0, 1] where nothing couples the groups (docs/model.md,
"Integral assignments"): the same optimum, whole assignments in every plan, binaries back
wherever a row or objective ties groups together."""

from __future__ import annotations

import itertools
from typing import Any

import pyomo.environ as pyo
import pytest

from conftest import layered_tables, tiny_tables
from klynge_opt.api import open_session, run, solve
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.model import formulation
from klynge_opt.model.solver import solve as run_solver
from klynge_opt.model.solver import whole_assignments


def _uncapacitated(layers: bool = False) -> dict:
    tables = layered_tables() if layers else tiny_tables()
    tables["operators"]["capacity"] = None
    return tables


#: Scenarios without a coupling row, on the uncapacitated tiny landscape.
UNCOUPLED: dict[str, tuple[bool, dict[str, Any]]] = {
    "hard coverage": (False, {}),
    "one operator": (False, {"policy": {"max_operators": 1}}),
    "soft coverage, cheap penalty": (False, {"policy": {"coverage": "soft",
                                                        "coverage_target": 0},
                                             "costs": {"unserved_penalty_per_firm": 50}}),
    "radius and aggregated linking": (False, {"policy": {"max_travel_minutes": 100},
                                              "solver": {"linking": "aggregated"}}),
    "service layers": (True, {}),
    "service layers, soft local service": (True, {"policy": {"local": {"coverage": "soft"}}}),
}


def _values(m: pyo.ConcreteModel) -> list[float]:
    return [v.value or 0.0 for group in formulation.assignment_choices(m) for v in group]


@pytest.mark.parametrize("name", list(UNCOUPLED))
def test_relaxed_assignments_keep_the_binary_optimum(name):
    layers, updates = UNCOUPLED[name]
    sc = Scenario().with_updates(updates)
    relaxed = open_session(from_tables(_uncapacitated(layers)), sc)
    assert relaxed.model._assignments_relaxed
    assert all(v.domain is pyo.UnitInterval for v in relaxed.model.x.values())
    result = run(relaxed)
    assert result.status == "optimal" and result.facts.check.ok
    assert set(_values(relaxed.model)) <= {0.0, 1.0}

    binary = open_session(from_tables(_uncapacitated(layers)), sc)
    formulation.restore_integrality(binary.model)
    assert all(v.domain is pyo.Binary for v in binary.model.x.values())
    reference = run(binary)
    assert result.objective == pytest.approx(reference.objective, rel=1e-9)


@pytest.mark.parametrize("updates", [
    {"policy": {"allow_split": True}},  # already continuous: nothing to relax
    {"policy": {"min_firms_per_node": 1}},  # critical mass couples groups
    {"objective": {"sense": "max_effect"}, "policy": {"annual_budget": 1e9}},
])
def test_binaries_stay_where_relaxing_could_split_firms(updates):
    session = open_session(from_tables(_uncapacitated()), Scenario().with_updates(updates))
    assert not getattr(session.model, "_assignments_relaxed", False)


def test_capacity_keeps_binaries():
    session = open_session(from_tables(tiny_tables()), Scenario())
    assert not getattr(session.model, "_assignments_relaxed", False)
    assert all(v.domain is pyo.Binary for v in session.model.x.values())


def _split_session(updates: dict[str, Any]) -> tuple[Any, Any]:
    """Every operator kept, so each food group has two open providers to split between."""
    sc = Scenario().with_updates({"policy": {"keep": ["O1", "O2", "O3"]}}).with_updates(updates)
    session = open_session(from_tables(_uncapacitated()), sc)
    _, solver = run_solver(session.model, sc.solver)
    return session, solver


def _pair_cost(session: Any, g: str, o: str) -> float:
    """The pair's objective coefficient, from the inputs (not from the model or HiGHS)."""
    costs = session.scenario.costs
    pairs = session.inputs.pairs.set_index(["group_id", "operator_id"])
    q = session.inputs.groups.at[g, "weight"]
    return (costs.horizon_years * costs.cost_per_firm_minute * q * pairs.at[(g, o), "minutes"]
            + costs.disruption_cost_per_firm * pairs.at[(g, o), "disrupted"])


def test_a_split_group_goes_whole_to_its_cheapest_provider():
    session, solver = _split_session({})
    m = session.model
    split = 0
    for g in m.G:
        ops = m._pairs_of_group.get(g, [])
        for a, b in itertools.combinations(ops, 2):
            for o in ops:
                m.x[g, o].set_value(0.0)
            m.x[g, a].set_value(0.4)
            m.x[g, b].set_value(0.6)
            whole_assignments(m, solver)
            # A tie goes to the larger share (b).
            cheaper = min((a, b), key=lambda o: (_pair_cost(session, g, o), o != b))
            assert m.x[g, cheaper].value == 1.0
            assert sum(m.x[g, o].value for o in ops) == 1.0
            split += 1
    assert split >= 3


def test_a_split_between_service_and_none_takes_the_cheaper():
    session, solver = _split_session({"policy": {"coverage": "soft", "coverage_target": 0},
                                      "costs": {"unserved_penalty_per_firm": 1.0}})
    m = session.model
    g = next(g for g in m.G if m._pairs_of_group.get(g))
    o = m._pairs_of_group[g][0]
    for p in m._pairs_of_group[g]:
        m.x[g, p].set_value(0.0)
    m.x[g, o].set_value(0.5)
    m.u[g].set_value(0.5)
    whole_assignments(m, solver)
    penalty = (session.inputs.groups.at[g, "penalty_weight"]
               * session.inputs.groups.at[g, "weight"] * 1.0)
    served = _pair_cost(session, g, o) < penalty
    assert (m.x[g, o].value, m.u[g].value) == ((1.0, 0.0) if served else (0.0, 1.0))


def test_fewest_changes_solves_with_binaries():
    sc = Scenario().with_updates({"objective": {"secondary": "fewest_changes"}})
    result = solve(from_tables(_uncapacitated()), sc)
    assert result.status == "optimal" and result.facts.check.ok
    session = open_session(from_tables(_uncapacitated()), sc)
    assert session.model._assignments_relaxed
    from klynge_opt import api

    first = run(session)
    api._fewest_changes(session, first, tee=False, verify=True, progress=None)
    assert not session.model._assignments_relaxed
    assert all(v.domain is pyo.Binary for v in session.model.x.values())
