"""Source connectors: each reads one kind of source and yields documents for ingest."""

from pilotgate.data.connectors.base import Connector, SkippedDocument, SourceDocument
from pilotgate.data.connectors.csv import CsvConnector
from pilotgate.data.connectors.folder import MAX_DOCUMENT_BYTES, FolderConnector
from pilotgate.data.connectors.jsonl import JsonlConnector
from pilotgate.data.connectors.records import MAX_RECORD_BYTES, RecordLayout
from pilotgate.data.connectors.registry import (
    BUILTIN_FACTORIES,
    ENTRY_POINT_GROUP,
    ConnectorContext,
    ConnectorFactory,
    connector_for,
)
from pilotgate.data.connectors.sql import SqlConnector

__all__ = [
    "BUILTIN_FACTORIES",
    "ENTRY_POINT_GROUP",
    "MAX_DOCUMENT_BYTES",
    "MAX_RECORD_BYTES",
    "Connector",
    "ConnectorContext",
    "ConnectorFactory",
    "CsvConnector",
    "FolderConnector",
    "JsonlConnector",
    "RecordLayout",
    "SkippedDocument",
    "SourceDocument",
    "SqlConnector",
    "connector_for",
]
