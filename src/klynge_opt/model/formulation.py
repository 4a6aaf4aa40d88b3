"""The consolidation model (``docs/model.md``): one function per constraint family.

Symbols follow the document: y[o] retain operator, z[c] select cluster, v[o,s] operator o
serves stronghold s, x[g,o] share of group g assigned to o, u[g] unserved share (soft coverage).
Index sets come from the landscape graph; no variable exists for an ineligible pair.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ..data.overrides import forced_operators, required_clusters
from ..data.scenario import Scenario
from ..frames import among, row_tuples
from . import services
from .families import FAMILIES
from .landscape import Landscape


@dataclass(frozen=True)
class ModelInputs:
    """Everything the model reads, as plain tables indexed by id."""

    #: index operator_id: annual_cost, capacity (NaN = unlimited), closure_cost, region_id,
    #: layer, in_scope (out-of-scope operators stay open and serve nobody).
    operators: pd.DataFrame
    #: index cluster_id: host, budget, label, gold_upgrade_cost, knowledge_partners,
    #: admissible (bool), upgrade_cost (paid if selected under require_gold), annual_cost,
    #: capacity (NaN = unlimited), merge_cost.
    clusters: pd.DataFrame
    #: (cluster_id, stronghold_id, role) rows: what each cluster covers.
    covers: pd.DataFrame
    #: (operator_id, stronghold_id) pairs: competences, the index of v.
    competence: pd.DataFrame
    #: index group_id (guidance demand): municipality_id, stronghold_id, weight (q_g), rural,
    #: region_id, penalty_weight (stronghold weight), effect (weight with growth firms
    #: counted growth_firm_factor times).
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
    #: Clusters forced selected / not selected (policy keep_clusters / close_clusters).
    keep_clusters: tuple[str, ...] = ()
    close_clusters: tuple[str, ...] = ()
    #: (cluster_id, stronghold_id) pairs that count towards the cluster requirement: the
    #: covers, without secondary roles unless count_secondary. Index of a[c,s].
    counts: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Service layers (a kinds table): local and cluster demand groups and their pairs
    #: (``services.ServiceGroups.groups`` columns; local pairs group_id, operator_id, minutes;
    #: cluster pairs group_id, cluster_id, minutes, moved). Empty without layers.
    layered: bool = False
    local_groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    local_pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    cluster_groups: pd.DataFrame = field(default_factory=pd.DataFrame)
    cluster_pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Possible mergers (allow_mergers): ``merged, successor`` pairs sharing a stronghold.
    merges: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Per service: each firm's group (aligned with the data's firms; NaN: not its demand),
    #: for turning group decisions back into firm rows. Empty without layers.
    firm_groups: dict[str, pd.Series] = field(default_factory=dict)

    @property
    def requirements(self) -> dict[str, int]:
        """n_s of every stronghold that has a cluster requirement (None values left out)."""
        return {s: n for s, n in self.required_clusters.items() if n is not None}


def prepare(land: Landscape, scenario: Scenario) -> ModelInputs:
    ds = land.dataset
    pol = scenario.policy
    munis = ds.municipalities.set_index("municipality_id")
    operators = ds.operators.set_index("operator_id")[
        ["annual_cost", "cost_per_firm", "capacity", "closure_cost", "municipality_id"]].copy()
    operators["region_id"] = operators["municipality_id"].map(munis["region_id"])
    operators = operators.join(services.operator_layers(ds))
    # A capacity no plan can use up is no limit. Left as a number, 1e15 or more would also make
    # HiGHS refuse the constraint rows (see solver.solve).
    total = float(ds.firms["weight"].sum())
    # With headroom the usable part is max_utilisation × capacity.
    usable = operators["capacity"] * pol.max_utilisation
    operators.loc[usable >= total, "capacity"] = np.nan

    clusters = ds.clusters.set_index("cluster_id").rename(columns={"operator_id": "host"})[
        ["host", "budget", "label", "gold_upgrade_cost", "knowledge_partners", "annual_cost",
         "capacity", "merge_cost"]].copy()
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

    guidance = services.guidance_groups(land, pol, scenario.effect)
    layered = services.is_layered(ds)
    if layered:
        groups = guidance.groups[["municipality_id", "stronghold_id", "weight", "rural",
                                  "region_id", "effect"]].copy()
    else:
        # Without layers: exactly the landscape's groups, as before service layers.
        groups = land.groups.set_index("group_id")[
            ["municipality_id", "stronghold_id", "weight", "rural", "region_id"]].copy()
        groups["effect"] = guidance.groups["effect"].reindex(groups.index)
    groups["penalty_weight"] = groups["stronghold_id"].map(
        ds.strongholds.set_index("stronghold_id")["weight"])

    pairs = land.eligible_pairs(pol.max_travel_minutes)
    competence = land.competence
    if layered:
        givers = operators.index[operators["layer"].isin(services.GUIDANCE_LAYERS)
                                 & operators["in_scope"]]
        pairs = pairs[pairs["operator_id"].isin(givers) & among(pairs["group_id"], groups.index)]
        competence = competence[competence["operator_id"].isin(givers)].reset_index(drop=True)
        pairs = pairs.reset_index(drop=True).assign(disrupted=0.0)
    else:
        pairs = pairs.merge(_disruption(land), on=["group_id", "operator_id"], how="left")
        member_weight = _member_weight(land)
        # astype(float): mapping an empty column keeps its text dtype under pandas 3.
        pairs["disrupted"] = pairs["group_id"].map(member_weight).astype(float).fillna(0.0) - \
            pairs["kept_weight"].astype(float).fillna(0.0)
        pairs = pairs.drop(columns="kept_weight")

    keep, close = forced_operators(ds, pol)
    covers = ds.cluster_strongholds[["cluster_id", "stronghold_id", "role"]]
    counts = covers if pol.count_secondary else covers[covers["role"] != "secondary"]
    inputs = ModelInputs(operators, clusters, covers,
                         competence, groups, pairs, required_clusters(ds, pol),
                         tuple(ds.regions["region_id"]), tuple(sorted(keep)),
                         tuple(sorted(close)), tuple(sorted(pol.keep_clusters)),
                         tuple(sorted(pol.close_clusters)),
                         counts=counts[["cluster_id", "stronghold_id"]].reset_index(drop=True))
    if not layered:
        return inputs
    local_service = services.local_groups(land, pol, scenario.effect)
    local = local_service.groups
    local_ops = operators.index[(operators["layer"] == "local_service") & operators["in_scope"]]
    coarse = pol.allow_split and pol.cluster.max_travel_minutes is None
    cluster_service = services.cluster_groups(land, pol, scenario.effect, by_place=not coarse)
    member = cluster_service.groups
    return dataclasses.replace(
        inputs, layered=True, local_groups=local,
        firm_groups={"local": local_service.firm_group, "guidance": guidance.firm_group,
                     "cluster": cluster_service.firm_group},
        local_pairs=services.local_pairs(land, local, local_ops, pol.local.max_travel_minutes),
        cluster_groups=member,
        cluster_pairs=services.cluster_pairs(land, member, pol.cluster.max_travel_minutes),
        merges=services.merge_pairs(ds) if pol.allow_mergers else services.merge_pairs(ds)[:0])


def _member_weight(land: Landscape) -> pd.Series:
    """Weight of firms per group that have at least one current membership."""
    ds = land.dataset
    members = among(ds.firms["firm_id"], ds.memberships["firm_id"])
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
    if scenario.objective.sense == "max_effect":
        effect(m, inp, scenario)
    relax_assignments(m, scenario)
    m._warm_start = choose_warm_start(inp, scenario)
    return m


#: ``warm_start = "auto"`` hands HiGHS the relaxation's first plan up to this many guidance
#: pairs: faster at the median on four of six Danish scenarios and steadier on all; above it
#: the extra LP solve is long and was slower on three of four OR-Library p-median instances
#: (pmed11/15/16/21, docs/performance.md).
WARM_START_UP_TO_PAIRS = 50_000


def choose_warm_start(inp: ModelInputs, scenario: Scenario) -> str:
    """``solver.warm_start`` with ``auto`` resolved for this instance."""
    asked = scenario.solver.warm_start
    if asked != "auto":
        return asked
    return "relaxation" if len(inp.pairs) <= WARM_START_UP_TO_PAIRS else "none"


#: The assignment variables, each with the unserved share that completes its groups' rows.
ASSIGNMENT_VARS: tuple[tuple[str, str], ...] = (("x", "u"), ("xl", "ul"), ("w", "uc"))


def relax_assignments(m: pyo.ConcreteModel, scenario: Scenario) -> None:
    """x, xl, w in [0, 1] instead of binary when no row couples the groups' assignments.

    Once y, v and z are fixed, each group then chooses among its open providers on its own
    (Σ_o x_go (+ u_g) = 1 and x_go <= v_os), a problem whose vertices are integral: the
    optimum is the same and HiGHS branches on the facilities only, as the textbook
    p-median does. :func:`klynge_opt.model.solver.whole_assignments` turns any fractional
    answer into a whole one that costs no more. Rows that tie groups together
    (``couples_assignments`` in the registry), merger relief (its cost rides on w) and the
    two-stage effect objective keep the binaries.
    """
    if scenario.policy.allow_split or scenario.objective.sense == "max_effect" \
            or hasattr(m, "mg"):
        return
    for family in FAMILIES:
        if family.couples_assignments and any(
                len(getattr(m, c)) for c in family.components if hasattr(m, c)):
            return
    for name, _ in ASSIGNMENT_VARS:
        if hasattr(m, name):
            getattr(m, name).domain = pyo.UnitInterval
    m._assignments_relaxed = True


def restore_integrality(m: pyo.ConcreteModel) -> None:
    """Binary assignments again: for a model about to receive a row or objective that couples
    groups (the cost bound of fewest_changes, the elastic model of the diagnosis)."""
    if not getattr(m, "_assignments_relaxed", False):
        return
    for name, _ in ASSIGNMENT_VARS:
        if hasattr(m, name):
            getattr(m, name).domain = pyo.Binary
    m._assignments_relaxed = False


def assignment_choices(m: pyo.ConcreteModel) -> list[list[pyo.Var]]:
    """Per demand group, the variables whose sum is 1: its assignments and, under soft
    coverage, its unserved share."""
    out: list[list[pyo.Var]] = []
    for name, unserved in ASSIGNMENT_VARS:
        if not hasattr(m, name):
            continue
        var = getattr(m, name)
        slack = getattr(m, unserved, None)
        by_group: dict[object, list[pyo.Var]] = {}
        for (g, _), data in var.items():
            by_group.setdefault(g, []).append(data)
        if slack is not None:
            for g, data in slack.items():
                by_group.setdefault(g, []).append(data)
        out += by_group.values()
    return out


def add_variables(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    pol = scenario.policy
    m.O = pyo.Set(initialize=list(inp.operators.index), ordered=True)
    m.C = pyo.Set(initialize=list(inp.clusters.index), ordered=True)
    m.G = pyo.Set(initialize=list(inp.groups.index), ordered=True)
    m.K = pyo.Set(initialize=list(inp.competence.itertuples(index=False, name=None)),
                  dimen=2, ordered=True)
    m.E = pyo.Set(initialize=list(row_tuples(inp.pairs, "group_id", "operator_id")), dimen=2,
                  ordered=True)
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
    m._in_scope = [o for o in m.O if inp.operators.at[o, "in_scope"]]
    if pol.max_strongholds_per_cluster is not None:
        m.A = pyo.Set(initialize=list(inp.counts.itertuples(index=False, name=None)), dimen=2,
                      ordered=True)
        m.a = pyo.Var(m.A, domain=pyo.Binary)
    if inp.layered:
        add_layer_variables(m, inp, scenario)


def add_layer_variables(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Local service xl[g,o] (u^L_g) and cluster service w[g,c] (u^C_g), with a kinds table."""
    pol = scenario.policy
    domain = pyo.UnitInterval if pol.allow_split else pyo.Binary
    lp, cp = inp.local_pairs, inp.cluster_pairs
    m.GL = pyo.Set(initialize=list(inp.local_groups.index), ordered=True)
    m.EL = pyo.Set(initialize=list(row_tuples(lp, "group_id", "operator_id")),
                   dimen=2, ordered=True)
    m.GC = pyo.Set(initialize=list(inp.cluster_groups.index), ordered=True)
    m.EC = pyo.Set(initialize=list(row_tuples(cp, "group_id", "cluster_id")),
                   dimen=2, ordered=True)
    m.xl = pyo.Var(m.EL, domain=domain)
    m.w = pyo.Var(m.EC, domain=domain)
    if pol.local.coverage == "soft":
        m.ul = pyo.Var(m.GL, domain=pyo.UnitInterval)
    if pol.cluster.coverage == "soft":
        m.uc = pyo.Var(m.GC, domain=pyo.UnitInterval)
    m._local_of_group = lp.groupby("group_id", sort=False)["operator_id"].agg(list)
    m._local_of_operator = lp.groupby("operator_id", sort=False)["group_id"].agg(list)
    m._ql = inp.local_groups["weight"].to_dict()
    m._cluster_of_group = cp.groupby("group_id", sort=False)["cluster_id"].agg(list)
    m._members_of_cluster = cp.groupby("cluster_id", sort=False)["group_id"].agg(list)
    m._qc = inp.cluster_groups["weight"].to_dict()
    m._hosted_by = inp.clusters.groupby("host", sort=False).groups
    if not inp.merges.empty:
        add_merger_variables(m, inp)


def add_merger_variables(m: pyo.ConcreteModel, inp: ModelInputs) -> None:
    """mg[c0,c]: c0 merges into c; delta[g,c]: share of group g assigned to c that is
    disrupted, none of its current clusters having merged into c (only for the pairs where
    one could)."""
    mg = inp.merges
    m.MG = pyo.Set(initialize=list(row_tuples(mg, "merged", "successor")), dimen=2,
                   ordered=True)
    m.mg = pyo.Var(m.MG, domain=pyo.Binary)
    into = mg.groupby("successor")["merged"].agg(set)
    moved = inp.cluster_pairs[inp.cluster_pairs["moved"].astype(bool)]
    current = inp.cluster_groups["current"]
    sources = {(g, c): sorted(set(current[g]) & into.get(c, set()))
               for g, c in row_tuples(moved, "group_id", "cluster_id")}
    m._relief_sources = {k: v for k, v in sources.items() if v}
    m.R = pyo.Set(initialize=list(m._relief_sources), dimen=2, ordered=True)
    m.delta = pyo.Var(m.R, domain=pyo.UnitInterval)


def one_cluster_per_stronghold(m: pyo.ConcreteModel, inp: ModelInputs,
                               scenario: Scenario) -> None:
    """Σ_{c counts for s} z_c = n_s (cluster_rule = "at_least": >= n_s) for every stronghold
    s with a requirement; with max_strongholds_per_cluster a[c,s] in place of z_c."""
    by_s = inp.counts.groupby("stronghold_id")["cluster_id"].agg(list)
    counted = hasattr(m, "a")
    required = inp.requirements

    at_least = scenario.policy.cluster_rule == "at_least"

    def rule(m: pyo.ConcreteModel, s: str) -> object:
        selected = sum(m.a[c, s] if counted else m.z[c] for c in by_s.get(s, []))
        return selected >= required[s] if at_least else selected == required[s]

    m.one_cluster_per_stronghold = pyo.Constraint(sorted(required), rule=rule)


def cluster_admissibility(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """z_c = 0 for clusters below the critical mass (budget, knowledge partners) or, under
    require_gold, unable to reach gold: fixing z keeps the index simple and visible."""
    for c in inp.clusters.index[~inp.clusters["admissible"].to_numpy(bool)]:
        m.z[c].fix(0)


def host_retained(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """z_c <= y_h(c); without service layers also z_c <= v_h(c),s for every stronghold s the
    cluster covers."""
    host = inp.clusters["host"]
    m.host_retained = pyo.Constraint(m.C, rule=lambda m, c: m.z[c] <= m.y[host[c]])
    if inp.layered:
        # The cluster service is the cluster's own: its host gives no guidance for it.
        return
    idx = list(row_tuples(inp.covers, "cluster_id", "stronghold_id"))
    m.host_serves = pyo.Constraint(idx, rule=lambda m, c, s: m.z[c] <= m.v[host[c], s])


def clusters_per_host(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Valid inequality (cluster_rule = "exactly"): Σ_{c : h(c)=o, (c,s) ∈ A} a_cs <= n_s y_o
    (z_c in place of a_cs without max_strongholds_per_cluster) wherever host o has more than
    n_s admissible clusters that could count for s.

    Implied at integrality by one_cluster_per_stronghold and host_retained, but not by their
    relaxation, which may select two of one host's clusters by halves and pay half the host."""
    if scenario.policy.cluster_rule != "exactly":
        return
    required = inp.requirements
    admissible = inp.clusters.index[inp.clusters["admissible"].to_numpy(bool)]
    counts = inp.counts[inp.counts["stronghold_id"].isin(list(required))
                        & inp.counts["cluster_id"].isin(list(admissible))]
    hosts = counts["cluster_id"].map(inp.clusters["host"]).rename("host")
    by = counts.groupby([hosts, counts["stronghold_id"]])["cluster_id"].agg(list)
    rows = {(o, s): cs for (o, s), cs in by.items() if len(cs) > required[s]}
    counted = hasattr(m, "a")
    m.clusters_per_host = pyo.Constraint(list(rows), rule=lambda m, o, s: sum(
        m.a[c, s] if counted else m.z[c] for c in rows[o, s]) <= required[s] * m.y[o])


#: ``linking = "auto"`` aggregates above this many guidance pairs when capacities bound most
#: aggregated rows (:func:`choose_linking`; the measurements are in docs/model.md).
AGGREGATE_ABOVE_PAIRS = 50_000
#: ... and when at least this share of the (operator, stronghold) rows has M_os = cap_o below
#: the weight the operator could reach in that stronghold.
CAPACITY_BOUND_SHARE = 0.5


def _linking_rows(inp: ModelInputs, *, members: bool = False) -> pd.DataFrame:
    """One row per (operator_id, stronghold_id) that serves pairs: ``reach`` (the weight of
    its groups), ``big_m`` = min(cap_o, reach) and, if asked, ``members`` (the groups: only
    the builder needs the lists, the rule in :func:`choose_linking` does not)."""
    pairs = inp.pairs.assign(stronghold_id=inp.pairs["group_id"].map(inp.groups["stronghold_id"]),
                             q=inp.pairs["group_id"].map(inp.groups["weight"]))
    by = pairs.groupby(["operator_id", "stronghold_id"])
    rows = by.agg(members=("group_id", list), reach=("q", "sum")) if members else \
        by.agg(reach=("q", "sum"))
    cap = inp.operators["capacity"].reindex(rows.index.get_level_values("operator_id"))
    rows["big_m"] = np.fmin(cap.to_numpy(float), rows["reach"].to_numpy(float))
    return rows


def choose_linking(inp: ModelInputs, scenario: Scenario) -> str:
    """The linking form to build: the scenario's, or under ``auto`` ``aggregated`` when the
    landscape has more than :data:`AGGREGATE_ABOVE_PAIRS` guidance pairs and capacities
    bound at least :data:`CAPACITY_BOUND_SHARE` of the aggregated rows, else ``pair``.

    Why these two: without binding capacities M_os is everything the operator can reach and
    the aggregated LP is weak (p-median, uncapacitated warehouses: ``pair`` proves pmed40 in
    96 s where ``aggregated`` is 9.5 % from its bound after 400 s); with them the aggregated
    row is almost the capacity row, and from about 10⁵ pairs on ``pair``'s extra rows cost
    more LP time than their strength repays (capa at capacity 8,000, 10⁵ pairs; the 10×
    synthetic landscape, 4.3·10⁵). Below 2·10⁴ pairs the two tie or ``pair`` wins.
    """
    chosen = scenario.solver.linking
    if chosen != "auto":
        return chosen
    if len(inp.pairs) <= AGGREGATE_ABOVE_PAIRS:
        return "pair"
    rows = _linking_rows(inp)
    bound = float((rows["big_m"] < rows["reach"] - 1e-9).mean())
    return "aggregated" if bound >= CAPACITY_BOUND_SHARE else "pair"


def serve_needs_operator(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """v_os <= y_o; and assignment only to serving nodes: x_go <= v_o,s(g) per pair
    (linking ``pair``), or Σ_{g in s} q_g x_go <= M_os v_os (``aggregated``, with
    M_os = min(cap_o, weight of s reachable by o)); :func:`choose_linking` decides."""
    m.serve_needs_operator = pyo.Constraint(m.K, rule=lambda m, o, s: m.v[o, s] <= m.y[o])
    m._linking = choose_linking(inp, scenario)
    if m._linking == "pair":
        m.assign_needs_service = pyo.Constraint(
            m.E, rule=lambda m, g, o: m.x[g, o] <= m.v[o, m._stronghold_of[g]])
        return
    # One row per (o, s) instead of one per pair: a weaker LP, far smaller.
    rows = _linking_rows(inp, members=True)
    m.assign_needs_service = pyo.Constraint(
        list(rows.index), rule=lambda m, o, s: sum(
            m._q[g] * m.x[g, o] for g in rows.at[(o, s), "members"])
        <= float(rows.at[(o, s), "big_m"]) * m.v[o, s])


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
    """Firms operator o serves (of one stronghold: guidance only). With service layers an
    operator's load is the service of its layer: local assignments, guidance assignments, or
    the members assigned to the clusters it hosts."""
    terms = [m._q[g] * m.x[g, o] for g in m._pairs_of_operator.get(o, [])
             if stronghold is None or m._stronghold_of[g] == stronghold]
    if stronghold is None and hasattr(m, "xl"):
        terms += [m._ql[g] * m.xl[g, o] for g in m._local_of_operator.get(o, [])]
        terms += [m._qc[g] * m.w[g, c] for c in m._hosted_by.get(o, [])
                  for g in m._members_of_cluster.get(c, [])]
    return sum(terms)


def capacity(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_g q_g x_go <= cap_o y_o for operators with a capacity."""
    cap = inp.operators["capacity"]
    limited = [o for o in m._in_scope if not np.isnan(cap[o])]
    m.capacity = pyo.Constraint(limited, rule=lambda m, o: _served_by(m, o) <= cap[o] * m.y[o])


def max_utilisation(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_g q_g x_go <= max_utilisation · cap_o y_o for operators with a capacity (only when
    max_utilisation < 1; capacity is then the looser row)."""
    u = scenario.policy.max_utilisation
    if u >= 1:
        return
    cap = inp.operators["capacity"]
    limited = [o for o in m._in_scope if not np.isnan(cap[o])]
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
            m._in_scope, rule=lambda m, o: _served_by(m, o) >= pol.min_firms_per_operator * m.y[o])
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


def coverage_floors(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Soft coverage: Σ_{g in p} q_g (1 - u_g) >= floor · Σ_{g in p} q_g for every
    municipality p (min_coverage_per_municipality) and region p (min_coverage_per_region)."""
    pol = scenario.policy
    if pol.coverage != "soft":
        return
    weight = inp.groups["weight"]
    for key, column in (("min_coverage_per_municipality", "municipality_id"),
                        ("min_coverage_per_region", "region_id")):
        floor = getattr(pol, key)
        if floor <= 0:
            continue
        places = inp.groups.groupby(column, sort=True).groups

        def rule(m: pyo.ConcreteModel, p: str, places: dict = places,
                 floor: float = floor) -> object:
            groups = list(places[p])
            return _served_weight(m, groups) >= floor * float(weight[groups].sum())

        m.add_component(key, pyo.Constraint(sorted(places), rule=rule))


def regional_presence(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_{o in r} y_o >= min_operators_per_region for every region."""
    k = scenario.policy.min_operators_per_region
    if k <= 0:
        return
    by_region = inp.operators[inp.operators["in_scope"]].groupby("region_id").groups

    def rule(m: pyo.ConcreteModel, r: str) -> object:
        ops = list(by_region.get(r, []))
        if not ops:
            return pyo.Constraint.Infeasible
        return sum(m.y[o] for o in ops) >= k

    m.regional_presence = pyo.Constraint(list(inp.regions), rule=rule)


def operator_count(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """min_operators <= Σ_o y_o <= max_operators (in-scope operators)."""
    pol = scenario.policy
    total = sum(m.y[o] for o in m._in_scope)
    if pol.min_operators > 0:
        m.min_operators = pyo.Constraint(expr=total >= pol.min_operators)
    if pol.max_operators is not None:
        m.max_operators = pyo.Constraint(expr=total <= pol.max_operators)


def forced(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """y_o = 1 for o in keep; y_o = 0 for o in close (by id, or by kind)."""
    m.keep = pyo.Constraint(list(inp.keep), rule=lambda m, o: m.y[o] == 1)
    m.close = pyo.Constraint(list(inp.close), rule=lambda m, o: m.y[o] == 0)


def annual_budget(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_o (a_o y_o + v_o Σ_g q_g x_go) + Σ_c a_c (z_c + Σ_c' mg_cc') <= annual_budget
    (in-scope operators, clusters running on their own or inside a successor)."""
    budget = scenario.policy.annual_budget
    if budget is None:
        return
    m.annual_budget = pyo.Constraint(expr=_operators_running_cost(m, inp)
                                     + _clusters_running_cost(m, inp) <= budget)


def _operators_running_cost(m: pyo.ConcreteModel, inp: ModelInputs) -> object:
    """Σ_o a_o y_o over in-scope operators + Σ_o v_o Σ_g q_g x_go over all: a fixed part
    while it is kept and a part that follows the firms it serves (with layers, the members
    of the clusters it hosts, merged ones included), so that a closure saves what leaves
    with it and not what its firms take to their new operator. The per-firm part counts for
    out-of-scope hosts too: which of their clusters' members are served is the plan's
    decision."""
    a = inp.operators["annual_cost"]
    v = inp.operators["cost_per_firm"]
    return sum(a[o] * m.y[o] for o in m._in_scope) + sum(
        float(v[o]) * _served_by(m, o) for o in m.O if v[o] > 0)


def _clusters_running_cost(m: pyo.ConcreteModel, inp: ModelInputs) -> object:
    """Σ_c a_c z_c + Σ_(c0,c) a_c0 mg_c0c: a merged cluster's programme goes on inside its
    successor (its members and capacity move along, and so does what serving them costs);
    a merger saves its host, not its programme."""
    a_c = inp.clusters["annual_cost"]
    own = sum(a_c[c] * m.z[c] for c in m.C if a_c[c] > 0)
    merged = sum(a_c[c0] * m.mg[c0, c] for c0, c in m.MG if a_c[c0] > 0) \
        if hasattr(m, "mg") else 0
    return own + merged


def max_strongholds_per_cluster(m: pyo.ConcreteModel, inp: ModelInputs,
                                scenario: Scenario) -> None:
    """a_cs <= z_c; Σ_s a_cs <= max_strongholds_per_cluster · z_c: a selected cluster counts
    for at most that many strongholds; under cluster_rule = "exactly" also Σ_s a_cs >= z_c
    for a cluster whose strongholds all carry a requirement."""
    k = scenario.policy.max_strongholds_per_cluster
    if k is None:
        return
    m.counts_need_selection = pyo.Constraint(m.A, rule=lambda m, c, s: m.a[c, s] <= m.z[c])
    by_c = inp.counts.groupby("cluster_id")["stronghold_id"].agg(list)
    m.max_strongholds_per_cluster = pyo.Constraint(
        list(by_c.index), rule=lambda m, c: sum(m.a[c, s] for s in by_c[c]) <= k * m.z[c])
    if scenario.policy.cluster_rule == "at_least":
        return
    # "Exactly n_s clusters" means no selected cluster beside them: one whose strongholds
    # all carry a requirement must count for one of them (else a cluster counting for
    # nothing would slip past the rule).
    required = set(inp.requirements)
    bound = [c for c, listed in by_c.items() if set(listed) <= required]
    m.counted_when_selected = pyo.Constraint(
        bound, rule=lambda m, c: sum(m.a[c, s] for s in by_c[c]) >= m.z[c])


def forced_clusters(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """z_c = 1 for c in keep_clusters; z_c = 0 for c in close_clusters."""
    if inp.keep_clusters:
        m.keep_clusters = pyo.Constraint(list(inp.keep_clusters), rule=lambda m, c: m.z[c] == 1)
    if inp.close_clusters:
        m.close_clusters = pyo.Constraint(list(inp.close_clusters),
                                          rule=lambda m, c: m.z[c] == 0)


def outside_scope(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """y_o = 1 for operators of a kind with in_scope = false: not a decision of the reform."""
    for o in inp.operators.index[~inp.operators["in_scope"].to_numpy(bool)]:
        m.y[o].fix(1)


def _layer_assignment(m: pyo.ConcreteModel, groups: pyo.Set, x: pyo.Var, u: str,
                      providers: pd.Series) -> pyo.Constraint:
    """Σ_p x_gp (+ u_g under soft coverage) = 1 for every group of a layer."""
    soft = hasattr(m, u)

    def rule(m: pyo.ConcreteModel, g: str) -> object:
        served = sum(x[g, p] for p in providers.get(g, []))
        if soft:
            return served + getattr(m, u)[g] == 1
        return pyo.Constraint.Infeasible if isinstance(served, int) else served == 1

    return pyo.Constraint(groups, rule=rule)


def local_service(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_o xl_go (+ ul_g) = 1 for every local group; xl_go <= y_o."""
    if not inp.layered:
        return
    m.local_assignment = _layer_assignment(m, m.GL, m.xl, "ul", m._local_of_group)
    m.local_needs_operator = pyo.Constraint(m.EL, rule=lambda m, g, o: m.xl[g, o] <= m.y[o])


def cluster_service(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_c w_gc (+ uc_g) = 1 for every cluster group; w_gc <= z_c."""
    if not inp.layered:
        return
    m.cluster_assignment = _layer_assignment(m, m.GC, m.w, "uc", m._cluster_of_group)
    m.cluster_needs_selection = pyo.Constraint(m.EC, rule=lambda m, g, c: m.w[g, c] <= m.z[c])


def mergers(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """z_c0 + Σ_c mg_c0c <= 1 (a merged cluster is not selected, one successor);
    mg_c0c <= z_c; merge relief δ_gc >= w_gc - Σ_{c0 current for g} mg_c0c."""
    if not hasattr(m, "mg"):
        return
    succ = inp.merges.groupby("merged")["successor"].agg(list)
    m.merge_once = pyo.Constraint(list(succ.index), rule=lambda m, c0: m.z[c0] + sum(
        m.mg[c0, c] for c in succ[c0]) <= 1)
    m.merge_into_selected = pyo.Constraint(m.MG, rule=lambda m, c0, c: m.mg[c0, c] <= m.z[c])
    # One row per pair, for the disrupted share δ = w - r rather than the relieved share r
    # (r <= w and r <= Σ mg: two rows). r >= 0, i.e. δ <= w, is left out: a larger δ only
    # costs more. The relaxation's bound is the same and HiGHS solves it about 3x faster.
    m.merge_relief = pyo.Constraint(m.R, rule=lambda m, g, c: m.delta[g, c] >= m.w[g, c] - sum(
        m.mg[c0, c] for c0 in m._relief_sources[g, c]))


def polish_relief(m: pyo.ConcreteModel) -> None:
    """Give every disrupted share its smallest value, δ_gc = max(0, w_gc - Σ mg over its
    sources).

    δ only raises the disruption cost, so an optimal solution has it at that bound; an
    incumbent stopped at a loose gap (or a max_effect plan, whose objective does not see δ)
    may not, and would then report more disruption than its decisions cause (the checker
    recomputes the true figure). Lowering δ to its row keeps the plan feasible and makes the
    reported cost that of the decisions."""
    if not hasattr(m, "delta"):
        return
    for g, c in m.R:
        relief = sum(pyo.value(m.mg[c0, c]) for c0 in m._relief_sources[g, c])
        # Clipped to [0, 1]: solver values may stray by rounding (1.0000000000000142).
        m.delta[g, c].set_value(max(0.0, min(pyo.value(m.w[g, c]) - relief, 1.0)))


def _members(m: pyo.ConcreteModel, c: str) -> object:
    return sum(m._qc[g] * m.w[g, c] for g in m._members_of_cluster.get(c, []))


def cluster_capacity(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Σ_g q_g w_gc <= cap_c z_c for clusters with a capacity (max_utilisation · cap_c when
    headroom is asked for)."""
    if not inp.layered:
        return
    total = float(inp.cluster_groups["weight"].sum())
    # A cluster without a capacity can take every member: that is its usable capacity.
    cap = (inp.clusters["capacity"].fillna(total).clip(upper=total)
           * scenario.policy.max_utilisation)
    raw = inp.clusters["capacity"]
    limited = [c for c in m.C if not np.isnan(raw[c]) and raw[c] < total]
    into = inp.merges.groupby("successor")["merged"].agg(list) if hasattr(m, "mg") else {}

    def rule(m: pyo.ConcreteModel, c: str) -> object:
        merged = sum(float(cap[c0]) * m.mg[c0, c] for c0 in into.get(c, []))
        return _members(m, c) <= float(cap[c]) * m.z[c] + merged

    m.cluster_capacity = pyo.Constraint(limited, rule=rule)


def min_members_per_cluster(m: pyo.ConcreteModel, inp: ModelInputs,
                            scenario: Scenario) -> None:
    """Σ_g q_g w_gc >= min_members_per_cluster · z_c: a selected cluster's critical mass."""
    k = scenario.policy.min_members_per_cluster
    if not inp.layered or k <= 0:
        return
    m.min_members_per_cluster = pyo.Constraint(m.C, rule=lambda m, c: _members(m, c) >= k * m.z[c])


def objective(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """Minimise the sum of the six cost terms, each kept as a named expression."""
    cost = scenario.costs
    ops = inp.operators
    pairs = inp.pairs
    q = inp.groups["weight"]
    pair_q = pairs["group_id"].map(q).to_numpy(float)
    keys = list(row_tuples(pairs, "group_id", "operator_id"))
    service_coef = cost.horizon_years * cost.cost_per_firm_minute * pair_q * \
        pairs["minutes"].to_numpy(float)
    disruption_coef = cost.disruption_cost_per_firm * pairs["disrupted"].to_numpy(float)

    h = cost.horizon_years
    m.cost_operating = pyo.Expression(expr=h * _operators_running_cost(m, inp))
    m.cost_service = pyo.Expression(
        expr=sum(float(c) * m.x[k] for k, c in zip(keys, service_coef, strict=True) if c)
        + _local_travel(m, inp, scenario))
    m.cost_closure = pyo.Expression(
        expr=sum(ops.at[o, "closure_cost"] * (1 - m.y[o]) for o in m.O))
    upgrade = inp.clusters["upgrade_cost"]
    m.cost_upgrade = pyo.Expression(
        expr=sum(upgrade[c] * m.z[c] for c in m.C if upgrade[c] > 0))
    m.cost_disruption = pyo.Expression(
        expr=sum(float(c) * m.x[k] for k, c in zip(keys, disruption_coef, strict=True) if c)
        + _cluster_moves(m, inp, scenario))
    pen = cost.unserved_penalty_per_firm
    unserved = []
    if scenario.policy.coverage == "soft":
        w = inp.groups["penalty_weight"]
        unserved = [pen * w[g] * q[g] * m.u[g] for g in m.G]
    for var, groups in (("ul", inp.local_groups), ("uc", inp.cluster_groups)):
        if hasattr(m, var):
            u = getattr(m, var)
            unserved += [pen * groups.at[g, "penalty"] * u[g] for g in groups.index]
    m.cost_unserved_penalty = pyo.Expression(expr=sum(unserved) if unserved else 0.0)
    m.cost_cluster_operating = pyo.Expression(expr=h * _clusters_running_cost(m, inp))
    # y_o is fixed at 1 for these (outside_scope): the term is a constant, kept as a sum of
    # y so that the family's fixing is what keeps them open.
    out = [o for o in m.O if not ops.at[o, "in_scope"]]
    m.cost_outside_scope = pyo.Expression(
        expr=h * sum(ops.at[o, "annual_cost"] * m.y[o] for o in out) if out else 0.0)
    merge_cost = inp.clusters["merge_cost"]
    m.cost_merger = pyo.Expression(expr=sum(
        float(merge_cost[c0]) * m.mg[c0, c] for c0, c in m.MG if merge_cost[c0] > 0)
        if hasattr(m, "mg") else 0.0)
    # HiGHS sees thousands of DKK: in DKK the coefficients reach 1e8-1e9, far beyond what its
    # 1e-7 dual feasibility tolerance handles well (it warns and slows down).
    m.objective_scale = OBJECTIVE_SCALE
    m.cost = pyo.Objective(
        expr=(m.cost_operating + m.cost_service + m.cost_closure + m.cost_upgrade
              + m.cost_disruption + m.cost_unserved_penalty + m.cost_cluster_operating
              + m.cost_outside_scope + m.cost_merger) / OBJECTIVE_SCALE,
        sense=pyo.minimize)


def effect(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> None:
    """The estimated jobs of a plan: Σ_services rate · Σ_g e_g · (share of g served), e_g the
    group's weight with growth firms counted growth_firm_factor times (maximised under
    ``objective.sense = "max_effect"``)."""
    rates = scenario.effect.jobs_per_served_firm
    terms = [rates.guidance * inp.groups.at[g, "effect"] * m.x[g, o] for g, o in m.E]
    if inp.layered:
        terms += [rates.local * inp.local_groups.at[g, "effect"] * m.xl[g, o] for g, o in m.EL]
        terms += [rates.cluster * inp.cluster_groups.at[g, "effect"] * m.w[g, c]
                  for g, c in m.EC]
    m.effect = pyo.Expression(expr=sum(terms) if terms else 0.0)


def _local_travel(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> object:
    """Travel cost of local service (clusters are national: their members do not commute)."""
    if not inp.layered:
        return 0
    cost = scenario.costs
    lp = inp.local_pairs
    coef = cost.horizon_years * cost.cost_per_firm_minute * lp["group_id"].map(
        inp.local_groups["weight"]).to_numpy(float) * lp["minutes"].to_numpy(float)
    return sum(float(c) * m.xl[k] for k, c in zip(row_tuples(lp, "group_id", "operator_id"),
                                                  coef, strict=True) if c)


def _cluster_moves(m: pyo.ConcreteModel, inp: ModelInputs, scenario: Scenario) -> object:
    """Disruption with service layers: members assigned to a cluster none of whose current
    clusters it is."""
    if not inp.layered:
        return 0
    cp = inp.cluster_pairs[inp.cluster_pairs["moved"].astype(bool)]
    d = scenario.costs.disruption_cost_per_firm
    delta = getattr(m, "delta", {})
    return sum(d * m._qc[g] * (delta[g, c] if (g, c) in delta else m.w[g, c])
               for g, c in row_tuples(cp, "group_id", "cluster_id"))


OBJECTIVE_SCALE = 1e3

Builder = Callable[[pyo.ConcreteModel, ModelInputs, Scenario], None]
#: The builder of each family of :data:`klynge_opt.model.families.FAMILIES`, by its name.
BUILDERS: dict[str, Builder] = {
    "one_cluster_per_stronghold": one_cluster_per_stronghold,
    "cluster_admissibility": cluster_admissibility,
    "host_retained": host_retained,
    "clusters_per_host": clusters_per_host,
    "serve_needs_operator": serve_needs_operator,
    "assignment": assignment,
    "capacity": capacity,
    "max_utilisation": max_utilisation,
    "stronghold_capacity": stronghold_capacity,
    "critical_mass": critical_mass,
    "coverage": coverage,
    "rural_parity": rural_parity,
    "coverage_floors": coverage_floors,
    "regional_presence": regional_presence,
    "operator_count": operator_count,
    "forced": forced,
    "annual_budget": annual_budget,
    "max_strongholds_per_cluster": max_strongholds_per_cluster,
    "forced_clusters": forced_clusters,
    "outside_scope": outside_scope,
    "local_service": local_service,
    "cluster_service": cluster_service,
    "mergers": mergers,
    "cluster_capacity": cluster_capacity,
    "min_members_per_cluster": min_members_per_cluster,
}
