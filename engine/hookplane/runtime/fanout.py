"""Which deliveries a record write (or a system event) causes: pure, synchronous fan-out.

:func:`outbox_for` runs *inside* the record write's transaction (it is the store's
``outbox`` callback), so it does no I/O and never raises for a problem of one trigger: a
body template that cannot be rendered or a record the source mapping cannot convert is
logged and that trigger simply gets no delivery — the write itself always commits.

A record event fires every trigger of its collection that is active, lists the event
(``create``, ``update``, ``delete``), whose ``filter`` matches the record (for a delete: the
record as it was deleted), and that does not skip the write's origin: ``hook`` writes skip
triggers with ``skip_hook_writes``; writes caused by an inbound webhook — directly
(``inbound_webhook``, invoke results included) or through its hydration fetch
(``hydration``) — skip triggers with ``skip_inbound_webhook_writes`` (both flags true by
default: this breaks webhook loops, e.g. an upstream change hydrated in and pushed straight
back upstream by an ``external_write`` trigger); ``api`` writes are never skipped.

Event names on the wire (``X-Hookplane-Event``, the envelope's ``event``, the outbox row)
are the trigger vocabulary itself: ``create``, ``update``, ``delete``, ``config.applied``,
``config.promoted``, ``delivery.failed`` — what a trigger lists in ``events`` is what its
receiver sees.

The body is rendered here, once, and stored as text, so every attempt sends the same bytes:

- default, for record events, the envelope
  ``{id, event, collection, environment, occurred_at, record, previous}`` where ``id`` is the
  delivery id (the ``webhook-id``) and ``record``/``previous`` are records as the records API
  shows them (``id``, ``collection``, ``external_id``, ``data``, ``origin``, ``version`` and
  timestamps; ``previous`` is null for a create);
- for system events ``{id, event, environment, occurred_at, data}``;
- a trigger's ``body`` template replaces it, rendered with
  :func:`~hookplane.mapping.render_value` over ``record`` (the data), ``previous`` (the
  previous data, null for a create), ``event``, ``collection``, ``environment``,
  ``trigger``, ``id`` and ``occurred_at``. For a system event ``data`` is the event's data,
  also reachable as ``record`` (``previous`` and ``collection`` are null). Both are built by
  :mod:`hookplane.mapping.contexts`, whose root lists configuration validation checks
  against (``data`` only for a trigger that lists nothing but system events). A template
  that renders to text is sent as ``text/plain``, anything else as JSON;
- an ``external_write`` trigger sends the record mapped through its source's
  ``to_external`` mapping to the source's write endpoint, the path's ``{id}`` being the
  record's external id, URL-encoded (a record without an external id is skipped, logged).

What is *not* stored: the destination URL and headers. They may carry resolved
``${env:…}`` secrets (a Slack incoming-webhook URL is itself a credential, source headers
carry API tokens), and the outbox is plain data, so the dispatcher reads them from the
applied configuration when it sends — together with the signing secrets. The outbox payload
(:data:`PAYLOAD_VERSION` 1)::

    {"v": 1, "body": "<text>", "content_type": "application/json",
     "collection": "incidents" | null, "record_id": "rec_…" | null,
     "retry": null | {"attempts", "backoff", "initial_seconds", "max_seconds", "jitter"},
     "target": null | {"source": "shop", "method": "PUT", "path": "/orders/A%2F1"}}
"""

from __future__ import annotations

import hashlib
import json
import logging
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from hookplane.config.models import SYSTEM_EVENTS, RetryPolicy, Trigger
from hookplane.errors import HookplaneError
from hookplane.mapping import (
    compile_filter,
    record_event_context,
    render_value,
    system_event_context,
)
from hookplane.runtime.network import source_url
from hookplane.runtime.registry import EnvironmentView, TriggerView
from hookplane.state.runtime import OutboxItem, Record, RecordEvent, new_outbox_id

__all__ = [
    "JSON_CONTENT_TYPE",
    "PAYLOAD_VERSION",
    "TEXT_CONTENT_TYPE",
    "dump_json",
    "max_attempts",
    "outbox_for",
    "record_json",
    "system_event_items",
]

log = logging.getLogger("hookplane.runtime.fanout")

PAYLOAD_VERSION: Final = 1
JSON_CONTENT_TYPE: Final = "application/json"
TEXT_CONTENT_TYPE: Final = "text/plain; charset=utf-8"

_SKIPPED_BY: Final = {"hook": "skip_hook_writes",
                      "inbound_webhook": "skip_inbound_webhook_writes",
                      "hydration": "skip_inbound_webhook_writes"}
_RECOVERABLE = (HookplaneError, ValueError, TypeError, RecursionError)

Predicate = Callable[[dict[str, Any]], bool]
_filters: dict[int, tuple[weakref.ref[TriggerView], Predicate | None]] = {}
_FILTER_CACHE_LIMIT: Final = 4096


def dump_json(value: Any) -> str:
    """Compact JSON text as sent (UTF-8, no NaN)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def record_json(record: Record) -> dict[str, Any]:
    """A record as receivers see it: the shape of the records API."""
    return {"id": record.id, "collection": record.collection,
            "external_id": record.external_id, "data": record.data, "origin": record.origin,
            "version": record.version, "created_at": record.created_at,
            "updated_at": record.updated_at, "deleted_at": record.deleted_at}


def max_attempts(spec: Trigger) -> int:
    """Attempts a delivery of this trigger gets: 1 for ``retry: none``."""
    return spec.retry.attempts if isinstance(spec.retry, RetryPolicy) else 1


def _retry(spec: Trigger) -> dict[str, Any] | None:
    policy = spec.retry
    if not isinstance(policy, RetryPolicy):
        return None
    return {"attempts": policy.attempts, "backoff": policy.backoff,
            "initial_seconds": policy.initial_seconds, "max_seconds": policy.max_seconds,
            "jitter": policy.jitter}


def _iso(now: datetime) -> str:
    at = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _predicate(trigger: TriggerView) -> Predicate | None:
    """The trigger's compiled filter, compiled once per trigger view (None: invalid)."""
    key = id(trigger)
    cached = _filters.get(key)
    if cached is not None and cached[0]() is trigger:
        return cached[1]
    predicate: Predicate | None
    try:
        predicate = compile_filter(trigger.spec.filter)
    except HookplaneError as exc:  # validation at plan time reports it first
        log.error("trigger '%s': %s; it fires for no record", trigger.name, exc)
        predicate = None
    if len(_filters) >= _FILTER_CACHE_LIMIT:
        for stale in [k for k, (ref, _) in list(_filters.items()) if ref() is None]:
            _filters.pop(stale, None)
        if len(_filters) >= _FILTER_CACHE_LIMIT:
            _filters.clear()
    _filters[key] = (weakref.ref(trigger), predicate)
    return predicate


def _fired(trigger: TriggerView, event: RecordEvent, named: Sequence[str]) -> list[str]:
    """The events of this write the trigger delivers: the write's own kind and the
    collection's named events it fired, as far as the trigger lists them (none when the
    trigger is inactive, skips the write's origin or its filter does not match)."""
    wanted = [name for name in (event.event, *named) if name in trigger.events]
    if not wanted:
        return []
    spec = trigger.spec
    if not spec.active:
        return []
    skip_flag = _SKIPPED_BY.get(event.origin)
    if skip_flag is not None and getattr(spec, skip_flag):
        return []
    predicate = _predicate(trigger)
    return wanted if predicate is not None and predicate(event.record.data) else []


def named_events(view: EnvironmentView, event: RecordEvent) -> list[str]:
    """The collection's named events this write is (in declaration order)."""
    collection = view.collections.get(event.collection)
    if collection is None:
        return []
    rules = collection.named_events
    if not rules:
        return []
    data = event.record.data
    previous = event.previous.data if event.previous is not None else None
    fired: list[str] = []
    for rule in rules:
        try:
            if rule.fires(event.event, data, previous):
                fired.append(rule.name)
        except _RECOVERABLE as exc:  # a rule that cannot be evaluated fires nothing
            log.warning("collection '%s' in '%s': event '%s' not evaluated for record %s: "
                        "%s", event.collection, view.name, rule.name, event.record.id, exc)
    return fired


def outbox_for(view: EnvironmentView, event: RecordEvent, *, now: datetime
               ) -> list[OutboxItem]:
    """One delivery per trigger that fires for ``event`` (see the module docs).

    Never raises for one trigger's problem: that trigger gets no delivery and the reason
    is logged (``hookplane.runtime.fanout``).
    """
    items: list[OutboxItem] = []
    triggers = view.triggers_for(event.collection)
    if not triggers:
        return items
    named = named_events(view, event)
    for trigger in triggers:
        for name in _fired(trigger, event, named):
            try:
                item = _record_item(view, trigger, event, now, name)
            except _RECOVERABLE as exc:
                log.warning("trigger '%s' in '%s': no delivery for %s of record %s: %s",
                            trigger.name, view.name, name, event.record.id, exc)
                continue
            if item is not None:
                items.append(item)
    return items


def _record_item(view: EnvironmentView, trigger: TriggerView, event: RecordEvent,
                 now: datetime, name: str) -> OutboxItem | None:
    """The delivery of ``event`` to ``trigger`` as event ``name`` (the write's kind or a
    named event of the collection)."""
    spec = trigger.spec
    delivery_id = new_outbox_id()
    record = event.record
    target: dict[str, Any] | None = None
    if spec.external_write is not None:
        source = view.sources.get(spec.external_write.source)
        if source is None or source.spec.write is None:
            log.warning("trigger '%s' in '%s': source '%s' has no write endpoint; no "
                        "delivery for record %s", trigger.name, view.name,
                        spec.external_write.source, record.id)
            return None
        if not record.external_id:
            log.info("trigger '%s' in '%s': record %s has no external id, so it cannot be "
                     "written to source '%s'; skipped", trigger.name, view.name, record.id,
                     source.name)
            return None
        write = source.spec.write
        body = dump_json(source.mapping.to_external(record.data))
        content_type = JSON_CONTENT_TYPE
        # the path with the id URL-encoded; the base URL is joined at send time
        target = {"source": source.name, "method": write.method,
                  "path": source_url("", write.path, record.external_id)}
    else:
        occurred_at = _iso(now)
        if spec.body is None:
            rendered: Any = {
                "id": delivery_id, "event": name, "collection": event.collection,
                "environment": event.environment, "occurred_at": occurred_at,
                "record": record_json(record),
                "previous": record_json(event.previous) if event.previous else None}
        else:
            context = record_event_context(
                record=record.data, previous=event.previous.data if event.previous else None,
                event=name, collection=event.collection, environment=event.environment,
                trigger=trigger.name, delivery_id=delivery_id, occurred_at=occurred_at)
            rendered = render_value(spec.body, context)
        body, content_type = _body(rendered)
    return OutboxItem(
        trigger_id=trigger.id, trigger_name=trigger.name, event=name,
        payload={"v": PAYLOAD_VERSION, "body": body, "content_type": content_type,
                 "collection": event.collection, "record_id": record.id,
                 "retry": _retry(spec), "target": target},
        max_attempts=max_attempts(spec), id=delivery_id,
        # ordered: one record's deliveries go out one after the other, by record version
        order_key=f"{trigger.id}/{record.id}" if spec.ordered else None,
        order_seq=record.version if spec.ordered else None)


def _body(rendered: Any) -> tuple[str, str]:
    if isinstance(rendered, str):
        return rendered, TEXT_CONTENT_TYPE
    return dump_json(rendered), JSON_CONTENT_TYPE


def system_event_items(view: EnvironmentView, name: str, data: dict[str, Any], *,
                       now: datetime, key: str | None = None) -> list[OutboxItem]:
    """Deliveries of system event ``name`` (``config.applied``, ``config.promoted``,
    ``delivery.failed``) with ``data``, one per active trigger subscribed to it.

    ``external_write`` triggers are skipped (they write records, not events); a body
    template is rendered over ``event``, ``environment``, ``trigger``, ``id``,
    ``occurred_at`` and ``data`` (also as ``record``). Queue the items with
    ``RuntimeStore.enqueue_outbox`` (or ``record_attempt(on_failed=…)`` for
    ``delivery.failed``).

    With ``key`` (e.g. the audit entry that caused the event) each delivery's id is derived
    from it and the trigger, so replicas that all notice the same apply queue it only once.
    """
    if name not in SYSTEM_EVENTS:
        raise ValueError(f"unknown system event '{name}' (one of {', '.join(SYSTEM_EVENTS)})")
    items: list[OutboxItem] = []
    occurred_at = _iso(now)
    for trigger in view.triggers.values():
        if name not in trigger.events:  # checked unpacked: most triggers want record events
            continue
        spec = trigger.spec
        if not spec.active or spec.external_write is not None:
            continue
        derived = hashlib.sha256(f"{key}/{trigger.id}".encode()).hexdigest()[:27]
        delivery_id = new_outbox_id() if key is None else f"msg_{derived}"
        try:
            if spec.body is None:
                rendered: Any = {"id": delivery_id, "event": name,
                                 "environment": view.name, "occurred_at": occurred_at,
                                 "data": data}
            else:
                rendered = render_value(spec.body, system_event_context(
                    data=data, event=name, environment=view.name, trigger=trigger.name,
                    delivery_id=delivery_id, occurred_at=occurred_at))
            body, content_type = _body(rendered)
        except _RECOVERABLE as exc:
            log.warning("trigger '%s' in '%s': no delivery for %s: %s", trigger.name,
                        view.name, name, exc)
            continue
        items.append(OutboxItem(
            trigger_id=trigger.id, trigger_name=trigger.name, event=name,
            payload={"v": PAYLOAD_VERSION, "body": body, "content_type": content_type,
                     "collection": None, "record_id": None, "retry": _retry(spec),
                     "target": None},
            max_attempts=max_attempts(spec), id=delivery_id))
    return items
