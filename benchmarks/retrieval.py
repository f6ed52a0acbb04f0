"""How fast sources are ingested and permission-filtered retrieval answers, beside a bare full-text query.

    python benchmarks/retrieval.py [--chunks 100000] [--queries 1000] [--repeat 3] [--pg postgresql+psycopg://...]

Builds a synthetic corpus through the real ingest path (an in-memory connector, so no file I/O is timed):
documents of Markdown sections over a Zipf-distributed vocabulary of 20,000 made-up words, each section one
chunk of 300-700 characters, in four sources with different read groups; a third of the documents narrow
their source's groups with their own ACL, and a few name groups the source does not grant (readable by
nobody). Queries are 2-4 words the way people ask: mostly mid-frequency and rare words, sometimes a common
one. Users hold 1-3 of 24 groups.

For SQLite (a file, WAL, synchronous=FULL) and PostgreSQL (``--pg`` or PILOTGATE_BENCH_POSTGRES_URL /
PILOTGATE_TEST_POSTGRES_URL; skipped with a note when absent) it prints:

- ingest rate: chunks per second through ``ingest_source`` (chunking, hashing, sketches, ACL tokens, one
  transaction per source), then the reconciliation (conflicts, exact and near duplicates) timed apart;
- ingest CPU per chunk: this process's, and on PostgreSQL the server backend's (read from /proc when the
  server runs on this machine). On a machine shared with other work the rate swings with the load; the CPU
  figures show what ingest itself costs;
- query latency p50 / p95 / p99 of ``search`` (the permission filter inside the ranked query, then text
  and provenance of the top 5) and of ``retrieve`` (the same plus staleness, conflict notes and the
  withheld audit), beside a *bare* BM25 top-5 query over the same index with no filter and no join, in the
  same run; on SQLite, where the whole query runs in this process, also its CPU time p50 / p95, which
  waiting for a CPU on a busy machine does not inflate.

With ``--repeat N`` the whole measurement runs N times on a fresh store each time, and a last block prints
the median of each figure.

Targets (issue 3): ingest >= 5,000 chunks/s; ``search`` p95 < 3 ms on SQLite FTS5 at 100,000 chunks (at most
2.5x a bare FTS5 query), < 10 ms on PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, create_engine, text

from pilotgate.data import (
    SourceDocument,
    SourceRegistry,
    SourceRules,
    ingest_source,
    reconcile,
    retrieve,
    search,
)
from pilotgate.data.retrieval import fts5_terms, websearch_query
from pilotgate.data.sync import refresh_planner_statistics
from pilotgate.data.terms import content_terms
from pilotgate.store import Store, open_store
from pilotgate.testing import FixedClock

PILOT = "bench-desk"
GROUPS = [f"team{i:02d}" for i in range(24)]
SOURCES = {
    "handbook": GROUPS[:16],
    "wiki": GROUPS[4:24],
    "tickets": GROUPS[:8] + GROUPS[16:],
    "finance": GROUPS[20:],
}
SECTIONS_PER_DOCUMENT = 10
VOCABULARY = 20_000
SEED = 20261125


@dataclass
class Corpus:
    words: list[str]
    cumulative: list[float]
    rng: random.Random

    @classmethod
    def make(cls, seed: int = SEED) -> Corpus:
        rng = random.Random(seed)
        onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z"]
        onsets += ["br", "cl", "dr", "fl", "gr", "pl", "st", "tr", "sh", "ch"]
        vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
        seen: set[str] = set()
        words: list[str] = []
        while len(words) < VOCABULARY:
            word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3)))
            word += rng.choice(["", "n", "r", "l", "s", "x", "m"])
            if len(word) >= 3 and word not in seen:
                seen.add(word)
                words.append(word)
        total = 0.0
        cumulative = []
        for rank in range(1, VOCABULARY + 1):
            total += 1 / rank**1.07
            cumulative.append(total)
        return cls(words, cumulative, rng)

    def sentence(self, n: int) -> str:
        chosen = self.rng.choices(self.words, cum_weights=self.cumulative, k=n)
        return " ".join(chosen).capitalize() + "."

    def section(self) -> str:
        heading = " ".join(self.rng.choices(self.words[50:5000], k=self.rng.randint(2, 4))).title()
        body = []
        size = self.rng.randint(300, 700)
        while sum(len(s) + 1 for s in body) < size:
            body.append(self.sentence(self.rng.randint(6, 16)))
        return f"## {heading}\n\n{' '.join(body)[:780]}"

    def document(self, source: str) -> SourceDocument:
        title = " ".join(self.rng.choices(self.words[100:3000], k=3)).title()
        sections = "\n\n".join(self.section() for _ in range(SECTIONS_PER_DOCUMENT))
        allowed = SOURCES[source]
        roll = self.rng.random()
        if roll < 0.30:
            groups: tuple[str, ...] | None = tuple(sorted(self.rng.sample(allowed, self.rng.randint(1, 4))))
        elif roll < 0.32:
            groups = ("nobody-holds-this",)
        else:
            groups = None
        return SourceDocument(
            uri=f"{source}/{uuid.UUID(int=self.rng.getrandbits(128)).hex}.md",
            text=f"# {title}\n\n{sections}\n",
            modified_at=datetime(2026, 1, 1, tzinfo=UTC),
            media_type="text/markdown",
            read_groups=groups,
        )

    def query(self) -> str:
        picks = self.rng.choices(self.words[50:5_000], k=self.rng.randint(1, 3))
        if self.rng.random() < 0.4:
            picks.append(self.rng.choice(self.words[10:50]))
        self.rng.shuffle(picks)
        return "how do I " + " ".join(picks)

    def user(self) -> list[str]:
        return sorted(self.rng.sample(GROUPS, self.rng.randint(1, 3)))


@dataclass
class MemoryConnector:
    name: str
    read_groups: tuple[str, ...]
    items: list[SourceDocument]

    def scan(self) -> Iterator[SourceDocument]:
        yield from self.items


@dataclass
class IngestFigures:
    rate: float
    """Chunks per second through ``ingest_source``."""
    written: int
    reconciled: float
    """Seconds of the reconciliation of all chunks."""
    client_us: float
    """This process's CPU per chunk (µs)."""
    server_us: float | None
    """The PostgreSQL backend's CPU per chunk (µs), when it runs on this machine."""


def backend_cpu(conn: Connection) -> tuple[int, float] | None:
    """(pid, CPU seconds so far) of the PostgreSQL backend serving ``conn``, when it runs on this machine."""
    pid = int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    except OSError:
        return None
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def build(store: Store, chunks: int) -> IngestFigures:
    """Ingest the corpus; the rate and CPU figures, and the reconciliation time."""
    corpus = Corpus.make()
    documents = max(1, chunks // SECTIONS_PER_DOCUMENT)
    names = list(SOURCES)
    per_source: dict[str, list[SourceDocument]] = {name: [] for name in names}
    for index in range(documents):
        name = names[index % len(names)]
        per_source[name].append(corpus.document(name))
    written = 0
    elapsed = client = 0.0
    server: float | None = 0.0
    clock = FixedClock()
    for name, items in per_source.items():
        connector = MemoryConnector(name, tuple(SOURCES[name]), items)
        with store.write() as conn:
            before = backend_cpu(conn) if store.dialect == "postgresql" else None
            started, cpu = time.perf_counter(), time.process_time()
            report = ingest_source(conn, pilot=PILOT, connector=connector, clock=clock)
            after = backend_cpu(conn) if before is not None else None
        elapsed += time.perf_counter() - started  # with the commit
        client += time.process_time() - cpu
        if before is not None and after is not None and server is not None:
            server += after[1] - before[1]
        else:
            server = None
        written += report.chunks_written
    registry = SourceRegistry.of(SourceRules(name, rank=i + 1) for i, name in enumerate(names))
    started = time.perf_counter()
    with store.write() as conn:
        reconcile(conn, pilot=PILOT, registry=registry)
    reconciled = time.perf_counter() - started
    refresh_planner_statistics(store)  # what a sync does after a bulk ingest
    if store.dialect == "sqlite":
        with store.write() as conn:
            conn.exec_driver_sql("ANALYZE")
    return IngestFigures(
        rate=written / elapsed,
        written=written,
        reconciled=reconciled,
        client_us=client / written * 1e6,
        server_us=None if server is None else server / written * 1e6,
    )


def timings(
    run: Callable[[str, list[str]], object], workload: list[tuple[str, list[str]]]
) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each query (CPU: this process's, the whole query on SQLite)."""
    for query, groups in workload[:50]:  # warm the page cache
        run(query, groups)
    wall, cpu = [], []
    for query, groups in workload:
        started, used = time.perf_counter(), time.process_time()
        run(query, groups)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return f"p50 {cut[49]:6.2f} ms   p95 {cut[94]:6.2f} ms   p99 {cut[98]:6.2f} ms"


Figures = dict[str, float]
"""One run's figures by name: ingest rate and CPU, reconcile seconds, and p50/p95/p99 of each query kind."""


def bench(label: str, url: str, chunks: int, queries: int) -> Figures:
    store = open_store(url)
    try:
        ingest = build(store, chunks)
        figures: Figures = {
            "rate": ingest.rate,
            "client_us": ingest.client_us,
            "reconciled": ingest.reconciled,
            "written": ingest.written,
        }
        if ingest.server_us is not None:
            figures["server_us"] = ingest.server_us
        if not queries:
            return figures
        corpus = Corpus.make(SEED + 1)
        workload = [(corpus.query(), corpus.user()) for _ in range(queries)]
        registry = SourceRegistry.of(SourceRules(name, rank=i + 1) for i, name in enumerate(SOURCES))
        now = datetime(2026, 6, 1, tzinfo=UTC)
        with store.read() as conn:
            if store.dialect == "sqlite":
                bare_sql = text(
                    "SELECT rowid, -bm25(chunks_fts, 2.0, 1.0, 0.0) AS score FROM chunks_fts "
                    "WHERE chunks_fts MATCH :match ORDER BY score DESC LIMIT 5"
                )

                def bare(query: str, groups: list[str]) -> object:
                    match = "{heading text}: " + fts5_terms(content_terms(query))
                    return conn.execute(bare_sql, {"match": match}).all()

            else:
                bare_sql = text(
                    "SELECT c.id, ts_rank_cd(c.tsv, q.query) AS score FROM chunks AS c "
                    "CROSS JOIN websearch_to_tsquery('english', :match) AS q(query) "
                    "WHERE c.tsv @@ q.query ORDER BY score DESC LIMIT 5"
                )

                def bare(query: str, groups: list[str]) -> object:
                    return conn.execute(bare_sql, {"match": websearch_query(content_terms(query))}).all()

            def filtered(query: str, groups: list[str]) -> object:
                return search(conn, pilot=PILOT, query=query, groups=groups, limit=5)

            def full(query: str, groups: list[str]) -> object:
                return retrieve(
                    conn, pilot=PILOT, query=query, groups=groups, limit=5, registry=registry, now=now
                )

            figures["hits"] = sum(
                1 for query, groups in workload if search(conn, pilot=PILOT, query=query, groups=groups)
            )
            for kind, run in (("bare", bare), ("search", filtered), ("retrieve", full)):
                wall, cpu = timings(run, workload)
                cut = statistics.quantiles(wall, n=100, method="inclusive")
                figures.update({f"{kind}_p50": cut[49], f"{kind}_p95": cut[94], f"{kind}_p99": cut[98]})
                if store.dialect == "sqlite":
                    cut = statistics.quantiles(cpu, n=100, method="inclusive")
                    figures.update({f"{kind}_cpu_p50": cut[49], f"{kind}_cpu_p95": cut[94]})
        figures["queries"] = len(workload)
    finally:
        store.close()
    return figures


def report(label: str, figures: Figures, dialect: str) -> None:
    """Print one run's figures (or the medians of several)."""
    server = figures.get("server_us")
    cpu = f"client {figures['client_us']:5.0f} µs" + (f", server {server:5.0f} µs" if server else "")
    print(
        f"{label:<14} ingest       {figures['written']:>8,.0f} chunks   {figures['rate']:>9,.0f} chunks/s"
        f"   (target >= 5,000; CPU per chunk: {cpu})"
    )
    print(
        f"{label:<14} reconcile    conflicts, exact and near duplicates of all chunks: "
        f"{figures['reconciled']:.2f} s"
    )
    if "queries" not in figures:
        return
    ratio = figures["search_p95"] / max(figures["bare_p95"], 1e-9)
    target = "3 ms" if dialect == "sqlite" else "10 ms"
    notes = {
        "bare": "(no permission filter, no join)",
        "search": f"({ratio:.2f}x bare at p95; target < {target})",
        "retrieve": "(+ staleness, conflicts, withheld audit)",
    }
    for kind, note in notes.items():
        cut = "   ".join(f"{p} {figures[f'{kind}_{p}']:6.2f} ms" for p in ("p50", "p95", "p99"))
        print(f"{label:<14} {kind:<12} {cut}   {note}")
    if "search_cpu_p95" in figures:
        for kind in notes:
            cut = "   ".join(f"{p} {figures[f'{kind}_cpu_{p}']:6.2f} ms" for p in ("p50", "p95"))
            print(f"{label:<14} {kind + ' CPU':<12} {cut}   (this process's CPU: the query without waiting)")
    print(
        f"{label:<14} queries      {figures['queries']:,.0f}, {figures['hits']:,.0f} with at least one "
        "readable result"
    )


def repeated(label: str, dialect: str, runs: int, measure: Callable[[], Figures]) -> None:
    """Run ``measure`` ``runs`` times, printing each run and then the median of every figure."""
    every = []
    for number in range(1, runs + 1):
        figures = measure()
        every.append(figures)
        report(label if runs == 1 else f"{label} #{number}", figures, dialect)
    if runs > 1:
        medians = {name: statistics.median(run[name] for run in every) for name in every[0]}
        report(f"{label} med", medians, dialect)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1_000, help="0: measure the ingest only")
    parser.add_argument("--repeat", type=int, default=1, help="runs on fresh stores; prints the medians")
    parser.add_argument(
        "--pg",
        default=os.environ.get("PILOTGATE_BENCH_POSTGRES_URL")
        or os.environ.get("PILOTGATE_TEST_POSTGRES_URL"),
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    print(
        f"corpus: {args.chunks:,} chunks, {len(SOURCES)} sources, {len(GROUPS)} groups; "
        f"{args.queries:,} queries; {args.repeat} run(s) each"
    )
    if not args.skip_sqlite:

        def sqlite_run() -> Figures:
            with tempfile.TemporaryDirectory() as folder:
                return bench("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args.chunks, args.queries)

        repeated("sqlite", "sqlite", args.repeat, sqlite_run)
    if not args.pg:
        print("postgresql  skipped: pass --pg URL or set PILOTGATE_BENCH_POSTGRES_URL")
        return
    pg_url: str = args.pg

    def postgres_run() -> Figures:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(pg_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in pg_url else "?"
        try:
            url = f"{pg_url}{separator}options=-csearch_path%3D{schema}"
            return bench("postgresql", url, args.chunks, args.queries)
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()

    repeated("postgresql", "postgresql", args.repeat, postgres_run)


if __name__ == "__main__":
    main()
