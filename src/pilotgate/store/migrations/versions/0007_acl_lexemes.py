"""PostgreSQL: the retrieval tokens enter ``chunks.tsv`` as lexemes as they are, not parsed as text.

The tokens (``pilotgate.data.acl``) are letters and digits already, one per space; running them through
``to_tsvector('simple', ...)`` cost about 30 µs of server CPU per chunk at ingest (measured at 30,000
chunks: ~240 against ~270 µs a chunk). ``array_to_tsvector`` takes them whole. They carry no position, so no
weight either: the ranking never counted them (weight D weighed nothing), and a filter's ``@@`` matches a
lexeme with or without positions. SQLite is unchanged.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TEXT = (
    "setweight(to_tsvector('english', coalesce(heading, '')), 'A') || "
    "setweight(to_tsvector('english', text), 'B')"
)
_NEW = f"{_TEXT} || array_to_tsvector(array_remove(string_to_array(acl, ' '), ''))"
_OLD = f"{_TEXT} || setweight(to_tsvector('simple', acl), 'D')"


def _generate(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_chunks_tsv")
    op.execute("ALTER TABLE chunks DROP COLUMN tsv")
    op.execute(f"ALTER TABLE chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({expression}) STORED")
    op.execute("CREATE INDEX ix_chunks_tsv ON chunks USING gin (tsv)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _generate(_NEW)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _generate(_OLD)
