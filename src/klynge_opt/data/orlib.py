"""Readers that turn J.E. Beasley's OR-Library instances into klynge-opt data sets.

Two families are supported, both used to check the model's facility-location core against
published optima:

* capacitated warehouse location (``cap41`` … ``cap134``), reduced exactly to a klynge-opt data
  set by :func:`cap_tables` under the settings of :func:`cap_scenario`;
* p-median (``pmed1`` … ``pmed40``), reduced by :func:`pmed_tables` under
  :func:`pmed_scenario`.

The instances the tests and benchmarks use ship with the repository (``tests/data/orlib/``);
:func:`orlib_root` finds them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .paths import PROJECT_ROOT
from .schema import TABLE_BY_NAME, TABLES

__all__ = [
    "CAP_NAMES",
    "NON_BINDING_CAP",
    "PMED_NAMES",
    "CapInstance",
    "PMedInstance",
    "cap_scenario",
    "cap_tables",
    "orlib_root",
    "pmed_scenario",
    "pmed_tables",
    "read_cap",
    "read_cap_optima",
    "read_pmed",
    "read_pmed_optima",
    "read_uncap_optima",
]

PathLike = str | os.PathLike[str]

#: The capacitated instances in scope; capa/capb/capc are excluded because their capacity is a
#: parameter of the optimum rather than of the file.
CAP_NAMES: tuple[str, ...] = (
    "cap41", "cap42", "cap43", "cap44",
    "cap51",
    "cap61", "cap62", "cap63", "cap64",
    "cap71", "cap72", "cap73", "cap74",
    "cap81", "cap82", "cap83", "cap84",
    "cap91", "cap92", "cap93", "cap94",
    "cap101", "cap102", "cap103", "cap104",
    "cap111", "cap112", "cap113", "cap114",
    "cap121", "cap122", "cap123", "cap124",
    "cap131", "cap132", "cap133", "cap134",
)  # fmt: skip

#: Instances whose warehouse capacity equals total demand (non-binding): their capacitated
#: optimum is the uncapacitated one (OR-Library notes, shared/README.md).
NON_BINDING_CAP: tuple[str, ...] = ("cap71", "cap72", "cap73", "cap74", "cap101", "cap102",
                                    "cap103", "cap104", "cap131", "cap132", "cap133", "cap134")

PMED_NAMES: tuple[str, ...] = tuple(f"pmed{i}" for i in range(1, 41))

ENV_VAR = "KLYNGE_ORLIB"


#: The copy shipped with the repository (cap/, pmed/ and the published optima); absent when the
#: package is installed from a wheel rather than from a checkout.
REPO_ORLIB = PROJECT_ROOT / "tests" / "data" / "orlib"

#: The shared material beside the project root (``../shared/benchmarks/orlib``).
SHARED_ORLIB = PROJECT_ROOT.parent / "shared" / "benchmarks" / "orlib"

REGION_ID = "R"
STRONGHOLD_ID = "S"


def orlib_root() -> Path | None:
    """Directory holding ``cap/`` and ``pmed/``, or ``None`` when the instances are absent.

    Looked up in this order:

    1. ``$KLYNGE_ORLIB`` when set (CI and other checkouts can point elsewhere); it is then the
       only place looked at, so a wrong value gives ``None`` rather than a silent fallback;
    2. the repository's own copy, :data:`REPO_ORLIB` (``tests/data/orlib``);
    3. the shared material beside the project root, :data:`SHARED_ORLIB`.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        candidate = Path(env).expanduser()
        return candidate if candidate.is_dir() else None
    return next((c for c in (REPO_ORLIB, SHARED_ORLIB) if c.is_dir()), None)


# --------------------------------------------------------------------------------------------
# Capacitated warehouse location
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapInstance:
    """One capacitated warehouse-location instance, as written in the file.

    ``costs[j][i]`` is the cost of serving customer ``j``'s *whole* demand from warehouse ``i``
    (OR-Library convention); serving a share ``x`` of it costs ``x * costs[j][i]``.
    """

    name: str
    capacities: tuple[float, ...]
    fixed_costs: tuple[float, ...]
    demands: tuple[float, ...]
    costs: tuple[tuple[float, ...], ...]

    @property
    def n_warehouses(self) -> int:
        return len(self.capacities)

    @property
    def n_customers(self) -> int:
        return len(self.demands)


def _number(token: str, path: Path, what: str) -> float:
    try:
        value = float(token)
    except ValueError:
        raise ValueError(f"{path}: expected a number for {what}, found {token!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{path}: {what} is not finite ({token!r})")
    if value < 0:
        raise ValueError(f"{path}: {what} is negative ({token!r})")
    return value


def _count(token: str, path: Path, what: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise ValueError(f"{path}: expected a whole number for {what}, found {token!r}") from None
    if value <= 0:
        raise ValueError(f"{path}: {what} must be positive, found {value}")
    return value


def read_cap(path: PathLike, capacity: float | None = None) -> CapInstance:
    """Read a capacitated warehouse-location file (``m n``, warehouses, then customers).

    The file is read as a stream of whitespace-separated tokens because the customer blocks
    wrap over several lines in the larger instances (capa/b/c) but not in cap41–cap134.
    ``capacity`` replaces the literal word ``capacity`` that capa/capb/capc carry instead of a
    number; without it such a file is rejected rather than silently misread.
    """
    file = Path(path)
    tokens = file.read_text().split()
    if len(tokens) < 2:
        raise ValueError(f"{file}: missing the 'm n' header")
    m = _count(tokens[0], file, "number of warehouses")
    n = _count(tokens[1], file, "number of customers")
    expected = 2 + 2 * m + n * (1 + m)
    if len(tokens) != expected:
        # A wrong count means a truncated file or a wrong format guess; either way every later
        # number would be shifted, so refuse instead of producing a plausible-looking instance.
        raise ValueError(
            f"{file}: header says {m} warehouses and {n} customers, which needs {expected} "
            f"numbers, but the file holds {len(tokens)}"
        )

    pos = 2
    capacities: list[float] = []
    fixed_costs: list[float] = []
    for i in range(m):
        cap_token = tokens[pos]
        if cap_token.lower() == "capacity":
            if capacity is None:
                raise ValueError(
                    f"{file}: warehouse {i + 1} has the placeholder 'capacity' instead of a "
                    "number; pass capacity= (the variant's value from capopt.txt)"
                )
            capacities.append(float(capacity))
        else:
            capacities.append(_number(cap_token, file, f"capacity of warehouse {i + 1}"))
        fixed_costs.append(_number(tokens[pos + 1], file, f"fixed cost of warehouse {i + 1}"))
        pos += 2

    demands: list[float] = []
    costs: list[tuple[float, ...]] = []
    for j in range(n):
        demands.append(_number(tokens[pos], file, f"demand of customer {j + 1}"))
        row = tuple(
            _number(tokens[pos + 1 + i], file, f"cost of customer {j + 1} at warehouse {i + 1}")
            for i in range(m)
        )
        costs.append(row)
        pos += 1 + m

    return CapInstance(
        name=file.stem,
        capacities=tuple(capacities),
        fixed_costs=tuple(fixed_costs),
        demands=tuple(demands),
        costs=tuple(costs),
    )


_OPTIMUM_LINE = re.compile(
    r"^\s*(?:(?P<name>[A-Za-z][\w.]*)\s+)?"
    r"(?P<value>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*"
    r"(?:\(\s*capacity\s+(?P<capacity>\d+(?:\.\d*)?)\s*\))?\s*$"
)


def _read_optima(path: PathLike) -> dict[str, float]:
    """Parse ``name value`` lines, skipping headers and footnotes.

    capopt.txt lists four optima for capa/capb/capc, one per capacity variant, on continuation
    lines without a name; those are keyed ``"capa@8000"`` so they cannot be mistaken for an
    optimum of the file as written. uncapopt.txt spells names with ``.txt``, which is dropped.
    """
    optima: dict[str, float] = {}
    current: str | None = None
    for line in Path(path).read_text().splitlines():
        match = _OPTIMUM_LINE.match(line)
        if match is None:
            continue
        name = match["name"]
        if name is not None:
            current = name.removesuffix(".txt")
        elif current is None or match["capacity"] is None:
            # A bare number that does not continue a capacity list is not an optimum.
            continue
        if current is None:
            continue
        key = current if match["capacity"] is None else f"{current}@{match['capacity']}"
        optima[key] = float(match["value"])
    return optima


def read_cap_optima(path: PathLike) -> dict[str, float]:
    """Optima from ``capopt.txt`` (demand may be split between warehouses)."""
    return _read_optima(path)


def read_uncap_optima(path: PathLike) -> dict[str, float]:
    """Optima from ``uncapopt.txt`` (capacities ignored)."""
    return _read_optima(path)


def _width(count: int, minimum: int) -> int:
    return max(minimum, len(str(count)))


def cap_tables(inst: CapInstance) -> dict[str, pd.DataFrame]:
    """The exact CFLP reduction of ``inst`` as a klynge-opt data set.

    Each customer becomes a municipality holding one firm whose weight is its demand, and the
    travel time to a warehouse is ``cost / demand``, so ``weight * minutes`` gives back the
    whole-demand cost and a served share ``x`` costs ``x * cost`` as in the split-demand CFLP.
    A customer with zero demand costs nothing in any solution, and its cost cannot be turned
    into minutes, so it keeps its municipality but gets no firm and no travel times.
    """
    cw = _width(inst.n_customers, 3)
    ww = _width(inst.n_warehouses, 2)
    customers = [f"c{j + 1:0{cw}d}" for j in range(inst.n_customers)]
    warehouses = [f"w{i + 1:0{ww}d}" for i in range(inst.n_warehouses)]

    municipalities = [_municipality(mid) for mid in customers + warehouses]
    operators = [
        {
            "operator_id": wid,
            "name": f"Warehouse {wid}",
            "municipality_id": wid,
            "kind": "warehouse",
            "annual_cost": inst.fixed_costs[i],
            "capacity": inst.capacities[i],
            "closure_cost": 0.0,
        }
        for i, wid in enumerate(warehouses)
    ]
    firms: list[dict[str, Any]] = []
    travel: list[dict[str, Any]] = []
    for j, cid in enumerate(customers):
        demand = inst.demands[j]
        if demand <= 0:
            continue
        firms.append(_firm(f"F_{cid}", cid, demand))
        travel.extend(
            {"from_id": cid, "to_id": wid, "minutes": inst.costs[j][i] / demand}
            for i, wid in enumerate(warehouses)
        )
    return _assemble(municipalities, operators, firms, links=[], travel_times=travel)


def cap_scenario() -> dict[str, Any]:
    """Scenario settings under which the model's optimum equals the split-demand CFLP optimum.

    One year at one unit per firm-minute makes the objective fixed + allocation cost; hard
    coverage with zero penalty forces every customer to be served in full.
    """
    return {
        "costs": {
            "horizon_years": 1,
            "cost_per_firm_minute": 1.0,
            "disruption_cost_per_firm": 0.0,
            "unserved_penalty_per_firm": 0.0,
        },
        "policy": {
            "allow_split": True,
            "coverage": "hard",
            "max_travel_minutes": None,
            "clusters_per_stronghold": 1,
        },
    }


# --------------------------------------------------------------------------------------------
# p-median
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PMedInstance:
    """One p-median instance.

    ``edges`` holds one ``(i, j, cost)`` per undirected node pair with ``i < j`` (1-based),
    after the later of two occurrences of a pair has replaced the earlier one; sorted.
    ``n_edges`` is the count announced in the header, duplicates included.
    """

    name: str
    n: int
    p: int
    n_edges: int
    edges: tuple[tuple[int, int, float], ...]


def read_pmed(path: PathLike) -> PMedInstance:
    """Read a p-median file (``n_nodes n_edges p``, then ``i j cost`` per edge).

    Several pairs occur twice with different costs, sometimes in opposite directions; the
    published optima assume the last occurrence (keeping the cheaper one gives pmed1 5718
    instead of 5819), so later rows overwrite earlier ones for the same unordered pair.
    """
    file = Path(path)
    tokens = file.read_text().split()
    if len(tokens) < 3:
        raise ValueError(f"{file}: missing the 'n_nodes n_edges p' header")
    n = _count(tokens[0], file, "number of nodes")
    n_edges = _count(tokens[1], file, "number of edges")
    p = _count(tokens[2], file, "p")
    if p > n:
        raise ValueError(f"{file}: p = {p} exceeds the {n} nodes")
    if len(tokens) != 3 + 3 * n_edges:
        raise ValueError(
            f"{file}: header announces {n_edges} edges ({3 + 3 * n_edges} numbers), "
            f"but the file holds {len(tokens)}"
        )

    kept: dict[tuple[int, int], float] = {}
    for k in range(n_edges):
        a_tok, b_tok, c_tok = tokens[3 + 3 * k : 6 + 3 * k]
        a = _count(a_tok, file, f"endpoint of edge {k + 1}")
        b = _count(b_tok, file, f"endpoint of edge {k + 1}")
        if a > n or b > n:
            raise ValueError(f"{file}: edge {k + 1} ({a}, {b}) refers to a node beyond {n}")
        cost = _number(c_tok, file, f"cost of edge {k + 1}")
        if a == b:
            # A self-loop never shortens a path; dropping it keeps links free of (o, o) rows.
            continue
        kept[(min(a, b), max(a, b))] = cost

    edges = tuple((a, b, c) for (a, b), c in sorted(kept.items()))
    return PMedInstance(name=file.stem, n=n, p=p, n_edges=n_edges, edges=edges)


def read_pmed_optima(path: PathLike) -> dict[str, float]:
    """Optima from ``pmedopt.txt``."""
    return _read_optima(path)


def _node_ids(n: int) -> list[str]:
    width = _width(n, 3)
    return [f"n{v:0{width}d}" for v in range(1, n + 1)]


def pmed_tables(inst: PMedInstance) -> dict[str, pd.DataFrame]:
    """The p-median reduction of ``inst`` as a klynge-opt data set.

    Every node is a municipality with one firm of weight 1 and one free, uncapacitated
    operator; distances come from shortest paths over ``links``, so no travel times are given
    (an explicit pair would override the computed time).
    """
    nodes = _node_ids(inst.n)
    municipalities = [_municipality(mid) for mid in nodes]
    operators = [
        {
            "operator_id": mid,
            "name": f"Node {mid}",
            "municipality_id": mid,
            "kind": "node",
            "annual_cost": 0.0,
            "capacity": None,
            "closure_cost": 0.0,
        }
        for mid in nodes
    ]
    firms = [_firm(f"F_{mid}", mid, 1.0) for mid in nodes]

    # PMedInstance may be built by hand, so deduplicate again rather than trust the reader.
    kept: dict[tuple[int, int], float] = {}
    for a, b, cost in inst.edges:
        if a != b:
            kept[(min(a, b), max(a, b))] = float(cost)
    links = [
        {"from_id": nodes[a - 1], "to_id": nodes[b - 1], "minutes": cost, "mode": "road"}
        for (a, b), cost in sorted(kept.items())
    ]
    return _assemble(municipalities, operators, firms, links=links, travel_times=[])


def pmed_scenario(p: int) -> dict[str, Any]:
    """Scenario settings under which the model's optimum equals the p-median optimum."""
    scenario = cap_scenario()
    scenario["policy"] = {
        "allow_split": False,
        "coverage": "hard",
        "max_travel_minutes": None,
        "max_operators": p,
        "clusters_per_stronghold": 1,
    }
    return scenario


# --------------------------------------------------------------------------------------------
# Shared table building
# --------------------------------------------------------------------------------------------


def _municipality(mid: str) -> dict[str, Any]:
    # Coordinates are irrelevant: every time the model uses is given explicitly or via links.
    return {
        "municipality_id": mid,
        "name": mid,
        "region_id": REGION_ID,
        "lat": 0.0,
        "lon": 0.0,
        "rural": False,
        "population": None,
        "intra_minutes": 0.0,
    }


def _firm(fid: str, mid: str, weight: float) -> dict[str, Any]:
    return {
        "firm_id": fid,
        "municipality_id": mid,
        "stronghold_id": STRONGHOLD_ID,
        "employees": None,
        "growth": False,
        "weight": weight,
    }


def _assemble(
    municipalities: Sequence[Mapping[str, Any]],
    operators: Sequence[Mapping[str, Any]],
    firms: Sequence[Mapping[str, Any]],
    links: Sequence[Mapping[str, Any]],
    travel_times: Sequence[Mapping[str, Any]],
) -> dict[str, pd.DataFrame]:
    # One cluster per operator, all covering the single stronghold: "exactly one cluster per
    # stronghold" then only demands one open operator, which any feasible solution has anyway.
    clusters = [
        {
            "cluster_id": f"K_{op['operator_id']}",
            "name": f"Cluster {op['operator_id']}",
            "operator_id": op["operator_id"],
            "budget": 0.0,
            "label": "none",
            "gold_upgrade_cost": None,
            "knowledge_partners": 0,
        }
        for op in operators
    ]
    rows: dict[str, Sequence[Mapping[str, Any]]] = {
        "kinds": [],
        "regions": [{"region_id": REGION_ID, "name": "OR-Library"}],
        "municipalities": municipalities,
        "strongholds": [
            {"stronghold_id": STRONGHOLD_ID, "name": "Demand", "skill_shortage_2025": None,
             "weight": 1.0}
        ],
        "operators": operators,
        "operator_strongholds": [
            {"operator_id": op["operator_id"], "stronghold_id": STRONGHOLD_ID} for op in operators
        ],
        "clusters": clusters,
        "cluster_strongholds": [
            {"cluster_id": cl["cluster_id"], "stronghold_id": STRONGHOLD_ID} for cl in clusters
        ],
        "firms": firms,
        "memberships": [],
        "links": links,
        "travel_times": travel_times,
    }
    return {table.name: _frame(table.name, rows[table.name]) for table in TABLES}


def _frame(table_name: str, rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A frame with exactly the schema's columns, in schema order, typed by column kind.

    Typing explicitly keeps empty tables (memberships, links or travel_times) from ending up
    with object columns, and keeps blank cells as missing values instead of the text "None".
    """
    table = TABLE_BY_NAME[table_name]
    records = list(rows)
    data: dict[str, pd.Series] = {}
    for col in table.columns:
        values = [record.get(col.name) for record in records]
        if col.kind in ("id", "text", "choice"):
            series = pd.Series(values, dtype="str")
        elif col.kind == "number":
            series = pd.Series([float("nan") if v is None else v for v in values],
                               dtype="float64")
        elif col.kind == "integer":
            series = pd.Series(values, dtype="Int64")
        else:
            series = pd.Series(values, dtype="bool")
        data[col.name] = series
    return pd.DataFrame(data, columns=list(table.column_names))
