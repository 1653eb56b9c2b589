"""Slow-client attacks against ingest, over raw sockets to the runtime served with
``hookplane serve``'s own uvicorn settings (``server_config``):

- a body trickled one byte at a time is cut off with 408 after the ingest body deadline;
- request heads trickled one byte at a time (slowloris) and connections that never send a
  byte are closed by the server at the request-head deadline (uvicorn has no setting for
  that: ``server_config`` installs ``runtime/protocol.py``'s ``HeadDeadlineProtocol``);
- meanwhile, legitimate deliveries keep being served.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn

import hookplane.runtime.ingest as ingest
from hookplane.runtime.app import server_config
from tests.hardening.figures import record
from tests.hardening.support import Runtime, signed_headers
from tests.integration.runtime.harness import free_port

pytestmark = pytest.mark.parametrize("rt", ["sqlite"], indirect=True)

BODY_SECONDS = 1.0
HEAD_SECONDS = 2.0
"""The request-head deadline this suite expects (and the prototype uses)."""
IDLE = 40
"""Connections opened and left idle (or trickling) during a test."""


def _port(rt_url: str) -> int:
    return int(rt_url.rsplit(":", 1)[1])


def _closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Trickle ``trickle`` one byte per 0.2 s (then wait); the seconds until the server
    closed the connection, or None if it was still open after ``seconds``."""
    started = time.monotonic()
    sock.settimeout(0.2)
    position = 0
    while time.monotonic() - started < seconds:
        try:
            if position < len(trickle):
                sock.send(trickle[position:position + 1])
                position += 1
            data = sock.recv(65536)
            if data == b"" or data.startswith(b"HTTP/1.1 4"):
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


@pytest.fixture
def fast_body_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "BODY_SECONDS", BODY_SECONDS)


def _slow_body_request(rt: Runtime) -> bytes:
    body = json.dumps({"title": "slow", "severity": "p1"}).encode()
    headers = signed_headers(rt, "plain", body)
    head = (f"POST {rt.ingest_path('plain')} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    return head + body


def test_slow_body_is_cut_off_with_408(rt: Runtime, fast_body_deadline: None) -> None:
    request = _slow_body_request(rt)
    head, _, body = request.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", _port(rt.server.url)), timeout=5) as sock:
        sock.sendall(head + b"\r\n\r\n")
        started = time.monotonic()
        answer = b""
        sock.settimeout(0.2)
        for byte in body:
            try:
                sock.send(bytes([byte]))
                answer += sock.recv(65536)
            except TimeoutError:
                pass
            except OSError:
                break
            if answer:
                break
            time.sleep(0.3)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert elapsed < BODY_SECONDS + 2, elapsed
    # the same delivery sent at a normal pace is accepted
    response = rt.http.post(rt.ingest_path("plain"), content=body,
                            headers={"Content-Type": "application/json",
                                     **signed_headers(rt, "plain", body)})
    assert response.status_code == 201, response.text
    record("faults", "slow body on ingest (1 byte / 0.3 s)", accepted=1, delivered=1,
           cut_off_after_seconds=round(elapsed, 2), body_deadline_seconds=BODY_SECONDS,
           result="408 at the body deadline; the same delivery at normal pace: 201")


def _slowloris(port: int, n: int, seconds: float) -> tuple[list[float | None],
                                                           list[float | None], int]:
    """``n`` idle connections and ``n`` trickling request heads, with legitimate requests
    in between; returns when each was closed and how many legitimate requests succeeded."""
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
    head = b"POST /inbound/preview/x/ingest HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200
    closed_idle: list[float | None] = [None] * n
    closed_slow: list[float | None] = [None] * n
    served = 0

    def watch(index: int) -> None:
        closed_idle[index] = _closed_within(idle[index], seconds)

    def trickle(index: int) -> None:
        closed_slow[index] = _closed_within(slow[index], seconds, head)

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(n)]
    threads += [threading.Thread(target=trickle, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if sock.recv(65536).startswith(b"HTTP/1.1 200"):
                served += 1
        time.sleep(0.5)
    for thread in threads:
        thread.join()
    for sock in idle + slow:
        sock.close()
    return closed_idle, closed_slow, served


def _check_slowloris(closed_idle: list[float | None], closed_slow: list[float | None],
                     served: int) -> None:
    assert served > 0
    assert all(t is not None for t in closed_idle), \
        f"{sum(t is None for t in closed_idle)} idle connections still open"
    assert all(t is not None for t in closed_slow), \
        f"{sum(t is None for t in closed_slow)} trickling request heads still open"


def _serve(app: Any, **options: Any) -> tuple[uvicorn.Server, threading.Thread, int]:
    """The application under ``hookplane serve``'s own uvicorn settings on a new port."""
    listen = free_port()
    config = server_config(app, host="127.0.0.1", port=listen, log_level="warning", **options)
    config.lifespan = "off"  # the fixture's server already runs the background workers
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    return server, thread, listen


def test_slow_request_heads_are_closed_by_the_server(rt: Runtime) -> None:
    """Idle connections and heads trickled one byte per 0.2 s are closed at the head
    deadline, while legitimate requests keep being served."""
    server, thread, listen = _serve(rt.server.server.config.app, head_seconds=HEAD_SECONDS)
    try:
        closed_idle, closed_slow, served = _slowloris(listen, IDLE, HEAD_SECONDS + 3)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    still_open = sum(t is None for t in closed_idle + closed_slow)
    closed = [t for t in closed_idle + closed_slow if t is not None]
    slowest = max(closed) if closed else None
    record("faults", "slowloris: idle and trickling request heads",
           connections=2 * IDLE, closed=2 * IDLE - still_open, still_open=still_open,
           head_deadline_seconds=HEAD_SECONDS,
           slowest_close_seconds=round(slowest, 2) if slowest is not None else "—",
           legitimate_requests_served=served,
           result="closed at the head deadline; legitimate requests served meanwhile"
           if not still_open else "FAILED: connections held open")
    _check_slowloris(closed_idle, closed_slow, served)
    assert slowest is not None and slowest < HEAD_SECONDS + 1.5, slowest


def _read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response: the head, then Content-Length bytes of body (one recv
    may return a part of it, or the head alone)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_head_deadline_spares_kept_alive_connections(rt: Runtime) -> None:
    """A client that sends whole requests on one kept-alive connection, pausing between them
    for longer than the head deadline but within the keep-alive timeout, is not cut off:
    the deadline runs from a request's first byte, not from the connection's opening."""
    server, thread, listen = _serve(rt.server.server.config.app, head_seconds=1.0)
    try:
        with socket.create_connection(("127.0.0.1", listen), timeout=5) as sock:
            for _ in range(3):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                answer = _read_response(sock)  # however the kernel splits it
                assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
                time.sleep(1.5)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
