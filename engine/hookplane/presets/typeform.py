"""Typeform: ``Typeform-Signature: sha256=<base64>`` HMAC-SHA256 of the body keyed with the
webhook's secret (developer.typeform.com, "Secure your webhooks")."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    after,
    base64_digest,
    body_field,
    signed,
)

HEADER = "Typeform-Signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    return signed(HEADER, delivery, after("sha256=", base64_digest),
                  "is not 'sha256=<base64 of 32 bytes>'", delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {HEADER: "sha256=" + base64.b64encode(mac).decode()}, body


def event_id(payload: object) -> str | None:
    return body_field(payload, "event_id")


PRESET = Preset(
    name="typeform", title="Typeform", verify=verify, sign=sign,
    scheme="`Typeform-Signature: sha256=<base64>` of the body",
    credential_headers=("typeform-signature",), body_delivery_id=event_id,
    replay="none (no signed time); `event_id` de-duplicates retries",
    docs=Docs(dashboard="Form → *Connect → Webhooks → Add a webhook*: the ingest URL; then "
                        "*Edit → Secret* = the webhook's secret.",
              sample={"event_id": "LtWXD3crgy", "event_type": "form_response",
                      "form_response": {"form_id": "lT4Z3j",
                                        "token": "a3a12ec67a1365927098a606107fac15",
                                        "answers": [{"type": "text", "text": "Ada"}]}}),
)
