"""`pilotgate policy test` and `pilotgate policy explain`: check the rules before a task meets them."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import PilotOption
from pilotgate.cli.output import console, err_console
from pilotgate.errors import PolicyTestFailed, UsageError
from pilotgate.policy import (
    CompiledPolicy,
    Decision,
    compile_policy,
    lookup_tool,
    lookup_user,
    run_policy_tests,
    summary,
)
from pilotgate.spec import LoadedPilot, format_duration
from pilotgate.workspace import load_workspace_config

policy_app = typer.Typer(
    name="policy", help="Test and explain the pilot's tool-call policy.", no_args_is_help=True
)

_STYLE = {"allow": "green", "deny": "red", "require_approval": "yellow", "error": "red"}


def _load(pilot: Any) -> tuple[LoadedPilot, CompiledPolicy]:
    loaded = load_workspace_config(pilot)
    return loaded, compile_policy(loaded)


def _effect(effect: str) -> str:
    return f"[{_STYLE.get(effect, 'white')}]{effect}[/]"


@policy_app.command("test")
def test_command(pilot: PilotOption = None) -> None:
    """Run the policy tests declared in pilot.yaml; exit 1 if any gets another decision."""
    loaded, compiled = _load(pilot)
    results = run_policy_tests(compiled, loaded.spec)
    if not results:
        err_console.print("no policy tests declared; add policy.tests to pilot.yaml (see docs/policy.md)")
        return
    table = Table(title=f"policy tests: {loaded.path}", title_justify="left")
    table.add_column("result", no_wrap=True)
    table.add_column("test", ratio=1)
    table.add_column("decision", no_wrap=True)
    table.add_column("rule", ratio=1, overflow="fold")
    for result in results:
        decision = result.decision
        got = _effect(result.got)
        if not result.passed:
            got += f" (expected {result.expect})"
        table.add_row(
            "[green]pass[/]" if result.passed else "[bold red]FAIL[/]",
            escape(result.label),
            got,
            escape(decision.rule or "(default deny)") if decision else escape(result.problem or ""),
        )
    console.print(table)
    counts = summary(results)
    console.print(f"{counts['passed']} passed, {counts['failed']} failed")
    if not counts["ok"]:
        failed = [result for result in results if not result.passed]
        raise PolicyTestFailed(
            f"{counts['failed']} of {counts['total']} policy tests failed",
            failures=list(failed),
            hint="run `pilotgate policy explain --user U --tool T --args JSON` to see each rule's outcome",
        )


@policy_app.command("explain")
def explain_command(
    user: Annotated[str, typer.Option("--user", "-u", help="A user declared in pilot.yaml.")],
    tool: Annotated[str, typer.Option("--tool", "-t", help="A tool declared in pilot.yaml.")],
    args: Annotated[str, typer.Option("--args", "-a", help="The call's arguments as a JSON object.")] = "{}",
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    pilot: PilotOption = None,
) -> None:
    """Decide one call and show the decision, the rule that made it, and every rule's outcome."""
    loaded, compiled = _load(pilot)
    try:
        arguments = json.loads(args)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--args is not JSON: {exc.msg} at column {exc.colno}", hint="""e.g. --args '{"amount": 50}'"""
        ) from None
    if not isinstance(arguments, dict):
        raise UsageError("--args must be a JSON object", hint="""e.g. --args '{"amount": 50}'""")
    decision = compiled.decide(lookup_user(loaded.spec, user), lookup_tool(loaded.spec, tool), arguments)
    if as_json:
        typer.echo(json.dumps(_as_json(decision), indent=2))
        return
    console.print(f"decision:  {_effect(decision.effect)}")
    console.print(f"rule:      {escape(decision.rule or '(none: default deny)')}")
    console.print(f"reason:    {escape(decision.reason)}")
    if decision.effect == "require_approval":
        console.print(f"approvers: {', '.join(decision.approvers)}")
        if decision.expires is not None:
            console.print(f"expires:   after {format_duration(decision.expires)}")
    if decision.outcomes:
        table = Table(title_justify="left")
        for column in ("rule", "decides", "outcome", "µs"):
            table.add_column(column)
        for outcome in decision.outcomes:
            shown = outcome.outcome.replace("_", " ")
            if outcome.error:
                shown = f"[red]error: {escape(outcome.error)}[/]"
            elif outcome.outcome == "match":
                shown = "[bold]match[/]"
            table.add_row(
                escape(outcome.rule), _effect(outcome.decision), shown, f"{outcome.elapsed_ns / 1000:.1f}"
            )
        console.print(table)


def _as_json(decision: Decision) -> dict[str, Any]:
    return {
        "effect": decision.effect,
        "rule": decision.rule,
        "reason": decision.reason,
        "approvers": list(decision.approvers),
        "expires": format_duration(decision.expires) if decision.expires is not None else None,
        "outcomes": [
            {"rule": o.rule, "decision": o.decision, "outcome": o.outcome, "error": o.error}
            for o in decision.outcomes
        ],
    }


def register(app: typer.Typer) -> None:
    """Add the `policy` command group."""
    app.add_typer(policy_app, name="policy")
