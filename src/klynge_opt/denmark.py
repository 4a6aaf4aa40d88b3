"""Build the embedded Danish data set from its curated sources, by documented rules.

``data/sources/denmark`` holds what people wrote down: the organisations (name, town, kind,
a relative size, whether the name is verified), their competences, the pre-2018 clusters and
networks with primary and secondary strongholds, and the kinds. The geography (regions,
municipalities, links, strongholds, boundaries) comes unchanged from the base folder. Every
number the model reads is then made here by a rule (see ``data/denmark/README.md``):

* one local business service per municipality: the named one where the sources have it
  (``also_serves`` for a service shared by neighbours), a generic one elsewhere;
* firms: the cluster members (one row each) and a sample of the wider SME population that
  uses local service and the væksthuse (each row standing for :data:`SME_WEIGHT` firms);
* capacities: each operator's and cluster's status-quo load (who serves whom today, as
  :func:`klynge_opt.results.result.status_quo_plan` assigns it) times :data:`HEADROOM`, so
  nobody is over capacity today;
* costs: a fixed part per organisation (``annual_cost``) plus one rate per firm served for
  each layer (``cost_per_firm``: the part that moves with the firms), calibrated so the
  layers cost the totals in :data:`LAYER_TOTALS` today; out-of-scope actors share the rest
  of the public record's 4.7 bn DKK by their curated size.

This module sits above the pipeline, like :mod:`klynge_opt.api`: it calibrates the data on
the status quo the pipeline computes. Everything is a pure function of the sources, the
base and the seed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .data.dataset import from_tables, load_partial
from .data.generator import generate_firms
from .data.loading import read_text_csv
from .data.paths import PROJECT_ROOT
from .data.scenario import Scenario
from .model.landscape import build_landscape
from .problems import InputError, Problem, errors
from .results.result import status_quo_plan

__all__ = ["SOURCES", "Calibration", "build_denmark"]

SOURCES = PROJECT_ROOT / "data" / "sources" / "denmark"

#: Geography tables taken unchanged from the base folder.
GEOGRAPHY = ("regions", "municipalities", "strongholds", "links")

#: Firms one SME sample row stands for (the sample's weight).
SME_WEIGHT = 5.0
#: Capacity = status-quo load x HEADROOM, rounded up to CAPACITY_STEP.
HEADROOM = 1.25
CAPACITY_STEP = 10.0

#: Public record: about 4.7 bn DKK a year on business promotion, all levels (McKinsey et al.
#: for the simplification committee, 2016 review; quoted by Ritzau 2018).
TOTAL_SPEND = 4.7e9
#: The in-scope layers' annual totals (approximate, see the README): municipal local service
#: and the væksthuse together about the 1.5 bn of regional and municipal spending (2015),
#: less the regions' project funds that reach operators already counted; clusters and networks
#: about 10 M DKK each.
LAYER_TOTALS: Mapping[str, float] = {"local_service": 700e6, "entry_point": 150e6,
                                     "cluster": 600e6}
#: Fixed annual cost per organisation of a layer (premises, management), DKK.
FIXED_COST: Mapping[str, float] = {"local_service": 2.0e6, "entry_point": 10.0e6,
                                   "cluster": 1.5e6}
#: One-off closure cost as a share of annual cost, per kind (redundancy, leases).
CLOSURE_SHARE: Mapping[str, float] = {
    "local_business_service": 0.12, "vaeksthus": 0.20, "cluster_organisation": 0.15,
    "innovation_network": 0.10, "science_park": 0.25, "gts_institute": 0.08,
    "investment_promotion": 0.10, "state_programme": 0.05}
#: Kinds whose competences say nothing about where firms are.
NO_PULL = ("state_programme", "investment_promotion")
#: One-off cost of merging a cluster into another, as a share of its budget.
MERGE_SHARE = 0.1


@dataclass(frozen=True)
class Calibration:
    """What :func:`build_denmark` made, for the README and the tests."""

    tables: dict[str, pd.DataFrame]
    rates: dict[str, float]          # DKK per firm served a year, per in-scope layer
    totals: dict[str, float]         # annual cost per kind


#: Columns each source file must have.
SOURCE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "kinds": ("kind", "layer", "in_scope", "description"),
    "organisations": ("operator_id", "name", "municipality_id", "kind", "size", "provenance",
                      "also_serves"),
    "operator_strongholds": ("operator_id", "stronghold_id"),
    "clusters": ("cluster_id", "name", "operator_id", "label", "gold_upgrade_cost",
                 "knowledge_partners", "provenance"),
    "cluster_strongholds": ("cluster_id", "stronghold_id", "role"),
}


def read_sources(folder: Path, geography: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The curated source tables, checked: every file and column there, every reference
    known, sizes numbers. Raises :class:`InputError` with every problem at once."""
    problems: list[Problem] = []
    found: dict[str, pd.DataFrame] = {}
    for name, columns in SOURCE_COLUMNS.items():
        file = folder / f"{name}.csv"
        if not file.is_file():
            problems.append(Problem("error", f"source file missing: expected {file}",
                                    source=f"{name}.csv"))
            continue
        frame = read_text_csv(file, problems)
        if frame is None:
            continue
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            problems.append(Problem("error", f"missing columns {', '.join(missing)}",
                                    source=f"{name}.csv"))
            continue
        found[name] = frame
    if not errors(problems):
        known = {"municipality_id": set(geography["municipalities"]["municipality_id"]),
                 "stronghold_id": set(geography["strongholds"]["stronghold_id"]),
                 "kind": set(found["kinds"]["kind"]),
                 "operator_id": set(found["organisations"]["operator_id"]),
                 "cluster_id": set(found["clusters"]["cluster_id"])}
        refs = {"organisations": ("municipality_id", "kind"),
                "operator_strongholds": ("operator_id", "stronghold_id"),
                "clusters": ("operator_id",),
                "cluster_strongholds": ("cluster_id", "stronghold_id")}
        for name, columns in refs.items():
            for column in columns:
                for line, value in _unknown(found[name][column], known[column]):
                    problems.append(Problem("error", f"unknown {column} {value!r}",
                                            source=f"{name}.csv", line=line, column=column))
        size = pd.to_numeric(found["organisations"]["size"], errors="coerce")
        for line in np.flatnonzero(size.isna() | (size < 0)) + 2:
            problems.append(Problem("error", "size must be a number >= 0",
                                    source="organisations.csv", line=int(line), column="size"))
    if errors(problems):
        raise InputError(problems, what=f"Danish sources {folder}")
    return found


def _unknown(values: pd.Series, known: set[str]) -> list[tuple[int, str]]:
    bad = ~values.isin(known)
    return [(int(i) + 2, str(v)) for i, v in zip(np.flatnonzero(bad), values[bad], strict=True)]


def _local_services(orgs: pd.DataFrame, munis: pd.DataFrame) -> pd.DataFrame:
    """Every municipality its local business service: the named one, shared ones, or a
    generic '<name> Erhvervsservice' (synthetic, flagged generic)."""
    local = orgs[orgs["kind"] == "local_business_service"]
    served = set(local["municipality_id"])
    for extra in local["also_serves"]:
        served.update(m for m in extra.split(";") if m)
    rest = munis[~munis["municipality_id"].isin(served)]
    generic = pd.DataFrame({
        "operator_id": "ls_" + rest["municipality_id"],
        "name": rest["name"] + " Erhvervsservice",
        "municipality_id": rest["municipality_id"],
        "kind": "local_business_service", "size": "0", "provenance": "generic",
        "also_serves": ""})
    return pd.concat([orgs, generic], ignore_index=True)


def _secretariats(orgs: pd.DataFrame, comp: pd.DataFrame, clusters: pd.DataFrame,
                  cover: pd.DataFrame, in_scope: pd.Series,
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A cluster run by an out-of-scope organisation (a science park, a GTS institute) gets
    its host's cluster secretariat as an in-scope cluster organisation of its own
    (``<host>_clusters``, provenance "derived"): the reform decides whether the cluster runs,
    so the fixed cost of running it must be the reform's to save, as for every other
    cluster. Left with the out-of-scope host, keeping such a cluster would cost nothing
    fixed and it would win its stronghold for that reason alone."""
    scope = orgs.set_index("operator_id")["kind"].map(in_scope).astype(bool)
    outside = sorted(set(clusters["operator_id"]) - set(scope.index[scope]))
    if not outside:
        return orgs, comp, clusters
    hosts = orgs.set_index("operator_id").loc[outside]
    new = pd.DataFrame({
        "operator_id": [f"{o}_clusters" for o in outside],
        "name": [f"{n} (cluster secretariat)" for n in hosts["name"]],
        "municipality_id": hosts["municipality_id"].to_numpy(),
        "kind": "cluster_organisation", "size": "0", "provenance": "derived",
        "also_serves": ""})
    rename = dict(zip(outside, new["operator_id"], strict=True))
    clusters = clusters.assign(operator_id=clusters["operator_id"].replace(rename))
    theirs = clusters[clusters["operator_id"].isin(new["operator_id"])][
        ["cluster_id", "operator_id"]].merge(cover, on="cluster_id")
    comp = pd.concat([comp, theirs[["operator_id", "stronghold_id"]].drop_duplicates()],
                     ignore_index=True)
    return pd.concat([orgs, new], ignore_index=True), comp, clusters


def _firms(base: Mapping[str, pd.DataFrame], members: int, smes: int, seed: int,
           ) -> dict[str, pd.DataFrame]:
    """Cluster members (weight 1) and the SME sample (no membership, weight SME_WEIGHT)."""
    drawn = generate_firms(base, n_firms=members, seed=seed)
    sample = generate_firms(base, n_firms=smes, seed=seed + 1)["firms"]
    sample = sample.assign(firm_id=sample["firm_id"].str.replace("F", "S", n=1),
                           weight=SME_WEIGHT)
    firms = pd.concat([drawn["firms"], sample], ignore_index=True)
    return {"firms": firms, "memberships": drawn["memberships"]}


def _step_up(load: pd.Series) -> pd.Series:
    return np.ceil(load * HEADROOM / CAPACITY_STEP) * CAPACITY_STEP


def build_denmark(sources: Path = SOURCES, base: Path | None = None, *, members: int = 12_000,
                  smes: int = 24_000, seed: int = 2017) -> Calibration:
    """The Danish data set from ``sources`` and the geography of ``base``."""
    from .data.paths import DENMARK

    geo = load_partial(base or DENMARK)
    tables: dict[str, pd.DataFrame] = {name: geo[name] for name in GEOGRAPHY}
    src = read_sources(Path(sources), geo)
    kinds = src["kinds"]
    layer_of = kinds.set_index("kind")["layer"]
    in_scope = kinds.set_index("kind")["in_scope"].eq("true")
    orgs = _local_services(src["organisations"], geo["municipalities"])
    cover = src["cluster_strongholds"]
    orgs, comp, clusters = _secretariats(orgs, src["operator_strongholds"], src["clusters"],
                                         cover, in_scope)

    operators = orgs[["operator_id", "name", "municipality_id", "kind"]].assign(
        annual_cost=0.0, capacity=np.nan, closure_cost=0.0)
    tables.update(kinds=kinds, operators=operators, operator_strongholds=comp,
                  clusters=clusters.drop(columns=["provenance"]), cluster_strongholds=cover)
    # Programmes and investment promotion sit in København with every stronghold: they must
    # not pull firms there.
    placed = orgs.loc[~orgs["kind"].isin(NO_PULL) & (orgs["provenance"] != "derived"),
                      "operator_id"]
    tables.update(_firms({**tables, "operator_strongholds": comp[comp["operator_id"].isin(placed)]},
                         members, smes, seed))
    draft = from_tables(tables, source="draft")

    # Today's load per operator (its layer's service) and per cluster.
    # The default scenario's rules for who needs which service (growth firms are guided).
    plan = status_quo_plan(build_landscape(draft), Scenario())
    plan = plan[plan["operator_id"] != ""].assign(load=lambda a: a["weight"] * a["share"])
    layer = orgs.set_index("operator_id")["kind"].map(layer_of)
    own = plan[plan["service"].map({"local": "local_service", "guidance": "entry_point",
                                    "cluster": "cluster"}) == plan["operator_id"].map(layer)]
    op_load = own.groupby("operator_id")["load"].sum()
    cl_load = plan[plan["service"] == "cluster"].groupby("cluster_id")["load"].sum()

    ops = draft.operators.set_index("operator_id")
    ops["layer"] = ops["kind"].map(layer_of)
    ops["in_scope"] = ops["kind"].map(in_scope).astype(bool)
    hosts = draft.clusters.set_index("cluster_id")["operator_id"]
    members = cl_load.groupby(hosts.reindex(cl_load.index)).sum()
    load = op_load.reindex(ops.index).fillna(0.0)
    # A cluster organisation's load is its clusters' members, wherever it sits.
    hosting = ops.index.isin(members.index)
    load[hosting] = members.reindex(ops.index[hosting]).to_numpy()
    ops["capacity"] = _step_up(load).where(ops["in_scope"])
    ops["annual_cost"], ops["cost_per_firm"], rates = _in_scope_costs(ops, load)
    # Every host is in scope here (_secretariats), so every member costs the layer's rate.
    outside = ~ops["in_scope"]
    per_firm = ops["cost_per_firm"] * load
    rest = TOTAL_SPEND - ops.loc[ops["in_scope"], "annual_cost"].sum() - per_firm.sum()
    size = orgs.set_index("operator_id")["size"].astype(float)
    ops.loc[outside, "annual_cost"] = rest * size[outside] / size[outside].sum()
    ops["annual_cost"] = _round(ops["annual_cost"], 1e5)
    # A cluster organisation's capacity is its clusters' (clusters.capacity), so that a
    # merger can carry capacity to the successor; its own row stays unlimited.
    ops.loc[ops["layer"] == "cluster", "capacity"] = np.nan
    budget_today = ops["annual_cost"] + ops["cost_per_firm"] * load
    ops["closure_cost"] = _round(budget_today * ops["kind"].map(CLOSURE_SHARE), 1e4)

    cl = draft.clusters.set_index("cluster_id")
    cl["capacity"] = _step_up(cl_load.reindex(cl.index).fillna(0.0))
    # A cluster's costs are its host's: the host's fixed part and the layer's rate per
    # member, which follows the members into a successor (cost_per_firm of the host).
    cl["annual_cost"] = 0.0
    # The whole budget behind a cluster (critical mass reads it): its share of a cluster
    # organisation's fixed cost plus the layer's rate on today's members.
    n_hosted = cl.groupby("operator_id")["capacity"].transform("size")
    cl["budget"] = _round(FIXED_COST["cluster"] / n_hosted
                          + rates["cluster"] * cl_load.reindex(cl.index).fillna(0.0), 1e5)
    cl["merge_cost"] = _round(cl["budget"] * MERGE_SHARE, 1e4)

    out = dict(draft.tables)
    out["operators"] = ops.reset_index()[list(draft.operators.columns)]
    out["clusters"] = cl.reset_index()[list(draft.clusters.columns)]
    # Today's cost per kind: the fixed part and the per-firm part on today's load.
    totals = budget_today.groupby(ops["kind"]).sum().to_dict()
    return Calibration(out, rates, totals)


def _round(values: pd.Series, step: float) -> pd.Series:
    return (values / step).round() * step


def _in_scope_costs(ops: pd.DataFrame, load: pd.Series,
                    ) -> tuple[pd.Series, pd.Series, dict[str, float]]:
    """(annual_cost, cost_per_firm, rates): a fixed part per in-scope operator and one rate
    per firm served for each layer, set so that the layer costs its LAYER_TOTALS today."""
    fixed = pd.Series(0.0, index=ops.index)
    per_firm = pd.Series(0.0, index=ops.index)
    rates: dict[str, float] = {}
    for layer, total in LAYER_TOTALS.items():
        mine = ops["in_scope"] & (ops["layer"] == layer)
        served = float(load[mine].sum())
        rates[layer] = round((total - FIXED_COST[layer] * int(mine.sum())) / served) \
            if served > 0 else 0.0
        fixed[mine] = FIXED_COST[layer]
        per_firm[mine] = rates[layer]
    return fixed, per_firm, rates
