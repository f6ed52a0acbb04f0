"""`release create | list | show` and `gate --release R`, in-process on a fresh typer app."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from gate_helpers import GATE_YAML, promote, record_run, write_pilot
from typer.testing import CliRunner

from pilotgate.cli import release as release_cli
from pilotgate.errors import GateBlocked
from pilotgate.workspace import open_workspace


def _app() -> typer.Typer:
    app = typer.Typer()
    release_cli.register(app)
    return app


def test_release_and_gate_commands(tmp_path: Path) -> None:
    path = write_pilot(tmp_path, pilot=GATE_YAML)
    where = ["--pilot", str(path), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]
    runner, app = CliRunner(), _app()
    created = runner.invoke(app, ["release", "create", "--by", "maria", *where])
    assert created.exit_code == 0, created.output
    release = created.output.strip().splitlines()[-1]
    assert release.startswith("rel-") and "release created" in created.output
    again = runner.invoke(app, ["release", "create", *where])
    assert again.output.strip().splitlines()[-1] == release and "exists already" in again.output

    blocked = runner.invoke(app, ["gate", "--release", release, *where])
    assert isinstance(blocked.exception, GateBlocked) and blocked.exception.exit_code == 1
    assert "FAIL  run.complete" in blocked.output and "BLOCKED" in blocked.output

    ws = open_workspace(path, where[3])
    try:
        record_run(ws, "rel-in-production")  # the release now in production, with its own run
        promote(ws, "rel-in-production")
        run = record_run(ws, release)
    finally:
        ws.close()
    passed = runner.invoke(app, ["gate", "--release", release, "--by", "maria", *where])
    assert passed.exit_code == 0, passed.output
    assert "pass  category('golden').pass_rate >= 0.90" in passed.output
    assert f"rests on: {run}" in passed.output and "PASS" in passed.output
    as_json = runner.invoke(app, ["gate", "--release", release, "--json", *where])
    body = json.loads(as_json.output)
    assert body["result"] == "pass" and body["run"] == run and body["receipt"].startswith("sha256:")

    listed = runner.invoke(app, ["release", "list", *where])
    assert release in listed.output and "pass" in listed.output
    shown = runner.invoke(app, ["release", "show", release, *where])
    assert "gate: pass" in shown.output and "changed" not in shown.output
    (tmp_path / "evals" / "golden.yaml").write_text("cases: []\n")
    shown = runner.invoke(app, ["release", "show", release, *where])
    assert "changed" in shown.output
    missing = runner.invoke(app, ["release", "show", "rel-nope", *where])
    assert missing.exception is not None and "no release 'rel-nope'" in str(missing.exception)
