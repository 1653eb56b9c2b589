"""The state schema as SQLAlchemy Core tables.

Migrations in ``state/migrations/versions`` create exactly these tables (a test compares
them); change both together. Constraint names follow :data:`NAMING_CONVENTION` so that later
migrations can address them, SQLite batch mode included.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

_Timestamp = DateTime(timezone=True)

meta = Table(
    "hookplane_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
"""Facts about the database itself, e.g. ``key_check``: which secret key it was made with."""

environments = Table(
    "environments",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("lineage", String(32), nullable=False),
    Column("serial", Integer, nullable=False),
    Column("updated_at", _Timestamp, nullable=False),
)

resources = Table(
    "resources",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(100),
           ForeignKey("environments.name", ondelete="CASCADE"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("values_ciphertext", Text, nullable=True),
    Column("fingerprints", JSON, nullable=False),
    Column("applied_hash", String(64), nullable=False),
    Column("drift", JSON, nullable=False),
    Column("created_at", _Timestamp, nullable=False),
    Column("updated_at", _Timestamp, nullable=False),
    UniqueConstraint("environment", "kind", "name"),
)

secrets = Table(
    "secrets",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("resource_id", String(40),
           ForeignKey("resources.id", ondelete="CASCADE"), nullable=False),
    Column("secret_kind", String(20), nullable=False),
    Column("ciphertext", Text, nullable=True),
    Column("token_hash", String(64), nullable=True),
    Column("display_prefix", String(16), nullable=False),
    Column("status", String(10), nullable=False),
    Column("created_at", _Timestamp, nullable=False),
    Column("expires_at", _Timestamp, nullable=True),
    Index(None, "resource_id"),
    Index(None, "token_hash"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("environment", String(100), nullable=False),
    Column("serial", Integer, nullable=False),
    Column("action", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", _Timestamp, nullable=False),
    Column("git_commit", String(64), nullable=True),
    Column("plan_digest", String(100), nullable=True),
    Column("details", JSON, nullable=False),
    Index(None, "environment", "id"),
)

locks = Table(
    "locks",
    metadata,
    Column("environment", String(100), primary_key=True),
    Column("lock_id", String(36), nullable=False),
    Column("who", String(200), nullable=False),
    Column("operation", String(40), nullable=False),
    Column("created_at", _Timestamp, nullable=False),
    Column("info", Text, nullable=True),
)
