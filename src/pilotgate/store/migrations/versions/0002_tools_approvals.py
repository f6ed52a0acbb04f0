"""Tool calls (the executor's intent/result ledger) and approval requests.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tool_calls",
        sa.Column("key", sa.String(71), primary_key=True),
        sa.Column("pilot", sa.String(64), nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("args_hash", sa.String(71), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("intent_seq", sa.BigInteger, nullable=False),
        sa.Column("result_seq", sa.BigInteger, nullable=True),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_tool_calls_pilot_task", "tool_calls", ["pilot", "task"])
    op.create_index("ix_tool_calls_pilot_state", "tool_calls", ["pilot", "state"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("pilot", sa.String(64), nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("args", sa.Text, nullable=False),
        sa.Column("args_hash", sa.String(71), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("approvers", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=False),
        sa.Column("decided_at", sa.String(40), nullable=True),
        sa.Column("consumed_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_approvals_pilot_state", "approvals", ["pilot", "state", "expires_at"])
    op.create_index("ix_approvals_pilot_task", "approvals", ["pilot", "task"])


def downgrade() -> None:
    op.drop_table("approvals")
    op.drop_table("tool_calls")
