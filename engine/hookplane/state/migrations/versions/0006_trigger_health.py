"""Circuit breakers of triggers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

A trigger with ``circuit_breaker`` keeps its streak of failed attempts here (shared by every
process and replica): when the breaker is open, when the streak began, whether the trigger
was disabled and why.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "trigger_health",
        sa.Column("trigger_id", sa.String(40), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("trigger_health")
