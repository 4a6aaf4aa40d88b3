"""The consolidation model (``docs/model.md``): one function per constraint family.

Symbols follow the document: y[o] retain operator, z[c] select cluster, v[o,s] operator o
serves stronghold s, x[g,o] share of group g assigned to o, u[g] unserved share (soft coverage).
Index sets come from the landscape graph; no variable exists for an ineligible pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ..data.overrides import forced_operators, required_clusters
from ..data.scenario import Scenario
from .families import FAMILIES
from .landscape import Landscape


@dataclass(frozen=True)
class ModelInputs:
    """Everything the model reads, as plain tables indexed by id."""

    #: index operator_id: annual_cost, capacity (NaN = unlimited), closure_cost, region_id.
    operators: pd.DataFrame
    #: index cluster_id: host, budget, label, gold_upgrade_cost, knowledge_partners,
    #: admissible (bool), upgrade_cost (paid if selected under require_gold).
    clusters: pd.DataFrame
    #: (cluster_id, stronghold_id) pairs: what each cluster covers.
    covers: pd.DataFrame
    #: (operator_id, stronghold_id) pairs: competences, the index of v.
    competence: pd.DataFrame
    #: index group_id: municipality_id, stronghold_id, weight (q_g), rural, region_id,
    #: penalty_weight (stronghold weight).
    groups: pd.DataFrame
    #: group_id, operator_id, minutes (t_go), disrupted (d_go: firms of g with a current
    #: membership none of which is hosted by o): the index of x.
    pairs: pd.DataFrame
    #: stronghold_id -> number of clusters required (n_s); exempt strongholds absent.
    required_clusters: dict[str, int]
    regions: tuple[str, ...]
    #: Operators forced open / closed (policy keep/close by id and by kind).
    keep: tuple[str, ...] = ()
    close: tuple[str, ...] = ()


def prepare(land: Landscape, scenario: Scenario) -> ModelInputs:
    ds = land.dataset
    pol = scenario.policy
    munis = ds.municipalities.set_index("municipality_id")
    operators = ds.operators.set_index("operator_id")[
        ["annual_cost", "capacity", "closure_cost", "municipality_id"]].copy()
    operators["region_id"] = operators["municipality_id"].map(munis["region_id"])
    # A capacity no plan can use up is no limit. Left as a number, 1e15 or more would also make
    # HiGHS refuse the constraint rows (see solver.solve).
    total = float(ds.firms["weight"].sum())
    # With headroom the usable part is max_utilisation × capacity.
    usable = operators["capacity"] * pol.max_utilisation
    operators.loc[usable >= total, "capacity"] = np.nan

    clusters = ds.clusters.set_index("cluster_id").rename(columns={"operator_id": "host"})[
        ["host", "budget", "label", "gold_upgrade_cost", "knowledge_partners"]].copy()
    admissible = (clusters["budget"] >= pol.min_cluster_budget) & (
        clusters["knowledge_partners"] >= pol.min_knowledge_partners)
    is_gold = clusters["label"] == "gold"
    if pol.require_gold:
        admissible &= is_gold | clusters["gold_upgrade_cost"].notna()
        upgrade = np.where(is_gold, 0.0, clusters["gold_upgrade_cost"].fillna(0.0))
    else:
        upgrade = np.zeros(len(clusters))
    clusters["admissible"] = admissible
    clusters["upgrade_cost"] = upgrade

    groups = land.groups.set_index("group_id")[
        ["municipality_id", "stronghold_id", "weight", "rural", "region_id"]].copy()
    groups["penalty_weight"] = groups["stronghold_id"].map(
        ds.strongholds.set_index("stronghold_id")["weight"])

    pairs = land.eligible_pairs(pol.max_travel_minutes)
    pairs = pairs.merge(_disruption(land), on=["group_id", "operator_id"], how="left")
    member_weight = _member_weight(land)
    # astype(float): mapping an empty column keeps its text dtype under pandas 3.
    pairs["disrupted"] = pairs["group_id"].map(member_weight).astype(float).fillna(0.0) - \
        pairs["kept_weight"].astype(float).fillna(0.0)
    pairs = pairs.drop(columns="kept_weight")

    keep, close = forced_operators(ds, pol)
    return ModelInputs(operators, clusters, ds.cluster_strongholds[["cluster_id",
                                                                     "stronghold_id"]],
                       land.competence, groups, pairs, required_clusters(ds, pol),
                       tuple(ds.regions["region_id"]), tuple(sorted(keep)),
                       tuple(sorted(close)))


def _member_weight(land: Landscape) -> pd.Series:
    """Weight of firms per group that have at least one current membership."""
    ds = land.dataset
    members = ds.firms["firm_id"].isin(ds.memberships["firm_id"])
    return ds.firms["weight"][members].groupby(land.firm_group[members]).sum()


def _disruption(land: Landscape) -> pd.DataFrame:
    """Per (group, operator): weight of the group's firms that are members of a cluster that
    operator hosts today (those firms would stay with a familiar operator)."""
    ds = land.dataset
    firm_host = ds.memberships.merge(ds.clusters[["cluster_id", "operator_id"]], on="cluster_id")
    firm_host = firm_host[["firm_id", "operator_id"]].drop_duplicates()
    info = pd.DataFrame({"firm_id": ds.firms["firm_id"], "group_id": land.firm_group,
                         "weight": ds.firms["weight"]})
    firm_host = firm_host.merge(info, on="firm_id")
    return (firm_host.groupby(["group_id", "operator_id"])["weight"].sum()
            .rename("kept_weight").reset_index())


# --------------------------------------------------------------------------- building


def build_model(inp: ModelInputs, scenario: Scenario) -> pyo.ConcreteModel:
    """Variables, then every family of the registry that enters as rows or fixings (each built
    by the function of its name below), then the objective."""
    m = pyo.ConcreteModel(name=scenario.name)
    add_variables(m, inp, scenario)
    for family in FAMILIES:
        if family.form != "index":
            BUILDERS[family.name](m, inp, scenario)
    objective(m, inp, scenario)
    return m


def add_variables(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    pol = scenario.policy
    m.O = pyo.Set(initialize=list(inp.operators.index), ordered=True)
    m.C = pyo.Set(initialize=list(inp.clusters.index), ordered=True)
    m.G = pyo.Set(initialize=list(inp.groups.index), ordered=True)
    m.K = pyo.Set(initialize=list(inp.competence.itertuples(index=False, name=None)),
                  dimen=2, ordered=True)
    m.E = pyo.Set(initialize=list(zip(inp.pairs["group_id"], inp.pairs["operator_id"],
                                      strict=True)), dimen=2, ordered=True)
    m.y = pyo.Var(m.O, domain=pyo.Binary)
    m.z = pyo.Var(m.C, domain=pyo.Binary)
    m.v = pyo.Var(m.K, domain=pyo.Binary)
    m.x = pyo.Var(m.E, domain=pyo.UnitInterval if pol.allow_split else pyo.Binary)
    if pol.coverage == "soft":
        m.u = pyo.Var(m.G, domain=pyo.UnitInterval)

    # Lookup structures shared by the constraint families.
    m._pairs_of_group = inp.pairs.groupby("group_id", sort=False)["operator_id"].agg(list)
    m._pairs_of_operator = inp.pairs.groupby("operator_id", sort=False)["group_id"].agg(list)
    m._q = inp.groups["weight"].to_dict()
    m._stronghold_of = inp.groups["stronghold_id"].to_dict()


def one_cluster_per_stronghold(m: pyo.ConcreteModel, inp: ModelInputs,
                               scenario: Scenario) -> None:
    """Σ_{c covers s} z_c = n_s for every stronghold s with a requirement."""
    by_s = inp.covers.groupby("stronghold_id")["cluster_id"].agg(list)
    required = {s: n for s, n in inp.required_clusters.items() if n is not None}

    def rule(m: pyo.ConcreteModel, s: str) -> object:
        return sum(m.z[c] for c in by_s.get(s, [])) == required[s]

    m.one_cluster_per_stronghold = pyo.Constraint(sorted(required), rule=rule)


def cluster_admissibility(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """z_c = 0 for clusters below the critical mass (budget, knowledge partners) or, under
    require_gold, unable to reach gold: fixing z keeps the index simple and visible."""
    for c in inp.clusters.index[~inp.clusters["admissible"].to_numpy(bool)]:
        m.z[c].fix(0)


def host_retained(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """z_c <= y_h(c); z_c <= v_h(c),s for every stronghold s the cluster covers."""
    host = inp.clusters["host"]
    m.host_retained = pyo.Constraint(m.C, rule=lambda m, c: m.z[c] <= m.y[host[c]])
    idx = [(c, s) for c, s in inp.covers.itertuples(index=False, name=None)]
    m.host_serves = pyo.Constraint(idx, rule=lambda m, c, s: m.z[c] <= m.v[host[c], s])


def serve_needs_operator(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """v_os <= y_o; and assignment only to serving nodes: x_go <= v_o,s(g) per pair
    (``linking = "pair"``), or Σ_{g in s} q_g x_go <= M_os v_os (``"aggregated"``, with
    M_os = min(cap_o, weight of s reachable by o))."""
    m.serve_needs_operator = pyo.Constraint(m.K, rule=lambda m, o, s: m.v[o, s] <= m.y[o])
    if scenario.solver.linking == "pair":
        m.assign_needs_service = pyo.Constraint(
            m.E, rule=lambda m, g, o: m.x[g, o] <= m.v[o, m._stronghold_of[g]])
        return
    # Aggregated: one row per (o, s) instead of one per pair. The LP is weaker, but far
    # smaller; on fixed-cost dominated instances HiGHS proves optimality faster with it.
    pairs = inp.pairs.assign(stronghold_id=inp.pairs["group_id"].map(inp.groups["stronghold_id"]),
                             q=inp.pairs["group_id"].map(inp.groups["weight"]))
    reach = pairs.groupby(["operator_id", "stronghold_id"])["q"].sum()
    members = pairs.groupby(["operator_id", "stronghold_id"])["group_id"].agg(list)
    cap = inp.operators["capacity"]

    def big_m(o: str, s: str) -> float:
        return float(min(reach[o, s], cap[o])) if not np.isnan(cap[o]) else float(reach[o, s])

    m.assign_needs_service = pyo.Constraint(
        list(members.index), rule=lambda m, o, s: sum(
            m._q[g] * m.x[g, o] for g in members[o, s]) <= big_m(o, s) * m.v[o, s])


def assignment(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_o x_go (+ u_g) = 1 for every group."""
    soft = scenario.policy.coverage == "soft"

    def rule(m: pyo.ConcreteModel, g: str) -> object:
        ops = m._pairs_of_group.get(g, [])
        served = sum(m.x[g, o] for o in ops)
        if soft:
            return served + m.u[g] == 1
        if not ops:
            return pyo.Constraint.Infeasible
        return served == 1

    m.assignment = pyo.Constraint(m.G, rule=rule)


def _served_by(m: pyo.ConcreteModel, o: str, stronghold: str | None = None) -> object:
    return sum(m._q[g] * m.x[g, o] for g in m._pairs_of_operator.get(o, [])
               if stronghold is None or m._stronghold_of[g] == stronghold)


def capacity(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_g q_g x_go <= cap_o y_o for operators with a capacity."""
    cap = inp.operators["capacity"]
    limited = [o for o in m.O if not np.isnan(cap[o])]
    m.capacity = pyo.Constraint(limited, rule=lambda m, o: _served_by(m, o) <= cap[o] * m.y[o])


def max_utilisation(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_g q_g x_go <= max_utilisation · cap_o y_o for operators with a capacity (only when
    max_utilisation < 1; capacity is then the looser row)."""
    u = scenario.policy.max_utilisation
    if u >= 1:
        return
    cap = inp.operators["capacity"]
    limited = [o for o in m.O if not np.isnan(cap[o])]
    m.max_utilisation = pyo.Constraint(
        limited, rule=lambda m, o: _served_by(m, o) <= u * cap[o] * m.y[o])


def stronghold_capacity(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Valid inequality (hard coverage): Σ_{o} min(cap_o, Q_s) v_os >= Q_s for every stronghold.

    Implied by assignment + capacity + assign_needs_service, but not by their LP relaxation
    taken row by row; it lifts the root bound when capacities bind.
    """
    if scenario.policy.coverage != "hard":
        return
    q_s = inp.groups.groupby("stronghold_id")["weight"].sum()
    cap = inp.operators["capacity"]
    by_s = inp.competence.groupby("stronghold_id")["operator_id"].agg(list)
    bounded = [s for s in q_s.index
               if s in by_s.index and not any(np.isnan(cap[o]) for o in by_s[s])]
    m.stronghold_capacity = pyo.Constraint(bounded, rule=lambda m, s: sum(
        min(cap[o], q_s[s]) * m.v[o, s] for o in by_s[s]) >= q_s[s])


def critical_mass(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_g q_g x_go >= m_op y_o; Σ_{g in s} q_g x_go >= m_node v_os."""
    pol = scenario.policy
    if pol.min_firms_per_operator > 0:
        m.min_firms_per_operator = pyo.Constraint(
            m.O, rule=lambda m, o: _served_by(m, o) >= pol.min_firms_per_operator * m.y[o])
    if pol.min_firms_per_node > 0:
        m.min_firms_per_node = pyo.Constraint(
            m.K, rule=lambda m, o, s: _served_by(m, o, s) >= pol.min_firms_per_node * m.v[o, s])


def _served_weight(m: pyo.ConcreteModel, groups: list[str]) -> object:
    return sum(m._q[g] * (1 - m.u[g]) for g in groups)


def coverage(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Soft coverage: Σ_g q_g (1 - u_g) >= coverage_target Σ_g q_g (hard coverage is the
    assignment equality without u)."""
    pol = scenario.policy
    if pol.coverage != "soft" or pol.coverage_target <= 0:
        return
    total = float(inp.groups["weight"].sum())
    m.coverage = pyo.Constraint(expr=_served_weight(m, list(m.G)) >= pol.coverage_target * total)


def rural_parity(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """served_rural / Q_rural >= served_urban / Q_urban - tolerance (soft coverage only:
    under hard coverage both shares are 1)."""
    pol = scenario.policy
    if not pol.rural_parity or pol.coverage != "soft":
        return
    rural = inp.groups.index[inp.groups["rural"].to_numpy(bool)].tolist()
    urban = inp.groups.index[~inp.groups["rural"].to_numpy(bool)].tolist()
    q_r = float(inp.groups.loc[rural, "weight"].sum())
    q_u = float(inp.groups.loc[urban, "weight"].sum())
    if q_r == 0 or q_u == 0:
        return
    m.rural_parity = pyo.Constraint(
        expr=_served_weight(m, rural) / q_r >= _served_weight(m, urban) / q_u
        - pol.rural_parity_tolerance)


def regional_presence(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_{o in r} y_o >= min_operators_per_region for every region."""
    k = scenario.policy.min_operators_per_region
    if k <= 0:
        return
    by_region = inp.operators.groupby("region_id").groups

    def rule(m: pyo.ConcreteModel, r: str) -> object:
        ops = list(by_region.get(r, []))
        if not ops:
            return pyo.Constraint.Infeasible
        return sum(m.y[o] for o in ops) >= k

    m.regional_presence = pyo.Constraint(list(inp.regions), rule=rule)


def operator_count(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """min_operators <= Σ_o y_o <= max_operators."""
    pol = scenario.policy
    total = sum(m.y[o] for o in m.O)
    if pol.min_operators > 0:
        m.min_operators = pyo.Constraint(expr=total >= pol.min_operators)
    if pol.max_operators is not None:
        m.max_operators = pyo.Constraint(expr=total <= pol.max_operators)


def forced(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """y_o = 1 for o in keep; y_o = 0 for o in close (by id, or by kind)."""
    m.keep = pyo.Constraint(list(inp.keep), rule=lambda m, o: m.y[o] == 1)
    m.close = pyo.Constraint(list(inp.close), rule=lambda m, o: m.y[o] == 0)


def annual_budget(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_o a_o y_o <= annual_budget."""
    budget = scenario.policy.annual_budget
    if budget is None:
        return
    a = inp.operators["annual_cost"]
    m.annual_budget = pyo.Constraint(expr=sum(a[o] * m.y[o] for o in m.O) <= budget)


def objective(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Minimise the sum of the six cost terms, each kept as a named expression."""
    cost = scenario.costs
    ops = inp.operators
    pairs = inp.pairs
    q = inp.groups["weight"]
    pair_q = pairs["group_id"].map(q).to_numpy(float)
    keys = list(zip(pairs["group_id"], pairs["operator_id"], strict=True))
    service_coef = cost.horizon_years * cost.cost_per_firm_minute * pair_q * \
        pairs["minutes"].to_numpy(float)
    disruption_coef = cost.disruption_cost_per_firm * pairs["disrupted"].to_numpy(float)

    m.cost_operating = pyo.Expression(
        expr=cost.horizon_years * sum(ops.at[o, "annual_cost"] * m.y[o] for o in m.O))
    m.cost_service = pyo.Expression(
        expr=sum(float(c) * m.x[k] for k, c in zip(keys, service_coef, strict=True) if c))
    m.cost_closure = pyo.Expression(
        expr=sum(ops.at[o, "closure_cost"] * (1 - m.y[o]) for o in m.O))
    upgrade = inp.clusters["upgrade_cost"]
    m.cost_upgrade = pyo.Expression(
        expr=sum(upgrade[c] * m.z[c] for c in m.C if upgrade[c] > 0))
    m.cost_disruption = pyo.Expression(
        expr=sum(float(c) * m.x[k] for k, c in zip(keys, disruption_coef, strict=True) if c))
    if scenario.policy.coverage == "soft":
        pen = cost.unserved_penalty_per_firm
        w = inp.groups["penalty_weight"]
        m.cost_unserved_penalty = pyo.Expression(
            expr=sum(pen * w[g] * q[g] * m.u[g] for g in m.G))
    else:
        m.cost_unserved_penalty = pyo.Expression(expr=0.0)
    # HiGHS sees thousands of DKK: in DKK the coefficients reach 1e8-1e9, far beyond what its
    # 1e-7 dual feasibility tolerance handles well (it warns and slows down).
    m.objective_scale = OBJECTIVE_SCALE
    m.cost = pyo.Objective(
        expr=(m.cost_operating + m.cost_service + m.cost_closure + m.cost_upgrade
              + m.cost_disruption + m.cost_unserved_penalty) / OBJECTIVE_SCALE,
        sense=pyo.minimize)


OBJECTIVE_SCALE = 1e3

Builder = Callable[[pyo.ConcreteModel, ModelInputs, Scenario], None]
#: The builder of each family of :data:`klynge_opt.model.families.FAMILIES`, by its name.
BUILDERS: dict[str, Builder] = {
    "one_cluster_per_stronghold": one_cluster_per_stronghold,
    "cluster_admissibility": cluster_admissibility,
    "host_retained": host_retained,
    "serve_needs_operator": serve_needs_operator,
    "assignment": assignment,
    "capacity": capacity,
    "max_utilisation": max_utilisation,
    "stronghold_capacity": stronghold_capacity,
    "critical_mass": critical_mass,
    "coverage": coverage,
    "rural_parity": rural_parity,
    "regional_presence": regional_presence,
    "operator_count": operator_count,
    "forced": forced,
    "annual_budget": annual_budget,
}
