"""Scenarios: what to solve, as a TOML file validated strictly by pydantic.

Every key, its default and its meaning are documented in ``docs/scenarios.md``; the names are
the model's parameter names in ``docs/model.md``.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..problems import InputError, Problem
from .paths import DENMARK as DEFAULT_DATA
from .schema import MAX_AMOUNT

#: A plan is "optimal" only when proven within this relative gap (the default mip_gap).
PROVEN_GAP = 1e-4


#: ``extends`` chains longer than this are refused (a cycle is caught earlier, by name).
MAX_EXTENDS_DEPTH = 32
#: Scenario names are folder names (results/<name>): these characters are refused.
_NAME_FORBIDDEN = re.compile(r'[/\\:*?"<>|\x00-\x1f]')


class _Strict(BaseModel):
    # NaN and infinity in a scenario are typing mistakes (TOML accepts `inf` and `nan`).
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)


class Costs(_Strict):
    horizon_years: float = Field(5.0, gt=0, le=1000,
                                 description="Years over which annual costs count.")
    cost_per_firm_minute: float = Field(
        100.0, ge=0, le=MAX_AMOUNT,
        description="DKK per firm per minute of travel to its operator, per year.")
    disruption_cost_per_firm: float = Field(
        5000.0, ge=0, le=MAX_AMOUNT,
        description="One-off DKK per firm served by an operator that hosts none of its current "
                    "clusters.")
    unserved_penalty_per_firm: float = Field(
        200_000.0, ge=0, le=MAX_AMOUNT,
        description="DKK per unserved firm (x stronghold weight), soft coverage.")


class LayerPolicy(_Strict):
    """Rules of one service layer other than guidance (``[policy.local]``, ``[policy.cluster]``);
    used only with a kinds table."""

    #: Farthest a firm may be from the operator (local) or the cluster's host (cluster).
    max_travel_minutes: float | None = Field(None, gt=0)
    #: ``soft``: a firm the layer cannot serve is unserved and penalised; ``hard``: every firm
    #: of the layer's demand must be served.
    coverage: Literal["hard", "soft"] = "soft"


class Policy(_Strict):
    clusters_per_stronghold: int = Field(1, ge=0)
    #: ``exactly`` n_s clusters per stronghold, or ``at_least`` n_s.
    cluster_rule: Literal["exactly", "at_least"] = "exactly"
    min_firms_per_operator: float = Field(0.0, ge=0)
    min_firms_per_node: float = Field(0.0, ge=0)
    min_cluster_budget: float = Field(0.0, ge=0, le=MAX_AMOUNT)
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
    annual_budget: float | None = Field(None, ge=0, le=MAX_AMOUNT)
    #: Soft coverage: every municipality's / region's served share of its firms at least this.
    min_coverage_per_municipality: float = Field(0.0, ge=0, le=1)
    min_coverage_per_region: float = Field(0.0, ge=0, le=1)
    #: A kept operator's load at most this share of its capacity: headroom for growth.
    max_utilisation: float = Field(1.0, gt=0, le=1)
    #: Per-stronghold exceptions to clusters_per_stronghold, e.g. {ict = 2}.
    stronghold_clusters: dict[str, int] = Field(default_factory=dict)
    #: Strongholds dropped from the cluster requirement (no constraint for them).
    exempt_strongholds: tuple[str, ...] = ()
    #: A selected cluster counts towards the requirement of at most this many of its
    #: strongholds (the model chooses which); None: of all it covers.
    max_strongholds_per_cluster: int | None = Field(None, ge=1)
    #: Whether a cluster's ``secondary`` strongholds (cluster_strongholds.role) count too.
    count_secondary: bool = False
    #: An unselected cluster may merge into one selected cluster sharing a stronghold (with
    #: service layers): its capacity moves along, its members stay undisrupted there.
    allow_mergers: bool = False
    #: Clusters forced selected / not selected, by id.
    keep_clusters: tuple[str, ...] = ()
    close_clusters: tuple[str, ...] = ()
    #: The service layers (only with a kinds table; docs/model.md, Service layers).
    #: Who needs specialised guidance: growth firms, or every firm.
    guidance_service: Literal["growth", "all"] = "growth"
    #: Who gets cluster service: firms with a current membership, or every firm.
    cluster_service: Literal["members", "all"] = "members"
    #: Critical mass of a selected cluster: members (weighted) it serves.
    min_members_per_cluster: float = Field(0.0, ge=0)
    local: LayerPolicy = LayerPolicy()
    cluster: LayerPolicy = LayerPolicy()

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
        both = sorted(set(self.keep_clusters) & set(self.close_clusters))
        if both:
            raise ValueError(f"clusters both in keep_clusters and close_clusters: "
                             f"{', '.join(both)}")
        return self


class SolverOptions(_Strict):
    time_limit: float = Field(300.0, gt=0, description="Seconds.")
    mip_gap: float = Field(PROVEN_GAP, ge=0, le=1, description="Relative MIP gap to stop at.")
    threads: int | None = Field(None, ge=1)
    seed: int = Field(0, ge=0)
    linking: Literal["auto", "pair", "aggregated"] = Field(
        "auto", description="How assignments are tied to serving nodes: auto chooses per "
                            "instance (docs/model.md).")
    warm_start: Literal["auto", "none", "relaxation"] = Field(
        "auto", description="A first plan handed to HiGHS: relaxation solves the LP "
                            "relaxation, fixes what it decides and solves the rest; auto "
                            "does so up to 50,000 guidance pairs (docs/model.md).")


class OperatorChange(_Strict):
    """Scale or set operator data for one operator, one kind, or (neither given) all."""

    operator_id: str | None = None
    kind: str | None = None
    #: Scales both parts of its operating cost: ``annual_cost`` and ``cost_per_firm``.
    annual_cost_factor: float = Field(1.0, ge=0, le=1e6)
    closure_cost_factor: float = Field(1.0, ge=0, le=1e6)
    capacity_factor: float = Field(1.0, ge=0)
    #: Set the capacity outright (after no factor). Any number at or above the total firm
    #: weight means "unlimited" (the model clamps capacities at what can be used).
    capacity: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_target(self) -> OperatorChange:
        if self.operator_id is not None and self.kind is not None:
            raise ValueError("give operator_id or kind, not both")
        return self


class FirmChange(_Strict):
    """Scale the weight (how many firms a row stands for) of the firms in one stronghold, one
    municipality, both, or (neither given) all: a different count of firms to serve."""

    stronghold_id: str | None = None
    municipality_id: str | None = None
    weight_factor: float = Field(1.0, gt=0, le=1e6)


class NewOperator(_Strict):
    """A hypothetical operator, added to the data for this scenario only."""

    operator_id: str
    name: str
    municipality_id: str
    kind: str = ""
    annual_cost: float = Field(ge=0, le=MAX_AMOUNT)
    cost_per_firm: float = Field(0.0, ge=0, le=MAX_AMOUNT)
    capacity: float | None = Field(None, ge=0)
    closure_cost: float = Field(0.0, ge=0, le=MAX_AMOUNT)
    strongholds: tuple[str, ...] = Field(min_length=1)


class NewCluster(_Strict):
    """A hypothetical cluster (say, a national cluster formed after the reform), added to the
    data for this scenario only; ``secondary`` lists strongholds it covers in a secondary role."""

    cluster_id: str
    name: str
    #: Host: an operator of the data or one of ``add_operators``; it must be competent in the
    #: cluster's strongholds, as in the data.
    operator_id: str
    strongholds: tuple[str, ...] = Field(min_length=1)
    secondary: tuple[str, ...] = ()
    budget: float = Field(0.0, ge=0, le=MAX_AMOUNT)
    label: Literal["none", "bronze", "silver", "gold"] = "none"
    gold_upgrade_cost: float | None = Field(None, ge=0, le=MAX_AMOUNT)
    knowledge_partners: int = Field(0, ge=0)
    annual_cost: float = Field(0.0, ge=0, le=MAX_AMOUNT)
    capacity: float | None = Field(None, ge=0)
    merge_cost: float = Field(0.0, ge=0, le=MAX_AMOUNT)


class Overrides(_Strict):
    """Changes to the data for this scenario, without touching the data files."""

    operators: tuple[OperatorChange, ...] = ()
    firms: tuple[FirmChange, ...] = ()
    add_operators: tuple[NewOperator, ...] = ()
    add_clusters: tuple[NewCluster, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.operators or self.firms or self.add_operators or self.add_clusters)


class ServiceRates(_Strict):
    """Estimated extra jobs per served firm, by service (docs/scenarios.md, [effect])."""

    local: float = Field(0.1, ge=0, le=1e6)
    guidance: float = Field(1.0, ge=0, le=1e6)
    cluster: float = Field(0.5, ge=0, le=1e6)


class Effect(_Strict):
    """Common effect measurement: an estimate of the jobs a plan's services create."""

    jobs_per_served_firm: ServiceRates = ServiceRates()
    #: A growth firm served counts this many times.
    growth_firm_factor: float = Field(2.0, ge=0, le=1e6)


#: What a robustness study may perturb (docs/robustness.md).
PERTURBABLE: tuple[str, ...] = ("operators.annual_cost", "operators.capacity",
                                "operators.closure_cost", "firms.weight", "effect.local",
                                "effect.guidance", "effect.cluster")


class Perturbation(_Strict):
    """One uncertain input: a random factor on it per sample, around 1."""

    what: Literal["operators.annual_cost", "operators.capacity", "operators.closure_cost",
                  "firms.weight", "effect.local", "effect.guidance", "effect.cluster"]
    #: Relative: a factor uniform on [1 - spread, 1 + spread], or normal with this standard
    #: deviation (clipped to [0.05, 3]).
    spread: float = Field(gt=0, le=0.95)
    distribution: Literal["uniform", "normal"] = "uniform"
    #: Which operators (by kind or id) or firms (by stronghold or municipality); none: all.
    kind: str | None = None
    operator_id: str | None = None
    stronghold_id: str | None = None
    municipality_id: str | None = None
    #: One factor for everything matched (true), or one per operator / per stronghold.
    shared: bool = False


class Uncertainty(_Strict):
    """Inputs a robustness study perturbs; no effect on a plain solve."""

    perturb: tuple[Perturbation, ...] = ()
    samples: int = Field(100, ge=1, le=100_000)
    seed: int = Field(0, ge=0)


class Objective(_Strict):
    #: ``min_cost``: the cheapest plan meeting the policy. ``max_effect``: the plan with the
    #: largest estimated effect (jobs, ``[effect]``) within ``policy.annual_budget``, and the
    #: cheapest of those (two stages).
    sense: Literal["min_cost", "max_effect"] = "min_cost"
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
    #: What the savings are measured against: ``today`` evaluates the status quo on the data
    #: before this scenario's overrides (a hypothetical operator does not exist today, a scaled
    #: cost is a what-if); ``overridden`` on the data after them.
    baseline: Literal["today", "overridden"] = "today"
    #: Resolved to an absolute path when read from a file.
    data: str = str(DEFAULT_DATA)
    #: Inherited file, already merged in by :func:`load_scenario`; kept for the record.
    extends: str | None = None
    costs: Costs = Costs()
    policy: Policy = Policy()
    overrides: Overrides = Overrides()
    objective: Objective = Objective()
    effect: Effect = Effect()
    solver: SolverOptions = SolverOptions()
    uncertainty: Uncertainty = Uncertainty()
    #: The file the scenario was read from, for messages; not part of its meaning.
    _source: str | None = PrivateAttr(default=None)

    @field_validator("objective")
    @classmethod
    def _budget_for_effect(cls, objective: Objective, info: ValidationInfo) -> Objective:
        # policy is declared before objective, so it is validated (or failed) already.
        policy = info.data.get("policy")
        if objective.sense == "max_effect" and policy is not None and \
                policy.annual_budget is None:
            raise ValueError("sense = \"max_effect\" needs policy.annual_budget: the most "
                             "effect for which budget (DKK a year)?")
        return objective

    @field_validator("name")
    @classmethod
    def _folder_name(cls, name: str) -> str:
        problem = name_problem(name)
        if problem:
            raise ValueError(problem)
        return name

    @property
    def file(self) -> str | None:
        """The scenario file, when it was read from one."""
        return self._source

    @property
    def source(self) -> str:
        """Where the scenario came from: its file, or its name when built in code."""
        return self._source or self.name

    def with_updates(self, updates: dict[str, Any]) -> Scenario:
        """A copy with nested updates, e.g. ``{"policy": {"max_operators": 5}}``, re-validated."""
        merged = _deep_merge(self.model_dump(mode="python"), updates)
        updated = parse_scenario(merged, source=self.source)
        updated._source = self._source
        return updated

    def to_toml_dict(self) -> dict[str, Any]:
        """The fully resolved scenario, suitable for writing back as TOML (no None values).

        ``extends`` is left out: every inherited value is already in the dict, and the file
        must not depend on the parent still being where it was."""
        return _drop_none(self.model_dump(mode="json", exclude={"extends"}))


def input_hash(scenario: Scenario, data_hash: str) -> str:
    """Identity of a solve: the fully resolved scenario (its labels and data path aside) and the
    data's content hash. Equal hashes give equal results, so comparisons may reuse them and
    ``check`` can tell an edited scenario from the one that was solved."""
    # What a robustness study would perturb is no input of this solve.
    resolved = scenario.model_dump(mode="json", exclude={"name", "description", "extends",
                                                         "data", "uncertainty"})
    text = json.dumps(resolved, sort_keys=True) + data_hash
    return hashlib.sha256(text.encode()).hexdigest()


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a result folder (``results/<name>``), or None if it can."""
    if not name.strip():
        return "must not be empty: it names the result folder"
    if name.startswith(".") or name != name.strip():
        return "must not start with '.' or a space, nor end with a space: it names a folder"
    if _NAME_FORBIDDEN.search(name):
        return ("must not contain / \\ : * ? \" < > | or control characters: it names the "
                "result folder")
    if len(name) > 100:
        return "must be at most 100 characters: it names the result folder"
    return None


def safe_name(text: str) -> str:
    """``text`` made into a valid scenario name (for names taken from file names)."""
    slug = _NAME_FORBIDDEN.sub("-", text).strip().lstrip(".").strip()[:100]
    return slug or "unnamed"


def _deep_merge(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _drop_none(value: Any) -> Any:
    # TOML has no null: an unset key (also inside a list of tables) is left out.
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
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
    """Validate a scenario mapping; raise :class:`InputError` naming every bad key at once.

    The error carries ``partial``: the scenario with the bad keys left at their defaults (or
    None), so a caller can check the rest against the data and report everything in one round.
    """
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(err, source) for err in exc.errors()]
        error = InputError(problems, what=f"scenario {source}")
        error.partial = _without(raw, [err["loc"] for err in exc.errors()])
        raise error from None


def _problem(err: Any, source: str) -> Problem:
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        known = _known_keys(Scenario, err["loc"])
        close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else \
            f"; known keys here: {', '.join(known)}"
        message = f"unknown key{hint}"
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    shown = None if err["type"] == "extra_forbidden" or isinstance(value, dict) \
        else repr(value)
    return Problem("error", message, source=source, column=key, value=shown)


def _without(raw: dict[str, Any], locations: list[tuple[Any, ...]]) -> Scenario | None:
    """``raw`` with every erroneous key removed, validated; None if still invalid."""
    trimmed = copy.deepcopy(raw)
    for loc in locations:
        if not loc:
            continue  # a rule across keys: nothing to drop (None is returned below)
        parent: Any = trimmed
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                parent = None
                break
        if isinstance(parent, dict):
            parent.pop(loc[-1], None)
        elif loc and isinstance(trimmed, dict):
            trimmed.pop(loc[0], None)  # a bad list item: drop the whole key
    if locations and any(not loc for loc in locations):
        return None
    try:
        return Scenario.model_validate(trimmed)
    except ValidationError:
        return None


def _read_toml(file: Path, chain: list[Path]) -> dict[str, Any]:
    """One file's table with ``extends`` merged in (parent first, child wins key by key)."""
    what = f"scenario {chain[0]}" if chain else f"scenario {file}"

    def fail(message: str, column: str | None = None, line: int | None = None) -> InputError:
        return InputError([Problem("error", message, source=str(file), line=line,
                                   column=column)], what=what)

    if file in chain:
        names = " -> ".join(p.name for p in [*chain, file])
        raise InputError([Problem("error", f"extends forms a cycle: {names}",
                                  source=str(chain[0]), column="extends")], what=what)
    if len(chain) >= MAX_EXTENDS_DEPTH:
        raise InputError([Problem("error", f"extends is nested more than {MAX_EXTENDS_DEPTH} "
                                  "levels deep; flatten the chain of scenario files",
                                  source=str(chain[0]), column="extends")], what=what)
    where = f" (extended by {chain[-1]})" if chain else ""
    if file.is_dir():
        hint = " — this looks like a data set; give a scenario .toml file" if any(
            file.glob("*.csv")) or any(file.glob("*.parquet")) else ""
        raise fail(f"is a folder, not a scenario file{where}{hint}")
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise fail(f"scenario file not found{where}") from None
    except OSError as exc:
        raise fail(f"cannot read the scenario file{where}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise fail("not UTF-8 text (saved as Latin-1/Windows-1252?): save the file as UTF-8",
                   line=line) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"not valid TOML: {exc}") from None
    if isinstance(raw.get("data"), str):
        raw["data"] = str((file.parent / raw["data"]).resolve())
    parent = raw.get("extends")
    if parent is None:
        return raw
    if not isinstance(parent, str) or not parent.strip():
        raise fail("extends must name a scenario file (text)", column="extends")
    parent_file = (file.parent / parent).resolve()
    base = _read_toml(parent_file, [*chain, file])
    base.pop("name", None)  # a name belongs to its own file
    base.pop("description", None)
    merged = _deep_merge(base, raw)
    merged["extends"] = str(parent_file)
    return merged


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a TOML scenario, following ``extends`` (relative to each file; cycles rejected).

    ``data`` is resolved relative to the file that sets it; the name defaults to the file name
    (made safe as a folder name).
    """
    file = Path(path).resolve()
    raw = _read_toml(file, [])
    raw.setdefault("name", safe_name(Path(path).stem))
    try:
        scenario = parse_scenario(raw, source=str(path))
    except InputError as exc:
        partial = getattr(exc, "partial", None)
        if partial is not None:
            partial._source = str(path)
        raise
    scenario._source = str(path)
    return scenario
