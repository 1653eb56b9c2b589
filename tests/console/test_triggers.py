"""Trigger pages against real deliveries to a local receiver on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.console.conftest import (
    HEADER_SECRET,
    URL_SECRET,
    Console,
    screenshot,
    wait_deliveries,
)
from tests.integration.runtime.harness import wait_for


def _rows(page: Any) -> list[dict[str, str]]:
    rows = []
    for row in page.locator("table.deliveries tbody tr[data-delivery]").all():
        cells = row.locator("td").all_inner_texts()
        rows.append({"id": row.get_attribute("data-delivery") or "", "time": cells[0],
                     "event": cells[1], "http": cells[2], "result": cells[3],
                     "attempts": cells[4], "latency": cells[5], "error": cells[6]})
    return rows


def test_trigger_cards_show_masked_destinations(signed_in: Any, console: Console) -> None:
    page = signed_in
    page.goto(f"{console.url}/console/preview/triggers")
    cards = page.locator("ul.cards > li.card")
    assert cards.count() == 3
    text = page.inner_text("main")
    port = console.receiver.peer.port
    assert f"http://127.0.0.1:{port}/…" in text  # scheme + host only
    assert URL_SECRET not in page.content() and "/hooks/notify" not in page.content()
    notify = cards.filter(has_text="notify-oncall")
    assert "incidents" in notify.inner_text()
    assert "create, update" in notify.inner_text()
    assert "active" in notify.inner_text()
    assert "environments/preview/incidents.yaml:" in notify.inner_text()


def test_delivery_history_after_real_deliveries(signed_in: Any, console: Console) -> None:
    page = signed_in
    console.receiver.flaky_status = 500
    before_ok = len(console.deliveries("notify-oncall"))
    before_failed = len(console.deliveries("flaky-sink", "failed"))
    for title in ("Database latency high", "Checkout errors", "Disk almost full"):
        console.create_incident(title)
    wait_deliveries(console, "notify-oncall", before_ok + 3, "delivered")
    wait_deliveries(console, "flaky-sink", before_failed + 3, "failed")
    assert len(console.receiver.hits("/hooks/notify")) >= 3

    page.goto(f"{console.url}/console/preview/triggers/notify-oncall")
    rows = _rows(page)
    assert len(rows) >= 3
    assert {r["http"] for r in rows[:3]} == {"200"}
    assert all(r["result"] == "delivered" and r["attempts"] == "1 / 1" for r in rows[:3])
    assert all(r["latency"].endswith(" ms") for r in rows[:3])
    screenshot(page, "trigger", full_page=False)

    page.goto(f"{console.url}/console/preview/triggers/flaky-sink")
    failed = _rows(page)
    assert failed[0]["http"] == "500" and failed[0]["result"] == "failed"
    assert failed[0]["error"] == "receiver answered 500"
    assert page.get_by_role("button", name="Redeliver").count() >= 3

    # filter by status
    page.get_by_label("Status").select_option("delivered")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=delivered")
    assert _rows(page) == []
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**status=failed")
    assert {r["result"] for r in _rows(page)} == {"failed"}


def test_a_delivery_shows_its_request_and_response_with_secrets_masked(
        signed_in: Any, console: Console) -> None:
    page = signed_in
    before = len(console.deliveries("notify-oncall", "delivered"))
    console.create_incident("Payment provider timeouts", "p1")
    wait_deliveries(console, "notify-oncall", before + 1, "delivered")
    page.goto(f"{console.url}/console/preview/triggers/notify-oncall")
    page.locator("table.deliveries tbody tr[data-delivery] td a").first.click()
    page.wait_for_url("**/deliveries/msg_*")
    main = page.inner_text("main")
    assert "Payment provider timeouts" in main  # the body as stored
    assert "X-Team" in main and "platform" in main
    assert "Authorization" in main and "••••••••" in main
    assert HEADER_SECRET not in page.content()
    assert URL_SECRET not in page.content()
    assert '"ok": true' in main  # the receiver's response body
    assert "HTTP status" in main and "200" in main
    # which replica (host:pid:...) sent it: the console's own dispatcher here
    import os
    import socket

    worker = page.get_by_test_id("attempt-worker").first.inner_text()
    assert worker.startswith(f"{socket.gethostname()}:{os.getpid()}:"), worker
    screenshot(page, "delivery")


def test_redeliver_queues_a_failed_delivery_again(signed_in: Any, console: Console) -> None:
    page = signed_in
    console.receiver.flaky_status = 500
    before = len(console.deliveries("flaky-sink", "failed"))
    console.create_incident("Queue backlog")
    failed = wait_deliveries(console, "flaky-sink", before + 1, "failed")
    target = failed[0]["id"]
    console.receiver.flaky_status = 200  # the sink is back
    page.goto(f"{console.url}/console/preview/triggers/flaky-sink?status=failed")
    page.locator(f"tr[data-delivery='{target}']").get_by_role("button",
                                                               name="Redeliver").click()
    page.wait_for_url(f"**queued={target}")
    assert f"Delivery {target} is queued again" in page.get_by_role("status").inner_text()

    def delivered() -> bool:
        page.goto(f"{console.url}/console/preview/triggers/flaky-sink")
        row = page.locator(f"tr[data-delivery='{target}'] td").all_inner_texts()
        # a redelivery gets a fresh round: attempt 2 of 2, never "2 / 1"
        return row[3] == "delivered" and row[2] == "200" and row[4] == "2 / 2"

    wait_for(delivered, timeout=20, interval=0.3)
    console.receiver.flaky_status = 500


def test_breaker_state_re_enable_and_bulk_recovery(signed_in: Any, console: Console) -> None:
    """dead-end opens its breaker after 2 failed attempts: the page says so and offers to
    close it; closing sends the waiting delivery; "Queue again" re-sends the failed ones,
    once; both are in the audit log as the console's."""
    page = signed_in
    here = f"{console.url}/console/preview/triggers/dead-end"
    console.receiver.dead_status = 503
    writer = {"Authorization": f"Bearer {console.api_token}"}
    for text in ("first", "second", "third"):
        created = console.http.post("/api/preview/collections/notes/records",
                                    json={"text": text}, headers=writer)
        assert created.status_code == 201, created.text
        if text == "second":  # both in flight together; the third comes after they failed
            wait_deliveries(console, "dead-end", 2, "failed")

    def state() -> str:
        page.goto(here)
        return page.get_by_test_id("breaker-state").inner_text()

    assert wait_for(lambda: state().startswith("open until"), timeout=20, interval=0.3)
    assert "after 2 failed attempts in a row" in state()
    assert len(console.deliveries("dead-end", "pending")) == 1  # waits, not lost
    screenshot(page, "trigger-breaker-open", full_page=False)

    console.receiver.dead_status = 200  # the receiver is back
    page.get_by_role("button", name="Close the breaker").click()
    page.wait_for_url("**enabled=1")
    assert "circuit breaker is closed" in page.get_by_role("status").inner_text()
    wait_deliveries(console, "dead-end", 1, "delivered")
    assert state() == "closed"
    assert page.get_by_role("button", name="Close the breaker").count() == 0

    page.get_by_label("Created in").select_option("1h")
    page.get_by_role("button", name="Queue again").click()
    page.wait_for_url("**recovered=2")
    assert "2 deliveries queued again" in page.get_by_role("status").inner_text()
    wait_deliveries(console, "dead-end", 3, "delivered")
    page.get_by_role("button", name="Queue again").click()  # nothing failed any more
    page.wait_for_url("**recovered=0")
    assert "nothing was queued" in page.get_by_role("status").inner_text()

    with console.store() as store:
        audit = [(a.action, a.actor, a.details) for a in store.history("preview")]
    assert ("enable-trigger", "console") in {(action, actor) for action, actor, _ in audit}
    recoveries = [d for action, actor, d in audit
                  if action == "recover-deliveries" and actor == "console"]
    assert sorted(d["queued"] for d in recoveries) == [0, 2]


def test_send_test_shows_the_receivers_status(signed_in: Any, console: Console) -> None:
    page = signed_in
    hits = len(console.receiver.hits("/hooks/notify"))
    page.goto(f"{console.url}/console/preview/triggers/notify-oncall")
    page.get_by_role("button", name="Send test").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("test-status").inner_text() == "202"
    result = page.locator("section.result").inner_text()
    assert "Test delivery succeeded" in result
    assert "test event" in result  # the receiver's own answer
    seen = console.receiver.hits("/hooks/notify")[hits:]
    assert len(seen) == 1
    headers = {k.lower(): v for k, v in seen[0].headers.items()}
    assert headers["x-hookplane-event"] == "test"
    screenshot(page, "send-test", full_page=False)


def _hookplane_signatures(headers: dict[str, str]) -> list[str]:
    value = {k.lower(): v for k, v in headers.items()}["x-hookplane-signature"]
    return value.split(" ")


def _signed_by(secret: str, body: bytes, signatures: list[str]) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, s) for s in signatures)


def test_rotate_reveals_the_new_secret_once_and_the_old_one_still_verifies(
        signed_in: Any, console: Console) -> None:
    page = signed_in
    with console.store() as store:
        old = store.read_secret("preview", "triggers", "notify-oncall", "signing_secret")
    page.goto(f"{console.url}/console/preview/triggers/notify-oncall")
    page.get_by_role("button", name="Rotate secret").click()
    dialog = page.get_by_role("dialog")
    assert dialog.is_visible()
    assert "shown once" in dialog.inner_text()
    screenshot(page, "rotate-confirm", full_page=False)
    with page.expect_response(lambda r: r.url.endswith("/rotate")) as answer:
        dialog.get_by_role("button", name="Rotate now").click()
    response = answer.value
    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    banner = page.locator("section.reveal")
    assert banner.is_visible()
    new = page.locator("#revealed-secret").inner_text().strip()
    assert new.startswith("whsec_") and new != old
    with console.store() as store:
        assert store.read_secret("preview", "triggers", "notify-oncall",
                                 "signing_secret") == new
        latest = store.history("preview", limit=1)[0]
        assert (latest.action, latest.actor) == ("rotate-secret", "console")
    screenshot(page, "rotate-banner", full_page=False)

    # shown once: the page without the POST has no banner and no secret
    page.goto(f"{console.url}/console/preview/triggers/notify-oncall")
    assert page.locator("section.reveal").count() == 0
    assert new not in page.content() and old not in page.content()

    # a real delivery after the rotation verifies with the OLD secret (grace period) and the
    # new one
    hits = len(console.receiver.hits("/hooks/notify"))
    console.create_incident("After rotation")
    wait_for(lambda: len(console.receiver.hits("/hooks/notify")) > hits, timeout=20)
    delivery = console.receiver.hits("/hooks/notify")[hits]
    signatures = _hookplane_signatures(delivery.headers)
    assert len(signatures) == 2
    assert _signed_by(old, delivery.body, signatures)
    assert _signed_by(new, delivery.body, signatures)
    assert not _signed_by("whsec_not-the-secret", delivery.body, signatures)


def test_rotate_without_javascript_asks_on_a_page_of_its_own(signed_in: Any,
                                                             console: Console) -> None:
    page = signed_in
    page.goto(f"{console.url}/console/preview/triggers/flaky-sink")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    with console.store() as store:
        before = store.read_secret("preview", "triggers", "flaky-sink", "signing_secret")
    answer = page.request.post(f"{console.url}/console/preview/triggers/flaky-sink/rotate",
                               form={"csrf_token": token})
    assert answer.status == 200
    assert "Rotate the signing secret of flaky-sink?" in answer.text()
    with console.store() as store:
        assert store.read_secret("preview", "triggers", "flaky-sink",
                                 "signing_secret") == before  # not rotated without confirm


def test_unknown_trigger_is_a_404_page(signed_in: Any, console: Console) -> None:
    response = signed_in.goto(f"{console.url}/console/preview/triggers/nope")
    assert response.status == 404
    assert signed_in.get_by_role("heading", level=1).inner_text() == "Not found"
