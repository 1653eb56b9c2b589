"""OpenTelemetry tracing: off unless the standard ``OTEL_*`` variables configure it.

Spans, each with ``hookplane.*`` attributes:

- ``hookplane.ingest`` (server) — one inbound delivery, from its first byte to the answer; its
  parent is the sender's W3C ``traceparent`` header when it sends one.
- ``hookplane.record.write`` — one record written (API, ingest, hydration, invoke), until
  its transaction commits; the deliveries it queues remember this span.
- ``hookplane.delivery`` (client) — one delivery attempt; its parent is the write (or job)
  that queued the delivery, however much later, on whichever replica sends it.
- ``hookplane.job`` — one attempt of a hydration or invoke job; parent: the ingest that
  accepted it.

Every outbound request made inside a span (deliveries, hydration fetches, invoke calls)
carries ``traceparent`` (and ``tracestate``) for the current span, added by
:class:`TracedSender` around the one guarded sender, so a receiver continues the trace.

Configuration (read once, by :func:`tracing_from_env`; the OpenTelemetry SDK reads the rest
itself — ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``,
``OTEL_EXPORTER_OTLP_*``, ``OTEL_BSP_*``):

- tracing is on when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``), or
  when it is unset and ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set (then ``otlp``);
- ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keeps it off;
- the packages come with the ``otel`` extra (``pip install 'hookplane[otel]'``); asking for
  tracing without them stops start-up with that instruction.

Off, every call here is a no-op and no OpenTelemetry module is imported. The exporter sends
to a collector the operator names in the environment, like the state database URL; YAML can
never name it, which is why it is not one of the guarded sender's destinations.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from hookplane.errors import TracingError
from hookplane.runtime.egress import Answer, Sender

TRACE_HEADERS = ("traceparent", "tracestate")
"""The W3C trace-context headers stored with a queued delivery or job and sent onwards."""

_KINDS = ("internal", "server", "client")


class Tracing:
    """Spans and W3C trace-context propagation over one OpenTelemetry ``TracerProvider``;
    without one (the default) every method does nothing."""

    def __init__(self, provider: Any | None = None) -> None:
        self.provider = provider
        self._tracer: Any = None
        self._propagator: Any = None
        if provider is not None:
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )

            from hookplane import __version__

            self._tracer = provider.get_tracer("hookplane", __version__)
            self._propagator = TraceContextTextMapPropagator()

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @contextlib.contextmanager
    def span(self, name: str, *, parent: Mapping[str, Any] | None = None,
             kind: str = "internal", attributes: Mapping[str, Any] | None = None
             ) -> Iterator[Any]:
        """A span around the block, the current span inside it. ``parent``: W3C headers
        (``traceparent``) to continue — an inbound request's, or those stored with a
        queued delivery; without them the span continues the current one. Yields the span
        (None when off); an exception escaping the block marks it as an error."""
        if self._tracer is None:
            yield None
            return
        from opentelemetry.trace import SpanKind

        context = self._propagator.extract(_Headers(parent)) if parent else None
        with self._tracer.start_as_current_span(
                name, context=context, kind=getattr(SpanKind, kind.upper()),
                attributes={k: v for k, v in (attributes or {}).items() if v is not None},
        ) as span:
            yield span

    def carrier(self) -> dict[str, str] | None:
        """The current span as W3C headers (to store with a delivery or job queued now);
        None when off or outside a span."""
        if self._propagator is None:
            return None
        headers: dict[str, str] = {}
        self._propagator.inject(headers)
        return headers or None

    @staticmethod
    def annotate(span: Any, **attributes: Any) -> None:
        """Set ``hookplane.<name>`` attributes on ``span`` (ignored when off)."""
        if span is None:
            return
        for key, value in attributes.items():
            if value is not None:
                span.set_attribute(f"hookplane.{key}", value)

    @staticmethod
    def failed(span: Any, description: str) -> None:
        """Mark ``span`` as failed (a delivery or job that did not succeed)."""
        if span is None:
            return
        from opentelemetry.trace import Status, StatusCode

        span.set_status(Status(StatusCode.ERROR, description[:200]))

    def shutdown(self) -> None:
        """Export what is buffered (on the runtime's shutdown)."""
        if self.provider is not None:
            self.provider.shutdown()


OFF = Tracing()
"""Tracing switched off: what services get unless :func:`create_app` passes another."""


class _Headers(dict[str, Any]):
    """Trace headers looked up case-insensitively (a stored dict or a request's headers)."""

    def __init__(self, source: Mapping[str, Any]) -> None:
        super().__init__()
        if isinstance(source, dict):  # a plain dict keeps the sender's spelling of names
            source = {str(key).lower(): value for key, value in source.items()}
        getall = getattr(source, "getall", None)
        for name in TRACE_HEADERS:
            if getall is not None:  # request headers: every line, not the first one
                values = {str(v) for v in getall(name, [])}
                value = values.pop() if len(values) == 1 else None  # several: none is trusted
            else:
                value = source.get(name)
            if isinstance(value, str) and len(value) <= 512:
                self[name] = value


class TracedSender:
    """The guarded sender with the current span's ``traceparent`` added to each request."""

    def __init__(self, inner: Sender, tracing: Tracing) -> None:
        self._inner = inner
        self._tracing = tracing

    async def send(self, method: str, url: str, *, headers: Mapping[str, str],
                   body: bytes = b"", timeout: float, cap: int) -> Answer:
        trace = self._tracing.carrier()
        if trace:
            present = {name.lower() for name in headers}
            headers = {**headers, **{k: v for k, v in trace.items() if k not in present}}
        return await self._inner.send(method, url, headers=headers, body=body,
                                      timeout=timeout, cap=cap)

    async def aclose(self) -> None:
        await self._inner.aclose()


def tracing_from_env(environ: Mapping[str, str] | None = None) -> Tracing:
    """The tracing the ``OTEL_*`` variables ask for (:data:`OFF` unless they ask)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return OFF
    exporters = [e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",")
                 if e.strip()]
    if not exporters and (env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                          or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        exporters = ["otlp"]
    exporters = [e for e in exporters if e != "none"]
    if not exporters:
        return OFF
    unknown = [e for e in exporters if e not in ("otlp", "console")]
    if unknown:
        raise TracingError(f"OTEL_TRACES_EXPORTER: unknown exporter '{unknown[0]}' (Hookplane "
                           "supports otlp, console and none)")
    try:
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        raise TracingError("tracing is configured (OTEL_TRACES_EXPORTER or "
                           "OTEL_EXPORTER_OTLP_ENDPOINT) but OpenTelemetry is not installed: "
                           "pip install 'hookplane[otel]'") from None
    if env.get("OTEL_SERVICE_NAME"):
        resource = Resource.create({SERVICE_NAME: env["OTEL_SERVICE_NAME"]})
    elif "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        resource = Resource.create()
    else:
        resource = Resource.create({SERVICE_NAME: "hookplane"})
    provider = TracerProvider(resource=resource)
    for exporter in exporters:
        if exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
            continue
        protocol = (env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                    or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
        if protocol != "http/protobuf":
            raise TracingError(f"OTEL_EXPORTER_OTLP_PROTOCOL '{protocol}': Hookplane's otel "
                               "extra exports OTLP over http/protobuf (port 4318)")
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise TracingError("OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: "
                               "pip install 'hookplane[otel]'") from None
        base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        endpoint = (env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
                    or (base.rstrip("/") + "/v1/traces" if base else None))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider)
