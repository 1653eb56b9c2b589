"""The ``svix`` preset against Svix's own ``svix.webhooks.Webhook`` (``sign`` and ``verify``):
``svix-id``, ``svix-timestamp``, ``svix-signature: v1,<base64>`` over
``{id}.{timestamp}.{body}``, keyed with the base64 part of the ``whsec_…`` secret
(docs.svix.com/receiving/verifying-payloads/how-manual)."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from svix.webhooks import Webhook, WebhookVerificationError

from hookplane.config.models import Auth
from hookplane.presets import PRESETS
from hookplane.runtime.verify import VerifyResult, verify

AUTH = Auth(type="svix")
# The published test vector of Svix and the Standard Webhooks specification: secret, message
# id, timestamp, body and the signature they make
DOC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
DOC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
DOC_TIMESTAMP = 1614265330
DOC_BODY = b'{"test": 2432232314}'
DOC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SECRET = "whsec_" + base64.b64encode(bytes(range(24))).decode()
OTHER = "whsec_" + base64.b64encode(bytes(range(50, 74))).decode()
BODY = b'{"type":"user.created","data":{"id":"user_29w8","first_name":"Ad\xc3\xa9"}}'
MSG_ID = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"


def _sign(secret: str, body: bytes, timestamp: int, msg_id: str = MSG_ID) -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC),
                                     body.decode())
    return {"svix-id": msg_id, "svix-timestamp": str(timestamp), "svix-signature": signature}


def _svix_accepts(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def _check(headers: dict[str, str], body: bytes = BODY, secrets: tuple[str, ...] = (SECRET,),
           now: float | None = None) -> VerifyResult:
    return verify(AUTH, headers=headers, body=body, secrets=list(secrets), now=now)


def test_svix_documented_example() -> None:
    signed = _sign(DOC_SECRET, DOC_BODY, DOC_TIMESTAMP, DOC_ID)
    assert signed["svix-signature"] == DOC_SIGNATURE
    result = _check(signed, DOC_BODY, (DOC_SECRET,), now=DOC_TIMESTAMP + 10)
    assert (result.ok, result.delivery_id, result.secret_index) == (True, DOC_ID, 0)


def test_svix_signed_and_verified_by_the_library_now() -> None:
    # Webhook.verify reads the wall clock, so these use it too
    now = int(time.time())
    headers = _sign(SECRET, BODY, now)
    assert _svix_accepts(SECRET, headers, BODY)
    result = _check(headers, now=now)
    assert (result.ok, result.delivery_id) == (True, MSG_ID)


def test_svix_several_signatures_in_one_header() -> None:
    # during a secret rotation Svix sends one signature per secret, space-separated
    now = int(time.time())
    old, new = _sign(OTHER, BODY, now), _sign(SECRET, BODY, now)
    headers = {**new, "svix-signature": f"{old['svix-signature']} {new['svix-signature']}"}
    assert _svix_accepts(SECRET, headers, BODY)
    assert _check(headers, now=now).ok


def test_svix_tampered_body() -> None:
    now = int(time.time())
    headers = _sign(SECRET, BODY, now)
    tampered = BODY.replace(b"user.created", b"user.deleted")
    assert not _svix_accepts(SECRET, headers, tampered)
    result = _check(headers, tampered, now=now)
    assert (result.ok, result.reason, result.delivery_id) == (False, "bad_signature", None)


def test_svix_tampered_id() -> None:
    # the id is signed: a replay under a fresh id (to dodge de-duplication) fails
    now = int(time.time())
    headers = {**_sign(SECRET, BODY, now), "svix-id": "msg_other"}
    assert not _svix_accepts(SECRET, headers, BODY)
    assert _check(headers, now=now).reason == "bad_signature"


def test_svix_stale_and_future_timestamp() -> None:
    now = int(time.time())
    for offset, reason in ((-400, "stale_timestamp"), (400, "future_timestamp")):
        headers = _sign(SECRET, BODY, now + offset)
        assert not _svix_accepts(SECRET, headers, BODY)  # the library's window is 5 minutes
        assert _check(headers, now=now).reason == reason


def test_svix_wrong_secret() -> None:
    now = int(time.time())
    headers = _sign(OTHER, BODY, now)
    assert not _svix_accepts(SECRET, headers, BODY)
    assert _check(headers, now=now).reason == "bad_signature"


@pytest.mark.parametrize("signature", ["v1=abc", "v2," + "A" * 44, "v1,not-base64",
                                       "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="])
def test_svix_malformed_signature(signature: str) -> None:
    now = int(time.time())
    headers = {**_sign(SECRET, BODY, now), "svix-signature": signature}
    assert not _svix_accepts(SECRET, headers, BODY)
    assert _check(headers, now=now).reason == "malformed_header"


def test_svix_malformed_timestamp() -> None:
    headers = {**_sign(SECRET, BODY, int(time.time())), "svix-timestamp": "yesterday"}
    assert not _svix_accepts(SECRET, headers, BODY)
    assert _check(headers).reason == "malformed_header"


def test_svix_secret_rotation() -> None:
    now = int(time.time())
    result = _check(_sign(SECRET, BODY, now), secrets=(OTHER, SECRET), now=now)
    assert (result.ok, result.secret_index) == (True, 1)


def test_svix_preset_signer_is_accepted_by_the_library() -> None:
    sign = PRESETS["svix"].sign
    assert sign is not None
    now = int(time.time())
    headers, body = sign(BODY, SECRET, now, "")
    assert _svix_accepts(SECRET, headers, body)
    assert _check(headers, body, now=now).ok
