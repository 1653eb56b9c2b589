"""``record_attempts``: the dispatcher's group commit records many attempts in one
transaction, with the same outcome per row as ``record_attempt``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hookplane.errors import StateError
from hookplane.state import OutboxItem, RuntimeStore, Store
from hookplane.state.runtime import AttemptOutcome

from .conftest import ENV, table_rows


@pytest.fixture
def rt(store: Store) -> RuntimeStore:
    return store.runtime()


def _item(n: int, attempts: int = 3) -> OutboxItem:
    return OutboxItem(trigger_id="trg_1", trigger_name="notify", event="create",
                      payload={"n": n}, max_attempts=attempts)


def _outcome(outbox_id: str, status: int | None, *, retry_at: datetime | None = None,
             on_failed: tuple[OutboxItem, ...] = ()) -> AttemptOutcome:
    ok = status is not None and 200 <= status < 300
    return AttemptOutcome(outbox_id, status_code=status, success=ok, latency_ms=4.6,
                          error=None if ok else f"HTTP {status}", response_excerpt="body",
                          retry_at=retry_at, on_failed=on_failed)


def test_one_transaction_moves_each_row_like_record_attempt(rt: RuntimeStore,
                                                            database_url: str) -> None:
    ok, retry, dead = rt.enqueue_outbox(ENV, [_item(n) for n in range(3)])
    assert len(rt.claim_outbox(worker="w", limit=3, lease_seconds=30)) == 3
    (foreign,) = rt.enqueue_outbox(ENV, [_item(3)])
    assert [r.id for r in rt.claim_outbox(worker="other", limit=1, lease_seconds=600)] == [
        foreign]
    later = datetime.now(UTC) + timedelta(minutes=1)
    failed_event = OutboxItem("trg_sys", "on-failure", "delivery.failed", {"delivery_id": dead})

    held = rt.record_attempts([
        _outcome(ok, 200), _outcome(retry, 503, retry_at=later),
        _outcome(dead, 400, on_failed=(failed_event,)), _outcome(foreign, 200),
    ], worker="w")

    assert held == [True, True, True, False]
    rows = {r.id: r for r in (rt.delivery(i) for i in (ok, retry, dead, foreign)) if r}
    assert (rows[ok].status, rows[ok].attempts, rows[ok].last_error) == ("delivered", 1, None)
    assert (rows[retry].status, rows[retry].last_status_code, rows[retry].claimed_by) == (
        "pending", 503, None)
    assert (rows[dead].status, rows[dead].last_error) == ("failed", "HTTP 400")
    assert (rows[foreign].status, rows[foreign].claimed_by) == ("in_flight", "other")
    assert [(a.status_code, a.success, a.latency_ms) for a in rows[ok].history] == [
        (200, True, 5)]
    # a worker only records rows it claimed: one it no longer holds gets a marked entry
    # in the history and is not moved on
    assert [(a.status_code, a.error) for a in rows[foreign].history] == [
        (200, "recorded late: worker 'w' finished this attempt after its lease ran out, so it "
              "does not count")]
    system = [r for r in table_rows(database_url)["outbox"] if r["trigger_id"] == "trg_sys"]
    assert len(system) == 1 and system[0]["payload"] == {"delivery_id": dead}
    # the retried row is due again at retry_at, not before
    assert [r.trigger_id for r in rt.claim_outbox(worker="w", limit=10, lease_seconds=30)
            ] == ["trg_sys"]
    assert [r.id for r in rt.claim_outbox(worker="w", limit=10, lease_seconds=30,
                                          now=later + timedelta(seconds=1))
            if r.trigger_id == "trg_1"] == [retry]


def test_an_empty_batch_and_a_repeated_row(rt: RuntimeStore) -> None:
    (row_id,) = rt.enqueue_outbox(ENV, [_item(0)])
    rt.claim_outbox(worker="w", limit=1, lease_seconds=30)
    assert rt.record_attempts([], worker="w") == []
    with pytest.raises(StateError, match="more than once"):
        rt.record_attempts([_outcome(row_id, 200), _outcome(row_id, 200)], worker="w")
    assert rt.record_attempts([_outcome(row_id, 200)], worker="w") == [True]
    assert rt.record_attempts([_outcome(row_id, 200)], worker="w") == [False]  # done already
