"""Group commit in the store: ``RuntimeStore.write_many`` runs many writes in one transaction,
each in its own savepoint (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event

from hookplane.state import Dedup, DuplicateDelivery, RuntimeStore, Store
from hookplane.state.runtime import (
    CreateRecord,
    LogInbound,
    OutboxItem,
    Record,
    RecordConflict,
    RecordEvent,
    UpsertRecord,
)
from hookplane.state.store import DatabaseUnavailable

from .conftest import ENV, row_counts


@pytest.fixture
def rt(store: Store) -> RuntimeStore:
    return store.runtime()


def _outbox(event_: RecordEvent) -> list[OutboxItem]:
    return [OutboxItem(trigger_id="trg_1", trigger_name="notify", event=event_.event,
                       payload={"id": event_.record.id}, max_attempts=3)]


def _commits(store: Store) -> list[int]:
    """Counts the COMMITs the store's engine sends (one list item per commit)."""
    seen: list[int] = []
    event.listen(store.database.engine, "commit", lambda _conn: seen.append(1))
    return seen


def _statements(store: Store) -> list[str]:
    """Every SQL statement the store's engine sends from now on."""
    sent: list[str] = []
    event.listen(store.database.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: sent.append(statement))
    event.listen(store.database.engine, "savepoint",
                 lambda _c, name: sent.append(f"SAVEPOINT {name}"))
    return sent


def test_many_writes_share_one_commit_and_each_gets_its_own_result(
        store: Store, rt: RuntimeStore, database_url: str) -> None:
    commits = _commits(store)
    sent = _statements(store)
    dedup = Dedup("iw_1", "delivery-1", 3600)
    results = rt.write_many([
        CreateRecord(ENV, "incidents", {"title": "a"}, origin="inbound_webhook",
                     outbox=_outbox, dedup=dedup),
        UpsertRecord(ENV, "incidents", "ext-1", {"title": "b"}, origin="inbound_webhook",
                     outbox=_outbox),
        UpsertRecord(ENV, "incidents", "ext-1", {"title": "b2"}, origin="inbound_webhook",
                     outbox=_outbox),
        LogInbound(ENV, "iw_1", status_code=201, reason="ok", webhook_name="hook"),
        LogInbound(ENV, "iw_1", status_code=200, reason="ok", webhook_name="hook"),
    ])
    assert len(commits) == 1
    # the fast path: no savepoint when nothing fails
    assert sent and not [q for q in sent if "SAVEPOINT" in q.upper()]
    created, first, second, log_id, second_log = results
    assert isinstance(created, Record) and created.data == {"title": "a"}
    assert isinstance(first, tuple) and first[1] is None
    assert isinstance(second, tuple) and second[1] is not None
    assert second[0].id == first[0].id and second[0].version == 2
    assert isinstance(log_id, int) and isinstance(second_log, int) and 0 < log_id < second_log
    assert [e.status_code for e in rt.inbound_log(ENV, "iw_1")] == [200, 201]
    assert rt.get_external(ENV, "incidents", "ext-1").data == {"title": "b2"}  # type: ignore[union-attr]
    counts = row_counts(database_url)
    assert counts["records"] == 2 and counts["outbox"] == 3
    assert counts["inbound_deliveries"] == 2 and counts["seen_deliveries"] == 1


def test_a_failing_write_is_rolled_back_alone(rt: RuntimeStore, database_url: str) -> None:
    rt.create(ENV, "incidents", {"title": "taken"}, origin="api", external_id="ext-9")
    rt.write_many([CreateRecord(ENV, "incidents", {"title": "x"}, origin="inbound_webhook",
                                dedup=Dedup("iw_1", "seen-before", 3600))])
    before = row_counts(database_url)
    results = rt.write_many([
        CreateRecord(ENV, "incidents", {"title": "ok 1"}, origin="inbound_webhook",
                     outbox=_outbox),
        # the external id is taken: its dedup mark and outbox rows must not survive
        CreateRecord(ENV, "incidents", {"title": "conflict"}, origin="inbound_webhook",
                     external_id="ext-9", outbox=_outbox, dedup=Dedup("iw_1", "new-1", 3600)),
        CreateRecord(ENV, "incidents", {"title": "dup"}, origin="inbound_webhook",
                     outbox=_outbox, dedup=Dedup("iw_1", "seen-before", 3600)),
        CreateRecord(ENV, "incidents", {"title": "ok 2"}, origin="inbound_webhook",
                     outbox=_outbox),
        LogInbound(ENV, "iw_1", status_code=201, reason="ok"),
    ])
    ok1, conflict, duplicate, ok2, logged = results
    assert isinstance(ok1, Record) and isinstance(ok2, Record) and isinstance(logged, int)
    assert isinstance(conflict, RecordConflict)
    assert isinstance(duplicate, DuplicateDelivery)
    after = row_counts(database_url)
    assert after["records"] == before["records"] + 2
    assert after["outbox"] == before["outbox"] + 2
    assert after["seen_deliveries"] == before["seen_deliveries"]  # new-1 was rolled back
    assert after["inbound_deliveries"] == before["inbound_deliveries"] + 1
    # the rolled-back delivery id can be written later (the sender's retry is not a duplicate)
    retry = rt.write_many([CreateRecord(ENV, "incidents", {"title": "retry"},
                                        origin="inbound_webhook",
                                        dedup=Dedup("iw_1", "new-1", 3600))])
    assert isinstance(retry[0], Record)


def test_a_value_the_database_refuses_fails_only_its_write(rt: RuntimeStore) -> None:
    results = rt.write_many([
        CreateRecord(ENV, "incidents", {"title": "fine"}, origin="inbound_webhook"),
        CreateRecord(ENV, "incidents", {"title": "bad origin"}, origin="nobody"),
        LogInbound(ENV, "iw_1", status_code=201, reason="ok"),
    ])
    assert isinstance(results[0], Record) and isinstance(results[2], int)
    assert isinstance(results[1], Exception) and "origin" in str(results[1])


def test_a_database_failure_fails_the_whole_group(store: Store, rt: RuntimeStore,
                                                  tmp_path: Path) -> None:
    """When the database cannot be reached nothing is committed and every write of the
    group gets DatabaseUnavailable (its request answers 503; the sender retries)."""
    rt.create(ENV, "incidents", {"title": "kept"}, origin="api")
    working = store.database.engine
    store.database.engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'state.db'}")
    try:
        with pytest.raises(DatabaseUnavailable):
            rt.write_many([CreateRecord(ENV, "incidents", {"title": "lost"},
                                        origin="inbound_webhook"),
                           LogInbound(ENV, "iw_1", status_code=201, reason="ok")])
    finally:
        store.database.engine.dispose()
        store.database.engine = working
    records, _ = rt.list(ENV, "incidents", limit=10)
    assert [r.data["title"] for r in records] == ["kept"]


def _log_of(status: int) -> Any:
    def make(record: Record, previous: Record | None) -> LogInbound:
        return LogInbound(ENV, "iw_1", status_code=status if previous is None else 200,
                          reason="ok", record_id=record.id)
    return make


def test_a_group_of_upserts_is_written_with_a_few_statements(
        store: Store, rt: RuntimeStore, database_url: str) -> None:
    """The fast path reads the group's records with one SELECT and writes them with one
    INSERT and one UPDATE, whatever the group's size; each write still gets its own result,
    in order, as ``upsert_external`` would give it."""
    rt.upsert_external(ENV, "incidents", "old", {"n": 0}, origin="api")
    gone, _ = rt.upsert_external(ENV, "incidents", "gone", {"n": 0}, origin="api")
    rt.delete(ENV, "incidents", gone.id, origin="api")
    events: list[tuple[str, str, int]] = []

    def outbox(event_: RecordEvent) -> list[OutboxItem]:
        events.append((event_.event, event_.record.external_id or "", event_.record.version))
        return _outbox(event_)

    sent = _statements(store)
    operations: list[Any] = [
        UpsertRecord(ENV, "incidents", f"new-{n}", {"n": n}, origin="inbound_webhook",
                     outbox=outbox) for n in range(20)]
    operations += [
        UpsertRecord(ENV, "incidents", "old", {"n": 1}, origin="inbound_webhook",
                     outbox=outbox),
        UpsertRecord(ENV, "incidents", "gone", {"n": 1}, origin="inbound_webhook",
                     outbox=outbox),
        # the same new id twice: the second updates what the first created
        UpsertRecord(ENV, "incidents", "twice", {"n": 1}, origin="inbound_webhook",
                     outbox=outbox),
        UpsertRecord(ENV, "incidents", "twice", {"n": 2}, origin="hook", outbox=outbox),
        UpsertRecord(ENV, "incidents", "old", {"n": 2}, origin="inbound_webhook"),
    ]
    results = rt.write_many(operations)
    record_statements = [q for q in sent if "records" in q.lower()]
    assert len(record_statements) == 3, record_statements  # SELECT, INSERT, UPDATE
    assert not [q for q in sent if "SAVEPOINT" in q.upper()]
    pairs = [r for r in results if isinstance(r, tuple)]
    assert len(pairs) == len(operations)
    for n in range(20):
        record, previous = pairs[n]
        assert previous is None and record.version == 1 and record.data == {"n": n}
    old, revived, twice_1, twice_2, old_again = pairs[20:]
    assert old[1] is not None and old[1].data == {"n": 0} and old[0].version == 2
    assert revived[1] is None and revived[0].id == gone.id and revived[0].version == 3
    assert twice_1[1] is None and twice_2[1] == twice_1[0]
    assert twice_2[0].id == twice_1[0].id and twice_2[0].version == 2
    assert old_again[1] == old[0] and old_again[0].version == 3
    assert events[20:] == [("update", "old", 2), ("create", "gone", 3), ("create", "twice", 1),
                           ("update", "twice", 2)]
    # what was stored is what was answered
    for record, _ in (old_again, revived, twice_2, pairs[7]):
        assert record.external_id is not None
        stored = rt.get_external(ENV, "incidents", record.external_id)
        assert stored == record
    counts = row_counts(database_url)
    assert counts["records"] == 2 + 20 + 1 and counts["outbox"] == 24


def test_a_write_can_bring_its_log_entry_into_its_transaction(
        store: Store, rt: RuntimeStore) -> None:
    """``log=`` appends the request's inbound log entry with the write (one commit for
    both), from the write's result, and only when the write succeeds."""
    rt.create(ENV, "incidents", {"title": "taken"}, origin="api", external_id="ext-9")
    commits = _commits(store)
    results = rt.write_many([
        UpsertRecord(ENV, "incidents", "ext-1", {"n": 1}, origin="inbound_webhook",
                     log=_log_of(201)),
        UpsertRecord(ENV, "incidents", "ext-9", {"n": 1}, origin="inbound_webhook",
                     log=_log_of(201)),
        CreateRecord(ENV, "incidents", {"n": 2}, origin="inbound_webhook", log=_log_of(201)),
        LogInbound(ENV, "iw_1", status_code=401, reason="bad_signature"),
    ])
    assert len(commits) == 1
    first, updated, created, rejected = results
    assert isinstance(first, tuple) and isinstance(updated, tuple)
    assert isinstance(created, Record) and isinstance(rejected, int)
    entries = {(e.status_code, e.record_id) for e in rt.inbound_log(ENV, "iw_1")}
    assert entries == {(201, first[0].id), (200, updated[0].id), (201, created.id),
                       (401, None)}
    # a write that fails (here in the savepoint path) leaves no entry of its own
    failed = rt.write_many([
        CreateRecord(ENV, "incidents", {"n": 3}, origin="inbound_webhook",
                     external_id="ext-9", log=_log_of(201)),
        CreateRecord(ENV, "incidents", {"n": 4}, origin="inbound_webhook", log=_log_of(201)),
    ])
    assert isinstance(failed[0], RecordConflict) and isinstance(failed[1], Record)
    assert len(rt.inbound_log(ENV, "iw_1")) == 5
    assert failed[1].id in {e.record_id for e in rt.inbound_log(ENV, "iw_1")}


def test_an_id_inserted_concurrently_is_updated_not_duplicated(
        store: Store, rt: RuntimeStore, database_url: str) -> None:
    """PostgreSQL: another transaction inserts the same new external id after the group's
    SELECT saw nothing. The bulk INSERT waits for it, fails on the unique key, and the group
    is retried one write at a time, which updates the row the other transaction made."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: no concurrent insert can happen")
    import threading

    from sqlalchemy import insert

    from hookplane.state import tables as t
    from hookplane.state._common import utc_now as _now

    other = create_engine(database_url)
    results: list[Any] = []
    try:
        with other.connect() as conn:
            transaction = conn.begin()
            now = _now()
            conn.execute(insert(t.records).values(
                id="rec_other", environment=ENV, collection="incidents", external_id="race",
                data={"by": "other"}, origin="api", version=1, created_at=now,
                updated_at=now, deleted_at=None))
            writer = threading.Thread(target=lambda: results.extend(rt.write_many([
                UpsertRecord(ENV, "incidents", "race", {"by": "group"},
                             origin="inbound_webhook"),
                UpsertRecord(ENV, "incidents", "calm", {"by": "group"},
                             origin="inbound_webhook")])))
            writer.start()
            writer.join(1.0)
            assert writer.is_alive()  # the group's INSERT waits on the other's row
            transaction.commit()
            writer.join(30)
    finally:
        other.dispose()
    raced, calm = results
    assert isinstance(raced, tuple) and isinstance(calm, tuple)
    assert raced[0].id == "rec_other" and raced[0].version == 2
    assert raced[1] is not None and raced[1].data == {"by": "other"}
    assert calm[1] is None
    stored = rt.get_external(ENV, "incidents", "race")
    assert stored is not None and stored.data == {"by": "group"}
    assert row_counts(database_url)["records"] == 2


def test_a_lone_upsert_and_a_grouped_one_follow_the_same_rules(rt: RuntimeStore) -> None:
    """Versioning, revival and events are written once (a lone upsert is a group of one):
    the same writes give the same versions, events and previous records either way, a
    group holding the same external id twice included."""
    seen: dict[str, list[tuple[str, int, int | None, Any]]] = {"alone": [], "grouped": []}

    def outbox(mode: str) -> Any:
        def callback(event_: RecordEvent) -> list[OutboxItem]:
            previous = event_.previous
            seen[mode].append((event_.event, event_.record.version,
                               previous.version if previous else None, event_.record.data))
            return []
        return callback

    def upsert(mode: str, data: Any) -> UpsertRecord:
        return UpsertRecord(f"env-{mode}", "incidents", "PD-1", data, "inbound_webhook",
                            outbox=outbox(mode))

    rt.upsert_external("env-alone", "incidents", "PD-1", {"n": 1}, origin="inbound_webhook",
                       outbox=outbox("alone"))
    rt.upsert_external("env-alone", "incidents", "PD-1", {"n": 2}, origin="inbound_webhook",
                       outbox=outbox("alone"))
    assert len(rt.write_many([upsert("grouped", {"n": 1}), upsert("grouped", {"n": 2}),
                              LogInbound("env-grouped", "iw_1", 200, "ok")])) == 3
    for mode in seen:
        rt.delete_external(f"env-{mode}", "incidents", "PD-1", origin="api",
                           outbox=outbox(mode))
    rt.upsert_external("env-alone", "incidents", "PD-1",
                       lambda live: {"n": 3, "live": live is not None},
                       origin="inbound_webhook", outbox=outbox("alone"))
    (revived, second) = rt.write_many([
        upsert("grouped", lambda live: {"n": 3, "live": live is not None}),
        LogInbound("env-grouped", "iw_1", 200, "ok")])
    assert isinstance(revived, tuple) and revived[1] is None and revived[0].version == 4
    assert seen["alone"] == seen["grouped"] == [
        ("create", 1, None, {"n": 1}), ("update", 2, 1, {"n": 2}),
        ("delete", 3, 2, {"n": 2}), ("create", 4, None, {"n": 3, "live": False})]
    alone = rt.get_external("env-alone", "incidents", "PD-1")
    grouped = rt.get_external("env-grouped", "incidents", "PD-1")
    assert alone is not None and grouped is not None and isinstance(second, int)
    assert (alone.version, alone.data, alone.deleted_at) == (grouped.version, grouped.data,
                                                             grouped.deleted_at)
