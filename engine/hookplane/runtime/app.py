"""``create_app()``: the Litestar application ``hookplane serve`` runs.

Routes:

- ``POST /inbound/{environment}/{webhook_id}/ingest`` — inbound deliveries
- ``/api/{environment}/collections/{collection}/records`` — the records API (API keys)
- ``/admin/{environment}/…`` — management (``Authorization: Bearer $HOOKPLANE_ADMIN_TOKEN``;
  off when no admin token is configured)
- ``/healthz``, ``/readyz``, ``/metrics``; OpenAPI at ``/schema``
- ``/console`` — the web console (admin token sign-in; off without one)

Background tasks (started with the app): the configuration watcher (reloads an environment
within a second of its serial moving) and the job runner (hydration, invoke).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
import uvicorn
from litestar import Litestar, Request, Response, Router, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from hookplane import __version__
from hookplane.errors import HookplaneError
from hookplane.runtime.admin import (
    describe_inbound,
    describe_triggers,
    enable_trigger,
    inbound_deliveries,
    recover_deliveries,
    rotate,
    trigger_deliveries,
)
from hookplane.runtime.authguard import FailedAuth, check_admin_token
from hookplane.runtime.console import console_handlers, template_config
from hookplane.runtime.dispatch import Dispatcher, retention_days_from_env
from hookplane.runtime.egress import Sender, sender_from_env
from hookplane.runtime.events import WriteEvents
from hookplane.runtime.ingest import Arrival, IngestService
from hookplane.runtime.jobs import JobRunner
from hookplane.runtime.logs import replica, request_ids
from hookplane.runtime.metrics import Metrics
from hookplane.runtime.protocol import DEFAULT_HEAD_SECONDS, head_deadline_protocol
from hookplane.runtime.ratelimit import RateLimiter
from hookplane.runtime.records import Caller, RecordsService
from hookplane.runtime.registry import Registry
from hookplane.runtime.schema_page import schema_plugins
from hookplane.runtime.system import SystemEvents
from hookplane.runtime.tracing import TRACE_HEADERS, TracedSender, Tracing, tracing_from_env
from hookplane.state.runtime import (
    DuplicateDelivery,
    InvalidQuery,
    RecordConflict,
    RecordNotFound,
    RuntimeStore,
)
from hookplane.state.store import DatabaseUnavailable, Store

log = logging.getLogger("hookplane.runtime")

MAX_INGEST_BODY = 64 * 1024 * 1024
"""Upper bound for the route; each webhook's own ``max_body_bytes`` is enforced while reading."""


@dataclass
class Services:
    store: Store
    runtime: RuntimeStore
    registry: Registry
    metrics: Metrics
    ingest: IngestService
    records: RecordsService
    jobs: JobRunner | None
    dispatcher: Dispatcher | None
    system: SystemEvents
    admin_token: str | None
    sender: Sender
    auth: FailedAuth
    """Wrong credentials per client (admin API, console sign-in, records API keys)."""


def _json(body: Any, status: int, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(content=body, status_code=status, headers=headers or {},
                    media_type="application/json")


def _services(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services


# --------------------------------------------------------------------------- OpenAPI


@dataclass
class FieldProblem:
    path: str
    message: str


@dataclass
class ErrorBody:
    """Every error answer: ``{"error": "…"}``; a schema mismatch (422) lists its ``fields``."""

    error: str
    fields: list[FieldProblem] | None = None


_ERRORS = {
    400: "The request is malformed: bad JSON, a bad query parameter or path value.",
    401: "Missing or invalid credentials (signature, token or API key).",
    403: "Authenticated but not allowed: scope, IP allowlist or an inactive webhook.",
    404: "No such environment, collection, resource or record.",
    405: "This inbound webhook's provider sends no GET verification request: POST only.",
    408: "The body did not arrive within the body deadline.",
    409: "Conflicts with the current state (e.g. only a failed delivery can be redelivered).",
    413: "The body is larger than the limit.",
    415: "The body is not JSON (Content-Type: application/json).",
    422: "The body does not match the collection schema or the mapping.",
    429: "Rate limited, or too many wrong credentials from this address (then the "
         "credential is not checked); Retry-After says when to try again.",
    503: "The state database is unavailable; Retry-After says when to try again.",
}


def _documented(*errors: int, **success: str) -> dict[int, ResponseSpec]:
    """OpenAPI answers of a route: the error statuses it really sends (body ``ErrorBody``)
    and extra success statuses (``s200="…"``) with a JSON object body."""
    specs = {int(code[1:]): ResponseSpec(data_container=dict[str, Any], description=text,
                                         generate_examples=False)
             for code, text in success.items()}
    specs.update({code: ResponseSpec(data_container=ErrorBody, description=_ERRORS[code],
                                     generate_examples=False)
                  for code in errors})
    return specs


_ADMIN_ERRORS = (400, 401, 404, 409, 429, 503)
_RECORD_READ_ERRORS = (400, 401, 403, 404, 429, 503)
_RECORD_WRITE_ERRORS = (400, 401, 403, 404, 408, 409, 413, 422, 429, 503)


# --------------------------------------------------------------------------- health


@get("/healthz", sync_to_thread=False, tags=["health"])
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@get("/readyz", tags=["health"],
     responses=_documented(s503="Not ready: the database is away or configuration loading."))
async def readyz(request: Request[Any, Any, Any]) -> Response[Any]:
    """Readiness: the state database answers, writes to it work (the last write, or a probe
    write when none was made for 30 s) and configuration is loaded."""
    services = _services(request)
    try:
        environments = await anyio.to_thread.run_sync(services.store.environments)
    except HookplaneError as exc:
        return _json({"status": "unavailable", "error": str(exc)}, 503)
    failing = await anyio.to_thread.run_sync(services.store.write_health)
    if failing is not None:  # reads work, writes do not (a full disk, a read-only file)
        return _json({"status": "degraded", "error": f"writes to the state database fail: "
                      f"{failing}"}, 503)
    loaded = services.registry.environments()
    if set(environments) - set(loaded):
        return _json({"status": "loading", "environments": loaded}, 503)
    return _json({"status": "ready", "environments": loaded}, 200)


@get("/metrics", tags=["health"], media_type="text/plain; version=0.0.4; charset=utf-8")
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus metrics."""
    services = _services(request)

    def refresh() -> None:
        for name in services.registry.environments():
            view = services.registry.get(name)
            if view is not None:
                services.metrics.config_serial.labels(environment=name).set(view.serial)

    depth_jobs = await anyio.to_thread.run_sync(services.runtime.jobs_pending)
    depth_outbox = await anyio.to_thread.run_sync(services.runtime.outbox_depth)
    services.metrics.set_depth("jobs", depth_jobs)
    services.metrics.set_depth("outbox", depth_outbox)
    return Response(content=services.metrics.render(refresh), status_code=200,
                    media_type=services.metrics.content_type)


# --------------------------------------------------------------------------- ingest


@post("/inbound/{environment:str}/{webhook_id:str}/ingest", tags=["inbound"],
      request_max_body_size=MAX_INGEST_BODY, status_code=200,
      responses=_documented(400, 401, 403, 404, 408, 413, 415, 422, 429, 503,
                            s201="Stored: a new record.",
                            s202="Accepted: a hydration or invoke job was queued.",
                            s200="Updated, a duplicate delivery, or a provider handshake "
                                 "answered without a record (Slack url_verification, Zoom "
                                 "endpoint.url_validation; Twitch's challenge is text/plain).")
      | {204: ResponseSpec(data_container=None, generate_examples=False,
                           description="A Twitch revocation, logged; no record.")})
async def ingest(request: Request[Any, Any, Any], environment: FromPath[str],
                 webhook_id: FromPath[str]) -> Response[Any]:
    """Receive a delivery for an inbound webhook (JSON, or a form where the provider posts
    one, authenticated per its auth type); provider handshakes are answered without a
    record."""
    return await _ingest(request, environment, webhook_id)


@get("/inbound/{environment:str}/{webhook_id:str}/ingest", tags=["inbound"],
     responses=_documented(400, 403, 404, 405, 429, 503,
                           s200="The provider's challenge, echoed as text/plain (Meta's "
                                "hub.challenge once hub.verify_token matches, Dropbox's "
                                "challenge)."))
async def ingest_handshake(request: Request[Any, Any, Any], environment: FromPath[str],
                           webhook_id: FromPath[str]) -> Response[Any]:
    """A provider's verification request (``meta``: ``hub.mode=subscribe&hub.verify_token=…
    &hub.challenge=…``; ``dropbox``: ``?challenge=…``); any other type answers 405."""
    return await _ingest(request, environment, webhook_id)


async def _ingest(request: Request[Any, Any, Any], environment: str,
                  webhook_id: str) -> Response[Any]:
    services = _services(request)
    try:
        length = request.content_length
    except Exception:  # a garbled Content-Length: read and cap the body instead
        length = None
    peer = request.client.host if request.client else None
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    arrival = Arrival(method=request.method,
                      path=raw_path.decode("latin-1") if isinstance(raw_path, bytes)
                      else str(raw_path),
                      query=request.scope.get("query_string", b"").decode("latin-1"))
    outcome = await services.ingest.handle(environment, webhook_id, peer=peer,
                                           headers=request.headers, content_length=length,
                                           chunks=request.stream(), arrival=arrival)
    if outcome.text is not None:
        return Response(content=outcome.text, status_code=outcome.status,
                        headers=outcome.headers, media_type="text/plain")
    if outcome.status == 204:
        return Response(content=b"", status_code=204, headers=outcome.headers)
    return _json(outcome.body, outcome.status, outcome.headers)


# --------------------------------------------------------------------------- records


def _caller(request: Request[Any, Any, Any]) -> Caller:
    """The records API's caller: its bearer token (None when it sent none) and address."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    trace = {name: request.headers[name] for name in TRACE_HEADERS if name in request.headers}
    return Caller(token.strip() if scheme.lower() == "bearer" and token.strip() else None,
                  request.client.host if request.client else None, trace=trace or None)


RECORD_BODY_BYTES = 1_048_576
"""Largest records API body (the same default as an inbound webhook's ``max_body_bytes``)."""


async def _record_body(request: Request[Any, Any, Any], environment: str, collection: str,
                       ) -> dict[str, Any] | Response[Any]:
    """The JSON object of a create/update, read only once the API key may write here, within
    ``RECORD_BODY_BYTES`` (413) and the ingest body deadline (408)."""
    from hookplane.runtime.ingest import BODY_SECONDS, BodyTooLarge, parse_json, read_capped

    refused = _services(request).records.refuse(environment, collection, _caller(request),
                                                "write")
    if refused is not None:
        return _json(refused.body, refused.status, refused.headers)
    too_large = _json({"error": f"body larger than {RECORD_BODY_BYTES} bytes"}, 413)
    try:
        if (request.content_length or 0) > RECORD_BODY_BYTES:
            return too_large
    except Exception:  # a garbled Content-Length: read and cap the body instead
        pass
    try:
        with anyio.fail_after(BODY_SECONDS):
            body = await read_capped(request.stream(), RECORD_BODY_BYTES)
    except BodyTooLarge:
        return too_large
    except TimeoutError:
        return _json({"error": f"the body did not arrive within {BODY_SECONDS:g}s"}, 408)
    except Exception:
        return _json({"error": "could not read the body"}, 400)
    try:
        data = parse_json(body)
    except (ValueError, RecursionError):
        return _json({"error": "body is not valid JSON"}, 400)
    if not isinstance(data, dict):
        return _json({"error": "the body must be a JSON object"}, 400)
    return data


def _origin(request: Request[Any, Any, Any]) -> str:
    return "hook" if request.headers.get("x-hookplane-source", "").lower() == "hook" else "api"


RECORDS = "/api/{environment:str}/collections/{collection:str}/records"


@post(RECORDS, tags=["records"], status_code=201,
      responses=_documented(*_RECORD_WRITE_ERRORS))
async def create_record(request: Request[Any, Any, Any], environment: FromPath[str],
                        collection: FromPath[str]) -> Response[Any]:
    """Create a record (validated against the collection schema)."""
    data = await _record_body(request, environment, collection)
    if isinstance(data, Response):
        return data
    result = await _services(request).records.create(
        environment, collection, _caller(request), data, origin=_origin(request))
    return _json(result.body, result.status, result.headers)


@get(RECORDS, tags=["records"], responses=_documented(*_RECORD_READ_ERRORS))
async def list_records(
    request: Request[Any, Any, Any], environment: FromPath[str], collection: FromPath[str],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: FromQuery[str | None] = None,
) -> Response[Any]:
    """List records, newest first; any other query parameter filters by field equality."""
    filters = {k: v for k, v in request.query_params.items() if k not in ("limit", "cursor")}
    result = await _services(request).records.list(
        environment, collection, _caller(request), filters=filters, limit=limit, cursor=cursor)
    return _json(result.body, result.status, result.headers)


@get(RECORDS + "/{record_id:str}", tags=["records"],
     responses=_documented(*_RECORD_READ_ERRORS))
async def get_record(request: Request[Any, Any, Any], environment: FromPath[str],
                     collection: FromPath[str], record_id: FromPath[str]) -> Response[Any]:
    """Read one record."""
    result = await _services(request).records.get(environment, collection, _caller(request),
                                                  record_id)
    return _json(result.body, result.status, result.headers)


@patch(RECORDS + "/{record_id:str}", tags=["records"],
       responses=_documented(*_RECORD_WRITE_ERRORS))
async def update_record(request: Request[Any, Any, Any], environment: FromPath[str],
                        collection: FromPath[str], record_id: FromPath[str]) -> Response[Any]:
    """Update a record with a JSON merge patch (RFC 7396)."""
    data = await _record_body(request, environment, collection)
    if isinstance(data, Response):
        return data
    result = await _services(request).records.update(
        environment, collection, _caller(request), record_id, data, origin=_origin(request))
    return _json(result.body, result.status, result.headers)


@delete(RECORDS + "/{record_id:str}", tags=["records"], status_code=200,
        responses=_documented(*_RECORD_READ_ERRORS, 409))
async def delete_record(request: Request[Any, Any, Any], environment: FromPath[str],
                        collection: FromPath[str], record_id: FromPath[str]) -> Response[Any]:
    """Soft-delete a record."""
    result = await _services(request).records.delete(
        environment, collection, _caller(request), record_id, origin=_origin(request))
    return _json(result.body, result.status, result.headers)


# --------------------------------------------------------------------------- admin


def _admin_guard(connection: ASGIConnection[Any, Any, Any, Any],
                 handler: BaseRouteHandler) -> None:
    """Every /admin route: ``Authorization: Bearer $HOOKPLANE_ADMIN_TOKEN`` (off without it)."""
    services: Services = connection.app.state.services
    token = services.admin_token
    if not token:
        raise NotFoundException("management API is off: set HOOKPLANE_ADMIN_TOKEN")
    del handler  # one rule for every admin route
    address = connection.client.host if connection.client else None
    wait = services.auth.retry_after(address)
    if wait is not None:  # too many wrong tokens from this client: not even checked
        raise TooManyRequestsException("too many wrong admin tokens from this address; "
                                       f"try again in {wait}s",
                                       headers={"Retry-After": str(wait)})
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise NotAuthorizedException("admin token required")  # no guess: not counted
    if not hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(),
                               hashlib.sha256(token.encode()).digest()):
        services.auth.failed(address, "admin API")
        raise NotAuthorizedException("admin token required")
    services.auth.succeeded(address)


async def _rows(load: Callable[[], list[dict[str, Any]]
                                | tuple[list[dict[str, Any]], str | None] | None],
                missing: str) -> Response[Any]:
    """Run a store read in a thread; ``None`` means the thing asked for does not exist. A
    page (rows, next cursor) answers ``{"data": [...], "next_cursor": "…" | null}``."""
    rows = await anyio.to_thread.run_sync(load)
    if rows is None:
        return _json({"error": missing}, 404)
    if isinstance(rows, tuple):
        return _json({"data": rows[0], "next_cursor": rows[1]}, 200)
    return _json({"data": rows}, 200)


@get("/{environment:str}/inbound-webhooks", tags=["admin"], responses=_documented(*_ADMIN_ERRORS))
async def admin_list_inbound(request: Request[Any, Any, Any],
                             environment: FromPath[str]) -> Response[Any]:
    """List inbound webhooks with ingest path, token prefix, has_secret, last use."""
    return await _rows(lambda: describe_inbound(_services(request), environment),
                       f"no environment '{environment}'")


@get("/{environment:str}/inbound-webhooks/{name:str}/deliveries", tags=["admin"],
     responses=_documented(*_ADMIN_ERRORS))
async def admin_inbound_deliveries(request: Request[Any, Any, Any], environment: FromPath[str],
                                   name: FromPath[str],
                                   limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
                                   cursor: FromQuery[str | None] = None,
                                   ) -> Response[Any]:
    """The inbound delivery log of one webhook, newest first, a page at a time
    (``next_cursor`` → ``?cursor=``)."""
    return await _rows(lambda: inbound_deliveries(_services(request), environment, name, limit,
                                                  cursor),
                       f"no inbound webhook '{name}' in '{environment}'")


@post("/{environment:str}/inbound-webhooks/{name:str}/rotate-secret", tags=["admin"],
      responses=_documented(*_ADMIN_ERRORS),
      status_code=200)
async def admin_rotate_inbound(request: Request[Any, Any, Any], environment: FromPath[str],
                               name: FromPath[str],
                               secret: Annotated[
                                   Literal["token", "hmac_secret", "signing_secret"] | None,
                                   QueryParameter(description="which secret, when the webhook "
                                                  "has several (default: the first)")] = None,
                               ) -> Response[Any]:
    """Rotate the webhook's secret or token; the new one is returned once."""
    result = await anyio.to_thread.run_sync(
        lambda: rotate(_services(request), environment, "inbound_webhooks", name,
                       which=secret))
    return _json(result[0], result[1])


@get("/{environment:str}/triggers", tags=["admin"], responses=_documented(*_ADMIN_ERRORS))
async def admin_list_triggers(request: Request[Any, Any, Any],
                              environment: FromPath[str]) -> Response[Any]:
    """List triggers: collection, events, destination host (never the full URL), active,
    last delivery status."""
    return await _rows(lambda: describe_triggers(_services(request), environment),
                       f"no environment '{environment}'")


@get("/{environment:str}/triggers/{name:str}/deliveries", tags=["admin"],
     responses=_documented(*_ADMIN_ERRORS))
async def admin_trigger_deliveries(
    request: Request[Any, Any, Any], environment: FromPath[str], name: FromPath[str], *,
    status: FromQuery[str | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: FromQuery[str | None] = None,
) -> Response[Any]:
    """Delivery history: time, HTTP status, success, attempts, latency, error; a page at a
    time (``next_cursor`` → ``?cursor=``)."""
    return await _rows(lambda: trigger_deliveries(_services(request), environment, name,
                                                  status=status, limit=limit, cursor=cursor),
                       f"no trigger '{name}' in '{environment}'")


@post("/{environment:str}/triggers/{name:str}/test", tags=["admin"],
      responses=_documented(*_ADMIN_ERRORS), status_code=200)
async def admin_test_trigger(request: Request[Any, Any, Any], environment: FromPath[str],
                             name: FromPath[str]) -> Response[Any]:
    """Send a synthetic signed 'test' event now and return the receiver's answer."""
    services = _services(request)
    view = services.registry.get(environment)
    if view is None or name not in view.triggers or services.dispatcher is None:
        return _json({"error": f"no trigger '{name}' in '{environment}'"}, 404)
    try:
        result = await services.dispatcher.send_test(view, name)
    except HookplaneError as exc:
        return _json({"error": str(exc)}, 409)
    return _json(result, 200)


@post("/{environment:str}/deliveries/{delivery_id:str}/redeliver", tags=["admin"],
      responses=_documented(*_ADMIN_ERRORS),
      status_code=200)
async def admin_redeliver(request: Request[Any, Any, Any], environment: FromPath[str],
                          delivery_id: FromPath[str]) -> Response[Any]:
    """Queue a failed delivery again (same webhook-id)."""
    services = _services(request)
    done = await anyio.to_thread.run_sync(
        lambda: services.runtime.redeliver(delivery_id, environment=environment))
    if not done:
        return _json({"error": "only a failed delivery can be redelivered"}, 409)
    if services.dispatcher is not None:
        services.dispatcher.notify()
    return _json({"status": "queued", "id": delivery_id}, 200)


@post("/{environment:str}/triggers/{name:str}/recover", tags=["admin"],
      responses=_documented(*_ADMIN_ERRORS), status_code=200)
async def admin_recover(request: Request[Any, Any, Any], environment: FromPath[str],
                        name: FromPath[str], since: FromQuery[datetime], *,
                        include_delivered: FromQuery[bool] = False) -> Response[Any]:
    """Bulk recovery: queue again every failed (``include_delivered``: every finished)
    delivery of the trigger created since ``since`` (ISO 8601), as one audited operation;
    idempotent while they are queued."""
    services = _services(request)
    when = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
    view = services.registry.get(environment)
    if view is None or name not in view.triggers:
        return _json({"error": f"no trigger '{name}' in '{environment}'"}, 404)
    queued = await anyio.to_thread.run_sync(lambda: recover_deliveries(
        services.store, services.runtime, environment, name, since=when,
        include_delivered=include_delivered, actor="admin api"))
    if services.dispatcher is not None:
        services.dispatcher.notify()
    return _json({"queued": queued, "since": when.isoformat(),
                  "include_delivered": include_delivered}, 200)


@post("/{environment:str}/triggers/{name:str}/enable", tags=["admin"],
      responses=_documented(*_ADMIN_ERRORS), status_code=200)
async def admin_enable_trigger(request: Request[Any, Any, Any], environment: FromPath[str],
                               name: FromPath[str]) -> Response[Any]:
    """Close the trigger's circuit breaker (re-enable it after ``trigger.disabled``): its
    waiting deliveries are due at once; audited."""
    services = _services(request)
    view = services.registry.get(environment)
    if view is None or name not in view.triggers:
        return _json({"error": f"no trigger '{name}' in '{environment}'"}, 404)
    done = await anyio.to_thread.run_sync(lambda: enable_trigger(
        services.store, services.runtime, environment, name, actor="admin api"))
    if services.dispatcher is not None:
        services.dispatcher.resume(view.triggers[name].id)
    return _json(done, 200)


@post("/{environment:str}/triggers/{name:str}/rotate-secret", tags=["admin"],
      responses=_documented(*_ADMIN_ERRORS),
      status_code=200)
async def admin_rotate_trigger(request: Request[Any, Any, Any], environment: FromPath[str],
                               name: FromPath[str]) -> Response[Any]:
    """Rotate the signing secret; deliveries carry both signatures for 24 hours."""
    result = await anyio.to_thread.run_sync(
        lambda: rotate(_services(request), environment, "triggers", name))
    return _json(result[0], result[1])


# --------------------------------------------------------------------------- app


def route_template(scope: Scope) -> str:
    """The route's whole template, router prefixes included (``/admin/{environment}/
    triggers``, Litestar's ``path_template``): the handler's own path alone made an admin and
    a console route with the same tail one label. ``unmatched`` for requests no route
    answered."""
    template = scope.get("path_template")
    if isinstance(template, str) and template and scope.get("route_handler") is not None:
        return template
    return "unmatched"


def _metrics_middleware(app: ASGIApp) -> ASGIApp:
    """Count requests and time them by route template (never by raw path: ids stay out)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            route = route_template(scope)
            meters: Metrics = scope["app"].state.services.metrics
            meters.requests.labels(route=route, status=str(status)).inc()
            meters.latency.labels(route=route).observe(time.perf_counter() - started)

    return middleware


def _error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, HTTPException):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        headers.update(exc.headers or {})
        return _json({"error": exc.detail}, exc.status_code, headers)
    if isinstance(exc, DatabaseUnavailable):
        log.warning("state database unavailable: %s", type(exc).__name__)
        return _json({"error": "state database unavailable; try again"}, 503,
                     {"Retry-After": "5"})
    if isinstance(exc, InvalidQuery):
        return _json({"error": str(exc)}, 400)
    if isinstance(exc, RecordNotFound):
        return _json({"error": str(exc)}, 404)
    if isinstance(exc, RecordConflict | DuplicateDelivery):
        return _json({"error": str(exc)}, 409)
    if isinstance(exc, HookplaneError):
        return _json({"error": str(exc)}, 400)
    log.exception("unhandled error on %s", request.url.path)
    return _json({"error": "internal error"}, 500)


def create_app(
    *,
    database_url: str | None = None,
    root: Path | None = None,
    admin_token: str | None = None,
    reload_interval: float = 1.0,
    run_jobs: bool = True,
    sender: Sender | None = None,
    dispatch_concurrency: int = 8,
    lease_seconds: float = 60.0,
    tracing: Tracing | None = None,
) -> Litestar:
    """Build the runtime. Configuration comes from the state database ``database_url``.

    ``sender`` is the one outbound sender — trigger deliveries, test sends, redeliveries,
    external writes, hydration fetches, invoke calls — and defaults to the egress-guarded
    one (no private, loopback or metadata addresses; ``HOOKPLANE_ALLOW_NETWORKS`` opens
    CIDRs); the runtime builds no other HTTP client.
    ``run_jobs=False`` serves requests without background workers. ``lease_seconds`` is how
    long a worker holds a claimed delivery or job: after a crash, another worker (or this one
    restarted) takes it over when the lease runs out. ``tracing``: OpenTelemetry spans and
    trace propagation (default: as the ``OTEL_*`` variables say, off unless they ask).
    """
    root = root or Path.cwd()
    token = admin_token if admin_token is not None else (
        os.environ.get("HOOKPLANE_ADMIN_TOKEN") or None)
    check_admin_token(token)  # a weak token stops start-up, before anything is opened
    auth = FailedAuth()
    store = Store.open(database_url, root=root)
    runtime = RuntimeStore(store)
    registry = Registry(store)
    registry.refresh()
    meters = Metrics(replica=replica())
    limiter = RateLimiter()
    traced = tracing if tracing is not None else tracing_from_env()
    guarded = sender or sender_from_env()
    outbound: Sender = TracedSender(guarded, traced) if traced.enabled else guarded
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    events = WriteEvents(registry, tracing=traced)
    dispatcher = (Dispatcher(registry, runtime, outbound, meters, worker=worker,
                             concurrency=dispatch_concurrency, lease_seconds=lease_seconds,
                             retention_days=retention_days_from_env(), tracing=traced)
                  if run_jobs else None)
    if dispatcher is not None:
        events.subscribe(dispatcher.notify)
    services = Services(
        store=store, runtime=runtime, registry=registry, metrics=meters,
        ingest=IngestService(registry, runtime, limiter, meters, events,
                             public_url=os.environ.get("HOOKPLANE_PUBLIC_URL") or None),
        records=RecordsService(registry, runtime, events, auth=auth),
        jobs=(JobRunner(registry, runtime, outbound, meters, events=events, worker=worker,
                        lease_seconds=lease_seconds) if run_jobs else None),
        dispatcher=dispatcher,
        system=SystemEvents(store, runtime, registry),
        admin_token=token,
        sender=outbound,
        auth=auth,
    )

    @contextlib.asynccontextmanager
    async def background(app: Litestar) -> AsyncIterator[None]:
        async def watch() -> None:
            while True:
                await anyio.sleep(reload_interval)
                try:
                    changed = await anyio.to_thread.run_sync(registry.refresh)
                except Exception:  # database away: keep serving the last configuration
                    log.warning("configuration watcher could not reach the state database")
                    continue
                for name in changed:
                    loaded = registry.get(name)
                    log.info("loaded configuration of %r (serial %s)", name,
                             loaded.serial if loaded is not None else "?")
                try:
                    if await anyio.to_thread.run_sync(services.system.poll) and dispatcher:
                        dispatcher.notify()
                except Exception:
                    log.warning("could not queue system events", exc_info=True)

        async with anyio.create_task_group() as group:
            group.start_soon(watch)
            if services.jobs is not None:
                group.start_soon(services.jobs.run_forever)
            if services.dispatcher is not None:
                group.start_soon(services.dispatcher.run_forever)
            try:
                yield
            finally:
                group.cancel_scope.cancel()
        if sender is None:
            await outbound.aclose()
        if tracing is None:
            traced.shutdown()  # export the spans still buffered
        store.close()

    app = Litestar(
        route_handlers=[
            healthz, readyz, metrics, ingest, ingest_handshake, create_record, list_records,
            get_record, update_record, delete_record,
            Router(path="/admin", guards=[_admin_guard], route_handlers=[
                admin_list_inbound, admin_inbound_deliveries, admin_rotate_inbound,
                admin_list_triggers, admin_trigger_deliveries, admin_test_trigger,
                admin_redeliver, admin_recover, admin_enable_trigger,
                admin_rotate_trigger]),
            *console_handlers(root=root),
        ],
        template_config=template_config(),
        lifespan=[background],
        exception_handlers={Exception: _error_handler},
        openapi_config=OpenAPIConfig(title="Hookplane runtime", version=__version__,
                                     path="/schema", use_handler_docstrings=True,
                                     render_plugins=schema_plugins()),
        middleware=[_metrics_middleware],
        debug=False,
    )
    app.state.services = services
    return app


def server_config(app: Litestar, *, host: str, port: int, log_level: str = "info",
                  graceful_seconds: int = 10,
                  head_seconds: float = DEFAULT_HEAD_SECONDS) -> uvicorn.Config:
    """The uvicorn settings of ``hookplane serve`` (tests start the runtime with the same).

    ``proxy_headers`` is off: uvicorn would otherwise rewrite the client address from
    ``X-Forwarded-For`` for any peer on 127.0.0.1, before the per-webhook
    ``trusted_proxies`` rule sees it, letting a forged header through an IP allowlist.

    ``http`` is httptools with a request-head deadline of ``head_seconds``: uvicorn alone
    lets a client hold a connection forever by trickling its headers (slowloris).
    """
    # every request gets an id (X-Request-ID in and out) that every log line of it carries
    return uvicorn.Config(request_ids(app), host=host, port=port, log_level=log_level,
                          lifespan="on",
                          proxy_headers=False, forwarded_allow_ips="", timeout_keep_alive=5,
                          timeout_graceful_shutdown=graceful_seconds, limit_concurrency=2048,
                          server_header=False, http=head_deadline_protocol(head_seconds))
