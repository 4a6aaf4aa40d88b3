"""The data-format document states every column's rule exactly as schema.py enforces it."""

from __future__ import annotations

import re

from conftest import ROOT
from klynge_opt.data.schema import TABLES


def test_data_format_columns_match_the_schema():
    text = (ROOT / "docs" / "data-format.md").read_text(encoding="utf-8")
    documented: dict[tuple[str, str], str] = {}
    table = None
    for line in text.splitlines():
        heading = re.match(r"^#+ .*`(\w+)`", line)
        if heading:
            table = heading.group(1)
        row = re.match(r"^\| `(\w+)` \| (?:no|\*\*yes\*\*) \| ([^|]*) \|", line)
        if row and table is not None:
            documented[(table, row.group(1))] = row.group(2).strip()
    for t in TABLES:
        for col in t.columns:
            rule = col.expectation() + (f"; refers to `{col.references}`" if col.references
                                        else "")
            assert documented.get((t.name, col.name)) == rule, (t.name, col.name)


def test_outputs_doc_lists_exactly_the_contract_columns():
    from klynge_opt.results.outputs import ALL_TABLES

    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    for table in ALL_TABLES.values():
        section = text.split(f"## `{table.file}`", 1)[1].split("\n## ", 1)[0]
        documented = set()
        for line in section.splitlines():
            if line.startswith("| `"):
                documented |= set(re.findall(r"`(\w+)`", line.split("|")[1]))
        assert documented == set(table.names), (table.file, documented ^ set(table.names))


def test_outputs_doc_documents_every_summary_key():
    """Each key of each summary part is named (in backticks) in the summary table: a top-level
    key in the first cell of its row, a nested key in the row of a top-level key that holds
    that part (a part used twice, e.g. ``coverage`` in ``status_quo``, is documented once)."""
    from klynge_opt.results.outputs import ResultSummary, summary_paths

    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    section = text.split("## `summary.json`", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            named = set(re.findall(r"`(\w+)`", line))
            for key in re.findall(r"`(\w+)`", line.split("|")[1]):
                rows[key] = named
    documented: set[tuple[type, str]] = set()
    for path, owner in summary_paths():
        if owner is ResultSummary and path[0] in rows:
            documented.add((owner, path[0]))
        elif len(path) > 1 and path[-1] in rows.get(path[0], set()):
            documented.add((owner, path[-1]))
    missing = sorted(".".join(path) for path, owner in summary_paths()
                     if (owner, path[-1]) not in documented)
    assert missing == []


def test_outputs_doc_documents_no_stale_summary_key():
    """Every key named in the first cell of a summary row is a declared top-level key (a key
    renamed or removed in ``ResultSummary`` is not left documented)."""
    from klynge_opt.results.outputs import ResultSummary, summary_paths

    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    section = text.split("## `summary.json`", 1)[1].split("\n## ", 1)[0]
    named = {key for line in section.splitlines() if line.startswith("| `")
             for key in re.findall(r"`(\w+)`", line.split("|")[1])}
    declared = {path[0] for path, owner in summary_paths() if owner is ResultSummary}
    assert named - declared == set()


def test_outputs_doc_lists_every_checker_rule_and_violation():
    """The checker table of docs/outputs.md names each rule (family) with exactly the violation
    names its rule reports (results.check.RULE_VIOLATIONS)."""
    from klynge_opt.results.check import RULE_VIOLATIONS

    text = (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    section = text.split("| family | violations | what is checked |", 1)[1].split("\n\n", 1)[0]
    documented = {}
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 3 and cells[1].strip().startswith("`"):
            family = cells[1].strip().strip("`")
            documented[family] = tuple(re.findall(r"`([\w.]+)`", cells[2]))
    assert documented == {f: tuple(v) for f, v in RULE_VIOLATIONS.items()}
