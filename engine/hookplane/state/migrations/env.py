"""Alembic environment for Hookplane's state database.

Hookplane runs migrations itself (:func:`hookplane.state.migrate.upgrade`), handing over a
connection that is already inside a transaction holding the migration lock. Run by hand, e.g.
to autogenerate a revision, it reads the URL from ``sqlalchemy.url`` in the alembic Config.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from hookplane.state.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set sqlalchemy.url in the alembic Config")
    engine = create_engine(url)
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


_main()
