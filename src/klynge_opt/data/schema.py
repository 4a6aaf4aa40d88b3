"""The data contract: every table of a data set, its columns, types, defaults and references.

This module is the single source of truth for ``docs/data-format.md``; loading, validation,
the generator and the writers all read it, so a column is declared exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["id", "text", "number", "integer", "bool", "choice"]

LABELS: tuple[str, ...] = ("none", "bronze", "silver", "gold")
LINK_MODES: tuple[str, ...] = ("road", "bridge", "ferry")
#: The three service layers of the 2017 paper, and ``other`` (today's rule: competence decides).
LAYERS: tuple[str, ...] = ("local_service", "entry_point", "cluster", "other")
ROLES: tuple[str, ...] = ("primary", "secondary")


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False
    #: Value used when the column is absent or the cell blank; ``None`` means "stays missing"
    #: (e.g. capacity: blank = unlimited).
    default: object = None
    minimum: float | None = None
    maximum: float | None = None
    #: Strictly greater than ``minimum`` rather than greater-or-equal.
    exclusive_minimum: bool = False
    choices: tuple[str, ...] | None = None
    #: ``"table.column"`` this column must refer to.
    references: str | None = None
    doc: str = ""
    #: Counts persons or firms, so ``1.500`` is more likely a Danish thousands separator than
    #: one and a half: loading warns (integer columns get the same warning without the flag).
    count: bool = False

    def expectation(self) -> str:
        """Human wording of what a valid value looks like, for error messages."""
        if self.kind == "id":
            return "an id (non-blank text)"
        if self.kind == "text":
            return "text"
        if self.kind == "bool":
            return "true/false (also 1/0, yes/no)"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices or ())
        noun = "a whole number" if self.kind == "integer" else "a number"
        bounds = []
        if self.minimum is not None:
            bounds.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum:g}")
        return noun + (" " + " and ".join(bounds) if bounds else "")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    #: Columns whose combination must be unique.
    key: tuple[str, ...]
    optional: bool = False
    doc: str = ""

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _id(name: str, references: str | None = None, doc: str = "") -> Column:
    return Column(name, "id", required=True, references=references, doc=doc)


#: Money amounts above this (DKK) are typing mistakes, and would overflow the cost sums.
MAX_AMOUNT = 1e12
#: Travel times above this (minutes, about 70 days) are typing mistakes.
MAX_MINUTES = 1e5
#: Weights above this are typing mistakes (a firm or stronghold counting a million times).
MAX_WEIGHT = 1e6


def _money(name: str, required: bool = False, default: object = None, doc: str = "") -> Column:
    return Column(name, "number", required=required, default=default, minimum=0.0,
                  maximum=MAX_AMOUNT, doc=doc)


TABLES: tuple[Table, ...] = (
    Table(
        "kinds",
        (
            _id("kind"),
            Column("layer", "choice", required=True, choices=LAYERS,
                   doc="The service the operators of this kind give: local business service, "
                       "specialised guidance (entry point), cluster development, or other."),
            Column("in_scope", "bool", default=True,
                   doc="Decided by the reform; false: always open, serves nobody in the "
                       "model, its cost reported as the term outside_scope."),
            Column("description", "text", default=""),
        ),
        key=("kind",),
        optional=True,
        doc="Operator kinds and their service layer. With this table the model serves three "
            "kinds of demand, each by its own layer (docs/model.md, Service layers).",
    ),
    Table(
        "regions",
        (_id("region_id"), Column("name", "text", required=True)),
        key=("region_id",),
        doc="Administrative regions (in Denmark: the five regions with their growth boards).",
    ),
    Table(
        "municipalities",
        (
            _id("municipality_id"),
            Column("name", "text", required=True),
            _id("region_id", references="regions.region_id"),
            Column("lat", "number", required=True, minimum=-90.0, maximum=90.0,
                   doc="Latitude of the centroid, WGS84 degrees."),
            Column("lon", "number", required=True, minimum=-180.0, maximum=180.0,
                   doc="Longitude of the centroid, WGS84 degrees."),
            Column("rural", "bool", default=False,
                   doc="Rural municipality (coverage parity is measured rural vs. the rest)."),
            Column("population", "number", minimum=0.0, count=True,
                   doc="Residents (informative)."),
            Column("intra_minutes", "number", default=0.0, minimum=0.0, maximum=MAX_MINUTES,
                   doc="Typical travel time inside the municipality, minutes."),
        ),
        key=("municipality_id",),
    ),
    Table(
        "strongholds",
        (
            _id("stronghold_id"),
            Column("name", "text", required=True),
            Column("skill_shortage_2025", "number", minimum=0.0, count=True,
                   doc="Projected shortage of skilled workers in 2025 (persons)."),
            Column("weight", "number", default=1.0, minimum=0.0, maximum=MAX_WEIGHT,
                   doc="Priority weight; multiplies the penalty for unserved firms."),
        ),
        key=("stronghold_id",),
        doc="Industry strongholds (erhvervsmæssige styrkepositioner).",
    ),
    Table(
        "operators",
        (
            _id("operator_id"),
            Column("name", "text", required=True),
            _id("municipality_id", references="municipalities.municipality_id"),
            Column("kind", "text", default="", references="kinds.kind",
                   doc="Free text, e.g. cluster organisation, science park, GTS, væksthus; "
                       "with a kinds table, one of its kinds."),
            _money("annual_cost", required=True,
                   doc="Fixed operating cost, DKK per year, paid while it is kept."),
            _money("cost_per_firm", default=0.0,
                   doc="Operating cost per firm it serves (weighted), DKK per year: the part "
                       "of its cost that moves with its firms (term operating)."),
            Column("capacity", "number", minimum=0.0, count=True,
                   doc="Most member firms (weighted) it can serve; blank = unlimited."),
            _money("closure_cost", default=0.0, doc="One-off cost of closing it, DKK."),
        ),
        key=("operator_id",),
        doc="Organisations that run clusters and serve firms.",
    ),
    Table(
        "operator_strongholds",
        (
            _id("operator_id", references="operators.operator_id"),
            _id("stronghold_id", references="strongholds.stronghold_id"),
        ),
        key=("operator_id", "stronghold_id"),
        doc="Competences: the strongholds whose firms an operator can serve.",
    ),
    Table(
        "clusters",
        (
            _id("cluster_id"),
            Column("name", "text", required=True),
            _id("operator_id", references="operators.operator_id", doc="Host operator."),
            _money("budget", default=0.0, doc="Annual budget, DKK."),
            Column("label", "choice", default="none", choices=LABELS,
                   doc="European Cluster Excellence label."),
            _money("gold_upgrade_cost",
                   doc="One-off cost to reach the gold label, DKK; blank = cannot reach gold."),
            Column("knowledge_partners", "integer", default=0, minimum=0,
                   doc="Universities and knowledge institutions in the cluster."),
            _money("annual_cost", default=0.0,
                   doc="Operating cost of the cluster itself, DKK per year, paid while it is "
                       "selected (term cluster_operating)."),
            Column("capacity", "number", minimum=0.0, count=True,
                   doc="Most member firms (weighted) its cluster service can take; "
                       "blank = unlimited (with a kinds table)."),
            _money("merge_cost", default=0.0,
                   doc="One-off cost of merging this cluster into another, DKK (term merger)."),
        ),
        key=("cluster_id",),
    ),
    Table(
        "cluster_strongholds",
        (
            _id("cluster_id", references="clusters.cluster_id"),
            _id("stronghold_id", references="strongholds.stronghold_id"),
            Column("role", "choice", default="primary", choices=ROLES,
                   doc="primary: the cluster's own stronghold; secondary: one it also serves "
                       "(counts towards a requirement only with count_secondary)."),
        ),
        key=("cluster_id", "stronghold_id"),
        doc="The strongholds a cluster covers (one or several related ones).",
    ),
    Table(
        "firms",
        (
            _id("firm_id"),
            _id("municipality_id", references="municipalities.municipality_id"),
            _id("stronghold_id", references="strongholds.stronghold_id"),
            Column("employees", "integer", minimum=0),
            Column("growth", "bool", default=False, doc="A growth firm (informative)."),
            Column("weight", "number", default=1.0, minimum=0.0, exclusive_minimum=True,
                   maximum=MAX_WEIGHT,
                   doc="How many identical firms the row stands for."),
        ),
        key=("firm_id",),
        doc="Member firms (or groups of identical firms).",
    ),
    Table(
        "memberships",
        (
            _id("firm_id", references="firms.firm_id"),
            _id("cluster_id", references="clusters.cluster_id"),
        ),
        key=("firm_id", "cluster_id"),
        optional=True,
        doc="Today's memberships; a firm may be in several clusters.",
    ),
    Table(
        "links",
        (
            _id("from_id", references="municipalities.municipality_id"),
            _id("to_id", references="municipalities.municipality_id"),
            Column("minutes", "number", required=True, minimum=0.0, maximum=MAX_MINUTES),
            Column("mode", "choice", default="road", choices=LINK_MODES),
        ),
        key=("from_id", "to_id"),
        optional=True,
        doc="Undirected travel links between municipalities (roads, bridges, ferries).",
    ),
    Table(
        "travel_times",
        (
            _id("from_id", references="municipalities.municipality_id"),
            _id("to_id", references="municipalities.municipality_id"),
            Column("minutes", "number", required=True, minimum=0.0, maximum=MAX_MINUTES),
        ),
        key=("from_id", "to_id"),
        optional=True,
        doc="Explicit travel times, one direction per pair or a full origin-destination "
            "matrix; a pair here overrides any computed time.",
    ),
)

TABLE_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)
