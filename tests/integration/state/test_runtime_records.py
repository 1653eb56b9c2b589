"""Runtime records: CRUD, soft delete, versions, filters, pagination, upserts, outbox atomicity."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from hookplane.errors import StateError
from hookplane.state import (
    InvalidQuery,
    OutboxItem,
    Record,
    RecordConflict,
    RecordEvent,
    RecordNotFound,
    RuntimeStore,
    Store,
    new_outbox_id,
)

from .conftest import ENV, execute, row_counts, run_together, table_rows


@pytest.fixture
def rt(store: Store) -> RuntimeStore:
    return store.runtime()


class Recorder:
    """An outbox callback that queues one delivery per event and remembers the events."""

    def __init__(self) -> None:
        self.events: list[RecordEvent] = []

    def __call__(self, event: RecordEvent) -> Sequence[OutboxItem]:
        self.events.append(event)
        return [OutboxItem(trigger_id="trg_1", trigger_name="notify", event=event.event,
                           payload={"record": event.record.data, "id": event.record.id})]


def test_create_get_update_delete_move_the_version_and_keep_history_fields(
        rt: RuntimeStore) -> None:
    created = rt.create(ENV, "incidents", {"title": "db down", "priority": 1}, origin="api")

    assert created.id.startswith("rec_") and len(created.id) == 24
    assert (created.version, created.origin, created.deleted_at) == (1, "api", None)
    assert created.created_at.endswith("Z") and created.created_at == created.updated_at
    assert rt.get(ENV, "incidents", created.id) == created
    assert rt.get(ENV, "other", created.id) is None
    assert rt.get("production", "incidents", created.id) is None

    new, previous = rt.update(ENV, "incidents", created.id, {"title": "db up"}, origin="hook")
    assert previous == created
    assert (new.data, new.version, new.origin, new.id) == ({"title": "db up"}, 2, "hook",
                                                           created.id)
    assert rt.get(ENV, "incidents", created.id) == new

    deleted, before = rt.delete(ENV, "incidents", created.id, origin="api")
    assert before == new
    assert deleted.version == 3 and deleted.deleted_at is not None
    assert deleted.data == {"title": "db up"}
    assert rt.get(ENV, "incidents", created.id) is None
    assert rt.get(ENV, "incidents", created.id, include_deleted=True) == deleted

    with pytest.raises(RecordNotFound):
        rt.update(ENV, "incidents", created.id, {"title": "x"}, origin="api")
    with pytest.raises(RecordNotFound):
        rt.delete(ENV, "incidents", created.id, origin="api")
    with pytest.raises(RecordNotFound):
        rt.update(ENV, "incidents", "rec_missing", {}, origin="api")


def test_update_with_a_function_sees_the_locked_current_record(rt: RuntimeStore) -> None:
    record = rt.create(ENV, "incidents", {"count": 0}, origin="api")

    def bump(current: Record) -> dict[str, Any]:
        return {"count": current.data["count"] + 1}

    def worker() -> None:
        for _ in range(10):
            rt.update(ENV, "incidents", record.id, bump, origin="api")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    final = rt.get(ENV, "incidents", record.id)
    assert final is not None
    assert final.data == {"count": 40}  # no lost update
    assert final.version == 41


def test_bad_input_is_refused_before_anything_is_written(rt: RuntimeStore,
                                                         database_url: str) -> None:
    with pytest.raises(StateError, match="unknown record origin 'robot'"):
        rt.create(ENV, "incidents", {}, origin="robot")
    with pytest.raises(StateError, match="expected a JSON object"):
        rt.create(ENV, "incidents", [1, 2], origin="api")  # type: ignore[arg-type]
    with pytest.raises(StateError, match="as JSON"):
        rt.create(ENV, "incidents", {"x": float("nan")}, origin="api")
    with pytest.raises(StateError, match="as JSON"):
        rt.create(ENV, "incidents", {"x": object()}, origin="api")
    with pytest.raises(StateError, match="external id"):
        rt.upsert_external(ENV, "incidents", "x" * 501, {}, origin="api")
    assert row_counts(database_url)["records"] == 0


def test_create_with_a_taken_external_id_is_a_conflict(rt: RuntimeStore) -> None:
    rt.create(ENV, "incidents", {"a": 1}, origin="api", external_id="ext-1")

    with pytest.raises(RecordConflict, match="ext-1"):
        rt.create(ENV, "incidents", {"a": 2}, origin="api", external_id="ext-1")

    # the same external id in another collection or environment is another record
    rt.create(ENV, "tickets", {"a": 3}, origin="api", external_id="ext-1")
    rt.create("production", "incidents", {"a": 4}, origin="api", external_id="ext-1")
    # records without an external id never collide
    rt.create(ENV, "incidents", {"a": 5}, origin="api")
    rt.create(ENV, "incidents", {"a": 6}, origin="api")
    records, _ = rt.list(ENV, "incidents")
    assert sorted(r.data["a"] for r in records) == [1, 5, 6]


def test_upsert_creates_updates_and_revives_a_soft_deleted_record(rt: RuntimeStore) -> None:
    outbox = Recorder()
    created, previous = rt.upsert_external(ENV, "incidents", "PD-1", {"v": 1},
                                           origin="inbound_webhook", outbox=outbox)
    assert previous is None and created.version == 1 and created.external_id == "PD-1"

    updated, previous = rt.upsert_external(ENV, "incidents", "PD-1", {"v": 2},
                                           origin="hydration", outbox=outbox)
    assert previous == created
    assert (updated.id, updated.version, updated.data, updated.origin) == (
        created.id, 2, {"v": 2}, "hydration")

    deleted = rt.delete_external(ENV, "incidents", "PD-1", origin="hydration", outbox=outbox)
    assert deleted is not None and deleted[0].deleted_at is not None and deleted[1] == updated
    assert rt.delete_external(ENV, "incidents", "PD-1", origin="hydration") is None
    assert rt.delete_external(ENV, "incidents", "PD-404", origin="hydration") is None
    assert rt.get_external(ENV, "incidents", "PD-1") is None

    revived, previous = rt.upsert_external(ENV, "incidents", "PD-1", {"v": 3},
                                           origin="inbound_webhook", outbox=outbox)
    assert previous is None  # reported as created
    assert (revived.id, revived.version, revived.deleted_at) == (created.id, 4, None)
    assert rt.get_external(ENV, "incidents", "PD-1") == revived

    assert [(e.event, e.previous is None) for e in outbox.events] == [
        ("create", True), ("update", False), ("delete", False), ("create", True)]
    assert outbox.events[2].record.deleted_at is not None


def test_upsert_with_a_function_merges_under_the_lock(rt: RuntimeStore) -> None:
    seen: list[Record | None] = []

    def merge(current: Record | None) -> dict[str, Any]:
        seen.append(current)
        local = current.data if current is not None else {}
        return {**local, "title": "from upstream"}

    rt.upsert_external(ENV, "incidents", "X", merge, origin="hydration")
    record = rt.get_external(ENV, "incidents", "X")
    assert record is not None
    rt.update(ENV, "incidents", record.id, {**record.data, "note": "local"}, origin="api")
    merged, _ = rt.upsert_external(ENV, "incidents", "X", merge, origin="hydration")

    assert merged.data == {"title": "from upstream", "note": "local"}
    assert seen[0] is None and seen[1] is not None and seen[1].data["note"] == "local"


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_upserts_of_one_external_id_make_exactly_one_record(
        rt: RuntimeStore, database_url: str, round_: int) -> None:
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    results: list[tuple[Record, Record | None]] = []
    errors: list[BaseException] = []
    outbox = Recorder()

    def worker(n: int) -> None:
        try:
            barrier.wait()
            results.append(rt.upsert_external(ENV, "incidents", f"ext-{round_}", {"n": n},
                                               origin="inbound_webhook", outbox=outbox))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    rows = [r for r in table_rows(database_url)["records"]
            if r["external_id"] == f"ext-{round_}"]
    assert len(rows) == 1
    assert len({record.id for record, _ in results}) == 1
    assert sum(previous is None for _, previous in results) == 1
    assert sorted(record.version for record, _ in results) == list(range(1, threads_count + 1))
    assert rows[0]["version"] == threads_count
    assert sorted(e.event for e in outbox.events) == ["create"] + ["update"] * 7
    assert len(table_rows(database_url)["outbox"]) == threads_count


_UPSERTER = """
import json, sys
from pathlib import Path
from hookplane.state import Store

url, root, name = sys.argv[1:4]
with Store.open(url, root=Path(root)) as store:
    rt = store.runtime()
    print("ready", flush=True)
    sys.stdin.readline()
    created = 0
    for i in range(40):
        _record, previous = rt.upsert_external("preview", "incidents", f"ext-{i}",
                                               {"by": name}, origin="api")
        created += previous is None
    print(json.dumps({"created": created}), flush=True)
"""


def test_upserts_from_several_processes_never_duplicate_a_record(database_url: str,
                                                                  root: Path) -> None:
    Store.open(database_url, root=root).close()

    results = run_together(_UPSERTER, *([database_url, str(root), f"p{n}"] for n in range(3)))

    assert sum(r["created"] for r in results) == 40
    rows = table_rows(database_url)["records"]
    assert len(rows) == 40
    assert sorted(r["version"] for r in rows) == [3] * 40


def test_the_outbox_rows_commit_with_the_record(rt: RuntimeStore, database_url: str) -> None:
    outbox = Recorder()
    record = rt.create(ENV, "incidents", {"t": 1}, origin="api", outbox=outbox)

    (row,) = table_rows(database_url)["outbox"]
    assert row["id"].startswith("msg_")
    assert (row["environment"], row["trigger_id"], row["trigger_name"], row["event"],
            row["status"], row["attempts"]) == (ENV, "trg_1", "notify", "create", "pending", 0)
    assert row["payload"] == {"record": {"t": 1}, "id": record.id}
    (event,) = outbox.events
    assert (event.environment, event.collection, event.event, event.record, event.previous,
            event.origin) == (ENV, "incidents", "create", record, None, "api")


def _exploding(event: RecordEvent) -> Sequence[OutboxItem]:
    raise RuntimeError("trigger filter crashed")


def test_a_failing_outbox_callback_rolls_back_every_kind_of_write(rt: RuntimeStore,
                                                                  database_url: str) -> None:
    record = rt.create(ENV, "incidents", {"t": 1}, origin="api", external_id="E")
    before = table_rows(database_url)

    writes: list[Callable[[], object]] = [
        lambda: rt.create(ENV, "incidents", {"t": 2}, origin="api", outbox=_exploding),
        lambda: rt.update(ENV, "incidents", record.id, {"t": 3}, origin="api",
                          outbox=_exploding),
        lambda: rt.delete(ENV, "incidents", record.id, origin="api", outbox=_exploding),
        lambda: rt.upsert_external(ENV, "incidents", "E", {"t": 4}, origin="api",
                                   outbox=_exploding),
        lambda: rt.upsert_external(ENV, "incidents", "NEW", {"t": 5}, origin="api",
                                   outbox=_exploding),
        lambda: rt.delete_external(ENV, "incidents", "E", origin="api", outbox=_exploding),
    ]
    for write in writes:
        with pytest.raises(RuntimeError, match="trigger filter crashed"):
            write()

    assert table_rows(database_url) == before
    assert rt.get(ENV, "incidents", record.id) == record


def test_an_outbox_row_that_cannot_be_inserted_rolls_back_the_record(
        rt: RuntimeStore, database_url: str) -> None:
    taken = new_outbox_id()
    rt.enqueue_outbox(ENV, [OutboxItem("trg_1", "notify", "config.applied", {}, id=taken)])

    def duplicate(event: RecordEvent) -> Sequence[OutboxItem]:
        return [OutboxItem("trg_1", "notify", "create", {}, id=taken)]

    with pytest.raises(StateError):
        rt.create(ENV, "incidents", {"t": 1}, origin="api", outbox=duplicate)

    assert row_counts(database_url)["records"] == 0
    assert row_counts(database_url)["outbox"] == 1


def test_list_filters_by_json_type_and_value(rt: RuntimeStore) -> None:
    rows: list[dict[str, Any]] = [
        {"name": "a", "priority": 1, "open": True, "team": "db"},
        {"name": "b", "priority": 1.0, "open": False, "team": None},
        {"name": "c", "priority": "1", "open": "true"},
        {"name": "d", "priority": 2, "open": True, "team": "web"},
        {"name": "e", "priority": "high", "open": 1, "team": "db"},
        {"name": "f", "priority": [1], "open": {"x": 1}, "team": 'quote"d'},
    ]
    for data in rows:
        rt.create(ENV, "incidents", data, origin="api")
    rt.create(ENV, "other", {"name": "z", "priority": 1}, origin="api")
    gone = rt.create(ENV, "incidents", {"name": "g", "priority": 1}, origin="api")
    rt.delete(ENV, "incidents", gone.id, origin="api")

    def names(**equals: Any) -> list[str]:
        records, cursor = rt.list(ENV, "incidents", equals=equals, newest_first=False)
        assert cursor is None
        return [r.data["name"] for r in records]

    assert names(priority=1) == ["a", "b"]
    assert names(priority=1.0) == ["a", "b"]
    assert names(priority="1") == ["c"]
    assert names(priority="high") == ["e"]
    assert names(priority=2.5) == []
    assert names(open=True) == ["a", "d"]
    assert names(open=False) == ["b"]
    assert names(open="true") == ["c"]
    assert names(open=1) == ["e"]
    assert names(team=None) == ["b", "c"]
    assert names(team="db", open=True) == ["a"]
    assert names(team='quote"d') == ["f"]
    assert names() == ["a", "b", "c", "d", "e", "f"]
    deleted, _ = rt.list(ENV, "incidents", equals={"name": "g"}, include_deleted=True)
    assert [r.id for r in deleted] == [gone.id]

    for bad in ('a"b', "a\\b", "", "x\n"):
        with pytest.raises(InvalidQuery):
            rt.list(ENV, "incidents", equals={bad: 1})
    with pytest.raises(InvalidQuery):
        rt.list(ENV, "incidents", equals={"priority": float("inf")})
    with pytest.raises(InvalidQuery):
        rt.list(ENV, "incidents", equals={"priority": [1]})  # type: ignore[dict-item]


@pytest.mark.parametrize("newest_first", [True, False])
def test_pagination_is_stable_while_records_are_written(rt: RuntimeStore, database_url: str,
                                                         newest_first: bool) -> None:
    ids = [rt.create(ENV, "incidents", {"n": n, "even": n % 2 == 0}, origin="api").id
           for n in range(23)]
    # several records in the same instant: the id breaks the tie
    execute(database_url, "UPDATE records SET created_at = "
            "(SELECT created_at FROM records WHERE id = :first) WHERE id IN (:a, :b, :c)",
            first=ids[5], a=ids[6], b=ids[7], c=ids[8])

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = rt.list(ENV, "incidents", limit=5, cursor=cursor,
                               newest_first=newest_first)
        seen.extend(r.id for r in page)
        pages += 1
        if pages == 2:  # new records appear meanwhile: at the front, never inside a page
            for n in range(3):
                rt.create(ENV, "incidents", {"n": 100 + n}, origin="api")
        if cursor is None:
            break

    assert len(seen) == len(set(seen))
    if newest_first:
        assert set(seen) == set(ids)
        assert pages == 5
    else:  # the new records come last and are reached by later pages
        assert set(seen) >= set(ids) and len(seen) == 26
        assert pages == 6
    everything, _ = rt.list(ENV, "incidents", limit=1000, newest_first=newest_first)
    expected = [r.id for r in everything if r.id in set(seen)]
    assert seen == expected  # pages concatenate to the one-page order

    evens: list[str] = []
    cursor = None
    while True:
        page, cursor = rt.list(ENV, "incidents", equals={"even": True}, limit=4,
                               cursor=cursor, newest_first=newest_first)
        assert all(r.data["even"] is True for r in page)
        evens.extend(r.id for r in page)
        if cursor is None:
            break
    assert sorted(evens) == sorted(ids[0::2])


def test_a_bad_cursor_or_limit_is_refused(rt: RuntimeStore) -> None:
    for n in range(3):
        rt.create(ENV, "incidents", {"n": n}, origin="api")
    _page, cursor = rt.list(ENV, "incidents", limit=2)
    assert cursor is not None

    with pytest.raises(InvalidQuery, match="other order"):
        rt.list(ENV, "incidents", cursor=cursor, newest_first=False)
    for bad in ("nonsense", "e30", cursor[:-3], "W10"):
        with pytest.raises(InvalidQuery, match="invalid cursor"):
            rt.list(ENV, "incidents", cursor=bad)
    for limit in (0, 1001):
        with pytest.raises(InvalidQuery, match="limit"):
            rt.list(ENV, "incidents", limit=limit)
    rest, last = rt.list(ENV, "incidents", limit=2, cursor=cursor)
    assert len(rest) == 1 and last is None
