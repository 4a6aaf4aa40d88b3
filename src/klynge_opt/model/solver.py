"""The one place that talks to the solver: HiGHS through highspy, in memory.

Pyomo builds the model; Pyomo's vectorised standard-form compiler
(``pyomo.repn.plugins.standard_form``) turns it into sparse arrays in one pass, and this
module hands those to a ``highspy.Highs`` as one LP (``passModel``) and loads the answer
back. That is four times faster than Pyomo's per-row ``contrib`` HiGHS interface on the
OR-Library instances (docs/performance.md) and gives direct access to the HiGHS instance
for options, callbacks and the column costs. ``tests/test_solver.py`` reads the options back
from the instance that ran to prove they arrive.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.errors import InfeasibleConstraintException
from pyomo.common.tee import capture_output
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

from ..data.scenario import PROVEN_GAP, SolverOptions
from ..progress import Gap, Progress
from . import formulation

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


@dataclass
class HighsRun:
    """What ran: the HiGHS instance, and the model's variables in HiGHS's column order with
    the objective coefficients HiGHS received."""

    highs: highspy.Highs
    columns: list[Any] = field(default_factory=list)
    costs: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def column_of(self) -> dict[int, int]:
        """Column index by ``id`` of the Pyomo variable."""
        return {id(v): i for i, v in enumerate(self.columns)}


#: HiGHS's absolute gap, kept out of the way (our contract is the relative gap) but above
#: rounding noise: an LP and a MIP of the same plan may differ in the last digit.
MIP_ABS_GAP = 1e-9


def highs_options(options: SolverOptions) -> dict[str, object]:
    """HiGHS option names and values for our solver options (what must reach HiGHS)."""
    out: dict[str, object] = {
        "time_limit": float(options.time_limit),
        "mip_rel_gap": float(options.mip_gap),
        "random_seed": int(options.seed),
        "mip_abs_gap": MIP_ABS_GAP,
    }
    if options.threads is not None:
        out["threads"] = int(options.threads)
    return out


def _new_highs(tee: bool) -> highspy.Highs:
    """A HiGHS instance, quiet unless ``tee``: the first one in a process prints a banner from
    C++ before any option can be set, so its output is caught at the file descriptor."""
    if tee:
        return highspy.Highs()
    with capture_output(capture_fd=True):
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def _watch(h: highspy.Highs, progress: Progress) -> None:
    """Report HiGHS's running gap to ``progress`` from its MIP callbacks."""

    def report(event: object) -> None:
        out = event.data_out  # type: ignore[attr-defined]
        gap = float(out.mip_gap)
        progress(Gap(float(out.running_time), gap if math.isfinite(gap) else None))

    h.cbMipLogging += report
    h.cbMipImprovingSolution += report


def _lp(model: pyo.ConcreteModel) -> tuple[highspy.HighsLp, list[Any], np.ndarray]:
    """The active objective and constraints as one HiGHS LP (fixed variables are constants;
    a variable in no row and not in the objective is no column)."""
    form = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None)
    (objective,) = form.objectives
    columns = list(form.columns)
    n, m = len(columns), len(form.rows)
    costs = form.c.toarray()[0] if form.c.shape[0] else np.zeros(n)
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = costs
    lp.offset_ = float(form.c_offset[0]) if len(form.c_offset) else 0.0
    lp.sense_ = (highspy.ObjSense.kMaximize if objective.sense == pyo.maximize
                 else highspy.ObjSense.kMinimize)
    lp.col_lower_ = np.array([-inf if v.lb is None else v.lb for v in columns], dtype=float)
    lp.col_upper_ = np.array([inf if v.ub is None else v.ub for v in columns], dtype=float)
    kind = np.array([bound for _, bound in form.rows], dtype=int)
    rhs = np.asarray(form.rhs, dtype=float)
    lp.row_lower_ = np.where(kind == 1, -inf, rhs)
    lp.row_upper_ = np.where(kind == -1, inf, rhs)
    a = form.A.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n, m
    lp.a_matrix_.start_ = a.indptr
    lp.a_matrix_.index_ = a.indices
    lp.a_matrix_.value_ = a.data
    integer = [v.is_integer() for v in columns]
    if any(integer):
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in integer]
    return lp, columns, costs


def solve(model: pyo.ConcreteModel, options: SolverOptions, *, tee: bool = False,
          progress: Progress | None = None) -> tuple[SolveReport, HighsRun]:
    """Solve in place; variable values are loaded when a solution exists. ``progress``
    receives the running gap (:class:`klynge_opt.progress.Gap`) while HiGHS works. A warm
    start's plan that the LP relaxation's bound already proves within the gap is the answer
    without HiGHS's branch and bound (docs/model.md, "Warm start")."""
    if options.threads is not None:
        # HiGHS keeps one thread pool per process, sized at the first solve; asking for another
        # size later makes the run fail ("unknown" status) unless the pool is reset first.
        highspy.Highs.resetGlobalScheduler(True)
    start = time.perf_counter()
    h = _new_highs(tee)
    for name, value in highs_options(options).items():
        h.setOptionValue(name, value)
    try:
        lp, columns, costs = _lp(model)
    except InfeasibleConstraintException as exc:
        # A row with no variable left that cannot hold (e.g. a group nobody may serve).
        return SolveReport("infeasible", None, None, None, time.perf_counter() - start,
                           f"infeasible: {exc}", False), HighsRun(h)
    run = HighsRun(h, columns, costs)
    if h.passModel(lp) != highspy.HighsStatus.kOk:
        # HiGHS refuses a model with huge coefficients (|a| >= 1e15): never report an optimum
        # of something else.
        return SolveReport("error", None, None, None, time.perf_counter() - start,
                           "model rejected by HiGHS (coefficients too large?)", False), run
    # The time limit is HiGHS's, as without a warm start: the first plan's solves count in it.
    deadline = time.perf_counter() + options.time_limit
    relaxation_bound: float | None = None
    with _interrupts() as caught:
        # The form build_model chose (auto resolved per instance), else the option as given.
        warm = getattr(model, "_warm_start", options.warm_start)
        if warm == "relaxation" and lp.integrality_:
            plan, relaxation_bound = relaxation_start(lp, options, tee, deadline)
            if plan is not None and relaxation_bound is not None:
                value = float(costs @ np.asarray(plan)) + lp.offset_
                if _within(value, relaxation_bound, options.mip_gap):
                    # The relaxation's bound already proves the plan: HiGHS's MIP would
                    # solve the same LP again only to say so.
                    return _proven_by_relaxation(plan, value, relaxation_bound, options,
                                                 start, model, run, progress)
            if plan is not None:
                hand_over(h, plan)
            h.setOptionValue("time_limit", max(0.0, deadline - time.perf_counter()))
        if progress is not None:
            _watch(h, progress)
        h.run()
    if caught:
        # The KeyboardInterrupt may have been raised inside a HiGHS callback, which turns it
        # into a solver error: an interrupted solve is never a result.
        raise KeyboardInterrupt
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_solution = bool(info.primal_solution_status == 2) and model_status not in (
        highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible)
    objective = bound = None
    if has_solution:
        _load(model, run, h.getSolution().col_value)
        objective = float(info.objective_function_value)
    if lp.integrality_:
        raw = float(info.mip_dual_bound)
        bound = raw if math.isfinite(raw) else None
        if relaxation_bound is not None:
            # The LP relaxation bounds the MIP too: HiGHS stopped by the time limit before
            # its root LP has no bound of its own for the plan it was handed.
            tighter = max if lp.sense_ == highspy.ObjSense.kMinimize else min
            bound = relaxation_bound if bound is None else tighter(bound, relaxation_bound)
    elif model_status == highspy.HighsModelStatus.kOptimal:
        bound = objective
    gap = None
    if objective is not None and bound is not None:
        gap = abs(objective - bound) / max(abs(objective), 1e-10)
    if model_status == highspy.HighsModelStatus.kOptimal and gap is None:
        gap = 0.0
    status = status_of(model_status, gap, options.mip_gap)
    return SolveReport(status, objective, bound, gap, time.perf_counter() - start,
                       h.modelStatusToString(model_status), has_solution), run


def _within(value: float, bound: float, gap: float) -> bool:
    """Whether ``value`` is within ``gap`` of ``bound`` by HiGHS's own stopping rule: the
    relative gap, or the absolute :data:`MIP_ABS_GAP`."""
    return abs(value - bound) <= max(gap * abs(value), MIP_ABS_GAP)


#: What :func:`solve` reports as the termination when the relaxation proved the first plan.
PROVEN_BY_RELAXATION = "Optimal (first plan within the gap of the LP relaxation)"


def _proven_by_relaxation(plan: list[float], value: float, bound: float,
                          options: SolverOptions, start: float, model: pyo.ConcreteModel,
                          run: HighsRun, progress: Progress | None
                          ) -> tuple[SolveReport, HighsRun]:
    """The report of a solve whose first plan the LP relaxation's bound proves."""
    _load(model, run, plan)
    gap = abs(value - bound) / max(abs(value), 1e-10)
    seconds = time.perf_counter() - start
    if progress is not None:
        progress(Gap(seconds, gap))
    status = status_of(highspy.HighsModelStatus.kOptimal, gap, options.mip_gap)
    return SolveReport(status, value, bound, gap, seconds, PROVEN_BY_RELAXATION, True), run


def _load(model: pyo.ConcreteModel, run: HighsRun, values: Any) -> None:
    """Set the model's variables to ``values`` (one per column), assignments made whole."""
    for v, value in zip(run.columns, values, strict=True):
        v.set_value(float(value), skip_validation=True)
    if getattr(model, "_assignments_relaxed", False):
        whole_assignments(model, run)


def hand_over(h: highspy.Highs, plan: list[float]) -> None:
    """Give HiGHS ``plan`` (a value per column) as its first incumbent."""
    first = highspy.HighsSolution()
    first.col_value, first.value_valid = plan, True
    h.setSolution(first)


#: The share of the time limit the restricted MIP of :func:`relaxation_start` may take.
START_SHARE = 0.25


def relaxation_start(lp: highspy.HighsLp, options: SolverOptions, tee: bool,
                     deadline: float) -> tuple[list[float] | None, float | None]:
    """A first plan (column values) for ``lp``, or None, and the relaxation's objective (a
    bound on the MIP's; None when the relaxation has no optimum).

    Solve the LP relaxation, fix every integer column it sets to a whole number and solve
    the small MIP that is left (the RENS idea, Berthold 2014). When that plan is not yet
    within ``mip_gap`` of the relaxation's bound, search a wider neighbourhood from it: only
    the columns the relaxation opened (at their upper bound) fixed. HiGHS finds such plans
    itself only after its root cut loop; handed over first, the root bound can prove the
    gap at once (docs/model.md, "Warm start"). The restricted MIPs share
    :data:`START_SHARE` of the time limit."""
    n = lp.num_col_
    every = np.arange(n, dtype=np.int32)

    def highs(limit: float) -> highspy.Highs:
        h = _new_highs(tee)
        for name, value in highs_options(options).items():
            h.setOptionValue(name, value)
        h.setOptionValue("time_limit", max(0.0, limit))
        h.passModel(lp)
        return h

    relaxed = highs(deadline - time.perf_counter())
    relaxed.changeColsIntegrality(n, every, np.zeros(n, dtype=np.uint8))
    relaxed.run()
    if relaxed.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None, None  # infeasible, unbounded or out of time: the MIP will say which
    x = np.asarray(relaxed.getSolution().col_value)
    bound = float(relaxed.getInfo().objective_function_value)
    integer = np.array([t == highspy.HighsVarType.kInteger for t in lp.integrality_])
    whole = integer & (np.abs(x - np.round(x)) <= 1e-6)
    col_lower = np.asarray(lp.col_lower_, dtype=float)
    col_upper = np.asarray(lp.col_upper_, dtype=float)
    budget = min(deadline, time.perf_counter() + START_SHARE * options.time_limit)
    plan: list[float] | None = None
    for fixed in (whole, whole & (np.abs(x - col_upper) <= 1e-6)):
        lower, upper = col_lower.copy(), col_upper.copy()
        lower[fixed] = upper[fixed] = np.round(x[fixed])
        restricted = highs(budget - time.perf_counter())
        restricted.changeColsBounds(n, every, lower, upper)
        if plan is not None:
            hand_over(restricted, plan)
        restricted.run()
        info = restricted.getInfo()
        if info.primal_solution_status == 2:
            plan = list(restricted.getSolution().col_value)
            if _within(float(info.objective_function_value), bound, options.mip_gap):
                break  # the relaxation's bound proves it: nothing wider to search
        elif restricted.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
            break  # out of time
    return plan, bound


#: An assignment share below this is solver noise, not a choice (HiGHS's integrality
#: tolerance is 1e-6: a share above this makes its linking binary 1).
_NOISE = 1e-4


def whole_assignments(model: pyo.ConcreteModel, run: HighsRun) -> None:
    """Give each demand group one provider (or leave it unserved) where relaxed assignments
    came back split: the cheapest of the options it already uses, by the objective HiGHS
    minimised. Every option used has its linking binaries at 1, so the plan stays feasible,
    and the cost cannot rise (the cheapest option costs no more than any mix of them)."""
    column = run.column_of()
    for group in formulation.assignment_choices(model):
        if any(id(v) not in column for v in group):
            continue  # a fixed variable is a constant, not a column: leave its group be
        values = [v.value or 0.0 for v in group]
        cost = [run.costs[column[id(v)]] for v in group]
        used = [i for i, value in enumerate(values) if value > _NOISE]
        if not used:
            continue  # no row asks for this group (a model with its assignment rows off)
        best = min(used, key=lambda i: (cost[i], -values[i]))
        for i, v in enumerate(group):
            v.set_value(1.0 if i == best else 0.0, skip_validation=True)


def status_of(model_status: highspy.HighsModelStatus, gap: float | None,
              requested_gap: float) -> Status:
    """Our status for HiGHS's model status; "optimal" only when proven within PROVEN_GAP:
    HiGHS converged to a requested gap no looser than that, or the gap reached is that small."""
    st = highspy.HighsModelStatus
    if model_status == st.kOptimal:
        proven = requested_gap <= PROVEN_GAP or (gap is not None and gap <= PROVEN_GAP)
        return "optimal" if proven else "feasible"
    if model_status in (st.kInfeasible, st.kUnboundedOrInfeasible):
        return "infeasible"
    if model_status in (st.kInterrupt, st.kHighsInterrupt):
        return "interrupted"
    if model_status in (st.kTimeLimit, st.kIterationLimit, st.kSolutionLimit):
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
