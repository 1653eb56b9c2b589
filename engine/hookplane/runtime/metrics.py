"""Prometheus metrics, in a registry of the app's own (several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
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
        if refresh is not None:
            refresh()
        return generate_latest(self.registry)
