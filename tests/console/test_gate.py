"""The console's gate against requests a browser would not send: every state-changing form,
the routes Litestar generates (OPTIONS, HEAD), the static files and the sign-in throttle,
through Litestar's test client over ``https://`` (the cookies are ``Secure``).

The browser tests (``test_access.py``) cover the CSRF refusals of rotation and test sends;
these cover the other forms, a token smuggled in the query string or a JSON body, and that a
refusal changes nothing (no audit entry, no rotated secret, the session still valid).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from hookplane.runtime.app import create_app
from hookplane.runtime.authguard import FREE_FAILURES
from hookplane.state.store import Store
from tests.console.conftest import ADMIN_TOKEN, _apply, _write_project

BASE = "https://console.test"
TRIGGER = "/console/preview/triggers/flaky-sink"
FORMS = [f"{TRIGGER}/enable", f"{TRIGGER}/recover", f"{TRIGGER}/deliveries/d_1/redeliver",
         f"{TRIGGER}/rotate", f"{TRIGGER}/test", "/console/preview/inbound/monitoring/rotate",
         "/console/sign-out"]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    monkeypatch.delenv("HOOKPLANE_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    database_url = f"sqlite:///{tmp_path / 'state.db'}"
    _write_project(tmp_path, "https://receiver.example")
    _apply(tmp_path, database_url, "preview", git_commit=None)
    with TestClient(create_app(database_url=database_url, root=tmp_path,
                               admin_token=ADMIN_TOKEN, run_jobs=False),
                    base_url=BASE) as test_client:
        yield test_client, database_url


def _form_token(http: TestClient, path: str) -> str:
    match = _CSRF.search(http.get(path).text)
    assert match is not None
    return match.group(1)


def _sign_in(http: TestClient, token: str = ADMIN_TOKEN) -> int:
    nonce = _form_token(http, "/console/sign-in")
    return http.post("/console/sign-in", data={"csrf_token": nonce, "token": token},
                     follow_redirects=False).status_code


def _state(database_url: str, root: Path) -> tuple[int, int, int]:
    with Store.open(database_url, root=root) as store:
        return (len(store.history("preview")),
                len(store.secret_info("preview", "triggers", "flaky-sink")),
                len(store.secret_info("preview", "inbound_webhooks", "monitoring")))


@pytest.mark.parametrize("action", FORMS)
def test_every_form_refuses_a_post_without_its_csrf_token(
        app: tuple[TestClient, str], tmp_path: Path, action: str) -> None:
    http, database_url = app
    assert _sign_in(http) == 303
    token = _form_token(http, TRIGGER)
    before = _state(database_url, tmp_path)
    fields = {"confirm": "yes", "since": "24h"}
    for attempt in (
        {"data": fields},  # no token
        {"data": {**fields, "csrf_token": "0" * 64}},  # a wrong one
        {"data": fields, "params": {"csrf_token": token}},  # in the query string
        {"json": {**fields, "csrf_token": token}},  # in a JSON body
    ):
        refused = http.post(action, follow_redirects=False, **attempt)  # type: ignore[arg-type]
        assert refused.status_code == 403, (attempt, refused.text)
        assert "CSRF token is missing or wrong" in refused.text
    foreign = http.post(action, data={**fields, "csrf_token": token},
                        headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert foreign.status_code == 403
    assert "posted from another site" in foreign.text
    assert _state(database_url, tmp_path) == before  # nothing audited, nothing rotated
    assert http.get("/console/preview", follow_redirects=False).status_code == 200
    # the same form with its token gets past the gate (a 404 for the unknown delivery)
    accepted = http.post(action, data={**fields, "csrf_token": token},
                         follow_redirects=False)
    assert accepted.status_code in (200, 303, 404), accepted.text
    assert "CSRF" not in accepted.text


@pytest.mark.parametrize("method", ["OPTIONS", "HEAD"])
@pytest.mark.parametrize("path", ["/console/preview", f"{TRIGGER}", f"{TRIGGER}/enable",
                                  "/console/sign-out"])
def test_generated_routes_do_not_escape_the_gate(app: tuple[TestClient, str], method: str,
                                                 path: str) -> None:
    http, _ = app
    response = http.request(method, path, follow_redirects=False)
    assert response.status_code in (303, 403, 405), response.status_code
    assert "flaky-sink" not in response.text and "preview" not in response.text
    assert "hookplane_console=" not in response.headers.get("set-cookie", "")


def test_static_files_serve_only_the_static_directory(app: tuple[TestClient, str]) -> None:
    http, _ = app
    assert http.get("/console/static/console.css").status_code == 200
    for path in ("/console/static/%2e%2e/templates/base.html.j2",
                 "/console/static/..%2froutes.py", "/console/static/%2e%2e/session.py",
                 "/console/static/"):
        response = http.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert "{%" not in response.text and "import" not in response.text


def test_console_sign_in_is_throttled_per_client(app: tuple[TestClient, str]) -> None:
    http, _ = app
    codes = [_sign_in(http, f"not-the-token-{n}") for n in range(FREE_FAILURES + 3)]
    assert codes[:FREE_FAILURES + 1] == [401] * (FREE_FAILURES + 1)
    assert set(codes[FREE_FAILURES + 1:]) == {429}
    # the right token is not even checked while the client waits, whatever it claims to be
    nonce = _form_token(http, "/console/sign-in")
    blocked = http.post("/console/sign-in",
                        data={"csrf_token": nonce, "token": ADMIN_TOKEN},
                        headers={"X-Forwarded-For": "198.51.100.7", "X-Real-IP": "198.51.100.7"},
                        follow_redirects=False)
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert "hookplane_console=" not in blocked.headers.get("set-cookie", "").replace(
        "hookplane_console_signin=", "")
    # one counter for the client: the admin API waits too
    api = http.get("/admin/preview/triggers", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert api.status_code == 429


def test_a_link_cannot_put_its_own_words_in_the_trigger_page(
        app: tuple[TestClient, str]) -> None:
    """``?queued=`` names the delivery the redeliver form queued: a crafted link could make
    the console's own status line say anything (escaped, but in the console's voice)."""
    http, _ = app
    assert _sign_in(http) == 303
    spoof = "x. Your admin token leaked: sign in again at https://evil.example/console"
    page = http.get(TRIGGER, params={"queued": spoof})
    assert page.status_code == 200
    assert "evil.example" not in page.text and "token leaked" not in page.text
    real = http.get(TRIGGER, params={"queued": "msg_0123456789abcdefghjk"})
    assert "Delivery msg_0123456789abcdefghjk is queued again" in real.text


def test_every_console_route_passes_the_one_gate(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A handler (or a route Litestar generates) with its own ``before_request``, or one
    mounted outside the router, would skip the session and CSRF checks: Litestar takes the
    closest layer's hook, it does not chain them. Only the sign-in form is public."""
    monkeypatch.delenv("HOOKPLANE_ADMIN_TOKEN", raising=False)
    app = create_app(database_url=f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path,
                     admin_token=ADMIN_TOKEN, run_jobs=False)
    gates, public, static = set(), set(), set()
    for route in app.routes:
        if route.path != "/console" and not route.path.startswith("/console/"):
            continue
        for handler in route.route_handlers:  # type: ignore[union-attr]
            methods = frozenset(handler.http_methods)
            if route.path.startswith("/console/static/"):
                static.add(methods)
                continue
            gates.add(handler.resolve_before_request())
            if handler.opt.get("console_public"):
                public.update((route.path, method) for method in methods)
    assert len(gates) == 1 and None not in gates
    assert public == {("/console/sign-in", "GET"), ("/console/sign-in", "POST")}
    assert set().union(*static) <= {"GET", "HEAD", "OPTIONS"}  # files only
