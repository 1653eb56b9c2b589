"""The ``sendgrid`` preset against SendGrid's own ``EventWebhook`` verifier (sendgrid-python).

SendGrid signs ``{X-Twilio-Email-Event-Webhook-Timestamp}{body}`` with ECDSA P-256 / SHA-256
and sends the DER signature in base64; the verification key it shows is the base64 DER of the
public key (twilio.com/docs/sendgrid/for-developers/tracking-events/
getting-started-event-webhook-security-features). Nothing in SendGrid's library signs, so the
signatures are made with ``cryptography`` the documented way, and every case is checked to be
decided the same by ``EventWebhook.verify_signature`` and by Hookplane.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader

from hookplane.config.models import Auth
from hookplane.runtime.verify import VerifyResult, verify

NOW = 1_700_000_000
KEY = ec.derive_private_key(0x5EED_5E9D_0123_4567_89AB_CDEF, ec.SECP256R1())
OTHER_KEY = ec.derive_private_key(0xBAD_C0FFEE, ec.SECP256R1())
BODY = (b'[{"email":"alice@example.com","event":"delivered","sg_event_id":"ZGVsaXZlcmVk",'
        b'"timestamp":1700000000,"note":"caf\xc3\xa9"}]\r\n')
SIGNATURE = EventWebhookHeader.SIGNATURE
TIMESTAMP = EventWebhookHeader.TIMESTAMP


def _public(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


PUBLIC = _public(KEY)


def _sign(body: bytes, timestamp: str, key: ec.EllipticCurvePrivateKey = KEY) -> dict[str, str]:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signature).decode(), TIMESTAMP: timestamp}


def _sendgrid_accepts(headers: dict[str, str], body: bytes, public_key: str = PUBLIC) -> bool:
    hook = EventWebhook(public_key)
    return bool(hook.verify_signature(body.decode(), headers[SIGNATURE], headers[TIMESTAMP]))


def _check(headers: dict[str, str], body: bytes = BODY, public_key: str = PUBLIC,
           now: float = NOW) -> VerifyResult:
    return verify(Auth(type="sendgrid", public_key=public_key), headers=headers, body=body,
                  secrets=[], now=now)


def test_sendgrid_header_names_are_the_libraries() -> None:
    assert SIGNATURE == "X-Twilio-Email-Event-Webhook-Signature"
    assert TIMESTAMP == "X-Twilio-Email-Event-Webhook-Timestamp"


def test_sendgrid_signed_the_documented_way() -> None:
    headers = _sign(BODY, str(NOW))
    assert _sendgrid_accepts(headers, BODY)
    result = _check(headers)
    assert (result.ok, result.reason, result.delivery_id) == (True, "ok", None)


def test_sendgrid_both_agree_on_every_case() -> None:
    signed = _sign(BODY, str(NOW))
    other = _sign(BODY, str(NOW), OTHER_KEY)
    cases = [
        (signed, BODY, True),
        (signed, BODY.replace(b"delivered", b"bounce"), False),
        (signed, BODY.rstrip(), False),  # SendGrid signs the body byte for byte
        ({**signed, TIMESTAMP: str(NOW + 1)}, BODY, False),
        (other, BODY, False),
    ]
    for headers, body, valid in cases:
        assert _sendgrid_accepts(headers, body) is valid
        result = _check(headers, body)
        assert result.ok is valid
        assert result.reason == ("ok" if valid else "bad_signature")


def test_sendgrid_stale_and_future_timestamp() -> None:
    stale = _sign(BODY, str(NOW - 301))
    assert _sendgrid_accepts(stale, BODY)  # the library checks no age; Hookplane does
    assert _check(stale).reason == "stale_timestamp"
    assert _check(_sign(BODY, str(NOW + 301))).reason == "future_timestamp"
    assert _check(_sign(BODY, str(NOW - 299))).ok


def test_sendgrid_wrong_public_key() -> None:
    headers = _sign(BODY, str(NOW))
    assert not _sendgrid_accepts(headers, BODY, _public(OTHER_KEY))
    assert _check(headers, public_key=_public(OTHER_KEY)).reason == "bad_signature"


@pytest.mark.parametrize("signature", ["not base64!", "A" * 201])
def test_sendgrid_malformed_signature(signature: str) -> None:
    headers = {**_sign(BODY, str(NOW)), SIGNATURE: signature}
    assert _check(headers).reason == "malformed_header"


def test_sendgrid_signature_that_is_not_der_is_refused() -> None:
    headers = {**_sign(BODY, str(NOW)), SIGNATURE: base64.b64encode(b"\x30" * 70).decode()}
    assert not _sendgrid_accepts(headers, BODY)
    assert _check(headers).reason == "bad_signature"


def test_sendgrid_malformed_timestamp() -> None:
    assert _check(_sign(BODY, "2023-11-14T22:13:20Z")).reason == "malformed_header"


@pytest.mark.parametrize("public_key", [
    "",
    "not base64!",
    base64.b64encode(b"not DER").decode(),
    # a P-384 key: SendGrid's keys are P-256
    _public(ec.derive_private_key(7, ec.SECP384R1())),
])
def test_sendgrid_unusable_public_key(public_key: str) -> None:
    with pytest.raises(ValidationError, match="P-256"):
        Auth(type="sendgrid", public_key=public_key)
    auth = Auth.model_construct(type="sendgrid", public_key=public_key)
    result = verify(auth, headers=_sign(BODY, str(NOW)), body=BODY, secrets=[], now=NOW)
    assert (result.ok, result.reason) == (False, "bad_signature")
