"""`pilotgate eval runs | report RUN | compare A B | bless RUN` over stored eval runs.

`eval run` (the runner) is not here yet: it says so and exits 2 rather than pretending.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console, err_console
from pilotgate.errors import UsageError
from pilotgate.evals.compare import Comparison, compare
from pilotgate.evals.metrics import Metrics, run_metrics
from pilotgate.evals.reports import FORMATS, comparison_markdown, render
from pilotgate.evals.runs import StoredRun, bless, list_runs, load_run
from pilotgate.workspace import open_workspace

eval_app = typer.Typer(name="eval", help="Inspect, report and compare eval runs.", no_args_is_help=True)

RunArg = Annotated[str, typer.Argument(help="An eval run id.", show_default=False)]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


@eval_app.command("run")
def run_(pilot: PilotOption = None, db: DbOption = None) -> None:
    """Run the eval packs (not available yet)."""
    raise UsageError(
        "`pilotgate eval run` is not available yet: the eval runner is still being built",
        hint="runs recorded through pilotgate.evals.runs can already be reported, compared and gated",
    )


@eval_app.command("runs")
def runs(
    release: Annotated[str | None, typer.Option("--release", "-r", help="Only this release's runs.")] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """The pilot's eval runs, newest first."""
    workspace = open_workspace(pilot, db)
    try:
        ids = list_runs(workspace.store, workspace.name, release=release)
        loaded = [load_run(workspace.store, run_id) for run_id in ids]
    finally:
        workspace.close()
    if not loaded:
        console.print("no eval runs yet")
        return
    for run in loaded:
        overall = run_metrics(run).overall
        blessed = f"  blessed by {escape(run.blessed_by)}" if run.blessed_by else ""
        console.print(
            f"{run.id}  {run.release or '–'}  {run.state:8}  {overall.passed}/{overall.cases} "
            f"({_pct(overall.pass_rate)})  [dim]{run.created_at}[/]{blessed}"
        )


@eval_app.command("report")
def report(
    run_id: RunArg,
    fmt: Annotated[
        str | None, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}; default a table.")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report here.")] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """A run's report: a table in the terminal, or JSON, JUnit XML or Markdown."""
    workspace = open_workspace(pilot, db)
    try:
        run = load_run(workspace.store, run_id)
    finally:
        workspace.close()
    if fmt is None:
        if output is not None:
            raise UsageError("--output needs --format", hint=f"one of {', '.join(FORMATS)}")
        print_run(run)
        return
    text = render(run, fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        err_console.print(f"wrote {fmt} report of {run.id} to {output}")


def print_run(run: StoredRun) -> None:
    """The terminal table: one row per category and a total, then the failing cases."""
    metrics = run_metrics(run)
    table = Table(title=f"{run.id}  release {run.release or '–'}  {run.state}", show_edge=False)
    for column in ("category", "passed", "pass rate", "p50 ms", "p95 ms", "cost/case"):
        table.add_column(column, justify="left" if column == "category" else "right")

    def row(name: str, m: Metrics) -> None:
        cost = "–" if m.cost_per_case is None else str(m.cost_per_case)
        colour = "green" if m.cases and m.passed == m.cases else "red"
        passed = f"[{colour}]{m.passed}/{m.cases}[/]"
        table.add_row(name, passed, _pct(m.pass_rate), _ms(m.latency_p50), _ms(m.latency_p95), cost)

    for name, m in sorted(metrics.categories.items()):
        row(name, m)
    row("[bold]all[/]", metrics.overall)
    console.print(table)
    for cid in metrics.overall.failing_cases:
        console.print(f"[red]FAIL[/] {escape(cid)} ({run.cases[cid].category})")


@eval_app.command("compare")
def compare_(
    run_a: Annotated[str, typer.Argument(help="The baseline run.", show_default=False)],
    run_b: Annotated[str, typer.Argument(help="The candidate run.", show_default=False)],
    markdown: Annotated[bool, typer.Option("--markdown", help="Print Markdown (a PR comment).")] = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Run B against run A, case by case: better, worse, flaky, pass^k, and whether it is noise."""
    workspace = open_workspace(pilot, db)
    try:
        result = compare(load_run(workspace.store, run_a), load_run(workspace.store, run_b))
    finally:
        workspace.close()
    if markdown:
        typer.echo(comparison_markdown(result), nl=False)
    else:
        print_comparison(result)


def print_comparison(result: Comparison) -> None:
    """Changed and flaky cases, then the counts and the significance test."""
    colours = {"better": "green", "worse": "red", "added": "cyan", "removed": "yellow"}
    for case in result.cases:
        flaky = case.flaky_before or case.flaky_after
        if case.change == "unchanged" and not flaky:
            continue
        colour = colours.get(case.change, "white")
        note = "  [magenta]flaky[/]" if flaky else ""
        console.print(
            f"[{colour}]{case.change:9}[/] {escape(case.case_id)}  pass^k {case.pass_hat_k_after:.2f}{note}"
        )
    noise = "likely a real change" if result.p_value < 0.05 else "within noise"
    rate = result.regression_rate
    console.print(
        f"{result.run_b} vs {result.run_a}: {result.better} better, {result.worse} worse, "
        f"{result.unchanged} unchanged; regression rate {_pct(rate)}; "
        f"McNemar exact p = {result.p_value:.3g} ({noise})"
    )


@eval_app.command("bless")
def bless_(
    run_id: RunArg,
    by: Annotated[str, typer.Option("--by", help="The reviewer blessing the run.", show_default=False)],
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Make a complete run the baseline, by a named reviewer (an eval.blessed receipt)."""
    workspace = open_workspace(pilot, db)
    try:
        receipt = bless(workspace.store, workspace.receipt_log(signed=False), run_id, by)
    finally:
        workspace.close()
    console.print(f"run {run_id} blessed by {escape(by)}; receipt {receipt}")


def register(app: typer.Typer) -> None:
    """Add the ``eval`` command group."""
    app.add_typer(eval_app, name="eval")
