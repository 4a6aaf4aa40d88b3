"""Command line: parses arguments, calls the Python API, prints. No logic of its own.

Exit codes (docs/outputs.md): 0 success; 1 a solve failed, its plan failed the independent
check, or an output could not be written (disk full, permission); 2 bad input (data, scenario,
options, or an output path that must not be replaced); 3 infeasible scenario; 130 interrupted
(Ctrl-C or SIGTERM; nothing is written, earlier results are untouched).

Every value that comes from data, scenarios or paths is printed as plain text, never as rich
markup: a name such as ``[/bold]`` must print as itself.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import signal
import sys
from collections.abc import Callable, Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .problems import ExecutorError, InputError, OutputError, Problem, errors, warnings
from .progress import Event, Gap, Progress, Step
from .results.outputs import SUMMARY_FILE
from .wording import fold, scenario_items

# Heavy modules (pandas, networkx, pydantic, Pyomo, HiGHS) are imported inside the commands
# that need them: `klynge-opt --help` and `validate` stay fast.
if TYPE_CHECKING:
    import pandas as pd

    from .results.result import Result

EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_INFEASIBLE = 3
EXIT_INTERRUPTED = 130

# Plain click help (rich_markup_mode=None): no "<bool>" beside every flag, no boxes cut at 80
# columns, and rich's formatter is not imported just to print help.
app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
    rich_markup_mode=None,
    help="klynge-opt: design a consolidated business-promotion system.",
    epilog="Example: klynge-opt solve scenarios/paper-2017.toml --out results/reform\n\n"
           "Exit codes: 0 success; 1 a solve failed, its check found violations, or an output "
           "could not be written; 2 bad input (data, scenario, options, or an output path "
           "that must not be replaced); 3 infeasible scenario; 130 interrupted.")
# Wide when piped: rich would otherwise squeeze tables to 80 columns in logs and CI.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)


class Format(StrEnum):
    text = "text"
    json = "json"


DatasetArg = Annotated[Path | None, typer.Argument(
    help="Data set: a folder of CSV/Parquet files or an .xlsx workbook "
         "(default: the embedded Danish data).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="Output format.")]


def _print_problems(problems: list[Problem], stream: Console) -> None:
    for severity, colour, found in (("error  ", "red", errors(problems)),
                                    ("warning", "yellow", warnings(problems))):
        for p in found:
            # Locations contain [column]: escape so rich does not read it as markup.
            text = f"{p.location()}: {p.message}" + (
                "" if p.value is None else f" (got {p.value!r})")
            stream.print(f"[{colour}]{severity}[/{colour}] {escape(text)}", soft_wrap=True)


def _fail_input(exc: InputError, fmt: Format = Format.text) -> None:
    if fmt is Format.json:
        print(json.dumps({"ok": False, "what": exc.what,
                          "problems": [p.to_dict() for p in exc.problems]}, indent=2))
    else:
        err_console.print(f"[red]{escape(str(exc))}[/red]")
        _print_problems(exc.problems, err_console)
    raise typer.Exit(EXIT_INPUT)


F = TypeVar("F", bound=Callable[..., Any])


def _handled(command: F) -> F:
    """Turn the API's errors into messages and exit codes, once for every command."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as exc:
            _fail_input(exc, kwargs.get("fmt", Format.text))
        except OutputError as exc:
            err_console.print(f"[red]error[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_INPUT if exc.refused else EXIT_FAILED) from None
        except ExecutorError as exc:
            err_console.print(f"[red]error[/red] {escape(str(exc))}")
            raise typer.Exit(EXIT_FAILED) from None
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/red]: no output was left half-written and "
                              "earlier results are unchanged")
            raise typer.Exit(EXIT_INTERRUPTED) from None
    return wrapper  # type: ignore[return-value]


def _load_scenario(path: Path) -> Any:
    from .data.scenario import load_scenario

    return load_scenario(path)


def _bad_option(option: str, message: str, value: object) -> InputError:
    return InputError([Problem("error", message, source="command line", column=option,
                               value=str(value))], what="command line")


def _frame_table(frame: pd.DataFrame, title: str, formats: dict[str, str] | None = None,
                 ) -> Table:
    import pandas as pd

    formats = formats or {}
    from rich import box

    # Text objects, not strings: rich would read "[/bold]" in a name as markup. One space of
    # padding and the box's one-space separator: more columns fit in 80.
    table = Table(title=Text(title), title_justify="left", show_edge=False, pad_edge=False,
                  box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(Text(str(col)), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            # pandas' NA (nullable integer columns) is missing too.
            cells.append(Text(_cell(None if value is pd.NA else value,
                                    formats.get(str(col)))))
        table.add_row(*cells)
    return table


def _cell(value: object, fmt: str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "∞"
    return format(value, fmt) if fmt else str(value)


@app.command()
@_handled
def validate(data: DatasetArg = None, fmt: FormatOpt = Format.text) -> None:
    """Check a data set against the data contract; list every problem at once.

    Example: klynge-opt validate data/denmark --format json
    """
    from .data.dataset import DENMARK, inspect

    data = data or DENMARK
    ds, problems = inspect(data)
    n_err, n_warn = len(errors(problems)), len(warnings(problems))
    if fmt is Format.json:
        print(json.dumps({"ok": ds is not None, "data": str(data), "errors": n_err,
                          "warnings": n_warn, "problems": [p.to_dict() for p in problems]},
                         indent=2))
    else:
        _print_problems(problems, console)
        verdict = "[green]valid[/green]" if ds is not None else "[red]invalid[/red]"
        console.print(f"{escape(str(data))}: {verdict} — {n_err} errors, {n_warn} warnings")
    if ds is None:
        raise typer.Exit(EXIT_INPUT)


@app.command()
@_handled
def info(data: DatasetArg = None, fmt: FormatOpt = Format.text,
         radius: Annotated[float, typer.Option(
             help="List demand groups whose nearest competent operator is farther "
                  "than this many minutes.")] = 60.0,
         wide: Annotated[bool, typer.Option(
             "--wide", help="Every column with ids, and every far-off demand group.")] = False,
         ) -> None:
    """The landscape at a glance: counts, overlap, fragmentation, far-off places.

    Example: klynge-opt info data/denmark --radius 45
    """
    if not (math.isfinite(radius) and radius > 0):
        raise _bad_option("--radius", "expected a positive number of minutes", radius)
    from .data.dataset import DENMARK, load
    from .fsio import clean_json
    from .model.landscape import build_landscape, summarise

    ds = load(data or DENMARK)
    summary = summarise(build_landscape(ds), radius_minutes=radius)
    if fmt is Format.json:
        # Unlimited capacity is infinite: JSON has no Infinity, so it becomes null.
        print(json.dumps(clean_json(summary.to_dict()), indent=2, default=_json_default,
                         allow_nan=False))
        return
    t = summary.totals
    console.print(f"[bold]{escape(str(data or DENMARK))}[/bold]: {t['regions']} regions, "
                  f"{t['municipalities']} municipalities ({t['rural_municipalities']} rural), "
                  f"{t['strongholds']} strongholds, {t['operators']} operators, "
                  f"{t['clusters']} clusters, "
                  f"{t['firms']:,.0f} firms in {t['demand_groups']} demand groups",
                  width=min(console.width, 80))
    console.print(f"Rural share of firms {t['rural_firm_share']:.1%}; firms in several "
                  f"clusters {t['firms_in_several_clusters_share']:.1%}; on average "
                  f"{t['clusters_per_stronghold_mean']:.1f} clusters and "
                  f"{t['operators_per_stronghold_mean']:.1f} competent operators per "
                  "stronghold.\n", width=min(console.width, 80))
    for frame, title, formats in _info_tables(summary, ds, radius, wide):
        # The short tables fit 80 columns even when piped (the console is wider then).
        console.print(_frame_table(frame, title, formats),
                      width=None if wide else min(console.width, 80))
        console.print()
    if summary.far_places.empty:
        console.print(f"Every demand group has a competent operator within {radius:g} minutes.")
    elif not wide and len(summary.far_places) > FAR_ROWS:
        console.print(Text(f"{len(summary.far_places) - FAR_ROWS} more demand groups: "
                           "--wide or --format json lists them all.", style="dim"))


#: Far-off demand groups listed by ``info`` without --wide (farthest first).
FAR_ROWS = 25


def _short_name(name: object) -> str:
    """A name without its parenthesised gloss ("Food (Fødevarer)" → "Food") for an
    80-column table; --wide shows it whole."""
    text = str(name)
    cut = text.find(" (")
    return text[:cut] if cut > 0 else text


def _info_tables(summary: Any, ds: Any, radius: float,
                 wide: bool) -> list[tuple[pd.DataFrame, str, dict[str, str]]]:
    """``info``'s tables: every column with ids (``wide``), or names and the columns a
    reader compares, headed short enough for 80 columns."""
    import pandas as pd

    tables: list[tuple[pd.DataFrame, str, dict[str, str]]] = []
    layers, regions, strongholds = summary.layers, summary.regions, summary.strongholds
    far = summary.far_places
    far_title = (f"{len(far)} demand groups with no competent operator within {radius:g} "
                 "minutes (farthest first)")
    if wide:
        if not layers.empty:
            tables.append((layers, "Service layers (kinds): firms to serve by default (every "
                           "firm, growth firms, members)", {
                               "annual_cost": ",.0f", "capacity": ",.0f",
                               "firms_to_serve": ",.0f"}))
        tables += [
            (regions, "Regions", {"population": ",.0f", "firms": ",.0f",
                                  "rural_firm_share": ".1%"}),
            (strongholds, "Strongholds (overlap: operators and clusters per stronghold)", {
                "skill_shortage_2025": ",.0f", "firms": ",.0f", "competent_capacity": ",.0f"}),
            (summary.fragmentation, "Membership fragmentation", {"firms": ",.0f",
                                                                  "share": ".1%"})]
        if not far.empty:
            tables.append((far, far_title, {"weight": ",.0f", "nearest_minutes": ".0f"}))
        return tables
    if not layers.empty:
        short = layers.assign(in_scope=layers["in_scope"].map({True: "yes", False: "no"}),
                              annual_cost=layers["annual_cost"] / 1e6)
        tables.append((short.rename(columns={
            "in_scope": "scope", "operators": "ops", "annual_cost": "M DKK/yr",
            "firms_to_serve": "to serve"}), "Service layers: firms to serve by default "
            "(every firm, growth firms, members)",
            {"M DKK/yr": ",.1f", "capacity": ",.0f", "to serve": ",.0f"}))
    tables.append((regions.drop(columns="region_id").rename(columns={
        "name": "region", "municipalities": "munis", "rural_municipalities": "rural",
        "operators": "ops", "clusters_hosted": "clusters", "rural_firm_share": "rural firms"}),
        "Regions", {"population": ",.0f", "firms": ",.0f", "rural firms": ".1%"}))
    st = strongholds.assign(name=strongholds["name"].map(_short_name))
    tables.append((st[["name", "firms", "competent_operators", "clusters",
                       "skill_shortage_2025", "competent_capacity"]].rename(columns={
        "name": "stronghold", "competent_operators": "operators", "skill_shortage_2025":
        "shortage 2025", "competent_capacity": "capacity"}),
        "Strongholds: competent operators and clusters each (the overlap)",
        {"firms": ",.0f", "shortage 2025": ",.0f", "capacity": ",.0f"}))
    tables.append((summary.fragmentation, "Membership fragmentation",
                   {"firms": ",.0f", "share": ".1%"}))
    if not far.empty:
        names = ds.operators.set_index("operator_id")["name"]
        stronghold = strongholds.set_index("stronghold_id")["name"].map(_short_name)
        shown = far.head(FAR_ROWS)
        tables.append((pd.DataFrame({
            "municipality": shown["municipality"],
            "stronghold": shown["stronghold_id"].map(stronghold).fillna(shown["stronghold_id"]),
            "firms": shown["weight"],
            "rural": shown["rural"].map({True: "yes", False: ""}),
            "nearest operator": shown["nearest_operator"].map(names).fillna("–"),
            "min": shown["nearest_minutes"]}), far_title, {"firms": ",.0f", "min": ".0f"}))
    return tables


#: The bundled combined reform: what `klynge-opt solve` runs without a scenario.
from .data.paths import DEFAULT_SCENARIO  # noqa: E402 - light, beside its use

QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar (there is none when stderr is not a terminal).")]
WideOpt = Annotated[bool, typer.Option(
    "--wide", help="Every row and column in full (the files hold them all anyway).")]
WorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, help="Local worker processes (default: one per core).")]
SerialOpt = Annotated[bool, typer.Option("--serial", help="Run every task in this process.")]
DaskLocalOpt = Annotated[int | None, typer.Option(
    "--dask-local", min=1, help="Start a Dask LocalCluster of N worker processes.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", help="Run on a Dask cluster: its scheduler's address, tcp://HOST:PORT.")]
RetryOpt = Annotated[bool, typer.Option(
    "--retry-failed", help="Run tasks that failed (raised) in an earlier run again.")]


ScenarioArg = Annotated[Path | None, typer.Argument(
    help="Scenario TOML file (default: the bundled reform on the embedded Danish data).")]


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value / 1e6:,.2f} M"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _print_result(result: Result, wide: bool = False) -> None:
    s = result.facts
    if not result.has_solution:
        if result.diagnosis is not None:
            err_console.print(f"[red]{escape(s.status)}[/red]")
            err_console.print(escape(result.diagnosis.explain()))
        else:
            err_console.print(f"[red]{escape(s.status)}[/red]: {escape(result.message)}")
        return
    # A result with a plan reports every figure (docs/outputs.md).
    assert s.objective_terms is not None and s.counts is not None and s.coverage is not None
    assert s.travel_minutes is not None and s.status_quo is not None and s.savings is not None
    if s.status == "evaluated":
        flag = "[cyan]status quo, evaluated (not optimised)[/cyan]"
    elif s.proven_optimal:
        flag = f"[green]optimal[/green] (proven, gap {_number(s.mip_gap, '.4%')})"
    elif s.status == "check_failed":
        flag = "[red]INVALID PLAN — it fails the independent check[/red]"
    else:
        gap = "unknown" if s.mip_gap is None else f"{s.mip_gap:.3%}"
        stop = "time limit reached" if s.status == "time_limit" else "solver gap reached"
        flag = f"[yellow]feasible, NOT proven optimal ({stop}), gap {gap}[/yellow]"
    console.print(f"[bold]{escape(str(s.scenario))}[/bold]: {flag}; total cost "
                  f"{_money(s.objective)} DKK over the horizon (status quo "
                  f"{_money(s.status_quo.objective)}, savings "
                  f"{_money(s.savings.total)} = {_share(s.savings.share)}"
                  + (f", {_share(s.savings.in_scope_share)} of the in-scope part"
                     if s.objective_terms.outside_scope else "") + ")")
    c, cover, travel = s.counts, s.coverage, s.travel_minutes
    console.print(f"operators {c.operators_before} → {c.operators_after}, clusters "
                  f"{c.clusters_before} → {c.clusters_after}; coverage all "
                  f"{_share(cover.all)}, rural {_share(cover.rural)}, "
                  f"urban {_share(cover.urban)}; travel mean "
                  f"{_number(travel.mean, '.1f')} min, max {_number(travel.max, '.0f')} "
                  f"min; firms moved {_number(s.firms_moved, ',.0f')}")
    layers = s.coverage_by_service
    if layers is not None and layers.local is not None:
        console.print("coverage by service (all firms that need it): " + ", ".join(
            f"{name} {_share(getattr(layers, name).all)}"
            for name in ("local", "guidance", "cluster") if getattr(layers, name) is not None))
    if s.effect is not None:
        e, today = s.effect, s.status_quo.effect
        console.print(f"estimated effect: {_number(e.jobs, ',.0f')} jobs (status quo "
                      f"{_number(today.jobs, ',.0f')}); {_number(e.cost_per_job, ',.0f')} DKK "
                      "a year per estimated job — estimates from the scenario's \\[effect] rates")
    sq = s.status_quo
    within = sq.coverage_within_radius
    radius = "" if within is None else (
        f"; within the scenario's radius: all {_share(within.all)}, rural "
        f"{_share(within.rural)}, urban {_share(within.urban)}")
    basis = "data before the overrides" if sq.baseline == "today" else "overridden data"
    console.print(f"status quo ({basis}): "
                  f"{sq.operators} operators, {sq.clusters} clusters; coverage as today all "
                  f"{_share(sq.coverage.all)}{radius}")
    places = result.coverage_by_municipality
    if not places.empty:
        worst = places[places["share"] < 1 - 1e-9].sort_values(["share", "firms"],
                                                                  ascending=[True, False])
        shown = ", ".join(f"{n} {_share(v)}" for n, v in zip(worst["name"].head(6),
                                                             worst["share"].head(6),
                                                             strict=True))
        console.print(Text(f"municipalities below full coverage: {len(worst)} of "
                           f"{len(places)}" + (f"; lowest: {shown}" if shown else "")))
    import pandas as pd

    plan_terms, today_terms = s.objective_terms.to_dict(), s.status_quo.objective_terms.to_dict()
    terms = pd.DataFrame({
        "term": list(plan_terms),
        "plan_MDKK": [_mdkk(v) for v in plan_terms.values()],
        "status_quo_MDKK": [_mdkk(v) for v in today_terms.values()],
    })
    console.print(_frame_table(terms, "Cost terms over the horizon",
                               {"plan_MDKK": ",.2f", "status_quo_MDKK": ",.2f"}))
    if s.status != "evaluated":
        if wide:
            kept = result.operators[result.operators["kept"]].sort_values(
                ["region_id", "firms_served"], ascending=[True, False])
            console.print(_frame_table(
                kept[["operator_id", "name", "region_id", "hosts", "serves", "firms_served",
                      "utilisation"]],
                f"Retained operators ({len(kept)})", {"firms_served": ",.0f",
                                                      "utilisation": ".0%"}))
        else:
            _print_operators_short(result)
    t = s.timings
    if t is not None:
        console.print(f"time: load {_number(t.load, '.2f')} s, build {_number(t.build, '.2f')} "
                      f"s, solve {_number(t.solve, '.2f')} s, extract "
                      f"{_number(t.extract, '.2f')} s")
    check = s.check
    if check is not None:
        if check.ok:
            console.print("independent check: [green]all constraints and cost terms verified"
                          "[/green]")
        else:
            err_console.print(f"[red]independent check found {len(check.violations)} "
                              "violations[/red]:")
            for v in check.violations[:20]:
                err_console.print(escape(f"  {v.constraint} at {v.where}: {v.message}"))


#: Service layers as the terminal names them (docs/model.md, Service layers).
LAYER_NAMES = {"local_service": "local", "entry_point": "guidance", "cluster": "cluster",
               "other": "other"}


def _print_operators_short(result: Result) -> None:
    """Operators kept of today's per region and layer, and the closed ones by kind, folded
    to 80 columns (``--wide`` and operators.csv have every row)."""
    import pandas as pd

    ops = result.operators.copy()
    ops["layer_name"] = ops["layer"].map(LAYER_NAMES).where(ops["in_scope"].astype(bool),
                                                            "outside")
    ops["layer_name"] = ops["layer_name"].fillna("other")
    regions = result.by_region.set_index("region_id")["name"] if not result.by_region.empty \
        else pd.Series(dtype=str)
    ops["region"] = ops["region_id"].map(regions).fillna(ops["region_id"])
    order = [n for n in (*LAYER_NAMES.values(), "outside")
             if n in set(ops["layer_name"])]
    kept = ops.pivot_table(index="region", columns="layer_name", values="kept",
                           aggfunc="sum", fill_value=0)
    today = ops.pivot_table(index="region", columns="layer_name", values="kept",
                            aggfunc="size", fill_value=0)
    table = pd.DataFrame({"region": today.index})
    for layer in order:
        table[layer] = [f"{int(kept.at[r, layer])}/{int(today.at[r, layer])}"
                        if today.at[r, layer] else "–" for r in today.index]
    console.print(_frame_table(table, "Operators kept of today's, by region and service "
                               "layer"))
    closed = ops[~ops["kept"].astype(bool)]
    if closed.empty:
        console.print("No operator closes.")
        return
    console.print(Text(f"Closed ({len(closed)}):", style="bold"))
    for kind, group in closed.groupby("kind", sort=True):
        names = fold(sorted(group["name"]), chars=FOLD_CHARS)
        for line in _wrapped(f"  {kind} ({len(group)}): ", names):
            console.print(Text(line))


def _number(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _mdkk(value: float | None) -> float:
    return math.nan if value is None else value / 1e6


@app.command()
@_handled
def solve(scenario: ScenarioArg = None,
          data: Annotated[Path | None, typer.Option(
              help="Data set to use instead of the scenario's `data`.")] = None,
          out: Annotated[Path | None, typer.Option(
              help="Output folder (default: results/<scenario name>). It may be new, empty or "
                   "an earlier result; nothing else is ever replaced.")] = None,
          tee: Annotated[bool, typer.Option("--log", "--verbose",
                                            help="Stream the HiGHS log.")] = False,
          diagnose: Annotated[bool, typer.Option(
              help="Explain an infeasible scenario and suggest verified relaxations.")] = True,
          quiet: QuietOpt = False, wide: WideOpt = False) -> None:
    """Solve a scenario: choose the operators and clusters to keep at least cost.

    Example: klynge-opt solve scenarios/paper-2017.toml --out results/reform
    """
    from .api import load_inputs
    from .api import solve as api_solve
    from .fsio import guard_target
    from .results.result import write_result

    file = scenario if scenario is not None else DEFAULT_SCENARIO
    sc, ds = load_inputs(data, file)
    target = out or Path("results") / sc.name
    protected = [None if ds.source == "<memory>" else ds.source, file]
    # Refuse a bad --out before spending minutes on the solve, and again when writing.
    guard_target(target, "result", protected=protected, legacy=(SUMMARY_FILE,))
    # The log, when streamed, already shows the gap: no bar drawn over it.
    with _progress("solve", quiet or tee) as progress:
        result = api_solve(ds, sc, tee=tee, diagnose=diagnose, progress=progress)
    failed = result.status in ("error", "check_failed") or not (
        result.has_solution or result.status == "infeasible")
    if not failed:
        # Written before anything is printed: a closed pipe (`| head`) must not lose it.
        write_result(result, target, protected=protected)
    _print_result(result, wide)
    if failed:
        err_console.print(f"not written: {escape(str(target))} is unchanged (the solve "
                          "produced no valid plan)")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"written to {escape(str(target))}/")
    if result.status == "infeasible":
        raise typer.Exit(EXIT_INFEASIBLE)


@app.command()
@_handled
def check(result_dir: Annotated[Path, typer.Argument(help="A folder written by `solve`.")],
          data: Annotated[Path | None, typer.Option(
              help="Data set to check against (default: the one recorded in the result).")
          ] = None,
          fmt: FormatOpt = Format.text) -> None:
    """Re-verify a result from the raw data: inputs, status, every constraint and cost term.

    Nothing in the folder is trusted: the input hash is recomputed from its scenario.toml and
    the data, and an edited status or summary is a violation.

    Example: klynge-opt check results/reform
    """
    from .results.check import check_dir

    try:
        from .data.dataset import load

        ds = load(data) if data is not None else None
        report = check_dir(result_dir, dataset=ds)
    except (ValueError, OSError) as exc:
        err_console.print(f"[red]cannot check {escape(str(result_dir))}[/red]: "
                          f"{escape(str(exc))}")
        raise typer.Exit(EXIT_INPUT) from None
    where = escape(str(result_dir))
    if fmt is Format.json:
        print(json.dumps(report.to_dict(), indent=2, default=_json_default))
    elif report.ok:
        if report.note:
            console.print(f"{where}: [green]OK[/green] — {escape(report.note)}")
        else:
            console.print(f"{where}: [green]OK[/green] — every constraint holds; objective "
                          f"{report.objective:,.2f} recomputed from the raw data matches")
    else:
        for v in report.violations:
            console.print(f"[red]{escape(v.constraint)}[/red] "
                          + escape(f"at {v.where}: {v.message}"))
        console.print(f"{where}: [red]{len(report.violations)} violations[/red]")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


scenario_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                           help="Inspect scenario files.")
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("show")
@_handled
def scenario_show(file: Annotated[Path, typer.Argument(help="Scenario TOML file.")]) -> None:
    """Print the fully resolved scenario (inheritance and defaults applied) as TOML.

    Example: klynge-opt scenario show scenarios/paper-2017.toml
    """
    import tomli_w

    sc = _load_scenario(file)
    if sc.extends:
        print(f"# {file}, resolved (inherits from {sc.extends})")
    print(tomli_w.dumps(sc.to_toml_dict()), end="")


ScenariosArg = Annotated[list[Path], typer.Argument(help="Scenario TOML files.")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="Replace an output of another kind or of other inputs.")]


def _cost_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The comparison table as text, money in million DKK and shares in per cent."""
    out = frame.copy()
    for col in out.columns[2:]:
        out[col] = [_format_metric(v, u) for v, u in zip(out[col], out["unit"], strict=True)]
    out["unit"] = out["unit"].replace({"DKK": "M DKK", "share": "%"})
    return out


def _format_metric(value: object, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, str):
        return value
    number = float(value)  # type: ignore[arg-type]
    if unit == "DKK":
        return f"{number / 1e6:,.2f}"
    if unit == "share":
        return f"{number:.2%}"
    return f"{number:,.1f}" if not number.is_integer() else f"{number:,.0f}"


@app.command()
@_handled
def compare(scenarios: ScenariosArg,
            out: Annotated[Path, typer.Option(help="Output folder.")] = Path("results/compare"),
            reuse: Annotated[bool, typer.Option(
                help="Reuse results on disk for identical scenario and data.")] = True,
            force: ForceOpt = False, quiet: QuietOpt = False, wide: WideOpt = False,
            workers: WorkersOpt = None, dask_local: DaskLocalOpt = None,
            scheduler: SchedulerOpt = None) -> None:
    """Solve several scenarios and show them side by side: costs, inputs and decisions.

    The terminal gets a short summary (80 columns); the full tables are written to files,
    and --wide prints them too. The solves run one after another here, or side by side with
    --workers N, --dask-local N or --scheduler ADDRESS.

    Example: klynge-opt compare scenarios/status-quo.toml scenarios/paper-2017.toml
    """
    from .studies.compare import compare as run_compare
    from .studies.compare import write_comparison

    ex = _optional_executor(workers, dask_local, scheduler)
    with _progress("compare", quiet) as progress:
        cmp = run_compare(scenarios, out, reuse=reuse, progress=progress, force=force,
                          executor=ex)
    files = write_comparison(cmp, out)
    if wide:
        _print_comparison_wide(cmp)
    else:
        _print_comparison_short(cmp, files)
    reused = [n for n, r in cmp.reused.items() if r]
    lines = _wrapped("reused from disk (same inputs, checked again): ", ", ".join(reused)) \
        if reused else []
    if cmp.replaced:
        lines.append(f"replaced the earlier comparison in {out}")
    lines += _wrapped("written: ", ", ".join(str(p) for p in files.values()))
    for line in lines:
        console.print(Text(line))
    if any(r.status in ("infeasible", "error", "check_failed") for r in cmp.results.values()):
        raise typer.Exit(EXIT_INFEASIBLE)


def _print_comparison_wide(cmp: Any) -> None:
    console.print(_frame_table(_cost_table(cmp.table), "Side by side"))
    console.print()
    if cmp.inputs.empty:
        console.print("The scenarios' resolved inputs are identical.")
    else:
        console.print(_frame_table(cmp.inputs.astype(str), "Inputs that differ (why results "
                                   "differ)"))
    console.print()
    if cmp.operators.empty:
        console.print("Every operator has the same fate in every scenario.")
    else:
        console.print(_frame_table(cmp.operators, f"Operators whose fate differs "
                                   f"({len(cmp.operators)})"))
    if not cmp.clusters.empty:
        console.print(_frame_table(cmp.clusters, f"Clusters whose selection differs "
                                   f"({len(cmp.clusters)})"))


def _print_comparison_short(cmp: Any, files: dict[str, Path]) -> None:
    """Headline figures per option, the inputs that differ and the decisions that differ,
    folded to fit 80 columns; the full tables are in ``files``."""
    # At most 80 columns even when piped (the console is wider then, for --wide tables).
    console.print(_options_table(cmp.results), width=min(console.width, 80))
    for line in _wrapped("", "cost and saved: M DKK over the horizon, saved against the "
                         "status quo (share: of its in-scope part); ops, clus: operators and "
                         "clusters kept; served, rural: firms that need a service and get it "
                         "(rural: in rural municipalities); cluster: members served; jobs: "
                         "estimated", indent=""):
        console.print(Text(line, style="dim"))
    for line in _wrapped("solved: ", _solve_quality(cmp.results)):
        console.print(Text(line))
    console.print()
    if cmp.inputs.empty:
        console.print("The scenarios' resolved inputs are identical.")
    else:
        console.print(Text(f"Inputs that differ ({len(cmp.inputs)}; full values in "
                           f"{files['inputs'].name})", style="bold"))
        for line in _folded_inputs(cmp.inputs):
            console.print(Text(line))
    plans = [n for n, r in cmp.results.items() if r.has_solution and r.status != "evaluated"]
    for what, frame, yes, file in (("Operators", cmp.operators, "kept", files["operators"]),
                                   ("Clusters", cmp.clusters, "selected", files["clusters"])):
        console.print()
        if frame.empty:
            console.print(f"{what}: the same decisions in every option.")
            continue
        console.print(Text(f"{what} whose fate differs between the options ({len(frame)}; "
                           f"all in {file.name})", style="bold"))
        for line in _folded_fates(frame, plans, yes):
            console.print(Text(line))


def _options_table(results: dict[str, Result]) -> Table:
    """One row per option: the figures a board asks for first."""
    from rich import box

    # One space of padding and the box's one-space separator: ten columns in 80.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, padding=(0, 1, 0, 0),
                  title=Text("Options side by side"), title_justify="left")
    for header, justify in (("option", "left"), ("cost", "right"), ("saved", "right"),
                            ("share", "right"), ("ops", "right"), ("clus", "right"),
                            ("served", "right"), ("rural", "right"), ("cluster", "right"),
                            ("jobs", "right")):
        # A long scenario name folds onto a second line rather than widening the table;
        # figures never wrap.
        table.add_column(header, justify=justify,  # type: ignore[arg-type]
                         **({"max_width": 16, "overflow": "fold"} if header == "option"
                            else {"no_wrap": True}))
    for name, result in results.items():
        s = result.facts
        if not result.has_solution or s.counts is None or s.coverage is None:
            table.add_row(Text(name), Text(s.status), *["–"] * 8)
            continue
        saved = s.savings
        layers = s.coverage_by_service
        cluster = None if layers is None or layers.cluster is None else layers.cluster.all
        evaluated = s.status == "evaluated"
        table.add_row(
            Text(name), _number(None if s.objective is None else s.objective / 1e6, ",.0f"),
            "–" if evaluated or saved is None else f"{saved.total / 1e6:,.0f}",
            "–" if evaluated or saved is None or saved.in_scope_share is None
            else f"{saved.in_scope_share:.1%}",
            str(s.counts.operators_after), str(s.counts.clusters_after),
            _share(s.coverage.all), _share(s.coverage.rural), _share(cluster),
            _number(None if s.effect is None else s.effect.jobs, ",.0f"))
    return table


def _solve_quality(results: dict[str, Result]) -> str:
    """How far each plan is proven: the status and gap, in one line."""
    parts = []
    for name, r in results.items():
        s = r.facts
        if s.status == "evaluated":
            parts.append(f"{name} evaluated (today, not optimised)")
        elif s.proven_optimal:
            parts.append(f"{name} proven optimal")
        elif s.status == "feasible":
            # Stopped at the gap the scenario asked for: proven that close to the optimum.
            parts.append(f"{name} within {_number(s.mip_gap, '.2%')} of the optimum")
        elif r.has_solution:
            parts.append(f"{name} {s.status}, gap {_number(s.mip_gap, '.2%')} (not proven)")
        else:
            parts.append(f"{name} {s.status}")
    return "; ".join(parts)


def _value_text(raw: object) -> str:
    """A resolved scenario value as a person reads it; long lists counted."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return "not set"
    items = scenario_items(raw)
    if items is not None:
        if not items:
            return "none"
        text = ", ".join(items)
        return text if len(text) <= 30 else f"{len(items)} item" + "s" * (len(items) > 1)
    if isinstance(raw, float):
        return f"{raw:,.0f}" if raw.is_integer() else f"{raw:g}"
    return str(raw)


#: A list of names in the terminal is cut at about this many characters ("and 12 more").
FOLD_CHARS = 150


def _wrapped(head: str, body: str, indent: str = "    ") -> list[str]:
    """``head`` + ``body`` wrapped to the terminal, at most 80 columns (a log or pipe gets
    80 too), continuation lines indented."""
    import textwrap

    width = max(40, min(console.width, 80))
    return textwrap.wrap(f"{head}{body}", width=width, subsequent_indent=indent,
                         break_on_hyphens=False) or [head]


def _folded_inputs(inputs: pd.DataFrame) -> list[str]:
    """One entry per differing key: each distinct value and the options that have it."""
    options = [c for c in inputs.columns if c != "key"]
    lines: list[str] = []
    for row in inputs.to_dict("records"):
        groups: dict[str, list[str]] = {}
        for name in options:
            groups.setdefault(_value_text(row[name]), []).append(name)
        body = "; ".join(f"{value} ({', '.join(names)})" for value, names in groups.items())
        lines += _wrapped(f"  {row['key']}: ", body)
    return lines


def _folded_fates(diff: pd.DataFrame, plans: list[str], yes: str) -> list[str]:
    """Rows grouped by which options keep them, each group's names folded."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for row in diff.to_dict("records"):
        keeping = tuple(p for p in plans if str(row.get(p, "")).endswith(yes))
        added = any(str(row.get(p, "")).startswith("added") for p in plans)
        groups.setdefault(keeping, []).append(str(row["name"]) + (" (added)" if added else ""))
    lines: list[str] = []
    for keeping, names in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        if not keeping:
            who = f"{yes} by none of the options"
        elif len(keeping) == 1:
            who = f"{yes} only by {keeping[0]}"
        else:
            who = f"{yes} by {', '.join(keeping)}"
        lines += _wrapped(f"  {who} ({len(names)}): ", fold(sorted(names), chars=FOLD_CHARS))
    return lines


@app.command()
@_handled
def price(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
          out: Annotated[Path | None, typer.Option(help="Write the table as CSV here.")] = None,
          quiet: QuietOpt = False, wide: WideOpt = False, workers: WorkersOpt = None,
          dask_local: DaskLocalOpt = None, scheduler: SchedulerOpt = None) -> None:
    """What each active policy costs: re-solve with that one policy relaxed.

    Example: klynge-opt price scenarios/paper-2017.toml --out results/price.csv
    """
    from .studies.price import price as run_price

    _check_csv_target(out, scenario, _load_scenario(scenario).data)
    ex = _optional_executor(workers, dask_local, scheduler)
    with _progress("price", quiet) as progress:
        study = run_price(scenario, progress=progress, executor=ex)
    table, base = study.table, study.base
    if base.objective is None:
        err_console.print(f"[red]{escape(base.status)}[/red]: {escape(base.message)} — the "
                          "policies cannot be priced against an infeasible scenario")
        raise typer.Exit(EXIT_INFEASIBLE)
    console.print(Text(f"{base.facts.scenario}: cost {base.objective / 1e6:,.2f} M DKK over "
                       f"the horizon ({base.status}, gap {_number(base.facts.mip_gap, '.2%')})"))
    from .reporting.studies import within_gap

    shown = table[["policy", "status", "price", "price_share", "operators_without"]].copy()
    shown["price"] = shown["price"] / 1e6
    # A price inside what the two solves leave open is no price: it says so.
    shown["price_share"] = [
        "≈ 0, in gap" if within_gap(row) else _share(row["price_share"])
        for row in table.to_dict("records")]
    # Full lists are in the CSV; the terminal counts how many operators change.
    shown["reopen"] = [len(x.split(";")) if x else 0 for x in table["reopened_without"]]
    shown["close"] = [len(x.split(";")) if x else 0 for x in table["closed_without"]]
    if wide:
        shown.insert(1, "relaxed_to", table["relaxed_to"])
    console.print(_frame_table(shown.rename(columns={
        "price": "M DKK", "price_share": "share", "operators_without": "ops"}),
        "Price of each policy: cost with it − cost without it", {"M DKK": ",.2f"}))
    for line in _wrapped("", "ops: operators kept without it; reopen, close: how many "
                         "operators change (names in the CSV)", indent=""):
        console.print(Text(line, style="dim"))
    if out is not None:
        _write_csv(table, out)


@app.command()
@_handled
def sweep(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
          param: Annotated[list[str], typer.Option(
              "--param", help="PATH=START:STOP:STEP or PATH=A,B,C; give one or two.")],
          out: Annotated[Path, typer.Option(help="Output folder.")] = Path("results/sweep"),
          quiet: QuietOpt = False, workers: WorkersOpt = None,
          dask_local: DaskLocalOpt = None, scheduler: SchedulerOpt = None) -> None:
    """Trade-off curves: solve over a range of one or two numeric parameters.

    Example: klynge-opt sweep scenarios/paper-2017.toml --param policy.max_travel_minutes=60:120:15
    """
    from .progress import value_text
    from .studies.sweep import parse_range, plot_sweep
    from .studies.sweep import sweep as run_sweep

    if not 1 <= len(param) <= 2:
        raise _bad_option("--param", "give one or two --param options", len(param))
    params = [parse_range(p) for p in param]
    sc = _load_scenario(scenario)
    _check_csv_target(out / "sweep.csv", scenario, sc.data)
    ex = _optional_executor(workers, dask_local, scheduler)
    with _progress("sweep", quiet) as progress:
        table = run_sweep(sc, params, progress=progress, executor=ex).table
    _write_csv(table, out / "sweep.csv", quiet=True)
    chart = plot_sweep(table, params, out / "sweep.png")
    names = [p for p, _ in params]
    shown = table[[*names, "status", "objective", "operators_after", "coverage_all",
                   "coverage_rural", "travel_mean"]].copy()
    shown["objective"] = shown["objective"] / 1e6
    # Parameters by their last key in the header (the title has the full paths).
    short = {n: n.rsplit(".", 1)[-1] for n in names}
    if len(set(short.values())) < len(short):
        short = {n: n for n in names}
    console.print(_frame_table(shown.rename(columns={
        **short, "objective": "M DKK", "operators_after": "ops", "coverage_all": "served",
        "coverage_rural": "rural", "travel_mean": "travel"}),
        f"Sweep of {', '.join(names)}",
        {"M DKK": ",.2f", "served": ".1%", "rural": ".1%", "travel": ".1f"}))
    for row in table[table["reason"] != ""].to_dict("records"):
        at = ", ".join(f"{short[n]} = {value_text(row[n])}" for n in names)
        for line in _wrapped(f"{at}: ", f"{row['status']}: {row['reason']}"):
            console.print(Text(line))
    for line in _wrapped("written: ", f"{out / 'sweep.csv'}, {chart}"):
        console.print(Text(line))


@app.command()
@_handled
def alternatives(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
                 k: Annotated[int, typer.Option("-k", min=1, help="How many plans.")] = 5,
                 out: Annotated[Path | None, typer.Option(
                     help="Write the table as CSV here.")] = None,
                 quiet: QuietOpt = False) -> None:
    """The k best distinct operator sets, each with its cost gap to the optimum.

    Example: klynge-opt alternatives scenarios/paper-2017.toml -k 5
    """
    from .studies.alternatives import alternatives as run_alternatives

    sc = _load_scenario(scenario)
    _check_csv_target(out, scenario, sc.data)
    with _progress("alternatives", quiet) as progress:
        study = run_alternatives(sc, k, progress=progress)
    table = study.table
    if table.empty:
        err_console.print(f"[red]{escape(str(study.stopped))}[/red]: {escape(study.message)}")
        raise typer.Exit(EXIT_INFEASIBLE)
    shown = table[["rank", "status", "objective", "gap_to_best", "operators_after",
                   "proven"]].copy()
    shown["objective"] = shown["objective"] / 1e6
    shown["gap_to_best"] = [
        "–" if r.rank == 1 else f"{r.gap_to_best:.3%}" + (" ≈" if r.within_solver_gap else "")
        for r in table.itertuples()]
    console.print(_frame_table(shown.rename(columns={
        "objective": "M DKK", "gap_to_best": "vs first", "operators_after": "ops"}),
        f"The {len(table)} best distinct operator sets (cost over the horizon, M DKK)",
        {"M DKK": ",.2f"}))
    # What each plan changes against the first, by name (ids in the CSV).
    names = dict(zip(study.plans[0].operators["operator_id"],
                     study.plans[0].operators["name"], strict=True))
    for r in table.itertuples():
        if r.rank == 1:
            continue
        changes = [("+ " if c.startswith("+") else "− ") + str(names.get(c[1:], c[1:]))
                   for c in r.differs_from_best.split(";") if c]
        for line in _wrapped(f"{r.rank}: ", "; ".join(changes)):
            console.print(Text(line))
    close = table[(table["rank"] > 1) & table["within_solver_gap"]]
    if not close.empty:
        for line in _wrapped("≈ ", f"plan(s) {', '.join(map(str, close['rank']))} cost the same "
                             "as plan 1 within the solvers' proven gaps: the model cannot tell "
                             "them apart, so the choice rests on what it does not price.",
                             indent="  "):
            console.print(Text(line))
    if study.stopped:
        console.print(f"stopped early: {escape(study.message)}")
    if out is not None:
        _write_csv(table, out)


@app.command()
@_handled
def report(results: Annotated[list[Path], typer.Argument(
               help="Result folders (from `solve`) or a comparison folder (from `compare`).",
               metavar="RESULT_DIR...")],
           out: Annotated[Path | None, typer.Option(
               help="The HTML report to write (one self-contained file).")] = None,
           xlsx: Annotated[Path | None, typer.Option(
               help="Also write an Excel workbook with the same tables.")] = None,
           lang: Annotated[str, typer.Option(help="Labels: en or da.")] = "en",
           data: Annotated[Path | None, typer.Option(
               help="Data set of the results (default: the one each result records).")
           ] = None,
           price: Annotated[list[Path] | None, typer.Option(
               "--price", help="A table written by `price --out` (or a folder holding "
                               "price.csv), shown with the result of its scenario; "
                               "repeatable. A price.csv inside a result folder is found "
                               "without it.")] = None,
           alternatives: Annotated[list[Path] | None, typer.Option(
               "--alternatives", help="A table written by `alternatives --out` (or a folder "
                                      "holding alternatives.csv); repeatable, as --price."
           )] = None,
           robustness: Annotated[list[Path] | None, typer.Option(
               "--robustness", help="A folder written by `klynge-opt robustness`, shown with "
                                    "the result of its scenario; repeatable.")] = None,
           batch: Annotated[list[Path] | None, typer.Option(
               "--batch", help="A batch's output folder (or its results.sqlite): its tasks "
                               "as a section and a sheet of their own; repeatable.")] = None,
           ) -> None:
    """A report for a board: map, headline, tables and charts in one offline HTML file, and
    optionally an Excel workbook.

    Example: klynge-opt report results/denmark --out denmark.html --lang da
    """
    from .reporting.html import result_folders, write_report
    from .reporting.studies import read_batches, read_studies
    from .results.result import read_result

    if lang not in ("en", "da"):
        raise _bad_option("--lang", "expected en or da", lang)
    if out is None and xlsx is None:
        raise _bad_option("--out", "give --out (HTML) and/or --xlsx (Excel)", "")
    folders = result_folders(results)
    # Every table is read and matched before anything is written.
    studies = read_studies({"price": price or [], "alternatives": alternatives or [],
                            "robustness": robustness or []}, folders)
    batches = read_batches(batch or [])
    try:
        ds = None
        if data is not None:
            from .data.dataset import load

            ds = load(data)
        if out is not None:
            write_report(folders, out, lang=lang, dataset=ds, studies=studies,
                         batches=batches)
            console.print(f"written: {escape(str(out))} ({out.stat().st_size / 1e6:.1f} MB, "
                          f"{len(folders)} result(s))")
        if xlsx is not None:
            from .reporting.excel import write_workbook

            write_workbook([read_result(f) for f in folders], xlsx, lang=lang, studies=studies,
                           batches=batches)
            console.print(f"written: {escape(str(xlsx))}")
    except (ValueError, OSError) as exc:
        err_console.print(f"[red]cannot report[/red]: {escape(str(exc))}")
        raise typer.Exit(EXIT_INPUT) from None


@app.command()
@_handled
def template(out: Annotated[Path, typer.Option(help="The workbook to write (.xlsx).")],
             example: Annotated[Path | None, typer.Option(
                 help="A data set whose rows fill the template (default: empty sheets).")
             ] = None,
             force: ForceOpt = False) -> None:
    """An input workbook for Excel users: one sheet per table of the data contract, header
    notes, drop-down lists, frozen header rows; it loads with every command's --data.

    Example: klynge-opt template --out my-landscape.xlsx --example data/denmark
    """
    from .data.dataset import load
    from .reporting.template import write_template

    ds = load(example) if example is not None else None
    write_template(out, example=ds, force=force)
    console.print(f"written: {escape(str(out))}")


@app.command()
@_handled
def explain(result_dir: Annotated[Path, typer.Argument(help="A folder written by `solve`.")],
            operator: Annotated[str, typer.Argument(help="The operator_id to explain.")],
            data: Annotated[Path | None, typer.Option(
                help="Data set of the result (default: the one it records).")] = None,
            fmt: FormatOpt = Format.text) -> None:
    """Why is this operator closed (or kept)? Re-solves the plan's scenario with the opposite
    decision and reports what it would cost and change.

    Example: klynge-opt explain results/paper-2017 gate21
    """
    from .data.dataset import load
    from .studies.explain import explain as run_explain
    from .studies.explain import to_dict

    e = run_explain(result_dir, operator, dataset=load(data) if data is not None else None)
    if fmt is Format.json:
        print(json.dumps(to_dict(e), indent=2, default=_json_default))
    else:
        console.print(Text(e.text))


def _optional_executor(workers: int | None, dask_local: int | None,
                       scheduler: str | None) -> Any:
    """A study's executor: in this process (None) unless asked, since a small study does
    not pay for starting workers."""
    if workers is None and dask_local is None and scheduler is None:
        return None
    return _executor(workers, False, dask_local, scheduler)


def _executor(workers: int | None, serial: bool, dask_local: int | None,
              scheduler: str | None) -> Any:
    from .batch.executors import executor

    chosen = [n for n, v in (("--workers", workers), ("--serial", serial or None),
                             ("--dask-local", dask_local), ("--scheduler", scheduler))
              if v is not None]
    if len(chosen) > 1:
        raise _bad_option(chosen[1], f"give one of {', '.join(chosen)}", " ".join(chosen))
    if dask_local is not None or scheduler is not None:
        # Dask's client logs its reconnect attempts with tracebacks; a lost scheduler is
        # reported once, in words, by the executor. (After distributed's import, which sets
        # its loggers' levels from its configuration.)
        import logging

        with contextlib.suppress(ImportError):
            import distributed  # noqa: F401
        for name in ("distributed.client", "distributed.utils", "distributed.core"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    return executor(workers=workers, serial=serial, dask_local=dask_local, scheduler=scheduler)


@app.command()
@_handled
def batch(file: Annotated[Path, typer.Argument(help="Batch TOML file (docs/batch.md).")],
          out: Annotated[Path | None, typer.Option(
              help="Output folder holding results.sqlite (default: results/<batch name>); "
                   "an earlier run of the same batch there is resumed.")] = None,
          workers: WorkersOpt = None, serial: SerialOpt = False,
          dask_local: DaskLocalOpt = None, scheduler: SchedulerOpt = None,
          retry_failed: RetryOpt = False, quiet: QuietOpt = False,
          force: ForceOpt = False) -> None:
    """Run a batch of solves (scenarios x a parameter grid x seeds) into a resumable store.

    Killed and started again, it does only the tasks not finished.

    Example: klynge-opt batch benchmarks/reform-variants.toml --workers 2
    """
    from .studies.batchfile import load_batch, run_batch_file

    spec, _tasks, _data = load_batch(file)  # every problem before a worker starts
    ex = _executor(workers, serial, dask_local, scheduler)
    try:
        with _progress(f"batch {spec.name}", quiet) as progress:
            spec, run, store = run_batch_file(file, out, executor=ex,
                                              retry_failed=retry_failed, progress=progress,
                                              force=force)
    except KeyboardInterrupt:
        err_console.print(Text("interrupted: every finished task is stored; run the same "
                               "command again to do the rest"))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    console.print(Text(
        f"{spec.name}: {run.total} tasks; {run.reused} already in the store, {run.ran} run "
        f"now on {run.executor} ({run.workers} worker{'s' * (run.workers != 1)}) in "
        f"{run.seconds:,.1f} s" + (f"; {run.failed} failed (see `klynge-opt results "
                                   f"{store.parent} --status failed`)" if run.failed else "")))
    console.print(Text(f"store: {store}"))
    if run.failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
@_handled
def robustness(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
               samples: Annotated[int | None, typer.Option(
                   "--samples", min=1, help="Samples (default: the scenario's "
                                            "[uncertainty] samples, else 100).")] = None,
               perturb: Annotated[list[str] | None, typer.Option(
                   "--perturb", help="WHAT[@SELECTOR]=SPREAD, e.g. "
                                     "operators.capacity@vaeksthus=0.3; repeatable; replaces "
                                     "the scenario's [uncertainty] perturbations.")] = None,
               seed: Annotated[int | None, typer.Option(
                   min=0, help="Random seed (default: the scenario's, else 0).")] = None,
               out: Annotated[Path | None, typer.Option(
                   help="Output folder (default: results/robustness-<scenario>); an earlier "
                        "run of the same study there is resumed.")] = None,
               workers: WorkersOpt = None, serial: SerialOpt = False,
               dask_local: DaskLocalOpt = None, scheduler: SchedulerOpt = None,
               retry_failed: RetryOpt = False, quiet: QuietOpt = False,
               force: ForceOpt = False) -> None:
    """Which conclusions survive the uncertain inputs? Re-optimise N perturbed samples and
    evaluate the nominal plan under each.

    Example: klynge-opt robustness scenarios/paper-2017.toml --samples 200
    --perturb operators.capacity@vaeksthus=0.3 --perturb operators.annual_cost=0.3
    """
    from .api import load_inputs
    from .studies.robustness import parse_perturbation, write_study
    from .studies.robustness import robustness as run_robustness

    sc, ds = load_inputs(None, scenario)
    unc = sc.uncertainty
    found = [parse_perturbation(p) for p in perturb] if perturb else list(unc.perturb)
    folder = out or Path("results") / f"robustness-{sc.name}"
    ex = _executor(workers, serial, dask_local, scheduler)
    try:
        with _progress(f"robustness {sc.name}", quiet) as progress:
            study = run_robustness(sc, ds, found, samples=samples or unc.samples,
                                   seed=unc.seed if seed is None else seed, out=folder,
                                   executor=ex, progress=progress,
                                   retry_failed=retry_failed, force=force)
    except KeyboardInterrupt:
        err_console.print(Text("interrupted: every finished sample is stored; run the same "
                               "command again to do the rest"))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    files = write_study(study, folder)
    run = study.run
    if run is not None:
        console.print(Text(f"{sc.name}: {len(study.samples)} samples x 2 solves; "
                           f"{run.reused} already in the store, {run.ran} run now in "
                           f"{run.seconds:,.1f} s on {run.executor}"))
    for line in study.verdict:
        for part in _wrapped("- ", line, indent="  "):
            console.print(Text(part))
    for line in _wrapped("written: ", ", ".join(str(p) for p in files.values())):
        console.print(Text(line))


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@app.command()
@_handled
def results(folder: Annotated[Path, typer.Argument(
                help="A batch's output folder (or its results.sqlite).")],
            status: Annotated[str | None, typer.Option(help="Only tasks with this status.")
                              ] = None,
            scenario: Annotated[str | None, typer.Option(
                help="Only tasks of this scenario.")] = None,
            kind: Annotated[str | None, typer.Option(
                help="Only tasks of this kind (solve, sample, nominal).")] = None,
            export: Annotated[Path | None, typer.Option(
                help="Write the (filtered) rows to a .csv or .parquet file.")] = None,
            wide: WideOpt = False) -> None:
    """List, filter and export a batch's stored results.

    Example: klynge-opt results results/reform-variants --status optimal --export out.csv
    """
    from .batch.store import existing

    where = {k: v for k, v in (("status", status), ("scenario", scenario), ("kind", kind))
             if v is not None}
    with existing(folder) as store:
        path = store.path
        frame = store.frame(where)
    if export is not None:
        from .fsio import atomic_file, guard_file, write_csv

        guard_file(export, protected=[path])
        table = frame.copy()
        for col in ("params", "kept", "selected"):
            table[col] = [json.dumps(v, sort_keys=True) for v in table[col]]
        if export.suffix.lower() == ".parquet":
            with atomic_file(export) as tmp:
                table.to_parquet(tmp, index=False)
        elif export.suffix.lower() == ".csv":
            write_csv(export, table)
        else:
            raise _bad_option("--export", "expected a file ending in .csv or .parquet", export)
    counts = frame["status"].value_counts().to_dict() if not frame.empty else {}
    console.print(Text(f"{path}: {len(frame)} task(s)" + (
        " — " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) if counts else "")))
    if not frame.empty:
        shown = _results_table(frame, wide)
        console.print(_frame_table(shown, "Tasks", {"M DKK": ",.2f", "gap": ".2%",
                                                    "seconds": ",.1f"}))
    if export is not None:
        console.print(Text(f"written: {export}"))


def _results_table(frame: pd.DataFrame, wide: bool) -> pd.DataFrame:
    """The stored rows as the terminal shows them: who, status, cost, size, gap, time."""
    import pandas as pd

    shown = frame.assign(
        task=[f"{s}" + ("" if n is None or n is pd.NA else f" #{int(n)}")
              + ("".join(f" {k}={v}" for k, v in p.items()) if p else "")
              for s, n, p in zip(frame["scenario"], frame["sample"], frame["params"],
                                 strict=True)],
        **{"M DKK": frame["objective"] / 1e6})
    cols = ["task", "status", "M DKK", "operators_after", "mip_gap", "seconds"]
    if wide:
        cols += ["kind", "coverage_all", "jobs", "worker", "message", "key"]
    return shown[cols].rename(columns={"operators_after": "ops", "mip_gap": "gap"})


generate_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                           help="Make data sets: the Danish firms, or synthetic landscapes.")
app.add_typer(generate_app, name="generate")


class DataFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    xlsx = "xlsx"


@generate_app.command("denmark")
@_handled
def generate_denmark(
        base: Annotated[Path | None, typer.Option(
            help="Folder with the Danish geography: regions, municipalities, strongholds, "
                 "links (default: the embedded Danish data set).")] = None,
        sources: Annotated[Path | None, typer.Option(
            help="Folder with the curated organisations, clusters and kinds (default: "
                 "data/sources/denmark).")] = None,
        out: Annotated[Path | None, typer.Option(
            help="Output folder (default: a new folder "
                 "generated/denmark-<firms>-firms-seed-<seed>).")] = None,
        firms: Annotated[int, typer.Option(min=1, help="Cluster member firms.")] = 12_000,
        smes: Annotated[int, typer.Option(
            min=0, help="Rows of the wider SME sample (each row stands for 5 firms).")] = 24_000,
        seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 2017,
        force: Annotated[bool, typer.Option(
            "--force", help="Replace an existing data set at --out (e.g. --out = --base).")
        ] = False) -> None:
    """Build the Danish data set from its curated sources: local services, firms,
    memberships, capacities and costs by the rules in data/denmark/README.md.

    Example: klynge-opt generate denmark --out data/denmark --force   (the embedded set)
    """
    from .data.loading import write_tables
    from .denmark import SOURCES, build_denmark

    target = out or Path("generated") / f"denmark-{firms}-firms-seed-{seed}"
    built = build_denmark(sources or SOURCES, base, members=firms, smes=smes, seed=seed)
    tables = built.tables
    target = write_tables(tables, target, force=force)
    console.print(f"wrote {len(tables['operators']):,} operators, "
                  f"{len(tables['clusters']):,} clusters, {len(tables['firms']):,} firms and "
                  f"{len(tables['memberships']):,} memberships (seed {seed}) to "
                  f"{escape(str(target))}/")


@generate_app.command("synthetic")
@_handled
def generate_synthetic(
        out: Annotated[Path, typer.Option(help="Output folder or .xlsx file.")],
        regions: Annotated[int, typer.Option(min=1, help="Regions.")] = 5,
        municipalities: Annotated[int, typer.Option(
            min=1, help="Municipalities (at least one per region).")] = 100,
        strongholds: Annotated[int, typer.Option(min=1, help="Industry strongholds.")] = 10,
        operators: Annotated[int, typer.Option(
            min=1, help="Operators (at least one per region).")] = 80,
        clusters: Annotated[int, typer.Option(min=1, help="Clusters.")] = 45,
        firms: Annotated[int, typer.Option(min=1, help="Member firms.")] = 12_000,
        seed: Annotated[int, typer.Option(
            min=0, help="Random seed: equal arguments give identical tables.")] = 1,
        fmt: Annotated[DataFormat | None, typer.Option(
            "--format", help="Default: xlsx for a path ending in .xlsx, else csv.")] = None,
        force: Annotated[bool, typer.Option(
            "--force", help="Replace an existing data set at --out.")] = False,
) -> None:
    """A synthetic landscape of any size, valid under the data contract.

    Example: klynge-opt generate synthetic --out /tmp/big --firms 1000000
    """
    from .data.generator import synthetic_tables
    from .data.loading import write_tables

    if municipalities < regions:
        raise _bad_option("--municipalities", f"need at least one municipality per region "
                          f"({regions} regions)", municipalities)
    if operators < regions:
        raise _bad_option("--operators", f"need at least one operator per region ({regions} "
                          "regions)", operators)
    tables = synthetic_tables(regions=regions, municipalities=municipalities,
                              strongholds=strongholds, operators=operators, clusters=clusters,
                              firms=firms, seed=seed)
    target = write_tables(tables, out, fmt=None if fmt is None else fmt.value, force=force)
    console.print(f"wrote a synthetic landscape ({firms:,} firms, {operators} operators, "
                  f"{clusters} clusters) to {escape(str(target))}")


def _check_csv_target(path: Path | None, *protected: str | Path | None) -> None:
    """Refuse an output file in what the run reads, before spending time on solves."""
    from .fsio import guard_file

    if path is not None:
        guard_file(path, protected=protected)


@contextlib.contextmanager
def _progress(what: str, quiet: bool = False) -> Iterator[Progress | None]:
    """A :data:`~klynge_opt.progress.Progress` for long work: on a terminal, a rich bar with
    the step of steps, failures so far, the solve running now, its current gap, elapsed and
    time left; nothing with ``--quiet`` or when stderr is not a terminal (scripts, logs, CI)."""
    if quiet or not err_console.is_terminal:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # Labels are scenario names and parameter values from files: never rich markup.
    with Progress(TextColumn(what), TextColumn("{task.fields[current]}", markup=False),
                  BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[failed]}"),
                  TextColumn("{task.fields[gap]}"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as bar:
        task = bar.add_task(what, total=None, current="", gap="", failed="")

        def show(event: Event) -> None:
            if isinstance(event, Step):
                bar.update(task, completed=event.done, total=event.total,
                           current=event.label, gap="",
                           failed=f"{event.failed} failed" if event.failed else "")
            elif isinstance(event, Gap):
                bar.update(task, gap="" if event.gap is None else f"gap {event.gap:.2%}")

        yield show


def _write_csv(table: pd.DataFrame, path: Path, *, quiet: bool = False) -> None:
    from .fsio import write_csv

    write_csv(path, table)
    if not quiet:
        console.print(f"written to {escape(str(path))}")


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM ends a run the way Ctrl-C does: staging folders are removed, results untouched.
    raise KeyboardInterrupt


def main() -> None:
    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except InputError as exc:  # pragma: no cover - commands handle their own
        err_console.print(escape(exc.report()))
        sys.exit(EXIT_INPUT)
    except BrokenPipeError:
        # The reader went away (`klynge-opt info | head`): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
