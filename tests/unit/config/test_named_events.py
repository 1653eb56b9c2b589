"""Named events and filter values in configuration: each mistake -> one positioned error.

Uses the invalid-configuration table's project (``base.yaml`` declares ``incidents`` with
``severity`` enum p1/p2/p3) and adds a collection with named events.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hookplane.config import load_all
from tests.unit.config.test_invalid_configs import Case, _assert_reported, _problems, _project

ESCALATIONS = """\
collections:
  escalations:
    schema:
      type: object
      properties:
        status: {type: string, enum: [open, resolved]}
        assignee: {type: string}
    events:
      escalation.created: {writes: [create]}
      escalation.resolved: {when: {status: resolved}, description: Escalation resolved}
      escalation.reassigned: {writes: [update], changes: assignee}
"""


def test_named_events_validate_and_triggers_subscribe_to_them(tmp_path: Path) -> None:
    text = ESCALATIONS + """\
triggers:
  t:
    collection: escalations
    events: [escalation.resolved, create]
    url: https://hooks.example.com/t
"""
    config = load_all(_project(tmp_path, Case(text, "", "")))["preview"]
    spec = config.get("collections", "escalations")
    assert spec is not None
    assert list(spec.spec.events) == ["escalation.created", "escalation.resolved",
                                      "escalation.reassigned"]
    assert spec.spec.events["escalation.reassigned"].changes == ["assignee"]
    assert spec.spec.events["escalation.resolved"].writes == ["create", "update"]


TRIGGER = """\
triggers:
  t:
    collection: escalations
    events: [create, {event}]
    url: https://hooks.example.com/t
"""


@pytest.mark.parametrize(("text", "where", "fragment"), [
    (ESCALATIONS + TRIGGER.format(event="escalation.resolvd"), "main.yaml:15:22",
     "triggers.t: collection 'escalations' declares no event 'escalation.resolvd' (did you "
     "mean 'escalation.resolved'?) (declared: escalation.created, escalation.resolved, "
     "escalation.reassigned); declare it under the collection's 'events'"),
    (ESCALATIONS + TRIGGER.format(event="Escalation"), "main.yaml:15:22",
     "unknown event 'Escalation': use create, update, delete, config.applied, "
     "config.promoted, delivery.failed, trigger.disabled or an event declared under the "
     "collection's 'events'"),
    (ESCALATIONS.replace("escalation.created: {writes: [create]}", "create: {writes: [create]}"),
     "main.yaml:9:7", "'create' is a built-in event; pick another name"),
    (ESCALATIONS.replace("escalation.created: {writes: [create]}", "Created: {writes: [create]}"),
     "main.yaml:9:7", "event name 'Created' must be dotted lower-case words"),
    (ESCALATIONS.replace("when: {status: resolved}", "when: {state: resolved}"),
     "main.yaml:10:36", "filter field 'state' is not in collection 'escalations' (did you "
     "mean 'status'?)"),
    (ESCALATIONS.replace("when: {status: resolved}", "when: {status: closed}"),
     "main.yaml:10:44", "filter value 'closed' for 'status' is not one of the field's values "
     "(open, resolved): it can never match"),
    (ESCALATIONS.replace("changes: assignee", "changes: [asignee]"), "main.yaml:11:59",
     "field 'asignee' is not in collection 'escalations' (did you mean 'assignee'?)"),
    (ESCALATIONS.replace("{writes: [create]}", "{writes: [created]}"), "main.yaml:9:37",
     "\"created\" is not one of 'create', 'update' or 'delete' (did you mean 'create'?)"),
    # item: a filter value outside the field's enum can never match
    ("triggers:\n  t:\n    collection: incidents\n    events: [create]\n"
     "    url: https://hooks.example.com/t\n    filter: {severity: p4}\n", "main.yaml:6:24",
     "filter value 'p4' for 'severity' is not one of the field's values (p1, p2, p3): it can "
     "never match"),
    ("triggers:\n  t:\n    collection: incidents\n    events: [create]\n"
     "    url: https://hooks.example.com/t\n    filter: {severity: {in: [p1, p5]}}\n",
     "main.yaml:6:24", "filter value 'p5' for 'severity'"),
], ids=["unknown-named-event", "malformed-event", "builtin-name", "bad-name",
        "when-unknown-field", "when-outside-enum", "changes-unknown-field", "bad-on",
        "filter-outside-enum", "filter-in-outside-enum"])
def test_named_event_mistakes(tmp_path: Path, text: str, where: str, fragment: str) -> None:
    _assert_reported(_problems(_project(tmp_path, Case(text, where, fragment))),
                     Case(text, where, fragment))


def test_excluding_values_outside_the_enum_is_fine(tmp_path: Path) -> None:
    text = ("triggers:\n  t:\n    collection: incidents\n    events: [create]\n"
            "    url: https://hooks.example.com/t\n"
            "    filter: {severity: {ne: p4, not_in: [p9]}}\n")
    config = load_all(_project(tmp_path, Case(text, "", "")))["preview"]
    assert config.get("triggers", "t") is not None


def test_settings_added_later_keep_older_resources_unchanged(tmp_path: Path) -> None:
    """A collection without named events and a webhook without ipv6_prefix canonicalise as
    they did before those settings existed: a plan after upgrading shows no changes."""
    text = ("collections:\n  plain: {schema: {type: object}}\n"
            "inbound_webhooks:\n  hook: {collection: plain}\n")
    config = load_all(_project(tmp_path, Case(text, "", "")))["preview"]
    collection = config.get("collections", "plain")
    hook = config.get("inbound_webhooks", "hook")
    assert collection is not None and hook is not None
    assert "events" not in collection.canonical()
    assert hook.canonical()["rate_limit"] == {"requests": 30, "per_seconds": 60}
    assert "timestamp_header" not in hook.canonical()["auth"]
