"""The spine: receipt log, chain heads, checkpoints, tasks, documents and searchable chunks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_heads",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("head", sa.String(71), nullable=False),
        sa.Column("frontier", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "receipts",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(71), nullable=False),
        sa.Column("prev", sa.String(71), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("task", sa.String(64), nullable=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("canonical", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_receipts_pilot_kind", "receipts", ["pilot", "kind"])
    op.create_index("ix_receipts_pilot_task", "receipts", ["pilot", "task"])
    op.create_table(
        "checkpoints",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("pilot", sa.String(64), nullable=False),
        sa.Column("user", sa.String(128), nullable=False),
        sa.Column("input", sa.Text, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("release", sa.String(80), nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_tasks_pilot_state", "tasks", ["pilot", "state"])
    op.create_table(
        "documents",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("pilot", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("content_hash", sa.String(71), nullable=False),
        sa.Column("modified_at", sa.String(40), nullable=True),
        sa.Column("ingested_at", sa.String(40), nullable=False),
        sa.Column("tombstoned", sa.Boolean, nullable=False),
        sa.Column("record_key", sa.Text, nullable=True),
        sa.Column("topic", sa.Text, nullable=True),
        sa.Column("superseded_by", sa.String(64), nullable=True),
        sa.Column("read_groups", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_index("ix_documents_pilot_source_uri", "documents", ["pilot", "source", "uri"])
    op.create_index(
        "ix_documents_superseded_by",
        "documents",
        ["superseded_by"],
        sqlite_where=sa.text("superseded_by IS NOT NULL"),
        postgresql_where=sa.text("superseded_by IS NOT NULL"),
    )
    op.create_table(
        "chunks",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("pilot", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(64), sa.ForeignKey("documents.id"), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("ordinal", sa.Integer, nullable=False),
        sa.Column("heading", sa.Text, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(71), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("acl", sa.Text, nullable=False, server_default=""),
        sa.Column("content_at", sa.String(40), nullable=True),
        sa.Column("superseded", sa.Boolean, nullable=False),
        sa.Column("sketch", sa.Text, nullable=True),
    )
    op.create_index("ix_chunks_pilot_source", "chunks", ["pilot", "source"])
    op.create_index("ix_chunks_document_id", "chunks", ["document_id"])
    op.create_index("ix_chunks_pilot_content_hash", "chunks", ["pilot", "content_hash"])
    _create_full_text_index()


def _create_full_text_index() -> None:
    """SQLite: an external-content FTS5 table over the *active* chunks, kept in step by triggers; its
    ``acl`` column holds the retrieval tokens, so the permission filter is part of the MATCH itself.
    PostgreSQL: a generated tsvector of the heading (weight A), the text (B) and the acl tokens (D, parsed
    with the ``simple`` configuration, so tokens stay whole); retrieval ranks with D weighing nothing and
    filters with the caller's tokens AND-ed into the same ``@@``."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE chunks_fts USING fts5("
            "heading, text, acl, content='chunks', content_rowid='rowid', tokenize='porter unicode61')"
        )
        # Only active chunks are indexed: an old version is never ranked, and the index stays small.
        op.execute(
            "CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks WHEN new.active BEGIN "
            "INSERT INTO chunks_fts(rowid, heading, text, acl) "
            "VALUES (new.rowid, new.heading, new.text, new.acl); END"
        )
        op.execute(
            "CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks WHEN old.active BEGIN "
            "INSERT INTO chunks_fts(chunks_fts, rowid, heading, text, acl) "
            "VALUES ('delete', old.rowid, old.heading, old.text, old.acl); END"
        )
        # One trigger, delete before insert: the old row's tokens leave the index before the new row's enter.
        op.execute(
            "CREATE TRIGGER chunks_fts_update AFTER UPDATE OF heading, text, acl, active ON chunks BEGIN "
            "INSERT INTO chunks_fts(chunks_fts, rowid, heading, text, acl) "
            "SELECT 'delete', old.rowid, old.heading, old.text, old.acl WHERE old.active; "
            "INSERT INTO chunks_fts(rowid, heading, text, acl) "
            "SELECT new.rowid, new.heading, new.text, new.acl WHERE new.active; END"
        )
    else:
        op.execute(
            "ALTER TABLE chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english', coalesce(heading, '')), 'A') || "
            "setweight(to_tsvector('english', text), 'B') || "
            "setweight(to_tsvector('simple', acl), 'D')) STORED"
        )
        op.execute("CREATE INDEX ix_chunks_tsv ON chunks USING gin (tsv)")
        # Keep a chunk's row (text, tokens, tsv: about 3 KB) in the heap page: ranking reads tsv for every
        # match, and a TOASTed tsv costs a second fetch and a decompression each time.
        op.execute("ALTER TABLE chunks SET (toast_tuple_target = 4080)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chunks_fts")
    for table in ("chunks", "documents", "tasks", "checkpoints", "receipts", "chain_heads"):
        op.drop_table(table)
