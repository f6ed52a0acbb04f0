"""The SQL connector: the rows of one query over any SQLAlchemy URL, one row a record.

The query runs in a read-only way as far as the driver allows (one ``SELECT`` in a transaction that is
rolled back). A database that cannot be reached, a query that fails, or a result that lacks a declared
column raises ``SourceError`` naming the source, so the previous good version of every record stays
searchable. The message shows the URL without its password; a URL that came from a secret reference is
shown as the reference, and the driver's own text is scrubbed of the URL and its password (a driver may echo
either), with the driver's exception left off the chain, so a traceback cannot show it either. Rows stream
from the cursor; values are shown as text (times in ISO 8601, decimals as written); a binary value skips its
row.
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

MIN_SCRUBBED = 4
"""Shorter parts of a URL are left in messages: scrubbing them would erase ordinary words."""


@dataclass(frozen=True)
class SqlConnector:
    """A SQL query's rows as records. It is a ``Connector``."""

    name: str
    url: str = field(repr=False)
    query: str
    layout: RecordLayout
    read_groups: tuple[str, ...] = ()
    secret_reference: str | None = None
    """The secret reference the URL was resolved from, if it was: messages name it instead of the URL."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_groups", tuple(sorted(set(self.read_groups))))

    def scan(self) -> Iterator[SourceDocument | SkippedDocument]:
        """Yield each row as a record document, in the query's order."""
        shown = self.safe_url
        try:
            engine = create_engine(self.url)
        except (ArgumentError, NoSuchModuleError, ModuleNotFoundError, ValueError) as exc:
            raise SourceError(
                f"source {self.name!r}: cannot use the database URL {shown}: {self._scrub(_first_line(exc))}",
                hint="check `url:` (a SQLAlchemy URL) and that its driver is installed",
            ) from self._cause(exc)
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
            problem = self._scrub(_first_line(getattr(exc, "orig", None) or exc))
            raise SourceError(
                f"source {self.name!r}: the query on {shown} failed: {problem}",
                hint="check that the database is reachable and that the query runs in its own shell",
            ) from self._cause(exc)
        finally:
            engine.dispose()

    @property
    def safe_url(self) -> str:
        """The URL fit for messages: the secret reference it came from, else the URL with its password
        masked."""
        if self.secret_reference is not None:
            return self.secret_reference
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(not a database URL)"

    def _scrub(self, text: str) -> str:
        """``text`` without the URL, its password or its query values (a driver's message may echo them)."""
        secrets = [self.url]
        try:
            parsed = make_url(self.url)
        except ArgumentError:
            parsed = None
        if parsed is not None:
            secrets.append(str(parsed.password or ""))
            for value in parsed.query.values():
                secrets.extend([value] if isinstance(value, str) else value)
        for secret in sorted({s for s in secrets if len(s) >= MIN_SCRUBBED}, key=len, reverse=True):
            text = text.replace(secret, "[REDACTED]")
        return text

    def _cause(self, exc: BaseException) -> BaseException | None:
        """The exception to chain: the driver's, unless the URL is a secret (its text may hold it)."""
        return None if self.secret_reference is not None else exc


def _first_line(error: object) -> str:
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__
