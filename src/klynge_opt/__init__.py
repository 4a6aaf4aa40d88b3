"""klynge-opt: design a consolidated business-promotion system as a proven-optimal MIP.

The Python API mirrors the command line::

    import klynge_opt as ko
    ds = ko.load("data/denmark")
    result = ko.solve(ds, ko.load_scenario("scenarios/paper-2017.toml"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import solve
    from .data.dataset import DENMARK, Dataset, from_tables, inspect, load
    from .data.scenario import Scenario, load_scenario
    from .problems import InputError, Problem
    from .results.result import Result, write_result

#: Where each public name lives. They load on first use, so that ``import klynge_opt`` (and the
#: command line's --help) does not pay for Pyomo and HiGHS until a solve needs them.
_PUBLIC = {"solve": "api", "DENMARK": "data.dataset", "Dataset": "data.dataset",
           "from_tables": "data.dataset", "inspect": "data.dataset", "load": "data.dataset",
           "InputError": "problems", "Problem": "problems", "Result": "results.result",
           "write_result": "results.result", "Scenario": "data.scenario",
           "load_scenario": "data.scenario"}


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
