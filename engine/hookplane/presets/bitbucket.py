"""Bitbucket (Cloud and Data Center): ``X-Hub-Signature: sha256=<hex>`` of the body, keyed
with the webhook's secret (support.atlassian.com, "Manage webhooks → Secure webhooks")."""

from __future__ import annotations

import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    after,
    example_id,
    hex_digest,
    signed,
)

HEADER = "X-Hub-Signature"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    return signed(HEADER, delivery, after("sha256=", hex_digest),
                  "is not 'sha256=<64 hex digits>'", delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {HEADER: f"sha256={digest}", "X-Event-Key": "repo:push",
            "X-Request-UUID": example_id(body, now)}, body


PRESET = Preset(
    name="bitbucket", title="Bitbucket", verify=verify, sign=sign,
    scheme="`X-Hub-Signature: sha256=<hex>` of the body",
    credential_headers=("x-hub-signature",),
    delivery_id_headers=("x-request-uuid", "x-request-id"),
    replay="none (no signed time); `X-Request-UUID` de-duplicates retries",
    docs=Docs(dashboard="Repository *Settings → Webhooks → Add webhook*: *URL* = the ingest "
                        "URL, *Secret* = the webhook's secret.",
              sample={"repository": {"full_name": "team/app"},
                      "push": {"changes": [{"new": {"name": "main", "type": "branch"}}]},
                      "actor": {"display_name": "Ada"}}),
)
