"""The roots a trigger body may use are the ones the runtime renders it over.

:mod:`hookplane.mapping.contexts` holds both the root lists configuration validation checks
and the builders the runtime renders bodies with. These tests write a body that uses every
root into a project, load it with :func:`hookplane.config.load_all` (what ``hookplane
validate``, ``apply`` and ``promote`` run) and render it through the runtime's own fan-out
(:func:`~hookplane.runtime.fanout.system_event_items`, :func:`~hookplane.runtime.fanout.
outbox_for`): every root validation accepts has a value at runtime, and a misspelt root is
refused at its line and column.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from hookplane.config import load_all
from hookplane.config.models import Trigger
from hookplane.errors import ConfigError
from hookplane.mapping import (
    RECORD_EVENT_ROOTS,
    SYSTEM_EVENT_ROOTS,
    record_event_context,
    system_event_context,
)
from hookplane.runtime.fanout import outbox_for, system_event_items
from hookplane.runtime.registry import EnvironmentView, TriggerView
from hookplane.state.runtime import Record, RecordEvent

NOW = datetime(2026, 12, 5, 17, 0, 0, tzinfo=UTC)
ENVIRONMENT = "name: preview\nkind: preview\n"
COLLECTION = ("collections:\n  incidents:\n    schema:\n      type: object\n"
              "      properties: {title: {type: string}}\n")


def _body(roots: tuple[str, ...]) -> dict[str, str]:
    """A body with one field per root, each a lone placeholder (keeps the JSON type)."""
    return {root: "{{" + root + "}}" for root in roots}


def _trigger_yaml(events: list[str], body: dict[str, str], *, collection: bool) -> str:
    spec: dict[str, Any] = {"events": events, "url": "https://hooks.example.com/t",
                            "body": body}
    if collection:
        spec["collection"] = "incidents"
    return COLLECTION + yaml.safe_dump({"triggers": {"t": spec}}, sort_keys=False)


def _load(root: Path, text: str) -> None:
    preview = root / "environments" / "preview"
    preview.mkdir(parents=True)
    (preview / "environment.yaml").write_text(ENVIRONMENT, encoding="utf-8")
    (preview / "main.yaml").write_text(text, encoding="utf-8")
    load_all(root)


def _refusals(root: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        _load(root, text)
    return [d.format() for d in caught.value.diagnostics]


def _view(events: list[str], body: dict[str, str], *, collection: bool) -> EnvironmentView:
    spec = Trigger.model_validate(yaml.safe_load(
        _trigger_yaml(events, body, collection=collection))["triggers"]["t"])
    trigger = TriggerView.of("trg_t", "t", spec, ("whsec_x",))
    return EnvironmentView("preview", 7, sources={}, triggers={"t": trigger})


def test_the_context_builders_provide_exactly_the_roots() -> None:
    record = record_event_context(record={}, previous=None, event="create",
                                  collection="incidents", environment="preview", trigger="t",
                                  delivery_id="msg_1", occurred_at="2026-12-05T17:00:00Z")
    system = system_event_context(data={}, event="config.applied", environment="preview",
                                  trigger="t", delivery_id="msg_1",
                                  occurred_at="2026-12-05T17:00:00Z")
    assert tuple(record) == RECORD_EVENT_ROOTS
    assert set(system) == set(SYSTEM_EVENT_ROOTS)


@pytest.mark.parametrize("events", [["config.applied"], ["config.applied", "delivery.failed"]])
def test_a_system_event_trigger_may_use_every_root_the_runtime_provides(
        tmp_path: Path, events: list[str]) -> None:
    body = _body(SYSTEM_EVENT_ROOTS) | {"serial": "{{data.serial}}", "by": "{{record.actor}}"}
    _load(tmp_path, _trigger_yaml(events, body, collection=False))
    data = {"serial": 8, "actor": "ci"}
    (item,) = system_event_items(_view(events, body, collection=False), "config.applied", data,
                                 now=NOW)
    sent = json.loads(item.payload["body"])
    assert sent == {
        "record": data, "previous": None, "event": "config.applied", "collection": None,
        "environment": "preview", "trigger": "t", "id": item.id,
        "occurred_at": "2026-12-05T17:00:00Z", "data": data, "serial": 8, "by": "ci"}


def test_a_system_event_body_is_not_checked_against_the_collection(tmp_path: Path) -> None:
    """For a system event ``record`` is the event's data, not one of the collection's
    records, so its fields are not looked up in the collection's schema."""
    body = {"text": "{{record.serial}} by {{data.actor}}"}
    _load(tmp_path, _trigger_yaml(["config.applied"], body, collection=True))


def test_a_record_event_trigger_may_use_every_record_root(tmp_path: Path) -> None:
    body = _body(RECORD_EVENT_ROOTS)
    _load(tmp_path, _trigger_yaml(["create"], body, collection=True))
    record = Record(id="rec_1", collection="incidents", external_id=None,
                    data={"title": "API down"}, origin="api", version=1,
                    created_at="2026-12-05T17:00:00Z", updated_at="2026-12-05T17:00:00Z",
                    deleted_at=None)
    event = RecordEvent("preview", "incidents", "create", record, None, "api")
    (item,) = outbox_for(_view(["create"], body, collection=True), event, now=NOW)
    assert json.loads(item.payload["body"]) == {
        "record": {"title": "API down"}, "previous": None, "event": "create",
        "collection": "incidents", "environment": "preview", "trigger": "t", "id": item.id,
        "occurred_at": "2026-12-05T17:00:00Z"}


def test_a_misspelt_root_on_a_system_event_is_refused_at_its_position(tmp_path: Path) -> None:
    text = _trigger_yaml(["config.applied"], {"text": "serial {{dta.serial}}"}, collection=False)
    assert _refusals(tmp_path, text) == [
        "environments/preview/main.yaml:12:13: triggers.t: template refers to "
        "'{{dta.serial}}': 'dta' is not available here (did you mean 'data'?); use record.…, "
        "previous.…, event, collection, environment, trigger, id, occurred_at, data.…"]


def test_data_is_refused_when_the_trigger_also_lists_record_events(tmp_path: Path) -> None:
    """A record event has no ``data``: the body would render it as nothing."""
    text = _trigger_yaml(["create", "config.applied"], {"text": "{{data.serial}}"},
                         collection=True)
    assert _refusals(tmp_path, text) == [
        "environments/preview/main.yaml:13:13: triggers.t: template refers to "
        "'{{data.serial}}': 'data' is not available here; use record.…, previous.…, event, "
        "collection, environment, trigger, id, occurred_at (only a trigger that lists "
        "nothing but system events gets data)"]
