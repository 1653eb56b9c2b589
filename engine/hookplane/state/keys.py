"""The state's secret key: checking it, re-keying under a new one, decrypting everything.

A state database remembers a check value of the key it was first used with (``key_check``
in ``hookplane_meta``): a process with another key refuses to open it, and one that opened
it before a re-key refuses to write ciphertext after. :class:`Keys` holds the
:class:`~hookplane.state.crypto.SecretBox` in use; the repositories that encrypt or decrypt
(commits, secrets, snapshots) read it from here, so a re-key switches all of them at once.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from hookplane.errors import SecretError, StateError
from hookplane.state import tables as t
from hookplane.state._common import utc_now
from hookplane.state._environment import current_serial
from hookplane.state.audit import AuditRecord, append_audit, current_actor
from hookplane.state.crypto import (
    KEY_FILE_NAME,
    SECRET_KEY_ENV,
    SecretBox,
    install_key_file,
    read_staged_key,
)
from hookplane.state.database import Database, Repository
from hookplane.state.db import STATE_DIR, sqlite_path

__all__ = ["Keys", "RekeyResult", "key_file_for"]

_KEY_CHECK = "key_check"


@dataclass(frozen=True)
class RekeyResult:
    """What :meth:`Keys.rekey` re-encrypted."""

    secrets: int
    resources: int
    """Resources whose resolved ``${env:}`` values are stored (re-encrypted, re-fingerprinted)."""
    environments: list[str]


class Keys(Repository):
    """The secret key of one state database and what is encrypted under it."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        super().__init__(db)
        self._box = box

    @property
    def box(self) -> SecretBox:
        """The key in use (replaced by :meth:`rekey` and :meth:`finish_rekey`)."""
        return self._box

    def fingerprint(self, value: str) -> str:
        """Keyed fingerprint of a resolved value, as stored in ``AppliedResource.fingerprints``."""
        return self._box.fingerprint(value)

    def plan_file_key(self) -> bytes:
        """The key that authenticates saved plan files made against this state."""
        return self._box.plan_file_key()

    def check_key(self) -> None:
        """Refuse a secret key other than the one the database was first used with (the
        first to open it records its key)."""
        with self._read() as conn:
            stored = _stored_check(conn)
        if stored is None:
            try:
                with self._write() as conn:
                    stored = _stored_check(conn)
                    if stored is None:
                        conn.execute(insert(t.meta).values(key=_KEY_CHECK,
                                                           value=self._box.key_check))
                        return
            except StateError as exc:
                if not isinstance(exc.__cause__, IntegrityError):
                    raise
                with self._read() as conn:
                    stored = _stored_check(conn)
        if stored != self._box.key_check:
            raise SecretError(
                f"the secret key does not match the one the state database "
                f"{self._db.url_display} was created with: cannot decrypt its secrets. Set "
                "HOOKPLANE_SECRET_KEY to that key (or restore its key file)."
            )

    def finish_rekey(self, key_file: Path | None) -> bool:
        """A re-key committed but was interrupted before its new key replaced the key file:
        finish it (the staged key matches the database). False when there is nothing to
        finish, or the key in use comes from ``HOOKPLANE_SECRET_KEY``."""
        if key_file is None or os.environ.get(SECRET_KEY_ENV):
            return False
        staged = read_staged_key(key_file)
        if staged is None:
            return False
        box = SecretBox(staged, source=f"key file {key_file}.new")
        with self._read() as conn:
            stored = _stored_check(conn)
        if stored != box.key_check:
            return False
        install_key_file(key_file)
        self._box = box
        return True

    def same_key(self, conn: Connection) -> None:
        """Inside a write that stores ciphertext: refuse when the state was re-keyed since
        this process opened it (what it would write, the new key could not read)."""
        stored = _stored_check(conn)
        if stored is not None and stored != self._box.key_check:
            raise SecretError(
                f"the state database {self._db.url_display} was re-keyed after this process "
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
        who = actor or current_actor()
        s, r = t.secrets, t.resources
        with self._write() as conn:
            if self._postgres:  # no secret is written under the old key meanwhile
                conn.execute(text(f"LOCK TABLE {t.meta.name}, {t.secrets.name}, "
                                  f"{t.resources.name} IN EXCLUSIVE MODE"))
            self.same_key(conn)
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
            conn.execute(update(t.meta).where(t.meta.c.key == _KEY_CHECK)
                         .values(value=box.key_check))
            environments = list(conn.scalars(select(t.environments.c.name)
                                             .order_by(t.environments.c.name)))
            details = {"secrets": len(secret_rows), "resources": len(resource_rows)}
            for environment in environments:
                append_audit(conn, environment, current_serial(conn, environment),
                             AuditRecord(action="rekey", actor=who, details=details), at=now)
        self._box = box
        return RekeyResult(secrets=len(secret_rows), resources=len(resource_rows),
                           environments=environments)

    def check_secrets(self) -> int:
        """Decrypt every stored secret and resolved value set (``hookplane doctor``): their
        count, or the :class:`SecretError` of the first that does not decrypt."""
        s, r = t.secrets, t.resources
        with self._read() as conn:
            texts = [*conn.scalars(select(s.c.ciphertext).where(s.c.ciphertext.is_not(None))),
                     *conn.scalars(select(r.c.values_ciphertext)
                                   .where(r.c.values_ciphertext.is_not(None)))]
        for ciphertext in texts:
            self._box.decrypt(ciphertext)
        return len(texts)


def key_file_for(url: str, *, root: Path) -> Path | None:
    """Where an embedded database keeps its key: beside the SQLite file (None for a server)."""
    if not url.startswith("sqlite"):
        return None
    database = sqlite_path(url)
    directory = database.parent if database is not None else root / STATE_DIR
    return directory / KEY_FILE_NAME


def _stored_check(conn: Connection) -> str | None:
    return conn.scalar(select(t.meta.c.value).where(t.meta.c.key == _KEY_CHECK))
