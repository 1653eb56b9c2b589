"""``kill -9`` of ``hookplane serve`` with outbound deliveries and hydration jobs in flight,
then a restart: every accepted item is delivered (counted at the receiver by record id) and
every hydration completes; a delivery received twice carries the same ``webhook-id`` and the
same bytes both times. Short run: 200 deliveries and 20 hydrations; long run: 1,000 and 100.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.hardening.figures import record, scale
from tests.integration.runtime.harness import Peer, Seen, apply_environment, free_port, wait_for

DELIVERIES = scale(200, 1000)
HYDRATIONS = scale(20, 100)


def _serve(root: Path, url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "hookplane.cli", "-C", str(root), "serve", "--port",
             str(port), "--database-url", url, "--lease-seconds", "3", "--workers", "8",
             "--reload-interval", "0.2", "--log-level", "warning"],
            env=env, stdout=out, stderr=out)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_kill_9_of_serve_loses_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    receiver = Peer()
    upstream = Peer()

    slow = {"on": True}

    def answer(_: Seen) -> tuple[int, object]:
        # before the kill, slower than the writes come in (8 workers: 16 a second), so that
        # most deliveries are queued or in flight when it comes, whatever the machine's speed
        time.sleep(0.5 if slow["on"] else 0.01)
        return 200, {"ok": True}

    def order(seen: Seen) -> tuple[int, object]:
        time.sleep(0.05)
        return 200, {"id": seen.path.rsplit("/", 1)[1], "state": "PAID"}

    receiver.routes["/hook"] = answer
    upstream.routes["*"] = order
    receiver.start()
    upstream.start()
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(f"""\
        collections:
          events: {{schema: {{type: object, properties: {{n: {{type: integer}}}}}}}}
          orders: {{schema: {{type: object, properties: {{state: {{type: string}}}}}}}}
        sources:
          shop:
            collection: orders
            base_url: {upstream.url}
            read: {{method: GET, path: "/orders/{{id}}"}}
            timeout: 5
            mapping: {{to_external: {{state: state}}}}
        inbound_webhooks:
          refs:
            collection: orders
            auth: {{type: static_header, header: X-Key}}
            rate_limit: {{requests: 100000, per_seconds: 60}}
            source_binding: {{collection: orders, source: shop}}
            hydration: {{id_path: id, attempts: 10}}
        triggers:
          out:
            collection: events
            events: [create]
            url: {receiver.url}/hook
            timeout: 2
            retry: {{attempts: 10, initial_seconds: 0.2, max_seconds: 1}}
        api_keys:
          writer: {{scopes: [write]}}
        """))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    with Store.open(url, root=tmp_path) as store:
        token = store.reveal_token("preview", "api_keys", "writer")
        hook = next(r.id for r in store.snapshot("preview").resources.values()
                    if r.kind == "inbound_webhooks")
        key = store.read_secret("preview", "inbound_webhooks", "refs", "hmac_secret")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    server = _serve(tmp_path, url, port, log)
    accepted: set[str] = set()
    jobs: set[str] = set()
    try:
        wait_for(lambda: _ready(base), timeout=30)
        with httpx.Client(base_url=base, timeout=10) as http:
            for n in range(DELIVERIES):
                response = http.post("/api/preview/collections/events/records", json={"n": n},
                                     headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 201, response.text
                accepted.add(response.json()["id"])
                if n % (DELIVERIES // HYDRATIONS) == 0 and len(jobs) < HYDRATIONS:
                    response = http.post(f"/inbound/preview/{hook}/ingest",
                                         content=json.dumps({"id": f"o-{n}"}).encode(),
                                         headers={"Content-Type": "application/json",
                                                  "X-Key": key})
                    assert response.status_code == 202, response.text
                    jobs.add(response.json()["job_id"])
        wait_for(lambda: len(receiver.seen) >= DELIVERIES // 10, timeout=30)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    assert len(jobs) == HYDRATIONS
    before = {json.loads(s.body)["record"]["id"] for s in list(receiver.seen)}
    assert len(before) < DELIVERIES, "the kill came too late to prove anything"

    def jobs_done() -> int:
        with Store.open(url, root=tmp_path) as store:
            runtime = RuntimeStore(store)
            return sum(1 for j in jobs if (job := runtime.job(j)) and job.status == "done")

    jobs_before = jobs_done()
    slow["on"] = False
    restarted = _serve(tmp_path, url, port, log)
    try:
        def delivered() -> set[str]:
            return {json.loads(s.body)["record"]["id"] for s in list(receiver.seen)}

        wait_for(lambda: delivered() >= accepted, timeout=120)
        wait_for(lambda: jobs_done() == HYDRATIONS, timeout=120)
        with Store.open(url, root=tmp_path) as store:
            runtime = RuntimeStore(store)
            wait_for(lambda: runtime.outbox_depth() == 0, timeout=60)
            orders, _ = runtime.list("preview", "orders", limit=1000)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
        receiver.stop()
        upstream.stop()
    # the mapping names only `state`; the fields it does not name (the upstream id) are kept
    assert len(orders) == HYDRATIONS and all(o.data["state"] == "PAID" for o in orders)
    seen = list(receiver.seen)
    by_id: dict[str, set[bytes]] = {}
    ids_of_record: dict[str, set[str]] = {}
    for s in seen:
        by_id.setdefault(s.headers["webhook-id"], set()).add(s.body)
        ids_of_record.setdefault(json.loads(s.body)["record"]["id"], set()).add(
            s.headers["webhook-id"])
    assert set(ids_of_record) == accepted
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a repeat is the same bytes
    assert all(len(ids) == 1 for ids in ids_of_record.values())  # one webhook-id per item
    repeats = sum(count - 1 for count in Counter(s.headers["webhook-id"] for s in seen).values())
    record("faults", "kill -9 of 'hookplane serve' with deliveries and hydrations in flight",
           accepted=len(accepted) + HYDRATIONS, delivered=len(ids_of_record) + len(orders),
           deliveries=DELIVERIES, hydrations=HYDRATIONS,
           delivered_before_kill=len(before), hydrated_before_kill=jobs_before,
           received_twice_same_webhook_id=repeats,
           result="all delivered after restart; repeats only with the same webhook-id")
