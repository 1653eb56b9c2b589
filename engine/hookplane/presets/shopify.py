"""Shopify: ``X-Shopify-Hmac-Sha256: <base64>`` of the body, keyed with the app's client
secret (shopify.dev, "Verify webhooks")."""

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
    example_id,
    signed,
)


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    return signed("X-Shopify-Hmac-Sha256", delivery, base64_digest,
                  "is not the base64 of a SHA-256 HMAC", delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    mac = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return {"X-Shopify-Hmac-Sha256": base64.b64encode(mac).decode(),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": example_id(body, now)}, body


PRESET = Preset(
    name="shopify", title="Shopify", verify=verify, sign=sign, secret="provider",
    secret_env="SHOPIFY_WEBHOOK_SECRET",
    scheme="`X-Shopify-Hmac-Sha256: <base64>` of the body",
    credential_headers=("x-shopify-hmac-sha256",),
    delivery_id_headers=("x-shopify-webhook-id",),
    replay="none (no signed time); `X-Shopify-Webhook-Id` de-duplicates retries",
    docs=Docs(dashboard="App configuration → *Webhooks subscriptions* (or `shopify.app.toml` "
                        "`[webhooks]`): *uri* = the ingest URL; the key is the app's *Client "
                        "secret*.",
              sample={"id": 820982911946154508, "email": "jon@example.com",
                      "total_price": "199.65"}),
)
