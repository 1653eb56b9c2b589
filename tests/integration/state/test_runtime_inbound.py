"""Inbound log, de-duplication (alone and inside writes) and jobs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hookplane.errors import StateError
from hookplane.state import Dedup, DuplicateDelivery, RuntimeStore, Store

from .conftest import ENV, execute, row_counts, run_together, table_rows


@pytest.fixture
def rt(store: Store) -> RuntimeStore:
    return store.runtime()


def _at(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_the_inbound_log_keeps_every_attempt_newest_first(rt: RuntimeStore) -> None:
    first = rt.log_inbound(ENV, "iw_1", webhook_name="pagerduty", status_code=201,
                           reason="ok", client_ip="203.0.113.7", latency_ms=12.4,
                           record_id="rec_1", provider_delivery_id="d-1",
                           received_at=_at(-60))
    second = rt.log_inbound(ENV, "iw_1", webhook_name="pagerduty", status_code=401,
                            reason="bad_signature", client_ip="2001:db8::1",
                            detail="x" * 5000)
    rt.log_inbound(ENV, "iw_2", status_code=202, reason="ok", job_id="job_1")
    unknown = rt.log_inbound("no-such-env-" + "e" * 200, "i" * 500, status_code=404,
                             reason="unknown_webhook", client_ip="198.51.100.1")

    log = rt.inbound_log(ENV, "iw_1")
    assert [entry.id for entry in log] == [second, first]
    newest, oldest = log
    assert (newest.status_code, newest.reason, newest.client_ip, newest.webhook_name) == (
        401, "bad_signature", "2001:db8::1", "pagerduty")
    assert newest.detail is not None and len(newest.detail.encode()) <= 1024
    assert (oldest.latency_ms, oldest.record_id, oldest.provider_delivery_id) == (12, "rec_1",
                                                                                  "d-1")
    assert oldest.received_at.endswith("Z")
    assert len(rt.inbound_log(ENV, "iw_1", limit=1)) == 1
    assert [e.job_id for e in rt.inbound_log(ENV, "iw_2")] == ["job_1"]
    assert unknown > 0  # over-long path values are clipped, not an error
    # last used: the last accepted delivery, not the rejected one after it
    assert rt.last_used_at(ENV, "iw_1") == oldest.received_at
    assert rt.last_used_at(ENV, "iw_3") is None


def test_mark_seen_is_true_once_per_window(rt: RuntimeStore) -> None:
    assert rt.mark_seen(ENV, "iw_1", "evt_1", window_seconds=300)
    assert not rt.mark_seen(ENV, "iw_1", "evt_1", window_seconds=300)
    assert not rt.mark_seen(ENV, "iw_1", "evt_1", window_seconds=300, now=_at(299))
    assert rt.mark_seen(ENV, "iw_2", "evt_1", window_seconds=300)  # per webhook
    assert rt.mark_seen("production", "iw_1", "evt_1", window_seconds=300)  # per environment

    # outside the window the old mark is replaced and the delivery counts as new
    assert rt.mark_seen(ENV, "iw_1", "evt_1", window_seconds=300, now=_at(301))
    assert not rt.mark_seen(ENV, "iw_1", "evt_1", window_seconds=300, now=_at(302))

    long_id = "x" * 1000
    assert rt.mark_seen(ENV, "iw_1", long_id, window_seconds=60)
    assert not rt.mark_seen(ENV, "iw_1", long_id, window_seconds=60)
    assert rt.mark_seen(ENV, "iw_1", long_id[:-1] + "y", window_seconds=60)

    rt.forget_seen(ENV, "iw_1", "evt_1")
    assert rt.mark_seen(ENV, "iw_1", "evt_1", window_seconds=300)
    with pytest.raises(StateError):
        rt.mark_seen(ENV, "iw_1", "evt_2", window_seconds=0)


def test_mark_seen_from_many_threads_admits_one(rt: RuntimeStore) -> None:
    barrier = threading.Barrier(8)
    answers: list[bool] = []

    def worker() -> None:
        barrier.wait()
        answers.append(rt.mark_seen(ENV, "iw_1", "evt_race", window_seconds=300))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [False] * 7 + [True]


def test_dedup_inside_a_write_marks_only_what_commits(rt: RuntimeStore,
                                                      database_url: str) -> None:
    dedup = Dedup(webhook_id="iw_1", provider_delivery_id="evt_1", window_seconds=300)

    def explode(event: object) -> list[object]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        rt.upsert_external(ENV, "incidents", "E1", {"v": 1}, origin="inbound_webhook",
                           dedup=dedup, outbox=explode)  # type: ignore[arg-type]
    assert row_counts(database_url)["seen_deliveries"] == 0  # the retry will be processed

    record, _ = rt.upsert_external(ENV, "incidents", "E1", {"v": 1},
                                   origin="inbound_webhook", dedup=dedup)
    with pytest.raises(DuplicateDelivery):
        rt.upsert_external(ENV, "incidents", "E1", {"v": 2}, origin="inbound_webhook",
                           dedup=dedup)
    with pytest.raises(DuplicateDelivery):
        rt.create(ENV, "incidents", {"v": 3}, origin="inbound_webhook", dedup=dedup)
    with pytest.raises(DuplicateDelivery):
        rt.enqueue_job(ENV, "iw_1", "hydrate", {}, max_attempts=3, dedup=dedup)
    with pytest.raises(DuplicateDelivery):
        rt.delete_external(ENV, "incidents", "E1", origin="inbound_webhook", dedup=dedup)

    assert rt.get(ENV, "incidents", record.id) == record
    assert row_counts(database_url)["records"] == 1
    assert row_counts(database_url)["jobs"] == 0
    other = Dedup(webhook_id="iw_1", provider_delivery_id="evt_2", window_seconds=300)
    job_id = rt.enqueue_job(ENV, "iw_1", "hydrate", {"id": "E1"}, max_attempts=3, dedup=other)
    assert rt.job(job_id) is not None


def test_a_job_runs_fails_retries_and_finishes(rt: RuntimeStore) -> None:
    job_id = rt.enqueue_job(ENV, "iw_1", "hydrate", {"external_id": "PD-1"}, max_attempts=3)
    assert job_id.startswith("job_")
    job = rt.job(job_id)
    assert job is not None
    assert (job.status, job.attempts, job.kind, job.payload) == (
        "pending", 0, "hydrate", {"external_id": "PD-1"})
    assert rt.jobs_pending() == rt.jobs_pending(ENV) == 1 and rt.jobs_pending("x") == 0

    (claimed,) = rt.claim_jobs(worker="w1", limit=5, lease_seconds=60)
    assert (claimed.id, claimed.status, claimed.claimed_by, claimed.attempt) == (
        job_id, "running", "w1", 1)
    assert rt.claim_jobs(worker="w2", limit=5, lease_seconds=60) == []
    assert not rt.fail_job(job_id, worker="w2", error="not mine", retry_at=None)

    assert rt.fail_job(job_id, worker="w1", error="upstream 500", retry_at=_at(30))
    job = rt.job(job_id)
    assert job is not None
    assert (job.status, job.attempts, job.last_error, job.claimed_by) == (
        "pending", 1, "upstream 500", None)
    assert rt.claim_jobs(worker="w1", limit=5, lease_seconds=60) == []  # backing off

    (claimed,) = rt.claim_jobs(worker="w1", limit=5, lease_seconds=60, now=_at(31))
    assert claimed.attempt == 2
    assert rt.finish_job(job_id, worker="w1", result={"record_id": "rec_1", "created": True})
    assert not rt.finish_job(job_id, worker="w1", result=None)  # already done
    job = rt.job(job_id)
    assert job is not None
    assert (job.status, job.attempts, job.result, job.last_error) == (
        "done", 2, {"record_id": "rec_1", "created": True}, None)
    assert rt.jobs_pending() == 0
    assert rt.job("job_missing") is None


def test_a_job_that_runs_out_of_attempts_fails(rt: RuntimeStore) -> None:
    job_id = rt.enqueue_job(ENV, "iw_1", "invoke", {"input": {}}, max_attempts=1)
    rt.claim_jobs(worker="w", limit=1, lease_seconds=60)
    assert rt.fail_job(job_id, worker="w", error="HTTP 400", retry_at=None)
    job = rt.job(job_id)
    assert job is not None and (job.status, job.attempts) == ("failed", 1)
    assert rt.claim_jobs(worker="w", limit=1, lease_seconds=60, now=_at(3600)) == []
    with pytest.raises(StateError, match="unknown job kind"):
        rt.enqueue_job(ENV, "iw_1", "mine-bitcoin", {}, max_attempts=1)
    with pytest.raises(StateError, match="max_attempts"):
        rt.enqueue_job(ENV, "iw_1", "invoke", {}, max_attempts=0)


_RESTART = """
import json, sys
from pathlib import Path
from hookplane.state import Store

url, root, step = sys.argv[1:4]
with Store.open(url, root=Path(root)) as store:
    rt = store.runtime()
    print("ready", flush=True)
    sys.stdin.readline()
    if step == "enqueue-and-claim":
        job_id = rt.enqueue_job("preview", "iw_1", "hydrate", {"external_id": "A"},
                                max_attempts=5)
        rt.claim_jobs(worker="doomed", limit=10, lease_seconds=0.5)
        print(json.dumps({"job": job_id}), flush=True)
    else:
        import time
        time.sleep(0.6)
        jobs = rt.claim_jobs(worker="survivor", limit=10, lease_seconds=60)
        done = [rt.finish_job(j.id, worker="survivor", result={"ok": True}) for j in jobs]
        print(json.dumps({"jobs": [j.id for j in jobs], "done": done}), flush=True)
"""


def test_a_job_claimed_by_a_process_that_died_is_resumed_after_a_restart(
        database_url: str, root: Path) -> None:
    (first,) = run_together(_RESTART, [database_url, str(root), "enqueue-and-claim"])
    (second,) = run_together(_RESTART, [database_url, str(root), "resume"])

    assert second == {"jobs": [first["job"]], "done": [True]}
    (row,) = table_rows(database_url)["jobs"]
    assert (row["status"], row["claimed_by"], row["attempts"]) == ("done", None, 1)


def test_purge_logs_removes_old_inbound_entries_finished_jobs_and_marks(
        rt: RuntimeStore, database_url: str) -> None:
    rt.log_inbound(ENV, "iw_1", status_code=200, reason="ok", received_at=_at(-40 * 86400))
    recent = rt.log_inbound(ENV, "iw_1", status_code=200, reason="ok")
    done = rt.enqueue_job(ENV, "iw_1", "invoke", {}, max_attempts=1)
    waiting = rt.enqueue_job(ENV, "iw_1", "invoke", {}, max_attempts=1)
    rt.claim_jobs(worker="w", limit=1, lease_seconds=60)
    rt.finish_job(done, worker="w", result=None)
    execute(database_url, "UPDATE jobs SET updated_at = :at", at=_at(-40 * 86400))
    rt.mark_seen(ENV, "iw_1", "old", window_seconds=60, now=_at(-40 * 86400))
    rt.mark_seen(ENV, "iw_1", "new", window_seconds=60)

    assert rt.purge_logs_before(_at(-30 * 86400)) == 3

    assert [e.id for e in rt.inbound_log(ENV, "iw_1")] == [recent]
    assert [r["id"] for r in table_rows(database_url)["jobs"]] == [waiting]
    assert [r["provider_delivery_id"] for r in table_rows(database_url)["seen_deliveries"]] == [
        "new"]
