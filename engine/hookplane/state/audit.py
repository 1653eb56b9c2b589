"""The audit log: who changed an environment's state, how, at which serial.

Every change to the config state appends an entry in the transaction that makes it
(:func:`append_audit`, used by commits, locks, secrets and re-keys); :class:`AuditLog`
appends one on its own (``promote``) and reads an environment's history.
:func:`current_actor` is the one rule for who an entry says did it.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from hookplane.state import tables as t
from hookplane.state._common import DbRow, clip, iso, utc_now
from hookplane.state._environment import current_serial
from hookplane.state.database import Repository

__all__ = ["ACTOR_VAR", "AuditEntry", "AuditLog", "AuditRecord", "current_actor"]

ACTOR_VAR = "HOOKPLANE_ACTOR"
_CI_ACTORS = ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR", "CIRCLE_USERNAME",
              "BITBUCKET_STEP_TRIGGERER_UUID")


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


class AuditLog(Repository):
    """The audit log of every environment on one database."""

    def record_audit(self, environment: str, record: AuditRecord) -> AuditEntry:
        """Append an audit entry (e.g. ``promote``) without moving the serial."""
        with self._write() as conn:
            return append_audit(conn, environment, current_serial(conn, environment), record)

    def history(self, environment: str, *, limit: int | None = None) -> list[AuditEntry]:
        """The environment's audit log, newest first."""
        a = t.audit_log
        query = select(a).where(a.c.environment == environment).order_by(a.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [_audit_entry(row) for row in rows]


def append_audit(conn: Connection, environment: str, serial: int, record: AuditRecord, *,
                 at: datetime | None = None) -> AuditEntry:
    """Append ``record`` to the audit log inside the caller's transaction."""
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


def _audit_entry(row: DbRow) -> AuditEntry:
    return AuditEntry(id=int(row.id), environment=row.environment, serial=row.serial,
                      at=iso(row.at), action=row.action, actor=row.actor,
                      git_commit=row.git_commit, plan_digest=row.plan_digest,
                      details=dict(row.details or {}))


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
