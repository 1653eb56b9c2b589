"""Twilio SendGrid Event Webhook: ``X-Twilio-Email-Event-Webhook-Signature: <base64 DER>``,
an ECDSA P-256 / SHA-256 signature of ``X-Twilio-Email-Event-Webhook-Timestamp`` followed by
the body, under the verification key SendGrid shows (``auth.public_key``, base64 DER;
twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
SendGrid posts a JSON array of events: it is stored as ``{"events": [...]}``."""

from __future__ import annotations

import base64
import binascii
import dataclasses

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    Reject,
    check_time,
    utf8,
)

SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
STAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
_MAX_SIGNATURE_CHARS = 200


def _key(text: str) -> ec.EllipticCurvePublicKey | None:
    try:
        key = serialization.load_der_public_key(base64.b64decode(text.strip(), validate=True))
    except (ValueError, binascii.Error, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        return None
    return key


def check_public_key(text: str) -> str | None:
    if _key(text) is None:
        return ("is not an ECDSA P-256 public key in base64 DER (the *Verification Key* "
                "SendGrid shows under *Signature Verification*)")
    return None


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    encoded = delivery.require(SIGNATURE)
    timestamp = delivery.require(STAMP)
    try:
        if len(encoded) > _MAX_SIGNATURE_CHARS:
            raise ValueError
        signature = base64.b64decode(encoded, validate=True)
    except (ValueError, binascii.Error):
        raise Reject("malformed_header", f"{SIGNATURE} is not base64") from None
    check_time(delivery, auth, timestamp, STAMP, 300)
    key = _key(auth.public_key or "")
    if key is None:
        raise Reject("bad_signature", "no usable public key is configured for this webhook")
    try:
        key.verify(signature, (utf8(timestamp) or b"") + delivery.body,
                   ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Reject("bad_signature",
                     f"{SIGNATURE} does not match the body under the verification key") from None
    return f"{SIGNATURE} verified with the verification key"


PRESET = Preset(
    name="sendgrid", title="Twilio SendGrid", verify=verify, secret="none",
    scheme="`X-Twilio-Email-Event-Webhook-Signature: <base64>` ECDSA P-256 of "
           "`{timestamp}{body}` under the verification key",
    credential_headers=(), timestamped=True, array_key="events",
    options=frozenset({"public_key"}), required=frozenset({"public_key"}),
    check_public_key=check_public_key,
    replay="signed timestamp",
    docs=Docs(dashboard="*Settings → Mail Settings → Event Webhooks → Create new webhook*: "
                        "*Post URL* = the ingest URL; enable *Signature Verification* and copy "
                        "the *Verification Key* into `auth.public_key` (it is not a secret).",
              notes="SendGrid posts an array of events; the record gets "
                    "`{\"events\": [...]}`.",
              sample=[{"email": "alice@example.com", "event": "delivered",
                       "sg_event_id": "sg_event_id", "timestamp": 1513299569}]),
)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    """``secret`` is a test key pair's private half, PEM (PKCS #8) text."""
    key = serialization.load_pem_private_key(secret.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the private key is not an ECDSA key")
    timestamp = str(int(now))
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signature).decode(), STAMP: timestamp}, body


PRESET = dataclasses.replace(PRESET, sign=sign, signs_with_private_key=True)
