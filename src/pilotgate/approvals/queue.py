"""The approval queue: requests persisted in the store, decided by people, used by the runtime once.

Only a row of ``approvals`` counts: text in a model's output, a task's input or a tool's result that
claims an approval is never consulted. Every check fails closed:

- ``decide``: the id must exist in this pilot and be ``pending`` and unexpired; the approver must hold
  one of the rule's groups and must not be the requester. Two approvers deciding at once: the row is
  updated ``WHERE state = 'pending'`` and the rowcount checked, so exactly one decision wins.
- ``consume``: the approval must be ``approved``, for the same task, the same tool and the same
  arguments (by canonical hash); it becomes ``consumed`` in the same conditional update, so a replayed
  id or a second consume gets nothing.
- ``expire_due``: pending requests past ``expires_at`` become ``expired``; their tasks escalate.

Each change commits with its receipt (``approval.requested``, ``approval.decided``, ``approval.refused``,
``approval.consumed``). ``request``, ``consume`` and ``expire_due`` accept the caller's open
transaction (``conn``) so the runtime commits its task's state change with them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from pilotgate.approvals.model import Approval, ApprovalState
from pilotgate.clock import Clock, IdFactory, new_id, rfc3339, utc_now
from pilotgate.errors import ApprovalNotFoundError, ApprovalRefusedError, UsageError
from pilotgate.receipts import Actor, AppendedReceipt, ReceiptLog, canonical_bytes, receipt_hash
from pilotgate.store import Store
from pilotgate.store.tables import approvals

DEFAULT_ACTOR = Actor("worker", "pilotgate-runtime")
SYSTEM_ACTOR = Actor("system", "approvals")
MAX_REASON = 2000
"""A decision's reason is cut to this many characters."""

DecidedHook = Callable[[Connection, Approval], None]
"""Runs inside the transaction that records a decision (the runtime re-queues the task there)."""


def bound_hash(args: Mapping[str, Any]) -> str:
    """The hash an approval is bound to: ``sha256:`` over the canonical JSON of the arguments (the same
    as ``pilotgate.tools.args_hash``)."""
    return receipt_hash(canonical_bytes(dict(args)))


@dataclass
class ApprovalQueue:
    """One pilot's approval requests (``log.pilot``)."""

    store: Store
    log: ReceiptLog
    clock: Clock = utc_now
    ids: IdFactory = new_id
    actor: Actor = DEFAULT_ACTOR
    """Who records requests and consumptions (the runtime)."""

    @property
    def pilot(self) -> str:
        """The pilot whose log and rows this queue uses."""
        return self.log.pilot

    # --- the runtime's side --------------------------------------------------------------------------

    def request(
        self,
        *,
        task: str,
        tool: str,
        args: Mapping[str, Any],
        rule: str,
        approvers: Sequence[str],
        expires: timedelta,
        requested_by: str,
        refs: Sequence[str] = (),
        release: str | None = None,
        conn: Connection | None = None,
        written: list[AppendedReceipt] | None = None,
    ) -> Approval:
        """Persist a pending request for exactly ``tool(args)`` in ``task`` (rule, groups, expiry from the
        policy decision) with its ``approval.requested`` receipt, which is added to ``written`` when given
        (the runtime lists every receipt of a task in its result)."""
        if not approvers:
            raise ValueError("an approval request needs at least one approver group (nobody could decide it)")
        if expires <= timedelta(0):
            raise ValueError("an approval request must expire after a positive time")
        canonical = canonical_bytes(dict(args)).decode("utf-8")
        now = self.clock()
        approval = Approval(
            id=self.ids("approval"),
            pilot=self.pilot,
            task=task,
            tool=tool,
            args=json.loads(canonical),
            args_hash=bound_hash(args),
            rule=rule,
            approvers=tuple(approvers),
            requested_by=requested_by,
            state="pending",
            decided_by=None,
            reason=None,
            created_at=rfc3339(now),
            expires_at=rfc3339(now + expires),
            decided_at=None,
            consumed_at=None,
        )
        with self._transaction(conn) as tx:
            tx.execute(
                insert(approvals).values(
                    id=approval.id,
                    pilot=approval.pilot,
                    task=task,
                    tool=tool,
                    args=canonical,
                    args_hash=approval.args_hash,
                    rule=rule,
                    approvers=json.dumps(list(approval.approvers)),
                    requested_by=requested_by,
                    state="pending",
                    created_at=approval.created_at,
                    expires_at=approval.expires_at,
                )
            )
            receipt = self.log.append(
                tx,
                kind="approval.requested",
                body={
                    "approval": approval.id,
                    "tool": tool,
                    "args": approval.args,
                    "args_hash": approval.args_hash,
                    "rule": rule,
                    "approvers": list(approval.approvers),
                    "requested_by": requested_by,
                    "expires_at": approval.expires_at,
                },
                actor=self.actor,
                task=task,
                release=release,
                refs=refs,
            )
            if written is not None:
                written.append(receipt)
        return approval

    def consume(
        self,
        approval_id: str,
        *,
        tool: str,
        args: Mapping[str, Any],
        task: str | None = None,
        release: str | None = None,
        conn: Connection | None = None,
    ) -> Approval:
        """Use an approval for exactly ``tool(args)`` (in ``task``), once; ApprovalRefusedError otherwise.

        A mismatch does not burn the approval: it stays usable for the call it was given for.
        """
        with self._transaction(conn) as tx:
            approval = self._get(tx, approval_id)
            if (task is not None and approval.task != task) or approval.tool != tool:
                raise self._refused(approval_id, "binding", "the approval was given for another call")
            try:
                digest = bound_hash(args)
            except (TypeError, ValueError):
                digest = ""
            if digest != approval.args_hash:
                raise self._refused(
                    approval_id, "binding", "the arguments differ from the ones that were approved"
                )
            if approval.state != "approved":
                code = "consumed" if approval.state == "consumed" else "not_approved"
                raise self._refused(approval_id, code, f"the approval is {approval.state}, not approved")
            now = rfc3339(self.clock())
            changed = tx.execute(
                update(approvals)
                .where(*self._row(approval_id), approvals.c.state == "approved")
                .values(state="consumed", consumed_at=now)
            ).rowcount
            if changed != 1:
                raise self._refused(approval_id, "consumed", "the approval was used already")
            self.log.append(
                tx,
                kind="approval.consumed",
                body={"approval": approval_id, "tool": tool, "args_hash": digest},
                actor=self.actor,
                task=approval.task,
                release=release,
            )
        return replace(approval, state="consumed", consumed_at=now)

    def expire_due(self, *, conn: Connection | None = None) -> list[Approval]:
        """Mark pending requests whose time is up ``expired``; returns them (their tasks escalate)."""
        now = rfc3339(self.clock())
        expired: list[Approval] = []
        with self._transaction(conn) as tx:
            rows = tx.execute(
                select(approvals)
                .where(
                    approvals.c.pilot == self.pilot,
                    approvals.c.state == "pending",
                    approvals.c.expires_at <= now,
                )
                .order_by(approvals.c.expires_at)
            ).all()
            for row in rows:
                done = self._expire(tx, Approval.from_row(row), now)
                if done is not None:
                    expired.append(done)
        return expired

    # --- the approver's side -------------------------------------------------------------------------

    def decide(
        self,
        approval_id: str,
        *,
        approver: str,
        approver_groups: Iterable[str],
        approve: bool,
        reason: str | None = None,
        on_decided: DecidedHook | None = None,
    ) -> Approval:
        """Approve or deny a pending request as ``approver`` (who holds ``approver_groups``).

        ApprovalNotFoundError for an id this pilot does not have; ApprovalRefusedError when the request
        is decided already, expired (it is then recorded ``expired``), the approver is the requester or
        holds none of the rule's groups (the attempt is recorded as ``approval.refused``).
        """
        reason = (reason or "").strip()[:MAX_REASON] or None
        if not approve and reason is None:
            raise UsageError("a denial needs a reason", hint="pass --reason TEXT")
        groups = set(approver_groups)
        refusal: ApprovalRefusedError | None = None
        decided: Approval | None = None
        with self.log.transaction(self.store) as tx:
            approval = self._get(tx, approval_id)
            now = rfc3339(self.clock())
            if approval.state != "pending":
                raise self._refused(approval_id, "decided", f"the approval is {approval.state} already")
            if now >= approval.expires_at:
                self._expire(tx, approval, now)
                refusal = self._refused(
                    approval_id, "expired", f"the approval expired at {approval.expires_at}"
                )
            elif approver == approval.requested_by:
                self._record_refusal(tx, approval, approver, "self_approval")
                refusal = self._refused(
                    approval_id, "self_approval", f"{approver} asked for this call and cannot decide it"
                )
            elif not groups & set(approval.approvers):
                self._record_refusal(tx, approval, approver, "not_an_approver")
                refusal = self._refused(
                    approval_id,
                    "not_an_approver",
                    f"{approver} is in none of the groups that may decide: {', '.join(approval.approvers)}",
                )
            else:
                decided = self._record_decision(tx, approval, approver, approve, reason, now)
                if on_decided is not None:
                    on_decided(tx, decided)
        if refusal is not None:
            raise refusal
        assert decided is not None
        return decided

    # --- reading ---------------------------------------------------------------------------------------

    def get(self, approval_id: str) -> Approval:
        """One approval by id (ApprovalNotFoundError if this pilot has none)."""
        with self.store.read() as conn:
            return self._get(conn, approval_id)

    def find(
        self, *, states: Iterable[ApprovalState] | None = ("pending",), task: str | None = None
    ) -> list[Approval]:
        """Approvals in ``states`` (None: all), oldest first."""
        query = select(approvals).where(approvals.c.pilot == self.pilot)
        if states is not None:
            query = query.where(approvals.c.state.in_(list(states)))
        if task is not None:
            query = query.where(approvals.c.task == task)
        with self.store.read() as conn:
            rows = conn.execute(query.order_by(approvals.c.created_at, approvals.c.id)).all()
        return [Approval.from_row(row) for row in rows]

    # --- internals -------------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
            return
        with self.log.transaction(self.store) as tx:
            yield tx

    def _row(self, approval_id: str) -> tuple[Any, ...]:
        return (approvals.c.id == approval_id, approvals.c.pilot == self.pilot)

    def _get(self, conn: Connection, approval_id: str) -> Approval:
        row = None
        if isinstance(approval_id, str) and len(approval_id) <= 64:
            row = conn.execute(select(approvals).where(*self._row(approval_id))).one_or_none()
        if row is None:
            shown = approval_id if isinstance(approval_id, str) and len(approval_id) <= 64 else "<id>"
            raise ApprovalNotFoundError(
                f"no approval {shown!r} in pilot {self.pilot!r}",
                approval=shown,
                hint="list the pending ones with `pilotgate approvals list`",
            )
        return Approval.from_row(row)

    def _refused(self, approval_id: str, code: str, message: str) -> ApprovalRefusedError:
        hints = {
            "decided": "nothing changed; `pilotgate approvals list --all` shows its state",
            "expired": "the task escalates; it can be run again to ask anew",
            "self_approval": "ask someone in one of the approver groups",
            "not_an_approver": "ask someone in one of the approver groups",
        }
        return ApprovalRefusedError(
            f"approval {approval_id} refused: {message}",
            approval=approval_id,
            code=code,
            hint=hints.get(code),
        )

    def _record_decision(
        self, tx: Connection, approval: Approval, approver: str, approve: bool, reason: str | None, now: str
    ) -> Approval:
        state: ApprovalState = "approved" if approve else "denied"
        changed = tx.execute(
            update(approvals)
            .where(*self._row(approval.id), approvals.c.state == "pending")
            .values(state=state, decided_by=approver, reason=reason, decided_at=now)
        ).rowcount
        if changed != 1:
            raise self._refused(approval.id, "decided", "another decision was recorded first")
        self.log.append(
            tx,
            kind="approval.decided",
            body={
                "approval": approval.id,
                "decision": state,
                "decided_by": approver,
                "reason": reason,
                "tool": approval.tool,
                "args_hash": approval.args_hash,
            },
            actor=Actor("approver", approver),
            task=approval.task,
        )
        return replace(approval, state=state, decided_by=approver, reason=reason, decided_at=now)

    def _record_refusal(self, tx: Connection, approval: Approval, who: str, code: str) -> None:
        self.log.append(
            tx,
            kind="approval.refused",
            body={"approval": approval.id, "by": who, "code": code},
            actor=Actor("approver", who),
            task=approval.task,
        )

    def _expire(self, tx: Connection, approval: Approval, now: str) -> Approval | None:
        changed = tx.execute(
            update(approvals)
            .where(*self._row(approval.id), approvals.c.state == "pending")
            .values(state="expired", decided_at=now)
        ).rowcount
        if changed != 1:
            return None
        self.log.append(
            tx,
            kind="approval.decided",
            body={
                "approval": approval.id,
                "decision": "expired",
                "decided_by": None,
                "reason": f"not decided by {approval.expires_at}",
                "tool": approval.tool,
                "args_hash": approval.args_hash,
            },
            actor=SYSTEM_ACTOR,
            task=approval.task,
        )
        return replace(approval, state="expired", decided_at=now)
