"""klynge-opt: design a consolidated business-promotion system as a proven-optimal MIP.

The Python API mirrors the command line::

    import klynge_opt as ko
    ds = ko.load("data/denmark")
    result = ko.solve(ds, ko.load_scenario("scenarios/reform.toml"))
"""

from .api import solve
from .dataset import DENMARK, Dataset, from_tables, inspect, load
from .problems import InputError, Problem
from .results import Result, write_result
from .scenario import Scenario, load_scenario

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
