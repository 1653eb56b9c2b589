"""``schema/hookplane-plan.schema.json`` describes every JSON plan Hookplane prints: creates,
updates, a replacement-free rename (a move), deletes, destroy and refresh-only plans, with
drift — validated with ``jsonschema`` (draft 2020-12), which also refuses any key the schema
does not describe (every object is closed), so a renderer change without a schema change
fails here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hookplane.state.store import Store
from tests.integration.cli import test_plan_apply
from tests.integration.cli.test_plan_apply import REPO, Cli

project = test_plan_apply.project  # the demo project; no secret may appear in any output
SCHEMA = json.loads((REPO / "schema" / "hookplane-plan.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _valid(text: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(text)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in VALIDATOR.iter_errors(document)]
    assert errors == [], "\n".join(errors[:10])
    return document


def test_the_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_every_kind_of_plan_matches_the_schema(project: Cli, database_url: str,
                                               tmp_path: Path) -> None:
    created = _valid(project("plan", "preview", "--json"))
    assert created["summary"]["add"] > 0 and created["mode"] == "normal"
    assert all(c["change"]["actions"] == ["create"] for c in created["resource_changes"])
    project("apply", "preview", "--auto-approve")

    incidents = project.root / "environments" / "preview" / "incidents.yaml"
    text = incidents.read_text()
    text = text.replace("  notify-slack-p1:\n",
                        "  page-slack-p1:\n    renamed_from: notify-slack-p1\n")
    text = text.replace("Push our edits back to the on-call tool.", "Changed.")
    incidents.write_text(text)
    (project.root / "environments" / "preview" / "engineering.yaml").write_text("")
    edited = _valid(project("plan", "preview", "--json"))
    actions = {tuple(c["change"]["actions"]) for c in edited["resource_changes"]}
    assert {("update",), ("delete",)} <= actions
    assert any(c["moved_from"] == "triggers.notify-slack-p1"
               for c in edited["resource_changes"])
    saved = tmp_path / "edited.plan"
    project("plan", "preview", "--out", str(saved))
    _valid(project("show", str(saved), "--json"))

    destroy = _valid(project("plan", "preview", "--destroy", "--json"))
    assert destroy["mode"] == "destroy" and destroy["summary"]["destroy"] > 0

    with Store.open(database_url, root=project.root) as store:
        store.rotate_secret("preview", "triggers", "sync-pagerduty", "signing_secret")
    refresh = _valid(project("plan", "preview", "--refresh-only", "--json"))
    assert refresh["mode"] == "refresh-only" and refresh["resource_drift"]


@pytest.mark.parametrize("key", ["format_version", "summary", "resource_changes"])
def test_the_schema_refuses_a_plan_it_does_not_describe(key: str) -> None:
    document = {"format_version": "1.0", "mode": "normal", "targets": [],
                "environment": "preview", "environment_kind": "preview", "lineage": "",
                "serial": 0, "config_digest": "", "resource_changes": [],
                "resource_drift": [], "warnings": [], "has_changes": False,
                "summary": {"add": 0, "change": 0, "replace": 0, "destroy": 0, "move": 0,
                            "unchanged": 0}}
    assert not list(VALIDATOR.iter_errors(document))
    broken = {**document, key: {"format_version": "one", "summary": {"add": -1},
                                "resource_changes": [{"address": "x"}]}[key]}
    assert list(VALIDATOR.iter_errors(broken))
