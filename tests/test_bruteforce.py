"""The MIP against a brute-force optimiser on instances small enough to enumerate.

The brute force below is written from the data contract and the objective's definition in
``docs/model.md`` / ``klynge_opt.model.formulation.objective`` only: it reads the validated
tables (and
``klynge_opt.data.geography.travel_times`` for minutes), never the model, the landscape or the
result extraction, so a mistake there cannot hide here as well. It enumerates every operator
set y, every cluster set z, every serving set v and, for binary assignment, every assignment
of every demand group g = (municipality, stronghold) to an operator (or to "unserved" under
soft coverage). With ``allow_split`` the assignment for fixed (y, z, v) is a linear programme,
solved with scipy's ``linprog`` (split cases are skipped without scipy).

Demand groups are keyed by the (municipality, stronghold) tuple, not by a joined string, so
the brute force does not share the landscape's group-id encoding either.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables
from klynge_opt.api import solve
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.geography import travel_times
from klynge_opt.data.scenario import Scenario
from klynge_opt.data.schema import LABELS
from klynge_opt.results.result import Result

try:  # scipy is not a project dependency: split cases need it and skip without it.
    from scipy.optimize import linprog
except ImportError:  # pragma: no cover - depends on the machine
    linprog = None

HAVE_SCIPY = linprog is not None
needs_scipy = pytest.mark.skipif(not HAVE_SCIPY, reason="allow_split needs scipy's linprog")

Tables = Mapping[str, pd.DataFrame]
T = TypeVar("T")

#: Slack for comparing loads and shares; weights are small integers or halves, so exact
#: comparisons would do, but shares from the split LP are floats.
EPS = 1e-9
#: Relative agreement required between the MIP and the brute force (mip_gap is 0).
REL = 1e-6


# =========================================================================== brute force


@dataclass(frozen=True)
class Group:
    """A demand group: the firms of one municipality and stronghold."""

    municipality: str
    stronghold: str
    weight: float
    rural: bool
    #: Weight of the group's firms with at least one current membership.
    member_weight: float
    #: Per operator: weight of the group's firms that are members of a cluster it hosts.
    familiar_weight: dict[str, float]


@dataclass(frozen=True)
class Instance:
    """The raw data set in plain Python structures."""

    operators: tuple[str, ...]
    annual: dict[str, float]
    capacity: dict[str, float | None]
    closure: dict[str, float]
    region_of: dict[str, str]
    regions: tuple[str, ...]
    strongholds: tuple[str, ...]
    stronghold_weight: dict[str, float]
    competence: frozenset[tuple[str, str]]
    clusters: tuple[str, ...]
    host: dict[str, str]
    covers: dict[str, frozenset[str]]
    budget: dict[str, float]
    label: dict[str, str]
    gold_upgrade_cost: dict[str, float | None]
    knowledge_partners: dict[str, int]
    groups: tuple[Group, ...]
    #: minutes[(municipality, operator)]: travel from a municipality to an operator's seat.
    minutes: dict[tuple[str, str], float]


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def read_instance(tables: Tables) -> Instance:
    """Validate the tables (the data layer fills defaults) and flatten them."""
    ds = from_tables(tables)
    times = travel_times(ds)
    munis = ds.municipalities.set_index("municipality_id")
    ops = ds.operators.set_index("operator_id")
    operators = tuple(ops.index)
    op_muni = ops["municipality_id"].to_dict()
    clusters = ds.clusters.set_index("cluster_id")
    covers: dict[str, set[str]] = {c: set() for c in clusters.index}
    for c, s in ds.cluster_strongholds[["cluster_id", "stronghold_id"]].itertuples(index=False):
        covers[c].add(s)
    host = clusters["operator_id"].to_dict()

    firm_clusters: dict[str, set[str]] = {}
    for f, c in ds.memberships[["firm_id", "cluster_id"]].itertuples(index=False):
        firm_clusters.setdefault(f, set()).add(c)
    weight: dict[tuple[str, str], float] = {}
    member: dict[tuple[str, str], float] = {}
    familiar: dict[tuple[str, str], dict[str, float]] = {}
    for f, mu, s, w in ds.firms[["firm_id", "municipality_id", "stronghold_id",
                                 "weight"]].itertuples(index=False):
        key = (mu, s)
        weight[key] = weight.get(key, 0.0) + float(w)
        member.setdefault(key, 0.0)
        familiar.setdefault(key, {})
        mine = firm_clusters.get(f, set())
        if mine:
            member[key] += float(w)
            # Each firm counts once per operator, however many of its clusters it hosts.
            for o in {host[c] for c in mine}:
                familiar[key][o] = familiar[key].get(o, 0.0) + float(w)
    groups = tuple(Group(mu, s, weight[(mu, s)], bool(munis.at[mu, "rural"]), member[(mu, s)],
                         familiar[(mu, s)]) for mu, s in sorted(weight))
    minutes = {(g.municipality, o): times.between(g.municipality, op_muni[o])
               for g in groups for o in operators}
    return Instance(
        operators=operators,
        annual={o: float(ops.at[o, "annual_cost"]) for o in operators},
        capacity={o: None if _missing(ops.at[o, "capacity"]) else float(ops.at[o, "capacity"])
                  for o in operators},
        closure={o: float(ops.at[o, "closure_cost"]) for o in operators},
        region_of={o: str(munis.at[op_muni[o], "region_id"]) for o in operators},
        regions=tuple(ds.regions["region_id"]),
        strongholds=tuple(ds.strongholds["stronghold_id"]),
        stronghold_weight=ds.strongholds.set_index("stronghold_id")["weight"].astype(float)
        .to_dict(),
        competence=frozenset(zip(ds.operator_strongholds["operator_id"],
                                 ds.operator_strongholds["stronghold_id"], strict=True)),
        clusters=tuple(clusters.index),
        host=host,
        covers={c: frozenset(s) for c, s in covers.items()},
        budget=clusters["budget"].astype(float).to_dict(),
        label=clusters["label"].to_dict(),
        gold_upgrade_cost={c: None if _missing(v) else float(v)
                           for c, v in clusters["gold_upgrade_cost"].items()},
        knowledge_partners={c: int(v) for c, v in clusters["knowledge_partners"].items()},
        groups=groups,
        minutes=minutes,
    )


@dataclass(frozen=True)
class Optimum:
    """The brute-force optimum and one plan attaining it (ties: the first one found)."""

    objective: float
    kept: frozenset[str]
    selected: frozenset[str]
    serving: frozenset[tuple[str, str]]


def subsets(items: Sequence[T]) -> Iterable[frozenset[T]]:
    for mask in range(1 << len(items)):
        yield frozenset(x for i, x in enumerate(items) if mask >> i & 1)


def brute_force(tables: Tables, scenario: Scenario, *,
                unserved_only: bool = False) -> Optimum | None:
    """The optimal plan by exhaustive enumeration, or None if no plan is feasible.

    ``unserved_only`` restricts soft coverage to plans that serve no group (to recognise the
    known extraction bug, see :func:`known_bug`)."""
    inst = read_instance(tables)
    pol = scenario.policy
    if pol.allow_split and not HAVE_SCIPY:
        raise RuntimeError("allow_split needs scipy")
    cost = scenario.costs
    best: Optimum | None = None
    for kept in subsets(inst.operators):
        if not _operators_feasible(inst, scenario, kept):
            continue
        fixed = cost.horizon_years * sum(inst.annual[o] for o in kept) + \
            sum(inst.closure[o] for o in inst.operators if o not in kept)
        # Cluster choices: the serving pairs each needs and its upgrade cost, cheapest first.
        cluster_options = sorted(_cluster_options(inst, scenario, kept), key=lambda t: t[1])
        if not cluster_options:
            continue
        competent = sorted(p for p in inst.competence if p[0] in kept)
        for serving in subsets(competent):
            choice = next(((z, up) for z, up, needs in cluster_options if needs <= serving),
                          None)
            if choice is None:
                continue
            selected, upgrade = choice
            lower = fixed + upgrade
            # Every assignment cost is >= 0, so this (y, z, v) cannot beat the incumbent.
            if best is not None and lower > best.objective:
                continue
            assign = _best_assignment(inst, scenario, kept, serving, unserved_only)
            if assign is None:
                continue
            total = lower + assign
            if best is None or total < best.objective:
                best = Optimum(total, kept, selected, serving)
    return best


def _operators_feasible(inst: Instance, scenario: Scenario, kept: frozenset[str]) -> bool:
    pol = scenario.policy
    if not set(pol.keep) <= kept or set(pol.close) & kept:
        return False
    if len(kept) < pol.min_operators:
        return False
    if pol.max_operators is not None and len(kept) > pol.max_operators:
        return False
    if pol.min_operators_per_region > 0:
        for r in inst.regions:
            if sum(inst.region_of[o] == r for o in kept) < pol.min_operators_per_region:
                return False
    return pol.annual_budget is None or \
        sum(inst.annual[o] for o in kept) <= pol.annual_budget + EPS


def _cluster_options(inst: Instance, scenario: Scenario, kept: frozenset[str],
                     ) -> list[tuple[frozenset[str], float, frozenset[tuple[str, str]]]]:
    """Every feasible cluster set: (clusters, upgrade cost, serving pairs it requires)."""
    pol = scenario.policy
    out = []
    for chosen in subsets(inst.clusters):
        ok = True
        upgrade = 0.0
        for c in chosen:
            gold = inst.label[c] == "gold"
            admissible = inst.budget[c] >= pol.min_cluster_budget and \
                inst.knowledge_partners[c] >= pol.min_knowledge_partners and \
                (not pol.require_gold or gold or inst.gold_upgrade_cost[c] is not None)
            if not admissible or inst.host[c] not in kept:
                ok = False
                break
            if pol.require_gold and not gold:
                upgrade += inst.gold_upgrade_cost[c] or 0.0
        if not ok:
            continue
        if any(sum(s in inst.covers[c] for c in chosen) != pol.clusters_per_stronghold
               for s in inst.strongholds):
            continue
        needs = frozenset((inst.host[c], s) for c in chosen for s in inst.covers[c])
        out.append((chosen, upgrade, needs))
    return out


def _options(inst: Instance, scenario: Scenario, serving: frozenset[tuple[str, str]],
             unserved_only: bool = False) -> list[list[tuple[str | None, float]]]:
    """Per group: (operator or None for unserved, cost of that choice for the whole group)."""
    pol, cost = scenario.policy, scenario.costs
    out = []
    for g in inst.groups:
        opts: list[tuple[str | None, float]] = []
        for o in inst.operators:
            t = inst.minutes[(g.municipality, o)]
            if (o, g.stronghold) not in serving or unserved_only:
                continue
            if pol.max_travel_minutes is not None and t > pol.max_travel_minutes + EPS:
                continue
            disrupted = g.member_weight - g.familiar_weight.get(o, 0.0)
            opts.append((o, cost.horizon_years * cost.cost_per_firm_minute * g.weight * t
                         + cost.disruption_cost_per_firm * disrupted))
        if pol.coverage == "soft":
            opts.append((None, cost.unserved_penalty_per_firm
                         * inst.stronghold_weight[g.stronghold] * g.weight))
        out.append(opts)
    return out


def _best_assignment(inst: Instance, scenario: Scenario, kept: frozenset[str],
                     serving: frozenset[tuple[str, str]],
                     unserved_only: bool = False) -> float | None:
    options = _options(inst, scenario, serving, unserved_only)
    if any(not opts for opts in options):
        return None
    if scenario.policy.allow_split:
        return _split_lp(inst, scenario, kept, serving, options)
    return _binary_enumeration(inst, scenario, kept, serving, options)


def _binary_enumeration(inst: Instance, scenario: Scenario, kept: frozenset[str],
                        serving: frozenset[tuple[str, str]],
                        options: list[list[tuple[str | None, float]]]) -> float | None:
    """Every combination of one option per group, vectorised with numpy."""
    pol = scenario.policy
    sizes = [len(opts) for opts in options]
    # combo[k, g] = index of the option group g takes in combination k.
    combo = np.indices(sizes).reshape(len(sizes), -1).T
    total = np.zeros(len(combo))
    feasible = np.ones(len(combo), dtype=bool)
    q = np.array([g.weight for g in inst.groups])
    # served_by[o][k] = weight operator o serves in combination k, and per (o, s).
    served_by = {o: np.zeros(len(combo)) for o in inst.operators}
    served_node = {p: np.zeros(len(combo)) for p in serving}
    served = np.zeros(len(combo))
    served_rural = np.zeros(len(combo))
    for gi, (g, opts) in enumerate(zip(inst.groups, options, strict=True)):
        col = combo[:, gi]
        total += np.array([c for _, c in opts])[col]
        for oi, (o, _) in enumerate(opts):
            hit = (col == oi) * g.weight
            if o is None:
                continue
            served_by[o] += hit
            served_node[(o, g.stronghold)] += hit
            served += hit
            if g.rural:
                served_rural += hit
    for o, load in served_by.items():
        cap = inst.capacity[o]
        if cap is not None:
            feasible &= load <= cap + EPS
        if o in kept and pol.min_firms_per_operator > 0:
            feasible &= load >= pol.min_firms_per_operator - EPS
    if pol.min_firms_per_node > 0:
        for load in served_node.values():
            feasible &= load >= pol.min_firms_per_node - EPS
    if pol.coverage == "soft":
        q_all = float(q.sum())
        if pol.coverage_target > 0:
            feasible &= served >= pol.coverage_target * q_all - EPS
        q_r = float(sum(g.weight for g in inst.groups if g.rural))
        q_u = q_all - q_r
        if pol.rural_parity and q_r > 0 and q_u > 0:
            feasible &= served_rural / q_r >= (served - served_rural) / q_u \
                - pol.rural_parity_tolerance - EPS
    if not feasible.any():
        return None
    return float(total[feasible].min())


def _split_lp(inst: Instance, scenario: Scenario, kept: frozenset[str],
              serving: frozenset[tuple[str, str]],
              options: list[list[tuple[str | None, float]]]) -> float | None:
    """For fixed (y, z, v), the best continuous assignment: one variable per option (the
    unserved option is u_g), each share in [0, 1], the shares of a group summing to 1."""
    assert linprog is not None
    pol = scenario.policy
    cols: list[tuple[int, str | None]] = []
    c: list[float] = []
    for gi, opts in enumerate(options):
        for o, cost in opts:
            cols.append((gi, o))
            c.append(cost)
    n = len(cols)
    a_eq = np.zeros((len(options), n))
    for j, (gi, _) in enumerate(cols):
        a_eq[gi, j] = 1.0
    rows: list[np.ndarray] = []
    rhs: list[float] = []

    def row_of(weights: Mapping[int, float]) -> np.ndarray:
        r = np.zeros(n)
        for j, w in weights.items():
            r[j] = w
        return r

    q = [g.weight for g in inst.groups]
    for o in inst.operators:
        load = {j: q[gi] for j, (gi, oo) in enumerate(cols) if oo == o}
        cap = inst.capacity[o]
        if cap is not None:
            rows.append(row_of(load))
            rhs.append(cap)
        if o in kept and pol.min_firms_per_operator > 0:
            rows.append(-row_of(load))
            rhs.append(-pol.min_firms_per_operator)
    if pol.min_firms_per_node > 0:
        for o, s in serving:
            load = {j: q[gi] for j, (gi, oo) in enumerate(cols)
                    if oo == o and inst.groups[gi].stronghold == s}
            rows.append(-row_of(load))
            rhs.append(-pol.min_firms_per_node)
    if pol.coverage == "soft":
        served = {j: q[gi] for j, (gi, oo) in enumerate(cols) if oo is not None}
        q_all = float(sum(q))
        if pol.coverage_target > 0:
            rows.append(-row_of(served))
            rhs.append(-pol.coverage_target * q_all)
        q_r = float(sum(g.weight for g in inst.groups if g.rural))
        q_u = q_all - q_r
        if pol.rural_parity and q_r > 0 and q_u > 0:
            # served_u / q_u - served_r / q_r <= tolerance
            parity = {j: (-1.0 / q_r if inst.groups[cols[j][0]].rural else 1.0 / q_u) * w
                      for j, w in served.items()}
            rows.append(row_of(parity))
            rhs.append(pol.rural_parity_tolerance)
    res = linprog(np.array(c), A_ub=np.array(rows) if rows else None,
                  b_ub=np.array(rhs) if rows else None, A_eq=a_eq, b_eq=np.ones(len(options)),
                  bounds=(0.0, 1.0), method="highs")
    if res.status == 2:
        return None
    assert res.status == 0, res.message
    return float(res.fun)


# =========================================================================== comparing


def exact(scenario: Scenario, time_limit: float = 60.0) -> Scenario:
    """The same scenario solved to proven optimality (gap 0), single-threaded for speed on
    tiny models."""
    return scenario.with_updates({"solver": {"mip_gap": 0.0, "threads": 1,
                                             "time_limit": time_limit}})


class KnownBug(Exception):
    """solve() crashed in a way a strict-xfail test below pins down; random tests report
    such cases as xfail (hypothesis rejects them) rather than as new failures."""


BUG_NO_PAIRS = ("BUG model.prepare: TypeError (str - float) when no (group, operator) pair "
                "is within max_travel_minutes; expected status 'infeasible' (hard coverage) "
                "or an all-unserved plan (soft coverage)")
BUG_NOTHING_SERVED = ("BUG results.extract: TypeError (str * float) when the optimal plan "
                      "serves no group (soft coverage); expected an all-unserved plan")


def no_eligible_pair(tables: Tables, scenario: Scenario) -> bool:
    """True if no group has a competent operator within max_travel_minutes."""
    inst = read_instance(tables)
    limit = scenario.policy.max_travel_minutes
    return not any((o, g.stronghold) in inst.competence
                   and (limit is None or inst.minutes[(g.municipality, o)] <= limit + EPS)
                   for g in inst.groups for o in inst.operators)


def known_bug(tables: Tables, scenario: Scenario, optimum: Optimum | None) -> str | None:
    """Which known bug a TypeError from solve() is, judged from the raw data alone."""
    if no_eligible_pair(tables, scenario):
        return BUG_NO_PAIRS
    if scenario.policy.coverage == "soft" and optimum is not None:
        idle = brute_force(tables, scenario, unserved_only=True)
        if idle is not None and idle.objective <= optimum.objective * (1 + REL) + 1e-6:
            return BUG_NOTHING_SERVED
    return None


def compare(tables: Tables, scenario: Scenario) -> tuple[Result, Optimum | None]:
    """Solve with the MIP and by brute force; assert they agree on feasibility and on the
    optimal objective (not on the chosen sets: optima may tie)."""
    scenario = exact(scenario)
    optimum = brute_force(tables, scenario)
    try:
        result = solve(from_tables(tables), scenario)
    except TypeError as exc:
        reason = known_bug(tables, scenario, optimum)
        if reason is None:
            raise
        raise KnownBug(reason) from exc
    assert result.status in ("optimal", "infeasible"), result.summary
    if result.status == "infeasible":
        assert optimum is None, f"MIP infeasible, brute force found {optimum}"
        return result, optimum
    assert optimum is not None, f"MIP found {result.objective}, brute force no feasible plan"
    assert result.summary["check"]["ok"], result.summary["check"]["violations"]
    assert result.objective == pytest.approx(optimum.objective, rel=REL, abs=1e-6), optimum
    return result, optimum


# =========================================================================== random instances


class Picker(Protocol):
    """Source of choices; random.Random in this file, hypothesis's draw in test_properties."""

    def integer(self, lo: int, hi: int) -> int: ...

    def boolean(self) -> bool: ...


class RandomPicker:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def integer(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def boolean(self) -> bool:
        return self.rng.random() < 0.5


def pick_one(pick: Picker, items: Sequence[T]) -> T:
    return items[pick.integer(0, len(items) - 1)]


def random_tables(pick: Picker, *, max_operators: int = 4, max_clusters: int = 3,
                  max_groups: int = 6, strongholds: int | None = None,
                  min_clusters: int = 0) -> dict[str, pd.DataFrame]:
    """A small data set satisfying the data contract: every cluster's host is competent in
    what it covers, every stronghold is covered by a cluster and has a competent operator
    (so firms may sit in any stronghold), travel over explicit times or a connected link
    tree."""
    n_regions = pick.integer(1, 2)
    n_munis = pick.integer(n_regions, 4)
    munis = [f"M{i}" for i in range(n_munis)]
    regions = [f"R{i}" for i in range(n_regions)]
    n_strongholds = pick.integer(1, 2) if strongholds is None else strongholds
    stronghold_ids = [f"S{i}" for i in range(n_strongholds)]
    n_ops = pick.integer(1, max_operators)
    ops = [f"O{i}" for i in range(n_ops)]

    competence = {o: [s for s in stronghold_ids if pick.boolean()] for o in ops}
    for s in stronghold_ids:
        if not any(s in c for c in competence.values()):
            competence[pick_one(pick, ops)].append(s)

    cluster_rows: list[dict[str, Any]] = []
    covers: list[tuple[str, str]] = []

    def add_cluster(host: str, first: str | None) -> None:
        cid = f"C{len(cluster_rows)}"
        own = competence[host]
        chosen = {first} if first is not None else set()
        chosen |= {s for s in own if pick.boolean()}
        if not chosen and own:
            chosen = {pick_one(pick, own)}
        cluster_rows.append({
            "cluster_id": cid, "name": cid, "operator_id": host,
            "budget": 1e5 * pick.integer(0, 3), "label": pick_one(pick, LABELS),
            "gold_upgrade_cost": None if pick.integer(0, 3) == 0 else 100.0 * pick.integer(0, 5),
            "knowledge_partners": pick.integer(0, 3)})
        covers.extend((cid, s) for s in sorted(chosen))

    # One cluster per stronghold first (coverage is part of the contract), then extras.
    for s in stronghold_ids:
        if not any(cs == s for _, cs in covers):
            add_cluster(pick_one(pick, [o for o in ops if s in competence[o]]), s)
    lo = max(0, min_clusters - len(cluster_rows))
    for _ in range(pick.integer(lo, max(lo, max_clusters - len(cluster_rows)))):
        add_cluster(pick_one(pick, ops), None)

    firm_rows: list[dict[str, Any]] = []
    memberships: list[tuple[str, str]] = []
    for _ in range(pick.integer(1, max_groups)):
        mu, s = pick_one(pick, munis), pick_one(pick, stronghold_ids)
        for _ in range(pick.integer(1, 2)):
            fid = f"F{len(firm_rows)}"
            firm_rows.append({"firm_id": fid, "municipality_id": mu, "stronghold_id": s,
                              "weight": 0.5 * pick.integer(1, 6)})
            for c in {pick.integer(0, len(cluster_rows) - 1)
                      for _ in range(pick.integer(0, 2))}:
                memberships.append((fid, f"C{c}"))

    tables: dict[str, pd.DataFrame] = {
        "regions": pd.DataFrame({"region_id": regions, "name": regions}),
        "municipalities": pd.DataFrame({
            "municipality_id": munis, "name": munis,
            "region_id": [regions[i % n_regions] for i in range(n_munis)],
            "lat": [55.0 + 0.1 * i for i in range(n_munis)], "lon": [10.0] * n_munis,
            "rural": [pick.boolean() for _ in munis],
            "intra_minutes": [float(pick.integer(0, 10)) for _ in munis]}),
        "strongholds": pd.DataFrame({"stronghold_id": stronghold_ids, "name": stronghold_ids,
                                     "weight": [float(pick.integer(0, 3))
                                                for _ in stronghold_ids]}),
        "operators": pd.DataFrame({
            "operator_id": ops, "name": ops,
            "municipality_id": [pick_one(pick, munis) for _ in ops],
            "annual_cost": [100.0 * pick.integer(1, 20) for _ in ops],
            # One operator in three has a capacity: tight enough to bind, rare enough that
            # most instances stay feasible.
            "capacity": [None if pick.integer(0, 2) else float(pick.integer(0, 12))
                         for _ in ops],
            "closure_cost": [50.0 * pick.integer(0, 4) for _ in ops]}),
        "operator_strongholds": pd.DataFrame(
            [(o, s) for o in ops for s in sorted(competence[o])],
            columns=["operator_id", "stronghold_id"]),
        "clusters": pd.DataFrame(cluster_rows),
        "cluster_strongholds": pd.DataFrame(covers, columns=["cluster_id", "stronghold_id"]),
        "firms": pd.DataFrame(firm_rows),
        "memberships": pd.DataFrame(memberships, columns=["firm_id", "cluster_id"]),
    }
    if pick.boolean():
        pairs = [(a, b, float(pick.integer(0, 60)))
                 for i, a in enumerate(munis) for b in munis[i + 1:]]
        tables["travel_times"] = pd.DataFrame(pairs, columns=["from_id", "to_id", "minutes"])
    elif n_munis > 1:
        # A random tree keeps the link network connected, as validation requires.
        links = [(munis[i], munis[pick.integer(0, i - 1)], float(pick.integer(5, 60)),
                  "ferry" if pick.boolean() else "road") for i in range(1, n_munis)]
        tables["links"] = pd.DataFrame(links, columns=["from_id", "to_id", "minutes", "mode"])
    return tables


def random_scenario(pick: Picker, tables: Tables, *, split: bool | None = None) -> Scenario:
    """A random subset of the policies, with costs of comparable size so trade-offs bite."""
    ops = list(tables["operators"]["operator_id"])
    policy: dict[str, Any] = {}

    def maybe() -> bool:
        # Each policy is on in about one case of six: most scenarios stay feasible.
        return pick.integer(0, 5) == 0

    if maybe():
        policy["clusters_per_stronghold"] = pick.integer(0, 2)
    if maybe():
        policy["min_firms_per_operator"] = 0.5 * pick.integer(1, 6)
    if maybe():
        policy["min_firms_per_node"] = 0.5 * pick.integer(1, 4)
    if maybe():
        policy["min_cluster_budget"] = 1e5 * pick.integer(1, 2)
    if maybe():
        policy["min_knowledge_partners"] = pick.integer(1, 2)
    if maybe():
        policy["max_travel_minutes"] = float(pick.integer(5, 60))
    if maybe():
        policy["coverage"] = "soft"
        policy["coverage_target"] = pick_one(pick, [0.0, 0.25, 0.5, 0.75, 1.0])
        if pick.boolean():
            policy["rural_parity"] = True
            policy["rural_parity_tolerance"] = pick_one(pick, [0.0, 0.1, 0.5])
    if maybe():
        policy["min_operators_per_region"] = 1
    if maybe():
        lo = pick.integer(0, min(2, len(ops)))
        policy["min_operators"] = lo
        if pick.boolean():
            policy["max_operators"] = pick.integer(lo, len(ops))
    if maybe():
        policy["require_gold"] = True
    if maybe():
        forced = [o for o in ops if pick.integer(0, 2) == 0]
        policy["keep"] = [o for o in forced if pick.boolean()]
        policy["close"] = [o for o in forced if o not in policy["keep"]]
    if maybe():
        policy["annual_budget"] = 100.0 * pick.integer(5, 40)
    policy["allow_split"] = pick.boolean() if split is None else split
    costs = {"horizon_years": float(pick.integer(1, 5)),
             "cost_per_firm_minute": float(pick.integer(0, 20)),
             "disruption_cost_per_firm": 250.0 * pick.integer(0, 4),
             "unserved_penalty_per_firm": 1000.0 * pick.integer(0, 5)}
    # Both ways of tying assignments to serving nodes must give the same optimum.
    linking = "pair" if pick.boolean() else "aggregated"
    return Scenario(name="random").with_updates({"policy": policy, "costs": costs,
                                                 "solver": {"linking": linking}})


# =========================================================================== tests: tiny

#: Costs at which operating, travel, disruption and the penalty are of the same order on the
#: tiny set (with the defaults travel dominates and every operator is always kept).
BALANCED = {"horizon_years": 5.0, "cost_per_firm_minute": 5.0,
            "disruption_cost_per_firm": 1000.0, "unserved_penalty_per_firm": 20_000.0}

#: Few firms are worth an operator here: unserved firms cost 500, operating 5 x annual cost.
SPARSE = {"horizon_years": 5.0, "cost_per_firm_minute": 1.0,
          "disruption_cost_per_firm": 100.0, "unserved_penalty_per_firm": 500.0}
#: Serving the island (90 minutes from O1) is still worth it, beyond a radius it is not.
CHEAP_PENALTY = {**BALANCED, "unserved_penalty_per_firm": 3000.0}
SOFT = {"coverage": "soft", "coverage_target": 0.0}


@dataclass(frozen=True)
class TinyCase:
    """A scenario on the tiny set: costs, a base policy, the policy under test, and what the
    policy must do to the brute-force optimum of the base: ``binds`` (changes the optimum),
    ``free`` (a reference case), or ``infeasible``."""

    costs: dict[str, float]
    base: dict[str, Any]
    policy: dict[str, Any]
    expect: str
    solver: dict[str, Any] | None = None

    def scenario(self, name: str, *, with_policy: bool = True) -> Scenario:
        policy = {**self.base, **(self.policy if with_policy else {})}
        return Scenario(name=name).with_updates({"costs": self.costs, "policy": policy,
                                                 "solver": self.solver or {}})


TINY_CASES: dict[str, TinyCase] = {
    "default_costs": TinyCase({}, {}, {}, "free"),
    "balanced": TinyCase(BALANCED, {}, {}, "free"),
    # The island firm (F07) is 90 minutes from O1, its nearest food operator.
    "radius_60_infeasible": TinyCase(BALANCED, {}, {"max_travel_minutes": 60}, "infeasible"),
    "radius_30_infeasible": TinyCase(BALANCED, {}, {"max_travel_minutes": 30}, "infeasible"),
    "radius_soft": TinyCase(CHEAP_PENALTY, SOFT, {"max_travel_minutes": 60}, "binds"),
    "gold_with_radius": TinyCase(BALANCED, {"max_travel_minutes": 100},
                                 {"require_gold": True}, "binds"),
    # With default costs all three stay and O3 serves 2 firms.
    "min_firms_per_operator": TinyCase({}, {}, {"min_firms_per_operator": 3}, "binds"),
    "min_firms_per_operator_infeasible": TinyCase(
        BALANCED, {}, {"min_firms_per_operator": 4, "min_operators": 3}, "infeasible"),
    "min_firms_per_node": TinyCase(BALANCED, {}, {"min_firms_per_node": 2}, "binds"),
    "min_firms_per_node_pair_linking": TinyCase(BALANCED, {}, {"min_firms_per_node": 2},
                                                "binds", {"linking": "pair"}),
    # O3 alone is the sparse optimum; R1's only operator is O1.
    "regional": TinyCase(SPARSE, SOFT, {"min_operators_per_region": 1}, "binds"),
    "regional_infeasible": TinyCase(BALANCED, {}, {"min_operators_per_region": 2},
                                    "infeasible"),
    # Only O3 is competent in both strongholds, and its capacity (6) is below the 9 firms.
    "max_operators_1_infeasible": TinyCase(BALANCED, {}, {"max_operators": 1}, "infeasible"),
    "max_operators_2": TinyCase({}, {}, {"max_operators": 2}, "binds"),
    "min_operators_3": TinyCase(BALANCED, {}, {"min_operators": 3}, "binds"),
    "require_gold": TinyCase(BALANCED, {}, {"require_gold": True}, "binds"),
    "keep_close": TinyCase(BALANCED, {}, {"keep": ["O1"], "close": ["O3"]}, "binds"),
    "close_o1": TinyCase(BALANCED, {}, {"close": ["O1"]}, "binds"),
    "annual_budget": TinyCase({}, {}, {"annual_budget": 2500}, "binds"),
    "annual_budget_infeasible": TinyCase(BALANCED, {}, {"annual_budget": 700}, "infeasible"),
    "two_clusters": TinyCase(BALANCED, {}, {"clusters_per_stronghold": 2}, "binds"),
    # Clusters cost nothing here and C3's host O3 is wanted anyway: no change expected.
    "no_clusters": TinyCase(BALANCED, {}, {"clusters_per_stronghold": 0}, "free"),
    "cluster_budget": TinyCase(BALANCED, {}, {"min_cluster_budget": 2e6}, "binds"),
    "knowledge_partners": TinyCase(BALANCED, {}, {"min_knowledge_partners": 1}, "binds"),
    "soft_target": TinyCase(SPARSE, SOFT, {"coverage_target": 0.75}, "binds"),
    "soft_parity": TinyCase(SPARSE, SOFT, {"rural_parity": True}, "binds"),
    "soft_parity_tolerance": TinyCase(SPARSE, SOFT, {"rural_parity": True,
                                                     "rural_parity_tolerance": 0.2}, "binds"),
    "soft_target_infeasible": TinyCase(
        BALANCED, {"coverage": "soft", "max_travel_minutes": 50}, {"coverage_target": 0.9},
        "infeasible"),
    "everything": TinyCase(BALANCED, {}, {
        "min_firms_per_operator": 2, "min_firms_per_node": 1, "annual_budget": 3000,
        "min_operators": 2, "require_gold": True, "max_travel_minutes": 100}, "binds"),
}


@pytest.mark.parametrize("name", sorted(TINY_CASES))
def test_tiny_matches_brute_force(name: str) -> None:
    case = TINY_CASES[name]
    result, optimum = compare(tiny_tables(), case.scenario(name))
    assert result.status == ("infeasible" if case.expect == "infeasible" else "optimal")
    if case.expect == "binds":
        # The policy must matter, or the comparison above proves little about it.
        base = brute_force(tiny_tables(), exact(case.scenario(name, with_policy=False)))
        assert base is not None and optimum is not None
        assert optimum.objective > base.objective * (1 + REL), (optimum, base)


def tiny_with_capacity(o1: float | None, o3: float | None) -> dict[str, pd.DataFrame]:
    tables = tiny_tables()
    tables["operators"] = tables["operators"].assign(capacity=[o1, None, o3])
    return tables


@pytest.mark.parametrize(("o1", "o3", "binds"), [(3.0, 2.0, True), (2.0, 3.0, True),
                                                 (4.0, 6.0, False)])
def test_tiny_capacity_matches_brute_force(o1: float, o3: float, binds: bool) -> None:
    # Under BALANCED costs the optimum keeps O1 and O3 (19,200), O1 serving 4 food firms and
    # O3 the other 5; squeezing their capacities to 3 and 2 (or 2 and 3) forces O2 in and
    # firms farther away, while 4 and 6 still fit.
    scenario = Scenario(name="capacity").with_updates({"costs": BALANCED})
    result, optimum = compare(tiny_with_capacity(o1, o3), scenario)
    assert result.status == "optimal" and optimum is not None
    base = brute_force(tiny_tables(), exact(scenario))
    assert base is not None
    assert (optimum.objective > base.objective * (1 + REL)) == binds, (optimum, base)


def test_tiny_capacity_infeasible_matches_brute_force() -> None:
    # Food firms weigh 5 (F01 1, F03 2, F05 1, F07 1) and only O1 and O3 are competent in
    # food: capacities 1 + 1 cannot hold them.
    result, optimum = compare(tiny_with_capacity(1.0, 1.0), Scenario(name="cap"))
    assert result.status == "infeasible" and optimum is None


@needs_scipy
@pytest.mark.parametrize("name", ["balanced", "gold_with_radius", "min_firms_per_node",
                                  "soft_parity", "soft_target", "regional", "radius_soft"])
def test_tiny_split_matches_brute_force(name: str) -> None:
    # Capacities 3 (O1) and 2 (O3) make splitting groups worth it.
    scenario = TINY_CASES[name].scenario(name).with_updates({"policy": {"allow_split": True}})
    result, _ = compare(tiny_with_capacity(3.0, 2.0), scenario)
    assert result.status == "optimal"


# =========================================================================== tests: random

RANDOM_SEEDS = range(40)


def compare_random(tables: Tables, scenario: Scenario) -> None:
    """compare(), reporting a known bug as xfail: the bug has its own strict-xfail test."""
    try:
        compare(tables, scenario)
    except KnownBug as bug:
        pytest.xfail(str(bug))


@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_binary_matches_brute_force(seed: int) -> None:
    pick = RandomPicker(seed)
    tables = random_tables(pick)
    compare_random(tables, random_scenario(pick, tables, split=False))


@needs_scipy
@pytest.mark.parametrize("seed", range(100, 115))
def test_random_split_matches_brute_force(seed: int) -> None:
    pick = RandomPicker(seed)
    # Split cases solve one LP per (y, v): fewer operators keep the count low.
    tables = random_tables(pick, max_operators=3)
    compare_random(tables, random_scenario(pick, tables, split=True))


#: Fixed policy families on random instances, so each policy is exercised on several data
#: sets and not only when the random scenario happens to pick it.
FAMILIES: dict[str, dict[str, Any]] = {
    "radius": {"max_travel_minutes": 20.0},
    "capacity_and_min_firms": {"min_firms_per_operator": 2.0},
    "min_firms_per_node": {"min_firms_per_node": 1.0},
    "regional": {"min_operators_per_region": 1},
    "count": {"min_operators": 2, "max_operators": 2},
    "gold": {"require_gold": True},
    "keep_close": {"keep": ["O0"], "close": ["O1"]},
    "budget": {"annual_budget": 1500.0},
    "soft": {"coverage": "soft", "coverage_target": 0.25, "max_travel_minutes": 20.0},
    "parity": {"coverage": "soft", "coverage_target": 0.0, "rural_parity": True},
    "two_clusters": {"clusters_per_stronghold": 2},
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("seed", range(200, 203))
def test_policy_families_match_brute_force(family: str, seed: int) -> None:
    pick = RandomPicker(seed)
    # Two clusters per stronghold need instances with enough clusters for one stronghold.
    shape = {"strongholds": 1, "min_clusters": 2} if family == "two_clusters" else {}
    tables = random_tables(pick, max_operators=4, **shape)
    ops = set(tables["operators"]["operator_id"])
    policy = dict(FAMILIES[family])
    # keep/close name operators that must exist; the scenario check rejects unknown ids.
    policy["keep"] = [o for o in policy.get("keep", []) if o in ops]
    policy["close"] = [o for o in policy.get("close", []) if o in ops]
    costs = {"horizon_years": 3.0, "cost_per_firm_minute": 10.0,
             "disruption_cost_per_firm": 500.0, "unserved_penalty_per_firm": 2000.0}
    compare_random(tables, Scenario(name=family).with_updates({"policy": policy,
                                                               "costs": costs}))


def test_brute_force_agrees_with_hand_computed_tiny_default() -> None:
    # Guard for the guard: with the default costs travel dominates (500 DKK per firm-minute
    # over 5 years), so every operator stays and every group goes to its nearest competent
    # operator: minutes 10 + 60 + 2 x 20 + 10 + 30 + 8 + 90 + 40 = 288 firm-minutes
    # -> 144,000, plus operating 5 x (1000 + 1500 + 800) = 16,500 -> 160,500.
    optimum = brute_force(tiny_tables(), Scenario())
    assert optimum is not None
    assert optimum.objective == pytest.approx(160_500.0)
    assert optimum.kept == {"O1", "O2", "O3"}


# =========================================================================== known bugs
# Each test states the expected behaviour; strict xfail turns it into a failure the day the
# bug is fixed, so the marker is removed together with the bug.


def test_bug_no_pair_within_radius_is_infeasible_not_a_crash() -> None:
    # Every operator's seat has intra_minutes >= 8 and the nearest other seat is farther:
    # with a 1-minute radius no firm can be served, so hard coverage is infeasible.
    scenario = exact(Scenario().with_updates({"policy": {"max_travel_minutes": 1}}))
    assert no_eligible_pair(tiny_tables(), scenario)
    assert brute_force(tiny_tables(), scenario) is None
    result = solve(from_tables(tiny_tables()), scenario)
    assert result.status == "infeasible"


def test_bug_no_pair_within_radius_soft_coverage_leaves_all_unserved() -> None:
    # Soft coverage without a target: the plan leaves all 9 firms unserved. Penalty 1 DKK x
    # stronghold weight: food 5 firms x 1 + ICT 4 firms x 2 = 13; the cheapest cluster plan
    # keeps O3 alone (C3 covers both strongholds): operating 5 x 800 = 4000, closures
    # O1 100 + O2 0 = 100 -> 4113.
    scenario = exact(Scenario().with_updates({
        "policy": {"max_travel_minutes": 1, "coverage": "soft", "coverage_target": 0.0},
        "costs": {"unserved_penalty_per_firm": 1.0}}))
    optimum = brute_force(tiny_tables(), scenario)
    assert optimum is not None and optimum.objective == pytest.approx(4113.0)
    result = solve(from_tables(tiny_tables()), scenario)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(4113.0)


def test_bug_plan_serving_nothing_is_extracted() -> None:
    # No penalty and no target: serving a firm only costs travel, so the optimum serves
    # nobody and keeps O3 alone (4000 operating + 100 closure of O1 = 4100).
    scenario = exact(Scenario().with_updates({
        "policy": {"coverage": "soft", "coverage_target": 0.0},
        "costs": {"unserved_penalty_per_firm": 0.0}}))
    optimum = brute_force(tiny_tables(), scenario)
    assert optimum is not None and optimum.objective == pytest.approx(4100.0)
    result = solve(from_tables(tiny_tables()), scenario)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(4100.0)
    assert result.summary["check"]["ok"]


def separator_tables() -> dict[str, pd.DataFrame]:
    """Two firms whose (municipality, stronghold) ids join to the same landscape group id:
    ("A", "b|c") and ("A|b", "c") both give "A|b|c". Ids are free text in the contract."""
    one = ["R"]
    return {
        "regions": pd.DataFrame({"region_id": one, "name": one}),
        "municipalities": pd.DataFrame({
            "municipality_id": ["A", "A|b"], "name": ["A", "Ab"], "region_id": ["R", "R"],
            "lat": [55.0, 55.1], "lon": [10.0, 10.0], "intra_minutes": [0.0, 0.0]}),
        "strongholds": pd.DataFrame({"stronghold_id": ["b|c", "c"], "name": ["bc", "c"]}),
        "operators": pd.DataFrame({
            "operator_id": ["P", "Q"], "name": ["P", "Q"], "municipality_id": ["A", "A"],
            "annual_cost": [100.0, 100.0]}),
        "operator_strongholds": pd.DataFrame({"operator_id": ["P", "Q"],
                                              "stronghold_id": ["b|c", "c"]}),
        "clusters": pd.DataFrame({"cluster_id": ["K1", "K2"], "name": ["K1", "K2"],
                                  "operator_id": ["P", "Q"]}),
        "cluster_strongholds": pd.DataFrame({"cluster_id": ["K1", "K2"],
                                             "stronghold_id": ["b|c", "c"]}),
        "firms": pd.DataFrame({"firm_id": ["F1", "F2"], "municipality_id": ["A", "A|b"],
                               "stronghold_id": ["b|c", "c"], "weight": [1.0, 1.0]}),
        "travel_times": pd.DataFrame({"from_id": ["A"], "to_id": ["A|b"], "minutes": [10.0]}),
    }


def test_bug_group_ids_containing_the_separator() -> None:
    # Both P and Q must stay (each hosts the only cluster of its stronghold): operating
    # 5 x 200 = 1000; F2 travels 10 minutes to Q: 500 x 10 = 5000 -> 6000.
    optimum = brute_force(separator_tables(), Scenario())
    assert optimum is not None and optimum.objective == pytest.approx(6000.0)
    compare(separator_tables(), Scenario())
