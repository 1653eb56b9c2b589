"""Twitch EventSub: ``Twitch-Eventsub-Message-Signature: sha256=<hex>`` over message id +
timestamp + body, RFC 3339 timestamp, refused after 10 minutes (dev.twitch.tv, "Verifying
the event message"); answers ``webhook_callback_verification``, logs ``revocation``."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from hookplane.presets._kit import (
    Answer,
    AuthOptions,
    Delivery,
    Docs,
    Handshake,
    Preset,
    Reject,
    after,
    bad_handshake,
    check_rfc3339,
    example_id,
    hex_digest,
    match,
    parsed,
    single,
    token,
    utf8,
    utf8_keys,
)

HEADER = "Twitch-Eventsub-Message-Signature"
TOLERANCE = 600


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    delivery.require(HEADER)
    message_id = delivery.require("Twitch-Eventsub-Message-Id")
    timestamp = delivery.require("Twitch-Eventsub-Message-Timestamp")
    found = parsed(HEADER, delivery, after("sha256=", hex_digest),
                   "is not 'sha256=<64 hex digits>'")
    prefix = utf8(message_id + timestamp)
    if prefix is None:
        raise Reject("malformed_header", "Twitch-Eventsub-Message-Id is not valid text")
    check_rfc3339(delivery, auth, timestamp, "Twitch-Eventsub-Message-Timestamp", TOLERANCE)
    return match(HEADER, found, utf8_keys(delivery.secrets), delivery, prefix, delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    message_id = example_id(body, now)
    timestamp = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    digest = hmac.new(secret.encode(), (message_id + timestamp).encode() + body,
                      hashlib.sha256).hexdigest()
    return {HEADER: f"sha256={digest}", "Twitch-Eventsub-Message-Id": message_id,
            "Twitch-Eventsub-Message-Timestamp": timestamp,
            "Twitch-Eventsub-Message-Type": "notification"}, body


def handshake(request: Handshake) -> Answer | None:
    kind = single(request.headers, "twitch-eventsub-message-type")
    payload = request.payload
    if kind not in ("webhook_callback_verification", "revocation"):
        # notification (or a type Twitch adds later): an event. The type header is not
        # signed: a verification or revocation relabelled (or sent without it) has no event
        if isinstance(payload, dict) and "event" not in payload and "events" not in payload:
            return bad_handshake("a Twitch notification carries 'event' ('events' when "
                                 "batched); this body has neither (Twitch-Eventsub-Message-"
                                 "Type is not signed)")
        return None
    subscription = payload.get("subscription") if isinstance(payload, dict) else None
    named = ""
    if isinstance(subscription, dict):
        named = "".join(f" {subscription[key][:100]}" for key in ("type", "id")
                        if isinstance(subscription.get(key), str))
    if kind == "revocation":
        status = subscription.get("status") if isinstance(subscription, dict) else None
        return Answer(204, "revocation",
                      f"twitch revoked subscription{named or ' (unnamed)'}: "
                      f"{str(status)[:100] if isinstance(status, str) else 'no status given'}")
    challenge = token(payload.get("challenge")) if isinstance(payload, dict) else None
    if challenge is None:
        return bad_handshake("webhook_callback_verification has no 'challenge' string to echo")
    return Answer(200, "handshake",
                  f"twitch webhook_callback_verification{named}: challenge echoed",
                  text=challenge)


def check_secret(secret: str) -> str | None:
    if not (10 <= len(secret) <= 100 and secret.isascii()):
        return ("is not 10 to 100 ASCII characters, which Twitch requires of a subscription's "
                "transport.secret")
    return None


PRESET = Preset(
    name="twitch", title="Twitch EventSub", verify=verify, sign=sign,
    scheme="`Twitch-Eventsub-Message-Signature: sha256=<hex>` over `{Message-Id}{Message-"
           "Timestamp}{body}`, RFC 3339 timestamp, 10 minutes",
    credential_headers=("twitch-eventsub-message-signature",),
    delivery_id_headers=("twitch-eventsub-message-id",), timestamped=True, signs_delivery_id=True,
    tolerance=TOLERANCE, handshake=handshake, check_secret=check_secret,
    replay="signed timestamp and signed message id",
    docs=Docs(dashboard="Create the subscription with the Helix API (`POST /eventsub/"
                        "subscriptions`): `transport.callback` = the ingest URL, "
                        "`transport.secret` = the webhook's secret (10–100 characters).",
              handshake="`webhook_callback_verification` is answered with the raw "
                        "`challenge` (`text/plain`); `revocation` with 204, logged. The "
                        "message type is not signed: a `notification` without `event` "
                        "(`events` when batched) is refused 400, never stored.",
              sample={"subscription": {"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
                                       "type": "channel.follow", "version": "2"},
                      "event": {"user_id": "1234", "user_name": "cool_user"}}),
)
