"""`pilotgate approvals list | approve | deny` through the typer app, on a real pilot folder and store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pilotgate.approvals import Approval, ApprovalQueue
from pilotgate.cli import approvals as approvals_cli
from pilotgate.cli import tools as tools_cli
from pilotgate.errors import ApprovalNotFoundError, ApprovalRefusedError, UsageError
from pilotgate.receipts import generate_signing_key
from pilotgate.workspace import open_workspace

PILOT_YAML = """\
pilot: {name: support-desk, owner: dana, workflow: answer support tickets}
users:
  - {name: bob, groups: [agents]}
  - {name: carol, groups: [agents, finance]}
  - {name: dave, groups: [agents]}
tools:
  - name: issue_refund
    adapter: http://127.0.0.1:9100/refunds
    effect: external
    risk: high
    replay: reconcilable
    roles: [agents]
policy:
  rules:
    - name: big-refunds-need-finance
      decision: require_approval
      when: 'tool.name == "issue_refund"'
      approvers: [finance]
      expires: 4h
"""


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    (tmp_path / "pilot.yaml").write_text(PILOT_YAML, encoding="utf-8")
    generate_signing_key(tmp_path / ".pilotgate" / "signing.key")
    return tmp_path


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    approvals_cli.register(app)
    tools_cli.register(app)
    return app


def pending(desk: Path) -> Approval:
    workspace = open_workspace(desk)
    try:
        return ApprovalQueue(workspace.store, workspace.receipt_log()).request(
            task="task-1",
            tool="issue_refund",
            args={"order_id": "123456", "amount": 900},
            rule="big-refunds-need-finance",
            approvers=["finance"],
            expires=timedelta(hours=4),
            requested_by="bob",
        )
    finally:
        workspace.close()


def run(app: typer.Typer, desk: Path, *argv: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, [*argv, "--pilot", str(desk)], env={"COLUMNS": "250"})
    return result.exit_code, result.output, result.exception


def test_list_shows_pending_requests(app: typer.Typer, desk: Path) -> None:
    code, output, _ = run(app, desk, "approvals", "list")
    assert code == 0 and "no pending approval requests" in output
    approval = pending(desk)
    code, output, error = run(app, desk, "approvals", "list")
    assert (code, error) == (0, None)
    assert approval.id in output and "issue_refund" in output and "finance" in output and "pending" in output
    code, output, _ = run(app, desk, "approvals", "list", "--json")
    assert json.loads(output)[0]["args"] == {"order_id": "123456", "amount": 900}


def test_approve_as_a_finance_user(app: typer.Typer, desk: Path) -> None:
    approval = pending(desk)
    code, output, error = run(app, desk, "approvals", "approve", approval.id, "--as", "carol")
    assert (code, error) == (0, None)
    assert f"approved: {approval.id}" in output and "by carol" in output
    code, output, _ = run(app, desk, "approvals", "list", "--all")
    assert "approved" in output
    _, output, _ = run(app, desk, "approvals", "list")
    assert approval.id not in output


def test_deny_needs_a_reason_and_records_it(app: typer.Typer, desk: Path) -> None:
    approval = pending(desk)
    code, _, _ = run(app, desk, "approvals", "deny", approval.id, "--as", "carol")
    assert code == 2  # typer: missing --reason
    code, output, error = run(
        app, desk, "approvals", "deny", approval.id, "--as", "carol", "--reason", "fraud"
    )
    assert (code, error) == (0, None) and "denied" in output
    _, output, _ = run(app, desk, "approvals", "list", "--all", "--json")
    assert json.loads(output)[0]["reason"] == "fraud"


def test_refusals_are_pilotgate_errors_with_hints(app: typer.Typer, desk: Path) -> None:
    approval = pending(desk)
    _, _, error = run(app, desk, "approvals", "approve", approval.id, "--as", "dave")
    assert (
        isinstance(error, ApprovalRefusedError) and error.code == "not_an_approver" and error.exit_code == 1
    )
    _, _, error = run(app, desk, "approvals", "approve", approval.id, "--as", "bob")
    assert isinstance(error, ApprovalRefusedError) and error.code == "self_approval"
    _, _, error = run(app, desk, "approvals", "approve", approval.id, "--as", "mallory")
    assert isinstance(error, UsageError) and "declared: bob, carol, dave" in error.message
    _, _, error = run(app, desk, "approvals", "approve", "approval-nope", "--as", "carol")
    assert isinstance(error, ApprovalNotFoundError) and error.hint


def test_tools_list(app: typer.Typer, desk: Path) -> None:
    code, output, error = run(app, desk, "tools", "list")
    assert (code, error) == (0, None)
    assert "issue_refund" in output and "reconcilable" in output and "http" in output
    _, output, _ = run(app, desk, "tools", "list", "--json")
    assert json.loads(output)[0]["replay"] == "reconcilable"
