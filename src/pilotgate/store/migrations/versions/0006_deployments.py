"""Release snapshots, the serving pointer (production and canary) and production's promotion history.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_files",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("release", sa.String(80), primary_key=True),
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("sha256", sa.String(71), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("production", sa.String(80), nullable=True),
        sa.Column("canary", sa.String(80), nullable=True),
        sa.Column("canary_share", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
        sa.Column("receipt", sa.String(71), nullable=False),
    )
    op.create_table(
        "promotions",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("release", sa.String(80), nullable=False),
        sa.Column("promoted_at", sa.String(40), nullable=False),
        sa.Column("promoted_by", sa.String(128), nullable=False),
        sa.Column("receipt", sa.String(71), nullable=False),
        sa.Column("rolled_back", sa.String(71), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("promotions")
    op.drop_table("deployments")
    op.drop_table("release_files")
