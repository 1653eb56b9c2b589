"""Verifying Hookplane's Standard Webhooks headers with the ``standardwebhooks`` package.

    pip install standardwebhooks

Hookplane signs every delivery with ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` as well. The library checks the signature over
``{webhook-id}.{webhook-timestamp}.{body}`` with the trigger's ``whsec_…`` secret and refuses
a timestamp more than five minutes away from now, which stops replays of old deliveries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def verify(body: bytes, headers: Mapping[str, str], secret: str) -> Any:
    """The parsed JSON body of a valid delivery; raises ``WebhookVerificationError``."""
    return Webhook(secret).verify(body, dict(headers))


def is_valid(body: bytes, headers: Mapping[str, str], secret: str) -> bool:
    try:
        verify(body, headers, secret)
    except WebhookVerificationError:
        return False
    return True
