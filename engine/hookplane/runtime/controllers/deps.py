"""Dependency providers: what a controller names in ``dependencies = provide(…)`` (a
``{name: Provide(provider)}`` table).

``create_app`` (the composition root) builds :class:`~hookplane.runtime.services.Services`
once and keeps it in the application state (:func:`attach_services`); these hand each part
to the handlers that declare it, so a handler never looks a service up itself. Synchronous,
no thread hop.

The code that runs *before* dependencies are resolved -- a guard (the admin token check), a
``before_request`` hook (the console's session gate), an exception handler (the console's
error page), the metrics middleware -- cannot be injected; it calls :func:`services_of`,
the one reader of the application state besides the providers here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from hookplane.runtime.ingest import IngestService
from hookplane.runtime.records import RecordsService
from hookplane.runtime.services import Services

ServicesDep: TypeAlias = NamedDependency[Services]
IngestDep: TypeAlias = NamedDependency[IngestService]
RecordsDep: TypeAlias = NamedDependency[RecordsService]
"""What a handler's parameter is annotated with to receive the provided service."""

_KEY = "services"


def attach_services(app: Litestar, services: Services) -> None:
    """Give ``app`` its services (``create_app``, once)."""
    app.state[_KEY] = services


def services_of(app: Litestar) -> Services:
    """``app``'s services, for code that runs before dependency injection (guards,
    ``before_request`` hooks, exception handlers, middleware): ``services_of(connection.app)``.
    A handler declares what it needs instead."""
    return provide_services(app.state)


def provide_services(state: State) -> Services:
    services: Services = state[_KEY]
    return services


def provide_ingest(state: State) -> IngestService:
    return provide_services(state).ingest


def provide_records(state: State) -> RecordsService:
    return provide_services(state).records


def provide(**providers: Callable[..., Any]) -> dict[str, Provide]:
    """A controller's ``dependencies``: each name fed by its provider."""
    return {name: Provide(provider, sync_to_thread=False)
            for name, provider in providers.items()}
