"""Releases, eval runs and eval results.

Revision ID: 0004
Revises: 0003 (only for order: nothing here uses a table of 0003; re-point if 0003 moves)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("pilot", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("content_hash", sa.String(71), nullable=False),
        sa.Column("manifest", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("receipt", sa.String(71), nullable=False),
    )
    op.create_table(
        "eval_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("pilot", sa.String(64), nullable=False),
        sa.Column("release", sa.String(80), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=True),
        sa.Column("cases", sa.Text, nullable=False),
        sa.Column("receipt", sa.String(71), nullable=True),
        sa.Column("blessed_by", sa.String(128), nullable=True),
        sa.Column("blessed_at", sa.String(40), nullable=True),
        sa.Column("blessed_receipt", sa.String(71), nullable=True),
    )
    op.create_index("ix_eval_runs_pilot_release", "eval_runs", ["pilot", "release"])
    op.create_table(
        "eval_results",
        sa.Column("run_id", sa.String(64), sa.ForeignKey("eval_runs.id"), primary_key=True),
        sa.Column("case_id", sa.String(128), primary_key=True),
        sa.Column("repeat", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("assertions", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("cost", sa.String(40), nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("task", sa.String(64), nullable=True),
        sa.Column("receipts", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("eval_results")
    op.drop_index("ix_eval_runs_pilot_release", table_name="eval_runs")
    op.drop_table("eval_runs")
    op.drop_table("releases")
