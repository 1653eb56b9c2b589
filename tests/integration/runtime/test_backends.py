"""The runtime on each state backend: SQLite and a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.integration.runtime.conftest import start_runtime
from tests.integration.runtime.harness import Peer, wait_for


def test_ingest_hydrate_and_records_api(tmp_path: Path, database_url: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    upstream = Peer().start()
    receiver = Peer().start()
    upstream.routes["/orders/b-1"] = lambda _: (200, {"id": "b-1", "state": "OPEN",
                                                      "amount": 5, "buyer": {"name": "Cy"}})
    rt = start_runtime(tmp_path, database_url, upstream, receiver, monkeypatch)
    try:
        body = b'{"title": "pg", "severity": "p1"}'
        signature = hmac.new(rt.secret("plain").encode(), body, hashlib.sha256).hexdigest()
        created = rt.post("plain", body, {"X-Signature": signature})
        assert created.status_code == 201, created.text
        job = rt.post("orders-ref", json.dumps({"record_id": "b-1"}).encode(),
                      {"X-Account-Key": rt.secret("orders-ref")})
        assert job.status_code == 202
        writer = {"Authorization": f"Bearer {rt.token('api_keys', 'writer')}"}
        orders = wait_for(lambda: rt.http.get("/api/preview/collections/orders/records",
                                              headers=writer).json()["data"])
        assert orders[0]["data"] == {"status": "open", "total": 5, "customer": "Cy"}
        assert orders[0]["origin"] == "hydration"
        got = rt.http.get(f"/api/preview/collections/incidents/records/"
                          f"{created.json()['record_id']}", headers=writer)
        assert got.json()["data"] == {"title": "pg", "severity": "p1"}
    finally:
        rt.http.close()
        rt.server.stop()
        upstream.stop()
        receiver.stop()
