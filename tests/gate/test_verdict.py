"""The gate on constructed evidence in a real store (SQLite and PostgreSQL): a good release passes, each
rule failing alone blocks, missing evidence blocks and is named, and every verdict is a receipt."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from gate_helpers import GATE_YAML, promote, record_run, write_pilot

from pilotgate.demo import scaffold_pilot
from pilotgate.errors import CheckFailed, GateBlocked
from pilotgate.gate import create_release, gate, latest_verdict
from pilotgate.receipts import list_receipts
from pilotgate.spec import load_pilot
from pilotgate.workspace import Workspace, open_workspace

HANDOFF = "handoff.required_items_pass"


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    """A workspace whose pilot declares gate rules, a budget and a policy test."""
    opened = open_workspace(write_pilot(tmp_path, pilot=GATE_YAML), store_url)
    try:
        yield opened
    finally:
        opened.close()


def _production(ws: Workspace, failing: tuple[str, ...] = ()) -> str:
    """A production release (an older pack) with a complete run where only *failing* cases fail."""
    pack = ws.root / "evals" / "more.jsonl"
    original = pack.read_text()
    pack.write_text(original.replace("900", "800"))
    old, _ = create_release(ws)
    record_run(ws, old.id, failing=failing)
    promote(ws, old.id)
    pack.write_text(original)
    return old.id


def _edit_pilot(ws: Workspace, old: str, new: str) -> None:
    """Change pilot.yaml on disk and reload it (a release snapshots the file, so edit the file)."""
    text = ws.loaded.path.read_text()
    assert old in text
    ws.loaded.path.write_text(text.replace(old, new))
    ws.loaded = load_pilot(ws.loaded.path)


def _failed(verdict_rules: object) -> list[str]:
    return [r.rule for r in verdict_rules if not r.passed]  # type: ignore[attr-defined]


def test_good_release_passes_and_the_verdict_is_a_receipt(ws: Workspace) -> None:
    _production(ws)
    release, _ = create_release(ws)
    run = record_run(ws, release.id)
    verdict = gate(ws, release.id)
    assert verdict.passed, verdict.failures
    verdict.raise_if_blocked()
    assert verdict.run == run
    with ws.store.read() as conn:
        stored = list_receipts(conn, ws.name, kind="gate.verdict", limit=1)[0]
        eval_receipts = {r.hash for r in list_receipts(conn, ws.name, kind="eval.run")}
    assert stored.hash == verdict.receipt
    body = stored.body
    assert body["result"] == "pass" and body["run"] == run and body["budgets"] == {"per_task": "0.05"}
    assert [r["rule"] for r in body["rules"]][:2] == ["run.complete", "release.intact"]
    golden = next(r for r in body["rules"] if "golden" in r["rule"])
    assert run in golden["evidence"] and "g00" in golden["evidence"]
    # refs: both eval.run receipts, the release.created receipt and the promotion
    refs = set(stored.record["refs"])
    assert eval_receipts <= refs and release.receipt in refs and len(refs) == 4
    assert latest_verdict(ws, release.id)["hash"] == verdict.receipt  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        ("golden", "category('golden').pass_rate >= 0.90"),
        ("regression", "regression_vs('production') <= 0.02"),
        ("cost", "cost_per_task.p95 <= budgets.per_task"),
        ("adversarial", "category('adversarial').pass_rate == 1.0"),
        ("restricted", "category('restricted').pass_rate == 1.0"),
        ("changed", "release.intact"),
        ("policy", "policy_tests.passed"),
    ],
)
def test_each_rule_failing_alone_blocks(ws: Workspace, change: str, rule: str) -> None:
    if change == "policy":
        _edit_pilot(ws, "expect: allow", "expect: deny")
    failing = {
        "golden": ("g00", "g01", "g02"),
        "regression": ("g00",),
        "adversarial": ("adv-1",),
        "restricted": ("restricted-1",),
    }.get(change, ())
    # production failed the same cases: no regression, only the rule under test fails
    _production(ws, failing if change != "regression" else ())
    release, _ = create_release(ws)
    record_run(ws, release.id, failing=failing, cost="0.06" if change == "cost" else "0.01")
    if change == "changed":
        pack = ws.root / "evals" / "golden.yaml"
        pack.write_text(pack.read_text() + "\n# edited\n")
    verdict = gate(ws, release.id)
    failed = _failed(verdict.rules)
    assert failed == [rule]
    assert not verdict.passed
    with pytest.raises(GateBlocked) as caught:
        verdict.raise_if_blocked()
    assert isinstance(caught.value, CheckFailed) and caught.value.exit_code == 1
    assert [r.rule for r in caught.value.failures] == failed  # type: ignore[attr-defined]
    assert latest_verdict(ws, release.id)["result"] == "blocked"  # type: ignore[index]


def test_missing_evidence_blocks_and_is_named(ws: Workspace) -> None:
    release, _ = create_release(ws)
    verdict = gate(ws, release.id)  # no run, nothing in production
    details = {r.rule: r.detail for r in verdict.failures}
    assert details["run.complete"] == f"missing evidence: run: no complete eval run for release {release.id}"
    assert "category 'adversarial'" in details["category('adversarial').pass_rate == 1.0"]
    record_run(ws, release.id)
    verdict = gate(ws, release.id)
    assert [r.rule for r in verdict.failures] == ["regression_vs('production') <= 0.02"]
    assert "no release has been promoted to production" in verdict.failures[0].detail


def test_unfinished_run_and_handoff_are_missing(ws: Workspace) -> None:
    _production(ws)
    _edit_pilot(ws, '    - "policy_tests.passed"\n', f'    - "policy_tests.passed"\n    - "{HANDOFF}"\n')
    release, _ = create_release(ws)
    record_run(ws, release.id, finish=False)
    assert "no complete eval run" in gate(ws, release.id).failures[0].detail
    record_run(ws, release.id)
    verdict = gate(ws, release.id)
    assert [(r.rule, r.detail) for r in verdict.failures] == [
        (HANDOFF, "missing evidence: handoff: the handoff checklist is not implemented yet")
    ]


def test_production_without_a_run_is_missing(ws: Workspace) -> None:
    old, _ = create_release(ws)
    promote(ws, old.id)
    (ws.root / "evals" / "more.jsonl").write_text("")
    release, _ = create_release(ws)
    record_run(ws, release.id)
    failed = gate(ws, release.id).failures
    assert len(failed) == 1 and f"production release {old.id} has no complete eval run" in failed[0].detail


def test_demo_pilot_without_evidence_is_blocked(tmp_path: Path) -> None:
    path = scaffold_pilot(tmp_path / "desk")
    ws = open_workspace(path, f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        release, _ = create_release(ws)
        verdict = gate(ws, release.id, by="dana.reyes")
        assert not verdict.passed and verdict.run is None
        with ws.store.read() as conn:
            stored = list_receipts(conn, ws.name, kind="gate.verdict", limit=1)[0]
        assert stored.record["actor"] == {"kind": "user", "id": "dana.reyes"}
        assert json.loads(stored.text)["body"]["result"] == "blocked"
    finally:
        ws.close()


def test_a_release_is_never_compared_with_itself(tmp_path: Path) -> None:
    """Promoted already: regression against production would compare the run with itself, so it is missing."""
    path = write_pilot(tmp_path, pilot=GATE_YAML)
    ws = open_workspace(path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        release, _ = create_release(ws)
        record_run(ws, release.id)
        promote(ws, release.id)
        record_run(ws, release.id)
        verdict = gate(ws, release.id)
    finally:
        ws.close()
    assert not verdict.passed
    failing = {rule.rule: rule.detail for rule in verdict.failures}
    assert "already the production release" in failing["regression_vs('production') <= 0.02"]
