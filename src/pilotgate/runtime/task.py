"""The runtime: one pilot's model router, tools, policy and approval queue, and the tasks that use them.

``run`` starts a task (its row, ``task.started`` and ``retrieval`` in one transaction) and drives the loop
(``runtime.loop``) until it finishes or waits for a person. Retrieval is ``pilotgate.data.retrieve`` under
the pilot's source registry (built once per runtime): the model sees only what the caller may read, stale
passages flagged and old content of ``stale: exclude`` sources left out; the ``retrieval`` receipt records
each result's provenance and conflict notes, and counts (never content) of what was withheld. ``resume``
continues a task that waited: after its approval was decided, or after a crash (``after_crash=True``); it
first asks the tool executor to recover any call left between intent and result, so nothing is re-run
blindly. ``expire_approvals`` escalates tasks whose approval ran out of time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pilotgate.approvals import ApprovalQueue
from pilotgate.clock import Clock, IdFactory, new_id, rfc3339, utc_now
from pilotgate.data import SourceRegistry, retrieve
from pilotgate.errors import PilotgateError, TaskError
from pilotgate.models import ToolDefinition
from pilotgate.models.router import Router
from pilotgate.policy import CompiledPolicy
from pilotgate.receipts import ReceiptLog
from pilotgate.runtime import logs, rows
from pilotgate.runtime.limits import DEFAULT_LIMITS, Spent, TaskLimits
from pilotgate.runtime.logs import RedactingFilter
from pilotgate.runtime.loop import (
    WORKER_ACTOR,
    PendingCall,
    TaskRun,
    drive,
    finish,
    log,
    parked_result,
    paused,
)
from pilotgate.runtime.result import TaskResult
from pilotgate.runtime.states import Outcome, TaskState
from pilotgate.runtime.transcript import ContextPassage, load_passages, load_turns
from pilotgate.secrets import SecretResolver
from pilotgate.spec import PilotSpec, UserSpec
from pilotgate.store import Store
from pilotgate.tools import ToolExecutor, ToolRegistry

MAX_QUESTION_CHARS = 8_000
"""A question longer than this is refused before anything is recorded."""

RETRIEVAL_LIMIT = 5
"""How many chunks a task retrieves for the model."""

__all__ = ["MAX_QUESTION_CHARS", "RETRIEVAL_LIMIT", "WORKER_ACTOR", "Runtime", "TaskResult"]


@dataclass
class Runtime:
    """Runs tasks of one pilot. Close it (or use ``with``) to close model clients, tools and secrets."""

    spec: PilotSpec
    store: Store
    log: ReceiptLog
    router: Router
    registry: ToolRegistry
    executor: ToolExecutor
    policy: CompiledPolicy
    approvals: ApprovalQueue
    resolver: SecretResolver | None = None
    log_filter: RedactingFilter | None = None
    limits: TaskLimits = DEFAULT_LIMITS
    clock: Clock = utc_now
    ids: IdFactory = new_id
    release: str | None = None
    """The release this runtime serves: every receipt of a task it starts carries it (and the task row)."""
    _offered: dict[str, tuple[ToolDefinition, ...]] = field(default_factory=dict, repr=False)
    _sources: SourceRegistry | None = field(default=None, repr=False)

    @property
    def sources(self) -> SourceRegistry:
        """The pilot's source rules (freshness, rank), built once: not per task."""
        if self._sources is None:
            self._sources = SourceRegistry.from_spec(self.spec.sources)
        return self._sources

    @property
    def pilot(self) -> str:
        """The pilot's name."""
        return self.spec.pilot.name

    def user(self, name: str) -> UserSpec:
        """The declared user called ``name``, or a TaskError naming the users there are."""
        for user in self.spec.users:
            if user.name == name:
                return user
        known = ", ".join(user.name for user in self.spec.users) or "none declared"
        raise TaskError(
            f"unknown user {name!r}: pilot {self.pilot!r} declares {known}",
            hint="add the user under `users:` in pilot.yaml, or pass --user with a declared name",
        )

    def offered(self, user: UserSpec) -> tuple[ToolDefinition, ...]:
        """The tools ``user``'s roles allow: the only ones the model is shown for their tasks."""
        cached = self._offered.get(user.name)
        if cached is None:
            groups = set(user.groups)
            cached = tuple(
                ToolDefinition(t.name, t.spec.description, dict(t.spec.args))
                for t in self.registry
                if groups & set(t.spec.roles)
            )
            self._offered[user.name] = cached
        return cached

    # --- starting --------------------------------------------------------------------------------------

    def run(self, question: str, *, user: str) -> TaskResult:
        """Run one task for ``user`` until it finishes or waits for a person."""
        question = question.strip()
        if not question:
            raise TaskError("the question is empty", hint='pass the question in quotes: pilotgate run "..."')
        if len(question) > MAX_QUESTION_CHARS:
            raise TaskError(
                f"the question has {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}",
                hint="shorten it",
            )
        caller = self.user(user)
        now = self.clock()
        with self.store.read(warm=True) as conn:
            found = retrieve(
                conn,
                pilot=self.pilot,
                query=question,
                groups=list(caller.groups),
                limit=RETRIEVAL_LIMIT,
                registry=self.sources,
                now=now,
            )
        passages = [ContextPassage.of(chunk) for chunk in found.chunks]
        run = TaskRun(
            self.ids("task"),
            caller,
            question,
            passages,
            release=self.release,
            created_at=rfc3339(now),
        )
        # Queued, not committed: they commit with the task's first durable step (see ``runtime.loop``).
        run.queued.append(
            run.entry(
                "task.started",
                {"input": question, "user": caller.name, "groups": sorted(caller.groups)},
                actor={"kind": "user", "id": caller.name},
            )
        )
        run.queued.append(run.entry("retrieval", found.receipt_body()))
        return self._drive(run)

    # --- continuing --------------------------------------------------------------------------------------

    def resume(self, task_id: str, *, after_crash: bool = False) -> TaskResult:
        """Continue a task that waited for an approval (once it is decided), exactly once.

        ``after_crash`` also continues a task left ``running`` by a process that died. Either way the tool
        executor first recovers any call left between intent and result (retry, reconcile or park); a task
        whose call is parked stays parked.
        """
        with self.store.read() as conn:
            row = rows.load(conn, self.pilot, task_id)
        if row.state is TaskState.PARKED:
            raise TaskError(
                f"task {task_id} is parked: a tool call's outcome is unknown",
                hint="check the tool by its idempotency key (`pilotgate receipts list --task ID`); "
                "a parked task is never continued automatically",
            )
        resumable = {TaskState.AWAITING_APPROVAL} | ({TaskState.RUNNING} if after_crash else set())
        if row.state not in resumable:
            raise TaskError(
                f"task {task_id} is {row.state.value}; there is nothing to resume",
                hint="a task resumes once, after its approval is decided",
            )
        run = self._restore(row)
        if row.state is TaskState.AWAITING_APPROVAL:
            waiting = run.pending[0] if run.pending else None
            if waiting is None or waiting.approval is None:
                raise TaskError(
                    f"task {task_id} waits for no approval", hint="this is a bug; please report it"
                )
            approval = self.approvals.get(waiting.approval)
            if approval.state == "pending":
                return paused(
                    self, run, TaskState.AWAITING_APPROVAL, f"approval {approval.id} is still pending"
                )
            with self.store.write() as conn:
                if not rows.claim(conn, task_id, TaskState.AWAITING_APPROVAL, rfc3339(self.clock())):
                    raise TaskError(f"task {task_id} was resumed already", hint="a task resumes exactly once")
        recovered = self.executor.recover(task_id, release=run.release)
        for outcome in recovered:
            run.receipts.extend(outcome.receipts)
            if outcome.state == "parked":
                return parked_result(self, run, outcome)
        return self._drive(run)

    def _drive(self, run: TaskRun) -> TaskResult:
        """The loop; an error that escapes it is recorded (the task ``failed``) before it is raised."""
        try:
            return drive(self, run)
        except Exception as exc:
            self._fail(run, exc)
            raise

    def _fail(self, run: TaskRun, exc: Exception) -> None:
        # A pilotgate error's message is written for users and names no secret; any other exception's
        # text might hold data, so only its type is recorded.
        said = f": {exc.message}" if isinstance(exc, PilotgateError) else ""
        try:
            finish(
                self,
                run,
                Outcome.FAILED,
                f"The task failed ({type(exc).__name__}{said}).",
                extra={"error": type(exc).__name__},
            )
        except Exception:
            log.exception("task %s: could not record its failure", run.task_id)

    def _restore(self, row: rows.TaskRow) -> TaskRun:
        return TaskRun(
            task_id=row.id,
            user=self.user(row.user),
            question=row.input,
            passages=load_passages(row.context),
            turns=load_turns(row.transcript),
            pending=[PendingCall.from_json(item) for item in row.pending],
            step=row.step,
            spent=Spent.from_json(row.spent),
            release=row.release,
            saved=True,
        )

    def expire_approvals(self) -> list[str]:
        """Expire approvals past their time and escalate their tasks; returns the escalated task ids."""
        escalated: list[str] = []
        with self.log.transaction(self.store) as conn:
            expired = self.approvals.expire_due(conn=conn)
            waiting = rows.awaiting(conn, self.pilot, [a.task for a in expired])
            for approval in expired:
                if approval.task not in waiting:
                    continue
                run = self._restore(rows.load(conn, self.pilot, approval.task))
                finish(
                    self,
                    run,
                    Outcome.ESCALATED,
                    f"Approval {approval.id} for {approval.tool} expired at {approval.expires_at}; a person "
                    "will take the task over.",
                    extra={"approval": approval.id, "reason": "approval_expired"},
                    conn=conn,
                )
                escalated.append(approval.task)
                waiting.discard(approval.task)
        return escalated

    # --- lifetime ----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the model clients, tool adapters and secret backends."""
        self.router.close()
        self.registry.close()
        if self.resolver is not None:
            self.resolver.close()
        if self.log_filter is not None:
            logs.uninstall(self.log_filter)
            self.log_filter = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
