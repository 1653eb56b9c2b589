"""The whole demo with generated secrets — plan, apply, promote, apply, serve, deliveries to
a local receiver, accepted and rejected requests (some carrying real secrets in the wrong
place), secret rotation — and then every artifact is scanned for every secret value and
token: CLI output, the server's log (debug level), HTTP bodies and headers, plan files, the
YAML files, the audit log and every column of every row of the raw state database.

Only the commands whose job is to print a secret (``--show-secret``, ``reveal``,
``rotate-secret``) may print one. The database is also opened without its key: its secrets
cannot be read. Production's generated secrets are its own, never preview's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets as random_secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from hookplane.cli.main import run
from hookplane.errors import SecretError
from hookplane.state.store import Store
from tests.hardening.figures import record
from tests.integration.runtime.harness import Peer, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
REVEALING = ("--show-secret", "reveal", "rotate-secret")


@dataclass
class Demo:
    root: Path
    url: str
    capsys: pytest.CaptureFixture[str]
    artifacts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    """kind -> [(label, text)] of everything that will be scanned."""
    secrets: set[str] = field(default_factory=set)

    def keep(self, kind: str, label: str, text: str) -> None:
        self.artifacts.setdefault(kind, []).append((label, text))

    def cli(self, *args: str, code: int = 0) -> str:
        status = run(["-C", str(self.root), "--no-color", *args])
        captured = self.capsys.readouterr()
        text = captured.out + captured.err
        assert status == code, f"hookplane {' '.join(args)} exited {status}:\n{text[-3000:]}"
        if not any(flag in args for flag in REVEALING):
            self.keep("CLI output", "hookplane " + " ".join(args), text)
        return text

    def learn_generated(self) -> None:
        """Every generated secret the state holds now (kept: rotated ones stay secrets)."""
        with Store.open(self.url, root=self.root) as store:
            for environment in store.environments():
                for resource in store.snapshot(environment).resources.values():
                    for kind in resource.generated:
                        if kind != "token":
                            self.secrets.add(store.read_secret(environment, resource.kind,
                                                               resource.name, kind))


def _hexmac(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
         capsys: pytest.CaptureFixture[str]) -> Iterator[Demo]:
    root = tmp_path / "project"
    root.mkdir()
    shutil.copytree(REPO / "environments", root / "environments")
    state = tmp_path / "state"
    state.mkdir()
    url = f"sqlite:///{state / 'state.db'}"
    monkeypatch.setenv("HOOKPLANE_DATABASE_URL", url)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.setenv("USER", "alice")
    for name in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "HOOKPLANE_ADMIN_TOKEN",
                 "HOOKPLANE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    yield Demo(root, url, capsys)


def test_no_secret_appears_anywhere(demo: Demo, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = Peer()
    receiver.routes["*"] = lambda _seen: (200, {"ok": True})
    receiver.start()
    hidden_path = random_secrets.token_urlsafe(18)
    environ = {
        "SLACK_WEBHOOK_URL": f"{receiver.url}/services/T00/B00/{hidden_path}",
        "PAGERDUTY_TOKEN": "pd_" + random_secrets.token_urlsafe(24),
        "AGENT_RUNNER_TOKEN": "ar_" + random_secrets.token_urlsafe(24),
        "PAGERDUTY_WEBHOOK_SECRET": random_secrets.token_urlsafe(24),
    }
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    demo.secrets |= set(environ.values()) | {hidden_path}
    admin_token = "adm_" + random_secrets.token_urlsafe(24)
    demo.secrets.add(admin_token)

    # ---------------------------------------------------------------- plan, apply, promote
    plan_file = tmp_path / "preview.plan"
    demo.cli("validate")
    demo.cli("plan", "preview", "--out", str(plan_file))
    demo.cli("plan", "preview", "--json")
    demo.cli("apply", "preview", str(plan_file))
    demo.keep("plan files", plan_file.name, plan_file.read_text())
    tokens = {
        "ci-bot": demo.cli("api-keys", "reveal", "preview", "ci-bot").split()[0],
        "dashboard": demo.cli("api-keys", "reveal", "preview", "dashboard").split()[0],
        "agent": demo.cli("inbound-webhooks", "reveal", "preview",
                          "pr-review-agent").split()[0],
    }
    assert all(token.startswith("hpt_") for token in tokens.values()), tokens
    demo.secrets |= set(tokens.values())
    hmac_secret = json.loads(demo.cli("inbound-webhooks", "get", "preview", "deploy-failed",
                                      "--show-secret", "--json"))["secret"]
    github_secret = json.loads(demo.cli("inbound-webhooks", "get", "preview", "github-pushes",
                                        "--show-secret", "--json"))["secret"]
    demo.cli("triggers", "get", "preview", "notify-slack-p1", "--show-secret", "--json")
    demo.learn_generated()
    demo.cli("promote", "preview", "production")
    production_plan = tmp_path / "production.plan"
    demo.cli("plan", "production", "--out", str(production_plan))
    demo.keep("plan files", production_plan.name, production_plan.read_text())
    demo.cli("apply", "production", "--auto-approve")
    demo.secrets.add(demo.cli("api-keys", "reveal", "production", "ci-bot").split()[0])
    demo.learn_generated()
    with Store.open(demo.url, root=demo.root) as store:
        hooks = {(env, r.name): r.id for env in ("preview", "production")
                 for r in store.snapshot(env).resources.values()
                 if r.kind == "inbound_webhooks"}
        production_secrets = {store.read_secret("production", r.kind, r.name, kind)
                              for r in store.snapshot("production").resources.values()
                              for kind in r.generated if kind != "token"}
        preview_secrets = {store.read_secret("preview", r.kind, r.name, kind)
                           for r in store.snapshot("preview").resources.values()
                           for kind in r.generated if kind != "token"}
    assert production_secrets and not production_secrets & preview_secrets

    # ---------------------------------------------------------------- serve, with traffic
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "serve.log"
    env = {**os.environ, "HOOKPLANE_ADMIN_TOKEN": admin_token,
           "HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8"}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "hookplane.cli", "-C", str(demo.root), "serve", "--port",
             str(port), "--reload-interval", "0.2", "--log-level", "debug"],
            env=env, stdout=log, stderr=log)
    answers: list[tuple[str, httpx.Response]] = []
    try:
        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=30)
        with httpx.Client(base_url=base, timeout=15, trust_env=False) as http:
            def call(label: str, method: str, path: str, **kwargs: object) -> httpx.Response:
                response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
                answers.append((f"{label}: {method} {path}", response))
                return response

            def ingest(name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
                return call(name, "POST", f"/inbound/preview/{hooks[('preview', name)]}/ingest",
                            content=body,
                            headers={"Content-Type": "application/json", **headers})

            records = "/api/preview/collections/incidents/records"
            created = call("create", "POST", records, json={"title": "Checkout down",
                                                             "severity": "p1"},
                           headers={"Authorization": f"Bearer {tokens['ci-bot']}"})
            assert created.status_code == 201, created.text
            record_id = created.json()["id"]
            call("update", "PATCH", f"{records}/{record_id}", json={"status": "acknowledged"},
                 headers={"Authorization": f"Bearer {tokens['ci-bot']}"})
            assert call("read", "GET", records, headers={
                "Authorization": f"Bearer {tokens['dashboard']}"}).status_code == 200
            deploy = json.dumps({"environment": "prod", "title": "deploy failed",
                                 "commit": "abc123", "author": "bo"}).encode()
            assert ingest("deploy-failed", deploy,
                          {"X-Signature": _hexmac(hmac_secret, deploy)}).status_code == 201
            push = json.dumps({"repository": {"full_name": "acme/api"}, "ref": "main",
                               "pusher": {"name": "bo"}, "head_commit": {"id": "abc"}}).encode()
            assert ingest("github-pushes", push, {
                "X-Hub-Signature-256": "sha256=" + _hexmac(github_secret, push),
                "X-GitHub-Delivery": "d-1"}).status_code == 201
            assert ingest("pr-review-agent", b'{"pr_number": 7, "repository": "acme/api"}',
                          {"Authorization": f"Bearer {tokens['agent']}"}).status_code == 202
            pd = b'{"record_id": "PD1", "event": "ResourceUpdated"}'
            assert ingest("pagerduty-incidents", pd, {"X-PagerDuty-Signature": "v1=" + _hexmac(
                environ["PAGERDUTY_WEBHOOK_SECRET"], pd)}).status_code == 403  # allowlist
            # rejected requests carrying real secrets in the wrong places
            assert ingest("deploy-failed", deploy,
                          {"X-Signature": environ["PAGERDUTY_TOKEN"]}).status_code == 401
            assert ingest("deploy-failed", deploy,
                          {"X-Signature": hmac_secret}).status_code == 401
            assert ingest("pr-review-agent", b"{}", {
                "Authorization": f"Bearer {tokens['ci-bot']}"}).status_code == 401
            assert ingest("github-pushes", push, {
                "X-Hub-Signature-256": github_secret,
                "Cookie": f"session={admin_token}"}).status_code == 401
            assert call("wrong key", "POST", records, json={"title": "x", "severity": "p1"},
                        headers={"Authorization": f"Bearer {tokens['agent']}"}
                        ).status_code == 401
            assert call("wrong admin", "GET", "/admin/preview/triggers", headers={
                "Authorization": f"Bearer {environ['AGENT_RUNNER_TOKEN']}"}).status_code == 401
            assert call("bad json", "POST", records, content=b'{"title": "' + tokens[
                "dashboard"].encode() + b'"', headers={
                "Authorization": f"Bearer {tokens['ci-bot']}",
                "Content-Type": "application/json"}).status_code == 400
            admin = {"Authorization": f"Bearer {admin_token}"}
            for path in ("/admin/preview/triggers", "/admin/preview/inbound-webhooks",
                         "/admin/preview/triggers/notify-slack-p1/deliveries",
                         "/admin/preview/triggers/sync-pagerduty/deliveries",
                         "/admin/preview/inbound-webhooks/deploy-failed/deliveries",
                         "/metrics", "/readyz", "/schema/openapi.json"):
                assert call("admin", "GET", path, headers=admin).status_code == 200, path
            assert call("admin", "POST", "/admin/preview/triggers/notify-slack-p1/test",
                        headers=admin).status_code == 200
            # P1 create + update + test reach the local receiver
            wait_for(lambda: len(receiver.seen) >= 3, timeout=30)
            # rotations print the new secret once; both stay secrets
            demo.cli("inbound-webhooks", "rotate-secret", "preview", "deploy-failed")
            demo.cli("triggers", "rotate-secret", "preview", "notify-slack-p1")
            demo.learn_generated()
            time.sleep(0.5)  # the runtime reloads the rotated secrets
            call("update", "PATCH", f"{records}/{record_id}", json={"title": "Checkout down!"},
                 headers={"Authorization": f"Bearer {tokens['ci-bot']}"})
            wait_for(lambda: len(receiver.seen) >= 4, timeout=30)
        for args in (("triggers", "list", "preview"), ("inbound-webhooks", "list", "preview"),
                     ("triggers", "deliveries", "preview", "notify-slack-p1"),
                     ("triggers", "deliveries", "preview", "sync-pagerduty"),
                     ("inbound-webhooks", "deliveries", "preview", "deploy-failed"),
                     ("inbound-webhooks", "deliveries", "preview", "pr-review-agent"),
                     ("inbound-webhooks", "get", "preview", "deploy-failed"),
                     ("triggers", "get", "preview", "notify-slack-p1"),
                     ("records", "list", "preview", "incidents"),
                     ("history", "preview"), ("history", "production")):
            demo.cli(*args)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        receiver.stop()
    assert all(s.path == f"/services/T00/B00/{hidden_path}" for s in receiver.seen)

    # ---------------------------------------------------------------- collect the artifacts
    demo.keep("server log", "hookplane serve --log-level debug", log_path.read_text("utf-8",
                                                                                  "replace"))
    for label, response in answers:
        demo.keep("HTTP responses", label, f"{response.status_code} {dict(response.headers)}\n"
                  f"{response.text}")
    for path in sorted((demo.root / "environments").rglob("*")):
        if path.is_file():
            demo.keep("YAML files", str(path.relative_to(demo.root)), path.read_text())
    with Store.open(demo.url, root=demo.root) as store:
        for environment in store.environments():
            for entry in store.history(environment):
                demo.keep("audit log", f"{environment} #{entry.id}", repr(entry))
    database = Path(demo.url.removeprefix("sqlite:///"))
    key = (database.parent / "secret.key").read_text().strip()
    demo.secrets.add(key)
    rows = 0
    with sqlite3.connect(database) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                rows += 1
                text = " ".join(v.decode("latin-1") if isinstance(v, bytes) else str(v)
                                for v in row)
                demo.keep("raw database rows", table, text)

    keep = os.environ.get("HOOKPLANE_HARDENING_ARTIFACTS")
    if keep:  # to read what was scanned
        folder = Path(keep)
        folder.mkdir(parents=True, exist_ok=True)
        for kind, items in demo.artifacts.items():
            (folder / f"{kind.replace(' ', '-')}.txt").write_text(
                "\n\n".join(f"==== {label}\n{text}" for label, text in items))

    # ---------------------------------------------------------------- scan
    secrets = sorted(s for s in demo.secrets if s)
    assert len(secrets) >= 20, secrets  # env values, generated secrets, tokens, keys
    leaks = [(kind, label, secret[:6] + "…") for kind, items in demo.artifacts.items()
             for label, text in items for secret in secrets if secret in text]
    assert not leaks, leaks
    # also not in a readable encoding (base64 of a value, as a Basic header would carry it)
    encoded = [base64.b64encode(s.encode()).decode() for s in secrets]
    assert not [e for items in demo.artifacts.values() for _, text in items
                for e in encoded if e in text]

    # ---------------------------------------------------------------- without the key
    copy = tmp_path / "stolen"
    copy.mkdir()
    shutil.copy(database, copy / "state.db")
    with pytest.raises(SecretError, match="does not match"):
        Store.open(f"sqlite:///{copy / 'state.db'}", root=copy)

    record("secrets", "whole demo (SQLite)", secret_values=len(secrets),
           artifacts={kind: len(items) for kind, items in sorted(demo.artifacts.items())},
           bytes_scanned=sum(len(text) for items in demo.artifacts.values()
                             for _, text in items),
           database_tables=len(tables), database_rows=rows,
           http_requests=len(answers), deliveries_received=len(receiver.seen), leaks=0,
           result="no secret in any artifact; database unreadable without its key; "
                  "production secrets distinct from preview")
