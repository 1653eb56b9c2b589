"""Meta (WhatsApp Cloud API, Instagram, Messenger, Graph API webhooks):
``X-Hub-Signature-256: sha256=<hex>`` of the body keyed with the App Secret; the endpoint is
verified with a ``GET`` carrying ``hub.mode=subscribe``, ``hub.verify_token`` and
``hub.challenge`` (developers.facebook.com, "Webhooks → Getting started")."""

from __future__ import annotations

import hashlib
import hmac

from hookplane.presets._kit import (
    Answer,
    AuthOptions,
    Delivery,
    Docs,
    Handshake,
    Preset,
    after,
    bad_handshake,
    hex_digest,
    signed,
    token,
    utf8,
)


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    return signed("X-Hub-Signature-256", delivery, after("sha256=", hex_digest),
                  "is not 'sha256=<64 hex digits>'", delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}, body


def challenge(request: Handshake) -> Answer | None:
    if request.method != "GET":
        return None
    if request.query.get("hub.mode") != "subscribe":
        return bad_handshake("a GET must be Meta's verification request "
                             "(hub.mode=subscribe, hub.verify_token, hub.challenge)")
    expected = request.auth.verify_token or ""
    given = request.query.get("hub.verify_token", "")
    given_bytes, expected_bytes = utf8(given) or b"", utf8(expected) or b""
    if not expected or not hmac.compare_digest(hashlib.sha256(given_bytes).digest(),
                                               hashlib.sha256(expected_bytes).digest()):
        return Answer(403, "bad_token", "meta verification: hub.verify_token does not match",
                      json={"error": "hub.verify_token does not match"})
    echoed = token(request.query.get("hub.challenge"))
    if echoed is None:
        return bad_handshake("meta verification has no hub.challenge to echo")
    return Answer(200, "handshake", "meta verification: hub.challenge echoed", text=echoed)


PRESET = Preset(
    name="meta", title="Meta (WhatsApp, Instagram, Messenger)", verify=verify, sign=sign,
    secret="provider", secret_env="META_APP_SECRET",
    scheme="`X-Hub-Signature-256: sha256=<hex>` of the body, keyed with the App Secret",
    credential_headers=("x-hub-signature-256", "x-hub-signature"), challenge=challenge,
    options=frozenset({"verify_token"}), required=frozenset({"verify_token"}),
    replay="none (Meta signs no time and sends no delivery id)",
    docs=Docs(dashboard="App dashboard → *Webhooks* (or *WhatsApp → Configuration*): "
                        "*Callback URL* = the ingest URL, *Verify token* = the value of "
                        "`auth.verify_token`; the App Secret is under *App settings → Basic*.",
              handshake="`GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…` is "
                        "answered with the challenge (`text/plain`) when the verify token "
                        "matches, 403 otherwise; no record.",
              sample={"object": "whatsapp_business_account",
                      "entry": [{"id": "102290129340398", "changes": [
                          {"field": "messages", "value": {"messages": [
                              {"from": "16315551181", "id": "wamid.ABGGFlA5Fpa",
                               "type": "text", "text": {"body": "hello"}}]}}]}]}),
)
