"""Database URLs and engines: SQLite by default, PostgreSQL for teams.

The embedded default is a SQLite file at ``ROOT/.hookplane/state.db`` in WAL mode, so the
runtime can read while an apply writes. SQLite's own transaction handling is switched off and
SQLAlchemy emits ``BEGIN`` itself: write transactions start with ``BEGIN IMMEDIATE`` so that
two processes applying at once queue on the database (for up to the busy timeout) instead of
failing half-way with ``database is locked``.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from hookplane.errors import StateError

DATABASE_URL_ENV = "HOOKPLANE_DATABASE_URL"
STATE_DIR = ".hookplane"
BUSY_TIMEOUT_SECONDS = 10.0

WRITE_OPTION = "hookplane_write"
"""Execution option: the transaction about to begin will write (``BEGIN IMMEDIATE``)."""

_USERINFO = re.compile(r"(?P<head>://[^:/@]*:)[^@/]*(?P<tail>@)")


def default_url(root: Path) -> str:
    """The embedded SQLite database of the project at ``root``."""
    return f"sqlite:///{(root / STATE_DIR / 'state.db').resolve()}"


def resolve_url(url: str | None, *, root: Path, environ: Mapping[str, str] | None = None) -> str:
    """The URL to use: ``url``, else ``$HOOKPLANE_DATABASE_URL``, else the SQLite default.

    ``postgresql://`` and ``postgres://`` are given the psycopg 3 driver.
    """
    env = os.environ if environ is None else environ
    chosen = url or env.get(DATABASE_URL_ENV) or default_url(root)
    for scheme in ("postgresql://", "postgres://"):
        if chosen.startswith(scheme):
            return "postgresql+psycopg://" + chosen[len(scheme):]
    return chosen


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for an in-memory database)."""
    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``, for messages and ``--help`` output."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return _USERINFO.sub(r"\g<head>***\g<tail>", url)


def make_engine(url: str | None, *, root: Path) -> Engine:
    """An engine for ``url`` (see :func:`resolve_url`), configured for Hookplane's state.

    The default SQLite database's directory is created on first use.
    """
    resolved = resolve_url(url, root=root)
    if url is None and not os.environ.get(DATABASE_URL_ENV):
        private_directory(root / STATE_DIR)
    try:
        if is_sqlite(resolved):
            _private_database_files(sqlite_path(resolved))
            engine = create_engine(resolved, connect_args={"timeout": BUSY_TIMEOUT_SECONDS})
            _configure_sqlite(engine)
        else:
            engine = create_engine(resolved, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise StateError(
            f"no database driver for {redact_url(resolved)}: use sqlite:///PATH or "
            "postgresql://USER:PASSWORD@HOST/DB"
        ) from exc
    except ModuleNotFoundError as exc:
        raise StateError(
            f"the driver for {redact_url(resolved)} is not installed ({exc.name}); for "
            "PostgreSQL install 'hookplane[postgres]'"
        ) from exc
    except ArgumentError as exc:
        raise StateError(f"invalid database URL {redact_url(resolved)}: {exc}") from exc
    return engine


FILE_MODE = 0o600
DIRECTORY_MODE = 0o700


def private_directory(path: Path) -> None:
    """Create Hookplane's state directory readable by its owner only (0700, whatever the
    umask), and tighten one an older version created 0755: it holds the state database,
    its WAL and the secret key file."""
    path.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    if (path.stat().st_mode & 0o777) != DIRECTORY_MODE:
        path.chmod(DIRECTORY_MODE)


def _private_database_files(database: Path | None) -> None:
    """The SQLite database file is created 0600 before SQLite opens it (SQLite gives its
    ``-wal`` and ``-shm`` files the database's mode), and an existing database and its
    ``-wal``/``-shm`` and write-lock files with looser modes (made by an older version) are
    tightened."""
    if database is None:
        return
    if not database.exists() and database.parent.is_dir():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for path in (database, *(database.with_name(database.name + suffix)
                             for suffix in ("-wal", "-shm", "-writer.lock"))):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if (path.stat().st_mode & 0o777) & ~FILE_MODE:
                path.chmod(FILE_MODE)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module; _on_begin emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _enable_wal(cursor: Any) -> None:
    """Switch to WAL (persistent, so normally already done).

    Switching needs an exclusive lock and SQLite does not wait for it through the busy
    handler, so when several processes open a new database at once, retry until the busy
    timeout.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
