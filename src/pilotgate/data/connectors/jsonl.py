"""The JSON Lines connector, and the worked example of writing a connector against the protocol.

A connector is any object with a ``name``, the source's ``read_groups`` and a ``scan()`` that yields a
``SourceDocument`` or a ``SkippedDocument`` per document, in a deterministic order, and raises
``SourceError`` when the source as a whole cannot be read (see ``base``). To make one available from
pilot.yaml, publish a factory in the entry point group ``pilotgate.sources``::

    # pyproject.toml of your package
    [project.entry-points."pilotgate.sources"]
    tickets = "my_package.tickets:make_connector"

    # my_package/tickets.py
    def make_connector(source: PluginSource, context: ConnectorContext) -> Connector:
        return TicketConnector(source.name, tuple(source.read), **source.options)

and declare it with ``kind: plugin`` and ``connector: tickets``. The factory gets the source's declaration
(its ``options`` are yours) and a context to resolve relative paths and secret references; the built-in
kinds, this one included, are made by factories of exactly that shape (see ``registry``).

This connector reads one JSON object a line (blank lines are passed over). A line that is not JSON or not
an object is skipped and named by its line number; since it may be any record, nothing of the source is
tombstoned in that ingest (the previous good versions stay searchable).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pilotgate.data.connectors.base import SkippedDocument, SourceDocument
from pilotgate.data.connectors.records import RecordLayout, record_document
from pilotgate.errors import SourceError


@dataclass(frozen=True)
class JsonlConnector:
    """A JSON Lines file of records. It is a ``Connector``."""

    name: str
    path: Path
    layout: RecordLayout
    read_groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "read_groups", tuple(sorted(set(self.read_groups))))

    def scan(self) -> Iterator[SourceDocument | SkippedDocument]:
        """Yield each line's record, in file order."""
        try:
            handle = self.path.open("rb")
            modified = datetime.fromtimestamp(self.path.stat().st_mtime, tz=UTC)
        except FileNotFoundError:
            raise SourceError(
                f"source {self.name!r}: the file {self.path} does not exist",
                hint=f"restore the file, or fix `path:` of source {self.name!r} in pilot.yaml",
            ) from None
        except OSError as exc:
            raise SourceError(
                f"source {self.name!r}: cannot read {self.path}: {exc.strerror or exc}",
                hint="check the file's permissions for the user running pilotgate",
            ) from exc
        with handle:
            for number, raw in enumerate(handle, 1):
                yield from self._line(number, raw, modified)

    def _line(
        self, number: int, raw: bytes, modified: datetime
    ) -> Iterator[SourceDocument | SkippedDocument]:
        where = f"line {number}"
        if not raw.strip():
            return
        try:
            value = json.loads(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as exc:
            yield SkippedDocument(where, f"not UTF-8 (invalid byte at offset {exc.start})", covers="")
            return
        except json.JSONDecodeError as exc:
            yield SkippedDocument(where, f"not valid JSON: {exc.msg} at column {exc.colno}", covers="")
            return
        if not isinstance(value, dict):
            yield SkippedDocument(where, f"a JSON {type(value).__name__}, not an object", covers="")
            return
        item = record_document(self.layout, value, where)
        if isinstance(item, SourceDocument) and item.modified_at is None:
            item = replace(item, modified_at=modified)
        yield item
