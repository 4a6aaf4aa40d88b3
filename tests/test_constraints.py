"""Each constraint family binds on a small hand-built case and moves the optimum as worked out
by hand.

The cases share one four-place world (explicit travel times, no intra-municipality time) and
unit costs: horizon 1 year, 1 DKK per firm-minute, no disruption cost, so

    objective = Σ annual cost of kept operators + Σ closure cost of closed ones
                + Σ weight x minutes of the assignment + upgrades (+ penalties, soft coverage)

and every expected number below is a short sum written out in a comment. Policy constraints
are compared by solving with and without the policy; structural ones (the rows every model
has) by deactivating their Pyomo block and solving the same model again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyomo.environ as pyo
import pytest

from conftest import tiny_tables
from klynge_opt.api import solve
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import Scenario
from klynge_opt.model.formulation import build_model, prepare
from klynge_opt.model.landscape import build_landscape
from klynge_opt.model.solver import solve as run_solver
from klynge_opt.results.outputs import COST_TERMS
from klynge_opt.results.result import Result

Tables = dict[str, pd.DataFrame]

# --------------------------------------------------------------------------- the world

#: Places: A and B in region R1, C and D in region R2; B and D are rural.
PLACES = {"A": ("R1", False), "B": ("R1", True), "C": ("R2", False), "D": ("R2", True)}
#: Minutes between places (symmetric; 0 inside a place).
MINUTES = {("A", "B"): 10.0, ("A", "C"): 40.0, ("A", "D"): 50.0, ("B", "C"): 30.0,
           ("B", "D"): 40.0, ("C", "D"): 10.0}


@dataclass(frozen=True)
class Op:
    """An operator of the case: where it sits, what it can serve, what it costs."""

    id: str
    place: str
    competence: tuple[str, ...] = ("S1",)
    annual: float = 100.0
    capacity: float | None = None
    closure: float = 0.0


@dataclass(frozen=True)
class Cl:
    """A cluster of the case: host, covered strongholds and critical-mass attributes."""

    id: str
    host: str
    covers: tuple[str, ...] = ("S1",)
    budget: float = 1e6
    label: str = "none"
    upgrade: float | None = None
    partners: int = 0


#: A firm row: (place, stronghold, weight); firms of one place and stronghold form a group.
Firm = tuple[str, str, float]


def world(ops: Sequence[Op], clusters: Sequence[Cl], firms: Sequence[Firm],
          memberships: Sequence[tuple[int, str]] = ()) -> Tables:
    """Tables of the data contract for the given operators, clusters and firms (firm ids are
    F0, F1, ... in order; a membership names a firm by position)."""
    places = list(PLACES)
    # Only strongholds the case uses: every stronghold must be covered by a cluster.
    used = sorted({s for o in ops for s in o.competence} | {f[1] for f in firms}
                  | {s for c in clusters for s in c.covers})
    return {
        "regions": pd.DataFrame({"region_id": ["R1", "R2"], "name": ["One", "Two"]}),
        "municipalities": pd.DataFrame({
            "municipality_id": places, "name": places,
            "region_id": [PLACES[p][0] for p in places],
            "lat": [55.0, 55.1, 55.2, 55.3], "lon": [10.0] * 4,
            "rural": [PLACES[p][1] for p in places], "intra_minutes": [0.0] * 4}),
        "strongholds": pd.DataFrame({"stronghold_id": used, "name": used,
                                     "weight": [STRONGHOLD_WEIGHT[s] for s in used]}),
        "operators": pd.DataFrame({
            "operator_id": [o.id for o in ops], "name": [o.id for o in ops],
            "municipality_id": [o.place for o in ops],
            "annual_cost": [o.annual for o in ops], "capacity": [o.capacity for o in ops],
            "closure_cost": [o.closure for o in ops]}),
        "operator_strongholds": pd.DataFrame(
            [(o.id, s) for o in ops for s in o.competence],
            columns=["operator_id", "stronghold_id"]),
        "clusters": pd.DataFrame({
            "cluster_id": [c.id for c in clusters], "name": [c.id for c in clusters],
            "operator_id": [c.host for c in clusters], "budget": [c.budget for c in clusters],
            "label": [c.label for c in clusters],
            "gold_upgrade_cost": [c.upgrade for c in clusters],
            "knowledge_partners": [c.partners for c in clusters]}),
        "cluster_strongholds": pd.DataFrame(
            [(c.id, s) for c in clusters for s in c.covers],
            columns=["cluster_id", "stronghold_id"]),
        "firms": pd.DataFrame({
            "firm_id": [f"F{i}" for i in range(len(firms))],
            "municipality_id": [f[0] for f in firms], "stronghold_id": [f[1] for f in firms],
            "weight": [f[2] for f in firms]}),
        "memberships": pd.DataFrame([(f"F{i}", c) for i, c in memberships],
                                    columns=["firm_id", "cluster_id"]),
        "travel_times": pd.DataFrame([(a, b, t) for (a, b), t in MINUTES.items()],
                                     columns=["from_id", "to_id", "minutes"]),
    }


#: Priority weights (they multiply the unserved penalty).
STRONGHOLD_WEIGHT = {"S1": 1.0, "S2": 2.0}

UNIT_COSTS = {"horizon_years": 1.0, "cost_per_firm_minute": 1.0,
              "disruption_cost_per_firm": 0.0, "unserved_penalty_per_firm": 0.0}


def scenario(policy: dict[str, Any] | None = None, **costs: float) -> Scenario:
    return Scenario(name="case").with_updates({
        "policy": policy or {}, "costs": {**UNIT_COSTS, **costs},
        "solver": {"mip_gap": 0.0, "threads": 1, "time_limit": 60.0}})


def run(tables: Tables, policy: dict[str, Any] | None = None, **costs: float) -> Result:
    """Solve; a plan, whenever there is one, must pass the independent checker."""
    result = solve(from_tables(tables), scenario(policy, **costs))
    assert result.status in ("optimal", "infeasible"), result.summary
    if result.status == "optimal":
        assert result.summary["check"]["ok"], result.summary["check"]["violations"]
    return result


def optimum(tables: Tables, policy: dict[str, Any] | None = None, **costs: float) -> Result:
    result = run(tables, policy, **costs)
    assert result.status == "optimal", result.summary.get("message")
    return result


def kept(result: Result) -> set[str]:
    ops = result.operators
    return set(ops.loc[ops["kept"], "operator_id"])


def selected(result: Result) -> set[str]:
    cl = result.clusters
    return set(cl.loc[cl["selected"], "cluster_id"])


def served(result: Result, operator: str) -> float:
    ops = result.operators.set_index("operator_id")
    return float(ops.at[operator, "firms_served"])


def objective_without(tables: Tables, families: Sequence[str],
                      policy: dict[str, Any] | None = None,
                      linking: str = "aggregated") -> float | None:
    """The optimum of the same model with some constraint blocks deactivated (None if it
    has no solution): shows that a structural family is what holds the optimum up."""
    sc = scenario(policy).with_updates({"solver": {"linking": linking}})
    inputs = prepare(build_landscape(from_tables(tables)), sc)
    model = build_model(inputs, sc)
    for name in families:
        getattr(model, name).deactivate()
    report, _ = run_solver(model, sc.solver)
    if not report.has_solution:
        return None
    assert report.status == "optimal"
    return sum(float(pyo.value(getattr(model, f"cost_{t}"))) for t in COST_TERMS)


# Operators used throughout: OA sits in A, OC in C, OD in D; S1 competence, 100 DKK a year.
OA, OC, OD = Op("OA", "A"), Op("OC", "C"), Op("OD", "D")


# --------------------------------------------------------------------------- clusters


def far_host_world() -> Tables:
    """The only S1 cluster is hosted by OC, far from the five firms in A."""
    return world([OA, OC], [Cl("KC", "OC")], [("A", "S1", 5.0)])


def test_one_cluster_per_stronghold_requires_the_far_host() -> None:
    tables = far_host_world()
    # n = 0: no cluster needed; OA alone serves the firms in A: 100 + 5 x 0 = 100
    # (OC alone: 100 + 5 x 40 = 300).
    none = optimum(tables, {"clusters_per_stronghold": 0})
    assert none.objective == pytest.approx(100.0)
    assert kept(none) == {"OA"} and selected(none) == set()
    # n = 1: KC must run, so OC stays; OA still serves: 100 + 100 = 200 (< OC alone, 300).
    one = optimum(tables)
    assert one.objective == pytest.approx(200.0)
    assert kept(one) == {"OA", "OC"} and selected(one) == {"KC"}
    assert served(one, "OA") == 5.0 and served(one, "OC") == 0.0
    # n = 2: only one cluster covers S1.
    assert run(tables, {"clusters_per_stronghold": 2}).status == "infeasible"


def test_two_clusters_per_stronghold_keeps_both_hosts() -> None:
    tables = world([OA, OC], [Cl("KA", "OA"), Cl("KC", "OC")], [("A", "S1", 5.0)])
    # n = 1: KA is enough: OA alone, 100.
    one = optimum(tables)
    assert one.objective == pytest.approx(100.0) and selected(one) == {"KA"}
    # n = 2: both clusters, both hosts: 100 + 100 = 200.
    two = optimum(tables, {"clusters_per_stronghold": 2})
    assert two.objective == pytest.approx(200.0)
    assert selected(two) == {"KA", "KC"} and kept(two) == {"OA", "OC"}


def test_a_cluster_counts_for_every_stronghold_it_covers() -> None:
    # KX (host OA) is the only cluster for S2, so it runs, and it covers S1 too: with one
    # cluster per stronghold KC cannot be selected, and OC closes: 100 for OA alone.
    ops = [Op("OA", "A", ("S1", "S2")), OC]
    tables = world(ops, [Cl("KX", "OA", ("S1", "S2")), Cl("KC", "OC")],
                   [("A", "S1", 5.0), ("A", "S2", 1.0)])
    one = optimum(tables)
    assert one.objective == pytest.approx(100.0)
    assert selected(one) == {"KX"} and kept(one) == {"OA"}
    # Two per stronghold: S2 has a single cluster.
    assert run(tables, {"clusters_per_stronghold": 2}).status == "infeasible"


def test_host_retained_and_host_serves_keep_an_idle_host() -> None:
    tables = far_host_world()
    result = optimum(tables)
    ops = result.operators.set_index("operator_id")
    # OC serves no firm but stays, listing S1 in serves (v = 1), because it hosts KC.
    assert bool(ops.at["OC", "kept"]) and ops.at["OC", "serves"] == "S1"
    assert result.objective == pytest.approx(200.0)
    # Without host_retained and host_serves KC runs with its host closed: OA alone, 100.
    # (host_retained alone is implied by host_serves and v <= y, so both must go.)
    assert objective_without(tables, ["host_retained"]) == pytest.approx(200.0)
    assert objective_without(tables, ["host_retained", "host_serves"]) == pytest.approx(100.0)


def test_min_cluster_budget_moves_the_choice_to_the_richer_cluster() -> None:
    tables = world([OA, OC], [Cl("KA", "OA", budget=1e5), Cl("KC", "OC", budget=1e6)],
                   [("A", "S1", 5.0)])
    # Without: KA, OA alone: 100.
    assert optimum(tables).objective == pytest.approx(100.0)
    # KA's budget 1e5 < 5e5: KC must run, OC stays, OA still serves: 200 (OC alone 300).
    result = optimum(tables, {"min_cluster_budget": 5e5})
    assert result.objective == pytest.approx(200.0) and selected(result) == {"KC"}
    admissible = result.clusters.set_index("cluster_id")["admissible"]
    assert not admissible["KA"] and admissible["KC"]


def test_min_knowledge_partners_moves_the_choice() -> None:
    tables = world([OA, OC], [Cl("KA", "OA", partners=0), Cl("KC", "OC", partners=2)],
                   [("A", "S1", 5.0)])
    assert optimum(tables).objective == pytest.approx(100.0)
    # KA has no knowledge partner: KC, as above: 200.
    result = optimum(tables, {"min_knowledge_partners": 1})
    assert result.objective == pytest.approx(200.0) and selected(result) == {"KC"}
    # Nobody has three.
    assert run(tables, {"min_knowledge_partners": 3}).status == "infeasible"


def gold_world(ka_label: str = "silver") -> Tables:
    """KA (host OA) can reach gold for 50; KC (host OC, next to the firms) cannot."""
    return world([OA, OC], [Cl("KA", "OA", label=ka_label, upgrade=50.0),
                            Cl("KC", "OC", label="none", upgrade=None)], [("C", "S1", 5.0)])


def test_require_gold_pays_the_upgrade_and_skips_the_unreachable_cluster() -> None:
    tables = gold_world()
    # Without: KC, OC alone serves the firms in C: 100.
    plain = optimum(tables)
    assert plain.objective == pytest.approx(100.0) and selected(plain) == {"KC"}
    # With: KC cannot reach gold; KA runs, upgraded for 50; OC stays to serve C (else
    # 5 x 40 = 200 travel): 100 + 100 + 50 = 250.
    gold = optimum(tables, {"require_gold": True})
    assert gold.objective == pytest.approx(250.0)
    assert gold.objective_terms["upgrade"] == pytest.approx(50.0)
    cl = gold.clusters.set_index("cluster_id")
    assert bool(cl.at["KA", "selected"]) and cl.at["KA", "label_after"] == "gold"
    assert cl.at["KA", "upgrade_cost_paid"] == pytest.approx(50.0)
    assert not cl.at["KC", "selected"] and not cl.at["KC", "admissible"]


def test_require_gold_costs_nothing_for_a_gold_cluster() -> None:
    # KA is gold already: 100 + 100, no upgrade.
    gold = optimum(gold_world("gold"), {"require_gold": True})
    assert gold.objective == pytest.approx(200.0)
    assert gold.objective_terms["upgrade"] == 0.0


def test_require_gold_without_a_reachable_cluster_is_infeasible() -> None:
    tables = world([OA, OC], [Cl("KC", "OC", label="bronze", upgrade=None)],
                   [("C", "S1", 5.0)])
    assert optimum(tables).objective == pytest.approx(100.0)
    assert run(tables, {"require_gold": True}).status == "infeasible"


# --------------------------------------------------------------------------- service


def two_towns_world() -> Tables:
    """Five firms in A and five in C; only OA hosts a cluster."""
    return world([OA, OC], [Cl("KA", "OA")], [("A", "S1", 5.0), ("C", "S1", 5.0)])


def test_serve_needs_operator_and_assign_needs_service() -> None:
    tables = two_towns_world()
    # OA alone: 100 + 5 x 40 = 300; both: 200 -> 200, each serving its own town.
    result = optimum(tables)
    assert result.objective == pytest.approx(200.0) and kept(result) == {"OA", "OC"}
    # Without v <= y (serve_needs_operator), a closed OC could still serve C: 100. Without
    # x <= v (assign_needs_service) firms could go to OC without it serving S1: 100 too.
    assert objective_without(tables, ["serve_needs_operator"]) == pytest.approx(100.0)
    assert objective_without(tables, ["assign_needs_service"]) == pytest.approx(100.0)


def test_assignment_serves_every_firm_exactly_once() -> None:
    tables = two_towns_world()
    result = optimum(tables)
    a = result.assignments
    assert sorted(a["firm_id"]) == ["F0", "F1"] and (a["share"] == 1.0).all()
    # Without the assignment rows nothing needs serving: OA (KA's host) alone, 100.
    assert objective_without(tables, ["assignment"]) == pytest.approx(100.0)


def capacity_world(capacity: float | None) -> Tables:
    """Five firms of weight 1 in A (one group); OA hosts the cluster with ``capacity``."""
    return world([Op("OA", "A", capacity=capacity), OC], [Cl("KA", "OA")],
                 [("A", "S1", 1.0)] * 5)


def test_capacity_sends_the_whole_group_to_the_far_operator() -> None:
    # Unlimited: OA alone, 100.
    assert optimum(capacity_world(None)).objective == pytest.approx(100.0)
    # Capacity 3 < the group's 5 firms, and a group is assigned whole: all five go to OC,
    # 40 minutes away; OA stays as KA's host: 100 + 100 + 5 x 40 = 400.
    result = optimum(capacity_world(3.0))
    assert result.objective == pytest.approx(400.0)
    assert served(result, "OA") == 0.0 and served(result, "OC") == 5.0
    # The same model without its capacity rows is back at 100 only once the rows implied by
    # capacity go too: the valid inequality stronghold_capacity, and with the
    # aggregated linking the big-M min(cap, reach) = 3 of assign_needs_service, which alone
    # keeps the group of 5 away from OA.
    tables = capacity_world(3.0)
    assert objective_without(tables, ["capacity", "stronghold_capacity"]) == \
        pytest.approx(400.0)
    assert objective_without(tables, ["capacity", "stronghold_capacity"],
                             linking="pair") == pytest.approx(100.0)


def test_capacity_with_split_fills_the_near_operator_first() -> None:
    # Split: OA takes 3, OC 2 at 40 minutes: 200 + 80 = 280.
    result = optimum(capacity_world(3.0), {"allow_split": True})
    assert result.objective == pytest.approx(280.0)
    assert served(result, "OA") == pytest.approx(3.0) and served(result, "OC") == pytest.approx(2.0)
    assert result.operators.set_index("operator_id").at["OA", "utilisation"] == pytest.approx(1.0)


def test_capacity_below_demand_is_infeasible() -> None:
    tables = world([Op("OA", "A", capacity=3.0)], [Cl("KA", "OA")], [("A", "S1", 1.0)] * 5)
    assert run(tables).status == "infeasible"


def test_min_firms_per_operator_closes_the_small_operator() -> None:
    tables = world([OA, OD], [Cl("KA", "OA")], [("A", "S1", 4.0), ("D", "S1", 3.0)])
    # Without: OA alone 100 + 3 x 50 = 250; both 200 -> 200.
    assert optimum(tables).objective == pytest.approx(200.0)
    # Minimum 3: OA 4 and OD 3 both qualify: still 200.
    assert optimum(tables, {"min_firms_per_operator": 3}).objective == pytest.approx(200.0)
    # Minimum 4: 7 firms cannot give two operators 4 each (groups are whole): OD closes and
    # the firms in D travel to OA: 250.
    result = optimum(tables, {"min_firms_per_operator": 4})
    assert result.objective == pytest.approx(250.0) and kept(result) == {"OA"}
    # Minimum 8: more than there are firms.
    assert run(tables, {"min_firms_per_operator": 8}).status == "infeasible"


def test_min_firms_per_node_makes_the_host_serve() -> None:
    tables = far_host_world()
    # Without: 200 (OA serves, OC only hosts KC), as in the cluster test.
    assert optimum(tables).objective == pytest.approx(200.0)
    # OC serves S1 (it hosts KC) so it must serve >= 1 firm of S1; the group of 5 goes whole:
    # OC alone 100 + 5 x 40 = 300 beats both (200 + 200): OA closes.
    result = optimum(tables, {"min_firms_per_node": 1})
    assert result.objective == pytest.approx(300.0) and kept(result) == {"OC"}
    # Split: OC takes one firm's worth (share 0.2): 200 + 1 x 40 = 240.
    split = optimum(tables, {"min_firms_per_node": 1, "allow_split": True})
    assert split.objective == pytest.approx(240.0)
    assert served(split, "OC") == pytest.approx(1.0)


def test_max_travel_minutes_opens_a_local_operator() -> None:
    tables = world([OA, OC], [Cl("KA", "OA")], [("C", "S1", 1.0)])
    # Without: OA alone, the firm travels 40: 140 (both: 200).
    assert optimum(tables).objective == pytest.approx(140.0)
    # The limit is inclusive: 40 minutes is within a 40-minute radius.
    assert optimum(tables, {"max_travel_minutes": 40}).objective == pytest.approx(140.0)
    # 30 minutes: OC must serve C: 200.
    result = optimum(tables, {"max_travel_minutes": 30})
    assert result.objective == pytest.approx(200.0) and kept(result) == {"OA", "OC"}
    assert result.summary["travel_minutes"]["max"] == 0.0


def test_max_travel_minutes_leaving_a_group_unreachable_is_infeasible() -> None:
    # The firm in B is 10 minutes from OA and 30 from OC: a 5-minute radius leaves it
    # without any operator (hard coverage), while the firm in A is still servable.
    tables = world([OA, OC], [Cl("KA", "OA")], [("A", "S1", 1.0), ("B", "S1", 1.0)])
    result = run(tables, {"max_travel_minutes": 5})
    assert result.status == "infeasible"
    assert result.operators.empty and "infeasible" in result.summary["message"]


# --------------------------------------------------------------------------- coverage


def soft_world() -> Tables:
    """One firm in A next to OA and two in D, 50 minutes away; D is rural, A urban."""
    return world([OA], [Cl("KA", "OA")], [("A", "S1", 1.0), ("D", "S1", 2.0)])


def test_soft_coverage_target_forces_service() -> None:
    tables = soft_world()
    soft = {"coverage": "soft"}
    # Penalty 10 per firm (S1 weight 1): serving D costs 2 x 50 = 100 > 2 x 10 = 20, so
    # without a target D stays unserved: 100 + 20 = 120, coverage 1/3.
    free = optimum(tables, {**soft, "coverage_target": 0.0}, unserved_penalty_per_firm=10)
    assert free.objective == pytest.approx(120.0)
    assert free.objective_terms["unserved_penalty"] == pytest.approx(20.0)
    assert free.summary["coverage"]["all"] == pytest.approx(1 / 3)
    # Target 0.3 (0.9 firms): A alone suffices: 120.
    low = optimum(tables, {**soft, "coverage_target": 0.3}, unserved_penalty_per_firm=10)
    assert low.objective == pytest.approx(120.0)
    # Target 0.5 (1.5 firms): D must be served, whole: 100 + 100 = 200.
    half = optimum(tables, {**soft, "coverage_target": 0.5}, unserved_penalty_per_firm=10)
    assert half.objective == pytest.approx(200.0)
    assert half.summary["coverage"]["all"] == pytest.approx(1.0)
    # Split: a quarter of D (0.5 firms) reaches 1.5: 100 + 0.5 x 50 + 1.5 x 10 = 140.
    split = optimum(tables, {**soft, "coverage_target": 0.5, "allow_split": True},
                    unserved_penalty_per_firm=10)
    assert split.objective == pytest.approx(140.0)
    assert split.summary["coverage"]["all"] == pytest.approx(0.5)


def test_unserved_penalty_is_weighted_by_stronghold() -> None:
    # Same, but the far firms are in S2 (weight 2): penalty 2 x 10 x 2 = 40 < travel 100.
    tables = world([Op("OA", "A", ("S1", "S2"))], [Cl("KA", "OA", ("S1", "S2"))],
                   [("A", "S1", 1.0), ("D", "S2", 2.0)])
    result = optimum(tables, {"coverage": "soft", "coverage_target": 0.0},
                     unserved_penalty_per_firm=10)
    assert result.objective == pytest.approx(140.0)
    assert result.objective_terms["unserved_penalty"] == pytest.approx(40.0)


def test_rural_parity_levels_service_down() -> None:
    # One urban firm in A (next to OA, free to serve) and two rural ones: B (10 minutes) and
    # D (50 minutes); penalty 20 per firm. (The simpler A + D case levels down to serving
    # nobody, which hits the extraction bug pinned in test_bruteforce.)
    tables = world([OA], [Cl("KA", "OA")], [("A", "S1", 1.0), ("B", "S1", 1.0),
                                            ("D", "S1", 1.0)])
    soft = {"coverage": "soft", "coverage_target": 0.0}
    # Without parity: serve A (0) and B (10 < 20), leave D (50 > 20): 100 + 10 + 20 = 130;
    # rural share 1/2, urban 1.
    free = optimum(tables, soft, unserved_penalty_per_firm=20)
    assert free.objective == pytest.approx(130.0)
    assert free.summary["coverage"]["rural"] == 0.5 and free.summary["coverage"]["urban"] == 1.0
    # Parity, tolerance 0: rural share >= urban share. Serving all costs 100 + 10 + 50 = 160;
    # leaving A and D unserved and serving B costs 100 + 20 + 10 + 20 = 150 (rural 1/2 >=
    # urban 0): the urban firm next door goes unserved.
    level = optimum(tables, {**soft, "rural_parity": True}, unserved_penalty_per_firm=20)
    assert level.objective == pytest.approx(150.0)
    assert level.summary["coverage"]["urban"] == 0.0
    assert level.summary["coverage"]["rural"] == 0.5
    # Tolerance 0.5: 1/2 >= 1 - 0.5 holds for the free plan: 130. Tolerance 0.4 does not.
    loose = optimum(tables, {**soft, "rural_parity": True, "rural_parity_tolerance": 0.5},
                    unserved_penalty_per_firm=20)
    assert loose.objective == pytest.approx(130.0)
    tight = optimum(tables, {**soft, "rural_parity": True, "rural_parity_tolerance": 0.4},
                    unserved_penalty_per_firm=20)
    assert tight.objective == pytest.approx(150.0)
    # Split, tolerance 0: shares a (A), b (B), d (D) with (b + d) / 2 >= a; cost
    # 160 - 20a - 10b + 30d is least at d = 0, b = 1, a = 1/2: 160 - 10 - 10 = 140.
    split = optimum(tables, {**soft, "rural_parity": True, "allow_split": True},
                    unserved_penalty_per_firm=20)
    assert split.objective == pytest.approx(140.0)
    assert split.summary["coverage"]["urban"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- operator set


def test_regional_presence_keeps_one_operator_per_region() -> None:
    tables = world([OA, OC], [Cl("KA", "OA")], [("A", "S1", 1.0)])
    # Without: OA alone, 100.
    assert kept(optimum(tables)) == {"OA"}
    # One per region: OC (region R2) stays idle: 200.
    result = optimum(tables, {"min_operators_per_region": 1})
    assert result.objective == pytest.approx(200.0) and kept(result) == {"OA", "OC"}
    # Two per region: each region has one operator.
    assert run(tables, {"min_operators_per_region": 2}).status == "infeasible"
    # R2's only operator closed: the region cannot be present.
    assert run(tables, {"min_operators_per_region": 1, "close": ["OC"]}).status == "infeasible"


def test_min_operators_keeps_an_idle_operator() -> None:
    tables = world([OA, OC], [Cl("KA", "OA")], [("A", "S1", 1.0)])
    result = optimum(tables, {"min_operators": 2})
    assert result.objective == pytest.approx(200.0) and kept(result) == {"OA", "OC"}
    assert run(tables, {"min_operators": 3}).status == "infeasible"


def test_max_operators_closes_the_local_operator() -> None:
    tables = world([OA, OC], [Cl("KA", "OA")], [("C", "S1", 5.0)])
    # Without: both, 200 (OA alone: 100 + 5 x 40 = 300).
    assert optimum(tables).objective == pytest.approx(200.0)
    # At most one: OA must stay (KA's host), OC closes: 300.
    result = optimum(tables, {"max_operators": 1})
    assert result.objective == pytest.approx(300.0) and kept(result) == {"OA"}
    # None at all: the cluster needs its host.
    assert run(tables, {"max_operators": 0}).status == "infeasible"


def keep_close_world() -> Tables:
    """OA (closure 150) and OC (closure 20) each host a cluster; one firm in A."""
    return world([Op("OA", "A", closure=150.0), Op("OC", "C", closure=20.0)],
                 [Cl("KA", "OA"), Cl("KC", "OC")], [("A", "S1", 1.0)])


def test_keep_and_close() -> None:
    tables = keep_close_world()
    # Free: OA alone with KA; OC's closure paid: 100 + 20 = 120.
    free = optimum(tables)
    assert free.objective == pytest.approx(120.0) and kept(free) == {"OA"}
    assert free.objective_terms["closure"] == pytest.approx(20.0)
    # keep OC: OC alone (KC) 100 + 40 + 150 = 290 or both 200 -> both.
    keep = optimum(tables, {"keep": ["OC"]})
    assert keep.objective == pytest.approx(200.0) and kept(keep) == {"OA", "OC"}
    assert set(keep.operators.loc[keep.operators["forced"] == "keep", "operator_id"]) == {"OC"}
    # close OA: OC alone with KC, the firm travels 40, OA's closure paid: 290.
    close = optimum(tables, {"close": ["OA"]})
    assert close.objective == pytest.approx(290.0) and kept(close) == {"OC"}
    assert selected(close) == {"KC"}
    # close both: no host for any cluster.
    assert run(tables, {"close": ["OA", "OC"]}).status == "infeasible"


def test_annual_budget_limits_the_operators_kept() -> None:
    tables = world([OA, OC], [Cl("KA", "OA")], [("C", "S1", 5.0)])
    # Without: both (200 a year): 200.
    assert optimum(tables).objective == pytest.approx(200.0)
    # 150 a year: one operator, KA's host OA: 100 + 5 x 40 = 300.
    result = optimum(tables, {"annual_budget": 150.0})
    assert result.objective == pytest.approx(300.0) and kept(result) == {"OA"}
    # Exactly 200 is within the budget.
    assert optimum(tables, {"annual_budget": 200.0}).objective == pytest.approx(200.0)
    # 99 a year: not even the host.
    assert run(tables, {"annual_budget": 99.0}).status == "infeasible"


# --------------------------------------------------------------------------- costs


def test_disruption_cost_keeps_firms_with_their_familiar_operator() -> None:
    # The firm in A is a member of KC (host OC). Either cluster may run.
    tables = world([OA, OC], [Cl("KA", "OA"), Cl("KC", "OC")], [("A", "S1", 1.0)],
                   memberships=[(0, "KC")])
    # No disruption cost: OA alone serves it on the spot: 100.
    assert optimum(tables).objective == pytest.approx(100.0)
    # 1000 per moved firm: OA alone 100 + 1000 = 1100; OC alone 100 + 40 = 140 -> 140.
    result = optimum(tables, disruption_cost_per_firm=1000)
    assert result.objective == pytest.approx(140.0) and kept(result) == {"OC"}
    assert result.objective_terms["disruption"] == 0.0
    assert not result.assignments["moved"].any()


def test_objective_terms_sum_to_the_objective() -> None:
    # On the tiny set, a scenario in which all six terms are positive: C2's gold upgrade
    # (C3 cannot reach gold, so O3 hosts nothing and closes), firms beyond 50 minutes left
    # unserved, and firms of O3's cluster C3 moved to another operator.
    sc = Scenario(name="terms").with_updates({
        "policy": {"require_gold": True, "coverage": "soft", "coverage_target": 0.5,
                   "max_travel_minutes": 50},
        "costs": {"horizon_years": 5.0, "cost_per_firm_minute": 1.0,
                  "disruption_cost_per_firm": 10.0, "unserved_penalty_per_firm": 2000.0},
        "solver": {"mip_gap": 0.0}})
    result = solve(from_tables(tiny_tables()), sc)
    assert result.status == "optimal" and result.summary["check"]["ok"]
    terms = result.objective_terms
    assert set(terms) == set(COST_TERMS)
    # The service layers' terms are zero without a kinds table or cluster costs.
    layered = {"cluster_operating", "outside_scope", "merger"}
    assert all(terms[t] > 0 for t in set(COST_TERMS) - layered), terms
    assert all(terms[t] == 0 for t in layered), terms
    assert sum(terms.values()) == pytest.approx(result.objective, rel=1e-12)
    # The independent checker recomputed the same terms from the raw data.
    for t in COST_TERMS:
        assert result.summary["check"]["objective_terms"][t] == pytest.approx(terms[t])


# --------------------------------------------------------------------------- solver behaviour


def test_infeasible_scenario_reports_status_without_tables() -> None:
    # Two operators per region are asked for; on the tiny set R1 has only O1.
    result = solve(from_tables(tiny_tables()),
                   Scenario().with_updates({"policy": {"min_operators_per_region": 2}}))
    assert result.status == "infeasible"
    assert not result.has_solution and result.objective is None
    assert result.summary["proven_optimal"] is False
    assert "check" not in result.summary


def test_same_inputs_give_identical_decisions() -> None:
    # Travel is free here, so many assignments tie: the solver must still break ties the
    # same way on every run (fixed seed, same model order).
    sc = Scenario(name="repro").with_updates({
        "costs": {"cost_per_firm_minute": 0.0, "disruption_cost_per_firm": 0.0},
        "policy": {"allow_split": False, "max_travel_minutes": 100}})
    first = solve(from_tables(tiny_tables()), sc)
    second = solve(from_tables(tiny_tables()), sc)
    assert first.status == second.status == "optimal"
    assert first.summary["check"]["ok"] and second.summary["check"]["ok"]
    for name in ("operators", "clusters", "assignments"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))
    assert first.objective_terms == second.objective_terms
