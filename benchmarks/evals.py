"""How fast the eval runner gets through a pack against a model with a fixed latency.

    python benchmarks/evals.py [--cases 1000] [--concurrency 1 16 64] [--latency 0.05] [--repeat 1]
                               [--workers N] [--store sqlite|postgresql+psycopg://...] [--profile N]

A local OpenAI-compatible server (the test double, ``tests/doubles/openai_server.py``) answers every
request after ``--latency`` seconds, in a process of its own, so its CPU is not counted as the runner's.
The pilot is one user, one folder source and ``--cases`` golden cases with a ``contains`` assertion; each
case is a real task (retrieval, a model call through the OpenAI-compatible client, receipts committed
durably, signed checkpoints as pilot.yaml's defaults say) scored and recorded by ``run_evals``. For each
concurrency it prints the wall time beside the ideal (cases x latency / concurrency), their ratio, and the
runner's CPU per case (this process's CPU, all threads, plus that of the run's worker processes, over
the run, divided by the cases). Worker processes are the runner's default for each concurrency on this
machine (``default_workers``: one per 32 tasks in flight, at most one per core) unless ``--workers``
says. Each concurrency runs on a fresh store (SQLite in a temporary folder unless ``--store`` names a
PostgreSQL URL), with the sources ingested beforehand.
``--profile N`` runs once at concurrency N under cProfile (each thread's CPU time, not wall time) and prints
where the CPU went; the profiler itself multiplies the CPU about threefold, so read it for shares.

Targets (issue 5): within 1.3x of the ideal at concurrency 16; at 64, at most 2.27 s for 1,000 cases (a
third of promptfoo's 6.8 s), i.e. under 2 ms of the runner's CPU a case, runtime included.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from pilotgate.data.sync import sync_sources
from pilotgate.evals.processes import default_workers
from pilotgate.evals.runner import RunStats, run_evals
from pilotgate.receipts import generate_signing_key
from pilotgate.workspace import Workspace, open_workspace

TESTS = Path(__file__).resolve().parent.parent / "tests"

PILOT = """\
pilot:
  name: bench-desk
  owner: maria
  workflow: Answer return questions.
users:
  - {{name: alice, groups: [customers]}}
models:
  - {{name: main, provider: openai-compatible, base_url: "{base_url}", model: gpt-4o-mini, timeout: 30s}}
sources:
  - {{name: help, kind: folder, path: sources/help, owner: support, sensitivity: public, read: [customers]}}
evals:
  packs: [evals/bench.jsonl]
receipts:
  signing_key: .pilotgate/signing.key
"""

DOCS = {
    "returns.md": "# Returns\n\nYou have 30 days to return shoes for a full refund, unworn and boxed.\n",
    "shipping.md": "# Shipping\n\nOrders ship within two business days; tracking arrives by email.\n",
    "account.md": "# Account\n\nReset your password from the sign-in page; the link lasts one hour.\n",
}


def write_pilot(root: Path, base_url: str, cases: int) -> Path:
    """The benchmark pilot under ``root``; returns pilot.yaml's path."""
    (root / "sources" / "help").mkdir(parents=True, exist_ok=True)
    for name, body in DOCS.items():
        (root / "sources" / "help" / name).write_text(body, encoding="utf-8")
    (root / "evals").mkdir(exist_ok=True)
    lines = [
        json.dumps(
            {
                "id": f"c{n:04d}",
                "input": f"How long do I have to return shoes? ({n})",
                "user": "alice",
                "category": "golden",
                "assert": [{"kind": "contains", "value": "30 days"}],
            }
        )
        for n in range(cases)
    ]
    (root / "evals" / "bench.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    generate_signing_key(root / ".pilotgate" / "signing.key")
    path = root / "pilot.yaml"
    path.write_text(PILOT.format(base_url=base_url), encoding="utf-8")
    return path


@contextmanager
def model_server(latency: float) -> Iterator[str]:
    """The OpenAI-compatible test double in its own process; yields its base URL."""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "doubles.openai_server", "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def fresh_store(store: str, folder: Path, tag: str) -> Iterator[str]:
    """A URL of an empty store: a new SQLite file, or a new PostgreSQL schema (dropped afterwards)."""
    if store == "sqlite":
        yield f"sqlite:///{folder / f'bench-{tag}.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(store)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        separator = "&" if "?" in store else "?"
        yield f"{store}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


HEADER = (
    f"{'concurrency':>11} {'workers':>7} {'cases':>6} {'wall s':>9} {'ideal s':>9} {'ratio':>7} "
    f"{'CPU ms/case':>11} {'of it sys':>11} {'passed':>7}"
)


@dataclass
class Figure:
    concurrency: int
    workers: int
    cases: int
    wall: float
    cpu: float
    system: float
    """Of ``cpu``, the kernel's share (fsync, sockets)."""
    passed: int

    def line(self, latency: float) -> str:
        ideal = self.cases * latency / self.concurrency
        cpu_ms = self.cpu / self.cases * 1000
        sys_ms = self.system / self.cases * 1000
        return (
            f"{self.concurrency:>11} {self.workers:>7} {self.cases:>6} {self.wall:>9.2f} {ideal:>9.2f} "
            f"{self.wall / ideal:>6.2f}x {cpu_ms:>11.2f} {sys_ms:>11.2f} {self.passed:>7}"
        )


def prepare(pilot: Path, url: str) -> Workspace:
    """Open the workspace on a fresh store and ingest its sources (not part of the timing)."""
    workspace = open_workspace(pilot, url)
    sync_sources(workspace.store, workspace.receipt_log(), workspace.loaded)
    return workspace


@contextmanager
def profiled_threads() -> Iterator[list[cProfile.Profile]]:
    """Profile every thread started inside (the runner's workers) and the calling thread: cProfile sees
    one thread per profiler, so each thread gets its own, merged by the caller. The timer is the thread's
    CPU time, not the wall clock: the figures say where the CPU went, and a thread waiting on the model,
    a lock or an fsync counts nothing (with wall time, 64 waiting threads buried the work)."""
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()
    original = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile(time.thread_time)
        with lock:
            profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    main = cProfile.Profile(time.thread_time)
    profiles.append(main)
    threading.Thread.run = run  # type: ignore[method-assign]
    main.enable()
    try:
        yield profiles
    finally:
        main.disable()
        threading.Thread.run = original  # type: ignore[method-assign]


def cpu_times() -> tuple[float, float]:
    """CPU seconds (all, and the kernel's) of this process and of its children that have ended (the
    eval run's worker processes; the model server is reaped only after the last measure)."""
    times = os.times()
    return (
        times.user + times.system + times.children_user + times.children_system,
        times.system + times.children_system,
    )


def measure(pilot: Path, url: str, concurrency: int, workers: int | None) -> Figure:
    """One run of every case at ``concurrency`` on ``workers`` processes (None: the runner's default for
    this machine), on the store at ``url``."""
    workspace = prepare(pilot, url)
    try:
        stats = RunStats()
        processes = workers if workers is not None else default_workers(concurrency, workspace.store)
        (cpu0, sys0), wall0 = cpu_times(), time.perf_counter()
        run = run_evals(workspace, concurrency=concurrency, workers=processes, sync=False, stats=stats)
        wall = time.perf_counter() - wall0
        cpu1, sys1 = cpu_times()
    finally:
        workspace.close()
    passed = sum(r.passed for r in run.results)
    return Figure(concurrency, processes, len(run.results), wall, cpu1 - cpu0, sys1 - sys0, passed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--latency", type=float, default=0.05, help="the model's fixed latency, seconds")
    parser.add_argument("--repeat", type=int, default=1, help="runs per concurrency; the median is shown")
    parser.add_argument("--store", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument(
        "--workers", type=int, help="worker processes (default: the runner's default for each concurrency)"
    )
    parser.add_argument("--profile", type=int, metavar="N", help="profile one run at concurrency N")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="pilotgate-bench-evals-") as tmp,
        model_server(args.latency) as url,
    ):
        folder = Path(tmp)
        pilot = write_pilot(folder / "pilot", url, args.cases)
        print(
            f"{args.cases} cases, model latency {args.latency * 1000:.0f} ms (server in its own process), "
            f"store {args.store.split('://')[0]}"
        )
        if args.profile:
            with fresh_store(args.store, folder, "profile") as store_url, profiled_threads() as profiles:
                figure = measure(pilot, store_url, args.profile, 1)
            print(HEADER)
            print(figure.line(args.latency))
            merged = pstats.Stats(profiles[0])
            for profile in profiles[1:]:
                merged.add(profile)
            merged.sort_stats("tottime").print_stats(35)
            merged.sort_stats("cumulative").print_stats(60)
            return
        print(HEADER)
        for concurrency in args.concurrency:
            figures = []
            for attempt in range(args.repeat):
                with fresh_store(args.store, folder, f"{concurrency}-{attempt}") as store_url:
                    figures.append(measure(pilot, store_url, concurrency, args.workers))
            walls = [f.wall for f in figures]
            median = figures[walls.index(statistics.median_low(walls))]
            print(median.line(args.latency), flush=True)


if __name__ == "__main__":
    main()
