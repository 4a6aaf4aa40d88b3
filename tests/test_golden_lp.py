"""Golden LP files pin the model's form, not only its optima.

A family's rows can change without any optimum moving (a valid inequality dropped, a big-M
grown, a bound loosened). Each scenario below builds the tiny landscape's model and compares
it, row by row, with an LP file written by Pyomo and kept in ``tests/golden/lp``. Rows are
compared by name, sense, right-hand side and coefficients (order and formatting ignored), so
the message names the constraint that changed.

After a deliberate change of the model, regenerate and review the diff:

    KLYNGE_REGENERATE_GOLDEN=1 python3 -m pytest tests/test_golden_lp.py
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import layered_tables, second_food_cluster_of_o1, tiny_tables
from klynge_opt.api import open_session
from klynge_opt.data.dataset import from_tables
from klynge_opt.data.scenario import Scenario

GOLDEN = Path(__file__).parent / "golden" / "lp"

#: Together these switch on every constraint family of docs/model.md.
SCENARIOS: dict[str, dict] = {
    "hard": {"policy": {"max_travel_minutes": 100, "min_firms_per_operator": 1,
                        "min_firms_per_node": 1, "min_operators_per_region": 1,
                        "min_operators": 1, "max_operators": 3, "annual_budget": 4000,
                        "require_gold": True, "keep": ["O2"]},
             # The other form of assign_needs_service stays pinned here.
             "solver": {"linking": "aggregated"}},
    "soft": {"policy": {"coverage": "soft", "coverage_target": 0.5, "rural_parity": True,
                        "rural_parity_tolerance": 0.1, "close": ["O3"],
                        "min_cluster_budget": 1e6, "min_knowledge_partners": 1,
                        "max_utilisation": 0.9, "min_coverage_per_municipality": 0.2,
                        "min_coverage_per_region": 0.4}},
    "pair": {"policy": {"allow_split": True, "max_strongholds_per_cluster": 1},
             "solver": {"linking": "pair"}},
    # On the layered tiny landscape (conftest.layered_tables, C1's capacity 4).
    "layered": {"policy": {"keep_clusters": ["C1"], "close_clusters": ["C3"],
                           "cluster_rule": "at_least", "min_members_per_cluster": 1,
                           "allow_mergers": True,
                           "local": {"coverage": "hard", "max_travel_minutes": 100},
                           "cluster": {"max_travel_minutes": 100}}},
    # The layered landscape with C3 a second food cluster of O1 (clusters_per_host).
    "host": {"policy": {"allow_mergers": True, "max_strongholds_per_cluster": 1}},
}

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _write(name: str, path: Path) -> None:
    if name in ("layered", "host"):
        tables = layered_tables()
        tables["clusters"]["capacity"] = [4.0, None, None]
        if name == "host":
            second_food_cluster_of_o1(tables)
    else:
        tables = tiny_tables()
    tables["operators"].loc[0, "capacity"] = 4.0  # binding, so capacity rows exist
    session = open_session(from_tables(tables), Scenario(name=name).with_updates(
        SCENARIOS[name]))
    assert session.model is not None
    session.model.write(str(path), io_options={"symbolic_solver_labels": True})


def _rows(path: Path) -> dict[str, tuple]:
    """Every block of the LP file (objective, constraints, bounds, types) in normal form."""
    blocks: dict[str, tuple] = {}
    for block in re.split(r"\n\s*\n", path.read_text()):
        lines = [ln.strip() for ln in block.strip().splitlines()
                 if ln.strip() and not ln.startswith("\\")]
        if not lines:
            continue
        if lines[0].endswith(":"):
            name, body = lines[0][:-1], lines[1:]
        else:
            name, body = lines[0], lines[1:]
        terms, rest = [], []
        for ln in body:
            parts = ln.split()
            if len(parts) == 2 and _NUMBER.match(parts[0]):
                terms.append((parts[1], round(float(parts[0]), 9)))
            elif len(parts) == 2 and parts[0] in ("<=", ">=", "=") and _NUMBER.match(parts[1]):
                rest.append((parts[0], round(float(parts[1]), 9)))
            else:
                rest.append(tuple(parts))
        blocks[name] = (tuple(sorted(terms)), tuple(sorted(rest)))
    return blocks


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_model_rows_match_the_golden_lp(name, tmp_path):
    golden = GOLDEN / f"{name}.lp"
    if os.environ.get("KLYNGE_REGENERATE_GOLDEN"):
        _write(name, golden)
    current = tmp_path / f"{name}.lp"
    _write(name, current)
    want, got = _rows(golden), _rows(current)
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    changed = sorted(k for k in set(want) & set(got) if want[k] != got[k])
    assert not (missing or extra or changed), (
        f"{name}: rows missing {missing[:5]}, new {extra[:5]}, changed {changed[:5]} "
        "(regenerate after a deliberate change: see this module's docstring)")


def test_golden_files_cover_every_constraint_family():
    """Every constraint component model.py can create has rows in some golden file."""
    from conftest import ROOT

    source = (ROOT / "src" / "klynge_opt" / "model" / "formulation.py").read_text(encoding="utf-8")
    components = set(re.findall(r"m\.(\w+) = pyo\.Constraint\(", source))
    found = set()
    for name in SCENARIOS:
        for row in _rows(GOLDEN / f"{name}.lp"):
            match = re.match(r"^c_[elu]_(\w+?)(\(.*\))?_$", row)
            if match:
                found.add(match.group(1))
    assert len(components) >= 15
    assert components <= found, sorted(components - found)
