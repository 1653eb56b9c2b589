"""The inbound log (one entry per request to an inbound webhook) and de-duplication marks."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.engine import Connection

from hookplane.errors import (
    DuplicateDelivery,
    InvalidQuery,
    StateError,
)
from hookplane.state import tables as t
from hookplane.state._common import (
    MAX_LIMIT,
    DbRow,
    as_utc,
    cap,
    clip,
    decode_cursor,
    dialect_insert,
    encode_cursor,
    iso,
    millis,
    parse_db_time,
    storable,
)
from hookplane.state.database import Repository

__all__ = [
    "Dedup",
    "InboundDelivery",
    "InboundLog",
    "LogInbound",
    "append_log",
    "check_dedup",
    "mark_seen_in",
]


_MAX_PROVIDER_ID = 255


_DETAIL_BYTES = 1024


@dataclass(frozen=True)
class Dedup:
    """De-duplicate a write by a provider's delivery id, in the write's own transaction.

    The id is marked seen only if the write commits, so a delivery that failed half-way is
    processed again when the sender retries; a repeat within ``window_seconds`` raises
    :class:`DuplicateDelivery` and writes nothing.
    """

    webhook_id: str
    provider_delivery_id: str
    """The key marked seen: the provider's id, or the id bound to a digest of the body."""
    window_seconds: float
    shown_id: str | None = None
    """The provider's id as answered and logged (None: ``provider_delivery_id``)."""
    scope: tuple[str, str] | None = None
    """(environment, webhook) the key is marked under, when not the write's own: ids a
    secret shared by several webhooks signs are one register for all of them."""


@dataclass(frozen=True)
class LogInbound:
    """:meth:`RuntimeStore.log_inbound` as one operation of ``write_many``."""

    environment: str
    webhook_id: str
    status_code: int
    reason: str
    webhook_name: str | None = None
    client_ip: str | None = None
    detail: str | None = None
    latency_ms: float | None = None
    record_id: str | None = None
    provider_delivery_id: str | None = None
    job_id: str | None = None
    received_at: datetime | None = None
    """Now when None."""


@dataclass(frozen=True)
class InboundDelivery:
    id: int
    environment: str
    webhook_id: str
    webhook_name: str | None
    received_at: str
    client_ip: str | None
    status_code: int
    reason: str
    detail: str | None
    latency_ms: int | None
    record_id: str | None
    provider_delivery_id: str | None
    job_id: str | None


class InboundLog(Repository):
    """The inbound log and the de-duplication marks of provider delivery ids."""

    def log_inbound(self, environment: str, webhook_id: str, *, status_code: int, reason: str,
                    webhook_name: str | None = None, client_ip: str | None = None,
                    detail: str | None = None, latency_ms: float | None = None,
                    record_id: str | None = None, provider_delivery_id: str | None = None,
                    job_id: str | None = None, received_at: datetime | None = None) -> int:
        """Append one inbound attempt to the log; returns its id. Path-derived values are
        clipped to their columns, ``detail`` to 1 KiB (never pass secrets)."""
        entry = LogInbound(environment, webhook_id, status_code=status_code, reason=reason,
                           webhook_name=webhook_name, client_ip=client_ip, detail=detail,
                           latency_ms=latency_ms, record_id=record_id,
                           provider_delivery_id=provider_delivery_id, job_id=job_id,
                           received_at=received_at)
        with self._write() as conn:
            return append_log(conn, [entry])[0]

    def inbound_log(self, environment: str, webhook_id: str, *,
                    limit: int = 50) -> list[InboundDelivery]:
        """An inbound webhook's log, newest first (the first page of
        :meth:`inbound_log_page`)."""
        return self.inbound_log_page(environment, webhook_id, limit=limit)[0]

    def inbound_log_page(self, environment: str, webhook_id: str, *, limit: int = 50,
                         cursor: str | None = None
                         ) -> tuple[list[InboundDelivery], str | None]:
        """A page of an inbound webhook's log, newest first (receipt time, then id), and
        the cursor of the next page (None on the last)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        i = t.inbound_deliveries
        query = (select(i).where(i.c.environment == environment, i.c.webhook_id == webhook_id)
                 .order_by(i.c.received_at.desc(), i.c.id.desc()).limit(limit + 1))
        if cursor is not None:
            before_at, before_text = decode_cursor(cursor, newest_first=True)
            if not before_text.isdigit():
                raise InvalidQuery("invalid cursor: pass the 'next' value of a previous page")
            before_id = int(before_text)
            query = query.where(or_(i.c.received_at < before_at,
                                    and_(i.c.received_at == before_at, i.c.id < before_id)))
        with self._read() as conn:
            rows = conn.execute(query).all()
        page = rows[:limit]
        following = (encode_cursor(page[-1].received_at, str(page[-1].id), newest_first=True)
                     if len(rows) > limit else None)
        return [_inbound(row) for row in page], following

    def last_used_at(self, environment: str, webhook_id: str) -> str | None:
        """When the inbound webhook last accepted a delivery (status below 400)."""
        i = t.inbound_deliveries
        with self._read() as conn:
            value = conn.scalar(select(func.max(i.c.received_at))
                                .where(i.c.environment == environment,
                                       i.c.webhook_id == webhook_id, i.c.status_code < 400))
        return iso(parse_db_time(value)) if value is not None else None

    def mark_seen(self, environment: str, webhook_id: str, provider_delivery_id: str, *,
                  window_seconds: float, now: datetime | None = None) -> bool:
        """True if the delivery id is new (now marked seen), False if it was seen within
        ``window_seconds``. One atomic statement; a mark older than the window is renewed.

        Prefer ``dedup=`` on the write itself, which marks only when the write commits.
        """
        with self._write() as conn:
            return mark_seen_in(conn, environment, webhook_id, provider_delivery_id,
                                window_seconds=window_seconds, now=as_utc(now))

    def forget_seen(self, environment: str, webhook_id: str, provider_delivery_id: str) -> None:
        """Drop a seen mark (e.g. when handling the delivery failed after :meth:`mark_seen`)."""
        s = t.seen_deliveries
        with self._write() as conn:
            conn.execute(delete(s).where(
                s.c.environment == environment, s.c.webhook_id == webhook_id,
                s.c.provider_delivery_id == _provider_key(provider_delivery_id)))

    def purge_inbound_before(self, cutoff: datetime, *,
                             marks_before: datetime | None = None) -> int:
        """Retention: remove inbound log entries received before ``cutoff`` and
        de-duplication marks older than ``marks_before`` (default ``cutoff``: a mark only
        matters within its window); returns how many rows."""
        i, s = t.inbound_deliveries, t.seen_deliveries
        when = as_utc(cutoff)
        marks = as_utc(marks_before) if marks_before is not None else when
        with self._write() as conn:
            removed = conn.execute(delete(i).where(i.c.received_at < when)).rowcount
            removed += conn.execute(delete(s).where(s.c.seen_at < marks)).rowcount
        return int(removed)

    def purge_marks_before(self, cutoff: datetime) -> int:
        """Remove de-duplication marks older than ``cutoff`` (past their window they
        de-duplicate nothing); returns how many."""
        s = t.seen_deliveries
        with self._write() as conn:
            return int(conn.execute(delete(s).where(s.c.seen_at < as_utc(cutoff))).rowcount)


def append_log(conn: Connection, entries: Sequence[LogInbound], *,
               ids: bool = True) -> list[int]:
    """Append inbound attempts to the log; their ids, in order (``ids=False``: nothing,
    in one ``executemany`` — SQLite returns ordered ids one INSERT per row). Path-derived
    values are clipped to their columns, ``detail`` to 1 KiB."""
    now = as_utc(None)
    rows = [{
        "environment": clip(storable(e.environment), 100),
        "webhook_id": clip(storable(e.webhook_id), 100),
        "webhook_name": clip(e.webhook_name) if e.webhook_name is not None else None,
        "received_at": now if e.received_at is None else as_utc(e.received_at),
        "client_ip": clip(e.client_ip, 64) if e.client_ip is not None else None,
        "status_code": e.status_code, "reason": clip(e.reason, 40),
        "detail": cap(e.detail, _DETAIL_BYTES), "latency_ms": millis(e.latency_ms),
        "record_id": e.record_id, "job_id": e.job_id,
        "provider_delivery_id": clip(e.provider_delivery_id, _MAX_PROVIDER_ID)
        if e.provider_delivery_id is not None else None} for e in entries]
    if not ids:
        conn.execute(insert(t.inbound_deliveries), rows)
        return []
    statement = insert(t.inbound_deliveries).returning(t.inbound_deliveries.c.id,
                                                       sort_by_parameter_order=True)
    return [int(entry_id) for entry_id in conn.execute(statement, rows).scalars()]


def check_dedup(conn: Connection, environment: str, dedup: Dedup | None,
                now: datetime) -> None:
    """Mark ``dedup``'s delivery id seen in ``conn``'s transaction, or raise
    :class:`DuplicateDelivery` when it was seen within its window."""
    if dedup is None:
        return
    where, webhook = dedup.scope or (environment, dedup.webhook_id)
    if not mark_seen_in(conn, where, webhook, dedup.provider_delivery_id,
                        window_seconds=dedup.window_seconds, now=now):
        shown = dedup.shown_id or dedup.provider_delivery_id
        raise DuplicateDelivery(f"delivery '{shown}' to inbound webhook {dedup.webhook_id} "
                                "was already received")


def mark_seen_in(conn: Connection, environment: str, webhook_id: str,
                 provider_delivery_id: str, *, window_seconds: float, now: datetime) -> bool:
    """Mark a provider delivery id seen in ``conn``'s transaction: True if it is new (or its
    mark was older than ``window_seconds`` and is renewed), False if seen within it."""
    if window_seconds <= 0:
        raise StateError("window_seconds must be positive")
    s = t.seen_deliveries
    statement = dialect_insert(conn, s).values(
        environment=environment, webhook_id=webhook_id,
        provider_delivery_id=_provider_key(provider_delivery_id), seen_at=now)
    statement = statement.on_conflict_do_update(
        index_elements=["environment", "webhook_id", "provider_delivery_id"],
        set_={"seen_at": statement.excluded.seen_at},
        where=s.c.seen_at <= now - timedelta(seconds=window_seconds))
    # a row comes back when inserted or renewed, none when seen within the window
    return conn.execute(statement.returning(s.c.seen_at)).first() is not None


def _provider_key(provider_delivery_id: str) -> str:
    """The id as stored: a long one is replaced by its SHA-256 so it fits the key."""
    if len(provider_delivery_id) <= _MAX_PROVIDER_ID:
        return provider_delivery_id
    return "sha256:" + hashlib.sha256(provider_delivery_id.encode("utf-8")).hexdigest()


def _inbound(row: DbRow) -> InboundDelivery:
    return InboundDelivery(
        id=int(row.id), environment=row.environment, webhook_id=row.webhook_id,
        webhook_name=row.webhook_name, received_at=iso(row.received_at),
        client_ip=row.client_ip, status_code=int(row.status_code), reason=row.reason,
        detail=row.detail, latency_ms=row.latency_ms, record_id=row.record_id,
        provider_delivery_id=row.provider_delivery_id, job_id=row.job_id)
