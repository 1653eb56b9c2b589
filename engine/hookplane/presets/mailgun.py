"""Mailgun: the signature travels in the JSON body, ``{"signature": {"timestamp", "token",
"signature"}, "event-data": …}``: hex HMAC-SHA256 of ``timestamp + token`` keyed with the
HTTP webhook signing key (documentation.mailgun.com, "Securing webhooks"). The signature does
not cover ``event-data``: each token is accepted once per webhook (de-duplicated) and only
within the tolerance, so a captured one cannot carry another event to the same webhook. The
key is the Mailgun account's: another webhook keyed alike (another environment too) takes a
captured signature once more, with any event, within the tolerance; so the signature itself
is not stored in the record."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

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
    utf8,
    utf8_keys,
)


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    document = delivery.json()
    timestamp = body_field(document, "signature", "timestamp")
    token = body_field(document, "signature", "token")
    signature = body_field(document, "signature", "signature")
    if timestamp is None or token is None or signature is None:
        raise Reject("missing_header", "the body has no 'signature' object with 'timestamp', "
                     "'token' and 'signature'")
    found = candidates([signature], hex_digest)
    if not found:
        raise Reject("malformed_header", "signature.signature is not '<64 hex digits>'")
    check_time(delivery, auth, timestamp, "signature.timestamp", 300)
    return match("signature.signature", found, utf8_keys(delivery.secrets), delivery,
                 utf8(timestamp + token) or b"")


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    document = json.loads(body)
    timestamp = str(int(now))
    token = hashlib.sha256(body + timestamp.encode()).hexdigest()[:50]
    digest = hmac.new(secret.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    document["signature"] = {"timestamp": timestamp, "token": token, "signature": digest}
    return {}, json.dumps(document).encode()


def stored(payload: dict[str, Any]) -> dict[str, Any]:
    """The event without ``signature.signature`` (timestamp and token are kept)."""
    signature = payload.get("signature")
    if not isinstance(signature, dict):
        return payload
    return {**payload, "signature": {key: value for key, value in signature.items()
                                     if key != "signature"}}


def token_id(payload: object) -> str | None:
    return body_field(payload, "signature", "token")


PRESET = Preset(
    name="mailgun", title="Mailgun", verify=verify, sign=sign, secret="provider",
    secret_env="MAILGUN_WEBHOOK_SIGNING_KEY",
    scheme="body `signature.signature`: hex HMAC-SHA256 of `{signature.timestamp}"
           "{signature.token}`, 5 minutes",
    body_delivery_id=token_id, timestamped=True, stored=stored,
    signs_body=False, ids_shared_by_secret=True,
    replay="signed timestamp and a signed token, once across every webhook keyed alike (the "
           "event itself is not signed)",
    docs=Docs(dashboard="*Sending → Webhooks*: add the ingest URL for each event type; the "
                        "key is the *HTTP webhook signing key* on the same page.",
              notes="`signature.signature` is taken out before the record is stored "
                    "(`timestamp` and `token` are kept). The signing key is the account's and "
                    "the event is not signed, so a token is de-duplicated across every webhook "
                    "verifying with the same key, in every environment: a signature one "
                    "webhook took is a duplicate at any other, whatever event it carries. "
                    "The event itself can still be altered by whoever captures a delivery "
                    "before it arrives (use HTTPS).",
              sample={"event-data": {"event": "delivered", "id": "CPgfbmQMTCKtHW6uIWtuVe",
                                     "recipient": "alice@example.com"}}),
)
