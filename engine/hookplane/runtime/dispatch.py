"""The dispatcher: sends outbox rows, records every attempt, retries, dead-letters.

A pool of at most ``concurrency`` deliveries in flight per process (one slow receiver holds
one slot, never the others). Rows are claimed with a lease (``SELECT … FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so replicas never send the same row at once); a row whose worker
died is claimed again when its lease runs out, so delivery is at-least-once and the
``webhook-id`` (the outbox row id) stays the same across attempts and workers. The lease is
at least the longest trigger timeout plus a margin, and every attempt is bounded by its
trigger's ``timeout`` as a whole (connect, send, answer), so a live worker never loses a row
it is still sending. With a backlog, up to ``CLAIM_AHEAD_ROUNDS`` rows per slot are claimed
ahead (big claims cost the database much less per row), but only as many rounds as can wait
for a slot and finish within the same one lease; a row whose lease would end before its
attempt could is handed back unsent. So a worker that dies holds no row — sent or not —
longer than one lease: that is the recovery bound.

Each attempt:

- reads the trigger (and, for ``external_write``, the source) from the applied
  configuration: URL, headers, timeout and signing secrets are never stored in the outbox
  (see :mod:`hookplane.runtime.fanout`). A trigger deleted or deactivated since the row was
  queued fails the delivery with a clear error, without sending;
- signs the stored body with every valid secret of the trigger (two during a rotation grace
  period): ``X-Hookplane-Signature`` and the Standard Webhooks headers, ``webhook-id`` = the
  row id; configured headers cannot override them;
- sends through the runtime's one :class:`~hookplane.runtime.egress.Sender` (the
  egress-guarded :class:`~hookplane.runtime.egress.GuardedSender`; no redirects; the
  response body read is capped); error texts name the destination by scheme, host and
  port only — never the path, which often is the secret;
- is recorded (status, latency, error, response excerpt) with ``record_attempt``; under
  :meth:`Dispatcher.run_forever` attempts that finish while the previous ones are being
  written share one transaction (``record_attempts`` through the group-commit engine of
  :mod:`hookplane.runtime.batch`, the one ingest uses too); a slot is free
  again once its attempt is queued for that commit (at most ``UNRECORDED_PER_SLOT`` per slot
  wait; a crash re-sends them, with the same webhook-id, when their lease ends).

Outcomes: 2xx delivered. 429, 408, 5xx, timeouts and connection errors are retried when the
trigger has a ``retry`` policy and attempts are left — exponential (or fixed) backoff with
jitter, never sooner than ``Retry-After`` (seconds or an HTTP date, capped by
``max_seconds``). Other answers (4xx, an unfollowed 3xx), a refused destination
(:class:`~hookplane.runtime.egress.EgressRefused`) and configuration problems are final.
A delivery that ends failed is a dead letter (``hookplane triggers redeliver``) and queues the
``delivery.failed`` system event for the triggers subscribed to it — in the same transaction —
except for failed ``delivery.failed`` deliveries themselves (no cascades).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final

import anyio
import anyio.to_thread
from multidict import CIMultiDict

from hookplane.config.models import SYSTEM_EVENTS
from hookplane.errors import (
    DeliveryError,
    EgressError,
    HookplaneError,
    StateError,
    TriggerNotFound,
)
from hookplane.mapping import record_event_context, render_value, system_event_context
from hookplane.runtime.batch import GroupCommit
from hookplane.runtime.egress import USER_AGENT, Sender, safe_destination
from hookplane.runtime.fanout import (
    JSON_CONTENT_TYPE,
    PAYLOAD_VERSION,
    dump_json,
    record_json,
    system_event_items,
)
from hookplane.runtime.ingest import DEDUP_WINDOW_SECONDS
from hookplane.runtime.jobs import backoff_seconds
from hookplane.runtime.metrics import Metrics
from hookplane.runtime.registry import LEASE_MARGIN, EnvironmentView, Registry, TriggerView
from hookplane.runtime.signing import sign
from hookplane.runtime.tracing import OFF, Tracing
from hookplane.runtime.verify import SENSITIVE_HEADERS
from hookplane.state.runtime import (
    MASKED,
    AttemptOutcome,
    OutboxItem,
    OutboxRow,
    Record,
    RuntimeStore,
    new_outbox_id,
)

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "RETENTION_VAR",
    "USER_AGENT",
    "AttemptResult",
    "Dispatcher",
    "TriggerNotFound",
    "default_worker_name",
    "parse_retry_after",
    "retention_days_from_env",
]

log = logging.getLogger("hookplane.runtime.dispatch")

RETENTION_VAR: Final = "HOOKPLANE_DELIVERY_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS: Final = 30.0
RESPONSE_CAP: Final = 64 * 1024
MAX_TRIGGER_PAUSE: Final = 3600.0
"""The longest ``Retry-After`` honoured for a whole trigger (a day-long ask is capped)."""
UNRECORDED_PER_SLOT: Final = 4
"""Sent attempts per delivery slot that may wait for the recorder's next commit."""
CLAIM_AHEAD_ROUNDS: Final = 4
SLOW_ATTEMPT: Final = 1.0
"""Seconds after which an attempt in flight marks its trigger's endpoint as slow."""
SUSPECT_SECONDS: Final = 30.0
"""How long a trigger whose last attempt was slow stays limited to its share of slots."""
SHARE_DIVISOR: Final = 4
"""A slow trigger holds at most ``concurrency // SHARE_DIVISOR`` slots (>= 1)."""
MAX_SKIPPED_TRIGGERS: Final = 500
"""At most this many waiting triggers are left out of a claim by id (beyond, their rows are
claimed and handed back as before: the statement's parameters stay bounded)."""
BREAKER_RECHECK: Final = 2.0
"""Seconds a worker remembers an open breaker before asking the database again (another
replica's re-enable is seen within this)."""
"""With a backlog, rows claimed ahead per delivery slot: a claim of 16 rows costs the
database about half the CPU per row of a claim of 8 (SQLAlchemy on SQLite, 0.11 vs 0.25 ms)."""
PURGE_EVERY: Final = 3600.0
"""Retention runs hourly in every dispatcher, first when it starts (docs/runtime.md)."""
_EXCERPT_CHARS: Final = 2048
_RETRYABLE_STATUS: Final = frozenset({408, 429})


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to (what the delivery log records)."""

    status_code: int | None
    success: bool
    latency_ms: float | None
    error: str | None
    response_excerpt: str | None
    retryable: bool = False
    retry_after: float | None = None
    """Seconds the receiver asked us to wait (``Retry-After``), if it did."""
    request_headers: Mapping[str, str] | None = None
    """As sent, every credential masked (see :meth:`_Request.shown_headers`)."""
    response_headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    url: str
    headers: CIMultiDict[str]
    body: bytes
    timeout: float
    masked: frozenset[str] = frozenset()
    """Lower-case names whose values are ``${env:…}`` secrets."""

    def shown_headers(self) -> dict[str, str]:
        """The headers for the delivery log: a value from ``${env:…}`` or of a credential
        header (Authorization, Cookie, X-Api-Key, …) is masked; signatures are shown (an
        HMAC does not reveal its key, and a receiver's mismatch is debugged with it)."""
        hidden = self.masked | SENSITIVE_HEADERS
        return {name: MASKED if name.lower() in hidden else value
                for name, value in self.headers.items()}


@dataclass(frozen=True)
class _Retry:
    backoff: str = "exponential"
    initial_seconds: float = 1.0
    max_seconds: float = 300.0
    jitter: bool = True

    @classmethod
    def of(cls, value: Any) -> _Retry:
        if not isinstance(value, dict):
            return cls()
        return cls(backoff=str(value.get("backoff", "exponential")),
                   initial_seconds=float(value.get("initial_seconds", 1.0)),
                   max_seconds=float(value.get("max_seconds", 300.0)),
                   jitter=bool(value.get("jitter", True)))

    def delay(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt`` (1-based)."""
        exponent = 1 if self.backoff == "fixed" else attempt
        maximum = self.initial_seconds if self.backoff == "fixed" else self.max_seconds
        if self.jitter:
            return backoff_seconds(exponent, initial=self.initial_seconds, maximum=maximum)
        return float(min(maximum, self.initial_seconds * 2.0 ** max(0, exponent - 1)))


class _Wake:
    """A resettable wake-up flag for the claim loop (an ``anyio.Event`` made on first
    use, inside the event loop)."""

    def __init__(self) -> None:
        self._event: anyio.Event | None = None
        self._set = False

    def set(self) -> None:
        self._set = True
        if self._event is not None:
            self._event.set()

    async def wait(self) -> None:
        if self._set:
            return
        if self._event is None:
            self._event = anyio.Event()
        await self._event.wait()


class _NotSent(Exception):
    """The delivery cannot be sent (configuration changed, unreadable row): final."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now``: delay-seconds or an HTTP date (RFC 9110).

    None when absent or unreadable; a date in the past is 0.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    seconds = (when - current).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retention_days_from_env(environ: Mapping[str, str] | None = None) -> float | None:
    """Days to keep finished deliveries (``HOOKPLANE_DELIVERY_RETENTION_DAYS``).

    Unset: :data:`DEFAULT_RETENTION_DAYS`; ``0`` keeps them forever (None).
    """
    env = os.environ if environ is None else environ
    text = env.get(RETENTION_VAR, "").strip()
    if not text:
        return DEFAULT_RETENTION_DAYS
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not math.isfinite(days) or days < 0:
        raise DeliveryError(f"{RETENTION_VAR}: '{text}' is not a number of days (e.g. 30; 0 "
                            "keeps the delivery history forever)")
    return days or None


def default_worker_name() -> str:
    """A worker name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(UTC)


def _excerpt(data: bytes) -> str | None:
    if not data:
        return None
    return data[: _EXCERPT_CHARS * 4].decode("utf-8", "replace")[:_EXCERPT_CHARS]


class Dispatcher:
    """Sends the outbox. One per process (``worker`` unique per process)."""

    def __init__(self, registry: Registry, store: RuntimeStore,
                 sender: Sender, metrics: Metrics, *, worker: str,
                 concurrency: int = 8,
                 lease_seconds: float = 60.0, response_cap: int = RESPONSE_CAP,
                 poll_interval: float = 0.2,
                 retention_days: float | None = DEFAULT_RETENTION_DAYS,
                 slow_attempt: float = SLOW_ATTEMPT, lease_margin: float = LEASE_MARGIN,
                 purge_every: float = PURGE_EVERY,
                 tracing: Tracing = OFF) -> None:
        """``poll_interval``: seconds between looks for due rows when nothing wakes the
        loop; ``slow_attempt``: seconds after which an attempt in flight marks its trigger
        as slow (:data:`SLOW_ATTEMPT`); ``lease_margin``: seconds a claim's lease outlives
        the longest trigger timeout (:data:`~hookplane.runtime.registry.LEASE_MARGIN`).
        The defaults are what ``hookplane serve`` uses; tests pass smaller values to run
        quicker."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if lease_seconds <= 0 or response_cap < 1 or poll_interval <= 0 or slow_attempt <= 0 \
                or lease_margin <= 0 or purge_every <= 0:
            raise ValueError("lease_seconds, response_cap, poll_interval, slow_attempt, "
                             "lease_margin and purge_every must be positive")
        self.registry = registry
        self.store = store
        self.sender = sender
        self.metrics = metrics
        self.tracing = tracing
        self.worker = worker
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self._paused: dict[str, datetime] = {}
        """Trigger id -> until when its receiver asked it to wait (429/503 + Retry-After):
        rows of it claimed ahead are handed back for then instead of being sent."""
        self._held: dict[str, tuple[float, datetime]] = {}
        """Trigger id -> (until when, monotonic, this worker trusts it, when it opens) of an
        open circuit breaker: rows claimed meanwhile go back in one batch, without a slot."""
        self._inflight: dict[str, list[float]] = {}
        """Trigger id -> start (monotonic) of each of its attempts in flight."""
        self._suspect: dict[str, float] = {}
        """Trigger id -> until when (monotonic) it is limited to its share of slots: its
        last attempt was slow. A dead or slow endpoint cannot take every slot."""
        self.response_cap = response_cap
        self.poll_interval = poll_interval
        self.slow_attempt = slow_attempt
        self.lease_margin = lease_margin
        self.retention_days = retention_days
        self.purge_every = purge_every
        """Seconds between two runs of :meth:`purge` (the first at start)."""
        self._busy = 0
        self._unrecorded = anyio.Semaphore(UNRECORDED_PER_SLOT * concurrency)
        self._wake = _Wake()
        self._recorder: GroupCommit[AttemptOutcome, bool] | None = None
        self._writes: anyio.CapacityLimiter | None = None

    # -- the loop ---------------------------------------------------------------------------

    def notify(self, trigger_ids: Collection[str] | None = None) -> None:
        """Look for new rows now instead of at the next poll (e.g. right after a write).
        ``trigger_ids``: the triggers that got new rows, when known; if every one of them
        must wait anyway (paused, breaker open, or slow and holding its share of slots),
        nothing is looked for: their rows wait in the table, and a slot of theirs that frees
        up looks again. Call it from the dispatcher's event loop."""
        if trigger_ids and all(self._waits_until(trigger_id) is not None
                               for trigger_id in trigger_ids):
            return
        self._wake.set()

    async def run_forever(self) -> None:
        """Claim and send until cancelled; at most ``concurrency`` deliveries at a time."""
        next_purge = time.monotonic()
        # claims and attempt records take turns in one thread: on SQLite, two write
        # transactions of this process would otherwise wait for each other in the busy
        # handler's sleeps
        writes = anyio.CapacityLimiter(1)
        self._writes = writes
        # attempts that finish while others are being recorded share their commit
        recorder: GroupCommit[AttemptOutcome, bool] = GroupCommit(
            functools.partial(self.store.record_attempts, worker=self.worker),
            limiter=writes)
        ready: deque[tuple[OutboxRow, float]] = deque()  # with its lease's end (monotonic)
        try:
            async with anyio.create_task_group() as group:
                self._recorder = recorder
                backlog = False
                while True:
                    if time.monotonic() >= next_purge:
                        next_purge = time.monotonic() + self.purge_every
                        group.start_soon(self._purge_quietly)
                    timeout = self._longest_timeout()
                    attempt_seconds = timeout + self.lease_margin
                    stale: list[str] = []
                    waiting: dict[datetime, list[str]] = {}
                    while ready and self._busy < self.concurrency:
                        row, lease_ends = ready.popleft()
                        if lease_ends - time.monotonic() < timeout + 1.0:
                            stale.append(row.id)  # could not finish within its lease
                            continue
                        until = self._waits_until(row.trigger_id)
                        if until is not None:
                            waiting.setdefault(until, []).append(row.id)  # claimed ahead
                            continue
                        self._busy += 1
                        started = time.monotonic()
                        self._inflight.setdefault(row.trigger_id, []).append(started)
                        group.start_soon(self._slot, row, started)
                    if stale:
                        group.start_soon(self._release, stale)
                    for until, ids in waiting.items():
                        group.start_soon(functools.partial(self._release, ids,
                                                           not_before=until))
                    free = self.concurrency - self._busy
                    # with a backlog, keep rows claimed ahead (topped up when half are gone,
                    # so claims come in batches): a slot that frees up starts its next
                    # delivery without waiting for a claim. Every claim has the same one
                    # lease, so a worker that dies holds no row longer than one lease: only
                    # as many rounds are claimed ahead as can start and finish within it
                    target = self._rounds_ahead(attempt_seconds) * self.concurrency
                    ahead = (target - len(ready)
                             if backlog and target and len(ready) <= target // 2 else 0)
                    if free > 0 or ahead > 0:
                        lease = self._lease()
                        claimed = await self._claim(free + ahead)
                        backlog = len(claimed) == free + ahead
                        lease_ends = time.monotonic() + lease
                        ready.extend((row, lease_ends) for row in claimed)
                        if ready and self._busy < self.concurrency:
                            continue  # start them now
                    # the queue is drained or every slot is busy: wait for a slot, a notify()
                    # or the next poll
                    with anyio.move_on_after(self.poll_interval):
                        await self._wake.wait()
                    self._wake = _Wake()
        finally:  # deliver() outside run_forever records on its own again
            self._recorder = None
            self._writes = None
            if ready:  # claimed ahead, never sent: due again now, not when the lease ends
                with anyio.CancelScope(shield=True):
                    await self._release([row.id for row, _ in ready])

    def _waits_until(self, trigger_id: str) -> datetime | None:
        """When a row of ``trigger_id`` claimed now should be handed back for, instead of
        taking a slot: its receiver asked for a pause, its breaker is open, or it is slow
        and already holds its share of slots (then it waits a moment, while the
        other triggers' rows go first). None: send it now."""
        now = _now()
        paused = self._paused.get(trigger_id)
        if paused is not None and paused > now:
            return paused
        held = self._held.get(trigger_id)
        if held is not None:
            trusted = held[0] - time.monotonic()
            if trusted > 0 and held[1] > now:  # back when this worker would ask again
                return min(held[1], now + timedelta(seconds=trusted))
            del self._held[trigger_id]
        flying = self._inflight.get(trigger_id)
        if not flying or len(flying) < max(1, self.concurrency // SHARE_DIVISOR):
            return None
        clock = time.monotonic()
        if self._suspect.get(trigger_id, 0.0) > clock or clock - min(flying) > self.slow_attempt:
            return now + timedelta(seconds=self.slow_attempt)
        return None

    def _waiting(self) -> list[str]:
        """The triggers whose rows must not be claimed now (see :meth:`_waits_until`): they
        stay in the table instead of being claimed and handed back on every wake-up — with a
        slow receiver and a steady stream of writes, that churn of claims and hand-backs
        took the database's write lock from the writes themselves."""
        known = {*self._paused, *self._held, *self._inflight}
        waiting = [trigger_id for trigger_id in known
                   if self._waits_until(trigger_id) is not None]
        return waiting if len(waiting) <= MAX_SKIPPED_TRIGGERS else []

    def _landed(self, trigger_id: str, started: float, result: AttemptResult | None) -> None:
        """An attempt of ``trigger_id`` begun at ``started`` is over: free its place, and
        remember a slow one (the trigger keeps to its share of slots a while)."""
        flying = self._inflight.get(trigger_id)
        if flying is not None:
            with contextlib.suppress(ValueError):
                flying.remove(started)
            if not flying:
                del self._inflight[trigger_id]
        if result is None:
            return
        now = time.monotonic()
        # what a slot costs is time: a slow attempt (a timeout, a hanging receiver) limits the
        # trigger; a quick one — a quick error too — frees it (a 500 now and then must not
        # halve a busy trigger's throughput)
        if now - started > self.slow_attempt:
            self._suspect[trigger_id] = now + SUSPECT_SECONDS
        else:
            self._suspect.pop(trigger_id, None)

    def resume(self, trigger_id: str) -> None:
        """The trigger was re-enabled here: forget its open breaker, send at once."""
        self._held.pop(trigger_id, None)
        self._suspect.pop(trigger_id, None)
        self.notify()

    async def _release(self, outbox_ids: list[str], *,
                       not_before: datetime | None = None) -> None:
        try:
            released = await anyio.to_thread.run_sync(lambda: self.store.release_outbox(
                outbox_ids, worker=self.worker, not_before=not_before))
        except StateError as exc:  # their lease ends in time: they are sent then
            log.warning("could not hand back %d unsent deliveries (%s); they are sent when "
                        "their lease ends", len(outbox_ids), exc)
        else:
            log.info("handed back %d claimed deliveries not sent", released)

    async def run_once(self) -> int:
        """Claim up to ``concurrency`` due rows, send them concurrently, wait for all;
        returns how many were handled."""
        rows = await self._claim(self.concurrency)
        if rows:
            async with anyio.create_task_group() as group:
                for row in rows:
                    group.start_soon(self.deliver, row)
        return len(rows)

    async def _slot(self, row: OutboxRow, started: float) -> None:
        """Send ``row``, then free the slot as soon as its attempt is queued for the next
        group commit: the next delivery does not wait for this one's bookkeeping. At most
        ``UNRECORDED_PER_SLOT`` × ``concurrency`` sent attempts wait to be recorded (a
        crash re-sends those rows when their lease ends, with the same webhook-id)."""
        released = False
        result: AttemptResult | None = None

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self._busy -= 1
                self._landed(row.trigger_id, started, result)
                self._wake.set()

        try:
            if await self._held_back(row):
                return
            result, attempt = await self._attempt(row)
            async with self._unrecorded:
                release()
                await self._record(row, attempt)
        finally:
            release()

    async def _in_store(self, call: Callable[[], Any]) -> Any:
        """A write of this worker's, taking turns with its claims and records."""
        if self._writes is not None:  # one write transaction of this process at a time
            async with self._writes:
                return await anyio.to_thread.run_sync(call)
        return await anyio.to_thread.run_sync(call)

    async def _held_back(self, row: OutboxRow) -> bool:
        """Not now: the trigger's circuit breaker is open (or it is disabled), or its rate
        limit is spent. The row is handed back for later (not an attempt, never dropped)."""
        view = self.registry.get(row.environment)
        trigger = _find_trigger(view, row) if view is not None else None
        breaker = trigger.spec.circuit_breaker if trigger is not None else None
        if breaker is not None:
            try:
                wait = await self._in_store(functools.partial(
                    self.store.breaker_gate, row.trigger_id, cooldown=breaker.cooldown))
            except StateError as exc:  # the database is away: the lease hands the row back
                log.warning("delivery %s: the circuit breaker could not be read (%s)",
                            row.id, exc)
                return True
            if wait is not None:
                # the rows of it claimed meanwhile go back in one batch, without a slot; for
                # a short while only, so another replica's re-enable is seen soon
                self._held[row.trigger_id] = (time.monotonic() + BREAKER_RECHECK, wait)
                await self._release([row.id], not_before=wait)
                return True
        return await self._over_budget(row)

    async def _breaker_after(self, row: OutboxRow, view: EnvironmentView | None,
                             result: AttemptResult) -> None:
        """Count the attempt on the trigger's circuit breaker; emit ``trigger.disabled``
        when it gives up on the endpoint."""
        trigger = _find_trigger(view, row) if view is not None else None
        breaker = trigger.spec.circuit_breaker if trigger is not None else None
        endpoint_failed = not result.success and (result.status_code is not None
                                                  or result.retryable)
        if view is None or breaker is None or not (result.success or endpoint_failed):
            return
        try:
            disabled = await self._in_store(functools.partial(
                self.store.breaker_outcome, row.trigger_id, success=result.success,
                failures=breaker.failures, cooldown=breaker.cooldown,
                disable_after=breaker.disable_after))
        except StateError as exc:
            log.warning("trigger '%s': the circuit breaker could not be updated (%s)",
                        row.trigger_name, exc)
            return
        if disabled is None:
            return
        log.warning("trigger '%s' disabled by its circuit breaker: %s", row.trigger_name,
                    disabled.reason)
        items = system_event_items(view, "trigger.disabled", {
            "trigger": row.trigger_name, "trigger_id": row.trigger_id,
            "reason": disabled.reason, "failing_since": disabled.failing_since,
            "disabled_at": disabled.disabled_at, "last_status_code": result.status_code,
            "last_error": result.error}, now=_now(),
            key=f"trigger.disabled/{row.trigger_id}/{disabled.disabled_at}")
        if items:
            await self._in_store(functools.partial(self.store.enqueue_outbox,
                                                   row.environment, items))

    async def _over_budget(self, row: OutboxRow) -> bool:
        """For a trigger with ``rate_limit``: spend one send of its shared budget, or hand
        the row back for the next window (True: not sent, nothing recorded, not an
        attempt)."""
        view = self.registry.get(row.environment)
        trigger = _find_trigger(view, row) if view is not None else None
        limit = trigger.spec.rate_limit if trigger is not None else None
        if limit is None:
            return False

        try:
            wait = await self._in_store(functools.partial(
                self.store.take_budget, row.trigger_id, limit=limit.deliveries,
                per_seconds=limit.per_seconds))
        except StateError as exc:  # the database is away: the lease hands the row back
            log.warning("delivery %s: the rate limit's budget could not be read (%s)",
                        row.id, exc)
            return True
        if wait is None:
            return False
        # the rest of this trigger's rows claimed ahead go back in one batch (the loop)
        self._paused[row.trigger_id] = max(wait, self._paused.get(row.trigger_id, wait))
        await self._release([row.id], not_before=wait)
        return True

    def _rounds_ahead(self, attempt_seconds: float) -> int:
        """Rounds of rows (``concurrency`` each) to keep claimed ahead: at most
        ``CLAIM_AHEAD_ROUNDS``, and only as many as can wait for a slot and still finish
        their own attempt within one lease (the round in flight counted)."""
        fits = int(self._lease() // attempt_seconds) - 1
        return max(0, min(CLAIM_AHEAD_ROUNDS, fits))

    async def _claim(self, limit: int) -> list[OutboxRow]:
        """Claim up to ``limit`` rows, each for one lease, none of a trigger that must wait."""
        lease = self._lease()
        skip = self._waiting()
        try:
            return await anyio.to_thread.run_sync(lambda: self.store.claim_outbox(
                worker=self.worker, limit=limit, lease_seconds=lease, skip_triggers=skip),
                limiter=self._writes)
        except HookplaneError:
            log.exception("could not claim deliveries; trying again shortly")
            return []

    def _lease(self) -> float:
        return max(self.lease_seconds, self._longest_timeout() + self.lease_margin)

    def _longest_timeout(self) -> float:
        longest = 0.0
        for name in self.registry.environments():
            view = self.registry.get(name)
            if view is not None:
                longest = max(longest, view.longest_timeout)
        return longest

    async def _purge_quietly(self) -> None:
        try:
            removed = await self.purge()
        except HookplaneError:
            log.exception("could not purge the delivery history")
            return
        if removed and self.retention_days is None:
            log.info("removed %d expired de-duplication marks", removed)
        elif removed:
            log.info("removed %d finished deliveries, log entries, jobs and expired "
                     "de-duplication marks older than %g days", removed, self.retention_days)

    async def purge(self, *, now: datetime | None = None) -> int:
        """Retention, run by :meth:`run_forever` when it starts and then every
        :attr:`purge_every` seconds (hourly): remove finished deliveries (with their
        attempts), inbound log entries and finished jobs older than ``retention_days``
        (unless it is None: kept), and de-duplication marks past twice their window (always:
        they de-duplicate nothing any more); how many rows went."""
        at = now or _now()
        # a mark matters only within its window, whatever the retention
        marks = at - timedelta(seconds=2 * DEDUP_WINDOW_SECONDS)
        if self.retention_days is None:
            return await anyio.to_thread.run_sync(self.store.purge_marks_before, marks)
        cutoff = at - timedelta(days=self.retention_days)
        removed = await anyio.to_thread.run_sync(self.store.purge_delivered_before, cutoff)
        return removed + await anyio.to_thread.run_sync(
            lambda: self.store.purge_logs_before(cutoff, marks_before=marks))

    # -- one delivery -----------------------------------------------------------------------

    async def deliver(self, row: OutboxRow) -> AttemptResult | None:
        """Make the attempt ``row`` is due for (the caller holds its claim) and record it;
        None when its trigger's rate limit handed it back for later."""
        if await self._held_back(row):
            return None
        result, attempt = await self._attempt(row)
        await self._record(row, attempt)
        return result

    async def _attempt(self, row: OutboxRow) -> tuple[AttemptResult, AttemptOutcome]:
        """Send ``row``'s attempt; what happened, and what to record."""
        view = self.registry.get(row.environment)
        trace = row.payload.get("trace")
        with self.tracing.span("hookplane.delivery", kind="client",
                               parent=trace if isinstance(trace, dict) else None,
                               attributes={"hookplane.environment": row.environment,
                                           "hookplane.trigger": row.trigger_name,
                                           "hookplane.event": row.event,
                                           "hookplane.delivery_id": row.id,
                                           "hookplane.attempt": row.attempt}) as span:
            try:
                result = await self._send(self._prepare(view, row))
            except _NotSent as exc:
                result = AttemptResult(None, False, None, str(exc), None)
            except Exception as exc:  # a bug must neither kill the worker nor loop on it
                log.exception("delivery %s failed unexpectedly", row.id)
                result = AttemptResult(None, False, None,
                                       f"internal error: {type(exc).__name__}", None)
            self.tracing.annotate(span, status_code=result.status_code)
            if not result.success:
                self.tracing.failed(span, result.error or f"answered {result.status_code}")
            caused = self.tracing.carrier()  # a delivery.failed it causes continues the trace
        await self._breaker_after(row, view, result)
        retry_at = self._retry_at(row, result)
        on_failed: Sequence[OutboxItem] = ()
        if not result.success and retry_at is None and row.event != "delivery.failed" \
                and view is not None:
            on_failed = system_event_items(view, "delivery.failed",
                                           self._failure(row, result), now=_now())
            if caused:
                on_failed = [replace(item, payload={**item.payload, "trace": caused})
                             for item in on_failed]
        outcome = "delivered" if result.success else "retry" if retry_at else "failed"
        self.metrics.outbound_total.labels(result=outcome).inc()
        if not result.success:
            log.info("delivery %s (trigger '%s', attempt %d/%d): %s%s", row.id,
                     row.trigger_name, row.attempt, row.max_attempts, result.error,
                     f"; retry at {retry_at:%H:%M:%S}" if retry_at else "")
        pause = None
        if result.retry_after is not None and result.status_code in (429, 503):
            # the receiver speaks for the endpoint, not one delivery: the whole trigger waits
            pause = _now() + timedelta(seconds=min(result.retry_after, MAX_TRIGGER_PAUSE))
            self._paused[row.trigger_id] = max(pause, self._paused.get(row.trigger_id, pause))
            log.info("trigger '%s': receiver answered %d with Retry-After; its deliveries "
                     "wait until %s", row.trigger_name, result.status_code,
                     f"{pause:%H:%M:%S}")
        attempt = AttemptOutcome(row.id, status_code=result.status_code,
                                 success=result.success, latency_ms=result.latency_ms,
                                 error=result.error, response_excerpt=result.response_excerpt,
                                 retry_at=retry_at, on_failed=on_failed,
                                 request_headers=result.request_headers,
                                 response_headers=result.response_headers,
                                 pause_trigger_until=pause)
        return result, attempt

    async def _record(self, row: OutboxRow, attempt: AttemptOutcome) -> None:
        try:
            if self._recorder is not None:
                held = await self._recorder.submit(attempt)
            else:
                held = await anyio.to_thread.run_sync(lambda: self.store.record_attempts(
                    [attempt], worker=self.worker)[0])
        except HookplaneError:  # the lease runs out and the row is sent again
            log.exception("could not record attempt %d of delivery %s", row.attempt, row.id)
            return
        if not held:
            log.warning("delivery %s: the claim of worker %s ran out before the attempt was "
                        "recorded; another worker owns it now", row.id, self.worker)

    def _prepare(self, view: EnvironmentView | None, row: OutboxRow) -> _Request:
        if view is None:
            raise _NotSent(f"environment '{row.environment}' is no longer applied; the "
                           "delivery was not sent")
        trigger = _find_trigger(view, row)
        if trigger is None:
            raise _NotSent(f"trigger '{row.trigger_name}' was deleted from "
                           f"'{row.environment}' after this delivery was queued; it was not "
                           "sent")
        spec = trigger.spec
        if not spec.active:
            raise _NotSent(f"trigger '{trigger.name}' is inactive (active: false); the "
                           "delivery was not sent. Activate it and redeliver")
        payload = row.payload
        body = payload.get("body")
        if payload.get("v") != PAYLOAD_VERSION or not isinstance(body, str):
            raise _NotSent(f"delivery {row.id} has a payload this version of Hookplane cannot "
                           "read")
        headers = CIMultiDict({"User-Agent": USER_AGENT,
                               "Content-Type": str(payload.get("content_type")
                                                   or JSON_CONTENT_TYPE)})
        target = payload.get("target")
        if isinstance(target, dict):
            method, url = self._external_target(view, trigger, target, headers)
        elif spec.url is not None:
            method, url = "POST", spec.url
        else:
            raise _NotSent(f"trigger '{trigger.name}' has no url any more (it now writes to "
                           "a source); the delivery was not sent")
        masked = set(trigger.secret_headers)
        if isinstance(target, dict):
            source = view.sources.get(str(target.get("source")))
            masked |= source.secret_headers if source is not None else set()
        for name, value in spec.headers.items():
            headers[name] = value
        content = body.encode("utf-8")
        try:
            signature = sign(secrets=_secrets(trigger), body=content, message_id=row.id,
                             timestamp=int(time.time()), event=row.event,
                             signature_header=spec.signing.header)
        except HookplaneError as exc:
            raise _NotSent(f"trigger '{trigger.name}': {exc}") from exc
        for name, value in signature.items():
            headers[name] = value
        return _Request(method, url, headers, content, spec.timeout, frozenset(masked))

    def _external_target(self, view: EnvironmentView, trigger: TriggerView,
                         target: dict[str, Any], headers: CIMultiDict[str]
                         ) -> tuple[str, str]:
        name = str(target.get("source"))
        source = view.sources.get(name)
        if source is None or source.spec.write is None:
            raise _NotSent(f"trigger '{trigger.name}': source '{name}' is no longer applied "
                           "with a write endpoint; the delivery was not sent")
        for key, value in {**source.spec.headers, **source.spec.write.headers}.items():
            headers[key] = value
        method = str(target.get("method") or source.spec.write.method)
        return method, source.spec.base_url.rstrip("/") + str(target.get("path", ""))

    async def _send(self, request: _Request) -> AttemptResult:
        started = time.perf_counter()

        def elapsed() -> float:
            return round((time.perf_counter() - started) * 1000, 1)

        try:
            with anyio.fail_after(request.timeout):
                response = await self.sender.send(
                    request.method, request.url, headers=request.headers, body=request.body,
                    timeout=request.timeout, cap=self.response_cap)
        except TimeoutError:
            return AttemptResult(None, False, elapsed(),
                                 f"no answer within {request.timeout:g}s (timeout)", None,
                                 retryable=True, request_headers=request.shown_headers())
        except EgressError as exc:
            return AttemptResult(None, False, elapsed(), str(exc), None,
                                 retryable=exc.retryable,
                                 request_headers=request.shown_headers())
        latency = elapsed()
        status = response.status_code
        excerpt = (_excerpt(response.content) if response.content is not None
                   else f"(response body larger than {self.response_cap} bytes)")
        answered = dict(response.headers.items())
        for name in [n for n in answered if n.lower() in ("location", "content-location")]:
            answered[name] = safe_destination(answered[name])  # may repeat a secret path
        logged = functools.partial(AttemptResult, request_headers=request.shown_headers(),
                                   response_headers=answered)
        if 200 <= status < 300:
            return logged(status, True, latency, None, excerpt)
        if status in _RETRYABLE_STATUS or status >= 500:
            return logged(status, False, latency, f"receiver answered {status}", excerpt,
                          retryable=True,
                          retry_after=parse_retry_after(response.headers.get("retry-after")))
        if 300 <= status < 400:
            # the location often repeats the secret path (http -> https): host only
            where = response.headers.get("location")
            shown = safe_destination(where) if where else "("
            shown = "" if shown.startswith("(") else f" to {shown}"
            error = (f"receiver answered {status} (a redirect{shown}); redirects are not "
                     "followed: point the trigger at the final URL")
            return logged(status, False, latency, error, excerpt)
        return logged(status, False, latency, f"receiver answered {status}", excerpt)

    def _retry_at(self, row: OutboxRow, result: AttemptResult) -> datetime | None:
        if result.success or not result.retryable or row.attempt >= row.max_attempts:
            return None
        policy = _Retry.of(row.payload.get("retry"))
        delay = policy.delay(row.attempt)
        if result.retry_after is not None:
            delay = max(delay, min(result.retry_after, policy.max_seconds))
        return _now() + timedelta(seconds=delay)

    @staticmethod
    def _failure(row: OutboxRow, result: AttemptResult) -> dict[str, Any]:
        return {"delivery_id": row.id, "trigger": row.trigger_name, "event": row.event,
                "collection": row.payload.get("collection"),
                "record_id": row.payload.get("record_id"), "attempts": row.attempt,
                "status_code": result.status_code, "error": result.error,
                "queued_at": row.created_at}

    # -- test -------------------------------------------------------------------------------

    async def send_test(self, view: EnvironmentView, trigger_name: str) -> dict[str, Any]:
        """Send a synthetic, signed ``test`` event to the trigger's URL now, outside the
        outbox; the receiver's answer (status, latency, excerpt) or the error.

        Works for inactive triggers too (check a receiver before activating it). An
        ``external_write`` trigger is refused: a test would change upstream data.
        """
        trigger = view.triggers.get(trigger_name)
        if trigger is None:
            raise TriggerNotFound(f"no trigger '{trigger_name}' in '{view.name}'")
        spec = trigger.spec
        if spec.external_write is not None or spec.url is None:
            raise DeliveryError(f"trigger '{trigger_name}' writes to source "
                                f"'{spec.external_write.source if spec.external_write else '?'}'"
                                "; a test would change upstream data, so it is not sent")
        message_id = new_outbox_id()
        now = _now()
        occurred_at = now.isoformat(timespec="seconds").replace("+00:00", "Z")
        sample = Record(id="rec_test", collection=spec.collection or "", external_id=None,
                        data={}, origin="api", version=1, created_at=occurred_at,
                        updated_at=occurred_at, deleted_at=None)
        if spec.body is None:
            rendered: Any = {"id": message_id, "event": "test", "collection": spec.collection,
                             "environment": view.name, "occurred_at": occurred_at,
                             "record": record_json(sample), "previous": None, "test": True}
        else:
            try:
                # what a real delivery of this trigger is rendered over, with empty data
                if all(event in SYSTEM_EVENTS for event in spec.events):
                    context = system_event_context(
                        data={}, event="test", environment=view.name, trigger=trigger.name,
                        delivery_id=message_id, occurred_at=occurred_at)
                else:
                    context = record_event_context(
                        record={}, previous=None, event="test", collection=spec.collection,
                        environment=view.name, trigger=trigger.name, delivery_id=message_id,
                        occurred_at=occurred_at)
                rendered = render_value(spec.body, context)
            except HookplaneError as exc:
                raise DeliveryError(f"trigger '{trigger_name}': its body template cannot be "
                                    f"rendered: {exc}") from exc
        text = rendered if isinstance(rendered, str) else dump_json(rendered)
        content_type = ("text/plain; charset=utf-8" if isinstance(rendered, str)
                        else JSON_CONTENT_TYPE)
        headers = CIMultiDict({"User-Agent": USER_AGENT, "Content-Type": content_type})
        for name, value in spec.headers.items():
            headers[name] = value
        content = text.encode("utf-8")
        for name, value in sign(secrets=_secrets(trigger), body=content,
                                message_id=message_id, timestamp=int(now.timestamp()),
                                event="test", signature_header=spec.signing.header).items():
            headers[name] = value
        result = await self._send(_Request("POST", spec.url, headers, content, spec.timeout))
        return {"trigger": trigger.name, "message_id": message_id, "event": "test",
                "success": result.success, "status_code": result.status_code,
                "latency_ms": result.latency_ms, "response_excerpt": result.response_excerpt,
                "error": result.error}


def _find_trigger(view: EnvironmentView, row: OutboxRow) -> TriggerView | None:
    """The row's trigger by id (a renamed trigger keeps its id; a re-created one does not)."""
    trigger = view.triggers.get(row.trigger_name)
    if trigger is not None and trigger.id == row.trigger_id:
        return trigger
    return next((t for t in view.triggers.values() if t.id == row.trigger_id), None)


def _secrets(trigger: TriggerView) -> tuple[str, ...]:
    """The secrets to sign with, newest first: the configured ``signing.secret`` (an
    ``${env:…}`` value) when there is one, else the generated ones."""
    configured = trigger.spec.signing.secret
    return (configured,) if configured else trigger.secrets
