"""Credentials people type or scripts send: the admin token's strength, and slowing down
whoever keeps sending wrong ones.

- :func:`check_admin_token` refuses a weak ``HOOKPLANE_ADMIN_TOKEN`` at start-up: at least
  :data:`MIN_TOKEN_LENGTH` characters, at least :data:`MIN_DISTINCT` different ones (so
  ``aaaa…`` or ``12121212…`` do not pass). ``openssl rand -hex 32`` gives 64.
- :class:`FailedAuth` counts wrong credentials (admin API, console sign-in, records API
  keys) per client — an IPv4 address, an IPv6 /64 (one host can rotate through its /64
  freely). After :data:`FREE_FAILURES` failures within :data:`WINDOW_SECONDS`, the client is
  refused with 429 and ``Retry-After`` *without its credential being checked* for a back-off
  that doubles with every further failure (1 s, 2 s, 4 s … at most :data:`MAX_BACKOFF`
  seconds). A success clears its record. Other clients are never affected: an attacker
  elsewhere cannot lock the operator out. Memory is bounded (:data:`MAX_CLIENTS`, oldest
  forgotten first); the start of each block is logged once.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from hookplane.errors import WeakTokenError

__all__ = ["FREE_FAILURES", "MAX_BACKOFF", "MIN_TOKEN_LENGTH", "FailedAuth", "WeakTokenError",
           "check_admin_token", "client_key"]

log = logging.getLogger("hookplane.runtime.auth")

MIN_TOKEN_LENGTH = 24
MIN_DISTINCT = 8
FREE_FAILURES = 5
WINDOW_SECONDS = 300.0
MAX_BACKOFF = 900.0
MAX_CLIENTS = 10_000


def check_admin_token(token: str | None) -> None:
    """Raise :class:`WeakTokenError` for a weak admin token (never showing it)."""
    if not token:
        return
    if len(token) < MIN_TOKEN_LENGTH or len(set(token)) < MIN_DISTINCT:
        raise WeakTokenError(
            f"HOOKPLANE_ADMIN_TOKEN is too weak: it needs at least {MIN_TOKEN_LENGTH} "
            f"characters, at least {MIN_DISTINCT} of them different (it has {len(token)}, "
            f"{len(set(token))} different). Make one with: openssl rand -hex 32")


def client_key(address: str | None) -> str:
    """Whom failures are counted for: the IPv4 address, or the IPv6 /64."""
    try:
        parsed = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return address or "unknown"
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


@dataclass
class _Record:
    failures: int
    first: float
    blocked_until: float


class FailedAuth:
    """Per-client failure counts and back-off (thread-safe; one per runtime process)."""

    def __init__(self, *, free: int = FREE_FAILURES, window: float = WINDOW_SECONDS,
                 max_backoff: float = MAX_BACKOFF, max_clients: int = MAX_CLIENTS) -> None:
        self._free = free
        self._window = window
        self._max_backoff = max_backoff
        self._max_clients = max_clients
        self._records: OrderedDict[str, _Record] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, address: str | None, *, now: float | None = None) -> int | None:
        """Seconds the client must wait before its credential is checked again, or None."""
        at = time.monotonic() if now is None else now
        with self._lock:
            record = self._records.get(client_key(address))
            if record is None or record.blocked_until <= at:
                return None
            return max(1, int(record.blocked_until - at + 0.999))

    def failed(self, address: str | None, surface: str, *, now: float | None = None) -> None:
        """Count a wrong credential from ``address`` (``surface``: what was tried, for the
        log line)."""
        at = time.monotonic() if now is None else now
        key = client_key(address)
        with self._lock:
            record = self._records.pop(key, None)
            if record is None or (at - record.first > self._window and record.blocked_until < at):
                record = _Record(0, at, 0.0)
            record.failures += 1
            excess = record.failures - self._free
            if excess > 0:
                backoff = min(self._max_backoff, 2.0 ** (excess - 1))
                starts = record.blocked_until <= at
                record.blocked_until = at + backoff
                if starts and excess == 1:
                    log.warning("%d wrong credentials for the %s from %s within %gs: it waits "
                                "%gs, then longer with every further failure",
                                record.failures, surface, key, self._window, backoff)
            self._records[key] = record
            while len(self._records) > self._max_clients:
                self._records.popitem(last=False)

    def succeeded(self, address: str | None) -> None:
        with self._lock:
            self._records.pop(client_key(address), None)
