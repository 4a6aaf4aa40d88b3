"""The one place that talks to the solver: HiGHS through highspy, in memory.

Pyomo's ``pyomo.contrib.solver`` HiGHS interface hands the model to highspy directly (no
temporary files). Pyomo's legacy ``SolverFactory('highs')`` accepts a different set of option
names and silently ignores some, so it is not used; ``tests/test_solver.py`` reads the options
back from the HiGHS instance to prove they arrive.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from .scenario import SolverOptions

Status = Literal["optimal", "time_limit", "infeasible", "error"]


@dataclass(frozen=True)
class SolveReport:
    status: Status
    objective: float | None
    bound: float | None
    #: Relative gap |objective - bound| / |objective| as HiGHS defines it (0 when optimal).
    mip_gap: float | None
    seconds: float
    termination: str
    has_solution: bool


def highs_options(options: SolverOptions) -> dict[str, object]:
    """HiGHS option names and values for our solver options (what must reach HiGHS)."""
    out: dict[str, object] = {
        "time_limit": float(options.time_limit),
        "mip_rel_gap": float(options.mip_gap),
        "random_seed": int(options.seed),
        # Keep HiGHS's own absolute gap out of the way: our contract is the relative gap.
        "mip_abs_gap": 1e-9,
    }
    if options.threads is not None:
        out["threads"] = int(options.threads)
    return out


def make_solver() -> Highs:
    solver = Highs()
    if not solver.available():
        raise RuntimeError("HiGHS (highspy) is not available: pip install highspy")
    return solver


def solve(model: pyo.ConcreteModel, options: SolverOptions, *, tee: bool = False,
          solver: Highs | None = None) -> tuple[SolveReport, Highs]:
    """Solve in place; variable values are loaded when a solution exists."""
    solver = solver or make_solver()
    if options.threads is not None:
        # HiGHS keeps one thread pool per process, sized at the first solve; asking for another
        # size later makes the run fail ("unknown" status) unless the pool is reset first.
        highspy.Highs.resetGlobalScheduler(True)
    start = time.perf_counter()
    results = solver.solve(
        model,
        tee=tee,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        solver_options=highs_options(options),
    )
    seconds = time.perf_counter() - start
    tc = results.termination_condition
    has_solution = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    if has_solution:
        results.solution_loader.load_vars()
    objective = results.incumbent_objective if has_solution else None
    bound = results.objective_bound
    gap = None
    if objective is not None and bound is not None and math.isfinite(bound):
        gap = abs(objective - bound) / max(abs(objective), 1e-10)
    if tc == TerminationCondition.convergenceCriteriaSatisfied:
        status: Status = "optimal"
    elif tc in (TerminationCondition.provenInfeasible,
                TerminationCondition.locallyInfeasible,
                TerminationCondition.infeasibleOrUnbounded):
        status = "infeasible"
    elif tc == TerminationCondition.maxTimeLimit or (
            has_solution and tc in (TerminationCondition.iterationLimit,
                                    TerminationCondition.interrupted)):
        status = "time_limit"
    else:
        status = "error"
    if status == "optimal" and gap is None:
        gap = 0.0
    return SolveReport(status, objective, bound, gap, seconds, tc.name, has_solution), solver
