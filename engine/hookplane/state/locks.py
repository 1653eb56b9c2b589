"""The state lock: one holder per environment while its state changes.

An apply, a promotion or a secret rotation holds the environment's lock (a row of
``hookplane_locks``) from plan to commit, so two people or pipelines never write the same
state at once; a lock left by an interrupted run is removed with ``force-unlock`` (audited).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from hookplane.errors import LockError, StateError
from hookplane.state import tables as t
from hookplane.state._common import DbRow, clip, iso, utc_now
from hookplane.state._environment import current_serial
from hookplane.state.audit import AuditRecord, append_audit, current_actor
from hookplane.state.database import Repository

__all__ = ["LockInfo", "Locks"]


@dataclass(frozen=True)
class LockInfo:
    """Who holds an environment's lock, for what, since when."""

    id: str
    environment: str
    who: str
    operation: str
    created_at: str


class Locks(Repository):
    """The environments' locks on one database."""

    def acquire_lock(self, environment: str, *, who: str, operation: str,
                     timeout: float = 0.0) -> LockInfo:
        """Take the environment's lock, or raise :class:`LockError` describing the holder;
        with ``timeout`` (seconds), keep trying that long first (``--lock-timeout``)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                return self._try_lock(environment, who=who, operation=operation)
            except LockError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))

    def _try_lock(self, environment: str, *, who: str, operation: str) -> LockInfo:
        now = utc_now()
        mine = LockInfo(id=str(uuid.uuid4()), environment=environment, who=clip(who),
                        operation=clip(operation, 40), created_at=iso(now))
        for _attempt in range(5):
            try:
                with self._write() as conn:
                    holder = _lock_row(conn, environment)
                    if holder is None:
                        conn.execute(insert(t.locks).values(
                            environment=environment, lock_id=mine.id, who=mine.who,
                            operation=mine.operation, created_at=now, info=None))
                        return mine
            except StateError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    continue  # another process inserted between our read and write
                raise
            raise LockError(_lock_held_message(_lock_info(holder)))
        raise LockError(f"Error acquiring the state lock\n\nthe lock on '{environment}' "
                        "keeps changing hands; try again")

    def release_lock(self, environment: str, lock_id: str) -> None:
        """Release a lock taken with :meth:`acquire_lock`.

        Raises :class:`LockError` if the lock is no longer this one (someone force-unlocked
        it meanwhile); another holder's lock is never removed.
        """
        with self._write() as conn:
            deleted = conn.execute(delete(t.locks).where(t.locks.c.environment == environment,
                                                         t.locks.c.lock_id == lock_id))
            if deleted.rowcount == 1:
                return
            holder = _lock_row(conn, environment)
        situation = ("it is now held by " + _describe_lock(_lock_info(holder))
                     if holder is not None else "no lock is held")
        raise LockError(f"Error releasing the state lock of '{environment}': lock {lock_id} "
                        f"was force-unlocked while this operation ran; {situation}.")

    def force_unlock(self, environment: str, lock_id: str, *, actor: str | None = None) -> None:
        """Remove a lock left by an interrupted run, given its ID; audited as ``force-unlock``."""
        with self._write() as conn:
            holder = _lock_row(conn, environment)
            if holder is None:
                raise LockError(f"'{environment}' is not locked: there is nothing to unlock.")
            info = _lock_info(holder)
            if info.id != lock_id:
                raise LockError(
                    f"the lock on '{environment}' has ID {info.id}, not {lock_id}; it is held "
                    f"by {_describe_lock(info)}. Nothing was unlocked."
                )
            conn.execute(delete(t.locks).where(t.locks.c.environment == environment,
                                               t.locks.c.lock_id == lock_id))
            append_audit(conn, environment, current_serial(conn, environment),
                         AuditRecord(action="force-unlock", actor=actor or current_actor(),
                                     details={"lock_id": info.id, "who": info.who,
                                              "operation": info.operation,
                                              "created_at": info.created_at}))

    @contextmanager
    def lock(self, environment: str, *, who: str, operation: str) -> Iterator[LockInfo]:
        """Hold the environment's lock for the ``with`` block."""
        info = self.acquire_lock(environment, who=who, operation=operation)
        failed = False
        try:
            yield info
        except BaseException:
            failed = True
            raise
        finally:
            try:
                self.release_lock(environment, info.id)
            except LockError:
                if not failed:
                    raise


def _lock_row(conn: Connection, environment: str) -> DbRow | None:
    return conn.execute(select(t.locks).where(t.locks.c.environment == environment)).first()


def _lock_info(row: DbRow) -> LockInfo:
    return LockInfo(id=row.lock_id, environment=row.environment, who=row.who,
                    operation=row.operation, created_at=iso(row.created_at))


def _describe_lock(info: LockInfo) -> str:
    return f"{info.who} for {info.operation} since {info.created_at} (ID {info.id})"


def _lock_held_message(info: LockInfo) -> str:
    return (
        "Error acquiring the state lock\n"
        "\n"
        f"The state of '{info.environment}' is locked by another operation.\n"
        "Lock Info:\n"
        f"  ID:          {info.id}\n"
        f"  Environment: {info.environment}\n"
        f"  Who:         {info.who}\n"
        f"  Operation:   {info.operation}\n"
        f"  Created:     {info.created_at}\n"
        "\n"
        "Hookplane locks an environment's state while it changes it, so that two people or\n"
        "pipelines cannot write it at the same time. Wait for the operation above to finish\n"
        "and try again. If you are sure no one else is running, release the lock with:\n"
        f"  hookplane force-unlock {info.environment} {info.id}"
    )
