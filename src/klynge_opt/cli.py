"""Command line: parses arguments, calls the Python API, prints. No logic of its own.

Exit codes: 0 success, 2 bad input (data or scenario), 3 infeasible scenario.
"""

from __future__ import annotations

import json
import math
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import dataset as dataset_api
from .landscape import build_landscape, summarise
from .problems import InputError, Problem, errors, warnings
from .results import Result, clean_json, write_result
from .scenario import load_scenario

EXIT_INPUT = 2
EXIT_INFEASIBLE = 3

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True,
                  help="klynge-opt: design a consolidated business-promotion system.")
# Wide when piped: rich would otherwise squeeze tables to 80 columns in logs and CI.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False)


class Format(StrEnum):
    text = "text"
    json = "json"


DatasetArg = Annotated[Path, typer.Argument(
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
        err_console.print(f"[red]{exc}[/red]")
        _print_problems(exc.problems, err_console)
    raise typer.Exit(EXIT_INPUT)


def _frame_table(frame: pd.DataFrame, title: str, formats: dict[str, str] | None = None,
                 ) -> Table:
    formats = formats or {}
    table = Table(title=title, title_justify="left", show_edge=False, pad_edge=False)
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            if isinstance(value, float):
                if math.isnan(value):
                    cells.append("–")
                    continue
                if math.isinf(value):
                    cells.append("∞")
                    continue
            fmt = formats.get(str(col))
            cells.append(format(value, fmt) if fmt else str(value))
        table.add_row(*cells)
    return table


@app.command()
def validate(data: DatasetArg = dataset_api.DENMARK, fmt: FormatOpt = Format.text) -> None:
    """Check a data set against the data contract; list every problem at once."""
    ds, problems = dataset_api.inspect(data)
    n_err, n_warn = len(errors(problems)), len(warnings(problems))
    if fmt is Format.json:
        print(json.dumps({"ok": ds is not None, "data": str(data), "errors": n_err,
                          "warnings": n_warn, "problems": [p.to_dict() for p in problems]},
                         indent=2))
    else:
        _print_problems(problems, console)
        verdict = "[green]valid[/green]" if ds is not None else "[red]invalid[/red]"
        console.print(f"{data}: {verdict} — {n_err} errors, {n_warn} warnings")
    if ds is None:
        raise typer.Exit(EXIT_INPUT)


@app.command()
def info(data: DatasetArg = dataset_api.DENMARK, fmt: FormatOpt = Format.text,
         radius: Annotated[float, typer.Option(
             help="List demand groups whose nearest competent operator is farther "
                  "than this many minutes.")] = 60.0) -> None:
    """The landscape at a glance: counts, overlap, fragmentation, far-off places."""
    try:
        ds = dataset_api.load(data)
    except InputError as exc:
        _fail_input(exc, fmt)
    summary = summarise(build_landscape(ds), radius_minutes=radius)
    if fmt is Format.json:
        # Unlimited capacity is infinite: JSON has no Infinity, so it becomes null.
        print(json.dumps(clean_json(summary.to_dict()), indent=2, default=_json_default,
                         allow_nan=False))
        return
    t = summary.totals
    console.print(f"[bold]{data}[/bold]: {t['regions']} regions, {t['municipalities']} "
                  f"municipalities ({t['rural_municipalities']} rural), {t['strongholds']} "
                  f"strongholds, {t['operators']} operators, {t['clusters']} clusters, "
                  f"{t['firms']:,.0f} firms in {t['demand_groups']} demand groups")
    console.print(f"Rural share of firms {t['rural_firm_share']:.1%}; firms in several "
                  f"clusters {t['firms_in_several_clusters_share']:.1%}; on average "
                  f"{t['clusters_per_stronghold_mean']:.1f} clusters and "
                  f"{t['operators_per_stronghold_mean']:.1f} competent operators per "
                  "stronghold.\n")
    console.print(_frame_table(summary.regions, "Regions", {
        "population": ",.0f", "firms": ",.0f", "rural_firm_share": ".1%"}))
    console.print()
    console.print(_frame_table(summary.strongholds, "Strongholds (overlap: operators and "
                               "clusters per stronghold)", {
        "skill_shortage_2025": ",.0f", "firms": ",.0f", "competent_capacity": ",.0f"}))
    console.print()
    console.print(_frame_table(summary.fragmentation, "Membership fragmentation",
                               {"firms": ",.0f", "share": ".1%"}))
    console.print()
    far = summary.far_places
    if far.empty:
        console.print(f"Every demand group has a competent operator within {radius:g} minutes.")
    else:
        console.print(_frame_table(far.head(25), f"{len(far)} demand groups with no competent "
                                   f"operator within {radius:g} minutes (farthest first)",
                                   {"weight": ",.0f", "nearest_minutes": ".0f"}))


#: The bundled combined reform: what `klynge-opt solve` runs without a scenario.
DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "reform.toml"

ScenarioArg = Annotated[Path | None, typer.Argument(
    help="Scenario TOML file (default: the bundled reform on the embedded Danish data).")]


def _money(value: float | None) -> str:
    return "–" if value is None else f"{value / 1e6:,.2f} M"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _print_result(result: Result) -> None:
    s = result.summary
    if not result.has_solution:
        if result.diagnosis is not None:
            err_console.print(f"[red]{s['status']}[/red]")
            err_console.print(escape(result.diagnosis.explain()))
        else:
            err_console.print(f"[red]{s['status']}[/red]: {escape(result.message)}")
        return
    if s["status"] == "evaluated":
        flag = "[cyan]status quo, evaluated (not optimised)[/cyan]"
    elif s["proven_optimal"]:
        flag = f"[green]optimal[/green] (proven, gap {s['mip_gap']:.4%})"
    else:
        gap = "unknown" if s["mip_gap"] is None else f"{s['mip_gap']:.3%}"
        flag = f"[yellow]{s['status']} — NOT proven optimal, gap {gap}[/yellow]"
    console.print(f"[bold]{s['scenario']}[/bold]: {flag}; total cost {_money(s['objective'])} "
                  f"DKK over the horizon (status quo {_money(s['status_quo']['objective'])}, "
                  f"savings {_money(s['savings']['total'])} = {_share(s['savings']['share'])})")
    c = s["counts"]
    console.print(f"operators {c['operators_before']} → {c['operators_after']}, clusters "
                  f"{c['clusters_before']} → {c['clusters_after']}; coverage all "
                  f"{_share(s['coverage']['all'])}, rural {_share(s['coverage']['rural'])}, "
                  f"urban {_share(s['coverage']['urban'])}; travel mean "
                  f"{s['travel_minutes']['mean']:.1f} min, max {s['travel_minutes']['max']:.0f} "
                  f"min; firms moved {s['firms_moved']:,.0f}")
    terms = pd.DataFrame({
        "term": list(s["objective_terms"]),
        "plan_MDKK": [v / 1e6 for v in s["objective_terms"].values()],
        "status_quo_MDKK": [v / 1e6 for v in s["status_quo"]["objective_terms"].values()],
    })
    console.print(_frame_table(terms, "Cost terms over the horizon",
                               {"plan_MDKK": ",.2f", "status_quo_MDKK": ",.2f"}))
    if s["status"] != "evaluated":
        kept = result.operators[result.operators["kept"]].sort_values(
            ["region_id", "firms_served"], ascending=[True, False])
        console.print(_frame_table(
            kept[["operator_id", "name", "region_id", "hosts", "serves", "firms_served",
                  "utilisation"]],
            f"Retained operators ({len(kept)})", {"firms_served": ",.0f",
                                                  "utilisation": ".0%"}))
    t = s["timings"]
    console.print(f"time: load {t['load']:.2f} s, build {t['build']:.2f} s, solve "
                  f"{t['solve']:.2f} s, extract {t['extract']:.2f} s")
    check = s.get("check")
    if check is not None:
        if check["ok"]:
            console.print("independent check: [green]all constraints and cost terms verified"
                          "[/green]")
        else:
            err_console.print(f"[red]independent check found {len(check['violations'])} "
                              "violations[/red]:")
            for v in check["violations"][:20]:
                err_console.print(escape(f"  {v['constraint']} at {v['where']}: {v['message']}"))


@app.command()
def solve(scenario: ScenarioArg = None,
          data: Annotated[Path | None, typer.Option(
              help="Data set to use instead of the scenario's `data`.")] = None,
          out: Annotated[Path | None, typer.Option(
              help="Output folder (default: results/<scenario name>).")] = None,
          tee: Annotated[bool, typer.Option("--log", help="Show the HiGHS log.")] = False,
          diagnose: Annotated[bool, typer.Option(
              help="Explain an infeasible scenario and suggest verified relaxations.")] = True,
          ) -> None:
    """Solve a scenario: choose the operators and clusters to keep at least cost."""
    from .api import solve as api_solve

    try:
        if scenario is None and DEFAULT_SCENARIO.exists():
            scenario = DEFAULT_SCENARIO
        sc = load_scenario(scenario) if scenario is not None else None
        result = api_solve(data, sc, tee=tee, diagnose=diagnose)
    except InputError as exc:
        _fail_input(exc)
    target = out or Path("results") / result.summary.get("scenario", "unnamed")
    write_result(result, target)
    _print_result(result)
    console.print(f"written to {target}/")
    if result.status == "infeasible":
        raise typer.Exit(EXIT_INFEASIBLE)
    if result.status == "error" or (result.summary.get("check") or {}).get("ok") is False:
        raise typer.Exit(1)


@app.command()
def check(result_dir: Annotated[Path, typer.Argument(help="A folder written by `solve`.")],
          data: Annotated[Path | None, typer.Option(
              help="Data set to check against (default: the one recorded in the result).")
          ] = None,
          fmt: FormatOpt = Format.text) -> None:
    """Recompute every constraint and cost term of a result from the raw data."""
    from .check import check_dir

    summary_file = result_dir / "summary.json"
    if summary_file.exists():
        status = json.loads(summary_file.read_text(encoding="utf-8")).get("status")
        if status == "evaluated":
            console.print(f"{result_dir}: a status-quo evaluation imposes no constraints; "
                          "nothing to check")
            return
    try:
        ds = dataset_api.load(data) if data is not None else None
        report = check_dir(result_dir, dataset=ds)
    except InputError as exc:
        _fail_input(exc, fmt)
    except (ValueError, OSError) as exc:
        err_console.print(f"[red]cannot check {escape(str(result_dir))}[/red]: "
                          f"{escape(str(exc))}")
        raise typer.Exit(EXIT_INPUT) from None
    if fmt is Format.json:
        print(json.dumps(report.to_dict(), indent=2, default=_json_default))
    elif report.ok:
        console.print(f"{result_dir}: [green]OK[/green] — every constraint holds; objective "
                      f"{report.objective:,.2f} recomputed from the raw data matches")
    else:
        for v in report.violations:
            console.print(f"[red]{v.constraint}[/red] " + escape(f"at {v.where}: {v.message}"))
        console.print(f"{result_dir}: [red]{len(report.violations)} violations[/red]")
    if not report.ok:
        raise typer.Exit(1)


scenario_app = typer.Typer(no_args_is_help=True, help="Inspect scenario files.")
app.add_typer(scenario_app, name="scenario")


@scenario_app.command("show")
def scenario_show(file: Annotated[Path, typer.Argument(help="Scenario TOML file.")]) -> None:
    """Print the fully resolved scenario (inheritance and defaults applied) as TOML."""
    import tomli_w

    try:
        sc = load_scenario(file)
    except InputError as exc:
        _fail_input(exc)
    if sc.extends:
        print(f"# {file}, resolved (inherits from {sc.extends})")
    print(tomli_w.dumps(sc.to_toml_dict()), end="")


ScenariosArg = Annotated[list[Path], typer.Argument(help="Scenario TOML files.")]


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
def compare(scenarios: ScenariosArg,
            out: Annotated[Path, typer.Option(help="Output folder.")] = Path("results/compare"),
            reuse: Annotated[bool, typer.Option(
                help="Reuse results on disk for identical scenario and data.")] = True) -> None:
    """Solve several scenarios and show them side by side: costs, inputs and decisions."""
    from .compare import compare as run_compare
    from .compare import write_comparison

    def progress(name: str, what: str) -> None:
        err_console.print(f"{name}: {what}")

    try:
        cmp = run_compare(scenarios, out, reuse=reuse, progress=progress)
    except InputError as exc:
        _fail_input(exc)
    files = write_comparison(cmp, out)
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
    console.print("written: " + ", ".join(str(p) for p in files.values()))
    if any(r.status in ("infeasible", "error") for r in cmp.results.values()):
        raise typer.Exit(EXIT_INFEASIBLE)


@app.command()
def price(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
          out: Annotated[Path | None, typer.Option(help="Write the table as CSV here.")] = None,
          ) -> None:
    """What each active policy costs: re-solve with that one policy relaxed."""
    from .price import price as run_price

    try:
        table, base = run_price(scenario, progress=lambda p: err_console.print(
            f"relaxing: {p}"))
    except InputError as exc:
        _fail_input(exc)
    if base.objective is None:
        err_console.print(f"[red]{base.status}[/red]: {escape(base.message)} — the policies "
                          "cannot be priced against an infeasible scenario")
        raise typer.Exit(EXIT_INFEASIBLE)
    console.print(f"{base.summary['scenario']}: optimal cost {base.objective / 1e6:,.2f} M DKK "
                  f"over the horizon ({base.status})")
    shown = table[["policy", "relaxed_to", "status", "price", "price_share",
                   "operators_with", "operators_without"]].copy()
    shown["price"] = shown["price"] / 1e6
    # Full lists are in the CSV; the terminal shows how many operators change.
    shown["reopen"] = [len(x.split(";")) if x else 0 for x in table["reopened_without"]]
    shown["close"] = [len(x.split(";")) if x else 0 for x in table["closed_without"]]
    console.print(_frame_table(shown.rename(columns={"price": "price_MDKK"}),
                               "Price of each policy (cost with it − cost without it)",
                               {"price_MDKK": ",.2f", "price_share": ".2%"}))
    if out is not None:
        _write_csv(table, out)


@app.command()
def sweep(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
          param: Annotated[list[str], typer.Option(
              "--param", help="PATH=START:STOP:STEP or PATH=A,B,C; give one or two.")],
          out: Annotated[Path, typer.Option(help="Output folder.")] = Path("results/sweep"),
          ) -> None:
    """Trade-off curves: solve over a range of one or two numeric parameters."""
    from .sweep import parse_range, plot_sweep
    from .sweep import sweep as run_sweep

    if not 1 <= len(param) <= 2:
        err_console.print("[red]give one or two --param options[/red]")
        raise typer.Exit(EXIT_INPUT)
    try:
        params = [parse_range(p) for p in param]
        sc = load_scenario(scenario)
        table = run_sweep(None, sc, params, progress=lambda done, total: err_console.print(
            f"point {done}/{total}"))
    except InputError as exc:
        _fail_input(exc)
    _write_csv(table, out / "sweep.csv", quiet=True)
    chart = plot_sweep(table, params, out / "sweep.png")
    names = [p for p, _ in params]
    shown = table[[*names, "status", "objective", "operators_after", "coverage_all",
                   "coverage_rural", "travel_mean"]].copy()
    shown["objective"] = shown["objective"] / 1e6
    console.print(_frame_table(shown.rename(columns={"objective": "cost_MDKK"}),
                               f"Sweep of {', '.join(names)}",
                               {"cost_MDKK": ",.2f", "coverage_all": ".1%",
                                "coverage_rural": ".1%", "travel_mean": ".1f"}))
    console.print(f"written: {out / 'sweep.csv'}, {chart}")


@app.command()
def alternatives(scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
                 k: Annotated[int, typer.Option("-k", min=1, help="How many plans.")] = 5,
                 out: Annotated[Path | None, typer.Option(
                     help="Write the table as CSV here.")] = None) -> None:
    """The k best distinct operator sets, each with its cost gap to the optimum."""
    from .alternatives import alternatives as run_alternatives

    try:
        table, _ = run_alternatives(None, load_scenario(scenario), k)
    except InputError as exc:
        _fail_input(exc)
    if table.empty:
        err_console.print(f"[red]{table.attrs.get('stopped')}[/red]: "
                          f"{escape(str(table.attrs.get('message', '')))}")
        raise typer.Exit(EXIT_INFEASIBLE)
    shown = table[["rank", "status", "objective", "gap_to_best", "operators_after",
                   "differs_from_best", "proven"]].copy()
    shown["objective"] = shown["objective"] / 1e6
    console.print(_frame_table(shown.rename(columns={"objective": "cost_MDKK"}),
                               f"The {len(table)} best distinct operator sets",
                               {"cost_MDKK": ",.3f", "gap_to_best": ".3%"}))
    if table.attrs.get("stopped"):
        console.print(f"stopped early: {escape(str(table.attrs.get('message', '')))}")
    if out is not None:
        _write_csv(table, out)


generate_app = typer.Typer(no_args_is_help=True,
                           help="Make data sets: the Danish firms, or synthetic landscapes.")
app.add_typer(generate_app, name="generate")


@generate_app.command("denmark")
def generate_denmark(
        base: Annotated[Path, typer.Option(
            help="Folder with the curated Danish tables.")] = dataset_api.DENMARK,
        out: Annotated[Path | None, typer.Option(help="Output folder (default: --base).")] = None,
        firms: Annotated[int, typer.Option(min=1, help="Number of firms.")] = 12_000,
        seed: Annotated[int, typer.Option(help="Random seed.")] = 2017) -> None:
    """(Re)generate the synthetic firms and memberships of the embedded Danish data set."""
    from .generator import generate_firms
    from .loading import write_tables

    try:
        tables = dataset_api.load_partial(base)
    except InputError as exc:
        _fail_input(exc)
    tables.update(generate_firms(tables, n_firms=firms, seed=seed))
    target = write_tables(tables, out or base)
    console.print(f"wrote {firms:,} firms and {len(tables['memberships']):,} memberships "
                  f"(seed {seed}) to {target}/")


@generate_app.command("synthetic")
def generate_synthetic(
        out: Annotated[Path, typer.Option(help="Output folder or .xlsx file.")],
        regions: int = 5, municipalities: int = 100, strongholds: int = 10,
        operators: int = 80, clusters: int = 45, firms: int = 12_000, seed: int = 1,
        fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xlsx")] = "csv",
) -> None:
    """A synthetic landscape of any size, valid under the data contract."""
    from .generator import synthetic_tables
    from .loading import write_tables

    tables = synthetic_tables(regions=regions, municipalities=municipalities,
                              strongholds=strongholds, operators=operators, clusters=clusters,
                              firms=firms, seed=seed)
    target = write_tables(tables, out, fmt=fmt)
    console.print(f"wrote a synthetic landscape ({firms:,} firms, {operators} operators, "
                  f"{clusters} clusters) to {target}")


def _write_csv(table: pd.DataFrame, path: Path, *, quiet: bool = False) -> None:
    """Write under a temporary name and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    if not quiet:
        console.print(f"written to {path}")


def _json_default(value: object) -> object:
    if hasattr(value, "item"):
        return value.item()  # numpy scalars
    return str(value)


def main() -> None:
    try:
        app()
    except InputError as exc:  # pragma: no cover - commands handle their own
        err_console.print(exc.report())
        sys.exit(EXIT_INPUT)


if __name__ == "__main__":
    main()
