"""Shared pieces of the hardening suite: signers for every inbound auth type (written from the
providers' documentation, independent of ``hookplane.runtime.verify``), the runtime project of
``tests/integration/runtime`` started on a real server, and small helpers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.runtime.conftest import ENVIRON, Runtime, start_runtime
from tests.integration.runtime.harness import Peer

__all__ = ["ENVIRON", "SIGNED", "Runtime", "runtime_on", "signed_headers"]

SIGNED = ("plain", "keyed", "bearer", "standard", "github", "stripe", "slack", "shopify",
          "pagerduty", "orders", "orders-ref", "deploy-failed", "agent")
"""Inbound webhooks of the runtime project a valid sender can reach (no allowlist, active,
not rate limited to a handful)."""


def _hexmac(key: str | bytes, data: bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hmac.new(raw, data, hashlib.sha256).hexdigest()


def _b64mac(key: str | bytes, data: bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return base64.b64encode(hmac.new(raw, data, hashlib.sha256).digest()).decode()


def signed_headers(rt: Runtime, name: str, body: bytes, *, now: int | None = None
                   ) -> dict[str, str]:
    """Headers a legitimate sender of inbound webhook ``name`` sends with ``body``."""
    ts = int(time.time()) if now is None else now
    unique = uuid.uuid4().hex
    if name in ("plain", "deploy-failed"):
        return {"X-Signature": _hexmac(rt.secret(name), body)}
    if name in ("keyed", "orders", "orders-ref"):
        return {"X-Account-Key": rt.secret(name)}
    if name in ("bearer", "agent"):
        return {"Authorization": f"Bearer {rt.token('inbound_webhooks', name)}"}
    if name == "standard":
        key = base64.b64decode(rt.secret(name).removeprefix("whsec_"))
        msg = f"msg_{unique}"
        return {"webhook-id": msg, "webhook-timestamp": str(ts),
                "webhook-signature": "v1," + _b64mac(key, f"{msg}.{ts}.".encode() + body)}
    if name == "github":
        return {"X-Hub-Signature-256": "sha256=" + _hexmac(rt.secret(name), body),
                "X-GitHub-Delivery": unique}
    if name == "stripe":
        secret = ENVIRON["STRIPE_WEBHOOK_SECRET"]
        return {"Stripe-Signature": f"t={ts},v1={_hexmac(secret, f'{ts}.'.encode() + body)}"}
    if name == "slack":
        secret = ENVIRON["SLACK_WEBHOOK_SECRET"]
        return {"X-Slack-Request-Timestamp": str(ts),
                "X-Slack-Signature": "v0=" + _hexmac(secret, f"v0:{ts}:".encode() + body)}
    if name == "shopify":
        return {"X-Shopify-Hmac-Sha256": _b64mac(ENVIRON["SHOPIFY_WEBHOOK_SECRET"], body),
                "X-Shopify-Webhook-Id": unique}
    if name == "pagerduty":
        return {"X-PagerDuty-Signature": "v1=" + _hexmac(ENVIRON["PAGERDUTY_WEBHOOK_SECRET"],
                                                         body)}
    raise KeyError(name)


SIGNATURE_HEADERS = ("X-Signature", "X-Account-Key", "Authorization", "webhook-id",
                     "webhook-timestamp", "webhook-signature", "X-Hub-Signature-256",
                     "Stripe-Signature", "X-Slack-Signature", "X-Slack-Request-Timestamp",
                     "X-Shopify-Hmac-Sha256", "X-PagerDuty-Signature",
                     "X-Hookplane-Signature")
"""Every header an inbound auth type reads: forgeries put random values in them."""


@contextmanager
def runtime_on(root: Path, database_url: str, *, run_jobs: bool = True) -> Iterator[Runtime]:
    """The runtime project (every auth type, triggers, sources) served on 127.0.0.1."""
    monkeypatch = pytest.MonkeyPatch()
    upstream = Peer().start()
    receiver = Peer().start()
    upstream.routes["*"] = lambda _seen: (404, {"error": "no such thing"})
    receiver.routes["*"] = lambda _seen: (200, {"ok": True})
    if database_url.startswith("sqlite"):
        monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    try:
        rt = start_runtime(root, database_url, upstream, receiver, monkeypatch,
                           run_jobs=run_jobs)
        for kind, name in (("api_keys", "writer"), ("api_keys", "reader"),
                           ("inbound_webhooks", "bearer"), ("inbound_webhooks", "agent")):
            rt.token(kind, name)  # revealed once: whichever test runs first keeps them
        try:
            yield rt
        finally:
            rt.http.close()
            rt.server.stop()
    finally:
        upstream.stop()
        receiver.stop()
        monkeypatch.undo()
