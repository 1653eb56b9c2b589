"""Real servers on 127.0.0.1 for runtime tests: the Hookplane app under uvicorn, and a
programmable HTTP peer (an upstream API for hydration, a receiver for invoke/triggers)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from hookplane.apply import apply
from hookplane.config import load_environment
from hookplane.plan import diff
from hookplane.runtime.app import server_config
from hookplane.state.store import Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AppServer:
    """``create_app(...)`` served by uvicorn in a thread, like ``hookplane serve``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = server_config(app, host="127.0.0.1", port=self.port, log_level="warning",
                               graceful_seconds=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the runtime did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Seen], tuple[int, Any]]


@dataclass
class Peer:
    """A real HTTP server that records requests and answers from ``routes`` / ``script``."""

    routes: dict[str, Responder] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    def start(self) -> Peer:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Seen(self.command, self.path, dict(self.headers.items()), body)
                peer.seen.append(request)
                responder = peer.routes.get(self.path.split("?")[0]) or peer.routes.get("*")
                status, payload = responder(request) if responder else (404, {"error": "no"})
                data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (a killed server, a timeout): that is the test

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        # a short poll: stop() returns within it, not within the default 0.5 s
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def apply_environment(root: Path, database_url: str, environment: str,
                      environ: dict[str, str]) -> None:
    """plan + apply through the engine, as ``hookplane apply --auto-approve`` does."""
    with Store.open(database_url, root=root) as store:
        config = load_environment(root, environment)
        plan = diff(config, store.snapshot(environment), environ=environ,
                    fingerprint=store.fingerprint)
        apply(plan, store, environ=environ, actor="test")


def wait_for(check: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until ``check()`` is truthy; fail with the last value after ``timeout``."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")


def client(base: str) -> httpx.Client:
    return httpx.Client(base_url=base, timeout=10, trust_env=False)
