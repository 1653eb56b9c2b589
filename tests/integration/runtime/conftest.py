from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from hookplane.runtime.app import create_app
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, Peer, apply_environment, client

ENVIRON = {
    "STRIPE_WEBHOOK_SECRET": "whsec_stripe_test_secret_value",
    "SLACK_WEBHOOK_SECRET": "slack-signing-secret-value",
    "SHOPIFY_WEBHOOK_SECRET": "shopify-app-secret-value",
    "PAGERDUTY_WEBHOOK_SECRET": "pagerduty-webhook-secret-value",
    "SHOP_TOKEN": "shop-api-token-value",
}


def project_yaml(upstream: str, receiver: str) -> str:
    return textwrap.dedent(f"""\
        collections:
          incidents:
            schema:
              type: object
              required: [title, severity]
              properties:
                title: {{type: string}}
                severity: {{type: string, enum: [p1, p2, p3]}}
                status: {{type: string}}
                team: {{type: string}}
          orders:
            schema:
              type: object
              properties:
                status: {{type: string, enum: [open, paid, refunded]}}
                total: {{type: number}}
                customer: {{type: string}}
                placed_at: {{type: string, format: date-time}}
                note: {{type: string}}
          tasks:
            schema:
              type: object
              required: [title]
              properties:
                title: {{type: string}}
                description: {{type: string}}
                priority: {{type: string, enum: [urgent, high, normal, low]}}
          runs:
            schema:
              type: object
              properties:
                status: {{type: string}}
                input: {{type: object}}
                result: {{}}
        sources:
          shop:
            collection: orders
            base_url: {upstream}
            headers: {{Authorization: "Bearer ${{env:SHOP_TOKEN}}"}}
            read: {{method: GET, path: "/orders/{{id}}"}}
            id_field: id
            mapping:
              to_external: {{status: state, total: amount, customer: buyer.name}}
              value_maps: {{status: {{open: OPEN, paid: PAID, refunded: REFUNDED}}}}
              dates: {{placed_at: {{external: epoch_s}}}}
              unmapped: drop
        inbound_webhooks:
          plain:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: hmac, header: X-Signature}}
          keyed:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: static_header, header: X-Account-Key}}
          bearer:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: bearer}}
          signed-bearer:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: bearer, signature: {{}}}}
          standard:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: standard_webhooks}}
          github:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: github}}
            mapping:
              to_native: {{title: issue.title, severity: labels.0}}
              unmapped: drop
          stripe:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: stripe, secret: "${{env:STRIPE_WEBHOOK_SECRET}}"}}
            mapping:
              to_native: {{title: data.object.description, severity: data.object.level}}
              unmapped: drop
          slack:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: slack, secret: "${{env:SLACK_WEBHOOK_SECRET}}"}}
          shopify:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: shopify, secret: "${{env:SHOPIFY_WEBHOOK_SECRET}}"}}
          pagerduty:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: pagerduty, secret: "${{env:PAGERDUTY_WEBHOOK_SECRET}}"}}
          orders:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: orders
            auth: {{type: static_header, header: X-Account-Key}}
            source_binding: {{collection: orders, source: shop}}
          orders-ref:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: orders
            auth: {{type: static_header, header: X-Account-Key}}
            source_binding: {{collection: orders, source: shop}}
            hydration:
              id_path: record_id
              event_path: event
              event_map: {{ResourceDeleted: delete}}
              merge: true
              attempts: 4
          deploy-failed:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            auth: {{type: hmac, header: X-Signature}}
            action:
              create:
                collection: tasks
                fields:
                  title: "[{{{{payload.environment}}}}] {{{{payload.title}}}}"
                  description: "Commit {{{{payload.commit}}}} by {{{{payload.author}}}}"
                  priority: high
          agent:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            auth: {{type: bearer}}
            action:
              invoke:
                url: {receiver}/agents/review
                input: {{message: "Review PR {{{{payload.pr}}}}", pr: "{{{{payload.pr}}}}"}}
                collection: runs
          limited:
            collection: incidents
            auth: {{type: hmac, header: X-Signature}}
            rate_limit: {{requests: 3, per_seconds: 60}}
            max_body_bytes: 100000
          walled:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: hmac, header: X-Signature}}
            ip_allowlist: [10.0.0.0/8, "2001:db8::/32"]
          proxied:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: hmac, header: X-Signature}}
            ip_allowlist: ["2001:db8::/32", 198.51.100.7]
            trusted_proxies: [127.0.0.1]
          disabled:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: hmac, header: X-Signature}}
            active: false
          small:
            rate_limit: {{requests: 10000, per_seconds: 60}}
            collection: incidents
            auth: {{type: hmac, header: X-Signature}}
            max_body_bytes: 200
        triggers:
          p1-alert:
            collection: incidents
            events: [create, update]
            url: {receiver}/hooks/p1
            filter: {{severity: p1}}
            body: {{text: "P1: {{{{record.title}}}}"}}
          every-incident:
            collection: incidents
            events: [create]
            url: {receiver}/hooks/all
            skip_inbound_webhook_writes: false
          applied:
            events: [config.applied]
            url: {receiver}/hooks/applied
        api_keys:
          writer: {{scopes: [read, write]}}
          reader: {{scopes: ["read:incidents"]}}
        """)


@dataclass
class Runtime:
    root: Path
    database_url: str
    server: AppServer
    upstream: Peer
    receiver: Peer
    http: httpx.Client
    hooks: dict[str, str]
    """Inbound webhook name -> id."""
    tokens: dict[tuple[str, str], str] = field(default_factory=dict)

    def secret(self, name: str) -> str:
        with Store.open(self.database_url, root=self.root) as store:
            return store.read_secret("preview", "inbound_webhooks", name, "hmac_secret")

    def token(self, kind: str, name: str) -> str:
        """A token is revealed once by the store; the fixture keeps it for later tests."""
        if (kind, name) not in self.tokens:
            with Store.open(self.database_url, root=self.root) as store:
                self.tokens[(kind, name)] = store.reveal_token("preview", kind, name)
        return self.tokens[(kind, name)]

    def ingest_path(self, name: str) -> str:
        return f"/inbound/preview/{self.hooks[name]}/ingest"

    def post(self, name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.http.post(self.ingest_path(name), content=body,
                              headers={"Content-Type": "application/json", **headers})


def start_runtime(root: Path, database_url: str, upstream: Peer, receiver: Peer,
                  monkeypatch: Any, *, run_jobs: bool = True) -> Runtime:
    env = root / "environments" / "preview"
    env.mkdir(parents=True, exist_ok=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(project_yaml(upstream.url, receiver.url))
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOOKPLANE_ALLOW_NETWORKS", "127.0.0.0/8")
    apply_environment(root, database_url, "preview", ENVIRON)
    app = create_app(database_url=database_url, root=root,
                     admin_token="admin-token-for-tests-0123456789",
                     reload_interval=0.2, run_jobs=run_jobs)
    server = AppServer(app).start()
    with Store.open(database_url, root=root) as store:
        hooks = {r.name: r.id for r in store.snapshot("preview").resources.values()
                 if r.kind == "inbound_webhooks"}
    return Runtime(root, database_url, server, upstream, receiver, client(server.url), hooks)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    monkeypatch = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("runtime")
    upstream = Peer().start()
    receiver = Peer().start()
    url = f"sqlite:///{root / 'state.db'}"
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    rt = start_runtime(root, url, upstream, receiver, monkeypatch)
    try:
        yield rt
    finally:
        rt.http.close()
        rt.server.stop()
        upstream.stop()
        receiver.stop()
        monkeypatch.undo()
