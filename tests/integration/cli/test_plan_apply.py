"""plan → apply → plan → promote → apply, through the real CLI, on SQLite and PostgreSQL.

Every CLI output in this module is collected and scanned for every secret the store holds
at the end of each test: a secret may only appear in the output of the commands whose job
is to print it (``get --show-secret``, ``reveal``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hookplane.cli.main import run
from hookplane.state.store import Store

REPO = Path(__file__).resolve().parents[3]
ENV_VALUES = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.example/T00/B00/slack-url-secret-value",
    "PAGERDUTY_TOKEN": "pagerduty-api-token-secret-value",
    "AGENT_RUNNER_TOKEN": "agent-runner-token-secret-value",
    "PAGERDUTY_WEBHOOK_SECRET": "pagerduty-webhook-secret-value",
}
REVEALING = ("--show-secret", "reveal")


@dataclass
class Cli:
    root: Path
    capsys: pytest.CaptureFixture[str]
    outputs: list[tuple[list[str], str]] = field(default_factory=list)

    def __call__(self, *args: str, code: int = 0) -> str:
        argv = ["-C", str(self.root), "--no-color", *args]
        status = run(argv)
        captured = self.capsys.readouterr()
        text = captured.out + captured.err
        self.outputs.append((list(args), text))
        assert status == code, f"hookplane {' '.join(args)} exited {status}:\n{text}"
        return text


def _all_secrets(root: Path, url: str) -> list[str]:
    """Every secret value the state holds, plus the ${env:…} values used in the tests."""
    found = list(ENV_VALUES.values())
    with Store.open(url, root=root) as store:
        for environment in store.environments():
            for resource in store.snapshot(environment).resources.values():
                for kind in resource.generated:
                    if kind in ("signing_secret", "hmac_secret"):
                        found.append(store.read_secret(environment, resource.kind,
                                                       resource.name, kind))
    return found


@pytest.fixture
def project(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "environments", root / "environments")
    monkeypatch.setenv("HOOKPLANE_DATABASE_URL", database_url)
    monkeypatch.setenv("USER", "alice")
    for name in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV_VALUES.items():
        monkeypatch.setenv(name, value)
    cli = Cli(root, capsys)
    yield cli
    secrets = _all_secrets(root, database_url)
    tokens = [o for a, o in cli.outputs if "reveal" in a]
    secrets += [line.strip() for text in tokens for line in text.splitlines()
                if line.startswith("hpt_")]
    for args, text in cli.outputs:
        if any(flag in args for flag in REVEALING):
            continue
        for secret in secrets:
            assert secret not in text, f"a secret leaked into 'hookplane {' '.join(args)}'"


def test_demo_flow(project: Cli) -> None:
    out = project("plan", "preview", "--detailed-exitcode", code=2)
    assert out.rstrip().endswith("Plan: 15 to add, 0 to change, 0 to destroy.")
    out = project("apply", "preview", "--auto-approve")
    assert "Apply complete! Resources: 15 added, 0 changed, 0 replaced, 0 destroyed." in out
    assert "hookplane triggers get preview notify-slack-p1 --show-secret" in out
    assert "hookplane api-keys reveal preview ci-bot" in out
    out = project("plan", "preview", "--detailed-exitcode")
    assert out == "No changes. Environment 'preview' matches the configuration.\n"

    out = project("promote", "preview", "production")
    assert "Promoted preview → production: 3 file(s) written." in out
    assert "Plan: 15 to add" in out
    project("apply", "production", "--auto-approve")
    project("plan", "production", "--detailed-exitcode")

    history = project("history", "production")
    lines = history.splitlines()
    assert " apply by alice" in lines[0] and "add=15" in lines[0]
    assert " promote by alice" in lines[1] and "from=preview" in lines[1]


def test_production_secrets_are_its_own(project: Cli, database_url: str) -> None:
    project("apply", "preview", "--auto-approve")
    project("promote", "preview", "production")
    project("apply", "production", "--auto-approve")
    preview = project("triggers", "get", "preview", "notify-slack-p1", "--show-secret", "--json")
    production = project("triggers", "get", "production", "notify-slack-p1", "--show-secret",
                         "--json")
    a, b = json.loads(preview), json.loads(production)
    assert a["secret"].startswith("whsec_") and b["secret"].startswith("whsec_")
    assert a["secret"] != b["secret"] and a["id"] != b["id"]
    with Store.open(database_url, root=project.root) as store:
        snapshot = store.snapshot("production")
        preview_secret = a["secret"]
        for resource in snapshot.resources.values():
            for kind in resource.generated:
                if kind != "token":
                    value = store.read_secret("production", resource.kind, resource.name, kind)
                    assert value != preview_secret


def test_tokens_are_revealed_once(project: Cli) -> None:
    project("apply", "preview", "--auto-approve")
    token = project("api-keys", "reveal", "preview", "ci-bot").splitlines()[0]
    assert token.startswith("hpt_") and len(token) > 20
    again = project("api-keys", "reveal", "preview", "ci-bot", code=1)
    assert "already revealed" in again and token not in again
    info = json.loads(project("api-keys", "get", "preview", "ci-bot", "--json"))
    assert info["token_prefix"] == token[:12]
    assert token not in json.dumps(info)


def test_saved_plan_and_stale_plan(project: Cli, tmp_path: Path) -> None:
    planfile = tmp_path / "preview.plan"
    project("plan", "preview", "--out", str(planfile))
    text = planfile.read_text()
    for value in ENV_VALUES.values():
        assert value not in text
    stale = tmp_path / "stale.plan"
    shutil.copy(planfile, stale)
    out = project("apply", "preview", str(planfile))
    assert "Apply complete! Resources: 15 added" in out
    out = project("apply", "preview", str(stale), code=1)
    assert "Saved plan is stale" in out and "Run 'hookplane plan preview' again" in out


def test_changed_secret_value_shows_as_sensitive_update(project: Cli,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    project("apply", "preview", "--auto-approve")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.example/T00/B00/rotated-value")
    out = project("plan", "preview", "--detailed-exitcode", code=2)
    assert '~ url                         = "${env:SLACK_WEBHOOK_URL}" (sensitive value) ' \
           "# value changed" in out
    assert "rotated-value" not in out


def test_unset_variable_fails_apply_before_any_write(project: Cli,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLACK_WEBHOOK_URL")
    out = project("apply", "preview", "--auto-approve", code=1)
    assert "environment variable SLACK_WEBHOOK_URL is not set" in out
    assert "triggers.notify-slack-p1" in out
    assert project("history", "preview") == "No history for 'preview' yet.\n"


def test_production_create_refused(project: Cli) -> None:
    extra = project.root / "environments/production/extra.yaml"
    extra.write_text(textwrap.dedent("""\
        collections:
          things:
            schema: {type: object, properties: {name: {type: string}}}
        triggers:
          direct:
            collection: things
            events: [create]
            url: https://hooks.example.com/x
        """))
    out = project("plan", "production", code=1)
    assert ("Error: environments/production/extra.yaml:5:3: trigger 'direct' cannot be created "
            "in production environment 'production': environments/preview does not declare "
            "it. Create it in environments/preview and run 'hookplane promote preview "
            "production'") in out


def test_an_invalid_preview_is_named_when_production_needs_it(project: Cli) -> None:
    """Production's plan said no environment "declares promotes_to" when preview (which
    does) was merely invalid; it now says that preview is invalid and where."""
    assert "No changes" in project("plan", "production")
    broken = project.root / "environments/preview/broken.yaml"
    broken.write_text("triggers:\n  oops: [\n")
    # production's plan needs nothing from preview yet: an invalid preview does not block it
    assert "No changes" in project("plan", "production")
    broken.unlink()
    project("promote", "preview", "production")
    broken.write_text("triggers:\n  oops: [\n")
    out = project("plan", "production", code=1)
    assert "none declares promotes_to" not in out
    assert ("environments/preview promotes to 'production' and is invalid, so 'production' "
            "cannot be checked against it; fix it first (hookplane validate preview)") in out
    assert "environments/preview/broken.yaml:3:1: invalid YAML" in out


def test_apply_without_terminal_needs_approval(project: Cli) -> None:
    out = project("apply", "preview", code=1)
    assert "no terminal to ask on; pass --auto-approve" in out


def test_json_plan(project: Cli) -> None:
    document = json.loads(project("plan", "preview", "--json"))
    assert document["format_version"] == "1.0"
    assert document["summary"]["add"] == 15
    assert {c["actions"][0] for c in document["resource_changes"]} == {"create"}


def test_lock_held_by_another_process(project: Cli, database_url: str) -> None:
    with Store.open(database_url, root=project.root) as store:
        lock = store.acquire_lock("preview", who="bob@ci", operation="apply")
        env = {**os.environ, "HOOKPLANE_DATABASE_URL": database_url}
        done = subprocess.run(
            [sys.executable, "-m", "hookplane.cli", "-C", str(project.root), "apply",
             "preview", "--auto-approve"],
            capture_output=True, text=True, env=env, timeout=120, check=False)
        assert done.returncode == 1, done.stderr
        assert "Error acquiring the state lock" in done.stderr
        assert "bob@ci" in done.stderr and lock.id in done.stderr
        store.release_lock("preview", lock.id)
    assert "Apply complete!" in project("apply", "preview", "--auto-approve")


def test_force_unlock(project: Cli, database_url: str) -> None:
    with Store.open(database_url, root=project.root) as store:
        lock = store.acquire_lock("preview", who="crashed-run", operation="apply")
    out = project("force-unlock", "preview", lock.id)
    assert "successfully unlocked" in out
    assert "Apply complete!" in project("apply", "preview", "--auto-approve")
