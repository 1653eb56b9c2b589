"""What templates are rendered over, place by place: the roots each may refer to and, for
trigger bodies, the data itself.

Configuration validation refuses a root that is not listed here for the place, and the
runtime builds the data a trigger body is rendered over with :func:`record_event_context`
and :func:`system_event_context`, whose keys are exactly :data:`RECORD_EVENT_ROOTS` and
:data:`SYSTEM_EVENT_ROOTS`, so what validation accepts is what the runtime provides.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = [
    "COMPUTED_ROOTS",
    "PAYLOAD_ROOTS",
    "RECORD_EVENT_ROOTS",
    "SYSTEM_EVENT_ROOTS",
    "record_event_context",
    "system_event_context",
]

RECORD_EVENT_ROOTS: Final = ("record", "previous", "event", "collection", "environment",
                             "trigger", "id", "occurred_at")
"""A trigger body rendered for a record event (``create``, ``update``, ``delete``, a named
event): the record's data, its data before the write (null for a create), the event, the
collection, the environment, the trigger's name, the delivery id and the time."""

SYSTEM_EVENT_ROOTS: Final = (*RECORD_EVENT_ROOTS, "data")
"""A trigger body rendered for a system event (``config.applied`` …): the event's ``data``,
also reachable as ``record`` so a body can serve both; ``previous`` and ``collection`` are
null. A trigger that lists only system events may use these."""

PAYLOAD_ROOTS: Final = ("payload",)
"""An inbound webhook's ``action.create.fields`` and ``action.invoke.input``."""

COMPUTED_ROOTS: Final = ("payload", "record")
"""A mapping's ``computed`` fields: the external payload and the native record so far."""


def record_event_context(*, record: Any, previous: Any, event: str, collection: str | None,
                         environment: str, trigger: str, delivery_id: str,
                         occurred_at: str) -> dict[str, Any]:
    """The data a trigger body is rendered over for a record event."""
    return {"record": record, "previous": previous, "event": event, "collection": collection,
            "environment": environment, "trigger": trigger, "id": delivery_id,
            "occurred_at": occurred_at}


def system_event_context(*, data: Any, event: str, environment: str, trigger: str,
                         delivery_id: str, occurred_at: str) -> dict[str, Any]:
    """The data a trigger body is rendered over for a system event."""
    return {**record_event_context(record=data, previous=None, event=event, collection=None,
                                   environment=environment, trigger=trigger,
                                   delivery_id=delivery_id, occurred_at=occurred_at),
            "data": data}
