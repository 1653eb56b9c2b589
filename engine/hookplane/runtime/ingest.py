"""Inbound deliveries: ``POST /inbound/{env}/{id}/ingest``.

Checks run in a fixed order, and the first that fails answers: unknown id 404; inactive 403;
client IP outside the allowlist 403 (even with a valid signature); rate limited 429 with
``Retry-After``; body over ``max_body_bytes`` 413 (reading stops there); not JSON 415/400
(``slack`` also takes form bodies); missing or invalid credentials 401; a provider handshake
is answered as the provider asks, without a record (:mod:`hookplane.runtime.handshakes`);
payload invalid after mapping 422. Every attempt, accepted or not, is written to the inbound
delivery log, without secret headers.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import re
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import anyio
import anyio.to_thread

from hookplane.errors import BodyTooLarge, MappingError, TemplateError
from hookplane.mapping import MISSING, get_path, render_value
from hookplane.presets import PRESETS
from hookplane.runtime import handshakes
from hookplane.runtime.batch import GroupCommitter
from hookplane.runtime.events import WriteEvents
from hookplane.runtime.handshakes import FORM_BODIES, answer, challenge
from hookplane.runtime.metrics import Metrics
from hookplane.runtime.network import allowed, client_address, header_list, rate_key
from hookplane.runtime.ratelimit import RateLimiter
from hookplane.runtime.registry import EnvironmentView, InboundView, Registry
from hookplane.runtime.verify import body_delivery_id, verify
from hookplane.state.runtime import (
    CreateRecord,
    Dedup,
    DuplicateDelivery,
    LogInbound,
    Record,
    RuntimeStore,
    UpsertRecord,
)
from hookplane.state.store import DatabaseUnavailable

log = logging.getLogger("hookplane.runtime.ingest")

SCOPE_LABEL = b"hookplane: de-duplication register of a shared signing key"

DEDUP_WINDOW_SECONDS = 24 * 3600
BODY_SECONDS = 30.0
"""Time a sender has to deliver the whole body once its headers are in (else 408)."""
MAX_ID_LENGTH = 200


@dataclass
class Outcome:
    """What the controller answers, and what the delivery log records."""

    status: int
    body: dict[str, Any]
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    record_id: str | None = None
    job_id: str | None = None
    detail: str = ""
    logged: bool = False
    """The delivery log entry was written with the record, in the same transaction."""
    text: str | None = None
    """Answered as ``text/plain`` instead of ``body`` (Twitch's challenge)."""
    delivery_id: str | None = None
    """The provider's delivery id, for the log, when ``body`` does not carry it."""


LogEntry: TypeAlias = Callable[[Outcome], LogInbound]
"""Makes a request's delivery log entry from its outcome."""


async def read_capped(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes; raise :class:`BodyTooLarge` as soon as it is passed."""
    parts: list[bytes] = []
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > limit:
            raise BodyTooLarge
        parts.append(chunk)
    return b"".join(parts)


MAX_JSON_DEPTH = 100
"""Deepest nesting of arrays and objects accepted in a body (real webhooks stay under 20)."""
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _check_text(text: str) -> None:
    if _UNSTORABLE.search(text):
        raise ValueError("strings cannot hold U+0000 or unpaired UTF-16 surrogates")


def _check_tree(value: Any) -> None:
    """Refuse what the parser lets through but nothing downstream can use: nesting deeper
    than :data:`MAX_JSON_DEPTH`, NUL characters and lone surrogates (PostgreSQL cannot
    store or query them; UTF-8 cannot encode them). Iterative: any depth is safe here."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
            stack.extend((child, depth + 1)
                         for child in (item.values() if isinstance(item, dict) else item))


def parse_json(body: bytes) -> Any:
    """Strict JSON: no NaN/Infinity or numbers out of a double's range, at most
    :data:`MAX_JSON_DEPTH` levels, no NUL or lone surrogate in strings (ValueError);
    integers are bounded by the parser (4,300 digits)."""
    value = json.loads(body, parse_constant=_reject_constant, parse_float=_finite)
    if not _plain(body):
        _check_tree(value)
    return value


def _plain(body: bytes) -> bool:
    """True when ``body`` cannot hold what :func:`_check_tree` looks for, so the walk can be
    skipped (most webhook bodies): ASCII without NUL bytes is read as UTF-8 (not UTF-16/32,
    where raw surrogates could hide), so NUL and surrogates could only come as ``\\u``
    escapes; and fewer brackets than the depth limit cannot nest deeper than it."""
    return (body.isascii() and b"\x00" not in body and b"\\u" not in body
            and body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH)


MAX_FORM_FIELDS = 1000
_NEVER_RAW_IN_A_FORM = re.compile(rb'[{}"]')


def parse_form(body: bytes) -> dict[str, Any]:
    """An ``application/x-www-form-urlencoded`` body as JSON (Slack's interactivity and slash
    commands): a form whose only field is ``payload`` is that field's JSON (interactivity);
    any other form is a flat object of its fields (slash commands). UTF-8 only; a field
    named twice, an empty form or more than :data:`MAX_FORM_FIELDS` fields is a ValueError,
    and so is a body holding a raw ``{``, ``}`` or ``"``, which every form encoder escapes:
    that is JSON under a form's Content-Type (which no signature covers), and must not be
    stored as whatever its text splits into at '&' and '='."""
    if _NEVER_RAW_IN_A_FORM.search(body):
        raise ValueError("this is JSON, not a form: a form escapes '{', '}' and '\"'")
    pairs = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True,
                                   strict_parsing=True, encoding="utf-8", errors="strict",
                                   max_num_fields=MAX_FORM_FIELDS)
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise ValueError(f"field '{name[:40]}' is sent twice")
        _check_text(name)
        _check_text(value)
        fields[name] = value
    if not fields:
        raise ValueError("the form has no fields")
    if list(fields) == ["payload"]:
        payload = parse_json(fields["payload"].encode("utf-8"))
        if not isinstance(payload, dict):
            raise ValueError("the 'payload' field is not a JSON object")
        return payload
    return dict(fields)


def _is_form(content_type: str | None) -> bool:
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                           and media.endswith("+json"))


@dataclass(frozen=True)
class Arrival:
    """How a request arrived: its method, raw path and raw query string (the URL-signing
    presets rebuild the URL the sender called from these and ``HOOKPLANE_PUBLIC_URL``)."""

    method: str = "POST"
    path: str = ""
    query: str = ""

    def parameters(self) -> dict[str, str]:
        """The query's parameters that appear once (a repeated one is left out)."""
        try:
            pairs = urllib.parse.parse_qsl(self.query, keep_blank_values=True,
                                           max_num_fields=MAX_FORM_FIELDS)
        except ValueError:
            return {}
        seen: dict[str, str] = {}
        repeated: set[str] = set()
        for name, value in pairs:
            if name in seen:
                repeated.add(name)
            seen[name] = value
        return {name: value for name, value in seen.items() if name not in repeated}

    def url(self, public_url: str | None) -> str | None:
        if not public_url:
            return None
        return public_url.rstrip("/") + self.path + (f"?{self.query}" if self.query else "")


POST = Arrival()


class IngestService:
    def __init__(self, registry: Registry, store: RuntimeStore, limiter: RateLimiter,
                 metrics: Metrics, events: WriteEvents, *,
                 committer: GroupCommitter | None = None,
                 public_url: str | None = None) -> None:
        self.public_url = public_url
        """``HOOKPLANE_PUBLIC_URL``: the base of the URL providers call (Twilio, Square and
        HubSpot sign it)."""
        self.registry = registry
        self.store = store
        self.committer = committer or GroupCommitter(store)
        self.limiter = limiter
        self.metrics = metrics
        self.events = events

    async def handle(self, environment: str, webhook_id: str, *, peer: str | None,
                     headers: Mapping[str, str], content_length: int | None,
                     chunks: AsyncIterator[bytes], arrival: Arrival = POST) -> Outcome:
        started = time.perf_counter()
        view = self.registry.get(environment)
        hook = view.inbound.get(webhook_id) if view is not None else None
        client = None
        if hook is not None:
            client = client_address(peer, header_list(headers, "x-forwarded-for"),
                                    tuple(hook.spec.trusted_proxies))

        def entry(outcome: Outcome) -> LogInbound:
            return self._log_entry(environment, webhook_id, hook=hook, client=client,
                                   outcome=outcome,
                                   latency=(time.perf_counter() - started) * 1000)

        with self.events.tracing.span(
                "hookplane.ingest", parent=headers, kind="server",
                attributes={"hookplane.environment": environment[:MAX_ID_LENGTH],
                            "hookplane.inbound_webhook": webhook_id[:MAX_ID_LENGTH]},
        ) as span:
            outcome = await self._answer(view, hook, client=client, headers=headers,
                                         content_length=content_length, chunks=chunks,
                                         entry=entry, environment=environment,
                                         webhook_id=webhook_id, arrival=arrival)
            self.events.tracing.annotate(span, status_code=outcome.status,
                                         reason=outcome.reason, record_id=outcome.record_id)
            if outcome.status >= 400:
                self.events.tracing.failed(span, outcome.reason)
        self.metrics.inbound(outcome.reason)
        if outcome.logged:
            return outcome
        try:
            await self.committer.write(entry(outcome))
        except DatabaseUnavailable:  # the answer stands: a stored delivery is not a 503
            log.warning("could not write the inbound delivery log (%s %s): the state database "
                        "is unavailable", outcome.status, outcome.reason)
        return outcome

    async def _answer(self, view: EnvironmentView | None, hook: InboundView | None, *,
                      client: Any, headers: Mapping[str, str],
                      content_length: int | None, chunks: AsyncIterator[bytes],
                      entry: LogEntry, environment: str, webhook_id: str,
                      arrival: Arrival) -> Outcome:
        try:
            return await self._checks(view, hook, client=client, headers=headers,
                                      content_length=content_length, chunks=chunks,
                                      log=entry, arrival=arrival)
        except DatabaseUnavailable as exc:  # nothing was written: the sender retries later
            return Outcome(503, {"error": "state database unavailable; the delivery was "
                                 "not stored, try again"}, "unavailable",
                           headers={"Retry-After": "5"}, detail=type(exc).__name__)
        except Exception as exc:  # a bug: never a 500 without a log line
            log.exception("inbound delivery to %s/%s failed", environment[:MAX_ID_LENGTH],
                          webhook_id[:MAX_ID_LENGTH])
            return Outcome(500, {"error": "internal error; the delivery was not stored"},
                           "error", detail=type(exc).__name__)

    @staticmethod
    def _log_entry(environment: str, webhook_id: str, *, hook: InboundView | None,
                   client: Any, outcome: Outcome, latency: float) -> LogInbound:
        return LogInbound(
            environment=environment[:MAX_ID_LENGTH], webhook_id=webhook_id[:MAX_ID_LENGTH],
            webhook_name=hook.name if hook else None,
            client_ip=str(client) if client is not None else None,
            status_code=outcome.status, reason=outcome.reason, detail=outcome.detail[:1024],
            latency_ms=latency, record_id=outcome.record_id,
            provider_delivery_id=outcome.delivery_id or outcome.body.get("delivery_id"),
            job_id=outcome.job_id)

    async def _checks(self, view: EnvironmentView | None, hook: InboundView | None, *,
                      client: Any, headers: Mapping[str, str], content_length: int | None,
                      chunks: AsyncIterator[bytes], log: LogEntry,
                      arrival: Arrival = POST) -> Outcome:
        if view is None or hook is None:
            return Outcome(404, {"error": "unknown inbound webhook"}, "unknown_webhook")
        spec = hook.spec
        if not spec.active:
            return Outcome(403, {"error": "this inbound webhook is inactive"}, "inactive")
        if not allowed(client, tuple(spec.ip_allowlist)):
            return Outcome(403, {"error": "client address not allowed"}, "ip_not_allowed",
                           detail=f"client {client}")
        rate = spec.rate_limit
        bucket = rate_key(client, rate.ipv6_prefix or 64)
        # over its verified budget: refused before the body is read (a peek: only deliveries
        # that verify spend this bucket, so forged ones cannot empty it)
        decision = self.limiter.peek(hook.id, bucket, requests=rate.requests,
                                     per_seconds=rate.per_seconds)
        if not decision.allowed:
            return Outcome(429, {"error": "rate limited"}, "rate_limited",
                           headers={"Retry-After": str(decision.retry_after)})
        unsigned = challenge(spec.auth, method=arrival.method, headers=headers,
                             query=arrival.parameters())
        if unsigned is not None or arrival.method != "POST":
            # unverified: paced on the budget of failed verifications, like a forgery
            paced = self.limiter.check(f"{hook.id}:failed", bucket, requests=rate.requests,
                                       per_seconds=rate.per_seconds)
            if not paced.allowed:
                return Outcome(429, {"error": "rate limited"}, "rate_limited",
                               headers={"Retry-After": str(paced.retry_after)})
            if unsigned is None:
                return Outcome(405, {"error": "this inbound webhook takes POST"},
                               "method_not_allowed", headers={"Allow": "POST"})
            return Outcome(unsigned.status, unsigned.json or {}, unsigned.reason,
                           text=unsigned.text, detail=unsigned.detail,
                           headers={"X-Content-Type-Options": "nosniff"})
        limit = spec.max_body_bytes
        if content_length is not None and content_length > limit:
            return Outcome(413, {"error": f"body larger than {limit} bytes"}, "too_large")
        try:
            # a client trickling its body holds no slot (asyncio's timeout: anyio's
            # fail_after costs several times more, on every request)
            async with asyncio.timeout(BODY_SECONDS):
                body = await read_capped(chunks, limit)
        except BodyTooLarge:
            return Outcome(413, {"error": f"body larger than {limit} bytes"}, "too_large")
        except TimeoutError:
            return Outcome(408, {"error": f"the body did not arrive within {BODY_SECONDS:g}s"},
                           "slow_body")
        content_type = headers.get("content-type")
        takes_form = spec.auth.type in FORM_BODIES
        form = takes_form and _is_form(content_type)
        if not form and not _is_json(content_type):
            accepted = ("JSON (Content-Type: application/json) or a form "
                        "(application/x-www-form-urlencoded)" if takes_form
                        else "JSON (Content-Type: application/json)")
            return Outcome(415, {"error": f"send {accepted}"}, "not_json")
        try:
            payload = parse_form(body) if form else parse_json(body)
        except (ValueError, RecursionError) as exc:
            detail = str(exc)[:200] if isinstance(exc, ValueError) else "nested too deeply"
            what = "a valid form" if form else "valid JSON"
            return Outcome(400, {"error": f"body is not {what}: {detail}"},
                           "bad_form" if form else "bad_json")
        secrets = hook.secrets
        preset = PRESETS[spec.auth.type]
        result = verify(spec.auth, headers=headers, body=body, secrets=secrets,
                        token_hashes=hook.token_hashes, method=arrival.method,
                        url=arrival.url(self.public_url) if preset.signs_url else None)
        if not result.ok:
            self.metrics.verification_failed(result.reason)
            failed = self.limiter.check(f"{hook.id}:failed", bucket, requests=rate.requests,
                                        per_seconds=rate.per_seconds)
            if not failed.allowed:  # a flood of bad credentials: paced on its own budget
                return Outcome(429, {"error": "rate limited"}, "rate_limited",
                               headers={"Retry-After": str(failed.retry_after)},
                               detail=f"too many failed verifications ({result.reason})")
            return Outcome(401, {"error": "missing or invalid credentials"}, result.reason,
                           detail=result.detail)
        decision = self.limiter.check(hook.id, bucket, requests=rate.requests,
                                      per_seconds=rate.per_seconds)
        if not decision.allowed:
            return Outcome(429, {"error": "rate limited"}, "rate_limited",
                           headers={"Retry-After": str(decision.retry_after)})
        secret = (secrets[result.secret_index]
                  if result.secret_index is not None and result.secret_index < len(secrets)
                  else None)
        handshake = answer(spec.auth, headers=headers, payload=payload, secret=secret,
                           query=arrival.parameters())
        if handshake is not None:  # answered as the provider asks; never a record
            return Outcome(handshake.status, handshake.json or {}, handshake.reason,
                           text=handshake.text, detail=handshake.detail,
                           delivery_id=result.delivery_id)
        if isinstance(payload, list) and preset.array_key is not None:
            payload = {preset.array_key: payload}  # a batch of events (HubSpot, SendGrid)
        if not isinstance(payload, dict):
            return Outcome(400, {"error": "the body must be a JSON object"}, "bad_json")
        delivery_id = result.delivery_id
        if delivery_id is None:
            delivery_id = body_delivery_id(auth_type=spec.auth.type, payload=payload)
        if preset.stored is not None:  # credentials the body carries are never stored
            payload = preset.stored(payload)
        dedup = None
        if delivery_id is not None:
            # marked seen in the write's own transaction: a delivery that fails half-way is
            # processed again when the sender retries, a repeat of a stored one is not. The
            # whole id is the key (a long one is stored as its hash): ids sharing their first
            # MAX_ID_LENGTH characters are different deliveries; only what is shown is cut
            key = delivery_id
            if (result.delivery_id is not None and not preset.signs_delivery_id
                    and preset.dedup_on_body):
                # an id header the signature does not cover is bound to the signed body: a
                # captured delivery re-sent under a chosen id cannot spend that id (the
                # sender's own delivery with it would be dropped as a duplicate); a retry,
                # the same id and the same bytes, is still one
                key = f"{delivery_id} body-sha256:{hashlib.sha256(body).hexdigest()}"
            delivery_id = delivery_id[:MAX_ID_LENGTH]
            scope = None
            if preset.ids_shared_by_secret and secret is not None:
                # one register for every webhook and environment verifying with this key
                # (named by a MAC of it: nothing stored reveals the key)
                scope = ("*", "key:" + hmac.new(secret.encode("utf-8"), SCOPE_LABEL,
                                                hashlib.sha256).hexdigest()[:40])
            dedup = Dedup(hook.id, key, DEDUP_WINDOW_SECONDS, shown_id=delivery_id,
                          scope=scope)
        try:
            outcome = await self._act(view, hook, payload, dedup=dedup, log=log)
        except DuplicateDelivery:
            return Outcome(200, {"status": "duplicate", "delivery_id": delivery_id},
                           "duplicate")
        if delivery_id is not None:
            outcome.body.setdefault("delivery_id", delivery_id)
        reply = handshakes.accepted(spec.auth.type, payload) if outcome.status < 300 else None
        if reply is not None:  # the answer the provider expects (Discord: deferred)
            outcome.body = reply
            outcome.status = 200
        return outcome

    def _trace(self) -> dict[str, Any]:
        """``{"trace": W3C headers}`` of the ingest span, for a job queued now (or nothing)."""
        carrier = self.events.tracing.carrier()
        return {"trace": carrier} if carrier else {}

    async def _act(self, view: EnvironmentView, hook: InboundView,
                   payload: dict[str, Any], *, dedup: Dedup | None, log: LogEntry) -> Outcome:
        spec = hook.spec
        action = spec.action
        written = {"X-Hookplane-Source": "inbound_webhook"}
        if spec.hydration is not None:
            hydration = spec.hydration
            external_id = get_path(payload, hydration.id_path)
            if isinstance(external_id, bool) or not isinstance(external_id, str | int) or (
                isinstance(external_id, str) and not external_id.strip()
            ):
                return Outcome(422, {"error": f"no record id at '{hydration.id_path}'"},
                               "missing_id")
            event = (get_path(payload, hydration.event_path)
                     if hydration.event_path else MISSING)
            operation = hydration.event_map.get(str(event), "upsert") if isinstance(
                event, str | int) else "upsert"
            job = await anyio.to_thread.run_sync(lambda: self.store.enqueue_job(
                hook.environment, hook.id, "hydrate",
                {"external_id": str(external_id), "operation": operation,
                 **self._trace()},
                max_attempts=hydration.attempts, dedup=dedup))
            return Outcome(202, {"status": "accepted", "job_id": job,
                                 "operation": operation}, "ok", job_id=job)
        if action.invoke is not None:
            invoke = action.invoke
            try:
                data = (render_value(invoke.input, {"payload": payload})
                        if invoke.input is not None else payload)
            except TemplateError as exc:
                return Outcome(422, {"error": str(exc)}, "invalid_payload")
            job = await anyio.to_thread.run_sync(lambda: self.store.enqueue_job(
                hook.environment, hook.id, "invoke", {"input": data, **self._trace()},
                max_attempts=1,
                dedup=dedup))
            return Outcome(202, {"status": "accepted", "job_id": job}, "ok", job_id=job)
        if action.create is not None:
            create = action.create
            try:
                fields = render_value(create.fields, {"payload": payload})
            except TemplateError as exc:
                return Outcome(422, {"error": str(exc)}, "invalid_payload")
            return await self._write(view, hook, create.collection, record=fields,
                                     external_id=None, headers=written, dedup=dedup, log=log)
        assert spec.collection is not None
        try:
            record = hook.mapping.to_native(payload) if hook.mapping is not None else payload
        except MappingError as exc:
            return Outcome(422, {"error": str(exc)}, "invalid_payload", detail=str(exc))
        key_path = action.upsert.key if action.upsert is not None else None
        if key_path is None and hook.source is not None:
            key_path = hook.source.spec.id_field
        external_id = get_path(payload, key_path) if key_path else None
        if external_id is MISSING or isinstance(external_id, dict | list | bool):
            external_id = None
        return await self._write(view, hook, spec.collection, record=record,
                                 external_id=None if external_id is None else str(external_id),
                                 headers=written, dedup=dedup, log=log)

    async def _write(self, view: EnvironmentView, hook: InboundView, collection: str, *,
                     record: dict[str, Any], external_id: str | None,
                     headers: dict[str, str], dedup: Dedup | None, log: LogEntry) -> Outcome:
        target = view.collections.get(collection)
        if target is None:
            return Outcome(500, {"error": f"collection '{collection}' is not applied"},
                           "error")
        errors = target.validator.validate(record)
        if errors:
            return Outcome(422, {"error": "payload does not match the collection schema",
                                 "fields": [{"path": e.path, "message": e.message}
                                            for e in errors]},
                           "invalid_payload",
                           detail="; ".join(f"{e.path or '(root)'}: {e.message}"
                                            for e in errors[:5]))

        def stored(record: Record, previous: Record | None) -> Outcome:
            created = previous is None
            body = {"status": "created" if created else "updated", "record_id": record.id,
                    "collection": collection}
            if dedup is not None:
                body["delivery_id"] = (dedup.shown_id
                                       or dedup.provider_delivery_id[:MAX_ID_LENGTH])
            return Outcome(201 if created else 200, body, "ok", headers=headers,
                           record_id=record.id, logged=True)

        def logged(record: Record, previous: Record | None) -> LogInbound:
            return log(stored(record, previous))

        with self.events.tracing.span("hookplane.record.write", attributes={
                "hookplane.environment": hook.environment, "hookplane.collection": collection,
                "hookplane.origin": "inbound_webhook"}) as span:
            outbox = self.events.outbox(hook.environment)
            if external_id is None:
                record_ = await self.committer.record(CreateRecord(
                    hook.environment, collection, record, origin="inbound_webhook",
                    dedup=dedup, outbox=outbox, log=logged))
                outcome = stored(record_, None)
            else:
                upserted = await self.committer.write(UpsertRecord(
                    hook.environment, collection, external_id, record,
                    origin="inbound_webhook", dedup=dedup, outbox=outbox, log=logged))
                assert isinstance(upserted, tuple), upserted
                outcome = stored(*upserted)
            self.events.tracing.annotate(span, record_id=outcome.record_id,
                                         deliveries_queued=outbox.queued)
        self.events.written(outbox)
        return outcome


def retry_after_seconds(value: float) -> str:
    return str(max(1, math.ceil(value)))
