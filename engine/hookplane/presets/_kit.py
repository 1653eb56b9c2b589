"""The parts every preset is built from: the request under check, the rejection, digests,
constant-time matching, timestamp windows, and what a preset is.

Pure (standard library only, plus ``cryptography`` for the public-key schemes in their own
modules): no I/O, no Litestar, no configuration models. A preset reads the webhook's
``auth`` options through :class:`AuthOptions`, which the configuration model satisfies.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, Protocol

MAX_HEADER_CHARS = 8 * 1024
MAX_SIGNATURES = 10
MAX_TIMESTAMP_DIGITS = 15
MAX_ID_CHARS = 255
MAX_TOKEN_CHARS = 1024
"""Longest challenge echoed back by a handshake (providers send a few dozen characters)."""
DEFAULT_TOLERANCE_SECONDS = 300
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"([Zz]|[+-]\d{2}:\d{2})", re.ASCII)


class SignatureOptions(Protocol):
    @property
    def header(self) -> str: ...
    @property
    def encoding(self) -> str: ...


class AuthOptions(Protocol):
    """The ``auth`` block of an inbound webhook, as presets read it."""

    @property
    def type(self) -> str: ...
    @property
    def header(self) -> str | None: ...
    @property
    def encoding(self) -> str | None: ...
    @property
    def tolerance_seconds(self) -> int | None: ...
    @property
    def signature(self) -> SignatureOptions | None: ...
    @property
    def timestamp_header(self) -> str | None: ...
    @property
    def public_key(self) -> str | None: ...
    @property
    def verify_token(self) -> str | None: ...


class Reject(Exception):
    """Why a delivery does not verify: ``reason`` is machine-readable (``missing_header``,
    ``malformed_header``, ``bad_signature``, ``stale_timestamp``, ``future_timestamp``,
    ``bad_token``), ``detail`` for people — never a secret or an expected signature."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


CONFLICTING = "\x00conflicting\x00"
"""Stands for a header sent on several lines with different values (never a real value:
header values cannot hold NUL)."""


def normalise(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names; every field line counts (a multi-dict's ``items()`` yields each):
    a name repeated with the same value is that value, with different values
    :data:`CONFLICTING`."""
    normal: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(name, str) and isinstance(value, str):
            key = name.lower()
            seen = normal.setdefault(key, value)
            if seen != value:
                normal[key] = CONFLICTING
    return normal


@dataclass(frozen=True)
class Delivery:
    """One request under check. ``url`` is the URL the sender signed (the public base URL
    plus the request's path and query) for the presets that sign it, else None."""

    headers: dict[str, str]
    body: bytes
    secrets: tuple[str, ...]
    token_hashes: tuple[str, ...] = ()
    now: float = 0.0
    url: str | None = None
    method: str = "POST"
    matched: list[int] = field(default_factory=list)
    """Index of the secret each check matched (filled in by :func:`match`)."""

    def header(self, name: str) -> str | None:
        """The stripped value of header ``name``; None when absent or empty. A header sent
        on several lines with different values is refused: which line a proxy or framework
        keeps differs, so a forged first line must not decide (RFC 9110 §5.3)."""
        value = self.headers.get(name.lower())
        if value is None:
            return None
        if value is CONFLICTING:
            raise Reject("malformed_header",
                         f"header {name} is sent more than once with different values")
        if len(value) > MAX_HEADER_CHARS:
            raise Reject("malformed_header", f"header {name} is longer than 8 KiB")
        return value.strip() or None

    def require(self, name: str) -> str:
        value = self.header(name)
        if value is None:
            raise Reject("missing_header", f"header {name} is missing")
        return value

    def json(self) -> Any:
        """The body as JSON (for presets that sign or carry values inside it)."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise Reject("malformed_header", "the body is not JSON") from None

    def require_url(self) -> str:
        if not self.url:
            raise Reject("bad_signature", "this provider signs the URL it calls, and the "
                         "server's public URL is unknown: set HOOKPLANE_PUBLIC_URL")
        return self.url


def utf8(text: str) -> bytes | None:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def hex_digest(text: str, size: int = 32) -> bytes | None:
    if len(text) != 2 * size or not set(text) <= _HEX_DIGITS:
        return None
    return bytes.fromhex(text)


def base64_digest(text: str, size: int = 32) -> bytes | None:
    if len(text) != 4 * math.ceil(size / 3) or not text.isascii():
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


def sha1_hex(text: str) -> bytes | None:
    return hex_digest(text, 20)


def sha1_base64(text: str) -> bytes | None:
    return base64_digest(text, 20)


def utf8_keys(secrets: Sequence[str]) -> list[tuple[int, bytes]]:
    keys = []
    for index, secret in enumerate(secrets):
        key = utf8(secret) if isinstance(secret, str) else None
        if key:
            keys.append((index, key))
    return keys


def check_time(delivery: Delivery, auth: AuthOptions, value: str, header: str,
               default: int, *, milliseconds: bool = False) -> None:
    """``value`` is a Unix time in seconds (or milliseconds) within the tolerance."""
    if not (value.isascii() and value.isdigit()) or len(value) > MAX_TIMESTAMP_DIGITS:
        unit = "milliseconds" if milliseconds else "seconds"
        raise Reject("malformed_header", f"{header} is not a Unix timestamp in {unit}")
    check_age(delivery, auth, int(value) / (1000 if milliseconds else 1), header, default)


def check_rfc3339(delivery: Delivery, auth: AuthOptions, value: str, header: str,
                  default: int) -> None:
    """An RFC 3339 date-time (Twitch sends nanoseconds: ``2023-07-19T14:56:51.634234626Z``)."""
    match_ = _RFC3339.fullmatch(value)
    if match_ is None:
        raise Reject("malformed_header", f"{header} is not an RFC 3339 date-time")
    year, month, day, hour, minute, second, fraction, zone = match_.groups()
    if int(second) > 60:  # 60: a leap second
        raise Reject("malformed_header", f"{header} is not a valid date-time")
    try:
        offset = (UTC if zone in ("Z", "z") else timezone(
            (-1 if zone[0] == "-" else 1) * timedelta(hours=int(zone[1:3]),
                                                      minutes=int(zone[4:6]))))
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute),
                          min(int(second), 59), tzinfo=offset)
    except ValueError:
        raise Reject("malformed_header", f"{header} is not a valid date-time") from None
    seconds = moment.timestamp() + (int(second) > 59) + float(f"0.{fraction or 0}")
    check_age(delivery, auth, seconds, header, default)


def check_age(delivery: Delivery, auth: AuthOptions, signed_at: float, header: str,
              default: int) -> None:
    if not math.isfinite(delivery.now):
        raise Reject("stale_timestamp", "the server clock is unusable; timestamps are unchecked")
    tolerance = auth.tolerance_seconds or default
    age = delivery.now - signed_at
    if age > tolerance:
        raise Reject("stale_timestamp",
                     f"{header} is {int(age)} s old; at most {tolerance} s is accepted "
                     "(a replay?)")
    if -age > tolerance:
        raise Reject("future_timestamp",
                     f"{header} is {int(-age)} s in the future; at most {tolerance} s is "
                     "accepted (check the sender's clock)")


def match(header: str, candidates: Sequence[bytes], keys: Sequence[tuple[int, bytes]],
          delivery: Delivery, *parts: bytes,
          algorithm: Callable[[], Any] = hashlib.sha256) -> str:
    """Compare every candidate with the HMAC of ``parts`` under every key, in constant time."""
    if not keys:
        raise Reject("bad_signature", "no usable secret is configured for this inbound webhook")
    found: int | None = None
    for index, key in keys:
        mac = hmac.new(key, digestmod=algorithm)
        for part in parts:
            mac.update(part)
        expected = mac.digest()
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate) and found is None:
                found = index
    if found is None:
        raise Reject("bad_signature",
                     f"{header} does not match the body signed with any current secret")
    delivery.matched.append(found)
    return f"{header} verified with secret {found + 1} of {len(delivery.secrets)}"


def candidates(entries: Sequence[str], parse: Callable[[str], bytes | None]) -> list[bytes]:
    found = []
    for entry in entries:
        digest = parse(entry)
        if digest is not None:
            found.append(digest)
            if len(found) == MAX_SIGNATURES:
                break
    return found


def after(prefix: str, parse: Callable[[str], bytes | None]) -> Callable[[str], bytes | None]:
    def parse_prefixed(entry: str) -> bytes | None:
        return parse(entry[len(prefix):]) if entry.startswith(prefix) else None

    return parse_prefixed


def parsed(header: str, delivery: Delivery, parse: Callable[[str], bytes | None],
           shape: str, entries: Sequence[str] | None = None) -> list[bytes]:
    """The signatures in ``header`` (or ``entries`` taken from it); when there is none the
    request is malformed: "{header} {shape}", e.g. shape ``is not 'v0=<64 hex digits>'``."""
    found = candidates([delivery.require(header)] if entries is None else entries, parse)
    if not found:
        raise Reject("malformed_header", f"{header} {shape}")
    return found


def signed(header: str, delivery: Delivery, parse: Callable[[str], bytes | None],
           shape: str, *parts: bytes, algorithm: Callable[[], Any] = hashlib.sha256,
           entries: Sequence[str] | None = None) -> str:
    """The common case: ``header`` holds one signature (or ``entries`` several) of ``parts``
    keyed with each secret's UTF-8 bytes."""
    found = parsed(header, delivery, parse, shape, entries)
    return match(header, found, utf8_keys(delivery.secrets), delivery, *parts,
                 algorithm=algorithm)


def example_id(body: bytes, now: float) -> str:
    """A delivery id for a simulated delivery, UUID-shaped: each body and moment its own
    (``simulate`` run twice is two deliveries), the same for the same inputs (the docs)."""
    digest = hashlib.sha256(body + repr(now).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def body_field(document: Any, *path: str) -> str | None:
    """A string (or integer) at ``path`` of a parsed body, as text; None when absent."""
    value = document
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS:
        return value
    return None


# --------------------------------------------------------------------------- handshakes


@dataclass(frozen=True)
class Answer:
    """What to answer a handshake with: ``json`` (an object) or ``text`` (``text/plain``),
    or neither for a 204. ``reason`` and ``detail`` go to the inbound delivery log."""

    status: int
    reason: str
    detail: str
    json: dict[str, Any] | None = None
    text: str | None = None


@dataclass(frozen=True)
class Handshake:
    """A request as a handshake sees it. ``payload`` is the parsed body (None for a GET),
    ``secret`` the secret the signature matched (None before verification), ``query`` the
    query string's single-valued parameters."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    payload: Any
    secret: str | None
    auth: AuthOptions


def bad_handshake(detail: str) -> Answer:
    return Answer(400, "bad_handshake", detail, json={"error": detail})


def token(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_CHARS:
        return value
    return None


def single(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value; None when absent or sent on several lines with different values
    (which line a proxy keeps differs: such a request is treated as an ordinary event)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        values = {str(value).strip() for value in getall(name, [])}
    else:
        values = {str(value).strip() for key, value in headers.items()
                  if isinstance(key, str) and key.lower() == name}
    return values.pop() if len(values) == 1 else None


# --------------------------------------------------------------------------- the preset

SecretIssuer = Literal["provider", "either", "token", "none"]
"""Who makes the secret: the ``provider`` (``auth.secret: ${env:…}`` required), ``either``
(Hookplane generates one at apply unless ``auth.secret`` is given), a Hookplane ``token``
(bearer), or ``none`` (the provider signs with a private key: ``auth.public_key``)."""


@dataclass(frozen=True)
class Docs:
    """What the generated provider page says (docs/reference/providers.md)."""

    dashboard: str
    """Where the ingest URL and the secret go in the provider's dashboard."""
    sample: dict[str, Any] | list[Any]
    """A sample event (``hookplane inbound-webhooks simulate`` sends it by default)."""
    handshake: str = ""
    """What the handshake does, when there is one."""
    notes: str = ""


@dataclass(frozen=True)
class Preset:
    """Everything Hookplane knows about one ``auth.type``."""

    name: str
    title: str
    verify: Callable[[AuthOptions, Delivery], str]
    """Raises :class:`Reject`, or answers with a detail for the log."""
    scheme: str
    """One line: what the sender sends (for the docs' table)."""
    sign: Callable[[bytes, str, float, str], tuple[dict[str, str], bytes]] | None = None
    """``(body, secret, now, url) -> (headers, body)`` the way the provider signs
    (``simulate``; Mailgun and Graph put the signature in the body)."""
    signs_with_private_key: bool = False
    """``sign`` takes a private key (a test key pair's), not the webhook's secret."""
    secret: SecretIssuer = "either"
    secret_env: str = ""
    """The environment variable the docs suggest for a provider-issued secret."""
    credential_headers: tuple[str, ...] = ()
    """Lower-case headers carrying credentials (never logged)."""
    delivery_id_headers: tuple[str, ...] = ()
    signs_delivery_id: bool = False
    """The signature covers the delivery-id header (Standard Webhooks, Svix, Twitch)."""
    dedup_on_body: bool = True
    """An unsigned delivery-id header is de-duplicated together with a digest of the body:
    a captured delivery re-sent under another id cannot mark that id seen (which would drop
    the sender's own delivery with it as a duplicate). False where the provider's retries
    re-sign a changed body (Linear's fresh ``webhookTimestamp``): there the id alone is the
    key, and the signed timestamp's short window bounds a replay."""
    ids_shared_by_secret: bool = False
    """The signature binds nothing to one webhook (Mailgun signs a timestamp and a token
    with one key per account, not the event): delivery ids are de-duplicated across every
    webhook and environment verifying with the same secret, so a signature one of them took
    cannot carry another event to another."""
    body_delivery_id: Callable[[Any], str | None] | None = None
    """The provider's delivery id from the parsed body, when it is not in a header."""
    signs_body: bool = True
    """False where the credential does not cover the body (a static token, Graph's
    clientState, Mailgun's token): anyone holding it can send any body."""
    timestamped: bool = False
    tolerance: int = DEFAULT_TOLERANCE_SECONDS
    replay: str = ""
    """How a captured delivery sent again is told apart (docs' replay table)."""
    form_bodies: bool = False
    """The provider may post ``application/x-www-form-urlencoded`` bodies."""
    array_key: str | None = None
    """The provider posts a JSON array of events; it is stored as ``{array_key: [...]}``."""
    signs_url: bool = False
    """The signature covers the URL the provider called (``HOOKPLANE_PUBLIC_URL``)."""
    handshake: Callable[[Handshake], Answer | None] | None = None
    """Answers a verified request that is a handshake (else None: an event)."""
    challenge: Callable[[Handshake], Answer | None] | None = None
    """Answers a request before verification: a handshake the provider does not sign
    (Meta's and Dropbox's GET, Microsoft Graph's validationToken)."""
    options: frozenset[str] = frozenset()
    """``auth`` fields this type accepts beyond ``type``, ``secret`` and (if timestamped)
    ``tolerance_seconds``."""
    required: frozenset[str] = frozenset()
    stored: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    """The verified payload as it is stored, without the credentials the provider puts in
    the body (Graph's ``clientState`` is the secret itself; Mailgun's signature): records
    are read through the API and sent to trigger receivers. Returns a copy; never raises."""
    accepted: Callable[[Any], dict[str, Any] | None] | None = None
    """The JSON to answer a stored event with, when the provider expects a particular
    answer (Discord's deferred interaction response); None keeps Hookplane's own."""
    check_secret: Callable[[str], str | None] | None = None
    """Says what is wrong with a ``${env:}`` secret's value (checked at apply; the value is
    never shown), e.g. a ``whsec_`` secret that is not base64, a Twitch secret too short."""
    check_public_key: Callable[[str], str | None] | None = None
    """Says what is wrong with an ``auth.public_key`` (None when it is usable)."""
    docs: Docs | None = None
