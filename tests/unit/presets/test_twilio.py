"""The ``twilio`` preset against Twilio's own ``RequestValidator`` (twilio-python).

Twilio signs the URL it called followed by the sorted POST parameters (HMAC-SHA1 with the
Auth Token, or HMAC-SHA256 with a shared key named in ``X-Twilio-Webhooks-Signature-Settings``);
a JSON body is covered by ``bodySHA256`` in the URL. There is no signed time: a captured
request replays as long as the URL and parameters are the same, so the replay cases here are
a different URL or changed parameters.
"""

from __future__ import annotations

import hashlib
import urllib.parse

import pytest
from twilio.request_validator import RequestValidator

from hookplane.config.models import Auth
from hookplane.presets import PRESETS
from hookplane.runtime.verify import VerifyResult, verify

AUTH = Auth(type="twilio")
TOKEN = "12345"  # Twilio's own docs example Auth Token
OTHER = "54321"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+12349013030", "Digits": "1234",
          "From": "+12349013030", "To": "+18005551212"}
FORM = "application/x-www-form-urlencoded"
IDEMPOTENCY = "ac5a1ea2-9c3d-4b4f-8e1b-1d2f3a4b5c6d-1"


def _form(params: dict[str, str] | list[tuple[str, str]]) -> bytes:
    return urllib.parse.urlencode(params).encode()


def _check(headers: dict[str, str], body: bytes, url: str = URL,
           secrets: tuple[str, ...] = (TOKEN,)) -> VerifyResult:
    return verify(AUTH, headers=headers, body=body, secrets=list(secrets), now=0, url=url)


def _headers(signature: str, content_type: str = FORM, **extra: str) -> dict[str, str]:
    return {"X-Twilio-Signature": signature, "Content-Type": content_type,
            "I-Twilio-Idempotency-Token": IDEMPOTENCY, **extra}


def test_twilio_documented_example() -> None:
    # Twilio's published example (twilio.com/docs/usage/security): this URL, these parameters
    # and Auth Token 12345 sign to 0/KCTR6DLpKmkAf8muzZqo1nDgQ= (the SDK computes the same)
    validator = RequestValidator(TOKEN)
    assert validator.compute_signature(URL, PARAMS) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    result = _check(_headers("0/KCTR6DLpKmkAf8muzZqo1nDgQ="), _form(PARAMS))
    assert (result.ok, result.delivery_id, result.secret_index) == (True, IDEMPOTENCY, 0)


@pytest.mark.parametrize("url", [
    "https://example.com/sms/inbound",
    "https://example.com:443/sms/inbound",
    "http://example.com/sms/inbound",
    "http://example.com:80/sms/inbound?account=a+b",
    "https://example.com:8443/sms/inbound",
])
@pytest.mark.parametrize("signed_with_port", [False, True])
def test_twilio_form_signed_by_the_sdk_with_and_without_the_port(
        url: str, signed_with_port: bool) -> None:
    # Twilio's own validator accepts the URL with or without the default port; so must we
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    signed_url = parts._replace(netloc=f"{parts.hostname}:{port}" if signed_with_port
                                else parts.hostname).geturl()
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(signed_url, PARAMS)
    assert validator.validate(url, PARAMS, signature)
    assert _check(_headers(signature), _form(PARAMS), url=url).ok


@pytest.mark.parametrize("url", [
    "https://Hooks.Example.com/Ingest/prod/sms",  # the host as configured, not lower-cased
    "https://HOOKS.example.com:443/sms",
    "https://[2001:db8::1]/sms",
    "https://[2001:db8::1]:8443/sms",
])
def test_twilio_url_is_signed_as_written(url: str) -> None:
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(url, PARAMS)
    assert validator.validate(url, PARAMS, signature)
    assert _check(_headers(signature), _form(PARAMS), url=url).ok


def test_twilio_repeated_parameters_and_encoding_as_the_sdk_signs_them() -> None:
    # a MultiDict (Flask's request.form): every value of a repeated name, sorted
    class MultiDict(dict[str, list[str]]):
        def getall(self, name: str) -> list[str]:
            return self[name]

    pairs = [("To", "+18005551212"), ("Body", "café & more = 100%"), ("MediaUrl", "b"),
             ("MediaUrl", "a"), ("Empty", "")]
    params = MultiDict()
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    signature = RequestValidator(TOKEN).compute_signature(URL, params)
    headers = _headers(signature, content_type=f"{FORM}; charset=utf-8")
    assert _check(headers, _form(pairs)).ok


def test_twilio_json_body_with_body_sha256() -> None:
    body = b'{"MessageSid":"SM1","Body":"hello"}'
    validator = RequestValidator(TOKEN)
    url = f"https://example.com/status?bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = validator.compute_signature(url, {})
    assert validator.validate(url, body.decode(), signature)
    assert _check(_headers(signature, "application/json"), body, url=url).ok
    # the body is bound through its hash: another body under the same URL fails both
    tampered = b'{"MessageSid":"SM1","Body":"hellO"}'
    assert not validator.validate(url, tampered.decode(), signature)
    result = _check(_headers(signature, "application/json"), tampered, url=url)
    assert (result.ok, result.reason) == (False, "bad_signature")


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_twilio_body_not_covered_by_the_signature_is_refused(content_type: str) -> None:
    # a signature over the URL alone (a GET webhook's: its parameters are in the query) must
    # not vouch for a body: Twilio covers a non-form body only through bodySHA256
    url = "https://mycompany.com/voice?CallSid=CA1234567890ABCDE&From=%2B14155550100"
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(url, {})
    assert validator.validate(url, {}, signature)
    assert _check(_headers(signature, content_type), b"", url=url).ok
    result = _check(_headers(signature, content_type), b'{"forged":true}', url=url)
    assert (result.ok, result.reason) == (False, "bad_signature")


def test_twilio_hmac_sha256_shared_key() -> None:
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(URL, PARAMS, algorithm="HMAC_SHA256")
    assert validator.validate(URL, PARAMS, signature, algorithm="HMAC_SHA256")
    settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    headers = _headers(signature, **{"X-Twilio-Webhooks-Signature-Settings": settings})
    assert _check(headers, _form(PARAMS)).ok
    # the same signature without the settings header is read as HMAC-SHA1: not its shape
    assert _check(_headers(signature), _form(PARAMS)).reason == "malformed_header"


def test_twilio_tampered_parameters() -> None:
    validator = RequestValidator(TOKEN)
    signature = validator.compute_signature(URL, PARAMS)
    tampered = {**PARAMS, "Digits": "9999"}
    assert not validator.validate(URL, tampered, signature)
    result = _check(_headers(signature), _form(tampered))
    assert (result.ok, result.reason, result.delivery_id) == (False, "bad_signature", None)
    # a parameter added by whoever replays the request
    added = {**PARAMS, "Extra": "1"}
    assert _check(_headers(signature), _form(added)).reason == "bad_signature"


def test_twilio_replayed_to_another_url() -> None:
    # no signed time: the URL (path and query) is what ties a captured request to its target
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    for other in ("https://mycompany.com/myapp.php?foo=1&bar=3",
                  "https://mycompany.com/other.php?foo=1&bar=2",
                  "https://attacker.example/myapp.php?foo=1&bar=2"):
        assert not RequestValidator(TOKEN).validate(other, PARAMS, signature)
        assert _check(_headers(signature), _form(PARAMS), url=other).reason == "bad_signature"


def test_twilio_wrong_token() -> None:
    signature = RequestValidator(OTHER).compute_signature(URL, PARAMS)
    assert _check(_headers(signature), _form(PARAMS)).reason == "bad_signature"


@pytest.mark.parametrize("signature", ["not base64!", "", "AAAA",
                                       "0/KCTR6DLpKmkAf8muzZqo1nDgQ=0/KCTR6DLpKmkAf8muzZqo1nDgQ="])
def test_twilio_malformed_signature(signature: str) -> None:
    result = _check(_headers(signature), _form(PARAMS))
    expected = "missing_header" if not signature else "malformed_header"
    assert (result.ok, result.reason) == (False, expected)


def test_twilio_unknown_algorithm_is_malformed() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    headers = _headers(signature, **{"X-Twilio-Webhooks-Signature-Settings":
                                     "key=k,algorithm=HMAC_MD5"})
    assert not RequestValidator(TOKEN).validate(URL, PARAMS, signature, algorithm="HMAC_MD5")
    assert _check(headers, _form(PARAMS)).reason == "malformed_header"


def test_twilio_token_rotation() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    result = _check(_headers(signature), _form(PARAMS), secrets=(OTHER, TOKEN))
    assert (result.ok, result.secret_index) == (True, 1)


def test_twilio_without_a_public_url_fails_closed() -> None:
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    result = verify(AUTH, headers=_headers(signature), body=_form(PARAMS), secrets=[TOKEN],
                    now=0, url=None)
    assert (result.ok, result.reason) == (False, "bad_signature")
    assert "HOOKPLANE_PUBLIC_URL" in result.detail


def test_twilio_preset_signer_is_accepted_by_the_sdk() -> None:
    # the signer `hookplane inbound-webhooks simulate` uses: a repeated name and a repeated
    # value are signed the way Twilio signs them (each distinct value, sorted)
    class MultiDict(dict[str, list[str]]):
        def getall(self, name: str) -> list[str]:
            return self[name]

    pairs = [("To", "+18005551212"), ("MediaUrl", "b"), ("MediaUrl", "a"), ("MediaUrl", "a")]
    params = MultiDict()
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    sign = PRESETS["twilio"].sign
    assert sign is not None
    headers, body = sign(_form(pairs), TOKEN, 0, URL)
    assert RequestValidator(TOKEN).validate(URL, params, headers["X-Twilio-Signature"])
    assert _check(headers, body).ok


def test_twilio_parameters_recut_at_a_boundary_verify_as_the_sdk_verifies_them() -> None:
    """Twilio joins each name to its value with no separator: fields re-cut across a
    boundary (``From=…30, To=+1…`` → ``From=…30T, o=+1…``, the sorted order kept) sign the
    same, for Twilio's own validator as here. Nothing signed tells them apart (nor a replay:
    no signed time), which providers.md says; the limit is Twilio's scheme, kept for
    compatibility."""
    recut = {**{k: v for k, v in PARAMS.items() if k != "To"},
             "From": PARAMS["From"] + "T", "o": PARAMS["To"]}
    signature = RequestValidator(TOKEN).compute_signature(URL, PARAMS)
    assert RequestValidator(TOKEN).validate(URL, recut, signature)
    assert _check(_headers(signature), _form(recut)).ok
    note = PRESETS["twilio"].docs.notes if PRESETS["twilio"].docs else ""
    assert "re-cut" in note
