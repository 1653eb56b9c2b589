"""PostgreSQL stopped under a running runtime: ingest and the records API answer a clear 503
with ``Retry-After`` (never a 500), nothing is half-written, and when the database comes back
the same process serves again by itself — requests, deliveries and jobs.

The test starts its own throw-away cluster (the session's shared server is left alone) and
stops it with ``pg_ctl -m immediate``, which drops every connection like a crash would.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.conftest import _as_postgres, _Server, _start_cluster, _wait_ready
from tests.hardening.figures import record, scale
from tests.hardening.support import Runtime, runtime_on, signed_headers
from tests.integration.runtime.harness import wait_for

pytestmark = pytest.mark.postgres

OUTAGE_REQUESTS = scale(10, 200)


@dataclass
class Cluster:
    server: _Server
    pg_ctl: Path
    data: Path
    directory: Path

    def stop(self) -> None:
        subprocess.run(_as_postgres([str(self.pg_ctl), "-D", str(self.data), "-m", "immediate",
                                     "-w", "stop"]), check=True, capture_output=True)

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.server.port} "
                   f"-c unix_socket_directories={self.directory} -c fsync=off "
                   "-c synchronous_commit=on -c full_page_writes=off -c max_connections=200")
        subprocess.run(_as_postgres([str(self.pg_ctl), "-D", str(self.data), "-o", options,
                                     "-l", str(self.directory / "server.log"), "-w", "-t", "60",
                                     "start"]), check=True, capture_output=True)
        _wait_ready(self.server)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    pytest.importorskip("psycopg")
    directory = Path(tempfile.mkdtemp(prefix="hookplane-outage-"))
    # the server is stopped with -m immediate (a crash): a commit must be written before it
    # is answered, or the last writes before the outage are lost with the server
    server, pg_ctl, data = _start_cluster(directory, durable_commits=True)
    _wait_ready(server)
    running = Cluster(server, pg_ctl, data, directory)
    try:
        yield running
    finally:
        subprocess.run(_as_postgres([str(pg_ctl), "-D", str(data), "-m", "immediate", "-w",
                                     "stop"]), check=False, capture_output=True)
        subprocess.run(["rm", "-rf", str(directory)], check=False)


def _incident(n: int) -> bytes:
    return json.dumps({"title": f"outage test {n}", "severity": "p2"}).encode()


def _post(rt: Runtime, name: str, body: bytes, headers: dict[str, str] | None = None
          ) -> tuple[int, dict[str, str], str]:
    response = rt.post(name, body, headers if headers is not None
                       else signed_headers(rt, name, body))
    return response.status_code, dict(response.headers), response.text


def test_postgres_stopped_during_ingest(cluster: Cluster, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.server.admin('CREATE DATABASE "hookplane"')
    url = cluster.server.url("hookplane")
    monkeypatch.setenv("HOOKPLANE_SECRET_KEY", Fernet.generate_key().decode())
    with runtime_on(tmp_path, url) as rt:
        writer = rt.token("api_keys", "writer")
        auth = {"Authorization": f"Bearer {writer}"}
        accepted = 0
        status, _, text = _post(rt, "plain", _incident(0))
        assert status == 201, text
        accepted += 1
        # what a sender will retry after the outage: a delivery with its own id
        retried_body = _incident(1)
        retried = signed_headers(rt, "standard", retried_body)

        # signed now: the test's own signer reads the secrets from the database
        during = []
        for n in range(OUTAGE_REQUESTS):
            body = _incident(100 + n)
            during.append([("plain", body, signed_headers(rt, "plain", body)),
                           ("standard", retried_body, retried),
                           ("orders-ref", b'{"record_id":"o-9"}',
                            signed_headers(rt, "orders-ref", b""))])

        cluster.stop()
        answers: dict[int, int] = {}
        slowest = 0.0
        for batch in during:
            for name, body, headers in batch:
                started = time.monotonic()
                status, response_headers, text = _post(rt, name, body, headers)
                slowest = max(slowest, time.monotonic() - started)
                answers[status] = answers.get(status, 0) + 1
                assert status == 503, (name, status, text)
                assert response_headers.get("retry-after"), response_headers
                assert "database" in json.loads(text)["error"]
            response = rt.http.post("/api/preview/collections/incidents/records",
                                    json={"title": "x", "severity": "p1"}, headers=auth)
            assert response.status_code == 503, response.text
            answers[503] += 1
        assert rt.http.get("/readyz").status_code == 503
        assert rt.http.get("/healthz").status_code == 200

        cluster.start()
        # the very first request after the database is back succeeds: no restart, no retry
        status, _, text = _post(rt, "standard", retried_body, retried)
        assert status == 201, text  # not "duplicate": the failed attempt left no mark
        accepted += 1
        for n in range(3):
            status, _, text = _post(rt, "plain", json.dumps(
                {"title": f"after the outage {n}", "severity": "p2"}).encode())
            assert status == 201, text
            accepted += 1
        response = rt.http.post("/api/preview/collections/incidents/records",
                                json={"title": "after", "severity": "p3"}, headers=auth)
        assert response.status_code == 201, response.text
        accepted += 1
        wait_for(lambda: rt.http.get("/readyz").status_code == 200, timeout=10)

        # the background workers survived the outage: a hydration job runs, deliveries go out
        status, _, text = _post(rt, "orders-ref", b'{"record_id":"o-10"}')
        assert status == 202, text
        job_id = json.loads(text)["job_id"]

        def job_finished() -> object:
            with Store.open(url, root=rt.root) as store:
                job = RuntimeStore(store).job(job_id)
            return (job is not None and job.status in ("done", "failed")) or (job, False)

        try:
            wait_for(lambda: job_finished() is True, timeout=20)
        except AssertionError:
            raise AssertionError(repr(job_finished())) from None
        with Store.open(url, root=rt.root) as store:
            stored, _ = RuntimeStore(store).list("preview", "incidents", limit=1000)
        assert len(stored) == accepted  # nothing from the outage, everything after it
        titles = {r.data["title"] for r in stored}
        assert not titles & {f"outage test {100 + n}" for n in range(OUTAGE_REQUESTS)}

        def delivered_ids() -> set[str]:
            return {s.json()["record"]["id"] for s in list(rt.receiver.seen)
                    if s.path == "/hooks/all"}

        # every accepted record reaches the receiver (a delivery sent while the database went
        # away is sent again when its lease ends: at least once, same webhook-id)
        wait_for(lambda: delivered_ids() >= {r.id for r in stored}, timeout=30)
        delivered = len(delivered_ids())
    record("faults", "PostgreSQL stopped during ingest",
           requests_during_outage=sum(answers.values()), answers=answers,
           slowest_answer_seconds=round(slowest, 3), accepted=accepted,
           stored=len(stored), delivered=delivered,
           result="503 + Retry-After during the outage; recovered without restart")
