"""Outbound triggers end to end: a real state database, real receivers on 127.0.0.1 and the
real dispatcher (its egress guard opened for 127.0.0.0/8 only where a test says so)."""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import hmac
import ipaddress
import random
import socket
import textwrap
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import select
from sqlalchemy import update as sql_update
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from hookplane.errors import (
    DeliveryError,
    EgressInvalidURL,
    EgressRefused,
    EgressUnreachable,
)
from hookplane.runtime.dispatch import (
    LEASE_MARGIN,
    PURGE_EVERY,
    UNRECORDED_PER_SLOT,
    Dispatcher,
    TriggerNotFound,
    parse_retry_after,
    retention_days_from_env,
)
from hookplane.runtime.egress import (
    Answer,
    GuardedSender,
    allowed_networks_from_env,
    refusal_reason,
    sender_from_env,
)
from hookplane.runtime.registry import Registry
from hookplane.state import tables
from hookplane.state.runtime import Delivery, OutboxItem, RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.dispatch_support import (
    ENV,
    Hit,
    Project,
    Receiver,
    Reply,
    finished,
    ok,
    running,
    wait_until,
)

ENVIRON = {"SHOP_TOKEN": "shop-api-token-value", "RECEIVER_TOKEN": "receiver-token-value"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    peer = Receiver().start()
    yield peer
    peer.stop()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "project"
    root.mkdir()
    opened = Project(root, f"sqlite:///{tmp_path / 'state.db'}", ENVIRON)
    yield opened
    opened.close()


@contextmanager
def socket_closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    yield port


def hexmac(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_both(hit: Hit, secret: str) -> None:
    """What a receiver does: the official Standard Webhooks check and a plain HMAC check."""
    Webhook(secret).verify(hit.body, hit.headers)
    assert "sha256=" + hexmac(secret, hit.body) in hit.headers["x-hookplane-signature"].split()


# ----------------------------------------------------------------------------- delivery


def test_a_write_is_delivered_signed_with_the_envelope(project: Project,
                                                       receiver: Receiver) -> None:
    project.apply(f"""
        triggers:
          notify:
            collection: incidents
            events: [create]
            url: {receiver.url}/hooks/notify
            headers: {{X-Team: ops, Authorization: "Bearer ${{env:RECEIVER_TOKEN}}",
                       webhook-id: forged, Content-Type: application/vnd.test+json}}
        """)
    record = project.create("incidents", {"title": "API down", "severity": "p1"})
    (queued,) = project.runtime.deliveries(ENV, project.view.triggers["notify"].id)
    assert queued.status == "pending"  # committed with the record, sent later

    with running(project.dispatcher()):
        (delivery,) = finished(project, "notify")

    (hit,) = receiver.hits
    (secret,) = project.secrets("notify")
    verify_both(hit, secret)
    assert hit.method == "POST" and hit.path == "/hooks/notify"
    assert hit.headers["webhook-id"] == delivery.id == queued.id  # not the configured one
    assert hit.headers["x-hookplane-event"] == "create"
    assert hit.headers["x-team"] == "ops"
    assert hit.headers["authorization"] == "Bearer receiver-token-value"
    assert hit.headers["content-type"] == "application/vnd.test+json"
    assert hit.headers["user-agent"].startswith("Hookplane-Webhooks/")
    envelope = hit.json()
    assert envelope["id"] == delivery.id and envelope["event"] == "create"
    assert envelope["record"]["id"] == record.id
    assert envelope["record"]["data"] == {"title": "API down", "severity": "p1"}
    assert delivery.status == "delivered" and delivery.attempts == 1
    (attempt,) = delivery.history
    assert attempt.success and attempt.status_code == 200
    assert attempt.latency_ms is not None and attempt.response_excerpt == '{"ok": true}'
    # the resolved receiver token is configuration: never written to the outbox
    assert "receiver-token-value" not in str(delivery.payload)
    assert project.runtime.outbox_depth() == 0


def test_each_attempt_keeps_the_headers_sent_and_received(
        project: Project, receiver: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    """The delivery log keeps what was sent (signature, id, timestamp, configured headers;
    every ${env:} value and credential header masked) and what the receiver answered with
    (cookies masked, a redirect's location reduced to its host), in the state database, the
    admin/CLI rows and the console. Before, only status, latency and a body excerpt were."""
    project.apply(f"""
        triggers:
          notify:
            collection: incidents
            events: [create]
            url: {receiver.url}/hooks/notify
            headers: {{X-Team: ops, X-Shop-Key: "${{env:SHOP_TOKEN}}",
                       Authorization: "Bearer ${{env:RECEIVER_TOKEN}}"}}
        """)
    receiver.respond = lambda hit: (200, {"ok": True}, {
        "X-Receiver": "accepted", "Set-Cookie": "sid=session-secret-value",
        "Content-Location": f"{receiver.url}/private/path-secret"})
    project.create("incidents", {"title": "API down", "severity": "p1"})
    with running(project.dispatcher()):
        (delivery,) = finished(project, "notify")
    (hit,) = receiver.hits
    (attempt,) = delivery.history
    sent = {k.lower(): v for k, v in (attempt.request_headers or {}).items()}
    assert sent["webhook-id"] == delivery.id == hit.headers["webhook-id"]
    assert sent["webhook-signature"] == hit.headers["webhook-signature"]
    assert sent["x-hookplane-signature"] == hit.headers["x-hookplane-signature"]
    assert sent["x-team"] == "ops"
    assert sent["x-shop-key"] == "[redacted]" and sent["authorization"] == "[redacted]"
    received = {k.lower(): v for k, v in (attempt.response_headers or {}).items()}
    assert received["x-receiver"] == "accepted"
    assert received["set-cookie"] == "[redacted]"
    assert received["content-location"] == receiver.url  # scheme://host:port only
    database = b"".join(path.read_bytes() for path in project.root.parent.glob("state.db*"))
    assert b"accepted" in database  # the headers are there (WAL included) ...
    for secret in (b"shop-api-token-value", b"receiver-token-value", b"session-secret-value",
                   b"path-secret"):
        assert secret not in database  # ... and no secret among them
    # the CLI shows them: `hookplane triggers delivery ENV DELIVERY_ID`
    from hookplane.cli.main import run

    status = run(["-C", str(project.root), "--no-color", "triggers", "delivery", ENV,
                  delivery.id, "--database-url", project.url])
    shown = capsys.readouterr().out
    assert status == 0, shown
    assert "sent X-Team: ops" in shown and "sent Authorization: [redacted]" in shown
    assert "received X-Receiver: accepted" in shown and "receiver-token-value" not in shown


def test_the_signature_is_checked_against_the_body_as_sent(project: Project,
                                                           receiver: Receiver) -> None:
    project.apply(f"""
        triggers:
          notify: {{collection: incidents, events: [create], url: "{receiver.url}/n",
                    body: {{text: "P1: {{{{record.title}}}}"}}}}
        """)
    project.create("incidents", {"title": "Café ☕", "severity": "p1"})
    with running(project.dispatcher()):
        finished(project, "notify")
    (hit,) = receiver.hits
    (secret,) = project.secrets("notify")
    verify_both(hit, secret)
    assert hit.json() == {"text": "P1: Café ☕"}
    other = "whsec_" + base64.b64encode(b"x" * 32).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(hit.body, hit.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(hit.body + b" ", hit.headers)


def test_writes_fire_only_matching_triggers_and_loops_are_broken(project: Project,
                                                                 receiver: Receiver) -> None:
    project.apply(f"""
        triggers:
          p1: {{collection: incidents, events: [create, update, delete], url: "{receiver.url}/p1",
                filter: {{severity: p1}}}}
          hooks-too: {{collection: incidents, events: [create], url: "{receiver.url}/hooks",
                       skip_hook_writes: false}}
          inbound-too: {{collection: incidents, events: [create], url: "{receiver.url}/inb",
                         skip_inbound_webhook_writes: false}}
        """)
    project.create("incidents", {"title": "a", "severity": "p1"})
    project.create("incidents", {"title": "b", "severity": "p3"})
    project.create("incidents", {"title": "c", "severity": "p1"}, origin="hook")
    project.create("incidents", {"title": "d", "severity": "p1"}, origin="inbound_webhook")
    rec = project.create("incidents", {"title": "e", "severity": "p1"}, origin="hydration")
    project.runtime.update(ENV, "incidents", rec.id, {"title": "e", "severity": "p2"},
                           origin="api", outbox=project.outbox())
    project.runtime.delete(ENV, "incidents", rec.id, origin="api", outbox=project.outbox())
    with running(project.dispatcher()):
        finished(project, "p1", 1)
        finished(project, "hooks-too", 3)
        finished(project, "inbound-too", 4)
    titles = collections.defaultdict(list)
    for hit in receiver.hits:
        body = hit.json()
        titles[hit.path].append((body["event"], body["record"]["data"]["title"]))
    # e was written by hydration: an inbound write, skipped by default like d (no loop)
    assert sorted(titles["/p1"]) == [("create", "a")]  # p2 update/delete: no
    assert sorted(titles["/hooks"]) == [("create", t) for t in "abc"]
    assert sorted(titles["/inb"]) == [("create", t) for t in "abde"]


def test_external_write_goes_to_the_source_through_its_mapping(project: Project,
                                                               receiver: Receiver) -> None:
    project.apply(f"""
        sources:
          shop:
            collection: orders
            base_url: {receiver.url}/api/
            headers: {{Authorization: "Bearer ${{env:SHOP_TOKEN}}"}}
            write: {{method: PUT, path: "/orders/{{id}}", headers: {{X-Api-Version: "2"}}}}
            mapping:
              to_external: {{status: state, total: amount, customer: buyer.name}}
              value_maps: {{status: {{open: OPEN, paid: PAID}}}}
        triggers:
          sync-shop:
            collection: orders
            events: [create, update]
            external_write: {{source: shop}}
        """)
    project.create("orders", {"status": "paid", "total": 12.5, "customer": "Ada"},
                   external_id="A/1 ?x")
    project.create("orders", {"status": "open"})  # no external id: nothing to write
    with running(project.dispatcher()):
        (delivery,) = finished(project, "sync-shop")
    (hit,) = receiver.hits
    assert (hit.method, hit.path) == ("PUT", "/api/orders/A%2F1%20%3Fx")
    assert hit.json() == {"state": "PAID", "amount": 12.5, "buyer": {"name": "Ada"}}
    assert hit.headers["authorization"] == "Bearer shop-api-token-value"
    assert hit.headers["x-api-version"] == "2"
    verify_both(hit, project.secrets("sync-shop")[0])  # external writes are signed too
    assert delivery.status == "delivered"
    assert "shop-api-token-value" not in str(delivery.payload)


# ----------------------------------------------------------------------------- retries


def test_retries_honour_retry_after_and_keep_the_webhook_id(project: Project) -> None:
    answers = iter([(503, {"busy": True}, {"Retry-After": "1"}),
                    (429, {"slow down": True}, {"Retry-After": "1"}),
                    (200, {"ok": True}, {})])
    peer = Receiver(lambda hit: next(answers)).start()
    try:
        project.apply(f"""
            triggers:
              notify:
                collection: incidents
                events: [create]
                url: {peer.url}/n
                retry: {{attempts: 5, initial_seconds: 0.05, max_seconds: 30}}
            """)
        project.create("incidents", {"title": "a"})
        with running(project.dispatcher()):
            (delivery,) = finished(project, "notify")
    finally:
        peer.stop()
    first, second, third = peer.hits
    assert {h.headers["webhook-id"] for h in peer.hits} == {delivery.id}
    assert first.body == second.body == third.body
    assert second.at - first.at >= 0.95 and third.at - second.at >= 0.95  # not 0.05 s
    assert delivery.status == "delivered" and delivery.attempts == 3
    assert [a.status_code for a in delivery.history] == [503, 429, 200]
    assert [a.error for a in delivery.history] == ["receiver answered 503",
                                                   "receiver answered 429", None]
    for hit in peer.hits:
        verify_both(hit, project.secrets("notify")[0])


def test_a_429_with_retry_after_pauses_the_whole_trigger_not_others(project: Project) -> None:
    """A receiver's 429 + Retry-After speaks for the endpoint: the trigger's other queued
    deliveries wait too (they used to keep flooding it, each learning on its own), shared by
    every replica through next_attempt_at; another trigger's deliveries go on meanwhile."""
    answered_429 = threading.Event()

    def slow_down(hit: Hit) -> Reply:
        if not answered_429.is_set():
            answered_429.set()
            return 429, {"slow down": True}, {"Retry-After": "2"}
        return 200, {"ok": True}, {}

    busy = Receiver(slow_down).start()
    other = Receiver().start()
    try:
        project.apply(f"""
            triggers:
              flooded:
                collection: incidents
                events: [create]
                url: {busy.url}/f
                retry: {{attempts: 5, initial_seconds: 0.05, max_seconds: 30}}
              calm:
                collection: incidents
                events: [create]
                url: {other.url}/c
            """)
        for number in range(8):
            project.create("incidents", {"title": f"t{number}"})
        with running(project.dispatcher(concurrency=2)):
            finished(project, "flooded", count=8)
            finished(project, "calm", count=8)
    finally:
        busy.stop()
        other.stop()
    first = busy.hits[0]
    during = [h for h in busy.hits[1:] if h.at < first.at + 1.9]
    # at most the one delivery already in the other slot when the 429 came back
    assert len(during) <= 1, [round(h.at - first.at, 2) for h in busy.hits]
    assert len(busy.hits) == 9  # 8 deliveries, one of them twice
    assert max(h.at for h in other.hits) < first.at + 1.9  # the calm trigger never waited


def test_a_slow_endpoint_keeps_to_its_share_of_slots(project: Project) -> None:
    """A receiver that answers after 0.8 s (the dispatcher counting an attempt over 0.4 s as
    slow) cannot take every slot: once its first attempts are slow, the trigger holds at most
    concurrency // 4 of them, so another trigger's deliveries, queued after its twelve, go
    out while the slow ones are still in flight (without the share all four slots would wait
    on it for over 2.4 s). Once the brisk ones are in, the receiver answers at once, so the
    rest drain quickly: each must still arrive."""
    delay, slow_attempt = 0.8, 0.4
    hurry = threading.Event()
    slow = Receiver(lambda hit: (hurry.wait(delay), (200, {"ok": True}, {}))[1]).start()
    fast = Receiver().start()
    try:
        project.apply(f"""
            triggers:
              sluggish:
                collection: incidents
                events: [create]
                url: {slow.url}/s
                timeout: 10
              brisk:
                collection: orders
                events: [create]
                url: {fast.url}/b
            """)
        for number in range(12):
            project.create("incidents", {"title": f"slow {number}"})
        with running(project.dispatcher(concurrency=4, slow_attempt=slow_attempt)):
            wait_until(lambda: len(slow.hits) >= 1)
            time.sleep(slow_attempt + 0.1)  # the slow attempts in flight pass slow_attempt
            started = time.monotonic()
            for number in range(4):
                project.create("orders", {"customer": f"fast {number}"})
            finished(project, "brisk", count=4)
            brisk_done = time.monotonic() - started
            hurry.set()
            finished(project, "sluggish", count=12)
    finally:
        hurry.set()
        slow.stop()
        fast.stop()
    # 12 slow deliveries on 4 slots take >= 3 * 0.8 s (the brisk ones, started 0.5 s in,
    # would be done >= 1.9 s later); with its share (1 slot) the slow trigger leaves 3 to
    # the brisk one, which is done as soon as the first round of slow ones has answered
    assert brisk_done < 1.2, brisk_done
    assert len(fast.hits) == 4 and len(slow.hits) == 12


class _ClaimLog(RuntimeStore):
    """The real store; remembers every claim's (limit, lease_seconds) and counts the rows
    handed back."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.claims: list[tuple[int, float]] = []
        self.hand_backs = 0

    def claim_outbox(self, *, worker: str, limit: int, lease_seconds: float,
                     now: datetime | None = None, skip_triggers: Collection[str] = ()) -> Any:
        self.claims.append((limit, lease_seconds))
        return super().claim_outbox(worker=worker, limit=limit, lease_seconds=lease_seconds,
                                    now=now, skip_triggers=skip_triggers)

    def release_outbox(self, outbox_ids: Sequence[str], **options: Any) -> int:
        self.hand_backs += 1
        return super().release_outbox(outbox_ids, **options)


def test_a_slow_trigger_at_its_share_leaves_its_rows_in_the_table(project: Project) -> None:
    """While a slow trigger holds its share of slots, its other rows are not claimed: they
    used to be claimed and handed back on every wake-up (each poll, each write) — a churn of
    write transactions that took the database from the writes themselves
    (benchmarks/isolation.py: 2.1-3.2 instead of about 1). A write that queues rows only for
    such a trigger does not wake the dispatcher; one for another trigger does, at once."""
    slow_attempt = 0.3
    hurry = threading.Event()
    slow = Receiver(lambda hit: (hurry.wait(10), (200, {"ok": True}, {}))[1]).start()
    fast = Receiver().start()
    try:
        view = project.apply(f"""
            triggers:
              sluggish:
                collection: incidents
                events: [create]
                url: {slow.url}/s
                timeout: 15
              brisk:
                collection: orders
                events: [create]
                url: {fast.url}/b
            """)
        sluggish, brisk = view.triggers["sluggish"].id, view.triggers["brisk"].id
        assert project.store is not None
        counting = _ClaimLog(project.store)
        project.create("incidents", {"title": "first"})
        dispatcher = project.dispatcher(concurrency=4, slow_attempt=slow_attempt,
                                        runtime=counting, poll_interval=30.0)
        with running(dispatcher) as portal:
            wait_until(lambda: len(slow.hits) >= 1)
            time.sleep(slow_attempt + 0.1)  # now slow, and holding its share (one slot)
            claims = len(counting.claims)
            for number in range(5):  # three free slots, and rows of it keep coming
                project.create("incidents", {"title": f"more {number}"})
                portal.call(dispatcher.notify, {sluggish})
                time.sleep(0.05)
            assert len(counting.claims) == claims  # its own writes did not wake the dispatcher
            portal.call(dispatcher.notify, None)  # a wake-up without ids looks once...
            wait_until(lambda: len(counting.claims) > claims)
            time.sleep(0.2)
            assert (len(counting.claims), counting.hand_backs) == (claims + 1, 0)  # ...leaving them
            project.create("orders", {"customer": "quick"})
            portal.call(dispatcher.notify, {brisk})  # another trigger's write: at once
            finished(project, "brisk", count=1)
            hurry.set()  # the receiver answers at once now: the rest drains
            dispatcher.poll_interval = 0.05
            portal.call(dispatcher.notify, None)
            finished(project, "sluggish", count=6)
    finally:
        hurry.set()
        slow.stop()
        fast.stop()
    assert len(slow.hits) == 6 and len(fast.hits) == 1


def test_quick_errors_do_not_limit_a_trigger_to_its_share(project: Project) -> None:
    """A receiver that answers 500 at once costs no slot time: the trigger keeps every slot
    (only a slow attempt limits it), so eight quick failures go out four at a time."""
    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def busy_then_500(hit: Hit) -> Reply:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.3)
        with lock:
            state["now"] -= 1
        return 500, {"no": True}, {}

    failing = Receiver(busy_then_500).start()
    try:
        project.apply(f"""
            triggers:
              flaky:
                collection: incidents
                events: [create]
                url: {failing.url}/f
            """)
        project.create("incidents", {"title": "first error"})
        with running(project.dispatcher(concurrency=4)):
            finished(project, "flaky", count=1)
            state["most"] = 0  # the trigger has failed once; now eight more
            for number in range(8):
                project.create("incidents", {"title": f"f{number}"})
            finished(project, "flaky", count=9)
    finally:
        failing.stop()
    assert state["most"] >= 3, state  # limited after the first error, it was 1


def test_an_open_breaker_leaves_its_rows_unclaimed(project: Project) -> None:
    """While a trigger's breaker is open its deliveries are not claimed (no worker takes
    and hands back each one): they stay pending, unclaimed, until the cooldown ends."""
    dead = Receiver(lambda hit: (503, {"down": True}, {})).start()
    try:
        project.apply(f"""
            triggers:
              fragile:
                collection: incidents
                events: [create]
                url: {dead.url}/d
                circuit_breaker: {{failures: 1, cooldown: 1h}}
            """)
        project.create("incidents", {"title": "opens the breaker"})
        with running(project.dispatcher(concurrency=2)):
            finished(project, "fragile", count=1)
        for number in range(5):  # due now, but behind an open breaker
            project.create("incidents", {"title": f"waits {number}"})
        assert project.runtime.claim_outbox(worker="probe", limit=10, lease_seconds=30) == []
        waiting = [d for d in project.deliveries("fragile") if d.status == "pending"]
        assert len(waiting) == 5 and len(dead.hits) == 1
        assert project.runtime.enable_trigger(project.view.triggers["fragile"].id,
                                              environment="preview")
        assert len(project.runtime.claim_outbox(worker="probe", limit=10,
                                                lease_seconds=30)) == 5
    finally:
        dead.stop()


def test_rate_limit_throttles_a_trigger_and_drops_nothing(project: Project,
                                                           receiver: Receiver) -> None:
    """rate_limit: {deliveries: 2, per_seconds: 1}: eight queued deliveries with four slots
    go out at most two per clock second (the webhook-timestamp each was signed with), all of
    them, none counted as a failed attempt."""
    project.apply(f"""
        triggers:
          throttled:
            collection: incidents
            events: [create]
            url: {receiver.url}/t
            rate_limit: {{deliveries: 2, per_seconds: 1}}
        """)
    for number in range(8):
        project.create("incidents", {"title": f"t{number}"})
    with running(project.dispatcher(concurrency=4)):
        delivered = finished(project, "throttled", count=8)
    assert all(d.status == "delivered" and d.attempts == 1 for d in delivered)
    times = sorted(hit.at for hit in receiver.hits)
    assert len(times) == 8
    # clock-aligned windows of 1 s hold 2 each: any 1 s span holds at most two windows'
    # worth, and eight sends take at least three window boundaries (unthrottled: ~0.1 s)
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 4, \
        [round(t - times[0], 2) for t in times]
    assert times[-1] - times[0] >= 2.0, [round(t - times[0], 2) for t in times]


def test_a_circuit_breaker_stops_then_disables_and_nothing_is_lost(project: Project) -> None:
    """A dead endpoint: after 2 failures in a row the breaker opens (deliveries wait 0.5 s,
    then one probe), after 1.5 s of failing the trigger is disabled and trigger.disabled
    reaches the watcher; the deliveries wait — none failed — and go out once it is
    re-enabled."""
    healthy = threading.Event()
    dead = Receiver(lambda hit: (200, {"ok": True}, {}) if healthy.is_set()
                    else (500, {"down": True}, {})).start()
    watcher = Receiver().start()
    try:
        project.apply(f"""
            triggers:
              fragile:
                collection: incidents
                events: [create]
                url: {dead.url}/d
                retry: {{attempts: 50, initial_seconds: 0.05, max_seconds: 0.1}}
                circuit_breaker: {{failures: 2, cooldown: 500ms, disable_after: 1.5s}}
              watch:
                events: [trigger.disabled]
                url: {watcher.url}/w
            """)
        for number in range(3):
            project.create("incidents", {"title": f"t{number}"})
        fragile = project.view.triggers["fragile"].id
        with running(project.dispatcher(concurrency=2)):
            wait_until(lambda: watcher.hits, timeout=30)
            stopped_at = len(dead.hits)
            time.sleep(1.0)  # disabled: nothing more is sent (two cooldowns' time)
            assert len(dead.hits) == stopped_at
            health = project.runtime.breaker(fragile)
            assert health is not None and health.disabled_at is not None
            rows = project.deliveries("fragile")
            assert [d.status for d in rows] == ["pending"] * 3  # waiting, not lost
            healthy.set()
            from hookplane.runtime.admin import enable_trigger

            assert project.store is not None
            enable_trigger(project.store, project.runtime, ENV, "fragile", actor="test")
            delivered = finished(project, "fragile", count=3)
    finally:
        dead.stop()
        watcher.stop()
    # unthrottled, 3 deliveries retried every ~0.1 s for 1.5 s would be ~45 attempts
    assert stopped_at <= 10, stopped_at
    assert all(d.status == "delivered" for d in delivered)
    (event,) = watcher.hits
    assert event.json()["event"] == "trigger.disabled"
    assert event.json()["data"]["trigger"] == "fragile"
    assert project.runtime.breaker(fragile) is None


def _ordered_run(project: Project, receiver: Receiver,
                 dispatchers: Callable[[], Sequence[Dispatcher]]) -> dict[str, list[int]]:
    """Two records updated five times each, a receiver slow at random and failing one
    delivery once; returns each record's versions in the order they were received."""
    failed_once = threading.Event()

    def answer(hit: Hit) -> Reply:
        record = hit.json()["record"]
        time.sleep(random.uniform(0, 0.03))
        if record["data"]["title"] == "a" and record["version"] == 3 \
                and not failed_once.is_set():
            failed_once.set()
            return 500, {"try": "again"}, {}
        return 200, {"ok": True}, {}

    receiver.respond = answer
    project.apply(f"""
        triggers:
          ordered:
            collection: incidents
            events: [create, update]
            url: {receiver.url}/o
            ordered: true
            retry: {{attempts: 5, initial_seconds: 0.05, max_seconds: 0.1}}
        """)
    records = [project.create("incidents", {"title": title}) for title in ("a", "b")]
    for number in range(5):
        for record in records:
            project.runtime.update(ENV, "incidents", record.id,
                                   {"title": record.data["title"], "severity": f"p{number}"},
                                   origin="api", outbox=project.outbox())
    with contextlib.ExitStack() as stack:
        for dispatcher in dispatchers():
            stack.enter_context(running(dispatcher))
        finished(project, "ordered", count=12)
    seen: dict[str, list[int]] = {}
    for hit in receiver.hits:
        record = hit.json()["record"]
        seen.setdefault(record["data"]["title"], []).append(record["version"])
    return seen


def test_ordered_deliveries_of_one_record_go_in_order(project: Project,
                                                      receiver: Receiver) -> None:
    """ordered: true — a record's deliveries are sent by version, each after the one before
    is delivered (version 3 of 'a' fails once and the later ones wait for its retry), with
    four slots sending the two records' deliveries side by side."""
    seen = _ordered_run(project, receiver, lambda: [project.dispatcher(concurrency=4)])
    assert seen["a"] == [1, 2, 3, 3, 4, 5, 6]  # 3 twice: its failure, then its retry
    assert seen["b"] == [1, 2, 3, 4, 5, 6]
    titles = [hit.json()["record"]["data"]["title"] for hit in receiver.hits]
    first_b, last_a = titles.index("b"), len(titles) - 1 - titles[::-1].index("a")
    assert first_b < last_a  # b did not wait for all of a: parallel across records


def test_ordered_deliveries_with_two_replicas(database_url: str, tmp_path: Path,
                                             receiver: Receiver) -> None:
    root = tmp_path / "project"
    root.mkdir()
    project = Project(root, database_url, ENVIRON)
    stores: list[Store] = []

    def replicas() -> list[Dispatcher]:
        made = []
        for name in ("replica-a", "replica-b"):  # separate engines, as separate processes
            store = Store.open(database_url, root=root)
            stores.append(store)
            registry = Registry(store)
            registry.refresh()
            made.append(project.dispatcher(worker=name, registry=registry,
                                           runtime=store.runtime(), concurrency=4))
        return made

    try:
        seen = _ordered_run(project, receiver, replicas)
    finally:
        for store in stores:
            store.close()
        project.close()
    assert seen["a"] == [1, 2, 3, 3, 4, 5, 6]
    assert seen["b"] == [1, 2, 3, 4, 5, 6]


def test_other_4xx_answers_and_redirects_are_not_retried(project: Project) -> None:
    def answer(hit: Hit) -> Reply:
        if hit.path == "/moved":
            return 302, {}, {"Location": "/elsewhere"}
        return 422, {"error": "no such channel"}, {}

    peer = Receiver(answer).start()
    try:
        project.apply(f"""
            triggers:
              rejected: {{collection: incidents, events: [create], url: "{peer.url}/r",
                          retry: {{attempts: 5, initial_seconds: 0.05}}}}
              moved: {{collection: incidents, events: [create], url: "{peer.url}/moved",
                       retry: {{attempts: 5, initial_seconds: 0.05}}}}
            """)
        project.create("incidents", {"title": "a"})
        with running(project.dispatcher()):
            (rejected,) = finished(project, "rejected")
            (moved,) = finished(project, "moved")
            time.sleep(0.3)
    finally:
        peer.stop()
    assert rejected.status == "failed" and rejected.attempts == 1
    assert rejected.last_status_code == 422
    assert rejected.history[0].response_excerpt == '{"error": "no such channel"}'
    assert moved.status == "failed" and moved.attempts == 1
    assert "redirects are not followed" in (moved.last_error or "")
    assert sorted(h.path for h in peer.hits) == ["/moved", "/r"]  # /elsewhere never asked


def test_timeouts_and_refused_connections_are_retried(project: Project,
                                                      receiver: Receiver) -> None:
    slow = Receiver(lambda hit: (time.sleep(1.5), (200, {}, {}))[1]).start()
    with socket_closed_port() as closed:
        try:
            project.apply(f"""
                triggers:
                  slow: {{collection: incidents, events: [create], url: "{slow.url}/s",
                          timeout: 500ms, retry: {{attempts: 2, initial_seconds: 0.05}}}}
                  closed: {{collection: incidents, events: [create],
                            url: "http://127.0.0.1:{closed}/c",
                            retry: {{attempts: 3, initial_seconds: 0.05}}}}
                """)
            project.create("incidents", {"title": "a"})
            with running(project.dispatcher()):
                (timed_out,) = finished(project, "slow")
                (unreachable,) = finished(project, "closed")
        finally:
            slow.stop()
    assert timed_out.status == "failed" and timed_out.attempts == 2
    assert [a.error for a in timed_out.history] == ["no answer within 0.5s (timeout)"] * 2
    assert unreachable.status == "failed" and unreachable.attempts == 3
    assert all((a.error or "").startswith(f"could not connect to http://127.0.0.1:{closed}: ")
               for a in unreachable.history), unreachable.history


def test_dead_letter_fires_delivery_failed_once(project: Project) -> None:
    peer = Receiver(lambda hit: (500, {"boom": True}, {})).start()
    try:
        project.apply(f"""
            triggers:
              notify: {{collection: incidents, events: [create], url: "{peer.url}/n",
                        retry: {{attempts: 2, initial_seconds: 0.05}}}}
              on-failure: {{events: [delivery.failed], url: "{peer.url}/failed"}}
              on-failure-text:
                events: [delivery.failed]
                url: "{peer.url}/failed-text"
                body: "{{{{record.trigger}}}} gave up after {{{{record.attempts}}}}:
                  {{{{record.error}}}}"
            """)
        project.create("incidents", {"title": "a"})
        with running(project.dispatcher()):
            (dead,) = finished(project, "notify")
            (alert,) = finished(project, "on-failure")
            (text,) = finished(project, "on-failure-text")
            time.sleep(0.5)  # anything further would have been queued by now
    finally:
        peer.stop()
    assert dead.status == "failed" and dead.attempts == 2
    assert dead.last_error == "receiver answered 500"
    (failed_hit,) = peer.on("/failed")
    event = failed_hit.json()
    assert failed_hit.headers["x-hookplane-event"] == "delivery.failed"
    assert event["event"] == "delivery.failed" and event["id"] == alert.id
    assert event["data"] == {"delivery_id": dead.id, "trigger": "notify", "event": "create",
                             "collection": "incidents", "record_id": dead.payload["record_id"],
                             "attempts": 2, "status_code": 500,
                             "error": "receiver answered 500", "queued_at": dead.created_at}
    (text_hit,) = peer.on("/failed-text")
    assert text_hit.body == b"notify gave up after 2: receiver answered 500"
    assert text_hit.headers["content-type"] == "text/plain; charset=utf-8"
    # the delivery.failed deliveries failed too (500), and that fired nothing further
    assert alert.status == text.status == "failed"
    assert len(project.deliveries("on-failure")) == len(project.deliveries("on-failure-text")) == 1
    assert len(peer.on("/n")) == 2


def test_a_trigger_deactivated_or_deleted_after_queueing_fails_without_sending(
        project: Project, receiver: Receiver) -> None:
    base = f"""
        triggers:
          keep: {{collection: incidents, events: [create], url: "{receiver.url}/keep",
                  active: ACTIVE}}
          drop: {{collection: incidents, events: [create], url: "{receiver.url}/drop"}}
        """
    project.apply(base.replace("ACTIVE", "true"))
    keep_id, drop_id = (project.view.triggers[n].id for n in ("keep", "drop"))
    project.create("incidents", {"title": "a"})
    project.apply(base.replace("ACTIVE", "false").split("          drop:")[0])
    assert "drop" not in project.view.triggers
    with running(project.dispatcher()):
        wait_until(lambda: project.runtime.outbox_depth() == 0)
    (kept,) = project.runtime.deliveries(ENV, keep_id)
    (dropped,) = project.runtime.deliveries(ENV, drop_id)
    assert kept.status == dropped.status == "failed"
    assert kept.last_error == ("trigger 'keep' is inactive (active: false); the delivery was "
                               "not sent. Activate it and redeliver")
    assert dropped.last_error == ("trigger 'drop' was deleted from 'preview' after this "
                                  "delivery was queued; it was not sent")
    assert receiver.hits == []


# ----------------------------------------------------------------------------- concurrency


def test_a_slow_receiver_does_not_delay_the_others(project: Project) -> None:
    slow = Receiver(lambda hit: (time.sleep(2), (200, {}, {}))[1]).start()
    fast = Receiver().start()
    try:
        project.apply(f"""
            triggers:
              slow: {{collection: incidents, events: [create], url: "{slow.url}/s"}}
              fast: {{collection: incidents, events: [create], url: "{fast.url}/f"}}
            """)
        with running(project.dispatcher(concurrency=4)):
            started = time.monotonic()
            for n in range(3):  # three slow deliveries in flight at once
                project.create("incidents", {"title": f"slow {n}"})
            written = time.monotonic() - started
            wait_until(lambda: len(fast.hits) == 3, timeout=10)
            fast_done = time.monotonic() - started
            finished(project, "slow", 3)
            slow_done = time.monotonic() - started
    finally:
        slow.stop()
        fast.stop()
    assert written < 1.0  # writes never wait for deliveries
    assert fast_done < 1.5, fast_done  # not behind the 2 s receiver
    assert slow_done >= 2.0
    assert slow_done < 3.8, slow_done  # the three slow ones ran side by side (not 6 s)


class _GatedRuntime(RuntimeStore):
    """The real store; its first recording of attempts waits until ``gate`` opens."""

    def __init__(self, store: Store, gate: threading.Event) -> None:
        super().__init__(store)
        self.gate = gate

    def record_attempts(self, *args: Any, **kwargs: Any) -> Any:
        self.gate.wait(timeout=30)
        return super().record_attempts(*args, **kwargs)


def test_a_slot_is_free_once_its_attempt_is_queued_for_recording(project: Project) -> None:
    """Sending does not wait for the bookkeeping of earlier attempts: while the first
    recording is held, 2 slots go on to send the rows claimed ahead (more deliveries than
    slots); once recording resumes every attempt is recorded, each row delivered once."""
    receiver = Receiver().start()
    gate = threading.Event()
    try:
        project.apply(f"""
            triggers:
              fast: {{collection: incidents, events: [create], url: "{receiver.url}/f"}}
            """)
        assert project.store is not None
        gated = _GatedRuntime(project.store, gate)
        total = 10
        for n in range(total):
            project.create("incidents", {"title": f"n{n}"})
        with running(project.dispatcher(concurrency=2, runtime=gated)):
            wait_until(lambda: len(receiver.hits) > 2, timeout=15)
            assert not [d for d in project.deliveries("fast") if d.status == "delivered"]
            assert len(receiver.hits) <= UNRECORDED_PER_SLOT * 2 + 2
            gate.set()
            rows = finished(project, "fast", total)
    finally:
        gate.set()
        receiver.stop()
    assert len(rows) == total and all(d.status == "delivered" for d in rows)
    assert len({h.headers.get("webhook-id") for h in receiver.hits}) == total


def test_a_backlog_is_claimed_in_batches_under_one_lease(
        project: Project, receiver: Receiver) -> None:
    """With a backlog, rows are claimed ahead in batches (claims of many rows cost the
    database far less per row), every claim for the same one lease, and only as many rounds
    ahead as can wait for a slot and still be sent within it; with a lease that fits no more
    than the attempt in flight, nothing is claimed ahead."""
    project.apply(f"""
        triggers:
          fast: {{collection: incidents, events: [create], url: "{receiver.url}/f",
                  timeout: 2s}}
        """)
    assert project.store is not None
    slots = 2
    outcomes = []
    for total, (lease_seconds, rounds) in zip((60, 120), ((30.0, 3), (1.0, 0)), strict=True):
        # 30 s // (2 s timeout + 5 s margin) - 1 = 3 rounds fit
        logged = _ClaimLog(project.store)
        for n in range(60):
            project.create("incidents", {"title": f"n{n}"})
        with running(project.dispatcher(concurrency=slots, runtime=logged,
                                        lease_seconds=lease_seconds)):
            finished(project, "fast", total)
        limits = [limit for limit, _ in logged.claims]
        lease = max(lease_seconds, 2 + LEASE_MARGIN)
        assert {seconds for _, seconds in logged.claims} == {lease}  # one lease, always
        assert max(limits) <= slots + rounds * slots
        outcomes.append(max(limits))
    assert outcomes[0] > 2 * slots  # more than one round ahead
    assert outcomes[1] <= slots  # the lease fits no wait: no claim ahead
    rows = project.deliveries("fast")
    assert len(rows) == 120 and all(d.status == "delivered" and d.attempts == 1 for d in rows)


def test_rows_claimed_ahead_are_handed_back_when_the_dispatcher_stops(
        project: Project, receiver: Receiver) -> None:
    """Stopping (a deploy, ``serve --processes`` replacing a process) hands back the rows
    claimed ahead and never sent: pending again at once, not when their lease ends. The rows
    being sent when it stopped stay claimed until their lease ends (they may have arrived:
    at-least-once)."""
    def slowly(hit: Hit) -> Reply:
        time.sleep(1.5)
        return ok(hit)

    receiver.respond = slowly
    project.apply(f"""
        triggers:
          slow: {{collection: incidents, events: [create], url: "{receiver.url}/s",
                  timeout: 5s}}
        """)
    total = 30
    for n in range(total):
        project.create("incidents", {"title": f"n{n}"})

    def claimed() -> list[Delivery]:
        return [d for d in project.deliveries("slow") if d.status == "in_flight"]

    with running(project.dispatcher(concurrency=2, worker="stopping")):
        wait_until(lambda: len(claimed()) > 2)  # rows claimed ahead of the two slots
        wait_until(lambda: len(receiver.hits) == 2)
    rows = project.deliveries("slow")
    in_flight = [d for d in rows if d.status == "in_flight"]
    pending = [d for d in rows if d.status == "pending"]
    assert len(in_flight) == 2 and {d.claimed_by for d in in_flight} == {"stopping"}
    assert len(pending) == total - 2
    assert all(d.claimed_by is None and d.claimed_until is None and d.attempts == 0
               for d in pending)
    # another worker takes them at once
    assert project.store is not None
    taken = RuntimeStore(project.store).claim_outbox(worker="next", limit=100,
                                                     lease_seconds=60)
    assert len(taken) == total - 2


def test_rows_a_crashed_worker_held_are_delivered_after_its_lease(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        receiver: Receiver) -> None:
    root = tmp_path / "project"
    root.mkdir()
    project = Project(root, database_url, ENVIRON)
    try:
        project.apply(f"""
            triggers:
              notify: {{collection: incidents, events: [create], url: "{receiver.url}/n",
                        timeout: 1s}}
            """)
        ids = [project.create("incidents", {"title": f"t{n}"}).id for n in range(5)]
        assert len(ids) == 5
        hung = threading.Event()

        class NeverAnswers:  # the process dies while its requests are out
            async def send(self, method: str, url: str, **options: Any) -> Answer:
                hung.set()
                await anyio.sleep_forever()
                raise AssertionError("unreachable")

            async def aclose(self) -> None:
                return None

        # the lease: the 1 s timeout plus a margin (1.5 s here, to run quicker than the 5 s
        # of ``serve``)
        margin = 1.5
        doomed = project.dispatcher(worker="doomed", lease_seconds=1, sender=NeverAnswers(),
                                    lease_margin=margin)

        async def crash() -> None:
            with anyio.move_on_after(0.5):  # the process dies mid-send: nothing recorded
                await doomed.run_once()
            await doomed.sender.aclose()

        claimed_at = time.monotonic()
        anyio.run(crash)
        assert hung.is_set()
        rows = project.deliveries("notify")
        assert {d.status for d in rows} == {"in_flight"}
        assert {d.claimed_by for d in rows} == {"doomed"}

        with running(project.dispatcher(worker="survivor", lease_seconds=1,
                                        lease_margin=margin)):
            delivered = finished(project, "notify", 5)
            recovered_after = time.monotonic() - claimed_at
    finally:
        project.close()
    assert {d.status for d in delivered} == {"delivered"}
    # one attempt counted; the history also says the doomed worker's lease ran out first
    assert all(d.attempts == 1 and len(d.history) == 2 for d in delivered)
    assert all((d.history[0].error or "").startswith("lease lost: worker 'doomed' held")
               and d.history[1].status_code == 200 for d in delivered)
    assert collections.Counter(h.headers["webhook-id"] for h in receiver.hits) == \
        {d.id: 1 for d in delivered}
    # the lease covers the trigger's timeout plus a margin: nobody stole it early
    assert recovered_after >= 1 + margin - 0.5


def test_rows_claimed_ahead_are_held_for_one_lease_at_most(project: Project) -> None:
    """A worker that dies holds no row longer than one lease: rows it claimed ahead of a
    backlog get the same lease as the ones it sends (they were held for two leases, or more,
    so a dead replica's backlog came back only after 120 s), and it claims only as many
    rounds ahead as can still be sent within that lease."""
    slow = Receiver(lambda hit: (time.sleep(0.3), (200, {}, {}))[1]).start()
    try:
        project.apply(f"""
            triggers:
              notify: {{collection: incidents, events: [create], url: "{slow.url}/n",
                        timeout: 1s}}
            """)
        for n in range(60):
            project.create("incidents", {"title": f"t{n}"})
        dispatcher = project.dispatcher(lease_seconds=30, concurrency=2)
        with running(dispatcher):
            held = wait_until(lambda: [d for d in project.deliveries("notify")
                                       if d.status == "in_flight"] if len(
                [d for d in project.deliveries("notify") if d.status == "in_flight"]) > 4
                else None)
            now = datetime.now(UTC)
            ends = [datetime.fromisoformat(d.claimed_until or "") for d in held]
    finally:
        slow.stop()
    # claimed ahead: more rows in flight than slots, every one for one lease (30 s)
    assert len(held) > 2
    assert max(ends) <= now + timedelta(seconds=30 + 2), max(ends) - now
    # the rounds ahead fit in the lease: 30 s // (1 s timeout + 5 s margin) - 1 = 4 rounds
    assert len(held) <= 2 + 4 * 2


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_two_dispatchers_on_postgresql_deliver_every_row_exactly_once(
        database_url: str, tmp_path: Path, receiver: Receiver) -> None:
    root = tmp_path / "project"
    root.mkdir()
    project = Project(root, database_url, ENVIRON)
    counts: dict[str, int] = collections.Counter()
    lock = threading.Lock()

    class Counting:  # the guarded sender, counting what each replica sends
        def __init__(self, name: str) -> None:
            self.name = name
            self.inner = GuardedSender(allow_networks=["127.0.0.0/8"])

        async def send(self, method: str, url: str, **options: Any) -> Answer:
            with lock:
                counts[self.name] += 1
            return await self.inner.send(method, url, **options)

        async def aclose(self) -> None:
            await self.inner.aclose()

    stores: list[Store] = []
    try:
        project.apply(f"""
            triggers:
              notify: {{collection: incidents, events: [create], url: "{receiver.url}/n"}}
            """)
        dispatchers: list[Dispatcher] = []
        for name in ("replica-a", "replica-b"):  # separate engines, as separate processes
            store = Store.open(database_url, root=root)
            stores.append(store)
            registry = Registry(store)
            registry.refresh()
            dispatchers.append(project.dispatcher(
                worker=name, registry=registry, runtime=store.runtime(), concurrency=8,
                sender=Counting(name)))
        with running(dispatchers[0]), running(dispatchers[1]):
            writes = [threading.Thread(target=lambda k=k: [
                project.create("incidents", {"title": f"{k}-{n}"}) for n in range(250)])
                for k in range(4)]
            for thread in writes:
                thread.start()
            for thread in writes:
                thread.join()
            wait_until(lambda: project.runtime.outbox_depth() == 0, timeout=120)
    finally:
        for store in stores:
            store.close()
        project.close()
    ids = collections.Counter(hit.headers["webhook-id"] for hit in receiver.hits)
    assert len(ids) == 1000
    assert set(ids.values()) == {1}  # exactly once each
    assert counts["replica-a"] + counts["replica-b"] == 1000
    assert counts["replica-a"] > 0 and counts["replica-b"] > 0  # both did work


# ----------------------------------------------------------------------------- signing


def test_during_rotation_both_secrets_sign_then_only_the_new_one(project: Project,
                                                                receiver: Receiver) -> None:
    project.apply(f"""
        triggers:
          notify: {{collection: incidents, events: [create], url: "{receiver.url}/n"}}
        """)
    (old,) = project.secrets("notify")
    assert project.store is not None
    new = project.store.rotate_secret(ENV, "triggers", "notify", "signing_secret",
                                      grace_hours=2 / 3600)
    grace_ends = time.monotonic() + 2
    project.registry.refresh()
    project.create("incidents", {"title": "during the grace period"})
    with running(project.dispatcher()):
        finished(project, "notify")
    (during,) = receiver.hits
    assert len(during.headers["webhook-signature"].split()) == 2
    assert len(during.headers["x-hookplane-signature"].split()) == 2
    verify_both(during, old)  # receivers not yet updated keep working
    verify_both(during, new)

    time.sleep(max(0.0, grace_ends - time.monotonic()) + 0.2)
    assert project.secrets("notify") == [new]
    project.registry.refresh()  # the watcher's next poll: the grace period has ended
    project.create("incidents", {"title": "after the grace period"})
    with running(project.dispatcher()):
        finished(project, "notify", 2)
    after = receiver.hits[1]
    assert len(after.headers["webhook-signature"].split()) == 1
    assert len(after.headers["x-hookplane-signature"].split()) == 1
    verify_both(after, new)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


# ----------------------------------------------------------------------------- safety


def test_internal_destinations_are_refused_and_recorded(project: Project,
                                                        receiver: Receiver) -> None:
    project.apply(f"""
        triggers:
          internal: {{collection: incidents, events: [create], url: "{receiver.url}/i",
                      retry: {{attempts: 3, initial_seconds: 0.05}}}}
          metadata: {{collection: incidents, events: [create],
                      url: "http://169.254.169.254/latest/meta-data/"}}
        """)
    project.create("incidents", {"title": "a"})
    with running(project.dispatcher(allow=())):  # no allowlist: production defaults
        (internal,) = finished(project, "internal")
        (metadata,) = finished(project, "metadata")
    assert receiver.hits == []
    assert internal.status == "failed" and internal.attempts == 1  # refusal is final
    assert internal.last_error is not None
    assert internal.last_error.startswith(
        "refused to connect to 127.0.0.1: a loopback address; outbound requests only go to "
        "public addresses unless the operator allows the network in HOOKPLANE_ALLOW_NETWORKS")
    assert internal.history[0].status_code is None
    assert metadata.last_error == ("refused to connect to 169.254.169.254: the cloud metadata "
                                   "service; webhooks never need it")


REBIND_REFUSAL = ("refused to connect to rebind.test (10.0.0.7): a private address; "
                  "outbound requests only go to public addresses unless the operator allows "
                  "the network in HOOKPLANE_ALLOW_NETWORKS (e.g. "
                  "HOOKPLANE_ALLOW_NETWORKS=10.0.0.7/32)")
NAMES = {"receiver.test": ["127.0.0.1"], "rebind.test": ["127.0.0.1", "10.0.0.7"],
         "meta.test": ["fd00:ec2::254"]}


def test_the_vetted_address_is_the_one_connected_to(receiver: Receiver) -> None:
    """The dispatcher's client: names resolve through the guard, a keep-alive connection is
    reused (resolved once), any refused address refuses the whole host."""
    asked: list[str] = []

    async def resolver(host: str, port: int) -> Sequence[str]:
        asked.append(host)
        return NAMES[host]

    async def main() -> list[object]:
        outcomes: list[object] = []
        async with GuardedSender(allow_networks=["127.0.0.0/8"], resolver=resolver) as client:
            for _ in range(2):
                answer = await client.send("POST", f"http://receiver.test:{receiver.port}/pinned",
                                           headers={}, body=b"{}", timeout=5, cap=1024)
                outcomes.append(answer.status_code)
            for host in ("rebind.test", "meta.test"):
                try:
                    await client.send("GET", f"http://{host}:{receiver.port}/", headers={},
                                      body=b"", timeout=5, cap=1024)
                except EgressRefused as exc:
                    outcomes.append(str(exc))
        return outcomes

    first, second, rebind, meta = anyio.run(main)
    assert first == second == 200
    assert [hit.headers["host"] for hit in receiver.hits] == [
        f"receiver.test:{receiver.port}"] * 2  # the name, not the IP
    assert rebind == REBIND_REFUSAL
    assert isinstance(meta, str) and "the cloud metadata service" in meta
    assert asked == ["receiver.test", "rebind.test", "meta.test"]  # one connection reused


@pytest.mark.parametrize(("url", "error"), [
    ("http://127.0.0.1:{port}/x", "refused to connect to 127.0.0.1: a loopback address; "
     "outbound requests only go to public addresses unless the operator allows the network in "
     "HOOKPLANE_ALLOW_NETWORKS (e.g. HOOKPLANE_ALLOW_NETWORKS=127.0.0.1/32)"),
    ("http://[::1]:{port}/x", "refused to connect to ::1: a loopback address; outbound "
     "requests only go to public addresses unless the operator allows the network in "
     "HOOKPLANE_ALLOW_NETWORKS (e.g. HOOKPLANE_ALLOW_NETWORKS=::1/128)"),
    ("http://169.254.169.254/latest/meta-data/", "refused to connect to 169.254.169.254: "
     "the cloud metadata service; webhooks never need it"),
    ("ftp://receiver.test/x",
     "refused to send to a 'ftp' URL: outbound requests use http or https"),
])
def test_address_literals_and_other_schemes_are_refused(receiver: Receiver, url: str,
                                                         error: str) -> None:
    """An IP address in the URL never reaches the resolver: the socket is vetted instead."""
    async def resolver(host: str, port: int) -> Sequence[str]:
        raise AssertionError(f"resolved {host}")

    async def main() -> str:
        async with GuardedSender(resolver=resolver) as client:
            with pytest.raises(EgressRefused) as refused:
                await client.send("POST", url.format(port=receiver.port), headers={},
                                  body=b"{}", timeout=5, cap=1024)
        return str(refused.value)

    assert anyio.run(main) == error
    assert receiver.hits == []


def _certificate(name: str) -> tuple[bytes, bytes]:
    """A self-signed certificate for ``name`` and its key (PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def test_tls_is_checked_against_the_host_name_not_the_pinned_address(tmp_path: Path) -> None:
    """The connection goes to the vetted address; SNI and the certificate check still use
    the URL's host name (a certificate for another name is refused)."""
    import ssl
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    cert, key = _certificate("receiver.test")
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []

    def sni(sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    server_context.sni_callback = sni

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    class TLSServer(ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self) -> tuple[Any, Any]:
            sock, address = super().get_request()
            return server_context.wrap_socket(sock, server_side=True), address

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the refused handshake of the second request

    server = TLSServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()

    async def resolver(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    async def main() -> list[object]:
        trusted = ssl.create_default_context(cadata=cert.decode())
        seen: list[object] = []
        async with GuardedSender(allow_networks=["127.0.0.0/8"], resolver=resolver,
                                 verify=trusted) as client:
            answer = await client.send("POST", f"https://receiver.test:{port}/", headers={},
                                       body=b"{}", timeout=5, cap=1024)
            seen.append(answer.status_code)
            try:
                await client.send("POST", f"https://other.test:{port}/", headers={},
                                  body=b"{}", timeout=5, cap=1024)
            except EgressUnreachable as exc:
                seen.append(str(exc))
        return seen

    try:
        status, refused = anyio.run(main)
    finally:
        server.shutdown()
        server.server_close()
    assert status == 200
    assert names[0] == "receiver.test"
    assert isinstance(refused, str) and "other.test" in refused


def test_the_client_ignores_proxy_settings_and_keeps_no_cookies(
        receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Receiver().start()
    receiver.respond = lambda hit: (200, {}, {"Set-Cookie": "session=abc; Path=/"})
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def resolver(host: str, port: int) -> Sequence[str]:
        return ["127.0.0.1"]

    async def main() -> None:
        async with GuardedSender(allow_networks=["127.0.0.0/8"], resolver=resolver) as client:
            for _ in range(2):
                await client.send("POST", f"http://receiver.test:{receiver.port}/c",
                                  headers={}, body=b"{}", timeout=5, cap=1024)

    try:
        anyio.run(main)
    finally:
        proxy.stop()
    assert proxy.hits == []
    assert [hit.headers.get("cookie") for hit in receiver.hits] == [None, None]


def test_the_answer_read_is_capped_and_failures_are_hookplane_errors(receiver: Receiver
                                                                    ) -> None:
    receiver.respond = lambda hit: (200, b"x" * 5000 if hit.path == "/big" else b"small", {})

    async def main() -> list[object]:
        seen: list[object] = []
        async with GuardedSender(allow_networks=["127.0.0.0/8"]) as client:
            for path in ("/big", "/small"):
                answer = await client.send("GET", f"{receiver.url}{path}", headers={},
                                           body=b"", timeout=5, cap=4096)
                seen.append(answer.content)
            with socket_closed_port() as closed:
                try:
                    await client.send("POST", f"http://127.0.0.1:{closed}/", headers={},
                                      body=b"", timeout=5, cap=10)
                except EgressUnreachable as exc:
                    seen.append(type(exc))
            try:
                await client.send("POST", "http://receiver.test:1:2/", headers={}, body=b"",
                                  timeout=5, cap=10)
            except EgressInvalidURL as exc:
                seen.append(type(exc))
        return seen

    assert anyio.run(main) == [None, b"small", EgressUnreachable, EgressInvalidURL]


def test_the_runtime_sender_is_the_guarded_one() -> None:
    sender = sender_from_env({"HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8"})
    assert isinstance(sender, GuardedSender)
    assert sender.allow_networks == (ipaddress.ip_network("127.0.0.0/8"),)
    assert sender_from_env({}).allow_networks == ()


@pytest.mark.parametrize(("address", "reason"), [
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("10.1.2.3", "a private address"),
    ("172.20.0.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fd12:3456::1", "a private (unique local) address"),
    ("100.64.0.1", "a shared (CGNAT) address"),
    ("100.127.255.254", "a shared (CGNAT) address"),
    ("169.254.10.10", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("169.254.169.254", "the cloud metadata service"),
    ("fd00:ec2::254", "the cloud metadata service"),
    ("224.0.0.251", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("255.255.255.255", "the broadcast address"),
    ("240.0.0.1", "a reserved address"),
    ("192.0.2.10", "a documentation address"),
    ("2001:db8::1", "a documentation address"),
    ("::ffff:127.0.0.1", "a loopback address (embedded in ::ffff:7f00:1)"),
    ("::ffff:8.8.8.8", None),
    ("64:ff9b::a00:1", "a private address (embedded in 64:ff9b::a00:1)"),
    ("2002:a9fe:a9fe::1", "the cloud metadata service (embedded in 2002:a9fe:a9fe::1)"),
    ("::127.0.0.1", "a reserved address (outside global unicast 2000::/3)"),
])
def test_refusal_reasons(address: str, reason: str | None) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


def test_the_allowlist_opens_only_its_networks() -> None:
    allowed = allowed_networks_from_env({"HOOKPLANE_ALLOW_NETWORKS": " 127.0.0.0/8, fd00::/8,"})
    assert refusal_reason(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert refusal_reason(ipaddress.ip_address("fd00:ec2::254"), allowed) is None
    assert refusal_reason(ipaddress.ip_address("10.0.0.1"), allowed) == "a private address"
    assert allowed_networks_from_env({}) == ()
    with pytest.raises(DeliveryError, match="HOOKPLANE_ALLOW_NETWORKS: 'localhost' is not a "
                                            "network"):
        allowed_networks_from_env({"HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8,localhost"})


# ----------------------------------------------------------------------------- operations


def test_send_test_signs_a_synthetic_event_and_leaves_the_outbox_alone(
        project: Project, receiver: Receiver) -> None:
    project.apply(f"""
        triggers:
          notify: {{collection: incidents, events: [create], url: "{receiver.url}/n",
                    active: false}}
          slack: {{collection: incidents, events: [create], url: "{receiver.url}/s",
                   body: {{text: "P1: {{{{record.title}}}}"}}}}
          failing: {{collection: incidents, events: [create], url: "{receiver.url}/missing"}}
        """)
    receiver.respond = lambda hit: ((404, {"error": "not here"}, {})
                                    if hit.path == "/missing" else (200, {"pong": 1}, {}))
    dispatcher = project.dispatcher()

    async def main() -> list[dict[str, object]]:
        try:
            return [await dispatcher.send_test(project.view, name)
                    for name in ("notify", "slack", "failing")]
        finally:
            await dispatcher.sender.aclose()

    answer, slack, failing = anyio.run(main)
    assert answer["success"] is True and answer["status_code"] == 200
    assert answer["response_excerpt"] == '{"pong": 1}' and answer["error"] is None
    assert isinstance(answer["latency_ms"], float)
    first = receiver.hits[0]
    assert first.headers["x-hookplane-event"] == "test"
    assert first.headers["webhook-id"] == answer["message_id"]
    assert first.json()["event"] == "test" and first.json()["test"] is True
    verify_both(first, project.secrets("notify")[0])
    assert receiver.hits[1].json() == {"text": "P1: "}
    assert slack["success"] is True
    assert failing["success"] is False and failing["status_code"] == 404
    assert failing["error"] == "receiver answered 404"
    assert project.runtime.outbox_depth() == 0
    assert project.deliveries("notify") == []

    async def unknown() -> None:
        await dispatcher.send_test(project.view, "nope")

    with pytest.raises(TriggerNotFound, match="no trigger 'nope' in 'preview'"):
        anyio.run(unknown)


def test_redeliver_and_retention(project: Project) -> None:
    answers = iter([(500, {}, {}), (200, {}, {})])
    peer = Receiver(lambda hit: next(answers)).start()
    try:
        project.apply(f"""
            triggers:
              notify: {{collection: incidents, events: [create], url: "{peer.url}/n"}}
            """)
        project.create("incidents", {"title": "a"})
        dispatcher = project.dispatcher()
        with running(dispatcher) as portal:
            (failed,) = finished(project, "notify")
            assert failed.status == "failed" and failed.attempts == 1  # retry: none
            assert project.runtime.redeliver(failed.id, environment=ENV)
            wait_until(lambda: project.deliveries("notify")[0].status == "delivered")
            assert portal.call(dispatcher.purge) == 0  # younger than 30 days
            later = datetime.now(UTC) + timedelta(days=31)
            assert portal.call(lambda: dispatcher.purge(now=later)) == 1
    finally:
        peer.stop()
    assert [h.headers["webhook-id"] for h in peer.hits] == [failed.id] * 2
    assert project.deliveries("notify") == []


def test_named_events_are_delivered_under_their_name(project: Project, receiver: Receiver
                                                     ) -> None:
    """An escalation resolved fires 'escalation.resolved' once: not again when the resolved
    escalation is edited later (update + filter would fire on every edit)."""
    (project.root / "environments" / ENV / "escalations.yaml").write_text(textwrap.dedent("""\
        collections:
          escalations:
            schema:
              type: object
              properties:
                title: {type: string}
                status: {type: string, enum: [open, resolved]}
            events:
              escalation.resolved: {when: {status: resolved}}
        """))
    project.apply(f"""
        triggers:
          resolved:
            collection: escalations
            events: [escalation.resolved]
            url: "{receiver.url}/resolved"
            body: {{text: "{{{{event}}}}: {{{{record.title}}}}"}}
        """)
    record = project.create("escalations", {"title": "quota", "status": "open"})
    outbox = project.outbox()
    resolved = {"title": "quota", "status": "resolved"}
    project.runtime.update(ENV, "escalations", record.id, resolved, origin="api",
                           outbox=outbox)
    project.runtime.update(ENV, "escalations", record.id, {**resolved, "title": "quota!"},
                           origin="api", outbox=outbox)
    with running(project.dispatcher()):
        (delivery,) = finished(project, "resolved")
    assert delivery.status == "delivered" and delivery.event == "escalation.resolved"
    (hit,) = receiver.hits
    assert hit.headers["x-hookplane-event"] == "escalation.resolved"
    assert hit.json() == {"text": "escalation.resolved: quota"}
    verify_both(hit, project.secrets("resolved")[0])


def test_a_redelivery_gets_a_fresh_round_under_the_retry_policy(project: Project) -> None:
    """Redelivering a delivery that used up its attempts gives it the trigger's retry policy
    again (it was one attempt past the limit: 'attempts 3/2', never retried)."""
    answers = iter([(500, {}, {}), (500, {}, {}), (503, {}, {}), (200, {}, {})])
    peer = Receiver(lambda hit: next(answers)).start()
    try:
        project.apply(f"""
            triggers:
              notify: {{collection: incidents, events: [create], url: "{peer.url}/n",
                        retry: {{attempts: 2, initial_seconds: 0.05, jitter: false}}}}
            """)
        project.create("incidents", {"title": "a"})
        with running(project.dispatcher()):
            (failed,) = finished(project, "notify")
            assert (failed.status, failed.attempts, failed.max_attempts) == ("failed", 2, 2)
            assert project.runtime.redeliver(failed.id, environment=ENV)
            again = wait_until(lambda: next((d for d in project.deliveries("notify")
                                             if d.status == "delivered"), None))
    finally:
        peer.stop()
    assert (again.attempts, again.max_attempts) == (4, 4)  # the 503 was retried
    assert [a.status_code for a in again.history] == [500, 500, 503, 200]
    assert [h.headers["webhook-id"] for h in peer.hits] == [failed.id] * 4


def test_the_hourly_purge_also_ages_out_logs_jobs_and_dedup_marks(project: Project) -> None:
    """docs/runtime.md promises an hourly purge of finished deliveries *and logs*: the
    inbound log, finished jobs and de-duplication marks grew without bound."""
    project.apply("""
        triggers:
          notify: {collection: incidents, events: [create], url: "https://example.com/n"}
        """)
    rt = project.runtime
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=31), now - timedelta(days=1)
    rt.log_inbound(ENV, "iw_1", status_code=200, reason="ok", received_at=old)
    kept_log = rt.log_inbound(ENV, "iw_1", status_code=200, reason="ok", received_at=recent)
    done = rt.enqueue_job(ENV, "iw_1", "invoke", {}, max_attempts=1)
    rt.claim_jobs(worker="w", limit=1, lease_seconds=60)
    rt.finish_job(done, worker="w", result=None)
    rt.mark_seen(ENV, "iw_1", "three-days-old", window_seconds=86400,
                 now=now - timedelta(days=3))
    rt.mark_seen(ENV, "iw_1", "an-hour-old", window_seconds=86400,
                 now=now - timedelta(hours=1))
    dispatcher = project.dispatcher()
    assert anyio.run(lambda: dispatcher.purge(now=now)) == 2  # the old entry, the 3-day mark
    assert [e.id for e in rt.inbound_log(ENV, "iw_1")] == [kept_log]
    assert rt.job(done) is not None  # finished 0 days ago: kept
    assert not rt.mark_seen(ENV, "iw_1", "an-hour-old", window_seconds=86400)  # still a dup
    assert rt.mark_seen(ENV, "iw_1", "three-days-old", window_seconds=86400)  # gone: new
    assert anyio.run(lambda: dispatcher.purge(now=now + timedelta(days=31))) >= 2
    assert rt.job(done) is None and rt.inbound_log(ENV, "iw_1") == []


def _marks(store: Store | None) -> set[str]:
    """The provider delivery ids with a de-duplication mark, read from the table."""
    assert store is not None
    s = tables.seen_deliveries
    with store.database.transaction() as conn:
        return set(conn.scalars(select(s.c.provider_delivery_id)))


def test_a_running_dispatcher_purges_aged_rows_on_its_schedule(project: Project) -> None:
    """Nobody calls purge(): the dispatcher runs it when it starts and then every
    ``purge_every`` seconds (an hour in production, PURGE_EVERY). Rows written with old
    timestamps in the real SQLite database go -- finished deliveries with their attempts,
    inbound log entries, finished jobs, de-duplication marks -- and recent ones stay."""
    assert PURGE_EVERY == 3600.0  # docs/runtime.md: "purged hourly by each dispatcher"
    project.apply("")
    rt, store = project.runtime, project.store
    assert store is not None
    now = datetime.now(UTC)
    old = now - timedelta(days=31)

    def delivery(name: str) -> str:
        (outbox_id,) = rt.enqueue_outbox(ENV, [OutboxItem("trg_x", name, "incidents.create",
                                                          {"n": name})])
        (row,) = rt.claim_outbox(worker="w0", limit=1, lease_seconds=60)
        assert rt.record_attempt(row.id, worker="w0", status_code=200, success=True,
                                 latency_ms=5, error=None, response_excerpt="ok",
                                 retry_at=None)
        return outbox_id

    def job(name: str) -> str:
        job_id = rt.enqueue_job(ENV, "iw_1", "invoke", {"n": name}, max_attempts=1)
        (claimed,) = rt.claim_jobs(worker="w0", limit=1, lease_seconds=60)
        assert rt.finish_job(claimed.id, worker="w0", result=None)
        return job_id

    def age(table: Any, row_id: str) -> None:
        with store.database.transaction(write=True) as conn:
            conn.execute(sql_update(table).where(table.c.id == row_id).values(updated_at=old))

    old_delivery, kept_delivery = delivery("old"), delivery("recent")
    age(tables.outbox, old_delivery)
    old_job, kept_job = job("old"), job("recent")
    age(tables.jobs, old_job)
    rt.log_inbound(ENV, "iw_1", status_code=200, reason="ok", received_at=old)
    kept_log = rt.log_inbound(ENV, "iw_1", status_code=200, reason="ok")
    rt.mark_seen(ENV, "iw_1", "three-days-old", window_seconds=86400,
                 now=now - timedelta(days=3))
    rt.mark_seen(ENV, "iw_1", "an-hour-old", window_seconds=86400,
                 now=now - timedelta(hours=1))
    history = rt.delivery(old_delivery)
    assert history is not None and len(history.history) == 1

    with running(project.dispatcher(purge_every=0.3)):
        wait_until(lambda: rt.delivery(old_delivery) is None)  # the purge at start
        wait_until(lambda: rt.job(old_job) is None)
        assert _marks(store) == {"an-hour-old"}
        assert [e.id for e in rt.inbound_log(ENV, "iw_1")] == [kept_log]
        # the schedule repeats: a row aged after the first purge goes at the next one
        rt.log_inbound(ENV, "iw_1", status_code=500, reason="error", received_at=old)
        assert len(rt.inbound_log(ENV, "iw_1")) == 2
        wait_until(lambda: [e.id for e in rt.inbound_log(ENV, "iw_1")] == [kept_log])
    kept = rt.delivery(kept_delivery)
    assert kept is not None and kept.status == "delivered" and len(kept.history) == 1
    assert rt.job(kept_job) is not None and _marks(store) == {"an-hour-old"}
    with store.database.transaction() as conn:  # the attempts went with the row
        attempts = conn.scalars(select(tables.delivery_attempts.c.outbox_id)).all()
    assert attempts == [kept_delivery]


def test_with_retention_off_only_expired_dedup_marks_are_purged(project: Project) -> None:
    """HOOKPLANE_DELIVERY_RETENTION_DAYS=0 keeps the history; de-duplication marks still go
    two days after they were set (they de-duplicate nothing then), or they would pile up."""
    project.apply("")
    rt = project.runtime
    now = datetime.now(UTC)
    rt.log_inbound(ENV, "iw_1", status_code=200, reason="ok",
                   received_at=now - timedelta(days=400))
    rt.mark_seen(ENV, "iw_1", "three-days-old", window_seconds=86400,
                 now=now - timedelta(days=3))
    rt.mark_seen(ENV, "iw_1", "an-hour-old", window_seconds=86400,
                 now=now - timedelta(hours=1))
    assert project.store is not None
    assert _marks(project.store) == {"three-days-old", "an-hour-old"}
    dispatcher = project.dispatcher(retention_days=None, purge_every=0.05)
    with running(dispatcher):
        wait_until(lambda: _marks(project.store) == {"an-hour-old"})
    assert len(rt.inbound_log(ENV, "iw_1")) == 1  # kept: retention is off
    assert anyio.run(dispatcher.purge) == 0


def test_retention_setting() -> None:
    assert retention_days_from_env({}) == 30.0
    assert retention_days_from_env({"HOOKPLANE_DELIVERY_RETENTION_DAYS": "7.5"}) == 7.5
    assert retention_days_from_env({"HOOKPLANE_DELIVERY_RETENTION_DAYS": "0"}) is None
    with pytest.raises(DeliveryError, match="'a week' is not a number of days"):
        retention_days_from_env({"HOOKPLANE_DELIVERY_RETENTION_DAYS": "a week"})


def test_retry_after_parsing() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True),
                             now=now) == 90.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None) is None
