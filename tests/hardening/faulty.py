"""A receiver that misbehaves on purpose, at the TCP level, chosen by the request path:

- ``/hang``: reads the request and never answers;
- ``/reset``: reads the request and resets the connection (RST, no answer);
- ``/drip``: answers 200 with a 1 KiB body sent one byte every 0.2 s;
- ``/huge``: answers 200 with a 10 MB body as fast as the client reads it;
- anything else: answers 200 ``{"ok": true}`` at once.

Every request is recorded (path, headers, body); for ``/huge`` the bytes the client actually
accepted are counted, which shows whether it stopped reading.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

HUGE_BYTES = 10 * 1024 * 1024


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class FaultyReceiver:
    seen: list[Received] = field(default_factory=list)
    huge_sent: list[int] = field(default_factory=list)
    port: int = 0

    def start(self) -> FaultyReceiver:
        self._stop = threading.Event()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(512)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _read_request(self, conn: socket.socket) -> Received | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return Received(lines[0].split(" ")[1], headers, body, time.monotonic())

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            conn.settimeout(30)
            try:
                request = self._read_request(conn)
            except OSError:
                return
            if request is None:
                return
            self.seen.append(request)
            with contextlib.suppress(OSError):  # the client gave up: what these routes test
                self._answer(conn, request.path)

    def _answer(self, conn: socket.socket, path: str) -> None:
        if path.startswith("/hang"):
            while not self._stop.is_set():
                if conn.recv(1024) == b"":  # wait until the client closes
                    return
        elif path.startswith("/reset"):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif path.startswith("/drip"):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1024\r\n\r\n")
            for _ in range(1024):
                if self._stop.is_set():
                    return
                conn.sendall(b" ")
                time.sleep(0.2)
        elif path.startswith("/huge"):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                         + f"Content-Length: {HUGE_BYTES}\r\n\r\n".encode())
            sent = 0
            chunk = b"x" * 65536
            try:
                while sent < HUGE_BYTES:
                    sent += conn.send(chunk[: HUGE_BYTES - sent])
            finally:
                self.huge_sent.append(sent)
        else:
            body = b'{"ok": true}'
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                         + body)
