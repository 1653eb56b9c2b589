"""The ``paddle`` preset against Paddle's own SDK (paddle-python-sdk,
``paddle_billing.Notifications``): ``Paddle-Signature: ts=<unix>;h1=<hex>``, HMAC-SHA256 of
``{ts}:{body}`` keyed with the notification destination's secret key, refused by the SDK's
``Verifier`` when more than 5 s away (developer.paddle.com/webhooks/signature-verification).
The header is produced with the SDK's own ``PaddleSignature.calculate_hmac``."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest
from paddle_billing.Notifications import PaddleSignature, Secret, Verifier

from hookplane.config.models import Auth
from hookplane.presets import PRESETS
from hookplane.runtime.verify import VerifyResult, body_delivery_id, verify

AUTH = Auth(type="paddle")
SECRET = "pdl_ntfset_01gkpjp8bkh3ndqb2w4mpj0ab1_6aT0RXpfe3fJmyQhqwfa6GhKUoYkC2gJ"
OTHER = "pdl_ntfset_01gkpjp8bkh3ndqb2w4mpj0ab2_Hsbd1J7Sa9aD10kaJ2Jkadk1LKVu2k3e"
NOTIFICATION_ID = "ntf_01h8bzam1z32agrxjwhjgqk8w6"
BODY = (b'{"event_id":"evt_01h8bzakzx3hm2fmen703n5q45","notification_id":"'
        + NOTIFICATION_ID.encode() + b'","event_type":"transaction.completed",'
        b'"data":{"id":"txn_01h8bxdk4rfdws4xah6z5d59h7","note":"caf\xc3\xa9"}}')


@dataclass
class _Request:
    """What the SDK's Verifier reads: ``headers.get`` and ``body``."""

    headers: dict[str, str]
    body: bytes
    content: bytes | None = None
    data: bytes | None = field(default=None)


def _sign(body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    mac = PaddleSignature.calculate_hmac(secret, f"{ts}:".encode() + body)
    return {"Paddle-Signature": f"ts={ts};h1={mac.hexdigest()}"}


def _paddle_accepts(headers: dict[str, str], body: bytes, secrets: list[str]) -> bool:
    # Verifier reads the wall clock (5 s window) and raises when no secret matches
    try:
        return bool(Verifier().verify(_Request(headers, body),
                                      [Secret(secret) for secret in secrets]))
    except ConnectionRefusedError:
        return False


def _check(headers: dict[str, str], body: bytes = BODY, *, now: float,
           secrets: tuple[str, ...] = (SECRET,)) -> VerifyResult:
    return verify(AUTH, headers=headers, body=body, secrets=list(secrets), now=now)


def test_paddle_signed_and_verified_by_the_sdk() -> None:
    now = int(time.time())
    headers = _sign(BODY, now)
    assert _paddle_accepts(headers, BODY, [SECRET])
    result = _check(headers, now=now)
    assert (result.ok, result.reason, result.secret_index) == (True, "ok", 0)
    # the delivery id is the body's notification_id (ingest reads it after verification)
    assert body_delivery_id(auth_type="paddle", payload=json.loads(BODY)) == NOTIFICATION_ID


def test_paddle_several_h1_signatures() -> None:
    # during a secret rotation Paddle may send one h1 per secret
    now = int(time.time())
    old = _sign(BODY, now, OTHER)["Paddle-Signature"].split(";")[1]
    headers = {"Paddle-Signature": _sign(BODY, now)["Paddle-Signature"] + ";" + old}
    assert _paddle_accepts(headers, BODY, [SECRET])
    assert _check(headers, now=now).ok


def test_paddle_tampered_body() -> None:
    now = int(time.time())
    headers = _sign(BODY, now)
    tampered = BODY.replace(b"transaction.completed", b"transaction.refunded")
    assert not _paddle_accepts(headers, tampered, [SECRET])
    assert _check(headers, tampered, now=now).reason == "bad_signature"


def test_paddle_tampered_timestamp() -> None:
    now = int(time.time())
    digest = _sign(BODY, now - 60)["Paddle-Signature"].split(";")[1]
    headers = {"Paddle-Signature": f"ts={now};{digest}"}
    assert not _paddle_accepts(headers, BODY, [SECRET])
    assert _check(headers, now=now).reason == "bad_signature"


def test_paddle_stale_and_future_timestamp() -> None:
    # the SDK's window is 5 s; Hookplane's default for this preset is the same
    now = int(time.time())
    stale, future = _sign(BODY, now - 30), _sign(BODY, now + 30)
    assert not _paddle_accepts(stale, BODY, [SECRET])
    assert not _paddle_accepts(future, BODY, [SECRET])
    assert _check(stale, now=now).reason == "stale_timestamp"
    assert _check(future, now=now).reason == "future_timestamp"
    assert _check(_sign(BODY, now - 4), now=now).ok
    # a wider tolerance_seconds, for a clock less exact than Paddle's SDK assumes
    wide = Auth(type="paddle", tolerance_seconds=60)
    assert verify(wide, headers=stale, body=BODY, secrets=[SECRET], now=now).ok


def test_paddle_wrong_secret() -> None:
    now = int(time.time())
    headers = _sign(BODY, now, OTHER)
    assert not _paddle_accepts(headers, BODY, [SECRET])
    assert _check(headers, now=now).reason == "bad_signature"


@pytest.mark.parametrize("header", [
    "h1=" + "ab" * 32,                              # no ts
    "ts=1700000000",                                # no h1
    "ts=1700000000;h1=xyz",                         # h1 is not 64 hex digits
    "ts=soon;h1=" + "ab" * 32,                      # ts is not a Unix time
    "ts=1700000000;ts=1700000001;h1=" + "ab" * 32,  # two ts
])
def test_paddle_malformed_header(header: str) -> None:
    assert _check({"Paddle-Signature": header}, now=1_700_000_000).reason == "malformed_header"


def test_paddle_secret_rotation() -> None:
    now = int(time.time())
    headers = _sign(BODY, now)
    assert _paddle_accepts(headers, BODY, [OTHER, SECRET])
    result = _check(headers, now=now, secrets=(OTHER, SECRET))
    assert (result.ok, result.secret_index) == (True, 1)


def test_paddle_preset_signer_is_accepted_by_the_sdk() -> None:
    sign = PRESETS["paddle"].sign
    assert sign is not None
    now = int(time.time())
    headers, body = sign(BODY, SECRET, now, "")
    assert _paddle_accepts(headers, body, [SECRET])
    assert _check(headers, body, now=now).ok
