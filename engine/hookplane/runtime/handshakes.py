"""Provider handshakes: requests that ask the endpoint to prove itself, not events.

Some providers check an endpoint before (and while) they send it events, with a request that
must be answered in their own way; storing it as a record and answering 201 fails the check.
Each preset (:mod:`hookplane.presets`) says how: :func:`answer` recognises a handshake in a
delivery that has already verified (Slack ``url_verification``, Zoom
``endpoint.url_validation``, Twitch ``webhook_callback_verification``/``revocation``,
Discord PING); :func:`challenge` answers the ones a provider does not sign, before any
verification (Meta's and Dropbox's ``GET``, Microsoft Graph's ``validationToken``). The
ingest service then writes no record and logs the request with the answer's ``reason``
(``handshake``, ``revocation``, ``bad_token``, ``bad_handshake``). A signed handshake is only
answered once its signature verified, so a forged one gets 401, never the challenge.
Pure: no Litestar, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hookplane.config.models import Auth
from hookplane.presets import FORM_BODIES, PRESETS, Answer, Handshake

__all__ = ["FORM_BODIES", "Answer", "accepted", "answer", "challenge"]


def answer(auth: Auth | str, *, headers: Mapping[str, str], payload: Any,
           secret: str | None, query: Mapping[str, str] | None = None) -> Answer | None:
    """The answer to a verified delivery that is a handshake, or None for an event.

    ``payload`` is the parsed body, ``secret`` the secret the signature matched (Zoom answers
    with an HMAC under it). A handshake missing the value it must echo is a 400.
    """
    auth = Auth(type=auth) if isinstance(auth, str) else auth
    preset = PRESETS.get(auth.type)
    if preset is None or preset.handshake is None:
        return None
    return preset.handshake(Handshake("POST", headers, query or {}, payload, secret, auth))


def challenge(auth: Auth, *, method: str, headers: Mapping[str, str],
              query: Mapping[str, str]) -> Answer | None:
    """The answer to an unsigned handshake (checked before verification), or None."""
    preset = PRESETS.get(auth.type)
    if preset is None or preset.challenge is None:
        return None
    return preset.challenge(Handshake(method, headers, query, None, None, auth))


def accepted(auth_type: str, payload: Any) -> dict[str, Any] | None:
    """The JSON a provider expects in answer to a stored event (Discord), or None."""
    preset = PRESETS.get(auth_type)
    if preset is None or preset.accepted is None:
        return None
    return preset.accepted(payload)
