"""WriteEvents: the dispatcher is woken after a write only when the write queued a delivery."""

from __future__ import annotations

from pathlib import Path

from hookplane.runtime.events import WriteEvents
from hookplane.runtime.logs import new_request_id
from hookplane.runtime.registry import Registry
from hookplane.state import AuditRecord, Create, Store
from hookplane.state.runtime import Record, RecordEvent


def _event(collection: str) -> RecordEvent:
    record = Record(id="rec_1", collection=collection, external_id=None, data={"n": 1},
                    origin="api", version=1, created_at="2026-01-01T00:00:00Z",
                    updated_at="2026-01-01T00:00:00Z", deleted_at=None)
    return RecordEvent("preview", collection, "create", record, None, "api")


def test_the_dispatcher_is_woken_only_by_writes_that_queued_a_delivery_and_told_for_whom(
        tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path) as store:
        snap = store.snapshot("preview")
        store.commit("preview", environment_kind="preview", expected_lineage=snap.lineage,
                     expected_serial=snap.serial, audit=AuditRecord(action="apply", actor="t"),
                     operations=[
                         Create(kind="collections", name=name,
                                spec={"schema": {"type": "object"}})
                         for name in ("incidents", "notes")] + [
                         Create(kind="triggers", name="notify",
                                spec={"collection": "incidents", "events": ["create"],
                                      "url": "https://hooks.example.com/x"},
                                generate=("signing_secret",))])
        registry = Registry(store)
        registry.refresh()
        events = WriteEvents(registry)
        woken: list[frozenset[str] | None] = []
        events.subscribe(lambda triggers: woken.append(
            None if triggers is None else frozenset(triggers)))

        quiet = events.outbox("preview")
        assert quiet(_event("notes")) == []  # no trigger on this collection
        events.written(quiet)
        assert woken == []

        firing = events.outbox("preview")
        assert [item.trigger_name for item in firing(_event("incidents"))] == ["notify"]
        events.written(firing)
        events.written()  # callers without a fanout always wake it, naming no trigger
        notify = registry.get("preview").triggers["notify"].id  # type: ignore[union-attr]
        assert woken == [frozenset({notify}), None]  # the triggers that got rows, by id


def test_request_ids_are_unique_and_cheap() -> None:
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(i.startswith("req_") and len(i) == 20 for i in ids)
