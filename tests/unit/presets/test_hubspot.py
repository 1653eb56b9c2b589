"""The ``hubspot`` preset against HubSpot's own ``hubspot.utils.signature.Signature``
(hubspot-api-client), signature v3: ``X-HubSpot-Signature-v3: <base64>`` HMAC-SHA256 of
method + URI + body + ``X-HubSpot-Request-Timestamp`` (Unix milliseconds), keyed with the
app's client secret, refused after 5 minutes
(developers.hubspot.com/docs/api/webhooks/validating-requests)."""

from __future__ import annotations

import time

import pytest
from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature

from hookplane.config.models import Auth
from hookplane.presets import PRESETS
from hookplane.runtime.verify import VerifyResult, verify

AUTH = Auth(type="hubspot")
SECRET = "b1c2d3e4-aaaa-bbbb-cccc-0123456789ab"
OTHER = "ffffffff-0000-1111-2222-333333333333"
URL = "https://hooks.example.com/ingest/prod/hubspot-contacts"
BODY = (b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
        b'"subscriptionType":"contact.creation","objectId":123,"note":"caf\xc3\xa9"}]')


def _sign(body: bytes, timestamp_ms: int, secret: str = SECRET, url: str = URL,
          method: str = "POST") -> dict[str, str]:
    signature = Signature.get_signature(secret, body.decode(), "v3", url, method,
                                        str(timestamp_ms))
    return {"X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": str(timestamp_ms),
            "Content-Type": "application/json"}


def _hubspot_accepts(headers: dict[str, str], body: bytes, secret: str = SECRET,
                     url: str = URL, method: str = "POST") -> bool:
    try:
        return Signature.is_valid(
            signature=headers["X-HubSpot-Signature-v3"], client_secret=secret,
            request_body=body.decode(), http_uri=url, http_method=method,
            signature_version="v3", timestamp=headers["X-HubSpot-Request-Timestamp"])
    except InvalidSignatureTimestampError:
        return False


def _check(headers: dict[str, str], body: bytes = BODY, *, now: float,
           secrets: tuple[str, ...] = (SECRET,), url: str = URL,
           method: str = "POST") -> VerifyResult:
    return verify(AUTH, headers=headers, body=body, secrets=list(secrets), now=now, url=url,
                  method=method)


def _now_ms() -> int:
    # Signature.is_valid reads the wall clock, so these cases use it too
    return int(time.time() * 1000)


def test_hubspot_signed_and_checked_by_the_sdk() -> None:
    stamp = _now_ms()
    headers = _sign(BODY, stamp)
    assert _hubspot_accepts(headers, BODY)
    result = _check(headers, now=stamp / 1000)
    assert (result.ok, result.reason, result.secret_index) == (True, "ok", 0)


def test_hubspot_signs_the_method() -> None:
    stamp = _now_ms()
    headers = _sign(b"", stamp, method="GET")
    assert _hubspot_accepts(headers, b"", method="GET")
    assert _check(headers, b"", now=stamp / 1000, method="GET").ok
    assert _check(headers, b"", now=stamp / 1000, method="POST").reason == "bad_signature"


def test_hubspot_uri_with_a_query() -> None:
    url = URL + "?portal=62515&source=hubspot"
    stamp = _now_ms()
    assert _check(_sign(BODY, stamp, url=url), now=stamp / 1000, url=url).ok


def test_hubspot_decodes_the_escapes_its_docs_list() -> None:
    # HubSpot signs the URI with %3A, %2F, %3F, %40, %21, %24, %27, %28, %29, %2A, %2C, %3B
    # decoded (the SDK takes the URI as given: the caller decodes, as here)
    sent = URL + "?next=https%3A%2F%2Fapp.example.com%2Fdone%3Fa%3D1&list=x%2Cy&q=a%20b"
    signed = URL + "?next=https://app.example.com/done?a%3D1&list=x,y&q=a%20b"
    stamp = _now_ms()
    headers = _sign(BODY, stamp, url=signed)
    assert _hubspot_accepts(headers, BODY, url=signed)
    assert _check(headers, now=stamp / 1000, url=sent).ok


def test_hubspot_tampered_body() -> None:
    stamp = _now_ms()
    headers = _sign(BODY, stamp)
    tampered = BODY.replace(b'"objectId":123', b'"objectId":124')
    assert not _hubspot_accepts(headers, tampered)
    assert _check(headers, tampered, now=stamp / 1000).reason == "bad_signature"


def test_hubspot_tampered_url_and_timestamp() -> None:
    stamp = _now_ms()
    headers = _sign(BODY, stamp)
    other = URL.replace("contacts", "deals")
    assert not _hubspot_accepts(headers, BODY, url=other)
    assert _check(headers, now=stamp / 1000, url=other).reason == "bad_signature"
    moved = {**headers, "X-HubSpot-Request-Timestamp": str(stamp + 1)}
    assert not _hubspot_accepts(moved, BODY)
    assert _check(moved, now=stamp / 1000).reason == "bad_signature"


def test_hubspot_stale_timestamp() -> None:
    now = _now_ms()
    stale = _sign(BODY, now - 301_000)
    assert not _hubspot_accepts(stale, BODY)  # the SDK's MAX_ALLOWED_TIMESTAMP is 300 s
    assert _check(stale, now=now / 1000).reason == "stale_timestamp"
    assert _check(_sign(BODY, now - 299_000), now=now / 1000).ok


def test_hubspot_future_timestamp() -> None:
    now = _now_ms()
    # the SDK checks only the age; Hookplane also refuses a clock 5 minutes ahead
    assert _check(_sign(BODY, now + 301_000), now=now / 1000).reason == "future_timestamp"


def test_hubspot_timestamp_in_seconds_is_stale() -> None:
    # a v3 timestamp is in milliseconds; one in seconds reads as January 1970
    now = _now_ms()
    headers = _sign(BODY, now // 1000)
    assert not _hubspot_accepts(headers, BODY)
    assert _check(headers, now=now / 1000).reason == "stale_timestamp"


def test_hubspot_wrong_secret() -> None:
    stamp = _now_ms()
    headers = _sign(BODY, stamp, secret=OTHER)
    assert not _hubspot_accepts(headers, BODY)
    assert _check(headers, now=stamp / 1000).reason == "bad_signature"


@pytest.mark.parametrize("signature", ["not base64!", "c2hvcnQ=", "ab" * 32])
def test_hubspot_malformed_signature(signature: str) -> None:
    stamp = _now_ms()
    headers = {**_sign(BODY, stamp), "X-HubSpot-Signature-v3": signature}
    assert not _hubspot_accepts(headers, BODY)
    assert _check(headers, now=stamp / 1000).reason == "malformed_header"


def test_hubspot_malformed_timestamp() -> None:
    stamp = _now_ms()
    headers = {**_sign(BODY, stamp), "X-HubSpot-Request-Timestamp": "1.7e12"}
    assert _check(headers, now=stamp / 1000).reason == "malformed_header"


def test_hubspot_secret_rotation() -> None:
    stamp = _now_ms()
    result = _check(_sign(BODY, stamp), now=stamp / 1000, secrets=(OTHER, SECRET))
    assert (result.ok, result.secret_index) == (True, 1)


def test_hubspot_without_a_public_url_fails_closed() -> None:
    stamp = _now_ms()
    result = verify(AUTH, headers=_sign(BODY, stamp), body=BODY, secrets=[SECRET],
                    now=stamp / 1000)
    assert (result.ok, result.reason) == (False, "bad_signature")


def test_hubspot_preset_signer_is_accepted_by_the_sdk() -> None:
    sign = PRESETS["hubspot"].sign
    assert sign is not None
    now = time.time()
    headers, body = sign(BODY, SECRET, now, URL)
    assert _hubspot_accepts(headers, body)
    assert _check(headers, body, now=now).ok
