"""The runtime: a task's state machine, from request to recorded outcome, with tools and approvals.

with open_runtime(workspace) as runtime:
    result = runtime.run("Refund 480 EUR for order 100422", user="bob")   # may wait for an approval
    runtime.resume(result.task_id)                                        # once it is decided
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from sqlalchemy import Connection

from pilotgate.approvals import ApprovalQueue
from pilotgate.clock import Clock, IdFactory, new_id, rfc3339, utc_now
from pilotgate.data.sync import SourceSync, sync_sources
from pilotgate.models import Model, Route, Router, build_router
from pilotgate.models.router import DEFAULT_BACKOFF, Backoff
from pilotgate.policy import compile_policy
from pilotgate.receipts import ReceiptLog
from pilotgate.runtime import logs, rows
from pilotgate.runtime.limits import Spent, TaskLimits, limits_from_spec
from pilotgate.runtime.result import TaskResult
from pilotgate.runtime.security import SecurityFigure, unauthorised_risky_executions
from pilotgate.runtime.states import Outcome, TaskState
from pilotgate.runtime.task import Runtime
from pilotgate.runtime.transcript import Citation, ContextPassage
from pilotgate.secrets import SecretResolver
from pilotgate.tools import AdapterFactory, ToolAdapter, ToolCallOutcome, ToolExecutor, ToolRegistry
from pilotgate.tools.executor import Canned
from pilotgate.workspace import Workspace

__all__ = [
    "Citation",
    "ContextPassage",
    "Outcome",
    "Runtime",
    "SecurityFigure",
    "Spent",
    "TaskLimits",
    "TaskResult",
    "TaskState",
    "open_runtime",
    "unauthorised_risky_executions",
]


def open_runtime(
    workspace: Workspace,
    *,
    clock: Clock = utc_now,
    ids: IdFactory = new_id,
    sync: bool = True,
    on_source: Callable[[SourceSync], None] | None = None,
    model: Model | None = None,
    limits: TaskLimits | None = None,
    log: ReceiptLog | None = None,
    resolver: SecretResolver | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    timer: Callable[[], float] = time.perf_counter,
    tool_adapters: Mapping[str, ToolAdapter | AdapterFactory] | None = None,
    expire: bool = True,
    dry_run: bool = False,
    dry_results: Mapping[str, Canned] | None = None,
    wrap_model: Callable[[str, Model], Model] | None = None,
    release: str | None = None,
) -> Runtime:
    """A runtime for the workspace's pilot; close it when done.

    Secrets are resolved through one ``SecretResolver`` whose every value goes to the receipt log's
    redactor before it is used (a ``resolver`` passed in is owned, and closed, by the runtime); while the
    runtime is open, log records are redacted too (``runtime.logs``). ``model`` replaces the pilot's router
    with that one model, timed by ``timer``; ``tool_adapters`` replaces chosen tools' adapters.
    With ``sync`` the sources are brought up to date first; with ``expire`` approvals past their time are
    expired and their tasks escalated.

    For evals: ``dry_run`` records each allowed tool call (``tool.intent`` and ``tool.result`` marked
    ``dry_run``) instead of making it, answering with ``dry_results[tool]`` (a ``ToolOutput`` or a
    function of the arguments) or ``{"dry_run": true}``; ``wrap_model(name, model)`` wraps every model
    the router calls, by its pilot.yaml name (the eval runner's model-call cache). ``release`` is the
    release the runtime serves: every receipt of its tasks carries it.
    """
    log = log or workspace.receipt_log(clock=clock)
    log_filter = logs.install(log.redactor)
    resolver = resolver or SecretResolver.for_pilot(workspace.loaded, on_resolved=log.redactor.register)
    router: Router | None = None
    registry: ToolRegistry | None = None
    try:
        if sync:
            sync_sources(
                workspace.store,
                log,
                workspace.loaded,
                clock=clock,
                on_source=on_source,
                resolve_secret=resolver.resolve,
            )
        if model is not None:
            router = Router([Route(model.name, model)], retries=0, backoff=backoff, sleep=sleep, timer=timer)
        else:
            router = build_router(workspace.spec, resolver.resolve, backoff=backoff, sleep=sleep)
        if wrap_model is not None:
            router.routes = tuple(
                Route(r.name, wrap_model(r.name, r.model), r.pricing) for r in router.routes
            )
        registry = ToolRegistry.from_spec(
            workspace.spec, resolve_secret=resolver.resolve, adapters=tool_adapters
        )

        def park(conn: Connection, outcome: ToolCallOutcome) -> None:
            rows.set_state(conn, outcome.task, TaskState.PARKED, rfc3339(clock()))

        executor = ToolExecutor(
            registry,
            workspace.store,
            log,
            clock=clock,
            on_park=park,
            dry_run=dry_run,
            canned=dict(dry_results or {}),
        )
        runtime = Runtime(
            spec=workspace.spec,
            store=workspace.store,
            log=log,
            router=router,
            registry=registry,
            executor=executor,
            policy=compile_policy(workspace.loaded),
            approvals=ApprovalQueue(workspace.store, log, clock=clock, ids=ids),
            resolver=resolver,
            log_filter=log_filter,
            limits=limits or limits_from_spec(workspace.spec),
            clock=clock,
            ids=ids,
            release=release,
        )
    except BaseException:
        if router is not None:
            router.close()
        if registry is not None:
            registry.close()
        resolver.close()
        logs.uninstall(log_filter)
        raise
    if expire:
        runtime.expire_approvals()
    return runtime
