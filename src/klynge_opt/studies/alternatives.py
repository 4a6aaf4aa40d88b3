"""The k best distinct operator sets: near-optimal alternatives to the optimal plan.

The model is built once and solved; then a no-good cut removes the operator set just found,

    Σ_{o kept} (1 − y_o) + Σ_{o closed} y_o ≥ 1,

and the model is solved again, until k plans are found or no other operator set is feasible.
Plans that differ only in clusters or assignments count as one: the cut is on y alone, so each
rank is the cheapest plan with an operator set not seen before.

Caveats the table carries:

* Ties are possible: two operator sets may cost exactly the same, and which comes first is
  the solver's choice.
* With ``solver.mip_gap`` > 0 each solve stops within that relative gap, so the k-th plan is
  only the k-th best within the gap (a later rank can even be cheaper than an earlier one).
* A solve stopped by the time limit yields a plan that is not proven optimal, and then the
  ranking from that rank on is not proven either: column ``proven``.
* Column ``within_solver_gap`` marks a plan whose cost differs from the first plan's by no
  more than the two solves' proven gaps leave open: as far as the solver has proven, the two
  are equally good, and choosing between them rests on what the model does not price.
* Plans are ranked by cost; the scenario's secondary objective (``fewest_changes``) is not
  applied here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import pandas as pd
import pyomo.environ as pyo

from ..api import open_session, run
from ..data.dataset import Dataset
from ..data.scenario import Scenario
from ..problems import InputError, Problem
from ..progress import Progress, Step
from ..results.result import LIST_SEPARATOR, Result

#: Columns of alternatives.csv (docs/outputs.md): the scenario and its input hash first, so a
#: report can tell which result the ranking belongs to and whether it is still current.
COLUMNS = ("scenario", "input_hash", "rank", "status", "objective", "gap_to_best",
           "gap_to_best_dkk", "within_solver_gap", "operators_after", "kept",
           "differs_from_best", "proven", "check_ok")


@dataclass(frozen=True)
class AlternativesStudy:
    #: One row per plan, cheapest first (``docs/outputs.md``, alternatives.csv).
    table: pd.DataFrame
    plans: list[Result]
    #: Status of the solve that ended the search early (``"infeasible"``: no other operator
    #: set is feasible), or None when all k plans were found.
    stopped: str | None
    message: str


def alternatives(scenario: Scenario | str | os.PathLike[str] | None, k: int, *,
                 dataset: Dataset | str | os.PathLike[str] | None = None,
                 progress: Progress | None = None) -> AlternativesStudy:
    """Up to ``k`` plans with distinct operator sets, cheapest first, and their results.

    Each result has been through the independent checker (``facts.check``). When fewer
    than ``k`` plans exist the search stops early, without error; ``stopped`` then holds the
    status of the last solve (``"infeasible"``: no other operator set is feasible;
    ``"time_limit"``/``"error"``: the search gave up) and ``message`` its message.
    ``progress`` receives a :class:`~klynge_opt.progress.Step` per plan sought and the
    running gap of each solve.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError([Problem("error", "the number of alternatives must be a positive "
                                           "integer", source="alternatives", column="k",
                                  value=repr(k))], what="alternatives")
    session = open_session(dataset, scenario)
    if session.scenario.mode != "optimise":
        raise InputError([Problem("error", "alternatives need mode = \"optimise\"; the status "
                                           "quo has a single plan", source=session.scenario.name,
                                  column="mode")], what="alternatives")
    plans: list[Result] = []
    stopped: Result | None = None
    cuts: pyo.ConstraintList | None = None
    if progress is not None:
        progress(Step("alternatives", "", 0, k))
    while len(plans) < k:
        result = run(session, progress=progress)
        if not result.has_solution:
            stopped = result
            break
        plans.append(result)
        if progress is not None:
            progress(Step("alternatives", f"plan {len(plans)}", len(plans), k))
        if len(plans) == k:
            break
        model = session.model
        assert model is not None  # a plan was found, so the model exists
        if cuts is None:
            # One container for all cuts, added once, so re-solving sees every earlier cut.
            model.alternative_cuts = pyo.ConstraintList()
            cuts = model.alternative_cuts
        kept = result.kept_operators
        cuts.add(sum(1 - model.y[o] for o in model.O if o in kept)
                 + sum(model.y[o] for o in model.O if o not in kept) >= 1)

    return AlternativesStudy(alternatives_table(plans), plans,
                             None if stopped is None else stopped.status,
                             "" if stopped is None else stopped.message)


def _relative(gap: float, best: float) -> float:
    if best != 0:
        return gap / abs(best)
    return 0.0 if gap == 0 else math.copysign(math.inf, gap)


def alternatives_table(plans: list[Result]) -> pd.DataFrame:
    """The ranking table for plans in the order found (the first is the reference)."""
    rows = []
    best_set: frozenset[str] = frozenset()
    best = math.nan
    best_gap = 0.0
    proven = True
    for rank, plan in enumerate(plans, start=1):
        kept = plan.kept_operators
        objective = float(plan.objective) if plan.objective is not None else math.nan
        gap = plan.facts.mip_gap or 0.0
        if rank == 1:
            best_set, best, best_gap = kept, objective, gap
        # Rank r is the r-th best only if every solve up to r proved its optimum.
        proven = proven and plan.status == "optimal"
        added = sorted(kept - best_set)
        dropped = sorted(best_set - kept)
        check = plan.facts.check
        rows.append({
            "scenario": plan.facts.scenario,
            "input_hash": plan.facts.input_hash,
            "rank": rank,
            "status": plan.status,
            "objective": objective,
            "gap_to_best": _relative(objective - best, best),
            "gap_to_best_dkk": objective - best,
            "within_solver_gap": abs(objective - best)
            <= best_gap * abs(best) + gap * abs(objective),
            "operators_after": len(kept),
            "kept": LIST_SEPARATOR.join(sorted(kept)),
            "differs_from_best": LIST_SEPARATOR.join([f"+{o}" for o in added]
                                                     + [f"-{o}" for o in dropped]),
            "proven": proven,
            "check_ok": None if check is None else bool(check.ok),
        })
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    table["check_ok"] = table["check_ok"].astype("boolean")
    return table


__all__ = ["AlternativesStudy", "alternatives", "alternatives_table"]
