"""Receivers and upstreams that misbehave: one that hangs, one that resets the connection,
one that answers byte by byte, one that answers 10 MB. Each attempt ends within its trigger's
timeout, the response read is capped (memory stays bounded), and a healthy trigger on the same
collection keeps receiving every delivery meanwhile: the delivery workers are never exhausted.
A hydration upstream that drips its answer is cut off by the source's timeout too.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hookplane.runtime.app import create_app
from hookplane.state.runtime import Job, RuntimeStore
from hookplane.state.store import Store
from tests.hardening.faulty import HUGE_BYTES, FaultyReceiver
from tests.hardening.figures import record, scale
from tests.integration.runtime.harness import AppServer, apply_environment, wait_for

WRITES = scale(16, 200)
TIMEOUT = 1.0
CONCURRENCY = 8
FAULTS = ("hang", "reset", "drip", "huge")


def _project(receiver: str) -> str:
    triggers = "\n".join(textwrap.dedent(f"""\
          to-{name}:
            collection: events
            events: [create]
            url: {receiver}/{name}
            timeout: {TIMEOUT}""") for name in (*FAULTS, "good"))
    return textwrap.dedent("""\
        collections:
          events: {schema: {type: object, properties: {n: {type: integer}}}}
          orders: {schema: {type: object, properties: {state: {type: string}}}}
        sources:
          dripping:
            collection: orders
            base_url: %s
            read: {method: GET, path: "/drip/{id}"}
            timeout: %s
            mapping: {to_external: {state: state}}
        inbound_webhooks:
          refs:
            collection: orders
            auth: {type: static_header, header: X-Key}
            source_binding: {collection: orders, source: dripping}
            hydration: {id_path: id, attempts: 1}
        api_keys:
          writer: {scopes: [write, read]}
        triggers:
        """) % (receiver, TIMEOUT) + textwrap.indent(triggers, "  ") + "\n"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@pytest.fixture
def faulty() -> Iterator[FaultyReceiver]:
    receiver = FaultyReceiver().start()
    yield receiver
    receiver.stop()


def test_misbehaving_receivers_do_not_exhaust_the_workers(
        tmp_path: Path, faulty: FaultyReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    monkeypatch.setenv("HOOKPLANE_ALLOW_NETWORKS", "127.0.0.0/8")
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(_project(faulty.url))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    with Store.open(url, root=tmp_path) as store:
        token = store.reveal_token("preview", "api_keys", "writer")
        hook_id = next(r.id for r in store.snapshot("preview").resources.values()
                       if r.kind == "inbound_webhooks")
        hook_secret = store.read_secret("preview", "inbound_webhooks", "refs", "hmac_secret")
    app = create_app(database_url=url, root=tmp_path, reload_interval=0.2,
                     dispatch_concurrency=CONCURRENCY, lease_seconds=30)
    server = AppServer(app).start()
    rss_before = _rss_kib()
    created: dict[str, float] = {}
    try:
        with httpx.Client(base_url=server.url, timeout=10, trust_env=False) as http:
            started = time.monotonic()
            for n in range(WRITES):
                response = http.post("/api/preview/collections/events/records", json={"n": n},
                                     headers={"Authorization": f"Bearer {token}"})
                assert response.status_code == 201, response.text
                created[response.json()["id"]] = time.monotonic()
            write_seconds = time.monotonic() - started
            # a hydration whose upstream drips: the source's timeout ends the job
            response = http.post(f"/inbound/preview/{hook_id}/ingest", content=b'{"id":"o-1"}',
                                 headers={"Content-Type": "application/json",
                                          "X-Key": hook_secret})
            assert response.status_code == 202, response.text
            job_id = response.json()["job_id"]
            job_sent = time.monotonic()

        def finished() -> Job | None:
            with Store.open(url, root=tmp_path) as store:
                job = RuntimeStore(store).job(job_id)
            return job if job is not None and job.status in ("done", "failed") else None

        job = wait_for(finished, timeout=4 * TIMEOUT + 10)
        job_seconds = time.monotonic() - job_sent

        def good() -> dict[str, float]:
            return {json.loads(r.body)["record"]["id"]: r.at for r in list(faulty.seen)
                    if r.path == "/good"}

        # the slow receivers take 2 x WRITES x TIMEOUT of worker time; spread over the
        # workers that is the bound, with a margin for the machine
        bound = 2 * WRITES * TIMEOUT / CONCURRENCY + 15
        wait_for(lambda: set(good()) >= set(created), timeout=bound)
        arrived = good()
        lateness = max(arrived[i] - created[i] for i in created)
        with Store.open(url, root=tmp_path) as store:
            runtime = RuntimeStore(store)
            wait_for(lambda: runtime.outbox_depth() == 0, timeout=bound)
            trigger_ids = {r.name: r.id for r in store.snapshot("preview").resources.values()
                           if r.kind == "triggers"}
            outcomes: dict[str, list[tuple[bool, str | None, str | None, float | None]]] = {}
            for name in (*FAULTS, "good"):
                deliveries = runtime.deliveries("preview", trigger_ids[f"to-{name}"],
                                                limit=1000)
                outcomes[name] = [(d.status == "delivered", d.history[-1].error,
                                   d.history[-1].response_excerpt, d.history[-1].latency_ms)
                                  for d in deliveries]
        rss_growth_mib = max(0, _rss_kib() - rss_before) / 1024
    finally:
        server.stop()

    assert len(outcomes["good"]) == WRITES and all(ok for ok, *_ in outcomes["good"])
    for name in ("hang", "drip"):
        assert len(outcomes[name]) == WRITES
        for ok, error, _, latency in outcomes[name]:
            assert not ok and error is not None and "timeout" in error, (name, error)
            assert latency is not None and latency < (TIMEOUT + 1.5) * 1000, (name, latency)
    for ok, error, _, _ in outcomes["reset"]:
        assert not ok and error is not None and error.endswith(
            ("(ServerDisconnectedError)", "(ClientOSError)")), error
    for ok, _error, excerpt, _ in outcomes["huge"]:
        assert ok and excerpt == "(response body larger than 65536 bytes)", excerpt
    # the client stopped reading each 10 MB answer right after the cap
    assert faulty.huge_sent and max(faulty.huge_sent) < HUGE_BYTES // 2, faulty.huge_sent
    assert job.status == "failed" and job.last_error and "timed out" in job.last_error, job
    assert job_seconds < TIMEOUT + 3, job_seconds  # one attempt, cut at the timeout
    assert rss_growth_mib < 64, f"memory grew by {rss_growth_mib:.0f} MiB"
    record("faults", "misbehaving receivers (hang, reset, byte-by-byte, 10 MB)",
           accepted=WRITES, delivered=len(arrived), fault_deliveries=WRITES * len(FAULTS),
           fault_deliveries_ended=sum(len(outcomes[n]) for n in FAULTS),
           concurrency=CONCURRENCY, trigger_timeout_seconds=TIMEOUT,
           writes_seconds=round(write_seconds, 2),
           latest_good_delivery_seconds=round(lateness, 2),
           largest_answer_bytes_accepted=max(faulty.huge_sent),
           rss_growth_mib=round(rss_growth_mib, 1),
           dripping_hydration_seconds=round(job_seconds, 2),
           result="every good delivery arrived; faults ended by timeout / error / cap")

