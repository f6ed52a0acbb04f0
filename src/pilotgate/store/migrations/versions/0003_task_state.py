"""What a task needs to resume after a pause: its step, retrieved context, transcript, pending calls, spend.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("step", sa.Integer, "0"),
    ("context", sa.Text, None),
    ("transcript", sa.Text, None),
    ("pending", sa.Text, None),
    ("spent", sa.Text, None),
)


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name, kind, default in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=default is None, server_default=default))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        for name, _kind, _default in reversed(COLUMNS):
            batch.drop_column(name)
