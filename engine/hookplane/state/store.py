"""The config state of a project: :class:`Store`, one facade over its repositories.

:class:`Store` is the only door to the state database. Its concerns live in small
repositories over the one :class:`~hookplane.state.database.Database` seam (which turns
SQLAlchemy errors into :class:`~hookplane.errors.StateError` and its subclasses):

- :mod:`~hookplane.state.snapshots` — environments, serials, snapshots, the runtime's view;
- :mod:`~hookplane.state.commits` — a plan's operations committed all or nothing, drift;
- :mod:`~hookplane.state.locks` — the state lock of each environment;
- :mod:`~hookplane.state.resource_secrets` — generated secrets, tokens, resolved values;
- :mod:`~hookplane.state.audit` — the audit log and who an entry says did it;
- :mod:`~hookplane.state.keys` — the secret key: its check, re-keying, decrypting all.

Every change to an environment runs in one transaction that first takes the environment's
row and moves its serial by one, so a reader can tell in one cheap query whether anything
changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from hookplane.config.applied import SecretKind, Snapshot
from hookplane.errors import DatabaseUnavailable, SecretError
from hookplane.state.audit import ACTOR_VAR, AuditEntry, AuditLog, AuditRecord, current_actor
from hookplane.state.commits import CommitResult, Commits
from hookplane.state.crypto import SecretBox
from hookplane.state.database import Database
from hookplane.state.db import make_engine, resolve_url
from hookplane.state.keys import Keys, RekeyResult, key_file_for
from hookplane.state.locks import LockInfo, Locks
from hookplane.state.migrate import upgrade
from hookplane.state.operations import Operation
from hookplane.state.resource_secrets import SecretInfo, Secrets
from hookplane.state.runtime import RuntimeStore
from hookplane.state.snapshots import Snapshots
from hookplane.state.view import RuntimeView

__all__ = [
    "ACTOR_VAR",
    "AuditEntry",
    "AuditRecord",
    "CommitResult",
    "DatabaseUnavailable",
    "LockInfo",
    "RekeyResult",
    "SecretInfo",
    "Store",
    "current_actor",
]


class Store:
    """The state database of a project. Open it with :meth:`Store.open`."""

    def __init__(self, engine: Engine, box: SecretBox, *, url: str) -> None:
        self._db = Database(engine, url=url)
        self._keys = Keys(self._db, box)
        self._snapshots = Snapshots(self._db, self._keys)
        self._commits = Commits(self._db, self._keys)
        self._locks = Locks(self._db)
        self._secrets = Secrets(self._db, self._keys, self._locks)
        self._audit = AuditLog(self._db)

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, root: Path) -> Store:
        """Connect, bring the schema up to date and load the secret key.

        ``url`` defaults to ``$HOOKPLANE_DATABASE_URL``, then to the SQLite database at
        ``ROOT/.hookplane/state.db``.
        """
        resolved = resolve_url(url, root=root)
        key_file = key_file_for(resolved, root=root)
        box = SecretBox.from_environment(key_file=key_file)
        engine = make_engine(url, root=root)
        store = cls(engine, box, url=resolved)
        try:
            try:
                upgrade(engine)
            except SQLAlchemyError as exc:
                raise store._db.error(exc) from exc
            try:
                store._keys.check_key()
            except SecretError:
                if not store._keys.finish_rekey(key_file):
                    raise
        except BaseException:
            engine.dispose()
            raise
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def database(self) -> Database:
        """The database seam this store (and the runtime's repositories) work through."""
        return self._db

    @property
    def url_display(self) -> str:
        """The database URL with its password hidden."""
        return self._db.url_display

    def write_health(self, *, probe_after: float = 30.0) -> str | None:
        """Why writes are failing, or None when they work (see
        :meth:`Database.write_health`)."""
        return self._db.write_health(probe_after=probe_after)

    def clock_skew_seconds(self) -> float | None:
        """This machine's clock minus the database server's (PostgreSQL), in seconds; None
        for SQLite, which has no clock of its own."""
        if not self._db.postgres:
            return None
        with self._db.transaction() as conn:
            before = time.time()
            server = conn.scalar(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())"))
            after = time.time()
        return (before + after) / 2 - float(server)

    def runtime(self) -> RuntimeStore:
        """The runtime's storage (records, outbox, inbound log, jobs) on this database."""
        return RuntimeStore(self._db)

    # -- reading: state.snapshots --------------------------------------------------------

    def environments(self) -> list[str]:
        """Names of the environments that have state, sorted."""
        return self._snapshots.environments()

    def serial(self, environment: str) -> int:
        """The environment's serial (0 if never written): one indexed lookup."""
        return self._snapshots.serial(environment)

    def snapshot(self, environment: str) -> Snapshot:
        """The applied state of ``environment`` (see :meth:`Snapshots.snapshot`)."""
        return self._snapshots.snapshot(environment)

    def runtime_view(self, environment: str) -> RuntimeView:
        """What the runtime keeps in memory (see :meth:`Snapshots.runtime_view`)."""
        return self._snapshots.runtime_view(environment)

    # -- locks: state.locks --------------------------------------------------------------

    def acquire_lock(self, environment: str, *, who: str, operation: str,
                     timeout: float = 0.0) -> LockInfo:
        """Take the environment's lock (see :meth:`Locks.acquire_lock`)."""
        return self._locks.acquire_lock(environment, who=who, operation=operation,
                                        timeout=timeout)

    def release_lock(self, environment: str, lock_id: str) -> None:
        """Release a lock taken with :meth:`acquire_lock` (see :meth:`Locks.release_lock`)."""
        self._locks.release_lock(environment, lock_id)

    def force_unlock(self, environment: str, lock_id: str, *, actor: str | None = None) -> None:
        """Remove a lock left by an interrupted run, given its ID; audited."""
        self._locks.force_unlock(environment, lock_id, actor=actor)

    def lock(self, environment: str, *, who: str,
             operation: str) -> AbstractContextManager[LockInfo]:
        """Hold the environment's lock for the ``with`` block."""
        return self._locks.lock(environment, who=who, operation=operation)

    # -- applying: state.commits ---------------------------------------------------------

    def commit(self, environment: str, *, environment_kind: str, expected_lineage: str,
               expected_serial: int, operations: Sequence[Operation],
               audit: AuditRecord,
               progress: Callable[[int], None] | None = None,
               rehash: bool = False) -> CommitResult:
        """Apply ``operations`` and append ``audit`` in one transaction: all or nothing
        (see :meth:`Commits.commit`)."""
        return self._commits.commit(environment, environment_kind=environment_kind,
                                    expected_lineage=expected_lineage,
                                    expected_serial=expected_serial, operations=operations,
                                    audit=audit, progress=progress, rehash=rehash)

    def record_drift(self, environment: str, kind: str, name: str, what: str,
                     by: str = "runtime") -> None:
        """Note a change made outside git (shown by the next plan); moves the serial."""
        self._commits.record_drift(environment, kind, name, what, by)

    # -- secrets: state.resource_secrets -------------------------------------------------

    def read_secret(self, environment: str, kind: str, name: str,
                    secret_kind: SecretKind) -> str:
        """The current signing or HMAC secret of a resource, decrypted."""
        return self._secrets.read_secret(environment, kind, name, secret_kind)

    def signing_secrets(self, environment: str, kind: str, name: str,
                        secret_kind: SecretKind) -> list[str]:
        """Every valid signing or HMAC secret, the current one first."""
        return self._secrets.signing_secrets(environment, kind, name, secret_kind)

    def verify_token(self, environment: str, kind: str, name: str, token: str) -> bool:
        """Whether ``token`` is the resource's current token or a previous one in grace."""
        return self._secrets.verify_token(environment, kind, name, token)

    def reveal_token(self, environment: str, kind: str, name: str, *,
                     actor: str | None = None) -> str:
        """The resource's token, once (see :meth:`Secrets.reveal_token`)."""
        return self._secrets.reveal_token(environment, kind, name, actor=actor)

    def secret_info(self, environment: str, kind: str, name: str) -> list[SecretInfo]:
        """What may be shown about the resource's secrets (current first); never a value."""
        return self._secrets.secret_info(environment, kind, name)

    def resolved_values(self, environment: str, kind: str, name: str) -> dict[str, str]:
        """The resolved ``${env:…}`` values of a resource by dotted path, decrypted."""
        return self._secrets.resolved_values(environment, kind, name)

    def rotate_secret(self, environment: str, kind: str, name: str, secret_kind: SecretKind,
                      *, grace_hours: float = 24, actor: str | None = None) -> str:
        """Replace a generated secret and return the new value (see
        :meth:`Secrets.rotate_secret`)."""
        return self._secrets.rotate_secret(environment, kind, name, secret_kind,
                                           grace_hours=grace_hours, actor=actor)

    # -- audit: state.audit --------------------------------------------------------------

    def record_audit(self, environment: str, record: AuditRecord) -> AuditEntry:
        """Append an audit entry (e.g. ``promote``) without moving the serial."""
        return self._audit.record_audit(environment, record)

    def history(self, environment: str, *, limit: int | None = None) -> list[AuditEntry]:
        """The environment's audit log, newest first."""
        return self._audit.history(environment, limit=limit)

    # -- the secret key: state.keys ------------------------------------------------------

    def fingerprint(self, value: str) -> str:
        """Keyed fingerprint of a resolved value, as stored in ``AppliedResource.fingerprints``."""
        return self._keys.fingerprint(value)

    def plan_file_key(self) -> bytes:
        """The key that authenticates saved plan files made against this state."""
        return self._keys.plan_file_key()

    def rekey(self, new_key: str, *, actor: str | None = None) -> RekeyResult:
        """Re-encrypt everything under ``new_key``, all or nothing (see :meth:`Keys.rekey`);
        this store uses the new key afterwards."""
        return self._keys.rekey(new_key, actor=actor)

    def check_secrets(self) -> int:
        """Decrypt every stored secret and resolved value set (``hookplane doctor``)."""
        return self._keys.check_secrets()
