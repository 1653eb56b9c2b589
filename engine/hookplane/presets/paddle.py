"""Paddle Billing: ``Paddle-Signature: ts=<unix>;h1=<hex>[;h1=…]``, HMAC-SHA256 of
``"{ts}:{body}"`` keyed with the notification destination's secret key; the SDKs refuse a
timestamp more than 5 s away (developer.paddle.com, "Verify webhook signatures")."""

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
    check_time,
    hex_digest,
    match,
    parsed,
    utf8_keys,
)

HEADER = "Paddle-Signature"
TOLERANCE = 5


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    stamps: list[str] = []
    hashes: list[str] = []
    for item in delivery.require(HEADER).split(";"):
        key, equals, value = item.strip().partition("=")
        if equals and key == "ts":
            stamps.append(value)
        elif equals and key == "h1":
            hashes.append(value)
    if len(stamps) != 1:
        raise Reject("malformed_header", f"{HEADER} needs exactly one 'ts=<unix timestamp>'")
    found = parsed(HEADER, delivery, hex_digest, "has no 'h1=<64 hex digits>' signature",
                   entries=hashes)
    check_time(delivery, auth, stamps[0], f"{HEADER} ts", TOLERANCE)
    return match(HEADER, found, utf8_keys(delivery.secrets), delivery,
                 f"{stamps[0]}:".encode(), delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    ts = int(now)
    digest = hmac.new(secret.encode(), f"{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {HEADER: f"ts={ts};h1={digest}"}, body


def notification_id(payload: object) -> str | None:
    return body_field(payload, "notification_id")


PRESET = Preset(
    name="paddle", title="Paddle Billing", verify=verify, sign=sign, secret="provider",
    secret_env="PADDLE_WEBHOOK_SECRET",
    scheme="`Paddle-Signature: ts=…;h1=<hex>` over `{ts}:{body}`, 5 s tolerance (the SDKs')",
    credential_headers=("paddle-signature",), body_delivery_id=notification_id,
    timestamped=True, tolerance=TOLERANCE,
    replay="signed timestamp; `notification_id` de-duplicates retries",
    docs=Docs(dashboard="*Developer tools → Notifications → New destination*: *URL* = the "
                        "ingest URL; copy the destination's *Secret key* (`pdl_ntfset_…`).",
              notes="Paddle's own SDKs allow 5 s of clock difference; raise "
                    "`tolerance_seconds` if your clock is less exact.",
              sample={"event_id": "evt_01h8bzakzx3hm2fmen703n5q45",
                      "notification_id": "ntf_01h8bzam1z32agrxjwhjgqk8w6",
                      "event_type": "transaction.completed",
                      "data": {"id": "txn_01h8bxdk4rfdws4xah6z5d59h7", "status": "completed"}}),
)
