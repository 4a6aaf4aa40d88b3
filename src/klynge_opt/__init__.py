"""klynge-opt: design a consolidated business-promotion system as a proven-optimal MIP.

The Python API mirrors the command line::

    import klynge_opt as ko
    ds = ko.load("data/denmark")
    result = ko.solve(ds, ko.load_scenario("scenarios/reform.toml"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import solve
    from .dataset import DENMARK, Dataset, from_tables, inspect, load
    from .problems import InputError, Problem
    from .results import Result, write_result
    from .scenario import Scenario, load_scenario

#: Where each public name lives. They load on first use, so that ``import klynge_opt`` (and the
#: command line's --help) does not pay for Pyomo and HiGHS until a solve needs them.
_PUBLIC = {"solve": "api", "DENMARK": "dataset", "Dataset": "dataset",
           "from_tables": "dataset", "inspect": "dataset", "load": "dataset",
           "InputError": "problems", "Problem": "problems", "Result": "results",
           "write_result": "results", "Scenario": "scenario", "load_scenario": "scenario"}


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'klynge_opt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "DENMARK",
    "Dataset",
    "InputError",
    "Problem",
    "Result",
    "Scenario",
    "from_tables",
    "inspect",
    "load",
    "load_scenario",
    "solve",
    "write_result",
]
