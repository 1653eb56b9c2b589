"""The egress boundary: every outbound request of the runtime goes through the one sender,
and with ``HOOKPLANE_ALLOW_NETWORKS`` unset each call site refuses a loopback target.

Two halves:

- the code: no module but ``runtime/egress.py`` imports an HTTP client library or builds an
  HTTP session, and the sender is made in one place (``sender_from_env``);
- the behaviour: a real runtime (``create_app`` under uvicorn, production defaults) and a
  real receiver on 127.0.0.1 that would answer everything with 200. Each call site — a
  trigger delivery, the admin test send, a redelivery, an external write, a hydration fetch,
  an invoke call, and the CLI's ``triggers test`` — is driven, and each must end refused
  with the receiver never reached. Before the one-sender change, hydration and invoke went
  through a plain ``httpx.AsyncClient`` and reached loopback, private and metadata
  addresses: an invoke answer was stored as a record (full-read SSRF).
"""

from __future__ import annotations

import ast
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from hookplane.cli.main import cli
from hookplane.runtime.app import create_app
from hookplane.state.runtime import Delivery, Job, RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import (
    AppServer,
    Peer,
    apply_environment,
    client,
    wait_for,
)

PACKAGE = Path(__file__).resolve().parents[2] / "engine" / "hookplane"
SENDER_MODULE = PACKAGE / "runtime" / "egress.py"
HTTP_LIBRARIES = ("aiohttp", "httpx", "httpcore", "requests", "urllib3", "urllib.request",
                  "http.client", "websockets", "pycurl")
ADMIN_TOKEN = "egress-boundary-admin-token-7f3a9c2e"
REFUSED = "refused to connect to 127.0.0.1: a loopback address"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


ADMIN_CLIENT = PACKAGE / "cli" / "admin_client.py"
"""The CLI's client of the operator's own server (URL from a flag or the environment, never
from YAML): the one other module that speaks HTTP, with the standard library."""


def test_only_the_sender_module_imports_an_http_client() -> None:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == SENDER_MODULE:
            continue
        if path == ADMIN_CLIENT:
            assert _imports(path) & {"httpx", "aiohttp", "requests"} == set()
            continue
        found = {name for name in _imports(path)
                 if any(name == lib or name.startswith(lib + ".") for lib in HTTP_LIBRARIES)}
        if found:
            offenders[str(path.relative_to(PACKAGE))] = sorted(found)
    assert offenders == {}, ("outbound HTTP must go through runtime/egress.py's Sender; "
                             f"these modules import a client library: {offenders}")
    assert {"aiohttp"} <= _imports(SENDER_MODULE)  # the check above looks at the right thing


def test_the_sender_is_built_in_one_place() -> None:
    """``GuardedSender(`` is called only by ``sender_from_env``; everything else is given a
    sender (``create_app``, the CLI)."""
    calls: dict[str, int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else (
                    func.attr if isinstance(func, ast.Attribute) else "")
                if name in ("GuardedSender", "ClientSession", "TCPConnector", "AsyncClient",
                            "create_connection", "open_connection"):
                    key = f"{path.relative_to(PACKAGE)}:{name}"
                    calls[key] = calls.get(key, 0) + 1
    assert calls == {"runtime/egress.py:GuardedSender": 1,
                     "runtime/egress.py:ClientSession": 1,
                     "runtime/egress.py:TCPConnector": 1}


def _yaml(peer: str) -> str:
    return textwrap.dedent(f"""\
        collections:
          incidents:
            schema:
              type: object
              properties:
                id: {{type: string}}
                title: {{type: string}}
          runs:
            schema:
              type: object
              properties:
                status: {{type: string}}
                input: {{type: object}}
                result: {{}}
        sources:
          shop:
            collection: incidents
            base_url: {peer}/api
            read: {{method: GET, path: "/items/{{id}}"}}
            write: {{method: PUT, path: "/items/{{id}}"}}
            id_field: id
        inbound_webhooks:
          plain:
            collection: incidents
            auth: {{type: static_header, header: X-Account-Key}}
            source_binding: {{collection: incidents, source: shop}}
          hydrated:
            collection: incidents
            auth: {{type: static_header, header: X-Account-Key}}
            source_binding: {{collection: incidents, source: shop}}
            hydration: {{id_path: id, attempts: 1}}
          agent:
            auth: {{type: static_header, header: X-Account-Key}}
            action:
              invoke:
                url: {peer}/agents/run
                input: {{task: "{{{{payload.task}}}}"}}
                collection: runs
        triggers:
          notify:
            collection: incidents
            events: [create]
            url: {peer}/hooks/notify
            skip_inbound_webhook_writes: false
          sync:
            collection: incidents
            events: [create]
            external_write: {{source: shop}}
            skip_inbound_webhook_writes: false
        """)


class Boundary:
    def __init__(self, root: Path, url: str, peer: Peer, server: AppServer) -> None:
        self.root = root
        self.url = url
        self.peer = peer
        self.server = server
        self.http = client(server.url)
        with Store.open(url, root=root) as store:
            resources = store.snapshot("preview").resources.values()
            self.hooks = {r.name: r.id for r in resources if r.kind == "inbound_webhooks"}
            self.triggers = {r.name: r.id for r in resources if r.kind == "triggers"}

    def ingest(self, name: str, payload: dict[str, Any]) -> httpx.Response:
        with Store.open(self.url, root=self.root) as store:
            key = store.read_secret("preview", "inbound_webhooks", name, "hmac_secret")
        return self.http.post(f"/inbound/preview/{self.hooks[name]}/ingest",
                              content=json.dumps(payload).encode(),
                              headers={"Content-Type": "application/json",
                                       "X-Account-Key": key})

    def admin(self, path: str) -> httpx.Response:
        return self.http.post(f"/admin/preview/{path}",
                              headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    def deliveries(self, trigger: str) -> list[Delivery]:
        with Store.open(self.url, root=self.root) as store:
            return RuntimeStore(store).deliveries("preview", self.triggers[trigger], limit=100)

    def job(self, job_id: str) -> Job | None:
        with Store.open(self.url, root=self.root) as store:
            job = RuntimeStore(store).job(job_id)
        return job if job is not None and job.status in ("done", "failed") else None

    def ended(self, trigger: str, count: int = 1) -> list[Delivery]:
        def check() -> list[Delivery] | None:
            rows = [d for d in self.deliveries(trigger) if d.status in ("delivered", "failed")]
            return rows if len(rows) >= count else None
        result: list[Delivery] = wait_for(check, timeout=20)
        return result


@pytest.fixture
def boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Boundary]:
    monkeypatch.delenv("HOOKPLANE_ALLOW_NETWORKS", raising=False)  # production defaults
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    peer = Peer().start()
    for path in ("/hooks/notify", "/api/items/a-1", "/api/items/h-1", "/agents/run"):
        peer.routes[path] = lambda _: (200, {"id": "h-1", "title": "from upstream",
                                             "secret": "internal-data"})
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(_yaml(peer.url))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    app = create_app(database_url=url, root=tmp_path, admin_token=ADMIN_TOKEN,
                     reload_interval=0.2)
    server = AppServer(app).start()
    subject = Boundary(tmp_path, url, peer, server)
    try:
        yield subject
    finally:
        subject.http.close()
        server.stop()
        peer.stop()


def test_every_outbound_call_site_refuses_a_loopback_target_by_default(
        boundary: Boundary) -> None:
    b = boundary
    outcomes: dict[str, str] = {}

    # trigger delivery and external write: a record written by an inbound webhook
    assert b.ingest("plain", {"id": "a-1", "title": "t"}).status_code in (200, 201, 202)
    (notify,) = b.ended("notify")
    (sync,) = b.ended("sync")
    outcomes["delivery"] = notify.last_error or ""
    outcomes["external write"] = sync.last_error or ""
    assert notify.status == sync.status == "failed"
    assert notify.attempts == sync.attempts == 1  # a refusal is final: no retries

    # redelivery through the admin API: refused again, still final
    redelivered = b.admin(f"deliveries/{notify.id}/redeliver")
    assert redelivered.status_code == 200, redelivered.text
    wait_for(lambda: next(d for d in b.deliveries("notify") if d.id == notify.id).attempts == 2,
             timeout=20)
    again = next(d for d in b.deliveries("notify") if d.id == notify.id)
    outcomes["redelivery"] = again.history[-1].error or ""

    # the admin API's test send
    tested = b.admin("triggers/notify/test")
    assert tested.status_code == 200, tested.text
    assert tested.json()["success"] is False
    outcomes["test send (admin API)"] = tested.json()["error"]

    # hydration: the job fails, nothing is fetched or stored
    hydrate = b.ingest("hydrated", {"id": "h-1"})
    assert hydrate.status_code == 202, hydrate.text
    hydration = wait_for(lambda: b.job(hydrate.json()["job_id"]), timeout=20)
    assert hydration.status == "failed"
    outcomes["hydration"] = hydration.last_error or ""

    # invoke: the job fails and no record holds the target's answer
    invoke = b.ingest("agent", {"task": "x"})
    assert invoke.status_code == 202, invoke.text
    invoked = wait_for(lambda: b.job(invoke.json()["job_id"]), timeout=20)
    assert invoked.status == "failed"
    outcomes["invoke"] = invoked.last_error or ""
    with Store.open(b.url, root=b.root) as store:
        runs, _ = RuntimeStore(store).list("preview", "runs", limit=10)
    assert runs == []

    # the CLI's test send (its own process, same sender)
    result = CliRunner().invoke(cli, ["-C", str(b.root), "triggers", "test", "preview",
                                      "notify", "--json", "--database-url", b.url])
    outcomes["test send (CLI)"] = json.loads(result.stdout)["error"]

    assert b.peer.seen == []  # nothing ever reached the receiver
    for site, error in outcomes.items():
        assert REFUSED in error, (site, error)
        assert "HOOKPLANE_ALLOW_NETWORKS" in error, (site, error)
