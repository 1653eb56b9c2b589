"""Two ``hookplane serve`` replicas on one PostgreSQL database, one killed with ``kill -9``
halfway through 200 signed ingests (long run: 1,000) sent round-robin to both, its
deliveries claimed and in flight to a slow receiver: every acknowledged ingest is stored and
delivered, a delivery received twice keeps its ``webhook-id`` and bytes, the rows the dead
replica held — sent or only claimed ahead — are delivered by the other within one lease of
the kill (the measured recovery time is the figure ``docs/operations/deployment.md`` quotes),
and the history of a delivery sent twice shows the lost lease of the dead replica's worker
before the re-send.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from hookplane.runtime.dispatch import LEASE_MARGIN
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.hardening.figures import record, scale
from tests.integration.runtime.harness import Peer, Seen, apply_environment, free_port, wait_for

pytestmark = pytest.mark.postgres

INGESTS = scale(200, 1000)
WORKERS = 4
"""Delivery slots per replica (``serve --workers``)."""
TIMEOUT = 1.0
"""The trigger's timeout: the lease must leave room for it (timeout + 5 s per attempt)."""
LEASE = 12.0
"""``serve --lease-seconds``: two attempts' worth (2 x (1 s + 5 s)), the least that lets a
replica claim one round of rows ahead of its slots; the default of 60 s would make the test
wait a minute for the dead replica's rows."""
POLL = 0.2
"""The dispatcher's poll interval (``Dispatcher(poll_interval=…)``, as ``serve`` runs it)."""
MARGIN = POLL + 1.3
"""How late after its lease ends a row may reach the receiver: the surviving replica may be
asleep for one poll interval when the lease ends, then one claim transaction and one send
(tens of milliseconds on an idle box) — plus 1.3 s for a 2-core machine shared with other
work. Without the #22 item 1 fix a row claimed ahead held a lease of at least two (here
12 + 4 x 6 = 36 s), so a replica that died holding such rows recovers them 24 s or more too
late: far outside this margin."""
SLOW = 0.4
"""The receiver's answer time before the kill: 2 replicas x 4 slots answered in 0.4 s is 20
deliveries a second, slower than the ingests arrive, so each replica keeps all its slots busy
and a round claimed ahead."""
RATE = 40.0
"""Ingests a second: twice what the receiver answers, so a backlog builds up and the kill
(at the 100th acknowledged ingest, about 2.5 s in) finds each replica with every slot busy and
rows claimed ahead in a steady state, not still in its first round."""
_HOST = socket.gethostname()
_databases = itertools.count(1)


@contextlib.contextmanager
def _database(server: Any) -> Iterator[tuple[str, str]]:
    """A fresh database on the session's PostgreSQL server: (SQLAlchemy URL, libpq URL)."""
    name = f"replicas_{os.getpid()}_{next(_databases)}"
    server.admin(f'CREATE DATABASE "{name}"')
    try:
        yield server.url(name), server.url(name, driver="postgresql")
    finally:
        with contextlib.suppress(Exception):
            server.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _serve(root: Path, url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hookplane.cli", "-C", str(root), "serve", "--host",
             "127.0.0.1", "--port", str(port), "--database-url", url, "--lease-seconds",
             str(LEASE), "--workers", str(WORKERS), "--reload-interval", "0.2",
             "--log-level", "warning"],
            env=env, stdout=out, stderr=out)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _held(libpq_url: str, pid: int) -> dict[str, str]:
    """Deliveries in flight for a worker of process ``pid``: id -> worker."""
    import psycopg

    with psycopg.connect(libpq_url) as conn:
        rows = conn.execute("SELECT id, claimed_by FROM outbox WHERE status = 'in_flight' "
                            "AND claimed_by LIKE %s", (f"{_HOST}:{pid}:%",)).fetchall()
    return {str(row[0]): str(row[1]) for row in rows}


def test_kill_9_of_one_replica_recovers_within_one_lease(
        tmp_path: Path, postgres_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())
    # the lease leaves room for one round claimed ahead: two attempts (timeout + margin each)
    assert LEASE // (TIMEOUT + LEASE_MARGIN) - 1 >= 1
    received: list[tuple[float, str, bytes]] = []  # (monotonic time, webhook-id, body)
    lock = threading.Lock()
    slow = {"on": True}

    def answer(seen: Seen) -> tuple[int, object]:
        with lock:
            received.append((time.monotonic(), seen.headers.get("webhook-id", ""), seen.body))
        time.sleep(SLOW if slow["on"] else 0.0)
        return 200, {"ok": True}

    receiver = Peer()
    receiver.routes["/hook"] = answer
    receiver.start()
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(f"""\
        collections:
          events: {{schema: {{type: object, properties: {{n: {{type: integer}}}}}}}}
        inbound_webhooks:
          signed:
            collection: events
            auth: {{type: hmac, header: X-Signature}}
            rate_limit: {{requests: 100000, per_seconds: 60}}
        triggers:
          out:
            collection: events
            events: [create]
            url: {receiver.url}/hook
            timeout: {TIMEOUT:g}
            skip_inbound_webhook_writes: false
            retry: {{attempts: 10, initial_seconds: 0.2, max_seconds: 1}}
        """))
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with _database(postgres_server) as (url, libpq_url):
            apply_environment(tmp_path, url, "preview", {})
            with Store.open(url, root=tmp_path) as store:
                hook = next(r.id for r in store.snapshot("preview").resources.values()
                            if r.kind == "inbound_webhooks")
                key = store.read_secret("preview", "inbound_webhooks", "signed",
                                        "hmac_secret")
            ports = [free_port(), free_port()]
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            processes.extend(_serve(tmp_path, url, port, tmp_path / f"serve-{i}.log")
                             for i, port in enumerate(ports))
            victim, survivor = processes
            wait_for(lambda: all(_ready(base) for base in bases), timeout=60)

            acknowledged: dict[int, str] = {}  # ingest n -> record id
            refused = Counter[str]()
            clients = [httpx.Client(base_url=base, timeout=10, trust_env=False)
                       for base in bases]

            def ingest(n: int) -> None:
                time.sleep(max(0.0, started + n / RATE - time.monotonic()))
                body = json.dumps({"n": n}).encode()
                headers = {"Content-Type": "application/json",
                           "X-Signature": hmac.new(key.encode(), body,
                                                   hashlib.sha256).hexdigest()}
                order = [n % 2, 1 - n % 2]
                for replica in order:
                    try:
                        response = clients[replica].post(f"/inbound/preview/{hook}/ingest",
                                                         content=body, headers=headers)
                    except httpx.ConnectError:
                        # the replica is gone: the load balancer sends to the other one
                        refused["connect"] += 1
                        continue
                    except httpx.TransportError:
                        refused["in flight at the kill"] += 1  # outcome unknown: not acked
                        return
                    if response.status_code == 201:
                        acknowledged[n] = response.json()["record_id"]
                    else:
                        refused[str(response.status_code)] += 1
                    return

            with ThreadPoolExecutor(max_workers=8) as pool:
                started = time.monotonic()
                futures = [pool.submit(ingest, n) for n in range(INGESTS)]
                wait_for(lambda: len(acknowledged) >= INGESTS // 2, timeout=60, interval=0.01)
                # halfway: kill -9 of one replica, ingests still arriving at both
                victim.send_signal(signal.SIGKILL)
                killed_at = time.monotonic()
                victim.wait(timeout=10)
                time.sleep(0.3)  # what the victim wrote before it died reaches the handler
                held = _held(libpq_url, victim.pid)
                with lock:
                    before = {webhook_id for _, webhook_id, _ in received}
                slow["on"] = False  # the survivor's own backlog drains well within the lease
                for future in futures:
                    future.result()
            for http in clients:
                http.close()
            unsent = set(held) - before
            sent_twice = set(held) & before
            assert unsent, "the victim held no claimed-ahead rows at the kill: proves nothing"

            def delivered() -> set[str]:
                with lock:
                    return {json.loads(body)["record"]["id"] for _, _, body in received}

            accepted = set(acknowledged.values())
            wait_for(lambda: delivered() >= accepted and held.keys() <= {
                w for _, w, _ in list(received)}, timeout=4 * LEASE, interval=0.05)
            with Store.open(url, root=tmp_path) as store:
                runtime = RuntimeStore(store)
                wait_for(lambda: runtime.outbox_depth() == 0, timeout=30)
                stored = {n: runtime.get("preview", "events", record_id)
                          for n, record_id in acknowledged.items()}
                histories = {delivery_id: runtime.delivery(delivery_id)
                             for delivery_id in held}
            survivor_alive = survivor.poll() is None
    finally:
        for process in processes:
            _stop(process)
        receiver.stop()
    assert survivor_alive

    # nothing acknowledged was lost: each is a record, and reached the receiver
    assert all(r is not None and r.data["n"] == n for n, r in stored.items())
    with lock:
        seen = list(received)
    bodies: dict[str, set[bytes]] = {}
    ids_of_record: dict[str, set[str]] = {}
    for _, webhook_id, body in seen:
        bodies.setdefault(webhook_id, set()).add(body)
        ids_of_record.setdefault(json.loads(body)["record"]["id"], set()).add(webhook_id)
    assert accepted <= set(ids_of_record)
    # a delivery received twice is the same webhook-id with the same bytes
    assert all(len(ids) == 1 for ids in ids_of_record.values())
    assert all(len(b) == 1 for b in bodies.values())
    repeats = sum(count - 1 for count in Counter(w for _, w, _ in seen).values())

    # the rows the dead replica held came back within one lease of the kill
    def last_receipt(ids: set[str]) -> float:
        return max(at for at, webhook_id, _ in seen if webhook_id in ids) - killed_at

    recovered_unsent = last_receipt(unsent)
    recovered_all = last_receipt(set(held))
    print(f"\nlease {LEASE:g} s: the victim held {len(held)} deliveries at the kill "
          f"({len(unsent)} claimed ahead, never sent; {len(sent_twice)} sent, not recorded); "
          f"the last never-sent one reached the receiver {recovered_unsent:.2f} s after the "
          f"kill, the last of all {recovered_all:.2f} s (bound {LEASE + MARGIN:g} s); "
          f"{len(acknowledged)}/{INGESTS} ingests acknowledged, refused: {dict(refused)}, "
          f"{repeats} deliveries received twice")
    assert recovered_all <= LEASE + MARGIN, (recovered_unsent, recovered_all)

    # the history of a delivery sent twice shows the lost lease, then the re-send
    for delivery_id in held:
        delivery = histories[delivery_id]
        assert delivery is not None and delivery.status == "delivered"
        history = delivery.history
        lost = [i for i, a in enumerate(history)
                if a.error is not None and a.error.startswith("lease lost: ")]
        assert len(lost) == 1, [a.error for a in history]
        entry = history[lost[0]]
        assert entry.worker == held[delivery_id] and held[delivery_id] in (entry.error or "")
        assert "re-send with the same webhook-id" in (entry.error or "")
        resend = history[lost[0] + 1:]
        assert resend and resend[-1].success
        assert all((a.worker or "").startswith(f"{_HOST}:{survivor.pid}:") for a in resend)
        assert delivery.attempts == len(resend)  # the lost lease counts for nothing
    # the ones it had sent but not recorded were sent again, after the kill, by the survivor
    assert sent_twice, "the victim had sent nothing it had not recorded: proves nothing"
    for delivery_id in sent_twice:
        times = sorted(at for at, webhook_id, _ in seen if webhook_id == delivery_id)
        assert len(times) >= 2 and times[0] < killed_at < times[-1], (delivery_id, times)
    record("faults", "kill -9 of one of two 'hookplane serve' replicas on PostgreSQL, "
           "deliveries in flight",
           accepted=len(acknowledged), delivered=len(accepted & set(ids_of_record)),
           ingests=INGESTS, lease_seconds=LEASE, held_by_killed_replica=len(held),
           claimed_ahead_unsent=len(unsent), sent_not_recorded=len(sent_twice),
           recovered_after_kill_seconds=round(recovered_all, 2),
           received_twice_same_webhook_id=repeats,
           result=f"all delivered; the killed replica's rows within one lease "
                  f"({recovered_all:.1f} s after the kill, lease {LEASE:g} s)")

