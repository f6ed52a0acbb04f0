"""Promotion, rollback, the drill and the canary split on a real store (SQLite and PostgreSQL): each
refusal path, the receipts every switch writes, and the pointer the gate's evidence agrees with."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_helpers import DEPLOY_YAML, make_release, pack_line
from gate_helpers import write_pilot
from sqlalchemy import delete, update

from pilotgate.errors import CheckFailed, GateBlocked, UsageError, VerificationError
from pilotgate.gate import (
    SnapshotMissing,
    create_release,
    gate,
    pick,
    production_release,
    promote,
    read_deployment,
    release_workspace,
    rollback,
    rollback_drill,
    set_canary,
    verify_release,
)
from pilotgate.receipts import list_receipts, verify_store
from pilotgate.store.tables import release_files
from pilotgate.workspace import Workspace, open_workspace


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    opened = open_workspace(write_pilot(tmp_path, pilot=DEPLOY_YAML), store_url)
    try:
        yield opened
    finally:
        opened.close()


def _chain_verifies(ws: Workspace) -> None:
    with ws.store.read() as conn:
        assert verify_store(conn, ws.name, None).ok


def _bodies(ws: Workspace, kind: str) -> list[dict[str, Any]]:
    with ws.store.read() as conn:
        return [r.body for r in list_receipts(conn, ws.name, kind=kind, newest_first=False)]


def test_promotion_refuses_without_a_current_passing_verdict(ws: Workspace) -> None:
    ungated = make_release(ws, "100", run_gate=False)
    with pytest.raises(GateBlocked, match="has no gate verdict") as caught:
        promote(ws, ungated)
    assert caught.value.exit_code == 1

    blocked = make_release(ws, "200", failing=("adv-1",))
    with pytest.raises(GateBlocked, match=r"latest verdict \(receipt \d+\) is blocked by 1 rule") as caught:
        promote(ws, blocked)
    assert "category('adversarial').pass_rate == 1.0" in str(caught.value)

    good = make_release(ws, "300")
    (ws.root / "evals" / "golden.yaml").write_text("cases: []\n")  # the files moved on: release.intact fails
    assert not gate(ws, good).passed
    with pytest.raises(GateBlocked, match="only the latest verdict counts"):
        promote(ws, good)
    assert read_deployment(ws).production is None and not _bodies(ws, "release.promoted")


def test_promote_then_rollback_and_the_gate_sees_it(ws: Workspace) -> None:
    with pytest.raises(UsageError, match="nothing is in production"):
        rollback(ws)
    first = make_release(ws, "100")
    switch = promote(ws, first, by="maria")
    assert switch.deployment.production == first
    with pytest.raises(UsageError, match="already in production"):
        promote(ws, first)
    with pytest.raises(UsageError, match="no previous release to return to"):
        rollback(ws)
    second = make_release(ws, "200")
    promote(ws, second, by="maria")
    state = read_deployment(ws)
    assert (state.production, state.previous) == (second, first)
    assert production_release(ws)[0] == second  # type: ignore[index]
    bodies = _bodies(ws, "release.promoted")
    assert [(b["release"], b["to"], b["previous"]) for b in bodies] == [
        (first, "production", None),
        (second, "production", first),
    ]

    back = rollback(ws, by="maria")
    assert back.deployment.production == first and back.deployment.previous is None
    assert read_deployment(ws).production == first
    assert production_release(ws) == (first, back.receipt)
    assert _bodies(ws, "release.rolled_back") == [{"release": first, "from": second, "to": "production"}]
    with pytest.raises(UsageError, match="no previous release"):
        rollback(ws)
    third = make_release(ws, "300")
    promote(ws, third)
    assert read_deployment(ws).previous == first  # the rolled-back release is not returned to
    _chain_verifies(ws)


def test_release_workspace_serves_the_snapshot_not_the_disk(ws: Workspace) -> None:
    first = make_release(ws, "100")
    make_release(ws, "200")  # the pack on disk now says 200
    served = release_workspace(ws, first)
    assert served.release == first and served.store is ws.store
    assert "100 EUR" in served.loaded.resolve("evals/more.jsonl").read_text()
    assert (
        served.loaded.resolve("sources/policy") == ws.root / "sources" / "policy"
    )  # data stays the workspace's
    assert verify_release(served, first) == []
    with ws.store.write() as conn:
        conn.execute(
            update(release_files)
            .where(release_files.c.release == first, release_files.c.name == "evals/evals/more.jsonl")
            .values(content=b"tampered\n")
        )
    with pytest.raises(VerificationError, match=r"damaged: evals/evals/more\.jsonl"):
        release_workspace(ws, first)


def test_a_release_without_a_snapshot_cannot_be_served_or_rolled_back_to(ws: Workspace) -> None:
    first = make_release(ws, "100")
    promote(ws, first)
    second = make_release(ws, "200")
    promote(ws, second)
    with ws.store.write() as conn:
        conn.execute(delete(release_files).where(release_files.c.release == first))
    with pytest.raises(SnapshotMissing, match=f"release {first} has no stored snapshot"):
        rollback(ws)
    report = rollback_drill(ws, by="maria")
    assert not report.passed and report.target == first
    failed = [c for c in report.checks if not c.passed]
    assert failed[0].name == "snapshot" and "no stored snapshot" in failed[0].detail
    with pytest.raises(CheckFailed, match="the rollback drill failed: snapshot"):
        report.raise_if_failed()
    assert _bodies(ws, "release.rollback_drill")[-1]["result"] == "fail"
    assert read_deployment(ws).production == second
    # the same files give the same release: creating it again stores the missing snapshot
    (ws.root / "evals" / "more.jsonl").write_text(pack_line("100"))
    again, created = create_release(ws)
    assert again.id == first and not created
    assert release_workspace(ws, first).release == first


class _Opened:
    def close(self) -> None:
        pass


def test_rollback_drill_rehearses_on_a_copy_and_leaves_production_alone(ws: Workspace) -> None:
    first = make_release(ws, "100")
    promote(ws, first)
    second = make_release(ws, "200")
    promote(ws, second)
    set_canary(ws, make_release(ws, "300"), 1000)
    before = read_deployment(ws)
    opened: list[str | None] = []

    def opener(served: Workspace, _log: object) -> _Opened:
        opened.append(served.release)
        return _Opened()

    report = rollback_drill(ws, by="maria", opener=opener)
    assert report.passed, report.checks
    report.raise_if_failed()
    assert opened == [first] and report.target == first and report.production == second
    assert [c.name for c in report.checks] == [
        "rollback",
        "pointer",
        "snapshot",
        "policy",
        "runtime",
        "real pointer unchanged",
    ]
    assert read_deployment(ws) == before
    assert not _bodies(ws, "release.rolled_back")  # the rehearsal's receipts never reach the real log
    drill = _bodies(ws, "release.rollback_drill")
    assert len(drill) == 1 and drill[0]["result"] == "pass"
    assert drill[0]["method"] == (
        "sqlite-backup-copy" if ws.store.dialect == "sqlite" else "transaction-rolled-back"
    )
    _chain_verifies(ws)


def test_a_drill_whose_runtime_cannot_open_fails(ws: Workspace) -> None:
    promote(ws, make_release(ws, "100"))
    promote(ws, make_release(ws, "200"))

    def broken(_served: Workspace, _log: object) -> _Opened:
        raise UsageError("the model endpoint is not configured")

    report = rollback_drill(ws, opener=broken)
    assert not report.passed
    assert [(c.name, c.detail) for c in report.checks if not c.passed] == [
        ("runtime", "the model endpoint is not configured")
    ]


def test_a_drill_with_nothing_to_return_to_fails(ws: Workspace) -> None:
    promote(ws, make_release(ws, "100"))
    report = rollback_drill(ws)
    assert not report.passed and "no previous release" in report.checks[0].detail


def test_a_drill_really_opens_a_runtime(ws: Workspace) -> None:
    promote(ws, make_release(ws, "100"))
    promote(ws, make_release(ws, "200"))
    assert rollback_drill(ws).passed


def test_canary_split_and_every_switch_is_a_receipt(ws: Workspace) -> None:
    first = make_release(ws, "100")
    candidate = make_release(ws, "200")
    with pytest.raises(UsageError, match="nothing is in production"):
        set_canary(ws, candidate, 2500)
    promote(ws, first)
    with pytest.raises(GateBlocked, match="has no gate verdict"):
        set_canary(ws, make_release(ws, "300", run_gate=False), 2500)
    with pytest.raises(UsageError, match="no canary is running"):
        set_canary(ws, None, 0)
    state = set_canary(ws, candidate, 2500, by="maria").deployment
    assert (state.production, state.canary, state.share_percent) == (first, candidate, "25")
    picks = [pick(state.production, state.canary, state.share, f"task-{n}") for n in range(4000)]
    assert 0.22 < picks.count(candidate) / len(picks) < 0.28
    assert picks == [pick(first, candidate, 2500, f"task-{n}") for n in range(4000)]  # deterministic
    set_canary(ws, candidate, 5000)
    stopped = set_canary(ws, None, 0).deployment
    assert stopped.canary is None and stopped.production == first
    assert [(b["release"], b["share"]) for b in _bodies(ws, "release.canary")] == [
        (candidate, "25"),
        (candidate, "50"),
        (None, "0"),
    ]
    set_canary(ws, candidate, 1000)
    promote(ws, candidate)  # production moved: the canary ends, with its own receipt
    assert read_deployment(ws).canary is None
    last = _bodies(ws, "release.canary")[-1]
    assert last["release"] is None and last["reason"] == "production changed"


def test_pick_is_monotone_in_the_share() -> None:
    keys = [f"k{n}" for n in range(500)]
    assert all(pick(None, "c", 10_000, key) is None for key in keys)
    assert all(pick("p", "c", 0, key) == "p" for key in keys)
    assert all(pick("p", "c", 10_000, key) == "c" for key in keys)
    at_10 = {key for key in keys if pick("p", "c", 1000, key) == "c"}
    at_30 = {key for key in keys if pick("p", "c", 3000, key) == "c"}
    assert at_10 < at_30  # raising the share keeps the tasks already sent to the candidate there
