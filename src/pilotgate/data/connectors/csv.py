"""The CSV connector: one row a record, with a header row naming the fields.

The whole file must exist and be readable (else ``SourceError``: a vanished file is never mistaken for a
file whose records were all deleted), and its header must hold the declared key and the other declared
fields (else ``SourceError`` naming what is missing). Bytes the declared encoding cannot decode are kept
apart: a row holding them is skipped and named (by its key where the key itself is readable, and then its
previous version stays searchable; otherwise by its line, and then nothing of the source is tombstoned in
this ingest, since that row may be any record).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pilotgate.data.connectors.base import SkippedDocument, SourceDocument
from pilotgate.data.connectors.records import RecordLayout, record_document
from pilotgate.errors import SourceError

MAX_FIELD_CHARS = 1024 * 1024
"""csv's own field limit is raised to this, so a long text column reads (the record limit still applies)."""


@dataclass(frozen=True)
class CsvConnector:
    """A CSV file of records. It is a ``Connector``."""

    name: str
    path: Path
    layout: RecordLayout
    read_groups: tuple[str, ...] = ()
    encoding: str = "utf-8"
    delimiter: str = ","

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "read_groups", tuple(sorted(set(self.read_groups))))

    def scan(self) -> Iterator[SourceDocument | SkippedDocument]:
        """Yield each row as a record document, in file order (ingest sorts outcomes by uri)."""
        raw = self._read()
        try:
            text = raw.decode(self.encoding, errors="surrogateescape")
        except LookupError as exc:
            raise SourceError(
                f"source {self.name!r}: unknown encoding {self.encoding!r}",
                hint="set `encoding:` to a Python codec name such as utf-8, utf-8-sig, latin-1 or cp1252",
            ) from exc
        if text.startswith("\ufeff"):
            text = text[1:]
        modified = datetime.fromtimestamp(self.path.stat().st_mtime, tz=UTC)
        csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter, strict=False)
        try:
            header = next(reader)
        except StopIteration:
            raise SourceError(
                f"source {self.name!r}: {self.path} is empty (no header row)",
                hint="a CSV source needs a header row naming its fields",
            ) from None
        header = [name.strip() for name in header]
        missing = self.layout.missing(header)
        if missing:
            raise SourceError(
                f"source {self.name!r}: {self.path.name} has no column {missing[0]!r} "
                f"(its columns: {', '.join(header) or 'none'})",
                hint=f"fix the header of {self.path}, or the columns of source {self.name!r} in pilot.yaml",
            )
        key_index = header.index(self.layout.key)
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                yield SkippedDocument(f"line {line}", f"not a CSV row: {exc}", covers="")
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield SkippedDocument(
                    f"line {line}", f"{len(row)} fields where the header has {len(header)}", covers=""
                )
                continue
            bad = [name for name, cell in zip(header, row, strict=True) if _undecodable(cell)]
            if bad:
                key = row[key_index].strip()
                reason = f"bytes that are not {self.encoding} in field {bad[0]!r} (line {line})"
                if key and not _undecodable(key):
                    yield SkippedDocument(key, reason)
                else:
                    yield SkippedDocument(f"line {line}", reason, covers="")
                continue
            item = record_document(self.layout, dict(zip(header, row, strict=True)), f"line {line}")
            if isinstance(item, SourceDocument) and item.modified_at is None:
                item = _with_modified(item, modified)
            yield item

    def _read(self) -> bytes:
        if not self.path.exists():
            raise SourceError(
                f"source {self.name!r}: the file {self.path} does not exist",
                hint=f"restore the file, or fix `path:` of source {self.name!r} in pilot.yaml",
            )
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise SourceError(
                f"source {self.name!r}: cannot read {self.path}: {exc.strerror or exc}",
                hint="check the file's permissions for the user running pilotgate",
            ) from exc


def _undecodable(cell: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in cell)


def _with_modified(item: SourceDocument, moment: datetime) -> SourceDocument:
    """A record without its own modified time is as recent as its file."""
    return replace(item, modified_at=moment)
