"""The database seam: one engine, SQLite's write lock, transactions and error translation.

:class:`Database` is what the config state (:class:`~hookplane.state.store.Store`) and the
runtime's repositories (records, outbox, jobs, inbound log, stats) share. Every transaction
goes through :meth:`Database.transaction`:

- write transactions queue on SQLite's one-writer lock (a thread lock plus ``flock`` on a
  file beside the database) and start with ``BEGIN IMMEDIATE``; on PostgreSQL they run at
  READ COMMITTED and lock rows with ``SELECT … FOR UPDATE``;
- read transactions see one consistent snapshot (WAL on SQLite, REPEATABLE READ on
  PostgreSQL);
- SQLAlchemy errors never leave it: they become :class:`~hookplane.errors.StateError`, or
  :class:`~hookplane.errors.DatabaseUnavailable` when the database itself fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from hookplane.errors import DatabaseUnavailable, StateError
from hookplane.state import tables as t
from hookplane.state._common import iso, utc_now
from hookplane.state.db import BUSY_TIMEOUT_SECONDS, WRITE_OPTION, redact_url, sqlite_path

__all__ = ["Database", "Repository"]


class Database:
    """A state database: its engine and the rules every transaction on it follows.

    Thread-safe: each transaction takes its own connection. Closing it disposes the engine.
    """

    def __init__(self, engine: Engine, *, url: str) -> None:
        self.engine = engine
        self.url = url
        self.postgres = engine.dialect.name == "postgresql"
        # SQLite has one writer at a time: write transactions queue on a lock here instead
        # of meeting in SQLite's busy handler, whose back-off sleeps gave writes
        # multi-second tails when the dispatcher and ingest wrote at once
        self.write_lock: contextlib.AbstractContextManager[Any] = (
            contextlib.nullcontext() if self.postgres else _SQLiteWriteLock(
                _lock_file(sqlite_path(url)), timeout=BUSY_TIMEOUT_SECONDS))
        # write health, for /readyz: the last failed write (monotonic time, reason), the
        # last successful one, the last probe
        self._write_failure: tuple[float, str] | None = None
        self._last_write_ok = time.monotonic()
        self._last_probe = 0.0

    @property
    def url_display(self) -> str:
        """The database URL with its password hidden."""
        return redact_url(self.url)

    def close(self) -> None:
        self.engine.dispose()
        if isinstance(self.write_lock, _SQLiteWriteLock):
            self.write_lock.close()

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection inside a transaction; SQLAlchemy errors become StateError.

        Write transactions take SQLite's write lock up front; read transactions see one
        consistent snapshot (WAL on SQLite, REPEATABLE READ on PostgreSQL).
        """
        try:
            with self.write_lock if write else contextlib.nullcontext(), \
                    self.engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                elif self.postgres:
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            error = self.error(exc)
            if write and isinstance(error, DatabaseUnavailable):
                self._write_failure = (time.monotonic(), str(error))
            raise error from exc
        if write:
            self._write_failure = None
            self._last_write_ok = time.monotonic()

    def error(self, exc: SQLAlchemyError) -> StateError:
        """``exc`` in Hookplane's vocabulary: :class:`DatabaseUnavailable` when the database
        failed (locked too long, unreachable), else :class:`StateError`."""
        reason = _reason(exc)
        where = self.url_display
        if isinstance(exc, OperationalError) and "locked" in reason.lower():
            return DatabaseUnavailable(f"the state database {where} stayed locked by another "
                                       f"process for too long ({reason}); try again")
        if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError)
                                                 and exc.connection_invalidated):
            return DatabaseUnavailable(f"cannot use the state database {where}: {reason}")
        return StateError(f"state database error ({where}): {reason}")

    def write_health(self, *, probe_after: float = 30.0) -> str | None:
        """Why writes are failing (the last write's error), or None when they work. With no
        successful write in ``probe_after`` seconds, one real write (a timestamp in the
        ``meta`` table) is tried first, at most every 5 s: a full disk or a read-only
        database shows here before a delivery is refused."""
        now = time.monotonic()
        if (self._write_failure is None and now - self._last_write_ok > probe_after
                and now - self._last_probe > 5.0):
            self._last_probe = now
            # a failure is recorded by transaction()
            with contextlib.suppress(StateError), self.transaction(write=True) as conn:
                stamp = {"key": "write_probe", "value": iso(utc_now())}
                if conn.execute(update(t.meta).where(t.meta.c.key == "write_probe")
                                .values(value=stamp["value"])).rowcount == 0:
                    conn.execute(insert(t.meta).values(**stamp))
        return self._write_failure[1] if self._write_failure is not None else None


class _SQLiteWriteLock:
    """One SQLite writer at a time, queued in front of ``BEGIN IMMEDIATE``: between the
    threads of this process by a re-entrant lock, and between the processes of this machine
    (``hookplane serve --processes``, an ``apply`` next to a server) by ``flock`` on a file
    beside the database. A waiter polls the file lock every 0.2–2 ms, where SQLite's busy
    handler sleeps up to 100 ms at a time. After ``timeout`` seconds the write raises
    :class:`DatabaseUnavailable`. Programs that do not take the file lock (the ``sqlite3``
    shell) still meet ours in SQLite's busy handler, as before."""

    def __init__(self, path: Path | None, *, timeout: float) -> None:
        self._local = threading.RLock()
        self._path = path
        self._timeout = timeout
        self._fd: int | None = None
        self._depth = 0

    def __enter__(self) -> None:
        self._local.acquire()
        try:
            if self._depth == 0 and self._path is not None:
                self._lock_file()
        except BaseException:
            self._local.release()
            raise
        self._depth += 1

    def __exit__(self, *_exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._local.release()

    def close(self) -> None:
        """Close the lock file (the database is closing: no write is under way)."""
        with self._local:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _lock_file(self) -> None:
        assert self._path is not None
        if self._fd is None:
            try:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise DatabaseUnavailable(f"cannot open the write lock {self._path}: "
                                          f"{exc.strerror}") from exc
        deadline = time.monotonic() + self._timeout
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise DatabaseUnavailable(
                        f"the state database {self._path} stayed locked by another process "
                        f"for more than {self._timeout:g}s; try again") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)


def _lock_file(database: Path | None) -> Path | None:
    """The file SQLite writers of all processes lock: ``DATABASE-writer.lock``."""
    return database.with_name(database.name + "-writer.lock") if database else None


def _reason(exc: SQLAlchemyError) -> str:
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


class Repository:
    """Base of the runtime's repositories: a :class:`Database` and its transactions."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @property
    def _postgres(self) -> bool:
        return self._db.postgres

    def _write(self) -> contextlib.AbstractContextManager[Connection]:
        return self._db.transaction(write=True)

    def _read(self) -> contextlib.AbstractContextManager[Connection]:
        return self._db.transaction()
