"""Stripe: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`` over ``"{t}.{body}"``, keyed with
the endpoint's ``whsec_…`` secret as text (stripe.com/docs/webhooks/signatures)."""

from __future__ import annotations

import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    Reject,
    body_field,
    candidates,
    check_time,
    hex_digest,
    match,
    utf8_keys,
)

HEADER = "Stripe-Signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in delivery.require(HEADER).split(","):
        key, equals, value = item.strip().partition("=")
        if equals and key == "t":
            timestamps.append(value)
        elif equals and key == "v1":
            signatures.append(value)
    if len(timestamps) != 1:
        raise Reject("malformed_header", f"{HEADER} needs exactly one 't=<unix timestamp>'")
    found = candidates(signatures, hex_digest)
    if not found:
        raise Reject("malformed_header", f"{HEADER} has no 'v1=<64 hex digits>' signature")
    check_time(delivery, auth, timestamps[0], f"{HEADER} t", 300)
    prefix = f"{timestamps[0]}.".encode()
    return match(HEADER, found, utf8_keys(delivery.secrets), delivery, prefix, delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    t = int(now)
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {HEADER: f"t={t},v1={digest}"}, body


def event_id(payload: object) -> str | None:
    value = payload.get("id") if isinstance(payload, dict) else None
    return value if isinstance(value, str) and body_field(payload, "id") else None


PRESET = Preset(
    name="stripe", title="Stripe", verify=verify, sign=sign, secret="provider",
    secret_env="STRIPE_WEBHOOK_SECRET",
    scheme="`Stripe-Signature: t=…,v1=…` over `{t}.{body}`, 300 s tolerance",
    credential_headers=("stripe-signature",), body_delivery_id=event_id,
    timestamped=True, replay="signed timestamp; the event id de-duplicates retries",
    docs=Docs(dashboard="*Developers → Webhooks → Add endpoint*: *Endpoint URL* = the ingest "
                        "URL; then *Reveal* the *Signing secret* (`whsec_…`).",
              sample={"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "type": "invoice.paid",
                      "data": {"object": {"id": "in_1", "amount_paid": 2000}}}),
)
