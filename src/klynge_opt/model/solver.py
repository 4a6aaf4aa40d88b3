"""The one place that talks to the solver: HiGHS through highspy, in memory.

Pyomo's ``pyomo.contrib.solver`` HiGHS interface hands the model to highspy directly (no
temporary files). Pyomo's legacy ``SolverFactory('highs')`` accepts a different set of option
names and silently ignores some, so it is not used; ``tests/test_solver.py`` reads the options
back from the HiGHS instance to prove they arrive.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import highspy
import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from ..data.scenario import PROVEN_GAP, SolverOptions
from ..progress import Gap, Progress

Status = Literal["optimal", "feasible", "time_limit", "infeasible", "interrupted", "error"]

#: "Optimal" means proven within this relative gap (the default ``solver.mip_gap``). A solve
#: stopped at a looser gap the user asked for is "feasible", with its gap reported.


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


class _Highs(Highs):
    """Pyomo's HiGHS interface, with the running gap reported to a :data:`Progress`.

    Pyomo creates the highspy instance inside ``solve``; its ``_solve`` is the one moment the
    instance exists and has not yet run, so the callbacks are attached there.
    """

    progress: Progress | None = None

    def _solve(self):  # type: ignore[no-untyped-def]
        progress = self.progress
        if progress is None:
            return super()._solve()
        instance = self._solver_model

        def report(event: object) -> None:
            out = event.data_out  # type: ignore[attr-defined]
            gap = float(out.mip_gap)
            progress(Gap(float(out.running_time), gap if math.isfinite(gap) else None))

        instance.cbMipLogging += report
        instance.cbMipImprovingSolution += report
        try:
            return super()._solve()
        finally:
            instance.cbMipLogging -= report
            instance.cbMipImprovingSolution -= report


def make_solver() -> Highs:
    solver = _Highs()
    if not solver.available():
        raise RuntimeError("HiGHS (highspy) is not available: pip install highspy")
    return solver


def solve(model: pyo.ConcreteModel, options: SolverOptions, *, tee: bool = False,
          solver: Highs | None = None, progress: Progress | None = None,
          ) -> tuple[SolveReport, Highs]:
    """Solve in place; variable values are loaded when a solution exists. ``progress``
    receives the running gap (:class:`klynge_opt.progress.Gap`) while HiGHS works."""
    solver = solver or make_solver()
    if isinstance(solver, _Highs):
        solver.progress = progress
    if options.threads is not None:
        # HiGHS keeps one thread pool per process, sized at the first solve; asking for another
        # size later makes the run fail ("unknown" status) unless the pool is reset first.
        highspy.Highs.resetGlobalScheduler(True)
    start = time.perf_counter()
    expected_rows = sum(1 for _ in model.component_data_objects(pyo.Constraint, active=True))
    with _interrupts() as caught:
        results = solver.solve(
            model,
            tee=tee,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            solver_options=highs_options(options),
        )
    if caught:
        # The KeyboardInterrupt may have been raised inside a HiGHS callback, which turns it
        # into a solver error: an interrupted solve is never a result.
        raise KeyboardInterrupt
    seconds = time.perf_counter() - start
    tc = results.termination_condition
    rows = _rows_in_solver(solver)
    if rows is not None and rows < expected_rows:
        # HiGHS refuses rows with huge coefficients (|a| >= 1e15) and Pyomo ignores the refusal;
        # what is left is another, emptier model whose "optimum" must never be reported.
        return SolveReport("error", None, None, None, seconds,
                           f"model rejected by HiGHS: {expected_rows - rows} of {expected_rows} "
                           "constraints refused (coefficients too large?)", False), solver
    has_solution = results.solution_status in (SolutionStatus.optimal, SolutionStatus.feasible)
    if has_solution:
        results.solution_loader.load_vars()
    objective = results.incumbent_objective if has_solution else None
    bound = results.objective_bound
    gap = None
    if objective is not None and bound is not None and math.isfinite(bound):
        gap = abs(objective - bound) / max(abs(objective), 1e-10)
    if tc == TerminationCondition.convergenceCriteriaSatisfied and gap is None:
        gap = 0.0
    status = status_of(tc, gap, options.mip_gap)
    return SolveReport(status, objective, bound, gap, seconds, tc.name, has_solution), solver


def status_of(tc: TerminationCondition, gap: float | None, requested_gap: float) -> Status:
    """Our status for a termination condition; "optimal" only when proven within PROVEN_GAP:
    HiGHS converged to a requested gap no looser than that, or the gap reached is that small."""
    if tc == TerminationCondition.convergenceCriteriaSatisfied:
        proven = requested_gap <= PROVEN_GAP or (gap is not None and gap <= PROVEN_GAP)
        return "optimal" if proven else "feasible"
    if tc in (TerminationCondition.provenInfeasible, TerminationCondition.locallyInfeasible,
              TerminationCondition.infeasibleOrUnbounded):
        return "infeasible"
    if tc == TerminationCondition.interrupted:
        return "interrupted"
    if tc in (TerminationCondition.maxTimeLimit, TerminationCondition.iterationLimit):
        return "time_limit"
    return "error"


@contextlib.contextmanager
def _interrupts() -> Iterator[list[int]]:
    """Record Ctrl-C and SIGTERM during a solve (and raise KeyboardInterrupt as usual)."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum: int, frame: object) -> None:
        caught.append(signum)
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _rows_in_solver(solver: Highs) -> int | None:
    """Rows HiGHS actually holds (Pyomo's interface keeps the highspy instance privately)."""
    instance = getattr(solver, "_solver_model", None)
    return None if instance is None else int(instance.getNumRow())
