"""Zoom: ``x-zm-signature: v0=<hex>`` over ``"v0:{x-zm-request-timestamp}:{body}"`` keyed
with the app's Secret Token (developers.zoom.us, "Verify webhook events"); answers
``endpoint.url_validation`` with the plain token's HMAC under the same secret."""

from __future__ import annotations

import hashlib
import hmac

from hookplane.presets._kit import (
    Answer,
    AuthOptions,
    Delivery,
    Docs,
    Handshake,
    Preset,
    after,
    bad_handshake,
    check_time,
    hex_digest,
    match,
    parsed,
    token,
    utf8_keys,
)

HEADER = "x-zm-signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    delivery.require(HEADER)
    timestamp = delivery.require("x-zm-request-timestamp")
    found = parsed(HEADER, delivery, after("v0=", hex_digest), "is not 'v0=<64 hex digits>'")
    check_time(delivery, auth, timestamp, "x-zm-request-timestamp", 300)
    return match(HEADER, found, utf8_keys(delivery.secrets), delivery,
                 f"v0:{timestamp}:".encode(), delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    t = str(int(now))
    digest = hmac.new(secret.encode(), f"v0:{t}:".encode() + body, hashlib.sha256).hexdigest()
    return {HEADER: f"v0={digest}", "x-zm-request-timestamp": t}, body


def handshake(request: Handshake) -> Answer | None:
    payload = request.payload
    if not isinstance(payload, dict) or payload.get("event") != "endpoint.url_validation":
        return None
    inner = payload.get("payload")
    plain = token(inner.get("plainToken")) if isinstance(inner, dict) else None
    if plain is None:
        return bad_handshake("endpoint.url_validation has no 'payload.plainToken' string")
    if request.secret is None:  # verified deliveries always carry the secret that matched
        return bad_handshake("no secret is known to answer endpoint.url_validation with")
    encrypted = hmac.new(request.secret.encode("utf-8"), plain.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    return Answer(200, "handshake", "zoom endpoint.url_validation: plainToken encrypted",
                  json={"plainToken": plain, "encryptedToken": encrypted})


PRESET = Preset(
    name="zoom", title="Zoom", verify=verify, sign=sign, secret="provider",
    secret_env="ZOOM_WEBHOOK_SECRET",
    scheme="`x-zm-signature: v0=<hex>` over `v0:{x-zm-request-timestamp}:{body}`",
    credential_headers=("x-zm-signature",), timestamped=True, handshake=handshake,
    replay="signed timestamp",
    docs=Docs(dashboard="App Marketplace → your app → *Features → Access*: copy the *Secret "
                        "Token*; under *Event Subscriptions* set the *Event notification "
                        "endpoint URL* to the ingest URL and press *Validate*.",
              handshake="`endpoint.url_validation` is answered with `plainToken` and its "
                        "HMAC-SHA256 (`encryptedToken`) under the Secret Token.",
              sample={"event": "meeting.started", "event_ts": 1626230691572,
                      "payload": {"account_id": "AAAAAABBBB",
                                  "object": {"id": "1234567890", "topic": "Standup"}}}),
)
