"""The CLI end to end, as a user types it: exit codes, messages, no tracebacks without --debug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PILOTGATE = [sys.executable, "-m", "pilotgate"]


def pilotgate(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a child process, as a user would."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PILOTGATE_")}
    environment.update(env or {})
    environment["COLUMNS"] = "200"
    return subprocess.run(
        [*PILOTGATE, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    done = pilotgate("init", str(tmp_path / "desk"))
    assert done.returncode == 0, done.stderr
    return tmp_path / "desk"


def test_init_scaffolds_a_pilot_that_checks_and_answers(desk: Path) -> None:
    assert (desk / "pilot.yaml").is_file()
    key = desk / ".pilotgate" / "signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    checked = pilotgate("check", cwd=desk)
    assert checked.returncode == 0, checked.stderr
    assert "ok" in checked.stdout and "support-desk" in checked.stdout
    answered = pilotgate("run", "How do I reset my password?", "--user", "alice", "--json", cwd=desk)
    assert answered.returncode == 0, answered.stderr
    result = json.loads(answered.stdout)
    assert result["outcome"] == "resolved"
    assert result["citations"][0]["uri"] == "account.md"
    assert len(result["receipts"]) == 4


def test_init_refuses_to_overwrite(desk: Path) -> None:
    again = pilotgate("init", str(desk))
    assert again.returncode == 2
    assert "already exists" in again.stderr and "--force" in again.stderr


def test_broken_pilot_yaml_names_file_line_and_field(desk: Path) -> None:
    text = (desk / "pilot.yaml").read_text()
    (desk / "pilot.yaml").write_text(text.replace("sensitivity: internal", "sensitivty: internal"))
    done = pilotgate("check", cwd=desk)
    assert done.returncode == 2
    assert "pilot.yaml:" in done.stderr
    assert "sources[1].sensitivty" in done.stderr
    assert 'did you mean "sensitivity"' in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_source_folder_is_a_config_error(desk: Path) -> None:
    (desk / "sources" / "finance" / "chargebacks.md").unlink()
    (desk / "sources" / "finance").rmdir()
    done = pilotgate("check", cwd=desk)
    assert done.returncode == 2
    assert "sources[2].path" in done.stderr and "does not exist" in done.stderr


def test_missing_signing_key_is_reported_with_a_hint(desk: Path) -> None:
    (desk / ".pilotgate" / "signing.key").unlink()
    done = pilotgate("check", cwd=desk)
    assert done.returncode == 2
    assert "signing key" in done.stderr and "pilotgate keygen" in done.stderr
    made = pilotgate("keygen", cwd=desk)
    assert made.returncode == 0, made.stderr
    assert pilotgate("check", cwd=desk).returncode == 0
    again = pilotgate("keygen", cwd=desk)
    assert again.returncode == 2 and "exists" in again.stderr


def test_no_pilot_here_is_a_usage_error(tmp_path: Path) -> None:
    done = pilotgate("run", "hello", "--user", "alice", cwd=tmp_path)
    assert done.returncode == 2
    assert "no pilot.yaml" in done.stderr and "pilotgate init" in done.stderr


def test_unknown_user_is_a_clear_error(desk: Path) -> None:
    done = pilotgate("run", "hello there", "--user", "mallory", cwd=desk)
    assert done.returncode == 2
    assert "unknown user 'mallory'" in done.stderr and "Traceback" not in done.stderr


def test_debug_shows_the_traceback(desk: Path) -> None:
    done = pilotgate("--debug", "run", "hello there", "--user", "mallory", cwd=desk)
    assert done.returncode != 0
    assert "Traceback" in done.stderr


def test_a_newer_database_is_refused(desk: Path) -> None:
    assert pilotgate("run", "How do I reset my password?", "--user", "alice", cwd=desk).returncode == 0
    import sqlite3

    with sqlite3.connect(desk / ".pilotgate" / "pilot.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    done = pilotgate("run", "How do I reset my password?", "--user", "alice", cwd=desk)
    assert done.returncode == 2
    assert "newer pilotgate" in done.stderr


def test_db_status_and_upgrade(desk: Path) -> None:
    upgraded = pilotgate("db", "upgrade", cwd=desk)
    assert upgraded.returncode == 0, upgraded.stderr
    status = pilotgate("db", "status", cwd=desk)
    assert "current" in status.stdout


def test_schema_is_json(tmp_path: Path) -> None:
    done = pilotgate("schema", cwd=tmp_path)
    assert done.returncode == 0
    assert json.loads(done.stdout)["title"] == "pilot.yaml"


def test_demo_runs_verifies_and_catches_the_forgery(tmp_path: Path) -> None:
    done = pilotgate("demo", "--dir", str(tmp_path / "demo"))
    assert done.returncode == 0, done.stderr
    assert "25 tasks" in done.stdout
    assert "unauthorised risky tool executions: 0" in done.stdout
    assert "verify: ok" in done.stdout
    assert "caught:" in done.stdout and "content_changed" in done.stdout
    # the demo's own store is untouched by the tampering and still verifies
    verified = pilotgate("receipts", "verify", cwd=tmp_path / "demo")
    assert verified.returncode == 0, verified.stderr
