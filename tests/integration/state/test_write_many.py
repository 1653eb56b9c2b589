"""Group commit in the store: ``RuntimeStore.write_many`` runs many writes in one transaction,
each in its own savepoint (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

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
    event.listen(store._engine, "commit", lambda _conn: seen.append(1))
    return seen


def _statements(store: Store) -> list[str]:
    """Every SQL statement the store's engine sends from now on."""
    sent: list[str] = []
    event.listen(store._engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: sent.append(statement))
    event.listen(store._engine, "savepoint", lambda _c, name: sent.append(f"SAVEPOINT {name}"))
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
    working = store._engine
    store._engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'state.db'}")
    try:
        with pytest.raises(DatabaseUnavailable):
            rt.write_many([CreateRecord(ENV, "incidents", {"title": "lost"},
                                        origin="inbound_webhook"),
                           LogInbound(ENV, "iw_1", status_code=201, reason="ok")])
    finally:
        store._engine.dispose()
        store._engine = working
    records, _ = rt.list(ENV, "incidents", limit=10)
    assert [r.data["title"] for r in records] == ["kept"]
