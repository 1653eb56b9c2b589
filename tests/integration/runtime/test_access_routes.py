"""The access log's ``route`` is the route as written, whatever serves it: a controller's
handler (its path and the controller's) and the ``OPTIONS`` handler Litestar adds to the same
route (which carries the whole path already) log the same template, on the API, the admin
API and the console."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import httpx

from hookplane.runtime import logs
from hookplane.runtime.app import create_app

TOKEN = "admin-token-for-tests-0123456789"


class _Routes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.routes: list[str | None] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.routes.append(getattr(record, "route", None))


def test_a_route_logs_one_template_for_every_method(tmp_path: Path) -> None:
    app = create_app(database_url=f"sqlite:///{tmp_path / 'state.db'}", root=tmp_path,
                     admin_token=TOKEN, run_jobs=False)
    asked = [("GET", "/console/preview/triggers"), ("OPTIONS", "/console/preview/triggers"),
             ("GET", "/console/sign-in"), ("OPTIONS", "/console/sign-in"),
             ("GET", "/console"), ("OPTIONS", "/console"),
             ("GET", "/admin/preview/triggers"), ("OPTIONS", "/admin/preview/triggers"),
             ("GET", "/healthz"), ("OPTIONS", "/healthz")]

    async def main() -> list[int]:
        transport = httpx.ASGITransport(app=logs.request_ids(app))
        async with httpx.AsyncClient(transport=transport, base_url="https://test") as client:
            return [(await client.request(method, path)).status_code for method, path in asked]

    access = logging.getLogger(logs.ACCESS_LOGGER)
    seen, level = _Routes(), access.level
    access.addHandler(seen)
    access.setLevel(logging.INFO)
    try:
        statuses = anyio.run(main)
    finally:
        access.removeHandler(seen)
        access.setLevel(level)
    # signed out: the console redirects a GET and refuses anything else; the admin API wants
    # its token, whatever the method
    assert statuses == [303, 403, 200, 403, 303, 403, 401, 401, 200, 204]
    assert seen.routes == ["/{environment:str}/triggers"] * 2 + ["/sign-in"] * 2 + ["/"] * 2 + [
        "/{environment:str}/triggers"] * 2 + ["/healthz"] * 2
