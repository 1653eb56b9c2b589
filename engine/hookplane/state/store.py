"""The state store: applied resources, serial and lineage, locks, secrets and the audit log.

:class:`Store` is the only door to the state database. Every change to an environment runs
in one transaction that first takes the environment's row (``SELECT … FOR UPDATE`` on
PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so concurrent writers queue instead of
interleaving, and moves the environment's serial by one, so a reader (the planner, the
runtime) can tell in one cheap query whether anything changed. SQLAlchemy errors never leave
this module: they become :class:`~hookplane.errors.StateError` and its subclasses.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets as _random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from sqlalchemy import Engine, Text, delete, insert, select, text, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from hookplane.config.applied import (
    ID_PREFIXES,
    AppliedResource,
    DriftEvent,
    SecretKind,
    Snapshot,
    canonical_hash,
)
from hookplane.errors import (
    DatabaseUnavailable,
    LockError,
    SecretError,
    StaleStateError,
    StateError,
)
from hookplane.state import tables as t
from hookplane.state._common import DbRow, aware, clip, iso, new_id, utc_now
from hookplane.state.crypto import (
    KEY_FILE_NAME,
    SECRET_KEY_ENV,
    SecretBox,
    display_prefix,
    hash_token,
    install_key_file,
    new_signing_secret,
    new_token,
    read_staged_key,
)
from hookplane.state.database import Database
from hookplane.state.db import STATE_DIR, make_engine, resolve_url, sqlite_path
from hookplane.state.migrate import upgrade
from hookplane.state.operations import Create, Delete, Move, Operation, Update
from hookplane.state.runtime import RuntimeStore
from hookplane.state.view import RuntimeResource, RuntimeSecret, RuntimeView

__all__ = [
    "AuditEntry",
    "AuditRecord",
    "CommitResult",
    "DatabaseUnavailable",
    "LockInfo",
    "SecretInfo",
    "Store",
]

_SECRET_KINDS: tuple[SecretKind, ...] = ("signing_secret", "hmac_secret", "token")
_SECRET_LABELS = {"signing_secret": "signing secret", "hmac_secret": "HMAC secret",
                  "token": "token"}
_CURRENT = "current"
_PREVIOUS = "previous"


@dataclass(frozen=True)
class LockInfo:
    """Who holds an environment's lock, for what, since when."""

    id: str
    environment: str
    who: str
    operation: str
    created_at: str


@dataclass(frozen=True)
class AuditRecord:
    """What to write to the audit log (the caller's part of an entry)."""

    action: str
    """``apply``, ``promote``, ``force-unlock``, ``rotate-secret``, ``reveal-token`` …"""
    actor: str
    git_commit: str | None = None
    plan_digest: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RekeyResult:
    """What :meth:`Store.rekey` re-encrypted."""

    secrets: int
    resources: int
    """Resources whose resolved ``${env:}`` values are stored (re-encrypted, re-fingerprinted)."""
    environments: list[str]


@dataclass(frozen=True)
class AuditEntry:
    """One audit log entry as stored: the record plus id, environment serial and time."""

    id: int
    environment: str
    serial: int
    at: str
    action: str
    actor: str
    git_commit: str | None
    plan_digest: str | None
    details: dict[str, Any]

    @property
    def record(self) -> AuditRecord:
        return AuditRecord(action=self.action, actor=self.actor, git_commit=self.git_commit,
                           plan_digest=self.plan_digest, details=self.details)


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a stored secret: never its value."""

    kind: SecretKind
    display_prefix: str
    status: str
    """``current``, or ``previous`` (still valid until ``expires_at``)."""
    created_at: str
    expires_at: str | None
    revealable: bool
    """The value can still be shown: always for signing and HMAC secrets, once for a token."""


@dataclass(frozen=True)
class CommitResult:
    serial: int
    lineage: str
    ids: dict[str, str] = field(default_factory=dict)
    """Address -> id of every resource created or moved by the commit."""


class Store:
    """The state database of a project. Open it with :meth:`Store.open`."""

    def __init__(self, engine: Engine, box: SecretBox, *, url: str) -> None:
        self._db = Database(engine, url=url)
        self._box = box

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str | None = None, *, root: Path) -> Store:
        """Connect, bring the schema up to date and load the secret key.

        ``url`` defaults to ``$HOOKPLANE_DATABASE_URL``, then to the SQLite database at
        ``ROOT/.hookplane/state.db``.
        """
        resolved = resolve_url(url, root=root)
        key_file = _key_file(resolved, root=root)
        box = SecretBox.from_environment(key_file=key_file)
        engine = make_engine(url, root=root)
        store = cls(engine, box, url=resolved)
        try:
            try:
                upgrade(engine)
            except SQLAlchemyError as exc:
                raise store._db.error(exc) from exc
            try:
                store._check_key()
            except SecretError:
                if not store._finish_rekey(key_file):
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

    def fingerprint(self, value: str) -> str:
        """Keyed fingerprint of a resolved value, as stored in ``AppliedResource.fingerprints``."""
        return self._box.fingerprint(value)

    def plan_file_key(self) -> bytes:
        """The key that authenticates saved plan files made against this state."""
        return self._box.plan_file_key()

    # -- reading -------------------------------------------------------------------------

    def environments(self) -> list[str]:
        """Names of the environments that have state, sorted."""
        with self._db.transaction() as conn:
            return list(conn.scalars(select(t.environments.c.name)
                                     .order_by(t.environments.c.name)))

    def serial(self, environment: str) -> int:
        """The environment's serial (0 if never written): one indexed lookup."""
        with self._db.transaction() as conn:
            value = conn.scalar(select(t.environments.c.serial)
                                .where(t.environments.c.name == environment))
        return int(value or 0)

    def snapshot(self, environment: str) -> Snapshot:
        """The applied state of ``environment`` (serial 0 and no lineage if never written)."""
        r = t.resources
        with self._db.transaction() as conn:
            env = conn.execute(select(t.environments.c.lineage, t.environments.c.serial)
                               .where(t.environments.c.name == environment)).first()
            if env is None:
                return Snapshot(environment=environment, lineage="", serial=0)
            rows = conn.execute(
                select(r.c.id, r.c.kind, r.c.name, r.c.spec, r.c.fingerprints,
                       r.c.applied_hash, r.c.drift, r.c.created_at, r.c.updated_at)
                .where(r.c.environment == environment)
                .order_by(r.c.kind, r.c.name)
            ).all()
            held = conn.execute(
                select(t.secrets.c.resource_id, t.secrets.c.secret_kind).distinct()
                .join(r, r.c.id == t.secrets.c.resource_id)
                .where(r.c.environment == environment, t.secrets.c.status == _CURRENT)
            ).all()
        generated: dict[str, set[str]] = {}
        for resource_id, secret_kind in held:
            generated.setdefault(resource_id, set()).add(secret_kind)
        resources: dict[str, AppliedResource] = {}
        for row in rows:
            applied = AppliedResource(
                id=row.id, kind=row.kind, name=row.name, spec=row.spec,
                fingerprints=dict(row.fingerprints),
                generated=tuple(sorted(generated.get(row.id, ()))),
                applied_hash=row.applied_hash,
                drift=tuple(DriftEvent(**event) for event in row.drift),
                created_at=iso(row.created_at), updated_at=iso(row.updated_at),
            )
            resources[applied.address] = applied
        return Snapshot(environment=environment, lineage=env.lineage, serial=env.serial,
                        resources=resources)

    def runtime_view(self, environment: str) -> RuntimeView:
        """Every applied resource of ``environment`` with its decrypted values and valid
        secrets, read in one transaction (three queries): what the runtime keeps in memory
        until the serial moves. Secrets whose grace period has ended are left out."""
        r, s = t.resources, t.secrets
        with self._db.transaction() as conn:
            env = conn.execute(select(t.environments.c.lineage, t.environments.c.serial)
                               .where(t.environments.c.name == environment)).first()
            if env is None:
                return RuntimeView(environment=environment, lineage="", serial=0)
            rows = conn.execute(
                select(r.c.id, r.c.kind, r.c.name, r.c.spec, r.c.values_ciphertext,
                       r.c.created_at, r.c.updated_at)
                .where(r.c.environment == environment).order_by(r.c.kind, r.c.name)
            ).all()
            secret_rows = conn.execute(
                select(s).join(r, r.c.id == s.c.resource_id)
                .where(r.c.environment == environment)
                .order_by(s.c.resource_id, s.c.created_at.desc(), s.c.id)
            ).all()
        now = utc_now()
        held: dict[str, list[RuntimeSecret]] = {}
        for row in secret_rows:
            expires = aware(row.expires_at) if row.expires_at is not None else None
            if row.status != _CURRENT and (expires is None or expires <= now):
                continue
            token = row.secret_kind == "token"
            held.setdefault(row.resource_id, []).append(RuntimeSecret(
                kind=row.secret_kind, status=row.status,
                value=None if token or row.ciphertext is None
                else self._box.decrypt(row.ciphertext),
                token_hash=row.token_hash if token else None,
                display_prefix=row.display_prefix, created_at=iso(row.created_at),
                expires_at=expires))
        resources: list[RuntimeResource] = []
        for row in rows:
            values = (cast(dict[str, str], json.loads(self._box.decrypt(row.values_ciphertext)))
                      if row.values_ciphertext is not None else {})
            secrets = held.get(row.id, [])
            secrets.sort(key=lambda secret: secret.status != _CURRENT)  # stable: newest first
            resources.append(RuntimeResource(
                id=row.id, kind=row.kind, name=row.name, spec=row.spec, values=values,
                stored_secrets=tuple(secrets), created_at=iso(row.created_at),
                updated_at=iso(row.updated_at)))
        return RuntimeView(environment=environment, lineage=env.lineage, serial=env.serial,
                           resources=tuple(resources))

    def runtime(self) -> RuntimeStore:
        """The runtime's storage (records, outbox, inbound log, jobs) on this database."""
        return RuntimeStore(self._db)

    # -- locks ---------------------------------------------------------------------------

    def acquire_lock(self, environment: str, *, who: str, operation: str,
                     timeout: float = 0.0) -> LockInfo:
        """Take the environment's lock, or raise :class:`LockError` describing the holder;
        with ``timeout`` (seconds), keep trying that long first (``--lock-timeout``)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                return self._try_lock(environment, who=who, operation=operation)
            except LockError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))

    def _try_lock(self, environment: str, *, who: str, operation: str) -> LockInfo:
        now = utc_now()
        mine = LockInfo(id=str(uuid.uuid4()), environment=environment, who=clip(who),
                        operation=clip(operation, 40), created_at=iso(now))
        for _attempt in range(5):
            try:
                with self._db.transaction(write=True) as conn:
                    holder = self._lock_row(conn, environment)
                    if holder is None:
                        conn.execute(insert(t.locks).values(
                            environment=environment, lock_id=mine.id, who=mine.who,
                            operation=mine.operation, created_at=now, info=None))
                        return mine
            except StateError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    continue  # another process inserted between our read and write
                raise
            raise LockError(_lock_held_message(_lock_info(holder)))
        raise LockError(f"Error acquiring the state lock\n\nthe lock on '{environment}' "
                        "keeps changing hands; try again")

    def release_lock(self, environment: str, lock_id: str) -> None:
        """Release a lock taken with :meth:`acquire_lock`.

        Raises :class:`LockError` if the lock is no longer this one (someone force-unlocked
        it meanwhile); another holder's lock is never removed.
        """
        with self._db.transaction(write=True) as conn:
            deleted = conn.execute(delete(t.locks).where(t.locks.c.environment == environment,
                                                         t.locks.c.lock_id == lock_id))
            if deleted.rowcount == 1:
                return
            holder = self._lock_row(conn, environment)
        situation = ("it is now held by " + _describe_lock(_lock_info(holder))
                     if holder is not None else "no lock is held")
        raise LockError(f"Error releasing the state lock of '{environment}': lock {lock_id} "
                        f"was force-unlocked while this operation ran; {situation}.")

    def force_unlock(self, environment: str, lock_id: str, *, actor: str | None = None) -> None:
        """Remove a lock left by an interrupted run, given its ID; audited as ``force-unlock``."""
        with self._db.transaction(write=True) as conn:
            holder = self._lock_row(conn, environment)
            if holder is None:
                raise LockError(f"'{environment}' is not locked: there is nothing to unlock.")
            info = _lock_info(holder)
            if info.id != lock_id:
                raise LockError(
                    f"the lock on '{environment}' has ID {info.id}, not {lock_id}; it is held "
                    f"by {_describe_lock(info)}. Nothing was unlocked."
                )
            conn.execute(delete(t.locks).where(t.locks.c.environment == environment,
                                               t.locks.c.lock_id == lock_id))
            self._append_audit(conn, environment, self._current_serial(conn, environment),
                               AuditRecord(action="force-unlock",
                                           actor=actor or _default_actor(),
                                           details={"lock_id": info.id, "who": info.who,
                                                    "operation": info.operation,
                                                    "created_at": info.created_at}))

    @contextmanager
    def lock(self, environment: str, *, who: str, operation: str) -> Iterator[LockInfo]:
        """Hold the environment's lock for the ``with`` block."""
        info = self.acquire_lock(environment, who=who, operation=operation)
        failed = False
        try:
            yield info
        except BaseException:
            failed = True
            raise
        finally:
            try:
                self.release_lock(environment, info.id)
            except LockError:
                if not failed:
                    raise

    # -- applying ------------------------------------------------------------------------

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
        with self._db.transaction(write=True) as conn:
            env = self._environment_for_update(conn, environment)
            self._same_key(conn)
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
                _check_fresh(environment, env, expected_lineage, expected_serial)
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
            batch = _Batch(self, conn, environment, now)
            for done, operation in enumerate(operations, start=1):
                batch.apply(operation)
                if progress is not None and (done % 100 == 0 or done == len(operations)):
                    progress(done)
            batch.flush()
            self._append_audit(conn, environment, serial, audit, at=now)
        return CommitResult(serial=serial, lineage=lineage, ids=batch.ids)

    def _content(self, spec: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
        return {
            "spec": spec,
            "values_ciphertext": (self._box.encrypt(json.dumps(values, sort_keys=True))
                                  if values else None),
            "fingerprints": {path: self._box.fingerprint(value)
                             for path, value in sorted(values.items())},
            "applied_hash": canonical_hash(spec),
            "drift": [],
        }

    # -- secrets -------------------------------------------------------------------------

    def read_secret(self, environment: str, kind: str, name: str,
                    secret_kind: SecretKind) -> str:
        """The current signing or HMAC secret of a resource, decrypted."""
        address = f"{kind}.{name}"
        if secret_kind == "token":
            raise SecretError(f"the token of {address} is stored only as a hash and cannot be "
                              "read back; it is shown once by 'reveal' (rotate it for a new one)")
        with self._db.transaction() as conn:
            resource_id = self._require(conn, environment, kind, name, "read a secret of")
            row = self._current_secret(conn, resource_id, secret_kind)
        if row is None or row.ciphertext is None:
            raise SecretError(f"{address} in '{environment}' has no "
                              f"{_label(secret_kind)}")
        return self._box.decrypt(row.ciphertext)

    def signing_secrets(self, environment: str, kind: str, name: str,
                        secret_kind: SecretKind) -> list[str]:
        """Every valid signing or HMAC secret: the current one first, then any ``previous``
        one still inside its grace period (sign with all, accept any)."""
        if secret_kind == "token":
            raise SecretError("tokens cannot be read back; use verify_token")
        with self._db.transaction() as conn:
            resource_id = self._require(conn, environment, kind, name, "read a secret of")
            rows = self._valid_secrets(conn, resource_id, secret_kind)
        return [self._box.decrypt(row.ciphertext) for row in rows
                if row.ciphertext is not None]

    def verify_token(self, environment: str, kind: str, name: str, token: str) -> bool:
        """Whether ``token`` is the resource's current token or a previous one in grace."""
        candidate = hash_token(token)
        with self._db.transaction() as conn:
            resource_id = self._resource_id(conn, environment, kind, name)
            if resource_id is None:
                return False
            rows = self._valid_secrets(conn, resource_id, "token")
        return any(row.token_hash is not None and _random.compare_digest(row.token_hash,
                                                                         candidate)
                   for row in rows)

    def reveal_token(self, environment: str, kind: str, name: str, *,
                     actor: str | None = None) -> str:
        """The resource's token, once: its encrypted copy is deleted as it is returned."""
        address = f"{kind}.{name}"
        with self._db.transaction(write=True) as conn:
            resource_id = self._require(conn, environment, kind, name, "reveal the token of")
            row = self._current_secret(conn, resource_id, "token")
            if row is None:
                raise SecretError(f"{address} in '{environment}' has no token")
            revealed = None
            if row.ciphertext is not None:
                revealed = conn.execute(
                    update(t.secrets)
                    .where(t.secrets.c.id == row.id, t.secrets.c.ciphertext.is_not(None))
                    .values(ciphertext=None)
                ).rowcount
            if not revealed:
                raise SecretError(
                    f"the token of {address} in '{environment}' was already revealed; only "
                    f"its prefix {row.display_prefix}… remains. To get a new token, rotate "
                    f"it: hookplane {kind.replace('_', '-')} rotate-secret {environment} {name}"
                )
            token = self._box.decrypt(row.ciphertext)
            self._append_audit(conn, environment, self._current_serial(conn, environment),
                               AuditRecord(action="reveal-token",
                                           actor=actor or _default_actor(),
                                           details={"address": address,
                                                    "prefix": row.display_prefix}))
        return token

    def secret_info(self, environment: str, kind: str, name: str) -> list[SecretInfo]:
        """What may be shown about the resource's secrets (current first); never a value."""
        with self._db.transaction() as conn:
            resource_id = self._require(conn, environment, kind, name, "describe the secrets of")
            rows: list[DbRow] = []
            for secret_kind in _SECRET_KINDS:
                rows.extend(self._valid_secrets(conn, resource_id, secret_kind))
        return [SecretInfo(kind=row.secret_kind, display_prefix=row.display_prefix,
                           status=row.status, created_at=iso(row.created_at),
                           expires_at=iso(row.expires_at) if row.expires_at else None,
                           revealable=row.ciphertext is not None)
                for row in rows]

    def resolved_values(self, environment: str, kind: str, name: str) -> dict[str, str]:
        """The resolved ``${env:…}`` values of a resource by dotted path, decrypted."""
        with self._db.transaction() as conn:
            ciphertext = conn.scalar(select(t.resources.c.values_ciphertext).where(
                *_address(environment, kind, name)))
            if ciphertext is None:
                self._require(conn, environment, kind, name, "read the values of")
                return {}
        values = json.loads(self._box.decrypt(ciphertext))
        return cast(dict[str, str], values)

    def rotate_secret(self, environment: str, kind: str, name: str, secret_kind: SecretKind,
                      *, grace_hours: float = 24, actor: str | None = None) -> str:
        """Replace a generated secret and return the new value (show it once).

        The old secret becomes ``previous`` and stays valid for ``grace_hours``. Recorded as
        drift on the resource and in the audit log; moves the serial so that the runtime
        picks the new secret up. Takes the environment's lock, like an apply: a rotation
        never lands in the middle of someone's plan-then-apply.
        """
        if grace_hours < 0:
            raise StateError("grace_hours cannot be negative")
        lock = self.acquire_lock(environment, who=actor or _default_actor(),
                                 operation="rotate-secret")
        try:
            return self._rotate_secret(environment, kind, name, secret_kind,
                                       grace_hours=grace_hours, actor=actor)
        finally:
            self.release_lock(environment, lock.id)

    def _rotate_secret(self, environment: str, kind: str, name: str, secret_kind: SecretKind,
                       *, grace_hours: float, actor: str | None) -> str:
        address = f"{kind}.{name}"
        who = actor or _default_actor()
        now = utc_now()
        expires = now + timedelta(hours=grace_hours)
        with self._db.transaction(write=True) as conn:
            env = self._environment_for_update(conn, environment)
            self._same_key(conn)
            resource_id = self._require(conn, environment, kind, name, "rotate a secret of")
            current = self._current_secret(conn, resource_id, secret_kind)
            if env is None or current is None:
                raise SecretError(f"{address} in '{environment}' has no {_label(secret_kind)} "
                                  "to rotate")
            s = t.secrets
            conn.execute(delete(s).where(s.c.resource_id == resource_id,
                                         s.c.secret_kind == secret_kind,
                                         s.c.status == _PREVIOUS, s.c.expires_at <= now))
            conn.execute(update(s).where(s.c.id == current.id).values(
                status=_PREVIOUS, expires_at=expires,
                ciphertext=None if secret_kind == "token" else current.ciphertext))
            value = self._add_secret(conn, resource_id, secret_kind, now, revealable=False)
            what = (f"{_label(secret_kind)} rotated; the previous one stays valid until "
                    f"{iso(expires)}")
            serial = env.serial + 1
            self._add_drift(conn, resource_id, DriftEvent(at=iso(now), what=what, by=who))
            self._bump(conn, environment, serial, now)
            self._append_audit(conn, environment, serial, AuditRecord(
                action="rotate-secret", actor=who,
                details={"address": address, "secret_kind": secret_kind,
                         "grace_hours": grace_hours, "previous_expires_at": iso(expires)},
            ), at=now)
        return value

    # -- drift and audit -----------------------------------------------------------------

    def record_drift(self, environment: str, kind: str, name: str, what: str,
                     by: str = "runtime") -> None:
        """Note a change made outside git (shown by the next plan); moves the serial."""
        now = utc_now()
        with self._db.transaction(write=True) as conn:
            env = self._environment_for_update(conn, environment)
            resource_id = self._require(conn, environment, kind, name, "record drift on")
            if env is None:  # unreachable: a resource implies its environment
                raise StateError(f"'{environment}' has no state")
            self._add_drift(conn, resource_id, DriftEvent(at=iso(now), what=what, by=by))
            self._bump(conn, environment, env.serial + 1, now)

    def record_audit(self, environment: str, record: AuditRecord) -> AuditEntry:
        """Append an audit entry (e.g. ``promote``) without moving the serial."""
        with self._db.transaction(write=True) as conn:
            return self._append_audit(conn, environment,
                                      self._current_serial(conn, environment), record)

    def history(self, environment: str, *, limit: int | None = None) -> list[AuditEntry]:
        """The environment's audit log, newest first."""
        a = t.audit_log
        query = select(a).where(a.c.environment == environment).order_by(a.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._db.transaction() as conn:
            rows = conn.execute(query).all()
        return [_audit_entry(row) for row in rows]

    # -- helpers -------------------------------------------------------------------------




    def _finish_rekey(self, key_file: Path | None) -> bool:
        """A re-key committed but was interrupted before its new key replaced the key file:
        finish it (the staged key matches the database). False when there is nothing to
        finish, or the key in use comes from ``HOOKPLANE_SECRET_KEY``."""
        if key_file is None or os.environ.get(SECRET_KEY_ENV):
            return False
        staged = read_staged_key(key_file)
        if staged is None:
            return False
        box = SecretBox(staged, source=f"key file {key_file}.new")
        with self._db.transaction() as conn:
            stored = conn.scalar(select(t.meta.c.value).where(t.meta.c.key == "key_check"))
        if stored != box.key_check:
            return False
        install_key_file(key_file)
        self._box = box
        return True

    def _same_key(self, conn: Connection) -> None:
        """Inside a write that stores ciphertext: refuse when the state was re-keyed since
        this process opened it (what it would write, the new key could not read)."""
        stored = conn.scalar(select(t.meta.c.value).where(t.meta.c.key == "key_check"))
        if stored is not None and stored != self._box.key_check:
            raise SecretError(
                f"the state database {self.url_display} was re-keyed after this process "
                "opened it: restart it with the new HOOKPLANE_SECRET_KEY")

    def rekey(self, new_key: str, *, actor: str | None = None) -> RekeyResult:
        """Re-encrypt every stored secret and resolved value under ``new_key`` and recompute
        the keyed fingerprints and the key check, in one transaction (all or nothing),
        audited as ``rekey`` in every environment. This store uses the new key afterwards;
        every other process needs it to open the state, and saved plan files made before
        no longer verify."""
        box = SecretBox(new_key, source="the new secret key")
        if box.key_check == self._box.key_check:
            raise SecretError("the new secret key is the key in use; make a new one with: "
                              "python -c \"from cryptography.fernet import Fernet; "
                              "print(Fernet.generate_key().decode())\"")
        now = utc_now()
        who = actor or _default_actor()
        s, r = t.secrets, t.resources
        with self._db.transaction(write=True) as conn:
            if self._db.postgres:  # no secret is written under the old key meanwhile
                conn.execute(text(f"LOCK TABLE {t.meta.name}, {t.secrets.name}, "
                                  f"{t.resources.name} IN EXCLUSIVE MODE"))
            self._same_key(conn)
            secret_rows = conn.execute(select(s.c.id, s.c.ciphertext)
                                       .where(s.c.ciphertext.is_not(None))).all()
            for row in secret_rows:
                conn.execute(update(s).where(s.c.id == row.id).values(
                    ciphertext=box.encrypt(self._box.decrypt(row.ciphertext))))
            resource_rows = conn.execute(select(r.c.id, r.c.values_ciphertext)
                                         .where(r.c.values_ciphertext.is_not(None))).all()
            for row in resource_rows:
                values = cast(dict[str, str], json.loads(self._box.decrypt(
                    row.values_ciphertext)))
                conn.execute(update(r).where(r.c.id == row.id).values(
                    values_ciphertext=box.encrypt(json.dumps(values, sort_keys=True)),
                    fingerprints={path: box.fingerprint(value)
                                  for path, value in sorted(values.items())}))
            conn.execute(update(t.meta).where(t.meta.c.key == "key_check")
                         .values(value=box.key_check))
            environments = list(conn.scalars(select(t.environments.c.name)
                                             .order_by(t.environments.c.name)))
            details = {"secrets": len(secret_rows), "resources": len(resource_rows)}
            for environment in environments:
                self._append_audit(conn, environment, self._current_serial(conn, environment),
                                   AuditRecord(action="rekey", actor=who, details=details),
                                   at=now)
        self._box = box
        return RekeyResult(secrets=len(secret_rows), resources=len(resource_rows),
                           environments=environments)

    def check_secrets(self) -> int:
        """Decrypt every stored secret and resolved value set (``hookplane doctor``): their
        count, or the :class:`SecretError` of the first that does not decrypt."""
        s, r = t.secrets, t.resources
        with self._db.transaction() as conn:
            texts = [*conn.scalars(select(s.c.ciphertext).where(s.c.ciphertext.is_not(None))),
                     *conn.scalars(select(r.c.values_ciphertext)
                                   .where(r.c.values_ciphertext.is_not(None)))]
        for ciphertext in texts:
            self._box.decrypt(ciphertext)
        return len(texts)

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

    def _check_key(self) -> None:
        """Refuse a secret key other than the one the database was first used with."""
        key = "key_check"
        with self._db.transaction() as conn:
            stored = conn.scalar(select(t.meta.c.value).where(t.meta.c.key == key))
        if stored is None:
            try:
                with self._db.transaction(write=True) as conn:
                    stored = conn.scalar(select(t.meta.c.value).where(t.meta.c.key == key))
                    if stored is None:
                        conn.execute(insert(t.meta).values(key=key, value=self._box.key_check))
                        return
            except StateError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
                with self._db.transaction() as conn:
                    stored = conn.scalar(select(t.meta.c.value).where(t.meta.c.key == key))
        if stored != self._box.key_check:
            raise SecretError(
                f"the secret key does not match the one the state database {self.url_display} "
                "was created with: cannot decrypt its secrets. Set HOOKPLANE_SECRET_KEY to "
                "that key (or restore its key file)."
            )

    def _environment_for_update(self, conn: Connection, environment: str) -> DbRow | None:
        e = t.environments
        return conn.execute(select(e.c.lineage, e.c.serial).where(e.c.name == environment)
                            .with_for_update()).first()

    def _current_serial(self, conn: Connection, environment: str) -> int:
        value = conn.scalar(select(t.environments.c.serial)
                            .where(t.environments.c.name == environment))
        return int(value or 0)

    def _bump(self, conn: Connection, environment: str, serial: int, now: datetime) -> None:
        conn.execute(update(t.environments).where(t.environments.c.name == environment)
                     .values(serial=serial, updated_at=now))

    def _resource_id(self, conn: Connection, environment: str, kind: str,
                     name: str) -> str | None:
        return conn.scalar(select(t.resources.c.id).where(*_address(environment, kind, name)))

    def _require(self, conn: Connection, environment: str, kind: str, name: str,
                 verb: str) -> str:
        resource_id = self._resource_id(conn, environment, kind, name)
        if resource_id is None:
            raise StateError(f"cannot {verb} {kind}.{name}: it is not in the state of "
                             f"'{environment}'")
        return resource_id

    def _lock_row(self, conn: Connection, environment: str) -> DbRow | None:
        return conn.execute(select(t.locks).where(t.locks.c.environment == environment)).first()

    def _current_secret(self, conn: Connection, resource_id: str,
                        secret_kind: str) -> DbRow | None:
        s = t.secrets
        return conn.execute(select(s).where(s.c.resource_id == resource_id,
                                            s.c.secret_kind == secret_kind,
                                            s.c.status == _CURRENT)
                            .order_by(s.c.created_at.desc())).first()

    def _valid_secrets(self, conn: Connection, resource_id: str,
                       secret_kind: str) -> list[DbRow]:
        """Current, then previous ones whose grace period has not ended, newest first."""
        s = t.secrets
        rows = conn.execute(select(s).where(s.c.resource_id == resource_id,
                                            s.c.secret_kind == secret_kind)
                            .order_by(s.c.created_at.desc())).all()
        now = utc_now()
        current = [row for row in rows if row.status == _CURRENT]
        previous = [row for row in rows if row.status == _PREVIOUS and row.expires_at
                    is not None and aware(row.expires_at) > now]
        return [*current, *previous]

    def _add_secret(self, conn: Connection, resource_id: str, secret_kind: SecretKind,
                    now: datetime, *, revealable: bool = True) -> str:
        """Generate and store a new current secret; returns its value."""
        row, value = self._secret_row(resource_id, secret_kind, now, revealable=revealable)
        conn.execute(insert(t.secrets).values(**row))
        return value

    def _secret_row(self, resource_id: str, secret_kind: SecretKind, now: datetime, *,
                    revealable: bool = True) -> tuple[dict[str, Any], str]:
        """A new current secret's row (value encrypted or hashed) and the value itself."""
        if secret_kind == "token":
            value = new_token()
            stored = {"ciphertext": self._box.encrypt(value) if revealable else None,
                      "token_hash": hash_token(value)}
        elif secret_kind in ("signing_secret", "hmac_secret"):
            value = new_signing_secret()
            stored = {"ciphertext": self._box.encrypt(value), "token_hash": None}
        else:
            raise StateError(f"unknown secret kind '{secret_kind}'")
        # only tokens get a display prefix: a signing secret's first characters are secret
        prefix = display_prefix(value) if secret_kind == "token" else ""
        row = {"id": new_id("sec"), "resource_id": resource_id, "secret_kind": secret_kind,
               "display_prefix": prefix, "status": _CURRENT, "created_at": now,
               "expires_at": None, **stored}
        return row, value

    def _add_drift(self, conn: Connection, resource_id: str, event: DriftEvent) -> None:
        drift = conn.scalar(select(t.resources.c.drift).where(t.resources.c.id == resource_id))
        events = [*(drift or []), {"at": event.at, "what": event.what, "by": event.by}]
        conn.execute(update(t.resources).where(t.resources.c.id == resource_id)
                     .values(drift=events))

    def _append_audit(self, conn: Connection, environment: str, serial: int,
                      record: AuditRecord, *, at: datetime | None = None) -> AuditEntry:
        when = at or utc_now()
        result = conn.execute(insert(t.audit_log).values(
            environment=environment, serial=serial, action=record.action,
            actor=clip(record.actor),
            at=when, git_commit=record.git_commit, plan_digest=record.plan_digest,
            details=dict(record.details)))
        (entry_id,) = result.inserted_primary_key or (None,)
        return AuditEntry(id=int(entry_id or 0), environment=environment, serial=serial,
                          at=iso(when), action=record.action, actor=clip(record.actor),
                          git_commit=record.git_commit, plan_digest=record.plan_digest,
                          details=dict(record.details))


class _Batch:
    """Carries out one commit's operations, inserting new rows in bulk.

    The environment's addresses are read once; inserts are queued and sent as one
    ``executemany`` before anything that must see them (an update, delete or move) and at the
    end, which keeps a 10,000-resource first apply fast.
    """

    def __init__(self, store: Store, conn: Connection, environment: str,
                 now: datetime) -> None:
        self._store = store
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
            **self._store._content(operation.spec, operation.values)})
        for secret_kind in _unique(operation.generate):
            row, _value = self._store._secret_row(resource_id, secret_kind, self._now)
            self._secrets.append(row)
        self._index[(operation.kind, operation.name)] = resource_id
        self.ids[operation.address] = resource_id

    def _update(self, operation: Update) -> None:
        resource_id = self._require(operation.kind, operation.name, "update")
        self._conn.execute(update(t.resources).where(t.resources.c.id == resource_id).values(
            updated_at=self._now, **self._store._content(operation.spec, operation.values)))
        for secret_kind in _unique(operation.drop):
            self._conn.execute(delete(t.secrets).where(
                t.secrets.c.resource_id == resource_id, t.secrets.c.secret_kind == secret_kind))
        for secret_kind in _unique(operation.generate):
            if self._store._current_secret(self._conn, resource_id, secret_kind) is None:
                self._store._add_secret(self._conn, resource_id, secret_kind, self._now)

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


# -- module helpers ----------------------------------------------------------------------






def _key_file(url: str, *, root: Path) -> Path | None:
    """Where an embedded database keeps its key: beside the SQLite file (None for a server)."""
    if not url.startswith("sqlite"):
        return None
    database = sqlite_path(url)
    directory = database.parent if database is not None else root / STATE_DIR
    return directory / KEY_FILE_NAME


def _check_fresh(environment: str, env: DbRow, expected_lineage: str,
                 expected_serial: int) -> None:
    if env.lineage != expected_lineage:
        made = f"lineage {expected_lineage}" if expected_lineage else "no state"
        raise StaleStateError(
            f"Saved plan is stale: it was made against {made} of '{environment}', but the "
            f"state now has lineage {env.lineage}. Run 'hookplane plan {environment}' again."
        )
    if env.serial != expected_serial:
        raise StaleStateError(
            f"Saved plan is stale: the state of '{environment}' moved from serial "
            f"{expected_serial} to {env.serial} since the plan was made. Run 'hookplane plan "
            f"{environment}' again."
        )


def _lock_info(row: DbRow) -> LockInfo:
    return LockInfo(id=row.lock_id, environment=row.environment, who=row.who,
                    operation=row.operation, created_at=iso(row.created_at))


def _describe_lock(info: LockInfo) -> str:
    return f"{info.who} for {info.operation} since {info.created_at} (ID {info.id})"


def _lock_held_message(info: LockInfo) -> str:
    return (
        "Error acquiring the state lock\n"
        "\n"
        f"The state of '{info.environment}' is locked by another operation.\n"
        "Lock Info:\n"
        f"  ID:          {info.id}\n"
        f"  Environment: {info.environment}\n"
        f"  Who:         {info.who}\n"
        f"  Operation:   {info.operation}\n"
        f"  Created:     {info.created_at}\n"
        "\n"
        "Hookplane locks an environment's state while it changes it, so that two people or\n"
        "pipelines cannot write it at the same time. Wait for the operation above to finish\n"
        "and try again. If you are sure no one else is running, release the lock with:\n"
        f"  hookplane force-unlock {info.environment} {info.id}"
    )


def _audit_entry(row: DbRow) -> AuditEntry:
    return AuditEntry(id=int(row.id), environment=row.environment, serial=row.serial,
                      at=iso(row.at), action=row.action, actor=row.actor,
                      git_commit=row.git_commit, plan_digest=row.plan_digest,
                      details=dict(row.details or {}))


def _address(environment: str, kind: str, name: str) -> tuple[Any, ...]:
    r = t.resources
    return (r.c.environment == environment, r.c.kind == kind, r.c.name == name)




def _unique(kinds: Iterable[SecretKind]) -> list[SecretKind]:
    return list(dict.fromkeys(kinds))


def _label(secret_kind: str) -> str:
    return _SECRET_LABELS.get(secret_kind, secret_kind)






ACTOR_VAR = "HOOKPLANE_ACTOR"
_CI_ACTORS = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "CIRCLE_USERNAME",
              "BITBUCKET_STEP_TRIGGERER_UUID")


def current_actor(environ: Mapping[str, str] | None = None) -> str:
    """Who the audit log says did something, one rule for every audited operation:
    ``HOOKPLANE_ACTOR`` when set (CI sets it to the person or bot behind the run), else the
    CI system's actor (``GITHUB_ACTOR`` …, marked ``(ci:github)``), else the OS user —
    ``$USER``/``$USERNAME``, or the account the process runs as when they are unset (a
    container), else ``uid:N``."""
    env = os.environ if environ is None else environ
    given = env.get(ACTOR_VAR, "").strip()
    if given:
        return given
    for name in _CI_ACTORS:
        value = env.get(name)
        if value:
            return f"{value} (ci:{name.split('_')[0].lower()})"
    user = env.get("USER") or env.get("USERNAME")
    if user:
        return user
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _default_actor() -> str:
    return current_actor()







