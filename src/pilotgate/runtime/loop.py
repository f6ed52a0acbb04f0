"""The task loop: ask the model, decide and run each tool call it asks for, ask again, finish.

```
loop:
  limits reached?            -> finish escalated (task.finished names the limit)
  model.call                 -> router, or degraded mode (all models failed / budget spent)
  no tool calls              -> task.finished (resolved with citations, else escalated)
  for each call:
    unknown tool             -> policy.decision deny (rule unknown-tool), error result to the model
    arguments fail           -> tool.refused (the problem, never the value), error result to the model
    policy.decide            -> policy.decision (effect, rule, reason)
      deny                   -> error result to the model
      require_approval       -> approval.requested + state awaiting_approval, one transaction; stop
      allow                  -> tool.intent, the call, tool.result (the executor); result to the model
                                (a repeatable read: its result waits for the next commit)
```

Receipts are queued and committed only when something must be durable before the task goes on, and each
commit saves the task's row with them (its step, transcript, pending calls and spend): before a tool is
called (everything so far and the call's intent, one transaction), when the task waits for a person, and
when it finishes. A tool's result has a commit of its own, except a read's that may be repeated: it is
queued like a model call (a crash before the next commit leaves an intent without a result, and recovery
calls the read again). An answer task is one commit (its row, task.started, retrieval, model.call and
task.finished); a task that looks something up is two (up to the intent; the rest); a task with one write
is three (up to the intent; the result; the rest). In an eval's dry run nothing is called, so a call's
intent and result both wait for the next commit. A task can stop at any commit and continue from its
row, and a crash loses nothing already recorded; a task that dies before its first commit has had no
effect (no tool was called) and leaves no row: its caller saw it fail.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from pilotgate.clock import rfc3339
from pilotgate.errors import AllModelsFailed, ApprovalRefusedError, ToolArgumentsError
from pilotgate.json_text import compact
from pilotgate.models import ModelRequest, ModelResponse, ToolCall, ToolResult, Turn, degrade
from pilotgate.receipts import AppendedReceipt, Entry, PreparedBatch
from pilotgate.runtime import rows
from pilotgate.runtime.limits import Spent
from pilotgate.runtime.result import TaskResult
from pilotgate.runtime.states import Outcome, TaskState
from pilotgate.runtime.transcript import ContextPassage, cited, dump_passages, turn_json
from pilotgate.spec import UserSpec
from pilotgate.tools import ToolCallOutcome, args_hash, idempotency_key
from pilotgate.tools.executor import DeferredCall

if TYPE_CHECKING:
    from pilotgate.approvals import Approval
    from pilotgate.runtime.task import Runtime

log = logging.getLogger("pilotgate.runtime")

WORKER_ACTOR = {"kind": "worker", "id": "pilotgate-runtime"}
UNKNOWN_TOOL_RULE = "unknown-tool"
"""The pseudo-rule named when a model asks for a tool the pilot does not declare."""
MAX_RESULT_CHARS = 16_000
"""A tool result handed back to the model is cut to this many characters (the receipt keeps it whole)."""


@dataclass
class PendingCall:
    """A call of the model's last turn not yet answered, and how far it got."""

    call: ToolCall
    step: int
    effect: str | None = None
    """The policy's decision once made (``allow`` or ``require_approval``)."""
    decision: str | None = None
    """The ``policy.decision`` receipt's hash."""
    approval: str | None = None
    """The approval request's id, for ``require_approval``."""

    def as_json(self) -> dict[str, Any]:
        """For the task row."""
        return {
            "call": self.call.as_dict(),
            "step": self.step,
            "effect": self.effect,
            "decision": self.decision,
            "approval": self.approval,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingCall:
        """Back from the task row."""
        call = data["call"]
        return cls(
            ToolCall(call["id"], call["name"], dict(call["arguments"])),
            data["step"],
            data.get("effect"),
            data.get("decision"),
            data.get("approval"),
        )


@dataclass
class TaskRun:
    """One task in flight: what the model has seen and asked, what is pending, what it has spent."""

    task_id: str
    user: UserSpec
    question: str
    passages: list[ContextPassage]
    turns: list[Turn] = field(default_factory=list)
    pending: list[PendingCall] = field(default_factory=list)
    step: int = 0
    spent: Spent = field(default_factory=Spent)
    receipts: list[AppendedReceipt] = field(default_factory=list)
    queued: list[Entry] = field(default_factory=list)
    """Receipts to write with the next commit (a model call waits for the decisions on its calls)."""
    after_append: list[DeferredCall] = field(default_factory=list)
    """Reads whose results are queued: their ledger rows are finished with the next commit, once the
    results have numbers."""
    started: float = field(default_factory=time.perf_counter)
    release: str | None = None
    """The release the task runs under: stamped on every receipt it writes."""
    saved: bool = False
    """Whether the task's row exists (the first commit inserts it)."""
    created_at: str | None = None
    """When the task started (RFC 3339), for its row."""

    def entry(self, kind: str, body: dict[str, Any], *, actor: Any = WORKER_ACTOR) -> Entry:
        """A receipt of this task (its id and release stamped)."""
        return Entry(kind=kind, body=body, actor=actor, task=self.task_id, release=self.release)

    def queue(self, kind: str, body: dict[str, Any]) -> None:
        """Write this receipt with the next commit."""
        self.queued.append(self.entry(kind, body))

    def answer(self, call: ToolCall, content: str, *, is_error: bool) -> None:
        """Hand a result (or why there is none) back to the model."""
        self.turns.append(ToolResult(call.id, call.name, content, is_error))


# --- committing ------------------------------------------------------------------------------------------


def commit(
    rt: Runtime,
    run: TaskRun,
    state: TaskState,
    *,
    extra: list[Entry] | None = None,
    conn: Connection | None = None,
    **values: Any,
) -> list[AppendedReceipt]:
    """Write the queued receipts (and ``extra``) and save the row as ``state``, in one transaction.

    The receipts are made (``ReceiptLog.prepare``) before the transaction opens, so the writers' lock is
    held only for the chain's and the row's writes: under many threads every moment in it holds the others
    back."""
    if conn is not None:
        return _write(rt, run, conn, state, extra, values)
    prepared = rt.log.prepare([*run.queued, *(extra or [])])
    with transaction(rt, run) as tx:
        return _write(rt, run, tx, state, extra, values, prepared)


@contextmanager
def transaction(rt: Runtime, run: TaskRun) -> Iterator[Connection]:
    """``rt.log.transaction``, and a rollback also undoes what the task run noted of it (written receipts,
    cleared queue, its row saved), so a failure recorded afterwards still writes everything queued."""
    queued, deferred = list(run.queued), list(run.after_append)
    written, saved = len(run.receipts), run.saved
    try:
        with rt.log.transaction(rt.store) as conn:
            yield conn
    except BaseException:
        run.queued[:] = queued
        run.after_append[:] = deferred
        del run.receipts[written:]
        run.saved = saved
        raise


def flush(
    rt: Runtime,
    run: TaskRun,
    conn: Connection,
    extra: list[Entry] | None = None,
    prepared: PreparedBatch | None = None,
) -> list[AppendedReceipt]:
    """Append the queued receipts (and ``extra``) in ``conn``, with the ledger rows of the calls whose
    receipts they are. ``prepared``: those same entries, prepared before the transaction."""
    entries = prepared.entries if prepared is not None else [*run.queued, *(extra or [])]
    made = rt.log.append_many(conn, prepared or entries) if entries else []
    if run.after_append:
        numbered = {id(entry): receipt for entry, receipt in zip(entries, made, strict=True)}
        at = rfc3339(rt.clock())
        for deferred in run.after_append:
            deferred.write_ledger(conn, numbered, at)
        run.after_append.clear()
    run.queued.clear()
    run.receipts.extend(made)
    return made


def _write(
    rt: Runtime,
    run: TaskRun,
    conn: Connection,
    state: TaskState,
    extra: list[Entry] | None,
    values: dict[str, Any],
    prepared: PreparedBatch | None = None,
) -> list[AppendedReceipt]:
    made = flush(rt, run, conn, extra, prepared)
    save_row(rt, run, conn, state, **values)
    return made


def save_row(rt: Runtime, run: TaskRun, conn: Connection, state: TaskState, **values: Any) -> None:
    """Save the task's working state in its row as ``state`` (the task's first commit inserts the row)."""
    now = rfc3339(rt.clock())
    working = {
        "step": run.step,
        "transcript": _redacted_turns(rt, run.turns),
        "pending": compact([p.as_json() for p in run.pending]) if run.pending else None,
        "spent": run.spent.to_json(),
        **values,
    }
    if run.saved:
        rows.set_state(conn, run.task_id, state, now, **working)
        return
    rows.insert(
        conn,
        id=run.task_id,
        pilot=rt.pilot,
        user=run.user.name,
        input=run.question,
        state=state.value,
        release=run.release,
        created_at=run.created_at or now,
        updated_at=now,
        context=dump_passages(run.passages),
        **working,
    )
    run.saved = True


def _redacted_turns(rt: Runtime, turns: list[Turn]) -> str | None:
    """The transcript as stored: redacted like a receipt (a tool result may hold a secret)."""
    if not turns:
        return None
    redacted = rt.log.redactor.redact_body({"turns": [turn_json(t) for t in turns]})["turns"]
    return compact(redacted)


# --- the loop --------------------------------------------------------------------------------------------


def drive(rt: Runtime, run: TaskRun) -> TaskResult:
    """Run the task until it finishes or waits for a person."""
    while True:
        while run.pending:
            paused = handle_call(rt, run, run.pending[0])
            if paused is not None:
                return paused
            run.pending.pop(0)
        limit = run.spent.model_limit(rt.limits)
        if limit is not None:
            name, value = limit
            return finish(
                rt,
                run,
                Outcome.ESCALATED,
                f"The task was stopped: it reached its limit of {value:,} ({name}). "
                "A person will take it over.",
                extra={"stopped": {"limit": name, "value": value}},
            )
        request = ModelRequest(
            question=run.question, context=run.passages, tools=rt.offered(run.user), turns=tuple(run.turns)
        )
        response, escalation = call_model(rt, run, request)
        if escalation is not None:
            return finish(rt, run, Outcome.ESCALATED, escalation, extra={"degraded": True})
        assert response is not None
        if not response.tool_calls:
            return finish_with_answer(rt, run, response)
        run.turns.extend(response.tool_calls)
        for call in response.tool_calls:
            run.step += 1
            run.pending.append(PendingCall(call, run.step))


def call_model(rt: Runtime, run: TaskRun, request: ModelRequest) -> tuple[ModelResponse | None, str | None]:
    """One model call, through the router or the degraded mode; its receipt is queued."""
    per_task = rt.spec.budgets.per_task
    mode = rt.spec.degraded_mode
    if run.spent.budget_spent(per_task):
        outcome = degrade(rt.router, request, mode=mode, reason="budget_spent")
    else:
        try:
            routed = rt.router.route(request)
        except AllModelsFailed as exc:
            outcome = degrade(rt.router, request, mode=mode, reason="all_models_failed", failure=exc)
        else:
            response = routed.response
            run.spent.add_model_call(response.input_tokens + response.output_tokens, routed.cost.amount)
            run.queue("model.call", routed.receipt_body())
            return response, None
    run.queue("model.call", outcome.receipt_body())
    if outcome.routed is None:
        run.spent.add_model_call(0, Decimal(0))
        return None, outcome.message
    response = outcome.routed.response
    run.spent.add_model_call(response.input_tokens + response.output_tokens, outcome.routed.cost.amount)
    return response, None


# --- one tool call ---------------------------------------------------------------------------------------


def handle_call(rt: Runtime, run: TaskRun, item: PendingCall) -> TaskResult | None:
    """Decide and (if allowed) make one call; a TaskResult when the task must stop here."""
    call = item.call
    if item.approval is not None:
        return _approved_call(rt, run, item)
    if item.effect == "allow" and item.decision is not None:
        return _execute(rt, run, item, None)  # decided before a crash: the ledger says whether it ran
    if run.spent.tool_calls >= rt.limits.max_tool_calls:
        limit = rt.limits.max_tool_calls
        return finish(
            rt,
            run,
            Outcome.ESCALATED,
            f"The task was stopped: it reached its limit of {limit:,} tool calls (max_tool_calls). "
            "A person will take it over.",
            extra={"stopped": {"limit": "max_tool_calls", "value": limit}},
        )
    run.spent.tool_calls += 1
    if call.name not in rt.registry:
        reason = "the pilot declares no such tool; nothing was called"
        run.queue("policy.decision", _decision_body(item, "deny", UNKNOWN_TOOL_RULE, reason, None))
        run.answer(call, f"denied: {reason}", is_error=True)
        return None
    try:
        args = rt.registry.validate(call.name, call.arguments)
    except ToolArgumentsError as exc:
        run.queue(
            "tool.refused", {"call": call.id, "tool": call.name, "step": item.step, "problem": exc.message}
        )
        run.answer(call, f"refused: {exc.message}", is_error=True)
        return None
    tool = rt.registry.get(call.name).spec
    decision = rt.policy.decide(
        run.user,
        tool,
        args,
        {
            "id": run.task_id,
            "user": run.user.name,
            "input": run.question,
            "step": item.step,
            "tool_calls": run.spent.tool_calls,
        },
        run.spent.budget(rt.spec.budgets.per_task),
    )
    body = _decision_body(item, decision.effect, decision.rule, decision.reason, args)
    if decision.matched:
        body["matched"] = list(decision.matched)
    if decision.effect == "deny":
        run.queue("policy.decision", body)
        run.answer(call, f"denied by policy: {decision.reason}", is_error=True)
        return None
    if decision.effect == "require_approval":
        body["approvers"] = list(decision.approvers)
        return _request_approval(rt, run, item, body, args, decision.approvers, decision.expires)
    item.effect = "allow"
    run.queue("policy.decision", body)
    return _execute(rt, run, item, None)  # the decision commits with the intent


def _decision_body(
    item: PendingCall, effect: str, rule: str | None, reason: str, args: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "call": item.call.id,
        "tool": item.call.name,
        "step": item.step,
        "args_hash": args_hash(args) if args is not None else None,
        "effect": effect,
        "rule": rule,
        "reason": reason,
    }


def _request_approval(
    rt: Runtime,
    run: TaskRun,
    item: PendingCall,
    body: dict[str, Any],
    args: dict[str, Any],
    approvers: tuple[str, ...],
    expires: timedelta | None,
) -> TaskResult:
    """Record the decision, the request and the task's new state in one transaction; the task waits."""
    item.effect = "require_approval"
    run.queue("policy.decision", body)
    with transaction(rt, run) as conn:
        made = flush(rt, run, conn)
        item.decision = made[-1].hash
        approval = rt.approvals.request(
            task=run.task_id,
            tool=item.call.name,
            args=args,
            rule=str(body["rule"]),
            approvers=approvers,
            expires=expires or timedelta(hours=24),
            requested_by=run.user.name,
            release=run.release,
            refs=[item.decision],
            conn=conn,
            written=run.receipts,
        )
        item.approval = approval.id
        commit(rt, run, TaskState.AWAITING_APPROVAL, conn=conn)
    log.info("task %s awaits approval %s (%s)", run.task_id, approval.id, approval.tool)
    return paused(rt, run, TaskState.AWAITING_APPROVAL, awaiting_message(approval), approval=approval)


def awaiting_message(approval: Approval) -> str:
    """What a person reads about a task waiting for ``approval``."""
    return (
        f"Waiting for approval {approval.id}: {approval.tool} needs a decision by "
        f"{', '.join(approval.approvers)} (rule {approval.rule}) before {approval.expires_at}."
    )


def _approved_call(rt: Runtime, run: TaskRun, item: PendingCall) -> TaskResult | None:
    """Continue a call that waited for a person: approved runs once, denied goes back to the model."""
    assert item.approval is not None
    approval = rt.approvals.get(item.approval)
    call = item.call
    if approval.state == "pending":
        return paused(rt, run, TaskState.AWAITING_APPROVAL, awaiting_message(approval), approval=approval)
    if approval.state == "denied":
        who = approval.decided_by or "a person"
        run.answer(call, f"denied by {who}: {approval.reason or 'no reason given'}", is_error=True)
        return None
    if approval.state == "expired":
        return finish(
            rt,
            run,
            Outcome.ESCALATED,
            f"Approval {approval.id} for {call.name} expired at {approval.expires_at}; a person will take "
            "the task over.",
            extra={"approval": approval.id, "reason": "approval_expired"},
        )
    try:
        args = rt.registry.validate(call.name, call.arguments)
    except ToolArgumentsError as exc:
        run.queue(
            "tool.refused", {"call": call.id, "tool": call.name, "step": item.step, "problem": exc.message}
        )
        run.answer(call, f"refused: {exc.message}", is_error=True)
        return None
    if approval.state == "consumed":
        # Used by an earlier resume that crashed after recording the intent: the ledger has the call.
        key = idempotency_key(rt.log.pilot, run.task_id, item.step, call.name, args)
        if rt.executor.lookup(key) is None:
            run.answer(call, "refused: the approval was used already", is_error=True)
            return None
        return _execute(rt, run, item, None)

    def consume(conn: Connection) -> None:
        rt.approvals.consume(
            approval.id, tool=call.name, args=args, task=run.task_id, release=run.release, conn=conn
        )

    try:
        return _execute(rt, run, item, consume)
    except ApprovalRefusedError as exc:
        run.queue(
            "tool.refused",
            {"call": call.id, "tool": call.name, "step": item.step, "problem": exc.message, "code": exc.code},
        )
        run.answer(call, f"refused: {exc.message}", is_error=True)
        return None


def _execute(rt: Runtime, run: TaskRun, item: PendingCall, on_intent: Any) -> TaskResult | None:
    """Make the call through the executor; park the task if its outcome is unknown.

    The call is made only after one transaction has committed the queued receipts (the model call, the
    decision on this call), the call's intent and the task's row; a decision queued now is the last queued
    receipt, and the intent cites it. A read that may be repeated leaves its result for the task's next
    commit (``ToolExecutor.defer_result``); a dry run (an eval) calls nothing and leaves both receipts
    for it.
    """
    call = item.call
    if on_intent is None and item.decision is None and rt.executor.dry_run:
        dry = rt.executor.dry_run_deferred(
            task=run.task_id,
            step=item.step,
            tool=call.name,
            args=call.arguments,
            release=run.release,
            refs=run.queued[-1:],
        )
        run.queued.extend(dry.entries)
        assert dry.outcome is not None
        return _answered(rt, run, call, dry.outcome)
    for attempt in range(2):
        try:
            with transaction(rt, run) as conn:
                made = flush(rt, run, conn)
                decision = item.decision or (made[-1].hash if made else None)
                intent = rt.executor.record_intent(
                    conn,
                    task=run.task_id,
                    step=item.step,
                    tool=call.name,
                    args=call.arguments,  # checked against the schema here, before any receipt
                    release=run.release,
                    refs=[decision] if decision else [],
                    on_intent=on_intent,
                )
                item.decision = decision
                save_row(rt, run, conn, TaskState.RUNNING)
        except IntegrityError:
            if attempt or not run.saved:
                raise
            continue  # another worker recorded this call's intent first: the retry reads its row
        break
    run.receipts.extend(intent.written)
    called = 0
    if rt.executor.may_defer_result(intent):
        deferred = rt.executor.defer_result(intent)
        if deferred.outcome is not None:
            run.queued.extend(deferred.entries)
            run.after_append.append(deferred)
            return _answered(rt, run, call, deferred.outcome)
        called = 1
    outcome = rt.executor.proceed(intent, called=called)
    run.receipts.extend(r for r in outcome.receipts if r not in intent.written)
    if outcome.state == "parked":
        return parked_result(rt, run, outcome)
    return _answered(rt, run, call, outcome)


def _answered(rt: Runtime, run: TaskRun, call: ToolCall, outcome: ToolCallOutcome) -> None:
    """Hand a call's output to the model and count its cost (unless it was recorded earlier)."""
    assert outcome.output is not None
    if not outcome.replayed:
        run.spent.cost += rt.registry.get(call.name).spec.cost_per_call
    run.answer(call, _model_text(outcome.output.content), is_error=outcome.output.is_error)


def _model_text(content: Any) -> str:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + "…"


def parked_result(rt: Runtime, run: TaskRun, outcome: ToolCallOutcome) -> TaskResult:
    """The task as the executor's park hook left it: parked, for a person."""
    message = (
        f"Parked: the outcome of {outcome.tool} (step {outcome.step}) is unknown ({outcome.reason}). "
        "A person must check the tool before anything else happens."
    )
    log.warning("task %s parked: %s", run.task_id, outcome.reason)
    return paused(rt, run, TaskState.PARKED, message)


# --- finishing -------------------------------------------------------------------------------------------


def finish_with_answer(rt: Runtime, run: TaskRun, response: ModelResponse) -> TaskResult:
    """Finish with the model's answer: resolved when it cites what it saw, else escalated."""
    citations = cited(response.citations, run.passages, run.turns)
    outcome = Outcome.RESOLVED if citations and not response.abstained else Outcome.ESCALATED
    return finish(rt, run, outcome, response.text, citations=citations)


def finish(
    rt: Runtime,
    run: TaskRun,
    outcome: Outcome,
    answer: str,
    *,
    citations: list[Any] | None = None,
    extra: dict[str, Any] | None = None,
    conn: Connection | None = None,
) -> TaskResult:
    """Record ``task.finished`` with the row's final state, in one transaction (with a checkpoint)."""
    citations = citations or []
    run.pending.clear()
    body: dict[str, Any] = {
        "outcome": outcome.value,
        "answer": answer,
        "citations": [c.chunk_id for c in citations],
        **run.spent.receipt_fields(),
        **(extra or {}),
    }
    if outcome is Outcome.ESCALATED:
        body["escalated_to"] = rt.spec.pilot.escalation.to if rt.spec.pilot.escalation else None
    finished = run.entry("task.finished", body)
    stored = rt.log.redactor.redact_text(answer)
    state = TaskState(outcome.value)

    def write(tx: Connection, prepared: PreparedBatch | None = None) -> None:
        _write(rt, run, tx, state, [finished], {"outcome": outcome.value, "answer": stored}, prepared)
        if rt.spec.receipts.checkpoint_at_task_end:
            rt.log.checkpoint(tx)

    if conn is not None:
        write(conn)
    else:
        prepared = rt.log.prepare([*run.queued, finished])  # before the writers' lock (see ``commit``)
        with transaction(rt, run) as tx:
            write(tx, prepared)
    return TaskResult(
        task_id=run.task_id,
        user=run.user.name,
        question=run.question,
        state=TaskState(outcome.value),
        outcome=outcome,
        answer=stored,
        citations=tuple(citations),
        receipts=tuple(run.receipts),
        latency_ms=(time.perf_counter() - run.started) * 1000,
        turns=tuple(run.turns),
    )


def paused(
    rt: Runtime, run: TaskRun, state: TaskState, message: str, *, approval: Approval | None = None
) -> TaskResult:
    """A task that stops without an outcome: waiting for an approval, or parked."""
    if run.queued:
        commit(rt, run, state)
    return TaskResult(
        task_id=run.task_id,
        user=run.user.name,
        question=run.question,
        state=state,
        outcome=None,
        answer=message,
        receipts=tuple(run.receipts),
        latency_ms=(time.perf_counter() - run.started) * 1000,
        approval=approval,
        turns=tuple(run.turns),
    )
