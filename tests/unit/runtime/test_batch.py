"""GroupCommitter: concurrent writes share commits; each caller gets its own answer only after
the commit holding its write (real SQLite store)."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from sqlalchemy import event

from hookplane.errors import StateError
from hookplane.runtime.batch import GroupCommit, GroupCommitter
from hookplane.state import Dedup, DuplicateDelivery, Store
from hookplane.state.runtime import (
    AttemptOutcome,
    CreateRecord,
    LogInbound,
    OutboxItem,
    Record,
    UpsertRecord,
)
from hookplane.state.store import DatabaseUnavailable

ENV = "preview"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path) as opened:
        yield opened


def test_concurrent_writes_are_grouped_and_answered_after_their_commit(
        store: Store, tmp_path: Path) -> None:
    runtime = store.runtime()
    committer = GroupCommitter(runtime)
    commits: list[int] = []
    event.listen(store.database.engine, "commit", lambda _conn: commits.append(1))

    async def main() -> list[Record]:
        async def one(i: int) -> Record:
            record = await committer.record(CreateRecord(
                ENV, "incidents", {"n": i}, origin="inbound_webhook"))
            # answered only once committed: another connection already sees it
            with sqlite3.connect(tmp_path / "state.db") as other:
                assert other.execute("SELECT count(*) FROM records WHERE id = ?",
                                     (record.id,)).fetchone() == (1,)
            return record

        return await asyncio.gather(*(one(i) for i in range(200)))

    records = asyncio.run(main())
    assert sorted(r.data["n"] for r in records) == list(range(200))
    assert committer.writes == 200
    assert committer.groups == len(commits) < 200 / 4  # grouped, not one commit each
    listed, _ = runtime.list(ENV, "incidents", limit=500)
    assert len(listed) == 200


def test_a_quiet_server_commits_a_lone_write_at_once(store: Store) -> None:
    committer = GroupCommitter(store.runtime())

    async def main() -> None:
        for i in range(3):
            await committer.record(CreateRecord(ENV, "incidents", {"n": i},
                                                origin="inbound_webhook"))

    asyncio.run(main())
    assert (committer.groups, committer.writes) == (3, 3)


def test_one_failing_write_does_not_fail_its_group(store: Store) -> None:
    runtime = store.runtime()
    committer = GroupCommitter(runtime)
    runtime.create(ENV, "incidents", {"n": 0}, origin="api",
                   dedup=Dedup("iw_1", "first", 3600))

    async def main() -> list[object]:
        return await asyncio.gather(
            committer.write(CreateRecord(ENV, "incidents", {"n": 1}, origin="inbound_webhook")),
            committer.write(CreateRecord(ENV, "incidents", {"n": 2}, origin="inbound_webhook",
                                         dedup=Dedup("iw_1", "first", 3600))),
            committer.write(UpsertRecord(ENV, "incidents", "x-1", {"n": 3},
                                         origin="inbound_webhook")),
            committer.write(LogInbound(ENV, "iw_1", status_code=201, reason="ok")),
            return_exceptions=True)

    created, duplicate, upserted, logged = asyncio.run(main())
    assert isinstance(created, Record)
    assert isinstance(duplicate, DuplicateDelivery)
    assert isinstance(upserted, tuple) and upserted[1] is None
    assert isinstance(logged, int)


def test_a_database_failure_answers_every_waiting_write(store: Store,
                                                         tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    runtime = store.runtime()
    committer = GroupCommitter(runtime)
    working = store.database.engine
    store.database.engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'state.db'}")

    async def main() -> list[object]:
        return await asyncio.gather(
            *(committer.write(CreateRecord(ENV, "incidents", {"n": i},
                                           origin="inbound_webhook")) for i in range(5)),
            return_exceptions=True)

    try:
        answers = asyncio.run(main())
    finally:
        store.database.engine.dispose()
        store.database.engine = working
    assert all(isinstance(a, DatabaseUnavailable) for a in answers), answers

    async def after() -> Record:  # the committer keeps working once the database is back
        return await committer.record(CreateRecord(ENV, "incidents", {"n": 9},
                                                   origin="inbound_webhook"))

    assert asyncio.run(after()).data == {"n": 9}


def test_the_same_engine_groups_the_dispatchers_attempt_records(store: Store) -> None:
    """One group-commit engine: the dispatcher's attempt outcomes go through it as ingest's
    writes do -- shared commits, one answer per attempt (False: the claim was lost), and
    the commit's own failure raised to every attempt of its group."""
    runtime = store.runtime()
    ids = runtime.enqueue_outbox(ENV, [OutboxItem("trg_1", "notify", "incidents.create",
                                                  {"n": n}) for n in range(60)])
    claimed = runtime.claim_outbox(worker="w1", limit=59, lease_seconds=60)
    assert len(claimed) == 59
    recorder: GroupCommit[AttemptOutcome, bool] = GroupCommit(
        functools.partial(runtime.record_attempts, worker="w1"),
        limiter=anyio.CapacityLimiter(1))

    def outcome(outbox_id: str) -> AttemptOutcome:
        return AttemptOutcome(outbox_id, 200, True, 3.0, None, "ok", None)

    async def main() -> list[bool]:
        return await asyncio.gather(*(recorder.submit(outcome(i)) for i in ids))

    held = asyncio.run(main())
    unclaimed = {row.id for row in claimed} ^ set(ids)
    assert held == [i not in unclaimed for i in ids]  # the unclaimed one counts for nothing
    assert recorder.writes == 60 and recorder.groups < 60 / 4  # shared commits
    delivered = [runtime.delivery(i) for i in ids]
    assert sum(d is not None and d.status == "delivered" for d in delivered) == 59

    async def twice() -> list[object]:  # record_attempts refuses a delivery given twice:
        async def submit(outbox_id: str) -> bool:
            return await recorder.submit(outcome(outbox_id))
        return await asyncio.gather(submit(ids[0]), submit(ids[0]), return_exceptions=True)

    answers = asyncio.run(twice())  # both in one group: the group's commit fails for both
    assert len(answers) == 2 and all(
        isinstance(a, StateError) and "more than once" in str(a) for a in answers), answers
