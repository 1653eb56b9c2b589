"""The event catalogue: every event type, its subscribers, and body schemas that the bodies
the runtime actually renders validate against."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from hookplane.catalogue import event_catalogue
from hookplane.cli.main import cli
from hookplane.config import load_environment
from hookplane.config.models import Collection, Trigger
from hookplane.runtime.fanout import outbox_for, system_event_items
from hookplane.runtime.registry import CollectionView, EnvironmentView, TriggerView
from hookplane.state.runtime import Record, RecordEvent

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 5, 10, 0, 0, tzinfo=UTC)

PROJECT = """\
collections:
  escalations:
    schema:
      type: object
      required: [title]
      properties:
        title: {type: string}
        status: {type: string, enum: [open, resolved]}
        spent: {type: number}
        owner: {type: object, properties: {name: {type: string}}}
    events:
      escalation.resolved: {when: {status: resolved}, description: Resolved.}
triggers:
  envelope:
    collection: escalations
    events: [create, update, escalation.resolved]
    url: https://hooks.example.com/e
  templated:
    collection: escalations
    events: [escalation.resolved]
    url: https://hooks.example.com/t
    body:
      text: "Resolved: {{record.title}}"
      status: "{{record.status}}"
      spent: "{{record.spent}}"
      owner: "{{record.owner.name}}"
      event: "{{event}}"
      tags: [ops, 1]
  plain:
    collection: escalations
    events: [delete]
    url: https://hooks.example.com/p
    body: "deleted {{record.title}}"
  failures:
    events: [delivery.failed]
    url: https://hooks.example.com/f
"""


def _project(tmp_path: Path) -> Path:
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(PROJECT))
    return tmp_path


def _record(data: dict[str, Any], *, deleted: bool = False) -> Record:
    return Record(id="rec_1", collection="escalations", external_id=None, data=data,
                  origin="api", version=2, created_at="2026-12-05T09:00:00Z",
                  updated_at="2026-12-05T10:00:00Z",
                  deleted_at="2026-12-05T10:00:00Z" if deleted else None)


def test_the_catalogue_lists_record_named_and_system_events(tmp_path: Path) -> None:
    catalogue = event_catalogue(load_environment(_project(tmp_path), "preview"))
    assert [(e.name, e.collection) for e in catalogue] == [
        ("create", "escalations"), ("update", "escalations"), ("delete", "escalations"),
        ("escalation.resolved", "escalations"), ("config.applied", None),
        ("config.promoted", None), ("delivery.failed", None), ("trigger.disabled", None)]
    subscribers = {e.name: [s.trigger for s in e.subscribers] for e in catalogue}
    assert subscribers["escalation.resolved"] == ["envelope", "templated"]
    assert subscribers["delivery.failed"] == ["failures"]
    resolved = next(e for e in catalogue if e.name == "escalation.resolved")
    assert resolved.description == "Resolved."
    for event in catalogue:
        jsonschema.Draft202012Validator.check_schema(event.envelope_schema)
        for subscriber in event.subscribers:
            jsonschema.Draft202012Validator.check_schema(subscriber.body_schema)
    templated = next(s for s in resolved.subscribers if s.trigger == "templated").body_schema
    assert templated["properties"]["status"] == {"type": "string", "enum": ["open",
                                                                            "resolved"]}
    assert templated["properties"]["spent"] == {"type": "number"}
    assert templated["properties"]["text"] == {"type": "string"}
    assert templated["properties"]["event"] == {"const": "escalation.resolved"}


def _view(tmp_path: Path) -> EnvironmentView:
    config = load_environment(_project(tmp_path), "preview")
    collections = {r.name: CollectionView.of(r.name, r.spec)
                   for r in config.section("collections").values()
                   if isinstance(r.spec, Collection)}
    triggers = {r.name: TriggerView.of(f"trg_{r.name}", r.name, r.spec, ("whsec_x",))
                for r in config.section("triggers").values() if isinstance(r.spec, Trigger)}
    return EnvironmentView("preview", 1, collections=collections, triggers=triggers)


@pytest.mark.parametrize(("kind", "previous", "data"), [
    ("create", None, {"title": "a", "status": "open", "spent": 3, "owner": {"name": "Ann"}}),
    ("update", {"title": "a", "status": "open"}, {"title": "a", "status": "resolved",
                                                   "spent": 12.5, "owner": {"name": "Bo"}}),
    ("delete", None, {"title": "gone"}),
])
def test_bodies_the_runtime_renders_validate_against_their_schema(
        tmp_path: Path, kind: str, previous: dict[str, Any] | None,
        data: dict[str, Any]) -> None:
    view = _view(tmp_path)
    catalogue = {e.name: e for e in event_catalogue(load_environment(tmp_path, "preview"))}
    before = _record(previous) if previous is not None else None
    event = RecordEvent("preview", "escalations", kind,  # type: ignore[arg-type]
                        _record(data, deleted=kind == "delete"), before, "api")
    items = outbox_for(view, event, now=NOW)
    assert items
    for item in items:
        schema = next(s.body_schema for s in catalogue[item.event].subscribers
                      if s.trigger == item.trigger_name)
        body = item.payload["body"]
        instance = body if item.payload["content_type"].startswith("text/") \
            else json.loads(body)
        if isinstance(instance, str):
            assert schema["type"] == "string" or "const" in schema
            continue
        jsonschema.validate(instance, schema)
    (failed,) = system_event_items(view, "delivery.failed", {"delivery_id": "msg_1"}, now=NOW)
    jsonschema.validate(json.loads(failed.payload["body"]),
                        catalogue["delivery.failed"].subscribers[0].body_schema)


def test_the_cli_prints_the_catalogue(tmp_path: Path) -> None:
    root = _project(tmp_path)
    runner = CliRunner()
    text = runner.invoke(cli, ["-C", str(root), "events", "preview"])
    assert text.exit_code == 0, text.output
    assert "escalation.resolved          escalations  Resolved." in text.output
    assert "    -> templated (application/json)" in text.output
    assert "    -> plain (text/plain; charset=utf-8)" in text.output
    one = runner.invoke(cli, ["-C", str(root), "events", "preview", "--json", "--event",
                              "escalation.resolved"])
    assert [e["name"] for e in json.loads(one.stdout)] == ["escalation.resolved"]


def test_the_example_projects_catalogues_are_valid_schemas() -> None:
    for project in [REPO, *sorted(p for p in (REPO / "examples").iterdir()
                                  if (p / "environments").is_dir())]:
        for env in ("preview", "production"):
            if not (project / "environments" / env).is_dir():
                continue
            for event in event_catalogue(load_environment(project, env)):
                jsonschema.Draft202012Validator.check_schema(event.envelope_schema)
                for subscriber in event.subscribers:
                    jsonschema.Draft202012Validator.check_schema(subscriber.body_schema)

