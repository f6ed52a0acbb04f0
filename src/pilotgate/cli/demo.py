"""`pilotgate demo`: a throwaway support-desk pilot, its tasks (tools allowed, denied, approved, a hostile
document stopped), the security figure from receipts, a release promoted and a weakened one blocked by the
gate, a verified chain, a caught forgery."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pilotgate.cli.output import console
from pilotgate.cli.run import COLOURS
from pilotgate.demo.run import DemoRun, ReleaseStep, run_demo
from pilotgate.errors import UsageError
from pilotgate.evals.metrics import run_metrics
from pilotgate.runtime import TaskResult

_OUTCOMES = ("resolved", "escalated", "failed")


def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to build the demo pilot (must not hold one). Default: a new temp folder."
        ),
    ] = None,
) -> None:
    """Run the whole idea in seconds: tasks with permissions and citations, receipts, verify, tamper."""
    folder = directory or Path(tempfile.mkdtemp(prefix="pilotgate-demo-"))
    if (folder / "pilot.yaml").exists():
        raise UsageError(f"{folder} already holds a pilot", hint="pass --dir with a new or empty folder")
    console.print(f"[bold]pilotgate demo[/] — a support-desk pilot in {folder}")
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        bar = progress.add_task("running tasks", total=None)
        run = run_demo(
            folder,
            on_start=lambda total: progress.update(bar, total=total),
            on_task=lambda _result: progress.advance(bar),
            on_release=lambda release: progress.update(bar, description=f"evals and gate for {release}"),
        )
    _print(run)


def _print(run: DemoRun) -> None:
    for synced in run.sources:
        if synced.error is not None:
            console.print(f"[red]source {synced.name}:[/] {escape(synced.error.message)}")
    approved = {a.resumed.task_id: a for a in run.approvals}
    table = Table(title="tasks", title_justify="left")
    table.add_column("user")
    table.add_column("question", max_width=40)
    table.add_column("outcome")
    table.add_column("tools (policy)", max_width=34)
    table.add_column("answer (first sentence) and sources", max_width=56)
    for result in run.results:
        colour = COLOURS[result.label]
        first = result.answer.split(". ")[0].rstrip(".") + "."
        cited = sorted({f"{c.source}/{c.uri}" for c in result.citations})
        outcome = f"[{colour}]{result.label}[/]"
        if result.task_id in approved:
            outcome = f"[cyan]awaited approval[/]\n→ {outcome}"
        table.add_row(
            result.user,
            escape(result.question),
            outcome,
            _tools(result, approved.get(result.task_id) is not None),
            escape(first[:200]) + (f"\n[dim]{escape(', '.join(cited))}[/]" if cited else ""),
        )
    console.print(table)
    counts = {outcome: sum(r.label == outcome for r in run.results) for outcome in _OUTCOMES}
    receipts = run.verify.receipts_checked
    console.print(
        f"{len(run.results)} tasks: {counts['resolved']} resolved, {counts['escalated']} escalated, "
        f"{counts['failed']} failed — {receipts} receipts"
    )
    for done in run.approvals:
        tool = done.waiting.approval.tool if done.waiting.approval else "a tool"
        console.print(
            f"[cyan]approval[/] {done.approval_id}: {escape(tool)} waited for finance; approved by "
            f"{done.approver}; task {done.resumed.task_id} resumed once → {done.resumed.label}"
        )
    for denial in run.denials:
        console.print(
            f"[red]policy stopped[/] {escape(denial.tool)} for {denial.user} ({escape(denial.question)!r}): "
            f"rule {escape(str(denial.rule))} — receipt {denial.seq}"
        )
    figure = run.security
    colour = "green" if figure.unauthorised == 0 else "red"
    console.print(
        f"[{colour}]unauthorised risky tool executions: {figure.unauthorised}[/] — counted from receipts: "
        f"{figure.risky_executions} high-risk tool results, {figure.authorised} resting on an allow or a "
        "consumed approval"
    )
    if run.releases:
        console.print(
            "\n[bold]releases and the gate[/] (eval packs in evals/, rules under gate: in pilot.yaml)"
        )
    for step in run.releases:
        _print_release(step)
    if run.verify.ok:
        console.print(
            f"[green]verify: ok[/] — {receipts} receipts re-hashed, chain linked, "
            f"{run.verify.checkpoints_checked} signed checkpoints checked"
        )
    else:
        console.print(f"[red]verify: FAILED[/] {escape(str(run.verify.failure))}")
    tamper = run.tampering
    console.print(
        f"\n[bold]tampering[/] with a copy of the store: {escape(tamper.change)} (receipt {tamper.seq})"
    )
    if tamper.report.failure is not None:
        console.print(f"[green]caught:[/] {escape(str(tamper.report.failure))}")
    else:
        console.print("[red]NOT caught — this is a bug, please report it[/]")
    console.print(
        f"\n[dim]done in {run.seconds:.1f} s. Explore it:[/]\n"
        f"  cd {run.folder}\n"
        "  pilotgate receipts list\n"
        "  pilotgate release status\n"
        "  pilotgate eval runs\n"
        '  pilotgate run "How do I reset my password?" --user alice\n'
        "  pilotgate receipts verify"
    )


def _print_release(step: ReleaseStep) -> None:
    """One release: what it is, its eval run, the failing rules and cases if any, the verdict line."""
    overall = run_metrics(step.run).overall
    console.print(
        f"{step.release}  {escape(step.change)}\n"
        f"  eval {step.run.id}: {overall.passed}/{overall.cases} cases passed"
    )
    verdict = step.verdict
    failing = {r.case_id: r for r in step.run.results if not r.passed}
    for rule in verdict.failures:
        console.print(f"  [red]FAIL[/]  {escape(rule.rule)}  [dim]{escape(rule.detail)}[/]")
        for case_id in (ref for ref in rule.evidence if ref in failing):
            broken = next(a for a in failing[case_id].assertions if not a.passed)
            console.print(f"        case {escape(case_id)}: {escape(broken.message)}")
    colour, word = ("green", "PASS") if verdict.passed else ("red", "BLOCKED")
    failed = len(verdict.failures)
    console.print(
        f"  [bold {colour}]{word}[/] release {verdict.release}: {len(verdict.rules) - failed} rules passed, "
        f"{failed} failed; verdict receipt {verdict.seq}"
        + (" → [green]promoted to production[/]" if step.promoted else " → not promoted")
    )


def _tools(result: TaskResult, was_approved: bool) -> str:
    """Each tool call of a task and what became of it."""
    lines = []
    for call, answer in result.tool_summary():
        if answer is None:
            verdict = "[cyan]waiting[/]"
        elif answer.is_error:
            verdict = "[red]denied[/]" if answer.content.startswith("denied") else "[red]refused[/]"
        else:
            verdict = "[green]approved, ran[/]" if was_approved else "[green]allowed, ran[/]"
        lines.append(f"{escape(call.name)}: {verdict}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `demo`."""
    app.command()(demo)
