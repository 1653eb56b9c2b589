"""``create_app()``: the composition root of the Litestar application ``hookplane serve``
runs. It builds the services once, mounts the controllers (:mod:`hookplane.runtime.
controllers`, fed by dependency injection), maps every error through the one table of
:mod:`hookplane.runtime.problems` and runs the background tasks in the lifespan.

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
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.to_thread
import uvicorn
from litestar import Litestar
from litestar.enums import ScopeType
from litestar.openapi.config import OpenAPIConfig
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from hookplane import __version__
from hookplane.runtime.authguard import FailedAuth, check_admin_token
from hookplane.runtime.console import console_handlers, template_config
from hookplane.runtime.controllers import (
    ADMIN,
    HealthController,
    InboundController,
    RecordsController,
)
from hookplane.runtime.controllers._openapi import components
from hookplane.runtime.controllers.deps import attach_services, services_of
from hookplane.runtime.controllers.records import RECORD_BODY_BYTES
from hookplane.runtime.dispatch import Dispatcher, retention_days_from_env
from hookplane.runtime.egress import Sender, sender_from_env
from hookplane.runtime.events import WriteEvents
from hookplane.runtime.ingest import IngestService
from hookplane.runtime.jobs import JobRunner
from hookplane.runtime.logs import replica, request_ids
from hookplane.runtime.metrics import Metrics
from hookplane.runtime.problems import json_error
from hookplane.runtime.protocol import DEFAULT_HEAD_SECONDS, head_deadline_protocol
from hookplane.runtime.ratelimit import RateLimiter
from hookplane.runtime.records import RecordsService
from hookplane.runtime.registry import Registry
from hookplane.runtime.schema_page import schema_plugins
from hookplane.runtime.services import Services
from hookplane.runtime.system import SystemEvents
from hookplane.runtime.tracing import TracedSender, Tracing, tracing_from_env
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store

__all__ = ["CONTROLLERS", "RECORD_BODY_BYTES", "Services", "create_app", "route_template",
           "server_config", "watch_configuration"]

log = logging.getLogger("hookplane.runtime")


CONTROLLERS = (HealthController, InboundController, RecordsController, ADMIN)
"""Every JSON route (the console is its own router, added by ``console_handlers``)."""


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
            meters: Metrics = services_of(scope["app"]).metrics
            meters.requests.labels(route=route, status=str(status)).inc()
            meters.latency.labels(route=route).observe(time.perf_counter() - started)

    return middleware


async def watch_configuration(services: Services, interval: float) -> None:
    """Reload an environment's configuration within ``interval`` of its serial moving, and
    queue the system events that became due; a database away keeps the last configuration
    served."""
    registry = services.registry
    while True:
        await anyio.sleep(interval)
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
            if await anyio.to_thread.run_sync(services.system.poll) and services.dispatcher:
                services.dispatcher.notify()
        except Exception:
            log.warning("could not queue system events", exc_info=True)


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
        async with anyio.create_task_group() as group:
            group.start_soon(watch_configuration, services, reload_interval)
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
        route_handlers=[*CONTROLLERS, *console_handlers(root=root, admin_token=token)],
        template_config=template_config(),
        lifespan=[background],
        exception_handlers={Exception: json_error},
        openapi_config=OpenAPIConfig(title="Hookplane runtime", version=__version__,
                                     path="/schema", use_handler_docstrings=True,
                                     components=components(),
                                     render_plugins=schema_plugins()),
        middleware=[_metrics_middleware],
        debug=False,
    )
    attach_services(app, services)
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
