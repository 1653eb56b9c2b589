"""The inbound presets: one module per provider, each a :class:`Preset` (verification,
handshake, delivery id, replay window, who issues the secret, body encodings, docs).

This package is the one place a provider lives. The configuration (``auth.type``'s values,
which options each accepts, which need a provider-issued secret), the JSON Schema, the
runtime's verification and handshakes, and ``docs/reference/providers.md`` all read
:data:`PRESETS`. Adding a provider is a module here, one line in ``_MODULES``, its tests
and a sample. Pure: standard library and ``cryptography``; no I/O.
"""

from __future__ import annotations

from hookplane.presets import (
    bitbucket,
    discord,
    dropbox,
    generic,
    github,
    gitlab,
    hubspot,
    intercom,
    linear,
    mailgun,
    meta,
    msgraph,
    paddle,
    pagerduty,
    sendgrid,
    shopify,
    slack,
    square,
    stripe,
    twilio,
    twitch,
    typeform,
    zendesk,
    zoom,
)
from hookplane.presets._kit import (
    Answer,
    AuthOptions,
    Delivery,
    Docs,
    Handshake,
    Preset,
    Reject,
)

_PROVIDERS = (github, gitlab, bitbucket, stripe, paddle, shopify, square, slack, discord,
              zoom, twitch, meta, twilio, sendgrid, mailgun, pagerduty, zendesk, intercom,
              hubspot, linear, typeform, dropbox, msgraph)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (*generic.PRESETS, *(module.PRESET for module in _PROVIDERS))
}
"""Every ``auth.type``, generic schemes first, then providers."""

AUTH_TYPES: tuple[str, ...] = tuple(PRESETS)
GENERIC: tuple[str, ...] = tuple(preset.name for preset in generic.PRESETS)
PROVIDERS: tuple[str, ...] = tuple(module.PRESET.name for module in _PROVIDERS)
TIMESTAMPED: tuple[str, ...] = tuple(name for name, p in PRESETS.items() if p.timestamped)
"""Auth types whose signature covers a timestamp of their own (``tolerance_seconds``)."""
PROVIDER_ISSUED_SECRET: tuple[str, ...] = tuple(
    name for name, p in PRESETS.items() if p.secret == "provider")
"""Presets whose provider generates the secret: ``auth.secret: ${env:…}`` is required."""
NO_SECRET: tuple[str, ...] = tuple(name for name, p in PRESETS.items() if p.secret == "none")
"""Presets verified with a public key (``auth.public_key``): no secret at all."""
FORM_BODIES: frozenset[str] = frozenset(name for name, p in PRESETS.items() if p.form_bodies)
SIGNS_URL: tuple[str, ...] = tuple(name for name, p in PRESETS.items() if p.signs_url)
OPTIONS: tuple[str, ...] = ("header", "encoding", "signature", "timestamp_header",
                            "public_key", "verify_token")
"""The ``auth`` fields only some types accept (each preset lists its own)."""


def get(name: str) -> Preset | None:
    return PRESETS.get(name)


__all__ = [
    "AUTH_TYPES", "FORM_BODIES", "GENERIC", "NO_SECRET", "OPTIONS", "PRESETS",
    "PROVIDERS", "PROVIDER_ISSUED_SECRET", "SIGNS_URL", "TIMESTAMPED", "Answer",
    "AuthOptions", "Delivery", "Docs", "Handshake", "Preset", "Reject", "get",
]
