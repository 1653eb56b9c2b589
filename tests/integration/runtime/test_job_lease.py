"""A job's lease outlives its upstream call, so a second worker never runs it twice at once.

Jobs were claimed with the bare ``--lease-seconds`` while deliveries get at least the longest
trigger timeout + 5 s: a hydration fetch (or an invoke call) slower than the lease was
claimed again by another worker while the first still waited for the answer, and the
upstream saw the same call twice. Here two runtimes share one database with a 1 s lease and
the upstream answers after 2 s (its source allows 8 s): the upstream is called once.
"""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from hookplane.runtime.app import create_app
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import (
    AppServer,
    Peer,
    Seen,
    apply_environment,
    client,
    wait_for,
)

SLOW_SECONDS = 2.0


def _yaml(upstream: str) -> str:
    return textwrap.dedent(f"""\
        collections:
          tickets:
            schema: {{type: object, properties: {{id: {{type: string}}, title: {{type: string}}}}}}
        sources:
          tracker:
            collection: tickets
            base_url: {upstream}
            read: {{method: GET, path: "/tickets/{{id}}"}}
            timeout: 8
        inbound_webhooks:
          tracker-events:
            collection: tickets
            auth: {{type: static_header, header: X-Account-Key}}
            source_binding: {{collection: tickets, source: tracker}}
            hydration: {{id_path: id}}
        """)


def test_a_slow_hydration_is_not_claimed_again_by_another_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKPLANE_ALLOW_NETWORKS", "127.0.0.0/8")
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    upstream = Peer().start()

    def slow(_seen: Seen) -> tuple[int, dict[str, str]]:
        time.sleep(SLOW_SECONDS)
        return 200, {"id": "T-1", "title": "from upstream"}

    upstream.routes["/tickets/T-1"] = slow
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(_yaml(upstream.url))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    servers = [AppServer(create_app(database_url=url, root=tmp_path, lease_seconds=1.0))
               .start() for _ in range(2)]
    http = client(servers[0].url)
    try:
        with Store.open(url, root=tmp_path) as store:
            hook = store.snapshot("preview").resources["inbound_webhooks.tracker-events"].id
            key = store.read_secret("preview", "inbound_webhooks", "tracker-events",
                                    "hmac_secret")
        accepted = http.post(f"/inbound/preview/{hook}/ingest",
                             content=json.dumps({"id": "T-1"}).encode(),
                             headers={"Content-Type": "application/json", "X-Account-Key": key})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]

        def finished() -> bool:
            with Store.open(url, root=tmp_path) as store:
                job = RuntimeStore(store).job(job_id)
            return job is not None and job.status in ("done", "failed")

        assert wait_for(finished, timeout=30)
        time.sleep(1.0)  # a second (wrong) claim would have started by now
        with Store.open(url, root=tmp_path) as store:
            job = RuntimeStore(store).job(job_id)
        assert job is not None and job.status == "done", job
        assert [s.path for s in upstream.seen] == ["/tickets/T-1"]
    finally:
        http.close()
        for server in servers:
            server.stop()
        upstream.stop()
