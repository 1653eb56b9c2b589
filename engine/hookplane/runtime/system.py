"""System events: ``config.applied`` and ``config.promoted`` from the audit log.

``apply`` and ``promote`` run in the CLI (they may not import the runtime), so the runtime
watches each environment's audit log and queues the events for subscribed triggers. The
delivery id is derived from the audit entry and the trigger, so several replicas noticing
the same apply queue it once; entries older than ``window_seconds`` are not replayed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from hookplane.errors import StateError
from hookplane.runtime.fanout import system_event_items
from hookplane.runtime.registry import Registry
from hookplane.state.outbox import Outbox
from hookplane.state.store import Store

log = logging.getLogger("hookplane.runtime.system")

EVENTS = {"apply": "config.applied", "promote": "config.promoted"}


class SystemEvents:
    def __init__(self, store: Store, runtime: Outbox, registry: Registry, *,
                 window_seconds: float = 3600.0) -> None:
        self._store = store
        self._runtime = runtime
        self._registry = registry
        self._window = window_seconds
        self._seen: dict[str, int] = {}

    def poll(self) -> int:
        """Queue events for audit entries not seen yet; returns how many were queued."""
        queued = 0
        now = datetime.now(UTC)
        for environment in self._registry.environments():
            view = self._registry.get(environment)
            if view is None:
                continue
            for entry in reversed(self._store.history(environment, limit=20)):
                if entry.id <= self._seen.get(environment, 0):
                    continue
                self._seen[environment] = entry.id
                name = EVENTS.get(entry.action)
                if name is None:
                    continue
                at = datetime.fromisoformat(entry.at.replace("Z", "+00:00"))
                if (now - at).total_seconds() > self._window:
                    continue
                data = {"serial": entry.serial, "actor": entry.actor, "at": entry.at,
                        "git_commit": entry.git_commit, "plan_digest": entry.plan_digest,
                        "details": entry.details}
                items = system_event_items(view, name, data, now=now,
                                           key=f"audit:{entry.id}")
                for item in items:
                    try:
                        self._runtime.enqueue_outbox(environment, [item])
                        queued += 1
                    except StateError:  # another replica queued it first
                        log.debug("system event %s already queued", item.id)
        return queued
