"""`pilotgate run` and `pilotgate approvals` with tools, in process: waiting, approving, resuming."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer

from cli_runner import fresh_app, invoke
from pilotgate.demo import scaffold_pilot
from pilotgate.tools import PythonAdapter

BIG_REFUND = "Refund 480 EUR for order 100422, the customer returned everything."


@pytest.fixture
def app() -> typer.Typer:
    return fresh_app()


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    scaffold_pilot(tmp_path / "desk")
    return tmp_path / "desk"


def run(app: typer.Typer, desk: Path, *args: str) -> tuple[int, str]:
    done = invoke(app, *args, "--pilot", str(desk / "pilot.yaml"))
    error = f"{type(done.exception).__name__}: {done.exception}" if done.exception else ""
    return done.exit_code, done.output + error


def test_a_refund_waits_is_approved_and_resumes(app: typer.Typer, desk: Path) -> None:
    code, output = run(app, desk, "run", BIG_REFUND, "--user", "bob")
    assert code == 0, output
    assert "awaiting_approval" in output and "pilotgate approvals approve" in output
    approval = re.search(r"approval-[0-9a-f-]+", output)
    assert approval is not None
    code, listed = run(app, desk, "approvals", "list", "--json")
    assert [a["id"] for a in json.loads(listed)] == [approval.group(0)]
    code, output = run(app, desk, "approvals", "approve", approval.group(0), "--as", "carol")
    assert code == 0, output
    assert "approved" in output and "resumed" in output and "resolved" in output
    assert "480.00 EUR" in output
    code, output = run(app, desk, "approvals", "approve", approval.group(0), "--as", "carol")
    assert code != 0  # decided already: nothing resumes twice


def test_a_denied_refund_escalates(app: typer.Typer, desk: Path) -> None:
    code, output = run(app, desk, "run", BIG_REFUND, "--user", "bob", "--json")
    result = json.loads(output)
    assert (result["state"], result["outcome"]) == ("awaiting_approval", None)
    code, output = run(
        app, desk, "approvals", "deny", result["approval"], "--as", "carol", "--reason", "no return on file"
    )
    assert code == 0, output
    assert "denied" in output and "escalated" in output


def test_run_json_shows_tool_calls(app: typer.Typer, desk: Path) -> None:
    code, output = run(app, desk, "run", "Where is my order 100200?", "--user", "alice", "--json")
    assert code == 0, output
    result = json.loads(output)
    assert result["outcome"] == "resolved"
    assert result["tool_calls"][0]["tool"] == "lookup_order" and result["tool_calls"][0]["is_error"] is False
    assert result["citations"][0]["chunk"] == "tool:call_1"
    assert len(result["receipts"]) == 8


def test_a_denied_call_is_shown_as_not_run(app: typer.Typer, desk: Path) -> None:
    code, output = run(app, desk, "run", "Please refund 40 EUR for order 100200.", "--user", "alice")
    assert code == 0, output
    assert "escalated" in output and "not run" in output and "customers-never-refund" in output


def test_a_call_whose_outcome_is_unknown_parks_and_the_cli_says_so(
    app: typer.Typer, desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = run(app, desk, "run", BIG_REFUND, "--user", "bob", "--json")
    approval = json.loads(output)["approval"]

    def drops_the_connection(self: object, args: object, *, idempotency_key: str) -> object:
        raise ConnectionResetError("the payments API went away after the request was sent")

    monkeypatch.setattr(PythonAdapter, "call", drops_the_connection)
    code, output = run(app, desk, "approvals", "approve", approval, "--as", "carol")
    assert code == 0, output
    assert "parked" in output and "a person must check" in output
    code, output = run(app, desk, "approvals", "list", "--all", "--json")
    assert json.loads(output)[0]["state"] == "consumed"


def test_approvals_list_needs_no_model_key(
    app: typer.Typer, desk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Listing approvals opens no model client, so a key that is not set does not stop an approver."""
    code, _ = run(app, desk, "run", BIG_REFUND, "--user", "bob")
    assert code == 0
    text = (desk / "pilot.yaml").read_text()
    remote = (
        "models:\n  - name: remote\n    provider: openai-compatible\n    base_url: http://127.0.0.1:9/v1\n"
        "    model: some-model\n    api_key: env:PILOTGATE_TEST_UNSET_KEY\n"
    )
    text = re.sub(r"^models:.*\n", remote, text, count=1, flags=re.MULTILINE)
    assert "\nrouting:" not in text
    (desk / "pilot.yaml").write_text(text + "\nrouting: {primary: remote, fallbacks: [reference]}\n")
    monkeypatch.delenv("PILOTGATE_TEST_UNSET_KEY", raising=False)
    code, listed = run(app, desk, "approvals", "list", "--json")
    assert code == 0, listed
    assert json.loads(listed)[0]["tool"] == "issue_refund"
