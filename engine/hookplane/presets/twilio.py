"""Twilio: ``X-Twilio-Signature: <base64>`` HMAC-SHA1 (or HMAC-SHA256 when
``X-Twilio-Webhooks-Signature-Settings`` says ``algorithm=HMAC_SHA256``) of the URL Twilio
called followed by every POST parameter, name then each distinct value, both sorted; for a
JSON body the URL carries ``bodySHA256=<hex SHA-256 of the body>`` and only the URL is signed
(twilio.com/docs/usage/webhooks/webhooks-security): any other body is refused, as nothing
signed covers it. The URL is tried with and without the default port, as Twilio's own
validator does. Set ``HOOKPLANE_PUBLIC_URL`` to the address Twilio is given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    Reject,
    base64_digest,
    example_id,
    match,
    parsed,
    utf8,
    utf8_keys,
)

HEADER = "X-Twilio-Signature"
SETTINGS = "X-Twilio-Webhooks-Signature-Settings"


def _algorithm(delivery: Delivery) -> tuple[str, int]:
    for part in (delivery.header(SETTINGS) or "").split(","):
        name, equals, value = part.partition("=")
        if equals and name.strip() == "algorithm" and value.strip():
            algorithm = value.strip().upper()
            if algorithm not in ("HMAC_SHA1", "HMAC_SHA256"):
                raise Reject("malformed_header", f"{SETTINGS} names an unknown algorithm")
            return algorithm, 32 if algorithm == "HMAC_SHA256" else 20
    return "HMAC_SHA1", 20


def _ports(url: str) -> list[str]:
    """The URL without and with its scheme's default port (Twilio signs either); the host
    as written (Twilio signs it as given, not lower-cased)."""
    parts = urllib.parse.urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    userinfo += at
    host = (hostport[:hostport.find("]") + 1] if hostport.startswith("[")
            else hostport.partition(":")[0])
    port = parts.port or (443 if parts.scheme == "https" else 80)
    bare = parts._replace(netloc=f"{userinfo}{host}").geturl()
    ported = parts._replace(netloc=f"{userinfo}{host}:{port}").geturl()
    return [bare, ported]


def _is_form(delivery: Delivery) -> bool:
    content_type = (delivery.header("content-type") or "").split(";")[0].strip().lower()
    return content_type == "application/x-www-form-urlencoded"


def _params(delivery: Delivery) -> str:
    if not _is_form(delivery):
        return ""
    try:
        pairs = urllib.parse.parse_qsl(delivery.body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise Reject("malformed_header", "the form body is not UTF-8") from None
    return _joined(pairs)


def _joined(pairs: list[tuple[str, str]]) -> str:
    """Each name followed by each of its distinct values, both sorted (as Twilio signs)."""
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    return "".join(name + value for name in sorted(values) for value in sorted(values[name]))


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    algorithm, size = _algorithm(delivery)
    found = parsed(HEADER, delivery, lambda text: base64_digest(text, size),
                   f"is not the base64 of an {algorithm}")
    url = delivery.require_url()
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    params = _params(delivery)
    if "bodySHA256" in query:  # a JSON body: the URL carries its hash, only the URL is signed
        expected = hashlib.sha256(delivery.body).hexdigest().encode()
        if params or not hmac.compare_digest(expected, query["bodySHA256"][0].encode()):
            raise Reject("bad_signature", "bodySHA256 does not match the body")
    elif delivery.body and not _is_form(delivery):
        # only form parameters and bodySHA256 tie a body to the signature: any other body
        # (a replayed GET's signature covers the URL alone) would pass unchecked
        raise Reject("bad_signature", "the body is not form parameters and the URL carries "
                     "no bodySHA256: the signature does not cover it")
    digest = hashlib.sha256 if algorithm == "HMAC_SHA256" else hashlib.sha1
    keys = utf8_keys(delivery.secrets)
    last: Reject | None = None
    for candidate in _ports(url):
        try:
            return match(HEADER, found, keys, delivery, utf8(candidate + params) or b"",
                         algorithm=digest)
        except Reject as reject:
            last = reject
    assert last is not None
    raise last


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    data = url + _joined(pairs)
    mac = hmac.new(secret.encode(), data.encode(), hashlib.sha1).digest()
    return {HEADER: base64.b64encode(mac).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "I-Twilio-Idempotency-Token": example_id(body, now)}, body


PRESET = Preset(
    name="twilio", title="Twilio", verify=verify, sign=sign, secret="provider",
    secret_env="TWILIO_AUTH_TOKEN",
    scheme="`X-Twilio-Signature: <base64>` HMAC-SHA1 of the URL plus the sorted form "
           "parameters (JSON: `bodySHA256` in the URL)",
    credential_headers=("x-twilio-signature",),
    delivery_id_headers=("i-twilio-idempotency-token",), form_bodies=True, signs_url=True,
    replay="none (no signed time); `I-Twilio-Idempotency-Token` de-duplicates retries",
    docs=Docs(dashboard="Console → *Phone Numbers → Manage → Active numbers* → your number → "
                        "*A message comes in*: *Webhook* = the ingest URL, *HTTP POST*; the "
                        "key is the account's *Auth Token* (*Account → API keys & tokens*).",
              notes="Twilio posts forms (`From`, `To`, `Body`, …): the record gets them as a "
                    "flat JSON object. The answer is Hookplane's JSON, which Twilio logs as "
                    "an empty TwiML reply. Twilio's signature covers no time and joins "
                    "each name to its value without a separator: whoever holds one signed "
                    "request can send it again, even with its fields re-cut at a boundary "
                    "(`From=…0&To=+1…` as `From=…0T&o=+1…`), and it verifies, as with "
                    "Twilio's own validator. Use `ip_allowlist` where that matters.",
              sample={"MessageSid": "SM9f7a1f1b1c2d3e4f5a6b7c8d9e0f1a2b", "From": "+14155550100",
                      "To": "+14155550199", "Body": "hello"}),
)
