"""kill -9 of ``hookplane serve`` with deliveries in flight: a restart delivers every one."""

from __future__ import annotations

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
from tests.integration.runtime.harness import Peer, Seen, apply_environment, free_port, wait_for

WRITES = 40


def _serve(root: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOOKPLANE_ALLOW_NETWORKS": "127.0.0.0/8"}
    with (root / "serve.log").open("ab") as log:  # the child keeps its own copy of the fd
        return subprocess.Popen(
            [sys.executable, "-m", "hookplane.cli", "-C", str(root), "serve", "--port",
             str(port), "--database-url", url, "--lease-seconds", "3",
             "--reload-interval", "0.2", "--log-level", "warning"],
            env=env, stdout=log, stderr=log)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_kill_9_then_restart_delivers_everything(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    receiver = Peer()
    slow = {"on": True}

    def answer(_: Seen) -> tuple[int, object]:
        if slow["on"]:
            time.sleep(1.0)
        return 200, {"ok": True}

    receiver.routes["/hook"] = answer
    receiver.start()
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent(f"""\
        collections:
          events: {{schema: {{type: object, properties: {{n: {{type: integer}}}}}}}}
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
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(tmp_path, url, port)
    try:
        wait_for(lambda: _ready(base), timeout=30)
        with httpx.Client(base_url=base, timeout=10) as http:
            for n in range(WRITES):
                response = http.post("/api/preview/collections/events/records", json={"n": n},
                                     headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 201, response.text
        wait_for(lambda: receiver.seen, timeout=10)  # deliveries are in flight
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
    delivered_before = {s.headers["webhook-id"] for s in receiver.seen}
    assert len(delivered_before) < WRITES, "the crash came too late to prove anything"

    slow["on"] = False
    restarted = _serve(tmp_path, url, port)
    def all_delivered() -> bool:
        with Store.open(url, root=tmp_path) as store:
            return RuntimeStore(store).outbox_depth() == 0

    try:
        wait_for(lambda: len({s.headers["webhook-id"] for s in receiver.seen}) == WRITES,
                 timeout=60)
        wait_for(all_delivered, timeout=60)  # in-flight rows were re-claimed after the lease
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=20)
        receiver.stop()
    counts = Counter(s.headers["webhook-id"] for s in receiver.seen)
    assert len(counts) == WRITES
    # the rows in flight at the kill were sent again after restart: same webhook-id
    assert any(count > 1 for count in counts.values())
    bodies: dict[str, set[bytes]] = {}
    for seen in receiver.seen:
        bodies.setdefault(seen.headers["webhook-id"], set()).add(seen.body)
    # a repeat (at-least-once) is always the same delivery: same webhook-id, same bytes
    assert all(len(b) == 1 for b in bodies.values())
    numbers = sorted(__import__("json").loads(next(iter(b)))["record"]["data"]["n"]
                     for b in bodies.values())
    assert numbers == list(range(WRITES))
