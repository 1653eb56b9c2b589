"""Slack: ``X-Slack-Signature: v0=<hex>`` over ``"v0:{timestamp}:{body}"`` with
``X-Slack-Request-Timestamp`` (api.slack.com/authentication/verifying-requests-from-slack);
the Events API's ``url_verification`` is answered with its challenge."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from hookplane.presets._kit import (
    Answer,
    AuthOptions,
    Delivery,
    Docs,
    Handshake,
    Preset,
    after,
    bad_handshake,
    body_field,
    check_time,
    hex_digest,
    match,
    parsed,
    token,
    utf8_keys,
)


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    header = "X-Slack-Signature"
    delivery.require(header)
    timestamp = delivery.require("X-Slack-Request-Timestamp")
    found = parsed(header, delivery, after("v0=", hex_digest), "is not 'v0=<64 hex digits>'")
    check_time(delivery, auth, timestamp, "X-Slack-Request-Timestamp", 300)
    return match(header, found, utf8_keys(delivery.secrets), delivery,
                 f"v0:{timestamp}:".encode(), delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    t = str(int(now))
    digest = hmac.new(secret.encode(), f"v0:{t}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": t}, body


def handshake(request: Handshake) -> Answer | None:
    payload = request.payload
    if not isinstance(payload, dict) or payload.get("type") != "url_verification":
        return None
    challenge = token(payload.get("challenge"))
    if challenge is None:
        return bad_handshake("url_verification has no 'challenge' string to echo")
    return Answer(200, "handshake", "slack url_verification: challenge echoed",
                  json={"challenge": challenge})


def event_id(payload: object) -> str | None:
    """The Events API's ``event_id`` (Slack retries an event with the same one)."""
    return body_field(payload, "event_id")


def stored(payload: dict[str, Any]) -> dict[str, Any]:
    """The event without ``token``: Slack's deprecated verification token, a credential
    that every Events API body, interaction and slash command still carries."""
    return {key: value for key, value in payload.items() if key != "token"}


PRESET = Preset(
    name="slack", title="Slack", verify=verify, sign=sign, secret="provider",
    secret_env="SLACK_SIGNING_SECRET",
    scheme="`X-Slack-Signature: v0=<hex>` over `v0:{X-Slack-Request-Timestamp}:{body}`",
    credential_headers=("x-slack-signature",), timestamped=True, form_bodies=True,
    handshake=handshake, body_delivery_id=event_id, stored=stored,
    replay="signed timestamp; the Events API's `event_id` de-duplicates retries (forms "
           "carry none)",
    docs=Docs(dashboard="App settings → *Basic Information* → *App Credentials*: copy the "
                        "*Signing Secret*. Paste the ingest URL as the *Request URL* under "
                        "*Event Subscriptions* (and *Interactivity & Shortcuts*, *Slash "
                        "Commands*).",
              handshake="`{\"type\": \"url_verification\", \"challenge\": …}` is answered "
                        "`200 {\"challenge\": …}` once it verifies.",
              sample={"type": "event_callback", "event_id": "Ev08MFMKH6",
                      "event": {"type": "app_mention", "text": "hello", "user": "U061F7AUR"}}),
)
