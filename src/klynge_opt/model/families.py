"""The constraint families of ``docs/model.md``, declared once.

One :class:`Family` record per family: its name (the ``docs/model.md`` heading, the builder in
:mod:`klynge_opt.model.formulation` and the rule in :mod:`klynge_opt.results.check` carry
the same name), the Pyomo components it creates, the policy keys that switch it on, the
violations the checker reports for it, how ``price`` relaxes it, how the elastic model of the
diagnosis penalises and words its slack, and which suggested changes can repair it.

The records are plain data (no Pyomo): the checker may read the names here, never the builders.
``tests/test_families.py`` keeps every consumer in step with this table.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..data.scenario import Policy

Updates = dict[str, Any]
#: How a family enters the model: as constraint rows, by fixing variables, or by leaving pairs
#: out of the assignment index E.
Form = Literal["rows", "fixing", "index"]


@dataclass(frozen=True)
class Relaxation:
    """One way ``price`` relaxes a family: the row label, the words, when it applies and the
    scenario change. ``strongholds`` are the data set's stronghold ids."""

    policy: str
    relaxed_to: str
    active: Callable[[Policy, Sequence[str]], bool]
    updates: Callable[[Policy, Sequence[str]], Updates]


@dataclass(frozen=True)
class Family:
    name: str
    doc: str
    form: Form = "rows"
    #: Pyomo components the builder may create (constraint names in the LP file).
    components: tuple[str, ...] = ()
    #: Scenario policy keys that switch the family on or set its right-hand side.
    policy_keys: tuple[str, ...] = ()
    #: Structural families link the decisions; they are not policies, so they have no price.
    structural: bool = False
    #: A valid inequality: implied by the others, so the checker has no rule for it and the
    #: elastic model switches it off.
    implied: bool = False
    #: Its rows tie the assignments of different groups together (a shared capacity, a share
    #: of all firms, a budget). Without any such row the choice of operator is separate for
    #: each group once y, v and z are fixed, so binary assignments can be relaxed to [0, 1]
    #: at no loss (``docs/model.md``, "Integral assignments").
    couples_assignments: bool = False
    #: Violation names the independent checker reports for this family.
    checks: tuple[str, ...] = ()
    relaxations: tuple[Relaxation, ...] = ()
    #: Penalty per unit of slack in the elastic model (None: never relaxed there).
    elastic_weight: float | None = None
    #: Slack measured as a share of all firms: the elastic penalty is scaled to firms.
    share: bool = False
    #: Per component: how an elastic slack is reported. Fields: key, amount, dkk (amount as
    #: money) and, for a group key, firms, place, stronghold.
    messages: Mapping[str, str] = field(default_factory=dict)
    #: Names of the diagnosis's suggested changes (``diagnosis.REMEDIES``) that can repair it.
    remedies: tuple[str, ...] = ()


def _cluster_rule_active(pol: Policy, strongholds: Sequence[str]) -> bool:
    return any(pol.stronghold_clusters.get(s, pol.clusters_per_stronghold) > 0
               for s in strongholds if s not in pol.exempt_strongholds)


def _relax(policy: str, relaxed_to: str, active: Callable[[Policy], bool],
           updates: Updates) -> Relaxation:
    """A relaxation that needs only the policy and always makes the same change."""
    return Relaxation(policy, relaxed_to, lambda pol, _s: active(pol),
                      lambda _p, _s: copy.deepcopy(updates))


_OPERATOR_LEVERS = ("max_operators", "reopen", "close_kinds")

FAMILIES: tuple[Family, ...] = (
    Family(
        "one_cluster_per_stronghold", "Σ_{c covers s} z_c = n_s for every stronghold s.",
        components=("one_cluster_per_stronghold",),
        policy_keys=("clusters_per_stronghold", "stronghold_clusters", "exempt_strongholds",
                     "cluster_rule", "count_secondary"),
        checks=("one_cluster_per_stronghold",),
        relaxations=(Relaxation(
            "one cluster per stronghold", "no cluster requirement for any stronghold (all exempt)",
            _cluster_rule_active, lambda _p, s: {"policy": {"exempt_strongholds": list(s)}}),),
        elastic_weight=1.0,
        messages={"one_cluster_per_stronghold": "one_cluster_per_stronghold: stronghold {key} "
                                                "off by {amount:g} cluster(s)"},
        remedies=(*_OPERATOR_LEVERS, "cluster_mass", "gold", "exempt")),
    Family(
        "cluster_admissibility",
        "z_c = 0 for clusters below the critical mass or, with require_gold, unable to reach gold.",
        form="fixing",
        policy_keys=("min_cluster_budget", "min_knowledge_partners", "require_gold"),
        checks=("cluster_admissibility",),
        relaxations=(
            _relax("cluster critical mass", "min_cluster_budget = 0 and min_knowledge_partners = 0",
                   lambda p: p.min_cluster_budget > 0 or p.min_knowledge_partners > 0,
                   {"policy": {"min_cluster_budget": 0, "min_knowledge_partners": 0}}),
            _relax("gold-labelled clusters", "require_gold = false (no upgrades, any label)",
                   lambda p: p.require_gold, {"policy": {"require_gold": False}})),
        elastic_weight=1.0,
        messages={"cluster_admissibility": "cluster {key} would have to be selected although "
                                           "inadmissible"},
        remedies=("cluster_mass", "gold", "exempt")),
    Family(
        "host_retained", "z_c <= y_h(c) and z_c <= v_h(c),s for every s the cluster covers.",
        components=("host_retained", "host_serves"), structural=True,
        checks=("host_retained", "host_serves")),
    Family(
        "clusters_per_host",
        "Valid inequality (cluster_rule = exactly): Σ_{c hosted by o} a_cs <= n_s y_o.",
        components=("clusters_per_host",), structural=True, implied=True),
    Family(
        "serve_needs_operator",
        "v_os <= y_o, and assignments only to serving nodes (assign_needs_service).",
        components=("serve_needs_operator", "assign_needs_service"), structural=True,
        checks=("serve_needs_operator", "assign_needs_service")),
    Family(
        "radius", "Pairs (g, o) farther than max_travel_minutes are not in E.", form="index",
        policy_keys=("max_travel_minutes",), checks=("radius",),
        relaxations=(_relax("travel-time radius",
                            "no maximum travel time (max_travel_minutes removed)",
                            lambda p: p.max_travel_minutes is not None,
                            {"policy": {"max_travel_minutes": None}}),),
        remedies=("radius", "soft_coverage")),
    Family(
        "assignment", "Σ_o x_go (+ u_g) = 1 for every group.",
        components=("assignment",), structural=True, policy_keys=("coverage", "allow_split"),
        checks=("assignment", "assignment.unserved", "assignment.binary", "assignment.group",
                "firms_complete"),
        elastic_weight=1.0,
        messages={"assignment": "coverage: {firms:g} firms unserved in {place}, stronghold "
                                "{stronghold}"},
        remedies=("radius", "soft_coverage", *_OPERATOR_LEVERS, "critical_mass")),
    Family(
        "capacity", "Σ_g q_g x_go <= cap_o y_o for operators with a capacity.",
        components=("capacity",), structural=True,
        couples_assignments=True, checks=("capacity",), elastic_weight=1.0,
        messages={"capacity": "capacity: operator {key} would need {amount:g} more places"},
        remedies=(*_OPERATOR_LEVERS, "critical_mass")),
    Family(
        "max_utilisation", "Σ_g q_g x_go <= max_utilisation · cap_o y_o: headroom for growth.",
        components=("max_utilisation",), policy_keys=("max_utilisation",),
        couples_assignments=True,
        checks=("max_utilisation",),
        relaxations=(_relax("utilisation headroom", "max_utilisation = 1 (full capacity)",
                            lambda p: p.max_utilisation < 1,
                            {"policy": {"max_utilisation": 1.0}}),),
        elastic_weight=1.0,
        messages={"max_utilisation": "max_utilisation: operator {key} would need {amount:g} "
                                     "more places within its headroom"},
        remedies=("max_utilisation", *_OPERATOR_LEVERS)),
    Family(
        "stronghold_capacity",
        "Valid inequality: Σ_o min(cap_o, Q_s) v_os >= Q_s (hard coverage, all capacitated).",
        components=("stronghold_capacity",), structural=True, implied=True),
    Family(
        "critical_mass",
        "Σ_g q_g x_go >= m_op y_o (min_firms_per_operator); per node >= m_node v_os.",
        components=("min_firms_per_operator", "min_firms_per_node"),
        couples_assignments=True,
        policy_keys=("min_firms_per_operator", "min_firms_per_node"),
        checks=("min_firms_per_operator", "min_firms_per_node"),
        relaxations=(_relax("operator critical mass",
                            "min_firms_per_operator = 0 and min_firms_per_node = 0",
                            lambda p: p.min_firms_per_operator > 0 or p.min_firms_per_node > 0,
                            {"policy": {"min_firms_per_operator": 0,
                                        "min_firms_per_node": 0}}),),
        elastic_weight=1.0,
        messages={"min_firms_per_operator": "min_firms_per_operator: {key} short of the "
                                            "minimum by {amount:g} firms",
                  "min_firms_per_node": "min_firms_per_node: {key} short of the minimum by "
                                        "{amount:g} firms"},
        remedies=("critical_mass",)),
    Family(
        "coverage", "Soft coverage: Σ_g q_g (1 - u_g) >= coverage_target Σ_g q_g.",
        components=("coverage",), policy_keys=("coverage", "coverage_target"),
        couples_assignments=True,
        checks=("coverage",),
        relaxations=(_relax("coverage target",
                            "coverage_target = 0 (unserved firms still penalised)",
                            lambda p: p.coverage == "soft" and p.coverage_target > 0,
                            {"policy": {"coverage_target": 0.0}}),),
        elastic_weight=1.0, share=True,
        messages={"coverage": "coverage: the target is missed by {amount:.2%} of firms"},
        remedies=("radius", "soft_coverage", *_OPERATOR_LEVERS, "critical_mass",
                  "coverage_target", "rural_parity")),
    Family(
        "rural_parity", "Soft coverage: rural served share >= urban share - tolerance.",
        components=("rural_parity",), policy_keys=("rural_parity", "rural_parity_tolerance"),
        couples_assignments=True,
        checks=("rural_parity",),
        relaxations=(_relax("rural parity", "rural_parity = false",
                            lambda p: p.coverage == "soft" and p.rural_parity,
                            {"policy": {"rural_parity": False}}),),
        elastic_weight=1.0, share=True,
        messages={"rural_parity": "rural_parity: rural coverage short by {amount:.2%}"},
        remedies=("coverage_target", "rural_parity")),
    Family(
        "coverage_floors", "Soft coverage: each municipality's / region's served share >= "
                           "min_coverage_per_municipality / min_coverage_per_region.",
        components=("min_coverage_per_municipality", "min_coverage_per_region"),
        couples_assignments=True,
        policy_keys=("min_coverage_per_municipality", "min_coverage_per_region"),
        checks=("min_coverage_per_municipality", "min_coverage_per_region"),
        relaxations=(_relax("coverage floors per place",
                            "min_coverage_per_municipality = 0 and min_coverage_per_region = 0",
                            lambda p: p.coverage == "soft" and (
                                p.min_coverage_per_municipality > 0
                                or p.min_coverage_per_region > 0),
                            {"policy": {"min_coverage_per_municipality": 0.0,
                                        "min_coverage_per_region": 0.0}}),),
        elastic_weight=1.0,
        messages={"min_coverage_per_municipality": "min_coverage_per_municipality: "
                                                   "municipality {key} short by {amount:g} "
                                                   "firms",
                  "min_coverage_per_region": "min_coverage_per_region: region {key} short by "
                                             "{amount:g} firms"},
        remedies=("radius", *_OPERATOR_LEVERS, "coverage_floors")),
    Family(
        "regional_presence", "Σ_{o in r} y_o >= min_operators_per_region for every region.",
        components=("regional_presence",), policy_keys=("min_operators_per_region",),
        checks=("regional_presence",),
        relaxations=(_relax("regional presence", "min_operators_per_region = 0",
                            lambda p: p.min_operators_per_region > 0,
                            {"policy": {"min_operators_per_region": 0}}),),
        elastic_weight=1.0,
        messages={"regional_presence": "regional_presence: region {key} needs {amount:g} more "
                                       "operator(s)"},
        remedies=(*_OPERATOR_LEVERS, "critical_mass", "regional_presence")),
    Family(
        "operator_count", "min_operators <= Σ_o y_o <= max_operators.",
        components=("min_operators", "max_operators"),
        policy_keys=("min_operators", "max_operators"), checks=("min_operators", "max_operators"),
        relaxations=(
            _relax("max operators", "no national cap on operators (max_operators removed)",
                   lambda p: p.max_operators is not None, {"policy": {"max_operators": None}}),
            _relax("min operators", "min_operators = 0", lambda p: p.min_operators > 0,
                   {"policy": {"min_operators": 0}})),
        elastic_weight=1.0,
        messages={"max_operators": "max_operators: needs {amount:g} more",
                  "min_operators": "min_operators: {amount:g} fewer possible"},
        remedies=("max_operators", "critical_mass")),
    Family(
        "forced", "y_o = 1 for o in keep; y_o = 0 for o in close (by id or by kind).",
        components=("keep", "close"), policy_keys=("keep", "close", "keep_kinds", "close_kinds"),
        checks=("keep", "close"),
        relaxations=(_relax("forced keep/close", "keep, close, keep_kinds and close_kinds emptied",
                            lambda p: bool(p.keep or p.close or p.keep_kinds or p.close_kinds),
                            {"policy": {"keep": [], "close": [], "keep_kinds": [],
                                        "close_kinds": []}}),),
        elastic_weight=1.0,
        messages={"keep": "keep: operator {key} cannot be kept",
                  "close": "close: operator {key} cannot be closed"},
        remedies=("reopen", "close_kinds")),
    Family(
        "annual_budget", "Σ_o (a_o y_o + v_o Σ_g q_g x_go) + Σ_c a_c z_c <= annual_budget.",
        components=("annual_budget",), policy_keys=("annual_budget",), checks=("annual_budget",),
        couples_assignments=True,
        relaxations=(_relax("annual budget",
                            "no cap on annual operating cost (annual_budget removed)",
                            lambda p: p.annual_budget is not None,
                            {"policy": {"annual_budget": None}}),),
        # Money counts per million DKK against one operator or one unserved firm.
        elastic_weight=1e-6,
        messages={"annual_budget": "annual_budget: {dkk} more needed per year"},
        remedies=("annual_budget",)),
)

# The service layers (a kinds table; docs/model.md, Service layers). Without one, none of
# these creates a row.
FAMILIES += (
    Family(
        "max_strongholds_per_cluster",
        "a_cs <= z_c and Σ_s a_cs <= max_strongholds_per_cluster · z_c (a_cs: c counts for s); "
        "under cluster_rule = \"exactly\" Σ_s a_cs >= z_c where all of c's strongholds are "
        "required.",
        components=("counts_need_selection", "max_strongholds_per_cluster",
                    "counted_when_selected"),
        policy_keys=("max_strongholds_per_cluster", "count_secondary", "cluster_rule"),
        checks=("max_strongholds_per_cluster", "counted_when_selected"),
        relaxations=(_relax("dedicated clusters", "max_strongholds_per_cluster removed",
                            lambda p: p.max_strongholds_per_cluster is not None,
                            {"policy": {"max_strongholds_per_cluster": None}}),),
        elastic_weight=1.0,
        messages={"max_strongholds_per_cluster": "max_strongholds_per_cluster: cluster {key} "
                                                 "would count for {amount:g} more",
                  "counts_need_selection": "a cluster not selected would count for {key}",
                  "counted_when_selected": "cluster {key} would be selected without counting "
                                           "for a stronghold"},
        remedies=("dedicated", "exempt")),
    Family(
        "forced_clusters", "z_c = 1 for c in keep_clusters; z_c = 0 for c in close_clusters.",
        components=("keep_clusters", "close_clusters"),
        policy_keys=("keep_clusters", "close_clusters"), checks=("keep_clusters",
                                                                "close_clusters"),
        relaxations=(_relax("forced clusters", "keep_clusters and close_clusters emptied",
                            lambda p: bool(p.keep_clusters or p.close_clusters),
                            {"policy": {"keep_clusters": [], "close_clusters": []}}),),
        elastic_weight=1.0,
        messages={"keep_clusters": "keep_clusters: cluster {key} cannot be selected",
                  "close_clusters": "close_clusters: cluster {key} cannot be left out"},
        remedies=("forced_clusters",)),
    Family(
        "outside_scope", "y_o = 1 for operators of a kind with in_scope = false.",
        form="fixing", structural=True, checks=("outside_scope",)),
    Family(
        "local_service", "Σ_o xl_go (+ ul_g) = 1 per municipality; xl_go <= y_o.",
        components=("local_assignment", "local_needs_operator"), structural=True,
        checks=("local_service", "local_service.unserved", "local_service.operator"),
        elastic_weight=1.0,
        messages={"local_assignment": "local service: {firms:g} firms unserved in {place}",
                  "local_needs_operator": "local service: {key} served by a closed operator"},
        remedies=("local_radius", "soft_coverage")),
    Family(
        "local_radius", "Pairs (g, o) of local service farther than local.max_travel_minutes "
                        "are not in E^L.", form="index",
        policy_keys=("local",), checks=("local_radius",),
        relaxations=(_relax("local travel-time radius", "no maximum travel time to local "
                                                        "service (local.max_travel_minutes "
                                                        "removed)",
                            lambda p: p.local.max_travel_minutes is not None,
                            {"policy": {"local": {"max_travel_minutes": None}}}),),
        remedies=("local_radius",)),
    Family(
        "cluster_service", "Σ_c w_gc (+ uc_g) = 1 per member group; w_gc <= z_c.",
        components=("cluster_assignment", "cluster_needs_selection"), structural=True,
        policy_keys=("cluster_service",),
        checks=("cluster_service", "cluster_service.unserved", "cluster_service.cluster"),
        elastic_weight=1.0,
        messages={"cluster_assignment": "cluster service: {firms:g} members unserved in "
                                        "{place}, stronghold {stronghold}",
                  "cluster_needs_selection": "cluster service: {key} assigned to a cluster "
                                             "not selected"},
        remedies=("cluster_radius", "soft_coverage", "exempt")),
    Family(
        "cluster_radius", "Pairs (g, c) farther from the cluster's host than "
                          "cluster.max_travel_minutes are not in E^C.", form="index",
        policy_keys=("cluster",), checks=("cluster_radius",),
        relaxations=(_relax("cluster travel-time radius", "clusters national again "
                                                          "(cluster.max_travel_minutes removed)",
                            lambda p: p.cluster.max_travel_minutes is not None,
                            {"policy": {"cluster": {"max_travel_minutes": None}}}),),
        remedies=("cluster_radius",)),
    Family(
        "mergers", "z_c0 + Σ_c mg_c0c <= 1; mg_c0c <= z_c; δ_gc >= w_gc - Σ mg_c0c.",
        components=("merge_once", "merge_into_selected", "merge_relief"),
        structural=True, policy_keys=("allow_mergers",), checks=("mergers",)),
    Family(
        "cluster_capacity", "Σ_g q_g w_gc <= max_utilisation · (cap_c z_c + Σ_c0 cap_c0 "
                            "mg_c0c).",
        components=("cluster_capacity",), structural=True,
        couples_assignments=True, checks=("cluster_capacity",),
        elastic_weight=1.0,
        messages={"cluster_capacity": "cluster_capacity: cluster {key} would need {amount:g} "
                                      "more places"},
        remedies=("max_utilisation", "exempt")),
    Family(
        "min_members_per_cluster", "Σ_g q_g w_gc >= min_members_per_cluster · z_c.",
        components=("min_members_per_cluster",), policy_keys=("min_members_per_cluster",),
        couples_assignments=True,
        checks=("min_members_per_cluster",),
        relaxations=(_relax("cluster members critical mass", "min_members_per_cluster = 0",
                            lambda p: p.min_members_per_cluster > 0,
                            {"policy": {"min_members_per_cluster": 0}}),),
        elastic_weight=1.0,
        messages={"min_members_per_cluster": "min_members_per_cluster: cluster {key} short "
                                             "by {amount:g} members"},
        remedies=("cluster_members",)),
)

BY_NAME: Mapping[str, Family] = {f.name: f for f in FAMILIES}
#: Component (or checker violation) name -> the family it belongs to.
FAMILY_OF: Mapping[str, str] = {
    **{c: f.name for f in FAMILIES for c in f.checks},
    **{c: f.name for f in FAMILIES for c in f.components},
    **{f.name: f.name for f in FAMILIES},
}


def relaxations() -> tuple[Relaxation, ...]:
    """Every relaxation ``price`` knows, in the registry's order."""
    return tuple(r for f in FAMILIES for r in f.relaxations)


def active_relaxations(pol: Policy, strongholds: Sequence[str]) -> list[tuple[Relaxation,
                                                                               Updates]]:
    """The relaxations that change something under ``pol``, with their scenario updates."""
    return [(r, r.updates(pol, strongholds)) for r in relaxations()
            if r.active(pol, strongholds)]
