"""The action boundary: a tool call is recorded before it is made, and never made twice.

``execute`` runs three steps: (a) one transaction commits a ``tool_calls`` row in state ``intent`` and
the ``tool.intent`` receipt; (b) the adapter is called with the idempotency key; (c) one transaction
commits the ``tool.result`` receipt and the row's outcome. A key already ``done`` or ``failed`` returns
the recorded output without calling. A key left at ``intent`` (a crash between (a) and (c), or a call
whose outcome the adapter could not know) is resolved by the tool's ``replay``: ``idempotent`` calls
again with the same key, ``reconcilable`` asks the adapter what became of the key, ``unsafe`` parks
the call (``tool.parked``) for a person. Nothing here calls a tool whose earlier call might have run,
unless the tool declared that a repeat with the same key is harmless.

Two shortcuts save the runtime a commit each. ``defer_result``: a read tool that may be repeated
(``replay: idempotent``) is called once its intent has committed, as any call, but its result is written
with the task's next commit: a crash in between leaves an intent without a result, which recovery settles
by calling the read again. ``dry_run_deferred``: a dry run calls nothing, so its intent and result both go
with the task's next commit.

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
from pilotgate.errors import PilotgateError, SecretError, ToolAdapterError
from pilotgate.receipts import Actor, AppendedReceipt, Entry, ReceiptLog, canonical_bytes, receipt_hash
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


@dataclass(frozen=True)
class Intent:
    """A call whose intent is recorded (or was found recorded), for ``ToolExecutor.proceed``."""

    registered: RegisteredTool
    record: ToolCallRecord
    written: tuple[AppendedReceipt, ...] = ()
    """The receipts recorded now: the intent (and, in a dry run, its result); empty when found."""
    dry: ToolCallOutcome | None = None
    """A dry run's outcome, complete already."""


@dataclass(frozen=True)
class DeferredCall:
    """A call whose closing receipts wait for the caller's next commit (see ``ToolExecutor``'s notes)."""

    entries: tuple[Entry, ...]
    """The receipts to append, in order: a dry run's ``tool.intent`` and ``tool.result``, or a read's
    ``tool.result`` (its intent committed before the call)."""
    outcome: ToolCallOutcome | None
    """How the call ended (its ``receipts`` are empty until the caller commits); None when unknown."""
    key: str | None = None
    """The ledger row to finish beside the result; None in a dry run (which keeps no ledger)."""
    stored: dict[str, Any] | None = None
    """The output as the ledger keeps it (redacted)."""
    unknown: str | None = None
    """Why the outcome is unknown (the adapter could not tell): the caller goes on with
    ``proceed(intent, called=1)``, as after a first call (retry with the same key, or park)."""

    def write_ledger(self, conn: Connection, made: Mapping[int, AppendedReceipt], at: str) -> None:
        """Finish the call's ledger row once ``made`` (appended receipts by ``id(entry)``) numbers its
        result; in the transaction that appended it."""
        if self.key is None or self.outcome is None:
            return
        result = made[id(self.entries[-1])]
        ledger.finish(
            conn, self.key, state=self.outcome.state, result_seq=result.seq, output=self.stored, at=at
        )


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
        for attempt in range(2):
            try:
                with self.log.transaction(self.store) as conn:
                    intent = self.record_intent(
                        conn,
                        task=task,
                        step=step,
                        tool=tool,
                        args=args,
                        release=release,
                        refs=refs,
                        on_intent=on_intent,
                    )
            except IntegrityError:
                if attempt:
                    raise
                continue  # another executor inserted the key first: read its row
            return self.proceed(intent)
        raise AssertionError("unreachable")  # pragma: no cover

    def dry_run_deferred(
        self,
        *,
        task: str,
        step: int,
        tool: str,
        args: Mapping[str, Any],
        release: str | None = None,
        refs: Sequence[str | Entry] = (),
    ) -> DeferredCall:
        """A dry run's call, with its ``tool.intent`` and ``tool.result`` left for the caller's next commit.

        Nothing is called, so there is no boundary to keep durable: the runtime commits the two receipts
        with the task's next step (an eval case with a tool call is one commit, not two).
        """
        if not self.dry_run:
            raise RuntimeError("dry_run_deferred is for a dry-run executor")
        registered = self.registry.get(tool)
        checked = registered.validator.validate(args)
        key = idempotency_key(self.pilot, task, step, tool, checked)
        output = _recordable(self._canned(registered, checked))
        state: CallState = "failed" if output.is_error else "done"
        intent = Entry(
            kind="tool.intent",
            body=self._intent_body(registered, key, step, checked, args_hash(checked), dry_run=True),
            actor=self.actor,
            task=task,
            release=release,
            refs=tuple(refs),
        )
        result = Entry(
            kind="tool.result",
            body=_result_body(key, registered.name, state, output, "dry_run", 0, None, "0"),
            actor=self.actor,
            task=task,
            release=release,
            refs=(intent,),
        )
        outcome = ToolCallOutcome(key, registered.name, task, step, state, output, dry_run=True)
        return DeferredCall((intent, result), outcome)

    def may_defer_result(self, intent: Intent) -> bool:
        """Whether ``defer_result`` applies: an intent recorded now, of a read tool that may be repeated."""
        spec = intent.registered.spec
        return (
            bool(intent.written)
            and intent.dry is None
            and spec.effect == "read"
            and spec.replay == "idempotent"
        )

    def defer_result(self, intent: Intent) -> DeferredCall:
        """Make a read's call (its intent committed) and leave its ``tool.result`` for the caller's next
        commit, instead of a commit of its own.

        A read changes nothing, so if the process dies before that commit the ledger shows the intent
        without a result, and recovery calls the read again with the same key, as its ``replay:
        idempotent`` allows. An unknown outcome comes back with ``unknown`` set and no receipt.
        """
        record, registered = intent.record, intent.registered
        intent_hash = _written_hash(record, intent.written)
        assert intent_hash is not None, "defer_result needs an intent written now (may_defer_result)"
        output, latency_us, unknown = _invoke(record, registered)
        if output is None:  # ``proceed(called=1)`` settles it
            return DeferredCall((), None, unknown=unknown)
        output = _recordable(output)
        state: CallState = "failed" if output.is_error else "done"
        cost = str(registered.spec.cost_per_call)
        result = Entry(
            kind="tool.result",
            body=_result_body(record.key, record.tool, state, output, "call", 1, latency_us, cost),
            actor=self.actor,
            task=record.task,
            release=record.release,
            refs=[intent_hash],
        )
        stored = self.log.redactor.redact_body(output.as_json())
        outcome = self._outcome(record, state, ToolOutput.from_json(stored), calls=1)
        return DeferredCall((result,), outcome, key=record.key, stored=stored)

    def record_intent(
        self,
        conn: Connection,
        *,
        task: str,
        step: int,
        tool: str,
        args: Mapping[str, Any],
        release: str | None = None,
        refs: Sequence[str] = (),
        on_intent: IntentHook | None = None,
    ) -> Intent:
        """Step (a) of ``execute``, in the caller's open transaction; ``proceed`` does the rest after it.

        The runtime records a call's policy decision and its intent in one commit this way. A key that is
        recorded already is only read (``Intent.written`` empty). Raises IntegrityError when a concurrent
        executor inserts the key first (roll back and try again: the row is then read).
        """
        registered = self.registry.get(tool)
        checked = registered.validator.validate(args)
        key = idempotency_key(self.pilot, task, step, tool, checked)
        if not self.dry_run:
            existing = ledger.load(conn, key)
            if existing is not None:
                return Intent(registered, replace(existing, release=release))
        digest = args_hash(checked)
        intent = self.log.append(
            conn,
            kind="tool.intent",
            body=self._intent_body(registered, key, step, checked, digest, dry_run=self.dry_run),
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
            checked,
            digest,
            "intent",
            intent.seq,
            None,
            None,
            release,
        )
        written: tuple[AppendedReceipt, ...] = (intent,)
        dry: ToolCallOutcome | None = None
        if self.dry_run:
            dry = self._dry_result(conn, registered, record, intent)
            written = dry.receipts
        else:
            ledger.insert_intent(conn, record, at=rfc3339(self.clock()))
        if on_intent is not None:
            on_intent(conn)
        return Intent(registered, record, written, dry)

    def proceed(self, intent: Intent, *, called: int = 0) -> ToolCallOutcome:
        """Steps (b) and (c) of ``execute``, once the intent has committed: call and record the outcome (or
        settle a call recorded earlier without calling blindly). ``called``: calls already made with an
        unknown outcome (``deferred``), counted against the tool's retries."""
        if intent.dry is not None:
            return intent.dry
        if not intent.written:
            return self._existing(intent.record, intent.registered)
        if called:
            return self._unknown(
                intent.record,
                intent.registered,
                "the first call's outcome is unknown",
                called,
                intent.written,
            )
        return self._call(intent.record, intent.registered, via="call", attempt=1, receipts=intent.written)

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
        output, latency_us, unknown = _invoke(record, registered)
        if output is None:
            return self._unknown(record, registered, unknown or "", attempt, receipts)
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
            log.warning("tool %s: reconcile raised %s", record.tool, _described(exc))
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
        cost = str(registered.spec.cost_per_call) if via != "reconcile" else "0"
        body = _result_body(record.key, record.tool, state, output, via, calls, latency_us, cost)
        stored = self.log.redactor.redact_body(output.as_json())
        with self.log.transaction(self.store) as conn:
            receipt = self._close(conn, record, prior, "tool.result", body, state, stored)
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
            receipt = self._close(conn, record, prior, "tool.parked", body, "parked", None)
            outcome = self._outcome(
                record, "parked", None, calls=calls, reason=reason, receipts=(*prior, receipt)
            )
            if self.on_park is not None:
                self.on_park(conn, outcome)
        return outcome

    def _close(
        self,
        conn: Connection,
        record: ToolCallRecord,
        prior: tuple[AppendedReceipt, ...],
        kind: str,
        body: dict[str, Any],
        state: CallState,
        stored: dict[str, Any] | None,
    ) -> AppendedReceipt:
        """Append the call's closing receipt (citing its intent) and mark its ledger row, in ``conn``."""
        receipt = self.log.append(
            conn,
            kind=kind,
            body=body,
            actor=self.actor,
            task=record.task,
            release=record.release,
            refs=[self._intent_hash(conn, record, prior)],
        )
        ledger.finish(conn, record.key, state=state, result_seq=receipt.seq, output=stored, at=self._now())
        return receipt

    # --- dry run -------------------------------------------------------------------------------------

    def _dry_result(
        self, conn: Connection, registered: RegisteredTool, record: ToolCallRecord, intent: AppendedReceipt
    ) -> ToolCallOutcome:
        """The canned result of a dry run, recorded beside its intent (nothing is called, no ledger row)."""
        output = _recordable(self._canned(registered, record.args))
        state: CallState = "failed" if output.is_error else "done"
        result = self.log.append(
            conn,
            kind="tool.result",
            body=_result_body(record.key, registered.name, state, output, "dry_run", 0, None, "0"),
            actor=self.actor,
            task=record.task,
            release=record.release,
            refs=[intent.hash],
        )
        return ToolCallOutcome(
            record.key,
            registered.name,
            record.task,
            record.step,
            state,
            output,
            receipts=(intent, result),
            dry_run=True,
        )

    def _canned(self, registered: RegisteredTool, args: Mapping[str, Any]) -> ToolOutput:
        """A dry run's declared result for the tool (``{"dry_run": true}`` when none is declared)."""
        canned = self.canned.get(registered.name)
        if canned is None:
            return ToolOutput(content={"dry_run": True})
        return canned if isinstance(canned, ToolOutput) else canned(args)

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
        written = _written_hash(record, prior)
        return written if written is not None else ledger.receipt_hash_at(conn, self.pilot, record.intent_seq)

    def _now(self) -> str:
        return rfc3339(self.clock())


def _written_hash(record: ToolCallRecord, written: tuple[AppendedReceipt, ...]) -> str | None:
    """The hash of the call's intent when it is among ``written`` (receipts this invocation wrote)."""
    return next((receipt.hash for receipt in written if receipt.seq == record.intent_seq), None)


def _invoke(
    record: ToolCallRecord, registered: RegisteredTool
) -> tuple[ToolOutput | None, int | None, str | None]:
    """Call the adapter once with the call's key: (output, latency in µs, None), or (None, None, why)
    when the outcome is unknown (the request may have reached the tool)."""
    started = time.perf_counter()
    try:
        output = registered.adapter.call(record.args, idempotency_key=record.key)
    except ToolAdapterError as exc:
        # The adapter could not even be loaded: nothing was sent, so the outcome is a known failure.
        output = ToolOutput.error("adapter", exc.message)
    except SecretError as exc:
        # A credential (a secret header) could not be resolved: resolved before sending, so nothing was
        # sent. The message names the reference, never a value.
        output = ToolOutput.error("secret", exc.message)
    except OutcomeUnknown as exc:
        return None, None, str(exc)
    except Exception as exc:
        log.warning(
            "tool %s: adapter raised %s; treating the outcome as unknown", record.tool, _described(exc)
        )
        return None, None, f"adapter raised {type(exc).__name__}"
    return output, int((time.perf_counter() - started) * 1_000_000), None


def _result_body(
    key: str,
    tool: str,
    state: CallState,
    output: ToolOutput,
    via: str,
    calls: int,
    latency_us: int | None,
    cost: str,
) -> dict[str, Any]:
    """The body of a ``tool.result`` receipt."""
    return {
        "key": key,
        "tool": tool,
        "state": state,
        "is_error": output.is_error,
        "content": output.content,
        "via": via,
        "calls": calls,
        "latency_us": latency_us,
        "cost": cost,
    }


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


def _described(exc: BaseException) -> str:
    """An exception for a log line: its type, and a pilotgate error's message (written for users, naming no
    secret). Any other exception's text may hold data from the tool (a secret, a customer's details)."""
    if isinstance(exc, PilotgateError):
        return f"{type(exc).__name__}: {exc.message}"
    return type(exc).__name__


def _adapter_kind(adapter: str) -> str:
    if adapter.startswith("python:"):
        return "python"
    if adapter.startswith("mcp:"):
        return "mcp"
    return "http"
