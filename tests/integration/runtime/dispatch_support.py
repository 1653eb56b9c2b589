"""Helpers for the dispatcher tests: a receiver that can answer with any status, headers and
delay; a small applied project with a real state database; a dispatcher running in its own
event loop thread (as in ``hookplane serve``)."""

from __future__ import annotations

import json
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from anyio.from_thread import BlockingPortal, start_blocking_portal

from hookplane.runtime.dispatch import Dispatcher
from hookplane.runtime.egress import GuardedSender, Sender
from hookplane.runtime.fanout import outbox_for
from hookplane.runtime.metrics import Metrics
from hookplane.runtime.registry import EnvironmentView, Registry
from hookplane.state.runtime import Delivery, Record, RuntimeStore
from hookplane.state.store import Store
from tests.integration.runtime.harness import apply_environment

ENV = "preview"
LOOPBACK = ("127.0.0.0/8",)


# --------------------------------------------------------------------------- the receiver


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    body: bytes
    at: float
    """``time.monotonic()`` when the request was read."""

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, Any, dict[str, str]]
Responder = Callable[[Hit], Reply]


def ok(_: Hit) -> Reply:
    return 200, {"ok": True}, {}


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # 16 dispatcher connections opening at once must not overflow the accept queue (the
    # default 5 let the kernel drop one now and then: a ReadError on a loaded machine)
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout under test) is expected; anything else shows."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1; ``respond`` decides each answer (and may sleep)."""

    respond: Responder = ok
    hits: list[Hit] = field(default_factory=list)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                hit = Hit(self.command, self.path,
                          {k.lower(): v for k, v in self.headers.items()}, body,
                          time.monotonic())
                receiver.hits.append(hit)
                status, payload, headers = receiver.respond(hit)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
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

    def on(self, path: str) -> list[Hit]:
        return [hit for hit in list(self.hits) if hit.path == path]


# --------------------------------------------------------------------------- the project


COLLECTIONS = """\
collections:
  incidents:
    schema:
      type: object
      properties:
        title: {type: string}
        severity: {type: string}
        status: {type: string}
  orders:
    schema:
      type: object
      properties:
        status: {type: string}
        total: {type: number}
        customer: {type: string}
"""


class Project:
    """An applied environment on a real state database, its registry and runtime store."""

    def __init__(self, root: Path, database_url: str, environ: dict[str, str]) -> None:
        self.root = root
        self.url = database_url
        self.environ = environ
        env = root / "environments" / ENV
        env.mkdir(parents=True, exist_ok=True)
        (env / "environment.yaml").write_text(f"name: {ENV}\nkind: preview\n")
        self.store: Store | None = None

    def apply(self, resources: str) -> EnvironmentView:
        """Apply COLLECTIONS plus ``resources`` (YAML) and reload the registry."""
        text = COLLECTIONS + textwrap.dedent(resources)
        (self.root / "environments" / ENV / "main.yaml").write_text(text)
        apply_environment(self.root, self.url, ENV, self.environ)
        if self.store is None:
            self.store = Store.open(self.url, root=self.root)
            self.runtime: RuntimeStore = self.store.runtime()
            self.registry = Registry(self.store)
        self.registry.refresh()
        return self.view

    @property
    def view(self) -> EnvironmentView:
        view = self.registry.get(ENV)
        assert view is not None
        return view

    def outbox(self) -> Callable[[Any], Any]:
        registry = self.registry
        return lambda event: outbox_for(registry.get(ENV) or self.view, event,
                                        now=datetime.now(UTC))

    def create(self, collection: str, data: dict[str, Any], *, origin: str = "api",
               external_id: str | None = None) -> Record:
        return self.runtime.create(ENV, collection, data, origin=origin,
                                   external_id=external_id, outbox=self.outbox())

    def secrets(self, trigger: str) -> list[str]:
        assert self.store is not None
        return self.store.signing_secrets(ENV, "triggers", trigger, "signing_secret")

    def deliveries(self, trigger: str) -> list[Delivery]:
        return self.runtime.deliveries(ENV, self.view.triggers[trigger].id, limit=1000)

    def dispatcher(self, *, worker: str = "w1", allow: tuple[str, ...] = LOOPBACK,
                   sender: Sender | None = None,
                   registry: Registry | None = None, runtime: RuntimeStore | None = None,
                   **options: Any) -> Dispatcher:
        options.setdefault("poll_interval", 0.05)
        chosen = sender if sender is not None else GuardedSender(allow_networks=allow)
        return Dispatcher(registry or self.registry, runtime or self.runtime, chosen, Metrics(),
                          worker=worker, **options)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


@contextmanager
def running(dispatcher: Dispatcher) -> Iterator[BlockingPortal]:
    """``dispatcher.run_forever()`` in an event loop of its own thread until the block ends."""
    with start_blocking_portal() as portal:
        future = portal.start_task_soon(dispatcher.run_forever)
        try:
            yield portal
        finally:
            future.cancel()
            portal.call(dispatcher.sender.aclose)


def wait_until(check: Callable[[], Any], *, timeout: float = 20.0,
               interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")


def finished(project: Project, trigger: str, count: int = 1) -> list[Delivery]:
    """Wait until ``count`` deliveries of ``trigger`` are delivered or failed."""
    def done() -> list[Delivery] | None:
        rows = project.deliveries(trigger)
        final = [d for d in rows if d.status in ("delivered", "failed")]
        return final if len(final) >= count else None

    result: list[Delivery] = wait_until(done)
    return result
