"""The benchmarks' other servers, each run in its own process under uvicorn on 127.0.0.1:

``baseline``
    The ingest baseline: a bare Litestar endpoint that checks an HMAC-SHA256 of the body
    (``X-Signature``, hex) and does one INSERT + commit per request (SQLAlchemy Core, one
    transaction per request, in a worker thread), served with Hookplane's own uvicorn
    settings (:func:`hookplane.runtime.app.server_config`). SQLite gets Hookplane's engine
    settings (WAL, ``synchronous=NORMAL``, busy timeout) through ``make_engine``.

``receiver``
    A minimal ASGI app that answers every POST with 200 ``{}`` — after ``--delay`` seconds
    on paths under ``/slow`` — and counts what it got: ``GET /stats`` gives the count and
    the wall-clock time of the first and last request; ``POST /reset`` starts over.

Run: ``python benchmarks/_servers.py baseline --port 8001 --database-url sqlite:///x.db
--secret S`` or ``python benchmarks/_servers.py receiver --port 8002 [--delay 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from litestar import Litestar, Request, Response, get, post
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

from hookplane.state.db import WRITE_OPTION, make_engine


def baseline_app(database_url: str, secret: str, root: Path) -> Any:
    engine = make_engine(database_url, root=root)
    metadata = MetaData()
    events = Table("events", metadata, Column("id", Integer, primary_key=True,
                                              autoincrement=True),
                   Column("body", Text, nullable=False))
    metadata.create_all(engine)
    key = secret.encode()

    def store(body: str) -> None:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                conn.execute(insert(events).values(body=body))

    @post("/ingest", status_code=202)
    async def ingest(request: Request[Any, Any, Any]) -> Response[Any]:
        body = await request.body()
        given = request.headers.get("x-signature", "")
        expected = hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return Response({"error": "bad signature"}, status_code=401)
        await anyio.to_thread.run_sync(store, body.decode())
        return Response({"status": "accepted"}, status_code=202)

    @get("/healthz", sync_to_thread=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(route_handlers=[ingest, healthz], debug=False)


class Receiver:
    """Raw ASGI: no framework between the socket and the answer."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.count = 0
        self.first: float | None = None
        self.last: float | None = None
        self.latencies: list[tuple[float, float]] = []
        """``/lat/…`` deliveries: (when the record was written, seconds until it arrived)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more, chunks = True, []
        while more:  # drain the body
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        path, method = scope["path"], scope["method"]
        body = b"{}"
        if method == "GET" and path == "/stats":
            body = json.dumps({"count": self.count, "first": self.first,
                               "last": self.last}).encode()
        elif method == "GET" and path == "/latencies":
            body = json.dumps(self.latencies).encode()
        elif method == "POST" and path.startswith("/lat/"):
            sent = json.loads(b"".join(chunks))["record"]["data"]["sent"]
            self.latencies.append((sent, time.time() - sent))
        elif method == "GET" and path == "/healthz":
            body = b'{"status":"ok"}'
        elif method == "POST" and path == "/reset":
            self.count, self.first, self.last = 0, None, None
            self.latencies = []
        else:
            if path.startswith("/slow"):
                await asyncio.sleep(self.delay)
            now = time.time()
            self.count += 1
            if self.first is None:
                self.first = now
            self.last = now
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def serve_baseline(args: argparse.Namespace, sock: Any = None, built: Any = None) -> None:
    """The baseline under Hookplane's uvicorn settings; on ``sock`` when given (one of
    several processes, like ``hookplane serve --processes``)."""
    from hookplane.runtime.app import server_config

    app = baseline_app(args.database_url, args.secret, Path(args.root))
    if built is not None:
        built()
    config = server_config(app, host="127.0.0.1", port=args.port, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["baseline", "receiver"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--secret", default="")
    parser.add_argument("--root", default=".")
    parser.add_argument("--delay", type=float, default=5.0)
    parser.add_argument("--processes", type=int, default=1,
                        help="baseline: server processes on the port (as hookplane serve "
                             "--processes)")
    args = parser.parse_args()
    if args.kind == "baseline":
        if args.processes > 1:
            from hookplane.runtime.processes import supervise

            return supervise(serve_baseline, (args,), host="127.0.0.1", port=args.port,
                             processes=args.processes)
        serve_baseline(args)
        return 0
    else:
        config = uvicorn.Config(Receiver(args.delay), host="127.0.0.1", port=args.port,
                                log_level="warning", access_log=False, lifespan="on",
                                limit_concurrency=4096, backlog=4096)
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
