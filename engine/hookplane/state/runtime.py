"""The runtime's storage: records, the outbox and its delivery log, the inbound log,
de-duplication and jobs.

:class:`RuntimeStore` shares the :class:`~hookplane.state.store.Store`'s engine and its
transaction rules: writes take SQLite's write lock up front (``BEGIN IMMEDIATE``) and run at
READ COMMITTED with row locks (``SELECT … FOR UPDATE``) on PostgreSQL; reads see one snapshot.

A record write and the outbox rows it causes commit together: the ``outbox`` callback of a
write is called inside its transaction with the :class:`RecordEvent` and returns the
:class:`OutboxItem` rows to insert. Anything it raises rolls the write back and propagates
unchanged. Delivery workers claim outbox rows and jobs with a lease (``claimed_by``,
``claimed_until``): ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so replicas never claim
the same row; a lease that runs out (a crashed worker) makes the row claimable again, so
delivery is at-least-once and an outbox row keeps its id (the ``webhook-id``) throughout.

``attempts`` on an outbox row or job counts finished attempts (the delivery log holds one
row per outbox attempt); the attempt a worker is about to make is ``attempt``
(``attempts + 1``). Timestamps going out are ISO-8601 strings with ``Z`` (seconds), as in the
rest of the store; ``now``/``retry_at``/``cutoff`` coming in are datetimes (naive means UTC).
"""

from __future__ import annotations

import base64
import binascii
import builtins
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias, cast, get_args

from sqlalchemy import (
    Numeric,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import update as sql_update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.sql.elements import ColumnElement

from hookplane.errors import (
    DuplicateDelivery,
    InvalidQuery,
    RecordConflict,
    RecordNotFound,
    StateError,
)
from hookplane.state import tables as t
from hookplane.state.store import DatabaseUnavailable, _aware, _clip, _iso, _new_id, _now, _Row

if TYPE_CHECKING:
    from hookplane.state.store import Store

__all__ = [
    "AttemptOutcome",
    "CreateRecord",
    "Dedup",
    "Delivery",
    "DeliveryAttempt",
    "DuplicateDelivery",
    "InboundDelivery",
    "InvalidQuery",
    "Job",
    "JobKind",
    "JobStatus",
    "LogCallback",
    "LogInbound",
    "Origin",
    "OutboxCallback",
    "OutboxItem",
    "OutboxRow",
    "OutboxStatus",
    "Record",
    "RecordConflict",
    "RecordEvent",
    "RecordEventKind",
    "RecordNotFound",
    "RuntimeStore",
    "UpsertRecord",
    "WriteOperation",
    "WriteResult",
    "new_outbox_id",
]

Origin = Literal["api", "hook", "inbound_webhook", "hydration"]
RecordEventKind = Literal["create", "update", "delete"]
OutboxStatus = Literal["pending", "in_flight", "delivered", "failed"]
JobStatus = Literal["pending", "running", "done", "failed"]
JobKind = Literal["hydrate", "invoke"]
Scalar: TypeAlias = str | int | float | bool | None

_ORIGINS = frozenset(get_args(Origin))
_JOB_KINDS = frozenset(get_args(JobKind))
_OUTBOX_STATUSES = frozenset(get_args(OutboxStatus))
_MAX_LIMIT = 1000
_MAX_EXTERNAL_ID = 500
_MAX_COLLECTION = 100
_MAX_PROVIDER_ID = 255
_EXCERPT_BYTES = 2048
_ERROR_BYTES = 2048
_DETAIL_BYTES = 1024
_UPSERT_ROUNDS = 5


# -- errors --------------------------------------------------------------------------------


class _GroupFailed(Exception):
    """An operation of a group failed on the fast path: retry each in a savepoint."""


# -- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    id: str
    collection: str
    external_id: str | None
    data: dict[str, Any]
    origin: str
    """Origin of the last write: ``api``, ``hook``, ``inbound_webhook`` or ``hydration``."""
    version: int
    """1 when created, +1 per write (update, delete, revival)."""
    created_at: str
    updated_at: str
    deleted_at: str | None


@dataclass(frozen=True)
class RecordEvent:
    """What a record write did, handed to the ``outbox`` callback inside its transaction."""

    environment: str
    collection: str
    event: RecordEventKind
    record: Record
    """The record after the write (for ``delete``: with ``deleted_at`` set)."""
    previous: Record | None
    """The record before the write; None for ``create`` (a revived record included)."""
    origin: str


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


OutboxCallback: TypeAlias = Callable[[RecordEvent], Sequence[OutboxItem]]


@dataclass(frozen=True)
class Dedup:
    """De-duplicate a write by a provider's delivery id, in the write's own transaction.

    The id is marked seen only if the write commits, so a delivery that failed half-way is
    processed again when the sender retries; a repeat within ``window_seconds`` raises
    :class:`DuplicateDelivery` and writes nothing.
    """

    webhook_id: str
    provider_delivery_id: str
    window_seconds: float


def new_outbox_id() -> str:
    """A new delivery id: ``msg_`` + 20 random characters."""
    return _new_id("msg")


# -- grouped writes (one commit for many requests) -----------------------------------------

LogCallback: TypeAlias = Callable[["Record", "Record | None"], "LogInbound"]


@dataclass(frozen=True)
class CreateRecord:
    """:meth:`RuntimeStore.create` as one operation of :meth:`RuntimeStore.write_many`."""

    environment: str
    collection: str
    data: dict[str, Any]
    origin: str
    external_id: str | None = None
    outbox: OutboxCallback | None = None
    dedup: Dedup | None = None
    log: LogCallback | None = None
    """The inbound log entry of the request that made this write, from the write's result
    (record, previous): appended in the write's own transaction, only if the write
    succeeds (a failed write is logged by its caller, with the failure)."""


@dataclass(frozen=True)
class UpsertRecord:
    """:meth:`RuntimeStore.upsert_external` as one operation of ``write_many``."""

    environment: str
    collection: str
    external_id: str
    data: dict[str, Any]
    origin: str
    outbox: OutboxCallback | None = None
    dedup: Dedup | None = None
    log: LogCallback | None = None
    """The inbound log entry of the request that made this write, from the write's result
    (record, previous): appended in the write's own transaction, only if the write
    succeeds (a failed write is logged by its caller, with the failure)."""


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


WriteOperation: TypeAlias = CreateRecord | UpsertRecord | LogInbound
WriteResult: TypeAlias = Record | tuple[Record, Record | None] | int | StateError


# -- outbox and delivery log ---------------------------------------------------------------


HEADERS_KEPT: Final = 50
"""Headers kept per attempt and direction (a receiver may answer with hundreds)."""
HEADER_VALUE_BYTES: Final = 1024
MASKED: Final = "[redacted]"
_MASKED_RESPONSE_HEADERS: Final = frozenset({"set-cookie", "set-cookie2"})


def _stored_headers(headers: Mapping[str, str] | None, *,
                    masked: frozenset[str] = frozenset()) -> dict[str, str] | None:
    if headers is None:
        return None
    kept: dict[str, str] = {}
    for name, value in list(headers.items())[:HEADERS_KEPT]:
        shown = MASKED if name.lower() in masked else value
        kept[str(name)[:200]] = _cap(str(shown), HEADER_VALUE_BYTES) or ""
    return kept


def _headers_columns(outcome: AttemptOutcome) -> dict[str, Any]:
    return {"request_headers": _stored_headers(outcome.request_headers),
            "response_headers": _stored_headers(outcome.response_headers,
                                                masked=_MASKED_RESPONSE_HEADERS)}


@dataclass(frozen=True)
class TriggerHealth:
    """A trigger's circuit breaker: its streak of failed attempts."""

    trigger_id: str
    failures: int
    failing_since: str | None
    open_until: str | None
    disabled_at: str | None
    reason: str | None


def _health(row: Any) -> TriggerHealth:
    return TriggerHealth(
        row.trigger_id, int(row.failures),
        _iso(row.failing_since) if row.failing_since is not None else None,
        _iso(row.open_until) if row.open_until is not None else None,
        _iso(row.disabled_at) if row.disabled_at is not None else None, row.reason)


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


# -- inbound log and jobs ------------------------------------------------------------------


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


@dataclass(frozen=True)
class Job:
    id: str
    environment: str
    webhook_id: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    """Attempts finished so far (done or failed)."""
    max_attempts: int
    next_attempt_at: str
    claimed_by: str | None
    claimed_until: str | None
    last_error: str | None
    result: Any
    created_at: str
    updated_at: str

    @property
    def attempt(self) -> int:
        return self.attempts + 1


@dataclass(frozen=True)
class MinuteCount:
    """Deliveries of one minute (UTC, ``YYYY-MM-DDTHH:MMZ``): succeeded and failed."""

    minute: str
    succeeded: int
    failed: int


RecordData: TypeAlias = dict[str, Any] | Callable[[Record], dict[str, Any]]
UpsertData: TypeAlias = dict[str, Any] | Callable[[Record | None], dict[str, Any]]


class RuntimeStore:
    """Records, outbox, delivery and inbound logs, de-duplication and jobs.

    Make one with ``RuntimeStore(store)`` or ``store.runtime()``; it uses the store's engine
    (closing the store closes it). Thread-safe: every call takes its own connection.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._postgres = store._postgres

    @property
    def store(self) -> Store:
        return self._store

    # -- records ---------------------------------------------------------------------------

    def create(self, environment: str, collection: str, data: dict[str, Any], *,
               origin: str, external_id: str | None = None,
               outbox: OutboxCallback | None = None, dedup: Dedup | None = None) -> Record:
        """Insert a record (version 1). :class:`RecordConflict` if ``external_id`` is taken
        (also by a soft-deleted record: use :meth:`upsert_external` to revive it)."""
        with self._write() as conn:
            return self._create(conn, environment, collection, data, origin=origin,
                                external_id=external_id, outbox=outbox, dedup=dedup)

    def _create(self, conn: Connection, environment: str, collection: str,
                data: dict[str, Any], *, origin: str, external_id: str | None,
                outbox: OutboxCallback | None, dedup: Dedup | None) -> Record:
        _check_origin(origin)
        _check_names(collection, external_id)
        body = _object(data)
        now = _now()
        record = Record(id=_new_id("rec"), collection=collection, external_id=external_id,
                        data=body, origin=origin, version=1, created_at=_iso(now),
                        updated_at=_iso(now), deleted_at=None)
        self._dedup(conn, environment, dedup, now)
        if not self._insert_record(conn, environment, record, now):
            raise RecordConflict(f"a record with external id '{external_id}' already "
                                 f"exists in collection '{collection}' of '{environment}'")
        self._fire(conn, RecordEvent(environment, collection, "create", record, None,
                                     origin), outbox, now)
        return record

    def write_many(self, operations: Sequence[WriteOperation]) -> builtins.list[WriteResult]:
        """Run ``operations`` in ONE transaction with one commit (group commit): what each
        returns, in order, as its own method would (``create``, ``upsert_external``,
        ``log_inbound``).

        One that fails with a :class:`StateError` (a duplicate delivery, a taken external
        id, a value the database refuses) is rolled back alone and its error is returned in
        its place; the others still commit. (First the whole group is tried without
        savepoints, its upserts in bulk; only when one operation fails is it run again with
        one savepoint per operation.) A write's ``log`` entry commits with it, or not at
        all. Nothing is durable, and nothing should be answered, before this returns. If the
        database itself fails (unavailable, locked for too long), nothing is committed and
        :class:`DatabaseUnavailable` is raised for the whole group.
        """
        if len(operations) > 1:
            try:
                return self._write_all_or_nothing(operations)
            except _GroupFailed:
                pass  # one of them fails: run each in its own savepoint, below
        results: builtins.list[WriteResult] = []
        with self._write() as conn:
            for operation in operations:
                try:
                    with conn.begin_nested():
                        result = self._perform(conn, operation)
                        if not isinstance(operation, LogInbound) and operation.log:
                            self._log_many(conn, [operation.log(*_written(result))],
                                           ids=False)
                        results.append(result)
                except StateError as exc:
                    results.append(exc)
                except DBAPIError as exc:
                    if isinstance(exc, OperationalError) or exc.connection_invalidated:
                        raise  # the database, not this operation: the whole group fails
                    results.append(self._store._error(exc))
        return results

    def _write_all_or_nothing(
            self, operations: Sequence[WriteOperation]) -> builtins.list[WriteResult]:
        """The fast path of :meth:`write_many`: no savepoints, the upserts done in bulk (one
        SELECT per collection, one INSERT and one UPDATE statement for all of them), the log
        entries inserted in one statement. Any operation failing rolls everything back
        (:class:`_GroupFailed`), except the database failing, which is raised as is."""
        results: builtins.list[WriteResult] = [0] * len(operations)
        logs: builtins.list[tuple[int, LogInbound]] = []
        upserts: builtins.list[tuple[int, UpsertRecord]] = []
        try:
            with self._write() as conn:
                for index, operation in enumerate(operations):
                    if isinstance(operation, LogInbound):
                        logs.append((index, operation))
                    elif isinstance(operation, UpsertRecord):
                        upserts.append((index, operation))
                    else:
                        results[index] = self._perform(conn, operation)
                if upserts:
                    done = self._upsert_group(conn, [operation for _, operation in upserts])
                    for (index, _), result in zip(upserts, done, strict=True):
                        results[index] = result
                if logs:
                    ids = self._log_many(conn, [operation for _, operation in logs])
                    for (index, _), entry_id in zip(logs, ids, strict=True):
                        results[index] = entry_id
                # the log entries of successful writes (their ids are not needed)
                entries = [operation.log(*_written(results[index]))
                           for index, operation in enumerate(operations)
                           if not isinstance(operation, LogInbound) and operation.log]
                if entries:
                    self._log_many(conn, entries, ids=False)
        except DatabaseUnavailable:
            raise
        except StateError as exc:
            raise _GroupFailed from exc
        return results

    def _upsert_group(self, conn: Connection, operations: Sequence[UpsertRecord],
                      ) -> builtins.list[tuple[Record, Record | None]]:
        """:meth:`_upsert_external` for many operations at once, in order (a later upsert of
        the same external id updates what an earlier one wrote). The rows are read, locked,
        with one SELECT per collection; new records are inserted with one statement (a
        concurrent insert of the same id fails it: the caller retries one by one, where
        ``_upsert_external`` handles that race), existing ones updated with another."""
        r = t.records
        now = _now()
        wanted: dict[tuple[str, str], set[str]] = {}
        for operation in operations:
            _check_origin(operation.origin)
            _check_names(operation.collection, operation.external_id)
            self._dedup(conn, operation.environment, operation.dedup, now)
            wanted.setdefault((operation.environment, operation.collection), set()).add(
                operation.external_id)
        current: dict[tuple[str, str, str], Record] = {}
        for (environment, collection), external_ids in wanted.items():
            # locked in key order: two groups locking overlapping rows cannot deadlock
            query = select(r).where(r.c.environment == environment,
                                    r.c.collection == collection,
                                    r.c.external_id.in_(sorted(external_ids))
                                    ).order_by(r.c.external_id)
            for row in conn.execute(query.with_for_update()):
                current[(environment, collection, row.external_id)] = _record(row)
        inserts: dict[str, dict[str, Any]] = {}
        updates: dict[str, dict[str, Any]] = {}
        outbox: dict[str, builtins.list[OutboxItem]] = {}
        results: builtins.list[tuple[Record, Record | None]] = []
        for operation in operations:
            key = (operation.environment, operation.collection, operation.external_id)
            stored = current.get(key)
            body = _object(operation.data)
            if stored is None:
                record = Record(id=_new_id("rec"), collection=operation.collection,
                                external_id=operation.external_id, data=body,
                                origin=operation.origin, version=1, created_at=_iso(now),
                                updated_at=_iso(now), deleted_at=None)
                previous = None
                inserts[record.id] = {
                    "id": record.id, "environment": operation.environment,
                    "collection": record.collection, "external_id": record.external_id,
                    "data": body, "origin": record.origin, "version": 1, "created_at": now,
                    "updated_at": now, "deleted_at": None}
            else:
                previous = stored if stored.deleted_at is None else None
                record = replace(stored, data=body, origin=operation.origin,
                                 version=stored.version + 1, updated_at=_iso(now),
                                 deleted_at=None)
                if record.id in inserts:  # created earlier in this group: insert the latest
                    inserts[record.id].update(data=body, origin=record.origin,
                                              version=record.version)
                else:
                    updates[record.id] = {"_id": record.id, "data": body,
                                          "origin": record.origin, "version": record.version,
                                          "updated_at": now, "deleted_at": None}
            current[key] = record
            results.append((record, previous))
            if operation.outbox is not None:
                event = RecordEvent(operation.environment, operation.collection,
                                    "update" if previous is not None else "create", record,
                                    previous, operation.origin)
                outbox.setdefault(operation.environment, []).extend(operation.outbox(event))
        if inserts:
            conn.execute(insert(r), builtins.list(inserts.values()))
        if updates:
            conn.execute(sql_update(r).where(r.c.id == bindparam("_id")).values(
                data=bindparam("data"), origin=bindparam("origin"),
                version=bindparam("version"), updated_at=bindparam("updated_at"),
                deleted_at=bindparam("deleted_at")), builtins.list(updates.values()))
        for environment, items in outbox.items():
            self._insert_outbox(conn, environment, items, now)
        return results

    def _log_many(self, conn: Connection, entries: Sequence[LogInbound], *,
                  ids: bool = True) -> builtins.list[int]:
        """Append inbound attempts to the log; their ids, in order (``ids=False``: nothing,
        in one ``executemany`` — SQLite returns ordered ids one INSERT per row). Path-derived
        values are clipped to their columns, ``detail`` to 1 KiB."""
        now = _utc(None)
        rows = [{
            "environment": _clip(_storable(e.environment), 100),
            "webhook_id": _clip(_storable(e.webhook_id), 100),
            "webhook_name": _clip(e.webhook_name) if e.webhook_name is not None else None,
            "received_at": now if e.received_at is None else _utc(e.received_at),
            "client_ip": _clip(e.client_ip, 64) if e.client_ip is not None else None,
            "status_code": e.status_code, "reason": _clip(e.reason, 40),
            "detail": _cap(e.detail, _DETAIL_BYTES), "latency_ms": _millis(e.latency_ms),
            "record_id": e.record_id, "job_id": e.job_id,
            "provider_delivery_id": _clip(e.provider_delivery_id, _MAX_PROVIDER_ID)
            if e.provider_delivery_id is not None else None} for e in entries]
        if not ids:
            conn.execute(insert(t.inbound_deliveries), rows)
            return []
        statement = insert(t.inbound_deliveries).returning(t.inbound_deliveries.c.id,
                                                           sort_by_parameter_order=True)
        return [int(entry_id) for entry_id in conn.execute(statement, rows).scalars()]

    def _perform(self, conn: Connection, operation: WriteOperation) -> WriteResult:
        if isinstance(operation, CreateRecord):
            return self._create(conn, operation.environment, operation.collection,
                                operation.data, origin=operation.origin,
                                external_id=operation.external_id, outbox=operation.outbox,
                                dedup=operation.dedup)
        if isinstance(operation, UpsertRecord):
            return self._upsert_external(conn, operation.environment, operation.collection,
                                         operation.external_id, operation.data,
                                         origin=operation.origin, outbox=operation.outbox,
                                         dedup=operation.dedup)
        return self._log_many(conn, [operation])[0]

    def get(self, environment: str, collection: str, record_id: str, *,
            include_deleted: bool = False) -> Record | None:
        if _unqueryable(environment, collection, record_id):
            return None
        r = t.records
        query = select(r).where(r.c.environment == environment, r.c.collection == collection,
                                r.c.id == record_id)
        if not include_deleted:
            query = query.where(r.c.deleted_at.is_(None))
        with self._read() as conn:
            row = conn.execute(query).first()
        return _record(row) if row is not None else None

    def get_external(self, environment: str, collection: str, external_id: str, *,
                     include_deleted: bool = False) -> Record | None:
        if _unqueryable(environment, collection, external_id):
            return None
        r = t.records
        query = select(r).where(*_external(environment, collection, external_id))
        if not include_deleted:
            query = query.where(r.c.deleted_at.is_(None))
        with self._read() as conn:
            row = conn.execute(query).first()
        return _record(row) if row is not None else None

    def list(self, environment: str, collection: str, *,
             equals: Mapping[str, Scalar] | None = None, limit: int = 50,
             cursor: str | None = None, newest_first: bool = True,
             include_deleted: bool = False) -> tuple[builtins.list[Record], str | None]:
        """A page of records and the cursor of the next page (None on the last page).

        ``equals`` matches top-level fields of the data by JSON type and value (``1`` matches
        ``1`` and ``1.0``, not ``"1"``; None matches null or absent), in SQL. Pages are keyed
        on (created_at, id), so records written meanwhile never shift a page: no duplicates,
        nothing skipped.
        """
        if not 1 <= limit <= _MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {_MAX_LIMIT}, not {limit}")
        r = t.records
        conditions: builtins.list[ColumnElement[bool]] = [
            r.c.environment == environment, r.c.collection == collection]
        if not include_deleted:
            conditions.append(r.c.deleted_at.is_(None))
        for name, value in (equals or {}).items():
            conditions.append(self._field_equals(name, value))
        if cursor is not None:
            after_at, after_id = _decode_cursor(cursor, newest_first=newest_first)
            if newest_first:
                conditions.append(or_(r.c.created_at < after_at,
                                      and_(r.c.created_at == after_at, r.c.id < after_id)))
            else:
                conditions.append(or_(r.c.created_at > after_at,
                                      and_(r.c.created_at == after_at, r.c.id > after_id)))
        order = ((r.c.created_at.desc(), r.c.id.desc()) if newest_first
                 else (r.c.created_at.asc(), r.c.id.asc()))
        with self._read() as conn:
            rows = conn.execute(select(r).where(*conditions).order_by(*order)
                                .limit(limit + 1)).all()
        page = rows[:limit]
        following = (_encode_cursor(page[-1].created_at, page[-1].id, newest_first=newest_first)
                     if len(rows) > limit else None)
        return [_record(row) for row in page], following

    def update(self, environment: str, collection: str, record_id: str, data: RecordData, *,
               origin: str, outbox: OutboxCallback | None = None) -> tuple[Record, Record]:
        """Replace a live record's data; returns (new, previous).

        ``data`` may be a function of the current record, called under the row lock, so
        that a merge patch cannot lose a concurrent write. :class:`RecordNotFound` if the
        record does not exist or is deleted.
        """
        _check_origin(origin)
        if _unqueryable(environment, collection, record_id):
            raise _not_found(environment, collection, record_id)
        now = _now()
        r = t.records
        with self._write() as conn:
            row = self._locked(conn, r.c.environment == environment,
                               r.c.collection == collection, r.c.id == record_id)
            if row is None or row.deleted_at is not None:
                raise _not_found(environment, collection, record_id)
            previous = _record(row)
            body = _object(data(previous) if callable(data) else data)
            record = replace(previous, data=body, origin=origin, version=previous.version + 1,
                             updated_at=_iso(now))
            conn.execute(sql_update(r).where(r.c.id == row.id).values(
                data=body, origin=origin, version=record.version, updated_at=now))
            self._fire(conn, RecordEvent(environment, collection, "update", record, previous,
                                         origin), outbox, now)
        return record, previous

    def delete(self, environment: str, collection: str, record_id: str, *, origin: str,
               outbox: OutboxCallback | None = None) -> tuple[Record, Record]:
        """Soft-delete a live record (``deleted_at`` set, version +1); (new, previous)."""
        _check_origin(origin)
        if _unqueryable(environment, collection, record_id):
            raise _not_found(environment, collection, record_id)
        r = t.records
        now = _now()
        with self._write() as conn:
            row = self._locked(conn, r.c.environment == environment,
                               r.c.collection == collection, r.c.id == record_id)
            if row is None or row.deleted_at is not None:
                raise _not_found(environment, collection, record_id)
            return self._soft_delete(conn, environment, row, origin=origin, outbox=outbox,
                                     now=now)

    def upsert_external(self, environment: str, collection: str, external_id: str,
                        data: UpsertData, *, origin: str,
                        outbox: OutboxCallback | None = None,
                        dedup: Dedup | None = None) -> tuple[Record, Record | None]:
        """Create or replace the record with ``external_id``; (new, previous or None).

        Atomic under concurrency (the unique external id and ``INSERT … ON CONFLICT``): two
        upserts of one new id make one record, the second updating it. A soft-deleted record
        with the id is revived: same id, version +1, reported as created (previous None,
        event ``create``). ``data`` may be a function of the live record (None when
        creating or reviving), called under the row lock, e.g. for a merge.
        """
        with self._write() as conn:
            return self._upsert_external(conn, environment, collection, external_id, data,
                                         origin=origin, outbox=outbox, dedup=dedup)

    def _upsert_external(self, conn: Connection, environment: str, collection: str,
                         external_id: str, data: UpsertData, *, origin: str,
                         outbox: OutboxCallback | None,
                         dedup: Dedup | None) -> tuple[Record, Record | None]:
        _check_origin(origin)
        _check_names(collection, external_id)
        r = t.records
        now = _now()
        self._dedup(conn, environment, dedup, now)
        for _round in range(_UPSERT_ROUNDS):
            row = self._locked(conn, *_external(environment, collection, external_id))
            if row is not None:
                break
            body = _object(data(None) if callable(data) else data)
            record = Record(id=_new_id("rec"), collection=collection,
                            external_id=external_id, data=body, origin=origin,
                            version=1, created_at=_iso(now), updated_at=_iso(now),
                            deleted_at=None)
            if self._insert_record(conn, environment, record, now):
                self._fire(conn, RecordEvent(environment, collection, "create", record,
                                             None, origin), outbox, now)
                return record, None
            # a concurrent upsert inserted it and committed: lock and update that row
        else:
            raise StateError(f"could not upsert external id '{external_id}' in "
                             f"'{collection}' of '{environment}': it kept changing")
        stored = _record(row)
        previous = stored if stored.deleted_at is None else None
        body = _object(data(previous) if callable(data) else data)
        record = replace(stored, data=body, origin=origin, version=stored.version + 1,
                         updated_at=_iso(now), deleted_at=None)
        conn.execute(sql_update(r).where(r.c.id == row.id).values(
            data=body, origin=origin, version=record.version, updated_at=now,
            deleted_at=None))
        event: RecordEventKind = "update" if previous is not None else "create"
        self._fire(conn, RecordEvent(environment, collection, event, record, previous,
                                     origin), outbox, now)
        return record, previous

    def delete_external(self, environment: str, collection: str, external_id: str, *,
                        origin: str, outbox: OutboxCallback | None = None,
                        dedup: Dedup | None = None) -> tuple[Record, Record] | None:
        """Soft-delete the live record with ``external_id``: (new, previous), or None if there
        is none (the ``dedup`` mark is still kept: the delivery was handled)."""
        _check_origin(origin)
        _check_names(collection, external_id)
        now = _now()
        with self._write() as conn:
            self._dedup(conn, environment, dedup, now)
            row = self._locked(conn, *_external(environment, collection, external_id))
            if row is None or row.deleted_at is not None:
                return None
            return self._soft_delete(conn, environment, row, origin=origin, outbox=outbox,
                                     now=now)

    # -- outbox ----------------------------------------------------------------------------

    def enqueue_outbox(self, environment: str, items: Sequence[OutboxItem]) -> builtins.list[str]:
        """Queue deliveries not caused by a record write (system events); returns their ids."""
        now = _now()
        with self._write() as conn:
            return self._insert_outbox(conn, environment, items, now)

    def claim_outbox(self, *, worker: str, limit: int, lease_seconds: float,
                     now: datetime | None = None) -> builtins.list[OutboxRow]:
        """Claim up to ``limit`` deliveries due at ``now`` for ``worker`` until the lease ends.

        Due: pending with ``next_attempt_at <= now``, or in flight with an expired lease (a
        worker that crashed). Oldest due first. ``worker`` must be unique per process.
        """
        rows = self._claim(t.outbox, "in_flight", worker=worker, limit=limit,
                           lease_seconds=lease_seconds, now=now)
        return [_outbox_row(row) for row in rows]

    def breaker(self, trigger_id: str) -> TriggerHealth | None:
        """The circuit breaker of ``trigger_id`` (None: never failed under one)."""
        h = t.trigger_health
        with self._read() as conn:
            row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)).first()
        return _health(row) if row is not None else None

    def breaker_gate(self, trigger_id: str, *, cooldown: float,
                     now: datetime | None = None) -> datetime | None:
        """May a delivery of ``trigger_id`` be sent now? None: yes. Else when to try again:
        the breaker is open (its cooldown runs), or the trigger is disabled (re-checked a
        minute later; nothing is dropped). When the cooldown has run out, the caller's
        delivery is the one probe: the breaker re-arms for ``cooldown`` so no other goes
        before the probe's outcome is known."""
        at = _utc(now)
        h = t.trigger_health
        with self._write() as conn:
            row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)
                               .with_for_update()).first()
            if row is None:
                return None
            if row.disabled_at is not None:  # asked again in a minute (rows wait unclaimed)
                again = at + timedelta(seconds=60)
                conn.execute(sql_update(h).where(h.c.trigger_id == trigger_id)
                             .values(open_until=again))
                return again
            if row.open_until is None:
                return None
            until = _aware(row.open_until)
            if until > at:
                return until
            conn.execute(sql_update(h).where(h.c.trigger_id == trigger_id)
                         .values(open_until=at + timedelta(seconds=cooldown)))
            return None

    def breaker_outcome(self, trigger_id: str, *, success: bool, failures: int,
                        cooldown: float, disable_after: float,
                        now: datetime | None = None) -> TriggerHealth | None:
        """Count one attempt's outcome; returns the breaker when this outcome disabled the
        trigger (the caller emits ``trigger.disabled``), else None."""
        for _attempt in range(3):
            try:
                return self._breaker_outcome(trigger_id, success=success, failures=failures,
                                             cooldown=cooldown, disable_after=disable_after,
                                             now=now)
            except StateError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    continue  # another process counted the first failure meanwhile
                raise
        raise StateError(f"the circuit breaker of trigger {trigger_id} keeps changing hands")

    def _breaker_outcome(self, trigger_id: str, *, success: bool, failures: int,
                         cooldown: float, disable_after: float,
                         now: datetime | None) -> TriggerHealth | None:
        at = _utc(now)
        h = t.trigger_health
        with self._write() as conn:
            row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)
                               .with_for_update()).first()
            if success:
                if row is not None and row.disabled_at is None:
                    conn.execute(delete(h).where(h.c.trigger_id == trigger_id))
                return None
            if row is None:
                conn.execute(insert(h).values(trigger_id=trigger_id, failures=1,
                                              failing_since=at, open_until=None,
                                              disabled_at=None, reason=None))
                count, since, disabled = 1, at, None
            else:
                count = row.failures + 1
                since = _aware(row.failing_since) if row.failing_since is not None else at
                disabled = row.disabled_at
            values: dict[str, Any] = {"failures": count, "failing_since": since}
            if count >= failures:
                values["open_until"] = at + timedelta(seconds=cooldown)
            newly_disabled = disabled is None and (at - since).total_seconds() >= disable_after
            if newly_disabled:
                values["disabled_at"] = at
                values["reason"] = (f"{count} failed attempts in a row since {_iso(since)} "
                                    f"(circuit breaker: disable after {disable_after:g} s)")
            conn.execute(sql_update(h).where(h.c.trigger_id == trigger_id).values(**values))
            if newly_disabled:
                row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)).first()
                return _health(row) if row is not None else None
        return None

    def enable_trigger(self, trigger_id: str, *, environment: str) -> bool:
        """Close the breaker of ``trigger_id`` (re-enable a disabled trigger): its waiting
        deliveries are due now. False when there was nothing to close."""
        h, o = t.trigger_health, t.outbox
        with self._write() as conn:
            gone = conn.execute(delete(h).where(h.c.trigger_id == trigger_id)).rowcount
            conn.execute(sql_update(o).where(
                o.c.trigger_id == trigger_id, o.c.environment == environment,
                o.c.status == "pending").values(next_attempt_at=_now()))
        return bool(gone)

    def take_budget(self, trigger_id: str, *, limit: int, per_seconds: int,
                    now: datetime | None = None) -> datetime | None:
        """Spend one send of ``trigger_id``'s budget (``limit`` per ``per_seconds`` window,
        windows aligned to the clock) in the database, shared by every worker and replica:
        None when taken, else when the next window starts (send then)."""
        at = _utc(now)
        epoch = int(at.timestamp())
        window = datetime.fromtimestamp(epoch - epoch % per_seconds, UTC)
        following = window + timedelta(seconds=per_seconds)
        b = t.trigger_budgets
        for _attempt in range(3):
            try:
                with self._write() as conn:
                    row = conn.execute(select(b).where(b.c.trigger_id == trigger_id)
                                       .with_for_update()).first()
                    if row is None:
                        conn.execute(insert(b).values(trigger_id=trigger_id,
                                                      window_start=window, used=1))
                        return None
                    if _aware(row.window_start) != window:
                        conn.execute(sql_update(b).where(b.c.trigger_id == trigger_id)
                                     .values(window_start=window, used=1))
                        return None
                    if row.used < limit:
                        conn.execute(sql_update(b).where(b.c.trigger_id == trigger_id)
                                     .values(used=b.c.used + 1))
                        return None
                    return following
            except StateError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    continue  # another process inserted the first window meanwhile
                raise
        raise StateError(f"the delivery budget of trigger {trigger_id} keeps changing hands")

    def release_outbox(self, outbox_ids: Sequence[str], *, worker: str,
                       not_before: datetime | None = None) -> int:
        """Hand back deliveries ``worker`` claimed and never sent (it is stopping): pending
        again at once, for any worker, instead of when their lease ends — or at
        ``not_before`` (their trigger was asked to wait). Rows the worker no longer holds
        (recorded, or taken over after its lease ran out) are left alone; the number
        released."""
        wanted = [outbox_id for outbox_id in outbox_ids if not _unqueryable(outbox_id)]
        if not wanted:
            return 0
        o = t.outbox
        values: dict[str, Any] = {"status": "pending", "claimed_by": None,
                                  "claimed_until": None, "updated_at": _now()}
        if not_before is not None:
            values["next_attempt_at"] = _utc(not_before)
        with self._write() as conn:
            return int(conn.execute(sql_update(o).where(
                o.c.id.in_(wanted), o.c.status == "in_flight",
                o.c.claimed_by == _clip(worker)).values(**values)).rowcount)

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
                        now: datetime | None = None) -> builtins.list[bool]:
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
        at = _utc(now)
        with self._write() as conn:
            held = {row.id: row for row in conn.execute(
                select(o.c.id, o.c.environment, o.c.attempts, o.c.trigger_id)
                .where(o.c.id.in_(ids), o.c.status == "in_flight", o.c.claimed_by == worker)
                .order_by(o.c.id).with_for_update())}
            moved: dict[bool, builtins.list[dict[str, Any]]] = {False: [], True: []}
            logged: builtins.list[dict[str, Any]] = []
            for outcome in outcomes:
                row = held.get(outcome.outbox_id)
                if row is None:
                    continue
                status = ("delivered" if outcome.success else
                          "pending" if outcome.retry_at is not None else "failed")
                last_error = _cap(outcome.error, _ERROR_BYTES) if not outcome.success else None
                values: dict[str, Any] = {
                    "b_id": outcome.outbox_id, "status": status, "attempts": row.attempts + 1,
                    "last_error": last_error, "last_status_code": outcome.status_code}
                retry = status == "pending" and outcome.retry_at is not None
                if retry:
                    values["next_attempt_at"] = _utc(outcome.retry_at)
                moved[retry].append(values)
                logged.append({"outbox_id": outcome.outbox_id, "at": at,
                               "status_code": outcome.status_code, "success": outcome.success,
                               "latency_ms": _millis(outcome.latency_ms), "error": last_error,
                               "response_excerpt": _cap(outcome.response_excerpt,
                                                        _EXCERPT_BYTES),
                               "worker": _clip(worker), **_headers_columns(outcome)})
                if status == "failed" and outcome.on_failed:
                    self._insert_outbox(conn, row.environment, outcome.on_failed, at)
                if outcome.pause_trigger_until is not None:
                    until = _utc(outcome.pause_trigger_until)
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
        rows = [{"outbox_id": outcome.outbox_id, "at": at, "status_code": outcome.status_code,
                 "success": outcome.success, "latency_ms": _millis(outcome.latency_ms),
                 "response_excerpt": _cap(outcome.response_excerpt, _EXCERPT_BYTES),
                 "error": _cap(f"recorded late: worker '{worker}' finished this attempt after "
                               "its lease ran out, so it does not count"
                               + (f" ({outcome.error})" if outcome.error else ""),
                               _ERROR_BYTES),
                 "worker": _clip(worker), **_headers_columns(outcome)}
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
                   limit: int = 50) -> builtins.list[Delivery]:
        """A trigger's deliveries, newest first, each with its attempts (the first page of
        :meth:`deliveries_page`)."""
        return self.deliveries_page(environment, trigger_id, status=status, limit=limit)[0]

    def deliveries_page(self, environment: str, trigger_id: str, *,
                        status: str | None = None, limit: int = 50,
                        cursor: str | None = None
                        ) -> tuple[builtins.list[Delivery], str | None]:
        """A page of a trigger's deliveries, newest first (a stable order: creation time,
        then id), each with its attempts, and the cursor of the next page (None on the
        last)."""
        if not 1 <= limit <= _MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {_MAX_LIMIT}, not {limit}")
        if status is not None and status not in _OUTBOX_STATUSES:
            raise InvalidQuery(f"unknown delivery status '{status}' (one of "
                               f"{', '.join(sorted(_OUTBOX_STATUSES))})")
        o = t.outbox
        query = (select(o).where(o.c.environment == environment, o.c.trigger_id == trigger_id)
                 .order_by(o.c.created_at.desc(), o.c.id.desc()).limit(limit + 1))
        if status is not None:
            query = query.where(o.c.status == status)
        if cursor is not None:
            before_at, before_id = _decode_cursor(cursor, newest_first=True)
            query = query.where(or_(o.c.created_at < before_at,
                                    and_(o.c.created_at == before_at, o.c.id < before_id)))
        with self._read() as conn:
            rows = conn.execute(query).all()
            page = rows[:limit]
            history = self._attempts(conn, [row.id for row in page])
        following = (_encode_cursor(page[-1].created_at, page[-1].id, newest_first=True)
                     if len(rows) > limit else None)
        return [_delivery(row, history.get(row.id, ())) for row in page], following

    def delivery(self, outbox_id: str) -> Delivery | None:
        if _unqueryable(outbox_id):
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
        if _unqueryable(outbox_id, environment or ""):
            return False
        o = t.outbox
        conditions = [o.c.id == outbox_id, o.c.status == "failed"]
        if environment is not None:
            conditions.append(o.c.environment == environment)
        at = _utc(now)
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
        start = _utc(since)
        total = 0
        while True:
            at = _utc(now)
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
                                        o.c.updated_at < _utc(cutoff))
        with self._write() as conn:
            conn.execute(delete(t.delivery_attempts)
                         .where(t.delivery_attempts.c.outbox_id.in_(finished)))
            return int(conn.execute(delete(o).where(o.c.status.in_(statuses),
                                                    o.c.updated_at < _utc(cutoff))).rowcount)

    def purge_logs_before(self, cutoff: datetime, *,
                          marks_before: datetime | None = None) -> int:
        """Retention: remove inbound log entries and finished jobs older than ``cutoff``, and
        de-duplication marks older than ``marks_before`` (default ``cutoff``: a mark only
        matters within its window); returns how many rows."""
        i, j, s = t.inbound_deliveries, t.jobs, t.seen_deliveries
        when = _utc(cutoff)
        marks = _utc(marks_before) if marks_before is not None else when
        with self._write() as conn:
            removed = conn.execute(delete(i).where(i.c.received_at < when)).rowcount
            removed += conn.execute(delete(j).where(j.c.status.in_(("done", "failed")),
                                                    j.c.updated_at < when)).rowcount
            removed += conn.execute(delete(s).where(s.c.seen_at < marks)).rowcount
        return int(removed)

    # -- inbound log and de-duplication ------------------------------------------------------

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
            return self._log_many(conn, [entry])[0]

    def inbound_log(self, environment: str, webhook_id: str, *,
                    limit: int = 50) -> builtins.list[InboundDelivery]:
        """An inbound webhook's log, newest first (the first page of
        :meth:`inbound_log_page`)."""
        return self.inbound_log_page(environment, webhook_id, limit=limit)[0]

    def inbound_log_page(self, environment: str, webhook_id: str, *, limit: int = 50,
                         cursor: str | None = None
                         ) -> tuple[builtins.list[InboundDelivery], str | None]:
        """A page of an inbound webhook's log, newest first (receipt time, then id), and
        the cursor of the next page (None on the last)."""
        if not 1 <= limit <= _MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {_MAX_LIMIT}, not {limit}")
        i = t.inbound_deliveries
        query = (select(i).where(i.c.environment == environment, i.c.webhook_id == webhook_id)
                 .order_by(i.c.received_at.desc(), i.c.id.desc()).limit(limit + 1))
        if cursor is not None:
            before_at, before_text = _decode_cursor(cursor, newest_first=True)
            if not before_text.isdigit():
                raise InvalidQuery("invalid cursor: pass the 'next' value of a previous page")
            before_id = int(before_text)
            query = query.where(or_(i.c.received_at < before_at,
                                    and_(i.c.received_at == before_at, i.c.id < before_id)))
        with self._read() as conn:
            rows = conn.execute(query).all()
        page = rows[:limit]
        following = (_encode_cursor(page[-1].received_at, str(page[-1].id), newest_first=True)
                     if len(rows) > limit else None)
        return [_inbound(row) for row in page], following

    def last_used_at(self, environment: str, webhook_id: str) -> str | None:
        """When the inbound webhook last accepted a delivery (status below 400)."""
        i = t.inbound_deliveries
        with self._read() as conn:
            value = conn.scalar(select(func.max(i.c.received_at))
                                .where(i.c.environment == environment,
                                       i.c.webhook_id == webhook_id, i.c.status_code < 400))
        return _iso(_parse_db_time(value)) if value is not None else None

    def mark_seen(self, environment: str, webhook_id: str, provider_delivery_id: str, *,
                  window_seconds: float, now: datetime | None = None) -> bool:
        """True if the delivery id is new (now marked seen), False if it was seen within
        ``window_seconds``. One atomic statement; a mark older than the window is renewed.

        Prefer ``dedup=`` on the write itself, which marks only when the write commits.
        """
        with self._write() as conn:
            return self._mark(conn, environment, webhook_id, provider_delivery_id,
                              window_seconds=window_seconds, now=_utc(now))

    def forget_seen(self, environment: str, webhook_id: str, provider_delivery_id: str) -> None:
        """Drop a seen mark (e.g. when handling the delivery failed after :meth:`mark_seen`)."""
        s = t.seen_deliveries
        with self._write() as conn:
            conn.execute(delete(s).where(
                s.c.environment == environment, s.c.webhook_id == webhook_id,
                s.c.provider_delivery_id == _provider_key(provider_delivery_id)))

    # -- jobs ------------------------------------------------------------------------------

    def enqueue_job(self, environment: str, webhook_id: str, kind: str,
                    payload: dict[str, Any], *, max_attempts: int,
                    dedup: Dedup | None = None) -> str:
        """Persist a job (committed when this returns, so a 202 may follow); its id."""
        if kind not in _JOB_KINDS:
            raise StateError(f"unknown job kind '{kind}' (one of {', '.join(sorted(_JOB_KINDS))})")
        if max_attempts < 1:
            raise StateError("max_attempts must be at least 1")
        body = _object(payload)
        job_id = _new_id("job")
        now = _now()
        with self._write() as conn:
            self._dedup(conn, environment, dedup, now)
            conn.execute(insert(t.jobs).values(
                id=job_id, environment=environment, webhook_id=webhook_id, kind=kind,
                payload=body, status="pending", attempts=0, max_attempts=max_attempts,
                next_attempt_at=now, claimed_by=None, claimed_until=None, last_error=None,
                result=None, created_at=now, updated_at=now))
        return job_id

    def claim_jobs(self, *, worker: str, limit: int, lease_seconds: float,
                   now: datetime | None = None) -> builtins.list[Job]:
        """Like :meth:`claim_outbox`: pending jobs due at ``now`` and running ones whose lease
        ran out (a restart resumes them)."""
        rows = self._claim(t.jobs, "running", worker=worker, limit=limit,
                           lease_seconds=lease_seconds, now=now)
        return [_job(row) for row in rows]

    def finish_job(self, job_id: str, *, worker: str, result: Any) -> bool:
        """Mark a job ``worker`` holds done with ``result`` (JSON); False if not held."""
        return self._end_job(job_id, worker, status="done", result=_json(result))

    def fail_job(self, job_id: str, *, worker: str, error: str,
                 retry_at: datetime | None) -> bool:
        """Record a failed attempt: pending again at ``retry_at``, or failed for good."""
        if retry_at is None:
            return self._end_job(job_id, worker, status="failed", error=error)
        return self._end_job(job_id, worker, status="pending", error=error,
                             next_attempt_at=_utc(retry_at))

    def job(self, job_id: str) -> Job | None:
        if _unqueryable(job_id):
            return None
        with self._read() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def jobs_pending(self, environment: str | None = None) -> int:
        """Jobs not finished yet (pending or running)."""
        j = t.jobs
        query = select(func.count()).select_from(j).where(j.c.status.in_(("pending",
                                                                           "running")))
        if environment is not None:
            query = query.where(j.c.environment == environment)
        with self._read() as conn:
            return int(conn.scalar(query) or 0)

    # -- console queries -------------------------------------------------------------------

    def outbound_per_minute(self, environment: str, *,
                            since: datetime) -> builtins.list[MinuteCount]:
        """Outbound delivery attempts per minute since ``since``, oldest first."""
        a, o = t.delivery_attempts, t.outbox
        minute = self._minute(a.c.at)
        query = (select(minute.label("minute"),
                        func.sum(case((a.c.success, 1), else_=0)),
                        func.sum(case((a.c.success, 0), else_=1)))
                 .select_from(a.join(o, o.c.id == a.c.outbox_id))
                 .where(o.c.environment == environment, a.c.at >= _utc(since))
                 .group_by(minute).order_by(minute))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [MinuteCount(f"{row[0].replace(' ', 'T')}Z", int(row[1] or 0), int(row[2] or 0))
                for row in rows]

    def inbound_per_minute(self, environment: str, *,
                           since: datetime) -> builtins.list[MinuteCount]:
        """Inbound deliveries per minute since ``since`` (accepted: status below 400)."""
        i = t.inbound_deliveries
        minute = self._minute(i.c.received_at)
        query = (select(minute.label("minute"),
                        func.sum(case((i.c.status_code < 400, 1), else_=0)),
                        func.sum(case((i.c.status_code < 400, 0), else_=1)))
                 .where(i.c.environment == environment, i.c.received_at >= _utc(since))
                 .group_by(minute).order_by(minute))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [MinuteCount(f"{row[0].replace(' ', 'T')}Z", int(row[1] or 0), int(row[2] or 0))
                for row in rows]

    def record_counts(self, environment: str) -> dict[str, int]:
        """Live (not deleted) records per collection."""
        r = t.records
        query = (select(r.c.collection, func.count()).where(r.c.environment == environment,
                                                            r.c.deleted_at.is_(None))
                 .group_by(r.c.collection))
        with self._read() as conn:
            return {str(name): int(count) for name, count in conn.execute(query).all()}

    def jobs_by_id(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs with these ids (unknown ids are left out)."""
        wanted = [job_id for job_id in job_ids if not _unqueryable(job_id)]
        if not wanted:
            return {}
        j = t.jobs
        with self._read() as conn:
            rows = conn.execute(select(j).where(j.c.id.in_(wanted))).all()
        return {row.id: _job(row) for row in rows}

    def _minute(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        """``YYYY-MM-DD HH:MM`` (UTC) of a timestamp column, in this dialect's SQL."""
        if self._postgres:
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
        return func.substr(column, 1, 16)  # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff'

    # -- helpers ---------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._store._transaction(write=True) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._store._transaction() as conn:
            yield conn

    def _upsert(self, table: Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing/update``."""
        return postgresql.insert(table) if self._postgres else sqlite.insert(table)

    def _locked(self, conn: Connection, *conditions: ColumnElement[bool]) -> _Row | None:
        """The record matching ``conditions``, locked until the transaction ends."""
        return conn.execute(select(t.records).where(*conditions).with_for_update()).first()

    def _insert_record(self, conn: Connection, environment: str, record: Record,
                       now: datetime) -> bool:
        """Insert ``record``; False if its external id is taken (nothing inserted)."""
        r = t.records
        values = {"id": record.id, "environment": environment,
                  "collection": record.collection, "external_id": record.external_id,
                  "data": record.data, "origin": record.origin, "version": record.version,
                  "created_at": now, "updated_at": now, "deleted_at": None}
        if record.external_id is None:
            conn.execute(insert(r), values)
            return True
        statement = (self._upsert(r)
                     .on_conflict_do_nothing(index_elements=["environment", "collection",
                                                             "external_id"])
                     .returning(r.c.id))
        return conn.execute(statement, values).first() is not None

    def _soft_delete(self, conn: Connection, environment: str, row: _Row, *, origin: str,
                     outbox: OutboxCallback | None, now: datetime) -> tuple[Record, Record]:
        r = t.records
        previous = _record(row)
        record = replace(previous, origin=origin, version=previous.version + 1,
                         updated_at=_iso(now), deleted_at=_iso(now))
        conn.execute(sql_update(r).where(r.c.id == row.id).values(
            origin=origin, version=record.version, updated_at=now, deleted_at=now))
        self._fire(conn, RecordEvent(environment, previous.collection, "delete", record,
                                     previous, origin), outbox, now)
        return record, previous

    def _fire(self, conn: Connection, event: RecordEvent, outbox: OutboxCallback | None,
              now: datetime) -> None:
        if outbox is not None:
            self._insert_outbox(conn, event.environment, outbox(event), now)

    def _insert_outbox(self, conn: Connection, environment: str, items: Sequence[OutboxItem],
                       now: datetime) -> builtins.list[str]:
        rows: builtins.list[dict[str, Any]] = []
        for item in items:
            if item.max_attempts < 1:
                raise StateError(f"delivery for trigger '{item.trigger_name}': max_attempts "
                                 "must be at least 1")
            rows.append({
                "id": item.id or new_outbox_id(), "environment": environment,
                "trigger_id": item.trigger_id, "trigger_name": _clip(item.trigger_name),
                "event": item.event, "payload": _object(item.payload), "status": "pending",
                "attempts": 0, "max_attempts": item.max_attempts, "next_attempt_at": now,
                "claimed_by": None, "claimed_until": None, "created_at": now,
                "updated_at": now, "last_error": None, "last_status_code": None,
                "order_key": item.order_key, "order_seq": item.order_seq})
        if rows:
            conn.execute(insert(t.outbox), rows)
        return [str(row["id"]) for row in rows]

    def _claim(self, table: Table, claimed: str, *, worker: str, limit: int,
               lease_seconds: float, now: datetime | None) -> builtins.list[_Row]:
        if not worker:
            raise StateError("a claiming worker needs a name")
        if limit < 1 or lease_seconds <= 0:
            raise StateError("claim at least one row for a positive lease")
        at = _utc(now)
        until = at + timedelta(seconds=lease_seconds)
        c = table.c
        # due rows are pending ones or claimed ones whose lease ran out: one query each, so
        # both walk the (status, next_attempt_at) index and stop at ``limit`` instead of
        # sorting the whole backlog; the oldest ``limit`` of the two are claimed
        pending: tuple[Any, ...] = (c.status == "pending", c.next_attempt_at <= at)
        if table is t.outbox:  # an ordered row waits for the earlier rows of its key
            earlier = t.outbox.alias("earlier")
            health = t.trigger_health
            pending = (*pending, or_(c.order_key.is_(None), ~exists().where(
                earlier.c.order_key == c.order_key, earlier.c.order_seq < c.order_seq,
                earlier.c.status.in_(("pending", "in_flight")))),
                # a trigger whose breaker is open waits in the table, not in a worker: its
                # rows are not claimed (and handed back) while the cooldown runs
                ~exists().where(health.c.trigger_id == c.trigger_id,
                                health.c.open_until > at))
        parts = [select(c.id, c.next_attempt_at, c.status, c.claimed_by, c.claimed_until)
                 .where(*where).order_by(c.next_attempt_at, c.id).limit(limit)
                 for where in (pending, (c.status == claimed, c.claimed_until <= at))]
        if self._postgres:
            # rows another transaction is claiming are skipped, not waited for; a row it
            # claimed and committed meanwhile no longer matches when re-checked under lock
            parts = [part.with_for_update(skip_locked=True) for part in parts]
        with self._write() as conn:
            found = [row for part in parts for row in conn.execute(part)]
            found.sort(key=lambda row: (_aware(row.next_attempt_at), row.id))
            ids = [row.id for row in found[:limit]]
            if not ids:
                return []
            rows = conn.execute(sql_update(table).where(c.id.in_(ids)).values(
                status=claimed, claimed_by=_clip(worker), claimed_until=until,
                updated_at=_now()).returning(*table.c)).all()
            if table is t.outbox:
                lost = [row for row in found[:limit] if row.status == claimed]
                if lost:  # a worker died (or stalled) holding them: say so in the history
                    conn.execute(insert(t.delivery_attempts), [
                        {"outbox_id": row.id, "at": at, "status_code": None, "success": False,
                         "latency_ms": None, "response_excerpt": None,
                         "request_headers": None, "response_headers": None,
                         "worker": row.claimed_by,
                         "error": _cap(_lost_lease(row.claimed_by, row.claimed_until),
                                       _ERROR_BYTES)}
                        for row in lost])
        order = {row_id: index for index, row_id in enumerate(ids)}
        return sorted(rows, key=lambda row: order[row.id])

    def _end_job(self, job_id: str, worker: str, *, status: str, result: Any = None,
                 error: str | None = None, next_attempt_at: datetime | None = None) -> bool:
        j = t.jobs
        values: dict[str, Any] = {
            "status": status, "attempts": j.c.attempts + 1, "claimed_by": None,
            "claimed_until": None, "updated_at": _now(),
            "last_error": _cap(error, _ERROR_BYTES)}
        if status == "done":
            values["result"] = result
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        with self._write() as conn:
            changed = conn.execute(sql_update(j).where(
                j.c.id == job_id, j.c.status == "running", j.c.claimed_by == worker)
                .values(**values)).rowcount
        return changed == 1

    def _attempts(self, conn: Connection,
                  outbox_ids: builtins.list[str]) -> dict[str, builtins.list[DeliveryAttempt]]:
        if not outbox_ids:
            return {}
        a = t.delivery_attempts
        found: dict[str, builtins.list[DeliveryAttempt]] = {}
        for row in conn.execute(select(a).where(a.c.outbox_id.in_(outbox_ids))
                                .order_by(a.c.id)):
            found.setdefault(row.outbox_id, []).append(DeliveryAttempt(
                id=int(row.id), outbox_id=row.outbox_id, at=_iso(row.at),
                status_code=row.status_code, success=bool(row.success),
                latency_ms=row.latency_ms, error=row.error,
                response_excerpt=row.response_excerpt, worker=row.worker,
                request_headers=row.request_headers, response_headers=row.response_headers))
        return found

    def _dedup(self, conn: Connection, environment: str, dedup: Dedup | None,
               now: datetime) -> None:
        if dedup is None:
            return
        if not self._mark(conn, environment, dedup.webhook_id, dedup.provider_delivery_id,
                          window_seconds=dedup.window_seconds, now=now):
            raise DuplicateDelivery(f"delivery '{dedup.provider_delivery_id}' to inbound "
                                    f"webhook {dedup.webhook_id} was already received")

    def _mark(self, conn: Connection, environment: str, webhook_id: str,
              provider_delivery_id: str, *, window_seconds: float, now: datetime) -> bool:
        if window_seconds <= 0:
            raise StateError("window_seconds must be positive")
        s = t.seen_deliveries
        statement = self._upsert(s).values(
            environment=environment, webhook_id=webhook_id,
            provider_delivery_id=_provider_key(provider_delivery_id), seen_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=["environment", "webhook_id", "provider_delivery_id"],
            set_={"seen_at": statement.excluded.seen_at},
            where=s.c.seen_at <= now - timedelta(seconds=window_seconds))
        # a row comes back when inserted or renewed, none when seen within the window
        return conn.execute(statement.returning(s.c.seen_at)).first() is not None

    def _field_equals(self, name: str, value: Scalar) -> ColumnElement[bool]:
        """``data[name]`` equals ``value``, JSON type included, in this dialect's SQL."""
        if not name or any(ch in name for ch in '"\\') or any(ord(ch) < 32 for ch in name) \
                or _unqueryable(name):
            raise InvalidQuery(f"cannot filter by field {name!r}")
        if isinstance(value, str) and _unqueryable(value):
            raise InvalidQuery(f"cannot filter field '{name}' by a value holding U+0000 or a "
                               "lone surrogate")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidQuery(f"cannot filter field '{name}' by {value}")
        if value is not None and not isinstance(value, str | int | float):
            raise InvalidQuery(f"field '{name}' can only be compared with a string, number, "
                               "boolean or null")
        data = t.records.c.data
        if self._postgres:
            element = data[name]
            kind = func.json_typeof(element)
            text = data[name].as_string()
            if value is None:
                return or_(element.is_(None), kind == "null")
            if isinstance(value, bool):
                return and_(kind == "boolean", text == ("true" if value else "false"))
            if isinstance(value, str):
                return and_(kind == "string", text == value)
            # CASE keeps the cast away from values that are not numbers
            return case((kind == "number", sql_cast(text, Numeric) == value), else_=false())
        path = '$."' + name + '"'
        kind = func.json_type(data, path)
        extracted = func.json_extract(data, path)
        if value is None:
            return or_(kind.is_(None), kind == "null")
        if isinstance(value, bool):
            return kind == ("true" if value else "false")
        if isinstance(value, str):
            return and_(kind == "text", extracted == value)
        return and_(kind.in_(("integer", "real")), extracted == value)


# -- module helpers ------------------------------------------------------------------------


def _written(result: WriteResult) -> tuple[Record, Record | None]:
    """(record, previous) of a successful create or upsert."""
    if isinstance(result, Record):
        return result, None
    assert isinstance(result, tuple), result
    return result


def _check_origin(origin: str) -> None:
    if origin not in _ORIGINS:
        raise StateError(f"unknown record origin '{origin}' (one of "
                         f"{', '.join(sorted(_ORIGINS))})")


def _check_names(collection: str, external_id: str | None) -> None:
    if not collection or len(collection) > _MAX_COLLECTION:
        raise StateError(f"invalid collection name '{_clip(collection, 120)}'")
    if external_id is not None and not 1 <= len(external_id) <= _MAX_EXTERNAL_ID:
        raise StateError(f"an external id must have 1 to {_MAX_EXTERNAL_ID} characters")


def _json(value: Any) -> Any:
    """``value`` as it will read back from the database (a JSON round trip)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise StateError(f"cannot store {type(value).__name__} as JSON: {exc}") from exc


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StateError(f"expected a JSON object, got {type(value).__name__}")
    return cast(dict[str, Any], _json(value))


def _external(environment: str, collection: str,
              external_id: str) -> tuple[ColumnElement[bool], ...]:
    r = t.records
    return (r.c.environment == environment, r.c.collection == collection,
            r.c.external_id == external_id)


def _not_found(environment: str, collection: str, record_id: str) -> RecordNotFound:
    return RecordNotFound(f"no record '{record_id}' in collection '{collection}' of "
                          f"'{environment}'")


def _utc(value: datetime | None) -> datetime:
    """An aware UTC datetime (naive means UTC); now when None.

    SQLite stores datetimes as UTC text without a zone, so a parameter in another zone would
    compare wrongly: everything is converted here.
    """
    if value is None:
        return _now()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse_db_time(value: Any) -> datetime:
    """A datetime from the database (an aggregate over SQLite returns the stored text)."""
    if isinstance(value, datetime):
        return _aware(value)
    return _aware(datetime.fromisoformat(str(value)))


def _iso_or_none(value: datetime | None) -> str | None:
    return _iso(value) if value is not None else None


def _cap(text: str | None, limit: int) -> str | None:
    """At most ``limit`` UTF-8 bytes (cut on a character boundary, marked with …); NULs,
    which PostgreSQL text cannot hold, become U+FFFD."""
    if text is None:
        return None
    cleaned = text.replace("\x00", "\ufffd")
    raw = cleaned.encode("utf-8")
    if len(raw) <= limit:
        return cleaned
    return raw[: limit - 3].decode("utf-8", "ignore") + "…"


_UNQUERYABLE = re.compile("[\x00\ud800-\udfff]")


def _unqueryable(*texts: str) -> bool:
    """True if a text cannot be a query parameter: PostgreSQL refuses NUL in text, and a lone
    surrogate cannot be encoded. Such an id or key matches nothing that was stored."""
    return any(_UNQUERYABLE.search(text) for text in texts)


def _storable(text: str) -> str:
    """``text`` with what no text column can hold (NUL on PostgreSQL, lone surrogates in
    UTF-8) replaced by U+FFFD: the log keeps a request that came with them in its path."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "surrogatepass").decode(
        "utf-8", "replace")


def _millis(value: float | None) -> int | None:
    return None if value is None else max(0, round(value))


def _provider_key(provider_delivery_id: str) -> str:
    """The id as stored: a long one is replaced by its SHA-256 so it fits the key."""
    if len(provider_delivery_id) <= _MAX_PROVIDER_ID:
        return provider_delivery_id
    return "sha256:" + hashlib.sha256(provider_delivery_id.encode("utf-8")).hexdigest()


def _encode_cursor(created_at: datetime, record_id: str, *, newest_first: bool) -> str:
    stamp = _aware(created_at).astimezone(UTC).isoformat()
    blob = json.dumps([stamp, record_id, "d" if newest_first else "a"],
                      separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(blob).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str, *, newest_first: bool) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, record_id, direction = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = _utc(datetime.fromisoformat(stamp))
        if not isinstance(record_id, str) or direction not in ("a", "d") \
                or _unqueryable(record_id):
            raise ValueError(direction)
    except (ValueError, TypeError, UnicodeError, binascii.Error):
        raise InvalidQuery("invalid cursor: pass the 'next' value of a previous page") from None
    if (direction == "d") != newest_first:
        raise InvalidQuery("the cursor belongs to a listing in the other order")
    return when, record_id


def _record(row: _Row) -> Record:
    return Record(id=row.id, collection=row.collection, external_id=row.external_id,
                  data=dict(row.data), origin=row.origin, version=int(row.version),
                  created_at=_iso(row.created_at), updated_at=_iso(row.updated_at),
                  deleted_at=_iso_or_none(row.deleted_at))


def _outbox_fields(row: _Row) -> dict[str, Any]:
    return {"id": row.id, "environment": row.environment, "trigger_id": row.trigger_id,
            "trigger_name": row.trigger_name, "event": row.event, "payload": dict(row.payload),
            "status": row.status, "attempts": int(row.attempts),
            "max_attempts": int(row.max_attempts), "next_attempt_at": _iso(row.next_attempt_at),
            "claimed_by": row.claimed_by, "claimed_until": _iso_or_none(row.claimed_until),
            "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
            "last_error": row.last_error, "last_status_code": row.last_status_code}


def _outbox_row(row: _Row) -> OutboxRow:
    return OutboxRow(**_outbox_fields(row))


def _delivery(row: _Row, history: Sequence[DeliveryAttempt]) -> Delivery:
    return Delivery(**_outbox_fields(row), history=tuple(history))


def _inbound(row: _Row) -> InboundDelivery:
    return InboundDelivery(
        id=int(row.id), environment=row.environment, webhook_id=row.webhook_id,
        webhook_name=row.webhook_name, received_at=_iso(row.received_at),
        client_ip=row.client_ip, status_code=int(row.status_code), reason=row.reason,
        detail=row.detail, latency_ms=row.latency_ms, record_id=row.record_id,
        provider_delivery_id=row.provider_delivery_id, job_id=row.job_id)


def _job(row: _Row) -> Job:
    return Job(id=row.id, environment=row.environment, webhook_id=row.webhook_id,
               kind=row.kind, payload=dict(row.payload), status=row.status,
               attempts=int(row.attempts), max_attempts=int(row.max_attempts),
               next_attempt_at=_iso(row.next_attempt_at), claimed_by=row.claimed_by,
               claimed_until=_iso_or_none(row.claimed_until), last_error=row.last_error,
               result=row.result, created_at=_iso(row.created_at),
               updated_at=_iso(row.updated_at))


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
    when = _iso(_aware(until)) if until is not None else "?"
    return (f"lease lost: worker '{worker or '?'}' held this delivery until {when} and "
            "recorded no attempt (it stopped or stalled); it may have sent it. The next "
            "attempt is a re-send with the same webhook-id.")
