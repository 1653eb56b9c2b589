"""Prometheus metrics, in a registry of the app's own (several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, *, replica: str | None = None) -> None:
        self.replica = replica
        """Added to every sample as the ``replica`` label (None: no such label)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("hookplane_http_requests", "HTTP requests served",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("hookplane_http_request_seconds", "HTTP request latency",
                                 ["route"], registry=self.registry)
        self.inbound_total = Counter("hookplane_inbound_deliveries",
                                     "Inbound deliveries by outcome", ["reason"],
                                     registry=self.registry)
        self.verify_failed = Counter("hookplane_verifications_failed",
                                     "Inbound signature/token verifications that failed",
                                     ["reason"], registry=self.registry)
        self.outbound_total = Counter("hookplane_outbound_deliveries",
                                      "Outbound delivery attempts by result", ["result"],
                                      registry=self.registry)
        self.jobs_total = Counter("hookplane_jobs", "Hydration and invoke jobs by result",
                                  ["kind", "result"], registry=self.registry)
        self.queue_depth = Gauge("hookplane_queue_depth",
                                 "Pending outbox rows and jobs", ["queue"],
                                 registry=self.registry)
        self.config_serial = Gauge("hookplane_config_serial",
                                   "Applied configuration serial served", ["environment"],
                                   registry=self.registry)

    def inbound(self, reason: str) -> None:
        self.inbound_total.labels(reason=reason).inc()

    def verification_failed(self, reason: str) -> None:
        self.verify_failed.labels(reason=reason).inc()

    def set_depth(self, queue: str, depth: int) -> None:
        self.queue_depth.labels(queue=queue).set(depth)

    def render(self, refresh: Callable[[], None] | None = None) -> bytes:
        """The exposition text; with a ``replica`` every sample carries it as a label."""
        if refresh is not None:
            refresh()
        if self.replica is None:
            return generate_latest(self.registry)
        return generate_latest(_Labelled(self.registry, self.replica))


class _Labelled:
    """A registry's families with ``replica="host:pid"`` added to every sample: each
    replica (and each ``serve --processes`` process) exposes its own counters, and a
    dashboard sums them ``by`` anything but ``replica``."""

    def __init__(self, registry: CollectorRegistry, replica: str) -> None:
        self._registry = registry
        self._replica = replica

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            labelled.samples = [sample._replace(labels={**sample.labels,
                                                        "replica": self._replica})
                                for sample in family.samples]
            yield labelled
