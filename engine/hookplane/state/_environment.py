"""Row helpers of the config state, run inside a caller's transaction: the environment's row
(serial and lineage), resource addresses, drift events.

Internal to :mod:`hookplane.state`: the config-state repositories (commits, secrets, locks,
audit, keys) share them. A write that changes an environment first takes its row
(:func:`environment_for_update`: ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's write lock
is already held) and moves its serial by one (:func:`bump`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from hookplane.config.applied import DriftEvent
from hookplane.errors import StaleStateError, StateError
from hookplane.state import tables as t
from hookplane.state._common import DbRow


def environment_for_update(conn: Connection, environment: str) -> DbRow | None:
    """The environment's lineage and serial, its row locked until the transaction ends."""
    e = t.environments
    return conn.execute(select(e.c.lineage, e.c.serial).where(e.c.name == environment)
                        .with_for_update()).first()


def current_serial(conn: Connection, environment: str) -> int:
    value = conn.scalar(select(t.environments.c.serial)
                        .where(t.environments.c.name == environment))
    return int(value or 0)


def bump(conn: Connection, environment: str, serial: int, now: datetime) -> None:
    conn.execute(update(t.environments).where(t.environments.c.name == environment)
                 .values(serial=serial, updated_at=now))


def check_fresh(environment: str, env: DbRow, expected_lineage: str,
                expected_serial: int) -> None:
    """Refuse a plan made against another lineage or serial of ``environment``."""
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


def address(environment: str, kind: str, name: str) -> tuple[Any, ...]:
    """The ``WHERE`` clauses of one resource of ``environment``."""
    r = t.resources
    return (r.c.environment == environment, r.c.kind == kind, r.c.name == name)


def resource_id(conn: Connection, environment: str, kind: str, name: str) -> str | None:
    return conn.scalar(select(t.resources.c.id).where(*address(environment, kind, name)))


def require(conn: Connection, environment: str, kind: str, name: str, verb: str) -> str:
    """The resource's id, or :class:`StateError` ("cannot ``verb`` …") when it is absent."""
    found = resource_id(conn, environment, kind, name)
    if found is None:
        raise StateError(f"cannot {verb} {kind}.{name}: it is not in the state of "
                         f"'{environment}'")
    return found


def add_drift(conn: Connection, resource: str, event: DriftEvent) -> None:
    """Append ``event`` to the drift recorded on resource ``resource`` (an id)."""
    drift = conn.scalar(select(t.resources.c.drift).where(t.resources.c.id == resource))
    events = [*(drift or []), {"at": event.at, "what": event.what, "by": event.by}]
    conn.execute(update(t.resources).where(t.resources.c.id == resource).values(drift=events))
