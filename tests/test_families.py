"""The registry of constraint families (``klynge_opt.model.families``) keeps every consumer in step.

In the spirit of Calliope's ``test_all_math_registered``: a family added to the model, the
checker, the diagnosis, ``price`` or ``docs/model.md`` but not to the registry (or the other way
round) fails here by name. Each family also has a binding test: on the tiny landscape, under a
scenario where it matters, removing the family's rows lowers the optimum (or turns an
infeasible scenario feasible); a valid inequality instead leaves the optimum alone.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pyomo.environ as pyo
import pytest

import test_check
from conftest import ROOT, layered_tables, second_food_cluster_of_o1, tiny_tables
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.model import diagnosis
from klynge_opt.model import formulation as model
from klynge_opt.model.families import BY_NAME, FAMILIES, FAMILY_OF, relaxations
from klynge_opt.model.landscape import build_landscape
from klynge_opt.model.solver import solve
from klynge_opt.results import check
from klynge_opt.studies.price import RELAXATIONS
from test_golden_lp import SCENARIOS as GOLDEN_SCENARIOS

CHECKABLE = [f.name for f in FAMILIES if not f.implied]


def _built(updates: dict[str, Any] | Scenario, edit: Callable[[dict], None] | None = None,
           ) -> tuple[Any, Scenario, pyo.ConcreteModel]:
    tables = tiny_tables()
    if edit is not None:
        edit(tables)
    sc = updates if isinstance(updates, Scenario) else Scenario().with_updates(updates)
    inputs = model.prepare(build_landscape(from_tables(tables)), sc)
    return inputs, sc, model.build_model(inputs, sc)


def test_every_active_constraint_belongs_to_a_family():
    components = {c for f in FAMILIES for c in f.components}
    for name, updates in GOLDEN_SCENARIOS.items():
        _, _, m = _built(updates, lambda t: t["operators"].__setitem__(
            "capacity", [4.0, None, 6.0]))
        active = {c.local_name for c in m.component_objects(pyo.Constraint, active=True)}
        assert active <= components, f"{name}: unregistered {sorted(active - components)}"


def test_every_family_that_enters_the_model_has_its_builder():
    enters = {f.name for f in FAMILIES if f.form != "index"}
    assert set(model.BUILDERS) == enters
    for name, builder in model.BUILDERS.items():
        assert builder.__name__ == name, f"{name} is built by {builder.__name__}"
        assert builder.__doc__, f"builder {name} has no docstring"


def test_policy_families_can_be_priced_relaxed_and_repaired():
    for f in FAMILIES:
        if f.structural:
            continue
        assert f.relaxations, f"{f.name}: a policy without a relaxation for price"
        assert f.remedies, f"{f.name}: no remedy the diagnosis can suggest"
        assert f.policy_keys, f"{f.name}: no policy key switches it on"
        if f.form != "index":
            assert f.elastic_weight is not None, f"{f.name}: no elastic weight"


def test_policy_keys_are_scenario_keys():
    fields = set(type(Scenario().policy).model_fields)
    for f in FAMILIES:
        assert set(f.policy_keys) <= fields, f"{f.name}: {set(f.policy_keys) - fields}"


def test_elastic_families_word_every_slack():
    for f in FAMILIES:
        assert set(f.messages) <= set(f.components) | {f.name}, f.name
        if f.elastic_weight is not None:
            named = set(f.components) if f.form == "rows" else {f.name}
            assert named <= set(f.messages), f"{f.name}: no message for {named - set(f.messages)}"


def test_remedies_are_implemented_and_used():
    used = {r for f in FAMILIES for r in f.remedies}
    assert used == set(diagnosis.REMEDIES), (used ^ set(diagnosis.REMEDIES))


def test_price_reads_the_registry():
    assert relaxations() == RELAXATIONS
    labels = [r.policy for r in RELAXATIONS]
    assert len(labels) == len(set(labels))


def test_docs_model_names_every_family():
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    bold = set(re.findall(r"\*\*(\w+)\*\*", text))
    for f in FAMILIES:
        assert f.name in bold, f"docs/model.md has no **{f.name}** entry"
        for c in f.components:
            assert c in bold or c == f.name, f"docs/model.md does not name component {c}"


def test_checker_has_one_rule_per_family():
    assert list(check.RULES) == CHECKABLE
    for name in CHECKABLE:
        assert check.RULES[name].__name__ == name
        assert tuple(check.RULE_VIOLATIONS[name]) == BY_NAME[name].checks, name
    assert all(FAMILY_OF[v] == f.name for f in FAMILIES for v in f.checks)


def test_every_checker_rule_has_a_violation_test():
    assert set(test_check.VIOLATIONS_TESTED) >= set(CHECKABLE), \
        sorted(set(CHECKABLE) - set(test_check.VIOLATIONS_TESTED))


# --------------------------------------------------------------------------- binding

#: Operating costs dominate: the optimum keeps as few operators as it can (O1 + O3).
_CHEAP_TRAVEL = {"costs": {"cost_per_firm_minute": 1.0, "disruption_cost_per_firm": 0.0}}


def _with(extra: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    out = copy.deepcopy(_CHEAP_TRAVEL if base is None else base)
    for key, value in extra.items():
        out.setdefault(key, {}).update(value)
    return out


def _o3_unlimited(tables: dict) -> None:
    tables["operators"].loc[2, "capacity"] = 20.0


def _layers(tables: dict) -> None:
    """The tiny landscape with service layers (conftest.layered_tables)."""
    tables.clear()
    tables.update(layered_tables())


def _c1_capacity(tables: dict) -> None:
    _layers(tables)
    tables["clusters"]["capacity"] = [4.0, None, None]  # C1 would serve 5 members


def _c3_food_at_o1(tables: dict) -> None:
    """The layered landscape with C1 and C3 both food clusters hosted by O1."""
    _layers(tables)
    second_food_cluster_of_o1(tables)


#: Per family: a scenario (and data edit) on the tiny landscape under which it binds.
BINDING: dict[str, tuple[dict[str, Any], Callable[[dict], None] | None]] = {
    "one_cluster_per_stronghold": (_with({"policy": {"clusters_per_stronghold": 2}}), None),
    "cluster_admissibility": (_with({"policy": {"clusters_per_stronghold": 2,
                                                "min_cluster_budget": 2e6}}), None),
    "host_retained": (_with({"policy": {"clusters_per_stronghold": 2}}), None),
    # With mergers the relaxation selects C1 and C3 by halves and pays half of O1.
    "clusters_per_host": ({"policy": {"allow_mergers": True}}, _c3_food_at_o1),
    "serve_needs_operator": ({}, None),
    "radius": (_with({"policy": {"max_travel_minutes": 60}}), None),
    "assignment": ({}, None),
    "capacity": (_CHEAP_TRAVEL, None),
    "stronghold_capacity": (_CHEAP_TRAVEL, None),
    # O1 (10) and O3 (6) at half their capacity take 8 of the 9 firms: O2 must open.
    "max_utilisation": (_with({"policy": {"max_utilisation": 0.5}}), None),
    "critical_mass": (_with({"policy": {"min_firms_per_node": 4}}), None),
    "coverage": ({"policy": {"coverage": "soft", "coverage_target": 0.9},
                  "costs": {"unserved_penalty_per_firm": 1}}, None),
    "rural_parity": (_with({"policy": {"coverage": "soft", "coverage_target": 0,
                                       "rural_parity": True},
                            "costs": {"unserved_penalty_per_firm": 300}}), None),
    # A penalty of 1 DKK leaves the island (90 minutes from O1) unserved; the floor forbids it.
    "coverage_floors": (_with({"policy": {"coverage": "soft", "coverage_target": 0,
                                          "min_coverage_per_municipality": 1.0},
                               "costs": {"unserved_penalty_per_firm": 1}}), None),
    "regional_presence": (_with({"policy": {"min_operators_per_region": 1}}), _o3_unlimited),
    "operator_count": ({"policy": {"max_operators": 2}}, None),
    "forced": (_with({"policy": {"keep": ["O2"]}}), None),
    "annual_budget": ({"policy": {"annual_budget": 2500}}, None),
    # C3 (food and ict) may count for one only: a second cluster must join, at 100 a year.
    "max_strongholds_per_cluster": ({**_CHEAP_TRAVEL, "policy": {
        "max_strongholds_per_cluster": 1}}, lambda t: t["clusters"].__setitem__(
            "annual_cost", [100.0, 100.0, 0.0])),
    # C3 alone must then serve both strongholds' members: O3's capacity (6) leaves members
    # without a cluster.
    "forced_clusters": ({"policy": {"keep_clusters": ["C3"]}}, _layers),
    # Unfixed, the out-of-scope G1 (5000 a year, nothing to serve) would close.
    "outside_scope": ({}, _layers),
    "local_service": ({}, _layers),
    # The island is 90 minutes from L1.
    "local_radius": ({"policy": {"local": {"max_travel_minutes": 60}}}, _layers),
    "cluster_service": ({}, _layers),
    "cluster_radius": ({"policy": {"cluster": {"max_travel_minutes": 60}}}, _layers),
    "cluster_capacity": ({}, _c1_capacity),
    # Unconstrained, every moved member would count as relieved by some merger.
    "mergers": ({"policy": {"allow_mergers": True}}, _layers),
    # C2 can have 3 members at most, C3 alone at most 3 within O3's capacity: infeasible.
    "min_members_per_cluster": ({"policy": {"min_members_per_cluster": 4}}, _layers),
}


def _solve(m: pyo.ConcreteModel, sc: Scenario) -> float | None:
    report, _ = solve(m, sc.solver)
    return report.objective if report.has_solution else None


@pytest.mark.parametrize("name", [f.name for f in FAMILIES])
def test_family_binds(name):
    family = BY_NAME[name]
    updates, edit = BINDING[name]
    inputs, sc, m = _built(updates, edit)
    with_it = _solve(m, sc)
    if family.form == "index":
        # Not rows: relax it through the scenario as price does.
        (relax,) = family.relaxations
        without_sc = sc.with_updates(relax.updates(sc.policy, ()))
        _, _, m2 = _built(without_sc, edit)
        without = _solve(m2, without_sc)
    else:
        m2 = model.build_model(inputs, sc)
        present = [c for c in family.components if hasattr(m2, c)]
        assert present or family.form == "fixing", f"{name}: no rows under its binding scenario"
        for c in present:
            getattr(m2, c).deactivate()
        if family.form == "fixing":
            fixed = [v for v in (*m2.z.values(), *m2.y.values()) if v.fixed]
            assert fixed, f"{name}: nothing fixed"
            for v in fixed:
                v.unfix()
        without = _solve(m2, sc)
    assert without is not None, f"{name}: removing it made the scenario infeasible"
    if family.implied:
        assert with_it == pytest.approx(without, rel=1e-6), f"{name}: not a valid inequality"
    else:
        assert with_it is None or with_it > without * (1 + 1e-3), (
            f"{name}: does not bind ({with_it} with, {without} without)")


def _relaxation_bound(m: pyo.ConcreteModel) -> float:
    """The LP relaxation's optimum of ``m`` (every integer column made continuous)."""
    from klynge_opt.model.solver import _lp
    from test_warm_start import _relaxation_bound as lp_bound

    return float(lp_bound(_lp(m)[0]))


def test_clusters_per_host_lifts_the_relaxation():
    # The valid inequality is there for the relaxation: under its binding scenario the LP
    # bound with its row is strictly above the bound without it (the optimum stays, above).
    # Without it the relaxation selects C1 and C3 by halves, each merging into the other by
    # the other half, and keeps their host O1 by half; the row makes it keep O1 whole.
    name = "clusters_per_host"
    updates, edit = BINDING[name]
    _, _, m = _built(updates, edit)
    with_it = _relaxation_bound(m)
    for c in BY_NAME[name].components:
        if hasattr(m, c):
            getattr(m, c).deactivate()
    without = _relaxation_bound(m)
    assert with_it > without + 1e-6, f"{name}: relaxation {with_it} with, {without} without"


def test_clusters_per_host_only_where_the_count_is_exact():
    # Under "at_least" a host may well run two clusters of one stronghold: the row would cut
    # off such plans.
    updates, edit = BINDING["clusters_per_host"]
    at_least = copy.deepcopy(updates)
    at_least["policy"]["cluster_rule"] = "at_least"
    _, _, m = _built(at_least, edit)
    assert not hasattr(m, "clusters_per_host")
    _, _, exact = _built(updates, edit)
    assert len(exact.clusters_per_host) == 1


# --------------------------------------------------------------------------- coupling

#: Variables that belong to one demand group, by the group space they index.
_GROUP_VARS = {"x": "x", "u": "x", "xl": "xl", "ul": "xl", "w": "w", "uc": "w", "delta": "w"}


def _cost_per_firm(tables: dict) -> None:
    tables["operators"]["cost_per_firm"] = [5.0, 5.0, 5.0]


#: Where the binding scenario has no row that shows the coupling.
_COUPLING_CASES: dict[str, tuple[dict[str, Any], Callable[[dict], None] | None]] = {
    # Without a per-firm cost the budget row holds only y and z.
    "annual_budget": ({"policy": {"annual_budget": 2500}}, _cost_per_firm),
}


def _groups_in(row: Any) -> set[tuple[str, Any]]:
    from pyomo.core.expr.visitor import identify_variables

    out = set()
    for v in identify_variables(row.body):
        space = _GROUP_VARS.get(v.parent_component().local_name)
        if space is not None:
            index = v.index()
            out.add((space, index[0] if isinstance(index, tuple) else index))
    return out


@pytest.mark.parametrize("name", [f.name for f in FAMILIES if f.form == "rows"])
def test_coupling_of_assignments_is_declared(name):
    """A family whose rows hold the assignments of two groups must say so: the model relaxes
    binary assignments only when no such row exists (formulation.relax_assignments). Pair
    linking: the aggregated row sums groups under a big M that never binds once v = 1."""
    family = BY_NAME[name]
    updates, edit = _COUPLING_CASES.get(name, BINDING[name])
    sc = Scenario().with_updates(updates).with_updates({"solver": {"linking": "pair"}})
    _, _, m = _built(sc, edit)
    widest = max((len(_groups_in(row)) for c in family.components if hasattr(m, c)
                  for row in getattr(m, c).values()), default=0)
    if family.couples_assignments:
        assert widest >= 2, f"{name}: declared coupling but no row holds two groups"
    else:
        assert widest <= 1, f"{name}: a row holds {widest} groups' assignments"
