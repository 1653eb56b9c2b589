"""Writes through the real server fire signed deliveries at a real receiver."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
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


ADMIN = {"Authorization": "Bearer admin-token-for-tests-0123456789"}


def test_admin_triggers_history_test_and_redeliver(runtime: Runtime) -> None:
    rt = runtime
    listed = rt.http.get("/admin/preview/triggers", headers=ADMIN)
    assert listed.status_code == 200
    rows = {r["name"]: r for r in listed.json()["data"]}
    assert rows["p1-alert"]["destination_host"] == "127.0.0.1"
    assert "/hooks/p1" not in listed.text  # the full URL (often a secret) is never shown
    assert rt.http.get("/admin/preview/triggers").status_code == 401

    rt.receiver.routes["/hooks/p1"] = lambda _: (400, {"error": "rejected"})
    writer = {"Authorization": f"Bearer {rt.token('api_keys', 'writer')}"}
    rt.http.post("/api/preview/collections/incidents/records",
                 json={"title": "will fail", "severity": "p1"}, headers=writer)

    def failed() -> list[dict[str, object]]:
        data = rt.http.get("/admin/preview/triggers/p1-alert/deliveries",
                           params={"status": "failed"}, headers=ADMIN).json()["data"]
        return [d for d in data if d["last_status_code"] == 400]

    delivery = wait_for(failed)[0]
    assert delivery["success"] is False and delivery["attempts"] == 1
    assert delivery["attempts_detail"][0]["status_code"] == 400

    rt.receiver.routes["/hooks/p1"] = lambda _: (200, {"ok": True})
    again = rt.http.post(f"/admin/preview/deliveries/{delivery['id']}/redeliver", headers=ADMIN)
    assert again.status_code == 200
    wait_for(lambda: [d for d in rt.http.get(
        "/admin/preview/triggers/p1-alert/deliveries", headers=ADMIN).json()["data"]
        if d["id"] == delivery["id"] and d["status"] == "delivered"])
    ids = [s.headers.get("webhook-id") for s in _received(rt, "/hooks/p1")
           if b"will fail" in s.body]
    assert len(ids) == 2 and ids[0] == ids[1] == delivery["id"]

    tested = rt.http.post("/admin/preview/triggers/p1-alert/test", headers=ADMIN)
    assert tested.status_code == 200 and tested.json()["status_code"] == 200
    sent = [s for s in _received(rt, "/hooks/p1") if s.headers.get("X-Hookplane-Event") == "test"]
    assert sent
    Webhook(_trigger_secret(rt, "p1-alert")).verify(
        sent[-1].body, {k.lower(): v for k, v in sent[-1].headers.items()})


def test_cli_trigger_deliveries_and_test(runtime: Runtime,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from hookplane.cli.main import run

    rt = runtime
    rt.receiver.routes["/hooks/p1"] = lambda _: (200, {"ok": True})
    base = ["-C", str(rt.root), "--no-color"]
    assert run([*base, "triggers", "test", "preview", "p1-alert", "--json",
                "--database-url", rt.database_url]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status_code"] == 200 and result["success"] is True
    assert run([*base, "triggers", "deliveries", "preview", "p1-alert", "--json",
                "--database-url", rt.database_url]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and {"status", "attempts", "last_status_code", "latency_ms"} <= set(rows[0])


def test_cli_trigger_test_goes_through_the_running_server(
        runtime: Runtime, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's shell does not allow loopback; the server does (its own allowlist): the test
    is sent by the server, as the console's button sends it. Without a reachable server the
    CLI says so, sends itself, and its own egress guard refuses the local receiver."""
    import socket

    from hookplane.cli.main import run

    rt = runtime
    rt.receiver.routes["/hooks/p1"] = lambda _: (200, {"ok": True})
    before = len(_received(rt, "/hooks/p1"))
    monkeypatch.delenv("HOOKPLANE_ALLOW_NETWORKS")
    monkeypatch.setenv("HOOKPLANE_ADMIN_TOKEN", "admin-token-for-tests-0123456789")
    base = ["-C", str(rt.root), "--no-color", "triggers", "test", "preview", "p1-alert",
            "--json", "--database-url", rt.database_url]
    assert run([*base, "--server", rt.server.url]) == 0
    out = capsys.readouterr()
    result = json.loads(out.out)
    assert result["success"] is True and result["status_code"] == 200
    assert result["sent_by"] == f"server {rt.server.url}"
    (sent,) = _received(rt, "/hooks/p1")[before:]
    assert sent.headers["X-Hookplane-Event"] == "test"

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("HOOKPLANE_SERVER_URL", closed)
    assert run(base) == 1
    out = capsys.readouterr()
    assert f"note: no server answered at {closed}" in out.err
    assert "sending from this process instead" in out.err
    local = json.loads(out.out)
    assert local["sent_by"] == "this process" and local["success"] is False
    assert local["error"].startswith("refused to connect to 127.0.0.1: a loopback address")

    monkeypatch.setenv("HOOKPLANE_ADMIN_TOKEN", "wrong-token-0123456789abcdef")
    assert run([*base, "--server", rt.server.url]) == 1
    err = capsys.readouterr().err
    assert f"the server at {rt.server.url} refused the admin token" in err
    assert "wrong-token" not in err
    assert len(_received(rt, "/hooks/p1")) == before + 1


def test_bulk_recovery_from_the_cli_and_the_admin_api(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    """A receiver outage: every failed delivery since a time is queued again in one audited
    operation; running it again queues nothing twice; --include-delivered resends all."""
    import time
    from datetime import UTC, datetime

    from hookplane.cli.main import run

    rt = runtime
    admin = {"Authorization": "Bearer admin-token-for-tests-0123456789"}
    time.sleep(1.1)  # the listing shows whole seconds: keep earlier tests' deliveries out
    since = datetime.now(UTC).isoformat()
    rt.receiver.routes["/hooks/p1"] = lambda _: (503, {"error": "down"})
    writer = {"Authorization": f"Bearer {rt.token('api_keys', 'writer')}"}
    for n in range(3):
        assert rt.http.post("/api/preview/collections/incidents/records",
                            json={"title": f"outage {n}", "severity": "p1"},
                            headers=writer).status_code == 201

    def outage(status: str) -> list[dict[str, object]]:
        data = rt.http.get("/admin/preview/triggers/p1-alert/deliveries",
                           params={"limit": 50}, headers=admin).json()["data"]
        return [d for d in data if d["created_at"] >= since[:19] and d["status"] == status]

    wait_for(lambda: len(outage("failed")) == 3)
    rt.receiver.routes["/hooks/p1"] = lambda _: (200, {"ok": True})
    base = ["-C", str(rt.root), "triggers", "recover", "preview", "p1-alert", "--since", since,
            "--database-url", rt.database_url]
    assert run(base) == 0
    out = capsys.readouterr()
    assert "3 failed deliveries of p1-alert since " in out.out
    assert "queued 3 so far" in out.err
    assert run(base) == 0  # idempotent while they are queued or once they are delivered
    assert "0 failed deliveries" in capsys.readouterr().out
    wait_for(lambda: len(outage("delivered")) == 3)

    resent = rt.http.post("/admin/preview/triggers/p1-alert/recover",
                          params={"since": since, "include_delivered": "true"}, headers=admin)
    assert resent.status_code == 200, resent.text
    assert resent.json()["queued"] == 3
    assert rt.http.post("/admin/preview/triggers/p1-alert/recover", params={"since": since},
                        headers=admin).json()["queued"] == 0
    assert rt.http.post("/admin/preview/triggers/nope/recover", params={"since": since},
                        headers=admin).status_code == 404
    assert run(["-C", str(rt.root), "history", "preview", "--database-url",
                rt.database_url]) == 0
    history = capsys.readouterr().out
    assert history.count("recover-deliveries") >= 4
    assert "recover-deliveries by admin api" in history
