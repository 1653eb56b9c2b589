"""Provider handshakes: verified requests that ask the endpoint to prove itself, not events.

Some providers check an endpoint before (and while) they send it events, with a request that
must be answered in their own way; storing it as a record and answering 201 fails the check.
:func:`answer` recognises them in a delivery that has already verified, and says what to
answer; the ingest service then writes no record and logs the request with the answer's
``reason`` (``handshake``, or ``revocation`` for Twitch's notice that a subscription ended):

=========  ====================================================================================
``slack``  Events API ``{"type": "url_verification", "challenge": …}``: 200
           ``{"challenge": …}`` (api.slack.com/events/url_verification)
``zoom``   ``{"event": "endpoint.url_validation", "payload": {"plainToken": …}}``: 200
           ``{"plainToken": …, "encryptedToken": hex HMAC-SHA256 of plainToken}`` keyed with
           the secret token the request was signed with (developers.zoom.us, "Validate your
           webhook endpoint")
``twitch`` ``Twitch-Eventsub-Message-Type: webhook_callback_verification``: 200 with the raw
           ``challenge`` as ``text/plain``; ``revocation``: 204, no record
           (dev.twitch.tv/docs/eventsub/handling-webhook-events)
=========  ====================================================================================

Every handshake is signed like the provider's events and is only answered once the signature
verified, so a forged one gets 401, never the challenge. Pure: no Litestar, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FORM_BODIES: frozenset[str] = frozenset({"slack"})
"""Auth types whose sender may post ``application/x-www-form-urlencoded`` bodies (Slack's
interactivity and slash commands); every other type accepts JSON only."""

_MAX_TOKEN_CHARS = 1024
"""Longest challenge echoed back (the providers send a few dozen characters)."""


@dataclass(frozen=True)
class Answer:
    """What to answer a handshake with: ``json`` (an object) or ``text`` (``text/plain``),
    or neither for a 204. ``reason`` and ``detail`` go to the inbound delivery log."""

    status: int
    reason: str
    detail: str
    json: dict[str, Any] | None = None
    text: str | None = None


def answer(auth_type: str, *, headers: Mapping[str, str], payload: Any,
           secret: str | None) -> Answer | None:
    """The answer to a verified delivery that is a handshake, or None for an event.

    ``payload`` is the parsed body, ``secret`` the secret the signature matched (Zoom answers
    with an HMAC under it). A handshake missing the value it must echo is a 400.
    """
    if auth_type == "slack":
        return _slack(payload)
    if auth_type == "zoom":
        return _zoom(payload, secret)
    if auth_type == "twitch":
        return _twitch(headers, payload)
    return None


def _bad(detail: str) -> Answer:
    return Answer(400, "bad_handshake", detail, json={"error": detail})


def _token(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= _MAX_TOKEN_CHARS:
        return value
    return None


def _slack(payload: Any) -> Answer | None:
    if not isinstance(payload, dict) or payload.get("type") != "url_verification":
        return None
    challenge = _token(payload.get("challenge"))
    if challenge is None:
        return _bad("url_verification has no 'challenge' string to echo")
    return Answer(200, "handshake", "slack url_verification: challenge echoed",
                  json={"challenge": challenge})


def _zoom(payload: Any, secret: str | None) -> Answer | None:
    if not isinstance(payload, dict) or payload.get("event") != "endpoint.url_validation":
        return None
    inner = payload.get("payload")
    plain = _token(inner.get("plainToken")) if isinstance(inner, dict) else None
    if plain is None:
        return _bad("endpoint.url_validation has no 'payload.plainToken' string")
    if secret is None:  # verified deliveries always carry the secret that matched
        return _bad("no secret is known to answer endpoint.url_validation with")
    encrypted = hmac.new(secret.encode("utf-8"), plain.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    return Answer(200, "handshake", "zoom endpoint.url_validation: plainToken encrypted",
                  json={"plainToken": plain, "encryptedToken": encrypted})


def _twitch(headers: Mapping[str, str], payload: Any) -> Answer | None:
    kind = _single(headers, "twitch-eventsub-message-type")
    if kind not in ("webhook_callback_verification", "revocation"):
        return None  # notification (or a type Twitch adds later): an event
    subscription = payload.get("subscription") if isinstance(payload, dict) else None
    named = ""
    if isinstance(subscription, dict):
        named = "".join(f" {subscription[key][:100]}" for key in ("type", "id")
                        if isinstance(subscription.get(key), str))
    if kind == "revocation":
        status = subscription.get("status") if isinstance(subscription, dict) else None
        return Answer(204, "revocation",
                      f"twitch revoked subscription{named or ' (unnamed)'}: "
                      f"{str(status)[:100] if isinstance(status, str) else 'no status given'}")
    challenge = _token(payload.get("challenge")) if isinstance(payload, dict) else None
    if challenge is None:
        return _bad("webhook_callback_verification has no 'challenge' string to echo")
    return Answer(200, "handshake",
                  f"twitch webhook_callback_verification{named}: challenge echoed",
                  text=challenge)


def _single(headers: Mapping[str, str], name: str) -> str | None:
    """The header's value; None when absent or sent on several lines with different values
    (which line a proxy keeps differs: such a request is treated as an ordinary event)."""
    getall = getattr(headers, "getall", None)
    if getall is not None:
        values = {str(value).strip() for value in getall(name, [])}
    else:
        values = {str(value).strip() for key, value in headers.items()
                  if isinstance(key, str) and key.lower() == name}
    return values.pop() if len(values) == 1 else None
