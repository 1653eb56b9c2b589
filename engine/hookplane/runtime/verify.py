"""Inbound webhook verification: pure functions over the headers, raw body and secrets.

:func:`verify` checks one delivery against an inbound webhook's :class:`~hookplane.config.
models.Auth` and answers with a :class:`VerifyResult`; it never raises, whatever the input.
Each ``auth.type`` is a preset of :mod:`hookplane.presets` (one module per provider, each
implemented the way its sender documents it; ``docs/reference/providers.md`` lists them).

Except for ``standard_webhooks``/``svix`` the HMAC key is the secret's UTF-8 bytes, used as
is (a Stripe ``whsec_…`` secret is not decoded). All secrets in ``secrets`` are tried (a
rotation grace period has two); every comparison is constant-time over digests of the raw
body bytes. Timestamped schemes accept ``auth.tolerance_seconds`` (default: the provider's
documented window, else 300) in both directions and check the timestamp before any HMAC is
computed. Work is bounded: a header over 8 KiB (8192 characters) is malformed and at most 10
signatures of one header are tried.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hookplane.config.models import Auth
from hookplane.presets import PRESETS, Delivery, Preset, Reject
from hookplane.presets._kit import CONFLICTING, MAX_HEADER_CHARS, normalise
from hookplane.presets.generic import DEFAULT_HMAC_HEADER

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
    url: str | None = None,
    method: str = "POST",
) -> VerifyResult:
    """Check one inbound delivery; passes when any of ``secrets`` (or ``token_hashes``) fits.

    ``headers`` is any mapping (names are matched case-insensitively), ``body`` the raw bytes
    as received, ``secrets`` every currently valid secret (new and old during a rotation),
    ``token_hashes`` the SHA-256 hex digests of valid bearer tokens, ``now`` the current Unix
    time (injected by tests), ``url`` the URL the sender called as it sees it (for presets
    that sign it, e.g. Twilio, Square, HubSpot). Never raises.
    """
    try:
        delivery = Delivery(
            headers=normalise(headers),
            body=body if isinstance(body, bytes) else bytes(body),
            secrets=tuple(secrets),
            token_hashes=tuple(token_hashes),
            now=time.time() if now is None else float(now),
            url=url,
            method=method,
        )
        preset = PRESETS.get(auth.type)
        if preset is None:
            return VerifyResult(False, "bad_signature", f"auth type '{auth.type}' is unknown")
        detail = preset.verify(auth, delivery)
        delivery_id = _delivery_id(preset, delivery)
    except Reject as reject:
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
    return body_delivery_id(auth_type="stripe", payload=document)


def body_delivery_id(*, auth_type: str, payload: Any) -> str | None:
    """The provider's delivery id carried in the parsed body (Stripe's event id, Paddle's
    notification id, Mailgun's token…), or None (never raises)."""
    preset = PRESETS.get(auth_type)
    if preset is None or preset.body_delivery_id is None:
        return None
    try:
        return preset.body_delivery_id(payload)
    except Exception:  # a preset's reader must never fail a delivery
        return None


def secret_header_names(auth: Auth) -> frozenset[str]:
    """Lower-case names of the headers that carry this scheme's credentials."""
    if auth.type in ("hmac", "static_header"):
        return frozenset({(auth.header or DEFAULT_HMAC_HEADER).lower()})
    preset = PRESETS.get(auth.type)
    names = frozenset(preset.credential_headers if preset is not None else ())
    if auth.signature is not None:
        names |= {auth.signature.header.lower()}
    return names


def redact_headers(headers: Mapping[str, str], auth: Auth) -> dict[str, str]:
    """A copy of ``headers`` with every credential value replaced by ``"[redacted]"``."""
    hidden = SENSITIVE_HEADERS | secret_header_names(auth)
    return {name: REDACTED if name.lower() in hidden else value for name, value in headers.items()}


# --------------------------------------------------------------------------- internals


def _delivery_id(preset: Preset, delivery: Delivery) -> str | None:
    for name in preset.delivery_id_headers:
        value = delivery.headers.get(name, "")
        if value is CONFLICTING:  # which line is the id is unknowable: no de-duplication
            return None
        value = value.strip()
        if value and len(value) <= MAX_HEADER_CHARS:
            return value
    return None
