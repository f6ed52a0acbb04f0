"""How much time pilotgate itself adds to a task, beside the model's own time.

    python benchmarks/runtime.py [--tasks 300] [--latency-ms 5] [--chunks 10000] [--rounds 1]
                                 [--pg postgresql+psycopg://...]

Runs tasks inline (one process, one after another) through the real runtime against a local
OpenAI-compatible server with a fixed latency: ``tests/doubles/openai_server.py``, a *test double of the
chat-completions protocol* (not OpenAI: it answers from a script), on 127.0.0.1 in a thread. The pilot is
the demo support desk plus a folder source of synthetic Markdown holding ``--chunks`` chunks, so retrieval
ranks over that many. Three task shapes:

- **policy**: the model asks for ``issue_refund`` on an order the request did not name (what an instruction
  planted in a document asks for) and the policy denies it; the model then answers (retrieval, two model
  calls, one policy decision; 6 receipts in 1 commit). This is the shape issue 4's target names:
  "retrieval over 10,000 chunks, policy, six receipts";
- **tool**: the model asks for ``lookup_order`` (a read tool: retrieval, two model calls, one policy
  decision, the tool's intent and result; 8 receipts in 2 commits: up to the intent, then the rest, a
  repeatable read's result included, see ``runtime.loop``);
- **answer**: the model answers at once (retrieval, one model call; 4 receipts in 1 commit).

For each task: total wall time, and model time = the wall time spent inside ``Router.route`` (the
OpenAI-compatible client, HTTP and the server's fixed latency). Overhead = total - model: pilotgate's
own time (retrieval, policy, the tool, receipts, commits, the task row). CPU is the running thread's CPU
time (the server double runs in another thread), outside the router (pilotgate) and inside it (the
model client).
It prints tasks/s, overhead p50 / p95 and CPU p50 on SQLite
(a file, WAL, synchronous=FULL) and on PostgreSQL (``--pg`` or PILOTGATE_BENCH_POSTGRES_URL /
PILOTGATE_TEST_POSTGRES_URL; skipped with a note when absent). On a machine whose speed drifts (a shared
VM can be 30-40% off between runs minutes apart), ``--rounds N`` alternates the shapes N times on the
same store and prints the median of each figure.

Target (issue 4): overhead p50 < 1.5 ms per task on SQLite.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from doubles.openai_server import OpenAIServerDouble, Reply
from doubles.openai_server import text as text_reply
from doubles.openai_server import tool_call as tool_reply
from pilotgate.demo import scaffold_pilot
from pilotgate.models import NO_BACKOFF
from pilotgate.runtime import Runtime, open_runtime
from pilotgate.testing import fresh_postgres_schema
from pilotgate.workspace import open_workspace

WORDS = [f"w{i:05d}" for i in range(20_000)]
SHAPES = ("tool", "policy", "answer")
SEED = 7


def write_corpus(folder: Path, chunks: int) -> None:
    """``chunks`` sections of 300-700 characters in Markdown files of five sections each."""
    rng = random.Random(SEED)
    folder.mkdir(parents=True)
    weights = [1 / (rank + 1) for rank in range(len(WORDS))]
    for doc in range((chunks + 4) // 5):
        sections = []
        for section in range(min(5, chunks - doc * 5)):
            words = rng.choices(WORDS, weights, k=rng.randint(50, 110))
            sections.append(f"## Section {section}\n{' '.join(words)}.\n")
        (folder / f"doc{doc:05d}.md").write_text(f"# Document {doc}\n\n" + "\n".join(sections))


def make_pilot(root: Path, base_url: str, chunks: int) -> None:
    """The demo pilot, with its model pointed at the double and a big folder source added."""
    scaffold_pilot(root)
    write_corpus(root / "sources" / "kb", chunks)
    pilot = root / "pilot.yaml"
    source = pilot.read_text()
    start, end = source.index("models:"), source.index("tools:")
    model = (
        "models:\n"
        "  - name: primary\n"
        "    provider: openai-compatible\n"
        f"    base_url: {base_url}\n"
        "    model: gpt-4o-mini\n"
        "    timeout: 10s\n"
        "    price: {input_per_mtok: 0.15, output_per_mtok: 0.6}\n\n"
    )
    source = source[:start] + model + source[end:]
    kb = (
        "  - name: kb\n    kind: folder\n    path: sources/kb\n    owner: bench\n    sensitivity: internal\n"
        "    read: [agents]\n    freshness: 365d\n    rank: 4\n"
    )
    at = source.index("\n", source.index("\nsources:") + 1) + 1  # the first entry of the sources list
    source = source[:at] + kb + source[at:]
    source = source.replace("checkpoint_at_task_end: true", "checkpoint_at_task_end: false")
    pilot.write_text(source)


@contextmanager
def timed_router(runtime: Runtime) -> Iterator[list[tuple[float, float]]]:
    """Record the wall time and this thread's CPU time of every ``Router.route`` call (the model's time:
    the OpenAI-compatible client, HTTP and the server's latency)."""
    spent: list[tuple[float, float]] = []
    original = runtime.router.route

    def route(*args: Any, **kwargs: Any) -> Any:
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append((time.perf_counter() - began, time.thread_time() - cpu))

    runtime.router.route = route  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        runtime.router.route = original  # type: ignore[method-assign]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class ShapeRun:
    """What one shape's tasks measured, per task in ms."""

    rate: float
    overhead: list[float] = field(default_factory=list)
    """Wall time minus the time inside the router."""
    cpu: list[float] = field(default_factory=list)
    """The running thread's CPU time outside the router: pilotgate's own work."""
    model_cpu: list[float] = field(default_factory=list)
    """The running thread's CPU time inside the router: the OpenAI-compatible client and HTTP."""
    receipts: int = 0


def run_shape(
    runtime: Runtime, server: OpenAIServerDouble, shape: str, tasks: int, latency: float
) -> ShapeRun:
    """Run ``tasks`` tasks of one shape, one after another."""
    rng = random.Random(SEED)

    def script() -> list[Reply]:
        answer = text_reply("Order 100200 is on its way [1].")
        answer = Reply(answer.status, answer.body, latency, answer.headers)
        if shape == "answer":
            return [answer]
        if shape == "policy":
            ask = tool_reply("issue_refund", {"order_id": "100999", "amount": 35}, call_id="c1")
        else:
            ask = tool_reply("lookup_order", {"order_id": "100200"}, call_id="c1")
        return [Reply(ask.status, ask.body, latency, ask.headers), answer]

    measured = ShapeRun(rate=0.0)
    with timed_router(runtime) as model_times:
        began = time.perf_counter()
        for _ in range(tasks):
            server.reply(*script())
            question = f"Where is my order 100200? {' '.join(rng.sample(WORDS[200:20_000], 3))}"
            before = len(model_times)
            started, cpu = time.perf_counter(), time.thread_time()
            result = runtime.run(question, user="bob")
            total, used = time.perf_counter() - started, time.thread_time() - cpu
            model_wall = sum(wall for wall, _ in model_times[before:])
            model_cpu = sum(spent for _, spent in model_times[before:])
            measured.overhead.append((total - model_wall) * 1000)
            measured.cpu.append((used - model_cpu) * 1000)
            measured.model_cpu.append(model_cpu * 1000)
            measured.receipts = len(result.receipts)
        measured.rate = tasks / (time.perf_counter() - began)
    return measured


def bench(label: str, url: str | None, tasks: int, latency_ms: float, chunks: int, rounds: int = 1) -> None:
    with tempfile.TemporaryDirectory(prefix="pilotgate-bench-") as tmp, OpenAIServerDouble() as server:
        root = Path(tmp) / "desk"
        make_pilot(root, server.base_url, chunks)
        workspace = open_workspace(root, url)
        try:
            began = time.perf_counter()
            runtime = open_runtime(workspace, backoff=NO_BACKOFF)
            print(
                f"{label}: ingested {chunks:,} chunks (+ the demo's) in {time.perf_counter() - began:.1f} s"
            )
            medians: dict[str, list[tuple[float, float]]] = {shape: [] for shape in SHAPES}
            with runtime:
                run_shape(runtime, server, "tool", 20, latency_ms / 1000)  # warm up
                for _ in range(rounds):
                    for shape in SHAPES:
                        got = run_shape(runtime, server, shape, tasks, latency_ms / 1000)
                        p50, p95 = statistics.median(got.overhead), percentile(got.overhead, 0.95)
                        medians[shape].append((p50, statistics.median(got.cpu)))
                        print(
                            f"  {shape:6} {got.rate:7.1f} tasks/s  overhead p50 {p50:6.2f} ms  "
                            f"p95 {p95:6.2f} ms  CPU p50 {statistics.median(got.cpu):5.2f} ms "
                            f"+ model client {statistics.median(got.model_cpu):5.2f} ms  "
                            f"({got.receipts} receipts per task, model latency {latency_ms:g} ms per call)"
                        )
            if rounds > 1:
                for shape, seen in medians.items():
                    print(
                        f"  {shape:6} median of {rounds} rounds: overhead p50 "
                        f"{statistics.median(p for p, _ in seen):6.2f} ms  "
                        f"CPU p50 {statistics.median(c for _, c in seen):5.2f} ms"
                    )
        finally:
            workspace.close()


def postgres_url(arg: str | None) -> str | None:
    return (
        arg or os.environ.get("PILOTGATE_BENCH_POSTGRES_URL") or os.environ.get("PILOTGATE_TEST_POSTGRES_URL")
    )


def main(argv: list[str] | None = None, run: Callable[..., None] = bench) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--pg", default=None)
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternate the shapes this many times; prints the medians"
    )
    args = parser.parse_args(argv)
    run("sqlite", None, args.tasks, args.latency_ms, args.chunks, args.rounds)
    pg = postgres_url(args.pg)
    if pg is None:
        print("postgresql: skipped (pass --pg or set PILOTGATE_BENCH_POSTGRES_URL)")
        return
    with fresh_postgres_schema(pg, prefix="bench") as url:
        run("postgresql", url, args.tasks, args.latency_ms, args.chunks, args.rounds)


if __name__ == "__main__":
    main()
