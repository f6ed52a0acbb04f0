"""`pilotgate policy test` and `pilotgate policy explain`, through the typer app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from desk_pilot import HEAD, RULES
from typer.testing import CliRunner

from pilotgate.cli import policy as policy_cli
from pilotgate.errors import PolicyError, PolicyTestFailed, UsageError
from pilotgate.spec import LoadedPilot


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    policy_cli.register(app)
    return app


def run(app: typer.Typer, *argv: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(argv))
    return result.exit_code, result.output, result.exception


def test_policy_test_prints_a_table_and_passes(app: typer.Typer, desk: LoadedPilot) -> None:
    code, output, error = run(app, "policy", "test", "--pilot", str(desk.path))
    assert (code, error) == (0, None)
    assert output.count("pass ") == 4  # four rows, each "pass", then "4 passed"
    assert "4 passed, 0 failed" in output


def test_policy_test_fails_with_exit_1(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "pilot.yaml").write_text(HEAD + RULES.replace("expect: deny", "expect: allow"))
    _, output, error = run(app, "policy", "test", "--pilot", str(tmp_path))
    assert isinstance(error, PolicyTestFailed)
    assert error.exit_code == 1
    assert "1 of 4 policy tests failed" in str(error)
    assert "FAIL" in output


def test_a_rule_that_does_not_compile_stops_the_command(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "pilot.yaml").write_text(HEAD + RULES.replace('tool.effect == "read"', "tool.effect =="))
    _, _, error = run(app, "policy", "test", "--pilot", str(tmp_path))
    assert isinstance(error, PolicyError)
    assert error.exit_code == 2


def test_explain_shows_the_decision_the_rule_and_each_outcome(app: typer.Typer, desk: LoadedPilot) -> None:
    code, output, error = run(
        app, "policy", "explain", "--pilot", str(desk.path), "-u", "bob", "-t", "issue_refund",
        "--args", '{"order_id": "1", "amount": 900}',
    )  # fmt: skip
    assert (code, error) == (0, None)
    assert "decision:  require_approval" in output
    assert "big-refunds-need-finance" in output
    assert "approvers: finance" in output
    assert "after 4h" in output
    assert "customers-never-refund" in output


def test_explain_as_json(app: typer.Typer, desk: LoadedPilot) -> None:
    code, output, _ = run(
        app, "policy", "explain", "--pilot", str(desk.path), "-u", "alice", "-t", "issue_refund",
        "--args", '{"order_id": "1", "amount": 5}', "--json",
    )  # fmt: skip
    assert code == 0
    body = json.loads(output)
    assert (body["effect"], body["rule"]) == ("deny", "customers-never-refund")
    assert [o["outcome"] for o in body["outcomes"]] == ["no_match", "match", "no_match", "match"]


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["-u", "bob", "-t", "issue_refund", "--args", "{nope"], "--args is not JSON"),
        (["-u", "bob", "-t", "issue_refund", "--args", "[1]"], "--args must be a JSON object"),
        (["-u", "nobody", "-t", "issue_refund"], "no user named 'nobody'"),
        (["-u", "bob", "-t", "rm_rf"], "no tool named 'rm_rf'"),
    ],
)
def test_explain_refuses_bad_input(app: typer.Typer, desk: LoadedPilot, argv: list[str], wanted: str) -> None:
    _, _, error = run(app, "policy", "explain", "--pilot", str(desk.path), *argv)
    assert isinstance(error, UsageError)
    assert wanted in str(error)
