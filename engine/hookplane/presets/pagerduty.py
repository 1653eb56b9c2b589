"""PagerDuty (v3 webhooks): ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]`` of the body, one
signature per active secret during a rotation (developer.pagerduty.com, "Verifying
Signatures")."""

from __future__ import annotations

import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    after,
    example_id,
    hex_digest,
    signed,
)

HEADER = "X-PagerDuty-Signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    entries = [item.strip() for item in delivery.require(HEADER).split(",")]
    return signed(HEADER, delivery, after("v1=", hex_digest),
                  "has no 'v1=<64 hex digits>' signature", delivery.body, entries=entries)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {HEADER: f"v1={digest}", "X-Webhook-Id": example_id(body, now)}, body


PRESET = Preset(
    name="pagerduty", title="PagerDuty", verify=verify, sign=sign, secret="provider",
    secret_env="PAGERDUTY_WEBHOOK_SECRET",
    scheme="`X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]` of the body",
    credential_headers=("x-pagerduty-signature",), delivery_id_headers=("x-webhook-id",),
    replay="none (no signed time); `X-Webhook-Id` de-duplicates retries",
    docs=Docs(dashboard="*Integrations → Generic Webhooks (v3) → New Webhook*: *Webhook URL* = "
                        "the ingest URL; copy the *Signing Secret* shown once.",
              sample={"event": {"id": "01DEN7MXHL2KAZ5HPD8KM0Z1F2",
                                "event_type": "incident.triggered",
                                "data": {"id": "PGR0VU2", "title": "Disk full"}}}),
)
