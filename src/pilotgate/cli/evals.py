"""`pilotgate eval run | runs | report RUN | compare A B | bless RUN`: run the packs, inspect the runs.

`eval run` runs the packs (``pilotgate.evals.runner``) with a progress bar and prints the run id last.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console, err_console
from pilotgate.errors import UsageError
from pilotgate.evals.cases import CATEGORIES
from pilotgate.evals.compare import Comparison, compare
from pilotgate.evals.metrics import Metrics, run_metrics
from pilotgate.evals.packs import load_packs
from pilotgate.evals.processes import MAX_WORKERS, default_workers
from pilotgate.evals.reports import FORMATS, comparison_markdown, render
from pilotgate.evals.runner import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    Only,
    RunInterrupted,
    RunStats,
    matching_release,
    run_evals,
)
from pilotgate.evals.runs import CaseResult, StoredRun, bless, list_runs, load_run
from pilotgate.workspace import open_workspace

eval_app = typer.Typer(name="eval", help="Run the eval packs; report and compare runs.", no_args_is_help=True)

RunArg = Annotated[str, typer.Argument(help="An eval run id.", show_default=False)]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _money(value: Decimal) -> str:
    """A cost for the table: at most six decimals (a mean can have many), no trailing zeros."""
    text = f"{value.quantize(Decimal('0.000001')):f}".rstrip("0").rstrip(".")
    return text or "0"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


@eval_app.command("run")
def run_(
    release: Annotated[
        str | None,
        typer.Option(
            "--release",
            "-r",
            help="The release the run is evidence for; default: the release matching the files on disk, "
            "if one was created.",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=MAX_CONCURRENCY, help="Tasks in flight at once.")
    ] = DEFAULT_CONCURRENCY,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            max=MAX_WORKERS,
            help="Processes sharing the tasks in flight; default on Linux: one per 32 tasks in flight, at "
            "most one per core (elsewhere 1).",
            show_default=False,
        ),
    ] = None,
    cache: Annotated[
        bool, typer.Option("--cache", help="Answer repeated model calls (judges too) from the model cache.")
    ] = False,
    resume: Annotated[
        str | None, typer.Option("--resume", help="Finish an interrupted run (its pending cases only).")
    ] = None,
    cases: Annotated[
        list[str] | None, typer.Option("--case", help="Run only this case (repeatable).", show_default=False)
    ] = None,
    categories: Annotated[
        list[str] | None,
        typer.Option("--category", help="Run only this category's cases (repeatable).", show_default=False),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help=f"Also write a report: one of {', '.join(FORMATS)} (needs -o)."),
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Where to write the report.")] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress and no table: only the run id.")
    ] = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Run the eval packs through the real runtime (tools in a dry run); the run id is the last line.

    Each case runs as its user, with the pilot's retrieval, models and policy; tool calls are recorded,
    not made. Results are stored as they finish: after Ctrl-C, `--resume RUN` does the rest. Without
    --release the run is evidence for the release whose content is the files on disk, when one was
    created (`pilotgate release create`); otherwise it is unreleased and says so.
    """
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"unknown report format {fmt!r}", hint=f"one of {', '.join(FORMATS)}")
    if (fmt is None) != (output is None):
        raise UsageError(
            "--format and --output go together",
            hint="the run id is stdout's last line; the report goes to a file",
        )
    unknown = sorted(set(categories or ()) - set(CATEGORIES))
    if unknown:
        raise UsageError(f"unknown category {', '.join(unknown)}", hint=f"one of {', '.join(CATEGORIES)}")
    workspace = open_workspace(pilot, db)
    try:
        suite = load_packs(workspace.loaded)
        if resume is None and release is None:
            release = matching_release(workspace)
            if not quiet:
                err_console.print(
                    f"release {release} (the files on disk)"
                    if release
                    else "[yellow]unreleased run[/]: no release matches the files on disk "
                    "(`pilotgate release create` makes one)"
                )
        only = _selection(cases, categories)
        if workers is None:
            workers = default_workers(concurrency, workspace.store)
        stats = RunStats()
        with _progress(quiet) as progress:
            try:
                run = run_evals(
                    workspace,
                    suite,
                    release=release,
                    concurrency=concurrency,
                    workers=workers,
                    cache=cache,
                    resume=resume,
                    only=only,
                    on_start=progress.start,
                    on_result=progress.advance,
                    stats=stats,
                )
            except RunInterrupted as stopped:
                progress.stop()
                err_console.print(
                    f"[yellow]interrupted[/]: {stopped.recorded} case run(s) recorded, "
                    f"{stopped.pending} left; resume with: pilotgate eval run --resume {stopped.run_id}"
                )
                typer.echo(stopped.run_id)
                raise typer.Exit(130) from None
        if output is not None and fmt is not None:
            output.write_text(render(run, fmt), encoding="utf-8")
    finally:
        workspace.close()
    if not quiet:
        print_run(run)
        figures = f"{stats.ran} case run(s) in {stats.wall_seconds:.2f} s at concurrency {concurrency}"
        if workers > 1:
            figures += f" on {workers} worker processes"
        if stats.errors:
            figures += f"; [red]{stats.errors} could not run[/]"
        if stats.cache is not None:
            figures += f"; cache {stats.cache.hits} hit(s), {stats.cache.misses} miss(es)"
        err_console.print(figures)
        if output is not None:
            err_console.print(f"wrote {fmt} report of {run.id} to {output}")
    typer.echo(run.id)


def _selection(cases: list[str] | None, categories: list[str] | None) -> Only | None:
    if not cases and not categories:
        return None
    if cases and not categories:
        return cases
    ids, kinds = set(cases or ()), set(categories or ())
    return lambda case: case.id in ids or case.category in kinds


class _Progress:
    """A progress bar on stderr (only on a terminal, and not with --quiet).

    It is shown (and its refresh thread started) when the run starts, not before: by then the runner has
    forked its worker processes, and a process should fork with no other thread running."""

    def __init__(self, quiet: bool) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/]"),
            TimeElapsedColumn(),
            console=err_console,
            disable=quiet or not err_console.is_terminal,
        )
        self.task: TaskID | None = None
        self.failed = 0

    def start(self, run: StoredRun, pending: int) -> None:
        self.task = self.bar.add_task(f"eval {run.id}", total=pending, failed=0)
        self.bar.start()

    def advance(self, result: CaseResult) -> None:
        if self.task is None:
            return
        self.failed += not result.passed
        self.bar.update(self.task, advance=1, failed=self.failed)

    def stop(self) -> None:
        self.bar.stop()

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def _progress(quiet: bool) -> _Progress:
    return _Progress(quiet)


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
        cost = "–" if m.cost_per_case is None else _money(m.cost_per_case)
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
