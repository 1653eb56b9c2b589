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
