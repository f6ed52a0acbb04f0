"""The source registry: what the assistant may read, who may read it, and which source wins."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import DatabaseUrl, Duration, GroupName, Name, Text

Sensitivity = Literal["public", "internal", "confidential", "restricted"]


class SourceBase(SpecModel):
    """What every source declares, whatever its kind."""

    name: Name
    """The source's unique name; receipts and provenance cite it."""
    kind: str
    """How the source is read."""
    owner: Text | None = None
    """Who answers for the source's content."""
    system_of_record: bool = False
    """True when this source is the authority for what it holds."""
    sensitivity: Sensitivity = "internal"
    """Classification of the content: public, internal, confidential or restricted."""
    read: list[GroupName] = Field(default=[])
    """Groups allowed to retrieve from this source. Empty means nobody (fail closed)."""
    freshness: Duration | None = None
    """How old content may be before it counts as stale. Unset: never stale."""
    rank: int | None = Field(default=None, ge=1)
    """Conflict order: a lower rank wins. Unset: loses to every ranked source."""


class FolderSource(SourceBase):
    """A folder of text, Markdown or HTML documents; front matter may carry an ACL and a key."""

    kind: Literal["folder"]
    """`folder`: documents in a directory tree."""
    path: Text
    """The folder, relative to pilot.yaml's folder."""


class CsvSource(SourceBase):
    """A CSV file of records, one row per record."""

    kind: Literal["csv"]
    """`csv`: a CSV file with a header row."""
    path: Text
    """The file, relative to pilot.yaml's folder."""
    key: Text
    """The column that identifies a record across versions."""
    acl_column: Text | None = None
    """A column of per-record groups; a record with no value there is readable by nobody."""


class JsonlSource(SourceBase):
    """A JSON Lines file of records, one object per line."""

    kind: Literal["jsonl"]
    """`jsonl`: one JSON object per line."""
    path: Text
    """The file, relative to pilot.yaml's folder."""
    key: Text
    """The field that identifies a record across versions."""
    acl_column: Text | None = None
    """A field of per-record groups; a record with no value there is readable by nobody."""


class SqlSource(SourceBase):
    """Rows of a SQL query, one row per record."""

    kind: Literal["sql"]
    """`sql`: the rows a query returns."""
    url: DatabaseUrl
    """Database URL without a password, or a secret reference holding the full URL."""
    query: Text
    """The SELECT whose rows are the records."""
    key: Text
    """The column that identifies a record across versions."""
    acl_column: Text | None = None
    """A column of per-record groups; a record with no value there is readable by nobody."""


Source = Annotated[FolderSource | CsvSource | JsonlSource | SqlSource, Field(discriminator="kind")]
"""One declared source; `kind` picks the shape."""
