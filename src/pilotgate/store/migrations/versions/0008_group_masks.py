"""SQLite: who may read each active chunk as a bitmask beside the full-text index, for the ranked filter.

Two tables (created on both dialects, so the schema is one; PostgreSQL leaves them empty, its filter is
the ``@@`` of the tokens in ``chunks.tsv``):

- ``acl_bits``: one row per (pilot, group) the store has granted, with a bit number unique in the whole
  store (not per pilot, so a mask also says whose chunk it is); numbers 0-62 are mask bits, later groups
  get numbers from 63 on and are matched by their tokens instead;
- ``chunk_masks``: one row per active chunk, keyed by its rowid (the FTS5 rowid), holding the OR of its
  readers' bits; 0 when nobody may read it (no readable group, or its document lost a conflict).

An existing store is filled here from what it holds: bits for the groups of documents that have active
chunks, numbered by pilot and then name, and a mask for every active chunk from its document's
``read_groups`` (0 for a superseded chunk), as its ``acl`` tokens say today.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_FILL_BITS = """
INSERT INTO acl_bits (pilot, name, bit)
SELECT pilot, name, row_number() OVER (ORDER BY pilot, name) - 1
FROM (
  SELECT DISTINCT d.pilot AS pilot, g.value AS name
  FROM documents AS d, json_each(d.read_groups) AS g
  WHERE EXISTS (SELECT 1 FROM chunks AS c WHERE c.document_id = d.id AND c.active)
)
"""

_FILL_MASKS = """
INSERT INTO chunk_masks (chunk, mask)
SELECT c.rowid,
       CASE WHEN c.superseded THEN 0 ELSE coalesce((
         SELECT sum(1 << b.bit)
         FROM json_each(d.read_groups) AS g
         JOIN acl_bits AS b ON b.pilot = d.pilot AND b.name = g.value
         WHERE b.bit < 63), 0) END
FROM chunks AS c
JOIN documents AS d ON d.id = c.document_id
WHERE c.active
"""
"""``sum`` of distinct powers of two is their OR (a document's ``read_groups`` names each group once); bits
0-62 only (``pilotgate.data.acl.MASK_BITS``)."""


def upgrade() -> None:
    op.create_table(
        "acl_bits",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("bit", sa.Integer, nullable=False, unique=True),
    )
    op.create_table(
        "chunk_masks",
        sa.Column("chunk", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("mask", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(_FILL_BITS)
        op.execute(_FILL_MASKS)


def downgrade() -> None:
    op.drop_table("chunk_masks")
    op.drop_table("acl_bits")
