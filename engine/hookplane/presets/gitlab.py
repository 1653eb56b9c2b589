"""GitLab: the secret token sent as is in ``X-Gitlab-Token`` (docs.gitlab.com, "Webhooks →
Validate requests with a secret token"); compared in constant time."""

from __future__ import annotations

import hashlib
import hmac

from hookplane.presets._kit import (
    AuthOptions,
    Delivery,
    Docs,
    Preset,
    Reject,
    example_id,
    utf8,
    utf8_keys,
)

HEADER = "X-Gitlab-Token"


def verify(auth: AuthOptions, delivery: Delivery) -> str:
    value = utf8(delivery.require(HEADER))
    if value is None:
        raise Reject("malformed_header", f"header {HEADER} is not valid text")
    given = hashlib.sha256(value).digest()
    found: int | None = None
    for index, key in utf8_keys(delivery.secrets):
        if hmac.compare_digest(given, hashlib.sha256(key).digest()) and found is None:
            found = index
    if found is None:
        raise Reject("bad_token", f"header {HEADER} does not hold a current secret token")
    delivery.matched.append(found)
    return f"{HEADER} matched secret {found + 1} of {len(delivery.secrets)}"


def sign(body: bytes, secret: str, now: float, url: str) -> tuple[dict[str, str], bytes]:
    return {HEADER: secret, "X-Gitlab-Event": "Push Hook",
            "X-Gitlab-Event-UUID": example_id(body, now),
            "Idempotency-Key": example_id(body, now)}, body


PRESET = Preset(
    name="gitlab", title="GitLab", verify=verify, sign=sign,
    signs_body=False,
    scheme="`X-Gitlab-Token` equal to the secret token",
    credential_headers=("x-gitlab-token",),
    delivery_id_headers=("idempotency-key", "x-gitlab-event-uuid"),
    replay="none (the same token every time); `Idempotency-Key` de-duplicates retries",
    docs=Docs(dashboard="Project or group *Settings → Webhooks → Add new webhook*: *URL* = "
                        "the ingest URL, *Secret token* = the webhook's secret.",
              sample={"object_kind": "push", "ref": "refs/heads/main",
                      "project": {"path_with_namespace": "group/app"},
                      "user_username": "ada"}),
)
