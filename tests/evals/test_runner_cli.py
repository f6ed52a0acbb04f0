"""`pilotgate eval run` in-process: the run id last, the default release, reports, resume and Ctrl-C."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from runner_pilot import write_runner_pilot

from cli_runner import fresh_app, invoke
from pilotgate.cli import evals as evals_cli
from pilotgate.errors import UsageError
from pilotgate.evals.runner import run_evals
from pilotgate.evals.runs import CaseResult, load_run
from pilotgate.gate.releases import create_release
from pilotgate.workspace import open_workspace


@pytest.fixture
def where(tmp_path: Path) -> list[str]:
    path = write_runner_pilot(tmp_path)
    return ["--pilot", str(path), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}"]


def _run(where: list[str], run_id: str) -> Any:
    ws = open_workspace(where[1], where[3])
    try:
        return load_run(ws.store, run_id)
    finally:
        ws.close()


def test_eval_run_prints_a_table_and_the_run_id_last(where: list[str]) -> None:
    result = invoke(fresh_app(), "eval", "run", "--concurrency", "3", *where)
    assert result.exit_code == 0, result.output
    run_id = result.stdout.strip().splitlines()[-1]
    run = _run(where, run_id)
    assert run.state == "complete" and run.release is None and len(run.results) == 6
    assert "unreleased run" in result.stderr and "6 case run(s)" in result.stderr
    assert "golden" in result.stdout and "escalation" in result.stdout
    quiet = invoke(fresh_app(), "eval", "run", "-q", "--case", "returns", *where)
    assert quiet.exit_code == 0 and quiet.stdout.strip().startswith("run-") and quiet.stderr == ""
    assert set(_run(where, quiet.stdout.strip()).cases) == {"returns"}


def test_the_default_release_is_the_one_matching_the_files(where: list[str]) -> None:
    ws = open_workspace(where[1], where[3])
    try:
        release, _ = create_release(ws)
    finally:
        ws.close()
    result = invoke(fresh_app(), "eval", "run", "--category", "golden", *where)
    assert result.exit_code == 0 and f"release {release.id} (the files on disk)" in result.stderr
    run = _run(where, result.stdout.strip().splitlines()[-1])
    assert run.release == release.id and {c.category for c in run.cases.values()} == {"golden"}
    pack = Path(where[1]).parent / "evals" / "pack.yaml"
    pack.write_text(pack.read_text() + "# changed\n")
    refused = invoke(fresh_app(), "eval", "run", "--release", release.id, *where)
    assert isinstance(refused.exception, UsageError)
    assert "does not match the files on disk" in str(refused.exception)


def test_a_report_file_and_bad_options(where: list[str], tmp_path: Path) -> None:
    out = tmp_path / "junit.xml"
    result = invoke(fresh_app(), "eval", "run", "-f", "junit", "-o", str(out), *where)
    assert result.exit_code == 0 and ET.parse(out).getroot().get("tests") == "5"
    for bad in (["-f", "junit"], ["-f", "html", "-o", str(out)], ["--category", "gold"], ["--case", "nope"]):
        failed = invoke(fresh_app(), "eval", "run", *bad, *where)
        assert isinstance(failed.exception, UsageError), bad


def test_ctrl_c_prints_the_resume_command_and_resume_finishes(
    where: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted_after_one(*args: Any, **kwargs: Any) -> Any:
        shown = kwargs["on_result"]

        def then_ctrl_c(result: CaseResult) -> None:
            shown(result)
            raise KeyboardInterrupt

        return run_evals(*args, **{**kwargs, "on_result": then_ctrl_c, "concurrency": 1})

    monkeypatch.setattr(evals_cli, "run_evals", interrupted_after_one)
    stopped = invoke(fresh_app(), "eval", "run", *where)
    assert stopped.exit_code == 130
    run_id = stopped.stdout.strip().splitlines()[-1]
    assert f"resume with: pilotgate eval run --resume {run_id}" in stopped.stderr
    assert _run(where, run_id).state == "running"
    monkeypatch.undo()
    resumed = invoke(fresh_app(), "eval", "run", "--resume", run_id, *where)
    assert resumed.exit_code == 0 and resumed.stdout.strip().splitlines()[-1] == run_id
    run = _run(where, run_id)
    assert run.state == "complete" and len(run.results) == 6


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="worker processes need fork()")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_eval_run_on_worker_processes(where: list[str]) -> None:
    result = invoke(fresh_app(), "eval", "run", "--concurrency", "4", "--workers", "2", *where)
    assert result.exit_code == 0, result.output
    run = _run(where, result.stdout.strip().splitlines()[-1])
    assert run.state == "complete" and len(run.results) == 6
    assert "at concurrency 4 on 2 worker processes" in result.stderr
    refused = invoke(fresh_app(), "eval", "run", "--workers", "0", *where)
    assert refused.exit_code == 2 and "--workers" in refused.stderr
