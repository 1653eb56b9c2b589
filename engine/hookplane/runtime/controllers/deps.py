"""Dependency providers: what a controller names in ``dependencies = provide(…)`` (a
``{name: Provide(provider)}`` table).

``create_app`` (the composition root) builds :class:`~hookplane.runtime.services.Services`
once and keeps it in the application state; these hand each part to the handlers that
declare it, so a handler never looks a service up itself. Synchronous, no thread hop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide

from hookplane.runtime.ingest import IngestService
from hookplane.runtime.records import RecordsService
from hookplane.runtime.services import Services

ServicesDep: TypeAlias = NamedDependency[Services]
IngestDep: TypeAlias = NamedDependency[IngestService]
RecordsDep: TypeAlias = NamedDependency[RecordsService]
"""What a handler's parameter is annotated with to receive the provided service."""


def provide_services(state: State) -> Services:
    services: Services = state.services
    return services


def provide_ingest(state: State) -> IngestService:
    return provide_services(state).ingest


def provide_records(state: State) -> RecordsService:
    return provide_services(state).records


def provide(**providers: Callable[..., Any]) -> dict[str, Provide]:
    """A controller's ``dependencies``: each name fed by its provider."""
    return {name: Provide(provider, sync_to_thread=False)
            for name, provider in providers.items()}
