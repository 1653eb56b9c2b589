"""Initial state schema: environments, resources, secrets, audit log, locks.

Revision ID: 0001
Revises:
Create Date: 2024-06-01

Written out in full rather than importing ``hookplane.state.tables``: a migration is a
record of what the schema was at that revision and must not change when the tables do.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hookplane_meta",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_hookplane_meta"),
    )
    op.create_table(
        "environments",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("lineage", sa.String(32), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_environments"),
    )
    op.create_table(
        "resources",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("values_ciphertext", sa.Text(), nullable=True),
        sa.Column("fingerprints", sa.JSON(), nullable=False),
        sa.Column("applied_hash", sa.String(64), nullable=False),
        sa.Column("drift", sa.JSON(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_resources"),
        sa.ForeignKeyConstraint(["environment"], ["environments.name"], ondelete="CASCADE",
                                name="fk_resources_environment_environments"),
        sa.UniqueConstraint("environment", "kind", "name",
                            name="uq_resources_environment_kind_name"),
    )
    op.create_table(
        "secrets",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("resource_id", sa.String(40), nullable=False),
        sa.Column("secret_kind", sa.String(20), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("display_prefix", sa.String(16), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_secrets"),
        sa.ForeignKeyConstraint(["resource_id"], ["resources.id"], ondelete="CASCADE",
                                name="fk_secrets_resource_id_resources"),
    )
    op.create_index("ix_secrets_resource_id", "secrets", ["resource_id"])
    op.create_index("ix_secrets_token_hash", "secrets", ["token_hash"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  autoincrement=True, nullable=False),
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("plan_digest", sa.String(100), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_environment_id", "audit_log", ["environment", "id"])
    op.create_table(
        "locks",
        sa.Column("environment", sa.String(100), nullable=False),
        sa.Column("lock_id", sa.String(36), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("info", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("environment", name="pk_locks"),
    )


def downgrade() -> None:
    op.drop_table("locks")
    op.drop_index("ix_audit_log_environment_id", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_secrets_token_hash", table_name="secrets")
    op.drop_index("ix_secrets_resource_id", table_name="secrets")
    op.drop_table("secrets")
    op.drop_table("resources")
    op.drop_table("environments")
    op.drop_table("hookplane_meta")
