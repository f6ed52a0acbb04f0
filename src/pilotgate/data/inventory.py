"""What the store holds of each declared source, and the pilot's data contract as Markdown.

``source_inventory`` counts, per declared source, its current documents and chunks, the documents nobody may
read (fail closed), those superseded by a conflict, the last ingest that changed it, its oldest content and
how many documents are stale under its ``freshness`` rule; ``removed_inventory`` does the same for sources
the store holds that pilot.yaml no longer declares (retired by the next sync, see ``pilotgate.data.sync``).
``data_contract_markdown`` writes the data
contract: the first production artifact a data owner and a security reviewer sign. Both are plain functions
of the store and pilot.yaml; the CLI only prints them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Subquery, and_, case, func, select

from pilotgate.clock import rfc3339
from pilotgate.data.registry import SourceRegistry
from pilotgate.spec.sections.sources import (
    CsvSource,
    FolderSource,
    JsonlSource,
    PluginSource,
    RecordSourceBase,
    SourceBase,
    SqlSource,
)
from pilotgate.spec.types import format_duration, is_secret_reference
from pilotgate.store.tables import chunks, documents


@dataclass(frozen=True)
class SourceInventory:
    """One declared source: its declaration and what the store holds of it."""

    source: SourceBase
    documents: int = 0
    """Current (latest, not tombstoned) documents."""
    chunks: int = 0
    """Active chunks."""
    unreadable: int = 0
    """Current documents nobody may read (their ACL is missing, unreadable or shares no group)."""
    superseded: int = 0
    """Current documents that lost a conflict."""
    tombstoned: int = 0
    """Documents deleted from the source (kept as tombstones)."""
    last_ingest: str | None = None
    """When an ingest last changed the source (RFC 3339), if ever."""
    oldest_content: str | None = None
    """The oldest content time among current documents (modified time, else first ingest)."""
    stale: int = 0
    """Current documents older than the source's freshness allows."""

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def status(self) -> str:
        """``never ingested``, ``stale`` (some content is), ``unreadable`` (some documents are), or ``ok``."""
        if self.last_ingest is None:
            return "never ingested"
        if self.stale:
            return "stale"
        if self.unreadable:
            return "unreadable"
        return "ok"


@dataclass(frozen=True)
class RemovedInventory:
    """A source the store holds that pilot.yaml no longer declares."""

    name: str
    documents: int = 0
    """Current documents still held (0 once a sync has retired the source)."""
    chunks: int = 0
    """Active chunks still retrievable (0 once retired)."""
    tombstoned: int = 0
    """Documents tombstoned (their versions and provenance are kept)."""
    last_ingest: str | None = None
    """When an ingest last changed the source: for a retired source, when it was retired."""

    @property
    def status(self) -> str:
        """``retired`` (nothing of it is served any more) or ``pending`` (the next sync retires it)."""
        return "pending" if self.documents or self.chunks else "retired"


def removed_inventory(conn: Connection, *, pilot: str, declared: Sequence[str]) -> list[RemovedInventory]:
    """Every source of ``pilot`` in the store that is not in ``declared``, by name."""
    counts = _document_counts(conn, pilot, exclude=declared)
    chunk_counts = dict(
        conn.execute(
            select(chunks.c.source, func.count())
            .where(chunks.c.pilot == pilot, chunks.c.active, chunks.c.source.not_in(list(declared)))
            .group_by(chunks.c.source)
        ).all()
    )
    last = dict(
        conn.execute(
            select(documents.c.source, func.max(documents.c.ingested_at))
            .where(documents.c.pilot == pilot, documents.c.source.not_in(list(declared)))
            .group_by(documents.c.source)
        ).all()
    )
    return [
        RemovedInventory(
            name=name,
            documents=_int(counts.get(name, (0, 0, 0, 0))[0]),
            chunks=int(chunk_counts.get(name, 0)),
            tombstoned=_int(counts.get(name, (0, 0, 0, 0))[3]),
            last_ingest=last[name],
        )
        for name in sorted(last)
    ]


def _document_counts(
    conn: Connection, pilot: str, exclude: Sequence[str] = ()
) -> dict[str, tuple[object, ...]]:
    """Source -> (present, unreadable, superseded, tombstoned, oldest content) over latest versions."""
    latest = _latest(pilot)
    content_time = func.coalesce(documents.c.modified_at, documents.c.ingested_at)
    current = (
        select(
            documents.c.source,
            func.sum(case((documents.c.tombstoned, 0), else_=1)),
            func.sum(case((documents.c.tombstoned, 0), (documents.c.read_groups == "[]", 1), else_=0)),
            func.sum(case((documents.c.tombstoned, 0), (documents.c.superseded_by.is_not(None), 1), else_=0)),
            func.sum(case((documents.c.tombstoned, 1), else_=0)),
            func.min(case((documents.c.tombstoned, None), else_=content_time)),
        )
        .join(
            latest,
            and_(
                documents.c.source == latest.c.source,
                documents.c.uri == latest.c.uri,
                documents.c.version == latest.c.version,
            ),
        )
        .where(documents.c.pilot == pilot, documents.c.source.not_in(list(exclude)))
        .group_by(documents.c.source)
    )
    return {row[0]: tuple(row[1:]) for row in conn.execute(current)}


def _latest(pilot: str) -> Subquery:
    """(source, uri, version) of each document's latest version."""
    return (
        select(documents.c.source, documents.c.uri, func.max(documents.c.version).label("version"))
        .where(documents.c.pilot == pilot)
        .group_by(documents.c.source, documents.c.uri)
        .subquery()
    )


def source_inventory(
    conn: Connection, *, pilot: str, sources: Sequence[SourceBase], now: datetime
) -> list[SourceInventory]:
    """The inventory of each declared source, in declaration order."""
    latest = _latest(pilot)
    content_time = func.coalesce(documents.c.modified_at, documents.c.ingested_at)
    counts = _document_counts(conn, pilot)
    last = dict(
        conn.execute(
            select(documents.c.source, func.max(documents.c.ingested_at))
            .where(documents.c.pilot == pilot)
            .group_by(documents.c.source)
        ).all()
    )
    active = dict(
        conn.execute(
            select(chunks.c.source, func.count())
            .where(chunks.c.pilot == pilot, chunks.c.active)
            .group_by(chunks.c.source)
        ).all()
    )
    registry = SourceRegistry.from_spec(sources)
    found = []
    for source in sources:
        present, unreadable, superseded, tombstoned, oldest = counts.get(source.name, (0, 0, 0, 0, None))
        stale = 0
        cutoff = registry.rules(source.name).stale_before(now)
        if cutoff is not None and present:
            stale = int(
                conn.scalar(
                    select(func.count())
                    .select_from(documents)
                    .join(
                        latest,
                        and_(
                            documents.c.source == latest.c.source,
                            documents.c.uri == latest.c.uri,
                            documents.c.version == latest.c.version,
                        ),
                    )
                    .where(
                        documents.c.pilot == pilot,
                        documents.c.source == source.name,
                        documents.c.tombstoned.is_(False),
                        content_time < cutoff,
                    )
                )
                or 0
            )
        found.append(
            SourceInventory(
                source=source,
                documents=_int(present),
                chunks=int(active.get(source.name, 0)),
                unreadable=_int(unreadable),
                superseded=_int(superseded),
                tombstoned=_int(tombstoned),
                last_ingest=last.get(source.name),
                oldest_content=None if oldest is None else str(oldest),
                stale=stale,
            )
        )
    return found


def location(source: SourceBase) -> str:
    """Where a source is read from, fit to print (a secret-reference URL is shown as the reference)."""
    if isinstance(source, FolderSource | CsvSource | JsonlSource):
        return source.path
    if isinstance(source, SqlSource):
        url = source.url if is_secret_reference(source.url) else source.url.split("?")[0]
        return f"{url} :: {source.query}"
    if isinstance(source, PluginSource):
        return f"plugin {source.connector}"
    return "-"


def system_of_record(source: SourceBase) -> str:
    """``yes``, ``no`` or ``for: a, b``."""
    if isinstance(source.system_of_record, bool):
        return "yes" if source.system_of_record else "no"
    return "for: " + ", ".join(source.system_of_record)


def freshness(source: SourceBase) -> str:
    """``90d (flag)`` or ``never stale``."""
    if source.freshness is None:
        return "never stale"
    return f"{format_duration(source.freshness)} ({source.stale})"


def data_contract_markdown(
    pilot: str,
    inventory: Sequence[SourceInventory],
    *,
    now: datetime,
    removed: Sequence[RemovedInventory] = (),
) -> str:
    """The pilot's data contract: every source's declaration, the conflict order, what the store holds
    (and of sources no longer declared), and a sign-off block for the data owner and the security
    reviewer."""
    lines = [
        f"# Data contract: {pilot}",
        "",
        f"Generated by `pilotgate sources --format markdown` at {rfc3339(now)} from pilot.yaml and the",
        "store. Retrieval filters by the caller's groups inside the ranked query; a document whose ACL is",
        "missing or unreadable is readable by nobody until fixed. Conflicts go to the first source in the",
        "order below.",
        "",
        "## Sources",
        "",
        "| source | kind | location | owner | sensitivity | read by | system of record | freshness | rank |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for item in inventory:
        s = item.source
        lines.append(
            "| "
            + " | ".join(
                _cell(value)
                for value in (
                    s.name,
                    s.kind,
                    location(s),
                    s.owner or "(none)",
                    s.sensitivity,
                    ", ".join(s.read) or "nobody",
                    system_of_record(s),
                    freshness(s),
                    str(s.rank) if s.rank is not None else "unranked",
                )
            )
            + " |"
        )
    order = sorted(inventory, key=lambda i: (i.source.rank is None, i.source.rank or 0, i.name))
    lines += ["", "## Which source wins a conflict", ""]
    lines += [f"{n}. {_cell(i.name)}" + _record_note(i.source) for n, i in enumerate(order, 1)]
    lines += [
        "",
        "Sources of equal rank: the system of record for the record field or topic wins; otherwise the",
        "source name decides and the ingest reports the conflict as a tie.",
        "",
        "## What the store holds",
        "",
        "| source | documents | chunks | unreadable | superseded | tombstoned | last ingest | oldest content "
        "| stale | status |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for item in inventory:
        lines.append(
            "| "
            + " | ".join(
                _cell(str(value))
                for value in (
                    item.name,
                    item.documents,
                    item.chunks,
                    item.unreadable,
                    item.superseded,
                    item.tombstoned,
                    item.last_ingest or "never",
                    item.oldest_content or "-",
                    item.stale,
                    item.status,
                )
            )
            + " |"
        )
    if removed:
        lines += [
            "",
            "## Sources removed from pilot.yaml",
            "",
            "Their documents are tombstoned by the next ingest: versions and provenance stay, retrieval no "
            "longer serves them.",
            "",
            "| source | status | documents still served | chunks still served | tombstoned | last ingest |",
            "|---|---|---|---|---|---|",
        ]
        for gone in removed:
            cells = (gone.name, gone.status, gone.documents, gone.chunks, gone.tombstoned, gone.last_ingest)
            lines.append(
                "| " + " | ".join(_cell("-" if value is None else str(value)) for value in cells) + " |"
            )
    pending = [gone for gone in removed if gone.status == "pending"]
    problems = [i for i in inventory if i.unreadable or i.stale or i.last_ingest is None or not i.source.read]
    lines += ["", "## Open items", ""]
    if not problems and not pending:
        lines.append("None.")
    for item in problems:
        if not item.source.read:
            lines.append(f"- `{item.name}` declares no read groups: nobody can retrieve from it.")
        if item.last_ingest is None:
            lines.append(
                f"- `{item.name}` has never been ingested: run `pilotgate sources ingest {item.name}`."
            )
        if item.unreadable:
            lines.append(
                f"- `{item.name}`: {item.unreadable} document(s) readable by nobody (ACL missing, unreadable "
                "or outside the source's groups); see the last ingest receipt."
            )
        if item.stale:
            lines.append(f"- `{item.name}`: {item.stale} document(s) older than {freshness(item.source)}.")
    for gone in pending:
        lines.append(
            f"- `{gone.name}` is no longer declared but {gone.documents} document(s) of it are still served: "
            "run `pilotgate sources ingest` to retire it."
        )
    lines += [
        "",
        "## Sign-off",
        "",
        "| role | name | date | signature |",
        "|---|---|---|---|",
        "| data owner |  |  |  |",
        "| security reviewer |  |  |  |",
        "",
    ]
    return "\n".join(lines)


def _record_note(source: SourceBase) -> str:
    parts = []
    if isinstance(source, RecordSourceBase):
        parts.append(f"records keyed by `{source.key}`")
        if source.acl_column:
            parts.append(f"per-record ACL in `{source.acl_column}`")
    if source.system_of_record is not False:
        parts.append(
            "system of record" + ("" if source.system_of_record is True else " " + system_of_record(source))
        )
    return f" ({'; '.join(parts)})" if parts else ""


def _int(value: object) -> int:
    return int(value or 0)  # type: ignore[call-overload]  # a SQL count or sum


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
