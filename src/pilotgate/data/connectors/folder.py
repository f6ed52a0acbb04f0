"""The folder connector: text, Markdown and HTML files under one folder, read recursively.

Files are read in sorted order of their relative POSIX path, so two scans of the same folder yield the same
sequence. Hidden files and folders (``.git``, ``.obsidian``) and files of other suffixes are not documents
and are passed over silently. A file that is binary, not UTF-8, over the size limit, unreadable, a symlink
leading outside the folder, or whose front matter cannot be used is skipped and reported, never a crash.
HTML is turned into heading-structured text (see ``html``) and chunked like Markdown. Front matter may name
the document's groups (``read``), its record ``key`` and its ``topic``; other keys are kept as metadata.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pilotgate.data.connectors.base import HTML, MARKDOWN, PLAIN_TEXT, SkippedDocument, SourceDocument
from pilotgate.data.connectors.front_matter import FrontMatterError, split_front_matter
from pilotgate.data.connectors.html import html_to_markdown
from pilotgate.errors import SourceError

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
"""A file larger than this is skipped and reported: a folder source holds documents, not dumps."""

MEDIA_TYPES = {
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": PLAIN_TEXT,
    ".html": HTML,
    ".htm": HTML,
}
"""The suffixes a folder source reads (case-insensitive) and how each is chunked."""

_BINARY_PROBE_BYTES = 8192


@dataclass(frozen=True)
class FolderConnector:
    """A folder source: its name, its folder, and the groups that may read it. It is a ``Connector``."""

    name: str
    path: Path
    read_groups: tuple[str, ...] = ()
    max_bytes: int = MAX_DOCUMENT_BYTES
    suffixes: tuple[str, ...] = field(default=tuple(MEDIA_TYPES))

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "read_groups", _group_tuple(self.read_groups))

    def scan(self) -> Iterator[SourceDocument | SkippedDocument]:
        """Yield each text, Markdown or HTML file under the folder, in sorted order of its relative path."""
        files, unlistable = _list_files(self)
        for uri, reason in unlistable:
            yield SkippedDocument(uri=uri, reason=reason)
        for uri, path in files:
            yield _read(self, uri, path)


def _group_tuple(groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({group for group in groups}))


def _list_files(source: FolderConnector) -> tuple[list[tuple[str, Path]], list[tuple[str, str]]]:
    root = source.path
    if not root.exists():
        raise SourceError(
            f"source {source.name!r}: the folder {root} does not exist",
            hint=f"restore the folder, or fix `path:` of source {source.name!r} in pilot.yaml "
            "(a relative path is read from the folder holding pilot.yaml)",
        )
    if not root.is_dir():
        raise SourceError(
            f"source {source.name!r}: {root} is not a folder",
            hint=f"point `path:` of source {source.name!r} at the folder holding its documents",
        )
    resolved_root = root.resolve()
    unlistable: list[tuple[str, str]] = []

    def on_error(error: OSError) -> None:
        folder = Path(error.filename or root)
        if folder.resolve() == resolved_root:
            raise SourceError(
                f"source {source.name!r}: cannot list the folder {root}: {error.strerror}",
                hint="check the folder's permissions for the user running pilotgate",
            ) from error
        # A folder we cannot list is reported by its path with a trailing slash: ingest keeps every document
        # under it as it was, rather than tombstoning them for a permission glitch.
        uri = folder.relative_to(root).as_posix() + "/"
        unlistable.append((uri, f"cannot list the folder: {error.strerror}"))

    suffixes = {suffix.lower() for suffix in source.suffixes}
    files: list[tuple[str, Path]] = []
    for folder, dirnames, filenames in os.walk(root, onerror=on_error):
        dirnames[:] = [name for name in dirnames if not name.startswith(".")]
        for filename in filenames:
            if filename.startswith(".") or Path(filename).suffix.lower() not in suffixes:
                continue
            path = Path(folder) / filename
            files.append((path.relative_to(root).as_posix(), path))
    files.sort()
    unlistable.sort()
    return files, unlistable


def _read(source: FolderConnector, uri: str, path: Path) -> SourceDocument | SkippedDocument:
    try:
        if path.is_symlink() and not path.resolve().is_relative_to(source.path.resolve()):
            return SkippedDocument(uri, "a symlink to a file outside the source folder")
        stat = path.stat()
        if stat.st_size > source.max_bytes:
            return SkippedDocument(
                uri, f"{stat.st_size:,} bytes is over the size limit of {source.max_bytes:,} bytes"
            )
        raw = path.read_bytes()
    except OSError as exc:
        return SkippedDocument(uri, f"cannot read the file: {exc.strerror or exc}")
    if b"\x00" in raw[:_BINARY_PROBE_BYTES]:
        return SkippedDocument(uri, "a binary file, not text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return SkippedDocument(uri, f"not UTF-8 text (invalid byte at offset {exc.start})")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        front = split_front_matter(text)
    except FrontMatterError as exc:
        return SkippedDocument(uri, str(exc))
    media_type = MEDIA_TYPES.get(path.suffix.lower(), PLAIN_TEXT)
    body = front.body
    if media_type == HTML:
        body, media_type = html_to_markdown(body), MARKDOWN
    metadata = dict(front.metadata)
    record_key = _scalar(metadata.pop("key", None))
    topic = _scalar(metadata.pop("topic", None))
    return SourceDocument(
        uri=uri,
        text=body,
        modified_at=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        metadata=metadata,
        media_type=media_type,
        read_groups=front.read_groups,
        record_key=record_key,
        topic=topic,
    )


def _scalar(value: object) -> str | None:
    """A front-matter key or topic as text (``key: 123456`` is the string ``123456``)."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None
