"""Why a scenario cannot be met, and the smallest change that makes it solvable.

Three stages, each in plain language:

1. **Pre-checks** from the data and the graph, before any solve: places no competent operator
   reaches, regions emptied by ``close``, strongholds without a selectable cluster, strongholds
   whose firms exceed the competent capacity, caps below what is forced, and so on.
2. **Elastic model**: when the pre-checks pass but the model is infeasible, every policy
   constraint gets a non-negative slack, penalised; the least violation is reported per
   constraint family and place.
3. **Suggested relaxations**, each verified by solving the scenario with it: the smallest radius,
   the smallest operator cap, the operators to reopen, the largest critical mass, and so on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from ..data.scenario import Policy, Scenario
from ..frames import among
from .families import BY_NAME, FAMILIES, FAMILY_OF
from .formulation import ModelInputs, build_model, prepare, restore_integrality
from .landscape import Landscape
from .solver import solve as run_solver


@dataclass(frozen=True)
class Finding:
    """One reason, located: ``constraint`` as in docs/model.md, ``where`` names the place."""

    stage: str  # "precheck" or "elastic"
    constraint: str
    where: str
    message: str
    amount: float | None = None


@dataclass(frozen=True)
class Suggestion:
    change: str
    #: The scenario keys to change, as for ``Scenario.with_updates``.
    updates: dict[str, Any]
    verified: bool
    status: str
    objective: float | None = None


@dataclass
class Diagnosis:
    findings: list[Finding] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"findings": [asdict(f) for f in self.findings],
                "suggestions": [asdict(s) for s in self.suggestions],
                "seconds": self.seconds}

    def explain(self) -> str:
        lines = ["Why the scenario cannot be met:"]
        lines += [f"  - {f.message}" for f in self.findings] or ["  - (no cause isolated)"]
        if self.suggestions:
            lines.append("Changes that make it solvable (each verified by solving):")
            for s in self.suggestions:
                cost = "" if s.objective is None else f"; then costs about {_dkk(s.objective)}"
                lines.append(f"  - {s.change} [{s.status}{cost}]")
        else:
            lines.append("No single relaxation tried made it solvable.")
        return "\n".join(lines)


def _dkk(amount: float) -> str:
    return f"{amount / 1e6:,.2f} M DKK" if abs(amount) >= 1e5 else f"{amount:,.0f} DKK"


# --------------------------------------------------------------------------- pre-checks


def _names(land: Landscape, kind: str) -> pd.Series:
    ds = land.dataset
    table = {"municipality": (ds.municipalities, "municipality_id"),
             "operator": (ds.operators, "operator_id"),
             "region": (ds.regions, "region_id"),
             "stronghold": (ds.strongholds, "stronghold_id")}[kind]
    return table[0].set_index(table[1])["name"]


@dataclass(frozen=True)
class _Place:
    """What the pre-checks share: the scenario's inputs, the close list and display names."""

    land: Landscape
    inp: ModelInputs
    pol: Policy
    closed: frozenset[str]

    @property
    def open_operators(self) -> list[str]:
        return [o for o in self.inp.operators.index if o not in self.closed]

    def name(self, kind: str, key: str) -> str:
        return str(_names(self.land, kind).get(key, key))


def _unreachable_groups(p: _Place) -> list[Finding]:
    """Hard coverage: groups that no open competent operator reaches within the radius."""
    inp, pol = p.inp, p.pol
    reach = inp.pairs[~inp.pairs["operator_id"].isin(p.closed)]
    lonely = inp.groups[~among(inp.groups.index, reach["group_id"])]
    if pol.coverage != "hard" or lonely.empty:
        return []
    # Only the lonely groups' nearest open operator, never every competent pair: on a
    # continent-sized landscape that cross product does not fit in memory.
    nearest = p.land.nearest_competent(
        p.land.groups[p.land.groups["group_id"].isin(lonely.index)], exclude=p.closed,
    ).dropna(subset=["nearest_operator"]).set_index("group_id").rename(
        columns={"nearest_operator": "operator_id", "nearest_minutes": "minutes"})
    rural = p.land.dataset.municipalities.set_index("municipality_id")["rural"]
    within = "" if pol.max_travel_minutes is None else \
        f" within {pol.max_travel_minutes:g} minutes"
    out = []
    for g, row in lonely.sort_values("weight", ascending=False).iterrows():
        m, s = row["municipality_id"], row["stronghold_id"]
        where = f"{p.name('municipality', m)} ({m}{', rural' if rural.get(m, False) else ''})"
        if g in nearest.index:
            o = nearest.at[g, "operator_id"]
            near = f"nearest: {p.name('operator', o)}, {nearest.at[g, 'minutes']:.0f} minutes"
        else:
            near = "no open operator is competent in it at all"
        out.append(Finding(
            "precheck", "assignment", f"{m}/{s}",
            f"{where}: {row['weight']:g} firms in stronghold {s}, but no operator competent "
            f"in {s} lies{within} ({near})", float(row["weight"])))
    return out


def _target_out_of_reach(p: _Place) -> list[Finding]:
    """Soft coverage: the target exceeds the share of firms any open operator can reach."""
    pol, groups = p.pol, p.inp.groups
    if pol.coverage != "soft" or pol.coverage_target <= 0:
        return []
    reach = p.inp.pairs[~p.inp.pairs["operator_id"].isin(p.closed)]
    reachable = float(groups.loc[among(groups.index, reach["group_id"]), "weight"].sum())
    total = float(groups["weight"].sum())
    if not total or reachable / total >= pol.coverage_target - 1e-12:
        return []
    return [Finding("precheck", "coverage", "all",
                    f"coverage_target = {pol.coverage_target:.1%}, but only "
                    f"{reachable / total:.1%} of firms have a competent operator within reach "
                    f"({total - reachable:g} firms cannot be served)",
                    pol.coverage_target * total - reachable)]


def _regions_emptied(p: _Place) -> list[Finding]:
    """Regions left with fewer operators than min_operators_per_region after the close list."""
    k = p.pol.min_operators_per_region
    if k <= 0:
        return []
    region_of = p.inp.operators["region_id"]
    out = []
    for r in p.inp.regions:
        have = sum(1 for o in p.open_operators if region_of[o] == r)
        if have < k:
            gone = sum(1 for o in p.closed if region_of.get(o) == r)
            out.append(Finding(
                "precheck", "regional_presence", r,
                f"{p.name('region', r)} needs at least {k} operators, but only {have} "
                f"remain{f' after the close list ({gone} closed)' if gone else ''}",
                float(k - have)))
    return out


def _why_unselectable(p: _Place, c: str) -> list[str]:
    info, pol = p.inp.clusters.loc[c], p.pol
    why = []
    if info["budget"] < pol.min_cluster_budget:
        why.append(f"budget {info['budget'] / 1e6:g} M < "
                   f"min_cluster_budget = {pol.min_cluster_budget / 1e6:g} M")
    if info["knowledge_partners"] < pol.min_knowledge_partners:
        why.append(f"{info['knowledge_partners']} knowledge partners < "
                   f"{pol.min_knowledge_partners}")
    if pol.require_gold and info["label"] != "gold" and pd.isna(info["gold_upgrade_cost"]):
        why.append("not gold and cannot be upgraded")
    if info["host"] in p.closed:
        why.append(f"host {info['host']} is closed")
    return why


def _strongholds_without_cluster(p: _Place) -> list[Finding]:
    """Strongholds whose required clusters cannot be selected."""
    clusters = p.inp.clusters
    covers = p.inp.counts.groupby("stronghold_id")["cluster_id"].agg(list)
    out = []
    for s, need in p.inp.required_clusters.items():
        cands = covers.get(s, [])
        usable = [c for c in cands if clusters.at[c, "admissible"]
                  and clusters.at[c, "host"] not in p.closed]
        if need <= 0 or len(usable) >= need:
            continue
        reasons = [f"{c}: {', '.join(why)}" for c in cands if (why := _why_unselectable(p, c))]
        out.append(Finding(
            "precheck", "one_cluster_per_stronghold", s,
            f"stronghold {s}: {need} cluster(s) required, but only {len(usable)} of the "
            f"{len(cands)} covering it can be selected ({'; '.join(reasons) or 'none'})",
            float(need - len(usable))))
    return out


def _stronghold_over_capacity(p: _Place) -> list[Finding]:
    """Hard coverage: firms of a stronghold beyond what its competent open operators can take
    (a soft target is national, not per stronghold)."""
    if p.pol.coverage != "hard":
        return []
    cap = p.inp.operators["capacity"]
    comp = p.inp.competence[~p.inp.competence["operator_id"].isin(p.closed)]
    out = []
    for s, q in p.inp.groups.groupby("stronghold_id")["weight"].sum().items():
        ops = comp.loc[comp["stronghold_id"] == s, "operator_id"]
        if ops.empty or cap[ops].isna().any():
            continue
        total_cap = float(cap[ops].sum())
        if total_cap < q - 1e-9:
            out.append(Finding(
                "precheck", "capacity", str(s),
                f"stronghold {s}: {q:g} firms must be served, but all operators "
                f"competent in it can take only {total_cap:g} together", q - total_cap))
    return out


def _operator_count_impossible(p: _Place) -> list[Finding]:
    """Operator caps below what is forced, floors above what is left open."""
    pol, inp = p.pol, p.inp
    k = pol.min_operators_per_region
    out = []
    if pol.max_operators is not None:
        floor = max(len(inp.keep), k * len(inp.regions), pol.min_operators)
        if floor > pol.max_operators:
            out.append(Finding(
                "precheck", "max_operators", "all",
                f"max_operators = {pol.max_operators}, but at least {floor} operators are "
                f"required (keep list {len(inp.keep)}, {k} per region x {len(inp.regions)} "
                f"regions, min_operators {pol.min_operators})", float(floor - pol.max_operators)))
    n_open = len(p.open_operators)
    if pol.min_operators > n_open:
        out.append(Finding("precheck", "min_operators", "all",
                           f"min_operators = {pol.min_operators}, but only {n_open} "
                           "operators are not closed", float(pol.min_operators - n_open)))
    return out


def _budget_below_forced(p: _Place) -> list[Finding]:
    """The operators on the keep list alone cost more than the annual budget."""
    budget = p.pol.annual_budget
    if budget is None:
        return []
    forced = float(p.inp.operators.loc[list(p.inp.keep), "annual_cost"].sum())
    if forced <= budget:
        return []
    return [Finding("precheck", "annual_budget", "all",
                    f"annual_budget = {_dkk(budget)}, but the operators on the keep list "
                    f"alone cost {_dkk(forced)} a year", forced - budget)]


def _kept_below_critical_mass(p: _Place) -> list[Finding]:
    """An operator on the keep list cannot reach min_firms_per_operator within its capacity."""
    need = p.pol.min_firms_per_operator
    if need <= 0:
        return []
    cap = p.inp.operators["capacity"]
    out = []
    for o in p.inp.keep:
        c = cap.get(o, np.nan)
        if not np.isnan(c) and c < need:
            out.append(Finding(
                "precheck", "min_firms_per_operator", o,
                f"{p.name('operator', o)} must be kept but can serve only {c:g} firms, fewer "
                f"than min_firms_per_operator = {need:g}", need - c))
    return out


#: The solver-free checks, in the order their findings are reported.
PRECHECKS: tuple[Callable[[_Place], list[Finding]], ...] = (
    _unreachable_groups, _target_out_of_reach, _regions_emptied, _strongholds_without_cluster,
    _stronghold_over_capacity, _operator_count_impossible, _budget_below_forced,
    _kept_below_critical_mass)


def prechecks(land: Landscape, inp: ModelInputs, scenario: Scenario) -> list[Finding]:
    """Fast, solver-free reasons for infeasibility, each with a concrete message."""
    place = _Place(land, inp, scenario.policy, frozenset(inp.close))
    return [finding for check in PRECHECKS for finding in check(place)]


# --------------------------------------------------------------------------- elastic model

def _elasticise(m: pyo.ConcreteModel, total_firms: float) -> dict[str, tuple[Any, Any]]:
    """Add a penalised slack to every row of every family with an elastic weight; returns
    {component: (keys, (plus, minus) slack vars)}. Shares are scaled to firms."""
    slacks: dict[str, tuple[Any, Any]] = {}
    penalty = []
    # Where an unserved share u already lets firms go unserved, the assignment row need not
    # bend: the coverage target (or nothing) is what binds.
    soft = {name for name, u in (("assignment", "u"), ("local_assignment", "ul"),
                                 ("cluster_assignment", "uc")) if hasattr(m, u)}
    for family in FAMILIES:
        if family.implied:
            for name in family.components:  # derived from rows that may now bend
                if hasattr(m, name):
                    getattr(m, name).deactivate()
        if family.elastic_weight is None:
            continue
        weight = family.elastic_weight * (total_firms if family.share else 1.0)
        if family.form == "fixing":
            penalty += _elastic_admission(m, weight, slacks)
            continue
        for name in family.components:
            if name in soft:
                continue
            comp = getattr(m, name, None)
            if comp is None or not isinstance(comp, pyo.Constraint) or not comp.active:
                continue
            keys = list(comp.keys())
            plus = pyo.Var(range(len(keys)), domain=pyo.NonNegativeReals)
            minus = pyo.Var(range(len(keys)), domain=pyo.NonNegativeReals)
            m.add_component(f"_plus_{name}", plus)
            m.add_component(f"_minus_{name}", minus)
            for i, key in enumerate(keys):
                con = comp[key]
                lower, body, upper = con.lower, con.body, con.upper
                con.set_value((lower, body + plus[i] - minus[i], upper))
                if lower is None:
                    plus[i].fix(0)
                if upper is None:
                    minus[i].fix(0)
                penalty.append(weight * (plus[i] + minus[i]))
            slacks[name] = (keys, (plus, minus))
    m.cost.deactivate()
    m.violation = pyo.Objective(expr=sum(penalty), sense=pyo.minimize)
    return slacks


def _elastic_admission(m: pyo.ConcreteModel, weight: float,
                       slacks: dict[str, tuple[Any, Any]]) -> list[Any]:
    """Inadmissible clusters are fixed at 0; let them be selected at a price."""
    fixed = [c for c in m.C if m.z[c].fixed]
    if not fixed:
        return []
    m._admit = pyo.Var(fixed, domain=pyo.NonNegativeReals)
    for c in fixed:
        m.z[c].unfix()
    m._admit_con = pyo.Constraint(fixed, rule=lambda m, c: m.z[c] <= m._admit[c])
    slacks["cluster_admissibility"] = (fixed, (m._admit, None))
    return [weight * sum(m._admit[c] for c in fixed)]


def _describe(name: str, key: Any, amount: float, land: Landscape, inp: ModelInputs) -> str:
    """The family's message for one elastic slack (``Family.messages``)."""
    fields: dict[str, Any] = {"key": key, "amount": amount, "dkk": _dkk(amount)}
    groups = {"local_assignment": inp.local_groups,
              "cluster_assignment": inp.cluster_groups}.get(name, inp.groups)
    if key in groups.index:
        g = groups.loc[key]
        m = g["municipality_id"]
        fields.update(firms=amount * g["weight"], stronghold=g["stronghold_id"],
                      place=f"{_names(land, 'municipality').get(m, m)} ({m})")
    template = BY_NAME[FAMILY_OF[name]].messages.get(name)
    return template.format(**fields) if template else f"{name} at {key}: {amount:g}"


def elastic(land: Landscape, scenario: Scenario) -> list[Finding]:
    """Solve the elastic model; findings for every positive slack (least total violation)."""
    sc = scenario.with_updates({"solver": {"linking": "pair"}})  # capacity only in `capacity`
    inp = prepare(land, sc)
    m = build_model(inp, sc)
    # Slack on the assignment rows lets groups split: only binaries keep firms whole.
    restore_integrality(m)
    slacks = _elasticise(m, float(inp.groups["weight"].sum()))
    report, _ = run_solver(m, sc.solver)
    if not report.has_solution:
        return [Finding("elastic", "model", "all", "even with every policy relaxed the model "
                        f"has no solution ({report.status}); the data cannot support it")]
    out = []
    for name, (keys, (plus, minus)) in slacks.items():
        for i, key in enumerate(keys):
            amount = 0.0
            if name == "cluster_admissibility":
                amount = float(pyo.value(m.z[key]))
            else:
                amount = float(pyo.value(plus[i]) or 0.0) + float(pyo.value(minus[i]) or 0.0)
            if amount > 1e-6:
                out.append(Finding("elastic", name, str(key), _describe(name, key, amount,
                                                                        land, inp), amount))
    return out


# --------------------------------------------------------------------------- suggestions


def _try(solve: Callable[[Scenario], Any], scenario: Scenario, change: str,
         updates: dict[str, Any]) -> Suggestion:
    result = solve(scenario.with_updates(updates))
    return Suggestion(change, updates, result.has_solution, result.status, result.objective)


def _smallest_feasible(values: list[float], feasible: Callable[[float], bool]) -> float | None:
    """Smallest value of the ascending list for which ``feasible`` holds (monotone).

    Gallops from the front (the first candidate is usually the answer: it comes from a bound),
    then bisects, so a long list costs a handful of solves."""
    if not values:
        return None
    if feasible(values[0]):
        return values[0]
    lo, step = 0, 1  # values[lo] infeasible
    while True:
        hi = min(lo + step, len(values) - 1)
        if feasible(values[hi]):
            break
        if hi == len(values) - 1:
            return None
        lo, step = hi, step * 2
    while hi - lo > 1:  # values[lo] infeasible, values[hi] feasible
        mid = (lo + hi) // 2
        if feasible(values[mid]):
            hi = mid
        else:
            lo = mid
    return values[hi]


def _largest_feasible(values: list[float], feasible: Callable[[float], bool]) -> float | None:
    """Largest value of the ascending list for which ``feasible`` holds (feasible below it)."""
    return _smallest_feasible(list(reversed(values)), feasible)


@dataclass(frozen=True)
class _Ask:
    """What a remedy needs: the scenario, what was found and a way to try a change."""

    land: Landscape
    scenario: Scenario
    findings: list[Finding]
    solve: Callable[[Scenario], Any]

    @property
    def pol(self) -> Policy:
        return self.scenario.policy

    def works(self, updates: dict[str, Any]) -> bool:
        return bool(self.solve(self.scenario.with_updates(updates)).has_solution)

    def attempt(self, change: str, updates: dict[str, Any]) -> Suggestion:
        return _try(self.solve, self.scenario, change, updates)

    def first_verified(self, options: list[tuple[str, dict[str, Any]]]) -> list[Suggestion]:
        """The first of ``options`` (tried in order) that solves, if any."""
        for change, updates in options:
            s = self.attempt(change, updates)
            if s.verified:
                return [s]
        return []


def _raise_radius(a: _Ask) -> list[Suggestion]:
    """The smallest max_travel_minutes that works, on a 5-minute grid."""
    radius = a.pol.max_travel_minutes
    if radius is None:
        return []
    closed = set(a.pol.close)
    # No radius below the farthest group's nearest competent operator can work.
    nearest = a.land.nearest_competent(exclude=closed)["nearest_minutes"].max()
    floor = max(radius, 0.0 if pd.isna(nearest) else float(nearest))
    start = math.ceil(floor / 5) * 5
    if a.land.times.sparse:
        # Every competent pair would not fit in memory: 5-minute steps up to twice the floor
        # (feasibility only changes at a pair's minutes, so the smallest working step is the
        # same as on the pairs' own grid, if it lies in this window).
        grid = list(range(start, 2 * start + 5, 5))
    else:
        pairs = a.land.eligible_pairs()
        pairs = pairs[~pairs["operator_id"].isin(closed)]
        grid = sorted({math.ceil(t / 5) * 5 for t in pairs["minutes"].unique() if t >= floor}
                      | {start})
    best = _smallest_feasible(grid, lambda r: a.works({"policy": {"max_travel_minutes": r}}))
    if best is None:
        return []
    return [a.attempt(f"raise max_travel_minutes from {radius:g} to {best:g}",
                      {"policy": {"max_travel_minutes": best}})]


def _soft_coverage(a: _Ask) -> list[Suggestion]:
    if a.pol.max_travel_minutes is None or a.pol.coverage != "hard":
        return []
    return [a.attempt("use soft coverage (unserved firms penalised) with coverage_target = 0.95",
                      {"policy": {"coverage": "soft", "coverage_target": 0.95}})]


def _raise_max_operators(a: _Ask) -> list[Suggestion]:
    cap = a.pol.max_operators
    if cap is None:
        return []
    # Start from what the elastic model says is missing.
    more = sum(math.ceil(f.amount or 0) for f in a.findings if f.constraint == "max_operators")
    grid = list(range(cap + max(more, 1), len(a.land.dataset.operators) + 1))
    best = _smallest_feasible(grid, lambda k: a.works({"policy": {"max_operators": k}}))
    if best is None:
        return []
    return [a.attempt(f"raise max_operators from {cap} to {best}",
                      {"policy": {"max_operators": best}})]


def _reopen(a: _Ask) -> list[Suggestion]:
    """Each operator of the close list whose reopening alone makes the scenario solvable."""
    close = a.pol.close
    tried = [a.attempt(f"reopen {o} (remove it from close)",
                       {"policy": {"close": [c for c in close if c != o]}}) for o in close]
    return [s for s in tried if s.verified]


def _drop_close_kinds(a: _Ask) -> list[Suggestion]:
    if not a.pol.close_kinds:
        return []
    return [a.attempt("drop close_kinds", {"policy": {"close_kinds": []}})]


def _lower_each(a: _Ask, keys: tuple[str, ...], fmt: str = "g") -> list[Suggestion]:
    """For each positive policy key: the largest working value below the current one, to the
    nearest 5 % of it."""
    out = []
    for key in keys:
        now = getattr(a.pol, key)
        if now <= 0:
            continue
        grid = [round(now * f / 20, 6) for f in range(20)]
        best = _largest_feasible(grid, lambda v, key=key: a.works({"policy": {key: v}}))
        if best is not None:
            out.append(a.attempt(f"lower {key} from {now:{fmt}} to {best:{fmt}}",
                                 {"policy": {key: best}}))
    return out


def _lower_critical_mass(a: _Ask) -> list[Suggestion]:
    return _lower_each(a, ("min_firms_per_operator", "min_firms_per_node"))


def _raise_max_utilisation(a: _Ask) -> list[Suggestion]:
    now = a.pol.max_utilisation
    if now >= 1:
        return []
    grid = [round(now + (1 - now) * f / 10, 4) for f in range(1, 11)]
    best = _smallest_feasible(grid, lambda u: a.works({"policy": {"max_utilisation": u}}))
    if best is None:
        return []
    return [a.attempt(f"raise max_utilisation from {now:g} to {best:g}",
                      {"policy": {"max_utilisation": best}})]


def _lower_regional_presence(a: _Ask) -> list[Suggestion]:
    now = a.pol.min_operators_per_region
    return a.first_verified([(f"lower min_operators_per_region from {now} to {k}",
                              {"policy": {"min_operators_per_region": k}})
                             for k in range(now - 1, -1, -1)])


def _drop_cluster_mass(a: _Ask) -> list[Suggestion]:
    if a.pol.min_cluster_budget <= 0 and a.pol.min_knowledge_partners <= 0:
        return []
    return [a.attempt("drop the cluster critical mass (min_cluster_budget and "
                      "min_knowledge_partners = 0)",
                      {"policy": {"min_cluster_budget": 0, "min_knowledge_partners": 0}})]


def _drop_gold(a: _Ask) -> list[Suggestion]:
    if not a.pol.require_gold:
        return []
    return [a.attempt("do not require gold labels", {"policy": {"require_gold": False}})]


def _exempt_strongholds(a: _Ask) -> list[Suggestion]:
    short = sorted({f.where for f in a.findings if f.constraint == "one_cluster_per_stronghold"})
    if not short:
        return []
    return [a.attempt("exempt " + ", ".join(short) + " from the cluster requirement",
                      {"policy": {"exempt_strongholds": sorted(
                          set(a.pol.exempt_strongholds) | set(short))}})]


def _raise_budget(a: _Ask) -> list[Suggestion]:
    budget = a.pol.annual_budget
    if budget is None:
        return []
    need = sum(f.amount or 0.0 for f in a.findings if f.constraint == "annual_budget")
    # Round up to a tidy figure: 0.1 M DKK nationally, 1 DKK for small data sets.
    unit = 1e5 if budget >= 1e6 else 1.0
    raised = math.ceil((budget + need) / unit) * unit
    return [a.attempt(f"raise annual_budget to {_dkk(raised)}",
                      {"policy": {"annual_budget": raised}})]


def _lower_coverage_target(a: _Ask) -> list[Suggestion]:
    target = a.pol.coverage_target
    if a.pol.coverage != "soft" or target <= 0:
        return []
    grid = [round(target - d, 4) for d in (0.01, 0.02, 0.05, 0.1, 0.2) if target - d > 0]
    return a.first_verified([(f"lower coverage_target from {target:.0%} to {t:.0%}",
                              {"policy": {"coverage_target": t}}) for t in grid])


def _drop_rural_parity(a: _Ask) -> list[Suggestion]:
    if a.pol.coverage != "soft" or not a.pol.rural_parity:
        return []
    return [a.attempt("drop rural_parity", {"policy": {"rural_parity": False}})]


def _lower_coverage_floors(a: _Ask) -> list[Suggestion]:
    if a.pol.coverage != "soft":
        return []
    return _lower_each(a, ("min_coverage_per_municipality", "min_coverage_per_region"), ".0%")


def _allow_shared_clusters(a: _Ask) -> list[Suggestion]:
    now = a.pol.max_strongholds_per_cluster
    if now is None:
        return []
    return a.first_verified([(f"raise max_strongholds_per_cluster from {now} to {k}",
                              {"policy": {"max_strongholds_per_cluster": k}})
                             for k in range(now + 1, now + 4)]
                            + [("remove max_strongholds_per_cluster",
                                {"policy": {"max_strongholds_per_cluster": None}})])


def _drop_forced_clusters(a: _Ask) -> list[Suggestion]:
    if not (a.pol.keep_clusters or a.pol.close_clusters):
        return []
    return [a.attempt("drop keep_clusters and close_clusters",
                      {"policy": {"keep_clusters": [], "close_clusters": []}})]


def _layer_radius(layer: str) -> Callable[[_Ask], list[Suggestion]]:
    def remedy(a: _Ask) -> list[Suggestion]:
        now = getattr(a.pol, layer).max_travel_minutes
        if now is None:
            return []
        return [a.attempt(f"remove {layer}.max_travel_minutes ({now:g})",
                          {"policy": {layer: {"max_travel_minutes": None}}})]
    return remedy


def _lower_cluster_members(a: _Ask) -> list[Suggestion]:
    return _lower_each(a, ("min_members_per_cluster",))


#: The changes the diagnosis can suggest, by the name ``Family.remedies`` uses, in the order
#: they are tried and reported.
REMEDIES: dict[str, Callable[[_Ask], list[Suggestion]]] = {
    "radius": _raise_radius,
    "soft_coverage": _soft_coverage,
    "max_operators": _raise_max_operators,
    "reopen": _reopen,
    "close_kinds": _drop_close_kinds,
    "critical_mass": _lower_critical_mass,
    "max_utilisation": _raise_max_utilisation,
    "regional_presence": _lower_regional_presence,
    "cluster_mass": _drop_cluster_mass,
    "gold": _drop_gold,
    "exempt": _exempt_strongholds,
    "annual_budget": _raise_budget,
    "coverage_target": _lower_coverage_target,
    "rural_parity": _drop_rural_parity,
    "coverage_floors": _lower_coverage_floors,
    "dedicated": _allow_shared_clusters,
    "forced_clusters": _drop_forced_clusters,
    "local_radius": _layer_radius("local"),
    "cluster_radius": _layer_radius("cluster"),
    "cluster_members": _lower_cluster_members,
}


def suggest(land: Landscape, scenario: Scenario, findings: list[Finding],
            solve: Callable[[Scenario], Any]) -> list[Suggestion]:
    """Relaxations for the families named in ``findings``, each verified by solving; when none
    of those works, every family's remedies are tried (the named family may be a symptom)."""
    ask = _Ask(land, scenario, findings, solve)
    named = {FAMILY_OF.get(f.constraint, f.constraint) for f in findings}
    found = _suggest(ask, named)
    if not found:
        found = _suggest(ask, set(BY_NAME))
    return found


def _suggest(ask: _Ask, families: set[str]) -> list[Suggestion]:
    wanted = {r for f in families if f in BY_NAME for r in BY_NAME[f].remedies}
    out = [s for name, remedy in REMEDIES.items() if name in wanted for s in remedy(ask)]
    # Keep only changes that really work, and only once each.
    seen: set[str] = set()
    kept = []
    for s in out:
        if s.verified and s.change not in seen:
            seen.add(s.change)
            kept.append(s)
    return kept


def diagnose(land: Landscape, scenario: Scenario, solve: Callable[[Scenario], Any],
             inp: ModelInputs | None = None, *, with_suggestions: bool = True) -> Diagnosis:
    """The full diagnosis of an infeasible scenario (pre-checks, else elastic; suggestions)."""
    start = time.perf_counter()
    inp = inp if inp is not None else prepare(land, scenario)
    findings = prechecks(land, inp, scenario)
    if not findings:
        findings = elastic(land, scenario)
    suggestions = suggest(land, scenario, findings, solve) if with_suggestions else []
    return Diagnosis(findings, suggestions, time.perf_counter() - start)
