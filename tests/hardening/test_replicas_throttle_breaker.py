"""Failure injection across two ``hookplane serve`` replicas on one PostgreSQL database: a
trigger's ``rate_limit`` is one budget for both (never more than its deliveries per clock
second at the receiver, all of them delivered), and a circuit breaker opened by one replica's
failures stops the other as well (the rest of the deliveries wait in the outbox, unclaimed,
none lost).
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from hookplane.state.store import Store
from tests.hardening.test_replicas_killed import _database, _ready, _serve, _stop
from tests.integration.runtime.harness import Peer, Seen, apply_environment, free_port, wait_for

pytestmark = pytest.mark.postgres

RECORDS = 24
BUDGET = 4
"""``rate_limit: {deliveries: 4, per_seconds: 1}``."""
FAILURES = 3
"""``circuit_breaker: {failures: 3}``: attempts that open it."""


def test_two_replicas_share_the_throttle_and_the_breaker(
        tmp_path: Path, postgres_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_DATABASE_URL", raising=False)
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())
    lock = threading.Lock()
    throttled: list[int] = []  # webhook-timestamp (the second each was signed in)
    fragile: list[float] = []

    def take(seen: Seen) -> tuple[int, object]:
        with lock:
            throttled.append(int(seen.headers["webhook-timestamp"]))
        return 200, {"ok": True}

    def fail(_seen: Seen) -> tuple[int, object]:
        with lock:
            fragile.append(time.monotonic())
        return 500, {"down": True}

    receiver = Peer()
    receiver.routes.update({"/throttled": take, "/fragile": fail})
    receiver.start()
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(f"""\
        collections:
          events: {{schema: {{type: object, properties: {{n: {{type: integer}}}}}}}}
        api_keys:
          writer: {{scopes: [write]}}
        triggers:
          throttled:
            collection: events
            events: [create]
            url: {receiver.url}/throttled
            rate_limit: {{deliveries: {BUDGET}, per_seconds: 1}}
          fragile:
            collection: events
            events: [create]
            url: {receiver.url}/fragile
            circuit_breaker: {{failures: {FAILURES}, cooldown: 1h}}
        """))
    processes = []
    try:
        with _database(postgres_server) as (url, _libpq):
            apply_environment(tmp_path, url, "preview", {})
            with Store.open(url, root=tmp_path) as store:
                token = store.reveal_token("preview", "api_keys", "writer")
                triggers = {r.name: r.id for r in store.snapshot("preview").resources.values()
                            if r.kind == "triggers"}
            ports = [free_port(), free_port()]
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            processes.extend(_serve(tmp_path, url, port, tmp_path / f"serve-{i}.log")
                             for i, port in enumerate(ports))
            wait_for(lambda: all(_ready(base) for base in bases), timeout=60)
            for n in range(RECORDS):  # alternately to each replica, as a load balancer would
                created = httpx.post(f"{bases[n % 2]}/api/preview/collections/events/records",
                                     json={"n": n}, headers={"Authorization": f"Bearer {token}"},
                                     timeout=10, trust_env=False)
                assert created.status_code == 201, created.text

            with Store.open(url, root=tmp_path) as store:
                runtime = store.runtime()

                def delivered() -> bool:
                    rows = runtime.deliveries("preview", triggers["throttled"], limit=100)
                    return sum(d.status == "delivered" for d in rows) == RECORDS

                wait_for(delivered, timeout=60, interval=0.2)
                senders = {a.worker.rsplit(":", 1)[0] for d in runtime.deliveries(
                    "preview", triggers["throttled"], limit=100)
                    for a in d.history if a.worker}
                time.sleep(1.5)  # nothing more reaches the fragile endpoint meanwhile
                fragile_rows = runtime.deliveries("preview", triggers["fragile"], limit=100)
                health = runtime.breaker(triggers["fragile"])
    finally:
        for process in processes:
            _stop(process)
        receiver.stop()

    # one budget for both replicas: at most BUDGET signed in any one second, all delivered
    per_second = Counter(throttled)
    assert len(throttled) == RECORDS
    assert max(per_second.values()) <= BUDGET, sorted(per_second.items())
    assert len(senders) == 2, senders  # both replicas took part
    # the breaker: opened by the first failures (whichever replica saw them), then nothing
    # more was sent by either; the deliveries not attempted wait, none lost
    assert health is not None and health.open_until is not None
    attempted = [d for d in fragile_rows if d.status == "failed"]
    waiting = [d for d in fragile_rows if d.status == "pending"]
    assert FAILURES <= len(fragile) <= FAILURES + 4, len(fragile)  # + those in flight then
    assert len(attempted) == len(fragile) and len(waiting) == RECORDS - len(fragile)
