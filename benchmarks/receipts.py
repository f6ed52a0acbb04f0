"""How fast receipts are appended and verified, beside what this machine can do at best.

    python benchmarks/receipts.py [--n 3000] [--verify-n 100000] [--pg postgresql+psycopg://...]

For SQLite (a file in a temporary folder, WAL, synchronous=FULL) and PostgreSQL (``--pg`` or
PILOTGATE_BENCH_POSTGRES_URL / PILOTGATE_TEST_POSTGRES_URL; skipped with a note when absent) it prints:

- receipts appended per second with one transaction per receipt, and with one transaction per task of six
  receipts (durable commits), beside the same rows inserted with the raw driver, one commit each;
- receipts verified per second (``verify_store``: read, re-hash, check links, columns and every
  checkpoint root), beside SHA-256 per second over the same stored bytes.

Targets (issue 2): verify >= 150,000 receipts/s; append >= 12,000 receipts/s in six-receipt transactions
on SQLite, which assumed ~4,000 durable commits/s. The "limit" columns say what this disk allows.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text

from pilotgate.receipts import Entry, ReceiptLog, iter_receipt_rows, signer_for, verify_store
from pilotgate.store import Store, open_store

PILOT = "bench-desk"
BODY = {
    "model": "reference-extractive",
    "tokens": {"input": 812, "output": 96},
    "cost": "0.000123",
    "latency_ms": "12.5",
    "output": "The refund policy allows returns within 30 days of purchase, with the receipt. " * 3,
    "chunks": ["help-center/returns.md#2@v3", "help-center/refunds.md#1@v1", "handbook/escalation.md#4@v2"],
}
KINDS = ("task.started", "retrieval", "model.call", "tool.intent", "tool.result", "task.finished")


@dataclass
class Row:
    backend: str
    measure: str
    rate: float
    limit_name: str
    limit: float | None

    def line(self) -> str:
        limit = f"{self.limit:>12,.0f}" if self.limit else f"{'-':>12}"
        ratio = f"{self.rate / self.limit:>6.0%}" if self.limit else f"{'':>6}"
        head = f"{self.backend:<11} {self.measure:<34} {self.rate:>12,.0f}"
        return f"{head}   {self.limit_name:<30} {limit} {ratio}"


def task_entries(task: int, count: int = 6) -> list[Entry]:
    return [
        Entry(kind=KINDS[i % 6], body=BODY | {"step": i}, actor=("worker", "w1"), task=f"task-{task:06d}")
        for i in range(count)
    ]


def rate(count: int, work: Callable[[], None]) -> float:
    start = time.perf_counter()
    work()
    return count / (time.perf_counter() - start)


def bench_append(store: Store, log: ReceiptLog, n: int) -> tuple[float, float]:
    """(receipts/s one transaction each, receipts/s six per transaction)."""
    singles = max(n // 3, 6)

    def one_each() -> None:
        for i in range(singles):
            with store.write() as conn:
                log.append(conn, kind="model.call", body=BODY, actor=("worker", "w1"), task=f"single-{i}")

    def six_each() -> None:
        for task in range(n // 6):
            with store.write() as conn:
                log.append_many(conn, task_entries(task))

    return rate(singles, one_each), rate(n // 6 * 6, six_each)


def bench_verify(store: Store, log: ReceiptLog, total: int) -> tuple[float, float, int]:
    """(receipts verified/s, SHA-256/s over the same bytes, receipts in the log)."""
    with store.read() as conn:
        have = sum(1 for _ in iter_receipt_rows(conn, PILOT))
    task = 10**6
    while have < total:
        with store.write() as conn:
            batch = min(1200, total - have)
            log.append_many(
                conn, [entry for t in range(batch // 6 + 1) for entry in task_entries(task + t)][:batch]
            )
        task += batch // 6 + 1
        have += batch
    with store.read() as conn:
        blobs = [row[6] for row in iter_receipt_rows(conn, PILOT)]
    start = time.perf_counter()
    with store.read() as conn:
        report = verify_store(conn, PILOT, log.signer.public_key if log.signer else None)
    verified = report.receipts_checked / (time.perf_counter() - start)
    if not report.ok:
        raise SystemExit(f"verify failed: {report.failure}")
    sha = hashlib.sha256
    start = time.perf_counter()
    for blob in blobs:
        sha(blob).hexdigest()
    hashed = len(blobs) / (time.perf_counter() - start)
    return verified, hashed, len(blobs)


def raw_sqlite_limit(path: Path, rows: list[tuple[object, ...]], per_commit: int) -> float:
    """The same rows inserted with sqlite3 and the store's pragmas, one commit per ``per_commit`` rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE r (pilot TEXT, seq INTEGER, hash TEXT, prev TEXT, kind TEXT, task TEXT, at TEXT, "
        "canonical BLOB, PRIMARY KEY (pilot, seq))"
    )

    def insert() -> None:
        for start in range(0, len(rows), per_commit):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO r VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows[start : start + per_commit]
            )
            conn.execute("COMMIT")

    try:
        return rate(len(rows), insert)
    finally:
        conn.close()


def raw_pg_limit(url: str, rows: list[tuple[object, ...]], per_commit: int) -> float:
    """The same rows inserted with the raw psycopg connection, one commit per ``per_commit`` rows."""
    engine = create_engine(url)
    table = f"raw_{uuid.uuid4().hex[:8]}"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            f"CREATE TABLE {table} (pilot TEXT, seq BIGINT, hash TEXT, prev TEXT, kind TEXT, task TEXT, "
            "at TEXT, canonical BYTEA, PRIMARY KEY (pilot, seq))"
        )
        raw.commit()

        def insert() -> None:
            for start in range(0, len(rows), per_commit):
                cursor.executemany(
                    f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    rows[start : start + per_commit],
                )
                raw.commit()

        result = rate(len(rows), insert)
        cursor.execute(f"DROP TABLE {table}")
        raw.commit()
        return result
    finally:
        raw.close()
        engine.dispose()


def sample_rows(store: Store, count: int) -> list[tuple[object, ...]]:
    with store.read() as conn:
        rows = []
        for row in iter_receipt_rows(conn, PILOT):
            rows.append(("raw", len(rows), row[1], row[2], row[3], row[4], row[5], row[6]))
            if len(rows) == count:
                break
    return rows


@contextmanager
def pg_schema(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run_backend(
    name: str, url: str, n: int, verify_n: int, raw: Callable[[list[tuple[object, ...]], int], float]
) -> list[Row]:
    store = open_store(url)
    try:
        log = ReceiptLog(PILOT, signer=signer_for(PILOT, Ed25519PrivateKey.generate()), checkpoint_every=1000)
        one, six = bench_append(store, log, n)
        rows = sample_rows(store, max(n // 3, 6))
        raw_one = raw(rows, 1)
        raw_six = raw(rows, 6)
        verified, hashed, size = bench_verify(store, log, verify_n)
    finally:
        store.close()
    return [
        Row(name, "append, 1 receipt / transaction", one, "raw driver, 1 row / commit", raw_one),
        Row(name, "append, 6 receipts / transaction", six, "raw driver, 6 rows / commit", raw_six),
        Row(name, f"verify ({size:,} receipts)", verified, "SHA-256 over the same bytes", hashed),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=3000, help="receipts appended per append measurement")
    parser.add_argument("--verify-n", type=int, default=100_000, help="receipts in the log that is verified")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (default: env, else skipped)")
    args = parser.parse_args()
    pg = (
        args.pg
        or os.environ.get("PILOTGATE_BENCH_POSTGRES_URL")
        or os.environ.get("PILOTGATE_TEST_POSTGRES_URL")
    )

    results: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pilotgate-bench-") as tmp:
        folder = Path(tmp)
        results += run_backend(
            "sqlite",
            f"sqlite:///{folder / 'bench.db'}",
            args.n,
            args.verify_n,
            lambda rows, per: raw_sqlite_limit(folder / f"raw-{per}.db", rows, per),
        )
    if pg:
        with pg_schema(pg) as url:
            results += run_backend(
                "postgresql", url, args.n, args.verify_n, lambda rows, per: raw_pg_limit(url, rows, per)
            )
    else:
        notes.append("postgresql: skipped (pass --pg URL or set PILOTGATE_TEST_POSTGRES_URL)")

    print(
        f"{'backend':<11} {'measure':<34} {'receipts/s':>12}   "
        f"{'machine limit':<30} {'limit/s':>12} {'ratio':>6}"
    )
    print("-" * 114)
    for row in results:
        print(row.line())
    for note in notes:
        print(note)
    print("targets: verify >= 150,000/s; append (6 / transaction, SQLite) >= 12,000/s, i.e. half a disk that")
    print("commits ~4,000 times/s; compare the append rows with the raw-driver limit measured above.")


if __name__ == "__main__":
    main()
