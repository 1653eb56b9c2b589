"""Dropbox: ``X-Dropbox-Signature: <hex>`` HMAC-SHA256 of the body keyed with the App
Secret; the endpoint is verified with ``GET ?challenge=…`` echoed back as ``text/plain``
(dropbox.com/developers/reference/webhooks)."""

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
    bad_handshake,
    hex_digest,
    signed,
    token,
)

HEADER = "X-Dropbox-Signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    return signed(HEADER, delivery, hex_digest, "is not '<64 hex digits>'", delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    return {HEADER: hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}, body


def challenge(request: Handshake) -> Answer | None:
    if request.method != "GET":
        return None
    echoed = token(request.query.get("challenge"))
    if echoed is None:
        return bad_handshake("a GET must be Dropbox's verification request (?challenge=…)")
    return Answer(200, "handshake", "dropbox verification: challenge echoed", text=echoed)


PRESET = Preset(
    name="dropbox", title="Dropbox", verify=verify, sign=sign, secret="provider",
    secret_env="DROPBOX_APP_SECRET",
    scheme="`X-Dropbox-Signature: <hex>` HMAC-SHA256 of the body, keyed with the App Secret",
    credential_headers=("x-dropbox-signature",), challenge=challenge,
    replay="none (a notification only says which accounts changed)",
    docs=Docs(dashboard="App Console → your app → *Settings → Webhooks*: add the ingest URL; "
                        "the key is the *App secret* on the same page.",
              handshake="`GET ?challenge=…` is answered with the challenge (`text/plain`, "
                        "`X-Content-Type-Options: nosniff`); no record.",
              sample={"list_folder": {"accounts": ["dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc"]},
                      "delta": {"users": [12345678]}}),
)
