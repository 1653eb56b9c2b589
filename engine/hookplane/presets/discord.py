"""Discord interactions: ``X-Signature-Ed25519: <hex>``, an Ed25519 signature of
``X-Signature-Timestamp`` followed by the body, under the application's public key
(``auth.public_key``, hex; discord.com/developers/docs/interactions, "Security and
Authorization"). A verified PING is answered PONG; other interactions are stored and
answered with a deferred response, as Discord requires an answer within 3 seconds."""

from __future__ import annotations

import binascii
import dataclasses
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hookplane.presets._kit import (
    Answer,
    AuthOptions,
    Delivery,
    Docs,
    Handshake,
    Preset,
    Reject,
    body_field,
    check_time,
    hex_digest,
    utf8,
)

SIGNATURE = "X-Signature-Ed25519"
STAMP = "X-Signature-Timestamp"


_SMALL_ORDER = tuple(bytes.fromhex(point) for point in (
    "00" * 32,                                                           # order 4
    "01" + "00" * 31,                                                    # the identity
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  # order 8
    "ec" + "ff" * 30 + "7f",                                             # order 2
    "ed" + "ff" * 30 + "7f",                                             # p (0): order 4
    "ee" + "ff" * 30 + "7f",                                             # p + 1 (1): identity
))
"""Encodings of the points of small order, sign bit clear (libsodium's block list): under
such a "key" signatures are forged without any private key (under the identity, ``R = B,
S = 1`` verifies every message); OpenSSL loads and verifies with them all the same."""


def _small_order(raw: bytes) -> bool:
    masked = raw[:31] + bytes([raw[31] & 0x7F])
    return masked in _SMALL_ORDER


def _key(text: str) -> Ed25519PublicKey | None:
    raw = hex_digest(text.strip(), 32)
    if raw is None or _small_order(raw):
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        return None


def check_public_key(text: str) -> str | None:
    if _key(text) is None:
        return ("is not an Ed25519 public key: 64 hex digits, the *Public Key* on the "
                "application's General Information page")
    return None


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    signature = hex_digest(delivery.require(SIGNATURE), 64)
    timestamp = delivery.require(STAMP)
    if signature is None:
        raise Reject("malformed_header", f"{SIGNATURE} is not '<128 hex digits>'")
    check_time(delivery, auth, timestamp, STAMP, 300)
    key = _key(auth.public_key or "")
    if key is None:
        raise Reject("bad_signature", "no usable public key is configured for this webhook")
    try:
        key.verify(signature, (utf8(timestamp) or b"") + delivery.body)
    except InvalidSignature:
        raise Reject("bad_signature",
                     f"{SIGNATURE} does not match the body under the public key") from None
    return f"{SIGNATURE} verified with the application's public key"


def handshake(request: Handshake) -> Answer | None:
    payload = request.payload
    if not isinstance(payload, dict) or payload.get("type") != 1:
        return None
    return Answer(200, "handshake", "discord PING answered PONG", json={"type": 1})


def interaction_id(payload: object) -> str | None:
    """The interaction's ``id`` (a snowflake, unique per interaction)."""
    return body_field(payload, "id")


_DEFERRED: dict[int, dict[str, Any]] = {2: {"type": 5}, 3: {"type": 6},
                                        4: {"type": 8, "data": {"choices": []}},
             5: {"type": 5}}
"""Interaction type → the deferred answer Discord accepts for it (command and modal: 5,
deferred message; component: 6, deferred update; autocomplete: 8, no choices)."""


def accepted(payload: object) -> dict[str, Any] | None:
    kind = payload.get("type") if isinstance(payload, dict) else None
    answer = _DEFERRED.get(kind) if isinstance(kind, int) and not isinstance(kind, bool) \
        else None
    return dict(answer) if answer is not None else None


PRESET = Preset(
    name="discord", title="Discord interactions", verify=verify, secret="none",
    scheme="`X-Signature-Ed25519: <hex>` of `{X-Signature-Timestamp}{body}` under the "
           "application's public key",
    credential_headers=("x-signature-ed25519",), timestamped=True, handshake=handshake,
    options=frozenset({"public_key"}), required=frozenset({"public_key"}),
    check_public_key=check_public_key, accepted=accepted, body_delivery_id=interaction_id,
    replay="signed timestamp; the interaction `id` (in the body) refuses a second use",
    docs=Docs(dashboard="Developer Portal → your application → *General Information*: "
                        "*Interactions Endpoint URL* = the ingest URL; copy the *Public Key* "
                        "into `auth.public_key` (it is not a secret).",
              handshake="A signed PING (`{\"type\": 1}`) is answered `{\"type\": 1}` (PONG); "
                        "Discord refuses to save the URL otherwise. Other interactions are "
                        "stored and answered with a deferred response (type 5, 6 or 8).",
              sample={"type": 2, "id": "786008729715212338", "application_id": "7750",
                      "data": {"name": "ping", "type": 1}, "token": "A_UNIQUE_TOKEN"}),
)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    """``secret`` is a test key pair's private half: 64 hex digits (the Ed25519 seed)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret.strip()))
    timestamp = str(int(now))
    return {SIGNATURE: key.sign(timestamp.encode() + body).hex(), STAMP: timestamp}, body


PRESET = dataclasses.replace(PRESET, sign=sign, signs_with_private_key=True)
