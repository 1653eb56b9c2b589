"""Record writes and the outbox: every write path (records API, ingest, hydration, invoke)
passes :meth:`WriteEvents.outbox` to the store, so the record and one outbox row per firing
trigger commit in one transaction; :meth:`WriteEvents.written` then wakes the dispatcher,
which never delays the write's response."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from hookplane.runtime.fanout import outbox_for
from hookplane.runtime.registry import Registry
from hookplane.state.runtime import OutboxItem, RecordEvent

OutboxCallback = Callable[[RecordEvent], list[OutboxItem]]


class WriteEvents:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> None:
        """``listener`` runs on the event loop after each committed write."""
        self._listeners.append(listener)

    def outbox(self, environment: str) -> OutboxCallback:
        registry = self._registry

        def callback(event: RecordEvent) -> list[OutboxItem]:
            view = registry.get(environment)
            if view is None:
                return []
            return outbox_for(view, event, now=datetime.now(UTC))

        return callback

    def written(self) -> None:
        for listener in self._listeners:
            listener()
