"""The SQL connector: the rows of one query over any SQLAlchemy URL, one row a record.

The query runs in a read-only way as far as the driver allows (one ``SELECT`` in a transaction that is
rolled back). A database that cannot be reached, a query that fails, or a result that lacks a declared
column raises ``SourceError`` naming the source (the URL is shown without its password), so the previous good
version of every record stays searchable. Rows stream from the cursor; values are shown as text (times in ISO
8601, decimals as written); a binary value skips its row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from pilotgate.data.connectors.base import SkippedDocument, SourceDocument
from pilotgate.data.connectors.records import RecordLayout, record_document
from pilotgate.errors import SourceError


@dataclass(frozen=True)
class SqlConnector:
    """A SQL query's rows as records. It is a ``Connector``."""

    name: str
    url: str = field(repr=False)
    query: str
    layout: RecordLayout
    read_groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_groups", tuple(sorted(set(self.read_groups))))

    def scan(self) -> Iterator[SourceDocument | SkippedDocument]:
        """Yield each row as a record document, in the query's order."""
        shown = self.safe_url
        try:
            engine = create_engine(self.url)
        except (ArgumentError, NoSuchModuleError, ModuleNotFoundError, ValueError) as exc:
            raise SourceError(
                f"source {self.name!r}: cannot use the database URL {shown}: {_first_line(exc)}",
                hint="check `url:` (a SQLAlchemy URL) and that its driver is installed",
            ) from exc
        try:
            with engine.connect() as conn:
                try:
                    result = conn.execution_options(stream_results=True).execute(text(self.query))
                    columns = list(result.keys())
                    missing = self.layout.missing(columns)
                    if missing:
                        raise SourceError(
                            f"source {self.name!r}: the query returns no column {missing[0]!r} "
                            f"(it returns: {', '.join(columns) or 'none'})",
                            hint=f"select the column in `query:`, or fix source {self.name!r} in pilot.yaml",
                        )
                    for number, row in enumerate(result.mappings(), 1):
                        yield record_document(self.layout, dict(row), f"row {number}")
                finally:
                    conn.rollback()
        except SQLAlchemyError as exc:
            problem = _first_line(getattr(exc, "orig", None) or exc)
            raise SourceError(
                f"source {self.name!r}: the query on {shown} failed: {problem}",
                hint="check that the database is reachable and that the query runs in its own shell",
            ) from exc
        finally:
            engine.dispose()

    @property
    def safe_url(self) -> str:
        """The URL with any password masked, fit for messages."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(not a database URL)"


def _first_line(error: object) -> str:
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__
