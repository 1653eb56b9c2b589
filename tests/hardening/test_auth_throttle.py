"""Guessing credentials: the console sign-in and the admin API took hundreds of wrong tokens
a second, and a one-character HOOKPLANE_ADMIN_TOKEN was accepted.

- a weak admin token stops start-up with a clear error (never printing the token);
- after FREE_FAILURES wrong tokens a client is answered 429 + Retry-After without its token
  being checked, for a back-off that doubles per further failure; the operator from another
  address is never locked out; a success clears the record; requests without any token are
  not guesses and are not counted; IPv6 clients are counted per /64; records API keys alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hookplane.runtime.app import create_app
from hookplane.runtime.authguard import FREE_FAILURES, FailedAuth, WeakTokenError, client_key
from tests.integration.runtime.harness import AppServer, apply_environment, client, free_port

ADMIN = "throttle-admin-token-0123456789abcdef"


@pytest.mark.parametrize("token", ["Q", "short-token", "a" * 40, "abababababababababababab"])
def test_a_weak_admin_token_stops_start_up(tmp_path: Path, token: str) -> None:
    with pytest.raises(WeakTokenError) as refused:
        create_app(database_url=f"sqlite:///{tmp_path / 's.db'}", root=tmp_path,
                   admin_token=token, run_jobs=False)
    assert "HOOKPLANE_ADMIN_TOKEN is too weak" in str(refused.value)
    assert "openssl rand -hex 32" in str(refused.value)
    assert token not in str(refused.value)
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


def test_serve_exits_1_on_a_weak_token(tmp_path: Path) -> None:
    (tmp_path / "environments" / "preview").mkdir(parents=True)
    (tmp_path / "environments" / "preview" / "environment.yaml").write_text(
        "name: preview\nkind: preview\n")
    done = subprocess.run(
        [sys.executable, "-m", "hookplane.cli", "-C", str(tmp_path), "serve", "--port",
         str(free_port())],
        env={**os.environ, "HOOKPLANE_ADMIN_TOKEN": "hunter2"}, capture_output=True,
        text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "HOOKPLANE_ADMIN_TOKEN is too weak" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr


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
          reader: {scopes: [read]}
        """))
    url = f"sqlite:///{tmp_path / 'state.db'}"
    apply_environment(tmp_path, url, "preview", {})
    app = AppServer(create_app(database_url=url, root=tmp_path, admin_token=ADMIN,
                               run_jobs=False)).start()
    http = client(app.url)
    try:
        yield http, app.url
    finally:
        http.close()
        app.stop()


def test_wrong_admin_tokens_are_slowed_down(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    wrong = {"Authorization": "Bearer not-the-token-0123456789abcdef"}
    right = {"Authorization": f"Bearer {ADMIN}"}
    for _ in range(10):  # requests without a token are not guesses
        assert http.get("/admin/preview/triggers").status_code == 401
    codes = [http.get("/admin/preview/triggers", headers=wrong).status_code
             for _ in range(FREE_FAILURES + 3)]
    # the free failures and the one that starts the back-off are checked (401), then 429
    assert codes[:FREE_FAILURES + 1] == [401] * (FREE_FAILURES + 1)
    assert set(codes[FREE_FAILURES + 1:]) == {429}
    blocked = http.get("/admin/preview/triggers", headers=right)  # not even checked
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert "too many wrong admin tokens" in blocked.json()["error"]


def test_records_api_keys_are_slowed_down_too(server: tuple[httpx.Client, str]) -> None:
    http, _ = server
    wrong = {"Authorization": "Bearer hpt_guess"}
    codes = [http.get("/api/preview/collections/notes/records", headers=wrong).status_code
             for _ in range(FREE_FAILURES + 2)]
    assert codes[:FREE_FAILURES] == [401] * FREE_FAILURES
    assert codes[-1] == 429


def test_the_back_off_is_per_client_and_doubles() -> None:
    auth = FailedAuth()
    for _ in range(FREE_FAILURES):
        auth.failed("203.0.113.9", "admin API", now=100.0)
    assert auth.retry_after("203.0.113.9", now=100.0) is None  # the free ones
    auth.failed("203.0.113.9", "admin API", now=100.0)
    assert auth.retry_after("203.0.113.9", now=100.0) == 1
    auth.failed("203.0.113.9", "admin API", now=100.0)
    auth.failed("203.0.113.9", "admin API", now=100.0)
    assert auth.retry_after("203.0.113.9", now=100.0) == 4  # 1, 2, 4 s
    assert auth.retry_after("198.51.100.7", now=100.0) is None  # the operator elsewhere
    # an IPv6 client rotating through its /64 is one client
    for n in range(FREE_FAILURES + 1):
        auth.failed(f"2001:db8:1:2::{n + 1:x}", "console sign-in", now=100.0)
    assert auth.retry_after("2001:db8:1:2:ffff::9", now=100.0) == 1
    assert auth.retry_after("2001:db8:1:3::1", now=100.0) is None
    assert client_key("::ffff:203.0.113.9") == "203.0.113.9"
    auth.succeeded("203.0.113.9")
    assert auth.retry_after("203.0.113.9", now=100.0) is None


def test_memory_is_bounded() -> None:
    auth = FailedAuth(max_clients=100)
    for n in range(1000):
        auth.failed(f"10.0.{n // 256}.{n % 256}", "admin API", now=1.0)
    assert len(auth._records) == 100
