"""The CLI reads what the runtime stored: deliveries, records, ingest URLs, rotation."""

from __future__ import annotations

import json

import pytest

from hookplane.cli.main import run
from tests.integration.runtime.conftest import Runtime


def cli(rt: Runtime, capsys: pytest.CaptureFixture[str], *args: str, code: int = 0) -> str:
    status = run(["-C", str(rt.root), "--no-color", *args, "--database-url", rt.database_url])
    out = capsys.readouterr()
    assert status == code, out.out + out.err
    return out.out


def test_deliveries_records_and_get(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    rt = runtime
    body = b'{"title": "cli", "severity": "p2"}'
    created = rt.post("keyed", body, {"X-Account-Key": rt.secret("keyed")})
    assert created.status_code == 201
    rt.post("keyed", body, {"X-Account-Key": "wrong"})
    rows = json.loads(cli(rt, capsys, "inbound-webhooks", "deliveries", "preview", "keyed",
                          "--json"))
    assert [r["status_code"] for r in rows[:2]] == [401, 201]
    assert rows[0]["reason"] == "bad_token"
    text = cli(rt, capsys, "inbound-webhooks", "deliveries", "preview", "keyed")
    assert "bad_token" in text and rt.secret("keyed") not in text

    info = json.loads(cli(rt, capsys, "inbound-webhooks", "get", "preview", "keyed", "--json"))
    assert info["ingest_url"] == rt.ingest_path("keyed")
    assert info["last_used_at"] and info["has_secret"] and info["is_active"]
    assert "secret" not in info

    listed = json.loads(cli(rt, capsys, "records", "list", "preview", "incidents",
                            "--where", "title=cli", "--json"))
    assert [r["id"] for r in listed] == [created.json()["record_id"]]
    record = json.loads(cli(rt, capsys, "records", "get", "preview", "incidents",
                            created.json()["record_id"]))
    assert record["data"] == {"title": "cli", "severity": "p2"}
    assert record["origin"] == "inbound_webhook"


def test_rotate_secret_from_the_cli(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    rt = runtime
    old = rt.secret("standard")
    new = cli(rt, capsys, "inbound-webhooks", "rotate-secret", "preview", "standard").strip()
    assert new.startswith("whsec_") and new != old
    assert rt.secret("standard") == new


def test_rotate_each_secret_of_a_token_plus_signature_webhook(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    """A bearer webhook with a body signature has two generated secrets: --secret (CLI) and
    ?secret= (admin API) choose which one is rotated; the other stays as it was."""
    import hashlib
    import hmac

    from tests.integration.runtime.harness import wait_for

    rt = runtime
    token, secret = rt.token("inbound_webhooks", "signed-bearer"), rt.secret("signed-bearer")
    new_secret = cli(rt, capsys, "inbound-webhooks", "rotate-secret", "preview",
                     "signed-bearer", "--secret", "hmac_secret").strip()
    assert new_secret != secret and rt.secret("signed-bearer") == new_secret
    admin = {"Authorization": "Bearer admin-token-for-tests-0123456789"}
    rotated = rt.http.post("/admin/preview/inbound-webhooks/signed-bearer/rotate-secret",
                           params={"secret": "token"}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["kind"] == "token"
    new_token = rotated.json()["secret"]
    assert new_token.startswith("hpt_") and rt.secret("signed-bearer") == new_secret
    body = b'{"title": "after both rotations", "severity": "p2"}'
    for key in (secret, new_secret):  # both secrets and both tokens verify during the grace
        for bearer in (token, new_token):
            signature = "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
            headers = {"Authorization": f"Bearer {bearer}", "X-Webhook-Signature": signature}
            assert wait_for(lambda h=headers: rt.post("signed-bearer", body, h)
                            .status_code == 201)
    wrong = rt.http.post("/admin/preview/inbound-webhooks/keyed/rotate-secret",
                         params={"secret": "token"}, headers=admin)
    assert wrong.status_code == 400 and "has no generated token" in wrong.text
    status = run(["-C", str(rt.root), "--no-color", "inbound-webhooks", "rotate-secret",
                  "preview", "keyed", "--secret", "token", "--database-url", rt.database_url])
    refused = capsys.readouterr()
    assert status != 0 and refused.out == ""
    assert "has no generated token; it has hmac_secret" in refused.err


def test_job_outcomes_are_shown_by_the_cli_and_the_admin_api(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    """A 202 with a job id is not the end of the story: whether the invoke or hydration
    succeeded, after how many attempts and why not is in the CLI and the admin API too."""
    from hookplane.state.runtime import RuntimeStore
    from hookplane.state.store import Store
    from tests.integration.runtime.harness import wait_for

    rt = runtime
    rt.receiver.routes["/agents/review"] = lambda _: (500, {"error": "runner exploded"})
    try:
        token = rt.token("inbound_webhooks", "agent")
        accepted = rt.post("agent", b'{"pr": 7}', {"Authorization": f"Bearer {token}"})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]

        def failed() -> bool:
            with Store.open(rt.database_url, root=rt.root) as store:
                job = RuntimeStore(store).job(job_id)
            return job is not None and job.status == "failed"

        wait_for(failed)
    finally:
        del rt.receiver.routes["/agents/review"]

    rows = json.loads(cli(rt, capsys, "inbound-webhooks", "deliveries", "preview", "agent",
                          "--json"))
    (row,) = [r for r in rows if r["job_id"] == job_id]
    assert row["status_code"] == 202
    job = row["job"]
    assert (job["id"], job["kind"], job["status"]) == (job_id, "invoke", "failed")
    assert (job["attempts"], job["max_attempts"]) == (1, 1)
    assert job["last_error"] == "target answered 500"
    text = cli(rt, capsys, "inbound-webhooks", "deliveries", "preview", "agent")
    assert f"job {job_id} invoke failed (attempt 1 of 1): target answered 500" in text

    admin = rt.http.get("/admin/preview/inbound-webhooks/agent/deliveries",
                        headers={"Authorization": "Bearer admin-token-for-tests-0123456789"})
    assert admin.status_code == 200, admin.text
    (entry,) = [e for e in admin.json()["data"] if e["job_id"] == job_id]
    assert entry["job"] == job


def test_a_missing_hydration_id_is_not_called_a_schema_mismatch(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    rt = runtime
    response = rt.post("orders-ref", b'{"event": "ResourceUpdated"}',
                       {"X-Account-Key": rt.secret("orders-ref")})
    assert response.status_code == 422
    assert response.json()["error"] == "no record id at 'record_id'"
    rows = json.loads(cli(rt, capsys, "inbound-webhooks", "deliveries", "preview",
                          "orders-ref", "--json"))
    assert rows[0]["reason"] == "missing_id"


def test_resources_are_found_by_id_as_well_as_by_name(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    """The console, the admin API and delivery logs show ids (trg_…, iw_…); the seeds'
    CLIs take ids: get, deliveries and test accept either."""
    rt = runtime
    trigger = json.loads(cli(rt, capsys, "triggers", "get", "preview", "p1-alert", "--json"))
    assert trigger["id"].startswith("trg_")
    by_id = json.loads(cli(rt, capsys, "triggers", "get", "preview", trigger["id"], "--json"))
    assert by_id == trigger
    hook = json.loads(cli(rt, capsys, "inbound-webhooks", "get", "preview", "keyed", "--json"))
    assert json.loads(cli(rt, capsys, "inbound-webhooks", "get", "preview", hook["id"],
                          "--json"))["name"] == "keyed"
    rows = json.loads(cli(rt, capsys, "inbound-webhooks", "deliveries", "preview", hook["id"],
                          "--json"))
    assert all(row["webhook_id"] == hook["id"] for row in rows)
    assert json.loads(cli(rt, capsys, "triggers", "deliveries", "preview", trigger["id"],
                          "--json")) == json.loads(cli(rt, capsys, "triggers", "deliveries",
                                                       "preview", "p1-alert", "--json"))
    out = cli(rt, capsys, "triggers", "get", "preview", "trg_doesnotexist", code=1)
    assert out == ""


def test_the_invoke_signing_secret_is_shown_with_show_secret(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    from hookplane.state.store import Store

    rt = runtime
    shown = json.loads(cli(rt, capsys, "inbound-webhooks", "get", "preview", "agent",
                           "--show-secret", "--json"))
    with Store.open(rt.database_url, root=rt.root) as store:
        expected = store.read_secret("preview", "inbound_webhooks", "agent", "signing_secret")
    assert shown["invoke_signing_secret"] == expected
    assert "secret" not in shown  # a bearer-token webhook: its token is shown once by reveal
    assert shown["generated"] == ["signing_secret", "token"]


def _pages(rt: Runtime, capsys: pytest.CaptureFixture[str], *args: str) -> list[list[dict]]:
    """Follow the 'more: --cursor' hints page by page."""
    from hookplane.cli.main import run

    pages: list[list[dict]] = []
    cursor: list[str] = []
    while True:
        status = run(["-C", str(rt.root), "--no-color", *args, "--json", *cursor,
                      "--database-url", rt.database_url])
        out = capsys.readouterr()
        assert status == 0, out.err
        pages.append(json.loads(out.out))
        if "more: --cursor " not in out.err:
            return pages
        cursor = ["--cursor", out.err.split("more: --cursor ", 1)[1].split()[0]]


def test_every_listing_pages_with_a_cursor_and_streams_with_all(
        runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    from hookplane.cli.main import run

    rt = runtime
    for n in range(14):  # 7 records, 14 log entries
        rt.post("keyed", b'{"title": "paged", "severity": "p3"}',
                {"X-Account-Key": rt.secret("keyed") if n % 2 else "wrong"})
    for args, key in ((("records", "list", "preview", "incidents"), "id"),
                      (("inbound-webhooks", "deliveries", "preview", "keyed"), "id"),
                      (("triggers", "deliveries", "preview", "every-incident"), "id")):
        pages = _pages(rt, capsys, *args, "--limit", "3")
        rows = [row for page in pages for row in page]
        assert len(pages) >= 3 and all(len(page) == 3 for page in pages[:-1]), args
        ids = [row[key] for row in rows]
        assert len(set(ids)) == len(ids), args  # no row twice, none skipped below
        assert run(["-C", str(rt.root), *args, "--all", "--limit", "3",
                    "--database-url", rt.database_url]) == 0
        streamed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [row[key] for row in streamed] == ids, args
    bad = run(["-C", str(rt.root), "records", "list", "preview", "incidents", "--cursor",
               "not-a-cursor", "--database-url", rt.database_url])
    assert bad == 1
    assert "invalid cursor" in capsys.readouterr().err

    admin = {"Authorization": "Bearer admin-token-for-tests-0123456789"}
    first = rt.http.get("/admin/preview/inbound-webhooks/keyed/deliveries",
                        params={"limit": 2}, headers=admin).json()
    second = rt.http.get("/admin/preview/inbound-webhooks/keyed/deliveries",
                         params={"limit": 2, "cursor": first["next_cursor"]},
                         headers=admin).json()
    assert len(first["data"]) == len(second["data"]) == 2
    assert {e["id"] for e in first["data"]}.isdisjoint({e["id"] for e in second["data"]})
    triggers = rt.http.get("/admin/preview/triggers/every-incident/deliveries",
                           params={"limit": 1}, headers=admin).json()
    assert len(triggers["data"]) == 1 and triggers["next_cursor"]
