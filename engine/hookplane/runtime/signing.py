"""Outbound signing: the headers every trigger delivery carries.

A delivery is signed twice:

- ``X-Hookplane-Signature: sha256=<hex HMAC-SHA256(secret, body)>``, keyed with the secret's
  text exactly as shown (``hmac.new(secret.encode(), body, sha256)``, as GitHub-style
  receivers and Hookplane's own ``auth: hmac`` inbound webhooks compute it);
- the Standard Webhooks headers ``webhook-id``, ``webhook-timestamp`` and
  ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``, which the
  official ``standardwebhooks`` libraries verify with the trigger's ``whsec_…`` secret;

plus ``X-Hookplane-Event``. During a rotation grace period every valid secret signs, newest
first, and the signatures are space-separated in both signature headers.

The Standard Webhooks key is the base64 decoding of the secret, with or without the
``whsec_`` prefix — exactly what the official libraries (Python, npm, svix) do with the same
string, so they verify what Hookplane signs. A ``whsec_`` secret that is not base64 is
refused at apply; an unprefixed ``${env:…}`` secret that is not base64 is used as its UTF-8
bytes (the libraries cannot verify such a secret; ``X-Hookplane-Signature`` still works).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
from collections.abc import Sequence
from secrets import token_urlsafe

from hookplane.errors import DeliveryError, SecretError

_WHSEC = "whsec_"
_STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def sign(
    *,
    secrets: Sequence[str],
    body: bytes,
    message_id: str,
    timestamp: int,
    event: str,
    signature_header: str = "X-Hookplane-Signature",
) -> dict[str, str]:
    """The signature headers for one delivery of ``body``.

    ``secrets`` are the trigger's currently valid secrets, newest first (two during a rotation
    grace period); ``message_id`` stays the same across retries so receivers can de-duplicate;
    ``timestamp`` is the Unix time of this attempt. Raises :class:`SecretError` when there is
    no usable secret and :class:`DeliveryError` for a header value that cannot be sent.
    """
    if not secrets:
        raise SecretError("cannot sign a delivery: the trigger has no signing secret")
    _check_header_value("message id", message_id)
    _check_header_value("event", event)
    _check_header_value("signature header name", signature_header)
    if signature_header.lower() in _STANDARD_HEADERS:
        raise DeliveryError(
            f"signature header '{signature_header}' would overwrite a Standard Webhooks header"
        )
    keys = [_key(secret) for secret in secrets]
    # X-Hookplane-Signature is keyed with the secret exactly as shown (its UTF-8 text), the
    # way GitHub-style receivers compute it: hmac.new(secret.encode(), body, sha256).
    raw_keys = [_raw_key(secret) for secret in secrets]
    stamp = str(int(timestamp))
    signed_content = f"{message_id}.{stamp}.".encode() + body
    hookplane = " ".join(
        "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest() for key in raw_keys
    )
    standard = " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed_content, hashlib.sha256).digest()).decode()
        for key in keys
    )
    return {
        signature_header: hookplane,
        "webhook-id": message_id,
        "webhook-timestamp": stamp,
        "webhook-signature": standard,
        "X-Hookplane-Event": event,
    }


def new_message_id() -> str:
    """A fresh Standard Webhooks message id: ``msg_`` and 27 random URL-safe characters."""
    return "msg_" + token_urlsafe(20)


def _raw_key(secret: str) -> bytes:
    try:
        return secret.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SecretError("a signing secret is not valid UTF-8 text") from exc


def _key(secret: str) -> bytes:
    if not secret:
        raise SecretError("cannot sign a delivery with an empty secret")
    if not secret.startswith(_WHSEC):
        with contextlib.suppress(binascii.Error, ValueError):
            decoded = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
            if decoded:
                return decoded  # the libraries decode an unprefixed secret too
        try:
            return secret.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SecretError("a signing secret is not valid UTF-8 text") from exc
    encoded = secret[len(_WHSEC):]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SecretError(
            "a 'whsec_' signing secret is not valid base64 after the prefix; rotate the "
            "trigger's secret ('hookplane triggers rotate-secret')"
        ) from exc
    if not key:
        raise SecretError("a 'whsec_' signing secret is empty after the prefix")
    return key


def _check_header_value(what: str, value: str) -> None:
    if not value or not value.isascii() or not value.isprintable() or value != value.strip():
        raise DeliveryError(
            f"the {what} {value!r} cannot be sent in an HTTP header (printable ASCII, no "
            "leading or trailing spaces)"
        )
