"""Outbound signing, checked by the official ``standardwebhooks`` package and plain ``hmac``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hookplane.config.models import Auth
from hookplane.errors import DeliveryError, SecretError
from hookplane.runtime.signing import new_message_id, sign
from hookplane.runtime.verify import verify

OLD = "whsec_" + base64.b64encode(b"old key: thirty-two bytes long!!").decode()
NEW = "whsec_" + base64.b64encode(b"new key: thirty-two bytes long!!").decode()
OTHER = "whsec_" + base64.b64encode(b"not this trigger's key at all!!!").decode()
BODY = b'{"id":"msg_1","event":"record.created","record":{"title":"caf\xc3\xa9"}}'


def _signed(secrets: list[str], *, body: bytes = BODY, timestamp: int | None = None,
            message_id: str = "msg_2Lc6TYvLbG7F2xNM2vmPyTh7gJ0") -> dict[str, str]:
    return sign(
        secrets=secrets,
        body=body,
        message_id=message_id,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        event="record.created",
    )


def _hookplane_signature(key: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _decoded(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


# --------------------------------------------------------------------------- standardwebhooks


def test_official_package_accepts_our_headers() -> None:
    headers = _signed([NEW])
    assert Webhook(NEW).verify(BODY, headers) == {
        "id": "msg_1", "event": "record.created", "record": {"title": "café"}
    }


@pytest.mark.parametrize(
    "tampered", [BODY + b" ", BODY.replace(b"created", b"deleted"), b"{}"]
)
def test_official_package_rejects_a_tampered_body(tampered: bytes) -> None:
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(NEW).verify(tampered, _signed([NEW]))


def test_official_package_rejects_another_secret_and_a_tampered_id() -> None:
    headers = _signed([NEW])
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(OTHER).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(NEW).verify(BODY, {**headers, "webhook-id": "msg_other"})


def test_official_package_accepts_either_secret_during_rotation() -> None:
    headers = _signed([NEW, OLD])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(NEW).verify(BODY, headers)
    Webhook(OLD).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(BODY + b"\n", headers)


def test_after_the_grace_period_the_old_secret_no_longer_verifies() -> None:
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(OLD).verify(BODY, _signed([NEW]))


def test_official_package_rejects_a_stale_delivery() -> None:
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(NEW).verify(BODY, _signed([NEW], timestamp=int(time.time()) - 3600))


def test_plain_secret_is_used_as_utf8_bytes() -> None:
    secret = "a plain shared secret, not whsec"
    headers = _signed([secret])
    Webhook(secret.encode()).verify(BODY, headers)
    assert headers["X-Hookplane-Signature"] == _hookplane_signature(secret.encode(), BODY)


# --------------------------------------------------------------------------- X-Hookplane-Signature


def test_hookplane_signature_is_hmac_of_the_body_with_the_secret_text() -> None:
    headers = _signed([NEW])
    assert headers["X-Hookplane-Signature"] == _hookplane_signature(NEW.encode(), BODY)
    assert headers["X-Hookplane-Signature"] != _hookplane_signature(_decoded(NEW), BODY)


def test_rotation_signs_with_every_secret_newest_first() -> None:
    headers = _signed([NEW, OLD])
    assert headers["X-Hookplane-Signature"].split(" ") == [
        _hookplane_signature(NEW.encode(), BODY),
        _hookplane_signature(OLD.encode(), BODY),
    ]
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + BODY
    assert headers["webhook-signature"].split(" ") == [
        "v1," + base64.b64encode(hmac.new(_decoded(s), content, hashlib.sha256).digest()).decode()
        for s in (NEW, OLD)
    ]


def test_headers_are_exactly_the_documented_ones() -> None:
    headers = sign(secrets=[NEW], body=b"", message_id="msg_1", timestamp=1_700_000_000,
                   event="config.applied", signature_header="X-Signature")
    assert list(headers) == [
        "X-Signature", "webhook-id", "webhook-timestamp", "webhook-signature",
        "X-Hookplane-Event",
    ]
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == "1700000000"
    assert headers["X-Hookplane-Event"] == "config.applied"
    assert headers["X-Signature"] == _hookplane_signature(NEW.encode(), b"")


def test_binary_body_is_signed_byte_for_byte() -> None:
    body = bytes(range(256))
    headers = _signed([NEW], body=body)
    assert headers["X-Hookplane-Signature"] == _hookplane_signature(NEW.encode(), body)


def test_our_inbound_standard_webhooks_verifier_accepts_our_outbound_headers() -> None:
    headers = _signed([NEW, OLD], timestamp=1_700_000_000)
    for secrets in ([NEW], [OLD]):
        result = verify(Auth(type="standard_webhooks"), headers=headers, body=BODY,
                        secrets=secrets, now=1_700_000_000)
        assert result.ok, result.detail
        assert result.delivery_id == headers["webhook-id"]


def test_our_inbound_hmac_verifier_accepts_our_outbound_signature() -> None:
    """A Hookplane trigger can deliver to a Hookplane inbound webhook with auth: hmac."""
    headers = _signed([NEW, OLD])
    for secrets in ([NEW], [OLD]):
        result = verify(Auth(type="hmac"), headers=headers, body=BODY, secrets=secrets)
        assert result.ok, result.detail
    assert not verify(Auth(type="hmac"), headers=headers, body=BODY + b" ",
                      secrets=[NEW]).ok


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ([], "no signing secret"),
        ([""], "empty secret"),
        (["whsec_!!!notbase64"], "not valid base64"),
        (["whsec_"], "empty after the prefix"),
        (["\ud800"], "not valid UTF-8"),
    ],
)
def test_unusable_secrets_are_refused(secrets: list[str], message: str) -> None:
    with pytest.raises(SecretError, match=message):
        _signed(secrets)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message_id", "msg_1\r\nX-Injected: 1"),
        ("message_id", ""),
        ("message_id", " msg_1"),
        ("event", "record.created\n"),
        ("event", "récord"),
        ("signature_header", "webhook-signature"),
        ("signature_header", "X-Sig\r\n"),
    ],
)
def test_values_that_cannot_be_headers_are_refused(field: str, value: str) -> None:
    arguments = {"message_id": "msg_1", "event": "record.created",
                 "signature_header": "X-Hookplane-Signature", field: value}
    with pytest.raises(DeliveryError):
        sign(secrets=[NEW], body=BODY, timestamp=1_700_000_000, **arguments)


# --------------------------------------------------------------------------- message ids


def test_new_message_id_shape_and_uniqueness() -> None:
    ids = {new_message_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"msg_[A-Za-z0-9_-]{27}", i) for i in ids)
