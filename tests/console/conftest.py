"""A real runtime (``create_app`` under uvicorn on 127.0.0.1, SQLite state), a real local
receiver, and Debian's Chromium driven by Playwright.

Chromium comes from ``apt-get install chromium``; Playwright's own browser downloads are not
used. Without ``/usr/bin/chromium`` (or the ``playwright`` package) the browser tests skip
with what to install — and fail under ``HOOKPLANE_TESTS_REQUIRE_TOOLS=1``, which ``.ci/run``
sets after installing both.
"""

from __future__ import annotations

import json
import os
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookplane.apply import apply
from hookplane.config import load_environment
from hookplane.plan import diff
from hookplane.runtime.app import create_app
from hookplane.state.store import AuditRecord, Store
from tests.conftest import missing_tool
from tests.integration.runtime.harness import AppServer, Peer, Seen, client, wait_for

ADMIN_TOKEN = "console-admin-token-for-tests-0123456789"
URL_SECRET = "url-secret-value-9f3a"
HEADER_SECRET = "header-secret-value-77c1"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(os.environ.get("HOOKPLANE_TEST_ARTIFACTS", "")) if os.environ.get(
    "HOOKPLANE_TEST_ARTIFACTS") else None
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images" / "console"
ENVIRON = {"ONCALL_TOKEN": HEADER_SECRET, "ONCALL_URL_KEY": URL_SECRET}
COMMIT = "4f2c9e1d7b3a5c8e9f0a1b2c3d4e5f6a7b8c9d0e"


def project_yaml(receiver: str) -> str:
    return textwrap.dedent(f"""\
        collections:
          incidents:
            description: Incidents raised by monitoring and by people.
            schema:
              type: object
              required: [title, severity]
              properties:
                title: {{type: string}}
                severity: {{type: string, enum: [p1, p2, p3]}}
                team: {{type: string}}
            events:
              incident.escalated:
                description: Became a P1.
                when: {{severity: p1}}
          notes:
            schema:
              type: object
              properties:
                text: {{type: string}}
        triggers:
          notify-oncall:
            description: Tell the on-call bridge about every incident.
            collection: incidents
            events: [create, update]
            url: "{receiver}/hooks/notify?key=${{env:ONCALL_URL_KEY}}"
            headers: {{Authorization: "Bearer ${{env:ONCALL_TOKEN}}", X-Team: platform}}
          flaky-sink:
            collection: incidents
            events: [create]
            url: {receiver}/hooks/flaky
          dead-end:
            description: A receiver that is down until a test says otherwise.
            collection: notes
            events: [create]
            url: {receiver}/hooks/dead
            circuit_breaker: {{failures: 2, cooldown: 1h}}
        inbound_webhooks:
          monitoring:
            description: Alerts from the monitoring system (HMAC signed).
            collection: incidents
            auth: {{type: hmac, header: X-Signature}}
            max_body_bytes: 400
          chatops:
            collection: incidents
            auth: {{type: bearer}}
        api_keys:
          writer: {{scopes: [read, write]}}
        """)


@dataclass
class Receiver:
    """The local receiver: /hooks/notify answers 200 (202 to a test event), /hooks/flaky
    answers ``flaky_status``."""

    peer: Peer
    flaky_status: int = 500
    dead_status: int = 503
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self, path: str) -> list[Seen]:
        return [s for s in list(self.peer.seen) if s.path.split("?")[0] == path]


@dataclass
class Console:
    root: Path
    database_url: str
    server: AppServer
    receiver: Receiver
    http: httpx.Client
    api_token: str
    hooks: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def store(self) -> Store:
        return Store.open(self.database_url, root=self.root)

    def create_incident(self, title: str, severity: str = "p2") -> dict[str, Any]:
        response = self.http.post(
            "/api/preview/collections/incidents/records",
            json={"title": title, "severity": severity},
            headers={"Authorization": f"Bearer {self.api_token}"})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def deliveries(self, trigger: str, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else {}
        response = self.http.get(f"/admin/preview/triggers/{trigger}/deliveries", params=params,
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["data"]
        return rows


def _apply(root: Path, database_url: str, environment: str, *, git_commit: str | None) -> None:
    with Store.open(database_url, root=root) as store:
        config = load_environment(root, environment)
        plan = diff(config, store.snapshot(environment), environ=ENVIRON,
                    fingerprint=store.fingerprint)
        apply(plan, store, environ=ENVIRON, actor="ci-bot", git_commit=git_commit)


def _write_project(root: Path, receiver: str) -> None:
    preview = root / "environments" / "preview"
    preview.mkdir(parents=True)
    (preview / "environment.yaml").write_text(
        "name: preview\nkind: preview\npromotes_to: production\n")
    (preview / "incidents.yaml").write_text(project_yaml(receiver))
    production = root / "environments" / "production"
    production.mkdir(parents=True)
    (production / "environment.yaml").write_text("name: production\nkind: production\n")
    (production / "incidents.yaml").write_text(textwrap.dedent("""\
        collections:
          incidents:
            schema:
              type: object
              properties:
                title: {type: string}
        """))


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("console")
    receiver = Receiver(Peer())

    def notify(seen: Seen) -> tuple[int, Any]:
        body = seen.json() if seen.body else {}
        if isinstance(body, dict) and body.get("test"):
            return 202, {"received": "test event", "id": body.get("id")}
        return 200, {"ok": True}

    receiver.peer.routes["/hooks/notify"] = notify
    receiver.peer.routes["/hooks/flaky"] = lambda _: (receiver.flaky_status,
                                                      {"error": "sink unavailable"})
    receiver.peer.routes["/hooks/dead"] = lambda _: (receiver.dead_status, {"down": True})
    receiver.peer.start()
    database_url = f"sqlite:///{root / 'state.db'}"
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.delenv("HOOKPLANE_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("HOOKPLANE_ALLOW_NETWORKS", "127.0.0.0/8")
    _write_project(root, receiver.peer.url)
    _apply(root, database_url, "preview", git_commit=COMMIT)
    _apply(root, database_url, "production", git_commit=COMMIT)
    with Store.open(database_url, root=root) as store:
        # what 'hookplane promote preview production' records (tests/integration covers the
        # command itself)
        store.record_audit("production", AuditRecord(
            action="promote", actor="alice", git_commit=COMMIT,
            details={"from": "preview", "to": "production", "files": []}))
        api_token = store.reveal_token("preview", "api_keys", "writer")
        hooks = {r.name: r.id for r in store.snapshot("preview").resources.values()
                 if r.kind == "inbound_webhooks"}
    app = create_app(database_url=database_url, root=root, admin_token=ADMIN_TOKEN,
                     reload_interval=0.2)
    server = AppServer(app).start()
    http = client(server.url)
    try:
        yield Console(root, database_url, server, receiver, http, api_token, hooks)
    finally:
        http.close()
        server.stop()
        receiver.peer.stop()
        monkeypatch.undo()


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="package")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tool("the playwright package is missing: pip install -e '.[dev]'")
    if not Path(CHROMIUM).exists():
        missing_tool(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium "
                     "(.ci/run does)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any, console: Console) -> Iterator[Any]:
    """A fresh tab, signed out (cookies cleared)."""
    browser_context.clear_cookies()
    tab = browser_context.new_page()
    tab.set_default_timeout(10_000)
    try:
        yield tab
    finally:
        tab.close()


def sign_in(page: Any, console: Console, next_path: str = "/console") -> None:
    page.goto(f"{console.url}{next_path}")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/sign-in" not in page.url, page.content()


@pytest.fixture
def signed_in(page: Any, console: Console) -> Any:
    sign_in(page, console)
    return page


def screenshot(page: Any, name: str, *, full_page: bool = True) -> None:
    """Keep a screenshot as a test artifact (``HOOKPLANE_TEST_ARTIFACTS``) and, with
    ``HOOKPLANE_CONSOLE_SCREENSHOTS=1``, as the documentation's image."""
    targets = []
    if ARTIFACTS is not None:
        targets.append(ARTIFACTS / "console" / f"{name}.png")
    if os.environ.get("HOOKPLANE_CONSOLE_SCREENSHOTS") == "1":
        targets.append(DOCS_IMAGES / f"{name}.png")
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        # a revealed secret is painted over: no secret in an artifact or a committed image
        page.screenshot(path=str(target), full_page=full_page,
                        mask=[page.locator("#revealed-secret")], mask_color="#5b6470")


def wait_deliveries(console: Console, trigger: str, count: int,
                    status: str | None = None) -> list[dict[str, Any]]:
    def enough() -> list[dict[str, Any]] | None:
        rows = console.deliveries(trigger, status)
        return rows if len(rows) >= count else None

    found: list[dict[str, Any]] = wait_for(enough, timeout=20)
    return found


def dumps(value: Any) -> bytes:
    return json.dumps(value).encode()
