"""Delivery attempts say which worker (replica, process) made them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

An operator of several replicas sees in the delivery history which replica sent each
attempt (and which one lost its lease); nullable, so attempts recorded before this revision
keep no worker.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("worker", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("worker")
