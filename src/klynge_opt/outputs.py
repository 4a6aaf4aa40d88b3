"""The output contract, declared once (as :mod:`schema` declares the input): the files of a
result folder, each table's columns in order with their kind, the cost terms and the list
separator. Results write by it, the checker and ``read_result`` read by it, and
``docs/outputs.md`` documents it (``tests/test_docs.py`` keeps them in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "number", "flag"]

SUMMARY_FILE = "summary.json"
DIAGNOSIS_FILE = "diagnosis.json"
SCENARIO_FILE = "scenario.toml"
#: Lists inside a CSV cell (hosts, serves, strongholds) are joined with this, sorted.
LIST_SEPARATOR = ";"
#: The objective's terms, in the order they are reported (docs/model.md).
COST_TERMS: tuple[str, ...] = ("operating", "service", "closure", "upgrade", "disruption",
                               "unserved_penalty")


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
    _table("operators", "operator_id:t name:t kind:t municipality_id:t region_id:t kept:f "
                        "forced:t hosts:t serves:t firms_served:n capacity:n utilisation:n "
                        "annual_cost:n closure_cost_paid:n"),
    _table("clusters", "cluster_id:t name:t host_operator_id:t strongholds:t selected:f "
                       "admissible:f label:t label_after:t upgrade_cost_paid:n budget:n "
                       "knowledge_partners:n"),
    _table("assignments", "firm_id:t municipality_id:t stronghold_id:t weight:n share:n "
                          "operator_id:t cluster_id:t minutes:n moved:f"),
)}
TABLE_FILES: dict[str, str] = {name: t.file for name, t in OUTPUT_TABLES.items()}
