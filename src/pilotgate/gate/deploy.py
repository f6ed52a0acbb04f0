"""Promotion, rollback and the canary split: the serving pointer, changed only with a receipt.

The ``deployments`` row says what serves tasks now (production, a canary and its share); ``promotions``
keeps production's history so a rollback knows where to return. Each change appends its receipt and
updates the rows in one transaction: ``release.promoted`` ``{release, to: "production", previous}``,
``release.rolled_back`` ``{release, from, to: "production"}`` and ``release.canary`` ``{release, share,
production, previous}``. The gate reads production from those receipts (``production_release``), so the
pointer and the evidence cannot tell two stories.

Promoting a release or starting a canary needs a *current* passing verdict: the newest ``gate.verdict`` of
the release passed. Otherwise ``GateBlocked`` (exit 1): it is the gate's refusal, carried through.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, insert, select, update

from pilotgate.clock import Clock, rfc3339, utc_now
from pilotgate.errors import GateBlocked, UsageError
from pilotgate.gate.releases import get_release
from pilotgate.gate.serving import SHARE_SCALE, pick, release_workspace
from pilotgate.receipts import Entry, list_receipts
from pilotgate.store.tables import deployments, promotions

PRODUCTION = "production"


@dataclass(frozen=True)
class Deployment:
    """What serves tasks now, and where a rollback would return."""

    production: str | None = None
    canary: str | None = None
    share: int = 0
    """The canary's share in basis points (0..10000)."""
    previous: str | None = None
    """The release a rollback returns to."""
    updated_at: str | None = None
    receipt: str | None = None
    """Hash of the receipt of the last switch."""

    @property
    def share_percent(self) -> str:
        """The canary's share as a percentage string (``12.5``)."""
        return format_share(self.share)


@dataclass(frozen=True)
class Switch:
    """One change of the pointer: the receipt that records it and the state it leaves."""

    kind: str
    receipt: str
    seq: int
    deployment: Deployment


def format_share(basis_points: int) -> str:
    """Basis points as a percentage without trailing zeros: 1250 -> ``12.5``."""
    text = str(Decimal(basis_points) / 100)
    return text.rstrip("0").rstrip(".") if "." in text else text


def parse_share(percent: str | float | Decimal) -> int:
    """A percentage (0..100, at most two decimals) as basis points; UsageError otherwise."""
    try:
        value = Decimal(str(percent))
    except InvalidOperation:
        raise UsageError(f"--share must be a percentage; got {percent!r}") from None
    points = value * 100
    if not value.is_finite() or not 0 <= value <= 100 or points != points.to_integral_value():
        raise UsageError(f"--share must be between 0 and 100 with at most two decimals; got {percent}")
    return int(points)


def read_deployment(workspace: Any, conn: Connection | None = None) -> Deployment:
    """The pointer as stored (all empty before the first promotion)."""
    if conn is None:
        with workspace.store.read() as reading:
            return read_deployment(workspace, reading)
    row = conn.execute(select(deployments).where(deployments.c.pilot == workspace.name)).one_or_none()
    history = _history(conn, workspace.name)
    previous = history[1]["release"] if len(history) > 1 else None
    if row is None:
        return Deployment(previous=previous)
    return Deployment(
        production=row.production,
        canary=row.canary,
        share=int(row.canary_share),
        previous=previous,
        updated_at=row.updated_at,
        receipt=row.receipt,
    )


def _history(conn: Connection, pilot: str) -> list[dict[str, Any]]:
    """Promotions not rolled back, newest first: [current production, what a rollback returns to, ...]."""
    rows = conn.execute(
        select(promotions.c.seq, promotions.c.release, promotions.c.receipt)
        .where(promotions.c.pilot == pilot, promotions.c.rolled_back.is_(None))
        .order_by(promotions.c.seq.desc())
        .limit(2)
    ).all()
    return [{"seq": int(r.seq), "release": r.release, "receipt": r.receipt} for r in rows]


def _locked(conn: Connection, workspace: Any) -> Deployment:
    """The pointer, its row locked for the transaction (PostgreSQL; SQLite's writer lock is held)."""
    conn.execute(select(deployments.c.pilot).where(deployments.c.pilot == workspace.name).with_for_update())
    return read_deployment(workspace, conn)


def _save(conn: Connection, workspace: Any, state: Deployment, exists: bool) -> None:
    values = {
        "production": state.production,
        "canary": state.canary,
        "canary_share": state.share,
        "updated_at": state.updated_at,
        "receipt": state.receipt,
    }
    if exists:
        conn.execute(update(deployments).where(deployments.c.pilot == workspace.name).values(**values))
    else:
        conn.execute(insert(deployments).values(pilot=workspace.name, **values))


def passing_verdict(conn: Connection, workspace: Any, release_id: str, action: str) -> dict[str, Any]:
    """The release's newest verdict when it passed; GateBlocked saying why not (none, blocked, stale)."""
    found = list_receipts(conn, workspace.name, kind="gate.verdict", limit=100_000)
    mine = [r for r in found if r.body.get("release") == release_id]  # newest first
    gate_hint = f"run `pilotgate gate --release {release_id}` and fix what it names"
    if not mine:
        raise GateBlocked(
            f"cannot {action} {release_id}: it has no gate verdict",
            failures=["no verdict"],
            hint=gate_hint,
        )
    latest = mine[0]
    if latest.body.get("result") != "pass":
        earlier = next((r for r in mine[1:] if r.body.get("result") == "pass"), None)
        if earlier is not None:
            message = (
                f"cannot {action} {release_id}: its verdict of receipt {earlier.seq} passed, but the newer "
                f"verdict of receipt {latest.seq} is blocked; only the latest verdict counts"
            )
            failures = ["stale verdict"]
        else:
            failed = [rule["rule"] for rule in latest.body.get("rules", []) if not rule.get("passed")]
            message = (
                f"cannot {action} {release_id}: its latest verdict (receipt {latest.seq}) is blocked"
                + (f" by {len(failed)} rule(s): {'; '.join(failed)}" if failed else "")
            )
            failures = ["blocked verdict", *failed]
        raise GateBlocked(message, failures=list(failures), hint=gate_hint)
    return {**latest.body, "hash": latest.hash, "seq": latest.seq}


def _check_servable(workspace: Any, release_id: str) -> None:
    """SnapshotMissing / VerificationError unless the release's snapshot can be served."""
    release_workspace(workspace, release_id)


def promote(
    workspace: Any, release_id: str, *, to: str = PRODUCTION, by: str = "pilotgate", clock: Clock = utc_now
) -> Switch:
    """Make *release_id* production, with a current passing verdict; ends any canary (production moved)."""
    if to != PRODUCTION:
        raise UsageError(f"releases are promoted to production, not {to!r}", hint="--to production")
    release = get_release(workspace, release_id)
    _check_servable(workspace, release_id)
    log = workspace.receipt_log(signed=workspace.signing_key_path.is_file(), clock=clock)
    at = rfc3339(clock())
    with log.transaction(workspace.store) as conn:
        verdict = passing_verdict(conn, workspace, release_id, "promote")
        state = _locked(conn, workspace)
        if state.production == release_id:
            raise UsageError(f"{release_id} is already in production", hint="`pilotgate release status`")
        body = {
            "release": release_id,
            "to": PRODUCTION,
            "previous": state.production,
            "verdict": verdict["hash"],
        }
        entries = [
            Entry(
                kind="release.promoted",
                body=body,
                actor={"kind": "user", "id": by},
                release=release_id,
                refs=[verdict["hash"], release.receipt],
            )
        ]
        if state.canary is not None:
            entries.append(_canary_entry(None, 0, release_id, state, by, "production changed"))
        made = log.append_many(conn, entries)
        conn.execute(
            insert(promotions).values(
                pilot=workspace.name,
                seq=made[0].seq,
                release=release_id,
                promoted_at=at,
                promoted_by=by,
                receipt=made[0].hash,
            )
        )
        after = Deployment(
            production=release_id, previous=state.production, updated_at=at, receipt=made[-1].hash
        )
        _save(conn, workspace, after, exists=state.updated_at is not None)
    return Switch("release.promoted", made[0].hash, made[0].seq, after)


def rollback_in(conn: Connection, workspace: Any, log: Any, *, by: str, at: str) -> Switch:
    """The rollback itself, in the caller's write transaction (the drill runs it on a copy)."""
    state = _locked(conn, workspace)
    history = _history(conn, workspace.name)
    if state.production is None or not history:
        raise UsageError("nothing is in production, so there is nothing to roll back", hint="promote first")
    if len(history) < 2:
        raise UsageError(
            f"{state.production} is the only release in production's history: there is no previous "
            "release to return to",
            hint="promote a release that passed the gate instead",
        )
    current, previous = history
    entries = [
        Entry(
            kind="release.rolled_back",
            body={"release": previous["release"], "from": current["release"], "to": PRODUCTION},
            actor={"kind": "user", "id": by},
            release=previous["release"],
            refs=[current["receipt"], previous["receipt"]],
        )
    ]
    if state.canary is not None:
        entries.append(_canary_entry(None, 0, previous["release"], state, by, "rolled back"))
    made = log.append_many(conn, entries)
    conn.execute(
        update(promotions)
        .where(promotions.c.pilot == workspace.name, promotions.c.seq == current["seq"])
        .values(rolled_back=made[0].hash)
    )
    after_history = _history(conn, workspace.name)
    after = Deployment(
        production=previous["release"],
        previous=after_history[1]["release"] if len(after_history) > 1 else None,
        updated_at=at,
        receipt=made[-1].hash,
    )
    _save(conn, workspace, after, exists=True)
    return Switch("release.rolled_back", made[0].hash, made[0].seq, after)


def rollback(workspace: Any, *, by: str = "pilotgate", clock: Clock = utc_now) -> Switch:
    """Return production to the release promoted before the current one; ends any canary.

    The release returned to must still be servable (its snapshot loads); no new verdict is asked for: it
    passed the gate when it was promoted, and a rollback is the way out of an incident.
    """
    before = read_deployment(workspace)
    if before.previous is not None:
        _check_servable(workspace, before.previous)
    log = workspace.receipt_log(signed=workspace.signing_key_path.is_file(), clock=clock)
    with log.transaction(workspace.store) as conn:
        return rollback_in(conn, workspace, log, by=by, at=rfc3339(clock()))


def _canary_entry(
    release: str | None, share: int, production: str | None, state: Deployment, by: str, reason: str | None
) -> Entry:
    body: dict[str, Any] = {
        "release": release,
        "share": format_share(share),
        "production": production,
        "previous": {"release": state.canary, "share": format_share(state.share)},
    }
    if reason:
        body["reason"] = reason
    return Entry(kind="release.canary", body=body, actor={"kind": "user", "id": by}, release=release)


def set_canary(
    workspace: Any, release_id: str | None, share: int, *, by: str = "pilotgate", clock: Clock = utc_now
) -> Switch:
    """Send *share* basis points of tasks to *release_id* (current passing verdict needed); share 0 or no
    release stops the canary. Every change is a ``release.canary`` receipt."""
    if not 0 <= share <= SHARE_SCALE:
        raise UsageError(f"a canary share is 0..{SHARE_SCALE} basis points; got {share}")
    stopping = release_id is None or share == 0
    if not stopping:
        assert release_id is not None
        get_release(workspace, release_id)
        _check_servable(workspace, release_id)
    log = workspace.receipt_log(signed=workspace.signing_key_path.is_file(), clock=clock)
    at = rfc3339(clock())
    with log.transaction(workspace.store) as conn:
        state = _locked(conn, workspace)
        if stopping:
            if state.canary is None:
                raise UsageError("no canary is running", hint="`pilotgate release status`")
            release_id, share = None, 0
        else:
            passing_verdict(conn, workspace, str(release_id), "start a canary of")
            if state.production is None:
                raise UsageError(
                    "nothing is in production to split tasks with",
                    hint="promote a release first: `pilotgate release promote R --to production`",
                )
            if state.production == release_id:
                raise UsageError(f"{release_id} is the production release; a canary needs another release")
        made = log.append_many(conn, [_canary_entry(release_id, share, state.production, state, by, None)])
        after = Deployment(
            production=state.production,
            canary=release_id,
            share=share,
            previous=state.previous,
            updated_at=at,
            receipt=made[0].hash,
        )
        _save(conn, workspace, after, exists=True)
    return Switch("release.canary", made[0].hash, made[0].seq, after)


@dataclass(frozen=True)
class Served:
    """Which release serves a task, and why."""

    release: str | None
    """None: the files on disk (a draft, or nothing is in production)."""
    reason: str
    """``production``, ``canary``, ``chosen`` (asked for by id), ``draft`` or ``no production``."""
    share: str = "100"
    """The share of tasks the serving side gets, as a percentage string."""


def serve(
    workspace: Any, *, release: str | None = None, draft: bool = False, key: str | None = None
) -> tuple[Any, Served]:
    """The workspace a task runs under, and why: *release* if named, the files on disk with *draft* or
    when nothing is in production, else production or the canary as ``pick`` decides for *key* (a new
    random key when None, so tasks split by the share)."""
    if release is not None and draft:
        raise UsageError("--release and --draft exclude each other", hint="pick one")
    if draft:
        return workspace, Served(None, "draft")
    if release is not None:
        return release_workspace(workspace, release), Served(release, "chosen")
    state = read_deployment(workspace)
    if state.production is None:
        return workspace, Served(None, "no production")
    chosen = pick(state.production, state.canary, state.share, key or secrets.token_hex(16))
    if chosen == state.canary:
        served = Served(chosen, "canary", state.share_percent)
    else:
        served = Served(chosen, "production", format_share(SHARE_SCALE - state.share))
    return release_workspace(workspace, str(chosen)), served
