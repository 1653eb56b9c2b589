"""Trigger health: each trigger's circuit breaker and its shared send budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    delete,
    insert,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError

from hookplane.errors import (
    StateError,
)
from hookplane.state import tables as t
from hookplane.state._common import (
    as_utc,
    aware,
    iso,
    utc_now,
)
from hookplane.state.database import Repository

__all__ = [
    "TriggerHealth",
    "Triggers",
]


@dataclass(frozen=True)
class TriggerHealth:
    """A trigger's circuit breaker: its streak of failed attempts."""

    trigger_id: str
    failures: int
    failing_since: str | None
    open_until: str | None
    disabled_at: str | None
    reason: str | None


def _health(row: Any) -> TriggerHealth:
    return TriggerHealth(
        row.trigger_id, int(row.failures),
        iso(row.failing_since) if row.failing_since is not None else None,
        iso(row.open_until) if row.open_until is not None else None,
        iso(row.disabled_at) if row.disabled_at is not None else None, row.reason)


class Triggers(Repository):
    """Circuit breakers and rate budgets of triggers, shared by every worker and replica."""

    def breaker(self, trigger_id: str) -> TriggerHealth | None:
        """The circuit breaker of ``trigger_id`` (None: never failed under one)."""
        h = t.trigger_health
        with self._read() as conn:
            row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)).first()
        return _health(row) if row is not None else None

    def breaker_gate(self, trigger_id: str, *, cooldown: float,
                     now: datetime | None = None) -> datetime | None:
        """May a delivery of ``trigger_id`` be sent now? None: yes. Else when to try again:
        the breaker is open (its cooldown runs), or the trigger is disabled (re-checked a
        minute later; nothing is dropped). When the cooldown has run out, the caller's
        delivery is the one probe: the breaker re-arms for ``cooldown`` so no other goes
        before the probe's outcome is known."""
        at = as_utc(now)
        h = t.trigger_health
        with self._write() as conn:
            row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)
                               .with_for_update()).first()
            if row is None:
                return None
            if row.disabled_at is not None:  # asked again in a minute (rows wait unclaimed)
                again = at + timedelta(seconds=60)
                conn.execute(sql_update(h).where(h.c.trigger_id == trigger_id)
                             .values(open_until=again))
                return again
            if row.open_until is None:
                return None
            until = aware(row.open_until)
            if until > at:
                return until
            conn.execute(sql_update(h).where(h.c.trigger_id == trigger_id)
                         .values(open_until=at + timedelta(seconds=cooldown)))
            return None

    def breaker_outcome(self, trigger_id: str, *, success: bool, failures: int,
                        cooldown: float, disable_after: float,
                        now: datetime | None = None) -> TriggerHealth | None:
        """Count one attempt's outcome; returns the breaker when this outcome disabled the
        trigger (the caller emits ``trigger.disabled``), else None."""
        for _attempt in range(3):
            try:
                return self._breaker_outcome(trigger_id, success=success, failures=failures,
                                             cooldown=cooldown, disable_after=disable_after,
                                             now=now)
            except StateError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    continue  # another process counted the first failure meanwhile
                raise
        raise StateError(f"the circuit breaker of trigger {trigger_id} keeps changing hands")

    def _breaker_outcome(self, trigger_id: str, *, success: bool, failures: int,
                         cooldown: float, disable_after: float,
                         now: datetime | None) -> TriggerHealth | None:
        at = as_utc(now)
        h = t.trigger_health
        with self._write() as conn:
            row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)
                               .with_for_update()).first()
            if success:
                if row is not None and row.disabled_at is None:
                    conn.execute(delete(h).where(h.c.trigger_id == trigger_id))
                return None
            if row is None:
                conn.execute(insert(h).values(trigger_id=trigger_id, failures=1,
                                              failing_since=at, open_until=None,
                                              disabled_at=None, reason=None))
                count, since, disabled = 1, at, None
            else:
                count = row.failures + 1
                since = aware(row.failing_since) if row.failing_since is not None else at
                disabled = row.disabled_at
            values: dict[str, Any] = {"failures": count, "failing_since": since}
            if count >= failures:
                values["open_until"] = at + timedelta(seconds=cooldown)
            newly_disabled = disabled is None and (at - since).total_seconds() >= disable_after
            if newly_disabled:
                values["disabled_at"] = at
                values["reason"] = (f"{count} failed attempts in a row since {iso(since)} "
                                    f"(circuit breaker: disable after {disable_after:g} s)")
            conn.execute(sql_update(h).where(h.c.trigger_id == trigger_id).values(**values))
            if newly_disabled:
                row = conn.execute(select(h).where(h.c.trigger_id == trigger_id)).first()
                return _health(row) if row is not None else None
        return None

    def enable_trigger(self, trigger_id: str, *, environment: str) -> bool:
        """Close the breaker of ``trigger_id`` (re-enable a disabled trigger): its waiting
        deliveries are due now. False when there was nothing to close."""
        h, o = t.trigger_health, t.outbox
        with self._write() as conn:
            gone = conn.execute(delete(h).where(h.c.trigger_id == trigger_id)).rowcount
            conn.execute(sql_update(o).where(
                o.c.trigger_id == trigger_id, o.c.environment == environment,
                o.c.status == "pending").values(next_attempt_at=utc_now()))
        return bool(gone)

    def take_budget(self, trigger_id: str, *, limit: int, per_seconds: int,
                    now: datetime | None = None) -> datetime | None:
        """Spend one send of ``trigger_id``'s budget (``limit`` per ``per_seconds`` window,
        windows aligned to the clock) in the database, shared by every worker and replica:
        None when taken, else when the next window starts (send then)."""
        at = as_utc(now)
        epoch = int(at.timestamp())
        window = datetime.fromtimestamp(epoch - epoch % per_seconds, UTC)
        following = window + timedelta(seconds=per_seconds)
        b = t.trigger_budgets
        for _attempt in range(3):
            try:
                with self._write() as conn:
                    row = conn.execute(select(b).where(b.c.trigger_id == trigger_id)
                                       .with_for_update()).first()
                    if row is None:
                        conn.execute(insert(b).values(trigger_id=trigger_id,
                                                      window_start=window, used=1))
                        return None
                    if aware(row.window_start) != window:
                        conn.execute(sql_update(b).where(b.c.trigger_id == trigger_id)
                                     .values(window_start=window, used=1))
                        return None
                    if row.used < limit:
                        conn.execute(sql_update(b).where(b.c.trigger_id == trigger_id)
                                     .values(used=b.c.used + 1))
                        return None
                    return following
            except StateError as exc:
                if isinstance(exc.__cause__, IntegrityError):
                    continue  # another process inserted the first window meanwhile
                raise
        raise StateError(f"the delivery budget of trigger {trigger_id} keeps changing hands")
