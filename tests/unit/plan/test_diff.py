"""The planner: actions, field diffs, sensitive values, renames, protect, environment rules."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from hookplane.config.applied import AppliedResource, DriftEvent, Snapshot
from hookplane.errors import PlanError
from hookplane.plan import Action, Plan, render_json, render_markdown, render_text
from tests.unit.plan.conftest import BASE, ENV, Project, applied, make_plan

Golden = Callable[[str, str], None]


def test_create_everything(project: Project, golden: Golden) -> None:
    project.write("preview", BASE)
    plan = make_plan(project.load())
    assert [c.action for c in plan.changes] == [Action.CREATE] * 4
    assert plan.count(Action.CREATE) == 4
    golden("create.txt", render_text(plan))


def test_no_changes_after_apply(project: Project) -> None:
    project.write("preview", BASE)
    config = project.load()
    plan = make_plan(config, applied(make_plan(config)))
    assert not plan.has_changes
    assert plan.unchanged == 4
    assert render_text(plan) == (
        "No changes. Environment 'preview' matches the configuration.\n"
    )


def test_update_in_place_shows_field_diffs(project: Project, golden: Golden) -> None:
    project.write("preview", BASE)
    before = applied(make_plan(project.load()))
    project.write("preview", BASE.replace("severity: p1", "severity: p2")
                  .replace("[create, update]", "[create, update, delete]"))
    plan = make_plan(project.load(), before)
    [change] = plan.changes
    assert change.action is Action.UPDATE
    assert change.id == "id_notify"
    assert [d.path for d in change.diff] == ["events.2", "filter.severity"]
    golden("update.txt", render_text(plan))


def test_changed_secret_value_detected_by_fingerprint_only(project: Project,
                                                           golden: Golden) -> None:
    project.write("preview", BASE)
    before = applied(make_plan(project.load()))
    rotated = {**ENV, "SLACK_URL": "https://hooks.slack.example/T1/B1/NEW-SECRET"}
    plan = make_plan(project.load(), before, environ=rotated)
    [change] = plan.changes
    assert change.action is Action.UPDATE
    assert change.diff[0].path == "url" and change.diff[0].sensitive
    text = render_text(plan)
    assert "NEW-SECRET" not in text and "abc" not in text
    assert "NEW-SECRET" not in plan.dumps() and "NEW-SECRET" not in render_json(plan)
    golden("sensitive.txt", text)


def test_replace_when_auth_type_changes(project: Project, golden: Golden) -> None:
    project.write("preview", BASE)
    before = applied(make_plan(project.load()))
    project.write("preview", BASE.replace("auth: {type: hmac, header: X-Signature}",
                                          "auth: {type: bearer}"))
    plan = make_plan(project.load(), before)
    [change] = plan.changes
    assert change.action is Action.REPLACE
    assert change.reason and "auth.type cannot change in place" in change.reason
    assert change.generate == ("token",)
    golden("replace.txt", render_text(plan))


def test_destroy(project: Project, golden: Golden) -> None:
    project.write("preview", BASE)
    before = applied(make_plan(project.load()))
    project.write("preview", BASE.split("api_keys:")[0])
    plan = make_plan(project.load(), before)
    assert [(c.address, c.action) for c in plan.changes] == [("api_keys.ci", Action.DELETE)]
    golden("destroy.txt", render_text(plan))


def test_rename_keeps_id(project: Project, golden: Golden) -> None:
    project.write("preview", BASE)
    before = applied(make_plan(project.load()))
    renamed = BASE.replace("  notify:\n", "  notify-p1:\n    renamed_from: notify\n")
    project.write("preview", renamed)
    plan = make_plan(project.load(), before)
    [change] = plan.changes
    assert change.moved_from == "triggers.notify"
    assert change.action is Action.NOOP and change.id == "id_notify"
    assert plan.has_changes
    golden("moved.txt", render_text(plan))


def test_protect_refuses_destroy(project: Project) -> None:
    project.write("preview", BASE.replace("api_keys:\n  ci: {scopes: [write]}",
                                          "api_keys:\n  ci: {scopes: [write], protect: true}"))
    before = applied(make_plan(project.load()))
    project.write("preview", BASE.split("api_keys:")[0])
    with pytest.raises(PlanError, match=r"api_keys.ci has protect: true and cannot be destroyed"):
        make_plan(project.load(), before)


def test_unset_variable_is_a_warning_in_plan(project: Project) -> None:
    project.write("preview", BASE)
    plan = make_plan(project.load(), environ={})
    assert any("${env:SLACK_URL} is not set" in w for w in plan.warnings)
    assert "triggers.notify" not in plan.changes[0].fingerprints


def test_drift_is_reported(project: Project) -> None:
    project.write("preview", BASE)
    snapshot = applied(make_plan(project.load()))
    trigger = snapshot.resources["triggers.notify"]
    drifted = AppliedResource(**{**trigger.__dict__, "drift": (
        DriftEvent("2026-11-23T10:00:00Z", "signing secret rotated", "admin api"),)})
    snapshot = Snapshot(snapshot.environment, snapshot.lineage, snapshot.serial,
                        {**snapshot.resources, "triggers.notify": drifted})
    plan = make_plan(project.load(), snapshot)
    text = render_text(plan)
    assert "Objects have changed outside of Hookplane" in text
    assert "# triggers.notify: signing secret rotated (2026-11-23T10:00:00Z, by admin api)" in text
    assert json.loads(render_json(plan))["resource_drift"][0]["address"] == "triggers.notify"


def test_json_document_shape(project: Project) -> None:
    project.write("preview", BASE)
    document = json.loads(render_json(make_plan(project.load())))
    assert document["format_version"] == "1.0"
    assert document["summary"] == {"add": 4, "change": 0, "replace": 0, "destroy": 0,
                                   "move": 0, "unchanged": 0}
    trigger = next(c for c in document["resource_changes"] if c["address"] == "triggers.notify")
    assert trigger["actions"] == ["create"]
    assert trigger["before"] is None
    assert trigger["after"]["url"] == "${env:SLACK_URL}"
    assert trigger["after_unknown"] == {"id": True, "signing_secret": True}
    assert "url" in trigger["sensitive"] and "signing_secret" in trigger["sensitive"]
    assert ENV["SLACK_URL"] not in json.dumps(document)


def test_saved_plan_round_trips(project: Project) -> None:
    project.write("preview", BASE)
    plan = make_plan(project.load())
    assert Plan.loads(plan.dumps()) == plan
    with pytest.raises(PlanError, match="not a Hookplane plan file"):
        Plan.loads('{"something": 1}')


def test_markdown_is_truncated_below_github_limit(project: Project) -> None:
    project.write("preview", BASE)
    plan = make_plan(project.load())
    text = render_markdown(plan, limit=1500, full_plan_url="https://ci.example/artifact")
    assert len(text) <= 1500
    assert "plan truncated" in text and "https://ci.example/artifact" in text
    assert "Plan: 4 to add" in text


class TestProductionRules:
    def _setup(self, project: Project, preview: str, production: str) -> None:
        project.write("preview", preview, promotes_to="production")
        project.write("production", production, kind="production")

    def test_create_missing_from_preview_is_refused(self, project: Project) -> None:
        self._setup(project, BASE.replace("  notify:", "  other:"), BASE)
        with pytest.raises(PlanError) as info:
            make_plan(project.load("production"), source=project.load("preview"))
        message = str(info.value)
        assert message.startswith("environments/production/main.yaml:10:3: trigger 'notify' "
                                  "cannot be created in production environment 'production'")
        assert "Create it in environments/preview and run 'hookplane promote preview " \
               "production'" in message

    def test_create_declared_in_preview_is_allowed(self, project: Project) -> None:
        self._setup(project, BASE, BASE)
        plan = make_plan(project.load("production"), source=project.load("preview"))
        assert plan.count(Action.CREATE) == 4

    def test_destroy_still_in_preview_is_refused(self, project: Project) -> None:
        self._setup(project, BASE, BASE)
        before = applied(make_plan(project.load("production"), source=project.load("preview")),
                         )
        project.write("production", BASE.split("inbound_webhooks:")[0], kind="production")
        with pytest.raises(PlanError, match=r"inbound webhook 'alerts' cannot be destroyed in "
                           r"production environment 'production' while environments/preview "
                           r"still declares it"):
            make_plan(project.load("production"), before, source=project.load("preview"))

    def test_update_in_place_is_allowed(self, project: Project) -> None:
        self._setup(project, BASE, BASE)
        before = applied(make_plan(project.load("production"), source=project.load("preview")))
        project.write("production", BASE.replace("severity: p1", "severity: p2"),
                      kind="production")
        plan = make_plan(project.load("production"), before, source=project.load("preview"))
        assert [c.action for c in plan.changes] == [Action.UPDATE]
