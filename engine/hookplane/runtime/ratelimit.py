"""Per-client token buckets for inbound webhooks (default 30 requests a minute per client:
an IPv4 address, an IPv6 network of ``rate_limit.ipv6_prefix`` bits, /64 by default).

Ingest keeps two buckets per client and webhook, each with the webhook's limit: deliveries
that verify spend the first, deliveries that fail verification the second — so forged
requests from an address a legitimate sender shares (a NAT, a cloud egress) cannot use up the
sender's budget. A client over its verified budget is refused before its body is read.

A bucket holds ``requests`` tokens and refills at ``requests / per_seconds`` tokens a second,
so a sender may burst up to the limit and is then paced. The table is bounded: idle buckets
(full again) are dropped, and at most ``max_keys`` buckets are kept (the oldest go first), so
a flood of spoofed addresses cannot grow memory without bound.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int
    """Whole seconds until one token is available again (0 when allowed)."""


class RateLimiter:
    def __init__(self, *, max_keys: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def peek(self, scope: str, client: str, *, requests: int, per_seconds: float) -> Decision:
        """Whether ``(scope, client)``'s bucket has a token, without taking it."""
        bucket = self._buckets.get((scope, client))
        if bucket is None:
            return Decision(True, 0)
        rate = requests / per_seconds
        tokens = min(float(requests), bucket.tokens + (self._clock() - bucket.updated) * rate)
        if tokens >= 1.0:
            return Decision(True, 0)
        return Decision(False, max(1, math.ceil((1.0 - tokens) / rate)))

    def check(self, scope: str, client: str, *, requests: int, per_seconds: float) -> Decision:
        """Take one token from ``(scope, client)``'s bucket if there is one."""
        now = self._clock()
        rate = requests / per_seconds
        key = (scope, client)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(requests), updated=now)
            self._buckets[key] = bucket
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(float(requests), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Decision(True, 0)
        return Decision(False, max(1, math.ceil((1.0 - bucket.tokens) / rate)))

    def __len__(self) -> int:
        return len(self._buckets)
