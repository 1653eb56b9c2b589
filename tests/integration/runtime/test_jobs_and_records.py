"""Hydration, invoke, the records API, hot reload and restarts, end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hookplane.runtime.app import create_app
from hookplane.state.runtime import Job, Record, RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.conftest import ENVIRON, Runtime
from tests.integration.runtime.harness import (
    AppServer,
    Peer,
    Seen,
    apply_environment,
    client,
    wait_for,
)


def _runtime_store(rt: Runtime) -> tuple[Store, RuntimeStore]:
    store = Store.open(rt.database_url, root=rt.root)
    return store, RuntimeStore(store)


def _job(rt: Runtime, job_id: str) -> Job | None:
    store, runtime = _runtime_store(rt)
    with store:
        return runtime.job(job_id)


def _order(rt: Runtime, external_id: str, *, include_deleted: bool = False) -> Record | None:
    store, runtime = _runtime_store(rt)
    with store:
        return runtime.get_external("preview", "orders", external_id,
                                    include_deleted=include_deleted)


def _finished(rt: Runtime, job_id: str) -> Job | None:
    job = _job(rt, job_id)
    return job if job is not None and job.status in ("done", "failed") else None


def _notify(rt: Runtime, payload: dict[str, Any]) -> str:
    response = rt.post("orders-ref", json.dumps(payload).encode(),
                       {"X-Account-Key": rt.secret("orders-ref")})
    assert response.status_code == 202, response.text
    return str(response.json()["job_id"])


def upstream_order(external_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": external_id, "state": "PAID", "amount": 30, "buyer": {"name": "Bo"},
            "placed_at": 1700000000, **fields}


class TestHydration:
    def test_fetches_the_full_record_and_ignores_urls_in_the_payload(self,
                                                                     runtime: Runtime) -> None:
        rt = runtime
        rt.upstream.routes["/orders/ord-h1"] = lambda _: (200, upstream_order("ord-h1"))
        job = _notify(rt, {"record_id": "ord-h1", "event": "ResourceUpdated",
                           "url": "http://169.254.169.254/latest/meta-data",
                           "callback": "http://127.0.0.1:1/steal"})
        done = wait_for(lambda: _finished(rt, job))
        assert done.status == "done", done.last_error
        record = _order(rt, "ord-h1")
        assert record is not None and record.origin == "hydration"
        assert record.data == {"status": "paid", "total": 30, "customer": "Bo",
                               "placed_at": "2023-11-14T22:13:20Z"}
        fetched = [s for s in rt.upstream.seen if "ord-h1" in s.path]
        assert [s.path for s in fetched] == ["/orders/ord-h1"]
        assert fetched[0].headers["Authorization"] == f"Bearer {ENVIRON['SHOP_TOKEN']}"
        assert all("meta-data" not in s.path and "steal" not in s.path for s in rt.upstream.seen)

    def test_id_is_url_encoded_into_the_configured_path(self, runtime: Runtime) -> None:
        rt = runtime
        seen: list[Seen] = []

        def any_path(request: Seen) -> tuple[int, Any]:
            seen.append(request)
            return 404, {"error": "not found"}

        rt.upstream.routes["*"] = any_path
        try:
            job = _notify(rt, {"record_id": "../../admin?x=1#y", "event": "ResourceUpdated"})
            done = wait_for(lambda: _finished(rt, job))
        finally:
            del rt.upstream.routes["*"]
        assert done.status == "failed" and "404" in (done.last_error or "")
        assert [s.path for s in seen] == ["/orders/..%2F..%2Fadmin%3Fx%3D1%23y"]

    def test_upstream_500_is_retried_with_backoff(self, runtime: Runtime) -> None:
        rt = runtime
        calls: list[float] = []

        def flaky(_: Seen) -> tuple[int, Any]:
            calls.append(time.monotonic())
            return (500, {"error": "boom"}) if len(calls) == 1 else (
                200, upstream_order("ord-h2", state="OPEN"))

        rt.upstream.routes["/orders/ord-h2"] = flaky
        job = _notify(rt, {"record_id": "ord-h2"})
        done = wait_for(lambda: _finished(rt, job), timeout=30)
        assert done.status == "done", done.last_error
        assert len(calls) == 2 and calls[1] - calls[0] >= 0.4
        record = _order(rt, "ord-h2")
        assert record is not None and record.data["status"] == "open"

    def test_delete_event_skips_the_fetch_and_soft_deletes(self, runtime: Runtime) -> None:
        rt = runtime
        rt.upstream.routes["/orders/ord-h3"] = lambda _: (200, upstream_order("ord-h3"))
        first = _notify(rt, {"record_id": "ord-h3"})
        wait_for(lambda: _finished(rt, first))
        fetches = len([s for s in rt.upstream.seen if "ord-h3" in s.path])
        job = _notify(rt, {"record_id": "ord-h3", "event": "ResourceDeleted"})
        assert wait_for(lambda: _finished(rt, job)).status == "done"
        assert len([s for s in rt.upstream.seen if "ord-h3" in s.path]) == fetches
        assert _order(rt, "ord-h3") is None
        deleted = _order(rt, "ord-h3", include_deleted=True)
        assert deleted is not None and deleted.deleted_at is not None

    def test_merge_keeps_local_fields_and_reflects_cleared_ones(self, runtime: Runtime) -> None:
        rt = runtime
        rt.upstream.routes["/orders/ord-h4"] = lambda _: (200, upstream_order("ord-h4"))
        first = _notify(rt, {"record_id": "ord-h4"})
        wait_for(lambda: _finished(rt, first))
        record = _order(rt, "ord-h4")
        assert record is not None
        store, runtime_store = _runtime_store(rt)
        with store:
            runtime_store.update("preview", "orders", record.id,
                                 {**record.data, "note": "VIP, call first"}, origin="api")
        cleared = upstream_order("ord-h4", state="REFUNDED")
        del cleared["buyer"]
        rt.upstream.routes["/orders/ord-h4"] = lambda _: (200, cleared)
        job = _notify(rt, {"record_id": "ord-h4"})
        assert wait_for(lambda: _finished(rt, job)).status == "done"
        after = _order(rt, "ord-h4")
        assert after is not None and after.id == record.id
        assert after.data == {"status": "refunded", "total": 30,
                              "placed_at": "2023-11-14T22:13:20Z", "note": "VIP, call first"}

    def test_missing_id_is_422(self, runtime: Runtime) -> None:
        body = b'{"event": "ResourceUpdated"}'
        response = runtime.post("orders-ref", body,
                                {"X-Account-Key": runtime.secret("orders-ref")})
        assert response.status_code == 422


def test_invoke_posts_the_templated_input_and_records_the_execution(runtime: Runtime) -> None:
    rt = runtime
    rt.receiver.routes["/agents/review"] = lambda _: (200, {"verdict": "lgtm"})
    token = rt.token("inbound_webhooks", "agent")
    response = rt.post("agent", b'{"pr": 42, "repo": "x"}', {"Authorization": f"Bearer {token}"})
    assert response.status_code == 202, response.text
    done = wait_for(lambda: _finished(rt, response.json()["job_id"]))
    assert done.status == "done", done.last_error
    sent = [s for s in rt.receiver.seen if s.path == "/agents/review"]
    assert sent[-1].json() == {"message": "Review PR 42", "pr": 42}
    # the call is signed like a delivery, with the webhook's own invoke signing secret
    from standardwebhooks import Webhook

    with Store.open(rt.database_url, root=rt.root) as store:
        signing = store.read_secret("preview", "inbound_webhooks", "agent", "signing_secret")
    headers = {k.lower(): v for k, v in sent[-1].headers.items()}
    assert headers["webhook-id"] == response.json()["job_id"]
    assert headers["x-hookplane-event"] == "invoke"
    Webhook(signing).verify(sent[-1].body, headers)
    expected = hmac.new(signing.encode(), sent[-1].body, hashlib.sha256).hexdigest()
    assert headers["x-hookplane-signature"] == f"sha256={expected}"
    assert done.result["status_code"] == 200 and done.result["result"] == {"verdict": "lgtm"}
    store, runtime_store = _runtime_store(rt)
    with store:
        run = runtime_store.get("preview", "runs", done.result["record_id"])
    assert run is not None and run.data["status"] == "succeeded"


class TestRecordsApi:
    base = "/api/preview/collections/incidents/records"

    def test_crud_with_scopes(self, runtime: Runtime) -> None:
        http = runtime.http
        writer = {"Authorization": f"Bearer {runtime.token('api_keys', 'writer')}"}
        reader = {"Authorization": f"Bearer {runtime.token('api_keys', 'reader')}"}
        assert http.post(self.base, json={"title": "x", "severity": "p1"}).status_code == 401
        assert http.post(self.base, json={"title": "x", "severity": "p1"},
                         headers={"Authorization": "Bearer hpt_wrong"}).status_code == 401
        created = http.post(self.base, json={"title": "Disk full", "severity": "p2"},
                            headers=writer)
        assert created.status_code == 201, created.text
        record = created.json()
        assert record["origin"] == "api" and record["version"] == 1
        hooked = http.post(self.base, json={"title": "From hook", "severity": "p3"},
                           headers={**writer, "X-Hookplane-Source": "hook"})
        assert hooked.json()["origin"] == "hook"
        assert http.post(self.base, json={"title": "no"}, headers=reader).status_code == 403
        got = http.get(f"{self.base}/{record['id']}", headers=reader)
        assert got.status_code == 200 and got.json()["data"]["title"] == "Disk full"
        assert http.get("/api/preview/collections/tasks/records",
                        headers=reader).status_code == 403
        patched = http.patch(f"{self.base}/{record['id']}",
                             json={"status": "open", "team": None}, headers=writer)
        assert patched.status_code == 200
        assert patched.json()["data"] == {"title": "Disk full", "severity": "p2",
                                          "status": "open"}
        invalid = http.patch(f"{self.base}/{record['id']}", json={"severity": "p7"},
                             headers=writer)
        assert invalid.status_code == 422
        assert invalid.json()["fields"][0]["path"] == "severity"
        listed = http.get(self.base, params={"status": "open"}, headers=reader).json()["data"]
        assert record["id"] in [r["id"] for r in listed]
        assert all(r["data"].get("status") == "open" for r in listed)
        deleted = http.delete(f"{self.base}/{record['id']}", headers=writer)
        assert deleted.status_code == 200 and deleted.json()["deleted_at"]
        assert http.get(f"{self.base}/{record['id']}", headers=reader).status_code == 404

    def test_pagination(self, runtime: Runtime) -> None:
        http = runtime.http
        writer = {"Authorization": f"Bearer {runtime.token('api_keys', 'writer')}"}
        ids = {http.post(self.base, json={"title": f"page {i}", "severity": "p3",
                                          "team": "paging"}, headers=writer).json()["id"]
               for i in range(7)}
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"team": "paging", "limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = http.get(self.base, params=params, headers=writer).json()
            seen += [r["id"] for r in page["data"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(ids) and len(seen) == 7

    def test_schema_errors_and_bad_bodies(self, runtime: Runtime) -> None:
        http = runtime.http
        writer = {"Authorization": f"Bearer {runtime.token('api_keys', 'writer')}"}
        response = http.post(self.base, json={"severity": "p1", "extra": {"deep": 1}},
                             headers=writer)
        assert response.status_code == 422
        assert {"path": "title", "message": "is required"} in response.json()["fields"]
        assert http.post(self.base, content=b"{oops", headers=writer).status_code == 400
        assert http.post(self.base, json=[1], headers=writer).status_code == 400
        assert http.get("/api/preview/collections/nope/records",
                        headers=writer).status_code == 404

    def test_body_limits_and_key_checked_before_the_body(self, runtime: Runtime) -> None:
        """A body over 1 MiB is 413 (not 400); without a valid key or scope the answer is
        401/403 whatever the body, which is not read; the body size check uses the bytes
        received, not only Content-Length."""
        from hookplane.runtime.app import RECORD_BODY_BYTES

        http = runtime.http
        writer = {"Authorization": f"Bearer {runtime.token('api_keys', 'writer')}"}
        reader = {"Authorization": f"Bearer {runtime.token('api_keys', 'reader')}"}
        big = json.dumps({"title": "x" * RECORD_BODY_BYTES, "severity": "p1"}).encode()
        too_large = http.post(self.base, content=big, headers=writer)
        assert too_large.status_code == 413, too_large.text
        assert f"larger than {RECORD_BODY_BYTES} bytes" in too_large.json()["error"]

        def chunked() -> Iterator[bytes]:  # no Content-Length: counted while reading
            for start in range(0, len(big), 65536):
                yield big[start:start + 65536]

        assert http.post(self.base, content=chunked(), headers=writer).status_code == 413
        assert http.post(self.base, content=big).status_code == 401
        assert http.post(self.base, content=b"{oops",
                         headers={"Authorization": "Bearer hpt_wrong"}).status_code == 401
        assert http.post(self.base, content=big, headers=reader).status_code == 403
        created = http.post(self.base, json={"title": "fits", "severity": "p1"},
                            headers=writer)
        assert created.status_code == 201
        patched = http.patch(f"{self.base}/{created.json()['id']}", content=big,
                             headers=writer)
        assert patched.status_code == 413


def test_admin_api_requires_the_token(runtime: Runtime) -> None:
    http = runtime.http
    runtime.post("plain", b'{"title": "t", "severity": "p1"}', {"X-Signature": "sha256=00"})
    assert http.get("/admin/preview/inbound-webhooks").status_code == 401
    listed = http.get("/admin/preview/inbound-webhooks",
                      headers={"Authorization": "Bearer admin-token-for-tests-0123456789"})
    assert listed.status_code == 200
    rows = {r["name"]: r for r in listed.json()["data"]}
    assert rows["plain"]["has_secret"] and rows["plain"]["is_active"]
    assert rows["disabled"]["is_active"] is False
    assert rows["bearer"]["token_prefix"].startswith("hpt_")
    log = http.get("/admin/preview/inbound-webhooks/plain/deliveries",
                   headers={"Authorization": "Bearer admin-token-for-tests-0123456789"})
    assert log.status_code == 200
    assert log.json()["data"][0]["reason"] == "malformed_header"
    assert log.json()["data"][0]["status_code"] == 401


def test_rotation_keeps_the_old_secret_valid_during_grace(runtime: Runtime) -> None:
    import hashlib
    import hmac

    rt = runtime
    old = rt.secret("keyed")
    rotated = rt.http.post("/admin/preview/inbound-webhooks/keyed/rotate-secret",
                           headers={"Authorization": "Bearer admin-token-for-tests-0123456789"})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["grace_period_hours"] == 24
    from datetime import UTC, datetime, timedelta

    expires = datetime.fromisoformat(rotated.json()["old_secret_expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(hours=24))) < timedelta(minutes=1)
    body = b'{"title": "after rotation", "severity": "p2"}'
    for secret in (new, old):
        ok = wait_for(lambda s=secret: rt.post("keyed", body, {"X-Account-Key": s})
                      .status_code == 201)
        assert ok
    assert rt.post("keyed", body, {"X-Account-Key": "guess"}).status_code == 401
    assert hmac.compare_digest(hashlib.sha256(new.encode()).digest(),
                               hashlib.sha256(rt.secret("keyed").encode()).digest())


def test_a_new_apply_is_served_without_restart(runtime: Runtime) -> None:
    rt = runtime
    main = rt.root / "environments" / "preview" / "main.yaml"
    main.write_text(main.read_text() + "\n")
    extra = rt.root / "environments" / "preview" / "late.yaml"
    extra.write_text("inbound_webhooks:\n  late:\n    collection: incidents\n"
                     "    auth: {type: static_header, header: X-Key}\n")
    started = time.monotonic()
    apply_environment(rt.root, rt.database_url, "preview", ENVIRON)
    with Store.open(rt.database_url, root=rt.root) as store:
        late = store.snapshot("preview").resources["inbound_webhooks.late"]
        secret = store.read_secret("preview", "inbound_webhooks", "late", "hmac_secret")
    path = f"/inbound/preview/{late.id}/ingest"
    wait_for(lambda: rt.http.post(path, content=b'{"title": "t", "severity": "p1"}', headers={
        "Content-Type": "application/json", "X-Key": secret}).status_code == 201, timeout=5)
    assert time.monotonic() - started < 2.5


def test_restart_in_the_middle_of_a_pending_hydration_loses_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.integration.runtime.conftest import start_runtime

    upstream = Peer().start()
    receiver = Peer().start()
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    upstream.routes["/orders/ord-r1"] = lambda _: (200, upstream_order("ord-r1"))
    rt = start_runtime(tmp_path, url, upstream, receiver, monkeypatch, run_jobs=False)
    try:
        job = _notify(rt, {"record_id": "ord-r1"})
        time.sleep(0.3)
        pending = _job(rt, job)
        assert pending is not None and pending.status == "pending"
    finally:
        rt.http.close()
        rt.server.stop()
    assert not upstream.seen
    second = AppServer(create_app(database_url=url, root=tmp_path)).start()
    try:
        done = wait_for(lambda: _finished(rt, job))
        assert done.status == "done", done.last_error
        assert _order(rt, "ord-r1") is not None
        with client(second.url) as http:
            assert http.get("/readyz").status_code == 200
    finally:
        second.stop()
        upstream.stop()
        receiver.stop()
