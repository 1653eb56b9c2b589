"""The receiver guides' code (docs/receivers/) verifies real Hookplane signatures.

Headers come from :func:`hookplane.runtime.signing.sign`, the function the dispatcher signs
every delivery with, over a body shaped like a real delivery and a secret made the way apply
makes one. Each snippet must accept it, and reject a tampered body, a wrong secret and (for
Standard Webhooks) a replayed old timestamp. The Node.js snippets run under the machine's
``node`` with the ``standardwebhooks`` npm package from ``npm ci --prefix docs/receivers/node``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from hookplane.runtime.signing import new_message_id, sign
from hookplane.state.crypto import new_signing_secret
from tests.conftest import missing_tool
from tests.integration.runtime.harness import free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
RECEIVERS = REPO / "docs" / "receivers"
NODE_DIR = RECEIVERS / "node"
DRIVER = Path(__file__).with_name("verify_driver.js")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"receiver_{name}",
                                                  RECEIVERS / "python" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _delivery_body() -> bytes:
    record = {"id": "rec_3zkkgq10jgbfhvg2hx7f", "collection": "incidents",
              "data": {"title": "Checkout is down", "severity": "p1"}, "origin": "api",
              "version": 1}
    return json.dumps({"id": "msg_x", "event": "create", "collection": "incidents",
                       "environment": "preview", "record": record, "previous": None},
                      separators=(",", ":")).encode()


def _signed(secrets: list[str], body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    return sign(secrets=secrets, body=body, message_id=new_message_id(),
                timestamp=int(time.time()) if timestamp is None else timestamp,
                event="create")


def _tampered(body: bytes) -> bytes:
    return body.replace(b'"p1"', b'"p3"')


# --------------------------------------------------------------------------- cases

Check = Callable[[bytes, dict[str, str], str], bool]


def _cases(check: Check, *, timestamped: bool) -> None:
    secret, old = new_signing_secret(), new_signing_secret()
    body = _delivery_body()
    headers = _signed([secret], body)
    assert check(body, headers, secret), "a genuine delivery was rejected"
    assert not check(_tampered(body), headers, secret), "a tampered body was accepted"
    assert not check(body, headers, new_signing_secret()), "a wrong secret was accepted"
    # a rotation's grace period: both signatures are sent; either secret verifies
    rotating = _signed([secret, old], body)
    assert check(body, rotating, secret)
    assert check(body, rotating, old)
    assert not check(_tampered(body), rotating, old)
    if timestamped:
        stale = _signed([secret], body, timestamp=int(time.time()) - 3600)
        assert not check(body, stale, secret), "an hour-old delivery was accepted (replay)"


def test_python_plain_hmac_snippet() -> None:
    receiver = _load("receiver")
    _cases(lambda body, headers, secret: bool(
        receiver.verify(body, headers.get("X-Hookplane-Signature"), secret)), timestamped=False)
    assert not receiver.verify(_delivery_body(), None, new_signing_secret())


def test_python_standardwebhooks_snippet() -> None:
    snippet = _load("receiver_standardwebhooks")
    _cases(lambda body, headers, secret: bool(snippet.is_valid(body, headers, secret)),
           timestamped=True)
    secret = new_signing_secret()
    body = _delivery_body()
    assert snippet.verify(body, _signed([secret], body), secret)["record"]["data"] == {
        "title": "Checkout is down", "severity": "p1"}


# --------------------------------------------------------------------------- servers


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    with httpx.Client(trust_env=False, timeout=10) as client:
        return client.post(url, content=body,
                           headers={**headers, "Content-Type": "application/json"}).status_code


@pytest.fixture
def serve() -> Iterator[Callable[[list[str], Path, str], tuple[str, Path]]]:
    """Start a documented receiver as a process; yield its URL and its output file."""
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], cwd: Path, secret: str) -> tuple[str, Path]:
        port = free_port()
        out = cwd / f"receiver-{port}.log"
        env = {**os.environ, "HOOKPLANE_SIGNING_SECRET": secret}
        with out.open("wb") as sink:
            started.append(subprocess.Popen([*argv, str(port)], cwd=cwd, env=env,
                                            stdout=sink, stderr=subprocess.STDOUT))

        def up() -> bool:
            try:
                with httpx.Client(trust_env=False, timeout=1) as client:
                    client.get(f"http://127.0.0.1:{port}/")
            except httpx.TransportError:
                return False
            return True

        wait_for(up, timeout=20)
        return f"http://127.0.0.1:{port}/hooks", out

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def _server_cases(url: str, out: Path, secret: str) -> None:
    body = _delivery_body()
    headers = _signed([secret], body)
    assert _post(url, body, headers) == 204
    assert _post(url, _tampered(body), headers) == 401
    assert _post(url, body, {}) == 401
    line = wait_for(lambda: out.read_text(encoding="utf-8").strip())
    assert line.splitlines() == [line.splitlines()[0]]  # one accepted delivery, one line
    assert line.startswith("verified create ")


def test_python_receiver_server(serve: Any, tmp_path: Path) -> None:
    secret = new_signing_secret()
    url, out = serve([sys.executable, str(RECEIVERS / "python" / "receiver.py")], tmp_path,
                     secret)
    _server_cases(url, out, secret)
    assert out.read_text(encoding="utf-8").strip().endswith(
        '{"severity": "p1", "title": "Checkout is down"}')


# --------------------------------------------------------------------------- Node.js


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        missing_tool("'node' is not on PATH: the Node.js receiver snippets cannot run here "
                     "(apt-get install -y nodejs npm; .ci/run does)")
    if not (NODE_DIR / "node_modules" / "standardwebhooks").is_dir():
        message = ("docs/receivers/node/node_modules is missing: run "
                   "'npm ci --prefix docs/receivers/node' (.ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(message)
        missing_tool(message)
    return node


def _node_check(snippet: str) -> Check:
    node = _node()

    def check(body: bytes, headers: dict[str, str], secret: str) -> bool:
        import base64

        payload = json.dumps({"snippet": snippet, "body_b64": base64.b64encode(body).decode(),
                              "headers": headers, "secret": secret})
        done = subprocess.run([node, str(DRIVER)], input=payload.encode(), capture_output=True,
                              timeout=30, check=False)
        assert done.returncode == 0, done.stderr.decode()
        return bool(json.loads(done.stdout)["valid"])

    return check


def test_node_plain_crypto_snippet() -> None:
    _cases(_node_check("hmac"), timestamped=False)


def test_node_standardwebhooks_snippet() -> None:
    _cases(_node_check("standard"), timestamped=True)


def test_node_receiver_server(serve: Any, tmp_path: Path) -> None:
    node = _node()
    secret = new_signing_secret()
    url, out = serve([node, str(NODE_DIR / "server.js")], tmp_path, secret)
    _server_cases(url, out, secret)
