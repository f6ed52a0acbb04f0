"""The rollback drill: rehearse ``release rollback`` where it cannot hurt, prove the way back works, and
record that it did (the handoff checklist asks for a ``release.rollback_drill`` receipt that passed).

Where the rehearsal runs:

- **SQLite:** on a copy of the database made with SQLite's online backup API (a consistent copy even while
  tasks write), in a temporary folder that is deleted afterwards;
- **PostgreSQL:** inside a transaction on the real database that is always rolled back, so nothing it
  wrote (the rollback receipt, the pointer) is ever committed or seen by other sessions.

The rehearsal appends receipts with no signer and no witness: a copy's checkpoint sent to the real
witness would look like a fork. Then it checks that the release returned to can actually serve: the
pointer names it, its snapshot loads and matches its manifest, its policy compiles, a runtime opens on
it. The real pointer is unchanged; only the drill's own receipt is written, pass or fail.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pilotgate.clock import Clock, rfc3339, utc_now
from pilotgate.errors import CheckFailed, PilotgateError
from pilotgate.gate.deploy import read_deployment, rollback_in
from pilotgate.gate.serving import release_workspace
from pilotgate.policy import compile_policy
from pilotgate.receipts import ReceiptLog
from pilotgate.store import open_store
from pilotgate.workspace import Workspace


@dataclass(frozen=True)
class DrillCheck:
    """One thing the drill checked."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class DrillReport:
    """What the drill did and found, and its receipt."""

    passed: bool
    production: str | None
    target: str | None
    """The release the rollback would return to."""
    method: str
    checks: tuple[DrillCheck, ...]
    receipt: str
    seq: int

    def raise_if_failed(self) -> None:
        """CheckFailed (exit 1) naming the first failed check, unless the drill passed."""
        if self.passed:
            return
        first = next((c for c in self.checks if not c.passed), None)
        raise CheckFailed(
            f"the rollback drill failed: {first.name}: {first.detail}"
            if first
            else "the rollback drill failed",
            failures=[(c.name, c.detail) for c in self.checks if not c.passed],
            hint="fix what it names before you need the rollback; the drill's receipt records the failure",
        )


_STEPS = ("rollback", "pointer", "snapshot", "policy", "runtime")
"""The rehearsal's checks in order: a failure is named after the first check that did not complete."""

RuntimeOpener = Callable[[Workspace, ReceiptLog], Any]
"""Opens a runtime on a workspace with a log (returns something with ``close()``)."""


def _open_runtime(workspace: Workspace, log: ReceiptLog) -> Any:
    from pilotgate.runtime import open_runtime  # the runtime sits beside the gate, not below it

    return open_runtime(workspace, sync=False, expire=False, log=log, release=workspace.release)


def _serving_checks(
    workspace: Workspace, release: str, opener: RuntimeOpener, checks: list[DrillCheck]
) -> None:
    served = release_workspace(workspace, release)
    checks.append(DrillCheck("snapshot", True, f"{release}'s snapshot loads and matches its manifest"))
    compiled = compile_policy(served.loaded)
    checks.append(DrillCheck("policy", True, f"{len(compiled.rules)} rule(s) compile"))
    opener(served, ReceiptLog(workspace.name)).close()
    checks.append(DrillCheck("runtime", True, f"a runtime opens on {release}"))


def _rehearse_on_copy(
    workspace: Workspace, by: str, at: str, opener: RuntimeOpener, checks: list[DrillCheck]
) -> None:
    with tempfile.TemporaryDirectory(prefix="pilotgate-drill-") as folder:
        copy = Path(folder) / "drill.db"
        with workspace.store.engine.connect() as conn:
            source: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
        store = open_store(f"sqlite:///{copy}")
        try:
            rehearsal = Workspace(loaded=workspace.loaded, store=store)
            with store.write() as conn:
                switch = rollback_in(conn, rehearsal, ReceiptLog(workspace.name), by=by, at=at)
            _after_rollback(rehearsal, switch.deployment.production, opener, checks)
        finally:
            store.close()


def _rehearse_in_transaction(
    workspace: Workspace, by: str, at: str, opener: RuntimeOpener, checks: list[DrillCheck]
) -> None:
    with workspace.store.engine.connect() as conn:
        transaction = conn.begin()
        try:
            switch = rollback_in(conn, workspace, ReceiptLog(workspace.name), by=by, at=at)
            pointer = read_deployment(workspace, conn).production
        finally:
            transaction.rollback()
    checks.append(DrillCheck("rollback", True, f"production would return to {switch.deployment.production}"))
    ok = pointer == switch.deployment.production
    checks.append(DrillCheck("pointer", ok, f"the pointer inside the rehearsal names {pointer}"))
    if ok and pointer is not None:
        _serving_checks(workspace, pointer, opener, checks)


def _after_rollback(
    rehearsal: Workspace, target: str | None, opener: RuntimeOpener, checks: list[DrillCheck]
) -> None:
    checks.append(DrillCheck("rollback", True, f"production returned to {target} on the copy"))
    pointer = read_deployment(rehearsal).production
    ok = pointer == target
    checks.append(DrillCheck("pointer", ok, f"the copy's pointer names {pointer}"))
    if ok and pointer is not None:
        _serving_checks(rehearsal, pointer, opener, checks)


def rollback_drill(
    workspace: Workspace,
    *,
    by: str = "pilotgate",
    clock: Clock = utc_now,
    opener: RuntimeOpener = _open_runtime,
) -> DrillReport:
    """Rehearse a rollback (see the module doc) and record a ``release.rollback_drill`` receipt.

    Returns the report whether it passed or failed; ``DrillReport.raise_if_failed`` turns a failure into
    CheckFailed. *opener* opens the runtime the last check needs.
    """
    before = read_deployment(workspace)
    method = "sqlite-backup-copy" if workspace.store.dialect == "sqlite" else "transaction-rolled-back"
    checks: list[DrillCheck] = []
    at = rfc3339(clock())
    try:
        if workspace.store.dialect == "sqlite":
            _rehearse_on_copy(workspace, by, at, opener, checks)
        else:
            _rehearse_in_transaction(workspace, by, at, opener, checks)
    except Exception as exc:  # any failure of the rehearsal is the drill's finding, recorded below
        step = _STEPS[min(len(checks), len(_STEPS) - 1)]
        detail = exc.message if isinstance(exc, PilotgateError) else f"{type(exc).__name__}: {exc}"
        checks.append(DrillCheck(step, False, detail))
    after = read_deployment(workspace)
    unchanged = (after.production, after.canary, after.share) == (
        before.production,
        before.canary,
        before.share,
    )
    checks.append(DrillCheck("real pointer unchanged", unchanged, f"production is still {after.production}"))
    passed = all(check.passed for check in checks) and len(checks) >= 6
    body = {
        "result": "pass" if passed else "fail",
        "production": before.production,
        "release": before.previous,
        "method": method,
        "checks": [{"check": c.name, "passed": c.passed, "detail": c.detail} for c in checks],
    }
    log = workspace.receipt_log(signed=workspace.signing_key_path.is_file(), clock=clock)
    with log.transaction(workspace.store) as conn:
        appended = log.append(
            conn,
            kind="release.rollback_drill",
            body=body,
            actor={"kind": "user", "id": by},
            release=before.previous,
            refs=[before.receipt] if before.receipt else [],
        )
    return DrillReport(
        passed, before.production, before.previous, method, tuple(checks), appended.hash, appended.seq
    )
