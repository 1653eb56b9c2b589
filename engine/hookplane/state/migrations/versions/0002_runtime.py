"""Runtime tables: records, outbox and delivery attempts, inbound log, jobs, seen deliveries.

Revision ID: 0002
Revises: 0001
Create Date: 2024-07-01

Written out in full rather than importing ``hookplane.state.tables`` (see 0001).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("collection", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(500), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("deleted_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_records"),
        sa.UniqueConstraint("environment", "collection", "external_id",
                            name="uq_records_environment_collection_external_id"),
    )
    op.create_index("ix_records_environment_collection_created_at_id", "records",
                    ["environment", "collection", "created_at", "id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("trigger_id", sa.String(40), nullable=False),
        sa.Column("trigger_name", sa.String(200), nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_until", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox",
                    ["status", "next_attempt_at"])
    op.create_index("ix_outbox_environment_trigger_id_created_at", "outbox",
                    ["environment", "trigger_id", "created_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("outbox_id", sa.String(40), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_delivery_attempts"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"], ondelete="CASCADE",
                                name="fk_delivery_attempts_outbox_id_outbox"),
    )
    op.create_index("ix_delivery_attempts_outbox_id_id", "delivery_attempts",
                    ["outbox_id", "id"])
    op.create_table(
        "inbound_deliveries",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("webhook_id", sa.String(100), nullable=False),
        sa.Column("webhook_name", sa.String(200), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("record_id", sa.String(40), nullable=True),
        sa.Column("provider_delivery_id", sa.String(255), nullable=True),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_deliveries"),
    )
    op.create_index("ix_inbound_deliveries_environment_webhook_id_received_at",
                    "inbound_deliveries", ["environment", "webhook_id", "received_at"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("webhook_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_until", _TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_status_next_attempt_at", "jobs", ["status", "next_attempt_at"])
    op.create_table(
        "seen_deliveries",
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("webhook_id", sa.String(100), nullable=False),
        sa.Column("provider_delivery_id", sa.String(255), nullable=False),
        sa.Column("seen_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("environment", "webhook_id", "provider_delivery_id",
                                name="pk_seen_deliveries"),
    )


def downgrade() -> None:
    op.drop_table("seen_deliveries")
    op.drop_index("ix_jobs_status_next_attempt_at", table_name="jobs")
    op.drop_table("jobs")
    op.drop_index("ix_inbound_deliveries_environment_webhook_id_received_at",
                  table_name="inbound_deliveries")
    op.drop_table("inbound_deliveries")
    op.drop_index("ix_delivery_attempts_outbox_id_id", table_name="delivery_attempts")
    op.drop_table("delivery_attempts")
    op.drop_index("ix_outbox_environment_trigger_id_created_at", table_name="outbox")
    op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox")
    op.drop_table("outbox")
    op.drop_index("ix_records_environment_collection_created_at_id", table_name="records")
    op.drop_table("records")
