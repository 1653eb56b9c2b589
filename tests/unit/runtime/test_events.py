"""WriteEvents: the dispatcher is woken after a write only when the write queued a delivery."""

from __future__ import annotations

from pathlib import Path

from hookplane.runtime.events import WriteEvents
from hookplane.runtime.logs import new_request_id
from hookplane.runtime.registry import Registry
from hookplane.state import Store
from hookplane.state.runtime import Record, RecordEvent


def _event(collection: str) -> RecordEvent:
    record = Record(id="rec_1", collection=collection, external_id=None, data={"n": 1},
                    origin="api", version=1, created_at="2026-01-01T00:00:00Z",
                    updated_at="2026-01-01T00:00:00Z", deleted_at=None)
    return RecordEvent("preview", collection, "create", record, None, "api")


def test_a_write_that_queues_nothing_does_not_wake_the_dispatcher(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path) as store:
        registry = Registry(store)
        registry.refresh()
        events = WriteEvents(registry)
        woken: list[int] = []
        events.subscribe(lambda: woken.append(1))
        fanout = events.outbox("preview")
        assert fanout(_event("incidents")) == []  # nothing applied: no trigger fires
        events.written(fanout)
        assert woken == []
        fanout.queued = True  # what a firing trigger sets (tests/integration: real triggers)
        events.written(fanout)
        events.written()  # callers without a fanout always wake it
        assert woken == [1, 1]


def test_request_ids_are_unique_and_cheap() -> None:
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(i.startswith("req_") and len(i) == 20 for i in ids)
