"""The runtime's storage: one facade over the repositories of the runtime data.

The data is split by aggregate, each module a small repository over the
:class:`~hookplane.state.database.Database` seam:

- :mod:`~hookplane.state.records` — records, their versions, events and revival, grouped
  writes (:meth:`Records.write_many`);
- :mod:`~hookplane.state.outbox` — queued deliveries, claims, attempts, redelivery;
- :mod:`~hookplane.state.triggers` — circuit breakers and send budgets;
- :mod:`~hookplane.state.jobs` — hydrate/invoke jobs;
- :mod:`~hookplane.state.inbound_log` — the inbound log and de-duplication marks;
- :mod:`~hookplane.state.stats` — console aggregates.

:class:`RuntimeStore` is all of them on one database (``store.runtime()`` or
``RuntimeStore(store)``), for callers that use several; each repository also works alone
(``Outbox(store.database)``). Writes take SQLite's write lock up front (``BEGIN
IMMEDIATE``) and run at READ COMMITTED with row locks (``SELECT … FOR UPDATE``) on
PostgreSQL; reads see one snapshot. Timestamps going out are ISO-8601 strings with ``Z``
(seconds); ``now``/``retry_at``/``cutoff`` coming in are datetimes (naive means UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from hookplane.errors import DuplicateDelivery, InvalidQuery, RecordConflict, RecordNotFound
from hookplane.state.database import Database
from hookplane.state.inbound_log import Dedup, InboundDelivery, InboundLog, LogInbound
from hookplane.state.jobs import Job, JobKind, Jobs, JobStatus
from hookplane.state.outbox import (
    MASKED,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    Outbox,
    OutboxItem,
    OutboxRow,
    OutboxStatus,
    new_outbox_id,
)
from hookplane.state.records import (
    CreateRecord,
    LogCallback,
    Origin,
    OutboxCallback,
    Record,
    RecordEvent,
    RecordEventKind,
    Records,
    UpsertRecord,
    WriteOperation,
    WriteResult,
)
from hookplane.state.stats import MinuteCount, Stats
from hookplane.state.triggers import TriggerHealth, Triggers

__all__ = [
    "MASKED",
    "AttemptOutcome",
    "CreateRecord",
    "Dedup",
    "Delivery",
    "DeliveryAttempt",
    "DuplicateDelivery",
    "InboundDelivery",
    "InvalidQuery",
    "Job",
    "JobKind",
    "JobStatus",
    "LogCallback",
    "LogInbound",
    "MinuteCount",
    "Origin",
    "OutboxCallback",
    "OutboxItem",
    "OutboxRow",
    "OutboxStatus",
    "Record",
    "RecordConflict",
    "RecordEvent",
    "RecordEventKind",
    "RecordNotFound",
    "RuntimeStore",
    "TriggerHealth",
    "UpsertRecord",
    "WriteOperation",
    "WriteResult",
    "new_outbox_id",
]


class _HasDatabase(Protocol):
    @property
    def database(self) -> Database: ...


class RuntimeStore(Records, Outbox, Triggers, Jobs, InboundLog, Stats):
    """Records, outbox, trigger health, jobs, inbound log and statistics on one database.

    Make one with ``RuntimeStore(store)`` (or ``store.runtime()``): it uses the store's
    database (closing the store closes it). Thread-safe: every call takes its own
    connection.
    """

    def __init__(self, source: Database | _HasDatabase) -> None:
        super().__init__(source if isinstance(source, Database) else source.database)

    def purge_logs_before(self, cutoff: datetime, *,
                          marks_before: datetime | None = None) -> int:
        """Retention: remove inbound log entries and finished jobs older than ``cutoff``, and
        de-duplication marks older than ``marks_before`` (default ``cutoff``: a mark only
        matters within its window); returns how many rows."""
        return (self.purge_inbound_before(cutoff, marks_before=marks_before)
                + self.purge_jobs_before(cutoff))
