"""Delivery attempts keep their request and response headers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

The delivery log showed status, latency, error and a response excerpt; debugging a receiver
needs the headers too (which signature was sent, what the receiver answered with). Request
headers are stored with every value that came from a ``${env:…}`` reference, and every
credential-like header, masked; response headers with cookies masked. Nullable: attempts made
before this revision have none. They go with their delivery when retention purges it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.add_column(sa.Column("request_headers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("response_headers", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery_attempts") as batch:
        batch.drop_column("response_headers")
        batch.drop_column("request_headers")
