"""``hookplane triggers|inbound-webhooks|api-keys create|delete``: the YAML is written, not
the state.

Commands run in-process through :func:`hookplane.cli.main.run`. Golden files show whole
edited files: comments, blank lines, key order and quoting of the rest of the file survive.
``HOOKPLANE_UPDATE_GOLDEN=1`` rewrites them; a missing one fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from hookplane.cli.main import run

GOLDEN = Path(__file__).parent / "golden"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


Invoke = Callable[..., Result]


@pytest.fixture
def hookplane(capsys: pytest.CaptureFixture[str]) -> Invoke:
    def invoke(*args: str | Path) -> Result:
        capsys.readouterr()
        code = run(["--no-color", *(str(a) for a in args)])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


INCIDENTS = """\
# yaml-language-server: $schema=../../schema/hookplane.schema.json
# Incidents: the collection, the on-call source, and who hears about them.
collections:
  incidents:
    schema:
      type: object
      required: [title, severity]
      properties:
        title: {type: string}
        severity: {type: string, enum: [p1, p2, p3]}   # p1 pages someone
        status: {type: string}

sources:
  pagerduty:
    collection: incidents
    base_url: https://api.pagerduty.example
    read: {method: GET, path: "/incidents/{id}"}
    mapping:
      to_external: {status: state}

# --- outbound ---------------------------------------------------------------
triggers:
  # Page the channel on P1s.
  notify-slack:
    collection: incidents
    events: [create, update]
    url: "${env:SLACK_URL}"     # the incoming-webhook URL
    filter: {severity: p1}

  # Keep the audit log complete.
  audit:
    collection: incidents
    events: [create, update, delete]
    url: 'https://audit.example.com/hook'

# --- inbound ----------------------------------------------------------------
inbound_webhooks:
  # Deprecated: the old monitoring tool.
  legacy-monitor:
    collection: incidents
    auth: {type: hmac, header: X-Legacy-Signature}
    ip_allowlist: ["198.51.100.0/24"]

api_keys:
  dashboard: {scopes: [read]}  # read-only board
# end of incidents
"""

TASKS = """\
collections:
  tasks:
    schema:
      type: object
      properties:
        title: {type: string}
triggers:
  task-created:  # the task bot
    collection: tasks
    events: [create]
    url: https://tasks.example.com/hook
"""


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _write(tmp_path / "project", {
        "environments/preview/environment.yaml":
            "name: preview\nkind: preview\npromotes_to: production\n",
        "environments/preview/incidents.yaml": INCIDENTS,
        "environments/preview/tasks.yaml": TASKS,
        "environments/production/environment.yaml": "name: production\nkind: production\n",
        "environments/production/incidents.yaml": INCIDENTS,
    })


def _files(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted((root / "environments").rglob("*")) if p.is_file()}


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("HOOKPLANE_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"golden file {path} is missing (HOOKPLANE_UPDATE_GOLDEN=1 writes it)")
    assert text == path.read_text(encoding="utf-8")


def _incidents(root: Path, env: str = "preview") -> str:
    return (root / f"environments/{env}/incidents.yaml").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- create


def test_create_trigger_keeps_the_file_as_it_was_around_it(
    hookplane: Invoke, project: Path
) -> None:
    result = hookplane(
        "-C", project, "triggers", "create", "preview", "page-oncall",
        "--collection", "incidents", "--url", "https://oncall.example.com/page",
        "--events", '["create","update"]', "--filter", "severity=p1",
        "--filter", 'status=["open","acknowledged"]',
        "--body-template", '{"text":"P1: {{record.title}}"}',
        "--retry", '{"attempts":5,"backoff":"exponential","max_seconds":60}',
        "--header", "X-Team=sre", "--description", "Wake someone up.",
    )
    assert result == Result(0, """\
--- environments/preview/incidents.yaml
+++ environments/preview/incidents.yaml
@@ -33,6 +33,18 @@
     events: [create, update, delete]
     url: 'https://audit.example.com/hook'
\x20
+  page-oncall:
+    description: Wake someone up.
+    collection: incidents
+    events: [create, update]
+    url: https://oncall.example.com/page
+    filter:
+      severity: p1
+      status: [open, acknowledged]
+    body: {text: "P1: {{record.title}}"}
+    headers: {X-Team: sre}
+    retry: {attempts: 5, backoff: exponential, max_seconds: 60}
+
 # --- inbound ----------------------------------------------------------------
 inbound_webhooks:
   # Deprecated: the old monitoring tool.

Note: 2 files declare triggers; added to environments/preview/incidents.yaml, which declares \
collection 'incidents' (choose another with --file).
Added triggers.page-oncall to environments/preview/incidents.yaml.
Next: review the change, commit it, then run 'hookplane plan preview'.
""", "")
    _golden("create-trigger.yaml", _incidents(project))
    assert hookplane("-C", project, "validate", "preview").code == 0


def test_create_inbound_webhook_with_the_seed_shapes(hookplane: Invoke, project: Path) -> None:
    result = hookplane(
        "-C", project, "inbound-webhooks", "create", "preview", "orders-reference",
        "--collection-scope", "incidents",
        "--source-binding", '{"collection":"incidents","source":"pagerduty"}',
        "--ingest-auth", '{"type":"static_header","header":"X-Account-Key"}',
        "--hydration",
        '{"id_path":"record_id","event_path":"event","event_map":{"ResourceDeleted":"delete"}}',
        "--ip-allow", "203.0.113.0/24", "--ip-allow", "2001:db8::/32", "--rate-limit", "10/60",
    )
    assert result.code == 0, result.err
    _golden("create-inbound-webhook.yaml", _incidents(project))


def test_create_api_key_in_a_new_file(hookplane: Invoke, project: Path) -> None:
    (project / "environments/preview/incidents.yaml").write_text(
        INCIDENTS.partition("api_keys:")[0].rstrip("\n") + "\n", encoding="utf-8")
    result = hookplane("-C", project, "api-keys", "create", "preview", "reporting",
                       "--scopes", "read,write:tasks")
    assert result == Result(0, """\
--- /dev/null
+++ environments/preview/api-keys.yaml
@@ -0,0 +1,4 @@
+# yaml-language-server: $schema=../../schema/hookplane.schema.json
+api_keys:
+  reporting:
+    scopes: [read, write:tasks]

Added api_keys.reporting to environments/preview/api-keys.yaml.
Next: review the change, commit it, then run 'hookplane plan preview'.
""", "")


def test_create_into_the_chosen_file(hookplane: Invoke, project: Path) -> None:
    result = hookplane("-C", project, "triggers", "create", "preview", "task-done",
                       "--collection", "tasks", "--url", "https://tasks.example.com/done",
                       "--events", "update", "--file", "environments/preview/tasks.yaml")
    assert result.code == 0, result.err
    assert (project / "environments/preview/tasks.yaml").read_text() == TASKS + """\
  task-done:
    collection: tasks
    events: [update]
    url: https://tasks.example.com/done
"""
    assert _incidents(project) == INCIDENTS


def test_events_as_a_list_or_as_json_write_the_same(hookplane: Invoke, project: Path) -> None:
    first = hookplane("-C", project, "triggers", "create", "preview", "a", "--collection",
                      "incidents", "--url", "https://x.example.com", "--events", "create,update",
                      "--dry-run")
    second = hookplane("-C", project, "triggers", "create", "preview", "a", "--collection",
                       "incidents", "--url", "https://x.example.com", "--events",
                       '["create","update"]', "--dry-run")
    assert first == second and first.code == 0
    assert "+    events: [create, update]\n" in first.out


def test_secret_env_writes_a_reference(hookplane: Invoke, project: Path) -> None:
    result = hookplane("-C", project, "inbound-webhooks", "create", "preview", "stripe-events",
                       "--collection", "incidents", "--auth", "stripe",
                       "--secret-env", "STRIPE_WEBHOOK_SECRET")
    assert result.code == 0, result.err
    assert ('  stripe-events:\n    collection: incidents\n'
            '    auth: {type: stripe, secret: "${env:STRIPE_WEBHOOK_SECRET}"}\n'
            ) in _incidents(project)


def test_dry_run_writes_nothing(hookplane: Invoke, project: Path) -> None:
    before = _files(project)
    result = hookplane("-C", project, "triggers", "create", "preview", "page-oncall",
                       "--collection", "incidents", "--url", "https://oncall.example.com",
                       "--events", "create", "--dry-run")
    assert result.code == 0
    assert "+  page-oncall:\n" in result.out
    assert result.out.endswith(
        "Dry run: nothing written. Without --dry-run this would add triggers.page-oncall to "
        "environments/preview/incidents.yaml.\n")
    assert "Next:" not in result.out
    result = hookplane("-C", project, "triggers", "delete", "preview", "audit", "--dry-run")
    assert result.code == 0
    assert "-  audit:\n" in result.out
    assert _files(project) == before


# --------------------------------------------------------------------------- delete


def test_delete_keeps_the_comments_of_everything_else(hookplane: Invoke, project: Path) -> None:
    result = hookplane("-C", project, "triggers", "delete", "preview", "notify-slack")
    assert result == Result(0, """\
--- environments/preview/incidents.yaml
+++ environments/preview/incidents.yaml
@@ -20,13 +20,6 @@
\x20
 # --- outbound ---------------------------------------------------------------
 triggers:
-  # Page the channel on P1s.
-  notify-slack:
-    collection: incidents
-    events: [create, update]
-    url: "${env:SLACK_URL}"     # the incoming-webhook URL
-    filter: {severity: p1}
-
   # Keep the audit log complete.
   audit:
     collection: incidents

Removed triggers.notify-slack from environments/preview/incidents.yaml.
Next: review the change, commit it, then run 'hookplane plan preview'.
""", "")
    _golden("delete-trigger.yaml", _incidents(project))


def test_delete_the_last_of_a_section_removes_the_section(
    hookplane: Invoke, project: Path
) -> None:
    assert hookplane("-C", project, "inbound-webhooks", "delete", "preview",
                     "legacy-monitor").code == 0
    assert hookplane("-C", project, "api-keys", "delete", "preview", "dashboard").code == 0
    _golden("delete-sections.yaml", _incidents(project))
    assert hookplane("-C", project, "validate", "preview").code == 0


def test_delete_finds_the_file_that_declares_it(hookplane: Invoke, project: Path) -> None:
    result = hookplane("-C", project, "triggers", "delete", "preview", "task-created")
    assert result.code == 0, result.err
    assert "Removed triggers.task-created from environments/preview/tasks.yaml." in result.out
    assert (project / "environments/preview/tasks.yaml").read_text() == (
        TASKS.partition("triggers:")[0])
    assert _incidents(project) == INCIDENTS


def test_delete_the_only_resource_of_a_file_removes_the_file(
    hookplane: Invoke, project: Path
) -> None:
    _write(project, {"environments/preview/keys.yaml": "api_keys:\n  ci: {scopes: [write]}\n"})
    result = hookplane("-C", project, "api-keys", "delete", "preview", "ci")
    assert result.code == 0, result.err
    assert result.out.startswith("--- environments/preview/keys.yaml\n+++ /dev/null\n")
    assert "Note: environments/preview/keys.yaml declared nothing else and is removed." in (
        result.out)
    assert not (project / "environments/preview/keys.yaml").exists()


def test_delete_what_does_not_exist(hookplane: Invoke, project: Path) -> None:
    before = _files(project)
    assert hookplane("-C", project, "triggers", "delete", "preview", "notify-slak") == Result(
        1, "", "Error: environments/preview: no trigger 'notify-slak' (did you mean "
               "'notify-slack'?); triggers declared here: audit, notify-slack, task-created\n")
    assert hookplane("-C", project, "api-keys", "delete", "preview", "ci") == Result(
        1, "", "Error: environments/preview: no API key 'ci'; api_keys declared here: "
               "dashboard\n")
    assert _files(project) == before


# --------------------------------------------------------------------------- refusals


def test_production_refuses_triggers_and_inbound_webhooks(
    hookplane: Invoke, project: Path
) -> None:
    before = _files(project)
    assert hookplane("-C", project, "triggers", "create", "production", "page-oncall",
                     "--collection", "incidents", "--url", "https://oncall.example.com",
                     "--events", "create") == Result(
        1, "", "Error: environments/production: trigger 'page-oncall' cannot be created in "
               "production environment 'production': triggers and inbound webhooks reach "
               "production only by promotion. Create it in environments/preview and run "
               "'hookplane promote preview production'\n")
    assert hookplane("-C", project, "inbound-webhooks", "delete", "production",
                     "legacy-monitor") == Result(
        1, "", "Error: environments/production/incidents.yaml:39:3: inbound webhook "
               "'legacy-monitor' cannot be deleted in production environment 'production': "
               "triggers and inbound webhooks reach production only by promotion. Delete it "
               "in environments/preview and run 'hookplane promote preview production'\n")
    assert _files(project) == before
    # API keys are production's own (SPEC §3): created and deleted there directly
    assert hookplane("-C", project, "api-keys", "create", "production", "ops",
                     "--scopes", "read").code == 0
    assert hookplane("-C", project, "api-keys", "delete", "production", "ops").code == 0
    assert _files(project) == before


def test_a_name_that_exists_is_refused_saying_where(hookplane: Invoke, project: Path) -> None:
    before = _files(project)
    assert hookplane("-C", project, "triggers", "create", "preview", "task-created",
                     "--collection", "tasks", "--url", "https://x.example.com",
                     "--events", "create") == Result(
        1, "", "Error: environments/preview/tasks.yaml:8:3: triggers.task-created already "
               "exists; choose another name, or change it in that file\n")
    assert _files(project) == before


def test_secrets_are_never_options(hookplane: Invoke, project: Path) -> None:
    before = _files(project)
    result = hookplane("-C", project, "inbound-webhooks", "create", "preview", "account",
                       "--collection", "incidents", "--secret", "hunter2-literal")
    assert result == Result(
        1, "", "Error: --secret: secrets are never written in YAML or passed on the command "
               "line. Omit it: Hookplane generates the secret at apply (read it with "
               "'hookplane inbound-webhooks get preview account --show-secret' after apply). "
               "For a secret the sender issues, pass --secret-env NAME instead: it writes "
               "secret: ${env:NAME}, and NAME is read from the environment 'hookplane apply' "
               "runs in\n")
    result = hookplane("-C", project, "inbound-webhooks", "create", "preview", "account",
                       "--collection", "incidents", "--ingest-auth",
                       '{"type":"static_header","header":"X-Key","secret":"hunter2-literal"}')
    assert result.code == 1
    assert result.err.startswith('Error: --ingest-auth: "secret": secrets are never written')
    assert "hunter2" not in result.err + result.out
    assert _files(project) == before


INVALID = [
    pytest.param(
        ["triggers", "create", "preview", "x", "--collection", "incidens", "--url",
         "https://x.example.com", "--events", "create"],
        "Error: triggers.x would leave environment 'preview' invalid; nothing was written "
        "(positions are in the files as they would be):\n"
        "Error:   environments/preview/incidents.yaml:37:17: triggers.x: unknown collection "
        "'incidens' (did you mean 'incidents'?)\n",
        id="unknown-collection"),
    pytest.param(
        ["inbound-webhooks", "create", "preview", "x", "--collection", "incidents",
         "--ip-allow", "203.0.113.0/24", "--ip-allow", "10.0.0.0/33"],
        "Error: inbound_webhooks.x would leave environment 'preview' invalid; nothing was "
        "written (positions are in the files as they would be):\n"
        "Error:   environments/preview/incidents.yaml:45:36: inbound_webhooks.x: "
        "ip_allowlist.1: '10.0.0.0/33' is not an IP address or CIDR range "
        "(e.g. 203.0.113.0/24, 2001:db8::/32)\n",
        id="bad-cidr"),
    pytest.param(
        ["inbound-webhooks", "create", "preview", "x", "--collection", "incidents",
         "--source-binding", "incidents/pagerduty", "--field-mapping",
         '{"to_external":{"status":"state"}}'],
        "Error: --field-mapping: --field-mapping and --source-binding are mutually exclusive: "
        "reuse the source's mapping (--source-binding) or give an inline one "
        "(--field-mapping), not both\n",
        id="both-mappings"),
    pytest.param(
        ["inbound-webhooks", "create", "preview", "x", "--collection", "incidents",
         "--hydration", '{"id_path": record_id}'],
        "Error: --hydration: not valid JSON (Expecting value at column 13); expected an "
        "object such as '{\"id_path\":\"record_id\",\"merge\":true}'\n",
        id="bad-json"),
    pytest.param(
        ["inbound-webhooks", "create", "preview", "x", "--collection", "incidents",
         "--field-mapping", '["status"]'],
        "Error: --field-mapping: expected a JSON object such as "
        "'{\"to_external\":{\"status\":\"state\"}}'\n",
        id="json-not-an-object"),
    pytest.param(
        ["inbound-webhooks", "create", "preview", "x", "--collection", "incidents",
         "--rate-limit", "30/minute"],
        "Error: --rate-limit: '30/minute' is not REQUESTS/SECONDS with both above zero "
        "(e.g. 30/60: 30 requests a minute per client IP)\n",
        id="bad-rate-limit"),
    pytest.param(
        ["triggers", "create", "preview", "x", "--collection", "incidents", "--url",
         "https://x.example.com", "--events", "create,updated,archive"],
        "Error: --events: 'updated' is not an event (did you mean 'update'?); events are "
        "create, update, delete, config.applied, config.promoted, delivery.failed, "
        "trigger.disabled\n"
        "Error: --events: 'archive' is not an event; events are create, update, delete, "
        "config.applied, config.promoted, delivery.failed, trigger.disabled\n",
        id="events-outside-the-set"),
    pytest.param(
        ["triggers", "create", "preview", "x", "--collection", "incidents", "--url",
         "https://x.example.com", "--events", '["create",'],
        "Error: --events: not valid JSON (Expecting value at column 11); write "
        "'[\"create\",\"update\"]'\n",
        id="events-bad-json"),
    pytest.param(
        ["inbound-webhooks", "create", "preview", "x", "--collection", "incidents",
         "--auth", "stripee", "--source-binding", "incidents"],
        "Error: --auth: 'stripee' is not an authentication type (did you mean 'stripe'?); "
        "types are hmac, static_header, bearer, standard_webhooks, svix, github, gitlab, "
        "bitbucket, stripe, paddle, shopify, square, slack, discord, zoom, twitch, meta, "
        "twilio, sendgrid, mailgun, pagerduty, zendesk, intercom, hubspot, linear, typeform, "
        "dropbox, msgraph\n"
        "Error: --source-binding: 'incidents' is not COLLECTION/SOURCE; write "
        "incidents/pagerduty or '{\"collection\":\"incidents\",\"source\":\"pagerduty\"}'\n",
        id="problems-are-reported-together"),
    pytest.param(
        ["inbound-webhooks", "create", "preview", "x", "--collection", "incidents",
         "--source-binding", "incidents/pagerdooty"],
        "Error: inbound_webhooks.x would leave environment 'preview' invalid; nothing was "
        "written (positions are in the files as they would be):\n"
        "Error:   environments/preview/incidents.yaml:45:53: inbound_webhooks.x: unknown "
        "source 'pagerdooty' (did you mean 'pagerduty'?)\n",
        id="unknown-source"),
    pytest.param(
        ["triggers", "create", "preview", "x", "--collection", "incidents", "--url",
         "https://x.example.com", "--events", "create", "--file", "../production/x.yaml"],
        "Error: --file: '../production/x.yaml' is not a file of environments/preview; give "
        "a file name in it, e.g. --file incidents.yaml\n",
        id="file-outside-the-environment"),
    pytest.param(
        ["triggers", "create", "prevew", "x", "--url", "https://x.example.com", "--events",
         "create"],
        "Error: environments/prevew: no environment 'prevew' (did you mean 'preview'?); "
        "environments here: preview, production\n1 error found.\n",
        id="unknown-environment"),
]


@pytest.mark.parametrize(("args", "error"), INVALID)
def test_invalid_options_write_nothing(hookplane: Invoke, project: Path, args: list[str],
                                       error: str) -> None:
    before = _files(project)
    assert hookplane("-C", project, *args) == Result(1, "", error)
    assert _files(project) == before


def test_an_invalid_environment_is_not_edited(hookplane: Invoke, project: Path) -> None:
    _write(project, {"environments/preview/broken.yaml": "triggers:\n  y: {evnts: [create]}\n"})
    before = _files(project)
    result = hookplane("-C", project, "api-keys", "create", "preview", "k", "--scopes", "read")
    assert result == Result(1, "", (
        "Error: environments/preview is not valid as it stands; fix it first (hookplane "
        "validate preview). Nothing was written:\n"
        "Error:   environments/preview/broken.yaml:2:7: triggers.y: unknown key 'evnts' "
        "(did you mean 'events'?)\n"))
    assert _files(project) == before


# --------------------------------------------------------------------------- end to end


def test_created_resources_are_planned_and_applied(
    hookplane: Invoke, project: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKPLANE_DATABASE_URL", database_url)
    monkeypatch.setenv("SLACK_URL", "https://hooks.slack.example/T0/B0/secret-url")
    assert hookplane("-C", project, "apply", "preview", "--auto-approve").code == 0

    assert hookplane("-C", project, "triggers", "create", "preview", "page-oncall",
                     "--collection", "incidents", "--url", "https://oncall.example.com/page",
                     "--events", "create,update", "--filter", "severity=p1").code == 0
    assert hookplane("-C", project, "inbound-webhooks", "create", "preview", "orders",
                     "--collection", "incidents", "--source-binding", "incidents/pagerduty",
                     "--auth", "static_header", "--header", "X-Account-Key",
                     "--hydration", '{"id_path":"record_id"}').code == 0
    assert hookplane("-C", project, "triggers", "delete", "preview", "audit").code == 0

    plan = hookplane("-C", project, "plan", "preview", "--detailed-exitcode")
    assert plan.code == 2, plan.err
    assert '  + trigger "page-oncall" {' in plan.out
    assert '  + inbound_webhook "orders" {' in plan.out
    assert '  - trigger "audit" {' in plan.out
    assert plan.out.rstrip().endswith(
        "Plan: 2 to add, 0 to change, 1 to destroy.")

    applied = hookplane("-C", project, "apply", "preview", "--auto-approve")
    assert applied.code == 0, applied.err
    assert "Apply complete! Resources: 2 added, 0 changed, 0 replaced, 1 destroyed." in (
        applied.out)
    assert hookplane("-C", project, "plan", "preview", "--detailed-exitcode").code == 0
    listed = hookplane("-C", project, "inbound-webhooks", "get", "preview", "orders")
    assert listed.code == 0 and "auth_type: static_header" in listed.out


HAND_WRITTEN = """\
triggers:
    # written by hand: four-space indentation, a flow mapping over three lines
    notify:
        collection: incidents
        events: [create]
        url: 'https://hooks.example.com/notify'
        filter: {severity: p1,
                 status: open}
        headers: {X-Team: sre}   # who owns it
"""


def test_create_and_delete_leave_every_other_byte_as_it_was(
    hookplane: Invoke, project: Path
) -> None:
    """`triggers create` joined a flow mapping written over three lines into one line and
    re-indented the file; now only the new entry's lines are added (in the file's own
    indentation), and deleting it gives the file back byte for byte."""
    path = project / "environments" / "preview" / "hand.yaml"
    path.write_text(HAND_WRITTEN)
    created = hookplane("-C", project, "triggers", "create", "preview", "page",
                        "--collection", "incidents", "--url", "https://oncall.example.com/p",
                        "--events", "create,update,delete",
                        "--file", "environments/preview/hand.yaml")
    assert created.code == 0, created
    assert "re-indents" not in created.out + created.err
    assert path.read_text() == HAND_WRITTEN + (
        "    page:\n"
        "        collection: incidents\n"
        "        events: [create, update, delete]\n"
        "        url: https://oncall.example.com/p\n")
    deleted = hookplane("-C", project, "triggers", "delete", "preview", "page")
    assert deleted.code == 0, deleted
    assert path.read_text() == HAND_WRITTEN
