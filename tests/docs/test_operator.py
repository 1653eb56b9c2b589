"""Operator experience as docs/operations/ describes it: shell completion, and
``hookplane serve --log-format json`` (structured lines, request ids, no secrets)."""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest

from hookplane.cli.main import run
from hookplane.runtime import logs
from tests.integration.runtime.harness import free_port, wait_for

# --------------------------------------------------------------------------- completion


def _complete(env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hookplane.cli"], env={**os.environ, **env},
                          cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("shell", "expected"), [
    ("bash", "complete -o nosort -F _hookplane_completion hookplane"),
    ("zsh", "#compdef hookplane"),
    ("fish", "complete --no-files --command hookplane"),
])
def test_completion_script_is_emitted(shell: str, expected: str) -> None:
    done = _complete({"_HOOKPLANE_COMPLETE": f"{shell}_source"})
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


def test_completion_of_commands_and_environment_names(tmp_path: Path) -> None:
    assert run(["-C", str(tmp_path), "init"]) == 0
    commands = _complete({"_HOOKPLANE_COMPLETE": "bash_complete", "COMP_WORDS": "hookplane pl",
                          "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["plain,plan"]
    envs = _complete({"_HOOKPLANE_COMPLETE": "bash_complete",
                      "COMP_WORDS": "hookplane plan pro", "COMP_CWORD": "2"}, cwd=tmp_path)
    assert envs.stdout.split() == ["plain,production"]
    rooted = _complete({"_HOOKPLANE_COMPLETE": "bash_complete",
                        "COMP_WORDS": f"hookplane -C {tmp_path} triggers get ",
                        "COMP_CWORD": "5"})
    assert rooted.stdout.split() == ["plain,preview", "plain,production"]


# --------------------------------------------------------------------------- logs, in-process


def test_redact_masks_what_looks_like_a_secret() -> None:
    text = logs.redact(
        "secret whsec_l4RGS9TbnH3fRmlXHGAPcJe6NhMzZh1YEznrgba/XxQ= token hpt_abcdef123456 "
        "Authorization: Bearer eyJhbGciOi.abc.def url postgresql://app:s3cr3t-pw@db/hookplane "
        "sig sha256=0123456789abcdef0123456789abcdef password=hunter22")
    for secret in ("l4RGS9Tb", "abcdef123456", "eyJhbGciOi", "s3cr3t-pw", "0123456789abcdef",
                   "hunter22"):
        assert secret not in text, text
    assert "postgresql://app:[redacted]@db/hookplane" in text


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure() rewires process-wide logging; put it back for the other tests."""
    names = ["", "uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore"]
    saved = [(logging.getLogger(n), list(logging.getLogger(n).handlers),
              logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names]
    yield
    for logger, handlers, propagate, level in saved:
        logger.handlers = handlers
        logger.propagate = propagate
        logger.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_request_ids_reach_every_log_line_and_the_response() -> None:
    stream = io.StringIO()
    logs.configure(level="info", log_format="json", stream=stream)
    inner = logging.getLogger("hookplane.test")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        inner.info("handling with secret whsec_c2VjcmV0c2VjcmV0c2VjcmV0")
        await anyio.to_thread.run_sync(lambda: inner.warning("in a worker thread"))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def main() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=logs.request_ids(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [await client.get("/x?token=hpt_querysecret", headers={"X-Request-ID": "ci-42"}),
                    await client.get("/y", headers={"X-Request-ID": "bad id with spaces"})]

    given, invalid = anyio.run(main)
    assert given.headers["x-request-id"] == "ci-42"
    generated = invalid.headers["x-request-id"]
    assert generated.startswith("req_") and len(generated) == 20
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert all(e["logger"] != "httpx" for e in lines)  # full URLs can be secrets
    assert [(e["logger"], e["request_id"]) for e in lines] == [
        ("hookplane.test", "ci-42"), ("hookplane.test", "ci-42"), ("hookplane.access", "ci-42"),
        ("hookplane.test", generated), ("hookplane.test", generated),
        ("hookplane.access", generated)]
    access = lines[2]
    assert {k: access[k] for k in ("method", "path", "status", "level")} == {
        "method": "GET", "path": "/x", "status": 204, "level": "info"}
    assert "hpt_querysecret" not in stream.getvalue()
    assert "c2VjcmV0c2VjcmV0" not in stream.getvalue()
    assert lines[0]["message"] == "handling with secret whsec_[redacted]"


# --------------------------------------------------------------------------- serve, for real


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
            capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[Path, str]]:
    for name in ("HOOKPLANE_DATABASE_URL", "HOOKPLANE_SECRET_KEY", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    assert run(["-C", str(tmp_path), "init"]) == 0
    assert run(["-C", str(tmp_path), "apply", "preview", "--auto-approve",
                "--database-url", url]) == 0
    capsys.readouterr()
    yield tmp_path, url


def test_serve_log_format_json(project: tuple[Path, str], capsys: pytest.CaptureFixture[str],
                               ) -> None:
    root, url = project
    assert run(["-C", str(root), "inbound-webhooks", "get", "preview", "alerts",
                "--show-secret", "--json", "--database-url", url]) == 0
    described = json.loads(capsys.readouterr().out)
    secret, ingest = described["secret"], described["ingest_url"]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = root / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "hookplane.cli", "-C", str(root), "serve", "--port", str(port),
             "--database-url", url, "--log-format", "json"], stdout=sink, stderr=sink)
    try:
        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout=30)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as http:
            health = http.get("/healthz", headers={"X-Request-ID": "trace-7"})
            refused = http.post(
                f"{ingest}?token=hpt_query_secret_value", content=b'{"summary": "x"}',
                headers={"Content-Type": "application/json", "X-Signature": secret,
                         "Authorization": "Bearer hpt_header_secret_value"})
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert health.headers["x-request-id"] == "trace-7"
    assert refused.status_code == 401
    text = log.read_text(encoding="utf-8")
    entries = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    access = [e for e in entries if e["logger"] == "hookplane.access"]
    assert [(e["method"], e["status"]) for e in access if e["path"] != "/readyz"] == [
        ("GET", 200), ("POST", 401)]
    assert access[-2]["request_id"] == "trace-7"
    assert access[-1]["request_id"] == refused.headers["x-request-id"]
    assert access[-1]["route"] == "/inbound/{environment:str}/{webhook_id:str}/ingest"
    assert any(e["logger"] == "uvicorn.error" for e in entries)
    # every line says which replica and process wrote it, so a dashboard can tell them apart
    assert {e["replica"] for e in entries} == {f"{socket.gethostname()}:{server.pid}"}
    for leaked in (secret, "hpt_query_secret_value", "hpt_header_secret_value"):
        assert leaked not in text
