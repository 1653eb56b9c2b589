"""Zendesk: ``X-Zendesk-Webhook-Signature: <base64>`` HMAC-SHA256 of
``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601) followed by the body, keyed with the
webhook's signing secret (developer.zendesk.com, "Verifying webhook authenticity")."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    base64_digest,
    check_rfc3339,
    example_id,
    match,
    parsed,
    utf8,
    utf8_keys,
)

HEADER = "X-Zendesk-Webhook-Signature"
STAMP = "X-Zendesk-Webhook-Signature-Timestamp"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    delivery.require(HEADER)
    timestamp = delivery.require(STAMP)
    found = parsed(HEADER, delivery, base64_digest, "is not the base64 of a SHA-256 HMAC")
    check_rfc3339(delivery, auth, timestamp, STAMP, 300)
    return match(HEADER, found, utf8_keys(delivery.secrets), delivery,
                 utf8(timestamp) or b"", delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    timestamp = datetime.fromtimestamp(int(now), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {HEADER: base64.b64encode(mac).decode(), STAMP: timestamp,
            "X-Zendesk-Webhook-Invocation-Id": example_id(body, now)}, body


PRESET = Preset(
    name="zendesk", title="Zendesk", verify=verify, sign=sign, secret="provider",
    secret_env="ZENDESK_WEBHOOK_SECRET",
    scheme="`X-Zendesk-Webhook-Signature: <base64>` of `{timestamp}{body}`, ISO 8601 "
           "timestamp, 5 minutes",
    credential_headers=("x-zendesk-webhook-signature",),
    delivery_id_headers=("x-zendesk-webhook-invocation-id",), timestamped=True,
    replay="signed timestamp; the invocation id de-duplicates retries",
    docs=Docs(dashboard="Admin Center → *Apps and integrations → Webhooks → Create webhook*: "
                        "*Endpoint URL* = the ingest URL, *Request method* POST, format JSON; "
                        "then *Reveal secret* on the webhook's page.",
              sample={"type": "zen:event-type:ticket.created", "id": "cbe4028c-7239",
                      "detail": {"id": "35436", "subject": "Printer on fire"}}),
)
