"""The outbox and its delivery log: queued deliveries, claims, attempts, redelivery.

Delivery workers claim outbox rows with a lease; an outbox row keeps its id (the
``webhook-id``) throughout. ``attempts`` counts recorded attempts (the delivery log holds one
row per attempt); the attempt a worker is about to make is ``attempt`` (``attempts + 1``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from hookplane.errors import (
    InvalidQuery,
    StateError,
)
from hookplane.state import tables as t
from hookplane.state._common import (
    MAX_LIMIT,
    DbRow,
    as_utc,
    aware,
    cap,
    clip,
    decode_cursor,
    encode_cursor,
    iso,
    iso_or_none,
    json_object,
    millis,
    new_id,
    unqueryable,
    utc_now,
)
from hookplane.state.database import Repository
from hookplane.state.leases import claim_rows

__all__ = [
    "AttemptOutcome",
    "Delivery",
    "DeliveryAttempt",
    "Outbox",
    "OutboxItem",
    "OutboxRow",
    "OutboxStatus",
    "insert_outbox",
    "new_outbox_id",
]


OutboxStatus = Literal["pending", "in_flight", "delivered", "failed"]


_OUTBOX_STATUSES = frozenset(get_args(OutboxStatus))


_EXCERPT_BYTES = 2048


_ERROR_BYTES = 2048


HEADERS_KEPT: Final = 50
"""Headers kept per attempt and direction (a receiver may answer with hundreds)."""


HEADER_VALUE_BYTES: Final = 1024


MASKED: Final = "[redacted]"


_MASKED_RESPONSE_HEADERS: Final = frozenset({"set-cookie", "set-cookie2"})


@dataclass(frozen=True)
class OutboxItem:
    """One delivery to queue. ``payload`` is what the dispatcher needs to send, no secrets."""

    trigger_id: str
    trigger_name: str
    event: str
    payload: dict[str, Any]
    max_attempts: int = 1
    id: str | None = None
    """The delivery id (``webhook-id``); generated when None. Use :func:`new_outbox_id` to
    know it before the row exists, e.g. to put it in the envelope."""
    order_key: str | None = None
    """Deliveries with the same key are sent one after the other, by ``order_seq``: a row
    is claimed only once no earlier row of its key is pending or in flight."""
    order_seq: int | None = None


def new_outbox_id() -> str:
    """A new delivery id: ``msg_`` + 20 random characters."""
    return new_id("msg")


def _stored_headers(headers: Mapping[str, str] | None, *,
                    masked: frozenset[str] = frozenset()) -> dict[str, str] | None:
    if headers is None:
        return None
    kept: dict[str, str] = {}
    for name, value in list(headers.items())[:HEADERS_KEPT]:
        shown = MASKED if name.lower() in masked else value
        kept[str(name)[:200]] = cap(str(shown), HEADER_VALUE_BYTES) or ""
    return kept


def _headers_columns(outcome: AttemptOutcome) -> dict[str, Any]:
    return {"request_headers": _stored_headers(outcome.request_headers),
            "response_headers": _stored_headers(outcome.response_headers,
                                                masked=_MASKED_RESPONSE_HEADERS)}


@dataclass(frozen=True)
class AttemptOutcome:
    """One attempt to record with :meth:`RuntimeStore.record_attempts` (the arguments of
    :meth:`RuntimeStore.record_attempt`)."""

    outbox_id: str
    status_code: int | None
    success: bool
    latency_ms: float | None
    error: str | None
    response_excerpt: str | None
    retry_at: datetime | None
    on_failed: Sequence[OutboxItem] = ()
    request_headers: Mapping[str, str] | None = None
    """As sent, secrets already masked by the sender (``[redacted]``)."""
    pause_trigger_until: datetime | None = None
    """The receiver asked the whole trigger to wait (429/503 + ``Retry-After``): the
    trigger's other pending deliveries are not sent before then (shared by every replica:
    it is their ``next_attempt_at``)."""
    response_headers: Mapping[str, str] | None = None
    """As answered (cookies masked here); capped in number and size when stored."""


@dataclass(frozen=True)
class OutboxRow:
    id: str
    environment: str
    trigger_id: str
    trigger_name: str
    event: str
    payload: dict[str, Any]
    status: str
    attempts: int
    """Attempts recorded so far."""
    max_attempts: int
    next_attempt_at: str
    claimed_by: str | None
    claimed_until: str | None
    created_at: str
    updated_at: str
    last_error: str | None
    last_status_code: int | None

    @property
    def attempt(self) -> int:
        """Number of the attempt a worker holding this row is about to make (1-based)."""
        return self.attempts + 1


@dataclass(frozen=True)
class DeliveryAttempt:
    id: int
    outbox_id: str
    at: str
    status_code: int | None
    success: bool
    latency_ms: int | None
    error: str | None
    response_excerpt: str | None
    worker: str | None = None
    """The worker (``host:pid:…``: which replica and process) that made the attempt."""
    request_headers: dict[str, str] | None = None
    response_headers: dict[str, str] | None = None


@dataclass(frozen=True)
class Delivery(OutboxRow):
    """An outbox row with its attempts, oldest first: one line of a delivery history."""

    history: tuple[DeliveryAttempt, ...] = ()


class Outbox(Repository):
    """Deliveries: queue, claim, record attempts, list, redeliver, purge."""

    def enqueue_outbox(self, environment: str, items: Sequence[OutboxItem]) -> list[str]:
        """Queue deliveries not caused by a record write (system events); returns their ids."""
        now = utc_now()
        with self._write() as conn:
            return insert_outbox(conn, environment, items, now)

    def claim_outbox(self, *, worker: str, limit: int, lease_seconds: float,
                     now: datetime | None = None,
                     skip_triggers: Collection[str] = ()) -> list[OutboxRow]:
        """Claim up to ``limit`` deliveries due at ``now`` for ``worker`` until the lease ends.

        Due: pending with ``next_attempt_at <= now``, or in flight with an expired lease (a
        worker that crashed). Oldest due first. ``worker`` must be unique per process.
        Pending rows of ``skip_triggers`` (triggers the worker will not send to now) are
        left in the table.
        """
        due = _due
        if skip_triggers:
            skipped = sorted(skip_triggers)

            def due(at: datetime) -> Sequence[ColumnElement[bool]]:
                return (*_due(at), t.outbox.c.trigger_id.notin_(skipped))

        rows = claim_rows(self._db, t.outbox, "in_flight", worker=worker, limit=limit,
                          lease_seconds=lease_seconds, now=now, due=due,
                          on_lost=_history_lost)
        return [_outbox_row(row) for row in rows]

    def release_outbox(self, outbox_ids: Sequence[str], *, worker: str,
                       not_before: datetime | None = None) -> int:
        """Hand back deliveries ``worker`` claimed and never sent (it is stopping): pending
        again at once, for any worker, instead of when their lease ends — or at
        ``not_before`` (their trigger was asked to wait). Rows the worker no longer holds
        (recorded, or taken over after its lease ran out) are left alone; the number
        released."""
        wanted = [outbox_id for outbox_id in outbox_ids if not unqueryable(outbox_id)]
        if not wanted:
            return 0
        o = t.outbox
        values: dict[str, Any] = {"status": "pending", "claimed_by": None,
                                  "claimed_until": None, "updated_at": utc_now()}
        if not_before is not None:
            values["next_attempt_at"] = as_utc(not_before)
        with self._write() as conn:
            return int(conn.execute(sql_update(o).where(
                o.c.id.in_(wanted), o.c.status == "in_flight",
                o.c.claimed_by == clip(worker)).values(**values)).rowcount)

    def record_attempt(self, outbox_id: str, *, worker: str, status_code: int | None,
                       success: bool, latency_ms: float | None, error: str | None,
                       response_excerpt: str | None, retry_at: datetime | None,
                       on_failed: Sequence[OutboxItem] = (),
                       now: datetime | None = None) -> bool:
        """Log one attempt and move the delivery on: delivered on success, else pending again
        at ``retry_at``, else failed (dead letter) — and then ``on_failed`` (e.g. the
        ``delivery.failed`` system event) is queued in the same transaction.

        Only the worker holding the claim may move the row on: returns False if the row is
        not in flight for ``worker`` any more (its lease ran out and another worker may have
        claimed it); the attempt then goes into the history marked as recorded late, and
        counts for nothing.
        """
        return self.record_attempts([AttemptOutcome(
            outbox_id, status_code, success, latency_ms, error, response_excerpt, retry_at,
            on_failed)], worker=worker, now=now)[0]

    def record_attempts(self, outcomes: Sequence[AttemptOutcome], *, worker: str,
                        now: datetime | None = None) -> list[bool]:
        """:meth:`record_attempt` for many deliveries in one transaction (the dispatcher's
        group commit): one flag per outcome, in order, False where ``worker`` does not hold
        the row any more (the attempt is kept in the history, marked as recorded late, and
        moves nothing). A delivery appears at most once.

        Claiming a delivery whose worker's lease ran out (:meth:`claim_outbox`) adds a
        history entry saying so: that worker may have sent it, so the history shows that a
        re-send follows."""
        if not outcomes:
            return []
        ids = [outcome.outbox_id for outcome in outcomes]
        if len(set(ids)) != len(ids):
            raise StateError("record_attempts: a delivery appears more than once")
        o = t.outbox
        at = as_utc(now)
        with self._write() as conn:
            held = {row.id: row for row in conn.execute(
                select(o.c.id, o.c.environment, o.c.attempts, o.c.trigger_id)
                .where(o.c.id.in_(ids), o.c.status == "in_flight", o.c.claimed_by == worker)
                .order_by(o.c.id).with_for_update())}
            moved: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
            logged: list[dict[str, Any]] = []
            for outcome in outcomes:
                row = held.get(outcome.outbox_id)
                if row is None:
                    continue
                status = ("delivered" if outcome.success else
                          "pending" if outcome.retry_at is not None else "failed")
                last_error = cap(outcome.error, _ERROR_BYTES) if not outcome.success else None
                values: dict[str, Any] = {
                    "b_id": outcome.outbox_id, "status": status, "attempts": row.attempts + 1,
                    "last_error": last_error, "last_status_code": outcome.status_code}
                retry = status == "pending" and outcome.retry_at is not None
                if retry:
                    values["next_attempt_at"] = as_utc(outcome.retry_at)
                moved[retry].append(values)
                logged.append(_history_row(outcome.outbox_id, at, worker=worker,
                                           error=last_error, outcome=outcome))
                if status == "failed" and outcome.on_failed:
                    insert_outbox(conn, row.environment, outcome.on_failed, at)
                if outcome.pause_trigger_until is not None:
                    until = as_utc(outcome.pause_trigger_until)
                    conn.execute(sql_update(o).where(
                        o.c.trigger_id == row.trigger_id, o.c.status == "pending",
                        o.c.next_attempt_at < until, o.c.id != outcome.outbox_id)
                        .values(next_attempt_at=until))
            for retry, rows in moved.items():
                if not rows:
                    continue
                columns: dict[str, Any] = {
                    name: bindparam(name) for name in
                    ("status", "attempts", "last_error", "last_status_code")}
                if retry:
                    columns["next_attempt_at"] = bindparam("next_attempt_at")
                conn.execute(sql_update(o).where(o.c.id == bindparam("b_id")).values(
                    claimed_by=None, claimed_until=None, updated_at=at, **columns), rows)
            if logged:
                conn.execute(insert(t.delivery_attempts), logged)
            late = [outcome for outcome in outcomes if outcome.outbox_id not in held]
            if late:
                self._log_late(conn, late, worker, at)
        return [outcome.outbox_id in held for outcome in outcomes]

    @staticmethod
    def _log_late(conn: Connection, outcomes: Sequence[AttemptOutcome], worker: str,
                  at: datetime) -> None:
        """Attempts a worker finished after its lease ran out (another worker may have
        claimed the row since): kept in the history, marked, without moving the row on."""
        o = t.outbox
        known = set(conn.scalars(select(o.c.id).where(
            o.c.id.in_([outcome.outbox_id for outcome in outcomes]))))
        rows = [_history_row(outcome.outbox_id, at, worker=worker, outcome=outcome,
                             error=f"recorded late: worker '{worker}' finished this attempt "
                             "after its lease ran out, so it does not count"
                             + (f" ({outcome.error})" if outcome.error else ""))
                for outcome in outcomes if outcome.outbox_id in known]
        if rows:
            conn.execute(insert(t.delivery_attempts), rows)

    def outbox_depth(self, environment: str | None = None) -> int:
        """Deliveries not finished yet (pending or in flight)."""
        o = t.outbox
        query = select(func.count()).select_from(o).where(o.c.status.in_(("pending",
                                                                          "in_flight")))
        if environment is not None:
            query = query.where(o.c.environment == environment)
        with self._read() as conn:
            return int(conn.scalar(query) or 0)

    def deliveries(self, environment: str, trigger_id: str, *, status: str | None = None,
                   limit: int = 50) -> list[Delivery]:
        """A trigger's deliveries, newest first, each with its attempts (the first page of
        :meth:`deliveries_page`)."""
        return self.deliveries_page(environment, trigger_id, status=status, limit=limit)[0]

    def deliveries_page(self, environment: str, trigger_id: str, *,
                        status: str | None = None, limit: int = 50,
                        cursor: str | None = None
                        ) -> tuple[list[Delivery], str | None]:
        """A page of a trigger's deliveries, newest first (a stable order: creation time,
        then id), each with its attempts, and the cursor of the next page (None on the
        last)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        if status is not None and status not in _OUTBOX_STATUSES:
            raise InvalidQuery(f"unknown delivery status '{status}' (one of "
                               f"{', '.join(sorted(_OUTBOX_STATUSES))})")
        o = t.outbox
        query = (select(o).where(o.c.environment == environment, o.c.trigger_id == trigger_id)
                 .order_by(o.c.created_at.desc(), o.c.id.desc()).limit(limit + 1))
        if status is not None:
            query = query.where(o.c.status == status)
        if cursor is not None:
            before_at, before_id = decode_cursor(cursor, newest_first=True)
            query = query.where(or_(o.c.created_at < before_at,
                                    and_(o.c.created_at == before_at, o.c.id < before_id)))
        with self._read() as conn:
            rows = conn.execute(query).all()
            page = rows[:limit]
            history = self._attempts(conn, [row.id for row in page])
        following = (encode_cursor(page[-1].created_at, page[-1].id, newest_first=True)
                     if len(rows) > limit else None)
        return [_delivery(row, history.get(row.id, ())) for row in page], following

    def delivery(self, outbox_id: str) -> Delivery | None:
        if unqueryable(outbox_id):
            return None
        o = t.outbox
        with self._read() as conn:
            row = conn.execute(select(o).where(o.c.id == outbox_id)).first()
            if row is None:
                return None
            history = self._attempts(conn, [row.id])
        return _delivery(row, history.get(row.id, ()))

    def redeliver(self, outbox_id: str, *, environment: str | None = None,
                  now: datetime | None = None) -> bool:
        """Queue a failed delivery again (same id, its attempts kept in the history) with a
        fresh round of attempts under its trigger's retry policy: ``max_attempts`` becomes
        the attempts made so far plus the policy's ``attempts`` (1 for ``retry: none``).
        False if it is not failed (or not in ``environment``)."""
        if unqueryable(outbox_id, environment or ""):
            return False
        o = t.outbox
        conditions = [o.c.id == outbox_id, o.c.status == "failed"]
        if environment is not None:
            conditions.append(o.c.environment == environment)
        at = as_utc(now)
        with self._write() as conn:
            row = conn.execute(select(o.c.payload, o.c.attempts, o.c.max_attempts)
                               .where(*conditions)).first()
            if row is None:
                return False
            moved = conn.execute(sql_update(o).where(*conditions).values(
                status="pending", next_attempt_at=at, claimed_by=None, claimed_until=None,
                max_attempts=row.attempts + _attempt_budget(row.payload, row.max_attempts),
                updated_at=at)).rowcount
        return moved == 1

    def redeliver_since(self, environment: str, trigger_id: str, *, since: datetime,
                        include_delivered: bool = False, batch: int = 500,
                        progress: Callable[[int], None] | None = None,
                        now: datetime | None = None) -> int:
        """Bulk recovery: queue again every failed delivery of a trigger created at or after
        ``since`` (with ``include_delivered``, delivered ones too), each with a fresh round of
        attempts as :meth:`redeliver` gives one; ``batch`` rows per transaction,
        ``progress(total so far)`` after each. Rows pending or in flight are left alone, so
        running it again while the first run's deliveries are still queued queues nothing
        twice. Returns how many were queued."""
        if batch < 1:
            raise InvalidQuery("batch must be at least 1")
        o = t.outbox
        statuses = ("failed", "delivered") if include_delivered else ("failed",)
        start = as_utc(since)
        total = 0
        while True:
            at = as_utc(now)
            with self._write() as conn:
                rows = conn.execute(
                    select(o.c.id, o.c.payload, o.c.attempts, o.c.max_attempts)
                    .where(o.c.environment == environment, o.c.trigger_id == trigger_id,
                           o.c.status.in_(statuses), o.c.created_at >= start)
                    .order_by(o.c.created_at, o.c.id).limit(batch)).all()
                if not rows:
                    return total
                conn.execute(
                    sql_update(o).where(o.c.id == bindparam("b_id"),
                                        or_(*(o.c.status == status for status in statuses)))
                    .values(status="pending", next_attempt_at=at, claimed_by=None,
                            claimed_until=None, updated_at=at,
                            max_attempts=bindparam("b_max")),
                    [{"b_id": row.id,
                      "b_max": row.attempts + _attempt_budget(row.payload, row.max_attempts)}
                     for row in rows])
            total += len(rows)
            if progress is not None:
                progress(total)
            if len(rows) < batch:
                return total

    def purge_delivered_before(self, cutoff: datetime, *, include_failed: bool = True) -> int:
        """Retention: remove finished deliveries (delivered, and failed unless told not to)
        last updated before ``cutoff``, with their attempts; returns how many."""
        o = t.outbox
        statuses = ("delivered", "failed") if include_failed else ("delivered",)
        finished = select(o.c.id).where(o.c.status.in_(statuses),
                                        o.c.updated_at < as_utc(cutoff))
        with self._write() as conn:
            conn.execute(delete(t.delivery_attempts)
                         .where(t.delivery_attempts.c.outbox_id.in_(finished)))
            return int(conn.execute(delete(o).where(o.c.status.in_(statuses),
                                                    o.c.updated_at < as_utc(cutoff))).rowcount)

    def _attempts(self, conn: Connection,
                  outbox_ids: list[str]) -> dict[str, list[DeliveryAttempt]]:
        if not outbox_ids:
            return {}
        a = t.delivery_attempts
        found: dict[str, list[DeliveryAttempt]] = {}
        for row in conn.execute(select(a).where(a.c.outbox_id.in_(outbox_ids))
                                .order_by(a.c.id)):
            found.setdefault(row.outbox_id, []).append(DeliveryAttempt(
                id=int(row.id), outbox_id=row.outbox_id, at=iso(row.at),
                status_code=row.status_code, success=bool(row.success),
                latency_ms=row.latency_ms, error=row.error,
                response_excerpt=row.response_excerpt, worker=row.worker,
                request_headers=row.request_headers, response_headers=row.response_headers))
        return found


def insert_outbox(conn: Connection, environment: str, items: Sequence[OutboxItem],
                  now: datetime) -> list[str]:
    """Queue ``items`` in ``conn``'s transaction (with the write that caused them); ids."""
    rows: list[dict[str, Any]] = []
    for item in items:
        if item.max_attempts < 1:
            raise StateError(f"delivery for trigger '{item.trigger_name}': max_attempts "
                             "must be at least 1")
        rows.append({
            "id": item.id or new_outbox_id(), "environment": environment,
            "trigger_id": item.trigger_id, "trigger_name": clip(item.trigger_name),
            "event": item.event, "payload": json_object(item.payload), "status": "pending",
            "attempts": 0, "max_attempts": item.max_attempts, "next_attempt_at": now,
            "claimed_by": None, "claimed_until": None, "created_at": now,
            "updated_at": now, "last_error": None, "last_status_code": None,
            "order_key": item.order_key, "order_seq": item.order_seq})
    if rows:
        conn.execute(insert(t.outbox), rows)
    return [str(row["id"]) for row in rows]


def _history_lost(conn: Connection, lost: Sequence[Any], at: datetime) -> None:
    """A worker died (or stalled) holding these deliveries: say so in their history."""
    conn.execute(insert(t.delivery_attempts), [
        _history_row(row.id, at, worker=row.claimed_by,
                     error=_lost_lease(row.claimed_by, row.claimed_until))
        for row in lost])


def _history_row(outbox_id: str, at: datetime, *, worker: str | None, error: str | None,
                 outcome: AttemptOutcome | None = None) -> dict[str, Any]:
    """One row of a delivery's history (the delivery log), the only place one is made: an
    attempt's outcome (recorded in time or late), or an entry for no attempt (a lost
    lease). Texts and headers are capped here."""
    if outcome is None:
        return {"outbox_id": outbox_id, "at": at, "status_code": None, "success": False,
                "latency_ms": None, "response_excerpt": None, "request_headers": None,
                "response_headers": None, "worker": worker,
                "error": cap(error, _ERROR_BYTES)}
    return {"outbox_id": outbox_id, "at": at, "status_code": outcome.status_code,
            "success": outcome.success, "latency_ms": millis(outcome.latency_ms),
            "response_excerpt": cap(outcome.response_excerpt, _EXCERPT_BYTES),
            "error": cap(error, _ERROR_BYTES), "worker": clip(worker) if worker else worker,
            **_headers_columns(outcome)}


def _due(at: datetime) -> Sequence[ColumnElement[bool]]:
    c = t.outbox.c
    earlier = t.outbox.alias("earlier")
    health = t.trigger_health
    # an ordered row waits for the earlier rows of its key
    return (or_(c.order_key.is_(None), ~exists().where(
        earlier.c.order_key == c.order_key, earlier.c.order_seq < c.order_seq,
        earlier.c.status.in_(("pending", "in_flight")))),
        # a trigger whose breaker is open waits in the table, not in a worker: its
        # rows are not claimed (and handed back) while the cooldown runs
        ~exists().where(health.c.trigger_id == c.trigger_id, health.c.open_until > at))


def _outbox_fields(row: DbRow) -> dict[str, Any]:
    return {"id": row.id, "environment": row.environment, "trigger_id": row.trigger_id,
            "trigger_name": row.trigger_name, "event": row.event, "payload": dict(row.payload),
            "status": row.status, "attempts": int(row.attempts),
            "max_attempts": int(row.max_attempts), "next_attempt_at": iso(row.next_attempt_at),
            "claimed_by": row.claimed_by, "claimed_until": iso_or_none(row.claimed_until),
            "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
            "last_error": row.last_error, "last_status_code": row.last_status_code}


def _outbox_row(row: DbRow) -> OutboxRow:
    return OutboxRow(**_outbox_fields(row))


def _delivery(row: DbRow, history: Sequence[DeliveryAttempt]) -> Delivery:
    return Delivery(**_outbox_fields(row), history=tuple(history))


def _attempt_budget(payload: Any, first_round: int) -> int:
    """Attempts one round of a delivery gets: its retry policy's ``attempts`` (1 without a
    policy); rows queued before the policy's count was stored get their first round's."""
    retry = payload.get("retry") if isinstance(payload, dict) else None
    if retry is None:
        return 1
    attempts = retry.get("attempts") if isinstance(retry, dict) else None
    if isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 1:
        return attempts
    return max(1, first_round)


def _lost_lease(worker: str | None, until: Any) -> str:
    """The history entry of a delivery whose worker's lease ran out before it recorded an
    attempt (it died or stalled)."""
    when = iso(aware(until)) if until is not None else "?"
    return (f"lease lost: worker '{worker or '?'}' held this delivery until {when} and "
            "recorded no attempt (it stopped or stalled); it may have sent it. The next "
            "attempt is a re-send with the same webhook-id.")
