"""Changing the applied state: a plan's operations committed all or nothing, and drift.

Every change to an environment runs in one transaction that first takes the environment's
row (``SELECT … FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent
writers queue instead of interleaving, and moves the environment's serial by one. A commit
refuses a plan made against another lineage or serial (:class:`StaleStateError`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, delete, insert, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from hookplane.config.applied import ID_PREFIXES, DriftEvent, canonical_hash
from hookplane.errors import StaleStateError, StateError
from hookplane.state import tables as t
from hookplane.state._common import iso, new_id, utc_now
from hookplane.state._environment import (
    add_drift,
    bump,
    check_fresh,
    environment_for_update,
    require,
)
from hookplane.state.audit import AuditRecord, append_audit
from hookplane.state.crypto import SecretBox
from hookplane.state.database import Database, Repository
from hookplane.state.keys import Keys
from hookplane.state.operations import Create, Delete, Move, Operation, Update
from hookplane.state.resource_secrets import add_secret, current_secret, secret_row, unique_kinds

__all__ = ["CommitResult", "Commits"]


@dataclass(frozen=True)
class CommitResult:
    serial: int
    lineage: str
    ids: dict[str, str] = field(default_factory=dict)
    """Address -> id of every resource created or moved by the commit."""


class Commits(Repository):
    """Writes to the applied state of the environments on one database."""

    def __init__(self, db: Database, keys: Keys) -> None:
        super().__init__(db)
        self._keys = keys

    def commit(self, environment: str, *, environment_kind: str, expected_lineage: str,
               expected_serial: int, operations: Sequence[Operation],
               audit: AuditRecord,
               progress: Callable[[int], None] | None = None,
               rehash: bool = False) -> CommitResult:
        """Apply ``operations`` and append ``audit`` in one transaction: all or nothing.

        ``progress`` is called with the number of operations done so far (for a progress bar;
        nothing is durable until the transaction commits at the end).

        Refuses with :class:`StaleStateError` when the environment's lineage or serial is no
        longer the one the plan was made against. Moves the serial by one and clears the
        recorded drift: the plan that showed it has been applied. ``rehash`` (a refresh-only
        apply) also accepts every resource's stored attributes as applied, so a change made
        outside git is no longer reported.
        """
        now = utc_now()
        with self._write() as conn:
            env = environment_for_update(conn, environment)
            self._keys.same_key(conn)
            if env is None:
                if expected_serial != 0 or expected_lineage:
                    raise StaleStateError(
                        f"Saved plan is stale: it was made against serial {expected_serial} "
                        f"of '{environment}', which now has no state. Run 'hookplane plan "
                        f"{environment}' again."
                    )
                lineage, serial = uuid.uuid4().hex, 1
                try:
                    conn.execute(insert(t.environments).values(
                        name=environment, kind=environment_kind, lineage=lineage,
                        serial=serial, updated_at=now))
                except IntegrityError as exc:  # PostgreSQL: a concurrent first commit won
                    raise StaleStateError(
                        f"Saved plan is stale: another apply created the state of "
                        f"'{environment}' meanwhile. Run 'hookplane plan {environment}' again."
                    ) from exc
            else:
                check_fresh(environment, env, expected_lineage, expected_serial)
                lineage, serial = env.lineage, env.serial + 1
                conn.execute(update(t.environments)
                             .where(t.environments.c.name == environment)
                             .values(kind=environment_kind, serial=serial, updated_at=now))
            conn.execute(update(t.resources)
                         .where(t.resources.c.environment == environment,
                                sql_cast(t.resources.c.drift, Text) != "[]")
                         .values(drift=[]))
            if rehash:
                r = t.resources
                for row in conn.execute(select(r.c.id, r.c.spec, r.c.applied_hash)
                                        .where(r.c.environment == environment)):
                    if row.applied_hash != canonical_hash(row.spec):
                        conn.execute(update(r).where(r.c.id == row.id)
                                     .values(applied_hash=canonical_hash(row.spec)))
            batch = _Batch(self._keys.box, conn, environment, now)
            for done, operation in enumerate(operations, start=1):
                batch.apply(operation)
                if progress is not None and (done % 100 == 0 or done == len(operations)):
                    progress(done)
            batch.flush()
            append_audit(conn, environment, serial, audit, at=now)
        return CommitResult(serial=serial, lineage=lineage, ids=batch.ids)

    def record_drift(self, environment: str, kind: str, name: str, what: str,
                     by: str = "runtime") -> None:
        """Note a change made outside git (shown by the next plan); moves the serial."""
        now = utc_now()
        with self._write() as conn:
            env = environment_for_update(conn, environment)
            resource_id = require(conn, environment, kind, name, "record drift on")
            if env is None:  # unreachable: a resource implies its environment
                raise StateError(f"'{environment}' has no state")
            add_drift(conn, resource_id, DriftEvent(at=iso(now), what=what, by=by))
            bump(conn, environment, env.serial + 1, now)


class _Batch:
    """Carries out one commit's operations, inserting new rows in bulk.

    The environment's addresses are read once; inserts are queued and sent as one
    ``executemany`` before anything that must see them (an update, delete or move) and at the
    end, which keeps a 10,000-resource first apply fast.
    """

    def __init__(self, box: SecretBox, conn: Connection, environment: str,
                 now: datetime) -> None:
        self._box = box
        self._conn = conn
        self._environment = environment
        self._now = now
        r = t.resources
        self._index: dict[tuple[str, str], str] = {
            (kind, name): resource_id for resource_id, kind, name in conn.execute(
                select(r.c.id, r.c.kind, r.c.name).where(r.c.environment == environment))
        }
        self._resources: list[dict[str, Any]] = []
        self._secrets: list[dict[str, Any]] = []
        self.ids: dict[str, str] = {}

    def flush(self) -> None:
        if self._resources:
            self._conn.execute(insert(t.resources), self._resources)
            self._resources = []
        if self._secrets:
            self._conn.execute(insert(t.secrets), self._secrets)
            self._secrets = []

    def apply(self, operation: Operation) -> None:
        if isinstance(operation, Create):
            self._create(operation)
            return
        self.flush()
        if isinstance(operation, Update):
            self._update(operation)
        elif isinstance(operation, Delete):
            resource_id = self._require(operation.kind, operation.name, "delete")
            self._conn.execute(delete(t.secrets).where(t.secrets.c.resource_id == resource_id))
            self._conn.execute(delete(t.resources).where(t.resources.c.id == resource_id))
            del self._index[(operation.kind, operation.name)]
        else:
            self._move(operation)

    def _create(self, operation: Create) -> None:
        prefix = ID_PREFIXES.get(operation.kind)
        if prefix is None:
            raise StateError(f"cannot create {operation.address}: unknown resource kind "
                             f"'{operation.kind}'")
        existing = self._index.get((operation.kind, operation.name))
        if existing is not None:
            raise StateError(f"cannot create {operation.address}: it already exists in "
                             f"'{self._environment}' (id {existing})")
        resource_id = new_id(prefix)
        self._resources.append({
            "id": resource_id, "environment": self._environment, "kind": operation.kind,
            "name": operation.name, "created_at": self._now, "updated_at": self._now,
            **self._content(operation.spec, operation.values)})
        for secret_kind in unique_kinds(operation.generate):
            row, _value = secret_row(self._box, resource_id, secret_kind, self._now)
            self._secrets.append(row)
        self._index[(operation.kind, operation.name)] = resource_id
        self.ids[operation.address] = resource_id

    def _update(self, operation: Update) -> None:
        resource_id = self._require(operation.kind, operation.name, "update")
        self._conn.execute(update(t.resources).where(t.resources.c.id == resource_id).values(
            updated_at=self._now, **self._content(operation.spec, operation.values)))
        for secret_kind in unique_kinds(operation.drop):
            self._conn.execute(delete(t.secrets).where(
                t.secrets.c.resource_id == resource_id, t.secrets.c.secret_kind == secret_kind))
        for secret_kind in unique_kinds(operation.generate):
            if current_secret(self._conn, resource_id, secret_kind) is None:
                add_secret(self._conn, self._box, resource_id, secret_kind, self._now)

    def _move(self, operation: Move) -> None:
        old = f"{operation.kind}.{operation.old_name}"
        resource_id = self._index.get((operation.kind, operation.old_name))
        if resource_id is None:
            raise StateError(f"cannot move {old} to {operation.address}: {old} is not in the "
                             f"state of '{self._environment}'")
        if (operation.kind, operation.new_name) in self._index:
            raise StateError(f"cannot move {old} to {operation.address}: {operation.address} "
                             f"already exists in '{self._environment}'")
        self._conn.execute(update(t.resources).where(t.resources.c.id == resource_id)
                           .values(name=operation.new_name, updated_at=self._now))
        del self._index[(operation.kind, operation.old_name)]
        self._index[(operation.kind, operation.new_name)] = resource_id
        self.ids[operation.address] = resource_id

    def _require(self, kind: str, name: str, verb: str) -> str:
        resource_id = self._index.get((kind, name))
        if resource_id is None:
            raise StateError(f"cannot {verb} {kind}.{name}: it is not in the state of "
                             f"'{self._environment}'")
        return resource_id

    def _content(self, spec: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        """A resource's stored columns: its spec, values encrypted and fingerprinted."""
        return {
            "spec": spec,
            "values_ciphertext": (self._box.encrypt(json.dumps(values, sort_keys=True))
                                  if values else None),
            "fingerprints": {path: self._box.fingerprint(value)
                             for path, value in sorted(values.items())},
            "applied_hash": canonical_hash(spec),
            "drift": [],
        }
