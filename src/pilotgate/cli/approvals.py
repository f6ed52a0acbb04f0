"""`pilotgate approvals list | approve ID --as NAME | deny ID --as NAME --reason TEXT`.

Deciding resumes the task at once, exactly once: approved, the call is made (the approval consumed in the
same transaction as the call's intent) and the task goes on to its answer; denied, the model is told the
call was denied and why, and the task finishes (usually escalated). Listing and deciding first expire
requests past their time, which escalates their tasks.

``--as`` is a *trusted local identity*: pilotgate has no login yet, so whoever can run this command
against the pilot's store may name any declared user. The checks still hold (the user must hold one of
the rule's approver groups and may not be the requester), and every decision is a receipt naming the
user. The server brings authenticated identity; until then, protect the store and the machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.approvals import Approval, ApprovalQueue
from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console, err_console
from pilotgate.cli.run import print_result
from pilotgate.clock import rfc3339, utc_now
from pilotgate.errors import TaskError, UsageError
from pilotgate.runtime import Runtime, TaskState, open_runtime
from pilotgate.runtime.rows import load as load_task
from pilotgate.spec import UserSpec
from pilotgate.workspace import Workspace, open_workspace

approvals_app = typer.Typer(
    name="approvals", help="List and decide the approval requests of tool calls.", no_args_is_help=True
)

AsOption = Annotated[
    str,
    typer.Option(
        "--as",
        help="The approver: a user declared in pilot.yaml (trusted local identity; no login yet).",
        show_default=False,
    ),
]

_STYLE = {"pending": "yellow", "approved": "green", "denied": "red", "expired": "red", "consumed": "dim"}
MAX_ARGS_SHOWN = 80


def _user(workspace: Workspace, name: str) -> UserSpec:
    for user in workspace.spec.users:
        if user.name == name:
            return user
    known = ", ".join(user.name for user in workspace.spec.users) or "none declared"
    raise UsageError(
        f"--as {name!r} is not a user of pilot {workspace.name!r} (declared: {known})",
        hint="approvers are users declared under `users:` in pilot.yaml",
    )


@approvals_app.command("list")
def list_command(
    show_all: Annotated[
        bool, typer.Option("--all", help="Include decided, expired and used requests.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the requests as JSON.")] = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Show the pending approval requests (all of them with --all), oldest first."""
    workspace = open_workspace(pilot, db)
    try:
        # Listing needs no model or tool: a queue on the store is enough, so it works without any API key.
        # Requests past their time show as expired; approve/deny (and every runtime start) record that.
        queue = ApprovalQueue(workspace.store, workspace.receipt_log(signed=False))
        found = queue.find(states=None if show_all else ("pending",))
    finally:
        workspace.close()
    if as_json:
        typer.echo(json.dumps([_as_json(approval) for approval in found], indent=2, ensure_ascii=False))
        return
    if not found:
        err_console.print("no pending approval requests" if not show_all else "no approval requests")
        return
    now = rfc3339(utc_now())
    table = Table(title_justify="left")
    for column in ("id", "task", "tool", "args", "rule", "approvers", "requested by", "state", "expires"):
        table.add_column(column, overflow="fold")
    for approval in found:
        state = approval.state
        if state == "pending" and now >= approval.expires_at:
            state = "expired"  # shown as it is; `expire_due` records it
        args = json.dumps(approval.args, ensure_ascii=False, sort_keys=True)
        if len(args) > MAX_ARGS_SHOWN:
            args = args[: MAX_ARGS_SHOWN - 1] + "…"
        table.add_row(
            approval.id,
            escape(approval.task),
            escape(approval.tool),
            escape(args),
            escape(approval.rule),
            escape(", ".join(approval.approvers)),
            escape(approval.requested_by),
            f"[{_STYLE.get(state, 'white')}]{state}[/]",
            approval.expires_at,
        )
    console.print(table)


@approvals_app.command("approve")
def approve_command(
    approval_id: Annotated[
        str, typer.Argument(metavar="ID", help="The request's id (see `approvals list`).")
    ],
    approver: AsOption,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (recorded in the receipt).")] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Approve one pending request as a declared user in one of its approver groups."""
    _decide(approval_id, approver, approve=True, reason=reason, pilot=pilot, db=db)


@approvals_app.command("deny")
def deny_command(
    approval_id: Annotated[
        str, typer.Argument(metavar="ID", help="The request's id (see `approvals list`).")
    ],
    approver: AsOption,
    reason: Annotated[str, typer.Option("--reason", help="Why (required; recorded in the receipt).")],
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Deny one pending request, with a reason."""
    _decide(approval_id, approver, approve=False, reason=reason, pilot=pilot, db=db)


def _decide(
    approval_id: str, approver: str, *, approve: bool, reason: str | None, pilot: Path | None, db: str | None
) -> None:
    workspace = open_workspace(pilot, db)
    try:
        user = _user(workspace, approver)
        with open_runtime(workspace, sync=False) as runtime:  # expires what is due first
            decided = runtime.approvals.decide(
                approval_id, approver=user.name, approver_groups=user.groups, approve=approve, reason=reason
            )
            style = _STYLE[decided.state]
            console.print(
                f"[{style}]{decided.state}[/]: {decided.id} ({escape(decided.tool)} in task "
                f"{escape(decided.task)}) by {escape(approver)}"
            )
            _resume(runtime, decided)
    finally:
        workspace.close()


def _resume(runtime: Runtime, decided: Approval) -> None:
    """Continue the decided approval's task and show where it ended."""
    try:
        with runtime.store.read() as conn:
            state = load_task(conn, runtime.pilot, decided.task).state
    except TaskError:
        err_console.print(f"no task {decided.task} in this store; nothing to resume")
        return
    if state is not TaskState.AWAITING_APPROVAL:
        err_console.print(f"task {decided.task} is {state.value}; it does not wait for this approval")
        return
    try:
        result = runtime.resume(decided.task)
    except TaskError as exc:
        err_console.print(f"task {decided.task} not resumed: {escape(exc.message)}")
        return
    console.print(f"task {decided.task} resumed:")
    print_result(result)


def _as_json(approval: Approval) -> dict[str, object]:
    return {
        "id": approval.id,
        "task": approval.task,
        "tool": approval.tool,
        "args": approval.args,
        "args_hash": approval.args_hash,
        "rule": approval.rule,
        "approvers": list(approval.approvers),
        "requested_by": approval.requested_by,
        "state": approval.state,
        "decided_by": approval.decided_by,
        "reason": approval.reason,
        "created_at": approval.created_at,
        "expires_at": approval.expires_at,
        "decided_at": approval.decided_at,
        "consumed_at": approval.consumed_at,
    }


def register(app: typer.Typer) -> None:
    """Add the ``approvals`` command group."""
    app.add_typer(approvals_app, name="approvals")
