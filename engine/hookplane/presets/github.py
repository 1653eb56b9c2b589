"""GitHub: ``X-Hub-Signature-256: sha256=<hex>`` of the body (docs.github.com, "Validating
webhook deliveries"). Also posts ``application/x-www-form-urlencoded`` (``payload=<json>``)
when the webhook's content type is set so."""

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


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    return signed("X-Hub-Signature-256", delivery, after("sha256=", hex_digest),
                  "is not 'sha256=<64 hex digits>'", delivery.body)


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push",
            "X-GitHub-Delivery": example_id(body, now)}, body


PRESET = Preset(
    name="github", title="GitHub", verify=verify, sign=sign,
    scheme="`X-Hub-Signature-256: sha256=<hex>` of the body",
    credential_headers=("x-hub-signature-256", "x-hub-signature"),
    delivery_id_headers=("x-github-delivery",), form_bodies=True,
    replay="none (GitHub signs no time; a redelivery keeps its `X-GitHub-Delivery`)",
    docs=Docs(dashboard="Repository or organisation *Settings → Webhooks → Add webhook*: "
                        "*Payload URL* = the ingest URL, *Content type* `application/json` "
                        "(form also works), *Secret* = the webhook's secret "
                        "(`hookplane inbound-webhooks get ENV NAME --show-secret`).",
              sample={"ref": "refs/heads/main", "repository": {"full_name": "octo/hello"},
                      "pusher": {"name": "octocat"}}),
)
