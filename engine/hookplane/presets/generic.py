"""The generic schemes: ``hmac`` (the default), ``static_header``, ``bearer`` and
``standard_webhooks`` (with ``svix``, the same scheme under Svix's header names)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac as _hmac
from collections.abc import Callable, Sequence

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    Reject,
    base64_digest,
    candidates,
    check_time,
    hex_digest,
    match,
    utf8,
    utf8_keys,
)

DEFAULT_HMAC_HEADER = "X-Hookplane-Signature"
_WHSEC = "whsec_"


def body_hmac(header: str, value: str, encoding: str, delivery: Delivery,
              prefix: bytes = b"") -> str:
    """HMAC-SHA256 of ``prefix + body`` keyed with the secret text, in ``header``'s value."""
    digest = base64_digest if encoding == "base64" else hex_digest

    def parse(entry: str) -> bytes | None:
        if entry.startswith("sha256="):
            return digest(entry[len("sha256="):])
        return None if encoding == "sha256=" else digest(entry)

    found = candidates(value.split(), parse)
    if not found:
        shape = {
            "hex": "[sha256=]<64 hex digits>",
            "sha256=": "sha256=<64 hex digits>",
            "base64": "[sha256=]<base64 of 32 bytes>",
        }[encoding]
        raise Reject("malformed_header", f"{header} is not '{shape}'")
    return match(header, found, utf8_keys(delivery.secrets), delivery, prefix, delivery.body)


def _verify_hmac(auth: AuthOptions, delivery: Delivery) -> str:
    header = auth.header or DEFAULT_HMAC_HEADER
    value = delivery.require(header)
    prefix = b""
    if auth.timestamp_header is not None:  # opt-in: the signature covers "{t}.{body}"
        timestamp = delivery.require(auth.timestamp_header)
        check_time(delivery, auth, timestamp, auth.timestamp_header, 300)
        prefix = f"{timestamp}.".encode()
    return body_hmac(header, value, auth.encoding or "hex", delivery, prefix)


def _sign_hmac(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    digest = _hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {DEFAULT_HMAC_HEADER: f"sha256={digest}"}, body


def _verify_static(auth: AuthOptions, delivery: Delivery) -> str:
    header = auth.header or ""
    value = utf8(delivery.require(header))
    if value is None:
        raise Reject("malformed_header", f"header {header} is not valid text")
    given = hashlib.sha256(value).digest()
    found: int | None = None
    for index, key in utf8_keys(delivery.secrets):
        if _hmac.compare_digest(given, hashlib.sha256(key).digest()) and found is None:
            found = index
    if found is None:
        raise Reject("bad_token", f"header {header} does not hold a current secret")
    delivery.matched.append(found)
    return f"{header} matched secret {found + 1} of {len(delivery.secrets)}"


def _verify_bearer(auth: AuthOptions, delivery: Delivery) -> str:
    scheme, _, token = delivery.require("Authorization").partition(" ")
    token = token.strip()
    raw = utf8(token)
    if scheme.lower() != "bearer" or not token or raw is None or any(c.isspace() for c in token):
        raise Reject("malformed_header", "Authorization is not 'Bearer <token>'")
    given = hashlib.sha256(raw).digest()
    matched = False
    for stored in delivery.token_hashes:
        expected = hex_digest(stored.strip()) if isinstance(stored, str) else None
        if expected is not None and _hmac.compare_digest(given, expected):
            matched = True
    if not matched:
        raise Reject("bad_token", "the bearer token is not a current token of this webhook")
    if auth.signature is None:
        return "bearer token matched"
    # both are required when both are configured: a valid token never excuses a forged body
    header = auth.signature.header
    signed = body_hmac(header, delivery.require(header), auth.signature.encoding, delivery)
    return f"bearer token matched; {signed}"


def standard_key(secret: str) -> bytes | None:
    """The key the Standard Webhooks libraries use: the base64 decoding of the secret, with
    or without ``whsec_``; an unprefixed secret that is not base64 is used as its bytes."""
    if not secret.startswith(_WHSEC):
        try:
            return base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True) \
                or utf8(secret)
        except (binascii.Error, ValueError):
            return utf8(secret)
    encoded = secret[len(_WHSEC):]
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def check_standard_secret(secret: str) -> str | None:
    """A ``whsec_`` secret must be base64 after the prefix, of at least one byte: the
    libraries decode it (and refuse an empty key)."""
    if secret.startswith(_WHSEC) and not standard_key(secret):
        return ("starts with 'whsec_' but is not valid base64 after it, so no Standard "
                "Webhooks library could use it")
    return None


def _standard_keys(secrets: Sequence[str]) -> list[tuple[int, bytes]]:
    keys = []
    for index, secret in enumerate(secrets):
        key = standard_key(secret) if isinstance(secret, str) else None
        if key:
            keys.append((index, key))
    return keys


def _standard(prefix_: str) -> tuple[Callable[[AuthOptions, Delivery], str],
                                    Callable[[bytes, str, float, str],
                                             tuple[dict[str, str], bytes]]]:
    id_header, ts_header, sig_header = (f"{prefix_}-id", f"{prefix_}-timestamp",
                                        f"{prefix_}-signature")

    def verify(auth: AuthOptions, delivery: Delivery) -> str:
        message_id = delivery.require(id_header)
        timestamp = delivery.require(ts_header)
        signature = delivery.require(sig_header)

        def parse(entry: str) -> bytes | None:
            version, comma, value = entry.partition(",")
            return base64_digest(value) if comma and version == "v1" else None

        found = candidates(signature.split(), parse)
        prefix = utf8(f"{message_id}.{timestamp}.")
        if prefix is None:
            raise Reject("malformed_header", f"{id_header} is not valid text")
        if not found:
            raise Reject("malformed_header", f"{sig_header} has no 'v1,<base64>' signature")
        check_time(delivery, auth, timestamp, ts_header, 300)
        return match(sig_header, found, _standard_keys(delivery.secrets), delivery, prefix,
                     delivery.body)

    def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
        message_id = "msg_" + hashlib.sha256(body + str(now).encode()).hexdigest()[:24]
        timestamp = str(int(now))
        key = standard_key(secret) or b""
        mac = _hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
        return {id_header: message_id, ts_header: timestamp,
                sig_header: "v1," + base64.b64encode(mac.digest()).decode()}, body

    return verify, sign


_verify_standard, _sign_standard = _standard("webhook")
_verify_svix, _sign_svix = _standard("svix")

HMAC = Preset(
    name="hmac", title="Generic HMAC", verify=_verify_hmac, sign=_sign_hmac,
    scheme="`auth.header` (default `X-Hookplane-Signature`): hex HMAC-SHA256 of the body, "
           "`sha256=` optional; `encoding: base64`; with `timestamp_header` it covers "
           "`{timestamp}.{body}`",
    delivery_id_headers=("x-webhook-id", "webhook-id"),
    replay="a signed timestamp with `timestamp_header`; none without",
    options=frozenset({"header", "encoding", "timestamp_header", "tolerance_seconds"}),
    docs=Docs(dashboard="Give the sender the ingest URL and the secret "
                        "(`hookplane inbound-webhooks get ENV NAME --show-secret`).",
              sample={"event": "order.created", "order": {"id": "ord_1", "total": 12.5}}),
)
STATIC_HEADER = Preset(
    name="static_header", title="Static header", verify=_verify_static, signs_body=False,
    scheme="`auth.header` equal to the secret",
    replay="none (the same header every time)",
    options=frozenset({"header"}), required=frozenset({"header"}),
)
BEARER = Preset(
    name="bearer", title="Bearer token", verify=_verify_bearer, secret="token",
    scheme="`Authorization: Bearer hpt_…` (stored as a hash); with `signature: {}` also "
           "`X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the body>`",
    credential_headers=("authorization",),
    replay="none",
    options=frozenset({"signature"}),
)
STANDARD_WEBHOOKS = Preset(
    name="standard_webhooks", title="Standard Webhooks", verify=_verify_standard,
    sign=_sign_standard,
    scheme="`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64>` over "
           "`{id}.{timestamp}.{body}`, key = base64 of the secret (with or without `whsec_`)",
    credential_headers=("webhook-signature",), delivery_id_headers=("webhook-id",),
    timestamped=True, signs_delivery_id=True, replay="signed timestamp and signed id",
    check_secret=check_standard_secret,
    docs=Docs(dashboard="Give the sender the ingest URL and the secret; senders using the "
                        "Standard Webhooks libraries take it as is (`whsec_…`).",
              sample={"type": "invoice.paid", "data": {"id": "inv_1", "amount": 1200}}),
)
SVIX = Preset(
    name="svix", title="Svix (Clerk, Resend, and other Svix senders)", verify=_verify_svix,
    sign=_sign_svix, secret="provider", secret_env="SVIX_WEBHOOK_SECRET",
    scheme="`svix-id`, `svix-timestamp`, `svix-signature: v1,<base64>` over "
           "`{id}.{timestamp}.{body}`, key = base64 of the `whsec_…` secret",
    credential_headers=("svix-signature",), delivery_id_headers=("svix-id",),
    timestamped=True, signs_delivery_id=True, replay="signed timestamp and signed id",
    check_secret=check_standard_secret,
    docs=Docs(dashboard="In the sender's webhook settings (Clerk: *Webhooks*, Resend: "
                        "*Webhooks*), add an endpoint with the ingest URL and copy its "
                        "*Signing Secret* (`whsec_…`) into the environment variable.",
              sample={"type": "user.created", "data": {"id": "user_29w83sxmDNGwOuEthce5gg56FcC",
                                                       "first_name": "Ada"}}),
)
PRESETS = (HMAC, STATIC_HEADER, BEARER, STANDARD_WEBHOOKS, SVIX)
