"""The runtime: a task's state machine, from request to recorded outcome."""

from __future__ import annotations

from collections.abc import Callable

from pilotgate.clock import Clock, IdFactory, new_id, utc_now
from pilotgate.data.sync import SourceSync, sync_sources
from pilotgate.models import Model, ReferenceModel
from pilotgate.runtime.states import Outcome, TaskState
from pilotgate.runtime.task import Runtime, TaskResult
from pilotgate.workspace import Workspace

__all__ = ["Outcome", "Runtime", "TaskResult", "TaskState", "open_runtime"]


def open_runtime(
    workspace: Workspace,
    *,
    clock: Clock = utc_now,
    ids: IdFactory = new_id,
    sync: bool = True,
    on_source: Callable[[SourceSync], None] | None = None,
    model: Model | None = None,
) -> Runtime:
    """A runtime for the workspace's pilot; with ``sync`` its sources are brought up to date first."""
    log = workspace.receipt_log(clock=clock)
    if sync:
        sync_sources(workspace.store, log, workspace.loaded, clock=clock, on_source=on_source)
    return Runtime(
        spec=workspace.spec,
        store=workspace.store,
        log=log,
        model=model or ReferenceModel(),
        clock=clock,
        ids=ids,
    )
