"""Delivery budgets of rate-limited triggers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

A trigger with ``rate_limit: {deliveries, per_seconds}`` counts its sends per clock-aligned
window in this table, so that every process and replica shares one budget.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "trigger_budgets",
        sa.Column("trigger_id", sa.String(40), primary_key=True),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("trigger_budgets")
