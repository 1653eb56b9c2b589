"""``/admin/{environment}/…``: the management API (``Authorization: Bearer
$HOOKPLANE_ADMIN_TOKEN``; off, 404, when no admin token is configured)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio.to_thread
from litestar import Router, get, post
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery, QueryParameter

from hookplane.errors import Conflict, NotAuthenticated, NotFound, Throttled
from hookplane.runtime.admin import (
    describe_inbound,
    describe_triggers,
    enable_trigger,
    inbound_deliveries,
    recover_deliveries,
    rotate,
    trigger_deliveries,
)
from hookplane.runtime.controllers._base import BaseController
from hookplane.runtime.controllers._openapi import ADMIN_ERRORS, ADMIN_SECURITY, documented
from hookplane.runtime.controllers.deps import (
    ServicesDep,
    provide,
    provide_services,
    services_of,
)
from hookplane.runtime.controllers.models import (
    BreakerClosed,
    Queued,
    Recovery,
    RotatedSecret,
    Rows,
    RowsPage,
    TestSend,
)

_Rows = list[dict[str, Any]] | tuple[list[dict[str, Any]], str | None] | None


def admin_guard(connection: ASGIConnection[Any, Any, Any, Any],
                handler: BaseRouteHandler) -> None:
    """Every /admin route: ``Authorization: Bearer $HOOKPLANE_ADMIN_TOKEN`` (off without it).
    A guard runs before dependencies are resolved, so it asks :func:`services_of`."""
    services = services_of(connection.app)
    token = services.admin_token
    if not token:
        raise NotFound("management API is off: set HOOKPLANE_ADMIN_TOKEN")
    del handler  # one rule for every admin route
    address = connection.client.host if connection.client else None
    wait = services.auth.retry_after(address)
    if wait is not None:  # too many wrong tokens from this client: not even checked
        raise Throttled(f"too many wrong admin tokens from this address; try again in {wait}s",
                        retry_after=wait)
    scheme, _, given = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise NotAuthenticated("admin token required")  # no guess: not counted
    if not hmac.compare_digest(hashlib.sha256(given.strip().encode()).digest(),
                               hashlib.sha256(token.encode()).digest()):
        services.auth.failed(address, "admin API")
        raise NotAuthenticated("admin token required")
    services.auth.succeeded(address)


async def _rows(load: Callable[[], _Rows], missing: str) -> dict[str, Any]:
    """Run a store read in a thread; ``None`` means the thing asked for does not exist. A
    page (rows, next cursor) answers ``{"data": [...], "next_cursor": "…" | null}``."""
    rows = await anyio.to_thread.run_sync(load)
    if rows is None:
        raise NotFound(missing)
    if isinstance(rows, tuple):
        return {"data": rows[0], "next_cursor": rows[1]}
    return {"data": rows}


def _admin(model: type[Any], text: str) -> dict[int, ResponseSpec]:
    """An admin route's answers: ``model`` (200) and the admin API's errors."""
    return documented(*ADMIN_ERRORS, answer=(200, model, text))


def _trigger(services: ServicesDep, environment: str, name: str) -> None:
    view = services.registry.get(environment)
    if view is None or name not in view.triggers:
        raise NotFound(f"no trigger '{name}' in '{environment}'")


class AdminController(BaseController):
    """Mounted under the ``/admin`` router (``ADMIN``)."""

    path = "/{environment:str}"
    tags = ("admin",)
    guards = (admin_guard,)
    security = ADMIN_SECURITY
    dependencies = provide(services=provide_services)

    @get("/inbound-webhooks", responses=_admin(Rows, "The inbound webhooks."))
    async def admin_list_inbound(self, services: ServicesDep,
                                 environment: FromPath[str]) -> dict[str, Any]:
        """List inbound webhooks with ingest path, token prefix, has_secret, last use."""
        return await _rows(lambda: describe_inbound(services, environment),
                           f"no environment '{environment}'")

    @get("/inbound-webhooks/{name:str}/deliveries",
         responses=_admin(RowsPage, "A page of the log."))
    async def admin_inbound_deliveries(self, services: ServicesDep, environment: FromPath[str],
                                       name: FromPath[str],
                                       limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
                                       cursor: FromQuery[str | None] = None) -> dict[str, Any]:
        """The inbound delivery log of one webhook, newest first, a page at a time
        (``next_cursor`` → ``?cursor=``)."""
        return await _rows(lambda: inbound_deliveries(services, environment, name, limit,
                                                      cursor),
                           f"no inbound webhook '{name}' in '{environment}'")

    @post("/inbound-webhooks/{name:str}/rotate-secret",
          responses=_admin(RotatedSecret, "The new secret."),
          status_code=200)
    async def admin_rotate_inbound(self, services: ServicesDep, environment: FromPath[str],
                                   name: FromPath[str],
                                   secret: Annotated[
                                       Literal["token", "hmac_secret", "signing_secret"] | None,
                                       QueryParameter(description="which secret, when the webhook "
                                                      "has several (default: the first)")] = None,
                                   ) -> dict[str, Any]:
        """Rotate the webhook's secret or token; the new one is returned once."""
        return await anyio.to_thread.run_sync(
            lambda: rotate(services, environment, "inbound_webhooks", name, which=secret))

    @get("/triggers", responses=_admin(Rows, "The triggers."))
    async def admin_list_triggers(self, services: ServicesDep,
                                  environment: FromPath[str]) -> dict[str, Any]:
        """List triggers: collection, events, destination host (never the full URL), active,
        last delivery status."""
        return await _rows(lambda: describe_triggers(services, environment),
                           f"no environment '{environment}'")

    @get("/triggers/{name:str}/deliveries", responses=_admin(RowsPage, "A page of deliveries."))
    async def admin_trigger_deliveries(
        self, services: ServicesDep, environment: FromPath[str], name: FromPath[str], *,
        status: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """Delivery history: time, HTTP status, success, attempts, latency, error; a page at
        a time (``next_cursor`` → ``?cursor=``)."""
        return await _rows(lambda: trigger_deliveries(services, environment, name,
                                                      status=status, limit=limit,
                                                      cursor=cursor),
                           f"no trigger '{name}' in '{environment}'")

    @post("/triggers/{name:str}/test",
          responses=_admin(TestSend, "The receiver's answer."), status_code=200)
    async def admin_test_trigger(self, services: ServicesDep, environment: FromPath[str],
                                 name: FromPath[str]) -> dict[str, Any]:
        """Send a synthetic signed 'test' event now and return the receiver's answer."""
        view = services.registry.get(environment)
        if view is None or name not in view.triggers or services.dispatcher is None:
            raise NotFound(f"no trigger '{name}' in '{environment}'")
        return await services.dispatcher.send_test(view, name)

    @post("/deliveries/{delivery_id:str}/redeliver", responses=_admin(Queued, "Queued again."),
          status_code=200)
    async def admin_redeliver(self, services: ServicesDep, environment: FromPath[str],
                              delivery_id: FromPath[str]) -> dict[str, Any]:
        """Queue a failed delivery again (same webhook-id)."""
        done = await anyio.to_thread.run_sync(
            lambda: services.runtime.redeliver(delivery_id, environment=environment))
        if not done:
            raise Conflict("only a failed delivery can be redelivered")
        if services.dispatcher is not None:
            services.dispatcher.notify()
        return {"status": "queued", "id": delivery_id}

    @post("/triggers/{name:str}/recover", responses=_admin(Recovery, "How many were queued."),
          status_code=200)
    async def admin_recover(self, services: ServicesDep, environment: FromPath[str],
                            name: FromPath[str], since: FromQuery[datetime], *,
                            include_delivered: FromQuery[bool] = False) -> dict[str, Any]:
        """Bulk recovery: queue again every failed (``include_delivered``: every finished)
        delivery of the trigger created since ``since`` (ISO 8601), as one audited
        operation; idempotent while they are queued."""
        when = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        _trigger(services, environment, name)
        queued = await anyio.to_thread.run_sync(lambda: recover_deliveries(
            services.store, services.runtime, environment, name, since=when,
            include_delivered=include_delivered, actor="admin api"))
        if services.dispatcher is not None:
            services.dispatcher.notify()
        return {"queued": queued, "since": when.isoformat(),
                "include_delivered": include_delivered}

    @post("/triggers/{name:str}/enable",
          responses=_admin(BreakerClosed, "What the breaker held."), status_code=200)
    async def admin_enable_trigger(self, services: ServicesDep, environment: FromPath[str],
                                   name: FromPath[str]) -> dict[str, Any]:
        """Close the trigger's circuit breaker (re-enable it after ``trigger.disabled``): its
        waiting deliveries are due at once; audited."""
        _trigger(services, environment, name)
        done = await anyio.to_thread.run_sync(lambda: enable_trigger(
            services.store, services.runtime, environment, name, actor="admin api"))
        view = services.registry.get(environment)
        if services.dispatcher is not None and view is not None and name in view.triggers:
            services.dispatcher.resume(view.triggers[name].id)
        return done

    @post("/triggers/{name:str}/rotate-secret", responses=_admin(RotatedSecret, "The new secret."),
          status_code=200)
    async def admin_rotate_trigger(self, services: ServicesDep, environment: FromPath[str],
                                   name: FromPath[str]) -> dict[str, Any]:
        """Rotate the signing secret; deliveries carry both signatures for 24 hours."""
        return await anyio.to_thread.run_sync(
            lambda: rotate(services, environment, "triggers", name))


ADMIN = Router(path="/admin", route_handlers=[AdminController])
"""``/admin/{environment}/…``."""
