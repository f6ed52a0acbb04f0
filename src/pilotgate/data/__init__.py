"""Data: source connectors, chunking, incremental ingest, and retrieval filtered by the caller's groups."""

from pilotgate.data.chunking import CHUNK_CHARS, Chunk, chunk_document, chunk_markdown, chunk_text
from pilotgate.data.connectors import (
    MAX_DOCUMENT_BYTES,
    Connector,
    FolderSource,
    SkippedDocument,
    SourceDocument,
)
from pilotgate.data.ingest import (
    DocumentOutcome,
    IngestReport,
    chunk_id,
    document_id,
    effective_groups,
    ingest_folder,
    ingest_source,
)
from pilotgate.data.retrieval import RetrievedChunk, search

__all__ = [
    "CHUNK_CHARS",
    "MAX_DOCUMENT_BYTES",
    "Chunk",
    "Connector",
    "DocumentOutcome",
    "FolderSource",
    "IngestReport",
    "RetrievedChunk",
    "SkippedDocument",
    "SourceDocument",
    "chunk_document",
    "chunk_id",
    "chunk_markdown",
    "chunk_text",
    "document_id",
    "effective_groups",
    "ingest_folder",
    "ingest_source",
    "search",
]
