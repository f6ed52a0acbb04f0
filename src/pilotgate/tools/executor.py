"""The action boundary: a tool call is recorded before it is made, and never made twice.

``execute`` runs three steps: (a) one transaction commits a ``tool_calls`` row in state ``intent`` and
the ``tool.intent`` receipt; (b) the adapter is called with the idempotency key; (c) one transaction
commits the ``tool.result`` receipt and the row's outcome. A key already ``done`` or ``failed`` returns
the recorded output without calling. A key left at ``intent`` (a crash between (a) and (c), or a call
whose outcome the adapter could not know) is resolved by the tool's ``replay``: ``idempotent`` calls
again with the same key, ``reconcilable`` asks the adapter what became of the key, ``unsafe`` parks
the call (``tool.parked``) for a person. Nothing here calls a tool whose earlier call might have run,
unless the tool declared that a repeat with the same key is harmless.

One executor per task at a time (the runtime's lease); two executors racing on one key still record one
intent, because the row's primary key is the idempotency key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from pilotgate.clock import Clock, rfc3339, utc_now
from pilotgate.errors import ToolAdapterError
from pilotgate.receipts import Actor, AppendedReceipt, ReceiptLog, canonical_bytes, receipt_hash
from pilotgate.store import Store
from pilotgate.tools import ledger
from pilotgate.tools.adapters.base import OutcomeUnknown, ToolOutput, clip
from pilotgate.tools.keys import args_hash, idempotency_key
from pilotgate.tools.ledger import CallState, ToolCallRecord
from pilotgate.tools.registry import RegisteredTool, ToolRegistry

log = logging.getLogger("pilotgate.tools")

MAX_CONTENT_BYTES = 256 * 1024
"""A result larger than this (canonical JSON) is recorded and returned as a marker with its size and hash."""

DEFAULT_ACTOR = Actor("worker", "pilotgate-runtime")

ParkHook = Callable[[Connection, "ToolCallOutcome"], None]
"""Runs inside the transaction that parks a call: the runtime sets its task ``parked`` there, so the
task's state and the ``tool.parked`` receipt commit together."""

IntentHook = Callable[[Connection], None]
"""Runs inside the transaction that records a new intent, before it commits: the runtime consumes the
call's approval there, so the approval is used if and only if the intent is recorded. Raising aborts
both, and nothing is called."""

Canned = ToolOutput | Callable[[Mapping[str, Any]], ToolOutput]
"""A dry run's declared result for a tool: a fixed output, or a function of the arguments."""


@dataclass(frozen=True)
class ToolCallOutcome:
    """How one call ended, as recorded."""

    key: str
    tool: str
    task: str
    step: int
    state: CallState
    """``done``, ``failed`` (an error output) or ``parked`` (unknown: a person must look)."""
    output: ToolOutput | None
    """What the model gets back; None when parked."""
    replayed: bool = False
    """True when this outcome was recorded earlier and nothing was called now."""
    calls: int = 0
    """How many times the adapter was called (or asked to reconcile) by this invocation."""
    reason: str | None = None
    """Why the call was parked."""
    receipts: tuple[AppendedReceipt, ...] = ()
    """The receipts written by this invocation, in order."""
    dry_run: bool = False


@dataclass
class ToolExecutor:
    """Executes tool calls for one pilot (``log.pilot``) against its store."""

    registry: ToolRegistry
    store: Store
    log: ReceiptLog
    clock: Clock = utc_now
    actor: Actor = DEFAULT_ACTOR
    dry_run: bool = False
    """Evals: record what would be called (``tool.intent`` and ``tool.result`` with ``dry_run: true``)
    and return the canned result; no adapter is called and no ``tool_calls`` row is written."""
    canned: Mapping[str, Canned] = field(default_factory=dict)
    """Dry-run results by tool name; a tool without one returns ``{"dry_run": true}``."""
    on_park: ParkHook | None = None
    retries_after_unknown: int = 1
    """How many times an ``idempotent`` tool is called again, with the same key, after an unknown outcome."""

    @property
    def pilot(self) -> str:
        """The pilot whose receipt log this executor writes."""
        return self.log.pilot

    # --- the one entry point -----------------------------------------------------------------------

    def execute(
        self,
        *,
        task: str,
        step: int,
        tool: str,
        args: Mapping[str, Any],
        release: str | None = None,
        refs: Sequence[str] = (),
        on_intent: IntentHook | None = None,
    ) -> ToolCallOutcome:
        """Make (at most once) the call ``tool(args)`` as step ``step`` of ``task``.

        ``args`` are checked again against the tool's schema and limits (ToolArgumentsError before any
        receipt); ``refs`` are receipt hashes the intent rests on (the policy decision, the approval);
        ``on_intent`` runs in the intent's transaction, only when a new intent is recorded.
        """
        registered = self.registry.get(tool)
        checked = registered.validator.validate(args)
        key = idempotency_key(self.pilot, task, step, tool, checked)
        if self.dry_run:
            return self._dry_run(registered, key, task, step, checked, release, refs, on_intent)
        record, written = self._begin(registered, key, task, step, checked, release, refs, on_intent)
        if written is None:
            return self._existing(replace(record, release=release), registered)
        return self._call(record, registered, via="call", attempt=1, receipts=(written,))

    def recover(self, task: str, *, release: str | None = None) -> list[ToolCallOutcome]:
        """Resolve every call of ``task`` left at ``intent`` (after a crash), by each tool's ``replay``;
        the receipts this writes carry ``release`` (the task's)."""
        with self.store.read() as conn:
            pending = ledger.open_intents(conn, self.pilot, task)
        return [self._resume(replace(record, release=release)) for record in pending]

    def open_intents(self, task: str | None = None) -> list[ToolCallRecord]:
        """Calls with an intent and no outcome, for one task or the whole pilot (a worker's startup sweep)."""
        with self.store.read() as conn:
            return ledger.open_intents(conn, self.pilot, task)

    def lookup(self, key: str) -> ToolCallRecord | None:
        """The ledger row of one call."""
        with self.store.read() as conn:
            return ledger.load(conn, key)

    # --- (a) intent ----------------------------------------------------------------------------------

    def _begin(
        self,
        registered: RegisteredTool,
        key: str,
        task: str,
        step: int,
        args: dict[str, Any],
        release: str | None,
        refs: Sequence[str],
        on_intent: IntentHook | None,
    ) -> tuple[ToolCallRecord, AppendedReceipt | None]:
        """Commit the intent row and receipt; or return the existing row for this key (and None)."""
        for _ in range(2):
            try:
                with self.log.transaction(self.store) as conn:
                    existing = ledger.load(conn, key)
                    if existing is not None:
                        return existing, None
                    digest = args_hash(args)
                    receipt = self.log.append(
                        conn,
                        kind="tool.intent",
                        body=self._intent_body(registered, key, step, args, digest, dry_run=False),
                        actor=self.actor,
                        task=task,
                        release=release,
                        refs=refs,
                    )
                    record = ToolCallRecord(
                        key,
                        self.pilot,
                        task,
                        step,
                        registered.name,
                        args,
                        digest,
                        "intent",
                        receipt.seq,
                        None,
                        None,
                        release,
                    )
                    ledger.insert_intent(conn, record, at=rfc3339(self.clock()))
                    if on_intent is not None:
                        on_intent(conn)
                    return record, receipt
            except IntegrityError:
                continue  # another executor inserted the key first: read its row
        raise RuntimeError(f"could not record or read the intent of {key}")  # pragma: no cover

    def _existing(self, record: ToolCallRecord, registered: RegisteredTool) -> ToolCallOutcome:
        if record.state in ledger.FINISHED or record.state == "parked":
            return self._outcome(record, record.state, record.output, replayed=True)
        return self._resume(record, registered)

    # --- (b) the call, and what to do when its outcome is unknown ----------------------------------

    def _call(
        self,
        record: ToolCallRecord,
        registered: RegisteredTool,
        *,
        via: str,
        attempt: int,
        receipts: tuple[AppendedReceipt, ...] = (),
    ) -> ToolCallOutcome:
        started = time.perf_counter()
        try:
            output = registered.adapter.call(record.args, idempotency_key=record.key)
        except ToolAdapterError as exc:
            # The adapter could not even be loaded: nothing was sent, so the outcome is a known failure.
            output = ToolOutput.error("adapter", exc.message)
        except OutcomeUnknown as exc:
            return self._unknown(record, registered, str(exc), attempt, receipts)
        except Exception as exc:
            log.warning("tool %s: adapter raised %s; treating the outcome as unknown", record.tool, exc)
            return self._unknown(
                record, registered, f"adapter raised {type(exc).__name__}", attempt, receipts
            )
        latency_us = int((time.perf_counter() - started) * 1_000_000)
        return self._record(
            record, registered, output, via=via, calls=attempt, latency_us=latency_us, prior=receipts
        )

    def _unknown(
        self,
        record: ToolCallRecord,
        registered: RegisteredTool,
        why: str,
        attempt: int,
        receipts: tuple[AppendedReceipt, ...],
    ) -> ToolCallOutcome:
        replay = registered.spec.replay
        if replay == "idempotent" and attempt <= self.retries_after_unknown:
            return self._call(record, registered, via="retry", attempt=attempt + 1, receipts=receipts)
        if replay == "reconcilable":
            return self._reconcile(record, registered, why, calls=attempt, prior=receipts)
        return self._park(record, f"outcome unknown ({clip(why, 200)}); replay: {replay}", attempt, receipts)

    def _resume(self, record: ToolCallRecord, registered: RegisteredTool | None = None) -> ToolCallOutcome:
        """An intent without an outcome, found later: never re-run blindly."""
        if registered is None:
            if record.tool not in self.registry:
                return self._park(record, "the tool is no longer declared in pilot.yaml", 0, ())
            registered = self.registry.get(record.tool)
        replay = registered.spec.replay
        if replay == "idempotent":
            return self._call(record, registered, via="retry", attempt=1)
        if replay == "reconcilable":
            return self._reconcile(
                record, registered, "interrupted between intent and result", calls=0, prior=()
            )
        return self._park(record, "interrupted between intent and result; replay: unsafe", 0, ())

    def _reconcile(
        self,
        record: ToolCallRecord,
        registered: RegisteredTool,
        why: str,
        *,
        calls: int,
        prior: tuple[AppendedReceipt, ...],
    ) -> ToolCallOutcome:
        try:
            found = registered.adapter.reconcile(record.key)
        except Exception as exc:
            log.warning("tool %s: reconcile raised %s", record.tool, exc)
            found = None
        if found is None:
            return self._park(record, f"{clip(why, 200)}; the tool does not know the key", calls + 1, prior)
        return self._record(
            record, registered, found, via="reconcile", calls=calls + 1, latency_us=None, prior=prior
        )

    # --- (c) outcome ---------------------------------------------------------------------------------

    def _record(
        self,
        record: ToolCallRecord,
        registered: RegisteredTool,
        output: ToolOutput,
        *,
        via: str,
        calls: int,
        latency_us: int | None,
        prior: tuple[AppendedReceipt, ...],
    ) -> ToolCallOutcome:
        output = _recordable(output)
        state: CallState = "failed" if output.is_error else "done"
        body = {
            "key": record.key,
            "tool": record.tool,
            "state": state,
            "is_error": output.is_error,
            "content": output.content,
            "via": via,
            "calls": calls,
            "latency_us": latency_us,
            "cost": str(registered.spec.cost_per_call) if via != "reconcile" else "0",
        }
        with self.log.transaction(self.store) as conn:
            intent = self._intent_hash(conn, record, prior)
            receipt = self.log.append(
                conn,
                kind="tool.result",
                body=body,
                actor=self.actor,
                task=record.task,
                release=record.release,
                refs=[intent],
            )
            stored = self.log.redactor.redact_body(output.as_json())
            ledger.finish(
                conn, record.key, state=state, result_seq=receipt.seq, output=stored, at=self._now()
            )
        return self._outcome(
            record, state, ToolOutput.from_json(stored), calls=calls, receipts=(*prior, receipt)
        )

    def _park(
        self, record: ToolCallRecord, reason: str, calls: int, prior: tuple[AppendedReceipt, ...]
    ) -> ToolCallOutcome:
        registered = self.registry.get(record.tool) if record.tool in self.registry else None
        body = {
            "key": record.key,
            "tool": record.tool,
            "replay": registered.spec.replay if registered else None,
            "reason": reason,
        }
        with self.log.transaction(self.store) as conn:
            intent = self._intent_hash(conn, record, prior)
            receipt = self.log.append(
                conn,
                kind="tool.parked",
                body=body,
                actor=self.actor,
                task=record.task,
                release=record.release,
                refs=[intent],
            )
            ledger.finish(
                conn, record.key, state="parked", result_seq=receipt.seq, output=None, at=self._now()
            )
            outcome = self._outcome(
                record, "parked", None, calls=calls, reason=reason, receipts=(*prior, receipt)
            )
            if self.on_park is not None:
                self.on_park(conn, outcome)
        return outcome

    # --- dry run -------------------------------------------------------------------------------------

    def _dry_run(
        self,
        registered: RegisteredTool,
        key: str,
        task: str,
        step: int,
        args: dict[str, Any],
        release: str | None,
        refs: Sequence[str],
        on_intent: IntentHook | None,
    ) -> ToolCallOutcome:
        canned = self.canned.get(registered.name)
        if canned is None:
            output = ToolOutput(content={"dry_run": True})
        else:
            output = canned if isinstance(canned, ToolOutput) else canned(args)
        output = _recordable(output)
        state: CallState = "failed" if output.is_error else "done"
        digest = args_hash(args)
        with self.log.transaction(self.store) as conn:
            intent = self.log.append(
                conn,
                kind="tool.intent",
                body=self._intent_body(registered, key, step, args, digest, dry_run=True),
                actor=self.actor,
                task=task,
                release=release,
                refs=refs,
            )
            result = self.log.append(
                conn,
                kind="tool.result",
                body={
                    "key": key,
                    "tool": registered.name,
                    "state": state,
                    "is_error": output.is_error,
                    "content": output.content,
                    "via": "dry_run",
                    "calls": 0,
                    "latency_us": None,
                    "cost": "0",
                },
                actor=self.actor,
                task=task,
                release=release,
                refs=[intent.hash],
            )
            if on_intent is not None:
                on_intent(conn)
        return ToolCallOutcome(
            key, registered.name, task, step, state, output, receipts=(intent, result), dry_run=True
        )

    # --- helpers -------------------------------------------------------------------------------------

    def _intent_body(
        self,
        registered: RegisteredTool,
        key: str,
        step: int,
        args: dict[str, Any],
        digest: str,
        *,
        dry_run: bool,
    ) -> dict[str, Any]:
        spec = registered.spec
        return {
            "key": key,
            "tool": spec.name,
            "step": step,
            "args": args,
            "args_hash": digest,
            "effect": spec.effect,
            "risk": spec.risk,
            "replay": spec.replay,
            "adapter": _adapter_kind(spec.adapter),
            "dry_run": dry_run,
        }

    def _outcome(
        self,
        record: ToolCallRecord,
        state: CallState,
        output: ToolOutput | None,
        *,
        replayed: bool = False,
        calls: int = 0,
        reason: str | None = None,
        receipts: tuple[AppendedReceipt, ...] = (),
    ) -> ToolCallOutcome:
        return ToolCallOutcome(
            record.key,
            record.tool,
            record.task,
            record.step,
            state,
            output,
            replayed,
            calls,
            reason,
            receipts,
        )

    def _intent_hash(
        self, conn: Connection, record: ToolCallRecord, prior: tuple[AppendedReceipt, ...]
    ) -> str:
        """The intent receipt's hash: from this invocation when it wrote it, else from the log."""
        for receipt in prior:
            if receipt.seq == record.intent_seq:
                return receipt.hash
        return ledger.receipt_hash_at(conn, self.pilot, record.intent_seq)

    def _now(self) -> str:
        return rfc3339(self.clock())


def _recordable(output: ToolOutput) -> ToolOutput:
    """The output as it can be recorded: JSON the receipt format holds, within MAX_CONTENT_BYTES."""
    try:
        size = len(canonical_bytes(output.content))
    except (TypeError, ValueError) as exc:
        return ToolOutput.error("not_json", f"the tool returned a value a receipt cannot hold: {exc}")
    if size > MAX_CONTENT_BYTES:
        digest = receipt_hash(canonical_bytes(output.content))
        return ToolOutput(
            content={"truncated": True, "bytes": size, "sha256": digest, "limit": MAX_CONTENT_BYTES},
            is_error=output.is_error,
        )
    return output


def _adapter_kind(adapter: str) -> str:
    if adapter.startswith("python:"):
        return "python"
    if adapter.startswith("mcp:"):
        return "mcp"
    return "http"
