"""Intercom: ``X-Hub-Signature: sha1=<hex>`` HMAC-SHA1 of the body keyed with the app's
client secret (developers.intercom.com, "Webhooks → Signed notifications")."""

from __future__ import annotations

import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    after,
    body_field,
    sha1_hex,
    signed,
)

HEADER = "X-Hub-Signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    return signed(HEADER, delivery, after("sha1=", sha1_hex), "is not 'sha1=<40 hex digits>'",
                  delivery.body, algorithm=hashlib.sha1)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    return {HEADER: "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}, body


def notification_id(payload: object) -> str | None:
    return body_field(payload, "id")


PRESET = Preset(
    name="intercom", title="Intercom", verify=verify, sign=sign, secret="provider",
    secret_env="INTERCOM_CLIENT_SECRET",
    scheme="`X-Hub-Signature: sha1=<hex>` HMAC-SHA1 of the body, keyed with the client secret",
    credential_headers=("x-hub-signature",), body_delivery_id=notification_id,
    replay="none (no signed time); the notification `id` de-duplicates retries",
    docs=Docs(dashboard="Developer Hub → your app → *Webhooks*: *Endpoint URL* = the ingest "
                        "URL; the key is the app's *Client secret* (*Basic information*).",
              sample={"type": "notification_event", "id": "notif_ccd8a4d0-f965-11e3-a367",
                      "topic": "conversation.user.created",
                      "data": {"item": {"type": "conversation", "id": "147"}}}),
)
