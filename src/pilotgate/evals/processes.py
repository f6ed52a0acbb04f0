"""Worker processes for an eval run: more than one core for the work between the model's replies.

An eval run's tasks spend their time waiting on the model, and threads overlap those waits. The work in
between (retrieval, policy, receipts, scoring: about 2 ms of CPU a case) runs under one interpreter lock,
so at 64 tasks in flight one process keeps one core busy and the run waits for it. With ``workers`` > 1
the run forks that many processes once it is planned. Each process opens its own store connections and
runtime from the parent's loaded pilot.yaml, and its threads take the pairs of its share (every
``workers``-th pending (case, repeat)), ``concurrency / workers`` at a time. All of them append to the
same receipt chain. Appends are serialized by SQLite's write lock (``BEGIN IMMEDIATE``) or by
PostgreSQL's lock on the head row, just as for two pilotgate commands run at once. Results come back to
the parent over a pipe, so ``on_result`` (the progress bar) still runs on the caller's thread, and each
result is committed by its worker before it is sent.

Forked, not spawned: a forked child starts in milliseconds with the pilot already loaded, while a spawned
interpreter spends about a second importing. Fork needs POSIX, so elsewhere ``workers`` stays 1. The parent
forks before it starts any thread of its own, and with no connection to the store open: SQLite keeps a
process's file locks in memory a child would inherit (see ``_release_connections``). A caller that has
other threads running when it asks for workers gets Python's own warning about fork (3.12+). The child
touches only what it opens itself, and the store's module state is reset in the child (``store.engine``).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
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
    """``threading.Event`` in one process; across several, a shared byte (``_StopFlag``)."""

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


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says; else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def default_workers(concurrency: int, store: Store) -> int:
    """Worker processes for a run at ``concurrency``: one per ``THREADS_PER_WORKER`` tasks in flight, at
    most one per usable core; 1 where processes cannot fork or share the store, and off Linux (macOS can
    fork, but Python starts processes afresh there because some of its system libraries break in a forked
    child; ``workers`` can still be asked for)."""
    if not sys.platform.startswith("linux") or not fork_available() or not shareable(store):
        return 1
    return max(1, min(usable_cores(), concurrency // THREADS_PER_WORKER))


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


class _StopFlag:
    """The run's stop flag across processes: one shared byte, read and written without a lock, so a
    worker killed at any instant can never leave the others waiting on it."""

    def __init__(self, context: Any) -> None:
        self._byte = context.RawValue("b", 0)

    def is_set(self) -> bool:
        return bool(self._byte.value)

    def set(self) -> None:
        self._byte.value = 1


@dataclass
class _Share:
    """One worker's part of the run: every ``workers``-th pending pair, from its own number on. Fixed shares
    need no lock between processes (a shared counter's lock, held by a worker that is killed, would stop
    the others for good); interleaved, they hold the same mix of cases."""

    pairs: Sequence[tuple[str, int]]
    stop: StopFlag
    parent: int
    """The parent's pid: a worker whose parent is gone stops taking pairs."""
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> tuple[str, int] | None:
        """The next pair to run; None when none is left or the run is stopping."""
        if self.stop.is_set() or os.getppid() != self.parent:
            return None
        with self._lock:
            if self._next >= len(self.pairs):
                return None
            pair = self.pairs[self._next]
            self._next += 1
        return pair


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

    ``on_result`` is called on this thread for each result, after its worker has recorded it (also for
    those that finish after a stop); ``on_cache(hits, misses)`` once per worker that used the model cache;
    ``on_forked()`` once every worker is started (the progress bar starts its thread then, not before the
    fork).

    Whatever stops the run, this returns only once every worker has exited. On Ctrl-C (here or in the
    terminal's whole process group) no new pair is taken, the pairs in flight finish and are recorded,
    and KeyboardInterrupt is raised; a second Ctrl-C ends the workers at once (what they committed stays,
    what they had not is rolled back and left pending). A worker's error, a worker that dies, or an
    error raised by a callback stops the others the same way and is raised here: a worker's own
    ``PilotgateError`` when it can be sent, else ``WorkerFailed``.
    """
    _release_connections(workspace.store)
    context = multiprocessing.get_context("fork")
    stop = _StopFlag(context)
    outcome = _Outcome(stop)
    children: dict[Connection, multiprocessing.process.BaseProcess] = {}
    gc.freeze()  # parent and children share the heap's pages until written; a collection would write them
    try:
        with _sigint_ignored():  # a worker installs its own handler; none may die of Ctrl-C half-started
            for number, threads in enumerate(split(concurrency, workers)):
                share = _Share(pending[number::workers], stop, os.getpid())
                reader, writer = context.Pipe(duplex=False)
                child = context.Process(
                    target=_child,
                    args=(number, workspace, share, writer, threads, open_worker),
                    name=f"pilotgate-eval-{number}",
                )
                child.start()
                writer.close()  # only the child writes: its end closing is how the parent sees it stop
                children[reader] = child
        if on_forked is not None:
            on_forked()
    except BaseException as exc:
        outcome.caught(exc)
    finally:
        gc.unfreeze()
    _collect(children, outcome, on_result, on_cache)
    outcome.raise_if_stopped()


def _release_connections(store: Store) -> None:
    """Close every connection the store holds, before the fork (it reopens them on next use).

    SQLite keeps a process's locks on a database file in per-process memory that a forked child inherits:
    a child opening the file while the parent holds a connection to it would believe it held locks it does
    not, and the parent, closing its last connection, would checkpoint and delete the WAL under the
    children's commits. So no connection to the store may be open here when the workers fork; another
    Store open on the same file in this process is refused."""
    store.release()
    if store.dialect != "sqlite" or store.writers is None or not store.writers.database:
        return
    database = os.path.realpath(store.writers.database)
    if _open_files() & {database, database + "-wal", database + "-shm", database + "-journal"}:
        raise UsageError(
            f"another connection to {database} is open in this process; worker processes cannot share "
            "the file with it",
            hint="close other stores on the same database first, or run on one worker",
        )


def _open_files() -> set[str]:
    """The paths of this process's open file descriptors (Linux's /proc; elsewhere none are known)."""
    paths = set()
    with contextlib.suppress(OSError):
        for fd in Path("/proc/self/fd").iterdir():
            with contextlib.suppress(OSError):
                paths.add(str(fd.readlink()))
    return paths


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while the workers fork (only the main thread can change it; elsewhere, unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class _Outcome:
    """What stopped the run, as the parent saw it."""

    stop: StopFlag
    failures: list[BaseException] = field(default_factory=list)
    interrupted: bool = False

    def caught(self, exc: BaseException) -> None:
        """Stop the run for ``exc``: Ctrl-C, or an error to raise once the workers have exited."""
        if isinstance(exc, KeyboardInterrupt):
            self.interrupted = True
        else:
            self.failures.append(exc)
        self.stop.set()

    def raise_if_stopped(self) -> None:
        if self.failures:
            raise self.failures[0]
        if self.interrupted:
            raise KeyboardInterrupt


def _collect(
    children: dict[Connection, multiprocessing.process.BaseProcess],
    outcome: _Outcome,
    on_result: Callable[[CaseResult], None],
    on_cache: Callable[[int, int], None] | None,
) -> None:
    """Read every worker's messages until all have exited: a worker blocked on a full pipe would never
    exit. Nothing raised here ends the loop early; a second Ctrl-C terminates the workers instead."""
    open_ends = dict(children)
    while open_ends:
        try:
            for reader in wait(list(open_ends)):
                try:
                    message = reader.recv()
                except (EOFError, OSError):
                    child = open_ends.pop(reader)
                    child.join()
                    if child.exitcode not in (0, None) and not outcome.interrupted:
                        outcome.caught(
                            WorkerFailed(
                                f"eval worker {child.name} died (exit code {child.exitcode}); the cases "
                                "it finished are recorded",
                                hint="resume the run to do the rest",
                            )
                        )
                    continue
                _dispatch(message, outcome, on_result, on_cache)
        except KeyboardInterrupt:
            if outcome.interrupted:
                for child in open_ends.values():
                    child.terminate()
            outcome.caught(KeyboardInterrupt())
        except BaseException as exc:  # a callback's error: stop, keep draining, raise it at the end
            outcome.caught(exc)
    for child in children.values():
        child.join()


def _dispatch(
    message: tuple[Any, ...],
    outcome: _Outcome,
    on_result: Callable[[CaseResult], None],
    on_cache: Callable[[int, int], None] | None,
) -> None:
    kind = message[0]
    if kind == "result":
        on_result(message[1])
    elif kind == "cache" and on_cache is not None:
        on_cache(message[1], message[2])
    elif kind == "interrupted":
        outcome.caught(KeyboardInterrupt())
    elif kind == "failed":
        outcome.caught(message[1])


def _child(
    number: int,
    workspace: Workspace,
    share: _Share,
    pipe: Connection,
    threads: int,
    open_worker: OpenWorker,
) -> None:
    """A worker process: its own store and runtime, ``threads`` threads taking pairs until none is left.

    Ctrl-C sets the stop flag and nothing else: the pairs in flight finish and are recorded (the parent
    ends the worker on a second Ctrl-C)."""
    from pilotgate.evals.runner import RunStats

    signal.signal(signal.SIGINT, lambda signum, frame: share.stop.set())
    stats = RunStats()
    try:
        own = replace(workspace, store=open_store(workspace.store.url, migrate=False))
        try:
            with open_worker(own, share.stop, stats) as worker:
                gc.freeze()  # its own runtime lives as long as the process: keep the collector off it too
                _take_and_run(worker, share, pipe, threads)
        finally:
            own.close()
            if stats.cache is not None:
                pipe.send(("cache", stats.cache.hits, stats.cache.misses))
    except BaseException as exc:
        share.stop.set()
        if not isinstance(exc, PilotgateError):
            _print_where(exc)
        pipe.send(("failed", _portable(exc, number)))
    finally:
        pipe.close()


def _take_and_run(worker: CaseWorker, share: _Share, pipe: Connection, threads: int) -> None:
    """``threads`` threads, each taking the next pair, running it and sending its result, until none is
    left; the first error stops them all and is raised once those in flight have finished."""
    sending = threading.Lock()

    def loop() -> None:
        while (pair := share.take()) is not None:
            result = worker(*pair)
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
            share.stop.set()
            raise


def _portable(exc: BaseException, number: int) -> BaseException:
    """``exc`` if it survives pickling (a ``PilotgateError`` keeps its class, message and hint), else a
    ``WorkerFailed`` that names it."""
    with contextlib.suppress(Exception):
        if isinstance(exc, PilotgateError):
            # Our own bytes, made a line above: the round trip proves the pipe can carry it.
            copy: BaseException = pickle.loads(pickle.dumps(exc))  # noqa: S301
            return copy
    if isinstance(exc, PilotgateError):
        return WorkerFailed(f"eval worker {number} failed: {type(exc).__name__}: {exc.message}"[:2000])
    return WorkerFailed(
        f"eval worker {number} failed: {type(exc).__name__}",
        hint="where it was raised is on stderr; its text is not shown (it could hold a secret)",
    )


def _print_where(exc: BaseException) -> None:
    """A bug's traceback on stderr, without the exception's text: only pilotgate's own error messages are
    written to name no secret, and nothing here can redact another exception's text."""
    lines = traceback.format_tb(exc.__traceback__)
    sys.stderr.write("".join(["Traceback (most recent call last):\n", *lines, f"{type(exc).__name__}\n"]))


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
