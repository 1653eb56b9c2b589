"""Inbound rate limits and replays, each reproduced from outside:

- buckets were keyed by the exact address, so an IPv6 client rotated through its /64 freely:
  IPv6 is keyed per /64 now (``rate_limit.ipv6_prefix``);
- unauthenticated 401s spent the bucket of the address they came from, so a few forged
  requests behind the same NAT locked a legitimate sender out: failed verifications spend a
  budget of their own;
- the default ``hmac`` scheme signs no timestamp, so a captured delivery was accepted again
  later: ``timestamp_header`` opts into a signed timestamp with a tolerance. (De-duplication
  by delivery id is not replay protection: a replay with a new id is a new delivery.)
"""

from __future__ import annotations

import hashlib
import hmac
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hookplane.runtime.app import create_app
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client

YAML = """\
collections:
  notes: {schema: {type: object}}
inbound_webhooks:
  limited:
    collection: notes
    auth: {type: hmac, header: X-Signature}
    rate_limit: {requests: 3, per_seconds: 3600}
    trusted_proxies: [127.0.0.1]
  stamped:
    collection: notes
    auth: {type: hmac, header: X-Signature, timestamp_header: X-Signature-Timestamp,
           tolerance_seconds: 300}
"""


class Hooks:
    def __init__(self, http: httpx.Client, ids: dict[str, str], secrets: dict[str, str]
                 ) -> None:
        self.http, self.ids, self.secrets = http, ids, secrets

    def post(self, name: str, body: bytes, headers: dict[str, str]) -> int:
        return self.http.post(f"/inbound/preview/{self.ids[name]}/ingest", content=body,
                              headers={"Content-Type": "application/json", **headers}
                              ).status_code

    def sign(self, name: str, *parts: bytes) -> str:
        mac = hmac.new(self.secrets[name].encode(), digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        return mac.hexdigest()


@pytest.fixture
def hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooks]:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(YAML))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    with Store.open(url, root=tmp_path) as store:
        ids = {r.name: r.id for r in store.snapshot("preview").resources.values()
               if r.kind == "inbound_webhooks"}
        secrets = {name: store.read_secret("preview", "inbound_webhooks", name, "hmac_secret")
                   for name in ids}
    server = AppServer(create_app(database_url=url, root=tmp_path, run_jobs=False)).start()
    http = client(server.url)
    try:
        yield Hooks(http, ids, secrets)
    finally:
        http.close()
        server.stop()


def test_forged_requests_do_not_use_up_a_legitimate_senders_budget(hooks: Hooks) -> None:
    body = b'{"n": 1}'
    forged = [hooks.post("limited", body, {"X-Signature": "0" * 64}) for _ in range(8)]
    assert forged == [401, 401, 401, 429, 429, 429, 429, 429]  # paced on their own budget
    signed = {"X-Signature": hooks.sign("limited", body)}
    assert [hooks.post("limited", body, signed) for _ in range(4)] == [201, 201, 201, 429]


def test_ipv6_clients_share_a_bucket_per_64(hooks: Hooks) -> None:
    body = b'{"n": 2}'
    signed = {"X-Signature": hooks.sign("limited", body)}

    def from_(address: str) -> int:
        return hooks.post("limited", body, {**signed, "X-Forwarded-For": address})

    assert [from_(f"2001:db8:1:2::{n}") for n in range(1, 5)] == [201, 201, 201, 429]
    assert from_("2001:db8:1:2:ffff:ffff:ffff:ffff") == 429  # anywhere in the same /64
    assert from_("2001:db8:1:3::1") == 201  # another /64 has its own bucket


def test_a_signed_timestamp_refuses_a_replay(hooks: Hooks) -> None:
    body = b'{"n": 3}'
    now = str(int(time.time()))
    fresh = {"X-Signature": hooks.sign("stamped", f"{now}.".encode(), body),
             "X-Signature-Timestamp": now}
    assert hooks.post("stamped", body, fresh) == 201
    old = str(int(time.time()) - 301)
    captured = {"X-Signature": hooks.sign("stamped", f"{old}.".encode(), body),
                "X-Signature-Timestamp": old}
    assert hooks.post("stamped", body, captured) == 401  # validly signed, but stale
    moved = {**captured, "X-Signature-Timestamp": now}  # the timestamp is signed too
    assert hooks.post("stamped", body, moved) == 401
    unsigned_time = {"X-Signature": hooks.sign("stamped", body), "X-Signature-Timestamp": now}
    assert hooks.post("stamped", body, unsigned_time) == 401
    assert hooks.post("stamped", body, {"X-Signature": fresh["X-Signature"]}) == 401
