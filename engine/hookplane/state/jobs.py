"""Jobs (hydrate, invoke): queued, claimed with a lease, finished or failed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import (
    delete,
    func,
    insert,
    select,
)
from sqlalchemy import update as sql_update

from hookplane.errors import (
    StateError,
)
from hookplane.state import tables as t
from hookplane.state._common import (
    DbRow,
    as_utc,
    cap,
    iso,
    iso_or_none,
    json_object,
    json_value,
    new_id,
    unqueryable,
    utc_now,
)
from hookplane.state.database import Repository
from hookplane.state.inbound_log import Dedup, check_dedup
from hookplane.state.leases import claim_rows

__all__ = [
    "Job",
    "JobKind",
    "JobStatus",
    "Jobs",
]


JobStatus = Literal["pending", "running", "done", "failed"]


JobKind = Literal["hydrate", "invoke"]


_JOB_KINDS = frozenset(get_args(JobKind))


_ERROR_BYTES = 2048


@dataclass(frozen=True)
class Job:
    id: str
    environment: str
    webhook_id: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    """Attempts finished so far (done or failed)."""
    max_attempts: int
    next_attempt_at: str
    claimed_by: str | None
    claimed_until: str | None
    last_error: str | None
    result: Any
    created_at: str
    updated_at: str

    @property
    def attempt(self) -> int:
        return self.attempts + 1


class Jobs(Repository):
    """The job queue."""

    def enqueue_job(self, environment: str, webhook_id: str, kind: str,
                    payload: dict[str, Any], *, max_attempts: int,
                    dedup: Dedup | None = None) -> str:
        """Persist a job (committed when this returns, so a 202 may follow); its id."""
        if kind not in _JOB_KINDS:
            raise StateError(f"unknown job kind '{kind}' (one of {', '.join(sorted(_JOB_KINDS))})")
        if max_attempts < 1:
            raise StateError("max_attempts must be at least 1")
        body = json_object(payload)
        job_id = new_id("job")
        now = utc_now()
        with self._write() as conn:
            check_dedup(conn, environment, dedup, now)
            conn.execute(insert(t.jobs).values(
                id=job_id, environment=environment, webhook_id=webhook_id, kind=kind,
                payload=body, status="pending", attempts=0, max_attempts=max_attempts,
                next_attempt_at=now, claimed_by=None, claimed_until=None, last_error=None,
                result=None, created_at=now, updated_at=now))
        return job_id

    def claim_jobs(self, *, worker: str, limit: int, lease_seconds: float,
                   now: datetime | None = None) -> list[Job]:
        """Like :meth:`claim_outbox`: pending jobs due at ``now`` and running ones whose lease
        ran out (a restart resumes them)."""
        rows = claim_rows(self._db, t.jobs, "running", worker=worker, limit=limit,
                          lease_seconds=lease_seconds, now=now)
        return [_job(row) for row in rows]

    def finish_job(self, job_id: str, *, worker: str, result: Any) -> bool:
        """Mark a job ``worker`` holds done with ``result`` (JSON); False if not held."""
        return self._end_job(job_id, worker, status="done", result=json_value(result))

    def fail_job(self, job_id: str, *, worker: str, error: str,
                 retry_at: datetime | None) -> bool:
        """Record a failed attempt: pending again at ``retry_at``, or failed for good."""
        if retry_at is None:
            return self._end_job(job_id, worker, status="failed", error=error)
        return self._end_job(job_id, worker, status="pending", error=error,
                             next_attempt_at=as_utc(retry_at))

    def job(self, job_id: str) -> Job | None:
        if unqueryable(job_id):
            return None
        with self._read() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        return _job(row) if row is not None else None

    def jobs_pending(self, environment: str | None = None) -> int:
        """Jobs not finished yet (pending or running)."""
        j = t.jobs
        query = select(func.count()).select_from(j).where(j.c.status.in_(("pending",
                                                                          "running")))
        if environment is not None:
            query = query.where(j.c.environment == environment)
        with self._read() as conn:
            return int(conn.scalar(query) or 0)

    def jobs_by_id(self, job_ids: Sequence[str]) -> dict[str, Job]:
        """The jobs with these ids (unknown ids are left out)."""
        wanted = [job_id for job_id in job_ids if not unqueryable(job_id)]
        if not wanted:
            return {}
        j = t.jobs
        with self._read() as conn:
            rows = conn.execute(select(j).where(j.c.id.in_(wanted))).all()
        return {row.id: _job(row) for row in rows}

    def purge_jobs_before(self, cutoff: datetime) -> int:
        """Retention: remove finished jobs (done or failed) last updated before ``cutoff``;
        returns how many."""
        j = t.jobs
        with self._write() as conn:
            return int(conn.execute(delete(j).where(j.c.status.in_(("done", "failed")),
                                                    j.c.updated_at < as_utc(cutoff))).rowcount)

    def _end_job(self, job_id: str, worker: str, *, status: str, result: Any = None,
                 error: str | None = None, next_attempt_at: datetime | None = None) -> bool:
        j = t.jobs
        values: dict[str, Any] = {
            "status": status, "attempts": j.c.attempts + 1, "claimed_by": None,
            "claimed_until": None, "updated_at": utc_now(),
            "last_error": cap(error, _ERROR_BYTES)}
        if status == "done":
            values["result"] = result
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        with self._write() as conn:
            changed = conn.execute(sql_update(j).where(
                j.c.id == job_id, j.c.status == "running", j.c.claimed_by == worker)
                .values(**values)).rowcount
        return changed == 1


def _job(row: DbRow) -> Job:
    return Job(id=row.id, environment=row.environment, webhook_id=row.webhook_id,
               kind=row.kind, payload=dict(row.payload), status=row.status,
               attempts=int(row.attempts), max_attempts=int(row.max_attempts),
               next_attempt_at=iso(row.next_attempt_at), claimed_by=row.claimed_by,
               claimed_until=iso_or_none(row.claimed_until), last_error=row.last_error,
               result=row.result, created_at=iso(row.created_at),
               updated_at=iso(row.updated_at))
