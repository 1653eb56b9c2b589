"""The runtime's HTTP edges, each reproduced from outside:

- the records API answered "no environment 'x'" before looking at the API key, so anyone
  could enumerate environments and collections: it authenticates first now (401);
- ``/schema`` loaded its UI's scripts, styles and favicon from public CDNs: it is one
  self-contained page now (no script, no outside URL), plus the JSON and YAML documents;
- metrics labelled requests by the handler's own path, without its router's prefix, so admin
  and console routes with the same tail were one series: labels are the whole template.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hookplane.runtime.app import create_app
from hookplane.state.store import Store
from tests.integration.runtime.harness import AppServer, apply_environment, client

ADMIN = "http-edges-admin-token-0123456789abcdef"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[httpx.Client, str]]:
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(textwrap.dedent("""\
        collections:
          notes: {schema: {type: object}}
        api_keys:
          reader: {scopes: ["read:notes"]}
        """))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    with Store.open(url, root=tmp_path) as store:
        token = store.reveal_token("preview", "api_keys", "reader")
    app = AppServer(create_app(database_url=url, root=tmp_path, admin_token=ADMIN,
                               run_jobs=False)).start()
    http = client(app.url)
    try:
        yield http, token
    finally:
        http.close()
        app.stop()


def test_the_records_api_authenticates_before_it_says_what_exists(
        server: tuple[httpx.Client, str]) -> None:
    http, token = server
    bearer = {"Authorization": f"Bearer {token}"}
    answers = {
        "no key, unknown environment": http.get("/api/nope/collections/notes/records"),
        "no key, real environment": http.get("/api/preview/collections/notes/records"),
        "no key, unknown collection": http.get("/api/preview/collections/x/records"),
        "a key, unknown environment": http.get("/api/nope/collections/notes/records",
                                               headers=bearer),
        "wrong key": http.get("/api/preview/collections/notes/records",
                              headers={"Authorization": "Bearer hpt_wrong"}),
    }
    for case, answer in answers.items():
        assert answer.status_code == 401, (case, answer.text)
        assert "nope" not in answer.text and "environment" not in answer.text, case
    # scoped to notes: another collection's name is not confirmed or denied
    assert http.get("/api/preview/collections/secret/records",
                    headers=bearer).status_code == 403
    assert http.get("/api/preview/collections/notes/records", headers=bearer).status_code == 200


def test_schema_loads_nothing_from_elsewhere(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    page = http.get("/schema")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text.lower()
    assert re.findall(r"(?:src|href)=['\"](https?:)?//", page.text) == []
    assert "/inbound/{environment}/{webhook_id}/ingest" in page.text
    assert http.get("/schema/openapi.json").json()["info"]["title"] == "Hookplane runtime"
    assert "openapi:" in http.get("/schema/openapi.yaml").text


def test_metrics_label_routes_with_their_prefix(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    admin = {"Authorization": f"Bearer {ADMIN}"}
    assert http.get("/admin/preview/triggers", headers=admin).status_code == 200
    assert http.get("/console/preview/triggers").status_code in (200, 303, 401)
    text = http.get("/metrics").text
    assert 'route="/admin/{environment}/triggers"' in text
    assert 'route="/console/{environment}/triggers"' in text
    assert 'route="/{environment}/triggers"' not in text
