"""The outbox: claiming (SKIP LOCKED across processes), leases, attempts, retries, dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from hookplane.state import OutboxItem, RuntimeStore, Store, new_outbox_id

from .conftest import ENV, execute, run_together, table_rows


@pytest.fixture
def rt(store: Store) -> RuntimeStore:
    return store.runtime()


def _item(n: int = 0, *, trigger: str = "trg_1", attempts: int = 3) -> OutboxItem:
    return OutboxItem(trigger_id=trigger, trigger_name="notify", event="create",
                      payload={"n": n}, max_attempts=attempts)


def _later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_claim_hands_each_due_row_to_one_worker_until_its_lease_ends(
        rt: RuntimeStore, database_url: str) -> None:
    ids = rt.enqueue_outbox(ENV, [_item(n) for n in range(5)])
    execute(database_url, "UPDATE outbox SET next_attempt_at = :at WHERE id = :id",
            at=datetime.now(UTC) - timedelta(minutes=5), id=ids[3])
    assert all(i.startswith("msg_") for i in ids) and len(set(ids)) == 5
    assert rt.outbox_depth() == rt.outbox_depth(ENV) == 5
    assert rt.outbox_depth("production") == 0

    first = rt.claim_outbox(worker="w1", limit=3, lease_seconds=30)
    second = rt.claim_outbox(worker="w2", limit=10, lease_seconds=30)
    again = rt.claim_outbox(worker="w3", limit=10, lease_seconds=30)

    assert first[0].id == ids[3]  # the longest due first
    claimed = [row.id for row in first + second]
    assert sorted(claimed) == sorted(ids) and len(first) == 3  # all of them, once
    assert again == []
    assert {row.claimed_by for row in first} == {"w1"}
    assert all(row.status == "in_flight" and row.attempts == 0 and row.attempt == 1
               for row in first + second)
    assert first[0].payload == {"n": 3} and first[0].max_attempts == 3
    assert rt.outbox_depth() == 5  # in flight still counts



def test_a_claim_leaves_the_rows_of_skipped_triggers_in_the_table(rt: RuntimeStore) -> None:
    """The dispatcher names the triggers it will not send to now (slow at their share,
    paused): their rows stay pending for anyone, the others are claimed."""
    slow = rt.enqueue_outbox(ENV, [_item(n, trigger="trg_slow") for n in range(3)])
    quick = rt.enqueue_outbox(ENV, [_item(n, trigger="trg_quick") for n in range(2)])
    other = rt.enqueue_outbox(ENV, [_item(9, trigger="trg_other")])
    claimed = rt.claim_outbox(worker="w1", limit=10, lease_seconds=30,
                              skip_triggers={"trg_slow", "trg_none"})
    assert sorted(row.id for row in claimed) == sorted(quick + other)
    rest = rt.claim_outbox(worker="w2", limit=10, lease_seconds=30, skip_triggers=())
    assert sorted(row.id for row in rest) == sorted(slow)


def test_a_stopping_worker_hands_back_only_what_it_still_holds(rt: RuntimeStore) -> None:
    ids = rt.enqueue_outbox(ENV, [_item(n) for n in range(4)])
    mine = rt.claim_outbox(worker="w1", limit=3, lease_seconds=30)
    theirs = rt.claim_outbox(worker="w2", limit=3, lease_seconds=30)
    assert len(mine) == 3 and len(theirs) == 1
    sent = mine[0].id
    rt.record_attempt(sent, worker="w1", status_code=200, success=True, latency_ms=5,
                      error=None, response_excerpt=None, retry_at=None)

    # its own unsent rows come back; the recorded one, another worker's row and an id that
    # is not there are left alone
    released = rt.release_outbox([row.id for row in mine] + [theirs[0].id, "msg_nope", "\x00"],
                                 worker="w1")
    assert released == 2
    again = rt.claim_outbox(worker="w3", limit=10, lease_seconds=30)
    assert sorted(row.id for row in again) == sorted(row.id for row in mine[1:])
    assert all(row.attempts == 0 for row in again)
    delivered = rt.delivery(sent)
    assert delivered is not None and delivered.status == "delivered"
    held = rt.delivery(theirs[0].id)
    assert held is not None and held.claimed_by == "w2"
    assert set(ids) == {row.id for row in mine} | {theirs[0].id}
    assert rt.release_outbox([], worker="w1") == 0


def test_a_crashed_workers_rows_are_claimed_again_after_the_lease(rt: RuntimeStore) -> None:
    (row_id,) = rt.enqueue_outbox(ENV, [_item()])
    (claimed,) = rt.claim_outbox(worker="crashed", limit=10, lease_seconds=30)
    assert claimed.id == row_id

    assert rt.claim_outbox(worker="w2", limit=10, lease_seconds=30, now=_later(29)) == []
    (reclaimed,) = rt.claim_outbox(worker="w2", limit=10, lease_seconds=30, now=_later(31))

    assert reclaimed.id == row_id  # same webhook-id across attempts
    assert reclaimed.claimed_by == "w2"
    # the crashed worker, if it comes back, cannot complete what it no longer holds
    assert not rt.record_attempt(row_id, worker="crashed", status_code=200, success=True,
                                 latency_ms=5, error=None, response_excerpt="ok",
                                 retry_at=None)
    assert rt.record_attempt(row_id, worker="w2", status_code=200, success=True,
                             latency_ms=5, error=None, response_excerpt="ok", retry_at=None)
    delivery = rt.delivery(row_id)
    assert delivery is not None and delivery.status == "delivered" and delivery.attempts == 1
    # the history shows every send: the lost lease (the crashed worker may have sent it),
    # its late completion (counted for nothing) and the attempt that counts
    lost, late, counted = delivery.history
    assert (lost.status_code, lost.success) == (None, False)
    assert lost.error is not None and lost.error.startswith(
        "lease lost: worker 'crashed' held this delivery until ")
    assert "may have sent it" in lost.error and "re-send with the same webhook-id" in lost.error
    assert (late.status_code, late.success) == (200, True)
    assert late.error == ("recorded late: worker 'crashed' finished this attempt after its "
                          "lease ran out, so it does not count")
    assert (counted.status_code, counted.success, counted.error) == (200, True, None)


def test_retry_then_success_and_retry_then_dead_letter(rt: RuntimeStore,
                                                      database_url: str) -> None:
    ok_id, dead_id = rt.enqueue_outbox(ENV, [_item(1), _item(2, attempts=2)])
    rows = rt.claim_outbox(worker="w", limit=10, lease_seconds=30)
    assert sorted(r.id for r in rows) == sorted([ok_id, dead_id])

    retry_at = _later(60)
    for row_id in (ok_id, dead_id):
        assert rt.record_attempt(row_id, worker="w", status_code=503, success=False,
                                 latency_ms=12.6, error="HTTP 503",
                                 response_excerpt="unavailable", retry_at=retry_at)
    assert rt.claim_outbox(worker="w", limit=10, lease_seconds=30) == []  # not due yet
    pending = rt.delivery(ok_id)
    assert pending is not None
    assert (pending.status, pending.attempts, pending.last_status_code, pending.last_error,
            pending.claimed_by) == ("pending", 1, 503, "HTTP 503", None)

    rows = rt.claim_outbox(worker="w", limit=10, lease_seconds=30, now=_later(61))
    assert sorted(r.id for r in rows) == sorted([ok_id, dead_id])
    assert all(r.attempt == 2 for r in rows)
    assert rt.record_attempt(ok_id, worker="w", status_code=200, success=True, latency_ms=3,
                             error=None, response_excerpt="fine", retry_at=None)
    failed_event = OutboxItem("trg_sys", "on-failure", "delivery.failed",
                              {"delivery_id": dead_id})
    assert rt.record_attempt(dead_id, worker="w", status_code=None, success=False,
                             latency_ms=10_000, error="timeout", response_excerpt=None,
                             retry_at=None, on_failed=[failed_event])

    delivered, dead = rt.delivery(ok_id), rt.delivery(dead_id)
    assert delivered is not None and dead is not None
    assert (delivered.status, delivered.attempts, delivered.last_error) == ("delivered", 2,
                                                                              None)
    assert [(a.status_code, a.success, a.latency_ms) for a in delivered.history] == [
        (503, False, 13), (200, True, 3)]
    assert [a.response_excerpt for a in delivered.history] == ["unavailable", "fine"]
    assert (dead.status, dead.attempts, dead.last_error) == ("failed", 2, "timeout")
    # the dead letter's system event was queued with it
    system = [r for r in table_rows(database_url)["outbox"] if r["trigger_id"] == "trg_sys"]
    assert len(system) == 1 and system[0]["payload"] == {"delivery_id": dead_id}
    assert system[0]["environment"] == ENV
    assert rt.outbox_depth() == 1
    # on_failed is only for dead letters
    assert all(r["trigger_id"] != "trg_sys" or r["id"] == system[0]["id"]
               for r in table_rows(database_url)["outbox"])

    assert not rt.record_attempt(dead_id, worker="w", status_code=200, success=True,
                                 latency_ms=1, error=None, response_excerpt=None, retry_at=None)


def test_redeliver_requeues_a_failed_delivery_only(rt: RuntimeStore) -> None:
    failed_id, ok_id = rt.enqueue_outbox(ENV, [_item(1, attempts=1), _item(2)])
    rt.claim_outbox(worker="w", limit=10, lease_seconds=30)
    rt.record_attempt(failed_id, worker="w", status_code=400, success=False, latency_ms=1,
                      error="HTTP 400", response_excerpt="bad", retry_at=None)
    rt.record_attempt(ok_id, worker="w", status_code=200, success=True, latency_ms=1,
                      error=None, response_excerpt=None, retry_at=None)

    assert not rt.redeliver(ok_id)
    assert not rt.redeliver("msg_missing")
    assert not rt.redeliver(failed_id, environment="production")
    assert rt.redeliver(failed_id, environment=ENV)
    assert not rt.redeliver(failed_id)  # pending now

    (row,) = rt.claim_outbox(worker="w2", limit=10, lease_seconds=30)
    assert (row.id, row.attempts, row.attempt) == (failed_id, 1, 2)


def test_deliveries_lists_a_triggers_history_newest_first(rt: RuntimeStore,
                                                         database_url: str) -> None:
    first, second, third = rt.enqueue_outbox(ENV, [_item(1), _item(2), _item(3)])
    rt.enqueue_outbox(ENV, [_item(9, trigger="trg_other")])
    rt.enqueue_outbox("production", [_item(8)])
    execute(database_url, "UPDATE outbox SET created_at = :at WHERE id = :id",
            at=datetime.now(UTC) - timedelta(hours=1), id=first)
    rt.claim_outbox(worker="w", limit=10, lease_seconds=30)
    rt.record_attempt(second, worker="w", status_code=500, success=False, latency_ms=7,
                      error="HTTP 500", response_excerpt="x" * 5000, retry_at=None)

    listed = rt.deliveries(ENV, "trg_1")
    assert [d.id for d in listed][-1] == first
    assert sorted(d.id for d in listed) == sorted([first, second, third])
    failed = rt.deliveries(ENV, "trg_1", status="failed")
    assert [d.id for d in failed] == [second]
    (attempt,) = failed[0].history
    assert attempt.response_excerpt is not None
    assert len(attempt.response_excerpt.encode()) <= 2048
    assert attempt.response_excerpt.endswith("…")
    assert attempt.at.endswith("Z")
    assert len(rt.deliveries(ENV, "trg_1", limit=2)) == 2
    assert rt.deliveries(ENV, "trg_missing") == []
    with pytest.raises(Exception, match="unknown delivery status"):
        rt.deliveries(ENV, "trg_1", status="lost")


def test_texts_from_receivers_are_capped_and_cleaned(rt: RuntimeStore) -> None:
    (row_id,) = rt.enqueue_outbox(ENV, [_item()])
    rt.claim_outbox(worker="w", limit=1, lease_seconds=30)
    rt.record_attempt(row_id, worker="w", status_code=502, success=False, latency_ms=1,
                      error="é" * 3000, response_excerpt="a\x00b" + "€" * 1000,
                      retry_at=None)

    delivery = rt.delivery(row_id)
    assert delivery is not None
    (attempt,) = delivery.history
    assert attempt.response_excerpt is not None and attempt.error is not None
    assert attempt.response_excerpt.startswith("a\ufffdb")
    assert len(attempt.response_excerpt.encode()) <= 2048
    assert len(attempt.error.encode()) <= 2048
    assert delivery.last_error == attempt.error


def test_purge_removes_finished_deliveries_before_the_cutoff(rt: RuntimeStore,
                                                             database_url: str) -> None:
    old_ok, old_failed, old_pending, new_ok = rt.enqueue_outbox(
        ENV, [_item(1), _item(2, attempts=1), _item(3), _item(4)])
    rt.claim_outbox(worker="w", limit=10, lease_seconds=30)
    for row_id in (old_ok, new_ok):
        rt.record_attempt(row_id, worker="w", status_code=200, success=True, latency_ms=1,
                          error=None, response_excerpt=None, retry_at=None)
    rt.record_attempt(old_failed, worker="w", status_code=500, success=False, latency_ms=1,
                      error="x", response_excerpt=None, retry_at=None)
    rt.record_attempt(old_pending, worker="w", status_code=500, success=False, latency_ms=1,
                      error="x", response_excerpt=None, retry_at=_later(3600))
    long_ago = datetime.now(UTC) - timedelta(days=40)
    for row_id in (old_ok, old_failed, old_pending):
        execute(database_url, "UPDATE outbox SET updated_at = :at WHERE id = :id",
                at=long_ago, id=row_id)
    cutoff = datetime.now(UTC) - timedelta(days=30)

    assert rt.purge_delivered_before(cutoff, include_failed=False) == 1
    assert rt.purge_delivered_before(cutoff) == 1

    rows = table_rows(database_url)
    assert sorted(r["id"] for r in rows["outbox"]) == sorted([old_pending, new_ok])
    assert {a["outbox_id"] for a in rows["delivery_attempts"]} == {old_pending, new_ok}


def test_claim_and_retry_times_in_other_zones_are_compared_in_utc(rt: RuntimeStore) -> None:
    (row_id,) = rt.enqueue_outbox(ENV, [_item()])
    rt.claim_outbox(worker="w", limit=1, lease_seconds=30)
    tokyo = timezone(timedelta(hours=9))
    rt.record_attempt(row_id, worker="w", status_code=500, success=False, latency_ms=1,
                      error="x", response_excerpt=None,
                      retry_at=(datetime.now(UTC) + timedelta(minutes=10)).astimezone(tokyo))

    assert rt.claim_outbox(worker="w", limit=1, lease_seconds=30,
                           now=_later(9 * 60).astimezone(tokyo)) == []
    naive_utc = (datetime.now(UTC) + timedelta(minutes=11)).replace(tzinfo=None)
    (row,) = rt.claim_outbox(worker="w", limit=1, lease_seconds=30, now=naive_utc)
    assert row.id == row_id


def test_outbox_items_can_carry_their_own_id(rt: RuntimeStore) -> None:
    chosen = new_outbox_id()
    (row_id,) = rt.enqueue_outbox(ENV, [OutboxItem("trg_1", "notify", "create",
                                                   {"id": chosen}, id=chosen)])
    assert row_id == chosen
    (row,) = rt.claim_outbox(worker="w", limit=1, lease_seconds=5)
    assert row.payload == {"id": chosen}


_CLAIMER = """
import json, sys, time
from pathlib import Path
from hookplane.state import Store

url, root, worker = sys.argv[1:4]
with Store.open(url, root=Path(root)) as store:
    rt = store.runtime()
    rt.outbox_depth()  # connect before the start line
    print("ready", flush=True)
    sys.stdin.readline()
    claimed, empty = [], 0
    while empty < 3:
        rows = rt.claim_outbox(worker=worker, limit=5, lease_seconds=600)
        if not rows:
            empty += 1
            time.sleep(0.01)
            continue
        empty = 0
        claimed.extend(row.id for row in rows)
        for row in rows:
            assert rt.record_attempt(row.id, worker=worker, status_code=200, success=True,
                                     latency_ms=1, error=None, response_excerpt=None,
                                     retry_at=None)
    print(json.dumps({"claimed": claimed}), flush=True)
"""


def test_two_processes_claiming_at_once_never_claim_the_same_row(database_url: str,
                                                                 root: Path) -> None:
    with Store.open(database_url, root=root) as store:
        ids = store.runtime().enqueue_outbox(ENV, [_item(n) for n in range(600)])

    results = run_together(_CLAIMER, *([database_url, str(root), f"w{n}"] for n in range(3)))

    claimed = [row_id for result in results for row_id in result["claimed"]]
    assert len(claimed) == len(set(claimed)), "a row was claimed twice"
    assert sorted(claimed) == sorted(ids)
    rows = table_rows(database_url)
    assert {r["status"] for r in rows["outbox"]} == {"delivered"}
    assert len(rows["delivery_attempts"]) == 600
    if database_url.startswith("postgresql"):
        # the workers really ran side by side (SQLite serialises them on its write lock)
        assert sum(1 for result in results if result["claimed"]) >= 2


def test_bulk_redelivery_since_a_time_in_batches(rt: RuntimeStore, database_url: str) -> None:
    ids = rt.enqueue_outbox(ENV, [_item(n, attempts=2) for n in range(7)])
    other = rt.enqueue_outbox(ENV, [_item(9, trigger="trg_2")])
    rt.claim_outbox(worker="w", limit=10, lease_seconds=30)
    for n, row_id in enumerate([*ids, *other]):
        rt.record_attempt(row_id, worker="w", status_code=200 if n == 0 else 500,
                          success=n == 0, latency_ms=1, error=None if n == 0 else "HTTP 500",
                          response_excerpt=None, retry_at=None)
    execute(database_url, "UPDATE outbox SET created_at = :at WHERE id = :id",
            at=_later(-7200), id=ids[1])  # failed before the outage window
    seen: list[int] = []
    queued = rt.redeliver_since(ENV, "trg_1", since=_later(-3600), batch=2,
                                progress=seen.append)
    assert queued == 5 and seen == [2, 4, 5]  # ids[2:]; not the old one, not trg_2
    rows = {row_id: rt.delivery(row_id) for row_id in [*ids, *other]}
    assert {i for i, d in rows.items() if d is not None and d.status == "pending"} == set(ids[2:])
    # one attempt made, plus one round: a payload without a retry policy gets one attempt
    assert all(rows[i].max_attempts == 1 + 1 for i in ids[2:])  # type: ignore[union-attr]
    assert rt.redeliver_since(ENV, "trg_1", since=_later(-3600)) == 0  # queued: not twice
    everything = rt.redeliver_since(ENV, "trg_1", since=_later(-86400), include_delivered=True)
    assert everything == 2  # the delivered one and the old failure


def test_each_attempt_says_which_worker_made_it(rt: RuntimeStore) -> None:
    (row_id,) = rt.enqueue_outbox(ENV, [_item(attempts=3)])
    rt.claim_outbox(worker="host-a:101:x", limit=1, lease_seconds=30)
    rt.record_attempt(row_id, worker="host-a:101:x", status_code=503, success=False,
                      latency_ms=1, error="HTTP 503", response_excerpt=None, retry_at=_later(-1))
    rt.claim_outbox(worker="host-b:202:y", limit=1, lease_seconds=30)
    (_,) = rt.claim_outbox(worker="host-a:101:x", limit=1, lease_seconds=30,
                           now=_later(60))  # host-b died holding it
    rt.record_attempt(row_id, worker="host-a:101:x", status_code=200, success=True,
                      latency_ms=1, error=None, response_excerpt=None, retry_at=None)
    delivery = rt.delivery(row_id)
    assert delivery is not None
    assert [(a.worker, a.status_code) for a in delivery.history] == [
        ("host-a:101:x", 503), ("host-b:202:y", None), ("host-a:101:x", 200)]


# ------------------------------------------------------------------ trigger delivery budgets


def test_a_budget_allows_limit_sends_per_clock_window(rt: RuntimeStore) -> None:
    start = datetime(2026, 12, 5, 8, 0, 0, 250_000, tzinfo=UTC)
    taken = [rt.take_budget("trg_1", limit=3, per_seconds=10, now=start + timedelta(seconds=i))
             for i in range(5)]
    assert taken[:3] == [None, None, None]
    assert taken[3] == taken[4] == datetime(2026, 12, 5, 8, 0, 10, tzinfo=UTC)  # next window
    # another trigger has its own budget; the next window starts afresh
    assert rt.take_budget("trg_2", limit=1, per_seconds=10, now=start) is None
    assert rt.take_budget("trg_1", limit=3, per_seconds=10,
                          now=start + timedelta(seconds=10)) is None


_SPENDER = """
import json, sys
from datetime import datetime, UTC
from pathlib import Path
from hookplane.state import Store

url, root = sys.argv[1:3]
now = datetime(2026, 12, 5, 8, 0, 1, tzinfo=UTC)
with Store.open(url, root=Path(root)) as store:
    rt = store.runtime()
    rt.outbox_depth()  # connect before the start line
    print("ready", flush=True)
    sys.stdin.readline()
    spent = sum(1 for _ in range(40)
                if rt.take_budget("trg_shared", limit=25, per_seconds=60, now=now) is None)
    print(json.dumps({"spent": spent}), flush=True)
"""


def test_processes_share_one_budget(database_url: str, root: Path) -> None:
    """The throttle is one budget for every process and replica (a row per trigger in the
    database, taken under a row lock), not one per process."""
    with Store.open(database_url, root=root) as store:
        store.runtime().outbox_depth()  # migrated before the children start
    results = run_together(_SPENDER, *([database_url, str(root)] for _ in range(3)))
    assert sum(result["spent"] for result in results) == 25


# ------------------------------------------------------------------ circuit breakers


def test_a_breaker_opens_probes_and_disables(rt: RuntimeStore) -> None:
    start = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)

    def fail(seconds: float) -> object:
        return rt.breaker_outcome("trg_1", success=False, failures=3, cooldown=60,
                                  disable_after=3600, now=start + timedelta(seconds=seconds))

    assert fail(0) is None and fail(1) is None
    assert rt.breaker_gate("trg_1", cooldown=60, now=start + timedelta(seconds=2)) is None
    assert fail(2) is None  # the third in a row opens it
    until = rt.breaker_gate("trg_1", cooldown=60, now=start + timedelta(seconds=3))
    assert until == start + timedelta(seconds=62)
    # the cooldown over: one probe goes, the next waits for its outcome
    assert rt.breaker_gate("trg_1", cooldown=60, now=start + timedelta(seconds=63)) is None
    assert rt.breaker_gate("trg_1", cooldown=60, now=start + timedelta(seconds=64)) is not None
    disabled = fail(3600)
    assert disabled is not None and disabled.disabled_at is not None
    assert "4 failed attempts in a row" in (disabled.reason or "")
    assert fail(3601) is None  # disabled once, announced once
    assert rt.breaker_gate("trg_1", cooldown=60, now=start + timedelta(seconds=9000)) is not None
    # a success does not close a disabled breaker: only enabling does
    rt.breaker_outcome("trg_1", success=True, failures=3, cooldown=60, disable_after=3600)
    assert rt.breaker("trg_1") is not None
    assert rt.enable_trigger("trg_1", environment=ENV) and rt.breaker("trg_1") is None


_FAILER = """
import json, sys
from pathlib import Path
from hookplane.state import Store

url, root = sys.argv[1:3]
with Store.open(url, root=Path(root)) as store:
    rt = store.runtime()
    rt.outbox_depth()  # connect before the start line
    print("ready", flush=True)
    sys.stdin.readline()
    disabled = sum(1 for _ in range(20)
                   if rt.breaker_outcome("trg_shared", success=False, failures=5, cooldown=60,
                                         disable_after=0.000001) is not None)
    print(json.dumps({"disabled": disabled}), flush=True)
"""


def test_replicas_count_one_streak_and_disable_once(database_url: str, root: Path) -> None:
    """Two processes failing against the same endpoint at once: one streak of 40, and the
    trigger is disabled (and trigger.disabled announced) exactly once."""
    with Store.open(database_url, root=root) as store:
        store.runtime().outbox_depth()
    results = run_together(_FAILER, *([database_url, str(root)] for _ in range(2)))
    assert sum(result["disabled"] for result in results) == 1
    with Store.open(database_url, root=root) as store:
        health = store.runtime().breaker("trg_shared")
    assert health is not None and health.failures == 40 and health.disabled_at is not None
