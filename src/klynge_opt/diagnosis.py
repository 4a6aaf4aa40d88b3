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

from .landscape import Landscape
from .model import ModelInputs, build_model, prepare
from .scenario import Scenario
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


def prechecks(land: Landscape, inp: ModelInputs, scenario: Scenario) -> list[Finding]:
    """Fast, solver-free reasons for infeasibility, each with a concrete message."""
    pol = scenario.policy
    out: list[Finding] = []
    closed = set(inp.close)
    open_ops = [o for o in inp.operators.index if o not in closed]
    muni = _names(land, "municipality")
    op_name = _names(land, "operator")
    region_name = _names(land, "region")
    groups = inp.groups
    rural = land.dataset.municipalities.set_index("municipality_id")["rural"]

    # Coverage: groups that no open competent operator reaches within the radius.
    all_pairs = land.eligible_pairs()
    all_pairs = all_pairs[~all_pairs["operator_id"].isin(closed)]
    reach = inp.pairs[~inp.pairs["operator_id"].isin(closed)]
    lonely = groups[~groups.index.isin(reach["group_id"])]
    if pol.coverage == "hard" and not lonely.empty:
        nearest = all_pairs.sort_values(["group_id", "minutes"]).drop_duplicates("group_id") \
            .set_index("group_id")
        radius = pol.max_travel_minutes
        for g, row in lonely.sort_values("weight", ascending=False).iterrows():
            m = row["municipality_id"]
            where = f"{muni.get(m, m)} ({m}{', rural' if rural.get(m, False) else ''})"
            if g in nearest.index:
                o = nearest.at[g, "operator_id"]
                near = f"nearest: {op_name.get(o, o)}, {nearest.at[g, 'minutes']:.0f} minutes"
            else:
                near = "no open operator is competent in it at all"
            within = "" if radius is None else f" within {radius:g} minutes"
            out.append(Finding(
                "precheck", "coverage", f"{m}/{row['stronghold_id']}",
                f"{where}: {row['weight']:g} firms in stronghold {row['stronghold_id']}, but no "
                f"operator competent in {row['stronghold_id']} lies{within} ({near})",
                float(row["weight"])))
    if pol.coverage == "soft" and pol.coverage_target > 0:
        reachable = float(groups.loc[groups.index.isin(reach["group_id"]), "weight"].sum())
        total = float(groups["weight"].sum())
        if total and reachable / total < pol.coverage_target - 1e-12:
            out.append(Finding(
                "precheck", "coverage", "all",
                f"coverage_target = {pol.coverage_target:.1%}, but only {reachable / total:.1%} "
                f"of firms have a competent operator within reach "
                f"({total - reachable:g} firms cannot be served)",
                pol.coverage_target * total - reachable))

    # Regional presence after the close list.
    k = pol.min_operators_per_region
    if k > 0:
        region_of = inp.operators["region_id"]
        for r in inp.regions:
            have = sum(1 for o in open_ops if region_of[o] == r)
            if have < k:
                gone = sum(1 for o in closed if region_of.get(o) == r)
                out.append(Finding(
                    "precheck", "regional_presence", r,
                    f"{region_name.get(r, r)} needs at least {k} operators, but only {have} "
                    f"remain{f' after the close list ({gone} closed)' if gone else ''}",
                    float(k - have)))

    # Strongholds whose required clusters cannot be selected.
    clusters = inp.clusters
    covers = inp.covers.groupby("stronghold_id")["cluster_id"].agg(list)
    for s, need in inp.required_clusters.items():
        if need <= 0:
            continue
        cands = covers.get(s, [])
        usable = [c for c in cands if clusters.at[c, "admissible"]
                  and clusters.at[c, "host"] not in closed]
        if len(usable) < need:
            reasons = []
            for c in cands:
                why = []
                if clusters.at[c, "budget"] < pol.min_cluster_budget:
                    why.append(f"budget {clusters.at[c, 'budget'] / 1e6:g} M < "
                               f"min_cluster_budget = {pol.min_cluster_budget / 1e6:g} M")
                if clusters.at[c, "knowledge_partners"] < pol.min_knowledge_partners:
                    why.append(f"{clusters.at[c, 'knowledge_partners']} knowledge partners < "
                               f"{pol.min_knowledge_partners}")
                if pol.require_gold and clusters.at[c, "label"] != "gold" and \
                        pd.isna(clusters.at[c, "gold_upgrade_cost"]):
                    why.append("not gold and cannot be upgraded")
                if clusters.at[c, "host"] in closed:
                    why.append(f"host {clusters.at[c, 'host']} is closed")
                if why:
                    reasons.append(f"{c}: {', '.join(why)}")
            out.append(Finding(
                "precheck", "one_cluster_per_stronghold", s,
                f"stronghold {s}: {need} cluster(s) required, but only {len(usable)} of the "
                f"{len(cands)} covering it can be selected ({'; '.join(reasons) or 'none'})",
                float(need - len(usable))))

    # Capacity: firms of a stronghold beyond what its competent open operators can take.
    cap = inp.operators["capacity"]
    comp = inp.competence[~inp.competence["operator_id"].isin(closed)]
    demand = groups.groupby("stronghold_id")["weight"].sum()
    # Only under hard coverage: a soft target is national, not per stronghold.
    for s, q in demand.items() if pol.coverage == "hard" else ():
        ops = comp.loc[comp["stronghold_id"] == s, "operator_id"]
        if ops.empty or cap[ops].isna().any():
            continue
        total_cap = float(cap[ops].sum())
        if total_cap < q - 1e-9:
            out.append(Finding(
                "precheck", "capacity", str(s),
                f"stronghold {s}: {q:g} firms must be served, but all operators "
                f"competent in it can take only {total_cap:g} together", q - total_cap))

    # Counts and budgets that the forced operators already break.
    if pol.max_operators is not None:
        floor = max(len(inp.keep), k * len(inp.regions), pol.min_operators)
        if floor > pol.max_operators:
            out.append(Finding(
                "precheck", "max_operators", "all",
                f"max_operators = {pol.max_operators}, but at least {floor} operators are "
                f"required (keep list {len(inp.keep)}, {k} per region x {len(inp.regions)} "
                f"regions, min_operators {pol.min_operators})", float(floor - pol.max_operators)))
    if pol.min_operators > len(open_ops):
        out.append(Finding("precheck", "min_operators", "all",
                           f"min_operators = {pol.min_operators}, but only {len(open_ops)} "
                           "operators are not closed", float(pol.min_operators - len(open_ops))))
    if pol.annual_budget is not None:
        forced = float(inp.operators.loc[list(inp.keep), "annual_cost"].sum())
        if forced > pol.annual_budget:
            out.append(Finding("precheck", "annual_budget", "all",
                               f"annual_budget = {_dkk(pol.annual_budget)}, but the operators "
                               f"on the keep list alone cost {_dkk(forced)} a year",
                               forced - pol.annual_budget))
    if pol.min_firms_per_operator > 0:
        for o in inp.keep:
            c = cap.get(o, np.nan)
            if not np.isnan(c) and c < pol.min_firms_per_operator:
                out.append(Finding(
                    "precheck", "min_firms_per_operator", o,
                    f"{op_name.get(o, o)} must be kept but can serve only {c:g} firms, fewer "
                    f"than min_firms_per_operator = {pol.min_firms_per_operator:g}",
                    pol.min_firms_per_operator - c))
    return out


# --------------------------------------------------------------------------- elastic model

#: Constraint families that may be violated in the elastic model, with the penalty per unit of
#: slack: one operator or cluster too many weighs as much as one unserved firm; shares are
#: scaled to firms; money counts per million DKK.
ELASTIC: dict[str, float] = {
    "one_cluster_per_stronghold": 1.0, "assignment": 1.0, "capacity": 1.0,
    "min_firms_per_operator": 1.0, "min_firms_per_node": 1.0, "coverage": 1.0,
    "rural_parity": 1.0, "regional_presence": 1.0, "min_operators": 1.0,
    "max_operators": 1.0, "keep": 1.0, "close": 1.0, "annual_budget": 1e-6,
}


def _elasticise(m: pyo.ConcreteModel, total_firms: float) -> dict[str, tuple[Any, Any]]:
    """Add slacks to every policy constraint; returns {family: (plus, minus) slack vars}."""
    slacks: dict[str, tuple[Any, Any]] = {}
    penalty = []
    soft = hasattr(m, "u")
    for name, weight in ELASTIC.items():
        if name == "assignment" and soft:
            continue  # u already lets firms go unserved; the coverage target is what binds
        comp = getattr(m, name, None)
        if comp is None or not isinstance(comp, pyo.Constraint) or not comp.active:
            continue
        keys = list(comp.keys())
        plus = pyo.Var(range(len(keys)), domain=pyo.NonNegativeReals)
        minus = pyo.Var(range(len(keys)), domain=pyo.NonNegativeReals)
        m.add_component(f"_plus_{name}", plus)
        m.add_component(f"_minus_{name}", minus)
        # Shares (coverage, parity) are in units of 1: scale them to firms.
        unit = total_firms if name in ("coverage", "rural_parity") else 1.0
        for i, key in enumerate(keys):
            con = comp[key]
            lower, body, upper = con.lower, con.body, con.upper
            con.set_value((lower, body + plus[i] - minus[i], upper))
            if lower is None:
                plus[i].fix(0)
            if upper is None:
                minus[i].fix(0)
            penalty.append(weight * unit * (plus[i] + minus[i]))
        slacks[name] = (keys, (plus, minus))
    # Inadmissible clusters are fixed at 0; let them be selected at a price.
    fixed = [c for c in m.C if m.z[c].fixed]
    if fixed:
        m._admit = pyo.Var(fixed, domain=pyo.NonNegativeReals)
        for c in fixed:
            m.z[c].unfix()
        m._admit_con = pyo.Constraint(fixed, rule=lambda m, c: m.z[c] <= m._admit[c])
        penalty.append(sum(m._admit[c] for c in fixed))
        slacks["cluster_admissibility"] = (fixed, (m._admit, None))
    if hasattr(m, "stronghold_capacity"):
        m.stronghold_capacity.deactivate()  # derived from capacity, which may now bend
    m.cost.deactivate()
    m.violation = pyo.Objective(expr=sum(penalty), sense=pyo.minimize)
    return slacks


def _describe(name: str, key: Any, amount: float, land: Landscape, inp: ModelInputs) -> str:
    muni = _names(land, "municipality")
    if name == "assignment":
        g = inp.groups.loc[key]
        m = g["municipality_id"]
        return (f"coverage: {amount * g['weight']:g} firms unserved in {muni.get(m, m)} ({m}), "
                f"stronghold {g['stronghold_id']}")
    if name == "capacity":
        return f"capacity: operator {key} would need {amount:g} more places"
    if name in ("min_firms_per_operator", "min_firms_per_node"):
        return f"{name}: {key} short of the minimum by {amount:g} firms"
    if name == "one_cluster_per_stronghold":
        return f"one_cluster_per_stronghold: stronghold {key} off by {amount:g} cluster(s)"
    if name == "regional_presence":
        return f"regional_presence: region {key} needs {amount:g} more operator(s)"
    if name == "max_operators":
        return f"max_operators: needs {amount:g} more"
    if name == "min_operators":
        return f"min_operators: {amount:g} fewer possible"
    if name in ("keep", "close"):
        return f"{name}: operator {key} cannot be {'kept' if name == 'keep' else 'closed'}"
    if name == "annual_budget":
        return f"annual_budget: {_dkk(amount)} more needed per year"
    if name == "coverage":
        return f"coverage: the target is missed by {amount:.2%} of firms"
    if name == "rural_parity":
        return f"rural_parity: rural coverage short by {amount:.2%}"
    if name == "cluster_admissibility":
        return f"cluster {key} would have to be selected although inadmissible"
    return f"{name} at {key}: {amount:g}"


def elastic(land: Landscape, scenario: Scenario) -> list[Finding]:
    """Solve the elastic model; findings for every positive slack (least total violation)."""
    sc = scenario.with_updates({"solver": {"linking": "pair"}})  # capacity only in `capacity`
    inp = prepare(land, sc)
    m = build_model(inp, sc)
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


ALL_FAMILIES = frozenset({
    "coverage", "assignment", "max_operators", "min_operators", "regional_presence", "capacity",
    "one_cluster_per_stronghold", "cluster_admissibility", "close", "min_firms_per_operator",
    "annual_budget", "rural_parity"})


def suggest(land: Landscape, scenario: Scenario, findings: list[Finding],
            solve: Callable[[Scenario], Any]) -> list[Suggestion]:
    """Relaxations for the families named in ``findings``, each verified by solving; when none
    of those works, every active policy is tried (the named family may be a symptom)."""
    found = _suggest(land, scenario, {f.constraint for f in findings}, findings, solve)
    if not found:
        found = _suggest(land, scenario, set(ALL_FAMILIES), findings, solve)
    return found


def _suggest(land: Landscape, scenario: Scenario, families: set[str],
             findings: list[Finding], solve: Callable[[Scenario], Any]) -> list[Suggestion]:
    pol = scenario.policy
    out: list[Suggestion] = []

    def works(updates: dict[str, Any]) -> bool:
        return bool(solve(scenario.with_updates(updates)).has_solution)

    if pol.max_travel_minutes is not None and families & {"coverage", "assignment"}:
        pairs = land.eligible_pairs()
        closed = set(pol.close)
        pairs = pairs[~pairs["operator_id"].isin(closed)]
        # No radius below the farthest group's nearest competent operator can work.
        floor = max(pol.max_travel_minutes, float(pairs.groupby("group_id")["minutes"].min()
                                                  .max()))
        # Candidate radii on a 5-minute grid from that bound: a handful of solves nationally.
        grid = sorted({math.ceil(t / 5) * 5 for t in pairs["minutes"].unique()
                       if t >= floor} | {math.ceil(floor / 5) * 5})
        best = _smallest_feasible(grid, lambda r: works({"policy": {"max_travel_minutes": r}}))
        if best is not None:
            out.append(_try(solve, scenario, f"raise max_travel_minutes from "
                            f"{pol.max_travel_minutes:g} to {best:g}",
                            {"policy": {"max_travel_minutes": best}}))
        if pol.coverage == "hard":
            out.append(_try(solve, scenario, "use soft coverage (unserved firms penalised) with "
                            "coverage_target = 0.95", {"policy": {"coverage": "soft",
                                                                  "coverage_target": 0.95}}))
    if pol.max_operators is not None and families & {
            "max_operators", "regional_presence", "capacity", "one_cluster_per_stronghold",
            "assignment", "coverage", "min_operators"}:
        n_ops = len(land.dataset.operators)
        # Start from what the elastic model says is missing.
        more = sum(math.ceil(f.amount or 0) for f in findings
                   if f.constraint == "max_operators")
        grid = list(range(pol.max_operators + max(more, 1), n_ops + 1))
        best = _smallest_feasible(grid, lambda k: works({"policy": {"max_operators": k}}))
        if best is not None:
            out.append(_try(solve, scenario, f"raise max_operators from {pol.max_operators} to "
                            f"{best}", {"policy": {"max_operators": best}}))
    if (pol.close or pol.close_kinds) and families & {"close", "regional_presence", "coverage",
                                                      "capacity", "one_cluster_per_stronghold",
                                                      "assignment"}:
        for o in pol.close:
            rest = [c for c in pol.close if c != o]
            s = _try(solve, scenario, f"reopen {o} (remove it from close)",
                     {"policy": {"close": rest}})
            if s.verified:
                out.append(s)
        if pol.close_kinds:
            out.append(_try(solve, scenario, "drop close_kinds", {"policy": {"close_kinds": []}}))
    if pol.min_firms_per_operator > 0 and families & {
            "min_firms_per_operator", "max_operators", "regional_presence", "assignment",
            "coverage", "capacity"}:
        # Largest working value below the current one, to the nearest 5 % of it.
        grid = [round(pol.min_firms_per_operator * f / 20, 6) for f in range(20)]
        best = _largest_feasible(grid, lambda v: works({"policy": {"min_firms_per_operator": v}}))
        if best is not None:
            out.append(_try(solve, scenario, f"lower min_firms_per_operator from "
                            f"{pol.min_firms_per_operator:g} to {best:g}",
                            {"policy": {"min_firms_per_operator": best}}))
    if pol.min_operators_per_region > 0 and "regional_presence" in families:
        for k in range(pol.min_operators_per_region - 1, -1, -1):
            s = _try(solve, scenario, f"lower min_operators_per_region from "
                     f"{pol.min_operators_per_region} to {k}",
                     {"policy": {"min_operators_per_region": k}})
            if s.verified:
                out.append(s)
                break
    if families & {"one_cluster_per_stronghold", "cluster_admissibility"}:
        if pol.min_cluster_budget > 0 or pol.min_knowledge_partners > 0:
            out.append(_try(solve, scenario, "drop the cluster critical mass (min_cluster_budget"
                            " and min_knowledge_partners = 0)",
                            {"policy": {"min_cluster_budget": 0, "min_knowledge_partners": 0}}))
        if pol.require_gold:
            out.append(_try(solve, scenario, "do not require gold labels",
                            {"policy": {"require_gold": False}}))
        short = sorted({f.where for f in findings
                        if f.constraint == "one_cluster_per_stronghold"})
        if short:
            out.append(_try(solve, scenario, "exempt " + ", ".join(short) + " from the cluster "
                            "requirement", {"policy": {"exempt_strongholds": sorted(
                                set(pol.exempt_strongholds) | set(short))}}))
    if pol.annual_budget is not None and "annual_budget" in families:
        need = sum(f.amount or 0.0 for f in findings if f.constraint == "annual_budget")
        # Round up to a tidy figure: 0.1 M DKK nationally, 1 DKK for small data sets.
        unit = 1e5 if pol.annual_budget >= 1e6 else 1.0
        budget = math.ceil((pol.annual_budget + need) / unit) * unit
        out.append(_try(solve, scenario, f"raise annual_budget to {_dkk(budget)}",
                        {"policy": {"annual_budget": budget}}))
    if pol.coverage == "soft" and pol.coverage_target > 0 and families & {"coverage",
                                                                          "rural_parity"}:
        grid = [round(pol.coverage_target - d, 4) for d in (0.01, 0.02, 0.05, 0.1, 0.2)
                if pol.coverage_target - d > 0]
        for t in grid:
            s = _try(solve, scenario, f"lower coverage_target from {pol.coverage_target:.0%} "
                     f"to {t:.0%}", {"policy": {"coverage_target": t}})
            if s.verified:
                out.append(s)
                break
        if pol.rural_parity:
            out.append(_try(solve, scenario, "drop rural_parity",
                            {"policy": {"rural_parity": False}}))
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
