"""Inbound verification, with signatures made here the way each sender documents them.

The signer helpers below are written from the providers' documentation and share nothing
with ``hookplane.runtime.verify``; the Standard Webhooks one is checked against the official
``standardwebhooks`` package, the Slack one against ``slack_sdk``'s SignatureVerifier.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier
from standardwebhooks import Webhook

from hookplane.config.models import Auth
from hookplane.runtime.verify import (
    SENSITIVE_HEADERS,
    VerifyResult,
    redact_headers,
    secret_header_names,
    stripe_event_id,
    verify,
)

NOW = 1_700_000_000
BODY = b'{"id":"evt_123","type":"invoice.paid","amount":4200,"note":"caf\xc3\xa9"}'
OLD = "whsec_" + base64.b64encode(bytes(range(32))).decode()
NEW = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()
OTHER = "whsec_" + base64.b64encode(b"someone else's key, 32 bytes!!!").decode()
SECRETS = (OLD, NEW, OTHER)
REASONS = {
    "missing_header",
    "malformed_header",
    "bad_signature",
    "stale_timestamp",
    "future_timestamp",
    "bad_token",
}


# --------------------------------------------------------------------------- provider signers


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _hmac_hex(secret: str, body: bytes, ts: int) -> dict[str, str]:
    return {"X-Hookplane-Signature": _mac(secret.encode(), body).hex()}


def _hmac_prefixed(secret: str, body: bytes, ts: int) -> dict[str, str]:
    return {"X-Hookplane-Signature": "sha256=" + _mac(secret.encode(), body).hex()}


def _hmac_custom_upper(secret: str, body: bytes, ts: int) -> dict[str, str]:
    return {"X-Signature": _mac(secret.encode(), body).hex().upper(), "X-Webhook-Id": "d-1"}


def _hmac_base64(secret: str, body: bytes, ts: int) -> dict[str, str]:
    return {"X-Hookplane-Signature": _b64(_mac(secret.encode(), body))}


def _standard_webhooks(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # standardwebhooks.com: key = base64 part of whsec_…; content "{id}.{timestamp}.{body}"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"msg_2bYQ9Hn.{ts}.".encode() + body
    return {
        "webhook-id": "msg_2bYQ9Hn",
        "webhook-timestamp": str(ts),
        "webhook-signature": "v1," + _b64(_mac(key, content)),
    }


def _github(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # docs.github.com "Validating webhook deliveries"
    return {
        "X-Hub-Signature-256": "sha256=" + _mac(secret.encode(), body).hex(),
        "X-GitHub-Delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        "X-GitHub-Event": "push",
    }


def _stripe(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # docs.stripe.com "Verify signatures manually": signed_payload = "{t}.{body}", secret as is
    signature = _mac(secret.encode(), f"{ts}.".encode() + body).hex()
    return {"Stripe-Signature": f"t={ts},v1={signature},v0=6ffbb59b2300aae63f272406069a9788"}


def _slack(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # api.slack.com "Verifying requests from Slack": basestring "v0:{timestamp}:{body}"
    basestring = f"v0:{ts}:".encode() + body
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": "v0=" + _mac(secret.encode(), basestring).hex(),
    }


def _shopify(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # shopify.dev "Verify webhooks": base64 of HMAC-SHA256 of the raw body
    return {
        "X-Shopify-Hmac-Sha256": _b64(_mac(secret.encode(), body)),
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    }


def _pagerduty(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # developer.pagerduty.com "Verifying Signatures": "v1=<hex>" entries, comma-separated
    return {
        "X-PagerDuty-Signature": "v1=" + _mac(secret.encode(), body).hex(),
        "X-Webhook-Id": "PD-DELIVERY-1",
    }


def _zoom(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # developers.zoom.us "Verify webhook events": message "v0:{timestamp}:{body}",
    # x-zm-signature "v0=" + hex HMAC-SHA256 keyed with the app's Secret Token
    message = f"v0:{ts}:".encode() + body
    return {
        "x-zm-request-timestamp": str(ts),
        "x-zm-signature": "v0=" + _mac(secret.encode(), message).hex(),
    }


TWITCH_ID = "befa7b53-d79d-478f-86b9-120f112b044e"


def _rfc3339(ts: float) -> str:
    """Twitch's timestamp shape: RFC 3339, UTC, nanoseconds."""
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".634234626Z"


def _twitch(secret: str, body: bytes, ts: int) -> dict[str, str]:
    # dev.twitch.tv "Verifying the event message": HMAC-SHA256 of message id + timestamp +
    # body, "sha256=" + hex, keyed with the subscription's secret
    stamp = _rfc3339(ts)
    message = (TWITCH_ID + stamp).encode() + body
    return {
        "Twitch-Eventsub-Message-Id": TWITCH_ID,
        "Twitch-Eventsub-Message-Timestamp": stamp,
        "Twitch-Eventsub-Message-Signature": "sha256=" + _mac(secret.encode(), message).hex(),
        "Twitch-Eventsub-Message-Type": "notification",
    }


@dataclass(frozen=True)
class Scheme:
    id: str
    auth: Auth
    sign: Callable[[str, bytes, int], dict[str, str]]
    header: str
    """The header holding the signature."""
    marker: str
    """What precedes the (first) digest in that header."""
    required: tuple[str, ...]
    malformed: tuple[str, ...]
    """Values of ``header`` that cannot be a signature."""
    timestamp: str | None = None
    """The header holding the timestamp (None: the scheme has none)."""
    delivery_id: str | None = None
    combine: Callable[[list[str]], str] | None = None
    """Join several signature values into one header (None: one signature only)."""


_HEX = "ab" * 32
_B64 = _b64(bytes(32))


def _after(marker: str) -> Callable[[str], str]:
    return lambda value: value.split(marker, 1)[1].split(",", 1)[0]


SCHEMES = [
    Scheme(
        "hmac-hex", Auth(), _hmac_hex, "X-Hookplane-Signature", "",
        ("X-Hookplane-Signature",),
        ("not-a-signature", "zz" * 32, "ab" * 31, "sha1=" + "ab" * 20, "sha256=" + _B64),
        combine=" ".join,
    ),
    Scheme(
        "hmac-prefixed", Auth(type="hmac", encoding="hex"), _hmac_prefixed,
        "X-Hookplane-Signature", "sha256=", ("X-Hookplane-Signature",),
        ("sha256=" + "g" * 64, "sha256:" + _HEX, "SHA-256=" + _HEX),
        combine=" ".join,
    ),
    Scheme(
        "hmac-sha256=-required", Auth(type="hmac", encoding="sha256="), _hmac_prefixed,
        "X-Hookplane-Signature", "sha256=", ("X-Hookplane-Signature",),
        (_HEX, "sha256=" + _B64),
        combine=" ".join,
    ),
    Scheme(
        "hmac-custom-header", Auth(type="hmac", header="X-Signature"), _hmac_custom_upper,
        "X-Signature", "", ("X-Signature",), ("xyz", _B64), delivery_id="d-1",
    ),
    Scheme(
        "hmac-base64", Auth(type="hmac", encoding="base64"), _hmac_base64,
        "X-Hookplane-Signature", "", ("X-Hookplane-Signature",),
        (_HEX, "not base64!", _b64(bytes(20)), _B64.rstrip("=")),
        combine=" ".join,
    ),
    Scheme(
        "standard_webhooks", Auth(type="standard_webhooks"), _standard_webhooks,
        "webhook-signature", "v1,", ("webhook-id", "webhook-timestamp", "webhook-signature"),
        ("v1," + "!" * 44, "v2," + _B64, "v1" + _B64, "v1,", "v1," + _HEX, _B64),
        timestamp="webhook-timestamp", delivery_id="msg_2bYQ9Hn",
        combine=" ".join,
    ),
    Scheme(
        "github", Auth(type="github"), _github, "X-Hub-Signature-256", "sha256=",
        ("X-Hub-Signature-256",),
        (_HEX, "sha1=" + "ab" * 20, "sha256=" + "xy" * 32, "sha256=" + _B64),
        delivery_id="72d3162e-cc78-11e3-81ab-4c9367dc0958",
    ),
    Scheme(
        "stripe", Auth(type="stripe"), _stripe, "Stripe-Signature", "v1=",
        ("Stripe-Signature",),
        (f"v1={_HEX}", f"t={NOW}", f"t={NOW},v0={_HEX}", f"t={NOW},t={NOW},v1={_HEX}",
         f"t={NOW},v1=xyz", f"t=yesterday,v1={_HEX}", "garbage"),
        timestamp="Stripe-Signature",
        combine=lambda values: ",".join([values[0], *("v1=" + _after("v1=")(v) for v in
                                                       values[1:])]),
    ),
    Scheme(
        "slack", Auth(type="slack"), _slack, "X-Slack-Signature", "v0=",
        ("X-Slack-Signature", "X-Slack-Request-Timestamp"),
        ("v1=" + _HEX, _HEX, "v0=" + "ab" * 20, "v0:" + _HEX),
        timestamp="X-Slack-Request-Timestamp",
    ),
    Scheme(
        "shopify", Auth(type="shopify"), _shopify, "X-Shopify-Hmac-Sha256", "",
        ("X-Shopify-Hmac-Sha256",),
        (_HEX, "not base64!", _b64(bytes(31)), "sha256=" + _B64),
        delivery_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
    ),
    Scheme(
        "pagerduty", Auth(type="pagerduty"), _pagerduty, "X-PagerDuty-Signature", "v1=",
        ("X-PagerDuty-Signature",),
        (_HEX, "v0=" + _HEX, "v1=" + _B64, "v1=" + "ab" * 20),
        delivery_id="PD-DELIVERY-1",
        combine=", ".join,
    ),
    Scheme(
        "zoom", Auth(type="zoom"), _zoom, "x-zm-signature", "v0=",
        ("x-zm-signature", "x-zm-request-timestamp"),
        ("v1=" + _HEX, _HEX, "v0=" + "ab" * 20, "v0:" + _HEX, "v0=" + _B64),
        timestamp="x-zm-request-timestamp",
    ),
    Scheme(  # RFC 3339 timestamps, 10 minutes: its own timestamp tests below
        "twitch", Auth(type="twitch"), _twitch, "Twitch-Eventsub-Message-Signature", "sha256=",
        ("Twitch-Eventsub-Message-Signature", "Twitch-Eventsub-Message-Id",
         "Twitch-Eventsub-Message-Timestamp"),
        (_HEX, "sha1=" + "ab" * 20, "sha256=" + _B64, "v0=" + _HEX, "sha256:" + _HEX),
        delivery_id=TWITCH_ID,
    ),
]
TIMESTAMPED = [s for s in SCHEMES if s.timestamp]
MULTI = [s for s in SCHEMES if s.combine]


def _ids(scheme: Scheme) -> str:
    return scheme.id


def _check(
    scheme: Scheme,
    headers: dict[str, str],
    *,
    body: bytes = BODY,
    secrets: tuple[str, ...] = (NEW,),
    now: float = NOW,
) -> VerifyResult:
    result = verify(scheme.auth, headers=headers, body=body, secrets=secrets, now=now)
    assert (result.reason == "ok") if result.ok else (result.reason in REASONS)
    for secret in SECRETS:
        assert secret not in result.detail
        assert secret.removeprefix("whsec_") not in result.detail
        expected = scheme.sign(secret, body, NOW)[scheme.header]
        assert expected not in result.detail
    return result


def _flip(value: str, marker: str) -> str:
    """The value with the first digest character changed (still well-formed)."""
    at = value.index(marker) + len(marker) if marker else 0
    return value[:at] + ("1" if value[at] == "0" else "0") + value[at + 1:]


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


# --------------------------------------------------------------------------- every scheme


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
def test_valid_signature_is_accepted(scheme: Scheme) -> None:
    result = _check(scheme, scheme.sign(NEW, BODY, NOW))
    assert (result.ok, result.reason) == (True, "ok")
    assert result.delivery_id == scheme.delivery_id


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
def test_wrong_signature_is_rejected(scheme: Scheme) -> None:
    headers = scheme.sign(NEW, BODY, NOW)
    headers[scheme.header] = _flip(headers[scheme.header], scheme.marker)
    result = _check(scheme, headers)
    assert (result.ok, result.reason, result.delivery_id) == (False, "bad_signature", None)


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
def test_signature_made_with_another_secret_is_rejected(scheme: Scheme) -> None:
    result = _check(scheme, scheme.sign(OTHER, BODY, NOW))
    assert (result.ok, result.reason) == (False, "bad_signature")


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
@pytest.mark.parametrize(
    "tampered",
    [BODY + b" ", BODY.replace(b"4200", b"4201"), b"", BODY[:-1], BODY.upper()],
    ids=["appended", "changed", "empty", "truncated", "case"],
)
def test_tampered_body_is_rejected(scheme: Scheme, tampered: bytes) -> None:
    result = _check(scheme, scheme.sign(NEW, BODY, NOW), body=tampered)
    assert (result.ok, result.reason) == (False, "bad_signature")


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
def test_missing_header_is_rejected(scheme: Scheme) -> None:
    for name in scheme.required:
        for headers in (
            _without(scheme.sign(NEW, BODY, NOW), name),
            {**scheme.sign(NEW, BODY, NOW), name: "   "},
        ):
            result = _check(scheme, headers)
            assert (result.ok, result.reason) == (False, "missing_header"), name
            assert name in result.detail
    assert _check(scheme, {}).reason == "missing_header"


@pytest.mark.parametrize(
    ("scheme", "value"),
    [(s, v) for s in SCHEMES for v in (*s.malformed, "a" * 8193)],
    ids=[f"{s.id}-{i}" for s in SCHEMES for i in range(len(s.malformed) + 1)],
)
def test_malformed_header_is_rejected(scheme: Scheme, value: str) -> None:
    headers = {**scheme.sign(NEW, BODY, NOW), scheme.header: value}
    result = _check(scheme, headers)
    assert (result.ok, result.reason) == (False, "malformed_header")


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
def test_oversized_header_is_malformed_even_with_a_valid_signature(scheme: Scheme) -> None:
    headers = scheme.sign(NEW, BODY, NOW)
    headers[scheme.header] += " " * 8193
    assert _check(scheme, headers).reason == "malformed_header"


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
@pytest.mark.parametrize("case", [str.upper, str.lower, str.swapcase, str.title])
def test_header_names_are_case_insensitive(
    scheme: Scheme, case: Callable[[str], str]
) -> None:
    headers = {case(name): value for name, value in scheme.sign(NEW, BODY, NOW).items()}
    result = _check(scheme, headers)
    assert result.ok, result.detail
    assert result.delivery_id == scheme.delivery_id


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
def test_any_mapping_is_accepted(scheme: Scheme) -> None:
    headers = MappingProxyType(scheme.sign(NEW, BODY, NOW))
    result = verify(scheme.auth, headers=headers, body=BODY, secrets=[NEW], now=NOW)
    assert result.ok


# --------------------------------------------------------------------------- rotation


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
def test_rotation_accepts_old_and_new_secret_while_both_are_given(scheme: Scheme) -> None:
    for signer in (OLD, NEW):
        result = _check(scheme, scheme.sign(signer, BODY, NOW), secrets=(NEW, OLD))
        assert result.ok, result.detail
    assert _check(scheme, scheme.sign(OLD, BODY, NOW), secrets=(NEW, OLD)).detail.endswith(
        "secret 2 of 2"
    )
    after_grace = _check(scheme, scheme.sign(OLD, BODY, NOW), secrets=(NEW,))
    assert (after_grace.ok, after_grace.reason) == (False, "bad_signature")


@pytest.mark.parametrize("scheme", MULTI, ids=_ids)
def test_header_with_several_signatures_passes_with_either_secret(scheme: Scheme) -> None:
    assert scheme.combine is not None
    both = scheme.sign(NEW, BODY, NOW)
    both[scheme.header] = scheme.combine(
        [scheme.sign(s, BODY, NOW)[scheme.header] for s in (NEW, OLD)]
    )
    assert _check(scheme, both, secrets=(NEW,)).ok
    assert _check(scheme, both, secrets=(OLD,)).ok
    assert _check(scheme, both, secrets=(OTHER,)).reason == "bad_signature"


@pytest.mark.parametrize("scheme", MULTI, ids=_ids)
@pytest.mark.parametrize(("decoys", "ok"), [(9, True), (10, False)])
def test_at_most_ten_signatures_are_tried(scheme: Scheme, decoys: int, ok: bool) -> None:
    assert scheme.combine is not None
    decoy_secrets = ["whsec_" + _b64(bytes([i]) * 32) for i in range(decoys)]
    wrong = [scheme.sign(secret, BODY, NOW)[scheme.header] for secret in decoy_secrets]
    headers = scheme.sign(NEW, BODY, NOW)
    headers[scheme.header] = scheme.combine([*wrong, headers[scheme.header]])
    result = _check(scheme, headers)
    assert result.ok is ok
    assert result.reason == ("ok" if ok else "bad_signature")


def test_other_signature_versions_are_ignored() -> None:
    standard = SCHEMES[[s.id for s in SCHEMES].index("standard_webhooks")]
    headers = standard.sign(NEW, BODY, NOW)
    headers["webhook-signature"] = "v1a,Zm9vYmFy v2,xyz " + headers["webhook-signature"]
    assert _check(standard, headers).ok


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=_ids)
@pytest.mark.parametrize(
    ("signed_at", "reason"),
    [
        (NOW - 301, "stale_timestamp"),
        (NOW - 86_400, "stale_timestamp"),
        (0, "stale_timestamp"),
        (NOW + 301, "future_timestamp"),
        (NOW + 86_400, "future_timestamp"),
        (NOW - 300, "ok"),
        (NOW + 300, "ok"),
    ],
)
def test_timestamp_tolerance_defaults_to_five_minutes_both_ways(
    scheme: Scheme, signed_at: int, reason: str
) -> None:
    assert _check(scheme, scheme.sign(NEW, BODY, signed_at)).reason == reason


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=_ids)
@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-11, "stale_timestamp"), (-10, "ok"), (10, "ok"), (11, "future_timestamp")],
)
def test_configured_tolerance_is_honoured(scheme: Scheme, offset: int, reason: str) -> None:
    tight = replace(scheme, auth=Auth(type=scheme.auth.type, tolerance_seconds=10))
    assert _check(tight, tight.sign(NEW, BODY, NOW + offset)).reason == reason


@pytest.mark.parametrize("scheme", TIMESTAMPED, ids=_ids)
def test_tampered_timestamp_is_rejected(scheme: Scheme) -> None:
    headers = scheme.sign(NEW, BODY, NOW - 10)
    assert scheme.timestamp is not None
    headers[scheme.timestamp] = headers[scheme.timestamp].replace(str(NOW - 10), str(NOW))
    assert _check(scheme, headers).reason == "bad_signature"


@pytest.mark.parametrize("scheme", [s for s in TIMESTAMPED if s.id != "stripe"], ids=_ids)
@pytest.mark.parametrize("value", ["soon", "-5", "1e9", "1700000000.5", "9" * 30, "١٧٠٠"])
def test_malformed_timestamp_is_rejected(scheme: Scheme, value: str) -> None:
    assert scheme.timestamp is not None
    headers = {**scheme.sign(NEW, BODY, NOW), scheme.timestamp: value}
    assert _check(scheme, headers).reason == "malformed_header"


TWITCH = SCHEMES[[s.id for s in SCHEMES].index("twitch")]


@pytest.mark.parametrize(
    ("signed_at", "reason"),
    [
        (NOW - 601, "stale_timestamp"),
        (NOW - 600, "ok"),
        (NOW - 301, "ok"),
        (NOW + 599, "ok"),
        (NOW + 601, "future_timestamp"),
        (0, "stale_timestamp"),
    ],
)
def test_twitch_refuses_messages_older_than_ten_minutes(signed_at: int, reason: str) -> None:
    # dev.twitch.tv "Guarding against replay attacks": older than 10 minutes is refused
    # (the signed fraction .634234626 s makes NOW - 600 still inside the window)
    assert _check(TWITCH, TWITCH.sign(NEW, BODY, signed_at)).reason == reason


def test_twitch_tolerance_can_be_configured() -> None:
    tight = replace(TWITCH, auth=Auth(type="twitch", tolerance_seconds=10))
    assert _check(tight, tight.sign(NEW, BODY, NOW - 10)).reason == "ok"
    assert _check(tight, tight.sign(NEW, BODY, NOW - 12)).reason == "stale_timestamp"


@pytest.mark.parametrize(
    ("stamp", "reason"),
    [
        ("2023-11-14T22:13:20Z", "ok"),
        ("2023-11-14T22:13:20.1Z", "ok"),
        ("2023-11-14t22:13:20.634234626z", "ok"),
        ("2023-11-15T00:13:20+02:00", "ok"),
        ("2023-11-14T20:13:20.5-02:00", "ok"),
        ("2023-11-14 22:13:20Z", "malformed_header"),
        ("2023-11-14T22:13:20", "malformed_header"),
        ("2023-11-14T22:13:20.1234567890Z", "malformed_header"),
        ("2023-02-30T22:13:20Z", "malformed_header"),
        ("2023-11-14T25:13:20Z", "malformed_header"),
        ("2023-11-14T22:13:61Z", "malformed_header"),
        ("2023-11-14T22:13:20+2:00", "malformed_header"),
        ("1700000000", "malformed_header"),
        ("２０２３-11-14T22:13:20Z", "malformed_header"),
    ],
)
def test_twitch_timestamp_is_rfc_3339(stamp: str, reason: str) -> None:
    # NOW is 2023-11-14T22:13:20Z; the signature covers the timestamp text as sent
    message = (TWITCH_ID + stamp).encode() + BODY
    headers = {**TWITCH.sign(NEW, BODY, NOW), "Twitch-Eventsub-Message-Timestamp": stamp,
               "Twitch-Eventsub-Message-Signature": "sha256=" + _mac(NEW.encode(),
                                                                     message).hex()}
    assert _check(TWITCH, headers).reason == reason


def test_twitch_signature_covers_the_message_id() -> None:
    headers = {**TWITCH.sign(NEW, BODY, NOW), "Twitch-Eventsub-Message-Id": "another-id"}
    assert _check(TWITCH, headers).reason == "bad_signature"


def test_twitch_signer_matches_twitchs_documented_example() -> None:
    # dev.twitch.tv's Node example: crypto.createHmac('sha256', secret)
    #   .update(messageId + timestamp + rawBody).digest('hex'), compared with the header
    #   after "sha256="
    stamp = _rfc3339(NOW)
    expected = hmac.new(NEW.encode(), (TWITCH_ID + stamp + BODY.decode()).encode(),
                        hashlib.sha256).hexdigest()
    assert _twitch(NEW, BODY, NOW)["Twitch-Eventsub-Message-Signature"] == "sha256=" + expected


def test_the_matched_secret_is_reported() -> None:
    zoom = SCHEMES[[s.id for s in SCHEMES].index("zoom")]
    for signer, index in ((NEW, 0), (OLD, 1)):
        result = verify(zoom.auth, headers=zoom.sign(signer, BODY, NOW), body=BODY,
                        secrets=[NEW, OLD], now=NOW)
        assert (result.ok, result.secret_index) == (True, index)
    forged = verify(zoom.auth, headers=zoom.sign(OTHER, BODY, NOW), body=BODY,
                    secrets=[NEW, OLD], now=NOW)
    assert (forged.ok, forged.secret_index) == (False, None)


def test_slack_signer_matches_the_official_sdk() -> None:
    verifier = SignatureVerifier(NEW)
    headers = _slack(NEW, BODY, NOW)
    assert headers["X-Slack-Signature"] == verifier.generate_signature(
        timestamp=str(NOW), body=BODY)
    # and what the SDK signs, Hookplane verifies (form bodies are signed as sent)
    form = b"command=%2Fdeploy&text=api+v2&user_id=U123"
    signed = {"X-Slack-Request-Timestamp": str(NOW),
              "X-Slack-Signature": verifier.generate_signature(timestamp=str(NOW), body=form)}
    assert verify(Auth(type="slack"), headers=signed, body=form, secrets=[NEW], now=NOW).ok


def test_standard_webhooks_signer_matches_the_official_package() -> None:
    official = Webhook(NEW).sign("msg_2bYQ9Hn", datetime.fromtimestamp(NOW, tz=UTC),
                                 BODY.decode())
    assert _standard_webhooks(NEW, BODY, NOW)["webhook-signature"] == official


def test_standard_webhooks_secret_without_prefix_is_used_as_utf8() -> None:
    secret = "plain-secret"
    content = f"msg_1.{NOW}.".encode() + BODY
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(NOW),
        "webhook-signature": "v1," + _b64(_mac(secret.encode(), content)),
    }
    auth = Auth(type="standard_webhooks")
    assert verify(auth, headers=headers, body=BODY, secrets=[secret], now=NOW).ok


def test_stripe_uses_the_whsec_secret_as_is() -> None:
    decoded = base64.b64decode(NEW.removeprefix("whsec_"))
    signature = _mac(decoded, f"{NOW}.".encode() + BODY).hex()
    headers = {"Stripe-Signature": f"t={NOW},v1={signature}"}
    result = verify(Auth(type="stripe"), headers=headers, body=BODY, secrets=[NEW], now=NOW)
    assert result.reason == "bad_signature"


def test_no_usable_secret_fails_closed() -> None:
    scheme = SCHEMES[0]
    for secrets in ((), ("",)):
        result = _check(scheme, scheme.sign("", BODY, NOW), secrets=secrets)
        assert (result.ok, result.reason) == (False, "bad_signature")


# --------------------------------------------------------------------------- static, bearer

STATIC = Auth(type="static_header", header="X-Api-Key")
TOKEN = "hpt_4f9d2c1b8a7e6d5c"
BEARER = Auth(type="bearer")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.parametrize(
    ("headers", "secrets", "reason"),
    [
        ({"X-Api-Key": NEW}, (NEW,), "ok"),
        ({"x-api-key": f"  {NEW} "}, (NEW,), "ok"),
        ({"X-API-KEY": OLD}, (NEW, OLD), "ok"),
        ({"X-Api-Key": NEW}, (NEW, OLD), "ok"),
        ({"X-Api-Key": OLD}, (NEW,), "bad_token"),
        ({"X-Api-Key": OTHER}, (NEW, OLD), "bad_token"),
        ({"X-Api-Key": NEW[:-1]}, (NEW,), "bad_token"),
        ({"X-Api-Key": NEW + "x"}, (NEW,), "bad_token"),
        ({"X-Api-Key": NEW}, (), "bad_token"),
        ({"X-Api-Key": "\ud800"}, (NEW,), "malformed_header"),
        ({"X-Api-Key": "a" * 8193}, (NEW,), "malformed_header"),
        ({"X-Api-Key": ""}, (NEW,), "missing_header"),
        ({"X-Other": NEW}, (NEW,), "missing_header"),
    ],
)
def test_static_header(headers: dict[str, str], secrets: tuple[str, ...], reason: str) -> None:
    result = verify(STATIC, headers=headers, body=BODY, secrets=secrets, now=NOW)
    assert (result.ok, result.reason) == (reason == "ok", reason)
    assert NEW not in result.detail and OLD not in result.detail


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        (f"Bearer {TOKEN}", "ok"),
        (f"bearer {TOKEN}", "ok"),
        (f"BEARER   {TOKEN}  ", "ok"),
        ("Bearer hpt_old_token", "ok"),
        ("Bearer hpt_wrong", "bad_token"),
        (f"Bearer {TOKEN}x", "bad_token"),
        (f"Bearer {TOKEN.upper()}", "bad_token"),
        (f"Basic {TOKEN}", "malformed_header"),
        (TOKEN, "malformed_header"),
        ("Bearer", "malformed_header"),
        ("Bearer  ", "malformed_header"),
        (f"Bearer {TOKEN} extra", "malformed_header"),
        ("Bearer \udcff", "malformed_header"),
        ("Bearer " + "a" * 8193, "malformed_header"),
        ("", "missing_header"),
        (None, "missing_header"),
    ],
)
def test_bearer(authorization: str | None, reason: str) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    hashes = [_token_hash(TOKEN), _token_hash("hpt_old_token").upper()]
    result = verify(BEARER, headers=headers, body=BODY, secrets=(), token_hashes=hashes, now=NOW)
    assert (result.ok, result.reason) == (reason == "ok", reason)
    assert TOKEN not in result.detail


def test_bearer_without_token_hashes_fails_closed() -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    result = verify(BEARER, headers=headers, body=BODY, secrets=[TOKEN], now=NOW)
    assert result.reason == "bad_token"


def test_bearer_ignores_malformed_stored_hashes() -> None:
    headers = {"authorization": f"Bearer {TOKEN}"}
    hashes = ["not-hex", "", _token_hash(TOKEN)]
    assert verify(BEARER, headers=headers, body=BODY, secrets=(), token_hashes=hashes).ok


# the PromptRails scheme: a bearer token and, when configured, a body signature as well
SIGNED_BEARER = Auth.model_validate({"type": "bearer", "signature": {}})
PROMPTRAILS_SECRET = "wh_secret_6a1f0c"


def _promptrails_signature(secret: str, body: bytes) -> str:
    """As the seed's sender computes it: hmac.new(secret.encode(), payload, sha256)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("token", "signature", "reason"),
    [
        (TOKEN, _promptrails_signature(PROMPTRAILS_SECRET, BODY), "ok"),
        (TOKEN, _promptrails_signature("someone-else", BODY), "bad_signature"),
        (TOKEN, _promptrails_signature(PROMPTRAILS_SECRET, BODY + b" "), "bad_signature"),
        (TOKEN, hmac.new(PROMPTRAILS_SECRET.encode(), BODY, hashlib.sha256).hexdigest(),
         "malformed_header"),  # sha256= is required by default
        (TOKEN, None, "missing_header"),
        ("hpt_wrong", _promptrails_signature(PROMPTRAILS_SECRET, BODY), "bad_token"),
        (None, _promptrails_signature(PROMPTRAILS_SECRET, BODY), "missing_header"),
    ],
)
def test_bearer_with_signature_checks_both(token: str | None, signature: str | None,
                                           reason: str) -> None:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if signature is not None:
        headers["X-Webhook-Signature"] = signature
    result = verify(SIGNED_BEARER, headers=headers, body=BODY, secrets=(PROMPTRAILS_SECRET,),
                    token_hashes=[_token_hash(TOKEN)], now=NOW)
    assert (result.ok, result.reason) == (reason == "ok", reason)
    assert TOKEN not in result.detail and PROMPTRAILS_SECRET not in result.detail


def test_bearer_signature_header_and_encoding_are_configurable() -> None:
    auth = Auth.model_validate(
        {"type": "bearer", "signature": {"header": "X-Sig", "encoding": "base64"}})
    mac = hmac.new(PROMPTRAILS_SECRET.encode(), BODY, hashlib.sha256).digest()
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Sig": base64.b64encode(mac).decode()}
    hashes = [_token_hash(TOKEN)]
    assert verify(auth, headers=headers, body=BODY, secrets=(PROMPTRAILS_SECRET,),
                  token_hashes=hashes).ok
    # a rotation's previous secret still verifies; no secret at all fails closed
    assert verify(auth, headers=headers, body=BODY, secrets=("new", PROMPTRAILS_SECRET),
                  token_hashes=hashes).ok
    assert verify(auth, headers=headers, body=BODY, secrets=(),
                  token_hashes=hashes).reason == "bad_signature"
    assert "x-sig" in secret_header_names(auth)


def test_a_bearer_without_signature_ignores_a_signature_header() -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Webhook-Signature": "sha256=forged"}
    assert verify(BEARER, headers=headers, body=BODY, secrets=(),
                  token_hashes=[_token_hash(TOKEN)]).ok


# --------------------------------------------------------------------------- delivery ids


def test_delivery_id_is_only_given_for_verified_deliveries() -> None:
    scheme = SCHEMES[[s.id for s in SCHEMES].index("github")]
    assert _check(scheme, scheme.sign(OTHER, BODY, NOW)).delivery_id is None
    assert _check(scheme, scheme.sign(NEW, BODY, NOW)).delivery_id == scheme.delivery_id


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"webhook-id": "msg_9"}, "msg_9"),
        ({"X-Webhook-Id": "wh_1", "webhook-id": "msg_9"}, "wh_1"),
        ({}, None),
        ({"X-Webhook-Id": "   "}, None),
    ],
)
def test_hmac_delivery_id(headers: dict[str, str], expected: str | None) -> None:
    headers = {**headers, **_hmac_hex(NEW, BODY, NOW)}
    assert _check(SCHEMES[0], headers).delivery_id == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (BODY, "evt_123"),
        (b'{"id": "evt_1", "data": {"id": "inv_1"}}', "evt_1"),
        (b'{"data": {"id": "inv_1"}}', None),
        (b'{"id": 12}', None),
        (b'{"id": ""}', None),
        (b'["evt_1"]', None),
        (b"not json", None),
        (b"\xff\xfe\x00", None),
        (b"[" * 100_000, None),
        (b'{"id": "' + b"x" * 300 + b'"}', None),
        (b"", None),
    ],
)
def test_stripe_event_id(body: bytes, expected: str | None) -> None:
    assert stripe_event_id(body) == expected


@given(st.binary())
def test_stripe_event_id_never_raises(body: bytes) -> None:
    found = stripe_event_id(body)
    assert found is None or isinstance(found, str)


# --------------------------------------------------------------------------- redaction


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        (Auth(), {"x-hookplane-signature"}),
        (Auth(type="hmac", header="X-Sig"), {"x-sig"}),
        (STATIC, {"x-api-key"}),
        (BEARER, {"authorization"}),
        (Auth(type="standard_webhooks"), {"webhook-signature"}),
        (Auth(type="github"), {"x-hub-signature-256", "x-hub-signature"}),
        (Auth(type="stripe"), {"stripe-signature"}),
        (Auth(type="slack"), {"x-slack-signature"}),
        (Auth(type="shopify"), {"x-shopify-hmac-sha256"}),
        (Auth(type="pagerduty"), {"x-pagerduty-signature"}),
        (Auth(type="zoom"), {"x-zm-signature"}),
        (Auth(type="twitch"), {"twitch-eventsub-message-signature"}),
    ],
)
def test_secret_header_names(auth: Auth, expected: set[str]) -> None:
    assert secret_header_names(auth) == expected


def test_redact_headers_hides_credentials_and_keeps_the_rest() -> None:
    headers = {
        "X-Api-Key": NEW,
        "Cookie": "session=1",
        "authorization": "Basic abc",
        "Proxy-Authorization": "Bearer x",
        "X-Hub-Signature-256": "sha256=" + _HEX,
        "Content-Type": "application/json",
        "X-GitHub-Delivery": "d-1",
    }
    assert redact_headers(headers, STATIC) == {
        "X-Api-Key": "[redacted]",
        "Cookie": "[redacted]",
        "authorization": "[redacted]",
        "Proxy-Authorization": "[redacted]",
        "X-Hub-Signature-256": "sha256=" + _HEX,
        "Content-Type": "application/json",
        "X-GitHub-Delivery": "d-1",
    }
    assert redact_headers(headers, Auth(type="github"))["X-Hub-Signature-256"] == "[redacted]"
    assert {"authorization", "cookie", "x-api-key", "proxy-authorization"} <= SENSITIVE_HEADERS


# --------------------------------------------------------------------------- properties

_ALL_AUTHS = [s.auth for s in SCHEMES] + [STATIC, BEARER]
_NAMES = sorted(
    {n for s in SCHEMES for n in s.required}
    | {"X-Api-Key", "Authorization", "X-Webhook-Id", "X-GitHub-Delivery"}
)
_anything = st.text(alphabet=st.characters(exclude_categories=()), max_size=80)
_values = st.one_of(
    _anything,
    st.text(alphabet="0123456789abcdefABCDEFtv01=,. sha", max_size=140),
    st.integers(NOW - 400, NOW + 400).map(str),
    st.binary(max_size=40).map(_b64),
    st.binary(min_size=32, max_size=32).map(lambda raw: "v1," + _b64(raw)),
    st.binary(min_size=32, max_size=32).map(lambda raw: "sha256=" + raw.hex()),
    st.tuples(st.integers(NOW - 400, NOW + 400), st.binary(min_size=32, max_size=32)).map(
        lambda pair: f"t={pair[0]},v1={pair[1].hex()}"
    ),
    st.binary(min_size=32, max_size=32).map(lambda raw: "v0=" + raw.hex()),
    st.sampled_from(["Bearer " + TOKEN + "x", "Bearer ", NEW[:-1]]),
    st.text(max_size=1).map(lambda c: c * 9000),
)
_headers = st.dictionaries(
    st.one_of(st.sampled_from(_NAMES), st.sampled_from(_NAMES).map(str.upper), _anything),
    _values,
    max_size=8,
)


@pytest.mark.parametrize("auth", _ALL_AUTHS, ids=lambda a: f"{a.type}-{a.encoding}-{a.header}")
@given(headers=_headers, body=st.binary(max_size=300))
def test_random_input_never_raises_and_never_verifies(
    auth: Auth, headers: dict[str, str], body: bytes
) -> None:
    result = verify(
        auth,
        headers=headers,
        body=body,
        secrets=[NEW, OLD],
        token_hashes=[_token_hash(TOKEN)],
        now=NOW,
    )
    assert not result.ok
    assert result.reason in REASONS
    assert result.delivery_id is None


@pytest.mark.parametrize("auth", _ALL_AUTHS, ids=lambda a: f"{a.type}-{a.encoding}-{a.header}")
@given(
    headers=_headers,
    body=st.binary(max_size=300),
    secrets=st.lists(_anything, max_size=3),
    now=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70)),
)
def test_random_secrets_and_clocks_never_raise(
    auth: Auth, headers: dict[str, str], body: bytes, secrets: list[str], now: float
) -> None:
    result = verify(auth, headers=headers, body=body, secrets=secrets, token_hashes=secrets,
                    now=now)
    assert (result.reason == "ok") if result.ok else (result.reason in REASONS)


@pytest.mark.parametrize("scheme", SCHEMES, ids=_ids)
@given(
    body=st.binary(max_size=2000),
    key=st.binary(min_size=1, max_size=64),
    text_secret=st.text(min_size=1, max_size=40),
    offset=st.integers(-300, 300),
)
def test_valid_signature_over_random_body_always_verifies(
    scheme: Scheme, body: bytes, key: bytes, text_secret: str, offset: int
) -> None:
    secret = "whsec_" + _b64(key) if scheme.id == "standard_webhooks" else text_secret
    headers = scheme.sign(secret, body, NOW + offset)
    result = verify(scheme.auth, headers=headers, body=body, secrets=[secret], now=NOW)
    assert result.ok, result.detail
