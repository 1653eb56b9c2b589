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
from hookplane.state.store import (
    AuditEntry,
    AuditRecord,
    CommitResult,
    LockInfo,
    SecretInfo,
    Store,
)

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "CommitResult",
    "Create",
    "Delete",
    "LockInfo",
    "Move",
    "Operation",
    "SecretBox",
    "SecretInfo",
    "Store",
    "Update",
    "generate_key",
    "make_engine",
    "redact_url",
]
