"""Loop prevention end to end: an upstream change hydrated in is not pushed straight back.

The Rekor-style two-way sync: a source with a read and a write endpoint, an inbound webhook
that hydrates records from it, and an ``external_write`` trigger on the same collection.
Records written by hydration carry an inbound origin, so a trigger with the default
``skip_inbound_webhook_writes: true`` does not write them back upstream; a trigger that
turns the flag off does.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookplane.runtime.app import create_app
from hookplane.state.runtime import Job, RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import (
    AppServer,
    Peer,
    apply_environment,
    client,
    wait_for,
)


def _yaml(upstream: str, echo: bool) -> str:
    return textwrap.dedent(f"""\
        collections:
          tickets:
            schema:
              type: object
              properties:
                id: {{type: string}}
                title: {{type: string}}
        sources:
          tracker:
            collection: tickets
            base_url: {upstream}
            read: {{method: GET, path: "/tickets/{{id}}"}}
            write: {{method: PUT, path: "/tickets/{{id}}"}}
            id_field: id
        inbound_webhooks:
          tracker-events:
            collection: tickets
            auth: {{type: static_header, header: X-Account-Key}}
            source_binding: {{collection: tickets, source: tracker}}
            hydration: {{id_path: id}}
        triggers:
          push-back:
            collection: tickets
            events: [create, update]
            external_write: {{source: tracker}}
            skip_inbound_webhook_writes: {"false" if echo else "true"}
        """)


class Sync:
    def __init__(self, root: Path, url: str, upstream: Peer, server: AppServer) -> None:
        self.root, self.url, self.upstream, self.server = root, url, upstream, server
        self.http = client(server.url)
        with Store.open(url, root=root) as store:
            (self.hook,) = [r.id for r in store.snapshot("preview").resources.values()
                            if r.kind == "inbound_webhooks"]
            self.key = store.read_secret("preview", "inbound_webhooks", "tracker-events",
                                         "hmac_secret")

    def notify(self, ticket: str) -> Job:
        response = self.http.post(f"/inbound/preview/{self.hook}/ingest",
                                  content=json.dumps({"id": ticket}).encode(),
                                  headers={"Content-Type": "application/json",
                                           "X-Account-Key": self.key})
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]

        def ended() -> Job | None:
            with Store.open(self.url, root=self.root) as store:
                job = RuntimeStore(store).job(job_id)
            return job if job is not None and job.status in ("done", "failed") else None

        done: Job = wait_for(ended)
        return done

    def deliveries(self) -> int:
        with Store.open(self.url, root=self.root) as store:
            (trigger,) = [r.id for r in store.snapshot("preview").resources.values()
                          if r.kind == "triggers"]
            return len(RuntimeStore(store).deliveries("preview", trigger, limit=100))


def _start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, echo: bool) -> Iterator[Sync]:
    monkeypatch.setenv("HOOKPLANE_ALLOW_NETWORKS", "127.0.0.0/8")
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    upstream = Peer().start()
    upstream.routes["/tickets/T-1"] = lambda seen: (
        (200, {"id": "T-1", "title": "from upstream"}) if seen.method == "GET"
        else (200, {"ok": True}))
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(_yaml(upstream.url, echo))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    server = AppServer(create_app(database_url=url, root=tmp_path, reload_interval=0.2)).start()
    sync = Sync(tmp_path, url, upstream, server)
    try:
        yield sync
    finally:
        sync.http.close()
        server.stop()
        upstream.stop()


@pytest.fixture
def default_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sync]:
    yield from _start(tmp_path, monkeypatch, echo=False)


@pytest.fixture
def echo_sync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sync]:
    yield from _start(tmp_path, monkeypatch, echo=True)


def _methods(peer: Peer) -> list[tuple[str, str]]:
    return [(seen.method, seen.path) for seen in peer.seen]


def test_a_hydrated_record_is_not_written_back_upstream(default_sync: Sync) -> None:
    job = default_sync.notify("T-1")
    assert job.status == "done", job.last_error
    assert job.result["created"] is True
    # give a (wrong) delivery every chance to be queued and sent
    wait_for(lambda: default_sync.deliveries() == 0 and len(default_sync.upstream.seen) >= 1)
    assert default_sync.deliveries() == 0
    assert _methods(default_sync.upstream) == [("GET", "/tickets/T-1")]


def test_turning_the_flag_off_writes_hydrated_records_back(echo_sync: Sync) -> None:
    job = echo_sync.notify("T-1")
    assert job.status == "done", job.last_error
    written: Any = wait_for(lambda: [m for m in _methods(echo_sync.upstream) if m[0] == "PUT"])
    assert written == [("PUT", "/tickets/T-1")]
