"""The state store: SQLAlchemy tables, the :class:`Store`, secrets at rest, migrations.

The only package that imports SQLAlchemy. Typical use::

    with Store.open(url, root=project_root) as store:
        snapshot = store.snapshot("preview")
        with store.lock("preview", who=actor, operation="apply"):
            store.commit("preview", environment_kind="preview",
                         expected_lineage=snapshot.lineage, expected_serial=snapshot.serial,
                         operations=[Create(...)], audit=AuditRecord("apply", actor))
"""

from __future__ import annotations

from hookplane.state.crypto import SecretBox, generate_key
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
