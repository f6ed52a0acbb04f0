"""Source connectors: each reads one kind of source and yields documents for ingest."""

from pilotgate.data.connectors.base import Connector, SkippedDocument, SourceDocument
from pilotgate.data.connectors.folder import MAX_DOCUMENT_BYTES, FolderSource

__all__ = ["MAX_DOCUMENT_BYTES", "Connector", "FolderSource", "SkippedDocument", "SourceDocument"]
