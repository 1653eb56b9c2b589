"""Console statistics: deliveries per minute, records per collection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    case,
    func,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from hookplane.state import tables as t
from hookplane.state._common import (
    as_utc,
)
from hookplane.state.database import Repository

__all__ = [
    "MinuteCount",
    "Stats",
]


@dataclass(frozen=True)
class MinuteCount:
    """Deliveries of one minute (UTC, ``YYYY-MM-DDTHH:MMZ``): succeeded and failed."""

    minute: str
    succeeded: int
    failed: int


class Stats(Repository):
    """Read-only aggregates for the console."""

    def outbound_per_minute(self, environment: str, *,
                            since: datetime) -> list[MinuteCount]:
        """Outbound delivery attempts per minute since ``since``, oldest first."""
        a, o = t.delivery_attempts, t.outbox
        minute = self._minute(a.c.at)
        query = (select(minute.label("minute"),
                        func.sum(case((a.c.success, 1), else_=0)),
                        func.sum(case((a.c.success, 0), else_=1)))
                 .select_from(a.join(o, o.c.id == a.c.outbox_id))
                 .where(o.c.environment == environment, a.c.at >= as_utc(since))
                 .group_by(minute).order_by(minute))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [MinuteCount(f"{row[0].replace(' ', 'T')}Z", int(row[1] or 0), int(row[2] or 0))
                for row in rows]

    def inbound_per_minute(self, environment: str, *,
                           since: datetime) -> list[MinuteCount]:
        """Inbound deliveries per minute since ``since`` (accepted: status below 400)."""
        i = t.inbound_deliveries
        minute = self._minute(i.c.received_at)
        query = (select(minute.label("minute"),
                        func.sum(case((i.c.status_code < 400, 1), else_=0)),
                        func.sum(case((i.c.status_code < 400, 0), else_=1)))
                 .where(i.c.environment == environment, i.c.received_at >= as_utc(since))
                 .group_by(minute).order_by(minute))
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [MinuteCount(f"{row[0].replace(' ', 'T')}Z", int(row[1] or 0), int(row[2] or 0))
                for row in rows]

    def record_counts(self, environment: str) -> dict[str, int]:
        """Live (not deleted) records per collection."""
        r = t.records
        query = (select(r.c.collection, func.count()).where(r.c.environment == environment,
                                                            r.c.deleted_at.is_(None))
                 .group_by(r.c.collection))
        with self._read() as conn:
            return {str(name): int(count) for name, count in conn.execute(query).all()}

    def _minute(self, column: ColumnElement[Any]) -> ColumnElement[str]:
        """``YYYY-MM-DD HH:MM`` (UTC) of a timestamp column, in this dialect's SQL."""
        if self._postgres:
            return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24:MI")
        return func.substr(column, 1, 16)  # SQLite stores 'YYYY-MM-DD HH:MM:SS.ffffff'
