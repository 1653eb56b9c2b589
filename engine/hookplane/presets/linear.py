"""Linear: ``Linear-Signature: <hex>`` HMAC-SHA256 of the body; the body's
``webhookTimestamp`` (Unix milliseconds) is covered by the signature and must be within a
minute (linear.app/developers/webhooks, "Securing webhooks")."""

from __future__ import annotations

import hashlib
import hmac
import json

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    Reject,
    check_age,
    example_id,
    hex_digest,
    match,
    parsed,
    utf8_keys,
)

HEADER = "Linear-Signature"
TOLERANCE = 60


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    found = parsed(HEADER, delivery, hex_digest, "is not '<64 hex digits>'")
    detail = match(HEADER, found, utf8_keys(delivery.secrets), delivery, delivery.body)
    document = delivery.json()  # signed: the timestamp inside is the sender's
    stamp = document.get("webhookTimestamp") if isinstance(document, dict) else None
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        raise Reject("malformed_header", "the body has no numeric 'webhookTimestamp'")
    check_age(delivery, auth, stamp / 1000, "webhookTimestamp", TOLERANCE)
    return detail


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict):
        document["webhookTimestamp"] = int(now * 1000)
        body = json.dumps(document).encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {HEADER: digest, "Linear-Delivery": example_id(body, now),
            "Linear-Event": "Issue"}, body


PRESET = Preset(
    name="linear", title="Linear", verify=verify, sign=sign, secret="provider",
    secret_env="LINEAR_WEBHOOK_SECRET",
    scheme="`Linear-Signature: <hex>` of the body; the body's `webhookTimestamp` within 60 s",
    credential_headers=("linear-signature",), delivery_id_headers=("linear-delivery",),
    timestamped=True, tolerance=TOLERANCE, dedup_on_body=False,
    replay="signed timestamp (inside the body); `Linear-Delivery` de-duplicates retries",
    docs=Docs(dashboard="*Settings → API → Webhooks → New webhook*: *URL* = the ingest URL; "
                        "copy the *Signing secret*.",
              sample={"action": "create", "type": "Issue", "webhookTimestamp": 0,
                      "data": {"id": "2174add1-f7c8-44e3-bbf3-2d60b5ea8bc9",
                               "title": "Login fails", "priority": 2}}),
)
