"""Claiming rows with a lease, shared by the outbox and the job queue.

A worker claims due rows (``claimed_by``, ``claimed_until``): ``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so replicas never claim the same row; a lease that runs out (a
crashed worker) makes the row claimable again, so work is done at least once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Table, select, update
from sqlalchemy.engine import Connection

from hookplane.errors import StateError
from hookplane.state._common import DbRow, as_utc, aware, clip, utc_now
from hookplane.state.database import Database

__all__ = ["DueConditions", "LostLeases", "claim_rows"]

DueConditions: TypeAlias = Callable[[datetime], Sequence[ColumnElement[bool]]]
"""Extra conditions a pending row must meet to be due at a time (ordering, breakers)."""
LostLeases: TypeAlias = Callable[[Connection, Sequence[Any], datetime], None]
"""Called in the claiming transaction with the claimed rows whose earlier lease ran out."""


def claim_rows(db: Database, table: Table, claimed: str, *, worker: str, limit: int,
               lease_seconds: float, now: datetime | None,
               due: DueConditions | None = None,
               on_lost: LostLeases | None = None) -> list[DbRow]:
    """Claim up to ``limit`` rows of ``table`` due at ``now`` for ``worker`` (status
    ``claimed``) until the lease ends; the rows after the claim, oldest due first.

    Due: pending with ``next_attempt_at <= now`` (and ``due(now)``), or ``claimed`` with an
    expired lease."""
    if not worker:
        raise StateError("a claiming worker needs a name")
    if limit < 1 or lease_seconds <= 0:
        raise StateError("claim at least one row for a positive lease")
    at = as_utc(now)
    until = at + timedelta(seconds=lease_seconds)
    c = table.c
    # due rows are pending ones or claimed ones whose lease ran out: one query each, so
    # both walk the (status, next_attempt_at) index and stop at ``limit`` instead of
    # sorting the whole backlog; the oldest ``limit`` of the two are claimed
    pending: tuple[Any, ...] = (c.status == "pending", c.next_attempt_at <= at,
                                *(due(at) if due is not None else ()))
    parts = [select(c.id, c.next_attempt_at, c.status, c.claimed_by, c.claimed_until)
             .where(*where).order_by(c.next_attempt_at, c.id).limit(limit)
             for where in (pending, (c.status == claimed, c.claimed_until <= at))]
    if db.postgres:
        # rows another transaction is claiming are skipped, not waited for; a row it
        # claimed and committed meanwhile no longer matches when re-checked under lock
        parts = [part.with_for_update(skip_locked=True) for part in parts]
    with db.transaction(write=True) as conn:
        found = [row for part in parts for row in conn.execute(part)]
        found.sort(key=lambda row: (aware(row.next_attempt_at), row.id))
        ids = [row.id for row in found[:limit]]
        if not ids:
            return []
        rows = conn.execute(update(table).where(c.id.in_(ids)).values(
            status=claimed, claimed_by=clip(worker), claimed_until=until,
            updated_at=utc_now()).returning(*table.c)).all()
        lost = [row for row in found[:limit] if row.status == claimed]
        if lost and on_lost is not None:
            on_lost(conn, lost, at)
    order = {row_id: index for index, row_id in enumerate(ids)}
    return sorted(rows, key=lambda row: order[row.id])
