"""The state store: SQLAlchemy tables, the :class:`Store`, secrets at rest, migrations.

:class:`Store` is a facade over the config state's repositories (``snapshots``,
``commits``, ``locks``, ``resource_secrets``, ``audit``, ``keys``).

The only package that imports SQLAlchemy. Typical use::

    with Store.open(url, root=project_root) as store:
        snapshot = store.snapshot("preview")
        with store.lock("preview", who=actor, operation="apply"):
            store.commit("preview", environment_kind="preview",
                         expected_lineage=snapshot.lineage, expected_serial=snapshot.serial,
                         operations=[Create(...)], audit=AuditRecord("apply", actor))

The runtime reads an environment with ``store.runtime_view(env)`` (a :class:`RuntimeView`)
and keeps records, the outbox, the inbound log and jobs through ``store.runtime()`` (a
:class:`RuntimeStore`: the repositories of ``records``, ``outbox``, ``triggers``, ``jobs``,
``inbound_log`` and ``stats`` over the :class:`Database` seam of ``database``)::

    rt = store.runtime()
    record, previous = rt.upsert_external(env, "incidents", "PD-1", data,
                                          origin="inbound_webhook", outbox=matching_triggers)
    for row in rt.claim_outbox(worker=worker_id, limit=10, lease_seconds=60):
        ...  # send, then rt.record_attempt(row.id, worker=worker_id, ...)
"""

from __future__ import annotations

from hookplane.state.crypto import SecretBox, generate_key
from hookplane.state.database import Database
from hookplane.state.db import make_engine, redact_url
from hookplane.state.operations import Create, Delete, Move, Operation, Update
from hookplane.state.runtime import (
    Dedup,
    Delivery,
    DeliveryAttempt,
    DuplicateDelivery,
    InboundDelivery,
    InvalidQuery,
    Job,
    OutboxItem,
    OutboxRow,
    Record,
    RecordConflict,
    RecordEvent,
    RecordNotFound,
    RuntimeStore,
    new_outbox_id,
)
from hookplane.state.store import (
    AuditEntry,
    AuditRecord,
    CommitResult,
    DatabaseUnavailable,
    LockInfo,
    SecretInfo,
    Store,
)
from hookplane.state.view import RuntimeResource, RuntimeSecret, RuntimeView

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "CommitResult",
    "Create",
    "Database",
    "DatabaseUnavailable",
    "Dedup",
    "Delete",
    "Delivery",
    "DeliveryAttempt",
    "DuplicateDelivery",
    "InboundDelivery",
    "InvalidQuery",
    "Job",
    "LockInfo",
    "Move",
    "Operation",
    "OutboxItem",
    "OutboxRow",
    "Record",
    "RecordConflict",
    "RecordEvent",
    "RecordNotFound",
    "RuntimeResource",
    "RuntimeSecret",
    "RuntimeStore",
    "RuntimeView",
    "SecretBox",
    "SecretInfo",
    "Store",
    "Update",
    "generate_key",
    "make_engine",
    "new_outbox_id",
    "redact_url",
]
