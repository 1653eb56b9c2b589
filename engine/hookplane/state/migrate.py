"""Run the Alembic migrations in ``state/migrations`` from code (no alembic.ini needed).

Several processes may open the same database at once (two applies, runtime replicas): the
upgrade runs inside one transaction that first takes a migration lock (``BEGIN IMMEDIATE``
on SQLite, a transaction-scoped advisory lock on PostgreSQL), so the second process waits
and then finds the schema already at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from hookplane.state.db import WRITE_OPTION

MIGRATIONS = Path(__file__).parent / "migrations"

_ADVISORY_LOCK_KEY = 0x486F6F6B  # "Hook": any constant shared by every Hookplane process


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for the packaged migrations, optionally bound to ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the database at ``engine`` to the newest revision (a no-op when it is there)."""
    head = head_revision()
    if current_revision(engine) == head:
        return
    with engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _ADVISORY_LOCK_KEY})
            command.upgrade(alembic_config(connection), "head")
