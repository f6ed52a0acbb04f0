"""The connector protocol: what a source hands to ingest, whatever it is (folder, CSV, SQL, ...).

A connector only reads. It yields one item per document it found, in a deterministic order: a
``SourceDocument`` it could read, or a ``SkippedDocument`` saying why it could not. Ingest decides versions,
chunks and permissions; a connector that cannot reach its source at all raises ``SourceError`` instead, so a
vanished source is never mistaken for a source whose documents were all deleted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

MARKDOWN = "text/markdown"
PLAIN_TEXT = "text/plain"
HTML = "text/html"


@dataclass(frozen=True)
class SourceDocument:
    """One readable document of a source."""

    uri: str
    """Stable name of the document within its source (a folder source uses the relative POSIX path)."""
    text: str
    """The document's text as it is indexed: decoded, newlines normalized to ``\\n``, front matter removed."""
    modified_at: datetime | None = None
    """When the source says the document last changed (aware UTC), if it says."""
    metadata: Mapping[str, object] = field(default_factory=dict)
    """Per-document metadata the source carries (front matter keys other than ``read``)."""
    media_type: str = PLAIN_TEXT
    """How to chunk the text: ``text/markdown`` by headings, anything else by paragraphs."""
    read_groups: tuple[str, ...] | None = None
    """Per-document ACL: the groups this document names. ``None`` means the document names none and the
    source's groups apply; an empty tuple means nobody. Ingest intersects it with the source's groups, so a
    document can narrow its source's audience but never widen it."""
    acl_problem: str | None = None
    """Why the document's own ACL is missing or unreadable, when it is; such a document must carry
    ``read_groups=()`` (nobody reads it until fixed) and the ingest summary names it with this reason."""
    record_key: str | None = None
    """The record's identity across versions and sources (``order_id=123456``, or a front-matter ``key``):
    two sources holding one record key hold the same record, and conflict if they disagree."""
    topic: str | None = None
    """The topic the document speaks for, if it names one; two sources on one topic may conflict."""


@dataclass(frozen=True)
class SkippedDocument:
    """A document a connector found but could not read; ingest reports it and keeps its previous version."""

    uri: str
    """The document's uri; a uri ending in ``/`` names a folder that could not be listed, and stands for
    every document under it."""
    reason: str
    """Why it was skipped, in words fit for the ingest summary."""
    covers: str | None = None
    """A uri prefix this skip may stand for (``""``: any document of the source): stored documents under it
    are not tombstoned, because the connector cannot tell whether they are gone (a JSON line that does not
    parse may be any record). A uri ending in ``/`` covers itself without saying so."""

    @property
    def prefix(self) -> str | None:
        """The uri prefix whose stored documents this skip keeps, if any."""
        if self.covers is not None:
            return self.covers
        return self.uri if self.uri.endswith("/") else None


@runtime_checkable
class Connector(Protocol):
    """A source of documents: its name, who may read it, and a deterministic scan of its documents."""

    @property
    def name(self) -> str:
        """The source's name in pilot.yaml; it names the source in documents, chunks and receipts."""
        ...

    @property
    def read_groups(self) -> tuple[str, ...]:
        """The groups that may read the source's documents (before any per-document narrowing)."""
        ...

    def scan(self) -> Iterator[SourceDocument | SkippedDocument]:
        """Yield every document in a deterministic order; raise SourceError if the source is unreachable."""
        ...
