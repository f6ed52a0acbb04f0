"""From a source's declaration in pilot.yaml to the connector that reads it.

Every kind is made by a factory ``(declaration, context) -> Connector``. The built-in kinds (folder, csv,
jsonl, sql) are registered here; ``kind: plugin`` sources are made by the factory published under the name
``connector:`` in the entry point group ``pilotgate.sources`` (see ``jsonl`` for a worked example). An entry
point that is missing, fails to load, or returns something that is not a connector is a ``SourceError``
naming the source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pilotgate.data.connectors.base import Connector
from pilotgate.data.connectors.csv import CsvConnector
from pilotgate.data.connectors.folder import FolderConnector
from pilotgate.data.connectors.jsonl import JsonlConnector
from pilotgate.data.connectors.records import RecordLayout
from pilotgate.data.connectors.sql import SqlConnector
from pilotgate.errors import SecretError, SourceError
from pilotgate.spec.sections.sources import (
    CsvSource,
    FolderSource,
    JsonlSource,
    PluginSource,
    RecordSourceBase,
    SourceBase,
    SqlSource,
)
from pilotgate.spec.types import is_secret_reference

ENTRY_POINT_GROUP = "pilotgate.sources"
"""The entry point group where packages publish connector factories for ``kind: plugin`` sources."""


@dataclass(frozen=True)
class ConnectorContext:
    """What a factory may need besides the declaration: where pilot.yaml lives, and secrets."""

    root: Path
    """The folder holding pilot.yaml; relative paths in a declaration resolve against it."""
    resolve_secret: Callable[[str], str] | None = None
    """Turns a secret reference (``env:NAME``, ``vault:...``) into its value; None when none is wired."""

    def path(self, relative: str | Path) -> Path:
        """``relative`` against the pilot's folder; an absolute path (or ``~/...``) is kept."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    def secret(self, source: str, reference: str) -> str:
        """The value of ``reference``, or a SourceError naming the source (never the value)."""
        if self.resolve_secret is None:
            raise SourceError(
                f"source {source!r}: its URL is a secret reference and no secret resolver is configured",
                hint="run through pilotgate's CLI or runtime, which resolve secret references",
            )
        try:
            return self.resolve_secret(reference)
        except SecretError as exc:
            raise SourceError(
                f"source {source!r}: its secret {reference} cannot be resolved: {exc.message}",
                hint=exc.hint or "set the secret, or fix the reference in pilot.yaml",
            ) from None


ConnectorFactory = Callable[[Any, ConnectorContext], Connector]
"""Makes the connector for one declared source."""


def layout_of(source: RecordSourceBase) -> RecordLayout:
    """The record layout a record source declares."""
    return RecordLayout(
        key=source.key,
        acl_column=source.acl_column,
        text_columns=tuple(source.text_columns),
        title_column=source.title_column,
        topic_column=source.topic_column,
        modified_column=source.modified_column,
    )


def _folder(source: FolderSource, context: ConnectorContext) -> Connector:
    return FolderConnector(name=source.name, path=context.path(source.path), read_groups=tuple(source.read))


def _csv(source: CsvSource, context: ConnectorContext) -> Connector:
    return CsvConnector(
        name=source.name,
        path=context.path(source.path),
        layout=layout_of(source),
        read_groups=tuple(source.read),
        encoding=source.encoding,
        delimiter=source.delimiter,
    )


def _jsonl(source: JsonlSource, context: ConnectorContext) -> Connector:
    return JsonlConnector(
        name=source.name,
        path=context.path(source.path),
        layout=layout_of(source),
        read_groups=tuple(source.read),
    )


def _sql(source: SqlSource, context: ConnectorContext) -> Connector:
    secret = is_secret_reference(source.url)
    return SqlConnector(
        name=source.name,
        url=context.secret(source.name, source.url) if secret else source.url,
        query=source.query,
        layout=layout_of(source),
        read_groups=tuple(source.read),
        secret_reference=source.url if secret else None,
    )


BUILTIN_FACTORIES: dict[str, ConnectorFactory] = {
    "folder": _folder,
    "csv": _csv,
    "jsonl": _jsonl,
    "sql": _sql,
}
"""The kinds pilotgate reads itself, by ``kind``."""


def connector_for(source: SourceBase, context: ConnectorContext) -> Connector:
    """The connector that reads ``source`` as declared (SourceError if none can)."""
    if isinstance(source, PluginSource):
        factory = plugin_factory(source.name, source.connector)
    else:
        found = BUILTIN_FACTORIES.get(source.kind)
        if found is None:
            raise SourceError(
                f"source {source.name!r}: no connector reads kind {source.kind!r}",
                hint=f"use one of {', '.join(BUILTIN_FACTORIES)}, or kind: plugin",
            )
        factory = found
    try:
        connector = factory(source, context)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(
            f"source {source.name!r}: its connector could not be made: {type(exc).__name__}: {exc}",
            hint="check the source's settings in pilot.yaml",
        ) from exc
    if not isinstance(connector, Connector) or connector.name != source.name:
        raise SourceError(
            f"source {source.name!r}: the connector factory returned {type(connector).__name__}, "
            "not a connector named after the source",
            hint="a connector has `name` (the source's name), `read_groups` and `scan()`",
        )
    return connector


def plugin_factory(source: str, name: str) -> ConnectorFactory:
    """The factory published as ``name`` in the ``pilotgate.sources`` entry point group."""
    found = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == name]
    if not found:
        available = sorted({point.name for point in entry_points(group=ENTRY_POINT_GROUP)})
        raise SourceError(
            f"source {source!r}: no connector {name!r} is installed "
            f"(entry point group {ENTRY_POINT_GROUP!r} has: {', '.join(available) or 'nothing'})",
            hint="install the package that provides it, or fix `connector:` in pilot.yaml",
        )
    try:
        factory = found[0].load()
    except Exception as exc:
        raise SourceError(
            f"source {source!r}: the connector {name!r} ({found[0].value}) failed to load: "
            f"{type(exc).__name__}: {exc}",
            hint="reinstall the package that provides it",
        ) from exc
    if not callable(factory):
        raise SourceError(
            f"source {source!r}: the entry point {name!r} ({found[0].value}) is not callable",
            hint="an entry point in pilotgate.sources names a factory (declaration, context) -> connector",
        )
    return factory  # type: ignore[no-any-return]
