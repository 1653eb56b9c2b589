"""``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from litestar import Response, get

from hookplane.errors import HookplaneError
from hookplane.runtime.controllers._base import BaseController
from hookplane.runtime.controllers._openapi import documented
from hookplane.runtime.controllers.deps import ServicesDep, provide, provide_services


class HealthController(BaseController):
    tags = ("health",)
    dependencies = provide(services=provide_services)

    @get("/healthz", sync_to_thread=False)
    def healthz(self) -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @get("/readyz", responses=documented(
        s503="Not ready: the database is away or configuration loading."))
    async def readyz(self, services: ServicesDep) -> Response[Any]:
        """Readiness: the state database answers, writes to it work (the last write, or a
        probe write when none was made for 30 s) and configuration is loaded."""
        try:
            environments = await anyio.to_thread.run_sync(services.store.environments)
        except HookplaneError as exc:  # the answer says why: this is not an error
            return Response({"status": "unavailable", "error": str(exc)}, status_code=503)
        failing = await anyio.to_thread.run_sync(services.store.write_health)
        if failing is not None:  # reads work, writes do not (a full disk, a read-only file)
            return Response({"status": "degraded", "error": f"writes to the state database "
                             f"fail: {failing}"}, status_code=503)
        loaded = services.registry.environments()
        if set(environments) - set(loaded):
            return Response({"status": "loading", "environments": loaded}, status_code=503)
        return Response({"status": "ready", "environments": loaded}, status_code=200)

    @get("/metrics", media_type="text/plain; version=0.0.4; charset=utf-8")
    async def metrics(self, services: ServicesDep) -> Response[bytes]:
        """Prometheus metrics."""

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
