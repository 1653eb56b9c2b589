"""The event catalogue: every event an environment's triggers can send, with a JSON Schema
of the body a receiver gets for it — what Svix calls event types.

Pure (configuration and the template language only). For each collection: its record
events (``create``, ``update``, ``delete``) and its named events; then the system events.
Each event type names the triggers that subscribe to it and the schema of their body:

- the standard envelope ``{id, event, collection, environment, occurred_at, record,
  previous}`` (system events: ``{id, event, environment, occurred_at, data}``), with
  ``record.data`` and ``previous.data`` typed by the collection's schema;
- a trigger's ``body`` template, typed leaf by leaf: a leaf that is exactly one
  placeholder keeps the referenced value's schema (``{{record.severity}}`` is the field's
  schema, so an enum stays an enum), other text is a string, literals are their own
  constant; a template that renders to text is ``text/plain``;
- an ``external_write`` trigger sends the record mapped to the upstream's shape: typed as an
  object (the upstream defines it).

``hookplane events ENV`` prints it; ``--json`` gives the whole catalogue, schemas included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hookplane.config.loader import Config
from hookplane.config.models import (
    RECORD_EVENTS,
    SYSTEM_EVENTS,
    Collection,
    FieldSchema,
    Trigger,
)
from hookplane.mapping.template import Placeholder, parse_template

__all__ = ["EventType", "Subscriber", "event_catalogue"]

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"

_DESCRIPTIONS = {
    "create": "A record was created.",
    "update": "A record was updated.",
    "delete": "A record was (soft) deleted; record is the record as it was deleted.",
    "config.applied": "A configuration change was applied to the environment.",
    "config.promoted": "A configuration was promoted into the environment.",
    "delivery.failed": "A delivery used up its attempts (a dead letter).",
    "trigger.disabled": "A trigger's circuit breaker disabled it after failing too long.",
}


@dataclass(frozen=True)
class Subscriber:
    """A trigger that sends the event, and the body its receiver gets."""

    trigger: str
    content_type: str
    body_schema: dict[str, Any]


@dataclass(frozen=True)
class EventType:
    name: str
    collection: str | None
    description: str
    subscribers: list[Subscriber] = field(default_factory=list)
    envelope_schema: dict[str, Any] = field(default_factory=dict)
    """The standard envelope's schema (what a trigger without ``body`` sends)."""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "collection": self.collection,
                "description": self.description,
                "envelope_schema": self.envelope_schema,
                "subscribers": [{"trigger": s.trigger, "content_type": s.content_type,
                                 "body_schema": s.body_schema} for s in self.subscribers]}


def _field_schema(schema: FieldSchema) -> dict[str, Any]:
    dumped: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _record_schema(collection: str, data: dict[str, Any]) -> dict[str, Any]:
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    return {
        "type": "object",
        "required": ["id", "collection", "external_id", "data", "origin", "version",
                     "created_at", "updated_at", "deleted_at"],
        "properties": {
            "id": {"type": "string", "pattern": "^rec_"},
            "collection": {"const": collection},
            "external_id": {"type": ["string", "null"]},
            "data": data,
            "origin": {"enum": ["api", "hook", "inbound_webhook", "hydration"]},
            "version": {"type": "integer", "minimum": 1},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "deleted_at": nullable_time,
        },
    }


def _record_envelope(name: str, collection: str, data: dict[str, Any]) -> dict[str, Any]:
    record = _record_schema(collection, data)
    previous: dict[str, Any] = ({"type": "null"} if name == "create"
                                else {"anyOf": [{"type": "null"}, record]})
    return {
        "$schema": JSON_SCHEMA,
        "title": f"{collection} {name}",
        "type": "object",
        "required": ["id", "event", "collection", "environment", "occurred_at", "record",
                     "previous"],
        "properties": {
            "id": {"type": "string", "pattern": "^msg_",
                   "description": "the delivery id, also in the webhook-id header"},
            "event": {"const": name},
            "collection": {"const": collection},
            "environment": {"type": "string"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "record": record,
            "previous": previous,
        },
    }


def _system_envelope(name: str) -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA,
        "title": name,
        "type": "object",
        "required": ["id", "event", "environment", "occurred_at", "data"],
        "properties": {
            "id": {"type": "string", "pattern": "^msg_"},
            "event": {"const": name},
            "environment": {"type": "string"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "data": {"type": "object"},
        },
    }


class _Typer:
    """The schema of a rendered ``body`` template, leaf by leaf."""

    def __init__(self, event: str, collection: str | None, data: dict[str, Any],
                 envelope: dict[str, Any]) -> None:
        self.roots: dict[str, Any] = {
            "record": data, "previous": {"anyOf": [{"type": "null"}, data]},
            "event": {"const": event}, "collection": {"const": collection},
            "environment": {"type": "string"}, "trigger": {"type": "string"},
            "id": {"type": "string", "pattern": "^msg_"},
            "occurred_at": {"type": "string", "format": "date-time"},
            "data": envelope["properties"].get("data", data),
        }

    def value(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return {"type": "object", "required": sorted(str(k) for k in value),
                    "properties": {str(k): self.value(v) for k, v in value.items()}}
        if isinstance(value, list):
            return {"type": "array", "prefixItems": [self.value(v) for v in value],
                    "minItems": len(value), "maxItems": len(value)}
        if isinstance(value, str):
            return self.text(value)
        return {"const": value}

    def text(self, text: str) -> dict[str, Any]:
        try:
            template = parse_template(text)
        except Exception:  # validation reports it; here the leaf is some text
            return {"type": "string"}
        parts = template.parts
        if not any(isinstance(part, Placeholder) for part in parts):
            return {"const": text}
        if len(parts) == 1 and isinstance(parts[0], Placeholder):
            return self.path(parts[0].segments)
        return {"type": "string"}

    def path(self, segments: tuple[str, ...]) -> dict[str, Any]:
        schema = self.roots.get(segments[0])
        if schema is None:
            return {}
        for segment in segments[1:]:
            schema = _step(schema, segment)
            if schema is None:
                return {}
        return schema


def _step(schema: dict[str, Any], segment: str) -> dict[str, Any] | None:
    """The schema one path segment below ``schema`` (None when unknown)."""
    if "anyOf" in schema:
        options = [_step(s, segment) for s in schema["anyOf"] if s.get("type") != "null"]
        found = [s for s in options if s is not None]
        return found[0] if len(found) == 1 else ({"anyOf": found} if found else None)
    properties = schema.get("properties")
    if isinstance(properties, dict) and segment in properties:
        child: dict[str, Any] = properties[segment]
        return child
    items = schema.get("items")
    if segment.isdigit() and isinstance(items, dict):
        return items
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    return {} if extra is not False else None


def _subscriber(name: str, trigger: str, spec: Trigger, *, collection: str | None,
                data: dict[str, Any], envelope: dict[str, Any]) -> Subscriber:
    if spec.external_write is not None:
        return Subscriber(trigger, "application/json", {
            "$schema": JSON_SCHEMA, "type": "object",
            "description": f"the record mapped through source "
                           f"'{spec.external_write.source}' (the upstream's shape)"})
    if spec.body is None:
        return Subscriber(trigger, "application/json", envelope)
    body = _Typer(name, collection, data, envelope).value(spec.body)
    content_type = ("text/plain; charset=utf-8" if isinstance(spec.body, str)
                    else "application/json")
    return Subscriber(trigger, content_type, {"$schema": JSON_SCHEMA, **body})


def event_catalogue(config: Config) -> list[EventType]:
    """Every event type of ``config``'s environment, collections in name order (record
    events, then named events in declaration order), then the system events."""
    triggers = [(resource.name, resource.spec) for resource in
                sorted(config.section("triggers").values(), key=lambda r: r.name)
                if isinstance(resource.spec, Trigger)]
    catalogue: list[EventType] = []
    for resource in sorted(config.section("collections").values(), key=lambda r: r.name):
        spec = resource.spec
        if not isinstance(spec, Collection):
            continue
        data = _field_schema(spec.schema_)
        events = [(event, _DESCRIPTIONS[event]) for event in RECORD_EVENTS]
        events += [(event, rule.description or _rule_text(rule.writes, rule.when,
                                                          rule.changes))
                   for event, rule in (spec.events or {}).items()]
        for event, description in events:
            envelope = _record_envelope(event, resource.name, data)
            catalogue.append(EventType(
                event, resource.name, description,
                [_subscriber(event, name, trigger, collection=resource.name, data=data,
                             envelope=envelope)
                 for name, trigger in triggers
                 if trigger.collection == resource.name and event in trigger.events],
                envelope))
    for event in SYSTEM_EVENTS:
        envelope = _system_envelope(event)
        catalogue.append(EventType(
            event, None, _DESCRIPTIONS[event],
            [_subscriber(event, name, trigger, collection=None, data={"type": "object"},
                         envelope=envelope)
             for name, trigger in triggers if event in trigger.events], envelope))
    return catalogue


def _rule_text(writes: Sequence[str], when: dict[str, Any], changes: Sequence[str]) -> str:
    parts = [f"on {', '.join(writes)}"]
    if changes:
        parts.append(f"when {', '.join(changes)} changes")
    if when:
        shown = ", ".join(f"{k}: {v}" for k, v in when.items())
        parts.append(("and it matches " if changes else "when it becomes ") + "{" + shown + "}")
    return "; ".join(parts)
