"""Record writes and the outbox: every write path (records API, ingest, hydration, invoke)
passes :meth:`WriteEvents.outbox` to the store, so the record and one outbox row per firing
trigger commit in one transaction; :meth:`WriteEvents.written` then wakes the dispatcher,
which never delays the write's response."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime

from hookplane.runtime.fanout import outbox_for
from hookplane.runtime.registry import Registry
from hookplane.runtime.tracing import OFF, Tracing
from hookplane.state.runtime import OutboxItem, RecordEvent


class WriteEvents:
    def __init__(self, registry: Registry, *, tracing: Tracing = OFF) -> None:
        self._registry = registry
        self.tracing = tracing
        """The runtime's tracing: writes open their spans with it, and each delivery a
        write queues remembers the span current when the write began."""
        self._listeners: list[Callable[[Collection[str] | None], None]] = []

    def subscribe(self, listener: Callable[[Collection[str] | None], None]) -> None:
        """``listener`` runs on the event loop after each committed write, given the ids of
        the triggers the write queued deliveries for (None: unknown, maybe any)."""
        self._listeners.append(listener)

    def outbox(self, environment: str) -> Fanout:
        """The outbox callback of one write to ``environment`` (pass it to the store, then
        to :meth:`written`)."""
        return Fanout(self._registry, environment, trace=self.tracing.carrier())

    def written(self, fanout: Fanout | None = None) -> None:
        """After a committed write: wake the listeners (the dispatcher) if the write queued
        a delivery (always when ``fanout`` is not given)."""
        if fanout is not None and not fanout.queued:
            return  # nothing to send: a busy ingest must not keep the dispatcher polling
        triggers = frozenset(fanout.triggers) if fanout is not None else None
        for listener in self._listeners:
            listener(triggers)


class Fanout:
    """Outbox callback that remembers whether it queued anything. ``trace``: the W3C
    headers of the span the write belongs to, stored with each delivery it queues."""

    def __init__(self, registry: Registry, environment: str, *,
                 trace: dict[str, str] | None = None) -> None:
        self._registry = registry
        self._environment = environment
        self._trace = trace
        self.queued = False
        self.triggers: set[str] = set()
        """Ids of the triggers this write queued deliveries for."""

    def __call__(self, event: RecordEvent) -> list[OutboxItem]:
        view = self._registry.get(self._environment)
        if view is None:
            return []
        items = outbox_for(view, event, now=datetime.now(UTC))
        if items:
            self.queued = True
            self.triggers.update(item.trigger_id for item in items)
        if self._trace:
            items = [replace(item, payload={**item.payload, "trace": self._trace})
                     for item in items]
        return items
