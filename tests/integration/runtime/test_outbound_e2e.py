"""Writes through the real server fire signed deliveries at a real receiver."""

from __future__ import annotations

import hashlib
import hmac
import json

from standardwebhooks import Webhook

from hookplane.state.store import Store
from tests.integration.runtime.conftest import Runtime
from tests.integration.runtime.harness import Seen, wait_for


def _trigger_secret(rt: Runtime, name: str) -> str:
    with Store.open(rt.database_url, root=rt.root) as store:
        return store.read_secret("preview", "triggers", name, "signing_secret")


def _received(rt: Runtime, path: str) -> list[Seen]:
    return [s for s in rt.receiver.seen if s.path == path]


def test_api_write_fires_filtered_signed_delivery(runtime: Runtime) -> None:
    rt = runtime
    rt.receiver.routes["/hooks/p1"] = lambda _: (200, {"ok": True})
    rt.receiver.routes["/hooks/all"] = lambda _: (204, b"")
    writer = {"Authorization": f"Bearer {rt.token('api_keys', 'writer')}"}
    before = len(_received(rt, "/hooks/p1"))
    low = rt.http.post("/api/preview/collections/incidents/records",
                       json={"title": "minor", "severity": "p3"}, headers=writer)
    high = rt.http.post("/api/preview/collections/incidents/records",
                        json={"title": "Checkout down", "severity": "p1"}, headers=writer)
    assert low.status_code == high.status_code == 201
    delivered = wait_for(lambda: [s for s in _received(rt, "/hooks/p1")[before:]
                                  if b"Checkout down" in s.body])
    request = delivered[0]
    assert request.json() == {"text": "P1: Checkout down"}
    assert not [s for s in _received(rt, "/hooks/p1") if b"minor" in s.body]
    secret = _trigger_secret(rt, "p1-alert")
    headers = {k.lower(): v for k, v in request.headers.items()}
    Webhook(secret).verify(request.body, headers)  # raises if the signature is wrong
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert headers["x-hookplane-signature"] == expected
    assert headers["x-hookplane-event"] == "create"
    # the default envelope of the other trigger carries the record
    envelope = wait_for(lambda: [s.json() for s in _received(rt, "/hooks/all")
                                 if b"Checkout down" in s.body])[0]
    assert envelope["event"] == "create" and envelope["collection"] == "incidents"
    assert envelope["record"]["data"] == {"title": "Checkout down", "severity": "p1"}
    assert envelope["id"] == headers["webhook-id"] or envelope["id"].startswith("msg_")


def test_loop_prevention_by_origin(runtime: Runtime) -> None:
    rt = runtime
    rt.receiver.routes["/hooks/p1"] = lambda _: (200, {"ok": True})
    rt.receiver.routes["/hooks/all"] = lambda _: (204, b"")
    writer = {"Authorization": f"Bearer {rt.token('api_keys', 'writer')}"}
    hooked = rt.http.post("/api/preview/collections/incidents/records",
                          json={"title": "from-a-hook", "severity": "p1"},
                          headers={**writer, "X-Hookplane-Source": "hook"})
    assert hooked.status_code == 201
    body = json.dumps({"title": "from-inbound", "severity": "p1"}).encode()
    inbound = rt.post("plain", body, {"X-Signature": hmac.new(
        rt.secret("plain").encode(), body, hashlib.sha256).hexdigest()})
    assert inbound.status_code == 201
    # every-incident does not skip inbound-webhook writes, so it proves the dispatcher ran
    wait_for(lambda: [s for s in _received(rt, "/hooks/all") if b"from-inbound" in s.body])
    # ... and p1-alert (skip_hook_writes, skip_inbound_webhook_writes) fired for neither
    p1 = _received(rt, "/hooks/p1")
    assert not [s for s in p1 if b"from-a-hook" in s.body or b"from-inbound" in s.body]
    assert not [s for s in _received(rt, "/hooks/all") if b"from-a-hook" in s.body]


def test_config_applied_system_event(runtime: Runtime) -> None:
    rt = runtime
    rt.receiver.routes["/hooks/applied"] = lambda _: (200, {})
    event = wait_for(lambda: _received(rt, "/hooks/applied"))[0].json()
    assert event["event"] == "config.applied"
    assert event["environment"] == "preview"
    assert event["data"]["actor"] == "test" and event["data"]["serial"] >= 1
