"""Inbound webhook verification: pure functions over the headers, raw body and secrets.

:func:`verify` checks one delivery against an inbound webhook's :class:`~hookplane.config.
models.Auth` and answers with a :class:`VerifyResult`; it never raises, whatever the input.
Every scheme is implemented the way its sender documents it:

============================  ==================================================================
``hmac`` (default)            ``X-Hookplane-Signature`` (or ``auth.header``): HMAC-SHA256 of the
                              body, hex with or without ``sha256=``; ``encoding: "sha256="``
                              requires the prefix, ``encoding: base64`` is standard base64
``static_header``             ``auth.header``'s value equals the secret
``bearer``                    ``Authorization: Bearer <token>``; SHA-256 of the token is one of
                              ``token_hashes``; with ``auth.signature`` the body's HMAC
                              (``X-Webhook-Signature: sha256=<hex>``) is required as well
``standard_webhooks``         ``webhook-id``/``-timestamp``/``-signature: v1,<base64>`` over
                              ``"{id}.{timestamp}.{body}"``; key = the secret base64-decoded,
                              with or without ``whsec_`` (as the official libraries do)
``github``                    ``X-Hub-Signature-256: sha256=<hex>`` over the body
``stripe``                    ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`` over ``"{t}.{body}"``
``slack``                     ``X-Slack-Signature: v0=<hex>`` over ``"v0:{timestamp}:{body}"``
                              with ``X-Slack-Request-Timestamp``
``shopify``                   ``X-Shopify-Hmac-Sha256: <base64>`` over the body
``pagerduty``                 ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>]`` over the body
``zoom``                      ``x-zm-signature: v0=<hex>`` over ``"v0:{timestamp}:{body}"`` with
                              ``x-zm-request-timestamp`` (Unix seconds)
``twitch``                    ``Twitch-Eventsub-Message-Signature: sha256=<hex>`` over
                              ``"{message id}{timestamp}{body}"`` with
                              ``Twitch-Eventsub-Message-Id`` and ``-Timestamp`` (RFC 3339)
============================  ==================================================================

Except for ``standard_webhooks`` the HMAC key is the secret's UTF-8 bytes, used as is (a
Stripe ``whsec_…`` secret is not decoded). All secrets in ``secrets`` are tried (a rotation
grace period has two); every comparison is constant-time over digests of the raw body bytes.
Timestamped schemes accept ``auth.tolerance_seconds`` (default 300; ``twitch`` 600, as Twitch
documents) in both directions and
check the timestamp before any HMAC is computed. Work is bounded: a header over 8 KiB (8192
characters) is malformed and at most 10 signatures of one header are tried.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

from hookplane.config.models import Auth

SENSITIVE_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-xsrf-token",
    }
)
"""Lower-case names of headers that carry credentials whatever the auth scheme."""

REDACTED = "[redacted]"

_DEFAULT_HMAC_HEADER = "X-Hookplane-Signature"
_DEFAULT_TOLERANCE_SECONDS = 300
_MAX_HEADER_CHARS = 8 * 1024
_MAX_SIGNATURES = 10
_MAX_TIMESTAMP_DIGITS = 15
_MAX_EVENT_ID_CHARS = 255
_DIGEST_BYTES = 32
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_WHSEC = "whsec_"

_SCHEME_HEADERS: dict[str, tuple[str, ...]] = {
    "bearer": ("authorization",),
    "standard_webhooks": ("webhook-signature",),
    "github": ("x-hub-signature-256", "x-hub-signature"),
    "stripe": ("stripe-signature",),
    "slack": ("x-slack-signature",),
    "shopify": ("x-shopify-hmac-sha256",),
    "pagerduty": ("x-pagerduty-signature",),
    "zoom": ("x-zm-signature",),
    "twitch": ("twitch-eventsub-message-signature",),
}

_DELIVERY_ID_HEADERS: dict[str, tuple[str, ...]] = {
    "hmac": ("x-webhook-id", "webhook-id"),
    "standard_webhooks": ("webhook-id",),
    "github": ("x-github-delivery",),
    "shopify": ("x-shopify-webhook-id",),
    "pagerduty": ("x-webhook-id",),
    "twitch": ("twitch-eventsub-message-id",),
}
_DEFAULT_TOLERANCES: dict[str, int] = {"twitch": 600}
"""Where the provider documents its own replay window (Twitch: 10 minutes)."""
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


@dataclass(frozen=True)
class VerifyResult:
    """The answer for one delivery.

    ``reason`` is machine-readable (``ok``, ``missing_header``, ``malformed_header``,
    ``bad_signature``, ``stale_timestamp``, ``future_timestamp``, ``bad_token``); ``detail``
    is for people and never contains a secret or an expected signature. ``delivery_id`` is the
    sender's delivery id for de-duplication, set only when the delivery verified.
    ``secret_index`` is the position in ``secrets`` of the secret the signature matched (a
    handshake such as Zoom's answers with an HMAC under that same secret).
    """

    ok: bool
    reason: str
    detail: str
    delivery_id: str | None = None
    secret_index: int | None = None


def verify(
    auth: Auth,
    *,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    token_hashes: Sequence[str] = (),
    now: float | None = None,
) -> VerifyResult:
    """Check one inbound delivery; passes when any of ``secrets`` (or ``token_hashes``) fits.

    ``headers`` is any mapping (names are matched case-insensitively), ``body`` the raw bytes
    as received, ``secrets`` every currently valid secret (new and old during a rotation),
    ``token_hashes`` the SHA-256 hex digests of valid bearer tokens, ``now`` the current Unix
    time (injected by tests). Never raises.
    """
    try:
        delivery = _Delivery(
            headers=_normalise(headers),
            body=body if isinstance(body, bytes) else bytes(body),
            secrets=tuple(secrets),
            token_hashes=tuple(token_hashes),
            now=time.time() if now is None else float(now),
        )
        check = _SCHEMES.get(auth.type)
        if check is None:
            return VerifyResult(False, "bad_signature", f"auth type '{auth.type}' is unknown")
        detail = check(auth, delivery)
        delivery_id = _delivery_id(auth.type, delivery)
    except _Reject as reject:
        return VerifyResult(False, reject.reason, reject.detail)
    except Exception:
        return VerifyResult(False, "malformed_header", "the request could not be verified")
    matched = delivery.matched[-1] if delivery.matched else None
    return VerifyResult(True, "ok", detail, delivery_id, matched)


def stripe_event_id(body: bytes) -> str | None:
    """The top-level ``"id"`` of a Stripe event body, or None when there is none (never raises)."""
    try:
        document = json.loads(body)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(document, dict):
        return None
    value = document.get("id")
    if isinstance(value, str) and 0 < len(value) <= _MAX_EVENT_ID_CHARS:
        return value
    return None


def secret_header_names(auth: Auth) -> frozenset[str]:
    """Lower-case names of the headers that carry this scheme's credentials."""
    if auth.type in ("hmac", "static_header"):
        return frozenset({(auth.header or _DEFAULT_HMAC_HEADER).lower()})
    names = frozenset(_SCHEME_HEADERS.get(auth.type, ()))
    if auth.signature is not None:
        names |= {auth.signature.header.lower()}
    return names


def redact_headers(headers: Mapping[str, str], auth: Auth) -> dict[str, str]:
    """A copy of ``headers`` with every credential value replaced by ``"[redacted]"``."""
    hidden = SENSITIVE_HEADERS | secret_header_names(auth)
    return {name: REDACTED if name.lower() in hidden else value for name, value in headers.items()}


# --------------------------------------------------------------------------- internals


class _Reject(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class _Delivery:
    headers: dict[str, str]
    body: bytes
    secrets: tuple[str, ...]
    token_hashes: tuple[str, ...]
    now: float
    matched: list[int] = field(default_factory=list)
    """Index of the secret each HMAC check matched (filled in by :func:`_match`)."""

    def header(self, name: str) -> str | None:
        """The stripped value of header ``name``; None when absent or empty. A header sent
        on several lines with different values is refused: which line a proxy or framework
        keeps differs, so a forged first line must not decide (RFC 9110 §5.3)."""
        value = self.headers.get(name.lower())
        if value is None:
            return None
        if value is _CONFLICTING:
            raise _Reject("malformed_header",
                          f"header {name} is sent more than once with different values")
        if len(value) > _MAX_HEADER_CHARS:
            raise _Reject("malformed_header", f"header {name} is longer than 8 KiB")
        return value.strip() or None

    def require(self, name: str) -> str:
        value = self.header(name)
        if value is None:
            raise _Reject("missing_header", f"header {name} is missing")
        return value


_CONFLICTING = "\x00conflicting\x00"
"""Stands for a header sent on several lines with different values (never a real value:
header values cannot hold NUL)."""


def _normalise(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names; every field line counts (a multi-dict's ``items()`` yields each):
    a name repeated with the same value is that value, with different values
    :data:`_CONFLICTING`."""
    normal: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(name, str) and isinstance(value, str):
            key = name.lower()
            seen = normal.setdefault(key, value)
            if seen != value:
                normal[key] = _CONFLICTING
    return normal


def _utf8(text: str) -> bytes | None:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _hex_digest(text: str) -> bytes | None:
    if len(text) != 2 * _DIGEST_BYTES or not set(text) <= _HEX_DIGITS:
        return None
    return bytes.fromhex(text)


def _base64_digest(text: str) -> bytes | None:
    if len(text) != 44 or not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _DIGEST_BYTES else None


def _utf8_keys(secrets: Sequence[str]) -> list[tuple[int, bytes]]:
    keys = []
    for index, secret in enumerate(secrets):
        key = _utf8(secret) if isinstance(secret, str) else None
        if key:
            keys.append((index, key))
    return keys


def _standard_key(secret: str) -> bytes | None:
    """The key the Standard Webhooks libraries use: the base64 decoding of the secret, with
    or without ``whsec_``; an unprefixed secret that is not base64 is used as its bytes."""
    if not secret.startswith(_WHSEC):
        try:
            return base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True) \
                or _utf8(secret)
        except (binascii.Error, ValueError):
            return _utf8(secret)
    encoded = secret[len(_WHSEC):]
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _standard_keys(secrets: Sequence[str]) -> list[tuple[int, bytes]]:
    keys = []
    for index, secret in enumerate(secrets):
        key = _standard_key(secret) if isinstance(secret, str) else None
        if key:
            keys.append((index, key))
    return keys


def _check_time(delivery: _Delivery, auth: Auth, value: str, header: str) -> None:
    if not (value.isascii() and value.isdigit()) or len(value) > _MAX_TIMESTAMP_DIGITS:
        raise _Reject("malformed_header", f"{header} is not a Unix timestamp in seconds")
    _check_age(delivery, auth, int(value), header)


def _check_rfc3339(delivery: _Delivery, auth: Auth, value: str, header: str) -> None:
    """An RFC 3339 date-time (Twitch sends nanoseconds: ``2023-07-19T14:56:51.634234626Z``)."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise _Reject("malformed_header", f"{header} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if int(second) > 60:  # 60: a leap second
        raise _Reject("malformed_header", f"{header} is not a valid date-time")
    try:
        offset = (UTC if zone in ("Z", "z") else timezone(
            (-1 if zone[0] == "-" else 1) * timedelta(hours=int(zone[1:3]),
                                                      minutes=int(zone[4:6]))))
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute),
                          min(int(second), 59), tzinfo=offset)
    except ValueError:
        raise _Reject("malformed_header", f"{header} is not a valid date-time") from None
    seconds = moment.timestamp() + (int(second) > 59) + float(f"0.{fraction or 0}")
    _check_age(delivery, auth, seconds, header)


def _check_age(delivery: _Delivery, auth: Auth, signed_at: float, header: str) -> None:
    if not math.isfinite(delivery.now):
        raise _Reject("stale_timestamp", "the server clock is unusable; timestamps are unchecked")
    tolerance = auth.tolerance_seconds or _DEFAULT_TOLERANCES.get(
        auth.type, _DEFAULT_TOLERANCE_SECONDS)
    age = delivery.now - signed_at
    if age > tolerance:
        raise _Reject(
            "stale_timestamp",
            f"{header} is {int(age)} s old; at most {tolerance} s is accepted (a replay?)",
        )
    if -age > tolerance:
        raise _Reject(
            "future_timestamp",
            f"{header} is {int(-age)} s in the future; at most {tolerance} s is accepted "
            "(check the sender's clock)",
        )


def _match(
    header: str,
    candidates: Sequence[bytes],
    keys: Sequence[tuple[int, bytes]],
    delivery: _Delivery,
    *parts: bytes,
) -> str:
    """Compare every candidate with the HMAC of ``parts`` under every key, in constant time."""
    if not keys:
        raise _Reject(
            "bad_signature", "no usable secret is configured for this inbound webhook"
        )
    found: int | None = None
    for index, key in keys:
        mac = hmac.new(key, digestmod=hashlib.sha256)
        for part in parts:
            mac.update(part)
        expected = mac.digest()
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate) and found is None:
                found = index
    if found is None:
        raise _Reject(
            "bad_signature", f"{header} does not match the body signed with any current secret"
        )
    delivery.matched.append(found)
    return f"{header} verified with secret {found + 1} of {len(delivery.secrets)}"


def _candidates(entries: Sequence[str], parse: Callable[[str], bytes | None]) -> list[bytes]:
    found = []
    for entry in entries:
        digest = parse(entry)
        if digest is not None:
            found.append(digest)
            if len(found) == _MAX_SIGNATURES:
                break
    return found


def _after(prefix: str, parse: Callable[[str], bytes | None]) -> Callable[[str], bytes | None]:
    def parse_prefixed(entry: str) -> bytes | None:
        return parse(entry[len(prefix):]) if entry.startswith(prefix) else None

    return parse_prefixed


# --------------------------------------------------------------------------- schemes


def _hmac(auth: Auth, delivery: _Delivery) -> str:
    header = auth.header or _DEFAULT_HMAC_HEADER
    value = delivery.require(header)
    prefix = b""
    if auth.timestamp_header is not None:  # opt-in: the signature covers "{t}.{body}"
        timestamp = delivery.require(auth.timestamp_header)
        _check_time(delivery, auth, timestamp, auth.timestamp_header)
        prefix = f"{timestamp}.".encode()
    return _body_hmac(header, value, auth.encoding or "hex", delivery, prefix)


def _body_hmac(header: str, value: str, encoding: str, delivery: _Delivery,
               prefix: bytes = b"") -> str:
    """HMAC-SHA256 of ``prefix + body`` keyed with the secret text, in ``header``'s value."""
    digest = _base64_digest if encoding == "base64" else _hex_digest

    def parse(entry: str) -> bytes | None:
        if entry.startswith("sha256="):
            return digest(entry[len("sha256="):])
        return None if encoding == "sha256=" else digest(entry)

    candidates = _candidates(value.split(), parse)
    if not candidates:
        shape = {
            "hex": "[sha256=]<64 hex digits>",
            "sha256=": "sha256=<64 hex digits>",
            "base64": "[sha256=]<base64 of 32 bytes>",
        }[encoding]
        raise _Reject("malformed_header", f"{header} is not '{shape}'")
    keys = _utf8_keys(delivery.secrets)
    return _match(header, candidates, keys, delivery, prefix, delivery.body)


def _static_header(auth: Auth, delivery: _Delivery) -> str:
    header = auth.header or ""
    value = _utf8(delivery.require(header))
    if value is None:
        raise _Reject("malformed_header", f"header {header} is not valid text")
    given = hashlib.sha256(value).digest()
    found: int | None = None
    for index, key in _utf8_keys(delivery.secrets):
        if hmac.compare_digest(given, hashlib.sha256(key).digest()) and found is None:
            found = index
    if found is None:
        raise _Reject("bad_token", f"header {header} does not hold a current secret")
    return f"{header} matched secret {found + 1} of {len(delivery.secrets)}"


def _bearer(auth: Auth, delivery: _Delivery) -> str:
    scheme, _, token = delivery.require("Authorization").partition(" ")
    token = token.strip()
    raw = _utf8(token)
    if scheme.lower() != "bearer" or not token or raw is None or any(c.isspace() for c in token):
        raise _Reject("malformed_header", "Authorization is not 'Bearer <token>'")
    given = hashlib.sha256(raw).digest()
    matched = False
    for stored in delivery.token_hashes:
        expected = _hex_digest(stored.strip()) if isinstance(stored, str) else None
        if expected is not None and hmac.compare_digest(given, expected):
            matched = True
    if not matched:
        raise _Reject("bad_token", "the bearer token is not a current token of this webhook")
    if auth.signature is None:
        return "bearer token matched"
    # both are required when both are configured: a valid token never excuses a forged body
    header = auth.signature.header
    signed = _body_hmac(header, delivery.require(header), auth.signature.encoding, delivery)
    return f"bearer token matched; {signed}"


def _standard_webhooks(auth: Auth, delivery: _Delivery) -> str:
    message_id = delivery.require("webhook-id")
    timestamp = delivery.require("webhook-timestamp")
    signature = delivery.require("webhook-signature")

    def parse(entry: str) -> bytes | None:
        version, comma, value = entry.partition(",")
        return _base64_digest(value) if comma and version == "v1" else None

    candidates = _candidates(signature.split(), parse)
    prefix = _utf8(f"{message_id}.{timestamp}.")
    if prefix is None:
        raise _Reject("malformed_header", "webhook-id is not valid text")
    if not candidates:
        raise _Reject("malformed_header", "webhook-signature has no 'v1,<base64>' signature")
    _check_time(delivery, auth, timestamp, "webhook-timestamp")
    keys = _standard_keys(delivery.secrets)
    return _match(
        "webhook-signature", candidates, keys, delivery, prefix, delivery.body
    )


def _github(auth: Auth, delivery: _Delivery) -> str:
    header = "X-Hub-Signature-256"
    candidates = _candidates([delivery.require(header)], _after("sha256=", _hex_digest))
    if not candidates:
        raise _Reject("malformed_header", f"{header} is not 'sha256=<64 hex digits>'")
    keys = _utf8_keys(delivery.secrets)
    return _match(header, candidates, keys, delivery, delivery.body)


def _stripe(auth: Auth, delivery: _Delivery) -> str:
    header = "Stripe-Signature"
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in delivery.require(header).split(","):
        key, equals, value = item.strip().partition("=")
        if equals and key == "t":
            timestamps.append(value)
        elif equals and key == "v1":
            signatures.append(value)
    if len(timestamps) != 1:
        raise _Reject("malformed_header", f"{header} needs exactly one 't=<unix timestamp>'")
    candidates = _candidates(signatures, _hex_digest)
    if not candidates:
        raise _Reject("malformed_header", f"{header} has no 'v1=<64 hex digits>' signature")
    _check_time(delivery, auth, timestamps[0], f"{header} t")
    keys = _utf8_keys(delivery.secrets)
    prefix = f"{timestamps[0]}.".encode()
    return _match(header, candidates, keys, delivery, prefix, delivery.body)


def _slack(auth: Auth, delivery: _Delivery) -> str:
    header = "X-Slack-Signature"
    signature = delivery.require(header)
    timestamp = delivery.require("X-Slack-Request-Timestamp")
    candidates = _candidates([signature], _after("v0=", _hex_digest))
    if not candidates:
        raise _Reject("malformed_header", f"{header} is not 'v0=<64 hex digits>'")
    _check_time(delivery, auth, timestamp, "X-Slack-Request-Timestamp")
    keys = _utf8_keys(delivery.secrets)
    prefix = f"v0:{timestamp}:".encode()
    return _match(header, candidates, keys, delivery, prefix, delivery.body)


def _shopify(auth: Auth, delivery: _Delivery) -> str:
    header = "X-Shopify-Hmac-Sha256"
    candidates = _candidates([delivery.require(header)], _base64_digest)
    if not candidates:
        raise _Reject("malformed_header", f"{header} is not the base64 of a SHA-256 HMAC")
    keys = _utf8_keys(delivery.secrets)
    return _match(header, candidates, keys, delivery, delivery.body)


def _pagerduty(auth: Auth, delivery: _Delivery) -> str:
    header = "X-PagerDuty-Signature"
    entries = [item.strip() for item in delivery.require(header).split(",")]
    candidates = _candidates(entries, _after("v1=", _hex_digest))
    if not candidates:
        raise _Reject("malformed_header", f"{header} has no 'v1=<64 hex digits>' signature")
    keys = _utf8_keys(delivery.secrets)
    return _match(header, candidates, keys, delivery, delivery.body)


def _zoom(auth: Auth, delivery: _Delivery) -> str:
    # developers.zoom.us "Verify webhook events": "v0=" + hex HMAC-SHA256 of
    # "v0:{x-zm-request-timestamp}:{body}", keyed with the app's Secret Token
    header = "x-zm-signature"
    signature = delivery.require(header)
    timestamp = delivery.require("x-zm-request-timestamp")
    candidates = _candidates([signature], _after("v0=", _hex_digest))
    if not candidates:
        raise _Reject("malformed_header", f"{header} is not 'v0=<64 hex digits>'")
    _check_time(delivery, auth, timestamp, "x-zm-request-timestamp")
    keys = _utf8_keys(delivery.secrets)
    prefix = f"v0:{timestamp}:".encode()
    return _match(header, candidates, keys, delivery, prefix, delivery.body)


def _twitch(auth: Auth, delivery: _Delivery) -> str:
    # dev.twitch.tv "Verifying the event message": "sha256=" + hex HMAC-SHA256 of
    # message id + timestamp + body; refuse a timestamp older than 10 minutes
    header = "Twitch-Eventsub-Message-Signature"
    signature = delivery.require(header)
    message_id = delivery.require("Twitch-Eventsub-Message-Id")
    timestamp = delivery.require("Twitch-Eventsub-Message-Timestamp")
    candidates = _candidates([signature], _after("sha256=", _hex_digest))
    if not candidates:
        raise _Reject("malformed_header", f"{header} is not 'sha256=<64 hex digits>'")
    prefix = _utf8(message_id + timestamp)
    if prefix is None:
        raise _Reject("malformed_header", "Twitch-Eventsub-Message-Id is not valid text")
    _check_rfc3339(delivery, auth, timestamp, "Twitch-Eventsub-Message-Timestamp")
    keys = _utf8_keys(delivery.secrets)
    return _match(header, candidates, keys, delivery, prefix, delivery.body)


_SCHEMES: dict[str, Callable[[Auth, _Delivery], str]] = {
    "hmac": _hmac,
    "static_header": _static_header,
    "bearer": _bearer,
    "standard_webhooks": _standard_webhooks,
    "github": _github,
    "stripe": _stripe,
    "slack": _slack,
    "shopify": _shopify,
    "pagerduty": _pagerduty,
    "zoom": _zoom,
    "twitch": _twitch,
}


def _delivery_id(auth_type: str, delivery: _Delivery) -> str | None:
    for name in _DELIVERY_ID_HEADERS.get(auth_type, ()):
        value = delivery.headers.get(name, "")
        if value is _CONFLICTING:  # which line is the id is unknowable: no de-duplication
            return None
        value = value.strip()
        if value and len(value) <= _MAX_HEADER_CHARS:
            return value
    return None
