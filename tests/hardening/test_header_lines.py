"""Headers sent on several lines: one list for X-Forwarded-For, a refusal for the rest.

A trusted proxy that appends its own ``X-Forwarded-For`` line (HAProxy's ``option
forwardfor`` does) used to leave the client's forged first line as the only one read, so a
client anywhere could claim an allowed address: past ``ip_allowlist``, the per-address
rate limit and the logged address. RFC 9110 §5.3: several field lines are one
comma-separated list. A single-valued header the verification reads (a signature, a
timestamp, a token) sent on several lines with different values is refused (401,
``malformed_header``): which line a proxy or framework keeps differs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hookplane.runtime.app import create_app
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client

YAML = """\
collections:
  incidents:
    schema: {type: object, properties: {title: {type: string}}}
inbound_webhooks:
  proxied:
    collection: incidents
    auth: {type: hmac, header: X-Signature}
    ip_allowlist: [198.51.100.7]
    trusted_proxies: [127.0.0.1]
"""


class Server:
    def __init__(self, root: Path, url: str, server: AppServer) -> None:
        self.root, self.url, self.server = root, url, server
        self.http = client(server.url)
        with Store.open(url, root=root) as store:
            (self.hook,) = [r.id for r in store.snapshot("preview").resources.values()
                            if r.kind == "inbound_webhooks"]
            self.secret = store.read_secret("preview", "inbound_webhooks", "proxied",
                                            "hmac_secret")

    def post(self, headers: list[tuple[str, str]], body: bytes = b'{"title": "t"}'
             ) -> httpx.Response:
        return self.http.post(f"/inbound/preview/{self.hook}/ingest", content=body,
                              headers=[("Content-Type", "application/json"), *headers])

    def signature(self, body: bytes = b'{"title": "t"}') -> str:
        return hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def logged(self) -> list[tuple[int, str, str | None]]:
        with Store.open(self.url, root=self.root) as store:
            return [(e.status_code, e.reason, e.client_ip)
                    for e in RuntimeStore(store).inbound_log("preview", self.hook)]


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    app = AppServer(create_app(database_url=url, root=tmp_path, run_jobs=False)).start()
    subject = Server(tmp_path, url, app)
    try:
        yield subject
    finally:
        subject.http.close()
        app.stop()


def test_a_forged_first_forwarded_line_does_not_pass_the_allowlist(server: Server) -> None:
    signed = ("X-Signature", server.signature())
    # the client forges an allowed address; the trusted proxy (127.0.0.1) appends the real one
    forged = server.post([signed, ("X-Forwarded-For", "198.51.100.7"),
                          ("X-Forwarded-For", "203.0.113.9")])
    assert forged.status_code == 403, forged.text
    # the real client is the allowed one: its request passes, however the lines are split
    real = server.post([signed, ("X-Forwarded-For", "203.0.113.9"),
                        ("X-Forwarded-For", "10.1.1.1, 198.51.100.7")])
    assert real.status_code == 201, real.text
    assert [(status, address) for status, _, address in server.logged()] == [
        (201, "198.51.100.7"), (403, "203.0.113.9")]


def test_a_signature_sent_twice_with_different_values_is_refused(server: Server) -> None:
    good = server.signature()
    twice = server.post([("X-Forwarded-For", "198.51.100.7"), ("X-Signature", "0" * 64),
                         ("X-Signature", good)])
    assert twice.status_code == 401, twice.text
    assert server.logged()[0][:2] == (401, "malformed_header")
    same = server.post([("X-Forwarded-For", "198.51.100.7"), ("X-Signature", good),
                        ("X-Signature", good)])
    assert same.status_code == 201, same.text  # the same value twice is that value
    assert json.loads(same.text)["record_id"].startswith("rec_")
