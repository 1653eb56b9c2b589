"""The ``stripe`` preset against Stripe's own library (stripe-python): headers made with
``stripe.WebhookSignature.generate_signature_header`` and checked with
``stripe.Webhook.construct_event``: ``Stripe-Signature: t=<unix>,v1=<hex>`` over
``{t}.{body}``, keyed with the ``whsec_…`` secret as text, 300 s tolerance
(docs.stripe.com/webhooks#verify-manually)."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from hookplane.config.models import Auth
from hookplane.presets import PRESETS
from hookplane.runtime.verify import VerifyResult, body_delivery_id, verify

AUTH = Auth(type="stripe")
SECRET = "whsec_test_5eCr3tF0rHooKpLaNe0123456789ab"
OTHER = "whsec_test_0therS3cretF0rS0me0neElse98765"
EVENT_ID = "evt_1NG8Du2eZvKYlo2CUI79vXWy"
BODY = (b'{"id":"' + EVENT_ID.encode() + b'","object":"event","type":"invoice.paid",'
        b'"data":{"object":{"id":"in_1","amount_paid":2000,"note":"caf\xc3\xa9"}}}')


def _sign(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(body.decode(), secret,
                                                               timestamp=timestamp)
    return {"Stripe-Signature": header}


def _stripe_accepts(headers: dict[str, str], body: bytes, secret: str = SECRET) -> bool:
    # construct_event reads the wall clock; its default tolerance is 300 s
    try:
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], secret)
    except stripe.SignatureVerificationError:
        return False
    return True


def _check(headers: dict[str, str], body: bytes = BODY, *, now: float,
           secrets: tuple[str, ...] = (SECRET,)) -> VerifyResult:
    return verify(AUTH, headers=headers, body=body, secrets=list(secrets), now=now)


def test_stripe_signed_and_verified_by_the_library() -> None:
    now = int(time.time())
    headers = _sign(BODY, now)
    assert _stripe_accepts(headers, BODY)
    result = _check(headers, now=now)
    assert (result.ok, result.reason, result.secret_index) == (True, "ok", 0)
    assert body_delivery_id(auth_type="stripe", payload=json.loads(BODY)) == EVENT_ID


def test_stripe_several_v1_and_other_schemes() -> None:
    # during a secret rotation Stripe sends a v1 per secret; v0 (test) entries are ignored
    now = int(time.time())
    old = _sign(BODY, now, OTHER)["Stripe-Signature"].split(",")[1]
    new = _sign(BODY, now)["Stripe-Signature"]
    headers = {"Stripe-Signature": f"{new},{old},v0={'0' * 64}"}
    assert _stripe_accepts(headers, BODY)
    assert _check(headers, now=now).ok


def test_stripe_tampered_body() -> None:
    now = int(time.time())
    headers = _sign(BODY, now)
    tampered = BODY.replace(b"2000", b"2")
    assert not _stripe_accepts(headers, tampered)
    assert _check(headers, tampered, now=now).reason == "bad_signature"


def test_stripe_tampered_timestamp() -> None:
    now = int(time.time())
    digest = _sign(BODY, now - 3600)["Stripe-Signature"].split(",")[1]
    headers = {"Stripe-Signature": f"t={now},{digest}"}
    assert not _stripe_accepts(headers, BODY)
    assert _check(headers, now=now).reason == "bad_signature"


def test_stripe_stale_timestamp() -> None:
    now = int(time.time())
    stale = _sign(BODY, now - 301)
    assert not _stripe_accepts(stale, BODY)
    assert _check(stale, now=now).reason == "stale_timestamp"
    assert _check(_sign(BODY, now - 299), now=now).ok
    # the library checks only the age; Hookplane also refuses a clock 5 minutes ahead
    assert _check(_sign(BODY, now + 301), now=now).reason == "future_timestamp"


def test_stripe_wrong_secret() -> None:
    now = int(time.time())
    headers = _sign(BODY, now, OTHER)
    assert not _stripe_accepts(headers, BODY)
    assert _check(headers, now=now).reason == "bad_signature"


@pytest.mark.parametrize("header", [
    "v1=" + "ab" * 32,                     # no t
    "t=1700000000",                        # no v1
    "t=1700000000,v1=xyz",                 # v1 is not 64 hex digits
    "t=soon,v1=" + "ab" * 32,              # t is not a Unix time
    "t=1700000000,t=1,v1=" + "ab" * 32,    # two t
])
def test_stripe_malformed_header(header: str) -> None:
    headers = {"Stripe-Signature": header}
    assert not _stripe_accepts(headers, BODY)
    assert _check(headers, now=1_700_000_000).reason == "malformed_header"


def test_stripe_secret_rotation() -> None:
    now = int(time.time())
    result = _check(_sign(BODY, now), now=now, secrets=(OTHER, SECRET))
    assert (result.ok, result.secret_index) == (True, 1)


def test_stripe_preset_signer_is_accepted_by_the_library() -> None:
    sign = PRESETS["stripe"].sign
    assert sign is not None
    now = int(time.time())
    headers, body = sign(BODY, SECRET, now, "")
    assert _stripe_accepts(headers, body)
    assert headers["Stripe-Signature"] == _sign(BODY, now)["Stripe-Signature"]
    assert _check(headers, body, now=now).ok
