"""Worker processes for an eval run: more than one core for the work between the model's replies.

An eval run's tasks spend their time waiting on the model, and threads overlap those waits. The work in
between (retrieval, policy, receipts, scoring: about 2 ms of CPU a case) runs under one interpreter lock,
so at 64 tasks in flight one process keeps one core busy and the run waits for it. With ``workers`` > 1
the run forks that many processes once it is planned. Each process opens its own store connections and
runtime from the parent's loaded pilot.yaml, and its threads take (case, repeat) pairs from a shared
counter, ``concurrency / workers`` at a time. All of them append to the same receipt chain. Appends are
serialized by SQLite's write lock (``BEGIN IMMEDIATE``) or by PostgreSQL's lock on the head row, just as
for two pilotgate commands run at once. Results come back to the parent over a pipe, so ``on_result`` (the
progress bar) still runs on the caller's thread, and each result is committed by its worker before it
is sent.

Forked, not spawned: a forked child starts in milliseconds with the pilot already loaded, while a spawned
interpreter spends about a second importing. Fork needs POSIX, so elsewhere ``workers`` stays 1. The parent
forks before it starts any thread of its own. A caller that has other threads running when it asks for
workers gets Python's own warning about fork (3.12+). The child touches only what it opens itself, and the
store's module state is reset in the child (``store.engine``).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from pilotgate.errors import PilotgateError, UsageError
from pilotgate.evals.runs import CaseResult
from pilotgate.store import Store, open_store
from pilotgate.workspace import Workspace

MAX_WORKERS = 64

THREADS_PER_WORKER = 32
"""``default_workers`` adds a process for each this many tasks in flight: up to ~32 threads, one process
keeps its interpreter lock busy without convoying on it (measured: CPU a case rose from 1.95 ms at 16
threads to 2.4 ms at 64 in one process, against a 50 ms model)."""


class StopFlag(Protocol):
    """``threading.Event`` in one process, ``multiprocessing.Event`` across several."""

    def is_set(self) -> bool: ...

    def set(self) -> None: ...


CaseWorker = Callable[[str, int], "CaseResult | None"]
"""Runs one (case, repeat), records its result, returns it (None once the run is stopping)."""

OpenWorker = Callable[[Workspace, StopFlag, Any], AbstractContextManager[CaseWorker]]
"""Opens a case worker on a workspace (the child's own store), with the run's stop flag and the child's
``RunStats``; closes it on exit."""


def fork_available() -> bool:
    """Whether this platform can fork worker processes."""
    return "fork" in multiprocessing.get_all_start_methods()


def shareable(store: Store) -> bool:
    """Whether other processes can open ``store`` by its URL (an in-memory SQLite database cannot)."""
    return not (store.dialect == "sqlite" and store.writers is not None and not store.writers.database)


def default_workers(concurrency: int, store: Store) -> int:
    """Worker processes for a run at ``concurrency``: one per ``THREADS_PER_WORKER`` tasks in flight, at
    most one per core; 1 where processes cannot fork or share the store."""
    if not fork_available() or not shareable(store):
        return 1
    return max(1, min(os.cpu_count() or 1, concurrency // THREADS_PER_WORKER))


def check_workers(workers: int, store: Store) -> None:
    """UsageError unless ``workers`` processes can run on ``store`` here."""
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"workers must be 1 to {MAX_WORKERS}; got {workers}")
    if workers == 1:
        return
    if not fork_available():
        raise UsageError(
            "worker processes need fork(), which this platform does not have", hint="use one worker"
        )
    if not shareable(store):
        raise UsageError(
            "an in-memory SQLite store cannot be shared by worker processes",
            hint="use a database file (the default) or PostgreSQL, or one worker",
        )


class WorkerFailed(PilotgateError):
    """A worker process stopped with an error, or died; what it finished is recorded."""


@dataclass
class _Shared:
    """What the processes share: the pairs to run, the next one to take, the stop flag."""

    pending: Sequence[tuple[str, int]]
    taken: Any
    """``multiprocessing.Value``: how many pairs have been taken."""
    stop: StopFlag
    parent: int
    """The parent's pid: a worker whose parent is gone stops taking pairs."""

    def take(self) -> int | None:
        """The index of the next pair to run; None when none is left or the run is stopping."""
        if self.stop.is_set() or os.getppid() != self.parent:
            return None
        with self.taken.get_lock():
            index = int(self.taken.value)
            if index >= len(self.pending):
                return None
            self.taken.value = index + 1
        return index


def split(concurrency: int, workers: int) -> list[int]:
    """Threads per worker: ``concurrency`` shared as evenly as it goes (the first ones get the rest)."""
    share, rest = divmod(concurrency, workers)
    return [share + (1 if n < rest else 0) for n in range(workers)]


def run_in_processes(
    workspace: Workspace,
    pending: Sequence[tuple[str, int]],
    *,
    workers: int,
    concurrency: int,
    open_worker: OpenWorker,
    on_result: Callable[[CaseResult], None],
    on_cache: Callable[[int, int], None] | None = None,
    on_forked: Callable[[], None] | None = None,
) -> None:
    """Run ``pending`` on ``workers`` forked processes with ``concurrency`` threads between them.

    ``on_result`` is called on this thread for each result, after its worker has recorded it (also
    for those that finish after a stop);
    ``on_cache(hits, misses)`` once per worker that used the model cache; ``on_forked()`` once every
    worker is started (the progress bar starts its thread then, not before the fork). On Ctrl-C (here or
    in a worker) no new pair is taken, the pairs in flight finish and are recorded, and KeyboardInterrupt
    is raised.
    A worker's error stops the others the same way and is raised here: the worker's own ``PilotgateError``
    when it can be sent, else ``WorkerFailed``.
    """
    context = multiprocessing.get_context("fork")
    shared = _Shared(pending, context.Value("q", 0), context.Event(), os.getpid())
    children: dict[Connection, multiprocessing.process.BaseProcess] = {}
    gc.freeze()  # parent and children share the heap's pages until written; a collection would write them
    try:
        for number, threads in enumerate(split(concurrency, workers)):
            reader, writer = context.Pipe(duplex=False)
            child = context.Process(
                target=_child,
                args=(number, workspace, shared, writer, threads, open_worker),
                name=f"pilotgate-eval-{number}",
            )
            child.start()
            writer.close()  # only the child writes: its end closing is how the parent sees it stop
            children[reader] = child
        if on_forked is not None:
            on_forked()
        _collect(children, shared, on_result, on_cache)
    finally:
        gc.unfreeze()


def _collect(
    children: dict[Connection, multiprocessing.process.BaseProcess],
    shared: _Shared,
    on_result: Callable[[CaseResult], None],
    on_cache: Callable[[int, int], None] | None,
) -> None:
    """Read every worker's messages until all have stopped (a worker blocked on a full pipe would never
    stop), then raise what stopped the run, if anything. A second Ctrl-C stops waiting at once."""
    failures: list[BaseException] = []
    interrupted = False

    def stop(error: BaseException | None = None) -> None:
        if error is not None:
            failures.append(error)
        shared.stop.set()

    open_ends = dict(children)
    while open_ends:
        try:
            ready = wait(list(open_ends))
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = True
            stop()
            continue
        for reader in ready:
            try:
                message = reader.recv()
            except (EOFError, OSError):
                child = open_ends.pop(reader)
                child.join()
                if child.exitcode not in (0, None):
                    stop(
                        WorkerFailed(
                            f"eval worker {child.name} died (exit code {child.exitcode}); the cases it "
                            "finished are recorded",
                            hint="resume the run to do the rest",
                        )
                    )
                continue
            kind = message[0]
            if kind == "result":
                try:
                    on_result(message[1])
                except KeyboardInterrupt:
                    interrupted = True
                    stop()
                except Exception as exc:  # the caller's callback: stop the run, raise it at the end
                    stop(exc)
            elif kind == "cache" and on_cache is not None:
                on_cache(message[1], message[2])
            elif kind == "interrupted":
                interrupted = True
                stop()
            elif kind == "failed":
                stop(message[1])
    for child in children.values():
        child.join()
    if failures:
        raise failures[0]
    if interrupted:
        raise KeyboardInterrupt


def _child(
    number: int,
    workspace: Workspace,
    shared: _Shared,
    pipe: Connection,
    threads: int,
    open_worker: OpenWorker,
) -> None:
    """A worker process: its own store and runtime, ``threads`` threads taking pairs until none is left."""
    from pilotgate.evals.runner import RunStats

    stats = RunStats()
    try:
        own = replace(workspace, store=open_store(workspace.store.url, migrate=False))
        try:
            with open_worker(own, shared.stop, stats) as worker:
                gc.freeze()  # its own runtime lives as long as the process: keep the collector off it too
                _take_and_run(worker, shared, pipe, threads)
        finally:
            own.close()
        if stats.cache is not None:
            pipe.send(("cache", stats.cache.hits, stats.cache.misses))
    except KeyboardInterrupt:
        shared.stop.set()
        pipe.send(("interrupted",))
    except BaseException as exc:
        shared.stop.set()
        pipe.send(("failed", _portable(exc, number)))
    finally:
        pipe.close()


def _take_and_run(worker: CaseWorker, shared: _Shared, pipe: Connection, threads: int) -> None:
    """``threads`` threads, each taking the next pair, running it and sending its result, until none is
    left; the first error stops them all and is raised once those in flight have finished."""
    sending = threading.Lock()

    def loop() -> None:
        while (index := shared.take()) is not None:
            result = worker(*shared.pending[index])
            if result is None:
                return
            with sending:
                pipe.send(("result", result))

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pilotgate-eval") as pool:
        futures = [pool.submit(loop) for _ in range(threads)]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            shared.stop.set()
            raise


def _portable(exc: BaseException, number: int) -> BaseException:
    """``exc`` if it survives pickling (a ``PilotgateError`` keeps its class and message), else a
    ``WorkerFailed`` that names it."""
    with contextlib.suppress(Exception):
        if isinstance(exc, PilotgateError):
            # Our own bytes, made a line above: the round trip proves the pipe can carry it.
            copy: BaseException = pickle.loads(pickle.dumps(exc))  # noqa: S301
            return copy
    said = exc.message if isinstance(exc, PilotgateError) else str(exc)
    return WorkerFailed(f"eval worker {number} failed: {type(exc).__name__}: {said}"[:2000])


__all__ = [
    "MAX_WORKERS",
    "StopFlag",
    "WorkerFailed",
    "check_workers",
    "default_workers",
    "fork_available",
    "run_in_processes",
    "split",
]
