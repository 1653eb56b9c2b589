"""Microsoft Graph change notifications: each notification in ``value`` carries the
subscription's ``clientState``, which must equal the secret (compared in constant time);
a new subscription is validated with ``POST ?validationToken=…``, answered with the token as
``text/plain`` within 10 seconds (learn.microsoft.com, "Receive change notifications through
webhooks")."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from hookplane.presets._kit import (
    Answer,
    AuthOptions,
    Delivery,
    Docs,
    Handshake,
    Preset,
    Reject,
    token,
    utf8,
    utf8_keys,
)

MAX_CLIENT_STATE = 128


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    document = delivery.json()
    items = document.get("value") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise Reject("missing_header", "the body has no 'value' list of notifications")
    keys = [(index, hashlib.sha256(key).digest())
            for index, key in utf8_keys(delivery.secrets)]
    if not keys:
        raise Reject("bad_signature", "no usable secret is configured for this inbound webhook")
    matched: set[int] = set()
    for item in items:
        state = item.get("clientState") if isinstance(item, dict) else None
        given = utf8(state) if isinstance(state, str) and len(state) <= MAX_CLIENT_STATE \
            else None
        if given is None:
            raise Reject("missing_header", "a notification has no clientState")
        digest = hashlib.sha256(given).digest()
        found = [index for index, key in keys if hmac.compare_digest(digest, key)]
        if not found:
            raise Reject("bad_token", "a notification's clientState is not a current secret")
        matched.add(found[0])
    delivery.matched.append(min(matched))
    return f"clientState of {len(items)} notification(s) matched"


def stored(payload: dict[str, Any]) -> dict[str, Any]:
    """The notifications without ``clientState`` (the webhook's secret)."""
    items = payload.get("value")
    if not isinstance(items, list):
        return payload
    kept = [{key: value for key, value in item.items() if key != "clientState"}
            if isinstance(item, dict) else item for item in items]
    return {**payload, "value": kept}


def challenge(request: Handshake) -> Answer | None:
    if "validationToken" not in request.query:
        return None
    echoed = token(request.query.get("validationToken"))
    if echoed is None:
        return Answer(400, "bad_handshake", "validationToken is empty or too long",
                      json={"error": "validationToken is empty or too long"})
    return Answer(200, "handshake", "microsoft graph validationToken echoed", text=echoed)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    import json

    document = json.loads(body)
    for item in document.get("value", []):
        item["clientState"] = secret
    return {}, json.dumps(document).encode()


def check_secret(secret: str) -> str | None:
    if len(secret) > MAX_CLIENT_STATE:
        return "is longer than 128 characters, the most Microsoft Graph keeps as clientState"
    return None


PRESET = Preset(
    name="msgraph", title="Microsoft Graph", verify=verify, sign=sign, challenge=challenge,
    check_secret=check_secret, stored=stored,
    signs_body=False,
    scheme="every notification's `clientState` equal to the secret",
    replay="none (Graph signs nothing; `clientState` is the same every time)",
    docs=Docs(dashboard="Create the subscription (`POST /subscriptions`) with "
                        "`notificationUrl` = the ingest URL and `clientState` = the webhook's "
                        "secret (at most 128 characters: `hookplane inbound-webhooks get ENV "
                        "NAME --show-secret`).",
              handshake="`POST ?validationToken=…` is answered with the token (`text/plain`) "
                        "before any check; no record.",
              notes="Each notification's `clientState` (the secret) is taken out before the "
                    "record is stored.",
              sample={"value": [{"subscriptionId": "7f105c7d-2dc5-4530-97cd-4e7ae6534c07",
                                 "clientState": "", "changeType": "created",
                                 "resource": "Users/ab/Messages/cd",
                                 "tenantId": "bb8775a4-4d8c-42cf-a1d4-4d58c2bb668f"}]}),
)
