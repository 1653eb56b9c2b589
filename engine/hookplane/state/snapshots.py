"""Reading the applied state: environments, serials, snapshots and the runtime's view.

The serial of an environment moves by one with every change to it, so a reader (the
planner, the runtime) can tell in one cheap query whether anything changed and read the
whole state again only then. Each read runs in one transaction: one consistent snapshot.
"""

from __future__ import annotations

import json
from typing import cast

from sqlalchemy import select

from hookplane.config.applied import AppliedResource, DriftEvent, Snapshot
from hookplane.state import tables as t
from hookplane.state._common import aware, iso, utc_now
from hookplane.state.database import Database, Repository
from hookplane.state.keys import Keys
from hookplane.state.resource_secrets import CURRENT
from hookplane.state.view import RuntimeResource, RuntimeSecret, RuntimeView

__all__ = ["Snapshots"]


class Snapshots(Repository):
    """The applied state of the environments on one database."""

    def __init__(self, db: Database, keys: Keys) -> None:
        super().__init__(db)
        self._keys = keys

    def environments(self) -> list[str]:
        """Names of the environments that have state, sorted."""
        with self._read() as conn:
            return list(conn.scalars(select(t.environments.c.name)
                                     .order_by(t.environments.c.name)))

    def serial(self, environment: str) -> int:
        """The environment's serial (0 if never written): one indexed lookup."""
        with self._read() as conn:
            value = conn.scalar(select(t.environments.c.serial)
                                .where(t.environments.c.name == environment))
        return int(value or 0)

    def snapshot(self, environment: str) -> Snapshot:
        """The applied state of ``environment`` (serial 0 and no lineage if never written)."""
        r = t.resources
        with self._read() as conn:
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
                .where(r.c.environment == environment, t.secrets.c.status == CURRENT)
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
        with self._read() as conn:
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
        box = self._keys.box
        now = utc_now()
        held: dict[str, list[RuntimeSecret]] = {}
        for row in secret_rows:
            expires = aware(row.expires_at) if row.expires_at is not None else None
            if row.status != CURRENT and (expires is None or expires <= now):
                continue
            token = row.secret_kind == "token"
            held.setdefault(row.resource_id, []).append(RuntimeSecret(
                kind=row.secret_kind, status=row.status,
                value=None if token or row.ciphertext is None else box.decrypt(row.ciphertext),
                token_hash=row.token_hash if token else None,
                display_prefix=row.display_prefix, created_at=iso(row.created_at),
                expires_at=expires))
        resources: list[RuntimeResource] = []
        for row in rows:
            values = (cast(dict[str, str], json.loads(box.decrypt(row.values_ciphertext)))
                      if row.values_ciphertext is not None else {})
            secrets = held.get(row.id, [])
            secrets.sort(key=lambda secret: secret.status != CURRENT)  # stable: newest first
            resources.append(RuntimeResource(
                id=row.id, kind=row.kind, name=row.name, spec=row.spec, values=values,
                stored_secrets=tuple(secrets), created_at=iso(row.created_at),
                updated_at=iso(row.updated_at)))
        return RuntimeView(environment=environment, lineage=env.lineage, serial=env.serial,
                           resources=tuple(resources))
