"""The source registry (the data contract): what the assistant may read, who may read it, which source wins.

Every source declares who answers for it (``owner``), how sensitive it is, which groups may read it, how old
its content may get (``freshness``) and where it stands when two sources disagree (``rank``, then
``system_of_record``). Record sources (CSV, JSON Lines, SQL) also name the field that identifies a record
across versions and sources (``key``), and may carry a per-record ACL (``acl_column``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import DatabaseUrl, Duration, GroupName, Name, Text

Sensitivity = Literal["public", "internal", "confidential", "restricted"]

StaleAction = Literal["flag", "exclude"]


class SourceBase(SpecModel):
    """What every source declares, whatever its kind."""

    name: Name
    """The source's unique name; receipts and provenance cite it."""
    kind: str
    """How the source is read."""
    owner: Text | None = None
    """Who answers for the source's content."""
    system_of_record: bool | list[Text] = False
    """True when this source is the authority for everything it holds, or the list of topics and record
    fields (e.g. `[refunds, order_id]`) it is the authority for. Among sources of equal rank, the system of
    record wins a conflict."""
    sensitivity: Sensitivity = "internal"
    """Classification of the content: public, internal, confidential or restricted."""
    read: list[GroupName] = Field(default=[])
    """Groups allowed to retrieve from this source. Empty means nobody (fail closed)."""
    freshness: Duration | None = None
    """How old content may be before it counts as stale (age from the document's modified time, or from its
    first ingest when the source gives none). Unset: never stale."""
    stale: StaleAction = "flag"
    """What retrieval does with stale content: `flag` returns it marked stale, `exclude` leaves it out."""
    rank: int | None = Field(default=None, ge=1)
    """Conflict order: a lower rank wins. Unset: loses to every ranked source."""

    def is_system_of_record_for(self, subject: str | None) -> bool:
        """Whether this source is the authority for ``subject`` (a topic or a record field name)."""
        if isinstance(self.system_of_record, bool):
            return self.system_of_record
        return subject is not None and subject in self.system_of_record


class FolderSource(SourceBase):
    """A folder of text, Markdown or HTML documents; front matter may carry an ACL (`read`), a `key`, a
    `topic` and other metadata."""

    kind: Literal["folder"]
    """`folder`: documents in a directory tree (`.txt`, `.md`, `.markdown`, `.html`, `.htm`)."""
    path: Text
    """The folder, relative to pilot.yaml's folder."""


class RecordSourceBase(SourceBase):
    """What every source of records (one record a document) declares."""

    key: Text
    """The field that identifies a record across versions and sources (same key, same record)."""
    acl_column: Text | None = None
    """A field of per-record groups (a list, or names separated by commas, semicolons or spaces); a record
    with no value there is readable by nobody. It narrows `read`, never widens it."""
    text_columns: list[Text] = Field(default=[])
    """The fields whose values make the record's searchable text, in order. Empty: every field but the key
    and the ACL field, as `field: value` lines."""
    title_column: Text | None = None
    """A field whose value titles the record; it becomes the heading of the record's chunks."""
    topic_column: Text | None = None
    """A field naming the record's topic; records of one topic in two sources conflict if they disagree."""
    modified_column: Text | None = None
    """A field holding when the record last changed (ISO 8601; without a zone it is read as UTC)."""


class CsvSource(RecordSourceBase):
    """A CSV file of records, one row per record."""

    kind: Literal["csv"]
    """`csv`: a CSV file with a header row."""
    path: Text
    """The file, relative to pilot.yaml's folder."""
    encoding: Text = "utf-8"
    """The file's text encoding; a byte it cannot decode skips the file and keeps the previous version."""
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    """The field separator, one character."""


class JsonlSource(RecordSourceBase):
    """A JSON Lines file of records, one object per line."""

    kind: Literal["jsonl"]
    """`jsonl`: one JSON object per line."""
    path: Text
    """The file, relative to pilot.yaml's folder."""


class SqlSource(RecordSourceBase):
    """Rows of a SQL query, one row per record."""

    kind: Literal["sql"]
    """`sql`: the rows a query returns."""
    url: DatabaseUrl
    """Database URL without a password, or a secret reference holding the full URL."""
    query: Text
    """The SELECT whose rows are the records."""


class PluginSource(SourceBase):
    """A source read by a connector another package provides (entry point group `pilotgate.sources`)."""

    kind: Literal["plugin"]
    """`plugin`: read by an installed connector."""
    connector: Name
    """The entry point's name in the group `pilotgate.sources`."""
    options: dict[str, Any] = Field(default={})
    """Settings handed to the connector as they are written."""


Source = Annotated[
    FolderSource | CsvSource | JsonlSource | SqlSource | PluginSource, Field(discriminator="kind")
]
"""One declared source; `kind` picks the shape."""
