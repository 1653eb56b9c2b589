"""The console answers a domain error with the status of the one table
(:mod:`hookplane.runtime.problems`), as a page: rotating a secret that comes from
``${env:…}`` is a conflict (409), the same status the admin API answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from litestar.testing import TestClient

from hookplane.runtime.app import create_app
from hookplane.state.store import Store
from tests.integration.runtime.conftest import ENVIRON, project_yaml
from tests.integration.runtime.harness import apply_environment

TOKEN = "admin-token-for-tests-0123456789"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def test_console_and_admin_api_answer_a_conflict_alike(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(project_yaml("http://127.0.0.1:9", "http://127.0.0.1:9"))
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", ENVIRON)
    app = create_app(database_url=url, root=tmp_path, admin_token=TOKEN, run_jobs=False)
    with TestClient(app, base_url="https://testserver.local") as http:
        api = http.post("/admin/preview/inbound-webhooks/stripe/rotate-secret",
                        headers={"Authorization": f"Bearer {TOKEN}"})
        form = http.get("/console/sign-in")
        signed = http.post("/console/sign-in", data={"token": TOKEN, "next": "/console",
                                                     "csrf_token": _csrf(form.text)},
                           follow_redirects=False)
        assert signed.status_code == 303, signed.text[:300]
        page = http.get("/console/preview/inbound/stripe")
        assert page.status_code == 200
        console = http.post("/console/preview/inbound/stripe/rotate",
                            data={"confirm": "yes", "csrf_token": _csrf(page.text)})
    assert api.status_code == console.status_code == 409
    message = api.json()["error"]
    assert message.startswith("inbound_webhooks.stripe has no generated secret to rotate")
    assert "has no generated secret to rotate" in console.text
    assert "text/html" in console.headers["content-type"]


# The same refusal reached through each surface: (API path, admin path, console path).
SAME_REFUSAL = {
    "no such environment": (None, "/admin/nope/triggers", "/console/nope/triggers"),
    "no such trigger": (None, "/admin/preview/triggers/nope/deliveries",
                        "/console/preview/triggers/nope"),
    "no such collection": ("/api/preview/collections/nope/records", None,
                           "/console/preview/records/nope"),
    "no such record": ("/api/preview/collections/incidents/records/rec_nope", None,
                       "/console/preview/records/incidents/rec_nope"),
}


@pytest.mark.parametrize("case", sorted(SAME_REFUSAL))
def test_a_domain_error_has_one_status_on_every_surface(
        case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The console's pages, the admin API and the records API answer the same domain error
    (raised by the handlers as :class:`hookplane.errors.NotFound` …) with the status of the
    one table: 404 as JSON for the APIs, 404 as a page for the console."""
    env = tmp_path / "environments" / "preview"
    env.mkdir(parents=True)
    (env / "environment.yaml").write_text("name: preview\nkind: preview\n")
    (env / "main.yaml").write_text(project_yaml("http://127.0.0.1:9", "http://127.0.0.1:9"))
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", ENVIRON)
    with Store.open(url, root=tmp_path) as store:
        key = store.reveal_token("preview", "api_keys", "writer")
    api_path, admin_path, console_path = SAME_REFUSAL[case]
    app = create_app(database_url=url, root=tmp_path, admin_token=TOKEN, run_jobs=False)
    with TestClient(app, base_url="https://testserver.local") as http:
        form = http.get("/console/sign-in")
        http.post("/console/sign-in", data={"token": TOKEN, "next": "/console",
                                            "csrf_token": _csrf(form.text)},
                  follow_redirects=False)
        page = http.get(console_path)
        answers = [page]
        if api_path is not None:
            answers.append(http.get(api_path, headers={"Authorization": f"Bearer {key}"}))
        if admin_path is not None:
            answers.append(http.get(admin_path, headers={"Authorization": f"Bearer {TOKEN}"}))
    assert [answer.status_code for answer in answers] == [404] * len(answers)
    assert "text/html" in page.headers["content-type"]
    assert "<h1>Not found</h1>" in page.text
    for answer in answers[1:]:
        assert answer.json()["error"].startswith("no ")
