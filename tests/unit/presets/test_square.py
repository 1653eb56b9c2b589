"""The ``square`` preset against Square's own ``square.utils.webhooks_helper.verify_signature``
(squareup): ``x-square-hmacsha256-signature: <base64>`` HMAC-SHA256 of the notification URL
followed by the body, keyed with the subscription's signature key
(developer.squareup.com/docs/webhooks/step3validate).

Square signs no time: a captured notification replays to the same URL with the same body, so
the replay cases here are another URL and a changed body; ``event_id`` de-duplicates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from square.utils.webhooks_helper import verify_signature

from hookplane.config.models import Auth
from hookplane.presets import PRESETS
from hookplane.runtime.verify import VerifyResult, body_delivery_id, verify

AUTH = Auth(type="square")
HEADER = "x-square-hmacsha256-signature"
# The test vector of Square's SDKs (the same in each language's webhooks-helper tests)
DOC_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
DOC_KEY = "Ibxx_5AKakO-3qeNVR61Dw"
DOC_BODY = (b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
            b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f",'
            b'"created_at":"2022-07-13T20:30:59.037339943Z",'
            b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}')
DOC_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="
KEY = "sq0wss-Zm9vYmFyX2tleV8xMjM0"
OTHER = "sq0wss-c29tZW9uZSBlbHNl"
URL = "https://hooks.example.com/ingest/prod/square-payments"
BODY = (b'{"merchant_id":"6SSW7HV8K2ST5","type":"payment.updated",'
        b'"event_id":"13b867cf-db3d-4b1c-90b6-2f32a9d78124",'
        b'"data":{"type":"payment","id":"KkAkhdMsgzn59SM8A89WgKwekxLZY","note":"caf\xc3\xa9"}}')
EVENT_ID = "13b867cf-db3d-4b1c-90b6-2f32a9d78124"


def _sign(key: str, url: str, body: bytes) -> dict[str, str]:
    """Square's algorithm as its docs give it (the helper only verifies)."""
    mac = hmac.new(key.encode(), url.encode() + body, hashlib.sha256).digest()
    return {HEADER: base64.b64encode(mac).decode(), "Content-Type": "application/json"}


def _square_accepts(headers: dict[str, str], body: bytes, key: str = KEY,
                    url: str = URL) -> bool:
    return verify_signature(request_body=body.decode(), signature_header=headers[HEADER],
                            signature_key=key, notification_url=url)


def _check(headers: dict[str, str], body: bytes = BODY, url: str = URL,
           secrets: tuple[str, ...] = (KEY,)) -> VerifyResult:
    return verify(AUTH, headers=headers, body=body, secrets=list(secrets), now=0, url=url)


def test_square_documented_example() -> None:
    headers = {HEADER: DOC_SIGNATURE}
    assert _square_accepts(headers, DOC_BODY, DOC_KEY, DOC_URL)
    result = _check(headers, DOC_BODY, DOC_URL, (DOC_KEY,))
    assert (result.ok, result.reason, result.secret_index) == (True, "ok", 0)


def test_square_signed_and_checked_by_the_sdk() -> None:
    headers = _sign(KEY, URL, BODY)
    assert _square_accepts(headers, BODY)
    assert _check(headers).ok
    # Square's delivery id is the body's event_id (ingest reads it after verification)
    assert body_delivery_id(auth_type="square", payload=json.loads(BODY)) == EVENT_ID


def test_square_tampered_body() -> None:
    headers = _sign(KEY, URL, BODY)
    tampered = BODY.replace(b"payment.updated", b"payment.created")
    assert not _square_accepts(headers, tampered)
    result = _check(headers, tampered)
    assert (result.ok, result.reason, result.delivery_id) == (False, "bad_signature", None)


@pytest.mark.parametrize("other_url", [
    "https://hooks.example.com/ingest/prod/square-refunds",  # another subscription
    "https://hooks.example.com/ingest/prod/square-payments?x=1",
    "http://hooks.example.com/ingest/prod/square-payments",
    "https://hooks.example.com:443/ingest/prod/square-payments",  # Square signs it exactly
])
def test_square_replayed_to_another_url(other_url: str) -> None:
    headers = _sign(KEY, URL, BODY)
    assert not _square_accepts(headers, BODY, url=other_url)
    assert _check(headers, url=other_url).reason == "bad_signature"


def test_square_wrong_key() -> None:
    headers = _sign(OTHER, URL, BODY)
    assert not _square_accepts(headers, BODY)
    assert _check(headers).reason == "bad_signature"


@pytest.mark.parametrize("signature", ["not base64!", DOC_SIGNATURE[:-4],
                                       DOC_SIGNATURE.rstrip("=").encode().hex()])
def test_square_malformed_signature(signature: str) -> None:
    headers = {HEADER: signature}
    assert not _square_accepts(headers, BODY)
    assert _check(headers).reason == "malformed_header"


def test_square_missing_signature() -> None:
    assert _check({"Content-Type": "application/json"}).reason == "missing_header"


def test_square_key_rotation() -> None:
    result = _check(_sign(KEY, URL, BODY), secrets=(OTHER, KEY))
    assert (result.ok, result.secret_index) == (True, 1)


def test_square_without_a_public_url_fails_closed() -> None:
    result = verify(AUTH, headers=_sign(KEY, URL, BODY), body=BODY, secrets=[KEY], now=0)
    assert (result.ok, result.reason) == (False, "bad_signature")
    assert "HOOKPLANE_PUBLIC_URL" in result.detail


def test_square_preset_signer_is_accepted_by_the_sdk() -> None:
    sign = PRESETS["square"].sign
    assert sign is not None
    headers, body = sign(BODY, KEY, 0, URL)
    assert _square_accepts(headers, body)
    assert _check(headers, body).ok
