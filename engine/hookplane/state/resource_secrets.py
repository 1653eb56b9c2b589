"""The secrets Hookplane generates for resources: signing secrets, HMAC secrets, tokens.

Signing and HMAC secrets are stored encrypted and can be read back; a token is stored as a
hash, its encrypted copy kept only until it is revealed once. Rotating a secret keeps the
old one valid (``previous``) for a grace period. The resolved ``${env:}`` values of a
resource are read here too. Nothing here ever puts a value in an error message.
"""

from __future__ import annotations

import json
import secrets as _random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from hookplane.config.applied import DriftEvent, SecretKind
from hookplane.errors import SecretError, StateError
from hookplane.state import tables as t
from hookplane.state._common import DbRow, aware, iso, new_id, utc_now
from hookplane.state._environment import (
    add_drift,
    address,
    bump,
    current_serial,
    environment_for_update,
    require,
    resource_id,
)
from hookplane.state.audit import AuditRecord, append_audit, current_actor
from hookplane.state.crypto import (
    SecretBox,
    display_prefix,
    hash_token,
    new_signing_secret,
    new_token,
)
from hookplane.state.database import Database, Repository
from hookplane.state.keys import Keys
from hookplane.state.locks import Locks

__all__ = ["SecretInfo", "Secrets"]

CURRENT: Final = "current"
"""The status of a resource's secret in use."""
PREVIOUS: Final = "previous"
"""The status of a rotated secret, valid until its ``expires_at``."""

_SECRET_KINDS: tuple[SecretKind, ...] = ("signing_secret", "hmac_secret", "token")
_SECRET_LABELS = {"signing_secret": "signing secret", "hmac_secret": "HMAC secret",
                  "token": "token"}


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


class Secrets(Repository):
    """The generated secrets and resolved values of the resources on one database."""

    def __init__(self, db: Database, keys: Keys, locks: Locks) -> None:
        super().__init__(db)
        self._keys = keys
        self._locks = locks

    def read_secret(self, environment: str, kind: str, name: str,
                    secret_kind: SecretKind) -> str:
        """The current signing or HMAC secret of a resource, decrypted."""
        where = f"{kind}.{name}"
        if secret_kind == "token":
            raise SecretError(f"the token of {where} is stored only as a hash and cannot be "
                              "read back; it is shown once by 'reveal' (rotate it for a new one)")
        with self._read() as conn:
            found = require(conn, environment, kind, name, "read a secret of")
            row = current_secret(conn, found, secret_kind)
        if row is None or row.ciphertext is None:
            raise SecretError(f"{where} in '{environment}' has no {_label(secret_kind)}")
        return self._keys.box.decrypt(row.ciphertext)

    def signing_secrets(self, environment: str, kind: str, name: str,
                        secret_kind: SecretKind) -> list[str]:
        """Every valid signing or HMAC secret: the current one first, then any ``previous``
        one still inside its grace period (sign with all, accept any)."""
        if secret_kind == "token":
            raise SecretError("tokens cannot be read back; use verify_token")
        with self._read() as conn:
            found = require(conn, environment, kind, name, "read a secret of")
            rows = _valid_secrets(conn, found, secret_kind)
        box = self._keys.box
        return [box.decrypt(row.ciphertext) for row in rows if row.ciphertext is not None]

    def verify_token(self, environment: str, kind: str, name: str, token: str) -> bool:
        """Whether ``token`` is the resource's current token or a previous one in grace."""
        candidate = hash_token(token)
        with self._read() as conn:
            found = resource_id(conn, environment, kind, name)
            if found is None:
                return False
            rows = _valid_secrets(conn, found, "token")
        return any(row.token_hash is not None and _random.compare_digest(row.token_hash,
                                                                         candidate)
                   for row in rows)

    def reveal_token(self, environment: str, kind: str, name: str, *,
                     actor: str | None = None) -> str:
        """The resource's token, once: its encrypted copy is deleted as it is returned."""
        where = f"{kind}.{name}"
        with self._write() as conn:
            found = require(conn, environment, kind, name, "reveal the token of")
            row = current_secret(conn, found, "token")
            if row is None:
                raise SecretError(f"{where} in '{environment}' has no token")
            revealed = None
            if row.ciphertext is not None:
                revealed = conn.execute(
                    update(t.secrets)
                    .where(t.secrets.c.id == row.id, t.secrets.c.ciphertext.is_not(None))
                    .values(ciphertext=None)
                ).rowcount
            if not revealed:
                raise SecretError(
                    f"the token of {where} in '{environment}' was already revealed; only "
                    f"its prefix {row.display_prefix}… remains. To get a new token, rotate "
                    f"it: hookplane {kind.replace('_', '-')} rotate-secret {environment} {name}"
                )
            token = self._keys.box.decrypt(row.ciphertext)
            append_audit(conn, environment, current_serial(conn, environment),
                         AuditRecord(action="reveal-token", actor=actor or current_actor(),
                                     details={"address": where,
                                              "prefix": row.display_prefix}))
        return token

    def secret_info(self, environment: str, kind: str, name: str) -> list[SecretInfo]:
        """What may be shown about the resource's secrets (current first); never a value."""
        with self._read() as conn:
            found = require(conn, environment, kind, name, "describe the secrets of")
            rows: list[DbRow] = []
            for secret_kind in _SECRET_KINDS:
                rows.extend(_valid_secrets(conn, found, secret_kind))
        return [SecretInfo(kind=row.secret_kind, display_prefix=row.display_prefix,
                           status=row.status, created_at=iso(row.created_at),
                           expires_at=iso(row.expires_at) if row.expires_at else None,
                           revealable=row.ciphertext is not None)
                for row in rows]

    def resolved_values(self, environment: str, kind: str, name: str) -> dict[str, str]:
        """The resolved ``${env:…}`` values of a resource by dotted path, decrypted."""
        with self._read() as conn:
            ciphertext = conn.scalar(select(t.resources.c.values_ciphertext).where(
                *address(environment, kind, name)))
            if ciphertext is None:
                require(conn, environment, kind, name, "read the values of")
                return {}
        values = json.loads(self._keys.box.decrypt(ciphertext))
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
        lock = self._locks.acquire_lock(environment, who=actor or current_actor(),
                                        operation="rotate-secret")
        try:
            return self._rotate_secret(environment, kind, name, secret_kind,
                                       grace_hours=grace_hours, actor=actor)
        finally:
            self._locks.release_lock(environment, lock.id)

    def _rotate_secret(self, environment: str, kind: str, name: str, secret_kind: SecretKind,
                       *, grace_hours: float, actor: str | None) -> str:
        where = f"{kind}.{name}"
        who = actor or current_actor()
        now = utc_now()
        expires = now + timedelta(hours=grace_hours)
        with self._write() as conn:
            env = environment_for_update(conn, environment)
            self._keys.same_key(conn)
            found = require(conn, environment, kind, name, "rotate a secret of")
            current = current_secret(conn, found, secret_kind)
            if env is None or current is None:
                raise SecretError(f"{where} in '{environment}' has no {_label(secret_kind)} "
                                  "to rotate")
            s = t.secrets
            conn.execute(delete(s).where(s.c.resource_id == found,
                                         s.c.secret_kind == secret_kind,
                                         s.c.status == PREVIOUS, s.c.expires_at <= now))
            conn.execute(update(s).where(s.c.id == current.id).values(
                status=PREVIOUS, expires_at=expires,
                ciphertext=None if secret_kind == "token" else current.ciphertext))
            value = add_secret(conn, self._keys.box, found, secret_kind, now, revealable=False)
            what = (f"{_label(secret_kind)} rotated; the previous one stays valid until "
                    f"{iso(expires)}")
            serial = env.serial + 1
            add_drift(conn, found, DriftEvent(at=iso(now), what=what, by=who))
            bump(conn, environment, serial, now)
            append_audit(conn, environment, serial, AuditRecord(
                action="rotate-secret", actor=who,
                details={"address": where, "secret_kind": secret_kind,
                         "grace_hours": grace_hours, "previous_expires_at": iso(expires)},
            ), at=now)
        return value


def current_secret(conn: Connection, resource: str, secret_kind: str) -> DbRow | None:
    """The current secret of that kind of resource ``resource`` (an id), if any."""
    s = t.secrets
    return conn.execute(select(s).where(s.c.resource_id == resource,
                                        s.c.secret_kind == secret_kind,
                                        s.c.status == CURRENT)
                        .order_by(s.c.created_at.desc())).first()


def add_secret(conn: Connection, box: SecretBox, resource: str, secret_kind: SecretKind,
               now: datetime, *, revealable: bool = True) -> str:
    """Generate and store a new current secret; returns its value."""
    row, value = secret_row(box, resource, secret_kind, now, revealable=revealable)
    conn.execute(insert(t.secrets).values(**row))
    return value


def secret_row(box: SecretBox, resource: str, secret_kind: SecretKind, now: datetime, *,
               revealable: bool = True) -> tuple[dict[str, Any], str]:
    """A new current secret's row (value encrypted or hashed) and the value itself."""
    if secret_kind == "token":
        value = new_token()
        stored = {"ciphertext": box.encrypt(value) if revealable else None,
                  "token_hash": hash_token(value)}
    elif secret_kind in ("signing_secret", "hmac_secret"):
        value = new_signing_secret()
        stored = {"ciphertext": box.encrypt(value), "token_hash": None}
    else:
        raise StateError(f"unknown secret kind '{secret_kind}'")
    # only tokens get a display prefix: a signing secret's first characters are secret
    prefix = display_prefix(value) if secret_kind == "token" else ""
    row = {"id": new_id("sec"), "resource_id": resource, "secret_kind": secret_kind,
           "display_prefix": prefix, "status": CURRENT, "created_at": now,
           "expires_at": None, **stored}
    return row, value


def unique_kinds(kinds: Iterable[SecretKind]) -> list[SecretKind]:
    """``kinds`` without repeats, in order."""
    return list(dict.fromkeys(kinds))


def _valid_secrets(conn: Connection, resource: str, secret_kind: str) -> list[DbRow]:
    """Current, then previous ones whose grace period has not ended, newest first."""
    s = t.secrets
    rows = conn.execute(select(s).where(s.c.resource_id == resource,
                                        s.c.secret_kind == secret_kind)
                        .order_by(s.c.created_at.desc())).all()
    now = utc_now()
    current = [row for row in rows if row.status == CURRENT]
    previous = [row for row in rows if row.status == PREVIOUS and row.expires_at
                is not None and aware(row.expires_at) > now]
    return [*current, *previous]


def _label(secret_kind: str) -> str:
    return _SECRET_LABELS.get(secret_kind, secret_kind)
