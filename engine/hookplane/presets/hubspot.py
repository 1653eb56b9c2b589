"""HubSpot (signature v3): ``X-HubSpot-Signature-v3: <base64>`` HMAC-SHA256 of method + URI
+ body + ``X-HubSpot-Request-Timestamp`` (Unix milliseconds, refused after 5 minutes), keyed
with the app's client secret (developers.hubspot.com, "Validating requests"). HubSpot posts
a JSON array of events: it is stored as ``{"events": [...]}``."""

from __future__ import annotations

import base64
import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    base64_digest,
    check_time,
    match,
    parsed,
    utf8,
    utf8_keys,
)

HEADER = "X-HubSpot-Signature-v3"
_DECODED = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
            "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


def _uri(url: str) -> str:
    """The URI as HubSpot signs it: these percent-escapes decoded, the rest kept."""
    for escape, char in _DECODED.items():
        url = url.replace(escape, char).replace(escape.lower(), char)
    return url


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    delivery.require(HEADER)
    timestamp = delivery.require("X-HubSpot-Request-Timestamp")
    found = parsed(HEADER, delivery, base64_digest, "is not the base64 of a SHA-256 HMAC")
    check_time(delivery, auth, timestamp, "X-HubSpot-Request-Timestamp", 300,
               milliseconds=True)
    head = utf8(delivery.method + _uri(delivery.require_url())) or b""
    return match(HEADER, found, utf8_keys(delivery.secrets), delivery, head, delivery.body,
                 timestamp.encode())


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    timestamp = str(int(now * 1000))
    message = ("POST" + _uri(url)).encode() + body + timestamp.encode()
    mac = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {HEADER: base64.b64encode(mac).decode(),
            "X-HubSpot-Request-Timestamp": timestamp}, body


PRESET = Preset(
    name="hubspot", title="HubSpot", verify=verify, sign=sign, secret="provider",
    secret_env="HUBSPOT_CLIENT_SECRET",
    scheme="`X-HubSpot-Signature-v3: <base64>` of `{method}{URI}{body}{timestamp}`, "
           "`X-HubSpot-Request-Timestamp` in ms, 5 minutes",
    credential_headers=("x-hubspot-signature-v3", "x-hubspot-signature"),
    timestamped=True, array_key="events", signs_url=True,
    replay="signed timestamp",
    docs=Docs(dashboard="Developer account → your app → *Webhooks*: *Target URL* = the "
                        "ingest URL (as `HOOKPLANE_PUBLIC_URL` makes it); the key is the app's "
                        "*Client secret* (*Auth* tab).",
              notes="HubSpot posts an array of events; the record gets `{\"events\": [...]}` "
                    "(map `events.0.objectId` and so on).",
              sample=[{"eventId": 1, "subscriptionId": 12345, "portalId": 62515,
                       "occurredAt": 1564113600000, "subscriptionType": "contact.creation",
                       "objectId": 123}]),
)
