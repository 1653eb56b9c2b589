"""Inbound deliveries end to end against a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import httpx
import pytest

from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.conftest import ENVIRON, Runtime


def hexmac(key: str, data: bytes) -> str:
    return hmac.new(key.encode(), data, hashlib.sha256).hexdigest()


def body_of(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def incident(title: str = "API spike", severity: str = "p1") -> bytes:
    return body_of(title=title, severity=severity)


def _log(rt: Runtime, name: str) -> list[object]:
    with Store.open(rt.database_url, root=rt.root) as store:
        return list(RuntimeStore(store).inbound_log("preview", rt.hooks[name], limit=100))


# ----------------------------------------------------------------------------- signers
# Each computed the way the provider documents it, independently of hookplane's verifier.


def sign_standard(secret: str, msg_id: str, ts: int, body: bytes) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    sig = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body,
                                    hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": f"v1,{sig}"}


def sign_stripe(secret: str, ts: int, body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": f"t={ts},v1={hexmac(secret, f'{ts}.'.encode() + body)}"}


def sign_slack(secret: str, ts: int, body: bytes) -> dict[str, str]:
    return {"X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": "v0=" + hexmac(secret, f"v0:{ts}:".encode() + body)}


def test_every_auth_type_accepts_a_valid_delivery_and_rejects_a_forged_one(
        runtime: Runtime) -> None:
    rt = runtime
    now = int(time.time())
    body = incident()
    cases = {
        "plain": ({"X-Signature": hexmac(rt.secret("plain"), body)},
                  {"X-Signature": hexmac("wrong", body)}),
        "keyed": ({"X-Account-Key": rt.secret("keyed")}, {"X-Account-Key": "nope"}),
        "standard": (sign_standard(rt.secret("standard"), "msg_1", now, body),
                     sign_standard("whsec_" + base64.b64encode(b"x" * 32).decode(), "msg_1",
                                   now, body)),
        "github": ({"X-Hub-Signature-256": "sha256=" + hexmac(rt.secret("github"),
                                                             b'{"issue":{"title":"t"},'
                                                             b'"labels":["p2"]}'),
                    "X-GitHub-Delivery": str(uuid.uuid4())},
                   {"X-Hub-Signature-256": "sha256=" + "0" * 64}),
        "stripe": (sign_stripe(ENVIRON["STRIPE_WEBHOOK_SECRET"], now,
                               b'{"id":"evt_1","data":{"object":{"description":"d",'
                               b'"level":"p3"}}}'),
                   sign_stripe(ENVIRON["STRIPE_WEBHOOK_SECRET"], now - 3600, body)),
        "slack": (sign_slack(ENVIRON["SLACK_WEBHOOK_SECRET"], now, body),
                  sign_slack(ENVIRON["SLACK_WEBHOOK_SECRET"], now - 3600, body)),
        "shopify": ({"X-Shopify-Hmac-Sha256": base64.b64encode(hmac.new(
            ENVIRON["SHOPIFY_WEBHOOK_SECRET"].encode(), body, hashlib.sha256).digest()).decode()},
                    {"X-Shopify-Hmac-Sha256": base64.b64encode(b"forged" * 5).decode()}),
        "pagerduty": ({"X-PagerDuty-Signature": "v1=" + hexmac(
            ENVIRON["PAGERDUTY_WEBHOOK_SECRET"], body)},
                      {"X-PagerDuty-Signature": "v1=" + hexmac("guess", body)}),
    }
    bodies = {"github": b'{"issue":{"title":"t"},"labels":["p2"]}',
              "stripe": b'{"id":"evt_1","data":{"object":{"description":"d","level":"p3"}}}'}
    for name, (good, bad) in cases.items():
        payload = bodies.get(name, body)
        response = rt.post(name, payload, good)
        assert response.status_code == 201, (name, response.text)
        assert response.headers["x-hookplane-source"] == "inbound_webhook"
        forged = rt.post(name, payload if name != "stripe" else body, bad)
        assert forged.status_code == 401, (name, forged.text)
        missing = rt.post(name, payload, {})
        assert missing.status_code == 401, name


def test_bearer_token(runtime: Runtime) -> None:
    token = runtime.token("inbound_webhooks", "bearer")
    ok = runtime.post("bearer", incident(), {"Authorization": f"Bearer {token}"})
    assert ok.status_code == 201
    bad = runtime.post("bearer", incident(), {"Authorization": f"Bearer {token}x"})
    assert bad.status_code == 401


def test_bearer_token_plus_signature_checks_both(runtime: Runtime) -> None:
    """PromptRails' scheme: a token in Authorization and, because a secret is configured,
    ``X-Webhook-Signature: sha256=<hex HMAC of the body>`` too. A valid token never excuses
    a forged or missing signature, and a valid signature never excuses a wrong token."""
    rt = runtime
    token, secret = rt.token("inbound_webhooks", "signed-bearer"), rt.secret("signed-bearer")
    body = json.dumps({"title": "token and signature", "severity": "p2"}).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    bearer = {"Authorization": f"Bearer {token}"}
    ok = rt.post("signed-bearer", body, {**bearer, "X-Webhook-Signature": signature})
    assert ok.status_code == 201, ok.text
    forged = "sha256=" + hmac.new(b"guess", body, hashlib.sha256).hexdigest()
    for headers in ({**bearer, "X-Webhook-Signature": forged}, bearer,
                    {"Authorization": "Bearer hpt_guess", "X-Webhook-Signature": signature}):
        refused = rt.post("signed-bearer", body, headers)
        assert refused.status_code == 401, (headers.keys(), refused.text)
    # the plain bearer webhook keeps working with the token alone
    plain = rt.token("inbound_webhooks", "bearer")
    alone = rt.post("bearer", body, {"Authorization": f"Bearer {plain}"})
    assert alone.status_code == 201


def test_mapping_is_applied_and_stored_record_is_readable(runtime: Runtime) -> None:
    rt = runtime
    body = b'{"issue":{"title":"Build red"},"labels":["p2","ci"],"sender":"x"}'
    response = rt.post("github", body, {
        "X-Hub-Signature-256": "sha256=" + hexmac(rt.secret("github"), body),
        "X-GitHub-Delivery": str(uuid.uuid4())})
    assert response.status_code == 201, response.text
    record_id = response.json()["record_id"]
    with Store.open(rt.database_url, root=rt.root) as store:
        record = RuntimeStore(store).get("preview", "incidents", record_id)
    assert record is not None
    assert record.data == {"title": "Build red", "severity": "p2"}
    assert record.origin == "inbound_webhook"


def test_duplicate_delivery_is_acknowledged_not_written_twice(runtime: Runtime) -> None:
    rt = runtime
    body = b'{"issue":{"title":"Dup"},"labels":["p3"]}'
    headers = {"X-Hub-Signature-256": "sha256=" + hexmac(rt.secret("github"), body),
               "X-GitHub-Delivery": "delivery-dup-1"}
    first = rt.post("github", body, headers)
    second = rt.post("github", body, headers)
    assert first.status_code == 201
    assert second.status_code == 200 and second.json()["status"] == "duplicate"


def test_upsert_by_external_id_through_the_source_mapping(runtime: Runtime) -> None:
    rt = runtime
    key = {"X-Account-Key": rt.secret("orders")}
    first = rt.post("orders", body_of(id="ord-1", state="OPEN", amount=12.5,
                                      buyer={"name": "Ada"}, placed_at=1700000000), key)
    assert first.status_code == 201, first.text
    second = rt.post("orders", body_of(id="ord-1", state="PAID", amount=12.5,
                                       buyer={"name": "Ada"}, placed_at=1700000000), key)
    assert second.status_code == 200 and second.json()["status"] == "updated"
    assert second.json()["record_id"] == first.json()["record_id"]
    with Store.open(rt.database_url, root=rt.root) as store:
        record = RuntimeStore(store).get_external("preview", "orders", "ord-1")
    assert record is not None
    assert record.data == {"status": "paid", "total": 12.5, "customer": "Ada",
                           "placed_at": "2023-11-14T22:13:20Z"}


def test_schema_violation_is_422_with_field_errors(runtime: Runtime) -> None:
    rt = runtime
    body = body_of(title=5, severity="p9")
    response = rt.post("plain", body, {"X-Signature": hexmac(rt.secret("plain"), body)})
    assert response.status_code == 422
    fields = {f["path"]: f["message"] for f in response.json()["fields"]}
    assert fields["title"] == "expected string, got integer"
    assert fields["severity"].startswith("must be one of: p1, p2, p3")


def test_create_action_renders_templates(runtime: Runtime) -> None:
    rt = runtime
    body = body_of(title="Deploy failed", environment="production", commit="a1b2c3d",
                   author="jane")
    response = rt.post("deploy-failed", body,
                       {"X-Signature": hexmac(rt.secret("deploy-failed"), body)})
    assert response.status_code == 201, response.text
    with Store.open(rt.database_url, root=rt.root) as store:
        record = RuntimeStore(store).get("preview", "tasks", response.json()["record_id"])
    assert record is not None
    assert record.data == {"title": "[production] Deploy failed",
                           "description": "Commit a1b2c3d by jane", "priority": "high"}
    missing = body_of(title="No env")
    response = rt.post("deploy-failed", missing,
                       {"X-Signature": hexmac(rt.secret("deploy-failed"), missing)})
    assert response.status_code == 201
    with Store.open(rt.database_url, root=rt.root) as store:
        record = RuntimeStore(store).get("preview", "tasks", response.json()["record_id"])
    assert record is not None and record.data["title"] == "[] No env"


class TestCheckOrder:
    def test_unknown_webhook_404(self, runtime: Runtime) -> None:
        response = runtime.http.post("/inbound/preview/iw_nope/ingest", content=incident(),
                                     headers={"Content-Type": "application/json"})
        assert response.status_code == 404
        assert runtime.http.post("/inbound/nowhere/iw_x/ingest").status_code == 404

    def test_inactive_403(self, runtime: Runtime) -> None:
        body = incident()
        response = runtime.post("disabled", body,
                               {"X-Signature": hexmac(runtime.secret("disabled"), body)})
        assert response.status_code == 403 and "inactive" in response.text

    def test_allowlist_403_even_with_valid_signature(self, runtime: Runtime) -> None:
        body = incident()
        response = runtime.post("walled", body,
                                {"X-Signature": hexmac(runtime.secret("walled"), body)})
        assert response.status_code == 403

    def test_forwarded_for_honoured_only_from_trusted_proxy(self, runtime: Runtime) -> None:
        body = incident()
        signature = {"X-Signature": hexmac(runtime.secret("proxied"), body)}
        v6 = runtime.post("proxied", body, {**signature, "X-Forwarded-For": "2001:db8::5"})
        assert v6.status_code == 201, v6.text
        v4 = runtime.post("proxied", body, {**signature,
                                            "X-Forwarded-For": "203.0.113.9, 198.51.100.7"})
        assert v4.status_code == 201
        outside = runtime.post("proxied", body, {**signature, "X-Forwarded-For": "10.9.9.9"})
        assert outside.status_code == 403
        # the walled webhook trusts no proxy: a forged header does not get in
        forged = runtime.post("walled", body, {
            "X-Signature": hexmac(runtime.secret("walled"), body), "X-Forwarded-For": "10.1.1.1"})
        assert forged.status_code == 403

    def test_rate_limit_429_with_retry_after(self, runtime: Runtime) -> None:
        body = incident()
        headers = {"X-Signature": hexmac(runtime.secret("limited"), body)}
        codes = [runtime.post("limited", body, headers).status_code for _ in range(3)]
        assert codes == [201, 201, 201]
        limited = runtime.post("limited", body, headers)
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        # the rate limit applies before authentication: no signature needed to be limited
        assert runtime.post("limited", body, {}).status_code == 429

    def test_too_large_413(self, runtime: Runtime) -> None:
        body = body_of(title="x" * 500, severity="p1")
        response = runtime.post("small", body,
                                {"X-Signature": hexmac(runtime.secret("small"), body)})
        assert response.status_code == 413

    def test_too_large_without_content_length_413(self, runtime: Runtime) -> None:
        def chunks() -> object:
            for _ in range(50):
                yield b" " * 100

        response = runtime.http.post(runtime.ingest_path("small"), content=chunks(),
                                     headers={"Content-Type": "application/json"})
        assert response.status_code == 413

    def test_not_json_415_and_bad_json_400(self, runtime: Runtime) -> None:
        body = b"title=x"
        signature = {"X-Signature": hexmac(runtime.secret("plain"), body)}
        form = runtime.http.post(runtime.ingest_path("plain"), content=body,
                                 headers={**signature,
                                          "Content-Type": "application/x-www-form-urlencoded"})
        assert form.status_code == 415
        assert runtime.post("plain", b"{not json", signature).status_code == 400
        assert runtime.post("plain", b'{"a": NaN}', signature).status_code == 400
        deep = b"[" * 100_000 + b"]" * 100_000
        assert runtime.post("plain", deep, signature).status_code in (400, 413)
        assert runtime.post("plain", b"[1,2]", {
            "X-Signature": hexmac(runtime.secret("plain"), b"[1,2]")}).status_code == 400

    def test_every_attempt_is_logged_without_secret_headers(self, runtime: Runtime) -> None:
        body = incident("logged")
        secret = runtime.secret("plain")
        runtime.post("plain", body, {"X-Signature": hexmac(secret, body)})
        runtime.post("plain", body, {"X-Signature": "sha256=" + "0" * 64})
        entries = _log(runtime, "plain")
        reasons = [getattr(e, "reason", None) for e in entries]
        assert "ok" in reasons and "bad_signature" in reasons
        dump = json.dumps([e.__dict__ for e in entries], default=str)  # type: ignore[attr-defined]
        assert secret not in dump and hexmac(secret, body) not in dump


    def test_a_stored_delivery_has_one_log_entry_committed_with_its_record(
            self, runtime: Runtime) -> None:
        """The log entry of a stored delivery is written in the record's own transaction:
        exactly one per delivery, with the answer's status and the record id."""
        before = len(_log(runtime, "plain"))
        body = incident("once")
        answer = runtime.post("plain", body, {"X-Signature": hexmac(runtime.secret("plain"),
                                                                    body)})
        assert answer.status_code in (200, 201)
        entries = _log(runtime, "plain")
        assert len(entries) == before + 1
        newest = max(entries, key=lambda e: e.id)  # type: ignore[attr-defined]
        assert newest.status_code == answer.status_code  # type: ignore[attr-defined]
        assert newest.record_id == answer.json()["record_id"]  # type: ignore[attr-defined]
        assert newest.reason == "ok" and newest.latency_ms is not None  # type: ignore[attr-defined]


def rt_ids_absent(runtime: Runtime, text: str) -> bool:
    """Metrics are labelled by route template, never by an id from the URL."""
    return all(hook_id not in text for hook_id in runtime.hooks.values())


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health(runtime: Runtime, path: str) -> None:
    assert runtime.http.get(path).status_code == 200


def test_metrics_and_openapi(runtime: Runtime) -> None:
    runtime.post("plain", incident(), {"X-Signature": "sha256=" + "1" * 64})
    text = runtime.http.get("/metrics").text
    assert "hookplane_verifications_failed_total" in text
    assert "hookplane_inbound_deliveries_total" in text
    assert "hookplane_queue_depth" in text
    import os
    import socket

    assert (f'hookplane_http_requests_total{{replica="{socket.gethostname()}:{os.getpid()}",'
            'route="/inbound/{environment}/{webhook_id}/ingest",status="401"}') in text
    assert rt_ids_absent(runtime, text)
    schema = runtime.http.get("/schema/openapi.json").json()
    assert "/inbound/{environment}/{webhook_id}/ingest" in schema["paths"]


def test_a_rejected_delivery_is_not_remembered_as_seen(runtime: Runtime) -> None:
    """A sender retrying a delivery that failed (here 422) must be processed, not 'duplicate'."""
    rt = runtime
    bad = b'{"issue":{"title":"Retry"},"labels":["p9"]}'
    good = b'{"issue":{"title":"Retry"},"labels":["p1"]}'
    delivery = {"X-GitHub-Delivery": "delivery-retry-1"}
    first = rt.post("github", bad, {**delivery, "X-Hub-Signature-256": "sha256=" + hexmac(
        rt.secret("github"), bad)})
    assert first.status_code == 422
    again = rt.post("github", good, {**delivery, "X-Hub-Signature-256": "sha256=" + hexmac(
        rt.secret("github"), good)})
    assert again.status_code == 201, again.text


# ------------------------------------------------------------------ provider handshakes


def _slack_post(rt: Runtime, body: bytes, *, content_type: str, ts: int | None = None,
                secret: str | None = None) -> httpx.Response:
    stamp = int(time.time()) if ts is None else ts
    headers = sign_slack(secret or ENVIRON["SLACK_WEBHOOK_SECRET"], stamp, body)
    return rt.http.post(rt.ingest_path("slack"), content=body,
                        headers={"Content-Type": content_type, **headers})


def _stored(rt: Runtime) -> int:
    with Store.open(rt.database_url, root=rt.root) as store:
        rows, _ = RuntimeStore(store).list("preview", "incidents", limit=1000)
    return len(rows)


def test_slack_url_verification_is_answered_without_a_record(runtime: Runtime) -> None:
    """Slack's Events API first posts {"type": "url_verification", "challenge": …} and only
    accepts the URL when the challenge comes back; it used to be stored as a record (201)."""
    rt = runtime
    before = _stored(rt)
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"  # Slack's example
    body = json.dumps({"token": "legacy", "challenge": challenge,
                       "type": "url_verification"}).encode()
    answered = _slack_post(rt, body, content_type="application/json")
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"challenge": challenge}
    forged = _slack_post(rt, body, content_type="application/json", secret="guess")
    stale = _slack_post(rt, body, content_type="application/json",
                        ts=int(time.time()) - 3600)
    for refused in (forged, stale):
        assert refused.status_code == 401 and "challenge" not in refused.text
    assert _stored(rt) == before
    with Store.open(rt.database_url, root=rt.root) as store:
        log = RuntimeStore(store).inbound_log("preview", rt.hooks["slack"])
    reasons = [(e.status_code, e.reason) for e in log[:3]]
    assert (200, "handshake") in reasons


def test_slack_form_bodies_interactivity_and_slash_commands(runtime: Runtime) -> None:
    """Interactivity posts payload=<json>, slash commands flat fields, both form-encoded and
    signed over the raw body; they used to be refused with 415. Other auth types still are."""
    from urllib.parse import urlencode

    rt = runtime
    interaction = urlencode({"payload": json.dumps(
        {"type": "block_actions", "title": "Button pressed", "severity": "p2"})}).encode()
    clicked = _slack_post(rt, interaction, content_type="application/x-www-form-urlencoded")
    assert clicked.status_code == 201, clicked.text
    command = urlencode({"command": "/incident", "title": "Deploy stuck", "severity": "p1",
                         "user_id": "U2147483697"}).encode()
    slash = _slack_post(rt, command,
                        content_type="application/x-www-form-urlencoded; charset=utf-8")
    assert slash.status_code == 201, slash.text
    with Store.open(rt.database_url, root=rt.root) as store:
        runtime_store = RuntimeStore(store)
        first = runtime_store.get("preview", "incidents", clicked.json()["record_id"])
        second = runtime_store.get("preview", "incidents", slash.json()["record_id"])
    assert first is not None and first.data["title"] == "Button pressed"
    assert second is not None and second.data["command"] == "/incident"
    tampered = _slack_post(rt, command.replace(b"severity=p1", b"severity=p3"),
                           content_type="application/x-www-form-urlencoded",
                           secret="guess")
    assert tampered.status_code == 401
    plain = rt.post("plain", command, {"Content-Type": "application/x-www-form-urlencoded"})
    assert plain.status_code == 415
    assert plain.json() == {"error": "send JSON (Content-Type: application/json)"}
