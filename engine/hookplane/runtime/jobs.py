"""Background jobs of inbound webhooks: hydration (fetch the full record) and invoke.

Jobs are persisted before the sender gets its 202; workers claim them with a lease, so a
restart (or a crash) resumes every job not finished. Failures retry with exponential backoff
and full jitter up to the job's attempt limit.

Hydration only ever fetches the bound source's configured URL: the id from the payload is
URL-encoded into the path (``/`` and ``..`` included), and any URL inside the payload is
ignored. Both fetches and invoke calls go through the runtime's one
:class:`~hookplane.runtime.egress.Sender`, so the egress guard (no loopback, private or
metadata addresses unless ``HOOKPLANE_ALLOW_NETWORKS`` allows them) covers them as it covers
deliveries; an answer longer than the cap is refused without being read further.
"""

from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.to_thread

from hookplane.errors import EgressError, HookplaneError, MappingError
from hookplane.runtime.egress import Sender
from hookplane.runtime.events import WriteEvents
from hookplane.runtime.metrics import Metrics
from hookplane.runtime.network import source_url
from hookplane.runtime.registry import LEASE_MARGIN, InboundView, Registry
from hookplane.runtime.signing import sign
from hookplane.state.runtime import RuntimeStore

log = logging.getLogger("hookplane.runtime.jobs")

MAX_RESPONSE_BYTES = 1_048_576
INVOKE_RESPONSE_BYTES = 65_536
INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 300.0


class PermanentFailure(Exception):
    """Retrying cannot help (upstream 4xx, invalid record)."""


class RetryableFailure(Exception):
    """Worth another attempt (upstream 5xx/429, timeout, connection error)."""


@dataclass(frozen=True)
class JobResult:
    data: dict[str, Any]


def backoff_seconds(attempt: int, *, initial: float = INITIAL_BACKOFF,
                    maximum: float = MAX_BACKOFF) -> float:
    """Exponential backoff with full jitter: uniform(0, min(max, initial * 2**(attempt-1)))."""
    ceiling = min(maximum, initial * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


class JobRunner:
    def __init__(self, registry: Registry, store: RuntimeStore, sender: Sender,
                 metrics: Metrics, *, events: WriteEvents, worker: str,
                 lease_seconds: float = 60.0, lease_margin: float = LEASE_MARGIN) -> None:
        """``lease_margin``: seconds a job's lease outlives the longest job timeout
        (:data:`~hookplane.runtime.registry.LEASE_MARGIN`, what ``hookplane serve`` uses;
        tests pass a smaller one to run quicker)."""
        self.events = events
        self.registry = registry
        self.store = store
        self.sender = sender
        self.metrics = metrics
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.lease_margin = lease_margin

    async def run_forever(self, *, interval: float = 0.2, concurrency: int = 4) -> None:
        pause = interval
        while True:
            try:
                done = await self.run_once(limit=concurrency)
            except HookplaneError as exc:  # the database is away: wait, leases keep the jobs
                log.warning("job runner: %s; retrying in %gs", exc, pause)
                await anyio.sleep(pause)
                pause = min(pause * 2, 5.0)
                continue
            pause = interval
            if not done:
                await anyio.sleep(interval)

    def lease(self) -> float:
        """The configured lease, or longer: a job must not be claimed again by a second
        worker while its upstream call (up to the longest job timeout) is still running."""
        longest = 0.0
        for name in self.registry.environments():
            view = self.registry.get(name)
            if view is not None:
                longest = max(longest, view.longest_job_timeout)
        return max(self.lease_seconds, longest + self.lease_margin)

    async def run_once(self, *, limit: int = 4) -> int:
        lease = self.lease()
        jobs = await anyio.to_thread.run_sync(lambda: self.store.claim_jobs(
            worker=self.worker, limit=limit, lease_seconds=lease))
        if not jobs:
            return 0
        async with anyio.create_task_group() as group:
            for job in jobs:
                group.start_soon(self._run, job)
        return len(jobs)

    async def _run(self, job: Any) -> None:
        trace = job.payload.get("trace") if isinstance(job.payload, dict) else None
        with self.events.tracing.span("hookplane.job", parent=trace if isinstance(
                trace, dict) else None, attributes={
                "hookplane.environment": job.environment, "hookplane.job_id": job.id,
                "hookplane.job_kind": job.kind, "hookplane.attempt": job.attempt}) as span:
            failure = await self._run_job(job)
            if failure is not None:
                self.events.tracing.failed(span, failure)

    async def _run_job(self, job: Any) -> str | None:
        """Run ``job`` once and record the outcome; the error when it did not succeed."""
        view = self.registry.get(job.environment)
        hook = view.inbound.get(job.webhook_id) if view is not None else None
        try:
            if hook is None:
                raise PermanentFailure("the inbound webhook is no longer applied")
            if job.kind == "hydrate":
                result = await self._hydrate(hook, job.payload)
            elif job.kind == "invoke":
                result = await self._invoke(hook, job.payload, job.id)
            else:
                raise PermanentFailure(f"unknown job kind {job.kind!r}")
        except RetryableFailure as exc:
            attempt = job.attempt  # this attempt's number (1 for the first)
            retry_at = None
            if attempt < job.max_attempts:
                retry_at = datetime.now(UTC) + timedelta(seconds=backoff_seconds(attempt))
            self.metrics.jobs_total.labels(kind=job.kind, result="retry" if retry_at
                                           else "failed").inc()
            await self._fail(job.id, str(exc)[:500], retry_at)
            return str(exc)
        except (PermanentFailure, MappingError) as exc:
            self.metrics.jobs_total.labels(kind=job.kind, result="failed").inc()
            await self._fail(job.id, str(exc)[:500], None)
            return str(exc)
        except Exception as exc:  # a bug must not kill the worker; the job keeps the trace
            log.exception("job %s failed unexpectedly", job.id)
            await self._fail(job.id, f"internal error: {type(exc).__name__}", None)
            return f"internal error: {type(exc).__name__}"
        self.metrics.jobs_total.labels(kind=job.kind, result="done").inc()
        await anyio.to_thread.run_sync(lambda: self.store.finish_job(
            job.id, worker=self.worker, result=result))
        return None

    def _write_span(self, environment: str, collection: str) -> Any:
        return self.events.tracing.span("hookplane.record.write", attributes={
            "hookplane.environment": environment, "hookplane.collection": collection,
            "hookplane.origin": "hydration"})

    async def _fail(self, job_id: str, error: str, retry_at: datetime | None) -> None:
        await anyio.to_thread.run_sync(lambda: self.store.fail_job(
            job_id, worker=self.worker, error=error, retry_at=retry_at))

    async def _hydrate(self, hook: InboundView, payload: dict[str, Any]) -> dict[str, Any]:
        source = hook.source
        collection = hook.spec.collection
        if source is None or source.spec.read is None or collection is None:
            raise PermanentFailure("hydration needs a bound source with a read endpoint")
        external_id = str(payload["external_id"])
        env = hook.environment
        if payload.get("operation") == "delete":
            with self._write_span(env, collection):
                outbox = self.events.outbox(env)
                deleted = await anyio.to_thread.run_sync(lambda: self.store.delete_external(
                    env, collection, external_id, origin="hydration", outbox=outbox))
            self.events.written()
            return {"operation": "delete", "external_id": external_id,
                    "record_id": deleted[0].id if deleted else None}
        read = source.spec.read
        url = source_url(source.spec.base_url, read.path, external_id)
        headers = {**source.spec.headers, **read.headers, "Accept": "application/json"}
        started = time.perf_counter()
        try:
            # the timeout bounds the whole fetch: an upstream that drips its answer byte by
            # byte never times out a single read
            with anyio.fail_after(source.spec.timeout):
                response = await self.sender.send(read.method, url, headers=headers,
                                                  timeout=source.spec.timeout,
                                                  cap=MAX_RESPONSE_BYTES)
        except TimeoutError as exc:
            raise RetryableFailure(f"upstream timed out after {source.spec.timeout:g}s "
                                   "(whole answer)") from exc
        except EgressError as exc:
            failure = RetryableFailure if exc.retryable else PermanentFailure
            raise failure(f"upstream: {exc}") from exc
        latency = round((time.perf_counter() - started) * 1000, 1)
        status = response.status_code
        if status == 429 or status >= 500:
            raise RetryableFailure(f"upstream answered {status}")
        if status >= 300:
            raise PermanentFailure(f"upstream answered {status}")
        if response.content is None:
            raise PermanentFailure(f"upstream response larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            document = json.loads(response.content)
        except ValueError as exc:
            raise PermanentFailure("upstream answered with invalid JSON") from exc
        if not isinstance(document, dict):
            raise PermanentFailure("upstream answered with JSON that is not an object")
        mapped = source.mapping.to_native(document)
        view = self.registry.get(env)
        target = view.collections.get(collection) if view else None
        if target is None:
            raise PermanentFailure(f"collection '{collection}' is not applied")
        hydration = hook.spec.hydration
        merge = hydration is not None and hydration.merge

        def data_for(existing: Any) -> dict[str, Any]:
            # runs inside the write transaction: merge reads the record it replaces
            data = (source.mapping.merge(existing.data, mapped)
                    if merge and existing is not None else mapped)
            errors = target.validator.validate(data)
            if errors:
                raise PermanentFailure("fetched record does not match the schema: " + "; ".join(
                    f"{e.path or '(root)'}: {e.message}" for e in errors[:5]))
            return data

        def write() -> dict[str, Any]:
            record, previous = self.store.upsert_external(env, collection, external_id,
                                                          data_for, origin="hydration",
                                                          outbox=outbox)
            return {"operation": "upsert", "external_id": external_id, "record_id": record.id,
                    "created": previous is None, "upstream_status": status,
                    "latency_ms": latency}

        with self._write_span(env, collection):
            outbox = self.events.outbox(env)
            result = await anyio.to_thread.run_sync(write)
        self.events.written()
        return result

    async def _invoke(self, hook: InboundView, payload: dict[str, Any], job_id: str
                      ) -> dict[str, Any]:
        invoke = hook.spec.action.invoke
        if invoke is None:
            raise PermanentFailure("the webhook no longer has an invoke action")
        started = time.perf_counter()
        content = json.dumps(payload["input"], ensure_ascii=False,
                             separators=(",", ":")).encode("utf-8")
        headers = {**invoke.headers, "Content-Type": "application/json"}
        if hook.signing_secrets:
            # signed like a trigger delivery; webhook-id = the job id, the same on retries
            headers.update(sign(secrets=hook.signing_secrets, body=content,
                                message_id=job_id, timestamp=int(time.time()),
                                event="invoke"))
        try:
            with anyio.fail_after(invoke.timeout):  # the whole call, not each read
                response = await self.sender.send(invoke.method, invoke.url, headers=headers,
                                                  body=content, timeout=invoke.timeout,
                                                  cap=INVOKE_RESPONSE_BYTES)
        except TimeoutError as exc:
            raise PermanentFailure(f"target timed out after {invoke.timeout:g}s") from exc
        except EgressError as exc:
            raise PermanentFailure(f"target: {exc}") from exc
        latency = round((time.perf_counter() - started) * 1000, 1)
        body = response.content
        if body is None:
            raise PermanentFailure(f"target answered {response.status_code} with more than "
                                   f"{INVOKE_RESPONSE_BYTES} bytes")
        try:
            result: Any = json.loads(body)
        except ValueError:
            result = body[:2048].decode("utf-8", "replace")
        execution = {"status": "succeeded" if response.is_success else "failed",
                     "status_code": response.status_code, "latency_ms": latency,
                     "result": result}
        if invoke.collection is not None:
            env = hook.environment
            collection = invoke.collection
            record = {"status": execution["status"], "input": payload["input"],
                      "result": result}
            view = self.registry.get(env)
            target = view.collections.get(collection) if view else None
            if target is not None and not target.validator.validate(record):
                with self._write_span(env, collection):
                    outbox = self.events.outbox(env)
                    stored = await anyio.to_thread.run_sync(lambda: self.store.create(
                        env, collection, record, origin="inbound_webhook", outbox=outbox))
                self.events.written()
                execution["record_id"] = stored.id
        if not response.is_success:
            raise PermanentFailure(f"target answered {response.status_code}")
        return execution
