"""Why is this operator closed (or kept)? Re-solve with the opposite decision and report what
it changes.

The plan's scenario is solved again with the operator forced the other way (added to
``policy.keep`` when the plan closes it, to ``policy.close`` when the plan keeps it), on the
same data. The difference in total cost is what the plan's choice is worth; the figures that
move (cost terms, coverage, estimated jobs, operators) say how. A decision the scenario
itself forces, or one outside the reform's scope, needs no re-solve: the reason is the rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..api import solve
from ..data import dataset as dataset_api
from ..data.dataset import Dataset
from ..problems import InputError, Problem
from ..results.result import Result, read_result


@dataclass(frozen=True)
class Explanation:
    operator_id: str
    name: str
    kept: bool
    #: "forced", "outside_scope" or "re-solved".
    basis: str
    #: Plain words, with a number where one exists.
    text: str
    #: The plan with the opposite decision (None when none was solved).
    other: Result | None = None
    #: Other plan minus this plan, per cost term and for the figures that moved.
    deltas: dict[str, float] = field(default_factory=dict)


def _figures(r: Result) -> dict[str, float]:
    s = r.summary
    out = {f"cost.{k}": float(v) for k, v in (s.get("objective_terms") or {}).items()}
    out["total"] = float(s.get("objective") or 0.0)
    out["jobs"] = float((s.get("effect") or {}).get("jobs") or 0.0)
    out["coverage"] = float((s.get("coverage") or {}).get("all") or 0.0)
    out["operators"] = float((s.get("counts") or {}).get("operators_after") or 0.0)
    return out


def explain(result: Result | str | os.PathLike[str], operator_id: str, *,
            dataset: Dataset | None = None) -> Explanation:
    """Explain the plan's decision on ``operator_id`` (see the module docstring)."""
    plan = result if isinstance(result, Result) else read_result(result)
    if plan.scenario is None or not plan.has_solution:
        raise InputError([Problem("error", "expected a result with a plan and its "
                                  "scenario.toml", source=str(result))], what="explain")
    ops = plan.operators.set_index("operator_id")
    if operator_id not in ops.index:
        close = sorted(o for o in ops.index if operator_id.lower() in o.lower())[:5]
        hint = f"; similar: {', '.join(close)}" if close else ""
        raise InputError([Problem("error", f"no operator {operator_id!r} in the plan{hint}",
                                  source="command line", column="OPERATOR",
                                  value=operator_id)], what="explain")
    row = ops.loc[operator_id]
    kept, name = bool(row["kept"]), str(row["name"])
    word = "kept" if kept else "closed"
    if not bool(row["in_scope"]):
        return Explanation(operator_id, name, kept, "outside_scope",
                           f"{name} is outside the reform's scope (kind {row['kind']}): "
                           "it is kept and not decided.")
    if row["forced"]:
        return Explanation(operator_id, name, kept, "forced",
                           f"{name} is {word} because the scenario says so "
                           f"(policy {row['forced']} or {row['forced']}_kinds).")
    sc = plan.scenario
    ds = dataset if dataset is not None else dataset_api.load(sc.data)
    pol = sc.policy
    flip = {"close": sorted({*pol.close, operator_id})} if kept else \
        {"keep": sorted({*pol.keep, operator_id})}
    other = solve(ds, sc.with_updates({"policy": flip}))
    if other.objective is None or other.status == "infeasible":
        text = (f"{name} is {word}: the plan cannot do without it — with it "
                f"{'closed' if kept else 'kept'} the scenario has no valid plan "
                f"({other.status}).")
        return Explanation(operator_id, name, kept, "re-solved", text, other)
    before, after = _figures(plan), _figures(other)
    deltas = {k: after[k] - before.get(k, 0.0) for k in after
              if abs(after[k] - before.get(k, 0.0)) > 1e-6}
    dkk = deltas.get("total", 0.0)
    gap = max(plan.summary.get("mip_gap") or 0.0, other.summary.get("mip_gap") or 0.0)
    within = abs(dkk) <= gap * abs(before["total"]) + 1.0
    other_way = "closing it" if kept else "keeping it"
    if within:
        text = (f"{name} is {word}, but {other_way} costs about the same "
                f"({dkk / 1e6:+,.1f} M DKK over the horizon, within the solver's proven gap "
                f"of {gap:.2%}): the choice is a near-tie.")
    else:
        text = (f"{name} is {word} because {other_way} would cost {dkk / 1e6:+,.1f} M DKK "
                f"over the horizon ({dkk / max(before['total'], 1.0):+.2%} of the plan's "
                "total)")
        moved = [f"{k.removeprefix('cost.')} {v / 1e6:+,.1f} M" for k, v in sorted(
            deltas.items(), key=lambda kv: -abs(kv[1])) if k.startswith("cost.")][:3]
        if moved:
            text += ", mostly " + ", ".join(moved)
        if abs(deltas.get("jobs", 0.0)) >= 0.5:
            text += f"; estimated jobs {deltas['jobs']:+,.0f}"
        if abs(deltas.get("coverage", 0.0)) > 1e-6:
            text += f"; guidance coverage {100 * deltas['coverage']:+.1f} points"
        text += "."
    return Explanation(operator_id, name, kept, "re-solved", text, other, deltas)


def to_dict(e: Explanation) -> dict[str, Any]:
    return {"operator_id": e.operator_id, "name": e.name, "kept": e.kept, "basis": e.basis,
            "text": e.text, "deltas": e.deltas,
            "other_status": None if e.other is None else e.other.status}
