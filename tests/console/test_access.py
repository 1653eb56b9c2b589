"""Sign-in, sessions, CSRF, and the console being off without an admin token."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import TestClient

from hookplane.runtime.app import create_app
from tests.console.conftest import ADMIN_TOKEN, Console, screenshot, sign_in

PAGES = ["/console", "/console/preview", "/console/preview/triggers",
         "/console/preview/triggers/notify-oncall", "/console/preview/inbound",
         "/console/preview/inbound/monitoring", "/console/preview/records",
         "/console/preview/records/incidents", "/console/production"]


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_requests_are_redirected_to_sign_in(console: Console, path: str) -> None:
    response = console.http.get(path)
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/console/sign-in?next=")
    # nothing but the redirect: no data of the page leaks into the body
    assert "notify-oncall" not in response.text and "incidents" not in response.text


def test_signed_out_browser_sees_only_the_sign_in_page(page: Any, console: Console) -> None:
    page.goto(f"{console.url}/console/preview/triggers/notify-oncall")
    assert "/console/sign-in" in page.url
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in to the console"
    content = page.content()
    assert "notify-oncall" not in page.inner_text("main")
    assert "Sign out" not in content and "preview" not in page.inner_text("header")
    screenshot(page, "sign-in")


def test_sign_in_with_a_wrong_token_is_refused(page: Any, console: Console) -> None:
    page.goto(f"{console.url}/console")
    page.get_by_label("Admin token").fill("not-the-token")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Sign in").click()
    assert answer.value.status == 401
    assert page.get_by_role("alert").inner_text() == \
        "That is not the admin token of this runtime."
    assert not [c for c in page.context.cookies() if c["name"] == "hookplane_console"]


def test_sign_in_sets_a_strict_session_cookie_and_returns_to_the_page(
        page: Any, console: Console) -> None:
    sign_in(page, console, "/console/preview/records")
    assert page.url == f"{console.url}/console/preview/records"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Records")
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "hookplane_console"]
    assert cookie["httpOnly"] is True
    assert cookie["secure"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    assert time.time() + 3600 < cookie["expires"] < time.time() + 9 * 3600
    # the pre-session cookie of the sign-in form is gone
    assert not [c for c in page.context.cookies() if c["name"] == "hookplane_console_signin"]


def test_sign_out_clears_the_cookie_and_revokes_the_session(page: Any,
                                                            console: Console) -> None:
    sign_in(page, console)
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "hookplane_console"]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    assert not [c for c in page.context.cookies() if c["name"] == "hookplane_console"]
    # a copy of the old cookie does not work any more
    replay = console.http.get("/console/preview",
                              headers={"Cookie": f"hookplane_console={cookie['value']}"})
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/console/sign-in")


def test_a_forged_session_cookie_is_refused(console: Console) -> None:
    forged = f"abc.{int(time.time()) + 3600}.{'0' * 64}"
    response = console.http.get("/console/preview", headers={"Cookie":
                                                             f"hookplane_console={forged}"})
    assert response.status_code == 303
    # bytes beyond ASCII in the cookie (latin-1 on the wire): refused, not a 500
    non_ascii = f"abc.{int(time.time()) + 3600}.{'é' * 64}".encode("latin-1")
    response = console.http.get("/console/preview",
                                headers=[(b"Cookie", b"hookplane_console=" + non_ascii)])
    assert response.status_code == 303


def _session_cookie(page: Any) -> str:
    (cookie,) = [c for c in page.context.cookies() if c["name"] == "hookplane_console"]
    return str(cookie["value"])


def _csrf(page: Any) -> str:
    return str(page.locator("input[name=csrf_token]").first.get_attribute("value"))


def _secret_rows(console: Console) -> int:
    with console.store() as store:
        return len(store.secret_info("preview", "triggers", "flaky-sink"))


def test_a_post_without_the_csrf_token_is_refused(signed_in: Any, console: Console) -> None:
    page = signed_in
    page.goto(f"{console.url}/console/preview/triggers/flaky-sink")
    token = _csrf(page)
    action = f"{console.url}/console/preview/triggers/flaky-sink/rotate"
    before = _secret_rows(console)
    # the browser's own session cookie goes along; only the token is missing or wrong
    missing = page.request.post(action, form={"confirm": "yes"})
    assert missing.status == 403
    assert "CSRF token is missing or wrong" in missing.text()
    wrong = page.request.post(action, form={"confirm": "yes", "csrf_token": "0" * 64})
    assert wrong.status == 403
    unicode = page.request.post(action, form={"confirm": "yes", "csrf_token": "é" * 64})
    assert unicode.status == 403  # refused, not a 500
    foreign = page.request.post(action, form={"confirm": "yes", "csrf_token": token},
                                headers={"Origin": "https://evil.example"})
    assert foreign.status == 403
    test = page.request.post(f"{console.url}/console/preview/triggers/flaky-sink/test",
                             form={})
    assert test.status == 403
    assert _secret_rows(console) == before  # nothing was rotated
    # and the same token from another session is worthless
    with httpx.Client(base_url=console.url, trust_env=False) as other:
        response = other.post(action.removeprefix(console.url),
                              data={"confirm": "yes", "csrf_token": token})
        assert response.status_code == 403  # no session at all
    assert _secret_rows(console) == before


def test_a_csrf_token_belongs_to_its_session(page: Any, console: Console) -> None:
    sign_in(page, console)
    page.goto(f"{console.url}/console/preview/triggers/flaky-sink")
    first_token = _csrf(page)
    page.context.clear_cookies()
    sign_in(page, console)
    cookie = _session_cookie(page)
    response = console.http.post(
        "/console/preview/triggers/flaky-sink/test", data={"csrf_token": first_token},
        headers={"Cookie": f"hookplane_console={cookie}"})
    assert response.status_code == 403


def test_sign_in_form_needs_its_own_csrf_token(console: Console) -> None:
    response = console.http.post("/console/sign-in", data={"token": ADMIN_TOKEN})
    assert response.status_code == 403
    assert "hookplane_console=" not in response.headers.get("set-cookie", "")


def test_open_redirects_are_not_followed(page: Any, console: Console) -> None:
    page.goto(f"{console.url}/console/sign-in?next=//evil.example/x")
    page.get_by_label("Admin token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.url.startswith(f"{console.url}/console")


def test_pages_are_not_cached_and_not_framed(signed_in: Any, console: Console) -> None:
    response = signed_in.goto(f"{console.url}/console/preview")
    headers = response.all_headers()
    assert headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]


def test_the_console_is_off_without_an_admin_token(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKPLANE_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("HOOKPLANE_SECRET_KEY", raising=False)
    app = create_app(database_url=f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path,
                     run_jobs=False)
    with TestClient(app) as test_client:
        for path in ("/console", "/console/sign-in", "/console/preview/triggers"):
            response = test_client.get(path, follow_redirects=False)
            assert response.status_code == 404, path
            assert "Set HOOKPLANE_ADMIN_TOKEN" in response.text
        refused = test_client.post("/console/sign-in", data={"token": ""})
        assert refused.status_code == 404
