"""Bringing a pilot's declared sources into the store, each ingest recorded as an ``ingest`` receipt.

The connector for a source comes from its declaration in pilot.yaml (see ``connectors.registry``); each
source is ingested in its own transaction together with its conflict and duplicate reconciliation and its
receipt, so a source that fails leaves the others (and its own previous good version) in place. A source
that cannot be read at all (a vanished folder, a CSV without its key column, a database that refuses the
connection) is reported in its ``SourceSync`` with the error, and the others go on.

A source deleted from pilot.yaml is retired on the next sync (named or not, since its content must stop being
served at once): every current document of it is tombstoned exactly as if the source had deleted it (the
versions and their provenance stay, the chunks leave retrieval), and an ``ingest`` receipt with
``"removed": true`` records the source's name and the counts. Its ``SourceSync`` has ``removed`` set.

After the sources, conflicts are reconciled once more, so that a change of ranks in pilot.yaml takes effect
even when no content changed; if that changes which documents are superseded, it is recorded as an
``ingest`` receipt with ``"source": null``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, select

from pilotgate import spec as specs
from pilotgate.clock import Clock, utc_now
from pilotgate.data.connectors import Connector, ConnectorContext, SourceDocument
from pilotgate.data.connectors import connector_for as make_connector
from pilotgate.data.ingest import IngestReport, ingest_source
from pilotgate.data.reconcile import Reconciliation, reconcile
from pilotgate.data.registry import SourceRegistry
from pilotgate.errors import SourceError, UsageError
from pilotgate.receipts import ReceiptLog
from pilotgate.spec import LoadedPilot
from pilotgate.store import Store
from pilotgate.store.tables import documents

SYSTEM_ACTOR = {"kind": "system", "id": "pilotgate-ingest"}

SecretResolver = Callable[[str], str]
"""Turns a secret reference (``env:NAME``, ``vault:PATH#KEY``, ...) into its value."""


@dataclass(frozen=True)
class SourceSync:
    """What happened to one source: its report, or why it could not be read at all."""

    name: str
    report: IngestReport | None
    error: SourceError | None = None
    receipt_seq: int | None = None
    removed: bool = False
    """The source is no longer declared in pilot.yaml: its documents were retired (tombstoned)."""

    @property
    def changed(self) -> bool:
        """Whether anything was written (a receipt is recorded only then)."""
        return self.report is not None and self.report.changed


def connector_for(
    loaded: LoadedPilot, source: specs.Source, *, resolve_secret: SecretResolver | None = None
) -> Connector:
    """The connector that reads ``source`` as declared (SourceError if none can)."""
    return make_connector(source, ConnectorContext(root=loaded.root, resolve_secret=resolve_secret))


def sync_sources(
    store: Store,
    log: ReceiptLog,
    loaded: LoadedPilot,
    *,
    names: Sequence[str] | None = None,
    clock: Clock = utc_now,
    on_source: Callable[[SourceSync], None] | None = None,
    on_document: Callable[[str, str], None] | None = None,
    resolve_secret: SecretResolver | None = None,
) -> list[SourceSync]:
    """Ingest the named sources (default: all), each in one transaction with its ``ingest`` receipt.

    ``on_source`` is called after each source; ``on_document(source, uri)`` for each document a connector
    yields (progress displays). ``resolve_secret`` resolves a SQL source's secret-reference URL.
    """
    declared = {source.name: source for source in loaded.spec.sources}
    unknown = [name for name in names or () if name not in declared]
    if unknown:
        raise UsageError(
            f"unknown source {unknown[0]!r}",
            hint=f"declared sources: {', '.join(declared) or 'none'}",
        )
    registry = SourceRegistry.from_spec(loaded.spec.sources)
    results: list[SourceSync] = []
    for name in names or list(declared):
        progress = None if on_document is None else _bind(on_document, name)
        try:
            connector = connector_for(loaded, declared[name], resolve_secret=resolve_secret)
            result = _ingest_one(store, log, registry, connector, clock=clock, on_document=progress)
        except SourceError as exc:
            result = SourceSync(name=name, report=None, error=exc)
        results.append(result)
        if on_source is not None:
            on_source(result)
    with store.read() as conn:
        removed = removed_sources(conn, pilot=log.pilot, declared=list(declared))
    for name in removed:
        result = _ingest_one(store, log, registry, RemovedSource(name), clock=clock, removed=True)
        results.append(result)
        if on_source is not None:
            on_source(result)
    _settle_conflicts(store, log, registry)
    written = sum(r.report.chunks_written for r in results if r.report is not None)
    if written >= ANALYZE_AFTER_CHUNKS:
        refresh_planner_statistics(store)
    return results


@dataclass(frozen=True)
class RemovedSource:
    """A source pilot.yaml no longer declares, as a connector that finds nothing: ingest tombstones all of
    it. Nobody may read it (it has no read groups)."""

    name: str
    read_groups: tuple[str, ...] = ()

    def scan(self) -> Iterator[SourceDocument]:
        """Nothing: every stored document of the source is gone."""
        return iter(())


def removed_sources(conn: Connection, *, pilot: str, declared: Sequence[str]) -> list[str]:
    """Sources of ``pilot`` not in ``declared`` whose store still holds a current (untombstoned) document."""
    newer = documents.alias("newer")
    rows = conn.execute(
        select(documents.c.source)
        .distinct()
        .where(
            documents.c.pilot == pilot,
            documents.c.source.not_in(list(declared)),
            documents.c.tombstoned.is_(False),
            ~select(newer.c.id)
            .where(
                newer.c.pilot == documents.c.pilot,
                newer.c.source == documents.c.source,
                newer.c.uri == documents.c.uri,
                newer.c.version > documents.c.version,
            )
            .exists(),
        )
        .order_by(documents.c.source)
    )
    return [source for (source,) in rows]


def _ingest_one(
    store: Store,
    log: ReceiptLog,
    registry: SourceRegistry,
    connector: Connector,
    *,
    clock: Clock,
    on_document: Callable[[str], None] | None = None,
    removed: bool = False,
) -> SourceSync:
    """Ingest one source in one transaction with its reconciliation and, if it changed, its receipt."""
    with log.transaction(store) as conn:
        report = ingest_source(
            conn, pilot=log.pilot, connector=connector, clock=clock, on_document=on_document
        )
        seq = None
        if report.changed:
            found = reconcile(conn, pilot=log.pilot, registry=registry)
            report = replace(report, reconciliation=found.involving(connector.name))
            body = report.summary()
            if removed:
                body["removed"] = True
            seq = log.append(conn, kind="ingest", body=body, actor=SYSTEM_ACTOR).seq
    return SourceSync(name=connector.name, report=report, receipt_seq=seq, removed=removed)


ANALYZE_AFTER_CHUNKS = 1_000
"""After an ingest that wrote this many chunks, PostgreSQL's planner statistics are refreshed at once."""


def refresh_planner_statistics(store: Store) -> None:
    """ANALYZE the retrieval tables on PostgreSQL, so the first queries after a bulk ingest get a good plan.

    Without it the planner works from stale statistics until autovacuum runs: measured at 10,000 chunks,
    32 ms per search before against a few ms after. On SQLite, FTS5 needs no statistics, but a bulk ingest
    leaves its index in many segments that every query probes: merging them ('optimize', 0.3 s at 10,000
    chunks) cut a ranked search from ~1.5 to ~0.5 ms of CPU (measured).

    On PostgreSQL the GIN index's pending list is merged too: inserts go to that list (``fastupdate``) and
    every search scans all of it until autovacuum merges it; after a 100,000-chunk ingest it held 336 pages
    and a search's floor was ~1.4 ms, against ~0.2 ms once merged (measured).
    """
    if store.dialect == "sqlite":
        with store.write() as conn:
            conn.exec_driver_sql("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
        return
    if store.dialect != "postgresql":
        return
    with store.write() as conn:
        conn.exec_driver_sql("SELECT gin_clean_pending_list('ix_chunks_tsv'::regclass)")
        conn.exec_driver_sql("ANALYZE documents")
        conn.exec_driver_sql("ANALYZE chunks")


def _settle_conflicts(store: Store, log: ReceiptLog, registry: SourceRegistry) -> Reconciliation:
    """Reconcile conflicts under the current ranks; record a receipt if that changed what is superseded."""
    with log.transaction(store) as conn:
        found = reconcile(conn, pilot=log.pilot, registry=registry, duplicates=False)
        if found.superseded_changed:
            body: dict[str, object] = {"source": None, "superseded_changed": found.superseded_changed}
            body.update(found.summary())
            log.append(conn, kind="ingest", body=body, actor=SYSTEM_ACTOR)
    return found


def _bind(callback: Callable[[str, str], None], source: str) -> Callable[[str], None]:
    def call(uri: str) -> None:
        callback(source, uri)

    return call
