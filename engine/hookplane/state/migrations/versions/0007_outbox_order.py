"""Ordered deliveries: an ordering key and sequence on outbox rows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05

A trigger with ``ordered: true`` gives each delivery the key ``{trigger}/{record}`` and the
record's version: a row is claimed only when no earlier row of its key is still pending or in
flight, so one record's deliveries go out in order while other records' go in parallel.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("order_key", sa.String(120), nullable=True))
        batch.add_column(sa.Column("order_seq", sa.Integer(), nullable=True))
    op.create_index("ix_outbox_order_key_order_seq", "outbox", ["order_key", "order_seq"])


def downgrade() -> None:
    op.drop_index("ix_outbox_order_key_order_seq", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("order_seq")
        batch.drop_column("order_key")
