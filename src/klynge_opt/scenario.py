"""Scenarios: what to solve, as a TOML file validated strictly by pydantic.

Every key, its default and its meaning are documented in ``docs/scenarios.md``; the names are
the model's parameter names in ``docs/model.md``.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .problems import InputError, Problem

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "data" / "denmark"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Costs(_Strict):
    horizon_years: float = Field(5.0, gt=0, description="Years over which annual costs count.")
    cost_per_firm_minute: float = Field(
        100.0, ge=0, description="DKK per firm per minute of travel to its operator, per year.")
    disruption_cost_per_firm: float = Field(
        5000.0, ge=0, description="One-off DKK per firm served by an operator that hosts none of "
                                  "its current clusters.")
    unserved_penalty_per_firm: float = Field(
        200_000.0, ge=0, description="DKK per unserved firm (x stronghold weight), soft coverage.")


class Policy(_Strict):
    clusters_per_stronghold: int = Field(1, ge=0)
    min_firms_per_operator: float = Field(0.0, ge=0)
    min_firms_per_node: float = Field(0.0, ge=0)
    min_cluster_budget: float = Field(0.0, ge=0)
    min_knowledge_partners: int = Field(0, ge=0)
    max_travel_minutes: float | None = Field(None, gt=0)
    allow_split: bool = False
    coverage: Literal["hard", "soft"] = "hard"
    coverage_target: float = Field(1.0, ge=0, le=1)
    rural_parity: bool = False
    rural_parity_tolerance: float = Field(0.0, ge=0, le=1)
    min_operators_per_region: int = Field(0, ge=0)
    min_operators: int = Field(0, ge=0)
    max_operators: int | None = Field(None, ge=0)
    require_gold: bool = False
    keep: tuple[str, ...] = ()
    close: tuple[str, ...] = ()
    keep_kinds: tuple[str, ...] = ()
    close_kinds: tuple[str, ...] = ()
    annual_budget: float | None = Field(None, ge=0)
    #: Per-stronghold exceptions to clusters_per_stronghold, e.g. {ict = 2}.
    stronghold_clusters: dict[str, int] = Field(default_factory=dict)
    #: Strongholds dropped from the cluster requirement (no constraint for them).
    exempt_strongholds: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _non_negative_requirements(self) -> Policy:
        bad = {s: n for s, n in self.stronghold_clusters.items() if n < 0}
        if bad:
            raise ValueError(f"stronghold_clusters must be >= 0: {bad}")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        if self.max_operators is not None and self.max_operators < self.min_operators:
            raise ValueError(f"max_operators ({self.max_operators}) is below min_operators "
                             f"({self.min_operators})")
        both = sorted(set(self.keep) & set(self.close))
        if both:
            raise ValueError(f"operators both in keep and close: {', '.join(both)}")
        return self


class SolverOptions(_Strict):
    time_limit: float = Field(300.0, gt=0, description="Seconds.")
    mip_gap: float = Field(1e-4, ge=0, le=1, description="Relative MIP gap to stop at.")
    threads: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)
    linking: Literal["pair", "aggregated"] = Field(
        "aggregated", description="How assignments are tied to serving nodes (docs/model.md).")


class OperatorChange(_Strict):
    """Scale or set operator data for one operator, one kind, or (neither given) all."""

    operator_id: str | None = None
    kind: str | None = None
    annual_cost_factor: float = Field(1.0, ge=0)
    closure_cost_factor: float = Field(1.0, ge=0)
    capacity_factor: float = Field(1.0, ge=0)
    #: Set the capacity outright (after no factor); use a large number for "unlimited".
    capacity: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_target(self) -> OperatorChange:
        if self.operator_id is not None and self.kind is not None:
            raise ValueError("give operator_id or kind, not both")
        return self


class NewOperator(_Strict):
    """A hypothetical operator, added to the data for this scenario only."""

    operator_id: str
    name: str
    municipality_id: str
    kind: str = ""
    annual_cost: float = Field(ge=0)
    capacity: float | None = Field(None, ge=0)
    closure_cost: float = Field(0.0, ge=0)
    strongholds: tuple[str, ...] = Field(min_length=1)


class Overrides(_Strict):
    """Changes to the data for this scenario, without touching the data files."""

    operators: tuple[OperatorChange, ...] = ()
    add_operators: tuple[NewOperator, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.operators and not self.add_operators


class Objective(_Strict):
    #: ``fewest_changes``: among plans within ``tolerance`` of the optimal cost, the one that
    #: closes fewest operators, then moves fewest firms (lexicographic re-optimisation).
    secondary: Literal["none", "fewest_changes"] = "none"
    tolerance: float = Field(0.01, ge=0, le=1)


class Scenario(_Strict):
    name: str = "unnamed"
    description: str = ""
    #: ``optimise`` solves the model; ``status_quo`` only evaluates today's landscape under the
    #: same cost model (every operator and cluster kept, firms with their current operators).
    mode: Literal["optimise", "status_quo"] = "optimise"
    #: Resolved to an absolute path when read from a file.
    data: str = str(DEFAULT_DATA)
    #: Inherited file, already merged in by :func:`load_scenario`; kept for the record.
    extends: str | None = None
    costs: Costs = Costs()
    policy: Policy = Policy()
    overrides: Overrides = Overrides()
    objective: Objective = Objective()
    solver: SolverOptions = SolverOptions()

    def with_updates(self, updates: dict[str, Any]) -> Scenario:
        """A copy with nested updates, e.g. ``{"policy": {"max_operators": 5}}``, re-validated."""
        merged = _deep_merge(self.model_dump(mode="python"), updates)
        return parse_scenario(merged, source="<updates>")

    def to_toml_dict(self) -> dict[str, Any]:
        """The fully resolved scenario, suitable for writing back as TOML (no None values).

        ``extends`` is left out: every inherited value is already in the dict, and the file
        must not depend on the parent still being where it was."""
        return _drop_none(self.model_dump(mode="json", exclude={"extends"}))


def _deep_merge(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed at ``loc`` (for "did you mean"); list items (int parts) are stepped over."""
    current: type[BaseModel] = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        annotation = field.annotation
        args = [a for a in typing.get_args(annotation) if isinstance(a, type)]
        target = annotation if isinstance(annotation, type) else (args[0] if args else None)
        if target is None or not issubclass(target, BaseModel):
            return []
        current = target
    return list(current.model_fields)


def parse_scenario(raw: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """Validate a scenario mapping; raise :class:`InputError` naming every bad key at once."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            if err["type"] == "extra_forbidden":
                known = _known_keys(Scenario, err["loc"])
                close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
                hint = f"; did you mean '{close[0]}'?" if close else \
                    f"; known keys here: {', '.join(known)}"
                message = f"unknown key{hint}"
            else:
                message = err["msg"]
            value = err.get("input")
            shown = None if err["type"] == "extra_forbidden" or isinstance(value, dict) \
                else repr(value)
            problems.append(Problem("error", message, source=source, column=key, value=shown))
        raise InputError(problems, what=f"scenario {source}") from None


def _read_toml(file: Path, chain: list[Path]) -> dict[str, Any]:
    """One file's table with ``extends`` merged in (parent first, child wins key by key)."""
    what = f"scenario {chain[0]}" if chain else f"scenario {file}"
    if file in chain:
        names = " -> ".join(p.name for p in [*chain, file])
        raise InputError([Problem("error", f"extends forms a cycle: {names}",
                                  source=str(chain[0]), column="extends")], what=what)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        where = f" (extended by {chain[-1]})" if chain else ""
        raise InputError([Problem("error", f"scenario file not found{where}",
                                  source=str(file))], what=what) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem("error", f"not valid TOML: {exc}", source=str(file))],
                         what=what) from None
    if isinstance(raw.get("data"), str):
        raw["data"] = str((file.parent / raw["data"]).resolve())
    parent = raw.get("extends")
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise InputError([Problem("error", "extends must be a file name (text)",
                                  source=str(file), column="extends")], what=what)
    parent_file = (file.parent / parent).resolve()
    base = _read_toml(parent_file, [*chain, file])
    base.pop("name", None)  # a name belongs to its own file
    base.pop("description", None)
    merged = _deep_merge(base, raw)
    merged["extends"] = str(parent_file)
    return merged


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a TOML scenario, following ``extends`` (relative to each file; cycles rejected).

    ``data`` is resolved relative to the file that sets it; the name defaults to the file name.
    """
    file = Path(path).resolve()
    raw = _read_toml(file, [])
    raw.setdefault("name", Path(path).stem)
    return parse_scenario(raw, source=str(path))
