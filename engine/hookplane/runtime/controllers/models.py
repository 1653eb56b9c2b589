"""The typed bodies of the runtime's answers, from which the OpenAPI document's response
schemas are generated (the handlers answer with the same keys; schemathesis checks every
answer against them in ``tests/hardening``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
