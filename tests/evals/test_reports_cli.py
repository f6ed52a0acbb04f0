"""Reports (JSON, JUnit XML, Markdown) of a stored run, and the `eval` commands in-process."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from eval_pilot import write_pilot
from pilotgate.cli import evals as evals_cli
from pilotgate.errors import UsageError
from pilotgate.evals.assertions import AssertionResult
from pilotgate.evals.compare import compare
from pilotgate.evals.reports import comparison_markdown, render
from pilotgate.evals.runs import CaseInfo, CaseResult, finish_run, load_run, record_result, start_run
from pilotgate.store import Store
from pilotgate.workspace import Workspace, open_workspace

CASES = {
    "ok": CaseInfo("golden", "alice", 1, 1),
    "bad|pipe": CaseInfo("golden", "alice", 1, 1),
    "judge-down": CaseInfo("adversarial", "alice", 2, 2),
}


def _record(store: Store, passing: set[str]) -> str:
    run = start_run(store, "refund-desk", CASES, release="rel-1")
    for cid, info in CASES.items():
        for n in range(info.runs):
            ok = cid in passing
            error = cid == "judge-down" and not ok
            assertion = AssertionResult(
                "judge" if error else "contains", ok, "expected <30 days>", error=error
            )
            digest = "sha256:" + hashlib.sha256(f"{run}{cid}{n}".encode()).hexdigest()
            record_result(
                store,
                run,
                CaseResult(
                    cid,
                    n,
                    info.category,
                    "resolved",
                    ok,
                    (assertion,),
                    answer="a | b\n<c>",
                    cost=Decimal("0.002"),
                    latency_ms=1500.0,
                    receipts=(digest,),
                ),
            )
    return run


def test_reports_of_a_stored_run(store: Store) -> None:
    run = load_run(store, _record(store, {"ok"}))
    data = json.loads(render(run, "json"))
    assert (
        data["metrics"]["overall"]["passed"] == 1 and data["metrics"]["overall"]["cost_per_case"] == "0.002"
    )
    assert [c["id"] for c in data["cases"]] == ["bad|pipe", "judge-down", "ok"]
    root = ET.fromstring(render(run, "junit"))
    assert root.tag == "testsuites" and root.get("tests") == "3"
    assert (root.get("failures"), root.get("errors")) == ("1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"refund-desk.golden", "refund-desk.adversarial"}
    bad = next(c for c in root.iter("testcase") if c.get("name") == "bad|pipe")
    assert bad.find("failure") is not None and bad.get("time") == "1.500"
    assert "contains: expected <30 days>" in (bad.find("failure").text or "")  # type: ignore[union-attr]
    md = render(run, "markdown")
    assert md.startswith("### ❌ Evals for `refund-desk`: 1/3 cases pass")
    assert "`bad\\|pipe`" in md and "| golden | 1/2 | 50.0% |" in md
    with pytest.raises(UsageError):
        render(run, "html")


def test_comparison_markdown(store: Store) -> None:
    a = load_run(store, _record(store, {"ok"}))
    b = load_run(store, _record(store, {"bad|pipe", "judge-down"}))
    md = comparison_markdown(compare(a, b))
    assert "2 better, 1 worse, 0 unchanged" in md and "| `ok` | pass | fail | worse |" in md


def _workspace(tmp_path: Path) -> tuple[Workspace, list[str]]:
    path = write_pilot(tmp_path)
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    return open_workspace(path, db), ["--pilot", str(path), "--db", db]


def test_eval_commands(tmp_path: Path) -> None:
    ws, where = _workspace(tmp_path)
    try:
        a = _record(ws.store, {"ok"})
        b = _record(ws.store, {"ok", "bad|pipe"})
        finish_run(ws.store, ws.receipt_log(signed=False), a)
    finally:
        ws.close()
    app = typer.Typer()
    evals_cli.register(app)
    runner = CliRunner()
    listed = runner.invoke(app, ["eval", "runs", *where])
    assert a in listed.output and b in listed.output and "complete" in listed.output
    table = runner.invoke(app, ["eval", "report", a, *where])
    assert "golden" in table.output and "FAIL bad|pipe" in table.output
    junit = runner.invoke(app, ["eval", "report", a, "--format", "junit", *where])
    assert ET.fromstring(junit.output).get("tests") == "3"
    out = tmp_path / "report.md"
    runner.invoke(app, ["eval", "report", a, "-f", "markdown", "-o", str(out), *where])
    assert out.read_text().startswith("### ❌")
    compared = runner.invoke(app, ["eval", "compare", a, b, *where])
    assert "better    bad|pipe" in compared.output and "1 better, 0 worse" in compared.output
    blessed = runner.invoke(app, ["eval", "bless", a, "--by", "maria", *where])
    assert blessed.exit_code == 0 and "blessed by maria" in blessed.output
