"""The typed bodies of the runtime's answers, from which the OpenAPI document's response
schemas are generated (the handlers answer with the same keys; schemathesis checks every
answer against them in ``tests/hardening``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass
class Record:
    """A record as the records API answers it."""

    id: str
    collection: str
    external_id: str | None
    data: dict[str, Any]
    origin: str
    """``api``, ``hook``, ``inbound_webhook`` or ``hydration``: who wrote it last."""
    version: int
    created_at: str
    updated_at: str
    deleted_at: str | None


@dataclass
class RecordPage:
    """A page of records, newest first; ``next_cursor`` → ``?cursor=`` (null: the last)."""

    data: list[Record]
    next_cursor: str | None


@dataclass
class Rows:
    """A management listing."""

    data: list[dict[str, Any]]


@dataclass
class RowsPage:
    """A page of a management listing; ``next_cursor`` → ``?cursor=`` (null: the last)."""

    data: list[dict[str, Any]]
    next_cursor: str | None


@dataclass
class RotatedSecret:
    """The new secret, shown once; the previous one stays valid for the grace period."""

    secret: str
    kind: str
    grace_period_hours: int
    old_secret_expires_at: str | None
    note: str


@dataclass
class Queued:
    status: str
    id: str


@dataclass
class Recovery:
    queued: int
    since: str
    include_delivered: bool


@dataclass
class BreakerClosed:
    trigger: str
    closed: bool
    breaker_before: dict[str, Any] | None


@dataclass
class TestSend:
    """The receiver's answer to a synthetic ``test`` event."""

    trigger: str
    message_id: str
    event: str
    success: bool
    status_code: int | None
    latency_ms: float | None
    response_excerpt: str | None
    error: str | None


# --------------------------------------------------------------------------- ingest


@dataclass
class Stored:
    """A delivery written as a record: ``created`` (201) or ``updated`` (200)."""

    status: Literal["created", "updated"]
    record_id: str
    collection: str
    delivery_id: str | None = None
    """The provider's delivery id, when it sends one (absent otherwise)."""


@dataclass
class Duplicate:
    """A repeat of a delivery already processed within the deduplication window (24 hours):
    nothing was written."""

    status: Literal["duplicate"]
    delivery_id: str


@dataclass
class JobQueued:
    """A hydration (``operation``: what it will do to the record) or invoke job was queued."""

    status: Literal["accepted"]
    job_id: str
    operation: Literal["upsert", "delete"] | None = None
    delivery_id: str | None = None
    """The provider's delivery id, when it sends one (absent otherwise)."""


@dataclass
class SlackChallenge:
    """Slack's ``url_verification``: its challenge, echoed."""

    challenge: str


@dataclass
class ZoomValidation:
    """Zoom's ``endpoint.url_validation``: the plain token and its HMAC under the secret
    (Zoom's names)."""

    plainToken: str
    encryptedToken: str


@dataclass
class DiscordResponse:
    """Discord's interaction response: PONG (``type`` 1) to a PING, or the deferred answer
    to a stored interaction (5, 6, or 8 with empty ``data.choices``)."""

    type: int
    data: dict[str, Any] | None = None


IngestAnswer = Stored | Duplicate | SlackChallenge | ZoomValidation | DiscordResponse
"""The JSON bodies of an ingest's 200."""
