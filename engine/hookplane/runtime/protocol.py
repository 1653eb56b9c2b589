"""uvicorn's HTTP/1.1 protocol with a request-head deadline (slowloris protection).

uvicorn bounds a request's *body* only through the application (the ingest body deadline) and
the idle time *between* keep-alive requests (``timeout_keep_alive``); it has no limit on how
long a client may take to send a request *head*. A client that opens connections and trickles
header bytes (slowloris), or never sends a byte, holds a connection slot for as long as it
likes until ``limit_concurrency`` is exhausted and legitimate deliveries get 503s.

``head_deadline_protocol(seconds)`` returns a protocol class for ``uvicorn.Config(http=…)``:
each connection must complete a request head within ``seconds`` of opening (or of the first
byte of a further request on a kept-alive connection), or the server closes it. Requests whose
heads arrive in time are untouched.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

DEFAULT_HEAD_SECONDS = 10.0
"""Long enough for any real sender on a slow link (a request head is a few hundred bytes)."""


class HeadDeadlineProtocol(HttpToolsProtocol):
    """httptools protocol that closes connections whose request head is not complete in
    ``head_seconds``."""

    head_seconds: float = DEFAULT_HEAD_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._arm()

    def on_message_begin(self) -> None:
        self._arm()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_seconds, self._head_timeout)

    def _disarm(self) -> None:
        timer: asyncio.TimerHandle | None = getattr(self, "_head_timer", None)
        if timer is not None:
            timer.cancel()
        self._head_timer = None

    def _head_timeout(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.debug("closing a connection whose request head took over %.1f s",
                              self.head_seconds)
            self.transport.close()


def head_deadline_protocol(seconds: float = DEFAULT_HEAD_SECONDS) -> type[HeadDeadlineProtocol]:
    """A protocol class for ``uvicorn.Config(http=…)`` with a ``seconds`` head deadline."""
    if not seconds > 0:
        raise ValueError(f"the request-head deadline must be positive, got {seconds!r}")
    attributes: dict[str, Any] = {"head_seconds": float(seconds)}
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), attributes)
