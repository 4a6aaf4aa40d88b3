"""The output contract, declared once (as :mod:`schema` declares the input): the files of a
result folder, each table's columns in order with their kind, the cost terms, the list
separator and the keys of summary.json (:class:`ResultSummary`). Results write by it, the
checker and ``read_result`` read by it, and ``docs/outputs.md`` documents it
(``tests/test_docs.py`` and ``tests/test_outputs.py`` keep them in step).
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Literal, Self, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Kind = Literal["text", "number", "flag"]

SUMMARY_FILE = "summary.json"
DIAGNOSIS_FILE = "diagnosis.json"
SCENARIO_FILE = "scenario.toml"
#: Lists inside a CSV cell (hosts, serves, strongholds) are joined with this, sorted.
LIST_SEPARATOR = ";"
#: The objective's terms, in the order they are reported (docs/model.md).
COST_TERMS: tuple[str, ...] = ("operating", "service", "closure", "upgrade", "disruption",
                               "unserved_penalty", "cluster_operating", "outside_scope",
                               "merger")
#: The services of docs/model.md (Service layers); without a kinds table only guidance.
SERVICES: tuple[str, ...] = ("local", "guidance", "cluster")


@dataclass(frozen=True)
class OutputTable:
    name: str
    file: str
    #: (column, kind) in the order written.
    columns: tuple[tuple[str, Kind], ...]

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def of_kind(self, kind: Kind) -> tuple[str, ...]:
        return tuple(c for c, k in self.columns if k == kind)


def _table(name: str, spec: str) -> OutputTable:
    """``spec``: whitespace-separated ``column:kind`` (t text, n number, f flag)."""
    kinds: dict[str, Kind] = {"t": "text", "n": "number", "f": "flag"}
    columns = tuple((c, kinds[k]) for c, k in (item.split(":") for item in spec.split()))
    return OutputTable(name, f"{name}.csv", columns)


OUTPUT_TABLES: dict[str, OutputTable] = {t.name: t for t in (
    _table("operators", "operator_id:t name:t kind:t layer:t in_scope:f municipality_id:t "
                        "region_id:t kept:f forced:t hosts:t serves:t firms_served:n "
                        "capacity:n utilisation:n annual_cost:n cost_per_firm:n operating_cost:n "
                        "closure_cost_paid:n"),
    _table("clusters", "cluster_id:t name:t host_operator_id:t strongholds:t counts_for:t "
                       "selected:f merged_into:t "
                       "forced:t admissible:f label:t label_after:t upgrade_cost_paid:n "
                       "budget:n knowledge_partners:n annual_cost:n capacity:n "
                       "members_served:n"),
    _table("assignments", "firm_id:t service:t municipality_id:t stronghold_id:t weight:n "
                          "share:n operator_id:t cluster_id:t minutes:n moved:f"),
)}
TABLE_FILES: dict[str, str] = {name: t.file for name, t in OUTPUT_TABLES.items()}

_PLACE = ("firms:n served:n share:n travel_mean:n travel_max:n operators_present:n "
          "local_share:n cluster_share:n jobs:n")
#: Reports derived from the decision tables and the data: coverage place by place, so that a
#: national average cannot hide a municipality left without service. The checker recomputes
#: them when present.
REPORT_TABLES: dict[str, OutputTable] = {t.name: t for t in (
    _table("coverage_by_municipality",
           f"municipality_id:t name:t region_id:t rural:f {_PLACE}"),
    _table("by_region", f"region_id:t name:t {_PLACE}"),
    _table("by_stronghold", "stronghold_id:t name:t firms:n clusters_selected:t "
                            "cluster_firms:n cluster_served:n firms_moved:n guidance_firms:n "
                            "guidance_served:n jobs:n"),
)}
#: Every table of a result folder, decisions first.
ALL_TABLES: dict[str, OutputTable] = {**OUTPUT_TABLES, **REPORT_TABLES}


# --------------------------------------------------------------------------- summary.json
#
# summary.json declared as frozen dataclasses, one per JSON object: ``ResultSummary`` and its
# parts. ``Result.summary`` stays the plain dict that is written; ``Result.facts`` is this
# typed view of it. ``from_dict`` takes exactly what is written (keys a result kind does not
# write are absent: a result without a plan has no figures) and ``to_dict`` gives it back
# unchanged. Values are taken as written, never converted. docs/outputs.md documents every
# field (tests/test_outputs.py keeps them in step).

#: When a key whose value is None is written: ``always`` (as null), ``if_set`` (never; the
#: key is absent), ``with_plan`` (as null when the result has figures, i.e. an objective).
Written = Literal["always", "if_set", "with_plan"]


#: ``field`` metadata of keys: when None is written (default ``always``), and whether ``{}``
#: stands for None (the checker reports empty terms and figures when it found no plan).
_IF_SET: dict[str, Written] = {"written": "if_set"}
_WITH_PLAN: dict[str, Written] = {"written": "with_plan"}
_EMPTY_IS_NONE = {"empty_is_none": True}


class SummaryPart:
    """One JSON object of summary.json as a frozen dataclass (see :class:`ResultSummary`)."""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "") -> Self:
        """The part from its JSON object; a required key missing raises ValueError naming it.
        Keys not declared here are ignored (:func:`undeclared_keys` lists them)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"{SUMMARY_FILE}: `{where.rstrip('.') or 'summary'}` should be an "
                             f"object, got {d!r}")
        values: dict[str, Any] = {}
        for f in fields(cast("type[DataclassInstance]", cls)):
            if f.name not in d:
                if f.default is MISSING:
                    raise ValueError(f"{SUMMARY_FILE}: `{where}{f.name}` is missing")
                continue
            values[f.name] = _load(cls, f, d[f.name], f"{where}{f.name}.")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, as summary.json holds it."""
        out: dict[str, Any] = {}
        for f in fields(cast("DataclassInstance", self)):
            value = getattr(self, f.name)
            if value is None:
                if f.metadata.get("empty_is_none"):
                    out[f.name] = {}
                    continue
                written = f.metadata.get("written", "always")
                if written == "if_set" or (written == "with_plan"
                                           and getattr(self, "objective", None) is None):
                    continue
            out[f.name] = _dump(value)
        return out


def part_of(cls: type[SummaryPart], name: str) -> tuple[type[SummaryPart] | None, bool]:
    """The part type a key of ``cls`` holds (None for a plain value), and whether it holds a
    list of them."""
    return _parts(cls)[name]


@functools.cache
def _parts(cls: type[SummaryPart]) -> dict[str, tuple[type[SummaryPart] | None, bool]]:
    out: dict[str, tuple[type[SummaryPart] | None, bool]] = {}
    for name, hint in typing.get_type_hints(cls).items():
        many = typing.get_origin(hint) is tuple
        args = typing.get_args(hint) if many or isinstance(hint, types.UnionType) else (hint,)
        found = [a for a in args if isinstance(a, type) and issubclass(a, SummaryPart)]
        out[name] = (found[0] if found else None, many)
    return out


def _load(owner: type[SummaryPart], f: Field[Any], value: Any, where: str) -> Any:
    part, many = part_of(owner, f.name)
    if value is None or part is None:
        return value
    if f.metadata.get("empty_is_none") and value == {}:
        return None
    if many:
        if not isinstance(value, list):
            raise ValueError(f"{SUMMARY_FILE}: `{where.rstrip('.')}` should be a list, got "
                             f"{value!r}")
        return tuple(part.from_dict(v, f"{where[:-1]}[{i}].") for i, v in enumerate(value))
    return part.from_dict(value, where)


def _dump(value: Any) -> Any:
    if isinstance(value, SummaryPart):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_dump(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class CostTerms(SummaryPart):
    """``objective_terms``: the objective's terms in DKK over the horizon (order of
    :data:`COST_TERMS`)."""

    operating: float
    service: float
    closure: float
    upgrade: float
    disruption: float
    unserved_penalty: float
    cluster_operating: float
    outside_scope: float
    merger: float


@dataclass(frozen=True, kw_only=True)
class Counts(SummaryPart):
    """``counts``: operators and clusters before and after the plan."""

    operators_before: int
    operators_after: int
    clusters_before: int
    clusters_after: int


@dataclass(frozen=True, kw_only=True)
class Coverage(SummaryPart):
    """``coverage``: firm-weighted served share; None where no firm is of that kind."""

    all: float | None
    rural: float | None
    urban: float | None


@dataclass(frozen=True, kw_only=True)
class ServiceCoverage(SummaryPart):
    """``coverage_by_service``: coverage of each service's demand (None for a service no firm
    needs: without a kinds table only guidance)."""

    local: Coverage | None
    guidance: Coverage | None
    cluster: Coverage | None


@dataclass(frozen=True, kw_only=True)
class ServiceFirms(SummaryPart):
    """Weighted firms per service."""

    local: float
    guidance: float
    cluster: float


@dataclass(frozen=True, kw_only=True)
class EffectFigures(SummaryPart):
    """``effect``: common effect measurement, estimates from the scenario's ``[effect]``
    rates (docs/scenarios.md). ``annual_cost``: in-scope operators kept plus selected
    clusters, DKK per year; the cost ratios are None when nothing is served."""

    firms_served: ServiceFirms
    growth_firms_served: ServiceFirms
    employees_served: ServiceFirms
    jobs: float
    annual_cost: float
    cost_per_served_firm: float | None
    cost_per_job: float | None


@dataclass(frozen=True, kw_only=True)
class TravelMinutes(SummaryPart):
    """``travel_minutes``: weighted mean and max travel time; None without served firms."""

    mean: float | None
    max: float | None


@dataclass(frozen=True, kw_only=True)
class Timings(SummaryPart):
    """``timings``: seconds per phase; a phase the run did not reach is absent."""

    load: float | None = field(default=None, metadata=_IF_SET)
    build: float | None = field(default=None, metadata=_IF_SET)
    solve: float | None = field(default=None, metadata=_IF_SET)
    extract: float | None = field(default=None, metadata=_IF_SET)
    total: float | None = field(default=None, metadata=_IF_SET)


@dataclass(frozen=True, kw_only=True)
class StatusQuoFigures(SummaryPart):
    """``status_quo``: today's landscape under the same cost model."""

    objective: float
    objective_terms: CostTerms
    operators: int
    clusters: int
    coverage: Coverage
    #: Coverage by the scenario's own rule: served by an operator within max_travel_minutes
    #: (null without a radius). "As today" (``coverage``) counts every served firm.
    coverage_within_radius: Coverage | None = None
    travel_minutes: TravelMinutes
    firms_moved: float
    coverage_by_service: ServiceCoverage
    effect: EffectFigures
    #: ``today`` (the data before the scenario's overrides) or ``overridden``.
    baseline: str = "today"


@dataclass(frozen=True, kw_only=True)
class Savings(SummaryPart):
    """``savings``: status quo objective − objective, absolute and as a share (None when the
    status quo costs nothing)."""

    total: float
    share: float | None
    #: Savings as a share of the status quo without the outside_scope term (what the reform
    #: decides); equal to ``share`` without out-of-scope operators.
    in_scope_share: float | None


@dataclass(frozen=True, kw_only=True)
class CheckFigures(SummaryPart):
    """``check.figures``: the plan figures as the checker recomputed them from the tables."""

    coverage: Coverage
    travel_minutes: TravelMinutes
    firms_moved: float
    counts: Counts
    coverage_by_service: ServiceCoverage
    effect: EffectFigures


@dataclass(frozen=True, kw_only=True)
class CheckViolation(SummaryPart):
    """One entry of ``check.violations``."""

    constraint: str
    where: str
    message: str
    amount: float | None


@dataclass(frozen=True, kw_only=True)
class CheckVerdict(SummaryPart):
    """``check``: the independent checker's verdict. Terms and figures are ``{}`` when it
    found no plan to recompute from; ``objective`` is None then."""

    ok: bool
    objective: float | None = None
    reported_objective: float | None = None
    objective_terms: CostTerms | None = field(default=None, metadata=_EMPTY_IS_NONE)
    figures: CheckFigures | None = field(default=None, metadata=_EMPTY_IS_NONE)
    violations: tuple[CheckViolation, ...] = ()
    note: str = ""


@dataclass(frozen=True, kw_only=True)
class Secondary(SummaryPart):
    """``secondary``: the lexicographic re-optimisation (``objective.secondary``)."""

    objective: str
    tolerance: float
    primary_objective: float
    primary_status: str
    closed_before: int
    firms_moved_before: float


@dataclass(frozen=True, kw_only=True)
class EffectOptimum(SummaryPart):
    """``effect_optimum`` (``objective.sense = "max_effect"``): the first stage, the largest
    estimated jobs within the policy and budget; the plan is the cheapest keeping it."""

    jobs: float
    bound: float | None
    mip_gap: float | None
    status: str


@dataclass(frozen=True, kw_only=True)
class ResultSummary(SummaryPart):
    """summary.json. A result without a plan (infeasible, error, time limit without a plan)
    has only the identity, ``status``, ``proven_optimal``, ``message``, ``timings`` and, when
    the solver ran, ``solver_termination``; the figures are None then."""

    scenario: str | None = field(default=None, metadata=_IF_SET)
    data: str | None = field(default=None, metadata=_IF_SET)
    data_hash: str | None = field(default=None, metadata=_IF_SET)
    input_hash: str | None = field(default=None, metadata=_IF_SET)
    status: str
    proven_optimal: bool = False
    message: str | None = field(default=None, metadata=_IF_SET)
    objective: float | None = field(default=None, metadata=_IF_SET)
    objective_terms: CostTerms | None = field(default=None, metadata=_IF_SET)
    objective_bound: float | None = field(default=None, metadata=_WITH_PLAN)
    mip_gap: float | None = field(default=None, metadata=_WITH_PLAN)
    solver_termination: str | None = field(default=None, metadata=_WITH_PLAN)
    #: The linking form built (``solver.linking``, with ``auto`` resolved: docs/model.md).
    linking: str | None = field(default=None, metadata=_IF_SET)
    #: The warm start used (``solver.warm_start``, with ``auto`` resolved: docs/model.md).
    warm_start: str | None = field(default=None, metadata=_IF_SET)
    timings: Timings | None = field(default=None, metadata=_IF_SET)
    counts: Counts | None = field(default=None, metadata=_IF_SET)
    coverage: Coverage | None = field(default=None, metadata=_IF_SET)
    travel_minutes: TravelMinutes | None = field(default=None, metadata=_IF_SET)
    firms_moved: float | None = field(default=None, metadata=_IF_SET)
    coverage_by_service: ServiceCoverage | None = field(default=None, metadata=_IF_SET)
    effect: EffectFigures | None = field(default=None, metadata=_IF_SET)
    status_quo: StatusQuoFigures | None = field(default=None, metadata=_IF_SET)
    savings: Savings | None = field(default=None, metadata=_IF_SET)
    check: CheckVerdict | None = field(default=None, metadata=_IF_SET)
    secondary: Secondary | None = field(default=None, metadata=_IF_SET)
    effect_optimum: EffectOptimum | None = field(default=None, metadata=_IF_SET)


def summary_paths(cls: type[SummaryPart] = ResultSummary, prefix: tuple[str, ...] = (),
                  ) -> list[tuple[tuple[str, ...], type[SummaryPart]]]:
    """Every declared key of summary.json as a path (``("counts", "operators_after")``), with
    the part that declares its last key; parents before their keys."""
    out: list[tuple[tuple[str, ...], type[SummaryPart]]] = []
    for f in fields(cast("type[DataclassInstance]", cls)):
        path = (*prefix, f.name)
        out.append((path, cls))
        part, _ = part_of(cls, f.name)
        if part is not None:
            out += summary_paths(part, path)
    return out


def undeclared_keys(d: Mapping[str, Any], cls: type[SummaryPart] = ResultSummary,
                    where: str = "") -> list[str]:
    """Keys of a summary (dotted, lists as ``[]``) that the dataclasses do not declare."""
    out: list[str] = []
    declared = _parts(cls)
    for key, value in d.items():
        if key not in declared:
            out.append(f"{where}{key}")
            continue
        part, many = declared[key]
        if part is None or value is None:
            continue
        items = value if many and isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, Mapping):
                out += undeclared_keys(item, part, f"{where}{key}{'[]' if many else ''}.")
    return sorted(set(out))
