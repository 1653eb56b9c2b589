"""``Services``: what ``create_app`` (the composition root) builds once per process and
the controllers receive by dependency injection (``Provide``), never by looking it up."""

from __future__ import annotations

from dataclasses import dataclass

from hookplane.runtime.authguard import FailedAuth
from hookplane.runtime.dispatch import Dispatcher
from hookplane.runtime.egress import Sender
from hookplane.runtime.ingest import IngestService
from hookplane.runtime.jobs import JobRunner
from hookplane.runtime.metrics import Metrics
from hookplane.runtime.records import RecordsService
from hookplane.runtime.registry import Registry
from hookplane.runtime.system import SystemEvents
from hookplane.state.runtime import RuntimeStore
from hookplane.state.store import Store


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
