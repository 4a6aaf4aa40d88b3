"""Rules that span rows and tables: unique keys, references, and the landscape's consistency.

Cell-level checks (types, blanks, ranges) happen while coercing in :mod:`loading`; here the
tables are already typed. Every rule appends to one list, so a user sees all problems at once.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx
import numpy as np
import pandas as pd

from ..frames import among
from ..problems import Problem
from .loading import MAX_ROWS_LISTED, TableSource
from .schema import TABLE_BY_NAME, TABLES


def validate_tables(tables: Mapping[str, pd.DataFrame], sources: Mapping[str, TableSource],
                    problems: list[Problem]) -> None:
    """Check keys, references and landscape rules; append findings to ``problems``."""
    for table in TABLES:
        if table.name in tables:
            if tables[table.name].empty and not table.optional:
                problems.append(Problem("error", f"{table.name} has no rows: a landscape needs "
                                        f"at least one ({table.doc.rstrip('.')})",
                                        source=sources[table.name].label))
            _unique_keys(table.name, tables[table.name], sources[table.name], problems)
            _references(table.name, tables, sources, problems)
    _links(tables, sources, problems)
    _landscape(tables, sources, problems)


def _listed(mask: np.ndarray, frame: pd.DataFrame, column: str, source: TableSource,
            message: str, problems: list[Problem], severity: str = "error") -> None:
    positions = np.flatnonzero(mask)
    for pos in positions[:MAX_ROWS_LISTED]:
        value = frame[column].iloc[pos]
        problems.append(Problem(severity, message, source=source.label,  # type: ignore[arg-type]
                                line=source.line(pos), column=column,
                                value="" if pd.isna(value) else str(value)))
    if len(positions) > MAX_ROWS_LISTED:
        problems.append(Problem(severity, f"… and {len(positions) - MAX_ROWS_LISTED} more rows: "  # type: ignore[arg-type]
                                f"{message}", source=source.label, column=column))


def _unique_keys(name: str, frame: pd.DataFrame, source: TableSource,
                 problems: list[Problem]) -> None:
    key = list(TABLE_BY_NAME[name].key)
    usable = frame[key].notna().all(axis=1)
    dup = (frame[key].duplicated(keep="first") & usable).to_numpy()
    if not dup.any():
        return
    first = pd.Series(np.arange(len(frame))).groupby(
        [frame[k].to_numpy() for k in key]).transform("min").to_numpy()
    what = " + ".join(key)
    column = key[-1]
    positions = np.flatnonzero(dup)
    for pos in positions[:MAX_ROWS_LISTED]:
        problems.append(Problem(
            "error", f"duplicate {what}: already on line {source.line(first[pos])}; "
            "each must appear once", source=source.label, line=source.line(pos),
            column=column, value=str(frame[column].iloc[pos])))
    if len(positions) > MAX_ROWS_LISTED:
        problems.append(Problem("error", f"… and {len(positions) - MAX_ROWS_LISTED} more "
                                f"duplicate {what} rows", source=source.label, column=column))


def _references(name: str, tables: Mapping[str, pd.DataFrame],
                sources: Mapping[str, TableSource], problems: list[Problem]) -> None:
    frame = tables[name]
    for col in TABLE_BY_NAME[name].columns:
        if not col.references:
            continue
        target_table, target_col = col.references.split(".")
        if target_table not in tables or (TABLE_BY_NAME[target_table].optional
                                          and tables[target_table].empty):
            # An optional table without rows counts as absent (kinds: no service layers).
            continue
        known = pd.Index(tables[target_table][target_col].dropna().unique())
        values = frame[col.name]
        bad = values.notna().to_numpy() & ~among(values, known)
        if bad.any():
            _listed(bad, frame, col.name, sources[name],
                    f"unknown {target_col}: not in {sources[target_table].label}", problems)


def _links(tables: Mapping[str, pd.DataFrame], sources: Mapping[str, TableSource],
           problems: list[Problem]) -> None:
    """Links are undirected: one row per pair, no self loops. travel_times may be a full
    origin-destination matrix (both directions, the diagonal), so it has no such rule."""
    if "links" not in tables:
        return
    frame, source = tables["links"], sources["links"]
    a, b = frame["from_id"].astype(str), frame["to_id"].astype(str)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair = pd.Series(lo + "\x1f" + hi)
    # The key check already caught identical (from, to) rows; this catches the reverse.
    reverse_dup = (pair.duplicated(keep="first") & ~frame[["from_id", "to_id"]]
                   .duplicated(keep="first")).to_numpy()
    if reverse_dup.any():
        _listed(reverse_dup, frame, "to_id", source,
                "duplicate pair: the same two municipalities appear in the other direction "
                "(links are undirected)", problems)
    self_loop = (a == b).to_numpy()
    if self_loop.any():
        _listed(self_loop, frame, "to_id", source,
                "a link from a municipality to itself; use intra_minutes in "
                "municipalities instead", problems)


def _landscape(tables: Mapping[str, pd.DataFrame], sources: Mapping[str, TableSource],
               problems: list[Problem]) -> None:
    needed = ("strongholds", "operators", "operator_strongholds", "clusters",
              "cluster_strongholds", "firms", "municipalities")
    if any(n not in tables for n in needed):
        return
    competence = tables["operator_strongholds"]
    competent_pairs = set(zip(competence["operator_id"], competence["stronghold_id"], strict=True))

    cs = tables["cluster_strongholds"].merge(
        tables["clusters"][["cluster_id", "operator_id"]], on="cluster_id", how="inner")
    lacking = np.array([(o, s) not in competent_pairs
                        for o, s in zip(cs["operator_id"], cs["stronghold_id"], strict=True)],
                       dtype=bool)
    if lacking.any():
        frame = tables["cluster_strongholds"]
        row_of = {(c, s): i for i, (c, s) in enumerate(zip(frame["cluster_id"],
                                                           frame["stronghold_id"], strict=True))}
        for c, s, o in cs.loc[lacking, ["cluster_id", "stronghold_id", "operator_id"]].itertuples(
                index=False):
            line = row_of.get((c, s))
            problems.append(Problem(
                "error", f"cluster {c}'s host operator {o} is not competent in stronghold {s}: "
                f"add ({o}, {s}) to operator_strongholds or choose another host",
                source=sources["cluster_strongholds"].label,
                line=None if line is None else sources["cluster_strongholds"].line(line),
                column="stronghold_id", value=str(s)))

    strongholds = tables["strongholds"]["stronghold_id"]
    covered = set(tables["cluster_strongholds"]["stronghold_id"])
    for pos, s in enumerate(strongholds):
        if s not in covered:
            problems.append(Problem("error", f"stronghold {s} is covered by no cluster: "
                                    "add a row to cluster_strongholds",
                                    source=sources["strongholds"].label,
                                    line=sources["strongholds"].line(pos),
                                    column="stronghold_id", value=str(s)))

    served = set(competence["stronghold_id"])
    firms = tables["firms"]
    # Unknown strongholds were reported as bad references; do not report them twice.
    orphan = firms["stronghold_id"].isin(strongholds) & ~firms["stronghold_id"].isin(served)
    for s, count in firms.loc[orphan, "stronghold_id"].value_counts().sort_index().items():
        problems.append(Problem("error", f"{count} firms are in stronghold {s}, but no operator "
                                f"is competent in it (operator_strongholds)",
                                source=sources["firms"].label, column="stronghold_id",
                                value=str(s)))

    # Plausible but suspicious: warnings. A row without its id was reported as an error already.
    no_comp = ~tables["operators"]["operator_id"].isin(competence["operator_id"]) & \
        tables["operators"]["operator_id"].notna()
    kinds = tables.get("kinds")
    if kinds is not None and not kinds.empty:
        # With service layers only guidance follows competences; an entry point without
        # rows guides every stronghold.
        guides = kinds.loc[kinds["layer"] == "other", "kind"]
        no_comp &= tables["operators"]["kind"].isin(guides)
    _listed(no_comp.to_numpy(), tables["operators"], "operator_id", sources["operators"],
            "operator has no competence (no row in operator_strongholds) and can serve no firm",
            problems, severity="warning")
    empty = ~tables["clusters"]["cluster_id"].isin(tables["cluster_strongholds"]["cluster_id"]) & \
        tables["clusters"]["cluster_id"].notna()
    _listed(empty.to_numpy(), tables["clusters"], "cluster_id", sources["clusters"],
            "cluster covers no stronghold (no row in cluster_strongholds)", problems,
            severity="warning")
    _cluster_costs(tables, sources, problems)
    no_firms = ~strongholds.isin(firms["stronghold_id"]) & strongholds.notna()
    _listed(no_firms.to_numpy(), tables["strongholds"], "stronghold_id", sources["strongholds"],
            "stronghold has no firms", problems, severity="warning")
    if "regions" in tables:
        regions = tables["regions"]["region_id"]
        no_muni = ~regions.isin(tables["municipalities"]["region_id"]) & regions.notna()
        _listed(no_muni.to_numpy(), tables["regions"], "region_id", sources["regions"],
                "region has no municipalities", problems, severity="warning")
    if "memberships" in tables:
        _memberships(tables, sources, problems)
    _reachability(tables, sources, problems)


def _cluster_costs(tables: Mapping[str, pd.DataFrame], sources: Mapping[str, TableSource],
                   problems: list[Problem]) -> None:
    """Warn where the clusters an in-scope operator hosts cost more a year than the operator:
    the cluster budgets and the host's cost then likely count the same money twice or not at
    all. A host outside the reform's scope (``kinds.in_scope = false``) is exempt: the reform
    does not decide its cost, and a cluster it runs is paid apart from it."""
    clusters, ops = tables["clusters"], tables["operators"]
    if "annual_cost" not in clusters or clusters["annual_cost"].fillna(0).eq(0).all():
        return
    hosted = clusters.groupby("operator_id")["annual_cost"].sum()
    kinds = tables.get("kinds")
    if kinds is not None and len(kinds) and "in_scope" in kinds:
        outside = set(kinds.loc[~kinds["in_scope"].fillna(True).astype(bool), "kind"])
        exempt = set(ops.loc[ops["kind"].isin(outside), "operator_id"])
        hosted = hosted[~hosted.index.isin(exempt)]
    own = ops.set_index("operator_id")["annual_cost"]
    over = hosted[hosted > own.reindex(hosted.index)]
    rows = ops["operator_id"].isin(over.index).to_numpy()
    for pos in np.flatnonzero(rows):
        o = ops["operator_id"].iloc[pos]
        problems.append(Problem(
            "warning", f"the clusters operator {o} hosts cost {over[o]:,.0f} DKK a year, more "
            f"than the operator itself ({own[o]:,.0f}): check that cluster and host costs do "
            "not count the same money twice", source=sources["operators"].label,
            line=sources["operators"].line(pos), column="annual_cost", value=str(own[o])))


def _memberships(tables: Mapping[str, pd.DataFrame], sources: Mapping[str, TableSource],
                 problems: list[Problem]) -> None:
    members = tables["memberships"]
    firm_stronghold = tables["firms"].drop_duplicates("firm_id").set_index("firm_id")[
        "stronghold_id"]
    stronghold = members["firm_id"].map(firm_stronghold)
    covers = tables["cluster_strongholds"].drop_duplicates().assign(_covers=True)
    probe = pd.DataFrame({"cluster_id": members["cluster_id"].to_numpy(),
                          "stronghold_id": stronghold.to_numpy()})
    hit = probe.merge(covers, on=["cluster_id", "stronghold_id"], how="left")["_covers"]
    known = stronghold.isin(tables["strongholds"]["stronghold_id"]).to_numpy()
    off = known & hit.isna().to_numpy()
    _listed(off, members, "cluster_id", sources["memberships"],
            "firm is a member of a cluster that does not cover the firm's stronghold", problems,
            severity="warning")


def _reachability(tables: Mapping[str, pd.DataFrame], sources: Mapping[str, TableSource],
                  problems: list[Problem]) -> None:
    """With a links table, links are the source of travel times: every place must be reachable."""
    if "links" not in tables or tables["links"].empty:
        return
    municipalities = tables["municipalities"]["municipality_id"].dropna()
    graph = nx.Graph()
    graph.add_nodes_from(municipalities)
    links = tables["links"].dropna(subset=["from_id", "to_id"])
    graph.add_edges_from(zip(links["from_id"], links["to_id"], strict=True))
    components = sorted(nx.connected_components(graph), key=lambda c: (-len(c), min(c)))
    if len(components) <= 1:
        return
    explicit: set[tuple[str, str]] = set()
    if "travel_times" in tables:
        tt = tables["travel_times"]
        explicit = {tuple(sorted(p)) for p in zip(tt["from_id"], tt["to_id"], strict=True)}  # type: ignore[misc]
    main = components[0]
    names = tables["municipalities"].set_index("municipality_id")["name"]
    for comp in components[1:]:
        uncovered = [m for m in sorted(comp)
                     if any(tuple(sorted((m, o))) not in explicit for o in main)]
        if not uncovered:
            continue
        shown = ", ".join(f"{m} ({names.get(m, '?')})" for m in uncovered[:MAX_ROWS_LISTED])
        more = f" and {len(uncovered) - MAX_ROWS_LISTED} more" if len(uncovered) > 10 else ""
        problems.append(Problem(
            "error", f"unreachable over links from the main network ({len(main)} municipalities): "
            f"{shown}{more}; add a road/bridge/ferry link or explicit travel_times",
            source=sources["links"].label))
