"""Records: the runtime's stored documents, their versions, events and revival.

A record write and the outbox rows it causes commit together: the ``outbox`` callback of a
write is called inside its transaction with the :class:`RecordEvent` and returns the
:class:`~hookplane.state.outbox.OutboxItem` rows to insert. Anything it raises rolls the
write back and propagates unchanged.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal, TypeAlias, get_args

from sqlalchemy import (
    Numeric,
    and_,
    bindparam,
    case,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.elements import ColumnElement

from hookplane.errors import (
    DatabaseUnavailable,
    InvalidQuery,
    RecordConflict,
    RecordNotFound,
    StateError,
)
from hookplane.state import tables as t
from hookplane.state._common import (
    MAX_LIMIT,
    DbRow,
    clip,
    decode_cursor,
    dialect_insert,
    encode_cursor,
    iso,
    iso_or_none,
    json_object,
    new_id,
    unqueryable,
    utc_now,
)
from hookplane.state.database import Repository
from hookplane.state.inbound_log import Dedup, LogInbound, append_log, check_dedup
from hookplane.state.outbox import OutboxItem, insert_outbox

__all__ = [
    "CreateRecord",
    "LogCallback",
    "Origin",
    "OutboxCallback",
    "Record",
    "RecordData",
    "RecordEvent",
    "RecordEventKind",
    "Records",
    "Scalar",
    "UpsertData",
    "UpsertRecord",
    "WriteOperation",
    "WriteResult",
]


Origin = Literal["api", "hook", "inbound_webhook", "hydration"]


RecordEventKind = Literal["create", "update", "delete"]


Scalar: TypeAlias = str | int | float | bool | None


_ORIGINS = frozenset(get_args(Origin))


_MAX_EXTERNAL_ID = 500


_MAX_COLLECTION = 100


_UPSERT_ROUNDS = 5


class _GroupFailed(Exception):
    """An operation of a group failed on the fast path: retry each in a savepoint."""


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


OutboxCallback: TypeAlias = Callable[[RecordEvent], Sequence[OutboxItem]]


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
    data: UpsertData
    """The new data, or a function of the live record (None when creating or reviving)."""
    origin: str
    outbox: OutboxCallback | None = None
    dedup: Dedup | None = None
    log: LogCallback | None = None
    """The inbound log entry of the request that made this write, from the write's result
    (record, previous): appended in the write's own transaction, only if the write
    succeeds (a failed write is logged by its caller, with the failure)."""


WriteOperation: TypeAlias = CreateRecord | UpsertRecord | LogInbound


WriteResult: TypeAlias = Record | tuple[Record, Record | None] | int | StateError


RecordData: TypeAlias = dict[str, Any] | Callable[[Record], dict[str, Any]]


UpsertData: TypeAlias = dict[str, Any] | Callable[[Record | None], dict[str, Any]]


class Records(Repository):
    """Records of every environment and collection: write (alone or grouped), read, list."""

    def create(self, environment: str, collection: str, data: dict[str, Any], *,
               origin: str, external_id: str | None = None,
               outbox: OutboxCallback | None = None, dedup: Dedup | None = None) -> Record:
        """Insert a record (version 1). :class:`RecordConflict` if ``external_id`` is taken
        (also by a soft-deleted record: use :meth:`upsert_external` to revive it)."""
        with self._write() as conn:
            return self._create(conn, CreateRecord(environment, collection, data, origin,
                                                   external_id, outbox, dedup))

    def _create(self, conn: Connection, operation: CreateRecord) -> Record:
        _check_origin(operation.origin)
        _check_names(operation.collection, operation.external_id)
        now = utc_now()
        record = _new_record(operation.collection, operation.external_id,
                             json_object(operation.data), operation.origin, now)
        check_dedup(conn, operation.environment, operation.dedup, now)
        change = _Change(operation.environment, record, None, operation.outbox)
        if not _store_changes(conn, [change], now):
            raise RecordConflict(f"a record with external id '{operation.external_id}' "
                                 f"already exists in collection '{operation.collection}' of "
                                 f"'{operation.environment}'")
        _fire(conn, [change], now)
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
                            append_log(conn, [operation.log(*_written(result))],
                                       ids=False)
                        results.append(result)
                except StateError as exc:
                    results.append(exc)
                except DBAPIError as exc:
                    if isinstance(exc, OperationalError) or exc.connection_invalidated:
                        raise  # the database, not this operation: the whole group fails
                    results.append(self._db.error(exc))
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
                    done = self._upsert_batch(conn, [operation for _, operation in upserts])
                    for (index, _), result in zip(upserts, done, strict=True):
                        results[index] = result
                if logs:
                    ids = append_log(conn, [operation for _, operation in logs])
                    for (index, _), entry_id in zip(logs, ids, strict=True):
                        results[index] = entry_id
                # the log entries of successful writes (their ids are not needed)
                entries = [operation.log(*_written(results[index]))
                           for index, operation in enumerate(operations)
                           if not isinstance(operation, LogInbound) and operation.log]
                if entries:
                    append_log(conn, entries, ids=False)
        except DatabaseUnavailable:
            raise
        except StateError as exc:
            raise _GroupFailed from exc
        return results

    def _upsert_batch(self, conn: Connection, operations: Sequence[UpsertRecord],
                      ) -> builtins.list[tuple[Record, Record | None]]:
        """Every upsert by external id, alone (a batch of one) or grouped: in order (a later
        upsert of the same external id updates what an earlier one wrote). The rows are
        read, locked, with one SELECT per collection; new records are inserted with one
        statement, existing ones updated with another.

        Atomic under concurrency (the unique external id and ``INSERT … ON CONFLICT DO
        NOTHING``): when an insert meets a record a concurrent upsert committed meanwhile, a
        batch of one locks that row and updates it instead; a larger batch fails
        (:class:`StateError`) and :meth:`write_many` runs its operations one by one."""
        now = utc_now()
        for operation in operations:
            _check_origin(operation.origin)
            _check_names(operation.collection, operation.external_id)
            check_dedup(conn, operation.environment, operation.dedup, now)
        for _round in range(_UPSERT_ROUNDS):
            current = _lock_external(conn, operations)
            changes: builtins.list[_Change] = []
            for operation in operations:
                key = (operation.environment, operation.collection, operation.external_id)
                stored = current.get(key)
                data = operation.data
                if stored is None:
                    body = json_object(data(None) if callable(data) else data)
                    record = _new_record(operation.collection, operation.external_id, body,
                                         operation.origin, now)
                    changes.append(_Change(operation.environment, record, None,
                                           operation.outbox))
                else:
                    live = stored if stored.deleted_at is None else None  # else: revived
                    body = json_object(data(live) if callable(data) else data)
                    record = _revised(stored, data=body, origin=operation.origin, now=now)
                    changes.append(_Change(operation.environment, record, live,
                                           operation.outbox, insert=False))
                current[key] = record
            if _store_changes(conn, changes, now):
                _fire(conn, changes, now)
                return [(change.record, change.previous) for change in changes]
            # a concurrent upsert inserted it and committed: lock and update that row
        operation = operations[0]
        raise StateError(f"could not upsert external id '{operation.external_id}' in "
                         f"'{operation.collection}' of '{operation.environment}': it kept "
                         "changing")

    def _perform(self, conn: Connection, operation: WriteOperation) -> WriteResult:
        if isinstance(operation, CreateRecord):
            return self._create(conn, operation)
        if isinstance(operation, UpsertRecord):
            return self._upsert_batch(conn, [operation])[0]
        return append_log(conn, [operation])[0]

    def get(self, environment: str, collection: str, record_id: str, *,
            include_deleted: bool = False) -> Record | None:
        if unqueryable(environment, collection, record_id):
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
        if unqueryable(environment, collection, external_id):
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
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        r = t.records
        conditions: builtins.list[ColumnElement[bool]] = [
            r.c.environment == environment, r.c.collection == collection]
        if not include_deleted:
            conditions.append(r.c.deleted_at.is_(None))
        for name, value in (equals or {}).items():
            conditions.append(self._field_equals(name, value))
        if cursor is not None:
            after_at, after_id = decode_cursor(cursor, newest_first=newest_first)
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
        following = (encode_cursor(page[-1].created_at, page[-1].id, newest_first=newest_first)
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
        if unqueryable(environment, collection, record_id):
            raise _not_found(environment, collection, record_id)
        now = utc_now()
        r = t.records
        with self._write() as conn:
            row = _locked(conn, r.c.environment == environment,
                          r.c.collection == collection, r.c.id == record_id)
            if row is None or row.deleted_at is not None:
                raise _not_found(environment, collection, record_id)
            previous = _record(row)
            body = json_object(data(previous) if callable(data) else data)
            record = _revised(previous, data=body, origin=origin, now=now)
            _write_one(conn, _Change(environment, record, previous, outbox, insert=False), now)
        return record, previous

    def delete(self, environment: str, collection: str, record_id: str, *, origin: str,
               outbox: OutboxCallback | None = None) -> tuple[Record, Record]:
        """Soft-delete a live record (``deleted_at`` set, version +1); (new, previous)."""
        _check_origin(origin)
        if unqueryable(environment, collection, record_id):
            raise _not_found(environment, collection, record_id)
        r = t.records
        now = utc_now()
        with self._write() as conn:
            row = _locked(conn, r.c.environment == environment,
                          r.c.collection == collection, r.c.id == record_id)
            if row is None or row.deleted_at is not None:
                raise _not_found(environment, collection, record_id)
            return _soft_delete(conn, environment, row, origin=origin, outbox=outbox, now=now)

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
            return self._upsert_batch(conn, [UpsertRecord(
                environment, collection, external_id, data, origin, outbox, dedup)])[0]

    def delete_external(self, environment: str, collection: str, external_id: str, *,
                        origin: str, outbox: OutboxCallback | None = None,
                        dedup: Dedup | None = None) -> tuple[Record, Record] | None:
        """Soft-delete the live record with ``external_id``: (new, previous), or None if there
        is none (the ``dedup`` mark is still kept: the delivery was handled)."""
        _check_origin(origin)
        _check_names(collection, external_id)
        now = utc_now()
        with self._write() as conn:
            check_dedup(conn, environment, dedup, now)
            row = _locked(conn, *_external(environment, collection, external_id))
            if row is None or row.deleted_at is not None:
                return None
            return _soft_delete(conn, environment, row, origin=origin, outbox=outbox, now=now)


    def _field_equals(self, name: str, value: Scalar) -> ColumnElement[bool]:
        """``data[name]`` equals ``value``, JSON type included, in this dialect's SQL."""
        if not name or any(ch in name for ch in '"\\') or any(ord(ch) < 32 for ch in name) \
                or unqueryable(name):
            raise InvalidQuery(f"cannot filter by field {name!r}")
        if isinstance(value, str) and unqueryable(value):
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


@dataclass(frozen=True)
class _Change:
    """One record write, decided under the row lock: the record after it, the live record
    before it (None: created or revived) and whether its row is new."""

    environment: str
    record: Record
    previous: Record | None
    outbox: OutboxCallback | None
    insert: bool = True

    @property
    def event(self) -> RecordEventKind:
        if self.record.deleted_at is not None:
            return "delete"
        return "create" if self.previous is None else "update"


def _new_record(collection: str, external_id: str | None, body: dict[str, Any], origin: str,
                now: datetime) -> Record:
    """A record's first version."""
    return Record(id=new_id("rec"), collection=collection, external_id=external_id,
                  data=body, origin=origin, version=1, created_at=iso(now),
                  updated_at=iso(now), deleted_at=None)


def _revised(stored: Record, *, origin: str, now: datetime,
             data: dict[str, Any] | None = None, deleted: bool = False) -> Record:
    """The next version of ``stored``: every write (update, delete, revival) adds one; a
    write that does not delete leaves the record live."""
    return replace(stored, data=stored.data if data is None else data, origin=origin,
                   version=stored.version + 1, updated_at=iso(now),
                   deleted_at=iso(now) if deleted else None)


def _store_changes(conn: Connection, changes: Sequence[_Change], now: datetime) -> bool:
    """Write the rows of ``changes``: new records in one INSERT (a record created and then
    written again in the same batch is inserted at its last version), the others in one
    UPDATE (a lone row: one plain statement). False, with nothing written, when a lone
    insert met a taken external id; several inserts meeting one fail with the database's
    error (the group is then run one write at a time)."""
    r = t.records
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    for change in changes:
        record = change.record
        deleted_at = now if record.deleted_at is not None else None
        if change.insert or record.id in inserts:
            inserts[record.id] = {
                "id": record.id, "environment": change.environment,
                "collection": record.collection, "external_id": record.external_id,
                "data": record.data, "origin": record.origin, "version": record.version,
                "created_at": now, "updated_at": now, "deleted_at": deleted_at}
        else:
            updates[record.id] = {"_id": record.id, "data": record.data,
                                  "origin": record.origin, "version": record.version,
                                  "updated_at": now, "deleted_at": deleted_at}
    rows = builtins.list(inserts.values())
    if len(rows) == 1 and rows[0]["external_id"] is not None:
        statement = (dialect_insert(conn, r)
                     .on_conflict_do_nothing(index_elements=["environment", "collection",
                                                             "external_id"])
                     .returning(r.c.id))
        if conn.execute(statement, rows[0]).first() is None:
            return False
    elif rows:  # a concurrent insert of one of their ids fails the statement (IntegrityError)
        conn.execute(insert(r), rows)
    if len(updates) == 1:
        (values,) = updates.values()
        conn.execute(sql_update(r).where(r.c.id == values.pop("_id")).values(**values))
    elif updates:
        conn.execute(sql_update(r).where(r.c.id == bindparam("_id")).values(
            data=bindparam("data"), origin=bindparam("origin"),
            version=bindparam("version"), updated_at=bindparam("updated_at"),
            deleted_at=bindparam("deleted_at")), builtins.list(updates.values()))
    return True


def _fire(conn: Connection, changes: Sequence[_Change], now: datetime) -> None:
    """The events of ``changes``, in order, to their ``outbox`` callbacks; the deliveries
    they return are queued in the same transaction."""
    queued: dict[str, builtins.list[OutboxItem]] = {}
    for change in changes:
        if change.outbox is not None:
            event = RecordEvent(change.environment, change.record.collection, change.event,
                                change.record, change.previous, change.record.origin)
            queued.setdefault(change.environment, []).extend(change.outbox(event))
    for environment, items in queued.items():
        insert_outbox(conn, environment, items, now)


def _write_one(conn: Connection, change: _Change, now: datetime) -> None:
    """A batch of one that updates an existing row (it cannot meet a taken id)."""
    _store_changes(conn, [change], now)
    _fire(conn, [change], now)


def _soft_delete(conn: Connection, environment: str, row: DbRow, *, origin: str,
                 outbox: OutboxCallback | None, now: datetime) -> tuple[Record, Record]:
    previous = _record(row)
    record = _revised(previous, origin=origin, now=now, deleted=True)
    _write_one(conn, _Change(environment, record, previous, outbox, insert=False), now)
    return record, previous


def _locked(conn: Connection, *conditions: ColumnElement[bool]) -> DbRow | None:
    """The record matching ``conditions``, locked until the transaction ends."""
    return conn.execute(select(t.records).where(*conditions).with_for_update()).first()


def _lock_external(conn: Connection, operations: Sequence[UpsertRecord],
                   ) -> dict[tuple[str, str, str], Record]:
    """The records the upserts name, locked: one SELECT per collection, rows locked in key
    order (two batches locking overlapping rows cannot deadlock)."""
    r = t.records
    wanted: dict[tuple[str, str], set[str]] = {}
    for operation in operations:
        wanted.setdefault((operation.environment, operation.collection), set()).add(
            operation.external_id)
    current: dict[tuple[str, str, str], Record] = {}
    for (environment, collection), external_ids in wanted.items():
        keys = sorted(external_ids)
        query = select(r).where(r.c.environment == environment, r.c.collection == collection,
                                r.c.external_id == keys[0] if len(keys) == 1
                                else r.c.external_id.in_(keys)).order_by(r.c.external_id)
        for row in conn.execute(query.with_for_update()):
            current[(environment, collection, row.external_id)] = _record(row)
    return current


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
        raise StateError(f"invalid collection name '{clip(collection, 120)}'")
    if external_id is not None and not 1 <= len(external_id) <= _MAX_EXTERNAL_ID:
        raise StateError(f"an external id must have 1 to {_MAX_EXTERNAL_ID} characters")


def _external(environment: str, collection: str,
              external_id: str) -> tuple[ColumnElement[bool], ...]:
    r = t.records
    return (r.c.environment == environment, r.c.collection == collection,
            r.c.external_id == external_id)


def _not_found(environment: str, collection: str, record_id: str) -> RecordNotFound:
    return RecordNotFound(f"no record '{record_id}' in collection '{collection}' of "
                          f"'{environment}'")


def _record(row: DbRow) -> Record:
    return Record(id=row.id, collection=row.collection, external_id=row.external_id,
                  data=dict(row.data), origin=row.origin, version=int(row.version),
                  created_at=iso(row.created_at), updated_at=iso(row.updated_at),
                  deleted_at=iso_or_none(row.deleted_at))
