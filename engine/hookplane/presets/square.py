"""Square: ``x-square-hmacsha256-signature: <base64>`` HMAC-SHA256 of the notification URL
followed by the body, keyed with the subscription's signature key
(developer.squareup.com, "Validate notifications"). The URL is the one Square calls: set
``HOOKPLANE_PUBLIC_URL`` to the address it is given."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    base64_digest,
    body_field,
    match,
    parsed,
    utf8,
    utf8_keys,
)

HEADER = "x-square-hmacsha256-signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    found = parsed(HEADER, delivery, base64_digest, "is not the base64 of a SHA-256 HMAC")
    url = utf8(delivery.require_url()) or b""
    return match(HEADER, found, utf8_keys(delivery.secrets), delivery, url, delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    mac = hmac.new(secret.encode(), url.encode() + body, hashlib.sha256).digest()
    return {HEADER: base64.b64encode(mac).decode()}, body


def event_id(payload: object) -> str | None:
    return body_field(payload, "event_id")


PRESET = Preset(
    name="square", title="Square", verify=verify, sign=sign, secret="provider",
    secret_env="SQUARE_WEBHOOK_SIGNATURE_KEY",
    scheme="`x-square-hmacsha256-signature: <base64>` of `{notification URL}{body}`",
    credential_headers=(HEADER,), body_delivery_id=event_id, signs_url=True,
    replay="none (no signed time); `event_id` de-duplicates retries",
    docs=Docs(dashboard="Developer Console → your application → *Webhooks → Subscriptions → "
                        "Add subscription*: *Notification URL* = the ingest URL (exactly, as "
                        "`HOOKPLANE_PUBLIC_URL` makes it); copy the *Signature key*.",
              sample={"merchant_id": "6SSW7HV8K2ST5", "type": "payment.updated",
                      "event_id": "13b867cf-db3d-4b1c-90b6-2f32a9d78124",
                      "data": {"type": "payment", "id": "KkAkhdMsgzn59SM8A89WgKwekxLZY",
                               "object": {"payment": {"status": "COMPLETED"}}}}),
)
