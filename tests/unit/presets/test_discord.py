"""The ``discord`` preset against Ed25519 signatures made with PyNaCl (libsodium), the
library Discord's own documentation uses: ``SigningKey.sign(timestamp + body)``, verified
with the application's hex public key (discord.com/developers/docs/interactions/overview,
"Setting Up an Endpoint")."""

from __future__ import annotations

import pytest
from nacl.encoding import HexEncoder
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey
from pydantic import ValidationError

from hookplane.config.models import Auth
from hookplane.runtime.verify import VerifyResult, verify

NOW = 1_700_000_000
KEY = SigningKey(bytes(range(32)))
OTHER_KEY = SigningKey(bytes(range(1, 33)))
PUBLIC = KEY.verify_key.encode(HexEncoder).decode()
BODY = b'{"type":2,"id":"786008729715212338","data":{"name":"caf\xc3\xa9"}}'


def _sign(body: bytes, timestamp: str, key: SigningKey = KEY) -> dict[str, str]:
    signature = key.sign(timestamp.encode() + body).signature.hex()
    return {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": timestamp}


def _check(headers: dict[str, str], body: bytes = BODY, public_key: str = PUBLIC,
           now: float = NOW) -> VerifyResult:
    return verify(Auth(type="discord", public_key=public_key), headers=headers, body=body,
                  secrets=[], now=now)


def _nacl_accepts(headers: dict[str, str], body: bytes, public_key: str = PUBLIC) -> bool:
    """Discord's documented check, as its Python example writes it."""
    try:
        VerifyKey(bytes.fromhex(public_key)).verify(
            f'{headers["X-Signature-Timestamp"]}'.encode() + body,
            bytes.fromhex(headers["X-Signature-Ed25519"]))
    except BadSignatureError:
        return False
    return True


def test_discord_signed_with_pynacl() -> None:
    headers = _sign(BODY, str(NOW))
    assert _nacl_accepts(headers, BODY)
    result = _check(headers)
    # Discord sends no delivery id header (the interaction id is in the body)
    assert (result.ok, result.reason, result.delivery_id) == (True, "ok", None)


def test_discord_public_key_in_upper_case_hex() -> None:
    assert _check(_sign(BODY, str(NOW)), public_key=PUBLIC.upper()).ok


def test_discord_tampered_body() -> None:
    headers = _sign(BODY, str(NOW))
    tampered = BODY.replace(b'"type":2', b'"type":3')
    assert not _nacl_accepts(headers, tampered)
    assert _check(headers, tampered).reason == "bad_signature"


def test_discord_tampered_timestamp() -> None:
    # the timestamp is signed: moving it forward to pass the window breaks the signature
    headers = {**_sign(BODY, str(NOW - 3600)), "X-Signature-Timestamp": str(NOW)}
    assert not _nacl_accepts(headers, BODY)
    assert _check(headers).reason == "bad_signature"


def test_discord_stale_and_future_timestamp() -> None:
    stale = _sign(BODY, str(NOW - 301))
    assert _nacl_accepts(stale, BODY)  # the signature is fine; only its age is refused
    assert _check(stale).reason == "stale_timestamp"
    assert _check(_sign(BODY, str(NOW - 299))).ok
    assert _check(_sign(BODY, str(NOW + 301))).reason == "future_timestamp"


def test_discord_wrong_public_key() -> None:
    headers = _sign(BODY, str(NOW), key=OTHER_KEY)
    assert not _nacl_accepts(headers, BODY)
    assert _check(headers).reason == "bad_signature"
    # the other application's key verifies its own signature
    other_public = OTHER_KEY.verify_key.encode(HexEncoder).decode()
    assert _check(headers, public_key=other_public).ok


@pytest.mark.parametrize("signature", ["zz" * 64, "ab" * 63, "ab" * 65, "not-hex"])
def test_discord_malformed_signature(signature: str) -> None:
    headers = {"X-Signature-Ed25519": signature, "X-Signature-Timestamp": str(NOW)}
    assert _check(headers).reason == "malformed_header"


@pytest.mark.parametrize("timestamp", ["1700000000.5", "-1700000000", "soon", "1" * 16])
def test_discord_malformed_timestamp(timestamp: str) -> None:
    assert _check(_sign(BODY, timestamp)).reason == "malformed_header"


def test_discord_missing_headers() -> None:
    headers = _sign(BODY, str(NOW))
    for name in headers:
        rest = {key: value for key, value in headers.items() if key != name}
        assert _check(rest).reason == "missing_header"


@pytest.mark.parametrize("public_key", ["", "00" * 31, "not a key", PUBLIC + "00"])
def test_discord_unusable_public_key(public_key: str) -> None:
    # the configuration refuses it; a model built without validation still fails closed
    with pytest.raises(ValidationError, match="Ed25519 public key"):
        Auth(type="discord", public_key=public_key)
    auth = Auth.model_construct(type="discord", public_key=public_key)
    result = verify(auth, headers=_sign(BODY, str(NOW)), body=BODY, secrets=[], now=NOW)
    assert (result.ok, result.reason) == (False, "bad_signature")


BASE_POINT = "58" + "66" * 31
"""The Ed25519 base point B, encoded (RFC 8032 §5.1)."""
SMALL_ORDER = [
    "00" * 32,                                                             # order 4
    "01" + "00" * 31,                                                      # the identity
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",    # order 8
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",    # order 8
    "ec" + "ff" * 30 + "7f",                                               # order 2
    "ed" + "ff" * 30 + "7f",                                               # p: 0, order 4
    "ee" + "ff" * 30 + "7f",                                               # p + 1: the identity
]


@pytest.mark.parametrize("public_key", SMALL_ORDER + [
    key[:-2] + f"{int(key[-2:], 16) ^ 0x80:02x}" for key in SMALL_ORDER])  # other sign bit
def test_discord_small_order_public_key_is_refused(public_key: str) -> None:
    """A point of small order is no key: with the identity, (R = B, S = 1) verifies for any
    message, and with an order-8 point one forgery in eight does. libsodium (Discord's
    documented PyNaCl) refuses such keys; a YAML change to one must not pass review as 'a
    new key' and open the endpoint to anyone."""
    with pytest.raises(ValidationError, match="Ed25519 public key"):
        Auth(type="discord", public_key=public_key)
    forged = {"X-Signature-Ed25519": BASE_POINT + "01" + "00" * 31,
              "X-Signature-Timestamp": str(NOW)}
    assert not _nacl_accepts(forged, BODY, public_key)
    auth = Auth.model_construct(type="discord", public_key=public_key)
    result = verify(auth, headers=forged, body=BODY, secrets=[], now=NOW)
    assert (result.ok, result.reason) == (False, "bad_signature")
