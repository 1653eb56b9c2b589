"""Fan-out: which triggers a record write fires, and the delivery each one queues."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from hookplane.config.models import Mapping, Source, Trigger
from hookplane.runtime.fanout import outbox_for, system_event_items
from hookplane.runtime.registry import EnvironmentView, SourceView, TriggerView
from hookplane.state.runtime import OutboxItem, Record, RecordEvent

NOW = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
ENV = "preview"


def trigger(name: str, **spec: Any) -> TriggerView:
    spec.setdefault("collection", "incidents")
    spec.setdefault("events", ["create", "update", "delete"])
    if "external_write" not in spec:
        spec.setdefault("url", f"https://hooks.example.com/{name}")
    return TriggerView.of(f"trg_{name}", name, Trigger.model_validate(spec), ("whsec_x",))


def shop(unmapped: str = "drop") -> SourceView:
    source = Source.model_validate({
        "collection": "orders", "base_url": "https://shop.example.com/api/",
        "headers": {"Authorization": "Bearer shop-token"},
        "write": {"method": "PUT", "path": "/orders/{id}", "headers": {"X-Api": "2"}},
        "mapping": {"to_external": {"status": "state", "total": "amount",
                                    "customer": "buyer.name"},
                    "value_maps": {"status": {"open": "OPEN", "paid": "PAID"}},
                    "unmapped": unmapped}})
    return SourceView.of("shop", source)


def view(*triggers: TriggerView, sources: dict[str, SourceView] | None = None
         ) -> EnvironmentView:
    return EnvironmentView(ENV, 7, sources=sources or {},
                           triggers={t.name: t for t in triggers})


def record(data: dict[str, Any], *, collection: str = "incidents", version: int = 1,
           external_id: str | None = None, deleted: bool = False) -> Record:
    return Record(id="rec_1", collection=collection, external_id=external_id, data=data,
                  origin="api", version=version, created_at="2025-03-04T05:00:00Z",
                  updated_at="2025-03-04T05:06:07Z",
                  deleted_at="2025-03-04T05:06:07Z" if deleted else None)


def event(kind: str = "create", data: dict[str, Any] | None = None, *,
          previous: dict[str, Any] | None = None, origin: str = "api",
          collection: str = "incidents", external_id: str | None = None) -> RecordEvent:
    body = data if data is not None else {"title": "API down", "severity": "p1"}
    before = (record(previous, collection=collection, external_id=external_id)
              if previous is not None else None)
    after = record(body, collection=collection, version=2 if before else 1,
                   external_id=external_id, deleted=kind == "delete")
    return RecordEvent(ENV, collection, kind, after, before, origin)  # type: ignore[arg-type]


def names(items: list[OutboxItem]) -> list[str]:
    return sorted(item.trigger_name for item in items)


def body(item: OutboxItem) -> Any:
    return json.loads(item.payload["body"])


# --------------------------------------------------------------------------- which fire


@pytest.mark.parametrize(("events", "kind", "fires"), [
    (["create"], "create", True),
    (["create"], "update", False),
    (["update", "delete"], "delete", True),
    (["update"], "delete", False),
    (["delivery.failed"], "create", False),
])
def test_only_triggers_listing_the_event_fire(events: list[str], kind: str,
                                              fires: bool) -> None:
    v = view(trigger("t", events=events))
    items = outbox_for(v, event(kind, previous={"title": "x", "severity": "p1"}
                                if kind != "create" else None), now=NOW)
    assert names(items) == (["t"] if fires else [])


@pytest.mark.parametrize(("spec", "data", "fires"), [
    ({"severity": "p1"}, {"title": "a", "severity": "p1"}, True),
    ({"severity": "p1"}, {"title": "a", "severity": "p2"}, False),
    ({"severity": ["p1", "p2"]}, {"title": "a", "severity": "p2"}, True),
    ({"status": {"ne": "resolved"}}, {"title": "a"}, True),
    ({"status": {"ne": "resolved"}}, {"title": "a", "status": "resolved"}, False),
    ({"meta.count": {"gte": 3}}, {"meta": {"count": 3}}, True),
    ({"meta.count": {"gte": 3}}, {"meta": {"count": "3"}}, False),
    ({"owner": {"exists": False}}, {"owner": None}, False),
])
def test_filters_decide_on_the_record_data(spec: dict[str, Any], data: dict[str, Any],
                                           fires: bool) -> None:
    items = outbox_for(view(trigger("t", filter=spec)), event("create", data), now=NOW)
    assert bool(items) is fires


def test_a_delete_is_filtered_on_the_record_as_deleted() -> None:
    v = view(trigger("p1-gone", events=["delete"], filter={"severity": "p1"}))
    deleted = event("delete", {"title": "a", "severity": "p1"},
                    previous={"title": "a", "severity": "p1"})
    assert names(outbox_for(v, deleted, now=NOW)) == ["p1-gone"]
    other = event("delete", {"title": "a", "severity": "p3"},
                  previous={"title": "a", "severity": "p3"})
    assert outbox_for(v, other, now=NOW) == []


def test_an_update_is_filtered_on_the_new_data_not_the_previous() -> None:
    v = view(trigger("t", events=["update"], filter={"severity": "p1"}))
    escalated = event("update", {"title": "a", "severity": "p1"},
                      previous={"title": "a", "severity": "p3"})
    calmed = event("update", {"title": "a", "severity": "p3"},
                   previous={"title": "a", "severity": "p1"})
    assert names(outbox_for(v, escalated, now=NOW)) == ["t"]
    assert outbox_for(v, calmed, now=NOW) == []


def test_inactive_triggers_and_other_collections_do_not_fire() -> None:
    v = view(trigger("off", active=False), trigger("tasks", collection="tasks"),
             trigger("on"))
    assert names(outbox_for(v, event(), now=NOW)) == ["on"]


@pytest.mark.parametrize(("origin", "skip_hook", "skip_inbound", "fires"), [
    ("api", True, True, True),
    ("hydration", True, True, False),  # a hydration write is an inbound write (loops)
    ("hydration", False, True, False),
    ("hydration", True, False, True),
    ("hook", True, False, False),
    ("hook", False, True, True),
    ("inbound_webhook", False, True, False),
    ("inbound_webhook", True, False, True),
])
def test_origins_are_skipped_by_their_own_flag(origin: str, skip_hook: bool,
                                               skip_inbound: bool, fires: bool) -> None:
    v = view(trigger("t", skip_hook_writes=skip_hook,
                     skip_inbound_webhook_writes=skip_inbound))
    assert bool(outbox_for(v, event(origin=origin), now=NOW)) is fires


def test_by_default_hook_and_inbound_writes_fire_nothing() -> None:
    v = view(trigger("t"))
    assert outbox_for(v, event(origin="hook"), now=NOW) == []
    assert outbox_for(v, event(origin="inbound_webhook"), now=NOW) == []
    assert outbox_for(v, event(origin="hydration"), now=NOW) == []
    assert names(outbox_for(v, event(origin="api"), now=NOW)) == ["t"]


def test_every_matching_trigger_gets_its_own_delivery() -> None:
    v = view(trigger("a"), trigger("b", filter={"severity": "p1"}), trigger("c"))
    items = outbox_for(v, event(), now=NOW)
    assert names(items) == ["a", "b", "c"]
    assert len({item.id for item in items}) == 3
    assert {item.trigger_id for item in items} == {"trg_a", "trg_b", "trg_c"}


# --------------------------------------------------------------------------- the body


def test_the_default_body_is_the_envelope() -> None:
    v = view(trigger("t", retry={"attempts": 4, "initial_seconds": 2}))
    (item,) = outbox_for(v, event("update", {"title": "API down", "severity": "p1"},
                                  previous={"title": "API slow", "severity": "p2"}),
                         now=NOW)
    sent = body(item)
    assert list(sent) == ["id", "event", "collection", "environment", "occurred_at",
                          "record", "previous"]
    assert sent["id"] == item.id and item.id is not None and item.id.startswith("msg_")
    assert sent["event"] == item.event == "update"
    assert (sent["collection"], sent["environment"]) == ("incidents", ENV)
    assert sent["occurred_at"] == "2025-03-04T05:06:07Z"
    assert sent["record"] == {
        "id": "rec_1", "collection": "incidents", "external_id": None,
        "data": {"title": "API down", "severity": "p1"}, "origin": "api", "version": 2,
        "created_at": "2025-03-04T05:00:00Z", "updated_at": "2025-03-04T05:06:07Z",
        "deleted_at": None}
    assert sent["previous"]["data"] == {"title": "API slow", "severity": "p2"}
    assert item.payload["content_type"] == "application/json"
    assert item.payload["target"] is None and item.payload["record_id"] == "rec_1"
    assert item.max_attempts == 4
    assert item.payload["retry"] == {"attempts": 4, "backoff": "exponential",
                                     "initial_seconds": 2.0, "max_seconds": 300.0,
                                     "jitter": True}


def test_a_create_has_no_previous_and_a_delete_shows_when() -> None:
    v = view(trigger("t"))
    (created,) = outbox_for(v, event("create"), now=NOW)
    assert body(created)["previous"] is None
    (deleted,) = outbox_for(v, event("delete", previous={"title": "a", "severity": "p1"}),
                            now=NOW)
    assert body(deleted)["record"]["deleted_at"] == "2025-03-04T05:06:07Z"
    assert body(deleted)["event"] == "delete"


def test_retry_none_means_one_attempt() -> None:
    (item,) = outbox_for(view(trigger("t")), event(), now=NOW)
    assert item.max_attempts == 1 and item.payload["retry"] is None


def test_a_body_template_replaces_the_envelope() -> None:
    t = trigger("slack", body={
        "text": "P1: {{record.title}} ({{event}} in {{environment}}/{{collection}})",
        "severity": "{{record.severity}}", "count": "{{record.count}}",
        "was": "{{previous.title}}", "meta": {"delivery": "{{id}}", "by": "{{trigger}}",
                                               "at": "{{occurred_at}}"}})
    (item,) = outbox_for(view(t), event("update", {"title": "API down", "severity": "p1",
                                                   "count": 3},
                                        previous={"title": "API slow", "severity": "p1"}),
                         now=NOW)
    assert body(item) == {
        "text": "P1: API down (update in preview/incidents)", "severity": "p1",
        "count": 3, "was": "API slow",
        "meta": {"delivery": item.id, "by": "slack", "at": "2025-03-04T05:06:07Z"}}


def test_a_text_template_is_sent_as_text() -> None:
    (item,) = outbox_for(view(trigger("t", body="P1 {{record.title}}")), event(), now=NOW)
    assert item.payload["body"] == "P1 API down"
    assert item.payload["content_type"] == "text/plain; charset=utf-8"


def test_a_template_that_cannot_render_queues_nothing_for_that_trigger(
        caplog: pytest.LogCaptureFixture) -> None:
    huge = {"title": "x" * 2_000_000, "severity": "p1"}
    v = view(trigger("too-big", body={"text": "{{record.title}} {{record.title}}"}),
             trigger("envelope", events=["update"]), trigger("fine", body={"ok": "yes"}))
    with caplog.at_level(logging.WARNING, "hookplane.runtime.fanout"):
        items = outbox_for(v, event("create", huge), now=NOW)
    assert names(items) == ["fine"]
    assert "trigger 'too-big' in 'preview': no delivery for create of record rec_1" \
        in caplog.text
    assert "exceeds" in caplog.text


# --------------------------------------------------------------------------- external write


def test_external_write_sends_the_record_mapped_to_the_source() -> None:
    t = trigger("sync", collection="orders", events=["create", "update"],
                external_write={"source": "shop"})
    v = view(t, sources={"shop": shop()})
    (item,) = outbox_for(v, event("update", {"status": "paid", "total": 12.5,
                                             "customer": "Ada", "note": "internal"},
                                  previous={"status": "open"}, collection="orders",
                                  external_id="A/1 ..?x"), now=NOW)
    assert body(item) == {"state": "PAID", "amount": 12.5, "buyer": {"name": "Ada"}}
    assert item.payload["target"] == {"source": "shop", "method": "PUT",
                                      "path": "/orders/A%2F1%20..%3Fx"}
    # by default a mapping carries the fields it does not name over as they are
    keep = view(t, sources={"shop": shop("keep")})
    (kept,) = outbox_for(keep, event("update", {"status": "paid", "note": "internal"},
                                     collection="orders", external_id="A1"), now=NOW)
    assert body(kept) == {"state": "PAID", "note": "internal"}
    # no URL and no header values are stored: the token stays in the configuration
    assert "shop-token" not in json.dumps(item.payload)
    assert "shop.example.com" not in json.dumps(item.payload)


def test_external_write_skips_a_record_without_external_id(
        caplog: pytest.LogCaptureFixture) -> None:
    t = trigger("sync", collection="orders", events=["create"],
                external_write={"source": "shop"})
    with caplog.at_level(logging.INFO, "hookplane.runtime.fanout"):
        items = outbox_for(view(t, sources={"shop": shop()}),
                           event("create", {"status": "open"}, collection="orders"), now=NOW)
    assert items == []
    assert "record rec_1 has no external id" in caplog.text


def test_a_mapping_error_queues_nothing_and_does_not_raise(
        caplog: pytest.LogCaptureFixture) -> None:
    source = Source.model_validate({
        "collection": "orders", "base_url": "https://shop.example.com",
        "write": {"method": "PUT", "path": "/orders/{id}"},
        "mapping": Mapping.model_validate({"to_external": {"placed_at": "placed"},
                                           "dates": {"placed_at": {"external": "epoch_s"}}})})
    sources = {"shop": SourceView.of("shop", source)}
    t = trigger("sync", collection="orders", events=["create"],
                external_write={"source": "shop"})
    with caplog.at_level(logging.WARNING, "hookplane.runtime.fanout"):
        items = outbox_for(view(t, sources=sources),
                           event("create", {"placed_at": "not a date"}, collection="orders",
                                 external_id="A1"), now=NOW)
    assert items == []
    assert "trigger 'sync'" in caplog.text and "placed_at" in caplog.text


# --------------------------------------------------------------------------- system events


def test_system_events_go_to_subscribed_active_triggers() -> None:
    v = view(trigger("ops", collection=None, events=["config.applied", "delivery.failed"]),
             trigger("mixed", events=["create", "config.applied"]),
             trigger("off", collection=None, events=["config.applied"], active=False),
             trigger("records"))
    items = system_event_items(v, "config.applied", {"serial": 8, "actor": "ci"}, now=NOW)
    assert names(items) == ["mixed", "ops"]
    sent = body(items[0])
    assert sent == {"id": items[0].id, "event": "config.applied", "environment": ENV,
                    "occurred_at": "2025-03-04T05:06:07Z",
                    "data": {"serial": 8, "actor": "ci"}}
    assert items[0].event == "config.applied"
    assert items[0].payload["collection"] is None
    assert names(system_event_items(v, "delivery.failed", {}, now=NOW)) == ["ops"]
    assert system_event_items(v, "config.promoted", {}, now=NOW) == []


def test_system_event_body_templates_see_the_data() -> None:
    v = view(trigger("ops", collection=None, events=["delivery.failed"],
                     body={"text": "{{data.trigger}} failed: {{data.error}}",
                           "attempts": "{{record.attempts}}"}))
    (item,) = system_event_items(v, "delivery.failed",
                                 {"trigger": "slack", "error": "receiver answered 500",
                                  "attempts": 3}, now=NOW)
    assert body(item) == {"text": "slack failed: receiver answered 500", "attempts": 3}


def test_unknown_system_events_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown system event 'create'"):
        system_event_items(view(), "create", {}, now=NOW)


# --------------------------------------------------------------------------- named events

ESCALATIONS = {
    "escalation.created": {"writes": ["create"]},
    "escalation.resolved": {"when": {"status": "resolved"}},
    "escalation.reassigned": {"writes": ["update"], "changes": "assignee",
                              "when": {"status": {"ne": "resolved"}}},
    "budget.threshold_reached": {"when": {"spent": {"gte": 100}}},
    "escalation.purged": {"writes": ["delete"], "when": {"status": "resolved"}},
}


def named_view(*triggers: TriggerView) -> EnvironmentView:
    from hookplane.config.models import Collection
    from hookplane.runtime.registry import CollectionView

    collection = Collection.model_validate({
        "schema": {"type": "object", "properties": {
            "status": {"type": "string"}, "assignee": {"type": "string"},
            "spent": {"type": "number"}}},
        "events": ESCALATIONS})
    return EnvironmentView(ENV, 7, collections={"incidents": CollectionView.of(
        "incidents", collection)}, triggers={t.name: t for t in triggers})


def fired(v: EnvironmentView, kind: str, data: dict[str, Any],
          previous: dict[str, Any] | None = None) -> list[str]:
    return sorted(item.event for item in outbox_for(v, event(kind, data, previous=previous),
                                                    now=NOW))


@pytest.mark.parametrize(("kind", "previous", "data", "expected"), [
    ("create", None, {"status": "open"}, ["escalation.created"]),
    ("create", None, {"status": "resolved"}, ["escalation.created", "escalation.resolved"]),
    # resolved fires once, when the status becomes resolved ...
    ("update", {"status": "open"}, {"status": "resolved"}, ["escalation.resolved"]),
    # ... and not again on a later edit of a resolved escalation
    ("update", {"status": "resolved"}, {"status": "resolved", "note": "x"}, []),
    ("update", {"status": "resolved"}, {"status": "open"}, []),
    # a change of the assignee, while not resolved
    ("update", {"status": "open", "assignee": "a"}, {"status": "open", "assignee": "b"},
     ["escalation.reassigned"]),
    ("update", {"status": "open", "assignee": "a"}, {"status": "open", "assignee": "a"}, []),
    ("update", {"status": "open"}, {"status": "open", "assignee": "b"},
     ["escalation.reassigned"]),
    ("update", {"status": "resolved", "assignee": "a"},
     {"status": "resolved", "assignee": "b"}, []),
    # a threshold crossed once; 1 == 1.0 and JSON types compare as JSON
    ("update", {"spent": 99}, {"spent": 100.0}, ["budget.threshold_reached"]),
    ("update", {"spent": 120}, {"spent": 130}, []),
    ("update", {"spent": "120"}, {"spent": 130}, ["budget.threshold_reached"]),
    ("delete", None, {"status": "resolved"}, ["escalation.purged"]),
    ("delete", None, {"status": "open"}, []),
])
def test_named_events_fire_on_their_rule(kind: str, previous: dict[str, Any] | None,
                                         data: dict[str, Any], expected: list[str]) -> None:
    v = named_view(trigger("t", events=list(ESCALATIONS)))
    assert fired(v, kind, data, previous) == expected


def test_a_trigger_gets_the_events_it_lists_each_as_its_own_delivery() -> None:
    v = named_view(trigger("resolved-only", events=["escalation.resolved"]),
                   trigger("both", events=["update", "escalation.resolved"]),
                   trigger("p1-resolved", events=["escalation.resolved"],
                           filter={"severity": "p1"}))
    items = outbox_for(v, event("update", {"status": "resolved", "severity": "p2"},
                                previous={"status": "open", "severity": "p2"}), now=NOW)
    assert sorted((i.trigger_name, i.event) for i in items) == [
        ("both", "escalation.resolved"), ("both", "update"),
        ("resolved-only", "escalation.resolved")]
    delivery = next(i for i in items if i.trigger_name == "resolved-only")
    assert body(delivery)["event"] == "escalation.resolved"
    assert body(delivery)["previous"]["data"] == {"status": "open", "severity": "p2"}


def test_a_body_template_sees_the_named_event() -> None:
    v = named_view(trigger("t", events=["escalation.resolved"],
                           body={"text": "{{event}}: {{record.status}}"}))
    (item,) = outbox_for(v, event("update", {"status": "resolved"},
                                  previous={"status": "open"}), now=NOW)
    assert item.event == "escalation.resolved"
    assert body(item) == {"text": "escalation.resolved: resolved"}


def test_writes_skipped_by_origin_fire_no_named_event_either() -> None:
    v = named_view(trigger("t", events=["escalation.resolved"]))
    inbound = event("update", {"status": "resolved"}, previous={"status": "open"},
                    origin="inbound_webhook")
    assert outbox_for(v, inbound, now=NOW) == []
