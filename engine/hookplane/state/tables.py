"""The state schema as SQLAlchemy Core tables.

Migrations in ``state/migrations/versions`` create exactly these tables (a test compares
them); change both together. Constraint names follow :data:`NAMING_CONVENTION` so that later
migrations can address them, SQLite batch mode included.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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

# -- runtime (migration 0002) ------------------------------------------------------------

_Id = BigInteger().with_variant(Integer, "sqlite")

records = Table(
    "records",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(100), nullable=False),
    Column("collection", String(100), nullable=False),
    Column("external_id", String(500), nullable=True),
    Column("data", JSON, nullable=False),
    Column("origin", String(20), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", _Timestamp, nullable=False),
    Column("updated_at", _Timestamp, nullable=False),
    Column("deleted_at", _Timestamp, nullable=True),
    # NULLs are distinct in a unique constraint on both backends: records without an
    # external id never collide, and a soft-deleted record keeps its external id (revived).
    UniqueConstraint("environment", "collection", "external_id"),
    Index(None, "environment", "collection", "created_at", "id"),
)
"""Collection records; ``version`` starts at 1 and moves by one per write."""

trigger_budgets = Table(
    "trigger_budgets",
    metadata,
    Column("trigger_id", String(40), primary_key=True),
    Column("window_start", _Timestamp, nullable=False),
    Column("used", Integer, nullable=False),
)
"""Sends counted per clock-aligned window for triggers with ``rate_limit``."""

trigger_health = Table(
    "trigger_health",
    metadata,
    Column("trigger_id", String(40), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("failing_since", _Timestamp, nullable=True),
    Column("open_until", _Timestamp, nullable=True),
    Column("disabled_at", _Timestamp, nullable=True),
    Column("reason", Text, nullable=True),
)
"""Circuit breakers: each trigger's streak of failed attempts, open or disabled."""

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(100), nullable=False),
    Column("trigger_id", String(40), nullable=False),
    Column("trigger_name", String(200), nullable=False),
    Column("event", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", _Timestamp, nullable=False),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_until", _Timestamp, nullable=True),
    Column("created_at", _Timestamp, nullable=False),
    Column("updated_at", _Timestamp, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("last_status_code", Integer, nullable=True),
    Column("order_key", String(120), nullable=True),
    Column("order_seq", Integer, nullable=True),
    Index(None, "status", "next_attempt_at"),
    Index(None, "environment", "trigger_id", "created_at"),
    Index(None, "order_key", "order_seq"),
)
"""Outbound deliveries, written in the record's transaction; ``id`` is the ``webhook-id``."""

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("outbox_id", String(40), ForeignKey("outbox.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", _Timestamp, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("success", Boolean, nullable=False),
    Column("latency_ms", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("response_excerpt", Text, nullable=True),
    Column("worker", String(200), nullable=True),
    Column("request_headers", JSON, nullable=True),
    Column("response_headers", JSON, nullable=True),
    Index(None, "outbox_id", "id"),
)

inbound_deliveries = Table(
    "inbound_deliveries",
    metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("environment", String(100), nullable=False),
    Column("webhook_id", String(100), nullable=False),
    Column("webhook_name", String(200), nullable=True),
    Column("received_at", _Timestamp, nullable=False),
    Column("client_ip", String(64), nullable=True),
    Column("status_code", Integer, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=True),
    Column("latency_ms", Integer, nullable=True),
    Column("record_id", String(40), nullable=True),
    Column("provider_delivery_id", String(255), nullable=True),
    Column("job_id", String(40), nullable=True),
    Index(None, "environment", "webhook_id", "received_at"),
)
"""Every inbound attempt, accepted or not; never a secret header."""

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("environment", String(100), nullable=False),
    Column("webhook_id", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("next_attempt_at", _Timestamp, nullable=False),
    Column("claimed_by", String(200), nullable=True),
    Column("claimed_until", _Timestamp, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("result", JSON, nullable=True),
    Column("created_at", _Timestamp, nullable=False),
    Column("updated_at", _Timestamp, nullable=False),
    Index(None, "status", "next_attempt_at"),
)
"""Asynchronous inbound work (hydration, invoke), persisted before the sender gets 202."""

seen_deliveries = Table(
    "seen_deliveries",
    metadata,
    Column("environment", String(100), primary_key=True),
    Column("webhook_id", String(100), primary_key=True),
    Column("provider_delivery_id", String(255), primary_key=True),
    Column("seen_at", _Timestamp, nullable=False),
)
"""Provider delivery ids seen recently, for de-duplication."""
